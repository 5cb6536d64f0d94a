//! The file operations, on the container's own filesystem (the agent's root is the container's).

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{mpsc, Arc};

use dockerbox_proto::pack::Sampler;
use dockerbox_proto::{Attr, DirEntry, Request, Response, StatFs, CHUNK};

use crate::{Credit, Out};

fn p(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

fn errno(e: &io::Error) -> Response {
    Response::Error {
        errno: e.raw_os_error().unwrap_or(libc::EIO),
    }
}

fn attr(md: &fs::Metadata) -> Attr {
    Attr {
        mode: md.mode(),
        uid: md.uid(),
        gid: md.gid(),
        size: md.size(),
        mtime: md.mtime(),
        mtime_nsec: md.mtime_nsec() as u32,
        nlink: md.nlink(),
        blocks: md.blocks(),
        rdev: md.rdev(),
        dev: md.dev(),
        ino: md.ino(),
        atime: md.atime(),
        atime_nsec: md.atime_nsec() as u32,
        ctime: md.ctime(),
        ctime_nsec: md.ctime_nsec() as u32,
    }
}

fn done(r: io::Result<()>) -> Response {
    match r {
        Ok(()) => Response::Ok,
        Err(e) => errno(&e),
    }
}

fn cstr(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Requests answered with one frame.
pub fn simple(req: Request) -> Response {
    match req {
        Request::Lstat { path } => {
            fs::symlink_metadata(p(&path)).map_or_else(|e| errno(&e), |m| Response::Attr(attr(&m)))
        }
        Request::Stat { path } => {
            fs::metadata(p(&path)).map_or_else(|e| errno(&e), |m| Response::Attr(attr(&m)))
        }
        Request::ReadLink { path } => fs::read_link(p(&path)).map_or_else(
            |e| errno(&e),
            |t| Response::Path(t.into_os_string().into_vec()),
        ),
        Request::Mkdir { path, mode } => done(mkdir(&path, mode)),
        Request::Unlink { path } => done(fs::remove_file(p(&path))),
        Request::Rmdir { path } => done(fs::remove_dir(p(&path))),
        Request::Rename { from, to } => done(fs::rename(p(&from), p(&to))),
        Request::Symlink { target, link } => done(std::os::unix::fs::symlink(p(&target), p(&link))),
        Request::Link { from, to } => done(fs::hard_link(p(&from), p(&to))),
        Request::Chmod { path, mode } => done(fs::set_permissions(
            p(&path),
            fs::Permissions::from_mode(mode),
        )),
        Request::Chown {
            path,
            uid,
            gid,
            follow,
        } => done(if follow {
            std::os::unix::fs::chown(p(&path), Some(uid), Some(gid))
        } else {
            std::os::unix::fs::lchown(p(&path), Some(uid), Some(gid))
        }),
        Request::Utimes {
            path,
            atime,
            mtime,
            follow,
        } => done(utimes(&path, atime, mtime, follow)),
        Request::Realpath { path } => fs::canonicalize(p(&path)).map_or_else(
            |e| errno(&e),
            |t| Response::Path(t.into_os_string().into_vec()),
        ),
        Request::StatFs { path } => statfs(&path).map_or_else(|e| errno(&e), Response::StatFs),
        Request::Access { path, mode } => done(access(&path, mode)),
        Request::RemoveTemp { path } => done(remove_temp(&path)),
        Request::Land { from, to } => done(land(&from, &to)),
        Request::Mknod { path, mode, rdev } => done(mknod(&path, mode, rdev)),
        Request::ReadAt { path, offset, len } => match read_at(&path, offset, len) {
            Ok(b) => Response::Bytes(b),
            Err(e) => errno(&e),
        },
        Request::WriteAt {
            path,
            offset,
            data,
            append,
        } => done(write_at(&path, offset, &data, append)),
        Request::Truncate { path, len } => {
            done(open_regular(&path, false, false).and_then(|f| f.set_len(len)))
        }
        Request::Fsync { path, data_only } => done(fsync(&path, data_only)),
        Request::Sample { path } => match sample(&path) {
            Ok((raw, packed)) => Response::Sampled { raw, packed },
            Err(e) => errno(&e),
        },
        _ => Response::Error {
            errno: libc::EPROTO,
        },
    }
}

/// Opens an existing regular file by path (symlinks followed inside the container) for reading
/// or writing, without blocking on a fifo that took its place: a directory is `EISDIR`,
/// anything else but a regular file `EINVAL`.
fn open_regular(path: &[u8], read: bool, append: bool) -> io::Result<File> {
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    if append {
        flags |= libc::O_APPEND;
    }
    let f = OpenOptions::new()
        .read(read)
        .write(!read)
        .custom_flags(flags)
        .open(p(path))?;
    let md = f.metadata()?;
    if md.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    if !md.is_file() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(f)
}

/// Up to `len` bytes (at most one chunk) at `offset`: fewer only at the end of the file.
fn read_at(path: &[u8], offset: u64, len: u32) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let f = open_regular(path, true, false)?;
    let mut buf = vec![0u8; (len as usize).min(CHUNK)];
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], offset.saturating_add(n as u64)) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(buf)
}

/// Writes all of `data` into an existing regular file in place, at `offset` or at its end.
fn write_at(path: &[u8], offset: u64, data: &[u8], append: bool) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut f = open_regular(path, false, append)?;
    if append {
        f.write_all(data)
    } else {
        f.write_all_at(data, offset)
    }
}

fn fsync(path: &[u8], data_only: bool) -> io::Result<()> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(p(path))?;
    if data_only {
        f.sync_data()
    } else {
        f.sync_all()
    }
}

/// Removes a temporary left by a failed copy: only a name that is one of ours.
fn remove_temp(path: &[u8]) -> io::Result<()> {
    let name = p(path).file_name().map(OsStr::as_bytes).unwrap_or_default();
    if !is_temp_name(name) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // Neither follows a symlink: at the name itself, nor inside the tree.
    if fs::symlink_metadata(p(path))?.is_dir() {
        fs::remove_dir_all(p(path))
    } else {
        fs::remove_file(p(path))
    }
}

/// Renames one of our temporaries onto a free name (never over what is there).
fn land(from: &[u8], to: &[u8]) -> io::Result<()> {
    let name = p(from).file_name().map(OsStr::as_bytes).unwrap_or_default();
    if !is_temp_name(name) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    rename_noreplace(p(from), p(to))
}

/// A temporary's name: hidden, with dockerbox's marker.
pub fn is_temp_name(name: &[u8]) -> bool {
    name.starts_with(b".") && name.windows(5).any(|w| w == b".dbx-")
}

fn mkdir(path: &[u8], mode: u32) -> io::Result<()> {
    fs::DirBuilder::new().mode(mode).create(p(path))?;
    // The umask may have taken bits the caller asked for.
    fs::set_permissions(p(path), fs::Permissions::from_mode(mode))
}

/// A fifo, socket or device node; never a regular file or directory (those have their own
/// requests, which write them safely).
fn mknod(path: &[u8], mode: u32, rdev: u64) -> io::Result<()> {
    let kind = mode & libc::S_IFMT;
    if ![libc::S_IFIFO, libc::S_IFSOCK, libc::S_IFCHR, libc::S_IFBLK].contains(&kind) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let c = cstr(path)?;
    // SAFETY: a valid C string.
    if unsafe { libc::mknod(c.as_ptr(), mode as libc::mode_t, rdev as libc::dev_t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // The umask may have taken bits the caller asked for (chmod(2) opens nothing: a fifo
    // does not block it).
    fs::set_permissions(p(path), fs::Permissions::from_mode(mode & 0o7777))
}

fn utimes(path: &[u8], atime: (i64, u32), mtime: (i64, u32), follow: bool) -> io::Result<()> {
    let c = cstr(path)?;
    let ts = [
        libc::timespec {
            tv_sec: atime.0 as libc::time_t,
            tv_nsec: atime.1 as _,
        },
        libc::timespec {
            tv_sec: mtime.0 as libc::time_t,
            tv_nsec: mtime.1 as _,
        },
    ];
    let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
    // SAFETY: a valid C string and two timespecs.
    let r = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), ts.as_ptr(), flags) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn access(path: &[u8], mode: u32) -> io::Result<()> {
    let c = cstr(path)?;
    // SAFETY: a valid C string.
    if unsafe { libc::access(c.as_ptr(), mode as libc::c_int) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn statfs(path: &[u8]) -> io::Result<StatFs> {
    let c = cstr(path)?;
    // SAFETY: statvfs only writes into the struct we pass.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(StatFs {
        bsize: s.f_frsize as u64,
        blocks: s.f_blocks as u64,
        bfree: s.f_bfree as u64,
        bavail: s.f_bavail as u64,
        files: s.f_files as u64,
        ffree: s.f_ffree as u64,
        namelen: s.f_namemax as u64,
    })
}

/// Lists a directory with every entry's attributes, in frames of bounded size.
pub fn read_dir(id: u32, path: &[u8], out: &Out) {
    let rd = match fs::read_dir(p(path)) {
        Ok(rd) => rd,
        Err(e) => return out.send(id, &errno(&e)),
    };
    let mut batch = Vec::new();
    let mut bytes = 0;
    for de in rd {
        let de = match de {
            Ok(de) => de,
            Err(e) => return out.send(id, &errno(&e)),
        };
        let full = de.path();
        let Ok(md) = fs::symlink_metadata(&full) else {
            continue;
        }; // gone meanwhile
        let link = if md.file_type().is_symlink() {
            fs::read_link(&full)
                .ok()
                .map(|t| t.into_os_string().into_vec())
        } else {
            None
        };
        let name = de.file_name().into_vec();
        bytes += name.len() + link.as_ref().map_or(0, Vec::len) + 80;
        batch.push(DirEntry {
            name,
            attr: attr(&md),
            link,
        });
        if bytes > 256 * 1024 {
            out.send(
                id,
                &Response::Entries {
                    entries: std::mem::take(&mut batch),
                    done: false,
                },
            );
            bytes = 0;
        }
    }
    out.send(
        id,
        &Response::Entries {
            entries: batch,
            done: true,
        },
    );
}

/// Streams a file in `CHUNK`s, one chunk per unit of credit.
pub fn stream_file(id: u32, path: &[u8], credit: &Credit, out: &Out) {
    // Non-blocking, so opening a FIFO does not wait for a writer where a cancel cannot reach.
    let mut f = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(p(path))
    {
        Ok(f) => f,
        Err(e) => return out.send(id, &errno(&e)),
    };
    match f.metadata() {
        Ok(m) if m.is_dir() => {
            return out.send(
                id,
                &Response::Error {
                    errno: libc::EISDIR,
                },
            )
        }
        Ok(m) if !m.is_file() => return stream_waiting(id, &mut f, credit, out),
        Err(e) => return out.send(id, &errno(&e)),
        Ok(_) => {
            if let Err(e) = set_blocking(&f) {
                return out.send(id, &errno(&e));
            }
        }
    }
    // Each chunk is read straight into its frame: header first, then the data, one write.
    let mut frame = vec![0u8; DATA_HEADER + CHUNK];
    let packing = PACKING.load(Ordering::Relaxed);
    let (mut sampler, mut packed) = (Sampler::default(), Vec::new());
    loop {
        if !credit.take() {
            return out.send(
                id,
                &Response::Error {
                    errno: libc::ECANCELED,
                },
            );
        }
        let n = match read_full(&mut f, &mut frame[DATA_HEADER..]) {
            Ok(n) => n,
            Err(e) => return out.send(id, &errno(&e)),
        };
        if n == 0 {
            return out.send(id, &Response::Eof);
        }
        if packing && sampler.pack(&frame[DATA_HEADER..DATA_HEADER + n], &mut packed) {
            let data = std::mem::take(&mut packed);
            let resp = Response::Packed {
                raw_len: n as u32,
                data,
            };
            out.send(id, &resp);
            if let Response::Packed { data, .. } = resp {
                packed = data;
            }
        } else {
            data_header(&mut frame[..DATA_HEADER], id, n);
            out.send_raw(&frame[..DATA_HEADER + n]);
        }
        if n < CHUNK {
            return out.send(id, &Response::Eof);
        }
    }
}

/// Whether this connection took a codec (`Codecs`): a read's chunks then go packed where
/// they shrink, and writes may come packed.
pub static PACKING: AtomicBool = AtomicBool::new(false);

/// How well a regular file packs: up to two chunks (its start and its middle) packed.
fn sample(path: &[u8]) -> io::Result<(u64, u64)> {
    use std::os::unix::fs::FileExt;
    let f = open_regular(path, true, false)?;
    let size = f.metadata()?.len();
    let mut buf = vec![0u8; CHUNK];
    let mut out = Vec::new();
    let (mut raw, mut packed) = (0u64, 0u64);
    for at in [0, (size / 2).saturating_sub(CHUNK as u64 / 2)] {
        let n = f.read_at(&mut buf, at)?;
        raw += n as u64;
        packed += if dockerbox_proto::pack::pack(&buf[..n], &mut out) {
            out.len()
        } else {
            n
        } as u64;
        if size <= CHUNK as u64 {
            break;
        }
    }
    Ok((raw, packed))
}

/// Clears `O_NONBLOCK` (a regular file reads the same either way; this keeps it plain).
fn set_blocking(f: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Streams a file that may wait in the kernel (FIFO, terminal, socket, device): each read is
/// sent as it comes, and the wait is a `poll` on the file and the cancel pipe together, so a
/// cancelled read closes the file at once instead of taking the next writer's data.
fn stream_waiting(id: u32, f: &mut File, credit: &Credit, out: &Out) {
    use std::os::fd::AsRawFd;
    let cancelled = || {
        out.send(
            id,
            &Response::Error {
                errno: libc::ECANCELED,
            },
        )
    };
    let mut frame = vec![0u8; DATA_HEADER + CHUNK];
    loop {
        if !credit.take() {
            return cancelled();
        }
        loop {
            let mut fds = [
                libc::pollfd {
                    fd: f.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: credit.wake().map_or(-1, |w| w.as_raw_fd()),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: fds is a valid array of two pollfd for the duration of the call.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return out.send(id, &errno(&e));
            }
            if fds[1].revents != 0 {
                return cancelled();
            }
            match f.read(&mut frame[DATA_HEADER..]) {
                Ok(0) => return out.send(id, &Response::Eof),
                Ok(n) => {
                    data_header(&mut frame[..DATA_HEADER], id, n);
                    out.send_raw(&frame[..DATA_HEADER + n]);
                    break;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return out.send(id, &errno(&e)),
            }
        }
    }
}

/// Bytes before the data in a `Data` frame: length, id, kind, data length.
const DATA_HEADER: usize = 13;

/// Writes the header of a `Data` frame carrying `n` bytes, as `encode_response` would.
fn data_header(h: &mut [u8], id: u32, n: usize) {
    h[0..4].copy_from_slice(&((9 + n) as u32).to_le_bytes());
    h[4..8].copy_from_slice(&id.to_le_bytes());
    h[8] = 106; // Response::Data
    h[9..13].copy_from_slice(&(n as u32).to_le_bytes());
}

/// Fills `buf` unless the file ends first.
fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A write in progress. The overwrite rule (as GNU cp and sh): an existing file (symlinks
/// followed, inside the container's root, which is ours) is written in place, truncated or
/// appended to, so its inode, owner, mode and links stay; a new file goes to `tmp` and is renamed
/// into place on commit. A write whose open failed is kept too (without a file), so its close
/// reports why.
struct OpenWrite {
    file: Option<File>,
    /// The temporary name of a new file; `None` when writing in place.
    tmp: Option<PathBuf>,
    dest: PathBuf,
    mode: u32,
    failed: Option<i32>,
    /// A new file, invisible until its rename: its data is gathered into big writes. Written in
    /// place (a log appended to, a device), each chunk goes at once, seen as it comes.
    gather: bool,
    /// Data not yet written.
    pending: Vec<u8>,
    /// The thread writing a big file's full buffers, once there was one.
    writer: Option<Writer>,
}

/// Bytes gathered before one `write(2)` into a new file. On fuse-overlayfs storage each
/// write is a round trip to the container's one-threaded daemon: measured there (load 17),
/// 256 MiB took 10 s in 32 KiB writes (what the engine's own untar does), 3.3 s in 128 KiB and
/// 2.3 s in 1 MiB ones.
const WRITE_BUF: usize = 1 << 20;

/// Full buffers in flight to a [`Writer`] (each [`WRITE_BUF`]): bounded, so memory stays flat.
const WRITE_QUEUE: usize = 3;

/// A thread writing one file's full buffers in order, so the main thread goes on taking stdin
/// while the filesystem is busy (the stream into the agent never stalls on it). Buffers come
/// back for reuse; the first failure stops it and is kept for the next `data` or the close.
struct Writer {
    tx: Option<mpsc::SyncSender<Vec<u8>>>,
    back: mpsc::Receiver<Vec<u8>>,
    failed: Arc<AtomicI32>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(file: File) -> Writer {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(WRITE_QUEUE);
        let (back_tx, back) = mpsc::channel();
        let failed = Arc::new(AtomicI32::new(0));
        let seen = failed.clone();
        let thread = std::thread::spawn(move || {
            let mut file = file;
            for mut buf in rx {
                if seen.load(Ordering::Relaxed) == 0 {
                    if let Err(e) = file.write_all(&buf) {
                        seen.store(e.raw_os_error().unwrap_or(libc::EIO), Ordering::Relaxed);
                    }
                }
                buf.clear();
                let _ = back_tx.send(buf);
            }
        });
        Writer {
            tx: Some(tx),
            back,
            failed,
            thread: Some(thread),
        }
    }

    fn failed(&self) -> Option<i32> {
        Some(self.failed.load(Ordering::Relaxed)).filter(|&e| e != 0)
    }

    /// Queues a full buffer; gives an empty one back (reused when the thread returned one).
    fn send(&mut self, buf: Vec<u8>) -> Vec<u8> {
        if let Some(tx) = &self.tx {
            if tx.send(buf).is_err() {
                self.failed.store(libc::EIO, Ordering::Relaxed);
            }
        }
        self.back
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(WRITE_BUF + CHUNK))
    }

    /// Waits until every queued buffer is written; the first failure, if any.
    fn finish(&mut self) -> Option<i32> {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                self.failed.store(libc::EIO, Ordering::Relaxed);
            }
        }
        self.failed()
    }
}

impl OpenWrite {
    /// Writes what is pending and waits for the writer thread: afterwards the file holds every
    /// byte taken, or `failed` says why not.
    fn flush(&mut self) {
        if let Some(w) = &mut self.writer {
            if let Some(e) = w.finish() {
                self.failed.get_or_insert(e);
            }
        }
        self.writer = None;
        let pending = std::mem::take(&mut self.pending);
        if let (None, Some(f), false) = (self.failed, self.file.as_mut(), pending.is_empty()) {
            if let Err(e) = f.write_all(&pending) {
                self.failed = Some(e.raw_os_error().unwrap_or(libc::EIO));
            }
        }
    }
}

/// The open writes by request id, and a buffer to unpack packed chunks into.
#[derive(Default)]
pub struct Writes(HashMap<u32, OpenWrite>, Vec<u8>);

/// Whether `tmp` may name a temporary: one hidden component, so a request can never make the
/// agent create (or later remove) anything but a new name beside the destination.
fn valid_temp(tmp: &[u8]) -> bool {
    is_temp_name(tmp) && !tmp.contains(&b'/') && !tmp.contains(&0)
}

impl OpenWrite {
    fn open(&mut self, id: u32, tmp: &[u8], append: bool) -> io::Result<File> {
        let einval = || io::Error::from_raw_os_error(libc::EINVAL);
        let (Some(dir), Some(name)) = (self.dest.parent(), self.dest.file_name()) else {
            return Err(einval());
        };
        let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
        if append {
            flags |= libc::O_APPEND;
        }
        match OpenOptions::new()
            .write(true)
            .custom_flags(flags)
            .open(&self.dest)
        {
            Ok(f) => {
                in_place(&f, append)?;
                return Ok(f);
            }
            // A dangling symlink is never replaced by a new file.
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    && fs::symlink_metadata(&self.dest).is_ok() =>
            {
                return Err(e)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let tmp_name = if tmp.is_empty() {
            let mut t = b".".to_vec();
            // Short enough for NAME_MAX whatever the destination's length.
            t.extend_from_slice(&name.as_bytes()[..name.len().min(200)]);
            t.extend_from_slice(format!(".dbx-{}-{id}", std::process::id()).as_bytes());
            t
        } else if valid_temp(tmp) {
            tmp.to_vec()
        } else {
            return Err(einval());
        };
        let tmp = dir.join(OsStr::from_bytes(&tmp_name));
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        self.tmp = Some(tmp);
        Ok(f)
    }
}

/// Makes an existing file ready to be written in place: a regular file is truncated (unless
/// appended to), a character device is written as it is, anything else is refused.
fn in_place(f: &File, append: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileTypeExt;
    let ft = f.metadata()?.file_type();
    if ft.is_file() {
        if !append {
            f.set_len(0)?;
        }
    } else if !ft.is_char_device() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: fcntl on a descriptor we own.
    let fl = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
    if fl >= 0 {
        // SAFETY: as above.
        unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK) };
    }
    Ok(())
}

/// `rename(2)` that never replaces what appeared at `to` since the name was found free.
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    let (f, t) = (
        cstr(from.as_os_str().as_bytes())?,
        cstr(to.as_os_str().as_bytes())?,
    );
    // SAFETY: valid C strings.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL | libc::ENOSYS) => fs::rename(from, to),
        _ => Err(e),
    }
}

impl Writes {
    /// Starts a write with a temporary name of the agent's choosing (the original request).
    pub fn open(&mut self, id: u32, path: &[u8], mode: u32) -> Option<Response> {
        self.begin(id, path, b"", mode, false)
    }

    /// Opens `path` for writing as the overwrite rule says (in place, or the temporary `tmp`
    /// beside it, a single hidden name; empty: one of ours); answers only on failure.
    pub fn begin(
        &mut self,
        id: u32,
        path: &[u8],
        tmp: &[u8],
        mode: u32,
        append: bool,
    ) -> Option<Response> {
        let mut w = OpenWrite {
            file: None,
            tmp: None,
            dest: p(path).to_path_buf(),
            mode,
            failed: None,
            gather: false,
            pending: Vec::new(),
            writer: None,
        };
        let opened = w.open(id, tmp, append);
        let answer = match opened {
            Ok(f) => {
                w.gather = w.tmp.is_some();
                w.file = Some(f);
                None
            }
            Err(e) => {
                w.failed = Some(e.raw_os_error().unwrap_or(libc::EIO));
                Some(errno(&e))
            }
        };
        self.0.insert(id, w);
        answer
    }

    /// The open file of write `id` (for `FillFrom`), if its open succeeded.
    pub fn file_of(&mut self, id: u32) -> io::Result<File> {
        let w = self
            .0
            .get_mut(&id)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
        w.flush();
        if let Some(e) = w.failed {
            return Err(io::Error::from_raw_os_error(e));
        }
        w.file
            .as_ref()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?
            .try_clone()
    }

    /// Appends data; answers only the first failure.
    pub fn data(&mut self, id: u32, data: &[u8]) -> Option<Response> {
        let w = self.0.get_mut(&id)?;
        if w.failed.is_some() {
            return None;
        }
        if let Some(e) = w.writer.as_ref().and_then(Writer::failed) {
            w.failed = Some(e);
            return Some(Response::Error { errno: e });
        }
        let file = w.file.as_mut()?;
        if !w.gather {
            return match file.write_all(data) {
                Ok(()) => None,
                Err(e) => {
                    w.failed = Some(e.raw_os_error().unwrap_or(libc::EIO));
                    Some(errno(&e))
                }
            };
        }
        w.pending.extend_from_slice(data);
        if w.pending.len() >= WRITE_BUF {
            let writer = match &mut w.writer {
                Some(t) => t,
                None => match file.try_clone() {
                    Ok(f) => w.writer.insert(Writer::start(f)),
                    Err(e) => {
                        w.failed = Some(e.raw_os_error().unwrap_or(libc::EIO));
                        return Some(errno(&e));
                    }
                },
            };
            let full = std::mem::take(&mut w.pending);
            w.pending = writer.send(full);
        }
        None
    }

    /// Appends a packed chunk, unpacked; a chunk that does not unpack fails the write (EPROTO).
    pub fn packed(&mut self, id: u32, raw_len: u32, data: &[u8]) -> Option<Response> {
        let mut raw = std::mem::take(&mut self.1);
        raw.clear();
        let answer = match dockerbox_proto::pack::unpack(data, raw_len, &mut raw) {
            Ok(()) => self.data(id, &raw),
            Err(_) => {
                let w = self.0.get_mut(&id)?;
                if w.failed.is_some() {
                    return None;
                }
                w.failed = Some(libc::EPROTO);
                Some(Response::Error {
                    errno: libc::EPROTO,
                })
            }
        };
        self.1 = raw;
        answer
    }

    /// Lands the file (mode, fsync, rename) or removes it; always answers `Closed`. A file
    /// written in place only gets its mode (when that changes), and nothing is removed.
    pub fn close(&mut self, id: u32, commit: bool) -> Response {
        let Some(mut w) = self.0.remove(&id) else {
            return Response::Closed { errno: libc::EBADF };
        };
        if !commit {
            w.pending.clear(); // thrown away: nothing more need be written
        }
        w.flush();
        let Some(file) = w.file else {
            return Response::Closed {
                errno: w.failed.unwrap_or(libc::EBADF),
            };
        };
        let Some(tmp) = w.tmp else {
            let landed = if commit && w.failed.is_none() {
                set_mode_if_changed(&file, w.mode)
            } else {
                Ok(())
            };
            return Response::Closed {
                errno: w
                    .failed
                    .or(landed.err().map(|e| e.raw_os_error().unwrap_or(libc::EIO)))
                    .unwrap_or(0),
            };
        };
        if !commit || w.failed.is_some() {
            let _ = fs::remove_file(&tmp);
            return Response::Closed {
                errno: w.failed.unwrap_or(0),
            };
        }
        let landed = file
            .set_permissions(fs::Permissions::from_mode(w.mode))
            .and_then(|()| file.sync_all())
            .and_then(|()| rename_noreplace(&tmp, &w.dest));
        match landed {
            Ok(()) => Response::Closed { errno: 0 },
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Response::Closed {
                    errno: e.raw_os_error().unwrap_or(libc::EIO),
                }
            }
        }
    }

    /// Removes every temporary file: dockerbox went away mid-write.
    pub fn abandon_all(&mut self) {
        for (_, mut w) in self.0.drain() {
            w.pending.clear();
            w.flush();
            if let (Some(_), Some(tmp)) = (w.file, w.tmp) {
                let _ = fs::remove_file(&tmp);
            }
        }
    }
}

/// Gives a file written in place the mode asked for, only when that changes it: changing
/// nothing must not need ownership (a group-writable file of another user).
fn set_mode_if_changed(f: &File, mode: u32) -> io::Result<()> {
    if f.metadata()?.mode() & 0o7777 == mode & 0o7777 {
        return Ok(());
    }
    f.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_lands_whole_or_not_at_all() {
        let dir = tempfile_dir("new");
        let dest = dir.join("f");
        let mut w = Writes::default();
        assert_eq!(w.open(1, dest.as_os_str().as_bytes(), 0o751), None);
        assert!(w.data(1, b"hello ").is_none());
        assert!(w.data(1, b"world").is_none());
        assert!(!dest.exists(), "nothing at the name before commit");
        assert_eq!(w.close(1, true), Response::Closed { errno: 0 });
        assert_eq!(fs::read(&dest).unwrap(), b"hello world");
        assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o7777, 0o751);

        let other = dir.join("g");
        let b = other.as_os_str().as_bytes();
        assert_eq!(w.begin(2, b, b".g.dbx-test-2", 0o644, false), None);
        assert!(w.data(2, b"partial").is_none());
        assert_eq!(w.close(2, false), Response::Closed { errno: 0 });
        assert!(!other.exists(), "an abandoned new file leaves nothing");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temporary left");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_big_file_lands_byte_for_byte_through_the_writer_thread() {
        let dir = tempfile_dir("big");
        let dest = dir.join("f");
        let data: Vec<u8> = (0..(5 * WRITE_BUF + 12_345) as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut w = Writes::default();
        assert_eq!(w.open(1, dest.as_os_str().as_bytes(), 0o600), None);
        // Chunks as they come off the wire, of uneven sizes.
        for piece in data.chunks(CHUNK - 7) {
            assert!(w.data(1, piece).is_none());
        }
        assert!(w.0[&1].writer.is_some(), "full buffers go to the thread");
        assert!(!dest.exists(), "nothing at the name before commit");
        assert_eq!(w.close(1, true), Response::Closed { errno: 0 });
        assert!(fs::read(&dest).unwrap() == data, "the bytes, in order");

        // In place, each chunk at once (an appended log is seen as it grows); thrown away
        // midway, a new file's temporary goes.
        assert_eq!(w.open(2, dest.as_os_str().as_bytes(), 0o600), None);
        for piece in data[..3 * WRITE_BUF].chunks(CHUNK) {
            assert!(w.data(2, piece).is_none());
            assert!(w.0[&2].pending.is_empty());
        }
        assert_eq!(w.close(2, true), Response::Closed { errno: 0 });
        assert!(fs::read(&dest).unwrap() == data[..3 * WRITE_BUF]);
        let g = dir.join("g");
        assert_eq!(w.open(3, g.as_os_str().as_bytes(), 0o600), None);
        for piece in data.chunks(CHUNK) {
            assert!(w.data(3, piece).is_none());
        }
        assert_eq!(w.close(3, false), Response::Closed { errno: 0 });
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temporary left");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn packed_chunks_land_unpacked_and_bad_ones_fail_the_write() {
        let dir = tempfile_dir("packed");
        let raw: Vec<u8> = (0..100_000u32)
            .flat_map(|i| format!("line {}\n", i % 1000).into_bytes())
            .take(CHUNK)
            .collect();
        let mut packed = Vec::new();
        assert!(dockerbox_proto::pack::pack(&raw, &mut packed));
        let dest = dir.join("f");
        let mut w = Writes::default();
        assert_eq!(w.open(1, dest.as_os_str().as_bytes(), 0o644), None);
        assert!(w.packed(1, raw.len() as u32, &packed).is_none());
        assert!(w.data(1, b"tail").is_none());
        assert_eq!(w.close(1, true), Response::Closed { errno: 0 });
        let mut want = raw.clone();
        want.extend_from_slice(b"tail");
        assert_eq!(fs::read(&dest).unwrap(), want);
        let (tried, shrunk) = sample(dest.as_os_str().as_bytes()).unwrap();
        assert!(tried > 0 && shrunk < tried / 3, "{shrunk} of {tried}");

        let bad = dir.join("g");
        assert_eq!(w.open(2, bad.as_os_str().as_bytes(), 0o644), None);
        let answer = w.packed(2, raw.len() as u32 + 1, &packed);
        assert_eq!(
            answer,
            Some(Response::Error {
                errno: libc::EPROTO
            })
        );
        assert_eq!(
            w.close(2, true),
            Response::Closed {
                errno: libc::EPROTO
            }
        );
        assert!(!bad.exists());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temporary left");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_existing_file_is_written_in_place() {
        let dir = tempfile_dir("inplace");
        let dest = dir.join("f");
        fs::write(&dest, b"old content").unwrap();
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o640)).unwrap();
        fs::hard_link(&dest, dir.join("f2")).unwrap();
        std::os::unix::fs::symlink("f", dir.join("link")).unwrap();
        std::os::unix::fs::symlink("nowhere", dir.join("dang")).unwrap();
        let ino = fs::metadata(&dest).unwrap().ino();
        let mut w = Writes::default();
        let b = |n: &str| dir.join(n).into_os_string().into_vec();
        // Through the symlink, as cp and sh write.
        assert_eq!(w.begin(1, &b("link"), b".link.dbx-t-1", 0o640, false), None);
        assert!(w.data(1, b"new").is_none());
        assert_eq!(w.close(1, true), Response::Closed { errno: 0 });
        assert_eq!(fs::read(dir.join("f2")).unwrap(), b"new");
        assert_eq!(w.begin(2, &b("f"), b".f.dbx-t-2", 0o640, true), None);
        assert!(w.data(2, b"+more").is_none());
        assert_eq!(w.close(2, true), Response::Closed { errno: 0 });
        let md = fs::metadata(&dest).unwrap();
        assert_eq!((md.ino(), md.nlink(), md.mode() & 0o7777), (ino, 2, 0o640));
        assert_eq!(fs::read(&dest).unwrap(), b"new+more");
        assert!(fs::symlink_metadata(dir.join("link"))
            .unwrap()
            .file_type()
            .is_symlink());
        // A dangling link is not replaced; a temporary name must be one hidden name of ours.
        assert_eq!(
            w.begin(3, &b("dang"), b".dang.dbx-t-3", 0o644, false),
            Some(Response::Error {
                errno: libc::ENOENT
            })
        );
        assert_eq!(
            w.close(3, true),
            Response::Closed {
                errno: libc::ENOENT
            }
        );
        for bad in [&b"../x.dbx-1"[..], b".a/.dbx-1", b"plain.dbx-1", b".x"] {
            assert!(
                w.begin(4, &b("new"), bad, 0o644, false).is_some(),
                "{bad:?}"
            );
            w.close(4, false);
        }
        assert_eq!(
            simple(Request::RemoveTemp { path: b("f") }),
            Response::Error {
                errno: libc::EINVAL
            },
            "only a temporary's name is removed"
        );
        fs::create_dir_all(dir.join(".t.dbx-9/sub")).unwrap();
        assert_eq!(
            simple(Request::RemoveTemp {
                path: b(".t.dbx-9")
            }),
            Response::Ok
        );
        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["dang", "f", "f2", "link"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_data_header_matches_the_codec() {
        let mut want = Vec::new();
        dockerbox_proto::encode_response(7, &Response::Data(vec![1, 2, 3]), &mut want);
        let mut h = [0u8; DATA_HEADER];
        data_header(&mut h, 7, 3);
        assert_eq!(&want[..DATA_HEADER], &h);
    }

    #[test]
    fn simple_ops_report_errno() {
        assert_eq!(
            simple(Request::Lstat {
                path: b"/nonexistent-dbx".to_vec()
            }),
            Response::Error {
                errno: libc::ENOENT
            }
        );
        assert!(
            matches!(simple(Request::Stat { path: b"/".to_vec() }), Response::Attr(a) if a.mode & 0o170000 == 0o040000)
        );
        assert_eq!(
            simple(Request::Realpath {
                path: b"/../..//tmp/.".to_vec()
            }),
            Response::Path(b"/tmp".to_vec())
        );
    }

    #[test]
    fn reads_and_writes_at_an_offset_in_place() {
        let dir = tempfile_dir("offset");
        let f = dir.join("f");
        fs::write(&f, b"0123456789").unwrap();
        fs::hard_link(&f, dir.join("f2")).unwrap();
        let ino = fs::metadata(&f).unwrap().ino();
        let b = |n: &str| dir.join(n).into_os_string().into_vec();
        let read = |offset, len| {
            simple(Request::ReadAt {
                path: b("f"),
                offset,
                len,
            })
        };
        assert_eq!(read(3, 4), Response::Bytes(b"3456".to_vec()));
        assert_eq!(
            read(8, 100),
            Response::Bytes(b"89".to_vec()),
            "short at the end"
        );
        assert_eq!(
            read(50, 4),
            Response::Bytes(Vec::new()),
            "nothing past the end"
        );
        assert!(
            matches!(read(0, u32::MAX), Response::Bytes(v) if v.len() == 10),
            "never more than a chunk is allocated"
        );
        let write = |offset, data: &[u8], append| {
            simple(Request::WriteAt {
                path: b("f"),
                offset,
                data: data.to_vec(),
                append,
            })
        };
        assert_eq!(write(2, b"ab", false), Response::Ok);
        assert_eq!(
            write(0, b"END", true),
            Response::Ok,
            "append ignores the offset"
        );
        assert_eq!(write(15, b"!", false), Response::Ok, "a hole past the end");
        let mut want = b"01ab456789END".to_vec();
        want.extend_from_slice(&[0, 0, b'!']);
        assert_eq!(fs::read(dir.join("f2")).unwrap(), want, "the same inode");
        assert_eq!(
            simple(Request::Truncate {
                path: b("f"),
                len: 4
            }),
            Response::Ok
        );
        assert_eq!(fs::read(&f).unwrap(), b"01ab");
        let md = fs::metadata(&f).unwrap();
        assert_eq!((md.ino(), md.nlink()), (ino, 2));
        assert_eq!(
            simple(Request::Fsync {
                path: b("f"),
                data_only: false
            }),
            Response::Ok
        );
        assert_eq!(
            simple(Request::Fsync {
                path: dir.clone().into_os_string().into_vec(),
                data_only: true
            }),
            Response::Ok,
            "a directory is fsynced too"
        );
        // No file is made, and a directory is neither read nor written as one.
        let missing = simple(Request::WriteAt {
            path: b("new"),
            offset: 0,
            data: b"x".to_vec(),
            append: false,
        });
        assert_eq!(
            missing,
            Response::Error {
                errno: libc::ENOENT
            }
        );
        assert!(!dir.join("new").exists());
        let d = dir.clone().into_os_string().into_vec();
        assert_eq!(
            simple(Request::ReadAt {
                path: d.clone(),
                offset: 0,
                len: 1
            }),
            Response::Error {
                errno: libc::EISDIR
            }
        );
        assert!(matches!(
            simple(Request::Truncate { path: d, len: 0 }),
            Response::Error { .. }
        ));
        // A fifo without a writer is refused at once, never waited on.
        let fifo = dir.join("fifo");
        let c = CString::new(fifo.as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert_eq!(
            simple(Request::ReadAt {
                path: b("fifo"),
                offset: 0,
                len: 1
            }),
            Response::Error {
                errno: libc::EINVAL
            }
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir(test: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dbx-agent-test-{test}-{}", std::process::id()));
        fs::create_dir_all(&d).unwrap();
        d
    }
}
