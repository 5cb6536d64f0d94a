//! Tab completion: builtin and host command names for the first word, namespace paths (host
//! files, container names, files inside containers) for the others.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::commands::BUILTINS;
use crate::vfs::path::split_for_completion;
use crate::vfs::{Kind, VPath, Vfs};

/// One completion: what the menu shows and what replaces the word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub display: String,
    pub replacement: String,
}

/// Completes the word ending at `pos` in `line`; returns where the word starts and the
/// candidates, sorted.
pub async fn complete(vfs: &Vfs, cwd: &Path, line: &str, pos: usize) -> (usize, Vec<Candidate>) {
    let Some(head) = line.get(..pos) else {
        return (pos, Vec::new());
    };
    let (start, word, first) = current_word(head);
    let cands = if first && !word.contains('/') {
        commands(&word)
    } else {
        paths(vfs, cwd, &word).await
    };
    (start, cands)
}

/// Finds the word the cursor is in: its byte start, its unescaped text, and whether it is the
/// command name (the first word after the start or a `;`).
pub fn current_word(head: &str) -> (usize, String, bool) {
    let (mut start, mut word, mut words_before) = (0, String::new(), 0);
    let (mut single, mut double, mut escaped, mut in_word) = (false, false, false, false);
    for (i, c) in head.char_indices() {
        if escaped {
            word.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if !single => {
                escaped = true;
                if !in_word {
                    (start, in_word) = (i, true);
                }
            }
            '\'' if !double => {
                single = !single;
                if !in_word {
                    (start, in_word) = (i, true);
                }
            }
            '"' if !single => {
                double = !double;
                if !in_word {
                    (start, in_word) = (i, true);
                }
            }
            c if !single && !double && (c.is_whitespace() || c == ';') => {
                if in_word {
                    words_before += 1;
                }
                if c == ';' {
                    words_before = 0;
                }
                in_word = false;
                word.clear();
                start = i + c.len_utf8();
            }
            c => {
                if !in_word {
                    (start, in_word) = (i, true);
                }
                word.push(c);
            }
        }
    }
    if !in_word {
        start = head.len();
    }
    (start, word, words_before == 0)
}

/// Builtins, then programs on the host's PATH.
fn commands(prefix: &str) -> Vec<Candidate> {
    let mut names: BTreeSet<String> = BUILTINS
        .iter()
        .map(|b| b.name().to_string())
        .filter(|n| n.starts_with(prefix))
        .collect();
    if !prefix.is_empty() {
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            for de in rd.flatten() {
                let name = de.file_name();
                if let Some(n) = name.to_str().filter(|n| n.starts_with(prefix)) {
                    names.insert(n.to_string());
                }
            }
        }
    }
    let single = names.len() == 1;
    names
        .into_iter()
        .map(|n| Candidate {
            replacement: format!("{}{}", escape(&n), if single { " " } else { "" }),
            display: n,
        })
        .collect()
}

async fn paths(vfs: &Vfs, cwd: &Path, word: &str) -> Vec<Candidate> {
    let (dir, prefix) = split_for_completion(word.as_bytes());
    let dir_arg = if dir.is_empty() {
        OsStr::new(".")
    } else {
        OsStr::from_bytes(dir)
    };
    let vdir = VPath::resolve(cwd, dir_arg);
    let Ok(entries) = vfs.read_dir(&vdir).await else {
        return Vec::new();
    };
    let show_hidden = prefix.starts_with(b".");
    let mut matches: Vec<(String, bool)> = Vec::new();
    for e in entries.iter() {
        let name = e.name.as_bytes();
        if !name.starts_with(prefix) || (name.starts_with(b".") && !show_hidden) {
            continue;
        }
        // A symlink counts as a directory when it leads to one (checked only when it matters).
        let is_dir = match e.kind {
            Kind::Dir => true,
            Kind::Symlink => {
                let target = VPath::resolve(cwd, OsStr::from_bytes(&[dir, name].concat()));
                vfs.stat(&target).await.map(|t| t.is_dir()).unwrap_or(false)
            }
            _ => false,
        };
        matches.push((String::from_utf8_lossy(name).into_owned(), is_dir));
    }
    matches.sort();
    let single = matches.len() == 1;
    let dir_text = String::from_utf8_lossy(dir);
    matches
        .into_iter()
        .map(|(name, is_dir)| {
            let suffix = if is_dir {
                "/"
            } else if single {
                " "
            } else {
                ""
            };
            Candidate {
                replacement: format!("{}{suffix}", escape(&format!("{dir_text}{name}"))),
                display: format!("{name}{}", if is_dir { "/" } else { "" }),
            }
        })
        .collect()
}

/// Backslash-escapes what the command line would otherwise split or interpret.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_whitespace() || "\\'\"$;&|<>()*?[]#~!{}`".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(current_word("ls /cont"), (3, "/cont".to_string(), false));
        assert_eq!(current_word("l"), (0, "l".to_string(), true));
        assert_eq!(current_word(""), (0, String::new(), true));
        assert_eq!(current_word("cat a\\ b"), (4, "a b".to_string(), false));
        assert_eq!(current_word("cd x; c"), (6, "c".to_string(), true));
        assert_eq!(current_word("cat "), (4, String::new(), false));
        assert_eq!(current_word("cat 'my fi"), (4, "my fi".to_string(), false));
    }

    #[test]
    fn escaping() {
        assert_eq!(escape("a b"), "a\\ b");
        assert_eq!(escape("$(touch x)"), "\\$\\(touch\\ x\\)");
        assert_eq!(escape("-rf"), "-rf");
    }
}
