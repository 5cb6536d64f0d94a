//! `cat`: concatenate files to standard output, streamed and binary-safe.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::OwnedFd;

use futures_util::future::LocalBoxFuture;

use super::{Args, Builtin, Out};
use crate::context::Context;
use crate::exit_codes;
use crate::vfs::FsError;

pub struct Cat;

impl Builtin for Cat {
    fn name(&self) -> &'static str {
        "cat"
    }
    fn about(&self) -> &'static str {
        "print files, from containers or the host"
    }
    fn usage(&self) -> &'static str {
        "cat [FILE]...\n  With no FILE, or when FILE is -, read standard input."
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let args = match Args::parse(args, "u", &[]) {
                Ok(a) => a,
                Err(e) => return ctx.usage(e),
            };
            let mut files = args.operands;
            if files.is_empty() {
                files.push("-".into());
            }
            let mut status = exit_codes::OK;
            for f in &files {
                let r = if f == "-" {
                    match &ctx.stdin {
                        Some(fd) => copy_fd(fd, out),
                        None => copy_stdin(out),
                    }
                } else {
                    ctx.vfs.read(&ctx.resolve(f), out).await
                };
                match r {
                    Ok(_) => {}
                    Err(e) if e.is_broken_pipe() => return exit_codes::OK,
                    Err(e) => {
                        ctx.report(f, &e);
                        status = exit_codes::FAILURE;
                        if matches!(e, FsError::Interrupted) {
                            break;
                        }
                    }
                }
            }
            status
        })
    }
}

/// Standard input when it is a pipe or a redirect (`ls | cat`, `cat < f`).
fn copy_fd(fd: &OwnedFd, out: &mut Out) -> Result<u64, FsError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = crate::context::read_interruptibly(fd, &mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        out.write_all(&buf[..n]).map_err(FsError::Io)?;
        total += n as u64;
    }
}

/// dockerbox's own stdin, through std's buffered handle (a script read from stdin shares it).
fn copy_stdin(out: &mut Out) -> Result<u64, FsError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut stdin = io::stdin().lock();
    let mut total = 0;
    loop {
        // SIGINT does not interrupt a read (the handler restarts it): wait in short slices.
        if !crate::context::wait_readable(libc::STDIN_FILENO)? {
            continue;
        }
        let n = match stdin.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                if crate::interrupt::is_set() {
                    return Err(FsError::Interrupted);
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        out.write_all(&buf[..n]).map_err(FsError::Io)?;
        total += n as u64;
    }
}
