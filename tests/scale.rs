//! Many containers: the container table that `ls /containers` answers from is kept by the
//! engine's event stream, so after containers are created, renamed, started and removed in
//! bursts by someone else (the docker CLI here), one session's `ls /containers` comes to list
//! exactly what `docker ps -a` lists; the same on two extra engines at once (the table is per
//! engine, each brought up to date from its own events). Modest in size; bench/scale.sh
//! measures 1,000 containers and ten engines of 200.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::engines::{engines_available, ExtraEngine};
use crate::util::{docker, owner, wait_until, Sandbox, TestShell, BUSYBOX, LABEL, OWNER};

/// How many containers the churn makes (and removes a part of again).
const MADE: usize = 120;
/// How many docker CLIs run at once.
const AT_ONCE: usize = 6;

/// The test's own containers, found by name prefix and owner label; removed when dropped.
struct Mine {
    prefix: String,
}

impl Mine {
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label={OWNER}={}", owner()),
            "--filter",
            &format!("name=^{}", self.prefix),
            "--format",
            "{{.Names}}",
        ])
        .lines()
        .filter(|n| n.starts_with(&self.prefix))
        .map(str::to_string)
        .collect();
        v.sort();
        v
    }
}

impl Drop for Mine {
    fn drop(&mut self) {
        let names = self.names();
        if !names.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&names)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// One dockerbox session reading commands on its stdin, answering each batch up to a marker.
struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    n: usize,
}

impl Session {
    fn start(sh: &TestShell) -> Session {
        let mut child = sh
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn dockerbox");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Session {
            child,
            stdin,
            stdout,
            n: 0,
        }
    }

    /// Runs `line` in the session and gives its output lines.
    fn run(&mut self, line: &str) -> Vec<String> {
        self.n += 1;
        let mark = format!("--done {}--", self.n);
        writeln!(self.stdin, "{line}\necho '{mark}'").expect("write to dockerbox");
        self.stdin.flush().expect("flush");
        let mut out = Vec::new();
        loop {
            let mut l = String::new();
            let n = self.stdout.read_line(&mut l).expect("read dockerbox");
            assert!(n > 0, "dockerbox ended before {mark}; so far {out:?}");
            let l = l.trim_end_matches('\n').to_string();
            if l == mark {
                return out;
            }
            out.push(l);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `f(i)` for `0..n` on [`AT_ONCE`] threads.
fn in_parallel(n: usize, f: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..AT_ONCE {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return;
                }
                f(i);
            });
        }
    });
}

#[test]
fn the_container_table_converges_after_churn() {
    // The sandbox makes sure the images exist and sweeps dead runs' containers.
    let Some(_sb) = Sandbox::new("scale") else {
        return;
    };
    let mine = Arc::new(Mine {
        prefix: format!("dbx-scale-{}-", std::process::id()),
    });
    let sh = TestShell::new();
    let mut s = Session::start(&sh);
    // The first listing starts following the engine's events.
    let first = s.run("ls /containers");
    assert!(
        !first.iter().any(|n| n.starts_with(&mine.prefix)),
        "{first:?}"
    );
    let name = |i: usize| format!("{}{i:04}", mine.prefix);
    let own = format!("{OWNER}={}", owner());
    // Churn, with listings in between answered from the table as it moves.
    in_parallel(MADE, |i| {
        let n = name(i);
        let mut args = vec![
            "create",
            "--network",
            "none",
            "--label",
            LABEL,
            "--label",
            &own,
        ];
        args.extend(["--name", &n, BUSYBOX, "sleep", "1000000"]);
        docker(&args);
    });
    s.run("ls /containers >/dev/null");
    in_parallel(MADE / 3, |i| {
        let n = name(i * 3);
        match i % 3 {
            0 => drop(docker(&["rm", "-f", &n])),
            1 => drop(docker(&["rename", &n, &format!("{n}-renamed")])),
            _ => drop(docker(&["start", &n])),
        }
    });
    s.run("ls /containers >/dev/null");
    // Some of these were renamed or removed already: the CLI's refusal is fine.
    in_parallel(MADE / 4, |i| {
        let _ = Command::new("docker")
            .args(["rm", "-f", &name(i * 4 + 1)])
            .output();
    });
    // The engine's events arrive after the CLI returns: wait for the table to catch up.
    let mut last = Vec::new();
    wait_until("ls /containers to list what docker ps -a lists", || {
        let want = mine.names();
        last = s
            .run("ls /containers")
            .into_iter()
            .filter(|n| n.starts_with(&mine.prefix))
            .collect();
        last == want
    });
    assert!(last.len() > MADE / 2, "{last:?}");
    // Running ones show as running in the long listing, which the same table answers.
    let long = s.run(&format!(
        "ls -l /containers | grep -c '^running .* {}'",
        mine.prefix
    ));
    let running = docker(&[
        "ps",
        "--filter",
        &format!("name=^{}", mine.prefix),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(long, vec![running.lines().count().to_string()]);
}

/// The names `docker ps -a` lists on an extra engine, sorted as `ls` sorts them (bytes).
fn names_on(e: &ExtraEngine) -> Vec<String> {
    let mut v: Vec<String> = e
        .docker(&["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn each_engine_s_table_converges_after_churn_on_two_engines() {
    if !engines_available("each_engine_s_table_converges_after_churn_on_two_engines") {
        return;
    }
    let (Some(a), Some(b)) = (ExtraEngine::unix("sca"), ExtraEngine::unix("scb")) else {
        return;
    };
    let sh = TestShell::new().opts(&[
        "--host",
        &format!("a={}", a.addr()),
        "--host",
        &format!("b={}", b.addr()),
    ]);
    let mut s = Session::start(&sh);
    // Both engines answer (empty) and are followed from here on.
    assert_eq!(
        s.run("ls /containers/*"),
        ["/containers/a:", "", "/containers/b:"]
    );
    // Containers made, started, renamed and removed on both engines at once by the docker CLI.
    let made = 24;
    std::thread::scope(|scope| {
        for e in [&a, &b] {
            scope.spawn(move || {
                let name = |i: usize| format!("{}-{i:02}", e.tag);
                for i in 0..made {
                    e.create_container(&name(i));
                }
                for i in (0..made).step_by(3) {
                    match i % 9 {
                        0 => drop(e.docker(&["rm", "-f", &name(i)])),
                        3 => drop(e.docker(&["rename", &name(i), &format!("{}-renamed", name(i))])),
                        _ => drop(e.docker(&["start", &name(i)])),
                    }
                }
            });
        }
    });
    // The engines' events arrive after the CLI returns: wait for both tables to catch up.
    let mut last = Vec::new();
    wait_until(
        "ls /containers/* to list what each engine's docker ps -a lists",
        || {
            let want: Vec<String> = [("a", &a), ("b", &b)]
                .iter()
                .flat_map(|(h, e)| {
                    let mut v = vec![format!("/containers/{h}:")];
                    v.extend(names_on(e));
                    v.push(String::new());
                    v
                })
                .collect();
            last = s.run("ls /containers/*");
            last == want[..want.len() - 1]
        },
    );
    // Of 24 on each, 3 were removed.
    assert_eq!(last.len(), 2 * 21 + 3, "{last:?}");
    // The engines' own lines count what their tables hold: `true` has exited by now (the
    // started ones), none runs.
    wait_until("ls -l /containers to count every container stopped", || {
        let long = s.run("ls -l /containers");
        let counts = |l: &String| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let n = |what: &str| {
                w.windows(2)
                    .find(|p| p[1] == what)
                    .map(|p| p[0].to_string())
            };
            (n("running"), n("stopped"))
        };
        let want = (Some("0".to_string()), Some("21".to_string()));
        long.len() == 2 && long.iter().all(|l| counts(l) == want)
    });
}
