//! `sh` and `bash`: typed alone inside a container, an interactive shell there (`docker exec
//! -it NAME sh`); with arguments, or outside containers, the host's program as before.
//!
//! They are builtins only so that the bare form can go into the container; every other use is
//! passed to the host program unchanged.

use std::ffi::OsString;

use futures_util::future::LocalBoxFuture;

use super::exec::{container_here, in_container, not_here};
use super::{Builtin, Out};
use crate::context::Context;

pub struct Sh;
pub struct Bash;

impl Builtin for Sh {
    fn name(&self) -> &'static str {
        "sh"
    }
    fn about(&self) -> &'static str {
        "a shell in the current directory's container (the host's sh elsewhere)"
    }
    fn usage(&self) -> &'static str {
        "sh [ARG]...\n  \
         With no ARG inside /containers/NAME/DIR, opens /bin/sh in container NAME, in DIR, like\n  \
         docker exec -it NAME sh; exit returns to dockerbox. With arguments, or outside\n  \
         containers, runs the host's sh with them."
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(shell(ctx, "/bin/sh", args, out))
    }
}

impl Builtin for Bash {
    fn name(&self) -> &'static str {
        "bash"
    }
    fn about(&self) -> &'static str {
        "bash in the current directory's container (the host's bash elsewhere)"
    }
    fn usage(&self) -> &'static str {
        "bash [ARG]...\n  \
         With no ARG inside /containers/NAME/DIR, opens bash (found in the container's PATH)\n  \
         in container NAME, in DIR. With arguments, or outside containers, runs the host's\n  \
         bash with them."
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(shell(ctx, "bash", args, out))
    }
}

/// `program` in the container when typed alone there. The host's program of the same name
/// (with arguments, or outside containers) is run by the shell's dispatch as any host program
/// (`shell::pipeline::host_forms`).
async fn shell(ctx: &mut Context, program: &str, args: Vec<OsString>, out: &mut Out) -> i32 {
    match container_here(ctx) {
        Some(here) if args.is_empty() => {
            in_container(ctx, &here, &[program.into()], out, Some(program)).await
        }
        _ => not_here(ctx),
    }
}
