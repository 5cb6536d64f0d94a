//! Engine connections: one `Engine` per Docker endpoint, the container table it keeps current
//! from the engine's event stream, and the errors of talking to it.
//!
//! Only this module and the vfs backends touch bollard.

mod agent;
mod engine;
// Not wired into main yet: the engine list is resolved here but still built from DOCKER_HOST.
#[allow(dead_code)]
mod sources;
#[allow(dead_code)]
mod ssh;

pub use agent::{binary_for, AgentConn, AgentError, Placement, ReadStream, WriteStream};
pub use engine::{ContainerInfo, Engine, State};
#[allow(unused_imports)]
pub use sources::{connect, resolve, EngineSpec, Origin, Request, SourceError, TlsFiles};
