//! Tokens into a [`List`]: sh's whole grammar (lists, `&&`, `||`, `|`, `!`, `&`, assignments,
//! redirects and here-documents, `if`, `while`, `until`, `for`, `case`, `{ }`, `( )`, functions,
//! and bash's `[[ ]]` and `(( ))`), with alias substitution on command names. Errors carry the
//! byte position and bash's wording; [`SyntaxError::is_incomplete`] tells the REPL when more
//! lines would help. [`parse_line`] parses one line at a time, so an alias defined on one line
//! applies to the next, and a syntax error stops a script before anything after it runs.

use std::collections::VecDeque;
use std::sync::Arc;

use super::alias::{self, Aliases, NoAliases};
use super::ast::*;
pub use super::error::{ErrorKind, SyntaxError};
use super::lex::{self, Lexer, Op, TokKind, Token};

/// Parses one line (which may hold newlines) without aliases.
pub fn parse(line: &[u8]) -> Result<List, SyntaxError> {
    parse_with_aliases(line, &NoAliases)
}

/// Parses the whole text, substituting aliases for command names as sh does.
pub fn parse_with_aliases(line: &[u8], aliases: &dyn Aliases) -> Result<List, SyntaxError> {
    let mut p = Parser::new(line, 0, aliases, 0);
    let list = p.compound_list(&[])?;
    p.expect_eof()?;
    Ok(list)
}

/// Parses the commands of one line of `text` from `pos` (a construct spanning lines is read
/// whole): the list and where the next line starts, or `None` at the end. Running each line
/// before parsing the next is what lets an alias defined on one line apply to the next.
pub fn parse_line(
    text: &[u8],
    pos: usize,
    aliases: &dyn Aliases,
) -> Result<Option<(List, usize)>, SyntaxError> {
    let mut p = Parser::new(text, pos, aliases, 0);
    p.skip_newlines()?;
    if p.peek()?.kind == TokKind::Eof {
        return Ok(None);
    }
    let mut items = Vec::new();
    loop {
        if p.at_list_end(&[])? {
            let tok = p.next()?;
            if tok.kind == TokKind::Eof {
                break;
            }
            return Err(p.unexpected(&tok));
        }
        let mut item = p.and_or()?;
        let tok = p.next()?;
        match tok.kind {
            TokKind::Op(Op::Semi) => {}
            TokKind::Op(Op::Amp) => item.background = true,
            TokKind::Newline | TokKind::Eof => {
                items.push(item);
                break;
            }
            _ => return Err(p.unexpected(&tok)),
        }
        items.push(item);
        if matches!(p.peek()?.kind, TokKind::Newline | TokKind::Eof) {
            p.next()?;
            break;
        }
    }
    let end = if p.ahead.is_empty() {
        p.lexer.pos
    } else {
        text.len()
    };
    Ok(Some((List::of(items), end)))
}

/// A backquoted command's text, parsed on its own (`depth`: how deeply nested it is).
pub(super) fn parse_nested(text: &[u8], depth: usize) -> Result<List, SyntaxError> {
    let mut p = Parser::new(text, 0, &NoAliases, depth);
    let list = p.compound_list(&[])?;
    p.expect_eof()?;
    Ok(list)
}

/// The list inside `$(` or `<(`, from `from` to its `)`: the list and the position after it.
pub(super) fn parse_until_paren(
    line: &[u8],
    from: usize,
    depth: usize,
) -> Result<(List, usize), SyntaxError> {
    let mut p = Parser::new(line, from, &NoAliases, depth);
    let list = p.compound_list(&[])?;
    let tok = p.next()?;
    match tok.kind {
        TokKind::Op(Op::RParen) => Ok((list, tok.span.end)),
        TokKind::Eof => Err(SyntaxError {
            pos: from.saturating_sub(2),
            kind: ErrorKind::Unterminated(')'),
        }),
        _ => Err(p.unexpected(&tok)),
    }
}

/// sh's reserved words that start commands dockerbox does not have.
const UNSUPPORTED_WORDS: &[&str] = &["select", "coproc"];

/// Reserved words that can only follow another.
const STRAY_WORDS: &[&str] = &[
    "then", "else", "elif", "fi", "do", "done", "esac", "}", "]]", "!", "in",
];

struct Parser<'a> {
    line: &'a [u8],
    lexer: Lexer<'a>,
    /// Tokens read ahead, and alias values waiting to be read.
    ahead: VecDeque<Token>,
    aliases: &'a dyn Aliases,
    /// The previous word was an alias whose value ended in a blank: this word may be one too.
    alias_next: bool,
    /// A byte position and the line it is on, for [`Parser::line_of`].
    lines: (usize, usize),
}

impl List {
    /// A list of these items, spanning them.
    pub fn of(items: Vec<AndOr>) -> List {
        let span = match (items.first(), items.last()) {
            (Some(a), Some(b)) => a.span.to(b.span),
            _ => Span::new(0, 0),
        };
        List { items, span }
    }

    /// Every span set to `span` (a backquoted command's text is not where it was typed).
    pub(super) fn respan(&mut self, span: Span) {
        self.span = span;
        for item in &mut self.items {
            item.span = span;
        }
    }
}

impl<'a> Parser<'a> {
    fn new(line: &'a [u8], pos: usize, aliases: &'a dyn Aliases, depth: usize) -> Parser<'a> {
        Parser {
            line,
            lexer: Lexer::starting(line, pos, depth),
            ahead: VecDeque::new(),
            aliases,
            alias_next: false,
            lines: (0, 1),
        }
    }

    fn expect_eof(&mut self) -> Result<(), SyntaxError> {
        let tok = self.next()?;
        match tok.kind {
            TokKind::Eof => Ok(()),
            _ => Err(self.unexpected(&tok)),
        }
    }

    /// Whether the next token ends a list: the end, `)`, `;;`, or one of `stop` (reserved
    /// words such as `then`, `done`) in command position.
    fn at_list_end(&mut self, stop: &[&str]) -> Result<bool, SyntaxError> {
        let tok = self.peek()?;
        Ok(match &tok.kind {
            TokKind::Eof | TokKind::Op(Op::RParen | Op::DSemi | Op::SemiAmp | Op::DSemiAmp) => true,
            TokKind::Word(w) => w
                .as_bare()
                .and_then(|b| std::str::from_utf8(b).ok())
                .is_some_and(|b| stop.contains(&b)),
            _ => false,
        })
    }

    /// Commands separated by `;`, `&` and newlines, up to a list end (see [`at_list_end`]).
    fn compound_list(&mut self, stop: &[&str]) -> Result<List, SyntaxError> {
        let mut items = Vec::new();
        loop {
            self.skip_newlines()?;
            if self.at_list_end(stop)? {
                break;
            }
            let mut item = self.and_or()?;
            match self.peek()?.kind {
                TokKind::Op(Op::Semi) | TokKind::Newline => {
                    self.next()?;
                }
                TokKind::Op(Op::Amp) => {
                    self.next()?;
                    item.background = true;
                }
                _ => {
                    items.push(item);
                    break;
                }
            }
            items.push(item);
        }
        Ok(List::of(items))
    }

    /// A list that must hold a command (`if`'s condition, a loop's body...).
    fn body(&mut self, stop: &[&str]) -> Result<List, SyntaxError> {
        let list = self.compound_list(stop)?;
        if list.items.is_empty() {
            let tok = self.peek()?.clone();
            return Err(self.unexpected(&tok));
        }
        Ok(list)
    }

    /// The reserved word `word` must come next.
    fn expect_word(&mut self, word: &str) -> Result<Span, SyntaxError> {
        let tok = self.next()?;
        match &tok.kind {
            TokKind::Word(w) if w.as_bare() == Some(word.as_bytes()) => Ok(tok.span),
            _ => Err(self.unexpected(&tok)),
        }
    }

    fn peek_bare(&mut self) -> Result<Option<Vec<u8>>, SyntaxError> {
        Ok(match &self.peek()?.kind {
            TokKind::Word(w) => w.as_bare().map(<[u8]>::to_vec),
            _ => None,
        })
    }

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
            TokKind::Word(_) | TokKind::IoNumber(_) | TokKind::IoName(_) => {
                let bytes = self.line.get(tok.span.start..tok.span.end).unwrap_or(b"");
                String::from_utf8_lossy(bytes).into_owned()
            }
        };
        SyntaxError {
            pos: tok.span.start,
            kind: ErrorKind::UnexpectedToken(text),
        }
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
        Ok(AndOr {
            first,
            rest,
            span,
            background: false,
        })
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
                            var: None,
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
    fn command(&mut self, substituted: bool) -> Result<Command, SyntaxError> {
        let start = self.peek()?.span.start;
        let mut c = self.command_here(substituted)?;
        c.line = self.line_of(start);
        Ok(c)
    }

    /// The line (from 1) that byte `pos` is on; counted on from the last answer.
    fn line_of(&mut self, pos: usize) -> usize {
        let (from, mut n) = if pos >= self.lines.0 {
            self.lines
        } else {
            (0, 1)
        };
        let to = pos.min(self.line.len());
        n += self.line[from.min(to)..to]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.lines = (to, n);
        n
    }

    fn command_here(&mut self, mut substituted: bool) -> Result<Command, SyntaxError> {
        if let Some(c) = self.compound()? {
            return Ok(c);
        }
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
                    let array_next = !tok.blank_after
                        && word.parts.last().is_some_and(
                            |p| matches!(&p.kind, PartKind::Bare(b) if b.ends_with(b"=")),
                        )
                        && self.peek_op()? == Some(Op::LParen);
                    if array_next && !cmd.words.is_empty() {
                        // `declare a=(1 2)`: the elements go to the builtin as typed.
                        let (_, span) = self.array_literal()?;
                        let mut word = word;
                        word.parts.push(Part {
                            kind: PartKind::Quoted(self.line[span.start..span.end].to_vec()),
                            span,
                        });
                        word.span = word.span.to(span);
                        spans.push(word.span);
                        cmd.words.push(word);
                        continue;
                    }
                    if cmd.words.is_empty() {
                        if let Some(mut a) = assignment(&word) {
                            if array_next && a.value.parts.is_empty() {
                                let (elems, span) = self.array_literal()?;
                                a.array = Some(elems);
                                a.span = a.span.to(span);
                            }
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
                TokKind::IoName(name) => {
                    let name = name.clone();
                    self.next()?;
                    self.named_redirect(name, &mut cmd.redirects)?;
                }
                TokKind::Op(op) if op.is_redirect() => self.redirect(None, &mut cmd.redirects)?,
                TokKind::Op(Op::LParen)
                    if cmd.words.len() == 1
                        && cmd.assignments.is_empty()
                        && cmd.redirects.is_empty() =>
                {
                    let Some(name) = cmd.words[0].as_bare().map(<[u8]>::to_vec) else {
                        let tok = tok.clone();
                        return Err(self.unexpected(&tok));
                    };
                    let start = cmd.words[0].span;
                    self.next()?;
                    let close = self.next()?;
                    if close.kind != TokKind::Op(Op::RParen) {
                        return Err(self.unexpected(&close));
                    }
                    return self.function_body(name, start);
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

    /// `( word... )` after `a=`: an array's elements (newlines allowed), and the span from
    /// `(` to `)`.
    fn array_literal(&mut self) -> Result<(Vec<Word>, Span), SyntaxError> {
        let open = self.next()?.span;
        let mut words = Vec::new();
        loop {
            let tok = self.next()?;
            match tok.kind {
                TokKind::Word(w) => words.push(w),
                TokKind::Newline => {}
                TokKind::Op(Op::RParen) => return Ok((words, open.to(tok.span))),
                TokKind::Eof => {
                    return Err(SyntaxError {
                        pos: self.line.len(),
                        kind: ErrorKind::UnexpectedEof,
                    })
                }
                _ => return Err(self.unexpected(&tok)),
            }
        }
    }

    /// A compound command if one starts here (with its redirects), else `None`.
    fn compound(&mut self) -> Result<Option<Command>, SyntaxError> {
        let tok = self.peek()?.clone();
        let start = tok.span;
        let c = match &tok.kind {
            TokKind::Op(Op::LParen) => {
                self.next()?;
                if self.ahead.is_empty() {
                    if let Some(expr) = self.lexer.arith_command()? {
                        return self.with_redirects(Compound::Arith(expr), start).map(Some);
                    }
                }
                let list = self.body(&[])?;
                let close = self.next()?;
                if close.kind != TokKind::Op(Op::RParen) {
                    return Err(self.unexpected(&close));
                }
                Compound::Subshell(list)
            }
            TokKind::Word(w) => {
                let Some(word) = w.as_bare() else {
                    return Ok(None);
                };
                match word {
                    b"{" => {
                        self.next()?;
                        let list = self.body(&["}"])?;
                        self.expect_word("}")?;
                        Compound::Group(list)
                    }
                    b"if" => self.if_clause()?,
                    b"while" | b"until" => {
                        let until = word == b"until";
                        self.next()?;
                        let cond = self.body(&["do"])?;
                        self.expect_word("do")?;
                        let body = self.body(&["done"])?;
                        self.expect_word("done")?;
                        Compound::While { cond, body, until }
                    }
                    b"for" => self.for_clause()?,
                    b"case" => self.case_clause()?,
                    b"[[" => self.cond_clause()?,
                    b"function" => {
                        self.next()?;
                        let name_tok = self.next()?;
                        let name = match &name_tok.kind {
                            TokKind::Word(w) => w.as_bare().map(<[u8]>::to_vec),
                            _ => None,
                        };
                        let Some(name) = name else {
                            return Err(self.unexpected(&name_tok));
                        };
                        if self.peek_op()? == Some(Op::LParen) {
                            self.next()?;
                            let close = self.next()?;
                            if close.kind != TokKind::Op(Op::RParen) {
                                return Err(self.unexpected(&close));
                            }
                        }
                        return self.function_body(name, start).map(Some);
                    }
                    _ => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        self.with_redirects(c, start).map(Some)
    }

    /// A function's body after `name()`: newlines, then a compound command.
    fn function_body(&mut self, name: Vec<u8>, start: Span) -> Result<Command, SyntaxError> {
        self.skip_newlines()?;
        let Some(body) = self.compound()? else {
            let tok = self.peek()?.clone();
            return Err(self.unexpected(&tok));
        };
        let span = start.to(body.span);
        Ok(Command {
            span,
            compound: Some(Box::new(Compound::Function {
                name,
                body: Arc::new(body),
            })),
            ..Command::default()
        })
    }

    /// The redirects after a compound command.
    fn with_redirects(&mut self, c: Compound, start: Span) -> Result<Command, SyntaxError> {
        let mut redirects = Vec::new();
        let mut end = start;
        loop {
            let tok = self.peek()?;
            end = end.to(Span::new(tok.span.start, tok.span.start));
            match tok.kind {
                TokKind::IoNumber(n) => {
                    let fd = Some((n, tok.span));
                    self.next()?;
                    self.redirect(fd, &mut redirects)?;
                }
                TokKind::IoName(ref name) => {
                    let name = name.clone();
                    self.next()?;
                    self.named_redirect(name, &mut redirects)?;
                }
                TokKind::Op(op) if op.is_redirect() => self.redirect(None, &mut redirects)?,
                _ => break,
            }
        }
        if let Some(r) = redirects.last() {
            end = end.to(r.span);
        }
        Ok(Command {
            redirects,
            span: start.to(end),
            compound: Some(Box::new(c)),
            ..Command::default()
        })
    }

    fn if_clause(&mut self) -> Result<Compound, SyntaxError> {
        self.next()?;
        let mut arms = Vec::new();
        let mut otherwise = None;
        loop {
            let cond = self.body(&["then"])?;
            self.expect_word("then")?;
            let body = self.body(&["elif", "else", "fi"])?;
            arms.push((cond, body));
            match self.peek_bare()?.as_deref() {
                Some(b"elif") => {
                    self.next()?;
                }
                Some(b"else") => {
                    self.next()?;
                    otherwise = Some(self.body(&["fi"])?);
                    self.expect_word("fi")?;
                    break;
                }
                _ => {
                    self.expect_word("fi")?;
                    break;
                }
            }
        }
        Ok(Compound::If { arms, otherwise })
    }

    fn for_clause(&mut self) -> Result<Compound, SyntaxError> {
        self.next()?;
        if self.peek_op()? == Some(Op::LParen) {
            let tok = self.next()?;
            let expr = match self.ahead.is_empty() {
                true => self.lexer.arith_command()?,
                false => None,
            };
            let Some(expr) = expr else {
                return Err(self.unexpected(&tok));
            };
            let Some([init, cond, step]) = split_arith_for(expr) else {
                return Err(SyntaxError {
                    pos: tok.span.start,
                    kind: ErrorKind::UnexpectedToken("((".to_string()),
                });
            };
            if self.peek_op()? == Some(Op::Semi) {
                self.next()?;
            }
            self.skip_newlines()?;
            let body = self.loop_body()?;
            return Ok(Compound::ArithFor {
                init,
                cond,
                step,
                body,
            });
        }
        let tok = self.next()?;
        let var = match &tok.kind {
            // A word that is not a name is refused when the loop runs, as bash does.
            TokKind::Word(w) => w.as_bare().map(<[u8]>::to_vec),
            _ => None,
        };
        let Some(var) = var else {
            return Err(self.unexpected(&tok));
        };
        let mut words = None;
        if self.peek_op()? == Some(Op::Semi) {
            self.next()?;
        }
        self.skip_newlines()?;
        if self.peek_bare()?.as_deref() == Some(b"in") {
            self.next()?;
            let mut list = Vec::new();
            loop {
                let tok = self.next()?;
                match tok.kind {
                    TokKind::Word(w) => list.push(w),
                    TokKind::Op(Op::Semi) | TokKind::Newline => break,
                    _ => return Err(self.unexpected(&tok)),
                }
            }
            words = Some(list);
            self.skip_newlines()?;
        }
        let body = self.loop_body()?;
        Ok(Compound::For { var, words, body })
    }

    /// A `for` loop's `do ... done`, or bash's `{ ... }`.
    fn loop_body(&mut self) -> Result<List, SyntaxError> {
        if self.peek_bare()?.as_deref() == Some(b"{") {
            self.next()?;
            let b = self.body(&["}"])?;
            self.expect_word("}")?;
            Ok(b)
        } else {
            self.expect_word("do")?;
            let b = self.body(&["done"])?;
            self.expect_word("done")?;
            Ok(b)
        }
    }

    fn case_clause(&mut self) -> Result<Compound, SyntaxError> {
        self.next()?;
        let tok = self.next()?;
        let TokKind::Word(word) = tok.kind else {
            return Err(self.unexpected(&tok));
        };
        self.skip_newlines()?;
        self.expect_word("in")?;
        let mut arms = Vec::new();
        loop {
            self.skip_newlines()?;
            if self.peek_bare()?.as_deref() == Some(b"esac") {
                self.next()?;
                break;
            }
            if self.peek_op()? == Some(Op::LParen) {
                self.next()?;
            }
            let mut patterns = Vec::new();
            loop {
                let tok = self.next()?;
                let TokKind::Word(w) = tok.kind else {
                    return Err(self.unexpected(&tok));
                };
                patterns.push(w);
                let tok = self.next()?;
                match tok.kind {
                    TokKind::Op(Op::Pipe) => {}
                    TokKind::Op(Op::RParen) => break,
                    _ => return Err(self.unexpected(&tok)),
                }
            }
            let body = self.compound_list(&["esac"])?;
            let end = match self.peek_op()? {
                Some(Op::DSemi) => CaseEnd::Break,
                Some(Op::SemiAmp) => CaseEnd::FallThrough,
                Some(Op::DSemiAmp) => CaseEnd::Continue,
                _ => {
                    arms.push(CaseArm {
                        patterns,
                        body,
                        end: CaseEnd::Break,
                    });
                    self.skip_newlines()?;
                    self.expect_word("esac")?;
                    break;
                }
            };
            self.next()?;
            arms.push(CaseArm {
                patterns,
                body,
                end,
            });
        }
        Ok(Compound::Case { word, arms })
    }

    fn cond_clause(&mut self) -> Result<Compound, SyntaxError> {
        self.next()?;
        let mut toks = Vec::new();
        loop {
            let tok = self.next()?;
            let t = match tok.kind {
                TokKind::Word(w) => match w.as_bare() {
                    Some(b"]]") => break,
                    Some(b"!") => CondTok::Not,
                    Some(b"=~") => {
                        toks.push(CondTok::Word(w));
                        if !self.ahead.is_empty() {
                            let tok = self.next()?;
                            return Err(self.unexpected(&tok));
                        }
                        CondTok::Regex(self.lexer.regex_word()?)
                    }
                    _ => CondTok::Word(w),
                },
                TokKind::Op(Op::AndIf) => CondTok::And,
                TokKind::Op(Op::OrIf) => CondTok::Or,
                TokKind::Op(Op::LParen) => CondTok::LParen,
                TokKind::Op(Op::RParen) => CondTok::RParen,
                TokKind::Op(Op::Less) => CondTok::Less,
                TokKind::Op(Op::Great) => CondTok::Greater,
                TokKind::Newline => continue,
                TokKind::IoNumber(n) => {
                    CondTok::Word(Word::literal(n.to_string().as_bytes(), tok.span))
                }
                TokKind::IoName(ref n) => {
                    let text = [b"{", n.as_slice(), b"}"].concat();
                    CondTok::Word(Word::literal(&text, tok.span))
                }
                _ => return Err(self.unexpected(&tok)),
            };
            toks.push(t);
        }
        Ok(Compound::Cond(toks))
    }

    /// Refuses the compound commands' reserved words in command position.
    fn reserved_word(&self, span: Span, word: &Word) -> Result<(), SyntaxError> {
        let Some(text) = word.as_bare().and_then(|b| std::str::from_utf8(b).ok()) else {
            return Ok(());
        };
        let kind = if UNSUPPORTED_WORDS.contains(&text) {
            ErrorKind::Unsupported(format!("'{text}'"))
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
            Op::Great => (RedirOp::Out, false),
            Op::Clobber => (RedirOp::Clobber, false),
            Op::LessGreat => (RedirOp::ReadWrite, false),
            Op::DGreat => (RedirOp::Append, false),
            Op::LessAnd => (RedirOp::DupIn, false),
            Op::GreatAnd => (RedirOp::DupOut, false),
            Op::AndGreat => (RedirOp::Out, true),
            Op::AndDGreat => (RedirOp::Append, true),
            Op::DLess | Op::DLessDash | Op::TLess => (RedirOp::HereDoc, false),
            _ => return Err(self.unexpected(&op_tok)),
        };
        let _ = at;
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
        if op == RedirOp::HereDoc {
            let body = match op_tok.kind {
                TokKind::Op(Op::TLess) => {
                    let mut w = word;
                    w.parts.push(Part {
                        kind: PartKind::Quoted(b"\n".to_vec()),
                        span,
                    });
                    w
                }
                kind => {
                    // `<<${a}`, `<<$(a)`: the delimiter is the text as typed, quotes removed.
                    let delim = literal(&word).unwrap_or_else(|| {
                        let raw = self.line.get(word.span.start..word.span.end).unwrap_or(b"");
                        unquoted_text(raw)
                    });
                    let quoted = word
                        .parts
                        .iter()
                        .any(|p| !matches!(p.kind, PartKind::Bare(_)));
                    if !self.ahead.is_empty() {
                        let tok = self.next()?;
                        return Err(self.unexpected(&tok));
                    }
                    let strip = kind == TokKind::Op(Op::DLessDash);
                    self.lexer.heredoc(&delim, strip, quoted, span)?
                }
            };
            out.push(Redirect {
                var: None,
                fd,
                op,
                target: RedirTarget::Body(body),
                span,
            });
            return Ok(());
        }
        let both_to = |op, target| {
            [
                Redirect {
                    var: None,
                    fd: None,
                    op,
                    target,
                    span,
                },
                Redirect {
                    var: None,
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
                var: None,
                fd,
                op,
                target: RedirTarget::Word(word),
                span,
            });
            return Ok(());
        }
        let digits = |t: &[u8]| !t.is_empty() && t.iter().all(u8::is_ascii_digit);
        let number = |t: &[u8]| {
            std::str::from_utf8(t)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(SyntaxError {
                    pos: word.span.start,
                    kind: ErrorKind::FdOutOfRange,
                })
        };
        let target = match literal(&word) {
            Some(t) if t == b"-" => RedirTarget::Close,
            Some(t) if digits(&t) => RedirTarget::Fd(number(&t)?),
            // `>&3-`: moved.
            Some(t) if t.strip_suffix(b"-").is_some_and(digits) => {
                RedirTarget::Move(number(&t[..t.len() - 1])?)
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
            None => RedirTarget::DupWord(word),
        };
        out.push(Redirect {
            var: None,
            fd,
            op,
            target,
            span,
        });
        Ok(())
    }
}

impl Parser<'_> {
    /// `{NAME}>f`, `{NAME}>&-`: a redirect whose descriptor the shell picks (or, closing,
    /// takes from NAME).
    fn named_redirect(
        &mut self,
        name: Vec<u8>,
        out: &mut Vec<Redirect>,
    ) -> Result<(), SyntaxError> {
        let before = out.len();
        self.redirect(None, out)?;
        for r in &mut out[before..] {
            r.var = Some(name.clone());
        }
        Ok(())
    }
}

/// `raw` without its quotes and backslashes (a here-document delimiter with expansions in it).
fn unquoted_text(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&c) = bytes.next() {
        match c {
            b'\'' | b'"' => {}
            b'\\' => out.extend(bytes.next()),
            _ => out.push(c),
        }
    }
    out
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

/// `NAME=value` (also `NAME+=value`, `NAME[sub]=value`) if the word starts with a bare valid
/// name and `=`: how the parser finds assignments, and how `export`/`alias` arguments can be
/// recognised. An array's elements (`a=(...)`) are added by the parser.
pub fn assignment(word: &Word) -> Option<Assignment> {
    let first = word.parts.first()?;
    let PartKind::Bare(b) = &first.kind else {
        return None;
    };
    let name_len = b.iter().take_while(|&&c| lex::is_name_byte(c)).count();
    if name_len == 0 || !lex::is_name(&b[..name_len]) {
        return None;
    }
    // After the name: `=`, `+=`, or a subscript and then one of those.
    let (index, rest_part, rest_at) = if b.get(name_len) == Some(&b'[') {
        let (index, part, at) = subscript_parts(word, name_len + 1)?;
        (Some(index), part, at)
    } else {
        (None, 0, name_len)
    };
    let PartKind::Bare(rb) = &word.parts[rest_part].kind else {
        return None;
    };
    let (append, eq) = match rb.get(rest_at..) {
        Some([b'=', ..]) => (false, rest_at),
        Some([b'+', b'=', ..]) => (true, rest_at + 1),
        _ => return None,
    };
    let part = &word.parts[rest_part];
    let mut parts = Vec::new();
    let value_start = part.span.start + eq + 1;
    if eq + 1 < rb.len() {
        parts.push(Part {
            kind: PartKind::Bare(rb[eq + 1..].to_vec()),
            span: Span::new(value_start.min(part.span.end), part.span.end),
        });
    }
    parts.extend(word.parts[rest_part + 1..].iter().cloned());
    lex::tilde_in_assignment(&mut parts);
    Some(Assignment {
        name: b[..name_len].to_vec(),
        value: Word {
            parts,
            span: Span::new(value_start.min(word.span.end), word.span.end),
        },
        span: word.span,
        index,
        append,
        array: None,
    })
}

/// `[k]=v` as an array literal's element: the subscript and the value.
pub fn element(word: &Word) -> Option<(Word, Word)> {
    match &word.parts.first()?.kind {
        PartKind::Bare(b) if b.starts_with(b"[") => {}
        _ => return None,
    }
    let (key, part, at) = subscript_parts(word, 1)?;
    let PartKind::Bare(rb) = &word.parts[part].kind else {
        return None;
    };
    if rb.get(at) != Some(&b'=') {
        return None;
    }
    let mut parts = Vec::new();
    if at + 1 < rb.len() {
        parts.push(Part {
            kind: PartKind::Bare(rb[at + 1..].to_vec()),
            span: word.parts[part].span,
        });
    }
    parts.extend(word.parts[part + 1..].iter().cloned());
    lex::tilde_prefix(&mut parts);
    Some((
        key,
        Word {
            parts,
            span: word.span,
        },
    ))
}

/// The subscript starting at byte `from` of the word's first part, up to the matching `]`:
/// the subscript as a word, and where the text after `]` is (part, byte offset in it).
pub(crate) fn subscript_parts(word: &Word, from: usize) -> Option<(Word, usize, usize)> {
    let mut depth = 0usize;
    let mut parts: Vec<Part> = Vec::new();
    for (pi, part) in word.parts.iter().enumerate() {
        let start = if pi == 0 { from } else { 0 };
        match &part.kind {
            PartKind::Bare(b) => {
                for (i, &c) in b.iter().enumerate().skip(start) {
                    match c {
                        b'[' => depth += 1,
                        b']' if depth == 0 => {
                            if i > start {
                                parts.push(Part {
                                    kind: PartKind::Quoted(b[start..i].to_vec()),
                                    span: part.span,
                                });
                            }
                            let span = word.span;
                            return Some((Word { parts, span }, pi, i + 1));
                        }
                        b']' => depth -= 1,
                        _ => {}
                    }
                }
                if b.len() > start {
                    parts.push(Part {
                        kind: PartKind::Quoted(b[start..].to_vec()),
                        span: part.span,
                    });
                }
            }
            _ if pi == 0 => return None,
            _ => parts.push(part.clone()),
        }
    }
    None
}

/// `(( init; cond; step ))`'s word cut at its two top-level `;` (in the text typed bare).
fn split_arith_for(expr: Word) -> Option<[Word; 3]> {
    let span = expr.span;
    let mut pieces: Vec<Vec<Part>> = vec![Vec::new()];
    for part in expr.parts {
        match &part.kind {
            PartKind::Bare(b) | PartKind::Quoted(b) if b.contains(&b';') => {
                let quoted = matches!(part.kind, PartKind::Quoted(_));
                for (i, chunk) in b.split(|&c| c == b';').enumerate() {
                    if i > 0 {
                        pieces.push(Vec::new());
                    }
                    if !chunk.is_empty() {
                        let chunk = chunk.to_vec();
                        pieces.last_mut()?.push(Part {
                            kind: if quoted {
                                PartKind::Quoted(chunk)
                            } else {
                                PartKind::Bare(chunk)
                            },
                            span: part.span,
                        });
                    }
                }
            }
            _ => pieces.last_mut()?.push(part),
        }
    }
    let [a, b, c]: [Vec<Part>; 3] = pieces.try_into().ok()?;
    Some([a, b, c].map(|parts| Word { parts, span }))
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
            // Arrays and subscripts (bash).
            ("a=(1 'b c'\n [3]=x) b", "[a=(1 'b c' [3]=x) b]"),
            ("a=() ; a+=(x)", "[a=()]; [a+=(x)]"),
            ("a[1]=x a[$i+1]=y s+=z", "[a['1']=x a[$i'+1']=y s+=z]"),
            ("declare -a a=(1 $x)", "[declare -a a='(1 $x)']"),
            // A `${...}` bash does not know fails when expanded, not here.
            ("echo ${a&} ${#x-d}", "[echo ${a&} ${#x-d}]"),
            (
                "echo ${a[@]} ${#a[*]} ${!a[@]} \"${a[i+1]:-d}\"",
                "[echo ${a[@]} ${#a[*]} ${!a[@]} ${a['i+1']:-'d'}]",
            ),
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
            // bash's moves and named descriptors; `{x}` not before a redirect is a word.
            ("cmd 6>&5- <&0-", "[cmd 6>&5- <&0-]"),
            ("exec {fd}>f {fd}>&- 3<&$x", "[exec {fd}>f {fd}>&- 3<&$x]"),
            ("echo {x} x={y}>f {1}>g", "[echo {x} x={y} {1} >f >g]"),
            ("cmd >|f", "[cmd >|f]"),
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
            ("| ls", "0: syntax error near unexpected token `|'"),
            (";", "0: syntax error near unexpected token `;'"),
            ("ls ; ;", "5: syntax error near unexpected token `;'"),
            ("ls ;;", "3: syntax error near unexpected token `;;'"),
            (") x", "0: syntax error near unexpected token `)'"),
            ("a && || b", "5: syntax error near unexpected token `||'"),
            ("ls >", "4: syntax error near unexpected token `newline'"),
            ("ls > ;", "5: syntax error near unexpected token `;'"),
            ("then", "0: syntax error near unexpected token `then'"),
            ("a | ! b", "4: syntax error near unexpected token `!'"),
            ("ls x)", "4: syntax error near unexpected token `)'"),
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
                "5: unexpected EOF while looking for matching `'' (incomplete)",
            ),
            (
                "echo \"abc",
                "5: unexpected EOF while looking for matching `\"' (incomplete)",
            ),
            (
                "echo x\"a\\\"",
                "6: unexpected EOF while looking for matching `\"' (incomplete)",
            ),
            (
                "echo $'abc",
                "5: unexpected EOF while looking for matching `'' (incomplete)",
            ),
            (
                "echo ${x",
                "5: unexpected EOF while looking for matching `}' (incomplete)",
            ),
            // The whole language; errors in bash's words.
            ("echo $(ls)", "[echo $([ls])]"),
            ("echo \"a $(ls)\"", "[echo 'a '$([ls])]"),
            ("echo `ls`", "[echo $([ls])]"),
            ("echo \"`ls`\"", "[echo $([ls])]"),
            ("echo $((1+2))", "[echo $(('1+2'))]"),
            ("echo $[1+2]", "[echo $(('1+2'))]"),
            ("echo ${x:-y}", "[echo ${x:-y}]"),
            ("echo \"${#x}\"", "[echo ${#x}]"),
            ("echo ${}", "5: ${}: bad substitution"),
            ("ls &", "[ls] &"),
            ("ls & pwd", "[ls] &; [pwd]"),
            ("(ls)", "(sub [ls])"),
            ("f() { ls; }", "(fn f {[ls]})"),
            ("{ ls; }", "{[ls]}"),
            ("if true; then ls; fi", "(if {[true]} {[ls]})"),
            ("ls; while x; do y; done", "[ls]; (while {[x]} {[y]})"),
            (
                "! for x",
                "7: syntax error: unexpected end of file (incomplete)",
            ),
            ("[[ -e x ]]", "[[ 2 ]]"),
            (
                "cat <<EOF",
                "9: syntax error: unexpected end of file (incomplete)",
            ),
            ("cat <<<x", "[cat <<x'\\x0a']"),
            ("cat <>f", "[cat <>f]"),
            ("diff <(a) b", "[diff <([a]) b]"),
            ("echo {a,b}", "[echo {a,b}]"),
            ("echo 2>&foo", "8: foo: ambiguous redirect"),
            ("echo >&$x", "[echo >&$x]"),
            ("echo (((x)))", "6: syntax error near unexpected token `('"),
            (
                "if true; then",
                "13: syntax error: unexpected end of file (incomplete)",
            ),
            (
                "if true; then ls; done",
                "18: syntax error near unexpected token `done'",
            ),
            (
                "for x in a b; do echo $x; done",
                "(for x in a b {[echo $x]})",
            ),
            (
                "case $x in a|b) echo ab;; (c) echo c;& *) ;; esac",
                "(case $x a|b) {[echo ab]} c) {[echo c]} *) {})",
            ),
            (
                "while :; do break 2; done & wait",
                "(while {[:]} {[break 2]}) &; [wait]",
            ),
            ("f() ( echo sub ) > out", "(fn f (sub [echo sub]) >out)"),
            ("function g { :; }", "(fn g {[:]})"),
            (
                "cat <<A; cat <<'B'\nx $y\nA\n$z\nB\necho after",
                "[cat <<'x '\"$y\"'\\x0a']; [cat <<'$z\\x0a']; [echo after]",
            ),
            // The body starts after the line the command ends on (continued, or in quotes).
            (
                "cat <<A \\\n; echo \"2\n3\" # it's\nbody\nA",
                "[cat <<'body\\x0a']; [echo '2\\x0a3']",
            ),
            ("cat <<${a}\nx\n${a}", "[cat <<'x\\x0a']"),
            (
                "x=$(case a in a) echo b;; esac)",
                "[x=$((case a a) {[echo b]}))]",
            ),
            (
                "echo ${a:-$(echo \"}\")} ${b#*/} ${c/x/y} ${d:1:2} ${!e} ${f^^}",
                "[echo ${a:-$([echo '}'])} ${b#*/} ${c/x/y} ${d:1:2} ${!e} ${f^^}]",
            ),
            ("(( i++ ))", "(( ' i++ ' ))"),
            ("[[ $a == b* && ( -f x || ! -d y ) ]]", "[[ 12 ]]"),
            ("[[ $x =~ ^(a|b)+$ ]]", "[[ 3 ]]"),
            ("echo $(( (1+2) ))", "[echo $((' (1+2) '))]"),
            ("echo $( (echo a) )", "[echo $((sub [echo a]))]"),
            ("if", "2: syntax error: unexpected end of file (incomplete)"),
            ("then", "0: syntax error near unexpected token `then'"),
            ("fi", "0: syntax error near unexpected token `fi'"),
            ("done", "0: syntax error near unexpected token `done'"),
            (
                "echo ${x",
                "5: unexpected EOF while looking for matching `}' (incomplete)",
            ),
            (
                "echo $(echo",
                "5: unexpected EOF while looking for matching `)' (incomplete)",
            ),
            (
                "case x in",
                "9: syntax error: unexpected end of file (incomplete)",
            ),
            (
                "a=1 f() { :; }",
                "5: syntax error near unexpected token `('",
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
