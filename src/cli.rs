//! The command line: `dockerbox [-c COMMANDS | SCRIPT] [--color WHEN]`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// An interactive shell where Docker containers are directories.
///
/// /containers/NAME/PATH is PATH inside container NAME, running or stopped (with several
/// engines, /containers/HOST/NAME/PATH); everything else is the host. The file builtins (ls, cd,
/// cat, cp, mv, rm, mkdir, ...) work across both, exec and sh reach into containers, anything
/// else runs on the host; `help` lists them all. Command lines are sh's: pipes, redirects,
/// globs, && and ||, variables and aliases.
#[derive(Debug, Parser)]
#[command(name = "dockerbox", version, about, long_about = None)]
pub struct Cli {
    /// Run COMMANDS (a command line) and exit with its status
    #[arg(short = 'c', value_name = "COMMANDS", conflicts_with = "script")]
    pub command: Option<std::ffi::OsString>,

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

    /// A script to run, one command line per line
    #[arg(value_name = "SCRIPT")]
    pub script: Option<PathBuf>,

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
        /// Mount options, comma-separated: ro, rw, allow_other
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

    #[test]
    fn cli_is_well_formed() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }
}
