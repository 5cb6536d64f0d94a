//! The parsed shape of a command line, as sh sees it: a list of and-or chains of pipelines of
//! simple commands. Words keep how each piece was quoted, because tilde, field splitting and
//! globbing only act on unquoted text. Every node has the byte span it came from in the line, for
//! error positions and completion.

use std::fmt;

/// A byte range `start..end` in the parsed line. Text that came from an alias carries the span of
/// the alias name it replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A whole line: and-or chains separated by `;` or newlines, run one after the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    pub items: Vec<AndOr>,
    pub span: Span,
}

/// Pipelines joined by `&&` and `||`, evaluated left to right with equal precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Connector, Pipeline)>,
    pub span: Span,
}

/// How a pipeline hangs on the previous one's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connector {
    /// `&&`: runs when the status so far is 0.
    And,
    /// `||`: runs when the status so far is not 0.
    Or,
}

/// Commands joined by `|`; `negated` is a leading `!`, which inverts the pipeline's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    pub negated: bool,
    pub commands: Vec<Command>,
    pub span: Span,
}

/// A simple command. Each list is in typed order; redirects apply left to right, so `>f 2>&1`
/// and `2>&1 >f` differ. A command may have only assignments (`A=b` sets a shell variable) or
/// only redirects (`>f` creates f), and is empty only where an alias expanded to nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    /// `NAME=value` words before the command name.
    pub assignments: Vec<Assignment>,
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
    pub span: Span,
}

/// `NAME=value`: in front of a command it is that command's environment, alone it sets a shell
/// variable. The value is expanded without field splitting or globbing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub name: Vec<u8>,
    pub value: Word,
    pub span: Span,
}

/// One word as typed, in pieces that remember their quoting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub parts: Vec<Part>,
    pub span: Span,
}

/// A piece of a word and where it was typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub kind: PartKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartKind {
    /// Bytes typed bare: `*`, `?` and `[` in them are glob characters.
    Bare(Vec<u8>),
    /// Bytes from `'...'`, `"..."`, `$'...'` or a backslash escape: always literal. May be
    /// empty (`''`), which still makes a word.
    Quoted(Vec<u8>),
    /// `$NAME` or `${NAME}`, also the one-character specials (`$$`, `$1`, `$#`...), which the
    /// environment answers. Unquoted, its value is split into fields and globbed.
    Param { name: Vec<u8>, quoted: bool },
    /// `$?`, the last command's status.
    Status { quoted: bool },
    /// A leading unquoted `~` (empty name), `~user`, `~+` or `~-`, up to the first `/`.
    Tilde(Vec<u8>),
}

impl Word {
    /// The word's text if it is one bare run of bytes (no quotes, no `$`, no `~`): how reserved
    /// words, alias names and fd numbers are recognised.
    pub fn as_bare(&self) -> Option<&[u8]> {
        match self.parts.as_slice() {
            [Part {
                kind: PartKind::Bare(b),
                ..
            }] => Some(b),
            _ => None,
        }
    }
}

/// `[fd]op target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The typed fd number (`2>`); `None` means the operator's default (see [`Redirect::fd`]).
    pub fd: Option<u32>,
    pub op: RedirOp,
    pub target: RedirTarget,
    pub span: Span,
}

impl Redirect {
    /// The fd this redirect changes: the typed one, else 0 for input and 1 for output.
    pub fn fd(&self) -> u32 {
        self.fd.unwrap_or(match self.op {
            RedirOp::In | RedirOp::DupIn => 0,
            RedirOp::Out | RedirOp::Append | RedirOp::DupOut => 1,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirOp {
    /// `<`
    In,
    /// `>` (and `>|`: there is no noclobber)
    Out,
    /// `>>`
    Append,
    /// `>&`: the fd becomes a copy of the target fd (`2>&1`).
    DupOut,
    /// `<&`
    DupIn,
}

/// What a redirect points at: a file for `<`, `>`, `>>`; an fd or `-` for `>&` and `<&`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirTarget {
    Word(Word),
    Fd(u32),
    /// `>&-`: close the fd.
    Close,
}

/// Writes bytes for people: printable text as is, control bytes and invalid UTF-8 as `\xNN`.
pub(crate) fn write_bytes(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                let mut buf = [0; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    write!(f, "\\x{b:02x}")?;
                }
            } else {
                write!(f, "{c}")?;
            }
        }
        for b in chunk.invalid() {
            write!(f, "\\x{b:02x}")?;
        }
    }
    Ok(())
}

/// sh-like text of the word: bare parts as typed, quoted parts in `'...'`, parameters as `$NAME`
/// (in `"..."` when quoted). Used in messages (`$x: ambiguous redirect`) and test tables.
impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.parts.iter().enumerate() {
            // `$x` followed by bare `y` would read as `$xy`: brace it.
            let glued = match self.parts.get(i + 1).map(|p| &p.kind) {
                Some(PartKind::Bare(b)) => b
                    .first()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_'),
                _ => false,
            };
            match &part.kind {
                PartKind::Bare(b) => write_bytes(f, b)?,
                PartKind::Quoted(b) => {
                    f.write_str("'")?;
                    write_bytes(f, b)?;
                    f.write_str("'")?;
                }
                PartKind::Param { name, quoted } => {
                    let q = if *quoted { "\"" } else { "" };
                    f.write_str(q)?;
                    if glued && !quoted {
                        f.write_str("${")?;
                        write_bytes(f, name)?;
                        f.write_str("}")?;
                    } else {
                        f.write_str("$")?;
                        write_bytes(f, name)?;
                    }
                    f.write_str(q)?;
                }
                PartKind::Status { quoted: true } => f.write_str("\"$?\"")?,
                PartKind::Status { quoted: false } => f.write_str("$?")?,
                PartKind::Tilde(user) => {
                    f.write_str("~")?;
                    write_bytes(f, user)?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Redirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(fd) = self.fd {
            write!(f, "{fd}")?;
        }
        f.write_str(match self.op {
            RedirOp::In => "<",
            RedirOp::Out => ">",
            RedirOp::Append => ">>",
            RedirOp::DupOut => ">&",
            RedirOp::DupIn => "<&",
        })?;
        match &self.target {
            RedirTarget::Word(w) => write!(f, "{w}"),
            RedirTarget::Fd(n) => write!(f, "{n}"),
            RedirTarget::Close => f.write_str("-"),
        }
    }
}

/// `[A=b cmd arg >f]`: assignments, words, then redirects.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let assignments = self.assignments.iter().map(|a| {
            let mut s = String::from_utf8_lossy(&a.name).into_owned();
            s.push('=');
            s.push_str(&a.value.to_string());
            s
        });
        let words = self.words.iter().map(|w| w.to_string());
        let redirects = self.redirects.iter().map(|r| r.to_string());
        let all: Vec<String> = assignments.chain(words).chain(redirects).collect();
        write!(f, "[{}]", all.join(" "))
    }
}

/// A lone command as `[..]`, several as `(pipe [..] [..])`, negation as `(not ..)`.
impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("(not ")?;
        }
        match self.commands.as_slice() {
            [one] => write!(f, "{one}")?,
            many => {
                f.write_str("(pipe")?;
                for c in many {
                    write!(f, " {c}")?;
                }
                f.write_str(")")?;
            }
        }
        if self.negated {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Left-nested, as evaluated: `a && b || c` is `(or (and [a] [b]) [c])`.
impl fmt::Display for AndOr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.first.to_string();
        for (conn, p) in &self.rest {
            let op = match conn {
                Connector::And => "and",
                Connector::Or => "or",
            };
            text = format!("({op} {text} {p})");
        }
        f.write_str(&text)
    }
}

/// Items separated by `; `.
impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}
