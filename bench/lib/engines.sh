# Extra dockerds for the benches, sourced by bench/engines.sh and bench/scale.sh.
# Each engine runs in a network namespace of its own (with --bridge none dockerd deletes
# docker0, which outside its own namespace is the main engine's bridge), with its own config
# file so /etc/docker/daemon.json does not apply. The caller keeps `dirs` and `pids` and calls
# stop_engines from its EXIT trap.

# start_engine PREFIX: an engine in a new directory /tmp/PREFIX-XXXXXX, appended to dirs/pids.
start_engine() {
    local d
    d=$(mktemp -d "/tmp/$1-XXXXXX")
    dirs+=("$d")
    echo '{}' >"$d/daemon.json"
    unshare --net dockerd --config-file "$d/daemon.json" --host "unix://$d/docker.sock" \
        --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/dockerd.pid" \
        --bridge none --iptables=false --ip6tables=false >"$d/dockerd.log" 2>&1 &
    pids+=("$!")
}

# wait_engine DIR: until the engine in DIR answers (60 s), else its log and status 1.
wait_engine() {
    for _ in $(seq 1200); do
        docker -H "unix://$1/docker.sock" info >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    tail -20 "$1/dockerd.log" >&2
    return 1
}

# stop_engines [rm]: every engine in dirs, its containerd, shims and mounts, and its directory;
# with `rm`, its containers are removed first (a few: quicker than a killed shim's cleanup).
stop_engines() {
    local i d pid p
    for i in "${!dirs[@]}"; do
        d=${dirs[$i]} pid=${pids[$i]:-}
        [ "${1:-}" = rm ] && docker -H "unix://$d/docker.sock" ps -aq 2>/dev/null |
            xargs -r docker -H "unix://$d/docker.sock" rm -f -v >/dev/null 2>&1
        kill "$pid" 2>/dev/null
        for _ in $(seq 200); do
            kill -0 "$pid" 2>/dev/null || break
            # Past this line dockerd only lingers over its containerd.
            grep -q 'Daemon shutdown complete' "$d/dockerd.log" && break
            sleep 0.05
        done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        # What a killed dockerd can leave: its containerd and shims (by pid), and mounts.
        for p in /proc/[0-9]*; do
            case $(cat "$p/comm" 2>/dev/null) in containerd*) ;; *) continue ;; esac
            tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$d/" && kill -9 "${p#/proc/}" 2>/dev/null
        done
        awk -v d="$d" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts |
            sort -r | xargs -r -n1 umount -l
        rm -rf "$d"
    done
}
