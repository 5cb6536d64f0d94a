#!/usr/bin/env bash
# Speed of listing across engines (issue 6) beside the docker CLI doing the same work, in one run.
# Three engines: the machine's own (a) and two extra dockerds started here on unix sockets (b, c),
# with N busybox containers each (most created, a few running):
#   cold: `dockerbox --host a=.. --host b=.. --host c=.. -c 'ls /containers/*'`
#         vs three `docker ps -a` one after another                     (target: not slower)
#   warm: the 2nd..Kth `ls /containers/*` in one dockerbox session, per command
#         (DOCKERBOX_TRACE_TIMES)                                       (target: under 100 ms)
# Prints medians and the ratio docker/dockerbox (above 1: dockerbox is faster).
# Usage: bench/engines.sh [N] [RUNS]     (defaults 100 and 10; root, dockerd, a Docker engine)
#   DOCKERBOX_BIN=path  use that binary instead of building a release one.
# Until dockerbox has --host, only the docker half runs.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
runs=${2:-10}
running=${RUNNING:-5} # of the N containers per engine, this many are started
bash tests/images/build.sh busybox >/dev/null
if [ -n "${DOCKERBOX_BIN:-}" ]; then
    db=$DOCKERBOX_BIN
else
    cargo build --release -q
    db=$PWD/target/release/dockerbox
fi
image=dockerbox-test/busybox:1
main=${DOCKER_HOST:-unix:///var/run/docker.sock}
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
tag=dbx-bench-eng-$$
dirs=()
pids=()

now() { date +%s%N; }
secs() { python3 -c "print(f'{($2 - $1) / 1e9:.1f}')" "$1" "$2"; }

# shellcheck source=bench/lib/engines.sh
. bench/lib/engines.sh

cleanup() {
    set +eu
    docker -H "$main" ps -aq --filter "name=^$tag-" | xargs -r docker -H "$main" rm -f -v >/dev/null
    stop_engines rm
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(now)
for _ in b c; do start_engine dbx-b; done
for d in "${dirs[@]}"; do wait_engine "$d"; done
t1=$(now)
for d in "${dirs[@]}"; do
    docker -H "$main" save "$image" | docker -H "unix://$d/docker.sock" load -q >/dev/null
done
t2=$(now)
hosts=("$main" "unix://${dirs[0]}/docker.sock" "unix://${dirs[1]}/docker.sock")
for h in "${hosts[@]}"; do
    seq "$n" | xargs -P 4 -I{} docker -H "$h" create --network none --label dockerbox.test=1 \
        --name "$tag-{}" "$image" sleep 1000000 >/dev/null
    seq "$running" | xargs -P 4 -I{} docker -H "$h" start "$tag-{}" >/dev/null
done
t3=$(now)
echo "engine: $(docker -H "$main" version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), $n containers on each of 3 engines ($running running), $runs runs each, medians"
echo "setup: 2 engines up in $(secs "$t0" "$t1") s, $image loaded in $(secs "$t1" "$t2") s, $((3 * n)) containers in $(secs "$t2" "$t3") s"
for h in "${hosts[@]}"; do
    echo "  $h: $(docker -H "$h" ps -aq | wc -l) containers"
done

# median_ms RUNS CMD...: runs CMD (output discarded) and prints the median wall time in ms.
median_ms() {
    local r=$1
    shift
    python3 - "$r" "$@" <<'PY'
import subprocess, sys, time
n, cmd = int(sys.argv[1]), sys.argv[2:]
subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)  # warm the page cache
ts = []
for _ in range(n):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    ts.append((time.perf_counter() - t) * 1000)
ts.sort()
print(f"{ts[len(ts) // 2]:.2f}")
PY
}
row() { # LABEL OURS THEIRS
    python3 -c "import sys; o, t = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<46} dockerbox {o:9.2f} ms   docker {t:9.2f} ms   ratio {t / o:6.2f}x')" "$@"
}
verdict() { # LABEL OK
    if [ "$2" = 1 ]; then echo "target met:    $1"; else echo "target MISSED: $1"; fi
}

three_ps=$(median_ms "$runs" bash -c 'for h; do docker -H "$h" ps -a; done' sh "${hosts[@]}")
if ! "$db" --help 2>&1 | grep -q -- '--host'; then
    echo "three docker ps -a, one after another: $three_ps ms"
    echo "dockerbox ($db) has no --host yet: its half is skipped"
    exit 0
fi
db_hosts=(--host "a=${hosts[0]}" --host "b=${hosts[1]}" --host "c=${hosts[2]}")

# Cold: a fresh process each time.
# The glob, where dockerbox expands globs; else the same three operands spelled out.
lsall='ls /containers/*'
"$db" "${db_hosts[@]}" -c "$lsall" >/dev/null 2>&1 || lsall='ls /containers/a /containers/b /containers/c'
echo "command: $lsall"
cold=$(median_ms "$runs" "$db" "${db_hosts[@]}" -c "$lsall")
row "ls /containers/* (cold process)" "$cold" "$three_ps"
verdict "cold ls /containers/* no slower than three docker ps -a" \
    "$(python3 -c "print(int($cold <= $three_ps))")"

# Warm: one session lists K times; the 1st pays for the connections, the rest are warm.
k=50
script=$(mktemp)
trace=$(mktemp)
for _ in $(seq $k); do echo "$lsall"; done >"$script"
for _ in $(seq 3); do
    DOCKERBOX_TRACE_TIMES=$trace "$db" "${db_hosts[@]}" "$script" >/dev/null
done
warm=$(python3 - "$trace" "$k" <<'PY'
import sys
k = int(sys.argv[2])
us = [int(l.split()[-1]) for l in open(sys.argv[1]) if l.startswith("ls ")]
warm = [t for i, t in enumerate(us) if i % k != 0]  # drop each session's first
warm.sort()
print(f"{warm[len(warm) // 2] / 1000:.2f}")
PY
)
rm -f "$script" "$trace"
row "ls /containers/*, warm, per command" "$warm" "$three_ps"
verdict "warm ls /containers/* under 100 ms" "$(python3 -c "print(int($warm < 100))")"
