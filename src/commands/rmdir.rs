//! `rmdir`: remove empty directories, with `-p` (then each parent named in the operand),
//! `-v` and `--ignore-fail-on-non-empty`.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;

use futures_util::future::LocalBoxFuture;

use super::common::{errno, errno_error, quote};
use super::{Args, Builtin, Out, UsageError};
use crate::context::Context;
use crate::exit_codes;
use crate::vfs::{FsError, Kind};

pub struct Cmd;

impl Builtin for Cmd {
    fn name(&self) -> &'static str {
        "rmdir"
    }
    fn about(&self) -> &'static str {
        "remove empty directories"
    }
    fn usage(&self) -> &'static str {
        "rmdir [-pv] [--ignore-fail-on-non-empty] DIR...\n  -p  remove DIR, then each parent named in it (rmdir -p a/b/c is rmdir a/b/c a/b a)\n  -v  print a line for each directory removed\n  --ignore-fail-on-non-empty  say nothing when a directory is not empty"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let (opts, dirs) = match parse(args) {
                Ok(p) => p,
                Err(e) => return ctx.usage(e),
            };
            let mut status = exit_codes::OK;
            for d in &dirs {
                if !opts.operand(ctx, out, d).await {
                    status = exit_codes::FAILURE;
                }
                if crate::interrupt::is_set() {
                    break;
                }
            }
            status
        })
    }
}

/// What to do, decided before any I/O.
#[derive(Debug)]
struct Opts {
    parents: bool,
    verbose: bool,
    ignore_non_empty: bool,
}

fn parse(argv: Vec<OsString>) -> Result<(Opts, Vec<OsString>), UsageError> {
    let longs = ["parents", "verbose", "ignore-fail-on-non-empty"];
    let a = Args::parse(argv, "pv", &longs)?;
    let has_long = |n: &str| a.long.iter().any(|(l, _)| l == n);
    if a.operands.is_empty() {
        return Err(UsageError("missing operand".into()));
    }
    let opts = Opts {
        parents: a.has('p') || has_long("parents"),
        verbose: a.has('v') || has_long("verbose"),
        ignore_non_empty: has_long("ignore-fail-on-non-empty"),
    };
    Ok((opts, a.operands))
}

impl Opts {
    /// One operand, then with `-p` its parents; false when something failed.
    async fn operand(&self, ctx: &Context, out: &mut Out, text: &OsStr) -> bool {
        if let Err(e) = self.remove(ctx, out, text).await {
            if self.ignorable(&e) {
                return true;
            }
            let e = symlink_not_followed(ctx, text, e).await;
            ctx.complain(&format!("failed to remove {}", quote(text)), &e);
            return false;
        }
        if !self.parents {
            return true;
        }
        for parent in parents(text) {
            if let Err(e) = self.remove(ctx, out, parent).await {
                if self.ignorable(&e) {
                    return true;
                }
                let what = format!("failed to remove directory {}", quote(parent));
                ctx.complain(&what, &e);
                return false;
            }
        }
        true
    }

    async fn remove(&self, ctx: &Context, out: &mut Out, text: &OsStr) -> Result<(), FsError> {
        if self.verbose {
            let _ = writeln!(out, "rmdir: removing directory, {}", quote(text));
        }
        if text.is_empty() {
            return Err(FsError::NotFound);
        }
        // The namespace folds `.` and `..` away (`rmdir .` would name the current directory
        // itself): answer what rmdir(2) answers for them.
        let b = text.as_bytes();
        let last = last_component(b);
        if last == b"." || last == b".." {
            let dir =
                &b[..b.len() - b.iter().rev().take_while(|&&c| c == b'/').count() - last.len()];
            let dir = if dir.is_empty() { b"." } else { dir };
            let e = ctx.vfs.stat(&ctx.resolve(OsStr::from_bytes(dir))).await?;
            return Err(match (e.is_dir(), last) {
                (false, _) => FsError::NotADirectory,
                (true, b".") => errno_error(libc::EINVAL),
                (true, _) => errno_error(libc::ENOTEMPTY),
            });
        }
        ctx.vfs.remove(&ctx.resolve(text), true).await
    }

    fn ignorable(&self, e: &FsError) -> bool {
        self.ignore_non_empty && matches!(errno(e), Some(libc::ENOTEMPTY | libc::EEXIST))
    }
}

/// `rmdir link/` where link points to a directory: GNU's own words for why nothing happened.
async fn symlink_not_followed(ctx: &Context, text: &OsStr, e: FsError) -> FsError {
    if !matches!(e, FsError::NotADirectory) || !text.as_bytes().ends_with(b"/") {
        return e;
    }
    let p = ctx.resolve(text);
    let is_link = matches!(ctx.vfs.lstat(&p).await, Ok(l) if l.kind == Kind::Symlink);
    if is_link && ctx.vfs.stat(&p).await.is_ok_and(|s| s.is_dir()) {
        return FsError::Io(io::Error::other("Symbolic link not followed"));
    }
    e
}

/// The name's last component, trailing slashes ignored.
fn last_component(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| c != b'/').map_or(0, |i| i + 1);
    let start = b[..end]
        .iter()
        .rposition(|&c| c == b'/')
        .map_or(0, |i| i + 1);
    &b[start..end]
}

/// The parents `-p` removes, nearest first, as prefixes of the operand: `a//b/c/` gives
/// `a//b`, `a`. It stops short of `/`, as GNU does.
fn parents(text: &OsStr) -> Vec<&OsStr> {
    let b = text.as_bytes();
    let mut end = b.iter().rposition(|&c| c != b'/').map_or(0, |i| i + 1);
    let mut out = Vec::new();
    while let Some(slash) = b[..end].iter().rposition(|&c| c == b'/') {
        end = b[..slash]
            .iter()
            .rposition(|&c| c != b'/')
            .map_or(0, |i| i + 1);
        if end == 0 {
            break;
        }
        out.push(OsStr::from_bytes(&b[..end]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_as_typed() {
        let p = |s: &str| -> Vec<String> {
            parents(OsStr::new(s))
                .iter()
                .map(|x| x.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(p("a/b/c/d"), ["a/b/c", "a/b", "a"]);
        assert_eq!(p("e//f//"), ["e"]);
        assert_eq!(p("a"), Vec::<String>::new());
        assert_eq!(p("/tmp/x/y"), ["/tmp/x", "/tmp"]);
        assert_eq!(p("//x"), Vec::<String>::new());
    }

    #[test]
    fn last_components() {
        assert_eq!(last_component(b"a/b/"), b"b");
        assert_eq!(last_component(b"."), b".");
        assert_eq!(last_component(b"x/.."), b"..");
        assert_eq!(last_component(b"/"), b"");
    }
}
