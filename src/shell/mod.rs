//! The shell's state and how a line runs: `syntax` parses it (with aliases), this file walks
//! `;`, `&&`, `||` and `!` and keeps `$?`, `pipeline.rs` runs each pipeline over descriptors
//! (`fds.rs`) pointed by redirects (`redirect.rs`), with words expanded and globbed over the
//! namespace (`expand.rs`). Builtins run on the [`Context`] the shell holds; the shell's own
//! errors go through its [`Reporter`], as builtins' do through theirs.

mod expand;
mod fds;
mod pipeline;
mod redirect;
mod vars;

use std::ffi::OsStr;
use std::io::{self, Write};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::context::{Context, Reporter};
use crate::exit_codes;
use crate::interrupt;
use crate::output::Theme;
use crate::syntax::{self, Connector, SyntaxError};
use crate::vfs::Vfs;

/// The runner: the [`Context`] builtins see, plus what only the runner needs (dockerbox's
/// own descriptors, the script line for messages). Cloning makes a subshell (a builtin's copy
/// in a pipeline). It derefs to its context, the state it runs commands in.
#[derive(Clone)]
pub struct Shell {
    pub ctx: Context,
    /// The descriptors dockerbox started with: what commands get unless redirected.
    std: Arc<fds::StdFds>,
    /// The shell's own messages: dockerbox's stderr.
    own: Reporter,
    /// The script and the line being run, for the shell's own messages.
    pub origin: Option<(String, usize)>,
}

impl Deref for Shell {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.ctx
    }
}

impl DerefMut for Shell {
    fn deref_mut(&mut self) -> &mut Context {
        &mut self.ctx
    }
}

impl Shell {
    pub fn new(vfs: Arc<Vfs>, theme: Arc<Theme>, stdout_tty: bool) -> Shell {
        let own = Reporter::stderr();
        Shell {
            ctx: Context::new(vfs, theme, stdout_tty, own.clone()),
            std: Arc::new(fds::StdFds::capture()),
            own,
            origin: None,
        }
    }

    /// Reports the shell's own error (syntax, redirect, command not found), with the script
    /// line when running one.
    pub fn shell_error(&self, msg: &str) {
        match &self.origin {
            Some((file, line)) => self.own.error(format_args!("{file}: line {line}: {msg}")),
            None => self.own.error(msg),
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
        // A SIGTERM or SIGHUP from here on lets the command clean up before dockerbox ends.
        let _busy = interrupt::busy();
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
                if let Some(sig) = interrupt::terminating() {
                    // SIGTERM or SIGHUP: the command has cleaned up; dockerbox ends.
                    self.exit = Some(128 + sig);
                }
                if self.exit.is_some() || self.status == exit_codes::INTERRUPTED {
                    break 'items;
                }
            }
        }
        self.status
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
