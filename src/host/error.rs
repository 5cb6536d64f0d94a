//! The engine's own errors: what talking to a Docker endpoint can answer, before the namespace
//! words it for a command (`vfs` maps these into `FsError`).

use std::io;

/// Why a call on an engine failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// 404: the path (or the container) is not there.
    #[error("No such file or directory")]
    NotFound,
    #[error("No such container")]
    NoSuchContainer,
    #[error("ambiguous container ID prefix (matches {0})")]
    Ambiguous(String),
    #[error("cannot connect to {addr}: {reason}")]
    Unreachable { addr: String, reason: String },
    /// Any other answer from the engine, with its HTTP status and message (which may be
    /// empty: a symlink loop in an archive HEAD is a bare 500).
    #[error("engine error: {message}")]
    Server { status: u16, message: String },
    /// A failure of the client itself (decoding, a broken stream).
    #[error("engine error: {0}")]
    Other(String),
}

/// Renders an `io::Error` the way coreutils does: the bare strerror text, no "(os error N)".
pub fn io_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let s = e.to_string();
            s.strip_suffix(&format!(" (os error {code})"))
                .unwrap_or(&s)
                .to_string()
        }
        None => e.to_string(),
    }
}
