#!/usr/bin/env bash
# Speed of a dockerbox volume (issue 13) beside the engine's own ways, in one run:
#   a consumer reading a file of a running container through the volume, inside the consumer
#     (`docker run -v vol:/logs busybox sh -c 'cat /logs/big >/dev/null'`)
#                                                          vs  the same file in a local volume
#                                                          vs  `docker cp src:/big - > /dev/null`
#   a consumer's start with a dockerbox volume (`true`)    vs  with a local volume
#   the same while another dockerbox volume is in use (its FUSE session is shared, so this
#     start mounts nothing new)                            vs  with a local volume
# The driver serves a dockerd of the script's own, in a mount namespace of its own where
# /run/docker/plugins is a directory of the script: the machine's engine never activates the
# plugin (it would wait ~15 s on every `docker volume ls` once the plugin is gone).
# Usage: bench/driver.sh [MiB]   (root; DOCKERBOX=path uses that binary instead of a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-256}
bash tests/images/build.sh busybox >/dev/null
if [ -z "${DOCKERBOX:-}" ]; then
    cargo build --release -q
    DOCKERBOX=$PWD/target/release/dockerbox
fi
image=dockerbox-test/busybox:1
dir=$(mktemp -d /tmp/dbx-bd-XXXXXX)
mkdir "$dir/plugins" "$dir/state"
echo '{}' >"$dir/daemon.json"
unshare --net --mount --propagation private sh -c \
    'mount --bind "$0" /run/docker/plugins && exec "$@"' "$dir/plugins" \
    dockerd --config-file="$dir/daemon.json" --data-root="$dir/data" --exec-root="$dir/exec" \
    --pidfile="$dir/dockerd.pid" --bridge=none --iptables=false --ip6tables=false \
    --host "unix://$dir/docker.sock" >"$dir/dockerd.log" 2>&1 &
dockerd_pid=$!
driver_pid=
cleanup() {
    # Everything on this engine is the script's own.
    local ids
    ids=$(DOCKER_HOST="unix://$dir/docker.sock" docker ps -aq 2>/dev/null || true)
    [ -n "$ids" ] && DOCKER_HOST="unix://$dir/docker.sock" docker rm -f $ids >/dev/null 2>&1 || true
    DOCKER_HOST="unix://$dir/docker.sock" docker volume rm -f benchvol benchvol2 benchlocal >/dev/null 2>&1 || true
    [ -n "$driver_pid" ] && kill "$driver_pid" 2>/dev/null && wait "$driver_pid" 2>/dev/null || true
    kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 600); do
    DOCKER_HOST="unix://$dir/docker.sock" docker info >/dev/null 2>&1 && break
    sleep 0.1
done
docker save "$image" | DOCKER_HOST="unix://$dir/docker.sock" docker load -q >/dev/null
export DOCKER_HOST="unix://$dir/docker.sock"

nsenter --target "$dockerd_pid" --mount -- "$DOCKERBOX" -H "$DOCKER_HOST" volume-driver \
    --name dockerbox-bench --state "$dir/state" 2>"$dir/driver.log" &
driver_pid=$!
for _ in $(seq 600); do [ -S "$dir/plugins/dockerbox-bench.sock" ] && break; sleep 0.1; done

src=dbx-bench-driver-$$
docker run -d --network none --name "$src" "$image" sleep 1000000 >/dev/null
docker exec "$src" sh -c "mkdir -p /srv/data && dd if=/dev/urandom of=/srv/data/big bs=1048576 count=$mib 2>/dev/null"
docker volume create -d dockerbox-bench -o "src=/containers/$src/srv/data" benchvol >/dev/null
docker volume create -d dockerbox-bench -o "src=/containers/$src/srv" benchvol2 >/dev/null
docker volume create benchlocal >/dev/null
docker cp "$src:/srv/data/big" - | docker run --rm -i --network none -v benchlocal:/data "$image" tar -x -C /data

now() { date +%s%N; }
ms() { python3 -c "print(f'{($2 - $1) / 1e6:.1f}')" "$1" "$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
row() { python3 -c "import sys; o, t = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<58} dockerbox {o:9.1f} ms   {sys.argv[4]:<12} {t:9.1f} ms   ratio {t / o:5.2f}x')" "$@"; }
timed() { local a b; a=$(now); "$@" >/dev/null; b=$(now); ms "$a" "$b"; }
consume() { docker run --rm --network none -v "$1" "$image" "${@:2}"; }

echo "engine: $(docker version --format '{{.Server.Version}}'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
consume benchvol:/logs sh -c 'cat /logs/big >/dev/null' # warm both
consume benchlocal:/data sh -c 'cat /data/big >/dev/null'
vol=$(for _ in 1 2 3; do timed consume benchvol:/logs sh -c 'cat /logs/big >/dev/null'; done | median)
loc=$(for _ in 1 2 3; do timed consume benchlocal:/data sh -c 'cat /data/big >/dev/null'; done | median)
cp=$(for _ in 1 2 3; do timed docker cp "$src:/srv/data/big" -; done | median)
row "cat ${mib} MiB in a consumer (median of 3)" "$vol" "$loc" "local volume"
row "the same bytes by docker cp of the source (median of 3)" "$vol" "$cp" "docker cp"
vol=$(for _ in 1 2 3 4 5; do timed consume benchvol:/logs true; done | median)
loc=$(for _ in 1 2 3 4 5; do timed consume benchlocal:/data true; done | median)
row "docker run --rm -v VOL:/x true (median of 5)" "$vol" "$loc" "local volume"
holder=$(docker run -d --network none -v benchvol2:/held "$image" sleep 1000000)
vol=$(for _ in 1 2 3 4 5; do timed consume benchvol:/logs true; done | median)
loc=$(for _ in 1 2 3 4 5; do timed consume benchlocal:/data true; done | median)
row "the same while another dockerbox volume is in use" "$vol" "$loc" "local volume"
docker rm -f "$holder" >/dev/null
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
