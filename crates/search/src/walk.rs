//! What the tools need from a filesystem, and the roots they start from.
//!
//! The agent implements [`Fs`] with plain system calls inside the container; dockerbox
//! implements it over its namespace (host paths, stopped containers). Errors are errnos, as
//! the agent has nothing else to send.

use std::io::Read;

/// A file's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

/// What `lstat`/`stat` say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Permission bits.
    pub perm: u32,
    pub size: u64,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    pub mtime: i64,
    pub mtime_nsec: u32,
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
}

impl Meta {
    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }
}

/// A filesystem to search. Paths are bytes as the filesystem names them.
pub trait Fs {
    /// `stat` (`follow`) or `lstat`.
    fn stat(&mut self, path: &[u8], follow: bool) -> Result<Meta, i32>;
    /// A directory's entries in the order the directory gives them, each with its `lstat`.
    fn read_dir(&mut self, path: &[u8]) -> Result<Vec<(Vec<u8>, Meta)>, i32>;
    /// The same entries for a walk that only needs their kinds (grep): a filesystem that knows
    /// the kind without an `lstat` (the directory says it) may fill in nothing else, except
    /// for directories, which always come with their whole `lstat` (device and inode find
    /// loops). By default, [`Fs::read_dir`].
    fn read_dir_kinds(&mut self, path: &[u8]) -> Result<Vec<(Vec<u8>, Meta)>, i32> {
        self.read_dir(path)
    }
    /// Opens a file for reading (symlinks followed).
    fn open(&mut self, path: &[u8]) -> Result<Box<dyn Read + '_>, i32>;
    /// A name for the bytes of the regular file at `path` (reached through no symlink):
    /// files with the same key hold the same bytes, so what a search found in one holds for
    /// the others (dockerbox: an image's file that a container has not changed, met in many
    /// containers of that image). None (the default): nothing known.
    fn content_key(&mut self, _path: &[u8]) -> Option<Vec<u8>> {
        None
    }
    /// Opens a file as [`Fs::open`], with its share key ([`crate::share`]) when it may be
    /// shared, taken from the open file itself. By default, no key.
    fn open_keyed(&mut self, path: &[u8]) -> Result<(Box<dyn Read + '_>, Option<u64>), i32> {
        Ok((self.open(path)?, None))
    }
    /// The share key of the file at `path` (not followed) when it may be shared. By default,
    /// none.
    fn share_key(&mut self, _path: &[u8]) -> Option<u64> {
        None
    }
    /// Opens the bytes a [`Fs::content_key`] named for `path`, from wherever they are kept
    /// for every file of that key (dockerbox: the image's layer, which no container can
    /// change, rather than one container's view of it). By default, [`Fs::open`].
    fn open_content(&mut self, path: &[u8]) -> Result<Box<dyn Read + '_>, i32> {
        self.open(path)
    }
}

/// One operand: where it is in the filesystem, and how it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub path: Vec<u8>,
    pub display: Vec<u8>,
}
