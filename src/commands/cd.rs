//! `cd`: change the current directory, across the host and `/containers`.

use std::ffi::{OsStr, OsString};

use futures_util::future::LocalBoxFuture;

use super::{Args, Builtin, Out};
use crate::context::Context;
use crate::exit_codes;
use crate::vfs::FsError;

pub struct Cd;

impl Builtin for Cd {
    fn name(&self) -> &'static str {
        "cd"
    }
    fn about(&self) -> &'static str {
        "change the current directory"
    }
    fn usage(&self) -> &'static str {
        "cd [DIR]\n  cd          go to $HOME\n  cd -        go back to the previous directory (and print it)\n  cd /containers/NAME/PATH   enter a container"
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
            let (target, print): (OsString, bool) = match args.operands.as_slice() {
                [] => match ctx.vars.get_os("HOME") {
                    Some(h) => (h, false),
                    None => {
                        ctx.fail("HOME not set");
                        return exit_codes::FAILURE;
                    }
                },
                [dash] if dash == "-" => match &ctx.oldpwd {
                    Some(p) => (p.clone().into_os_string(), true),
                    None => {
                        ctx.fail("OLDPWD not set");
                        return exit_codes::FAILURE;
                    }
                },
                [one] => (one.clone(), false),
                _ => {
                    ctx.fail("too many arguments");
                    return exit_codes::FAILURE;
                }
            };
            let p = ctx.resolve(&target);
            match ctx.vfs.stat(&p).await {
                Ok(e) if e.is_dir() => {}
                Ok(_) => return fail(ctx, &target, FsError::NotADirectory),
                Err(e) => return fail(ctx, &target, e),
            }
            ctx.set_cwd(&p);
            if print {
                let _ = writeln!(out, "{}", ctx.cwd.display());
            }
            exit_codes::OK
        })
    }
}

fn fail(ctx: &Context, target: &OsStr, e: FsError) -> i32 {
    ctx.report(target, &e);
    exit_codes::FAILURE
}
