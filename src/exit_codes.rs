//! Exit statuses, as sh and coreutils use them.

/// Success.
pub const OK: i32 = 0;
/// A command failed.
pub const FAILURE: i32 = 1;
/// Bad usage (unknown option, syntax error); also `ls`'s "cannot access".
pub const USAGE: i32 = 2;
/// Found but not executable.
pub const CANNOT_EXECUTE: i32 = 126;
/// No such command.
pub const NOT_FOUND: i32 = 127;
/// Stopped by Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: i32 = 130;
