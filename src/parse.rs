//! Splitting a command line into commands and words: `;`-separated commands, sh quoting
//! (`'...'`, `"..."`, backslash), bash's `$'...'` for any byte (`$'\377'`, `$'\n'`), `#`
//! comments and `~` expansion. Lines are bytes, so names that are not UTF-8 can be typed and
//! survive. The full shell language (pipes, redirects, globs) replaces this later.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// Why a line could not be split.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("missing closing quote")]
    UnclosedQuote,
}

/// Splits `line` into commands, each a list of words. Empty commands are dropped.
pub fn split_line(line: &[u8]) -> Result<Vec<Vec<OsString>>, ParseError> {
    let mut commands = Vec::new();
    let mut words: Vec<OsString> = Vec::new();
    let mut word: Vec<u8> = Vec::new();
    // A word exists once any character of it was read, even an empty quote ("").
    let mut in_word = false;
    // Whether the word so far is a bare `~` or `~/...` typed without quotes.
    let mut tilde = false;
    let mut i = 0;
    let end_word =
        |words: &mut Vec<OsString>, word: &mut Vec<u8>, in_word: &mut bool, tilde: &mut bool| {
            if *in_word {
                let w = std::mem::take(word);
                words.push(if *tilde {
                    expand_tilde(w)
                } else {
                    OsString::from_vec(w)
                });
            }
            *in_word = false;
            *tilde = false;
        };
    while i < line.len() {
        let c = line[i];
        match c {
            b' ' | b'\t' => end_word(&mut words, &mut word, &mut in_word, &mut tilde),
            b';' | b'\n' => {
                end_word(&mut words, &mut word, &mut in_word, &mut tilde);
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            b'#' if !in_word => {
                while i < line.len() && line[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\\' => {
                in_word = true;
                i += 1;
                match line.get(i) {
                    Some(b'\n') => {} // a line continuation
                    Some(&b) => word.push(b),
                    None => {}
                }
            }
            b'\'' => {
                in_word = true;
                let close = line[i + 1..]
                    .iter()
                    .position(|&b| b == b'\'')
                    .ok_or(ParseError::UnclosedQuote)?;
                word.extend_from_slice(&line[i + 1..i + 1 + close]);
                i += close + 1;
            }
            b'"' => {
                in_word = true;
                i += 1;
                loop {
                    match line.get(i) {
                        None => return Err(ParseError::UnclosedQuote),
                        Some(b'"') => break,
                        Some(b'\\')
                            if matches!(line.get(i + 1), Some(b'"' | b'\\' | b'$' | b'`')) =>
                        {
                            word.push(line[i + 1]);
                            i += 2;
                        }
                        Some(b'\\') if line.get(i + 1) == Some(&b'\n') => i += 2,
                        Some(&b) => {
                            word.push(b);
                            i += 1;
                        }
                    }
                }
            }
            b'$' if line.get(i + 1) == Some(&b'\'') => {
                in_word = true;
                i = ansi_c(line, i + 2, &mut word)?;
            }
            b'~' if !in_word => {
                in_word = true;
                tilde = matches!(
                    line.get(i + 1),
                    None | Some(b'/' | b' ' | b'\t' | b';' | b'\n')
                );
                word.push(b'~');
            }
            b => {
                in_word = true;
                word.push(b);
            }
        }
        i += 1;
    }
    end_word(&mut words, &mut word, &mut in_word, &mut tilde);
    if !words.is_empty() {
        commands.push(words);
    }
    Ok(commands)
}

/// Decodes the body of `$'...'` starting at `i`; returns the index of the closing quote.
fn ansi_c(line: &[u8], mut i: usize, word: &mut Vec<u8>) -> Result<usize, ParseError> {
    loop {
        let Some(&c) = line.get(i) else {
            return Err(ParseError::UnclosedQuote);
        };
        match c {
            b'\'' => return Ok(i),
            b'\\' => {
                let Some(&e) = line.get(i + 1) else {
                    return Err(ParseError::UnclosedQuote);
                };
                i += 2;
                match e {
                    b'n' => word.push(b'\n'),
                    b't' => word.push(b'\t'),
                    b'r' => word.push(b'\r'),
                    b'a' => word.push(7),
                    b'b' => word.push(8),
                    b'e' | b'E' => word.push(27),
                    b'f' => word.push(12),
                    b'v' => word.push(11),
                    b'x' => {
                        let digits = line[i..]
                            .iter()
                            .take(2)
                            .take_while(|b| b.is_ascii_hexdigit())
                            .count();
                        if digits == 0 {
                            word.extend_from_slice(b"\\x");
                        } else {
                            let s = std::str::from_utf8(&line[i..i + digits]).unwrap_or("0");
                            word.push(u8::from_str_radix(s, 16).unwrap_or(0));
                            i += digits;
                        }
                    }
                    b'0'..=b'7' => {
                        let digits = line[i - 1..]
                            .iter()
                            .take(3)
                            .take_while(|b| (b'0'..=b'7').contains(b))
                            .count();
                        let s = std::str::from_utf8(&line[i - 1..i - 1 + digits]).unwrap_or("0");
                        word.push((u16::from_str_radix(s, 8).unwrap_or(0) & 0xff) as u8);
                        i += digits - 1;
                    }
                    other => word.push(other), // \\ \' \" and anything else: the character
                }
            }
            b => {
                word.push(b);
                i += 1;
            }
        }
    }
}

fn expand_tilde(word: Vec<u8>) -> OsString {
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => {
            let mut v = home.into_vec();
            v.extend_from_slice(&word[1..]);
            OsString::from_vec(v)
        }
        None => OsString::from_vec(word),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn split(s: &[u8]) -> Vec<Vec<Vec<u8>>> {
        split_line(s)
            .unwrap()
            .into_iter()
            .map(|c| c.into_iter().map(|w| w.as_bytes().to_vec()).collect())
            .collect()
    }

    fn strs(s: &str) -> Vec<Vec<String>> {
        split(s.as_bytes())
            .into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|w| String::from_utf8(w).unwrap())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn table() {
        assert_eq!(strs("ls -l /x"), vec![vec!["ls", "-l", "/x"]]);
        assert_eq!(strs("cd /a; pwd"), vec![vec!["cd", "/a"], vec!["pwd"]]);
        assert_eq!(
            strs("echo 'a;b' \"c;d\" e\\;f"),
            vec![vec!["echo", "a;b", "c;d", "e;f"]]
        );
        assert_eq!(strs("ls # comment; not a command"), vec![vec!["ls"]]);
        assert_eq!(strs("echo a#b"), vec![vec!["echo", "a#b"]]);
        assert_eq!(strs("  ;; "), Vec::<Vec<String>>::new());
        assert_eq!(
            strs("cat 'a file'\npwd"),
            vec![vec!["cat", "a file"], vec!["pwd"]]
        );
        assert_eq!(strs("echo '' \"\" x"), vec![vec!["echo", "", "", "x"]]);
        assert_eq!(
            strs("echo \"a \\\"q\\\" \\n\""),
            vec![vec!["echo", "a \"q\" \\n"]]
        );
        assert_eq!(strs("cat 'new\nline'"), vec![vec!["cat", "new\nline"]]);
        assert_eq!(strs("echo a\\\nb"), vec![vec!["echo", "ab"]]);
    }

    #[test]
    fn bytes_and_ansi_c_quotes() {
        assert_eq!(
            split(b"cat $'bad\\377byte' $'\\xff' $'a\\nb\\'c'"),
            vec![vec![
                b"cat".to_vec(),
                b"bad\xffbyte".to_vec(),
                b"\xff".to_vec(),
                b"a\nb'c".to_vec()
            ]]
        );
        assert_eq!(
            split(b"cat raw\xffname"),
            vec![vec![b"cat".to_vec(), b"raw\xffname".to_vec()]]
        );
    }

    #[test]
    fn tilde_only_unquoted_at_a_word_start() {
        std::env::set_var("HOME", "/home/u");
        assert_eq!(
            strs("cd ~ ~/x '~' a~ ~user"),
            vec![vec!["cd", "/home/u", "/home/u/x", "~", "a~", "~user"]]
        );
    }

    #[test]
    fn unclosed_quotes() {
        assert_eq!(split_line(b"echo 'oops"), Err(ParseError::UnclosedQuote));
        assert_eq!(split_line(b"echo \"oops"), Err(ParseError::UnclosedQuote));
        assert_eq!(split_line(b"echo $'oops"), Err(ParseError::UnclosedQuote));
    }
}
