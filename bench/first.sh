#!/usr/bin/env bash
# The first command of a session (issue 16) beside the docker CLI doing the same work, in one
# run, each a fresh process (medians; runs interleaved so load hits both alike):
#   --agent always, DOCKERBOX_DIRECT=0: `ls /containers/c/etc` (upload + start + answer)
#                                                              vs `docker exec c ls /etc`
#     (also the command's own time from DOCKERBOX_TRACE_TIMES, without process start-up)
#   a stopped container's `cat /containers/s/etc/os-release`   vs `docker cp s:/etc/os-release -`
#   on the direct path: `ls -l /containers/c/etc`               vs `docker exec c ls -l /etc`
# Prints medians and the ratio docker/dockerbox (above 1: dockerbox is faster), and the load.
# Usage: bench/first.sh [RUNS]     (needs a Docker engine; builds the images it uses)
#   DOCKERBOX=path uses that binary instead of building a release one.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
bash tests/images/build.sh busybox >/dev/null
[ -n "${DOCKERBOX:-}" ] || cargo build --release -q
db=${DOCKERBOX:-$PWD/target/release/dockerbox}
c=dbx-bench-first-$$
s=dbx-bench-first-stopped-$$
docker run -d --network none --label dockerbox.test=1 --name "$c" dockerbox-test/busybox:1 sleep 1000000 >/dev/null
docker create --network none --label dockerbox.test=1 --name "$s" dockerbox-test/busybox:1 true >/dev/null
work=$(mktemp -d)
trap 'docker rm -f "$c" "$s" >/dev/null; rm -rf "$work"' EXIT

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
row() { python3 -c "import sys; o, t = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<56} dockerbox {o:8.2f} ms   docker {t:8.2f} ms   ratio {t / o:5.2f}x')" "$@"; }
wall() { local a b; a=$(now); "$@" >/dev/null; b=$(now); echo $(((b - a) / 1000)); } # µs

echo "engine: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$db" -c "ls /containers/$c/etc; cat /containers/$s/etc/os-release" >/dev/null # page cache

for _ in $(seq "$runs"); do
    echo "always $(DOCKERBOX_DIRECT=0 wall "$db" --agent always -c "ls /containers/$c/etc")"
    rm -f "$work/trace"
    DOCKERBOX_DIRECT=0 DOCKERBOX_TRACE_TIMES="$work/trace" "$db" --agent always -c "ls /containers/$c/etc" >/dev/null
    echo "always_cmd $(awk 'NR==1 {print $2}' "$work/trace")"
    echo "exec $(wall docker exec "$c" ls /etc)"
    echo "cat $(wall "$db" -c "cat /containers/$s/etc/os-release")"
    echo "cp $(wall docker cp "$s:/etc/os-release" -)"
    echo "lsl $(wall "$db" -c "ls -l /containers/$c/etc")"
    echo "execl $(wall docker exec "$c" ls -l /etc)"
done >"$work/times"
m() { awk -v k="$1" '$1 == k {print $2 / 1000}' "$work/times" | median; }
row "first command, --agent always, DIRECT=0 (whole process)" "$(m always)" "$(m exec)"
row "  the same, the command alone (DOCKERBOX_TRACE_TIMES)" "$(m always_cmd)" "$(m exec)"
row "stopped container, cat /etc/os-release (cold process)" "$(m cat)" "$(m cp)"
row "cold ls -l /containers/c/etc, direct path" "$(m lsl)" "$(m execl)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
