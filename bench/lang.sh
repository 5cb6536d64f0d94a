#!/usr/bin/env bash
# Speed of the shell language (issue 15) beside dash and bash, in one run:
#   a loop:  for i in $(seq 1 100000); do x=$((x+i)); done     (target: within 3x of dash)
#   startup: -c true, no engine touched                        (target: within 5 ms)
#   a loop into head: while true; do echo y; done | head -1    (returns at once)
# Prints medians in ms (wall, then CPU: user + system) and dockerbox's ratio to each shell (below
# 1: dockerbox is faster). `uptime` first: say the load beside the figures.
# Usage: bench/lang.sh [RUNS]   (DOCKERBOX=PATH: measure that binary, nothing built)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
[ -n "${DOCKERBOX:-}" ] || cargo build --release -q
db=${DOCKERBOX:-$PWD/target/release/dockerbox}
uptime

median_ms() { # RUNS CMD...
    local n=$1
    shift
    python3 - "$n" "$@" <<'PY'
import resource, subprocess, sys, time
n, cmd = int(sys.argv[1]), sys.argv[2:]
subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
ts, cpu = [], []
for _ in range(n):
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    ts.append((time.perf_counter() - t) * 1000)
    r2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu.append((r2.ru_utime + r2.ru_stime - r.ru_utime - r.ru_stime) * 1000)
ts.sort()
cpu.sort()
print(f"{ts[len(ts) // 2]:.2f} {cpu[len(cpu) // 2]:.2f}")
PY
}

case_() { # LABEL RUNS SCRIPT
    local label=$1 n=$2 script=$3
    local d b x
    d=$(median_ms "$n" dash -c "$script")
    b=$(median_ms "$n" bash -c "$script")
    x=$(median_ms "$n" "$db" -c "$script")
    # Wall time, then CPU time (user + system): on a loaded machine the CPU ratio is the steady one.
    python3 -c "
import sys
label, (x, xc, d, dc, b, bc) = sys.argv[1], map(float, sys.argv[2:])
r = lambda a, b: a / b if b else float('inf')
print(f'{label:<8} dockerbox {x:8.2f} ms   dash {d:8.2f} ms ({r(x, d):5.2f}x)   bash {b:8.2f} ms ({r(x, b):5.2f}x)')
print(f'{\"\":<8}  cpu      {xc:8.2f} ms        {dc:8.2f} ms ({r(xc, dc):5.2f}x)        {bc:8.2f} ms ({r(xc, bc):5.2f}x)')
" "$label" $x $d $b
}

case_ loop "$runs" 'for i in $(seq 1 100000); do x=$((x+i)); done; echo $x'
case_ startup $((runs * 6)) 'true'
case_ head "$runs" 'while true; do echo y; done | head -1'
