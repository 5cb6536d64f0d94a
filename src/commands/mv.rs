//! `mv`: rename within one filesystem (one container, or the host); across them, copy
//! everything (as `cp -a`) and then remove the source.

use std::ffi::OsString;

use futures_util::future::LocalBoxFuture;

use super::cp::{self, Config};
use super::cp_plan;
use super::{Builtin, Out};
use crate::context::Context;
use crate::exit_codes;
use crate::output::quote;
use crate::vfs::copy::{Copier, CopyOpts, Deref, Preserve};
use crate::vfs::FsError;

pub struct Cmd;

impl Builtin for Cmd {
    fn name(&self) -> &'static str {
        "mv"
    }
    fn about(&self) -> &'static str {
        "move or rename files, within or across containers and the host"
    }
    fn usage(&self) -> &'static str {
        "mv [-fnvT] SRC DST | SRC... DIR | -t DIR SRC...\n  -n  do not overwrite\n  -f  overwrite (the default)\n  -v  say what is moved\n  -T  treat DST as a file\n  -t DIR  move into DIR"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            // mv takes cp's syntax for the operands; -r/-a are implied, not options.
            if let Some(bad) = args.iter().find(|a| {
                let b = a.as_encoded_bytes();
                b.len() > 1
                    && b[0] == b'-'
                    && b[1] != b'-'
                    && b[1..].iter().any(|c| !b"fnvTt".contains(c))
            }) {
                let c = bad.as_encoded_bytes()[1..]
                    .iter()
                    .find(|c| !b"fnvTt".contains(c))
                    .copied()
                    .unwrap_or(b'?');
                return ctx.usage(super::UsageError(format!(
                    "invalid option -- '{}'",
                    c as char
                )));
            }
            let cfg = match cp::parse(args) {
                Ok(c) => c,
                Err(e) => return ctx.usage(e),
            };
            run(ctx, cfg, out).await
        })
    }
}

async fn run(ctx: &Context, cfg: Config, out: &mut Out) -> i32 {
    let (operands, dest_text) = match cp_plan::split_operands(
        &cfg.operands,
        cfg.target_dir.as_deref(),
        cfg.no_target_dir,
    ) {
        Ok(split) => split,
        Err(f) => return cp::fatal(ctx, &f),
    };
    let mut sources = Vec::new();
    for s in operands {
        sources.push(cp::operand(ctx, s, false).await);
    }
    let dest_text = dest_text.to_os_string();
    let dest = cp::operand(ctx, &dest_text, true).await;
    if let Some(e) = cp::unreachable(ctx, &dest).await {
        ctx.fail(format_args!("cannot stat {}: {e}", quote(&dest_text)));
        return exit_codes::FAILURE;
    }
    let popts = cp_plan::Opts {
        recursive: true,
        no_target_dir: cfg.no_target_dir,
        target_dir_given: cfg.target_dir.is_some(),
    };
    let (steps, skips) = match cp_plan::plan(&sources, &dest, popts) {
        Ok(p) => p,
        Err(f) => return cp::fatal(ctx, &f),
    };
    let mut ok = true;
    for s in &skips {
        if s.warning {
            ctx.errors.note(&s.message);
        } else {
            ctx.fail(&s.message);
            ok = false;
        }
    }
    for step in &steps {
        let Some(src) = sources.get(step.src) else {
            continue;
        };
        let (sp, dp) = (ctx.resolve(&src.text), ctx.resolve(&step.dest));
        if cfg.opts.no_clobber && ctx.vfs.lstat(&dp).await.is_ok() {
            continue;
        }
        match ctx.vfs.rename(&sp, &dp).await {
            Ok(()) => {}
            Err(FsError::Io(e)) if e.raw_os_error() == Some(libc::EXDEV) => {
                // Another filesystem: copy everything, then remove the source.
                let opts = CopyOpts {
                    recursive: true,
                    deref: Deref::Never,
                    preserve: Preserve {
                        mode: true,
                        owner: true,
                        times: true,
                        links: true,
                    },
                    no_clobber: cfg.opts.no_clobber,
                    verbose: false,
                    umask: cfg.opts.umask,
                };
                let mut shown = cp::Shown::new(ctx, out, None);
                let mut copier = Copier::new(&ctx.vfs, opts, &mut shown);
                let copied = copier.copy(&sp, &src.text, &dp, &step.dest, true).await;
                if !copied || copier.failed {
                    ok = false;
                    continue;
                }
                shown.progress.finish();
                if !super::rm::remove_tree(ctx, &sp, &src.text).await {
                    ok = false;
                    continue;
                }
            }
            Err(e) => {
                ctx.fail(format_args!(
                    "cannot move {} to {}: {e}",
                    quote(&src.text),
                    quote(&step.dest)
                ));
                ok = false;
                continue;
            }
        }
        if cfg.opts.verbose {
            let _ = writeln!(out, "renamed {} -> {}", quote(&src.text), quote(&step.dest));
        }
        if crate::interrupt::is_set() {
            break;
        }
    }
    if ok {
        exit_codes::OK
    } else {
        exit_codes::FAILURE
    }
}
