//! One pipeline: its commands expanded, started together joined by pipes, and waited for.
//!
//! A host program is a child process given exactly its descriptors (`fds.rs`). A builtin alone
//! runs in this shell, so `cd` and `export` stick. A builtin in a pipeline of several runs on
//! its own thread, driving its future with the runtime's `Handle::block_on` on a copy of the
//! shell (a subshell, as in sh: a `cd` there changes nothing after), and writes straight into
//! its pipe: a full pipe blocks only that thread, and no output is ever buffered whole. A
//! closed pipe ends it quietly; Ctrl-C reaches host programs from the terminal and builtins
//! through the interrupt flag. The pipeline's status is the last command's.

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::sync::Arc;

use tokio::sync::oneshot;

use super::expand::Expanded;
use super::fds::{self, ClosedWriter, Fd, FdTable, StdoutWriter};
use super::redirect::Pumps;
use super::Shell;
use crate::commands::{self, Builtin, Out};
use crate::context::Reporter;
use crate::exit_codes;
use crate::interrupt;
use crate::output::Theme;
use crate::syntax::{Command, Pipeline};
use crate::vfs::VPath;

/// A started command.
enum Running {
    /// A host program; `true` when it leads a process group of its own (in a background
    /// thread job), which a signal passed on reaches whole, its own children included.
    Child(tokio::process::Child, bool),
    Thread(oneshot::Receiver<i32>),
    Done(i32),
}

impl Running {
    async fn wait(self) -> i32 {
        match self {
            Running::Child(mut c, group) => {
                let st = tokio::select! {
                    st = c.wait() => st,
                    () = interrupt::wait() => {
                        // Ctrl-C reached the child from the terminal; a SIGTERM or SIGHUP was
                        // sent to dockerbox alone, and a cancelled job's signal to nobody, so
                        // it is passed on (to the job's whole group, as sh's kill %N would).
                        if let (Some(sig), Some(pid)) = (interrupt::terminating(), c.id()) {
                            let target = if group { -(pid as libc::pid_t) } else { pid as libc::pid_t };
                            // SAFETY: kill(2) on our own child (or the group it leads), which
                            // is not reaped yet.
                            unsafe { libc::kill(target, sig) };
                        }
                        c.wait().await
                    }
                };
                match st {
                    Ok(st) => st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)),
                    Err(_) => exit_codes::FAILURE,
                }
            }
            // A thread that died without a status panicked.
            Running::Thread(rx) => rx.await.unwrap_or(exit_codes::FAILURE),
            Running::Done(s) => s,
        }
    }
}

/// A builtin's standard streams, from its descriptor table.
struct BuiltinIo {
    out: Box<Out>,
    stdout_tty: bool,
    /// `None`: dockerbox's own stdin.
    stdin: Option<Fd>,
    /// Its messages, to its fd 2.
    errors: Reporter,
}

/// A builtin of the command table, or one of the language's own (`set`, `read`, `eval`...).
#[derive(Clone, Copy)]
pub(super) enum Runner {
    Table(&'static dyn Builtin),
    Lang(&'static str),
}

pub(super) fn builtin(name: &OsStr) -> Option<Runner> {
    let name = name.to_str()?;
    super::lang::find(name)
        .map(Runner::Lang)
        .or_else(|| commands::find(name).map(Runner::Table))
}

/// A stage of a pipeline: a simple command already expanded, or a compound command.
pub(super) enum Stage {
    Simple(Expanded),
    Compound(Command),
    Failed(i32),
}

/// The commands that mean a container only inside one: `sh`/`bash` typed alone open a shell in
/// the current directory's container, `exec CMD` runs CMD there. Elsewhere, and `sh`/`bash`
/// with arguments anywhere, they are the host's programs, spawned as any other (so pipes and
/// redirects apply as to any host program): `exec CMD ARGS` becomes `CMD ARGS`.
fn host_forms(cwd: &std::path::Path, argv: &mut Vec<OsString>) -> bool {
    if !argv
        .first()
        .is_some_and(|n| matches!(n.as_bytes(), b"sh" | b"bash" | b"exec"))
    {
        // grep, find and du with an option dockerbox lacks: the host's, for host paths.
        return commands::search_on_host(cwd, argv);
    }
    let in_container = matches!(VPath::parse(cwd), VPath::Container { .. });
    match argv.first().and_then(|n| n.to_str()) {
        Some("sh" | "bash") => argv.len() > 1 || !in_container,
        Some("exec") if !in_container && argv.len() > 1 => {
            argv.remove(0);
            if argv.first().is_some_and(|a| a == "--") && argv.len() > 1 {
                argv.remove(0);
            }
            true
        }
        _ => false,
    }
}

/// A builtin's status, never 0 once it reported a failure: a message means a nonzero status.
fn with_reported(status: i32, errors: &Reporter) -> i32 {
    if status == exit_codes::OK {
        errors.status()
    } else {
        status
    }
}

impl Shell {
    /// Runs a pipeline; returns its status and the first command's name (for timing).
    pub(super) async fn run_pipeline(&mut self, p: &Pipeline) -> (i32, OsString) {
        if let Some(line) = p.commands.first().map(|c| c.line).filter(|l| *l > 0) {
            self.lineno = self.line_base + line - 1;
        }
        if let [c] = p.commands.as_slice() {
            if c.compound.is_some() {
                // Alone, it runs here: nothing to copy for a thread. `$PIPESTATUS` is what the
                // commands inside left, as in bash, but a subshell's is its own status.
                let st = self.run_compound(c).await;
                if matches!(
                    c.compound.as_deref(),
                    Some(crate::syntax::Compound::Subshell(_))
                ) {
                    self.pipestatus.clear();
                    self.pipestatus.push(st);
                }
                self.proc_fds.clear();
                let st = if p.negated { i32::from(st == 0) } else { st };
                return (st, OsString::new());
            }
        }
        let mut stages = Vec::with_capacity(p.commands.len());
        let mut name = OsString::new();
        for c in &p.commands {
            if c.compound.is_some() {
                stages.push(Stage::Compound(c.clone()));
                continue;
            }
            self.last_subst = None;
            // Most words expand at once: only an expansion that waits (a listing, `$(...)`)
            // needs the Ctrl-C watch around it.
            let expanded = {
                let mut expanding = std::pin::pin!(self.expand(c));
                match futures_util::poll!(expanding.as_mut()) {
                    std::task::Poll::Ready(e) => Some(e),
                    std::task::Poll::Pending => interrupt::or_abandon(expanding).await,
                }
            };
            let Some(expanded) = expanded else {
                return (exit_codes::INTERRUPTED, name);
            };
            match expanded {
                Ok(e) if e.argv.is_empty() && e.redirects.is_empty() && p.commands.len() == 1 => {
                    // Assignments alone (a loop's `x=$((x+i))`): no descriptors, no stages.
                    if interrupt::is_set() {
                        return (exit_codes::INTERRUPTED, name);
                    }
                    if self.opts.xtrace {
                        self.trace(&e);
                    }
                    let st = self.assign_alone(e);
                    self.pipestatus.clear();
                    self.pipestatus.push(st);
                    self.proc_fds.clear();
                    let st = if p.negated { i32::from(st == 0) } else { st };
                    return (st, name);
                }
                Ok(mut e) => {
                    if let Some(last) = e.argv.last() {
                        self.last_arg.clone_from(last);
                    }
                    e.host = host_forms(&self.cwd, &mut e.argv);
                    if name.is_empty() {
                        name = e.argv.first().cloned().unwrap_or_default();
                    }
                    stages.push(Stage::Simple(e));
                }
                Err(err) => {
                    let st = self.expansion_failed(&err);
                    if p.commands.len() == 1 {
                        return (st, name);
                    }
                    stages.push(Stage::Failed(st));
                }
            }
        }
        // Engines a glob could not reach: said once, and the status is 1 as `ls`'s would be.
        let mut unreachable = false;
        for s in &stages {
            let Stage::Simple(s) = s else { continue };
            let cmd = s
                .argv
                .first()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            for msg in &s.unreachable {
                self.shell_error(&format!("{cmd}: {msg}"));
                unreachable = true;
            }
        }
        if interrupt::is_set() {
            // Ctrl-C while globs listed containers: what they gave is not what was meant.
            return (exit_codes::INTERRUPTED, name);
        }
        let host = stages.iter().any(|s| match s {
            Stage::Simple(s) => {
                s.host
                    || s.argv.first().is_some_and(|n| {
                        builtin(n).is_none() && !self.functions.contains_key(n.as_bytes())
                    })
            }
            _ => false,
        });
        let _ = io::stdout().flush();
        let status = match stages.len() {
            // The REPL's job control: Ctrl-Z stops it, `fg` and `bg` continue it.
            _ if self.runs_as_job(&stages) => self.run_as_job(stages).await,
            1 => {
                let st = match stages.pop() {
                    Some(Stage::Simple(only)) => self.run_alone(only).await,
                    Some(Stage::Compound(c)) => self.run_compound(&c).await,
                    Some(Stage::Failed(st)) => st,
                    None => self.status,
                };
                self.pipestatus.clear();
                self.pipestatus.push(st);
                st
            }
            _ => Box::pin(self.run_piped(stages)).await,
        };
        self.proc_fds.clear();
        if host {
            self.vfs.host_command_ran();
        }
        let status = if unreachable && status == exit_codes::OK {
            exit_codes::FAILURE
        } else {
            status
        };
        let status = if p.negated {
            i32::from(status == 0)
        } else {
            status
        };
        (status, name)
    }

    /// `set -x`: the command as it will run, on stderr.
    pub(super) fn trace(&self, e: &Expanded) {
        let ps4 = self
            .vars
            .get(b"PS4")
            .map_or_else(|| b"+ ".to_vec(), <[u8]>::to_vec);
        let mut line = ps4;
        let mut first = true;
        let words = e.assignments.iter().map(|(n, v)| {
            let mut a = n.clone();
            a.push(b'=');
            a.extend_from_slice(&crate::syntax::quote(v.as_bytes()));
            a
        });
        for w in words.chain(e.argv.iter().map(|a| crate::syntax::quote(a.as_bytes()))) {
            if !first {
                line.push(b' ');
            }
            first = false;
            line.extend_from_slice(&w);
        }
        line.push(b'\n');
        let _ = io::stderr().write_all(&line);
    }

    /// A command of assignments alone sets them in this shell; `x=$(false)` has the
    /// substitution's status.
    fn assign_alone(&mut self, e: Expanded) -> i32 {
        let mut st = self.last_subst.take().unwrap_or(exit_codes::OK);
        for (name, value) in e.assignments {
            // bash (not in POSIX mode) goes on after a refused assignment.
            if let Err(msg) = self.assign(&name, value.into_vec()) {
                self.shell_error(&msg);
                st = exit_codes::FAILURE;
            }
        }
        st
    }

    /// A command on its own: a builtin runs in this shell, assignments alone set variables.
    pub(super) async fn run_alone(&mut self, mut e: Expanded) -> i32 {
        if self.opts.xtrace {
            self.trace(&e);
        }
        let mut pumps = Pumps::default();
        let mut table = self.base_table();
        // `command NAME`: no function; `builtin NAME`: no function nor program.
        let mut no_function = false;
        while e.argv.len() > 1
            && matches!(e.argv[0].as_bytes(), b"command" | b"builtin")
            && !e.argv[1].as_bytes().starts_with(b"-")
        {
            e.argv.remove(0);
            no_function = true;
        }
        let function = e
            .argv
            .first()
            .filter(|_| !no_function && !e.host)
            .and_then(|n| self.functions.get(n.as_bytes()).cloned());
        // The rarer, larger futures are boxed where they run, so the common path (an
        // assignment, a builtin) does not carry them: a loop's body re-creates this one.
        let redirected = e.redirects.is_empty()
            || Box::pin(self.redirect(&e.redirects, &mut table, &mut pumps)).await;
        let status = if !redirected {
            drop(table);
            exit_codes::FAILURE
        } else if e.argv.is_empty() {
            drop(table);
            self.assign_alone(e)
        } else if e.argv.len() == 1 && e.argv[0] == "exec" && !e.redirects.is_empty() {
            // `exec 3>f`, `exec >log`: the redirects stay for the rest of the shell, and so do
            // their container streams; those of descriptors it closed or replaced end now.
            self.inherited = Some(table);
            self.held.hold(std::mem::take(&mut pumps));
            if self.held.settle(&self.own).await {
                exit_codes::OK
            } else {
                exit_codes::FAILURE
            }
        } else if let Some(body) = function {
            let saved: Vec<(Vec<u8>, Option<Vec<u8>>)> = e
                .assignments
                .iter()
                .map(|(n, v)| {
                    let old = self.vars.get(n).map(<[u8]>::to_vec);
                    self.vars.set(n, v.as_bytes().to_vec());
                    (n.clone(), old)
                })
                .collect();
            let args = e.argv[1..].to_vec();
            let st = Box::pin(self.call_function(body, args, table)).await;
            for (n, old) in saved {
                match old {
                    Some(v) => self.vars.set(&n, v),
                    None => self.vars.unset(&n),
                }
            }
            st
        } else if let Some(b) = builtin(&e.argv[0]).filter(|_| !e.host) {
            Box::pin(self.run_builtin_here(b, e, table)).await
        } else {
            Box::pin(async {
                match self.start_host(e, table, &mut pumps).await {
                    Ok((child, group)) => Running::Child(child, group).wait().await,
                    Err(status) => status,
                }
            })
            .await
        };
        let keep = status != exit_codes::INTERRUPTED && !interrupt::is_set();
        if !pumps.is_empty() && !pumps.finish(keep, &self.own).await && status == exit_codes::OK {
            exit_codes::FAILURE
        } else {
            status
        }
    }

    /// Several commands joined by pipes, all started before any is waited for.
    async fn run_piped(&mut self, stages: Vec<Stage>) -> i32 {
        let n = stages.len();
        let mut pumps = Pumps::default();
        let mut running = Vec::with_capacity(n);
        let mut next_in: Option<Fd> = None;
        for (i, stage) in stages.into_iter().enumerate() {
            let Some(mut table) = self.stage_table(i + 1 < n, &mut next_in) else {
                running.push(Running::Done(exit_codes::FAILURE));
                break;
            };
            let mut e = match stage {
                Stage::Simple(e) => e,
                Stage::Compound(c) => {
                    running.push(self.start_copy(Stage::Compound(c), table));
                    continue;
                }
                Stage::Failed(st) => {
                    running.push(Running::Done(st));
                    continue;
                }
            };
            let runner = e.argv.first().and_then(|n| builtin(n)).filter(|_| !e.host);
            let function = e
                .argv
                .first()
                .is_some_and(|n| self.functions.contains_key(n.as_bytes()));
            let started = if !self.redirect(&e.redirects, &mut table, &mut pumps).await {
                Running::Done(exit_codes::FAILURE)
            } else if e.argv.is_empty() {
                Running::Done(exit_codes::OK)
            } else if let (Some(Runner::Table(b)), false) = (runner, function) {
                self.start_builtin(b, e, table)
            } else if function || runner.is_some() {
                e.redirects.clear();
                self.start_copy(Stage::Simple(e), table)
            } else {
                match self.start_host(e, table, &mut pumps).await {
                    Ok((child, group)) => Running::Child(child, group),
                    Err(status) => Running::Done(status),
                }
            };
            running.push(started);
        }
        drop(next_in);
        let (mut status, mut interrupted) = (exit_codes::OK, false);
        let mut failed = exit_codes::OK;
        self.pipestatus.clear();
        for r in running {
            status = r.wait().await;
            self.pipestatus.push(status);
            interrupted |= status == exit_codes::INTERRUPTED;
            if status != exit_codes::OK {
                failed = status;
            }
        }
        if self.opts.pipefail {
            status = failed;
        }
        // `yes | cat > f`: Ctrl-C killed yes, and cat saw a plain end of input.
        let keep = !interrupted && !interrupt::is_set();
        if !pumps.finish(keep, &self.own).await && status == exit_codes::OK {
            exit_codes::FAILURE
        } else {
            status
        }
    }

    /// A pipeline stage's descriptors: stdin from the previous stage's pipe (`next_in`), and
    /// stdout into a new pipe when another stage `follows` (its reading end left in
    /// `next_in`). `None` when no pipe could be made (said).
    pub(super) fn stage_table(&self, follows: bool, next_in: &mut Option<Fd>) -> Option<FdTable> {
        let mut table = self.base_table();
        if let Some(fd) = next_in.take() {
            table.set(0, fd);
        }
        if follows {
            match fds::pipe() {
                Ok((r, w)) => {
                    table.set(1, Arc::new(w));
                    *next_in = Some(Arc::new(r));
                }
                Err(err) => {
                    self.shell_error(&format!(
                        "cannot make a pipe: {}",
                        crate::vfs::io_text(&err)
                    ));
                    return None;
                }
            }
        }
        Some(table)
    }

    /// A builtin's streams from its table; the stdout writer is made here.
    fn builtin_io(&self, table: &FdTable, b_name: &'static str) -> io::Result<BuiltinIo> {
        let (out, stdout_tty): (Box<Out>, bool) = match table.get(1) {
            fd if self.std.is(1, fd) => (Box::new(StdoutWriter), self.stdout_tty),
            None => (Box::new(ClosedWriter), false),
            Some(fd) => (Box::new(fds::line_writer(fd)?), fds::is_tty(fd)),
        };
        let stdin = match table.get(0) {
            fd if self.std.is(0, fd) => None,
            None => Some(Arc::new(fds::dev_null(false)?)),
            Some(fd) => Some(fd.clone()),
        };
        let errors = match table.get(2) {
            fd if self.std.is(2, fd) => self.own.clone(),
            None => Reporter::to_file(fds::dev_null(true)?.into(), false),
            Some(fd) => Reporter::to_file(fd.try_clone()?.into(), fds::is_tty(fd)),
        };
        Ok(BuiltinIo {
            out,
            stdout_tty,
            stdin,
            errors: errors.for_command(b_name),
        })
    }

    /// Colours only where they were asked for: not into a pipe or file under `--color auto`.
    fn theme_for(&self, stdout_tty: bool) -> Arc<Theme> {
        if stdout_tty || self.color_forced || !self.theme.enabled {
            self.theme.clone()
        } else {
            Arc::new(Theme::new(false, None))
        }
    }

    /// Runs a builtin in this shell with its redirects; `A=b builtin` lasts for the builtin.
    async fn run_builtin_here(&mut self, b: Runner, e: Expanded, table: FdTable) -> i32 {
        let name = match b {
            Runner::Table(b) => b.name(),
            Runner::Lang(n) => n,
        };
        let io = match self.builtin_io(&table, name) {
            Ok(io) => io,
            Err(err) => {
                self.shell_error(&crate::vfs::io_text(&err));
                return exit_codes::FAILURE;
            }
        };
        // `read -u 3 3<file`: a language builtin may use the command's other descriptors.
        let saved_table = match b {
            Runner::Lang(_) => self.command_fds.replace(table),
            Runner::Table(_) => {
                drop(table);
                self.command_fds.take()
            }
        };
        let Expanded {
            assignments, argv, ..
        } = e;
        let saved_vars: Vec<(Vec<u8>, Option<Vec<u8>>)> = assignments
            .iter()
            .map(|(name, _)| (name.clone(), self.vars.get(name).map(<[u8]>::to_vec)))
            .collect();
        for (name, value) in &assignments {
            self.vars.set(name, value.as_bytes().to_vec());
        }
        let theme = self.theme_for(io.stdout_tty);
        let saved = (
            std::mem::replace(&mut self.stdin, io.stdin),
            std::mem::replace(&mut self.stdout_tty, io.stdout_tty),
            std::mem::replace(&mut self.theme, theme),
            std::mem::replace(&mut self.errors, io.errors),
        );
        let mut out = io.out;
        let ran = match b {
            Runner::Table(b) => {
                interrupt::or_abandon(b.run(&mut self.ctx, argv[1..].to_vec(), &mut *out)).await
            }
            Runner::Lang(name) => {
                interrupt::or_abandon(super::lang::run(self, name, argv[1..].to_vec(), &mut *out))
                    .await
            }
        };
        let status = ran.unwrap_or(exit_codes::INTERRUPTED);
        let status = with_reported(status, &self.errors);
        let _ = out.flush();
        drop(out);
        (self.stdin, self.stdout_tty, self.theme, self.errors) = saved;
        self.command_fds = saved_table;
        // The temporary values go.
        for (name, old) in saved_vars {
            match old {
                Some(v) => self.vars.set(&name, v),
                None => self.vars.unset(&name),
            }
        }
        status
    }

    /// Starts a stage that needs the interpreter (a compound command, a function, a language
    /// builtin) on its own thread, on a copy of the shell whose descriptors are `table`.
    fn start_copy(&self, stage: Stage, table: FdTable) -> Running {
        let mut sub = self.subshell_copy();
        sub.inherited = Some(table);
        let handle = tokio::runtime::Handle::current();
        let (tx, rx) = oneshot::channel();
        let job = interrupt::scope();
        let spawned = std::thread::Builder::new()
            .name("dockerbox-stage".into())
            .spawn(move || {
                interrupt::enter(job);
                let status = handle.block_on(async {
                    match stage {
                        Stage::Simple(e) => sub.run_alone(e).await,
                        Stage::Compound(c) => sub.run_compound(&c).await,
                        Stage::Failed(st) => st,
                    }
                });
                let status = sub.exit.unwrap_or(status);
                drop(sub);
                let _ = tx.send(status);
            });
        match spawned {
            Ok(_) => Running::Thread(rx),
            Err(err) => {
                self.shell_error(&format!(
                    "cannot start a thread: {}",
                    crate::vfs::io_text(&err)
                ));
                Running::Done(exit_codes::FAILURE)
            }
        }
    }

    /// Starts a builtin of a pipeline on its own thread, on a copy of the shell.
    fn start_builtin(&self, b: &'static dyn Builtin, e: Expanded, table: FdTable) -> Running {
        let io = match self.builtin_io(&table, b.name()) {
            Ok(io) => io,
            Err(err) => {
                self.shell_error(&crate::vfs::io_text(&err));
                return Running::Done(exit_codes::FAILURE);
            }
        };
        drop(table);
        let mut sub = self.clone();
        sub.subshell = true;
        for (name, value) in &e.assignments {
            sub.vars.set(name, value.as_bytes().to_vec());
        }
        sub.theme = self.theme_for(io.stdout_tty);
        sub.stdin = io.stdin;
        sub.stdout_tty = io.stdout_tty;
        sub.errors = io.errors;
        let args = e.argv[1..].to_vec();
        let mut out = io.out;
        let handle = tokio::runtime::Handle::current();
        let (tx, rx) = oneshot::channel();
        let job = interrupt::scope();
        let spawned = std::thread::Builder::new()
            .name("dockerbox-builtin".into())
            .spawn(move || {
                interrupt::enter(job);
                let status = handle
                    .block_on(interrupt::or_abandon(b.run(&mut sub.ctx, args, &mut *out)))
                    .unwrap_or(exit_codes::INTERRUPTED);
                let status = with_reported(status, &sub.errors);
                let _ = out.flush();
                drop(out);
                drop(sub);
                let _ = tx.send(status);
            });
        match spawned {
            Ok(_) => Running::Thread(rx),
            Err(err) => {
                self.shell_error(&format!(
                    "cannot start a thread: {}",
                    crate::vfs::io_text(&err)
                ));
                Running::Done(exit_codes::FAILURE)
            }
        }
    }

    /// Spawns a host program (see [`Shell::host_command`]), and says whether it leads a
    /// process group of its own. `Err` is the status when it could not start.
    async fn start_host(
        &self,
        e: Expanded,
        table: FdTable,
        pumps: &mut Pumps,
    ) -> Result<(tokio::process::Child, bool), i32> {
        let (mut cmd, name) = self.host_command(e, table, pumps).await?;
        let group = interrupt::scope().is_some();
        if group {
            // In a background job: out of reach of the terminal's signals.
            super::jobs::own_group(&mut cmd);
        }
        // The command (and with it every descriptor the layout kept) is dropped right after.
        let spawned = tokio::process::Command::from(cmd).spawn();
        spawned
            .map(|child| (child, group))
            .map_err(|err| self.spawn_failed(&name, &err))
    }

    /// A host program to spawn in the last host directory, with the exported variables plus
    /// its own assignments, exactly the descriptors of `table`, and container paths among its
    /// arguments as typed (the namespace mounted for it) or, where no mount can be made, files
    /// as `/dev/fd/N` streams; and its name. `Err` is the status when it cannot run.
    pub(super) async fn host_command(
        &self,
        e: Expanded,
        table: FdTable,
        pumps: &mut Pumps,
    ) -> Result<(std::process::Command, OsString), i32> {
        let Expanded {
            assignments, argv, ..
        } = e;
        let Some((name, args)) = argv.split_first() else {
            return Err(exit_codes::OK);
        };
        let shown = name.to_string_lossy();
        if name.as_bytes().contains(&b'/') && self.resolve(name).is_virtual() {
            self.shell_error(&format!(
                "{shown}: a program inside a container cannot run on the host"
            ));
            return Err(exit_codes::CANNOT_EXECUTE);
        }
        // `PATH=... cmd` looks cmd up there, remembering nothing.
        let own_path = assignments.iter().find(|(k, _)| k == b"PATH");
        let found = match own_path {
            _ if name.as_bytes().contains(&b'/') => Some(name.clone()),
            Some((_, p)) => super::hash::search(p.as_bytes(), name.as_bytes()),
            None => self.find_program(name.as_bytes(), true),
        };
        let program = if let Some(p) = found {
            p
        } else {
            self.shell_error(&format!("{shown}: command not found"));
            return Err(exit_codes::NOT_FOUND);
        };
        // Where the namespace can be mounted for it, a program naming it gets its arguments
        // as typed (and a container directory to run in); else container files as streams.
        let inside = VPath::parse(&self.cwd).is_virtual();
        let view = self
            .wants_view(name, args)
            .then(|| crate::mount::realpaths::view(&self.vfs));
        let verbose = crate::mount::realpaths::verbose();
        let (args, streams, enter) = match view {
            Some(Ok(view)) => {
                if verbose {
                    self.own.note(format_args!(
                        "{shown}: container paths as typed (the namespace is mounted for it)"
                    ));
                }
                let dir = if inside { &self.cwd } else { &self.host_cwd };
                let enter = view.enter(dir, inside).map_err(|err| {
                    self.shell_error(&format!("{shown}: {}", crate::vfs::io_text(&err)));
                    exit_codes::CANNOT_EXECUTE
                })?;
                (args.to_vec(), Vec::new(), Some(enter))
            }
            other => {
                if let (Some(Err(why)), true) = (other, verbose) {
                    self.own.note(format_args!(
                        "{shown}: container files as /dev/fd streams (no mount: {why})"
                    ));
                }
                let (args, streams) = self.stream_args(name, args, &table, pumps).await?;
                (args, streams, None)
            }
        };
        let mut cmd = std::process::Command::new(program);
        cmd.arg0(name).args(&args).env_clear();
        // A removed directory cannot be entered again, but the process is still in it (a
        // subshell's copy never left it): the program starts there too.
        if self.subshell || std::fs::metadata(&self.host_cwd).is_ok() {
            cmd.current_dir(&self.host_cwd);
        }
        for (k, v) in self.vars.exported() {
            cmd.env(OsStr::from_bytes(k), OsStr::from_bytes(v));
        }
        // `$PWD` as `cd` left it means the host directory the program runs in; one the user
        // set or unset is passed as it is.
        if self.vars.get(b"PWD") == Some(self.cwd.as_os_str().as_bytes()) {
            let dir = match (&enter, inside) {
                (Some(_), true) => &self.cwd,
                _ => &self.host_cwd,
            };
            cmd.env("PWD", dir);
        }
        for (k, v) in &assignments {
            cmd.env(OsStr::from_bytes(k), v);
        }
        let mut layout = table.for_child(&streams);
        drop((table, streams));
        // SAFETY: `apply` makes only async-signal-safe descriptor calls and allocates nothing.
        unsafe { cmd.pre_exec(move || layout.apply()) };
        if let Some(enter) = enter {
            // SAFETY: `apply` makes only async-signal-safe calls and allocates nothing.
            unsafe { cmd.pre_exec(move || enter.apply()) };
        }
        Ok((cmd, name.clone()))
    }

    /// Reports why `name` could not start; its status (127 not found, 126 otherwise).
    pub(super) fn spawn_failed(&self, name: &OsStr, err: &io::Error) -> i32 {
        let shown = name.to_string_lossy();
        let (msg, code) = match err.kind() {
            io::ErrorKind::NotFound if !name.as_bytes().contains(&b'/') => {
                ("command not found".to_string(), exit_codes::NOT_FOUND)
            }
            io::ErrorKind::NotFound => (
                "No such file or directory".to_string(),
                exit_codes::NOT_FOUND,
            ),
            io::ErrorKind::PermissionDenied => {
                ("Permission denied".to_string(), exit_codes::CANNOT_EXECUTE)
            }
            _ => (crate::vfs::io_text(err), exit_codes::CANNOT_EXECUTE),
        };
        self.shell_error(&format!("{shown}: {msg}"));
        code
    }
}
