#!/usr/bin/env bash
# Speed of cp (issue 5) beside the docker CLI doing the same work, in one run:
#   one big file, container to container   vs  docker cp a:/f - | docker cp - b:/tmp/
#   the same without the direct path (DOCKERBOX_DIRECT=0), random and text-like data, written
#     by the agent and by the engine's tar stream (DOCKERBOX_PUT_MIN)
#   a tree of many small files, cp -a       vs  the same docker cp pipe (which keeps all, as -a),
#     with and without the direct path
#   peak RSS of dockerbox while copying 2 GiB, direct and streamed (/usr/bin/time)
# Usage: bench/cp.sh [MiB] [FILES]     (defaults 512 and 10000; needs a Docker engine)
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-512}
files=${2:-10000}
bash tests/images/build.sh busybox >/dev/null
# DOCKERBOX_BIN=PATH measures another build (a before/after comparison) instead of building.
if [ -n "${DOCKERBOX_BIN:-}" ]; then
    db=$DOCKERBOX_BIN
else
    cargo build --release -q
    db=$PWD/target/release/dockerbox
fi
a=dbx-bench-cp-a-$$
b=dbx-bench-cp-b-$$
for c in "$a" "$b"; do
    docker run -d --network none --label dockerbox.test=1 --name "$c" dockerbox-test/busybox:1 sleep 1000000 >/dev/null
done
trap 'docker rm -f "$a" "$b" >/dev/null' EXIT
docker exec "$a" sh -c "head -c $((mib << 20)) /dev/urandom > /tmp/f"
# Text-like data (log lines, as bench/remote.sh makes them) for the streamed rows.
docker exec "$a" sh -c "i=0; while [ \$i -lt 20000 ]; do echo \"2026-12-01T08:00:\$((i % 60)) INFO request \$i served /api/v1/items?id=\$((i * 7)) in \$((i % 97)) ms\"; i=\$((i + 1)); done > /tmp/chunk; : > /tmp/text; while [ \$(stat -c %s /tmp/text) -lt $((mib << 20)) ]; do cat /tmp/chunk >> /tmp/text; done; truncate -s $((mib << 20)) /tmp/text"
docker exec "$a" sh -c "mkdir -p /tmp/tree && cd /tmp/tree && i=0; while [ \$i -lt $files ]; do d=d\$((i / 100)); [ -d \$d ] || mkdir \$d; echo \$i > \$d/f\$i; i=\$((i + 1)); done"

now() { date +%s%N; }
ms() { python3 -c "print(($2 - $1) / 1e6)" "$1" "$2"; }
row() { python3 -c "import sys; o, t = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<40} dockerbox {o:9.1f} ms   docker {t:9.1f} ms   ratio {t / o:5.2f}x')" "$@"; }
median3() { sort -n | sed -n 2p; }

echo "engine: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), ${mib} MiB, ${files} files; load $(cut -d' ' -f1-3 /proc/loadavg)"
# Each run writes into a fresh container: on this engine (fuse-overlayfs) writes get slower as
# a container's upper layer fills with files and whiteouts, which would favour whoever goes first.
fresh() {
    docker rm -f "$b" >/dev/null
    docker run -d --network none --label dockerbox.test=1 --name "$b" dockerbox-test/busybox:1 sleep 1000000 >/dev/null
}
ours=$(for _ in 1 2 3; do fresh; s=$(now); "$db" -c "cp /containers/$a/tmp/f /containers/$b/tmp/f"; e=$(now); ms "$s" "$e"; done | median3)
theirs=$(for _ in 1 2 3; do fresh; s=$(now); docker cp "$a:/tmp/f" - | docker cp - "$b:/tmp/"; e=$(now); ms "$s" "$e"; done | median3)
row "${mib} MiB file, container to container" "$ours" "$theirs"
[ "$(docker exec "$a" sha256sum /tmp/f | cut -d' ' -f1)" = "$(docker exec "$b" sha256sum /tmp/f | cut -d' ' -f1)" ] || echo "MISMATCH"
# The same through the streams a user without /proc/PID/root gets (the agents and the
# engine: DOCKERBOX_DIRECT=0), random and text-like data, each beside its own docker cp pipe.
for kind in f text; do
    name=$([ "$kind" = f ] && echo random || echo text)
    streamed=$(for _ in 1 2 3; do fresh; s=$(now); DOCKERBOX_DIRECT=0 "$db" -c "cp /containers/$a/tmp/$kind /containers/$b/tmp/f"; e=$(now); ms "$s" "$e"; done | median3)
    [ "$(docker exec "$a" sha256sum /tmp/$kind | cut -d' ' -f1)" = "$(docker exec "$b" sha256sum /tmp/f | cut -d' ' -f1)" ] || echo "MISMATCH"
    theirs=$(for _ in 1 2 3; do fresh; s=$(now); docker cp "$a:/tmp/$kind" - | docker cp - "$b:/tmp/"; e=$(now); ms "$s" "$e"; done | median3)
    row "${mib} MiB $name, streamed (DIRECT=0)" "$streamed" "$theirs"
    # The engine's tar stream into the destination, renamed by its agent (DOCKERBOX_PUT_MIN).
    put=$(for _ in 1 2 3; do fresh; s=$(now); DOCKERBOX_DIRECT=0 DOCKERBOX_PUT_MIN=33554432 "$db" -c "cp /containers/$a/tmp/$kind /containers/$b/tmp/f"; e=$(now); ms "$s" "$e"; done | median3)
    row "${mib} MiB $name, DIRECT=0, PUT_MIN=32M" "$put" "$theirs"
done

ours=$(for _ in 1 2 3; do fresh; s=$(now); "$db" -c "cp -a /containers/$a/tmp/tree /containers/$b/tmp/tree"; e=$(now); ms "$s" "$e"; done | median3)
streamed=$(for _ in 1 2 3; do fresh; s=$(now); DOCKERBOX_DIRECT=0 "$db" -c "cp -a /containers/$a/tmp/tree /containers/$b/tmp/tree"; e=$(now); ms "$s" "$e"; done | median3)
theirs=$(for _ in 1 2 3; do fresh; s=$(now); docker cp "$a:/tmp/tree" - | docker cp - "$b:/tmp/"; e=$(now); ms "$s" "$e"; done | median3)
row "${files} small files, container to container" "$ours" "$theirs"
row "${files} small files, streamed (DIRECT=0)" "$streamed" "$theirs"
echo "load after the copies: $(cut -d' ' -f1-3 /proc/loadavg)"

# Peak RSS while copying 2 GiB, both ways: the direct path and the streamed one (agent +
# archive API), which is where buffers could grow.
docker exec "$a" sh -c "head -c $((2048 << 20)) /dev/zero > /tmp/big"
for direct in 1 0; do
    fresh
    DOCKERBOX_DIRECT=$direct /usr/bin/time -f '%M' -o /tmp/dbx-cp-rss.$$ \
        "$db" -c "cp /containers/$a/tmp/big /containers/$b/tmp/big"
    echo "peak RSS copying 2 GiB (DOCKERBOX_DIRECT=$direct): $(cat /tmp/dbx-cp-rss.$$) KiB"
done
rm -f /tmp/dbx-cp-rss.$$
