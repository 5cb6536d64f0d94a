//! `cat`: concatenate files to standard output, streamed and binary-safe.

use std::ffi::OsString;
use std::io::{self, Read};

use futures_util::future::LocalBoxFuture;

use super::{Args, Builtin, Out};
use crate::exit_codes;
use crate::shell::Shell;
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
        sh: &'a mut Shell,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let args = match Args::parse(args, "u", &[]) {
                Ok(a) => a,
                Err(e) => return sh.usage("cat", e),
            };
            let mut files = args.operands;
            if files.is_empty() {
                files.push("-".into());
            }
            let mut status = exit_codes::OK;
            for f in &files {
                let r = if f == "-" {
                    copy_stdin(out)
                } else {
                    sh.vfs.read(&sh.resolve(f), out).await
                };
                match r {
                    Ok(_) => {}
                    Err(e) if e.is_broken_pipe() => return exit_codes::OK,
                    Err(e) => {
                        sh.report("cat", f, &e);
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

fn copy_stdin(out: &mut Out) -> Result<u64, FsError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut stdin = io::stdin().lock();
    let mut total = 0;
    loop {
        // SIGINT does not interrupt a read (the handler restarts it): wait in short slices.
        if !wait_readable(libc::STDIN_FILENO)? {
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

/// Waits up to 100 ms for `fd` to be readable; fails with Interrupted after Ctrl-C.
fn wait_readable(fd: i32) -> Result<bool, FsError> {
    if crate::interrupt::is_set() {
        return Err(FsError::Interrupted);
    }
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1.
    let r = unsafe { libc::poll(&mut pfd, 1, 100) };
    // -1 is EINTR from the very signal we wait for: loop and look at the flag.
    Ok(r > 0)
}
