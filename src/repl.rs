//! The interactive loop: rustyline with history, the directory prompt and Tab completion.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use crate::complete;
use crate::exit_codes;
use crate::output::Theme;
use crate::shell::Shell;
use crate::vfs::Vfs;

/// Runs the REPL until `exit` or Ctrl-D.
pub fn run(rt: &tokio::runtime::Runtime, sh: &mut Shell) -> anyhow::Result<()> {
    sh.interactive = true;
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .max_history_size(10_000)
        .context("bad history size")?
        .build();
    let mut rl: Editor<ReplHelper, DefaultHistory> =
        Editor::with_config(config).context("cannot start the line editor")?;
    let cwd = Arc::new(Mutex::new(sh.cwd.clone()));
    rl.set_helper(Some(ReplHelper {
        rt: rt.handle().clone(),
        vfs: sh.vfs.clone(),
        cwd: cwd.clone(),
        colored_prompt: sh.theme.enabled,
    }));
    let history = history_file();
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    loop {
        if let Ok(mut c) = cwd.lock() {
            *c = sh.cwd.clone();
        }
        let prompt = sh.prompt();
        match rl.readline(&prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = rl.add_history_entry(line.as_str());
                    if let Some(h) = &history {
                        let _ = rl.append_history(h);
                    }
                }
                rt.block_on(sh.run_line(line.as_bytes()));
                if sh.status == exit_codes::INTERRUPTED {
                    eprintln!();
                }
                if sh.exit.is_some() {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => {
                // Ctrl-C at the prompt abandons the line.
                sh.status = exit_codes::INTERRUPTED;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("cannot read the command line"),
        }
    }
    Ok(())
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
    cwd: Arc<Mutex<PathBuf>>,
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
        let cwd = self
            .cwd
            .lock()
            .map(|c| c.clone())
            .unwrap_or_else(|_| PathBuf::from("/"));
        let (start, cands) = self
            .rt
            .block_on(complete::complete(&self.vfs, &cwd, line, pos));
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
