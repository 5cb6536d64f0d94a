//! `ls`: list directories anywhere in the namespace, as coreutils does.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;

use super::{Args, Builtin, Out};
use crate::context::Context;
use crate::exit_codes;
use crate::output::grid::{render_grid, render_lines};
use crate::output::long::{render_long, LongOpts};
use crate::output::{terminal_width, Layout};
use crate::vfs::path::join_bytes;
use crate::vfs::{Entry, FsError, Kind, VPath};

pub struct Ls;

/// What the flags asked for.
struct Config {
    layout: Layout,
    /// `-a` (with `.` and `..`) or `-A` (without).
    all: Option<bool>,
    dirs_as_files: bool,
    recursive: bool,
    /// `-t`: newest first (ties by name), e.g. `ls -lt /meta/containers` by last change.
    by_time: bool,
    /// `-r`: the order reversed.
    reverse: bool,
    long: LongOpts,
    operands: Vec<OsString>,
}

impl Config {
    fn from(a: Args, tty: bool) -> Config {
        let layout = match a.last_of("l1") {
            Some('l') => Layout::Long,
            Some(_) => Layout::Lines,
            None if tty => Layout::Grid {
                width: terminal_width(),
            },
            None => Layout::Lines,
        };
        let all = match a.last_of("aA") {
            Some('a') => Some(true),
            Some(_) => Some(false),
            None => None,
        };
        let mut operands = a.operands.clone();
        if operands.is_empty() {
            operands.push(".".into());
        }
        Config {
            layout,
            all,
            dirs_as_files: a.has('d'),
            recursive: a.has('R'),
            by_time: a.has('t'),
            reverse: a.has('r'),
            long: LongOpts { human: a.has('h') },
            operands,
        }
    }
}

impl Builtin for Ls {
    fn name(&self) -> &'static str {
        "ls"
    }
    fn about(&self) -> &'static str {
        "list directory contents: containers, their files, or the host's"
    }
    fn usage(&self) -> &'static str {
        "ls [-laA1dhRtr] [PATH]...\n  -l  long listing (in /containers: state, image, ID, created, name)\n  -a  include names starting with '.', and . and ..\n  -A  like -a, without . and ..\n  -1  one name per line\n  -d  list directories themselves, not their contents\n  -h  sizes like 1.5K 12M (with -l)\n  -R  list subdirectories recursively\n  -t  newest first (by modification time)\n  -r  reverse the order"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let args = match Args::parse(args, "laA1dhRtr", &[]) {
                Ok(a) => a,
                Err(e) => return ctx.usage(e),
            };
            let cfg = Config::from(args, ctx.stdout_tty);
            match run(ctx, &cfg, out).await {
                Ok(status) => status,
                Err(e) if e.is_broken_pipe() => exit_codes::OK,
                Err(e) => {
                    ctx.report(OsStr::new("write error"), &e);
                    exit_codes::FAILURE
                }
            }
        })
    }
}

/// Lists every operand; an `Err` is a failure to write output, everything else is reported
/// per operand and shows in the status.
async fn run(ctx: &Context, cfg: &Config, out: &mut Out) -> Result<i32, FsError> {
    let mut status = exit_codes::OK;
    let mut files: Vec<(VPath, Entry)> = Vec::new();
    let mut dirs: Vec<(OsString, VPath)> = Vec::new();
    let long = cfg.layout == Layout::Long;
    for op in &cfg.operands {
        let p = ctx.resolve(op);
        let looked = if cfg.dirs_as_files {
            ctx.vfs.lstat_with(&p, long).await
        } else {
            match ctx.vfs.stat(&p).await {
                Ok(e) if e.is_dir() => {
                    // As GNU ls: with -l a symlink operand to a directory shows the link
                    // itself (`ls -l /lib`), unless a trailing slash asks for the target.
                    let link = match long && !op.as_bytes().ends_with(b"/") {
                        true => ctx.vfs.lstat_with(&p, true).await.ok(),
                        false => None,
                    };
                    match link.filter(|l| l.kind == Kind::Symlink) {
                        Some(l) => Ok(l),
                        None => {
                            dirs.push((op.clone(), p));
                            continue;
                        }
                    }
                }
                Ok(e) if long || e.kind == Kind::Symlink => ctx.vfs.lstat_with(&p, true).await,
                Ok(e) if p.is_virtual() => Ok(e),
                Ok(_) => ctx.vfs.lstat_with(&p, long).await,
                Err(e) => Err(e),
            }
        };
        match looked {
            Ok(mut e) => {
                e.name = op.clone();
                files.push((p, e));
            }
            Err(e) => {
                ctx.report(op, &e);
                status = exit_codes::USAGE;
            }
        }
    }
    files.sort_by(|a, b| a.1.name.as_bytes().cmp(b.1.name.as_bytes()));
    dirs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    if cfg.by_time {
        files.sort_by_key(|f| std::cmp::Reverse(f.1.mtime));
    }
    if cfg.reverse {
        files.reverse();
        dirs.reverse();
    }

    let mut first = true;
    if !files.is_empty() {
        let owners_of = files
            .first()
            .map(|(p, _)| p.clone())
            .unwrap_or(VPath::Containers);
        let entries: Vec<Entry> = files.into_iter().map(|(_, e)| e).collect();
        print(ctx, cfg, out, &owners_of, &entries, false).await?;
        first = false;
    }
    let headers = cfg.operands.len() > 1 || cfg.recursive;
    let mut queue: std::collections::VecDeque<(OsString, VPath)> = dirs.into();
    while let Some((shown, p)) = queue.pop_front() {
        if crate::interrupt::is_set() {
            return Err(FsError::Interrupted);
        }
        if !first {
            out.write_all(b"\n").map_err(FsError::Io)?;
        }
        first = false;
        if headers {
            out.write_all(&crate::output::display_name(&shown, ctx.stdout_tty))
                .map_err(FsError::Io)?;
            out.write_all(b":\n").map_err(FsError::Io)?;
        }
        let list = match listing(ctx, cfg, &p).await {
            Ok(l) => l,
            Err(e) => {
                ctx.report(&shown, &e);
                // An engine that does not answer is an unreadable directory: 1, as GNU ls.
                let unreadable = headers || matches!(e, FsError::Unreachable { .. });
                status = status.max(if unreadable {
                    exit_codes::FAILURE
                } else {
                    exit_codes::USAGE
                });
                continue;
            }
        };
        print(ctx, cfg, out, &p, &list, true).await?;
        if cfg.recursive {
            // Depth first, like GNU ls: children go to the front in listing order.
            let subdirs: Vec<_> = list
                .iter()
                .filter(|e| e.kind == Kind::Dir && e.name != "." && e.name != "..")
                .map(|e| {
                    let shown = join_bytes(shown.as_ref(), e.name.as_bytes()).into_os_string();
                    let p = VPath::parse(&join_bytes(&p.to_path(), e.name.as_bytes()));
                    (shown, p)
                })
                .collect();
            for d in subdirs.into_iter().rev() {
                queue.push_front(d);
            }
        }
    }
    Ok(status)
}

/// The sorted, filtered entries of one directory, with `.` and `..` under `-a`.
async fn listing(ctx: &Context, cfg: &Config, p: &VPath) -> Result<Vec<Entry>, FsError> {
    let all = ctx.vfs.read_dir_with(p, cfg.layout == Layout::Long).await?;
    let mut list: Vec<Entry> = all
        .iter()
        .filter(|e| cfg.all.is_some() || !e.name.as_bytes().starts_with(b"."))
        .cloned()
        .collect();
    list.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    order(cfg, &mut list);
    if cfg.all == Some(true) {
        let mut dots = Vec::new();
        for (name, path) in [
            (".", p.clone()),
            ("..", VPath::parse(&p.to_path().join(".."))),
        ] {
            let mut e = ctx
                .vfs
                .stat(&path)
                .await
                .unwrap_or_else(|_| Entry::new(name, Kind::Dir));
            e.name = name.into();
            e.container = None;
            if name == "." && p.is_virtual() {
                // Backends that cannot stat link counts still know this one: 2 + subdirectories.
                e.nlink = 2 + list.iter().filter(|e| e.is_dir()).count() as u64;
            }
            dots.push(e);
        }
        dots.extend(list);
        list = dots;
    }
    Ok(list)
}

/// `-t` and `-r` applied to entries sorted by name: newest first (a stable sort, so ties stay
/// by name), then reversed.
fn order(cfg: &Config, list: &mut [Entry]) {
    if cfg.by_time {
        list.sort_by_key(|e| std::cmp::Reverse(e.mtime));
    }
    if cfg.reverse {
        list.reverse();
    }
}

async fn print(
    ctx: &Context,
    cfg: &Config,
    out: &mut Out,
    p: &VPath,
    entries: &[Entry],
    is_dir: bool,
) -> Result<(), FsError> {
    let theme = &ctx.theme;
    let tty = ctx.stdout_tty;
    match cfg.layout {
        Layout::Grid { width } => render_grid(out, entries, theme, tty, width),
        Layout::Lines => render_lines(out, entries, theme, tty),
        Layout::Long => {
            let owners = match p {
                VPath::Containers | VPath::Engine(_) => Arc::new(Default::default()),
                p => ctx.vfs.owners(p).await,
            };
            // Docker objects (images, volumes, projects) take no blocks: no total for them.
            let objects = entries.iter().any(|e| e.object.is_some());
            if is_dir && !objects && !matches!(p, VPath::Containers | VPath::Engine(_)) {
                let total: u64 = entries.iter().map(|e| e.blocks_k).sum();
                writeln!(out, "total {total}").map_err(FsError::Io)?;
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            render_long(out, entries, &owners, theme, tty, cfg.long, now)
        }
    }
    .map_err(FsError::Io)
}
