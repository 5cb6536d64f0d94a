//! `rm`: remove files and (with `-r`) directory trees, anywhere in the namespace.

use std::ffi::{OsStr, OsString};
use std::io::BufRead;
use std::os::unix::ffi::OsStrExt;

use futures_util::future::LocalBoxFuture;

use super::{Args, Builtin, Out};
use crate::context::Context;
use crate::exit_codes;
use crate::output::quote;
use crate::vfs::path::join_bytes;
use crate::vfs::{FsError, Kind, VPath};

pub struct Cmd;

/// What the flags asked for.
struct Config {
    recursive: bool,
    force: bool,
    interactive: bool,
    empty_dirs: bool,
    verbose: bool,
}

impl Builtin for Cmd {
    fn name(&self) -> &'static str {
        "rm"
    }
    fn about(&self) -> &'static str {
        "remove files or directories, in containers or on the host"
    }
    fn usage(&self) -> &'static str {
        "rm [-rRfidv] FILE...\n  -r, -R  remove directories and their contents\n  -f      ignore missing files, never prompt\n  -i      prompt before every removal\n  -d      remove empty directories\n  -v      say what is removed"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let a = match Args::parse(
                args,
                "rRfidv",
                &["recursive", "force", "interactive", "dir", "verbose"],
            ) {
                Ok(a) => a,
                Err(e) => return ctx.usage(e),
            };
            let long = |n: &str| a.long.iter().any(|(l, _)| l == n);
            let cfg = Config {
                recursive: a.has('r') || a.has('R') || long("recursive"),
                force: a.last_of("fi") == Some('f') || long("force"),
                interactive: a.last_of("fi") == Some('i') || long("interactive"),
                empty_dirs: a.has('d') || long("dir"),
                verbose: a.has('v') || long("verbose"),
            };
            if a.operands.is_empty() {
                if cfg.force {
                    return exit_codes::OK;
                }
                return ctx.usage("missing operand");
            }
            let mut ok = true;
            for op in &a.operands {
                let base = op
                    .as_bytes()
                    .rsplit(|&b| b == b'/')
                    .find(|s| !s.is_empty())
                    .unwrap_or(b"");
                if base == b"." || base == b".." {
                    ctx.fail(format_args!(
                        "refusing to remove '.' or '..' directory: skipping {}",
                        quote(op)
                    ));
                    ok = false;
                    continue;
                }
                let p = ctx.resolve(op);
                if matches!(&p, VPath::Host(h) if h.as_os_str() == "/")
                    || matches!(p, VPath::Containers | VPath::Engine(_))
                    || is_container_root(&p)
                {
                    ctx.fail(format_args!(
                        "it is dangerous to operate recursively on {}",
                        quote(op)
                    ));
                    ctx.fail("use a container tool to remove a container");
                    ok = false;
                    continue;
                }
                ok &= remove(ctx, &cfg, &p, op, out).await;
                if crate::interrupt::is_set() {
                    break;
                }
            }
            if ok {
                exit_codes::OK
            } else {
                exit_codes::FAILURE
            }
        })
    }
}

/// Removes a whole tree without asking (`rm -rf`), for `mv` across filesystems.
pub async fn remove_tree(ctx: &Context, p: &VPath, shown: &OsStr) -> bool {
    let cfg = Config {
        recursive: true,
        force: true,
        interactive: false,
        empty_dirs: false,
        verbose: false,
    };
    remove(ctx, &cfg, p, shown, &mut std::io::sink()).await
}

fn is_container_root(p: &VPath) -> bool {
    matches!(p, VPath::Container { path, .. } if path.as_os_str() == "/")
}

/// Removes one path (a tree with `-r`); reports failures; false when something failed.
fn remove<'a>(
    ctx: &'a Context,
    cfg: &'a Config,
    p: &'a VPath,
    shown: &'a OsStr,
    out: &'a mut Out,
) -> LocalBoxFuture<'a, bool> {
    Box::pin(async move {
        let e = match ctx.vfs.lstat(p).await {
            Ok(e) => e,
            Err(FsError::NotFound) if cfg.force => return true,
            Err(e) => {
                ctx.fail(format_args!("cannot remove {}: {e}", quote(shown)));
                return false;
            }
        };
        if e.kind == Kind::Dir {
            if !cfg.recursive && !cfg.empty_dirs {
                ctx.fail(format_args!(
                    "cannot remove {}: Is a directory",
                    quote(shown)
                ));
                return false;
            }
            if cfg.recursive {
                if cfg.interactive && !ask(ctx, &format!("descend into directory {}", quote(shown)))
                {
                    return true;
                }
                let children = match ctx.vfs.read_dir(p).await {
                    Ok(c) => c,
                    Err(err) => {
                        ctx.fail(format_args!("cannot remove {}: {err}", quote(shown)));
                        return false;
                    }
                };
                let mut ok = true;
                for c in children.iter() {
                    let cp = VPath::parse(&join_bytes(&p.to_path(), c.name.as_bytes()));
                    let cs = join_bytes(shown.as_ref(), c.name.as_bytes()).into_os_string();
                    ok &= remove(ctx, cfg, &cp, &cs, out).await;
                    if crate::interrupt::is_set() {
                        return false;
                    }
                }
                if !ok {
                    return false;
                }
            }
            if cfg.interactive && !ask(ctx, &format!("remove directory {}", quote(shown))) {
                return true;
            }
            return done(
                ctx,
                ctx.vfs.remove(p, true).await,
                cfg,
                shown,
                "removed directory",
                out,
            );
        }
        if cfg.interactive {
            let what = match e.kind {
                Kind::File if e.size == 0 => "regular empty file",
                Kind::File => "regular file",
                Kind::Symlink => "symbolic link",
                _ => "file",
            };
            if !ask(ctx, &format!("remove {what} {}", quote(shown))) {
                return true;
            }
        }
        done(
            ctx,
            ctx.vfs.remove(p, false).await,
            cfg,
            shown,
            "removed",
            out,
        )
    })
}

fn done(
    ctx: &Context,
    r: Result<(), FsError>,
    cfg: &Config,
    shown: &OsStr,
    what: &str,
    out: &mut Out,
) -> bool {
    match r {
        Ok(()) => {
            if cfg.verbose {
                let _ = writeln!(out, "{what} {}", quote(shown));
            }
            true
        }
        Err(FsError::NotFound) if cfg.force => true,
        Err(e) => {
            ctx.fail(format_args!("cannot remove {}: {e}", quote(shown)));
            false
        }
    }
}

/// Asks on stderr, reads a line from stdin: yes when it starts with y or Y.
fn ask(ctx: &Context, question: &str) -> bool {
    ctx.errors.prompt(question);
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim_start().starts_with(['y', 'Y'])
}
