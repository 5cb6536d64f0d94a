//! Sharing one grep's work between the agents of several containers of one image.
//!
//! A container's file that is still its image's (its `ctime` older than the container, on the
//! container's own root filesystem) is the same host inode in every container of that image,
//! and overlayfs (and fuse-overlayfs) show it with the same inode number, size and times
//! everywhere; a file the container changed was copied up, which gives it a new `ctime`.
//! So the leader's agent searches such a file and sends what it found as a memo named by a
//! keyed hash of those fields (and of its own credentials: who may read what); the other
//! agents `lstat` their copy, and where the hash is one the leader sent, say "print memo K
//! here" instead of reading it. Only the records format (both sides) and the key are here.

use crate::{MemoEnd, Note};

/// A file's share key: its identity as the image's file, with the reader's credentials.
#[allow(deprecated)]
pub fn key(seed: u64, creds: u64, st: &libc::stat) -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::SipHasher::new_with_keys(seed, creds);
    let mut b = [0u8; 40];
    b[..8].copy_from_slice(&st.st_ino.to_le_bytes());
    b[8..16].copy_from_slice(&(st.st_size as u64).to_le_bytes());
    b[16..24].copy_from_slice(&(st.st_mtime as u64).to_le_bytes());
    b[24..28].copy_from_slice(&(st.st_mtime_nsec as u32).to_le_bytes());
    b[28..36].copy_from_slice(&(st.st_ctime as u64).to_le_bytes());
    b[36..40].copy_from_slice(&(st.st_ctime_nsec as u32).to_le_bytes());
    h.write(&b);
    h.finish()
}

/// Whether a file may be shared: a regular file on the root filesystem (`root_dev`), not
/// changed since `before` (seconds: the container's creation, less a margin for the coarse
/// clock `ctime` is taken from).
pub fn shareable(st: &libc::stat, root_dev: u64, before: i64) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_dev == root_dev && st.st_ctime < before
}

/// How a search takes part in sharing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Role {
    /// Searches everything itself.
    #[default]
    Alone,
    /// Searches everything, and sends shareable files' results as memos.
    Lead,
    /// Uses the leader's memos: `loud` (sorted) have output and are printed from the memo,
    /// `quiet` (sorted) found nothing and are skipped.
    Follow { loud: Vec<u64>, quiet: Vec<u64> },
}

/// One record of a shared search's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Output bytes, names and all.
    Out(Vec<u8>),
    /// A path could not be read (as displayed), errno, whether it was a directory's entries.
    Problem(Vec<u8>, i32, bool),
    /// A note about a path.
    Note(Vec<u8>, Note),
    /// Memo `key` begins: a file's search, printed here as `display` (names shown or not).
    MemoStart {
        key: u64,
        display: Vec<u8>,
        show: bool,
    },
    /// Part of the memo's output: what the file's search printed with no name shown.
    MemoPart(Vec<u8>),
    /// The memo ends: what the file's search found.
    MemoEnd(MemoEnd),
    /// Print memo `key` here as `display`.
    Use {
        key: u64,
        display: Vec<u8>,
        show: bool,
    },
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

impl Record {
    /// Appends the record's encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Record::Out(d) => {
                out.push(1);
                put_bytes(out, d);
            }
            Record::Problem(p, e, dir) => {
                out.push(2);
                put_bytes(out, p);
                out.extend_from_slice(&e.to_le_bytes());
                out.push(u8::from(*dir));
            }
            Record::Note(p, n) => {
                out.push(3);
                put_bytes(out, p);
                out.push(*n as u8);
            }
            Record::MemoStart { key, display, show } => {
                out.push(4);
                out.extend_from_slice(&key.to_le_bytes());
                put_bytes(out, display);
                out.push(u8::from(*show));
            }
            Record::MemoPart(d) => {
                out.push(5);
                put_bytes(out, d);
            }
            Record::MemoEnd(e) => {
                out.push(6);
                out.push(u8::from(e.binary));
                out.extend_from_slice(&e.selected.to_le_bytes());
                out.push(u8::from(e.whole));
            }
            Record::Use { key, display, show } => {
                out.push(7);
                out.extend_from_slice(&key.to_le_bytes());
                put_bytes(out, display);
                out.push(u8::from(*show));
            }
        }
    }

    /// The records of one frame. The bytes come from a container: anything malformed (a
    /// length past the end, an unknown tag, a path that is empty or holds a NUL) is an error.
    pub fn decode_all(mut b: &[u8]) -> Result<Vec<Record>, &'static str> {
        let mut v = Vec::new();
        while !b.is_empty() {
            let (r, rest) = Record::decode(b)?;
            v.push(r);
            b = rest;
        }
        Ok(v)
    }

    fn decode(b: &[u8]) -> Result<(Record, &[u8]), &'static str> {
        let mut r = Reader(b);
        let rec = match r.u8()? {
            1 => Record::Out(r.bytes()?.to_vec()),
            2 => {
                let p = r.path()?;
                let e = i32::from_le_bytes(r.take(4)?.try_into().map_err(|_| BAD)?);
                if !(1..4096).contains(&e) {
                    return Err("an errno out of range");
                }
                Record::Problem(p, e, r.flag()?)
            }
            3 => {
                let p = r.path()?;
                let n = Note::from_u8(r.u8()?).ok_or("an unknown note")?;
                Record::Note(p, n)
            }
            4 => Record::MemoStart {
                key: r.u64()?,
                display: r.path()?,
                show: r.flag()?,
            },
            5 => Record::MemoPart(r.bytes()?.to_vec()),
            6 => Record::MemoEnd(MemoEnd {
                binary: r.flag()?,
                selected: r.u64()?,
                whole: r.flag()?,
            }),
            7 => Record::Use {
                key: r.u64()?,
                display: r.path()?,
                show: r.flag()?,
            },
            _ => return Err("an unknown record"),
        };
        Ok((rec, r.0))
    }
}

const BAD: &str = "a record cut short";

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < n {
            return Err(BAD);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }
    fn flag(&mut self) -> Result<bool, &'static str> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err("a flag that is neither 0 nor 1"),
        }
    }
    fn u64(&mut self) -> Result<u64, &'static str> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| BAD)?,
        ))
    }
    fn bytes(&mut self) -> Result<&'a [u8], &'static str> {
        let n = u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| BAD)?) as usize;
        self.take(n)
    }
    /// A path as displayed: `grep -r` with no operand shows bare names, never an empty one.
    fn path(&mut self) -> Result<Vec<u8>, &'static str> {
        let p = self.bytes()?;
        if p.is_empty() || p.contains(&0) || p.len() > 64 * 1024 {
            return Err("a path that is empty, holds NUL or is too long");
        }
        Ok(p.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_what_is_malformed() {
        let recs = vec![
            Record::Out(b"a:1:x\n".to_vec()),
            Record::Problem(b"/c/x".to_vec(), 13, false),
            Record::Note(b"/c/bin/ls".to_vec(), Note::BinaryMatches),
            Record::MemoStart {
                key: 7,
                display: b"/c/usr/f".to_vec(),
                show: true,
            },
            Record::MemoPart(b"3:ERROR\n".to_vec()),
            Record::MemoEnd(MemoEnd {
                binary: false,
                selected: 1,
                whole: true,
            }),
            Record::Use {
                key: 7,
                display: b"/d/usr/f".to_vec(),
                show: true,
            },
        ];
        let mut b = Vec::new();
        for r in &recs {
            r.encode(&mut b);
        }
        assert_eq!(Record::decode_all(&b).unwrap(), recs);
        for cut in 1..b.len() {
            // Any prefix that ends inside a record is refused, never read past its end.
            let ok = Record::decode_all(&b[..cut]);
            if let Ok(v) = ok {
                assert!(v.len() < recs.len());
            }
        }
        let mut bad = Vec::new();
        Record::Use {
            key: 1,
            display: b"x".to_vec(),
            show: true,
        }
        .encode(&mut bad);
        let n = bad.len();
        bad[n - 1] = 2;
        assert!(Record::decode_all(&bad).is_err());
        assert!(Record::decode_all(&[9]).is_err());
        let mut empty = Vec::new();
        Record::Note(Vec::new(), Note::DirLoop).encode(&mut empty);
        assert!(Record::decode_all(&empty).is_err());
    }

    #[test]
    fn keys_name_the_same_file_alike_and_others_not() {
        // SAFETY: an all-zero stat is a valid value.
        let mut a: libc::stat = unsafe { std::mem::zeroed() };
        a.st_ino = 42;
        a.st_size = 10;
        a.st_ctime = 100;
        a.st_mode = libc::S_IFREG | 0o644;
        let mut b = a;
        assert_eq!(key(1, 2, &a), key(1, 2, &b));
        b.st_ctime_nsec = 1;
        assert_ne!(key(1, 2, &a), key(1, 2, &b));
        assert_ne!(key(1, 2, &a), key(1, 3, &a));
        assert!(shareable(&a, 0, 101));
        assert!(!shareable(&a, 0, 100));
        assert!(!shareable(&a, 5, 101));
    }
}
