//! Engine connections: one `Engine` per Docker endpoint, the container table it keeps current
//! from the engine's event stream, and the errors of talking to it.
//!
//! Only this module and the vfs backends touch bollard.

mod agent;
mod connect;
mod engine;
mod error;
mod exec;
mod helper;
mod logs;
mod objects;
mod procroot;
mod sources;
mod ssh;

pub use agent::{
    binary_for, gzip_agent_for, random, stall_limit, AgentConn, AgentError, Chunk, Placement,
    ReadStream, WriteStream,
};
pub use connect::reason;
pub use engine::{ContainerEvent, ContainerInfo, Engine, EngineSummary, OverlayDirs, State};
pub use error::{io_text, EngineError};
pub use exec::{run as exec, ExecError, ExecRequest};
pub use helper::{remote_direct_wanted, Helper};
pub use objects::{
    session_marker, ImageInfo, Labelled, SwarmNode, SwarmTask, Verb, VolumeInfo, IMAGE_VIEW,
    VOLUME_AT, VOLUME_VIEW,
};
pub use procroot::{copy_slice, on_kernel_fs, ProcRoot, ProcWriter};
pub use sources::{resolve, Request};
