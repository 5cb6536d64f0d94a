#!/usr/bin/env bash
# The first command of a session and short commands in a script (issue 16) beside the docker
# CLI doing the same work, in one run per column, each a fresh process (medians; runs
# interleaved so load hits both alike):
#   --agent always: `ls /containers/c/etc` (upload + start + answer)  vs  `docker exec c ls /etc`
#     (also the command's own time from DOCKERBOX_TRACE_TIMES, without process start-up)
#   a stopped container's `cat /containers/s/etc/os-release`          vs  `docker cp s:/etc/os-release -`
#   100 `ls /containers/c/etc` in one script (--agent always)         vs  100 `docker exec c ls /etc`
#   (local only) the direct path's `ls -l /containers/c/etc`          vs  `docker exec c ls -l /etc`
# Columns: local    the machine's engine, DOCKERBOX_DIRECT=0 (no /proc/PID/root)
#          fast     a remote engine over a 1 Gbit/s, 1 ms round-trip link
#          slow     the same over 100 Mbit/s, 20 ms
# A remote engine is a dockerd of our own in a network namespace made here (bench/lib/engines.sh);
# both clients reach it as tcp://127.0.0.1:PORT through bench/relay.py, which shapes the link and
# charges one round trip per new connection (the TCP handshake). No traffic leaves loopback.
# Prints medians and the ratio docker/dockerbox (above 1: dockerbox is faster), and the load.
# Usage: bench/first.sh [local|fast|slow|all] [RUNS]   (remote columns: root, dockerd, python3)
#   DOCKERBOX=path uses that binary instead of building a release one.
set -euo pipefail
cd "$(dirname "$0")/.."
column=${1:-local}
runs=${2:-11}
case "$column" in
local | fast | slow) ;;
all)
    for col in local fast slow; do bash "$0" "$col" "$runs"; done
    exit 0
    ;;
*) echo "usage: bench/first.sh [local|fast|slow|all] [RUNS]" >&2; exit 2 ;;
esac
bash tests/images/build.sh busybox >/dev/null
[ -n "${DOCKERBOX:-}" ] || cargo build --release -q
db=${DOCKERBOX:-$PWD/target/release/dockerbox}
work=$(mktemp -d)
dirs=() pids=()
relay=
source bench/lib/engines.sh
cleanup() {
    set +e
    [ -n "$relay" ] && kill "$relay" 2>/dev/null
    if [ "$column" = local ]; then
        docker rm -f "$c" "$s" >/dev/null 2>&1
    else
        stop_engines rm
    fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ "$column" = local ]; then
    c=dbx-bench-first-$$
    s=dbx-bench-first-stopped-$$
    setup() { docker "$@"; }
    export DOCKERBOX_DIRECT=0
    link="the machine's engine, DOCKERBOX_DIRECT=0"
else
    c=run s=stopped
    [ "$(id -u)" = 0 ] || { echo "bench/first.sh: a remote column needs root" >&2; exit 1; }
    start_engine dbxf
    wait_engine "${dirs[0]}"
    setup() { docker -H "unix://${dirs[0]}/docker.sock" "$@"; }
    docker save dockerbox-test/busybox:1 | setup load >/dev/null
    case "$column" in
    fast) bits=1e9 rtt=1 ;;
    slow) bits=1e8 rtt=20 ;;
    esac
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    coproc RELAY { exec python3 bench/relay.py "$port" "${dirs[0]}/docker.sock" "$bits" "$rtt" $((4 << 20)) 1 2>"$work/relay.log"; }
    relay=$RELAY_PID
    read -r ready <&"${RELAY[0]}"
    [ "$ready" = ready ] || { echo "bench/first.sh: the relay did not start" >&2; exit 1; }
    # Everything measured goes over the link, for both clients.
    export DOCKER_HOST="tcp://127.0.0.1:$port"
    link="a remote engine over $(python3 -c "print(f'{$bits / 1e6:g}')") Mbit/s, $rtt ms round trip"
fi
setup run -d --network none --label dockerbox.test=1 --name "$c" dockerbox-test/busybox:1 sleep 1000000 >/dev/null
setup create --network none --label dockerbox.test=1 --name "$s" dockerbox-test/busybox:1 true >/dev/null

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
row() { python3 -c "import sys; o, t = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<58} dockerbox {o:8.2f} ms   docker {t:8.2f} ms   ratio {t / o:6.2f}x')" "$@"; }
wall() { local a b; a=$(now); "$@" >/dev/null; b=$(now); echo $(((b - a) / 1000)); } # µs

echo "column $column: $link; engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'); load $(cut -d' ' -f1-3 /proc/loadavg)"
# The outputs are the same (and the page cache warm).
[ "$("$db" --agent always -c "ls /containers/$c/etc")" = "$(docker exec "$c" ls /etc)" ] ||
    echo "bench/first.sh: ls differs from docker exec ls" >&2
[ "$("$db" -c "cat /containers/$s/etc/os-release")" = "$(docker cp "$s:/etc/os-release" - | tar xO)" ] ||
    echo "bench/first.sh: cat differs from docker cp" >&2
for _ in $(seq 100); do echo "ls /containers/$c/etc"; done >"$work/script"

for i in $(seq "$runs"); do
    echo "always $(wall "$db" --agent always -c "ls /containers/$c/etc")"
    rm -f "$work/trace"
    DOCKERBOX_TRACE_TIMES="$work/trace" "$db" --agent always -c "ls /containers/$c/etc" >/dev/null
    echo "always_cmd $(awk 'NR==1 {print $2}' "$work/trace")"
    echo "exec $(wall docker exec "$c" ls /etc)"
    echo "cat $(wall "$db" -c "cat /containers/$s/etc/os-release")"
    echo "cp $(wall docker cp "$s:/etc/os-release" -)"
    if [ "$column" = local ]; then
        echo "lsl $(DOCKERBOX_DIRECT=1 wall "$db" -c "ls -l /containers/$c/etc")"
        echo "execl $(wall docker exec "$c" ls -l /etc)"
    fi
    # The script every third run (100 docker execs are long); its docker side once, below.
    if [ $((i % 3)) = 1 ]; then
        rm -f "$work/trace"
        echo "script $(DOCKERBOX_TRACE_TIMES="$work/trace" wall "$db" --agent always "$work/script")"
        echo "warm $(awk 'NR > 1 {s += $2; n++} END {print s / n}' "$work/trace")"
    fi
done >"$work/times"
a=$(now)
for _ in $(seq 100); do docker exec "$c" ls /etc >/dev/null; done
b=$(now)
m() { awk -v k="$1" '$1 == k {print $2 / 1000}' "$work/times" | median; }
row "first command, --agent always (whole process)" "$(m always)" "$(m exec)"
row "  the same, the command alone (DOCKERBOX_TRACE_TIMES)" "$(m always_cmd)" "$(m exec)"
row "stopped container, cat /etc/os-release (cold process)" "$(m cat)" "$(m cp)"
row "100 x ls /containers/c/etc in one script (--agent always)" "$(m script)" "$(((b - a) / 1000000))"
echo "  warm ls in that script: $(m warm) ms a command (median of the runs' means)"
if [ "$column" = local ]; then
    row "cold ls -l /containers/c/etc, direct path" "$(m lsl)" "$(m execl)"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
