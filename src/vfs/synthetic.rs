//! The synthetic directories: `/containers` (the containers of the one engine, or one directory
//! per engine) and `/containers/HOST` (one engine's containers). Read-only: listing and stat.

use std::path::Path;
use std::sync::Arc;

use super::backend::{Backend, BoxFut};
use super::stream::FileReader;
use super::{Entry, FsError, Kind, Vfs};
use crate::host::{ContainerInfo, EngineSummary};

/// `/containers` (`host: None`) or `/containers/HOST`.
pub struct Containers<'v> {
    pub vfs: &'v Vfs,
    pub host: Option<String>,
}

/// `/containers` itself, as its parent lists it.
pub fn containers_dir() -> Entry {
    let mut e = Entry::new("containers", Kind::Dir);
    e.perm = 0o555;
    e.nlink = 2;
    e
}

/// An engine as a directory of `/containers` (several engines).
pub fn engine_entry(sum: EngineSummary) -> Entry {
    let mut e = Entry::new(sum.name.clone(), Kind::Dir);
    e.perm = 0o555;
    e.nlink = 2;
    e.engine = Some(Arc::new(sum));
    e
}

/// A container as a directory of `/containers`.
pub fn container_entry(c: &Arc<ContainerInfo>) -> Entry {
    let mut e = Entry::new(c.name.clone(), Kind::Dir);
    e.perm = 0o755;
    e.nlink = 2;
    e.mtime = c.created;
    e.container = Some(c.clone());
    e
}

impl Backend for Containers<'_> {
    /// A read-only tree: every write it does not serve is refused.
    fn refuse_write(&self) -> FsError {
        FsError::PermissionDenied
    }

    fn lstat<'a>(&'a self, _path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(async move {
            let Some(h) = self.host.as_deref() else {
                return Ok(containers_dir());
            };
            let eng = self.vfs.engine(Some(h))?;
            Ok(engine_entry(eng.summary().await))
        })
    }

    fn stat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        self.lstat(path)
    }

    fn read_dir<'a>(&'a self, _path: &'a Path) -> BoxFut<'a, Arc<Vec<Entry>>> {
        Box::pin(async move {
            let engines = self.vfs.engines();
            if self.host.is_none() && engines.len() > 1 {
                // Asked all at once: a slow engine costs its timeout, not the sum of them.
                let sums =
                    futures_util::future::join_all(engines.iter().map(|e| e.summary())).await;
                return Ok(Arc::new(sums.into_iter().map(engine_entry).collect()));
            }
            let table = self.vfs.engine(self.host.as_deref())?.containers().await?;
            Ok(Arc::new(table.iter().map(container_entry).collect()))
        })
    }

    fn open_read<'a>(&'a self, _path: &'a Path, _size_hint: u64) -> BoxFut<'a, FileReader> {
        Box::pin(async { Err(FsError::IsADirectory) })
    }
}
