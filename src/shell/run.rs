//! The interpreter's walk over the tree: lists, `&&`/`||` with `set -e`'s rules, `&`, and the
//! compound commands (`if`, loops, `case`, `{ }`, `( )`, functions, `(( ))`, `[[ ]]`), plus
//! what runs on a copy of the shell: subshells, command and process substitutions, and
//! background jobs. dockerbox never forks itself: a copy runs on a thread of its own (or in
//! place, for `( )`), and only host programs are processes.

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;

use super::fds::{self, FdTable};
use super::redirect::Pumps;
use super::Shell;
use crate::exit_codes;
use crate::interrupt;
use crate::syntax::{self, AndOr, CaseEnd, Command, Compound, ExpandError, List};

/// What a `break`, `continue` or `return` asks of the commands around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flow {
    #[default]
    Normal,
    Break(usize),
    Continue(usize),
    Return,
}

/// `set -e -u -x -f -C -o pipefail`.
#[derive(Debug, Clone, Default)]
pub struct Opts {
    pub errexit: bool,
    pub nounset: bool,
    pub xtrace: bool,
    pub noglob: bool,
    pub noclobber: bool,
    pub pipefail: bool,
    pub allexport: bool,
    pub verbose: bool,
    pub noexec: bool,
    /// `set -o vi` / `set -o emacs`: the REPL's line editing (at most one is on).
    pub vi: bool,
    pub emacs: bool,
}

impl Opts {
    /// `$-`
    pub fn flags(&self) -> String {
        let mut s = String::new();
        for (on, c) in [
            (self.allexport, 'a'),
            (self.errexit, 'e'),
            (self.noglob, 'f'),
            (self.nounset, 'u'),
            (self.verbose, 'v'),
            (self.xtrace, 'x'),
            (self.noclobber, 'C'),
        ] {
            if on {
                s.push(c);
            }
        }
        s.push('h');
        s.push('B');
        s
    }
}

/// Variables' values before a function's `local`s, put back when it returns.
pub type Saved = Vec<(Vec<u8>, Option<crate::context::Var>)>;

impl Shell {
    /// Whether the commands being walked must stop: `exit`, `break`/`continue`/`return`, or
    /// Ctrl-C.
    pub(super) fn stopping(&self) -> bool {
        self.exit.is_some() || self.flow != Flow::Normal || self.interrupted || self.aborted
    }

    /// The descriptors a command starts from: dockerbox's own, or what a redirected compound
    /// command, a pipeline stage or a substitution gave this copy of the shell.
    pub(super) fn base_table(&self) -> FdTable {
        let mut t = match &self.inherited {
            Some(t) => t.clone(),
            None => FdTable::standard(&self.std),
        };
        for fd in &self.proc_fds {
            t.set(fd.as_raw_fd() as u32, fd.clone());
        }
        t
    }

    /// Reports a failed expansion; a script stops there, as sh's does.
    pub(super) fn expansion_failed(&mut self, e: &ExpandError) -> i32 {
        self.shell_error(&e.to_string());
        if self.interactive || matches!(e, ExpandError::Arith(_)) {
            // The rest of the line is dropped; the next one runs (in a script too, after an
            // error in `$((...))`, as bash does).
            self.aborted = true;
        } else {
            self.exit = Some(exit_codes::FAILURE);
        }
        exit_codes::FAILURE
    }

    /// Runs a list; returns the last status.
    pub fn run_list<'a>(&'a mut self, list: &'a List) -> LocalBoxFuture<'a, i32> {
        Box::pin(self.run_items(list))
    }

    /// [`Shell::run_list`] without the box: a compound command's lists run inside its own
    /// future, so a loop's turn allocates no future (the box around a compound command is
    /// what breaks the recursion).
    async fn run_items(&mut self, list: &List) -> i32 {
        for item in &list.items {
            if item.background {
                self.start_background(item).await;
            } else {
                self.run_and_or(item).await;
            }
            if self.stopping() {
                break;
            }
        }
        self.status
    }

    /// Pipelines joined by `&&` and `||`. `set -e` stops the shell only for the last one run of
    /// the chain, and never inside a condition or a `!` pipeline.
    pub(super) async fn run_and_or(&mut self, item: &AndOr) -> i32 {
        let n = item.rest.len();
        let rest = item.rest.iter().map(|(c, p)| (Some(*c), p));
        for (i, (conn, pipeline)) in std::iter::once((None, &item.first)).chain(rest).enumerate() {
            match conn {
                Some(syntax::Connector::And) if self.status != 0 => continue,
                Some(syntax::Connector::Or) if self.status == 0 => continue,
                _ => {}
            }
            let guarded = i < n || pipeline.negated;
            if guarded {
                self.no_errexit += 1;
            }
            let status = self.run_pipeline_timed(pipeline).await;
            if guarded {
                self.no_errexit -= 1;
            }
            self.status = status;
            if self.stopping() {
                return self.status;
            }
            // POSIX: a compound command (not a subshell) that failed because a command in
            // it failed where `set -e` is ignored does not stop the shell either.
            let compound = matches!(
                pipeline.commands.as_slice(),
                [c] if c.compound.as_deref().is_some_and(|c| !matches!(c, Compound::Subshell(_)))
            );
            let ignored = if guarded {
                status != 0
            } else {
                compound && self.ignored_failure
            };
            self.ignored_failure = ignored;
            if !guarded && status != 0 && self.no_errexit == 0 && !ignored {
                self.run_trap("ERR").await;
                self.status = status;
                if self.opts.errexit {
                    self.exit = Some(status);
                    return status;
                }
            }
        }
        self.status
    }

    /// Runs a trap's command text, keeping `$?`.
    pub(super) async fn run_trap(&mut self, name: &str) {
        let Some(text) = self.traps.get(name).cloned() else {
            return;
        };
        if text.is_empty() {
            return;
        }
        let status = self.status;
        let saved = self.traps.remove(name);
        self.no_errexit += 1;
        self.run_text(&text).await;
        self.no_errexit -= 1;
        if let Some(t) = saved {
            self.traps.entry(name.to_string()).or_insert(t);
        }
        if self.exit.is_none() {
            self.status = status;
        }
    }

    /// Parses and runs text in this shell (`eval`, `.`, traps): line by line, so aliases
    /// defined on one apply to the next. A syntax error is reported and gives status 2.
    pub fn run_text<'a>(&'a mut self, text: &'a [u8]) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let mut pos = 0;
            self.status = 0;
            let saved_base = std::mem::replace(&mut self.line_base, self.lineno);
            loop {
                match syntax::parse_line(text, pos, &self.aliases) {
                    Ok(None) => break,
                    Ok(Some((list, next))) => {
                        self.run_list(&list).await;
                        pos = next;
                        if self.stopping() {
                            break;
                        }
                    }
                    Err(e) => {
                        self.syntax_error(&e);
                        self.status = exit_codes::USAGE;
                        break;
                    }
                }
            }
            self.line_base = saved_base;
            self.status
        })
    }

    /// A compound command with its redirects, or a function definition.
    pub(super) fn run_compound<'a>(&'a mut self, cmd: &'a Command) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let Some(c) = cmd.compound.as_deref() else {
                return self.status;
            };
            if let Compound::Function { name, body } = c {
                self.functions.insert(name.clone(), body.clone());
                self.status = exit_codes::OK;
                return self.status;
            }
            if cmd.redirects.is_empty() {
                let st = self.run_compound_body(c).await;
                self.status = st;
                return st;
            }
            let only_redirects = Command {
                redirects: cmd.redirects.clone(),
                ..Command::default()
            };
            let e = match self.expand(&only_redirects).await {
                Ok(e) => e,
                Err(err) => return self.expansion_failed(&err),
            };
            let mut table = self.base_table();
            let mut pumps = Pumps::default();
            if !self.redirect(&e.redirects, &mut table, &mut pumps).await {
                self.status = exit_codes::FAILURE;
                return self.status;
            }
            let saved = self.inherited.replace(table);
            let st = self.run_compound_body(c).await;
            self.inherited = saved;
            let keep = !self.interrupted && !interrupt::is_set();
            let st = if !pumps.finish(keep, &self.own).await && st == exit_codes::OK {
                exit_codes::FAILURE
            } else {
                st
            };
            self.status = st;
            st
        })
    }

    async fn run_compound_body(&mut self, c: &Compound) -> i32 {
        match c {
            Compound::Group(l) => self.run_items(l).await,
            Compound::Subshell(l) => {
                let mut sub = self.subshell_copy();
                // The mask is the process's: what `( umask 0; ... )` set ends with it.
                let mask = crate::commands::umask();
                sub.run_items(l).await;
                if crate::commands::umask() != mask {
                    crate::commands::set_umask(mask);
                }
                sub.run_trap("EXIT").await;
                self.interrupted |= sub.interrupted;
                let st = sub.exit.unwrap_or(sub.status);
                // What it redirected with `exec` is closed with it: its container files land.
                drop(sub);
                self.held.settle(&self.own).await;
                st
            }
            Compound::If { arms, otherwise } => {
                for (cond, body) in arms {
                    self.no_errexit += 1;
                    self.run_items(cond).await;
                    self.no_errexit -= 1;
                    if self.stopping() {
                        return self.status;
                    }
                    if self.status == 0 {
                        return self.run_items(body).await;
                    }
                }
                match otherwise {
                    Some(e) => self.run_items(e).await,
                    None => exit_codes::OK,
                }
            }
            Compound::While { cond, body, until } => {
                let mut status = exit_codes::OK;
                self.loops += 1;
                loop {
                    self.no_errexit += 1;
                    self.run_items(cond).await;
                    self.no_errexit -= 1;
                    if self.loop_control() || self.stopping() {
                        break;
                    }
                    if (self.status == 0) == *until {
                        break;
                    }
                    status = self.run_items(body).await;
                    if self.loop_control() || self.stopping() || self.output_gone() {
                        break;
                    }
                }
                self.loops -= 1;
                if self.flow == Flow::Normal && !self.interrupted {
                    self.status = status;
                }
                self.status
            }
            Compound::For { var, words, body } => {
                if !crate::context::is_name(var) {
                    let shown = String::from_utf8_lossy(var);
                    self.shell_error(&format!("`{shown}': not a valid identifier"));
                    return exit_codes::FAILURE;
                }
                let values: Vec<OsString> = match words {
                    Some(ws) => {
                        let c = Command {
                            words: ws.clone(),
                            ..Command::default()
                        };
                        match self.expand(&c).await {
                            Ok(e) => e.argv,
                            Err(err) => return self.expansion_failed(&err),
                        }
                    }
                    None => self.args.clone(),
                };
                let mut status = exit_codes::OK;
                self.loops += 1;
                for v in values {
                    if let Err(msg) = self.assign(var, std::os::unix::ffi::OsStringExt::into_vec(v))
                    {
                        self.shell_error(&msg);
                        status = exit_codes::FAILURE;
                        break;
                    }
                    status = self.run_items(body).await;
                    if self.loop_control() || self.stopping() || self.output_gone() {
                        break;
                    }
                }
                self.loops -= 1;
                if self.flow == Flow::Normal && !self.interrupted {
                    self.status = status;
                }
                self.status
            }
            Compound::ArithFor {
                init,
                cond,
                step,
                body,
            } => {
                if let Err(st) = self.arith_for_part(init) {
                    return st;
                }
                let mut status = exit_codes::OK;
                self.loops += 1;
                loop {
                    match self.arith_for_part(cond) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(st) => {
                            status = st;
                            break;
                        }
                    }
                    status = self.run_items(body).await;
                    if self.loop_control() || self.stopping() || self.output_gone() {
                        break;
                    }
                    if let Err(st) = self.arith_for_part(step) {
                        status = st;
                        break;
                    }
                }
                self.loops -= 1;
                if self.flow == Flow::Normal && !self.interrupted {
                    self.status = status;
                }
                self.status
            }
            Compound::Case { word, arms } => {
                let value = match syntax::expand_string(word, self) {
                    Ok(v) => v,
                    Err(e) => return self.expansion_failed(&e),
                };
                let mut status = exit_codes::OK;
                let mut fall = false;
                for arm in arms {
                    let mut hit = fall;
                    if !hit {
                        for p in &arm.patterns {
                            match syntax::expand_pattern(p, self) {
                                Ok(pat) if pat.matches(&value) => {
                                    hit = true;
                                    break;
                                }
                                Ok(_) => {}
                                Err(e) => return self.expansion_failed(&e),
                            }
                        }
                    }
                    if !hit {
                        continue;
                    }
                    status = self.run_items(&arm.body).await;
                    if self.stopping() {
                        return self.status;
                    }
                    match arm.end {
                        CaseEnd::Break => return status,
                        CaseEnd::FallThrough => fall = true,
                        CaseEnd::Continue => fall = false,
                    }
                }
                status
            }
            Compound::Arith(w) => {
                let text = match syntax::expand_string(w, self) {
                    Ok(t) => t,
                    Err(e) => return self.expansion_failed(&e),
                };
                match syntax::arith::eval(&text, self) {
                    Ok(v) => i32::from(v == 0),
                    Err(msg) => {
                        self.shell_error(&msg);
                        exit_codes::FAILURE
                    }
                }
            }
            Compound::Cond(toks) => match super::cond::eval(self, toks).await {
                Ok(true) => exit_codes::OK,
                Ok(false) => exit_codes::FAILURE,
                Err(msg) => {
                    self.shell_error(&msg);
                    exit_codes::USAGE
                }
            },
            Compound::Function { .. } => exit_codes::OK,
        }
    }

    /// One of `for (( ; ; ))`'s expressions: its value (an empty one is 1), or the status
    /// after its error was said.
    fn arith_for_part(&mut self, w: &syntax::Word) -> Result<i64, i32> {
        if w.parts.is_empty() {
            return Ok(1);
        }
        let text = match syntax::expand_string(w, self) {
            Ok(t) => t,
            Err(e) => return Err(self.expansion_failed(&e)),
        };
        if text.trim_ascii().is_empty() {
            return Ok(1);
        }
        syntax::arith::eval(&text, self).map_err(|msg| {
            self.shell_error(&format!("((: {msg}"));
            exit_codes::FAILURE
        })
    }

    /// After a loop's body: consumes a `break`/`continue` meant for this loop. True when the
    /// loop must end.
    fn loop_control(&mut self) -> bool {
        match self.flow {
            Flow::Break(n) => {
                self.flow = if n > 1 {
                    Flow::Break(n - 1)
                } else {
                    Flow::Normal
                };
                true
            }
            Flow::Continue(n) if n > 1 => {
                self.flow = Flow::Continue(n - 1);
                true
            }
            Flow::Continue(_) => {
                self.flow = Flow::Normal;
                false
            }
            _ => false,
        }
    }

    /// Whether this copy's stdout is a pipe nobody reads any more: a loop feeding `head`
    /// stops there, as sh's would on SIGPIPE.
    fn output_gone(&self) -> bool {
        let Some(t) = &self.inherited else {
            return false;
        };
        let Some(fd) = t.get(1) else {
            return false;
        };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: one valid pollfd, count 1, no wait.
        let r = unsafe { libc::poll(&mut pfd, 1, 0) };
        r > 0 && (pfd.revents & libc::POLLERR) != 0
    }

    /// A copy of the shell for `( )` and the like: its own variables, directory, traps.
    pub(super) fn subshell_copy(&self) -> Shell {
        let mut sub = self.clone();
        sub.subshell = true;
        // Not a process of its own, but a `$BASHPID` of its own (above any real PID).
        static COPIES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1 << 22);
        sub.bashpid = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        sub.traps.remove("EXIT");
        sub.flow = Flow::Normal;
        sub.loops = 0;
        sub
    }

    /// Calls a function: its arguments become `$1`..., `local`s go when it returns.
    pub(super) async fn call_function(
        &mut self,
        body: Arc<Command>,
        args: Vec<OsString>,
        table: FdTable,
    ) -> i32 {
        if self.in_function >= 1000 {
            self.shell_error("maximum function nesting level exceeded (1000)");
            return exit_codes::FAILURE;
        }
        let saved_args = std::mem::replace(&mut self.args, args);
        let saved_table = self.inherited.replace(table);
        self.locals.push(Vec::new());
        self.in_function += 1;
        let saved_loops = std::mem::take(&mut self.loops);
        let mut st = self.run_compound(&body).await;
        self.loops = saved_loops;
        if self.flow == Flow::Return {
            self.flow = Flow::Normal;
            st = self.status;
        }
        self.in_function -= 1;
        if let Some(frame) = self.locals.pop() {
            for (name, old) in frame.into_iter().rev() {
                self.vars.restore(&name, old);
            }
        }
        self.inherited = saved_table;
        self.args = saved_args;
        self.status = st;
        st
    }

    /// A variable assignment from the language (`for`, `read`, `${x:=}`...), refused for a
    /// readonly one.
    pub(super) fn assign(&mut self, name: &[u8], value: Vec<u8>) -> Result<(), String> {
        if !self.vars.set_unless_readonly(name, value) {
            return Err(format!(
                "{}: readonly variable",
                String::from_utf8_lossy(name)
            ));
        }
        if self.opts.allexport {
            self.vars.export(name, None);
        }
        Ok(())
    }

    /// `$(list)`: runs on a copy of the shell on its own thread, its stdout a pipe read here
    /// to the end. `$?` becomes its status.
    pub(super) fn capture(&mut self, list: &List) -> Vec<u8> {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return Vec::new();
        };
        let (r, w) = match fds::pipe() {
            Ok(p) => p,
            Err(err) => {
                self.shell_error(&format!(
                    "cannot make a pipe: {}",
                    crate::vfs::io_text(&err)
                ));
                return Vec::new();
            }
        };
        let mut sub = self.subshell_copy();
        let mut t = self.base_table();
        t.set(1, Arc::new(w));
        sub.inherited = Some(t);
        let list = list.clone();
        let job = interrupt::scope();
        let spawned = std::thread::Builder::new()
            .name("dockerbox-subst".into())
            .spawn(move || {
                interrupt::enter(job);
                handle.block_on(async {
                    sub.run_list(&list).await;
                    sub.run_trap("EXIT").await;
                });
                (sub.exit.unwrap_or(sub.status), sub.interrupted)
            });
        let thread = match spawned {
            Ok(t) => t,
            Err(err) => {
                self.shell_error(&format!(
                    "cannot start a thread: {}",
                    crate::vfs::io_text(&err)
                ));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            match fds::read_interruptibly(&r, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        drop(r);
        let (status, interrupted) = thread.join().unwrap_or((exit_codes::FAILURE, false));
        self.status = status;
        self.last_subst = Some(status);
        self.interrupted |= interrupted;
        out
    }

    /// `<(list)` / `>(list)`: a pipe to or from a copy of the shell on its own thread (which a
    /// script waits for at its end, as a process substitution's output outlives sh), named
    /// `/dev/fd/N` for the command it is an argument of.
    pub(super) fn process_sub(&mut self, list: &List, out: bool) -> Result<Vec<u8>, String> {
        let handle = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
        let (r, w) = fds::pipe().map_err(|e| crate::vfs::io_text(&e))?;
        let (mine, theirs) = if out { (w, r) } else { (r, w) };
        let mut sub = self.subshell_copy();
        let mut t = self.base_table();
        t.set(if out { 0 } else { 1 }, Arc::new(theirs));
        sub.inherited = Some(t);
        let list = list.clone();
        let job = interrupt::scope();
        let thread = std::thread::Builder::new()
            .name("dockerbox-procsub".into())
            .spawn(move || {
                interrupt::enter(job);
                handle.block_on(sub.run_list(&list));
            })
            .map_err(|e| crate::vfs::io_text(&e))?;
        if let Ok(mut subs) = PROCESS_SUBS.lock() {
            subs.retain(|t| !t.is_finished());
            subs.push(thread);
        }
        let mine = Arc::new(mine);
        let name = format!("/dev/fd/{}", mine.as_raw_fd());
        self.proc_fds.push(mine);
        Ok(name.into_bytes())
    }
}

/// The threads of `<(...)` and `>(...)` that may still run.
static PROCESS_SUBS: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>> =
    std::sync::Mutex::new(Vec::new());

/// Takes the process substitutions' threads, for the end of a script to wait for.
pub(super) fn take_process_subs() -> Vec<std::thread::JoinHandle<()>> {
    PROCESS_SUBS
        .lock()
        .map(|mut subs| std::mem::take(&mut *subs))
        .unwrap_or_default()
}
