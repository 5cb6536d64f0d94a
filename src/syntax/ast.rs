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
    /// Ended by `&`: runs in the background, on a copy of the shell.
    pub background: bool,
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
    /// A compound command (`if`, `while`, `{ }`, a function definition...) in place of the
    /// words; `redirects` then apply to all of it.
    pub compound: Option<Box<Compound>>,
    /// The line it starts on in the parsed text, from 1 (0: not known): `$LINENO`.
    pub line: usize,
}

/// The commands that hold other commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compound {
    /// `{ list; }`: runs in this shell.
    Group(List),
    /// `( list )`: runs on a copy of the shell.
    Subshell(List),
    /// `if c; then b; elif c; then b; else b; fi`
    If {
        arms: Vec<(List, List)>,
        otherwise: Option<List>,
    },
    /// `while c; do b; done`, or `until` when `until` is set.
    While { cond: List, body: List, until: bool },
    /// `for name [in words]; do body; done`; without `in`, the positional parameters.
    For {
        var: Vec<u8>,
        words: Option<Vec<Word>>,
        body: List,
    },
    /// `for (( init; cond; step )); do body; done`: an empty condition is true.
    ArithFor {
        init: Word,
        cond: Word,
        step: Word,
        body: List,
    },
    /// `case word in pat|pat) list;; ... esac`
    Case { word: Word, arms: Vec<CaseArm> },
    /// `name() compound`: defines a function.
    Function {
        name: Vec<u8>,
        body: std::sync::Arc<Command>,
    },
    /// `(( expr ))`: status 0 when the value is not zero.
    Arith(Word),
    /// `[[ ... ]]`: the words and operators between the brackets.
    Cond(Vec<CondTok>),
}

/// One arm of a `case`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseArm {
    pub patterns: Vec<Word>,
    pub body: List,
    /// `;;` stops, `;&` runs the next arm's body too, `;;&` tests the next arms.
    pub end: CaseEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseEnd {
    Break,
    FallThrough,
    Continue,
}

/// A token inside `[[ ]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CondTok {
    Word(Word),
    /// The right side of `=~`: a regular expression as typed (quoted parts literal).
    Regex(Word),
    And,
    Or,
    Not,
    LParen,
    RParen,
    Less,
    Greater,
}

/// `NAME=value`: in front of a command it is that command's environment, alone it sets a shell
/// variable. The value is expanded without field splitting or globbing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub name: Vec<u8>,
    pub value: Word,
    pub span: Span,
    /// `a[k]=v`: the subscript as typed.
    pub index: Option<Word>,
    /// `+=`: appends to the string, or adds elements to the array.
    pub append: bool,
    /// `a=(x [k]=y ...)`: the elements as typed (`value` is then empty).
    pub array: Option<Vec<Word>>,
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
    /// `$(...)` or a backquoted command: its output, trailing newlines removed.
    CommandSub { list: Box<List>, quoted: bool },
    /// `$((...))`: the expression's text (expanded as in double quotes), then evaluated.
    Arith { expr: Box<Word>, quoted: bool },
    /// `${NAME OP WORD}`, `${#NAME}` and bash's forms, also on an element (`${a[i]:-x}`) or
    /// all of an array (`${a[@]}`, `${#a[*]}`, `${!a[@]}` its subscripts).
    ParamOp {
        name: Vec<u8>,
        /// `[index]` after the name: arithmetic (or an associative array's key) as typed, or a
        /// bare `@` / `*` for every element.
        index: Option<Box<Word>>,
        op: Box<ParamOp>,
        quoted: bool,
    },
    /// `<(list)` (`out` false) or `>(list)`: a `/dev/fd/N` name for a pipe to or from it.
    ProcSub { list: Box<List>, out: bool },
}

/// What a `${...}` does with its parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamOp {
    /// `${a[i]}`: the value itself (only with a subscript; `${x}` is a plain parameter).
    Value,
    /// `${#x}`
    Length,
    /// `${x-w}`, `${x:-w}` (colon: also when empty)
    Default { colon: bool, word: Word },
    /// `${x=w}`, `${x:=w}`
    Assign { colon: bool, word: Word },
    /// `${x?w}`, `${x:?w}`
    Error { colon: bool, word: Word },
    /// `${x+w}`, `${x:+w}`
    Alt { colon: bool, word: Word },
    /// `${x#p}` `${x##p}` (prefix) `${x%p}` `${x%%p}` (suffix)
    Trim {
        suffix: bool,
        longest: bool,
        pattern: Word,
    },
    /// `${x/p/r}`, `${x//p/r}`, `${x/#p/r}`, `${x/%p/r}`
    Replace {
        all: bool,
        anchor: Option<bool>,
        pattern: Word,
        with: Word,
    },
    /// `${x:off}`, `${x:off:len}` (arithmetic texts)
    Slice { offset: Word, length: Option<Word> },
    /// `${x^}` `${x^^}` `${x,}` `${x,,}`
    Case { upper: bool, all: bool },
    /// `${!x}`: the variable named by x's value.
    Indirect,
    /// A form bash does not know, as typed: "bad substitution" when expanded.
    Bad(String),
    /// `${x@Q}` (quoted for the shell), `@E` (escapes expanded), `@a` (attributes), `@U`,
    /// `@u`, `@L` (case), `@K` (as `@Q`).
    Transform(u8),
}

impl Word {
    /// A word of literal bytes (the parser's own words, `"$@"` replacements).
    pub fn literal(bytes: &[u8], span: Span) -> Word {
        Word {
            parts: vec![Part {
                kind: PartKind::Quoted(bytes.to_vec()),
                span,
            }],
            span,
        }
    }

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
    /// bash's `{NAME}>`: the shell picks the descriptor (10 or above) and sets NAME to it.
    pub var: Option<Vec<u8>>,
    pub op: RedirOp,
    pub target: RedirTarget,
    pub span: Span,
}

impl Redirect {
    /// The target as typed, for messages.
    pub fn target_text(&self) -> String {
        match &self.target {
            RedirTarget::Word(w) | RedirTarget::Body(w) | RedirTarget::DupWord(w) => w.to_string(),
            RedirTarget::Fd(n) => n.to_string(),
            RedirTarget::Move(n) => format!("{n}-"),
            RedirTarget::Close => "-".to_string(),
        }
    }

    /// The fd this redirect changes: the typed one, else 0 for input and 1 for output.
    pub fn fd(&self) -> u32 {
        self.fd.unwrap_or(match self.op {
            RedirOp::In | RedirOp::DupIn | RedirOp::ReadWrite | RedirOp::HereDoc => 0,
            RedirOp::Out | RedirOp::Clobber | RedirOp::Append | RedirOp::DupOut => 1,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirOp {
    /// `<`
    In,
    /// `>`
    Out,
    /// `>|`: `>` even under `set -C`.
    Clobber,
    /// `<>`
    ReadWrite,
    /// `<<`, `<<-` and `<<<`: the target is the text ([`RedirTarget::Body`]).
    HereDoc,
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
    /// A here-document's body (quoted delimiter: all literal) or a here-string's word plus a
    /// newline.
    Body(Word),
    /// `>&$n`: an fd number from an expansion.
    DupWord(Word),
    /// `>&3-`: fd 3 moved (duplicated, then closed).
    Move(u32),
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
                PartKind::CommandSub { list, .. } => write!(f, "$({list})")?,
                PartKind::ProcSub { list, out } => {
                    write!(f, "{}({list})", if *out { ">" } else { "<" })?
                }
                PartKind::Arith { expr, .. } => write!(f, "$(({expr}))")?,
                PartKind::ParamOp { op, .. } if matches!(**op, ParamOp::Bad(_)) => {
                    if let ParamOp::Bad(text) = &**op {
                        f.write_str(text)?;
                    }
                }
                PartKind::ParamOp {
                    name, index, op, ..
                } => {
                    f.write_str("${")?;
                    let (pre, text) = op.parts();
                    f.write_str(pre)?;
                    write_bytes(f, name)?;
                    if let Some(i) = index {
                        match i.as_bare() {
                            Some(b) => {
                                f.write_str("[")?;
                                write_bytes(f, b)?;
                                f.write_str("]")?;
                            }
                            None => write!(f, "[{i}]")?,
                        }
                    }
                    write!(f, "{text}}}")?;
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
        if let Some(v) = &self.var {
            f.write_str("{")?;
            write_bytes(f, v)?;
            f.write_str("}")?;
        }
        f.write_str(match self.op {
            RedirOp::In => "<",
            RedirOp::Out => ">",
            RedirOp::Clobber => ">|",
            RedirOp::ReadWrite => "<>",
            RedirOp::HereDoc => "<<",
            RedirOp::Append => ">>",
            RedirOp::DupOut => ">&",
            RedirOp::DupIn => "<&",
        })?;
        match &self.target {
            RedirTarget::Word(w) => write!(f, "{w}"),
            RedirTarget::Fd(n) => write!(f, "{n}"),
            RedirTarget::Move(n) => write!(f, "{n}-"),
            RedirTarget::Close => f.write_str("-"),
            RedirTarget::Body(w) => write!(f, "{w}"),
            RedirTarget::DupWord(w) => write!(f, "{w}"),
        }
    }
}

/// `[A=b cmd arg >f]`: assignments, words, then redirects.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = &self.compound {
            write!(f, "{c}")?;
            for r in &self.redirects {
                write!(f, " {r}")?;
            }
            return Ok(());
        }
        let assignments = self.assignments.iter().map(|a| {
            let mut s = String::from_utf8_lossy(&a.name).into_owned();
            if let Some(i) = &a.index {
                s.push_str(&format!("[{i}]"));
            }
            if a.append {
                s.push('+');
            }
            s.push('=');
            match &a.array {
                Some(elems) => {
                    let e: Vec<String> = elems.iter().map(|w| w.to_string()).collect();
                    s.push_str(&format!("({})", e.join(" ")));
                }
                None => s.push_str(&a.value.to_string()),
            }
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

impl ParamOp {
    /// The text before the name (`#`, `!`) and after it (`:-word`), for messages and tests.
    fn parts(&self) -> (&'static str, String) {
        let c = |colon: &bool| if *colon { ":" } else { "" };
        match self {
            ParamOp::Value => ("", String::new()),
            ParamOp::Length => ("#", String::new()),
            ParamOp::Indirect => ("!", String::new()),
            ParamOp::Transform(c) => ("", format!("@{}", *c as char)),
            ParamOp::Bad(text) => ("", text.clone()),
            ParamOp::Default { colon, word } => ("", format!("{}-{word}", c(colon))),
            ParamOp::Assign { colon, word } => ("", format!("{}={word}", c(colon))),
            ParamOp::Error { colon, word } => ("", format!("{}?{word}", c(colon))),
            ParamOp::Alt { colon, word } => ("", format!("{}+{word}", c(colon))),
            ParamOp::Trim {
                suffix,
                longest,
                pattern,
            } => {
                let ch = if *suffix { "%" } else { "#" };
                let op = if *longest {
                    ch.repeat(2)
                } else {
                    ch.to_string()
                };
                ("", format!("{op}{pattern}"))
            }
            ParamOp::Replace {
                all,
                anchor,
                pattern,
                with,
            } => {
                let a = match (all, anchor) {
                    (true, _) => "/",
                    (_, Some(false)) => "#",
                    (_, Some(true)) => "%",
                    _ => "",
                };
                ("", format!("/{a}{pattern}/{with}"))
            }
            ParamOp::Slice { offset, length } => match length {
                Some(l) => ("", format!(":{offset}:{l}")),
                None => ("", format!(":{offset}")),
            },
            ParamOp::Case { upper, all } => {
                let ch = if *upper { "^" } else { "," };
                ("", if *all { ch.repeat(2) } else { ch.to_string() })
            }
        }
    }
}

/// Compact forms for test tables: `{list}`, `(sub list)`, `(if c b ...)`, `(while c b)`.
impl fmt::Display for Compound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compound::Group(l) => write!(f, "{{{l}}}"),
            Compound::Subshell(l) => write!(f, "(sub {l})"),
            Compound::If { arms, otherwise } => {
                f.write_str("(if")?;
                for (c, b) in arms {
                    write!(f, " {{{c}}} {{{b}}}")?;
                }
                if let Some(e) = otherwise {
                    write!(f, " else {{{e}}}")?;
                }
                f.write_str(")")
            }
            Compound::While { cond, body, until } => {
                let w = if *until { "until" } else { "while" };
                write!(f, "({w} {{{cond}}} {{{body}}})")
            }
            Compound::For { var, words, body } => {
                f.write_str("(for ")?;
                write_bytes(f, var)?;
                if let Some(ws) = words {
                    f.write_str(" in")?;
                    for w in ws {
                        write!(f, " {w}")?;
                    }
                }
                write!(f, " {{{body}}})")
            }
            Compound::ArithFor {
                init,
                cond,
                step,
                body,
            } => write!(f, "(for (({init}; {cond}; {step})) {{{body}}})"),
            Compound::Case { word, arms } => {
                write!(f, "(case {word}")?;
                for a in arms {
                    let pats: Vec<String> = a.patterns.iter().map(|p| p.to_string()).collect();
                    write!(f, " {}) {{{}}}", pats.join("|"), a.body)?;
                }
                f.write_str(")")
            }
            Compound::Function { name, body } => {
                f.write_str("(fn ")?;
                write_bytes(f, name)?;
                write!(f, " {body})")
            }
            Compound::Arith(w) => write!(f, "(( {w} ))"),
            Compound::Cond(toks) => write!(f, "[[ {} ]]", toks.len()),
        }
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
            if item.background {
                f.write_str(" &")?;
            }
        }
        Ok(())
    }
}
