//! `logs [-f]`: two containers writing at once, followed and prefixed; a TTY container's
//! output without a newline; binary output, with and without a TTY.

use std::io::Read;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

use crate::util::{wait_until, Sandbox, TestShell, BUSYBOX, LABEL};

/// A dockerbox running `line`, its stdout collected as it comes; killed when dropped.
struct Following {
    child: Child,
    got: Arc<Mutex<Vec<u8>>>,
}

impl Following {
    fn start(sh: &TestShell, line: &str) -> Following {
        let mut child = sh
            .command()
            .args(["-c", line])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dockerbox");
        let got = Arc::new(Mutex::new(Vec::new()));
        let mut out = child.stdout.take().expect("stdout");
        let sink = got.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut g) = sink.lock() {
                    g.extend_from_slice(&buf[..n]);
                }
            }
        });
        Following { child, got }
    }

    fn text(&self) -> String {
        self.got
            .lock()
            .map(|g| String::from_utf8_lossy(&g).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A container printing `NAME-N` lines, one every 0.1 s.
fn counter(sb: &mut Sandbox, short: &str) -> String {
    sb.run_cmd(
        short,
        BUSYBOX,
        &[],
        &[
            "sh",
            "-c",
            &format!("i=0; while :; do echo {short}-$i; i=$((i+1)); sleep 0.1; done"),
        ],
    )
}

#[test]
fn two_containers_are_followed_with_their_names() {
    let Some(mut sb) = Sandbox::new("logsfollow") else {
        return;
    };
    let a = counter(&mut sb, "a");
    let b = counter(&mut sb, "b");
    let sh = TestShell::new();
    // Without -f: what is there, and it ends.
    let r = sh.c(&format!("logs {a}"));
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.out().starts_with("a-0\n"), "{}", r.out());
    let f = Following::start(&sh, &format!("logs -f {a} {b}"));
    let width = a.len().max(b.len());
    let (pa, pb) = (format!("{a:<width$} | "), format!("{b:<width$} | "));
    // Lines written after the command started arrive while it runs.
    let start = r.out().lines().count();
    let late = format!("{pa}a-{}\n", start + 20);
    wait_until("new lines of both containers", || {
        let t = f.text();
        t.contains(&late) && t.contains(&format!("{pb}b-{}\n", start + 20))
    });
    // Every line is whole and carries its container's name.
    let t = f.text();
    for line in t.lines() {
        let ok = (line.starts_with(&pa) && line[pa.len()..].starts_with("a-"))
            || (line.starts_with(&pb) && line[pb.len()..].starts_with("b-"));
        assert!(ok, "{line:?} in\n{t}");
    }
}

#[test]
fn a_tty_containers_output_is_not_held_until_a_newline() {
    let Some(mut sb) = Sandbox::new("logstty") else {
        return;
    };
    // Whole lines until told to go, then a prompt without its newline. (The log driver keeps a
    // line out of the log until its newline: only output written while we follow can show.)
    let c = sb.run_cmd(
        "c",
        BUSYBOX,
        &["-t"],
        &[
            "sh",
            "-c",
            "while [ ! -e /tmp/go ]; do echo waiting; sleep 0.1; done; printf 'prompt> '; \
             sleep 1000000",
        ],
    );
    let sh = TestShell::new();
    let before = sh.c(&format!("logs {c}")).out().matches("waiting").count();
    let f = Following::start(&sh, &format!("logs -f {c}"));
    wait_until("lines written while following", || {
        f.text().matches("waiting").count() > before + 2
    });
    sb.exec(&c, &["touch", "/tmp/go"]);
    wait_until("the prompt without its newline", || {
        f.text().ends_with("prompt> ")
    });
}

#[test]
fn binary_output_is_not_misparsed() {
    let Some(mut sb) = Sandbox::new("logsbin") else {
        return;
    };
    // Bytes 0-2 first: what a frame header starts with. (The json-file log driver stores each
    // line as a JSON string: bytes that are not UTF-8 come back as U+FFFD, for `docker logs`
    // too; so the oracle is `docker logs`.)
    let script = "printf '\\001\\000\\000\\000\\002\\377bin\\n'; sleep 1000000";
    let plain = sb.run_cmd("plain", BUSYBOX, &[], &["sh", "-c", script]);
    let tty = sb.run_cmd("tty", BUSYBOX, &["-t"], &["sh", "-c", script]);
    let sh = TestShell::new();
    for c in [&plain, &tty] {
        let docker_logs = || {
            std::process::Command::new("docker")
                .args(["logs", c])
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default()
        };
        wait_until("the container's output", || {
            docker_logs().ends_with(b"bin\n") || docker_logs().ends_with(b"bin\r\n")
        });
        let r = sh.c(&format!("logs {c}"));
        assert_eq!(r.status, 0, "{}", r.stderr);
        assert_eq!(r.stdout, docker_logs(), "{c}");
        assert!(
            r.stdout.starts_with(b"\x01\x00\x00\x00\x02"),
            "{:?}",
            r.stdout
        );
    }
    let r = sh.c("logs dbx-no-such-container-here");
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("No such container"), "{}", r.stderr);
}

/// A TTY container's log over every transport dockerbox reads it on a connection of its own
/// (plain TCP, TLS, ssh): the bytes as `docker logs` gives them (binary, bytes 0-2 first), and
/// followed, a prompt without its newline at once; with a non-TTY container beside it, each
/// line prefixed with its container's name.
#[test]
fn a_tty_log_is_raw_over_tcp_tls_and_ssh() {
    use crate::engines::ExtraEngine;
    let (Some(tcp), Some(tls), Some(unix)) = (
        ExtraEngine::tcp("logs-tcp"),
        ExtraEngine::tls("logs-tls"),
        ExtraEngine::unix("logs-ssh"),
    ) else {
        return;
    };
    let Some(ssh) = unix.ssh_endpoint() else {
        return;
    };
    let script = "printf '\\001\\000\\000\\000\\002\\377bin\\n'; \
                  while [ ! -e /tmp/go ]; do echo waiting; sleep 0.1; done; printf 'prompt> '; \
                  sleep 1000000";
    let shells = [
        (
            "tcp",
            &tcp,
            TestShell::new().env("DOCKER_HOST", &tcp.addr()),
        ),
        ("tls", &tls, {
            let mut sh = TestShell::new();
            for (k, v) in tls.env() {
                sh = sh.env(&k, &v);
            }
            sh
        }),
        (
            "ssh",
            &unix,
            TestShell::new()
                .env("PATH", &ssh.path_env())
                .env("DOCKER_HOST", &ssh.addr()),
        ),
    ];
    for (way, e, sh) in shells {
        let c = format!("dbx-logs-{way}-{}", std::process::id());
        let plain = format!("{c}-plain");
        let run = |name: &str, tty: &[&str], cmd: &str| {
            let mut args = vec!["run", "-d", "--network", "none", "--label", LABEL];
            args.extend_from_slice(tty);
            args.extend_from_slice(&["--name", name, BUSYBOX, "sh", "-c", cmd]);
            e.docker(&args);
        };
        run(&c, &["-t"], script);
        run(
            &plain,
            &[],
            "i=0; while :; do echo plain-$i; i=$((i+1)); sleep 0.1; done",
        );
        let docker_logs = || {
            e.command()
                .args(["logs", &c])
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default()
        };
        wait_until("the container's first lines", || {
            docker_logs().ends_with(b"waiting\r\n")
        });
        let r = sh.c(&format!("logs {c}"));
        assert_eq!(r.status, 0, "{way}: {}", r.stderr);
        assert!(
            r.stdout.starts_with(b"\x01\x00\x00\x00\x02"),
            "{way}: {:?}",
            r.stdout
        );
        let theirs = docker_logs();
        assert!(
            theirs.starts_with(&r.stdout) || r.stdout.starts_with(&theirs),
            "{way}: {:?} vs {theirs:?}",
            r.stdout
        );
        let f = Following::start(&sh, &format!("logs -f {c} {plain}"));
        let width = c.len().max(plain.len());
        let (pc, pp) = (format!("{c:<width$} | "), format!("{plain:<width$} | "));
        wait_until("both containers followed", || {
            let t = f.text();
            t.contains(&format!("{pc}waiting")) && t.contains(&format!("{pp}plain-"))
        });
        e.docker(&["exec", &c, "touch", "/tmp/go"]);
        wait_until("the prompt without its newline", || {
            f.text().contains(&format!("{pc}prompt> "))
        });
        drop(f);
        e.docker(&["rm", "-f", &c, &plain]);
    }
}
