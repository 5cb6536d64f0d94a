//! `dockerbox mount`: host tools on the mount against the truth from `docker exec` in the same
//! container (GNU tools in the Debian image), writes landing whole, containers stopped,
//! restarted and removed under the mount, and the mount's own life (signals, `--background`,
//! `-o ro`, errors). Every mount is made in a temporary directory and torn down by a guard, also
//! when a test fails (a dead server's mount is detached lazily).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::util::{docker, host_tree, wait_until, Sandbox, TestShell, DEBIAN, SCRATCH};

/// Whether `dir` is a mount point of ours now.
fn mounted(dir: &Path) -> bool {
    let want = dir.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| {
        m.lines().any(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let after: Vec<&str> = l.split(" - ").nth(1).unwrap_or("").split(' ').collect();
            f.get(4) == Some(&want.as_str())
                && after.first().is_some_and(|t| t.starts_with("fuse"))
                && after.get(1) == Some(&"dockerbox")
        })
    })
}

/// A mount in a temporary directory, served by a foreground `dockerbox mount`.
pub(crate) struct Mounted {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Mounted {
    pub(crate) fn new(sh: &TestShell, opts: &[&str]) -> Mounted {
        Mounted::new_with(sh, opts, &[])
    }

    /// A mount whose server has `env` set too.
    pub(crate) fn new_with(sh: &TestShell, opts: &[&str], env: &[(&str, &str)]) -> Mounted {
        let dir = tempfile::tempdir().expect("mount point");
        let mut args = vec!["mount".to_string()];
        args.extend(opts.iter().map(|s| s.to_string()));
        args.push(dir.path().to_string_lossy().into_owned());
        let child = sh
            .command()
            .args(&args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn dockerbox mount");
        let m = Mounted {
            dir,
            child: Some(child),
        };
        wait_until("the mount", || mounted(m.dir.path()));
        m
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `DIR/containers/NAME/REL`.
    fn at(&self, name: &str, rel: &str) -> PathBuf {
        self.dir
            .path()
            .join("containers")
            .join(name)
            .join(rel.trim_start_matches('/'))
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGTERM, and the exit status once it unmounted.
    fn stop(&mut self) -> i32 {
        let Some(mut c) = self.child.take() else {
            return -1;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let mut code = -1;
        wait_until("the mount to end", || match c.try_wait() {
            Ok(Some(s)) => {
                code = s.code().unwrap_or(-1);
                true
            }
            _ => false,
        });
        code
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        if mounted(self.dir.path()) {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// Runs `sh -c SCRIPT` on the host in `dir`; returns stdout, panics with stderr on failure.
fn host(dir: &Path, script: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "`{script}` in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts two outputs are the same, showing `diff` of them when not.
fn same(got: &str, want: &str, what: &str) {
    // `docker` output comes without its last newline.
    let (got, want) = (got.trim_end(), want.trim_end());
    if got == want {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("mount"), got).unwrap();
    std::fs::write(d.path().join("exec"), want).unwrap();
    let diff = Command::new("diff")
        .args(["-u", "exec", "mount"])
        .current_dir(d.path())
        .output()
        .unwrap();
    panic!("{what} differs:\n{}", String::from_utf8_lossy(&diff.stdout));
}

/// The same script inside the container, in `dir` there.
fn inside(c: &str, dir: &str, script: &str) -> String {
    docker(&[
        "exec", "-w", dir, "-e", "LC_ALL=C", "-e", "TZ=UTC", c, "sh", "-c", script,
    ])
}

/// Waits until every new file written through the mount under `dir` landed at its name: the
/// kernel reports the last close just after close(2) returned.
fn landed(c: &str, dir: &str) {
    wait_until("new files to land", || {
        Command::new("docker")
            .args(["exec", c, "find", dir, "-name", ".*.dbx-*"])
            .output()
            .is_ok_and(|o| o.status.success() && o.stdout.is_empty())
    });
}

pub(crate) fn mount_ready() -> Option<(Sandbox, TestShell)> {
    let sb = Sandbox::new("mount")?;
    if !Path::new("/dev/fuse").exists() {
        eprintln!("skipping: no /dev/fuse");
        return None;
    }
    Some((sb, TestShell::new()))
}

#[test]
fn host_tools_see_what_docker_exec_sees() {
    let Some((mut sb, sh)) = mount_ready() else {
        return;
    };
    let c = sb.run("tools", DEBIAN, &[]);
    let m = Mounted::new(&sh, &[]);
    // The root shows the namespace's trees and never the host's own files.
    let top = host(m.root(), "ls");
    assert_eq!(top, "apps\ncontainers\nimages\nmeta\nvolumes\n");
    assert!(host(&m.root().join("containers"), "ls")
        .lines()
        .any(|l| l == c));
    // Absolute link targets read as paths under the mount (so the host's kernel resolves
    // them inside the container): put back, the text is the container's.
    let root = format!(
        "{}/",
        m.at(&c, "/").display().to_string().trim_end_matches('/')
    );
    let unmounted = |s: String| s.replace(&root, "/");
    for dir in ["/etc", "/usr/bin", "/usr/share/doc"] {
        let at = m.at(&c, dir);
        let ls = "ls -lnR --time-style=+%s .";
        same(
            &unmounted(host(&at, ls)),
            &inside(&c, dir, ls),
            &format!("ls -lR of {dir}"),
        );
        let find = "find . -printf '%p %s %m %U %G %y %l %n\\n' | sort";
        same(
            &unmounted(host(&at, find)),
            &inside(&c, dir, find),
            &format!("find of {dir}"),
        );
        let sums = "find . -type f -print0 | sort -z | xargs -0 sha256sum";
        same(
            &host(&at, sums),
            &inside(&c, dir, sums),
            &format!("sha256sum of {dir}"),
        );
    }
    // Hard links are one file through the mount too; inode numbers stay put per path.
    sb.exec(&c, &["sh", "-c", "echo x > /tmp/a && ln /tmp/a /tmp/b"]);
    let (a, b) = (
        std::fs::metadata(m.at(&c, "/tmp/a")).unwrap(),
        std::fs::metadata(m.at(&c, "/tmp/b")).unwrap(),
    );
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
    assert_ne!(a.ino(), 0);
    assert_eq!(
        std::fs::metadata(m.at(&c, "/etc/passwd")).unwrap().ino(),
        std::fs::metadata(m.at(&c, "/etc/passwd")).unwrap().ino()
    );
    // Symlinks resolve inside the container, never on the host: an absolute target (or one
    // climbing out with `..`) reads as the path of what it names under the mount.
    sb.exec(
        &c,
        &[
            "sh",
            "-c",
            "echo in-container > /tmp/hosts && ln -s /tmp/hosts /tmp/abs && \
             ln -s ../../../../../tmp/hosts /tmp/climb && ln -s hosts /tmp/rel",
        ],
    );
    for l in ["abs", "climb", "rel"] {
        let got = std::fs::read_to_string(m.at(&c, &format!("/tmp/{l}"))).unwrap();
        assert_eq!(got, "in-container\n", "{l}");
    }
    assert_eq!(
        std::fs::read_link(m.at(&c, "/tmp/abs")).unwrap(),
        m.at(&c, "/tmp/hosts")
    );
    assert_eq!(
        std::fs::read_link(m.at(&c, "/tmp/rel")).unwrap(),
        Path::new("hosts")
    );
    // And a link made through the mount to such a path is the container's own.
    std::os::unix::fs::symlink(m.at(&c, "/etc/passwd"), m.at(&c, "/tmp/made")).unwrap();
    assert_eq!(sb.exec(&c, &["readlink", "/tmp/made"]), "/etc/passwd");
}

#[test]
fn copies_and_archives_go_in_and_out_whole() {
    let Some((mut sb, sh)) = mount_ready() else {
        return;
    };
    let c = sb.run("cp", DEBIAN, &[]);
    let m = Mounted::new(&sh, &[]);
    let src = host_tree(&[
        ("a.txt", b"alpha\n", 0o644),
        ("dir with space/b", b"beta", 0o600),
        ("dir with space/-leading", b"dash", 0o755),
        ("deep/er/x.bin", &[0u8, 255, 10, 13], 0o640),
        ("$(touch pwned)", b"sub", 0o644),
    ]);
    host(
        src.path(),
        "ln -s a.txt link && ln a.txt hard && mkdir empty && touch -d @1000000000 a.txt",
    );
    let dest = m.at(&c, "/tmp/in");
    host(src.path(), &format!("cp -a . '{}'", dest.display()));
    let back = tempfile::tempdir().unwrap();
    host(back.path(), &format!("cp -a '{}/.' .", dest.display()));
    host(
        back.path(),
        &format!("diff -r '{}' .", src.path().display()),
    );
    // As the container sees it: modes, times, the hard link, and no temporary left.
    landed(&c, "/tmp/in");
    let seen = inside(
        &c,
        "/tmp/in",
        "find . -printf '%p %m %s %T@ %n %y\\n' | sort",
    );
    let want = host(src.path(), "find . -printf '%p %m %s %T@ %n %y\\n' | sort");
    let secs = |s: &str| -> String {
        s.lines()
            .map(|l| {
                let mut f: Vec<String> = l.split(' ').map(str::to_string).collect();
                if let Some(t) = f.get_mut(3) {
                    *t = t.split('.').next().unwrap_or("").to_string();
                }
                // A directory's size is its filesystem's business.
                if f.last().is_some_and(|y| y == "d") {
                    f[2] = "-".into();
                }
                f.join(" ") + "\n"
            })
            .collect()
    };
    assert_eq!(secs(&seen), secs(&want));
    assert!(!seen.contains(".dbx-"), "no temporary left: {seen}");
    assert!(!Path::new("/tmp/in/pwned").exists());
    // tar in and out.
    let tar_in = m.at(&c, "/tmp/tarred");
    std::fs::create_dir(&tar_in).unwrap();
    host(
        src.path(),
        &format!("tar cf - . | tar xf - -C '{}'", tar_in.display()),
    );
    let untar = tempfile::tempdir().unwrap();
    host(
        untar.path(),
        &format!("tar cf - -C '{}' . | tar xpf -", tar_in.display()),
    );
    host(
        untar.path(),
        &format!("diff -r '{}' .", src.path().display()),
    );
}

#[test]
fn saves_renames_git_and_concurrent_writers() {
    let Some((mut sb, sh)) = mount_ready() else {
        return;
    };
    let c = sb.run("edit", DEBIAN, &[]);
    sb.exec(
        &c,
        &[
            "sh",
            "-c",
            "mkdir /srv/p && echo old > /srv/p/conf && chmod 640 /srv/p/conf",
        ],
    );
    let m = Mounted::new(&sh, &[]);
    let dir = m.at(&c, "/srv/p");
    // An editor's save: a new temporary written and fsynced, then renamed over the file.
    {
        use std::io::Write;
        let tmp = dir.join(".conf.swp");
        let mut f = std::fs::File::create(&tmp).unwrap();
        f.write_all(b"new\n").unwrap();
        f.sync_all().unwrap();
        drop(f);
        std::fs::rename(&tmp, dir.join("conf")).unwrap();
    }
    assert_eq!(sb.exec(&c, &["cat", "/srv/p/conf"]), "new");
    assert_eq!(sb.exec(&c, &["ls", "-A", "/srv/p"]), "conf");
    // An existing file written in place keeps its inode and mode; `>>` appends.
    let ino = sb.exec(&c, &["stat", "-c", "%i %a", "/srv/p/conf"]);
    host(&dir, "printf 'in place\\n' > conf && echo more >> conf");
    assert_eq!(sb.exec(&c, &["stat", "-c", "%i %a", "/srv/p/conf"]), ino);
    assert_eq!(sb.exec(&c, &["cat", "/srv/p/conf"]), "in place\nmore");
    // A new file is not at its name until it is closed.
    {
        use std::io::Write;
        let mut f = std::fs::File::create(dir.join("growing")).unwrap();
        f.write_all(b"half").unwrap();
        let listed = sb.exec(&c, &["ls", "-A", "/srv/p"]);
        assert!(!listed.lines().any(|l| l == "growing"), "{listed}");
        assert_eq!(std::fs::read(dir.join("growing")).unwrap(), b"half");
        f.write_all(b" and whole").unwrap();
    }
    // It lands at the last close, which the kernel reports just after close(2) returned.
    wait_until("the new file at its name", || {
        Command::new("docker")
            .args(["exec", &c, "cat", "/srv/p/growing"])
            .output()
            .is_ok_and(|o| o.stdout == b"half and whole")
    });
    // git, if the host has it: init, add, commit inside the container's directory.
    if Command::new("git").arg("--version").output().is_ok() {
        host(
            &dir,
            "git init -q . && git -c user.email=t@t -c user.name=t add -A && \
             git -c user.email=t@t -c user.name=t commit -qm first && git status --porcelain",
        );
        let log = host(&dir, "git log --format=%s");
        assert_eq!(log, "first\n");
        assert!(inside(&c, "/srv/p", "ls .git").contains("objects"));
        assert_eq!(host(&dir, "git status --porcelain"), "");
    }
    // Writers at once, each its own file, and appenders on one existing file (several
    // creating one new file at once: eight_processes_create_one_new_file_at_once).
    std::fs::write(dir.join("shared.log"), b"").unwrap();
    landed(&c, "/srv/p");
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let d = dir.clone();
            std::thread::spawn(move || {
                use std::io::Write;
                let body = format!("{i}\n").repeat(10_000);
                std::fs::write(d.join(format!("w{i}")), &body).unwrap();
                let mut log = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(d.join("shared.log"))
                    .unwrap();
                for _ in 0..50 {
                    log.write_all(format!("line {i}\n").as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    landed(&c, "/srv/p");
    for i in 0..8 {
        let sum = inside(&c, "/srv/p", &format!("sha256sum < w{i}"));
        let want = crate::util::sha256(format!("{i}\n").repeat(10_000).as_bytes());
        assert!(sum.starts_with(&want), "w{i}");
    }
    let counted = inside(
        &c,
        "/srv/p",
        "sort shared.log | uniq -c | awk '{print $1}' | sort -u",
    );
    assert_eq!(counted, "50", "every appended line, none lost");
    assert!(!inside(&c, "/srv/p", "ls -A").contains(".dbx-"));
}

#[test]
fn eight_processes_create_one_new_file_at_once() {
    let Some((mut sb, sh)) = mount_ready() else {
        return;
    };
    let c = sb.run("creators", DEBIAN, &[]);
    sb.exec(&c, &["mkdir", "/srv/p"]);
    let m = Mounted::new(&sh, &[]);
    let dir = m.at(&c, "/srv/p");
    let start = tempfile::tempdir().unwrap();
    // Each round a name nobody made yet, opened for appending by 8 processes started at once:
    // all join the one file being created, whichever lands it, and no line is lost.
    for round in 0..4 {
        let name = format!("shared{round}.log");
        let go = start.path().join(format!("go{round}"));
        let kids: Vec<Child> = (0..8)
            .map(|i| {
                let script = format!(
                    "while ! test -e {go}; do :; done; exec 3>>{name} || exit 1; \
                     for n in $(seq 50); do echo 'line {i}' >&3 || exit 1; done",
                    go = go.display()
                );
                Command::new("sh")
                    .args(["-c", &script])
                    .current_dir(&dir)
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        std::fs::write(&go, b"").unwrap();
        for k in kids {
            let out = k.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        landed(&c, "/srv/p");
        let counted = inside(
            &c,
            "/srv/p",
            &format!("sort {name} | uniq -c | awk '{{print $1, $3}}' | sort"),
        );
        let want: Vec<String> = (0..8).map(|i| format!("50 {i}")).collect();
        assert_eq!(
            counted,
            want.join("\n"),
            "round {round}: every line, none lost"
        );
    }
    assert!(!inside(&c, "/srv/p", "ls -A").contains(".dbx-"));
}

#[test]
fn a_big_file_streams_through_with_flat_memory() {
    let Some((mut sb, sh)) = mount_ready() else {
        return;
    };
    let c = sb.run("big", DEBIAN, &[]);
    let m = Mounted::new(&sh, &[]);
    let f = m.at(&c, "/tmp/big");
    host(
        m.root(),
        &format!(
            "head -c 1073741824 /dev/urandom | tee '{}' | sha256sum > /tmp/dbx-mount-big-{}.sum",
            f.display(),
            m.pid()
        ),
    );
    let sum_file = format!("/tmp/dbx-mount-big-{}.sum", m.pid());
    let want = std::fs::read_to_string(&sum_file).unwrap();
    let _ = std::fs::remove_file(&sum_file);
    let want = want.split_whitespace().next().unwrap().to_string();
    landed(&c, "/tmp");
    assert_eq!(
        sb.exec(&c, &["sh", "-c", "sha256sum < /tmp/big"])
            .split_whitespace()
            .next(),
        Some(want.as_str())
    );
    let read = host(m.root(), &format!("sha256sum < '{}'", f.display()));
    assert_eq!(read.split_whitespace().next(), Some(want.as_str()));
    // The mount's own peak memory, after a gigabyte each way.
    let status = std::fs::read_to_string(format!("/proc/{}/status", m.pid())).unwrap();
    let hwm_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(hwm_kb < 200 * 1024, "peak memory {hwm_kb} kB");
}

#[test]
fn containers_stop_restart_and_go_under_the_mount() {
    let Some((mut sb, sh)) = mount_ready() else {
        return;
    };
    let c = sb.run("life", DEBIAN, &[]);
    let s = sb.run("scratch", SCRATCH, &[]);
    let never = sb.create("never", DEBIAN);
    let m = Mounted::new(&sh, &[]);
    // Scratch and never-started containers are there too.
    assert!(host(&m.at(&s, "/"), "ls").contains("pause"));
    assert_eq!(
        std::fs::read_to_string(m.at(&never, "/etc/debian_version")).unwrap(),
        sb.exec(&c, &["cat", "/etc/debian_version"]) + "\n"
    );
    // A stopped container takes new files (whole, at close), as cp does.
    std::fs::write(m.at(&never, "/tmp/note"), b"to a stopped one").unwrap();
    let out = tempfile::tempdir().unwrap();
    // Uploaded at the last close, which the kernel reports just after close(2) returned.
    wait_until("the upload into the stopped container", || {
        Command::new("docker")
            .args([
                "cp",
                &format!("{never}:/tmp/note"),
                &out.path().to_string_lossy(),
            ])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    assert_eq!(
        std::fs::read(out.path().join("note")).unwrap(),
        b"to a stopped one"
    );
    // Stopped, then started again under the mount.
    std::fs::write(m.at(&c, "/tmp/one"), b"1").unwrap();
    docker(&["stop", "-t", "0", &c]);
    wait_until("the stopped container read through the mount", || {
        std::fs::read(m.at(&c, "/tmp/one")).is_ok_and(|b| b == b"1")
    });
    docker(&["start", &c]);
    wait_until("a write after the restart", || {
        std::fs::write(m.at(&c, "/tmp/two"), b"2").is_ok()
            && Command::new("docker")
                .args(["exec", &c, "cat", "/tmp/two"])
                .output()
                .is_ok_and(|o| o.stdout == b"2")
    });
    // Removed: ENOENT, and nothing hangs.
    docker(&["rm", "-f", &c]);
    wait_until("the removed container to be gone", || {
        std::fs::metadata(m.at(&c, "/tmp/one"))
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    });
    assert!(!host(&m.root().join("containers"), "ls")
        .lines()
        .any(|l| l == c));
}

#[test]
fn the_mount_ends_cleanly_and_says_why_it_cannot_start() {
    let Some((mut sb, sh)) = mount_ready() else {
        return;
    };
    let c = sb.run("ends", DEBIAN, &[]);
    // Read-only: reads work, writes are EROFS.
    let mut m = Mounted::new(&sh, &["-o", "ro"]);
    assert!(std::fs::read(m.at(&c, "/etc/hostname")).is_ok());
    let e = std::fs::write(m.at(&c, "/tmp/x"), b"x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS));
    // SIGTERM unmounts and ends with 0.
    let dir = m.root().to_path_buf();
    assert_eq!(m.stop(), 0);
    assert!(!mounted(&dir));
    // --background returns once the mount answers; unmounting ends the server.
    let bg = tempfile::tempdir().unwrap();
    let r = sh.args(&["mount", "--background", &bg.path().to_string_lossy()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(mounted(bg.path()));
    assert!(host(&bg.path().join("containers"), "ls")
        .lines()
        .any(|l| l == c));
    host(Path::new("/"), &format!("umount '{}'", bg.path().display()));
    wait_until("the background server to end", || {
        !Command::new("pgrep")
            .args(["-f", &format!("mount --background {}", bg.path().display())])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty())
    });
    // Errors: one line, nonzero.
    let r = sh.args(&["mount", "/nonexistent-dbx-mount"]);
    assert_ne!(r.status, 0);
    assert_eq!(
        r.stderr,
        "dockerbox: mount: /nonexistent-dbx-mount: No such file or directory\n"
    );
    let r = sh.args(&["mount", "-o", "exec", &bg.path().to_string_lossy()]);
    assert_ne!(r.status, 0);
    assert_eq!(
        r.stderr,
        "dockerbox: mount: -o exec: unknown option (ro, rw, allow_other, writeback_cache)\n"
    );
}

#[test]
fn kept_answers_follow_the_engines_events_and_small_writes_land_at_close() {
    use std::io::Write;
    let Some((mut sb, sh)) = mount_ready() else {
        return;
    };
    let c = sb.run("kept", DEBIAN, &[]);
    sb.exec(&c, &["sh", "-c", "mkdir /srv/d && echo one > /srv/d/f"]);
    // Answers kept for an hour: only the engine's events can show what changed inside.
    let m = Mounted::new_with(&sh, &[], &[("DOCKERBOX_MOUNT_TTL", "3600")]);
    let dir = m.at(&c, "/srv/d");
    let names = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    assert_eq!(std::fs::read_to_string(dir.join("f")).unwrap(), "one\n");
    assert_eq!(names(&dir), ["f"]);
    assert_eq!(std::fs::metadata(dir.join("f")).unwrap().len(), 4);
    // Changed by an exec: seen once it ended (the engine's exec_die), listing and sizes too.
    sb.exec(
        &c,
        &["sh", "-c", "echo second > /srv/d/f && echo new > /srv/d/g"],
    );
    wait_until("the exec's changes through the mount", || {
        std::fs::read_to_string(dir.join("f")).is_ok_and(|s| s == "second\n")
            && names(&dir) == ["f", "g"]
            && std::fs::metadata(dir.join("f")).is_ok_and(|m| m.len() == 7)
    });
    // `docker cp` into it (extract-to-dir).
    let src = host_tree(&[("h", b"copied\n", 0o644)]);
    docker(&[
        "cp",
        &src.path().join("h").to_string_lossy(),
        &format!("{c}:/srv/d/h"),
    ]);
    wait_until("the copied file through the mount", || {
        names(&dir) == ["f", "g", "h"]
    });
    // Small writes are gathered: the file shows every write answered, to the writer and to
    // a reader beside it, and close(2) returns once they are all in the container.
    {
        let mut w = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(dir.join("f"))
            .unwrap();
        for _ in 0..1000 {
            w.write_all(b"0123456789").unwrap();
        }
        assert_eq!(w.metadata().unwrap().len(), 10_000);
        assert_eq!(std::fs::metadata(dir.join("f")).unwrap().len(), 10_000);
        assert_eq!(
            std::fs::read(dir.join("f")).unwrap(),
            b"0123456789".repeat(1000)
        );
    }
    assert_eq!(sb.exec(&c, &["wc", "-c", "/srv/d/f"]), "10000 /srv/d/f");
    // A new file of small writes is at its name, whole, when close(2) returns.
    let want: String = (0..5000).map(|i| format!("{i}\n")).collect();
    {
        let mut w = std::fs::File::create(dir.join("n")).unwrap();
        for i in 0..5000 {
            writeln!(w, "{i}").unwrap();
        }
    }
    let sum = sb.exec(&c, &["sha256sum", "/srv/d/n"]);
    assert!(
        sum.starts_with(&crate::util::sha256(want.as_bytes())),
        "{sum}"
    );
    // Appends gathered still append, after what the container wrote meanwhile.
    {
        let mut a = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("g"))
            .unwrap();
        writeln!(a, "mine 1").unwrap();
        sb.exec(&c, &["sh", "-c", "echo theirs >> /srv/d/g"]);
        writeln!(a, "mine 2").unwrap();
    }
    let g = sb.exec(&c, &["cat", "/srv/d/g"]);
    assert!(
        g == "new\nmine 1\ntheirs\nmine 2" || g == "new\ntheirs\nmine 1\nmine 2",
        "{g}"
    );
    assert_eq!(std::fs::read_to_string(dir.join("g")).unwrap(), g + "\n");
    assert!(!inside(&c, "/srv/d", "ls -A").contains(".dbx-"));
}

#[test]
fn writeback_cache_keeps_new_files_whole_and_writes_in_place_and_at_the_end() {
    use std::io::{Seek, SeekFrom, Write};
    let Some((mut sb, sh)) = mount_ready() else {
        return;
    };
    let c = sb.run("wb", DEBIAN, &[]);
    sb.exec(
        &c,
        &[
            "sh",
            "-c",
            "printf abcdefghij > /srv/old && echo log > /srv/log",
        ],
    );
    let m = Mounted::new(&sh, &["-o", "writeback_cache"]);
    // A new file of 4 KiB writes, as `head -c` writes: whole at its name when close(2)
    // returns, no temporary left.
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    {
        let mut w = std::fs::File::create(m.at(&c, "/srv/new")).unwrap();
        for block in data.chunks(4096) {
            w.write_all(block).unwrap();
        }
    }
    let sum = sb.exec(&c, &["sha256sum", "/srv/new"]);
    assert!(sum.starts_with(&crate::util::sha256(&data)), "{sum}");
    assert_eq!(std::fs::read(m.at(&c, "/srv/new")).unwrap(), data);
    assert!(!inside(&c, "/srv", "ls -A").contains(".dbx-"));
    // In place, in the middle of an existing file.
    {
        let mut w = std::fs::OpenOptions::new()
            .write(true)
            .open(m.at(&c, "/srv/old"))
            .unwrap();
        w.seek(SeekFrom::Start(3)).unwrap();
        w.write_all(b"XY").unwrap();
    }
    assert_eq!(sb.exec(&c, &["cat", "/srv/old"]), "abcXYfghij");
    // O_APPEND: at the end (the kernel's, of a file nobody else writes meanwhile).
    {
        let mut a = std::fs::OpenOptions::new()
            .append(true)
            .open(m.at(&c, "/srv/log"))
            .unwrap();
        writeln!(a, "more").unwrap();
        writeln!(a, "again").unwrap();
    }
    assert_eq!(sb.exec(&c, &["cat", "/srv/log"]), "log\nmore\nagain");
    assert_eq!(
        std::fs::read_to_string(m.at(&c, "/srv/log")).unwrap(),
        "log\nmore\nagain\n"
    );
}

/// `stat -c FORMAT` of a path under the mount, on the host.
fn host_stat(fmt: &str, p: &Path) -> String {
    let out = Command::new("stat")
        .args(["-c", fmt])
        .arg(p)
        .env("TZ", "UTC")
        .output()
        .expect("stat");
    assert!(
        out.status.success(),
        "stat {}: {}",
        p.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

#[test]
fn fifos_sockets_and_devices_are_made_through_the_mount() {
    let Some((mut sb, sh)) = mount_ready() else {
        return;
    };
    let c = sb.run("special", DEBIAN, &[]);
    let never = sb.create("special-stopped", DEBIAN);
    let m = Mounted::new(&sh, &[]);
    let stat_in = |p: &str| sb.exec(&c, &["stat", "-c", "%F %a %t %T", p]);
    // A fifo: the container's own kind and mode, and the same through the mount.
    host(&m.at(&c, "/tmp"), "mkfifo -m 0640 f");
    assert_eq!(stat_in("/tmp/f"), "fifo 640 0 0");
    assert_eq!(host_stat("%F %a", &m.at(&c, "/tmp/f")), "fifo 640");
    // A socket, as bind(2) makes it (the kernel asks for mknod S_IFSOCK).
    let sock = m.at(&c, "/tmp/s");
    assert!(sock.as_os_str().len() < 108, "{}", sock.display());
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    drop(listener);
    assert!(
        stat_in("/tmp/s").starts_with("socket "),
        "{}",
        stat_in("/tmp/s")
    );
    // A character device: the test container may make one (Docker gives CAP_MKNOD).
    host(&m.at(&c, "/tmp"), "mknod -m 0666 null c 1 3");
    assert_eq!(stat_in("/tmp/null"), "character special file 666 1 3");
    assert_eq!(
        host_stat("%F %t %T", &m.at(&c, "/tmp/null")),
        "character special file 1 3"
    );
    // The listing's types are the container's.
    let types = "find . -maxdepth 1 -printf '%y %f\\n' | sort";
    same(
        &host(&m.at(&c, "/tmp"), types),
        &inside(&c, "/tmp", types),
        "find -printf %y of /tmp",
    );
    // A name that is there is EEXIST, from the container.
    let e = Command::new("mkfifo")
        .arg(m.at(&c, "/tmp/f"))
        .output()
        .expect("mkfifo");
    assert!(!e.status.success());
    assert!(
        String::from_utf8_lossy(&e.stderr).contains("File exists"),
        "{}",
        String::from_utf8_lossy(&e.stderr)
    );
    // A stopped container takes a fifo through the archive; a socket has no tar entry: EROFS.
    host(&m.at(&never, "/tmp"), "mkfifo -m 0600 g");
    assert_eq!(host_stat("%F %a", &m.at(&never, "/tmp/g")), "fifo 600");
    let listed = Command::new("sh")
        .args(["-c", &format!("docker cp {never}:/tmp/g - | tar tvf -")])
        .output()
        .expect("docker cp");
    assert!(
        String::from_utf8_lossy(&listed.stdout).starts_with("prw-------"),
        "{}",
        String::from_utf8_lossy(&listed.stdout)
    );
    // A device too (the engine makes it, as for `docker cp`), and the listing's types.
    host(&m.at(&never, "/tmp"), "mknod -m 0600 n c 1 3");
    let listed = Command::new("sh")
        .args(["-c", &format!("docker cp {never}:/tmp/n - | tar tvf -")])
        .output()
        .expect("docker cp");
    assert!(
        String::from_utf8_lossy(&listed.stdout).starts_with("crw-------"),
        "{}",
        String::from_utf8_lossy(&listed.stdout)
    );
    assert_eq!(
        host(
            &m.at(&never, "/tmp"),
            "find . -maxdepth 1 -name '[gn]' -printf '%y %f\\n' | sort"
        ),
        "c n\np g\n"
    );
    assert_eq!(
        host_stat("%F %t %T", &m.at(&never, "/tmp/n")),
        "character special file 1 3"
    );
    let e = std::os::unix::net::UnixListener::bind(m.at(&never, "/tmp/s")).expect_err("bind");
    assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
}

#[test]
fn times_set_through_the_mount_are_the_containers() {
    let Some((mut sb, sh)) = mount_ready() else {
        return;
    };
    let c = sb.run("times", DEBIAN, &[]);
    let m = Mounted::new(&sh, &[]);
    let t = m.at(&c, "/tmp/t");
    std::fs::write(&t, b"x").unwrap();
    landed(&c, "/tmp");
    let stat_in = |fmt: &str| inside(&c, "/tmp", &format!("stat -c '{fmt}' t"));
    // touch -d: mtime and atime to the nanosecond, as the container's stat shows them.
    host(
        &m.at(&c, "/tmp"),
        "touch -d '2001-02-03 04:05:06.789123456' t",
    );
    assert_eq!(stat_in("%y"), "2001-02-03 04:05:06.789123456 +0000");
    assert_eq!(stat_in("%x"), "2001-02-03 04:05:06.789123456 +0000");
    // -m leaves the atime (UTIME_OMIT), -a the mtime.
    host(&m.at(&c, "/tmp"), "touch -m -d '2002-01-01 00:00:00.5' t");
    host(&m.at(&c, "/tmp"), "touch -a -d '1999-12-31 23:59:59' t");
    assert_eq!(stat_in("%y"), "2002-01-01 00:00:00.500000000 +0000");
    assert_eq!(stat_in("%x"), "1999-12-31 23:59:59.000000000 +0000");
    // Through the mount: the same three times, the ctime the container's own (not the mtime).
    let all = "%x|%y|%z";
    wait_until("the mount's times to be the container's", || {
        host_stat(all, &t) == stat_in(all)
    });
    assert!(!host_stat("%z", &t).starts_with("2002-01-01"), "ctime");
    // UTIME_NOW: a time of now, from the container's clock.
    host(&m.at(&c, "/tmp"), "touch -m t");
    assert!(!stat_in("%y").starts_with("2002"), "{}", stat_in("%y"));
    // chmod, chown, rename and a write move the ctime.
    for (what, script) in [
        ("chmod", "chmod 600 t"),
        ("chown", "chown 1:1 t"),
        ("rename", "mv t u && mv u t"),
        ("write", "echo more >> t"),
    ] {
        let before = stat_in("%z");
        wait_until(&format!("{what} to move the ctime"), || {
            host(&m.at(&c, "/tmp"), script);
            stat_in("%z") != before
        });
        wait_until(&format!("the mount's ctime after {what}"), || {
            host_stat("%z", &t) == stat_in("%z")
        });
    }
}

#[test]
fn a_reused_inode_is_never_the_node_of_a_file_still_held() {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let Some((mut sb, sh)) = mount_ready() else {
        return;
    };
    let c = sb.run("reuse", DEBIAN, &[]);
    sb.exec(&c, &["sh", "-c", "mkdir /srv/r && echo old > /srv/r/a"]);
    let m = Mounted::new(&sh, &[]);
    let dir = m.at(&c, "/srv/r");
    // O_PATH: the kernel holds the node, but the server opens nothing, so the container's
    // filesystem frees the inode as soon as the name goes (ext4 hands it out again next).
    let hold = |p: &Path| {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open(p)
            .unwrap()
    };
    let reopened = |f: &std::fs::File| std::fs::read(format!("/proc/self/fd/{}", f.as_raw_fd()));
    let held = hold(&dir.join("a"));
    let held_ino = held.metadata().unwrap().ino();
    let inode_a = sb.exec(&c, &["stat", "-c", "%i", "/srv/r/a"]);
    // Removed and a new file made outside the mount.
    sb.exec(&c, &["sh", "-c", "rm /srv/r/a && echo new > /srv/r/b"]);
    if sb.exec(&c, &["stat", "-c", "%i", "/srv/r/b"]) != inode_a {
        eprintln!("the container's filesystem did not reuse the inode (outside the mount)");
    }
    let b = std::fs::metadata(dir.join("b")).unwrap();
    assert_ne!(b.ino(), 0);
    assert_ne!(b.ino(), held_ino, "the new file is not the held node");
    assert_eq!(std::fs::read(dir.join("b")).unwrap(), b"new\n");
    let r = reopened(&held);
    assert!(
        r.as_deref().map_or(true, |d| d != b"new\n"),
        "the held node reads another file's bytes: {r:?}"
    );
    // The same through the mount alone: unlinked while held, then a new file made there.
    std::fs::write(dir.join("c"), b"one\n").unwrap();
    landed(&c, "/srv/r");
    let held2 = hold(&dir.join("c"));
    let held2_ino = held2.metadata().unwrap().ino();
    let inode_c = sb.exec(&c, &["stat", "-c", "%i", "/srv/r/c"]);
    std::fs::remove_file(dir.join("c")).unwrap();
    std::fs::write(dir.join("d"), b"two\n").unwrap();
    landed(&c, "/srv/r");
    if sb.exec(&c, &["stat", "-c", "%i", "/srv/r/d"]) != inode_c {
        eprintln!("the container's filesystem did not reuse the inode (through the mount)");
    }
    let d = std::fs::metadata(dir.join("d")).unwrap();
    assert_ne!(d.ino(), held2_ino, "the new file is not the held node");
    assert_eq!(std::fs::read(dir.join("d")).unwrap(), b"two\n");
    let r = reopened(&held2);
    assert!(
        r.as_deref().map_or(true, |d| d != b"two\n"),
        "the held node reads another file's bytes: {r:?}"
    );
    // Writes to the new file reach it alone.
    std::fs::write(dir.join("d"), b"three\n").unwrap();
    assert_eq!(sb.exec(&c, &["cat", "/srv/r/d"]), "three");
    drop((held, held2));
    // `ls -i` (readdir's numbers): never 0. (A fresh id goes back to the file's identity's
    // once the kernel forgot both nodes.)
    let listed = host(&dir, "ls -i");
    for name in ["b", "d"] {
        let n: u64 = listed
            .lines()
            .find_map(|l| l.trim().strip_suffix(&format!(" {name}"))?.parse().ok())
            .unwrap_or(0);
        assert_ne!(n, 0, "{name} in {listed}");
    }
}

#[test]
fn rsync_checksum_and_make_on_container_files() {
    let Some((mut sb, sh)) = mount_ready() else {
        return;
    };
    let have = |p: &str| Command::new(p).arg("--version").output().is_ok();
    if !have("rsync") || !have("make") {
        eprintln!("skipping: no rsync or make on this host");
        return;
    }
    let c = sb.run("rsync", DEBIAN, &[]);
    let m = Mounted::new(&sh, &[]);
    let src = host_tree(&[
        ("a.txt", b"alpha\n", 0o644),
        ("sub/b.bin", &[0u8, 1, 2, 255, 10], 0o600),
        ("sub/c", b"same size 1\n", 0o640),
        ("with space/-dash", b"d\n", 0o755),
    ]);
    host(
        src.path(),
        "ln -s a.txt link && touch -h -d @1400000000 link && touch -d @1500000000 sub/c",
    );
    let dest = m.at(&c, "/srv/sync");
    let d = dest.display();
    host(src.path(), &format!("rsync -a --checksum ./ '{d}/'"));
    landed(&c, "/srv/sync");
    // As the container sees it (times to the second: the host's tmpfs has nanoseconds).
    let tree = "find . -printf '%p %y %s %m %l %T@\\n' | sed -E 's/\\.[0-9]+$//' | sort && \
                find . -type f | sort | xargs -d '\\n' sha256sum";
    same(
        &inside(&c, "/srv/sync", tree),
        &host(src.path(), tree),
        "rsync -a into the mount",
    );
    // Again: nothing to do.
    let again = host(src.path(), &format!("rsync -a --checksum -i ./ '{d}/'"));
    assert_eq!(again, "", "a second rsync found differences");
    // Changed inside with its size and mtime kept: only the checksum sees it, and it comes
    // back out.
    sb.exec(
        &c,
        &[
            "sh",
            "-c",
            "printf 'same size 2\\n' > /srv/sync/sub/c && touch -d @1500000000 /srv/sync/sub/c",
        ],
    );
    let back = tempfile::tempdir().unwrap();
    host(
        back.path(),
        &format!("cp -a '{}/.' .", src.path().display()),
    );
    let moved = host(back.path(), &format!("rsync -a --checksum -i '{d}/' ./"));
    let lines: Vec<&str> = moved.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with(">f") && lines[0].ends_with(" sub/c"),
        "{moved}"
    );
    assert_eq!(
        std::fs::read(back.path().join("sub/c")).unwrap(),
        b"same size 2\n"
    );
    // make: a host target built from a container's file, rebuilt exactly when it changed.
    sb.exec(&c, &["sh", "-c", "echo v1 > /etc/app.conf"]);
    let conf = m.at(&c, "/etc/app.conf");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("Makefile"),
        format!("out: {0}\n\tcp {0} out\n", conf.display()),
    )
    .unwrap();
    let up_to_date = || {
        Command::new("make")
            .args(["-q", "out"])
            .current_dir(work.path())
            .status()
            .is_ok_and(|s| s.success())
    };
    host(work.path(), "make -s out");
    assert_eq!(std::fs::read(work.path().join("out")).unwrap(), b"v1\n");
    assert!(up_to_date());
    host(work.path(), "make -s out");
    sb.exec(&c, &["sh", "-c", "echo v2 > /etc/app.conf"]);
    wait_until("make to see the container's file changed", || !up_to_date());
    host(work.path(), "make -s out");
    assert_eq!(std::fs::read(work.path().join("out")).unwrap(), b"v2\n");
    assert!(up_to_date());
}

#[test]
fn a_new_file_unlinked_while_open_lives_until_its_close() {
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::FileExt;
    let Some((mut sb, sh)) = mount_ready() else {
        return;
    };
    let c = sb.run("orphan", DEBIAN, &[]);
    sb.exec(&c, &["mkdir", "/srv/o"]);
    let m = Mounted::new(&sh, &[]);
    let dir = m.at(&c, "/srv/o");
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(dir.join("scratch"))
        .unwrap();
    f.write_all(b"before ").unwrap();
    std::fs::remove_file(dir.join("scratch")).unwrap();
    // Gone from its directory, still a file with no link to whoever holds it.
    assert!(std::fs::metadata(dir.join("scratch")).is_err());
    assert_eq!(host(&dir, "ls -A"), "");
    f.write_all(b"after").unwrap();
    assert_eq!(f.metadata().unwrap().nlink(), 0);
    let mut buf = [0u8; 12];
    f.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"before after");
    f.rewind().unwrap();
    let mut all = String::new();
    f.read_to_string(&mut all).unwrap();
    assert_eq!(all, "before after");
    drop(f);
    // Closed: nothing of it is left in the container.
    landed(&c, "/srv/o");
    assert_eq!(inside(&c, "/srv/o", "ls -A"), "");
    // An existing file written, then unlinked: its writer still writes and fstats it (the
    // direct path holds the host file from the first write on; the rest goes by path). Its
    // link count is the container filesystem's word: fuse-overlayfs says 1.
    sb.exec(&c, &["sh", "-c", "echo kept > /srv/o/old"]);
    let w = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("old"))
        .unwrap();
    w.write_all_at(b"K", 0).unwrap();
    assert_eq!(w.metadata().unwrap().nlink(), 1);
    std::fs::remove_file(dir.join("old")).unwrap();
    w.write_all_at(b"L", 1).unwrap();
    assert_eq!(w.metadata().unwrap().len(), 5);
    drop(w);
    assert_eq!(inside(&c, "/srv/o", "ls -A"), "");
}
