//! The direct path as a backend: a running local container's files through `/proc/PID/root`
//! (`host::ProcRoot`, confined with `openat2(RESOLVE_IN_ROOT)`), metadata and reads by plain
//! syscalls, with no agent, no archive round trip and no guessed attribute.
//!
//! Where its answer could differ from what a process in the container sees, it says
//! `Unsupported` and the route asks the agent: a name that is not a regular file when opened
//! for reading, a file on a kernel filesystem (procfs, sysfs: what they show depends on who
//! reads, and we read as the host's root), and a symlink through a magic link
//! (`/proc/self/root`), which openat2 refuses.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use dockerbox_proto::Attr;

use super::backend::{At, Backend, BoxFut, StatFs};
use super::stream::{Attrs, FileReader, FileWriter, Open, Temp};
use super::{agent, Entry, FsError, Notes};
use crate::host::{on_kernel_fs, ContainerInfo, ProcRoot};

pub struct DirectFs<'v> {
    pub root: Arc<ProcRoot>,
    pub c: Arc<ContainerInfo>,
    pub notes: &'v Notes,
}

impl DirectFs<'_> {
    /// Runs one syscall-backed step; a process that went away is `Gone` (the route picks
    /// again: a restarted container has a new root).
    fn run<'a, T: Send + 'a>(
        &'a self,
        f: impl FnOnce(&ProcRoot) -> std::io::Result<T> + Send + 'a,
    ) -> BoxFut<'a, T> {
        Box::pin(async move {
            if !self.root.alive() {
                return Err(FsError::Gone);
            }
            f(&self.root).map_err(|e| match e.raw_os_error() {
                // A magic link on the way (openat2 refuses them): the container's own view
                // may differ, the agent answers.
                Some(libc::ELOOP) => FsError::Unsupported,
                _ => FsError::from(e),
            })
        })
    }
}

impl DirectFs<'_> {
    /// Opens a regular file for reading, or says `Unsupported` where the agent should answer.
    async fn open_file(&self, path: &Path) -> Result<std::fs::File, FsError> {
        let f = match self.run(move |r| Ok(r.open_read(path))).await? {
            Ok(f) => f,
            // Not a regular file (a directory, a fifo): the next backend words it as the
            // container would.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Err(FsError::Unsupported),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(FsError::Unsupported),
            Err(e) => return Err(e.into()),
        };
        if on_kernel_fs(&f) {
            // Read as the container's processes would: by the agent, not as the host's root
            // (and never the archive API's layer beneath, when a link led here).
            return Err(FsError::OnMount);
        }
        Ok(f)
    }
}

/// An entry from `stat(2)` attributes, the way the agent builds its own.
fn entry(name: OsString, st: &libc::stat, link: Option<Vec<u8>>) -> Entry {
    let a = Attr {
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
        size: st.st_size as u64,
        mtime: st.st_mtime,
        mtime_nsec: st.st_mtime_nsec as u32,
        rdev: st.st_rdev,
        nlink: st.st_nlink,
        blocks: st.st_blocks as u64,
        dev: st.st_dev,
        ino: st.st_ino,
        atime: st.st_atime,
        atime_nsec: st.st_atime_nsec as u32,
        ctime: st.st_ctime,
        ctime_nsec: st.st_ctime_nsec as u32,
    };
    agent::entry(name, &a, link)
}

fn basename(p: &Path) -> OsString {
    p.file_name()
        .map(OsString::from)
        .unwrap_or_else(|| OsString::from("/"))
}

impl Backend for DirectFs<'_> {
    fn lstat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        self.run(move |r| {
            let st = r.lstat(path)?;
            let link = if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                Some(r.readlink(path)?)
            } else {
                None
            };
            Ok(entry(basename(path), &st, link))
        })
    }

    fn stat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        self.run(move |r| Ok(entry(basename(path), &r.stat(path)?, None)))
    }

    fn read_dir<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Arc<Vec<Entry>>> {
        self.run(move |r| {
            let list = r.read_dir(path)?;
            Ok(Arc::new(
                list.into_iter()
                    .map(|d| entry(d.name, &d.st, d.link))
                    .collect(),
            ))
        })
    }

    fn readlink<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        self.run(move |r| Ok(PathBuf::from(OsString::from_vec(r.readlink(path)?))))
    }

    fn realpath<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        Box::pin(super::backend::realpath(self, path))
    }

    fn open_read<'a>(&'a self, path: &'a Path, _size_hint: u64) -> BoxFut<'a, FileReader> {
        Box::pin(async move {
            let f = self.open_file(path).await?;
            self.notes
                .note(&self.c, "read directly through /proc/PID/root");
            Ok(FileReader::Local(f))
        })
    }

    fn read_at<'a>(&'a self, path: &'a Path, offset: u64, len: usize) -> BoxFut<'a, Bytes> {
        Box::pin(async move {
            let f = self.open_file(path).await?;
            Ok(super::hostfs::pread(&f, offset, len)?)
        })
    }

    fn write_at<'a>(
        &'a self,
        path: &'a Path,
        offset: u64,
        data: Bytes,
        append: bool,
    ) -> BoxFut<'a, ()> {
        self.run(move |r| {
            use std::io::Write;
            use std::os::unix::fs::FileExt;
            let mut f = r.open_write(path, append)?;
            if append {
                f.write_all(&data)
            } else {
                f.write_all_at(&data, offset)
            }
        })
    }

    fn truncate<'a>(&'a self, path: &'a Path, len: u64) -> BoxFut<'a, ()> {
        self.run(move |r| r.open_write(path, false)?.set_len(len))
    }

    fn fsync<'a>(&'a self, path: &'a Path, data_only: bool) -> BoxFut<'a, ()> {
        self.run(move |r| {
            let f = r.open_sync(path)?;
            if data_only {
                f.sync_data()
            } else {
                f.sync_all()
            }
        })
    }

    fn statfs<'a>(&'a self, _path: &'a Path) -> BoxFut<'a, StatFs> {
        self.run(move |r| Ok(super::hostfs::stat_fs(&r.statfs()?)))
    }

    fn create<'a>(
        &'a self,
        path: &'a Path,
        attrs: Attrs,
        _size: u64,
        open: Open,
    ) -> BoxFut<'a, FileWriter> {
        Box::pin(async move {
            let (tmp, temp) = Temp::beside(&self.c.id, path);
            let w = match self
                .run(move |r| r.create(path, &tmp, attrs.mode, open))
                .await
            {
                Ok(w) => w,
                Err(e) => {
                    temp.done();
                    return Err(e);
                }
            };
            let temp = temp.unless_in_place(w.is_new());
            self.notes
                .note(&self.c, "written directly through /proc/PID/root");
            Ok(FileWriter::Direct(w, attrs, temp))
        })
    }

    fn create_needs_size(&self) -> BoxFut<'_, bool> {
        Box::pin(async { Ok(false) })
    }

    /// Two names in one directory (a temporary into place); anything else goes to the agent.
    fn rename<'a>(&'a self, at: &'a At) -> BoxFut<'a, ()> {
        let (Some(dir), Some(from), Some(to)) =
            (at.path.parent(), at.path.file_name(), at.other.file_name())
        else {
            return super::backend::unsupported();
        };
        if at.other.parent() != Some(dir) {
            return super::backend::unsupported();
        }
        self.run(move |r| r.rename_in(dir, from, to))
    }
}

impl super::Vfs {
    /// A running local container's regular file opened on the host through the direct path
    /// (read-only, or read-write with `write`), for a frontend that hands the kernel the file
    /// itself (a mount's passthrough). `None` wherever the direct path would not serve the
    /// file as the container sees it: no direct path (a remote engine, `DOCKERBOX_DIRECT=0`,
    /// a stopped container), the kernel's filesystems, anything but a regular file, a magic
    /// link on the way.
    pub async fn open_direct(&self, p: &super::VPath, write: bool) -> Option<std::fs::File> {
        let super::VPath::Container { host, name, path } = p else {
            return None;
        };
        if path.starts_with("/proc") || path.starts_with("/sys") || p.limits_error().is_some() {
            return None;
        }
        let c = self.container(host.as_deref(), name).await.ok()?;
        let root = self.eng(&c).proc_root(&c).await?;
        let f = if write {
            root.open_rw(path)
        } else {
            root.open_read(path)
        }
        .ok()?;
        if on_kernel_fs(&f) || !root.alive() {
            return None;
        }
        Some(f)
    }
}
