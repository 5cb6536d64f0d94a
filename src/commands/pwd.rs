//! `pwd`: print the current directory.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use futures_util::future::LocalBoxFuture;

use super::{Args, Builtin, Out};
use crate::exit_codes;
use crate::shell::Shell;

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
        sh: &'a mut Shell,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            if let Err(e) = Args::parse(args, "LP", &[]) {
                return sh.usage("pwd", e);
            }
            let mut line = sh.cwd.as_os_str().as_bytes().to_vec();
            line.push(b'\n');
            match out.write_all(&line) {
                Ok(()) => exit_codes::OK,
                Err(_) => exit_codes::FAILURE,
            }
        })
    }
}
