//! `cd`: change the current directory, across the host and `/containers`. As in bash: `..` is
//! lexical (`-L`) but a host path must exist as typed (`cd missing/..` fails), `-P` resolves
//! symlinks on the host, `CDPATH` is searched for relative names, and `PWD` and `OLDPWD` are
//! set (and exported) after each change.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use futures_util::future::LocalBoxFuture;

use super::{Args, Builtin, Out};
use crate::context::Context;
use crate::exit_codes;
use crate::vfs::{FsError, VPath};

pub struct Cd;

impl Builtin for Cd {
    fn name(&self) -> &'static str {
        "cd"
    }
    fn about(&self) -> &'static str {
        "change the current directory"
    }
    fn usage(&self) -> &'static str {
        "cd [-L|-P] [DIR]\n  cd          go to $HOME\n  cd -        go back to the previous directory (and print it)\n  cd /containers/NAME/PATH   enter a container\n  -P          resolve symlinks (host paths)\n  CDPATH      directories searched for a relative DIR"
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
            let physical = args.last_of("LP") == Some('P');
            let (mut p, searched) = match cdpath(ctx, &target).await {
                Some(found) => (found, true),
                None => (ctx.resolve(&target), false),
            };
            match ctx.vfs.stat(&p).await {
                Ok(e) if e.is_dir() => {}
                Ok(_) => return fail(ctx, &target, FsError::NotADirectory),
                Err(e) => return fail(ctx, &target, e),
            }
            if let VPath::Host(h) = &p {
                // `cd missing/..`: the kernel must find the path as typed, as bash checks.
                let typed = ctx.host_cwd.join(&target);
                if !searched && target.as_bytes().windows(2).any(|w| w == b"..") {
                    if let Err(e) = std::fs::metadata(&typed) {
                        return fail(ctx, &target, FsError::from(e));
                    }
                }
                if physical {
                    if let Ok(real) = std::fs::canonicalize(h) {
                        p = VPath::Host(real);
                    }
                }
            }
            ctx.set_cwd(&p);
            let cwd = ctx.cwd.as_os_str().as_bytes().to_vec();
            ctx.vars.export(b"PWD", Some(cwd));
            if let Some(old) = &ctx.oldpwd {
                let old = old.as_os_str().as_bytes().to_vec();
                ctx.vars.export(b"OLDPWD", Some(old));
            }
            if print || searched {
                let _ = writeln!(out, "{}", ctx.cwd.display());
            }
            exit_codes::OK
        })
    }
}

/// A relative name found under one of `CDPATH`'s directories (not `.`-led names, nor an empty
/// entry, which means the current directory, so no search is said).
async fn cdpath(ctx: &Context, target: &OsStr) -> Option<VPath> {
    let t = target.as_bytes();
    if t.starts_with(b"/") || t.starts_with(b".") || t.is_empty() {
        return None;
    }
    let path = ctx.vars.get(b"CDPATH")?.to_vec();
    for dir in path.split(|&b| b == b':').filter(|d| !d.is_empty()) {
        let mut full = dir.to_vec();
        full.push(b'/');
        full.extend_from_slice(t);
        let p = ctx.resolve(OsStr::from_bytes(&full));
        if ctx.vfs.stat(&p).await.is_ok_and(|e| e.is_dir()) {
            return Some(p);
        }
    }
    None
}

fn fail(ctx: &Context, target: &OsStr, e: FsError) -> i32 {
    ctx.report(target, &e);
    exit_codes::FAILURE
}
