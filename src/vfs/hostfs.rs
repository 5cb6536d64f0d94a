//! The host backend: the real filesystem, through std.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

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

pub fn read(p: &Path, out: &mut (dyn Write + Send)) -> Result<u64, FsError> {
    let f = fs::File::open(p)?;
    if f.metadata()?.is_dir() {
        return Err(FsError::IsADirectory);
    }
    copy_out(f, out)
}

/// Streams an open file into `out` in bounded chunks, stopping at Ctrl-C.
pub fn copy_out(mut f: fs::File, out: &mut (dyn Write + Send)) -> Result<u64, FsError> {
    let mut buf = vec![0u8; 128 * 1024];
    let mut total = 0u64;
    loop {
        if crate::interrupt::is_set() {
            return Err(FsError::Interrupted);
        }
        let n = match io::Read::read(&mut f, &mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Ok(total);
        }
        out.write_all(&buf[..n]).map_err(FsError::Io)?;
        total += n as u64;
    }
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
