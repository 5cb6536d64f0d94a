//! The shell's state and how one line runs: split into commands, each a builtin or a host
//! program. Errors are reported here, once, with the `dockerbox: ` prefix.

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::commands::{self, UsageError};
use crate::exit_codes;
use crate::interrupt;
use crate::output::Theme;
use crate::parse;
use crate::vfs::{FsError, VPath, Vfs};

/// Everything a command may read or change.
pub struct Shell {
    pub vfs: Arc<Vfs>,
    /// The current directory as the user sees it (logical: `..` is textual, as `cd -L`).
    pub cwd: PathBuf,
    /// Where `cd -` goes.
    pub oldpwd: Option<PathBuf>,
    /// The last host directory visited: host programs run here while `cwd` is virtual.
    pub host_cwd: PathBuf,
    /// The last command's exit status (`$?`).
    pub status: i32,
    /// Colour for stdout listings.
    pub theme: Arc<Theme>,
    /// Whether stdout is a terminal (grid layout, sanitised names).
    pub stdout_tty: bool,
    /// Set by `exit`: the shell stops with this status.
    pub exit: Option<i32>,
    /// A person at a terminal (the REPL), rather than a script.
    pub interactive: bool,
}

impl Shell {
    pub fn new(vfs: Arc<Vfs>, theme: Arc<Theme>, stdout_tty: bool) -> Shell {
        let host_cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let cwd = std::env::var_os("PWD")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute() && same_file(p, &host_cwd))
            .unwrap_or_else(|| host_cwd.clone());
        Shell {
            vfs,
            cwd,
            oldpwd: None,
            host_cwd,
            status: 0,
            theme,
            stdout_tty,
            exit: None,
            interactive: false,
        }
    }

    /// Resolves a typed path against the current directory.
    pub fn resolve(&self, arg: &OsStr) -> VPath {
        VPath::resolve(&self.cwd, arg)
    }

    /// Reports `CMD: PATH: ERROR` on stderr (not for a Ctrl-C or a closed pipe).
    pub fn report(&self, cmd: &str, path: &OsStr, err: &FsError) {
        if matches!(err, FsError::Interrupted) || err.is_broken_pipe() {
            return;
        }
        eprintln!("dockerbox: {cmd}: {}: {err}", path.to_string_lossy());
    }

    /// Reports a usage error and returns the usage status.
    pub fn usage(&self, cmd: &str, err: UsageError) -> i32 {
        eprintln!(
            "dockerbox: {cmd}: {}\nTry 'help {cmd}' for more information.",
            err.0
        );
        exit_codes::USAGE
    }

    /// Runs one line (several commands separated by `;`); returns the last status.
    pub async fn run_line(&mut self, line: &[u8]) -> i32 {
        let commands = match parse::split_line(line) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("dockerbox: syntax error: {e}");
                self.status = exit_codes::USAGE;
                return self.status;
            }
        };
        for argv in commands {
            if !self.interactive {
                // Agents the previous command asked for: ready before this one runs.
                self.vfs.launch_agents(true).await;
            }
            interrupt::clear();
            self.vfs.begin_command();
            let started = std::time::Instant::now();
            let name = argv.first().cloned().unwrap_or_default();
            let status = self.run_command(argv).await;
            trace_time(&name, started.elapsed());
            // Ctrl-C ends the whole line, as in sh, whatever the command made of it.
            self.status = if interrupt::clear() {
                exit_codes::INTERRUPTED
            } else {
                status
            };
            if self.interactive {
                // Started while the user types the next line.
                self.vfs.launch_agents(false).await;
            }
            if self.exit.is_some() || self.status == exit_codes::INTERRUPTED {
                break;
            }
        }
        self.status
    }

    async fn run_command(&mut self, argv: Vec<OsString>) -> i32 {
        let Some((name, args)) = argv.split_first() else {
            return self.status;
        };
        let name_str = name.to_string_lossy();
        if let Some(b) = commands::find(&name_str) {
            let mut out = StdoutWriter;
            let status = b.run(self, args.to_vec(), &mut out).await;
            let _ = io::stdout().flush();
            return status;
        }
        let status = self.run_host(name, args);
        self.vfs.host_command_ran();
        status
    }

    /// Runs a host program in the foreground, in the last host directory.
    fn run_host(&self, name: &OsStr, args: &[OsString]) -> i32 {
        let _ = io::stdout().flush();
        let mut cmd = std::process::Command::new(name);
        cmd.args(args)
            .current_dir(&self.host_cwd)
            .env("PWD", &self.host_cwd);
        match cmd.status() {
            Ok(st) => st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)),
            Err(e) => {
                let (msg, code) = match e.kind() {
                    io::ErrorKind::NotFound => {
                        ("command not found".to_string(), exit_codes::NOT_FOUND)
                    }
                    io::ErrorKind::PermissionDenied => {
                        ("Permission denied".to_string(), exit_codes::CANNOT_EXECUTE)
                    }
                    _ => (crate::vfs::io_text(&e), exit_codes::CANNOT_EXECUTE),
                };
                eprintln!("dockerbox: {}: {msg}", name.to_string_lossy());
                code
            }
        }
    }

    /// Changes directory to an already checked location.
    pub fn set_cwd(&mut self, to: &VPath) {
        let new = to.to_path();
        if let VPath::Host(h) = to {
            if std::env::set_current_dir(h).is_ok() {
                self.host_cwd = h.clone();
            }
        }
        self.oldpwd = Some(std::mem::replace(&mut self.cwd, new));
    }

    /// The prompt for the REPL, uncoloured (the editor colours it).
    pub fn prompt(&self) -> String {
        let dir = self.cwd.to_string_lossy();
        let home = std::env::var("HOME").unwrap_or_default();
        let shown = match dir.strip_prefix(home.as_str()) {
            Some(rest)
                if !home.is_empty()
                    && home != "/"
                    && (rest.is_empty() || rest.starts_with('/')) =>
            {
                format!("~{rest}")
            }
            _ => dir.into_owned(),
        };
        format!("{shown}$ ")
    }
}

/// Writes to the process's stdout; each write takes the lock, so it may cross awaits.
struct StdoutWriter;

impl Write for StdoutWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stdout().write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        io::stdout().write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush()
    }
}

/// With `DOCKERBOX_TRACE_TIMES=FILE`, appends each command's name and wall time in
/// microseconds to FILE: the benchmarks read per-command latencies from it.
fn trace_time(name: &OsStr, took: std::time::Duration) {
    let Some(path) = std::env::var_os("DOCKERBOX_TRACE_TIMES") else {
        return;
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{} {}", name.to_string_lossy(), took.as_micros());
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}
