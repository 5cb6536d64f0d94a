//! What Tab completion needs from the language: the word the cursor is in, read with the real
//! lexer (so quotes, `$'...'` and escapes mean what they will mean when the line runs), and
//! whether that word names a command or a file after a redirect.

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
    /// It is in a command name's place: first on the line, or after `|`, `&&`, `||`, `;`, `!`
    /// or assignments.
    pub command: bool,
    /// It follows a redirect operator, so it names a file.
    pub redirect: bool,
}

/// The word ending at the end of `head` (the line up to the cursor); an empty word at the end if
/// `head` ends in a blank or an operator. `None` if the line so far has an error that no closing
/// quote fixes (`$(`, say).
pub fn cursor_word(head: &[u8]) -> Option<CursorWord> {
    let mut text = head.to_vec();
    // Close what is open at the cursor (`"${x` needs two), or drop a trailing backslash.
    for _ in 0..3 {
        match scan(&text, head.len()) {
            Ok(found) => return Some(found),
            Err((pos, ErrorKind::Unterminated(c))) if pos < head.len() => {
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

/// Lexes `text` (the head, perhaps with closing quotes added) and finds the last word.
fn scan(text: &[u8], cursor: usize) -> Result<CursorWord, (usize, ErrorKind)> {
    let mut lexer = Lexer::new(text);
    let (mut command, mut redirect) = (true, false);
    let mut last: Option<CursorWord> = None;
    loop {
        let tok = lexer.next_token().map_err(|e| (e.pos, e.kind))?;
        if tok.kind == TokKind::Eof {
            break;
        }
        last = None;
        match tok.kind {
            TokKind::Word(mut word) => {
                if tok.span.end == text.len() {
                    word.span.end = word.span.end.min(cursor);
                    last = Some(CursorWord {
                        start: word.span.start,
                        word: word.clone(),
                        command,
                        redirect,
                    });
                }
                let keeps_command =
                    command && (assignment(&word).is_some() || word.as_bare() == Some(b"!"));
                if redirect {
                    redirect = false;
                } else if !keeps_command {
                    command = false;
                }
            }
            TokKind::IoNumber(_) | TokKind::IoName(_) => {}
            TokKind::Op(op) if op.is_redirect() => redirect = true,
            TokKind::Op(Op::RParen) => (command, redirect) = (false, false),
            TokKind::Op(_) | TokKind::Newline | TokKind::Eof => (command, redirect) = (true, false),
        }
    }
    Ok(last.unwrap_or(CursorWord {
        start: cursor,
        word: Word {
            parts: Vec::new(),
            span: Span::new(cursor, cursor),
        },
        command,
        redirect,
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
            ("cat 'my fi", "4 \"my fi\""),
            ("cat \"my fi", "4 \"my fi\""),
            ("cat $'a\\tb", "4 \"a\\tb\""),
            ("cat ab\\", "4 \"ab\""),
            ("cat ~/x", "4 \"/home/u/x\""),
            ("cat \"$HOME/", "4 \"/home/u/\""),
            ("cat \"${HOME", "4 \"/home/u\""),
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
            ("echo $(", "5 \"\""),
            ("ls # comment", "12 \"\""),
        ];
        for (head, want) in table {
            assert_eq!(&show(head), want, "head: {head:?}");
        }
    }
}
