//! Ctrl-C while a command runs: SIGINT sets a flag instead of killing the shell.
//!
//! Async work races against [`wait`]; blocking copy loops poll [`is_set`]. The shell clears the
//! flag before each command. Host children get the signal from the terminal themselves.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;

use crate::vfs::FsError;

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

/// Runs `f` unless Ctrl-C comes first, which gives `FsError::Interrupted`.
pub async fn guard<T>(f: impl Future<Output = Result<T, FsError>>) -> Result<T, FsError> {
    tokio::select! {
        r = f => r,
        _ = wait() => Err(FsError::Interrupted),
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
