//! Faults in the middle of a command: the agent killed or frozen, the container killed or
//! removed, an engine frozen. The command fails soon with a clear error, and the REPL always
//! comes back to the prompt.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::repl::tmux_available;
use crate::util::{docker, Run, Sandbox, TestShell, Tmux, BUSYBOX};

/// Waits (up to `secs`) until `f` holds; panics naming `what` otherwise.
fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The host PID of the dockerbox agent running in `c`, if one runs.
fn agent_pid(c: &str) -> Option<String> {
    let top = docker(&["top", c, "-o", "pid,args"]);
    top.lines()
        .find(|l| l.contains("/.dbx-agent-"))
        .and_then(|l| l.split_whitespace().next())
        .map(str::to_string)
}

fn signal(pid: &str, sig: &str) {
    let st = Command::new("kill").args([sig, pid]).status().unwrap();
    assert!(st.success(), "kill {sig} {pid}");
}

/// Whether a temporary of `cp` into `c:/tmp/big` exists yet.
fn copy_started(c: &str) -> bool {
    Command::new("docker")
        .args(["exec", c, "ls", "-a", "/tmp"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(".big.dbx-"))
}

/// Waits (generously) for a spawned dockerbox to end.
fn finish(mut child: Child, after: &str) -> Run {
    wait_until(&format!("dockerbox to end after {after}"), 30, || {
        child.try_wait().is_ok_and(|s| s.is_some())
    });
    child.wait_with_output().unwrap().into()
}

/// `cp` of a 4 GiB (sparse) host file into `c` through the agent, stopped midway by `fault`:
/// the copy must end soon (it took ~100 s: a write blocked on the dead exec's stdin) with
/// `want` in its message.
fn copy_cut_by(test: &str, fault: impl FnOnce(&Sandbox, &str), want: &[&str]) {
    let Some(mut sb) = Sandbox::new(test) else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let sh = TestShell::new().env("DOCKERBOX_DIRECT", "0");
    let child = sh
        .command()
        .args(["--agent", "always", "-c"])
        .arg(format!("cp {} /containers/{c}/tmp/big", big.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the copy to start", 60, || copy_started(&c));
    fault(&sb, &c);
    let r = finish(child, test);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let line = r.stderr.lines().last().unwrap_or("").to_string();
    assert!(line.starts_with("dockerbox: cp: "), "{}", r.stderr);
    assert!(
        line.contains(&format!("/containers/{c}/tmp/big")),
        "{}",
        r.stderr
    );
    assert!(want.iter().any(|w| line.ends_with(w)), "{}", r.stderr);
    // Nothing of ours stays: the next dockerbox to reach the container (started again if the
    // fault stopped it) removes the temporary the dead writer could not.
    let state = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Running}}", &c])
        .output()
        .unwrap();
    if !state.status.success() {
        return; // removed, and everything with it
    }
    if String::from_utf8_lossy(&state.stdout).trim() != "true" {
        docker(&["start", &c]);
    }
    let r = sh.c(&format!("ls /containers/{c}/tmp"));
    assert_eq!((r.status, r.stderr.as_str()), (0, ""));
    let diff = docker(&["diff", &c]);
    assert!(!diff.contains("dbx-"), "docker diff after {test}:\n{diff}");
}

#[test]
fn a_killed_agent_ends_the_copy_at_once() {
    copy_cut_by(
        "fault-agent",
        |_, c| signal(&agent_pid(c).unwrap(), "-KILL"),
        &["the agent was killed (signal 9)"],
    );
}

#[test]
fn a_killed_container_ends_the_copy_at_once() {
    copy_cut_by(
        "fault-kill",
        |_, c| {
            docker(&["kill", c]);
        },
        &["the container stopped"],
    );
}

#[test]
fn a_removed_container_ends_the_copy_at_once() {
    copy_cut_by(
        "fault-rm",
        |_, c| {
            docker(&["rm", "-f", c]);
        },
        &["the container stopped", "the container was removed"],
    );
}

/// A host script that stops (SIGSTOP) or continues the agent of a container, so one dockerbox
/// session can freeze the agent it started.
fn signal_script(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("agent-signal.sh");
    std::fs::write(
        &p,
        "#!/bin/sh\n# agent-signal.sh CONTAINER SIGNAL\nfor pid in $(docker top \"$1\" -o pid,args | awk '/\\/.dbx-agent-/{print $1}'); do kill -\"$2\" \"$pid\"; done\n",
    )
    .unwrap();
    p
}

#[test]
fn a_frozen_agent_stalls_the_read_with_a_message_naming_the_engine() {
    let Some(mut sb) = Sandbox::new("fault-stall") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let dir = tempfile::tempdir().unwrap();
    let script = signal_script(dir.path());
    let sh = TestShell::new()
        .env("DOCKERBOX_DIRECT", "0")
        .env("DOCKERBOX_STALL_SECS", "2")
        .opts(&["--agent", "always"]);
    let input = format!(
        "ls /containers/{c}/etc/os-release\nsh {s} {c} STOP\ncat /containers/{c}/etc/passwd\nsh {s} {c} CONT\n",
        s = script.display()
    );
    let r = sh.stdin(input.as_bytes());
    let _ = Command::new("sh")
        .arg(&script)
        .args([c.as_str(), "CONT"])
        .status();
    assert_eq!(
        r.stderr.trim_end(),
        format!(
            "dockerbox: cat: /containers/{c}/etc/passwd: no progress for 2 s from the agent \
             in {c} on unix:///var/run/docker.sock"
        ),
        "{}",
        r.out()
    );
    assert!(r
        .out()
        .starts_with(&format!("/containers/{c}/etc/os-release\n")));
    assert!(!r.out().contains("root:x:0"), "{}", r.out());
}

#[test]
fn ctrl_c_comes_back_from_a_frozen_agent() {
    let Some(mut sb) = Sandbox::new("fault-freeze") else {
        return;
    };
    if !tmux_available() {
        return;
    }
    let c = sb.run("c", BUSYBOX, &[]);
    let sh = TestShell::new().env("DOCKERBOX_DIRECT", "0");
    let t = Tmux::start(&sh, &["--agent", "always"]);
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&[&format!("ls /containers/{c}/etc/os-release"), "Enter"]);
    t.wait_for("the listing", |s| {
        s.contains(&format!("\n/containers/{c}/etc/os-release\n"))
    });
    // `--agent always`: the listing came from the agent, so it runs.
    let mut pid = None;
    wait_until("the agent", 60, || {
        pid = agent_pid(&c);
        pid.is_some()
    });
    let pid = pid.unwrap();
    signal(&pid, "-STOP");
    t.keys(&[&format!("cat /containers/{c}/etc/passwd"), "Enter"]);
    // Ctrl-C until the prompt is back (one typed before the command started would be lost).
    wait_until("the prompt after Ctrl-C", 30, || {
        t.keys(&["C-c"]);
        let s = t.screen(false);
        let after = s.rsplit_once("etc/passwd").map_or("", |(_, a)| a);
        after.contains("~$")
    });
    t.keys(&["echo status=$?", "Enter"]);
    let s = t.wait_for("the prompt after Ctrl-C", |s| s.contains("\nstatus=130"));
    signal(&pid, "-CONT");
    assert!(!s.contains("root:x:0"), "{s}");
    assert!(!t.exited());
}

#[test]
fn an_interrupted_fifo_read_leaves_no_reader_in_the_agent() {
    let Some(mut sb) = Sandbox::new("fault-fifo") else {
        return;
    };
    if !tmux_available() {
        return;
    }
    let c = sb.run("c", BUSYBOX, &[]);
    sb.exec(&c, &["mkfifo", "/tmp/ff"]);
    let sh = TestShell::new().env("DOCKERBOX_DIRECT", "0");
    let t = Tmux::start(&sh, &["--agent", "always"]);
    t.wait_for("prompt", |s| s.contains("~$"));
    // The agent starts, opens the FIFO and waits for a writer; Ctrl-C gives up on it.
    t.keys(&[&format!("cat /containers/{c}/tmp/ff"), "Enter"]);
    wait_until("the agent to open the FIFO", 30, || {
        agent_pid(&c).is_some_and(|pid| {
            std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
                fds.flatten()
                    .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.ends_with("tmp/ff")))
            })
        })
    });
    t.keys(&["C-c"]);
    t.keys(&["echo first=$?", "Enter"]);
    t.wait_for("the prompt after Ctrl-C", |s| s.contains("\nfirst=130"));
    // The agent's thread is gone with its descriptor, so the writer's data goes to the next cat.
    let pid = agent_pid(&c).unwrap();
    wait_until("the agent to close the FIFO", 30, || {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            !fds.flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.ends_with("tmp/ff")))
        })
    });
    let writer = Command::new("docker")
        .args([
            "exec",
            &c,
            "sh",
            "-c",
            "echo data-for-the-second-cat > /tmp/ff",
        ])
        .spawn()
        .unwrap();
    t.keys(&[
        &format!("cat /containers/{c}/tmp/ff; echo second=$?"),
        "Enter",
    ]);
    let s = t.wait_for("the second cat", |s| s.contains("\nsecond="));
    assert!(s.contains("\ndata-for-the-second-cat\nsecond=0"), "{s}");
    let out = writer.wait_with_output().unwrap();
    assert!(out.status.success());
}

/// An engine whose dockerd is stopped (SIGSTOP) after the REPL has seen it: Tab on a path in
/// one of its containers gives up after `--timeout`, and a command on it comes back at Ctrl-C.
#[test]
fn a_frozen_engine_never_freezes_the_repl() {
    use crate::engines::{engines_available, ExtraEngine};
    if !engines_available("a_frozen_engine_never_freezes_the_repl") || !tmux_available() {
        return;
    }
    let Some(e2) = ExtraEngine::unix("ffrz") else {
        return;
    };
    let name = format!("dbx-ffrz-{}", std::process::id());
    e2.run_container(&name, &[]);
    let pid = e2.pid().unwrap().to_string();
    let sh = TestShell::new();
    let t = Tmux::start(
        &sh,
        &[
            "--timeout",
            "2",
            "--host",
            "main=unix:///var/run/docker.sock",
            "--host",
            &format!("e2={}", e2.addr()),
        ],
    );
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&["ls /containers/e2", "Enter"]);
    t.wait_for("the listing", |s| s.contains(&format!("\n{name}\n")));
    signal(&pid, "-STOP");
    struct Cont(String);
    impl Drop for Cont {
        fn drop(&mut self) {
            let _ = Command::new("kill").args(["-CONT", &self.0]).status();
        }
    }
    let _cont = Cont(pid);
    // Tab gives up (the line stays as typed) and the line still takes keys.
    t.keys(&[&format!("ls /containers/e2/{name}/et"), "Tab"]);
    t.keys(&["c # typed after Tab"]);
    t.wait_for("the keys typed after Tab", |s| {
        s.contains(&format!("ls /containers/e2/{name}/etc # typed after Tab"))
    });
    t.keys(&["C-c"]);
    // A command on the frozen engine comes back at Ctrl-C (or at its timeout), never hangs.
    t.keys(&[&format!("cat /containers/e2/{name}/etc/passwd"), "Enter"]);
    wait_until("the prompt after Ctrl-C", 30, || {
        t.keys(&["C-c"]);
        let s = t.screen(false);
        let after = s.rsplit_once("etc/passwd").map_or("", |(_, a)| a);
        after.contains("~$")
    });
    // So does a glob that has to list a directory there.
    t.keys(&[&format!("ls /containers/e2/{name}/e*"), "Enter"]);
    wait_until("the prompt after Ctrl-C in a glob", 30, || {
        t.keys(&["C-c"]);
        let s = t.screen(false);
        let after = s.rsplit_once("/e*").map_or("", |(_, a)| a);
        after.contains("~$")
    });
    t.keys(&["echo alive", "Enter"]);
    t.wait_for("the shell to answer", |s| s.contains("\nalive\n"));
    assert!(!t.exited());
}

/// A glob over `/containers/*` with an engine down says so once and ends with status 1, as
/// `ls /containers/*` does, instead of skipping that engine silently.
#[test]
fn a_glob_over_a_down_engine_reports_it_once() {
    use crate::engines::{engines_available, ExtraEngine};
    if !engines_available("a_glob_over_a_down_engine_reports_it_once") {
        return;
    }
    let Some(mut sb) = Sandbox::new("fault-glob") else {
        return;
    };
    let Some(mut e2) = ExtraEngine::unix("fglob") else {
        return;
    };
    let on_main = sb.run("main", BUSYBOX, &[]);
    let addr = e2.addr();
    e2.kill();
    let sh = TestShell::new().opts(&[
        "--host",
        "main=unix:///var/run/docker.sock",
        "--host",
        &format!("e2={addr}"),
    ]);
    for cmd in ["ls -d", "echo"] {
        let r = sh.c(&format!("{cmd} /containers/*/{on_main}"));
        assert_eq!(
            r.out(),
            format!("/containers/main/{on_main}\n"),
            "{}",
            r.stderr
        );
        let lines: Vec<_> = r.stderr.lines().collect();
        let want = format!(
            "dockerbox: {}: /containers/e2: cannot connect to {addr}: ",
            cmd.split(' ').next().unwrap()
        );
        assert!(
            lines.len() == 1 && lines[0].starts_with(&want),
            "{}",
            r.stderr
        );
        assert_eq!(r.status, 1);
    }
}

/// A root process in the container writes into the agent's stdout (as a replaced agent could):
/// a reply to a request never sent ends the connection with a clear error, and the command
/// waiting on the agent (a `cat` of a FIFO) fails with it.
#[test]
fn a_forged_agent_reply_is_refused() {
    let Some(mut sb) = Sandbox::new("fault-forge") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    sb.exec(&c, &["mkfifo", "/tmp/ff"]);
    let sh = TestShell::new().env("DOCKERBOX_DIRECT", "0");
    let child = sh
        .command()
        .args(["--agent", "always", "-c"])
        .arg(format!("cat /containers/{c}/tmp/ff"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the agent to open the FIFO", 60, || {
        agent_pid(&c).is_some_and(|pid| {
            std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
                fds.flatten()
                    .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.ends_with("tmp/ff")))
            })
        })
    });
    // One frame: length 5, id 999, kind 101 (Ok).
    let forge = "for f in /proc/[0-9]*/cmdline; do \
                 if grep -q dbx-agent \"$f\"; then d=${f%/cmdline}; \
                 printf '\\005\\000\\000\\000\\347\\003\\000\\000\\145' > $d/fd/1; fi; done";
    sb.exec(&c, &["sh", "-c", forge]);
    let r = finish(child, "the forged reply");
    assert_eq!(
        (r.status, r.stderr.trim_end()),
        (
            1,
            format!(
                "dockerbox: cat: /containers/{c}/tmp/ff: invalid reply from the agent in {c}: \
                 a reply to request 999, which was never sent"
            )
            .as_str()
        )
    );
}

/// Bytes dockerbox (`pid`) has read so far: how far a copy got, whatever the backend.
fn bytes_read(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("rchar: ").and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// `cp` of a 4 GiB (sparse) host file into a stopped container of an extra engine (one archive
/// PUT), and `fault` done to that engine once 64 MiB went out: the copy must end with a message
/// naming the engine that ends with one of `want`. `fault` may return a dockerd it stopped, to
/// be continued before the engine is torn down.
fn archive_upload_cut_by(
    tag: &str,
    fault: impl FnOnce(&mut crate::engines::ExtraEngine) -> Option<String>,
    want: &[&str],
) {
    use crate::engines::{engines_available, ExtraEngine};
    if !engines_available(tag) {
        return;
    }
    let Some(mut e2) = ExtraEngine::unix(tag) else {
        return;
    };
    let name = e2.create_container(&format!("dbx-{tag}-{}", std::process::id()));
    let addr = e2.addr();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let sh = TestShell::new().env("DOCKERBOX_STALL_SECS", "3").opts(&[
        "--host",
        &format!("e2={addr}"),
        "--host",
        "main=unix:///var/run/docker.sock",
    ]);
    let child = sh
        .command()
        .arg("-c")
        .arg(format!(
            "cp {} /containers/e2/{name}/tmp/big",
            big.display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_until("the upload to be under way", 60, || {
        bytes_read(pid) > 64 << 20
    });
    /// Continues a stopped dockerd, also when the test fails: before the engine is dropped
    /// (declared after it), whose teardown needs it answering.
    struct Cont(Option<String>);
    impl Drop for Cont {
        fn drop(&mut self) {
            if let Some(pid) = &self.0 {
                let _ = Command::new("kill").args(["-CONT", pid]).status();
            }
        }
    }
    let _cont = Cont(fault(&mut e2));
    let r = finish(child, tag);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let line = r.stderr.lines().last().unwrap_or("").to_string();
    assert!(line.starts_with("dockerbox: cp: "), "{}", r.stderr);
    assert!(
        line.contains(&format!("/containers/e2/{name}/tmp/big")),
        "{}",
        r.stderr
    );
    assert!(line.contains(&addr), "names the engine: {}", r.stderr);
    assert!(!line.contains("hyper"), "{}", r.stderr);
    assert!(want.iter().any(|w| line.contains(w)), "{}", r.stderr);
}

/// A frozen engine (dockerd stopped with SIGSTOP) in the middle of an archive upload: the
/// stream fails after the stall limit with a message naming the engine.
#[test]
fn a_frozen_engine_stalls_an_archive_stream_with_a_message_naming_it() {
    archive_upload_cut_by(
        "fstall",
        |e2| {
            let pid = e2.pid().unwrap().to_string();
            signal(&pid, "-STOP");
            Some(pid)
        },
        &["no progress for 3 s from the engine at unix://"],
    );
}

/// An engine killed in the middle of an archive upload: the message names it, in its own
/// words rather than "Error in the hyper legacy client".
#[test]
fn an_engine_killed_mid_write_is_named() {
    archive_upload_cut_by(
        "fkilled",
        |e2| {
            e2.kill();
            None
        },
        &["lost the connection to the engine at unix://"],
    );
}
