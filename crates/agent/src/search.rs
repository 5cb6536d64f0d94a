//! `Search`: grep, find and du run here on the container's own files by
//! dockerbox-search, so only results cross the wire. Each frame but the last takes one chunk
//! of the request's credit, as a `Read`'s data does; a cancel (credit 0) stops the walk.

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use dockerbox_proto::{Response, Tool};
use dockerbox_search::local::{self, last_errno, stat_meta};
use dockerbox_search::walk::{Fs, Meta, Root};
use dockerbox_search::{du, find, grep, Note, Sink};

use crate::{Credit, Out};

/// Directory descriptors held open along the walk's current path: at most this many.
const HELD: usize = 64;

/// The container's filesystem, as the agent sees it. The walk goes depth first, so the
/// directories on its current path are held open and each entry is opened and `lstat`ed
/// relative to its directory: a path looked up from `/` every time costs one lookup per
/// component, and on a FUSE storage driver (fuse-overlayfs) each may be a round trip to its
/// daemon (measured: 0.15-2.7 ms for an absolute open, 12 µs relative).
#[derive(Default)]
struct Local {
    /// The directories last listed, outermost first, each with its path.
    dirs: Vec<(Vec<u8>, OwnedFd)>,
}

/// `path` as a C string (a path with a NUL cannot exist).
fn c(path: &[u8]) -> Result<CString, i32> {
    CString::new(path).map_err(|_| libc::ENOENT)
}

/// Whether `dir` is `p` or one of its ancestors.
fn holds(dir: &[u8], p: &[u8]) -> bool {
    p.starts_with(dir) && (dir.ends_with(b"/") || p.len() == dir.len() || p[dir.len()] == b'/')
}

impl Local {
    /// Where `path` can be reached relative to a held directory: its descriptor and the last
    /// component; else the whole path from the current directory. Directories the walk has
    /// left are closed first.
    fn at<'p>(&mut self, path: &'p [u8]) -> (RawFd, &'p [u8]) {
        while self.dirs.last().is_some_and(|(d, _)| !holds(d, path)) {
            self.dirs.pop();
        }
        if let Some(i) = path.iter().rposition(|&b| b == b'/') {
            let (parent, name) = (&path[..i.max(1)], &path[i + 1..]);
            let plain = !name.is_empty() && name != b"." && name != b"..";
            if let Some((_, fd)) = self.dirs.last().filter(|(d, _)| plain && d == parent) {
                return (fd.as_raw_fd(), name);
            }
        }
        (libc::AT_FDCWD, path)
    }

    fn stat_at(&mut self, path: &[u8], follow: bool) -> Result<libc::stat, i32> {
        let (fd, name) = self.at(path);
        let name = c(name)?;
        let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
        // SAFETY: an all-zero stat is a valid value for fstatat to overwrite.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fd is a held directory or AT_FDCWD, name a valid C string, st writable.
        if unsafe { libc::fstatat(fd, name.as_ptr(), &mut st, flags) } != 0 {
            return Err(last_errno());
        }
        Ok(st)
    }

    fn open_at(&mut self, path: &[u8], flags: i32) -> Result<OwnedFd, i32> {
        let (fd, name) = self.at(path);
        let name = c(name)?;
        // SAFETY: as in stat_at; the descriptor returned is ours.
        let r = unsafe { libc::openat(fd, name.as_ptr(), flags | libc::O_CLOEXEC) };
        if r < 0 {
            return Err(last_errno());
        }
        // SAFETY: r is a new descriptor nobody else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(r) })
    }

    /// A directory's entries; without `full`, only directories and entries of a kind the
    /// directory does not say are `lstat`ed (grep needs nothing else of the others).
    fn list(&mut self, path: &[u8], full: bool) -> Result<Vec<(Vec<u8>, Meta)>, i32> {
        let dir = self.open_at(path, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NONBLOCK)?;
        let v = local::list_dir(dir.as_fd(), full)?;
        if self.dirs.len() < HELD {
            self.dirs.push((path.to_vec(), dir));
        }
        Ok(v)
    }
}

impl Fs for Local {
    fn stat(&mut self, path: &[u8], follow: bool) -> Result<Meta, i32> {
        self.stat_at(path, follow).map(|st| stat_meta(&st))
    }

    fn read_dir(&mut self, path: &[u8]) -> Result<Vec<(Vec<u8>, Meta)>, i32> {
        self.list(path, true)
    }

    fn read_dir_kinds(&mut self, path: &[u8]) -> Result<Vec<(Vec<u8>, Meta)>, i32> {
        self.list(path, false)
    }

    fn open(&mut self, path: &[u8]) -> Result<Box<dyn Read + '_>, i32> {
        let fd = self.open_at(path, libc::O_RDONLY | libc::O_NOCTTY)?;
        Ok(Box::new(File::from(fd)))
    }
}

/// Frames to dockerbox under the request's credit.
struct Frames<'a> {
    id: u32,
    out: &'a Out,
    credit: &'a Credit,
}

impl Frames<'_> {
    fn send(&mut self, r: &Response) -> bool {
        if !self.credit.take() {
            return false;
        }
        self.out.send(self.id, r);
        true
    }
}

impl Sink for Frames<'_> {
    fn out(&mut self, bytes: &[u8], whole: bool) -> bool {
        self.send(&Response::Found {
            data: bytes.to_vec(),
            whole,
        })
    }
    fn error(&mut self, path: &[u8], errno: i32, dir: bool) -> bool {
        let path: &[u8] = if path.is_empty() { b"." } else { path };
        self.send(&Response::Problem {
            path: path.to_vec(),
            errno,
            dir,
        })
    }
    fn note(&mut self, path: &[u8], note: Note) -> bool {
        let path: &[u8] = if path.is_empty() { b"." } else { path };
        self.send(&Response::Notice {
            path: path.to_vec(),
            what: note as u8,
        })
    }
}

/// Runs one `Search` to its end (or its cancel) and answers `SearchDone`.
pub fn run(
    id: u32,
    tool: u8,
    args: &[Vec<u8>],
    roots: Vec<(Vec<u8>, Vec<u8>)>,
    credit: &Credit,
    out: &Out,
) {
    let roots: Vec<Root> = roots
        .into_iter()
        .map(|(path, display)| Root { path, display })
        .collect();
    let mut frames = Frames { id, out, credit };
    let (found, total) = match Tool::from_u8(tool) {
        Some(Tool::Grep) => {
            let Ok((o, _)) = grep::parse(args) else {
                return out.send(
                    id,
                    &Response::Error {
                        errno: libc::EINVAL,
                    },
                );
            };
            let names = o.names(roots.len());
            let Ok(mut g) = grep::Grep::new(o) else {
                return out.send(
                    id,
                    &Response::Error {
                        errno: libc::EINVAL,
                    },
                );
            };
            (
                grep::run(&mut g, &mut Local::default(), &roots, names, &mut frames).found,
                0,
            )
        }
        Some(Tool::Find) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let Ok(f) = find::parse(args, now) else {
                return out.send(
                    id,
                    &Response::Error {
                        errno: libc::EINVAL,
                    },
                );
            };
            (find::run(&f, &mut Local::default(), &roots, &mut frames), 0)
        }
        Some(Tool::Du) => {
            let Ok((o, _)) = du::parse(args) else {
                return out.send(
                    id,
                    &Response::Error {
                        errno: libc::EINVAL,
                    },
                );
            };
            let (total, ok) = du::run(&o, &mut Local::default(), &roots, &mut frames);
            (ok, total)
        }
        None => {
            return out.send(
                id,
                &Response::Error {
                    errno: libc::ENOSYS,
                },
            )
        }
    };
    out.send(id, &Response::SearchDone { found, total });
}
