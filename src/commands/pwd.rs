//! `pwd`: print the current directory.

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
        "pwd"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            if let Err(e) = Args::parse(args, "LP", &[]) {
                return ctx.usage(e);
            }
            let mut line = ctx.cwd.as_os_str().as_bytes().to_vec();
            line.push(b'\n');
            match out.write_all(&line) {
                Ok(()) => exit_codes::OK,
                Err(_) => exit_codes::FAILURE,
            }
        })
    }
}
