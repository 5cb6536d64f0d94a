#!/usr/bin/env bash
# Scale (issue 16): many containers on one engine, or many engines, beside the docker CLI doing
# the same work in the same run. The engines are extra dockerds started here (each in a network
# namespace of its own, as bench/engines.sh does), so the machine's own engine and whoever else
# uses it see none of this. N busybox containers each, created (never started) but RUNNING of
# them, from the test image:
#   cold `ls /containers` and `ls -l /containers` (fresh processes)    vs `docker ps -a`
#   warm `ls /containers` in one session, per command (TRACE_TIMES)    vs `docker ps -a`
#   peak memory (VmHWM) of a cold `ls -l /containers`                  vs `docker ps -a`
#   `ls /containers/*/etc/hostname` over all (one engine)               vs `docker cp C:/etc/hostname -`
#                                                                         for each, 16 at once
#   churn: containers created and removed at RATE per second for SECS s beside one session;
#   after it, how long until that session's `ls /containers` equals `docker ps -a`, and its warm
#   `ls /containers` meanwhile
# Prints medians and the ratio docker/dockerbox (above 1: dockerbox is faster), and the load.
# Usage: bench/scale.sh [N] [ENGINES] [RUNS]   (defaults 1000, 1, 5; root, dockerd, a Docker
#   engine with the test images). ENGINES=10 N=200 is the many-engines form.
#   DOCKERBOX=path uses that binary instead of building a release one. RATE=50 SECS=10 RUNNING=10.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
engines=${2:-1}
runs=${3:-5}
running=${RUNNING:-10}
rate=${RATE:-50}
secs=${SECS:-10}
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
trap stop_engines EXIT
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

# median_ms RUNS CMD...: the median wall time of CMD in ms (output discarded), after one warm-up.
median_ms() {
    local r=$1
    shift
    python3 - "$r" "$@" <<'PY'
import subprocess, sys, time
n, cmd = int(sys.argv[1]), sys.argv[2:]
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
hosts=()
db_hosts=()
for i in "${!dirs[@]}"; do
    d=${dirs[$i]}
    api "$d/docker.sock" create "s$i-" 0 "$n"
    api "$d/docker.sock" start "s$i-" 0 "$running"
    hosts+=("unix://$d/docker.sock")
    db_hosts+=(--host "e$i=unix://$d/docker.sock")
done
echo "setup: $((n * engines)) containers ($running running on each engine) in $(secs_since "$t0") s"
echo "engine: $(docker -H "${hosts[0]}" version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), storage $(docker -H "${hosts[0]}" info --format '{{.Driver}}'), $runs runs each, medians; load: $(cut -d' ' -f1-3 /proc/loadavg)"

export hosts_list="${hosts[*]}"
ps_cmd=(bash -c 'for h in $hosts_list; do docker -H "$h" ps -a; done')
if [ "$engines" = 1 ]; then
    what="$n containers"
    lsc='ls /containers'
    lsl='ls -l /containers'
else
    what="$engines engines x $n containers"
    lsc='ls /containers/*'
    lsl='ls -l /containers/*'
fi
theirs=$(median_ms "$runs" "${ps_cmd[@]}")
row "cold $lsc, $what" "$(median_ms "$runs" "$db" "${db_hosts[@]}" -c "$lsc")" "$theirs"
row "cold $lsl, $what" "$(median_ms "$runs" "$db" "${db_hosts[@]}" -c "$lsl")" "$theirs"

k=30
script=$(mktemp)
trace=$(mktemp)
for _ in $(seq $k); do echo "$lsc >/dev/null"; done >"$script"
DOCKERBOX_TRACE_TIMES=$trace "$db" "${db_hosts[@]}" "$script"
warm=$(tail -n +2 "$trace" | awk '{print $2 / 1000}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
row "warm $lsc, per command, $what" "$warm" "$theirs"
row "peak memory, cold $lsl (KiB)" "$(peak_kb "$db" "${db_hosts[@]}" -c "$lsl")" "$(peak_kb docker -H "${hosts[0]}" ps -a)" KiB

if [ "$engines" = 1 ]; then
    h=${hosts[0]}
    ours=$(median_ms 1 "$db" "${db_hosts[@]}" -c 'cat /containers/*/etc/hostname')
    theirs=$(median_ms 1 bash -c "docker -H $h ps -aq | xargs -P 16 -I{} docker -H $h cp {}:/etc/hostname -")
    row "cat /containers/*/etc/hostname, all $n" "$ours" "$theirs"

    # Churn beside one session: create and remove RATE a second, then wait for the table.
    sock=${dirs[0]}/docker.sock
    fifo=$(mktemp -u)
    mkfifo "$fifo"
    DOCKERBOX_TRACE_TIMES=$trace.churn "$db" "${db_hosts[@]}" <"$fifo" >"$trace.out" 2>&1 &
    session=$!
    exec 7>"$fifo"
    echo 'ls /containers >/dev/null' >&7
    total=$((rate * secs))
    api "$sock" create c- 0 "$total" "$rate" &
    maker=$!
    sleep 1
    api "$sock" remove c- 0 "$total" "$rate" &
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
    during=$(awk '$1 == "ls" {print $2 / 1000}' "$trace.churn" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "churn: $total created and $total removed at $rate/s; the session's ls /containers equals docker ps -a ${caught:-NEVER (after 600 tries)} ms after the churn ended; warm ls /containers during it: $during ms (median)"
    rm -f "$fifo" "$trace.churn" "$trace.out"
fi
rm -f "$script" "$trace"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
