//! Writes that must not lose or damage data (issue 12): an overwritten file stays the same file
//! (inode, owner, mode, links, readers and writers holding it open), a symlink at the destination
//! is written through, a directory is never copied into itself through a symlink, a failed
//! write into a stopped container says what it left, and no temporary stays after a fault.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{docker, Sandbox, TestShell, BUSYBOX};

/// What a user checks of a file: inode, owner, group, mode, link count.
const STAT: &str = "%i %u %g %a %h";

/// Waits (generously) until `cond` holds.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The shell for each way into a running container: through the agent, and directly.
fn shells() -> [(&'static str, TestShell); 2] {
    [
        (
            "agent",
            TestShell::new()
                .env("DOCKERBOX_DIRECT", "0")
                .opts(&["--agent", "always"]),
        ),
        ("direct", TestShell::new()),
    ]
}

/// `docker diff` of a container, sorted: what was added or changed in its filesystem.
fn diff(c: &str) -> String {
    let mut lines: Vec<String> = docker(&["diff", c]).lines().map(str::to_string).collect();
    lines.sort();
    lines.join("\n")
}

#[test]
fn overwriting_a_file_in_a_container_keeps_it() {
    let Some(mut sb) = Sandbox::new("dataover") else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    let new = src.path().join("new.conf");
    std::fs::write(&new, b"new config\n").unwrap();
    for (how, sh) in shells() {
        let c = sb.run(how, BUSYBOX, &[]);
        // The app's own config, readable only by the app's user, with a second name.
        sb.exec(
            &c,
            &[
                "sh",
                "-c",
                "echo old > /tmp/app.conf && chown 1000:1000 /tmp/app.conf && chmod 600 \
                 /tmp/app.conf && ln /tmp/app.conf /tmp/app.link",
            ],
        );
        let before = sb.exec(&c, &["stat", "-c", STAT, "/tmp/app.conf"]);
        let r = sh.c(&format!(
            "cp {} /containers/{c}/tmp/app.conf && echo redirected > /containers/{c}/tmp/app.link",
            new.display()
        ));
        r.ok();
        assert_eq!(
            sb.exec(&c, &["stat", "-c", STAT, "/tmp/app.conf"]),
            before,
            "{how}: same inode, owner, group, mode and links"
        );
        let as_app = docker(&["exec", "-u", "1000", &c, "cat", "/tmp/app.conf"]);
        assert_eq!(
            as_app, "redirected",
            "{how}: the app still reads its config"
        );
        let r = sh.c(&format!(
            "cp {} /containers/{c}/tmp/app.conf",
            new.display()
        ));
        r.ok();
        assert_eq!(sb.exec(&c, &["cat", "/tmp/app.link"]), "new config");
        assert_eq!(
            diff(&c),
            "A /tmp/app.conf\nA /tmp/app.link\nC /tmp",
            "{how}"
        );
    }
}

#[test]
fn overwriting_a_host_file_keeps_it() {
    let t = tempfile::tempdir().unwrap();
    let (f, link, src) = (
        t.path().join("f"),
        t.path().join("f2"),
        t.path().join("src"),
    );
    std::fs::write(&f, b"old\n").unwrap();
    std::fs::hard_link(&f, &link).unwrap();
    std::fs::write(&src, b"new\n").unwrap();
    let st = |p: &Path| {
        let o = Command::new("stat")
            .args(["-c", STAT])
            .arg(p)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    Command::new("chmod").arg("640").arg(&f).status().unwrap();
    let before = st(&f);
    let sh = TestShell::new();
    sh.c(&format!("cp {} {}", src.display(), f.display())).ok();
    assert_eq!(st(&f), before);
    assert_eq!(std::fs::read(&link).unwrap(), b"new\n");
}

#[test]
fn appending_reaches_a_log_held_open_by_the_app() {
    let Some(mut sb) = Sandbox::new("dataappend") else {
        return;
    };
    for (how, sh) in shells() {
        let c = sb.run(how, BUSYBOX, &[]);
        // The app holds its log open for append and writes a line when told to.
        docker(&[
            "exec",
            "-d",
            &c,
            "sh",
            "-c",
            "exec 3>>/tmp/log; echo A1 >&3; while [ ! -e /tmp/go ]; do sleep 0.05; done; \
             echo A2 >&3; touch /tmp/done",
        ]);
        wait_until("the app's first line", || {
            sb.exec(&c, &["cat", "/tmp/log"]) == "A1"
        });
        let before = sb.exec(&c, &["stat", "-c", STAT, "/tmp/log"]);
        sh.c(&format!("echo M >> /containers/{c}/tmp/log")).ok();
        sb.exec(&c, &["touch", "/tmp/go"]);
        wait_until("the app's second line", || {
            sb.exec(&c, &["ls", "/tmp"]).contains("done")
        });
        assert_eq!(sb.exec(&c, &["cat", "/tmp/log"]), "A1\nM\nA2", "{how}");
        assert_eq!(sb.exec(&c, &["stat", "-c", STAT, "/tmp/log"]), before);
    }
}

#[test]
fn cp_writes_through_a_symlink_at_the_destination() {
    let Some(mut sb) = Sandbox::new("datalink") else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    let new = src.path().join("new");
    std::fs::write(&new, b"through\n").unwrap();
    // A host file a container's absolute link names: it must never be touched.
    let host_only = src.path().join("host-only");
    std::fs::write(&host_only, b"host\n").unwrap();
    for (how, sh) in shells() {
        let c = sb.run(how, BUSYBOX, &[]);
        sb.exec(
            &c,
            &[
                "sh",
                "-c",
                &format!(
                    "echo old > /tmp/tgt && chmod 604 /tmp/tgt && ln -s /tmp/tgt /tmp/abs && \
                     ln -s tgt /tmp/rel && ln -s /nowhere /tmp/dang && ln -s l2 /tmp/l1 && \
                     ln -s l1 /tmp/l2 && ln -s {} /tmp/esc",
                    host_only.display()
                ),
            ],
        );
        for link in ["abs", "rel"] {
            sh.c(&format!(
                "cp -a {} /containers/{c}/tmp/{link}",
                new.display()
            ))
            .ok();
            let want = if link == "abs" { "/tmp/tgt" } else { "tgt" };
            assert_eq!(sb.exec(&c, &["readlink", &format!("/tmp/{link}")]), want);
            assert_eq!(sb.exec(&c, &["cat", "/tmp/tgt"]), "through", "{how} {link}");
        }
        assert_eq!(
            sb.exec(&c, &["stat", "-c", "%a", "/tmp/tgt"]),
            "644",
            "-a sets the mode"
        );
        let r = sh.c(&format!("cp {} /containers/{c}/tmp/dang", new.display()));
        assert_eq!(r.status, 1);
        assert_eq!(
            r.stderr,
            format!(
                "dockerbox: cp: not writing through dangling symlink '/containers/{c}/tmp/dang'\n"
            )
        );
        let r = sh.c(&format!("cp {} /containers/{c}/tmp/l1", new.display()));
        assert_eq!(r.status, 1);
        assert_eq!(
            r.stderr,
            format!(
                "dockerbox: cp: cannot stat '/containers/{c}/tmp/l1': Too many levels of symbolic \
                 links\n"
            )
        );
        let r = sh.c(&format!("cp {} /containers/{c}/tmp/esc", new.display()));
        assert_eq!(r.status, 1, "{how}: the link means the container's root");
        assert_eq!(std::fs::read(&host_only).unwrap(), b"host\n");
        let kinds = sb.exec(
            &c,
            &["sh", "-c", "cd /tmp && ls -l abs rel dang l1 esc | cut -c1"],
        );
        assert_eq!(kinds, "l\nl\nl\nl\nl", "{how}: every link is still a link");
        assert!(sb.exec(&c, &["ls", "/"]).lines().all(|l| l != "nowhere"));
    }
}

#[test]
fn cp_onto_a_host_symlink_does_what_gnu_cp_does() {
    let sh = TestShell::new();
    let mut results = Vec::new();
    for gnu in [true, false] {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::write(r.join("src"), b"new\n").unwrap();
        std::fs::write(r.join("tgt"), b"old\n").unwrap();
        std::os::unix::fs::symlink("tgt", r.join("link")).unwrap();
        std::os::unix::fs::symlink("nowhere", r.join("dang")).unwrap();
        std::os::unix::fs::symlink("loop2", r.join("loop1")).unwrap();
        std::os::unix::fs::symlink("loop1", r.join("loop2")).unwrap();
        let mut said = Vec::new();
        for (opt, dst) in [
            ("-p", "link"),
            ("-a", "link"),
            ("-p", "dang"),
            ("-p", "loop1"),
        ] {
            let out = if gnu {
                let o = Command::new("cp")
                    .args([opt, "src", dst])
                    .current_dir(r)
                    .output()
                    .unwrap();
                let err = String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .map(|l| format!("dockerbox: {l}\n"))
                    .collect::<String>();
                (o.status.code(), err)
            } else {
                let o = sh
                    .command()
                    .args(["-c", &format!("cd {}; cp {opt} src {dst}", r.display())])
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                (
                    o.status.code(),
                    String::from_utf8_lossy(&o.stderr).into_owned(),
                )
            };
            said.push(out);
        }
        let layout = Command::new("sh")
            .args([
                "-c",
                "find . -mindepth 1 -printf '%P %y %m %l\\n' | sort; cat tgt",
            ])
            .current_dir(r)
            .output()
            .unwrap();
        results.push((said, String::from_utf8_lossy(&layout.stdout).into_owned()));
    }
    assert_eq!(
        results[1], results[0],
        "dockerbox (left) against GNU cp (right)"
    );
}

#[test]
fn a_directory_is_not_copied_into_itself_through_a_symlink() {
    // GNU cp first, on the host.
    let mut want = Vec::new();
    for gnu in [true, false] {
        let t = tempfile::tempdir().unwrap();
        let (s, alias) = (t.path().join("s"), t.path().join("alias"));
        std::fs::create_dir_all(s.join("x")).unwrap();
        std::os::unix::fs::symlink(&s, &alias).unwrap();
        let dst = format!("{}/x/", alias.display());
        let (status, err) = if gnu {
            let o = Command::new("cp")
                .arg("-r")
                .arg(&s)
                .arg(&dst)
                .output()
                .unwrap();
            (
                o.status.code(),
                format!("dockerbox: {}", String::from_utf8_lossy(&o.stderr)),
            )
        } else {
            let r = TestShell::new().c(&format!("cp -r {} {dst}", s.display()));
            (Some(r.status), r.stderr)
        };
        let err = err.replace(&t.path().display().to_string(), "T");
        let found = Command::new("find")
            .arg(".")
            .current_dir(&s)
            .output()
            .unwrap();
        let mut found: Vec<String> = String::from_utf8_lossy(&found.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        found.sort();
        want.push((status, err, found));
    }
    assert_eq!(want[1], want[0], "dockerbox (left) against GNU cp (right)");
    assert_eq!(want[0].0, Some(1));

    let Some(mut sb) = Sandbox::new("dataself") else {
        return;
    };
    // A stopped container: the archive API's listing has no inode numbers; real paths decide.
    let stopped = sb.create("stopped", BUSYBOX);
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("tmp/s/x")).unwrap();
    std::os::unix::fs::symlink("/tmp/s", t.path().join("tmp/alias")).unwrap();
    sb.cp_in(&t.path().join("tmp/."), &stopped, "/tmp/");
    let r = TestShell::new().c(&format!(
        "cp -r /containers/{stopped}/tmp/s /containers/{stopped}/tmp/alias/x/; echo $?; \
         cd /containers/{stopped}/tmp/s; ls -R"
    ));
    assert_eq!(
        r.stderr,
        format!(
            "dockerbox: cp: cannot copy a directory, '/containers/{stopped}/tmp/s', into itself, \
             '/containers/{stopped}/tmp/alias/x/s'\n"
        )
    );
    assert_eq!(r.out(), "1\n.:\nx\n\n./x:\ns\n\n./x/s:\nx\n\n./x/s/x:\n");
    for (how, sh) in shells() {
        let c = sb.run(how, BUSYBOX, &[]);
        sb.exec(
            &c,
            &["sh", "-c", "mkdir -p /tmp/s/x && ln -s /tmp/s /tmp/alias"],
        );
        let r = sh.c(&format!(
            "cp -r /containers/{c}/tmp/s /containers/{c}/tmp/alias/x/"
        ));
        assert_eq!(r.status, 1, "{how}: {}", r.stderr);
        assert_eq!(
            r.stderr,
            format!(
                "dockerbox: cp: cannot copy a directory, '/containers/{c}/tmp/s', into itself, \
                 '/containers/{c}/tmp/alias/x/s'\n"
            ),
            "{how}"
        );
        assert_eq!(
            sb.exec(&c, &["find", "/tmp/s"]),
            "/tmp/s\n/tmp/s/x\n/tmp/s/x/s\n/tmp/s/x/s/x",
            "{how}"
        );
    }
}

/// The host directory holding a container's own layer (fuse-overlayfs and overlay2 name it),
/// where a stopped container's new files can be watched without the engine.
fn upper_dir(c: &str) -> std::path::PathBuf {
    docker(&["inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", c]).into()
}

#[test]
fn a_write_cut_short_in_a_stopped_container_says_it_left_a_partial_file() {
    let Some(mut sb) = Sandbox::new("datapartial") else {
        return;
    };
    // The agent streams a tmpfs file, so the copy lives only as long as its source container.
    let a = sb.run("a", BUSYBOX, &["--tmpfs", "/data:size=700m"]);
    sb.exec(&a, &["sh", "-c", "head -c 600000000 /dev/zero > /data/f"]);
    let s = sb.create("s", BUSYBOX);
    let landed = upper_dir(&s).join("tmp/big");
    let sh = TestShell::new()
        .env("DOCKERBOX_DIRECT", "0")
        .opts(&["--agent", "always"]);
    let child = sh
        .command()
        .args([
            "-c",
            &format!("cp /containers/{a}/data/f /containers/{s}/tmp/big"),
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the upload to begin", || {
        std::fs::metadata(&landed).is_ok_and(|m| m.len() > 0)
    });
    docker(&["kill", &a]);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.ends_with(&format!(
            "dockerbox: cp: /containers/{s}/tmp/big: partial file left (the container is \
             stopped)\n"
        )),
        "{err}"
    );
    assert!(std::fs::metadata(&landed).unwrap().len() < 600_000_000);
}

/// A running container `a` with `/tree`: 40 files of 10 MB, so that copying it takes a while.
fn running_with_a_big_tree(sb: &mut Sandbox) -> String {
    let a = sb.run("a", BUSYBOX, &[]);
    sb.exec(
        &a,
        &[
            "sh",
            "-c",
            "mkdir -p /tree && cd /tree && for i in $(seq 1 40); do head -c 10000000 /dev/zero \
             > f$i; done",
        ],
    );
    a
}

#[test]
fn ctrl_c_during_cp_a_of_a_tree_leaves_nothing() {
    let Some(mut sb) = Sandbox::new("datatreeint") else {
        return;
    };
    let a = running_with_a_big_tree(&mut sb);
    for (how, sh) in shells() {
        let b = sb.run(&format!("b{how}"), BUSYBOX, &[]);
        let upper = upper_dir(&b).join("tmp");
        let child = sh
            .command()
            .args([
                "-c",
                &format!("cp -a /containers/{a}/tree /containers/{b}/tmp/"),
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The tree is being unpacked under its temporary name.
        wait_until("the tree's temporary", || {
            std::fs::read_dir(&upper).is_ok_and(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(".tree.dbx-"))
            })
        });
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_ne!(out.status.code(), Some(0), "{how}");
        assert_eq!(
            sb.exec(&b, &["ls", "-A", "/tmp"]),
            "",
            "{how}: nothing left"
        );
    }
}

/// Ctrl-C during `cp -a` of a tree into a stopped container: the archive API cannot take back
/// what it unpacked, so the message says a partial tree stays, whether the tree came as one tar
/// stream (from a container) or entry by entry (from the host).
#[test]
fn ctrl_c_during_cp_a_of_a_tree_into_a_stopped_container_says_what_stays() {
    let Some(mut sb) = Sandbox::new("datatreestop") else {
        return;
    };
    let a = running_with_a_big_tree(&mut sb);
    let sh = TestShell::new();
    let host_tree = sh.home.path().join("tree");
    std::fs::create_dir(&host_tree).unwrap();
    for i in 1..=40 {
        std::fs::File::create(host_tree.join(format!("f{i}")))
            .unwrap()
            .set_len(10_000_000)
            .unwrap();
    }
    for (how, from) in [
        ("container", format!("/containers/{a}/tree")),
        ("host", host_tree.display().to_string()),
    ] {
        let s = sb.create(&format!("s{how}"), BUSYBOX);
        let landed = upper_dir(&s).join("tmp/tree/f1");
        let child = sh
            .command()
            .args(["-c", &format!("cp -a {from} /containers/{s}/tmp/")])
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_until("the tree to begin landing", || landed.exists());
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{how}: {err}");
        assert!(
            err.contains(&format!(
                "dockerbox: cp: /containers/{s}/tmp/tree: partial tree left (the container is \
                 stopped)\n"
            )),
            "{how}: {err}"
        );
    }
}

/// Starts `dockerbox -c LINE` in the background (its stderr kept).
fn spawn(sh: &TestShell, line: &str) -> std::process::Child {
    sh.command()
        .args(["-c", line])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Whether a temporary of ours is in the directory `dir` of a container's own layer.
fn temp_in(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".big.dbx-"))
    })
}

/// Kills the agents dockerbox started in container `c`.
fn kill_agents(c: &str) {
    let top = docker(&["top", c, "-eo", "pid,comm"]);
    for line in top.lines().filter(|l| l.contains("dbx-agent")) {
        if let Some(pid) = line.split_whitespace().next() {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
    }
}

#[test]
fn temporaries_left_by_a_fault_are_removed_by_the_next_dockerbox() {
    let Some(mut sb) = Sandbox::new("datastale") else {
        return;
    };
    let a = sb.run("a", BUSYBOX, &["--tmpfs", "/data:size=1100m"]);
    // Random bytes: zeros would go packed and land before a fault could reach them.
    sb.exec(
        &a,
        &["sh", "-c", "head -c 1000000000 /dev/urandom > /data/f"],
    );
    // (fault, way in): the agent killed mid-write; the destination killed, or restarted.
    let faults = [
        ("agent", "agent"),
        ("kill", "agent"),
        ("kill", "direct"),
        ("restart", "agent"),
    ];
    for (fault, how) in faults {
        let sh = match how {
            "agent" => TestShell::new()
                .env("DOCKERBOX_DIRECT", "0")
                .opts(&["--agent", "always"]),
            _ => TestShell::new().env("DOCKERBOX_DIRECT", "0"),
        };
        let b = sb.run(&format!("{fault}-{how}"), BUSYBOX, &[]);
        // The source is read through the agent either way, so the copy takes a while; the
        // destination is written through its agent, or directly.
        let sh_dst = if how == "direct" {
            TestShell::new()
        } else {
            sh
        };
        let child = spawn(
            &sh_dst,
            &format!("cp /containers/{a}/data/f /containers/{b}/tmp/big"),
        );
        let tmp = upper_dir(&b).join("tmp");
        wait_until("the temporary", || temp_in(&tmp));
        match fault {
            "agent" => kill_agents(&b),
            "kill" => drop(docker(&["kill", &b])),
            _ => drop(docker(&["restart", "-t", "0", &b])),
        }
        let out = child.wait_with_output().unwrap();
        // Directly, the open file outlives the container's processes: the copy may land whole.
        let landed = out.status.code() == Some(0);
        assert!(
            !landed || how == "direct",
            "{fault} {how}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if fault == "kill" {
            assert!(
                landed || temp_in(&tmp),
                "{fault} {how}: the fault leaves it at first"
            );
            docker(&["start", &b]);
        }
        // The next dockerbox that reaches the container removes it.
        sh_dst.c(&format!("ls /containers/{b}/tmp")).ok();
        let want = if landed { "big" } else { "" };
        assert_eq!(
            sb.exec(&b, &["ls", "-A", "/tmp"]),
            want,
            "{fault} {how}: nothing left"
        );
        if landed {
            assert_eq!(sb.exec(&b, &["stat", "-c", "%s", "/tmp/big"]), "1000000000");
        }
        assert!(!diff(&b).contains(".dbx-"), "{fault} {how}: {}", diff(&b));
    }
}

#[test]
fn a_host_temporary_of_a_killed_dockerbox_is_removed_by_the_next() {
    let Some(mut sb) = Sandbox::new("datahost") else {
        return;
    };
    let a = sb.run("a", BUSYBOX, &["--tmpfs", "/data:size=1100m"]);
    // Random bytes: zeros would go packed and land before a fault could reach them.
    sb.exec(
        &a,
        &["sh", "-c", "head -c 1000000000 /dev/urandom > /data/f"],
    );
    let sh = TestShell::new()
        .env("DOCKERBOX_DIRECT", "0")
        .opts(&["--agent", "always"]);
    let dest = tempfile::tempdir().unwrap();
    let mut child = spawn(
        &sh,
        &format!("cp /containers/{a}/data/f {}/big", dest.path().display()),
    );
    wait_until("the temporary", || temp_in(dest.path()));
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    assert!(temp_in(dest.path()), "a killed dockerbox leaves it");
    // Another file with a temporary's look, not in any journal: never touched.
    let lookalike = dest.path().join(".big.dbx-1.1-0");
    std::fs::write(&lookalike, b"not ours").unwrap();
    sh.c("pwd").ok();
    let left: Vec<String> = std::fs::read_dir(dest.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, [".big.dbx-1.1-0"]);
}

#[test]
fn hard_links_and_unwritable_destinations_as_gnu_cp_has_them() {
    // `cp -a` makes a new file rather than write into one with other names; `-p` writes in
    // place; an unwritable file is refused, and with -f replaced. As a user, not root.
    let script = "echo new > src; echo old > d; ln d d2; echo old > e; ln e e2; \
                  echo old > ro; chmod 444 ro; CP -a src d; CP -p src e; CP src ro; \
                  echo \"ro=$?\"; CP -f src ro; echo \"f=$?\"";
    let mut seen = Vec::new();
    for gnu in [true, false] {
        let t = tempfile::tempdir().unwrap();
        Command::new("chmod")
            .arg("777")
            .arg(t.path())
            .status()
            .unwrap();
        let cp = if gnu {
            "CP() { cp \"$@\"; }".to_string()
        } else {
            format!("CP() {{ {} -c \"cp $*\"; }}", TestShell::bin().display())
        };
        let body = format!("{cp}; {script}");
        let o = Command::new("su")
            .args(["nobody", "-s", "/bin/sh", "-c", &body])
            .current_dir(t.path())
            .env("HOME", t.path())
            .output()
            .unwrap();
        let listing = Command::new("sh")
            .args([
                "-c",
                "for f in d d2 e e2 ro; do echo $f $(stat -c '%h %a' $f) $(cat $f); done",
            ])
            .current_dir(t.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr)
            .replace("dockerbox: ", "")
            .to_string();
        seen.push((
            String::from_utf8_lossy(&o.stdout).into_owned(),
            err,
            String::from_utf8_lossy(&listing.stdout).into_owned(),
        ));
    }
    assert_eq!(seen[1], seen[0], "dockerbox (left) against GNU cp (right)");
}

#[test]
fn overwriting_in_a_stopped_container_replaces_the_file_and_writes_through_links() {
    let Some(mut sb) = Sandbox::new("datastopped") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("d")).unwrap();
    std::fs::write(t.path().join("d/f"), b"one\n").unwrap();
    let s1 = sb.create("s1", BUSYBOX);
    let s2 = sb.create("s2", BUSYBOX);
    sb.cp_in(&t.path().join("d"), &s1, "/tmp/");
    std::fs::write(t.path().join("d/f"), b"two\n").unwrap();
    std::os::unix::fs::symlink("f", t.path().join("d/lnk")).unwrap();
    sb.cp_in(&t.path().join("d"), &s2, "/tmp/");
    let sh = TestShell::new();
    // Same paths in two stopped containers are two files, not "the same file".
    sh.c(&format!(
        "cp /containers/{s1}/tmp/d/f /containers/{s2}/tmp/d/f"
    ))
    .ok();
    sh.c(&format!(
        "cp -r /containers/{s1}/tmp/d /containers/{s2}/tmp/"
    ))
    .ok();
    std::fs::write(t.path().join("new"), b"three\n").unwrap();
    sh.c(&format!(
        "cp {} /containers/{s2}/tmp/d/lnk",
        t.path().join("new").display()
    ))
    .ok();
    let r = sh.c(&format!(
        "cat /containers/{s2}/tmp/d/f; ls -l /containers/{s2}/tmp/d/lnk"
    ));
    let out = r.ok();
    assert!(out.starts_with("three\nl"), "{out}");
}

/// A big new file into a running container (without the direct path, `DOCKERBOX_PUT_MIN` set)
/// lands by the engine's tar stream under a temporary name the agent renames: its bytes, mode and owner arrive, an
/// existing file is still written in place (same inode), and Ctrl-C midway leaves nothing.
#[test]
fn a_big_new_file_by_the_engines_tar_stream_lands_whole_or_not_at_all() {
    let Some(mut sb) = Sandbox::new("dataput") else {
        return;
    };
    let b = sb.run("b", BUSYBOX, &[]);
    let host = tempfile::tempdir().unwrap();
    let big = host.path().join("big");
    let st = Command::new("sh")
        .args([
            "-c",
            &format!(
                "head -c 50000000 /dev/urandom > {0} && chmod 751 {0} && chown 1000:50 {0}",
                big.display()
            ),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let want = crate::util::sha256(&std::fs::read(&big).unwrap());
    let sh = TestShell::new()
        .env("DOCKERBOX_DIRECT", "0")
        .env("DOCKERBOX_PUT_MIN", "8388608")
        .opts(&["--agent", "always", "-v"]);
    let r = sh.c(&format!("cp -p {} /containers/{b}/tmp/big", big.display()));
    r.ok();
    assert!(
        r.stderr
            .contains("/tmp/big: big new file, landed by the archive API"),
        "{}",
        r.stderr
    );
    let sum = sb.exec(&b, &["sha256sum", "/tmp/big"]);
    assert_eq!(sum.split_whitespace().next(), Some(want.as_str()));
    assert_eq!(
        sb.exec(&b, &["stat", "-c", "%a %u %g %s", "/tmp/big"]),
        "751 1000 50 50000000"
    );
    assert_eq!(
        sb.exec(&b, &["ls", "-A", "/tmp"]),
        "big",
        "no temporary left"
    );

    // An existing file is written in place: same inode, new bytes.
    let inode = sb.exec(&b, &["stat", "-c", "%i", "/tmp/big"]);
    std::fs::write(&big, vec![7u8; 20_000_000]).unwrap();
    let r = sh.c(&format!("cp {} /containers/{b}/tmp/big", big.display()));
    r.ok();
    assert!(
        !r.stderr.contains("landed by the archive API"),
        "{}",
        r.stderr
    );
    assert_eq!(
        sb.exec(&b, &["stat", "-c", "%i %s", "/tmp/big"]),
        format!("{inode} 20000000")
    );

    // Ctrl-C while the engine unpacks the temporary: nothing stays.
    let huge = host.path().join("huge");
    let st = Command::new("sh")
        .args([
            "-c",
            &format!("head -c 3000000000 /dev/urandom > {}", huge.display()),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let upper = upper_dir(&b).join("tmp");
    let child = spawn(
        &sh,
        &format!("cp {} /containers/{b}/tmp/huge", huge.display()),
    );
    wait_until("the temporary", || {
        std::fs::read_dir(&upper).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(".huge.dbx-"))
        })
    });
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    wait_until("the temporary's removal", || {
        sb.exec(&b, &["ls", "-A", "/tmp"]) == "big"
    });
    assert!(!diff(&b).contains(".dbx-"), "{}", diff(&b));
}
