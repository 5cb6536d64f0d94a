//! `Search`: grep, find and du run here on the container's own files by
//! dockerbox-search, so only results cross the wire. Each frame but the last takes one chunk
//! of the request's credit, as a `Read`'s data does; a cancel (credit 0) stops the walk.

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use dockerbox_proto::{Response, Tool};
use dockerbox_search::local::{self, last_errno, stat_meta};
use dockerbox_search::share::{self, Record, Role};
use dockerbox_search::walk::{Fs, Meta, Root};
use dockerbox_search::{du, find, grep, MemoEnd, Note, Sink};

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
    /// How files are keyed for a shared search.
    share: Option<Keying>,
}

/// A shared search's keying ([`dockerbox_search::share`]).
struct Keying {
    seed: u64,
    /// Who this agent is: what it may read.
    creds: u64,
    /// The container's root filesystem.
    root_dev: u64,
    before: i64,
}

impl Keying {
    fn new(seed: u64, before: i64) -> Option<Keying> {
        // SAFETY: an all-zero stat is a valid value for stat to overwrite.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: a valid C string and a writable stat.
        if unsafe { libc::stat(c"/".as_ptr(), &mut st) } != 0 {
            return None;
        }
        Some(Keying {
            seed,
            creds: creds(),
            root_dev: st.st_dev,
            before,
        })
    }

    fn key(&self, st: &libc::stat) -> Option<u64> {
        share::shareable(st, self.root_dev, self.before)
            .then(|| share::key(self.seed, self.creds, st))
    }
}

/// This process's credentials as a number: ids, groups, capabilities and security label,
/// so agents that may read differently never share.
#[allow(deprecated)]
fn creds() -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::SipHasher::new();
    // SAFETY: plain queries of this process's ids.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    h.write(&uid.to_le_bytes());
    h.write(&gid.to_le_bytes());
    let mut groups = vec![0 as libc::gid_t; 256];
    // SAFETY: the buffer holds as many groups as passed.
    let n = unsafe { libc::getgroups(groups.len() as i32, groups.as_mut_ptr()) };
    for g in groups.iter().take(n.max(0) as usize) {
        h.write(&g.to_le_bytes());
    }
    let status = std::fs::read("/proc/self/status").unwrap_or_default();
    for line in status.split(|&b| b == b'\n') {
        if line.starts_with(b"Cap") || line.starts_with(b"NoNewPrivs") {
            h.write(line);
        }
    }
    h.write(&std::fs::read("/proc/self/attr/current").unwrap_or_default());
    h.finish()
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

    fn open_keyed(&mut self, path: &[u8]) -> Result<(Box<dyn Read + '_>, Option<u64>), i32> {
        let fd = self.open_at(path, libc::O_RDONLY | libc::O_NOCTTY)?;
        // SAFETY: an all-zero stat is a valid value for fstat to overwrite.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // The open file is the one searched, whatever the path names meanwhile: an image's
        // file stays its image's once open, even if the container then changes it.
        // SAFETY: fd is open, st writable.
        let ok = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } == 0;
        let key = self.share.as_ref().filter(|_| ok).and_then(|k| k.key(&st));
        Ok((Box::new(File::from(fd)), key))
    }

    fn share_key(&mut self, path: &[u8]) -> Option<u64> {
        self.share.as_ref()?;
        let st = self.stat_at(path, false).ok()?;
        self.share.as_ref()?.key(&st)
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

/// A shared search's records, packed into `Events` frames under the request's credit.
struct Packer<'a> {
    frames: Frames<'a>,
    buf: Vec<u8>,
    /// When the oldest record not yet sent was made.
    since: Option<std::time::Instant>,
    stopped: bool,
}

/// A frame goes once this much is packed.
const PACK: usize = 64 * 1024;
/// ... or once its oldest record is this old (when the next one is made), so matches show
/// while a long search goes on.
const PACK_AGE: std::time::Duration = std::time::Duration::from_millis(200);

impl Packer<'_> {
    fn push(&mut self, r: Record) -> bool {
        if self.stopped {
            return false;
        }
        let mut b = Vec::new();
        r.encode(&mut b);
        if self.buf.len() + b.len() > dockerbox_proto::CHUNK {
            self.send();
        }
        self.buf.extend_from_slice(&b);
        let since = *self.since.get_or_insert_with(std::time::Instant::now);
        if self.buf.len() >= PACK || since.elapsed() >= PACK_AGE {
            self.send();
        }
        !self.stopped
    }

    fn send(&mut self) {
        self.since = None;
        if self.buf.is_empty() || self.stopped {
            return;
        }
        let data = std::mem::take(&mut self.buf);
        if !self.frames.send(&Response::Events { data }) {
            self.stopped = true;
        }
    }
}

impl Sink for Packer<'_> {
    fn out(&mut self, bytes: &[u8], _whole: bool) -> bool {
        self.push(Record::Out(bytes.to_vec()))
    }
    fn error(&mut self, path: &[u8], errno: i32, dir: bool) -> bool {
        let path: &[u8] = if path.is_empty() { b"." } else { path };
        self.push(Record::Problem(path.to_vec(), errno, dir))
    }
    fn note(&mut self, path: &[u8], note: Note) -> bool {
        let path: &[u8] = if path.is_empty() { b"." } else { path };
        self.push(Record::Note(path.to_vec(), note))
    }
    fn memo_start(&mut self, key: u64, display: &[u8], show: bool) -> bool {
        let display: &[u8] = if display.is_empty() { b"." } else { display };
        self.push(Record::MemoStart {
            key,
            display: display.to_vec(),
            show,
        })
    }
    fn memo_part(&mut self, bytes: &[u8]) -> bool {
        self.push(Record::MemoPart(bytes.to_vec()))
    }
    fn memo_end(&mut self, end: &MemoEnd) -> bool {
        self.push(Record::MemoEnd(*end))
    }
    fn use_memo(&mut self, key: u64, display: &[u8], show: bool) -> bool {
        let display: &[u8] = if display.is_empty() { b"." } else { display };
        self.push(Record::Use {
            key,
            display: display.to_vec(),
            show,
        })
    }
}

/// What a `SearchShared` asks.
pub struct Shared {
    pub args: Vec<Vec<u8>>,
    pub roots: Vec<(Vec<u8>, Vec<u8>)>,
    pub lead: bool,
    pub before: i64,
    pub seed: u64,
    pub loud: Vec<u64>,
    pub quiet: Vec<u64>,
}

/// Runs one `SearchShared` (grep) to its end and answers `SearchDone`.
pub fn run_shared(id: u32, req: Shared, credit: &Credit, out: &Out) {
    let roots: Vec<Root> = req
        .roots
        .into_iter()
        .map(|(path, display)| Root { path, display })
        .collect();
    let invalid = || {
        out.send(
            id,
            &Response::Error {
                errno: libc::EINVAL,
            },
        )
    };
    let Ok((o, _)) = grep::parse(&req.args) else {
        return invalid();
    };
    let names = o.names(roots.len());
    let Ok(mut g) = grep::Grep::new(o) else {
        return invalid();
    };
    g.role = if req.lead {
        Role::Lead
    } else {
        Role::Follow {
            loud: req.loud,
            quiet: req.quiet,
        }
    };
    let mut fs = Local {
        share: Keying::new(req.seed, req.before),
        ..Local::default()
    };
    let mut packer = Packer {
        frames: Frames { id, out, credit },
        buf: Vec::new(),
        since: None,
        stopped: false,
    };
    let found = grep::run(&mut g, &mut fs, &roots, names, &mut packer).found;
    packer.send();
    out.send(id, &Response::SearchDone { found, total: 0 });
}
