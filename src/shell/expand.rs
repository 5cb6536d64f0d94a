//! A parsed command's words expanded against the shell: variables, `~`, and globs over the whole
//! namespace, so `/containers/*/etc/os-release` matches as a host path would.
//!
//! `syntax`'s expansion is pure and asks a synchronous [`Lister`]; the namespace is async. So
//! expansion runs in rounds: a lister answers from what was fetched so far and notes what it
//! lacked, the missing directories are listed (concurrently), and the words are expanded again,
//! one directory level deeper each round. Expansion itself is cheap; listings are the cost.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::Shell;
use crate::syntax::parse::assignment;
use crate::syntax::{self, Command, ExpandError, Lister, RedirOp, RedirTarget};
use crate::vfs::{FsError, VPath};

/// A command after expansion.
#[derive(Debug, Default)]
pub struct Expanded {
    /// `NAME=value` before the command name.
    pub assignments: Vec<(Vec<u8>, OsString)>,
    pub argv: Vec<OsString>,
    /// In the order typed; they apply left to right.
    pub redirects: Vec<Redir>,
    /// Run as a host program even if a builtin has the name (`sh -c ...`, see `host_forms`).
    pub host: bool,
    /// Directories a glob could not list because their engine does not answer, with why
    /// (reported once, and the command's status becomes 1).
    pub unreachable: Vec<String>,
}

#[derive(Debug)]
pub struct Redir {
    pub fd: u32,
    pub op: RedirOp,
    pub target: Target,
}

#[derive(Debug)]
pub enum Target {
    Path(OsString),
    Fd(u32),
    /// `>&3-`: the descriptor moved.
    Move(u32),
    Close,
    /// The word expanded to no field or to several: reported when the redirect is made.
    Ambiguous(String),
    /// A here-document's text.
    Body(Vec<u8>),
}

/// Builtins whose `NAME=value` arguments expand as assignments (no splitting, no globbing), as
/// bash's declaration builtins do: `export PATH=$PATH:/x y` keeps `$PATH` whole.
const DECLARATIONS: &[&[u8]] = &[
    b"export",
    b"alias",
    b"local",
    b"readonly",
    b"declare",
    b"typeset",
];

/// The most listing rounds one command gets: a pattern deeper than this stops matching.
const MAX_ROUNDS: usize = 64;

/// A word after parameter expansion and splitting, before globbing.
enum Pending {
    Fields(Vec<syntax::Field>),
    /// A declaration argument: one string, not globbed.
    Whole(OsString),
}

impl Shell {
    /// Expands one command's words, redirect targets and assignments (in that order, each
    /// assignment seeing the ones before it); `Err` is the message of a failed expansion.
    pub(super) async fn expand(&mut self, cmd: &Command) -> Result<Expanded, ExpandError> {
        if cmd.words.is_empty() && cmd.redirects.is_empty() {
            return self.expand_assignments(cmd);
        }
        let mut pending = Vec::new();
        let mut declaring = false;
        for (i, w) in cmd.words.iter().enumerate() {
            if i > 0 && declaring {
                if let Some(a) = assignment(w) {
                    let mut arg = a.name.clone();
                    if let Some(i) = &a.index {
                        arg.push(b'[');
                        arg.extend_from_slice(&syntax::expand_string(i, self)?);
                        arg.push(b']');
                    }
                    if a.append {
                        arg.push(b'+');
                    }
                    arg.push(b'=');
                    arg.extend_from_slice(syntax::expand_assignment(&a.value, self)?.as_bytes());
                    pending.push(Pending::Whole(OsStr::from_bytes(&arg).to_os_string()));
                    continue;
                }
            }
            let mut fields = Vec::new();
            for b in syntax::brace::expand(w) {
                fields.extend(syntax::word_fields(&b, self, true)?);
            }
            if i == 0 {
                declaring = fields.len() == 1
                    && fields
                        .first()
                        .is_some_and(|f| DECLARATIONS.contains(&f.bytes.as_slice()));
            }
            pending.push(Pending::Fields(fields));
        }
        let mut targets = Vec::new();
        for r in &cmd.redirects {
            targets.push(match &r.target {
                RedirTarget::Fd(n) => (Target::Fd(*n), None),
                RedirTarget::Move(n) => (Target::Move(*n), None),
                RedirTarget::Close => (Target::Close, None),
                RedirTarget::Body(w) => (Target::Body(syntax::expand_string(w, self)?), None),
                RedirTarget::DupWord(w) => {
                    let mut fields = syntax::word_fields(w, self, true)?;
                    let one = fields.len() == 1;
                    let t = fields.pop().map(|f| f.bytes).unwrap_or_default();
                    let number = |t: &[u8]| std::str::from_utf8(t).ok()?.parse().ok();
                    let target = if !one {
                        Target::Ambiguous(format!("{}: ambiguous redirect", r.target_text()))
                    } else if t == b"-" {
                        Target::Close
                    } else if let Some(n) = number(&t) {
                        Target::Fd(n)
                    } else if let Some(n) = t.strip_suffix(b"-").and_then(number) {
                        Target::Move(n)
                    } else if r.op == RedirOp::DupOut && !t.is_empty() {
                        // `>&$file`, as bash: the file (for stdout and stderr when no fd is given).
                        Target::Path(OsString::from_vec(t))
                    } else {
                        Target::Ambiguous(format!(
                            "{}: ambiguous redirect",
                            String::from_utf8_lossy(&t)
                        ))
                    };
                    (target, None)
                }
                RedirTarget::Word(w) => (Target::Close, Some(syntax::word_fields(w, self, true)?)),
            });
        }
        // Assignments see each other (`A=1 B=$A cmd`): set while expanding, then put back.
        let mut assignments = Vec::new();
        let mut saved = Vec::new();
        let lasting = cmd.words.is_empty();
        for a in &cmd.assignments {
            if !lasting {
                saved.push((a.name.clone(), self.vars.save(&a.name)));
            }
            if a.array.is_some() || a.index.is_some() || a.append {
                self.assign_compound(a)?;
                if !lasting {
                    let v = self.vars.get(&a.name).unwrap_or_default();
                    assignments.push((a.name.clone(), OsStr::from_bytes(v).to_os_string()));
                }
                continue;
            }
            let v = syntax::expand_assignment(&a.value, self)?;
            if !self.vars.is_readonly(&a.name) {
                self.vars.set(&a.name, v.as_bytes().to_vec());
            }
            assignments.push((a.name.clone(), v));
        }
        for (name, old) in saved.into_iter().rev() {
            self.vars.restore(&name, old);
        }
        let noglob = self.opts.noglob
            || !pending.iter().any(|p| match p {
                Pending::Fields(fs) => fs.iter().any(wild),
                Pending::Whole(_) => false,
            }) && !targets
                .iter()
                .any(|(_, f)| f.as_ref().is_some_and(|fs| fs.iter().any(wild)));
        let ((argv, redirects), unreachable) = self
            .with_listings_if(!noglob, |l| {
                let glob = |f: &syntax::Field| -> Vec<OsString> {
                    if noglob {
                        vec![OsString::from_vec(f.bytes.clone())]
                    } else {
                        syntax::glob_field(f.clone(), l)
                    }
                };
                let mut argv = Vec::new();
                for p in &pending {
                    match p {
                        Pending::Whole(a) => argv.push(a.clone()),
                        Pending::Fields(fs) => fs.iter().for_each(|f| argv.extend(glob(f))),
                    }
                }
                let redirects: Vec<Option<Result<OsString, String>>> = targets
                    .iter()
                    .zip(&cmd.redirects)
                    .map(|((_, fields), r)| {
                        fields.as_ref().map(|fs| {
                            let mut all: Vec<OsString> = fs.iter().flat_map(glob).collect();
                            match all.pop() {
                                Some(one) if all.is_empty() => Ok(one),
                                _ => Err(format!("{}: ambiguous redirect", r.target_text())),
                            }
                        })
                    })
                    .collect();
                (argv, redirects)
            })
            .await;
        let mut out = Vec::new();
        for ((r, (t, _)), globbed) in cmd.redirects.iter().zip(targets).zip(redirects) {
            let to_file = matches!(t, Target::Path(_));
            let mut redir = Redir {
                fd: r.fd(),
                op: if to_file { RedirOp::Out } else { r.op },
                target: match globbed {
                    Some(Ok(p)) => Target::Path(p),
                    Some(Err(msg)) => Target::Ambiguous(msg),
                    None => t,
                },
            };
            if let Some(name) = &r.var {
                self.name_descriptor(name, &mut redir, &out);
            }
            out.push(redir);
            if to_file && r.fd.is_none() && r.var.is_none() {
                out.push(Redir {
                    fd: 2,
                    op: RedirOp::DupOut,
                    target: Target::Fd(1),
                });
            }
        }
        let redirects = out;
        Ok(Expanded {
            assignments,
            argv,
            redirects,
            host: false,
            unreachable,
        })
    }

    /// A command of assignments alone (`x=$((x+i))`): each is set as it is expanded, so the
    /// next sees it, as [`Shell::expand`] does; the last is left to the caller, which sets
    /// them all (and says which are readonly).
    fn expand_assignments(&mut self, cmd: &Command) -> Result<Expanded, ExpandError> {
        let mut assignments = Vec::with_capacity(cmd.assignments.len());
        let n = cmd.assignments.len();
        for (i, a) in cmd.assignments.iter().enumerate() {
            if a.array.is_some() || a.index.is_some() || a.append {
                self.assign_compound(a)?;
                continue;
            }
            let v = syntax::expand_assignment(&a.value, self)?;
            if i + 1 < n && !self.vars.is_readonly(&a.name) {
                self.vars.set(&a.name, v.as_bytes().to_vec());
            }
            assignments.push((a.name.clone(), v));
        }
        Ok(Expanded {
            assignments,
            ..Expanded::default()
        })
    }

    /// bash's `{NAME}>`: closing, the descriptor is NAME's value; otherwise the lowest free one
    /// from 10, and NAME is set to it.
    fn name_descriptor(&mut self, name: &[u8], redir: &mut Redir, before: &[Redir]) {
        let shown = String::from_utf8_lossy(name).into_owned();
        if matches!(redir.target, Target::Close) {
            let value = self.vars.get(name).unwrap_or_default();
            match std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                Some(n) => redir.fd = n,
                None => redir.target = Target::Ambiguous(format!("{shown}: ambiguous redirect")),
            }
            return;
        }
        let table = self.base_table();
        let Some(n) =
            (10..u32::MAX).find(|n| table.get(*n).is_none() && !before.iter().any(|r| r.fd == *n))
        else {
            return;
        };
        redir.fd = n;
        if let Err(msg) = self.assign(name, n.to_string().into_bytes()) {
            redir.target = Target::Ambiguous(msg);
        }
    }

    /// [`with_listings`], or `f` once without any when nothing needs a listing.
    async fn with_listings_if<T>(
        &self,
        needed: bool,
        f: impl Fn(&Listings) -> T,
    ) -> (T, Vec<String>) {
        if needed {
            self.with_listings(f).await
        } else {
            (f(&Listings::default()), Vec::new())
        }
    }

    /// Runs `f` until it needs no directory it has not been given.
    async fn with_listings<T>(&self, f: impl Fn(&Listings) -> T) -> (T, Vec<String>) {
        let mut listings = Listings::default();
        let mut unreachable = Vec::new();
        let mut round = 0;
        loop {
            let out = f(&listings);
            let mut missing = listings.missing.take();
            round += 1;
            if missing.is_empty() || round >= MAX_ROUNDS {
                return (out, unreachable);
            }
            missing.sort();
            missing.dedup();
            let found =
                futures_util::future::join_all(missing.iter().map(|d| self.list_names(d))).await;
            for (dir, (names, err)) in missing.into_iter().zip(found) {
                unreachable.extend(err);
                listings.known.insert(dir, names);
            }
        }
    }

    /// The names in a directory as typed (relative to the current directory), or `None`; and
    /// why not, when the directory's engine does not answer (`/containers` itself on one
    /// engine is left to the command, which says so).
    async fn list_names(&self, dir: &Path) -> (Option<Vec<OsString>>, Option<String>) {
        let p = self.resolve(dir.as_os_str());
        if let VPath::Host(_) = p {
            return (self.host_names(p), None);
        }
        match self.vfs.read_dir(&p).await {
            Ok(list) => (Some(list.iter().map(|e| e.name.clone()).collect()), None),
            Err(e @ FsError::Unreachable { .. }) if !matches!(p, VPath::Containers) => {
                let shown = dir.as_os_str().to_string_lossy();
                let shown = match shown.trim_end_matches('/') {
                    "" => "/",
                    t => t,
                };
                (None, Some(format!("{shown}: {e}")))
            }
            Err(_) => (None, None),
        }
    }

    /// A host directory's names (the namespace's root holds /containers whatever the host has).
    fn host_names(&self, p: VPath) -> Option<Vec<OsString>> {
        match p {
            // Names only: no need for the vfs's stat of every entry.
            VPath::Host(h) => {
                let mut names: Vec<OsString> = std::fs::read_dir(&h)
                    .ok()?
                    .filter_map(|e| e.ok().map(|e| e.file_name()))
                    .collect();
                // The namespace's root holds /containers whether or not the host has one.
                if h == Path::new("/") && !names.iter().any(|n| n == "containers") {
                    names.push("containers".into());
                }
                Some(names)
            }
            _ => None,
        }
    }
}

/// Whether a field has an unquoted wildcard, so globbing must look at directories.
fn wild(f: &syntax::Field) -> bool {
    f.bytes
        .iter()
        .zip(&f.quoted)
        .any(|(b, q)| !q && matches!(b, b'*' | b'?' | b'['))
}

/// Directory listings fetched so far; a miss is remembered for the next round.
#[derive(Default)]
struct Listings {
    known: HashMap<PathBuf, Option<Vec<OsString>>>,
    missing: RefCell<Vec<PathBuf>>,
}

impl Lister for Listings {
    fn list(&self, dir: &Path) -> Option<Vec<OsString>> {
        match self.known.get(dir) {
            Some(names) => names.clone(),
            None => {
                self.missing.borrow_mut().push(dir.to_path_buf());
                None
            }
        }
    }
}
