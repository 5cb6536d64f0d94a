//! The interactive loop: rustyline with history, the directory prompt and Tab completion;
//! `~/.dockerboxrc` runs first. Input the parser calls incomplete (open quote, trailing `|`,
//! `for ...; do` without its `done`, a here-document still being typed) gets `> ` prompts
//! until it is whole and goes into history as one entry; `set -o vi`/`emacs` pick the editor's
//! mode.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use rustyline::completion::{Completer, Pair};
use rustyline::config::Configurer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, EditMode, Editor, Helper};

use crate::complete::{self, Scope};
use crate::exit_codes;
use crate::output::Theme;
use crate::shell::Shell;
use crate::vfs::Vfs;

/// Runs the REPL until `exit` or Ctrl-D.
pub fn run(rt: &tokio::runtime::Runtime, sh: &mut Shell) -> anyhow::Result<()> {
    sh.interactive = true;
    crate::shell::enable_job_control();
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .max_history_size(10_000)
        .context("bad history size")?
        .build();
    let mut rl: Editor<ReplHelper, DefaultHistory> =
        Editor::with_config(config).context("cannot start the line editor")?;
    let scope = Arc::new(Mutex::new(Scope::default()));
    rl.set_helper(Some(ReplHelper {
        rt: rt.handle().clone(),
        vfs: sh.vfs.clone(),
        scope: scope.clone(),
        colored_prompt: sh.theme.enabled,
    }));
    let history = history_file();
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    sh.opts.emacs = true;
    if !crate::cli::norc() {
        run_rc(rt, sh);
    }
    if sh.exit.is_some() {
        return Ok(());
    }
    let mut mode = EditMode::Emacs;
    // Leaving with stopped jobs is refused once, as in bash (they would be hung up).
    let mut warned = false;
    loop {
        sh.report_done_jobs();
        if let Ok(mut s) = scope.lock() {
            *s = Scope::of(sh);
        }
        // `set -o vi` / `set -o emacs` (in ~/.dockerboxrc or typed) take effect at once.
        let wanted = if sh.opts.vi {
            EditMode::Vi
        } else {
            EditMode::Emacs
        };
        if wanted != mode {
            rl.set_edit_mode(wanted);
            mode = wanted;
        }
        let prompt = sh.prompt();
        match rl.readline(&prompt) {
            Ok(mut line) => {
                match continue_line(&mut rl, sh, &scope, &mut line) {
                    Ok(true) => {}
                    Ok(false) => {
                        sh.status = exit_codes::INTERRUPTED;
                        continue;
                    }
                    Err(e) => return Err(e).context("cannot read the command line"),
                }
                if !line.trim().is_empty() {
                    let _ = rl.add_history_entry(line.as_str());
                    if let Some(h) = &history {
                        let _ = rl.append_history(h);
                    }
                }
                crate::shell::remember_line(line.as_bytes());
                rt.block_on(sh.run_line(line.as_bytes()));
                if sh.status == exit_codes::INTERRUPTED {
                    eprintln!();
                }
                if sh.exit.is_some() {
                    if leave(sh, &mut warned) {
                        break;
                    }
                    continue;
                }
                warned = false;
            }
            Err(ReadlineError::Interrupted) => {
                // Ctrl-C at the prompt abandons the line.
                sh.status = exit_codes::INTERRUPTED;
            }
            Err(ReadlineError::Eof) => {
                if leave(sh, &mut warned) {
                    break;
                }
            }
            Err(e) => return Err(e).context("cannot read the command line"),
        }
    }
    Ok(())
}

/// Whether the REPL may end now: not the first time it is asked with stopped jobs (unless a
/// SIGTERM or SIGHUP asks).
fn leave(sh: &mut Shell, warned: &mut bool) -> bool {
    if *warned || crate::interrupt::terminating().is_some() || !sh.has_stopped_jobs() {
        return true;
    }
    *warned = true;
    sh.exit = None;
    crate::context::Reporter::stderr().error("there are stopped jobs");
    false
}

/// Reads continuation lines while `line` needs more. False when Ctrl-C abandoned it; Ctrl-D
/// runs what there is (the parser then reports what is missing). Tab completion sees the
/// lines typed so far (a `done` must fit them).
fn continue_line(
    rl: &mut Editor<ReplHelper, DefaultHistory>,
    sh: &Shell,
    scope: &Mutex<Scope>,
    line: &mut String,
) -> rustyline::Result<bool> {
    while sh.needs_more(line.as_bytes()) {
        if let Ok(mut s) = scope.lock() {
            s.pending = format!("{line}\n");
        }
        match rl.readline("> ") {
            Ok(more) => {
                line.push('\n');
                line.push_str(&more);
            }
            Err(ReadlineError::Interrupted) => return Ok(false),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Runs `~/.dockerboxrc` (aliases, exports...) if there is one; its errors name the line.
fn run_rc(rt: &tokio::runtime::Runtime, sh: &mut Shell) {
    let Some(home) = sh.vars.get_os("HOME").filter(|h| !h.is_empty()) else {
        return;
    };
    let path = PathBuf::from(home).join(".dockerboxrc");
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            let e = crate::vfs::io_text(&e);
            crate::context::Reporter::stderr().error(format_args!("{}: {e}", path.display()));
            return;
        }
    };
    let lines = text.split(|&b| b == b'\n').map(|l| Ok(l.to_vec()));
    let shown = path.to_string_lossy().into_owned();
    // Reading from memory cannot fail.
    let _ = crate::shell::run_lines(rt, sh, lines, Some(&shown));
}

/// `$XDG_STATE_HOME/dockerbox/history`, by default `~/.local/state/dockerbox/history`.
fn history_file() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    let dir = state.join("dockerbox");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history"))
}

struct ReplHelper {
    rt: tokio::runtime::Handle,
    vfs: Arc<Vfs>,
    scope: Arc<Mutex<Scope>>,
    colored_prompt: bool,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let scope = self.scope.lock().map(|s| s.clone()).unwrap_or_default();
        let (start, cands) = self
            .rt
            .block_on(complete::complete(&self.vfs, &scope, line, pos));
        Ok((
            start,
            cands
                .into_iter()
                .map(|c| Pair {
                    display: c.display,
                    replacement: c.replacement,
                })
                .collect(),
        ))
    }
}

impl Highlighter for ReplHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        // The editor measures the plain prompt; colour is added only for display.
        match prompt.strip_suffix("$ ") {
            Some(dir) if self.colored_prompt => Cow::Owned(Theme::new(true, None).prompt(dir)),
            _ => Cow::Borrowed(prompt),
        }
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}
impl Validator for ReplHelper {}
impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use crate::syntax::{self, alias::NoAliases};

    /// What gets a `> ` prompt is what the parser calls incomplete (`Shell::needs_more`); a
    /// real syntax error is not continued.
    #[test]
    fn continued_exactly_when_the_parser_says_incomplete() {
        let incomplete = |s: &str| {
            syntax::parse_with_aliases(s.as_bytes(), &NoAliases).is_err_and(|e| e.is_incomplete())
        };
        for open in [
            "for c in /containers/*; do",
            "for c in a; do\necho $c",
            "if true; then",
            "if a; then b; else",
            "while true; do",
            "until false",
            "case x in",
            "case x in a) echo",
            "{",
            "{ echo a",
            "(",
            "f() {",
            "echo \"open",
            "echo 'open",
            "echo a |",
            "true &&",
            "false ||",
            "echo a \\",
            "echo $(",
            "echo $(ls",
            "echo `ls",
            "echo ${x",
            "cat <<EOF",
            "cat <<EOF\nbody",
            "cat <<-'E'\n\tbody",
        ] {
            assert!(incomplete(open), "continued: {open:?}");
        }
        for done in [
            "for c in a; do\necho $c\ndone",
            "cat <<EOF\nbody\nEOF",
            "echo ok",
            "fi",
            "done",
            ")",
            "echo a | | b",
            "for c in a; do )",
        ] {
            assert!(!incomplete(done), "not continued: {done:?}");
        }
    }
}
