//! The REPL in a real terminal (tmux): prompt, Tab completion, colours, Ctrl-C, history.

use crate::util::{Sandbox, TestShell, Tmux, BUSYBOX};

/// Whether tmux runs: without it the terminal tests skip, unless CI requires them.
pub fn tmux_available() -> bool {
    let ok = std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var_os("DOCKERBOX_REQUIRE_DOCKER").is_some_and(|v| v == "1") {
        panic!("tmux is needed for the REPL tests (apt-get install tmux)");
    }
    ok
}

#[test]
fn prompt_follows_the_directory() {
    if !tmux_available() {
        return;
    }
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&["cd /containers", "Enter"]);
    t.wait_for("new prompt", |s| s.contains("/containers$"));
    t.keys(&["C-d"]);
}

#[test]
fn tab_completes_builtins_containers_and_paths() {
    let Some(mut sb) = Sandbox::new("tab") else {
        return;
    };
    if !tmux_available() {
        return;
    }
    let c = sb.create("uniq-c", BUSYBOX);
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("$"));
    t.keys(&["exi", "Tab"]);
    t.wait_for("exit completed", |s| s.contains("$ exit"));
    t.keys(&["C-c"]);
    t.keys(&["ls /containers", "Tab"]);
    t.wait_for("/containers/", |s| s.contains("$ ls /containers/"));
    // Container names are unique by their test prefix.
    t.keys(&[&c[..c.len() - 3], "Tab"]);
    t.wait_for("container name", |s| {
        s.contains(&format!("$ ls /containers/{c}/"))
    });
    t.keys(&["et", "Tab"]);
    t.wait_for("etc/", |s| {
        s.contains(&format!("$ ls /containers/{c}/etc/"))
    });
    t.keys(&["os-", "Tab"]);
    t.wait_for("file", |s| {
        s.contains(&format!("$ ls /containers/{c}/etc/os-release"))
    });
    t.keys(&["Enter"]);
    t.wait_for("listing", |s| {
        s.contains(&format!("/containers/{c}/etc/os-release\n"))
    });
}

#[test]
fn listings_are_coloured_on_a_terminal() {
    let Some(mut sb) = Sandbox::new("replcol") else {
        return;
    };
    if !tmux_available() {
        return;
    }
    let run = sb.run("run", BUSYBOX, &[]);
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("$"));
    t.keys(&[
        "ls -d /containers/",
        &run,
        "; ls /containers/",
        &run,
        "/etc",
        "Enter",
    ]);
    t.wait_for("listing", |s| s.contains("passwd"));
    let screen = t.screen(true);
    // tmux re-renders SGR and trims trailing blanks; ; green is 32 whichever way it spells it.
    assert!(
        screen.contains(&format!("\x1b[32m/containers/{run}")),
        "{screen:?}"
    );
    // On a terminal the grid puts several names on one line.
    assert!(t
        .screen(false)
        .lines()
        .any(|l| l.contains("group") && l.contains("passwd")));
}

#[test]
fn ctrl_c_abandons_the_line_and_stops_commands_not_the_shell() {
    if !tmux_available() {
        return;
    }
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("$"));
    t.keys(&["echo abandoned", "C-c"]);
    t.keys(&["sleep 30", "Enter"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    t.keys(&["C-c"]);
    t.keys(&["cat", "Enter"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    t.keys(&["C-c"]);
    t.keys(&["echo still-$?-alive", "Enter"]);
    let s = t.wait_for("shell alive", |s| s.contains("\nstill-130-alive"));
    assert!(!s.contains("\nabandoned"), "{s}");
    assert!(!t.exited());
}

#[test]
fn history_is_kept_across_sessions() {
    if !tmux_available() {
        return;
    }
    let sh = TestShell::new();
    {
        let t = Tmux::start(&sh, &[]);
        t.wait_for("prompt", |s| s.contains("$"));
        t.keys(&["echo remembered-line", "Enter"]);
        t.wait_for("output", |s| s.contains("\nremembered-line"));
        t.keys(&["C-d"]);
        let start = std::time::Instant::now();
        while !t.exited() && start.elapsed() < std::time::Duration::from_secs(5) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let hist = sh.home.path().join(".local/state/dockerbox/history");
    let text = std::fs::read_to_string(&hist).unwrap_or_default();
    assert!(text.contains("echo remembered-line"), "{text}");
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("$"));
    t.keys(&["Up"]);
    t.wait_for("recalled", |s| s.contains("$ echo remembered-line"));
}

#[test]
fn no_color_turns_colours_off_on_a_terminal() {
    let Some(mut sb) = Sandbox::new("nocolor") else {
        return;
    };
    if !tmux_available() {
        return;
    }
    let run = sb.run("run", BUSYBOX, &[]);
    let sh = TestShell::new().env("NO_COLOR", "1");
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("$"));
    t.keys(&[
        "ls -d /containers/",
        &run,
        "; ls /containers/",
        &run,
        "/etc",
        "Enter",
    ]);
    t.wait_for("listing", |s| s.contains("passwd"));
    let screen = t.screen(true);
    assert!(
        !screen.contains("\x1b[32m") && !screen.contains("\x1b[1;34m"),
        "{screen:?}"
    );
}

#[test]
fn ctrl_c_stops_a_copy_and_leaves_nothing() {
    let Some(mut sb) = Sandbox::new("cpint") else {
        return;
    };
    if !tmux_available() {
        return;
    }
    // On a tmpfs, so the agent streams it chunk by chunk (and the copy takes a while).
    let c = sb.run("c", BUSYBOX, &["--tmpfs", "/data"]);
    sb.exec(&c, &["sh", "-c", "head -c 600000000 /dev/zero > /data/big"]);
    // Not the direct path (/proc/PID/root), which would be done before the Ctrl-C.
    let sh = TestShell::new().env("DOCKERBOX_DIRECT", "0");
    let t = Tmux::start(&sh, &["--agent", "always"]);
    t.wait_for("prompt", |s| s.contains("$"));
    t.keys(&[
        &format!("cp /containers/{c}/data/big copy; echo status=$?"),
        "Enter",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(700));
    t.keys(&["C-c"]);
    t.keys(&["echo alive", "Enter"]);
    let screen = t.wait_for("shell alive", |s| s.contains("\nalive"));
    // Ctrl-C ends the whole line: the echo after the copy never ran, and no error was shown.
    assert_eq!(
        screen.matches("status=").count(),
        1,
        "only as typed: {screen}"
    );
    assert!(!screen.contains("dockerbox: cp"), "{screen}");
    let left: Vec<_> = std::fs::read_dir(sh.home.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("copy") || n.contains("dbx"))
        .collect();
    assert!(
        left.is_empty(),
        "nothing at the destination, no temporary: {left:?}"
    );
}

/// A copy lasting over a second shows indicatif's bar on a terminal (bytes, rate, ETA), clears
/// it when done; with stderr not a terminal nothing is drawn. The rate is the copy's own (it
/// once showed tens of GiB/s for an agent stream of a few hundred MB/s, issue 12).
#[test]
fn a_long_copy_shows_progress_on_a_terminal_only() {
    let Some(mut sb) = Sandbox::new("progress") else {
        return;
    };
    if !tmux_available() {
        return;
    }
    // The agent's stream from a tmpfs is the slow path (the direct one would be done at once).
    let c = sb.run("c", BUSYBOX, &["--tmpfs", "/data:size=1g"]);
    sb.exec(&c, &["sh", "-c", "head -c 700000000 /dev/zero > /data/big"]);
    let sh = TestShell::new().env("DOCKERBOX_DIRECT", "0");
    let t = Tmux::start(&sh, &["--agent", "always"]);
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&[&format!("cp /containers/{c}/data/big copy"), "Enter"]);
    let bar = t.wait_for("progress bar", |s| s.contains("ETA") && s.contains("/s"));
    assert!(
        bar.contains("MiB/s"),
        "a rate an agent stream can have: {bar}"
    );
    assert!(!bar.contains("GiB/s") && !bar.contains("0 files"), "{bar}");
    let done = t.wait_for("prompt after the copy", |s| s.matches("~$").count() == 2);
    assert!(!done.contains("ETA"), "the bar is cleared:\n{done}");
    assert_eq!(
        std::fs::metadata(sh.home.path().join("copy"))
            .unwrap()
            .len(),
        700_000_000
    );
    t.keys(&["C-d"]);
    let r = sh
        .opts(&["--agent", "always"])
        .c(&format!("cp /containers/{c}/data/big copy2"));
    assert_eq!((r.status, r.stderr.as_str()), (0, ""));
}

/// Awkward names complete to words that read back as exactly those names: spaces, `$(...)`, a
/// leading dash, a newline. Nothing in them is ever run.
#[test]
fn tab_quotes_awkward_names_and_runs_nothing() {
    let Some(mut sb) = Sandbox::new("tabq") else {
        return;
    };
    if !tmux_available() {
        return;
    }
    let c = sb.run("c", BUSYBOX, &[]);
    let pwned = "dbx-pwned";
    sb.exec(
        &c,
        &[
            "sh",
            "-c",
            &format!(
                "mkdir /d1 /d2 /d3 && echo one > \"/d1/a b \\$(touch {pwned})\" && echo two > /d2/-rf && echo three > '/d3/new\nline'"
            ),
        ],
    );
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&[&format!("cat /containers/{c}/d1/"), "Tab"]);
    t.wait_for("quoted $(...)", |s| {
        s.contains(&format!(
            "cat /containers/{c}/d1/a\\ b\\ \\$\\(touch\\ {pwned}\\)"
        ))
    });
    t.keys(&["Enter"]);
    t.wait_for("contents", |s| s.contains("\none\n"));
    t.keys(&[&format!("cat /containers/{c}/d2/"), "Tab", "Enter"]);
    t.wait_for("dash name", |s| s.contains("\ntwo\n"));
    t.keys(&[&format!("cat /containers/{c}/d3/"), "Tab"]);
    t.wait_for("newline as $'\\x0a'", |s| s.contains("new$'\\x0a'line"));
    t.keys(&["Enter"]);
    t.wait_for("three", |s| s.contains("\nthree\n"));
    t.keys(&["C-d"]);
    assert!(!sh.home.path().join(pwned).exists(), "nothing ran");
    assert_eq!(sb.exec(&c, &["ls", "/tmp", "/"]).matches(pwned).count(), 0);
}
