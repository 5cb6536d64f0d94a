//! The namespace: one tree made of the host filesystem, `/containers`, and each container's own
//! filesystem, reached through a backend.
//!
//! Commands ask the [`Vfs`] with a [`VPath`]; it picks the backend. Container symlinks are
//! followed here, confined to the container's root, so no backend can be tricked into the host.

mod agent;
mod archive;
pub mod copy;
mod entry;
mod error;
mod hostfs;
pub mod owners;
pub mod path;
pub mod stream;
pub mod temps;
mod write;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use agent::AgentMode;
pub use entry::{Entry, Kind};
pub use error::{io_text, FsError};
pub use path::VPath;

use crate::host::{ContainerInfo, Engine};
use agent::{Agents, Via};
use owners::Owners;

/// How many symlinks one lookup follows before giving up with ELOOP, as Linux does.
const MAX_LINKS: usize = 40;

/// The whole namespace as commands see it.
pub struct Vfs {
    /// Every engine shown; with more than one, `/containers` holds one directory per engine.
    engines: Vec<Arc<Engine>>,
    archive: archive::ArchiveFs,
    agents: Agents,
    owners: Mutex<HashMap<String, Arc<Owners>>>,
    /// `-v`: say which backend served each container, once per command.
    verbose: bool,
    noted: Mutex<HashSet<String>>,
    /// Where `-v` notes go (the caller's reporter): the namespace never prints.
    notes: Option<Sink>,
}

/// Receives the namespace's `-v` notes, one line each without a prefix (`web: served by ...`).
pub type Sink = Arc<dyn Fn(&str) + Send + Sync>;

impl Vfs {
    /// The namespace over `engines`; `notes` (given with `-v`) receives its notes.
    pub fn new(engines: Vec<Arc<Engine>>, mode: AgentMode, notes: Option<Sink>) -> Vfs {
        path::set_multi_engine(engines.len() > 1);
        // Host temporaries a killed dockerbox left go now (`vfs::temps`).
        temps::load_journals();
        Vfs {
            engines,
            archive: archive::ArchiveFs::default(),
            agents: Agents::new(mode),
            owners: Mutex::new(HashMap::new()),
            verbose: notes.is_some(),
            noted: Mutex::new(HashSet::new()),
            notes,
        }
    }

    fn say(&self, line: &str) {
        if let Some(n) = &self.notes {
            n(line);
        }
    }

    /// Before exit: lets agents that are still starting finish, so nothing is left behind.
    pub async fn settle(&self) {
        self.agents.settle().await;
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
        if let Ok(mut n) = self.noted.lock() {
            n.clear();
        }
    }

    /// The backend for reading `path` in a container now (agent or archive API). A path on a
    /// tmpfs of a running container waits for the agent: the archive API would see the layer
    /// beneath, not the file.
    async fn via(&self, c: &Arc<ContainerInfo>, path: &Path) -> Via {
        let hidden =
            c.state == crate::host::State::Running && self.eng(c).under_tmpfs(&c.id, path).await;
        self.via_with(c, hidden).await
    }

    /// The backend for a container's files; `wait` starts the agent now if it can run (writes
    /// wait: only the agent lands files atomically in a running container).
    async fn via_with(&self, c: &Arc<ContainerInfo>, wait: bool) -> Via {
        let (eng, c2) = (self.eng(c).clone(), c.clone());
        let owners = move || -> agent::OwnersFuture { Box::pin(owners_via_archive(eng, c2)) };
        let v = self.agents.get(self.eng(c), c, owners, wait).await;
        if self.verbose {
            let how = match &v {
                Via::Agent(conn) => format!("served by the agent (started from {})", conn.dir),
                Via::Archive(why) => format!("served by the archive API ({why})"),
            };
            self.note(c, &how);
        }
        v
    }

    /// `-v`: says once per command how a container was served.
    fn note(&self, c: &ContainerInfo, how: &str) {
        if !self.verbose {
            return;
        }
        let line = format!("{}: {how}", c.name);
        if self.noted.lock().is_ok_and(|mut n| n.insert(line.clone())) {
            self.say(&line);
        }
    }

    /// The engine and container a path inside a container belongs to (for `exec`).
    pub async fn container_of(
        &self,
        p: &VPath,
    ) -> Result<(Arc<Engine>, Arc<ContainerInfo>), FsError> {
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

    /// `stat`: follows symlinks.
    pub async fn stat(&self, p: &VPath) -> Result<Entry, FsError> {
        match p {
            VPath::Container { host, name, path } => {
                let c = self.container(host.as_deref(), name).await?;
                for retry in [true, false] {
                    match self.via(&c, path).await {
                        Via::Agent(conn) => match agent::stat(&conn, path, true).await {
                            Err(e) if retry && is_gone(&e) => continue,
                            r => return r,
                        },
                        Via::Archive(_) => break,
                    }
                }
                let (_, e) = self.resolve(&c, path).await?;
                Ok(e)
            }
            VPath::Host(h) => hostfs::stat(h),
            VPath::Containers | VPath::Engine(_) => self.lstat(p).await,
        }
    }

    /// `lstat`: what is at the path itself. `full` asks for owner and link count, which cost
    /// more on the archive backend.
    pub async fn lstat_with(&self, p: &VPath, full: bool) -> Result<Entry, FsError> {
        match p {
            VPath::Host(h) => hostfs::lstat(h, true),
            VPath::Containers => {
                let mut e = Entry::new("containers", Kind::Dir);
                e.perm = 0o555;
                e.nlink = 2;
                Ok(e)
            }
            VPath::Engine(h) => {
                let eng = self.engine(Some(h))?;
                let mut e = Entry::new(h.clone(), Kind::Dir);
                e.perm = 0o555;
                e.nlink = 2;
                e.engine = Some(Arc::new(eng.summary().await));
                Ok(e)
            }
            VPath::Container { host, name, path } => {
                let c = self.container(host.as_deref(), name).await?;
                if path == Path::new("/") {
                    // The root of a container stands for the container in /containers.
                    let mut e = self.archive.lstat(self.eng(&c), &c, path).await?;
                    e.name = name.into();
                    e.container = Some(c);
                    return Ok(e);
                }
                for retry in [true, false] {
                    match self.via(&c, path).await {
                        Via::Agent(conn) => match agent::stat(&conn, path, false).await {
                            Err(e) if retry && is_gone(&e) => continue,
                            r => return r,
                        },
                        Via::Archive(_) => break,
                    }
                }
                let r = if full {
                    self.archive.lstat_full(self.eng(&c), &c, path).await
                } else {
                    self.archive.lstat(self.eng(&c), &c, path).await
                };
                match r {
                    // The engine answers a bare 500 for a symlink it cannot resolve (a loop);
                    // the parent's listing still has it as it is.
                    Err(FsError::Engine(m)) if m.is_empty() => {
                        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                            return Err(FsError::Engine(m));
                        };
                        let list = self.archive.read_dir(self.eng(&c), &c, parent).await?;
                        list.iter()
                            .find(|e| e.name == name)
                            .cloned()
                            .ok_or(FsError::Engine(m))
                    }
                    r => r,
                }
            }
        }
    }

    pub async fn lstat(&self, p: &VPath) -> Result<Entry, FsError> {
        self.lstat_with(p, false).await
    }

    /// The entries of a directory (a symlink to one is followed), unsorted, without `.`/`..`.
    pub async fn read_dir(&self, p: &VPath) -> Result<Arc<Vec<Entry>>, FsError> {
        match p {
            VPath::Host(h) => {
                let mut list = hostfs::read_dir(h)?;
                // The namespace's root holds /containers whether or not the host has one.
                if h == Path::new("/") && !list.iter().any(|e| e.name == "containers") {
                    list.push(self.lstat(&VPath::Containers).await?);
                }
                Ok(Arc::new(list))
            }
            VPath::Containers if self.engines.len() > 1 => {
                // Asked all at once: a slow engine costs its timeout, not the sum of them.
                let sums =
                    futures_util::future::join_all(self.engines.iter().map(|e| e.summary())).await;
                Ok(Arc::new(sums.into_iter().map(engine_entry).collect()))
            }
            VPath::Containers => {
                let table = self.engine(None)?.containers().await?;
                Ok(Arc::new(table.iter().map(container_entry).collect()))
            }
            VPath::Engine(h) => {
                let table = self.engine(Some(h))?.containers().await?;
                Ok(Arc::new(table.iter().map(container_entry).collect()))
            }
            VPath::Container { host, name, path } => {
                let c = self.container(host.as_deref(), name).await?;
                for retry in [true, false] {
                    match self.via(&c, path).await {
                        Via::Agent(conn) => match agent::read_dir(&conn, path).await {
                            Err(e) if retry && is_gone(&e) => continue,
                            r => return r.map(Arc::new),
                        },
                        Via::Archive(_) => break,
                    }
                }
                let (real, e) = self.resolve(&c, path).await?;
                if !e.is_dir() {
                    return Err(FsError::NotADirectory);
                }
                self.archive.read_dir(self.eng(&c), &c, &real).await
            }
        }
    }

    /// Streams a file's bytes into `out`.
    pub async fn read(&self, p: &VPath, out: &mut (dyn Write + Send)) -> Result<u64, FsError> {
        match p {
            VPath::Host(h) => hostfs::read(h, out),
            VPath::Containers | VPath::Engine(_) => Err(FsError::IsADirectory),
            VPath::Container { host, name, path } => {
                let c = self.container(host.as_deref(), name).await?;
                // A regular file the direct path can open: straight from the kernel.
                if let Some(root) = self.eng(&c).proc_root(&c).await {
                    if let Ok(f) = root.open_read(path) {
                        self.note(&c, "read directly through /proc/PID/root");
                        return hostfs::copy_out(f, out);
                    }
                }
                // A stream cannot be retried once bytes went out; only a dead agent at the start.
                if let Via::Agent(conn) = self.via(&c, path).await {
                    if let Some(real) = self.big_file_via_archive(&c, &conn, path, u64::MAX).await {
                        return self.archive.read(self.eng(&c), &c, &real, out).await;
                    }
                    return agent::read(&conn, path, out).await;
                }
                let (real, e) = self.resolve(&c, path).await?;
                if e.is_dir() {
                    return Err(FsError::IsADirectory);
                }
                self.archive.read(self.eng(&c), &c, &real, out).await
            }
        }
    }

    /// For a big regular file, the path to stream through the archive API instead of the agent:
    /// the engine's tar stream costs less CPU than exec's stdout on a big file (`docker cp` is
    /// faster than `docker exec cat` here). Only when the agent says the container's user may
    /// read it and the engine sees the very same file (size and mtime), so a file on a tmpfs
    /// (which the archive API cannot see) still comes from the agent.
    async fn big_file_via_archive(
        &self,
        c: &ContainerInfo,
        conn: &agent::Conn,
        path: &Path,
        size_hint: u64,
    ) -> Option<PathBuf> {
        const BIG: u64 = 32 << 20;
        // A size known to be small (from a listing) settles it without asking.
        if size_hint < BIG {
            return None;
        }
        let st = agent::stat(conn, path, true).await.ok()?;
        if st.kind != Kind::File || st.size < BIG {
            return None;
        }
        let real = agent::realpath(conn, path).await?;
        agent::may_read(conn, &real).await.then_some(())?;
        let seen = self.archive.lstat(self.eng(c), c, &real).await.ok()?;
        (seen.kind == Kind::File && seen.size == st.size && seen.mtime == st.mtime).then(|| {
            if self.verbose {
                self.say(&format!(
                    "{}: {}: big file, streamed by the archive API",
                    c.name,
                    real.display()
                ));
            }
            real
        })
    }

    /// Follows symlinks at the end of `path` inside container `c`; returns the real path and
    /// what is there. Intermediate components are resolved by the engine, inside the root.
    async fn resolve(&self, c: &ContainerInfo, path: &Path) -> Result<(PathBuf, Entry), FsError> {
        let mut cur = path.to_path_buf();
        for _ in 0..MAX_LINKS {
            let e = match self.archive.lstat(self.eng(c), c, &cur).await {
                Err(FsError::Engine(m)) if m.is_empty() => return Err(FsError::Loop),
                r => r?,
            };
            match (&e.kind, &e.link_target) {
                (Kind::Symlink, Some(t)) => cur = path::link_target_in_container(&cur, t),
                _ => return Ok((cur, e)),
            }
        }
        Err(FsError::Loop)
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

/// True when the agent died under a request: the next try starts or picks another backend.
fn is_gone(e: &FsError) -> bool {
    matches!(e, FsError::Engine(m) if m == "the agent went away")
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

/// An engine as a directory of `/containers` (several engines).
fn engine_entry(sum: crate::host::EngineSummary) -> Entry {
    let mut e = Entry::new(sum.name.clone(), Kind::Dir);
    e.perm = 0o555;
    e.nlink = 2;
    e.engine = Some(Arc::new(sum));
    e
}

/// A container as a directory of `/containers`.
fn container_entry(c: &Arc<ContainerInfo>) -> Entry {
    let mut e = Entry::new(c.name.clone(), Kind::Dir);
    e.perm = 0o755;
    e.nlink = 2;
    e.mtime = c.created;
    e.container = Some(c.clone());
    e
}
