//! The builtins: one unit struct per command, each in its own file, all in [`BUILTINS`].
//!
//! A command parses its arguments into a plain struct before any I/O, writes results to the
//! output it is handed, and reports failures through its [`Context`]'s reporter, which adds
//! `dockerbox: CMD:` (never printing errors itself). It returns its exit status. Commands see
//! the [`Context`], never the shell that runs them.

mod alias;
mod args;
mod cat;
mod cd;
mod chmod;
mod common;
mod cp;
mod cp_plan;
mod du;
mod exec;
mod exit;
mod export;
mod find;
mod grep;
mod help;
mod ln;
mod logs;
mod ls;
mod mkdir;
mod mv;
mod printf;
mod pwd;
mod rm;
mod rmdir;
mod searching;
mod sh;
mod touch;
mod unalias;
mod unset;

use std::ffi::OsString;
use std::io::Write;

use futures_util::future::LocalBoxFuture;

pub use args::{Args, UsageError};
pub use common::{set_umask, umask};
pub use help::every_name;
#[cfg(test)]
pub use help::LANGUAGE;
pub use printf::escape_as;

/// Whether the host's program runs this grep, find or du (an option dockerbox does not
/// implement, and only host paths).
pub fn search_on_host(cwd: &std::path::Path, argv: &[OsString]) -> bool {
    match argv.first().and_then(|n| n.to_str()) {
        Some("grep") => grep::host_runs(cwd, &argv[1..]),
        Some("find") => find::host_runs(cwd, &argv[1..]),
        Some("du") => du::host_runs(cwd, &argv[1..]),
        _ => false,
    }
}

use crate::context::Context;

/// Where a command's standard output goes.
pub type Out = dyn Write + Send;

/// One builtin command.
pub trait Builtin: Sync {
    /// The name typed to run it.
    fn name(&self) -> &'static str;
    /// One line for `help`.
    fn about(&self) -> &'static str;
    /// The synopsis and options, for `help NAME`.
    fn usage(&self) -> &'static str;
    /// Runs with `args` (without the command name); returns the exit status.
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32>;
}

/// Every builtin, in the order `help` lists them.
pub const BUILTINS: &[&dyn Builtin] = &[
    &ls::Ls,
    &cd::Cd,
    &pwd::Pwd,
    &cat::Cat,
    &cp::Cmd,
    &mv::Cmd,
    &rm::Cmd,
    &mkdir::Cmd,
    &rmdir::Cmd,
    &touch::Cmd,
    &ln::Cmd,
    &chmod::Cmd,
    &grep::Cmd,
    &find::Cmd,
    &du::Cmd,
    &exec::Cmd,
    &logs::Cmd,
    &sh::Sh,
    &sh::Bash,
    &export::Export,
    &printf::Printf,
    &unset::Unset,
    &alias::Alias,
    &unalias::Unalias,
    &help::Help,
    &exit::Exit,
];

/// The builtin called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static dyn Builtin> {
    BUILTINS.iter().copied().find(|b| b.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sound() {
        let mut names: Vec<_> = BUILTINS.iter().map(|b| b.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), BUILTINS.len(), "builtin names are unique");
        for b in BUILTINS {
            assert!(!b.about().is_empty(), "{} has an about line", b.name());
            assert!(
                b.usage().starts_with(b.name()),
                "{}'s usage starts with its name",
                b.name()
            );
        }
    }
}
