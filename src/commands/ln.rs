//! `ln`: make hard links (within one container, or on the host) and symbolic links (anywhere,
//! also into stopped containers). Forms: `ln TARGET LINK`, `ln TARGET... DIR`, `ln TARGET`
//! (here), `-t DIR`, `-T`; `-f` removes what is in the way, `-n` does not enter a symlink to a
//! directory, `-v` says what was made.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use futures_util::future::LocalBoxFuture;

use super::common::{errno, quote, quote_if_needed, take_valued};
use super::{Args, Builtin, Out, UsageError};
use crate::context::Context;
use crate::exit_codes;
use crate::vfs::stream::Attrs;
use crate::vfs::{FsError, VPath};

pub struct Cmd;

impl Builtin for Cmd {
    fn name(&self) -> &'static str {
        "ln"
    }
    fn about(&self) -> &'static str {
        "make links between files (symbolic with -s)"
    }
    fn usage(&self) -> &'static str {
        "ln [-sfvnT] TARGET LINK\n       ln [-sfvn] TARGET... DIR\n       ln [-sfvn] TARGET          (a link in the current directory)\n       ln [-sfvn] -t DIR TARGET...\n  -s  symbolic link (TARGET is stored as typed; in a container an absolute TARGET means the\n      container's root); without -s a hard link, only within one container or on the host\n  -f  remove existing destination files\n  -n  treat LINK as a file even if it is a symlink to a directory\n  -T  LINK is always a file name, never a directory to link into\n  -t DIR  make the links in DIR\n  -v  print the name of each link made"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let (opts, operands) = match parse(args) {
                Ok(p) => p,
                Err(e) => return ctx.usage(e),
            };
            let jobs = match opts.plan(ctx, operands).await {
                Ok(j) => j,
                Err(status) => return status,
            };
            let mut status = exit_codes::OK;
            for (target, link) in &jobs {
                if !opts.link(ctx, out, target, link).await {
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
    symbolic: bool,
    force: bool,
    verbose: bool,
    /// `-T`: the last operand is the link's name, whatever it is.
    no_target_dir: bool,
    /// `-n`: a symlink to a directory as LINK is replaced (with -f), not entered.
    no_deref: bool,
    /// `-t DIR`.
    target_dir: Option<OsString>,
}

fn parse(argv: Vec<OsString>) -> Result<(Opts, Vec<OsString>), UsageError> {
    let (argv, values) = take_valued(argv, "t")?;
    let longs = [
        "symbolic",
        "force",
        "verbose",
        "no-target-directory",
        "no-dereference",
        "target-directory=",
    ];
    let a = Args::parse(argv, "sfvTn", &longs)?;
    let has_long = |n: &str| a.long.iter().any(|(l, _)| l == n);
    let mut target_dir = values.into_iter().last().map(|(_, v)| v);
    for (name, value) in &a.long {
        if name == "target-directory" {
            let v = value.clone().ok_or_else(|| {
                UsageError("option '--target-directory' requires an argument".into())
            })?;
            target_dir = Some(v.into());
        }
    }
    let opts = Opts {
        symbolic: a.has('s') || has_long("symbolic"),
        force: a.has('f') || has_long("force"),
        verbose: a.has('v') || has_long("verbose"),
        no_target_dir: a.has('T') || has_long("no-target-directory"),
        no_deref: a.has('n') || has_long("no-dereference"),
        target_dir,
    };
    let ops = a.operands;
    if opts.no_target_dir && opts.target_dir.is_some() {
        return Err(UsageError(
            "cannot combine --target-directory and --no-target-directory".into(),
        ));
    }
    if ops.is_empty() {
        return Err(UsageError("missing file operand".into()));
    }
    if opts.no_target_dir {
        if ops.len() == 1 {
            return Err(UsageError(format!(
                "missing destination file operand after {}",
                quote(&ops[0])
            )));
        }
        if ops.len() > 2 {
            return Err(UsageError(format!("extra operand {}", quote(&ops[2]))));
        }
    }
    Ok((opts, ops))
}

impl Opts {
    /// The (target, link name) pairs: decides whether the last operand is a directory to make
    /// the links in. An error here stops the command, as in GNU.
    async fn plan(
        &self,
        ctx: &Context,
        mut ops: Vec<OsString>,
    ) -> Result<Vec<(OsString, OsString)>, i32> {
        if let Some(dir) = &self.target_dir {
            return match self.is_dir(ctx, dir, false).await {
                Ok(true) => Ok(into(dir, ops)),
                Ok(false) => {
                    ctx.fail(format_args!("target {} is not a directory", quote(dir)));
                    Err(exit_codes::FAILURE)
                }
                Err(e) => {
                    ctx.complain(&format!("failed to access {}", quote(dir)), &e);
                    Err(exit_codes::FAILURE)
                }
            };
        }
        if ops.len() == 1 {
            return Ok(into(OsStr::new("."), ops));
        }
        let Some(last) = ops.pop() else {
            return Err(exit_codes::USAGE);
        };
        if self.no_target_dir {
            return Ok(ops.into_iter().map(|t| (t, last.clone())).collect());
        }
        match self.is_dir(ctx, &last, self.no_deref).await {
            Ok(true) => Ok(into(&last, ops)),
            Ok(false) | Err(_) if ops.len() == 1 => {
                Ok(ops.into_iter().map(|t| (t, last.clone())).collect())
            }
            Ok(false) => {
                ctx.complain(&format!("target {}", quote(&last)), &FsError::NotADirectory);
                Err(exit_codes::FAILURE)
            }
            Err(e) => {
                ctx.complain(&format!("target {}", quote(&last)), &e);
                Err(exit_codes::FAILURE)
            }
        }
    }

    async fn is_dir(&self, ctx: &Context, text: &OsStr, no_deref: bool) -> Result<bool, FsError> {
        let p = ctx.resolve(text);
        let e = if no_deref {
            ctx.vfs.lstat(&p).await?
        } else {
            ctx.vfs.stat(&p).await?
        };
        Ok(e.is_dir())
    }

    /// Makes one link; false when it failed.
    async fn link(&self, ctx: &Context, out: &mut Out, target: &OsStr, name: &OsStr) -> bool {
        let link = ctx.resolve(name);
        // A hard link's target is a path here; a symlink's is text, stored as typed.
        let target_path = ctx.resolve(target);
        if !self.symbolic {
            match ctx.vfs.lstat(&target_path).await {
                Ok(e) if e.is_dir() => {
                    ctx.fail(format_args!(
                        "{}: hard link not allowed for directory",
                        quote_if_needed(target)
                    ));
                    return false;
                }
                Ok(_) => {}
                Err(e) => {
                    ctx.complain(&format!("failed to access {}", quote(target)), &e);
                    return false;
                }
            }
        }
        if self.force && !self.clear_way(ctx, target, &target_path, name, &link).await {
            return false;
        }
        let made = if self.symbolic {
            let t = Path::new(target);
            ctx.vfs.symlink(t, &link, &Attrs::default()).await
        } else {
            ctx.vfs.hard_link(&target_path, &link).await
        };
        match made {
            Ok(()) => {
                if self.verbose {
                    let arrow = if self.symbolic { "->" } else { "=>" };
                    let _ = writeln!(out, "{} {arrow} {}", quote(name), quote(target));
                }
                true
            }
            Err(e) => {
                ctx.complain(&self.failure(target, name, &e), &e);
                false
            }
        }
    }

    /// `-f`: removes what is at `link`, unless it is a directory or the very file to link to.
    async fn clear_way(
        &self,
        ctx: &Context,
        target: &OsStr,
        target_path: &VPath,
        name: &OsStr,
        link: &VPath,
    ) -> bool {
        let Ok(existing) = ctx.vfs.lstat(link).await else {
            return true;
        };
        if existing.is_dir() {
            ctx.fail(format_args!(
                "{}: cannot overwrite directory",
                quote_if_needed(name)
            ));
            return false;
        }
        // Removing the link would remove the target (`ln -f f f`, `ln -sf f f`): refuse, as GNU.
        // Without inode numbers only the same path is recognised.
        if target_path == link {
            ctx.fail(format_args!(
                "{} and {} are the same file",
                quote(target),
                quote(name)
            ));
            return false;
        }
        match ctx.vfs.remove(link, false).await {
            Ok(()) | Err(FsError::NotFound) => true,
            Err(e) => {
                ctx.complain(&format!("cannot remove {}", quote(name)), &e);
                false
            }
        }
    }

    /// GNU's wording for a failed link, which depends on the errno.
    fn failure(&self, target: &OsStr, name: &OsStr, e: &FsError) -> String {
        let (n, t) = (quote(name), quote(target));
        let code = errno(e);
        if self.symbolic {
            if code == Some(libc::ENAMETOOLONG) || target.is_empty() {
                return format!("failed to create symbolic link {n} -> {t}");
            }
            return format!("failed to create symbolic link {n}");
        }
        match code {
            Some(libc::EMLINK) => format!("failed to create hard link to {t}"),
            Some(libc::EDQUOT | libc::EEXIST | libc::ENOSPC | libc::EROFS) => {
                format!("failed to create hard link {n}")
            }
            _ => format!("failed to create hard link {n} => {t}"),
        }
    }
}

/// Links named after each target's last component, inside `dir` (GNU's spelling: `d/f`).
fn into(dir: &OsStr, targets: Vec<OsString>) -> Vec<(OsString, OsString)> {
    targets
        .into_iter()
        .map(|t| {
            let name = join(dir, base_name(&t));
            (t, name)
        })
        .collect()
}

/// The last component, trailing slashes ignored: `a/b/` gives `b`.
fn base_name(text: &OsStr) -> &OsStr {
    let b = text.as_bytes();
    let end = b.iter().rposition(|&c| c != b'/').map_or(0, |i| i + 1);
    let start = b[..end]
        .iter()
        .rposition(|&c| c == b'/')
        .map_or(0, |i| i + 1);
    OsStr::from_bytes(&b[start..end])
}

fn join(dir: &OsStr, name: &OsStr) -> OsString {
    let mut v = dir.as_bytes().to_vec();
    if !v.ends_with(b"/") {
        v.push(b'/');
    }
    v.extend_from_slice(name.as_bytes());
    std::os::unix::ffi::OsStringExt::from_vec(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn links_inside_a_directory_are_named_after_the_target() {
        assert_eq!(
            into(OsStr::new("d"), v(&["/x/y", "a/b/", "f"])),
            vec![
                ("/x/y".into(), "d/y".into()),
                ("a/b/".into(), "d/b".into()),
                ("f".into(), "d/f".into())
            ]
        );
        assert_eq!(
            into(OsStr::new("d/"), v(&["f"])),
            vec![("f".into(), "d/f".into())]
        );
        assert_eq!(
            into(OsStr::new("."), v(&["/x/y"])),
            vec![("/x/y".into(), "./y".into())]
        );
    }

    #[test]
    fn command_lines() {
        let (o, ops) = parse(v(&["-sfv", "-t", "d", "a", "b"])).unwrap();
        assert!(o.symbolic && o.force && o.verbose);
        assert_eq!(o.target_dir, Some("d".into()));
        assert_eq!(ops, v(&["a", "b"]));
        let err = |a: &[&str]| parse(v(a)).err().map(|e| e.0);
        assert_eq!(err(&[]), Some("missing file operand".into()));
        assert_eq!(
            err(&["-T", "a"]),
            Some("missing destination file operand after 'a'".into())
        );
        assert_eq!(
            err(&["-T", "a", "b", "c"]),
            Some("extra operand 'c'".into())
        );
        assert_eq!(
            err(&["-T", "-t", "d", "a"]),
            Some("cannot combine --target-directory and --no-target-directory".into())
        );
    }

    #[test]
    fn failures_are_worded_by_errno() {
        let o = parse(v(&["a", "b"])).unwrap().0;
        let e = |n| FsError::from(std::io::Error::from_raw_os_error(n));
        let (t, n) = (OsStr::new("t"), OsStr::new("n"));
        assert_eq!(
            o.failure(t, n, &e(libc::EXDEV)),
            "failed to create hard link 'n' => 't'"
        );
        assert_eq!(
            o.failure(t, n, &e(libc::EEXIST)),
            "failed to create hard link 'n'"
        );
        let s = parse(v(&["-s", "a", "b"])).unwrap().0;
        assert_eq!(
            s.failure(t, n, &e(libc::EEXIST)),
            "failed to create symbolic link 'n'"
        );
        assert_eq!(
            s.failure(OsStr::new(""), n, &FsError::NotFound),
            "failed to create symbolic link 'n' -> ''"
        );
    }
}
