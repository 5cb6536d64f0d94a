//! A small getopt for the builtins: bundled short flags (`-la`), long flags with `=VALUE`,
//! `--` to end options, and `-` as an operand. Errors read like coreutils'.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// Parsed arguments: flags in the order given, then operands.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    pub flags: Vec<char>,
    pub long: Vec<(String, Option<String>)>,
    pub operands: Vec<OsString>,
}

/// A usage error: the text after `dockerbox: CMD: `.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Args {
    /// Parses `argv` accepting the short flags in `shorts` and the long names in `longs`.
    /// A long name may be given as `name=` to say it takes a value.
    pub fn parse(argv: Vec<OsString>, shorts: &str, longs: &[&str]) -> Result<Args, UsageError> {
        let mut a = Args::default();
        let mut iter = argv.into_iter();
        while let Some(arg) = iter.next() {
            let b = arg.as_bytes();
            if b == b"--" {
                a.operands.extend(iter);
                break;
            } else if let Some(long) = b.strip_prefix(b"--") {
                let long = String::from_utf8_lossy(long).into_owned();
                let (name, value) = match long.split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (long.clone(), None),
                };
                let known = longs.iter().find(|l| l.trim_end_matches('=') == name);
                match known {
                    None => return Err(UsageError(format!("unrecognized option '--{name}'"))),
                    Some(l) if !l.ends_with('=') && value.is_some() => {
                        return Err(UsageError(format!(
                            "option '--{name}' doesn't allow an argument"
                        )))
                    }
                    Some(_) => a.long.push((name, value)),
                }
            } else if b.len() > 1 && b[0] == b'-' {
                for &c in &b[1..] {
                    let c = c as char;
                    if !shorts.contains(c) {
                        return Err(UsageError(format!(
                            "invalid option -- '{}'",
                            c.escape_default()
                        )));
                    }
                    a.flags.push(c);
                }
            } else {
                a.operands.push(arg);
            }
        }
        Ok(a)
    }

    pub fn has(&self, c: char) -> bool {
        self.flags.contains(&c)
    }

    /// Which of the flags in `set` came last (for pairs like `-a`/`-A`).
    pub fn last_of(&self, set: &str) -> Option<char> {
        self.flags.iter().rev().copied().find(|c| set.contains(*c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn bundles_longs_and_operands() {
        let a = Args::parse(
            v(&["-la", "x", "--color=never", "--", "-R"]),
            "laR",
            &["color="],
        )
        .unwrap();
        assert_eq!(a.flags, vec!['l', 'a']);
        assert_eq!(
            a.long,
            vec![("color".to_string(), Some("never".to_string()))]
        );
        assert_eq!(a.operands, v(&["x", "-R"]));
        let a = Args::parse(v(&["-"]), "", &[]).unwrap();
        assert_eq!(a.operands, v(&["-"]));
    }

    #[test]
    fn errors_read_like_coreutils() {
        assert_eq!(
            Args::parse(v(&["-z"]), "l", &[]),
            Err(UsageError("invalid option -- 'z'".into()))
        );
        assert_eq!(
            Args::parse(v(&["--nope"]), "", &[]),
            Err(UsageError("unrecognized option '--nope'".into()))
        );
        assert_eq!(
            Args::parse(v(&["--all=x"]), "", &["all"]),
            Err(UsageError(
                "option '--all' doesn't allow an argument".into()
            ))
        );
    }
}
