//! Searching the namespace (grep, find, du): which operands their container's agent searches,
//! so only results cross the wire, and a [`walk::Fs`] over the namespace for the others (host
//! paths, stopped containers, containers the agent cannot run in), which dockerbox-search then
//! walks here with the very same code.

use std::collections::HashMap;
use std::ffi::CString;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use dockerbox_search::local::{self, last_errno, stat_meta};
use dockerbox_search::walk::{self, Fs, Meta};

use super::agent::Via;
use super::stream::FileReader;
use super::{Entry, FsError, Kind, Need, VPath, Vfs};
use crate::host::{on_kernel_fs, AgentConn, ContainerInfo, OverlayDirs, ProcRoot, State};

/// Who searches an operand.
pub enum Searcher {
    /// The agent in its running container, at this path inside it, and what sharing a grep
    /// with other containers' agents needs, where it may.
    Agent(Arc<AgentConn>, PathBuf, Option<ShareBasis>),
    /// dockerbox itself, on a running local container's files by the direct path, at this
    /// path inside it: no agent to upload and start, and no byte through the engine.
    Direct(Direct, PathBuf),
    /// dockerbox itself, walking the namespace.
    Here,
}

/// A running container reached by the direct path, for a walk here.
#[derive(Clone)]
pub struct Direct {
    pub root: Arc<ProcRoot>,
    /// The container's root in the namespace (`/containers/web`), where what only a process in
    /// the container sees right is asked through the route (the agent).
    pub prefix: Vec<u8>,
    /// Its overlay2 layers, where the engine says and this machine shows them.
    pub layers: Option<Arc<Layers>>,
}

/// An overlay2 (or fuse-overlayfs) container's layers as this machine shows them, to tell the files it has not
/// changed from its image: such a file holds the same bytes in every container of the same
/// image layers, so a search of many of them reads it once ([`Fs::content_key`]).
///
/// A file at a path (reached through directories only, none a symlink) is the image's when
/// neither the container's upper layer nor its init layer (`/etc/hosts` and such) has an
/// entry there, no directory on its way is opaque or redirected in those layers (overlayfs'
/// `trusted.overlay.opaque`/`redirect`), and no mount point (a volume, a bind) lies on it:
/// overlayfs then shows the topmost image layer's file, and image layers never change.
pub struct Layers {
    upper: Vec<u8>,
    init: Option<Vec<u8>>,
    /// The image's layers (the lower directories below the init layer, `:`-joined): the key's
    /// first part.
    image: Vec<u8>,
    /// The same, one directory each, topmost first: where a key's bytes are read (never
    /// through a container, which could change its copy meanwhile).
    lowers: Vec<Vec<u8>>,
    /// Mount points inside the container but `/`.
    mounts: Vec<Vec<u8>>,
}

impl Layers {
    /// The layers of the container at `root`, if the engine's directories are this machine's
    /// (its merged directory is the container's root) and it can be read as it is.
    fn new(d: &OverlayDirs, root: &ProcRoot) -> Option<Layers> {
        let merged = std::fs::metadata(&d.merged).ok()?;
        let top = root.stat(Path::new("/")).ok()?;
        if merged.dev() != top.st_dev || merged.ino() != top.st_ino {
            return None;
        }
        let mut lower = d.lower.split(':');
        let first = lower.next()?;
        let (init, image) = if first.ends_with("-init/diff") {
            (
                Some(first.as_bytes().to_vec()),
                lower.collect::<Vec<_>>().join(":"),
            )
        } else {
            (None, d.lower.clone())
        };
        let info = std::fs::read(format!("/proc/{}/mountinfo", d.pid)).ok()?;
        let mounts: Vec<Vec<u8>> = info
            .split(|&b| b == b'\n')
            .filter_map(|l| l.split(|&b| b == b' ').nth(4))
            .map(unescape)
            .filter(|m| m != b"/")
            .collect();
        // The PID read was the container's while its process still lives.
        if !root.alive() || image.is_empty() {
            return None;
        }
        Some(Layers {
            upper: d.upper.as_bytes().to_vec(),
            init,
            lowers: image.split(':').map(|l| l.as_bytes().to_vec()).collect(),
            image: image.into_bytes(),
            mounts,
        })
    }

    /// The image's file at `p` as overlayfs shows it: the topmost image layer's entry, opened
    /// with no symlink on the way and beneath that layer; a regular file or nothing.
    fn open_image_file(&self, p: &[u8]) -> Result<std::fs::File, i32> {
        for layer in &self.lowers {
            match host_lstat(&joined(layer, p)) {
                Err(libc::ENOENT) => continue,
                Err(e) => return Err(e),
                Ok(mode) if mode & libc::S_IFMT != libc::S_IFREG => return Err(libc::EINVAL),
                Ok(_) => {}
            }
            let dir = CString::new(layer.as_slice()).map_err(|_| libc::EINVAL)?;
            let rel = CString::new(p.strip_prefix(b"/").unwrap_or(p)).map_err(|_| libc::EINVAL)?;
            // SAFETY: a valid C string; the descriptor returned is ours.
            let d = unsafe {
                libc::open(
                    dir.as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
            if d < 0 {
                return Err(last_errno());
            }
            // SAFETY: d is a new descriptor nobody else owns.
            let d = unsafe { OwnedFd::from_raw_fd(d) };
            // SAFETY: an all-zero open_how is valid; its fields are set below.
            let mut how: libc::open_how = unsafe { std::mem::zeroed() };
            how.flags =
                (libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC) as u64;
            how.resolve =
                libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
            // SAFETY: d is open, rel a valid C string, how a valid open_how of the size passed.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_openat2,
                    d.as_raw_fd(),
                    rel.as_ptr(),
                    &how as *const libc::open_how,
                    std::mem::size_of::<libc::open_how>(),
                )
            };
            if fd < 0 {
                return Err(last_errno());
            }
            // SAFETY: the kernel just gave us this descriptor.
            let f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd as i32) });
            return match f.metadata() {
                Ok(m) if m.is_file() => Ok(f),
                Ok(_) => Err(libc::EINVAL),
                Err(e) => Err(errno_of(&e)),
            };
        }
        Err(libc::ENOENT)
    }

    fn on_mount(&self, p: &[u8]) -> bool {
        self.mounts
            .iter()
            .any(|m| p.starts_with(m) && (p.len() == m.len() || p[m.len()] == b'/'))
    }
}

/// mountinfo's `\040`-style escapes undone.
fn unescape(b: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let n = b[i + 1..i + 4]
                .iter()
                .fold(0u32, |n, c| n * 8 + u32::from(c - b'0'));
            v.push(n as u8);
            i += 4;
        } else {
            v.push(b[i]);
            i += 1;
        }
    }
    v
}

/// `lstat` of a host path: its mode, or the errno.
fn host_lstat(p: &[u8]) -> Result<u32, i32> {
    let c = CString::new(p).map_err(|_| libc::EINVAL)?;
    // SAFETY: an all-zero stat is a valid value for lstat to overwrite.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a writable stat.
    if unsafe { libc::lstat(c.as_ptr(), &mut st) } != 0 {
        return Err(last_errno());
    }
    Ok(st.st_mode)
}

/// Whether a layer leaves the directory at `p` (a host path) to the layers beneath: it has
/// none there, or a plain one (not opaque, not redirected).
fn layer_dir_open(p: &[u8]) -> bool {
    match host_lstat(p) {
        Err(libc::ENOENT) => true,
        Err(_) => false,
        Ok(mode) if mode & libc::S_IFMT != libc::S_IFDIR => false,
        Ok(_) => {
            let Ok(c) = CString::new(p) else { return false };
            [
                c"trusted.overlay.opaque",
                c"trusted.overlay.redirect",
                c"user.overlay.opaque",
                c"user.overlay.redirect",
            ]
            .iter()
            .all(|name| {
                // SAFETY: valid C strings; a size query writes nothing.
                let r =
                    unsafe { libc::lgetxattr(c.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
                r < 0 && last_errno() == libc::ENODATA
            })
        }
    }
}

fn joined(dir: &[u8], p: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(dir.len() + p.len());
    v.extend_from_slice(dir);
    v.extend_from_slice(p);
    v
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
        // The kernel's filesystems answer by who asks: only the agent sees them right.
        if !kernel_path(path.as_os_str().as_bytes()) {
            if let Some(root) = self.eng(&c).proc_root(&c).await {
                let top = VPath::Container {
                    host: host.clone(),
                    name: name.clone(),
                    path: PathBuf::from("/"),
                };
                let prefix = top.to_path().into_os_string().into_vec();
                let layers = match self.eng(&c).overlay_dirs(&c).await {
                    Some(d) => Layers::new(&d, &root).map(Arc::new),
                    None => None,
                };
                return Searcher::Direct(
                    Direct {
                        root,
                        prefix,
                        layers,
                    },
                    path.clone(),
                );
            }
        }
        match self.via_with(&c, true).await {
            Via::Agent(conn) => {
                let basis = self.share_basis(&c).await;
                Searcher::Agent(conn, path.clone(), basis)
            }
            Via::Archive(_) => Searcher::Here,
        }
    }

    /// What sharing a grep between agents needs of `c` (dockerbox-search's `share`): its
    /// engine keeps containers on overlayfs (or fuse-overlayfs), where an image's file shows
    /// with the same inode and times in every container of that image. Containers share
    /// only with those of the same engine, image, user, capabilities and security options.
    async fn share_basis(&self, c: &ContainerInfo) -> Option<ShareBasis> {
        let i = self.eng(c).inspect_now(&c.id).await.ok()?;
        let g = i.graph_driver.as_ref()?;
        if g.name != "overlay2" && g.name != "fuse-overlayfs" {
            return None;
        }
        let h = i.host_config.clone().unwrap_or_default();
        let group = format!(
            "{}\0{}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}",
            c.engine,
            i.image.clone().unwrap_or_default(),
            i.config.as_ref().and_then(|c| c.user.clone()),
            h.privileged,
            h.cap_add,
            h.cap_drop,
            h.security_opt,
            h.userns_mode,
        );
        // ctime is read from a coarse clock: a file changed just after the container was
        // made may carry a time a little before it.
        Some(ShareBasis {
            group,
            before: c.created - 2,
        })
    }

    /// A path's modification time to the nanosecond (`lstat`), for `find -newer`: from the
    /// agent where it runs; elsewhere the namespace knows whole seconds.
    pub async fn mtime_exact(&self, p: &VPath) -> Result<(i64, u32), FsError> {
        match self.searcher(p).await {
            Searcher::Agent(conn, path, _) => {
                let req = dockerbox_proto::Request::Lstat {
                    path: path.as_os_str().as_bytes().to_vec(),
                };
                if let Ok(dockerbox_proto::Response::Attr(a)) = conn.call(req).await {
                    return Ok((a.mtime, a.mtime_nsec));
                }
            }
            Searcher::Direct(d, path) => {
                if let Ok(st) = d.root.lstat(&path) {
                    return Ok((st.st_mtime, st.st_mtime_nsec as u32));
                }
            }
            Searcher::Here => {}
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

/// Whether a path inside a container is on the kernel's filesystems (`/proc`, `/sys`), whose
/// answers depend on who reads.
fn kernel_path(p: &[u8]) -> bool {
    [&b"/proc"[..], b"/sys"]
        .iter()
        .any(|k| p.starts_with(k) && (p.len() == k.len() || p[k.len()] == b'/'))
}

/// A running container's files by the direct path as a [`walk::Fs`] (paths inside the
/// container), for a walk on a blocking thread: plain syscalls confined by
/// `openat2(RESOLVE_IN_ROOT)`, nothing through the engine. What a process in the container
/// would see otherwise (the kernel's filesystems, a magic link on the way, a fifo or device
/// to read) goes through the route instead, as the agent answers it.
pub struct DirectWalk {
    pub direct: Direct,
    pub ns: NamespaceFs,
    /// Directories known to be the image's own or not (see [`Layers`]).
    pub dirs: HashMap<Vec<u8>, bool>,
}

impl DirectWalk {
    pub fn new(direct: Direct, ns: NamespaceFs) -> DirectWalk {
        DirectWalk {
            direct,
            ns,
            dirs: HashMap::new(),
        }
    }

    /// Whether the directory `d` (absolute inside the container) is reached through
    /// directories only and left to the image's layers by the container's own.
    fn image_dir(&mut self, layers: &Layers, d: &[u8]) -> bool {
        if d == b"/" {
            return true;
        }
        if let Some(&ok) = self.dirs.get(d) {
            return ok;
        }
        let parent = match d.iter().rposition(|&b| b == b'/') {
            Some(0) => &b"/"[..],
            Some(i) => &d[..i],
            None => return false,
        };
        let ok = self.image_dir(layers, parent)
            && self
                .direct
                .root
                .lstat(Path::new(OsStr::from_bytes(d)))
                .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
            && layer_dir_open(&joined(&layers.upper, d))
            && layers
                .init
                .as_ref()
                .is_none_or(|i| layer_dir_open(&joined(i, d)));
        self.dirs.insert(d.to_vec(), ok);
        ok
    }

    /// The namespace path of `p` for the route, its symlinks resolved inside the container
    /// first: the route knows the kernel's filesystems by their paths (`/proc`), not by a
    /// symlink to them.
    fn outer(&self, p: &[u8]) -> Vec<u8> {
        let p = self.real(p).unwrap_or_else(|| p.to_vec());
        let p = &p[..];
        let mut v = self.direct.prefix.clone();
        if !v.ends_with(b"/") && !p.starts_with(b"/") {
            v.push(b'/');
        }
        v.extend_from_slice(if v.ends_with(b"/") {
            p.strip_prefix(b"/").unwrap_or(p)
        } else {
            p
        });
        v
    }

    /// `p` with every symlink on it resolved inside the container (as `realpath` there
    /// would), if it resolves.
    fn real(&self, p: &[u8]) -> Option<Vec<u8>> {
        let parts = |p: &[u8]| -> Vec<Vec<u8>> {
            p.split(|&b| b == b'/')
                .filter(|c| !c.is_empty())
                .rev()
                .map(<[u8]>::to_vec)
                .collect()
        };
        let joined = |done: &[Vec<u8>]| {
            let mut v = Vec::new();
            for c in done {
                v.push(b'/');
                v.extend_from_slice(c);
            }
            if v.is_empty() {
                v.push(b'/');
            }
            v
        };
        let mut todo = parts(p);
        let mut done: Vec<Vec<u8>> = Vec::new();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            match &c[..] {
                b"." => continue,
                b".." => {
                    done.pop();
                    continue;
                }
                _ => done.push(c),
            }
            let here = joined(&done);
            let path = Path::new(OsStr::from_bytes(&here));
            let st = self.direct.root.lstat(path).ok()?;
            if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
                continue;
            }
            hops += 1;
            if hops > 40 {
                return None;
            }
            let target = self.direct.root.readlink(path).ok()?;
            done.pop();
            if target.starts_with(b"/") {
                done.clear();
            }
            todo.extend(parts(&target));
        }
        Some(joined(&done))
    }

    fn read_dir_as(&mut self, path: &[u8], full: bool) -> Result<Vec<(Vec<u8>, Meta)>, i32> {
        if kernel_path(path) {
            return self.ns_read_dir(path);
        }
        let f = match self
            .direct
            .root
            .open_sync(Path::new(OsStr::from_bytes(path)))
        {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return self.ns_read_dir(path),
            Err(e) => return Err(errno_of(&e)),
        };
        if on_kernel_fs(&f) {
            return self.ns_read_dir(path);
        }
        local::list_dir(f.as_fd(), full)
    }

    fn ns_read_dir(&mut self, path: &[u8]) -> Result<Vec<(Vec<u8>, Meta)>, i32> {
        let p = self.outer(path);
        self.ns.read_dir(&p)
    }
}

fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

impl Fs for DirectWalk {
    fn stat(&mut self, path: &[u8], follow: bool) -> Result<Meta, i32> {
        if !kernel_path(path) {
            let p = Path::new(OsStr::from_bytes(path));
            let r = if follow {
                self.direct.root.stat(p)
            } else {
                self.direct.root.lstat(p)
            };
            match r {
                Ok(st) => return Ok(stat_meta(&st)),
                Err(e) if e.raw_os_error() != Some(libc::ELOOP) => return Err(errno_of(&e)),
                Err(_) => {}
            }
        }
        let p = self.outer(path);
        self.ns.stat(&p, follow)
    }

    fn read_dir(&mut self, path: &[u8]) -> Result<Vec<(Vec<u8>, Meta)>, i32> {
        self.read_dir_as(path, true)
    }

    fn read_dir_kinds(&mut self, path: &[u8]) -> Result<Vec<(Vec<u8>, Meta)>, i32> {
        self.read_dir_as(path, false)
    }

    fn open(&mut self, path: &[u8]) -> Result<Box<dyn Read + '_>, i32> {
        if !kernel_path(path) {
            match self
                .direct
                .root
                .open_read(Path::new(OsStr::from_bytes(path)))
            {
                Ok(f) if !on_kernel_fs(&f) => return Ok(Box::new(f)),
                // Read as the container's processes would.
                Ok(_) => {}
                // Not a regular file (a fifo, a device), or a magic link on the way: as the
                // agent reads it.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ELOOP)) => {}
                Err(e) => return Err(errno_of(&e)),
            }
        }
        let p = self.outer(path);
        self.ns.open(&p)
    }

    fn open_content(&mut self, path: &[u8]) -> Result<Box<dyn Read + '_>, i32> {
        let layers = self.direct.layers.clone().ok_or(libc::ENOENT)?;
        Ok(Box::new(layers.open_image_file(path)?))
    }

    fn content_key(&mut self, path: &[u8]) -> Option<Vec<u8>> {
        let layers = self.direct.layers.clone()?;
        let plain = path.len() > 1
            && path.starts_with(b"/")
            && path[1..]
                .split(|&b| b == b'/')
                .all(|c| !c.is_empty() && c != b"." && c != b"..");
        if !plain || kernel_path(path) || layers.on_mount(path) {
            return None;
        }
        let i = path.iter().rposition(|&b| b == b'/')?;
        let parent = if i == 0 { &b"/"[..] } else { &path[..i] };
        let absent = |layer: &[u8]| host_lstat(&joined(layer, path)) == Err(libc::ENOENT);
        if !self.image_dir(&layers, parent)
            || !absent(&layers.upper)
            || !layers.init.as_deref().is_none_or(absent)
        {
            return None;
        }
        let mut key = layers.image.clone();
        key.push(0);
        key.extend_from_slice(path);
        Some(key)
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

/// Where a container's agent may share a grep ([`Vfs::share_basis`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareBasis {
    /// Containers share with those of the same group only.
    pub group: String,
    /// Its files older than this (seconds) are still its image's.
    pub before: i64,
}

/// One grep's sharing between the agents of a group: the leader's memos, kept for the
/// followers (bounded in bytes), and their keys once the leader is done.
pub struct Share {
    pub seed: u64,
    pub o: GrepOpts,
    memos: std::sync::Mutex<HashMap<u64, Arc<Memo>>>,
    keys: tokio::sync::watch::Sender<Option<Arc<Keys>>>,
}

/// The leader's memo keys: with output, and without (each sorted).
#[derive(Default)]
struct Keys {
    loud: Vec<u64>,
    quiet: Vec<u64>,
}

/// A file's results as the leader's search found them, with no name shown.
struct Memo {
    out: Vec<u8>,
    binary: bool,
    selected: u64,
}

use dockerbox_search::grep::{Opts as GrepOpts, Render};
use dockerbox_search::share::Record;

/// The most memo bytes one grep keeps for its followers (past it, they search themselves).
const SHARE_BYTES: usize = 64 << 20;

/// The most keys a follower is sent (its request must fit in one frame).
const SHARE_KEYS: usize = (dockerbox_proto::MAX_FRAME - 64 * 1024) / 8;

impl Share {
    pub fn new(o: GrepOpts) -> Arc<Share> {
        Arc::new(Share {
            seed: random_seed(),
            o,
            memos: std::sync::Mutex::default(),
            keys: tokio::sync::watch::Sender::new(None),
        })
    }
}

fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most b.len() bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n == b.len() as isize {
        u64::from_le_bytes(b)
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id())
    }
}

/// Prints through a [`dockerbox_search::Printer`] into events.
#[derive(Default)]
struct Collect(Vec<Event>);

impl dockerbox_search::Sink for Collect {
    fn out(&mut self, bytes: &[u8], _whole: bool) -> bool {
        self.0.push(Event::Out(bytes.to_vec()));
        true
    }
    fn error(&mut self, path: &[u8], errno: i32, dir: bool) -> bool {
        self.0.push(Event::Problem(path.to_vec(), errno, dir));
        true
    }
    fn note(&mut self, path: &[u8], note: dockerbox_search::Note) -> bool {
        self.0.push(Event::Note(path.to_vec(), note));
        true
    }
}

/// What one role of a shared grep does with a record.
enum Part<'a> {
    Lead {
        share: &'a Share,
        /// The memo being received: where it is printed, its printer, and its bytes while
        /// they may still be kept.
        cur: Option<Cur>,
        kept: usize,
        keys: Keys,
    },
    Follow(&'a HashMap<u64, Arc<Memo>>),
}

/// The memo a leader is sending.
struct Cur {
    key: u64,
    display: Vec<u8>,
    show: bool,
    render: Render,
    keep: Option<Vec<u8>>,
}

/// Publishes the leader's keys however its job ends (none: the followers search alone).
struct Publish<'a>(&'a Share, Keys);

impl Drop for Publish<'_> {
    fn drop(&mut self) {
        let k = std::mem::take(&mut self.1);
        self.0.keys.send_replace(Some(Arc::new(k)));
    }
}

/// Runs a grep shared between agents (the leader when `lead`), passing its records on as
/// events. The leader prints its memos itself and keeps them (within [`SHARE_BYTES`]) for
/// the followers, each of which waits for the leader's keys before it starts.
pub async fn in_agent_shared(
    conn: Arc<AgentConn>,
    args: Vec<Vec<u8>>,
    roots: Vec<walk::Root>,
    before: i64,
    share: Arc<Share>,
    lead: bool,
    tx: Events,
) {
    use dockerbox_proto::{Request, Response};
    let display = roots.first().map(|r| r.display.clone()).unwrap_or_default();
    let mut publish = lead.then(|| Publish(&share, Keys::default()));
    let (mut loud, mut quiet, memos) = (Vec::new(), Vec::new(), HashMap::new());
    let memos = if lead {
        memos
    } else {
        let mut rx = share.keys.subscribe();
        if let Ok(k) = rx.wait_for(Option::is_some).await {
            if let Some(k) = k.as_ref() {
                loud = k.loud.clone();
                quiet = k.quiet.clone();
            }
        }
        loud.truncate(SHARE_KEYS);
        quiet.truncate(SHARE_KEYS - loud.len());
        share.memos.lock().map(|m| m.clone()).unwrap_or(memos)
    };
    let req = Request::SearchShared {
        args,
        roots: roots.into_iter().map(|r| (r.path, r.display)).collect(),
        lead,
        before,
        seed: share.seed,
        loud,
        quiet,
    };
    let mut part = if lead {
        Part::Lead {
            share: &share,
            cur: None,
            kept: 0,
            keys: Keys::default(),
        }
    } else {
        Part::Follow(&memos)
    };
    let mut s = match conn.search(req).await {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Event::Failed(display, e.into())).await;
            return;
        }
    };
    let o = &share.o;
    let mut found = false;
    let mut used = 0usize;
    loop {
        let evs = match s.next().await {
            Ok(Some(Response::Events { data })) => {
                let mut c = Collect::default();
                let ok = {
                    let mut p = dockerbox_search::Printer::new(&mut c);
                    let ok = Record::decode_all(&data).is_ok_and(|recs| {
                        recs.into_iter().all(|r| {
                            used += usize::from(matches!(r, Record::Use { .. }));
                            record(o, r, &mut part, &mut found, &mut p)
                        })
                    });
                    p.flush();
                    ok
                };
                if !ok {
                    c.0.push(Event::Failed(display.clone(), invalid(&display)));
                }
                c.0
            }
            Ok(Some(Response::SearchDone { found: f, total })) => {
                if let (Part::Lead { keys, .. }, Some(p)) = (&mut part, publish.as_mut()) {
                    keys.loud.sort_unstable();
                    keys.quiet.sort_unstable();
                    p.1 = std::mem::take(keys);
                }
                vec![Event::Done(f || found, total)]
            }
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => vec![Event::Failed(display.clone(), e.into())],
        };
        let mut last = false;
        for ev in evs {
            last |= matches!(ev, Event::Done(..) | Event::Failed(..));
            if tx.send(ev).await.is_err() {
                last = true;
                break;
            }
        }
        if last {
            break;
        }
    }
    // The leader's keys go out now (with the guard), its memos already kept.
    if let Some(p) = &publish {
        trace_share(&format!(
            "lead {} keys {}",
            show(&display),
            p.1.loud.len() + p.1.quiet.len()
        ));
    } else {
        trace_share(&format!("follow {} used {used}", show(&display)));
    }
    drop(publish);
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `DOCKERBOX_TRACE_SHARE=FILE`: a line per shared grep job (the tests check that followers
/// printed memos).
fn trace_share(line: &str) {
    use std::io::Write;
    let Some(f) = std::env::var_os("DOCKERBOX_TRACE_SHARE") else {
        return;
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(f)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// A record no honest agent sends, named by the operand it came for.
fn invalid(display: &[u8]) -> FsError {
    crate::host::AgentError::Invalid {
        container: String::from_utf8_lossy(display).into_owned(),
        why: "a search record out of place".into(),
    }
    .into()
}

/// Prints one record of a shared grep; false when it makes no sense where it came.
fn record(
    o: &GrepOpts,
    r: Record,
    part: &mut Part<'_>,
    found: &mut bool,
    p: &mut dockerbox_search::Printer,
) -> bool {
    match (r, part) {
        (Record::Out(d), _) => {
            p.put(&d);
            p.end_record();
        }
        (Record::Problem(path, e, dir), _) => {
            if dir {
                p.dir_error(&path, e)
            } else {
                p.error(&path, e)
            }
        }
        (Record::Note(path, n), _) => p.note(&path, n),
        (Record::MemoStart { key, display, show }, Part::Lead { cur, kept, .. }) => {
            if cur.is_some() {
                return false;
            }
            *cur = Some(Cur {
                key,
                display,
                show,
                render: Render::default(),
                keep: (*kept < SHARE_BYTES).then(Vec::new),
            });
        }
        (Record::MemoPart(d), Part::Lead { cur, kept, .. }) => {
            let Some(c) = cur else { return false };
            c.render.part(o, &c.display, c.show, &d, p);
            if let Some(k) = &mut c.keep {
                *kept += d.len();
                if *kept > SHARE_BYTES {
                    c.keep = None;
                } else {
                    k.extend_from_slice(&d);
                }
            }
        }
        (
            Record::MemoEnd(e),
            Part::Lead {
                share, cur, keys, ..
            },
        ) => {
            let Some(mut c) = cur.take() else {
                return false;
            };
            c.render.end(o, &c.display, e.binary, e.selected, p);
            *found |= e.selected > 0;
            if let Some(out) = c.keep.filter(|_| e.whole) {
                if out.is_empty() && !e.binary && e.selected == 0 {
                    keys.quiet.push(c.key);
                } else {
                    keys.loud.push(c.key);
                    if let Ok(mut m) = share.memos.lock() {
                        let memo = Memo {
                            out,
                            binary: e.binary,
                            selected: e.selected,
                        };
                        m.insert(c.key, Arc::new(memo));
                    }
                }
            }
        }
        (Record::Use { key, display, show }, Part::Follow(memos)) => {
            let Some(m) = memos.get(&key) else {
                return false;
            };
            let mut render = Render::default();
            render.part(o, &display, show, &m.out, p);
            render.end(o, &display, m.binary, m.selected, p);
            *found |= m.selected > 0;
        }
        _ => return false,
    }
    true
}
