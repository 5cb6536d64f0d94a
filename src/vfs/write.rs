//! The namespace's write side: create, mkdir, remove, rename, links and attributes, on the
//! host, through the agent (running containers) or the archive API (stopped containers, which
//! can only receive new files, directories and symlinks).

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dockerbox_proto::{Request, Response};

use super::agent::{self, Via};
use super::stream::{Attrs, FileReader, FileWriter, HostWriter, Open, Temp};
use super::{Entry, FsError, VPath, Vfs};
use crate::host::{AgentConn, ContainerInfo};

/// Where a write goes.
enum Target<'a> {
    Host(&'a Path),
    Agent(Arc<AgentConn>, &'a Path),
    /// A container the agent cannot serve: the archive API (new entries only).
    Archive(Arc<ContainerInfo>, &'a Path, String),
}

impl Vfs {
    async fn target<'a>(&self, p: &'a VPath) -> Result<Target<'a>, FsError> {
        match p {
            VPath::Host(h) => Ok(Target::Host(h)),
            VPath::Containers | VPath::Engine(_) => Err(FsError::PermissionDenied),
            VPath::Container { host, name, path } => {
                let c = self.container(host.as_deref(), name).await?;
                if path == Path::new("/") {
                    return Err(FsError::from(io::Error::from_raw_os_error(libc::EBUSY)));
                }
                match self.via_with(&c, true).await {
                    Via::Agent(conn) => Ok(Target::Agent(conn, path)),
                    Via::Archive(why) => Ok(Target::Archive(c, path, why)),
                }
            }
        }
    }

    /// Opens a file for reading given its attributes (from `stat`, or a listing when walking
    /// a tree): returns them and its bytes.
    pub async fn open_read_known(
        &self,
        p: &VPath,
        e: &Entry,
    ) -> Result<(Entry, FileReader), FsError> {
        let e = e.clone();
        if e.is_dir() {
            return Err(FsError::IsADirectory);
        }
        let reader = match p {
            VPath::Host(h) => FileReader::Local(std::fs::File::open(h)?),
            VPath::Containers | VPath::Engine(_) => return Err(FsError::IsADirectory),
            VPath::Container { host, name, path } => {
                let c = self.container(host.as_deref(), name).await?;
                if let Some(root) = self.eng(&c).proc_root(&c).await {
                    self.note(&c, "read directly through /proc/PID/root");
                    return Ok((e, FileReader::Local(root.open_read(path)?)));
                }
                match self.via(&c, path).await {
                    Via::Agent(conn) => {
                        match self.big_file_via_archive(&c, &conn, path, e.size).await {
                            Some(real) => FileReader::Archive(
                                self.archive.open_read(self.eng(&c), &c, &real).await?,
                            ),
                            None => FileReader::Agent(
                                conn.open_read(bytes(path)).await.map_err(agent::fs_error)?,
                            ),
                        }
                    }
                    Via::Archive(_) => {
                        let (real, _) = self.resolve(&c, path).await?;
                        FileReader::Archive(self.archive.open_read(self.eng(&c), &c, &real).await?)
                    }
                }
            }
        };
        Ok((e, reader))
    }

    /// Copies a whole new tree from one container into another as one tar stream (one GET
    /// piped into one PUT, all attributes and hard links kept), when that is exact: `None` when
    /// it does not apply (a host side, a tmpfs the archive API cannot see, a name it cannot
    /// address). Into a running container the tree is unpacked under a temporary name and
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
        if self.eng(&c1).under_tmpfs(&c1.id, p1).await
            || self.eng(&c2).under_tmpfs(&c2.id, p2).await
        {
            return None;
        }
        if c2.state != crate::host::State::Running {
            return Some(
                self.archive
                    .copy_tree((self.eng(&c1), &c1), p1, (self.eng(&c2), &c2), parent, name)
                    .await,
            );
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
        let moved = self
            .archive
            .copy_tree((self.eng(&c1), &c1), p1, (self.eng(&c2), &c2), parent, &tmp)
            .await;
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
        if let VPath::Container { host, name, path } = p {
            let c = self.container(host.as_deref(), name).await?;
            if let Some(root) = self.eng(&c).proc_root(&c).await {
                self.note(&c, "written directly through /proc/PID/root");
                let tmp = super::stream::temp_name(path.file_name().unwrap_or_default());
                let tmp_path = path.with_file_name(&tmp);
                let temp = Temp::new(&c.id, tmp_path, true);
                let w = match root.create(path, &tmp, attrs.mode, open) {
                    Ok(w) => w,
                    Err(e) => {
                        temp.done();
                        return Err(e.into());
                    }
                };
                let temp = if w.is_new() {
                    temp
                } else {
                    temp.done();
                    Temp::new(&c.id, PathBuf::new(), false)
                };
                return Ok(FileWriter::Direct(w, *attrs, temp));
            }
        }
        match self.target(p).await? {
            Target::Host(h) => Ok(FileWriter::Host(HostWriter::create(h, attrs.mode, open)?)),
            Target::Agent(conn, path) => {
                let tmp = super::stream::temp_name(path.file_name().unwrap_or_default());
                let id = match p {
                    VPath::Container { host, name, .. } => {
                        self.container(host.as_deref(), name).await?.id.clone()
                    }
                    _ => String::new(),
                };
                let temp = Temp::new(&id, path.with_file_name(&tmp), true);
                let w = conn
                    .begin_write(
                        bytes(path),
                        tmp.as_bytes().to_vec(),
                        attrs.mode,
                        open == Open::Append,
                    )
                    .await;
                match w {
                    Ok(w) => Ok(FileWriter::Agent(w, temp)),
                    Err(e) => {
                        temp.done();
                        Err(agent::fs_error(e))
                    }
                }
            }
            Target::Archive(c, path, _) => {
                // A symlink is written through (resolved inside the container), never replaced.
                let real = match self.archive.lstat(self.eng(&c), &c, path).await {
                    Ok(e) if e.kind == super::Kind::Symlink => self.resolve(&c, path).await?.0,
                    _ => path.to_path_buf(),
                };
                Ok(FileWriter::Archive(
                    self.archive
                        .create(self.eng(&c), &c, &real, attrs, size)
                        .await
                        .map_err(ro)?,
                ))
            }
        }
    }

    /// Whether [`Vfs::create`] at `p` needs the exact size up front (the archive API: a stopped
    /// container, or `--agent never`), so a stream of unknown length must be spooled first.
    pub async fn create_needs_size(&self, p: &VPath) -> Result<bool, FsError> {
        if let VPath::Container { host, name, .. } = p {
            let c = self.container(host.as_deref(), name).await?;
            if self.eng(&c).proc_root(&c).await.is_some() {
                return Ok(false);
            }
        }
        Ok(matches!(self.target(p).await?, Target::Archive(..)))
    }

    /// Sets owner and times after a file landed (host and agent; the archive put them in the
    /// tar header already). Through a symlink, as the file was written: `p` is a regular file or
    /// a directory that was just made or written, or a symlink that was written through.
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
        match self.target(p).await? {
            Target::Host(h) => {
                use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
                std::fs::DirBuilder::new().mode(attrs.mode).create(h)?;
                std::fs::set_permissions(h, std::fs::Permissions::from_mode(attrs.mode))?;
            }
            Target::Agent(conn, path) => {
                call(
                    &conn,
                    Request::Mkdir {
                        path: bytes(path),
                        mode: attrs.mode,
                    },
                )
                .await?;
            }
            Target::Archive(c, path, _) => {
                if self.lstat(p).await.is_ok() {
                    return Err(FsError::from(io::Error::from_raw_os_error(libc::EEXIST)));
                }
                return self
                    .archive
                    .put_entry(
                        self.eng(&c),
                        &c,
                        path,
                        tar::EntryType::Directory,
                        attrs,
                        None,
                    )
                    .await
                    .map_err(ro);
            }
        }
        self.finish_attrs(p, attrs).await
    }

    /// Gives an existing directory its final mode, owner and times (after its contents were
    /// written). In a stopped container the directory's tar entry is sent again: the engine
    /// applies the attributes of an entry that already exists.
    pub async fn set_dir_attrs(&self, p: &VPath, attrs: &Attrs) -> Result<(), FsError> {
        match self.target(p).await? {
            Target::Archive(c, path, _) => self
                .archive
                .put_entry(
                    self.eng(&c),
                    &c,
                    path,
                    tar::EntryType::Directory,
                    attrs,
                    None,
                )
                .await
                .map_err(ro),
            _ => {
                self.chmod(p, attrs.mode).await?;
                self.finish_attrs(p, attrs).await
            }
        }
    }

    /// `symlink`: a link at `link` pointing to `target`.
    pub async fn symlink(&self, target: &Path, link: &VPath, attrs: &Attrs) -> Result<(), FsError> {
        match self.target(link).await? {
            Target::Host(h) => std::os::unix::fs::symlink(target, h)?,
            Target::Agent(conn, path) => {
                call(
                    &conn,
                    Request::Symlink {
                        target: bytes(target),
                        link: bytes(path),
                    },
                )
                .await?;
            }
            Target::Archive(c, path, _) => {
                if self.lstat(link).await.is_ok() {
                    return Err(FsError::from(io::Error::from_raw_os_error(libc::EEXIST)));
                }
                let a = Attrs {
                    mode: 0o777,
                    ..*attrs
                };
                return self
                    .archive
                    .put_entry(
                        self.eng(&c),
                        &c,
                        path,
                        tar::EntryType::Symlink,
                        &a,
                        Some(target),
                    )
                    .await
                    .map_err(ro);
            }
        }
        if let Some((uid, gid)) = attrs.owner {
            self.chown(link, uid, gid, false).await?;
        }
        Ok(())
    }

    /// `unlink` (or `rmdir` with `dir`).
    pub async fn remove(&self, p: &VPath, dir: bool) -> Result<(), FsError> {
        match self.target(p).await? {
            Target::Host(h) => {
                if dir {
                    std::fs::remove_dir(h)?
                } else {
                    std::fs::remove_file(h)?
                }
            }
            Target::Agent(conn, path) => {
                let req = if dir {
                    Request::Rmdir { path: bytes(path) }
                } else {
                    Request::Unlink { path: bytes(path) }
                };
                call(&conn, req).await?;
            }
            Target::Archive(c, _, why) => return Err(not_running(&c, &why)),
        }
        Ok(())
    }

    /// `rename` within one filesystem; across (host and container, two containers) it is EXDEV,
    /// and the caller copies instead.
    pub async fn rename(&self, from: &VPath, to: &VPath) -> Result<(), FsError> {
        let exdev = || FsError::from(io::Error::from_raw_os_error(libc::EXDEV));
        match (self.target(from).await?, self.target(to).await?) {
            (Target::Host(a), Target::Host(b)) => std::fs::rename(a, b)?,
            (Target::Agent(ca, a), Target::Agent(cb, b)) if Arc::ptr_eq(&ca, &cb) => {
                call(
                    &ca,
                    Request::Rename {
                        from: bytes(a),
                        to: bytes(b),
                    },
                )
                .await?;
            }
            (Target::Archive(c, _, why), _) | (_, Target::Archive(c, _, why))
                if from.container() == to.container() =>
            {
                return Err(not_running(&c, &why))
            }
            _ => return Err(exdev()),
        }
        Ok(())
    }

    /// `link`: a hard link within one filesystem.
    pub async fn hard_link(&self, from: &VPath, to: &VPath) -> Result<(), FsError> {
        match (self.target(from).await?, self.target(to).await?) {
            (Target::Host(a), Target::Host(b)) => std::fs::hard_link(a, b)?,
            (Target::Agent(ca, a), Target::Agent(cb, b)) if Arc::ptr_eq(&ca, &cb) => {
                call(
                    &ca,
                    Request::Link {
                        from: bytes(a),
                        to: bytes(b),
                    },
                )
                .await?;
            }
            (Target::Archive(c, a, _), Target::Archive(c2, b, _)) if c.id == c2.id => {
                self.archive
                    .put_hard_link(self.eng(&c), &c, a, b)
                    .await
                    .map_err(ro)?;
            }
            _ => return Err(FsError::from(io::Error::from_raw_os_error(libc::EXDEV))),
        }
        Ok(())
    }

    /// `chmod` (follows symlinks, as chmod(2) does).
    pub async fn chmod(&self, p: &VPath, mode: u32) -> Result<(), FsError> {
        match self.target(p).await? {
            Target::Host(h) => {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(h, std::fs::Permissions::from_mode(mode))?
            }
            Target::Agent(conn, path) => {
                call(
                    &conn,
                    Request::Chmod {
                        path: bytes(path),
                        mode,
                    },
                )
                .await?
            }
            Target::Archive(c, _, why) => return Err(not_running(&c, &why)),
        }
        Ok(())
    }

    /// `chown`, or `lchown` without `follow`.
    pub async fn chown(&self, p: &VPath, uid: u32, gid: u32, follow: bool) -> Result<(), FsError> {
        match self.target(p).await? {
            Target::Host(h) => {
                if follow {
                    std::os::unix::fs::chown(h, Some(uid), Some(gid))?
                } else {
                    std::os::unix::fs::lchown(h, Some(uid), Some(gid))?
                }
            }
            Target::Agent(conn, path) => {
                call(
                    &conn,
                    Request::Chown {
                        path: bytes(path),
                        uid,
                        gid,
                        follow,
                    },
                )
                .await?
            }
            Target::Archive(c, _, why) => return Err(not_running(&c, &why)),
        }
        Ok(())
    }

    /// Access and modification times (seconds, nanoseconds).
    pub async fn set_times(
        &self,
        p: &VPath,
        atime: (i64, u32),
        mtime: (i64, u32),
        follow: bool,
    ) -> Result<(), FsError> {
        match self.target(p).await? {
            Target::Host(h) => host_utimes(h, atime, mtime, follow)?,
            Target::Agent(conn, path) => {
                call(
                    &conn,
                    Request::Utimes {
                        path: bytes(path),
                        atime,
                        mtime,
                        follow,
                    },
                )
                .await?;
            }
            Target::Archive(c, _, why) => return Err(not_running(&c, &why)),
        }
        Ok(())
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

use super::stream::read_only as ro;

fn not_running(c: &ContainerInfo, why: &str) -> FsError {
    if c.state == crate::host::State::Running {
        // Running, but the agent cannot run there (read-only root, noexec...).
        if why.contains("read-only") {
            return FsError::from(io::Error::from_raw_os_error(libc::EROFS));
        }
        return FsError::Engine(format!("not possible without the agent ({why})"));
    }
    FsError::NotRunning(c.state.as_str())
}

fn host_utimes(p: &Path, atime: (i64, u32), mtime: (i64, u32), follow: bool) -> io::Result<()> {
    let c = std::ffi::CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let ts = [
        libc::timespec {
            tv_sec: atime.0 as libc::time_t,
            tv_nsec: atime.1 as _,
        },
        libc::timespec {
            tv_sec: mtime.0 as libc::time_t,
            tv_nsec: mtime.1 as _,
        },
    ];
    let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
    // SAFETY: a valid C string and two timespecs.
    if unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), ts.as_ptr(), flags) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
