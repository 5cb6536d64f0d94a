//! Running a process in a container, as `docker exec` does: the argv as given (never through a
//! shell), in a given directory, as the container's configured user, with the container's
//! environment.
//!
//! With a TTY (our stdin and stdout are both terminals, like `docker exec -it`) our terminal goes
//! raw for the duration (a guard restores it on every way out), keystrokes go to the process as
//! they are (Ctrl-C included: the container's terminal turns it into SIGINT), output comes back
//! raw, and our window size follows SIGWINCH. Without a TTY stdout and stderr come back apart;
//! our stdin is forwarded when it is a pipe or a file (`docker exec -i`), never when it is a
//! terminal, so a command that does not read cannot make us wait for input.
//!
//! Without a TTY the Engine API has no way to signal the process. On Ctrl-C we stop waiting and
//! answer 130; when the engine runs on this machine the process is also sent SIGINT directly
//! (see [`signal_local`]), otherwise it runs on in the container, as with `docker exec`.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use bollard::Docker;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::error::{io_text, EngineError};
use super::{ContainerInfo, Engine, State};
use crate::exit_codes;

/// How a failed start announces itself: the runtime's text on the output, then status 126.
const RUNTIME_FAILED: &[u8] = b"OCI runtime exec failed";

/// What to run in a container, and how to connect it to us.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub argv: Vec<String>,
    /// The process's working directory, absolute inside the container.
    pub workdir: String,
    /// A terminal in the container, ours in raw mode (`docker exec -t`).
    pub tty: bool,
    /// Forward our stdin to the process (`docker exec -i`).
    pub stdin: bool,
    /// Where that stdin is read from when not dockerbox's own (a pipe or a redirect in a
    /// pipeline); the caller keeps it open for the call.
    pub input: Option<std::os::fd::RawFd>,
}

impl ExecRequest {
    /// A request connected as `docker exec` would be from here: a TTY when stdin and stdout
    /// are terminals, stdin forwarded when it is not a terminal. The Engine API takes strings,
    /// so an argument or directory that is not UTF-8 is refused rather than mangled.
    pub fn new(argv: &[OsString], workdir: &Path) -> Result<ExecRequest, ExecError> {
        let text = |s: &OsStr| {
            s.to_str()
                .map(str::to_string)
                .ok_or_else(|| ExecError::NotUtf8(s.to_os_string()))
        };
        let argv = argv
            .iter()
            .map(|a| text(a))
            .collect::<Result<Vec<_>, _>>()?;
        if argv.is_empty() {
            return Err(ExecError::CommandNotFound);
        }
        let workdir = text(workdir.as_os_str())?;
        // SAFETY: isatty only looks at the descriptor.
        let (tty_in, tty_out) = unsafe { (libc::isatty(0) == 1, libc::isatty(1) == 1) };
        Ok(ExecRequest {
            argv,
            workdir,
            tty: tty_in && tty_out,
            stdin: !tty_in,
            input: None,
        })
    }
}

/// Why a process could not be run in a container. `Display` is the text after the subject.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// An argument or the directory is not UTF-8 (the subject is that string).
    #[error("not valid UTF-8, and the Engine API takes text")]
    NotUtf8(OsString),
    #[error("container is not running")]
    NotRunning,
    #[error("container is paused")]
    Paused,
    /// The runtime found no such executable (in `PATH`, or at the path given).
    #[error("command not found")]
    CommandNotFound,
    /// It exists but may not be executed.
    #[error("Permission denied")]
    PermissionDenied,
    /// The working directory does not exist in the container (any more).
    #[error("No such file or directory")]
    NoWorkdir,
    /// Any other failure to start, in the runtime's words.
    #[error("{0}")]
    Runtime(String),
    #[error("Interrupted")]
    Interrupted,
    /// Our own side failed (the terminal, the output).
    #[error("{}", io_text(.0))]
    Io(io::Error),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl ExecError {
    /// The exit status, as `docker exec` gives it, except that a missing command is 127.
    pub fn status(&self) -> i32 {
        match self {
            ExecError::CommandNotFound => exit_codes::NOT_FOUND,
            ExecError::PermissionDenied | ExecError::NoWorkdir | ExecError::Runtime(_) => {
                exit_codes::CANNOT_EXECUTE
            }
            ExecError::Interrupted => exit_codes::INTERRUPTED,
            _ => exit_codes::FAILURE,
        }
    }
}

/// Runs `req` in container `c` of `engine`; stdout goes to `out`, stderr to `err` (the
/// builtin's fd 2). Returns the process's exit status once its output ends.
pub async fn run(
    engine: &Engine,
    c: &ContainerInfo,
    req: &ExecRequest,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> Result<i32, ExecError> {
    match c.state {
        State::Running => {}
        State::Paused => return Err(ExecError::Paused),
        _ => return Err(ExecError::NotRunning),
    }
    let docker = engine.client().await?;
    let opts = CreateExecOptions {
        cmd: Some(req.argv.clone()),
        working_dir: Some(req.workdir.clone()),
        attach_stdin: Some(req.tty || req.stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(req.tty),
        ..Default::default()
    };
    let created = guard(async {
        docker
            .create_exec(&c.id, opts)
            .await
            .map_err(|e| not_running(engine.error(e)))
    })
    .await?;
    let id = created.id;

    // Raw before the start, so early keystrokes and output are already treated as the
    // process's; the guard restores the terminal however this function ends.
    let raw = if req.tty {
        Some(RawMode::enter(libc::STDIN_FILENO).map_err(ExecError::Io)?)
    } else {
        None
    };
    let start = StartExecOptions {
        detach: false,
        tty: req.tty,
        output_capacity: None,
    };
    let started = guard(async {
        docker
            .start_exec(&id, Some(start))
            .await
            .map_err(|e| not_running(engine.error(e)))
    })
    .await?;
    let StartExecResults::Attached { output, input } = started else {
        return Err(ExecError::Runtime("exec did not attach".into()));
    };

    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
    // Its own task, so a process that writes without reading cannot stall its output on a
    // full stdin. Without stdin the input half is kept, unused, until the end.
    let (_forward, _input) = if req.tty || req.stdin {
        let rx = pump_stdin(req.tty, req.input, stop.0.clone());
        let task = tokio::spawn(forward_stdin(rx, input, req.tty));
        (Some(AbortOnDrop(task)), None)
    } else {
        (None, Some(input))
    };
    let winch = if req.tty {
        resize(docker, &id, true).await;
        signal(SignalKind::window_change()).ok()
    } else {
        None
    };
    let ended = Session {
        docker,
        id: &id,
        tty: req.tty,
        winch,
        held: Vec::new(),
        passing: false,
    }
    .pump(output, out, err)
    .await;
    drop(stop);
    drop(raw);

    let held = match ended {
        Ok(held) => held,
        Err(Ended::Interrupted) => {
            signal_now(engine, docker, &id, &c.id, libc::SIGINT).await;
            return Err(ExecError::Interrupted);
        }
        Err(Ended::Output(e)) => {
            if e.kind() == io::ErrorKind::BrokenPipe {
                // What a pipe's reader going away does to a writer in sh.
                signal_now(engine, docker, &id, &c.id, libc::SIGPIPE).await;
            }
            return Err(ExecError::Io(e));
        }
        Err(Ended::Engine(e)) => return Err(engine.error(e).into()),
    };
    let code = exit_code(docker, &id).await.map_err(|e| engine.error(e))?;
    if code == exit_codes::CANNOT_EXECUTE && held.starts_with(RUNTIME_FAILED) {
        return Err(runtime_error(&held));
    }
    if !held.is_empty() {
        let _ = out.write_all(&held).and_then(|()| out.flush());
    }
    Ok(code)
}

/// The engine's 409 answers to an exec in a container that is not running or is paused.
/// The engine gives them no other mark than its message, so they are told apart by it here,
/// at the one place that knows the engine's words.
fn not_running(e: EngineError) -> ExecError {
    match &e {
        EngineError::Server {
            status: 409,
            message: m,
        } if m.contains("is paused") => ExecError::Paused,
        EngineError::Server {
            status: 409,
            message: m,
        } if m.contains("is not running") || m.contains("is restarting") => ExecError::NotRunning,
        EngineError::NotFound => EngineError::NoSuchContainer.into(),
        _ => e.into(),
    }
}

/// Runs `f` unless Ctrl-C comes first.
async fn guard<T>(
    f: impl std::future::Future<Output = Result<T, ExecError>>,
) -> Result<T, ExecError> {
    tokio::select! {
        r = f => r,
        _ = crate::interrupt::wait() => Err(ExecError::Interrupted),
    }
}

/// Sorts the runtime's failure text (`OCI runtime exec failed: exec failed: unable to start
/// container process: exec: "x": executable file not found in $PATH: unknown`).
fn runtime_error(text: &[u8]) -> ExecError {
    let text = String::from_utf8_lossy(text);
    let text = text.trim();
    if text.contains("chdir to cwd") {
        ExecError::NoWorkdir
    } else if text.contains("executable file not found") || text.contains("no such file") {
        ExecError::CommandNotFound
    } else if text.contains("permission denied") {
        ExecError::PermissionDenied
    } else {
        let short = text
            .rsplit_once("unable to start container process: ")
            .map_or(text, |(_, rest)| rest);
        ExecError::Runtime(short.trim_end_matches(": unknown").to_string())
    }
}

/// How the pumping stopped short of the output's end.
enum Ended {
    Interrupted,
    /// Our stdout failed (a closed pipe).
    Output(io::Error),
    /// The connection to the engine broke.
    Engine(bollard::errors::Error),
}

/// One attached exec: moves bytes both ways until the process's output ends.
struct Session<'a> {
    docker: &'a Docker,
    id: &'a str,
    tty: bool,
    winch: Option<tokio::signal::unix::Signal>,
    /// The start of stdout, kept back while it may be the runtime's failure text.
    held: Vec<u8>,
    /// Stdout goes straight through: it is not a failure text.
    passing: bool,
}

impl Session<'_> {
    /// Returns what stdout held back when the output ended (the runtime's failure text, or
    /// the beginning of one).
    async fn pump(
        mut self,
        mut output: std::pin::Pin<
            Box<dyn futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>,
        >,
        out: &mut (dyn Write + Send),
        stderr: &mut (dyn Write + Send),
    ) -> Result<Vec<u8>, Ended> {
        loop {
            tokio::select! {
                msg = output.next() => match msg {
                    None => return Ok(self.held),
                    Some(Err(e)) => return Err(Ended::Engine(e)),
                    Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                        self.stdout(&message, out).map_err(Ended::Output)?;
                    }
                    Some(Ok(LogOutput::StdErr { message })) => {
                        // Our stderr going away is no reason to stop the command.
                        let _ = stderr.write_all(&message).and_then(|()| stderr.flush());
                    }
                    Some(Ok(LogOutput::StdIn { .. })) => {}
                },
                () = winch(&mut self.winch) => resize(self.docker, self.id, false).await,
                () = crate::interrupt::wait(), if !self.tty => return Err(Ended::Interrupted),
            }
        }
    }

    /// Passes a stdout chunk on, holding back a start that may be the runtime's failure text.
    fn stdout(&mut self, message: &[u8], out: &mut (dyn Write + Send)) -> io::Result<()> {
        if !self.passing {
            // The failure text is one line; output after that line shows it was not one.
            let whole_line = self.held.starts_with(RUNTIME_FAILED) && self.held.contains(&b'\n');
            self.held.extend_from_slice(message);
            let h = &self.held[..];
            if !whole_line && (RUNTIME_FAILED.starts_with(h) || h.starts_with(RUNTIME_FAILED)) {
                return Ok(());
            }
            self.passing = true;
            let held = std::mem::take(&mut self.held);
            out.write_all(&held)?;
            return out.flush();
        }
        out.write_all(message)?;
        out.flush()
    }
}

/// Writes our stdin to the process until EOF (which the process then sees, unless it has a
/// terminal: there Ctrl-D is a byte) or until the process stops taking it.
async fn forward_stdin(
    mut rx: mpsc::Receiver<Bytes>,
    mut input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
    tty: bool,
) {
    while let Some(bytes) = rx.recv().await {
        if input.write_all(&bytes).await.is_err() || input.flush().await.is_err() {
            return;
        }
    }
    if !tty {
        let _ = input.shutdown().await;
    }
}

/// Aborts a task when the exec is over.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The next window size change, or never without a TTY.
async fn winch(sig: &mut Option<tokio::signal::unix::Signal>) {
    match sig {
        Some(s) => {
            if s.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// Tells the exec our terminal's size. Right after the start the process may not exist yet,
/// so the first time is retried briefly, as the docker CLI does.
async fn resize(docker: &Docker, id: &str, first: bool) {
    let Some((height, width)) = window_size() else {
        return;
    };
    let tries = if first { 5 } else { 1 };
    for attempt in 0..tries {
        let opts = ResizeExecOptions { height, width };
        if docker.resize_exec(id, opts).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10 * (attempt + 1))).await;
    }
}

/// Rows and columns of our terminal.
fn window_size() -> Option<(u16, u16)> {
    for fd in [libc::STDOUT_FILENO, libc::STDIN_FILENO] {
        // SAFETY: an all-zero winsize is valid; TIOCGWINSZ fills it in.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: `ws` is a valid winsize for the ioctl to write.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0 {
            return Some((ws.ws_row, ws.ws_col));
        }
    }
    None
}

/// The exit code, once the engine has recorded it (it may lag the output's end a little).
async fn exit_code(docker: &Docker, id: &str) -> Result<i32, bollard::errors::Error> {
    for _ in 0..50 {
        let info = docker.inspect_exec(id).await?;
        if info.running != Some(true) {
            if let Some(code) = info.exit_code {
                return Ok(code as i32);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(exit_codes::FAILURE)
}

/// Sends `sig` to the exec's process if the engine runs here (see [`signal_local`]). The engine
/// records the PID a little after the start, so a very short exec is asked about a few times.
async fn signal_now(engine: &Engine, docker: &Docker, id: &str, container: &str, sig: i32) {
    if !engine.addr().starts_with("unix://") {
        return;
    }
    for _ in 0..40 {
        let info = match tokio::time::timeout(Duration::from_secs(2), docker.inspect_exec(id)).await
        {
            Ok(Ok(info)) => info,
            _ => return,
        };
        if info.running != Some(true) {
            return;
        }
        if let Some(pid) = info.pid.filter(|&p| p > 0) {
            signal_local(pid, container, sig);
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Signals process `pid` of this machine, if it is in container `container`'s cgroup. A pidfd
/// pins the process before the check, so a recycled PID is never signalled. Best effort: a
/// dockerd in another PID namespace, or no right to signal, just means no signal.
fn signal_local(pid: i64, container: &str, sig: i32) -> bool {
    if pid <= 0 || container.len() < 12 {
        return false;
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return false;
    }
    // SAFETY: the kernel just gave us this descriptor; it is ours to own.
    let fd: std::os::fd::OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd as i32) };
    let ours = std::fs::read(format!("/proc/{pid}/cgroup")).is_ok_and(|cg| {
        cg.windows(container.len())
            .any(|w| w == container.as_bytes())
    });
    if !ours {
        return false;
    }
    use std::os::fd::AsRawFd;
    // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    r == 0
}

/// Stops the stdin reader when the exec is over, however `run` ends.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Reads our stdin on a blocking thread into a channel; the channel closes at EOF. It polls in
/// short slices and checks `stop` before each read, so once the exec is over it takes no more
/// bytes: the REPL reads its next line from the same terminal.
fn pump_stdin(
    tty: bool,
    input: Option<std::os::fd::RawFd>,
    stop: Arc<AtomicBool>,
) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(8);
    let fd = input.unwrap_or(libc::STDIN_FILENO);
    // A pipe of our own is read directly, as a terminal is.
    let direct = tty || input.is_some();
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while !stop.load(Ordering::SeqCst) {
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, count 1.
            let r = unsafe { libc::poll(&mut pfd, 1, 50) };
            if r <= 0 || stop.load(Ordering::SeqCst) {
                continue;
            }
            if pfd.revents & libc::POLLNVAL != 0 {
                return; // no stdin at all: EOF
            }
            // A terminal is read directly; a pipe through std's buffer, which may hold the
            // rest of a script read from the same stdin.
            let n = if direct {
                // SAFETY: reads into a buffer of the length given.
                let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    let e = io::Error::last_os_error();
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                    ) {
                        continue;
                    }
                    return;
                }
                n as usize
            } else {
                match io::stdin().lock().read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                }
            };
            if n == 0 || tx.blocking_send(Bytes::copy_from_slice(&buf[..n])).is_err() {
                return;
            }
        }
    });
    rx
}

/// Our terminal in raw mode until dropped, as `docker exec -it` sets it: every byte goes to
/// the container's terminal, which does the echoing, line editing and signals.
struct RawMode {
    fd: i32,
    saved: libc::termios,
}

impl RawMode {
    fn enter(fd: i32) -> io::Result<RawMode> {
        // SAFETY: an all-zero termios is valid storage; tcgetattr fills it in.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: `saved` is valid storage for tcgetattr.
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut raw = saved;
        // SAFETY: cfmakeraw only edits the struct it is given.
        unsafe { libc::cfmakeraw(&mut raw) };
        // SAFETY: `raw` is a valid termios.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `enter`.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_failures_are_sorted() {
        let cases: &[(&str, &str)] = &[
            (
                "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nosuch\": executable file not found in $PATH: unknown\r\n",
                "command not found",
            ),
            (
                "OCI runtime exec failed: exec failed: unable to start container process: exec: \"/nonexist/x\": stat /nonexist/x: no such file or directory: unknown\r\n",
                "command not found",
            ),
            (
                "OCI runtime exec failed: exec failed: unable to start container process: exec: \"/etc/passwd\": permission denied: unknown\r\n",
                "Permission denied",
            ),
            (
                "OCI runtime exec failed: exec failed: unable to start container process: chdir to cwd (\"/nope\") set in config.json failed: no such file or directory: unknown\r\n",
                "No such file or directory",
            ),
            (
                "OCI runtime exec failed: exec failed: unable to start container process: something odd: unknown\r\n",
                "something odd",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(runtime_error(text.as_bytes()).to_string(), *want, "{text}");
        }
    }

    #[test]
    fn arguments_must_be_text() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(b"caf\xe9".to_vec());
        let r = ExecRequest::new(&["ls".into(), bad.clone()], Path::new("/"));
        assert!(matches!(r, Err(ExecError::NotUtf8(a)) if a == bad));
        let r = ExecRequest::new(&["ls".into()], Path::new(&bad));
        assert!(matches!(r, Err(ExecError::NotUtf8(_))));
        let r = ExecRequest::new(&["ls".into(), "-l".into()], Path::new("/etc"));
        let r = r.map(|r| (r.argv, r.workdir)).ok();
        assert_eq!(
            r,
            Some((vec!["ls".to_string(), "-l".to_string()], "/etc".to_string()))
        );
    }

    #[test]
    fn statuses_follow_docker_exec() {
        assert_eq!(ExecError::CommandNotFound.status(), 127);
        assert_eq!(ExecError::PermissionDenied.status(), 126);
        assert_eq!(ExecError::NotRunning.status(), 1);
        assert_eq!(ExecError::Interrupted.status(), 130);
    }
}
