//! The command line: `dockerbox [OPTIONS] [-c COMMANDS [ARG0 [ARGS...]] | SCRIPT [ARGS...]]`,
//! plus bash's own flags (`-e`, `-u`, `-x`, `-o OPT`, `+o OPT`, `-i`, `-s`, `--norc`...), so a
//! script's `$SH -c ...` re-invocations run. clap parses dockerbox's options; [`parse`] first
//! takes out what only a shell's command line has, as bash reads it (options end at the first
//! operand, `-c` is a flag whose command is that operand).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// An interactive shell where Docker containers are directories.
///
/// /containers/NAME/PATH is PATH inside container NAME, running or stopped (with several
/// engines, /containers/HOST/NAME/PATH); everything else is the host. The file builtins (ls, cd,
/// cat, cp, mv, rm, mkdir, ...) work across both, exec and sh reach into containers, anything
/// else runs on the host; `help` lists them all. Command lines are sh's: pipes, redirects,
/// globs, && and ||, variables and aliases. bash's flags -e -u -x -f -C -a -n, -o OPT and +o OPT
/// set shell options; -i, -s, --norc and --noprofile are accepted as bash takes them.
#[derive(Debug, Parser)]
#[command(name = "dockerbox", version, about, long_about = None)]
pub struct Cli {
    /// Run COMMANDS (a command line) and exit with its status; operands after it are $0, $1...
    #[arg(short = 'c', value_name = "COMMANDS")]
    pub command: Option<OsString>,

    /// When to use colours: only on a terminal (auto, honours NO_COLOR), always, or never
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,

    /// Say which backend (agent or archive API) served each container
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Use the in-container agent: auto (start it in the background, answer from the archive
    /// API meanwhile), always (wait for it), never (upload nothing)
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = AgentWhen::Auto, global = true)]
    pub agent: AgentWhen,

    /// An engine to show, as NAME=URL (unix://, tcp://, ssh://) or URL; repeat for several.
    /// With more than one engine the tree is /containers/HOST/NAME
    #[arg(short = 'H', long = "host", value_name = "[NAME=]URL", global = true)]
    pub host: Vec<String>,

    /// A docker CLI context to show (repeatable)
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Vec<String>,

    /// Show every docker CLI context, plus `default`
    #[arg(long, global = true)]
    pub all_contexts: bool,

    /// Seconds an engine may take to answer before it counts as unreachable
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = parse_timeout, global = true)]
    pub timeout: f64,

    /// For shell completion scripts: print the ways to complete TEXT (a dockerbox command line,
    /// cursor at its end), one whole new TEXT per line
    #[arg(long, value_name = "TEXT", hide = true, conflicts_with_all = ["command", "script"])]
    pub complete_command: Option<String>,

    /// A script to run, one command line per line (with -c: $0)
    #[arg(value_name = "SCRIPT")]
    pub script: Option<PathBuf>,

    /// The script's arguments: $1, $2...
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<OsString>,

    /// What bash's own flags asked for.
    #[arg(skip)]
    pub shell: ShellArgs,

    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

/// What dockerbox does instead of being a shell.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Serve the namespace at DIR as a filesystem (FUSE) for every program: DIR/containers/NAME/...
    /// (with several engines DIR/containers/HOST/NAME/...), DIR/meta, DIR/images, DIR/volumes. Runs until
    /// unmounted (umount DIR, fusermount3 -u DIR) or interrupted
    Mount {
        /// Return once the mount is ready; it is served in the background
        #[arg(long)]
        background: bool,
        /// Mount options, comma-separated: ro, rw, allow_other, writeback_cache
        #[arg(short = 'o', value_name = "OPTIONS")]
        options: Vec<String>,
        /// The directory to mount on
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Serve a Docker volume plugin on /run/docker/plugins/NAME.sock whose volumes are
    /// container directories: docker volume create -d NAME -o src=/containers/web/var/log weblogs
    VolumeDriver {
        /// The plugin's name (docker volume create -d NAME)
        #[arg(long, value_name = "NAME", default_value = "dockerbox")]
        name: String,
        /// Where the volumes (volumes.json) and their mounts (mounts/) are kept
        #[arg(long, value_name = "DIR", default_value = "/var/lib/dockerbox")]
        state: PathBuf,
    },
}

/// What a shell's command line sets that dockerbox's own options do not name.
#[derive(Debug, Default, Clone)]
pub struct ShellArgs {
    /// Arguments for `set`, in order (`-e`, `+o`, `pipefail`...).
    pub set: Vec<OsString>,
    /// `-i`: interactive rules (an error does not end the shell).
    pub interactive: bool,
    /// `-s`: commands from stdin, every operand a positional parameter.
    pub stdin: bool,
    /// `--norc`: the REPL does not run `~/.dockerboxrc`.
    pub norc: bool,
}

/// Whether `--norc` was given (the REPL asks before reading `~/.dockerboxrc`).
static NORC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--norc` was on the command line.
pub fn norc() -> bool {
    NORC.load(std::sync::atomic::Ordering::Relaxed)
}

/// dockerbox's options that take a value (the next argument when not given with `=`).
const VALUED: &[&str] = &[
    "color",
    "agent",
    "host",
    "context",
    "timeout",
    "complete-command",
];

/// The command line, parsed; a usage error is one line, status 2.
pub fn parse() -> Cli {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let parsed = split_shell_args(argv).and_then(|(argv, shell)| {
        NORC.store(shell.norc, std::sync::atomic::Ordering::Relaxed);
        Cli::try_parse_from(argv)
            .map(|cli| Cli { shell, ..cli })
            .map_err(|e| match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    e.exit()
                }
                _ => e
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .to_string(),
            })
    });
    parsed.unwrap_or_else(|msg| {
        crate::context::Reporter::stderr().error(&msg);
        std::process::exit(crate::exit_codes::USAGE);
    })
}

/// Takes bash's own flags out of `argv`, as bash reads its command line: options until the first
/// operand (or `--`), short ones clustered (`-ec`), `-c` a flag whose command is the first
/// operand. What is left is dockerbox's options, `-c COMMANDS`, then `--` and the operands.
fn split_shell_args(argv: Vec<OsString>) -> Result<(Vec<OsString>, ShellArgs), String> {
    let mut it = argv.into_iter();
    let mut out: Vec<OsString> = it.next().into_iter().collect();
    let mut shell = ShellArgs::default();
    let mut command = false;
    let mut operands: Vec<OsString> = Vec::new();
    while let Some(arg) = it.next() {
        let a = arg.as_bytes();
        if a == b"--" || a == b"-" {
            operands.extend(it.by_ref());
            break;
        }
        if let Some(long) = a.strip_prefix(b"--") {
            let name = long.split(|&c| c == b'=').next().unwrap_or_default();
            match name {
                b"norc" => shell.norc = true,
                b"noprofile" | b"posix" | b"login" | b"noediting" => {}
                b"rcfile" | b"init-file" if !long.contains(&b'=') => {
                    it.next();
                }
                b"rcfile" | b"init-file" => {}
                _ => {
                    let valued = VALUED.iter().any(|v| v.as_bytes() == name);
                    out.push(arg.clone());
                    if valued && !long.contains(&b'=') {
                        out.extend(it.next());
                    }
                }
            }
            continue;
        }
        let on = match a.first() {
            Some(b'-') if a.len() > 1 => true,
            Some(b'+') if a.len() > 1 => false,
            _ => {
                operands.push(arg);
                operands.extend(it.by_ref());
                break;
            }
        };
        let sign = if on { "-" } else { "+" };
        let mut kept = String::from("-");
        for (i, &c) in a.iter().enumerate().skip(1) {
            match c {
                b'o' => {
                    let name = it
                        .next()
                        .ok_or_else(|| format!("{sign}o: option requires an argument"))?;
                    shell.set.push(format!("{sign}o").into());
                    shell.set.push(name);
                }
                b'e' | b'u' | b'x' | b'f' | b'C' | b'a' | b'n' => {
                    shell.set.push(format!("{sign}{}", c as char).into())
                }
                b'i' if on => shell.interactive = true,
                b's' if on => shell.stdin = true,
                b'c' if on => command = true,
                b'l' | b'b' | b'm' | b'B' | b'P' | b'T' | b'E' | b'k' | b't' => {}
                b'h' | b'H' if !on => {}
                b'H' => {
                    // dockerbox's -H URL: the rest of the cluster or the next argument.
                    if kept.len() > 1 {
                        out.push(kept.clone().into());
                    }
                    kept = String::from("-");
                    out.push("-H".into());
                    let rest = &a[i + 1..];
                    if rest.is_empty() {
                        out.extend(it.next());
                    } else {
                        out.push(OsString::from(std::ffi::OsStr::from_bytes(rest)));
                    }
                    break;
                }
                _ if on => kept.push(c as char),
                _ => return Err(format!("+{}: invalid option", c as char)),
            }
        }
        if kept.len() > 1 {
            out.push(kept.into());
        }
    }
    let mut operands = operands.into_iter();
    if command {
        let text = operands
            .next()
            .ok_or_else(|| "-c: option requires an argument".to_string())?;
        out.push("-c".into());
        out.push(text);
    }
    let rest: Vec<OsString> = operands.collect();
    if !rest.is_empty() {
        // A subcommand (mount, volume-driver) keeps its own arguments for clap.
        let subcommand = <Cli as clap::CommandFactory>::command()
            .get_subcommands()
            .any(|s| rest[0] == s.get_name());
        if !command && !shell.stdin && subcommand {
            out.extend(rest);
        } else {
            out.push("--".into());
            out.extend(rest);
        }
    }
    Ok((out, shell))
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t > 0.0 && t <= 86400.0 => Ok(t),
        _ => Err("a number of seconds between 0 and 86400".into()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AgentWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl Cli {
    /// `$0` and `$1`...: the script and its arguments; with `-c` the operands after the
    /// command; with `-s` every operand is an argument.
    pub fn positional(&self) -> (OsString, Vec<OsString>) {
        let argv0 = std::env::args_os()
            .next()
            .unwrap_or_else(|| "dockerbox".into());
        let script = self.script.clone().map(OsString::from);
        match script {
            Some(s) if self.shell.stdin && self.command.is_none() => {
                (argv0, std::iter::once(s).chain(self.args.clone()).collect())
            }
            Some(s) => (s, self.args.clone()),
            None => (argv0, self.args.clone()),
        }
    }

    /// Whether to colour stdout, given whether it is a terminal.
    pub fn color_enabled(&self, stdout_tty: bool) -> bool {
        match self.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                stdout_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// The completion script for `shell`, as committed under `completions/`: clap's completion of
/// the options, plus a hook that completes the command line given to `-c` by asking dockerbox
/// itself (`--complete-command`), so `dockerbox -c 'cat /containers/w<Tab>` completes names
/// from the engine.
#[cfg(test)]
pub fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "dockerbox", &mut out);
    let hook = match shell {
        clap_complete::Shell::Bash => BASH_HOOK,
        clap_complete::Shell::Zsh => ZSH_HOOK,
        clap_complete::Shell::Fish => FISH_HOOK,
        _ => "",
    };
    out.extend_from_slice(hook.as_bytes());
    out
}

#[cfg(test)]
const BASH_HOOK: &str = r#"
# dockerbox: the argument of -c is completed by dockerbox itself.
_dockerbox_dynamic() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    if [[ $COMP_CWORD -gt 1 && $prev == -c ]]; then
        local text=$cur
        case $text in
            "'"*) text=${text#"'"} ;;
            '"'*) text=${text#'"'} ;;
        esac
        local IFS=$'
'
        COMPREPLY=($(command dockerbox --complete-command "$text" 2>/dev/null))
        compopt -o nospace 2>/dev/null
        return 0
    fi
    _dockerbox "$@"
}
complete -F _dockerbox_dynamic -o bashdefault -o default dockerbox
"#;

#[cfg(test)]
const ZSH_HOOK: &str = r#"
# dockerbox: the argument of -c is completed by dockerbox itself.
_dockerbox_dynamic() {
    if (( CURRENT > 2 )) && [[ ${words[CURRENT-1]} == -c ]]; then
        local -a cands
        cands=("${(@f)$(command dockerbox --complete-command "$PREFIX" 2>/dev/null)}")
        (( ${#cands} )) && [[ -n $cands[1] ]] && compadd -U -Q -S '' -- "${cands[@]}"
        return
    fi
    _dockerbox "$@"
}
compdef _dockerbox_dynamic dockerbox
"#;

#[cfg(test)]
const FISH_HOOK: &str = r#"
# dockerbox: the argument of -c is completed by dockerbox itself.
function __dockerbox_dynamic
    set -l text (commandline -ct | string trim -l -c "'\"")
    command dockerbox --complete-command "$text" 2>/dev/null
end
complete -c dockerbox -s c -x -a '(__dockerbox_dynamic)'
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use clap_complete::Shell;

    /// The committed scripts match the CLI. Regenerate with
    /// `DOCKERBOX_BLESS=1 cargo test completions_are_fresh`.
    #[test]
    fn completions_are_fresh() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
        for (shell, file) in [
            (Shell::Bash, "dockerbox.bash"),
            (Shell::Zsh, "_dockerbox"),
            (Shell::Fish, "dockerbox.fish"),
        ] {
            let want = completion_script(shell);
            let path = dir.join(file);
            if std::env::var_os("DOCKERBOX_BLESS").is_some() {
                std::fs::create_dir_all(&dir).expect("create completions/");
                std::fs::write(&path, &want).expect("write completion script");
            }
            let have = std::fs::read(&path).unwrap_or_default();
            assert!(
                have == want,
                "{} is stale: run DOCKERBOX_BLESS=1 cargo test completions_are_fresh",
                path.display()
            );
        }
    }

    /// bash's own flags come out of the command line; dockerbox's stay for clap.
    #[test]
    fn shell_args_are_split_as_bash_reads_them() {
        let split = |args: &[&str]| {
            let argv = std::iter::once("dockerbox")
                .chain(args.iter().copied())
                .map(OsString::from)
                .collect();
            split_shell_args(argv).map(|(out, sh)| {
                let out: Vec<String> = out[1..]
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect();
                let set: Vec<String> = sh
                    .set
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect();
                (out.join(" "), set.join(" "), sh.interactive, sh.stdin)
            })
        };
        /// Left for clap, `set` flags, -i, -s.
        type Split<'a> = (&'a str, &'a str, bool, bool);
        let cases: &[(&[&str], Result<Split, &str>)] = &[
            (
                &["-c", "echo", "a", "b"],
                Ok(("-c echo -- a b", "", false, false)),
            ),
            (&["-ec", "echo"], Ok(("-c echo", "-e", false, false))),
            (&["--norc", "-i", "-c", "x"], Ok(("-c x", "", true, false))),
            (
                &["-o", "pipefail", "+o", "errexit", "-ux"],
                Ok(("", "-o pipefail +o errexit -u -x", false, false)),
            ),
            (
                &["-vH", "unix:///s", "--color", "never", "s.sh", "-e"],
                Ok(("-v -H unix:///s --color never -- s.sh -e", "", false, false)),
            ),
            (&["-s", "a"], Ok(("-- a", "", false, true))),
            (
                &["-v", "mount", "-o", "ro", "/m"],
                Ok(("-v mount -o ro /m", "", false, false)),
            ),
            (
                &["volume-driver", "--name", "t"],
                Ok(("volume-driver --name t", "", false, false)),
            ),
            (
                &["-H", "m=unix:///a", "-H", "w=unix:///b", "-c", "ls"],
                Ok(("-H m=unix:///a -H w=unix:///b -c ls", "", false, false)),
            ),
            (&["--", "-c"], Ok(("-- -c", "", false, false))),
            (&["-c"], Err("-c: option requires an argument")),
            (&["-o"], Err("-o: option requires an argument")),
            (&["+Q"], Err("+Q: invalid option")),
        ];
        for (args, want) in cases {
            let got = split(args);
            let got = got
                .as_ref()
                .map(|(o, s, i, st)| (o.as_str(), s.as_str(), *i, *st))
                .map_err(String::as_str);
            assert_eq!(got, *want, "{args:?}");
        }
    }

    #[test]
    fn cli_is_well_formed() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }
}
