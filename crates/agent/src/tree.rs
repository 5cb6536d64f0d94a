//! `ReadTree`: a whole tree as one tar stream (GNU format, as the engine's archive GET gives
//! it: modes, owners, times, symlinks, hard links, devices and FIFOs), cut into chunks that go
//! packed where they shrink, one chunk per unit of credit. A tree of small files is mostly
//! tar headers, which pack to a few percent: over a network this is what makes `cp -a` of many
//! small files cheap.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::atomic::Ordering;

use dockerbox_proto::pack::Sampler;
use dockerbox_proto::{Response, CHUNK};

use crate::{Credit, Out};

/// Streams the tree at `path` (not following symlinks), its entries named from its own last
/// component as the engine's archive names them (`tree`, `tree/a`, ...).
pub fn stream_tree(id: u32, path: &[u8], credit: &Credit, out: &Out) {
    let root = Path::new(OsStr::from_bytes(path));
    let base = root
        .file_name()
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_else(|| b".".to_vec());
    let mut w = Writer {
        id,
        buf: Vec::with_capacity(2 * CHUNK),
        credit,
        out,
        packing: crate::ops::PACKING.load(Ordering::Relaxed),
        sampler: Sampler::default(),
        packed: Vec::new(),
        links: HashMap::new(),
    };
    let r = w.walk(root, &base).and_then(|()| {
        w.buf.extend_from_slice(&[0; 1024]);
        w.flush(true)
    });
    match r {
        Ok(()) => out.send(id, &Response::Eof),
        Err(e) => out.send(
            id,
            &Response::Error {
                errno: e.raw_os_error().unwrap_or(libc::EIO),
            },
        ),
    }
}

struct Writer<'a> {
    id: u32,
    buf: Vec<u8>,
    credit: &'a Credit,
    out: &'a Out,
    packing: bool,
    sampler: Sampler,
    packed: Vec<u8>,
    /// Files with several names already in the stream, by (dev, ino): later names are links.
    links: HashMap<(u64, u64), Vec<u8>>,
}

fn cancelled() -> io::Error {
    io::Error::from_raw_os_error(libc::ECANCELED)
}

impl Writer<'_> {
    /// Depth first, each directory before its entries (as the engine's archive).
    fn walk(&mut self, path: &Path, name: &[u8]) -> io::Result<()> {
        let md = fs::symlink_metadata(path)?;
        let ft = md.file_type();
        if ft.is_socket() {
            return Ok(()); // tar has no sockets; GNU tar and the engine skip them too
        }
        if ft.is_dir() {
            let mut dir_name = name.to_vec();
            dir_name.push(b'/');
            self.header(&dir_name, &md, b'5', 0, b"")?;
            let mut names: Vec<_> = fs::read_dir(path)?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<io::Result<_>>()?;
            names.sort();
            for child in names {
                let mut child_name = name.to_vec();
                child_name.push(b'/');
                child_name.extend_from_slice(child.as_bytes());
                match self.walk(&path.join(&child), &child_name) {
                    // Gone meanwhile: as if it had never been there.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    r => r?,
                }
            }
            return Ok(());
        }
        if md.nlink() > 1 {
            if let Some(first) = self.links.get(&(md.dev(), md.ino())).cloned() {
                return self.header(name, &md, b'1', 0, &first);
            }
            self.links.insert((md.dev(), md.ino()), name.to_vec());
        }
        if ft.is_symlink() {
            let target = fs::read_link(path)?;
            return self.header(name, &md, b'2', 0, target.as_os_str().as_bytes());
        }
        let kind = if ft.is_file() {
            b'0'
        } else if ft.is_char_device() {
            b'3'
        } else if ft.is_block_device() {
            b'4'
        } else {
            b'6'
        };
        if kind != b'0' {
            return self.header(name, &md, kind, 0, b"");
        }
        let mut f = File::open(path)?;
        let size = md.len();
        self.header(name, &md, b'0', size, b"")?;
        self.data(&mut f, size)
    }

    /// The file's bytes, exactly `size` of them (a file that shrank meanwhile is padded with
    /// zeros, as GNU tar does), then padding to the block.
    fn data(&mut self, f: &mut File, size: u64) -> io::Result<()> {
        let mut left = size;
        while left > 0 {
            let at = self.buf.len();
            let want = left.min(CHUNK as u64) as usize;
            self.buf.resize(at + want, 0);
            let mut got = 0;
            while got < want {
                match f.read(&mut self.buf[at + got..at + want]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            left -= want as u64;
            self.flush(false)?;
        }
        self.pad();
        self.flush(false)
    }

    fn pad(&mut self) {
        let n = self.buf.len().next_multiple_of(512);
        self.buf.resize(n, 0);
    }

    /// One entry's header, with GNU long-name entries before it where a name is too long.
    fn header(
        &mut self,
        name: &[u8],
        md: &fs::Metadata,
        kind: u8,
        size: u64,
        link: &[u8],
    ) -> io::Result<()> {
        if name.len() > 100 {
            self.long(b'L', name);
        }
        if link.len() > 100 {
            self.long(b'K', link);
        }
        let mut h = [0u8; 512];
        put_bytes(&mut h[0..100], name);
        octal(&mut h[100..108], u64::from(md.mode() & 0o7777));
        octal(&mut h[108..116], u64::from(md.uid()));
        octal(&mut h[116..124], u64::from(md.gid()));
        octal(&mut h[124..136], size);
        octal(&mut h[136..148], md.mtime().max(0) as u64);
        h[156] = kind;
        put_bytes(&mut h[157..257], link);
        h[257..265].copy_from_slice(b"ustar  \0");
        if kind == b'3' || kind == b'4' {
            let rdev = md.rdev();
            octal(&mut h[329..337], u64::from(libc::major(rdev)));
            octal(&mut h[337..345], u64::from(libc::minor(rdev)));
        }
        finish(&mut h);
        self.buf.extend_from_slice(&h);
        self.flush(false)
    }

    /// A GNU `././@LongLink` entry carrying a name or link target longer than its field.
    fn long(&mut self, kind: u8, text: &[u8]) {
        let mut h = [0u8; 512];
        put_bytes(&mut h[0..100], b"././@LongLink");
        octal(&mut h[100..108], 0o644);
        octal(&mut h[108..116], 0);
        octal(&mut h[116..124], 0);
        octal(&mut h[124..136], text.len() as u64 + 1);
        octal(&mut h[136..148], 0);
        h[156] = kind;
        h[257..265].copy_from_slice(b"ustar  \0");
        finish(&mut h);
        self.buf.extend_from_slice(&h);
        self.buf.extend_from_slice(text);
        self.buf.push(0);
        self.pad();
    }

    /// Sends whole chunks (every byte with `all`), one per unit of credit.
    fn flush(&mut self, all: bool) -> io::Result<()> {
        while self.buf.len() >= CHUNK || (all && !self.buf.is_empty()) {
            let n = self.buf.len().min(CHUNK);
            if !self.credit.take() {
                return Err(cancelled());
            }
            let chunk = &self.buf[..n];
            let resp = if self.packing && self.sampler.pack(chunk, &mut self.packed) {
                Response::Packed {
                    raw_len: n as u32,
                    data: std::mem::take(&mut self.packed),
                }
            } else {
                Response::Data(chunk.to_vec())
            };
            self.out.send(self.id, &resp);
            if let Response::Packed { data, .. } = resp {
                self.packed = data;
            }
            self.buf.drain(..n);
        }
        Ok(())
    }
}

fn put_bytes(field: &mut [u8], v: &[u8]) {
    let n = v.len().min(field.len());
    field[..n].copy_from_slice(&v[..n]);
}

/// A numeric field: octal digits and a NUL, or GNU's base-256 where octal does not fit.
fn octal(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    if digits >= 22 || v < 1u64 << (3 * digits) {
        let s = format!("{v:0digits$o}");
        field[..digits].copy_from_slice(s.as_bytes());
        field[digits] = 0;
    } else {
        field.fill(0);
        field[0] = 0x80;
        let be = v.to_be_bytes();
        let n = field.len();
        let k = be.len().min(n - 1);
        field[n - k..].copy_from_slice(&be[be.len() - k..]);
    }
}

/// The header's checksum: the sum of its bytes with the checksum field as spaces.
fn finish(h: &mut [u8; 512]) {
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_fit_their_fields() {
        let mut f = [0u8; 8];
        octal(&mut f, 0o755);
        assert_eq!(&f, b"0000755\0");
        let mut f = [0u8; 12];
        octal(&mut f, 1 << 30);
        assert_eq!(&f, b"10000000000\0");
        let mut f = [0u8; 8];
        octal(&mut f, 3_000_000_000);
        assert_eq!(f[0], 0x80);
        let v = u64::from_be_bytes([0, f[1], f[2], f[3], f[4], f[5], f[6], f[7]]);
        assert_eq!(v, 3_000_000_000);
    }
}
