#!/usr/bin/env bash
# Speed of `dockerbox mount` (issue 13) beside the docker CLI and the shell doing the same work,
# in one run, on the Debian test image:
#   find DIR/containers/c/usr | wc -l, cold (a fresh mount) and warm   vs docker exec c find /usr | wc -l
#   du -s DIR/containers/c/usr, cold and warm                            vs docker exec c du -s /usr
#   sequential read of 1 GiB: cat DIR/containers/c/tmp/big > /dev/null   vs dockerbox -c 'cat /containers/c/tmp/big'
#   sequential write of 1 GiB: head -c 1G /dev/zero > DIR/... (and dd bs=1M) vs dockerbox -c '... > /containers/c/...'
#     (also with -o writeback_cache)
#   grep -r root over /etc of 10 containers, cold and warm               vs 10 docker exec ... grep -r root /etc
#   the shell's host programs on real paths: dockerbox -c '/usr/bin/find /containers/c/usr | wc -l'
# each on the direct path (the default when the engine is local and we are root) and with
# DOCKERBOX_DIRECT=0 (the agent). Prints times and the ratio other/mount (above 1: the mount is
# faster), and the load.
# Usage: bench/mount.sh          (root, a Docker engine, /dev/fuse; builds the images it uses)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/images/build.sh debian >/dev/null
cargo build --release -q
db=${DOCKERBOX:-$PWD/target/release/dockerbox}
c=dbx-bench-mount-$$
docker run -d --network none --label dockerbox.test=1 --name "$c" dockerbox-test/debian:1 sleep 1000000 >/dev/null
many=()
for i in $(seq 10); do
    many+=("$c-g$i")
    docker run -d --network none --label dockerbox.test=1 --name "$c-g$i" dockerbox-test/debian:1 sleep 1000000 >/dev/null
done
work=$(mktemp -d)
mnt=$work/mnt
mkdir "$mnt"
pid=
stop_mount() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=
    fi
    if grep -q " $mnt " /proc/self/mountinfo; then umount -l "$mnt"; fi
}
trap 'stop_mount; docker rm -f "$c" "${many[@]}" >/dev/null; rm -rf "$work"' EXIT
start_mount() {
    "$db" mount "$@" "$mnt" &
    pid=$!
    for _ in $(seq 600); do
        grep -q " $mnt " /proc/self/mountinfo && return
        sleep 0.05
    done
    echo "the mount did not come up" >&2
    exit 1
}

now() { date +%s%N; }
secs() { python3 -c "print(f'{($2 - $1) / 1e9:.3f}')" "$1" "$2"; }
row() { python3 -c "import sys; m, o = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<52} mount {m:8.3f} s   {sys.argv[4]:<16} {o:8.3f} s   ratio {o / m:6.2f}x')" "$@"; }
timed() { local a b; a=$(now); "$@" >/dev/null; b=$(now); secs "$a" "$b"; }
# The median of RUNS (default 5) timings of a command (the warm rows and their docker figures).
med() {
    local t=()
    for _ in $(seq "${RUNS:-5}"); do t+=("$(timed "$@")"); done
    printf '%s\n' "${t[@]}" | sort -n | sed -n "$(( (${#t[@]} + 1) / 2 ))p"
}

echo "engine: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
root=$mnt/containers/$c
n_exec=$(docker exec "$c" sh -c 'find /usr | wc -l')
t_find_exec=$(med docker exec "$c" sh -c 'find /usr | wc -l')
t_du_exec=$(med docker exec "$c" du -s /usr)
docker exec "$c" sh -c 'head -c 1073741824 /dev/zero > /tmp/big'

for direct in 1 0; do
    if [ "$direct" = 1 ]; then how="direct path"; else how="DOCKERBOX_DIRECT=0"; fi
    export DOCKERBOX_DIRECT=$direct
    start_mount
    # `find` prints paths under the mount; the count is what must agree.
    t_cold=$(timed sh -c "find '$root/usr' | wc -l")
    n_mnt=$(find "$root/usr" | wc -l)
    t_warm=$(med sh -c "find '$root/usr' | wc -l")
    [ "$n_mnt" = "$n_exec" ] || echo "  (find counted $n_mnt through the mount, $n_exec in the container)"
    row "find usr | wc -l, cold ($how)" "$t_cold" "$t_find_exec" "docker exec"
    row "find usr | wc -l, warm ($how)" "$t_warm" "$t_find_exec" "docker exec"
    stop_mount
    start_mount
    row "du -s usr, cold ($how)" "$(timed du -s "$root/usr")" "$t_du_exec" "docker exec"
    row "du -s usr, warm ($how)" "$(med du -s "$root/usr")" "$t_du_exec" "docker exec"
    t_cat_mnt=$(timed cat "$root/tmp/big")
    t_cat_sh=$(timed "$db" -c "cat /containers/$c/tmp/big")
    row "read 1 GiB sequentially ($how)" "$t_cat_mnt" "$t_cat_sh" "dockerbox cat"
    t_w_mnt=$(timed sh -c "head -c 1073741824 /dev/zero > '$root/tmp/w1'")
    t_w_sh=$(timed "$db" -c "head -c 1073741824 /dev/zero > /containers/$c/tmp/w2")
    row "write 1 GiB sequentially, new file ($how)" "$t_w_mnt" "$t_w_sh" "dockerbox >"
    # head writes small blocks, each one request to the mount (gathered there into 1 MiB writes);
    # dd 1 MiB.
    t_w_dd=$(timed dd if=/dev/zero of="$root/tmp/w3" bs=1M count=1024 status=none)
    row "write 1 GiB, new file, dd bs=1M ($how)" "$t_w_dd" "$t_w_sh" "dockerbox >"
    stop_mount
    docker exec "$c" rm -f /tmp/w1 /tmp/w2 /tmp/w3
done

unset DOCKERBOX_DIRECT
# -o writeback_cache: the kernel gathers head's 4-8 KiB writes into 1 MiB ones (and then owns
# the files' sizes; no passthrough for readers).
start_mount -o writeback_cache
t_w_mnt=$(timed sh -c "head -c 1073741824 /dev/zero > '$root/tmp/w1'")
t_w_sh=$(timed "$db" -c "head -c 1073741824 /dev/zero > /containers/$c/tmp/w2")
row "write 1 GiB, new file, -o writeback_cache" "$t_w_mnt" "$t_w_sh" "dockerbox >"
t_w_dd=$(timed dd if=/dev/zero of="$root/tmp/w3" bs=1M count=1024 status=none)
row "write 1 GiB, dd bs=1M, -o writeback_cache" "$t_w_dd" "$t_w_sh" "dockerbox >"
row "read 1 GiB sequentially, -o writeback_cache" "$(timed cat "$root/tmp/big")" \
    "$(timed "$db" -c "cat /containers/$c/tmp/big")" "dockerbox cat"
stop_mount
docker exec "$c" rm -f /tmp/w1 /tmp/w2 /tmp/w3
# grep -r over 10 containers' /etc (grep's status 1, nothing found, is no failure here).
t_grep_exec=$(timed sh -c 'for c in "$@"; do docker exec "$c" grep -r root /etc || true; done' sh "${many[@]}")
start_mount
dirs=()
for m in "${many[@]}"; do dirs+=("$mnt/containers/$m/etc"); done
row "grep -r root, 10 containers' /etc, cold" "$(timed sh -c 'grep -r root "$@" || true' sh "${dirs[@]}")" "$t_grep_exec" "10 docker exec"
row "grep -r root, 10 containers' /etc, warm" "$(med sh -c 'grep -r root "$@" || true' sh "${dirs[@]}")" "$t_grep_exec" "10 docker exec"
stop_mount
# The shell's host programs on real paths (the namespace mounted for them at their start).
row "dockerbox -c '/usr/bin/find /containers/c/usr | wc -l'" \
    "$(timed "$db" -c "/usr/bin/find /containers/$c/usr | wc -l")" "$t_find_exec" "docker exec"
row "dockerbox -c '/bin/true /containers' (mount setup)" \
    "$(timed "$db" -c "/bin/true /containers")" "$(timed "$db" -c "/bin/true /tmp")" "no container arg"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
