//! The in-container agent: where it runs, where it cannot (and the archive API answers the same),
//! its lifecycle, hostile names, and that it leaves nothing behind.

use std::os::unix::ffi::OsStringExt;
use std::process::Command;

use crate::util::{docker, sha256, Sandbox, TestShell, BUSYBOX, DEBIAN, SCRATCH};

/// dockerbox that waits for the agent and says which backend served.
fn agent() -> TestShell {
    agent_shell().opts(&["--agent", "always", "-v"])
}

/// dockerbox that never uploads anything.
fn archive() -> TestShell {
    agent_shell().opts(&["--agent", "never"])
}

/// `docker diff` lines that add an agent file: dockerbox must never leave one.
fn added_files(c: &str) -> Vec<String> {
    docker(&["diff", c])
        .lines()
        .filter(|l| l.starts_with("A ") && l.contains("dbx-agent"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_agent_serves_busybox_debian_and_scratch_like_the_archive() {
    let Some(mut sb) = Sandbox::new("agimg") else {
        return;
    };
    for (short, image, file) in [
        ("bb", BUSYBOX, "/etc/passwd"),
        ("deb", DEBIAN, "/etc/os-release"),
        ("scr", SCRATCH, "/pause"),
    ] {
        let c = sb.run(short, image, &[]);
        for cmd in [
            format!("ls -A /containers/{c}/"),
            format!("cat /containers/{c}{file}"),
        ] {
            let a = agent().c(&cmd);
            assert_eq!(a.status, 0, "{image}: {cmd}: {}", a.stderr);
            assert!(
                a.stderr
                    .contains(&format!("dockerbox: {c}: served by the agent")),
                "{image}: {}",
                a.stderr
            );
            let b = archive().c(&cmd);
            assert_eq!(b.status, 0, "{image}: {cmd}: {}", b.stderr);
            assert!(
                a.stdout == b.stdout,
                "{image}: {cmd}: the same through both backends"
            );
        }
        let long = agent().c(&format!("ls -l /containers/{c}{file}")).ok();
        assert!(long.starts_with('-') || long.starts_with('l'), "{long}");
        assert_eq!(
            added_files(&c),
            Vec::<String>::new(),
            "{image}: docker diff clean"
        );
        if image != SCRATCH {
            let diff = docker(&["diff", &c]);
            assert!(
                !diff.contains("A "),
                "{image}: nothing added at all: {diff}"
            );
        }
    }
}

/// A read-only root takes no upload through the archive API: the agent is written into `/dev`
/// (a writable tmpfs that allows exec) by the container's own shell, and leaves nothing there.
/// Without a shell (scratch) the archive API serves what it sees right.
#[test]
fn a_read_only_root_starts_the_agent_from_dev() {
    let Some(mut sb) = Sandbox::new("agro") else {
        return;
    };
    let c = sb.run("ro", BUSYBOX, &["--read-only"]);
    let r = agent().c(&format!("cat /containers/{c}/etc/os-release"));
    assert_eq!(r.ok(), "NAME=\"BusyBox\"\nID=busybox\n");
    assert!(
        r.stderr.contains("served by the agent (started from /dev)"),
        "{}",
        r.stderr
    );
    assert!(!sb.exec(&c, &["ls", "-a", "/dev"]).contains("dbx-agent"));
    let s = sb.run("ros", SCRATCH, &["--read-only"]);
    let r = agent().c(&format!("cat /containers/{s}/etc/os-release"));
    assert!(
        r.stderr.contains("served by the archive API"),
        "{}",
        r.stderr
    );
}

/// Mount points inside a running container (`/dev`, a `--tmpfs`, `/proc`) answer as a process
/// in the container sees them, whichever backend serves and from the first command: the
/// archive API sees the layer beneath them, so it never answers there. A read-only container
/// with a tmpfs `/tmp` lists, reads and removes its files; where nothing in the container can
/// serve (read-only scratch, no direct path), the message says so instead of a wrong answer.
/// The direct path leaves `/proc` to the agent: kallsyms shows the container's zeros.
#[test]
fn mount_points_answer_as_in_the_container_on_every_path() {
    let Some(mut sb) = Sandbox::new("agmnt") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let ro = sb.run("ro", BUSYBOX, &["--read-only", "--tmpfs", "/tmp"]);
    let dev = sb.exec(&c, &["ls", "/dev"]) + "\n";
    let ways: [(&str, &[&str]); 3] = [("1", &[]), ("0", &[]), ("0", &["--agent", "always"])];
    for (direct, opts) in ways {
        let sh = TestShell::new().env("DOCKERBOX_DIRECT", direct).opts(opts);
        let how = format!("DOCKERBOX_DIRECT={direct} {opts:?}");
        let r = sh.c(&format!("ls /containers/{c}/dev; ls /containers/{c}/dev"));
        assert_eq!(r.ok(), format!("{dev}{dev}"), "{how}");
        let r = sh.c(&format!("cat /containers/{c}/dev/zero | head -c 4"));
        assert_eq!(
            (r.stdout.as_slice(), r.stderr.as_str()),
            (&[0u8; 4][..], ""),
            "{how}"
        );
        let r = sh.c(&format!("cat /containers/{c}/proc/kallsyms | head -1"));
        assert!(
            r.ok().starts_with("0000000000000000 "),
            "{how}: {}",
            r.out()
        );

        sb.exec(&ro, &["sh", "-c", "echo hi > /tmp/f"]);
        let r = sh.c(&format!(
            "ls /containers/{ro}/tmp; cat /containers/{ro}/tmp/f; rm /containers/{ro}/tmp/f; \
             ls -A /containers/{ro}/tmp"
        ));
        assert_eq!(
            (r.out().as_str(), r.stderr.as_str()),
            ("f\nhi\n", ""),
            "{how}"
        );
        assert_eq!(sb.exec(&ro, &["ls", "-A", "/tmp"]), "", "{how}");
        assert!(!sb.exec(&ro, &["ls", "-a", "/dev"]).contains("dbx-agent"));
    }
    let s = sb.run("ros", SCRATCH, &["--read-only", "--tmpfs", "/tmp"]);
    let r = TestShell::new()
        .env("DOCKERBOX_DIRECT", "0")
        .c(&format!("ls /containers/{s}/tmp"));
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(&format!(
            "dockerbox: ls: /containers/{s}/tmp: a mount point in the container, which the \
             archive API cannot see, and the agent cannot start ("
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn a_paused_container_is_read_through_the_archive() {
    let Some(mut sb) = Sandbox::new("agpause") else {
        return;
    };
    let c = sb.run("p", BUSYBOX, &[]);
    docker(&["pause", &c]);
    let r = agent().c(&format!("cat /containers/{c}/etc/os-release"));
    assert_eq!(r.ok(), "NAME=\"BusyBox\"\nID=busybox\n");
    assert!(r.stderr.contains("(container is paused)"), "{}", r.stderr);
    docker(&["unpause", &c]);
}

#[test]
fn the_agent_runs_as_the_containers_user() {
    let Some(mut sb) = Sandbox::new("aguser") else {
        return;
    };
    let c = sb.run("u", BUSYBOX, &["--user", "1000:1000"]);
    docker(&[
        "exec",
        "-u",
        "0",
        &c,
        "sh",
        "-c",
        "mkdir /secret && echo s > /secret/f && chmod 700 /secret",
    ]);
    let r = agent().c(&format!(
        "cat /containers/{c}/etc/os-release; cat /containers/{c}/secret/f"
    ));
    assert!(r.stderr.contains("served by the agent"), "{}", r.stderr);
    assert_eq!(r.out(), "NAME=\"BusyBox\"\nID=busybox\n");
    assert!(
        r.stderr.contains(&format!(
            "dockerbox: cat: /containers/{c}/secret/f: Permission denied"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(r.status, 1);
    assert_eq!(added_files(&c), Vec::<String>::new());
    // A user given by name resolves through the container's own passwd.
    let n = sb.run("named", BUSYBOX, &["--user", "user"]);
    let r = agent().c(&format!("ls -d /containers/{n}/home/user"));
    assert!(r.stderr.contains("served by the agent"), "{}", r.stderr);
}

#[test]
fn a_noexec_tmpfs_is_skipped() {
    let Some(mut sb) = Sandbox::new("agnoexec") else {
        return;
    };
    let c = sb.run("t", BUSYBOX, &["--tmpfs", "/tmp:noexec"]);
    let r = agent().c(&format!("ls /containers/{c}/etc"));
    assert!(r.ok().contains("passwd"));
    assert!(
        r.stderr
            .contains("served by the agent (started from /var/tmp)"),
        "{}",
        r.stderr
    );
    assert_eq!(added_files(&c), Vec::<String>::new());
}

#[test]
fn a_restarted_container_gets_a_new_agent() {
    let Some(mut sb) = Sandbox::new("agrestart") else {
        return;
    };
    let c = sb.run("r", BUSYBOX, &[]);
    let script = format!("cat /containers/{c}/etc/os-release\ndocker restart -t 0 {c}\ncat /containers/{c}/etc/os-release\n");
    let r = agent().stdin(script.as_bytes());
    assert_eq!(
        r.ok(),
        format!("NAME=\"BusyBox\"\nID=busybox\n{c}\nNAME=\"BusyBox\"\nID=busybox\n")
    );
    assert_eq!(
        r.stderr.matches("served by the agent").count(),
        2,
        "{}",
        r.stderr
    );
}

#[test]
fn an_agent_killed_from_outside_is_replaced() {
    let Some(mut sb) = Sandbox::new("agkill") else {
        return;
    };
    let c = sb.run("k", BUSYBOX, &[]);
    let kill = format!("sh -c 'docker top {c} -eo pid,comm | awk \"/dbx-agent/ {{print \\$1}}\" | xargs -r kill -9'");
    let script = format!("ls /containers/{c}/etc\n{kill}\nls /containers/{c}/etc\n");
    let r = agent().stdin(script.as_bytes());
    let out = r.ok();
    assert_eq!(out.matches("passwd\n").count(), 2, "{out}\n{}", r.stderr);
    assert_eq!(added_files(&c), Vec::<String>::new());
}

#[test]
fn hostile_names_survive_the_agent() {
    let Some(mut sb) = Sandbox::new("aghostile") else {
        return;
    };
    // A tmpfs allows 255-byte names (this engine's overlay stops at 251).
    let c = sb.run("h", BUSYBOX, &["--tmpfs", "/data"]);
    let long = "n".repeat(255);
    let names = ["new\nline", "-rf", "$(touch x)", "sp ace", long.as_str()];
    // Each name arrives as an argument: no shell ever sees it as code.
    let script = "cd /data && for n in \"$@\"; do printf %s \"$n\" > ./\"$n\"; done";
    let mut args = vec!["exec", c.as_str(), "sh", "-c", script, "sh"];
    args.extend(names.iter().copied());
    docker(&args);
    docker(&[
        "exec",
        &c,
        "sh",
        "-c",
        "printf x > \"/data/$(printf 'bad\\377byte')\"",
    ]);
    let sh = agent();
    let r = sh.c(&format!("ls /containers/{c}/data"));
    let mut sorted: Vec<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
    sorted.push(b"bad\xffbyte");
    sorted.sort();
    let want: Vec<u8> = sorted
        .iter()
        .flat_map(|n| n.iter().copied().chain([b'\n']))
        .collect();
    assert_eq!(r.stdout, want, "{}", String::from_utf8_lossy(&r.stdout));
    for n in names {
        let r = sh.c(&format!("cat '/containers/{c}/data/{n}'"));
        assert_eq!(r.ok(), n, "read back {n:?}");
    }
    // A name that is not UTF-8, typed with $'...' or given as raw bytes.
    assert_eq!(
        sh.c(&format!("cat /containers/{c}/data/$'bad\\377byte'"))
            .ok(),
        "x"
    );
    let mut raw = format!("cat /containers/{c}/data/bad").into_bytes();
    raw.extend_from_slice(b"\xffbyte");
    let raw = std::ffi::OsString::from_vec(raw);
    assert_eq!(sh.args(&[std::ffi::OsStr::new("-c"), &raw]).ok(), "x");
    assert!(Command::new("docker")
        .args(["exec", &c, "test", "-e", "x"])
        .status()
        .is_ok_and(|s| !s.success()));
    assert!(!std::path::Path::new("x").exists());
}

#[test]
fn big_files_stream_through_the_agent_in_flat_memory() {
    let Some(mut sb) = Sandbox::new("agbig") else {
        return;
    };
    let c = sb.run("b", BUSYBOX, &[]);
    sb.exec(
        &c,
        &[
            "sh",
            "-c",
            "dd if=/dev/urandom of=/tmp/big bs=1048576 count=200 2>/dev/null",
        ],
    );
    let want = sb.exec(&c, &["sha256sum", "/tmp/big"]);
    let sh = agent();
    let rss = sh.home.path().join("rss");
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss)
        .arg(TestShell::bin())
        .args([
            "--agent",
            "always",
            "-c",
            &format!("cat /containers/{c}/tmp/big"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        Some(sha256(&out.stdout).as_str()),
        want.split_whitespace().next()
    );
    let kib: u64 = std::fs::read_to_string(&rss)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    // The output was collected by this test, not by dockerbox: its own peak must stay small.
    assert!(
        kib < 64 * 1024,
        "peak RSS {kib} KiB while streaming 200 MiB"
    );
}

#[test]
fn big_files_the_engine_cannot_see_or_the_user_cannot_read_stay_with_the_agent() {
    let Some(mut sb) = Sandbox::new("agbig2") else {
        return;
    };
    let c = sb.run("t", BUSYBOX, &["--tmpfs", "/data", "--user", "1000:1000"]);
    docker(&["exec", "-u", "0", &c, "sh", "-c", "dd if=/dev/urandom of=/data/big bs=1048576 count=40 2>/dev/null \
        && chmod 644 /data/big && dd if=/dev/zero of=/tmp/secret bs=1048576 count=40 2>/dev/null && chmod 600 /tmp/secret"]);
    let want = docker(&["exec", &c, "sha256sum", "/data/big"]);
    let sh = agent();
    let r = sh.c(&format!("cat /containers/{c}/data/big"));
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        !r.stderr.contains("streamed by the archive API"),
        "a tmpfs file is invisible to the archive API: {}",
        r.stderr
    );
    assert_eq!(
        Some(sha256(&r.stdout).as_str()),
        want.split_whitespace().next()
    );
    let r = sh.c(&format!("cat /containers/{c}/tmp/secret"));
    assert_eq!(r.stdout.len(), 0);
    assert!(
        r.stderr.contains(&format!(
            "dockerbox: cat: /containers/{c}/tmp/secret: Permission denied"
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn big_files_visible_to_the_engine_take_the_cheaper_stream() {
    let Some(mut sb) = Sandbox::new("agbig3") else {
        return;
    };
    let c = sb.run("b", BUSYBOX, &[]);
    sb.exec(
        &c,
        &[
            "sh",
            "-c",
            "dd if=/dev/urandom of=/tmp/big bs=1048576 count=40 2>/dev/null",
        ],
    );
    let r = agent().c(&format!("cat /containers/{c}/tmp/big"));
    assert_eq!(r.stdout.len(), 40 << 20);
    assert!(
        r.stderr
            .contains("/tmp/big: big file, streamed by the archive API"),
        "{}",
        r.stderr
    );
}

/// File data goes packed between agents and dockerbox where it shrinks, and as it is where it
/// does not (random bytes); either way, and with packing refused as an old agent would
/// (`DOCKERBOX_PACK=0`; `1` packs on this machine's engine too, where it is off by default),
/// every byte arrives: container to container, container to host, host
/// to container, small files and big ones (a big compressible file is read packed by the agent
/// instead of the engine's tar stream).
#[test]
fn file_data_packs_on_the_wire_and_arrives_whole() {
    let Some(mut sb) = Sandbox::new("agpack") else {
        return;
    };
    let a = sb.run("a", BUSYBOX, &[]);
    let b = sb.run("b", BUSYBOX, &[]);
    sb.exec(
        &a,
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 3000 ]; do echo \"2026-12-01 INFO request $i served in $((i % 97)) ms\"; \
             i=$((i + 1)); done > /tmp/chunk && : > /tmp/text && \
             while [ $(stat -c %s /tmp/text) -lt 36000000 ]; do cat /tmp/chunk >> /tmp/text; done && \
             head -c 700000 /tmp/text > /tmp/small && \
             head -c 3000000 /dev/urandom > /tmp/rand && cat /tmp/rand /tmp/small > /tmp/mixed",
        ],
    );
    let sums = |c: &str, dir: &str| {
        sb.exec(
            c,
            &[
                "sh",
                "-c",
                &format!("cd {dir} && md5sum text small rand mixed"),
            ],
        )
    };
    let want = sums(&a, "/tmp");
    let host = tempfile::tempdir().unwrap();
    for pack in ["1", "0"] {
        let sh = agent_shell()
            .env("DOCKERBOX_PACK", pack)
            .opts(&["--agent", "always", "-v"]);
        let dir = format!("/p{pack}");
        sb.exec(&b, &["mkdir", &dir]);
        let r = sh.c(&format!(
            "cp /containers/{a}/tmp/text /containers/{a}/tmp/small /containers/{a}/tmp/rand \
             /containers/{a}/tmp/mixed /containers/{b}{dir}/"
        ));
        r.ok();
        assert_eq!(
            r.stderr.contains("/tmp/text: packs to"),
            pack == "1",
            "the big text file is read packed only where the agent packs: {}",
            r.stderr
        );
        assert_eq!(
            sums(&b, &dir),
            want,
            "container to container, packing {pack}"
        );
        // Out to the host (unpacked here) and back in (packed here).
        let out = host.path().join(pack);
        std::fs::create_dir(&out).unwrap();
        sh.c(&format!(
            "cp /containers/{b}{dir}/small /containers/{b}{dir}/rand {}/",
            out.display()
        ))
        .ok();
        let small = std::fs::read(out.join("small")).unwrap();
        let rand = std::fs::read(out.join("rand")).unwrap();
        assert_eq!(small.len(), 700000);
        assert_eq!(rand.len(), 3000000);
        sh.c(&format!(
            "cp {o}/small {o}/rand /containers/{b}/tmp/ && cat /containers/{b}/tmp/small > {o}/again",
            o = out.display()
        ))
        .ok();
        assert_eq!(std::fs::read(out.join("again")).unwrap(), small);
        let back = sb.exec(&b, &["sh", "-c", "cd /tmp && md5sum small rand"]);
        let here = sb.exec(&b, &["sh", "-c", &format!("cd {dir} && md5sum small rand")]);
        assert_eq!(back, here, "host to container, packing {pack}");
    }
}

/// A shell that exercises the agent: the direct path through /proc/PID/root (which would serve
/// these containers' files here, where the engine is local) is turned off.
fn agent_shell() -> TestShell {
    TestShell::new().env("DOCKERBOX_DIRECT", "0")
}

/// Agent files of starts that failed after their upload (here every place is unreachable to
/// the container's user, so each exec fails) are journaled before they are made: a later
/// session that can start an agent there removes them, and `docker diff` shows nothing added.
#[test]
fn agent_files_of_failed_starts_are_swept_later() {
    let Some(mut sb) = Sandbox::new("agleft") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &["--user", "1000"]);
    // Where busybox lets the agent go (it has no /run).
    let places = ["/tmp", "/var/tmp", "/"];
    let chmod = |mode: &str| {
        let mut args = vec!["exec", "-u", "0", &c, "chmod", mode];
        args.extend_from_slice(&places);
        docker(&args);
    };
    chmod("700");
    let sh = agent_shell().opts(&["--agent", "always", "-v"]);
    let r = sh.c(&format!("ls /containers/{c}/etc"));
    assert!(
        r.stderr.contains("served by the archive API"),
        "{}",
        r.stderr
    );
    let left = || {
        docker(&["exec", "-u", "0", &c, "ls", "-a", "/tmp", "/var/tmp", "/"])
            .lines()
            .filter(|l| l.starts_with(".dbx-agent"))
            .count()
    };
    assert!(left() > 0, "the failed starts left their files");
    // Sticky and open: the next agent (the same user, who owns the files) may remove them.
    chmod("1777");
    let r = sh.c(&format!("ls /containers/{c}/etc"));
    assert!(r.stderr.contains("served by the agent"), "{}", r.stderr);
    assert_eq!(left(), 0, "the next session removed them");
    assert_eq!(added_files(&c), Vec::<String>::new());
}
