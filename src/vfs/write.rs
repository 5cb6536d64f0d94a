//! The namespace's write side: create, mkdir, remove, rename, links and attributes, on the
//! host, through the agent (running containers) or the archive API (stopped containers, which
//! can only receive new files, directories and symlinks).

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use dockerbox_proto::{Request, Response};

use super::agent::{self, Via};
use super::stream::{Attrs, FileReader, FileWriter, Open, Temp};
use super::{Entry, FsError, Kind, Need, VPath, Vfs};
use crate::host::{AgentConn, ContainerInfo};

/// No second path.
const NONE: &str = "";

impl Vfs {
    /// Opens a file for reading given its attributes (from `stat`, or a listing when walking
    /// a tree): returns them and its bytes.
    pub async fn open_read_known(
        &self,
        p: &VPath,
        e: &Entry,
    ) -> Result<(Entry, FileReader), FsError> {
        if e.is_dir() {
            return Err(FsError::IsADirectory);
        }
        self.agent_for_bulk(p, e.size).await;
        let size = e.size;
        let reader = self
            .serve(p, Need::Read, Path::new(NONE), move |b, at| {
                b.open_read(&at.path, size)
            })
            .await?;
        Ok((e.clone(), reader))
    }

    /// Copies a whole new tree from one container into another as one tar stream (one GET
    /// piped into one PUT, all attributes and hard links kept), when that is exact: `None` when
    /// it does not apply (a host side, a mount point the archive API does not see as the
    /// container does, a name it cannot address). Into a running container the tree is unpacked under a temporary name and
    /// renamed into place by the agent, so it appears whole or not at all.
    pub async fn copy_tree(&self, src: &VPath, dst: &VPath) -> Option<Result<u64, FsError>> {
        let (
            VPath::Container {
                host: h1,
                name: n1,
                path: p1,
            },
            VPath::Container {
                host: h2,
                name: n2,
                path: p2,
            },
        ) = (src, dst)
        else {
            return None;
        };
        let (c1, c2) = (
            self.container(h1.as_deref(), n1).await.ok()?,
            self.container(h2.as_deref(), n2).await.ok()?,
        );
        let (parent, name) = (p2.parent()?, p2.file_name()?);
        p1.to_str()?;
        parent.to_str()?;
        let running = |c: &ContainerInfo| c.state == crate::host::State::Running;
        if (running(&c1) && self.eng(&c1).touches_mount(&c1.id, p1).await)
            || (running(&c2) && self.eng(&c2).touches_mount(&c2.id, p2).await)
        {
            return None;
        }
        if c2.state != crate::host::State::Running {
            let rx = match self.tree_source(&c1, p1).await {
                Ok(rx) => rx,
                Err(e) => return Some(Err(e)),
            };
            return Some(
                self.archive
                    .put_tree(rx, (self.eng(&c2), &c2), parent, name)
                    .await,
            );
        }
        // The remote direct path: one request, copied on the engine's machine.
        if let Some(pair) = self.helper_pair(src, dst).await {
            return Some(self.tree_by_helper(&c2, pair, parent, name, p2).await);
        }
        // Renamed into place directly where we can, else by the agent.
        let lander = match self.eng(&c2).proc_root(&c2).await {
            Some(root) => Ok(root),
            None => match self.via_with(&c2, true).await {
                Via::Agent(conn) => Err(conn),
                Via::Archive(_) => return None,
            },
        };
        let tmp = super::stream::temp_name(name);
        let tmp_path = parent.join(&tmp);
        let temp = Temp::new(&c2.id, tmp_path.clone(), true);
        let moved = match self.tree_source(&c1, p1).await {
            Ok(rx) => {
                self.archive
                    .put_tree(rx, (self.eng(&c2), &c2), parent, &tmp)
                    .await
            }
            Err(e) => Err(e),
        };
        let landed = match (moved, &lander) {
            (Ok(n), Ok(root)) => root
                .rename_in(parent, &tmp, name)
                .map(|()| n)
                .map_err(FsError::from),
            (Ok(n), Err(conn)) => call(
                conn,
                Request::Rename {
                    from: bytes(&tmp_path),
                    to: bytes(p2),
                },
            )
            .await
            .map(|()| n),
            (Err(e), _) => Err(e),
        };
        if landed.is_ok() {
            temp.done();
        } else {
            // Not through the usual calls: after Ctrl-C those give up at once, and the partial
            // tree would stay.
            let removed = match &lander {
                Ok(root) => root.remove_tree_in(parent, &tmp).map_err(FsError::from),
                Err(conn) => {
                    call(
                        conn,
                        Request::RemoveTemp {
                            path: bytes(&tmp_path),
                        },
                    )
                    .await
                }
            };
            match removed {
                Ok(()) | Err(FsError::NotFound) => temp.done(),
                Err(_) => temp.orphan(),
            }
        }
        Some(landed)
    }

    /// A big file in a running container of an engine across a network is worth its agent,
    /// which packs it: started (or waited for) now, rather than the archive API answering raw
    /// while the agent starts, as for a small first read.
    async fn agent_for_bulk(&self, p: &VPath, size: u64) {
        const BIG: u64 = 32 << 20;
        let VPath::Container { host, name, .. } = p else {
            return;
        };
        if size < BIG {
            return;
        }
        let Ok(c) = self.container(host.as_deref(), name).await else {
            return;
        };
        if c.state == crate::host::State::Running && !self.eng(&c).addr().starts_with("unix://") {
            let _ = self.via_with(&c, true).await;
        }
    }

    /// The tar stream of the tree at `path` in container `c`: from its agent, packed, when the
    /// engine is across a network (a tree of small files is mostly tar headers, which pack to
    /// a few percent), else the engine's archive GET (locally the engine's own tar costs less).
    async fn tree_source(
        &self,
        c: &Arc<ContainerInfo>,
        path: &Path,
    ) -> Result<tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>, FsError> {
        let eng = self.eng(c);
        if c.state == crate::host::State::Running && !eng.addr().starts_with("unix://") {
            if let Via::Agent(conn) = self.via_with(c, true).await {
                if conn.packing().await {
                    let s = conn.read_tree(bytes(path)).await?;
                    let how = format!("{}: tree read packed by the agent", path.display());
                    self.notes.note(c, &how);
                    return Ok(agent::tree_channel(s));
                }
            }
        }
        self.archive.download(eng, c, path).await
    }

    /// Removes the temporaries a dead writer left in the running container `c` (`vfs::temps`):
    /// directly, or through its agent (a new one, if the old one died). What cannot be removed
    /// now is kept for the next time.
    pub(super) async fn sweep(&self, c: &Arc<ContainerInfo>) {
        let paths = super::temps::take(&c.id);
        if paths.is_empty() {
            return;
        }
        let root = self.eng(c).proc_root(c).await;
        let conn = match &root {
            Some(_) => None,
            None => match self.via_with(c, true).await {
                Via::Agent(conn) => Some(conn),
                Via::Archive(_) => None,
            },
        };
        for (path, ticket) in paths {
            let removed = match (&root, &conn, path.parent(), path.file_name()) {
                (Some(root), _, Some(dir), Some(name)) => {
                    root.remove_tree_in(dir, name).map_err(FsError::from)
                }
                (None, Some(conn), ..) => {
                    call(conn, Request::RemoveTemp { path: bytes(&path) }).await
                }
                // Only the archive API answers: it cannot remove anything.
                _ => {
                    super::temps::put_back(&c.id, &path, ticket);
                    continue;
                }
            };
            match removed {
                Ok(()) | Err(FsError::NotFound) => {
                    if let Some(t) = ticket {
                        t.done();
                    }
                }
                Err(_) => super::temps::put_back(&c.id, &path, ticket),
            }
        }
    }
    /// Starts writing a file that lands at `p` on commit, as the overwrite rule says
    /// ([`Open::Replace`]; see `vfs::stream`). `size` is the exact length to come (a stopped
    /// container needs it up front).
    pub async fn create(&self, p: &VPath, attrs: &Attrs, size: u64) -> Result<FileWriter, FsError> {
        self.create_with(p, attrs, size, Open::Replace).await
    }

    /// [`Vfs::create`], choosing how an existing file is met (`>>` appends to it in place).
    /// Into a stopped container (the archive API) there is no in place: the entry replaces the
    /// file, and `Append` is the caller's to do (it sends the old content first).
    pub async fn create_with(
        &self,
        p: &VPath,
        attrs: &Attrs,
        size: u64,
        open: Open,
    ) -> Result<FileWriter, FsError> {
        let attrs = *attrs;
        self.serve(p, Need::Write, Path::new(NONE), move |b, at| {
            b.create(&at.path, attrs, size, open)
        })
        .await
    }

    /// Whether [`Vfs::create`] at `p` needs the exact size up front (the archive API: a stopped
    /// container, or `--agent never`), so a stream of unknown length must be spooled first.
    pub async fn create_needs_size(&self, p: &VPath) -> Result<bool, FsError> {
        self.serve(p, Need::Write, Path::new(NONE), |b, _| {
            b.create_needs_size()
        })
        .await
    }

    /// Sets owner and times after a file landed (host and agent; the archive put them in the
    /// tar header already).
    pub async fn finish_attrs(&self, p: &VPath, attrs: &Attrs) -> Result<(), FsError> {
        if let Some((uid, gid)) = attrs.owner {
            self.chown(p, uid, gid, true).await?;
        }
        if let Some(m) = attrs.mtime {
            self.set_times(p, m, m, true).await?;
        }
        Ok(())
    }

    /// `mkdir`, with the attributes applied.
    pub async fn mkdir(&self, p: &VPath, attrs: &Attrs) -> Result<(), FsError> {
        let attrs = *attrs;
        self.serve(p, Need::Write, Path::new(NONE), move |b, at| {
            b.mkdir(&at.path, attrs)
        })
        .await
    }

    /// Gives an existing directory its final mode, owner and times (after its contents were
    /// written).
    pub async fn set_dir_attrs(&self, p: &VPath, attrs: &Attrs) -> Result<(), FsError> {
        let attrs = *attrs;
        self.serve(p, Need::Write, Path::new(NONE), move |b, at| {
            b.set_dir_attrs(&at.path, attrs)
        })
        .await
    }

    /// `symlink`: a link at `link` pointing to `target`.
    pub async fn symlink(&self, target: &Path, link: &VPath, attrs: &Attrs) -> Result<(), FsError> {
        let attrs = *attrs;
        self.serve(link, Need::Write, target, move |b, at| b.symlink(at, attrs))
            .await
    }

    /// `mknod` of a fifo, socket or device (see [`Backend::mknod`]).
    pub async fn mknod(
        &self,
        p: &VPath,
        kind: Kind,
        attrs: &Attrs,
        rdev: u64,
    ) -> Result<(), FsError> {
        if matches!(kind, Kind::File | Kind::Dir | Kind::Symlink) {
            return Err(FsError::errno_error(libc::EINVAL));
        }
        let attrs = *attrs;
        self.serve(p, Need::Write, Path::new(NONE), move |b, at| {
            b.mknod(&at.path, kind, attrs, rdev)
        })
        .await
    }

    /// `unlink` (or `rmdir` with `dir`).
    pub async fn remove(&self, p: &VPath, dir: bool) -> Result<(), FsError> {
        self.serve(p, Need::Write, Path::new(NONE), move |b, at| {
            b.remove(&at.path, dir)
        })
        .await
    }

    /// The second path of a two-path operation inside `from`'s filesystem; across (host and
    /// container, two containers) it is EXDEV, and the caller copies instead.
    async fn same_fs(&self, from: &VPath, to: &VPath) -> Result<std::path::PathBuf, FsError> {
        let exdev = || FsError::errno_error(libc::EXDEV);
        match (from, to) {
            (VPath::Host(_), VPath::Host(b)) => Ok(b.clone()),
            // The backend tells two volumes apart (EXDEV).
            (VPath::Volumes(_), VPath::Volumes(b)) => Ok(b.clone()),
            (VPath::Containers | VPath::Engine(_), _)
            | (_, VPath::Containers | VPath::Engine(_)) => Err(FsError::PermissionDenied),
            (
                VPath::Container {
                    host: h1, name: n1, ..
                },
                VPath::Container {
                    host: h2,
                    name: n2,
                    path,
                },
            ) => {
                let a = self.container(h1.as_deref(), n1).await?;
                let b = self.container(h2.as_deref(), n2).await?;
                if path == Path::new("/") {
                    return Err(FsError::errno_error(libc::EBUSY));
                }
                if a.engine == b.engine && a.id == b.id {
                    Ok(path.clone())
                } else {
                    Err(exdev())
                }
            }
            _ => Err(exdev()),
        }
    }

    /// `rename` within one filesystem; across (host and container, two containers) it is EXDEV,
    /// and the caller copies instead.
    pub async fn rename(&self, from: &VPath, to: &VPath) -> Result<(), FsError> {
        let other = self.same_fs(from, to).await?;
        let r = self
            .serve(from, Need::Write, &other, |b, at| b.rename(at))
            .await;
        if r.is_ok() {
            self.changed(super::Change::Path(to.clone()));
        }
        r
    }

    /// `link`: a hard link within one filesystem.
    pub async fn hard_link(&self, from: &VPath, to: &VPath) -> Result<(), FsError> {
        let other = self.same_fs(from, to).await?;
        let r = self
            .serve(from, Need::Write, &other, |b, at| b.link(at))
            .await;
        if r.is_ok() {
            self.changed(super::Change::Path(to.clone()));
        }
        r
    }

    /// `chmod` (follows symlinks, as chmod(2) does).
    pub async fn chmod(&self, p: &VPath, mode: u32) -> Result<(), FsError> {
        self.serve(p, Need::Write, Path::new(NONE), move |b, at| {
            b.chmod(&at.path, mode)
        })
        .await
    }

    /// `chown`, or `lchown` without `follow`.
    pub async fn chown(&self, p: &VPath, uid: u32, gid: u32, follow: bool) -> Result<(), FsError> {
        self.serve(p, Need::Write, Path::new(NONE), move |b, at| {
            b.chown(&at.path, uid, gid, follow)
        })
        .await
    }

    /// Access and modification times (seconds, nanoseconds).
    pub async fn set_times(
        &self,
        p: &VPath,
        atime: (i64, u32),
        mtime: (i64, u32),
        follow: bool,
    ) -> Result<(), FsError> {
        self.serve(p, Need::Write, Path::new(NONE), move |b, at| {
            b.set_times(&at.path, atime, mtime, follow)
        })
        .await
    }
}

async fn call(conn: &AgentConn, req: Request) -> Result<(), FsError> {
    match conn.call(req).await.map_err(agent::fs_error)? {
        Response::Ok => Ok(()),
        other => Err(FsError::Engine(format!("agent: unexpected {other:?}"))),
    }
}

fn bytes(p: &Path) -> Vec<u8> {
    p.as_os_str().as_bytes().to_vec()
}
