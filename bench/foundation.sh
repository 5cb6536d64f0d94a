#!/usr/bin/env bash
# Speed of the foundation (issue 3) beside the docker CLI doing the same work, in one run:
#   cold: `dockerbox -c 'ls /containers'`                  vs `docker ps -a`
#   cold: `dockerbox -c 'cat /containers/S/etc/os-release'` vs `docker cp S:/etc/os-release -`
#         (S is a stopped container)
#   warm: `ls /containers` repeated in one dockerbox session vs `docker ps -a` repeated
# Prints medians and the ratio docker/dockerbox (above 1: dockerbox is faster).
# Usage: bench/foundation.sh [RUNS]      (needs a Docker engine; builds the images it uses)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
bash tests/images/build.sh busybox >/dev/null
cargo build --release -q
db=$PWD/target/release/dockerbox

tag=dbx-bench-$$
docker run -d --network none --label dockerbox.test=1 --name "$tag-run" dockerbox-test/busybox:1 sleep 1000000 >/dev/null
docker create --network none --label dockerbox.test=1 --name "$tag-stopped" dockerbox-test/busybox:1 true >/dev/null
trap 'docker rm -f "$tag-run" "$tag-stopped" >/dev/null' EXIT

# median_ms RUNS CMD...: runs CMD (output discarded) and prints the median wall time in ms.
median_ms() {
    local n=$1
    shift
    python3 - "$n" "$@" <<'PY'
import subprocess, sys, time
n, cmd = int(sys.argv[1]), sys.argv[2:]
subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)  # warm the page cache
ts = []
for _ in range(n):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    ts.append((time.perf_counter() - t) * 1000)
ts.sort()
print(f"{ts[len(ts) // 2]:.2f}")
PY
}

row() { # LABEL OURS THEIRS
    python3 -c "import sys; o, t = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<46} dockerbox {o:9.3f} ms   docker {t:9.3f} ms   ratio {t / o:8.1f}x')" "$@"
}

echo "engine: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), $runs runs each, medians"
row "ls /containers (cold process)" \
    "$(median_ms "$runs" "$db" -c 'ls /containers')" \
    "$(median_ms "$runs" docker ps -a)"
row "cat stopped:/etc/os-release (cold process)" \
    "$(median_ms "$runs" "$db" -c "cat /containers/$tag-stopped/etc/os-release")" \
    "$(median_ms "$runs" docker cp "$tag-stopped:/etc/os-release" -)"

# Warm: one session runs the listing N times; the docker CLI pays a process and a request each.
n=100
warm_n=1000
script=$(mktemp)
for _ in $(seq $warm_n); do echo 'ls /containers'; done >"$script"
warm_total=$(median_ms 5 "$db" "$script")
once=$(median_ms 5 "$db" -c 'ls /containers')
ps_total=$(median_ms 3 bash -c "for i in \$(seq $n); do docker ps -a >/dev/null; done")
rm -f "$script"
per_warm=$(python3 -c "print(max(($warm_total - $once) / ($warm_n - 1), 0.001))")
row "ls /containers, warm, per command" "$per_warm" "$(python3 -c "print($ps_total / $n)")"
