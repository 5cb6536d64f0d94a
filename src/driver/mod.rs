//! `dockerbox volume-driver`: a Docker volume plugin (the legacy socket kind) whose volumes
//! are sub-trees of the namespace, so `docker run -v weblogs:/logs` gives a container another
//! container's `/var/log`, live.
//!
//! It listens on `/run/docker/plugins/NAME.sock` (or a socket systemd hands it), answers the
//! plugin protocol (`protocol.rs`, pure) over a small HTTP/1.1 server of its own, and keeps its
//! volumes, and their live mounts, in a state file (`state.rs`). A volume is
//! `src=/containers/[HOST/]NAME/PATH`, `/volumes/NAME/PATH` or `/images/IMAGE/PATH` (and `ro`).
//! One FUSE session serves the whole namespace for every volume (`mount::serve`, at
//! `STATE/mounts/.namespace`, root-only, symlinks shown relative to their own directory); a
//! volume's first `Mount` bind-mounts its source directory from it onto `STATE/mounts/VOLUME`
//! (read-only there for `ro`), which the engine bind-mounts into the container: it sees exactly
//! the source's sub-tree. Mounts are counted per engine-given ID; the last `Unmount` of a
//! volume removes its bind, and the session ends with the last bind. A restarted driver binds
//! again every volume whose mounts were not all unmounted (the consumers that already ran keep
//! a dead mount: see ARCHITECTURE.md).
//!
//! **Self-mounts are refused.** A container given its own files through the driver would
//! serve its own reads (a lookup in the mount goes back into the container, through the
//! mount). The engine's `Mount` ID is a random one per mount (moby's `MountPoint.Setup`), not
//! the consumer's, so `Mount` asks the engine which containers name the volume (`docker ps -a
//! --filter volume=NAME`) and refuses when the source container is one of them and is not
//! running: it may be the one being started, and if it is not, its files can only be read
//! through the engine's archive API, which mounts that container's volumes first, this one
//! included (a `Mount` inside this `Mount`). A running source that names the volume got its
//! mounts already: its consumers are served. The check is made before anything touches the
//! source container (whose lock the engine may be holding for the start).

pub mod protocol;
pub mod state;

use std::collections::HashMap;
use std::os::fd::FromRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use crate::mount::Served;
use crate::vfs::{io_text, FsError, Kind, Sink, VPath, Vfs};
use protocol::{Call, Parsed, Reply, VolumeInfo};
use state::{Volume, Volumes};

/// Where the engine looks for legacy plugins' sockets.
pub const PLUGIN_DIR: &str = "/run/docker/plugins";

/// How long a request may take to arrive once it started.
const REQUEST_SECS: u64 = 30;

/// How long the first look at a new mount's directory may take: a source that does not
/// answer fails the container's start with a reason instead of holding it.
const MOUNT_SECS: u64 = 20;

/// What `dockerbox volume-driver` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// The plugin's name: `docker volume create -d NAME`.
    pub name: String,
    /// Holds `volumes.json` and `mounts/`.
    pub state: PathBuf,
}

/// Why the driver cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("volume-driver: {0}")]
    Start(String),
    /// (Not a `source`: the one reporter prints the chain, and this is all of it.)
    #[error("volume-driver: {0}")]
    State(state::StateError),
}

fn start_err(what: impl std::fmt::Display, e: &std::io::Error) -> DriverError {
    DriverError::Start(format!("{what}: {}", io_text(e)))
}

/// Serves until SIGINT, SIGTERM or SIGHUP; then unmounts every volume and removes its socket.
pub fn run(
    rt: &tokio::runtime::Runtime,
    vfs: Arc<Vfs>,
    opts: &Options,
    log: Sink,
) -> Result<i32, DriverError> {
    check_name(&opts.name).map_err(|why| DriverError::Start(format!("--name: {why}")))?;
    crate::mount::check_fuse().map_err(DriverError::Start)?;
    std::fs::create_dir_all(&opts.state).map_err(|e| start_err(opts.state.display(), &e))?;
    // Mountpoints go to the engine, which wants them absolute.
    let dir =
        std::fs::canonicalize(&opts.state).map_err(|e| start_err(opts.state.display(), &e))?;
    let state_file = dir.join("volumes.json");
    let _lock = lock(&dir.join("volumes.json.lock"))?;
    let vols = state::load(&state_file).map_err(DriverError::State)?;
    state::remove_temps(&state_file);
    let mounts = dir.join("mounts");
    std::fs::create_dir_all(&mounts).map_err(|e| start_err(mounts.display(), &e))?;
    // The namespace is reached through these: root only.
    std::fs::set_permissions(&mounts, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| start_err(mounts.display(), &e))?;
    for dead in mounted_under(&mounts) {
        // A driver that died left these (ENOTCONN): detached, so they can be mounted again.
        detach(&dead);
    }
    let driver = Arc::new(Driver {
        vfs: vfs.clone(),
        rt: rt.handle().clone(),
        state_file,
        mounts,
        log: log.clone(),
        table: tokio::sync::Mutex::new(Table {
            vols,
            live: HashMap::new(),
        }),
        ops: tokio::sync::Mutex::new([None, None]),
    });
    let _guard = rt.enter();
    let (listener, made) = listen(&opts.name)?;
    log(&format!(
        "serving {} volume(s) as plugin {} on {}",
        rt.block_on(async { driver.table.lock().await.vols.len() }),
        opts.name,
        made.as_ref()
            .map_or("the socket systemd passed".to_string(), |m| m
                .path
                .display()
                .to_string())
    ));
    // Mounted again in the background: the engine's calls wait for it (they take `ops`).
    rt.spawn({
        let d = driver.clone();
        async move { d.restore().await }
    });
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            log("cannot catch signals");
            return;
        };
        loop {
            tokio::select! {
                c = listener.accept() => match c {
                    Ok((s, _)) => {
                        tokio::spawn(connection(driver.clone(), s));
                    }
                    Err(e) => {
                        log(&format!("accept: {}", io_text(&e)));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                _ = int.recv() => break,
                _ = term.recv() => break,
                _ = hup.recv() => break,
            }
        }
    });
    drop(listener);
    if let Some(m) = made {
        m.remove();
    }
    rt.block_on(async {
        let mut sessions = driver.ops.lock().await;
        let n = driver.table.lock().await.live.drain().count();
        driver.detach_unused(&mut sessions).await;
        log(&format!("stopped; {n} mount(s) unmounted"));
        vfs.settle().await;
    });
    Ok(0)
}

/// A plugin name or volume name: one safe path component (`[A-Za-z0-9][A-Za-z0-9_.-]*`, as
/// the engine's own volumes).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok_first = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric());
    let ok_rest = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !ok_first || !ok_rest || name.len() > 200 {
        return Err(format!(
            "{name:?}: not a valid name (letters, digits, '_', '.', '-', starting with a letter or digit, at most 200)"
        ));
    }
    Ok(())
}

/// A volume's options: its source (as a namespace path, and normalised text) and `ro` (always
/// for `/images`, which cannot be written).
pub fn volume_opts(
    opts: &std::collections::BTreeMap<String, String>,
) -> Result<(VPath, String, bool), String> {
    volume_opts_in(opts, crate::vfs::path::multi_engine())
}

/// [`volume_opts`] for a given tree shape (several engines: `/containers/HOST/NAME`).
pub fn volume_opts_in(
    opts: &std::collections::BTreeMap<String, String>,
    multi: bool,
) -> Result<(VPath, String, bool), String> {
    let mut ro = false;
    for (k, v) in opts {
        match k.as_str() {
            "src" => {}
            "ro" => {
                ro = match v.as_str() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" | "" => false,
                    _ => return Err(format!("ro={v}: not true or false")),
                }
            }
            other => return Err(format!("unknown option {other} (src, ro)")),
        }
    }
    let form = if multi {
        "/containers/HOST/NAME/PATH"
    } else {
        "/containers/NAME/PATH"
    };
    let Some(src) = opts.get("src") else {
        return Err(format!("src is missing: -o src={form}"));
    };
    let vp = if src.starts_with('/') {
        VPath::parse_in(Path::new(src), multi)
    } else {
        VPath::Host(PathBuf::new())
    };
    let named = |p: &Path| p.components().count() > 1;
    match &vp {
        VPath::Container { .. } => {}
        VPath::Volumes(p) if named(p) => {}
        VPath::Images(p) if named(p) => ro = true,
        _ => {
            return Err(format!(
            "src {src}: not a container path ({form}; or /volumes/NAME/PATH, /images/IMAGE/PATH)"
        ))
        }
    }
    let text = vp.to_path().to_string_lossy().into_owned();
    Ok((vp, text, ro))
}

/// The name of the engine's volume a `/volumes/NAME/...` source reads.
fn volume_of(vp: &VPath) -> Option<String> {
    match vp {
        VPath::Volumes(p) => p
            .components()
            .nth(1)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        _ => None,
    }
}

/// The volumes and which of them are bound now.
struct Table {
    vols: Volumes,
    /// Volumes served now, by name: whether from the read-only session, and the mountpoint.
    live: HashMap<String, (bool, PathBuf)>,
}

/// Where the FUSE sessions every volume is served from (the whole namespace, read-write and
/// read-only) are mounted, while a volume uses them; dot-names, which no volume can have.
const SESSION_DIRS: [&str; 2] = [".namespace", ".namespace-ro"];

/// The read-write session and the read-only one.
type Sessions = [Option<Served>; 2];

struct Driver {
    vfs: Arc<Vfs>,
    rt: tokio::runtime::Handle,
    state_file: PathBuf,
    mounts: PathBuf,
    log: Sink,
    /// Held only for moments: reads (Get, Path, List) never wait behind a slow mount.
    table: tokio::sync::Mutex<Table>,
    /// Held through each change (Create, Remove, Mount, Unmount): they happen one at a time.
    /// It also guards the session.
    ops: tokio::sync::Mutex<Sessions>,
}

impl Driver {
    async fn answer(&self, call: Call) -> Reply {
        let what = describe(&call);
        let r = match call {
            Call::Activate => Ok(Reply::Activate),
            Call::Capabilities => Ok(Reply::Capabilities),
            Call::List => Ok(self.list().await),
            Call::Create { name, opts } => self.create(&name, &opts).await,
            Call::Remove { name } => self.remove(&name).await,
            Call::Path { name } => self.path(&name).await,
            Call::Get { name } => self.get(&name).await,
            Call::Mount { name, id } => self.mount(&name, &id).await,
            Call::Unmount { name, id } => self.unmount(&name, &id).await,
        };
        match r {
            Ok(r) => {
                if let Some(what) = what {
                    let mp = match &r {
                        Reply::Mountpoint(m) => format!(": {m}"),
                        Reply::Unmounted => ": the last one, unmounted".to_string(),
                        _ => String::new(),
                    };
                    (self.log)(&format!("{what}{mp}"));
                }
                r
            }
            Err(e) => {
                // The engine's probes (a Get before each Create) fail as a matter of course.
                if let Some(what) = what {
                    (self.log)(&format!("{what}: {e}"));
                }
                Reply::Err(e)
            }
        }
    }

    fn info(&self, t: &Table, name: &str, v: &Volume) -> VolumeInfo {
        let mut status = std::collections::BTreeMap::new();
        status.insert("src".to_string(), v.src.clone());
        status.insert("ro".to_string(), v.read_only.to_string());
        status.insert("mounts".to_string(), v.refs().to_string());
        VolumeInfo {
            name: name.to_string(),
            mountpoint: t
                .live
                .get(name)
                .map_or(String::new(), |(_, m)| m.to_string_lossy().into_owned()),
            created: v.created,
            status,
        }
    }

    async fn list(&self) -> Reply {
        let t = self.table.lock().await;
        Reply::List(t.vols.iter().map(|(n, v)| self.info(&t, n, v)).collect())
    }

    async fn get(&self, name: &str) -> Result<Reply, String> {
        let t = self.table.lock().await;
        let v = t.vols.get(name).ok_or_else(|| no_such(name))?;
        Ok(Reply::Volume(self.info(&t, name, v)))
    }

    async fn path(&self, name: &str) -> Result<Reply, String> {
        let t = self.table.lock().await;
        if !t.vols.contains_key(name) {
            return Err(no_such(name));
        }
        Ok(Reply::Mountpoint(
            t.live
                .get(name)
                .map_or(String::new(), |(_, m)| m.to_string_lossy().into_owned()),
        ))
    }

    async fn create(
        &self,
        name: &str,
        opts: &std::collections::BTreeMap<String, String>,
    ) -> Result<Reply, String> {
        check_name(name)?;
        let (vp, src, read_only) = volume_opts(opts)?;
        let _op = self.ops.lock().await;
        {
            let t = self.table.lock().await;
            if let Some(v) = t.vols.get(name) {
                if v.src == src && v.read_only == read_only {
                    return Ok(Reply::Done);
                }
                return Err(format!(
                    "volume {name} exists already with src={}{}",
                    v.src,
                    if v.read_only { ",ro=true" } else { "" }
                ));
            }
            // Reading it would ask this driver to mount it, while this call holds the driver.
            if let Some(inner) = volume_of(&vp).filter(|v| t.vols.contains_key(v) || v == name) {
                return Err(format!(
                    "src {src}: volume {inner} is one of this driver's own"
                ));
            }
        }
        self.check_source(&vp, &src).await?;
        let mut t = self.table.lock().await;
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        t.vols.insert(
            name.to_string(),
            Volume {
                src,
                read_only,
                created,
                mounts: Default::default(),
            },
        );
        if let Err(e) = state::save(&self.state_file, &t.vols) {
            t.vols.remove(name);
            return Err(e.to_string());
        }
        Ok(Reply::Done)
    }

    /// The source exists: its container (or image, or volume), and a directory at its path.
    async fn check_source(&self, vp: &VPath, src: &str) -> Result<(), String> {
        if let VPath::Container { host, name, .. } = vp {
            self.vfs
                .container(host.as_deref(), name)
                .await
                .map_err(|e| source_error(src, name, &e))?;
        }
        let e = self
            .vfs
            .stat(vp)
            .await
            .map_err(|e| source_error(src, "", &e))?;
        if e.kind != Kind::Dir {
            return Err(format!("src {src}: Not a directory"));
        }
        Ok(())
    }

    async fn remove(&self, name: &str) -> Result<Reply, String> {
        let _op = self.ops.lock().await;
        let mut t = self.table.lock().await;
        let Some(v) = t.vols.get(name).cloned() else {
            // Nothing to keep the engine from forgetting it too.
            return Ok(Reply::Done);
        };
        let n = v.refs();
        if n > 0 && t.live.contains_key(name) {
            return Err(format!("volume {name} is in use ({n} mount(s))"));
        }
        // Counts without a bind are a dead driver's whose Unmount never came: the engine, which
        // removes only volumes no container uses, knows better.
        let old = t.vols.remove(name);
        if let Err(e) = state::save(&self.state_file, &t.vols) {
            if let Some(v) = old {
                t.vols.insert(name.to_string(), v);
            }
            return Err(e.to_string());
        }
        drop(t);
        let _ = std::fs::remove_dir(self.mounts.join(name));
        Ok(Reply::Done)
    }

    async fn mount(&self, name: &str, id: &str) -> Result<Reply, String> {
        let mut session = self.ops.lock().await;
        let v = self.table.lock().await.vols.get(name).cloned();
        let v = v.ok_or_else(|| no_such(name))?;
        let vp = VPath::parse(Path::new(&v.src));
        self.refuse_self_mount(name, &vp, &v.src).await?;
        let mountpoint = self.attach(&mut session, name, &v, &vp).await?;
        self.count(name, |m| *m.entry(id.to_string()).or_default() += 1)
            .await;
        Ok(Reply::Mountpoint(mountpoint.to_string_lossy().into_owned()))
    }

    /// Changes a volume's mount counts, and saves them (a failed save is logged: the counts
    /// are right in memory, and only a restart would miss them).
    async fn count(
        &self,
        name: &str,
        f: impl FnOnce(&mut std::collections::BTreeMap<String, u32>),
    ) {
        let mut t = self.table.lock().await;
        if let Some(v) = t.vols.get_mut(name) {
            f(&mut v.mounts);
            v.mounts.retain(|_, n| *n > 0);
        }
        if let Err(e) = state::save(&self.state_file, &t.vols) {
            (self.log)(&e.to_string());
        }
    }

    /// The volume's source in the session that serves it (started first if none runs, or
    /// again if it died), checked to be a directory now: its mountpoint.
    async fn attach(
        &self,
        sessions: &mut Sessions,
        name: &str,
        v: &Volume,
        vp: &VPath,
    ) -> Result<PathBuf, String> {
        let ro = usize::from(v.read_only);
        if !sessions[ro].as_ref().is_some_and(Served::alive) {
            // It ended under its volumes (or never ran): they are mounted again from the start.
            self.table
                .lock()
                .await
                .live
                .retain(|_, (r, _)| usize::from(*r) != ro);
            self.end_session(sessions, ro).await;
            sessions[ro] = Some(self.start_session(v.read_only).await?);
        }
        let Some(served) = sessions[ro].as_ref() else {
            return Err("no session".into());
        };
        let mountpoint = served.path_of(&vp.to_path());
        // The first look goes through the mount: the source must be a directory now.
        let mp = mountpoint.clone();
        let look = tokio::task::spawn_blocking(move || std::fs::metadata(&mp));
        let why = match tokio::time::timeout(Duration::from_secs(MOUNT_SECS), look).await {
            Ok(Ok(Ok(md))) if md.is_dir() => None,
            Ok(Ok(Ok(_))) => Some("Not a directory".to_string()),
            Ok(Ok(Err(e))) => Some(io_text(&e)),
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer in {MOUNT_SECS} s")),
        };
        if let Some(why) = why {
            self.detach_unused(sessions).await;
            return Err(format!("volume {name}: src {}: {why}", v.src));
        }
        self.table
            .lock()
            .await
            .live
            .insert(name.to_string(), (v.read_only, mountpoint.clone()));
        Ok(mountpoint)
    }

    async fn start_session(&self, read_only: bool) -> Result<Served, String> {
        let dir = self.mounts.join(SESSION_DIRS[usize::from(read_only)]);
        detach(&dir);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return Err(format!("{}: {}", dir.display(), io_text(&e)));
        }
        let opts = crate::mount::Options {
            dir,
            read_only,
            // Containers' users are not the driver's; the kernel checks their modes.
            allow_other: true,
            // Consumers see sub-trees at their own paths: links relative to themselves.
            relative_links: true,
            ..Default::default()
        };
        let (rt, vfs) = (self.rt.clone(), self.vfs.clone());
        tokio::task::spawn_blocking(move || crate::mount::serve(&rt, vfs, &opts))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    async fn end_session(&self, sessions: &mut Sessions, ro: usize) {
        if let Some(s) = sessions[ro].take() {
            let _ = tokio::task::spawn_blocking(move || drop(s)).await;
        }
        let _ = std::fs::remove_dir(self.mounts.join(SESSION_DIRS[ro]));
    }

    /// Ends the sessions no volume uses now.
    async fn detach_unused(&self, sessions: &mut Sessions) {
        for ro in 0..2 {
            let used = self
                .table
                .lock()
                .await
                .live
                .values()
                .any(|(r, _)| usize::from(*r) == ro);
            if !used && sessions[ro].is_some() {
                self.end_session(sessions, ro).await;
            }
        }
    }

    /// At start: binds again every volume a killed (or stopped) driver left mounted, so its
    /// mountpoint serves the engine's next `Mount`s and its counts go on; a volume no
    /// container names any more loses its counts (their `Unmount` went to no driver).
    async fn restore(&self) {
        let mut session = self.ops.lock().await;
        let vols: Vec<(String, Volume)> = self
            .table
            .lock()
            .await
            .vols
            .iter()
            .filter(|(_, v)| v.refs() > 0)
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        for (name, v) in vols {
            let vp = VPath::parse(Path::new(&v.src));
            let host = match &vp {
                VPath::Container { host, .. } => host.clone(),
                _ => None,
            };
            let users = match self.vfs.engine(host.as_deref()) {
                Ok(e) => e.volume_users(&name).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match users {
                Ok(u) if u.is_empty() => {
                    self.count(&name, |m| m.clear()).await;
                    (self.log)(&format!(
                        "{name}: no container uses it any more: not mounted again"
                    ));
                    continue;
                }
                Ok(_) => {}
                Err(e) => (self.log)(&format!("{name}: cannot ask the engine who uses it: {e}")),
            }
            match self.attach(&mut session, &name, &v, &vp).await {
                Ok(m) => (self.log)(&format!(
                    "{name}: mounted again at {} for its {} mount(s)",
                    m.display(),
                    v.refs()
                )),
                Err(e) => (self.log)(&format!("{name}: cannot mount it again: {e}")),
            }
        }
    }

    /// Refuses to give the source container its own files (see the module's comment).
    async fn refuse_self_mount(&self, vol: &str, vp: &VPath, src: &str) -> Result<(), String> {
        let VPath::Container { host, name, .. } = vp else {
            return Ok(());
        };
        let c = self
            .vfs
            .container(host.as_deref(), name)
            .await
            .map_err(|e| format!("volume {vol}: {}", source_error(src, name, &e)))?;
        let users = self
            .vfs
            .engine(host.as_deref())
            .map_err(|e| e.to_string())?
            .volume_users(vol)
            .await
            .map_err(|e| format!("volume {vol}: cannot ask the engine who uses it: {e}"))?;
        if users.iter().any(|(id, running)| *id == c.id && !running) {
            return Err(format!(
                "volume {vol}: its source {src} is in container {name}, which uses the volume itself: a container cannot be given its own files"
            ));
        }
        Ok(())
    }

    async fn unmount(&self, name: &str, id: &str) -> Result<Reply, String> {
        let mut session = self.ops.lock().await;
        let known = self.table.lock().await.vols.get(name).cloned();
        let Some(v) = known else {
            return Err(no_such(name));
        };
        // One this driver does not know (mounted before a restart that lost it): done.
        self.count(name, |m| {
            if let Some(n) = m.get_mut(id) {
                *n -= 1;
            }
        })
        .await;
        let left = self
            .table
            .lock()
            .await
            .vols
            .get(name)
            .map_or(0, Volume::refs);
        if left > 0 || v.refs() == 0 && !self.table.lock().await.live.contains_key(name) {
            return Ok(Reply::Done);
        }
        self.table.lock().await.live.remove(name);
        self.detach_unused(&mut session).await;
        Ok(Reply::Unmounted)
    }
}

fn no_such(name: &str) -> String {
    format!("no such volume: {name}")
}

fn source_error(src: &str, name: &str, e: &FsError) -> String {
    match e {
        FsError::NoSuchContainer => format!("src {src}: no such container {name}"),
        e => format!("src {src}: {e}"),
    }
}

/// The log line for a call (none for the engine's frequent reads).
fn describe(call: &Call) -> Option<String> {
    match call {
        Call::Create { name, opts } => Some(format!(
            "Create {name} {}",
            opts.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        )),
        Call::Remove { name } => Some(format!("Remove {name}")),
        Call::Mount { name, id } => Some(format!("Mount {name} (ID {id})")),
        Call::Unmount { name, id } => Some(format!("Unmount {name} (ID {id})")),
        _ => None,
    }
}

/// Serves one connection: requests one after another until it closes.
async fn connection(driver: Arc<Driver>, mut s: UnixStream) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match protocol::parse_request(&buf) {
            Ok(Parsed::Whole(req, used)) => {
                buf.drain(..used);
                let (status, body) = match protocol::parse_call(&req) {
                    Ok(call) => (200, protocol::encode(&driver.answer(call).await)),
                    Err(e) => (e.status(), protocol::encode(&Reply::Err(e.to_string()))),
                };
                let out = protocol::response(status, &body, req.close);
                if s.write_all(&out).await.is_err() || req.close {
                    return;
                }
            }
            Ok(Parsed::Partial) => {
                let read = s.read(&mut chunk);
                let n = if buf.is_empty() {
                    read.await
                } else {
                    match tokio::time::timeout(Duration::from_secs(REQUEST_SECS), read).await {
                        Ok(r) => r,
                        Err(_) => return,
                    }
                };
                match n {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            Err(e) => {
                let body = protocol::encode(&Reply::Err(e.to_string()));
                let _ = s
                    .write_all(&protocol::response(e.status(), &body, true))
                    .await;
                return;
            }
        }
    }
}

/// The socket this process made (removed at exit if it is still ours).
struct Made {
    path: PathBuf,
    id: (u64, u64),
}

impl Made {
    fn remove(self) {
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.id) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The listening socket: the one systemd passed (`LISTEN_FDS`), else a new one at
/// `/run/docker/plugins/NAME.sock`, replacing a dead one left there.
fn listen(name: &str) -> Result<(UnixListener, Option<Made>), DriverError> {
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() };
    let passed = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
        == Some(me)
        && std::env::var("LISTEN_FDS")
            .ok()
            .and_then(|n| n.parse::<i32>().ok())
            .is_some_and(|n| n >= 1);
    if passed {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
        // SAFETY: systemd's protocol: fd 3 is ours, a listening socket.
        let std_l = unsafe { std::os::unix::net::UnixListener::from_raw_fd(3) };
        std_l
            .set_nonblocking(true)
            .map_err(|e| start_err("the socket systemd passed (fd 3)", &e))?;
        let l = UnixListener::from_std(std_l)
            .map_err(|e| start_err("the socket systemd passed (fd 3)", &e))?;
        return Ok((l, None));
    }
    std::fs::create_dir_all(PLUGIN_DIR).map_err(|e| start_err(PLUGIN_DIR, &e))?;
    let path = Path::new(PLUGIN_DIR).join(format!("{name}.sock"));
    match std::fs::symlink_metadata(&path) {
        Ok(md) if md.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                return Err(DriverError::Start(format!(
                    "{}: another process serves plugin {name} there",
                    path.display()
                )));
            }
            // Dead: a driver that was killed left it.
            let _ = std::fs::remove_file(&path);
        }
        Ok(_) => {
            return Err(DriverError::Start(format!(
                "{}: exists and is not a socket",
                path.display()
            )))
        }
        Err(_) => {}
    }
    let l = UnixListener::bind(&path).map_err(|e| start_err(path.display(), &e))?;
    let md = std::fs::symlink_metadata(&path).map_err(|e| start_err(path.display(), &e))?;
    Ok((
        l,
        Some(Made {
            path,
            id: (md.dev(), md.ino()),
        }),
    ))
}

/// One driver per state directory: an exclusive lock held for the process's life.
fn lock(path: &Path) -> Result<std::fs::File, DriverError> {
    use std::os::fd::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| start_err(path.display(), &e))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(DriverError::Start(format!(
            "{}: another volume-driver uses this state directory",
            path.display()
        )));
    }
    Ok(f)
}

/// Mount points at or below `dir` (from `/proc/self/mountinfo`, octal escapes undone).
fn mounted_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape(m)))
        .filter(|m| m.starts_with(dir) && m != dir)
        .collect();
    // Deepest first.
    found.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    found
}

/// mountinfo's `\040`-style escapes.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `umount2(MNT_DETACH)`.
fn detach(dir: &Path) {
    use std::os::unix::ffi::OsStrExt;
    if let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) {
        // SAFETY: a valid C string.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn names_are_one_safe_component() {
        for ok in ["weblogs", "a", "web.logs_2-x", "0"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".", "..", "-x", "a/b", "a b", "é", &"x".repeat(201)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options_name_a_container_path() {
        let o = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let (vp, src, ro) =
            volume_opts_in(&o(&[("src", "/containers/web/var/log/")]), false).unwrap();
        assert_eq!((src.as_str(), ro), ("/containers/web/var/log", false));
        assert!(matches!(vp, VPath::Container { ref name, .. } if name == "web"));
        let (_, src, ro) = volume_opts_in(
            &o(&[("src", "/containers/web/a/../b"), ("ro", "true")]),
            false,
        )
        .unwrap();
        assert_eq!((src.as_str(), ro), ("/containers/web/b", true));
        let err = |pairs: &[(&str, &str)]| volume_opts_in(&o(pairs), false).unwrap_err();
        let hint = "(/containers/NAME/PATH; or /volumes/NAME/PATH, /images/IMAGE/PATH)";
        assert_eq!(err(&[]), "src is missing: -o src=/containers/NAME/PATH");
        for bad in [
            "/var/log",
            "/containers",
            "containers/web",
            "/volumes",
            "/images/",
            "/meta/x",
            "/apps/p",
        ] {
            assert_eq!(
                err(&[("src", bad)]),
                format!("src {bad}: not a container path {hint}")
            );
        }
        assert_eq!(
            err(&[("src", "/containers/w"), ("ro", "maybe")]),
            "ro=maybe: not true or false"
        );
        assert_eq!(
            err(&[("src", "/containers/w"), ("size", "1")]),
            "unknown option size (src, ro)"
        );
        // Several engines: the engine comes first, and alone it is not a source.
        let multi = |pairs: &[(&str, &str)]| volume_opts_in(&o(pairs), true);
        let (vp, src, _) = multi(&[("src", "/containers/prod/web/var/log")]).unwrap();
        assert_eq!(src, "/containers/prod/web/var/log");
        assert!(
            matches!(vp, VPath::Container { host: Some(ref h), ref name, .. } if h == "prod" && name == "web")
        );
        assert_eq!(
            multi(&[("src", "/containers/prod")]).unwrap_err(),
            "src /containers/prod: not a container path (/containers/HOST/NAME/PATH; or /volumes/NAME/PATH, /images/IMAGE/PATH)"
        );
        // An image's directory is read-only whatever was asked; a volume's is not.
        let (_, src, ro) = volume_opts_in(&o(&[("src", "/images/busybox:1/etc")]), false).unwrap();
        assert_eq!((src.as_str(), ro), ("/images/busybox:1/etc", true));
        let (vp, _, ro) = volume_opts_in(&o(&[("src", "/volumes/data/d")]), false).unwrap();
        assert!(!ro);
        assert_eq!(volume_of(&vp).as_deref(), Some("data"));
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape(r"/a\040b\134c"), r"/a b\c");
        assert_eq!(unescape(r"/x\04"), r"/x\04");
    }
}
