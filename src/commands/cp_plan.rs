//! `cp`'s top-level decisions, as GNU coreutils 9.1 makes them, with no I/O: which operands are
//! sources and which is the destination, where each source goes (`DIR/BASENAME` or the typed
//! destination), and which sources are refused with which message. The caller looks the operands
//! up first and does the copying afterwards; the recursive walk asks [`clash`] and
//! [`into_itself`] for each entry. Messages are GNU's, names quoted as GNU quotes them ([`quote`]).
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// What a path is, as far as cp's decisions go (already looked up by the caller).
///
/// Sources are looked up as the dereference options say; the destination always with links
/// followed (GNU stats it), so a `Symlink` destination means a dangling link. A name with a
/// trailing slash is looked up as the name without it (`file/` is `File`, or `Other` when the
/// lookup failed): the slash rules are applied here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Missing,
    File,
    Dir,
    /// Only when not dereferenced.
    Symlink,
    Other,
}

/// One operand as typed, with what stat (or lstat) found there.
#[derive(Debug, Clone)]
pub struct Operand {
    pub text: OsString,
    pub node: Node,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Opts {
    pub recursive: bool,
    /// -T
    pub no_target_dir: bool,
    /// -t DIR was used: dest is the directory.
    pub target_dir_given: bool,
}

/// One top-level copy to perform: operand `src` (index into the sources) to the path `dest` (as
/// text, built from the typed destination, as GNU shows it with -v). For a directory the caller
/// still checks [`into_itself`] (and, by identity, that it is not the same file) on absolute paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub src: usize,
    pub dest: OsString,
}

/// A per-source problem: reported as `cp: {message}`, the run goes on. Status 1, except for a
/// `warning` (a source given twice), which GNU reports and skips with status 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub src: usize,
    pub message: String,
    pub warning: bool,
}

/// A problem with the whole command line: reported as `cp: {message}`, nothing is copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal {
    pub message: String,
    /// GNU adds "Try 'cp --help'..." (both ways the status is 1).
    pub usage: bool,
}

impl Skip {
    fn error(src: usize, message: String) -> Self {
        Skip {
            src,
            message,
            warning: false,
        }
    }
    fn warning(src: usize, message: String) -> Self {
        let message = format!("warning: {message}");
        Skip {
            src,
            message,
            warning: true,
        }
    }
}

impl Fatal {
    fn usage(message: String) -> Self {
        Fatal {
            message,
            usage: true,
        }
    }
    fn plain(message: String) -> Self {
        Fatal {
            message,
            usage: false,
        }
    }
}

fn cannot_combine() -> Fatal {
    Fatal::plain("cannot combine --target-directory (-t) and --no-target-directory (-T)".into())
}

fn missing_operand() -> Fatal {
    Fatal::usage("missing file operand".into())
}

fn missing_destination(after: &OsStr) -> Fatal {
    Fatal::usage(format!(
        "missing destination file operand after {}",
        quote(after)
    ))
}

/// Splits the command line's operands into sources and destination (the last operand, or -t's
/// DIR) before anything is looked up, failing as GNU does when there are too few.
pub fn split_operands<'a>(
    operands: &'a [OsString],
    target_dir: Option<&'a OsStr>,
    no_target_dir: bool,
) -> Result<(&'a [OsString], &'a OsStr), Fatal> {
    if no_target_dir && target_dir.is_some() {
        return Err(cannot_combine());
    }
    match (target_dir, operands) {
        (_, []) => Err(missing_operand()),
        (Some(dir), _) => Ok((operands, dir)),
        (None, [one]) => Err(missing_destination(one)),
        (None, [sources @ .., last]) => Ok((sources, last.as_os_str())),
    }
}

/// Plans the top-level copies. Steps and skips both name their source, so they can be reported
/// in operand order, as GNU does.
///
/// -n is left to the copier ([`clash`]); the one difference it makes here: GNU skips
/// `cp -n -T FILE DIR` silently, while this reports the clash.
pub fn plan(
    sources: &[Operand],
    dest: &Operand,
    opts: Opts,
) -> Result<(Vec<Step>, Vec<Skip>), Fatal> {
    let into_dir = target(sources, dest, opts)?;
    let mut steps = Vec::new();
    let mut skips = Vec::new();
    // Sources seen so far, by name: GNU skips one given twice (it checks only when copying into
    // a directory, where several sources can go).
    let mut seen: Vec<(bool, Vec<&[u8]>)> = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let s = src.text.as_os_str();
        let mut skip = |message: String| skips.push(Skip::error(i, message));
        if let Some(err) = stat_error(src) {
            skip(format!("cannot stat {}: {err}", quote(s)));
            continue;
        }
        if src.node == Node::Dir && !opts.recursive {
            skip(format!("-r not specified; omitting directory {}", quote(s)));
            continue;
        }
        if into_dir {
            let key = components(s);
            if seen.contains(&key) {
                let what = if src.node == Node::Dir {
                    "directory"
                } else {
                    "file"
                };
                let message = format!("source {what} {} specified more than once", quote(s));
                skips.push(Skip::warning(i, message));
                continue;
            }
            seen.push(key);
        }
        let to = if into_dir {
            let base = base_name(s.as_bytes());
            let to = OsString::from_vec(join(dest.text.as_bytes(), base));
            if base.is_empty() {
                // `cp -r / DIR`: GNU makes the directory "" relative to DIR, which fails so.
                skip(format!(
                    "cannot create directory {}: No such file or directory",
                    quote(&to)
                ));
                continue;
            }
            to
        } else {
            match onto(src, dest) {
                Ok(()) => dest.text.clone(),
                Err(message) => {
                    skip(message);
                    continue;
                }
            }
        };
        if components(s) == components(&to) {
            skip(format!("{} and {} are the same file", quote(s), quote(&to)));
            continue;
        }
        steps.push(Step { src: i, dest: to });
    }
    Ok((steps, skips))
}

/// The command-line checks, in GNU's order; says whether the sources go into `dest`.
fn target(sources: &[Operand], dest: &Operand, opts: Opts) -> Result<bool, Fatal> {
    if opts.no_target_dir && opts.target_dir_given {
        return Err(cannot_combine());
    }
    match sources {
        [] if opts.target_dir_given => return Err(missing_operand()),
        [] => return Err(missing_destination(&dest.text)),
        // The third operand, which may be the destination.
        [_, second @ ..] if opts.no_target_dir && !second.is_empty() => {
            let extra = second.get(1).map_or(&dest.text, |o| &o.text);
            return Err(Fatal::usage(format!("extra operand {}", quote(extra))));
        }
        _ => {}
    }
    let why = match dest.node {
        Node::Dir => return Ok(!opts.no_target_dir),
        Node::Missing | Node::Symlink => "No such file or directory",
        Node::File | Node::Other => "Not a directory",
    };
    let d = quote(&dest.text);
    if opts.target_dir_given {
        Err(Fatal::plain(format!("target directory {d}: {why}")))
    } else if sources.len() > 1 {
        Err(Fatal::plain(format!("target {d}: {why}")))
    } else {
        Ok(false)
    }
}

/// Why looking the source up failed, if it did: missing, or a trailing slash on a non-directory.
fn stat_error(src: &Operand) -> Option<&'static str> {
    match src.node {
        Node::Missing => Some("No such file or directory"),
        Node::Dir => None,
        // With the slash the link is followed, so a link still here is dangling.
        Node::Symlink if ends_with_slash(&src.text) => Some("No such file or directory"),
        Node::File | Node::Other if ends_with_slash(&src.text) => Some("Not a directory"),
        _ => None,
    }
}

/// Copying onto the typed destination itself (one source, not into a directory): GNU's
/// trailing-slash and dangling-link cases, then the type clash.
fn onto(src: &Operand, dest: &Operand) -> Result<(), String> {
    let d = quote(&dest.text);
    let slash = ends_with_slash(&dest.text);
    let making = match src.node {
        Node::Dir => "directory",
        Node::Symlink => "symbolic link",
        _ => "regular file",
    };
    match dest.node {
        Node::Missing if slash => match src.node {
            Node::Dir => Ok(()),
            Node::Symlink => Err(format!(
                "cannot create {making} {d}: No such file or directory"
            )),
            _ => Err(format!("cannot create {making} {d}: Not a directory")),
        },
        Node::Symlink if slash => match src.node {
            Node::Dir | Node::Symlink => Err(format!("cannot create {making} {d}: File exists")),
            _ => Err(format!("cannot create {making} {d}: Not a directory")),
        },
        Node::Symlink if matches!(src.node, Node::File | Node::Other) => {
            Err(format!("not writing through dangling symlink {d}"))
        }
        Node::File | Node::Other if slash => Err(format!("cannot stat {d}: Not a directory")),
        _ => match clash(src, dest, false) {
            Clash::Error(message) => Err(message),
            Clash::Proceed | Clash::Skip => Ok(()),
        },
    }
}

/// What to do when the destination of one file or directory copy already exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clash {
    Proceed,
    /// -n and a non-directory source: GNU skips it silently, status unchanged.
    Skip,
    Error(String),
}

/// Decides what to do when the destination of one copy exists (`dest.node` as lstat finds it;
/// `Missing` means it does not). Directories merge; a type mismatch is an error, with or without
/// -n, except a non-directory onto a directory under -n, which GNU skips silently.
pub fn clash(src: &Operand, dest: &Operand, no_clobber: bool) -> Clash {
    let src_dir = src.node == Node::Dir;
    match dest.node {
        Node::Missing => Clash::Proceed,
        Node::Dir if src_dir => Clash::Proceed,
        _ if src_dir => Clash::Error(format!(
            "cannot overwrite non-directory {} with directory {}",
            quote(&dest.text),
            quote(&src.text)
        )),
        _ if no_clobber => Clash::Skip,
        Node::Dir => Clash::Error(format!(
            "cannot overwrite directory {} with non-directory",
            quote(&dest.text)
        )),
        _ => Clash::Proceed,
    }
}

/// For the recursive walk: is `dest_abs` strictly inside the directory `src_abs`? Then GNU
/// refuses the copy ([`into_itself_message`]). Equal paths are the same-file case ([`same_path`]).
/// Both absolute; `..` is resolved lexically, as the shell's paths are.
pub fn into_itself(src_abs: &OsStr, dest_abs: &OsStr) -> bool {
    let (s, d) = (resolved(src_abs), resolved(dest_abs));
    d.len() > s.len() && d.starts_with(&s)
}

/// Whether two absolute paths name the same place, lexically (see [`into_itself`]).
pub fn same_path(a_abs: &OsStr, b_abs: &OsStr) -> bool {
    resolved(a_abs) == resolved(b_abs)
}

/// GNU's message for [`into_itself`], with the names as typed or shown.
pub fn into_itself_message(src: &OsStr, dest: &OsStr) -> String {
    format!(
        "cannot copy a directory, {}, into itself, {}",
        quote(src),
        quote(dest)
    )
}

/// GNU's message for a source that is its own destination.
pub fn same_file_message(src: &OsStr, dest: &OsStr) -> String {
    format!("{} and {} are the same file", quote(src), quote(dest))
}

fn ends_with_slash(p: &OsStr) -> bool {
    p.as_bytes().last() == Some(&b'/')
}

/// The name a source gets inside the target directory: its last component, trailing slashes
/// dropped; `..` becomes `.` (GNU will not copy into `DIR/..`); `/` has none.
fn base_name(p: &[u8]) -> &[u8] {
    let end = p.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
    let p = &p[..end];
    let base = &p[p.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1)..];
    if base == b".." {
        b"."
    } else {
        base
    }
}

/// `DIR/BASE` with exactly one slash, as gnulib's `file_name_concat`: `d//` + `a` is `d/a`,
/// but `/` and `//` stay as they are.
fn join(dir: &[u8], base: &[u8]) -> Vec<u8> {
    let end = dir
        .iter()
        .rposition(|&b| b != b'/')
        .map_or(dir.len(), |i| i + 1);
    let mut out = dir[..end].to_vec();
    if out.last() != Some(&b'/') {
        out.push(b'/');
    }
    out.extend_from_slice(base);
    out
}

/// A path's components without empty ones and `.`, and whether it is absolute: `./a//b/` and
/// `a/b` are the same file whatever the links are. `..` is kept (it may cross a link).
fn components(p: &OsStr) -> (bool, Vec<&[u8]>) {
    let b = p.as_bytes();
    let parts = b
        .split(|&c| c == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    (b.first() == Some(&b'/'), parts)
}

/// An absolute path's components with `..` resolved lexically.
fn resolved(p: &OsStr) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = Vec::new();
    for c in components(p).1 {
        if c == b".." {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out
}

pub use crate::output::quote;

#[cfg(test)]
mod tests {
    use super::*;
    use Node::{Dir as D, File as F, Missing as M, Other as O, Symlink as L};

    fn op(text: &str, node: Node) -> Operand {
        Operand {
            text: text.into(),
            node,
        }
    }

    /// Options from cp's letters: r, T, t (the destination came from -t).
    fn opts(letters: &str) -> Opts {
        Opts {
            recursive: letters.contains('r'),
            no_target_dir: letters.contains('T'),
            target_dir_given: letters.contains('t'),
        }
    }

    enum Want {
        /// Steps (source, dest) and skips (source, message); a "warning: " skip keeps status 0.
        Plan(
            &'static [(usize, &'static str)],
            &'static [(usize, &'static str)],
        ),
        Fatal(&'static str, bool),
    }
    use Want::{Fatal as Fail, Plan};

    type Case = (
        &'static str,
        &'static [(&'static str, Node)],
        (&'static str, Node),
        Want,
    );

    /// (options, sources, destination, outcome): each row checked against GNU coreutils 9.1
    /// `cp` in a scratch directory (`L` as a destination is a dangling link).
    #[rustfmt::skip]
    const CASES: &[Case] = &[
        // The command line.
        ("", &[], ("file", F), Fail("missing destination file operand after 'file'", true)),
        ("t", &[], ("dir", D), Fail("missing file operand", true)),
        ("Tt", &[("file", F)], ("dir", D), Fail("cannot combine --target-directory (-t) and --no-target-directory (-T)", false)),
        ("T", &[("a", F), ("b", F), ("c", F)], ("d", D), Fail("extra operand 'c'", true)),
        ("T", &[("file", F), ("f2", F)], ("dir", D), Fail("extra operand 'dir'", true)),
        ("", &[("file", F), ("f2", F)], ("nope", M), Fail("target 'nope': No such file or directory", false)),
        ("", &[("file", F), ("f2", F)], ("file", F), Fail("target 'file': Not a directory", false)),
        ("", &[("file", F), ("f2", F)], ("dangling", L), Fail("target 'dangling': No such file or directory", false)),
        ("", &[("file", F), ("f2", F)], ("f2/", O), Fail("target 'f2/': Not a directory", false)),
        ("t", &[("file", F)], ("nope", M), Fail("target directory 'nope': No such file or directory", false)),
        ("t", &[("file", F)], ("file/", O), Fail("target directory 'file/': Not a directory", false)),
        // Into a directory: DIR/BASENAME, one slash.
        ("", &[("file", F)], ("dir", D), Plan(&[(0, "dir/file")], &[])),
        ("", &[("file", F)], ("dir/", D), Plan(&[(0, "dir/file")], &[])),
        ("", &[("file", F)], ("dir//", D), Plan(&[(0, "dir/file")], &[])),
        ("", &[("file", F)], ("/tmp/cpt/d2/", D), Plan(&[(0, "/tmp/cpt/d2/file")], &[])),
        ("", &[("file", F)], ("//tmp/cpt/d2", D), Plan(&[(0, "//tmp/cpt/d2/file")], &[])),
        ("", &[("a/file", F)], ("/", D), Plan(&[(0, "/file")], &[])),
        ("", &[("a/file", F)], ("//", D), Plan(&[(0, "//file")], &[])),
        ("r", &[("dir/", D)], ("d2", D), Plan(&[(0, "d2/dir")], &[])),
        ("r", &[("dir////", D)], ("d2//", D), Plan(&[(0, "d2/dir")], &[])),
        ("r", &[("a/b/", D)], ("d2", D), Plan(&[(0, "d2/b")], &[])),
        ("r", &[(".", D)], ("d2", D), Plan(&[(0, "d2/.")], &[])),
        ("r", &[("dir/..", D)], ("d2", D), Plan(&[(0, "d2/.")], &[])),
        ("r", &[("..", D)], ("d2/", D), Plan(&[(0, "d2/.")], &[])),
        ("r", &[("/", D)], ("d2", D), Plan(&[], &[(0, "cannot create directory 'd2/': No such file or directory")])),
        ("", &[("/", D)], ("d2", D), Plan(&[], &[(0, "-r not specified; omitting directory '/'")])),
        ("", &[("lnk", L)], ("d2", D), Plan(&[(0, "d2/lnk")], &[])),
        ("t", &[("file", F), ("f2", F)], ("dir", D), Plan(&[(0, "dir/file"), (1, "dir/f2")], &[])),
        // Per-source problems; the others are still copied.
        ("", &[("dir", D), ("file", F)], ("d2", D), Plan(&[(1, "d2/file")], &[(0, "-r not specified; omitting directory 'dir'")])),
        ("", &[("missing", M)], ("d2", D), Plan(&[], &[(0, "cannot stat 'missing': No such file or directory")])),
        ("r", &[("missing", M)], ("dir", D), Plan(&[], &[(0, "cannot stat 'missing': No such file or directory")])),
        ("", &[("file/", O)], ("dir", D), Plan(&[], &[(0, "cannot stat 'file/': Not a directory")])),
        ("", &[("dir/in/", F)], ("d2", D), Plan(&[], &[(0, "cannot stat 'dir/in/': Not a directory")])),
        ("", &[("nope/", M)], ("d2", D), Plan(&[], &[(0, "cannot stat 'nope/': No such file or directory")])),
        ("", &[("it's", M)], ("d2", D), Plan(&[], &[(0, "cannot stat \"it's\": No such file or directory")])),
        ("", &[("a b", M)], ("d2", D), Plan(&[], &[(0, "cannot stat 'a b': No such file or directory")])),
        // Sources given twice (by name: `./x`, `x/` and `x//` are `x`).
        ("", &[("file", F), ("file", F), ("f2", F), ("file", F)], ("d2", D), Plan(
            &[(0, "d2/file"), (2, "d2/f2")],
            &[(1, "warning: source file 'file' specified more than once"),
              (3, "warning: source file 'file' specified more than once")],
        )),
        ("", &[("dir/in", F), ("dir/./in", F), ("dir//in", F)], ("d2", D), Plan(
            &[(0, "d2/in")],
            &[(1, "warning: source file 'dir/./in' specified more than once"),
              (2, "warning: source file 'dir//in' specified more than once")],
        )),
        ("r", &[("dir", D), ("dir/", D)], ("d2", D), Plan(&[(0, "d2/dir")], &[(1, "warning: source directory 'dir/' specified more than once")])),
        ("", &[("dir", D), ("dir", D)], ("d2", D), Plan(&[], &[
            (0, "-r not specified; omitting directory 'dir'"),
            (1, "-r not specified; omitting directory 'dir'"),
        ])),
        ("", &[("missing", M), ("missing", M)], ("d2", D), Plan(&[], &[
            (0, "cannot stat 'missing': No such file or directory"),
            (1, "cannot stat 'missing': No such file or directory"),
        ])),
        // A source onto itself.
        ("", &[("file", F)], (".", D), Plan(&[], &[(0, "'file' and './file' are the same file")])),
        ("r", &[("dir", D)], ("./", D), Plan(&[], &[(0, "'dir' and './dir' are the same file")])),
        ("r", &[(".", D)], (".", D), Plan(&[], &[(0, "'.' and './.' are the same file")])),
        ("", &[("file", F)], ("file", F), Plan(&[], &[(0, "'file' and 'file' are the same file")])),
        ("", &[("file", F)], ("./file", F), Plan(&[], &[(0, "'file' and './file' are the same file")])),
        ("rT", &[("dir", D)], ("dir/", D), Plan(&[], &[(0, "'dir' and 'dir/' are the same file")])),
        ("rT", &[("dir/", D)], ("dir", D), Plan(&[], &[(0, "'dir/' and 'dir' are the same file")])),
        // Onto the typed destination.
        ("", &[("file", F)], ("newf", M), Plan(&[(0, "newf")], &[])),
        ("", &[("file", F)], ("f2", F), Plan(&[(0, "f2")], &[])),
        ("r", &[("dir", D)], ("nd", M), Plan(&[(0, "nd")], &[])),
        ("r", &[("dir/", D)], ("nd2//", M), Plan(&[(0, "nd2//")], &[])),
        ("r", &[("dir", D)], ("dst2/", M), Plan(&[(0, "dst2/")], &[])),
        ("", &[("file", F)], ("dst/", M), Plan(&[], &[(0, "cannot create regular file 'dst/': Not a directory")])),
        ("", &[("lnk", L)], ("dst/", M), Plan(&[], &[(0, "cannot create symbolic link 'dst/': No such file or directory")])),
        ("", &[("file", F)], ("f2/", O), Plan(&[], &[(0, "cannot stat 'f2/': Not a directory")])),
        ("r", &[("dir", D)], ("f2/", F), Plan(&[], &[(0, "cannot stat 'f2/': Not a directory")])),
        ("r", &[("dir", D)], ("file", F), Plan(&[], &[(0, "cannot overwrite non-directory 'file' with directory 'dir'")])),
        ("", &[("file", F)], ("dangling", L), Plan(&[], &[(0, "not writing through dangling symlink 'dangling'")])),
        ("", &[("lnk", L)], ("dangling2", L), Plan(&[(0, "dangling2")], &[])),
        ("r", &[("dir", D)], ("dangling3", L), Plan(&[], &[(0, "cannot overwrite non-directory 'dangling3' with directory 'dir'")])),
        ("", &[("file", F)], ("dg6/", L), Plan(&[], &[(0, "cannot create regular file 'dg6/': Not a directory")])),
        ("r", &[("dir", D)], ("dg6/", L), Plan(&[], &[(0, "cannot create directory 'dg6/': File exists")])),
        ("", &[("lnk", L)], ("dg6/", L), Plan(&[], &[(0, "cannot create symbolic link 'dg6/': File exists")])),
        // -T: the destination is never a directory to copy into.
        ("T", &[("file", F)], ("dir", D), Plan(&[], &[(0, "cannot overwrite directory 'dir' with non-directory")])),
        ("T", &[("lnk", L)], ("dir", D), Plan(&[], &[(0, "cannot overwrite directory 'dir' with non-directory")])),
        ("rT", &[("file", F)], ("dir", D), Plan(&[], &[(0, "cannot overwrite directory 'dir' with non-directory")])),
        ("rT", &[("dir", D)], ("file", F), Plan(&[], &[(0, "cannot overwrite non-directory 'file' with directory 'dir'")])),
        ("rT", &[("dir", D)], ("d2", D), Plan(&[(0, "d2")], &[])),
        ("T", &[("dir", D)], ("d2", D), Plan(&[], &[(0, "-r not specified; omitting directory 'dir'")])),
        ("T", &[("missing", M)], ("dir", D), Plan(&[], &[(0, "cannot stat 'missing': No such file or directory")])),
        ("T", &[("file", F)], ("f3", M), Plan(&[(0, "f3")], &[])),
        ("T", &[("file", F)], ("nf2/", M), Plan(&[], &[(0, "cannot create regular file 'nf2/': Not a directory")])),
        ("T", &[("file", F)], ("dangling4", L), Plan(&[], &[(0, "not writing through dangling symlink 'dangling4'")])),
    ];

    #[test]
    fn plan_table() {
        for (letters, srcs, (dtext, dnode), want) in CASES {
            let sources: Vec<Operand> = srcs.iter().map(|(t, n)| op(t, *n)).collect();
            let got = plan(&sources, &op(dtext, *dnode), opts(letters));
            let line = format!("cp -{letters} {srcs:?} {dtext:?}({dnode:?})");
            match (want, got) {
                (Plan(steps, skips), Ok((got_steps, got_skips))) => {
                    let steps: Vec<Step> = steps
                        .iter()
                        .map(|(i, d)| Step {
                            src: *i,
                            dest: d.into(),
                        })
                        .collect();
                    let skips: Vec<Skip> = skips
                        .iter()
                        .map(|(i, m)| Skip {
                            src: *i,
                            message: m.to_string(),
                            warning: m.starts_with("warning: "),
                        })
                        .collect();
                    assert_eq!(got_steps, steps, "{line}");
                    assert_eq!(got_skips, skips, "{line}");
                }
                (Fail(message, usage), Err(f)) => {
                    let want = Fatal {
                        message: message.to_string(),
                        usage: *usage,
                    };
                    assert_eq!(f, want, "{line}");
                }
                (_, got) => panic!("{line}: got {got:?}"),
            }
        }
    }

    type SplitCase = (
        &'static [&'static str],
        Option<&'static str>,
        bool,
        SplitWant,
    );
    type SplitWant = Result<(&'static [&'static str], &'static str), (&'static str, bool)>;

    /// (operands, -t DIR, -T, outcome).
    #[rustfmt::skip]
    const SPLIT_CASES: &[SplitCase] = &[
        (&[], None, false, Err(("missing file operand", true))),
        (&[], None, true, Err(("missing file operand", true))),
        (&["file"], None, false, Err(("missing destination file operand after 'file'", true))),
        (&["file"], None, true, Err(("missing destination file operand after 'file'", true))),
        (&[], Some("dir"), false, Err(("missing file operand", true))),
        (&["file"], Some("dir"), true, Err(("cannot combine --target-directory (-t) and --no-target-directory (-T)", false))),
        (&["a", "b"], None, false, Ok((&["a"], "b"))),
        (&["a", "b", "c"], None, false, Ok((&["a", "b"], "c"))),
        (&["a", "b"], Some("dir"), false, Ok((&["a", "b"], "dir"))),
    ];

    #[test]
    fn split_operands_table() {
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        for (operands, tdir, no_t, want) in SPLIT_CASES {
            let operands = os(operands);
            let got = split_operands(&operands, tdir.map(OsStr::new), *no_t);
            match (want, got) {
                (Ok((srcs, dest)), Ok((gs, gd))) => {
                    assert_eq!(gs, os(srcs).as_slice());
                    assert_eq!(gd, OsStr::new(dest));
                }
                (Err((m, u)), Err(f)) => {
                    assert_eq!(
                        f,
                        Fatal {
                            message: m.to_string(),
                            usage: *u
                        }
                    )
                }
                (_, got) => panic!("{operands:?} {tdir:?}: got {got:?}"),
            }
        }
    }

    #[test]
    fn clash_table() {
        let err = |m: &str| Clash::Error(m.to_string());
        #[rustfmt::skip]
        let cases = [
            (("f", F), ("g", M), false, Clash::Proceed),
            (("f", F), ("g", F), false, Clash::Proceed),
            (("f", F), ("g", F), true, Clash::Skip),
            (("f", F), ("g", L), false, Clash::Proceed), // written through, as GNU
            (("l", L), ("g", F), false, Clash::Proceed),
            (("d", D), ("e", D), false, Clash::Proceed),
            (("d", D), ("e", D), true, Clash::Proceed), // merged, -n or not
            (("s/x", D), ("t/x", L), false, err("cannot overwrite non-directory 't/x' with directory 's/x'")),
            (("dir", D), ("file", F), true, err("cannot overwrite non-directory 'file' with directory 'dir'")),
            (("s/./y", F), ("t/./y", D), false, err("cannot overwrite directory 't/./y' with non-directory")),
            (("s/./y", F), ("t/./y", D), true, Clash::Skip),
        ];
        for ((st, sn), (dt, dn), n, want) in cases {
            assert_eq!(
                clash(&op(st, sn), &op(dt, dn), n),
                want,
                "{st} -> {dt} -n={n}"
            );
        }
    }

    #[test]
    fn into_itself_table() {
        #[rustfmt::skip]
        let cases = [
            ("/a", "/a/b", true),
            ("/a", "/a/a", true),
            ("/a/", "/a//b/.", true),
            ("/a", "/a", false),
            ("/a", "/ab", false),
            ("/a", "/b/a", false),
            ("/a/b", "/a", false),
            ("/a", "/a/b/../c", true),
            ("/a", "/a/b/../..", false),
            ("/", "/x", true),
            ("/x/../a", "/a/b", true),
        ];
        for (src, dest, want) in cases {
            assert_eq!(
                into_itself(OsStr::new(src), OsStr::new(dest)),
                want,
                "{src} {dest}"
            );
        }
        assert!(same_path(OsStr::new("/a/./b/"), OsStr::new("/a/c/../b")));
        assert!(!same_path(OsStr::new("/a/b"), OsStr::new("/a")));
        assert_eq!(
            into_itself_message(OsStr::new("dir"), OsStr::new("dir/dir")),
            "cannot copy a directory, 'dir', into itself, 'dir/dir'"
        );
        assert_eq!(
            same_file_message(OsStr::new("file"), OsStr::new("./file")),
            "'file' and './file' are the same file"
        );
    }

    /// Each output copied from `cp -- NAME x` (coreutils 9.1, C.UTF-8), GNU's quirks included.
    #[test]
    fn quote_table() {
        #[rustfmt::skip]
        let cases: &[(&[u8], &str)] = &[
            (b"file", "'file'"),
            (b"", "''"),
            (b"a b", "'a b'"),
            (b"a\"b", "'a\"b'"),
            (b"a$b", "'a$b'"),
            (b"a\\b", "'a\\b'"),
            ("é".as_bytes(), "'é'"),
            ("\u{a0}".as_bytes(), "'\u{a0}'"),
            (b"it's", "\"it's\""),
            (b"'", "\"'\""),
            (b"a'b'c", "\"a'b'c\""),
            (b"it's a b", "\"it's a b\""),
            (b"#it's", "\"#it's\""),
            (b"it's@", "\"it's@\""),
            (b"it's$", "'it'\\''s$'"),
            (b"it's a\"b", "'it'\\''s a\"b'"),
            (b"it's#", "'it'\\''s#'"),
            (b"it's?", "'it'\\''s?'"),
            (b"it's{", "'it'\\''s{'"),
            (b"it's~", "'it'\\''s~'"),
            (b"a\nb", "'a'$'\\n''b'"),
            (b"a\tb", "'a'$'\\t''b'"),
            (b"\n", "''$'\\n'"),
            (b"a\n", "'a'$'\\n'"),
            (b"\xff", "''$'\\377'"),
            (b"\xc3", "''$'\\303'"),
            (b"\x7f", "''$'\\177'"),
            (b"\x1b[0m", "''$'\\033''[0m'"),
            (b"a\nb'c", "'a'$'\\n''b'\\''c'"),
            (b"a\n\n'b", "'a'$'\\n\\n'\\''b'"),
            (b"\n'", "''$'\\n'\\'''"),
            (b"it's\n", "'''it'\\''s'$'\\n'"),
            (b"it's\xff", "'''it'\\''s'$'\\377'"),
            (b"'\n", "''\\'''$'\\n'"),
            (b"\n'\n", "'\\n'\\'''$'\\n'"),
            (b"a'\tb\n", "'''a'\\'''$'\\t''b'$'\\n'"),
        ];
        for (name, want) in cases {
            assert_eq!(quote(OsStr::from_bytes(name)), *want, "{name:?}");
        }
    }
}
