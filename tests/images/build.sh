#!/usr/bin/env bash
# Builds the images the integration tests run, offline, and caches them by name:
#   dockerbox-test/busybox:1  Debian's busybox-static with its applets as symlinks
#   dockerbox-test/debian:1   debootstrap --variant=minbase from the machine's apt mirror
#   dockerbox-test/scratch:1  one static binary (/pause) and nothing else: no shell, no libc
# An image that exists already is left alone. Run as root (debootstrap needs it).
# Usage: tests/images/build.sh [busybox|debian|scratch]...   (default: all)
set -euo pipefail

DOCKER=${DOCKER:-docker}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

have() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

import() { # NAME DIR
    tar --numeric-owner -C "$2" -c . | "$DOCKER" import \
        -c 'LABEL dockerbox.test=1' - "$1" >/dev/null
    echo "built $1"
}

busybox_image() {
    local name=dockerbox-test/busybox:1 bb=/bin/busybox r="$work/busybox"
    have "$name" && return 0
    [ -x "$bb" ] && "$bb" --help 2>&1 | head -1 | grep -q BusyBox || {
        echo "build.sh: $bb is not Debian's busybox-static (apt-get install busybox-static)" >&2
        return 1
    }
    mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home/user,var/tmp,dev,proc,sys}
    chmod 1777 "$r/tmp" "$r/var/tmp"
    cp "$bb" "$r/bin/busybox"
    for applet in $("$bb" --list-full); do
        [ -e "$r/$applet" ] || ln -s /bin/busybox "$r/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
    printf 'root:x:0:\nuser:x:1000:\nstaff:x:50:user\nnogroup:x:65534:\n' >"$r/etc/group"
    printf 'NAME="BusyBox"\nID=busybox\n' >"$r/etc/os-release"
    chown 1000:1000 "$r/home/user"
    import "$name" "$r"
}

debian_image() {
    local name=dockerbox-test/debian:1 r="$work/debian"
    have "$name" && return 0
    command -v debootstrap >/dev/null || {
        echo "build.sh: debootstrap is missing (apt-get install debootstrap)" >&2
        return 1
    }
    # The mirror the machine's own apt sources name, so this works wherever apt does.
    local mirror suite
    mirror=$( { grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null || true; } \
        | head -1 | awk '{print $2}')
    mirror=${mirror:-http://deb.debian.org/debian}
    suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    debootstrap --variant=minbase "$suite" "$r" "$mirror" >"$work/debootstrap.log" 2>&1 || {
        tail -20 "$work/debootstrap.log" >&2
        return 1
    }
    rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*
    import "$name" "$r"
}

scratch_image() {
    local name=dockerbox-test/scratch:1 r="$work/scratch"
    have "$name" && return 0
    mkdir -p "$r"
    # The smallest program that keeps a container running: no shell, no libc at run time.
    printf '#include <unistd.h>\nint main(void){for(;;)pause();}\n' >"$work/pause.c"
    ${CC:-cc} -static -Os -o "$r/pause" "$work/pause.c"
    strip "$r/pause" 2>/dev/null || true
    import "$name" "$r"
}

[ $# -gt 0 ] || set -- busybox debian scratch
for which in "$@"; do
    case "$which" in
    busybox) busybox_image ;;
    debian) debian_image ;;
    scratch) scratch_image ;;
    *) echo "build.sh: unknown image '$which'" >&2; exit 2 ;;
    esac
done
