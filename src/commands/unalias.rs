//! `unalias`: remove aliases.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use futures_util::future::LocalBoxFuture;

use super::{Args, Builtin, Out};
use crate::exit_codes;
use crate::shell::Shell;

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
        sh: &'a mut Shell,
        args: Vec<OsString>,
        _out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let args = match Args::parse(args, "a", &[]) {
                Ok(a) => a,
                Err(e) => return sh.usage("unalias", e),
            };
            if args.has('a') {
                sh.aliases.clear();
                return exit_codes::OK;
            }
            if args.operands.is_empty() {
                return sh.usage("unalias", super::UsageError("missing NAME".into()));
            }
            let mut status = exit_codes::OK;
            for name in &args.operands {
                if sh.aliases.remove(name.as_bytes()).is_none() {
                    eprintln!("dockerbox: unalias: {}: not found", name.to_string_lossy());
                    status = exit_codes::FAILURE;
                }
            }
            status
        })
    }
}
