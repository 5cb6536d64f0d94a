//! `ls` on /containers and inside running, stopped and scratch containers.

use crate::util::{docker, host_tree, Sandbox, TestShell, BUSYBOX, DEBIAN, SCRATCH};

#[test]
fn containers_are_listed_running_and_stopped() {
    let Some(mut sb) = Sandbox::new("lsc") else {
        return;
    };
    let run = sb.run("run", BUSYBOX, &[]);
    let stopped = sb.create("stopped", BUSYBOX);
    let scratch = sb.run("scr", SCRATCH, &[]);
    let exited = sb.run("exited", BUSYBOX, &[]);
    docker(&["stop", "-t", "0", &exited]);
    let sh = TestShell::new();

    let lines = sh.c("ls /containers").lines();
    for name in [&run, &stopped, &scratch, &exited] {
        assert!(lines.contains(name), "{name} in {lines:?}");
    }

    let long = sh.c("ls -l /containers").ok();
    let row = |name: &str| {
        long.lines()
            .find(|l| l.ends_with(&format!("  {name}")))
            .unwrap_or_else(|| panic!("{name} in\n{long}"))
            .to_string()
    };
    let id = docker(&["inspect", "-f", "{{.Id}}", &run]);
    let r = row(&run);
    assert!(r.starts_with("running "), "{r}");
    // The image column is as wide as the longest image of any container (other tests' too).
    let after_image = r
        .split_once(&format!("  {BUSYBOX}  "))
        .map(|(_, rest)| rest.trim_start());
    assert!(
        after_image.is_some_and(|rest| rest.starts_with(&format!("{}  ", &id[..12]))),
        "{r}"
    );
    assert!(row(&stopped).starts_with("created "));
    assert!(row(&exited).starts_with("exited "));
    assert!(row(&scratch).contains(SCRATCH));
}

#[test]
fn container_states_have_colours() {
    let Some(mut sb) = Sandbox::new("lscol") else {
        return;
    };
    let run = sb.run("run", BUSYBOX, &[]);
    let stopped = sb.create("stopped", BUSYBOX);
    let paused = sb.run("paused", BUSYBOX, &[]);
    docker(&["pause", &paused]);
    let sh = TestShell::new();
    let out = sh.args(&["--color", "always", "-c", "ls /containers"]).ok();
    assert!(out.contains(&format!("\x1b[32m{run}\x1b[0m")), "{out:?}");
    assert!(
        out.contains(&format!("\x1b[31m{stopped}\x1b[0m")),
        "{out:?}"
    );
    assert!(out.contains(&format!("\x1b[33m{paused}\x1b[0m")), "{out:?}");
    // Piped and without --color: no escapes at all.
    assert!(!sh.c("ls /containers").ok().contains('\x1b'));
    // NO_COLOR has no say over an explicit --color always.
    let out = TestShell::new()
        .env("NO_COLOR", "1")
        .args(&["--color", "always", "-c", "ls /containers"])
        .ok();
    assert!(out.contains("\x1b[32m"));
}

#[test]
fn files_inside_running_stopped_and_scratch_containers() {
    let Some(mut sb) = Sandbox::new("lsin") else {
        return;
    };
    let run = sb.run("run", BUSYBOX, &[]);
    let stopped = sb.create("stopped", BUSYBOX);
    let scratch = sb.run("scr", SCRATCH, &[]);
    let sh = TestShell::new();

    for c in [&run, &stopped] {
        let lines = sh.c(&format!("ls /containers/{c}/etc")).lines();
        for f in ["group", "os-release", "passwd"] {
            assert!(lines.contains(&f.to_string()), "{c}: {f} in {lines:?}");
        }
        let root = sh.c(&format!("ls /containers/{c}")).lines();
        assert!(
            root.contains(&"linuxrc".to_string()) && root.contains(&"bin".to_string()),
            "{root:?}"
        );
    }
    let lines = sh.c(&format!("ls /containers/{scratch}/")).lines();
    assert!(lines.contains(&"pause".to_string()), "{lines:?}");
    // Stopped containers are read without being started.
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.StartedAt}}", &stopped]),
        "0001-01-01T00:00:00Z"
    );
}

#[test]
fn long_listing_shows_modes_owners_sizes_and_links() {
    let Some(mut sb) = Sandbox::new("lsl") else {
        return;
    };
    let run = sb.run("run", BUSYBOX, &[]);
    sb.exec(&run, &["sh", "-c", "mkdir /t && echo hello > /t/f && chown 1000:50 /t/f && chmod 640 /t/f \
        && touch /t/n && chown 4242:4343 /t/n && ln -s /etc/passwd /t/l && mkdir /t/d /t/d/sub && chmod 2751 /t/d \
        && touch -d '2020-01-02 03:04' /t/f"]);
    let stopped = sb.create("stopped", BUSYBOX);
    let sh = TestShell::new();

    let out = sh.c(&format!("ls -l /containers/{run}/t")).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "total 8", "{out}");
    // A running container's directory has its real size from the first command on (issue 11:
    // never the archive API's guess of 0).
    assert!(
        lines[1].starts_with("drwxr-s--x 3 root root  4096 ") && lines[1].ends_with(" d"),
        "{out}"
    );
    assert_eq!(
        lines[2], "-rw-r----- 1 user staff    6 Jan  2  2020 f",
        "{out}"
    );
    assert!(
        lines[3].starts_with("lrwxrwxrwx 1 root root    11 ")
            && lines[3].ends_with(" l -> /etc/passwd"),
        "{out}"
    );
    assert!(
        lines[4].starts_with("-rw-r--r-- 1 4242 4343     0 "),
        "{out}"
    );

    // One file, by its path, and the human-readable size of a big one.
    let out = sh.c(&format!("ls -l /containers/{run}/t/f")).ok();
    assert_eq!(
        out,
        format!("-rw-r----- 1 user staff 6 Jan  2  2020 /containers/{run}/t/f\n")
    );
    let out = sh
        .c(&format!("ls -lh /containers/{stopped}/bin/busybox"))
        .ok();
    assert!(
        out.starts_with("-rwxr-xr-x 1 root root ") && out.contains("M "),
        "{out}"
    );
    let out = sh.c(&format!("ls -l /containers/{stopped}/bin/sh")).ok();
    assert!(
        out.ends_with(&format!("/containers/{stopped}/bin/sh -> /bin/busybox\n")),
        "{out}"
    );
}

#[test]
fn all_almost_all_one_per_line_dirs_and_recursion() {
    let Some(mut sb) = Sandbox::new("lsopts") else {
        return;
    };
    let c = sb.create("c", BUSYBOX);
    let tree = host_tree(&[
        (".hidden", b"h", 0o644),
        ("a", b"a", 0o644),
        ("sub/b", b"b", 0o644),
    ]);
    sb.cp_in(tree.path(), &c, "/t");
    let sh = TestShell::new();
    let base = format!("/containers/{c}/t");
    assert_eq!(sh.c(&format!("ls {base}")).ok(), "a\nsub\n");
    assert_eq!(sh.c(&format!("ls -A {base}")).ok(), ".hidden\na\nsub\n");
    assert_eq!(
        sh.c(&format!("ls -a {base}")).ok(),
        ".\n..\n.hidden\na\nsub\n"
    );
    assert_eq!(sh.c(&format!("ls -d {base}")).ok(), format!("{base}\n"));
    assert_eq!(
        sh.c(&format!("cd {base}; ls -R")).ok(),
        ".:\na\nsub\n\n./sub:\nb\n"
    );
    assert_eq!(
        sh.c(&format!("ls {base}/sub {base}/a")).ok(),
        format!("{base}/a\n\n{base}/sub:\nb\n")
    );
    assert_eq!(sh.c(&format!("ls -1 {base}/sub")).ok(), "b\n");
}

#[test]
fn colours_inside_containers_follow_ls_colors() {
    let Some(mut sb) = Sandbox::new("lsdir") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    sb.exec(&c, &["sh", "-c", "mkdir /t /t/dir && touch /t/plain /t/x.tar && chmod 755 /t/plain && ln -s dir /t/link && touch /t/file"]);
    let sh = TestShell::new();
    let out = sh
        .args(&["--color=always", "-c", &format!("ls /containers/{c}/t")])
        .ok();
    assert!(out.contains("\x1b[01;34mdir\x1b[0m"), "{out:?}");
    assert!(out.contains("\x1b[01;36mlink\x1b[0m"), "{out:?}");
    assert!(out.contains("\x1b[01;32mplain\x1b[0m"), "{out:?}");
    assert!(out.contains("\nfile\n"), "{out:?}");
    let sh = TestShell::new().env("LS_COLORS", "di=01;33:*.tar=01;31");
    let out = sh
        .args(&["--color=always", "-c", &format!("ls /containers/{c}/t")])
        .ok();
    assert!(
        out.contains("\x1b[01;33mdir\x1b[0m") && out.contains("\x1b[01;31mx.tar\x1b[0m"),
        "{out:?}"
    );
}

#[test]
fn debian_listing_matches_the_containers_own_ls() {
    let Some(mut sb) = Sandbox::new("lsdeb") else {
        return;
    };
    let c = sb.run("deb", DEBIAN, &[]);
    let sh = TestShell::new();
    for dir in ["/etc", "/usr/bin", "/"] {
        let theirs = docker(&["exec", "-e", "LC_ALL=C", &c, "ls", "-A", dir]);
        let ours = sh.c(&format!("ls -A /containers/{c}{dir}")).ok();
        assert_eq!(ours.trim_end(), theirs, "ls -A {dir}");
    }
    // Owners by name from the container's own /etc/passwd and /etc/group.
    let theirs = docker(&["exec", "-e", "LC_ALL=C", &c, "ls", "-ln", "/etc/passwd"]);
    let ours = sh.c(&format!("ls -l /containers/{c}/etc/passwd")).ok();
    assert_eq!(
        ours.split_whitespace().next(),
        theirs.split_whitespace().next(),
        "mode"
    );
    assert!(ours.contains(" root root "), "{ours}");
    // A symlinked directory is followed: /lib -> usr/lib in Debian bookworm.
    let lib = sh.c(&format!("ls /containers/{c}/lib/")).ok();
    let usrlib = sh.c(&format!("ls /containers/{c}/usr/lib")).ok();
    assert_eq!(lib, usrlib);
}

#[test]
fn id_prefixes_resolve_like_the_docker_cli() {
    let Some(mut sb) = Sandbox::new("lsid") else {
        return;
    };
    let c = sb.create("c", BUSYBOX);
    let id = docker(&["inspect", "-f", "{{.Id}}", &c]);
    let sh = TestShell::new();
    let out = sh.c(&format!("ls /containers/{}/etc", &id[..12])).ok();
    assert!(out.contains("passwd"), "{out}");
}

#[test]
fn missing_things_are_reported_like_coreutils() {
    let Some(mut sb) = Sandbox::new("lserr") else {
        return;
    };
    let c = sb.create("c", BUSYBOX);
    let sh = TestShell::new();
    let r = sh.c("ls /containers/dbx-ghost-container");
    assert_eq!(
        r.stderr,
        "dockerbox: ls: /containers/dbx-ghost-container: No such container\n"
    );
    assert_eq!(r.status, 2);
    let r = sh.c(&format!("ls /containers/{c}/nope"));
    assert_eq!(
        r.stderr,
        format!("dockerbox: ls: /containers/{c}/nope: No such file or directory\n")
    );
    assert_eq!(r.status, 2);
    // The other operands are still listed.
    let r = sh.c(&format!("ls /containers/{c}/nope /containers/{c}/home"));
    assert_eq!(r.out(), format!("/containers/{c}/home:\nuser\n"));
    assert_eq!(r.status, 2);
}

#[test]
fn symlinks_stay_inside_their_container() {
    let Some(mut sb) = Sandbox::new("lslink") else {
        return;
    };
    let run = sb.run("run", BUSYBOX, &[]);
    sb.exec(&run, &["sh", "-c", "ln -s / /tmp/root && ln -s ../../../../../.. /tmp/up && ln -s /etc/os-release /tmp/osr && ln -s loop /tmp/loop"]);
    // The same links in a stopped container, copied in from a host tree.
    let stopped = sb.create("stopped", BUSYBOX);
    let tree = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/", tree.path().join("root")).unwrap();
    std::os::unix::fs::symlink("../../../../../..", tree.path().join("up")).unwrap();
    std::os::unix::fs::symlink("/etc/os-release", tree.path().join("osr")).unwrap();
    sb.cp_in(tree.path(), &stopped, "/t");
    let sh = TestShell::new();
    let busybox_release = "NAME=\"BusyBox\"\nID=busybox\n";
    for (c, dir) in [(&run, "tmp"), (&stopped, "t")] {
        let base = format!("/containers/{c}/{dir}");
        assert_eq!(sh.c(&format!("cat {base}/osr")).ok(), busybox_release);
        assert_eq!(
            sh.c(&format!("cat {base}/up/etc/os-release")).ok(),
            busybox_release
        );
        let root = sh.c(&format!("ls {base}/root/")).ok();
        assert!(root.contains("linuxrc\n"), "{root}");
        assert_eq!(
            sh.c(&format!("cd {base}/root; pwd")).ok(),
            format!("{base}/root\n")
        );
        // As GNU ls: `-l` shows a link to a directory itself; a trailing slash lists the target.
        let link = sh.c(&format!("ls -l {base}/root")).ok();
        assert!(link.starts_with('l') && link.ends_with(" -> /\n"), "{link}");
        let target = sh.c(&format!("ls -l {base}/root/")).ok();
        assert!(
            target.starts_with("total ") && target.contains(" bin\n"),
            "{target}"
        );
    }
    let r = sh.c(&format!("cat /containers/{run}/tmp/loop"));
    assert_eq!(
        r.stderr,
        format!("dockerbox: cat: /containers/{run}/tmp/loop: Too many levels of symbolic links\n")
    );
}

#[test]
fn the_table_follows_the_engine() {
    let Some(mut sb) = Sandbox::new("lsev") else {
        return;
    };
    let first = sb.create("first", BUSYBOX);
    let later = format!("{first}-later");
    let sh = TestShell::new();
    let script = format!(
        "ls /containers\n\
         docker create --network none --label dockerbox.test=1 --name {later} {BUSYBOX} true > /dev/null\n\
         ls /containers\n\
         docker rm {later} > /dev/null\n\
         ls /containers\n"
    );
    // Run the host docker through sh so the redirect works before the shell language lands.
    let script = script
        .lines()
        .map(|l| {
            if l.starts_with("docker") {
                format!("sh -c '{l}'")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let r = sh.stdin(script.as_bytes());
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", &later])
        .output();
    let out = r.ok();
    let sections: Vec<&str> = out.split(&format!("{first}\n")).collect();
    assert_eq!(sections.len(), 4, "three listings:\n{out}");
    assert!(
        !sections[1].contains(&later) && sections[2].starts_with(&format!("{later}\n")),
        "{out}"
    );
    assert!(!sections[3].contains(&later), "{out}");
}

#[test]
fn hostile_names_are_listed_exactly() {
    let Some(mut sb) = Sandbox::new("lshost") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    // 250, not 255: this engine's storage (fuse-overlayfs) has NAME_MAX 251.
    let long = "n".repeat(250);
    sb.exec(&c, &["sh", "-c", &format!(
        "mkdir /h && cd /h && touch 'new\nline' -- '-rf' '$(touch x)' 'sp ace' \"$(printf 'bad\\377byte')\" {long}"
    )]);
    let sh = TestShell::new();
    let r = sh.c(&format!("ls /containers/{c}/h"));
    let want: Vec<&[u8]> = vec![
        b"$(touch x)",
        b"-rf",
        b"bad\xffbyte",
        b"new\nline",
        long.as_bytes(),
        b"sp ace",
    ];
    let mut expected = Vec::new();
    for w in want {
        expected.extend_from_slice(w);
        expected.push(b'\n');
    }
    assert_eq!(r.stdout, expected, "{}", String::from_utf8_lossy(&r.stdout));
    // Nothing was run by any shell.
    assert_eq!(sh.c(&format!("ls /containers/{c}/h/x")).status, 2);
    assert!(!std::path::Path::new("x").exists());
}

/// Issue 11: one answer whatever served it. The same directory of a running container listed
/// through the direct path, through the agent, and by a first command in auto mode (where the
/// archive API would have guessed directory sizes and link counts) is byte-identical.
#[test]
fn a_running_containers_listing_is_the_same_whichever_backend_serves() {
    let Some(mut sb) = Sandbox::new("lssame") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    sb.exec(
        &c,
        &[
            "sh",
            "-c",
            "mkdir -p /t/sub/deeper /t/sg && chmod 2775 /t/sg \
        && echo data > /t/f && ln /t/f /t/hard && ln -s f /t/rel && ln -s /etc/passwd /t/abs \
        && ln -s nowhere /t/dangling && mkfifo /t/fifo && chown 1000:50 /t/f \
        && touch -d '2020-01-02 03:04' /t/sub",
        ],
    );
    let direct = TestShell::new();
    let agent = TestShell::new()
        .env("DOCKERBOX_DIRECT", "0")
        .opts(&["--agent", "always"]);
    let auto = TestShell::new().env("DOCKERBOX_DIRECT", "0");
    for cmd in ["ls -l", "ls -la", "ls -ld", "ls -lR"] {
        let line = format!("{cmd} /containers/{c}/t");
        let want = direct.c(&line).ok();
        assert!(want.contains(" 4096 "), "{line}: {want}");
        assert_eq!(agent.c(&line).ok(), want, "{line}: agent vs direct path");
        // A fresh process each time: its first command on the container.
        assert_eq!(
            auto.c(&line).ok(),
            want,
            "{line}: first command in auto mode"
        );
    }
}
