//! `exit`: leave the shell.

use std::ffi::OsString;

use futures_util::future::LocalBoxFuture;

use super::{Builtin, Out};
use crate::context::Context;
use crate::exit_codes;

pub struct Exit;

impl Builtin for Exit {
    fn name(&self) -> &'static str {
        "exit"
    }
    fn about(&self) -> &'static str {
        "leave dockerbox"
    }
    fn usage(&self) -> &'static str {
        "exit [N]\n  Exit with status N, or with the last command's status."
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        _out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let code = match args.as_slice() {
                [] => ctx.status,
                [n] => match n.to_str().and_then(|s| s.parse::<i64>().ok()) {
                    Some(n) => (n & 0xff) as i32,
                    None => {
                        ctx.fail(format_args!(
                            "{}: numeric argument required",
                            n.to_string_lossy()
                        ));
                        exit_codes::USAGE
                    }
                },
                _ => {
                    ctx.fail("too many arguments");
                    return exit_codes::FAILURE;
                }
            };
            ctx.exit = Some(code);
            code
        })
    }
}
