//! The direct path: a running container's files reached through `/proc/PID/root` when the
//! engine runs on this machine and dockerbox may look into its processes.
//!
//! Both the exec stream and the archive API push every byte through dockerd and a pipe or an
//! HTTP body; the kernel can copy between two open files by itself (`copy_file_range`), which is
//! what makes a big container-to-container copy several times cheaper. It is an optimisation
//! only: everything here answers `None` or an error and the agent or archive API serves instead.
//!
//! Safety: every path is resolved with `openat2(RESOLVE_IN_ROOT)` from the container's root, so
//! `..` and symlinks (absolute or relative) stay inside the container as they would for a
//! process in it. The `/proc/PID` directory is opened first and the container's ID checked in
//! its cgroup file through that same descriptor, so a recycled PID cannot redirect us. Only
//! containers whose init runs as root with no user-namespace remapping qualify: there, root on
//! the host is root in the container, and files come out owned as the agent (running as that
//! same root) would have made them.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use crate::inplace::{prepare_in_place, rename_noreplace, set_mode_if_changed, Open};

/// A container's root directory, opened through `/proc/PID/root`.
#[derive(Debug)]
pub struct ProcRoot {
    /// `/proc/PID`: pins the process, so the checks and the root refer to the same one.
    proc_dir: OwnedFd,
    root: OwnedFd,
    /// A pidfd of that process (Linux 5.3), which turns readable once it exited: [`alive`]
    /// is one `poll` instead of reading `/proc/PID/stat`. `None` where the kernel has none.
    ///
    /// [`alive`]: ProcRoot::alive
    pidfd: Option<OwnedFd>,
}

impl ProcRoot {
    /// Opens the root of the process `pid`, if it is container `id`'s and qualifies (see the
    /// module doc). `None` whenever anything does not fit.
    pub fn open(pid: i64, id: &str) -> Option<ProcRoot> {
        if pid <= 0 || id.len() < 12 {
            return None;
        }
        // Before /proc/PID: while the pidfd's process lives, the PID is its, so the directory
        // opened next is that same process's if it is still alive after the checks.
        let pidfd = pidfd_open(pid);
        let proc_dir = open_at(
            libc::AT_FDCWD,
            format!("/proc/{pid}").as_bytes(),
            libc::O_DIRECTORY | libc::O_RDONLY,
        )
        .ok()?;
        let cgroup = read_small(&proc_dir, b"cgroup")?;
        if !contains(&cgroup, id.as_bytes()) {
            return None;
        }
        if !runs_as_root(&proc_dir)? {
            return None;
        }
        let root = open_at(
            proc_dir.as_raw_fd(),
            b"root",
            libc::O_PATH | libc::O_DIRECTORY,
        )
        .ok()?;
        let r = ProcRoot {
            proc_dir,
            root,
            pidfd,
        };
        // A kernel without openat2 (before 5.6) cannot confine paths: no direct path there.
        r.open_in(Path::new("/"), libc::O_PATH).ok()?;
        r.alive().then_some(r)
    }

    /// The directory `dir` (absolute, as the engine `pid` sees its own filesystem: a volume's
    /// mountpoint) as a root of its own, if `pid` is a root process with no user-namespace
    /// remapping whose command is `dockerd`. `dir` is resolved inside that process's root, so
    /// an engine in another mount namespace is read as it sees itself; paths below are then
    /// confined to `dir` as they are to a container's root. `None` whenever anything does not
    /// fit.
    pub fn open_dir_of(pid: i64, dir: &Path) -> Option<ProcRoot> {
        if pid <= 0 || !dir.is_absolute() {
            return None;
        }
        let pidfd = pidfd_open(pid);
        let proc_dir = open_at(
            libc::AT_FDCWD,
            format!("/proc/{pid}").as_bytes(),
            libc::O_DIRECTORY | libc::O_RDONLY,
        )
        .ok()?;
        if read_small(&proc_dir, b"comm")?.trim_ascii_end() != b"dockerd" {
            return None;
        }
        if !runs_as_root(&proc_dir)? {
            return None;
        }
        let engine_root = open_at(
            proc_dir.as_raw_fd(),
            b"root",
            libc::O_PATH | libc::O_DIRECTORY,
        )
        .ok()?;
        let within = ProcRoot {
            proc_dir,
            root: engine_root,
            pidfd: None,
        };
        let root = within
            .open_in(dir, libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .ok()?;
        let r = ProcRoot {
            proc_dir: within.proc_dir,
            root,
            pidfd,
        };
        r.alive().then_some(r)
    }

    /// Whether the process is still there (a dead one leaves a root nobody should write to).
    pub fn alive(&self) -> bool {
        let Some(pidfd) = &self.pidfd else {
            return read_small(&self.proc_dir, b"stat").is_some();
        };
        let mut p = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, a descriptor we own; no waiting.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n == 0
    }

    /// Opens `path` (absolute inside the container) with `flags`, confined to the container.
    fn open_in(&self, path: &Path, flags: i32) -> io::Result<OwnedFd> {
        let rel = path.strip_prefix("/").unwrap_or(path);
        let rel: &OsStr = if rel.as_os_str().is_empty() {
            OsStr::new(".")
        } else {
            rel.as_os_str()
        };
        let c = CString::new(rel.as_bytes()).map_err(|_| einval())?;
        let how = OpenHow {
            flags: (flags | libc::O_CLOEXEC) as u64,
            mode: 0,
            resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
        };
        loop {
            // SAFETY: `c` is a valid C string and `how` a valid open_how of the size passed.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_openat2,
                    self.root.as_raw_fd(),
                    c.as_ptr(),
                    &how as *const OpenHow,
                    std::mem::size_of::<OpenHow>(),
                )
            };
            if fd >= 0 {
                // SAFETY: the kernel just gave us this descriptor; nobody else owns it.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EAGAIN) && e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Opens a regular file for reading (never blocks on a fifo that took its place).
    pub fn open_read(&self, path: &Path) -> io::Result<File> {
        let fd = self.open_in(path, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY)?;
        let file = File::from(fd);
        if !file.metadata()?.is_file() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        Ok(file)
    }

    /// Opens an existing regular file to write it in place at offsets (a mount's writes), or
    /// at its end with `append`; anything but a regular file is `EINVAL` (a directory
    /// `EISDIR`), and nothing is ever made.
    pub fn open_write(&self, path: &Path, append: bool) -> io::Result<File> {
        let mut flags = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY;
        if append {
            flags |= libc::O_APPEND;
        }
        let file = File::from(self.open_in(path, flags)?);
        if !file.metadata()?.is_file() {
            return Err(einval());
        }
        Ok(file)
    }

    /// Opens an existing regular file to read and write it (a mount's passthrough of a file
    /// opened for writing); anything but a regular file is `EINVAL`, and nothing is made.
    pub fn open_rw(&self, path: &Path) -> io::Result<File> {
        let file =
            File::from(self.open_in(path, libc::O_RDWR | libc::O_NONBLOCK | libc::O_NOCTTY)?);
        if !file.metadata()?.is_file() {
            return Err(einval());
        }
        Ok(file)
    }

    /// Opens whatever is at `path` (a file or a directory) for `fsync`, never blocking.
    pub fn open_sync(&self, path: &Path) -> io::Result<File> {
        let fd = self.open_in(path, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY)?;
        Ok(File::from(fd))
    }

    /// `statfs(2)` of the container's root filesystem.
    pub fn statfs(&self) -> io::Result<libc::statvfs> {
        // SAFETY: a zeroed `statvfs` is a valid value for the kernel to fill in.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a descriptor we own and a `statvfs` to write.
        check(unsafe { libc::fstatvfs(self.root.as_raw_fd(), &mut st) })?;
        Ok(st)
    }

    /// The directory holding `path` (opened inside the container) and the last component;
    /// `None` for the root itself.
    fn parent_of(&self, path: &Path) -> io::Result<Option<(OwnedFd, CString)>> {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Ok(None);
        };
        let dir = self.open_in(dir, libc::O_PATH | libc::O_DIRECTORY)?;
        let name = CString::new(name.as_bytes()).map_err(|_| einval())?;
        Ok(Some((dir, name)))
    }

    /// `lstat` of `path`: the last component is not followed, the others resolve inside the
    /// container.
    pub fn lstat(&self, path: &Path) -> io::Result<libc::stat> {
        match self.parent_of(path)? {
            Some((dir, name)) => stat_at(dir.as_raw_fd(), &name, libc::AT_SYMLINK_NOFOLLOW),
            None => stat_at(self.root.as_raw_fd(), c"", libc::AT_EMPTY_PATH),
        }
    }

    /// `stat` of `path`: every symlink followed inside the container.
    pub fn stat(&self, path: &Path) -> io::Result<libc::stat> {
        let fd = self.open_in(path, libc::O_PATH)?;
        stat_at(fd.as_raw_fd(), c"", libc::AT_EMPTY_PATH)
    }

    /// A symlink's target.
    pub fn readlink(&self, path: &Path) -> io::Result<Vec<u8>> {
        let Some((dir, name)) = self.parent_of(path)? else {
            return Err(einval());
        };
        read_link_at(dir.as_raw_fd(), &name)
    }

    /// The entries of the directory at `path` (symlinks to it followed inside the container),
    /// each with its `lstat` and, for a symlink, its target. Names that vanish meanwhile are
    /// left out.
    pub fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let dir = self.open_in(path, libc::O_RDONLY | libc::O_DIRECTORY)?;
        let mut out = Vec::new();
        // Listed through the descriptor just opened (one open of the directory: on a FUSE
        // storage driver every open is a round trip to its daemon).
        for c in names_in(&dir)? {
            let name = OsString::from_vec(c.as_bytes().to_vec());
            let st = match stat_at(dir.as_raw_fd(), &c, libc::AT_SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) => return Err(e),
            };
            let link = if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                read_link_at(dir.as_raw_fd(), &c).ok()
            } else {
                None
            };
            out.push(DirEntry { name, st, link });
        }
        Ok(out)
    }

    /// Renames `from` to `to`, two names in the same directory (a temporary into place).
    pub fn rename_in(&self, dir: &Path, from: &OsStr, to: &OsStr) -> io::Result<()> {
        let dir = self.open_in(dir, libc::O_PATH | libc::O_DIRECTORY)?;
        let from = CString::new(from.as_bytes()).map_err(|_| einval())?;
        let to = CString::new(to.as_bytes()).map_err(|_| einval())?;
        let d = dir.as_raw_fd();
        // SAFETY: valid C strings, a descriptor we own.
        check(unsafe { libc::renameat(d, from.as_ptr(), d, to.as_ptr()) })
    }

    /// Opens `dest` for writing as the overwrite rule says (`vfs::stream`): an existing file
    /// (through symlinks, confined to the container) in place, truncated or appended to; else
    /// the temporary file `tmp` beside it, renamed onto it by [`ProcWriter::commit`]. A dangling
    /// symlink at `dest` is NotFound, never replaced.
    pub fn create(
        &self,
        dest: &Path,
        tmp: &OsStr,
        mode: u32,
        open: Open,
    ) -> io::Result<ProcWriter> {
        let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        };
        match self.open_in(dest, open.flags()) {
            Ok(fd) => {
                let file = File::from(fd);
                prepare_in_place(&file, open)?;
                let dir = self.open_in(dir, libc::O_PATH | libc::O_DIRECTORY)?;
                return Ok(ProcWriter {
                    file,
                    dir,
                    tmp: None,
                    name: name.to_os_string(),
                    mode,
                    done: false,
                });
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                if self.open_in(dest, libc::O_PATH | libc::O_NOFOLLOW).is_ok() {
                    return Err(e); // a dangling symlink
                }
            }
            Err(e) => return Err(e),
        }
        let dir = self.open_in(dir, libc::O_PATH | libc::O_DIRECTORY)?;
        // A single new component with O_EXCL: nothing to follow, nothing to clobber.
        let fd = open_at(
            dir.as_raw_fd(),
            tmp.as_bytes(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
        )?;
        Ok(ProcWriter {
            file: File::from(fd),
            dir,
            tmp: Some(tmp.to_os_string()),
            name: name.to_os_string(),
            mode,
            done: false,
        })
    }

    /// `mkdir` of `path` with `mode` (the parent resolved inside the root).
    pub fn mkdir(&self, path: &Path, mode: u32) -> io::Result<()> {
        let (dir, name) = self.parent_of(path)?.ok_or_else(eexist)?;
        // SAFETY: a valid C string and a descriptor we own.
        check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t) })
    }

    /// `unlink`, or `rmdir` with `dir`; the last component is never followed.
    pub fn remove(&self, path: &Path, is_dir: bool) -> io::Result<()> {
        let (dir, name) = self
            .parent_of(path)?
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBUSY))?;
        let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
        // SAFETY: a valid C string and a descriptor we own.
        check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) })
    }

    /// A symlink at `path` holding `target` as written.
    pub fn symlink(&self, path: &Path, target: &Path) -> io::Result<()> {
        let (dir, name) = self.parent_of(path)?.ok_or_else(eexist)?;
        let t = CString::new(target.as_os_str().as_bytes()).map_err(|_| einval())?;
        // SAFETY: valid C strings and a descriptor we own.
        check(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })
    }

    /// `rename(from, to)`, both inside the root; the last components are not followed.
    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (fd, fname) = self.parent_of(from)?.ok_or_else(ebusy)?;
        let (td, tname) = self.parent_of(to)?.ok_or_else(ebusy)?;
        // SAFETY: valid C strings and descriptors we own.
        check(unsafe {
            libc::renameat(
                fd.as_raw_fd(),
                fname.as_ptr(),
                td.as_raw_fd(),
                tname.as_ptr(),
            )
        })
    }

    /// A hard link `to` to the existing `from` (not followed, as link(2) on Linux).
    pub fn link(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (fd, fname) = self.parent_of(from)?.ok_or_else(ebusy)?;
        let (td, tname) = self.parent_of(to)?.ok_or_else(eexist)?;
        // SAFETY: valid C strings and descriptors we own.
        check(unsafe {
            libc::linkat(
                fd.as_raw_fd(),
                fname.as_ptr(),
                td.as_raw_fd(),
                tname.as_ptr(),
                0,
            )
        })
    }

    /// `chmod`, symlinks followed inside the root (through `/proc/self/fd`: an `O_PATH`
    /// descriptor cannot be fchmod-ed).
    pub fn chmod(&self, path: &Path, mode: u32) -> io::Result<()> {
        let fd = self.open_in(path, libc::O_PATH)?;
        let p = fd_path(&fd)?;
        // SAFETY: a valid C string.
        check(unsafe { libc::chmod(p.as_ptr(), mode as libc::mode_t) })
    }

    /// `chown`, or `lchown` without `follow`.
    pub fn chown(&self, path: &Path, uid: u32, gid: u32, follow: bool) -> io::Result<()> {
        match (follow, self.parent_of(path)?) {
            (false, Some((dir, name))) => {
                // SAFETY: a valid C string and a descriptor we own.
                check(unsafe {
                    libc::fchownat(
                        dir.as_raw_fd(),
                        name.as_ptr(),
                        uid,
                        gid,
                        libc::AT_SYMLINK_NOFOLLOW,
                    )
                })
            }
            _ => {
                let fd = self.open_in(path, libc::O_PATH)?;
                // SAFETY: a descriptor we own, an empty path with AT_EMPTY_PATH.
                check(unsafe {
                    libc::fchownat(fd.as_raw_fd(), c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH)
                })
            }
        }
    }

    /// Access and modification times, of a final symlink itself without `follow`.
    pub fn set_times(
        &self,
        path: &Path,
        atime: (i64, u32),
        mtime: (i64, u32),
        follow: bool,
    ) -> io::Result<()> {
        let ts = |(s, ns): (i64, u32)| libc::timespec {
            tv_sec: s,
            tv_nsec: i64::from(ns),
        };
        let times = [ts(atime), ts(mtime)];
        match (follow, self.parent_of(path)?) {
            (false, Some((dir, name))) => {
                // SAFETY: a valid C string, a descriptor we own, the two timespecs it reads.
                check(unsafe {
                    libc::utimensat(
                        dir.as_raw_fd(),
                        name.as_ptr(),
                        times.as_ptr(),
                        libc::AT_SYMLINK_NOFOLLOW,
                    )
                })
            }
            _ => {
                let fd = self.open_in(path, libc::O_PATH)?;
                let p = fd_path(&fd)?;
                // SAFETY: a valid C string and the two timespecs utimensat reads.
                check(unsafe { libc::utimensat(libc::AT_FDCWD, p.as_ptr(), times.as_ptr(), 0) })
            }
        }
    }

    /// Removes `name` in `dir`, a file or a whole tree (a temporary of ours left by a failed
    /// copy), without following any symlink: every step is relative to a descriptor.
    pub fn remove_tree_in(&self, dir: &Path, name: &OsStr) -> io::Result<()> {
        let dir = self.open_in(dir, libc::O_PATH | libc::O_DIRECTORY)?;
        remove_at(&dir, name.as_bytes())
    }
}

/// Whether the process of `/proc/PID` runs as root (every uid and gid 0) with no user-namespace
/// remapping; `None` when its files cannot be read.
fn runs_as_root(proc_dir: &OwnedFd) -> Option<bool> {
    let status = read_small(proc_dir, b"status")?;
    let ids_root = |key: &[u8]| {
        status.split(|&b| b == b'\n').any(|l| {
            l.strip_prefix(key).is_some_and(|rest| {
                rest.split(|b| b.is_ascii_whitespace())
                    .filter(|f| !f.is_empty())
                    .all(|f| f == b"0")
            })
        })
    };
    if !ids_root(b"Uid:") || !ids_root(b"Gid:") {
        return Some(false);
    }
    let uid_map = read_small(proc_dir, b"uid_map")?;
    let fields: Vec<&[u8]> = uid_map
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
        .collect();
    Some(fields == [&b"0"[..], b"0", b"4294967295"])
}

/// Removes `name` under the directory `dir`: a tree depth first, never through a symlink.
fn remove_at(dir: &OwnedFd, name: &[u8]) -> io::Result<()> {
    let c = CString::new(name).map_err(|_| einval())?;
    // SAFETY: a valid C string and a descriptor we own.
    if unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EISDIR) {
        return Err(e);
    }
    let sub = open_at(
        dir.as_raw_fd(),
        name,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
    )?;
    let names: Vec<Vec<u8>> = std::fs::read_dir(format!("/proc/self/fd/{}", sub.as_raw_fd()))?
        .flatten()
        .map(|d| d.file_name().as_bytes().to_vec())
        .collect();
    for n in names {
        remove_at(&sub, &n)?;
    }
    // SAFETY: as above.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), libc::AT_REMOVEDIR) })
}

/// Whether an open file lives on a kernel filesystem (procfs, sysfs, cgroups, debugfs...),
/// whose contents depend on who reads them: `/proc/kallsyms` shows addresses to the host's root
/// and zeros to a container's. Such files are not read through the direct path, whose reads
/// carry the host's root rights. Unknown counts as yes.
pub fn on_kernel_fs(f: &File) -> bool {
    // SAFETY: a zeroed `statfs` is a valid value for the kernel to fill in.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a descriptor we own and a `statfs` to write.
    if unsafe { libc::fstatfs(f.as_raw_fd(), &mut st) } != 0 {
        return true;
    }
    matches!(
        st.f_type,
        libc::PROC_SUPER_MAGIC
            | libc::SYSFS_MAGIC
            | libc::CGROUP_SUPER_MAGIC
            | libc::CGROUP2_SUPER_MAGIC
            | libc::DEBUGFS_MAGIC
            | libc::SECURITYFS_MAGIC
            | libc::TRACEFS_MAGIC
            | libc::BPF_FS_MAGIC
    )
}

/// One name of a directory read through the direct path.
pub struct DirEntry {
    pub name: OsString,
    pub st: libc::stat,
    /// The target, for a symlink.
    pub link: Option<Vec<u8>>,
}

fn stat_at(dir: i32, name: &std::ffi::CStr, flags: i32) -> io::Result<libc::stat> {
    // SAFETY: a zeroed `stat` is a valid value for the kernel to fill in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string, a descriptor we own and a `stat` to write.
    check(unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, flags) })?;
    Ok(st)
}

fn read_link_at(dir: i32, name: &std::ffi::CStr) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: `buf` has the length passed; a valid C string and a descriptor we own.
    let n = unsafe { libc::readlinkat(dir, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// A file being written into a container: in place, or under a temporary name.
#[derive(Debug)]
pub struct ProcWriter {
    pub file: File,
    dir: OwnedFd,
    /// The temporary name of a new file; `None` when writing in place.
    tmp: Option<OsString>,
    name: OsString,
    mode: u32,
    done: bool,
}

impl ProcWriter {
    /// Sets mode, owner and times, then renames a new file into place.
    pub fn commit(
        mut self,
        owner: Option<(u32, u32)>,
        mtime: Option<(i64, u32)>,
    ) -> io::Result<()> {
        let fd = self.file.as_raw_fd();
        if let Some((uid, gid)) = owner {
            // SAFETY: plain syscall on a descriptor we own.
            check(unsafe { libc::fchown(fd, uid, gid) })?;
        }
        // After chown, which clears setuid/setgid bits.
        set_mode_if_changed(&self.file, self.mode)?;
        if let Some((s, ns)) = mtime {
            let t = libc::timespec {
                tv_sec: s,
                tv_nsec: i64::from(ns),
            };
            let times = [t, t];
            // SAFETY: `times` holds the two timespecs futimens reads.
            check(unsafe { libc::futimens(fd, times.as_ptr()) })?;
        }
        let Some(tmp) = &self.tmp else {
            self.done = true;
            return Ok(());
        };
        let from = CString::new(tmp.as_bytes()).map_err(|_| einval())?;
        let to = CString::new(self.name.as_bytes()).map_err(|_| einval())?;
        let d = self.dir.as_raw_fd();
        rename_noreplace(d, &from, d, &to)?;
        self.done = true;
        Ok(())
    }
}

impl ProcWriter {
    /// Throws a new file's temporary away (a file written in place keeps what it got); an error
    /// when it could not be removed (the container went away).
    pub fn discard(mut self) -> io::Result<()> {
        self.done = true;
        let Some(tmp) = &self.tmp else { return Ok(()) };
        let c = CString::new(tmp.as_bytes()).map_err(|_| einval())?;
        // SAFETY: a valid C string and a descriptor we own.
        check(unsafe { libc::unlinkat(self.dir.as_raw_fd(), c.as_ptr(), 0) })
    }

    /// Whether this writes a new file under a temporary name (else in place).
    pub fn is_new(&self) -> bool {
        self.tmp.is_some()
    }
}

impl Drop for ProcWriter {
    fn drop(&mut self) {
        if let (false, Some(tmp)) = (self.done, &self.tmp) {
            if let Ok(c) = CString::new(tmp.as_bytes()) {
                // SAFETY: a valid C string and a descriptor we own.
                unsafe { libc::unlinkat(self.dir.as_raw_fd(), c.as_ptr(), 0) };
            }
        }
    }
}

/// Copies up to `max` bytes from `from` to `to` at their current positions, in the kernel
/// (`copy_file_range`) where it can, else through a buffer. Returns 0 at the end of `from`.
pub fn copy_slice(from: &File, to: &File, max: usize) -> io::Result<usize> {
    loop {
        // SAFETY: null offsets use and advance the files' own positions.
        let n = unsafe {
            libc::copy_file_range(
                from.as_raw_fd(),
                std::ptr::null_mut(),
                to.as_raw_fd(),
                std::ptr::null_mut(),
                max,
                0,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EXDEV | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => break,
            _ => return Err(e),
        }
    }
    use std::io::{Read, Write};
    let mut buf = vec![0u8; max.min(1 << 20)];
    let n = loop {
        match (&*from).read(&mut buf) {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    (&*to).write_all(&buf[..n])?;
    Ok(n)
}

/// `struct open_how` of openat2(2) (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn open_at(dir: i32, path: &[u8], flags: i32) -> io::Result<OwnedFd> {
    let c = CString::new(path).map_err(|_| einval())?;
    loop {
        // SAFETY: a valid C string; the mode is used only with O_CREAT.
        let fd = unsafe { libc::openat(dir, c.as_ptr(), flags | libc::O_CLOEXEC, 0o600) };
        if fd >= 0 {
            // SAFETY: the kernel just gave us this descriptor.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A small file under `/proc/PID` (cgroup, status, uid_map).
/// The names in an open directory (without `.` and `..`), read through a duplicate of its
/// descriptor (which shares its file description, so nothing is opened again).
fn names_in(dir: &OwnedFd) -> io::Result<Vec<CString>> {
    // SAFETY: duplicating a descriptor we own.
    let dup = unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` is ours; on success the DIR owns it and closedir closes it.
    let dirp = unsafe { libc::fdopendir(dup) };
    if dirp.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so `dup` is still ours to close.
        unsafe { libc::close(dup) };
        return Err(e);
    }
    let mut names = Vec::new();
    let result = loop {
        // readdir reports an error only through errno: clear it first.
        // SAFETY: errno is thread-local.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `dirp` is a valid DIR until closedir below.
        let ent = unsafe { libc::readdir64(dirp) };
        if ent.is_null() {
            let e = io::Error::last_os_error();
            break match e.raw_os_error() {
                Some(0) | None => Ok(()),
                Some(_) => Err(e),
            };
        }
        // SAFETY: readdir returned an entry whose d_name is NUL-terminated, valid until the
        // next readdir on this DIR; it is copied at once.
        let name = unsafe { std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()) };
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            names.push(name.to_owned());
        }
    };
    // SAFETY: `dirp` came from fdopendir and is closed once.
    unsafe { libc::closedir(dirp) };
    result.map(|()| names)
}

/// `pidfd_open(2)`, or `None` where the kernel has no pidfds.
fn pidfd_open(pid: i64) -> Option<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: a plain syscall with two integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just gave us this descriptor; nobody else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn read_small(dir: &OwnedFd, name: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let fd = open_at(dir.as_raw_fd(), name, libc::O_RDONLY).ok()?;
    let mut out = Vec::new();
    File::from(fd).take(1 << 20).read_to_end(&mut out).ok()?;
    Some(out)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn check(r: i32) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn einval() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

/// `/proc/self/fd/N` of our own descriptor: the file it holds, for calls that take a path.
fn fd_path(fd: &OwnedFd) -> io::Result<CString> {
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(|_| einval())
}

fn eexist() -> io::Error {
    io::Error::from_raw_os_error(libc::EEXIST)
}

fn ebusy() -> io::Error {
    io::Error::from_raw_os_error(libc::EBUSY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_slice_copies_a_host_file_in_slices() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&a, &data).expect("write");
        let from = File::open(&a).expect("open");
        let to = File::create(&b).expect("create");
        let mut slices = 0;
        while copy_slice(&from, &to, 1 << 20).expect("copy") > 0 {
            slices += 1;
        }
        assert_eq!(slices, 3);
        assert_eq!(std::fs::read(&b).expect("read"), data);
    }

    #[test]
    fn kernel_filesystems_are_told_apart() {
        assert!(on_kernel_fs(
            &File::open("/proc/self/status").expect("proc")
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("f");
        std::fs::write(&f, b"x").expect("write");
        assert!(!on_kernel_fs(&File::open(&f).expect("open")));
    }

    #[test]
    fn a_process_that_is_not_the_container_is_refused() {
        // Our own process: its cgroup does not name this made-up container.
        let id = "0123456789abcdef0123456789abcdef";
        assert!(ProcRoot::open(i64::from(std::process::id()), id).is_none());
        assert!(ProcRoot::open(0, id).is_none());
    }
}
