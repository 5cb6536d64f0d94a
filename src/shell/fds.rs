//! File descriptors as commands see them: the table a redirect changes, pipes, the layout a host
//! program gets between fork and exec, and the writers and readers builtins use on them.
//!
//! Every descriptor dockerbox opens is close-on-exec; a child gets exactly the numbers its table
//! names (0, 1, 2, redirects like `3>f`, and `/dev/fd/N` streams), placed by [`ChildFds`], so
//! nothing leaks into one program from another stage of a pipeline.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

pub use crate::context::{read_interruptibly, Fd};

/// A close-on-exec copy of `fd` numbered 10 or above (clear of 0-2).
pub fn dup(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl on any number is safe; a valid result is a new descriptor we own.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `n` was just returned by fcntl and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// A pipe, both ends close-on-exec: (read, write).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: both are new descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `/dev/null`, for a builtin whose stdin or stderr was closed (a closed fd 2 would be reused by
/// the next file opened, and messages would land in it).
pub fn dev_null(write: bool) -> io::Result<OwnedFd> {
    let f = std::fs::OpenOptions::new()
        .read(!write)
        .write(write)
        .open("/dev/null")?;
    Ok(OwnedFd::from(f))
}

pub fn is_tty(fd: &OwnedFd) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd.as_raw_fd()) == 1 }
}

/// The descriptors dockerbox started with, copied once: what commands get unless redirected.
pub struct StdFds([Option<Fd>; 3]);

impl StdFds {
    pub fn capture() -> StdFds {
        StdFds([0, 1, 2].map(|n| dup(n).ok().map(Arc::new)))
    }

    pub fn get(&self, n: u32) -> Option<&Fd> {
        self.0.get(n as usize).and_then(Option::as_ref)
    }

    /// Whether `fd` is dockerbox's own descriptor `n` (not redirected).
    pub fn is(&self, n: u32, fd: Option<&Fd>) -> bool {
        match (self.get(n), fd) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

/// A command's descriptors: number to open description; a number not here is closed.
#[derive(Clone, Default)]
pub struct FdTable(BTreeMap<u32, Fd>);

impl FdTable {
    /// 0, 1 and 2 as dockerbox got them.
    pub fn standard(std: &StdFds) -> FdTable {
        let mut t = FdTable::default();
        for n in 0..3 {
            if let Some(fd) = std.get(n) {
                t.0.insert(n, fd.clone());
            }
        }
        t
    }

    pub fn get(&self, n: u32) -> Option<&Fd> {
        self.0.get(&n)
    }

    pub fn set(&mut self, n: u32, fd: Fd) {
        self.0.insert(n, fd);
    }

    pub fn close(&mut self, n: u32) {
        self.0.remove(&n);
    }

    pub fn contains(&self, n: u32) -> bool {
        self.0.contains_key(&n)
    }

    /// How a child gets these numbers, plus `extra` (the `/dev/fd/N` streams).
    pub fn for_child(&self, extra: &[(u32, Fd)]) -> ChildFds {
        let mut moves = Vec::new();
        let mut keep = Vec::new();
        for (&n, fd) in self.0.iter().chain(extra.iter().map(|(n, fd)| (n, fd))) {
            moves.push((n as RawFd, fd.as_raw_fd()));
            keep.push(fd.clone());
        }
        let close = (0..3).filter(|n| !self.contains(*n)).map(|n| n as RawFd);
        ChildFds {
            scratch: vec![-1; moves.len()],
            moves,
            close: close.collect(),
            _keep: keep,
        }
    }
}

/// A child's descriptor layout, applied between fork and exec (only async-signal-safe calls, no
/// allocation there: the vectors are made before the fork).
pub struct ChildFds {
    /// (number in the child, our descriptor)
    moves: Vec<(RawFd, RawFd)>,
    /// 0-2 that are closed (`>&-`).
    close: Vec<RawFd>,
    scratch: Vec<RawFd>,
    /// Keeps every source open until the spawn is done.
    _keep: Vec<Fd>,
}

impl ChildFds {
    /// Runs in the child. Every source is first copied above all targets, so one move can
    /// never overwrite another's source (`3<a 4<b` where our descriptor for `b` is 3).
    ///
    /// # Safety
    /// Only between fork and exec.
    pub unsafe fn apply(&mut self) -> io::Result<()> {
        let floor = self.moves.iter().map(|m| m.0).max().unwrap_or(2).max(2) + 1;
        for (i, &(_, src)) in self.moves.iter().enumerate() {
            // SAFETY: plain descriptor calls, async-signal-safe.
            let n = unsafe { libc::fcntl(src, libc::F_DUPFD_CLOEXEC, floor) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            self.scratch[i] = n;
        }
        for (i, &(target, _)) in self.moves.iter().enumerate() {
            // SAFETY: as above; dup2 clears close-on-exec on the target, so it survives exec.
            if unsafe { libc::dup2(self.scratch[i], target) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        for &n in &self.close {
            // SAFETY: closing a number in the child only.
            unsafe { libc::close(n) };
        }
        Ok(())
    }
}

/// Writes to dockerbox's stdout; each write takes the lock, so it may cross awaits.
pub struct StdoutWriter;

impl Write for StdoutWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stdout().write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        io::stdout().write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush()
    }
}

/// A builtin's stdout after `>&-`.
pub struct ClosedWriter;

impl Write for ClosedWriter {
    fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(libc::EBADF))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer on a copy of `fd`, flushed at each newline as a terminal's stdout is, so a pipe
/// reader sees lines as they come.
pub fn line_writer(fd: &Fd) -> io::Result<io::LineWriter<File>> {
    Ok(io::LineWriter::new(File::from(fd.try_clone()?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn child_layout_moves_crossed_descriptors() {
        // Two pipes whose write ends must land on each other's numbers in the child.
        let (r1, w1) = pipe().unwrap();
        let (r2, w2) = pipe().unwrap();
        let (w1, w2) = (Arc::new(w1), Arc::new(w2));
        let mut t = FdTable::default();
        t.set(w2.as_raw_fd() as u32, w1.clone());
        t.set(w1.as_raw_fd() as u32, w2.clone());
        let (a, b) = (w2.as_raw_fd(), w1.as_raw_fd());
        let mut layout = t.for_child(&[]);
        // bash: the numbers may have two digits here, which dash's `>&N` does not take.
        let mut cmd = std::process::Command::new("bash");
        cmd.arg("-c")
            .arg(format!("echo one >&{a}; echo two >&{b}"))
            .stdin(std::process::Stdio::null());
        use std::os::unix::process::CommandExt;
        // SAFETY: apply only makes descriptor calls.
        unsafe { cmd.pre_exec(move || layout.apply()) };
        let st = cmd.status().unwrap();
        assert!(st.success());
        // The command keeps the layout, and with it copies of the write ends.
        drop((cmd, w1, w2, t));
        let (mut s1, mut s2) = (String::new(), String::new());
        File::from(r1).read_to_string(&mut s1).unwrap();
        File::from(r2).read_to_string(&mut s2).unwrap();
        assert_eq!((s1.as_str(), s2.as_str()), ("one\n", "two\n"));
    }
}
