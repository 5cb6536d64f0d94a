//! The way back from bytes to a word: [`quote`] writes a name so that the parser reads it as
//! exactly those bytes, one word, nothing expanded. Completion inserts names with it, so a
//! container file called `$(reboot)`, `-rf`, `a b` or `new⏎line` is typed safely.

use super::lex::is_name;

/// `bytes` as one shell word: plain text stays plain, characters the lexer would act on get a
/// backslash, and control or non-UTF-8 bytes become `$'\xNN'` (a backslash before a newline
/// would be a line continuation).
pub fn quote(bytes: &[u8]) -> Vec<u8> {
    if bytes.is_empty() {
        return b"''".to_vec();
    }
    // `A=b` typed bare at a command's start would be an assignment.
    let assignment_eq = bytes
        .iter()
        .position(|&b| b == b'=')
        .filter(|&i| is_name(&bytes[..i]));
    let mut out = Vec::with_capacity(bytes.len() + 8);
    let mut at = 0;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            let mut buf = [0; 4];
            let encoded = c.encode_utf8(&mut buf).as_bytes();
            if c.is_control() {
                for b in encoded {
                    out.extend_from_slice(format!("$'\\x{b:02x}'").as_bytes());
                }
            } else {
                let special = c.is_whitespace()
                    || "\\'\"`$;&|<>()*?[]#~!{}".contains(c)
                    || assignment_eq == Some(at);
                if special {
                    out.push(b'\\');
                }
                out.extend_from_slice(encoded);
            }
            at += encoded.len();
        }
        for b in chunk.invalid() {
            out.extend_from_slice(format!("$'\\x{b:02x}'").as_bytes());
            at += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::expand::tests::{TestEnv, Tree};
    use crate::syntax::{expand_words, parse};

    #[test]
    fn table() {
        let table: &[(&[u8], &str)] = &[
            (b"plain.txt", "plain.txt"),
            (b"", "''"),
            (b"a b", "a\\ b"),
            (b"-rf", "-rf"),
            (b"$(touch x)", "\\$\\(touch\\ x\\)"),
            (b"new\nline", "new$'\\x0a'line"),
            (b"bad\xffbyte", "bad$'\\xff'byte"),
            ("café".as_bytes(), "café"),
            (b"~x", "\\~x"),
            (b"#x", "\\#x"),
            (b"A=b", "A\\=b"),
            (b"--opt=b", "--opt=b"),
            (b"{a,b}", "\\{a,b\\}"),
        ];
        for (name, want) in table {
            assert_eq!(String::from_utf8_lossy(&quote(name)), *want);
        }
    }

    /// Whatever the name, the quoted word parses and expands back to exactly it, alone.
    #[test]
    fn round_trip() {
        let names: &[&[u8]] = &[
            b"-rf",
            b"new\nline",
            b"$(touch pwned)",
            b"`id`",
            b"a b\tc",
            b"*",
            b"[x]",
            b"bad\xff\xfebytes",
            b"'\"\\",
            b";ls&&x||y|z",
            b"<in >out 2>&1",
            b"~root",
            b"#hash",
            b"!bang",
            b"{a,b}",
            b"A=b",
            b"$HOME",
            b"\x1b[31mred",
            b"\x7f",
            "é ü".as_bytes(),
        ];
        let mut env = TestEnv::default();
        env.vars.insert(b"HOME".to_vec(), b"/home/u".to_vec());
        // Every name exists, so a glob that slipped through would expand.
        let tree = Tree::new(names);
        for name in names {
            let line = [b"cmd ".as_slice(), &quote(name)].concat();
            let list = parse(&line).unwrap();
            let cmd = &list.items[0].first.commands[0];
            assert!(cmd.assignments.is_empty() && cmd.redirects.is_empty());
            let argv = expand_words(&cmd.words, &mut env.clone(), &tree).unwrap();
            let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_encoded_bytes()).collect();
            assert_eq!(
                argv,
                [b"cmd".as_slice(), name],
                "{:?}",
                String::from_utf8_lossy(&line)
            );
        }
        // As a command name too (no assignment).
        let list = parse(&quote(b"A=b")).unwrap();
        assert!(list.items[0].first.commands[0].assignments.is_empty());
    }
}
