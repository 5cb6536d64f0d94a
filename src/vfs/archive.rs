//! The archive backend: a container's files through `HEAD`/`GET /containers/{id}/archive`.
//!
//! It works on every container, running or stopped, without starting it and without anything
//! inside the container. A listing streams the directory's tar and reads headers only; since the
//! tar holds the whole subtree, every directory in it is cached at once. The cache is kept only
//! for containers that are not running (their files change only through the engine, which tells
//! us by event) and is dropped when the container's generation moves.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bollard::query_parameters::{
    ContainerArchiveInfoOptions, DownloadFromContainerOptions, UploadToContainerOptions,
};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::backend::{At, Backend, BoxFut};
use super::entry::{from_go_mode, parse_rfc3339, Entry, Kind};
use super::stream::{read_only, ArchiveWriter, Attrs, ChannelReader, ChannelWriter, FileReader};
use super::stream::{FileWriter, Open, CHUNK};
use super::FsError;
use crate::host::{reason, stall_limit, ContainerInfo, Engine, EngineError, State};
use crate::interrupt;

type Dirs = HashMap<PathBuf, Arc<Vec<Entry>>>;

/// Small files' bytes from a listing's tar, by absolute path (see [`SMALL_FILE`]).
type Small = HashMap<PathBuf, Bytes>;

/// A stopped container's regular file this small comes along in its directory's listing
/// (the engine sends the bytes in the tar anyway) and is kept with the listing, so `cat
/// /containers/*/etc/hostname` after the glob listed each `/etc` costs no second download.
const SMALL_FILE: u64 = 8 << 10;

/// The most bytes of small files one session keeps (then no more are kept).
const SMALL_TOTAL: usize = 32 << 20;

/// What a download turned out to hold at the path asked for.
enum Opened {
    /// A file's bytes, in chunks.
    File(mpsc::Receiver<io::Result<Bytes>>),
    /// A symlink, with its target as written.
    Link(PathBuf),
}

/// How many components (the root included) a path may have for the engine to resolve it: its
/// `FollowSymlinkInScope` takes at most 255 steps, one per component or link followed.
const ENGINE_DEPTH: usize = 200;

/// A download's channel, or why the engine refused it (what [`ArchiveFs::download`] returns).
type Download = Result<mpsc::Receiver<io::Result<Bytes>>, FsError>;

/// A download sent by name beside the first lookup ([`ArchiveFs::early`]): the name as typed and
/// the task, aborted when dropped unclaimed.
struct Early {
    name: String,
    task: tokio::task::JoinHandle<Download>,
}

impl Drop for Early {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Listings learnt per container id, with the generation they were learnt at.
#[derive(Default)]
pub struct ArchiveFs {
    cache: Mutex<HashMap<String, (u64, Dirs, Small)>>,
    /// Bytes of small files kept so far (never more than [`SMALL_TOTAL`]).
    small_kept: std::sync::atomic::AtomicUsize,
    /// Downloads started before their container was known, by engine and path.
    early: Mutex<HashMap<(usize, PathBuf), Early>>,
}

/// Drops a download started by [`ArchiveFs::early`] that nothing claimed.
pub struct EarlyGuard<'a> {
    fs: &'a ArchiveFs,
    key: (usize, PathBuf),
}

impl Drop for EarlyGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.fs.early.lock() {
            m.remove(&self.key);
        }
    }
}

impl ArchiveFs {
    /// `lstat`: what is at `path` itself (a symlink is not followed). Intermediate symlinks are
    /// resolved by the engine, inside the container's root.
    pub async fn lstat(
        &self,
        eng: &Engine,
        c: &ContainerInfo,
        path: &Path,
    ) -> Result<Entry, FsError> {
        if let Some(e) = self.cached_entry(eng, c, path) {
            return Ok(e);
        }
        if path.to_str().is_none() {
            return self.lstat_in_parent(eng, c, path).await;
        }
        if let Some(e) = self.too_deep(eng, c, path).await {
            return Err(e);
        }
        let docker = eng.client().await?;
        let opts = ContainerArchiveInfoOptions {
            path: path_str(path)?,
        };
        let st = interrupt::guard(async {
            docker
                .get_container_archive_info(&c.id, Some(opts))
                .await
                .map_err(|e| head_error(eng.error(e)))
        })
        .await?;
        let (kind, perm) = from_go_mode(st.file_mode);
        let mut e = Entry::new(basename(path), kind);
        e.perm = perm;
        e.size = st.size.max(0) as u64;
        e.mtime = st
            .modification_time
            .as_deref()
            .and_then(parse_rfc3339)
            .unwrap_or(0);
        e.blocks_k = if kind == Kind::Symlink {
            0
        } else {
            blocks_k(e.size)
        };
        if kind == Kind::Symlink {
            e.size = st.link_target.len() as u64;
            e.link_target = Some(PathBuf::from(st.link_target));
        }
        (e.dev, e.ino) = (ARCHIVE_DEV, path_id(path));
        Ok(e)
    }

    /// The engine resolves a path one component per step and gives up after 255 steps with a
    /// bare 500 (`evalSymlinksInScope: too many links`), which would read as a symlink loop. For
    /// a deeper path the answer comes from its ancestor at that depth: missing (or not a
    /// directory) there means missing here; otherwise the engine cannot reach it, `File name
    /// too long`.
    async fn too_deep(&self, eng: &Engine, c: &ContainerInfo, path: &Path) -> Option<FsError> {
        let mut comps = path.components();
        if comps.clone().count() <= ENGINE_DEPTH {
            return None;
        }
        let ancestor: PathBuf = comps.by_ref().take(ENGINE_DEPTH).collect();
        Some(match Box::pin(self.lstat(eng, c, &ancestor)).await {
            Err(e) => e,
            Ok(e) if !e.is_dir() && e.kind != Kind::Symlink => FsError::NotADirectory,
            Ok(_) => FsError::errno_error(libc::ENAMETOOLONG),
        })
    }

    /// `lstat` of a path the engine cannot be asked about directly (not UTF-8): from the
    /// parent's listing.
    async fn lstat_in_parent(
        &self,
        eng: &Engine,
        c: &ContainerInfo,
        path: &Path,
    ) -> Result<Entry, FsError> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(FsError::NotFound);
        };
        let list = self.read_dir(eng, c, parent).await?;
        list.iter()
            .find(|e| e.name == name)
            .cloned()
            .ok_or(FsError::NotFound)
    }

    /// `lstat` with owner and link count too, which only the tar header carries: reads the first
    /// header of the path's archive and hangs up.
    pub async fn lstat_full(
        &self,
        eng: &Engine,
        c: &ContainerInfo,
        path: &Path,
    ) -> Result<Entry, FsError> {
        if let Some(e) = self.cached_entry(eng, c, path) {
            return Ok(e);
        }
        if let Some(e) = self.too_deep(eng, c, path).await {
            return Err(e);
        }
        let (root, rel) = utf8_ancestor(path);
        let rx = self.download(eng, c, &root).await?;
        let name = basename(path);
        let whole = path.to_path_buf();
        // On a blocking thread, not in place: the caller may be polling other requests beside
        // this one (a glob lists several directories at once), and the engine holds a container
        // while it streams its archive, so one of them left unread can stall the others.
        off_thread(move || {
            let mut ar = tar::Archive::new(ChannelReader {
                rx,
                chunk: Bytes::new(),
            });
            let mut entries = ar.entries()?;
            match pick(&mut entries, rel.as_deref())? {
                Some(entry) => {
                    let mut e = entry_of(&entry, name)?;
                    (e.dev, e.ino) = (ARCHIVE_DEV, path_id(&whole));
                    Ok(e)
                }
                None => Err(FsError::NotFound),
            }
        })
        .await
    }

    /// The entries of the directory at `dir` (already resolved: not a symlink).
    pub async fn read_dir(
        &self,
        eng: &Engine,
        c: &ContainerInfo,
        dir: &Path,
    ) -> Result<Arc<Vec<Entry>>, FsError> {
        self.read_dir_within(eng, c, dir, None).await
    }

    /// [`ArchiveFs::read_dir`], given up with `Unsupported` once the tree's tar passes
    /// `budget` bytes: the engine sends a directory's whole subtree, and for `/` or `/usr` of
    /// a running container starting its agent costs far less than reading that.
    pub async fn read_dir_within(
        &self,
        eng: &Engine,
        c: &ContainerInfo,
        dir: &Path,
        budget: Option<u64>,
    ) -> Result<Arc<Vec<Entry>>, FsError> {
        let gen = cacheable(eng, c);
        if let Some(gen) = gen {
            if let Some(list) = self.cached_dir(&c.id, gen, dir) {
                return Ok(list);
            }
        }
        // A directory whose path is not UTF-8 comes inside its nearest UTF-8 ancestor's tar.
        let (root, _) = utf8_ancestor(dir);
        let _turn = eng.archive_slot().await;
        let rx = self.download(eng, c, &root).await?;
        let tree_root = root.clone();
        let (dirs, small) = off_thread(move || {
            let reader = ChannelReader {
                rx,
                chunk: Bytes::new(),
            };
            let keep = gen.is_some();
            match budget {
                None => parse_tree(reader, &tree_root, keep),
                Some(left) => match parse_tree(Budget { reader, left }, &tree_root, keep) {
                    Err(FsError::Io(e)) if e.kind() == io::ErrorKind::FileTooLarge => {
                        Err(FsError::Unsupported)
                    }
                    r => r,
                },
            }
        })
        .await?;
        let list = dirs.get(dir).cloned().ok_or(FsError::NotADirectory)?;
        if let Some(gen) = gen {
            if let Ok(mut cache) = self.cache.lock() {
                let slot = cache
                    .entry(c.id.clone())
                    .or_insert_with(|| (gen, Dirs::new(), Small::new()));
                if slot.0 != gen {
                    *slot = (gen, Dirs::new(), Small::new());
                }
                slot.1.extend(dirs);
                let bytes: usize = small.values().map(Bytes::len).sum();
                let kept = self
                    .small_kept
                    .fetch_add(bytes, std::sync::atomic::Ordering::SeqCst);
                if kept + bytes <= SMALL_TOTAL {
                    slot.2.extend(small);
                }
            }
        }
        Ok(list)
    }

    /// Streams the regular file at `path` (already resolved) into `out`; returns the bytes copied.
    pub async fn read(
        &self,
        eng: &Engine,
        c: &ContainerInfo,
        path: &Path,
        out: &mut (dyn Write + Send),
    ) -> Result<u64, FsError> {
        let mut rx = self.open_read(eng, c, path).await?;
        let mut total = 0u64;
        while let Some(chunk) =
            interrupt::guard(async { Ok::<_, FsError>(rx.recv().await) }).await?
        {
            let chunk = chunk?;
            out.write_all(&chunk).map_err(FsError::Io)?;
            total += chunk.len() as u64;
        }
        Ok(total)
    }

    /// A file's bytes, as a stream of chunks. A final symlink is followed inside the container
    /// (intermediate ones are resolved by the engine). No `HEAD` first: the download's own
    /// first tar header says whether it is a file, a directory or a link, so a cold `cat`
    /// costs one round trip; a cached listing still answers without any.
    pub async fn open_read(
        &self,
        eng: &Engine,
        c: &ContainerInfo,
        path: &Path,
    ) -> Result<mpsc::Receiver<io::Result<Bytes>>, FsError> {
        let mut cur = path.to_path_buf();
        for _ in 0..super::MAX_LINKS {
            let known = self.cached_entry(eng, c, &cur);
            let small = match &known {
                Some(e) if e.kind == Kind::File => self.cached_small(eng, c, &cur),
                _ => None,
            };
            if let Some(b) = small {
                let (tx, rx) = mpsc::channel(1);
                if !b.is_empty() {
                    let _ = tx.try_send(Ok(b));
                }
                return Ok(rx);
            }
            let target = match known.as_ref().map(|e| (e.kind, &e.link_target)) {
                Some((Kind::Dir, _)) => return Err(FsError::IsADirectory),
                Some((Kind::Symlink, Some(t))) => t.clone(),
                _ => match self.open_entry(eng, c, &cur).await? {
                    Opened::File(rx) => return Ok(rx),
                    Opened::Link(t) => t,
                },
            };
            cur = super::path::link_target_in_container(&cur, &target);
        }
        Err(FsError::Loop)
    }

    /// A session's first request to an engine, `cat /containers/NAME/PATH`, need not wait for
    /// the container list and inspect (a round trip, more while the version is negotiated)
    /// before its download: this sends `GET archive` by the name as typed beside them. The
    /// download is used if the lookup finds the container that name was inspected as at the
    /// same time (its ID, unchanged since: [`Engine::named`]) and the route reaches the archive
    /// API for that very path; otherwise it is dropped with the guard, unread.
    pub fn early(&self, eng: &Arc<Engine>, name: &str, path: &Path) -> Option<EarlyGuard<'_>> {
        if path.to_str().is_none() || path.components().count() > ENGINE_DEPTH {
            return None;
        }
        let docker = eng.beside_first_lookup(name)?;
        let key = (eng.index(), path.to_path_buf());
        let mut m = self.early.lock().ok()?;
        if m.contains_key(&key) {
            return None;
        }
        let (e, target, p) = (eng.clone(), name.to_string(), path.to_path_buf());
        let task = tokio::spawn(async move { fetch(&e, &docker, &target, &p).await });
        let name = name.to_string();
        m.insert(key.clone(), Early { name, task });
        Some(EarlyGuard { fs: self, key })
    }

    /// The early download of `path` in `c`, if one was sent for it ([`ArchiveFs::early`]).
    async fn claim_early(&self, eng: &Engine, c: &ContainerInfo, path: &Path) -> Option<Download> {
        let key = (eng.index(), path.to_path_buf());
        let mut early = self.early.lock().ok()?.remove(&key)?;
        if eng.named(&early.name).as_deref() != Some(c.id.as_str()) {
            return None;
        }
        (&mut early.task).await.ok()
    }

    /// Downloads `path` and reads its first header: a file streams on (through a blocking tar
    /// reader), a symlink gives its target, a directory is `EISDIR`.
    async fn open_entry(
        &self,
        eng: &Engine,
        c: &ContainerInfo,
        path: &Path,
    ) -> Result<Opened, FsError> {
        let (root, rel) = utf8_ancestor(path);
        let early = self.claim_early(eng, c, &root).await;
        let got = match early {
            Some(d) => d,
            None => self.download(eng, c, &root).await,
        };
        let rx = match got {
            Ok(rx) => rx,
            // The engine's own words (a symlink loop names the host's data root): its `HEAD`
            // says what went wrong as an errno does, if it fails too.
            Err(e @ FsError::Engine(_)) => {
                return Err(self.lstat(eng, c, path).await.err().unwrap_or(e));
            }
            Err(e) => return Err(e),
        };
        let (tx, out) = mpsc::channel(8);
        let (kind_tx, kind) = tokio::sync::oneshot::channel::<io::Result<Option<PathBuf>>>();
        tokio::task::spawn_blocking(move || {
            let send_err = |e: io::Error| {
                let _ = tx.blocking_send(Err(e));
            };
            let mut ar = tar::Archive::new(ChannelReader {
                rx,
                chunk: Bytes::new(),
            });
            let mut entries = match ar.entries() {
                Ok(e) => e,
                Err(e) => return drop(kind_tx.send(Err(e))),
            };
            let mut entry = match pick(&mut entries, rel.as_deref()) {
                Ok(Some(e)) => e,
                Ok(None) => return drop(kind_tx.send(Err(io::ErrorKind::NotFound.into()))),
                Err(e) => return drop(kind_tx.send(Err(e))),
            };
            match entry.header().entry_type() {
                tar::EntryType::Directory => {
                    return drop(kind_tx.send(Err(io::Error::from_raw_os_error(libc::EISDIR))))
                }
                tar::EntryType::Symlink => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| PathBuf::from(OsStr::from_bytes(&t)));
                    return drop(kind_tx.send(match target {
                        Some(t) => Ok(Some(t)),
                        None => Err(io::ErrorKind::InvalidData.into()),
                    }));
                }
                _ => {}
            }
            if kind_tx.send(Ok(None)).is_err() {
                return;
            }
            loop {
                let mut buf = vec![0u8; CHUNK];
                let mut n = 0;
                while n < buf.len() {
                    match entry.read(&mut buf[n..]) {
                        Ok(0) => break,
                        Ok(k) => n += k,
                        Err(e) => return send_err(e),
                    }
                }
                if n == 0 {
                    return;
                }
                buf.truncate(n);
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return;
                }
            }
        });
        match kind.await {
            Ok(Ok(None)) => Ok(Opened::File(out)),
            Ok(Ok(Some(target))) => Ok(Opened::Link(target)),
            Ok(Err(e)) => Err(FsError::from(e)),
            Err(_) => Err(FsError::Engine("the archive reader ended".into())),
        }
    }

    /// Starts writing a file into a (stopped) container: a one-entry tar uploaded into the
    /// parent directory. `size` must be the exact number of bytes that will be written.
    pub async fn create(
        &self,
        eng: &Engine,
        c: &ContainerInfo,
        path: &Path,
        attrs: &Attrs,
        size: u64,
    ) -> Result<ArchiveWriter, FsError> {
        let (dir, name) = split(path)?;
        let mut h = header(tar::EntryType::Regular, attrs);
        h.set_size(size);
        let docker = eng.client().await?.clone();
        let (id, addr) = (c.id.clone(), eng.addr().to_string());
        let (probe_docker, probe_id, probe_path) = (docker.clone(), id.clone(), path_str(path)?);
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        // Something at the name written since we started is what the cut upload left.
        let probe: super::stream::Probe = Box::new(move || {
            Box::pin(async move {
                let opts = ContainerArchiveInfoOptions { path: probe_path };
                match probe_docker
                    .get_container_archive_info(&probe_id, Some(opts))
                    .await
                {
                    Ok(st) => st
                        .modification_time
                        .as_deref()
                        .and_then(parse_rfc3339)
                        .is_none_or(|m| m >= started - 1),
                    Err(_) => false,
                }
            })
        });
        Ok(
            ArchiveWriter::start(h, name, move |rx| upload(docker, id, dir, rx, addr))
                .with_probe(probe),
        )
    }

    /// Creates a directory or symlink in a (stopped) container with a one-entry tar.
    pub async fn put_entry(
        &self,
        eng: &Engine,
        c: &ContainerInfo,
        path: &Path,
        kind: tar::EntryType,
        attrs: &Attrs,
        link: Option<&Path>,
    ) -> Result<(), FsError> {
        let mut h = header(kind, attrs);
        h.set_size(0);
        self.put_header(eng, c, path, h, link).await
    }

    /// Creates a fifo or device node in a (stopped) container with a one-entry tar (the
    /// engine makes it as its own root: a container's own `CAP_MKNOD` is not asked).
    pub async fn put_node(
        &self,
        eng: &Engine,
        c: &ContainerInfo,
        path: &Path,
        kind: tar::EntryType,
        attrs: &Attrs,
        rdev: u64,
    ) -> Result<(), FsError> {
        let mut h = header(kind, attrs);
        h.set_size(0);
        // glibc's makedev encoding, as st_rdev carries it.
        let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
        let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
        h.set_device_major(major as u32)?;
        h.set_device_minor(minor as u32)?;
        self.put_header(eng, c, path, h, None).await
    }

    async fn put_header(
        &self,
        eng: &Engine,
        c: &ContainerInfo,
        path: &Path,
        mut h: tar::Header,
        link: Option<&Path>,
    ) -> Result<(), FsError> {
        let (dir, name) = split(path)?;
        let mut b = tar::Builder::new(Vec::new());
        match link {
            Some(target) => b.append_link(&mut h, &name, target)?,
            None => b.append_data(&mut h, &name, io::empty())?,
        }
        let tar = b.into_inner()?;
        let docker = eng.client().await?;
        let opts = UploadToContainerOptions {
            path: path_str(&dir)?,
            ..Default::default()
        };
        docker
            .upload_to_container(&c.id, Some(opts), bollard::body_full(tar.into()))
            .await
            .map_err(|e| eng.error(e))?;
        Ok(())
    }

    /// A hard link `link` to the existing `target` in a (stopped) container: a tar uploaded at the
    /// root, so both names are relative to the same place.
    pub async fn put_hard_link(
        &self,
        eng: &Engine,
        c: &ContainerInfo,
        target: &Path,
        link: &Path,
    ) -> Result<(), FsError> {
        let rel = |p: &Path| {
            p.strip_prefix("/")
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| p.to_path_buf())
        };
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Link);
        h.set_size(0);
        h.set_mode(0o644);
        let mut b = tar::Builder::new(Vec::new());
        b.append_link(&mut h, rel(link), rel(target))?;
        let tar = b.into_inner()?;
        let docker = eng.client().await?;
        let opts = UploadToContainerOptions {
            path: "/".to_string(),
            ..Default::default()
        };
        docker
            .upload_to_container(&c.id, Some(opts), bollard::body_full(tar.into()))
            .await
            .map_err(|e| eng.error(e).into())
    }

    /// Sends the tar stream of a tree (an archive GET's, or an agent's `ReadTree`) into
    /// directory `dst_dir` of container `to`, its top named `name`: names rewritten, headers
    /// kept; gzipped on the way to an engine across a network (the engine unpacks gzip; a
    /// tree of small files is mostly headers, which shrink some fifty times). Returns the bytes
    /// of file data moved.
    pub async fn put_tree(
        &self,
        rx: mpsc::Receiver<io::Result<Bytes>>,
        (eng, to): (&Engine, &ContainerInfo),
        dst_dir: &Path,
        name: &OsStr,
    ) -> Result<u64, FsError> {
        let gzip = !eng.addr().starts_with("unix://");
        let (tx, tar_rx) = mpsc::channel::<Bytes>(8);
        let name = PathBuf::from(name);
        // Whether an entry went out: from then on a failure leaves part of the tree in a
        // stopped container, which the archive API cannot take back.
        let sent = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sent2 = sent.clone();
        let rewrite = tokio::task::spawn_blocking(move || -> io::Result<u64> {
            let mut ar = tar::Archive::new(ChannelReader {
                rx,
                chunk: Bytes::new(),
            });
            // Buffered: the builder writes in 512-byte pieces, each would be an HTTP chunk.
            let mut b = tar::Builder::new(Body::new(ChannelWriter(tx), gzip));
            let mut base: Option<PathBuf> = None;
            let mut bytes = 0u64;
            let renamed = |p: &Path, base: &Path| -> Option<PathBuf> {
                let rel = p.strip_prefix(base).ok()?;
                Some(if rel.as_os_str().is_empty() {
                    name.clone()
                } else {
                    name.join(rel)
                })
            };
            for entry in ar.entries()? {
                let mut entry = entry?;
                let p = trim_slash(&entry.path()?);
                let base = base.get_or_insert_with(|| p.clone()).clone();
                let Some(new_path) = renamed(&p, &base) else {
                    continue;
                };
                let mut h = entry.header().clone();
                match h.entry_type() {
                    tar::EntryType::Symlink => {
                        let target = entry
                            .link_name()?
                            .map(|t| t.into_owned())
                            .unwrap_or_default();
                        b.append_link(&mut h, &new_path, target)?;
                    }
                    tar::EntryType::Link => {
                        // A hard link names another entry of this archive: rename it alike.
                        let target = entry
                            .link_name()?
                            .map(|t| trim_slash(&t))
                            .unwrap_or_default();
                        let target = renamed(&target, &base).unwrap_or(target);
                        b.append_link(&mut h, &new_path, target)?;
                    }
                    _ => {
                        bytes += entry.size();
                        b.append_data(&mut h, &new_path, &mut entry)?;
                    }
                }
                sent2.store(true, std::sync::atomic::Ordering::SeqCst);
                if interrupt::is_set() {
                    return Err(io::Error::new(io::ErrorKind::Interrupted, "Interrupted"));
                }
            }
            b.into_inner()?.finish()?;
            Ok(bytes)
        });
        let docker = eng.client().await?.clone();
        let put = upload(
            docker,
            to.id.clone(),
            dst_dir.to_path_buf(),
            tar_rx,
            eng.addr().to_string(),
        );
        let (put, moved) = tokio::join!(put, rewrite);
        let r = (|| {
            let moved = moved.map_err(|e| FsError::Engine(e.to_string()))?;
            // The engine's answer says more than a broken pipe on our side.
            put.map_err(super::stream::read_only)?;
            Ok(moved?)
        })();
        match r {
            Err(e)
                if to.state != State::Running && sent.load(std::sync::atomic::Ordering::SeqCst) =>
            {
                Err(FsError::PartialLeft(Box::new(e)))
            }
            r => r,
        }
    }

    /// Starts `GET archive` of `path` in `c` (see [`fetch`]).
    pub async fn download(&self, eng: &Engine, c: &ContainerInfo, path: &Path) -> Download {
        let docker = eng.client().await?;
        fetch(eng, docker, &c.id, path).await
    }

    /// Drops what is cached of a container (it changed through us).
    pub fn forget(&self, id: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(id);
        }
    }
}

/// `GET archive` of `path` in the container `target` (an ID, or a name as the engine resolves
/// it), its body fed into a bounded channel, so that a blocking tar reader can consume it while
/// memory stays flat.
async fn fetch(eng: &Engine, docker: &bollard::Docker, target: &str, path: &Path) -> Download {
    let opts = DownloadFromContainerOptions {
        path: path_str(path)?,
    };
    let mut stream = Box::pin(docker.download_from_container(target, Some(opts)));
    let addr = eng.addr().to_string();
    // The first chunk tells us whether the path exists; report that as a plain FsError.
    let first = interrupt::guard(async {
        match tokio::time::timeout(stall_limit(), stream.next()).await {
            Err(_) => Err(FsError::Io(stalled(&addr))),
            Ok(Some(Ok(b))) => Ok(Some(b)),
            Ok(Some(Err(e))) => Err(FsError::from(eng.error(e))),
            Ok(None) => Ok(None),
        }
    })
    .await?;
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        if let Some(b) = first {
            if tx.send(Ok(b)).await.is_err() {
                return;
            }
        }
        loop {
            // Only the engine's side is timed: a slow reader holds `send` below instead.
            let next = tokio::time::timeout(stall_limit(), stream.next());
            let item: Option<io::Result<Bytes>> = tokio::select! {
                item = next => match item {
                    Err(_) => Some(Err(stalled(&addr))),
                    Ok(item) => item.map(|r| r.map_err(|e| lost(&addr, &e))),
                },
                _ = interrupt::wait() => Some(Err(io::Error::new(io::ErrorKind::Interrupted, "Interrupted"))),
            };
            let Some(item) = item else { return };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    Ok(rx)
}

impl ArchiveFs {
    fn cached_dir(&self, id: &str, gen: u64, dir: &Path) -> Option<Arc<Vec<Entry>>> {
        let cache = self.cache.lock().ok()?;
        let (g, dirs, _) = cache.get(id)?;
        if *g != gen {
            return None;
        }
        dirs.get(dir).cloned()
    }

    /// A small file's bytes, kept from its directory's listing (see [`SMALL_FILE`]).
    fn cached_small(&self, eng: &Engine, c: &ContainerInfo, path: &Path) -> Option<Bytes> {
        let gen = cacheable(eng, c)?;
        let cache = self.cache.lock().ok()?;
        let (g, _, small) = cache.get(&c.id)?;
        if *g != gen {
            return None;
        }
        small.get(path).cloned()
    }

    fn cached_entry(&self, eng: &Engine, c: &ContainerInfo, path: &Path) -> Option<Entry> {
        let gen = cacheable(eng, c)?;
        let parent = path.parent()?;
        let name = path.file_name()?;
        let list = self.cached_dir(&c.id, gen, parent)?;
        list.iter().find(|e| e.name == name).cloned()
    }
}

/// An archive HEAD's failure: the engine answers a symlink it cannot resolve (a loop) with a
/// bare 500, which is the only mark it gives.
fn head_error(e: EngineError) -> FsError {
    match e {
        EngineError::Server {
            status: 500,
            message,
        } if message.is_empty() => FsError::Loop,
        e => e.into(),
    }
}

/// The `dev` of entries read from an archive (their `ino` is [`path_id`]).
pub(super) const ARCHIVE_DEV: u64 = 0xdb0c_a4c1;

/// A stable number for a path, standing in for an inode number (never 0).
pub(super) fn path_id(p: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    p.hash(&mut h);
    h.finish() | 1
}

/// A tar path without its trailing slash.
fn trim_slash(p: &Path) -> PathBuf {
    let b = p.as_os_str().as_bytes();
    PathBuf::from(std::ffi::OsStr::from_bytes(
        b.strip_suffix(b"/").unwrap_or(b),
    ))
}

/// The nearest ancestor of `path` the engine can be asked for (its path is UTF-8), and where
/// `path` lies below it (`None` when `path` itself will do).
fn utf8_ancestor(path: &Path) -> (PathBuf, Option<PathBuf>) {
    if path.to_str().is_some() {
        return (path.to_path_buf(), None);
    }
    let mut root = path;
    while let Some(parent) = root.parent() {
        root = parent;
        if root.to_str().is_some() {
            break;
        }
    }
    let rel = path.strip_prefix(root).map(Path::to_path_buf).ok();
    (root.to_path_buf(), rel)
}

/// The entry a download was for: the first one, or the one at `rel` below the first.
fn pick<'a, R: Read>(
    entries: &mut tar::Entries<'a, R>,
    rel: Option<&Path>,
) -> io::Result<Option<tar::Entry<'a, R>>> {
    let mut base: Option<PathBuf> = None;
    for entry in entries {
        let entry = entry?;
        let Some(rel) = rel else {
            return Ok(Some(entry));
        };
        let p = entry.path()?.into_owned();
        let p = PathBuf::from(std::ffi::OsStr::from_bytes(
            p.as_os_str()
                .as_bytes()
                .strip_suffix(b"/")
                .unwrap_or(p.as_os_str().as_bytes()),
        ));
        match &base {
            None => base = Some(p),
            Some(b) if p.strip_prefix(b).is_ok_and(|r| r == rel) => return Ok(Some(entry)),
            Some(_) => {}
        }
    }
    Ok(None)
}

/// A tar header with the attributes a new entry should get.
fn header(kind: tar::EntryType, attrs: &Attrs) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(attrs.mode);
    let (uid, gid) = attrs.owner.unwrap_or((0, 0));
    h.set_uid(uid.into());
    h.set_gid(gid.into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    h.set_mtime(attrs.mtime.map(|(s, _)| s.max(0) as u64).unwrap_or(now));
    h
}

/// The directory to upload into and the entry's name.
fn split(path: &Path) -> Result<(PathBuf, PathBuf), FsError> {
    match (path.parent(), path.file_name()) {
        (Some(d), Some(n)) => Ok((d.to_path_buf(), PathBuf::from(n))),
        _ => Err(FsError::from(io::Error::from_raw_os_error(libc::EEXIST))),
    }
}

/// An upload's body: buffered (a tar builder writes 512-byte pieces, each would be an HTTP
/// chunk), and gzipped (fastest level) where bytes cost more than CPU.
enum Body<W: Write> {
    Plain(io::BufWriter<W>),
    Gzip(flate2::write::GzEncoder<io::BufWriter<W>>),
}

impl<W: Write> Body<W> {
    fn new(w: W, gzip: bool) -> Body<W> {
        let w = io::BufWriter::with_capacity(CHUNK, w);
        if gzip {
            Body::Gzip(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::fast(),
            ))
        } else {
            Body::Plain(w)
        }
    }

    /// Writes what is left (gzip's trailer too) through.
    fn finish(self) -> io::Result<()> {
        match self {
            Body::Plain(mut w) => w.flush(),
            Body::Gzip(g) => g.finish()?.flush(),
        }
    }
}

impl<W: Write> Write for Body<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Body::Plain(w) => w.write(buf),
            Body::Gzip(g) => g.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Body::Plain(w) => w.flush(),
            Body::Gzip(g) => g.flush(),
        }
    }
}

/// Sends a tar stream to the engine for unpacking into `dir`.
async fn upload(
    docker: bollard::Docker,
    id: String,
    dir: PathBuf,
    rx: mpsc::Receiver<Bytes>,
    addr: String,
) -> Result<(), FsError> {
    // When the engine last took a chunk (or the end of the body) and has not asked for the
    // next one (or answered) since: `None` while it waits for us.
    let taken: Arc<Mutex<Option<std::time::Instant>>> = Arc::default();
    let mark = |t: &Mutex<_>, v| {
        if let Ok(mut t) = t.lock() {
            *t = v;
        }
    };
    // The body reads a channel of its own, fed from `rx` here: a frozen engine's connection
    // task keeps the body forever, and `rx` must go with this function (so the tar's writer
    // sees the end) rather than stay with it.
    let (tx2, rx2) = mpsc::channel::<Bytes>(1);
    let stream =
        futures_util::stream::unfold((rx2, taken.clone()), move |(mut rx, t)| async move {
            mark(&t, None);
            let b = rx.recv().await;
            mark(&t, Some(std::time::Instant::now()));
            b.map(|b| (b, (rx, t)))
        });
    let mut rx = rx;
    let pump = async move {
        while let Some(b) = rx.recv().await {
            if tx2.send(b).await.is_err() {
                break;
            }
        }
    };
    let opts = UploadToContainerOptions {
        path: path_str(&dir)?,
        ..Default::default()
    };
    let put = docker.upload_to_container(&id, Some(opts), bollard::body_stream(stream));
    // A frozen engine takes nothing and answers nothing: the upload fails after the stall
    // limit instead of holding the command.
    let watchdog = async {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            let since = taken.lock().ok().and_then(|t| *t);
            if since.is_some_and(|t| t.elapsed() > stall_limit()) {
                return;
            }
        }
    };
    tokio::pin!(put, pump, watchdog);
    let mut pumped = false;
    let r = loop {
        tokio::select! {
            r = &mut put => break r,
            () = &mut pump, if !pumped => pumped = true,
            () = &mut watchdog => return Err(FsError::Io(stalled(&addr))),
        }
    };
    r.map_err(|e| match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        } => FsError::NotFound,
        bollard::errors::Error::DockerResponseServerError { message, .. } => {
            FsError::Engine(message)
        }
        // Never connected (the engine was down before): as every other call says it.
        bollard::errors::Error::HyperLegacyError { err } if err.is_connect() => {
            FsError::Unreachable {
                addr,
                reason: reason(&bollard::errors::Error::HyperLegacyError { err }),
            }
        }
        e => FsError::Io(lost(&addr, &e)),
    })
}

/// A stream the engine at `addr` stopped moving for the stall limit (a frozen dockerd).
fn stalled(addr: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "no progress for {} s from the engine at {addr}",
            stall_limit().as_secs()
        ),
    )
}

/// A stream cut by the engine at `addr` (killed, restarted): its words, not hyper's.
fn lost(addr: &str, e: &bollard::errors::Error) -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        format!("lost the connection to the engine at {addr}: {}", reason(e)),
    )
}

/// The generation to cache under, or `None` when this container's files may change unseen.
fn cacheable(eng: &Engine, c: &ContainerInfo) -> Option<u64> {
    match c.state {
        State::Running | State::Paused | State::Restarting => None,
        _ => eng.generation(&c.id),
    }
}

/// The engine takes the path as a query string, so it must be UTF-8 here; the agent takes bytes.
fn path_str(p: &Path) -> Result<String, FsError> {
    p.to_str().map(str::to_string).ok_or_else(|| {
        FsError::Engine("the archive API cannot address a non-UTF-8 path".to_string())
    })
}

fn basename(p: &Path) -> OsString {
    p.file_name()
        .map(OsString::from)
        .unwrap_or_else(|| OsString::from("/"))
}

fn blocks_k(size: u64) -> u64 {
    size.div_ceil(4096) * 4
}

/// Builds an Entry from a tar header.
fn entry_of<R: Read>(entry: &tar::Entry<'_, R>, name: OsString) -> io::Result<Entry> {
    let h = entry.header();
    let kind = match h.entry_type() {
        tar::EntryType::Directory => Kind::Dir,
        tar::EntryType::Symlink => Kind::Symlink,
        tar::EntryType::Fifo => Kind::Fifo,
        tar::EntryType::Char => Kind::CharDevice,
        tar::EntryType::Block => Kind::BlockDevice,
        _ => Kind::File,
    };
    let mut e = Entry::new(name, kind);
    e.perm = h.mode()? & 0o7777;
    e.uid = h.uid()? as u32;
    e.gid = h.gid()? as u32;
    e.size = if kind == Kind::File {
        entry.size()
    } else {
        h.size().unwrap_or(0)
    };
    e.mtime = h.mtime()? as i64;
    if let (Kind::CharDevice | Kind::BlockDevice, Ok(Some(ma)), Ok(Some(mi))) =
        (kind, h.device_major(), h.device_minor())
    {
        let (ma, mi) = (u64::from(ma), u64::from(mi));
        e.rdev = ((ma & 0xfffff000) << 32)
            | ((ma & 0xfff) << 8)
            | ((mi & 0xffffff00) << 12)
            | (mi & 0xff);
    }
    e.blocks_k = match kind {
        Kind::Dir => 4,
        Kind::File => blocks_k(e.size),
        _ => 0,
    };
    if kind == Kind::Symlink {
        e.link_target = entry.link_name()?.map(|l| l.into_owned());
        // lstat's size of a symlink is the length of its target.
        e.size = e
            .link_target
            .as_ref()
            .map_or(0, |t| t.as_os_str().len() as u64);
    }
    Ok(e)
}

/// A reader that fails with `FileTooLarge` once more than `left` bytes were asked of it.
struct Budget<R> {
    reader: R,
    left: u64,
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        self.left = self
            .left
            .checked_sub(n as u64)
            .ok_or_else(|| io::Error::from(io::ErrorKind::FileTooLarge))?;
        Ok(n)
    }
}

/// Runs a blocking tar reader on tokio's blocking pool and waits for it without blocking the
/// caller's thread (see `lstat_full`).
async fn off_thread<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, FsError> + Send + 'static,
) -> Result<T, FsError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| FsError::Engine(e.to_string()))?
}

/// Reads a directory's tar (headers only) into a listing of every directory in it, keyed by
/// the absolute path inside the container.
fn parse_tree(reader: impl Read, dir: &Path, keep_small: bool) -> Result<(Dirs, Small), FsError> {
    let mut ar = tar::Archive::new(reader);
    let mut small = Small::new();
    let mut children: HashMap<PathBuf, Vec<Entry>> = HashMap::new();
    let mut files: HashMap<PathBuf, (PathBuf, usize)> = HashMap::new(); // for hard links
    let mut base: Option<PathBuf> = None;
    for entry in ar.entries()? {
        let mut entry = entry?;
        let rel = entry.path()?.into_owned();
        let rel = PathBuf::from(std::ffi::OsStr::from_bytes(
            rel.as_os_str()
                .as_bytes()
                .strip_suffix(b"/")
                .unwrap_or(rel.as_os_str().as_bytes()),
        ));
        // The first entry is the directory itself; everything else is below it.
        let Some(b) = &base else {
            if entry.header().entry_type() != tar::EntryType::Directory {
                return Err(FsError::NotADirectory);
            }
            base = Some(rel);
            children.insert(dir.to_path_buf(), Vec::new());
            continue;
        };
        let Ok(below) = rel.strip_prefix(b) else {
            continue;
        };
        let abs = dir.join(below);
        let (Some(parent), Some(name)) = (abs.parent(), abs.file_name()) else {
            continue;
        };
        let mut e = entry_of(&entry, name.to_os_string())?;
        if keep_small
            && entry.header().entry_type() == tar::EntryType::Regular
            && e.size <= SMALL_FILE
        {
            let mut bytes = Vec::with_capacity(e.size as usize);
            entry.read_to_end(&mut bytes)?;
            small.insert(abs.clone(), Bytes::from(bytes));
        }
        if entry.header().entry_type() == tar::EntryType::Link {
            // A hard link to a file seen earlier: same attributes, one more link each.
            let target = entry
                .link_name()?
                .map(|l| l.into_owned())
                .unwrap_or_default();
            let target_abs = target
                .strip_prefix(b)
                .map(|t| dir.join(t))
                .unwrap_or_default();
            if let Some((tp, idx)) = files.get(&target_abs).cloned() {
                if let Some(t) = children.get_mut(&tp).and_then(|v| v.get_mut(idx)) {
                    t.nlink += 1;
                    let name = e.name.clone();
                    e = t.clone();
                    e.name = name;
                }
            }
        }
        if e.ino == 0 {
            // The archive has no inode numbers; the path stands in for one (stable, so a
            // frontend can hand it out), and a hard link above took its target's, so names of
            // one file compare equal.
            e.dev = ARCHIVE_DEV;
            e.ino = path_id(&abs);
        }
        if e.kind == Kind::Dir {
            e.nlink = 2;
            children.entry(abs.clone()).or_default();
        }
        let list = children.entry(parent.to_path_buf()).or_default();
        if e.kind == Kind::File {
            files.insert(abs.clone(), (parent.to_path_buf(), list.len()));
        }
        list.push(e);
    }
    // Directory link counts: 2 + number of subdirectories.
    let subdirs: HashMap<PathBuf, u64> = children
        .iter()
        .map(|(p, v)| {
            (
                p.clone(),
                v.iter().filter(|e| e.kind == Kind::Dir).count() as u64,
            )
        })
        .collect();
    let mut out = Dirs::new();
    for (p, mut v) in children {
        for e in v.iter_mut().filter(|e| e.kind == Kind::Dir) {
            e.nlink = 2 + subdirs.get(&p.join(&e.name)).copied().unwrap_or(0);
        }
        out.insert(p, Arc::new(v));
    }
    Ok((out, small))
}

/// One container's files through the archive API, as a [`Backend`]: every container, running
/// or not. Writes only add (files, directories, symlinks, hard links); the rest needs the
/// container running with an agent, and says why not.
pub struct ArchiveBackend<'v> {
    pub fs: &'v ArchiveFs,
    pub eng: &'v Engine,
    pub c: Arc<ContainerInfo>,
    /// Why the agent is not serving (for the error of what only it can do).
    pub why: String,
    /// Owner and link count wanted too (they cost a tar header rather than a HEAD).
    pub full: bool,
    /// A listing is given up (`Unsupported`, so the route asks the agent) past this many
    /// bytes of tar: a running container whose agent can start.
    pub budget: Option<u64>,
}

impl ArchiveBackend<'_> {
    /// Follows symlinks at the end of `path`; returns the real path and what is there.
    /// Intermediate components are resolved by the engine, inside the container's root.
    async fn resolve(&self, path: &Path) -> Result<(PathBuf, Entry), FsError> {
        let mut cur = path.to_path_buf();
        for _ in 0..super::MAX_LINKS {
            let e = self.fs.lstat(self.eng, &self.c, &cur).await?;
            match (&e.kind, &e.link_target) {
                (Kind::Symlink, Some(t)) => cur = super::path::link_target_in_container(&cur, t),
                _ => return Ok((cur, e)),
            }
        }
        Err(FsError::Loop)
    }

    /// What only the agent can do in a container.
    fn not_running(&self) -> FsError {
        if self.c.state == State::Running {
            // Running, but the agent cannot run there (read-only root, noexec...).
            if self.why.contains("read-only") {
                return FsError::errno_error(libc::EROFS);
            }
            return FsError::Engine(format!("not possible without the agent ({})", self.why));
        }
        FsError::NotRunning(self.c.state.as_str())
    }

    fn refuse<'a, T: 'a>(&'a self) -> BoxFut<'a, T> {
        let e = self.not_running();
        Box::pin(async move { Err(e) })
    }

    async fn exists(&self, path: &Path) -> bool {
        self.fs.lstat(self.eng, &self.c, path).await.is_ok()
    }

    /// `r`, unless it is `NotFound` for a path of a running container that a symlink on the
    /// way leads onto a mount the archive API cannot see (`/u -> /proc/1` makes `/u/status`
    /// procfs's): then `OnMount`, so the route asks the agent. Looked at only after a miss, so
    /// a file found costs nothing more.
    async fn or_on_mount<T>(&self, path: &Path, r: Result<T, FsError>) -> Result<T, FsError> {
        match r {
            Err(FsError::NotFound)
                if self.c.state == State::Running && self.link_onto_mount(path).await =>
            {
                Err(FsError::OnMount)
            }
            r => r,
        }
    }

    /// Whether resolving `path` component by component goes through a symlink whose target is
    /// on `/proc`, `/sys` or a mount point of the container (a tmpfs, `/dev`).
    async fn link_onto_mount(&self, path: &Path) -> bool {
        let mut rest: Vec<OsString> = names_of(path);
        rest.reverse();
        let mut cur = PathBuf::from("/");
        let mut links = 0;
        while let Some(name) = rest.pop() {
            let next = cur.join(&name);
            let Ok(e) = self.fs.lstat(self.eng, &self.c, &next).await else {
                return false;
            };
            let (Kind::Symlink, Some(t)) = (&e.kind, &e.link_target) else {
                cur = next;
                continue;
            };
            links += 1;
            let target = super::path::link_target_in_container(&next, t);
            if links > super::MAX_LINKS {
                return false;
            }
            if target.starts_with("/proc")
                || target.starts_with("/sys")
                || self.eng.under_mount(&self.c.id, &target).await
            {
                return true;
            }
            rest.extend(names_of(&target).into_iter().rev());
            cur = PathBuf::from("/");
        }
        false
    }
}

/// The plain names of a path's components (`/`, `.` and `..` left out: paths here are
/// normalized).
fn names_of(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_os_string()),
            _ => None,
        })
        .collect()
}

impl Backend for ArchiveBackend<'_> {
    fn lstat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(async move {
            let r = if self.full {
                self.fs.lstat_full(self.eng, &self.c, path).await
            } else {
                self.fs.lstat(self.eng, &self.c, path).await
            };
            match r {
                // The engine cannot stat a symlink it cannot resolve (a loop); the parent's
                // listing still has it as it is.
                Err(FsError::Loop) => {
                    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                        return Err(FsError::Loop);
                    };
                    let list = self.fs.read_dir(self.eng, &self.c, parent).await?;
                    list.iter()
                        .find(|e| e.name == name)
                        .cloned()
                        .ok_or(FsError::Loop)
                }
                // A parent through a link onto `/proc` or a tmpfs (the name itself is not
                // followed).
                r => match path.parent() {
                    Some(parent) => self.or_on_mount(parent, r).await,
                    None => r,
                },
            }
        })
    }

    fn stat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(async move {
            let r = self.resolve(path).await;
            Ok(self.or_on_mount(path, r).await?.1)
        })
    }

    fn read_dir<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Arc<Vec<Entry>>> {
        Box::pin(async move {
            let r = self.resolve(path).await;
            let (real, e) = self.or_on_mount(path, r).await?;
            if !e.is_dir() {
                return Err(FsError::NotADirectory);
            }
            self.fs
                .read_dir_within(self.eng, &self.c, &real, self.budget)
                .await
        })
    }

    fn readlink<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        Box::pin(async move {
            let e = self.fs.lstat(self.eng, &self.c, path).await?;
            e.link_target
                .ok_or_else(|| FsError::errno_error(libc::EINVAL))
        })
    }

    fn realpath<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        Box::pin(async move { Ok(self.resolve(path).await?.0) })
    }

    fn open_read<'a>(&'a self, path: &'a Path, _size_hint: u64) -> BoxFut<'a, FileReader> {
        Box::pin(async move {
            let r = self.fs.open_read(self.eng, &self.c, path).await;
            Ok(FileReader::Archive(self.or_on_mount(path, r).await?))
        })
    }

    /// No in place here: the entry replaces an existing file (`Append` is the caller's to do:
    /// it sends the old content first). A final symlink is written through, resolved inside the
    /// container, never replaced.
    fn create<'a>(
        &'a self,
        path: &'a Path,
        attrs: Attrs,
        size: u64,
        _open: Open,
    ) -> BoxFut<'a, FileWriter> {
        Box::pin(async move {
            let real = match self.fs.lstat(self.eng, &self.c, path).await {
                Ok(e) if e.kind == Kind::Symlink => self.resolve(path).await?.0,
                _ => path.to_path_buf(),
            };
            let w = self.fs.create(self.eng, &self.c, &real, &attrs, size).await;
            Ok(FileWriter::Archive(w.map_err(read_only)?))
        })
    }

    fn create_needs_size(&self) -> BoxFut<'_, bool> {
        Box::pin(async { Ok(true) })
    }

    fn mkdir<'a>(&'a self, path: &'a Path, attrs: Attrs) -> BoxFut<'a, ()> {
        Box::pin(async move {
            if self.exists(path).await {
                return Err(FsError::errno_error(libc::EEXIST));
            }
            let dir = tar::EntryType::Directory;
            self.fs
                .put_entry(self.eng, &self.c, path, dir, &attrs, None)
                .await
                .map_err(read_only)
        })
    }

    /// The directory's tar entry is sent again: the engine applies the attributes of an entry
    /// that already exists.
    fn set_dir_attrs<'a>(&'a self, path: &'a Path, attrs: Attrs) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let dir = tar::EntryType::Directory;
            self.fs
                .put_entry(self.eng, &self.c, path, dir, &attrs, None)
                .await
                .map_err(read_only)
        })
    }

    fn symlink<'a>(&'a self, at: &'a At, attrs: Attrs) -> BoxFut<'a, ()> {
        Box::pin(async move {
            if self.exists(&at.path).await {
                return Err(FsError::errno_error(libc::EEXIST));
            }
            let a = Attrs {
                mode: 0o777,
                ..attrs
            };
            let kind = tar::EntryType::Symlink;
            self.fs
                .put_entry(self.eng, &self.c, &at.path, kind, &a, Some(&at.other))
                .await
                .map_err(read_only)
        })
    }

    fn link<'a>(&'a self, at: &'a At) -> BoxFut<'a, ()> {
        Box::pin(async move {
            self.fs
                .put_hard_link(self.eng, &self.c, &at.path, &at.other)
                .await
                .map_err(read_only)
        })
    }

    /// A fifo or device as a one-entry tar; a socket has no tar entry type, so only a running
    /// container (its agent) makes one.
    fn mknod<'a>(&'a self, path: &'a Path, kind: Kind, attrs: Attrs, rdev: u64) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let t = match kind {
                Kind::Fifo => tar::EntryType::Fifo,
                Kind::CharDevice => tar::EntryType::Char,
                Kind::BlockDevice => tar::EntryType::Block,
                _ => return Err(self.not_running()),
            };
            if self.exists(path).await {
                return Err(FsError::errno_error(libc::EEXIST));
            }
            self.fs
                .put_node(self.eng, &self.c, path, t, &attrs, rdev)
                .await
                .map_err(read_only)
        })
    }

    fn remove<'a>(&'a self, _path: &'a Path, _dir: bool) -> BoxFut<'a, ()> {
        self.refuse()
    }

    fn rename<'a>(&'a self, _at: &'a At) -> BoxFut<'a, ()> {
        self.refuse()
    }

    fn chmod<'a>(&'a self, _path: &'a Path, _mode: u32) -> BoxFut<'a, ()> {
        self.refuse()
    }

    fn chown<'a>(&'a self, _path: &'a Path, _u: u32, _g: u32, _f: bool) -> BoxFut<'a, ()> {
        self.refuse()
    }

    fn set_times<'a>(
        &'a self,
        _path: &'a Path,
        _a: (i64, u32),
        _m: (i64, u32),
        _f: bool,
    ) -> BoxFut<'a, ()> {
        self.refuse()
    }
}
