//! dockerbox-agent: runs inside a container, reads requests on stdin, answers on stdout.
//!
//! dockerbox uploads this static executable, starts it with exec, and talks the
//! `dockerbox-proto` protocol to it. It deletes its own file as soon as it runs, so nothing is
//! left in the container, and it exits when stdin closes. Small requests are answered in
//! order on the main thread; each `Read` streams from a thread of its own under a credit window,
//! so it never holds up the requests behind it.

mod helper;
mod ops;
mod search;
mod tree;

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex};

use dockerbox_proto::{
    decode_frame, encode_response, Request, Response, MAGIC, MAX_FRAME, VERSION,
};

/// Identifies this build; dockerbox checks it in the handshake.
const BUILD_ID: &str = match option_env!("DOCKERBOX_AGENT_BUILD_ID") {
    Some(id) => id,
    None => "dev",
};

/// The shared, frame-at-a-time writer to stdout.
#[derive(Clone)]
pub struct Out(Arc<Mutex<File>>);

impl Out {
    /// Sends one response frame; a failed write means dockerbox is gone, so exit.
    pub fn send(&self, id: u32, resp: &Response) {
        let mut buf = Vec::with_capacity(64);
        encode_response(id, resp, &mut buf);
        self.raw(&buf);
    }

    /// Sends bytes that already form whole frames.
    pub fn send_raw(&self, bytes: &[u8]) {
        self.raw(bytes);
    }

    fn raw(&self, bytes: &[u8]) {
        let ok = match self.0.lock() {
            Ok(mut f) => f.write_all(bytes).is_ok(),
            Err(_) => false,
        };
        if !ok {
            std::process::exit(0);
        }
    }
}

/// How many more chunks a streaming read may send; 0 with `cancelled` stops it.
///
/// A read that waits in the kernel (a FIFO without a writer, a terminal) polls [`Credit::wake`]
/// beside its file, so a cancel closes the file at once: no thread stays behind to swallow a
/// later writer's data.
pub struct Credit {
    state: Mutex<(u32, bool)>,
    cond: Condvar,
    /// A pipe that becomes readable on cancel: (read end, write end).
    wake: Option<(OwnedFd, OwnedFd)>,
}

impl Default for Credit {
    fn default() -> Credit {
        let mut fds = [-1; 2];
        // SAFETY: pipe2 writes two descriptors into fds, which we then own.
        let ok = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } == 0;
        let wake = ok.then(|| {
            // SAFETY: both descriptors were just created and belong to nothing else.
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
        });
        Credit {
            state: Mutex::new((0, false)),
            cond: Condvar::new(),
            wake,
        }
    }
}

impl Credit {
    fn grant(&self, n: u32) {
        if let Ok(mut s) = self.state.lock() {
            if n == 0 {
                s.1 = true;
                if let Some((_, w)) = &self.wake {
                    // SAFETY: one byte from a valid buffer to a descriptor we own.
                    let _ = unsafe { libc::write(w.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
                }
            } else {
                s.0 = s.0.saturating_add(n);
            }
            self.cond.notify_all();
        }
    }

    /// The descriptor that becomes readable when the read is cancelled.
    pub fn wake(&self) -> Option<BorrowedFd<'_>> {
        self.wake.as_ref().map(|(r, _)| r.as_fd())
    }

    /// Takes one chunk of credit, waiting for it; false when the read was cancelled.
    pub fn take(&self) -> bool {
        let Ok(mut s) = self.state.lock() else {
            return false;
        };
        loop {
            if s.1 {
                return false;
            }
            if s.0 > 0 {
                s.0 -= 1;
                return true;
            }
            s = match self.cond.wait(s) {
                Ok(s) => s,
                Err(_) => return false,
            };
        }
    }
}

/// Streaming reads by request id, shared with their threads.
pub type Reads = Arc<Mutex<HashMap<u32, Arc<Credit>>>>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        // dockerbox's helper container (the remote direct path): its main process, and an
        // agent serving one container's root from there. The image keeps its file.
        Some("--idle") => helper::idle(),
        Some("--root") => {
            let (pid, id) = (
                args.get(2).map_or("", String::as_str),
                args.get(3).map_or("", String::as_str),
            );
            if let Err(e) = helper::enter(pid, id) {
                // Before the banner: dockerbox reports this line as why the start failed.
                println!("{e}");
                std::process::exit(1);
            }
        }
        // Our own file goes first: even if dockerbox is killed, nothing stays in the container.
        _ => {
            if let Some(me) = std::env::args_os().next() {
                let _ = std::fs::remove_file(me);
            }
        }
    }
    // SAFETY: fds 0 and 1 are the exec's stdin and stdout, owned by nobody else in this process.
    let (mut stdin, stdout) = unsafe { (File::from_raw_fd(0), File::from_raw_fd(1)) };
    widen_pipes();
    let out = Out(Arc::new(Mutex::new(stdout)));
    out.raw(MAGIC);
    out.send(
        0,
        &Response::Hello {
            version: VERSION,
            build_id: BUILD_ID.as_bytes().to_vec(),
        },
    );

    let reads: Reads = Arc::default();
    let mut writes = ops::Writes::default();
    let mut buf: Vec<u8> = Vec::with_capacity(MAX_FRAME + 4);
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let n = match stdin.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut used = 0;
        loop {
            match decode_frame(&buf[used..]) {
                Ok(Some((frame, len))) => {
                    used += len;
                    match Request::decode(frame.kind, frame.body) {
                        Ok(req) => handle(frame.id, req, &out, &reads, &mut writes),
                        Err(_) => out.send(
                            frame.id,
                            &Response::Error {
                                errno: libc::EPROTO,
                            },
                        ),
                    }
                }
                Ok(None) => break,
                // A broken stream cannot be resynchronised.
                Err(_) => {
                    writes.abandon_all();
                    std::process::exit(2);
                }
            }
        }
        buf.drain(..used);
    }
    writes.abandon_all();
}

/// Widens the exec's stdin and stdout pipes from 64 KiB to 1 MiB (an unprivileged process's
/// limit), so the runtime's shim, which copies 32 KiB at a time, runs ahead of the agent
/// instead of waiting on it every other copy. Not pipes, or refused: left as they are.
fn widen_pipes() {
    for fd in [0, 1] {
        // SAFETY: fcntl on our own stdin/stdout; F_SETPIPE_SZ fails harmlessly on a non-pipe.
        unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20) };
    }
}

/// Runs a stream of replies for request `id` on a thread of its own, under a credit window that
/// `Credit` requests for `id` widen while it runs (reads, tree reads, searches).
fn stream(id: u32, out: &Out, reads: &Reads, run: impl FnOnce(&Credit, &Out) + Send + 'static) {
    let credit = Arc::new(Credit::default());
    credit.grant(dockerbox_proto::READ_WINDOW);
    if let Ok(mut m) = reads.lock() {
        m.insert(id, credit.clone());
    }
    let (out, reads) = (out.clone(), reads.clone());
    std::thread::spawn(move || {
        run(&credit, &out);
        if let Ok(mut m) = reads.lock() {
            m.remove(&id);
        }
    });
}

fn handle(id: u32, req: Request, out: &Out, reads: &Reads, writes: &mut ops::Writes) {
    match req {
        Request::Read { path } => {
            stream(id, out, reads, move |credit, out| {
                ops::stream_file(id, &path, credit, out)
            });
        }
        Request::ReadTree { path } => {
            stream(id, out, reads, move |credit, out| {
                tree::stream_tree(id, &path, credit, out)
            });
        }
        Request::Search { tool, args, roots } => {
            stream(id, out, reads, move |credit, out| {
                search::run(id, tool, &args, roots, credit, out)
            });
        }
        Request::SearchShared {
            args,
            roots,
            lead,
            before,
            seed,
            loud,
            quiet,
        } => {
            let req = search::Shared {
                args,
                roots,
                lead,
                before,
                seed,
                loud,
                quiet,
            };
            stream(id, out, reads, move |credit, out| {
                search::run_shared(id, req, credit, out)
            });
        }
        Request::Credit { n } => {
            let credit = reads.lock().ok().and_then(|m| m.get(&id).cloned());
            if let Some(c) = credit {
                c.grant(n);
            }
        }
        Request::WriteOpen { path, mode } => {
            if let Some(err) = writes.open(id, &path, mode) {
                out.send(id, &err);
            }
        }
        Request::WriteBegin {
            path,
            tmp,
            mode,
            append,
        } => {
            if let Some(err) = writes.begin(id, &path, &tmp, mode, append) {
                out.send(id, &err);
            }
        }
        Request::WriteData { data } => {
            if let Some(err) = writes.data(id, &data) {
                out.send(id, &err);
            }
        }
        Request::WritePacked { raw_len, data } => {
            if let Some(err) = writes.packed(id, raw_len, &data) {
                out.send(id, &err);
            }
        }
        Request::Codecs { offer } => {
            let accept = offer & dockerbox_proto::pack::CODECS;
            ops::PACKING.store(accept != 0, std::sync::atomic::Ordering::Relaxed);
            out.send(id, &Response::Codecs { accept });
        }
        Request::WriteClose { commit } => out.send(id, &writes.close(id, commit)),
        Request::FillFrom {
            write,
            pid,
            container,
            path,
        } => match writes.file_of(write) {
            Ok(file) => {
                let out = out.clone();
                std::thread::spawn(move || {
                    let r = helper::fill(&file, pid, &container, &path);
                    out.send(id, &filled(r));
                });
            }
            Err(e) => out.send(id, &filled(Err(e))),
        },
        Request::TreeFrom {
            pid,
            container,
            path,
            dest,
        } => {
            let out = out.clone();
            std::thread::spawn(move || {
                let r = helper::tree(pid, &container, &path, &dest);
                out.send(id, &filled(r));
            });
        }
        Request::ReadDir { path } => ops::read_dir(id, &path, out),
        other => out.send(id, &ops::simple(other)),
    }
}

fn filled(r: std::io::Result<u64>) -> Response {
    match r {
        Ok(bytes) => Response::Filled { bytes },
        Err(e) => Response::Error {
            errno: e.raw_os_error().unwrap_or(libc::EIO),
        },
    }
}
