//! `logs [-f] NAME...`: containers' output as `docker logs` shows it; with `-f` it follows what
//! comes, and several containers at once are interleaved as they write, each line prefixed
//! with its container's name (as `docker compose logs`).
//!
//! One container's bytes pass unchanged, as they arrive (a TTY's prompt without its newline,
//! binary output); the engine side (`host::logs`) never holds them back.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;

use super::{Args, Builtin, Out};
use crate::context::Context;
use crate::exit_codes;
use crate::vfs::{FsError, VPath};

pub struct Cmd;

impl Builtin for Cmd {
    fn name(&self) -> &'static str {
        "logs"
    }
    fn about(&self) -> &'static str {
        "print containers' logs; -f follows them, several at once with their names"
    }
    fn usage(&self) -> &'static str {
        "logs [-f] CONTAINER...\n  CONTAINER is a name or ID prefix (HOST/NAME with several engines), or a path in\n  /containers or /apps.\n  -f  follow: print new output as it comes (until Ctrl-C or the containers end)"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let args = match Args::parse(args, "f", &[]) {
                Ok(a) => a,
                Err(e) => return ctx.usage(e),
            };
            if args.operands.is_empty() {
                return ctx.usage("missing container operand");
            }
            run(ctx, args.has('f'), &args.operands, out).await
        })
    }
}

/// Where an operand points: a path as typed (`/containers/web`, `/apps/shop/web`, `.` inside
/// a container), else a container's name under `/containers`.
fn place(ctx: &Context, op: &OsString) -> VPath {
    let b = op.as_bytes();
    if b.starts_with(b"/") || b.starts_with(b".") {
        return ctx.resolve(op);
    }
    let mut p = std::path::PathBuf::from(crate::vfs::path::CONTAINERS);
    p.push(op);
    VPath::parse(&p)
}

async fn run(ctx: &Context, follow: bool, ops: &[OsString], out: &mut Out) -> i32 {
    let mut status = exit_codes::OK;
    let mut streams = Vec::new();
    for op in ops {
        let found = match ctx.vfs.container_of(&place(ctx, op)).await {
            Ok(found) => found,
            Err(e) => {
                ctx.report(op, &e);
                status = exit_codes::FAILURE;
                continue;
            }
        };
        let (eng, c) = found;
        match eng.log_stream(&c.id, follow).await {
            Ok(s) => streams.push((c.name.clone(), op.clone(), s)),
            Err(e) => {
                ctx.report(op, &FsError::from(e));
                status = exit_codes::FAILURE;
            }
        }
    }
    let names: Vec<String> = streams.iter().map(|(n, _, _)| n.clone()).collect();
    let ops: Vec<OsString> = streams.iter().map(|(_, o, _)| o.clone()).collect();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(usize, Result<Bytes, FsError>)>(16);
    let mut tasks = Vec::new();
    for (i, (_, _, mut s)) in streams.into_iter().enumerate() {
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(item) = s.next().await {
                let failed = item.is_err();
                if tx.send((i, item.map_err(FsError::from))).await.is_err() || failed {
                    break;
                }
            }
        }));
    }
    drop(tx);
    let mut p = Prefixer::new(names);
    loop {
        let next = crate::interrupt::guard(async { Ok::<_, FsError>(rx.recv().await) }).await;
        let (i, item) = match next {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(_) => {
                status = exit_codes::INTERRUPTED;
                break;
            }
        };
        match item {
            Ok(b) => {
                if let Err(e) = p.write(out, i, &b).and_then(|()| out.flush()) {
                    if e.kind() != std::io::ErrorKind::BrokenPipe {
                        ctx.report(&ops[i], &FsError::Io(e));
                        status = exit_codes::FAILURE;
                    }
                    break;
                }
            }
            Err(e) => {
                let _ = p.end_line(out);
                ctx.report(&ops[i], &e);
                status = exit_codes::FAILURE;
            }
        }
    }
    for t in tasks {
        t.abort();
    }
    status
}

/// Writes each container's output; with several containers, each line after its name, and a
/// line left open by one container closed before another's starts.
struct Prefixer {
    prefixes: Vec<Vec<u8>>,
    at_start: Vec<bool>,
    last: Option<usize>,
}

impl Prefixer {
    fn new(names: Vec<String>) -> Prefixer {
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        let n = names.len();
        let prefixes = if n > 1 {
            names
                .iter()
                .map(|name| format!("{name:<width$} | ").into_bytes())
                .collect()
        } else {
            vec![Vec::new(); n]
        };
        Prefixer {
            prefixes,
            at_start: vec![true; n],
            last: None,
        }
    }

    /// Ends a line another container left open (several containers only).
    fn end_line(&mut self, out: &mut Out) -> std::io::Result<()> {
        if let Some(l) = self.last {
            if self.prefixes.len() > 1 && !self.at_start[l] {
                out.write_all(b"\n")?;
                self.at_start[l] = true;
            }
        }
        Ok(())
    }

    fn write(&mut self, out: &mut Out, i: usize, b: &[u8]) -> std::io::Result<()> {
        if self.prefixes.len() <= 1 {
            return out.write_all(b);
        }
        if self.last != Some(i) {
            self.end_line(out)?;
        }
        self.last = Some(i);
        for piece in b.split_inclusive(|&c| c == b'\n') {
            if self.at_start[i] {
                out.write_all(&self.prefixes[i])?;
            }
            out.write_all(piece)?;
            self.at_start[i] = piece.ends_with(b"\n");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(names: &[&str], writes: &[(usize, &[u8])]) -> Vec<u8> {
        let mut p = Prefixer::new(names.iter().map(|n| n.to_string()).collect());
        let mut out: Vec<u8> = Vec::new();
        for (i, b) in writes {
            p.write(&mut out, *i, b).expect("write");
        }
        out
    }

    #[test]
    fn one_container_passes_bytes_unchanged() {
        let bin: &[u8] = b"\x00\x01\x02\xffno newline";
        assert_eq!(run(&["web"], &[(0, bin)]), bin);
    }

    #[test]
    fn several_are_prefixed_line_by_line() {
        let out = run(
            &["web", "worker"],
            &[(0, b"a\nb"), (1, b"x\n"), (0, b"c\n"), (1, b"y\nz\n")],
        );
        assert_eq!(
            String::from_utf8_lossy(&out),
            "web    | a\nweb    | b\nworker | x\nweb    | c\nworker | y\nworker | z\n"
        );
    }
}
