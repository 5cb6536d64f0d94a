//! `cd`: change the current directory, across the host and `/containers`.

use std::ffi::{OsStr, OsString};

use futures_util::future::LocalBoxFuture;

use super::{Args, Builtin, Out};
use crate::exit_codes;
use crate::shell::Shell;
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
        sh: &'a mut Shell,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let args = match Args::parse(args, "LP", &[]) {
                Ok(a) => a,
                Err(e) => return sh.usage("cd", e),
            };
            let (target, print): (OsString, bool) = match args.operands.as_slice() {
                [] => match sh.vars.get_os("HOME") {
                    Some(h) => (h, false),
                    None => {
                        eprintln!("dockerbox: cd: HOME not set");
                        return exit_codes::FAILURE;
                    }
                },
                [dash] if dash == "-" => match &sh.oldpwd {
                    Some(p) => (p.clone().into_os_string(), true),
                    None => {
                        eprintln!("dockerbox: cd: OLDPWD not set");
                        return exit_codes::FAILURE;
                    }
                },
                [one] => (one.clone(), false),
                _ => {
                    eprintln!("dockerbox: cd: too many arguments");
                    return exit_codes::FAILURE;
                }
            };
            let p = sh.resolve(&target);
            match sh.vfs.stat(&p).await {
                Ok(e) if e.is_dir() => {}
                Ok(_) => return fail(sh, &target, FsError::NotADirectory),
                Err(e) => return fail(sh, &target, e),
            }
            sh.set_cwd(&p);
            if print {
                let _ = writeln!(out, "{}", sh.cwd.display());
            }
            exit_codes::OK
        })
    }
}

fn fail(sh: &Shell, target: &OsStr, e: FsError) -> i32 {
    sh.report("cd", target, &e);
    exit_codes::FAILURE
}
