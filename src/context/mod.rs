//! What a builtin may use, below both the command table (`commands`) and the runner
//! (`shell`), as nushell's engine state lives below its commands and its evaluator: the
//! namespace, the variables and aliases, the directories, the streams it was given and the
//! [`Reporter`] for its messages. Builtins take a [`Context`]; they never see the runner.

mod report;
mod streams;
mod vars;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Display;
use std::path::PathBuf;
use std::sync::Arc;

pub use report::Reporter;
pub use streams::{read_interruptibly, wait_readable, Fd};
pub use vars::{is_name, Key, Value, Var, Vars};

use crate::output::Theme;
use crate::vfs::{FsError, VPath, Vfs};

/// The state a command runs in. Cloning makes a subshell's copy (a builtin in a pipeline):
/// cheap, the namespace is shared.
#[derive(Clone)]
pub struct Context {
    pub vfs: Arc<Vfs>,
    /// The current directory as the user sees it (logical: `..` is textual, as `cd -L`).
    pub cwd: PathBuf,
    /// Where `cd -` goes.
    pub oldpwd: Option<PathBuf>,
    /// The last host directory visited: host programs run here while `cwd` is virtual.
    pub host_cwd: PathBuf,
    /// The last command's exit status (`$?`).
    pub status: i32,
    /// Set by `exit`: the shell stops with this status.
    pub exit: Option<i32>,
    /// A person at a terminal (the REPL), rather than a script.
    pub interactive: bool,
    /// Shell variables; the exported ones are host programs' environment.
    pub vars: Vars,
    /// `alias NAME=VALUE`, substituted by the parser.
    pub aliases: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Colour for the running command's stdout.
    pub theme: Arc<Theme>,
    /// `--color always`: colours even into pipes and files.
    pub color_forced: bool,
    /// Whether the running command's stdout is a terminal (grid layout, sanitised names).
    pub stdout_tty: bool,
    /// The running command's stdin when it is a pipe or a redirect; `None` is dockerbox's own.
    pub stdin: Option<Fd>,
    /// Where the running command's messages go (its fd 2), prefixed with its name.
    pub errors: Reporter,
    /// A builtin's copy in a pipeline: the process's directory is not changed from here.
    pub subshell: bool,
}

impl Context {
    pub fn new(vfs: Arc<Vfs>, theme: Arc<Theme>, stdout_tty: bool, errors: Reporter) -> Context {
        let host_cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let cwd = std::env::var_os("PWD")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute() && same_file(p, &host_cwd))
            .unwrap_or_else(|| host_cwd.clone());
        Context {
            vfs,
            cwd,
            oldpwd: None,
            host_cwd,
            status: 0,
            exit: None,
            interactive: false,
            vars: Vars::from_env(),
            aliases: BTreeMap::new(),
            theme,
            color_forced: false,
            stdout_tty,
            stdin: None,
            errors,
            subshell: false,
        }
    }

    /// Resolves a typed path against the current directory.
    pub fn resolve(&self, arg: &OsStr) -> VPath {
        VPath::resolve(&self.cwd, arg)
    }

    /// Reports `CMD: PATH: ERROR` (not for a Ctrl-C or a closed pipe).
    pub fn report(&self, path: &OsStr, err: &FsError) {
        self.errors.path(path, err);
    }

    /// Reports `CMD: WHAT: ERROR`, WHAT naming the file quoted GNU's way.
    pub fn complain(&self, what: &str, err: &FsError) {
        self.errors.about(what, err);
    }

    /// Reports `CMD: MESSAGE`, a failure.
    pub fn fail(&self, msg: impl Display) {
        self.errors.error(msg);
    }

    /// Reports a usage error and returns the usage status.
    pub fn usage(&self, msg: impl Display) -> i32 {
        self.errors.usage(msg)
    }

    /// Changes directory to an already checked location.
    pub fn set_cwd(&mut self, to: &VPath) {
        let new = to.to_path();
        if let VPath::Host(h) = to {
            // A subshell's directory is its own: the process's stays the parent's.
            if self.subshell || std::env::set_current_dir(h).is_ok() {
                self.host_cwd = h.clone();
            }
        }
        self.oldpwd = Some(std::mem::replace(&mut self.cwd, new));
    }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}
