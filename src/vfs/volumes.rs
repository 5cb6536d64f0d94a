//! `/volumes/NAME/...`: each volume's contents, read and write, whether or not a container uses
//! it. With several engines the tree is `/volumes/HOST/NAME/...`.
//!
//! Two ways in, picked per operation:
//! - **the direct path**: a plain `local` volume on an engine on this machine's unix socket run
//!   by root (its PID from the socket's peer credentials). Its `Mountpoint` is opened inside the
//!   engine's own root (`/proc/PID/root`) and every path below with `openat2(RESOLVE_IN_ROOT)`
//!   from there (`host::ProcRoot::open_dir_of`), so `..` and symlinks stay in the volume. Reads
//!   and writes are plain syscalls; a new file lands whole (temporary + rename, journaled as in
//!   containers), an existing one in place. `DOCKERBOX_DIRECT=0` turns it off.
//! - **a view**: a container created (never started) from an empty image dockerbox imports, with
//!   the volume mounted at `/volume` (`host::VOLUME_AT`), read and written through the archive
//!   API. Labelled `dockerbox.volume-view` with this session's marker, hidden from
//!   `/containers`, removed when the session ends ([`Vfs::settle`]) and swept, when their
//!   session is dead, the first time a later session makes one on that engine; the empty image
//!   goes with the last view. Symlinks are resolved here, inside the volume, before the engine
//!   is asked. Through a view files are added and replaced (not atomically: the archive API
//!   unpacks in place), never removed or renamed: that needs the direct path.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::archive::ArchiveBackend;
use super::backend::{realpath, At, Backend, BoxFut};
use super::direct::DirectFs;
use super::entry::{parse_rfc3339, Object};
use super::stream::{Attrs, FileReader, FileWriter, Open};
use super::views::ViewOf;
use super::{Entry, FsError, Kind, Vfs};
use crate::host::{ContainerInfo, Engine, ProcRoot, State, VolumeInfo, VOLUME_AT};

/// What the direct path into volumes needs: each engine's PID.
#[derive(Default)]
pub struct Pids {
    /// Each engine's PID (`None`: no direct path to its volumes), asked once.
    pids: Mutex<HashMap<usize, Option<i64>>>,
}

impl Pids {
    /// The direct path into a volume, where it applies (see the module doc); else why not,
    /// for `-v`.
    fn root(
        &self,
        index: usize,
        eng: &Engine,
        vol: &VolumeInfo,
    ) -> Result<Arc<ProcRoot>, &'static str> {
        if !vol.plain_dir {
            return Err("not a plain local volume");
        }
        if std::env::var_os("DOCKERBOX_DIRECT").is_some_and(|v| v == "0") {
            return Err("DOCKERBOX_DIRECT=0");
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("dockerbox is not root");
        }
        let dir = Path::new(&vol.mountpoint);
        let cached = self.pids.lock().ok().and_then(|m| m.get(&index).copied());
        let pid = match cached {
            Some(pid) => pid,
            None => {
                let pid = eng.engine_pid();
                if let Ok(mut m) = self.pids.lock() {
                    m.insert(index, pid);
                }
                pid
            }
        };
        if let Some(root) = pid.and_then(|p| ProcRoot::open_dir_of(p, dir)) {
            return Ok(Arc::new(root));
        }
        // The engine may have restarted: ask its PID again, once.
        let again = eng.engine_pid();
        if let Ok(mut m) = self.pids.lock() {
            m.insert(index, again);
        }
        let why = if again.is_none() {
            "the engine is not a local root dockerd on a unix socket"
        } else {
            "its directory cannot be opened in the engine's root"
        };
        (again != pid)
            .then(|| again.and_then(|p| ProcRoot::open_dir_of(p, dir)))
            .flatten()
            .map(Arc::new)
            .ok_or(why)
    }
}

/// The never-started container that mounts volume `vol` on engine number `index`.
async fn view(
    vfs: &Vfs,
    index: usize,
    eng: &Engine,
    vol: &VolumeInfo,
) -> Result<Arc<ContainerInfo>, FsError> {
    let make = |session: String| async move {
        Ok(ContainerInfo {
            engine: index,
            name: format!("volume {}", vol.name),
            image: String::new(),
            // A volume changes under whatever container uses it, unseen by this view's
            // events: "running" keeps the archive cache off it.
            state: State::Running,
            created: 0,
            id: eng.create_volume_view(&vol.name, &session).await?,
        })
    };
    vfs.views
        .get(index, eng, ViewOf::Volume, &vol.name, make)
        .await
}

/// `/volumes` (`vfs/mod.rs` routes every `VPath::Volumes` here).
pub struct Volumes<'v> {
    pub vfs: &'v Vfs,
    /// The path routed here (inside `/volumes`): what [`Backend::create_needs_size`], which is
    /// given none, is about.
    pub at: PathBuf,
}

/// What a path in `/volumes` is.
enum Place<'v> {
    /// `/volumes` (or `/volumes/HOST`): its own entry and its children.
    Dir(Entry, Vec<Entry>),
    /// Inside a volume, at `rest` (`/` is its root), served by `fs`; the volume's entry as
    /// `/volumes` lists it.
    Inside(Box<dyn Backend + 'v>, PathBuf, Entry),
}

fn dir(name: impl Into<OsString>, mtime: i64, perm: u32) -> Entry {
    let mut e = Entry::new(name, Kind::Dir);
    e.perm = perm;
    e.nlink = 2;
    e.mtime = mtime;
    e
}

/// `/volumes` as `/` lists it.
pub fn volumes_dir() -> Entry {
    dir("volumes", 0, 0o555)
}

/// A volume as `/volumes` lists it: a directory whose mtime is its creation, with its driver
/// and mountpoint for `ls -l`.
fn volume_entry(v: &VolumeInfo) -> Entry {
    let created = v.created.as_deref().and_then(parse_rfc3339).unwrap_or(0);
    let mut e = dir(v.name.clone(), created, 0o755);
    e.object = Some(Arc::new(Object::Volume {
        driver: v.driver.clone(),
        mountpoint: v.mountpoint.clone(),
    }));
    e
}

impl<'v> Volumes<'v> {
    async fn place(&self, path: &Path) -> Result<Place<'v>, FsError> {
        let mut comps: Vec<String> = Vec::new();
        for c in path.components() {
            if let Component::Normal(n) = c {
                comps.push(n.to_str().ok_or(FsError::NotFound)?.to_string());
            }
        }
        let vfs: &'v Vfs = self.vfs;
        let engines = vfs.engines();
        let (index, comps) = if super::path::multi_engine() {
            let Some((host, rest)) = comps.split_first() else {
                let kids = engines
                    .iter()
                    .map(|e| dir(e.name().to_string(), 0, 0o555))
                    .collect();
                return Ok(Place::Dir(volumes_dir(), kids));
            };
            let i = engines
                .iter()
                .position(|e| e.name() == host)
                .ok_or(FsError::NotFound)?;
            (i, rest.to_vec())
        } else {
            (0, comps)
        };
        let eng = engines.get(index).ok_or(FsError::NotFound)?;
        let Some((name, rest)) = comps.split_first() else {
            let kids = eng.volumes().await?.iter().map(volume_entry).collect();
            let own = match path.file_name() {
                Some(n) => dir(n, 0, 0o555),
                None => volumes_dir(),
            };
            return Ok(Place::Dir(own, kids));
        };
        let vol = eng.volume(name).await?;
        let mut inside = PathBuf::from("/");
        inside.extend(rest);
        let me = Arc::new(ContainerInfo {
            engine: index,
            name: format!("volume {}", vol.name),
            image: String::new(),
            state: State::Running,
            created: 0,
            // Where its temporaries are journaled (`vfs::temps`).
            id: format!("volume:{}", vol.name),
        });
        let why = match vfs.volumes.root(index, eng, &vol) {
            Ok(root) => {
                vfs.notes.note(
                    &me,
                    &format!("served directly (its directory {})", vol.mountpoint),
                );
                sweep(&root, &me.id);
                let fs = Direct {
                    fs: DirectFs {
                        root: root.clone(),
                        c: me,
                        notes: &vfs.notes,
                    },
                    root,
                };
                return Ok(Place::Inside(Box::new(fs), inside, volume_entry(&vol)));
            }
            Err(why) => why,
        };
        vfs.notes.note(
            &me,
            &format!("served by a view container, never started (no direct path: {why})"),
        );
        let view = view(vfs, index, eng, &vol).await?;
        let fs = InView {
            ab: vfs.archive_of(&view, "a volume's files".into(), false),
        };
        Ok(Place::Inside(Box::new(fs), inside, volume_entry(&vol)))
    }
}

/// Removes the temporaries dead writers left in a volume (`vfs::temps`), once per session.
fn sweep(root: &ProcRoot, key: &str) {
    for (path, ticket) in super::temps::take(key) {
        let removed = match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) => root.remove_tree_in(dir, name).map_err(FsError::from),
            _ => Ok(()),
        };
        match removed {
            Ok(()) | Err(FsError::NotFound) => {
                if let Some(t) = ticket {
                    t.done();
                }
            }
            Err(_) => super::temps::put_back(key, &path, ticket),
        }
    }
}

impl Backend for Volumes<'_> {
    fn lstat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(async move {
            match self.place(path).await? {
                Place::Dir(e, _) => Ok(e),
                Place::Inside(fs, rest, own) => Ok(fs.lstat(&rest).await?.at_root_as(&rest, own)),
            }
        })
    }

    fn stat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(async move {
            match self.place(path).await? {
                Place::Dir(e, _) => Ok(e),
                Place::Inside(fs, rest, own) => Ok(fs.stat(&rest).await?.at_root_as(&rest, own)),
            }
        })
    }

    fn read_dir<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Arc<Vec<Entry>>> {
        Box::pin(async move {
            match self.place(path).await? {
                Place::Dir(_, kids) => Ok(Arc::new(kids)),
                Place::Inside(fs, rest, _) => fs.read_dir(&rest).await,
            }
        })
    }

    fn readlink<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        self.inside(path, |fs, p| fs.readlink(p))
    }

    fn realpath<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        self.inside(path, |fs, p| fs.realpath(p))
    }

    fn open_read<'a>(&'a self, path: &'a Path, size_hint: u64) -> BoxFut<'a, FileReader> {
        Box::pin(async move {
            match self.place(path).await? {
                Place::Dir(..) => Err(FsError::IsADirectory),
                Place::Inside(fs, rest, _) => fs.open_read(&rest, size_hint).await,
            }
        })
    }

    fn read_at<'a>(&'a self, path: &'a Path, offset: u64, len: usize) -> BoxFut<'a, Bytes> {
        self.inside(path, move |fs, p| fs.read_at(p, offset, len))
    }

    fn create<'a>(
        &'a self,
        path: &'a Path,
        attrs: Attrs,
        size: u64,
        open: Open,
    ) -> BoxFut<'a, FileWriter> {
        self.inside_write(path, move |fs, p| fs.create(p, attrs, size, open))
    }

    /// The direct path streams; a view's archive API needs the size first.
    fn create_needs_size(&self) -> BoxFut<'_, bool> {
        Box::pin(async move {
            let (fs, _) = self.for_write(&self.at).await?;
            fs.create_needs_size().await
        })
    }

    fn mkdir<'a>(&'a self, path: &'a Path, attrs: Attrs) -> BoxFut<'a, ()> {
        self.inside_write(path, move |fs, p| fs.mkdir(p, attrs))
    }

    fn set_dir_attrs<'a>(&'a self, path: &'a Path, attrs: Attrs) -> BoxFut<'a, ()> {
        self.inside_write(path, move |fs, p| fs.set_dir_attrs(p, attrs))
    }

    fn symlink<'a>(&'a self, at: &'a At, attrs: Attrs) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let (fs, rest) = self.for_write(&at.path).await?;
            let inner = At {
                path: rest,
                other: at.other.clone(),
            };
            fs.symlink(&inner, attrs).await
        })
    }

    fn remove<'a>(&'a self, path: &'a Path, is_dir: bool) -> BoxFut<'a, ()> {
        self.inside_write(path, move |fs, p| fs.remove(p, is_dir))
    }

    fn rename<'a>(&'a self, at: &'a At) -> BoxFut<'a, ()> {
        self.two_paths(at, |fs, inner| fs.rename(inner))
    }

    fn link<'a>(&'a self, at: &'a At) -> BoxFut<'a, ()> {
        self.two_paths(at, |fs, inner| fs.link(inner))
    }

    fn chmod<'a>(&'a self, path: &'a Path, mode: u32) -> BoxFut<'a, ()> {
        self.inside_write(path, move |fs, p| fs.chmod(p, mode))
    }

    fn chown<'a>(&'a self, path: &'a Path, uid: u32, gid: u32, follow: bool) -> BoxFut<'a, ()> {
        self.inside_write(path, move |fs, p| fs.chown(p, uid, gid, follow))
    }

    fn set_times<'a>(
        &'a self,
        path: &'a Path,
        atime: (i64, u32),
        mtime: (i64, u32),
        follow: bool,
    ) -> BoxFut<'a, ()> {
        self.inside_write(path, move |fs, p| fs.set_times(p, atime, mtime, follow))
    }

    /// Writes anywhere but inside a volume (`/volumes` itself, a volume's own name).
    fn refuse_write(&self) -> FsError {
        FsError::errno_error(libc::EROFS)
    }
}

type Op<'a, T> = Box<dyn for<'b> FnOnce(&'b dyn Backend, &'b Path) -> BoxFut<'b, T> + Send + 'a>;

impl<'v> Volumes<'v> {
    /// Runs a read inside a volume (a directory of volumes: `EINVAL`, as for a non-link).
    fn inside<'a, T: Send + 'a>(
        &'a self,
        path: &'a Path,
        op: impl for<'b> FnOnce(&'b dyn Backend, &'b Path) -> BoxFut<'b, T> + Send + 'a,
    ) -> BoxFut<'a, T> {
        let op: Op<'a, T> = Box::new(op);
        Box::pin(async move {
            match self.place(path).await? {
                Place::Dir(..) => Err(FsError::errno_error(libc::EINVAL)),
                Place::Inside(fs, rest, _) => op(&*fs, &rest).await,
            }
        })
    }

    /// The backend and path for a change inside a volume; `/volumes`, `/volumes/HOST` and a
    /// volume's root itself (made and removed by the engine) are read-only.
    async fn for_write(&self, path: &Path) -> Result<(Box<dyn Backend + 'v>, PathBuf), FsError> {
        match self.place(path).await {
            Ok(Place::Inside(fs, rest, _)) if rest != Path::new("/") => Ok((fs, rest)),
            Ok(_) => Err(FsError::errno_error(libc::EROFS)),
            Err(e) => Err(e),
        }
    }

    fn inside_write<'a, T: Send + 'a>(
        &'a self,
        path: &'a Path,
        op: impl for<'b> FnOnce(&'b dyn Backend, &'b Path) -> BoxFut<'b, T> + Send + 'a,
    ) -> BoxFut<'a, T> {
        let op: Op<'a, T> = Box::new(op);
        Box::pin(async move {
            let (fs, rest) = self.for_write(path).await?;
            refused(&*fs, op(&*fs, &rest).await)
        })
    }

    /// `rename` and `link`: both names in the same volume (else EXDEV, as across filesystems).
    fn two_paths<'a>(
        &'a self,
        at: &'a At,
        op: impl for<'b> FnOnce(&'b dyn Backend, &'b At) -> BoxFut<'b, ()> + Send + 'a,
    ) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let skip = 1 + usize::from(multi());
            let head = |p: &Path| -> Vec<OsString> {
                p.components()
                    .filter_map(|c| match c {
                        Component::Normal(n) => Some(n.to_os_string()),
                        _ => None,
                    })
                    .take(skip)
                    .collect()
            };
            if head(&at.path) != head(&at.other) {
                return Err(FsError::errno_error(libc::EXDEV));
            }
            let (fs, from) = self.for_write(&at.path).await?;
            let (_, to) = self.for_write(&at.other).await?;
            let inner = At {
                path: from,
                other: to,
            };
            refused(&*fs, op(&*fs, &inner).await)
        })
    }
}

/// A write `fs` does not serve, answered with its refusal (the route's rule, `Vfs::serve`).
fn refused<T>(fs: &dyn Backend, r: Result<T, FsError>) -> Result<T, FsError> {
    match r {
        Err(FsError::Unsupported) => Err(fs.refuse_write()),
        r => r,
    }
}

fn multi() -> bool {
    super::path::multi_engine()
}

/// The direct path into one volume: reads and new files as [`DirectFs`] does them in a
/// container, and the changes the agent makes there (mkdir, remove, rename, links, attributes)
/// by syscalls relative to the volume's root.
struct Direct<'v> {
    fs: DirectFs<'v>,
    root: Arc<ProcRoot>,
}

impl Direct<'_> {
    fn run<'a, T: Send + 'a>(
        &'a self,
        f: impl FnOnce(&ProcRoot) -> std::io::Result<T> + Send + 'a,
    ) -> BoxFut<'a, T> {
        Box::pin(async move { f(&self.root).map_err(FsError::from) })
    }
}

impl Backend for Direct<'_> {
    fn lstat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        self.fs.lstat(path)
    }

    fn stat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        self.fs.stat(path)
    }

    fn read_dir<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Arc<Vec<Entry>>> {
        self.fs.read_dir(path)
    }

    fn readlink<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        self.fs.readlink(path)
    }

    fn realpath<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        self.fs.realpath(path)
    }

    fn open_read<'a>(&'a self, path: &'a Path, size_hint: u64) -> BoxFut<'a, FileReader> {
        Box::pin(async move {
            match self.fs.open_read(path, size_hint).await {
                // Not a regular file (the direct path leaves those to an agent in a
                // container; a volume has none): words it as open(2) would.
                Err(FsError::Unsupported) => match self.fs.stat(path).await?.kind {
                    Kind::Dir => Err(FsError::IsADirectory),
                    _ => Err(FsError::errno_error(libc::EOPNOTSUPP)),
                },
                r => r,
            }
        })
    }

    fn read_at<'a>(&'a self, path: &'a Path, offset: u64, len: usize) -> BoxFut<'a, Bytes> {
        self.fs.read_at(path, offset, len)
    }

    fn create<'a>(
        &'a self,
        path: &'a Path,
        attrs: Attrs,
        size: u64,
        open: Open,
    ) -> BoxFut<'a, FileWriter> {
        self.fs.create(path, attrs, size, open)
    }

    fn create_needs_size(&self) -> BoxFut<'_, bool> {
        self.fs.create_needs_size()
    }

    fn mkdir<'a>(&'a self, path: &'a Path, attrs: Attrs) -> BoxFut<'a, ()> {
        self.run(move |r| r.mkdir(path, attrs.mode))
    }

    fn symlink<'a>(&'a self, at: &'a At, attrs: Attrs) -> BoxFut<'a, ()> {
        self.run(move |r| {
            r.symlink(&at.path, &at.other)?;
            if let Some((uid, gid)) = attrs.owner {
                r.chown(&at.path, uid, gid, false)?;
            }
            Ok(())
        })
    }

    fn remove<'a>(&'a self, path: &'a Path, is_dir: bool) -> BoxFut<'a, ()> {
        self.run(move |r| r.remove(path, is_dir))
    }

    fn rename<'a>(&'a self, at: &'a At) -> BoxFut<'a, ()> {
        self.run(move |r| r.rename(&at.path, &at.other))
    }

    fn link<'a>(&'a self, at: &'a At) -> BoxFut<'a, ()> {
        self.run(move |r| r.link(&at.path, &at.other))
    }

    fn chmod<'a>(&'a self, path: &'a Path, mode: u32) -> BoxFut<'a, ()> {
        self.run(move |r| r.chmod(path, mode))
    }

    fn chown<'a>(&'a self, path: &'a Path, uid: u32, gid: u32, follow: bool) -> BoxFut<'a, ()> {
        self.run(move |r| r.chown(path, uid, gid, follow))
    }

    fn set_times<'a>(
        &'a self,
        path: &'a Path,
        atime: (i64, u32),
        mtime: (i64, u32),
        follow: bool,
    ) -> BoxFut<'a, ()> {
        self.run(move |r| r.set_times(path, atime, mtime, follow))
    }
}

/// A volume through its view's archive API: paths are the volume's (its root is `/`), the
/// view's are below [`VOLUME_AT`]. Symlinks are resolved here, against the volume's root, so the
/// engine is only ever asked about paths with none left to follow.
struct InView<'v> {
    ab: ArchiveBackend<'v>,
}

/// The view's path for a volume's path.
fn at_view(p: &Path) -> PathBuf {
    let rel = p.strip_prefix("/").unwrap_or(p);
    if rel.as_os_str().is_empty() {
        PathBuf::from(VOLUME_AT)
    } else {
        Path::new(VOLUME_AT).join(rel)
    }
}

/// The view's archive API asked about paths as they are, nothing followed by us: what
/// [`realpath`] walks.
struct Raw<'a, 'v>(&'a ArchiveBackend<'v>);

impl Backend for Raw<'_, '_> {
    fn lstat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(async move { self.0.lstat(&at_view(path)).await })
    }
}

impl InView<'_> {
    /// `path` with every symlink resolved inside the volume.
    async fn real(&self, path: &Path) -> Result<PathBuf, FsError> {
        realpath(&Raw(&self.ab), path).await
    }

    /// `path` with its directory resolved inside the volume, the last component as it is.
    async fn real_parent(&self, path: &Path) -> Result<PathBuf, FsError> {
        match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) => Ok(self.real(dir).await?.join(name)),
            _ => Ok(PathBuf::from("/")),
        }
    }
}

impl Backend for InView<'_> {
    fn lstat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(async move {
            let p = self.real_parent(path).await?;
            let mut e = self.ab.lstat(&at_view(&p)).await?;
            e.name = path.file_name().map_or_else(|| "/".into(), OsString::from);
            Ok(e)
        })
    }

    fn stat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(async move {
            let p = self.real(path).await?;
            let mut e = self.ab.lstat(&at_view(&p)).await?;
            e.name = path.file_name().map_or_else(|| "/".into(), OsString::from);
            Ok(e)
        })
    }

    fn read_dir<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Arc<Vec<Entry>>> {
        Box::pin(async move {
            let p = self.real(path).await?;
            self.ab.read_dir(&at_view(&p)).await
        })
    }

    fn readlink<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        Box::pin(async move {
            let p = self.real_parent(path).await?;
            self.ab.readlink(&at_view(&p)).await
        })
    }

    fn realpath<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        Box::pin(self.real(path))
    }

    fn open_read<'a>(&'a self, path: &'a Path, size_hint: u64) -> BoxFut<'a, FileReader> {
        Box::pin(async move {
            let p = self.real(path).await?;
            self.ab.open_read(&at_view(&p), size_hint).await
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
            // A final symlink is written through, resolved inside the volume.
            let p = match self.real(path).await {
                Ok(p) => p,
                Err(FsError::NotFound) => self.real_parent(path).await?,
                Err(e) => return Err(e),
            };
            self.ab.create(&at_view(&p), attrs, size, open).await
        })
    }

    fn create_needs_size(&self) -> BoxFut<'_, bool> {
        Box::pin(async { Ok(true) })
    }

    fn mkdir<'a>(&'a self, path: &'a Path, attrs: Attrs) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let p = self.real_parent(path).await?;
            self.ab.mkdir(&at_view(&p), attrs).await
        })
    }

    fn set_dir_attrs<'a>(&'a self, path: &'a Path, attrs: Attrs) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let p = self.real(path).await?;
            self.ab.set_dir_attrs(&at_view(&p), attrs).await
        })
    }

    fn symlink<'a>(&'a self, at: &'a At, attrs: Attrs) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let p = self.real_parent(&at.path).await?;
            let inner = At {
                path: at_view(&p),
                other: at.other.clone(),
            };
            self.ab.symlink(&inner, attrs).await
        })
    }

    fn link<'a>(&'a self, at: &'a At) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let from = self.real_parent(&at.path).await?;
            let to = self.real_parent(&at.other).await?;
            let inner = At {
                path: at_view(&from),
                other: at_view(&to),
            };
            self.ab.link(&inner).await
        })
    }

    /// What the archive API cannot do (remove, rename, chmod, chown, set times): the
    /// default `Unsupported` of those is answered with this, by [`Volumes::inside_write`].
    fn refuse_write(&self) -> FsError {
        FsError::Refused {
            errno: libc::EOPNOTSUPP,
            message: "Operation not supported: without the direct path a volume only takes \
                      new and replaced files (the archive API adds, it cannot remove, rename \
                      or change attributes)"
                .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_paths_are_below_the_mount() {
        assert_eq!(at_view(Path::new("/")), PathBuf::from("/volume"));
        assert_eq!(at_view(Path::new("/a/b")), PathBuf::from("/volume/a/b"));
    }
}
