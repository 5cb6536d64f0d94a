#!/usr/bin/env bash
# grep inside containers (issue 16) beside the docker CLI doing the same work, in one run:
#   dockerbox -c 'grep -rn PATTERN /containers/C*/usr'   (a fresh process)
#     local: as root on the engine's machine by the direct path (the image's unchanged files
#       read once for all containers), then with DOCKERBOX_DIRECT=0 by the agents, which
#       share the work (the first container's agent searches, the others print what it
#       found in the files they have not changed), then the agents each alone
#       (DOCKERBOX_SEARCH_SHARE=0)
#     fast / slow: an engine of our own in a network namespace, reached by both clients as
#       tcp://127.0.0.1:PORT through bench/relay.py (fast 1 Gbit/s 1 ms, slow 100 Mbit/s
#       20 ms): by the agents, and with DOCKERBOX_REMOTE_DIRECT=1 (the helper container)
#   vs 10 x `docker exec Ci grep -rn PATTERN /usr` one after another, and all 10 at once
# over N running Debian containers. Both outputs go to files, compared (the same lines, the
# same bytes). Prints medians and the ratio docker/dockerbox (above 1: faster).
# Usage: bench/search.sh [RUNS] [N] [local|fast|slow]   (PATTERN=... to change the pattern;
#   needs a Docker engine; fast and slow need root, dockerd, ip, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
n=${2:-10}
setting=${3:-local}
pattern=${PATTERN:-ERROR}
case "$setting" in
local) ;;
fast) rate=1e9 rtt=1 ;;
slow) rate=1e8 rtt=20 ;;
*) echo "usage: bench/search.sh [RUNS] [N] [local|fast|slow]" >&2; exit 2 ;;
esac
bash tests/images/build.sh debian >/dev/null
# DOCKERBOX=path uses that binary (the agent is built optimized whatever the profile).
[ -n "${DOCKERBOX:-}" ] || cargo build --release -q
db=${DOCKERBOX:-$PWD/target/release/dockerbox}
pre=dbx-bench-search-$$
work=$(mktemp -d)
names=()
for i in $(seq "$n"); do names+=("$pre-$i"); done

# The engine: this machine's, or (fast, slow) one of our own behind the relay, as in
# bench/remote.sh. `eng` talks to it directly (setting up); what is measured goes through
# `over`, which is the link for both clients.
relay= ns= dir=
eng() { docker "$@"; }
over() { "$@"; }
cleanup() {
    set +e
    eng rm -f "${names[@]}" >/dev/null 2>&1
    if [ -n "$dir" ]; then
        [ -n "$relay" ] && kill "$relay" 2>/dev/null
        if [ -f "$dir/dockerd.pid" ]; then
            pid=$(cat "$dir/dockerd.pid")
            kill "$pid" 2>/dev/null
            for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null
        fi
        grep -o " $dir[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
        ip netns del "$ns" 2>/dev/null
        rm -rf "$dir"
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "$setting" != local ]; then
    [ "$(id -u)" = 0 ] || { echo "bench/search.sh: $setting needs root" >&2; exit 1; }
    ns=dbxs-eng-$$
    dir=$(mktemp -d /tmp/dbxs-XXXXXX)
    ip netns add "$ns"
    echo '{}' >"$dir/daemon.json"
    nsenter --net=/run/netns/"$ns" env -u DOCKER_HOST dockerd --config-file="$dir/daemon.json" \
        --data-root="$dir/data" --exec-root="$dir/exec" --pidfile="$dir/dockerd.pid" \
        --bridge=none --iptables=false --ip6tables=false \
        -H "unix://$dir/docker.sock" >"$dir/dockerd.log" 2>&1 &
    eng() { docker -H "unix://$dir/docker.sock" "$@"; }
    for _ in $(seq 600); do eng info >/dev/null 2>&1 && break; sleep 0.1; done
    eng info >/dev/null 2>&1 || { tail -20 "$dir/dockerd.log"; exit 1; }
    docker save dockerbox-test/debian:1 | eng load >/dev/null
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    coproc RELAY { exec python3 bench/relay.py "$port" "$dir/docker.sock" "$rate" "$rtt" 2>"$dir/relay.log"; }
    relay=$RELAY_PID
    read -r ready <&"${RELAY[0]}"
    [ "$ready" = ready ] || { echo "bench/search.sh: the relay did not start" >&2; exit 1; }
    over() { env DOCKER_HOST="tcp://127.0.0.1:$port" "$@"; }
fi
for c in "${names[@]}"; do
    eng run -d --network none --label dockerbox.test=1 --name "$c" dockerbox-test/debian:1 sleep 1000000 >/dev/null
done

now() { date +%s%N; }
ms() { python3 -c "print(f'{($2 - $1) / 1e6:.1f}')" "$1" "$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
row() { python3 -c "import sys; o, t = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<56} dockerbox {o:9.1f} ms   docker {t:9.1f} ms   ratio {t / o:6.2f}x')" "$@"; }

sequential() { for c in "${names[@]}"; do over docker exec "$c" grep -rn "$pattern" /usr || true; done; }
parallel() {
    local pids=()
    for c in "${names[@]}"; do
        over docker exec "$c" grep -rn "$pattern" /usr >"$work/par-$c" 2>/dev/null &
        pids+=("$!")
    done
    # Not a bare `wait`: the remote engine is a background job of this script too.
    wait "${pids[@]}" || true
    cat "$work"/par-* && rm -f "$work"/par-*
}
ours() { over "$db" -c "grep -rn '$pattern' /containers/$pre-*/usr" || true; }
# The ways dockerbox is measured here: name, then the environment.
if [ "$setting" = local ]; then
    ways=("direct path:" "agents, sharing (DIRECT=0):DOCKERBOX_DIRECT=0" "agents alone (DIRECT=0, SHARE=0):DOCKERBOX_DIRECT=0 DOCKERBOX_SEARCH_SHARE=0")
else
    ways=("agents, sharing:" "agents alone (SHARE=0):DOCKERBOX_SEARCH_SHARE=0" "remote direct path (REMOTE_DIRECT=1):DOCKERBOX_REMOTE_DIRECT=1")
fi

echo "engine: $(eng version --format '{{.Server.Version}}') ($(eng info --format '{{.Driver}}')), $setting, $n containers, pattern $pattern, load: $(cut -d' ' -f1-3 /proc/loadavg)"
sequential >/dev/null 2>&1 # the page cache
t_seq=() t_par=()
declare -A t_ours
for _ in $(seq "$runs"); do
    a=$(now); sequential >"$work/seq.out" 2>/dev/null; b=$(now); t_seq+=("$(ms "$a" "$b")")
    a=$(now); parallel >"$work/par.out"; b=$(now); t_par+=("$(ms "$a" "$b")")
    for i in "${!ways[@]}"; do
        env_=${ways[$i]#*:}
        # shellcheck disable=SC2086
        a=$(now); (if [ -n "$env_" ]; then export $env_; fi; ours) >"$work/ours-$i.out" 2>/dev/null; b=$(now)
        t_ours[$i]="${t_ours[$i]:-} $(ms "$a" "$b")"
    done
done
med() { printf '%s\n' "$@" | median; }
seq_=$(med "${t_seq[@]}") par_=$(med "${t_par[@]}")
for i in "${!ways[@]}"; do
    # shellcheck disable=SC2086
    o=$(med ${t_ours[$i]})
    row "${ways[$i]%%:*} vs sequential execs" "$o" "$seq_"
    row "${ways[$i]%%:*} vs parallel execs" "$o" "$par_"
done
echo "output: docker $(wc -l <"$work/seq.out") lines; dockerbox $(for i in "${!ways[@]}"; do printf '%s ' "$(wc -l <"$work/ours-$i.out")"; done)lines"
for i in "${!ways[@]}"; do
    cmp -s "$work/ours-0.out" "$work/ours-$i.out" || echo "OUTPUTS DIFFER: ${ways[0]%%:*} vs ${ways[$i]%%:*}"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
