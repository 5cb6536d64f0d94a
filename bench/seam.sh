#!/usr/bin/env bash
# Speed of the namespace's seam (issue 11) beside the docker CLI doing the same work, in one run:
#   cold: `dockerbox -c 'ls -l /containers/c/etc'` (a fresh process)   vs `docker exec c ls -l /etc`
#   100 x `ls /containers/c/etc` in one dockerbox script             vs 100 x `docker exec c ls /etc`
#   a warm `ls /containers/c/etc`, median per command (DOCKERBOX_TRACE_TIMES)
# each on the direct path (/proc/PID/root, the default when the engine is local and we are root)
# and with DOCKERBOX_DIRECT=0 (the agent; compare with bench/agent.sh). Prints medians and the
# ratio docker/dockerbox (above 1: dockerbox is faster).
# Usage: bench/seam.sh [RUNS]     (needs a Docker engine; builds the images it uses)
#   DOCKERBOX=path uses that binary instead of building a release one.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
bash tests/images/build.sh busybox >/dev/null
[ -n "${DOCKERBOX:-}" ] || cargo build --release -q
db=${DOCKERBOX:-$PWD/target/release/dockerbox}
c=dbx-bench-seam-$$
docker run -d --network none --label dockerbox.test=1 --name "$c" dockerbox-test/busybox:1 sleep 1000000 >/dev/null
work=$(mktemp -d)
trap 'docker rm -f "$c" >/dev/null; rm -rf "$work"' EXIT

now() { date +%s%N; }
ms() { python3 -c "print(f'{($2 - $1) / 1e6:.3f}')" "$1" "$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
row() { python3 -c "import sys; o, t = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<58} dockerbox {o:9.3f} ms   docker {t:9.3f} ms   ratio {t / o:7.1f}x')" "$@"; }
timed() { # RUNS CMD...: median wall time in ms, output discarded
    local n=$1
    shift
    for _ in $(seq "$n"); do a=$(now); "$@" >/dev/null; b=$(now); ms "$a" "$b"; done | median
}

echo "engine: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
"$db" -c "ls /containers/$c/etc" >/dev/null # the page cache, the engine's first inspect

exec_ls_l=$(timed "$runs" docker exec "$c" ls -l /etc)
exec_ls=$(timed "$runs" docker exec "$c" ls /etc)
for _ in $(seq 100); do echo "ls /containers/$c/etc"; done >"$work/script100"
for _ in $(seq 1000); do echo "ls /containers/$c/etc"; done >"$work/script1000"
t0=$(now)
for _ in $(seq 100); do docker exec "$c" ls /etc >/dev/null; done
t1=$(now)
execs100=$(ms "$t0" "$t1")

for direct in 1 0; do
    if [ "$direct" = 1 ]; then how="direct path"; else how="DOCKERBOX_DIRECT=0"; fi
    export DOCKERBOX_DIRECT=$direct
    row "cold ls -l /containers/c/etc ($how)" \
        "$(timed "$runs" "$db" -c "ls -l /containers/$c/etc")" "$exec_ls_l"
    t0=$(now)
    "$db" "$work/script100" >/dev/null
    t1=$(now)
    row "100 x ls /containers/c/etc, one script ($how)" "$(ms "$t0" "$t1")" "$execs100"
    rm -f "$work/trace"
    DOCKERBOX_TRACE_TIMES="$work/trace" "$db" "$work/script1000" >/dev/null
    warm=$(tail -n +2 "$work/trace" | awk '{print $2 / 1000}' | median)
    row "warm ls /containers/c/etc, median per command ($how)" "$warm" "$exec_ls"
done
