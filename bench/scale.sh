#!/usr/bin/env bash
# Scale (issue 16): many containers on one engine, or many engines, beside the docker CLI doing
# the same work in the same run. The engines are extra dockerds started here (each in a network
# namespace of its own, as bench/engines.sh does), so the machine's own engine and whoever else
# uses it see none of this. N busybox containers each, created (never started) but RUNNING of
# them, from the test image:
#   cold `ls /containers` and `ls -l /containers` (fresh processes)    vs `docker ps -a`
#   warm `ls /containers`, `ls -l` in one session, per command         vs `docker ps -a`
#   peak memory (VmHWM) of a cold `ls -l /containers`                  vs `docker ps -a`
#   `ls /containers/*/etc/hostname` and `cat` of them, over all         vs `docker cp C:/etc/hostname -`
#                                                                         for each, 16 at once
#   churn: containers created and removed at RATE per second for SECS s beside one session;
#   after it, how long until that session's `ls /containers` equals `docker ps -a`, and its warm
#   `ls /containers` meanwhile
# With several engines the listings are `ls /containers/*` (every engine's containers) and the
# docker CLI's `docker ps -a` of each engine in turn.
# Each row is measured in every column of LINKS (default "none fast slow"): none is the engine's
# unix socket; fast (1 Gbit/s, 1 ms round trip) and slow (100 Mbit/s, 20 ms) put each engine
# behind bench/relay.py on 127.0.0.1, as bench/remote.sh does, so both clients reach it as
# tcp://127.0.0.1:PORT across the shaped link (setting up goes to the socket directly).
# Prints medians and the ratio docker/dockerbox (above 1: dockerbox is faster), and the load.
# Usage: bench/scale.sh [N] [ENGINES] [RUNS]   (defaults 1000, 1, 5; root, dockerd, a Docker
#   engine with the test images). ENGINES=10 N=200 is the many-engines form.
#   DOCKERBOX=path uses that binary instead of building a release one; BEFORE=path measures the
#   churn with that build too, in the same run. RATE=50 SECS=10 RUNNING=10
#   LINKS="none fast slow"; ROWS=list measures the listings and memory only, ROWS=churn those
#   and the churn (no globs).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
engines=${2:-1}
runs=${3:-5}
running=${RUNNING:-10}
rate=${RATE:-50}
secs=${SECS:-10}
links=${LINKS:-none fast slow}
for l in $links; do
    case "$l" in none | fast | slow) ;; *) echo "bench/scale.sh: LINKS holds none, fast or slow" >&2; exit 2 ;; esac
done
bash tests/images/build.sh busybox >/dev/null
[ -n "${DOCKERBOX:-}" ] || cargo build --release -q
db=${DOCKERBOX:-$PWD/target/release/dockerbox}
image=dockerbox-test/busybox:1
main=${DOCKER_HOST:-unix:///var/run/docker.sock}
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
export DOCKERBOX_DIRECT=0
dirs=()
pids=()

now() { date +%s%N; }
secs_since() { python3 -c "print(f'{($(now) - $1) / 1e9:.1f}')"; }

# shellcheck source=bench/lib/engines.sh
. bench/lib/engines.sh
relays=()
cleanup() {
    # A kill of a relay or dockerd that already ended fails: that must not end the cleanup.
    set +e
    local r
    for r in "${relays[@]}"; do kill "$r" 2>/dev/null; done
    stop_engines
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# api SOCKET create|remove|start PREFIX FROM TO [PER_SECOND]: the Engine API straight over the
# socket, 8 requests at once (the CLI would cost a process per container), paced when asked.
api() {
    python3 - "$@" <<'PY'
import http.client, json, socket, sys, threading, time
sock, what, prefix, lo, hi = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
pace = float(sys.argv[6]) if len(sys.argv) > 6 else 0
class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sock)
body = json.dumps({"Image": "dockerbox-test/busybox:1", "Cmd": ["sleep", "1000000"],
                   "Labels": {"dockerbox.test": "1"}, "HostConfig": {"NetworkMode": "none"}})
todo, lock, start = list(range(lo, hi)), threading.Lock(), time.monotonic()
def work():
    c = Conn("localhost")
    while True:
        with lock:
            if not todo:
                return
            i = todo.pop(0)
        if pace:
            time.sleep(max(0, start + (i - lo) / pace - time.monotonic()))
        name = f"{prefix}{i:05d}"
        if what == "create":
            c.request("POST", f"/containers/create?name={name}", body, {"Content-Type": "application/json"})
        elif what == "start":
            c.request("POST", f"/containers/{name}/start")
        else:
            c.request("DELETE", f"/containers/{name}?force=1&v=1")
        r = c.getresponse()
        r.read()
        # A removal that overtook its creation (the engine was slow to create) waits for it.
        for _ in range(100):
            if what != "remove" or r.status != 404:
                break
            time.sleep(0.1)
            c.request("DELETE", f"/containers/{name}?force=1&v=1")
            r = c.getresponse()
            r.read()
        if r.status >= 300:
            print(f"{what} {name}: {r.status}", file=sys.stderr)
ts = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
PY
}

# median_ms RUNS CMD...: the median wall time of CMD in ms (output discarded), after one warm-up
# (none for a single run: the globs take minutes, and each run is a fresh process anyway).
median_ms() {
    local r=$1
    shift
    python3 - "$r" "$@" <<'PY'
import subprocess, sys, time
n, cmd = int(sys.argv[1]), sys.argv[2:]
if n > 1:
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
ts = []
for _ in range(n):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ts.append((time.perf_counter() - t) * 1000)
ts.sort()
print(f"{ts[len(ts) // 2]:.1f}")
PY
}
peak_kb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
row() { # LABEL OURS THEIRS [UNIT]
    python3 -c "import sys; o, t = float(sys.argv[2]), float(sys.argv[3]); u = sys.argv[4] if len(sys.argv) > 4 else 'ms'; print(f'{sys.argv[1]:<50} dockerbox {o:10.1f} {u}   docker {t:10.1f} {u}   ratio {t / o:6.2f}x')" "$@"
}

t0=$(now)
for _ in $(seq "$engines"); do start_engine dbx-s; done
for d in "${dirs[@]}"; do wait_engine "$d"; done
for d in "${dirs[@]}"; do
    docker -H "$main" save "$image" | docker -H "unix://$d/docker.sock" load -q >/dev/null
done
echo "setup: $engines engine(s) up with the image in $(secs_since "$t0") s"
t0=$(now)
for i in "${!dirs[@]}"; do
    api "${dirs[$i]}/docker.sock" create "s$i-" 0 "$n"
    api "${dirs[$i]}/docker.sock" start "s$i-" 0 "$running"
done
echo "setup: $((n * engines)) containers ($running running on each engine) in $(secs_since "$t0") s"
echo "engine: $(docker -H "unix://${dirs[0]}/docker.sock" version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), storage $(docker -H "unix://${dirs[0]}/docker.sock" info --format '{{.Driver}}'); $runs runs each, medians"

# link NAME: `hosts` (both clients' addresses of the engines) and `db_hosts` (dockerbox's
# flags) for that column, with a relay per engine for a shaped one (stopped by unlink).
link() {
    local i d h port bits=0 rtt=0
    hosts=()
    db_hosts=()
    case "$1" in fast) bits=1e9 rtt=1 ;; slow) bits=1e8 rtt=20 ;; esac
    for i in "${!dirs[@]}"; do
        d=${dirs[$i]}
        if [ "$1" = none ]; then
            h=unix://$d/docker.sock
        else
            port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
            rm -f "$d/relay.out"
            python3 bench/relay.py "$port" "$d/docker.sock" "$bits" "$rtt" >"$d/relay.out" 2>"$d/relay.log" &
            relays+=("$!")
            for _ in $(seq 200); do grep -q ready "$d/relay.out" && break; sleep 0.05; done
            grep -q ready "$d/relay.out" || { echo "bench/scale.sh: the relay did not start" >&2; exit 1; }
            h=tcp://127.0.0.1:$port
        fi
        hosts+=("$h")
        db_hosts+=(--host "e$i=$h")
    done
    case "$1" in
    none) shown="the engines' unix sockets" ;;
    *) shown="tcp://127.0.0.1 through bench/relay.py, $bits bit/s, $rtt ms round trip" ;;
    esac
}
unlink() {
    local r
    for r in "${relays[@]}"; do kill "$r" 2>/dev/null; done
    relays=()
}

if [ "$engines" = 1 ]; then
    what="$n containers"
    lsc='ls /containers'
    lsl='ls -l /containers'
    glob=/containers/*/etc/hostname
else
    what="$engines engines x $n containers"
    lsc='ls /containers/*'
    lsl='ls -l /containers/*'
    glob=/containers/*/*/etc/hostname
fi
script=$(mktemp)
trace=$(mktemp)
k=30
churns=0

# measure LINK: every row over that link.
measure() {
    link "$1"
    echo
    echo "== link $1: $shown; load $(cut -d' ' -f1-3 /proc/loadavg)"
    export hosts_list="${hosts[*]}"
    local theirs warm l
    theirs=$(median_ms "$runs" bash -c 'for h in $hosts_list; do docker -H "$h" ps -a; done')
    row "cold $lsc, $what" "$(median_ms "$runs" "$db" "${db_hosts[@]}" -c "$lsc")" "$theirs"
    row "cold $lsl, $what" "$(median_ms "$runs" "$db" "${db_hosts[@]}" -c "$lsl")" "$theirs"
    for l in "$lsc" "$lsl"; do
        for _ in $(seq $k); do echo "$l >/dev/null"; done >"$script"
        : >"$trace"
        DOCKERBOX_TRACE_TIMES=$trace "$db" "${db_hosts[@]}" "$script"
        warm=$(tail -n +2 "$trace" | awk '{print $2 / 1000}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        row "warm $l, per command, $what" "$warm" "$theirs"
    done
    row "peak memory, cold $lsl (KiB)" "$(peak_kb "$db" "${db_hosts[@]}" -c "$lsl")" "$(peak_kb docker -H "${hosts[0]}" ps -a)" KiB
    if [ "${ROWS:-all}" = all ]; then
        # Every container's /etc/hostname, beside one docker cp each, 16 at once.
        for i in "${!hosts[@]}"; do
            docker -H "${hosts[$i]}" ps -aq | sed "s|^|${hosts[$i]} |"
        done >"$script.ids"
        theirs=$(median_ms 1 sh -c "xargs -P 16 -n 2 sh -c 'docker -H \"\$0\" cp \"\$1\":/etc/hostname -' <$script.ids")
        row "ls $glob, all $((n * engines))" "$(median_ms 1 "$db" "${db_hosts[@]}" -c "ls $glob")" "$theirs"
        row "cat $glob, all $((n * engines))" "$(median_ms 1 "$db" "${db_hosts[@]}" -c "cat $glob")" "$theirs"
        rm -f "$script.ids"
    fi
    if [ "$engines" = 1 ] && [ "${ROWS:-all}" != list ]; then
        churn "$1" "$db"
        # BEFORE=path: the same churn with another build, in the same run (before and after).
        [ -z "${BEFORE:-}" ] || churn "$1" "$BEFORE"
    fi
    unlink
}

# churn LINK BINARY: beside one session of BINARY, containers created and removed at RATE a second (straight to
# the engine's socket), then how long until that session's table equals docker ps -a.
churn() {
    local h=${hosts[0]} sock=${dirs[0]}/docker.sock fifo total began maker remover churned want got caught during took i
    fifo=$(mktemp -u)
    mkfifo "$fifo"
    DOCKERBOX_TRACE_TIMES=$trace.churn "$2" "${db_hosts[@]}" <"$fifo" >"$trace.out" 2>&1 &
    local session=$!
    exec 7>"$fifo"
    echo 'ls /containers >/dev/null' >&7
    total=$((rate * secs))
    began=$(now)
    churns=$((churns + 1))
    api "$sock" create "c$1$churns-" 0 "$total" "$rate" &
    maker=$!
    sleep 1
    api "$sock" remove "c$1$churns-" 0 "$total" "$rate" &
    remover=$!
    # Listings while the churn goes on, one every 100 ms.
    while kill -0 "$remover" 2>/dev/null; do
        echo 'ls /containers >/dev/null' >&7
        sleep 0.1
    done
    wait "$maker" "$remover"
    churned=$(now)
    # No host program in the session: one would make it forget its table and list afresh.
    want=$(docker -H "$h" ps -a --format '{{.Names}}' | LC_ALL=C sort)
    caught=
    for i in $(seq 600); do
        echo "echo '--start $i--'; ls /containers; echo '--end $i--'" >&7
        for _ in $(seq 400); do grep -q -- "^--end $i--" "$trace.out" && break; sleep 0.05; done
        got=$(sed -n "/^--start $i--/,/^--end $i--/p" "$trace.out" | sed '1d;$d' | LC_ALL=C sort)
        if [ "$got" = "$want" ]; then
            caught=$(python3 -c "print(f'{($(now) - $churned) / 1e6:.0f}')")
            break
        fi
        want=$(docker -H "$h" ps -a --format '{{.Names}}' | LC_ALL=C sort)
    done
    exec 7>&-
    wait "$session" || true
    # Median, mean and slowest: commands queue behind a slow one, so the median alone hides it.
    during=$(awk '$1 == "ls" {print $2 / 1000}' "$trace.churn" | sort -n | awk '{a[NR]=$1; s+=$1} END {printf "median %.1f ms, mean %.1f ms, slowest %.1f ms over %d commands", a[int((NR+1)/2)], s/NR, a[NR], NR}')
    took=$(python3 -c "print(f'{($churned - $began) / 1e9:.1f}')")
    echo "churn ($2): $total created and $total removed at $rate/s (asked; all done in $took s); the session's ls /containers equals docker ps -a ${caught:-NEVER (after 600 tries)} ms after the churn ended; warm ls /containers during it: $during"
    rm -f "$fifo" "$trace.churn" "$trace.out"
}

for l in $links; do measure "$l"; done
rm -f "$script" "$trace"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
