//! The integration tests' environment: containers that clean up after themselves, the built
//! binary run with a pinned environment, and a terminal (tmux) for the REPL.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long any wait in the tests may take before it fails: generous, since the machine may be
/// busy with other builds; a passing test never waits this long.
pub const WAIT_SECS: u64 = 60;

/// Waits (up to [`WAIT_SECS`]) until `f` holds, polling; panics naming `what` otherwise.
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(WAIT_SECS),
            "timed out after {WAIT_SECS} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Label on everything the tests create, so nothing else is ever touched.
pub const LABEL: &str = "dockerbox.test=1";

/// Label naming the test process that made a container (`PID:START`, its start time in clock
/// ticks after boot, so a recycled PID is not taken for it): the next run removes the
/// containers of one that died before its `Drop`s ran (SIGKILL), see [`sweep_dead_tests`].
pub const OWNER: &str = "dockerbox.test.owner";

/// This test process as [`OWNER`] names it.
pub fn owner() -> String {
    let me = std::process::id();
    format!("{me}:{}", start_time(me).unwrap_or_default())
}

/// A process's start time (field 22 of `/proc/PID/stat`), `None` when it is gone.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after its last `)`.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the test process an [`OWNER`] label names (or, for containers made without it,
/// the PID in a `dbx-TEST-PID-N-...` name) still runs.
fn owner_alive(owner: &str, name: &str) -> bool {
    if let Some((pid, start)) = owner.split_once(':') {
        let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
            return true;
        };
        return start_time(pid) == Some(start);
    }
    // `dbx-TEST-PID-N-SHORT`, where TEST and SHORT may hold dashes: the first two numbers
    // in a row.
    let parts: Vec<&str> = name.split('-').collect();
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match (1..parts.len().saturating_sub(1)).find(|&i| number(parts[i]) && number(parts[i + 1])) {
        Some(i) => parts[i]
            .parse::<u32>()
            .map_or(true, |pid| start_time(pid).is_some()),
        None => true,
    }
}

/// Removes the test containers whose test process is dead: a run killed with SIGKILL leaves
/// its containers behind, and the next run takes them away before it starts. Containers of
/// live test processes (another run going on at the same time) are left alone.
pub fn sweep_dead_tests() -> Vec<String> {
    let out = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label={LABEL}"),
        "--format",
        &format!("{{{{.ID}}}}\t{{{{.Label \"{OWNER}\"}}}}\t{{{{.Names}}}}"),
    ]);
    let mut swept = Vec::new();
    for line in out.lines() {
        let mut f = line.splitn(3, '\t');
        let (Some(id), Some(owner), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if !owner_alive(owner, name) {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v", id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            swept.push(name.to_string());
        }
    }
    swept
}
pub const BUSYBOX: &str = "dockerbox-test/busybox:1";
pub const DEBIAN: &str = "dockerbox-test/debian:1";
pub const SCRATCH: &str = "dockerbox-test/scratch:1";

/// Runs `docker ARGS` and returns stdout; panics with stderr on failure.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Whether an engine answers; without one the tests skip, unless DOCKERBOX_REQUIRE_DOCKER=1.
pub fn docker_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let ok = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok && std::env::var_os("DOCKERBOX_REQUIRE_DOCKER").is_some_and(|v| v == "1") {
            panic!("no Docker engine answers and DOCKERBOX_REQUIRE_DOCKER=1");
        }
        if ok {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/images/build.sh");
            let st = Command::new("bash")
                .arg(script)
                .status()
                .expect("run tests/images/build.sh");
            assert!(st.success(), "tests/images/build.sh failed");
            sweep_dead_tests();
        }
        ok
    })
}

/// Containers made for one test, removed (with `docker rm -f`) when it ends, also on failure.
pub struct Sandbox {
    prefix: String,
    names: Vec<String>,
}

impl Sandbox {
    /// `None` (skip the test) when there is no engine.
    pub fn new(test: &str) -> Option<Sandbox> {
        if !docker_ready() {
            eprintln!("skipping {test}: no Docker engine");
            return None;
        }
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        Some(Sandbox {
            prefix: format!("dbx-{test}-{}-{n}", std::process::id()),
            names: Vec::new(),
        })
    }

    fn name(&mut self, short: &str) -> String {
        let name = format!("{}-{short}", self.prefix);
        self.names.push(name.clone());
        name
    }

    /// Starts a container that keeps running: `sleep` for busybox/debian, `/pause` for scratch.
    pub fn run(&mut self, short: &str, image: &str, extra: &[&str]) -> String {
        let name = self.name(short);
        let owner = format!("{OWNER}={}", owner());
        let keep_alive: &[&str] = if image == SCRATCH {
            &["/pause"]
        } else {
            &["sleep", "1000000"]
        };
        let mut args = vec![
            "run",
            "-d",
            "--network",
            "none",
            "--label",
            LABEL,
            "--label",
            &owner,
            "--name",
            &name,
        ];
        args.extend_from_slice(extra);
        args.push(image);
        args.extend_from_slice(keep_alive);
        docker(&args);
        name
    }

    /// Creates a container that never starts.
    pub fn create(&mut self, short: &str, image: &str) -> String {
        let name = self.name(short);
        let owner = format!("{OWNER}={}", owner());
        docker(&[
            "create",
            "--network",
            "none",
            "--label",
            LABEL,
            "--label",
            &owner,
            "--name",
            &name,
            image,
            "true",
        ]);
        name
    }

    /// Runs a command inside a running container.
    pub fn exec(&self, name: &str, cmd: &[&str]) -> String {
        let mut args = vec!["exec", name];
        args.extend_from_slice(cmd);
        docker(&args)
    }

    /// Copies a host file or directory into a container (running or not).
    pub fn cp_in(&self, host: &Path, name: &str, dest: &str) {
        docker(&["cp", &host.to_string_lossy(), &format!("{name}:{dest}")]);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if !self.names.is_empty() {
            let mut args = vec!["rm".to_string(), "-f".to_string(), "-v".to_string()];
            args.extend(self.names.iter().cloned());
            let _ = Command::new("docker")
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// What one run of dockerbox did.
#[derive(Debug)]
pub struct Run {
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub status: i32,
}

impl Run {
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts success and returns stdout.
    pub fn ok(&self) -> String {
        assert_eq!(
            self.status,
            0,
            "expected success; stderr:\n{}\nstdout:\n{}",
            self.stderr,
            self.out()
        );
        self.out()
    }

    pub fn lines(&self) -> Vec<String> {
        self.out().lines().map(str::to_string).collect()
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            stdout: o.stdout,
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            status: o.status.code().unwrap_or(-1),
        }
    }
}

/// The dockerbox binary with a pinned environment: a temporary HOME, no colours from the
/// environment, UTC, C locale.
pub struct TestShell {
    pub home: tempfile::TempDir,
    env: Vec<(String, String)>,
    /// Options put before every invocation's own arguments.
    opts: Vec<String>,
}

impl TestShell {
    pub fn new() -> TestShell {
        let home = tempfile::tempdir().expect("temp HOME");
        let env = vec![
            (
                "HOME".to_string(),
                home.path().to_string_lossy().into_owned(),
            ),
            ("TZ".to_string(), "UTC".to_string()),
            ("LC_ALL".to_string(), "C".to_string()),
        ];
        TestShell {
            home,
            env,
            opts: Vec::new(),
        }
    }

    /// Adds options to every invocation (`--agent always`, `-v`).
    pub fn opts(mut self, opts: &[&str]) -> TestShell {
        self.opts.extend(opts.iter().map(|s| s.to_string()));
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> TestShell {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    pub fn bin() -> PathBuf {
        PathBuf::from(env!("CARGO_BIN_EXE_dockerbox"))
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(Self::bin());
        c.env_remove("LS_COLORS")
            .env_remove("NO_COLOR")
            .env_remove("XDG_STATE_HOME");
        for k in [
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_CONFIG",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
            "DOCKER_TLS",
        ] {
            c.env_remove(k);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.current_dir(self.home.path());
        c.args(&self.opts);
        c
    }

    /// `dockerbox ARGS...` with stdin closed.
    pub fn args<S: AsRef<OsStr>>(&self, args: &[S]) -> Run {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run dockerbox")
            .into()
    }

    /// `dockerbox -c LINE`.
    pub fn c(&self, line: &str) -> Run {
        self.args(&["-c", line])
    }

    /// `dockerbox` reading `input` on stdin.
    pub fn stdin(&self, input: &[u8]) -> Run {
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dockerbox");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
        child.wait_with_output().expect("wait dockerbox").into()
    }
}

/// A terminal for the REPL: a private tmux server running dockerbox in one pane.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `dockerbox` (with `shell`'s environment) in an 100x30 terminal.
    pub fn start(shell: &TestShell, args: &[&str]) -> Tmux {
        static N: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "dbx-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut cmd = format!(
            "cd {} && env -u LS_COLORS -u NO_COLOR TERM=xterm-256color",
            shell.home.path().display()
        );
        for (k, v) in &shell.env {
            cmd.push_str(&format!(" {k}='{v}'"));
        }
        cmd.push_str(&format!(" {}", TestShell::bin().display()));
        for a in args {
            cmd.push_str(&format!(" '{a}'"));
        }
        let st = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "100",
                "-y",
                "30",
                &cmd,
            ])
            .status()
            .expect("run tmux");
        assert!(st.success(), "tmux new-session failed");
        Tmux { socket }
    }

    /// Types keys (tmux key names, e.g. "Tab", "C-c", "Enter"; other text is typed literally).
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let literal = !matches!(
                *k,
                "Tab" | "Enter" | "C-c" | "C-d" | "C-z" | "BSpace" | "Up" | "Escape"
            );
            let mut args = vec!["-L", &self.socket, "send-keys", "-t", "0"];
            if literal {
                args.push("-l");
            }
            args.push(k);
            let st = Command::new("tmux")
                .args(&args)
                .status()
                .expect("tmux send-keys");
            assert!(st.success());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The screen, with escape sequences when `escapes`.
    pub fn screen(&self, escapes: bool) -> String {
        let mut args = vec!["-L", self.socket.as_str(), "capture-pane", "-p", "-t", "0"];
        if escapes {
            args.push("-e");
        }
        let out = Command::new("tmux")
            .args(&args)
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen satisfies `pred` (60 s at most: the machine may be loaded, and
    /// only a failing test waits that long); returns the screen.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen(false);
            if pred(&s) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(WAIT_SECS) {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Presses Ctrl-C until `prompt` shows again after the last `line` on the screen, and
    /// returns the screen: a Ctrl-C typed before the command started would be lost, so this
    /// waits for the outcome instead of guessing when the command runs.
    pub fn interrupt(&self, line: &str, prompt: &str) -> String {
        let start = Instant::now();
        loop {
            self.keys(&["C-c"]);
            let s = self.screen(false);
            if s.rsplit_once(line)
                .is_some_and(|(_, after)| after.contains(prompt))
            {
                return s;
            }
            if start.elapsed() > Duration::from_secs(WAIT_SECS) {
                panic!("Ctrl-C did not bring back {prompt:?} after {line:?}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The cursor's column (0 first).
    pub fn cursor_x(&self) -> usize {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "display-message",
                "-p",
                "-t",
                "0",
                "#{cursor_x}",
            ])
            .output()
            .expect("tmux display-message");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    }

    /// Resizes the terminal, as a person dragging the window does (the program gets SIGWINCH).
    pub fn resize(&self, cols: u16, rows: u16) {
        let st = Command::new("tmux")
            .args(["-L", &self.socket, "resize-window", "-t", "0"])
            .args(["-x", &cols.to_string(), "-y", &rows.to_string()])
            .status()
            .expect("tmux resize-window");
        assert!(st.success(), "tmux resize-window failed");
    }

    /// Whether the dockerbox process in the pane has exited.
    pub fn exited(&self) -> bool {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "list-panes", "-a", "-F", "#{pane_dead}"])
            .output();
        match out {
            Ok(o) => !o.status.success() || String::from_utf8_lossy(&o.stdout).trim() != "0",
            Err(_) => true,
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(Stdio::null())
            .status();
    }
}

/// Writes a file with the given bytes and mode into a fresh temp dir; returns the dir.
pub fn host_tree(files: &[(&str, &[u8], u32)]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, data, mode) in files {
        let p = dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, data).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).expect("chmod");
    }
    dir
}

/// The hex SHA-256 of some bytes, as `sha256sum` prints it.
pub fn sha256(data: &[u8]) -> String {
    let mut h = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    h.stdin
        .take()
        .expect("stdin")
        .write_all(data)
        .expect("write to sha256sum");
    let out = h.wait_with_output().expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

impl Sandbox {
    /// Starts a container running `cmd` (with `extra` options before the image), named and
    /// labelled as [`Sandbox::run`] names them.
    pub fn run_cmd(&mut self, short: &str, image: &str, extra: &[&str], cmd: &[&str]) -> String {
        let name = self.name(short);
        let owner = format!("{OWNER}={}", owner());
        let mut args = vec![
            "run",
            "-d",
            "--network",
            "none",
            "--label",
            LABEL,
            "--label",
            &owner,
            "--name",
            &name,
        ];
        args.extend_from_slice(extra);
        args.push(image);
        args.extend_from_slice(cmd);
        docker(&args);
        name
    }
}
