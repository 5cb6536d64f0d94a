//! Jobs: `&` jobs (a copy of the shell on a thread, as in any mode) and, in the REPL, job
//! control for pipelines of host programs, with `jobs`, `fg`, `bg`, `wait` and `%N` specs.
//!
//! Job control is on when the REPL starts on a terminal whose foreground process group is
//! dockerbox's: dockerbox then ignores SIGTSTP, SIGTTIN and SIGTTOU, and a foreground pipeline
//! whose every stage is a host program runs in a process group of its own that gets the
//! terminal (`tcsetpgrp`), its children with those signals at their defaults. Its processes are
//! waited for with `WUNTRACED`, so Ctrl-Z (SIGTSTP to that group alone) stops it and makes it a
//! job; the terminal and its modes come back to dockerbox after. A pipeline with a builtin
//! stage runs as without job control: a builtin is a thread of dockerbox, which cannot be
//! stopped, so the whole pipeline stays in dockerbox's group and ignores Ctrl-Z (its host
//! programs inherit the ignored SIGTSTP): nothing stops half-way, nothing waits forever.
//! Ctrl-C reaches only the foreground group; a stage killed by SIGINT interrupts dockerbox's
//! own loop as a Ctrl-C would. Scripts and `-c` have no job control, as in sh.
//!
//! An `&` job that is one pipeline of host programs named plainly (`sleep 100 &`, `make >log
//! 2>&1 &`, `a | b &`) is no thread: its processes start in a process group of their own, not
//! given the terminal, and the job is that group, as a stopped one is: `fg` gives it the
//! terminal (Ctrl-Z stops it again), `bg`, `kill %N` (its group), `wait`; `$!` is its last
//! process's real PID. Any other `&` job runs on a thread, on a copy of the shell, with a
//! [`interrupt::Cancel`] of its own: the terminal's Ctrl-C is not for it, `kill %N` (or `kill
//! $!`) cancels it (status 128 + the signal, 143 for SIGTERM), `fg` waits for it (Ctrl-C
//! cancels it then), and its `$!` is a number above any real PID (also its `$BASHPID`). Host
//! programs it starts get a process group each, so the terminal's signals skip them too. A
//! script or `-c` waits for its thread jobs before it ends (their output would die with
//! dockerbox); host processes go on by themselves, as in sh.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::fds;
use super::pipeline::Stage;
use super::redirect::Pumps;
use super::Shell;
use crate::commands::Out;
use crate::exit_codes;
use crate::interrupt::{self, Cancel};
use crate::syntax::{AndOr, Pipeline};

/// A job: `&` work on a thread, or host processes under job control.
pub struct Job {
    /// `%N`.
    pub number: usize,
    /// What `$!`, `wait ID` and `jobs -p` name: a number of its own for a thread, the process
    /// group for host processes.
    pub id: u32,
    pub text: String,
    /// Its status once it ended.
    pub done: Option<i32>,
    pub thread: Option<std::thread::JoinHandle<i32>>,
    /// A thread job's cancellation (`kill %N`).
    cancel: Option<Arc<Cancel>>,
    /// A host job's container file streams, finishing on their own.
    pumps: Option<tokio::task::JoinHandle<bool>>,
    pub group: Option<Group>,
    /// When it was last started, stopped or continued: `%+` is the latest, `%-` the one before.
    seen: u64,
}

/// The host processes of a job under job control: one process group.
pub struct Group {
    pub pgid: i32,
    /// Each stage's process (0 for one that never started) and its status once it ended.
    procs: Vec<(i32, Option<i32>)>,
    pub stopped: bool,
    /// The terminal's modes when it stopped, put back when it is continued in the foreground.
    modes: Option<libc::termios>,
    /// The signal that killed its last process, if one did.
    killed_by: Option<i32>,
}

impl Job {
    /// Whether `id` names it: its own ID (`$!` of a thread job, a process group), or one of
    /// its processes (`$!` of a host job is its last one).
    fn named(&self, id: u32) -> bool {
        self.id == id
            || self
                .group
                .as_ref()
                .is_some_and(|g| g.procs.iter().any(|(p, _)| *p > 0 && *p as u32 == id))
    }
}

/// The jobs, shared by the shell's copies (a copy never waits for them).
pub type Jobs = Arc<Mutex<Vec<Job>>>;

/// `$!` numbers of thread jobs start here, clear of real process IDs' usual range.
const FIRST_JOB_ID: u32 = 1 << 22;

static NEXT_ID: AtomicU32 = AtomicU32::new(FIRST_JOB_ID + 1);
static CLOCK: AtomicU64 = AtomicU64::new(1);
/// dockerbox's process group, once job control is on.
static CONTROL: OnceLock<libc::pid_t> = OnceLock::new();
/// The line the REPL is running, for the text of `&` jobs started from it.
static SOURCE: Mutex<Vec<u8>> = Mutex::new(Vec::new());

fn tick() -> u64 {
    CLOCK.fetch_add(1, Ordering::Relaxed)
}

/// Turns job control on if dockerbox owns the terminal on stdin (the REPL calls this once).
pub fn enable_job_control() {
    // SAFETY: plain queries and signal dispositions; no memory is shared.
    unsafe {
        if libc::isatty(libc::STDIN_FILENO) != 1
            || libc::tcgetpgrp(libc::STDIN_FILENO) != libc::getpgrp()
        {
            return;
        }
        for sig in [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU] {
            libc::signal(sig, libc::SIG_IGN);
        }
        let _ = CONTROL.set(libc::getpgrp());
    }
}

/// Makes a host program of a background thread job a process group of its own: the
/// terminal's Ctrl-C and Ctrl-Z are not for it (it keeps dockerbox's ignored SIGTSTP).
pub(super) fn own_group(cmd: &mut std::process::Command) {
    // SAFETY: setpgid is async-signal-safe and allocates nothing.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, || {
            libc::setpgid(0, 0);
            Ok(())
        })
    };
}

/// Remembers the line the REPL runs next, for the text `jobs` shows for its `&` jobs.
pub fn remember_line(line: &[u8]) {
    if let Ok(mut s) = SOURCE.lock() {
        s.clear();
        s.extend_from_slice(line);
    }
}

fn terminal_modes() -> Option<libc::termios> {
    // SAFETY: a zeroed termios is a valid out-buffer that tcgetattr fills.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    (unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut t) } == 0).then_some(t)
}

fn set_terminal_modes(t: &libc::termios) {
    // SAFETY: modes read from this same terminal.
    unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSADRAIN, t) };
}

/// Gives the terminal to process group `pgid` (dockerbox ignores SIGTTOU, so it may).
fn give_terminal(pgid: libc::pid_t) {
    // SAFETY: tcsetpgrp on our own terminal.
    unsafe { libc::tcsetpgrp(libc::STDIN_FILENO, pgid) };
}

/// A status from `waitpid`: the exit code, or 128 + the signal.
fn code(st: libc::c_int) -> i32 {
    if libc::WIFEXITED(st) {
        libc::WEXITSTATUS(st)
    } else if libc::WIFSIGNALED(st) {
        128 + libc::WTERMSIG(st)
    } else {
        exit_codes::FAILURE
    }
}

impl Group {
    /// Collects what changed without waiting: ended processes' statuses, continued ones, and
    /// the signal that stopped one, if one stopped.
    fn poll(&mut self) -> Option<libc::c_int> {
        let mut stopped = None;
        let last = self.procs.last().map(|(p, _)| *p);
        for (pid, status) in self.procs.iter_mut().filter(|(p, s)| *p > 0 && s.is_none()) {
            let mut st = 0;
            // SAFETY: waitpid on our own child, which only we reap (it is no tokio Child).
            let r = unsafe {
                libc::waitpid(
                    *pid,
                    &mut st,
                    libc::WNOHANG | libc::WUNTRACED | libc::WCONTINUED,
                )
            };
            if r == *pid {
                if libc::WIFSTOPPED(st) {
                    stopped = stopped.or(Some(libc::WSTOPSIG(st)));
                } else if libc::WIFCONTINUED(st) {
                    self.stopped = false;
                } else {
                    *status = Some(code(st));
                    if libc::WIFSIGNALED(st) && last == Some(*pid) {
                        self.killed_by = Some(libc::WTERMSIG(st));
                    }
                }
            } else if r < 0 {
                *status = Some(exit_codes::FAILURE);
            }
        }
        stopped
    }

    fn ended(&self) -> bool {
        self.procs.iter().all(|(_, s)| s.is_some())
    }

    /// The pipeline's status: the last stage's, or the last failure's under `pipefail`.
    fn status(&self, pipefail: bool) -> i32 {
        let mut statuses = self.procs.iter().map(|(_, s)| s.unwrap_or(exit_codes::OK));
        if pipefail {
            statuses.rfind(|s| *s != 0).unwrap_or(exit_codes::OK)
        } else {
            statuses.next_back().unwrap_or(exit_codes::OK)
        }
    }

    fn signal(&self, sig: libc::c_int) {
        if self.pgid > 0 {
            // SAFETY: kill(2) on our own job's process group.
            unsafe { libc::kill(-self.pgid, sig) };
        }
    }

    /// [`Group::wait`] for a group that has the terminal; then dockerbox takes it back with
    /// its modes `ours` (a stopped group's own are kept for `fg`).
    async fn wait_in_foreground(&mut self, ours: Option<libc::termios>, unstoppable: bool) -> bool {
        let stopped = self.wait(unstoppable, true).await;
        if let Some(&me) = CONTROL.get() {
            give_terminal(me);
        }
        if stopped {
            self.modes = terminal_modes();
        }
        if let Some(t) = &ours {
            set_terminal_modes(t);
        }
        stopped
    }

    /// Waits until every process ended (false) or the group stopped (true). A stop that must
    /// not happen is undone at once: one by SIGTTIN/SIGTTOU in the `foreground` (it touched
    /// the terminal before it was given), or any while `unstoppable` (a container file streams
    /// through dockerbox for it). A SIGTERM or SIGHUP to dockerbox is passed on.
    async fn wait(&mut self, unstoppable: bool, foreground: bool) -> bool {
        use tokio::signal::unix::{signal, SignalKind};
        let mut child = signal(SignalKind::child()).ok();
        let mut passed_on = false;
        loop {
            if let Some(sig) = self.poll() {
                if unstoppable || (foreground && matches!(sig, libc::SIGTTIN | libc::SIGTTOU)) {
                    self.signal(libc::SIGCONT);
                } else {
                    self.stopped = true;
                    return true;
                }
            }
            if self.ended() {
                return false;
            }
            let sigchld = async {
                match &mut child {
                    Some(c) => {
                        c.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            // A SIGCHLD is never lost (the stream is made before the first poll); the tick is
            // belt and braces.
            let tick = tokio::time::sleep(std::time::Duration::from_millis(500));
            tokio::select! {
                () = sigchld => {}
                () = interrupt::wait(), if !passed_on => {
                    passed_on = true;
                    if let Some(sig) = interrupt::terminating() {
                        self.signal(sig);
                        self.signal(libc::SIGCONT);
                    }
                }
                () = tick => {}
            }
        }
    }
}

/// What a job spec names.
enum Spec {
    Number(usize),
    Id(u32),
}

impl Shell {
    /// Whether this shell runs pipelines of host programs under job control: the REPL's own
    /// shell (not a copy) on its terminal.
    fn job_control(&self) -> bool {
        self.interactive && !self.subshell && CONTROL.get().is_some()
    }

    /// Whether the pipeline's stages are all host programs and it runs under job control.
    pub(super) fn runs_as_job(&self, stages: &[Stage]) -> bool {
        // Not inside a loop: there a Ctrl-C must reach the shell too, and a short program's
        // group may be gone (the SIGINT lost) before the terminal is taken back.
        self.loops == 0
            && self.job_control()
            && stages.iter().all(|s| match s {
                Stage::Simple(e) => e.argv.first().is_some_and(|n| {
                    e.host
                        || (super::pipeline::builtin(n).is_none()
                            && !self.functions.contains_key(n.as_bytes()))
                }),
                _ => false,
            })
    }

    /// Starts a pipeline of host programs in a process group of its own (the terminal given
    /// to it when `foreground`), its children with SIGTSTP, SIGTTIN and SIGTTOU at their
    /// defaults; returns the group, the container file streams and the pipeline's text.
    async fn spawn_group(
        &mut self,
        stages: Vec<Stage>,
        foreground: bool,
    ) -> (Group, Pumps, String) {
        let n = stages.len();
        let mut pumps = Pumps::default();
        let mut group = Group {
            pgid: 0,
            procs: Vec::with_capacity(n),
            stopped: false,
            modes: None,
            killed_by: None,
        };
        let mut text = Vec::new();
        let mut next_in = None;
        for (i, stage) in stages.into_iter().enumerate() {
            let Stage::Simple(e) = stage else {
                group.procs.push((0, Some(exit_codes::FAILURE)));
                continue;
            };
            if !text.is_empty() {
                text.extend_from_slice(b" | ");
            }
            let words: Vec<Vec<u8>> = e
                .argv
                .iter()
                .map(|a| crate::syntax::quote(a.as_bytes()))
                .collect();
            text.extend_from_slice(&words.join(&b' '));
            if self.opts.xtrace {
                self.trace(&e);
            }
            let Some(mut table) = self.stage_table(i + 1 < n, &mut next_in) else {
                group.procs.push((0, Some(exit_codes::FAILURE)));
                break;
            };
            if !self.redirect(&e.redirects, &mut table, &mut pumps).await {
                group.procs.push((0, Some(exit_codes::FAILURE)));
                continue;
            }
            let pid = match self.host_command(e, table, &mut pumps).await {
                Ok((mut cmd, name)) => {
                    let pgid = group.pgid;
                    // SAFETY: setpgid and signal are async-signal-safe and allocate nothing.
                    unsafe {
                        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                            libc::setpgid(0, pgid);
                            for sig in [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU] {
                                libc::signal(sig, libc::SIG_DFL);
                            }
                            Ok(())
                        })
                    };
                    match cmd.spawn() {
                        // The child is reaped by `Group::wait`, not by std or tokio.
                        Ok(child) => child.id() as i32,
                        Err(err) => {
                            group.procs.push((0, Some(self.spawn_failed(&name, &err))));
                            continue;
                        }
                    }
                }
                Err(status) => {
                    group.procs.push((0, Some(status)));
                    continue;
                }
            };
            if group.pgid == 0 {
                group.pgid = pid;
                // SAFETY: setpgid on our own child (it did the same before exec).
                unsafe { libc::setpgid(pid, pid) };
                if foreground {
                    give_terminal(pid);
                }
            } else {
                // SAFETY: as above.
                unsafe { libc::setpgid(pid, group.pgid) };
            }
            group.procs.push((pid, None));
        }
        drop(next_in);
        (group, pumps, String::from_utf8_lossy(&text).into_owned())
    }

    /// Runs a pipeline of host programs in a process group of its own that has the terminal
    /// until it ends or stops (then it is a job, and the status is 128 + SIGTSTP).
    pub(super) async fn run_as_job(&mut self, stages: Vec<Stage>) -> i32 {
        let ours = terminal_modes();
        let (mut group, pumps, text) = self.spawn_group(stages, true).await;
        let stopped = group.pgid != 0 && group.wait_in_foreground(ours, !pumps.is_empty()).await;
        self.pipestatus = group
            .procs
            .iter()
            .map(|(_, s)| s.unwrap_or(128 + libc::SIGTSTP))
            .collect();
        if stopped {
            let number = self.add_job(text, None, Some(group));
            self.show_job(number);
            return 128 + libc::SIGTSTP;
        }
        let status = group.status(self.opts.pipefail);
        if self.pipestatus.contains(&(128 + libc::SIGINT)) {
            // Ctrl-C went to the job's group alone: what runs around it stops too.
            interrupt::raise();
        }
        let keep = !interrupt::is_set();
        if !pumps.finish(keep, &self.own).await && status == exit_codes::OK {
            exit_codes::FAILURE
        } else {
            status
        }
    }

    /// Adds a job; returns its number (one more than the highest in use, as bash does).
    fn add_job(
        &mut self,
        text: String,
        thread: Option<std::thread::JoinHandle<i32>>,
        group: Option<Group>,
    ) -> usize {
        let id = match &group {
            Some(g) if g.pgid > 0 => g.pgid as u32,
            _ => NEXT_ID.fetch_add(1, Ordering::Relaxed),
        };
        self.add_job_as(id, text, thread, group)
    }

    fn add_job_as(
        &mut self,
        id: u32,
        text: String,
        thread: Option<std::thread::JoinHandle<i32>>,
        group: Option<Group>,
    ) -> usize {
        let mut jobs = match self.jobs.lock() {
            Ok(j) => j,
            Err(p) => p.into_inner(),
        };
        let number = jobs.iter().map(|j| j.number).max().unwrap_or(0) + 1;
        jobs.push(Job {
            number,
            id,
            text,
            done: None,
            thread,
            cancel: None,
            pumps: None,
            group,
            seen: tick(),
        });
        number
    }

    /// The pipeline `item` is when it is one whose every command is a host program named
    /// plainly (no builtin, function, `sh`/`bash`/`exec`, nor a name from an expansion): such a
    /// job needs no thread.
    fn host_pipeline<'a>(&self, item: &'a AndOr) -> Option<&'a Pipeline> {
        let host = |c: &crate::syntax::Command| {
            c.compound.is_none()
                && c.words.first().and_then(|w| w.as_bare()).is_some_and(|n| {
                    !n.iter().any(|b| b"*?[".contains(b))
                        && !matches!(n, b"sh" | b"bash" | b"exec")
                        && super::pipeline::builtin(std::ffi::OsStr::from_bytes(n)).is_none()
                        && !self.functions.contains_key(n)
                })
        };
        (item.rest.is_empty() && !item.first.negated && item.first.commands.iter().all(host))
            .then_some(&item.first)
    }

    /// `list &`: a pipeline of host programs starts as a process group of its own, anything
    /// else on a copy of the shell on its own thread; `$!` names it.
    pub(super) async fn start_background(&mut self, item: &AndOr) {
        let mut sub = self.subshell_copy();
        sub.interactive = false;
        let mut item = item.clone();
        item.background = false;
        if self.inherited.is_none() && !self.interactive {
            // As sh without job control: a background job does not read our stdin.
            if let Ok(null) = fds::dev_null(false) {
                let mut t = self.base_table();
                t.set(0, Arc::new(null));
                sub.inherited = Some(t);
            }
        }
        let text = self.job_text(&item);
        let (number, last) = if let Some(p) = self.host_pipeline(&item) {
            match sub.start_host_job(p).await {
                Ok((group, pumps)) => {
                    let last = group
                        .procs
                        .iter()
                        .rev()
                        .find(|(p, _)| *p > 0)
                        .map(|(p, _)| *p as u32);
                    let number = self.add_job(text, None, Some(group));
                    if let (Some(pumps), Ok(mut jobs)) = (pumps, self.jobs.lock()) {
                        if let Some(j) = jobs.iter_mut().find(|j| j.number == number) {
                            j.pumps = Some(pumps);
                        }
                    }
                    (number, last)
                }
                Err(st) => {
                    let number = self.add_job(text, None, None);
                    if let Ok(mut jobs) = self.jobs.lock() {
                        if let Some(j) = jobs.iter_mut().find(|j| j.number == number) {
                            j.done = Some(st);
                        }
                    }
                    (number, None)
                }
            }
        } else {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            // `$BASHPID` inside is its `$!`, as a forked job's would be.
            sub.bashpid = id;
            let cancel = Arc::new(Cancel::default());
            let job = cancel.clone();
            let handle = tokio::runtime::Handle::current();
            let spawned = std::thread::Builder::new()
                .name("dockerbox-job".into())
                .spawn(move || {
                    interrupt::enter(Some(job.clone()));
                    handle.block_on(sub.run_and_or(&item));
                    match job.signal() {
                        Some(sig) => 128 + sig,
                        None => sub.exit.unwrap_or(sub.status),
                    }
                });
            match spawned {
                Ok(t) => {
                    let number = self.add_job_as(id, text, Some(t), None);
                    if let Ok(mut jobs) = self.jobs.lock() {
                        if let Some(j) = jobs.iter_mut().find(|j| j.number == number) {
                            j.cancel = Some(cancel);
                        }
                    }
                    (number, Some(id))
                }
                Err(err) => {
                    self.shell_error(&format!(
                        "cannot start a thread: {}",
                        crate::vfs::io_text(&err)
                    ));
                    return;
                }
            }
        };
        // A job that could not start at all is one that ended.
        let id = match last {
            Some(id) => id,
            None => {
                let mut jobs = match self.jobs.lock() {
                    Ok(j) => j,
                    Err(p) => p.into_inner(),
                };
                let Some(j) = jobs.iter_mut().find(|j| j.number == number) else {
                    return;
                };
                j.id
            }
        };
        self.last_bg = Some(id);
        if self.job_control() {
            // As bash's interactive `&`: the job's number and `$!`.
            let _ = writeln!(std::io::stderr(), "[{number}] {id}");
        }
        self.status = exit_codes::OK;
    }

    /// Expands and starts a background pipeline of host programs (on the job's copy of the
    /// shell, so what its expansions set stays there); `Err` is the status when no process
    /// started (said).
    async fn start_host_job(
        &mut self,
        p: &Pipeline,
    ) -> Result<(Group, Option<tokio::task::JoinHandle<bool>>), i32> {
        let mut stages = Vec::with_capacity(p.commands.len());
        for c in &p.commands {
            match self.expand(c).await {
                Ok(e) if !e.argv.is_empty() => {
                    for msg in &e.unreachable {
                        let cmd = e.argv[0].to_string_lossy();
                        self.shell_error(&format!("{cmd}: {msg}"));
                    }
                    stages.push(Stage::Simple(e));
                }
                Ok(_) => stages.push(Stage::Failed(exit_codes::OK)),
                Err(err) => {
                    let st = self.expansion_failed(&err);
                    stages.push(Stage::Failed(st));
                }
            }
        }
        let (group, pumps, _) = self.spawn_group(stages, false).await;
        if group.pgid == 0 {
            return Err(group.status(self.opts.pipefail));
        }
        // The streams finish when the processes close their ends; the job's end waits for them.
        let pumps = (!pumps.is_empty()).then(|| {
            let own = self.own.clone();
            tokio::spawn(async move { pumps.finish(true, &own).await })
        });
        Ok((group, pumps))
    }

    /// The text of an `&` job as typed, when it was typed at the REPL's prompt.
    fn job_text(&self, item: &AndOr) -> String {
        let typed = (self.interactive && !self.subshell && self.in_function == 0)
            .then(|| SOURCE.lock().ok())
            .flatten()
            .and_then(|s| s.get(item.span.start..item.span.end).map(<[u8]>::to_vec));
        match typed {
            Some(t) if !t.is_empty() => {
                let t = String::from_utf8_lossy(&t);
                format!("{} &", t.trim_end().trim_end_matches('&').trim_end())
            }
            _ => "job &".to_string(),
        }
    }

    /// Notes what ended or stopped since last asked, without waiting.
    fn update_jobs(&self) {
        let mut jobs = match self.jobs.lock() {
            Ok(j) => j,
            Err(p) => p.into_inner(),
        };
        for j in jobs.iter_mut().filter(|j| j.done.is_none()) {
            if let Some(g) = &mut j.group {
                if g.poll().is_some() {
                    g.stopped = true;
                    j.seen = tick();
                }
                if g.ended() {
                    j.done = Some(g.status(false));
                }
            } else if j.thread.as_ref().is_some_and(|t| t.is_finished()) {
                let st = j.thread.take().map_or(exit_codes::FAILURE, |t| {
                    t.join().unwrap_or(exit_codes::FAILURE)
                });
                j.done = Some(st);
            }
        }
    }

    /// The jobs' numbers and texts, for Tab completion of `%N`.
    pub fn job_list(&self) -> Vec<(usize, String)> {
        self.jobs.lock().map_or_else(
            |_| Vec::new(),
            |jobs| jobs.iter().map(|j| (j.number, j.text.clone())).collect(),
        )
    }

    /// Whether a job is stopped (leaving the REPL then asks to be confirmed, as bash does).
    pub fn has_stopped_jobs(&self) -> bool {
        self.update_jobs();
        self.jobs.lock().is_ok_and(|jobs| {
            jobs.iter()
                .any(|j| j.done.is_none() && j.group.as_ref().is_some_and(|g| g.stopped))
        })
    }

    /// Before the REPL's prompt: `[N]+  Done  TEXT` for each job that ended, which then goes.
    pub fn report_done_jobs(&mut self) {
        if !self.job_control() {
            return;
        }
        self.update_jobs();
        let mut out = Vec::new();
        if let Ok(mut jobs) = self.jobs.lock() {
            let marks = marks(&jobs);
            for j in jobs.iter().filter(|j| j.done.is_some()) {
                out.extend_from_slice(line(j, &marks, false).as_bytes());
            }
            jobs.retain(|j| j.done.is_none());
        }
        let _ = std::io::stderr().write_all(&out);
    }

    /// Prints `[N]+  Stopped  TEXT` on stderr, on a line of its own (after the `^Z`).
    fn show_job(&self, number: usize) {
        let text = match self.jobs.lock() {
            Ok(jobs) => jobs
                .iter()
                .find(|j| j.number == number)
                .map(|j| line(j, &marks(&jobs), false)),
            Err(_) => None,
        };
        if let Some(t) = text {
            let _ = std::io::stderr().write_all(format!("\n{t}").as_bytes());
        }
    }

    /// Which job `arg` names: `%N`, `%%`, `%+`, `%-`, `%STRING` (its text starts so),
    /// `%?STRING` (its text has it), or a number (`$!`, a process group).
    fn job_spec(&self, arg: &[u8]) -> Result<Spec, String> {
        let shown = String::from_utf8_lossy(arg).into_owned();
        let Some(spec) = arg.strip_prefix(b"%") else {
            return std::str::from_utf8(arg)
                .ok()
                .and_then(|s| s.parse().ok())
                .map(Spec::Id)
                .ok_or_else(|| format!("`{shown}': not a pid or valid job spec"));
        };
        let jobs = self.jobs.lock().map_err(|_| "no job table".to_string())?;
        let marks = marks(&jobs);
        let found: Vec<usize> = match spec {
            b"" | b"%" | b"+" => marks.0.into_iter().collect(),
            b"-" => marks.1.or(marks.0).into_iter().collect(),
            _ => match std::str::from_utf8(spec)
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            {
                Some(n) => jobs
                    .iter()
                    .filter(|j| j.number == n)
                    .map(|j| j.number)
                    .collect(),
                None => {
                    let (part, anywhere) = match spec.strip_prefix(b"?") {
                        Some(p) => (p, true),
                        None => (spec, false),
                    };
                    jobs.iter()
                        .filter(|j| {
                            let t = j.text.as_bytes();
                            if anywhere {
                                t.windows(part.len().max(1)).any(|w| w == part)
                            } else {
                                t.starts_with(part)
                            }
                        })
                        .map(|j| j.number)
                        .collect()
                }
            },
        };
        match found.as_slice() {
            [n] => Ok(Spec::Number(*n)),
            [] => Err(format!("{shown}: no such job")),
            _ => Err(format!("{shown}: ambiguous job spec")),
        }
    }

    /// The job a spec names (by default the current one), as its number.
    fn job_number(&self, arg: Option<&OsString>) -> Result<usize, String> {
        let arg = arg.map_or(&b"%+"[..], |a| a.as_bytes());
        let jobs_empty = self.jobs.lock().map(|j| j.is_empty()).unwrap_or(true);
        if jobs_empty && arg == b"%+" {
            return Err("current: no such job".into());
        }
        match self.job_spec(arg)? {
            Spec::Number(n) => Ok(n),
            Spec::Id(id) => self
                .jobs
                .lock()
                .ok()
                .and_then(|j| j.iter().find(|j| j.id == id).map(|j| j.number))
                .ok_or_else(|| format!("{id}: no such job")),
        }
    }

    /// `jobs`, `fg`, `bg`.
    pub(super) async fn job_builtin(
        &mut self,
        name: &str,
        args: Vec<OsString>,
        out: &mut Out,
    ) -> i32 {
        match name {
            "jobs" => self.jobs_list(args, out),
            "fg" => self.fg(args.first()).await,
            _ => self.bg(&args),
        }
    }

    /// `jobs [-lp] [%JOB...]`: the jobs as bash shows them; ended ones are then forgotten.
    fn jobs_list(&mut self, args: Vec<OsString>, out: &mut Out) -> i32 {
        let (mut long, mut pids) = (false, false);
        let mut specs = Vec::new();
        for a in &args {
            match a.as_bytes() {
                [b'-', opts @ ..] if !opts.is_empty() && specs.is_empty() => {
                    for o in opts {
                        match o {
                            b'l' => long = true,
                            b'p' => pids = true,
                            _ => {
                                self.errors.error(format!(
                                    "-{}: invalid option (usage: jobs [-lp] [%JOB...])",
                                    *o as char
                                ));
                                return exit_codes::USAGE;
                            }
                        }
                    }
                }
                _ => match self.job_number(Some(a)) {
                    Ok(n) => specs.push(n),
                    Err(msg) => {
                        self.errors.error(&msg);
                        return exit_codes::FAILURE;
                    }
                },
            }
        }
        self.update_jobs();
        let mut text = String::new();
        if let Ok(mut jobs) = self.jobs.lock() {
            let marks = marks(&jobs);
            for j in jobs
                .iter()
                .filter(|j| specs.is_empty() || specs.contains(&j.number))
            {
                if pids {
                    text.push_str(&format!("{}\n", j.id));
                } else {
                    text.push_str(&line(j, &marks, long));
                }
            }
            if !pids && specs.is_empty() {
                jobs.retain(|j| j.done.is_none());
            }
        }
        match out.write_all(text.as_bytes()) {
            Ok(()) => exit_codes::OK,
            Err(_) => exit_codes::FAILURE,
        }
    }

    /// `fg [%JOB]`: the job in the foreground: a stopped or running host job gets the terminal
    /// and SIGCONT and is waited for as a foreground pipeline; a thread job is waited for.
    async fn fg(&mut self, arg: Option<&OsString>) -> i32 {
        if !self.job_control() {
            self.errors.error("no job control");
            return exit_codes::FAILURE;
        }
        let number = match self.job_number(arg) {
            Ok(n) => n,
            Err(msg) => {
                self.errors.error(&msg);
                return exit_codes::FAILURE;
            }
        };
        let taken = self.jobs.lock().ok().and_then(|mut jobs| {
            let i = jobs.iter().position(|j| j.number == number)?;
            Some(jobs.remove(i))
        });
        let Some(mut job) = taken else {
            self.errors.error(format!("%{number}: no such job"));
            return exit_codes::FAILURE;
        };
        let shown = format!("{}\n", job.text.trim_end_matches(" &"));
        let _ = std::io::stderr().write_all(shown.as_bytes());
        if let Some(st) = job.done {
            return st;
        }
        let Some(mut group) = job.group.take() else {
            // A thread: waited for here, and Ctrl-C cancels it (it cannot be stopped).
            let id = job.id;
            let thread = job.thread.take();
            if let Ok(mut jobs) = self.jobs.lock() {
                jobs.push(job);
            }
            let st = match thread {
                Some(t) => self
                    .wait_thread(id, t, true)
                    .await
                    .unwrap_or(exit_codes::INTERRUPTED),
                None => self.wait_jobs(Some(id)).await,
            };
            if let Ok(mut jobs) = self.jobs.lock() {
                jobs.retain(|j| j.id != id);
            }
            return st;
        };
        let ours = terminal_modes();
        if let Some(t) = &group.modes {
            set_terminal_modes(t);
        }
        give_terminal(group.pgid);
        group.stopped = false;
        group.signal(libc::SIGCONT);
        let stopped = group.wait_in_foreground(ours, job.pumps.is_some()).await;
        if stopped {
            job.group = Some(group);
            job.seen = tick();
            if let Ok(mut jobs) = self.jobs.lock() {
                jobs.push(job);
            }
            self.show_job(number);
            return 128 + libc::SIGTSTP;
        }
        let st = group.status(self.opts.pipefail);
        if group
            .procs
            .iter()
            .any(|(_, s)| *s == Some(128 + libc::SIGINT))
        {
            interrupt::raise();
        }
        with_streams(job.pumps.take(), st).await
    }

    /// `bg [%JOB...]`: stopped host jobs go on in the background (SIGCONT to their group).
    fn bg(&mut self, args: &[OsString]) -> i32 {
        if !self.job_control() {
            self.errors.error("no job control");
            return exit_codes::FAILURE;
        }
        // A job may have stopped in the background since (SIGTTIN, `kill -STOP`).
        self.update_jobs();
        let specs: Vec<Option<&OsString>> = if args.is_empty() {
            vec![None]
        } else {
            args.iter().map(Some).collect()
        };
        let mut status = exit_codes::OK;
        for spec in specs {
            let number = match self.job_number(spec) {
                Ok(n) => n,
                Err(msg) => {
                    self.errors.error(&msg);
                    status = exit_codes::FAILURE;
                    continue;
                }
            };
            let Ok(mut jobs) = self.jobs.lock() else {
                continue;
            };
            let Some(j) = jobs.iter_mut().find(|j| j.number == number) else {
                continue;
            };
            match &mut j.group {
                Some(g) if g.stopped && j.done.is_none() => {
                    g.stopped = false;
                    g.signal(libc::SIGCONT);
                    j.seen = tick();
                    if !j.text.ends_with(" &") {
                        j.text.push_str(" &");
                    }
                    let text = format!("[{}]+ {}\n", j.number, j.text);
                    drop(jobs);
                    let _ = std::io::stderr().write_all(text.as_bytes());
                }
                _ => {
                    drop(jobs);
                    self.errors
                        .error(format!("job {number} already in background"));
                }
            }
        }
        status
    }

    /// Waits for the job `id` (all running ones with `None`); its status, 127 if unknown.
    /// Ctrl-C ends the wait (status 130) and leaves the jobs running.
    pub(super) async fn wait_jobs(&mut self, id: Option<u32>) -> i32 {
        let mut status = exit_codes::OK;
        loop {
            enum Next {
                Thread(u32, std::thread::JoinHandle<i32>),
                Group(u32, Group),
            }
            let next = {
                let mut jobs = match self.jobs.lock() {
                    Ok(j) => j,
                    Err(p) => p.into_inner(),
                };
                let pick = |j: &mut Job| -> Option<Next> {
                    if let Some(t) = j.thread.take() {
                        return Some(Next::Thread(j.id, t));
                    }
                    match &j.group {
                        Some(g) if j.done.is_none() && !g.stopped => {
                            j.group.take().map(|g| Next::Group(j.id, g))
                        }
                        _ => None,
                    }
                };
                match id {
                    Some(id) => match jobs.iter_mut().find(|j| j.named(id)) {
                        Some(j) => match j.done {
                            Some(s) => return s,
                            None if j.group.as_ref().is_some_and(|g| g.stopped) => {
                                return 128 + libc::SIGTSTP
                            }
                            None => pick(j),
                        },
                        None => return exit_codes::NOT_FOUND,
                    },
                    None => jobs.iter_mut().find_map(pick),
                }
            };
            let (jid, st) = match next {
                None => {
                    // `wait` for all of them is 0, whatever they returned.
                    return if id.is_none() { exit_codes::OK } else { status };
                }
                Some(Next::Thread(jid, thread)) => match self.wait_thread(jid, thread, false).await
                {
                    Some(st) => {
                        let cancelled = self.jobs.lock().ok().and_then(|jobs| {
                            jobs.iter()
                                .find(|j| j.id == jid)
                                .and_then(|j| j.cancel.as_ref()?.signal())
                        });
                        self.report_killed(jid, cancelled);
                        (jid, st)
                    }
                    None => return exit_codes::INTERRUPTED,
                },
                Some(Next::Group(jid, mut g)) => {
                    // A job in the background: Ctrl-C reaches dockerbox and ends the wait.
                    tokio::select! {
                        _ = g.wait(false, false) => {}
                        () = interrupt::wait() => {}
                    }
                    let st = if g.ended() {
                        g.status(self.opts.pipefail)
                    } else if g.stopped {
                        128 + libc::SIGTSTP
                    } else {
                        exit_codes::INTERRUPTED
                    };
                    let ended = g.ended();
                    if ended {
                        let last = g.procs.last().map_or(jid, |(p, _)| *p as u32);
                        self.report_killed(last, g.killed_by);
                    }
                    let pumps = self.jobs.lock().ok().and_then(|mut jobs| {
                        let j = jobs.iter_mut().find(|j| j.id == jid)?;
                        j.group = Some(g);
                        if ended {
                            j.pumps.take()
                        } else {
                            None
                        }
                    });
                    // Its container file streams are part of it.
                    let st = with_streams(pumps, st).await;
                    (jid, st)
                }
            };
            if let Ok(mut jobs) = self.jobs.lock() {
                if let Some(j) = jobs.iter_mut().find(|j| j.id == jid) {
                    if j.group.as_ref().is_none_or(Group::ended) {
                        j.done = Some(st);
                    }
                }
            }
            status = st;
            if interrupt::is_set() {
                return exit_codes::INTERRUPTED;
            }
            if id.is_some() {
                return st;
            }
        }
    }

    /// As sh says when `wait` finds a job a signal killed (not SIGINT nor SIGPIPE, which say
    /// nothing): `PID Hangup`. The REPL's job notices say it there.
    fn report_killed(&self, id: u32, sig: Option<i32>) {
        let Some(sig) = sig.filter(|s| ![libc::SIGINT, libc::SIGPIPE].contains(s)) else {
            return;
        };
        if self.interactive {
            return;
        }
        // SAFETY: strsignal returns a string for any number, valid until the next call on
        // this thread; it is copied at once.
        let name = unsafe { std::ffi::CStr::from_ptr(libc::strsignal(sig)) };
        let at = match &self.origin {
            Some((file, line)) => format!("{file}: line {line}: "),
            None => String::new(),
        };
        // To `wait`'s own stderr (`wait $! 2>err`), not as a failure of `wait`.
        let text = format!("dockerbox: {at}{id} {}\n", name.to_string_lossy());
        let _ = self.errors.writer().write_all(text.as_bytes());
    }

    /// Waits for thread job `jid`'s thread; its status. Ctrl-C cancels the job when it is in
    /// the foreground (`fg`: it then ends as 130), else ends the wait (`None`: the thread is
    /// the job's again).
    async fn wait_thread(
        &mut self,
        jid: u32,
        thread: std::thread::JoinHandle<i32>,
        fg: bool,
    ) -> Option<i32> {
        let mut pause = Duration::from_millis(1);
        while !thread.is_finished() {
            if interrupt::is_set() {
                let cancel = self.jobs.lock().ok().and_then(|jobs| {
                    jobs.iter()
                        .find(|j| j.id == jid)
                        .and_then(|j| j.cancel.clone())
                });
                if !fg {
                    if let Ok(mut jobs) = self.jobs.lock() {
                        if let Some(j) = jobs.iter_mut().find(|j| j.id == jid) {
                            j.thread = Some(thread);
                            return None;
                        }
                    }
                    return None;
                }
                if let Some(c) = cancel {
                    c.cancel(libc::SIGINT);
                }
                // It ends within the grace a Ctrl-C gives any command.
                let joined = tokio::task::spawn_blocking(move || thread.join()).await;
                return Some(match joined {
                    Ok(Ok(s)) => s,
                    _ => exit_codes::FAILURE,
                });
            }
            // A thread says nothing when it ends: looked at often at first, then less.
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = interrupt::wait() => {}
            }
            pause = (pause * 2).min(Duration::from_millis(20));
        }
        Some(thread.join().unwrap_or(exit_codes::FAILURE))
    }

    /// Forgets the jobs that ended among `ids` (all with `None`): what `wait` waited for is
    /// not announced as done again.
    fn forget_waited(&self, ids: Option<&[u32]>) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.retain(|j| {
                j.done.is_none() || ids.is_some_and(|ids| !ids.iter().any(|&i| j.named(i)))
            });
        }
    }

    /// `wait [%JOB|ID...]`.
    pub(super) async fn wait_builtin(&mut self, args: Vec<OsString>) -> i32 {
        if args.is_empty() {
            let st = self.wait_jobs(None).await;
            self.forget_waited(None);
            return st;
        }
        let next = args[0].as_bytes() == b"-n";
        let mut waited = Vec::new();
        let mut st = exit_codes::OK;
        for a in &args[usize::from(next)..] {
            let id = match self.job_spec(a.as_bytes()) {
                Ok(Spec::Id(id)) => Some(id),
                Ok(Spec::Number(n)) => self
                    .jobs
                    .lock()
                    .ok()
                    .and_then(|j| j.iter().find(|j| j.number == n).map(|j| j.id)),
                Err(_) if a.as_bytes().starts_with(b"%") => None,
                Err(msg) => {
                    self.errors.error(&msg);
                    st = exit_codes::FAILURE;
                    continue;
                }
            };
            st = match id {
                Some(id) if next => {
                    waited.push(id);
                    continue;
                }
                Some(id) => {
                    waited.push(id);
                    self.wait_jobs(Some(id)).await
                }
                None => exit_codes::NOT_FOUND,
            };
        }
        if next {
            return self.wait_next(&waited).await;
        }
        self.forget_waited(Some(&waited));
        st
    }

    /// `wait -n`: the status of the next of `ids` (any job when empty) to end; 127 if none is
    /// running. Threads and process groups are looked at, often at first, then less.
    async fn wait_next(&mut self, ids: &[u32]) -> i32 {
        let mut pause = Duration::from_millis(1);
        loop {
            let pick = {
                let mut jobs = match self.jobs.lock() {
                    Ok(j) => j,
                    Err(p) => p.into_inner(),
                };
                let mut running = jobs
                    .iter_mut()
                    .filter(|j| ids.is_empty() || ids.iter().any(|&i| j.named(i)))
                    .filter(|j| {
                        j.thread.is_some()
                            || (j.done.is_none() && j.group.as_ref().is_some_and(|g| !g.stopped))
                    })
                    .peekable();
                if running.peek().is_none() {
                    return exit_codes::NOT_FOUND;
                }
                // The first that ended: a thread that finished, a group whose processes all
                // ended (looked at without waiting).
                running.find_map(|j| {
                    let ended = match (&j.thread, &mut j.group) {
                        (Some(t), _) => t.is_finished(),
                        (None, Some(g)) => {
                            if g.poll().is_some() {
                                g.stopped = true;
                            }
                            g.ended()
                        }
                        (None, None) => false,
                    };
                    ended.then_some(j.id)
                })
            };
            if let Some(id) = pick {
                let st = self.wait_jobs(Some(id)).await;
                self.forget_waited(Some(&[id]));
                return st;
            }
            if interrupt::is_set() {
                return exit_codes::INTERRUPTED;
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = interrupt::wait() => {}
            }
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// `kill [-s SIGNAL | -n NUM | -SIGNAL] PID|%JOB...` and `kill -l [SIGNAL|STATUS...]`, as
    /// bash's builtin: a job spec or `$!` of a host job signals its process group (a stopped
    /// one is continued after, so the signal acts); one of a thread job cancels it (it ends as
    /// 128 + the signal; stop signals cannot stop a thread); other numbers are kill(2)'s.
    pub(super) fn kill_builtin(&mut self, args: Vec<OsString>, out: &mut Out) -> i32 {
        const USAGE: &str =
            "usage: kill [-s SIGNAL | -n NUM | -SIGNAL] PID|%JOB... or kill -l [SIGNAL]";
        let mut sig = libc::SIGTERM;
        let mut rest = &args[..];
        match rest.first().map(|a| a.as_bytes()) {
            None => {
                self.errors.error(USAGE);
                return exit_codes::USAGE;
            }
            Some(b"-l" | b"-L") => return self.kill_list(&rest[1..], out),
            Some(b"-s" | b"-n") => {
                let Some(spec) = rest.get(1) else {
                    self.errors.error(USAGE);
                    return exit_codes::USAGE;
                };
                match signal_number(spec.as_bytes()) {
                    Some(n) => sig = n,
                    None => {
                        let shown = spec.to_string_lossy();
                        self.errors
                            .error(format!("{shown}: invalid signal specification"));
                        return exit_codes::FAILURE;
                    }
                }
                rest = &rest[2..];
            }
            Some(b"--") => rest = &rest[1..],
            Some([b'-', spec @ ..]) if !spec.is_empty() => {
                match signal_number(spec) {
                    Some(n) => sig = n,
                    None => {
                        let shown = String::from_utf8_lossy(spec);
                        self.errors
                            .error(format!("{shown}: invalid signal specification"));
                        return exit_codes::FAILURE;
                    }
                }
                rest = &rest[1..];
            }
            Some(_) => {}
        }
        if rest.first().is_some_and(|a| a == "--") {
            rest = &rest[1..];
        }
        if rest.is_empty() {
            self.errors.error(USAGE);
            return exit_codes::USAGE;
        }
        self.update_jobs();
        let mut status = exit_codes::OK;
        for a in rest {
            if let Err(msg) = self.kill_one(a.as_bytes(), sig) {
                self.errors.error(&msg);
                status = exit_codes::FAILURE;
            }
        }
        status
    }

    /// Sends `sig` to what `arg` names (see [`Shell::kill_builtin`]).
    fn kill_one(&self, arg: &[u8], sig: i32) -> Result<(), String> {
        let shown = String::from_utf8_lossy(arg).into_owned();
        let number = if arg.starts_with(b"%") {
            Some(self.job_number(Some(&OsString::from(std::ffi::OsStr::from_bytes(arg))))?)
        } else {
            let id: i64 = std::str::from_utf8(arg)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("{shown}: arguments must be process or job IDs"))?;
            let job = u32::try_from(id).ok().and_then(|id| {
                let jobs = self.jobs.lock().ok()?;
                let j = jobs.iter().find(|j| j.id == id && j.group.is_none())?;
                Some(j.number)
            });
            match job {
                Some(n) => Some(n),
                None => {
                    let pid = libc::pid_t::try_from(id)
                        .map_err(|_| format!("({shown}) - No such process"))?;
                    // SAFETY: kill(2) with a number the user gave, as /bin/kill would.
                    if unsafe { libc::kill(pid, sig) } != 0 {
                        let err = std::io::Error::last_os_error();
                        return Err(format!("({shown}) - {}", crate::vfs::io_text(&err)));
                    }
                    None
                }
            }
        };
        let Some(number) = number else {
            return Ok(());
        };
        let mut jobs = self.jobs.lock().map_err(|_| "no job table".to_string())?;
        let Some(j) = jobs.iter_mut().find(|j| j.number == number) else {
            return Err(format!("{shown}: no such job"));
        };
        if j.done.is_some() {
            return Err(format!("{shown}: no such job (it ended)"));
        }
        if let Some(g) = &mut j.group {
            if g.pgid <= 0 {
                return Err(format!("{shown}: no such job"));
            }
            // SAFETY: kill(2) on our own job's process group.
            if unsafe { libc::kill(-g.pgid, sig) } != 0 {
                let err = std::io::Error::last_os_error();
                return Err(format!("{shown}: {}", crate::vfs::io_text(&err)));
            }
            let stops = matches!(
                sig,
                0 | libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU | libc::SIGCONT
            );
            if g.stopped && !stops {
                g.stopped = false;
                g.signal(libc::SIGCONT);
            }
            return Ok(());
        }
        match sig {
            // What a process ignores unless it asked otherwise.
            0 | libc::SIGCONT | libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH => Ok(()),
            libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => Err(format!(
                "{shown}: a job that runs in dockerbox itself cannot be stopped"
            )),
            _ => {
                if let Some(c) = &j.cancel {
                    c.cancel(sig);
                }
                Ok(())
            }
        }
    }

    /// `kill -l`: the signals' names; `kill -l N...`: each one's name (a status above 128 names
    /// the signal that ended it), or a name's number.
    fn kill_list(&self, args: &[OsString], out: &mut Out) -> i32 {
        let mut text = String::new();
        let mut status = exit_codes::OK;
        if args.is_empty() {
            let names: Vec<&str> = SIGNALS.iter().map(|(n, _)| *n).collect();
            text = format!("{}\n", names.join(" "));
        }
        for a in args {
            let b = a.as_bytes();
            let shown = a.to_string_lossy();
            let named = match std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse::<i32>().ok())
            {
                Some(n) => {
                    let n = if n > 128 { n - 128 } else { n };
                    SIGNALS
                        .iter()
                        .find(|(_, s)| *s == n)
                        .map(|(name, _)| (*name).to_string())
                }
                None => signal_number(b).map(|n| n.to_string()),
            };
            match named {
                Some(t) => {
                    text.push_str(&t);
                    text.push('\n');
                }
                None => {
                    self.errors
                        .error(format!("{shown}: invalid signal specification"));
                    status = exit_codes::FAILURE;
                }
            }
        }
        if out.write_all(text.as_bytes()).is_err() {
            return exit_codes::FAILURE;
        }
        status
    }

    /// At the end of a script or `-c`: waits for the `&` jobs that run in dockerbox itself
    /// (threads: loops, builtins, functions) and for host jobs' container file streams, which
    /// would die with the process, and for `<(...)`/`>(...)`; host programs go on by themselves.
    /// Not after a Ctrl-C, a
    /// SIGTERM or SIGHUP, nor in the REPL; a Ctrl-C during the wait ends it.
    pub async fn wait_for_threads(&mut self) {
        if self.interactive
            || interrupt::terminating().is_some()
            || interrupt::is_set()
            || self.exit.unwrap_or(self.status) == exit_codes::INTERRUPTED
        {
            return;
        }
        loop {
            let next = self.jobs.lock().ok().and_then(|mut jobs| {
                jobs.iter_mut().find_map(|j| {
                    if let Some(t) = j.thread.take() {
                        return Some((j.id, Some(t), None));
                    }
                    j.pumps.take().map(|p| (j.id, None, Some(p)))
                })
            });
            match next {
                None => break,
                Some((id, Some(t), _)) => {
                    if self.wait_thread(id, t, false).await.is_none() {
                        return;
                    }
                }
                Some((_, None, Some(p))) => {
                    tokio::select! {
                        _ = p => {}
                        () = interrupt::wait() => return,
                    }
                }
                Some(_) => {}
            }
        }
        // `>(tr a-z A-Z)`'s output lands too.
        for t in super::run::take_process_subs() {
            let join = tokio::task::spawn_blocking(move || {
                let _ = t.join();
            });
            tokio::select! {
                _ = join => {}
                () = interrupt::wait() => return,
            }
        }
    }
}

/// A host job's status `st` once its container file streams finished: 1 if one failed.
async fn with_streams(pumps: Option<tokio::task::JoinHandle<bool>>, st: i32) -> i32 {
    match pumps {
        Some(p) => match p.await {
            Ok(true) => st,
            _ if st == exit_codes::OK => exit_codes::FAILURE,
            _ => st,
        },
        None => st,
    }
}

/// The signals `kill` knows by name, as `kill -l` lists them (Linux's numbers).
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// A signal by number (`9`), name (`KILL`, `kill`) or name with `SIG` (`SIGKILL`).
fn signal_number(spec: &[u8]) -> Option<i32> {
    let text = std::str::from_utf8(spec).ok()?;
    if let Ok(n) = text.parse::<i32>() {
        return (0..=64).contains(&n).then_some(n);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    match name {
        "IO" => Some(libc::SIGIO),
        "CLD" => Some(libc::SIGCHLD),
        _ => SIGNALS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s),
    }
}

/// The current (`+`) and previous (`-`) jobs' numbers.
fn marks(jobs: &[Job]) -> (Option<usize>, Option<usize>) {
    let mut by_seen: Vec<&Job> = jobs.iter().collect();
    by_seen.sort_by_key(|j| std::cmp::Reverse(j.seen));
    (
        by_seen.first().map(|j| j.number),
        by_seen.get(1).map(|j| j.number),
    )
}

/// One line of `jobs` as bash prints it: `[1]+  Stopped                 sleep 100`.
fn line(j: &Job, marks: &(Option<usize>, Option<usize>), pid: bool) -> String {
    let mark = if marks.0 == Some(j.number) {
        '+'
    } else if marks.1 == Some(j.number) {
        '-'
    } else {
        ' '
    };
    let state = match (j.done, &j.group) {
        (Some(0), _) => "Done".to_string(),
        // As bash names a job a signal ended (a status above 128 comes from one here).
        (Some(st), Some(_)) if st == 128 + libc::SIGTERM => "Terminated".to_string(),
        (Some(st), Some(_)) if st == 128 + libc::SIGKILL => "Killed".to_string(),
        (Some(st), Some(_)) if st == 128 + libc::SIGINT => "Interrupt".to_string(),
        (Some(st), Some(_)) if st == 128 + libc::SIGHUP => "Hangup".to_string(),
        (Some(st), _) => format!("Exit {st}"),
        (None, Some(g)) if g.stopped => "Stopped".to_string(),
        _ => "Running".to_string(),
    };
    let text = match j.done {
        Some(_) => j.text.trim_end_matches(" &"),
        None => &j.text,
    };
    if pid {
        format!("[{}]{mark} {} {state:<24}{text}\n", j.number, j.id)
    } else {
        format!("[{}]{mark}  {state:<24}{text}\n", j.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(number: usize, seen: u64, done: Option<i32>, stopped: Option<bool>, text: &str) -> Job {
        Job {
            number,
            id: 4_194_300 + number as u32,
            text: text.into(),
            done,
            thread: None,
            cancel: None,
            pumps: None,
            group: stopped.map(|stopped| Group {
                pgid: 100,
                procs: Vec::new(),
                stopped,
                modes: None,
                killed_by: None,
            }),
            seen,
        }
    }

    /// `jobs` prints what bash prints: `+` the latest job, `-` the one before, the state
    /// padded to 24 columns, a signal's name for a job it ended, no `&` once done.
    #[test]
    fn jobs_lines_are_bashs() {
        let jobs = [
            job(1, 5, None, Some(true), "sleep 100"),
            job(2, 9, None, Some(false), "sleep 200 &"),
            job(3, 1, Some(128 + libc::SIGTERM), Some(false), "sleep 1 &"),
            job(4, 2, Some(0), None, "x &"),
            job(5, 3, Some(3), None, "exit 3 &"),
        ];
        let m = marks(&jobs);
        assert_eq!(m, (Some(2), Some(1)));
        let shown: Vec<String> = jobs.iter().map(|j| line(j, &m, false)).collect();
        assert_eq!(
            shown,
            [
                "[1]-  Stopped                 sleep 100\n",
                "[2]+  Running                 sleep 200 &\n",
                "[3]   Terminated              sleep 1\n",
                "[4]   Done                    x\n",
                "[5]   Exit 3                  exit 3\n",
            ]
        );
        assert_eq!(
            line(&jobs[0], &m, true),
            "[1]- 4194301 Stopped                 sleep 100\n"
        );
    }

    /// `kill`'s signal names as bash takes them: a number, a name in any case, with or
    /// without `SIG`; `kill -l` lists them in number order.
    #[test]
    fn signals_by_number_and_name() {
        for (spec, n) in [
            ("9", Some(libc::SIGKILL)),
            ("KILL", Some(libc::SIGKILL)),
            ("sigterm", Some(libc::SIGTERM)),
            ("SIGINT", Some(libc::SIGINT)),
            ("Hup", Some(libc::SIGHUP)),
            ("0", Some(0)),
            ("IO", Some(libc::SIGIO)),
            ("65", None),
            ("-1", None),
            ("NOPE", None),
            ("", None),
        ] {
            assert_eq!(signal_number(spec.as_bytes()), n, "{spec}");
        }
        assert!(SIGNALS.windows(2).all(|w| w[0].1 < w[1].1));
        assert_eq!(SIGNALS.len(), 31);
    }

    /// `wait $!` and `kill $!` find a host job by any of its processes, not only its group.
    #[test]
    fn a_job_is_named_by_its_id_and_its_processes() {
        let mut j = job(1, 1, None, Some(false), "a | b &");
        if let Some(g) = &mut j.group {
            g.procs = vec![(100, None), (101, None), (0, Some(127))];
        }
        j.id = 100;
        assert!(j.named(100) && j.named(101));
        assert!(!j.named(0) && !j.named(102));
    }
}
