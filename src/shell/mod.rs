//! The shell's state and how a line runs: `syntax` parses it (with aliases), this file walks
//! `;`, `&&`, `||` and `!` and keeps `$?`, `pipeline.rs` runs each pipeline over descriptors
//! (`fds.rs`) pointed by redirects (`redirect.rs`), with words expanded and globbed over the
//! namespace (`expand.rs`). Builtins run on the [`Context`] the shell holds; the shell's own
//! errors go through its [`Reporter`], as builtins' do through theirs.

mod cond;
mod declare;
mod expand;
mod fds;
mod hash;
mod jobs;
mod lang;
mod pipeline;
mod redirect;
mod run;
mod test;
mod vars;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::context::{Context, Reporter};
use crate::exit_codes;
use crate::interrupt;
use crate::output::Theme;
use crate::syntax::{self, Command, SyntaxError};
use crate::vfs::Vfs;
use fds::Fd;

pub use jobs::{enable_job_control, remember_line};
pub use run::{Flow, Opts};

/// The runner: the [`Context`] builtins see, plus what only the runner needs (dockerbox's
/// own descriptors, the script line for messages, the language's state: positional
/// parameters, functions, options, traps, jobs). Cloning makes a subshell (a pipeline stage,
/// `( )`, a substitution). It derefs to its context, the state it runs commands in.
#[derive(Clone)]
pub struct Shell {
    pub ctx: Context,
    /// The descriptors dockerbox started with: what commands get unless redirected.
    std: Arc<fds::StdFds>,
    /// The shell's own messages: dockerbox's stderr.
    own: Reporter,
    /// The script and the line being run, for the shell's own messages.
    pub origin: Option<(String, usize)>,
    /// `$1`...
    pub args: Vec<OsString>,
    /// `$0`
    pub arg0: OsString,
    /// Functions by name.
    pub functions: BTreeMap<Vec<u8>, Arc<Command>>,
    /// `set` options.
    pub opts: Opts,
    /// `trap` commands by condition (`EXIT`, `INT`, `ERR`...).
    pub traps: BTreeMap<String, Vec<u8>>,
    /// A pending `break`, `continue` or `return`.
    flow: Flow,
    /// Loops around the command running (for `break`).
    loops: usize,
    /// Function calls around the command running.
    in_function: usize,
    /// Inside `.`: `return` ends the file.
    sourcing: bool,
    /// Saved values of each function call's `local`s.
    locals: Vec<run::Saved>,
    /// The line the text being run starts on: a command's `line` counts from it.
    line_base: usize,
    /// The last argument of the previous simple command: `$_`.
    last_arg: OsString,
    /// `$BASHPID`: the process id, or a number of its own for each copy of the shell.
    bashpid: u32,
    /// When the shell started: `$SECONDS`.
    started: std::time::Instant,
    /// The descriptors of the language builtin running now (`read -u 3 3<f`).
    command_fds: Option<fds::FdTable>,
    /// Each stage's status in the last pipeline: `${PIPESTATUS[@]}`.
    pipestatus: Vec<i32>,
    /// Conditions and `&&` lists around the command: `set -e` does not apply there.
    no_errexit: usize,
    /// Ctrl-C ended a command: everything around it stops.
    interrupted: bool,
    /// An expansion failed in an interactive shell: the rest of the line is dropped.
    aborted: bool,
    /// The last status came from a failure where `set -e` is ignored (`a && b`, `!`).
    ignored_failure: bool,
    /// The descriptors commands start from, when not dockerbox's own (a redirected compound
    /// command, a pipeline stage, a substitution, `exec >f`).
    inherited: Option<fds::FdTable>,
    /// Process substitutions' ends for the command being run, at their `/dev/fd` numbers.
    proc_fds: Vec<Fd>,
    /// Background jobs, and stopped ones.
    jobs: jobs::Jobs,
    /// `$!`
    last_bg: Option<u32>,
    /// The status of the last command substitution in the command being expanded.
    last_subst: Option<i32>,
    /// Where `getopts` is inside a group of options (`-abc`).
    getopts_pos: usize,
    /// Program paths found in `$PATH` (`hash`).
    hashed: std::cell::RefCell<hash::Hashed>,
    /// `$RANDOM`'s state.
    random: std::cell::Cell<u32>,
    /// `$LINENO`: the script line the command started on.
    pub lineno: usize,
    /// Container file streams of `exec`'s redirects, until their descriptors close.
    held: Arc<redirect::Held>,
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
    /// Runs the `EXIT` trap, once, as the shell ends; then closes what `exec` redirected, so
    /// its container files land.
    pub async fn finish(&mut self) {
        let status = self.status;
        self.exit.get_or_insert(status);
        let code = self.exit;
        self.exit = None;
        self.run_trap("EXIT").await;
        self.traps.remove("EXIT");
        if self.exit.is_none() {
            self.exit = code;
        }
        self.inherited = None;
        self.held.settle(&self.own).await;
    }

    pub fn new(vfs: Arc<Vfs>, theme: Arc<Theme>, stdout_tty: bool) -> Shell {
        let own = Reporter::stderr();
        let mut sh = Shell {
            ctx: Context::new(vfs, theme, stdout_tty, own.clone()),
            std: Arc::new(fds::StdFds::capture()),
            own,
            origin: None,
            args: Vec::new(),
            arg0: OsString::from("dockerbox"),
            functions: BTreeMap::new(),
            opts: Opts::default(),
            traps: BTreeMap::new(),
            flow: Flow::Normal,
            loops: 0,
            in_function: 0,
            sourcing: false,
            locals: Vec::new(),
            pipestatus: Vec::new(),
            command_fds: None,
            last_arg: OsString::new(),
            line_base: 1,
            bashpid: std::process::id(),
            started: std::time::Instant::now(),
            no_errexit: 0,
            interrupted: false,
            aborted: false,
            ignored_failure: false,
            inherited: None,
            proc_fds: Vec::new(),
            jobs: Default::default(),
            last_bg: None,
            last_subst: None,
            getopts_pos: 0,
            hashed: Default::default(),
            random: std::cell::Cell::new(std::process::id().wrapping_mul(2654435761)),
            lineno: 1,
            held: Default::default(),
        };
        // `$PWD` is a variable like any (assignable, unsettable); `cd` sets it.
        let cwd = std::os::unix::ffi::OsStrExt::as_bytes(sh.cwd.as_os_str()).to_vec();
        sh.vars.export(b"PWD", Some(cwd));
        sh.vars.set(b"OPTIND", b"1".to_vec());
        sh
    }

    /// Takes what the command line gave: `$0`, `$1`..., bash's `set` flags (`-e`, `-o
    /// pipefail`), `-i`. False when a flag was bad (it was reported): the shell ends, status 2.
    pub fn start(
        &mut self,
        arg0: OsString,
        args: Vec<OsString>,
        set: Vec<OsString>,
        interactive: bool,
    ) -> bool {
        self.arg0 = arg0;
        self.args = args;
        self.interactive = interactive;
        set.is_empty() || lang::set_flags(self, set) == exit_codes::OK
    }

    /// Reports the shell's own error (syntax, redirect, command not found), with the script
    /// line when running one.
    pub fn shell_error(&self, msg: &str) {
        match &self.origin {
            Some((file, line)) => self.own.error(format_args!("{file}: line {line}: {msg}")),
            None => self.own.error(msg),
        }
    }

    /// Whether `line` stops where more must follow (open quote, trailing `|`, an `if` without
    /// its `fi`): a script joins the next line to it, the REPL asks for one.
    pub fn needs_more(&self, line: &[u8]) -> bool {
        matches!(self.parse(line), Err(e) if e.is_incomplete())
    }

    fn parse(&self, line: &[u8]) -> Result<syntax::List, SyntaxError> {
        syntax::parse_with_aliases(line, &self.aliases)
    }

    /// Reports a syntax error as bash words it.
    pub(super) fn syntax_error(&self, e: &SyntaxError) {
        let msg = e.to_string();
        if msg.starts_with("syntax error") {
            self.shell_error(&msg);
        } else {
            self.shell_error(&format!("syntax error: {msg}"));
        }
    }

    /// Runs one input: its lines parsed and run one after the other (an alias defined on one
    /// applies to the next). A syntax error stops it with status 2, and stops a script or
    /// `-c` altogether: nothing after it runs. Returns the last status.
    pub async fn run_line(&mut self, line: &[u8]) -> i32 {
        // A SIGTERM or SIGHUP from here on lets the command clean up before dockerbox ends.
        let _busy = interrupt::busy();
        self.line_base = self.lineno;
        let mut pos = 0;
        loop {
            match syntax::parse_line(line, pos, &self.aliases) {
                Ok(None) => break,
                Ok(Some((list, next))) => {
                    pos = next;
                    self.run_list(&list).await;
                    if self.interrupted {
                        self.status = exit_codes::INTERRUPTED;
                    }
                    if std::mem::take(&mut self.aborted) {
                        self.flow = Flow::Normal;
                        self.status = exit_codes::FAILURE;
                        continue;
                    }
                    if self.stopping() {
                        break;
                    }
                }
                Err(e) => {
                    self.syntax_error(&e);
                    self.status = exit_codes::USAGE;
                    if !self.interactive {
                        self.exit = Some(exit_codes::USAGE);
                    }
                    break;
                }
            }
        }
        // `break` or `return` outside what they belong to end nothing more than this line.
        self.flow = Flow::Normal;
        self.interrupted = false;
        self.status
    }

    /// One pipeline with the per-command work around it: agents, `-v` notes, timing, and
    /// Ctrl-C (which stops everything around the command, loops included).
    pub(super) async fn run_pipeline_timed(&mut self, pipeline: &syntax::Pipeline) -> i32 {
        if !self.interactive && !self.subshell {
            // Agents the previous command asked for: ready before this one runs.
            self.vfs.launch_agents(true).await;
        }
        if !self.subshell {
            // Inside a loop, a Ctrl-C that came between two commands (after the last one's
            // check, before this one) stops the loop: forgetting it would lose it.
            if interrupt::clear() && self.loops > 0 {
                self.interrupted = true;
                return exit_codes::INTERRUPTED;
            }
        }
        self.vfs.begin_command();
        let started = tracing_times().then(std::time::Instant::now);
        let (status, name) = self.run_pipeline(pipeline).await;
        let _ = io::stdout().flush();
        if let Some(t) = started {
            trace_time(&name, t.elapsed());
        }
        let hit = if self.subshell {
            interrupt::is_set()
        } else {
            interrupt::clear()
        };
        if hit {
            self.interrupted = true;
        }
        let status = if hit { exit_codes::INTERRUPTED } else { status };
        if let Some(sig) = interrupt::terminating() {
            // SIGTERM or SIGHUP: the command has cleaned up; dockerbox ends.
            self.exit = Some(128 + sig);
        }
        if self.interactive {
            // Started while the user types the next line.
            self.vfs.launch_agents(false).await;
        }
        status
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
        sh.lineno = line;
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

/// Whether `DOCKERBOX_TRACE_TIMES` is set (asked once: a loop runs many commands).
fn tracing_times() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("DOCKERBOX_TRACE_TIMES").is_some())
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
