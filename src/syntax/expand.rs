//! Word expansion, in sh's order: tilde, parameters (`$NAME`, `$?`), field splitting of unquoted
//! parameter values on IFS, then pathname expansion of unquoted `*`, `?`, `[...]`. Variables
//! come from an [`Env`] and directory listings from a [`Lister`], so globs run over the
//! dockerbox namespace (`/containers/*/etc/os-release`) as over the host. A name a listing
//! returns is put in the result as it is and never expanded again, whatever it contains.
//! `**` is `*` (bash without globstar); a glob that matches nothing stays as typed.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use super::ast::{PartKind, Word};
use super::glob::Pattern;

/// The shell state expansion reads.
pub trait Env {
    /// A variable's value; also asked for the one-character specials (`$`, `#`, `1`...).
    fn var(&self, name: &[u8]) -> Option<OsString>;
    /// `$?`
    fn last_status(&self) -> i32;
    /// What `~` means.
    fn home(&self) -> Option<OsString>;
    /// What `~user` means; by default no user is known and `~user` stays as typed.
    fn user_home(&self, _user: &[u8]) -> Option<OsString> {
        None
    }
}

/// Directory listings for globbing.
pub trait Lister {
    /// The names in `dir` (without `.` and `..`), or `None` if it is not a readable directory.
    /// `dir` is as typed: relative paths (`.`, `web/`) are relative to the current directory.
    fn list(&self, dir: &Path) -> Option<Vec<OsString>>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// A redirect target that expanded to no word or to several (bash's wording).
    #[error("{0}: ambiguous redirect")]
    AmbiguousRedirect(String),
}

/// The fields of one word, in order; a word can become none (`$EMPTY`) or many (`*.conf`).
pub fn expand_word(word: &Word, env: &dyn Env, lister: &dyn Lister) -> Vec<OsString> {
    fields(word, env, true)
        .into_iter()
        .flat_map(|f| pathnames(f, lister))
        .map(OsString::from_vec)
        .collect()
}

/// All the words of a command, expanded: its argv.
pub fn expand_words(words: &[Word], env: &dyn Env, lister: &dyn Lister) -> Vec<OsString> {
    words
        .iter()
        .flat_map(|w| expand_word(w, env, lister))
        .collect()
}

/// A redirect's file name: the word must expand to exactly one field.
pub fn expand_redirect_target(
    word: &Word,
    env: &dyn Env,
    lister: &dyn Lister,
) -> Result<OsString, ExpandError> {
    let mut fields = expand_word(word, env, lister);
    match fields.pop() {
        Some(f) if fields.is_empty() => Ok(f),
        _ => Err(ExpandError::AmbiguousRedirect(word.to_string())),
    }
}

/// An assignment's value (`A=$x`, also `export A=$x`): tilde and parameters, but no field
/// splitting and no globbing, so it is always exactly one string.
pub fn expand_assignment(value: &Word, env: &dyn Env) -> OsString {
    let bytes = fields(value, env, false)
        .into_iter()
        .next()
        .map(|f| f.bytes)
        .unwrap_or_default();
    OsString::from_vec(bytes)
}

/// A field being built: its bytes, and for each whether it was quoted (literal to globbing).
#[derive(Debug, Default)]
struct Field {
    bytes: Vec<u8>,
    quoted: Vec<bool>,
}

impl Field {
    fn push(&mut self, bytes: &[u8], quoted: bool) {
        self.bytes.extend_from_slice(bytes);
        self.quoted.resize(self.bytes.len(), quoted);
    }
}

/// Splits a word into fields as sh does. With `split` off (assignments), the result is one
/// field and everything in it is literal.
fn fields(word: &Word, env: &dyn Env, split: bool) -> Vec<Field> {
    let ifs = env
        .var(b"IFS")
        .map_or_else(|| b" \t\n".to_vec(), OsString::into_vec);
    let mut s = Splitter {
        ifs,
        out: Vec::new(),
        cur: Field::default(),
        exists: false,
        after_blank: false,
    };
    for part in &word.parts {
        let (value, quoted) = match &part.kind {
            PartKind::Bare(b) => (b.clone(), !split),
            PartKind::Quoted(b) => (b.clone(), true),
            PartKind::Tilde(user) => (tilde(user, env), true),
            PartKind::Param { name, quoted } => (
                env.var(name).map(OsString::into_vec).unwrap_or_default(),
                *quoted || !split,
            ),
            PartKind::Status { quoted } => (
                env.last_status().to_string().into_bytes(),
                *quoted || !split,
            ),
        };
        match &part.kind {
            PartKind::Param { .. } | PartKind::Status { .. } if !quoted => s.split(&value),
            _ => s.literal(&value, quoted),
        }
    }
    if s.exists || !split {
        s.out.push(s.cur);
    }
    s.out
}

/// Field splitting state (POSIX 2.6.5): IFS blanks separate and are trimmed, other IFS bytes
/// separate one field each (`a::b` is three with IFS=:), a blank run around one counts once.
struct Splitter {
    ifs: Vec<u8>,
    out: Vec<Field>,
    cur: Field,
    /// The current field exists even if empty (`''`, `"$empty"`).
    exists: bool,
    /// A blank has just ended a field: a following non-blank IFS byte belongs to that break.
    after_blank: bool,
}

impl Splitter {
    fn literal(&mut self, bytes: &[u8], quoted: bool) {
        self.cur.push(bytes, quoted);
        self.exists = true;
        self.after_blank = false;
    }

    fn end_field(&mut self) {
        self.out.push(std::mem::take(&mut self.cur));
        self.exists = false;
    }

    fn split(&mut self, value: &[u8]) {
        for &c in value {
            if !self.ifs.contains(&c) {
                self.literal(&[c], false);
            } else if matches!(c, b' ' | b'\t' | b'\n') {
                if self.exists {
                    self.end_field();
                    self.after_blank = true;
                }
            } else if self.after_blank {
                self.after_blank = false;
            } else {
                self.end_field();
            }
        }
    }
}

/// `~` is HOME, `~+` PWD, `~-` OLDPWD, `~user` that user's home; unknown ones stay as typed.
fn tilde(user: &[u8], env: &dyn Env) -> Vec<u8> {
    let value = match user {
        b"" => env.home(),
        b"+" => env.var(b"PWD"),
        b"-" => env.var(b"OLDPWD"),
        u => env.user_home(u),
    };
    value
        .map(OsString::into_vec)
        .unwrap_or_else(|| [b"~", user].concat())
}

/// Pathname expansion of one field: the sorted matches, or the field itself if it has no
/// wildcard or nothing matches (bash without nullglob).
fn pathnames(field: Field, lister: &dyn Lister) -> Vec<Vec<u8>> {
    // Components split at every `/`, quoted or not: a slash never matches a wildcard.
    let mut comps: Vec<(Pattern, &[u8])> = Vec::new();
    let mut from = 0;
    for i in 0..=field.bytes.len() {
        if i == field.bytes.len() || field.bytes[i] == b'/' {
            let bytes = &field.bytes[from..i];
            comps.push((Pattern::new(bytes, &field.quoted[from..i]), bytes));
            from = i + 1;
        }
    }
    let Some(last_magic) = comps.iter().rposition(|(p, _)| p.has_magic()) else {
        return vec![field.bytes];
    };
    let mut paths: Vec<Vec<u8>> = vec![Vec::new()];
    for (i, (pattern, text)) in comps.iter().enumerate() {
        if i > 0 {
            paths.iter_mut().for_each(|p| p.push(b'/'));
        }
        if !pattern.has_magic() {
            paths.iter_mut().for_each(|p| p.extend_from_slice(text));
            continue;
        }
        paths = paths
            .iter()
            .flat_map(|dir| matches_in(dir, pattern, lister))
            .collect();
        if paths.is_empty() {
            return vec![field.bytes];
        }
    }
    // Literal components after the last wildcard were not listed: check they exist.
    if last_magic + 1 < comps.len() {
        paths.retain(|p| exists(p, lister));
    }
    if paths.is_empty() {
        return vec![field.bytes];
    }
    paths.sort();
    paths
}

/// `dir` (as typed so far, empty for the current directory) joined with each matching name.
fn matches_in(dir: &[u8], pattern: &Pattern, lister: &dyn Lister) -> Vec<Vec<u8>> {
    let listed = if dir.is_empty() { b"." } else { dir };
    let Some(names) = lister.list(Path::new(OsStr::from_bytes(listed))) else {
        return Vec::new();
    };
    names
        .iter()
        .map(|n| n.as_bytes())
        // A name with a slash would be another path: a listing that gives one is broken.
        .filter(|n| !n.is_empty() && *n != b"." && *n != b".." && !n.contains(&b'/'))
        .filter(|n| !n.starts_with(b".") || pattern.starts_with_dot())
        .filter(|n| pattern.matches(n))
        .map(|n| [dir, n].concat())
        .collect()
}

/// Whether `path` names something, asked through listings only: a trailing `/` (or a last
/// component `.`/`..`) needs a directory, otherwise the parent must list the name.
fn exists(path: &[u8], lister: &dyn Lister) -> bool {
    let as_path = |b: &[u8]| Path::new(OsStr::from_bytes(b)).to_path_buf();
    let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => (&b"."[..], path),
    };
    if name.is_empty() || name == b"." || name == b".." {
        return lister.list(&as_path(path)).is_some();
    }
    lister
        .list(&as_path(parent))
        .is_some_and(|names| names.iter().any(|n| n.as_bytes() == name))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::syntax::parse::parse;
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    /// Variables, `$?` and HOME for tests.
    #[derive(Default)]
    pub struct TestEnv {
        pub vars: HashMap<Vec<u8>, Vec<u8>>,
        pub status: i32,
    }

    impl Env for TestEnv {
        fn var(&self, name: &[u8]) -> Option<OsString> {
            self.vars.get(name).cloned().map(OsString::from_vec)
        }
        fn last_status(&self) -> i32 {
            self.status
        }
        fn home(&self) -> Option<OsString> {
            self.var(b"HOME")
        }
        fn user_home(&self, user: &[u8]) -> Option<OsString> {
            (user == b"root").then(|| OsString::from("/root"))
        }
    }

    /// An in-memory tree: directory path -> names. Built from file paths; relative ones are
    /// under `.`, and a path ending in `/` is an empty directory.
    #[derive(Default)]
    pub struct Tree(BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>);

    impl Tree {
        pub fn new(paths: &[&[u8]]) -> Tree {
            let mut t = Tree::default();
            for path in paths {
                let (root, rest): (&[u8], &[u8]) = match path.strip_prefix(b"/") {
                    Some(r) => (b"/", r),
                    None => (b".", path),
                };
                let mut dir = root.to_vec();
                t.0.entry(dir.clone()).or_default();
                for name in rest.split(|&b| b == b'/').filter(|n| !n.is_empty()) {
                    t.0.entry(dir.clone()).or_default().insert(name.to_vec());
                    dir = if dir == b"." {
                        name.to_vec()
                    } else if dir == b"/" {
                        [b"/", name].concat()
                    } else {
                        [&dir[..], b"/", name].concat()
                    };
                }
                if path.ends_with(b"/") {
                    t.0.entry(dir).or_default();
                }
            }
            t
        }
    }

    impl Lister for Tree {
        fn list(&self, dir: &Path) -> Option<Vec<OsString>> {
            let mut d = dir.as_os_str().as_bytes();
            while let Some(rest) = d.strip_prefix(b"./") {
                d = rest;
            }
            while d.len() > 1 && d.ends_with(b"/") {
                d = &d[..d.len() - 1];
            }
            let d = if d.is_empty() { b"." } else { d };
            let names = self.0.get(d)?;
            Some(names.iter().cloned().map(OsString::from_vec).collect())
        }
    }

    fn env() -> TestEnv {
        let mut e = TestEnv {
            status: 3,
            ..TestEnv::default()
        };
        for (k, v) in [
            ("HOME", "/home/u"),
            ("PWD", "/work"),
            ("X", "x"),
            ("SPACED", "  a  b  "),
            ("STAR", "*.conf"),
            ("EMPTY", ""),
            ("SUB", "$(rm -rf ~)"),
            ("PATHS", "/containers/*/etc/os-release"),
        ] {
            e.vars.insert(k.into(), v.into());
        }
        e
    }

    fn tree() -> Tree {
        Tree::new(&[
            b"/containers/web/etc/os-release",
            b"/containers/web/etc/nginx.conf",
            b"/containers/web/etc/.hidden.conf",
            b"/containers/web/etc/resolv.conf",
            b"/containers/db/etc/os-release",
            b"/containers/db/etc/my.cnf",
            b"/containers/empty/",
            b"/containers/cache/tmp/",
            b"a.conf",
            b"b.conf",
            b".env",
            b"dir/x",
            b"[x].txt",
            // Hostile names.
            b"/h/-rf",
            b"/h/new\nline",
            b"/h/$(touch pwned)",
            b"/h/a b",
            b"/h/`id`",
            b"/h/*",
            b"/h/bad\xffbyte",
            b"/h/;ls",
        ])
    }

    /// Expands every word of `line` and shows each field in `<...>`, escaped like Word's Display.
    fn expand_line(line: &[u8], env: &TestEnv) -> String {
        let list = match parse(line) {
            Ok(l) => l,
            Err(e) => return format!("parse error: {e}"),
        };
        let words = &list.items[0].first.commands[0].words;
        expand_words(words, env, &tree())
            .iter()
            .map(|f| format!("<{}>", show(f.as_bytes())))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn show(b: &[u8]) -> String {
        struct S<'a>(&'a [u8]);
        impl std::fmt::Display for S<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                crate::syntax::ast::write_bytes(f, self.0)
            }
        }
        S(b).to_string()
    }

    #[test]
    fn table() {
        let table: &[(&str, &str)] = &[
            // Quote removal.
            ("echo a 'b c' \"d e\" f\\ g", "<echo> <a> <b c> <d e> <f g>"),
            ("echo '' \"\" x", "<echo> <> <> <x>"),
            // Tilde.
            ("echo ~ ~/x ~root ~root/y ~nobody ~+ a~", "<echo> </home/u> </home/u/x> </root> </root/y> <~nobody> </work> <a~>"),
            ("echo '~' \\~ ~\"/x\" \"~\"", "<echo> <~> <~> <~/x> <~>"),
            // Parameters.
            ("echo $X ${X}y \"$X\" $X$X $?", "<echo> <x> <xy> <x> <xx> <3>"),
            ("echo $NOPE \"$NOPE\" a$NOPE", "<echo> <> <a>"),
            ("echo $EMPTY", "<echo>"),
            ("echo $X/$?", "<echo> <x/3>"),
            ("echo $ a$ \"$\" $/", "<echo> <$> <a$> <$> <$/>"),
            // Field splitting only when unquoted.
            ("echo $SPACED", "<echo> <a> <b>"),
            ("echo \"$SPACED\"", "<echo> <  a  b  >"),
            ("echo x$SPACED'y'", "<echo> <x> <a> <b> <y>"),
            // Values are not parsed again: `$(...)` in a variable is text.
            ("echo $SUB", "<echo> <$(rm> <-rf> <~)>"),
            ("echo \"$SUB\"", "<echo> <$(rm -rf ~)>"),
            // Globs over the tree, sorted, hidden names only for a leading dot.
            ("ls /containers/*/etc/os-release", "<ls> </containers/db/etc/os-release> </containers/web/etc/os-release>"),
            ("cat /containers/web/etc/*.conf", "<cat> </containers/web/etc/nginx.conf> </containers/web/etc/resolv.conf>"),
            ("cat /containers/web/etc/.*.conf", "<cat> </containers/web/etc/.hidden.conf>"),
            ("ls *.conf", "<ls> <a.conf> <b.conf>"),
            ("ls ./*.conf", "<ls> <./a.conf> <./b.conf>"),
            ("ls .*", "<ls> <.env>"),
            ("ls /containers/?b", "<ls> </containers/db>"),
            ("ls /containers/[!w]*", "<ls> </containers/cache> </containers/db> </containers/empty>"),
            ("ls /containers/[c-e]*/", "<ls> </containers/cache/> </containers/db/> </containers/empty/>"),
            ("ls /containers/*/tmp", "<ls> </containers/cache/tmp>"),
            ("ls /containers/*/etc/", "<ls> </containers/db/etc/> </containers/web/etc/>"),
            ("ls d*/x", "<ls> <dir/x>"),
            ("ls /containers/**/etc", "<ls> </containers/db/etc> </containers/web/etc>"),
            // No match: the word stays, quotes removed.
            ("ls /containers/*/nope", "<ls> </containers/*/nope>"),
            ("ls /nowhere/*.c '*'.conf", "<ls> </nowhere/*.c> <*.conf>"),
            ("ls \\*.conf \"*\".conf", "<ls> <*.conf> <*.conf>"),
            ("ls [x].txt", "<ls> <[x].txt>"),
            ("ls [x", "<ls> <[x>"),
            // Unquoted values are globbed, quoted ones not.
            ("ls $STAR \"$STAR\"", "<ls> <a.conf> <b.conf> <*.conf>"),
            ("ls $PATHS", "<ls> </containers/db/etc/os-release> </containers/web/etc/os-release>"),
            // A tilde's value is never globbed or split.
            ("echo ~/*", "<echo> </home/u/*>"),
            // Hostile names come back whole, one argument each, never expanded again.
            (
                "rm /h/*",
                "<rm> </h/$(touch pwned)> </h/*> </h/-rf> </h/;ls> </h/`id`> </h/a b> </h/bad\\xffbyte> </h/new\\x0aline>",
            ),
            ("rm /h/-*", "<rm> </h/-rf>"),
            ("rm /h/*\\ *", "<rm> </h/$(touch pwned)> </h/a b>"),
            ("rm /h/new?line", "<rm> </h/new\\x0aline>"),
            ("rm /h/\\**", "<rm> </h/*>"),
            ("rm /h/bad?byte", "<rm> </h/bad\\xffbyte>"),
            ("rm /h/$'bad\\xff'*", "<rm> </h/bad\\xffbyte>"),
        ];
        let env = env();
        for (line, want) in table {
            assert_eq!(&expand_line(line.as_bytes(), &env), want, "line: {line}");
        }
    }

    #[test]
    fn ifs() {
        // (IFS, value, fields of `$V`) as bash 5.2 gives them.
        let table: &[(Option<&str>, &str, &[&str])] = &[
            (None, " a  b ", &["a", "b"]),
            (None, "a\tb\nc", &["a", "b", "c"]),
            (Some(":"), ":a::b:", &["", "a", "", "b"]),
            (Some(" :"), " a : b :: c ", &["a", "b", "", "c"]),
            (Some(""), " a b ", &[" a b "]),
            (Some(","), "a b,c", &["a b", "c"]),
        ];
        for (ifs, value, want) in table {
            let mut e = env();
            if let Some(ifs) = ifs {
                e.vars.insert(b"IFS".to_vec(), ifs.as_bytes().to_vec());
            }
            e.vars.insert(b"V".to_vec(), value.as_bytes().to_vec());
            let list = parse(b"$V").unwrap();
            let got = expand_word(&list.items[0].first.commands[0].words[0], &e, &tree());
            let got: Vec<_> = got.iter().map(|f| f.to_str().unwrap()).collect();
            assert_eq!(&got, want, "IFS={ifs:?} value={value:?}");
        }
    }

    #[test]
    fn redirect_targets_and_assignments() {
        let e = env();
        let t = tree();
        let word = |line: &str| {
            let list = parse(line.as_bytes()).unwrap();
            list.items[0].first.commands[0].words[0].clone()
        };
        assert_eq!(
            expand_redirect_target(&word("/h/new*"), &e, &t),
            Ok(OsString::from_vec(b"/h/new\nline".to_vec()))
        );
        assert_eq!(
            expand_redirect_target(&word("out.txt"), &e, &t),
            Ok(OsString::from("out.txt"))
        );
        assert_eq!(
            expand_redirect_target(&word("*.conf"), &e, &t)
                .unwrap_err()
                .to_string(),
            "*.conf: ambiguous redirect"
        );
        assert_eq!(
            expand_redirect_target(&word("$EMPTY"), &e, &t)
                .unwrap_err()
                .to_string(),
            "$EMPTY: ambiguous redirect"
        );
        assert_eq!(
            expand_redirect_target(&word("$SPACED"), &e, &t)
                .unwrap_err()
                .to_string(),
            "$SPACED: ambiguous redirect"
        );
        let list = parse(b"A=~/$SPACED*.conf B= C=$?'x'").unwrap();
        let values: Vec<_> = list.items[0].first.commands[0]
            .assignments
            .iter()
            .map(|a| expand_assignment(&a.value, &e))
            .collect();
        assert_eq!(values, ["/home/u/  a  b  *.conf", "", "3x"]);
    }
}
