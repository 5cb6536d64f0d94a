//! A builtin's input descriptors, and reads from them that Ctrl-C can stop.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use crate::interrupt;

/// An open descriptor; shared, since `2>&1` makes two numbers point at one.
pub type Fd = Arc<OwnedFd>;

/// Waits up to 100 ms for `fd` to be readable; fails with Interrupted after Ctrl-C.
pub fn wait_readable(fd: RawFd) -> io::Result<bool> {
    if interrupt::is_set() {
        return Err(io::ErrorKind::Interrupted.into());
    }
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1.
    let r = unsafe { libc::poll(&mut pfd, 1, 100) };
    // -1 is EINTR from the very signal we wait for: the caller loops and looks at the flag.
    Ok(r > 0)
}

/// One read from a pipe or file that Ctrl-C can stop (a plain read would block through it).
pub fn read_interruptibly(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        if !wait_readable(fd.as_raw_fd())? {
            continue;
        }
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
