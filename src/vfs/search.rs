//! Searching the namespace (grep, find, du): which operands their container's agent searches,
//! so only results cross the wire, and a [`walk::Fs`] over the namespace for the others (host
//! paths, stopped containers, containers the agent cannot run in), which dockerbox-search then
//! walks here with the very same code.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use dockerbox_search::walk::{self, Fs, Meta};

use super::agent::Via;
use super::stream::FileReader;
use super::{Entry, FsError, Kind, Need, VPath, Vfs};
use crate::host::{AgentConn, State};

/// Who searches an operand.
pub enum Searcher {
    /// The agent in its running container, at this path inside it.
    Agent(Arc<AgentConn>, PathBuf),
    /// dockerbox itself, walking the namespace.
    Here,
}

impl Vfs {
    /// Who searches `p`: a running container's agent (started now if need be), else here.
    pub async fn searcher(&self, p: &VPath) -> Searcher {
        let VPath::Container { host, name, path } = p else {
            return Searcher::Here;
        };
        let Ok(c) = self.container(host.as_deref(), name).await else {
            return Searcher::Here;
        };
        if c.state != State::Running {
            return Searcher::Here;
        }
        match self.via_with(&c, true).await {
            Via::Agent(conn) => Searcher::Agent(conn, path.clone()),
            Via::Archive(_) => Searcher::Here,
        }
    }

    /// A path's modification time to the nanosecond (`lstat`), for `find -newer`: from the
    /// agent where it runs; elsewhere the namespace knows whole seconds.
    pub async fn mtime_exact(&self, p: &VPath) -> Result<(i64, u32), FsError> {
        if let Searcher::Agent(conn, path) = self.searcher(p).await {
            let req = dockerbox_proto::Request::Lstat {
                path: path.as_os_str().as_bytes().to_vec(),
            };
            if let Ok(dockerbox_proto::Response::Attr(a)) = conn.call(req).await {
                return Ok((a.mtime, a.mtime_nsec));
            }
        }
        self.lstat(p).await.map(|e| (e.mtime, 0))
    }

    /// A file's chunks, opened through the route (for a walk here).
    pub async fn open_reader(&self, p: &VPath) -> Result<FileReader, FsError> {
        self.serve(p, Need::Read, Path::new(""), |b, at| {
            b.open_read(&at.path, u64::MAX)
        })
        .await
    }
}

/// The namespace as a [`walk::Fs`] for a walk on a blocking thread: paths are absolute
/// namespace paths (`/containers/web/etc`), each call waits on the runtime.
pub struct NamespaceFs {
    pub vfs: Arc<Vfs>,
    pub rt: tokio::runtime::Handle,
}

fn vpath(b: &[u8]) -> VPath {
    VPath::parse(Path::new(OsStr::from_bytes(b)))
}

fn meta(e: &Entry) -> Meta {
    let kind = match e.kind {
        Kind::File => walk::Kind::File,
        Kind::Dir => walk::Kind::Dir,
        Kind::Symlink => walk::Kind::Symlink,
        Kind::Fifo => walk::Kind::Fifo,
        Kind::Socket => walk::Kind::Socket,
        Kind::CharDevice => walk::Kind::CharDevice,
        Kind::BlockDevice => walk::Kind::BlockDevice,
    };
    Meta {
        kind,
        perm: e.perm,
        size: e.size,
        blocks: e.blocks_k * 2,
        mtime: e.mtime,
        mtime_nsec: 0,
        dev: e.dev,
        ino: e.ino,
        nlink: e.nlink,
    }
}

impl Fs for NamespaceFs {
    fn stat(&mut self, path: &[u8], follow: bool) -> Result<Meta, i32> {
        let p = vpath(path);
        let e = if follow {
            self.rt.block_on(self.vfs.stat(&p))
        } else {
            self.rt.block_on(self.vfs.lstat(&p))
        };
        e.map(|e| meta(&e)).map_err(|e| e.errno())
    }

    fn read_dir(&mut self, path: &[u8]) -> Result<Vec<(Vec<u8>, Meta)>, i32> {
        let list = self
            .rt
            .block_on(self.vfs.read_dir(&vpath(path)))
            .map_err(|e| e.errno())?;
        Ok(list
            .iter()
            .map(|e| (e.name.as_bytes().to_vec(), meta(e)))
            .collect())
    }

    fn open(&mut self, path: &[u8]) -> Result<Box<dyn Read + '_>, i32> {
        let r = self
            .rt
            .block_on(self.vfs.open_reader(&vpath(path)))
            .map_err(|e| e.errno())?;
        Ok(Box::new(Chunks {
            r,
            rt: &self.rt,
            cur: Bytes::new(),
        }))
    }
}

/// A [`FileReader`] as a blocking `Read`.
struct Chunks<'a> {
    r: FileReader,
    rt: &'a tokio::runtime::Handle,
    cur: Bytes,
}

impl Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rt.block_on(self.r.next()) {
                Ok(Some(b)) => self.cur = b,
                Ok(None) => return Ok(0),
                Err(e) => return Err(io::Error::from_raw_os_error(e.errno())),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

/// What a search job reports, in order.
#[derive(Debug)]
pub enum Event {
    /// Output bytes.
    Out(Vec<u8>),
    /// A path could not be read (the path as displayed, the errno, whether it was reading
    /// a directory's entries).
    Problem(Vec<u8>, i32, bool),
    /// A note about a path.
    Note(Vec<u8>, dockerbox_search::Note),
    /// The job could not run at all (the agent went away mid-search).
    Failed(Vec<u8>, FsError),
    /// The end: whether anything was found, and (du) the bytes counted.
    Done(bool, u64),
}

/// How many bytes of events a job may have waiting before it pauses (and, in the agent, the
/// credit runs out): memory stays bounded however fast a search finds things, and a job
/// waiting its turn to be printed runs ahead by this much whatever the events are. Counted in
/// bytes, not events: a search noting many binary files (one small event each) would
/// otherwise wait behind the one being printed after a handful of them.
pub const JOB_BYTES: usize = 1 << 20;

/// What one event counts for against [`JOB_BYTES`].
fn cost(ev: &Event) -> u32 {
    let n = match ev {
        Event::Out(d) => d.len(),
        Event::Problem(p, ..) | Event::Note(p, _) | Event::Failed(p, _) => p.len(),
        Event::Done(..) => 0,
    };
    n.clamp(64, JOB_BYTES) as u32
}

/// Makes a job's event queue, bounded by [`JOB_BYTES`].
pub fn events() -> (Events, EventsRx) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let room = Arc::new(tokio::sync::Semaphore::new(JOB_BYTES));
    (
        Events {
            tx,
            room: room.clone(),
        },
        EventsRx { rx, room },
    )
}

/// The sending side of a job's events.
pub struct Events {
    tx: tokio::sync::mpsc::UnboundedSender<(Event, u32)>,
    room: Arc<tokio::sync::Semaphore>,
}

impl Events {
    /// Sends `ev` once there is room; `Err` when the receiver is gone.
    pub async fn send(&self, ev: Event) -> Result<(), ()> {
        let n = cost(&ev);
        self.room.acquire_many(n).await.map_err(|_| ())?.forget();
        self.tx.send((ev, n)).map_err(|_| ())
    }
}

/// The receiving side of a job's events; dropping it stops the job's sender.
pub struct EventsRx {
    rx: tokio::sync::mpsc::UnboundedReceiver<(Event, u32)>,
    room: Arc<tokio::sync::Semaphore>,
}

impl EventsRx {
    pub async fn recv(&mut self) -> Option<Event> {
        let (ev, n) = self.rx.recv().await?;
        self.room.add_permits(n as usize);
        Some(ev)
    }
}

impl Drop for EventsRx {
    fn drop(&mut self) {
        self.room.close();
    }
}

/// Runs a `Search` in the agent, passing its frames on as events.
pub async fn in_agent(
    conn: Arc<AgentConn>,
    tool: dockerbox_proto::Tool,
    args: Vec<Vec<u8>>,
    roots: Vec<walk::Root>,
    tx: Events,
) {
    use dockerbox_proto::{Request, Response};
    let display = roots.first().map(|r| r.display.clone()).unwrap_or_default();
    let req = Request::Search {
        tool: tool as u8,
        args,
        roots: roots.into_iter().map(|r| (r.path, r.display)).collect(),
    };
    let mut s = match conn.search(req).await {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Event::Failed(display, e.into())).await;
            return;
        }
    };
    loop {
        let ev = match s.next().await {
            Ok(Some(Response::Found { data, .. })) => Event::Out(data),
            Ok(Some(Response::Problem { path, errno, dir })) => Event::Problem(path, errno, dir),
            Ok(Some(Response::Notice { path, what })) => {
                match dockerbox_search::Note::from_u8(what) {
                    Some(n) => Event::Note(path, n),
                    None => continue,
                }
            }
            Ok(Some(Response::SearchDone { found, total })) => Event::Done(found, total),
            Ok(Some(_)) => continue,
            Ok(None) => return,
            Err(e) => Event::Failed(display.clone(), e.into()),
        };
        let last = matches!(ev, Event::Done(..) | Event::Failed(..));
        // The receiver gone (grep -q found, Ctrl-C): dropping the stream cancels the search.
        if tx.send(ev).await.is_err() || last {
            return;
        }
    }
}

/// A [`dockerbox_search::Sink`] into a job's event queue, from a blocking thread.
pub struct EventSink {
    pub tx: Events,
    pub rt: tokio::runtime::Handle,
}

impl EventSink {
    pub fn send(&self, ev: Event) -> bool {
        self.rt.block_on(self.tx.send(ev)).is_ok()
    }
}

impl dockerbox_search::Sink for EventSink {
    fn out(&mut self, bytes: &[u8], _whole: bool) -> bool {
        self.send(Event::Out(bytes.to_vec()))
    }
    fn error(&mut self, path: &[u8], errno: i32, dir: bool) -> bool {
        self.send(Event::Problem(path.to_vec(), errno, dir))
    }
    fn note(&mut self, path: &[u8], note: dockerbox_search::Note) -> bool {
        self.send(Event::Note(path.to_vec(), note))
    }
}
