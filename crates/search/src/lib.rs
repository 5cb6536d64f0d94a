//! grep, find and du with GNU's semantics and output, over any filesystem.
//!
//! One implementation serves both sides: the in-container agent runs it on the container's
//! own files (so only results cross the wire), and dockerbox runs it on host paths and stopped
//! containers through its namespace. The caller gives a [`walk::Fs`] (how to list, stat and
//! open) and a [`Sink`] (where output, per-file errors and notes go); everything in between
//! (option parsing, matching, GNU's traversal order, the bytes printed) is here, std + libc
//! only, so the static agent stays small.

pub mod args;
pub mod du;
pub mod find;
pub mod grep;
pub mod literal;
pub mod local;
pub mod regex;
pub mod share;
pub mod walk;

/// A note that is not an error (GNU prints these on stderr without failing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// grep: `FILE: binary file matches`.
    BinaryMatches = 1,
    /// grep -R: `warning: DIR: recursive directory loop`.
    DirLoop = 2,
}

impl Note {
    /// From its wire number.
    pub fn from_u8(n: u8) -> Option<Note> {
        match n {
            1 => Some(Note::BinaryMatches),
            2 => Some(Note::DirLoop),
            _ => None,
        }
    }
}

/// Where a search's results go.
pub trait Sink {
    /// Output bytes; `whole` when they end at a record's end (a line, a name). False: stop.
    fn out(&mut self, bytes: &[u8], whole: bool) -> bool;
    /// A per-file failure (`PATH: strerror(errno)`), the path as displayed; `dir` when it was
    /// reading a directory's entries that failed (du words that one differently). False: stop.
    fn error(&mut self, path: &[u8], errno: i32, dir: bool) -> bool;
    /// A note about a path. False: stop.
    fn note(&mut self, path: &[u8], note: Note) -> bool;
    /// A shared search's leader ([`share`]) begins memo `key`: the search of a file printed
    /// here as `display`. False: stop.
    fn memo_start(&mut self, _key: u64, _display: &[u8], _show: bool) -> bool {
        true
    }
    /// Part of the memo's output (the file's lines with no name shown). False: stop.
    fn memo_part(&mut self, _bytes: &[u8]) -> bool {
        true
    }
    /// The memo is done (`whole`: the file was read to its end, so it may be shared).
    /// False: stop.
    fn memo_end(&mut self, _end: &MemoEnd) -> bool {
        true
    }
    /// Print the leader's memo `key` here as `display` (a shared search's follower). False:
    /// stop.
    fn use_memo(&mut self, _key: u64, _display: &[u8], _show: bool) -> bool {
        true
    }
}

/// How a file's memo ends: what its search found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoEnd {
    pub binary: bool,
    pub selected: u64,
    pub whole: bool,
}

/// Output gathered into pieces of bounded size, cut at record ends where it can.
pub struct Printer<'s> {
    sink: &'s mut dyn Sink,
    buf: Vec<u8>,
    stopped: bool,
}

/// A piece is sent once this much is gathered (at a record's end).
const FLUSH_AT: usize = 32 * 1024;
/// No piece is larger (a longer record goes out in several).
pub const MAX_PIECE: usize = 128 * 1024;

impl<'s> Printer<'s> {
    pub fn new(sink: &'s mut dyn Sink) -> Printer<'s> {
        Printer {
            sink,
            buf: Vec::with_capacity(FLUSH_AT + 1024),
            stopped: false,
        }
    }

    /// Whether the consumer went away.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Part of a record.
    pub fn put(&mut self, mut b: &[u8]) {
        while self.buf.len() + b.len() > MAX_PIECE {
            let room = MAX_PIECE - self.buf.len();
            self.buf.extend_from_slice(&b[..room]);
            b = &b[room..];
            self.send(false);
        }
        self.buf.extend_from_slice(b);
    }

    /// A record ended; false once the consumer is gone.
    pub fn end_record(&mut self) -> bool {
        if self.buf.len() >= FLUSH_AT {
            self.send(true);
        }
        !self.stopped
    }

    /// Sends what is gathered (before an error message, at the end).
    pub fn flush(&mut self) -> bool {
        if !self.buf.is_empty() {
            self.send(true);
        }
        !self.stopped
    }

    fn send(&mut self, whole: bool) {
        if !self.stopped && !self.sink.out(&self.buf, whole) {
            self.stopped = true;
        }
        self.buf.clear();
    }

    pub fn error(&mut self, path: &[u8], errno: i32) {
        if self.flush() && !self.sink.error(path, errno, false) {
            self.stopped = true;
        }
    }

    /// Reading a directory's entries failed.
    pub fn dir_error(&mut self, path: &[u8], errno: i32) {
        if self.flush() && !self.sink.error(path, errno, true) {
            self.stopped = true;
        }
    }

    pub fn note(&mut self, path: &[u8], note: Note) {
        if self.flush() && !self.sink.note(path, note) {
            self.stopped = true;
        }
    }

    pub fn memo_start(&mut self, key: u64, display: &[u8], show: bool) {
        if self.flush() && !self.sink.memo_start(key, display, show) {
            self.stopped = true;
        }
    }

    pub fn memo_part(&mut self, bytes: &[u8]) {
        if self.flush() && !self.sink.memo_part(bytes) {
            self.stopped = true;
        }
    }

    pub fn memo_end(&mut self, end: &MemoEnd) {
        if self.flush() && !self.sink.memo_end(end) {
            self.stopped = true;
        }
    }

    pub fn use_memo(&mut self, key: u64, display: &[u8], show: bool) {
        if self.flush() && !self.sink.use_memo(key, display, show) {
            self.stopped = true;
        }
    }
}

impl Drop for Printer<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// `dir` joined with `name` as GNU's fts does: one `/` unless `dir` ends with one; an empty
/// `dir` (grep -r with no operand) gives the bare name.
pub fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(dir.len() + name.len() + 1);
    v.extend_from_slice(dir);
    if !dir.is_empty() && !dir.ends_with(b"/") {
        v.push(b'/');
    }
    v.extend_from_slice(name);
    v
}
