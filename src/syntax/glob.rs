//! Glob patterns for one path component, as fnmatch(3) without flags: `*`, `?`, `[...]` with
//! `!`/`^`, ranges and `[:class:]`. Names are bytes; valid UTF-8 characters count as one
//! character each (`?` matches `é`), and a byte that is not UTF-8 counts as one character of its
//! own, so any name can be matched. Quoted characters are always literal: the pattern is built
//! from bytes plus a mask of which ones were quoted.

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    toks: Vec<Tok>,
}

/// A character: a Unicode scalar value, or `RAW + byte` for a byte that is not valid UTF-8.
type Unit = u32;
const RAW: Unit = 0x11_0000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(Unit),
    /// `?`
    Any,
    /// `*`
    Star,
    /// `[...]`
    Class {
        negated: bool,
        items: Vec<Item>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    One(Unit),
    Range(Unit, Unit),
    Named(Named),
    /// An unknown `[:name:]`: matches nothing, as in glibc.
    Nothing,
}

/// Splits bytes into characters, each with the offset of its first byte.
fn units(bytes: &[u8]) -> Vec<(Unit, usize)> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            out.push((c as Unit, at));
            at += c.len_utf8();
        }
        for &b in chunk.invalid() {
            out.push((RAW + b as Unit, at));
            at += 1;
        }
    }
    out
}

/// `[:name:]` classes; characters only, never a byte that is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    Alpha,
    Digit,
    Alnum,
    Upper,
    Lower,
    Space,
    Blank,
    Punct,
    Cntrl,
    Print,
    Graph,
    Xdigit,
}

impl Named {
    fn from_name(name: &[u8]) -> Option<Named> {
        use Named::*;
        Some(match name {
            b"alpha" => Alpha,
            b"digit" => Digit,
            b"alnum" => Alnum,
            b"upper" => Upper,
            b"lower" => Lower,
            b"space" => Space,
            b"blank" => Blank,
            b"punct" => Punct,
            b"cntrl" => Cntrl,
            b"print" => Print,
            b"graph" => Graph,
            b"xdigit" => Xdigit,
            _ => return None,
        })
    }

    fn contains(self, c: char) -> bool {
        use Named::*;
        match self {
            Alpha => c.is_alphabetic(),
            Digit => c.is_ascii_digit(),
            Alnum => c.is_alphanumeric(),
            Upper => c.is_uppercase(),
            Lower => c.is_lowercase(),
            Space => c.is_whitespace(),
            Blank => c == ' ' || c == '\t',
            Punct => c.is_ascii_punctuation(),
            Cntrl => c.is_control(),
            Print => !c.is_control(),
            Graph => !c.is_control() && !c.is_whitespace(),
            Xdigit => c.is_ascii_hexdigit(),
        }
    }
}

impl Pattern {
    /// Compiles `bytes`, where `quoted[i]` says byte `i` was quoted (literal). A `[` with no
    /// closing `]` is literal, as in sh.
    pub fn new(bytes: &[u8], quoted: &[bool]) -> Pattern {
        let us = units(bytes);
        let q = |i: usize| {
            us.get(i)
                .is_some_and(|&(_, at)| quoted.get(at) == Some(&true))
        };
        let is = |i: usize, c: char| us.get(i).is_some_and(|&(u, _)| u == c as Unit) && !q(i);
        let mut toks = Vec::new();
        let mut i = 0;
        while let Some(&(u, _)) = us.get(i) {
            i += 1;
            if q(i - 1) {
                toks.push(Tok::Lit(u));
            } else if u == '*' as Unit {
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
            } else if u == '?' as Unit {
                toks.push(Tok::Any);
            } else if u == '[' as Unit {
                match class(&us, i, &is) {
                    Some((tok, next)) => {
                        toks.push(tok);
                        i = next;
                    }
                    None => toks.push(Tok::Lit(u)),
                }
            } else {
                toks.push(Tok::Lit(u));
            }
        }
        Pattern { toks }
    }

    /// Compiles a pattern written fnmatch-style, where `\c` makes `c` literal.
    pub fn from_escaped(pattern: &[u8]) -> Pattern {
        let (mut bytes, mut quoted) = (Vec::new(), Vec::new());
        let mut it = pattern.iter().copied();
        while let Some(b) = it.next() {
            match (b, b == b'\\') {
                (_, true) => {
                    bytes.push(it.next().unwrap_or(b'\\'));
                    quoted.push(true);
                }
                (b, false) => {
                    bytes.push(b);
                    quoted.push(false);
                }
            }
        }
        Pattern::new(&bytes, &quoted)
    }

    /// Whether anything in it is a wildcard; a pattern without one only matches itself, so the
    /// word needs no directory listing.
    pub fn has_magic(&self) -> bool {
        self.toks.iter().any(|t| !matches!(t, Tok::Lit(_)))
    }

    /// Whether it starts with a literal `.`: only such patterns match hidden names.
    pub fn starts_with_dot(&self) -> bool {
        self.toks.first() == Some(&Tok::Lit('.' as Unit))
    }

    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &[u8]) -> bool {
        let name: Vec<Unit> = units(name).into_iter().map(|(u, _)| u).collect();
        let (mut p, mut s) = (0, 0);
        // Where to resume after the last `*`: the token after it, and the name position it
        // has swallowed up to.
        let mut star: Option<(usize, usize)> = None;
        while s < name.len() {
            match self.toks.get(p) {
                Some(Tok::Star) => {
                    star = Some((p + 1, s));
                    p += 1;
                    continue;
                }
                Some(t) if t.matches_one(name[s]) => {
                    p += 1;
                    s += 1;
                    continue;
                }
                _ => {}
            }
            match star {
                Some((after, upto)) => {
                    p = after;
                    s = upto + 1;
                    star = Some((after, upto + 1));
                }
                None => return false,
            }
        }
        self.toks[p..].iter().all(|t| *t == Tok::Star)
    }
}

impl Tok {
    fn matches_one(&self, u: Unit) -> bool {
        match self {
            Tok::Lit(l) => *l == u,
            Tok::Any => true,
            Tok::Star => false,
            Tok::Class { negated, items } => {
                let hit = items.iter().any(|item| match item {
                    Item::One(c) => *c == u,
                    Item::Range(lo, hi) => (*lo..=*hi).contains(&u),
                    Item::Named(n) => char::from_u32(u).is_some_and(|c| n.contains(c)),
                    Item::Nothing => false,
                });
                hit != *negated
            }
        }
    }
}

/// The bracket expression whose body starts at `i` (just after `[`): the token and the index
/// after its `]`, or `None` if it never closes.
fn class(
    us: &[(Unit, usize)],
    mut i: usize,
    is: &dyn Fn(usize, char) -> bool,
) -> Option<(Tok, usize)> {
    let negated = is(i, '!') || is(i, '^');
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        let &(u, _) = us.get(i)?;
        if is(i, ']') && !first {
            return Some((Tok::Class { negated, items }, i + 1));
        }
        first = false;
        if is(i, '[') && is(i + 1, ':') {
            let close = (i + 2..us.len()).find(|&j| is(j, ':') && is(j + 1, ']'));
            if let Some(close) = close {
                let name: Vec<u8> = us[i + 2..close]
                    .iter()
                    .filter_map(|&(u, _)| u8::try_from(u).ok())
                    .collect();
                items.push(Named::from_name(&name).map_or(Item::Nothing, Item::Named));
                i = close + 2;
                continue;
            }
        }
        if is(i + 1, '-') && !is(i + 2, ']') {
            if let Some(&(hi, _)) = us.get(i + 2) {
                items.push(Item::Range(u, hi));
                i += 3;
                continue;
            }
        }
        items.push(Item::One(u));
        i += 1;
    }
}

/// fnmatch(3) on bytes, `\` escaping: for callers with a pattern string.
pub fn fnmatch(pattern: &[u8], name: &[u8]) -> bool {
    Pattern::from_escaped(pattern).matches(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        // (pattern, name, matches)
        let table: &[(&[u8], &[u8], bool)] = &[
            (b"*", b"abc", true),
            (b"*", b"", true),
            (b"a*", b"abc", true),
            (b"a*", b"bac", false),
            (b"*c", b"abc", true),
            (b"a*b*c", b"aXbYc", true),
            (b"a*b*c", b"aXbY", false),
            (b"*.conf", b"nginx.conf", true),
            (b"*.conf", b"nginx.conf.bak", false),
            (b"**", b"abc", true),
            (b"?", b"a", true),
            (b"?", b"", false),
            (b"?", b"ab", false),
            (b"a?c", b"abc", true),
            // One character, however many bytes.
            (b"caf?", "café".as_bytes(), true),
            (b"caf??", "café".as_bytes(), false),
            (b"?", b"\xff", true),
            (b"a?b", b"a\xffb", true),
            (b"[abc]", b"b", true),
            (b"[abc]", b"d", false),
            (b"[a-c]x", b"bx", true),
            (b"[a-c]x", b"dx", false),
            (b"[!a-c]", b"d", true),
            (b"[!a-c]", b"a", false),
            (b"[^a-c]", b"d", true),
            (b"[]]", b"]", true),
            (b"[!]]", b"]", false),
            (b"[!]]", b"a", true),
            (b"[a-]", b"-", true),
            (b"[-a]", b"-", true),
            (b"[[:digit:]]*", b"1x", true),
            (b"[[:digit:]]*", b"x1", false),
            (b"[[:alpha:]]", "é".as_bytes(), true),
            (b"[[:upper:][:digit:]]", b"Q", true),
            (b"[[:upper:][:digit:]]", b"q", false),
            (b"[[:nonsense:]]", b"a", false),
            (b"[\x80-\xff]", b"\xfe", true),
            (b"[\x80-\xff]", b"a", false),
            // An unclosed `[` is literal.
            (b"[ab", b"[ab", true),
            (b"[ab", b"a", false),
            (b"a[", b"a[", true),
            // Escapes make wildcards literal.
            (b"\\*", b"*", true),
            (b"\\*", b"a", false),
            (b"\\?", b"?", true),
            (b"\\[a]", b"[a]", true),
            (b"\\[a]", b"a", false),
            (b"[\\]]", b"]", true),
            (b"a\\", b"a\\", true),
            (b"-rf", b"-rf", true),
            (b"*\n*", b"new\nline", true),
        ];
        for &(pat, name, want) in table {
            assert_eq!(
                fnmatch(pat, name),
                want,
                "{:?} on {:?}",
                String::from_utf8_lossy(pat),
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn quoted_parts_are_literal() {
        // `'*'.c`: the star was quoted.
        let p = Pattern::new(b"*.c", &[true, false, false]);
        assert!(!p.has_magic());
        assert!(p.matches(b"*.c"));
        assert!(!p.matches(b"a.c"));
        // `[a"-"c]`: a quoted `-` is a member, not a range.
        let p = Pattern::new(b"[a-c]", &[false, false, true, false, false]);
        assert!(p.matches(b"-"));
        assert!(!p.matches(b"b"));
        // A quoted `]` does not close the class.
        let p = Pattern::new(b"[]]x]", &[false, false, false, false, false]);
        assert!(p.matches(b"]x]"));
        let p = Pattern::new(b"[a]", &[false, false, true]);
        assert!(!p.has_magic());
        assert!(p.matches(b"[a]"));
        assert!(!p.matches(b"a"));
    }

    #[test]
    fn magic_and_dots() {
        assert!(!Pattern::from_escaped(b"plain").has_magic());
        assert!(!Pattern::from_escaped(b"[x").has_magic());
        assert!(Pattern::from_escaped(b"[x]").has_magic());
        assert!(Pattern::from_escaped(b".*").starts_with_dot());
        assert!(Pattern::from_escaped(b"\\.*").starts_with_dot());
        assert!(!Pattern::from_escaped(b"*").starts_with_dot());
        assert!(!Pattern::from_escaped(b"[.]x").starts_with_dot());
    }
}
