//! `unalias`: remove aliases.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use futures_util::future::LocalBoxFuture;

use super::{Args, Builtin, Out};
use crate::context::Context;
use crate::exit_codes;

pub struct Unalias;

impl Builtin for Unalias {
    fn name(&self) -> &'static str {
        "unalias"
    }
    fn about(&self) -> &'static str {
        "remove aliases"
    }
    fn usage(&self) -> &'static str {
        "unalias [-a] NAME...\n  -a  remove every alias"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        _out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let args = match Args::parse(args, "a", &[]) {
                Ok(a) => a,
                Err(e) => return ctx.usage(e),
            };
            if args.has('a') {
                ctx.aliases.clear();
                return exit_codes::OK;
            }
            if args.operands.is_empty() {
                return ctx.usage(super::UsageError("missing NAME".into()));
            }
            let mut status = exit_codes::OK;
            for name in &args.operands {
                if ctx.aliases.remove(name.as_bytes()).is_none() {
                    ctx.fail(format_args!("{}: not found", name.to_string_lossy()));
                    status = exit_codes::FAILURE;
                }
            }
            status
        })
    }
}
