//! SIGTERM and SIGHUP (issue 12): the running command is interrupted as by Ctrl-C and cleans
//! up, then dockerbox ends with 128 + the signal; with nothing running it ends at once.

use std::io::Write;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Sandbox, TestShell, BUSYBOX};

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

/// Names in `dir` that look like a copy's temporary (`.NAME.dbx-...`).
fn temporaries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("dbx-"))
        .collect()
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A copy cut by SIGTERM (or SIGHUP) leaves no temporary and no file on the host, and
/// dockerbox's status says which signal ended it.
#[test]
fn sigterm_and_sighup_during_a_copy_leave_nothing_behind() {
    let Some(mut sb) = Sandbox::new("sigterm") else {
        return;
    };
    // The agent's stream from a tmpfs is slow enough to be caught mid-copy (the direct path
    // would finish at once).
    let c = sb.run("c", BUSYBOX, &["--tmpfs", "/data:size=1g"]);
    sb.exec(&c, &["sh", "-c", "head -c 600000000 /dev/zero > /data/big"]);
    let sh = TestShell::new().env("DOCKERBOX_DIRECT", "0");
    for (sig, status) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129)] {
        let dest = sh.home.path().join("copy");
        let child = sh
            .command()
            .args([
                "--agent",
                "always",
                "-c",
                &format!("cp /containers/{c}/data/big {}; echo after", dest.display()),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_until("the copy's temporary", || {
            !temporaries(sh.home.path()).is_empty()
        });
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(status), "after signal {sig}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "",
            "the line stops there"
        );
        assert_eq!(String::from_utf8_lossy(&out.stderr), "");
        assert!(!dest.exists(), "no file at the destination name");
        assert_eq!(temporaries(sh.home.path()), Vec::<String>::new());
    }
}

/// Waiting for the next line of a script (nothing running), SIGTERM ends dockerbox at once;
/// a host program that runs when it comes gets it passed on.
#[test]
fn sigterm_between_commands_ends_at_once_and_reaches_a_host_program() {
    let sh = TestShell::new();
    let mut child = sh
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"echo ready\n").unwrap();
    let mut ready = [0u8; 6];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut ready).unwrap();
    assert_eq!(&ready, b"ready\n");
    signal(&child, libc::SIGTERM);
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(143));
    drop(stdin);

    let marker = sh.home.path().join("ran-on");
    let mut child = sh
        .command()
        .arg("-c")
        .arg(format!(
            "sh -c 'trap \"echo term > {} ; exit 3\" TERM; echo up; while :; do sleep 0.05; done'",
            marker.display()
        ))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut up = [0u8; 3];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut up).unwrap();
    signal(&child, libc::SIGTERM);
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(143));
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "term\n");
}

/// A test run killed with SIGKILL never runs its `Drop`s: the next run's start removes the
/// containers of test processes that are dead (by the owner label, or the PID in the name of
/// one made without it) and leaves those of live ones (this run's, another run's).
#[test]
fn containers_of_a_killed_test_run_are_swept_by_the_next() {
    use crate::util::{docker, start_time, sweep_dead_tests, LABEL, OWNER};
    let Some(mut sb) = Sandbox::new("sweep") else {
        return;
    };
    let mine = sb.create("mine", BUSYBOX);
    // A test process that made two containers and was killed.
    let mut dead = std::process::Command::new("sleep")
        .arg("1000000")
        .spawn()
        .unwrap();
    let pid = dead.id();
    let start = start_time(pid).unwrap();
    let by_label = format!("dbx-sweep-dead-{}", std::process::id());
    let by_name = format!("dbx-sweep-old-{pid}-0-c");
    docker(&[
        "create",
        "--network",
        "none",
        "--label",
        LABEL,
        "--label",
        &format!("{OWNER}={pid}:{start}"),
        "--name",
        &by_label,
        BUSYBOX,
        "true",
    ]);
    docker(&[
        "create",
        "--network",
        "none",
        "--label",
        LABEL,
        "--name",
        &by_name,
        BUSYBOX,
        "true",
    ]);
    dead.kill().unwrap();
    dead.wait().unwrap();
    let swept = sweep_dead_tests();
    let left = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label={LABEL}"),
        "--format",
        "{{.Names}}",
    ]);
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", &by_label, &by_name])
        .output();
    assert!(
        swept.contains(&by_label) && swept.contains(&by_name),
        "{swept:?}"
    );
    assert!(
        !left.lines().any(|l| l == by_label || l == by_name),
        "{left}"
    );
    assert!(left.lines().any(|l| l == mine), "{left}");
}
