//! `find`: GNU find's `-P` walk with `-name -iname -type -size -mtime -newer -maxdepth
//! -mindepth -print -print0` and `! -a -o ( )`, run by the agent in each running container
//! named (only the names found cross the wire) and here elsewhere, with the same code
//! (dockerbox-search), GNU's order and output. Other primaries and `-L`/`-H` run the host's
//! find when every path is a host path.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use dockerbox_proto::Tool;
use dockerbox_search::args::ArgError;
use dockerbox_search::find as f;
use futures_util::future::LocalBoxFuture;

use super::searching;
use super::{Builtin, Out};
use crate::context::Context;
use crate::exit_codes;
use crate::vfs::search::Event;
use crate::vfs::FsError;

pub struct Cmd;

/// Whether the host's find runs `argv` (a primary or option we lack, only host paths).
pub fn host_runs(cwd: &std::path::Path, argv: &[OsString]) -> bool {
    let raw: Vec<Vec<u8>> = argv.iter().map(|a| a.as_bytes().to_vec()).collect();
    let unknown = match f::parse(&raw, 0) {
        Err(ArgError::Unknown(_)) => true,
        // -newer is turned into a time by the builtin; anything else parses.
        _ => false,
    };
    if !unknown {
        return false;
    }
    let skip = raw
        .iter()
        .take_while(|a| matches!(a.as_slice(), b"-H" | b"-L" | b"-P"))
        .count();
    let paths: Vec<&[u8]> = raw[skip..]
        .iter()
        .take_while(|a| !((a.len() > 1 && a[0] == b'-') || *a == b"(" || *a == b"!"))
        .map(Vec::as_slice)
        .collect();
    let paths: &[&[u8]] = if paths.is_empty() { &[b"."] } else { &paths };
    paths.iter().all(|p| {
        matches!(
            crate::vfs::VPath::resolve(cwd, OsStr::from_bytes(p)),
            crate::vfs::VPath::Host(_)
        )
    })
}

impl Builtin for Cmd {
    fn name(&self) -> &'static str {
        "find"
    }
    fn about(&self) -> &'static str {
        "search for files by name, type, size or age, inside the containers"
    }
    fn usage(&self) -> &'static str {
        "find [PATH]... [EXPRESSION]\n  \
         GNU find -P with -name -iname -type -size -mtime -newer -maxdepth -mindepth -print\n  \
         -print0 and ! -not -a -and -o -or ( ). In running containers the agent walks and\n  \
         sends only what is printed. Other primaries run the host's find on host paths."
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(find(ctx, args, out))
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `'NAME'` as GNU find quotes a name in its messages.
fn quoted(ctx: &Context, name: &[u8]) -> String {
    format!("'{}'", ctx.errors.name(OsStr::from_bytes(name)))
}

async fn find(ctx: &mut Context, args: Vec<OsString>, out: &mut Out) -> i32 {
    let mut argv: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    if argv.first().is_some_and(|a| a == b"-P") {
        argv.remove(0);
    }
    // `-newer FILE`: the file may be anywhere in the namespace, so its time is taken here.
    for i in f::newer_refs(&argv) {
        let r = OsStr::from_bytes(&argv[i]).to_os_string();
        match ctx.vfs.mtime_exact(&ctx.resolve(&r)).await {
            Ok((s, ns)) => {
                argv[i - 1] = b"-newermt".to_vec();
                argv[i] = format!("@{s}.{ns:09}").into_bytes();
            }
            Err(e) => {
                ctx.complain(&quoted(ctx, r.as_bytes()), &e);
                return exit_codes::FAILURE;
            }
        }
    }
    let mut spec = match f::parse(&argv, now()) {
        Ok(s) => s,
        Err(ArgError::Unknown(opt)) => {
            ctx.fail(format!(
                "'{opt}' is not supported on paths inside containers"
            ));
            return exit_codes::FAILURE;
        }
        Err(ArgError::Usage(m)) => {
            ctx.fail(m);
            return exit_codes::FAILURE;
        }
    };
    // GNU find warns only when its standard input is a terminal.
    if ctx.stdin.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        for w in &spec.warnings {
            ctx.errors.note(w);
        }
    }
    spec.tty = ctx.stdout_tty;
    let mut args = spec.expr_args.clone();
    if spec.tty {
        args.insert(0, b"-dbx-tty".to_vec());
    }
    let mut jobs = Vec::new();
    for batch in searching::batches(ctx, &spec.paths).await {
        let spec = spec.clone();
        jobs.push(searching::job(ctx, batch, move |fs, roots, sink| {
            (f::run(&spec, fs, roots, sink), 0)
        }));
    }
    let mut failed = false;
    let r = searching::run(jobs, Tool::Find, &args, |ev| match ev {
        Event::Out(data) => searching::write_out(ctx, out, &data, &mut failed),
        Event::Problem(path, errno, _) => {
            failed = true;
            ctx.complain(&quoted(ctx, &path), &FsError::errno_error(errno));
            true
        }
        Event::Failed(path, e) => {
            failed = true;
            ctx.complain(&quoted(ctx, &path), &e);
            true
        }
        Event::Note(..) | Event::Done(..) => true,
    })
    .await;
    if r.is_err() {
        return exit_codes::INTERRUPTED;
    }
    if failed {
        exit_codes::FAILURE
    } else {
        exit_codes::OK
    }
}
