//! `mkdir`: make directories, with `-p` (parents as needed, no error for existing ones),
//! `-m MODE` and `-v`. Works in stopped containers too (through the archive API).
//!
//! Also home, for now, of [`shared`]: what the file builtins (mkdir, rmdir, touch, ln, chmod)
//! have in common — GNU's quoting of names, the umask, GNU-worded errors, short options that
//! take a value.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use futures_util::future::LocalBoxFuture;

use super::chmod::Mode;
use super::common::{errno_error, quote, quote_c, take_valued, umask};
use super::{Args, Builtin, Out, UsageError};
use crate::context::Context;
use crate::exit_codes;
use crate::vfs::stream::Attrs;
use crate::vfs::FsError;

pub struct Cmd;

impl Builtin for Cmd {
    fn name(&self) -> &'static str {
        "mkdir"
    }
    fn about(&self) -> &'static str {
        "make directories, also in stopped containers"
    }
    fn usage(&self) -> &'static str {
        "mkdir [-pv] [-m MODE] DIR...\n  -p       make parent directories as needed; no error if DIR exists\n  -m MODE  the new directories' mode: octal (750) or symbolic (u=rwx,g=rx), from a=rwx\n           (without -m: 777 less the umask)\n  -v       print a line for each directory made"
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
                let made = if opts.parents {
                    opts.make_parents(ctx, out, d).await
                } else {
                    opts.make(ctx, out, d).await
                };
                if let Err((shown, e)) = made {
                    let what = format!("cannot create directory {}", quote_c(&shown));
                    ctx.complain(&what, &e);
                    status = exit_codes::FAILURE;
                    if matches!(e, FsError::Interrupted) {
                        break;
                    }
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
    /// The mode of the directories named.
    mode: u32,
    /// The mode of parents made by `-p`: GNU gives them u+wx whatever the umask, so that the
    /// next level can be made.
    parent_mode: u32,
}

fn parse(argv: Vec<OsString>) -> Result<(Opts, Vec<OsString>), UsageError> {
    let (argv, values) = take_valued(argv, "m")?;
    let a = Args::parse(argv, "pv", &["parents", "verbose", "mode="])?;
    let has_long = |n: &str| a.long.iter().any(|(l, _)| l == n);
    let long_mode = a
        .long
        .iter()
        .filter(|(l, _)| l == "mode")
        .map(|(_, v)| v.clone().map(OsString::from));
    let modes: Vec<Option<OsString>> = values
        .into_iter()
        .map(|(_, v)| Some(v))
        .chain(long_mode)
        .collect();
    let base = 0o777 & !umask();
    let mode = match modes.last() {
        None => base,
        Some(None) => return Err(UsageError("option '--mode' requires an argument".into())),
        Some(Some(text)) => Mode::parse(text)
            .ok_or_else(|| UsageError(format!("invalid mode {}", quote_c(text))))?
            .apply(0o777, true, umask()),
    };
    if a.operands.is_empty() {
        return Err(UsageError("missing operand".into()));
    }
    let opts = Opts {
        parents: a.has('p') || has_long("parents"),
        verbose: a.has('v') || has_long("verbose"),
        mode,
        parent_mode: base | 0o300,
    };
    Ok((opts, a.operands))
}

/// A failure and the name (as typed, or the prefix of it) it is about.
type Failed = (OsString, FsError);

/// How one `mkdir` went.
enum Made {
    Created,
    /// Already there: whether it is a directory (following symlinks).
    Exists(bool),
    /// A component on the way is missing or not a directory: try the parent first.
    NoParent(FsError),
}

impl Opts {
    /// Plain `mkdir DIR`.
    async fn make(&self, ctx: &Context, out: &mut Out, text: &OsStr) -> Result<(), Failed> {
        match self.try_make(ctx, out, text, self.mode).await {
            Ok(Made::Created) => Ok(()),
            Ok(Made::Exists(_)) => Err((text.into(), errno_error(libc::EEXIST))),
            Ok(Made::NoParent(e)) | Err(e) => Err((text.into(), e)),
        }
    }

    /// `mkdir -p DIR`: goes up from DIR only as far as something is missing (one request
    /// when the parent exists), then makes the missing levels on the way back down.
    async fn make_parents(&self, ctx: &Context, out: &mut Out, text: &OsStr) -> Result<(), Failed> {
        let levels = prefixes(text);
        let last = levels.len() - 1;
        let mut i = last;
        loop {
            let mode = if i == last {
                self.mode
            } else {
                self.parent_mode
            };
            let fail = |e| Err((levels[i].to_os_string(), e));
            match self.try_make(ctx, out, levels[i], mode).await {
                Ok(Made::Created) | Ok(Made::Exists(true)) => break,
                Ok(Made::Exists(false)) if i == last => return fail(errno_error(libc::EEXIST)),
                Ok(Made::Exists(false)) => return fail(FsError::NotADirectory),
                Ok(Made::NoParent(e)) if i == 0 => return fail(e),
                Ok(Made::NoParent(_)) => i -= 1,
                Err(e) => return fail(e),
            }
        }
        for (j, level) in levels.iter().enumerate().skip(i + 1) {
            let mode = if j == last {
                self.mode
            } else {
                self.parent_mode
            };
            match self.try_make(ctx, out, level, mode).await {
                Ok(Made::Created) | Ok(Made::Exists(true)) => {}
                Ok(Made::Exists(false)) => {
                    let e = if j == last {
                        errno_error(libc::EEXIST)
                    } else {
                        FsError::NotADirectory
                    };
                    return Err((level.to_os_string(), e));
                }
                Ok(Made::NoParent(e)) | Err(e) => return Err((level.to_os_string(), e)),
            }
        }
        Ok(())
    }

    /// One `mkdir`; when it fails, says whether the name exists (then the error is moot, as
    /// for `/containers` or a container's root, which refuse writes but exist).
    async fn try_make(
        &self,
        ctx: &Context,
        out: &mut Out,
        text: &OsStr,
        mode: u32,
    ) -> Result<Made, FsError> {
        if text.is_empty() {
            return Err(FsError::NotFound);
        }
        let p = ctx.resolve(text);
        let attrs = Attrs {
            mode,
            ..Attrs::default()
        };
        let err = match ctx.vfs.mkdir(&p, &attrs).await {
            Ok(()) => {
                if self.verbose {
                    let _ = writeln!(out, "mkdir: created directory {}", quote(text));
                }
                return Ok(Made::Created);
            }
            Err(e) => e,
        };
        if matches!(err, FsError::Interrupted) {
            return Err(err);
        }
        match ctx.vfs.stat(&p).await {
            Ok(e) => Ok(Made::Exists(e.is_dir())),
            // A dangling symlink is there, but no directory can be made through it.
            Err(FsError::NotFound) if ctx.vfs.lstat(&p).await.is_ok() => Ok(Made::Exists(false)),
            Err(_) if matches!(err, FsError::NotFound | FsError::NotADirectory) => {
                Ok(Made::NoParent(err))
            }
            Err(_) => Err(err),
        }
    }
}

/// The levels of a path as typed, each a prefix of it: `a/b//c/` gives `a`, `a/b`, `a/b//c/`.
fn prefixes(text: &OsStr) -> Vec<&OsStr> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for i in 1..b.len() {
        let ends_component = b[i] == b'/' && b[i - 1] != b'/';
        let more_follows = b[i..].iter().any(|&c| c != b'/');
        if ends_component && more_follows {
            out.push(OsStr::from_bytes(&b[..i]));
        }
    }
    out.push(text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_of_a_path() {
        let p = |s: &str| -> Vec<String> {
            prefixes(OsStr::new(s))
                .iter()
                .map(|x| x.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(p("a"), ["a"]);
        assert_eq!(p("a/b//c/"), ["a", "a/b", "a/b//c/"]);
        assert_eq!(
            p("/containers/c/x"),
            ["/containers", "/containers/c", "/containers/c/x"]
        );
        assert_eq!(p("/"), ["/"]);
    }

    #[test]
    fn modes_from_the_command_line() {
        let v = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        let (o, dirs) = parse(v(&["-pm", "750", "x"])).unwrap();
        assert!(o.parents && !o.verbose);
        assert_eq!(o.mode, 0o750);
        assert_eq!(dirs, v(&["x"]));
        let (o, _) = parse(v(&["--mode=u=rwx,g=rx", "-v", "x"])).unwrap();
        assert_eq!(o.mode, 0o757); // o keeps a=rwx's bits, as GNU
        assert!(o.verbose);
        let (o, _) = parse(v(&["-m", "7777", "x"])).unwrap();
        assert_eq!(o.mode, 0o7777);
        let err = |a: &[&str]| parse(v(a)).err().map(|e| e.0);
        assert_eq!(err(&["-m", "bad", "x"]), Some("invalid mode 'bad'".into()));
        assert_eq!(err(&["-p"]), Some("missing operand".into()));
    }
}
