#!/usr/bin/env bash
# Counts the FUSE requests the kernel sends to the mount at MNT while CMD runs, by opcode (the
# kernel's fuse_request_send tracepoint, 6.14+, in a trace instance of its own filtered to that
# mount's connection): where a walk's or a writer's time goes, whatever the load.
# Usage: bench/fuse-ops.sh MNT CMD [ARGS...]     (root; e.g. bench/fuse-ops.sh /mnt/dbx find /mnt/dbx/containers/c/usr)
set -euo pipefail
mnt=$1
shift
t=/sys/kernel/tracing
[ -d $t/events ] || mount -t tracefs nodev $t
[ -d $t/events/fuse/fuse_request_send ] || { echo "no fuse tracepoints in this kernel" >&2; exit 1; }
inst=$t/instances/dockerbox-fuse-ops-$$
mkdir "$inst"
trap 'echo 0 > "$inst/events/fuse/fuse_request_send/enable"; rmdir "$inst"' EXIT
echo 16384 > "$inst/buffer_size_kb"
echo "connection == $(stat -c %d "$mnt")" > "$inst/events/fuse/fuse_request_send/filter"
echo 1 > "$inst/events/fuse/fuse_request_send/enable"
"$@" > /dev/null
echo 0 > "$inst/tracing_on"
grep -oP 'opcode \d+ \(\K[A-Z_0-9]+' "$inst/trace" | sort | uniq -c | sort -rn
