//! Splitting a command line into commands and words: `;`-separated commands, sh quoting
//! (via shell-words), `#` comments and `~` expansion. The full shell language (pipes,
//! redirects, globs) replaces this later.

use std::ffi::OsString;

/// Why a line could not be split.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("missing closing quote")]
    UnclosedQuote,
}

/// Splits `line` into commands, each a list of words. Empty commands are dropped.
pub fn split_line(line: &str) -> Result<Vec<Vec<OsString>>, ParseError> {
    let mut commands = Vec::new();
    for segment in segments(line)? {
        let words = shell_words::split(&segment).map_err(|_| ParseError::UnclosedQuote)?;
        if !words.is_empty() {
            commands.push(words.into_iter().map(expand_tilde).collect());
        }
    }
    Ok(commands)
}

/// Cuts at unquoted `;` and newlines, and drops an unquoted `#` comment (at a word start).
fn segments(line: &str) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut single, mut double, mut escaped) = (false, false, false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if !single => {
                escaped = true;
                cur.push(c);
            }
            '\'' if !double => {
                single = !single;
                cur.push(c);
            }
            '"' if !single => {
                double = !double;
                cur.push(c);
            }
            ';' | '\n' if !single && !double => out.push(std::mem::take(&mut cur)),
            '#' if !single && !double && cur.chars().last().is_none_or(char::is_whitespace) => {
                // A comment runs to the end of the line.
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            c => cur.push(c),
        }
    }
    if single || double {
        return Err(ParseError::UnclosedQuote);
    }
    out.push(cur);
    Ok(out)
}

fn expand_tilde(word: String) -> OsString {
    let home = || std::env::var_os("HOME").filter(|h| !h.is_empty());
    if word == "~" {
        if let Some(h) = home() {
            return h;
        }
    } else if let Some(rest) = word.strip_prefix("~/") {
        if let Some(mut h) = home() {
            h.push("/");
            h.push(rest);
            return h;
        }
    }
    word.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<Vec<String>> {
        split_line(s)
            .unwrap()
            .into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|w| w.to_string_lossy().into_owned())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn table() {
        assert_eq!(split("ls -l /x"), vec![vec!["ls", "-l", "/x"]]);
        assert_eq!(split("cd /a; pwd"), vec![vec!["cd", "/a"], vec!["pwd"]]);
        assert_eq!(
            split("echo 'a;b' \"c;d\" e\\;f"),
            vec![vec!["echo", "a;b", "c;d", "e;f"]]
        );
        assert_eq!(split("ls # comment; not a command"), vec![vec!["ls"]]);
        assert_eq!(split("echo a#b"), vec![vec!["echo", "a#b"]]);
        assert_eq!(split("  ;; "), Vec::<Vec<String>>::new());
        assert_eq!(
            split("cat 'a file'\npwd"),
            vec![vec!["cat", "a file"], vec!["pwd"]]
        );
    }

    #[test]
    fn unclosed_quotes() {
        assert_eq!(split_line("echo 'oops"), Err(ParseError::UnclosedQuote));
        assert_eq!(split_line("echo \"oops"), Err(ParseError::UnclosedQuote));
    }
}
