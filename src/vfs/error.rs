//! Errors of the namespace, worded as coreutils words them, each with the errno a filesystem
//! frontend (the FUSE mount to come) returns for it. No error is recognised by its text.

use std::io;

pub use crate::host::io_text;
use crate::host::{AgentError, EngineError};

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
    /// This backend does not do this operation: the route asks the next one. Reaching a command
    /// only when no backend for the path does it.
    #[error("Operation not supported")]
    #[allow(dead_code)] // returned by the backends' defaults (next step)
    Unsupported,
    /// The backend went away under the request (killed agent, restarted container): the route
    /// picks again, once.
    #[error("the agent went away")]
    Gone,
    /// Only a process in the running container sees this path as the container does: it is on
    /// a kernel filesystem, or a symlink on the way leads onto `/proc`, `/sys` or a tmpfs
    /// (`/u -> /proc/1`). The route then waits for the agent (once); else it is `Unsupported`.
    #[error("Operation not supported")]
    OnMount,
    #[error("cannot connect to {addr}: {reason}")]
    Unreachable { addr: String, reason: String },
    #[error("engine error: {0}")]
    Engine(String),
    /// The engine refused a request (a `ctl` verb): its own words, with the errno they mean
    /// (EBUSY, EPERM, ENOENT, EINVAL...), so the message is shown once.
    #[error("{message}")]
    Refused { errno: i32, message: String },
    #[error("{}", io_text(.0))]
    Io(io::Error),
    /// A path on a mount point of a running container (a tmpfs, `/dev`, `/proc`) that only the
    /// agent or the direct path see as the container does, when neither can serve: an error
    /// rather than the archive API's view of the layer beneath.
    #[error("a mount point in the container, which the archive API cannot see, and the agent cannot start ({0})")]
    Blind(String),
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

impl From<EngineError> for FsError {
    fn from(e: EngineError) -> FsError {
        match e {
            EngineError::NotFound => FsError::NotFound,
            EngineError::NoSuchContainer => FsError::NoSuchContainer,
            EngineError::Ambiguous(m) => FsError::Ambiguous(m),
            EngineError::Unreachable { addr, reason } => FsError::Unreachable { addr, reason },
            EngineError::Server { message, .. } | EngineError::Other(message) => {
                FsError::Engine(message)
            }
        }
    }
}

impl From<AgentError> for FsError {
    fn from(e: AgentError) -> FsError {
        match e {
            AgentError::Errno(n) => FsError::from(io::Error::from_raw_os_error(n)),
            AgentError::Gone => FsError::Gone,
            // Already worded for the user: `the container stopped`, `invalid reply from ...`.
            e @ (AgentError::Lost(_) | AgentError::Invalid { .. } | AgentError::Stalled { .. }) => {
                FsError::Io(io::Error::other(e.to_string()))
            }
            e => FsError::Engine(e.to_string()),
        }
    }
}

impl From<crate::interrupt::Interrupted> for FsError {
    fn from(_: crate::interrupt::Interrupted) -> FsError {
        FsError::Interrupted
    }
}

#[allow(dead_code)] // errno() is what the FUSE frontend will return
impl FsError {
    /// True when the output side went away (`dockerbox -c 'cat f' | head`): not worth reporting.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, FsError::Io(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// A plain errno (`EEXIST`...), worded as strerror.
    pub fn errno_error(errno: i32) -> FsError {
        FsError::from(io::Error::from_raw_os_error(errno))
    }

    /// The errno a filesystem interface returns for this error.
    pub fn errno(&self) -> i32 {
        match self {
            FsError::NotFound | FsError::NoSuchContainer | FsError::Ambiguous(_) => libc::ENOENT,
            FsError::NotADirectory => libc::ENOTDIR,
            FsError::IsADirectory => libc::EISDIR,
            FsError::PermissionDenied => libc::EACCES,
            FsError::Loop => libc::ELOOP,
            FsError::Interrupted => libc::EINTR,
            // A stopped container can only be added to: to a frontend it is read-only.
            FsError::NotRunning(_) => libc::EROFS,
            FsError::Unsupported | FsError::OnMount => libc::EOPNOTSUPP,
            FsError::Gone => libc::ESTALE,
            FsError::Unreachable { .. } => libc::EHOSTUNREACH,
            FsError::Engine(_) => libc::EIO,
            FsError::Blind(_) => libc::EIO,
            FsError::Refused { errno, .. } => *errno,
            FsError::Io(e) => e.raw_os_error().unwrap_or(libc::EIO),
            FsError::PartialLeft(e) => e.errno(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_an_errno_that_round_trips_where_it_can() {
        for n in [
            libc::ENOENT,
            libc::ENOTDIR,
            libc::EISDIR,
            libc::EACCES,
            libc::ELOOP,
        ] {
            assert_eq!(FsError::errno_error(n).errno(), n);
        }
        assert_eq!(FsError::errno_error(libc::EEXIST).errno(), libc::EEXIST);
        assert_eq!(FsError::Unsupported.errno(), libc::EOPNOTSUPP);
        assert_eq!(
            FsError::errno_error(libc::EOPNOTSUPP).errno(),
            libc::EOPNOTSUPP
        );
        assert_eq!(FsError::Gone.errno(), libc::ESTALE);
        assert_eq!(FsError::Engine(String::new()).errno(), libc::EIO);
        assert_eq!(FsError::NotRunning("exited").errno(), libc::EROFS);
    }

    #[test]
    fn a_dead_agent_is_gone_by_kind_not_by_text() {
        assert!(matches!(FsError::from(AgentError::Gone), FsError::Gone));
        assert!(matches!(
            FsError::from(AgentError::Errno(libc::ENOENT)),
            FsError::NotFound
        ));
    }

    #[test]
    fn engine_errors_keep_their_words() {
        let e = FsError::from(EngineError::Server {
            status: 500,
            message: "container rootfs is marked read-only".into(),
        });
        assert_eq!(
            e.to_string(),
            "engine error: container rootfs is marked read-only"
        );
        assert!(matches!(
            FsError::from(EngineError::NoSuchContainer),
            FsError::NoSuchContainer
        ));
    }
}
