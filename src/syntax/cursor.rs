//! What Tab completion needs from the language: the word the cursor is in, read with the real
//! lexer (so quotes, `$'...'` and escapes mean what they will mean when the line runs), and
//! whether that word names a command or a file after a redirect. The cursor may be inside an
//! open `$(`, backquote or `<(`: the word is then read in that command's own text, and keywords
//! (`do`, `then`, `{`...) and `case` patterns' `)` leave the next word in a command's place.

use super::ast::{Span, Word};
use super::lex::{Lexer, Op, TokKind};
use super::parse::{assignment, ErrorKind};

/// The word that ends at the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorWord {
    /// Where the word starts; completion replaces `start..cursor`.
    pub start: usize,
    /// The word as typed so far, an open quote taken as closed at the cursor. Its text with
    /// `~` and `$VAR` resolved is `expand_assignment(&word, env)` (no splitting, no globbing).
    pub word: Word,
    /// It is in a command name's place: first on the line, or after `|`, `&&`, `||`, `;`, `!`,
    /// `$(`, a keyword such as `do` or `then`, or assignments.
    pub command: bool,
    /// It follows a redirect operator, so it names a file.
    pub redirect: bool,
    /// The quote left open at the cursor (`cat "/containers/we`), which a completion keeps.
    pub open_quote: Option<char>,
}

/// The word ending at the end of `head` (the line up to the cursor); an empty word at the end if
/// `head` ends in a blank or an operator. `None` if the line so far has an error that no closing
/// quote fixes.
pub fn cursor_word(head: &[u8]) -> Option<CursorWord> {
    let from = open_command(head);
    let mut found = cursor_word_in(&head[from..])?;
    found.start += from;
    Some(found)
}

/// `cursor_word` for a head that is one command text (no open substitution around it).
fn cursor_word_in(head: &[u8]) -> Option<CursorWord> {
    let mut text = head.to_vec();
    let mut open_quote = None;
    // Close what is open at the cursor (`"${x` needs two), or drop a trailing backslash.
    for _ in 0..3 {
        match scan(&text, head.len()) {
            Ok(mut found) => {
                found.open_quote = open_quote.filter(|_| found.start < head.len());
                return Some(found);
            }
            Err((pos, ErrorKind::Unterminated(c))) if pos < head.len() => {
                // Not `$'`: its escapes are not a plain quote's.
                if open_quote.is_none() && matches!(c, '"' | '\'') && text[pos] == c as u8 {
                    open_quote = Some(c);
                }
                text.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes())
            }
            Err((pos, ErrorKind::UnexpectedEof)) if pos + 1 == text.len() => {
                text.pop();
            }
            Err(_) => return None,
        }
    }
    None
}

/// What is open at a byte of the head, for [`open_command`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// A command text starting at this offset: `$(`, `<(`, `>(`.
    Sub(usize),
    /// A backquoted command text starting at this offset.
    Backquote(usize),
    /// `(` inside a command text (a subshell, `f()`, a `case` pattern's opening).
    Paren,
    /// `"`.
    Double,
    /// `${`.
    Brace,
    /// `$((` with this many open parentheses inside.
    Arith(usize),
}

/// Where the innermost command text still open at the end of `head` starts: after the last
/// unclosed `$(`, `<(`, `>(` or backquote, else 0. Quotes, `$'...'`, escapes and comments are
/// skipped as the lexer does, so a `$(` inside single quotes opens nothing.
fn open_command(head: &[u8]) -> usize {
    let mut stack: Vec<Open> = Vec::new();
    let at = |i: usize| head.get(i).copied();
    let mut i = 0;
    while let Some(b) = at(i) {
        let top = stack.last().copied();
        let in_command = matches!(
            top,
            None | Some(Open::Sub(_) | Open::Backquote(_) | Open::Paren)
        );
        match b {
            b'\\' => {
                i += 2;
                continue;
            }
            b'\'' if in_command || top == Some(Open::Brace) => {
                match head[i + 1..].iter().position(|&c| c == b'\'') {
                    Some(n) => i += n + 2,
                    // An open single quote: the word's own business (the lexer closes it).
                    None => break,
                }
                continue;
            }
            b'"' if top == Some(Open::Double) => {
                stack.pop();
            }
            b'"' => stack.push(Open::Double),
            b'`' if top.is_some_and(|t| matches!(t, Open::Backquote(_))) => {
                stack.pop();
            }
            b'`' => stack.push(Open::Backquote(i + 1)),
            b'$' if at(i + 1) == Some(b'\'') && in_command => {
                // `$'...'`: backslashes escape, up to the closing quote.
                let mut j = i + 2;
                while let Some(c) = at(j) {
                    match c {
                        b'\\' => j += 2,
                        b'\'' => break,
                        _ => j += 1,
                    }
                }
                if j >= head.len() {
                    break;
                }
                i = j + 1;
                continue;
            }
            b'$' if at(i + 1) == Some(b'(') && at(i + 2) == Some(b'(') => {
                stack.push(Open::Arith(0));
                i += 3;
                continue;
            }
            b'$' if at(i + 1) == Some(b'(') => {
                stack.push(Open::Sub(i + 2));
                i += 2;
                continue;
            }
            b'$' if at(i + 1) == Some(b'{') => {
                stack.push(Open::Brace);
                i += 2;
                continue;
            }
            b'<' | b'>' if in_command && at(i + 1) == Some(b'(') => {
                stack.push(Open::Sub(i + 2));
                i += 2;
                continue;
            }
            b'(' if in_command => stack.push(Open::Paren),
            b'(' => {
                if let Some(Open::Arith(n)) = stack.last_mut() {
                    *n += 1;
                }
            }
            b')' => match top {
                Some(Open::Sub(_) | Open::Paren) => {
                    stack.pop();
                }
                Some(Open::Arith(0)) if at(i + 1) == Some(b')') => {
                    stack.pop();
                    i += 2;
                    continue;
                }
                Some(Open::Arith(n)) if n > 0 => {
                    stack.pop();
                    stack.push(Open::Arith(n - 1));
                }
                _ => {}
            },
            b'}' if top == Some(Open::Brace) => {
                stack.pop();
            }
            b'#' if in_command && (i == 0 || b" \t\n;&|(".contains(&head[i - 1])) => {
                match head[i..].iter().position(|&c| c == b'\n') {
                    Some(n) => i += n,
                    None => break,
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    stack
        .iter()
        .rev()
        .find_map(|o| match o {
            Open::Sub(s) | Open::Backquote(s) => Some(*s),
            _ => None,
        })
        .unwrap_or(0)
}

/// Keywords after which a command comes: `if tr<Tab>`, `do ec<Tab>`, `{ ls`.
const OPENS_COMMAND: &[&[u8]] = &[
    b"if", b"then", b"else", b"elif", b"do", b"while", b"until", b"{", b"!", b"time",
];

/// Where a `case` is, for whether a word is a pattern or a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    None,
    /// `case WORD` or `case WORD in`: not yet the patterns.
    Head,
    /// Patterns, up to `)`.
    Patterns,
    /// An arm's commands, up to `;;`.
    Arm,
}

/// Lexes `text` (the head, perhaps with closing quotes added) and finds the last word.
fn scan(text: &[u8], cursor: usize) -> Result<CursorWord, (usize, ErrorKind)> {
    let mut lexer = Lexer::new(text);
    let (mut command, mut redirect) = (true, false);
    let mut case = Case::None;
    let mut after_rparen = false;
    let mut last: Option<CursorWord> = None;
    loop {
        let tok = lexer.next_token().map_err(|e| (e.pos, e.kind))?;
        if tok.kind == TokKind::Eof {
            break;
        }
        last = None;
        let rparen = tok.kind == TokKind::Op(Op::RParen);
        match tok.kind {
            TokKind::Word(mut word) => {
                if tok.span.end == text.len() {
                    word.span.end = word.span.end.min(cursor);
                    last = Some(CursorWord {
                        start: word.span.start,
                        word: word.clone(),
                        command,
                        redirect,
                        open_quote: None,
                    });
                }
                let bare = word.as_bare();
                let keyword = (command || after_rparen) && !redirect;
                if keyword && bare == Some(b"case") {
                    case = Case::Head;
                } else if bare == Some(b"esac") && (case == Case::Patterns || keyword) {
                    case = Case::None;
                } else if case == Case::Head && bare == Some(b"in") {
                    case = Case::Patterns;
                }
                let keeps_command = keyword
                    && (assignment(&word).is_some()
                        || bare.is_some_and(|b| OPENS_COMMAND.contains(&b)));
                if redirect {
                    redirect = false;
                } else {
                    command = keeps_command;
                }
            }
            TokKind::IoNumber(_) | TokKind::IoName(_) => {}
            TokKind::Op(op) if op.is_redirect() => redirect = true,
            TokKind::Op(Op::RParen) if case == Case::Patterns => {
                case = Case::Arm;
                (command, redirect) = (true, false);
            }
            TokKind::Op(Op::RParen) => (command, redirect) = (false, false),
            TokKind::Op(Op::LParen | Op::Pipe) if case == Case::Patterns => {
                (command, redirect) = (false, false)
            }
            TokKind::Op(Op::DSemi | Op::SemiAmp | Op::DSemiAmp) if case == Case::Arm => {
                case = Case::Patterns;
                (command, redirect) = (false, false);
            }
            TokKind::Newline if case == Case::Patterns || case == Case::Head => {
                (command, redirect) = (false, false)
            }
            TokKind::Op(_) | TokKind::Newline | TokKind::Eof => (command, redirect) = (true, false),
        }
        after_rparen = rparen;
    }
    Ok(last.unwrap_or(CursorWord {
        start: cursor,
        word: Word {
            parts: Vec::new(),
            span: Span::new(cursor, cursor),
        },
        command,
        redirect,
        open_quote: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::expand::expand_assignment;
    use crate::syntax::expand::tests::TestEnv;

    /// `start text flags`: the word's start, its text resolved, `cmd` and/or `redir`.
    fn show(head: &str) -> String {
        let Some(c) = cursor_word(head.as_bytes()) else {
            return "none".into();
        };
        let mut env = TestEnv::default();
        env.vars.insert(b"HOME".to_vec(), b"/home/u".to_vec());
        let text = expand_assignment(&c.word, &mut env).unwrap_or_default();
        let mut flags = String::new();
        if c.command {
            flags.push_str(" cmd");
        }
        if c.redirect {
            flags.push_str(" redir");
        }
        if let Some(q) = c.open_quote {
            flags.push_str(&format!(" open{q}"));
        }
        format!("{} {:?}{flags}", c.start, text.to_string_lossy())
    }

    #[test]
    fn table() {
        let table: &[(&str, &str)] = &[
            ("", "0 \"\" cmd"),
            ("l", "0 \"l\" cmd"),
            ("ls /cont", "3 \"/cont\""),
            ("ls ", "3 \"\""),
            ("cat a\\ b", "4 \"a b\""),
            ("cat 'my fi", "4 \"my fi\" open'"),
            ("cat \"my fi", "4 \"my fi\" open\""),
            ("cat $'a\\tb", "4 \"a\\tb\""),
            ("cat ab\\", "4 \"ab\""),
            ("cat ~/x", "4 \"/home/u/x\""),
            ("cat \"$HOME/", "4 \"/home/u/\" open\""),
            ("cat \"${HOME", "4 \"/home/u\" open\""),
            ("cd x; c", "6 \"c\" cmd"),
            ("cd x;", "5 \"\" cmd"),
            ("a | b", "4 \"b\" cmd"),
            ("a && ! b", "7 \"b\" cmd"),
            ("A=1 b", "4 \"b\" cmd"),
            ("ls >", "4 \"\" redir"),
            ("ls >ou", "4 \"ou\" redir"),
            ("ls 2> ou", "6 \"ou\" redir"),
            (">f c", "3 \"c\" cmd"),
            ("ls >f x", "6 \"x\""),
            ("ls # comment", "12 \"\""),
            // Inside substitutions: the word is read in the inner command's text.
            ("echo $(", "7 \"\" cmd"),
            ("echo $(ca", "7 \"ca\" cmd"),
            ("echo $(cat /et", "11 \"/et\""),
            ("echo \"$(ca", "8 \"ca\" cmd"),
            ("echo `ca", "6 \"ca\" cmd"),
            ("echo `cat /e", "10 \"/e\""),
            ("diff <(so", "7 \"so\" cmd"),
            ("echo $(a $(b", "11 \"b\" cmd"),
            ("echo $(a) b", "10 \"b\""),
            ("echo $(a) | gr", "12 \"gr\" cmd"),
            ("x=$(ls) ec", "8 \"ec\" cmd"),
            ("echo '$(' ca", "10 \"ca\""),
            ("echo $((1+(2))) x", "16 \"x\""),
            ("echo ${x:-$(ca", "12 \"ca\" cmd"),
            ("echo $'\\'' $(ca", "13 \"ca\" cmd"),
            ("echo \\$(ca", "8 \"ca\" cmd"),
            // Keywords open a command's place; what follows `for` and `case` is not one.
            ("for c in /containers/*; do ec", "27 \"ec\" cmd"),
            ("for c in /cont", "9 \"/cont\""),
            ("for c", "4 \"c\""),
            ("if tr", "3 \"tr\" cmd"),
            ("if true; then ec", "14 \"ec\" cmd"),
            ("if a; then b; else ec", "19 \"ec\" cmd"),
            ("while tr", "6 \"tr\" cmd"),
            ("until tr", "6 \"tr\" cmd"),
            ("{ ec", "2 \"ec\" cmd"),
            ("( ec", "2 \"ec\" cmd"),
            ("(ec", "1 \"ec\" cmd"),
            ("f() { ec", "6 \"ec\" cmd"),
            ("a || b", "5 \"b\" cmd"),
            ("echo if", "5 \"if\""),
            ("case $x in a) ec", "14 \"ec\" cmd"),
            ("case $x in a|b", "13 \"b\""),
            ("case $x in a) ls;; b", "19 \"b\""),
            ("case $x in a) ls;; esac; ec", "25 \"ec\" cmd"),
            ("for c in *; do\necho $c | gr", "25 \"gr\" cmd"),
            ("cat \"/containers/we", "4 \"/containers/we\" open\""),
        ];
        let wrong: Vec<String> = table
            .iter()
            .filter(|(head, want)| show(head) != *want)
            .map(|(head, want)| format!("{head:?}: {} (want {want})", show(head)))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
