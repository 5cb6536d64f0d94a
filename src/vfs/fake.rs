//! A test-only in-memory backend: a tree of directories, files and symlinks, for the route's,
//! the confinement's and the copy walk's decisions without Docker. It resolves intermediate
//! components inside its own root (as the engine and `openat2(RESOLVE_IN_ROOT)` do), so it
//! has no way out of the tree to test against.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;

use super::backend::{realpath, At, Backend, BoxFut};
use super::stream::{ArchiveWriter, Attrs, FileReader, FileWriter};
use super::{Entry, FsError, Kind};

#[derive(Debug, Clone)]
enum Data {
    Dir,
    File(Vec<u8>),
    Link(PathBuf),
    /// A fifo, socket or device, with its device number.
    Special(Kind, u64),
}

#[derive(Debug, Clone)]
struct Node {
    data: Data,
    perm: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    ino: u64,
    /// (seconds, nanoseconds); `mtime` above is the modification time's seconds.
    mtime_nsec: u32,
    atime: (i64, u32),
    ctime: (i64, u32),
}

/// The fake's clock for `UTIME_NOW` and status changes: a fixed, recognisable time.
pub const FAKE_NOW: (i64, u32) = (3_000_000, 5);

pub struct Fake {
    me: Weak<Fake>,
    nodes: Mutex<BTreeMap<PathBuf, Node>>,
    next_ino: AtomicUsize,
    /// Answers `Gone` to this many more calls (a backend that went away).
    pub gone: AtomicUsize,
    /// Calls answered (any answer).
    pub calls: AtomicUsize,
}

fn err<T>(n: i32) -> Result<T, FsError> {
    Err(FsError::errno_error(n))
}

fn name_of(p: &Path) -> OsString {
    p.file_name()
        .map(OsString::from)
        .unwrap_or_else(|| "/".into())
}

impl Fake {
    pub fn new() -> Arc<Fake> {
        let fake = Arc::new_cyclic(|me| Fake {
            me: me.clone(),
            nodes: Mutex::new(BTreeMap::new()),
            next_ino: AtomicUsize::new(2),
            gone: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
        });
        fake.put("/", Data::Dir, 0o755);
        fake
    }

    fn put(&self, p: &str, data: Data, perm: u32) {
        let ino = self.next_ino.fetch_add(1, Ordering::SeqCst) as u64;
        let node = Node {
            data,
            perm,
            uid: 0,
            gid: 0,
            mtime: 1_000_000,
            ino,
            mtime_nsec: 0,
            atime: (1_000_000, 0),
            ctime: (1_000_000, 0),
        };
        self.nodes
            .lock()
            .expect("lock")
            .insert(PathBuf::from(p), node);
    }

    pub fn dir(&self, p: &str) -> &Fake {
        self.put(p, Data::Dir, 0o755);
        self
    }

    pub fn file(&self, p: &str, data: &[u8]) -> &Fake {
        self.put(p, Data::File(data.to_vec()), 0o644);
        self
    }

    pub fn link(&self, p: &str, target: &str) -> &Fake {
        self.put(p, Data::Link(target.into()), 0o777);
        self
    }

    /// A hard link `p` to the existing file `to`.
    pub fn hard(&self, p: &str, to: &str) -> &Fake {
        let mut nodes = self.nodes.lock().expect("lock");
        let node = nodes.get(Path::new(to)).cloned().expect("hard link target");
        nodes.insert(p.into(), node);
        drop(nodes);
        self
    }

    /// The bytes of the file at the real path `p`, if it is one.
    pub fn contents(&self, p: &str) -> Option<Vec<u8>> {
        match &self.nodes.lock().ok()?.get(Path::new(p))?.data {
            Data::File(d) => Some(d.clone()),
            _ => None,
        }
    }

    /// Every path in the tree with its kind, for comparing trees.
    pub fn paths(&self) -> Vec<String> {
        let nodes = self.nodes.lock().expect("lock");
        nodes
            .iter()
            .map(|(p, n)| {
                let what = match &n.data {
                    Data::Dir => "dir".to_string(),
                    Data::File(d) => format!("file {}", String::from_utf8_lossy(d)),
                    Data::Link(t) => format!("link {}", t.display()),
                    Data::Special(k, rdev) => format!("{k:?} {rdev}"),
                };
                format!("{} {what}", p.display())
            })
            .collect()
    }

    fn tick(&self) -> Result<(), FsError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let gone = self
            .gone
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if gone.is_ok() {
            return Err(FsError::Gone);
        }
        Ok(())
    }

    fn entry(&self, real: &Path, name: OsString) -> Result<Entry, FsError> {
        let nodes = self.nodes.lock().map_err(|_| FsError::Interrupted)?;
        let n = nodes.get(real).ok_or(FsError::NotFound)?;
        let kind = match n.data {
            Data::Dir => Kind::Dir,
            Data::File(_) => Kind::File,
            Data::Link(_) => Kind::Symlink,
            Data::Special(k, _) => k,
        };
        let mut e = Entry::new(name, kind);
        e.perm = n.perm;
        e.uid = n.uid;
        e.gid = n.gid;
        e.mtime = n.mtime;
        e.mtime_nsec = n.mtime_nsec;
        e.atime = Some(n.atime);
        e.ctime = Some(n.ctime);
        e.dev = 7;
        e.ino = n.ino;
        match &n.data {
            Data::File(d) => {
                e.size = d.len() as u64;
                e.nlink = nodes.values().filter(|m| m.ino == n.ino).count() as u64;
            }
            Data::Link(t) => {
                e.size = t.as_os_str().len() as u64;
                e.link_target = Some(t.clone());
            }
            Data::Dir => e.nlink = 2,
            Data::Special(_, rdev) => e.rdev = *rdev,
        }
        Ok(e)
    }

    /// The real path of `path`'s parent joined with its name: intermediate components
    /// resolved inside the tree, the last one not.
    async fn real_parent(&self, path: &Path) -> Result<PathBuf, FsError> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Ok("/".into());
        };
        let dir = realpath(self, parent).await?;
        if self.entry(&dir, "".into())?.kind != Kind::Dir {
            return Err(FsError::NotADirectory);
        }
        Ok(dir.join(name))
    }

    fn edit(&self, real: &Path, f: impl FnOnce(&mut Node)) -> Result<(), FsError> {
        let mut nodes = self.nodes.lock().map_err(|_| FsError::Interrupted)?;
        f(nodes.get_mut(real).ok_or(FsError::NotFound)?);
        Ok(())
    }
}

impl Backend for Fake {
    fn lstat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(async move {
            self.tick()?;
            let real = self.real_parent(path).await?;
            self.entry(&real, name_of(path))
        })
    }

    fn stat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(async move {
            self.tick()?;
            let real = realpath(self, path).await?;
            self.entry(&real, name_of(path))
        })
    }

    fn read_dir<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Arc<Vec<Entry>>> {
        Box::pin(async move {
            self.tick()?;
            let real = realpath(self, path).await?;
            if self.entry(&real, "".into())?.kind != Kind::Dir {
                return Err(FsError::NotADirectory);
            }
            let names: Vec<PathBuf> = {
                let nodes = self.nodes.lock().map_err(|_| FsError::Interrupted)?;
                nodes
                    .keys()
                    .filter(|p| p.parent() == Some(&real) && *p != &real)
                    .cloned()
                    .collect()
            };
            let list = names
                .iter()
                .map(|p| self.entry(p, name_of(p)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Arc::new(list))
        })
    }

    fn readlink<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        Box::pin(async move {
            let real = self.real_parent(path).await?;
            match self.entry(&real, "".into())?.link_target {
                Some(t) => Ok(t),
                None => err(libc::EINVAL),
            }
        })
    }

    fn realpath<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        Box::pin(realpath(self, path))
    }

    fn open_read<'a>(&'a self, path: &'a Path, _size_hint: u64) -> BoxFut<'a, FileReader> {
        Box::pin(async move {
            let real = realpath(self, path).await?;
            let data = match self.nodes.lock().ok().and_then(|n| n.get(&real).cloned()) {
                Some(Node {
                    data: Data::File(d),
                    ..
                }) => d,
                Some(_) => return Err(FsError::IsADirectory),
                None => return Err(FsError::NotFound),
            };
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            if !data.is_empty() {
                let _ = tx.try_send(Ok(Bytes::from(data)));
            }
            Ok(FileReader::Archive(rx))
        })
    }

    fn read_at<'a>(&'a self, path: &'a Path, offset: u64, len: usize) -> BoxFut<'a, Bytes> {
        Box::pin(async move {
            let real = realpath(self, path).await?;
            match self.nodes.lock().ok().and_then(|n| n.get(&real).cloned()) {
                Some(Node {
                    data: Data::File(d),
                    ..
                }) => {
                    let start = (offset as usize).min(d.len());
                    let end = start.saturating_add(len).min(d.len());
                    Ok(Bytes::copy_from_slice(&d[start..end]))
                }
                Some(_) => Err(FsError::IsADirectory),
                None => Err(FsError::NotFound),
            }
        })
    }

    /// A one-entry tar through an [`ArchiveWriter`], unpacked into the tree on commit.
    fn create<'a>(
        &'a self,
        path: &'a Path,
        attrs: Attrs,
        size: u64,
        _open: super::stream::Open,
    ) -> BoxFut<'a, FileWriter> {
        Box::pin(async move {
            let real = self.real_parent(path).await?;
            if let Ok(e) = self.entry(&real, "".into()) {
                if e.kind == Kind::Dir {
                    return Err(FsError::IsADirectory);
                }
            }
            let me = self.me.clone();
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(size);
            h.set_mode(attrs.mode);
            let w = ArchiveWriter::start(h, name_of(path).into(), move |mut rx| async move {
                let mut tar = Vec::new();
                while let Some(b) = rx.recv().await {
                    tar.extend_from_slice(&b);
                }
                let mut ar = tar::Archive::new(&tar[..]);
                let mut entry = ar.entries()?.next().ok_or(FsError::NotFound)??;
                let mut data = Vec::new();
                entry.read_to_end(&mut data)?;
                let me = me.upgrade().ok_or(FsError::Gone)?;
                let ino = me.next_ino.fetch_add(1, Ordering::SeqCst) as u64;
                let node = Node {
                    data: Data::File(data),
                    perm: attrs.mode,
                    uid: 0,
                    gid: 0,
                    mtime: 2_000_000,
                    ino,
                    mtime_nsec: 0,
                    atime: (2_000_000, 0),
                    ctime: (2_000_000, 0),
                };
                me.nodes
                    .lock()
                    .map_err(|_| FsError::Interrupted)?
                    .insert(real, node);
                Ok(())
            });
            Ok(FileWriter::Archive(w))
        })
    }

    fn create_needs_size(&self) -> BoxFut<'_, bool> {
        Box::pin(async { Ok(true) })
    }

    fn mkdir<'a>(&'a self, path: &'a Path, attrs: Attrs) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let real = self.real_parent(path).await?;
            if self.entry(&real, "".into()).is_ok() {
                return err(libc::EEXIST);
            }
            let ino = self.next_ino.fetch_add(1, Ordering::SeqCst) as u64;
            let node = Node {
                data: Data::Dir,
                perm: attrs.mode,
                uid: 0,
                gid: 0,
                mtime: 2_000_000,
                ino,
                mtime_nsec: 0,
                atime: (2_000_000, 0),
                ctime: (2_000_000, 0),
            };
            self.nodes
                .lock()
                .map_err(|_| FsError::Interrupted)?
                .insert(real, node);
            Ok(())
        })
    }

    fn symlink<'a>(&'a self, at: &'a At, _attrs: Attrs) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let real = self.real_parent(&at.path).await?;
            if self.entry(&real, "".into()).is_ok() {
                return err(libc::EEXIST);
            }
            let ino = self.next_ino.fetch_add(1, Ordering::SeqCst) as u64;
            let node = Node {
                data: Data::Link(at.other.clone()),
                perm: 0o777,
                uid: 0,
                gid: 0,
                mtime: 2_000_000,
                ino,
                mtime_nsec: 0,
                atime: (2_000_000, 0),
                ctime: (2_000_000, 0),
            };
            self.nodes
                .lock()
                .map_err(|_| FsError::Interrupted)?
                .insert(real, node);
            Ok(())
        })
    }

    fn remove<'a>(&'a self, path: &'a Path, dir: bool) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let real = self.real_parent(path).await?;
            let e = self.entry(&real, "".into())?;
            match (dir, e.kind == Kind::Dir) {
                (true, false) => return Err(FsError::NotADirectory),
                (false, true) => return Err(FsError::IsADirectory),
                _ => {}
            }
            let mut nodes = self.nodes.lock().map_err(|_| FsError::Interrupted)?;
            if dir && nodes.keys().any(|p| p.parent() == Some(&real)) {
                return err(libc::ENOTEMPTY);
            }
            nodes.remove(&real);
            Ok(())
        })
    }

    fn rename<'a>(&'a self, at: &'a At) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let from = self.real_parent(&at.path).await?;
            let to = self.real_parent(&at.other).await?;
            let mut nodes = self.nodes.lock().map_err(|_| FsError::Interrupted)?;
            let moved: Vec<PathBuf> = nodes
                .keys()
                .filter(|p| p.starts_with(&from))
                .cloned()
                .collect();
            if moved.is_empty() {
                return Err(FsError::NotFound);
            }
            for p in moved {
                if let (Some(n), Ok(rest)) = (nodes.remove(&p), p.strip_prefix(&from)) {
                    let dest = if rest.as_os_str().is_empty() {
                        to.clone()
                    } else {
                        to.join(rest)
                    };
                    nodes.insert(dest, n);
                }
            }
            Ok(())
        })
    }

    fn link<'a>(&'a self, at: &'a At) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let from = self.real_parent(&at.path).await?;
            let to = self.real_parent(&at.other).await?;
            let mut nodes = self.nodes.lock().map_err(|_| FsError::Interrupted)?;
            if nodes.contains_key(&to) {
                return err(libc::EEXIST);
            }
            let n = nodes.get(&from).cloned().ok_or(FsError::NotFound)?;
            nodes.insert(to, n);
            Ok(())
        })
    }

    fn chmod<'a>(&'a self, path: &'a Path, mode: u32) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let real = realpath(self, path).await?;
            self.edit(&real, |n| (n.perm, n.ctime) = (mode, FAKE_NOW))
        })
    }

    fn chown<'a>(&'a self, path: &'a Path, uid: u32, gid: u32, _follow: bool) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let real = self.real_parent(path).await?;
            self.edit(&real, |n| (n.uid, n.gid, n.ctime) = (uid, gid, FAKE_NOW))
        })
    }

    /// As utimensat(2): `UTIME_OMIT` leaves a time, `UTIME_NOW` takes the clock; the ctime
    /// moves unless both are omitted.
    fn set_times<'a>(
        &'a self,
        path: &'a Path,
        atime: (i64, u32),
        mtime: (i64, u32),
        _follow: bool,
    ) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let real = self.real_parent(path).await?;
            let pick = |t: (i64, u32), old: (i64, u32)| match t.1 as libc::c_long {
                libc::UTIME_OMIT => old,
                libc::UTIME_NOW => FAKE_NOW,
                _ => t,
            };
            self.edit(&real, |n| {
                n.atime = pick(atime, n.atime);
                (n.mtime, n.mtime_nsec) = pick(mtime, (n.mtime, n.mtime_nsec));
                if (atime.1 as libc::c_long, mtime.1 as libc::c_long)
                    != (libc::UTIME_OMIT, libc::UTIME_OMIT)
                {
                    n.ctime = FAKE_NOW;
                }
            })
        })
    }

    fn mknod<'a>(&'a self, path: &'a Path, kind: Kind, attrs: Attrs, rdev: u64) -> BoxFut<'a, ()> {
        Box::pin(async move {
            if matches!(kind, Kind::File | Kind::Dir | Kind::Symlink) {
                return err(libc::EINVAL);
            }
            let real = self.real_parent(path).await?;
            if self.entry(&real, "".into()).is_ok() {
                return err(libc::EEXIST);
            }
            let rdev = match kind {
                Kind::CharDevice | Kind::BlockDevice => rdev,
                _ => 0,
            };
            let ino = self.next_ino.fetch_add(1, Ordering::SeqCst) as u64;
            let node = Node {
                data: Data::Special(kind, rdev),
                perm: attrs.mode & 0o7777,
                uid: attrs.owner.map_or(0, |o| o.0),
                gid: attrs.owner.map_or(0, |o| o.1),
                mtime: FAKE_NOW.0,
                ino,
                mtime_nsec: FAKE_NOW.1,
                atime: FAKE_NOW,
                ctime: FAKE_NOW,
            };
            self.nodes
                .lock()
                .map_err(|_| FsError::Interrupted)?
                .insert(real, node);
            Ok(())
        })
    }
}

/// A backend that does nothing: every method is the trait's `Unsupported` default.
pub struct Refuses;

impl Backend for Refuses {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::copy::{Copier, CopyOpts, CopyReport, Deref, Preserve};
    use crate::vfs::{AgentMode, VPath, Vfs};

    /// A namespace whose host side is served by `chain`, in order.
    fn vfs(chain: Vec<Arc<dyn Backend>>) -> Vfs {
        let v = Vfs::new(Vec::new(), AgentMode::Never, None);
        v.set_test_chain(chain);
        v
    }

    fn host(p: &str) -> VPath {
        VPath::Host(p.into())
    }

    /// A container-like tree: /etc/passwd, /a/b, and links of every hostile kind.
    fn tree() -> Arc<Fake> {
        let f = Fake::new();
        f.dir("/etc")
            .file("/etc/passwd", b"root:x:0:0\n")
            .dir("/a")
            .dir("/a/b")
            .link("/a/abs", "/etc/passwd")
            .link("/a/b/up", "../../../../../../etc")
            .link("/a/dirlink", "/a/b")
            .link("/l1", "l2")
            .link("/l2", "/l1")
            .link("/self", "self")
            .link("/a/escape", "/proc/self/root/etc/passwd");
        f
    }

    async fn real(f: &Fake, p: &str) -> Result<PathBuf, FsError> {
        realpath(f, Path::new(p)).await
    }

    #[tokio::test]
    async fn absolute_links_mean_the_trees_root() {
        let f = tree();
        assert_eq!(real(&f, "/a/abs").await.ok(), Some("/etc/passwd".into()));
        let v = vfs(vec![f.clone()]);
        let e = v.stat(&host("/a/abs")).await.expect("stat");
        assert_eq!((e.kind, e.size), (Kind::File, 11));
        let mut out = Vec::new();
        v.read(&host("/a/abs"), &mut out).await.expect("read");
        assert_eq!(out, b"root:x:0:0\n");
    }

    #[tokio::test]
    async fn dot_dot_chains_stop_at_the_root() {
        let f = tree();
        assert_eq!(real(&f, "/a/b/up").await.ok(), Some("/etc".into()));
        assert_eq!(
            real(&f, "/a/b/up/passwd").await.ok(),
            Some("/etc/passwd".into())
        );
        assert_eq!(
            real(&f, "/a/dirlink/up/passwd").await.ok(),
            Some("/etc/passwd".into())
        );
        // An intermediate symlink resolves inside the tree for lstat too.
        let v = vfs(vec![f.clone()]);
        let e = v.lstat(&host("/a/dirlink/up")).await.expect("lstat");
        assert_eq!(e.kind, Kind::Symlink);
    }

    #[tokio::test]
    async fn loops_are_eloop_and_the_links_themselves_still_stat() {
        let f = tree();
        let v = vfs(vec![f.clone()]);
        for p in ["/l1", "/self", "/l1/x"] {
            let e = v.stat(&host(p)).await.expect_err(p);
            assert!(matches!(e, FsError::Loop), "{p}: {e}");
            assert_eq!(e.errno(), libc::ELOOP);
        }
        let e = v.lstat(&host("/l1")).await.expect("lstat");
        assert_eq!(e.link_target, Some("l2".into()));
    }

    #[tokio::test]
    async fn a_link_to_proc_self_root_stays_inside() {
        // No /proc in the tree: nothing to find, and certainly not the host's file.
        let f = tree();
        let e = real(&f, "/a/escape").await.expect_err("no /proc");
        assert!(matches!(e, FsError::NotFound), "{e}");
        // A procfs whose root link points at the tree's root (what a process in the container
        // sees) leads back into the tree.
        f.dir("/proc").dir("/proc/1").link("/proc/self", "1");
        f.link("/proc/1/root", "/");
        assert_eq!(real(&f, "/a/escape").await.ok(), Some("/etc/passwd".into()));
    }

    #[tokio::test]
    async fn the_route_moves_down_on_unsupported() {
        let f = tree();
        let v = vfs(vec![Arc::new(Refuses), f.clone()]);
        let e = v.lstat(&host("/etc/passwd")).await.expect("lstat");
        assert_eq!(e.kind, Kind::File);
        let only = vfs(vec![Arc::new(Refuses)]);
        let e = only.lstat(&host("/etc")).await.expect_err("nobody serves");
        assert!(matches!(e, FsError::Unsupported));
        assert_eq!(e.errno(), libc::EOPNOTSUPP);
    }

    #[tokio::test]
    async fn a_gone_backend_is_picked_again_once() {
        let f = tree();
        let v = vfs(vec![f.clone()]);
        f.gone.store(1, Ordering::SeqCst);
        assert!(v.read_dir(&host("/etc")).await.is_ok());
        f.gone.store(2, Ordering::SeqCst);
        let e = v.read_dir(&host("/etc")).await.expect_err("gone twice");
        assert!(matches!(e, FsError::Gone));
        assert_eq!(e.errno(), libc::ESTALE);
    }

    fn opts(preserve: bool) -> CopyOpts {
        CopyOpts {
            force: false,
            recursive: true,
            deref: Deref::Never,
            preserve: Preserve {
                mode: preserve,
                owner: preserve,
                times: preserve,
                links: preserve,
            },
            no_clobber: false,
            verbose: false,
            umask: 0o022,
        }
    }

    /// What the walk reported.
    #[derive(Default)]
    struct Said(Vec<String>);

    impl CopyReport for Said {
        fn quote(&self, name: &std::ffi::OsStr) -> String {
            format!("'{}'", name.to_string_lossy())
        }
        fn error(&mut self, msg: &str) {
            self.0.push(msg.to_string());
        }
        fn copied(&mut self, _src: &std::ffi::OsStr, _dst: &std::ffi::OsStr) {}
        fn bytes(&mut self, _n: u64) {}
        fn file_done(&mut self) {}
    }

    /// `cp` of one operand through the walk: whether it succeeded, and its messages.
    async fn cp_said(v: &Vfs, o: CopyOpts, src: &str, dst: &str) -> (bool, Vec<String>) {
        let mut said = Said::default();
        let mut c = Copier::new(v, o, &mut said);
        let ok = c
            .copy(&host(src), src.as_ref(), &host(dst), dst.as_ref(), true)
            .await;
        let ok = ok && !c.failed;
        (ok, said.0)
    }

    async fn cp(v: &Vfs, o: CopyOpts, src: &str, dst: &str) -> bool {
        cp_said(v, o, src, dst).await.0
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_copy_walk_copies_a_tree_with_links_as_links() {
        let f = Fake::new();
        f.dir("/src")
            .file("/src/f", b"one")
            .hard("/src/g", "/src/f")
            .dir("/src/sub")
            .file("/src/sub/x", b"two")
            .link("/src/rel", "sub/x")
            .link("/src/abs", "/etc/passwd");
        let v = vfs(vec![f.clone()]);
        assert!(cp(&v, opts(true), "/src", "/dst").await);
        let copied: Vec<String> = f
            .paths()
            .into_iter()
            .filter_map(|p| p.strip_prefix("/dst").map(str::to_string))
            .collect();
        assert_eq!(
            copied,
            [
                " dir",
                "/abs link /etc/passwd",
                "/f file one",
                "/g file one",
                "/rel link sub/x",
                "/sub dir",
                "/sub/x file two",
            ]
        );
        // -a kept the hard link: both names are one file.
        let (a, b) = (
            v.lstat(&host("/dst/f")).await.expect("f"),
            v.lstat(&host("/dst/g")).await.expect("g"),
        );
        assert_eq!((a.ino, a.nlink), (b.ino, 2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_copy_walk_refuses_what_gnu_refuses() {
        let f = Fake::new();
        f.dir("/d")
            .file("/d/f", b"new")
            .dir("/d/sub")
            .file("/file", b"old");
        let v = vfs(vec![f.clone()]);
        // A directory onto a file, and into itself.
        let (ok, said) = cp_said(&v, opts(false), "/d", "/file").await;
        assert!(!ok);
        assert_eq!(
            said,
            ["cannot overwrite non-directory '/file' with directory '/d'"]
        );
        assert_eq!(f.contents("/file"), Some(b"old".to_vec()));
        let (ok, said) = cp_said(&v, opts(false), "/d", "/d/sub/copy").await;
        assert!(!ok);
        assert_eq!(
            said,
            ["cannot copy a directory, '/d', into itself, '/d/sub/copy'"]
        );
        assert_eq!(f.contents("/d/sub/copy/f"), Some(b"new".to_vec()));
        assert!(f
            .paths()
            .iter()
            .all(|p| !p.starts_with("/d/sub/copy/sub/copy")));
        // -n keeps what is there.
        let mut no = opts(false);
        no.no_clobber = true;
        f.file("/other", b"kept");
        assert!(cp(&v, no, "/d/f", "/other").await);
        assert_eq!(f.contents("/other"), Some(b"kept".to_vec()));
        // Without -n it is replaced, whole.
        assert!(cp(&v, opts(false), "/d/f", "/other").await);
        assert_eq!(f.contents("/other"), Some(b"new".to_vec()));
    }

    fn mode(perm: u32) -> Attrs {
        Attrs {
            mode: perm,
            owner: None,
            mtime: None,
        }
    }

    #[tokio::test]
    async fn special_files_are_made_through_the_route_and_keep_their_type() {
        let f = tree();
        // The first backend serves no mknod: the route asks the next.
        let v = vfs(vec![Arc::new(Refuses), f.clone()]);
        v.mknod(&host("/a/fifo"), Kind::Fifo, &mode(0o640), 0)
            .await
            .expect("fifo");
        v.mknod(&host("/a/sock"), Kind::Socket, &mode(0o755), 0)
            .await
            .expect("socket");
        let null = (1 << 8) | 3;
        v.mknod(&host("/a/null"), Kind::CharDevice, &mode(0o666), null)
            .await
            .expect("char device");
        let e = v.lstat(&host("/a/fifo")).await.expect("lstat");
        assert_eq!((e.kind, e.perm, e.size), (Kind::Fifo, 0o640, 0));
        let e = v.lstat(&host("/a/null")).await.expect("lstat");
        assert_eq!((e.kind, e.rdev), (Kind::CharDevice, null));
        let mut kinds: Vec<(OsString, Kind)> = v
            .read_dir(&host("/a"))
            .await
            .expect("list")
            .iter()
            .filter(|e| !matches!(e.kind, Kind::Dir | Kind::Symlink))
            .map(|e| (e.name.clone(), e.kind))
            .collect();
        kinds.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            kinds,
            [
                ("fifo".into(), Kind::Fifo),
                ("null".into(), Kind::CharDevice),
                ("sock".into(), Kind::Socket)
            ]
        );
        // A name that is there is EEXIST; a regular file or directory is not mknod's.
        let e = v
            .mknod(&host("/a/fifo"), Kind::Fifo, &mode(0o644), 0)
            .await
            .expect_err("exists");
        assert_eq!(e.errno(), libc::EEXIST);
        for k in [Kind::File, Kind::Dir, Kind::Symlink] {
            let e = v
                .mknod(&host("/a/x"), k, &mode(0o644), 0)
                .await
                .expect_err("not special");
            assert_eq!(e.errno(), libc::EINVAL, "{k:?}");
        }
        // Nothing on the route makes one: the write is refused, not faked.
        let none = vfs(vec![Arc::new(Refuses)]);
        let e = none
            .mknod(&host("/a/f2"), Kind::Fifo, &mode(0o644), 0)
            .await
            .expect_err("refused");
        assert_eq!(e.errno(), libc::EOPNOTSUPP);
    }

    #[tokio::test]
    async fn times_keep_nanoseconds_and_omit_and_now_do_what_utimensat_does() {
        let f = tree();
        let v = vfs(vec![f.clone()]);
        let omit = (0, libc::UTIME_OMIT as u32);
        let now = (0, libc::UTIME_NOW as u32);
        v.set_times(&host("/etc/passwd"), omit, (1_234, 567_890_123), false)
            .await
            .expect("utimens");
        let e = v.lstat(&host("/etc/passwd")).await.expect("lstat");
        assert_eq!((e.mtime, e.mtime_nsec), (1_234, 567_890_123));
        assert_eq!(e.atime, Some((1_000_000, 0)), "atime omitted");
        assert_eq!(e.ctime, Some(FAKE_NOW), "ctime moves");
        v.set_times(&host("/etc/passwd"), now, omit, false)
            .await
            .expect("utimens");
        let e = v.lstat(&host("/etc/passwd")).await.expect("lstat");
        assert_eq!(
            (e.atime, e.mtime, e.mtime_nsec),
            (Some(FAKE_NOW), 1_234, 567_890_123)
        );
        // chmod moves the ctime alone.
        let f2 = tree();
        let v = vfs(vec![f2.clone()]);
        v.chmod(&host("/etc/passwd"), 0o600).await.expect("chmod");
        let e = v.lstat(&host("/etc/passwd")).await.expect("lstat");
        assert_eq!((e.mtime, e.ctime), (1_000_000, Some(FAKE_NOW)));
    }
}
