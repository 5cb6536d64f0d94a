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
