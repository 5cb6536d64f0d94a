//! `pwd`: print the current directory: the logical one (as `cd` went, symlinks kept), or with
//! `-P` the host's real path.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use futures_util::future::LocalBoxFuture;

use super::{Args, Builtin, Out};
use crate::context::Context;
use crate::exit_codes;

pub struct Pwd;

impl Builtin for Pwd {
    fn name(&self) -> &'static str {
        "pwd"
    }
    fn about(&self) -> &'static str {
        "print the current directory"
    }
    fn usage(&self) -> &'static str {
        "pwd [-L|-P]\n  -P  the host's real path, symlinks resolved"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let args = match Args::parse(args, "LP", &[]) {
                Ok(a) => a,
                Err(e) => return ctx.usage(e),
            };
            let physical = args.last_of("LP") == Some('P');
            let real = match ctx.resolve(std::ffi::OsStr::new(".")) {
                crate::vfs::VPath::Host(h) if physical => std::fs::canonicalize(h).ok(),
                _ => None,
            };
            let shown = real.as_deref().unwrap_or(&ctx.cwd);
            let mut line = shown.as_os_str().as_bytes().to_vec();
            line.push(b'\n');
            match out.write_all(&line) {
                Ok(()) => exit_codes::OK,
                Err(_) => exit_codes::FAILURE,
            }
        })
    }
}
