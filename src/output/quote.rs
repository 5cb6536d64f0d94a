//! Names in messages, quoted the way GNU coreutils quotes them (C locale, with UTF-8 shown
//! as itself): safe on a terminal whatever bytes a container's file names hold.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// A piece of a name for quoting: a printable character, or the escape for bytes that are
/// not (`\n`, `\303`).
enum Piece {
    Char(char),
    Escape(String),
}

/// Splits a name into printable characters and escapes. Valid UTF-8 prints as itself (as
/// GNU in a UTF-8 locale); control characters and invalid bytes are escaped.
fn pieces(name: &OsStr) -> Vec<Piece> {
    let mut out = Vec::new();
    let octal = |out: &mut Vec<Piece>, bytes: &[u8]| {
        for b in bytes {
            out.push(Piece::Escape(format!("\\{b:03o}")));
        }
    };
    for chunk in name.as_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            let named = match c {
                '\x07' => Some("\\a"),
                '\x08' => Some("\\b"),
                '\x0c' => Some("\\f"),
                '\n' => Some("\\n"),
                '\r' => Some("\\r"),
                '\t' => Some("\\t"),
                '\x0b' => Some("\\v"),
                _ => None,
            };
            match named {
                Some(n) => out.push(Piece::Escape(n.to_string())),
                None if c.is_control() => {
                    let mut buf = [0u8; 4];
                    octal(&mut out, c.encode_utf8(&mut buf).as_bytes());
                }
                None => out.push(Piece::Char(c)),
            }
        }
        octal(&mut out, chunk.invalid());
    }
    out
}

/// A name quoted for a message exactly as GNU's `quoteaf` (shell-escape-always style, UTF-8
/// locale): `'a b'`; `"it's"` when that needs nothing else; `'it'\''s$'` otherwise; control
/// characters and invalid bytes as `$'\n'`, `$'\377'`, so no name can drive the terminal.
pub fn quote(name: &OsStr) -> String {
    enum Unit {
        Char(char),
        Byte(u8),
    }
    let mut units = Vec::new();
    for chunk in name.as_bytes().utf8_chunks() {
        units.extend(chunk.valid().chars().map(Unit::Char));
        units.extend(chunk.invalid().iter().map(|&b| Unit::Byte(b)));
    }
    let escaped = |u: &Unit| !matches!(u, Unit::Char(c) if !c.is_control());
    let has_quote = units.iter().any(|u| matches!(u, Unit::Char('\'')));
    // Double quotes when nothing is special inside them either (gnulib's "c and shell compatible").
    let compatible = |(i, u): (usize, &Unit)| match u {
        Unit::Char(c) if c.is_ascii_alphanumeric() || " %+,-./:]_@'".contains(*c) => true,
        Unit::Char('#' | '~') => i == 0,
        Unit::Char(c) => !c.is_ascii() && !c.is_control(),
        Unit::Byte(_) => false,
    };
    if has_quote && units.iter().enumerate().all(compatible) {
        return format!("\"{}\"", name.to_string_lossy());
    }
    let mut out = String::from("'");
    // gnulib scans a name with a quote twice and keeps the first pass's "in $'...'" state, so
    // such a name ending in an escape starts with an extra `''`. Reproduced for identical text.
    let mut in_escape = has_quote && units.last().is_some_and(escaped);
    for u in &units {
        match u {
            Unit::Char('\'') => {
                out.push_str("'\\''");
                in_escape = false;
            }
            Unit::Char(c) if !c.is_control() => {
                if in_escape {
                    out.push_str("''");
                    in_escape = false;
                }
                out.push(*c);
            }
            _ => {
                if !in_escape {
                    out.push_str("'$'");
                    in_escape = true;
                }
                match u {
                    Unit::Char(c) => push_escape(&mut out, *c),
                    Unit::Byte(b) => out.push_str(&format!("\\{b:03o}")),
                }
            }
        }
    }
    out.push('\'');
    out
}

/// GNU's `quote` in the C locale: `'a\'b'`, `'n\nl'`. Used by the few messages GNU quotes
/// this way (mkdir's "cannot create directory", invalid modes and dates).
pub fn quote_c(name: &OsStr) -> String {
    let mut s = String::from("'");
    for p in pieces(name) {
        match p {
            Piece::Char('\'') => s.push_str("\\'"),
            Piece::Char('\\') => s.push_str("\\\\"),
            Piece::Char(c) => s.push(c),
            Piece::Escape(e) => s.push_str(&e),
        }
    }
    s.push('\'');
    s
}

/// GNU's `quotef`: the name as is when a shell would take it so, else as [`quote`].
pub fn quote_if_needed(name: &OsStr) -> String {
    let safe = |(i, c): (usize, char)| {
        c.is_alphanumeric() || "%+,-./:]_@".contains(c) || (i > 0 && (c == '#' || c == '~'))
    };
    let s = name.to_str();
    match s {
        Some(s) if !s.is_empty() && s.chars().enumerate().all(safe) => s.to_string(),
        _ => quote(name),
    }
}

/// A control character as C writes it: `\n`, else octal bytes (`\033`).
fn push_escape(out: &mut String, c: char) {
    let named = match c {
        '\x07' => 'a',
        '\x08' => 'b',
        '\x0c' => 'f',
        '\n' => 'n',
        '\r' => 'r',
        '\t' => 't',
        '\x0b' => 'v',
        _ => {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\{b:03o}"));
            }
            return;
        }
    };
    out.push('\\');
    out.push(named);
}
