//! Frames and the binary encoding of messages.

use crate::msg::{Attr, DirEntry, Request, Response, StatFs};
use crate::MAX_FRAME;

/// Why bytes could not be decoded. The stream is unusable after any of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtoError {
    /// A frame announces more than [`MAX_FRAME`] bytes, or fewer than its header.
    BadLength(usize),
    /// The body ended before the message did.
    Truncated,
    /// Bytes were left after the message.
    Trailing,
    /// An unknown message kind.
    UnknownKind(u8),
    /// Packed data that does not unpack to its stated length.
    BadPacking,
}

impl std::fmt::Display for ProtoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProtoError::BadLength(n) => write!(f, "bad frame length {n}"),
            ProtoError::Truncated => write!(f, "truncated message"),
            ProtoError::Trailing => write!(f, "trailing bytes after message"),
            ProtoError::UnknownKind(k) => write!(f, "unknown message kind {k}"),
            ProtoError::BadPacking => write!(f, "packed data that does not unpack"),
        }
    }
}

impl std::error::Error for ProtoError {}

/// One frame, borrowed from the input buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The request id it belongs to.
    pub id: u32,
    /// The message kind.
    pub kind: u8,
    /// The encoded message.
    pub body: &'a [u8],
}

/// Splits one frame off the front of `buf`: `Ok(None)` when more bytes are needed, else the
/// frame and how many bytes it used.
pub fn decode_frame(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, ProtoError> {
    let Some(len) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if !(5..=MAX_FRAME).contains(&len) {
        return Err(ProtoError::BadLength(len));
    }
    let Some(frame) = buf.get(4..4 + len) else {
        return Ok(None);
    };
    let id = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
    Ok(Some((
        Frame {
            id,
            kind: frame[4],
            body: &frame[5..],
        },
        4 + len,
    )))
}

/// Appends the frame for request `id` to `out`.
pub fn encode_request(id: u32, req: &Request, out: &mut Vec<u8>) {
    let mut w = W::start(out, id);
    match req {
        Request::Lstat { path } => w.kind(1).bytes(path),
        Request::Stat { path } => w.kind(2).bytes(path),
        Request::ReadDir { path } => w.kind(3).bytes(path),
        Request::ReadLink { path } => w.kind(4).bytes(path),
        Request::Read { path } => w.kind(5).bytes(path),
        Request::Credit { n } => w.kind(6).u32(*n),
        Request::WriteOpen { path, mode } => w.kind(7).bytes(path).u32(*mode),
        Request::WriteData { data } => w.kind(8).bytes(data),
        Request::WriteClose { commit } => w.kind(9).bool(*commit),
        Request::Mkdir { path, mode } => w.kind(10).bytes(path).u32(*mode),
        Request::Unlink { path } => w.kind(11).bytes(path),
        Request::Rmdir { path } => w.kind(12).bytes(path),
        Request::Rename { from, to } => w.kind(13).bytes(from).bytes(to),
        Request::Symlink { target, link } => w.kind(14).bytes(target).bytes(link),
        Request::Link { from, to } => w.kind(15).bytes(from).bytes(to),
        Request::Chmod { path, mode } => w.kind(16).bytes(path).u32(*mode),
        Request::Chown {
            path,
            uid,
            gid,
            follow,
        } => w.kind(17).bytes(path).u32(*uid).u32(*gid).bool(*follow),
        Request::Utimes {
            path,
            atime,
            mtime,
            follow,
        } => w
            .kind(18)
            .bytes(path)
            .i64(atime.0)
            .u32(atime.1)
            .i64(mtime.0)
            .u32(mtime.1)
            .bool(*follow),
        Request::Realpath { path } => w.kind(19).bytes(path),
        Request::StatFs { path } => w.kind(20).bytes(path),
        Request::Access { path, mode } => w.kind(21).bytes(path).u32(*mode),
        Request::WriteBegin {
            path,
            tmp,
            mode,
            append,
        } => w.kind(22).bytes(path).bytes(tmp).u32(*mode).bool(*append),
        Request::RemoveTemp { path } => w.kind(23).bytes(path),
        Request::Search { tool, args, roots } => w.kind(40).u8(*tool).search_operands(args, roots),
        Request::SearchShared {
            args,
            roots,
            lead,
            before,
            seed,
            loud,
            quiet,
        } => {
            w.kind(75).search_operands(args, roots);
            w.bool(*lead).u64(*before as u64).u64(*seed);
            for keys in [loud, quiet] {
                w.u32(keys.len() as u32);
                for k in keys {
                    w.u64(*k);
                }
            }
            &mut w
        }
        Request::ReadAt { path, offset, len } => w.kind(24).bytes(path).u64(*offset).u32(*len),
        Request::WriteAt {
            path,
            offset,
            data,
            append,
        } => w
            .kind(25)
            .bytes(path)
            .u64(*offset)
            .bytes(data)
            .bool(*append),
        Request::Truncate { path, len } => w.kind(26).bytes(path).u64(*len),
        Request::Fsync { path, data_only } => w.kind(27).bytes(path).bool(*data_only),
        Request::Codecs { offer } => w.kind(50).u32(*offer),
        Request::WritePacked { raw_len, data } => w.kind(51).u32(*raw_len).bytes(data),
        Request::Sample { path } => w.kind(52).bytes(path),
        Request::ReadTree { path } => w.kind(53).bytes(path),
        Request::Land { from, to } => w.kind(54).bytes(from).bytes(to),
        Request::Mknod { path, mode, rdev } => w.kind(60).bytes(path).u32(*mode).u64(*rdev),
        Request::FillFrom {
            write,
            pid,
            container,
            path,
        } => w
            .kind(65)
            .u32(*write)
            .u32(*pid)
            .bytes(container)
            .bytes(path),
        Request::TreeFrom {
            pid,
            container,
            path,
            dest,
        } => w
            .kind(66)
            .u32(*pid)
            .bytes(container)
            .bytes(path)
            .bytes(dest),
    };
    w.finish();
}

/// Appends the frame answering request `id` to `out`.
pub fn encode_response(id: u32, resp: &Response, out: &mut Vec<u8>) {
    let mut w = W::start(out, id);
    match resp {
        Response::Hello { version, build_id } => w.kind(100).u32(*version).bytes(build_id),
        Response::Ok => w.kind(101),
        Response::Error { errno } => w.kind(102).i32(*errno),
        Response::Attr(a) => w.kind(103).attr(a),
        Response::Entries { entries, done } => {
            w.kind(104).bool(*done).u32(entries.len() as u32);
            for e in entries {
                w.bytes(&e.name).attr(&e.attr);
                match &e.link {
                    Some(l) => w.bool(true).bytes(l),
                    None => w.bool(false),
                };
            }
            &mut w
        }
        Response::Path(p) => w.kind(105).bytes(p),
        Response::Data(d) => w.kind(106).bytes(d),
        Response::Eof => w.kind(107),
        Response::Closed { errno } => w.kind(109).i32(*errno),
        Response::Found { data, whole } => w.kind(140).bool(*whole).bytes(data),
        Response::Problem { path, errno, dir } => w.kind(141).bytes(path).i32(*errno).bool(*dir),
        Response::Notice { path, what } => w.kind(142).bytes(path).u8(*what),
        Response::Events { data } => w.kind(175).bytes(data),
        Response::SearchDone { found, total } => w.kind(143).bool(*found).u64(*total),
        Response::Bytes(d) => w.kind(110).bytes(d),
        Response::Codecs { accept } => w.kind(150).u32(*accept),
        Response::Packed { raw_len, data } => w.kind(151).u32(*raw_len).bytes(data),
        Response::Sampled { raw, packed } => w.kind(152).u64(*raw).u64(*packed),
        Response::Filled { bytes } => w.kind(165).u64(*bytes),
        Response::StatFs(s) => w
            .kind(108)
            .u64(s.bsize)
            .u64(s.blocks)
            .u64(s.bfree)
            .u64(s.bavail)
            .u64(s.files)
            .u64(s.ffree)
            .u64(s.namelen),
    };
    w.finish();
}

impl Request {
    /// Decodes a request body of the given kind.
    pub fn decode(kind: u8, body: &[u8]) -> Result<Request, ProtoError> {
        let mut r = R(body);
        let req = match kind {
            1 => Request::Lstat { path: r.bytes()? },
            2 => Request::Stat { path: r.bytes()? },
            3 => Request::ReadDir { path: r.bytes()? },
            4 => Request::ReadLink { path: r.bytes()? },
            5 => Request::Read { path: r.bytes()? },
            6 => Request::Credit { n: r.u32()? },
            7 => Request::WriteOpen {
                path: r.bytes()?,
                mode: r.u32()?,
            },
            8 => Request::WriteData { data: r.bytes()? },
            9 => Request::WriteClose { commit: r.bool()? },
            10 => Request::Mkdir {
                path: r.bytes()?,
                mode: r.u32()?,
            },
            11 => Request::Unlink { path: r.bytes()? },
            12 => Request::Rmdir { path: r.bytes()? },
            13 => Request::Rename {
                from: r.bytes()?,
                to: r.bytes()?,
            },
            14 => Request::Symlink {
                target: r.bytes()?,
                link: r.bytes()?,
            },
            15 => Request::Link {
                from: r.bytes()?,
                to: r.bytes()?,
            },
            16 => Request::Chmod {
                path: r.bytes()?,
                mode: r.u32()?,
            },
            17 => Request::Chown {
                path: r.bytes()?,
                uid: r.u32()?,
                gid: r.u32()?,
                follow: r.bool()?,
            },
            18 => Request::Utimes {
                path: r.bytes()?,
                atime: (r.i64()?, r.u32()?),
                mtime: (r.i64()?, r.u32()?),
                follow: r.bool()?,
            },
            19 => Request::Realpath { path: r.bytes()? },
            20 => Request::StatFs { path: r.bytes()? },
            21 => Request::Access {
                path: r.bytes()?,
                mode: r.u32()?,
            },
            22 => Request::WriteBegin {
                path: r.bytes()?,
                tmp: r.bytes()?,
                mode: r.u32()?,
                append: r.bool()?,
            },
            23 => Request::RemoveTemp { path: r.bytes()? },
            40 => {
                let tool = r.u8()?;
                let (args, roots) = r.search_operands(body.len())?;
                Request::Search { tool, args, roots }
            }
            75 => {
                let (args, roots) = r.search_operands(body.len())?;
                let (lead, before, seed) = (r.bool()?, r.u64()? as i64, r.u64()?);
                let mut keys = [Vec::new(), Vec::new()];
                for k in &mut keys {
                    let n = r.u32()? as usize;
                    k.reserve(n.min(body.len() / 8));
                    for _ in 0..n {
                        k.push(r.u64()?);
                    }
                }
                let [loud, quiet] = keys;
                Request::SearchShared {
                    args,
                    roots,
                    lead,
                    before,
                    seed,
                    loud,
                    quiet,
                }
            }
            24 => Request::ReadAt {
                path: r.bytes()?,
                offset: r.u64()?,
                len: r.u32()?,
            },
            25 => Request::WriteAt {
                path: r.bytes()?,
                offset: r.u64()?,
                data: r.bytes()?,
                append: r.bool()?,
            },
            26 => Request::Truncate {
                path: r.bytes()?,
                len: r.u64()?,
            },
            27 => Request::Fsync {
                path: r.bytes()?,
                data_only: r.bool()?,
            },
            50 => Request::Codecs { offer: r.u32()? },
            51 => Request::WritePacked {
                raw_len: r.u32()?,
                data: r.bytes()?,
            },
            52 => Request::Sample { path: r.bytes()? },
            53 => Request::ReadTree { path: r.bytes()? },
            54 => Request::Land {
                from: r.bytes()?,
                to: r.bytes()?,
            },
            60 => Request::Mknod {
                path: r.bytes()?,
                mode: r.u32()?,
                rdev: r.u64()?,
            },
            65 => Request::FillFrom {
                write: r.u32()?,
                pid: r.u32()?,
                container: r.bytes()?,
                path: r.bytes()?,
            },
            66 => Request::TreeFrom {
                pid: r.u32()?,
                container: r.bytes()?,
                path: r.bytes()?,
                dest: r.bytes()?,
            },
            k => return Err(ProtoError::UnknownKind(k)),
        };
        r.end()?;
        Ok(req)
    }
}

impl Response {
    /// Decodes a response body of the given kind.
    pub fn decode(kind: u8, body: &[u8]) -> Result<Response, ProtoError> {
        let mut r = R(body);
        let resp = match kind {
            100 => Response::Hello {
                version: r.u32()?,
                build_id: r.bytes()?,
            },
            101 => Response::Ok,
            102 => Response::Error { errno: r.i32()? },
            103 => Response::Attr(r.attr()?),
            104 => {
                let done = r.bool()?;
                let n = r.u32()? as usize;
                // Every entry takes at least 77 bytes: never trust n for the allocation.
                let mut entries = Vec::with_capacity(n.min(body.len() / 77));
                for _ in 0..n {
                    let name = r.bytes()?;
                    let attr = r.attr()?;
                    let link = if r.bool()? { Some(r.bytes()?) } else { None };
                    entries.push(DirEntry { name, attr, link });
                }
                Response::Entries { entries, done }
            }
            105 => Response::Path(r.bytes()?),
            106 => Response::Data(r.bytes()?),
            107 => Response::Eof,
            109 => Response::Closed { errno: r.i32()? },
            140 => Response::Found {
                whole: r.bool()?,
                data: r.bytes()?,
            },
            141 => Response::Problem {
                path: r.bytes()?,
                errno: r.i32()?,
                dir: r.bool()?,
            },
            142 => Response::Notice {
                path: r.bytes()?,
                what: r.u8()?,
            },
            175 => Response::Events { data: r.bytes()? },
            143 => Response::SearchDone {
                found: r.bool()?,
                total: r.u64()?,
            },
            110 => Response::Bytes(r.bytes()?),
            150 => Response::Codecs { accept: r.u32()? },
            151 => Response::Packed {
                raw_len: r.u32()?,
                data: r.bytes()?,
            },
            152 => Response::Sampled {
                raw: r.u64()?,
                packed: r.u64()?,
            },
            165 => Response::Filled { bytes: r.u64()? },
            108 => Response::StatFs(StatFs {
                bsize: r.u64()?,
                blocks: r.u64()?,
                bfree: r.u64()?,
                bavail: r.u64()?,
                files: r.u64()?,
                ffree: r.u64()?,
                namelen: r.u64()?,
            }),
            k => return Err(ProtoError::UnknownKind(k)),
        };
        r.end()?;
        Ok(resp)
    }
}

/// Appends one frame; the length is patched in by `finish`.
struct W<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> W<'a> {
    fn start(out: &'a mut Vec<u8>, id: u32) -> W<'a> {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&id.to_le_bytes());
        W { out, start }
    }
    fn finish(self) {
        let len = (self.out.len() - self.start - 4) as u32;
        self.out[self.start..self.start + 4].copy_from_slice(&len.to_le_bytes());
    }
    fn kind(&mut self, k: u8) -> &mut Self {
        self.out.push(k);
        self
    }
    fn bool(&mut self, v: bool) -> &mut Self {
        self.out.push(v as u8);
        self
    }
    fn u8(&mut self, v: u8) -> &mut Self {
        self.out.push(v);
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn i32(&mut self, v: i32) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn i64(&mut self, v: i64) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.u32(b.len() as u32);
        self.out.extend_from_slice(b);
        self
    }
    /// A search's arguments and its roots (path, display name), as Search and SearchShared send
    /// them.
    fn search_operands(&mut self, args: &[Vec<u8>], roots: &[(Vec<u8>, Vec<u8>)]) -> &mut Self {
        self.u32(args.len() as u32);
        for a in args {
            self.bytes(a);
        }
        self.u32(roots.len() as u32);
        for (p, d) in roots {
            self.bytes(p).bytes(d);
        }
        self
    }
    fn attr(&mut self, a: &Attr) -> &mut Self {
        self.u32(a.mode)
            .u32(a.uid)
            .u32(a.gid)
            .u64(a.size)
            .i64(a.mtime)
            .u32(a.mtime_nsec)
            .u64(a.nlink)
            .u64(a.blocks)
            .u64(a.rdev)
            .u64(a.dev)
            .u64(a.ino)
            .i64(a.atime)
            .u32(a.atime_nsec)
            .i64(a.ctime)
            .u32(a.ctime_nsec)
    }
}

/// Reads fields off the front of a body.
struct R<'a>(&'a [u8]);

impl R<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ProtoError> {
        if self.0.len() < n {
            return Err(ProtoError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtoError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn bool(&mut self) -> Result<bool, ProtoError> {
        Ok(self.array::<1>()?[0] != 0)
    }
    fn u8(&mut self) -> Result<u8, ProtoError> {
        Ok(self.array::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, ProtoError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, ProtoError> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, ProtoError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, ProtoError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, ProtoError> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    /// [`W::search_operands`]'s counterpart; `body_len` bounds the allocations.
    #[allow(clippy::type_complexity)]
    fn search_operands(
        &mut self,
        body_len: usize,
    ) -> Result<(Vec<Vec<u8>>, Vec<(Vec<u8>, Vec<u8>)>), ProtoError> {
        let n = self.u32()? as usize;
        // Every string takes at least 4 bytes: never trust a count for the allocation.
        let mut args = Vec::with_capacity(n.min(body_len / 4));
        for _ in 0..n {
            args.push(self.bytes()?);
        }
        let n = self.u32()? as usize;
        let mut roots = Vec::with_capacity(n.min(body_len / 8));
        for _ in 0..n {
            roots.push((self.bytes()?, self.bytes()?));
        }
        Ok((args, roots))
    }
    fn attr(&mut self) -> Result<Attr, ProtoError> {
        Ok(Attr {
            mode: self.u32()?,
            uid: self.u32()?,
            gid: self.u32()?,
            size: self.u64()?,
            mtime: self.i64()?,
            mtime_nsec: self.u32()?,
            nlink: self.u64()?,
            blocks: self.u64()?,
            rdev: self.u64()?,
            dev: self.u64()?,
            ino: self.u64()?,
            atime: self.i64()?,
            atime_nsec: self.u32()?,
            ctime: self.i64()?,
            ctime_nsec: self.u32()?,
        })
    }
    fn end(&self) -> Result<(), ProtoError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ProtoError::Trailing)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr() -> Attr {
        Attr {
            mode: 0o100644,
            uid: 1000,
            gid: 50,
            size: 1 << 40,
            mtime: -5,
            mtime_nsec: 999,
            nlink: 2,
            blocks: 8,
            rdev: 0,
            dev: 2049,
            ino: 1234567,
            atime: -2_147_483_649,
            atime_nsec: 1,
            ctime: 4_102_444_800,
            ctime_nsec: 999_999_999,
        }
    }

    fn all_requests() -> Vec<Request> {
        let p = b"/tmp/new\nline\xff".to_vec();
        vec![
            Request::Lstat { path: p.clone() },
            Request::Stat { path: p.clone() },
            Request::ReadDir { path: p.clone() },
            Request::ReadLink { path: p.clone() },
            Request::Read { path: p.clone() },
            Request::Credit { n: 7 },
            Request::WriteOpen {
                path: p.clone(),
                mode: 0o751,
            },
            Request::WriteData {
                data: vec![0, 1, 2, 255],
            },
            Request::WriteClose { commit: true },
            Request::WriteBegin {
                path: p.clone(),
                tmp: b".f.dbx-1-2".to_vec(),
                mode: 0o640,
                append: true,
            },
            Request::RemoveTemp { path: p.clone() },
            Request::Mkdir {
                path: p.clone(),
                mode: 0o2755,
            },
            Request::Unlink { path: p.clone() },
            Request::Rmdir { path: p.clone() },
            Request::Rename {
                from: p.clone(),
                to: b"-rf".to_vec(),
            },
            Request::Symlink {
                target: b"../x".to_vec(),
                link: p.clone(),
            },
            Request::Link {
                from: p.clone(),
                to: b"$(touch x)".to_vec(),
            },
            Request::Chmod {
                path: p.clone(),
                mode: 0o4755,
            },
            Request::Chown {
                path: p.clone(),
                uid: 1,
                gid: 2,
                follow: false,
            },
            Request::Utimes {
                path: p.clone(),
                atime: (-1, 2),
                mtime: (3, 4),
                follow: true,
            },
            Request::Realpath { path: p.clone() },
            Request::StatFs { path: p.clone() },
            Request::Access {
                path: p.clone(),
                mode: 4,
            },
            Request::SearchShared {
                args: vec![b"-rn".to_vec(), b"-e".to_vec(), b"x\0".to_vec()],
                roots: vec![(b"/usr".to_vec(), b"/containers/a/usr".to_vec())],
                lead: false,
                before: -5,
                seed: u64::MAX,
                loud: vec![1, 7],
                quiet: vec![3],
            },
            Request::Search {
                tool: 1,
                args: vec![b"-rn".to_vec(), b"-e".to_vec(), b"\\(x\\)".to_vec()],
                roots: vec![(p.clone(), b"/containers/web/-rf".to_vec())],
            },
            Request::ReadAt {
                path: p.clone(),
                offset: 1 << 40,
                len: 131072,
            },
            Request::WriteAt {
                path: p.clone(),
                offset: u64::MAX,
                data: vec![0, 255, 10],
                append: true,
            },
            Request::Truncate {
                path: p.clone(),
                len: 12345,
            },
            Request::Fsync {
                path: p.clone(),
                data_only: true,
            },
            Request::Codecs { offer: 1 },
            Request::WritePacked {
                raw_len: 262144,
                data: vec![1, 2, 3],
            },
            Request::Sample { path: p.clone() },
            Request::ReadTree { path: p.clone() },
            Request::Land {
                from: p.clone(),
                to: p.clone(),
            },
            Request::Mknod {
                path: p.clone(),
                mode: 0o020640,
                rdev: (1 << 8) | 3,
            },
            Request::FillFrom {
                write: 7,
                pid: 4242,
                container: b"0123abcd".to_vec(),
                path: p.clone(),
            },
            Request::TreeFrom {
                pid: 1,
                container: b"ffee".to_vec(),
                path: p.clone(),
                dest: p,
            },
        ]
    }

    fn all_responses() -> Vec<Response> {
        vec![
            Response::Hello {
                version: 1,
                build_id: b"abc".to_vec(),
            },
            Response::Events {
                data: vec![1, 0, 0, 0, 0],
            },
            Response::Ok,
            Response::Error { errno: 2 },
            Response::Attr(attr()),
            Response::Entries {
                entries: vec![
                    DirEntry {
                        name: b"a\nb".to_vec(),
                        attr: attr(),
                        link: None,
                    },
                    DirEntry {
                        name: b"l".to_vec(),
                        attr: attr(),
                        link: Some(b"/etc".to_vec()),
                    },
                ],
                done: true,
            },
            Response::Entries {
                entries: vec![],
                done: false,
            },
            Response::Path(b"/x".to_vec()),
            Response::Data(vec![7; 1000]),
            Response::Eof,
            Response::Closed { errno: 28 },
            Response::Found {
                data: b"f:1:x\n".to_vec(),
                whole: true,
            },
            Response::Problem {
                path: b"/a\nb".to_vec(),
                errno: 13,
                dir: true,
            },
            Response::Notice {
                path: b"/bin".to_vec(),
                what: 1,
            },
            Response::SearchDone {
                found: true,
                total: 1 << 40,
            },
            Response::Bytes(vec![9; 300]),
            Response::Bytes(Vec::new()),
            Response::Codecs { accept: 1 },
            Response::Packed {
                raw_len: 4096,
                data: vec![0x1f, 0, 1],
            },
            Response::Sampled {
                raw: 1 << 20,
                packed: 1 << 18,
            },
            Response::Filled { bytes: 1 << 29 },
            Response::StatFs(StatFs {
                bsize: 4096,
                blocks: 1,
                bfree: 2,
                bavail: 3,
                files: 4,
                ffree: 5,
                namelen: 255,
            }),
        ]
    }

    #[test]
    fn requests_round_trip() {
        for (i, req) in all_requests().into_iter().enumerate() {
            let mut buf = Vec::new();
            encode_request(i as u32 + 1, &req, &mut buf);
            let (frame, used) = decode_frame(&buf).unwrap().unwrap();
            assert_eq!(used, buf.len());
            assert_eq!(frame.id, i as u32 + 1);
            assert_eq!(Request::decode(frame.kind, frame.body).unwrap(), req);
        }
    }

    #[test]
    fn responses_round_trip() {
        for resp in all_responses() {
            let mut buf = Vec::new();
            encode_response(9, &resp, &mut buf);
            let (frame, _) = decode_frame(&buf).unwrap().unwrap();
            assert_eq!(Response::decode(frame.kind, frame.body).unwrap(), resp);
        }
    }

    #[test]
    fn exact_bytes_of_a_read_at() {
        let mut buf = Vec::new();
        let req = Request::ReadAt {
            path: b"/a".to_vec(),
            offset: 2,
            len: 3,
        };
        encode_request(4, &req, &mut buf);
        let mut want = vec![23, 0, 0, 0, 4, 0, 0, 0, 24, 2, 0, 0, 0, b'/', b'a'];
        want.extend_from_slice(&2u64.to_le_bytes());
        want.extend_from_slice(&3u32.to_le_bytes());
        assert_eq!(buf, want);
    }

    #[test]
    fn exact_bytes_of_a_request() {
        let mut buf = Vec::new();
        encode_request(
            3,
            &Request::Lstat {
                path: b"/a".to_vec(),
            },
            &mut buf,
        );
        assert_eq!(buf, [11, 0, 0, 0, 3, 0, 0, 0, 1, 2, 0, 0, 0, b'/', b'a']);
    }

    #[test]
    fn exact_bytes_of_a_mknod() {
        let mut out = Vec::new();
        let req = Request::Mknod {
            path: b"/f".to_vec(),
            mode: 0o010644,
            rdev: 0x0103,
        };
        encode_request(9, &req, &mut out);
        let mut want = vec![23, 0, 0, 0, 9, 0, 0, 0, 60, 2, 0, 0, 0, b'/', b'f'];
        want.extend_from_slice(&0o010644u32.to_le_bytes());
        want.extend_from_slice(&0x0103u64.to_le_bytes());
        assert_eq!(out, want);
        // Times after the old fields: atime and ctime, each seconds then nanoseconds.
        let mut out = Vec::new();
        encode_response(1, &Response::Attr(attr()), &mut out);
        let tail = &out[out.len() - 24..];
        assert_eq!(&tail[..8], &(-2_147_483_649i64).to_le_bytes());
        assert_eq!(&tail[8..12], &1u32.to_le_bytes());
        assert_eq!(&tail[12..20], &4_102_444_800i64.to_le_bytes());
        assert_eq!(&tail[20..], &999_999_999u32.to_le_bytes());
    }

    #[test]
    fn partial_input_waits_for_more() {
        let mut buf = Vec::new();
        encode_request(
            1,
            &Request::Read {
                path: b"/f".to_vec(),
            },
            &mut buf,
        );
        encode_request(2, &Request::Credit { n: 1 }, &mut buf);
        let (_, used) = decode_frame(&buf).unwrap().unwrap();
        for cut in 0..buf.len() - used {
            assert_eq!(
                decode_frame(&buf[used..used + cut]).unwrap(),
                None,
                "cut at {cut}"
            );
        }
        assert_eq!(decode_frame(&[]).unwrap(), None);
    }

    #[test]
    fn gibberish_is_an_error_not_a_hang() {
        // What the engine prints when the exec fails, read as a frame length.
        assert!(matches!(
            decode_frame(b"OCI runtime exec failed"),
            Err(ProtoError::BadLength(_))
        ));
        assert_eq!(decode_frame(&[0, 0, 0, 0]), Err(ProtoError::BadLength(0)));
        assert_eq!(Request::decode(250, &[]), Err(ProtoError::UnknownKind(250)));
        assert_eq!(
            Request::decode(1, &[5, 0, 0, 0, b'a']),
            Err(ProtoError::Truncated)
        );
        assert_eq!(
            Request::decode(6, &[1, 0, 0, 0, 9]),
            Err(ProtoError::Trailing)
        );
        assert_eq!(
            Response::decode(104, &[1, 255, 255, 255, 255]),
            Err(ProtoError::Truncated)
        );
    }
}
