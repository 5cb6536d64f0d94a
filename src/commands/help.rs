//! `help`: list the builtins (the command table and the language's own), or show one's usage.
//!
//! The language's builtins (`set`, `read`, `jobs`...) run in the interpreter, above this layer,
//! so they are described here in [`LANGUAGE`]; `help` and Tab completion both read
//! [`every_name`], and a table test in the shell holds [`LANGUAGE`] to what it dispatches.

use std::ffi::OsString;

use futures_util::future::LocalBoxFuture;

use super::{Builtin, Out, BUILTINS};
use crate::context::Context;
use crate::exit_codes;

pub struct Help;

/// A word of the language that `help` explains: a keyword or a builtin the interpreter runs.
pub struct Described {
    pub name: &'static str,
    pub usage: &'static str,
    pub about: &'static str,
    /// A reserved word (`if`, `for`...), not a command.
    pub keyword: bool,
}

const fn kw(name: &'static str, usage: &'static str, about: &'static str) -> Described {
    Described {
        name,
        usage,
        about,
        keyword: true,
    }
}

const fn lang(name: &'static str, usage: &'static str, about: &'static str) -> Described {
    Described {
        name,
        usage,
        about,
        keyword: false,
    }
}

/// The language: its keywords, then the builtins the interpreter runs itself (none of them in
/// the command table).
pub const LANGUAGE: &[Described] = &[
    kw(
        "if",
        "if LIST; then LIST; [elif LIST; then LIST;]... [else LIST;] fi",
        "run commands when a condition holds",
    ),
    kw(
        "for",
        "for NAME [in WORD...]; do LIST; done",
        "run commands for each word",
    ),
    kw(
        "while",
        "while LIST; do LIST; done",
        "run commands while a condition holds",
    ),
    kw(
        "until",
        "until LIST; do LIST; done",
        "run commands until a condition holds",
    ),
    kw(
        "case",
        "case WORD in [PATTERN[|PATTERN]...) LIST ;;]... esac",
        "run the commands of the first pattern that matches",
    ),
    kw(
        "function",
        "function NAME { LIST; }   (or NAME() { LIST; })",
        "define a function ($1... its arguments)",
    ),
    kw("{", "{ LIST; }", "run commands as a group"),
    kw(
        "(",
        "( LIST )",
        "run commands in a subshell (a copy of the shell)",
    ),
    kw(
        "[[",
        "[[ EXPRESSION ]]",
        "test a condition: == patterns, =~ regexes, && and || inside",
    ),
    kw("((", "(( EXPRESSION ))", "arithmetic; true when not zero"),
    kw("!", "! PIPELINE", "negate a pipeline's status"),
    lang(":", ": [ARG...]", "do nothing, successfully"),
    lang("true", "true", "succeed"),
    lang("false", "false", "fail"),
    lang("echo", "echo [-neE] [ARG...]", "print the arguments"),
    lang(
        "test",
        "test EXPRESSION",
        "check files (also in containers), strings and numbers",
    ),
    lang("[", "[ EXPRESSION ]", "test EXPRESSION"),
    lang(
        "set",
        concat!(
            "set [-euxfCavn] [-o NAME] [--] [ARG...]\n",
            "  -o vi, -o emacs  the REPL's editing mode\n",
            "  -o               show the options"
        ),
        "set options and positional parameters",
    ),
    lang(
        "shift",
        "shift [N]",
        "drop the first N positional parameters",
    ),
    lang(
        "return",
        "return [STATUS]",
        "return from a function or a sourced file",
    ),
    lang("break", "break [N]", "leave N loops"),
    lang(
        "continue",
        "continue [N]",
        "go on with the next round of the Nth loop",
    ),
    lang(
        "local",
        "local NAME[=VALUE]...",
        "variables of the running function",
    ),
    lang(
        "readonly",
        "readonly [-p] NAME[=VALUE]...",
        "make variables unchangeable",
    ),
    lang(
        "declare",
        "declare [-aAirxp] NAME[=VALUE]...",
        "set variables and their kinds",
    ),
    lang(
        "typeset",
        "typeset [-aAirxp] NAME[=VALUE]...",
        "the same as declare",
    ),
    lang(
        "eval",
        "eval [ARG...]",
        "run the arguments as a command line",
    ),
    lang(
        ".",
        ". FILE [ARG...]",
        "run a file's commands in this shell",
    ),
    lang(
        "source",
        "source FILE [ARG...]",
        "run a file's commands in this shell",
    ),
    lang(
        "trap",
        "trap [ACTION] [CONDITION...]",
        "run a command on EXIT, ERR, INT, TERM...",
    ),
    lang(
        "read",
        "read [-r] [-a ARRAY] [-d DELIM] [-n N] [-p PROMPT] [-u FD] [NAME...]",
        "read a line into variables",
    ),
    lang(
        "wait",
        "wait [%JOB|ID...]",
        "wait for background jobs; their status",
    ),
    lang(
        "jobs",
        "jobs [-lp] [%JOB...]\n  -l  with process IDs\n  -p  process IDs only",
        "list the jobs: running, stopped, done",
    ),
    lang(
        "fg",
        "fg [%JOB]",
        "continue a job in the foreground (REPL: the terminal is its)",
    ),
    lang(
        "bg",
        "bg [%JOB...]",
        "continue stopped jobs in the background",
    ),
    lang(
        "kill",
        "kill [-s SIGNAL | -SIGNAL] PID|%JOB...\n  -l [N]  signal names (of a status)",
        "send a signal to processes or jobs (a dockerbox job is cancelled)",
    ),
    lang(
        "getopts",
        "getopts OPTSTRING NAME [ARG...]",
        "parse options",
    ),
    lang(
        "command",
        "command [-vV] NAME [ARG...]",
        "run NAME skipping functions, or say what it is",
    ),
    lang(
        "builtin",
        "builtin NAME [ARG...]",
        "run a builtin, skipping functions",
    ),
    lang("type", "type NAME...", "say what a name runs"),
    lang(
        "hash",
        "hash [-r] [NAME...]",
        "remember or forget where programs are in $PATH",
    ),
    lang("umask", "umask [MODE]", "show or set the file mode mask"),
    lang(
        "let",
        "let EXPRESSION...",
        "arithmetic; true when the last is not zero",
    ),
    lang(
        "shopt",
        "shopt [-su] [NAME...]",
        "accepted and ignored, for bash scripts",
    ),
];

/// Every name `help` lists, in its order: the command table, then the language's words. Tab
/// completion offers exactly these at a command's place (besides functions, aliases, $PATH).
pub fn every_name() -> impl Iterator<Item = &'static str> {
    BUILTINS
        .iter()
        .map(|b| b.name())
        .chain(LANGUAGE.iter().map(|d| d.name))
}

/// The usage and about lines of `name`, from either table.
fn describe(name: &str) -> Option<(&'static str, &'static str)> {
    super::find(name)
        .map(|b| (b.usage(), b.about()))
        .or_else(|| {
            LANGUAGE
                .iter()
                .find(|d| d.name == name)
                .map(|d| (d.usage, d.about))
        })
}

impl Builtin for Help {
    fn name(&self) -> &'static str {
        "help"
    }
    fn about(&self) -> &'static str {
        "list the builtins, or show how to use one"
    }
    fn usage(&self) -> &'static str {
        "help [COMMAND]"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let text = match args.first() {
                None => listing(),
                Some(name) => match describe(&name.to_string_lossy()) {
                    Some((usage, about)) => format!("usage: {usage}\n{about}\n"),
                    None => {
                        ctx.fail(format_args!(
                            "no builtin called '{}'",
                            name.to_string_lossy()
                        ));
                        return exit_codes::FAILURE;
                    }
                },
            };
            match out.write_all(text.as_bytes()) {
                Ok(()) => exit_codes::OK,
                Err(_) => exit_codes::FAILURE,
            }
        })
    }
}

/// `help` alone: the command table, then the language.
fn listing() -> String {
    let mut s = String::from(
        "dockerbox: a shell where /containers/NAME/... is the filesystem of container NAME.\n\
         Anything that is not a builtin runs on the host; exec (and sh or bash alone)\n\
         runs in the container of the current directory.\n\nBuiltins:\n",
    );
    let width = every_name().map(str::len).max().unwrap_or(0);
    for b in BUILTINS {
        s.push_str(&format!("  {:<width$}  {}\n", b.name(), b.about()));
    }
    for (title, keywords) in [("The language's builtins", false), ("Its keywords", true)] {
        s.push_str(&format!("\n{title}:\n"));
        for d in LANGUAGE.iter().filter(|d| d.keyword == keywords) {
            s.push_str(&format!("  {:<width$}  {}\n", d.name, d.about));
        }
    }
    s.push_str("\nhelp COMMAND shows a builtin's options.\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_listed_once_with_its_usage() {
        let text = listing();
        let mut names: Vec<&str> = every_name().collect();
        for n in &names {
            assert!(
                text.lines().any(|l| l.split_whitespace().next() == Some(n)),
                "help lists {n}"
            );
            let (usage, about) = describe(n).expect("described");
            assert!(usage.starts_with(n), "{n}'s usage starts with its name");
            assert!(!about.is_empty(), "{n} has an about line");
        }
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "no name in both tables");
    }
}
