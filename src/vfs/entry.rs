//! What the namespace knows about one name: typed data, never pre-rendered text.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use crate::host::{ContainerInfo, EngineSummary};

/// The file type, as `ls` distinguishes them.
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

/// One directory entry or stat result.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The name within its directory (bytes; may not be UTF-8).
    pub name: OsString,
    pub kind: Kind,
    /// Permission bits including setuid (0o4000), setgid (0o2000) and sticky (0o1000).
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds of `mtime`, where the backend knows them (the agent, the direct path).
    pub mtime_nsec: u32,
    /// Access and status-change times (seconds, nanoseconds), where the backend knows them;
    /// `None` reads as the mtime (the archive API has one time).
    pub atime: Option<(i64, u32)>,
    pub ctime: Option<(i64, u32)>,
    /// The device number of a character or block device.
    pub rdev: u64,
    pub nlink: u64,
    /// Space used in 1 KiB blocks, for `ls -l`'s total line.
    pub blocks_k: u64,
    pub link_target: Option<PathBuf>,
    /// Which file this is: two names with the same non-zero (dev, ino) are hard links.
    pub dev: u64,
    pub ino: u64,
    /// Set on the entries of `/containers`: the container each directory stands for.
    pub container: Option<Arc<ContainerInfo>>,
    /// Set on the entries of `/containers` when it holds engines.
    pub engine: Option<Arc<EngineSummary>>,
    /// Set on the entries of `/images`, `/volumes` and `/apps`: the object each stands for.
    pub object: Option<Arc<Object>>,
}

/// A Docker object other than a container, as `ls -l` shows it beside its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// An image (`/images/REF`): its ID and size (its creation time is the entry's mtime).
    Image { id: String, size: u64 },
    /// A volume (`/volumes/NAME`): its driver and where the engine keeps it (its creation time
    /// is the entry's mtime).
    Volume { driver: String, mountpoint: String },
    /// A compose project or swarm stack (`/apps/PROJECT`): its working directory (`-` when
    /// unknown) and how many services (its newest container's creation is the mtime).
    App {
        working_dir: String,
        services: usize,
    },
}

impl Entry {
    /// A tree's root entry (`rest` is `/`) under the name and object kind its parent lists it
    /// with (`ls -ld /volumes/v` shows `v`, in a volume's colour); any other entry as it is.
    pub fn at_root_as(mut self, rest: &std::path::Path, listed: Entry) -> Entry {
        if rest == std::path::Path::new("/") {
            self.name = listed.name;
            self.object = listed.object;
        }
        self
    }

    /// A bare entry; callers fill in what they know.
    pub fn new(name: impl Into<OsString>, kind: Kind) -> Entry {
        Entry {
            name: name.into(),
            kind,
            perm: 0,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            mtime_nsec: 0,
            atime: None,
            ctime: None,
            rdev: 0,
            nlink: 1,
            blocks_k: 0,
            link_target: None,
            dev: 0,
            ino: 0,
            container: None,
            engine: None,
            object: None,
        }
    }

    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }
}

/// Decodes Go's `os.FileMode`, which the engine's archive stat header carries, into kind and
/// POSIX permission bits.
pub fn from_go_mode(mode: u32) -> (Kind, u32) {
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    const DEVICE: u32 = 1 << 26;
    const PIPE: u32 = 1 << 25;
    const SOCKET: u32 = 1 << 24;
    const SETUID: u32 = 1 << 23;
    const SETGID: u32 = 1 << 22;
    const CHARDEV: u32 = 1 << 21;
    const STICKY: u32 = 1 << 20;
    let kind = if mode & DIR != 0 {
        Kind::Dir
    } else if mode & SYMLINK != 0 {
        Kind::Symlink
    } else if mode & PIPE != 0 {
        Kind::Fifo
    } else if mode & SOCKET != 0 {
        Kind::Socket
    } else if mode & CHARDEV != 0 {
        Kind::CharDevice
    } else if mode & DEVICE != 0 {
        Kind::BlockDevice
    } else {
        Kind::File
    };
    let mut perm = mode & 0o777;
    if mode & SETUID != 0 {
        perm |= 0o4000;
    }
    if mode & SETGID != 0 {
        perm |= 0o2000;
    }
    if mode & STICKY != 0 {
        perm |= 0o1000;
    }
    (kind, perm)
}

/// Parses the engine's RFC 3339 timestamps (`2026-11-26T11:07:53.123456789Z`, or with an
/// offset) into seconds since the epoch; `None` when it is not one.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" | "" => 0,
        o if o.len() == 6 => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o.get(1..3)?.parse::<i64>().ok()? * 3600
                + o.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modes() {
        assert_eq!(from_go_mode((1 << 31) | 0o755), (Kind::Dir, 0o755));
        assert_eq!(from_go_mode((1 << 27) | 0o777), (Kind::Symlink, 0o777));
        assert_eq!(from_go_mode(0o644), (Kind::File, 0o644));
        assert_eq!(
            from_go_mode((1 << 31) | (1 << 20) | 0o777),
            (Kind::Dir, 0o1777)
        );
        assert_eq!(from_go_mode((1 << 23) | 0o755), (Kind::File, 0o4755));
        assert_eq!(
            from_go_mode((1 << 26) | (1 << 21) | 0o666),
            (Kind::CharDevice, 0o666)
        );
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-26T11:07:53.123456789Z"),
            Some(1795691273)
        );
        assert_eq!(parse_rfc3339("2026-11-26T12:07:53+01:00"), Some(1795691273));
        assert_eq!(parse_rfc3339("garbage"), None);
    }
}
