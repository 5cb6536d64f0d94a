//! Bytes into tokens: words (with their quoting kept as parts), operators, newlines. Quotes,
//! escapes, `$` forms and comments are all decided here; the parser only sees tokens. What sh
//! has but dockerbox does not (`$(...)`, backticks, `${x:-y}`, brace expansion) is refused here
//! with its position, so it can never pass as literal text.

use super::ast::{Part, PartKind, Span, Word};
use super::error::{ErrorKind, SyntaxError};

/// One token and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub kind: TokKind,
    pub span: Span,
    /// The aliases this token was substituted from, innermost last: none of them is expanded
    /// again inside it (sh's recursion rule).
    pub aliases: Vec<Vec<u8>>,
    /// The last token of an alias value that ended in a blank: the next word may be an alias too.
    pub blank_after: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TokKind {
    Word(Word),
    /// The digits of `2>`: a word of digits directly followed by `<` or `>`.
    IoNumber(u32),
    Op(Op),
    Newline,
    Eof,
}

/// Operators, including the ones the parser refuses (so it can say which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Semi,
    DSemi,
    Amp,
    AndIf,
    OrIf,
    Pipe,
    PipeAmp,
    Less,
    Great,
    DGreat,
    Clobber,
    LessAnd,
    GreatAnd,
    AndGreat,
    AndDGreat,
    DLess,
    TLess,
    LessGreat,
    LParen,
    RParen,
}

/// Operators by their text, longest first so `&&` wins over `&`.
const OPS: &[(&[u8], Op)] = &[
    (b"&>>", Op::AndDGreat),
    (b"<<<", Op::TLess),
    (b"&&", Op::AndIf),
    (b"&>", Op::AndGreat),
    (b"||", Op::OrIf),
    (b"|&", Op::PipeAmp),
    (b";;", Op::DSemi),
    (b"<<", Op::DLess),
    (b"<&", Op::LessAnd),
    (b"<>", Op::LessGreat),
    (b">>", Op::DGreat),
    (b">&", Op::GreatAnd),
    (b">|", Op::Clobber),
    (b"&", Op::Amp),
    (b"|", Op::Pipe),
    (b";", Op::Semi),
    (b"<", Op::Less),
    (b">", Op::Great),
    (b"(", Op::LParen),
    (b")", Op::RParen),
];

impl Op {
    pub fn text(self) -> &'static str {
        OPS.iter()
            .find(|(_, op)| *op == self)
            .and_then(|(t, _)| std::str::from_utf8(t).ok())
            .unwrap_or("?")
    }

    pub fn is_redirect(self) -> bool {
        use Op::*;
        matches!(
            self,
            Less | Great
                | DGreat
                | Clobber
                | LessAnd
                | GreatAnd
                | AndGreat
                | AndDGreat
                | DLess
                | TLess
                | LessGreat
        )
    }
}

/// Bytes that end a bare word (besides blanks and newline).
fn is_meta(b: u8) -> bool {
    matches!(b, b'|' | b'&' | b';' | b'<' | b'>' | b'(' | b')')
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

pub(super) fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

pub(super) fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(super) fn is_name(s: &[u8]) -> bool {
    s.first().is_some_and(|&b| is_name_start(b)) && s.iter().all(|&b| is_name_byte(b))
}

fn err(pos: usize, kind: ErrorKind) -> SyntaxError {
    SyntaxError { pos, kind }
}

fn unsupported(pos: usize, what: &str) -> SyntaxError {
    err(pos, ErrorKind::Unsupported(what.to_string()))
}

pub(super) struct Lexer<'a> {
    line: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(line: &'a [u8]) -> Lexer<'a> {
        Lexer { line, pos: 0 }
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.line.get(i).copied()
    }

    fn token(kind: TokKind, start: usize, end: usize) -> Token {
        Token {
            kind,
            span: Span::new(start, end),
            aliases: Vec::new(),
            blank_after: false,
        }
    }

    pub fn next_token(&mut self) -> Result<Token, SyntaxError> {
        // Blanks, line continuations and comments between tokens.
        loop {
            match (self.at(self.pos), self.at(self.pos + 1)) {
                (Some(b), _) if is_blank(b) => self.pos += 1,
                (Some(b'\\'), Some(b'\n')) => self.pos += 2,
                (Some(b'#'), _) => {
                    while self.at(self.pos).is_some_and(|b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
        let start = self.pos;
        let Some(c) = self.at(start) else {
            return Ok(Self::token(TokKind::Eof, start, start));
        };
        if c == b'\n' {
            self.pos += 1;
            return Ok(Self::token(TokKind::Newline, start, self.pos));
        }
        let rest = &self.line[start..];
        if rest.starts_with(b"<(") || rest.starts_with(b">(") {
            return Err(unsupported(start, "process substitution"));
        }
        if let Some((text, op)) = OPS.iter().find(|(t, _)| rest.starts_with(t)) {
            self.pos += text.len();
            return Ok(Self::token(TokKind::Op(*op), start, self.pos));
        }
        self.word(start)
    }

    /// A word, or an fd number if the word is all digits and a redirect follows.
    fn word(&mut self, start: usize) -> Result<Token, SyntaxError> {
        let mut w = WordBuf::default();
        while let Some(c) = self.at(self.pos) {
            let i = self.pos;
            match c {
                b'\n' => break,
                c if is_blank(c) || is_meta(c) => break,
                b'\\' => match self.at(i + 1) {
                    None => return Err(err(i, ErrorKind::UnexpectedEof)),
                    Some(b'\n') => self.pos += 2,
                    Some(b) => {
                        w.quoted(&[b], Span::new(i, i + 2));
                        self.pos += 2;
                    }
                },
                b'\'' => {
                    let close = self.line[i + 1..]
                        .iter()
                        .position(|&b| b == b'\'')
                        .ok_or(err(i, ErrorKind::Unterminated('\'')))?;
                    let end = i + 1 + close;
                    w.quoted(&self.line[i + 1..end], Span::new(i, end + 1));
                    self.pos = end + 1;
                }
                b'"' => self.double_quoted(&mut w)?,
                b'$' => self.dollar(&mut w, false)?,
                b'`' => return Err(unsupported(i, "command substitution '`...`'")),
                b => {
                    w.bare(b, i);
                    self.pos += 1;
                }
            }
        }
        let mut word = Word {
            parts: w.parts,
            span: Span::new(start, self.pos),
        };
        if let Some(digits) = word.as_bare().filter(|d| d.iter().all(u8::is_ascii_digit)) {
            if matches!(self.at(self.pos), Some(b'<' | b'>')) {
                let n = parse_fd(digits).ok_or(err(start, ErrorKind::FdOutOfRange))?;
                return Ok(Self::token(TokKind::IoNumber(n), start, self.pos));
            }
        }
        if let Some(at) = brace_expansion(&word) {
            return Err(unsupported(at, "brace expansion"));
        }
        tilde_prefix(&mut word.parts);
        Ok(Self::token(TokKind::Word(word), start, self.pos))
    }

    /// `"..."` starting at `self.pos`: `\` escapes only `$ \` " \ newline`, `$` expands.
    fn double_quoted(&mut self, w: &mut WordBuf) -> Result<(), SyntaxError> {
        let open = self.pos;
        let parts_before = w.parts.len();
        self.pos += 1;
        loop {
            let i = self.pos;
            match self.at(i) {
                None => return Err(err(open, ErrorKind::Unterminated('"'))),
                Some(b'"') => {
                    self.pos += 1;
                    // Parts tile the word: the quotes belong to the first and last part.
                    if w.parts.len() == parts_before {
                        // `""` still makes a word.
                        w.quoted(&[], Span::new(open, self.pos));
                    }
                    if let Some(p) = w.parts.get_mut(parts_before) {
                        p.span.start = p.span.start.min(open);
                    }
                    if let Some(p) = w.parts.last_mut() {
                        p.span.end = self.pos;
                    }
                    return Ok(());
                }
                Some(b'\\') => match self.at(i + 1) {
                    Some(b'\n') => self.pos += 2,
                    Some(b @ (b'$' | b'`' | b'"' | b'\\')) => {
                        w.quoted(&[b], Span::new(i, i + 2));
                        self.pos += 2;
                    }
                    _ => {
                        w.quoted(b"\\", Span::new(i, i + 1));
                        self.pos += 1;
                    }
                },
                Some(b'$') => self.dollar(w, true)?,
                Some(b'`') => return Err(unsupported(i, "command substitution '`...`'")),
                Some(b) => {
                    w.quoted(&[b], Span::new(i, i + 1));
                    self.pos += 1;
                }
            }
        }
    }

    /// A `$` at `self.pos`, bare or inside `"..."`.
    fn dollar(&mut self, w: &mut WordBuf, quoted: bool) -> Result<(), SyntaxError> {
        let d = self.pos;
        let param = |name: &[u8]| PartKind::Param {
            name: name.to_vec(),
            quoted,
        };
        match self.at(d + 1) {
            Some(b'\'') if !quoted => {
                let mut bytes = Vec::new();
                let close = ansi_c(self.line, d + 2, &mut bytes)
                    .ok_or(err(d, ErrorKind::Unterminated('\'')))?;
                self.pos = close + 1;
                w.quoted(&bytes, Span::new(d, self.pos));
            }
            // bash's locale-translated string: without translations, a plain "...".
            Some(b'"') if !quoted => {
                self.pos += 1;
                self.double_quoted(w)?;
            }
            Some(b'{') => {
                let close = self.line[d + 2..]
                    .iter()
                    .position(|&b| b == b'}')
                    .map(|c| d + 2 + c)
                    .ok_or(err(d, ErrorKind::Unterminated('}')))?;
                let inner = &self.line[d + 2..close];
                let kind = match inner {
                    b"?" => PartKind::Status { quoted },
                    [b'$' | b'#' | b'!' | b'-' | b'@' | b'*'] => param(inner),
                    _ if is_name(inner)
                        || (!inner.is_empty() && inner.iter().all(u8::is_ascii_digit)) =>
                    {
                        param(inner)
                    }
                    _ => {
                        let text = String::from_utf8_lossy(&self.line[d..=close]).into_owned();
                        let kind = if inner.is_empty() {
                            ErrorKind::BadSubstitution(text)
                        } else {
                            ErrorKind::Unsupported(format!("parameter expansion '{text}'"))
                        };
                        return Err(err(d, kind));
                    }
                };
                self.pos = close + 1;
                w.push(kind, Span::new(d, self.pos));
            }
            Some(b'(') if self.at(d + 2) == Some(b'(') => {
                return Err(unsupported(d, "arithmetic expansion '$((...))'"));
            }
            Some(b'(') => return Err(unsupported(d, "command substitution '$(...)'")),
            Some(b'[') => return Err(unsupported(d, "arithmetic expansion '$[...]'")),
            Some(b'?') => {
                self.pos += 2;
                w.push(PartKind::Status { quoted }, Span::new(d, self.pos));
            }
            Some(b) if is_name_start(b) => {
                let len = self.line[d + 1..]
                    .iter()
                    .take_while(|&&b| is_name_byte(b))
                    .count();
                self.pos = d + 1 + len;
                w.push(param(&self.line[d + 1..self.pos]), Span::new(d, self.pos));
            }
            Some(b) if b.is_ascii_digit() || b"$#!-@*".contains(&b) => {
                self.pos += 2;
                w.push(param(&[b]), Span::new(d, self.pos));
            }
            // Anything else: a literal `$` (`a$`, `$/`, `"$"`).
            _ => {
                self.pos += 1;
                if quoted {
                    w.quoted(b"$", Span::new(d, self.pos));
                } else {
                    w.bare(b'$', d);
                }
            }
        }
        Ok(())
    }
}

fn parse_fd(digits: &[u8]) -> Option<u32> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Collects a word's parts, merging neighbours of the same kind.
#[derive(Default)]
struct WordBuf {
    parts: Vec<Part>,
}

impl WordBuf {
    fn bare(&mut self, b: u8, at: usize) {
        let span = Span::new(at, at + 1);
        if let Some(Part {
            kind: PartKind::Bare(bytes),
            span: s,
        }) = self.parts.last_mut()
        {
            bytes.push(b);
            *s = s.to(span);
        } else {
            self.push(PartKind::Bare(vec![b]), span);
        }
    }

    fn quoted(&mut self, b: &[u8], span: Span) {
        if let Some(Part {
            kind: PartKind::Quoted(bytes),
            span: s,
        }) = self.parts.last_mut()
        {
            bytes.extend_from_slice(b);
            *s = s.to(span);
        } else {
            self.push(PartKind::Quoted(b.to_vec()), span);
        }
    }

    fn push(&mut self, kind: PartKind, span: Span) {
        self.parts.push(Part { kind, span });
    }
}

/// Turns a leading bare `~`, `~user`, `~+` or `~-` (up to the first `/`) into a tilde part. As in
/// bash, a prefix with anything quoted or expanded in it stays literal: `~"x"`, `~$u`.
pub(super) fn tilde_prefix(parts: &mut Vec<Part>) {
    let Some(Part {
        kind: PartKind::Bare(b),
        span,
    }) = parts.first()
    else {
        return;
    };
    if b.first() != Some(&b'~') {
        return;
    }
    let slash = b.iter().position(|&c| c == b'/');
    if slash.is_none() && parts.len() > 1 {
        return;
    }
    let end = slash.unwrap_or(b.len());
    let user = &b[1..end];
    let login = |c: &u8| c.is_ascii_alphanumeric() || b"._-".contains(c);
    let valid = matches!(user, b"" | b"+" | b"-")
        || (user.iter().all(login) && user.first() != Some(&b'-'));
    if !valid {
        return;
    }
    let split = span.start + end;
    let tilde = Part {
        kind: PartKind::Tilde(user.to_vec()),
        span: Span::new(span.start, split.min(span.end)),
    };
    let rest = b[end..].to_vec();
    let rest_span = Span::new(split.min(span.end), span.end);
    parts[0] = tilde;
    if !rest.is_empty() {
        parts.insert(
            1,
            Part {
                kind: PartKind::Bare(rest),
                span: rest_span,
            },
        );
    }
}

/// Where a brace expansion starts in `word` (`{a,b}`, `{1..3}`, `{a..z}`), if it has one: bash
/// would turn it into several words, so it must not pass as one literal word. `{}`, `{a}` and
/// quoted braces are literal in bash too.
fn brace_expansion(word: &Word) -> Option<usize> {
    // The word's bytes; `None` for quoted bytes and expansions, which never delimit braces.
    let mut seq: Vec<(Option<u8>, usize)> = Vec::new();
    for p in &word.parts {
        match &p.kind {
            PartKind::Bare(b) => seq.extend(
                b.iter()
                    .enumerate()
                    .map(|(i, &c)| (Some(c), p.span.start + i)),
            ),
            _ => seq.push((None, p.span.start)),
        }
    }
    for (i, &(c, at)) in seq.iter().enumerate() {
        if c != Some(b'{') {
            continue;
        }
        let mut depth = 0;
        let mut comma = false;
        for (j, &(d, _)) in seq.iter().enumerate().skip(i + 1) {
            match d {
                Some(b'{') => depth += 1,
                Some(b'}') if depth > 0 => depth -= 1,
                Some(b'}') => {
                    let inner: Option<Vec<u8>> = seq[i + 1..j].iter().map(|(b, _)| *b).collect();
                    if comma || inner.is_some_and(|s| is_sequence(&s)) {
                        return Some(at);
                    }
                    break;
                }
                Some(b',') if depth == 0 => comma = true,
                _ => {}
            }
        }
    }
    None
}

/// bash's brace sequences: `X..Y` or `X..Y..STEP`, integers or single letters.
fn is_sequence(s: &[u8]) -> bool {
    let int = |t: &[u8]| {
        let t = t.strip_prefix(b"-").unwrap_or(t);
        !t.is_empty() && t.iter().all(u8::is_ascii_digit)
    };
    let letter = |t: &[u8]| t.len() == 1 && t[0].is_ascii_alphabetic();
    let mut fields = Vec::new();
    let (mut from, mut i) = (0, 0);
    while i + 1 < s.len() {
        if &s[i..i + 2] == b".." {
            fields.push(&s[from..i]);
            i += 2;
            from = i;
        } else {
            i += 1;
        }
    }
    fields.push(&s[from..]);
    match fields.as_slice() {
        [a, b] => (int(a) && int(b)) || (letter(a) && letter(b)),
        [a, b, step] => int(step) && ((int(a) && int(b)) || (letter(a) && letter(b))),
        _ => false,
    }
}

/// Decodes the body of `$'...'` from `i` into `out`; returns the index of the closing quote, or
/// `None` if there is none.
fn ansi_c(line: &[u8], mut i: usize, out: &mut Vec<u8>) -> Option<usize> {
    loop {
        let c = *line.get(i)?;
        if c == b'\'' {
            return Some(i);
        }
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = *line.get(i + 1)?;
        i += 2;
        let digits = |from: usize, max: usize, radix: u32| {
            line[from.min(line.len())..]
                .iter()
                .take(max)
                .take_while(|b| (**b as char).is_digit(radix))
                .count()
        };
        let value = |from: usize, n: usize, radix: u32| {
            std::str::from_utf8(&line[from..from + n])
                .ok()
                .and_then(|s| u32::from_str_radix(s, radix).ok())
                .unwrap_or(0)
        };
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'e' | b'E' => out.push(27),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'x' => match digits(i, 2, 16) {
                0 => out.extend_from_slice(b"\\x"),
                n => {
                    out.push(value(i, n, 16) as u8);
                    i += n;
                }
            },
            b'u' | b'U' => {
                let max = if e == b'u' { 4 } else { 8 };
                match digits(i, max, 16) {
                    0 => out.extend_from_slice(&[b'\\', e]),
                    n => {
                        let c = char::from_u32(value(i, n, 16)).unwrap_or('\u{fffd}');
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        i += n;
                    }
                }
            }
            b'c' => match line.get(i) {
                Some(&x) if x != b'\'' => {
                    out.push(x.to_ascii_uppercase() & 0x1f);
                    i += 1;
                }
                _ => out.extend_from_slice(b"\\c"),
            },
            b'0'..=b'7' => {
                let n = digits(i - 1, 3, 8);
                out.push((value(i - 1, n, 8) & 0xff) as u8);
                i += n - 1;
            }
            // `\\ \' \" \?` give the character; unknown escapes keep their backslash, as bash.
            b'\\' | b'\'' | b'"' | b'?' => out.push(e),
            other => out.extend_from_slice(&[b'\\', other]),
        }
    }
}
