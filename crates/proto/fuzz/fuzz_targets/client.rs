//! The client's side: arbitrary bytes as the agent's stream, through the reply decoder and
//! validator dockerbox uses. They must never panic or hang, and every reply they accept must
//! be safe to act on: an entry name joined under a directory names a child of it, a canonical
//! path is absolute with plain components only, a chunk is at most CHUNK.
#![no_main]

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use dockerbox_proto::{check_id, check_reply, Expect, Replies, Response, CHUNK};
use libfuzzer_sys::fuzz_target;

const EXPECTS: [Expect; 14] = [
    Expect::Attr,
    Expect::Entries,
    Expect::Link,
    Expect::Canonical,
    Expect::Data,
    Expect::Write,
    Expect::Done,
    Expect::StatFs,
    Expect::Nothing,
    Expect::Search,
    Expect::Bytes(7),
    Expect::Codecs(1),
    Expect::Sampled,
    Expect::Filled,
];

fuzz_target!(|data: &[u8]| {
    // The first bytes say which requests are open (ids 1..=n) and how the stream is cut.
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n % 9);
    let Some((kinds, rest)) = (rest.len() > n).then(|| rest.split_at(n)) else { return };
    let Some((&cut, stream)) = rest.split_first() else { return };
    let mut open: HashMap<u32, Expect> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| (i as u32 + 1, EXPECTS[usize::from(*k) % EXPECTS.len()]))
        .collect();
    let next = n as u32 + 1;
    let mut replies = Replies::default();
    for piece in stream.chunks(usize::from(cut).max(1)) {
        replies.push(piece);
        loop {
            let (id, resp) = match replies.next_reply() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(_) => return,
            };
            if check_id(id, next).is_err() {
                return;
            }
            let Some(&expect) = open.get(&id) else { continue }; // finished: ignored
            if check_reply(expect, &resp).is_err() {
                return;
            }
            safe(&resp, expect);
            if expect.ends(&resp) {
                open.remove(&id);
            }
        }
    }
});

/// What an accepted reply guarantees, checked with std's own path logic.
fn safe(resp: &Response, expect: Expect) {
    match resp {
        Response::Entries { entries, .. } => {
            for e in entries {
                let name = OsStr::from_bytes(&e.name);
                let joined = Path::new("/dest").join(name);
                assert_eq!(joined.parent(), Some(Path::new("/dest")));
                assert_eq!(joined.file_name(), Some(name));
                assert!(!e.name.contains(&0));
            }
        }
        Response::Path(p) if expect == Expect::Canonical => {
            let path = Path::new(OsStr::from_bytes(p));
            let mut parts = path.components();
            assert_eq!(parts.next(), Some(Component::RootDir));
            let mut rebuilt = Vec::new();
            for c in parts {
                let Component::Normal(s) = c else { panic!("{c:?} in {path:?}") };
                rebuilt.push(b'/');
                rebuilt.extend_from_slice(s.as_bytes());
            }
            if rebuilt.is_empty() {
                rebuilt.push(b'/');
            }
            assert_eq!(&rebuilt, p);
        }
        Response::Path(p) => assert!(!p.is_empty() && !p.contains(&0)),
        Response::Data(d) => assert!(d.len() <= CHUNK),
        Response::Packed { raw_len, data } => {
            assert!(*raw_len as usize <= CHUNK && data.len() <= dockerbox_proto::pack::MAX_PACKED);
            // Unpacking what was accepted never panics and never gives other than raw_len.
            let mut out = Vec::new();
            if dockerbox_proto::pack::unpack(data, *raw_len, &mut out).is_ok() {
                assert_eq!(out.len(), *raw_len as usize);
            }
        }
        Response::Codecs { accept } => assert_eq!(accept & !1, 0),
        Response::Found { data, .. } => assert!(data.len() <= CHUNK),
        Response::Problem { path, errno, .. } => {
            assert!(!path.is_empty() && !path.contains(&0));
            assert!((1..=4095).contains(errno));
        }
        Response::Notice { path, .. } => assert!(!path.is_empty() && !path.contains(&0)),
        Response::Bytes(d) => match expect {
            Expect::Bytes(max) => assert!(d.len() <= max as usize),
            _ => panic!("bytes accepted for {expect:?}"),
        },
        Response::Hello { .. } => panic!("a hello accepted"),
        _ => {}
    }
}
