//! Brace expansion, bash's first expansion: `a{b,c}d` is two words, `{1..3}`, `{01..10}`,
//! `{a..e..2}` are sequences. Only unquoted braces count; `{}`, `{a}` and `{a..}` stay as typed.
//! It works on the parsed word, so a quoted or expanded piece is carried along whole.

use super::ast::{Part, PartKind, Span, Word};

/// The most words one word may become: more is kept as typed rather than exhausting memory.
const MAX_WORDS: usize = 100_000;

#[derive(Clone)]
enum Unit {
    Byte(u8, Span),
    Part(Part),
}

/// The words `word` brace-expands to (itself when it has no brace expression).
pub fn expand(word: &Word) -> Vec<Word> {
    let has_brace = word
        .parts
        .iter()
        .any(|p| matches!(&p.kind, PartKind::Bare(b) if b.contains(&b'{')));
    if !has_brace {
        return vec![word.clone()];
    }
    let mut out = Vec::new();
    expand_units(units(word), word.span, &mut out);
    if out.len() > MAX_WORDS {
        return vec![word.clone()];
    }
    // Brace expansion comes first: `{a,~}/x` gives `~/x`, whose tilde then expands.
    for w in &mut out {
        super::lex::tilde_prefix(&mut w.parts);
    }
    out
}

fn units(word: &Word) -> Vec<Unit> {
    let mut out = Vec::new();
    for p in &word.parts {
        match &p.kind {
            PartKind::Bare(b) => out.extend(b.iter().enumerate().map(|(i, &c)| {
                let at = (p.span.start + i).min(p.span.end);
                Unit::Byte(c, Span::new(at, (at + 1).min(p.span.end)))
            })),
            _ => out.push(Unit::Part(p.clone())),
        }
    }
    out
}

fn word_of(units: &[Unit], span: Span) -> Word {
    let mut parts: Vec<Part> = Vec::new();
    for u in units {
        match u {
            Unit::Byte(b, s) => match parts.last_mut() {
                Some(Part {
                    kind: PartKind::Bare(bytes),
                    span,
                }) => {
                    bytes.push(*b);
                    *span = span.to(*s);
                }
                _ => parts.push(Part {
                    kind: PartKind::Bare(vec![*b]),
                    span: *s,
                }),
            },
            Unit::Part(p) => parts.push(p.clone()),
        }
    }
    Word { parts, span }
}

fn is(u: &Unit, c: u8) -> bool {
    matches!(u, Unit::Byte(b, _) if *b == c)
}

fn expand_units(us: Vec<Unit>, span: Span, out: &mut Vec<Word>) {
    if out.len() > MAX_WORDS {
        return;
    }
    for i in 0..us.len() {
        if !is(&us[i], b'{') {
            continue;
        }
        let mut depth = 0;
        let mut commas = Vec::new();
        let mut close = None;
        for (j, u) in us.iter().enumerate().skip(i + 1) {
            if is(u, b'{') {
                depth += 1;
            } else if is(u, b'}') {
                if depth == 0 {
                    close = Some(j);
                    break;
                }
                depth -= 1;
            } else if is(u, b',') && depth == 0 {
                commas.push(j);
            }
        }
        let Some(j) = close else {
            continue;
        };
        let (pre, post) = (&us[..i], &us[j + 1..]);
        let alternatives: Vec<Vec<Unit>> = if commas.is_empty() {
            let inner: Option<Vec<u8>> = us[i + 1..j]
                .iter()
                .map(|u| match u {
                    Unit::Byte(b, _) => Some(*b),
                    Unit::Part(_) => None,
                })
                .collect();
            match inner.and_then(|t| sequence(&t)) {
                Some(items) => {
                    let at = match &us[i] {
                        Unit::Byte(_, s) => *s,
                        Unit::Part(p) => p.span,
                    };
                    items
                        .into_iter()
                        .map(|t| t.into_iter().map(|b| Unit::Byte(b, at)).collect())
                        .collect()
                }
                None => continue,
            }
        } else {
            let mut bounds = vec![i];
            bounds.extend(&commas);
            bounds.push(j);
            bounds
                .windows(2)
                .map(|w| us[w[0] + 1..w[1]].to_vec())
                .collect()
        };
        for alt in alternatives {
            let mut next = pre.to_vec();
            next.extend(alt);
            next.extend_from_slice(post);
            expand_units(next, span, out);
        }
        return;
    }
    out.push(word_of(&us, span));
}

/// The items of `X..Y[..STEP]`: integers (zero-padded when either end is) or single letters.
fn sequence(s: &[u8]) -> Option<Vec<Vec<u8>>> {
    let text = std::str::from_utf8(s).ok()?;
    let fields: Vec<&str> = text.split("..").collect();
    let (a, b, step) = match fields.as_slice() {
        [a, b] => (*a, *b, None),
        [a, b, c] => (*a, *b, Some(c.parse::<i64>().ok()?)),
        _ => return None,
    };
    let step = step.map(i64::abs).filter(|s| *s != 0).unwrap_or(1);
    if let (Ok(x), Ok(y)) = (a.parse::<i64>(), b.parse::<i64>()) {
        let padded = |t: &str| {
            t.trim_start_matches('-').len() > 1 && t.trim_start_matches('-').starts_with('0')
        };
        let width = if padded(a) || padded(b) {
            a.len().max(b.len())
        } else {
            0
        };
        let mut out = Vec::new();
        let mut v = x;
        loop {
            if (x <= y && v > y) || (x > y && v < y) || out.len() > MAX_WORDS {
                break;
            }
            let t = if v < 0 {
                format!("-{:0w$}", -v, w = width.saturating_sub(1))
            } else {
                format!("{v:0width$}")
            };
            out.push(t.into_bytes());
            v = if x <= y { v + step } else { v - step };
        }
        return Some(out);
    }
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    if ab.len() == 1 && bb.len() == 1 && ab[0].is_ascii_alphabetic() && bb[0].is_ascii_alphabetic()
    {
        let (x, y) = (i64::from(ab[0]), i64::from(bb[0]));
        let mut out = Vec::new();
        let mut v = x;
        while (x <= y && v <= y) || (x > y && v >= y) {
            out.push(vec![v as u8]);
            v = if x <= y { v + step } else { v - step };
        }
        return Some(out);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse::parse;

    #[test]
    fn table() {
        let rows: &[(&str, &str)] = &[
            ("a{b,c}d", "abd acd"),
            ("{a,b}{1,2}", "a1 a2 b1 b2"),
            ("x{1..3}", "x1 x2 x3"),
            ("{3..1}", "3 2 1"),
            ("{01..03}", "01 02 03"),
            ("{1..10..4}", "1 5 9"),
            ("{a..e..2}", "a c e"),
            ("{a,{b,c}}", "a b c"),
            ("{}", "{}"),
            ("{a}", "{a}"),
            ("{a..}", "{a..}"),
            ("'{a,b}'", "'{a,b}'"),
            ("{a,'b c'}", "a 'b c'"),
            (
                "/containers/{web,db}/x",
                "/containers/web/x /containers/db/x",
            ),
            ("{,a}", " a"),
        ];
        for (typed, want) in rows {
            let list = parse(typed.as_bytes()).unwrap();
            let w = &list.items[0].first.commands[0].words[0];
            let got: Vec<String> = expand(w).iter().map(|w| w.to_string()).collect();
            assert_eq!(got.join(" "), *want, "{typed}");
        }
    }
}
