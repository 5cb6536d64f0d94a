//! The agent backend: a running container's files through the agent dockerbox starts in it.
//!
//! One agent per container per session, started on first use. In `auto` mode the first command
//! is answered by the archive API while the agent starts in the background, so that command is
//! no slower than the archive; everything after goes through the agent. Where it cannot run
//! (read-only root, noexec, paused, another architecture) the archive API serves instead.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use dockerbox_proto::{Attr, Request, Response};
use tokio::sync::OnceCell;

use bytes::Bytes;

use super::backend::{At, Backend, BoxFut, StatFs};
use super::owners::Owners;
use super::stream::{Attrs, FileReader, FileWriter, Landing, Open, Temp};
use super::{Entry, FsError, Kind};
use crate::host::{
    binary_for, random, AgentConn, AgentError, ContainerInfo, Engine, Placement, State,
};
use crate::interrupt;

/// When to use the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentMode {
    /// Start it in the background on first use; the archive API answers until it is up.
    Auto,
    /// Wait for it on first use (falls back only when it cannot run).
    Always,
    /// Never upload anything; the archive API serves everything.
    Never,
}

type Attempt = Arc<OnceCell<Result<Arc<AgentConn>, String>>>;
type Launch = Box<dyn FnOnce() -> tokio::task::JoinHandle<()> + Send>;

/// One container's agent: the current attempt to have one, and whether it was launched.
struct Slot {
    gen: Option<u64>,
    attempt: Attempt,
    launched: bool,
    /// Requests the archive API answered while the agent was not there yet.
    archive_uses: u32,
}

/// After this many archive answers within one container, a command is a big one (`cp -r`,
/// `ls -R`): it waits for the agent rather than paying ~50 ms a request.
const ARCHIVE_BUDGET: u32 = 8;

/// The agents of this session, by container id.
pub struct Agents {
    mode: AgentMode,
    slots: Mutex<HashMap<String, Slot>>,
    /// Starts asked for by the last command, launched by [`Agents::launch`] once it is done, so
    /// an upload never competes with the command that asked (the engine serialises them).
    wanted: Mutex<Vec<Launch>>,
    /// Launched starts; waited for before exit so no upload is cut short and leaves a file.
    starting: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Whether `wanted` or `starting` may hold anything: every command of a script launches
    /// and settles, and nearly always there is nothing to do, which this says without a lock.
    busy: AtomicBool,
    /// The remote direct path's helper containers (`vfs/remote_direct.rs`).
    pub helpers: Arc<super::remote_direct::Helpers>,
}

/// Which backend serves a container right now, and why.
pub enum Via {
    Agent(Arc<AgentConn>),
    /// The archive API, with the reason the agent is not used.
    Archive(String),
}

impl Agents {
    pub fn new(mode: AgentMode) -> Agents {
        Agents {
            mode,
            slots: Mutex::new(HashMap::new()),
            wanted: Mutex::new(Vec::new()),
            starting: Mutex::new(Vec::new()),
            busy: AtomicBool::new(false),
            helpers: Arc::default(),
        }
    }

    /// When agents are used.
    pub fn mode(&self) -> AgentMode {
        self.mode
    }

    /// Launches the starts the last command asked for; with `wait`, until they are done.
    pub async fn launch(&self, wait: bool) {
        // Cleared before `wanted` is drained: a start asked for meanwhile sets it again.
        if !self.busy.swap(false, Ordering::AcqRel) {
            return;
        }
        let jobs: Vec<Launch> = self
            .wanted
            .lock()
            .map(|mut v| v.drain(..).collect())
            .unwrap_or_default();
        let mut still = false;
        if let Ok(mut v) = self.starting.lock() {
            v.retain(|h| !h.is_finished());
            v.extend(jobs.into_iter().map(|j| j()));
            still = !v.is_empty();
        }
        if wait {
            self.settle().await;
        } else if still {
            // The next launch looks at them again (the last settle waits for them).
            self.busy.store(true, Ordering::Release);
        }
    }

    /// Waits (10 s at most) for agents still starting.
    pub async fn settle(&self) {
        let handles: Vec<_> = self
            .starting
            .lock()
            .map(|mut v| v.drain(..).collect())
            .unwrap_or_default();
        // The common case (every command of a loop): nothing is starting, and no timer is set.
        // Ctrl-C does not depend on this yielding: SIGINT sets the flag in its handler.
        if handles.is_empty() {
            return;
        }
        let all = futures_util::future::join_all(handles);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), all).await;
    }

    /// Whether the agent for container `id` is still to start (`auto` mode, no attempt
    /// finished yet): waiting for it is possible, and may be cheaper than the archive API.
    pub fn pending(&self, id: &str) -> bool {
        self.mode == AgentMode::Auto
            && self
                .slots
                .lock()
                .is_ok_and(|s| s.get(id).is_some_and(|slot| slot.attempt.get().is_none()))
    }

    /// The agent for `c` if one is ready (in `Always` mode, or with `wait`: started now if need
    /// be; writes wait, since only the agent lands files atomically in a running container).
    pub async fn get(
        &self,
        eng: &Arc<Engine>,
        c: &Arc<ContainerInfo>,
        owners: impl FnOnce() -> OwnersFuture,
        wait: bool,
    ) -> Via {
        if self.mode == AgentMode::Never {
            return Via::Archive("agent disabled".into());
        }
        if c.state != State::Running {
            return Via::Archive(format!("container is {}", c.state.as_str()));
        }
        let gen = eng.generation(&c.id);
        let (attempt, launched, wait) = {
            let Ok(mut slots) = self.slots.lock() else {
                return Via::Archive("internal lock".into());
            };
            let fresh = || Slot {
                gen,
                attempt: Attempt::default(),
                launched: false,
                archive_uses: 0,
            };
            let slot = slots.entry(c.id.clone()).or_insert_with(fresh);
            // A dead agent, or a failure from before the container restarted, is retried.
            let stale = match slot.attempt.get() {
                Some(Ok(conn)) => !conn.is_alive(),
                Some(Err(_)) => slot.gen != gen || gen.is_none(),
                None => false,
            };
            if stale {
                *slot = fresh();
            }
            let launched = slot.launched;
            if self.mode == AgentMode::Auto {
                slot.launched = true;
            }
            slot.archive_uses += 1;
            let wait = wait || slot.archive_uses > ARCHIVE_BUDGET;
            (slot.attempt.clone(), launched, wait)
        };
        if let Some(r) = attempt.get() {
            return via(r);
        }
        let start = {
            let (eng, c, helpers) = (eng.clone(), c.clone(), self.helpers.clone());
            let owners = owners();
            move || async move {
                if super::remote_direct::applies(&eng) {
                    if let Some(r) = start_in_helper(&eng, &c, &helpers).await {
                        return r.map(Arc::new);
                    }
                }
                start(&eng, &c, owners).await.map(Arc::new)
            }
        };
        if self.mode == AgentMode::Always || wait {
            return via(attempt.get_or_init(start).await);
        }
        if !launched {
            let launch: Launch = Box::new(move || {
                tokio::spawn(async move {
                    attempt.get_or_init(start).await;
                })
            });
            if let Ok(mut w) = self.wanted.lock() {
                w.push(launch);
            }
            self.busy.store(true, Ordering::Release);
        }
        Via::Archive("agent not started yet".into())
    }
}

fn via(r: &Result<Arc<AgentConn>, String>) -> Via {
    match r {
        Ok(conn) if conn.is_alive() => Via::Agent(conn.clone()),
        Ok(_) => Via::Archive("agent went away".into()),
        Err(e) => Via::Archive(e.clone()),
    }
}

/// Reads the container's passwd and group files, to turn a user name into ids.
pub type OwnersFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Arc<Owners>> + Send>>;

async fn start(eng: &Engine, c: &ContainerInfo, owners: OwnersFuture) -> Result<AgentConn, String> {
    let target = eng.agent_target(&c.id).await.map_err(|e| e.to_string())?;
    // A read-only root: only a writable mount can take the file, through the container's own
    // shell (`Placement::by_exec`); `/dev` is one where exec is allowed.
    let (dirs, by_exec) = if target.read_only {
        (vec!["/dev".to_string()], true)
    } else {
        (target.dirs, false)
    };
    // The image's architecture is asked beside the start (a round trip less before the
    // agent answers): an image no embedded agent is built for drops the agent it started.
    let arch = eng.image_arch(target.image.as_deref());
    let started = async {
        let binary = binary_for("").ok_or("no agent in this build")?;
        let (uid, gid) = user_ids(&target.user, owners).await?;
        launch(eng, c, dirs, by_exec, binary, uid, gid).await
    };
    let (arch, started) = tokio::join!(arch, started);
    if binary_for(&arch).is_none() {
        return Err(format!("no agent for architecture {arch}"));
    }
    started
}

/// Starts `binary` from the first of `dirs` where it runs, as `uid:gid`.
async fn launch(
    eng: &Engine,
    c: &ContainerInfo,
    dirs: Vec<String>,
    by_exec: bool,
    binary: &[u8],
    uid: u32,
    gid: u32,
) -> Result<AgentConn, String> {
    // Each candidate file is journaled before it can be made (`vfs::temps`): one a start
    // leaves behind (its exec failed, dockerbox was killed during the upload) is removed when
    // the container is reached again, in this session or a later one.
    let files: Vec<(String, String)> = dirs
        .into_iter()
        .map(|dir| {
            let name = super::temps::name(OsStr::new(&format!("dbx-agent-{:x}", random())));
            let path = Path::new(&dir).join(name).to_string_lossy().into_owned();
            (dir, path)
        })
        .collect();
    let tickets: Vec<_> = files
        .iter()
        .map(|(_, f)| super::temps::record(Some(&c.id), Path::new(f)))
        .collect();
    let place = Placement {
        files,
        uid,
        gid,
        container: c.name.clone(),
        engine: eng.addr().to_string(),
        by_exec,
    };
    let docker = eng.client().await.map_err(|e| e.to_string())?;
    let r = AgentConn::start(docker, &c.id, binary, &place).await;
    let left = r
        .as_ref()
        .err()
        .map(|(_, left)| left.clone())
        .unwrap_or_default();
    for ((_, f), t) in place.files.iter().zip(tickets) {
        if left.contains(f) {
            super::temps::orphaned(&c.id, Path::new(f), Some(t));
        } else {
            t.done();
        }
    }
    r.map_err(|(e, _)| e.to_string())
}

/// The remote direct path: an agent in the engine's helper container, chrooted into `c`'s
/// root; `None` where it does not apply (a container whose processes are not root, or run in
/// a user namespace of their own), so the agent goes into the container as usual.
async fn start_in_helper(
    eng: &Arc<Engine>,
    c: &ContainerInfo,
    helpers: &super::remote_direct::Helpers,
) -> Option<Result<AgentConn, String>> {
    let (pid, _) = eng.helper_target(&c.id).await?;
    let binary = binary_for("")?;
    let helper = match helpers.get(eng, binary).await {
        Ok(h) => h,
        Err(e) => return Some(Err(e)),
    };
    let place = Placement {
        files: Vec::new(),
        uid: 0,
        gid: 0,
        container: c.name.clone(),
        engine: eng.addr().to_string(),
        by_exec: false,
    };
    Some(
        AgentConn::start_in_helper(eng, &helper, pid, &c.id, &place)
            .await
            .map_err(|e| e.to_string()),
    )
}

/// `user[:group]` as the container configures it, into numeric ids.
async fn user_ids(spec: &str, owners: OwnersFuture) -> Result<(u32, u32), String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() {
        return Ok((0, 0));
    }
    let numeric = |s: &str| s.parse::<u32>().ok();
    if let (Some(u), Some(g)) = (
        numeric(user),
        group.map_or(Some(None), |g| numeric(g).map(Some)),
    ) {
        return Ok((u, g.unwrap_or(u)));
    }
    let o = owners.await;
    let (uid, primary) = match numeric(user) {
        Some(u) => (u, o.primary_gid(u)),
        None => o
            .user_ids(user)
            .ok_or_else(|| format!("unknown user {user}"))?,
    };
    let gid = match group {
        None => primary.unwrap_or(uid),
        Some(g) => numeric(g)
            .or_else(|| o.gid_of(g))
            .ok_or_else(|| format!("unknown group {g}"))?,
    };
    Ok((uid, gid))
}

/// For a metadata request (idempotent, nothing streamed yet): a connection that ended is the
/// agent gone, so the caller picks a backend again (a new agent, or the archive API once the
/// container stopped) instead of reporting why the old connection ended.
fn meta_error(e: AgentError) -> FsError {
    match e {
        AgentError::Lost(_) => fs_error(AgentError::Gone),
        e => fs_error(e),
    }
}

/// Turns an agent failure into the error a command reports.
pub fn fs_error(e: AgentError) -> FsError {
    e.into()
}

fn bytes(p: &Path) -> Vec<u8> {
    p.as_os_str().as_bytes().to_vec()
}

/// An entry from agent attributes.
pub fn entry(name: OsString, a: &Attr, link: Option<Vec<u8>>) -> Entry {
    let kind = match a.mode & libc::S_IFMT {
        libc::S_IFDIR => Kind::Dir,
        libc::S_IFLNK => Kind::Symlink,
        libc::S_IFIFO => Kind::Fifo,
        libc::S_IFSOCK => Kind::Socket,
        libc::S_IFCHR => Kind::CharDevice,
        libc::S_IFBLK => Kind::BlockDevice,
        _ => Kind::File,
    };
    let mut e = Entry::new(name, kind);
    e.perm = a.mode & 0o7777;
    e.uid = a.uid;
    e.gid = a.gid;
    e.size = a.size;
    e.mtime = a.mtime;
    e.mtime_nsec = a.mtime_nsec;
    e.atime = Some((a.atime, a.atime_nsec));
    e.ctime = Some((a.ctime, a.ctime_nsec));
    e.rdev = a.rdev;
    e.nlink = a.nlink;
    e.blocks_k = a.blocks / 2;
    e.dev = a.dev;
    e.ino = a.ino;
    e.link_target = link.map(|l| PathBuf::from(OsString::from_vec(l)));
    e
}

fn basename(p: &Path) -> OsString {
    p.file_name()
        .map(OsString::from)
        .unwrap_or_else(|| OsString::from("/"))
}

/// `lstat` (or `stat` with `follow`) through the agent; a symlink's target is read too.
pub async fn stat(conn: &AgentConn, path: &Path, follow: bool) -> Result<Entry, FsError> {
    let req = if follow {
        Request::Stat { path: bytes(path) }
    } else {
        Request::Lstat { path: bytes(path) }
    };
    let a = match interrupt::guard(async { conn.call(req).await.map_err(meta_error) }).await? {
        Response::Attr(a) => a,
        other => return Err(FsError::Engine(format!("agent: unexpected {other:?}"))),
    };
    let link = if !follow && a.mode & libc::S_IFMT == libc::S_IFLNK {
        match conn.call(Request::ReadLink { path: bytes(path) }).await {
            Ok(Response::Path(t)) => Some(t),
            _ => None,
        }
    } else {
        None
    };
    Ok(entry(basename(path), &a, link))
}

/// The canonical path (symlinks resolved by the container's kernel).
pub async fn realpath(conn: &AgentConn, path: &Path) -> Option<PathBuf> {
    match conn.call(Request::Realpath { path: bytes(path) }).await {
        Ok(Response::Path(p)) => Some(PathBuf::from(OsString::from_vec(p))),
        _ => None,
    }
}

/// Whether the agent's user (the container's) may read `path`.
pub async fn may_read(conn: &AgentConn, path: &Path) -> bool {
    matches!(
        conn.call(Request::Access {
            path: bytes(path),
            mode: libc::R_OK as u32
        })
        .await,
        Ok(Response::Ok)
    )
}

/// A directory's entries with their attributes, in one round trip.
pub async fn read_dir(conn: &AgentConn, path: &Path) -> Result<Vec<Entry>, FsError> {
    let list =
        interrupt::guard(async { conn.read_dir(bytes(path)).await.map_err(meta_error) }).await?;
    Ok(list
        .into_iter()
        .map(|d| entry(OsString::from_vec(d.name), &d.attr, d.link))
        .collect())
}

/// An agent's tree stream (`ReadTree`) as the channel of tar bytes an archive GET gives, for
/// the same tar reader: unpacked here, bounded (the agent waits for credit meanwhile).
pub fn tree_channel(
    mut s: crate::host::ReadStream,
) -> tokio::sync::mpsc::Receiver<std::io::Result<Bytes>> {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        loop {
            let item = tokio::select! {
                r = s.next() => match r {
                    Ok(Some(b)) => Ok(b),
                    Ok(None) => return,
                    Err(AgentError::Errno(n)) => Err(std::io::Error::from_raw_os_error(n)),
                    Err(e) => Err(std::io::Error::other(e.to_string())),
                },
                _ = interrupt::wait() => Err(std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    "Interrupted",
                )),
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    rx
}

/// A running container's files through its agent, as a [`Backend`].
pub struct AgentFs<'v> {
    pub conn: Arc<AgentConn>,
    pub eng: &'v Arc<Engine>,
    pub c: Arc<ContainerInfo>,
    /// For big files, which the engine's tar stream carries more cheaply (see `open_read`).
    pub archive: &'v super::archive::ArchiveFs,
    pub notes: &'v super::Notes,
}

impl AgentFs<'_> {
    async fn call(&self, req: Request) -> Result<(), FsError> {
        match interrupt::guard(async { self.conn.call(req).await.map_err(meta_error) }).await? {
            Response::Ok => Ok(()),
            other => Err(FsError::Engine(format!("agent: unexpected {other:?}"))),
        }
    }

    /// For a big regular file, the path to stream through the archive API instead: the
    /// engine's tar stream costs less CPU than exec's stdout on a big file (`docker cp` is
    /// faster than `docker exec cat` here). Only when the agent says the container's user may
    /// read it and the engine sees the very same file (size and mtime), so a file on a tmpfs
    /// (which the archive API cannot see) still comes from the agent.
    async fn big_file_via_archive(&self, path: &Path, size_hint: u64) -> Option<PathBuf> {
        const BIG: u64 = 32 << 20;
        // A size known to be small (from a listing) settles it without asking.
        if size_hint < BIG {
            return None;
        }
        let st = stat(&self.conn, path, true).await.ok()?;
        if st.kind != Kind::File || st.size < BIG {
            return None;
        }
        let real = realpath(&self.conn, path).await?;
        // Data that packs well is cheaper packed by the agent than whole through the engine,
        // over a network and locally (measured: bench/cp.sh, bench/remote.sh).
        if let Some((raw, packed)) = self.conn.sample(bytes(&real)).await {
            if packed * 4 < raw * 3 {
                let pct = packed * 100 / raw.max(1);
                let how = format!(
                    "{}: packs to {pct}%, read packed by the agent",
                    real.display()
                );
                self.notes.note(&self.c, &how);
                return None;
            }
        }
        may_read(&self.conn, &real).await.then_some(())?;
        let seen = self.archive.lstat(self.eng, &self.c, &real).await.ok()?;
        (seen.kind == Kind::File && seen.size == st.size && seen.mtime == st.mtime).then(|| {
            let how = format!("{}: big file, streamed by the archive API", real.display());
            self.notes.note(&self.c, &how);
            real
        })
    }
}

/// From `DOCKERBOX_PUT_MIN` bytes on, a new file into a running container on this machine's
/// engine goes by the engine's tar stream (then renamed by the agent) instead of exec's stdin.
/// Off by default: while the engine unpacks, it holds the container (`docker exec`, `top`,
/// `kill` wait for it, so a killed agent or container no longer ends the copy at once), and it
/// measured no faster than exec's stdin here (bench/cp.sh).
fn put_min() -> u64 {
    static MIN: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *MIN.get_or_init(|| {
        std::env::var("DOCKERBOX_PUT_MIN")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX)
    })
}

impl AgentFs<'_> {
    /// A big new file by the engine's tar stream: only where that lands exactly what the
    /// agent would (a local engine, the agent is root, so the file's owner is the same; no
    /// mount point the engine cannot see; the name free); `None` otherwise.
    async fn put_new(
        &self,
        path: &Path,
        attrs: &Attrs,
        size: u64,
    ) -> Option<Result<FileWriter, FsError>> {
        if self.conn.uid != 0 || !self.eng.addr().starts_with("unix://") {
            return None;
        }
        if !matches!(stat(&self.conn, path, false).await, Err(FsError::NotFound)) {
            return None; // an existing file is written in place (the overwrite rule)
        }
        if self.eng.touches_mount(&self.c.id, path).await {
            return None;
        }
        let (tmp, temp) = Temp::beside(&self.c.id, path);
        let tmp_path = path.with_file_name(&tmp);
        let w = self
            .archive
            .create(self.eng, &self.c, &tmp_path, attrs, size)
            .await;
        let how = format!(
            "{}: big new file, landed by the archive API",
            path.display()
        );
        self.notes.note(&self.c, &how);
        Some(match w {
            Ok(w) => Ok(FileWriter::Put(
                w,
                Landing {
                    conn: self.conn.clone(),
                    tmp: tmp_path,
                    dest: path.to_path_buf(),
                    temp,
                },
            )),
            Err(e) => {
                temp.done();
                Err(e)
            }
        })
    }
}

fn boxed<'a, T>(
    f: impl std::future::Future<Output = Result<T, FsError>> + Send + 'a,
) -> BoxFut<'a, T> {
    Box::pin(f)
}

impl Backend for AgentFs<'_> {
    fn lstat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        boxed(stat(&self.conn, path, false))
    }

    fn stat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        boxed(stat(&self.conn, path, true))
    }

    fn read_dir<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Arc<Vec<Entry>>> {
        boxed(async move { read_dir(&self.conn, path).await.map(Arc::new) })
    }

    fn readlink<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        boxed(async move {
            let req = Request::ReadLink { path: bytes(path) };
            match interrupt::guard(async { self.conn.call(req).await.map_err(meta_error) }).await? {
                Response::Path(t) => Ok(PathBuf::from(OsString::from_vec(t))),
                other => Err(FsError::Engine(format!("agent: unexpected {other:?}"))),
            }
        })
    }

    fn realpath<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        boxed(async move {
            let req = Request::Realpath { path: bytes(path) };
            match interrupt::guard(async { self.conn.call(req).await.map_err(meta_error) }).await? {
                Response::Path(p) => Ok(PathBuf::from(OsString::from_vec(p))),
                other => Err(FsError::Engine(format!("agent: unexpected {other:?}"))),
            }
        })
    }

    fn open_read<'a>(&'a self, path: &'a Path, size_hint: u64) -> BoxFut<'a, FileReader> {
        boxed(async move {
            if let Some(real) = self.big_file_via_archive(path, size_hint).await {
                let rx = self.archive.open_read(self.eng, &self.c, &real).await?;
                return Ok(FileReader::Archive(rx));
            }
            let s = self.conn.open_read(bytes(path)).await?;
            Ok(FileReader::Agent(s))
        })
    }

    /// One `ReadAt` per chunk, all in flight at once.
    fn read_at<'a>(&'a self, path: &'a Path, offset: u64, len: usize) -> BoxFut<'a, Bytes> {
        boxed(async move {
            let chunk = dockerbox_proto::CHUNK;
            let asks = (0..len.div_ceil(chunk)).map(|i| {
                let req = Request::ReadAt {
                    path: bytes(path),
                    offset: offset.saturating_add((i * chunk) as u64),
                    len: (len - i * chunk).min(chunk) as u32,
                };
                async move {
                    match self.conn.call(req).await.map_err(meta_error)? {
                        Response::Bytes(b) => Ok(b),
                        other => Err(FsError::Engine(format!("agent: unexpected {other:?}"))),
                    }
                }
            });
            let parts = interrupt::guard(futures_util::future::try_join_all(asks)).await?;
            let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum());
            for (i, p) in parts.iter().enumerate() {
                out.extend_from_slice(p);
                // A short piece is the end of the file: nothing after it counts.
                if p.len() < (len - i * chunk).min(chunk) {
                    break;
                }
            }
            Ok(Bytes::from(out))
        })
    }

    /// One `WriteAt` per chunk, in order (an append must land in order).
    fn write_at<'a>(
        &'a self,
        path: &'a Path,
        offset: u64,
        data: Bytes,
        append: bool,
    ) -> BoxFut<'a, ()> {
        boxed(async move {
            let chunk = dockerbox_proto::CHUNK;
            for (i, piece) in data.chunks(chunk).enumerate() {
                self.call(Request::WriteAt {
                    path: bytes(path),
                    offset: offset.saturating_add((i * chunk) as u64),
                    data: piece.to_vec(),
                    append,
                })
                .await?;
            }
            Ok(())
        })
    }

    fn truncate<'a>(&'a self, path: &'a Path, len: u64) -> BoxFut<'a, ()> {
        boxed(self.call(Request::Truncate {
            path: bytes(path),
            len,
        }))
    }

    fn fsync<'a>(&'a self, path: &'a Path, data_only: bool) -> BoxFut<'a, ()> {
        boxed(self.call(Request::Fsync {
            path: bytes(path),
            data_only,
        }))
    }

    fn statfs<'a>(&'a self, path: &'a Path) -> BoxFut<'a, StatFs> {
        boxed(async move {
            let req = Request::StatFs { path: bytes(path) };
            match interrupt::guard(async { self.conn.call(req).await.map_err(meta_error) }).await? {
                Response::StatFs(s) => Ok(s),
                other => Err(FsError::Engine(format!("agent: unexpected {other:?}"))),
            }
        })
    }

    fn create<'a>(
        &'a self,
        path: &'a Path,
        attrs: Attrs,
        size: u64,
        open: Open,
    ) -> BoxFut<'a, FileWriter> {
        Box::pin(async move {
            if open == Open::Replace && size >= put_min() {
                if let Some(w) = self.put_new(path, &attrs, size).await {
                    return w;
                }
            }
            let (tmp, temp) = Temp::beside(&self.c.id, path);
            let w = self
                .conn
                .begin_write(
                    bytes(path),
                    tmp.as_bytes().to_vec(),
                    attrs.mode,
                    open == Open::Append,
                )
                .await;
            match w {
                Ok(w) => Ok(FileWriter::Agent(w, temp)),
                Err(e) => {
                    temp.done();
                    Err(FsError::from(e))
                }
            }
        })
    }

    fn create_needs_size(&self) -> BoxFut<'_, bool> {
        boxed(async { Ok(false) })
    }

    fn mkdir<'a>(&'a self, path: &'a Path, attrs: Attrs) -> BoxFut<'a, ()> {
        boxed(async move {
            let req = Request::Mkdir {
                path: bytes(path),
                mode: attrs.mode,
            };
            self.call(req).await?;
            if let Some((uid, gid)) = attrs.owner {
                self.chown(path, uid, gid, false).await?;
            }
            if let Some(m) = attrs.mtime {
                self.set_times(path, m, m, false).await?;
            }
            Ok(())
        })
    }

    fn symlink<'a>(&'a self, at: &'a At, attrs: Attrs) -> BoxFut<'a, ()> {
        boxed(async move {
            self.call(Request::Symlink {
                target: bytes(&at.other),
                link: bytes(&at.path),
            })
            .await?;
            if let Some((uid, gid)) = attrs.owner {
                self.chown(&at.path, uid, gid, false).await?;
            }
            Ok(())
        })
    }

    /// An agent that predates `Mknod` answers `EPROTO`: that is `ENOSYS` here, not a request
    /// for another way (the archive API would make the node as the engine, not as the
    /// container may).
    fn mknod<'a>(&'a self, path: &'a Path, kind: Kind, attrs: Attrs, rdev: u64) -> BoxFut<'a, ()> {
        let fmt = match kind {
            Kind::Fifo => libc::S_IFIFO,
            Kind::Socket => libc::S_IFSOCK,
            Kind::CharDevice => libc::S_IFCHR,
            Kind::BlockDevice => libc::S_IFBLK,
            Kind::File | Kind::Dir | Kind::Symlink => {
                return Box::pin(async { Err(FsError::errno_error(libc::EINVAL)) })
            }
        };
        let req = Request::Mknod {
            path: bytes(path),
            mode: fmt | (attrs.mode & 0o7777),
            rdev,
        };
        Box::pin(async move {
            match self.call(req).await {
                Err(e) if e.errno() == libc::EPROTO => {
                    return Err(FsError::errno_error(libc::ENOSYS))
                }
                r => r?,
            }
            if let Some((uid, gid)) = attrs.owner {
                self.chown(path, uid, gid, false).await?;
            }
            Ok(())
        })
    }

    fn remove<'a>(&'a self, path: &'a Path, dir: bool) -> BoxFut<'a, ()> {
        let req = if dir {
            Request::Rmdir { path: bytes(path) }
        } else {
            Request::Unlink { path: bytes(path) }
        };
        boxed(self.call(req))
    }

    fn rename<'a>(&'a self, at: &'a At) -> BoxFut<'a, ()> {
        boxed(self.call(Request::Rename {
            from: bytes(&at.path),
            to: bytes(&at.other),
        }))
    }

    fn link<'a>(&'a self, at: &'a At) -> BoxFut<'a, ()> {
        boxed(self.call(Request::Link {
            from: bytes(&at.path),
            to: bytes(&at.other),
        }))
    }

    fn chmod<'a>(&'a self, path: &'a Path, mode: u32) -> BoxFut<'a, ()> {
        boxed(self.call(Request::Chmod {
            path: bytes(path),
            mode,
        }))
    }

    fn chown<'a>(&'a self, path: &'a Path, uid: u32, gid: u32, follow: bool) -> BoxFut<'a, ()> {
        boxed(self.call(Request::Chown {
            path: bytes(path),
            uid,
            gid,
            follow,
        }))
    }

    fn set_times<'a>(
        &'a self,
        path: &'a Path,
        atime: (i64, u32),
        mtime: (i64, u32),
        follow: bool,
    ) -> BoxFut<'a, ()> {
        boxed(self.call(Request::Utimes {
            path: bytes(path),
            atime,
            mtime,
            follow,
        }))
    }
}
