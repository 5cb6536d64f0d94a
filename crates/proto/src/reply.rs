//! The client's side: what a reply from the agent may be.
//!
//! The agent runs inside a container, and a root process there can replace it or write to its
//! stdout, so everything it sends is untrusted input. [`Replies`] splits the stream into
//! frames and decodes them; [`check_id`] and [`check_reply`] refuse ids that were never
//! requested, kinds that do not answer the request, names that are not one plain path
//! component (empty, `.`, `..`, with `/` or NUL), paths with NUL, canonical paths that are not
//! canonical, chunks larger than [`CHUNK`] and errno values out of range. A caller that
//! checks every reply this way can join names under a destination without leaving it.

use crate::codec::decode_frame;
use crate::msg::{Attr, Request, Response};
use crate::{CHUNK, MAX_FRAME};

/// Why a reply was refused; the stream is unusable after one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

fn invalid<T>(why: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(why.into()))
}

/// What the replies to one request may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// `Lstat`, `Stat`: one `Attr`.
    Attr,
    /// `ReadDir`: `Entries` frames, the last with `done`.
    Entries,
    /// `ReadLink`: one `Path`, a symlink's target (relative or absolute).
    Link,
    /// `Realpath`: one `Path`, absolute and canonical.
    Canonical,
    /// `Read`, `ReadTree`: `Data` (or `Packed`) frames, then `Eof`.
    Data,
    /// `WriteOpen` or `WriteBegin` and its `WriteData`: an early `Error`, then one `Closed` for
    /// `WriteClose`.
    Write,
    /// Everything else that succeeds silently: one `Ok`.
    Done,
    /// `StatFs`: one `StatFs`.
    StatFs,
    /// `ReadAt`: one `Bytes` of at most this many bytes (never more than asked, nor more
    /// than [`CHUNK`]).
    Bytes(u32),
    /// `Credit`: no answer of its own.
    Nothing,
    /// `Search`: `Found`, `Problem` and `Notice` frames (each under the credit window), then
    /// one `SearchDone` (or an `Error`).
    Search,
    /// `Codecs`: one `Codecs`, taking only codecs that were offered (or an `Error` from an
    /// agent that predates it).
    Codecs(u32),
    /// `Sample`: one `Sampled`.
    Sampled,
    /// `FillFrom`, `TreeFrom`: one `Filled`.
    Filled,
}

impl Expect {
    /// What `req` may be answered with.
    pub fn of(req: &Request) -> Expect {
        match req {
            Request::Lstat { .. } | Request::Stat { .. } => Expect::Attr,
            Request::ReadDir { .. } => Expect::Entries,
            Request::ReadLink { .. } => Expect::Link,
            Request::Realpath { .. } => Expect::Canonical,
            Request::Read { .. } | Request::ReadTree { .. } => Expect::Data,
            Request::Codecs { offer } => Expect::Codecs(*offer),
            Request::Sample { .. } => Expect::Sampled,
            Request::FillFrom { .. } | Request::TreeFrom { .. } => Expect::Filled,
            Request::WriteOpen { .. }
            | Request::WriteBegin { .. }
            | Request::WriteData { .. }
            | Request::WritePacked { .. }
            | Request::WriteClose { .. } => Expect::Write,
            Request::StatFs { .. } => Expect::StatFs,
            Request::ReadAt { len, .. } => Expect::Bytes((*len).min(CHUNK as u32)),
            Request::Credit { .. } => Expect::Nothing,
            Request::Search { .. } | Request::SearchShared { .. } => Expect::Search,
            Request::Mkdir { .. }
            | Request::Unlink { .. }
            | Request::Rmdir { .. }
            | Request::Rename { .. }
            | Request::Symlink { .. }
            | Request::Link { .. }
            | Request::Chmod { .. }
            | Request::Chown { .. }
            | Request::Utimes { .. }
            | Request::Access { .. }
            | Request::RemoveTemp { .. }
            | Request::Land { .. }
            | Request::Mknod { .. }
            | Request::WriteAt { .. }
            | Request::Truncate { .. }
            | Request::Fsync { .. } => Expect::Done,
        }
    }

    /// Whether `resp` (already checked) is the last reply to its request.
    pub fn ends(self, resp: &Response) -> bool {
        match (self, resp) {
            (Expect::Write, Response::Error { .. }) => false, // `Closed` repeats it
            (Expect::Data, Response::Data(_) | Response::Packed { .. }) => false,
            (Expect::Entries, Response::Entries { done, .. }) => *done,
            (
                Expect::Search,
                Response::Found { .. }
                | Response::Problem { .. }
                | Response::Notice { .. }
                | Response::Events { .. },
            ) => false,
            _ => true,
        }
    }

    /// Whether `resp` uses one chunk of its request's credit (a `Read`'s data, a `Search`'s
    /// frames but the last), so what is in flight stays bounded.
    pub fn costs_credit(self, resp: &Response) -> bool {
        match (self, resp) {
            (Expect::Data, Response::Data(_) | Response::Packed { .. }) => true,
            (Expect::Search, r) => !self.ends(r),
            _ => false,
        }
    }
}

/// Whether `name` is one plain path component: joined under a directory, it names an entry of
/// that directory and nothing else.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.iter().any(|&b| b == b'/' || b == 0)
}

/// Whether `path` is absolute and canonical: `/`, or `/` followed by plain components.
pub fn canonical_path(path: &[u8]) -> bool {
    path == b"/"
        || path
            .strip_prefix(b"/")
            .is_some_and(|rest| rest.split(|&b| b == b'/').all(valid_name))
}

/// `S_IFMT` and the seven file types `lstat(2)` reports.
const S_IFMT: u32 = 0o170000;
const FILE_TYPES: [u32; 7] = [
    0o140000, 0o120000, 0o100000, 0o060000, 0o040000, 0o020000, 0o010000,
];
const S_IFLNK: u32 = 0o120000;

/// The largest errno value Linux uses (`MAX_ERRNO`).
const MAX_ERRNO: i32 = 4095;

fn check_attr(a: &Attr) -> Result<(), Invalid> {
    if !FILE_TYPES.contains(&(a.mode & S_IFMT)) {
        return invalid(format!("unknown file type in mode {:o}", a.mode));
    }
    if a.mtime_nsec >= 1_000_000_000 {
        return invalid(format!("nanoseconds {} out of range", a.mtime_nsec));
    }
    Ok(())
}

fn check_target(t: &[u8]) -> Result<(), Invalid> {
    if t.is_empty() || t.contains(&0) {
        return invalid("a symlink target that is empty or holds NUL");
    }
    Ok(())
}

/// A path a search shows in a message: bytes the user's terminal sees quoted, but never
/// empty, with NUL, or longer than a path can be.
fn check_shown(p: &[u8]) -> Result<(), Invalid> {
    if p.is_empty() || p.contains(&0) || p.len() > 64 * 1024 {
        return invalid("a search message about a path that is empty, holds NUL or is too long");
    }
    Ok(())
}

/// Checks a reply's id: 0 is the handshake's, and ids from `next` on were never sent.
pub fn check_id(id: u32, next: u32) -> Result<(), Invalid> {
    if id == 0 || id >= next {
        return invalid(format!("a reply to request {id}, which was never sent"));
    }
    Ok(())
}

/// Checks that `resp` may answer a request that expects `expect`.
pub fn check_reply(expect: Expect, resp: &Response) -> Result<(), Invalid> {
    match (expect, resp) {
        (Expect::Nothing, r) => invalid(format!("an answer to a request that has none ({r:?})")),
        (Expect::Write, Response::Closed { errno }) => match *errno {
            0..=MAX_ERRNO => Ok(()),
            n => invalid(format!("errno {n} out of range")),
        },
        (_, Response::Error { errno }) => match *errno {
            1..=MAX_ERRNO => Ok(()),
            n => invalid(format!("errno {n} out of range")),
        },
        (Expect::Attr, Response::Attr(a)) => check_attr(a),
        (Expect::Entries, Response::Entries { entries, .. }) => {
            for e in entries {
                if !valid_name(&e.name) {
                    return invalid(format!(
                        "the entry name {:?}",
                        String::from_utf8_lossy(&e.name)
                    ));
                }
                check_attr(&e.attr)?;
                match &e.link {
                    Some(t) if e.attr.mode & S_IFMT == S_IFLNK => check_target(t)?,
                    Some(_) => return invalid("a link target on an entry that is not a symlink"),
                    None => {}
                }
            }
            Ok(())
        }
        (Expect::Link, Response::Path(p)) => check_target(p),
        (Expect::Canonical, Response::Path(p)) if canonical_path(p) => Ok(()),
        (Expect::Canonical, Response::Path(p)) => invalid(format!(
            "the canonical path {:?}",
            String::from_utf8_lossy(p)
        )),
        (Expect::Data, Response::Data(d)) if d.len() <= CHUNK => Ok(()),
        (Expect::Data, Response::Data(d)) => {
            invalid(format!("a chunk of {} bytes (at most {CHUNK})", d.len()))
        }
        (Expect::Data, Response::Packed { raw_len, data })
            if *raw_len as usize <= CHUNK && data.len() <= crate::pack::MAX_PACKED =>
        {
            Ok(())
        }
        (Expect::Data, Response::Packed { raw_len, data }) => invalid(format!(
            "a packed chunk of {} bytes for {raw_len} (at most {CHUNK})",
            data.len()
        )),
        (Expect::Codecs(offer), Response::Codecs { accept }) if accept & !offer == 0 => Ok(()),
        (Expect::Codecs(offer), Response::Codecs { accept }) => invalid(format!(
            "codecs {accept:#x} taken where {offer:#x} were offered"
        )),
        (Expect::Search, Response::Found { data, .. }) if data.len() <= CHUNK => Ok(()),
        (Expect::Search, Response::Found { data, .. }) => {
            invalid(format!("a chunk of {} bytes (at most {CHUNK})", data.len()))
        }
        (Expect::Search, Response::Events { data }) if data.len() <= CHUNK => Ok(()),
        (Expect::Search, Response::Events { data }) => {
            invalid(format!("records of {} bytes (at most {CHUNK})", data.len()))
        }
        (Expect::Search, Response::Problem { path, errno, .. }) => {
            check_shown(path)?;
            match *errno {
                1..=MAX_ERRNO => Ok(()),
                n => invalid(format!("errno {n} out of range")),
            }
        }
        (Expect::Search, Response::Notice { path, what }) => {
            check_shown(path)?;
            match what {
                1 | 2 => Ok(()),
                n => invalid(format!("unknown notice {n}")),
            }
        }
        (Expect::Bytes(max), Response::Bytes(d)) if d.len() <= max as usize => Ok(()),
        (Expect::Bytes(max), Response::Bytes(d)) => invalid(format!(
            "{} bytes in answer to a read of at most {max}",
            d.len()
        )),
        (Expect::Data, Response::Eof)
        | (Expect::Search, Response::SearchDone { .. })
        | (Expect::Done, Response::Ok)
        | (Expect::Sampled, Response::Sampled { .. })
        | (Expect::Filled, Response::Filled { .. })
        | (Expect::StatFs, Response::StatFs(_)) => Ok(()),
        (e, r) => invalid(format!("{} in answer to a request for {e:?}", kind_name(r))),
    }
}

fn kind_name(r: &Response) -> &'static str {
    match r {
        Response::Hello { .. } => "Hello",
        Response::Ok => "Ok",
        Response::Error { .. } => "Error",
        Response::Attr(_) => "Attr",
        Response::Entries { .. } => "Entries",
        Response::Path(_) => "Path",
        Response::Data(_) => "Data",
        Response::Eof => "Eof",
        Response::StatFs(_) => "StatFs",
        Response::Closed { .. } => "Closed",
        Response::Found { .. } => "Found",
        Response::Problem { .. } => "Problem",
        Response::Notice { .. } => "Notice",
        Response::Events { .. } => "Events",
        Response::SearchDone { .. } => "SearchDone",
        Response::Bytes(_) => "Bytes",
        Response::Codecs { .. } => "Codecs",
        Response::Packed { .. } => "Packed",
        Response::Sampled { .. } => "Sampled",
        Response::Filled { .. } => "Filled",
    }
}

/// The agent's stream cut into decoded replies. Holds at most one frame's worth of bytes
/// beyond what it was given last.
#[derive(Debug, Default)]
pub struct Replies {
    buf: Vec<u8>,
    pos: usize,
}

impl Replies {
    /// Starts with bytes already read (what followed the handshake).
    pub fn new(rest: Vec<u8>) -> Replies {
        Replies { buf: rest, pos: 0 }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole reply, `Ok(None)` when more bytes are needed.
    pub fn next_reply(&mut self) -> Result<Option<(u32, Response)>, Invalid> {
        match decode_frame(&self.buf[self.pos..]) {
            Ok(Some((f, used))) => {
                let resp = Response::decode(f.kind, f.body).or_else(|e| invalid(e.to_string()))?;
                self.pos += used;
                Ok(Some((f.id, resp)))
            }
            Ok(None) => Ok(None),
            Err(e) => invalid(format!("{e} (at most {MAX_FRAME})")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{encode_response, DirEntry};

    fn file(mode: u32) -> Attr {
        Attr {
            mode,
            ..Attr::default()
        }
    }

    fn entries(names: &[&[u8]]) -> Response {
        Response::Entries {
            entries: names
                .iter()
                .map(|n| DirEntry {
                    name: n.to_vec(),
                    attr: file(0o100644),
                    link: None,
                })
                .collect(),
            done: true,
        }
    }

    #[test]
    fn names_are_one_plain_component() {
        for good in [&b"a"[..], b"...", b".a", b"a b", b"\xff\n$(x)", b"-rf"] {
            assert!(valid_name(good), "{good:?}");
            assert_eq!(check_reply(Expect::Entries, &entries(&[good])), Ok(()));
        }
        for bad in [&b""[..], b".", b"..", b"a/b", b"/", b"../x", b"a\0b", b"x/"] {
            assert!(!valid_name(bad), "{bad:?}");
            assert!(check_reply(Expect::Entries, &entries(&[b"ok", bad])).is_err());
        }
    }

    #[test]
    fn canonical_paths_have_no_dots_or_doubled_slashes() {
        for good in [&b"/"[..], b"/a", b"/a/b", b"/a/.b"] {
            assert!(canonical_path(good), "{good:?}");
        }
        for bad in [&b""[..], b"a", b"/a/", b"//a", b"/a/../b", b"/.", b"/a\0"] {
            assert!(!canonical_path(bad), "{bad:?}");
            let r = check_reply(Expect::Canonical, &Response::Path(bad.to_vec()));
            assert!(r.is_err(), "{bad:?}");
        }
        // A link target may be relative and hold `..`: it is resolved inside the container.
        assert_eq!(
            check_reply(Expect::Link, &Response::Path(b"../x".to_vec())),
            Ok(())
        );
        assert!(check_reply(Expect::Link, &Response::Path(Vec::new())).is_err());
    }

    #[test]
    fn a_reply_must_answer_its_request() {
        assert!(check_reply(Expect::Attr, &Response::Ok).is_err());
        assert!(check_reply(Expect::Done, &Response::Data(vec![1])).is_err());
        assert!(check_reply(
            Expect::Data,
            &Response::Entries {
                entries: vec![],
                done: true
            }
        )
        .is_err());
        assert!(check_reply(Expect::Nothing, &Response::Ok).is_err());
        let hello = Response::Hello {
            version: 1,
            build_id: vec![],
        };
        assert!(check_reply(Expect::Done, &hello).is_err());
        assert_eq!(
            check_reply(Expect::Attr, &Response::Attr(file(0o40755))),
            Ok(())
        );
        assert!(check_reply(Expect::Attr, &Response::Attr(file(0o755))).is_err());
        assert_eq!(
            check_reply(Expect::Write, &Response::Closed { errno: 0 }),
            Ok(())
        );
        assert!(check_reply(Expect::Done, &Response::Error { errno: 0 }).is_err());
        assert!(check_reply(Expect::Done, &Response::Error { errno: -1 }).is_err());
        assert!(check_reply(Expect::Done, &Response::Error { errno: 4096 }).is_err());
        assert_eq!(
            check_reply(Expect::Done, &Response::Error { errno: 2 }),
            Ok(())
        );
    }

    #[test]
    fn data_beyond_a_chunk_is_refused() {
        assert_eq!(
            check_reply(Expect::Data, &Response::Data(vec![0; CHUNK])),
            Ok(())
        );
        assert!(check_reply(Expect::Data, &Response::Data(vec![0; CHUNK + 1])).is_err());
    }

    #[test]
    fn packed_chunks_and_codecs_are_bounded() {
        let packed = |raw_len, n| Response::Packed {
            raw_len,
            data: vec![0; n],
        };
        assert_eq!(check_reply(Expect::Data, &packed(CHUNK as u32, 10)), Ok(()));
        assert!(check_reply(Expect::Data, &packed(CHUNK as u32 + 1, 10)).is_err());
        let too_big = crate::pack::MAX_PACKED + 1;
        assert!(check_reply(Expect::Data, &packed(10, too_big)).is_err());
        assert!(check_reply(Expect::Write, &packed(10, 10)).is_err());
        assert!(Expect::Data.costs_credit(&packed(10, 10)));
        assert!(!Expect::Data.ends(&packed(10, 10)));

        let offer = Expect::of(&Request::Codecs { offer: 1 });
        assert_eq!(check_reply(offer, &Response::Codecs { accept: 1 }), Ok(()));
        assert_eq!(check_reply(offer, &Response::Codecs { accept: 0 }), Ok(()));
        assert!(check_reply(offer, &Response::Codecs { accept: 2 }).is_err());
        // An agent that predates the offer answers an error: allowed, and it ends the request.
        let old = Response::Error {
            errno: libc_eproto(),
        };
        assert_eq!(check_reply(offer, &old), Ok(()));
        assert!(offer.ends(&old));
        let sample = Expect::of(&Request::Sample {
            path: b"/f".to_vec(),
        });
        let answer = Response::Sampled { raw: 2, packed: 1 };
        assert_eq!(check_reply(sample, &answer), Ok(()));
        assert!(check_reply(Expect::Data, &answer).is_err());
    }

    fn libc_eproto() -> i32 {
        71
    }

    #[test]
    fn a_read_at_gets_no_more_than_it_asked() {
        let req = |len| Request::ReadAt {
            path: b"/f".to_vec(),
            offset: 0,
            len,
        };
        let ask = Expect::of(&req(10));
        assert_eq!(ask, Expect::Bytes(10));
        assert_eq!(check_reply(ask, &Response::Bytes(vec![1; 10])), Ok(()));
        assert_eq!(check_reply(ask, &Response::Bytes(Vec::new())), Ok(()));
        assert!(check_reply(ask, &Response::Bytes(vec![1; 11])).is_err());
        assert!(check_reply(ask, &Response::Data(vec![1])).is_err());
        assert_eq!(
            check_reply(ask, &Response::Error { errno: 21 }),
            Ok(()),
            "EISDIR"
        );
        assert!(ask.ends(&Response::Bytes(vec![])));
        // Whatever the request says, never beyond one chunk.
        let big = Expect::of(&req(u32::MAX));
        assert_eq!(big, Expect::Bytes(CHUNK as u32));
        assert!(check_reply(big, &Response::Bytes(vec![0; CHUNK + 1])).is_err());
        // Bytes answer nothing else.
        assert!(check_reply(Expect::Data, &Response::Bytes(vec![])).is_err());
        assert!(check_reply(Expect::Done, &Response::Bytes(vec![])).is_err());
        for w in [
            Request::WriteAt {
                path: b"/f".to_vec(),
                offset: 1,
                data: vec![1],
                append: false,
            },
            Request::Truncate {
                path: b"/f".to_vec(),
                len: 0,
            },
            Request::Fsync {
                path: b"/f".to_vec(),
                data_only: false,
            },
        ] {
            assert_eq!(Expect::of(&w), Expect::Done);
        }
    }

    #[test]
    fn links_only_on_symlinks() {
        let entry = |mode, link: Option<&[u8]>| Response::Entries {
            entries: vec![DirEntry {
                name: b"l".to_vec(),
                attr: file(mode),
                link: link.map(<[u8]>::to_vec),
            }],
            done: false,
        };
        assert_eq!(
            check_reply(Expect::Entries, &entry(0o120777, Some(b"/etc"))),
            Ok(())
        );
        assert_eq!(check_reply(Expect::Entries, &entry(0o120777, None)), Ok(()));
        assert!(check_reply(Expect::Entries, &entry(0o100644, Some(b"x"))).is_err());
        assert!(check_reply(Expect::Entries, &entry(0o120777, Some(b"a\0b"))).is_err());
    }

    #[test]
    fn search_replies_are_bounded_and_checked() {
        let found = |n| Response::Found {
            data: vec![b'x'; n],
            whole: true,
        };
        assert_eq!(check_reply(Expect::Search, &found(CHUNK)), Ok(()));
        assert!(check_reply(Expect::Search, &found(CHUNK + 1)).is_err());
        let problem = |p: &[u8], errno| Response::Problem {
            path: p.to_vec(),
            errno,
            dir: false,
        };
        assert_eq!(check_reply(Expect::Search, &problem(b"/a\nb", 13)), Ok(()));
        assert!(check_reply(Expect::Search, &problem(b"", 13)).is_err());
        assert!(check_reply(Expect::Search, &problem(b"a\0b", 13)).is_err());
        assert!(check_reply(Expect::Search, &problem(b"a", 0)).is_err());
        let notice = |what| Response::Notice {
            path: b"f".to_vec(),
            what,
        };
        assert_eq!(check_reply(Expect::Search, &notice(1)), Ok(()));
        assert!(check_reply(Expect::Search, &notice(9)).is_err());
        assert!(check_reply(Expect::Data, &found(1)).is_err());
        assert!(check_reply(Expect::Search, &Response::Data(vec![1])).is_err());
        let done = Response::SearchDone {
            found: false,
            total: 0,
        };
        assert!(Expect::Search.ends(&done));
        assert!(!Expect::Search.costs_credit(&done));
        assert!(Expect::Search.costs_credit(&found(1)));
        assert!(!Expect::Search.ends(&notice(1)));
        assert!(Expect::Search.ends(&Response::Error { errno: 2 }));
        assert!(Expect::Data.costs_credit(&Response::Data(vec![])));
    }

    #[test]
    fn ids_must_have_been_sent() {
        assert!(check_id(0, 5).is_err());
        assert!(check_id(5, 5).is_err());
        assert!(check_id(u32::MAX, 5).is_err());
        assert_eq!(check_id(4, 5), Ok(()));
    }

    #[test]
    fn which_reply_ends_a_request() {
        assert!(!Expect::Write.ends(&Response::Error { errno: 5 }));
        assert!(Expect::Write.ends(&Response::Closed { errno: 5 }));
        assert!(!Expect::Data.ends(&Response::Data(vec![])));
        assert!(Expect::Data.ends(&Response::Eof));
        assert!(!Expect::Entries.ends(&Response::Entries {
            entries: vec![],
            done: false
        }));
        assert!(Expect::Attr.ends(&Response::Error { errno: 2 }));
    }

    #[test]
    fn the_stream_is_cut_into_replies() {
        let mut bytes = Vec::new();
        encode_response(1, &Response::Ok, &mut bytes);
        encode_response(2, &Response::Eof, &mut bytes);
        let mut r = Replies::new(bytes[..3].to_vec());
        assert_eq!(r.next_reply(), Ok(None));
        r.push(&bytes[3..12]);
        assert_eq!(r.next_reply(), Ok(Some((1, Response::Ok))));
        assert_eq!(r.next_reply(), Ok(None));
        r.push(&bytes[12..]);
        assert_eq!(r.next_reply(), Ok(Some((2, Response::Eof))));
        assert_eq!(r.next_reply(), Ok(None));
        // A count that does not add up, a length beyond the limit, an unknown kind.
        let mut bad = Vec::new();
        encode_response(3, &entries(&[b"a"]), &mut bad);
        bad[10] = 2; // two entries announced, one present
        assert!(Replies::new(bad).next_reply().is_err());
        let huge = [0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0, 101];
        assert!(Replies::new(huge.to_vec()).next_reply().is_err());
        let unknown = [5, 0, 0, 0, 1, 0, 0, 0, 250];
        assert!(Replies::new(unknown.to_vec()).next_reply().is_err());
    }
}
