//! Listing a directory of a local filesystem through a descriptor held open: what both the
//! agent (inside a container) and dockerbox's direct path (`/proc/PID/root`) walk with. Names
//! are opened and `lstat`ed relative to the directory, never by path, so a walk costs one
//! lookup per name and stays inside the root it started from.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::walk::{Kind, Meta};

/// The `errno` of the last failed call (`EIO` if there is none).
pub fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// What an `lstat`/`stat` result says, as the walk needs it.
pub fn stat_meta(st: &libc::stat) -> Meta {
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => Kind::Dir,
        libc::S_IFLNK => Kind::Symlink,
        libc::S_IFREG => Kind::File,
        libc::S_IFIFO => Kind::Fifo,
        libc::S_IFSOCK => Kind::Socket,
        libc::S_IFCHR => Kind::CharDevice,
        _ => Kind::BlockDevice,
    };
    Meta {
        kind,
        perm: st.st_mode & 0o7777,
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        mtime: st.st_mtime,
        mtime_nsec: st.st_mtime_nsec as u32,
        dev: st.st_dev,
        ino: st.st_ino,
        nlink: st.st_nlink,
    }
}

/// The kind a directory entry's `d_type` says, for what is not a directory (a directory, or a
/// filesystem that does not say, needs an `lstat`).
pub fn entry_kind(d_type: u8) -> Option<Kind> {
    match d_type {
        libc::DT_REG => Some(Kind::File),
        libc::DT_LNK => Some(Kind::Symlink),
        libc::DT_FIFO => Some(Kind::Fifo),
        libc::DT_SOCK => Some(Kind::Socket),
        libc::DT_CHR => Some(Kind::CharDevice),
        libc::DT_BLK => Some(Kind::BlockDevice),
        _ => None,
    }
}

/// The entries of the directory open at `dir`, without `.` and `..`: each `lstat`ed where
/// `full`, else only directories and names whose kind the directory does not say (the rest
/// carry just their kind). A name gone before its `lstat` is skipped, as fts does.
pub fn list_dir(dir: BorrowedFd<'_>, full: bool) -> Result<Vec<(Vec<u8>, Meta)>, i32> {
    // SAFETY: duplicating a descriptor the caller holds open.
    let dup = unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(last_errno());
    }
    // SAFETY: `dup` is ours; on success the stream owns it and closedir closes it.
    let stream = unsafe { libc::fdopendir(dup) };
    if stream.is_null() {
        let e = last_errno();
        // SAFETY: fdopendir failed, so `dup` is still ours to close.
        unsafe { libc::close(dup) };
        return Err(e);
    }
    let mut names: Vec<(CString, u8)> = Vec::new();
    let failed = loop {
        // readdir reports an error only through errno.
        // SAFETY: errno is this thread's.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `stream` is an open directory stream.
        let ent = unsafe { libc::readdir64(stream) };
        if ent.is_null() {
            let e = last_errno();
            break (e != 0).then_some(e);
        }
        // SAFETY: readdir64 returned a valid entry whose name is NUL-terminated, copied before
        // the next readdir.
        let (name, t) = unsafe {
            let e = &*ent;
            (std::ffi::CStr::from_ptr(e.d_name.as_ptr()), e.d_type)
        };
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            names.push((name.to_owned(), t));
        }
    };
    // SAFETY: `stream` is open and closed once here.
    unsafe { libc::closedir(stream) };
    if let Some(e) = failed {
        return Err(e);
    }
    let mut v = Vec::with_capacity(names.len());
    for (name, t) in names {
        let m = match entry_kind(t).filter(|_| !full) {
            Some(kind) => Meta {
                kind,
                perm: 0,
                size: 0,
                blocks: 0,
                mtime: 0,
                mtime_nsec: 0,
                dev: 0,
                ino: 0,
                nlink: 0,
            },
            None => {
                // SAFETY: an all-zero stat is a valid value for fstatat to overwrite.
                let mut st: libc::stat = unsafe { std::mem::zeroed() };
                // SAFETY: `dir` is open, `name` a C string, `st` writable; the name is one
                // component, not followed, so it stays inside the directory.
                let r = unsafe {
                    libc::fstatat(
                        dir.as_raw_fd(),
                        name.as_ptr(),
                        &mut st,
                        libc::AT_SYMLINK_NOFOLLOW,
                    )
                };
                if r != 0 {
                    continue;
                }
                stat_meta(&st)
            }
        };
        v.push((name.into_bytes(), m));
    }
    Ok(v)
}
