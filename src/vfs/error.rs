//! Errors of the namespace, worded as coreutils words them.

use std::io;

/// Why a namespace operation failed. `Display` is the text after `dockerbox: CMD: PATH: `.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    #[error("No such file or directory")]
    NotFound,
    #[error("No such container")]
    NoSuchContainer,
    #[error("ambiguous container ID prefix (matches {0})")]
    Ambiguous(String),
    #[error("Not a directory")]
    NotADirectory,
    #[error("Is a directory")]
    IsADirectory,
    #[error("Permission denied")]
    PermissionDenied,
    #[error("Too many levels of symbolic links")]
    Loop,
    #[error("Interrupted")]
    Interrupted,
    /// Changing a container that is not running (only new files can go into those).
    #[error("Operation not supported: the container is {0} (only cp and mkdir reach a stopped container)")]
    NotRunning(&'static str),
    #[error("cannot connect to {addr}: {reason}")]
    Unreachable { addr: String, reason: String },
    #[error("engine error: {0}")]
    Engine(String),
    #[error("{}", io_text(.0))]
    Io(io::Error),
    /// A write into a stopped container failed after the engine had started unpacking it: the
    /// archive API cannot take the partial file back. Displays as the cause.
    #[error("{0}")]
    PartialLeft(Box<FsError>),
}

impl From<io::Error> for FsError {
    fn from(e: io::Error) -> FsError {
        match e.kind() {
            io::ErrorKind::NotFound => FsError::NotFound,
            io::ErrorKind::PermissionDenied => FsError::PermissionDenied,
            io::ErrorKind::Interrupted => FsError::Interrupted,
            _ => match e.raw_os_error() {
                Some(libc::ENOTDIR) => FsError::NotADirectory,
                Some(libc::EISDIR) => FsError::IsADirectory,
                Some(libc::ELOOP) => FsError::Loop,
                _ => FsError::Io(e),
            },
        }
    }
}

impl From<crate::interrupt::Interrupted> for FsError {
    fn from(_: crate::interrupt::Interrupted) -> FsError {
        FsError::Interrupted
    }
}

impl FsError {
    /// True when the output side went away (`dockerbox -c 'cat f' | head`): not worth reporting.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, FsError::Io(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
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
