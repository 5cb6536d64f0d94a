//! What a file held open needs (a mount's open files, written and read at offsets): writes at
//! an offset in place, truncate, fsync and statfs, and the new file `create` makes, which is
//! an empty temporary beside its name until it is first closed, so a new file still appears
//! whole at its name (the overwrite rule, `vfs::stream`).

use std::path::Path;

use bytes::Bytes;

use super::backend::StatFs;
use super::stream::{Attrs, Temp};
use super::{FsError, Need, VPath, Vfs};

/// A new file being written under a temporary name beside `dest` (journaled in `vfs::temps`
/// until it landed or was removed, so a killed writer's temporary is swept later).
pub struct NewFile {
    /// Where the bytes go until the file lands.
    pub temp: VPath,
    pub dest: VPath,
    /// Its final permission bits, given when it lands (the temporary is 0600 meanwhile).
    pub mode: u32,
    ticket: Option<Temp>,
}

impl Vfs {
    /// Writes `data` into the existing file at `p` at `offset` (at its end with `append`), in
    /// place. A missing file is `NotFound`: this never makes one.
    pub async fn write_at(
        &self,
        p: &VPath,
        offset: u64,
        data: Bytes,
        append: bool,
    ) -> Result<(), FsError> {
        self.serve(p, Need::InPlace, Path::new(""), move |b, at| {
            b.write_at(&at.path, offset, data.clone(), append)
        })
        .await
    }

    /// `truncate(2)` of an existing file, in place.
    pub async fn truncate(&self, p: &VPath, len: u64) -> Result<(), FsError> {
        self.serve(p, Need::InPlace, Path::new(""), move |b, at| {
            b.truncate(&at.path, len)
        })
        .await
    }

    /// `fsync(2)` (`fdatasync` with `data_only`) of what is at `p`.
    pub async fn fsync(&self, p: &VPath, data_only: bool) -> Result<(), FsError> {
        self.serve(p, Need::InPlace, Path::new(""), move |b, at| {
            b.fsync(&at.path, data_only)
        })
        .await
    }

    /// `statfs(2)` of the filesystem `p` is on.
    pub async fn statfs(&self, p: &VPath) -> Result<StatFs, FsError> {
        self.serve(p, Need::Names, Path::new(""), |b, at| b.statfs(&at.path))
            .await
    }

    /// Starts a new file at `dest` (nothing is there yet): an empty temporary beside it that
    /// [`Vfs::write_at`] fills and [`NewFile::land`] renames onto `dest`.
    pub async fn begin_new(&self, dest: &VPath, mode: u32) -> Result<NewFile, FsError> {
        let VPath::Container { host, name, path } = dest else {
            return Err(FsError::Unsupported);
        };
        let (Some(dir), Some(base)) = (path.parent(), path.file_name()) else {
            return Err(FsError::errno_error(libc::EBUSY));
        };
        let c = self.container(host.as_deref(), name).await?;
        let tmp_path = dir.join(super::temps::name(base));
        let temp = VPath::Container {
            host: host.clone(),
            name: name.clone(),
            path: tmp_path.clone(),
        };
        let ticket = Temp::new(&c.id, tmp_path, true);
        let attrs = Attrs {
            mode: 0o600,
            ..Attrs::default()
        };
        let made = async {
            let w = self.create(&temp, &attrs, 0).await?;
            w.commit().await
        }
        .await;
        if let Err(e) = made {
            ticket.done();
            return Err(e);
        }
        Ok(NewFile {
            temp,
            dest: dest.clone(),
            mode,
            ticket: Some(ticket),
        })
    }
}

impl NewFile {
    /// Gives the file its mode and renames it onto its name (`dest`, which may have changed
    /// since: a rename of the open file).
    pub async fn land(mut self, vfs: &Vfs) -> Result<(), FsError> {
        let r = async {
            vfs.chmod(&self.temp, self.mode).await?;
            vfs.rename(&self.temp, &self.dest).await
        }
        .await;
        match r {
            Ok(()) => {
                if let Some(t) = self.ticket.take() {
                    t.done();
                }
                Ok(())
            }
            Err(e) => {
                self.discard(vfs).await;
                Err(e)
            }
        }
    }

    /// Removes the temporary (the file was never closed, or its container went away).
    pub async fn discard(mut self, vfs: &Vfs) {
        let removed = vfs.remove(&self.temp, false).await;
        if let Some(t) = self.ticket.take() {
            match removed {
                Ok(()) | Err(FsError::NotFound) => t.done(),
                Err(_) => t.orphan(),
            }
        }
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        // Neither landed nor discarded (the mount went away): the next session sweeps it.
        if let Some(t) = self.ticket.take() {
            t.orphan();
        }
    }
}
