#!/usr/bin/env bash
# Speed of the shell language (issue 15) beside dash and bash, in one run:
#   a loop:  for i in $(seq 1 100000); do x=$((x+i)); done     (target: within 3x of dash)
#   startup: -c true, no engine touched                        (target: within 5 ms)
#   a loop into head: while true; do echo y; done | head -1    (returns at once)
# Prints medians in ms and dockerbox's ratio to each shell (below 1: dockerbox is faster).
# Usage: bench/lang.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release -q
db=$PWD/target/release/dockerbox

median_ms() { # RUNS CMD...
    local n=$1
    shift
    python3 - "$n" "$@" <<'PY'
import subprocess, sys, time
n, cmd = int(sys.argv[1]), sys.argv[2:]
subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
ts = []
for _ in range(n):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    ts.append((time.perf_counter() - t) * 1000)
ts.sort()
print(f"{ts[len(ts) // 2]:.2f}")
PY
}

case_() { # LABEL RUNS SCRIPT
    local label=$1 n=$2 script=$3
    local d b x
    d=$(median_ms "$n" dash -c "$script")
    b=$(median_ms "$n" bash -c "$script")
    x=$(median_ms "$n" "$db" -c "$script")
    python3 -c "import sys; x, d, b = map(float, sys.argv[2:]); print(f'{sys.argv[1]:<12} dockerbox {x:9.2f} ms   dash {d:9.2f} ms ({x / d:5.2f}x)   bash {b:9.2f} ms ({x / b:5.2f}x)')" "$label" "$x" "$d" "$b"
}

case_ loop "$runs" 'for i in $(seq 1 100000); do x=$((x+i)); done; echo $x'
case_ startup $((runs * 6)) 'true'
case_ head "$runs" 'while true; do echo y; done | head -1'
