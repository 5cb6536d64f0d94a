//! `cp` and `mv` between the host, running containers and stopped containers.

use std::path::Path;
use std::process::Command;

use crate::util::{docker, Sandbox, TestShell, BUSYBOX};

/// One line per entry under `root`: path, type, mode, owner, mtime, link target; sorted.
/// What `cp -a` must keep.
fn tree_listing(root: &Path) -> String {
    let out = Command::new("find")
        .arg(".")
        .args(["-mindepth", "1", "-printf", "%P|%y|%m|%U:%G|%T@|%l|%n\\0"])
        .current_dir(root)
        .output()
        .unwrap();
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|l| !l.is_empty())
        // Directory mtimes to the second, file mtimes exactly as tar keeps them (seconds).
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            let secs = f[4].split('.').next().unwrap_or("");
            // Link counts of files only: a directory's depends on its subdirectories alone.
            let links = if f[1] == "f" { f[6] } else { "" };
            format!(
                "{}|{}|{}|{}|{}|{}|{}",
                f[0], f[1], f[2], f[3], secs, f[5], links
            )
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

/// A tree with the names and shapes that break naive tools.
fn hostile_tree() -> tempfile::TempDir {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("src");
    std::fs::create_dir(&r).unwrap();
    let sh = |script: &str| {
        let st = Command::new("sh")
            .args(["-c", script])
            .current_dir(&r)
            .status()
            .unwrap();
        assert!(st.success(), "{script}");
    };
    sh("mkdir -p 'sp ace/empty' deep/a/b/c && printf 'hello\\n' > 'sp ace/file' && : > zero \
        && printf x > -rf && printf y > '$(touch x)' && printf 'nl' > \"$(printf 'new\\nline')\" \
        && head -c 300000 /dev/urandom > deep/a/b/c/blob && ln deep/a/b/c/blob hard-blob && ln -s 'sp ace/file' rel-link && ln -s /etc/hostname abs-link \
        && mkdir setgid && chmod 2755 setgid && mkdir m751 && chmod 751 m751 && printf e > m751/x && chmod 640 m751/x \
        && chown -R 1000:50 deep && touch -h -d '2001-02-03 04:05:06' rel-link \
        && find . -exec touch -h -d '2020-01-02 03:04:05' {} +");
    // One big file, streamed through every hop.
    sh("head -c 300000000 /dev/urandom > big && touch -d '2020-01-02 03:04:05' big");
    let long = "L".repeat(240);
    std::fs::write(r.join(&long), b"long").unwrap();
    let bad = std::ffi::OsStr::from_bytes(b"bad\xffbyte");
    std::fs::write(r.join(bad), b"bytes").unwrap();
    sh("touch -d '2020-01-02 03:04:05' . L* bad*");
    t
}

#[test]
fn cp_a_round_trip_host_running_running_stopped_host() {
    round_trip("cpround", true);
}

/// The same with the direct path turned off: running containers are written by the agent.
#[test]
fn cp_a_round_trip_through_the_agent() {
    round_trip("cpround-agent", false);
}

fn round_trip(test: &str, direct: bool) {
    let Some(mut sb) = Sandbox::new(test) else {
        return;
    };
    let a = sb.run("a", BUSYBOX, &[]);
    let b = sb.run("b", BUSYBOX, &[]);
    let s = sb.create("s", BUSYBOX);
    let t = hostile_tree();
    let src = t.path().join("src");
    let back = t.path().join("back");
    let sh = TestShell::new().env("DOCKERBOX_DIRECT", if direct { "1" } else { "0" });
    let script = format!(
        "cp -a {src} /containers/{a}/tmp/t\n\
         cp -a /containers/{a}/tmp/t /containers/{b}/tmp/t\n\
         cp -a /containers/{b}/tmp/t /containers/{s}/t\n\
         cp -a /containers/{s}/t {back}\n",
        src = src.display(),
        back = back.display()
    );
    let r = sh.stdin(script.as_bytes());
    assert_eq!(r.status, 0, "{}", r.stderr);
    let diff = Command::new("diff")
        .args(["-r"])
        .arg(&src)
        .arg(&back)
        .output()
        .unwrap();
    assert!(
        diff.status.success(),
        "{}",
        String::from_utf8_lossy(&diff.stdout)
    );
    assert_eq!(tree_listing(&back), tree_listing(&src));
    // Stopped containers are written without being started.
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.StartedAt}}", &s]),
        "0001-01-01T00:00:00Z"
    );
}

#[test]
fn cp_between_containers_is_byte_exact() {
    let Some(mut sb) = Sandbox::new("cpbytes") else {
        return;
    };
    let a = sb.run("a", BUSYBOX, &[]);
    let b = sb.run("b", BUSYBOX, &[]);
    let s = sb.create("s", BUSYBOX);
    sb.exec(&a, &["sh", "-c", "head -c 50000000 /dev/urandom > /tmp/f"]);
    let want = sb.exec(&a, &["sha256sum", "/tmp/f"]);
    let sh = TestShell::new();
    let r = sh.c(&format!("cp /containers/{a}/tmp/f /containers/{b}/tmp/g; cp /containers/{b}/tmp/g /containers/{s}/h"));
    assert_eq!(r.status, 0, "{}", r.stderr);
    let got = sb.exec(&b, &["sha256sum", "/tmp/g"]);
    assert_eq!(
        got.split_whitespace().next(),
        want.split_whitespace().next()
    );
    let back = sh.c(&format!("cat /containers/{s}/h"));
    assert_eq!(back.stdout.len(), 50_000_000);
}

/// The direct path (`/proc/PID/root`, this engine is local and we are root) resolves symlinks
/// inside the container, as the agent does: nothing lands on the host.
#[test]
fn direct_writes_stay_inside_the_container() {
    let Some(mut sb) = Sandbox::new("cpdirect") else {
        return;
    };
    let a = sb.run("a", BUSYBOX, &[]);
    let u = sb.run("u", BUSYBOX, &["--user", "1000:1000"]);
    sb.exec(&a, &["ln", "-s", "/etc", "/tmp/abs"]);
    sb.exec(&a, &["ln", "-s", "../../../../..", "/tmp/up"]);
    let sh = TestShell::new().opts(&["-v"]);
    let name = format!("dbx-direct-{}", std::process::id());
    let src = sh.home.path().join("f");
    std::fs::write(&src, b"inside\n").unwrap();
    let r = sh.c(&format!(
        "cp {f} /containers/{a}/tmp/abs/{name}; cp {f} /containers/{a}/tmp/up/{name}",
        f = src.display()
    ));
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "dockerbox: {a}: written directly through /proc/PID/root"
        )),
        "{}",
        r.stderr
    );
    assert!(!Path::new("/etc").join(&name).exists());
    assert!(!Path::new("/").join(&name).exists());
    assert_eq!(sb.exec(&a, &["cat", &format!("/etc/{name}")]), "inside");
    assert_eq!(sb.exec(&a, &["cat", &format!("/{name}")]), "inside");
    // A container running as another user is written by its agent, as that user.
    let r = sh.c(&format!("cp {} /containers/{u}/tmp/g", src.display()));
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sb.exec(&u, &["stat", "-c", "%u:%g", "/tmp/g"]), "1000:1000");
}

#[test]
fn cp_errors_read_like_gnu_and_leave_nothing() {
    let Some(mut sb) = Sandbox::new("cperr") else {
        return;
    };
    let ro = sb.run("ro", BUSYBOX, &["--read-only"]);
    let small = sb.run("small", BUSYBOX, &["--tmpfs", "/small:size=1m"]);
    let sh = TestShell::new();
    let big = sh.home.path().join("big");
    std::fs::write(&big, vec![7u8; 3 << 20]).unwrap();
    let r = sh.c(&format!("cp {} /containers/{ro}/tmp/big", big.display()));
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    let r = sh.c(&format!(
        "cp {} /containers/{small}/small/big",
        big.display()
    ));
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains(&format!(
            "/containers/{small}/small/big': No space left on device"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(
        sb.exec(&small, &["ls", "-A", "/small"]),
        "",
        "nothing partial left"
    );
    let r = sh.c(&format!(
        "cp /containers/{small}/nope {}",
        sh.home.path().display()
    ));
    assert_eq!(
        r.stderr,
        format!(
            "dockerbox: cp: cannot stat '/containers/{small}/nope': No such file or directory\n"
        )
    );
    assert_eq!(r.status, 1);
    let r = sh.c(&format!(
        "cp /containers/{small}/etc {}",
        sh.home.path().display()
    ));
    assert_eq!(
        r.stderr,
        format!("dockerbox: cp: -r not specified; omitting directory '/containers/{small}/etc'\n")
    );
}

#[test]
fn a_source_container_killed_mid_copy_leaves_no_file() {
    let Some(mut sb) = Sandbox::new("cpkill") else {
        return;
    };
    // On a tmpfs the file is the agent's to stream (the archive API cannot see it there), so
    // the copy depends on the container staying alive. (The direct path through /proc/PID/root
    // would hold the tmpfs open and finish the copy whole: turned off here.)
    let a = sb.run("a", BUSYBOX, &["--tmpfs", "/data"]);
    sb.exec(&a, &["sh", "-c", "head -c 400000000 /dev/zero > /data/f"]);
    let sh = TestShell::new().env("DOCKERBOX_DIRECT", "0");
    let dest = sh.home.path().join("copy");
    let child = sh
        .command()
        .args([
            "--agent",
            "always",
            "-c",
            &format!("cp /containers/{a}/data/f {}", dest.display()),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Killed once the copy runs (its temporary is there).
    crate::util::wait_until("the copy to start", || {
        std::fs::read_dir(sh.home.path()).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().contains(".copy.dbx-"))
        })
    });
    docker(&["kill", &a]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "dockerbox: cp: error reading '/containers/{a}/data/f': "
        )),
        "{err}"
    );
    assert!(!dest.exists(), "no file at the destination name");
    let leftovers: Vec<_> = std::fs::read_dir(sh.home.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains("dbx"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn mv_renames_within_and_copies_across() {
    let Some(mut sb) = Sandbox::new("mv") else {
        return;
    };
    let a = sb.run("a", BUSYBOX, &[]);
    let b = sb.run("b", BUSYBOX, &[]);
    sb.exec(
        &a,
        &[
            "sh",
            "-c",
            "mkdir -p /tmp/d/sub && echo hi > /tmp/d/sub/f && chmod 751 /tmp/d",
        ],
    );
    let sh = TestShell::new();
    let r = sh.c(&format!("mv /containers/{a}/tmp/d /containers/{a}/tmp/e; mv /containers/{a}/tmp/e /containers/{b}/tmp/"));
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sb.exec(&b, &["cat", "/tmp/e/sub/f"]), "hi");
    assert_eq!(sb.exec(&b, &["stat", "-c", "%a", "/tmp/e"]), "751");
    assert_eq!(sb.exec(&a, &["ls", "-A", "/tmp"]), "");
}

#[test]
fn cp_a_between_containers_keeps_hard_links_and_lands_whole() {
    let Some(mut sb) = Sandbox::new("cptree") else {
        return;
    };
    let a = sb.run("a", BUSYBOX, &["--tmpfs", "/data"]);
    let b = sb.run("b", BUSYBOX, &[]);
    let s = sb.create("s", BUSYBOX);
    sb.exec(
        &a,
        &[
            "sh",
            "-c",
            "mkdir -p /t/d && echo one > /t/d/f && ln /t/d/f /t/hard && chmod 2751 /t/d \
        && mkdir -p /data/t && echo tmpfs > /data/t/f",
        ],
    );
    let sh = TestShell::new();
    let r = sh.c(&format!(
        "cp -a /containers/{a}/t /containers/{b}/t; cp -a /containers/{a}/t /containers/{s}/t"
    ));
    assert_eq!(r.status, 0, "{}", r.stderr);
    // One inode for the two names, as in the source.
    assert_eq!(
        sb.exec(
            &b,
            &["sh", "-c", "stat -c %i /t/d/f /t/hard | uniq | wc -l"]
        ),
        "1"
    );
    assert_eq!(sb.exec(&b, &["stat", "-c", "%a", "/t/d"]), "2751");
    assert_eq!(
        sb.exec(&b, &["ls", "-A", "/"])
            .lines()
            .filter(|l| l.contains("dbx"))
            .count(),
        0,
        "no temporary left"
    );
    assert_eq!(sh.c(&format!("cat /containers/{s}/t/hard")).ok(), "one\n");
    // A tree on a tmpfs is invisible to the archive API: it goes file by file, still exact.
    let r = sh.c(&format!(
        "cp -a /containers/{a}/data/t /containers/{b}/fromtmpfs"
    ));
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sb.exec(&b, &["cat", "/fromtmpfs/f"]), "tmpfs");
}

/// `cp -a` of a new tree between containers of an engine across a network: the source's agent
/// reads it as one packed tar stream and the upload is gzipped, and the copy keeps what
/// `cp -a` keeps (modes, owners, times, symlinks, hard links, long names, FIFOs), into a
/// running container and a stopped one, leaving no temporary.
#[test]
fn cp_a_across_a_network_packs_the_tree_and_keeps_everything() {
    use crate::engines::{engines_available, ExtraEngine};
    if !engines_available("cp_packed_tree") {
        return;
    }
    let Some(e) = ExtraEngine::tls("cptree") else {
        return;
    };
    let (a, b) = (e.run_container("t-a", &[]), e.run_container("t-b", &[]));
    // Stopped now, started later to look at it (`create_container`'s would exit at once).
    let stopped = "t-s".to_string();
    e.docker(&[
        "create",
        "--network",
        "none",
        "--label",
        crate::util::LABEL,
        "--name",
        &stopped,
        BUSYBOX,
        "sleep",
        "1000000",
    ]);
    let long = "L".repeat(150);
    e.docker(&[
        "exec",
        &a,
        "sh",
        "-c",
        &format!(
            "mkdir -p /tmp/tree/d/sub /tmp/tree/{long} && cd /tmp/tree && \
             i=0; while [ $i -lt 300 ]; do echo \"line $i of a log\" > d/f$i; i=$((i + 1)); done && \
             head -c 700000 /dev/urandom > d/sub/blob && ln d/sub/blob hard && \
             ln -s d/f1 rel && ln -s /etc/hostname abs && mkfifo fifo && \
             echo deep > {long}/{long} && chmod 4751 d/f2 && chmod 700 d/sub && \
             chown -R 1000:50 d/sub && find . -exec touch -h -d '2020-01-02 03:04:05' {{}} +"
        ),
    ]);
    let listing = |c: &str, top: &str| {
        e.docker(&[
            "exec",
            c,
            "sh",
            "-c",
            &format!(
                "cd {top} && find . | sort | while read -r p; do \
                 stat -c '%n %a %u %g %s %Y %h %F' \"$p\"; \
                 if [ -L \"$p\" ]; then readlink \"$p\"; elif [ -f \"$p\" ]; then md5sum < \"$p\"; fi; \
                 done"
            ),
        ])
    };
    let want = listing(&a, "/tmp/tree");
    assert!(
        want.contains("hard 644 1000 50 700000 1577934245 2 regular file"),
        "{want}"
    );
    let mut sh = TestShell::new().opts(&["-v"]);
    for (k, v) in e.env() {
        sh = sh.env(&k, &v);
    }
    let r = sh.c(&format!(
        "cp -a /containers/{a}/tmp/tree /containers/{b}/tmp/copy && \
         cp -a /containers/{a}/tmp/tree /containers/{stopped}/copy"
    ));
    r.ok();
    assert!(
        r.stderr
            .contains("/tmp/tree: tree read packed by the agent"),
        "{}",
        r.stderr
    );
    assert_eq!(listing(&b, "/tmp/copy"), want, "into a running container");
    let left = e.docker(&["exec", &b, "ls", "-a", "/tmp"]);
    assert!(!left.contains("dbx"), "no temporary left: {left}");
    e.docker(&["start", &stopped]);
    assert_eq!(listing(&stopped, "/copy"), want, "into a stopped container");

    // A big log goes packed both ways, also as the first command (its agent is waited for).
    e.docker(&[
        "exec",
        &a,
        "sh",
        "-c",
        "cd /tmp/tree/d && cat f* > /tmp/chunk && : > /tmp/log && \
         while [ $(stat -c %s /tmp/log) -lt 34000000 ]; do cat /tmp/chunk /tmp/chunk /tmp/chunk >> /tmp/log; done",
    ]);
    let r = sh.c(&format!(
        "cp /containers/{a}/tmp/log /containers/{b}/tmp/log"
    ));
    r.ok();
    assert!(r.stderr.contains("/tmp/log: packs to"), "{}", r.stderr);
    let sum = |c: &str| e.docker(&["exec", c, "md5sum", "/tmp/log"]);
    assert_eq!(sum(&b), sum(&a));
}
