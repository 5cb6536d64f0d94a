//! `du`: GNU du's `-a -s -c -h --max-depth` (`-d`), disk usage from `st_blocks`, each inode
//! once, directories after their contents; run by the agent in each running container named
//! (only the lines cross the wire) and here elsewhere, with the same code (dockerbox-search).
//! `-c`'s total adds up every operand's, wherever it was counted. Other options run the
//! host's du when every operand is a host path.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use dockerbox_proto::Tool;
use dockerbox_search::args::ArgError;
use dockerbox_search::du as d;
use futures_util::future::LocalBoxFuture;

use super::searching;
use super::{Builtin, Out};
use crate::context::Context;
use crate::exit_codes;
use crate::vfs::search::Event;
use crate::vfs::FsError;

pub struct Cmd;

/// GNU du's options that take a value (for the host fallback).
const VALUES: &[u8] = b"BdtX";
const LONG_VALUES: &[&str] = &[
    "block-size",
    "max-depth",
    "threshold",
    "exclude",
    "exclude-from",
    "files0-from",
    "time",
    "time-style",
];

/// Whether the host's du runs `argv` (an option we lack, only host paths).
pub fn host_runs(cwd: &std::path::Path, argv: &[OsString]) -> bool {
    let raw: Vec<Vec<u8>> = argv.iter().map(|a| a.as_bytes().to_vec()).collect();
    matches!(d::parse(&raw), Err(ArgError::Unknown(_)))
        && searching::host_runs(cwd, argv, VALUES, LONG_VALUES, false)
}

impl Builtin for Cmd {
    fn name(&self) -> &'static str {
        "du"
    }
    fn about(&self) -> &'static str {
        "disk usage of files and directories, counted inside the containers"
    }
    fn usage(&self) -> &'static str {
        "du [-ascH] [-h] [-d N|--max-depth=N] [FILE]...\n  \
         GNU du. In running containers the agent counts and sends only the lines printed;\n  \
         stopped containers are counted from the archive API's listing. Other options run\n  \
         the host's du when every FILE is a host path."
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(du(ctx, args, out))
    }
}

async fn du(ctx: &mut Context, args: Vec<OsString>, out: &mut Out) -> i32 {
    let argv: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    let (o, mut operands) = match searching::parsed(ctx, d::parse(&argv), exit_codes::FAILURE) {
        Ok(p) => p,
        Err(status) => return status,
    };
    if operands.is_empty() {
        operands.push(b".".to_vec());
    }
    let args = o.to_args();
    let mut jobs = Vec::new();
    for batch in searching::batches(ctx, &operands).await {
        let o = o.clone();
        jobs.push(searching::job(ctx, batch, move |fs, roots, sink| {
            let (total, ok) = d::run(&o, fs, roots, sink);
            (ok, total)
        }));
    }
    let (mut failed, mut sum) = (false, 0u64);
    let r = searching::run(jobs, Tool::Du, &args, |ev| match ev {
        Event::Out(data) => searching::write_out(ctx, out, &data, &mut failed),
        Event::Problem(path, errno, dir) => {
            failed = true;
            let name = ctx.errors.name(OsStr::from_bytes(&path));
            let what = if dir {
                format!("cannot read directory '{name}'")
            } else {
                format!("cannot access '{name}'")
            };
            ctx.complain(&what, &FsError::errno_error(errno));
            true
        }
        Event::Failed(path, e) => {
            failed = true;
            let name = ctx.errors.name(OsStr::from_bytes(&path));
            ctx.complain(&format!("cannot access '{name}'"), &e);
            true
        }
        Event::Done(_, total) => {
            sum += total;
            true
        }
        Event::Note(..) => true,
    })
    .await;
    if r.is_err() {
        return exit_codes::INTERRUPTED;
    }
    if o.total {
        let line = format!("{}\ttotal\n", d::size(sum, o.human));
        if out.write_all(line.as_bytes()).is_err() {
            return exit_codes::OK;
        }
    }
    if failed {
        exit_codes::FAILURE
    } else {
        exit_codes::OK
    }
}
