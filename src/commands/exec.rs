//! `exec`: run a command in the container the current directory belongs to, as `docker exec`
//! does; outside containers, the host program.
//!
//! Unlike sh's `exec`, dockerbox is not replaced: on the host the program runs in the
//! foreground like any command line and the shell carries on afterwards (replacing the process
//! would end the session and skip the agents' clean-up).

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};

use futures_util::future::LocalBoxFuture;

use super::{Builtin, Out, UsageError};
use crate::context::Context;
use crate::exit_codes;
use crate::host::{self, ExecError, ExecRequest};
use crate::output::quote::quote_if_needed;
use crate::vfs::VPath;

pub struct Cmd;

impl Builtin for Cmd {
    fn name(&self) -> &'static str {
        "exec"
    }
    fn about(&self) -> &'static str {
        "run a command in the current directory's container (on the host elsewhere)"
    }
    fn usage(&self) -> &'static str {
        "exec COMMAND [ARG]...\n  \
         In /containers/NAME/DIR, runs COMMAND in container NAME, in DIR, as the container's\n  \
         user and with its environment, like docker exec: with a terminal when stdin and stdout\n  \
         are terminals (-it), with stdin passed on when it is a pipe or a file (-i). Arguments\n  \
         go as they are, never through a shell. The status is COMMAND's: 127 when it is not\n  \
         found, 126 when it cannot run. Without a terminal Ctrl-C stops waiting (status 130);\n  \
         the command is interrupted too when the engine runs on this machine.\n  \
         Elsewhere, runs the host program COMMAND; dockerbox carries on afterwards."
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        mut args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            if args.first().is_some_and(|a| a == "--") {
                args.remove(0);
            }
            if args.is_empty() {
                return ctx.usage(UsageError("missing command".into()));
            }
            // Outside containers the shell runs `exec CMD` as the host program CMD itself
            // (`shell::pipeline::host_forms`), with the pipeline's descriptors and variables.
            match container_here(ctx) {
                Some(here) => in_container(ctx, &here, &args, out, None).await,
                None => not_here(ctx),
            }
        })
    }
}

/// Reached only if the shell's dispatch did not send the host form to the host (it always
/// does): said as a usage error rather than run a second way.
pub(super) fn not_here(ctx: &Context) -> i32 {
    ctx.usage(UsageError(
        "the current directory is not in a container".into(),
    ))
}

/// The current directory, when it is inside a container.
pub(super) fn container_here(ctx: &Context) -> Option<VPath> {
    let here = VPath::parse(&ctx.cwd);
    matches!(here, VPath::Container { .. }).then_some(here)
}

/// Runs `argv` in the container of `here`, in that directory, and reports a failure as
/// `dockerbox: CMD: ...`. `shell` is the shell being opened (`/bin/sh`), whose absence is
/// worded as the container lacking one.
pub(super) async fn in_container(
    ctx: &Context,
    here: &VPath,
    argv: &[OsString],
    out: &mut Out,
    shell: Option<&str>,
) -> i32 {
    let VPath::Container { host, name, path } = here else {
        return exit_codes::FAILURE;
    };
    let root = VPath::Container {
        host: host.clone(),
        name: name.clone(),
        path: "/".into(),
    }
    .to_path();
    let (engine, c) = match ctx.vfs.container_of(here).await {
        Ok(found) => found,
        Err(e) => {
            ctx.report(root.as_os_str(), &e);
            return exit_codes::FAILURE;
        }
    };
    let _ = io::stdout().flush();
    let result = match ExecRequest::new(argv, path) {
        Ok(mut req) => {
            // In a pipeline or under redirects: no terminal, and stdin from the pipe.
            if let Some(fd) = &ctx.stdin {
                req.tty = false;
                req.stdin = true;
                req.input = Some(std::os::fd::AsRawFd::as_raw_fd(&**fd));
            }
            if !ctx.stdout_tty {
                req.tty = false;
            }
            host::exec(&engine, &c, &req, out, &mut ctx.errors.writer()).await
        }
        Err(e) => Err(e),
    };
    // The command may have changed the container's files.
    ctx.vfs.host_command_ran();
    let e = match result {
        Ok(code) => return code,
        Err(e) => e,
    };
    if let (ExecError::CommandNotFound, Some(shell)) = (&e, shell) {
        ctx.fail(format_args!("no {shell} in container {}", c.name));
        return e.status();
    }
    let program = argv.first().map_or(OsStr::new(""), |a| a.as_os_str());
    let subject = match &e {
        ExecError::Interrupted => return e.status(),
        ExecError::Io(io) if io.kind() == io::ErrorKind::BrokenPipe => return exit_codes::OK,
        ExecError::NotUtf8(s) => quote_if_needed(s),
        ExecError::CommandNotFound | ExecError::PermissionDenied | ExecError::Runtime(_) => {
            quote_if_needed(program)
        }
        ExecError::NoWorkdir => quote_if_needed(ctx.cwd.as_os_str()),
        _ => quote_if_needed(root.as_os_str()),
    };
    ctx.fail(format_args!("{subject}: {e}"));
    e.status()
}
