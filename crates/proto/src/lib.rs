//! The wire protocol between dockerbox and its in-container agent: message types and their
//! binary codec. No I/O happens here, so both sides (and the fuzzer) share exactly this code.
//!
//! # Stream layout
//! The agent first writes [`MAGIC`]; a peer that reads anything else (for example the engine's
//! `OCI runtime exec failed` text) knows the agent did not start. Then both directions carry
//! frames:
//!
//! ```text
//! u32 LE  length of what follows (id + kind + body), at most MAX_FRAME
//! u32 LE  request id (0 is the agent's Hello)
//! u8      message kind
//! ...     body: fixed-width little-endian integers; byte strings as u32 LE length + bytes
//! ```
//!
//! Paths and names are bytes end to end. Many requests may be in flight; a `Read` streams
//! `Data` frames under a credit window the client refills with `Credit`, so a large read never
//! blocks the small requests behind it.

#![deny(missing_docs)]

mod codec;
mod msg;
pub mod pack;
mod reply;

pub use codec::{decode_frame, encode_request, encode_response, Frame, ProtoError};
pub use msg::{Attr, DirEntry, Request, Response, StatFs, Tool};
pub use reply::{canonical_path, check_id, check_reply, valid_name, Expect, Invalid, Replies};

/// What the agent writes before anything else.
pub const MAGIC: &[u8; 8] = b"DBXAGT1\n";

/// Bumped on any incompatible change; a mismatch means: upload the agent this dockerbox embeds.
pub const VERSION: u32 = 1;

/// The largest frame either side sends or accepts (id + kind + body).
pub const MAX_FRAME: usize = 1 << 20;

/// The size of one `Data` chunk of a streamed read or write.
pub const CHUNK: usize = 256 * 1024;

/// How many `Data` chunks a `Read` may send before it waits for `Credit` (4 MiB in flight).
pub const READ_WINDOW: u32 = 16;
