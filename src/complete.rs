//! Tab completion: builtin and host command names for the first word, namespace paths (host
//! files, container names, files inside containers) for the others.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use crate::commands::BUILTINS;
use crate::syntax;
use crate::vfs::path::split_for_completion;
use crate::vfs::{Kind, VPath, Vfs};

/// One completion: what the menu shows and what replaces the word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub display: String,
    pub replacement: String,
}

/// Completes the word ending at `pos` in `line`; returns where the word starts and the
/// candidates, sorted. The word is read with the shell's own lexer, so quotes, escapes, `~` and
/// `$VAR` mean what they will mean when the line runs.
pub async fn complete(vfs: &Vfs, cwd: &Path, line: &str, pos: usize) -> (usize, Vec<Candidate>) {
    let Some(head) = line.get(..pos) else {
        return (pos, Vec::new());
    };
    let Some(cw) = syntax::cursor_word(head.as_bytes()) else {
        return (pos, Vec::new());
    };
    let word = syntax::expand_assignment(&cw.word, &mut ProcessEnv)
        .unwrap_or_default()
        .into_vec();
    let cands = if cw.command && !word.contains(&b'/') {
        commands(&String::from_utf8_lossy(&word))
    } else {
        // An engine that does not answer (frozen dockerd, stopped agent) must not hold the
        // line: after `--timeout` Tab gives up with nothing.
        tokio::time::timeout(vfs.timeout(), paths(vfs, cwd, &word))
            .await
            .unwrap_or_default()
    };
    (cw.start, cands)
}

/// The process environment, for `~` and `$VAR` in the word being completed.
struct ProcessEnv;

impl syntax::Env for ProcessEnv {
    fn var(&self, name: &[u8]) -> Option<std::ffi::OsString> {
        std::env::var_os(OsStr::from_bytes(name))
    }
    fn last_status(&self) -> i32 {
        0
    }
    fn home(&self) -> Option<std::ffi::OsString> {
        std::env::var_os("HOME")
    }
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

/// Names in the directory the word points into. Replacements are quoted for the shell (a
/// newline, a leading dash, `$(...)` or a non-UTF-8 byte comes out typed safely, as
/// `$'\x0a'`, ...), so what is inserted always reads back as the very same name.
async fn paths(vfs: &Vfs, cwd: &Path, word: &[u8]) -> Vec<Candidate> {
    let (dir, prefix) = split_for_completion(word);
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
    let mut matches: Vec<(Vec<u8>, bool)> = Vec::new();
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
        matches.push((name.to_vec(), is_dir));
    }
    matches.sort();
    let single = matches.len() == 1;
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
            let typed = syntax::quote(&[dir, &name[..]].concat());
            Candidate {
                replacement: format!("{}{suffix}", String::from_utf8_lossy(&typed)),
                display: format!(
                    "{}{}",
                    String::from_utf8_lossy(&crate::output::display_name(
                        OsStr::from_bytes(&name),
                        true
                    )),
                    if is_dir { "/" } else { "" }
                ),
            }
        })
        .collect()
}

/// Escapes what the command line would otherwise split or interpret (see [`syntax::quote`]).
pub fn escape(s: &str) -> String {
    String::from_utf8_lossy(&syntax::quote(s.as_bytes())).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape("a b"), "a\\ b");
        assert_eq!(escape("$(touch x)"), "\\$\\(touch\\ x\\)");
        assert_eq!(escape("-rf"), "-rf");
        assert_eq!(escape("new\nline"), "new$'\\x0a'line");
    }
}
