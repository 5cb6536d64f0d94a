//! `grep`: GNU grep (`-r -R -n -i -l -c -v -w -E -F -G -e -H -h -s -q`) run where the files
//! are: in the agent of each running container named (so only matching lines cross the
//! wire), here for host paths, stopped containers and standard input, by the same code
//! (dockerbox-search). Many operands are searched at once and printed in operand order,
//! with GNU's output, messages and statuses (0 a line selected, 1 none, 2 an error).
//! Options we do not implement run the host's grep when every operand is a host path.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use dockerbox_proto::Tool;
use dockerbox_search::args::ArgError;
use dockerbox_search::grep::{self as g, Names, Recurse};
use dockerbox_search::{Note, Printer};
use futures_util::future::LocalBoxFuture;

use super::searching::{self, Batch, Job};
use super::{Builtin, Out};
use crate::context::{read_interruptibly, Context, Fd};
use crate::exit_codes;
use crate::vfs::search::{in_agent_shared, Event, Share};
use crate::vfs::FsError;

pub struct Cmd;

/// GNU grep's short options that take a value, and long ones (for the host fallback).
const VALUES: &[u8] = b"efmABCdD";
const LONG_VALUES: &[&str] = &[
    "regexp",
    "file",
    "max-count",
    "after-context",
    "before-context",
    "context",
    "directories",
    "devices",
    "binary-files",
    "label",
    "exclude",
    "exclude-from",
    "exclude-dir",
    "include",
    "group-separator",
];

/// Whether the host's grep runs `argv` (an option we lack, only host paths).
pub fn host_runs(cwd: &std::path::Path, argv: &[OsString]) -> bool {
    let raw: Vec<Vec<u8>> = argv.iter().map(|a| a.as_bytes().to_vec()).collect();
    matches!(g::parse(&raw), Err(ArgError::Unknown(_)))
        && searching::host_runs(cwd, argv, VALUES, LONG_VALUES, true)
}

impl Builtin for Cmd {
    fn name(&self) -> &'static str {
        "grep"
    }
    fn about(&self) -> &'static str {
        "search files for lines matching a pattern, inside the containers"
    }
    fn usage(&self) -> &'static str {
        "grep [-rRnilcvwEFGHhsq] [-e PATTERN]... PATTERN [FILE]...\n  \
         GNU grep in the C locale. In running containers the agent searches and sends only\n  \
         the matching lines; several operands are searched at once, printed in order.\n  \
         Other options run the host's grep when every FILE is a host path."
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(grep(ctx, args, out))
    }
}

async fn grep(ctx: &mut Context, args: Vec<OsString>, out: &mut Out) -> i32 {
    let argv: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    let (o, mut operands) = match searching::parsed(ctx, g::parse(&argv), exit_codes::USAGE) {
        Ok(p) => p,
        Err(status) => return status,
    };
    if let Err(m) = g::Grep::new(o.clone()) {
        ctx.fail(m);
        return exit_codes::USAGE;
    }
    if operands.is_empty() {
        // grep -r with no operand searches the current directory, names shown without `./`.
        operands.push(if o.recurse == Recurse::No {
            b"-".to_vec()
        } else {
            Vec::new()
        });
    }
    let names = o.names(operands.len());
    // The agent sees one operand: it is told what the whole command decided.
    let mut told = o.clone();
    told.with_filename = match names {
        Names::Always => Some(true),
        Names::Never => Some(false),
        Names::IfDir => None,
    };
    let args = told.to_args();

    let mut jobs = Vec::with_capacity(operands.len());
    // Runs of files between `-`s (standard input), each in batches by searcher.
    for (i, run) in operands.split(|op| op == b"-").enumerate() {
        if i > 0 {
            jobs.push(stdin_job(&o, names, ctx.stdin.clone()));
        }
        let batches = searching::batches(ctx, run).await;
        // Containers searched here share what they find in their image's unchanged files,
        // read from the image's layers (no FUSE daemon on the way with fuse-overlayfs).
        let memos = batches
            .iter()
            .any(|b| matches!(b, Batch::Direct(..)))
            .then(|| Arc::new(g::Memos::default()));
        // Agents of containers of one image share the work ([`dockerbox_search::share`]):
        // the first of a group searches, the others print its memos for the files they
        // have not changed.
        let mut groups: HashMap<String, (usize, Arc<Share>)> = HashMap::new();
        // DOCKERBOX_SEARCH_SHARE=0: each agent searches alone (to compare).
        let sharing = std::env::var_os("DOCKERBOX_SEARCH_SHARE").is_none_or(|v| v != "0");
        for b in batches.iter().filter(|_| sharing) {
            if let Batch::Agent(_, _, Some(basis)) = b {
                groups
                    .entry(basis.group.clone())
                    .or_insert_with(|| (0, Share::new(told.clone())))
                    .0 += 1;
            }
        }
        let mut led: Vec<String> = Vec::new();
        for batch in batches {
            let batch = match batch {
                Batch::Agent(conn, roots, Some(basis))
                    if groups.get(&basis.group).is_some_and(|g| g.0 > 1) =>
                {
                    let share = groups[&basis.group].1.clone();
                    let lead = !led.contains(&basis.group);
                    if lead {
                        led.push(basis.group.clone());
                    }
                    let args = args.clone();
                    jobs.push(Job::Task(Box::new(move |tx| {
                        Box::pin(in_agent_shared(
                            conn,
                            args,
                            roots,
                            basis.before,
                            share,
                            lead,
                            tx,
                        ))
                    })));
                    continue;
                }
                b => b,
            };
            let (o, memos) = (o.clone(), memos.clone());
            jobs.push(searching::job(ctx, batch, move |fs, roots, sink| {
                let Ok(mut grep) = g::Grep::new(o) else {
                    return (false, 0);
                };
                if let Some(m) = memos {
                    grep.share(m);
                }
                (g::run(&mut grep, fs, roots, names, sink).found, 0)
            }));
        }
    }

    let (mut found, mut failed) = (false, false);
    let quiet = o.quiet;
    let r = searching::run(jobs, Tool::Grep, &args, |ev| match ev {
        Event::Out(data) => searching::write_out(ctx, out, &data, &mut failed),
        Event::Problem(path, errno, _) => {
            failed = true;
            if !o.no_messages {
                let path = OsStr::from_bytes(&path);
                let e = FsError::errno_error(errno);
                if quiet {
                    // -q: a match still means status 0, so this is no failure yet.
                    ctx.errors.note(format!("{}: {e}", ctx.errors.name(path)));
                } else {
                    ctx.report(path, &e);
                }
            }
            true
        }
        Event::Note(path, note) => {
            let name = ctx.errors.name(OsStr::from_bytes(&path));
            match note {
                Note::BinaryMatches => ctx.errors.note(format!("{name}: binary file matches")),
                Note::DirLoop => ctx
                    .errors
                    .note(format!("{name}: warning: recursive directory loop")),
            }
            true
        }
        Event::Failed(path, e) => {
            failed = true;
            ctx.report(OsStr::from_bytes(&path), &e);
            true
        }
        Event::Done(f, _) => {
            found |= f;
            !(quiet && found)
        }
    })
    .await;
    if r.is_err() {
        return exit_codes::INTERRUPTED;
    }
    if quiet && found {
        exit_codes::OK
    } else if failed {
        2
    } else if found {
        exit_codes::OK
    } else {
        exit_codes::FAILURE
    }
}

/// Standard input (`-` or no operand): a pipe or redirect, or dockerbox's own stdin.
fn stdin_job(o: &g::Opts, names: Names, fd: Option<Fd>) -> Job {
    let o = o.clone();
    Job::Here(Box::new(move |sink| {
        let Ok(mut grep) = g::Grep::new(o) else {
            return (false, 0);
        };
        let mut p = Printer::new(sink);
        let name = b"(standard input)";
        let mut r: Box<dyn Read> = match fd {
            Some(fd) => Box::new(FdReader(fd)),
            None => Box::new(io::stdin()),
        };
        let found = match grep.file(&mut r, name, names == Names::Always, &mut p) {
            Ok(s) => s.selected > 0,
            Err(e) => {
                p.error(name, e);
                false
            }
        };
        p.flush();
        (found, 0)
    }))
}

/// A pipe or file read so that Ctrl-C can stop it.
struct FdReader(Fd);

impl Read for FdReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_interruptibly(&self.0, buf)
    }
}
