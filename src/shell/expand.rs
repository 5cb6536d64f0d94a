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
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::Shell;
use crate::syntax::parse::assignment;
use crate::syntax::{self, Command, Lister, RedirOp, RedirTarget};
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
    /// Directories a glob had to skip because their engine did not answer (`DIR: cannot
    /// connect to ...`): reported once each, and the command's status is then 1, as `ls`'s.
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
    Close,
    /// The word expanded to no field or to several: reported when the redirect is made.
    Ambiguous(String),
}

/// Builtins whose `NAME=value` arguments expand as assignments (no splitting, no globbing), as
/// bash's declaration builtins do: `export PATH=$PATH:/x y` keeps `$PATH` whole.
const DECLARATIONS: &[&[u8]] = &[b"export", b"alias"];

/// The most listing rounds one command gets: a pattern deeper than this stops matching.
const MAX_ROUNDS: usize = 64;

impl Shell {
    /// Expands one command's assignments, words and redirect targets.
    pub(super) async fn expand(&self, cmd: &Command) -> Expanded {
        let (mut e, unreachable) = self.with_listings(|l| self.expand_now(cmd, l)).await;
        e.unreachable = unreachable;
        e
    }

    fn expand_now(&self, cmd: &Command, lister: &dyn Lister) -> Expanded {
        let assignments = cmd
            .assignments
            .iter()
            .map(|a| (a.name.clone(), syntax::expand_assignment(&a.value, self)))
            .collect();
        let mut argv = Vec::new();
        let mut words = cmd.words.iter();
        if let Some(first) = words.next() {
            argv.extend(syntax::expand_word(first, self, lister));
        }
        let declaring = argv
            .first()
            .is_some_and(|n| DECLARATIONS.contains(&n.as_bytes()));
        for w in words {
            match assignment(w).filter(|_| declaring) {
                Some(a) => {
                    let mut arg = a.name.clone();
                    arg.push(b'=');
                    arg.extend_from_slice(syntax::expand_assignment(&a.value, self).as_bytes());
                    argv.push(OsStr::from_bytes(&arg).to_os_string());
                }
                None => argv.extend(syntax::expand_word(w, self, lister)),
            }
        }
        let redirects = cmd
            .redirects
            .iter()
            .map(|r| Redir {
                fd: r.fd(),
                op: r.op,
                target: match &r.target {
                    RedirTarget::Fd(n) => Target::Fd(*n),
                    RedirTarget::Close => Target::Close,
                    RedirTarget::Word(w) => match syntax::expand_redirect_target(w, self, lister) {
                        Ok(p) => Target::Path(p),
                        Err(e) => Target::Ambiguous(e.to_string()),
                    },
                },
            })
            .collect();
        Expanded {
            assignments,
            argv,
            redirects,
            host: false,
            unreachable: Vec::new(),
        }
    }

    /// Runs `f` until it needs no directory it has not been given; also returns the
    /// directories whose engine did not answer.
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

    /// The names in a directory as typed (relative to the current directory), or `None`; with
    /// `DIR: ERROR` when that is because its engine does not answer. (`/containers` itself of
    /// a single engine is left to the command: the pattern stays as typed and it reports it.)
    async fn list_names(&self, dir: &Path) -> (Option<Vec<OsString>>, Option<String>) {
        let p = match self.resolve(dir.as_os_str()) {
            VPath::Host(h) => return (host_names(&h), None),
            p => p,
        };
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
}

/// A host directory's names (no need for the vfs's stat of every entry).
fn host_names(h: &Path) -> Option<Vec<OsString>> {
    let mut names: Vec<OsString> = std::fs::read_dir(h)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    // The namespace's root holds /containers whether or not the host has one.
    if h == Path::new("/") && !names.iter().any(|n| n == "containers") {
        names.push("containers".into());
    }
    Some(names)
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
