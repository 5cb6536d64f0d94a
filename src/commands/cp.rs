//! `cp`: copy between any two places dockerbox sees (the host, running and stopped containers),
//! streamed end to end, with GNU cp's options, decisions and messages.

use std::ffi::{OsStr, OsString};

use futures_util::future::LocalBoxFuture;

use super::cp_plan::{self, Node, Operand};
use super::{Args, Builtin, Out, UsageError};
use crate::context::{Context, Reporter};
use crate::exit_codes;
use crate::output::progress::Progress;
use crate::output::quote;
use crate::vfs::copy::{Copier, CopyOpts, CopyReport, Deref, Preserve};
use crate::vfs::{FsError, Kind};

pub struct Cmd;

/// Everything the command line asked for, before any I/O.
pub struct Config {
    pub opts: CopyOpts,
    pub no_target_dir: bool,
    pub target_dir: Option<OsString>,
    pub operands: Vec<OsString>,
}

/// Parses cp's options (also used by `mv`, which passes its own defaults).
pub fn parse(argv: Vec<OsString>) -> Result<Config, UsageError> {
    // `-t DIR` takes a value, which the small getopt does not: take it out first.
    let mut rest = Vec::new();
    let mut target_dir = None;
    let mut it = argv.into_iter();
    while let Some(a) = it.next() {
        if a == "-t" {
            target_dir = Some(
                it.next()
                    .ok_or_else(|| UsageError("option requires an argument -- 't'".into()))?,
            );
        } else if let Some(v) = a
            .to_str()
            .and_then(|s| s.strip_prefix("--target-directory="))
        {
            target_dir = Some(v.into());
        } else if a == "--" {
            rest.push(a);
            rest.extend(it.by_ref());
        } else {
            rest.push(a);
        }
    }
    let longs = [
        "recursive",
        "archive",
        "no-clobber",
        "force",
        "verbose",
        "no-target-directory",
        "dereference",
        "no-dereference",
        "preserve=",
        "parents",
    ];
    let a = Args::parse(rest, "rRaPLHpnfvTd", &longs)?;
    let long = |n: &str| a.long.iter().any(|(l, _)| l == n);
    let archive = a.has('a') || long("archive");
    let recursive = archive || a.has('r') || a.has('R') || long("recursive");
    let mut preserve = Preserve::default();
    let all = Preserve {
        mode: true,
        owner: true,
        times: true,
        links: true,
    };
    if archive {
        preserve = all;
    }
    if a.has('p') {
        preserve = Preserve {
            links: preserve.links,
            ..all
        };
    }
    for (n, v) in &a.long {
        if n == "preserve" {
            for item in v
                .as_deref()
                .unwrap_or("mode,ownership,timestamps")
                .split(',')
            {
                match item {
                    "mode" => preserve.mode = true,
                    "ownership" => preserve.owner = true,
                    "timestamps" => preserve.times = true,
                    "all" => preserve = all,
                    "links" => preserve.links = true,
                    "context" | "xattr" => {}
                    other => {
                        return Err(UsageError(format!(
                            "invalid argument '{other}' for '--preserve'"
                        )))
                    }
                }
            }
        }
    }
    let deref = match a.last_of("PLHda") {
        Some('L') => Deref::Always,
        Some('H') => Deref::CommandLine,
        Some(_) => Deref::Never,
        None if long("dereference") => Deref::Always,
        None if long("no-dereference") || recursive => Deref::Never,
        None => Deref::CommandLine,
    };
    let umask = super::common::umask();
    Ok(Config {
        opts: CopyOpts {
            recursive,
            deref,
            preserve,
            no_clobber: a.last_of("nf") == Some('n') || long("no-clobber"),
            verbose: a.has('v') || long("verbose"),
            umask,
        },
        no_target_dir: a.has('T') || long("no-target-directory"),
        target_dir,
        operands: a.operands,
    })
}

impl Builtin for Cmd {
    fn name(&self) -> &'static str {
        "cp"
    }
    fn about(&self) -> &'static str {
        "copy files and trees between containers (running or stopped) and the host"
    }
    fn usage(&self) -> &'static str {
        "cp [OPTION]... SRC DST | SRC... DIR | -t DIR SRC...\n  -r, -R  copy directories recursively\n  -a      archive: -R, symlinks as symlinks, keep mode, owner and times\n  -p      keep mode, owner and times\n  -n      do not overwrite\n  -f      overwrite (the default)\n  -v      say what is copied\n  -T      treat DST as a file, never as a directory to copy into\n  -t DIR  copy into DIR\n  -L      follow symlinks in SRC; -P never (default with -r); -H only on the command line"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let cfg = match parse(args) {
                Ok(c) => c,
                Err(e) => return ctx.usage(e),
            };
            run(ctx, cfg, out).await
        })
    }
}

/// Looks up what an operand is, the way cp's decisions need it.
pub async fn operand(ctx: &Context, text: &OsString, follow: bool) -> Operand {
    let p = ctx.resolve(text);
    let found = if follow {
        ctx.vfs.stat(&p).await
    } else {
        ctx.vfs.lstat(&p).await
    };
    let node = match found {
        Ok(e) => match e.kind {
            Kind::Dir => Node::Dir,
            Kind::File => Node::File,
            Kind::Symlink => Node::Symlink,
            _ => Node::Other,
        },
        // A dangling symlink is not "missing": cp must not write through it.
        Err(FsError::NotFound) if follow && ctx.vfs.lstat(&p).await.is_ok() => Node::Symlink,
        Err(FsError::NotFound) => Node::Missing,
        Err(_) => Node::Other,
    };
    Operand {
        text: text.clone(),
        node,
    }
}

/// Why the destination cannot be looked at when the reason is its container or engine (gone,
/// unreachable), which GNU's decisions know nothing of: said as it is, instead of the "Not a
/// directory" those decisions would give a place that is not a directory.
pub async fn unreachable(ctx: &Context, dest: &Operand) -> Option<FsError> {
    if dest.node != Node::Other {
        return None;
    }
    match ctx.vfs.stat(&ctx.resolve(&dest.text)).await {
        Err(
            e @ (FsError::NoSuchContainer
            | FsError::Unreachable { .. }
            | FsError::Ambiguous(_)
            | FsError::Engine(_)),
        ) => Some(e),
        _ => None,
    }
}

/// Reports a problem with the whole command line (for cp and mv); returns the status.
pub fn fatal(ctx: &Context, f: &cp_plan::Fatal) -> i32 {
    if f.usage {
        return ctx.usage(&f.message);
    }
    ctx.fail(&f.message);
    exit_codes::FAILURE
}

/// Where the copy walk's reports go for cp and mv: failures to the command's reporter (after
/// clearing the progress bar), `-v` lines to its stdout, bytes and files to the bar.
pub struct Shown<'a> {
    errors: &'a Reporter,
    out: &'a mut Out,
    pub progress: Progress,
}

impl<'a> Shown<'a> {
    /// `total`: the bytes to copy, when known (a single file).
    pub fn new(ctx: &'a Context, out: &'a mut Out, total: Option<u64>) -> Shown<'a> {
        Shown {
            errors: &ctx.errors,
            out,
            progress: Progress::new(total, ctx.errors.is_own_terminal()),
        }
    }
}

impl CopyReport for Shown<'_> {
    fn quote(&self, name: &OsStr) -> String {
        quote(name)
    }
    fn error(&mut self, msg: &str) {
        self.progress.finish();
        self.errors.error(msg);
    }
    fn copied(&mut self, src: &OsStr, dst: &OsStr) {
        let _ = writeln!(self.out, "{} -> {}", quote(src), quote(dst));
    }
    fn bytes(&mut self, n: u64) {
        self.progress.add_bytes(n);
    }
    fn file_done(&mut self) {
        self.progress.file_done();
    }
}

/// Plans and performs the copies; returns the exit status.
pub async fn run(ctx: &Context, cfg: Config, out: &mut Out) -> i32 {
    let (operands, dest_text) = match cp_plan::split_operands(
        &cfg.operands,
        cfg.target_dir.as_deref(),
        cfg.no_target_dir,
    ) {
        Ok(split) => split,
        Err(f) => return fatal(ctx, &f),
    };
    let follow_top = cfg.opts.deref != Deref::Never;
    let mut sources = Vec::new();
    for s in operands {
        sources.push(operand(ctx, s, follow_top).await);
    }
    let dest_text = dest_text.to_os_string();
    let dest = operand(ctx, &dest_text, true).await;
    if let Some(e) = unreachable(ctx, &dest).await {
        ctx.fail(format_args!("cannot stat {}: {e}", quote(&dest_text)));
        return exit_codes::FAILURE;
    }
    let popts = cp_plan::Opts {
        recursive: cfg.opts.recursive,
        no_target_dir: cfg.no_target_dir,
        target_dir_given: cfg.target_dir.is_some(),
    };
    let (steps, skips) = match cp_plan::plan(&sources, &dest, popts) {
        Ok(p) => p,
        Err(f) => return fatal(ctx, &f),
    };
    let mut failed = false;
    for s in &skips {
        // A source named twice is only a warning, as with GNU cp.
        if s.warning {
            ctx.errors.note(&s.message);
        } else {
            ctx.fail(&s.message);
            failed = true;
        }
    }
    let total = match steps.as_slice() {
        [one] if sources.get(one.src).is_some_and(|s| s.node == Node::File) => ctx
            .vfs
            .stat(&ctx.resolve(&sources[one.src].text))
            .await
            .ok()
            .map(|e| e.size),
        _ => None,
    };
    let mut shown = Shown::new(ctx, out, total);
    let mut copier = Copier::new(&ctx.vfs, cfg.opts, &mut shown);
    for step in &steps {
        let Some(src) = sources.get(step.src) else {
            continue;
        };
        let (sp, dp) = (ctx.resolve(&src.text), ctx.resolve(&step.dest));
        copier.copy(&sp, &src.text, &dp, &step.dest, true).await;
        if crate::interrupt::is_set() {
            break;
        }
    }
    let copy_failed = copier.failed;
    shown.progress.finish();
    if failed || copy_failed {
        exit_codes::FAILURE
    } else {
        exit_codes::OK
    }
}
