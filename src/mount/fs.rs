//! The FUSE operations over the namespace. Each request is answered from a task on the tokio
//! runtime (fuser's replies are `Send`), so a slow container never holds up the kernel's
//! other requests; the fuser thread only spawns.
//!
//! Files are stateless by path, as the vfs is: an open file is its node (so a rename of the
//! open file is followed), and every read and write goes to the path the node has now. A new
//! file is written under a temporary name beside its name and renamed onto it at its first
//! close (`vfs::NewFile`), so other processes never see it half written; meanwhile the mount
//! shows it under its own name. Into a stopped container, which takes only whole files, a
//! file is spooled in an unlinked host file and uploaded whole at close.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use fuser::{
    BackingId, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    InitFlags, KernelConfig, OpenFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request,
    TimeOrNow,
};

use super::nodes::{Found, Nodes, ROOT};
use crate::vfs::stream::{Attrs, FileReader, CHUNK};
use crate::vfs::{path, Entry, FsError, Kind, NewFile, VPath, Vfs};

/// How long the kernel may keep an answer (attributes, a name's entry, a directory's listing)
/// before it asks again. Every change the namespace hears of drops it sooner (the mount's own
/// writes, the engine's events: an exec that ended, `docker cp`, a restart); what a
/// container's own processes change is seen within this time. Long enough that a walk of a
/// tree just walked (`find`, `du`, a build's stat of every file) is answered by the kernel
/// alone. `DOCKERBOX_MOUNT_TTL=SECS` sets another (0: ask every time).
const TTL: Duration = Duration::from_secs(10);

/// The largest read-ahead the kernel may ask for in one request (reads not passed through).
const MAX_READAHEAD: u32 = 1 << 20;

/// How many bytes of one handle's consecutive writes are gathered before they go to the
/// container in one write (a writer of 8 KiB blocks would otherwise cost one container write
/// each).
const GATHER: usize = 1 << 20;

/// The largest write the kernel sends in one request.
const MAX_WRITE: u32 = 1 << 20;

/// The trees the mount's root shows: every one of the namespace's but the host's own.
const TREES: &[&str] = path::TREES;

/// The filesystem as fuser drives it.
pub struct MountFs {
    pub inner: Arc<Inner>,
}

/// What every request's task shares.
pub struct Inner {
    pub vfs: Arc<Vfs>,
    rt: tokio::runtime::Handle,
    pub nodes: Mutex<Nodes>,
    handles: Mutex<HashMap<u64, Arc<Handle>>>,
    dirs: Mutex<HashMap<u64, Listing>>,
    /// New files not yet at their name, by node.
    pending: Mutex<HashMap<u64, Pending>>,
    /// The longest name each container's filesystem takes, as its statfs said.
    name_max: Mutex<HashMap<(Option<String>, String), usize>>,
    next_fh: AtomicU64,
    /// Whether the kernel takes open files' reads and writes to a host file itself
    /// (passthrough: a running local container's files on the direct path).
    passthrough: AtomicBool,
    /// Each node's host file while the kernel passes its readers through (every open of one
    /// node must name the same one).
    backings: tokio::sync::Mutex<HashMap<u64, Weak<BackingId>>>,
    /// When each directory's listing was last read for the kernel: with opendir asked, its
    /// cached listing is kept at the next opendir while younger than the TTL and not changed
    /// since; without (see [`Inner::no_opendir`]), a directory whose mtime says nothing of its
    /// names is dropped from the kernel's cache once older (see [`Inner::sweep`]).
    listed: Mutex<HashMap<u64, Instant>>,
    /// Listings read for the kernel's readdirs without a handle (no opendir), by directory:
    /// the one read at offset 0 serves the later offsets, so they stay put.
    lists: Mutex<HashMap<u64, Arc<Vec<Item>>>>,
    /// Whether opendir is answered ENOSYS, so the kernel opens directories without asking
    /// (no OPENDIR or RELEASEDIR request) and keeps each one's listing until the directory
    /// changes: its mtime (seen again when its attributes are, after the TTL), a change made
    /// through the mount, an invalidation from the engine's events or [`Inner::sweep`]. Off
    /// with a TTL of 0 (every opendir asks and reads the listing again).
    no_opendir: bool,
    /// `-o writeback_cache` asked for: the kernel's writeback cache, if it grants it.
    want_writeback: bool,
    /// The kernel gathers writes in its page cache and owns the sizes and mtimes of regular
    /// files (it then ignores ours for as long as it keeps the inode), and appends itself
    /// at the end it knows: an `O_APPEND` handle's writes come at their offsets.
    writeback: AtomicBool,
    /// Who mounted: the owner of the root and of the trees' directories.
    owner: (u32, u32),
    /// Where the mount is, as the host's kernel names it (symlink targets are rewritten
    /// against it).
    at: PathBuf,
    /// Symlink targets relative to the link (`links.rs`): the mount's users see sub-trees of
    /// it at paths of their own (the volume driver).
    relative_links: bool,
    started: SystemTime,
    /// How long the kernel keeps answers ([`TTL`]).
    ttl: Duration,
}

/// A new file under its temporary name, shared by its handle and the pending table: whoever
/// lands (or discards) it first takes it.
/// Uses of the temporary hold it for reading (`Inner::data_at`); landing takes it for writing,
/// so nobody is between the temporary and the name while it moves.
type Slot = Arc<tokio::sync::RwLock<Option<Box<NewFile>>>>;

/// Keeps a pending new file at its temporary while a request uses it there.
type AtTemp = Option<tokio::sync::OwnedRwLockReadGuard<Option<Box<NewFile>>>>;

/// A new file the mount shows at its name before it is there.
#[derive(Clone)]
enum Pending {
    /// Written under this temporary name (its permission bits come at landing).
    Temp(VPath, u32, Slot),
    /// Spooled for a stopped container: the handle holding the spool.
    Spool(u64),
}

/// An open directory's listing, read at its first readdir.
type Listing = Arc<tokio::sync::Mutex<Option<Arc<Vec<Item>>>>>;

/// One name of a directory listing, as handed to the kernel.
struct Item {
    name: OsString,
    entry: Option<Entry>,
}

/// An open file.
struct Handle {
    ino: u64,
    how: How,
    /// Reads of a backend that cannot read at an offset (the archive API): one stream, read
    /// on while the reads are sequential.
    cursor: tokio::sync::Mutex<Option<Cursor>>,
    /// The host file the kernel reads and writes itself (passthrough), kept registered while
    /// the handle is open.
    backing: Mutex<Option<Arc<BackingId>>>,
    /// Writes answered but not yet in the container (see [`Gathered`]).
    gathered: tokio::sync::Mutex<Gathered>,
    /// A writer's file opened on the host once (the direct path), so each write is one
    /// `pwrite`; `Some(None)`: there is none, each write goes by path.
    host: Mutex<Option<Option<Arc<File>>>>,
}

/// A writer's consecutive writes, gathered into one write to the container. They go out when
/// full, at the next write elsewhere, and before anything that reads the node's bytes or
/// attributes (a read, stat, a listing of its directory, truncate, rename, landing, fsync,
/// close), so nobody through the mount sees them missing; a container's own processes see
/// them at the latest when the writer closes. A write that failed when sent is reported at
/// the next write, fsync or close of the handle.
#[derive(Default)]
struct Gathered {
    at: u64,
    bytes: Vec<u8>,
    failed: Option<Errno>,
}

enum How {
    /// Read only.
    Read,
    /// Written in place (an existing file, or a new one once it landed).
    InPlace { append: bool },
    /// A new file still under its temporary name.
    New {
        append: bool,
        /// The thread that created it: its close lands the file (a forked child's close of
        /// its copy of the descriptor does not).
        creator: u32,
    },
    /// A stopped container's file, spooled here and uploaded whole when closed.
    Spool(tokio::sync::Mutex<Spool>),
}

struct Spool {
    file: File,
    mode: u32,
    dirty: bool,
    append: bool,
}

struct Cursor {
    pos: u64,
    reader: FileReader,
    left: Bytes,
}

fn errno(e: &FsError) -> Errno {
    Errno::from_i32(e.errno())
}

impl Inner {
    pub fn new(vfs: Arc<Vfs>, rt: tokio::runtime::Handle, at: PathBuf) -> Inner {
        // SAFETY: geteuid and getegid cannot fail.
        let owner = unsafe { (libc::geteuid(), libc::getegid()) };
        let ttl = std::env::var("DOCKERBOX_MOUNT_TTL")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
            .map_or(TTL, Duration::from_secs_f64);
        Inner {
            vfs,
            rt,
            nodes: Mutex::new(Nodes::default()),
            handles: Mutex::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            name_max: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            passthrough: AtomicBool::new(false),
            backings: tokio::sync::Mutex::new(HashMap::new()),
            listed: Mutex::new(HashMap::new()),
            lists: Mutex::new(HashMap::new()),
            no_opendir: !ttl.is_zero(),
            want_writeback: false,
            writeback: AtomicBool::new(false),
            owner,
            at,
            relative_links: false,
            started: SystemTime::now(),
            ttl,
        }
    }

    /// Asks the kernel for its writeback cache (see `writeback`).
    pub fn with_writeback(mut self, on: bool) -> Inner {
        self.want_writeback = on;
        self
    }

    /// Whether an `O_APPEND` open appends here (at the container's end of the file), not
    /// the kernel (with its writeback cache).
    fn appends(&self, flags: i32) -> bool {
        flags & libc::O_APPEND != 0 && !self.writeback.load(Ordering::Relaxed)
    }

    /// Shows symlinks relative to their own directory (see `relative_links`).
    pub fn with_relative_links(mut self, on: bool) -> Inner {
        self.relative_links = on;
        self
    }

    /// A container's root as the host names it under the mount.
    fn container_root(&self, host: &Option<String>, name: &str) -> PathBuf {
        let mut r = self.at.join(&path::CONTAINERS[1..]);
        if let Some(h) = host {
            r.push(h);
        }
        r.push(name);
        r
    }

    /// A symlink's target as the host's kernel must see it to resolve it inside the
    /// container: an absolute one names that path under this container's root in the mount,
    /// and a relative one that climbs above the container's root with `..` is cut there (as
    /// the container's kernel would), also under the mount. Others are left as written.
    fn host_target(&self, vp: &VPath, target: PathBuf) -> PathBuf {
        let VPath::Container { host, name, path } = vp else {
            return target;
        };
        if self.relative_links {
            return super::links::relative_target(path, &target);
        }
        let root = self.container_root(host, name);
        if target.is_absolute() {
            let rel = target.strip_prefix("/").unwrap_or(&target);
            return root.join(rel);
        }
        // How deep the link's directory is, and how far up the target climbs from it.
        let mut depth = path.parent().map_or(0, |d| d.components().count() - 1) as isize;
        for c in target.components() {
            match c {
                std::path::Component::ParentDir => depth -= 1,
                std::path::Component::Normal(_) => depth += 1,
                _ => {}
            }
            if depth < 0 {
                let dir = path.parent().unwrap_or(Path::new("/"));
                let inside = path::normalize(&dir.join(&target));
                let rel = inside.strip_prefix("/").unwrap_or(&inside);
                return root.join(rel);
            }
        }
        target
    }

    /// The other way, for a link made through the mount: a target under this container's
    /// root as the host names it becomes the container's own absolute path.
    fn container_target(&self, vp: &VPath, target: &Path) -> PathBuf {
        let VPath::Container { host, name, .. } = vp else {
            return target.to_path_buf();
        };
        match target.strip_prefix(self.container_root(host, name)) {
            Ok(rest) => Path::new("/").join(rest),
            Err(_) => target.to_path_buf(),
        }
    }

    /// At unmount: new files never closed leave no temporary behind.
    pub async fn discard_all(&self) {
        let all: Vec<Arc<Handle>> = self
            .handles
            .lock()
            .map(|mut m| m.drain().map(|(_, h)| h).collect())
            .unwrap_or_default();
        drop(all);
        let slots: Vec<Slot> = self
            .pending
            .lock()
            .map(|mut m| {
                m.drain()
                    .filter_map(|(_, p)| match p {
                        Pending::Temp(_, _, slot) => Some(slot),
                        Pending::Spool(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        for slot in slots {
            if let Some(nf) = slot.write().await.take() {
                nf.discard(&self.vfs).await;
            }
        }
    }

    fn path_of(&self, ino: u64) -> Option<PathBuf> {
        self.nodes.lock().ok()?.path(ino)
    }

    /// The namespace path of a node below the root; `None` for the root and unknown nodes.
    fn vpath(&self, ino: u64) -> Result<VPath, Errno> {
        let p = self.path_of(ino).ok_or(Errno::ENOENT)?;
        Self::vpath_of(&p)
    }

    fn vpath_of(p: &Path) -> Result<VPath, Errno> {
        let vp = VPath::parse(p);
        match vp {
            // Never the host: the root shows only the namespace's own trees.
            VPath::Host(_) => Err(Errno::ENOENT),
            vp => Ok(vp),
        }
    }

    fn child(&self, parent: u64, name: &OsStr) -> Result<(PathBuf, VPath), Errno> {
        // Linux's NAME_MAX: said as such, whatever a backend would make of the name.
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut p = self.path_of(parent).ok_or(Errno::ENOENT)?;
        if parent == ROOT && !TREES.iter().any(|t| OsStr::new(&t[1..]) == name) {
            return Err(Errno::ENOENT);
        }
        p.push(name);
        let vp = Self::vpath_of(&p)?;
        if let VPath::Container { host, name: c, .. } = &vp {
            let max = self
                .name_max
                .lock()
                .ok()
                .and_then(|m| m.get(&(host.clone(), c.clone())).copied());
            if max.is_some_and(|max| name.len() > max) {
                return Err(Errno::ENAMETOOLONG);
            }
        }
        Ok((p, vp))
    }

    fn handle(&self, fh: u64) -> Result<Arc<Handle>, Errno> {
        self.handles
            .lock()
            .ok()
            .and_then(|h| h.get(&fh).cloned())
            .ok_or(Errno::EBADF)
    }

    fn add_handle(&self, h: Handle) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut m) = self.handles.lock() {
            m.insert(fh, Arc::new(h));
        }
        fh
    }

    fn pending(&self, ino: u64) -> Option<Pending> {
        self.pending.lock().ok()?.get(&ino).cloned()
    }

    fn root_attr(&self) -> FileAttr {
        FileAttr {
            ino: INodeNo(ROOT),
            size: 0,
            blocks: 0,
            atime: self.started,
            mtime: self.started,
            ctime: self.started,
            crtime: self.started,
            kind: FileType::Directory,
            perm: 0o755,
            nlink: 2 + TREES.len() as u32,
            uid: self.owner.0,
            gid: self.owner.1,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// The kernel's attributes for an entry at `p`. `st_ino` is stable per file: from the
    /// file's own (dev, ino) and its container where the backend knows them (so hard links
    /// share it), else from the path; never 0.
    fn attr(&self, p: &Path, vp: &VPath, e: &Entry) -> FileAttr {
        let mut h = DefaultHasher::new();
        match vp {
            // A container's root is also an entry of /containers, which knows no inode.
            VPath::Container { host, name, path } if e.ino != 0 && path != Path::new("/") => {
                (host, name, e.dev, e.ino).hash(&mut h);
            }
            _ => p.hash(&mut h),
        }
        let ino = match h.finish() {
            0 | 1 => 2,
            n => n,
        };
        let t = match (vp, e.mtime) {
            (VPath::Containers | VPath::Engine(_), 0) => self.started,
            (VPath::Meta(p) | VPath::Images(p) | VPath::Volumes(p), 0) if p == Path::new("/") => {
                self.started
            }
            (_, m) => time_ns(m, e.mtime_nsec),
        };
        // Backends with one time (the archive API) show it as all three.
        let other = |x: Option<(i64, u32)>| x.map_or(t, |(s, ns)| time_ns(s, ns));
        let (uid, gid) = match vp {
            VPath::Containers | VPath::Engine(_) => self.owner,
            VPath::Meta(p) | VPath::Images(p) | VPath::Volumes(p) if p == Path::new("/") => {
                self.owner
            }
            _ => (e.uid, e.gid),
        };
        FileAttr {
            ino: INodeNo(ino),
            size: e.size,
            blocks: e.blocks_k * 2,
            atime: other(e.atime),
            mtime: t,
            ctime: other(e.ctime),
            crtime: t,
            kind: kind(e.kind),
            perm: (e.perm & 0o7777) as u16,
            nlink: e.nlink.clamp(1, u32::MAX as u64) as u32,
            uid,
            gid,
            // The kernel's rdev is 32 bits (new_encode_dev); st_rdev's makedev is 64.
            rdev: kernel_rdev(e.rdev),
            blksize: 4096,
            flags: 0,
        }
    }

    /// What is at a node now (a pending new file: its temporary, under its own name).
    async fn stat_node(&self, ino: u64) -> Result<FileAttr, Errno> {
        if ino == ROOT {
            return Ok(self.root_attr());
        }
        let mut a = match self.path_of(ino) {
            Some(p) => self.stat_path(ino, &p).await?,
            None => self.stat_unlinked(ino).await?,
        };
        a.ino = INodeNo(ino);
        Ok(a)
    }

    /// A node no name leads to that is still open: a new file's temporary, with no link, or
    /// the host file a writer holds (the direct path, opened at its first write).
    async fn stat_unlinked(&self, ino: u64) -> Result<FileAttr, Errno> {
        self.send_gathered(ino, None).await;
        let Some(Pending::Temp(temp, mode, slot)) = self.pending(ino) else {
            let held = self.handles.lock().ok().and_then(|m| {
                m.values()
                    .filter(|h| h.ino == ino)
                    .find_map(|h| h.host.lock().ok()?.clone().flatten())
            });
            let md = held.ok_or(Errno::ENOENT)?.metadata().map_err(Errno::from)?;
            return Ok(held_attr(ino, &md));
        };
        let at = slot.read().await;
        if at.is_none() {
            return Err(Errno::ENOENT);
        }
        let VPath::Container { path, .. } = &temp else {
            return Err(Errno::ENOENT);
        };
        let e = self
            .vfs
            .lstat_with(&temp, true)
            .await
            .map_err(|e| errno(&e))?;
        let mut a = self.attr(path, &temp, &e);
        a.perm = (mode & 0o7777) as u16;
        a.nlink = 0;
        Ok(a)
    }

    async fn stat_path(&self, ino: u64, p: &Path) -> Result<FileAttr, Errno> {
        let vp = Self::vpath_of(p)?;
        if ino != 0 {
            self.send_gathered(ino, None).await;
        }
        match self.pending(ino) {
            Some(Pending::Temp(temp, mode, slot)) => {
                let at = slot.read().await;
                // Landed meanwhile: at its name.
                if at.is_some() {
                    let e = self
                        .vfs
                        .lstat_with(&temp, true)
                        .await
                        .map_err(|e| errno(&e))?;
                    let mut a = self.attr(p, &vp, &e);
                    a.perm = (mode & 0o7777) as u16;
                    return Ok(a);
                }
            }
            Some(Pending::Spool(fh)) => {
                let h = self.handle(fh)?;
                if let How::Spool(s) = &h.how {
                    let s = s.lock().await;
                    let md = s.file.metadata().map_err(Errno::from)?;
                    let mut e = Entry::new(p.file_name().unwrap_or_default(), Kind::File);
                    e.size = md.len();
                    e.perm = s.mode & 0o7777;
                    e.uid = self.owner.0;
                    e.gid = self.owner.1;
                    e.mtime = md.mtime();
                    return Ok(self.attr(p, &vp, &e));
                }
            }
            None => {}
        }
        let e = self
            .vfs
            .lstat_with(&vp, true)
            .await
            .map_err(|e| errno(&e))?;
        Ok(self.attr(p, &vp, &e))
    }

    /// The path a node's bytes are at now: its temporary while it is a pending new file, kept
    /// there (landing waits) until the guard is dropped. Never held across another call that
    /// takes it (a waiting landing would stop the second).
    async fn data_at(&self, ino: u64) -> Result<(VPath, AtTemp), Errno> {
        if let Some(Pending::Temp(temp, _, slot)) = self.pending(ino) {
            let at = slot.read_owned().await;
            if at.is_some() {
                return Ok((temp, Some(at)));
            }
        }
        Ok((self.vpath(ino)?, None))
    }

    /// The node for a name the kernel is told about, found to be `attr` (its `ino` the
    /// file's identity, see [`Nodes::lookup`]): `attr` is given the node's id.
    fn remember(&self, parent: u64, name: &OsStr, attr: &mut FileAttr) -> u64 {
        let found = Found {
            key: attr.ino.0,
            kind: attr.kind,
            nlink: attr.nlink,
        };
        if let Ok(mut n) = self.nodes.lock() {
            attr.ino = INodeNo(n.lookup(parent, name, found));
        }
        attr.ino.0
    }

    async fn lookup(&self, parent: u64, name: &OsStr) -> Result<(u64, FileAttr), Errno> {
        let (p, vp) = self.child(parent, name)?;
        let known = self.nodes.lock().ok().and_then(|n| n.find(parent, name));
        let mut attr = match known {
            Some(ino) => self.stat_path(ino, &p).await?,
            // A tree's first lookup (the shell's binds of them) needs no engine: they are
            // always there, and their attributes are asked for again after the TTL.
            None if parent == ROOT => {
                let mut e = Entry::new(name, Kind::Dir);
                e.perm = 0o755;
                e.nlink = 2;
                self.attr(&p, &vp, &e)
            }
            None => {
                let e = self
                    .vfs
                    .lstat_with(&vp, true)
                    .await
                    .map_err(|e| errno(&e))?;
                self.attr(&p, &vp, &e)
            }
        };
        Ok((self.remember(parent, name, &mut attr), attr))
    }

    /// The owner a new entry should have: the caller's, when it is not the one the backend
    /// gives anyway (root's).
    async fn give_owner(&self, vp: &VPath, uid: u32, gid: u32) {
        if (uid, gid) != (0, 0) {
            let _ = self.vfs.chown(vp, uid, gid, false).await;
        }
    }

    async fn setattr(&self, ino: u64, set: SetAttr, fh: Option<u64>) -> Result<FileAttr, Errno> {
        self.send_gathered(ino, None).await;
        let owner = match (set.uid, set.gid) {
            (None, None) => None,
            (Some(u), Some(g)) => Some((u, g)),
            (u, g) => {
                let a = self.stat_node(ino).await?;
                Some((u.unwrap_or(a.uid), g.unwrap_or(a.gid)))
            }
        };
        let (data, at) = self.data_at(ino).await?;
        if let Some(size) = set.size {
            match fh.and_then(|fh| self.handle(fh).ok()) {
                Some(h) if matches!(h.how, How::Spool(_)) => {
                    if let How::Spool(s) = &h.how {
                        let mut s = s.lock().await;
                        s.file.set_len(size).map_err(Errno::from)?;
                        s.dirty = true;
                    }
                }
                _ => self
                    .vfs
                    .truncate(&data, size)
                    .await
                    .map_err(|e| errno(&e))?,
            }
        }
        if let Some(mode) = set.mode {
            match (&at, self.pending(ino)) {
                // Still new: its permission bits come at landing.
                (Some(_), Some(Pending::Temp(t, _, slot))) => {
                    if let Ok(mut p) = self.pending.lock() {
                        p.insert(ino, Pending::Temp(t, mode, slot));
                    }
                }
                _ => match self.vfs.chmod(&data, mode & 0o7777).await {
                    // A stopped container changes no mode, but one it has already is no
                    // change (`mkfifo -m`, `install -m` set the mode they just made).
                    Err(e)
                        if e.errno() == libc::EROFS
                            && self
                                .vfs
                                .lstat_with(&data, true)
                                .await
                                .is_ok_and(|e| e.perm == mode & 0o7777) => {}
                    r => r.map_err(|e| errno(&e))?,
                },
            }
        }
        if let Some((uid, gid)) = owner {
            self.vfs
                .chown(&data, uid, gid, false)
                .await
                .map_err(|e| errno(&e))?;
        }
        if set.atime.is_some() || set.mtime.is_some() {
            let ts = |t: Option<TimeOrNow>| match t {
                None => (0, libc::UTIME_OMIT as u32),
                Some(TimeOrNow::Now) => (0, libc::UTIME_NOW as u32),
                Some(TimeOrNow::SpecificTime(t)) => timespec(t),
            };
            self.vfs
                .set_times(&data, ts(set.atime), ts(set.mtime), false)
                .await
                .map_err(|e| errno(&e))?;
        }
        drop(at);
        self.stat_node(ino).await
    }

    /// Lands the pending new file of node `ino` at `dest` (else at its node's path) now: its
    /// handles then write in place.
    async fn land(&self, ino: u64, dest: Option<&VPath>) -> Result<(), Errno> {
        let Some(Pending::Temp(_, _, slot)) = self.pending(ino) else {
            return Ok(());
        };
        // Every handle's gathered writes are in the temporary first.
        self.send_gathered(ino, None).await;
        // Requests using the temporary finish first; later ones wait, then find the name.
        let mut f = slot.write().await;
        let Some(mut nf) = f.take() else {
            return Ok(());
        };
        if let Some(Pending::Temp(_, mode, _)) = self.pending(ino) {
            nf.mode = mode;
        }
        let dest = match dest {
            Some(d) => Ok(d.clone()),
            None => self.vpath(ino),
        };
        let r = match dest {
            Ok(d) => {
                nf.dest = d;
                nf.land(&self.vfs).await.map_err(|e| errno(&e))
            }
            // Unlinked while open: the bytes go with it.
            Err(_) => {
                nf.discard(&self.vfs).await;
                Ok(())
            }
        };
        // Only now, with the file at its name, does the node stop being new.
        if let Ok(mut p) = self.pending.lock() {
            if matches!(p.get(&ino), Some(Pending::Temp(_, _, s)) if Arc::ptr_eq(s, &slot)) {
                p.remove(&ino);
            }
        }
        r
    }

    async fn read(&self, h: &Handle, offset: u64, size: usize) -> Result<Bytes, Errno> {
        self.send_gathered(h.ino, None).await;
        if let How::Spool(s) = &h.how {
            let s = s.lock().await;
            let mut buf = vec![0u8; size];
            let n = s.file.read_at(&mut buf, offset).map_err(Errno::from)?;
            buf.truncate(n);
            return Ok(Bytes::from(buf));
        }
        let (vp, _at) = self.data_at(h.ino).await?;
        match self.vfs.read_at(&vp, offset, size).await {
            Err(FsError::Unsupported) => self.read_streaming(h, &vp, offset, size).await,
            r => r.map_err(|e| errno(&e)),
        }
    }

    /// A read where only a stream serves (a stopped container): go on with the handle's
    /// stream when the read starts where the last one ended (or a little after), else open
    /// it again and skip.
    async fn read_streaming(
        &self,
        h: &Handle,
        vp: &VPath,
        offset: u64,
        size: usize,
    ) -> Result<Bytes, Errno> {
        let mut cur = h.cursor.lock().await;
        let reusable = cur.as_ref().is_some_and(|c| c.pos <= offset);
        if !reusable {
            let e = self.vfs.stat(vp).await.map_err(|e| errno(&e))?;
            let (_, reader) = self
                .vfs
                .open_read_known(vp, &e)
                .await
                .map_err(|e| errno(&e))?;
            *cur = Some(Cursor {
                pos: 0,
                reader,
                left: Bytes::new(),
            });
        }
        let Some(c) = cur.as_mut() else {
            return Err(Errno::EIO);
        };
        let mut out = Vec::with_capacity(size);
        while out.len() < size {
            if c.left.is_empty() {
                match c.reader.next().await.map_err(|e| errno(&e))? {
                    Some(b) => c.left = b,
                    None => break,
                }
            }
            let skip = (offset.saturating_sub(c.pos)).min(c.left.len() as u64) as usize;
            if skip > 0 {
                let _ = c.left.split_to(skip);
                c.pos += skip as u64;
                continue;
            }
            let n = (size - out.len()).min(c.left.len());
            out.extend_from_slice(&c.left.split_to(n));
            c.pos += n as u64;
        }
        Ok(Bytes::from(out))
    }

    async fn write(&self, h: &Handle, offset: u64, data: Bytes) -> Result<u32, Errno> {
        let len = data.len() as u32;
        match &h.how {
            How::Read => return Err(Errno::EBADF),
            How::Spool(s) => {
                let mut s = s.lock().await;
                let at = if s.append {
                    s.file.metadata().map_err(Errno::from)?.len()
                } else {
                    offset
                };
                s.file.write_all_at(&data, at).map_err(Errno::from)?;
                s.dirty = true;
                return Ok(len);
            }
            How::InPlace { append } | How::New { append, .. } => {
                // Another handle's gathered writes go first: the later write wins.
                self.send_gathered(h.ino, Some(h)).await;
                let mut g = h.gathered.lock().await;
                if let Some(e) = g.failed.take() {
                    return Err(e);
                }
                // Appends go to the end whatever the offset: always consecutive.
                let next =
                    !g.bytes.is_empty() && (*append || g.at + g.bytes.len() as u64 == offset);
                if !g.bytes.is_empty() && (!next || g.bytes.len() + data.len() > GATHER) {
                    self.send(h, &mut g).await?;
                }
                if g.bytes.is_empty() && data.len() >= GATHER {
                    return self.put(h, offset, data).await.map(|()| len);
                }
                if g.bytes.is_empty() {
                    g.at = offset;
                    g.bytes.reserve(GATHER.min(data.len() * 16));
                }
                g.bytes.extend_from_slice(&data);
                if g.bytes.len() >= GATHER {
                    self.send(h, &mut g).await?;
                }
            }
        }
        Ok(len)
    }

    /// A write that only joins the handle's gathered bytes, answered on the session's own
    /// thread (no task, no wait for a worker: a writer of small blocks costs one round trip to
    /// the kernel each); `None` when it needs more (a write to send, another handle of the node
    /// open, the gathered bytes busy), and the task does it all.
    fn gather_now(&self, fh: u64, offset: u64, data: &[u8]) -> Option<u32> {
        let h = self.handle(fh).ok()?;
        let append = match h.how {
            How::InPlace { append } | How::New { append, .. } => append,
            _ => return None,
        };
        let alone = self
            .handles
            .lock()
            .ok()?
            .values()
            .all(|o| o.ino != h.ino || Arc::ptr_eq(o, &h));
        if !alone {
            return None;
        }
        let mut g = h.gathered.try_lock().ok()?;
        let next = g.bytes.is_empty() || append || g.at + g.bytes.len() as u64 == offset;
        if g.failed.is_some() || !next || g.bytes.len() + data.len() >= GATHER {
            return None;
        }
        if g.bytes.is_empty() {
            g.at = offset;
            g.bytes.reserve(GATHER.min(data.len() * 16));
        }
        g.bytes.extend_from_slice(data);
        Some(data.len() as u32)
    }

    /// Writes a handle's gathered bytes to the container.
    async fn send(&self, h: &Handle, g: &mut Gathered) -> Result<(), Errno> {
        if g.bytes.is_empty() {
            return Ok(());
        }
        let data = Bytes::from(std::mem::take(&mut g.bytes));
        self.put(h, g.at, data).await
    }

    /// One write of a writer handle to the container: by the host file it keeps open where
    /// the direct path serves (the file it opened follows the file, as a local one would),
    /// else by path. Appends always go by path (at the file's end as it is then).
    async fn put(&self, h: &Handle, offset: u64, data: Bytes) -> Result<(), Errno> {
        let append = matches!(
            h.how,
            How::InPlace { append: true } | How::New { append: true, .. }
        );
        let (vp, _at) = self.data_at(h.ino).await?;
        if !append {
            let known = h.host.lock().ok().and_then(|k| k.clone());
            let host = match known {
                Some(f) => f,
                None => {
                    let f = self.vfs.open_direct(&vp, true).await.map(Arc::new);
                    if let Ok(mut k) = h.host.lock() {
                        *k = Some(f.clone());
                    }
                    f
                }
            };
            if let Some(f) = host {
                return f.write_all_at(&data, offset).map_err(Errno::from);
            }
        }
        self.vfs
            .write_at(&vp, offset, data, append)
            .await
            .map_err(|e| errno(&e))
    }

    /// Sends every handle's gathered writes to node `ino` (all nodes with `None`... see
    /// [`Inner::send_all_gathered`]), but `except`'s; a failure is kept for its handle.
    async fn send_gathered(&self, ino: u64, except: Option<&Handle>) {
        let hs: Vec<Arc<Handle>> = self
            .handles
            .lock()
            .map(|m| {
                m.values()
                    .filter(|o| o.ino == ino && !except.is_some_and(|e| std::ptr::eq(e, &***o)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for o in hs {
            self.send_kept(&o).await;
        }
    }

    /// Sends every handle's gathered writes (a listing is about to show sizes).
    async fn send_all_gathered(&self) {
        let hs: Vec<Arc<Handle>> = self
            .handles
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        for o in hs {
            self.send_kept(&o).await;
        }
    }

    async fn send_kept(&self, h: &Handle) {
        if !matches!(h.how, How::InPlace { .. } | How::New { .. }) {
            return;
        }
        let mut g = h.gathered.lock().await;
        if let Err(e) = self.send(h, &mut g).await {
            g.failed.get_or_insert(e);
        }
    }

    /// Sends this handle's gathered writes now and says whether any write of it failed.
    async fn send_own(&self, h: &Handle) -> Result<(), Errno> {
        if !matches!(h.how, How::InPlace { .. } | How::New { .. }) {
            return Ok(());
        }
        let mut g = h.gathered.lock().await;
        let r = self.send(h, &mut g).await;
        match g.failed.take() {
            Some(e) => Err(e),
            None => r,
        }
    }

    /// At a close: a new file lands at its name, a spooled one is uploaded.
    async fn settle(&self, h: &Handle) -> Result<(), Errno> {
        let sent = self.send_own(h).await;
        match &h.how {
            How::New { .. } => {
                let landed = self.land(h.ino, None).await;
                sent.and(landed)
            }
            How::InPlace { .. } => sent,
            How::Spool(s) => {
                let mut s = s.lock().await;
                if !s.dirty {
                    return Ok(());
                }
                s.dirty = false;
                if let Ok(mut p) = self.pending.lock() {
                    p.remove(&h.ino);
                }
                let vp = self.vpath(h.ino)?;
                self.upload(&s, &vp).await
            }
            _ => Ok(()),
        }
    }

    async fn upload(&self, s: &Spool, vp: &VPath) -> Result<(), Errno> {
        let size = s.file.metadata().map_err(Errno::from)?.len();
        let attrs = Attrs {
            mode: s.mode & 0o7777,
            ..Attrs::default()
        };
        let mut w = self
            .vfs
            .create(vp, &attrs, size)
            .await
            .map_err(|e| errno(&e))?;
        let mut buf = vec![0u8; CHUNK];
        let mut at = 0u64;
        while at < size {
            let n = s.file.read_at(&mut buf, at).map_err(Errno::from)?;
            if n == 0 {
                break;
            }
            if let Err(e) = w.write(&buf[..n]).await {
                w.abort().await;
                return Err(errno(&e));
            }
            at += n as u64;
        }
        w.commit().await.map_err(|e| errno(&e))
    }

    async fn open(&self, ino: u64, flags: i32) -> Result<(u64, FopenFlags), Errno> {
        let write = flags & libc::O_ACCMODE != libc::O_RDONLY;
        // A writer is served here, never beside a reader the kernel passes through (it would
        // refuse the open): refused before the open changes anything (`O_TRUNC`). The table
        // stays taken until the handle is there, so no reader is passed through meanwhile.
        let table = match write && self.passthrough.load(Ordering::Relaxed) {
            true => Some(self.backings.lock().await),
            false => None,
        };
        if table
            .as_ref()
            .is_some_and(|t| t.get(&ino).is_some_and(|b| b.strong_count() > 0))
        {
            return Err(Errno::ETXTBSY);
        }
        self.send_gathered(ino, None).await;
        let (vp, at) = self.data_at(ino).await?;
        let append = self.appends(flags);
        let trunc = flags & libc::O_TRUNC != 0;
        let how = if !write {
            How::Read
        } else if at.is_some() {
            // Opened again while new: written under its temporary too, landed by the first
            // close.
            if trunc {
                self.vfs.truncate(&vp, 0).await.map_err(|e| errno(&e))?;
            }
            How::InPlace { append }
        } else if self.vfs.create_needs_size(&vp).await.unwrap_or(false) {
            let e = self.vfs.stat(&vp).await.map_err(|e| errno(&e))?;
            let spool = self.spool(e.perm, append)?;
            if !trunc {
                // The archive API takes whole files: what is there comes along.
                let mut w = spool.file.try_clone().map_err(Errno::from)?;
                self.vfs.read(&vp, &mut w).await.map_err(|e| errno(&e))?;
            }
            How::Spool(tokio::sync::Mutex::new(Spool {
                dirty: trunc,
                ..spool
            }))
        } else {
            if trunc {
                self.vfs.truncate(&vp, 0).await.map_err(|e| errno(&e))?;
            }
            How::InPlace { append }
        };
        let mut fopen = FopenFlags::empty();
        if self.uncached(&vp).await {
            fopen |= FopenFlags::FOPEN_DIRECT_IO;
        }
        let fh = self.add_handle(self.new_handle(ino, how));
        drop(table);
        Ok((fh, fopen))
    }

    /// Files whose size says nothing of their contents (`/meta`, a container's `/proc` and
    /// `/sys`) are read past their size, never from the page cache.
    async fn uncached(&self, vp: &VPath) -> bool {
        match vp {
            VPath::Meta(_) => true,
            VPath::Container { path, .. } => path.starts_with("/proc") || path.starts_with("/sys"),
            _ => false,
        }
    }

    fn new_handle(&self, ino: u64, how: How) -> Handle {
        Handle {
            ino,
            how,
            cursor: tokio::sync::Mutex::new(None),
            backing: Mutex::new(None),
            gathered: tokio::sync::Mutex::new(Gathered::default()),
            host: Mutex::new(None),
        }
    }

    fn spool(&self, mode: u32, append: bool) -> Result<Spool, Errno> {
        let dir = std::env::temp_dir();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags_tmpfile()
            .open(&dir)
            .map_err(Errno::from)?;
        Ok(Spool {
            file,
            mode,
            dirty: false,
            append,
        })
    }

    async fn create(
        &self,
        parent: u64,
        name: &OsStr,
        mode: u32,
        flags: i32,
        owner: (u32, u32),
        creator: u32,
    ) -> Result<(u64, FileAttr, u64), Errno> {
        let (p, vp) = self.child(parent, name)?;
        let append = self.appends(flags);
        let mode = mode & 0o7777;
        if self.vfs.create_needs_size(&vp).await.unwrap_or(false) {
            let spool = Spool {
                dirty: true,
                ..self.spool(mode, append)?
            };
            // Nothing is there yet: the node is named after the path, as stat will.
            let mut e = Entry::new(name, Kind::File);
            e.perm = mode;
            let ino = self.remember(parent, name, &mut self.attr(&p, &vp, &e));
            let how = How::Spool(tokio::sync::Mutex::new(spool));
            let fh = self.add_handle(self.new_handle(ino, how));
            if let Ok(mut m) = self.pending.lock() {
                m.insert(ino, Pending::Spool(fh));
            }
            let attr = self.stat_node(ino).await?;
            return Ok((ino, attr, fh));
        }
        let nf = self.vfs.begin_new(&vp, mode).await.map_err(|e| errno(&e))?;
        self.give_owner(&nf.temp, owner.0, owner.1).await;
        let temp = nf.temp.clone();
        let e = self.vfs.lstat_with(&temp, true).await;
        let e = match e {
            Ok(e) => e,
            Err(e) => {
                nf.discard(&self.vfs).await;
                return Err(errno(&e));
            }
        };
        let ino = self.remember(parent, name, &mut self.attr(&p, &vp, &e));
        let slot: Slot = Arc::new(tokio::sync::RwLock::new(Some(Box::new(nf))));
        if let Ok(mut m) = self.pending.lock() {
            m.insert(ino, Pending::Temp(temp, mode, slot));
        }
        let how = How::New { append, creator };
        let fh = self.add_handle(self.new_handle(ino, how));
        let attr = self.stat_node(ino).await?;
        Ok((ino, attr, fh))
    }

    async fn list(&self, ino: u64) -> Result<Vec<Item>, Errno> {
        let mut items = vec![
            Item {
                name: ".".into(),
                entry: None,
            },
            Item {
                name: "..".into(),
                entry: None,
            },
        ];
        if ino == ROOT {
            for t in TREES {
                let vp = VPath::parse(Path::new(t));
                if let Ok(e) = self.vfs.lstat(&vp).await {
                    items.push(Item {
                        name: t[1..].into(),
                        entry: Some(e),
                    });
                }
            }
            return Ok(items);
        }
        let vp = self.vpath(ino)?;
        // Sizes shown must count every write answered.
        self.send_all_gathered().await;
        let list = self
            .vfs
            .read_dir_with(&vp, true)
            .await
            .map_err(|e| errno(&e))?;
        // New files of ours show under their own names, their temporaries not at all.
        let mut hidden: Vec<OsString> = Vec::new();
        let mut shown: Vec<OsString> = Vec::new();
        if let (Ok(pending), Ok(nodes)) = (self.pending.lock(), self.nodes.lock()) {
            for (&node, p) in pending.iter() {
                // Temporaries never show (also one unlinked while open: it has no name).
                if let Pending::Temp(VPath::Container { path: t, .. }, ..) = p {
                    hidden.extend(t.file_name().map(OsStr::to_os_string));
                }
                let Some(path) = nodes.path(node) else {
                    continue;
                };
                if path.parent() != nodes.path(ino).as_deref() {
                    continue;
                }
                shown.extend(path.file_name().map(OsStr::to_os_string));
            }
        }
        for e in list.iter() {
            if hidden.contains(&e.name) || shown.contains(&e.name) {
                continue;
            }
            items.push(Item {
                name: e.name.clone(),
                entry: Some(e.clone()),
            });
        }
        for name in shown {
            items.push(Item { name, entry: None });
        }
        Ok(items)
    }

    /// The listing a readdir at `offset` reads from: its directory handle's, read once (at
    /// its first readdir) so offsets stay put; without a handle (no opendir) the one read at
    /// offset 0, kept until the end was sent ([`Inner::listing_done`]).
    async fn listing(&self, ino: u64, fh: u64, offset: u64) -> Result<Arc<Vec<Item>>, Errno> {
        let slot = self.dirs.lock().ok().and_then(|d| d.get(&fh).cloned());
        let Some(slot) = slot else {
            if offset > 0 {
                let kept = self.lists.lock().ok().and_then(|l| l.get(&ino).cloned());
                if let Some(l) = kept {
                    return Ok(l);
                }
            }
            let l = Arc::new(self.list(ino).await?);
            if let Ok(mut m) = self.lists.lock() {
                m.insert(ino, l.clone());
            }
            self.mark_listed(ino);
            return Ok(l);
        };
        let mut s = slot.lock().await;
        if let Some(l) = s.as_ref() {
            return Ok(l.clone());
        }
        let l = Arc::new(self.list(ino).await?);
        *s = Some(l.clone());
        self.mark_listed(ino);
        Ok(l)
    }

    /// Whether a handle-less readdir at `offset` is past its listing's end: answered
    /// (empty) on fuser's thread, without a task (every listing's last request).
    fn past_end(&self, ino: u64, fh: u64, offset: u64) -> bool {
        if fh != 0 || offset == 0 {
            return false;
        }
        let Ok(mut m) = self.lists.lock() else {
            return false;
        };
        let end = m.get(&ino).is_some_and(|l| offset >= l.len() as u64);
        if end {
            m.remove(&ino);
        }
        end
    }

    /// A handle-less listing's end was sent: the next readdir at 0 reads it again.
    fn listing_done(&self, ino: u64, l: &Arc<Vec<Item>>) {
        if let Ok(mut m) = self.lists.lock() {
            if m.get(&ino).is_some_and(|k| Arc::ptr_eq(k, l)) {
                m.remove(&ino);
            }
        }
    }

    fn mark_listed(&self, ino: u64) {
        let follows = || {
            self.path_of(ino)
                .is_some_and(|p| names_follow_mtime(&VPath::parse(&p)))
        };
        if self.no_opendir && (ino == ROOT || follows()) {
            return;
        }
        if let Ok(mut l) = self.listed.lock() {
            l.insert(ino, Instant::now());
        }
    }

    /// The directories whose cached listing the kernel should drop now: those whose mtime
    /// does not follow their names, listed a TTL ago or more (without opendir the kernel
    /// keeps a listing until told).
    pub fn sweep(&self) -> Vec<u64> {
        match self.listed.lock() {
            Ok(mut l) if self.no_opendir => overdue(&mut l, self.ttl, Instant::now()),
            _ => Vec::new(),
        }
    }

    /// How often [`Inner::sweep`] is due.
    pub fn sweep_every(&self) -> Option<Duration> {
        self.no_opendir
            .then(|| (self.ttl / 2).max(Duration::from_millis(100)))
    }
}

impl Inner {
    /// Whether the kernel may keep its cached listing of directory `ino` at this opendir: read
    /// for it less than a TTL ago and not changed since (the kernel itself drops it when it
    /// changes the directory).
    fn listing_fresh(&self, ino: u64) -> bool {
        self.listed
            .lock()
            .ok()
            .and_then(|l| l.get(&ino).copied())
            .is_some_and(|t| t.elapsed() < self.ttl)
    }

    /// Something changed at node `ino` (an event, a host program): its listing is read again.
    pub fn stale(&self, ino: u64) {
        if let Ok(mut l) = self.listed.lock() {
            l.remove(&ino);
        }
    }

    /// Everything may have changed.
    pub fn all_stale(&self) {
        if let Ok(mut l) = self.listed.lock() {
            l.clear();
        }
    }

    /// The host file the kernel should read handle `fh` through itself, registered by
    /// `register` (the reply's `open_backing`); `None`: the handle is served here. Only
    /// readers are passed through, on a file opened read-only (opening a container's file for
    /// writing copies it up into its layer and keeps the container from running it), and
    /// writers are served here, where their small writes are gathered. The kernel takes one
    /// host file per node while any handle of it is open, and no handle served here beside
    /// it: a reader is served here while the node has another handle that is, and a writer is
    /// refused (`ETXTBSY`, see [`Inner::open`]) while it is passed through.
    async fn backing(
        &self,
        fh: u64,
        register: impl FnOnce(&File) -> std::io::Result<BackingId>,
    ) -> Result<Option<Arc<BackingId>>, Errno> {
        if !self.passthrough.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let h = self.handle(fh)?;
        if !matches!(h.how, How::Read) {
            return Ok(None);
        }
        let mut table = self.backings.lock().await;
        if let Some(b) = table.get(&h.ino).and_then(Weak::upgrade) {
            return Ok(Some(self.keep_backing(&h, b)));
        }
        let others = self.handles.lock().is_ok_and(|m| {
            m.iter().any(|(&o, oh)| {
                o != fh && oh.ino == h.ino && oh.backing.lock().is_ok_and(|b| b.is_none())
            })
        });
        if others {
            return Ok(None);
        }
        let (vp, at) = self.data_at(h.ino).await?;
        if self.uncached(&vp).await {
            return Ok(None);
        }
        let Some(f) = self.vfs.open_direct(&vp, false).await else {
            return Ok(None);
        };
        drop(at);
        match register(&f) {
            Ok(b) => {
                let b = Arc::new(b);
                table.retain(|_, w| w.strong_count() > 0);
                table.insert(h.ino, Arc::downgrade(&b));
                Ok(Some(self.keep_backing(&h, b)))
            }
            // Not allowed after all (not root, an older kernel): everything is served here.
            Err(_) => {
                self.passthrough.store(false, Ordering::Relaxed);
                Ok(None)
            }
        }
    }

    /// Forgets a handle the kernel was never given.
    async fn drop_handle(&self, fh: u64) {
        if let Ok(mut m) = self.handles.lock() {
            m.remove(&fh);
        }
    }

    fn keep_backing(&self, h: &Handle, b: Arc<BackingId>) -> Arc<BackingId> {
        if let Ok(mut slot) = h.backing.lock() {
            *slot = Some(b.clone());
        }
        b
    }
}

/// Whether a directory's mtime changes whenever its names do, so the kernel may keep its
/// listing until the mtime it sees differs: a container's own directories, but not its `/proc`
/// and `/sys`, nor the mount's own trees (the containers, volumes and images there are now,
/// `/meta`), whose times say nothing.
fn names_follow_mtime(vp: &VPath) -> bool {
    match vp {
        VPath::Container { path, .. } => !(path.starts_with("/proc") || path.starts_with("/sys")),
        // A volume's own directories; `/volumes` (and `/volumes/HOST`) are the list.
        VPath::Volumes(p) => p.components().count() > 2,
        _ => false,
    }
}

/// Takes the entries listed `ttl` ago or more out of `listed`.
fn overdue(listed: &mut HashMap<u64, Instant>, ttl: Duration, now: Instant) -> Vec<u64> {
    let old: Vec<u64> = listed
        .iter()
        .filter(|(_, &t)| now.saturating_duration_since(t) >= ttl)
        .map(|(&ino, _)| ino)
        .collect();
    for ino in &old {
        listed.remove(ino);
    }
    old
}

/// `setattr`'s changes, gathered.
struct SetAttr {
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    size: Option<u64>,
    atime: Option<TimeOrNow>,
    mtime: Option<TimeOrNow>,
}

trait TmpFile {
    fn custom_flags_tmpfile(&mut self) -> &mut Self;
}

impl TmpFile for std::fs::OpenOptions {
    /// An unlinked file in the directory opened (`O_TMPFILE`): gone when closed, whatever
    /// happens to us.
    fn custom_flags_tmpfile(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_TMPFILE).mode(0o600)
    }
}

/// The attributes of a host file held open (an unlinked node's, which no path reaches).
fn held_attr(ino: u64, md: &std::fs::Metadata) -> FileAttr {
    use std::os::unix::fs::FileTypeExt;
    let ft = md.file_type();
    let kind = match () {
        _ if ft.is_dir() => FileType::Directory,
        _ if ft.is_symlink() => FileType::Symlink,
        _ if ft.is_fifo() => FileType::NamedPipe,
        _ if ft.is_socket() => FileType::Socket,
        _ if ft.is_char_device() => FileType::CharDevice,
        _ if ft.is_block_device() => FileType::BlockDevice,
        _ => FileType::RegularFile,
    };
    let t = |s: i64, ns: i64| time_ns(s, ns.clamp(0, 999_999_999) as u32);
    FileAttr {
        ino: INodeNo(ino),
        size: md.size(),
        blocks: md.blocks(),
        atime: t(md.atime(), md.atime_nsec()),
        mtime: t(md.mtime(), md.mtime_nsec()),
        ctime: t(md.ctime(), md.ctime_nsec()),
        crtime: t(md.mtime(), md.mtime_nsec()),
        kind,
        perm: (md.mode() & 0o7777) as u16,
        nlink: md.nlink().min(u32::MAX as u64) as u32,
        uid: md.uid(),
        gid: md.gid(),
        rdev: kernel_rdev(md.rdev()),
        blksize: 4096,
        flags: 0,
    }
}

fn time(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// A time with its nanoseconds, before the epoch too.
fn time_ns(secs: i64, nsec: u32) -> SystemTime {
    time(secs) + Duration::from_nanos(u64::from(nsec.min(999_999_999)))
}

/// `st_rdev` (glibc's 64-bit makedev) as FUSE carries it: the kernel's 32-bit encoding
/// (minor's low byte, major's 12 bits, minor's upper bits).
fn kernel_rdev(rdev: u64) -> u32 {
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)) as u32
}

/// The kernel's 32-bit device number (what FUSE's mknod carries) as `st_rdev`'s makedev.
fn makedev(dev: u32) -> u64 {
    let dev = u64::from(dev);
    let (major, minor) = ((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00));
    ((major & 0xfffff000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffffff00) << 12)
        | (minor & 0xff)
}

fn timespec(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (s, ns) = (d.as_secs() as i64, d.subsec_nanos());
            if ns == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - ns)
            }
        }
    }
}

fn kind(k: Kind) -> FileType {
    match k {
        Kind::File => FileType::RegularFile,
        Kind::Dir => FileType::Directory,
        Kind::Symlink => FileType::Symlink,
        Kind::Fifo => FileType::NamedPipe,
        Kind::Socket => FileType::Socket,
        Kind::CharDevice => FileType::CharDevice,
        Kind::BlockDevice => FileType::BlockDevice,
    }
}

impl MountFs {
    /// Runs `f` on the runtime; it answers the kernel itself.
    fn spawn<F>(&self, f: impl FnOnce(Arc<Inner>) -> F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let fut = f(self.inner.clone());
        self.inner.rt.spawn(fut);
    }
}

impl Filesystem for MountFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Every readdir is a readdirplus (no FUSE_READDIRPLUS_AUTO, which asks for plain
        // names past a listing's first request): the listing has every entry's attributes
        // anyway, and `du` or `ls -l` of a big directory then costs no LOOKUP per name.
        let want = InitFlags::FUSE_ATOMIC_O_TRUNC
            | InitFlags::FUSE_DO_READDIRPLUS
            | InitFlags::FUSE_PARALLEL_DIROPS
            | InitFlags::FUSE_CACHE_SYMLINKS;
        let _ = config.add_capabilities(want & config.capabilities());
        // Open files on the direct path are read and written by the kernel itself (the host
        // file is handed over at open), at the speed of the container's own filesystem; a
        // container's root may be on overlayfs, itself stacked: depth 2. Needs root; the
        // first refused registration turns it off.
        // SAFETY: geteuid cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        // `-o writeback_cache`: small writes gathered by the kernel into writes of up to
        // MAX_WRITE; the kernel takes it or passthrough, not both.
        if self.inner.want_writeback
            && config
                .capabilities()
                .contains(InitFlags::FUSE_WRITEBACK_CACHE)
            && config
                .add_capabilities(InitFlags::FUSE_WRITEBACK_CACHE)
                .is_ok()
        {
            self.inner.writeback.store(true, Ordering::Relaxed);
        } else if root
            && config.capabilities().contains(InitFlags::FUSE_PASSTHROUGH)
            && config.set_max_stack_depth(2).is_ok()
            && config.add_capabilities(InitFlags::FUSE_PASSTHROUGH).is_ok()
        {
            self.inner.passthrough.store(true, Ordering::Relaxed);
        }
        let _ = config.set_max_write(MAX_WRITE);
        let _ = config.set_max_readahead(MAX_READAHEAD);
        let _ = config.set_max_background(64);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let name = name.to_os_string();
        self.spawn(|i| async move {
            match i.lookup(parent.0, &name).await {
                Ok((_, attr)) => reply.entry(&i.ttl, &attr, Generation(0)),
                Err(e) => reply.error(e),
            }
        });
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        if let Ok(mut n) = self.inner.nodes.lock() {
            n.forget(ino.0, nlookup);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.spawn(|i| async move {
            match i.stat_node(ino.0).await {
                Ok(a) => reply.attr(&i.ttl, &a),
                Err(e) => reply.error(e),
            }
        });
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let set = SetAttr {
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
        };
        self.spawn(|i| async move {
            match i.setattr(ino.0, set, fh.map(|f| f.0)).await {
                Ok(a) => reply.attr(&i.ttl, &a),
                Err(e) => reply.error(e),
            }
        });
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        self.spawn(|i| async move {
            let r = match i.vpath(ino.0) {
                Ok(vp) => match i.vfs.readlink(&vp).await {
                    Ok(t) => Ok(i.host_target(&vp, t)),
                    Err(e) => Err(errno(&e)),
                },
                Err(e) => Err(e),
            };
            match r {
                Ok(t) => reply.data(t.as_os_str().as_bytes()),
                Err(e) => reply.error(e),
            }
        });
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let (name, owner) = (name.to_os_string(), (req.uid(), req.gid()));
        self.spawn(|i| async move {
            let r = async {
                let (_, vp) = i.child(parent.0, &name)?;
                // Fifos, sockets (bind(2) asks for one) and devices are made where they are
                // served, as the container allows (its agent; a device without CAP_MKNOD is
                // EPERM): a stopped container takes fifos and devices through the archive.
                let special = match mode & libc::S_IFMT {
                    0 | libc::S_IFREG => None,
                    libc::S_IFIFO => Some(Kind::Fifo),
                    libc::S_IFSOCK => Some(Kind::Socket),
                    libc::S_IFCHR => Some(Kind::CharDevice),
                    libc::S_IFBLK => Some(Kind::BlockDevice),
                    _ => return Err(Errno::EINVAL),
                };
                if let Some(kind) = special {
                    let attrs = Attrs {
                        mode: mode & 0o7777,
                        owner: (owner != (0, 0)).then_some(owner),
                        mtime: None,
                    };
                    i.vfs
                        .mknod(&vp, kind, &attrs, makedev(rdev))
                        .await
                        .map_err(|e| errno(&e))?;
                    return Ok(i.lookup(parent.0, &name).await?.1);
                }
                let (ino, attr, fh) = i
                    .create(parent.0, &name, mode, libc::O_WRONLY, owner, 0)
                    .await?;
                let h = i.handle(fh)?;
                i.settle(&h).await?;
                if let Ok(mut m) = i.handles.lock() {
                    m.remove(&fh);
                }
                let attr = i.stat_node(ino).await.unwrap_or(attr);
                Ok::<_, Errno>(attr)
            }
            .await;
            match r {
                Ok(a) => reply.entry(&i.ttl, &a, Generation(0)),
                Err(e) => reply.error(e),
            }
        });
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let (name, owner) = (name.to_os_string(), (req.uid(), req.gid()));
        self.spawn(|i| async move {
            let r = async {
                let (_, vp) = i.child(parent.0, &name)?;
                let attrs = Attrs {
                    mode: mode & 0o7777,
                    ..Attrs::default()
                };
                i.vfs.mkdir(&vp, &attrs).await.map_err(|e| errno(&e))?;
                i.give_owner(&vp, owner.0, owner.1).await;
                i.lookup(parent.0, &name).await
            }
            .await;
            match r {
                Ok((_, a)) => reply.entry(&i.ttl, &a, Generation(0)),
                Err(e) => reply.error(e),
            }
        });
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent.0, name, false, reply);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent.0, name, true, reply);
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let (name, target, owner) = (
            link_name.to_os_string(),
            target.to_path_buf(),
            (req.uid(), req.gid()),
        );
        self.spawn(|i| async move {
            let r = async {
                let (_, vp) = i.child(parent.0, &name)?;
                let target = i.container_target(&vp, &target);
                let attrs = Attrs {
                    mode: 0o777,
                    owner: (owner != (0, 0)).then_some(owner),
                    mtime: None,
                };
                i.vfs
                    .symlink(&target, &vp, &attrs)
                    .await
                    .map_err(|e| errno(&e))?;
                i.lookup(parent.0, &name).await
            }
            .await;
            match r {
                Ok((_, a)) => reply.entry(&i.ttl, &a, Generation(0)),
                Err(e) => reply.error(e),
            }
        });
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: fuser::RenameFlags,
        reply: ReplyEmpty,
    ) {
        if !flags.is_empty() {
            // RENAME_NOREPLACE / RENAME_EXCHANGE: callers fall back to a plain rename.
            return reply.error(Errno::EINVAL);
        }
        let (name, newname) = (name.to_os_string(), newname.to_os_string());
        self.spawn(|i| async move {
            let r = async {
                let (_, from) = i.child(parent.0, &name)?;
                let (_, to) = i.child(newparent.0, &newname)?;
                let ino = i.nodes.lock().ok().and_then(|n| n.find(parent.0, &name));
                if let Some(ino) = ino {
                    i.send_gathered(ino, None).await;
                }
                // A new file still under its temporary lands later at whichever name it has
                // then: only the node moves.
                match ino.map(|ino| (ino, i.pending(ino))) {
                    // A new file renamed before its last close (an editor's save): it lands at
                    // the new name now, replacing what is there in one rename.
                    Some((ino, Some(Pending::Temp(..)))) => i.land(ino, Some(&to)).await?,
                    Some((_, Some(Pending::Spool(_)))) => {}
                    _ => i.vfs.rename(&from, &to).await.map_err(|e| errno(&e))?,
                }
                if let Ok(mut n) = i.nodes.lock() {
                    n.rename(parent.0, &name, newparent.0, &newname);
                }
                Ok::<_, Errno>(())
            }
            .await;
            match r {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(e),
            }
        });
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let newname = newname.to_os_string();
        self.spawn(|i| async move {
            let r = async {
                let (from, at) = i.data_at(ino.0).await?;
                let (_, to) = i.child(newparent.0, &newname)?;
                i.vfs.hard_link(&from, &to).await.map_err(|e| errno(&e))?;
                drop(at);
                i.lookup(newparent.0, &newname).await
            }
            .await;
            match r {
                Ok((_, a)) => reply.entry(&i.ttl, &a, Generation(0)),
                Err(e) => reply.error(e),
            }
        });
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.spawn(|i| async move {
            let (fh, f) = match i.open(ino.0, flags.0).await {
                Ok(o) => o,
                Err(e) => return reply.error(e),
            };
            match i.backing(fh, |f| reply.open_backing(f)).await {
                Ok(Some(b)) => reply.opened_passthrough(FileHandle(fh), f, &b),
                Ok(None) => reply.opened(FileHandle(fh), f),
                Err(e) => {
                    i.drop_handle(fh).await;
                    reply.error(e)
                }
            }
        });
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        self.spawn(|i| async move {
            let r = match i.handle(fh.0) {
                Ok(h) => i.read(&h, offset, size as usize).await,
                Err(e) => Err(e),
            };
            match r {
                Ok(b) => reply.data(&b),
                Err(e) => reply.error(e),
            }
        });
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: fuser::WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        if let Some(n) = self.inner.gather_now(fh.0, offset, data) {
            return reply.written(n);
        }
        let data = Bytes::copy_from_slice(data);
        self.spawn(|i| async move {
            let r = match i.handle(fh.0) {
                Ok(h) => i.write(&h, offset, data).await,
                Err(e) => Err(e),
            };
            match r {
                Ok(n) => reply.written(n),
                Err(e) => reply.error(e),
            }
        });
    }

    fn flush(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: fuser::LockOwner,
        reply: ReplyEmpty,
    ) {
        // A flush comes at every close of every copy of the descriptor (a forked child's exec
        // closes its copy): only the creator's close lands a new file (else the last close,
        // at release), so close(2) returns once the file is at its name.
        let pid = req.pid();
        self.spawn(|i| async move {
            let r = match i.handle(fh.0) {
                Ok(h) => match &h.how {
                    How::New { creator, .. } if *creator == pid => i.settle(&h).await,
                    // close(2) returns once what was written is in the container.
                    _ => i.send_own(&h).await,
                },
                Err(e) => Err(e),
            };
            match r {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(e),
            }
        });
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.spawn(|i| async move {
            let h = i.handles.lock().ok().and_then(|mut m| m.remove(&fh.0));
            if let Some(h) = h {
                let _ = i.settle(&h).await;
            }
            reply.ok();
        });
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.spawn(|i| async move {
            let r = async {
                let h = i.handle(fh.0)?;
                if let How::Spool(s) = &h.how {
                    return s.lock().await.file.sync_data().map_err(Errno::from);
                }
                i.send_own(&h).await?;
                let (vp, _at) = i.data_at(ino.0).await?;
                i.vfs.fsync(&vp, datasync).await.map_err(|e| errno(&e))
            }
            .await;
            match r {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(e),
            }
        });
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        // The kernel then opens every directory itself, with its listing kept (FOPEN_CACHE_DIR
        // and FOPEN_KEEP_CACHE): a walk of a tree already listed costs no request at all.
        if self.inner.no_opendir {
            return reply.error(Errno::ENOSYS);
        }
        let fh = self.inner.next_fh.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut d) = self.inner.dirs.lock() {
            d.insert(fh, Arc::default());
        }
        // The kernel keeps the listing it read (in the directory's page cache) and answers
        // readdir from it while this says keep: a walk of a tree just walked never asks here.
        let mut f = FopenFlags::FOPEN_CACHE_DIR;
        if self.inner.listing_fresh(ino.0) {
            f |= FopenFlags::FOPEN_KEEP_CACHE;
        }
        reply.opened(FileHandle(fh), f);
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        if self.inner.past_end(ino.0, fh.0, offset) {
            return reply.ok();
        }
        self.spawn(|i| async move {
            let items = match i.listing(ino.0, fh.0, offset).await {
                Ok(s) => s,
                Err(e) => return reply.error(e),
            };
            if offset >= items.len() as u64 {
                i.listing_done(ino.0, &items);
            }
            let dir = i.path_of(ino.0).unwrap_or_default();
            for (n, it) in items.iter().enumerate().skip(offset as usize) {
                // The same st_ino stat gives, where the listing knows it.
                let p = dir.join(&it.name);
                let known = i.nodes.lock().ok().and_then(|nd| nd.find(ino.0, &it.name));
                let (k, st_ino) = match (&it.entry, Inner::vpath_of(&p)) {
                    (Some(e), Ok(vp)) => (
                        kind(e.kind),
                        known.map_or_else(|| i.attr(&p, &vp, e).ino, INodeNo),
                    ),
                    (Some(e), Err(_)) => (kind(e.kind), INodeNo(ino.0)),
                    (None, _) if it.name == "." || it.name == ".." => {
                        (FileType::Directory, INodeNo(ino.0))
                    }
                    (None, _) => (FileType::RegularFile, INodeNo(ino.0)),
                };
                if reply.add(st_ino, (n + 1) as u64, k, &it.name) {
                    break;
                }
            }
            reply.ok();
        });
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        if self.inner.past_end(ino.0, fh.0, offset) {
            return reply.ok();
        }
        self.spawn(|i| async move {
            let items = match i.listing(ino.0, fh.0, offset).await {
                Ok(s) => s,
                Err(e) => return reply.error(e),
            };
            if offset >= items.len() as u64 {
                i.listing_done(ino.0, &items);
            }
            let dir = i.path_of(ino.0).unwrap_or_default();
            for (n, it) in items.iter().enumerate().skip(offset as usize) {
                let next = (n + 1) as u64;
                if it.name == "." || it.name == ".." {
                    let a = i.root_attr();
                    let here = if it.name == "." { ino.0 } else { ROOT };
                    // "." and ".." take no reference.
                    if reply.add(
                        INodeNo(here),
                        next,
                        &it.name,
                        &Duration::ZERO,
                        &a,
                        Generation(0),
                    ) {
                        break;
                    }
                    continue;
                }
                let p = dir.join(&it.name);
                let Ok(vp) = Inner::vpath_of(&p) else {
                    continue;
                };
                let known = i.nodes.lock().ok().and_then(|nd| nd.find(ino.0, &it.name));
                let root = matches!(&vp, VPath::Container { path, .. } if path == Path::new("/"));
                let mut attr = match (&it.entry, known) {
                    // A container in /containers: its root's own attributes.
                    _ if root => match i.stat_path(0, &p).await {
                        Ok(a) => a,
                        Err(_) => continue,
                    },
                    (Some(e), None) => i.attr(&p, &vp, e),
                    (Some(e), Some(k)) if i.pending(k).is_none() => i.attr(&p, &vp, e),
                    (_, Some(k)) => match i.stat_path(k, &p).await {
                        Ok(a) => a,
                        Err(_) => continue,
                    },
                    (None, None) => continue,
                };
                // Named first: the kernel counts the entry once it is sent.
                let node = i.remember(ino.0, &it.name, &mut attr);
                if reply.add(INodeNo(node), next, &it.name, &i.ttl, &attr, Generation(0)) {
                    // Not sent after all.
                    if let Ok(mut nd) = i.nodes.lock() {
                        nd.forget(node, 1);
                    }
                    break;
                }
            }
            reply.ok();
        });
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        if let Ok(mut d) = self.inner.dirs.lock() {
            d.remove(&fh.0);
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.spawn(|i| async move {
            let r = match i.vpath(ino.0) {
                Ok(vp) => i.vfs.fsync(&vp, datasync).await.map_err(|e| errno(&e)),
                Err(e) => Err(e),
            };
            match r {
                Ok(()) | Err(_) => reply.ok(),
            }
        });
    }

    fn statfs(&self, _req: &Request, ino: INodeNo, reply: ReplyStatfs) {
        self.spawn(|i| async move {
            let s = match i.vpath(ino.0) {
                Ok(vp @ VPath::Container { .. }) => i.vfs.statfs(&vp).await.ok().inspect(|s| {
                    if let (VPath::Container { host, name, .. }, Ok(mut m)) =
                        (&vp, i.name_max.lock())
                    {
                        if s.namelen > 0 {
                            m.insert((host.clone(), name.clone()), s.namelen as usize);
                        }
                    }
                }),
                _ => None,
            };
            match s {
                Some(s) => reply.statfs(
                    s.blocks,
                    s.bfree,
                    s.bavail,
                    s.files,
                    s.ffree,
                    s.bsize as u32,
                    s.namelen as u32,
                    s.bsize as u32,
                ),
                None => reply.statfs(0, 0, 0, 0, 0, 4096, 255, 4096),
            }
        });
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let (name, owner, pid) = (name.to_os_string(), (req.uid(), req.gid()), req.pid());
        self.spawn(|i| async move {
            let (attr, fh) = match i.create(parent.0, &name, mode, flags, owner, pid).await {
                Ok((_, attr, fh)) => (attr, fh),
                Err(e) => return reply.error(e),
            };
            let none = FopenFlags::empty();
            match i.backing(fh, |f| reply.open_backing(f)).await {
                Ok(Some(b)) => reply.created_passthrough(
                    &i.ttl,
                    &attr,
                    Generation(0),
                    FileHandle(fh),
                    none,
                    &b,
                ),
                // A new file is the mount's alone: nothing else holds its node.
                Ok(None) | Err(_) => {
                    reply.created(&i.ttl, &attr, Generation(0), FileHandle(fh), none)
                }
            }
        });
    }
}

impl MountFs {
    fn remove(&self, parent: u64, name: &OsStr, dir: bool, reply: ReplyEmpty) {
        let name = name.to_os_string();
        self.spawn(|i| async move {
            let r = async {
                let (_, vp) = i.child(parent, &name)?;
                let ino = i.nodes.lock().ok().and_then(|n| n.find(parent, &name));
                if let Some(ino) = ino {
                    i.send_gathered(ino, None).await;
                }
                // A new file unlinked while open lives on at its temporary, nameless, until
                // its close discards it (unlink(2) of an open file, as on any filesystem).
                let open = ino.is_some_and(|ino| {
                    i.handles
                        .lock()
                        .is_ok_and(|h| h.values().any(|h| h.ino == ino))
                });
                let orphan =
                    open && matches!(ino.and_then(|ino| i.pending(ino)), Some(Pending::Temp(..)));
                let pending = match orphan {
                    true => None,
                    false => ino.and_then(|ino| i.pending.lock().ok()?.remove(&ino)),
                };
                match pending {
                    // Never landed: only its temporary goes.
                    Some(Pending::Temp(_, _, slot)) => {
                        if let Some(nf) = slot.write().await.take() {
                            nf.discard(&i.vfs).await;
                        }
                    }
                    Some(Pending::Spool(_)) => {}
                    None if orphan => {}
                    None => i.vfs.remove(&vp, dir).await.map_err(|e| errno(&e))?,
                }
                if let Ok(mut n) = i.nodes.lock() {
                    n.detach(parent, &name);
                }
                Ok::<_, Errno>(())
            }
            .await;
            match r {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(e),
            }
        });
    }
}

#[cfg(test)]
mod special_tests {
    use super::*;

    #[test]
    fn device_numbers_cross_between_the_kernel_and_st_rdev() {
        // /dev/null (1,3), a big minor (8, 300) and a big major (300, 1).
        for (major, minor) in [(1u64, 3u64), (8, 300), (300, 1)] {
            let st = ((major & 0xfffff000) << 32)
                | ((major & 0xfff) << 8)
                | ((minor & 0xffffff00) << 12)
                | (minor & 0xff);
            let kernel = kernel_rdev(st);
            assert_eq!(
                kernel as u64,
                (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
            );
            assert_eq!(makedev(kernel), st, "{major},{minor}");
        }
    }

    #[test]
    fn only_directories_whose_mtime_follows_their_names_keep_listings() {
        let follows = |p: &str| names_follow_mtime(&VPath::parse(Path::new(p)));
        assert!(follows("/containers/web/etc"));
        assert!(follows("/containers/web"));
        assert!(follows("/containers/web/usr/share/processes"));
        assert!(!follows("/containers/web/proc"));
        assert!(!follows("/containers/web/proc/1/fd"));
        assert!(!follows("/containers/web/sys/class"));
        assert!(!follows("/containers"));
        assert!(!follows("/meta/containers"));
        assert!(!follows("/images"));
        assert!(!follows("/images/debian:12/etc"));
        // `/volumes/NAME` or `/volumes/HOST` (several engines): kept only a TTL.
        assert!(!follows("/volumes"));
        assert!(!follows("/volumes/data"));
        assert!(follows("/volumes/data/sub"));
    }

    #[test]
    fn listings_a_ttl_old_are_due() {
        let now = Instant::now();
        let ttl = Duration::from_secs(10);
        let mut listed = HashMap::new();
        listed.insert(1, now - Duration::from_secs(11));
        listed.insert(2, now - Duration::from_secs(10));
        listed.insert(3, now - Duration::from_secs(9));
        listed.insert(4, now);
        let mut due = overdue(&mut listed, ttl, now);
        due.sort();
        assert_eq!(due, [1, 2]);
        assert_eq!(listed.len(), 2);
        assert!(overdue(&mut listed, ttl, now).is_empty());
    }

    #[test]
    fn times_keep_nanoseconds_before_and_after_the_epoch() {
        assert_eq!(timespec(time_ns(1_700_000_000, 123)), (1_700_000_000, 123));
        assert_eq!(timespec(time_ns(-2, 500)), (-2, 500));
        // Past 2038 too.
        assert_eq!(timespec(time_ns(4_102_444_800, 1)), (4_102_444_800, 1));
    }
}
