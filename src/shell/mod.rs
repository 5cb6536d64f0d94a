//! The shell's state and how a line runs: `syntax` parses it (with aliases), this file walks
//! `;`, `&&`, `||` and `!` and keeps `$?`, `pipeline.rs` runs each pipeline over descriptors
//! (`fds.rs`) pointed by redirects (`redirect.rs`), with words expanded and globbed over the
//! namespace (`expand.rs`). The shell's own errors are reported here, once, with the
//! `dockerbox: ` prefix.

mod expand;
mod fds;
mod pipeline;
mod redirect;
mod vars;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::commands::UsageError;
use crate::exit_codes;
use crate::interrupt;
use crate::output::Theme;
use crate::syntax::{self, Connector, SyntaxError};
use crate::vfs::{FsError, VPath, Vfs};

pub use fds::{read_interruptibly, wait_readable, Fd};
pub use vars::{is_name, Vars};

/// Everything a command may read or change. Cloning makes a subshell (a builtin's copy in a
/// pipeline): cheap, the namespace is shared.
#[derive(Clone)]
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
    /// `--color always`: colours even into pipes and files.
    pub color_forced: bool,
    /// Whether stdout is a terminal (grid layout, sanitised names).
    pub stdout_tty: bool,
    /// Set by `exit`: the shell stops with this status.
    pub exit: Option<i32>,
    /// A person at a terminal (the REPL), rather than a script.
    pub interactive: bool,
    /// Shell variables; the exported ones are host programs' environment.
    pub vars: Vars,
    /// `alias NAME=VALUE`, substituted by the parser.
    pub aliases: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Standard input for a builtin that reads it (`cat`) when it is a pipe or a redirect;
    /// `None` is dockerbox's own stdin.
    pub stdin: Option<Fd>,
    /// The descriptors dockerbox started with: what commands get unless redirected.
    std: Arc<fds::StdFds>,
    /// A builtin's copy in a pipeline: the process's directory is not changed from here.
    subshell: bool,
    /// The script and the line being run, for the shell's own messages.
    pub origin: Option<(String, usize)>,
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
            color_forced: false,
            stdout_tty,
            exit: None,
            interactive: false,
            vars: Vars::from_env(),
            aliases: BTreeMap::new(),
            stdin: None,
            std: Arc::new(fds::StdFds::capture()),
            subshell: false,
            origin: None,
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

    /// Reports the shell's own error (syntax, redirect, command not found), with the script
    /// line when running one.
    pub fn shell_error(&self, msg: &str) {
        match &self.origin {
            Some((file, line)) => eprintln!("dockerbox: {file}: line {line}: {msg}"),
            None => eprintln!("dockerbox: {msg}"),
        }
    }

    /// Whether `line` stops where more must follow (open quote, trailing `|` or `&&`): a script
    /// joins the next line to it, the REPL asks for one.
    pub fn needs_more(&self, line: &[u8]) -> bool {
        matches!(self.parse(line), Err(e) if e.is_incomplete())
    }

    fn parse(&self, line: &[u8]) -> Result<syntax::List, SyntaxError> {
        syntax::parse_with_aliases(line, &self.aliases)
    }

    /// Runs one line: `;`-separated and-or lists of pipelines. Returns the last status.
    pub async fn run_line(&mut self, line: &[u8]) -> i32 {
        let list = match self.parse(line) {
            Ok(l) => l,
            Err(e) => {
                let msg = e.to_string();
                if msg.starts_with("syntax error") {
                    self.shell_error(&msg);
                } else {
                    self.shell_error(&format!("syntax error: {msg}"));
                }
                self.status = exit_codes::USAGE;
                return self.status;
            }
        };
        'items: for item in &list.items {
            let rest = item.rest.iter().map(|(c, p)| (Some(*c), p));
            for (conn, pipeline) in std::iter::once((None, &item.first)).chain(rest) {
                match conn {
                    Some(Connector::And) if self.status != 0 => continue,
                    Some(Connector::Or) if self.status == 0 => continue,
                    _ => {}
                }
                if !self.interactive {
                    // Agents the previous command asked for: ready before this one runs.
                    self.vfs.launch_agents(true).await;
                }
                interrupt::clear();
                self.vfs.begin_command();
                let started = std::time::Instant::now();
                let (status, name) = self.run_pipeline(pipeline).await;
                let _ = io::stdout().flush();
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
                    break 'items;
                }
            }
        }
        self.status
    }

    /// Changes directory to an already checked location.
    pub fn set_cwd(&mut self, to: &VPath) {
        let new = to.to_path();
        if let VPath::Host(h) = to {
            // A subshell's directory is its own: the process's stays the parent's.
            if self.subshell || std::env::set_current_dir(h).is_ok() {
                self.host_cwd = h.clone();
            }
        }
        self.oldpwd = Some(std::mem::replace(&mut self.cwd, new));
    }

    /// The prompt for the REPL, uncoloured (the editor colours it).
    pub fn prompt(&self) -> String {
        let dir = self.cwd.to_string_lossy();
        let home = self
            .vars
            .get(b"HOME")
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .unwrap_or_default();
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

/// Runs a script line by line until it ends, `exit` runs, or Ctrl-C stops a command. A line
/// that stops where more must follow (open quote, trailing `|`) is joined with the next.
/// `origin` names the script in the shell's messages, with the line number.
pub fn run_lines(
    rt: &tokio::runtime::Runtime,
    sh: &mut Shell,
    input: impl IntoIterator<Item = io::Result<Vec<u8>>>,
    origin: Option<&str>,
) -> io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut first = 0;
    let run = |sh: &mut Shell, text: &[u8], line: usize| {
        sh.origin = origin.map(|o| (o.to_string(), line));
        let status = rt.block_on(sh.run_line(text));
        sh.origin = None;
        sh.exit.is_some() || status == exit_codes::INTERRUPTED
    };
    for (i, line) in input.into_iter().enumerate() {
        let line = line?;
        if pending.is_empty() {
            first = i + 1;
        } else {
            pending.push(b'\n');
        }
        pending.extend_from_slice(&line);
        if sh.needs_more(&pending) {
            continue;
        }
        let text = std::mem::take(&mut pending);
        if run(sh, &text, first) {
            return Ok(());
        }
    }
    if !pending.is_empty() {
        // The script ended inside a quote or after a `|`: the parser says so.
        run(sh, &pending, first);
    }
    Ok(())
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
