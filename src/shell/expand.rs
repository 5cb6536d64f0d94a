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
use crate::vfs::VPath;

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
        self.with_listings(|l| self.expand_now(cmd, l)).await
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
        }
    }

    /// Runs `f` until it needs no directory it has not been given.
    async fn with_listings<T>(&self, f: impl Fn(&Listings) -> T) -> T {
        let mut listings = Listings::default();
        let mut round = 0;
        loop {
            let out = f(&listings);
            let mut missing = listings.missing.take();
            round += 1;
            if missing.is_empty() || round >= MAX_ROUNDS {
                return out;
            }
            missing.sort();
            missing.dedup();
            let found =
                futures_util::future::join_all(missing.iter().map(|d| self.list_names(d))).await;
            listings.known.extend(missing.into_iter().zip(found));
        }
    }

    /// The names in a directory as typed (relative to the current directory), or `None`.
    async fn list_names(&self, dir: &Path) -> Option<Vec<OsString>> {
        match self.resolve(dir.as_os_str()) {
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
            p => {
                let list = self.vfs.read_dir(&p).await.ok()?;
                Some(list.iter().map(|e| e.name.clone()).collect())
            }
        }
    }
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
