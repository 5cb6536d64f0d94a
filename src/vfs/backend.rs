//! The seam under the namespace: what one backend (the host, `/containers`, the direct path, the
//! agent, the archive API) can do for paths inside the filesystem it serves.
//!
//! Every method defaults to `Err(FsError::Unsupported)`, as distant's `Api` does, so a read-only
//! tree implements only what it serves; [`Vfs::serve`](super::Vfs) moves down the route on
//! `Unsupported` and picks the route again, once, on `Gone`. Paths are absolute inside the
//! backend's filesystem (a container's root is `/`). Futures are `Send`: a frontend on other
//! threads (the FUSE mount) may drive them. No method prints.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
pub use dockerbox_proto::StatFs;

use super::stream::{Attrs, FileReader, FileWriter, Open};
use super::{Entry, FsError};

/// A backend's answer to come.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, FsError>> + Send + 'a>>;

/// What a backend answers for what it does not do: the route asks the next one.
pub fn unsupported<'a, T: 'a>() -> BoxFut<'a, T> {
    Box::pin(async { Err(FsError::Unsupported) })
}

/// The paths an operation is about: `path`, and for `rename`, `link` and `symlink` the other
/// one (the new name; for `symlink`, the link's target text).
#[derive(Debug, Clone, Default)]
pub struct At {
    pub path: PathBuf,
    pub other: PathBuf,
}

/// One filesystem's operations. Each default is `Err(FsError::Unsupported)` unless its doc says
/// otherwise.
pub trait Backend: Send + Sync {
    /// What a write answers that this backend does not serve, when no backend after it on the
    /// route does either. Default `Unsupported`; a read-only tree says `EROFS` (or `EACCES`)
    /// here once instead of in every write method.
    fn refuse_write(&self) -> FsError {
        FsError::Unsupported
    }

    /// What is at the path itself (a final symlink is not followed; its target is filled in).
    fn lstat<'a>(&'a self, _path: &'a Path) -> BoxFut<'a, Entry> {
        unsupported()
    }

    /// What the path leads to, symlinks followed inside the filesystem (a dangling one is
    /// `NotFound`, as stat(2) says).
    fn stat<'a>(&'a self, _path: &'a Path) -> BoxFut<'a, Entry> {
        unsupported()
    }

    /// A directory's entries with their attributes (a symlink to a directory is followed),
    /// unsorted, without `.` and `..`.
    fn read_dir<'a>(&'a self, _path: &'a Path) -> BoxFut<'a, Arc<Vec<Entry>>> {
        unsupported()
    }

    /// A symlink's target, as written.
    fn readlink<'a>(&'a self, _path: &'a Path) -> BoxFut<'a, PathBuf> {
        unsupported()
    }

    /// The path with every symlink resolved, inside the filesystem.
    fn realpath<'a>(&'a self, _path: &'a Path) -> BoxFut<'a, PathBuf> {
        unsupported()
    }

    /// Opens a regular file (symlinks followed) as a stream of chunks. `size_hint` is its size
    /// when the caller knows it (`u64::MAX` when not): big files may take another way.
    fn open_read<'a>(&'a self, _path: &'a Path, _size_hint: u64) -> BoxFut<'a, FileReader> {
        unsupported()
    }

    /// Up to `len` bytes at `offset` (fewer only at the end of the file).
    fn read_at<'a>(&'a self, _path: &'a Path, _offset: u64, _len: usize) -> BoxFut<'a, Bytes> {
        unsupported()
    }

    /// Writes `data` into an existing regular file at `offset` (at its end, whatever its length
    /// now, with `append`), in place: no file is made, and a missing one is `NotFound`. What a
    /// mount's writes into an open file need; stateless, by path.
    fn write_at<'a>(
        &'a self,
        _path: &'a Path,
        _offset: u64,
        _data: Bytes,
        _append: bool,
    ) -> BoxFut<'a, ()> {
        unsupported()
    }

    /// `truncate(2)`: an existing regular file cut or extended to `len`, in place.
    fn truncate<'a>(&'a self, _path: &'a Path, _len: u64) -> BoxFut<'a, ()> {
        unsupported()
    }

    /// `fsync(2)` (`fdatasync` with `data_only`) of what is at the path.
    fn fsync<'a>(&'a self, _path: &'a Path, _data_only: bool) -> BoxFut<'a, ()> {
        unsupported()
    }

    /// `statfs(2)` of the filesystem the path is on.
    fn statfs<'a>(&'a self, _path: &'a Path) -> BoxFut<'a, StatFs> {
        unsupported()
    }

    /// Starts writing a file at the path as the overwrite rule says (`vfs::stream`): an existing
    /// file is written in place as `open` says, a new one lands whole on `commit`. `size` is the
    /// exact length to come, which some backends need up front (see
    /// [`Backend::create_needs_size`]).
    fn create<'a>(
        &'a self,
        _path: &'a Path,
        _attrs: Attrs,
        _size: u64,
        _open: Open,
    ) -> BoxFut<'a, FileWriter> {
        unsupported()
    }

    /// Whether [`Backend::create`] needs the exact size before the first byte.
    fn create_needs_size(&self) -> BoxFut<'_, bool> {
        unsupported()
    }

    /// `mkdir` with the attributes' mode (owner and times are set by the caller after).
    fn mkdir<'a>(&'a self, _path: &'a Path, _attrs: Attrs) -> BoxFut<'a, ()> {
        unsupported()
    }

    /// Gives an existing directory its final mode, owner and times. Default: [`Backend::chmod`],
    /// then [`Backend::chown`] and [`Backend::set_times`] for what `attrs` carries.
    fn set_dir_attrs<'a>(&'a self, path: &'a Path, attrs: Attrs) -> BoxFut<'a, ()> {
        Box::pin(async move {
            self.chmod(path, attrs.mode).await?;
            if let Some((uid, gid)) = attrs.owner {
                self.chown(path, uid, gid, false).await?;
            }
            if let Some(m) = attrs.mtime {
                self.set_times(path, m, m, false).await?;
            }
            Ok(())
        })
    }

    /// `mknod(2)` of a special file: a fifo, socket, character or block device (`kind`; never
    /// a regular file or directory, which `create` and `mkdir` make) with the attributes'
    /// mode and owner (when it carries one), `rdev` its device number.
    fn mknod<'a>(
        &'a self,
        _path: &'a Path,
        _kind: super::Kind,
        _attrs: Attrs,
        _rdev: u64,
    ) -> BoxFut<'a, ()> {
        unsupported()
    }

    /// A symlink at `at.path` whose target is `at.other`; `attrs` may carry its owner.
    fn symlink<'a>(&'a self, _at: &'a At, _attrs: Attrs) -> BoxFut<'a, ()> {
        unsupported()
    }

    /// `unlink`, or `rmdir` with `dir`.
    fn remove<'a>(&'a self, _path: &'a Path, _dir: bool) -> BoxFut<'a, ()> {
        unsupported()
    }

    /// `rename(at.path, at.other)` within this filesystem.
    fn rename<'a>(&'a self, _at: &'a At) -> BoxFut<'a, ()> {
        unsupported()
    }

    /// A hard link `at.other` to the existing `at.path`.
    fn link<'a>(&'a self, _at: &'a At) -> BoxFut<'a, ()> {
        unsupported()
    }

    /// `chmod` (follows symlinks, as chmod(2) does).
    fn chmod<'a>(&'a self, _path: &'a Path, _mode: u32) -> BoxFut<'a, ()> {
        unsupported()
    }

    /// `chown`, or `lchown` without `follow`.
    fn chown<'a>(&'a self, _path: &'a Path, _uid: u32, _gid: u32, _follow: bool) -> BoxFut<'a, ()> {
        unsupported()
    }

    /// Access and modification times (seconds, nanoseconds).
    fn set_times<'a>(
        &'a self,
        _path: &'a Path,
        _atime: (i64, u32),
        _mtime: (i64, u32),
        _follow: bool,
    ) -> BoxFut<'a, ()> {
        unsupported()
    }
}

/// `realpath` over any backend's `lstat`: every component resolved, confined to the
/// filesystem's root. `..` at the root stays there and an absolute target starts again from
/// the root, as for a process whose root this is; more than 40 links is `Loop`.
pub async fn realpath(b: &(dyn Backend + '_), path: &Path) -> Result<PathBuf, FsError> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    use std::path::Component;
    let parts = |p: &Path| -> Vec<OsString> {
        p.components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                Component::ParentDir => Some("..".into()),
                _ => None,
            })
            .collect()
    };
    let mut done = PathBuf::from("/");
    let mut todo: VecDeque<OsString> = parts(path).into();
    let mut links = 0;
    while let Some(part) = todo.pop_front() {
        if part == ".." {
            done.pop();
            continue;
        }
        let next = done.join(&part);
        let e = b.lstat(&next).await?;
        match (e.kind, e.link_target) {
            (super::Kind::Symlink, target) => {
                links += 1;
                if links > super::MAX_LINKS {
                    return Err(FsError::Loop);
                }
                let target = match target {
                    Some(t) => t,
                    None => b.readlink(&next).await?,
                };
                if target.is_absolute() {
                    done = PathBuf::from("/");
                }
                for p in parts(&target).into_iter().rev() {
                    todo.push_front(p);
                }
            }
            (kind, _) => {
                if !todo.is_empty() && kind != super::Kind::Dir {
                    return Err(FsError::NotADirectory);
                }
                done = next;
            }
        }
    }
    Ok(done)
}
