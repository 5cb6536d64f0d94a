#!/usr/bin/env bash
# grep inside containers (issue 16) beside the docker CLI doing the same work, in one run:
#   dockerbox -c 'grep -rn PATTERN /containers/C*/usr'   (a fresh process; as root on the engine's
#     machine by the direct path, the image's unchanged files read once for all containers;
#     again with DOCKERBOX_DIRECT=0: by the agents, started too)
#   vs 10 x `docker exec Ci grep -rn PATTERN /usr` one after another, and all 10 at once
# over N running Debian containers. Both outputs go to files, compared for size (the same
# lines, the same bytes). Prints medians and the ratio docker/dockerbox (above 1: faster).
# Usage: bench/search.sh [RUNS] [N]   (PATTERN=... to change the pattern; needs a Docker engine)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
n=${2:-10}
pattern=${PATTERN:-ERROR}
bash tests/images/build.sh debian >/dev/null
# DOCKERBOX=path uses that binary (the agent is built optimized whatever the profile).
[ -n "${DOCKERBOX:-}" ] || cargo build --release -q
db=${DOCKERBOX:-$PWD/target/release/dockerbox}
pre=dbx-bench-search-$$
work=$(mktemp -d)
names=()
for i in $(seq "$n"); do names+=("$pre-$i"); done
cleanup() { docker rm -f "${names[@]}" >/dev/null; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
for c in "${names[@]}"; do
    docker run -d --network none --label dockerbox.test=1 --name "$c" dockerbox-test/debian:1 sleep 1000000 >/dev/null
done

now() { date +%s%N; }
ms() { python3 -c "print(f'{($2 - $1) / 1e6:.1f}')" "$1" "$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
row() { python3 -c "import sys; o, t = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<52} dockerbox {o:9.1f} ms   docker {t:9.1f} ms   ratio {t / o:6.2f}x')" "$@"; }

sequential() { for c in "${names[@]}"; do docker exec "$c" grep -rn "$pattern" /usr || true; done; }
parallel() {
    for c in "${names[@]}"; do docker exec "$c" grep -rn "$pattern" /usr >"$work/par-$c" 2>/dev/null & done
    wait
    cat "$work"/par-* && rm -f "$work"/par-*
}
ours() { "$db" -c "grep -rn '$pattern' /containers/$pre-*/usr" || true; }
agents() { DOCKERBOX_DIRECT=0 ours; }

echo "engine: $(docker version --format '{{.Server.Version}}'), $n containers, pattern $pattern, load: $(uptime | sed 's/.*load/load/')"
sequential >/dev/null 2>&1 # the page cache
t_seq=() t_par=() t_ours=() t_agents=()
for _ in $(seq "$runs"); do
    a=$(now); sequential >"$work/seq.out" 2>/dev/null; b=$(now); t_seq+=("$(ms "$a" "$b")")
    a=$(now); parallel >"$work/par.out"; b=$(now); t_par+=("$(ms "$a" "$b")")
    a=$(now); ours >"$work/ours.out" 2>/dev/null; b=$(now); t_ours+=("$(ms "$a" "$b")")
    a=$(now); agents >"$work/agents.out" 2>/dev/null; b=$(now); t_agents+=("$(ms "$a" "$b")")
done
med() { printf '%s\n' "$@" | median; }
o=$(med "${t_ours[@]}")
row "grep -rn in /usr of $n containers vs sequential execs" "$o" "$(med "${t_seq[@]}")"
row "grep -rn in /usr of $n containers vs parallel execs" "$o" "$(med "${t_par[@]}")"
a=$(med "${t_agents[@]}")
row "  the same by the agents (DIRECT=0) vs sequential" "$a" "$(med "${t_seq[@]}")"
row "  the same by the agents (DIRECT=0) vs parallel" "$a" "$(med "${t_par[@]}")"
echo "output: dockerbox $(wc -l <"$work/ours.out") lines, by the agents $(wc -l <"$work/agents.out"), docker $(wc -l <"$work/seq.out") lines"
cmp -s "$work/ours.out" "$work/agents.out" || echo "OUTPUTS DIFFER: direct path vs agents"
echo "load after: $(uptime | sed 's/.*load/load/')"
