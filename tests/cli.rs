//! Modes (`-c`, script, piped stdin), exit statuses, the host fall-through and errors that need
//! no container.

use crate::util::{Sandbox, TestShell, BUSYBOX};

#[test]
fn c_runs_commands_and_keeps_the_last_status() {
    let sh = TestShell::new();
    assert_eq!(sh.c("true").status, 0);
    assert_eq!(sh.c("true; false").status, 1);
    assert_eq!(sh.c("false; true").status, 0);
    let r = sh.c("sh -c 'exit 7'");
    assert_eq!(r.status, 7);
    assert_eq!(sh.c("exit 3; true").status, 3);
}

#[test]
fn host_programs_keep_stdout_stderr_and_status() {
    let sh = TestShell::new();
    let r = sh.c("sh -c 'echo out; echo err >&2; exit 4'");
    assert_eq!(r.out(), "out\n");
    assert_eq!(r.stderr, "err\n");
    assert_eq!(r.status, 4);
    let r = sh.c("echo 'two words' \"\" x");
    assert_eq!(r.ok(), "two words  x\n");
}

#[test]
fn unknown_commands_say_so() {
    let sh = TestShell::new();
    let r = sh.c("no-such-command-dbx arg");
    assert_eq!(
        r.stderr,
        "dockerbox: no-such-command-dbx: command not found\n"
    );
    assert_eq!(r.status, 127);
}

#[test]
fn script_file_runs_until_exit() {
    let sh = TestShell::new();
    let script = sh.home.path().join("s.dbx");
    std::fs::write(&script, "# a comment\ncd /containers\npwd\nexit 3\npwd\n").unwrap();
    let r = sh.args(&[script.as_os_str()]);
    assert_eq!(r.out(), "/containers\n");
    assert_eq!(r.status, 3);
}

#[test]
fn commands_from_piped_stdin() {
    let sh = TestShell::new();
    let r = sh.stdin(b"cd /containers\npwd; cd /tmp\npwd\nfalse\n");
    assert_eq!(r.out(), "/containers\n/tmp\n");
    assert_eq!(r.status, 1);
}

/// Without a mount, a host program cannot run in a virtual directory: it runs in the last host
/// one. (With the mount it runs there: tests/realpaths.rs.)
#[test]
fn host_programs_run_in_the_last_host_directory() {
    let sh = TestShell::new().env("DOCKERBOX_MOUNT", "0");
    let r = sh.c("cd /tmp; cd /containers; pwd; sh -c pwd");
    assert_eq!(r.ok(), "/containers\n/tmp\n");
}

#[test]
fn syntax_and_usage_errors() {
    let sh = TestShell::new();
    let r = sh.c("echo 'unclosed");
    assert_eq!(
        r.stderr,
        "dockerbox: syntax error: unexpected EOF while looking for matching `''\n"
    );
    assert_eq!(r.status, 2);
    let r = sh.c("ls -z");
    assert_eq!(
        r.stderr,
        "dockerbox: ls: invalid option -- 'z'\nTry 'help ls' for more information.\n"
    );
    assert_eq!(r.status, 2);
    let r = sh.args(&["--color", "bogus", "-c", "true"]);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("invalid value 'bogus'"), "{}", r.stderr);
}

#[test]
fn help_and_version() {
    let sh = TestShell::new();
    let out = sh.args(&["--help"]).ok();
    assert!(
        out.contains("--color <WHEN>") && out.contains("-c <COMMANDS>"),
        "{out}"
    );
    assert!(sh.args(&["--version"]).ok().starts_with("dockerbox "));
    let out = sh.c("help").ok();
    for b in ["ls", "cd", "pwd", "cat", "exit", "help"] {
        assert!(out.contains(&format!("  {b} ")), "help lists {b}: {out}");
    }
    assert!(sh.c("help ls").ok().starts_with("usage: ls [-laA1dhRtr]"));
    assert_eq!(sh.c("help nope").status, 1);
}

#[test]
fn an_unreachable_engine_is_named_with_its_address() {
    let sh = TestShell::new().env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let r = sh.c("ls /containers");
    assert_eq!(
        r.stderr,
        "dockerbox: ls: /containers: cannot connect to unix:///nonexistent/docker.sock: No such file or directory\n"
    );
    // An engine that does not answer is an unreadable directory to ls: 1.
    assert_eq!(r.status, 1);
    // The host side needs no engine.
    assert_eq!(sh.c("ls -d /tmp").ok(), "/tmp\n");

    let sh = TestShell::new().env("DOCKER_HOST", "tcp://127.0.0.1:9");
    let r = sh.c("cat /containers/x/etc/passwd");
    assert_eq!(r.stderr, "dockerbox: cat: /containers/x/etc/passwd: cannot connect to tcp://127.0.0.1:9: Connection refused\n");
    assert_eq!(r.status, 1);
}

#[test]
fn the_namespace_root_shows_containers() {
    let Some(_sb) = Sandbox::new("root") else {
        return;
    };
    let sh = TestShell::new();
    let out = sh.c("ls /").ok();
    assert!(out.lines().any(|l| l == "containers"), "{out}");
    assert!(out.lines().any(|l| l == "tmp"), "{out}");
}

/// `dockerbox -c '...<Tab>` in the user's own shell: the scripts under completions/ ask
/// `dockerbox --complete-command`, which completes container names and paths.
#[test]
fn shell_completion_scripts_complete_inside_dash_c() {
    let Some(mut sb) = Sandbox::new("dyncomp") else {
        return;
    };
    let c = sb.create("uniq-dyn", BUSYBOX);
    let partial = format!("cat /containers/{}", &c[..c.len() - 2]);
    let want = format!("cat /containers/{c}/");
    let sh = TestShell::new();
    let r = sh.args(&["--complete-command", &partial]);
    assert_eq!(r.out(), format!("{want}\n"));

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let path = format!(
        "{}:{}",
        TestShell::bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // bash: call the completion function as bash would, with the word as typed (open quote).
    let script = format!(
        "source {}; COMP_WORDS=(dockerbox -c \"'{partial}\"); COMP_CWORD=2; \
         _dockerbox_dynamic; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        dir.join("dockerbox.bash").display()
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "-c", &script])
        .env("PATH", &path)
        .env("HOME", sh.home.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{want}\n"));
    // fish, when installed: its own `complete -C`.
    if std::process::Command::new("fish")
        .arg("--version")
        .output()
        .is_ok()
    {
        let script = format!(
            "source {}; complete -C \"dockerbox -c '{partial}\"",
            dir.join("dockerbox.fish").display()
        );
        let out = std::process::Command::new("fish")
            .args(["--no-config", "-c", &script])
            .env("PATH", &path)
            .env("HOME", sh.home.path())
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{want}\n"));
    }
}
