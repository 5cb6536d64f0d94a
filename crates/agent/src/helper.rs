//! The remote direct path: the agent as it runs in dockerbox's helper container on an engine
//! across a network (`--root PID ID`), with the host's PID namespace.
//!
//! Before it answers anything the agent opens `/proc/PID` (a directory descriptor, so a
//! recycled PID cannot swap the process under it), checks that the process's cgroup names the
//! container ID, and `chroot`s into `/proc/PID/root`: every request of this connection then
//! resolves paths (`..`, absolute symlinks) inside that container exactly as the in-container
//! agent would, with the same code. It keeps a descriptor of the helper's own `/proc` (the
//! host's PIDs) from before the chroot, so `FillFrom` and `TreeFrom` can reach a second
//! container of the same engine: that one's files are opened with `openat2(RESOLVE_IN_ROOT)`
//! from its root and walked below that by single names with `O_NOFOLLOW`, never by a path the
//! container could redirect. So a copy between two containers of that engine is one request,
//! and no byte of it crosses the network.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

/// The helper's `/proc` (the host's PID namespace), opened before the chroot.
static PROC: OnceLock<OwnedFd> = OnceLock::new();

/// The process's umask, read once at the start (reading it means setting it).
static UMASK: OnceLock<u32> = OnceLock::new();

fn last() -> io::Error {
    io::Error::last_os_error()
}

fn c(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn own(fd: libc::c_int) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(last());
    }
    // SAFETY: a descriptor the kernel just gave us and nobody else holds.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn openat(dir: RawFd, name: &[u8], flags: libc::c_int, mode: libc::c_uint) -> io::Result<OwnedFd> {
    let n = c(name)?;
    // SAFETY: a valid C string; the kernel checks the descriptor.
    own(unsafe { libc::openat(dir, n.as_ptr(), flags | libc::O_CLOEXEC, mode) })
}

/// The helper container's main process: holds the container up until dockerbox removes it.
pub fn idle() -> ! {
    loop {
        // SAFETY: pause has no preconditions.
        unsafe { libc::pause() };
    }
}

/// `--root PID ID`: checks the container and enters its root (see the module's comment).
pub fn enter(pid: &str, id: &str) -> Result<(), String> {
    let proc_fd = openat(
        libc::AT_FDCWD,
        b"/proc",
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .map_err(|e| format!("cannot open /proc: {e}"))?;
    // The process first, by a pidfd: while it lives, /proc/PID is that process; once it ends
    // (the container stopped or restarted) this agent ends too, so dockerbox never goes on
    // serving a root that is no longer the container's.
    let n: libc::pid_t = pid.parse().map_err(|_| "bad container".to_string())?;
    // SAFETY: pidfd_open takes a PID and flags; the descriptor it gives is ours.
    let pidfd = own(unsafe { libc::syscall(libc::SYS_pidfd_open, n, 0) } as libc::c_int)
        .map_err(|e| format!("no process {pid}: {e}"))?;
    let root = open_root(proc_fd.as_raw_fd(), pid, id.as_bytes())?;
    if ended(&pidfd, 0) {
        return Err(format!("process {pid} ended"));
    }
    std::thread::spawn(move || {
        while !ended(&pidfd, -1) {}
        std::process::exit(0);
    });
    let _ = PROC.set(proc_fd);
    // SAFETY: umask cannot fail; set back at once, before any other thread makes files.
    let mask = unsafe {
        let m = libc::umask(0);
        libc::umask(m);
        m
    };
    let _ = UMASK.set(mask as u32);
    // SAFETY: fchdir/chroot/chdir on a descriptor we own and constant strings.
    unsafe {
        if libc::fchdir(root.as_raw_fd()) != 0 {
            return Err(format!("cannot enter the container's root: {}", last()));
        }
        if libc::chroot(c".".as_ptr()) != 0 {
            return Err(format!("cannot chroot into the container: {}", last()));
        }
        if libc::chdir(c"/".as_ptr()) != 0 {
            return Err(format!("cannot chdir to /: {}", last()));
        }
    }
    Ok(())
}

/// Whether the process of `pidfd` ended, waiting up to `ms` (-1: until it does).
fn ended(pidfd: &OwnedFd, ms: libc::c_int) -> bool {
    let mut p = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut p, 1, ms) };
    r > 0 && p.revents != 0
}

/// `/proc/PID/root` of the container `id` (its cgroup checked through the same `/proc/PID`).
fn open_root(proc_fd: RawFd, pid: &str, id: &[u8]) -> Result<OwnedFd, String> {
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) || id.len() < 12 {
        return Err("bad container".into());
    }
    let dir = openat(proc_fd, pid.as_bytes(), libc::O_PATH | libc::O_DIRECTORY, 0)
        .map_err(|e| format!("no process {pid}: {e}"))?;
    let mut cgroup = Vec::new();
    let f = openat(dir.as_raw_fd(), b"cgroup", libc::O_RDONLY, 0)
        .map_err(|e| format!("cannot read the cgroup of {pid}: {e}"))?;
    File::from(f)
        .take(64 << 10)
        .read_to_end(&mut cgroup)
        .map_err(|e| format!("cannot read the cgroup of {pid}: {e}"))?;
    if !cgroup.windows(id.len()).any(|w| w == id) {
        return Err(format!("process {pid} is not in that container"));
    }
    openat(
        dir.as_raw_fd(),
        b"root",
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .map_err(|e| format!("cannot open the root of {pid}: {e}"))
}

/// The root of another container of this engine (requests carry its PID and ID).
fn other_root(pid: u32, id: &[u8]) -> io::Result<OwnedFd> {
    let Some(proc_fd) = PROC.get() else {
        return Err(io::Error::from_raw_os_error(libc::ENOTSUP));
    };
    open_root(proc_fd.as_raw_fd(), &pid.to_string(), id)
        .map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))
}

/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// Opens `path` inside the tree `root` as a process chrooted there would resolve it.
fn open_in(root: &OwnedFd, path: &[u8], flags: libc::c_int) -> io::Result<OwnedFd> {
    let p = c(path)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    loop {
        // SAFETY: a valid C string and an open_how of the size passed.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                p.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if r >= 0 {
            return own(r as libc::c_int);
        }
        let e = last();
        // A rename elsewhere raced the lookup: the kernel asks us to try again.
        if e.raw_os_error() != Some(libc::EAGAIN) {
            return Err(e);
        }
    }
}

fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: a zeroed stat is a valid buffer for the kernel to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(last());
    }
    Ok(st)
}

fn fstatat(dir: RawFd, name: &[u8]) -> io::Result<libc::stat> {
    let n = c(name)?;
    // SAFETY: a zeroed stat is a valid buffer for the kernel to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and buffer.
    if unsafe { libc::fstatat(dir, n.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) } != 0 {
        return Err(last());
    }
    Ok(st)
}

/// Copies all of `from` to `to`: the kernel copies (`copy_file_range`) where it can.
fn copy_data(from: RawFd, to: RawFd) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        // SAFETY: two open descriptors; null offsets use and move the files' own.
        let n = unsafe {
            libc::copy_file_range(
                from,
                std::ptr::null_mut(),
                to,
                std::ptr::null_mut(),
                16 << 20,
                0,
            )
        };
        if n > 0 {
            total += n as u64;
            continue;
        }
        if n == 0 {
            return Ok(total);
        }
        let e = last();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EXDEV | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::EPERM) => {
                break
            }
            _ => return Err(e),
        }
    }
    // SAFETY (both): descriptors borrowed for the copy; ManuallyDrop keeps them open.
    let mut src = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(from) });
    let mut dst = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(to) });
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        dst.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// `FillFrom`: the regular file `path` of container (`pid`, `id`) copied into `to`.
pub fn fill(to: &File, pid: u32, id: &[u8], path: &[u8]) -> io::Result<u64> {
    let root = other_root(pid, id)?;
    let src = open_in(
        &root,
        path,
        libc::O_RDONLY | libc::O_NOCTTY | libc::O_NONBLOCK,
    )?;
    let st = fstat(src.as_raw_fd())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    copy_data(src.as_raw_fd(), to.as_raw_fd())
}

/// `TreeFrom`: the tree `path` of container (`pid`, `id`) copied to the new name `dest` here.
pub fn tree(pid: u32, id: &[u8], path: &[u8], dest: &[u8]) -> io::Result<u64> {
    let einval = || io::Error::from_raw_os_error(libc::EINVAL);
    let cut = dest.iter().rposition(|&b| b == b'/').ok_or_else(einval)?;
    let (parent, name) = (&dest[..cut.max(1)], &dest[cut + 1..]);
    if !crate::ops::is_temp_name(name) || name.contains(&0) {
        return Err(einval());
    }
    let root = other_root(pid, id)?;
    let src = open_in(
        &root,
        path,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
    )?;
    let st = fstat(src.as_raw_fd())?;
    let parent = openat(
        libc::AT_FDCWD,
        parent,
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
    )?;
    mkdirat(parent.as_raw_fd(), name)?;
    let top = openat(
        parent.as_raw_fd(),
        name,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
    )?;
    let mut t = Tree {
        bytes: 0,
        links: HashMap::new(),
        top: top.as_raw_fd(),
    };
    t.dir(&src, &top, &mut Vec::new())?;
    finish(top.as_raw_fd(), None, &st)?;
    Ok(t.bytes)
}

/// Files up to this size are copied by one read and one write (no `copy_file_range`, which
/// storage across two mounts may refuse, and no read to meet the end).
const SMALL: u64 = 1 << 20;

/// Copies a file of `size` bytes (as `fstatat` said): what it holds up to that size, as tar
/// does with the size in its header.
fn copy_small(from: RawFd, to: RawFd, size: usize) -> io::Result<u64> {
    // SAFETY (both): descriptors borrowed for the copy; ManuallyDrop keeps them open.
    let mut src = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(from) });
    let mut dst = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(to) });
    let mut buf = vec![0u8; size];
    let mut got = 0;
    while got < size {
        match src.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    dst.write_all(&buf[..got])?;
    Ok(got as u64)
}

/// `st`'s access and modification times, as `futimens` and `utimensat` take them.
fn atime_mtime(st: &libc::stat) -> [libc::timespec; 2] {
    [
        libc::timespec {
            tv_sec: st.st_atime,
            tv_nsec: st.st_atime_nsec,
        },
        libc::timespec {
            tv_sec: st.st_mtime,
            tv_nsec: st.st_mtime_nsec,
        },
    ]
}

/// [`finish`] for a file this copy just made, owned by us (root) with mode `made`: only the
/// calls that change something.
fn finish_new(fd: RawFd, st: &libc::stat, made: u32) -> io::Result<()> {
    let times = atime_mtime(st);
    let chown = st.st_uid != 0 || st.st_gid != 0;
    // SAFETY (all): a valid descriptor and buffer. chown before chmod: chown clears set-id bits.
    unsafe {
        if chown && libc::fchown(fd, st.st_uid, st.st_gid) != 0 {
            return Err(last());
        }
        if ((chown && st.st_mode & 0o6000 != 0) || st.st_mode & 0o7777 != made)
            && libc::fchmod(fd, st.st_mode & 0o7777) != 0
        {
            return Err(last());
        }
        if libc::futimens(fd, times.as_ptr()) != 0 {
            return Err(last());
        }
    }
    Ok(())
}

fn mkdirat(dir: RawFd, name: &[u8]) -> io::Result<()> {
    let n = c(name)?;
    // SAFETY: a valid C string.
    if unsafe { libc::mkdirat(dir, n.as_ptr(), 0o700) } != 0 {
        return Err(last());
    }
    Ok(())
}

/// Gives a copied entry its owner, mode and times: through its descriptor `fd`, or by `name`
/// in `fd` (a symlink, a device) without following it.
fn finish(fd: RawFd, name: Option<&[u8]>, st: &libc::stat) -> io::Result<()> {
    let times = atime_mtime(st);
    let is_link = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
    // SAFETY (all): valid descriptors, C strings and buffers. chown before chmod: chown clears
    // the set-id bits.
    unsafe {
        match name {
            None => {
                if libc::fchown(fd, st.st_uid, st.st_gid) != 0
                    || libc::fchmod(fd, st.st_mode & 0o7777) != 0
                    || libc::futimens(fd, times.as_ptr()) != 0
                {
                    return Err(last());
                }
            }
            Some(n) => {
                let n = c(n)?;
                if libc::fchownat(
                    fd,
                    n.as_ptr(),
                    st.st_uid,
                    st.st_gid,
                    libc::AT_SYMLINK_NOFOLLOW,
                ) != 0
                {
                    return Err(last());
                }
                if !is_link && libc::fchmodat(fd, n.as_ptr(), st.st_mode & 0o7777, 0) != 0 {
                    return Err(last());
                }
                if libc::utimensat(fd, n.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) != 0 {
                    return Err(last());
                }
            }
        }
    }
    Ok(())
}

/// One tree copy: bytes so far, files with several names by (dev, ino) → their first copy's
/// path below the top, and the top's descriptor.
struct Tree {
    bytes: u64,
    links: HashMap<(u64, u64), Vec<u8>>,
    top: RawFd,
}

impl Tree {
    /// Copies the entries of `src` into `dst` (`rel`: `dst`'s path below the top).
    fn dir(&mut self, src: &OwnedFd, dst: &OwnedFd, rel: &mut Vec<u8>) -> io::Result<()> {
        for name in entries(src)? {
            let st = fstatat(src.as_raw_fd(), &name)?;
            let (s, d) = (src.as_raw_fd(), dst.as_raw_fd());
            let mark = rel.len();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(&name);
            match st.st_mode & libc::S_IFMT {
                libc::S_IFDIR => {
                    mkdirat(d, &name)?;
                    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
                    let (sub_src, sub_dst) =
                        (openat(s, &name, flags, 0)?, openat(d, &name, flags, 0)?);
                    self.dir(&sub_src, &sub_dst, rel)?;
                    finish(sub_dst.as_raw_fd(), None, &st)?;
                }
                libc::S_IFREG => self.file(s, d, &name, &st, rel)?,
                libc::S_IFLNK => {
                    let target = readlinkat(s, &name)?;
                    let (t, n) = (c(&target)?, c(&name)?);
                    // SAFETY: valid C strings.
                    if unsafe { libc::symlinkat(t.as_ptr(), d, n.as_ptr()) } != 0 {
                        return Err(last());
                    }
                    finish(d, Some(&name), &st)?;
                }
                _ => {
                    let n = c(&name)?;
                    // SAFETY: a valid C string.
                    if unsafe { libc::mknodat(d, n.as_ptr(), st.st_mode, st.st_rdev) } != 0 {
                        return Err(last());
                    }
                    finish(d, Some(&name), &st)?;
                }
            }
            rel.truncate(mark);
        }
        Ok(())
    }

    fn file(
        &mut self,
        s: RawFd,
        d: RawFd,
        name: &[u8],
        st: &libc::stat,
        rel: &[u8],
    ) -> io::Result<()> {
        let key = (st.st_dev, st.st_ino);
        if st.st_nlink > 1 {
            if let Some(first) = self.links.get(&key) {
                return self.link(first.clone(), d, name);
            }
        }
        let from = openat(
            s,
            name,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK,
            0,
        )?;
        // Made with its permission bits (less the umask), so most files need no chmod after:
        // on storage like fuse-overlayfs every call is a round trip to its daemon.
        let to = openat(
            d,
            name,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
            st.st_mode & 0o777,
        )?;
        let size = u64::try_from(st.st_size).unwrap_or(0);
        self.bytes += if size <= SMALL {
            copy_small(from.as_raw_fd(), to.as_raw_fd(), size as usize)?
        } else {
            copy_data(from.as_raw_fd(), to.as_raw_fd())?
        };
        let umask = UMASK.get().copied().unwrap_or(0o022);
        finish_new(to.as_raw_fd(), st, st.st_mode & 0o777 & !umask)?;
        if st.st_nlink > 1 {
            self.links.insert(key, rel.to_vec());
        }
        Ok(())
    }

    /// A later name of a file already copied: a hard link to that copy, reached from the top
    /// one directory at a time (none followed through a symlink).
    fn link(&self, first: Vec<u8>, d: RawFd, name: &[u8]) -> io::Result<()> {
        let parts: Vec<&[u8]> = first.split(|&b| b == b'/').collect();
        let (last_name, dirs) = parts
            .split_last()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut held: Option<OwnedFd> = None;
        for part in dirs {
            let at = held.as_ref().map_or(self.top, |f| f.as_raw_fd());
            held = Some(openat(
                at,
                part,
                libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
            )?);
        }
        let at = held.as_ref().map_or(self.top, |f| f.as_raw_fd());
        let (old, new) = (c(last_name)?, c(name)?);
        // SAFETY: valid C strings; flags 0 never follows a symlink at the old name.
        if unsafe { libc::linkat(at, old.as_ptr(), d, new.as_ptr(), 0) } != 0 {
            return Err(last());
        }
        Ok(())
    }
}

fn readlinkat(dir: RawFd, name: &[u8]) -> io::Result<Vec<u8>> {
    let n = c(name)?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: a valid C string and a buffer of the length passed.
    let r = unsafe { libc::readlinkat(dir, n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return Err(last());
    }
    buf.truncate(r as usize);
    Ok(buf)
}

/// The names in a directory (without `.` and `..`), read through its own descriptor.
fn entries(dir: &OwnedFd) -> io::Result<Vec<Vec<u8>>> {
    // SAFETY: dup of a descriptor we hold; fdopendir then owns the copy.
    let fd = unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if fd < 0 {
        return Err(last());
    }
    // SAFETY: fd is ours to give.
    let d = unsafe { libc::fdopendir(fd) };
    if d.is_null() {
        let e = last();
        // SAFETY: fdopendir failed, so fd is still ours.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    let mut names = Vec::new();
    loop {
        // SAFETY: a stream fdopendir gave.
        let ent = unsafe { libc::readdir64(d) };
        if ent.is_null() {
            break;
        }
        // SAFETY: d_name is NUL-terminated within the entry.
        let name = unsafe { std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    // SAFETY: the stream is ours; closing it closes fd.
    unsafe { libc::closedir(d) };
    Ok(names)
}
