//! The literal every match of a pattern must contain, so a search can skip to the lines
//! holding it with `memmem` and run the regex engine on those lines only.
//!
//! Conservative by construction: a run of plain bytes counts only outside groups, brackets
//! and intervals, a byte followed by a quantifier is dropped, and a pattern with an
//! alternation anywhere has none. Missing a literal only costs speed; claiming one a match
//! can lack would lose lines, so anything unclear ends the run.

use crate::grep::Mode;

/// The longest literal that every match of `p` (a basic or extended regular expression, as
/// GNU grep reads them) contains, if one is found.
pub fn required(p: &[u8], mode: Mode) -> Option<Vec<u8>> {
    let ere = mode == Mode::Extended;
    let mut best: Vec<u8> = Vec::new();
    let mut run: Vec<u8> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let end_run = |run: &mut Vec<u8>, best: &mut Vec<u8>| {
        if run.len() > best.len() {
            *best = std::mem::take(run);
        }
        run.clear();
    };
    while i < p.len() {
        let b = p[i];
        // What this position is: a literal byte, a quantifier, or something else.
        let (lit, quant, len): (Option<u8>, bool, usize) = match b {
            b'\\' => {
                let Some(&c) = p.get(i + 1) else {
                    return None; // a trailing backslash is an error anyway
                };
                match c {
                    b'|' if !ere => return None,
                    b'(' if !ere => {
                        depth += 1;
                        (None, false, 2)
                    }
                    b')' if !ere => {
                        depth = depth.saturating_sub(1);
                        (None, false, 2)
                    }
                    b'{' if !ere => (None, true, skip_interval(p, i + 2, true)? - i),
                    b'+' | b'?' if !ere => (None, true, 2),
                    b'.' | b'[' | b']' | b'*' | b'^' | b'$' | b'\\' => (Some(c), false, 2),
                    b'+' | b'?' | b'{' | b'}' | b'(' | b')' | b'|' if ere => (Some(c), false, 2),
                    // \w \s \< \b \1 ...: a class, an anchor or a back-reference.
                    _ => (None, false, 2),
                }
            }
            b'|' if ere => return None,
            b'(' if ere => {
                depth += 1;
                (None, false, 1)
            }
            b')' if ere => {
                depth = depth.saturating_sub(1);
                (None, false, 1)
            }
            b'{' if ere => (None, true, skip_interval(p, i + 1, false)? - i),
            b'*' => (None, true, 1),
            b'+' | b'?' if ere => (None, true, 1),
            b'[' => (None, false, skip_bracket(p, i)? - i),
            b'.' | b'^' | b'$' => (None, false, 1),
            // A newline separates patterns; the caller splits on it first.
            b'\n' => return None,
            _ => (Some(b), false, 1),
        };
        if quant {
            // The byte before is optional (or repeated): what came before it still counts.
            run.pop();
            end_run(&mut run, &mut best);
        } else if let (Some(c), 0) = (lit, depth) {
            // A quantifier right after applies to this byte alone: decided on the next turn.
            run.push(c);
        } else {
            end_run(&mut run, &mut best);
        }
        i += len;
    }
    end_run(&mut run, &mut best);
    (!best.is_empty()).then_some(best)
}

/// The index just past an interval's closing brace (`}` or, in a basic expression, `\}`),
/// from `at` just past its opening one.
fn skip_interval(p: &[u8], at: usize, basic: bool) -> Option<usize> {
    let mut i = at;
    while i < p.len() {
        match (p[i], basic) {
            (b'\\', true) if p.get(i + 1) == Some(&b'}') => return Some(i + 2),
            (b'}', false) => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The index just past a bracket expression starting at `at` (its `[`): a `]` first (after
/// an optional `^`) is a member, and `[:`, `[.`, `[=` run to their own closing pair.
fn skip_bracket(p: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    if p.get(i) == Some(&b'^') {
        i += 1;
    }
    if p.get(i) == Some(&b']') {
        i += 1;
    }
    while i < p.len() {
        match p[i] {
            b']' => return Some(i + 1),
            b'[' if matches!(p.get(i + 1), Some(b':' | b'.' | b'=')) => {
                let close = p[i + 1];
                let mut j = i + 2;
                loop {
                    if j + 1 >= p.len() {
                        return None;
                    }
                    if p[j] == close && p[j + 1] == b']' {
                        break;
                    }
                    j += 1;
                }
                i = j + 2;
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bre(p: &str) -> Option<String> {
        required(p.as_bytes(), Mode::Basic).map(|v| String::from_utf8(v).unwrap())
    }
    fn ere(p: &str) -> Option<String> {
        required(p.as_bytes(), Mode::Extended).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn runs_outside_groups_and_quantifiers() {
        assert_eq!(bre("foo.*barbaz"), Some("barbaz".into()));
        assert_eq!(bre("abc*d"), Some("ab".into()));
        assert_eq!(bre(r"ab\+c"), Some("a".into()));
        assert_eq!(ere("ab+c"), Some("a".into()));
        assert_eq!(bre("ab+c"), Some("ab+c".into()));
        assert_eq!(bre(r"x\{2,3\}yz"), Some("yz".into()));
        assert_eq!(ere("x{2,3}yz"), Some("yz".into()));
        assert_eq!(bre(r"a\.b"), Some("a.b".into()));
        assert_eq!(ere(r"a\(b"), Some("a(b".into()));
        assert_eq!(bre(r"\(ab\)\1zz"), Some("zz".into()));
        assert_eq!(ere("ERR(OR|X)+ (one|two)"), None);
        assert_eq!(bre(r"a\|b"), None);
        assert_eq!(bre("^ERROR [0-9]+$"), Some("ERROR ".into()));
        assert_eq!(bre("[[:space:]]x$"), Some("x".into()));
        assert_eq!(bre("[]ab]cd"), Some("cd".into()));
        assert_eq!(bre("[^]a]zz"), Some("zz".into()));
        assert_eq!(bre(r"\<word\>"), Some("word".into()));
        assert_eq!(bre(r"\wabc"), Some("abc".into()));
        assert_eq!(bre("[a"), None);
        assert_eq!(bre("."), None);
        assert_eq!(bre("*ab"), Some("ab".into()));
        assert_eq!(ere("(abc)def"), Some("def".into()));
        assert_eq!(ere("a{,"), None);
    }
}
