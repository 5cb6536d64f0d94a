//! Bytes into tokens: words (with their quoting kept as parts), operators, newlines. Quotes,
//! escapes, `$` forms (`$(...)`, backquotes, `$((...))`, every `${...}`) and comments are all
//! decided here; a command substitution's inside is parsed by a nested parser, so the parser
//! only sees finished words. Here-document bodies are read here too, when the parser asks for
//! one: they start after the current line, so the lexer skips them when it reaches its end.

use super::ast::{ParamOp, Part, PartKind, Span, Word};
use super::error::{ErrorKind, SyntaxError};
use super::parse;

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
    /// The NAME of bash's `{NAME}>`: the shell picks a descriptor and sets NAME to it.
    IoName(Vec<u8>),
    Op(Op),
    Newline,
    Eof,
}

/// Operators, including the ones the parser refuses (so it can say which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Semi,
    DSemi,
    SemiAmp,
    DSemiAmp,
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
    DLessDash,
    TLess,
    LessGreat,
    LParen,
    RParen,
}

/// Operators by their text, longest first so `&&` wins over `&`.
const OPS: &[(&[u8], Op)] = &[
    (b"&>>", Op::AndDGreat),
    (b"<<<", Op::TLess),
    (b"<<-", Op::DLessDash),
    (b";;&", Op::DSemiAmp),
    (b"&&", Op::AndIf),
    (b"&>", Op::AndGreat),
    (b"||", Op::OrIf),
    (b"|&", Op::PipeAmp),
    (b";;", Op::DSemi),
    (b";&", Op::SemiAmp),
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
                | DLessDash
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

/// How deep `$(...)` and `${...}` may nest: deeper input is refused, not a stack overflow.
const MAX_DEPTH: usize = 200;

pub(super) struct Lexer<'a> {
    line: &'a [u8],
    pub pos: usize,
    /// Where the next here-document body starts, when one was read on this line.
    heredoc_next: Option<usize>,
    /// The newline ending the line with here-documents: the lexer jumps over their bodies there.
    heredoc_newline: Option<usize>,
    /// Nesting of command substitutions around this lexer.
    pub depth: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(line: &'a [u8]) -> Lexer<'a> {
        Lexer::starting(line, 0, 0)
    }

    pub fn starting(line: &'a [u8], pos: usize, depth: usize) -> Lexer<'a> {
        Lexer {
            line,
            pos,
            heredoc_next: None,
            heredoc_newline: None,
            depth,
        }
    }

    /// The byte at the current position.
    pub fn peek_byte(&self) -> Option<u8> {
        self.at(self.pos)
    }

    /// Reads the body of a here-document whose delimiter was just lexed: the lines after the
    /// current one (and after earlier bodies on it) up to a line that is exactly `delim`
    /// (`strip`: `<<-`, leading tabs removed). A quoted delimiter makes the body literal.
    pub fn heredoc(
        &mut self,
        delim: &[u8],
        strip: bool,
        quoted: bool,
        span: Span,
    ) -> Result<Word, SyntaxError> {
        let start = match self.heredoc_next {
            Some(p) => p,
            None => {
                let nl = self
                    .command_line_end(self.pos)
                    .ok_or(err(self.line.len(), ErrorKind::UnexpectedEof))?;
                self.heredoc_newline = Some(nl);
                nl + 1
            }
        };
        let mut body = Vec::new();
        let mut i = start;
        loop {
            if i >= self.line.len() {
                return Err(err(self.line.len(), ErrorKind::UnexpectedEof));
            }
            let end = self.line[i..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(self.line.len(), |e| i + e);
            let mut text = &self.line[i..end];
            if strip {
                while let [b'\t', rest @ ..] = text {
                    text = rest;
                }
            }
            let next = (end + 1).min(self.line.len());
            if text == delim {
                self.heredoc_next = Some(next);
                break;
            }
            body.extend_from_slice(text);
            if end < self.line.len() {
                body.push(b'\n');
            }
            i = end + 1;
        }
        if quoted {
            return Ok(Word::literal(&body, span));
        }
        let mut sub = Lexer::starting(&body, 0, self.depth);
        let mut w = WordBuf::default();
        sub.dq_body(&mut w, None)?;
        let mut word = Word {
            parts: w.parts,
            span,
        };
        respan(&mut word, span);
        if word.parts.is_empty() {
            word = Word::literal(b"", span);
        }
        Ok(word)
    }

    /// The newline that ends the command line going on at `from`: not one inside quotes, after
    /// a backslash (a continued line) or inside a comment's text. A here-document's body
    /// starts after it.
    fn command_line_end(&self, from: usize) -> Option<usize> {
        let line = self.line;
        let mut i = from;
        while i < line.len() {
            match line[i] {
                b'\n' => return Some(i),
                b'\\' => i += 2,
                b'\'' => {
                    i += 1 + line.get(i + 1..)?.iter().position(|&c| c == b'\'')? + 1;
                }
                b'"' => {
                    i += 1;
                    loop {
                        match line.get(i)? {
                            b'\\' => i += 2,
                            b'"' => break,
                            _ => i += 1,
                        }
                    }
                    i += 1;
                }
                b'#' if i == 0 || is_blank(line[i - 1]) => {
                    return line[i..].iter().position(|&c| c == b'\n').map(|e| i + e);
                }
                _ => i += 1,
            }
        }
        None
    }

    /// The right side of `=~` in `[[ ]]`: up to a blank outside parentheses, `(`, `)` and `|`
    /// being part of the expression.
    pub fn regex_word(&mut self) -> Result<Word, SyntaxError> {
        while self.at(self.pos).is_some_and(is_blank) {
            self.pos += 1;
        }
        let start = self.pos;
        let mut w = WordBuf::default();
        let mut depth = 0usize;
        while let Some(c) = self.at(self.pos) {
            let i = self.pos;
            match c {
                b'(' => depth += 1,
                b')' if depth > 0 => depth -= 1,
                _ if depth == 0 && (is_blank(c) || c == b'\n' || (is_meta(c) && c != b'|')) => {
                    break
                }
                _ => {}
            }
            match c {
                b'\\' => {
                    let b = self.at(i + 1).ok_or(err(i, ErrorKind::UnexpectedEof))?;
                    w.quoted(&[b], Span::new(i, i + 2));
                    self.pos += 2;
                }
                b'\'' => self.single_quoted(&mut w)?,
                b'"' => self.double_quoted(&mut w)?,
                b'$' => self.dollar(&mut w, false)?,
                b => {
                    w.bare(b, i);
                    self.pos += 1;
                }
            }
        }
        Ok(Word {
            parts: w.parts,
            span: Span::new(start, self.pos),
        })
    }

    /// The inside of `(( ... ))` after the first `(` was lexed as a token: the expression
    /// up to the matching `))`. `None` (nothing consumed) if the parentheses close apart:
    /// `((a) | b)` is a subshell in a subshell.
    pub fn arith_command(&mut self) -> Result<Option<Word>, SyntaxError> {
        if self.at(self.pos) != Some(b'(') {
            return Ok(None);
        }
        let open = self.pos + 1;
        let Some(close) = arith_end(self.line, open)? else {
            return Ok(None);
        };
        let word = self.arith_word(open, close)?;
        self.pos = close + 2;
        Ok(Some(word))
    }

    fn arith_word(&self, from: usize, to: usize) -> Result<Word, SyntaxError> {
        let inner = &self.line[from..to];
        let mut sub = Lexer::starting(inner, 0, self.depth + 1);
        let mut w = WordBuf::default();
        sub.dq_body(&mut w, None)?;
        let span = Span::new(from, to);
        let mut word = Word {
            parts: w.parts,
            span,
        };
        respan(&mut word, span);
        Ok(word)
    }

    /// A subscript's text (`a[$i+1]`, `m["k"]`): expanded as in double quotes, with quotes
    /// removed as in a word.
    pub(super) fn subscript_word(&self, from: usize, to: usize) -> Result<Word, SyntaxError> {
        let inner = &self.line[from..to];
        let mut sub = Lexer::starting(inner, 0, self.depth + 1);
        let mut w = WordBuf::default();
        while sub.pos < inner.len() {
            match inner[sub.pos] {
                b'\'' => sub.single_quoted(&mut w)?,
                _ => sub.dq_step(&mut w, b"")?,
            }
        }
        let span = Span::new(from, to);
        let mut parts = w.parts;
        merge_parts(&mut parts);
        let mut word = Word { parts, span };
        respan(&mut word, span);
        Ok(word)
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
            if self.heredoc_newline == Some(start) {
                if let Some(next) = self.heredoc_next.take() {
                    self.pos = next;
                }
                self.heredoc_newline = None;
            }
            return Ok(Self::token(TokKind::Newline, start, self.pos));
        }
        let rest = &self.line[start..];
        if rest.starts_with(b"<(") || rest.starts_with(b">(") {
            let (list, end) = self.sub_list(start + 2)?;
            self.pos = end;
            let span = Span::new(start, end);
            let word = Word {
                parts: vec![Part {
                    kind: PartKind::ProcSub {
                        list: Box::new(list),
                        out: c == b'>',
                    },
                    span,
                }],
                span,
            };
            return Ok(Self::token(TokKind::Word(word), start, end));
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
                b'\'' => self.single_quoted(&mut w)?,
                b'"' => self.double_quoted(&mut w)?,
                b'$' => self.dollar(&mut w, false)?,
                b'`' => self.backquoted(&mut w, false)?,
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
        if let Some(name) = word
            .as_bare()
            .and_then(|b| b.strip_prefix(b"{"))
            .and_then(|b| b.strip_suffix(b"}"))
            .filter(|n| is_name(n))
        {
            if matches!(self.at(self.pos), Some(b'<' | b'>')) {
                return Ok(Self::token(TokKind::IoName(name.to_vec()), start, self.pos));
            }
        }
        tilde_prefix(&mut word.parts);
        tilde_after_equals(&mut word.parts);
        Ok(Self::token(TokKind::Word(word), start, self.pos))
    }

    /// `'...'` starting at `self.pos`.
    fn single_quoted(&mut self, w: &mut WordBuf) -> Result<(), SyntaxError> {
        let i = self.pos;
        let close = self.line[i + 1..]
            .iter()
            .position(|&b| b == b'\'')
            .ok_or(err(i, ErrorKind::Unterminated('\'')))?;
        let end = i + 1 + close;
        w.quoted(&self.line[i + 1..end], Span::new(i, end + 1));
        self.pos = end + 1;
        Ok(())
    }

    /// `"..."` starting at `self.pos`: `\` escapes only `$ \` " \ newline`, `$` expands.
    fn double_quoted(&mut self, w: &mut WordBuf) -> Result<(), SyntaxError> {
        let open = self.pos;
        let parts_before = w.parts.len();
        self.pos += 1;
        self.dq_body(w, Some(b'"')).map_err(|e| match e.kind {
            ErrorKind::UnexpectedEof if e.pos >= self.line.len() => {
                err(open, ErrorKind::Unterminated('"'))
            }
            _ => e,
        })?;
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
        Ok(())
    }

    /// Text as inside double quotes, up to `end` (left at it) or the end of the input: a
    /// here-document's body, an arithmetic expression, a quoted `${x:-...}` word.
    fn dq_body(&mut self, w: &mut WordBuf, end: Option<u8>) -> Result<(), SyntaxError> {
        loop {
            let i = self.pos;
            match self.at(i) {
                None if end.is_none() => return Ok(()),
                None => return Err(err(self.line.len(), ErrorKind::UnexpectedEof)),
                Some(b) if Some(b) == end => return Ok(()),
                Some(b'\\') => match self.at(i + 1) {
                    Some(b'\n') => self.pos += 2,
                    Some(b @ (b'$' | b'`' | b'\\')) => {
                        w.quoted(&[b], Span::new(i, i + 2));
                        self.pos += 2;
                    }
                    Some(b) if Some(b) == end || (b == b'"' && end == Some(b'"')) => {
                        w.quoted(&[b], Span::new(i, i + 2));
                        self.pos += 2;
                    }
                    Some(b'"') if end == Some(b'}') => {
                        w.quoted(b"\"", Span::new(i, i + 2));
                        self.pos += 2;
                    }
                    _ => {
                        w.quoted(b"\\", Span::new(i, i + 1));
                        self.pos += 1;
                    }
                },
                Some(b'$') => self.dollar(w, true)?,
                Some(b'`') => self.backquoted(w, true)?,
                // `"${x:-"a b"}"`: quotes inside the braces nest.
                Some(b'"') if end == Some(b'}') => self.double_quoted(w)?,
                Some(b) => {
                    w.quoted(&[b], Span::new(i, i + 1));
                    self.pos += 1;
                }
            }
        }
    }

    /// `` `...` `` at `self.pos`: the text up to the closing backquote, with `\\`, `` \` ``,
    /// `\$` (and inside double quotes `\"`) unescaped, parsed as a command list.
    fn backquoted(&mut self, w: &mut WordBuf, in_dq: bool) -> Result<(), SyntaxError> {
        let open = self.pos;
        let mut inner = Vec::new();
        let mut i = open + 1;
        loop {
            match self.at(i) {
                None => return Err(err(open, ErrorKind::Unterminated('`'))),
                Some(b'`') => break,
                Some(b'\\') => match self.at(i + 1) {
                    Some(b @ (b'\\' | b'`' | b'$')) => {
                        inner.push(b);
                        i += 2;
                    }
                    Some(b'"') if in_dq => {
                        inner.push(b'"');
                        i += 2;
                    }
                    Some(b'\n') => i += 2,
                    _ => {
                        inner.push(b'\\');
                        i += 1;
                    }
                },
                Some(b) => {
                    inner.push(b);
                    i += 1;
                }
            }
        }
        self.pos = i + 1;
        let span = Span::new(open, self.pos);
        if self.depth >= MAX_DEPTH {
            return Err(err(open, ErrorKind::TooDeep));
        }
        let mut list = parse::parse_nested(&inner, self.depth + 1).map_err(|mut e| {
            e.pos = open;
            e
        })?;
        list.respan(span);
        w.push(
            PartKind::CommandSub {
                list: Box::new(list),
                quoted: in_dq,
            },
            span,
        );
        Ok(())
    }

    /// The command list of `$(` or `<(` whose inside starts at `from`: parsed up to its `)`.
    /// Returns it and the position after the `)`.
    fn sub_list(&self, from: usize) -> Result<(super::ast::List, usize), SyntaxError> {
        if self.depth >= MAX_DEPTH {
            return Err(err(from, ErrorKind::TooDeep));
        }
        parse::parse_until_paren(self.line, from, self.depth + 1)
    }

    /// A `${...}` word (`${x:-WORD}`) from `self.pos` up to an unquoted byte of `stops`
    /// outside nested braces, left at it. Blanks are part of it; quotes work as in words, or
    /// as in double quotes when the whole `${...}` is quoted.
    fn param_word(&mut self, quoted: bool, stops: &[u8]) -> Result<Word, SyntaxError> {
        let start = self.pos;
        let mut w = WordBuf::default();
        if quoted {
            loop {
                match self.at(self.pos) {
                    Some(b) if stops.contains(&b) => break,
                    None => return Err(err(start, ErrorKind::Unterminated('}'))),
                    _ => {}
                }
                let before = self.pos;
                self.dq_step(&mut w, stops)?;
                if self.pos == before {
                    break;
                }
            }
        } else {
            let mut depth = 0usize;
            while let Some(c) = self.at(self.pos) {
                let i = self.pos;
                if depth == 0 && stops.contains(&c) {
                    break;
                }
                match c {
                    b'\\' => match self.at(i + 1) {
                        None => return Err(err(i, ErrorKind::UnexpectedEof)),
                        Some(b'\n') => self.pos += 2,
                        Some(b) => {
                            w.quoted(&[b], Span::new(i, i + 2));
                            self.pos += 2;
                        }
                    },
                    b'\'' => self.single_quoted(&mut w)?,
                    b'"' => self.double_quoted(&mut w)?,
                    b'$' => self.dollar(&mut w, false)?,
                    b'`' => self.backquoted(&mut w, false)?,
                    b => {
                        if b == b'{' {
                            depth += 1;
                        } else if b == b'}' {
                            depth = depth.saturating_sub(1);
                        }
                        w.bare(b, i);
                        self.pos += 1;
                    }
                }
            }
        }
        if self.at(self.pos).is_none() {
            return Err(err(start.saturating_sub(2), ErrorKind::Unterminated('}')));
        }
        let mut parts = w.parts;
        merge_parts(&mut parts);
        Ok(Word {
            parts,
            span: Span::new(start, self.pos),
        })
    }

    /// One piece of double-quoted text (up to a byte of `stops`): a run of plain bytes, one
    /// escape, or one `$`/backquote form.
    fn dq_step(&mut self, w: &mut WordBuf, stops: &[u8]) -> Result<(), SyntaxError> {
        let i = self.pos;
        match self.at(i) {
            None => Ok(()),
            Some(b) if stops.contains(&b) => Ok(()),
            Some(b'\\') => {
                match self.at(i + 1) {
                    Some(b @ (b'$' | b'`' | b'\\' | b'"' | b'}')) => {
                        w.quoted(&[b], Span::new(i, i + 2));
                        self.pos += 2;
                    }
                    Some(b'\n') => self.pos += 2,
                    _ => {
                        w.quoted(b"\\", Span::new(i, i + 1));
                        self.pos += 1;
                    }
                }
                Ok(())
            }
            Some(b'$') => self.dollar(w, true),
            Some(b'`') => self.backquoted(w, true),
            Some(b'"') => self.double_quoted(w),
            Some(b) => {
                w.quoted(&[b], Span::new(i, i + 1));
                self.pos += 1;
                Ok(())
            }
        }
    }

    /// `${` at `d`: a plain parameter or one of the operator forms. A form bash does not know
    /// (`${a&}`, `${#x-y}`) is an error when it is expanded, as in bash, not when parsed.
    fn braced(&mut self, w: &mut WordBuf, d: usize, quoted: bool) -> Result<(), SyntaxError> {
        match self.braced_form(w, d, quoted) {
            Err(SyntaxError {
                kind: ErrorKind::BadSubstitution(text),
                ..
            }) if text.len() > 3 && text.ends_with('}') => {
                self.pos = d + text.len();
                w.push(
                    PartKind::ParamOp {
                        name: Vec::new(),
                        index: None,
                        op: Box::new(ParamOp::Bad(text)),
                        quoted,
                    },
                    Span::new(d, self.pos),
                );
                Ok(())
            }
            other => other,
        }
    }

    fn braced_form(&mut self, w: &mut WordBuf, d: usize, quoted: bool) -> Result<(), SyntaxError> {
        let bad = |me: &Self, to: usize| {
            let close = me.line[to..]
                .iter()
                .position(|&b| b == b'}')
                .map_or(me.line.len(), |c| to + c + 1);
            let text = String::from_utf8_lossy(&me.line[d..close]).into_owned();
            err(d, ErrorKind::BadSubstitution(text))
        };
        if !self.line[d..].contains(&b'}') {
            return Err(err(d, ErrorKind::Unterminated('}')));
        }
        let mut i = d + 2;
        // `${#x}` (length) and `${!x}` (indirection), unless `#`/`!` is the parameter itself.
        let mut prefix = None;
        if let Some(c @ (b'#' | b'!')) = self.at(i) {
            let next = self.at(i + 1);
            let is_param_itself = next == Some(b'}')
                || (c == b'#'
                    && matches!(next, Some(b':' | b'-' | b'=' | b'?' | b'+'))
                    && self.at(i + 2) != Some(b'}'));
            if !is_param_itself {
                prefix = Some(c);
                i += 1;
            }
        }
        let name_len = match self.at(i) {
            Some(b) if is_name_start(b) => self.line[i..]
                .iter()
                .take_while(|&&b| is_name_byte(b))
                .count(),
            Some(b) if b.is_ascii_digit() => self.line[i..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count(),
            Some(b'@' | b'*' | b'#' | b'?' | b'$' | b'!' | b'-') => 1,
            _ => return Err(bad(self, i)),
        };
        let name = self.line[i..i + name_len].to_vec();
        i += name_len;
        let mut index = None;
        if self.at(i) == Some(b'[') && name.first().is_some_and(|&b| is_name_start(b)) {
            let close = subscript_end(self.line, i + 1).ok_or_else(|| bad(self, i))?;
            let text = &self.line[i + 1..close];
            index = Some(Box::new(if text == b"@" || text == b"*" {
                let span = Span::new(i + 1, close);
                Word {
                    parts: vec![Part {
                        kind: PartKind::Bare(text.to_vec()),
                        span,
                    }],
                    span,
                }
            } else {
                self.subscript_word(i + 1, close)?
            }));
            i = close + 1;
        }
        self.pos = i;
        let plain = |name: Vec<u8>| {
            if name == b"?" {
                PartKind::Status { quoted }
            } else {
                PartKind::Param { name, quoted }
            }
        };
        let op = match (prefix, self.at(i)) {
            (None, Some(b'}')) if index.is_some() => ParamOp::Value,
            (None, Some(b'}')) => {
                self.pos = i + 1;
                w.push(plain(name), Span::new(d, self.pos));
                return Ok(());
            }
            (Some(b'#'), Some(b'}')) => ParamOp::Length,
            (Some(b'!'), Some(b'}')) => ParamOp::Indirect,
            (Some(_), _) => return Err(bad(self, i)),
            (None, Some(c)) => {
                let colon = c == b':' && matches!(self.at(i + 1), Some(b'-' | b'=' | b'?' | b'+'));
                let opc = if colon {
                    self.at(i + 1).unwrap_or(b'}')
                } else {
                    c
                };
                let skip = usize::from(colon) + 1;
                match opc {
                    b'-' | b'=' | b'?' | b'+' => {
                        self.pos = i + skip;
                        let mut word = self.param_word(quoted, b"}")?;
                        if !quoted {
                            tilde_prefix(&mut word.parts);
                        }
                        match opc {
                            b'-' => ParamOp::Default { colon, word },
                            b'=' => ParamOp::Assign { colon, word },
                            b'?' => ParamOp::Error { colon, word },
                            _ => ParamOp::Alt { colon, word },
                        }
                    }
                    b'#' | b'%' => {
                        let longest = self.at(i + 1) == Some(opc);
                        self.pos = i + 1 + usize::from(longest);
                        // A pattern stays a pattern inside double quotes.
                        let pattern = self.param_word(false, b"}")?;
                        ParamOp::Trim {
                            suffix: opc == b'%',
                            longest,
                            pattern,
                        }
                    }
                    b'/' => {
                        let mut j = i + 1;
                        let mut all = false;
                        let mut anchor = None;
                        match self.at(j) {
                            Some(b'/') => {
                                all = true;
                                j += 1;
                            }
                            Some(b'#') => {
                                anchor = Some(false);
                                j += 1;
                            }
                            Some(b'%') => {
                                anchor = Some(true);
                                j += 1;
                            }
                            _ => {}
                        }
                        self.pos = j;
                        // A `/` right after the operator is the pattern's own (`${x////c}`).
                        let lead = (self.at(j) == Some(b'/')).then(|| {
                            self.pos += 1;
                            Part {
                                kind: PartKind::Bare(b"/".to_vec()),
                                span: Span::new(j, j + 1),
                            }
                        });
                        let mut pattern = self.param_word(false, b"/}")?;
                        if let Some(l) = lead {
                            pattern.parts.insert(0, l);
                            pattern.span.start = j;
                        }
                        let mut with = if self.at(self.pos) == Some(b'/') {
                            self.pos += 1;
                            self.param_word(quoted, b"}")?
                        } else {
                            Word::literal(b"", Span::new(self.pos, self.pos))
                        };
                        if !quoted {
                            tilde_prefix(&mut pattern.parts);
                            tilde_prefix(&mut with.parts);
                        }
                        ParamOp::Replace {
                            all,
                            anchor,
                            pattern,
                            with,
                        }
                    }
                    b':' => {
                        self.pos = i + 1;
                        let offset = self.param_word(quoted, b":}")?;
                        let length = if self.at(self.pos) == Some(b':') {
                            self.pos += 1;
                            Some(self.param_word(quoted, b"}")?)
                        } else {
                            None
                        };
                        ParamOp::Slice { offset, length }
                    }
                    b'@' if self.at(i + 2) == Some(b'}')
                        && self.at(i + 1).is_some_and(|c| b"QEaULuK".contains(&c)) =>
                    {
                        self.pos = i + 2;
                        ParamOp::Transform(self.at(i + 1).unwrap_or(b'Q'))
                    }
                    b'^' | b',' => {
                        let all = self.at(i + 1) == Some(opc);
                        self.pos = i + 1 + usize::from(all);
                        if self.at(self.pos) != Some(b'}') {
                            return Err(bad(self, i));
                        }
                        ParamOp::Case {
                            upper: opc == b'^',
                            all,
                        }
                    }
                    _ => return Err(bad(self, i)),
                }
            }
            (None, None) => return Err(err(d, ErrorKind::Unterminated('}'))),
        };
        if self.at(self.pos) != Some(b'}') {
            return Err(err(d, ErrorKind::Unterminated('}')));
        }
        self.pos += 1;
        w.push(
            PartKind::ParamOp {
                name,
                index,
                op: Box::new(op),
                quoted,
            },
            Span::new(d, self.pos),
        );
        Ok(())
    }

    /// A `$` at `self.pos`, bare or inside `"..."`.
    fn dollar(&mut self, w: &mut WordBuf, quoted: bool) -> Result<(), SyntaxError> {
        let mut d = self.pos;
        // Line continuations right after `$` join it to what follows (`$\<newline>?` is `$?`):
        // read on as if the `$` stood just before it.
        let mut j = d + 1;
        while self.at(j) == Some(b'\\') && self.at(j + 1) == Some(b'\n') {
            j += 2;
        }
        if j > d + 1 {
            d = j - 1;
            self.pos = d;
        }
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
                if self.depth >= MAX_DEPTH {
                    return Err(err(d, ErrorKind::TooDeep));
                }
                self.depth += 1;
                let r = self.braced(w, d, quoted);
                self.depth -= 1;
                r?;
            }
            Some(b'(') if self.at(d + 2) == Some(b'(') => match arith_end(self.line, d + 3)? {
                Some(close) => {
                    let expr = self.arith_word(d + 3, close)?;
                    self.pos = close + 2;
                    w.push(
                        PartKind::Arith {
                            expr: Box::new(expr),
                            quoted,
                        },
                        Span::new(d, self.pos),
                    );
                }
                None => self.command_sub(w, d, quoted)?,
            },
            Some(b'(') => self.command_sub(w, d, quoted)?,
            Some(b'[') => {
                let close = self.line[d + 2..]
                    .iter()
                    .position(|&b| b == b']')
                    .map(|c| d + 2 + c)
                    .ok_or(err(d, ErrorKind::Unterminated(']')))?;
                let expr = self.arith_word(d + 2, close)?;
                self.pos = close + 1;
                w.push(
                    PartKind::Arith {
                        expr: Box::new(expr),
                        quoted,
                    },
                    Span::new(d, self.pos),
                );
            }
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

impl Lexer<'_> {
    /// `$(` at `d`.
    fn command_sub(&mut self, w: &mut WordBuf, d: usize, quoted: bool) -> Result<(), SyntaxError> {
        let (list, end) = self.sub_list(d + 2)?;
        self.pos = end;
        w.push(
            PartKind::CommandSub {
                list: Box::new(list),
                quoted,
            },
            Span::new(d, end),
        );
        Ok(())
    }
}

/// Where the `))` closing an arithmetic expression that starts at `from` is, or `None` when a
/// `)` closes at depth 0 alone (then it was `$( (...) )`, a command substitution).
fn arith_end(line: &[u8], from: usize) -> Result<Option<usize>, SyntaxError> {
    let mut depth = 0usize;
    let mut i = from;
    while let Some(&c) = line.get(i) {
        match c {
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            b')' => {
                return Ok((line.get(i + 1) == Some(&b')')).then_some(i));
            }
            b'\\' => i += 1,
            b'\'' => {
                let close = line[i + 1..].iter().position(|&b| b == b'\'');
                i += close.map_or(line.len(), |c| c + 1);
            }
            _ => {}
        }
        i += 1;
    }
    Err(err(line.len(), ErrorKind::UnexpectedEof))
}

/// Every span in `word` (and in what it holds) set to `span`: for text that was not typed
/// where it stands (here-document bodies, backquoted commands, alias values).
/// Where the `]` closing a subscript that starts at `from` is: brackets nest, quotes and
/// backslashes hide them.
pub(super) fn subscript_end(line: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = from;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 1,
            b'\'' => i += line[i + 1..].iter().position(|&b| b == b'\'')? + 1,
            b'"' => i += line[i + 1..].iter().position(|&b| b == b'"')? + 1,
            b'[' => depth += 1,
            b']' if depth == 0 => return Some(i),
            b']' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

pub(super) fn respan(word: &mut Word, span: Span) {
    word.span = span;
    for p in &mut word.parts {
        p.span = span;
    }
}

/// Neighbouring bare or quoted parts joined (a `${...}` word is built piece by piece).
fn merge_parts(parts: &mut Vec<Part>) {
    let mut out: Vec<Part> = Vec::with_capacity(parts.len());
    for p in parts.drain(..) {
        match (out.last_mut(), &p.kind) {
            (
                Some(Part {
                    kind: PartKind::Quoted(a),
                    span,
                }),
                PartKind::Quoted(b),
            ) => {
                a.extend_from_slice(b);
                *span = span.to(p.span);
            }
            _ => out.push(p),
        }
    }
    *parts = out;
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
    tilde_prefix_until(parts, b"/");
}

/// [`tilde_prefix`] for an assignment's value, where `:` ends the prefix too (`x=~:foo`).
pub(super) fn tilde_prefix_assign(parts: &mut Vec<Part>) {
    tilde_prefix_until(parts, b"/:");
}

/// The first part when it is unquoted text: its bytes and span.
fn first_bare(parts: &[Part]) -> Option<(&[u8], Span)> {
    match parts.first()? {
        Part {
            kind: PartKind::Bare(b),
            span,
        } => Some((b, *span)),
        _ => None,
    }
}

fn tilde_prefix_until(parts: &mut Vec<Part>, stops: &[u8]) {
    let Some((b, span)) = first_bare(parts) else {
        return;
    };
    if b.first() != Some(&b'~') {
        return;
    }
    let slash = b.iter().position(|c| stops.contains(c));
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

/// A word that looks like an assignment expands `~` after its `=` and `:`s, wherever it is
/// (`echo x=~`, `make PREFIX=~/x`), as bash does outside POSIX mode.
fn tilde_after_equals(parts: &mut Vec<Part>) {
    let Some((b, span)) = first_bare(parts) else {
        return;
    };
    let Some(eq) = b.iter().position(|&c| c == b'=') else {
        return;
    };
    if !is_name(&b[..eq])
        || !b[eq + 1..].starts_with(b"~") && !b[eq + 1..].windows(2).any(|w| w == b":~")
    {
        return;
    }
    let head = Part {
        kind: PartKind::Bare(b[..=eq].to_vec()),
        span: Span::new(span.start, span.start + eq + 1),
    };
    let mut value = vec![Part {
        kind: PartKind::Bare(b[eq + 1..].to_vec()),
        span: Span::new(span.start + eq + 1, span.end),
    }];
    value.extend(parts.drain(1..));
    tilde_prefix_assign(&mut value);
    tilde_after_colons(&mut value);
    *parts = std::iter::once(head).chain(value).collect();
}

/// An assignment's value: `~` at its start and after each unquoted `:`, also inside the words
/// of unquoted `${x-w}`, `${x=w}`, `${x?w}`, `${x+w}` (`x=~:${undef-~:~}`), as in bash.
pub(super) fn tilde_in_assignment(parts: &mut Vec<Part>) {
    tilde_prefix_assign(parts);
    tilde_after_colons(parts);
    for p in parts.iter_mut() {
        if let PartKind::ParamOp {
            op, quoted: false, ..
        } = &mut p.kind
        {
            if let ParamOp::Default { word, .. }
            | ParamOp::Assign { word, .. }
            | ParamOp::Error { word, .. }
            | ParamOp::Alt { word, .. } = &mut **op
            {
                tilde_in_assignment(&mut word.parts);
            }
        }
    }
}

/// In an assignment's value, a `~` after an unquoted `:` expands too (`PATH=~/bin:~/x`).
pub(super) fn tilde_after_colons(parts: &mut Vec<Part>) {
    let mut out: Vec<Part> = Vec::with_capacity(parts.len());
    let n = parts.len();
    for (idx, p) in std::mem::take(parts).into_iter().enumerate() {
        let PartKind::Bare(b) = &p.kind else {
            out.push(p);
            continue;
        };
        if !b.windows(2).any(|w| w == b":~") {
            out.push(p);
            continue;
        }
        let last = idx + 1 == n;
        let mut start = 0;
        let mut i = 0;
        while i + 1 < b.len() {
            if b[i] == b':' && b[i + 1] == b'~' {
                let from = i + 1;
                let end = b[from..]
                    .iter()
                    .position(|&c| c == b'/' || c == b':')
                    .map_or(b.len(), |e| from + e);
                let user = &b[from + 1..end];
                let ends_well = end < b.len() || last;
                let login = |c: &u8| c.is_ascii_alphanumeric() || b"._-".contains(c);
                if ends_well && (matches!(user, b"" | b"+" | b"-") || user.iter().all(login)) {
                    let at = p.span.start;
                    out.push(Part {
                        kind: PartKind::Bare(b[start..from].to_vec()),
                        span: Span::new(at, at),
                    });
                    out.push(Part {
                        kind: PartKind::Tilde(user.to_vec()),
                        span: Span::new(at, at),
                    });
                    start = end;
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        if start < b.len() {
            out.push(Part {
                kind: PartKind::Bare(b[start..].to_vec()),
                span: p.span,
            });
        }
    }
    *parts = out;
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
/// `${x@E}`: the escapes of `$'...'` expanded in `text` (which is `$'` + value + `'`); a quote
/// inside the value stays a quote.
pub(super) fn ansi_c_text(text: &[u8], out: &mut Vec<u8>) {
    let body = &text[2..text.len().saturating_sub(1).max(2)];
    let mut line = body.to_vec();
    line.push(b'\'');
    let mut i = 0;
    while let Some(end) = ansi_c(&line, i, out) {
        if end + 1 >= line.len() {
            return;
        }
        out.push(b'\'');
        i = end + 1;
    }
}

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
