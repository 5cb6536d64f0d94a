//! `unset`: forget shell variables.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use futures_util::future::LocalBoxFuture;

use super::{Args, Builtin, Out};
use crate::context::{is_name, Context};
use crate::exit_codes;

pub struct Unset;

impl Builtin for Unset {
    fn name(&self) -> &'static str {
        "unset"
    }
    fn about(&self) -> &'static str {
        "remove shell variables (and from host programs' environment)"
    }
    fn usage(&self) -> &'static str {
        "unset [-v] NAME...\n  -v  NAME is a variable (the only kind there is)"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        _out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let args = match Args::parse(args, "v", &[]) {
                Ok(a) => a,
                Err(e) => return ctx.usage(e),
            };
            let mut status = exit_codes::OK;
            for name in &args.operands {
                if is_name(name.as_bytes()) {
                    ctx.vars.unset(name.as_bytes());
                } else {
                    ctx.fail(format_args!(
                        "'{}': not a valid identifier",
                        name.to_string_lossy()
                    ));
                    status = exit_codes::FAILURE;
                }
            }
            status
        })
    }
}
