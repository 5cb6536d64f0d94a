//! The host backend: the real filesystem, through std.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::backend::{At, Backend, BoxFut};
use super::stream::{Attrs, FileReader, FileWriter, HostWriter, Open};
use super::{Entry, FsError, Kind};

pub fn lstat(p: &Path, _full: bool) -> Result<Entry, FsError> {
    let md = fs::symlink_metadata(p)?;
    let name = p
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "/".into());
    let mut e = entry_of(name, &md);
    if e.kind == Kind::Symlink {
        e.link_target = fs::read_link(p).ok();
    }
    Ok(e)
}

/// `stat`: follows symlinks (a dangling one is NotFound, as stat(2) says).
pub fn stat(p: &Path) -> Result<Entry, FsError> {
    let md = fs::metadata(p)?;
    let name = p
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "/".into());
    Ok(entry_of(name, &md))
}

pub fn read_dir(p: &Path) -> Result<Vec<Entry>, FsError> {
    let md = fs::metadata(p)?;
    if !md.is_dir() {
        return Err(FsError::NotADirectory);
    }
    let mut out = Vec::new();
    // The namespace's root holds /containers whether or not the host has one.
    if p == Path::new("/") && fs::symlink_metadata("/containers").is_err() {
        out.push(super::synthetic::containers_dir());
    }
    if p == Path::new("/") && fs::symlink_metadata("/meta").is_err() {
        out.push(super::meta::meta_dir());
    }
    if p == Path::new("/") && fs::symlink_metadata("/images").is_err() {
        out.push(super::images::images_dir());
    }
    if p == Path::new("/") && fs::symlink_metadata("/volumes").is_err() {
        out.push(super::volumes::volumes_dir());
    }
    for de in fs::read_dir(p)? {
        let de = de?;
        let path = de.path();
        match lstat(&path, true) {
            Ok(e) => out.push(e),
            Err(FsError::NotFound) => {} // removed while we listed
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn entry_of(name: std::ffi::OsString, md: &fs::Metadata) -> Entry {
    let ft = md.file_type();
    let kind = if ft.is_dir() {
        Kind::Dir
    } else if ft.is_symlink() {
        Kind::Symlink
    } else if ft.is_fifo() {
        Kind::Fifo
    } else if ft.is_socket() {
        Kind::Socket
    } else if ft.is_char_device() {
        Kind::CharDevice
    } else if ft.is_block_device() {
        Kind::BlockDevice
    } else {
        Kind::File
    };
    let mut e = Entry::new(name, kind);
    e.perm = md.mode() & 0o7777;
    e.uid = md.uid();
    e.gid = md.gid();
    e.size = md.size();
    e.mtime = md.mtime();
    e.nlink = md.nlink();
    e.blocks_k = md.blocks() / 2;
    e.dev = md.dev();
    e.ino = md.ino();
    e
}

/// The host's filesystem as a [`Backend`]: std and plain syscalls, nothing to route further.
pub struct HostFs;

fn ready<'a, T: Send + 'a>(f: impl FnOnce() -> Result<T, FsError> + Send + 'a) -> BoxFut<'a, T> {
    Box::pin(async move { f() })
}

impl Backend for HostFs {
    fn lstat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        ready(move || lstat(path, true))
    }

    fn stat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        ready(move || stat(path))
    }

    fn read_dir<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Arc<Vec<Entry>>> {
        ready(move || read_dir(path).map(Arc::new))
    }

    fn readlink<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        ready(move || Ok(fs::read_link(path)?))
    }

    fn realpath<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        ready(move || Ok(fs::canonicalize(path)?))
    }

    fn open_read<'a>(&'a self, path: &'a Path, _size_hint: u64) -> BoxFut<'a, FileReader> {
        ready(move || {
            let f = fs::File::open(path)?;
            if f.metadata()?.is_dir() {
                return Err(FsError::IsADirectory);
            }
            Ok(FileReader::Local(f))
        })
    }

    fn read_at<'a>(&'a self, path: &'a Path, offset: u64, len: usize) -> BoxFut<'a, Bytes> {
        ready(move || Ok(pread(&fs::File::open(path)?, offset, len)?))
    }

    fn create<'a>(
        &'a self,
        path: &'a Path,
        attrs: Attrs,
        _size: u64,
        open: Open,
    ) -> BoxFut<'a, FileWriter> {
        ready(move || {
            Ok(FileWriter::Host(HostWriter::create(
                path, attrs.mode, open,
            )?))
        })
    }

    fn create_needs_size(&self) -> BoxFut<'_, bool> {
        ready(|| Ok(false))
    }

    fn mkdir<'a>(&'a self, path: &'a Path, attrs: Attrs) -> BoxFut<'a, ()> {
        ready(move || {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            fs::DirBuilder::new().mode(attrs.mode).create(path)?;
            fs::set_permissions(path, fs::Permissions::from_mode(attrs.mode))?;
            if let Some((uid, gid)) = attrs.owner {
                std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
            }
            if let Some(m) = attrs.mtime {
                utimes(path, m, m, false)?;
            }
            Ok(())
        })
    }

    fn symlink<'a>(&'a self, at: &'a At, attrs: Attrs) -> BoxFut<'a, ()> {
        ready(move || {
            std::os::unix::fs::symlink(&at.other, &at.path)?;
            if let Some((uid, gid)) = attrs.owner {
                std::os::unix::fs::lchown(&at.path, Some(uid), Some(gid))?;
            }
            Ok(())
        })
    }

    fn remove<'a>(&'a self, path: &'a Path, dir: bool) -> BoxFut<'a, ()> {
        ready(move || {
            if dir {
                fs::remove_dir(path)?
            } else {
                fs::remove_file(path)?
            }
            Ok(())
        })
    }

    fn rename<'a>(&'a self, at: &'a At) -> BoxFut<'a, ()> {
        ready(move || Ok(fs::rename(&at.path, &at.other)?))
    }

    fn link<'a>(&'a self, at: &'a At) -> BoxFut<'a, ()> {
        ready(move || Ok(fs::hard_link(&at.path, &at.other)?))
    }

    fn chmod<'a>(&'a self, path: &'a Path, mode: u32) -> BoxFut<'a, ()> {
        ready(move || {
            use std::os::unix::fs::PermissionsExt;
            Ok(fs::set_permissions(path, fs::Permissions::from_mode(mode))?)
        })
    }

    fn chown<'a>(&'a self, path: &'a Path, uid: u32, gid: u32, follow: bool) -> BoxFut<'a, ()> {
        ready(move || {
            if follow {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))?
            } else {
                std::os::unix::fs::lchown(path, Some(uid), Some(gid))?
            }
            Ok(())
        })
    }

    fn set_times<'a>(
        &'a self,
        path: &'a Path,
        atime: (i64, u32),
        mtime: (i64, u32),
        follow: bool,
    ) -> BoxFut<'a, ()> {
        ready(move || Ok(utimes(path, atime, mtime, follow)?))
    }
}

/// Up to `len` bytes of `f` at `offset`; fewer only at its end.
pub fn pread(f: &fs::File, offset: u64, len: usize) -> io::Result<Bytes> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; len];
    let mut n = 0;
    while n < len {
        match f.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(Bytes::from(buf))
}

fn utimes(p: &Path, atime: (i64, u32), mtime: (i64, u32), follow: bool) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
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
    if unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), ts.as_ptr(), flags) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
