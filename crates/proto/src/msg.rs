//! The messages.

/// File attributes, as `lstat(2)` returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attr {
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds of `mtime`.
    pub mtime_nsec: u32,
    /// Access time, seconds since the epoch.
    pub atime: i64,
    /// Nanoseconds of `atime`.
    pub atime_nsec: u32,
    /// Status change time, seconds since the epoch.
    pub ctime: i64,
    /// Nanoseconds of `ctime`.
    pub ctime_nsec: u32,
    /// Link count.
    pub nlink: u64,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    /// Device number for character and block devices.
    pub rdev: u64,
    /// Device of the filesystem the file is on; with `ino`, says which names are one file.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

/// One directory entry with its attributes (from `lstat`), so `ls -l` is one round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name, as bytes.
    pub name: Vec<u8>,
    /// Its attributes.
    pub attr: Attr,
    /// The target, when the entry is a symlink.
    pub link: Option<Vec<u8>>,
}

/// What `statfs(2)` says about a filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatFs {
    /// Block size.
    pub bsize: u64,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Blocks available to unprivileged users.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// Maximum name length.
    pub namelen: u64,
}

/// A request from dockerbox. Paths are absolute inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Attributes of the path itself.
    Lstat {
        /// The path.
        path: Vec<u8>,
    },
    /// Attributes after following symlinks.
    Stat {
        /// The path.
        path: Vec<u8>,
    },
    /// The entries of a directory, answered by `Entries` frames, the last with `done`.
    ReadDir {
        /// The directory.
        path: Vec<u8>,
    },
    /// A symlink's target.
    ReadLink {
        /// The link.
        path: Vec<u8>,
    },
    /// Streams a file: `Data` frames, then `Eof` (or `Error`).
    Read {
        /// The file.
        path: Vec<u8>,
    },
    /// Lets a `Read` with the same id send `n` more chunks.
    Credit {
        /// Chunks granted.
        n: u32,
    },
    /// Starts a write: the data goes to a temporary name beside `path`. No answer unless it
    /// fails (an `Error` frame), so a whole small file goes out in one burst.
    WriteOpen {
        /// Where the file lands.
        path: Vec<u8>,
        /// Its permission bits.
        mode: u32,
    },
    /// Starts a write as the overwrite rule says: an existing file at `path` (symlinks
    /// followed) is written in place, truncated or, with `append`, appended to; a missing one
    /// goes to the temporary `tmp` beside it (one hidden name component, chosen by dockerbox so
    /// it can remove it if the agent dies) and is renamed into place on commit, never over
    /// something that appeared meanwhile. No answer unless it fails, as `WriteOpen`.
    WriteBegin {
        /// Where the file lands.
        path: Vec<u8>,
        /// The temporary's name (no `/`), used only for a new file.
        tmp: Vec<u8>,
        /// Permission bits of a new file (an existing one keeps its own unless they differ).
        mode: u32,
        /// `>>`: append to an existing file.
        append: bool,
    },
    /// A chunk for the open write with the same id (no answer unless it fails).
    WriteData {
        /// The bytes.
        data: Vec<u8>,
    },
    /// Ends a write: with `commit`, fsync and rename over the path; without, remove it.
    /// Always answered by one `Closed`.
    WriteClose {
        /// Whether the file should land.
        commit: bool,
    },
    /// Removes a temporary of dockerbox's (a file, or a tree unpacked under a temporary name)
    /// that a failed or interrupted copy left: only a hidden name holding `.dbx-`, and never
    /// through a symlink. Answered by `Ok` or `Error`.
    RemoveTemp {
        /// The temporary.
        path: Vec<u8>,
    },
    /// `mkdir(2)`.
    Mkdir {
        /// The directory.
        path: Vec<u8>,
        /// Its permission bits.
        mode: u32,
    },
    /// `unlink(2)`.
    Unlink {
        /// The file.
        path: Vec<u8>,
    },
    /// `rmdir(2)`.
    Rmdir {
        /// The directory.
        path: Vec<u8>,
    },
    /// `rename(2)`.
    Rename {
        /// Old name.
        from: Vec<u8>,
        /// New name.
        to: Vec<u8>,
    },
    /// `symlink(2)`: a link at `link` pointing to `target`.
    Symlink {
        /// What the link points to.
        target: Vec<u8>,
        /// Where the link is made.
        link: Vec<u8>,
    },
    /// `link(2)`.
    Link {
        /// The existing file.
        from: Vec<u8>,
        /// The new name.
        to: Vec<u8>,
    },
    /// `chmod(2)`.
    Chmod {
        /// The path.
        path: Vec<u8>,
        /// The new permission bits.
        mode: u32,
    },
    /// `chown(2)` or, without `follow`, `lchown(2)`.
    Chown {
        /// The path.
        path: Vec<u8>,
        /// New owner.
        uid: u32,
        /// New group.
        gid: u32,
        /// Follow a symlink at `path`.
        follow: bool,
    },
    /// `utimensat(2)`.
    Utimes {
        /// The path.
        path: Vec<u8>,
        /// Access time (seconds, nanoseconds).
        atime: (i64, u32),
        /// Modification time (seconds, nanoseconds).
        mtime: (i64, u32),
        /// Follow a symlink at `path`.
        follow: bool,
    },
    /// The canonical path, symlinks resolved, inside the container's root.
    Realpath {
        /// The path.
        path: Vec<u8>,
    },
    /// `statfs(2)`.
    StatFs {
        /// Any path on the filesystem.
        path: Vec<u8>,
    },
    /// `access(2)` as the agent's user: may it read (4), write (2), execute (1)?
    Access {
        /// The path.
        path: Vec<u8>,
        /// R_OK, W_OK, X_OK bits.
        mode: u32,
    },
    /// Up to `len` bytes of a regular file at `offset` (fewer only at its end), answered by one
    /// `Bytes`. Stateless: the file is opened by path for each request (a mount's reads).
    ReadAt {
        /// The file (symlinks followed).
        path: Vec<u8>,
        /// Where to start.
        offset: u64,
        /// How many bytes at most ([`crate::CHUNK`] at most).
        len: u32,
    },
    /// Writes `data` into an existing regular file at `offset` (or at its end, with `append`),
    /// in place; answered by `Ok`. Stateless like `ReadAt`.
    WriteAt {
        /// The file (symlinks followed).
        path: Vec<u8>,
        /// Where to write (ignored with `append`).
        offset: u64,
        /// The bytes.
        data: Vec<u8>,
        /// `O_APPEND`: at the end of the file, whatever its length now.
        append: bool,
    },
    /// `truncate(2)`: an existing regular file cut or extended to `len`; answered by `Ok`.
    Truncate {
        /// The file (symlinks followed).
        path: Vec<u8>,
        /// The new length.
        len: u64,
    },
    /// `fsync(2)` (or `fdatasync` with `data_only`) of the file at `path`; answered by `Ok`.
    Fsync {
        /// The file or directory.
        path: Vec<u8>,
        /// `fdatasync`: data only.
        data_only: bool,
    },
    /// Which codecs file data may be packed with on this connection (a bit mask, see
    /// [`crate::pack`]); answered by `Codecs` with those the agent takes. Sent once after the
    /// handshake; an agent that predates it answers `Error`, and nothing is packed then. From
    /// the answer on, a `Read`'s chunks may come as `Packed` and writes may send `WritePacked`.
    Codecs {
        /// The codecs dockerbox unpacks and packs.
        offer: u32,
    },
    /// A chunk for the open write with the same id, packed with the negotiated codec: `raw_len`
    /// bytes once unpacked (no answer unless it fails, as `WriteData`).
    WritePacked {
        /// Its length unpacked, at most [`crate::CHUNK`].
        raw_len: u32,
        /// The packed bytes.
        data: Vec<u8>,
    },
    /// How well a file packs: a few chunks of it (start, middle) packed and measured, so a big
    /// file can take the cheaper way (the agent's packed stream, or the engine's tar stream).
    /// Answered by `Sampled`.
    Sample {
        /// The file (symlinks followed).
        path: Vec<u8>,
    },
    /// Streams the tree at `path` (symlinks not followed) as one tar, as the engine's archive
    /// GET does (GNU format: modes, owners, times, symlinks, hard links; entries named from
    /// the path's last component): `Data` or `Packed` frames under the credit window, then
    /// `Eof`, as `Read`.
    ReadTree {
        /// The top of the tree.
        path: Vec<u8>,
    },
    /// Renames a temporary of dockerbox's (only a hidden name holding `.dbx-`) onto `to`,
    /// never over something there (`RENAME_NOREPLACE`): a file the engine's archive unpacked
    /// under that name lands. Answered by `Ok` or `Error`.
    Land {
        /// The temporary.
        from: Vec<u8>,
        /// Where it lands.
        to: Vec<u8>,
    },
    /// `mknod(2)`: a fifo, socket, character or block device (`mode` carries the type and
    /// permission bits, `rdev` the device number), as the agent's user may make it: a
    /// container without `CAP_MKNOD` answers `EPERM`. Answered by `Ok` or `Error`; an agent
    /// that predates it answers `Error` (`EPROTO`).
    Mknod {
        /// Where the node is made.
        path: Vec<u8>,
        /// `st_mode`: `S_IFIFO`, `S_IFSOCK`, `S_IFCHR` or `S_IFBLK` and the permission bits.
        mode: u32,
        /// The device number (`makedev`) of a device node.
        rdev: u64,
    },
    /// Runs grep, find or du over `roots` in the container (dockerbox-search, the same code
    /// dockerbox runs locally), streaming `Found`, `Problem` and `Notice` frames under a
    /// credit window as `Read` does, then one `SearchDone`.
    Search {
        /// Which tool: [`Tool`] as a number.
        tool: u8,
        /// Its options, as the tool's own arguments.
        args: Vec<Vec<u8>>,
        /// Each operand: (path in the container, path as the user typed it).
        roots: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// A grep that shares its work with the other agents searching containers of the same
    /// image (dockerbox-search's `share`): as `Search`, but its frames are `Events` (records
    /// packed many to a frame), then one `SearchDone`. The leader (`lead`) sends what it
    /// found in each file that may be shared as a memo; a follower prints the memos of
    /// `loud` (sorted keys) where its own copies are met, skips those of `quiet` (found
    /// nothing) and searches everything else itself. A file may be shared when its `ctime`
    /// is older than `before` (seconds): it is still its image's.
    SearchShared {
        /// Its options, as grep's own arguments.
        args: Vec<Vec<u8>>,
        /// Each operand: (path in the container, path as the user typed it).
        roots: Vec<(Vec<u8>, Vec<u8>)>,
        /// Leads (sends memos) or follows.
        lead: bool,
        /// The container's creation, less a margin.
        before: i64,
        /// The keys' hash seed, the same for every agent of one command.
        seed: u64,
        /// A follower's memo keys with output, sorted.
        loud: Vec<u64>,
        /// A follower's memo keys without output, sorted.
        quiet: Vec<u64>,
    },
    /// The remote direct path (an agent in dockerbox's helper container, chrooted into one
    /// container's root, with the host's PID namespace): fills the open write `write` (a
    /// `WriteBegin` of this connection) with the regular file `path` of another container of
    /// the same engine, whose init is `pid` and whose cgroup names `container`. The file is
    /// opened with `openat2(RESOLVE_IN_ROOT)` from that container's root, so no byte crosses
    /// the network. Answered by `Filled` (or `Error`); the write is then closed as usual.
    FillFrom {
        /// The open write's request id.
        write: u32,
        /// The source container's init, in the host's PID namespace.
        pid: u32,
        /// The source container's full ID (checked in its cgroup).
        container: Vec<u8>,
        /// The source file, absolute in that container.
        path: Vec<u8>,
    },
    /// The remote direct path: copies the tree at `path` of another container (as
    /// `FillFrom`) to the new name `dest` here (a temporary of dockerbox's, `.dbx-`), keeping
    /// modes, owners, times, symlinks, hard links, devices and FIFOs, as `cp -a`; the caller
    /// lands it with `Land` or removes it with `RemoveTemp`. Answered by `Filled`.
    TreeFrom {
        /// The source container's init, in the host's PID namespace.
        pid: u32,
        /// The source container's full ID.
        container: Vec<u8>,
        /// The top of the source tree.
        path: Vec<u8>,
        /// Where the copy is made (must not exist).
        dest: Vec<u8>,
    },
}

/// The tools a `Search` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// grep.
    Grep = 1,
    /// find.
    Find = 2,
    /// du.
    Du = 3,
}

impl Tool {
    /// From its wire number.
    pub fn from_u8(n: u8) -> Option<Tool> {
        match n {
            1 => Some(Tool::Grep),
            2 => Some(Tool::Find),
            3 => Some(Tool::Du),
            _ => None,
        }
    }
}

/// An answer from the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The first frame (id 0): protocol version and the agent's build id.
    Hello {
        /// [`crate::VERSION`] of the agent.
        version: u32,
        /// Identifies the exact agent build.
        build_id: Vec<u8>,
    },
    /// Done, nothing to say.
    Ok,
    /// Failed with this errno.
    Error {
        /// The errno value.
        errno: i32,
    },
    /// Attributes (for `Lstat`/`Stat`).
    Attr(Attr),
    /// Some entries of a `ReadDir`; `done` on the last frame.
    Entries {
        /// The entries.
        entries: Vec<DirEntry>,
        /// No more frames follow.
        done: bool,
    },
    /// A path (`ReadLink`, `Realpath`).
    Path(Vec<u8>),
    /// A chunk of a `Read`.
    Data(Vec<u8>),
    /// The end of a `Read`.
    Eof,
    /// Filesystem figures.
    StatFs(StatFs),
    /// The answer to `ReadAt`: the bytes read, never more than asked.
    Bytes(Vec<u8>),
    /// The one answer to `WriteClose`: 0 when the file landed, else the first errno of the write.
    /// (A write's open and data frames get no answer unless they fail, so writes pipeline.)
    Closed {
        /// 0 or an errno value.
        errno: i32,
    },
    /// The codecs the agent took from a `Codecs` offer (0: none).
    Codecs {
        /// A bit mask, a subset of the offer.
        accept: u32,
    },
    /// A chunk of a `Read`, packed with the negotiated codec (under the credit as `Data`).
    Packed {
        /// Its length unpacked, at most [`crate::CHUNK`].
        raw_len: u32,
        /// The packed bytes.
        data: Vec<u8>,
    },
    /// The answer to `Sample`: how many bytes were tried and what they packed to.
    Sampled {
        /// Bytes read.
        raw: u64,
        /// Their packed size (as sent: a chunk that does not shrink counts whole).
        packed: u64,
    },
    /// Output of a `Search`, at most [`crate::CHUNK`] bytes; `whole` when it ends at the end of
    /// a record (a line, a name), so outputs of searches running at once are not torn apart.
    Found {
        /// The bytes, as the tool prints them.
        data: Vec<u8>,
        /// Ends at a record's end.
        whole: bool,
    },
    /// A `Search` could not read a path (`grep: PATH: strerror`).
    Problem {
        /// The path as displayed.
        path: Vec<u8>,
        /// The errno value.
        errno: i32,
        /// It was reading the directory's entries that failed (du: `cannot read directory`).
        dir: bool,
    },
    /// A `Search`'s note about a path that is no failure (`binary file matches`).
    Notice {
        /// The path as displayed.
        path: Vec<u8>,
        /// Which note (dockerbox-search's `Note` as a number).
        what: u8,
    },
    /// The answer to `FillFrom` and `TreeFrom`: how many bytes of file data were copied.
    Filled {
        /// Bytes copied.
        bytes: u64,
    },
    /// Records of a `SearchShared` (dockerbox-search's `share::Record`), at most
    /// [`crate::CHUNK`] bytes.
    Events {
        /// The records, encoded one after another.
        data: Vec<u8>,
    },
    /// The end of a `Search`.
    SearchDone {
        /// Whether anything was found (grep's status 0).
        found: bool,
        /// du: the bytes counted, for `-c`'s total.
        total: u64,
    },
}
