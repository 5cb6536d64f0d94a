//! The namespace: one tree made of the host filesystem, `/containers`, and each container's own
//! filesystem, reached through a backend.
//!
//! Commands ask the [`Vfs`] with a [`VPath`]; it picks the backend. Container symlinks are
//! followed here, confined to the container's root, so no backend can be tricked into the host.

mod agent;
mod apps;
mod archive;
pub mod backend;
mod changes;
pub mod copy;
mod direct;
mod entry;
mod error;
#[cfg(test)]
mod fake;
mod hostfs;
mod images;
mod meta;
mod objdoc;
mod offset;
pub mod owners;
pub mod path;
mod remote_direct;
pub mod search;
pub mod stream;
mod synthetic;
pub mod temps;
mod views;
mod volumes;
mod write;

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use agent::AgentMode;
pub use changes::Change;
pub use entry::{Entry, Kind, Object};
pub use error::{io_text, FsError};
pub use offset::NewFile;
pub use path::VPath;

use crate::host::{ContainerInfo, Engine, State};
use agent::{Agents, Via};
use backend::{At, Backend, BoxFut};
use owners::Owners;

/// How many symlinks one lookup follows before giving up with ELOOP, as Linux does.
const MAX_LINKS: usize = 40;

/// Where the namespace's notes go (`-v`: which backend served; big files), one line each
/// without a prefix (`web: served by ...`): the namespace never prints. `None`: nobody wants
/// them.
pub type Sink = Arc<dyn Fn(&str) + Send + Sync>;

/// The notes of one command, each said once.
pub struct Notes {
    sink: Option<Sink>,
    noted: Mutex<HashSet<String>>,
}

impl Notes {
    /// Says `how` about container `c`, once per command.
    fn note(&self, c: &ContainerInfo, how: &str) {
        let Some(sink) = &self.sink else { return };
        let line = format!("{}: {how}", c.name);
        if self.noted.lock().is_ok_and(|mut n| n.insert(line.clone())) {
            sink(&line);
        }
    }
}

/// The `dev` of entries whose backend has no inode numbers (`/containers`, `/meta`): their
/// `ino` is a hash of their path ([`stamp`]), stable, so a frontend can hand it out.
const NAMESPACE_DEV: u64 = 0xdb0c_0001;

/// Gives an entry without an inode number (0) one that stands for its path.
fn stamp(path: impl FnOnce() -> PathBuf, e: &mut Entry) {
    if e.ino == 0 {
        e.dev = NAMESPACE_DEV;
        e.ino = archive::path_id(&path());
    }
}

/// [`stamp`] for a listing of `dir`; copied only when some entry lacks a number.
fn stamp_all(dir: &VPath, list: Arc<Vec<Entry>>) -> Arc<Vec<Entry>> {
    if list.iter().all(|e| e.ino != 0) {
        return list;
    }
    let base = dir.to_path();
    let mut list = list;
    for e in Arc::make_mut(&mut list) {
        let path = base.join(&e.name);
        stamp(|| path, e);
    }
    list
}

/// How many changes a subscriber may fall behind by; beyond that it is told `Lagged` and must
/// let everything go (as for [`Change::All`]).
const CHANGES_KEPT: usize = 1024;

/// What an operation needs from the backend that serves it; the route follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Names and types (a plain listing, a glob, completion): whatever answers first.
    Names,
    /// Every attribute exact (a long listing, owners and link counts): in a running container
    /// never the archive API's guesses, so the agent is waited for unless the direct path
    /// serves.
    Exact,
    /// A file's bytes.
    Read,
    /// A change: in a running container only the agent (or the direct path) lands it whole.
    Write,
    /// A change to a file's bytes in place (a mount's writes at an offset, truncate, fsync):
    /// routed as `Write`, but not announced on the change channel, whose subscriber made it
    /// (a 1 GB file written through a mount would be 8,000 changes).
    InPlace,
}

impl Need {
    /// Whether this changes something (routed as a write).
    fn writes(self) -> bool {
        matches!(self, Need::Write | Need::InPlace)
    }
}

/// One step of a route. The agent's and the archive API's are made into backends only when
/// the route gets there (so a container the direct path serves never has an agent started).
enum Hop<'v> {
    /// A backend ready to ask.
    Ready(Arc<dyn Backend + 'v>),
    /// The agent if it serves now (waited for when `wait`), else the archive API; unless
    /// `blind`: the archive API would answer wrong (a mount point), so the agent's failure to
    /// start is the answer.
    Served { wait: bool, blind: bool },
    /// The archive API after the agent.
    Archive(String),
}

/// The tar bytes a running container's listing may take through the archive API before its
/// agent is started and asked instead (about as long as that start, at the engine's pace).
const ARCHIVE_LISTING_BUDGET: u64 = 4 << 20;

/// A route of one backend.
fn ready<'v>(b: Arc<dyn Backend + 'v>) -> VecDeque<Hop<'v>> {
    [Hop::Ready(b)].into()
}

/// The whole namespace as commands see it.
pub struct Vfs {
    /// Every engine shown; with more than one, `/containers` holds one directory per engine.
    engines: Vec<Arc<Engine>>,
    archive: archive::ArchiveFs,
    /// The never-started containers `/images` and `/volumes` read through, removed in
    /// [`Vfs::settle`].
    views: views::Views,
    /// The engines' PIDs, for the direct path into `/volumes`.
    volumes: volumes::Pids,
    /// The engines' swarm nodes, for `/apps`' stacks.
    swarm: apps::Nodes,
    agents: Agents,
    owners: Mutex<HashMap<String, Arc<Owners>>>,
    notes: Notes,
    changes: tokio::sync::broadcast::Sender<Change>,
    /// Unit tests: the backends that serve host paths instead of the host.
    #[cfg(test)]
    test_chain: Mutex<Vec<Arc<dyn Backend>>>,
}

impl Vfs {
    /// The namespace over `engines`; `notes` receives `-v`'s lines (without a prefix).
    pub fn new(engines: Vec<Arc<Engine>>, mode: AgentMode, notes: Option<Sink>) -> Vfs {
        path::set_multi_engine(engines.len() > 1);
        // Host temporaries a killed dockerbox left go now (`vfs::temps`).
        temps::load_journals();
        let changes = tokio::sync::broadcast::channel(CHANGES_KEPT).0;
        for e in &engines {
            // The engine's own events (`docker restart`, `docker cp` done elsewhere) as changes.
            let (tx, host) = (
                changes.clone(),
                (engines.len() > 1).then(|| e.name().to_string()),
            );
            e.on_events(Arc::new(move |ev| {
                for c in changes::of_event(host.as_deref(), ev) {
                    let _ = tx.send(c);
                }
            }));
        }
        Vfs {
            engines,
            archive: archive::ArchiveFs::default(),
            views: views::Views::default(),
            volumes: volumes::Pids::default(),
            swarm: apps::Nodes::default(),
            agents: Agents::new(mode),
            owners: Mutex::new(HashMap::new()),
            notes: Notes {
                sink: notes,
                noted: Mutex::new(HashSet::new()),
            },
            changes,
            #[cfg(test)]
            test_chain: Mutex::new(Vec::new()),
        }
    }

    /// Unit tests: host paths are served by `chain`, in order.
    #[cfg(test)]
    pub fn set_test_chain(&self, chain: Vec<Arc<dyn Backend>>) {
        if let Ok(mut c) = self.test_chain.lock() {
            *c = chain;
        }
    }

    /// Before exit: lets agents that are still starting finish, so nothing is left behind.
    pub async fn settle(&self) {
        self.agents.settle().await;
        self.views.remove_all(&self.engines).await;
        self.agents.helpers.remove_all().await;
    }

    /// Starts the agents the last command wanted (`auto` mode). Interactive sessions start them
    /// in the background while the user types; scripts wait, so the next command can use them.
    pub async fn launch_agents(&self, wait: bool) {
        self.agents.launch(wait).await;
    }

    /// A host program ran: what the engine says may have changed under us.
    pub fn host_command_ran(&self) {
        for e in &self.engines {
            e.invalidate();
        }
        self.changed(Change::All);
    }

    /// Tells subscribers (and the archive cache) that something changed.
    fn changed(&self, what: Change) {
        if let Change::Path(VPath::Container { host, name, .. }) = &what {
            if let Some(c) = self
                .engine(host.as_deref())
                .ok()
                .and_then(|e| e.cached(name))
            {
                self.archive.forget(&c.id);
            }
        }
        let _ = self.changes.send(what);
    }

    /// Changes for caches kept outside the namespace (a FUSE mount's): writes made through it,
    /// host programs having run, and the engines' container events (`vfs::changes`). A
    /// receiver that lags (`RecvError::Lagged`) must drop everything, as for `Change::All`.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Every engine, in `/containers` order.
    fn engines(&self) -> &[Arc<Engine>] {
        &self.engines
    }

    /// `--timeout`: how long anything interactive (Tab) may wait for an engine.
    pub fn timeout(&self) -> std::time::Duration {
        self.engines
            .iter()
            .map(|e| e.timeout())
            .max()
            .unwrap_or(std::time::Duration::from_secs(5))
    }

    /// The engine a container lives on.
    fn eng(&self, c: &ContainerInfo) -> &Arc<Engine> {
        // Every ContainerInfo comes from one of our engines, numbered by its place in the list.
        &self.engines[c.engine.min(self.engines.len() - 1)]
    }

    /// The engine `host` names (`None`: the only one).
    pub fn engine(&self, host: Option<&str>) -> Result<&Arc<Engine>, FsError> {
        match host {
            None if self.engines.len() == 1 => Ok(&self.engines[0]),
            None => Err(FsError::NotFound),
            Some(h) => self
                .engines
                .iter()
                .find(|e| e.name() == h)
                .ok_or(FsError::NotFound),
        }
    }

    /// Called before each command: `-v` notes start afresh.
    pub fn begin_command(&self) {
        if let Ok(mut n) = self.notes.noted.lock() {
            n.clear();
        }
    }

    /// The backend for a container's files; `wait` starts the agent now if it can run (writes
    /// wait: only the agent lands files atomically in a running container).
    async fn via_with(&self, c: &Arc<ContainerInfo>, wait: bool) -> Via {
        let (eng, c2) = (self.eng(c).clone(), c.clone());
        let owners = move || -> agent::OwnersFuture { Box::pin(owners_via_archive(eng, c2)) };
        let v = self.agents.get(self.eng(c), c, owners, wait).await;
        let how = match &v {
            Via::Agent(conn) => format!("served by the agent (started from {})", conn.dir),
            Via::Archive(why) => format!("served by the archive API ({why})"),
        };
        self.notes.note(c, &how);
        v
    }

    /// The engine and container a path inside a container belongs to (for `exec`).
    pub async fn container_of(
        &self,
        p: &VPath,
    ) -> Result<(Arc<Engine>, Arc<ContainerInfo>), FsError> {
        let through;
        let p = match p {
            VPath::Apps(a) => match apps::through(self, a).await? {
                Some(c) => {
                    through = c;
                    &through
                }
                None => p,
            },
            p => p,
        };
        match p {
            VPath::Container { host, name, .. } => {
                let c = self.container(host.as_deref(), name).await?;
                Ok((self.eng(&c).clone(), c))
            }
            _ => Err(FsError::NoSuchContainer),
        }
    }

    /// The container a path is in, looked up by name or ID prefix.
    pub async fn container(
        &self,
        host: Option<&str>,
        name: &str,
    ) -> Result<Arc<ContainerInfo>, FsError> {
        let c = self.engine(host)?.find(name).await?;
        if c.state == crate::host::State::Running {
            // Temporaries a dead writer left there go first (`vfs::temps`).
            self.sweep(&c).await;
        }
        Ok(c)
    }

    /// The route for `p`: the path inside the filesystem that serves it, its container, and
    /// the backends to ask in order. The one place that looks at what kind of path it is.
    async fn route(
        &self,
        p: &VPath,
        need: Need,
    ) -> Result<(PathBuf, Option<Arc<ContainerInfo>>, VecDeque<Hop<'_>>), FsError> {
        if let Some(errno) = p.limits_error() {
            return Err(FsError::errno_error(errno));
        }
        // Below a service link of /apps: the container path it leads to.
        let through;
        let p = match p {
            VPath::Apps(a) => match apps::through(self, a).await? {
                Some(c) => {
                    through = c;
                    &through
                }
                None => return Ok((a.clone(), None, ready(Arc::new(apps::Apps { vfs: self })))),
            },
            p => p,
        };
        let (host, name, path) = match p {
            #[cfg(test)]
            VPath::Host(h) if self.test_chain.lock().is_ok_and(|c| !c.is_empty()) => {
                let chain = self
                    .test_chain
                    .lock()
                    .map(|c| c.clone())
                    .unwrap_or_default();
                return Ok((h.clone(), None, chain.into_iter().map(Hop::Ready).collect()));
            }
            VPath::Host(h) => return Ok((h.clone(), None, ready(Arc::new(hostfs::HostFs)))),
            VPath::Containers => {
                let b = Arc::new(synthetic::Containers {
                    vfs: self,
                    host: None,
                });
                return Ok(("/".into(), None, ready(b)));
            }
            VPath::Engine(h) => {
                let b = Arc::new(synthetic::Containers {
                    vfs: self,
                    host: Some(h.clone()),
                });
                return Ok(("/".into(), None, ready(b)));
            }
            VPath::Meta(p) => {
                return Ok((p.clone(), None, ready(Arc::new(meta::Meta { vfs: self }))))
            }
            VPath::Images(p) => {
                return Ok((
                    p.clone(),
                    None,
                    ready(Arc::new(images::Images { vfs: self })),
                ))
            }
            VPath::Apps(_) => return Err(FsError::NotFound),
            VPath::Volumes(p) => {
                let b = Arc::new(volumes::Volumes {
                    vfs: self,
                    at: p.clone(),
                });
                return Ok((p.clone(), None, ready(b)));
            }
            VPath::Container { host, name, path } => (host, name, path),
        };
        if need.writes() && path == Path::new("/") {
            return Err(FsError::errno_error(libc::EBUSY));
        }
        let c = self.container(host.as_deref(), name).await?;
        let mut hops = VecDeque::new();
        // The kernel's filesystems answer by who asks (`/proc/self`, `/proc/kallsyms`): only a
        // process in the container (the agent) sees them as the container does.
        let kernel = path.starts_with("/proc") || path.starts_with("/sys");
        let direct = if kernel {
            None
        } else {
            self.eng(&c).proc_root(&c).await
        };
        if let Some(root) = direct {
            hops.push_back(Hop::Ready(Arc::new(direct::DirectFs {
                root,
                c: c.clone(),
                notes: &self.notes,
            })));
        }
        let running = c.state == State::Running;
        // The archive API sees the layer beneath a tmpfs or `/dev`, not the files on it, and
        // none of the kernel's filesystems (`Engine::mounts`).
        let blind = running && (kernel || self.eng(&c).under_mount(&c.id, path).await);
        let wait = match need {
            Need::Write | Need::InPlace => true,
            Need::Exact => running,
            Need::Names | Need::Read => blind,
        };
        hops.push_back(Hop::Served { wait, blind });
        Ok((path.clone(), Some(c), hops))
    }

    /// Makes the backend a hop stands for; an agent that serves is followed by the archive API.
    async fn backend<'v>(
        &'v self,
        hop: Hop<'v>,
        c: &Option<Arc<ContainerInfo>>,
        need: Need,
        rest: &mut VecDeque<Hop<'v>>,
    ) -> Result<Option<Arc<dyn Backend + 'v>>, FsError> {
        let full = need == Need::Exact;
        Ok(Some(match (hop, c) {
            (Hop::Ready(b), _) => b,
            (Hop::Served { wait, blind }, Some(c)) => match self.via_with(c, wait).await {
                Via::Agent(conn) => {
                    rest.push_back(Hop::Archive("the agent does not do this".into()));
                    Arc::new(agent::AgentFs {
                        conn,
                        eng: self.eng(c),
                        c: c.clone(),
                        archive: &self.archive,
                        notes: &self.notes,
                    })
                }
                Via::Archive(why) if blind => return Err(FsError::Blind(why)),
                Via::Archive(why) => {
                    let mut b = self.archive_of(c, why, full);
                    // A big tree's listing (`/`, `/usr`: the engine sends the whole subtree)
                    // is given up for the agent, started for it.
                    if !wait && c.state == State::Running && self.agents.pending(&c.id) {
                        b.budget = Some(ARCHIVE_LISTING_BUDGET);
                        rest.push_back(Hop::Served { wait: true, blind });
                    }
                    Arc::new(b)
                }
            },
            (Hop::Archive(why), Some(c)) => Arc::new(self.archive_of(c, why, full)),
            (_, None) => return Ok(None),
        }))
    }

    fn archive_of<'v>(
        &'v self,
        c: &Arc<ContainerInfo>,
        why: String,
        full: bool,
    ) -> archive::ArchiveBackend<'v> {
        archive::ArchiveBackend {
            fs: &self.archive,
            eng: self.eng(c),
            c: c.clone(),
            why,
            full,
            budget: None,
        }
    }

    /// Runs `op` on the backends of `p`'s route in order: the next one on `Unsupported`, the
    /// route picked again (once) on `Gone`. `other` is the second path of `rename`, `link` and
    /// `symlink` (its target), already inside the same filesystem.
    async fn serve<T, F>(&self, p: &VPath, need: Need, other: &Path, op: F) -> Result<T, FsError>
    where
        F: for<'b> Fn(&'b dyn Backend, &'b At) -> BoxFut<'b, T>,
    {
        let mut picked_again = false;
        // Whether a backend said only the agent sees the path (`OnMount`) and it was waited for.
        let mut waited = false;
        // What the last backend that declined a write says of it (a read-only tree: EROFS).
        let mut refused = FsError::Unsupported;
        'pick: loop {
            let (path, c, mut hops) = self.route(p, need).await?;
            let at = At {
                path,
                other: other.to_path_buf(),
            };
            while let Some(hop) = hops.pop_front() {
                let Some(b) = self.backend(hop, &c, need, &mut hops).await? else {
                    break;
                };
                match op(&*b, &at).await {
                    Err(FsError::OnMount)
                        if !waited && c.as_ref().is_some_and(|c| c.state == State::Running) =>
                    {
                        // A process in the container sees it differently (a link onto `/proc`
                        // or a tmpfs): its agent answers, started and waited for if need be.
                        waited = true;
                        hops = [Hop::Served {
                            wait: true,
                            blind: true,
                        }]
                        .into();
                        continue;
                    }
                    Err(FsError::Unsupported | FsError::OnMount) => {
                        if need.writes() {
                            refused = b.refuse_write();
                        }
                        continue;
                    }
                    Err(FsError::Gone) if !picked_again => {
                        picked_again = true;
                        continue 'pick;
                    }
                    r => {
                        if need == Need::Write && r.is_ok() {
                            self.changed(Change::Path(p.clone()));
                        }
                        return r;
                    }
                }
            }
            return Err(refused);
        }
    }

    /// `stat`: follows symlinks.
    pub async fn stat(&self, p: &VPath) -> Result<Entry, FsError> {
        let mut e = self
            .serve(p, Need::Names, Path::new(""), |b, at| b.stat(&at.path))
            .await?;
        stamp(|| p.to_path(), &mut e);
        Ok(e)
    }

    /// `lstat`: what is at the path itself. `full` asks for every attribute exact (owner, link
    /// count), which the archive API may not know.
    pub async fn lstat_with(&self, p: &VPath, full: bool) -> Result<Entry, FsError> {
        let need = if full { Need::Exact } else { Need::Names };
        let mut e = self
            .serve(p, need, Path::new(""), |b, at| b.lstat(&at.path))
            .await?;
        if let VPath::Container { host, name, path } = p {
            if path == Path::new("/") {
                // The root of a container stands for the container in /containers.
                e.name = name.into();
                e.container = Some(self.container(host.as_deref(), name).await?);
            }
        }
        stamp(|| p.to_path(), &mut e);
        Ok(e)
    }

    pub async fn lstat(&self, p: &VPath) -> Result<Entry, FsError> {
        self.lstat_with(p, false).await
    }

    /// The entries of a directory (a symlink to one is followed), unsorted, without `.`/`..`.
    pub async fn read_dir(&self, p: &VPath) -> Result<Arc<Vec<Entry>>, FsError> {
        self.read_dir_with(p, false).await
    }

    /// `read_dir`; with `full`, every attribute exact (a long listing).
    pub async fn read_dir_with(&self, p: &VPath, full: bool) -> Result<Arc<Vec<Entry>>, FsError> {
        let need = if full { Need::Exact } else { Need::Names };
        let list = self
            .serve(p, need, Path::new(""), |b, at| b.read_dir(&at.path))
            .await?;
        Ok(stamp_all(p, list))
    }

    /// A symlink's target, as written.
    pub async fn readlink(&self, p: &VPath) -> Result<PathBuf, FsError> {
        self.serve(p, Need::Names, Path::new(""), |b, at| b.readlink(&at.path))
            .await
    }

    /// The path with every symlink resolved, inside its filesystem.
    #[allow(dead_code)] // for the FUSE frontend to come
    pub async fn realpath(&self, p: &VPath) -> Result<PathBuf, FsError> {
        self.serve(p, Need::Names, Path::new(""), |b, at| b.realpath(&at.path))
            .await
    }

    /// Up to `len` bytes of a file at `offset` (where a backend reads at an offset: the host,
    /// the direct path and the agent; the archive API says `Unsupported`, and a reader streams
    /// instead).
    pub async fn read_at(
        &self,
        p: &VPath,
        offset: u64,
        len: usize,
    ) -> Result<bytes::Bytes, FsError> {
        self.serve(p, Need::Read, Path::new(""), |b, at| {
            b.read_at(&at.path, offset, len)
        })
        .await
    }

    /// Streams a file's bytes into `out`. Opening is routed (and retried on a dead backend);
    /// a stream cannot be retried once bytes went out.
    pub async fn read(&self, p: &VPath, out: &mut (dyn Write + Send)) -> Result<u64, FsError> {
        let early = self.early_download(p);
        let mut r = self
            .serve(p, Need::Read, Path::new(""), |b, at| {
                b.open_read(&at.path, u64::MAX)
            })
            .await?;
        drop(early);
        let mut total = 0u64;
        while let Some(chunk) = r.next().await? {
            out.write_all(&chunk).map_err(FsError::Io)?;
            total += chunk.len() as u64;
        }
        Ok(total)
    }

    /// A session's first read of a container file sends its archive download beside the
    /// container's lookup (`ArchiveFs::early`), where the archive API is what will answer it:
    /// not for an agent waited for (`--agent always`) nor where the direct path may serve.
    fn early_download(&self, p: &VPath) -> Option<archive::EarlyGuard<'_>> {
        let VPath::Container { host, name, path } = p else {
            return None;
        };
        let eng = self.engine(host.as_deref()).ok()?;
        // Off unless asked for: under load a dropped early download was seen to leave the
        // engine's `docker-tar` holding the container, and the next request hung.
        if std::env::var_os("DOCKERBOX_EARLY_GET").is_none_or(|v| v != "1") {
            return None;
        }
        if self.agents.mode() == AgentMode::Always || eng.may_go_direct() {
            return None;
        }
        self.archive.early(eng, name, path)
    }

    /// User and group names for the filesystem `p` is on: the container's own /etc/passwd and
    /// /etc/group, or the host's.
    pub async fn owners(&self, p: &VPath) -> Arc<Owners> {
        let (key, passwd, group) = match p {
            VPath::Container { host, name, .. } => {
                match self.container(host.as_deref(), name).await {
                    Ok(c) => (
                        c.id.clone(),
                        VPath::Container {
                            host: host.clone(),
                            name: name.clone(),
                            path: "/etc/passwd".into(),
                        },
                        VPath::Container {
                            host: host.clone(),
                            name: name.clone(),
                            path: "/etc/group".into(),
                        },
                    ),
                    Err(_) => return Arc::new(Owners::default()),
                }
            }
            _ => (
                String::new(),
                VPath::Host("/etc/passwd".into()),
                VPath::Host("/etc/group".into()),
            ),
        };
        if let Some(o) = self.owners.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return o;
        }
        let mut pw = owners::Limited::new(1 << 20);
        let mut gr = owners::Limited::new(1 << 20);
        let _ = self.read(&passwd, &mut pw).await;
        let _ = self.read(&group, &mut gr).await;
        let o = Arc::new(Owners::parse(&pw.into_inner(), &gr.into_inner()));
        if let Ok(mut m) = self.owners.lock() {
            m.insert(key, o.clone());
        }
        o
    }
}

/// A container's passwd and group through the archive API (used to start the agent itself).
async fn owners_via_archive(eng: Arc<Engine>, c: Arc<ContainerInfo>) -> Arc<Owners> {
    let fs = archive::ArchiveFs::default();
    let mut pw = owners::Limited::new(1 << 20);
    let mut gr = owners::Limited::new(1 << 20);
    let _ = fs.read(&eng, &c, Path::new("/etc/passwd"), &mut pw).await;
    let _ = fs.read(&eng, &c, Path::new("/etc/group"), &mut gr).await;
    Arc::new(Owners::parse(&pw.into_inner(), &gr.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Never run, only compiled: what a frontend on other threads (FUSE) calls gives `Send`
    /// futures, so a change that breaks that fails the build.
    #[allow(dead_code)]
    fn operations_are_send(v: &Vfs, p: &VPath, q: &VPath, attrs: &stream::Attrs) {
        fn send<T: Send>(_: &T) {}
        send(&v.stat(p));
        send(&v.lstat_with(p, true));
        send(&v.read_dir_with(p, true));
        send(&v.readlink(p));
        send(&v.realpath(p));
        send(&v.read_at(p, 0, 1));
        send(&v.create(p, attrs, 0));
        send(&v.mkdir(p, attrs));
        send(&v.remove(p, false));
        send(&v.rename(p, q));
        send(&v.chmod(p, 0o644));
        send(&v.subscribe());
    }

    #[test]
    fn entries_without_inode_numbers_get_stable_ones_from_their_paths() {
        let mut real = Entry::new("real", Kind::File);
        (real.dev, real.ino) = (7, 42);
        let list = Arc::new(vec![
            Entry::new("a", Kind::Dir),
            real,
            Entry::new("b", Kind::Dir),
        ]);
        let dir = VPath::Containers;
        let once = stamp_all(&dir, list.clone());
        let again = stamp_all(&dir, list);
        let ids: Vec<(u64, u64)> = once.iter().map(|e| (e.dev, e.ino)).collect();
        assert_eq!(
            ids,
            again.iter().map(|e| (e.dev, e.ino)).collect::<Vec<_>>()
        );
        assert!(ids.iter().all(|&(_, ino)| ino != 0));
        assert_eq!(ids[1], (7, 42), "a real number stays");
        assert_ne!(ids[0], ids[2]);
        // The same path by lstat gets the number its listing gave.
        let mut e = Entry::new("a", Kind::Dir);
        stamp(|| PathBuf::from("/containers/a"), &mut e);
        assert_eq!((e.dev, e.ino), ids[0]);
        // A listing with every number real is not copied.
        let full = Arc::new(vec![once[1].clone()]);
        assert!(Arc::ptr_eq(&full, &stamp_all(&dir, full.clone())));
    }
}
