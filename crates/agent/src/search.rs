//! `Search`: grep, find and du run here on the container's own files by
//! dockerbox-search, so only results cross the wire. Each frame but the last takes one chunk
//! of the request's credit, as a `Read`'s data does; a cancel (credit 0) stops the walk.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use dockerbox_proto::{Response, Tool};
use dockerbox_search::walk::{Fs, Kind, Meta, Root};
use dockerbox_search::{du, find, grep, Note, Sink};

use crate::{Credit, Out};

fn p(b: &[u8]) -> &Path {
    Path::new(std::ffi::OsStr::from_bytes(b))
}

fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

fn meta(m: &fs::Metadata) -> Meta {
    let t = m.file_type();
    let kind = if t.is_dir() {
        Kind::Dir
    } else if t.is_symlink() {
        Kind::Symlink
    } else if t.is_file() {
        Kind::File
    } else if t.is_fifo() {
        Kind::Fifo
    } else if t.is_socket() {
        Kind::Socket
    } else if t.is_char_device() {
        Kind::CharDevice
    } else {
        Kind::BlockDevice
    };
    Meta {
        kind,
        perm: m.mode() & 0o7777,
        size: m.size(),
        blocks: m.blocks(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec() as u32,
        dev: m.dev(),
        ino: m.ino(),
        nlink: m.nlink(),
    }
}

/// The container's filesystem, as the agent sees it.
struct Local;

impl Fs for Local {
    fn stat(&mut self, path: &[u8], follow: bool) -> Result<Meta, i32> {
        let m = if follow {
            fs::metadata(p(path))
        } else {
            fs::symlink_metadata(p(path))
        };
        m.map(|m| meta(&m)).map_err(|e| errno(&e))
    }

    fn read_dir(&mut self, path: &[u8]) -> Result<Vec<(Vec<u8>, Meta)>, i32> {
        let mut v = Vec::new();
        for de in fs::read_dir(p(path)).map_err(|e| errno(&e))? {
            let de = de.map_err(|e| errno(&e))?;
            // Gone meanwhile: skipped, as fts does.
            let Ok(m) = fs::symlink_metadata(de.path()) else {
                continue;
            };
            v.push((de.file_name().as_bytes().to_vec(), meta(&m)));
        }
        Ok(v)
    }

    fn open(&mut self, path: &[u8]) -> Result<Box<dyn Read + '_>, i32> {
        File::open(p(path))
            .map(|f| Box::new(f) as Box<dyn Read>)
            .map_err(|e| errno(&e))
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
                grep::run(&mut g, &mut Local, &roots, names, &mut frames).found,
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
            (find::run(&f, &mut Local, &roots, &mut frames), 0)
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
            let (total, ok) = du::run(&o, &mut Local, &roots, &mut frames);
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
