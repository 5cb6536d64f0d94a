//! The agent backend: a running container's files through the agent dockerbox starts in it.
//!
//! One agent per container per session, started on first use. In `auto` mode the first command
//! is answered by the archive API while the agent starts in the background, so that command is
//! no slower than the archive; everything after goes through the agent. Where it cannot run
//! (read-only root, noexec, paused, another architecture) the archive API serves instead.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dockerbox_proto::{Attr, Request, Response};
use tokio::sync::OnceCell;

use super::owners::Owners;
use super::{Entry, FsError, Kind};
use crate::host::{binary_for, AgentConn, AgentError, ContainerInfo, Engine, Placement, State};
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
        }
    }

    /// Launches the starts the last command asked for; with `wait`, until they are done.
    pub async fn launch(&self, wait: bool) {
        let jobs: Vec<Launch> = self
            .wanted
            .lock()
            .map(|mut v| v.drain(..).collect())
            .unwrap_or_default();
        if let Ok(mut v) = self.starting.lock() {
            v.retain(|h| !h.is_finished());
            v.extend(jobs.into_iter().map(|j| j()));
        }
        if wait {
            self.settle().await;
        }
    }

    /// Waits (10 s at most) for agents still starting.
    pub async fn settle(&self) {
        let handles: Vec<_> = self
            .starting
            .lock()
            .map(|mut v| v.drain(..).collect())
            .unwrap_or_default();
        let all = futures_util::future::join_all(handles);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), all).await;
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
            let (eng, c) = (eng.clone(), c.clone());
            let owners = owners();
            move || async move { start(&eng, &c, owners).await.map(Arc::new) }
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
    if target.read_only {
        return Err("read-only root filesystem".into());
    }
    let binary = binary_for(&target.arch)
        .ok_or_else(|| format!("no agent for architecture {}", target.arch))?;
    let (uid, gid) = user_ids(&target.user, owners).await?;
    let place = Placement {
        dirs: target.dirs,
        uid,
        gid,
        container: c.name.clone(),
        engine: eng.addr().to_string(),
    };
    let docker = eng.client().await.map_err(|e| e.to_string())?;
    AgentConn::start(docker, &c.id, binary, &place)
        .await
        .map_err(|e| e.to_string())
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

/// Turns an agent failure into the error a command reports.
pub fn fs_error(e: AgentError) -> FsError {
    match e {
        AgentError::Errno(n) => FsError::from(std::io::Error::from_raw_os_error(n)),
        AgentError::Gone => FsError::Engine("the agent went away".into()),
        // Already worded for the user (`the container stopped`, `invalid reply from ...`); the
        // error itself rides inside, so `vfs::is_gone` can tell a lost connection by its type.
        e @ (AgentError::Lost(_) | AgentError::Invalid { .. } | AgentError::Stalled { .. }) => {
            FsError::Io(std::io::Error::other(e))
        }
        e => FsError::Engine(e.to_string()),
    }
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
    let a = match interrupt::guard(async { conn.call(req).await.map_err(fs_error) }).await? {
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

/// The connection type, for callers outside this module.
pub type Conn = AgentConn;

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
        interrupt::guard(async { conn.read_dir(bytes(path)).await.map_err(fs_error) }).await?;
    Ok(list
        .into_iter()
        .map(|d| entry(OsString::from_vec(d.name), &d.attr, d.link))
        .collect())
}

/// Streams a file into `out`.
pub async fn read(
    conn: &Arc<AgentConn>,
    path: &Path,
    out: &mut (dyn Write + Send),
) -> Result<u64, FsError> {
    let mut stream = conn.open_read(bytes(path)).await.map_err(fs_error)?;
    let mut total = 0u64;
    loop {
        let chunk = interrupt::guard(async { stream.next().await.map_err(fs_error) }).await?;
        let Some(chunk) = chunk else { return Ok(total) };
        out.write_all(&chunk).map_err(FsError::Io)?;
        total += chunk.len() as u64;
    }
}
