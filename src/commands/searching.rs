//! What grep, find and du share: operands searched in their container's agent or walked
//! here, run several at once but reported in operand order (as GNU's one process would print
//! them), each job's events through a queue bounded in bytes so memory stays flat; and the
//! rule for options we do not implement (the host's program when every operand is a host
//! path).

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use dockerbox_proto::Tool;
use dockerbox_search::args::ArgError;
use dockerbox_search::walk::{Fs, Root};

use crate::context::Context;
use crate::host::AgentConn;
use crate::interrupt;
use crate::vfs::search::{
    events, in_agent, Direct, DirectWalk, Event, EventSink, Events, EventsRx, NamespaceFs,
    Searcher, ShareBasis,
};
use crate::vfs::{FsError, VPath};

/// How many operands are searched at once (the rest wait their turn).
const PARALLEL: usize = 16;

/// The search of one run of operands that the same searcher serves.
pub enum Job {
    /// In the agent of their container.
    Agent(Arc<AgentConn>, Vec<Root>),
    /// Here, on a blocking thread.
    Here(Walk),
    /// A task of its own giving its events (a grep shared between agents).
    Task(Task),
}

/// A job's own task, given where its events go.
pub type Task = Box<dyn FnOnce(Events) -> futures_util::future::BoxFuture<'static, ()> + Send>;

/// A walk here: gives whether anything was found and (du) the bytes counted.
pub type Walk = Box<dyn FnOnce(&mut EventSink) -> (bool, u64) + Send>;

/// Who searches a run of consecutive operands, and their roots (paths in the searcher's
/// filesystem, shown as typed). One request per run: du counts a file met twice once, as GNU
/// du does across its operands.
pub enum Batch {
    /// In the agent of their container, with what sharing a grep needs where it may.
    Agent(Arc<AgentConn>, Vec<Root>, Option<ShareBasis>),
    /// Here, on a running local container's files by the direct path (no agent started).
    Direct(Direct, Vec<Root>),
    Here(Vec<Root>),
}

/// The job that searches `batch`: its agent's, or `walk` here over the filesystem that
/// serves it (the direct path, else the namespace).
pub fn job<W>(ctx: &Context, batch: Batch, walk: W) -> Job
where
    W: FnOnce(&mut dyn Fs, &[Root], &mut EventSink) -> (bool, u64) + Send + 'static,
{
    match batch {
        Batch::Agent(conn, roots, _) => Job::Agent(conn, roots),
        Batch::Direct(direct, roots) => {
            let mut fs = DirectWalk::new(direct, namespace(ctx));
            Job::Here(Box::new(move |sink| walk(&mut fs, &roots, sink)))
        }
        Batch::Here(roots) => {
            let mut fs = namespace(ctx);
            Job::Here(Box::new(move |sink| walk(&mut fs, &roots, sink)))
        }
    }
}

/// A tool's parsed arguments (grep's, du's), or the status once it said why not: an option
/// we do not implement is named and gives `unknown` (GNU's status for a bad option), a usage
/// error its message and the usage status.
pub fn parsed<T>(ctx: &Context, r: Result<T, ArgError>, unknown: i32) -> Result<T, i32> {
    match r {
        Ok(t) => Ok(t),
        Err(ArgError::Unknown(opt)) => {
            ctx.fail(format!(
                "option '{opt}' is not supported on paths inside containers"
            ));
            Err(unknown)
        }
        Err(ArgError::Usage(m)) => Err(ctx.usage(m)),
    }
}

/// The operands in runs by searcher (agents started at once, concurrently).
pub async fn batches(ctx: &Context, operands: &[Vec<u8>]) -> Vec<Batch> {
    let mut out: Vec<Batch> = Vec::new();
    for ((vp, who), op) in searchers(ctx, operands).await.into_iter().zip(operands) {
        let display = op.clone();
        match (who, out.last_mut()) {
            (Searcher::Agent(conn, path, _), Some(Batch::Agent(c, roots, _)))
                if Arc::ptr_eq(&conn, c) =>
            {
                roots.push(Root {
                    path: bytes(&path),
                    display,
                })
            }
            (Searcher::Agent(conn, path, basis), _) => out.push(Batch::Agent(
                conn,
                vec![Root {
                    path: bytes(&path),
                    display,
                }],
                basis,
            )),
            (Searcher::Direct(d, path), Some(Batch::Direct(d2, roots)))
                if Arc::ptr_eq(&d.root, &d2.root) =>
            {
                roots.push(Root {
                    path: bytes(&path),
                    display,
                })
            }
            (Searcher::Direct(d, path), _) => out.push(Batch::Direct(
                d,
                vec![Root {
                    path: bytes(&path),
                    display,
                }],
            )),
            (Searcher::Here, Some(Batch::Here(roots))) => roots.push(Root {
                path: bytes(&vp.to_path()),
                display,
            }),
            (Searcher::Here, _) => out.push(Batch::Here(vec![Root {
                path: bytes(&vp.to_path()),
                display,
            }])),
        }
    }
    out
}

/// The namespace as a filesystem for a walk here.
pub fn namespace(ctx: &Context) -> NamespaceFs {
    NamespaceFs {
        vfs: ctx.vfs.clone(),
        rt: tokio::runtime::Handle::current(),
    }
}

/// The operands as typed, each with who searches it (agents started at once, concurrently).
pub async fn searchers(ctx: &Context, operands: &[Vec<u8>]) -> Vec<(VPath, Searcher)> {
    let paths: Vec<VPath> = operands
        .iter()
        .map(|o| {
            let o: &[u8] = if o.is_empty() { b"." } else { o };
            ctx.resolve(std::ffi::OsStr::from_bytes(o))
        })
        .collect();
    let found = futures_util::future::join_all(paths.iter().map(|p| ctx.vfs.searcher(p))).await;
    paths.into_iter().zip(found).collect()
}

/// Writes a search's output; false (stop) when stdout is gone. A closed pipe is not an error
/// (`grep -r x | head`); any other failure is reported once and sets `failed`.
pub fn write_out(ctx: &Context, out: &mut dyn Write, data: &[u8], failed: &mut bool) -> bool {
    match out.write_all(data) {
        Ok(()) => true,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                ctx.report(OsStr::new("(standard output)"), &FsError::Io(e));
                *failed = true;
            }
            false
        }
    }
}

/// A path's bytes.
pub fn bytes(p: &Path) -> Vec<u8> {
    p.as_os_str().as_bytes().to_vec()
}

/// Runs `jobs`, at most [`PARALLEL`] at once, and hands their events to `on` in job order
/// until it says stop. Ctrl-C ends it with `Err`.
pub async fn run(
    jobs: Vec<Job>,
    tool: Tool,
    args: &[Vec<u8>],
    mut on: impl FnMut(Event) -> bool,
) -> Result<(), interrupt::Interrupted> {
    let start = |job: Job| {
        let (tx, rx) = events();
        match job {
            Job::Agent(conn, roots) => {
                tokio::spawn(in_agent(conn, tool, args.to_vec(), roots, tx));
            }
            Job::Here(f) => {
                let rt = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    let mut sink = EventSink { tx, rt };
                    let (found, total) = f(&mut sink);
                    sink.send(Event::Done(found, total));
                });
            }
            Job::Task(t) => {
                tokio::spawn(t(tx));
            }
        }
        rx
    };
    let mut jobs = jobs.into_iter();
    let mut running: VecDeque<EventsRx> = jobs.by_ref().take(PARALLEL).map(start).collect();
    while let Some(mut rx) = running.pop_front() {
        loop {
            let ev = tokio::select! {
                ev = rx.recv() => ev,
                () = interrupt::wait() => return Err(interrupt::Interrupted),
            };
            let Some(ev) = ev else { break };
            let last = matches!(ev, Event::Done(..) | Event::Failed(..));
            if !on(ev) {
                return Ok(());
            }
            if last {
                break;
            }
        }
        if let Some(j) = jobs.next() {
            running.push_back(start(j));
        }
    }
    Ok(())
}

/// Whether the host's program should run instead: an option we do not implement, and every
/// operand a host path (`cwd` is where relative ones start). `values` are the tool's short
/// options that take a value, `long_values` its long ones; `pattern` says the first operand
/// is a pattern unless `-e`/`-f` gave one (grep); without operands the tool reads standard
/// input (grep) or the current directory (du).
pub fn host_runs(
    cwd: &Path,
    argv: &[OsString],
    values: &[u8],
    long_values: &[&str],
    pattern: bool,
) -> bool {
    let dot = std::ffi::OsStr::new(".");
    let mut operands = Vec::new();
    let mut have_pattern = !pattern;
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_bytes();
        i += 1;
        if a == b"--" {
            operands.extend(argv[i..].iter().map(|a| a.as_bytes()));
            break;
        }
        if let Some(long) = a.strip_prefix(b"--") {
            let name = long.split(|&b| b == b'=').next().unwrap_or_default();
            let takes = long_values
                .iter()
                .any(|l| l.as_bytes().starts_with(name) && !name.is_empty());
            if matches!(name, b"regexp" | b"file") {
                have_pattern = true;
            }
            if takes && !long.contains(&b'=') {
                i += 1;
            }
            continue;
        }
        if a.len() > 1 && a[0] == b'-' {
            for (j, c) in a[1..].iter().enumerate() {
                if matches!(c, b'e' | b'f') && pattern {
                    have_pattern = true;
                }
                if values.contains(c) {
                    if j + 2 == a.len() {
                        i += 1;
                    }
                    break;
                }
            }
            continue;
        }
        operands.push(a);
    }
    if !have_pattern && !operands.is_empty() {
        operands.remove(0);
    }
    if operands.is_empty() && !pattern {
        operands.push(dot.as_bytes());
    }
    operands.iter().all(|o| {
        matches!(
            VPath::resolve(cwd, std::ffi::OsStr::from_bytes(o)),
            VPath::Host(_)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn unknown_options_go_to_the_host_only_for_host_paths() {
        let host = Path::new("/tmp");
        let c = Path::new("/containers/web/etc");
        let vals = b"efmABCdD";
        let longs = &["regexp", "file", "context", "color"];
        assert!(host_runs(host, &v(&["-o", "x", "f"]), vals, longs, true));
        assert!(!host_runs(
            host,
            &v(&["-o", "x", "/containers/web/f"]),
            vals,
            longs,
            true
        ));
        // In a container's directory: stdin only is the host's; a relative file is not.
        assert!(host_runs(c, &v(&["-A", "3", "x"]), vals, longs, true));
        assert!(!host_runs(c, &v(&["-A", "3", "x", "f"]), vals, longs, true));
        assert!(host_runs(c, &v(&["-e", "x", "-o"]), vals, longs, true));
        assert!(!host_runs(c, &v(&["-ex", "-o", "f"]), vals, longs, true));
    }
}
