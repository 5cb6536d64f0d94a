//! Files as streams of chunks, so a copy between any two places (host, agent, archive API)
//! moves through bounded buffers and nothing is staged on disk.
//!
//! The overwrite rule, as GNU cp and sh have it: an existing destination (a symlink is
//! followed, confined to its container) is truncated and written in place, so its inode, owner,
//! group, mode and hard links stay and a process holding it open keeps seeing it; `>>` appends
//! to that same inode. Only a new file lands atomically: it is written under a temporary name
//! beside the destination and renamed on `commit` (never over something that appeared
//! meanwhile); dropped or aborted, the temporary is removed. Into a stopped container the
//! engine unpacks a tar as it arrives, which cannot be renamed into place nor written in place:
//! see [`FileWriter::Archive`].

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::FsError;
use crate::host::{Chunk, ProcWriter, ReadStream, WriteStream};
pub use crate::inplace::Open;
use crate::inplace::{prepare_in_place, rename_noreplace, set_mode_if_changed};
use crate::interrupt;

/// The size of the chunks moved between a reader and a writer.
pub const CHUNK: usize = 256 * 1024;

/// Attributes a new file or directory gets.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attrs {
    /// Permission bits (with setuid/setgid/sticky).
    pub mode: u32,
    /// Owner to set, when preserving ownership (`-a`, `-p` as root).
    pub owner: Option<(u32, u32)>,
    /// Modification time (seconds, nanoseconds) to set, when preserving times.
    pub mtime: Option<(i64, u32)>,
}

/// A file being read.
pub enum FileReader {
    /// A file open here: on the host, or in a container through its `/proc/PID/root`.
    Local(File),
    Agent(ReadStream),
    /// Chunks from a blocking tar reader over an archive download.
    Archive(mpsc::Receiver<io::Result<Bytes>>),
}

impl FileReader {
    /// The next chunk, `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Bytes>, FsError> {
        if interrupt::is_set() {
            return Err(FsError::Interrupted);
        }
        match self {
            FileReader::Local(f) => {
                let mut buf = vec![0u8; CHUNK];
                let n = loop {
                    match f.read(&mut buf) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e.into()),
                    }
                };
                buf.truncate(n);
                Ok((n > 0).then(|| Bytes::from(buf)))
            }
            FileReader::Agent(s) => {
                interrupt::guard(async { s.next().await.map_err(super::agent::fs_error) }).await
            }
            FileReader::Archive(rx) => {
                match interrupt::guard(async { Ok::<_, FsError>(rx.recv().await) }).await? {
                    Some(Ok(b)) => Ok(Some(b)),
                    Some(Err(e)) => Err(e.into()),
                    None => Ok(None),
                }
            }
        }
    }
}

impl FileReader {
    /// The next chunk as it came: an agent's packed chunk stays packed, so a copy into another
    /// agent passes it on without unpacking it here.
    pub async fn next_chunk(&mut self) -> Result<Option<Chunk>, FsError> {
        match self {
            FileReader::Agent(s) => {
                if interrupt::is_set() {
                    return Err(FsError::Interrupted);
                }
                interrupt::guard(async { s.next_chunk().await.map_err(super::agent::fs_error) })
                    .await
            }
            _ => Ok(self.next().await?.map(Chunk::Raw)),
        }
    }
}

/// A file being written.
pub enum FileWriter {
    Host(HostWriter),
    /// Into a running container through its `/proc/PID/root`; owner and times are set before
    /// the rename, with the mode.
    Direct(ProcWriter, Attrs, Temp),
    Agent(WriteStream, Temp),
    /// Into a stopped container: a tar stream the engine unpacks as it arrives. The size was
    /// announced in the tar header up front; a write that fails midway leaves whatever the
    /// engine had unpacked (the archive API has no rename and no delete).
    Archive(ArchiveWriter),
    /// A big new file into a running container by the engine's tar stream (cheaper than
    /// exec's stdin on this engine): unpacked under a temporary name beside the destination,
    /// which the agent renames into place on commit, never over something that appeared
    /// meanwhile, or removes on failure.
    Put(ArchiveWriter, Landing),
}

/// Where a [`FileWriter::Put`] lands, and who lands it.
pub struct Landing {
    pub conn: std::sync::Arc<crate::host::AgentConn>,
    /// The temporary the engine unpacks into, and the destination.
    pub tmp: PathBuf,
    pub dest: PathBuf,
    pub temp: Temp,
}

impl Landing {
    /// Renames the temporary into place once the upload `done`; on any failure removes it
    /// (not through interruptible calls: after Ctrl-C it must still go).
    async fn land(self, done: Result<(), FsError>) -> Result<(), FsError> {
        use dockerbox_proto::Request;
        let b = |p: &Path| p.as_os_str().as_bytes().to_vec();
        let landed = match done {
            Ok(()) => {
                let req = Request::Land {
                    from: b(&self.tmp),
                    to: b(&self.dest),
                };
                self.conn
                    .call(req)
                    .await
                    .map(drop)
                    .map_err(super::agent::fs_error)
            }
            Err(e) => Err(e),
        };
        if landed.is_ok() {
            self.temp.done();
            return Ok(());
        }
        let req = Request::RemoveTemp { path: b(&self.tmp) };
        match self.conn.call(req).await {
            Ok(_) | Err(crate::host::AgentError::Errno(libc::ENOENT)) => self.temp.done(),
            Err(_) => self.temp.orphan(),
        }
        landed
    }
}

impl FileWriter {
    pub async fn write(&mut self, data: &[u8]) -> Result<(), FsError> {
        match self {
            FileWriter::Host(w) => w.file.write_all(data).map_err(FsError::from),
            FileWriter::Direct(w, ..) => (&w.file).write_all(data).map_err(FsError::from),
            FileWriter::Agent(w, _) => w.write(data).await.map_err(super::agent::fs_error),
            FileWriter::Archive(w) | FileWriter::Put(w, _) => w.write(data).await,
        }
    }

    /// Writes a chunk from [`FileReader::next_chunk`]: an agent takes a packed one as it is.
    pub async fn write_chunk(&mut self, chunk: Chunk) -> Result<(), FsError> {
        match (self, chunk) {
            (FileWriter::Agent(w, _), chunk) => {
                w.write_chunk(chunk).await.map_err(super::agent::fs_error)
            }
            (w, Chunk::Raw(b)) => w.write(&b).await,
            (w, packed) => {
                let raw = packed.unpack().map_err(super::agent::fs_error)?;
                w.write(&raw).await
            }
        }
    }

    /// Makes the file appear under its name, whole.
    pub async fn commit(self) -> Result<(), FsError> {
        match self {
            FileWriter::Host(w) => w.commit(),
            FileWriter::Direct(w, a, t) => {
                let r = w.commit(a.owner, a.mtime);
                t.done(); // landed, or removed by the writer's drop
                r.map_err(FsError::from)
            }
            FileWriter::Agent(w, t) => {
                let r = w.close(true).await;
                t.settle(r.as_ref().err());
                r.map_err(super::agent::fs_error)
            }
            FileWriter::Archive(w) => w.finish().await,
            FileWriter::Put(w, landing) => {
                let done = w.finish().await;
                landing.land(done).await
            }
        }
    }

    /// Throws the file away: a new file's temporary is removed; a file written in place
    /// keeps what was written so far (as with GNU cp). True when a stopped container was left
    /// holding a partial file at the name (see [`FileWriter::Archive`]).
    pub async fn abort(self) -> bool {
        match self {
            FileWriter::Host(w) => drop(w),
            FileWriter::Direct(w, _, t) => match w.discard() {
                Ok(()) => t.done(),
                Err(_) => t.orphan(),
            },
            FileWriter::Agent(w, t) => {
                let r = w.close(false).await;
                t.settle(r.as_ref().err());
            }
            FileWriter::Archive(w) => return w.abort().await,
            FileWriter::Put(w, landing) => {
                w.abort().await;
                let _ = landing.land(Err(FsError::Interrupted)).await;
            }
        }
        false
    }
}

impl FileWriter {
    /// The file being written, when it is open here (the kernel can copy into it).
    pub fn local_file(&self) -> Option<&File> {
        match self {
            FileWriter::Host(w) => Some(&w.file),
            FileWriter::Direct(w, ..) => Some(&w.file),
            _ => None,
        }
    }

    /// Whether `commit` sets owner and times itself (else the caller sets them after).
    pub fn sets_attrs(&self) -> bool {
        matches!(self, FileWriter::Direct(..))
    }
}

/// A temporary in a container, journaled (`vfs::temps`) until it landed or was removed; one
/// the writer could not remove (the agent or the container went away) is removed when the
/// container is reached again.
pub struct Temp {
    ticket: Option<super::temps::Ticket>,
    container: String,
    path: PathBuf,
}

impl Temp {
    /// Journals the temporary `path` about to be made in container `id`; `None` for a write in
    /// place, which makes none.
    pub fn new(id: &str, path: PathBuf, made: bool) -> Temp {
        Temp {
            ticket: made.then(|| super::temps::record(Some(id), &path)),
            container: id.to_string(),
            path,
        }
    }

    /// A temporary name beside `path` in container `id`, journaled before the writer may make
    /// it.
    pub fn beside(id: &str, path: &Path) -> (std::ffi::OsString, Temp) {
        let tmp = temp_name(path.file_name().unwrap_or_default());
        let temp = Temp::new(id, path.with_file_name(&tmp), true);
        (tmp, temp)
    }

    /// What is left to settle once the writer said whether it made the temporary: nothing for
    /// a write in place.
    pub fn unless_in_place(self, made: bool) -> Temp {
        if made {
            return self;
        }
        let container = self.container.clone();
        self.done();
        Temp::new(&container, PathBuf::new(), false)
    }

    /// The temporary landed or was removed.
    pub fn done(self) {
        if let Some(t) = self.ticket {
            t.done();
        }
    }

    /// The temporary could not be removed: the next reach of the container does it.
    pub fn orphan(self) {
        if self.ticket.is_some() {
            super::temps::orphaned(&self.container, &self.path, self.ticket);
        }
    }

    /// After the agent closed the write: the temporary is gone unless the agent was.
    fn settle(self, err: Option<&crate::host::AgentError>) {
        // A connection that ended (or that we stopped trusting) cannot have cleaned up.
        match err {
            Some(e) if e.connection_ended() => self.orphan(),
            _ => self.done(),
        }
    }
}

/// A host file being written: in place when it existed, else under a temporary name beside its
/// destination (see the module doc).
pub struct HostWriter {
    file: File,
    /// The temporary name, for a new file; `None` when writing in place.
    tmp: Option<PathBuf>,
    dest: PathBuf,
    mode: u32,
    done: bool,
    ticket: Option<super::temps::Ticket>,
}

impl HostWriter {
    pub fn create(dest: &Path, mode: u32, open: Open) -> Result<HostWriter, FsError> {
        let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
            return Err(FsError::from(io::Error::from_raw_os_error(libc::EINVAL)));
        };
        let existing = std::fs::OpenOptions::new()
            .write(true)
            .append(open == Open::Append)
            .custom_flags(open.flags())
            .open(dest);
        match existing {
            Ok(file) => {
                prepare_in_place(&file, open)?;
                return Ok(HostWriter {
                    file,
                    tmp: None,
                    dest: dest.to_path_buf(),
                    mode,
                    done: false,
                    ticket: None,
                });
            }
            // A name that is there but leads nowhere (a dangling symlink) is never replaced:
            // NotFound, which callers word as GNU cp does.
            Err(e) if e.kind() == io::ErrorKind::NotFound && dest.symlink_metadata().is_ok() => {
                return Err(FsError::NotFound)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let tmp = dir.join(temp_name(name));
        let ticket = super::temps::record(None, &tmp);
        let file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(f) => f,
            Err(e) => {
                ticket.done();
                return Err(e.into());
            }
        };
        Ok(HostWriter {
            file,
            tmp: Some(tmp),
            dest: dest.to_path_buf(),
            mode,
            done: false,
            ticket: Some(ticket),
        })
    }

    fn commit(mut self) -> Result<(), FsError> {
        let Some(tmp) = &self.tmp else {
            self.done = true;
            return set_mode_if_changed(&self.file, self.mode).map_err(FsError::from);
        };
        let c = |p: &Path| {
            std::ffi::CString::new(p.as_os_str().as_bytes())
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
        };
        let landed = self
            .file
            .set_permissions(std::fs::Permissions::from_mode(self.mode))
            .and_then(|()| self.file.sync_all())
            .and_then(|()| {
                rename_noreplace(libc::AT_FDCWD, &c(tmp)?, libc::AT_FDCWD, &c(&self.dest)?)
            });
        self.done = landed.is_ok();
        landed.map_err(FsError::from)
    }
}

impl Drop for HostWriter {
    fn drop(&mut self) {
        if let (false, Some(tmp)) = (self.done, &self.tmp) {
            let _ = std::fs::remove_file(tmp);
        }
        if let Some(t) = self.ticket.take() {
            t.done();
        }
    }
}

/// The temporary name a file is written under before its rename (see `vfs::temps`).
pub fn temp_name(name: &std::ffi::OsStr) -> std::ffi::OsString {
    super::temps::name(name)
}

/// Whether a failed upload left something fresh at the destination's name: asked of the
/// engine after the upload ended. The engine unpacks as the tar arrives and keeps what it got
/// when the body ends early or is cut (measured: a 10 MB entry cut at 5 MB stays as 5 MB).
pub type Probe = Box<dyn FnOnce() -> futures_util::future::BoxFuture<'static, bool> + Send>;

/// A file streamed into a stopped container as a one-entry tar.
pub struct ArchiveWriter {
    data: Option<mpsc::Sender<io::Result<Bytes>>>,
    builder: tokio::task::JoinHandle<io::Result<()>>,
    upload: tokio::task::JoinHandle<Result<(), FsError>>,
    expected: u64,
    written: u64,
    probe: Option<Probe>,
    /// `upload` was awaited to its end (by `why`).
    upload_done: bool,
}

impl ArchiveWriter {
    /// Starts the upload: `header` describes the entry (its size must be the exact length of
    /// what will be written), `upload` sends the tar stream it is given to the engine.
    pub fn start<F, Fut>(header: tar::Header, name: PathBuf, upload: F) -> ArchiveWriter
    where
        F: FnOnce(mpsc::Receiver<Bytes>) -> Fut,
        Fut: std::future::Future<Output = Result<(), FsError>> + Send + 'static,
    {
        let expected = header.size().unwrap_or(0);
        let (data_tx, data_rx) = mpsc::channel::<io::Result<Bytes>>(8);
        let (tar_tx, tar_rx) = mpsc::channel::<Bytes>(8);
        let builder = tokio::task::spawn_blocking(move || {
            let mut header = header;
            // Buffered: the builder writes in small pieces, each would be an HTTP chunk.
            let mut b =
                tar::Builder::new(io::BufWriter::with_capacity(CHUNK, ChannelWriter(tar_tx)));
            b.append_data(
                &mut header,
                name,
                ChannelReader {
                    rx: data_rx,
                    chunk: Bytes::new(),
                },
            )?;
            b.into_inner()?.flush()
        });
        let upload = tokio::spawn(upload(tar_rx));
        ArchiveWriter {
            data: Some(data_tx),
            builder,
            upload,
            expected,
            written: 0,
            probe: None,
            upload_done: false,
        }
    }

    /// How [`FileWriter::abort`] finds out whether a partial file was left.
    pub fn with_probe(mut self, probe: Probe) -> ArchiveWriter {
        self.probe = Some(probe);
        self
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), FsError> {
        self.written += data.len() as u64;
        if self.written > self.expected {
            return Err(FsError::Engine("the file grew while it was copied".into()));
        }
        let tx = self.data.as_ref().ok_or(FsError::Interrupted)?;
        if tx.send(Ok(Bytes::copy_from_slice(data))).await.is_err() {
            return Err(self.why().await);
        }
        Ok(())
    }

    /// Why the upload stopped taking data: the engine's answer. The upload task has ended
    /// then, and its handle must not be awaited again (`finish`, `abort`).
    async fn why(&mut self) -> FsError {
        self.upload_done = true;
        match (&mut self.upload).await {
            Ok(Err(e)) => read_only(e),
            _ => FsError::Engine("the engine stopped taking the upload".into()),
        }
    }

    async fn finish(mut self) -> Result<(), FsError> {
        if self.written != self.expected {
            let partial = self.abort().await;
            return Err(left(
                partial,
                FsError::Engine("the file changed size while it was copied".into()),
            ));
        }
        self.data = None; // end of data
        let built = self
            .builder
            .await
            .map_err(|e| FsError::Engine(e.to_string()))
            .and_then(|b| b.map_err(FsError::from));
        let uploaded = if self.upload_done {
            Err(FsError::Engine(
                "the engine stopped taking the upload".into(),
            ))
        } else {
            (&mut self.upload)
                .await
                .map_err(|e| FsError::Engine(e.to_string()))
                .and_then(|u| u.map_err(read_only))
        };
        let Err(e) = uploaded.and(built) else {
            return Ok(());
        };
        // A frozen engine would hold the question as it held the upload.
        let partial = match self.probe.take() {
            Some(probe) => tokio::time::timeout(crate::host::stall_limit(), probe())
                .await
                .unwrap_or(false),
            None => false,
        };
        Err(left(partial, e))
    }

    /// Ends the upload early; true when the engine kept a partial file (it has no rename and
    /// no delete, and measured, no way to take back an entry it started: a cut body, a short
    /// body and a `.wh.` whiteout entry all leave it).
    async fn abort(mut self) -> bool {
        if let Some(tx) = self.data.take() {
            let _ = tx
                .send(Err(io::Error::new(io::ErrorKind::Interrupted, "aborted")))
                .await;
        }
        let _ = self.builder.await;
        // Let the engine finish with what it got before asking what is there.
        if !self.upload_done {
            let ended =
                tokio::time::timeout(std::time::Duration::from_secs(10), &mut self.upload).await;
            if ended.is_err() {
                self.upload.abort();
            }
        }
        match self.probe.take() {
            Some(probe) => tokio::time::timeout(crate::host::stall_limit(), probe())
                .await
                .unwrap_or(false),
            None => false,
        }
    }
}

/// `e`, marked as having left a partial file when it did.
fn left(partial: bool, e: FsError) -> FsError {
    if partial {
        FsError::PartialLeft(Box::new(e))
    } else {
        e
    }
}

/// The engine refuses uploads into a read-only root with a plain 500: say it as errno.
pub fn read_only(e: FsError) -> FsError {
    match e {
        FsError::Engine(m) if m.contains("read-only") => {
            FsError::from(io::Error::from_raw_os_error(libc::EROFS))
        }
        e => e,
    }
}

/// `Write` into an async channel, from a blocking thread.
pub struct ChannelWriter(pub mpsc::Sender<Bytes>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `Read` from an async channel, in a blocking thread; an `Err` item aborts.
pub struct ChannelReader {
    pub rx: mpsc::Receiver<io::Result<Bytes>>,
    pub chunk: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.chunk = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("list")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_host_file_is_overwritten_in_place_and_a_new_one_lands_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("f"), b"old").expect("write");
        std::fs::hard_link(d.join("f"), d.join("f2")).expect("link");
        std::os::unix::fs::symlink("f", d.join("lnk")).expect("symlink");
        std::os::unix::fs::symlink("nowhere", d.join("dang")).expect("symlink");
        let ino = std::fs::metadata(d.join("f")).expect("stat").ino();

        // Through the symlink, into the same inode; the link stays a link.
        let mut w = HostWriter::create(&d.join("lnk"), 0o644, Open::Replace).expect("create");
        w.file.write_all(b"new").expect("write");
        w.commit().expect("commit");
        let md = std::fs::metadata(d.join("f")).expect("stat");
        assert_eq!((md.ino(), md.nlink()), (ino, 2));
        assert_eq!(std::fs::read(d.join("f2")).expect("read"), b"new");
        assert!(std::fs::symlink_metadata(d.join("lnk"))
            .expect("lstat")
            .file_type()
            .is_symlink());

        // A dangling link is never replaced.
        assert!(matches!(
            HostWriter::create(&d.join("dang"), 0o644, Open::Replace),
            Err(FsError::NotFound)
        ));

        // A new file: nothing at the name until commit, nothing at all if dropped.
        let mut w = HostWriter::create(&d.join("n"), 0o640, Open::Replace).expect("create");
        w.file.write_all(b"n").expect("write");
        assert!(!d.join("n").exists());
        drop(w);
        assert_eq!(names(d), ["dang", "f", "f2", "lnk"]);
        let w = HostWriter::create(&d.join("n"), 0o640, Open::Append).expect("create");
        w.commit().expect("commit");
        let md = std::fs::metadata(d.join("n")).expect("stat");
        assert_eq!(md.mode() & 0o7777, 0o640);
        assert_eq!(names(d), ["dang", "f", "f2", "lnk", "n"]);
    }
}
