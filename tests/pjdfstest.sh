#!/usr/bin/env bash
# pjdfstest (the Rust port, `cargo install pjdfstest`) against `dockerbox mount` on a running
# Debian test container's /p, by hand (not in CI: about 5 minutes, and a few cases depend on
# timing). Prints pjdfstest's summary; the full log is left in $PJD_LOG (default
# /tmp/pjdfstest.log). TESTING.md lists the counts and the cases that cannot apply.
# The path lengths are chosen: pjdfstest binds sockets at absolute paths two temporary
# directories and two names below the container's /p (a socket's path must fit in 108 bytes),
# and its `*::enametoolong_path` cases create a file whose path under the mount is PATH_MAX - 1
# long, which the server reaches as /proc/PID/root plus the container's path plus a temporary's
# suffix: the mount's own prefix must be at least that overhead. So the prefix is 45 bytes,
# and -p is absolute (with `-p .` pjdfstest's paths hold a `/./`).
# Usage: tests/pjdfstest.sh [TEST_PATTERN...]     (root, a Docker engine, /dev/fuse)
# PJD_TMPFS=1 runs on a tmpfs in the container instead of its root filesystem (fuse-overlayfs or
# overlayfs, where a 0:0 character device is a whiteout: the container itself cannot make one).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v pjdfstest >/dev/null || { echo "pjdfstest: cargo install pjdfstest" >&2; exit 2; }
bash tests/images/build.sh debian >/dev/null
db=${DOCKERBOX:-$PWD/target/debug/dockerbox}
[ -x "$db" ] || cargo build -q
log=${PJD_LOG:-/tmp/pjdfstest.log}
c=dbx-pjd-$(printf %011d $$)
tmpfs=()
if [ "${PJD_TMPFS:-0}" = 1 ]; then tmpfs=(--tmpfs /p:rw,exec,mode=0755); fi
docker run -d --network none --label dockerbox.test=1 "${tmpfs[@]}" \
    --label "dockerbox.test.owner=$$:$(awk '{print $22}' /proc/$$/stat)" \
    --name "$c" dockerbox-test/debian:1 sleep 1000000 >/dev/null
docker exec "$c" mkdir -p /p
work=$(mktemp -d /tmp/pjdXXXX)
chmod 755 "$work"   # pjdfstest's other users must reach the mount
mkdir "$work/m"
# Two users and groups that exist on the host (pjdfstest switches to them); the container
# needs only their numbers.
users=()
for u in nobody:nogroup daemon:daemon bin:bin; do
    if [ ${#users[@]} -lt 2 ] && getent passwd "${u%%:*}" >/dev/null && getent group "${u##*:}" >/dev/null; then
        users+=("$u")
    fi
done
[ ${#users[@]} = 2 ] || { echo "need two of nobody/nogroup, daemon/daemon, bin/bin" >&2; exit 2; }
{
    echo '[features]'
    echo 'posix_fallocate = {}'
    echo 'rename_ctime = {}'   # the container's kernel moves a renamed file's ctime
    echo 'utime_now = {}'
    echo 'utimensat = {}'
    echo '[settings]'
    # A running container's times have nanoseconds now, but the mount's attributes may be a
    # second old (its TTL): naps shorter than that can see no change.
    echo "naptime = ${PJD_NAPTIME:-1.01}"
    echo 'allow_remount = false'
    echo '[dummy_auth]'
    echo 'entries = ['
    for u in "${users[@]}"; do echo "  [\"${u%%:*}\", \"${u##*:}\"],"; done
    echo ']'
} > "$work/pjdfstest.toml"
pid=
cleanup() {
    cd /
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    if grep -q " $work/m " /proc/self/mountinfo; then umount -l "$work/m"; fi
    docker rm -f "$c" >/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
# allow_other: pjdfstest runs some cases as the users above.
"$db" mount -o allow_other "$work/m" &
pid=$!
for _ in $(seq 600); do grep -q " $work/m " /proc/self/mountinfo && break; sleep 0.05; done
cd "$work/m/containers/$c/p"
set +e
pjdfstest -c "$work/pjdfstest.toml" -p "$PWD" "$@" > "$log" 2>&1
cd /
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
grep '^Summary' "$log"
awk '/FAILED$/ { n = $1; getline; sub(/^\t/, ""); sub(/left: .*/, ""); print "  " $0 }' "$log" |
    sort | uniq -c | sort -rn
exit 0
