//! Aliases, as sh does them: a command name that is an alias is replaced by the alias value's
//! tokens, so a value can hold options, redirects, even `|` and `;` (`alias l='ls | wc'`). An
//! alias is not expanded again inside its own value (`alias ls='ls -F'` works, `a`→`b`→`a`
//! stops), and a value ending in a blank makes the next word a candidate too (`alias s='sudo '`).
//! The parser does the substituting (`parse_with_aliases`); this file has the table's interface
//! and the lexing of values.

use std::collections::{BTreeMap, HashMap};

use super::ast::{Part, Span, Word};
use super::error::{ErrorKind, SyntaxError};
use super::lex::{Lexer, TokKind, Token};

/// The alias table, as the parser sees it.
pub trait Aliases {
    /// The value of alias `name`, if there is one.
    fn alias(&self, name: &[u8]) -> Option<Vec<u8>>;
}

/// No aliases at all (plain `parse`).
pub struct NoAliases;

impl Aliases for NoAliases {
    fn alias(&self, _name: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

impl Aliases for HashMap<Vec<u8>, Vec<u8>> {
    fn alias(&self, name: &[u8]) -> Option<Vec<u8>> {
        self.get(name).cloned()
    }
}

impl Aliases for BTreeMap<Vec<u8>, Vec<u8>> {
    fn alias(&self, name: &[u8]) -> Option<Vec<u8>> {
        self.get(name).cloned()
    }
}

/// Whether `alias NAME=...` may define `name`: not empty, and nothing the lexer would split or
/// expand (bash refuses `/`, `$`, `` ` ``, `=`, quotes and metacharacters).
pub fn is_valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && !name
            .iter()
            .any(|b| b.is_ascii_whitespace() || b"/$`='\"\\|&;<>()".contains(b))
}

/// The tokens of alias `name`'s value, standing where the alias word `at` was: every span is
/// that word's, and each token remembers the aliases it came through.
pub(super) fn value_tokens(
    name: &[u8],
    value: &[u8],
    at: &Token,
) -> Result<Vec<Token>, SyntaxError> {
    let mut origin = at.aliases.clone();
    origin.push(name.to_vec());
    let mut lexer = Lexer::new(value);
    let mut tokens = Vec::new();
    loop {
        let mut tok = lexer.next_token().map_err(|e| SyntaxError {
            pos: at.span.start,
            kind: ErrorKind::InAlias {
                name: String::from_utf8_lossy(name).into_owned(),
                inner: Box::new(e.kind),
            },
        })?;
        if tok.kind == TokKind::Eof {
            break;
        }
        tok.span = at.span;
        if let TokKind::Word(w) = &mut tok.kind {
            respan(w, at.span);
        }
        tok.aliases = origin.clone();
        tokens.push(tok);
    }
    if let Some(last) = tokens.last_mut() {
        last.blank_after = value.last().is_some_and(|b| *b == b' ' || *b == b'\t');
    }
    Ok(tokens)
}

fn respan(w: &mut Word, span: Span) {
    w.span = span;
    for Part { span: s, .. } in &mut w.parts {
        *s = span;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse::parse_with_aliases;

    fn table() -> BTreeMap<Vec<u8>, Vec<u8>> {
        [
            ("ll", "ls -l"),
            ("ls", "ls -F"),
            ("a", "b"),
            ("b", "a"),
            ("count", "ls | wc -l"),
            ("s", "sudo "),
            ("e", ""),
            ("two", "cd /; pwd"),
            ("quiet", "2>/dev/null"),
            ("broken", "echo 'x"),
            ("sub", "echo $(id)"),
            ("neg", "! ls"),
        ]
        .into_iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
    }

    fn show(line: &str) -> String {
        match parse_with_aliases(line.as_bytes(), &table()) {
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

    #[test]
    fn substitution() {
        let table: &[(&str, &str)] = &[
            // The value's first word is looked up again, but never the alias being expanded.
            ("ll /x", "[ls -F -l /x]"),
            ("ls", "[ls -F]"),
            ("a", "[a]"),
            ("b x", "[b x]"),
            // Only command names, only unquoted.
            ("echo ll", "[echo ll]"),
            ("'ll'", "['ll']"),
            ("\\ll", "['l'l]"),
            ("ll\"\"", "[ll'']"),
            ("A=1 ll", "[A=1 ls -F -l]"),
            ("x; ll", "[x]; [ls -F -l]"),
            (
                "true && ll | ll",
                "(and [true] (pipe [ls -F -l] [ls -F -l]))",
            ),
            // Values are tokens: operators in them take effect.
            ("count x", "(pipe [ls -F] [wc -l x])"),
            ("two x", "[cd /]; [pwd x]"),
            ("quiet ls", "[ls -F 2>/dev/null]"),
            // A value ending in a blank makes the next word a candidate.
            ("s ll", "[sudo ls -F -l]"),
            ("s s ll", "[sudo sudo ls -F -l]"),
            ("e ls", "[ls -F]"),
            ("e", "[]"),
            // A value can supply the `!` too.
            ("neg", "(not [ls -F])"),
            // Errors inside a value point at the alias and never ask for more lines.
            (
                "x; broken",
                "3: alias 'broken': unexpected EOF while looking for matching '''",
            ),
            (
                "sub",
                "0: alias 'sub': command substitution '$(...)' is not supported",
            ),
        ];
        for (line, want) in table {
            assert_eq!(&show(line), want, "line: {line:?}");
        }
    }

    #[test]
    fn spans_point_at_the_alias_name() {
        let list = parse_with_aliases(b"echo; ll /x", &table()).unwrap();
        let cmd = &list.items[1].first.commands[0];
        let spans: Vec<_> = cmd
            .words
            .iter()
            .map(|w| (w.span.start, w.span.end))
            .collect();
        assert_eq!(spans, [(6, 8), (6, 8), (6, 8), (9, 11)]);
    }

    #[test]
    fn names() {
        assert!(is_valid_name(b"ll"));
        assert!(is_valid_name(b"l.x-1"));
        assert!(!is_valid_name(b""));
        assert!(!is_valid_name(b"a/b"));
        assert!(!is_valid_name(b"a=b"));
        assert!(!is_valid_name(b"$x"));
        assert!(!is_valid_name(b"a b"));
    }
}
