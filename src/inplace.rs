//! The overwrite rule's system calls, shared by the host writer and the direct path: open an
//! existing file to write it in place, give it a mode only when that changes something, and
//! rename a new file into place without replacing what appeared meanwhile. (A leaf: the vfs
//! and `host` both use it.)

use std::fs::File;
use std::io;
use std::os::unix::fs::PermissionsExt;

/// How a write meets a file already at its name (the rule is in `vfs::stream`'s doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Open {
    /// `cp`, `>`: an existing file is truncated and rewritten in place.
    #[default]
    Replace,
    /// `>>`: an existing file is appended to in place.
    Append,
}

impl Open {
    /// The `open(2)` flags for writing an existing file this way (without `O_CREAT`: a missing
    /// file is made under a temporary name instead). Non-blocking, so a fifo without a reader
    /// fails rather than hangs; no `O_TRUNC`, which is applied after checking what was opened.
    pub fn flags(self) -> i32 {
        let base = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY;
        match self {
            Open::Replace => base,
            Open::Append => base | libc::O_APPEND,
        }
    }
}

/// Prepares a file opened with [`Open::flags`] for writing: a regular file is truncated for
/// `Replace`; anything else but a regular file or a character device (`/dev/null`) is refused.
/// The descriptor is made blocking again.
pub fn prepare_in_place(file: &File, open: Open) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileTypeExt;
    let ft = file.metadata()?.file_type();
    if ft.is_file() {
        if open == Open::Replace {
            file.set_len(0)?;
        }
    } else if !ft.is_char_device() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl >= 0 {
        // SAFETY: as above.
        unsafe { libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK) };
    }
    Ok(())
}

/// `renameat(2)` that never replaces what is at `to` (a file or a symlink that appeared since
/// we found the name free): `EEXIST` then. Where the filesystem cannot say (`EINVAL`), a plain
/// rename.
pub fn rename_noreplace(
    dir_from: i32,
    from: &std::ffi::CStr,
    dir_to: i32,
    to: &std::ffi::CStr,
) -> io::Result<()> {
    // SAFETY: valid C strings and descriptors (or AT_FDCWD) given by the caller.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            dir_from,
            from.as_ptr(),
            dir_to,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EINVAL) && e.raw_os_error() != Some(libc::ENOSYS) {
        return Err(e);
    }
    // SAFETY: as above.
    if unsafe { libc::renameat(dir_from, from.as_ptr(), dir_to, to.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Gives a file written in place the mode asked for, only when it differs: changing nothing
/// must not need ownership (a group-writable file of another user).
pub fn set_mode_if_changed(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if file.metadata()?.mode() & 0o7777 == mode & 0o7777 {
        return Ok(());
    }
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

    fn open(p: &std::path::Path, how: Open) -> io::Result<File> {
        std::fs::OpenOptions::new()
            .write(true)
            .append(how == Open::Append)
            .custom_flags(how.flags())
            .open(p)
    }

    #[test]
    fn an_existing_file_is_truncated_or_appended_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("f");
        std::fs::write(&f, b"old content").expect("write");
        let ino = std::fs::metadata(&f).expect("stat").ino();
        let file = open(&f, Open::Append).expect("open");
        prepare_in_place(&file, Open::Append).expect("prepare");
        io::Write::write_all(&mut &file, b"+").expect("append");
        assert_eq!(std::fs::read(&f).expect("read"), b"old content+");
        let file = open(&f, Open::Replace).expect("open");
        prepare_in_place(&file, Open::Replace).expect("prepare");
        io::Write::write_all(&mut &file, b"new").expect("write");
        assert_eq!(std::fs::read(&f).expect("read"), b"new");
        assert_eq!(std::fs::metadata(&f).expect("stat").ino(), ino);
        // A character device is written as it is; a fifo without a reader is not waited for.
        let null = open(std::path::Path::new("/dev/null"), Open::Replace).expect("null");
        prepare_in_place(&null, Open::Replace).expect("a device is fine");
        let fifo = dir.path().join("fifo");
        let c = CString::new(fifo.as_os_str().as_bytes()).expect("c");
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = open(&fifo, Open::Replace).expect_err("no reader");
        assert_eq!(e.raw_os_error(), Some(libc::ENXIO));
    }

    #[test]
    fn a_mode_is_set_only_when_it_changes_and_a_rename_never_replaces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"a").expect("write");
        std::fs::write(&b, b"b").expect("write");
        let f = File::open(&a).expect("open");
        set_mode_if_changed(&f, 0o640).expect("chmod");
        assert_eq!(std::fs::metadata(&a).expect("stat").mode() & 0o7777, 0o640);
        let c = |p: &std::path::Path| CString::new(p.as_os_str().as_bytes()).expect("c");
        let e = rename_noreplace(libc::AT_FDCWD, &c(&a), libc::AT_FDCWD, &c(&b))
            .expect_err("b is there");
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        assert_eq!(std::fs::read(&b).expect("read"), b"b");
        let n = dir.path().join("n");
        rename_noreplace(libc::AT_FDCWD, &c(&a), libc::AT_FDCWD, &c(&n)).expect("free name");
        assert_eq!(std::fs::read(&n).expect("read"), b"a");
    }
}
