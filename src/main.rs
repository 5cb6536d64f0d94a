//! dockerbox: a shell where Docker containers are directories.
//!
//! This file parses the command line, picks the mode (one-liner, script, piped stdin or the
//! REPL), runs it, and reports a fatal error once. Everything else lives in the modules below.

mod cli;
mod commands;
mod complete;
mod context;
mod driver;
mod exit_codes;
mod host;
mod inplace;
mod interrupt;
mod mount;
mod output;
mod repl;
mod shell;
mod syntax;
mod vfs;

use std::io::{self, BufRead, IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use cli::Cli;
use host::Engine;
use output::Theme;
use shell::Shell;
use vfs::{AgentMode, Vfs};

fn main() -> ExitCode {
    let cli = cli::parse();
    // `mount --background` forks now, while there is one thread; the parent exits when the
    // mount is ready.
    let ready = match &cli.cmd {
        Some(cli::Cmd::Mount {
            background: true, ..
        }) => match mount::daemonize() {
            Ok(r) => Some(r),
            Err(e) => {
                context::Reporter::stderr().error(format_args!("mount: cannot detach: {e}"));
                return ExitCode::from(exit_codes::FAILURE as u8);
            }
        },
        _ => None,
    };
    match run(cli, ready) {
        Ok(code) => ExitCode::from((code & 0xff) as u8),
        Err(e) => {
            context::Reporter::stderr().error(format_args!("{e:#}"));
            ExitCode::from(exit_codes::USAGE as u8)
        }
    }
}

fn run(cli: Cli, ready: Option<mount::Ready>) -> anyhow::Result<i32> {
    // The volume driver serves mounts too.
    let mounting = matches!(
        cli.cmd,
        Some(cli::Cmd::Mount { .. } | cli::Cmd::VolumeDriver { .. })
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        // A mount's requests run here, some in blocking syscalls (the direct path).
        .worker_threads(if mounting { 4 } else { 2 })
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if !mounting {
        rt.block_on(async { interrupt::install() })
            .context("cannot catch Ctrl-C")?;
    }

    let stdout_tty = io::stdout().is_terminal();
    let theme = Theme::new(
        cli.color_enabled(stdout_tty),
        std::env::var("LS_COLORS").ok().as_deref(),
    );
    let mode = match cli.agent {
        // A mount answers nothing it would have to guess: the agent is waited for.
        cli::AgentWhen::Auto if mounting => AgentMode::Always,
        cli::AgentWhen::Auto => AgentMode::Auto,
        cli::AgentWhen::Always => AgentMode::Always,
        cli::AgentWhen::Never => AgentMode::Never,
    };
    let req = host::Request {
        hosts: cli.host.clone(),
        contexts: cli.context.clone(),
        all_contexts: cli.all_contexts,
    };
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let specs = host::resolve(&req, &|k| std::env::var_os(k), home.as_deref())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let timeout = std::time::Duration::from_secs_f64(cli.timeout);
    let engines: Vec<Arc<Engine>> = specs
        .into_iter()
        .enumerate()
        .map(|(i, spec)| Arc::new(Engine::new(spec, i, timeout)))
        .collect();
    if mode != AgentMode::Never {
        // Ready before a first agent's exec across a network.
        host::gzip_agent_for(engines.iter().map(|e| e.addr()));
    }
    let reporter = context::Reporter::stderr();
    let notes: Option<vfs::Sink> = cli
        .verbose
        .then(|| Arc::new(move |line: &str| reporter.note(line)) as vfs::Sink);
    let vfs = Arc::new(Vfs::new(engines, mode, notes));
    mount::realpaths::set_verbose(cli.verbose);
    if let Some(path) = std::env::var_os("DOCKERBOX_TRACE_CHANGES") {
        trace_changes(&rt, &vfs, path.into());
    }
    if let Some(cli::Cmd::Mount { options, dir, .. }) = &cli.cmd {
        let opts = mount::Options::parse(dir.clone(), options)?;
        return Ok(mount::run(&rt, vfs, &opts, ready)?);
    }
    if let Some(cli::Cmd::VolumeDriver { name, state }) = &cli.cmd {
        let opts = driver::Options {
            name: name.clone(),
            state: state.clone(),
        };
        let said = context::Reporter::stderr().for_command("volume-driver");
        let log: vfs::Sink = Arc::new(move |line: &str| said.note(line));
        return Ok(driver::run(&rt, vfs, &opts, log)?);
    }
    let mut sh = Shell::new(vfs, Arc::new(theme), stdout_tty);
    sh.color_forced = cli.color == cli::ColorWhen::Always;
    let (arg0, args) = cli.positional();
    if !sh.start(arg0, args, cli.shell.set.clone(), cli.shell.interactive) {
        return Ok(exit_codes::USAGE);
    }

    if let Some(text) = &cli.complete_command {
        // The hook the bash/zsh/fish scripts under completions/ call for `dockerbox -c '...`.
        let (start, cands) = rt.block_on(complete::complete(
            &sh.vfs,
            &complete::Scope::of(&sh),
            text,
            text.len(),
        ));
        let kept = text.get(..start).unwrap_or_default();
        for c in cands {
            println!("{kept}{}", c.replacement);
        }
        return Ok(exit_codes::OK);
    } else if let Some(line) = &cli.command {
        rt.block_on(sh.run_line(line.as_bytes()));
    } else if let Some(path) = cli.script.as_ref().filter(|_| !cli.shell.stdin) {
        let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
        let lines = io::BufReader::new(file).split(b'\n');
        shell::run_lines(&rt, &mut sh, lines, Some(&path.to_string_lossy()))
            .context("cannot read the script")?;
    } else if io::stdin().is_terminal() {
        repl::run(&rt, &mut sh)?;
    } else {
        // Not a locked reader: `cat` with no file reads the rest of this same stdin.
        shell::run_lines(&rt, &mut sh, StdinLines, None).context("cannot read the script")?;
    }
    rt.block_on(sh.finish());
    // `&` jobs that are threads of dockerbox would die with it, their output lost.
    rt.block_on(sh.wait_for_threads());
    mount::realpaths::finish();
    rt.block_on(sh.vfs.settle());
    Ok(sh.exit.unwrap_or(sh.status))
}

/// With `DOCKERBOX_TRACE_CHANGES=FILE`, appends every change the namespace announces to FILE,
/// one path a line (`*`: anything may have changed): the tests watch engine events arrive.
fn trace_changes(rt: &tokio::runtime::Runtime, vfs: &Vfs, path: std::path::PathBuf) {
    use tokio::sync::broadcast::error::RecvError;
    let mut rx = vfs.subscribe();
    rt.spawn(async move {
        loop {
            let line = match rx.recv().await {
                Ok(c) => c.to_string(),
                Err(RecvError::Lagged(_)) => "*".to_string(),
                Err(RecvError::Closed) => break,
            };
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path);
            if let Ok(mut f) = f {
                let _ = writeln!(f, "{line}");
            }
        }
    });
}

/// Lines of stdin, taking the lock only while reading each one.
struct StdinLines;

impl Iterator for StdinLines {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<io::Result<Vec<u8>>> {
        let mut line = Vec::new();
        match io::stdin().lock().read_until(b'\n', &mut line) {
            Ok(0) => None,
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                Some(Ok(line))
            }
            Err(e) => Some(Err(e)),
        }
    }
}
