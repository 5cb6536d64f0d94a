#!/usr/bin/env bash
# Speed of the in-container agent (issue 4) beside the docker CLI doing the same work, in one run:
#   100 x `ls /containers/c/etc` in one dockerbox script  vs  100 x `docker exec c ls /etc`
#   a warm `ls` of a container directory (median of per-command times inside one session)
#   the first command on a container: auto mode (archive answers while the agent starts) and
#     always mode (upload + start + answer)                vs  one `docker exec c ls /etc`
#   reading a 512 MiB file to /dev/null                    vs  `docker cp c:/f - > /dev/null`
# Usage: bench/agent.sh [MiB]     (needs a Docker engine; builds the images it uses)
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-512}
bash tests/images/build.sh busybox >/dev/null
cargo build --release -q
db=$PWD/target/release/dockerbox
c=dbx-bench-agent-$$
docker run -d --network none --label dockerbox.test=1 --name "$c" dockerbox-test/busybox:1 sleep 1000000 >/dev/null
work=$(mktemp -d)
trap 'docker rm -f "$c" >/dev/null; rm -rf "$work"' EXIT
docker exec "$c" dd if=/dev/urandom of=/tmp/big bs=1048576 count="$mib" 2>/dev/null

now() { date +%s%N; }
ms() { python3 -c "print(f'{($2 - $1) / 1e6:.2f}')" "$1" "$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
row() { python3 -c "import sys; o, t = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<52} dockerbox {o:9.3f} ms   docker {t:9.3f} ms   ratio {t / o:7.1f}x')" "$@"; }

echo "engine: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"

# 100 listings: one dockerbox session against 100 docker execs.
for _ in $(seq 100); do echo "ls /containers/$c/etc"; done >"$work/script"
t0=$(now); "$db" --agent always "$work/script" >/dev/null; t1=$(now)
for _ in $(seq 100); do docker exec "$c" ls /etc >/dev/null; done; t2=$(now)
row "100 x ls /containers/c/etc (whole run)" "$(ms "$t0" "$t1")" "$(ms "$t1" "$t2")"

# Warm per-command latency, from dockerbox's own per-command trace.
for _ in $(seq 1000); do echo "ls /containers/$c/etc"; done >"$work/script"
DOCKERBOX_TRACE_TIMES="$work/trace" "$db" --agent always "$work/script" >/dev/null
warm=$(tail -n +2 "$work/trace" | awk '{print $2 / 1000}' | median)
execs=$(for _ in $(seq 20); do a=$(now); docker exec "$c" ls /etc >/dev/null; b=$(now); ms "$a" "$b"; done | median)
row "warm ls /containers/c/etc, median per command" "$warm" "$execs"

# The first command on a container in a fresh session.
firsts() { # MODE: median first-command time over 10 sessions
    for _ in $(seq 10); do
        rm -f "$work/trace"
        DOCKERBOX_TRACE_TIMES="$work/trace" "$db" --agent "$1" -c "ls /containers/$c/etc" >/dev/null
        awk 'NR==1 {print $2 / 1000}' "$work/trace"
    done | median
}
row "first command, --agent auto (archive meanwhile)" "$(firsts auto)" "$execs"
row "first command, --agent always (upload+start+answer)" "$(firsts always)" "$execs"

# Streaming a big file out.
best() { for _ in 1 2 3; do a=$(now); "$@" >/dev/null; b=$(now); ms "$a" "$b"; done | median; }
ours=$(best "$db" --agent always -c "cat /containers/$c/tmp/big")
theirs=$(best docker cp "$c:/tmp/big" -)
row "read ${mib} MiB to /dev/null" "$ours" "$theirs"
python3 -c "print(f'  dockerbox {$mib / ($ours / 1000):.0f} MiB/s, docker cp {$mib / ($theirs / 1000):.0f} MiB/s')"
