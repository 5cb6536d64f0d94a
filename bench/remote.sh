#!/usr/bin/env bash
# Speed on a remote engine (issue 16) beside the docker CLI doing the same work over the same
# link, in one run. The engine is a dockerd of our own in a network namespace made here; both
# clients reach it as tcp://127.0.0.1:PORT through bench/relay.py, which forwards to the engine's
# socket as across a link of a given rate and round trip. No traffic leaves this machine's
# loopback. Settings:
#   fast   1 Gbit/s, 1 ms round trip
#   slow   100 Mbit/s, 20 ms round trip
#   none   the same namespaces, unshaped (for comparison)
# Work measured (each beside the docker CLI; medians of 3 unless said):
#   a big file container to container on that engine, text-like and random data
#   a tree of small files, cp -a, container to container
#   the same copies with the remote direct path (DOCKERBOX_REMOTE_DIRECT=1; DIRECT_ROWS=0 skips)
#   100 x ls of a container directory in one dockerbox script  vs  100 x docker exec ls
#   the first command with --agent always                      vs  one docker exec ls
#   a stopped container's small file, cold process             vs  docker cp
#   cold ls /containers                                        vs  docker ps -a
# Usage: bench/remote.sh [fast|slow|none] [MiB] [FILES]   (root, dockerd, ip; defaults:
#   fast 256 2000, slow 64 1000). ROWS=copies measures only the copies, ROWS=direct only the
#   remote direct path's copies.
#   DOCKERBOX_PACK=0 turns packing off (as an agent that predates it).
set -euo pipefail
cd "$(dirname "$0")/.."
setting=${1:-fast}
case "$setting" in
fast) rate=1gbit rtt=1 mib=${2:-256} files=${3:-2000} ;;
slow) rate=100mbit rtt=20 mib=${2:-64} files=${3:-1000} ;;
none) rate= rtt=0 mib=${2:-256} files=${3:-2000} ;;
*) echo "usage: bench/remote.sh [fast|slow|none] [MiB] [FILES]" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "bench/remote.sh: needs root (network namespaces, dockerd)" >&2; exit 1; }
for t in dockerd ip python3; do
    command -v "$t" >/dev/null || { echo "bench/remote.sh: needs $t" >&2; exit 1; }
done
bash tests/images/build.sh busybox >/dev/null
# DOCKERBOX_BIN=PATH measures another build (a before/after comparison) instead of building.
if [ -n "${DOCKERBOX_BIN:-}" ]; then
    db=$DOCKERBOX_BIN
else
    cargo build --release -q
    db=$PWD/target/release/dockerbox
fi

# The engine in a network namespace of its own (with --bridge none dockerd deletes docker0,
# which in the machine's namespace is the main engine's), on a unix socket in $dir; the link is
# bench/relay.py on 127.0.0.1 (this kernel has no netem qdisc for tc to delay with).
eng=dbxr-eng-$$
dir=$(mktemp -d /tmp/dbxr-XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
relay=
cleanup() {
    set +e
    [ -n "$relay" ] && kill "$relay" 2>/dev/null
    if [ -S "$dir/docker.sock" ]; then
        ids=$(docker -H "unix://$dir/docker.sock" ps -aq 2>/dev/null)
        [ -n "$ids" ] && docker -H "unix://$dir/docker.sock" rm -f $ids >/dev/null 2>&1
    fi
    if [ -f "$dir/dockerd.pid" ]; then
        pid=$(cat "$dir/dockerd.pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    fi
    grep -o " $dir[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
    ip netns del "$eng" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$eng"

# The engine: its own config, data and exec roots. Setting up goes straight to its socket (loading
# images does not cross the link); what is measured goes through the relay.
echo '{}' >"$dir/daemon.json"
nsenter --net=/run/netns/"$eng" env -u DOCKER_HOST dockerd --config-file="$dir/daemon.json" \
    --data-root="$dir/data" --exec-root="$dir/exec" --pidfile="$dir/dockerd.pid" \
    --bridge=none --iptables=false --ip6tables=false \
    -H "unix://$dir/docker.sock" >"$dir/dockerd.log" 2>&1 &
local_docker() { docker -H "unix://$dir/docker.sock" "$@"; }
for _ in $(seq 600); do local_docker info >/dev/null 2>&1 && break; sleep 0.1; done
local_docker info >/dev/null 2>&1 || { tail -20 "$dir/dockerd.log"; exit 1; }
docker save dockerbox-test/busybox:1 | local_docker load >/dev/null

bits=$(python3 -c "print({'': 0, '1gbit': 1e9, '100mbit': 1e8}['$rate'])")
coproc RELAY { exec python3 bench/relay.py "$port" "$dir/docker.sock" "$bits" "$rtt" 2>"$dir/relay.log"; }
relay=$RELAY_PID
read -r ready <&"${RELAY[0]}"
[ "$ready" = ready ] || { echo "bench/remote.sh: the relay did not start" >&2; exit 1; }
# Everything measured goes over the link: tcp://127.0.0.1:PORT, a remote engine to both clients.
remote() { env DOCKER_HOST="tcp://127.0.0.1:$port" "$@"; }
run() { local_docker run -d --network none --label dockerbox.test=1 --name "$1" dockerbox-test/busybox:1 sleep 1000000 >/dev/null; }
run src
run dst
local_docker exec src sh -c "head -c $((mib << 20)) /dev/urandom > /tmp/rand"
# Text-like data: log lines, compressible as real logs are.
local_docker exec src sh -c "i=0; while [ \$i -lt 20000 ]; do echo \"2026-12-01T08:00:\$((i % 60)) INFO request \$i served /api/v1/items?id=\$((i * 7)) in \$((i % 97)) ms\"; i=\$((i + 1)); done > /tmp/chunk; : > /tmp/text; while [ \$(stat -c %s /tmp/text) -lt $((mib << 20)) ]; do cat /tmp/chunk >> /tmp/text; done; truncate -s $((mib << 20)) /tmp/text"
local_docker exec src sh -c "mkdir -p /tmp/tree && cd /tmp/tree && i=0; while [ \$i -lt $files ]; do d=d\$((i / 100)); [ -d \$d ] || mkdir \$d; echo \$i > \$d/f\$i; i=\$((i + 1)); done"
local_docker create --network none --label dockerbox.test=1 --name stopped dockerbox-test/busybox:1 true >/dev/null

now() { date +%s%N; }
ms() { python3 -c "print(f'{($2 - $1) / 1e6:.2f}')" "$1" "$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
row() { python3 -c "import sys; o, t = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<46} dockerbox {o:9.1f} ms   docker {t:9.1f} ms   ratio {t / o:6.2f}x')" "$@"; }
fresh() {
    local_docker rm -f dst >/dev/null
    run dst
}
timed() { local s e; s=$(now); "$@" >/dev/null; e=$(now); ms "$s" "$e"; }

echo "remote engine: $(local_docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), link: ${rate:-unshaped}, ${rtt} ms round trip; ${mib} MiB, ${files} files; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "docker version over the link: $(timed remote docker version --format '{{.Server.Version}}') ms"

# ROWS=direct: only the remote direct path's rows (below).
[ "${ROWS:-all}" = direct ] || for kind in text rand; do
    ours=$(for _ in 1 2 3; do fresh; timed remote "$db" -c "cp /containers/src/tmp/$kind /containers/dst/tmp/f"; done | median)
    theirs=$(for _ in 1 2 3; do fresh; timed remote sh -c "docker cp src:/tmp/$kind - | docker cp - dst:/tmp/"; done | median)
    row "$mib MiB $kind file, container to container" "$ours" "$theirs"
done
if [ "${ROWS:-all}" != direct ]; then
    ours=$(for _ in 1 2 3; do fresh; timed remote "$db" -c "cp -a /containers/src/tmp/tree /containers/dst/tmp/tree"; done | median)
    theirs=$(for _ in 1 2 3; do fresh; timed remote sh -c "docker cp src:/tmp/tree - | docker cp - dst:/tmp/"; done | median)
    row "$files small files, cp -a" "$ours" "$theirs"
fi

# The remote direct path (DOCKERBOX_REMOTE_DIRECT=1): the helper container copies on the
# engine's machine. Its start (image import once per engine, then one container) is in each
# figure: every run is a fresh process, which makes its helper and removes it at exit.
if [ "${DIRECT_ROWS:-1}" = 1 ]; then
    for kind in text rand; do
        ours=$(for _ in 1 2 3; do fresh; timed remote env DOCKERBOX_REMOTE_DIRECT=1 "$db" -c "cp /containers/src/tmp/$kind /containers/dst/tmp/f"; done | median)
        theirs=$(for _ in 1 2 3; do fresh; timed remote sh -c "docker cp src:/tmp/$kind - | docker cp - dst:/tmp/"; done | median)
        row "$mib MiB $kind, remote direct path" "$ours" "$theirs"
    done
    ours=$(for _ in 1 2 3; do fresh; timed remote env DOCKERBOX_REMOTE_DIRECT=1 "$db" -c "cp -a /containers/src/tmp/tree /containers/dst/tmp/tree"; done | median)
    # The last of those copies is whole (before the docker CLI's replaces it).
    [ "$(local_docker exec dst sh -c 'find /tmp/tree | wc -l')" = "$(local_docker exec src sh -c 'find /tmp/tree | wc -l')" ] ||
        echo "bench/remote.sh: the remote direct tree copy is not whole" >&2
    theirs=$(for _ in 1 2 3; do fresh; timed remote sh -c "docker cp src:/tmp/tree - | docker cp - dst:/tmp/"; done | median)
    row "$files small files cp -a, remote direct path" "$ours" "$theirs"
fi

if [ "${ROWS:-all}" = copies ] || [ "${ROWS:-all}" = direct ]; then
    echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    exit 0
fi
for _ in $(seq 100); do echo "ls /containers/src/etc"; done >"$dir/script"
ours=$(timed remote "$db" --agent always "$dir/script")
theirs=$(timed remote sh -c 'for i in $(seq 100); do docker exec src ls /etc; done')
row "100 x ls /containers/src/etc" "$ours" "$theirs"

ours=$(for _ in 1 2 3 4 5; do timed remote "$db" --agent always -c "ls /containers/src/etc"; done | median)
theirs=$(for _ in 1 2 3 4 5; do timed remote docker exec src ls /etc; done | median)
row "first command, --agent always (whole process)" "$ours" "$theirs"

ours=$(for _ in 1 2 3 4 5; do timed remote "$db" -c "cat /containers/stopped/etc/passwd"; done | median)
theirs=$(for _ in 1 2 3 4 5; do timed remote docker cp stopped:/etc/passwd -; done | median)
row "stopped container cat small file, cold" "$ours" "$theirs"

ours=$(for _ in 1 2 3 4 5; do timed remote "$db" -c "ls /containers"; done | median)
theirs=$(for _ in 1 2 3 4 5; do timed remote docker ps -a; done | median)
row "cold ls /containers" "$ours" "$theirs"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
