//! `exec`, `sh` and `bash` into containers: without a terminal (output, stdin, statuses,
//! errors, Ctrl-C, a closed pipe) and in one (tmux: an interactive shell, resizes, the
//! terminal given back as it was).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::repl::tmux_available;
use crate::util::{Sandbox, TestShell, Tmux, BUSYBOX, DEBIAN, SCRATCH};

#[test]
fn exec_runs_in_the_current_directory_and_keeps_the_status() {
    let Some(mut sb) = Sandbox::new("exec") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let sh = TestShell::new();
    let r = sh.c(&format!("cd /containers/{c}/etc; exec pwd"));
    assert_eq!((r.ok().as_str(), r.stderr.as_str()), ("/etc\n", ""));
    let r = sh.c(&format!(
        "cd /containers/{c}; exec sh -c 'echo out; echo err >&2; exit 3'"
    ));
    assert_eq!(
        (r.out().as_str(), r.stderr.as_str(), r.status),
        ("out\n", "err\n", 3)
    );
    // Arguments arrive as typed: no shell in between to split or expand them.
    let r = sh.c(&format!(
        "cd /containers/{c}/tmp; exec printf '%s|' 'a  b' '$HOME' '*' ''"
    ));
    assert_eq!(r.ok(), "a  b|$HOME|*||");
    // Without a terminal: no TTY, as docker exec without -t.
    let r = sh.c(&format!("cd /containers/{c}; exec tty"));
    assert_eq!((r.out().as_str(), r.status), ("not a tty\n", 1));
    // The container's own environment, user and the status of the last command.
    let r = sh.c(&format!("cd /containers/{c}; exec id -u; exec true"));
    assert_eq!((r.out().as_str(), r.status), ("0\n", 0));
}

#[test]
fn exec_passes_piped_stdin_and_does_not_wait_for_it() {
    let Some(mut sb) = Sandbox::new("execin") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let sh = TestShell::new();
    let mut cmd = sh.command();
    cmd.args(["-c", &format!("cd /containers/{c}; exec wc -l")]);
    let input: Vec<u8> = (0..5000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let r = {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, &input).unwrap();
        drop(stdin);
        crate::util::Run::from(child.wait_with_output().unwrap())
    };
    assert_eq!(r.ok().trim(), "5000");
    // A script on stdin: as in sh, the command reads the lines after it.
    let r = sh.stdin(format!("cd /containers/{c}\nexec cat\nnot a command\n").as_bytes());
    assert_eq!(r.ok(), "not a command\n");
    let r = sh.c(&format!("cd /containers/{c}; exec cat"));
    assert_eq!(r.ok(), "", "stdin /dev/null is an empty input");

    // Stdin open and silent: a command that does not read it still ends.
    let mut child = sh
        .command()
        .args(["-c", &format!("cd /containers/{c}; exec echo done")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _open = child.stdin.take();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(crate::util::WAIT_SECS),
            "exec waited for stdin"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "done\n");
}

/// A process that writes a lot before it reads: our stdin waiting on it must not hold up its
/// output (which would deadlock both).
#[test]
fn exec_streams_both_ways_at_once() {
    let Some(mut sb) = Sandbox::new("execboth") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let sh = TestShell::new();
    let mut child = sh
        .command()
        .args([
            "-c",
            &format!("cd /containers/{c}; exec sh -c 'head -c 8000000 /dev/zero; wc -c'"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..8 {
            if std::io::Write::write_all(&mut stdin, &chunk).is_err() {
                break;
            }
        }
    });
    let r = crate::util::Run::from(child.wait_with_output().unwrap());
    writer.join().unwrap();
    assert_eq!((r.stderr.as_str(), r.status), ("", 0));
    assert_eq!(r.stdout.len(), 8_000_000 + "8388608\n".len());
    assert!(r.stdout.ends_with(b"\0\08388608\n"));
}

#[test]
fn exec_errors() {
    let Some(mut sb) = Sandbox::new("execerr") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let stopped = sb.create("stopped", BUSYBOX);
    let sh = TestShell::new();
    let r = sh.c(&format!("cd /containers/{stopped}/etc; exec ls"));
    assert_eq!(
        (r.stderr.as_str(), r.status),
        (
            format!("dockerbox: exec: /containers/{stopped}: container is not running\n").as_str(),
            1
        )
    );
    let r = sh.c(&format!("cd /containers/{c}; exec no-such-cmd x"));
    assert_eq!(
        (r.stderr.as_str(), r.status),
        ("dockerbox: exec: no-such-cmd: command not found\n", 127)
    );
    let r = sh.c(&format!("cd /containers/{c}; exec /no/such/path"));
    assert_eq!(
        (r.stderr.as_str(), r.status),
        ("dockerbox: exec: /no/such/path: command not found\n", 127)
    );
    let r = sh.c(&format!("cd /containers/{c}; exec /etc/passwd"));
    assert_eq!(
        (r.stderr.as_str(), r.status),
        ("dockerbox: exec: /etc/passwd: Permission denied\n", 126)
    );
    let r = sh.c(&format!("cd /containers/{c}; exec echo $'caf\\351'"));
    assert_eq!(
        (r.stderr.as_str(), r.status),
        (
            "dockerbox: exec: 'caf'$'\\351': not valid UTF-8, and the Engine API takes text\n",
            1
        )
    );
    let r = sh.c(&format!(
        "cd /containers/{c}/tmp; mkdir gone; cd gone; rmdir ../gone; exec ls"
    ));
    assert_eq!(
        (r.stderr.as_str(), r.status),
        (
            format!("dockerbox: exec: /containers/{c}/tmp/gone: No such file or directory\n")
                .as_str(),
            126
        )
    );
    let r = sh.c(&format!("cd /containers/{c}; exec"));
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.starts_with("dockerbox: exec: missing command\n"),
        "{}",
        r.stderr
    );
    let r = sh.c(&format!("cd /containers/{c}; exec sh -c 'kill $$'"));
    assert_eq!((r.stderr.as_str(), r.status), ("", 143), "128 + SIGTERM");
}

#[test]
fn exec_outside_containers_runs_the_host_program() {
    let Some(mut sb) = Sandbox::new("exechost") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let sh = TestShell::new();
    let home = sh.home.path().display().to_string();
    let r = sh.c("exec sh -c 'echo host $PWD; exit 4'");
    assert_eq!(
        (r.out(), r.stderr.as_str(), r.status),
        (format!("host {home}\n"), "", 4)
    );
    // /containers itself is no container: without a mount, host programs run in the last host
    // directory (with one they run in /containers: tests/realpaths.rs).
    let plain = TestShell::new().env("DOCKERBOX_MOUNT", "0");
    let plain_home = plain.home.path().display().to_string();
    let r = plain.c("cd /containers; exec pwd; sh -c pwd");
    assert_eq!(r.ok(), format!("{plain_home}\n{plain_home}\n"));
    let r = sh.c("exec no-such-dbx-cmd");
    assert_eq!(
        (r.stderr.as_str(), r.status),
        ("dockerbox: no-such-dbx-cmd: command not found\n", 127)
    );
    // `sh` with arguments is the host's, even inside a container.
    // (Without a mount: with one, the host's sh runs in the container directory itself.)
    std::fs::write(plain.home.path().join("marker"), "on the host\n").unwrap();
    let r = plain.c(&format!(
        "cd /containers/{c}/etc; sh -c 'cat marker'; bash -c 'cat marker'"
    ));
    assert_eq!(r.ok(), "on the host\non the host\n");
}

#[test]
fn bare_sh_without_a_terminal_reads_commands_from_stdin() {
    let Some(mut sb) = Sandbox::new("shpipe") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let s = sb.run("s", SCRATCH, &[]);
    let sh = TestShell::new();
    let mut child = sh
        .command()
        .args(["-c", &format!("cd /containers/{c}/tmp; sh")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        b"echo $((6*7)); pwd; exit 5\n",
    )
    .unwrap();
    let r = crate::util::Run::from(child.wait_with_output().unwrap());
    assert_eq!((r.out().as_str(), r.status), ("42\n/tmp\n", 5));
    let r = sh.c(&format!("cd /containers/{s}; sh"));
    assert_eq!(
        (r.stderr.as_str(), r.status),
        (
            format!("dockerbox: sh: no /bin/sh in container {s}\n").as_str(),
            127
        )
    );
    let r = sh.c(&format!("cd /containers/{c}; bash"));
    assert_eq!(
        (r.stderr.as_str(), r.status),
        (
            format!("dockerbox: bash: no bash in container {c}\n").as_str(),
            127
        )
    );
}

/// Whether a process running `cmd` is in container `c`.
fn running_in(c: &str, cmd: &str) -> bool {
    let out = Command::new("docker")
        .args(["top", c, "-o", "pid,args"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().any(|l| {
        l.split_once(' ')
            .is_some_and(|(_, args)| args.trim() == cmd)
    })
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(crate::util::WAIT_SECS),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Without a TTY the API cannot signal the process; Ctrl-C stops waiting (130), and on a local
/// engine the process gets the SIGINT directly.
#[test]
fn ctrl_c_without_a_terminal_stops_the_exec() {
    let Some(mut sb) = Sandbox::new("execint") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let sh = TestShell::new();
    let child = sh
        .command()
        .args([
            "-c",
            &format!("cd /containers/{c}; exec sleep 617; echo after"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("sleep started", || running_in(&c, "sleep 617"));
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let r = crate::util::Run::from(child.wait_with_output().unwrap());
    assert_eq!(
        (r.out().as_str(), r.stderr.as_str(), r.status),
        ("", "", 130)
    );
    wait_until("sleep interrupted", || !running_in(&c, "sleep 617"));
}

/// A reader that goes away ends the exec quietly, and the process with it (local engine).
#[test]
fn a_closed_pipe_ends_the_exec() {
    let Some(mut sb) = Sandbox::new("execpipe") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let sh = TestShell::new();
    let mut child = sh
        .command()
        .args(["-c", &format!("cd /containers/{c}; exec yes dbx-yes")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 8];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    assert_eq!(&first, b"dbx-yes\n");
    let r = crate::util::Run::from(child.wait_with_output().unwrap());
    assert_eq!((r.stderr.as_str(), r.status), ("", 0));
    wait_until("yes gone", || !running_in(&c, "yes dbx-yes"));
}

/// Host `stty -g` on the REPL's terminal, saved to a file in HOME and read back.
fn host_stty(t: &Tmux, sh: &TestShell, file: &str) -> String {
    t.keys(&[&format!("cd ~; sh -c 'stty -g > {file}'"), "Enter"]);
    let path = sh.home.path().join(file);
    wait_until("stty written", || {
        std::fs::read_to_string(&path).is_ok_and(|s| s.ends_with('\n'))
    });
    std::fs::read_to_string(&path).unwrap()
}

#[test]
fn interactive_sh_in_a_busybox_container() {
    let Some(mut sb) = Sandbox::new("shtty") else {
        return;
    };
    if !tmux_available() {
        return;
    }
    let c = sb.run("c", BUSYBOX, &[]);
    let s = sb.run("s", SCRATCH, &[]);
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("~$"));
    let before = host_stty(&t, &sh, "stty-before");

    t.keys(&[&format!("cd /containers/{c}/etc"), "Enter"]);
    t.wait_for("dockerbox prompt in the container", |s| {
        s.contains(&format!("/containers/{c}/etc$"))
    });
    t.keys(&["sh", "Enter"]);
    t.wait_for("busybox prompt", |s| s.contains("/etc #"));
    t.keys(&["echo $((6*7)); tty; stty size", "Enter"]);
    t.wait_for("42, a pty and its size", |s| {
        s.contains("\n42\n") && s.contains("\n/dev/pts/") && s.contains("\n30 100\n")
    });
    t.resize(80, 20);
    t.keys(&["stty size", "Enter"]);
    t.wait_for("the new size", |s| s.contains("\n20 80\n"));
    // Ctrl-C goes to the container's terminal: it stops the command, not the shell.
    t.keys(&["sleep 60", "Enter"]);
    wait_until("sleep 60 started", || running_in(&c, "sleep 60"));
    t.keys(&["C-c"]);
    t.keys(&["echo still-in-$((2+3))", "Enter"]);
    t.wait_for("busybox still there", |s| s.contains("\nstill-in-5\n"));
    t.keys(&["exit", "Enter"]);
    t.wait_for("dockerbox prompt again", |s| {
        s.trim_end().ends_with(&format!("/containers/{c}/etc$"))
    });

    // The terminal is as it was: raw mode was undone.
    let after = host_stty(&t, &sh, "stty-after");
    assert_eq!(before, after);
    t.keys(&["echo typed-after", "Enter"]);
    t.wait_for("the line and its output", |s| {
        s.contains("$ echo typed-after\ntyped-after\n")
    });

    t.keys(&[&format!("cd /containers/{s}; sh"), "Enter"]);
    t.wait_for("no shell in scratch", |x| {
        x.contains(&format!("dockerbox: sh: no /bin/sh in container {s}\n"))
    });
    assert!(!t.exited());
}

#[test]
fn interactive_bash_in_a_debian_container() {
    let Some(mut sb) = Sandbox::new("bashtty") else {
        return;
    };
    if !tmux_available() {
        return;
    }
    let d = sb.run("d", DEBIAN, &[]);
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&[&format!("cd /containers/{d}/root; bash"), "Enter"]);
    t.wait_for("bash prompt", |s| s.contains(":~#"));
    t.keys(&["echo bash-${BASH_VERSION%%.*} $PWD", "Enter"]);
    t.wait_for("bash answers", |s| s.contains("\nbash-5 /root\n"));
    t.keys(&["C-d"]);
    t.wait_for("dockerbox prompt again", |s| {
        s.trim_end().ends_with(&format!("/containers/{d}/root$"))
    });
    // exec with a terminal: a TTY in the container too.
    t.keys(&["exec tty", "Enter"]);
    t.wait_for("a pty", |s| s.contains("\n/dev/pts/"));
}
