//! grep: GNU grep 3.8's options, matching and output in the C locale.
//!
//! Matching is glibc's GNU regex with grep's syntax bits ([`crate::regex`]); plain strings go
//! through `memmem`. A buffer of many lines is searched at once and a hit is confirmed on its
//! own line, so lines never run into each other. Binary files are GNU's: a NUL in a buffer
//! makes the rest of the file binary (NULs then end lines), output stops at the first
//! selected line after that, and `FILE: binary file matches` is noted unless -c, -l or -q.

use std::collections::HashMap;
use std::io::{ErrorKind, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::args::{self, ArgError, Spec};
use crate::literal;
use crate::regex::{Regex, SYNTAX_EGREP, SYNTAX_GREP};
use crate::share::Role;
use crate::walk::{Fs, Kind, Root};
use crate::{join, MemoEnd, Note, Printer, Sink};

/// How patterns are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Basic,
    Extended,
    Fixed,
}

/// -r, -R or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recurse {
    No,
    /// -r: symlinks on the command line followed, those found inside skipped.
    Physical,
    /// -R: every symlink followed.
    Logical,
}

/// Whether lines and counts are prefixed with the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    Always,
    Never,
    /// One operand with -r: only when it is a directory.
    IfDir,
}

/// Parsed options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opts {
    pub patterns: Vec<Vec<u8>>,
    pub mode: Mode,
    pub icase: bool,
    pub word: bool,
    pub invert: bool,
    pub number: bool,
    pub count: bool,
    pub list: bool,
    pub quiet: bool,
    pub no_messages: bool,
    /// -H (`Some(true)`) or -h (`Some(false)`), the last one given.
    pub with_filename: Option<bool>,
    pub recurse: Recurse,
}

const fn s(short: u8, long: &'static str) -> Spec {
    Spec {
        short: Some(short),
        long,
        value: false,
    }
}

const SPECS: &[Spec] = &[
    s(b'E', "extended-regexp"),
    s(b'F', "fixed-strings"),
    s(b'G', "basic-regexp"),
    Spec {
        short: Some(b'e'),
        long: "regexp",
        value: true,
    },
    s(b'i', "ignore-case"),
    s(b'y', "ignore-case"),
    Spec {
        short: None,
        long: "no-ignore-case",
        value: false,
    },
    s(b'w', "word-regexp"),
    s(b'v', "invert-match"),
    s(b'n', "line-number"),
    s(b'c', "count"),
    s(b'l', "files-with-matches"),
    s(b'q', "quiet"),
    Spec {
        short: None,
        long: "silent",
        value: false,
    },
    s(b's', "no-messages"),
    s(b'H', "with-filename"),
    s(b'h', "no-filename"),
    s(b'r', "recursive"),
    s(b'R', "dereference-recursive"),
];

/// GNU's usage line, for a missing pattern.
pub const USAGE: &str = "Usage: grep [OPTION]... PATTERNS [FILE]...";

/// Parses grep's arguments: the options and the file operands.
pub fn parse(argv: &[Vec<u8>]) -> Result<(Opts, Vec<Vec<u8>>), ArgError> {
    let (opts, mut operands) = args::parse(argv, SPECS)?;
    let mut o = Opts {
        patterns: Vec::new(),
        mode: Mode::Basic,
        icase: false,
        word: false,
        invert: false,
        number: false,
        count: false,
        list: false,
        quiet: false,
        no_messages: false,
        with_filename: None,
        recurse: Recurse::No,
    };
    let mut given = false;
    for (name, value) in opts {
        match name {
            "extended-regexp" => o.mode = Mode::Extended,
            "fixed-strings" => o.mode = Mode::Fixed,
            "basic-regexp" => o.mode = Mode::Basic,
            "regexp" => {
                given = true;
                o.patterns.extend(split_lines(&value.unwrap_or_default()));
            }
            "ignore-case" => o.icase = true,
            "no-ignore-case" => o.icase = false,
            "word-regexp" => o.word = true,
            "invert-match" => o.invert = true,
            "line-number" => o.number = true,
            "count" => o.count = true,
            "files-with-matches" => o.list = true,
            "quiet" | "silent" => o.quiet = true,
            "no-messages" => o.no_messages = true,
            "with-filename" => o.with_filename = Some(true),
            "no-filename" => o.with_filename = Some(false),
            "recursive" => o.recurse = Recurse::Physical,
            "dereference-recursive" => o.recurse = Recurse::Logical,
            _ => {}
        }
    }
    if !given {
        if operands.is_empty() {
            return Err(ArgError::Usage(USAGE.into()));
        }
        let p = operands.remove(0);
        o.patterns.extend(split_lines(&p));
    }
    Ok((o, operands))
}

/// A pattern argument holds one pattern per line.
fn split_lines(p: &[u8]) -> Vec<Vec<u8>> {
    p.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

impl Opts {
    /// The options as arguments [`parse`] reads back (for the agent), patterns as `-e`.
    pub fn to_args(&self) -> Vec<Vec<u8>> {
        let mut a: Vec<Vec<u8>> = Vec::new();
        let mut flag = |on: bool, f: &str| {
            if on {
                a.push(f.as_bytes().to_vec());
            }
        };
        flag(self.mode == Mode::Extended, "-E");
        flag(self.mode == Mode::Fixed, "-F");
        flag(self.icase, "-i");
        flag(self.word, "-w");
        flag(self.invert, "-v");
        flag(self.number, "-n");
        flag(self.count, "-c");
        flag(self.list, "-l");
        flag(self.quiet, "-q");
        flag(self.no_messages, "-s");
        flag(self.with_filename == Some(true), "-H");
        flag(self.with_filename == Some(false), "-h");
        flag(self.recurse == Recurse::Physical, "-r");
        flag(self.recurse == Recurse::Logical, "-R");
        for p in &self.patterns {
            a.push(b"-e".to_vec());
            a.push(p.clone());
        }
        a
    }

    /// Whether names are shown, given how many operands the whole command has.
    pub fn names(&self, operands: usize) -> Names {
        match self.with_filename {
            Some(true) => Names::Always,
            Some(false) => Names::Never,
            None if operands > 1 => Names::Always,
            None if self.recurse != Recurse::No => Names::IfDir,
            None => Names::Never,
        }
    }
}

/// One compiled pattern.
struct Pat {
    /// A literal every match holds (ASCII-folded with -i, then searched in the folded
    /// buffer): lines without it are skipped by `memmem`. None: the regex scans the buffer.
    needle: Option<Vec<u8>>,
    /// GNU regex, confirming each candidate line; None when the needle alone decides (a plain
    /// string without -w).
    re: Option<Regex>,
    /// The pattern uses the buffer anchors `` \` `` or `\'`, whose meaning a many-line
    /// search would change: each line is tried on its own.
    per_line: bool,
}

/// A compiled grep: its options and patterns. Matching keeps scratch state, so each thread
/// has its own.
pub struct Grep {
    pub o: Opts,
    pats: Vec<Pat>,
    /// Some pattern's needle is folded (-i): each region is folded too, into `fold`.
    folds: bool,
    fold: Vec<u8>,
    /// The read buffer, kept from file to file: zeroed once when it grows, never per read.
    buf: Vec<u8>,
    /// What searches of files with the same bytes found, shared between the searches of one
    /// command ([`Walk`] asks [`Fs::content_key`]).
    memos: Option<Arc<Memos>>,
    /// This search's part in sharing work between agents ([`crate::share`]).
    pub role: Role,
}

/// What a file's search found, kept to be printed again under another name: the output of a
/// search that showed no name, whether the file was noted binary, the lines selected.
struct Memo {
    out: Vec<u8>,
    binary: bool,
    selected: u64,
}

/// Memos by content key, shared by the threads of one command: the first to meet a key
/// searches, the others wait for it and print what it found. Bounded in bytes: past
/// [`MEMO_BYTES`], files are searched each time.
#[derive(Default)]
pub struct Memos {
    map: Mutex<HashMap<Vec<u8>, MemoCell>>,
    bytes: AtomicUsize,
}

/// One key's memo: made once, by the first search to meet the key (None: not kept).
type MemoCell = Arc<OnceLock<Option<Memo>>>;

/// The most output bytes all memos of a command hold.
const MEMO_BYTES: usize = 64 << 20;

/// Gathers a name-less search's output for a memo.
#[derive(Default)]
struct Capture {
    out: Vec<u8>,
    binary: bool,
}

impl Sink for Capture {
    fn out(&mut self, bytes: &[u8], _whole: bool) -> bool {
        self.out.extend_from_slice(bytes);
        true
    }
    fn error(&mut self, _path: &[u8], _errno: i32, _dir: bool) -> bool {
        true
    }
    fn note(&mut self, _path: &[u8], note: Note) -> bool {
        self.binary |= note == Note::BinaryMatches;
        true
    }
}

/// How a file went.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// Lines selected.
    pub selected: u64,
    /// The search should end (-q found, or the consumer went away).
    pub stop: bool,
}

/// Bytes read at a time (GNU grep reads 96 KiB).
const READ: usize = 96 * 1024;
/// The longest line held (GNU has no limit; a container's file must not exhaust the agent).
const MAX_LINE: usize = 64 << 20;

fn special(b: u8, mode: Mode) -> bool {
    match mode {
        Mode::Fixed => false,
        Mode::Basic => matches!(b, b'\\' | b'[' | b'*' | b'.' | b'^' | b'$'),
        Mode::Extended => matches!(
            b,
            b'\\'
                | b'['
                | b'*'
                | b'.'
                | b'^'
                | b'$'
                | b'+'
                | b'?'
                | b'{'
                | b'}'
                | b'('
                | b')'
                | b'|'
        ),
    }
}

/// A fixed string as a basic regular expression.
fn escape(p: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(p.len() * 2);
    for &b in p {
        if special(b, Mode::Basic) {
            v.push(b'\\');
        }
        v.push(b);
    }
    v
}

fn uses_buffer_anchors(p: &[u8]) -> bool {
    p.windows(2)
        .any(|w| w[0] == b'\\' && (w[1] == b'`' || w[1] == b'\''))
}

impl Grep {
    /// Compiles the patterns; the error is GNU's message (`Unmatched [, [^, [:, [., or [=`).
    pub fn new(o: Opts) -> Result<Grep, String> {
        let mut pats = Vec::with_capacity(o.patterns.len());
        for p in &o.patterns {
            let plain = !p.iter().any(|&b| special(b, o.mode));
            let fold = |n: Vec<u8>| {
                if o.icase {
                    n.to_ascii_lowercase()
                } else {
                    n
                }
            };
            if plain && !o.word {
                pats.push(Pat {
                    needle: Some(fold(p.clone())),
                    re: None,
                    per_line: false,
                });
                continue;
            }
            let (text, syntax) = match o.mode {
                Mode::Fixed => (escape(p), SYNTAX_GREP),
                Mode::Basic => (p.clone(), SYNTAX_GREP),
                Mode::Extended => (p.clone(), SYNTAX_EGREP),
            };
            let re = Regex::new(&text, syntax, o.icase)?;
            let mode = if o.mode == Mode::Extended {
                Mode::Extended
            } else {
                Mode::Basic
            };
            pats.push(Pat {
                needle: literal::required(&text, mode).map(fold),
                re: Some(re),
                per_line: uses_buffer_anchors(&text),
            });
        }
        let folds = o.icase && pats.iter().any(|p| p.needle.is_some());
        Ok(Grep {
            o,
            pats,
            folds,
            fold: Vec::new(),
            buf: Vec::new(),
            memos: None,
            role: Role::Alone,
        })
    }

    /// Shares what searches of files with the same bytes find with the other searches of
    /// `memos` (see [`Fs::content_key`]).
    pub fn share(&mut self, memos: Arc<Memos>) {
        self.memos = Some(memos);
    }

    /// Searches one file, printing what GNU grep prints for it under `name`.
    pub fn file(
        &mut self,
        r: &mut dyn Read,
        name: &[u8],
        show: bool,
        p: &mut Printer,
    ) -> Result<Scan, i32> {
        let count = self.o.count && !self.o.list && !self.o.quiet;
        let out_quiet0 = self.o.count || self.o.list || self.o.quiet;
        let mut st = State {
            out_quiet: out_quiet0,
            done_on_match: self.o.list || self.o.quiet,
            show,
            name,
            selected: 0,
            lineno: 0,
            stop: false,
        };
        let mut binary_at: Option<u64> = None;
        let mut buf = std::mem::take(&mut self.buf);
        // Bytes held in `buf`: an unfinished last line, then what the next read adds.
        let mut held = 0;
        let mut eof = false;
        let mut failed = None;
        while !eof && !st.stop {
            let old = held;
            if old > MAX_LINE {
                failed = Some(libc::ENOMEM);
                break;
            }
            if buf.len() < old + READ {
                buf.resize(old + READ, 0);
            }
            let n = loop {
                match r.read(&mut buf[old..old + READ]) {
                    Ok(n) => break Ok(n),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => break Err(e.raw_os_error().unwrap_or(libc::EIO)),
                }
            };
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    failed = Some(e);
                    eof = true;
                    0
                }
            };
            held = old + n;
            if n == 0 {
                eof = true;
            }
            let fresh = &mut buf[old..held];
            if binary_at.is_none() && memchr(0, fresh).is_some() {
                binary_at = Some(st.selected);
                if !count {
                    st.done_on_match = true;
                    st.out_quiet = true;
                }
            }
            if binary_at.is_some() {
                for b in fresh.iter_mut().filter(|b| **b == 0) {
                    *b = b'\n';
                }
            }
            let lim = if eof {
                held
            } else {
                match memrchr(b'\n', &buf[old..held]) {
                    Some(i) => old + i + 1,
                    None => continue,
                }
            };
            self.region(&buf[..lim], &mut st, p);
            buf.copy_within(lim..held, 0);
            held -= lim;
        }
        // A huge line's buffer is not kept for the next file.
        if buf.len() <= 4 * READ {
            self.buf = buf;
        }
        if !out_quiet0 && binary_at.is_some_and(|n| n < st.selected) {
            p.note(name, Note::BinaryMatches);
        }
        if count {
            if show {
                p.put(name);
                p.put(b":");
            }
            p.put(st.selected.to_string().as_bytes());
            p.put(b"\n");
            p.end_record();
        }
        if self.o.list && !self.o.quiet && st.selected > 0 {
            p.put(name);
            p.put(b"\n");
            p.end_record();
        }
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(Scan {
            selected: st.selected,
            // `st.stop` ends this file only (-l, a binary file's first match).
            stop: p.stopped() || (self.o.quiet && st.selected > 0),
        })
    }

    /// Selects the lines of `region` (whole lines; the last may lack its newline at EOF).
    fn region(&mut self, region: &[u8], st: &mut State, p: &mut Printer) {
        if region.is_empty() {
            return;
        }
        let end = if region.ends_with(b"\n") {
            region.len() - 1
        } else {
            region.len()
        };
        let hay = &region[..end];
        if self.folds {
            self.fold.clear();
            self.fold.extend(hay.iter().map(u8::to_ascii_lowercase));
        }
        let mut counted = 0;
        let mut pos = 0;
        while pos <= end && !st.stop {
            let m = self.next_line(hay, pos);
            if self.o.invert {
                let upto = m.map_or(end + 1, |(ls, _)| ls);
                while pos < upto && !st.stop {
                    let le = memchr(b'\n', &hay[pos..]).map_or(end, |i| pos + i);
                    st.emit(hay, pos, le, &mut counted, self.o.number, p);
                    pos = le + 1;
                }
                match m {
                    Some((_, le)) => pos = le + 1,
                    None => break,
                }
            } else {
                let Some((ls, le)) = m else { break };
                st.emit(hay, ls, le, &mut counted, self.o.number, p);
                pos = le + 1;
            }
        }
        if self.o.number {
            st.lineno += count_nl(&region[counted.min(region.len())..]);
        }
    }

    /// The first line at or after `pos` (a line start) that some pattern matches.
    fn next_line(&mut self, hay: &[u8], pos: usize) -> Option<(usize, usize)> {
        let mut best: Option<(usize, usize)> = None;
        let word = self.o.word;
        let folded = self.folds.then_some(&self.fold[..]);
        for pat in &mut self.pats {
            let limit = best.map_or(hay.len(), |b| b.1);
            if let Some(l) = first_line(pat, hay, folded, pos, limit, word) {
                if best.is_none_or(|b| l.0 < b.0) {
                    best = Some(l);
                }
            }
        }
        best
    }
}

/// Per-file output state.
struct State<'n> {
    out_quiet: bool,
    done_on_match: bool,
    show: bool,
    name: &'n [u8],
    selected: u64,
    /// Newlines before the current region.
    lineno: u64,
    stop: bool,
}

impl State<'_> {
    fn emit(
        &mut self,
        hay: &[u8],
        ls: usize,
        le: usize,
        counted: &mut usize,
        number: bool,
        p: &mut Printer,
    ) {
        self.selected += 1;
        if !self.out_quiet {
            if self.show {
                p.put(self.name);
                p.put(b":");
            }
            if number {
                self.lineno += count_nl(&hay[*counted..ls]);
                *counted = ls;
                p.put((self.lineno + 1).to_string().as_bytes());
                p.put(b":");
            }
            p.put(&hay[ls..le]);
            p.put(b"\n");
            if !p.end_record() {
                self.stop = true;
            }
        }
        if self.done_on_match {
            self.stop = true;
        }
    }
}

fn count_nl(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

fn memchr(c: u8, b: &[u8]) -> Option<usize> {
    // SAFETY: b is valid for its length; the result points into b or is null.
    let p = unsafe { libc::memchr(b.as_ptr().cast(), c.into(), b.len()) };
    (!p.is_null()).then(|| p as usize - b.as_ptr() as usize)
}

fn memrchr(c: u8, b: &[u8]) -> Option<usize> {
    // SAFETY: as for memchr.
    let p = unsafe { libc::memrchr(b.as_ptr().cast(), c.into(), b.len()) };
    (!p.is_null()).then(|| p as usize - b.as_ptr() as usize)
}

fn line_of(hay: &[u8], m: usize) -> (usize, usize) {
    let ls = memrchr(b'\n', &hay[..m]).map_or(0, |i| i + 1);
    let le = memchr(b'\n', &hay[m..]).map_or(hay.len(), |i| m + i);
    (ls, le)
}

fn memmem(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    // SAFETY: both buffers are valid for their lengths; the result points into hay or is null.
    let p = unsafe {
        libc::memmem(
            hay.as_ptr().cast(),
            hay.len(),
            needle.as_ptr().cast(),
            needle.len(),
        )
    };
    if p.is_null() {
        None
    } else {
        Some(p as usize - hay.as_ptr() as usize)
    }
}

/// The first line in `pos..limit` (line bounds; `limit` is a line end) that `pat` matches;
/// `folded` is `hay` ASCII-lowercased, where a folded needle is searched.
fn first_line(
    pat: &mut Pat,
    hay: &[u8],
    folded: Option<&[u8]>,
    pos: usize,
    limit: usize,
    word: bool,
) -> Option<(usize, usize)> {
    let mut from = pos;
    while from <= limit {
        let m = match (&pat.needle, &mut pat.re) {
            (Some(n), _) => {
                let h = folded.unwrap_or(hay);
                from + memmem(&h[from..limit], n)?
            }
            (None, _) if pat.per_line => from,
            (None, Some(re)) => re.found_from(&hay[..limit], from)?,
            (None, None) => return None,
        };
        let (ls, le) = line_of(hay, m);
        let selected = match &mut pat.re {
            None => true,
            Some(re) => confirm(re, &hay[ls..le], word),
        };
        if selected {
            return Some((ls, le));
        }
        from = le + 1;
    }
    None
}

fn wordchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `re` matches in `line` alone; with -w, as GNU's EGexecute looks for a match with
/// word boundaries: shorter matches at the same start, then later starts.
fn confirm(re: &mut Regex, line: &[u8], word: bool) -> bool {
    if !word {
        return re.found_from(line, 0).is_some();
    }
    let n = line.len();
    let Some((mut start, end)) = re.search(line, 0, false) else {
        return false;
    };
    let mut len = end - start;
    loop {
        let next_word = start + len < n && wordchar(line[start + len]);
        let prev_word = start > 0 && wordchar(line[start - 1]);
        if !next_word && !prev_word {
            return true;
        }
        let mut shorter = 0;
        if len > 0 {
            len -= 1;
            shorter = re.match_at(line, start + len, start, true).unwrap_or(0);
        }
        if shorter > 0 {
            len = shorter;
        } else {
            if start >= n {
                return false;
            }
            match re.search(line, start + 1, false) {
                Some((s, e)) => {
                    start = s;
                    len = e - s;
                }
                None => return false,
            }
        }
    }
}

/// What a whole search found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub found: bool,
    pub stop: bool,
}

/// Runs grep over `roots` in `fs`, as GNU walks them.
pub fn run(
    g: &mut Grep,
    fs: &mut dyn Fs,
    roots: &[Root],
    names: Names,
    sink: &mut dyn Sink,
) -> Outcome {
    let mut p = Printer::new(sink);
    let mut w = Walk {
        g,
        fs,
        out: Outcome::default(),
        ancestors: Vec::new(),
    };
    for root in roots {
        w.root(root, names, &mut p);
        if w.out.stop {
            break;
        }
    }
    p.flush();
    w.out
}

struct Walk<'a> {
    g: &'a mut Grep,
    fs: &'a mut dyn Fs,
    out: Outcome,
    ancestors: Vec<(u64, u64)>,
}

impl Walk<'_> {
    /// A per-file failure; with -s the consumer records it without printing it.
    fn error(&self, p: &mut Printer, path: &[u8], errno: i32) {
        p.error(path, errno);
    }

    fn root(&mut self, root: &Root, names: Names, p: &mut Printer) {
        let st = match self.fs.stat(&root.path, true) {
            Ok(st) => st,
            Err(e) => return self.error(p, &root.display, e),
        };
        let show = match names {
            Names::Always => true,
            Names::Never => false,
            Names::IfDir => st.is_dir(),
        };
        if st.is_dir() {
            if self.g.o.recurse == Recurse::No {
                return self.error(p, &root.display, libc::EISDIR);
            }
            self.ancestors.push((st.dev, st.ino));
            self.dir(&root.path, &root.display, show, p);
            self.ancestors.pop();
        } else {
            self.file(&root.path, &root.display, show, false, p);
        }
    }

    fn dir(&mut self, path: &[u8], display: &[u8], show: bool, p: &mut Printer) {
        let entries = match self.fs.read_dir_kinds(path) {
            Ok(e) => e,
            Err(e) => return self.error(p, display, e),
        };
        for (name, meta) in entries {
            if self.out.stop || p.stopped() {
                self.out.stop = true;
                return;
            }
            let child = join(path, &name);
            let shown = join(display, &name);
            let plain = meta.kind == Kind::File;
            let meta = if meta.kind == Kind::Symlink {
                if self.g.o.recurse != Recurse::Logical {
                    continue;
                }
                match self.fs.stat(&child, true) {
                    Ok(m) => m,
                    Err(e) => {
                        self.error(p, &shown, e);
                        continue;
                    }
                }
            } else {
                meta
            };
            match meta.kind {
                Kind::Dir => {
                    if self.ancestors.contains(&(meta.dev, meta.ino)) {
                        if !self.g.o.no_messages {
                            p.note(&shown, Note::DirLoop);
                        }
                        continue;
                    }
                    self.ancestors.push((meta.dev, meta.ino));
                    self.dir(&child, &shown, show, p);
                    self.ancestors.pop();
                }
                Kind::File => self.file(&child, &shown, show, plain, p),
                // Devices, FIFOs and sockets met while recursing are skipped (`-D read`
                // applies to the command line only).
                _ => {}
            }
        }
    }

    /// Searches one file; `plain` when its directory said it is a regular file (no symlink
    /// followed to it), so its bytes may have a content key.
    fn file(&mut self, path: &[u8], display: &[u8], show: bool, plain: bool, p: &mut Printer) {
        match &self.g.role {
            Role::Alone => {}
            Role::Lead if plain => return self.lead_file(path, display, show, p),
            Role::Lead => {}
            Role::Follow { loud, quiet } => {
                if let Some(k) = self.fs.share_key(path).filter(|_| plain) {
                    if loud.binary_search(&k).is_ok() {
                        p.use_memo(k, display, show);
                        self.out.stop |= p.stopped();
                        return;
                    }
                    if quiet.binary_search(&k).is_ok() {
                        return;
                    }
                }
            }
        }
        if let Some(memos) = self.g.memos.clone().filter(|_| plain) {
            if let Some(key) = self.fs.content_key(path) {
                if let Some(m) = self.memo(&memos, key, path) {
                    return self.replay(m, display, show, p);
                }
            }
        }
        let mut r = match self.fs.open(path) {
            Ok(r) => r,
            Err(e) => return p.error(display, e),
        };
        let scanned = self.g.file(&mut r, display, show, p);
        drop(r);
        self.scanned(scanned, display, p);
    }
}

/// A memo's output on its way to the leader's stream.
struct ToMemo<'p, 's> {
    p: &'p mut Printer<'s>,
    binary: bool,
}

impl Sink for ToMemo<'_, '_> {
    fn out(&mut self, bytes: &[u8], _whole: bool) -> bool {
        self.p.memo_part(bytes);
        !self.p.stopped()
    }
    fn error(&mut self, _path: &[u8], _errno: i32, _dir: bool) -> bool {
        true
    }
    fn note(&mut self, _path: &[u8], note: Note) -> bool {
        self.binary |= note == Note::BinaryMatches;
        true
    }
}

impl Walk<'_> {
    /// A shared search's leader: a file that may be shared is searched with no name shown
    /// and sent as a memo (which dockerbox prints here, and where followers meet it).
    fn lead_file(&mut self, path: &[u8], display: &[u8], show: bool, p: &mut Printer) {
        let (mut r, key) = match self.fs.open_keyed(path) {
            Ok(x) => x,
            Err(e) => return p.error(display, e),
        };
        let Some(key) = key else {
            let scanned = self.g.file(&mut r, display, show, p);
            drop(r);
            return self.scanned(scanned, display, p);
        };
        p.memo_start(key, display, show);
        let mut to = ToMemo { p, binary: false };
        let scanned = {
            let mut inner = Printer::new(&mut to);
            let s = self.g.file(&mut r, b"", false, &mut inner);
            inner.flush();
            s
        };
        drop(r);
        let end = MemoEnd {
            binary: to.binary,
            selected: scanned.map_or(0, |s| s.selected),
            whole: scanned.is_ok(),
        };
        p.memo_end(&end);
        self.scanned(scanned, display, p);
    }

    fn scanned(&mut self, scanned: Result<Scan, i32>, display: &[u8], p: &mut Printer) {
        match scanned {
            Ok(s) => {
                self.out.found |= s.selected > 0;
                self.out.stop |= s.stop;
            }
            Err(e) => self.error(p, display, e),
        }
        if p.stopped() {
            self.out.stop = true;
        }
    }
}

impl Walk<'_> {
    /// The memo for `key`, made by searching `path` if no search made it yet (one that is
    /// making it is waited for); None when none could be kept (the file could not be read:
    /// the caller's own search says why; the memos are full).
    fn memo(&mut self, memos: &Memos, key: Vec<u8>, path: &[u8]) -> Option<MemoCell> {
        let cell = {
            let mut map = memos.map.lock().ok()?;
            let len = key.len();
            let cell = map.entry(key).or_default().clone();
            if cell.get().is_none() {
                memos.bytes.fetch_add(len, Ordering::Relaxed);
            }
            cell
        };
        let made = cell.get_or_init(|| {
            if memos.bytes.load(Ordering::Relaxed) > MEMO_BYTES {
                return None;
            }
            let mut r = self.fs.open_content(path).ok()?;
            let mut cap = Capture::default();
            let scan = {
                let mut p = Printer::new(&mut cap);
                let s = self.g.file(&mut r, b"", false, &mut p);
                p.flush();
                s
            };
            let selected = scan.ok()?.selected;
            memos.bytes.fetch_add(cap.out.len(), Ordering::Relaxed);
            Some(Memo {
                out: cap.out,
                binary: cap.binary,
                selected,
            })
        });
        made.is_some().then_some(cell)
    }

    /// Prints what a memo says of a file, as its own search would have under `display`.
    fn replay(&mut self, cell: MemoCell, display: &[u8], show: bool, p: &mut Printer) {
        let Some(Some(m)) = cell.get() else { return };
        let mut r = Render::default();
        r.part(&self.g.o, display, show, &m.out, p);
        r.end(&self.g.o, display, m.binary, m.selected, p);
        self.out.found |= m.selected > 0;
        self.out.stop |= p.stopped() || (self.g.o.quiet && m.selected > 0);
    }
}

/// Prints a memo (a file's output searched with no name shown, as it arrives) as GNU grep
/// prints that file's results under `display`.
pub struct Render {
    /// The next byte starts a line.
    at_start: bool,
}

impl Default for Render {
    fn default() -> Render {
        Render { at_start: true }
    }
}

impl Render {
    /// The memo's next bytes.
    pub fn part(&mut self, o: &Opts, display: &[u8], show: bool, bytes: &[u8], p: &mut Printer) {
        if o.list {
            return;
        }
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            if self.at_start && show {
                p.put(display);
                p.put(b":");
            }
            p.put(line);
            self.at_start = line.ends_with(b"\n");
            if self.at_start && !p.end_record() {
                return;
            }
        }
    }

    /// The memo's end: `-l`'s name, the binary note.
    pub fn end(&mut self, o: &Opts, display: &[u8], binary: bool, selected: u64, p: &mut Printer) {
        if o.list {
            if !o.quiet && selected > 0 {
                p.put(display);
                p.put(b"\n");
                p.end_record();
            }
        } else if binary {
            p.note(display, Note::BinaryMatches);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<u8>, Vec<String>);
    impl Sink for Collect {
        fn out(&mut self, b: &[u8], _whole: bool) -> bool {
            self.0.extend_from_slice(b);
            true
        }
        fn error(&mut self, path: &[u8], errno: i32, _dir: bool) -> bool {
            self.1
                .push(format!("{}: {errno}", String::from_utf8_lossy(path)));
            true
        }
        fn note(&mut self, path: &[u8], note: Note) -> bool {
            self.1
                .push(format!("{}: {note:?}", String::from_utf8_lossy(path)));
            true
        }
    }

    fn grep(args: &[&str], input: &[u8]) -> (String, Vec<String>, u64) {
        let argv: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        let (o, _) = parse(&argv).unwrap();
        let mut g = Grep::new(o).unwrap();
        let mut c = Collect(Vec::new(), Vec::new());
        let n = {
            let mut p = Printer::new(&mut c);
            let s = g.file(&mut &input[..], b"f", false, &mut p).unwrap();
            p.flush();
            s.selected
        };
        (String::from_utf8_lossy(&c.0).into_owned(), c.1, n)
    }

    #[test]
    fn lines_numbers_and_inversion() {
        let text = b"one\ntwo\nthree\nfour";
        assert_eq!(grep(&["-n", "o"], text).0, "1:one\n2:two\n4:four\n");
        assert_eq!(grep(&["-v", "o"], text).0, "three\n");
        assert_eq!(grep(&["-c", "-v", "e"], text).0, "2\n");
        assert_eq!(grep(&["-n", ""], b"a\n\nb\n").0, "1:a\n2:\n3:b\n");
        assert_eq!(grep(&["-vn", "x"], b"a\n\nb\n").0, "1:a\n2:\n3:b\n");
        assert_eq!(grep(&["-n", "^$"], b"a\n\nb\n").0, "2:\n");
        assert_eq!(grep(&["-e", "two", "-e", "^o"], text).0, "one\ntwo\n");
    }

    #[test]
    fn words_case_and_syntax() {
        assert_eq!(grep(&["-w", "ab"], b"xab\nab-c\nabab\n").0, "ab-c\n");
        assert_eq!(grep(&["-w", "a.*"], b"ab xa\n").0, "ab xa\n");
        assert_eq!(
            grep(&["-i", "HELLO"], b"hello\nHeLLo\nbye\n").0,
            "hello\nHeLLo\n"
        );
        assert_eq!(grep(&["-E", "a+b|^z"], b"aab\nzz\nb\n").0, "aab\nzz\n");
        assert_eq!(grep(&["a+b"], b"aab\na+b\n").0, "a+b\n");
        assert_eq!(grep(&["-F", "a.b"], b"axb\na.b\n").0, "a.b\n");
        assert_eq!(grep(&["-Fi", "A.B"], b"axb\na.b\n").0, "a.b\n");
        assert_eq!(grep(&[r"\(a\)\1"], b"a\naa\n").0, "aa\n");
        assert_eq!(grep(&["a[[:space:]]b"], b"a\nb\na b\n").0, "a b\n");
        assert_eq!(grep(&[r"b\'"], b"ab\nba\n").0, "ab\n");
    }

    #[test]
    fn binary_files_as_gnu() {
        let (out, notes, _) = grep(&["a"], b"a\0a\nb\n");
        assert_eq!(out, "");
        assert_eq!(notes, vec!["f: BinaryMatches"]);
        assert_eq!(grep(&["-c", ""], b"a\0a\nb\n").0, "3\n");
        assert!(grep(&["-c", "a"], b"a\0a\nb\n").1.is_empty());
        assert_eq!(grep(&["-q", "zz"], b"a\0a\nb\n").2, 0);
        // A binary file's first match ends that file, not the search.
        let argv: Vec<Vec<u8>> = vec![b"a".to_vec()];
        let mut g = Grep::new(parse(&argv).unwrap().0).unwrap();
        let mut c = Collect(Vec::new(), Vec::new());
        let mut p = Printer::new(&mut c);
        let s = g.file(&mut &b"a\0a\n"[..], b"f", false, &mut p).unwrap();
        assert_eq!((s.selected, s.stop), (1, false));
    }

    #[test]
    fn long_lines_cross_reads() {
        let mut big = vec![b'x'; 300_000];
        big.extend_from_slice(b"needle\nshort\n");
        let (out, _, n) = grep(&["-c", "needle"], &big);
        assert_eq!((out.as_str(), n), ("1\n", 1));
        let (out, _, _) = grep(&["-n", "short"], &big);
        assert_eq!(out, "2:short\n");
    }

    /// Files under `/a` and `/b`; those under `/b` named `same*` have the content key of
    /// their twin under `/a` (and the same bytes), the others none. Counts opens.
    struct Twins {
        files: Vec<(&'static str, &'static [u8])>,
        opens: usize,
    }

    impl Fs for Twins {
        fn stat(&mut self, path: &[u8], _follow: bool) -> Result<crate::walk::Meta, i32> {
            let dir = path == b"/a" || path == b"/b";
            let file = self.files.iter().any(|(p, _)| p.as_bytes() == path);
            if !dir && !file {
                return Err(libc::ENOENT);
            }
            Ok(meta(
                if dir { Kind::Dir } else { Kind::File },
                path.len() as u64,
            ))
        }
        fn read_dir(&mut self, path: &[u8]) -> Result<Vec<(Vec<u8>, crate::walk::Meta)>, i32> {
            let mut pre = path.to_vec();
            pre.push(b'/');
            Ok(self
                .files
                .iter()
                .filter_map(|(p, _)| p.as_bytes().strip_prefix(&pre[..]))
                .map(|n| (n.to_vec(), meta(Kind::File, 0)))
                .collect())
        }
        fn open(&mut self, path: &[u8]) -> Result<Box<dyn Read + '_>, i32> {
            self.opens += 1;
            let (_, b) = self
                .files
                .iter()
                .find(|(p, _)| p.as_bytes() == path)
                .ok_or(libc::ENOENT)?;
            Ok(Box::new(*b))
        }
        fn content_key(&mut self, path: &[u8]) -> Option<Vec<u8>> {
            let name = path.get(3..)?;
            name.starts_with(b"same").then(|| name.to_vec())
        }
    }

    fn meta(kind: Kind, ino: u64) -> crate::walk::Meta {
        crate::walk::Meta {
            kind,
            perm: 0o644,
            size: 0,
            blocks: 0,
            mtime: 0,
            mtime_nsec: 0,
            dev: 1,
            ino,
            nlink: 1,
        }
    }

    /// Each root searched by its own Grep (as dockerbox's jobs do), sharing memos or not.
    fn twins(args: &[&str], share: bool) -> (String, Vec<String>, usize) {
        let argv: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        let (o, _) = parse(&argv).unwrap();
        let mut fs = Twins {
            files: vec![
                ("/a/same1", b"ERROR one\nok\nERROR two\n"),
                ("/a/same2", b"x\0ERROR\n"),
                ("/a/same3", b"nothing\n"),
                ("/a/own", b"ERROR a\n"),
                ("/b/same1", b"ERROR one\nok\nERROR two\n"),
                ("/b/same2", b"x\0ERROR\n"),
                ("/b/same3", b"nothing\n"),
                ("/b/own", b"ERROR b\n"),
            ],
            opens: 0,
        };
        let memos = Arc::new(Memos::default());
        let mut c = Collect(Vec::new(), Vec::new());
        for root in ["/a", "/b"] {
            let mut g = Grep::new(o.clone()).unwrap();
            if share {
                g.share(memos.clone());
            }
            let roots = [Root {
                path: root.as_bytes().to_vec(),
                display: format!("x{root}").into_bytes(),
            }];
            run(&mut g, &mut fs, &roots, Names::Always, &mut c);
        }
        (String::from_utf8(c.0).unwrap(), c.1, fs.opens)
    }

    #[test]
    fn files_with_one_content_key_are_searched_once_and_printed_as_their_own() {
        for args in [
            &["-rn", "ERROR"][..],
            &["-rc", "ERROR"],
            &["-rl", "ERROR"],
            &["-rv", "ERROR"],
            &["-rq", "ERROR"],
        ] {
            let (want, want_notes, all) = twins(args, false);
            let (got, notes, opens) = twins(args, true);
            assert_eq!(got, want, "{args:?}");
            assert_eq!(notes, want_notes, "{args:?}");
            assert!(
                opens < all || args == ["-rq", "ERROR"],
                "{args:?}: {opens} opens"
            );
        }
        let (out, notes, _) = twins(&["-rn", "ERROR"], true);
        assert!(out.contains("x/b/same1:3:ERROR two\n"), "{out}");
        assert!(
            notes.contains(&"x/b/same2: BinaryMatches".to_string()),
            "{notes:?}"
        );
    }

    /// A directory of files in memory; each file's share key is its index, but the files
    /// named `mine*` cannot be shared (changed in that container).
    struct Mem(Vec<(&'static str, &'static [u8])>);

    impl Fs for Mem {
        fn stat(&mut self, path: &[u8], _follow: bool) -> Result<crate::walk::Meta, i32> {
            let kind = if path == b"/d" { Kind::Dir } else { Kind::File };
            Ok(crate::walk::Meta {
                kind,
                perm: 0o755,
                size: 0,
                blocks: 0,
                mtime: 0,
                mtime_nsec: 0,
                dev: 1,
                ino: 1,
                nlink: 1,
            })
        }
        fn read_dir(&mut self, _path: &[u8]) -> Result<Vec<(Vec<u8>, crate::walk::Meta)>, i32> {
            let m = self.stat(b"/d/x", false)?;
            Ok(self
                .0
                .iter()
                .map(|(n, _)| (n.as_bytes().to_vec(), m))
                .collect())
        }
        fn open(&mut self, path: &[u8]) -> Result<Box<dyn Read + '_>, i32> {
            let name = &path[3..];
            let f = self.0.iter().find(|(n, _)| n.as_bytes() == name).ok_or(2)?;
            Ok(Box::new(f.1))
        }
        fn open_keyed(&mut self, path: &[u8]) -> Result<(Box<dyn Read + '_>, Option<u64>), i32> {
            let k = self.share_key(path);
            Ok((self.open(path)?, k))
        }
        fn share_key(&mut self, path: &[u8]) -> Option<u64> {
            let name = &path[3..];
            if name.starts_with(b"mine") {
                return None;
            }
            self.0
                .iter()
                .position(|(n, _)| n.as_bytes() == name)
                .map(|i| i as u64)
        }
    }

    /// What dockerbox does with a shared search's records: prints memos as they come (and
    /// keeps them), and prints kept memos where a follower uses them.
    #[derive(Default)]
    struct Shared {
        out: Vec<u8>,
        notes: Vec<String>,
        memos: HashMap<u64, (Vec<u8>, bool, u64)>,
        cur: Option<(u64, Vec<u8>, bool, Vec<u8>)>,
        loud: Vec<u64>,
        quiet: Vec<u64>,
        o: Option<Opts>,
    }

    impl Shared {
        fn print(&mut self, f: impl FnOnce(&Opts, &mut Printer)) {
            let o = self.o.clone().unwrap();
            let mut c = Collect(Vec::new(), Vec::new());
            {
                let mut p = Printer::new(&mut c);
                f(&o, &mut p);
                p.flush();
            }
            self.out.extend_from_slice(&c.0);
            self.notes.extend(c.1);
        }
    }

    impl Sink for Shared {
        fn out(&mut self, b: &[u8], _whole: bool) -> bool {
            self.out.extend_from_slice(b);
            true
        }
        fn error(&mut self, path: &[u8], errno: i32, _dir: bool) -> bool {
            self.notes
                .push(format!("{}: {errno}", String::from_utf8_lossy(path)));
            true
        }
        fn note(&mut self, path: &[u8], note: Note) -> bool {
            self.notes
                .push(format!("{}: {note:?}", String::from_utf8_lossy(path)));
            true
        }
        fn memo_start(&mut self, key: u64, display: &[u8], show: bool) -> bool {
            self.cur = Some((key, display.to_vec(), show, Vec::new()));
            true
        }
        fn memo_part(&mut self, b: &[u8]) -> bool {
            self.cur.as_mut().unwrap().3.extend_from_slice(b);
            true
        }
        fn memo_end(&mut self, e: &MemoEnd) -> bool {
            let (key, display, show, out) = self.cur.take().unwrap();
            self.print(|o, p| {
                let mut r = Render::default();
                // In two pieces, cut inside a line, as frames may cut it.
                let cut = out.len() / 2;
                r.part(o, &display, show, &out[..cut], p);
                r.part(o, &display, show, &out[cut..], p);
                r.end(o, &display, e.binary, e.selected, p);
            });
            if out.is_empty() && !e.binary && e.selected == 0 {
                self.quiet.push(key);
            } else {
                self.loud.push(key);
            }
            self.memos.insert(key, (out, e.binary, e.selected));
            true
        }
        fn use_memo(&mut self, key: u64, display: &[u8], show: bool) -> bool {
            let (out, binary, selected) = self.memos[&key].clone();
            self.print(|o, p| {
                let mut r = Render::default();
                r.part(o, display, show, &out, p);
                r.end(o, display, binary, selected, p);
            });
            true
        }
    }

    #[test]
    fn a_shared_search_prints_what_each_alone_would() {
        let files = |mine: &'static [u8]| {
            Mem(vec![
                ("a.log", &b"ERROR one\nok\nERROR two\n"[..]),
                ("b.bin", b"x\0ERROR\n"),
                ("empty", b"nothing\n"),
                ("mine", mine),
            ])
        };
        for args in [
            &["-rn", "ERROR"][..],
            &["-rc", "ERROR"],
            &["-rl", "ERROR"],
            &["-rv", "o"],
        ] {
            let argv: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
            let (o, _) = parse(&argv).unwrap();
            let roots = [Root {
                path: b"/d".to_vec(),
                display: b"/c/d".to_vec(),
            }];
            let alone = |fs: &mut Mem| {
                let mut g = Grep::new(o.clone()).unwrap();
                let mut c = Collect(Vec::new(), Vec::new());
                run(&mut g, fs, &roots, Names::IfDir, &mut c);
                (c.0, c.1)
            };
            let mut sh = Shared {
                o: Some(o.clone()),
                ..Shared::default()
            };
            let mut g = Grep::new(o.clone()).unwrap();
            g.role = Role::Lead;
            run(
                &mut g,
                &mut files(b"ERROR lead\n"),
                &roots,
                Names::IfDir,
                &mut sh,
            );
            assert_eq!(
                (sh.out.clone(), sh.notes.clone()),
                alone(&mut files(b"ERROR lead\n")),
                "lead {args:?}"
            );
            assert_eq!(sh.loud.len() + sh.quiet.len(), 3, "{args:?}");
            sh.loud.sort_unstable();
            sh.quiet.sort_unstable();
            sh.out.clear();
            sh.notes.clear();
            let mut g = Grep::new(o.clone()).unwrap();
            g.role = Role::Follow {
                loud: sh.loud.clone(),
                quiet: sh.quiet.clone(),
            };
            run(
                &mut g,
                &mut files(b"ERROR follow\n"),
                &roots,
                Names::IfDir,
                &mut sh,
            );
            assert_eq!(
                (sh.out, sh.notes),
                alone(&mut files(b"ERROR follow\n")),
                "follow {args:?}"
            );
        }
    }
}
