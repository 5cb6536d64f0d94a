//! The file operations, on the container's own filesystem (the agent's root is the container's).

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

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
        _ => Response::Error {
            errno: libc::EPROTO,
        },
    }
}

fn mkdir(path: &[u8], mode: u32) -> io::Result<()> {
    fs::DirBuilder::new().mode(mode).create(p(path))?;
    // The umask may have taken bits the caller asked for.
    fs::set_permissions(p(path), fs::Permissions::from_mode(mode))
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
        data_header(&mut frame[..DATA_HEADER], id, n);
        out.send_raw(&frame[..DATA_HEADER + n]);
        if n < CHUNK {
            return out.send(id, &Response::Eof);
        }
    }
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

/// A write in progress: data goes to `tmp`, renamed over `dest` on commit. A write whose open
/// failed is kept too (without a file), so its close reports why.
struct OpenWrite {
    file: Option<File>,
    tmp: PathBuf,
    dest: PathBuf,
    mode: u32,
    failed: Option<i32>,
}

/// The open writes by request id.
#[derive(Default)]
pub struct Writes(HashMap<u32, OpenWrite>);

impl Writes {
    /// Creates the temporary file beside `path`; answers only on failure.
    pub fn open(&mut self, id: u32, path: &[u8], mode: u32) -> Option<Response> {
        let dest = p(path).to_path_buf();
        let mut w = OpenWrite {
            file: None,
            tmp: PathBuf::new(),
            dest,
            mode,
            failed: None,
        };
        let (Some(dir), Some(name)) = (w.dest.parent(), w.dest.file_name()) else {
            w.failed = Some(libc::EINVAL);
            self.0.insert(id, w);
            return Some(Response::Error {
                errno: libc::EINVAL,
            });
        };
        let mut tmp_name = b".".to_vec();
        // Keep the temporary name short enough for NAME_MAX whatever the destination's length.
        tmp_name.extend_from_slice(&name.as_bytes()[..name.len().min(200)]);
        tmp_name.extend_from_slice(format!(".dbx-{}-{id}", std::process::id()).as_bytes());
        w.tmp = dir.join(OsStr::from_bytes(&tmp_name));
        let opened = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&w.tmp);
        let answer = match opened {
            Ok(f) => {
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

    /// Appends data; answers only the first failure.
    pub fn data(&mut self, id: u32, data: &[u8]) -> Option<Response> {
        let w = self.0.get_mut(&id)?;
        if w.failed.is_some() {
            return None;
        }
        let file = w.file.as_mut()?;
        match file.write_all(data) {
            Ok(()) => None,
            Err(e) => {
                w.failed = Some(e.raw_os_error().unwrap_or(libc::EIO));
                Some(errno(&e))
            }
        }
    }

    /// Lands the file (mode, fsync, rename) or removes it; always answers `Closed`.
    pub fn close(&mut self, id: u32, commit: bool) -> Response {
        let Some(w) = self.0.remove(&id) else {
            return Response::Closed { errno: libc::EBADF };
        };
        let Some(file) = w.file else {
            return Response::Closed {
                errno: w.failed.unwrap_or(libc::EBADF),
            };
        };
        if !commit || w.failed.is_some() {
            let _ = fs::remove_file(&w.tmp);
            return Response::Closed {
                errno: w.failed.unwrap_or(0),
            };
        }
        let landed = file
            .set_permissions(fs::Permissions::from_mode(w.mode))
            .and_then(|()| file.sync_all())
            .and_then(|()| fs::rename(&w.tmp, &w.dest));
        match landed {
            Ok(()) => Response::Closed { errno: 0 },
            Err(e) => {
                let _ = fs::remove_file(&w.tmp);
                Response::Closed {
                    errno: e.raw_os_error().unwrap_or(libc::EIO),
                }
            }
        }
    }

    /// Removes every temporary file: dockerbox went away mid-write.
    pub fn abandon_all(&mut self) {
        for (_, w) in self.0.drain() {
            if w.file.is_some() {
                let _ = fs::remove_file(&w.tmp);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_land_whole_or_not_at_all() {
        let dir = tempfile_dir();
        let dest = dir.join("f");
        let mut w = Writes::default();
        assert_eq!(w.open(1, dest.as_os_str().as_bytes(), 0o751), None);
        assert!(w.data(1, b"hello ").is_none());
        assert!(w.data(1, b"world").is_none());
        assert!(!dest.exists(), "nothing at the name before commit");
        assert_eq!(w.close(1, true), Response::Closed { errno: 0 });
        assert_eq!(fs::read(&dest).unwrap(), b"hello world");
        assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o7777, 0o751);

        assert_eq!(w.open(2, dest.as_os_str().as_bytes(), 0o644), None);
        assert!(w.data(2, b"partial").is_none());
        assert_eq!(w.close(2, false), Response::Closed { errno: 0 });
        assert_eq!(
            fs::read(&dest).unwrap(),
            b"hello world",
            "an abandoned write changes nothing"
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temporary left");
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

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("dbx-agent-test-{}", std::process::id()));
        fs::create_dir_all(&d).unwrap();
        d
    }
}
