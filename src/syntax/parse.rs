//! Tokens into a [`List`]: sh's grammar for `;`, newlines, `&&`, `||`, `|`, `!`, assignments
//! and redirects, with alias substitution on command names. Errors carry the byte position and
//! bash's wording; [`SyntaxError::is_incomplete`] tells the REPL when more lines would help.

use std::collections::VecDeque;

use super::alias::{self, Aliases, NoAliases};
use super::ast::*;
pub use super::error::{ErrorKind, SyntaxError};
use super::lex::{self, Lexer, Op, TokKind, Token};

/// Parses one line (which may hold newlines) without aliases.
pub fn parse(line: &[u8]) -> Result<List, SyntaxError> {
    parse_with_aliases(line, &NoAliases)
}

/// Parses one line, substituting aliases for command names as sh does.
pub fn parse_with_aliases(line: &[u8], aliases: &dyn Aliases) -> Result<List, SyntaxError> {
    let mut p = Parser {
        line,
        lexer: Lexer::new(line),
        ahead: VecDeque::new(),
        aliases,
        alias_next: false,
    };
    p.list()
}

/// sh's reserved words that start compound commands dockerbox does not have.
const UNSUPPORTED_WORDS: &[&str] = &[
    "if", "while", "until", "for", "case", "select", "function", "coproc", "time", "[[", "{",
];

/// Reserved words that can only follow one of those.
const STRAY_WORDS: &[&str] = &[
    "then", "else", "elif", "fi", "do", "done", "esac", "}", "]]", "!",
];

struct Parser<'a> {
    line: &'a [u8],
    lexer: Lexer<'a>,
    /// Tokens read ahead, and alias values waiting to be read.
    ahead: VecDeque<Token>,
    aliases: &'a dyn Aliases,
    /// The previous word was an alias whose value ended in a blank: this word may be one too.
    alias_next: bool,
}

impl Parser<'_> {
    fn peek(&mut self) -> Result<&Token, SyntaxError> {
        if self.ahead.is_empty() {
            let t = self.lexer.next_token()?;
            self.ahead.push_back(t);
        }
        self.ahead.front().ok_or(SyntaxError {
            pos: self.line.len(),
            kind: ErrorKind::UnexpectedEof,
        })
    }

    fn next(&mut self) -> Result<Token, SyntaxError> {
        self.peek()?;
        self.ahead.pop_front().ok_or(SyntaxError {
            pos: self.line.len(),
            kind: ErrorKind::UnexpectedEof,
        })
    }

    fn peek_op(&mut self) -> Result<Option<Op>, SyntaxError> {
        Ok(match self.peek()?.kind {
            TokKind::Op(op) => Some(op),
            _ => None,
        })
    }

    fn skip_newlines(&mut self) -> Result<(), SyntaxError> {
        while self.peek()?.kind == TokKind::Newline {
            self.next()?;
        }
        Ok(())
    }

    /// The error for `tok` appearing where it cannot.
    fn unexpected(&self, tok: &Token) -> SyntaxError {
        let text = match &tok.kind {
            TokKind::Eof => {
                return SyntaxError {
                    pos: tok.span.start,
                    kind: ErrorKind::UnexpectedEof,
                }
            }
            TokKind::Newline => "newline".to_string(),
            TokKind::Op(op) => op.text().to_string(),
            TokKind::Word(_) | TokKind::IoNumber(_) => {
                let bytes = self.line.get(tok.span.start..tok.span.end).unwrap_or(b"");
                String::from_utf8_lossy(bytes).into_owned()
            }
        };
        SyntaxError {
            pos: tok.span.start,
            kind: ErrorKind::UnexpectedToken(text),
        }
    }

    fn list(&mut self) -> Result<List, SyntaxError> {
        let mut items = Vec::new();
        loop {
            self.skip_newlines()?;
            if self.peek()?.kind == TokKind::Eof {
                break;
            }
            items.push(self.and_or()?);
            let tok = self.next()?;
            match tok.kind {
                TokKind::Eof => break,
                TokKind::Op(Op::Semi) | TokKind::Newline => {}
                TokKind::Op(Op::Amp) => {
                    return Err(unsupported(tok.span.start, "running in the background '&'"))
                }
                _ => return Err(self.unexpected(&tok)),
            }
        }
        let span = match (items.first(), items.last()) {
            (Some(a), Some(b)) => a.span.to(b.span),
            _ => Span::new(0, 0),
        };
        Ok(List { items, span })
    }

    fn and_or(&mut self) -> Result<AndOr, SyntaxError> {
        let first = self.pipeline()?;
        let mut span = first.span;
        let mut rest = Vec::new();
        loop {
            let conn = match self.peek_op()? {
                Some(Op::AndIf) => Connector::And,
                Some(Op::OrIf) => Connector::Or,
                _ => break,
            };
            self.next()?;
            self.skip_newlines()?;
            let p = self.pipeline()?;
            span = span.to(p.span);
            rest.push((conn, p));
        }
        Ok(AndOr { first, rest, span })
    }

    fn pipeline(&mut self) -> Result<Pipeline, SyntaxError> {
        let mut negated = false;
        let mut bang: Option<Span> = None;
        // A command name position: an alias here may even supply the `!`.
        let mut substituted = false;
        loop {
            if self.try_alias()? {
                substituted = true;
                continue;
            }
            let tok = self.peek()?;
            let TokKind::Word(w) = &tok.kind else { break };
            if w.as_bare() != Some(b"!") {
                break;
            }
            let span = tok.span;
            negated = !negated;
            bang.get_or_insert(span);
            self.next()?;
        }
        let mut commands = vec![self.command(substituted)?];
        loop {
            match self.peek_op()? {
                Some(Op::Pipe) => {}
                // `a |& b` is `a 2>&1 | b`.
                Some(Op::PipeAmp) => {
                    let span = self.peek()?.span;
                    if let Some(last) = commands.last_mut() {
                        last.redirects.push(Redirect {
                            fd: Some(2),
                            op: RedirOp::DupOut,
                            target: RedirTarget::Fd(1),
                            span,
                        });
                    }
                }
                _ => break,
            }
            self.next()?;
            self.skip_newlines()?;
            commands.push(self.command(false)?);
        }
        let mut span = commands[0].span;
        if let Some(last) = commands.last() {
            span = span.to(last.span);
        }
        if let Some(b) = bang {
            span = span.to(b);
        }
        Ok(Pipeline {
            negated,
            commands,
            span,
        })
    }

    /// A simple command. `substituted`: an alias was already replaced at its start, so it may
    /// end up empty (`alias e=''`).
    fn command(&mut self, mut substituted: bool) -> Result<Command, SyntaxError> {
        let mut cmd = Command::default();
        let mut spans: Vec<Span> = Vec::new();
        loop {
            let tok = self.peek()?;
            match &tok.kind {
                TokKind::Word(_) => {
                    if (cmd.words.is_empty() || self.alias_next) && self.try_alias()? {
                        substituted = true;
                        continue;
                    }
                    let tok = self.next()?;
                    self.alias_next = tok.blank_after;
                    let TokKind::Word(word) = tok.kind else {
                        continue;
                    };
                    if cmd.words.is_empty() {
                        if let Some(a) = assignment(&word) {
                            spans.push(a.span);
                            cmd.assignments.push(a);
                            continue;
                        }
                        if cmd.assignments.is_empty() && cmd.redirects.is_empty() {
                            self.reserved_word(tok.span, &word)?;
                        }
                    }
                    spans.push(word.span);
                    cmd.words.push(word);
                }
                TokKind::IoNumber(n) => {
                    let fd = Some((*n, tok.span));
                    self.next()?;
                    self.redirect(fd, &mut cmd.redirects)?;
                }
                TokKind::Op(op) if op.is_redirect() => self.redirect(None, &mut cmd.redirects)?,
                TokKind::Op(Op::LParen) => {
                    let at = tok.span.start;
                    return Err(if cmd.words.is_empty() && cmd.assignments.is_empty() {
                        unsupported(at, "a subshell '( ... )'")
                    } else if cmd.words.len() == 1 && cmd.redirects.is_empty() {
                        unsupported(at, "defining functions")
                    } else {
                        let tok = tok.clone();
                        self.unexpected(&tok)
                    });
                }
                _ => break,
            }
        }
        spans.extend(cmd.redirects.iter().map(|r| r.span));
        cmd.span = match spans.iter().copied().reduce(Span::to) {
            Some(s) => s,
            None if substituted => self.peek()?.span,
            None => {
                let tok = self.peek()?.clone();
                return Err(self.unexpected(&tok));
            }
        };
        Ok(cmd)
    }

    /// Refuses the compound commands' reserved words in command position.
    fn reserved_word(&self, span: Span, word: &Word) -> Result<(), SyntaxError> {
        let Some(text) = word.as_bare().and_then(|b| std::str::from_utf8(b).ok()) else {
            return Ok(());
        };
        let kind = if UNSUPPORTED_WORDS.contains(&text) {
            ErrorKind::Unsupported(if text == "{" {
                "a command group '{ ...; }'".to_string()
            } else {
                format!("'{text}'")
            })
        } else if STRAY_WORDS.contains(&text) {
            ErrorKind::UnexpectedToken(text.to_string())
        } else {
            return Ok(());
        };
        Err(SyntaxError {
            pos: span.start,
            kind,
        })
    }

    /// If the next token is a word naming an alias that is not being expanded already, puts
    /// the alias value's tokens in its place; returns whether it did.
    fn try_alias(&mut self) -> Result<bool, SyntaxError> {
        let aliases = self.aliases;
        let tok = self.peek()?;
        let TokKind::Word(word) = &tok.kind else {
            return Ok(false);
        };
        let Some(name) = word.as_bare() else {
            return Ok(false);
        };
        if tok.aliases.iter().any(|a| a == name) {
            return Ok(false);
        }
        let Some(value) = aliases.alias(name) else {
            return Ok(false);
        };
        let name = name.to_vec();
        let tok = self.next()?;
        let tokens = alias::value_tokens(&name, &value, &tok)?;
        if tokens.is_empty() {
            self.alias_next = value.last().is_some_and(|b| *b == b' ' || *b == b'\t');
        }
        for t in tokens.into_iter().rev() {
            self.ahead.push_front(t);
        }
        Ok(true)
    }

    /// `[fd]op target`, the operator being the next token. `&>f`, `>&f` and `|&` are bash's
    /// shorthands for `>f 2>&1`, so they come out as two redirects.
    fn redirect(
        &mut self,
        fd: Option<(u32, Span)>,
        out: &mut Vec<Redirect>,
    ) -> Result<(), SyntaxError> {
        let op_tok = self.next()?;
        let TokKind::Op(op) = op_tok.kind else {
            return Err(self.unexpected(&op_tok));
        };
        let start = fd.map_or(op_tok.span, |(_, s)| s);
        let fd = fd.map(|(n, _)| n);
        let at = op_tok.span.start;
        let (op, both) = match op {
            Op::Less => (RedirOp::In, false),
            Op::Great | Op::Clobber => (RedirOp::Out, false),
            Op::DGreat => (RedirOp::Append, false),
            Op::LessAnd => (RedirOp::DupIn, false),
            Op::GreatAnd => (RedirOp::DupOut, false),
            Op::AndGreat => (RedirOp::Out, true),
            Op::AndDGreat => (RedirOp::Append, true),
            Op::DLess => return Err(unsupported(at, "a here-document '<<'")),
            Op::TLess => return Err(unsupported(at, "a here-string '<<<'")),
            Op::LessGreat => return Err(unsupported(at, "opening for reading and writing '<>'")),
            _ => return Err(self.unexpected(&op_tok)),
        };
        let target_tok = self.next()?;
        let TokKind::Word(word) = target_tok.kind else {
            let kind = match target_tok.kind {
                TokKind::Eof | TokKind::Newline => ErrorKind::UnexpectedToken("newline".into()),
                _ => return Err(self.unexpected(&target_tok)),
            };
            return Err(SyntaxError {
                pos: target_tok.span.start,
                kind,
            });
        };
        let span = start.to(word.span);
        let both_to = |op, target| {
            [
                Redirect {
                    fd: None,
                    op,
                    target,
                    span,
                },
                Redirect {
                    fd: Some(2),
                    op: RedirOp::DupOut,
                    target: RedirTarget::Fd(1),
                    span,
                },
            ]
        };
        if both {
            out.extend(both_to(op, RedirTarget::Word(word)));
            return Ok(());
        }
        if !matches!(op, RedirOp::DupIn | RedirOp::DupOut) {
            out.push(Redirect {
                fd,
                op,
                target: RedirTarget::Word(word),
                span,
            });
            return Ok(());
        }
        let target = match literal(&word) {
            Some(t) if t == b"-" => RedirTarget::Close,
            Some(t) if !t.is_empty() && t.iter().all(u8::is_ascii_digit) => {
                let n = std::str::from_utf8(&t)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or(SyntaxError {
                        pos: word.span.start,
                        kind: ErrorKind::FdOutOfRange,
                    })?;
                RedirTarget::Fd(n)
            }
            // `>&file` is `&>file`.
            Some(_) if op == RedirOp::DupOut && fd.is_none() => {
                out.extend(both_to(RedirOp::Out, RedirTarget::Word(word)));
                return Ok(());
            }
            Some(_) => {
                return Err(SyntaxError {
                    pos: word.span.start,
                    kind: ErrorKind::AmbiguousRedirect(word.to_string()),
                })
            }
            None => {
                return Err(unsupported(
                    word.span.start,
                    &format!(
                        "an fd number from an expansion ('{}{word}')",
                        op_tok_text(op)
                    ),
                ))
            }
        };
        out.push(Redirect {
            fd,
            op,
            target,
            span,
        });
        Ok(())
    }
}

fn op_tok_text(op: RedirOp) -> &'static str {
    match op {
        RedirOp::DupIn => "<&",
        _ => ">&",
    }
}

fn unsupported(pos: usize, what: &str) -> SyntaxError {
    SyntaxError {
        pos,
        kind: ErrorKind::Unsupported(what.to_string()),
    }
}

/// The word's bytes if nothing in it expands (only bare and quoted text).
fn literal(word: &Word) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for p in &word.parts {
        match &p.kind {
            PartKind::Bare(b) | PartKind::Quoted(b) => out.extend_from_slice(b),
            _ => return None,
        }
    }
    Some(out)
}

/// `NAME=value` if the word starts with a bare valid name and `=`: how the parser finds
/// assignments, and how `export`/`alias` arguments can be recognised.
pub fn assignment(word: &Word) -> Option<Assignment> {
    let first = word.parts.first()?;
    let PartKind::Bare(b) = &first.kind else {
        return None;
    };
    let eq = b.iter().position(|&c| c == b'=')?;
    if !lex::is_name(&b[..eq]) {
        return None;
    }
    let mut parts = Vec::new();
    let value_start = first.span.start + eq + 1;
    if eq + 1 < b.len() {
        parts.push(Part {
            kind: PartKind::Bare(b[eq + 1..].to_vec()),
            span: Span::new(value_start.min(first.span.end), first.span.end),
        });
    }
    parts.extend(word.parts[1..].iter().cloned());
    lex::tilde_prefix(&mut parts);
    Some(Assignment {
        name: b[..eq].to_vec(),
        value: Word {
            parts,
            span: Span::new(value_start.min(word.span.end), word.span.end),
        },
        span: word.span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parse as `ast`'s compact rendering, or `POS: MESSAGE` (plus `(incomplete)`).
    pub(crate) fn show(line: &[u8], aliases: &dyn Aliases) -> String {
        match parse_with_aliases(line, aliases) {
            Ok(list) => list.to_string(),
            Err(e) => {
                let more = if e.is_incomplete() {
                    " (incomplete)"
                } else {
                    ""
                };
                format!("{}: {e}{more}", e.pos)
            }
        }
    }

    fn check(table: &[(&str, &str)]) {
        for (line, want) in table {
            assert_eq!(&show(line.as_bytes(), &NoAliases), want, "line: {line:?}");
        }
    }

    #[test]
    fn structure() {
        check(&[
            ("ls -l /x", "[ls -l /x]"),
            ("", ""),
            ("   # only a comment", ""),
            ("\n\n ls \n\n", "[ls]"),
            ("cd /a; pwd", "[cd /a]; [pwd]"),
            ("a;b\nc", "[a]; [b]; [c]"),
            ("ls ;", "[ls]"),
            ("ls;# c\npwd", "[ls]; [pwd]"),
            ("a | b && c > f", "(and (pipe [a] [b]) [c >f])"),
            ("a && b || c", "(or (and [a] [b]) [c])"),
            ("a || b && c", "(and (or [a] [b]) [c])"),
            ("a|b|c", "(pipe [a] [b] [c])"),
            ("a |\n b", "(pipe [a] [b])"),
            ("a &&\n\n b", "(and [a] [b])"),
            ("! a | b", "(not (pipe [a] [b]))"),
            ("! ! a", "[a]"),
            ("a \\\n -l", "[a -l]"),
            // Quoting.
            ("echo 'a;b' \"c;d\" e\\;f", "[echo 'a;b' 'c;d' e';'f]"),
            ("echo '' \"\" x", "[echo '' '' x]"),
            ("echo \"a \\\"q\\\" \\n\"", "[echo 'a \"q\" \\n']"),
            ("echo a\\\nb", "[echo ab]"),
            ("echo \"a\\\nb\"", "[echo 'ab']"),
            ("echo a\\ b", "[echo a' 'b]"),
            ("cat 'new\nline'", "[cat 'new\\x0aline']"),
            (
                "echo '$(ls)' '`x`' \"\\$(ls)\" \\$x",
                "[echo '$(ls)' '`x`' '$(ls)' '$'x]",
            ),
            ("echo $\"a $X\"", "[echo 'a '\"$X\"]"),
            // `#` starts a comment only at a word's start.
            ("ls # comment; not a command", "[ls]"),
            ("echo a#b '#'c", "[echo a#b '#'c]"),
            // `$` forms.
            (
                "echo $X ${Y}z \"$Z\" $? \"$?\" ${?}",
                "[echo $X ${Y}z \"$Z\" $? \"$?\" $?]",
            ),
            (
                "echo $$ $1 ${10} $# a$ $/ \"$\"",
                "[echo $$ $1 $10 $# a$ $/ '$']",
            ),
            ("echo $X_1.x", "[echo $X_1.x]"),
            // Tilde at a word's start, unquoted, up to the first slash.
            (
                "echo ~ ~/x ~root/y ~+ ~- a~ '~' ~\"x\" ~$X",
                "[echo ~ ~/x ~root/y ~+ ~- a~ '~' ~'x' ~$X]",
            ),
            // Globs stay in the word; quoting marks the literal ones.
            ("echo *.c '*'.c \\*.c [ab]", "[echo *.c '*'.c '*'.c [ab]]"),
            // Braces that bash leaves alone.
            (
                "echo {} {a} x{y \\{a,b} '{1..3}' {a..}",
                "[echo {} {a} x{y '{'a,b} '{1..3}' {a..}]",
            ),
            ("find . -exec rm {} ;", "[find . -exec rm {}]"),
            // Redirects, in order.
            (
                "cmd <in >out 2>err >>app 2>&1 <&3 >&- 3<in2",
                "[cmd <in >out 2>err >>app 2>&1 <&3 >&- 3<in2]",
            ),
            ("cmd 2 > f", "[cmd 2 >f]"),
            ("cmd a2>f", "[cmd a2 >f]"),
            ("cmd >'my file' > \"$X\"", "[cmd >'my file' >\"$X\"]"),
            ("cmd &>all", "[cmd >all 2>&1]"),
            ("cmd &>>all", "[cmd >>all 2>&1]"),
            ("cmd >&all", "[cmd >all 2>&1]"),
            ("cmd >|f", "[cmd >f]"),
            ("a |& b", "(pipe [a 2>&1] [b])"),
            (">f", "[>f]"),
            ("<in cat", "[cat <in]"),
            // Assignments only before the command name.
            ("A=1 B=\"x y\" cmd A=2", "[A=1 B='x y' cmd A=2]"),
            ("A=1", "[A=1]"),
            ("A= B=~/x", "[A= B=~/x]"),
            ("=x 1A=b", "[=x 1A=b]"),
            ("'A'=1", "['A'=1]"),
            // Bytes that are not UTF-8 survive.
            (
                "cat $'bad\\377byte' $'\\xff' $'a\\nb\\'c'",
                "[cat 'bad\\xffbyte' '\\xff' 'a\\x0ab'c']",
            ),
            ("cat $'\\u00e9\\cA\\q'", "[cat 'é\\x01\\q']"),
        ]);
        assert_eq!(show(b"cat raw\xffname", &NoAliases), "[cat raw\\xffname]");
    }

    #[test]
    fn errors() {
        check(&[
            ("| ls", "0: syntax error near unexpected token '|'"),
            (";", "0: syntax error near unexpected token ';'"),
            ("ls ; ;", "5: syntax error near unexpected token ';'"),
            ("ls ;;", "3: syntax error near unexpected token ';;'"),
            (") x", "0: syntax error near unexpected token ')'"),
            ("a && || b", "5: syntax error near unexpected token '||'"),
            ("ls >", "4: syntax error near unexpected token 'newline'"),
            ("ls > ;", "5: syntax error near unexpected token ';'"),
            ("then", "0: syntax error near unexpected token 'then'"),
            ("a | ! b", "4: syntax error near unexpected token '!'"),
            ("ls x)", "4: syntax error near unexpected token ')'"),
            // Incomplete: another line could finish them.
            (
                "ls |",
                "4: syntax error: unexpected end of file (incomplete)",
            ),
            (
                "ls &&",
                "5: syntax error: unexpected end of file (incomplete)",
            ),
            (
                "ls ||\n",
                "6: syntax error: unexpected end of file (incomplete)",
            ),
            (
                "echo a\\",
                "6: syntax error: unexpected end of file (incomplete)",
            ),
            (
                "echo 'abc",
                "5: unexpected EOF while looking for matching ''' (incomplete)",
            ),
            (
                "echo \"abc",
                "5: unexpected EOF while looking for matching '\"' (incomplete)",
            ),
            (
                "echo x\"a\\\"",
                "6: unexpected EOF while looking for matching '\"' (incomplete)",
            ),
            (
                "echo $'abc",
                "5: unexpected EOF while looking for matching ''' (incomplete)",
            ),
            (
                "echo ${x",
                "5: unexpected EOF while looking for matching '}' (incomplete)",
            ),
            // Recognised, refused.
            (
                "echo $(ls)",
                "5: command substitution '$(...)' is not supported",
            ),
            (
                "echo \"a $(ls)\"",
                "8: command substitution '$(...)' is not supported",
            ),
            (
                "echo `ls`",
                "5: command substitution '`...`' is not supported",
            ),
            (
                "echo \"`ls`\"",
                "6: command substitution '`...`' is not supported",
            ),
            (
                "echo $((1+2))",
                "5: arithmetic expansion '$((...))' is not supported",
            ),
            (
                "echo $[1+2]",
                "5: arithmetic expansion '$[...]' is not supported",
            ),
            (
                "echo ${x:-y}",
                "5: parameter expansion '${x:-y}' is not supported",
            ),
            (
                "echo \"${#x}\"",
                "6: parameter expansion '${#x}' is not supported",
            ),
            ("echo ${}", "5: ${}: bad substitution"),
            ("ls &", "3: running in the background '&' is not supported"),
            (
                "ls & pwd",
                "3: running in the background '&' is not supported",
            ),
            ("(ls)", "0: a subshell '( ... )' is not supported"),
            ("f() { ls; }", "1: defining functions is not supported"),
            ("{ ls; }", "0: a command group '{ ...; }' is not supported"),
            ("if true; then ls; fi", "0: 'if' is not supported"),
            ("ls; while x; do y; done", "4: 'while' is not supported"),
            ("! for x", "2: 'for' is not supported"),
            ("[[ -e x ]]", "0: '[[' is not supported"),
            ("cat <<EOF", "4: a here-document '<<' is not supported"),
            ("cat <<<x", "4: a here-string '<<<' is not supported"),
            (
                "cat <>f",
                "4: opening for reading and writing '<>' is not supported",
            ),
            ("diff <(a) b", "5: process substitution is not supported"),
            ("echo {a,b}", "5: brace expansion is not supported"),
            (
                "echo /containers/{web,db}/x",
                "17: brace expansion is not supported",
            ),
            ("echo x{1..3}", "6: brace expansion is not supported"),
            ("echo {a..e..2}", "5: brace expansion is not supported"),
            ("echo 2>&foo", "8: foo: ambiguous redirect"),
            ("echo <&x", "7: x: ambiguous redirect"),
            (
                "echo >&$x",
                "7: an fd number from an expansion ('>&$x') is not supported",
            ),
            ("echo 99999999999>f", "5: file descriptor out of range"),
        ]);
    }

    #[test]
    fn spans() {
        let line = b"A=1 ls -l >out | wc && x";
        let list = parse(line).unwrap();
        let text = |s: Span| std::str::from_utf8(&line[s.start..s.end]).unwrap();
        let and_or = &list.items[0];
        assert_eq!(text(list.span), "A=1 ls -l >out | wc && x");
        assert_eq!(text(and_or.first.span), "A=1 ls -l >out | wc");
        let ls = &and_or.first.commands[0];
        assert_eq!(text(ls.span), "A=1 ls -l >out");
        assert_eq!(text(ls.assignments[0].span), "A=1");
        assert_eq!(text(ls.assignments[0].value.span), "1");
        assert_eq!(text(ls.words[1].span), "-l");
        assert_eq!(text(ls.redirects[0].span), ">out");
        assert_eq!(text(and_or.rest[0].1.span), "x");

        let line = b"echo a\"b $X\"'c' 2>&1";
        let list = parse(line).unwrap();
        let cmd = &list.items[0].first.commands[0];
        let parts: Vec<_> = cmd.words[1]
            .parts
            .iter()
            .map(|p| std::str::from_utf8(&line[p.span.start..p.span.end]).unwrap())
            .collect();
        assert_eq!(parts, ["a", "\"b ", "$X\"", "'c'"]);
        assert_eq!(text_of(line, cmd.redirects[0].span), "2>&1");
    }

    fn text_of(line: &[u8], s: Span) -> &str {
        std::str::from_utf8(&line[s.start..s.end]).unwrap()
    }
}
