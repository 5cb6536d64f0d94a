//! Files as streams of chunks, so a copy between any two places (host, agent, archive API)
//! moves through bounded buffers and nothing is staged on disk.
//!
//! A [`FileWriter`] lands atomically where the backend allows it: on the host and through the
//! agent the data goes to a temporary name beside the destination and is renamed on `commit`;
//! dropped or aborted, the temporary is removed. Into a stopped container the engine unpacks a
//! tar as it arrives, which cannot be renamed into place: see [`FileWriter::Archive`].

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::FsError;
use crate::host::{ProcWriter, ReadStream, WriteStream};
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

/// A file being written.
pub enum FileWriter {
    Host(HostWriter),
    /// Into a running container through its `/proc/PID/root`; owner and times are set before
    /// the rename, with the mode.
    Direct(ProcWriter, Attrs),
    Agent(WriteStream),
    /// Into a stopped container: a tar stream the engine unpacks as it arrives. The size was
    /// announced in the tar header up front; a write that fails midway leaves whatever the
    /// engine had unpacked (the archive API has no rename and no delete).
    Archive(ArchiveWriter),
}

impl FileWriter {
    pub async fn write(&mut self, data: &[u8]) -> Result<(), FsError> {
        match self {
            FileWriter::Host(w) => w.file.write_all(data).map_err(FsError::from),
            FileWriter::Direct(w, _) => (&w.file).write_all(data).map_err(FsError::from),
            FileWriter::Agent(w) => w.write(data).await.map_err(super::agent::fs_error),
            FileWriter::Archive(w) => w.write(data).await,
        }
    }

    /// Makes the file appear under its name, whole.
    pub async fn commit(self) -> Result<(), FsError> {
        match self {
            FileWriter::Host(w) => w.commit(),
            FileWriter::Direct(w, a) => w.commit(a.owner, a.mtime).map_err(FsError::from),
            FileWriter::Agent(w) => w.close(true).await.map_err(super::agent::fs_error),
            FileWriter::Archive(w) => w.finish().await,
        }
    }

    /// Throws the file away (the destination keeps what it had).
    pub async fn abort(self) {
        match self {
            FileWriter::Host(w) => drop(w),
            FileWriter::Direct(w, _) => drop(w),
            FileWriter::Agent(w) => {
                let _ = w.close(false).await;
            }
            FileWriter::Archive(w) => w.abort().await,
        }
    }
}

impl FileWriter {
    /// The file being written, when it is open here (the kernel can copy into it).
    pub fn local_file(&self) -> Option<&File> {
        match self {
            FileWriter::Host(w) => Some(&w.file),
            FileWriter::Direct(w, _) => Some(&w.file),
            _ => None,
        }
    }

    /// Whether `commit` sets owner and times itself (else the caller sets them after).
    pub fn sets_attrs(&self) -> bool {
        matches!(self, FileWriter::Direct(..))
    }
}

/// A host file written under a temporary name beside its destination.
pub struct HostWriter {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
    mode: u32,
    done: bool,
}

impl HostWriter {
    pub fn create(dest: &Path, mode: u32) -> Result<HostWriter, FsError> {
        let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
            return Err(FsError::from(io::Error::from_raw_os_error(libc::EINVAL)));
        };
        let tmp = dir.join(temp_name(name));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        Ok(HostWriter {
            file,
            tmp,
            dest: dest.to_path_buf(),
            mode,
            done: false,
        })
    }

    fn commit(mut self) -> Result<(), FsError> {
        let landed = self
            .file
            .set_permissions(std::fs::Permissions::from_mode(self.mode))
            .and_then(|()| self.file.sync_all())
            .and_then(|()| std::fs::rename(&self.tmp, &self.dest));
        self.done = landed.is_ok();
        landed.map_err(FsError::from)
    }
}

impl Drop for HostWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The temporary name a file is written under before its rename: hidden, unique, and short
/// enough for any name (`.NAME.dbx-PID-NONCE`).
pub fn temp_name(name: &std::ffi::OsStr) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    let mut tmp = b".".to_vec();
    tmp.extend_from_slice(&name.as_bytes()[..name.len().min(200)]);
    tmp.extend_from_slice(format!(".dbx-{}-{:x}", std::process::id(), nonce()).as_bytes());
    std::ffi::OsString::from_vec(tmp)
}

fn nonce() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (u64::from(t) << 16) ^ N.fetch_add(1, Ordering::SeqCst)
}

/// A file streamed into a stopped container as a one-entry tar.
pub struct ArchiveWriter {
    data: Option<mpsc::Sender<io::Result<Bytes>>>,
    builder: tokio::task::JoinHandle<io::Result<()>>,
    upload: tokio::task::JoinHandle<Result<(), FsError>>,
    expected: u64,
    written: u64,
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
        }
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

    /// Why the upload stopped taking data: the engine's answer.
    async fn why(&mut self) -> FsError {
        match (&mut self.upload).await {
            Ok(Err(e)) => read_only(e),
            _ => FsError::Engine("the engine stopped taking the upload".into()),
        }
    }

    async fn finish(mut self) -> Result<(), FsError> {
        if self.written != self.expected {
            self.abort().await;
            return Err(FsError::Engine(
                "the file changed size while it was copied".into(),
            ));
        }
        self.data = None; // end of data
        let built = self
            .builder
            .await
            .map_err(|e| FsError::Engine(e.to_string()))?;
        let uploaded = self
            .upload
            .await
            .map_err(|e| FsError::Engine(e.to_string()))?;
        uploaded.map_err(read_only)?;
        built.map_err(FsError::from)
    }

    async fn abort(mut self) {
        if let Some(tx) = self.data.take() {
            let _ = tx
                .send(Err(io::Error::new(io::ErrorKind::Interrupted, "aborted")))
                .await;
        }
        let _ = self.builder.await;
        self.upload.abort();
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
