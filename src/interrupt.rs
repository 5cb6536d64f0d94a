//! Ctrl-C while a command runs: SIGINT sets a flag instead of killing the shell.
//!
//! Async work races against [`wait`]; blocking copy loops poll [`is_set`]. The shell clears the
//! flag before each command. Host children get the signal from the terminal themselves.
//!
//! SIGTERM and SIGHUP interrupt a running command the same way, so it cleans up (no
//! temporary is left behind), and then dockerbox ends with status 128 + the signal
//! ([`terminating`]). Arriving while no command runs ([`busy`] not held), they end dockerbox at
//! once, the terminal's saved modes put back.
//!
//! A background job on a thread of dockerbox has a [`Cancel`] of its own instead ([`enter`] on
//! its threads): the terminal's Ctrl-C is not for it (sh's background jobs ignore SIGINT, and
//! under job control they are not in the terminal's group), and `kill %N` cancels it with a
//! signal ([`terminating`] then names that signal, so its host programs get it too).

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;

static FLAG: AtomicBool = AtomicBool::new(false);
/// SIGTERM or SIGHUP once one arrived (never cleared), else 0.
static TERMINATING: AtomicI32 = AtomicI32::new(0);
/// How many commands are running (a builtin in a pipeline runs beside the shell's own wait).
static BUSY: AtomicUsize = AtomicUsize::new(0);
/// The terminal's modes at start, put back when a signal ends dockerbox at the prompt.
static TERMINAL: OnceLock<libc::termios> = OnceLock::new();

/// A background job's own interrupt: set once, with the signal that ended it.
#[derive(Default)]
pub struct Cancel {
    signal: AtomicI32,
    notify: Notify,
}

impl Cancel {
    /// Ends the job as signal `sig` would (the first signal given wins).
    pub fn cancel(&self, sig: i32) {
        let _ = self
            .signal
            .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// The signal it was cancelled with.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }
}

thread_local! {
    /// The background job this thread works for, if any.
    static SCOPE: RefCell<Option<Arc<Cancel>>> = const { RefCell::new(None) };
}

/// Makes this thread work for the job `cancel` (`None`: for the foreground), as the thread that
/// started it did: call it first on every thread the shell starts.
pub fn enter(cancel: Option<Arc<Cancel>>) {
    SCOPE.with_borrow_mut(|s| *s = cancel);
}

/// The background job this thread works for, to pass on to the threads it starts.
pub fn scope() -> Option<Arc<Cancel>> {
    SCOPE.with_borrow(Clone::clone)
}

fn notify() -> &'static Notify {
    static N: OnceLock<Notify> = OnceLock::new();
    N.get_or_init(Notify::new)
}

/// Starts catching SIGINT, SIGTERM and SIGHUP. Call once, inside the runtime.
pub fn install() -> std::io::Result<()> {
    save_terminal();
    for (kind, signo) in [
        (SignalKind::interrupt(), 0),
        (SignalKind::terminate(), libc::SIGTERM),
        (SignalKind::hangup(), libc::SIGHUP),
    ] {
        let mut sig = signal(kind)?;
        if signo == 0 {
            // SIGINT also sets the flag in the handler itself: a loop of builtins that never
            // yields to the runtime could starve the task below, and see no Ctrl-C at all.
            // SAFETY: the action only stores to an atomic (async-signal-safe, no allocation).
            unsafe {
                signal_hook_registry::register(libc::SIGINT, || FLAG.store(true, Ordering::SeqCst))
            }?;
        }
        tokio::spawn(async move {
            while sig.recv().await.is_some() {
                if signo != 0 {
                    let _ =
                        TERMINATING.compare_exchange(0, signo, Ordering::SeqCst, Ordering::SeqCst);
                    if BUSY.load(Ordering::SeqCst) == 0 {
                        end_now(signo);
                    }
                }
                FLAG.store(true, Ordering::SeqCst);
                notify().notify_waiters();
            }
        });
    }
    Ok(())
}

/// The signal (SIGTERM, SIGHUP) that asked dockerbox to end, once one has; on a background
/// job's thread also the signal `kill` cancelled the job with.
pub fn terminating() -> Option<i32> {
    match TERMINATING.load(Ordering::SeqCst) {
        0 => SCOPE.with_borrow(|s| s.as_ref().and_then(|c| c.signal())),
        s => Some(s),
    }
}

/// Held while a command runs: a SIGTERM or SIGHUP then waits for it to clean up.
pub struct Busy(());

/// Marks a command as running until the guard drops.
pub fn busy() -> Busy {
    BUSY.fetch_add(1, Ordering::SeqCst);
    Busy(())
}

impl Drop for Busy {
    fn drop(&mut self) {
        BUSY.fetch_sub(1, Ordering::SeqCst);
    }
}

fn save_terminal() {
    // SAFETY: a zeroed termios is a valid out-buffer; tcgetattr only writes into it.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: as above; fd 0 may be anything, a failure just means no terminal.
    if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut t) } == 0 {
        let _ = TERMINAL.set(t);
    }
}

/// Ends dockerbox for `signo` while nothing runs: the line editor's raw mode is undone first.
fn end_now(signo: i32) -> ! {
    if let Some(t) = TERMINAL.get() {
        // SAFETY: puts back modes read from this same descriptor at start.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, t) };
    }
    std::process::exit(128 + signo)
}

/// True once Ctrl-C was pressed since the last [`clear`] (on a background job's thread: once
/// the job was cancelled).
pub fn is_set() -> bool {
    SCOPE.with_borrow(|s| match s {
        Some(c) => c.signal().is_some(),
        None => FLAG.load(Ordering::SeqCst),
    })
}

/// Acts as if Ctrl-C was pressed: a host job that has the terminal got the SIGINT itself.
pub fn raise() {
    if let Some(c) = scope() {
        c.cancel(libc::SIGINT);
        return;
    }
    FLAG.store(true, Ordering::SeqCst);
    notify().notify_waiters();
}

/// Forgets an earlier Ctrl-C; returns whether there was one (a cancelled job stays so).
pub fn clear() -> bool {
    match scope() {
        Some(c) => c.signal().is_some(),
        None => FLAG.swap(false, Ordering::SeqCst),
    }
}

/// Resolves when Ctrl-C is pressed (on a background job's thread: when it is cancelled).
pub async fn wait() {
    if let Some(c) = scope() {
        loop {
            let n = c.notify.notified();
            if c.signal().is_some() {
                return;
            }
            n.await;
        }
    }
    loop {
        let n = notify().notified();
        if is_set() {
            return;
        }
        n.await;
    }
}

/// What [`guard`] gives when Ctrl-C came first; each layer's error type converts it into its
/// own "Interrupted", so this module depends on none of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

/// Runs `f` unless Ctrl-C comes first, which gives [`Interrupted`] as the caller's error.
pub async fn guard<T, E: From<Interrupted>>(f: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    tokio::select! {
        r = f => r,
        _ = wait() => Err(Interrupted.into()),
    }
}

/// How long a command may go on after Ctrl-C to end by itself (and clean up) before it is
/// abandoned.
const GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Runs a command's future to its end, or abandons it (dropped, which removes what its writers
/// left) when it has not ended [`GRACE`] after Ctrl-C: a wait nobody guarded (a frozen engine,
/// a stopped agent) never keeps the prompt away. `None` when abandoned.
pub async fn or_abandon<T>(f: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        r = f => Some(r),
        _ = async {
            wait().await;
            tokio::time::sleep(GRACE).await;
        } => None,
    }
}
