//! Ctrl-C while a command runs: SIGINT sets a flag instead of killing the shell.
//!
//! Async work races against [`wait`]; blocking copy loops poll [`is_set`]. The shell clears the
//! flag before each command. Host children get the signal from the terminal themselves.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;

static FLAG: AtomicBool = AtomicBool::new(false);

fn notify() -> &'static Notify {
    static N: OnceLock<Notify> = OnceLock::new();
    N.get_or_init(Notify::new)
}

/// Starts catching SIGINT. Call once, inside the runtime.
pub fn install() -> std::io::Result<()> {
    let mut sigint = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        while sigint.recv().await.is_some() {
            FLAG.store(true, Ordering::SeqCst);
            notify().notify_waiters();
        }
    });
    Ok(())
}

/// True once Ctrl-C was pressed since the last [`clear`].
pub fn is_set() -> bool {
    FLAG.load(Ordering::SeqCst)
}

/// Forgets an earlier Ctrl-C; returns whether there was one.
pub fn clear() -> bool {
    FLAG.swap(false, Ordering::SeqCst)
}

/// Resolves when Ctrl-C is pressed.
pub async fn wait() {
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
