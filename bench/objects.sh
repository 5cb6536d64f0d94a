#!/usr/bin/env bash
# Speed of the Docker object trees (issue 14) beside the docker CLI doing the same work, in one
# run (medians of RUNS, each a fresh dockerbox process):
#   ls -l /images                                vs docker images
#   cat /meta/containers/c/state                 vs docker inspect -f '{{.State.Status}}' c
#   ls /images/IMAGE/etc, cold (a view container made, listed, removed)
#                                                vs docker run --rm IMAGE ls /etc (which starts it)
#                                                and docker create + docker cp IMAGE:/etc + docker rm
#   ls -l /volumes                               vs docker volume ls
#   cat /volumes/v/f (direct path, and DOCKERBOX_DIRECT=0: a view)
#                                                vs docker run --rm -v v:/v IMAGE cat /v/f
# Nothing can be run from a registry here: the image is the imported test image. Prints medians
# and the ratio docker/dockerbox (above 1: dockerbox is faster).
# Usage: bench/objects.sh [RUNS]   (needs a Docker engine; DOCKERBOX=path picks the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
bash tests/images/build.sh busybox debian >/dev/null
if [ -z "${DOCKERBOX:-}" ]; then cargo build --release -q; fi
db=${DOCKERBOX:-$PWD/target/release/dockerbox}
img=dockerbox-test/debian:1
c=dbx-bench-objects-$$
v=dbx-bench-objects-$$
docker run -d --network none --label dockerbox.test=1 --name "$c" dockerbox-test/busybox:1 sleep 1000000 >/dev/null
docker volume create --label dockerbox.test=1 "$v" >/dev/null
echo hello >"$(docker volume inspect -f '{{.Mountpoint}}' "$v")/f"
trap 'docker rm -f "$c" >/dev/null; docker volume rm -f "$v" >/dev/null' EXIT

now() { date +%s%N; }
ms() { python3 -c "print(f'{($2 - $1) / 1e6:.3f}')" "$1" "$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
row() { python3 -c "import sys; o, t = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<52} dockerbox {o:9.3f} ms   docker {t:9.3f} ms   ratio {t / o:6.2f}x')" "$@"; }
timed() { # RUNS CMD...: median wall time in ms, output discarded
    local n=$1
    shift
    for _ in $(seq "$n"); do a=$(now); "$@" >/dev/null; b=$(now); ms "$a" "$b"; done | median
}
create_cp_rm() {
    local id
    id=$(docker create --network none "$img" /never)
    docker cp "$id:/etc" - | tar t >/dev/null
    docker rm "$id" >/dev/null
}

echo "engine: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'); load: $(uptime | sed 's/.*load average: //')"
"$db" -c "ls /images" >/dev/null

row "ls -l /images" "$(timed "$runs" "$db" -c 'ls -l /images')" "$(timed "$runs" docker images)"
row "cat /meta/containers/c/state" \
    "$(timed "$runs" "$db" -c "cat /meta/containers/$c/state")" \
    "$(timed "$runs" docker inspect -f '{{.State.Status}}' "$c")"
cold=$(timed "$runs" "$db" -c "ls /images/$img/etc")
row "ls /images/$img/etc (cold) vs docker run --rm" \
    "$cold" "$(timed "$runs" docker run --rm --network none "$img" ls /etc)"
row "ls /images/$img/etc (cold) vs create+cp+rm" "$cold" "$(timed "$runs" create_cp_rm)"
row "ls -l /volumes" "$(timed "$runs" "$db" -c 'ls -l /volumes')" "$(timed "$runs" docker volume ls)"
run_cat=$(timed "$runs" docker run --rm --network none -v "$v:/v" dockerbox-test/busybox:1 cat /v/f)
row "cat /volumes/v/f (direct path)" "$(timed "$runs" "$db" -c "cat /volumes/$v/f")" "$run_cat"
row "cat /volumes/v/f (DOCKERBOX_DIRECT=0: a view)" \
    "$(DOCKERBOX_DIRECT=0 timed "$runs" "$db" -c "cat /volumes/$v/f")" "$run_cat"
echo "load after: $(uptime | sed 's/.*load average: //')"
