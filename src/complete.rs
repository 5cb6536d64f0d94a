//! Tab completion: command names (builtins, the language's words, functions, aliases, $PATH)
//! where a command goes, also inside `$(`, backquotes and after `do`, `then`, `{`...; namespace
//! paths (host files, container names, files inside containers) for the other words, kept
//! inside the quote the word opened. The keywords that go on or close a construct (`done`,
//! `fi`, `esac`, `}`, `then`...) are offered where the parser takes them (the lines typed so
//! far of a multi-line command count), and `%N` job specs after `fg`, `bg`, `jobs`, `kill`
//! and `wait`.

use std::collections::{BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::commands;
use crate::syntax;
use crate::vfs::path::split_for_completion;
use crate::vfs::{Kind, VPath, Vfs};

/// One completion: what the menu shows and what replaces the word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub display: String,
    pub replacement: String,
}

/// What completion knows of the shell, copied from it before each prompt: the directory, the
/// names of its functions and aliases, its variables (for `~`, `$VAR` and `$PATH`).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub cwd: PathBuf,
    /// Functions and aliases: command names besides the builtins and $PATH's programs.
    pub names: BTreeSet<String>,
    pub vars: HashMap<Vec<u8>, Vec<u8>>,
    /// The jobs: number and text.
    pub jobs: Vec<(usize, String)>,
    /// The lines already typed of a command still being continued (`> ` prompts), each ended
    /// by a newline: a closing keyword must fit them.
    pub pending: String,
}

impl Scope {
    /// What completion needs of the shell as it is now.
    pub fn of(sh: &crate::shell::Shell) -> Scope {
        let lossy = |n: &[u8]| String::from_utf8_lossy(n).into_owned();
        Scope {
            cwd: sh.cwd.clone(),
            names: sh
                .functions
                .keys()
                .chain(sh.aliases.keys())
                .map(|n| lossy(n))
                .collect(),
            vars: sh
                .vars
                .all()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect(),
            jobs: sh.job_list(),
            pending: String::new(),
        }
    }
}

/// Completes the word ending at `pos` in `line`; returns where the word starts and the
/// candidates, sorted. The word is read with the shell's own lexer, so quotes, escapes, `~` and
/// `$VAR` mean what they will mean when the line runs.
pub async fn complete(vfs: &Vfs, scope: &Scope, line: &str, pos: usize) -> (usize, Vec<Candidate>) {
    let Some(head) = line.get(..pos) else {
        return (pos, Vec::new());
    };
    let Some(cw) = syntax::cursor_word(head.as_bytes()) else {
        return (pos, Vec::new());
    };
    let word = syntax::expand_assignment(&cw.word, &mut ScopeEnv(scope))
        .unwrap_or_default()
        .into_vec();
    let before = head.get(..cw.start).unwrap_or_default();
    let cands = if cw.command && !word.contains(&b'/') {
        let prefix = String::from_utf8_lossy(&word);
        let mut names = command_names(scope, &prefix);
        let closers = closers(&scope.pending, before, &prefix);
        if !closers.is_empty() {
            names.extend(closers);
            names.sort_by(|a, b| a.display.cmp(&b.display));
            names.dedup_by(|a, b| a.display == b.display);
            if let [only] = names.as_mut_slice() {
                if !only.replacement.ends_with(' ') {
                    only.replacement.push(' ');
                }
            } else {
                for n in &mut names {
                    if let Some(r) = n.replacement.strip_suffix(' ') {
                        n.replacement = r.to_string();
                    }
                }
            }
        }
        names
    } else if let Some(specs) = job_specs(scope, before, &word) {
        specs
    } else {
        // An engine that does not answer (frozen dockerd, stopped agent) must not hold the
        // line: after `--timeout` Tab gives up with nothing.
        tokio::time::timeout(vfs.timeout(), paths(vfs, &scope.cwd, &word, cw.open_quote))
            .await
            .unwrap_or_default()
    };
    (cw.start, cands)
}

/// The keywords that go on or close a construct, in a command's place.
const CLOSERS: &[&str] = &["done", "fi", "esac", "}", "then", "do", "else", "elif"];

/// The keywords starting with `prefix` that fit after `before` (with the `pending` lines of a
/// continued command): the parser takes the text with the keyword as complete or as still
/// open, not as an error.
fn closers(pending: &str, before: &str, prefix: &str) -> Vec<Candidate> {
    CLOSERS
        .iter()
        .filter(|k| k.starts_with(prefix))
        .filter(|k| {
            let parses = |text: String| match syntax::parse_with_aliases(
                text.as_bytes(),
                &syntax::alias::NoAliases,
            ) {
                Ok(_) => Some(true),
                Err(e) if e.is_incomplete() => Some(false),
                Err(_) => None,
            };
            // A keyword, not a `case` pattern that happens to be spelled so (`done)`).
            parses(format!("{pending}{before}{k}")).is_some()
                && parses(format!("{pending}{before}{k})")).is_none()
        })
        .map(|k| Candidate {
            display: (*k).to_string(),
            replacement: (*k).to_string(),
        })
        .collect()
}

/// The commands that take job specs.
const JOB_COMMANDS: &[&str] = &["fg", "bg", "jobs", "kill", "wait"];

/// `%N` for each job, when the word is an argument of `fg`, `bg`, `jobs`, `kill` or `wait`
/// and starts with `%` (or is empty, after `fg`, `bg` and `jobs`).
fn job_specs(scope: &Scope, before: &str, word: &[u8]) -> Option<Vec<Candidate>> {
    let cmd = command_name(before)?;
    let wanted = word.starts_with(b"%") || (word.is_empty() && matches!(cmd, "fg" | "bg" | "jobs"));
    if !wanted || !JOB_COMMANDS.contains(&cmd) {
        return None;
    }
    let typed = String::from_utf8_lossy(word);
    let found: Vec<&(usize, String)> = scope
        .jobs
        .iter()
        .filter(|(n, _)| format!("%{n}").starts_with(typed.as_ref()))
        .collect();
    let single = found.len() == 1;
    Some(
        found
            .into_iter()
            .map(|(n, text)| Candidate {
                display: format!("%{n}  {text}"),
                replacement: format!("%{n}{}", if single { " " } else { "" }),
            })
            .collect(),
    )
}

/// The name of the simple command whose arguments end `before`: the first word after the
/// last `;`, `|`, `&`, `(` or newline, past keywords and assignments.
fn command_name(before: &str) -> Option<&str> {
    let segment = before.rsplit([';', '|', '&', '(', '`', '\n']).next()?;
    segment.split_whitespace().find(|w| {
        !matches!(*w, "do" | "then" | "else" | "elif" | "!" | "{" | "time")
            && !w.split_once('=').is_some_and(|(n, _)| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
    })
}

/// The shell's variables, for `~` and `$VAR` in the word being completed.
struct ScopeEnv<'a>(&'a Scope);

impl syntax::Env for ScopeEnv<'_> {
    fn var(&self, name: &[u8]) -> Option<OsString> {
        self.0.vars.get(name).map(|v| OsString::from_vec(v.clone()))
    }
    fn last_status(&self) -> i32 {
        0
    }
    fn home(&self) -> Option<OsString> {
        self.var(b"HOME")
    }
}

/// The names `help` lists, the shell's functions and aliases, then (once something is typed)
/// programs on the shell's `$PATH`.
fn command_names(scope: &Scope, prefix: &str) -> Vec<Candidate> {
    let mut names: BTreeSet<String> = commands::every_name()
        .map(str::to_string)
        .chain(scope.names.iter().cloned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    if !prefix.is_empty() {
        let path = scope.vars.get(&b"PATH"[..]).cloned().unwrap_or_default();
        for dir in std::env::split_paths(OsStr::from_bytes(&path)) {
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
/// `$'\x0a'`, ...), so what is inserted always reads back as the very same name; a word that
/// opened a quote stays in it (closed after a file, open after a directory).
async fn paths(vfs: &Vfs, cwd: &Path, word: &[u8], quote: Option<char>) -> Vec<Candidate> {
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
            let full = [dir, &name[..]].concat();
            let (typed, close) = match quote.and_then(|q| quoted(&full, q)) {
                Some(t) => t,
                None => (syntax::quote(&full), String::new()),
            };
            let suffix = if is_dir {
                "/".to_string()
            } else if single {
                format!("{close} ")
            } else {
                String::new()
            };
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

/// `name` inside the quote `q` the word opened, and what closes it; `None` when the name cannot
/// be written so (a control byte, a byte that is not UTF-8, a `'` inside `'...'`).
fn quoted(name: &[u8], q: char) -> Option<(Vec<u8>, String)> {
    if std::str::from_utf8(name).is_err() || name.iter().any(u8::is_ascii_control) {
        return None;
    }
    let mut out = vec![q as u8];
    for &b in name {
        match (q, b) {
            ('\'', b'\'') => return None,
            ('"', b'"' | b'\\' | b'$' | b'`') => out.extend_from_slice(&[b'\\', b]),
            _ => out.push(b),
        }
    }
    Some((out, q.to_string()))
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

    #[test]
    fn names_keep_the_quote_the_word_opened() {
        let q = |n: &str, c| {
            quoted(n.as_bytes(), c).map(|(t, close)| (String::from_utf8(t).unwrap(), close))
        };
        assert_eq!(q("/a b", '"'), Some(("\"/a b".into(), "\"".into())));
        assert_eq!(
            q("a$`\"\\", '"'),
            Some(("\"a\\$\\`\\\"\\\\".into(), "\"".into()))
        );
        assert_eq!(q("it's", '\''), None);
        assert_eq!(q("a $b", '\''), Some(("'a $b".into(), "'".into())));
        assert_eq!(q("new\nline", '"'), None);
    }

    #[test]
    fn command_names_are_helps_plus_functions_and_aliases() {
        let mut scope = Scope::default();
        scope.names.insert("myfunc".into());
        let all: Vec<String> = command_names(&scope, "")
            .into_iter()
            .map(|c| c.display)
            .collect();
        for n in commands::every_name() {
            assert!(all.iter().any(|a| a == n), "{n} completes");
        }
        assert!(all.iter().any(|a| a == "myfunc"));
        let jobs: Vec<String> = command_names(&scope, "jo")
            .into_iter()
            .map(|c| c.replacement)
            .collect();
        assert_eq!(jobs, ["jobs "]);
        let kw: Vec<String> = command_names(&scope, "whi")
            .into_iter()
            .map(|c| c.replacement)
            .collect();
        assert_eq!(kw, ["while "]);
    }

    fn replacements(c: Vec<Candidate>) -> Vec<String> {
        c.into_iter().map(|c| c.replacement).collect()
    }

    /// A closing keyword is offered where the parser takes it, counting the lines already
    /// typed of a continued command; nowhere else.
    #[test]
    fn closing_keywords_where_they_fit() {
        let fits = |pending: &str, before: &str, prefix: &str| -> Vec<String> {
            closers(pending, before, prefix)
                .into_iter()
                .map(|c| c.display)
                .collect()
        };
        let table: &[(&str, &str, &str, &[&str])] = &[
            ("", "for i in a; do echo $i; ", "d", &["done"]),
            ("", "for i in a; do echo $i; ", "", &["done"]),
            ("", "if true; then echo; ", "", &["fi", "else", "elif"]),
            ("", "if true; then echo; ", "f", &["fi"]),
            ("", "if true; ", "t", &["then"]),
            ("", "while true; ", "d", &["do"]),
            ("", "case x in a) echo;; ", "e", &["esac"]),
            ("", "case x in a) echo;; ", "d", &[]),
            ("", "for i in a; do case $i in a) echo;; ", "", &["esac"]),
            ("", "{ echo a; ", "", &["}"]),
            (
                "",
                "while :; do if x; then y; ",
                "",
                &["fi", "else", "elif"],
            ),
            ("for i in a; do\n", "echo $i; ", "d", &["done"]),
            ("for i in a; do\necho $i\n", "", "do", &["done"]),
            ("", "", "d", &[]),
            ("", "", "fi", &[]),
            ("", "echo a; ", "", &[]),
            ("", "for i in a; do ", "d", &[]),
        ];
        for (pending, before, prefix, want) in table {
            let mut got = fits(pending, before, prefix);
            let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{pending:?} {before:?} {prefix:?}");
        }
    }

    /// `%N` after the job commands, from the shell's jobs; not for other commands.
    #[test]
    fn job_specs_after_job_commands() {
        let scope = Scope {
            jobs: vec![(1, "sleep 100 &".into()), (2, "make &".into())],
            ..Default::default()
        };
        let specs =
            |before: &str, word: &str| job_specs(&scope, before, word.as_bytes()).map(replacements);
        assert_eq!(specs("fg ", ""), Some(vec!["%1".into(), "%2".into()]));
        assert_eq!(specs("kill -9 ", "%2"), Some(vec!["%2 ".into()]));
        assert_eq!(
            specs("true; wait ", "%"),
            Some(vec!["%1".into(), "%2".into()])
        );
        assert_eq!(specs("x=1 jobs -l ", "%1"), Some(vec!["%1 ".into()]));
        assert_eq!(specs("kill ", ""), None);
        assert_eq!(specs("ls ", "%"), None);
        let shown: Vec<String> = job_specs(&scope, "bg ", b"%1")
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.display)
            .collect();
        assert_eq!(shown, ["%1  sleep 100 &"]);
        assert_eq!(command_name("for i in a; do fg "), Some("fg"));
        assert_eq!(command_name("echo $(kill "), Some("kill"));
        assert_eq!(command_name(""), None);
    }
}
