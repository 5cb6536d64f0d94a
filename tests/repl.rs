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
    t.interrupt("sleep 30", "$");
    t.keys(&["cat", "Enter"]);
    t.interrupt("$ cat", "$");
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
        while !t.exited() && start.elapsed() < std::time::Duration::from_secs(30) {
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
    // Ctrl-C once the copy runs (its temporary is there).
    crate::util::wait_until("the copy to start", || {
        std::fs::read_dir(sh.home.path()).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().contains(".copy.dbx-"))
        })
    });
    t.interrupt("echo status=$?", "$");
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

/// A `for` loop typed over three lines continues with `> ` until `done`, runs once, and is one
/// history entry: Up brings the whole loop back, and Enter runs it again. A real syntax error is
/// reported at once (status 2), and Ctrl-C at `> ` drops what was pending.
#[test]
fn a_multi_line_loop_is_one_command_and_one_history_entry() {
    if !tmux_available() {
        return;
    }
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&["for c in a b; do", "Enter"]);
    t.wait_for("continuation", |s| s.trim_end().ends_with('>'));
    t.keys(&["echo got-$c", "Enter"]);
    t.wait_for("second continuation", |s| s.matches("\n>").count() == 2);
    t.keys(&["done", "Enter"]);
    t.wait_for("loop ran", |s| s.contains("\ngot-a\ngot-b\n"));
    t.keys(&["Up"]);
    t.wait_for("whole loop recalled", |s| {
        s.contains("~$ for c in a b; do\necho got-$c\ndone")
    });
    t.keys(&["Enter"]);
    t.wait_for("ran again", |s| s.matches("\ngot-b\n").count() == 2);
    // A here-document continues until its delimiter.
    t.keys(&[
        "cat <<EOF",
        "Enter",
        "body-$((6*7))",
        "Enter",
        "EOF",
        "Enter",
    ]);
    t.wait_for("here-document", |s| s.contains("\nbody-42\n"));
    // Ctrl-C at `> ` drops the pending `if`; a syntax error is not continued.
    t.keys(&["if true; then", "Enter"]);
    t.wait_for("continuation", |s| s.trim_end().ends_with('>'));
    t.keys(&["echo dropped", "C-c"]);
    t.keys(&["done; echo x", "Enter"]);
    t.wait_for("syntax error", |s| s.contains("unexpected token `done'"));
    t.keys(&["echo status=$?", "Enter"]);
    let s = t.wait_for("status", |s| s.contains("\nstatus=2"));
    assert!(!s.contains("\ndropped"), "{s}");
    t.keys(&["C-d"]);
    crate::util::wait_until("dockerbox to exit", || t.exited());
    let hist = sh.home.path().join(".local/state/dockerbox/history");
    let text = std::fs::read_to_string(&hist).unwrap_or_default();
    // rustyline's file keeps an entry's newlines escaped, one entry a line.
    assert_eq!(
        text.matches("for c in a b; do\\necho got-$c\\ndone\n")
            .count(),
        1,
        "{text}"
    );
}

/// Tab completes a command name after `$(` and in a loop's body (functions and the language's
/// builtins too), and a path inside `"...` keeps its quote and closes it after a file.
#[test]
fn tab_completes_inside_substitutions_loops_and_quotes() {
    if !tmux_available() {
        return;
    }
    let sh = TestShell::new();
    std::fs::write(sh.home.path().join("uniq-file-xyz"), "quoted-ok\n").unwrap();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&["uniqfn() { echo fn-$1; }", "Enter"]);
    t.wait_for("defined", |s| s.matches("~$").count() == 2);
    // tmux trims a line's trailing blanks: the space a completion adds shows once text follows.
    t.keys(&["echo $(uniqf", "Tab", "a)"]);
    t.wait_for("function after $(", |s| s.contains("$ echo $(uniqfn a)"));
    t.keys(&["Enter"]);
    t.wait_for("ran", |s| s.contains("\nfn-a\n"));
    t.keys(&[
        "for c in 1; do uniqf",
        "Tab",
        "b; cat uniq-fi",
        "Tab",
        "; done #",
    ]);
    t.wait_for("function, file and keyword in the loop", |s| {
        s.contains("do uniqfn b; cat uniq-file-xyz ; done #")
    });
    t.keys(&["Enter"]);
    t.wait_for("loop ran", |s| s.contains("\nfn-b\nquoted-ok\n"));
    t.keys(&["cat \"uniq-f", "Tab", "#"]);
    t.wait_for("quoted path", |s| s.contains("$ cat \"uniq-file-xyz\" #"));
    t.keys(&["Enter"]);
    t.wait_for("quoted file read", |s| {
        s.matches("\nquoted-ok\n").count() == 2
    });
    t.keys(&["job", "Tab", "2>&1; unti", "Tab", "false; do break; done"]);
    t.wait_for("language builtin and keyword", |s| {
        s.contains("$ jobs 2>&1; until false; do break; done")
    });
}

/// `set -o vi` switches the editor at once: Esc, `0` and `x` edit the line as vi does; `set -o`
/// shows it, and `set -o emacs` switches back. From ~/.dockerboxrc it holds from the start.
#[test]
fn set_o_vi_switches_the_editing_mode() {
    if !tmux_available() {
        return;
    }
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&["set -o vi; set -o | grep -E '^(vi|emacs)'", "Enter"]);
    t.wait_for("set -o", |s| s.contains("\nemacs") && s.contains("\nvi"));
    let s = t.screen(false);
    assert!(
        s.lines().any(|l| l.starts_with("vi") && l.ends_with("on"))
            && s.lines()
                .any(|l| l.starts_with("emacs") && l.ends_with("off")),
        "{s}"
    );
    vi_edit(&t, "vi-mode-ok");
    t.keys(&["set -o emacs", "Enter"]);
    t.wait_for("prompt", |s| s.matches("~$").count() == 4);
    t.keys(&["C-d"]);
    crate::util::wait_until("dockerbox to exit", || t.exited());
    std::fs::write(sh.home.path().join(".dockerboxrc"), "set -o vi\n").unwrap();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("~$"));
    vi_edit(&t, "rc-vi-ok");
}

/// Types `xecho WORD`, then Esc (normal mode: the cursor steps back once rustyline knows the Esc
/// is alone), `0` and `x`: the line is `echo WORD`, and Enter runs it.
fn vi_edit(t: &Tmux, word: &str) {
    t.keys(&[&format!("xecho {word}")]);
    t.wait_for("typed", |s| s.contains(&format!("$ xecho {word}")));
    let typed = t.cursor_x();
    t.keys(&["Escape"]);
    crate::util::wait_until("normal mode", || t.cursor_x() + 1 == typed);
    t.keys(&["0", "x"]);
    t.wait_for("edited", |s| s.contains(&format!("$ echo {word}")));
    t.keys(&["Enter"]);
    t.wait_for("ran", |s| s.contains(&format!("\n{word}\n")));
}

/// Presses Ctrl-Z until the job is reported stopped (a Ctrl-Z typed before the program has the
/// terminal reaches dockerbox, which ignores it); returns the screen.
fn stop(t: &Tmux, job: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        t.keys(&["C-z"]);
        let s = t.screen(false);
        if s.contains(&format!("Stopped                 {job}")) {
            return s;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(crate::util::WAIT_SECS),
            "Ctrl-Z did not stop {job}; screen:\n{s}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Job control for host programs: Ctrl-Z stops `sleep 100` and `head` (status 148), `jobs`
/// lists them with `+` and `-`, `fg %2` gives `head` the terminal again (it reads the line typed
/// next), `bg` continues `sleep` in the background, and `fg` then Ctrl-C ends it. (`cat` is a
/// builtin here, a thread that Ctrl-Z cannot stop, so `head` reads the terminal instead.)
#[test]
fn ctrl_z_stops_host_jobs_and_fg_and_bg_continue_them() {
    if !tmux_available() {
        return;
    }
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&["sleep 100", "Enter"]);
    stop(&t, "sleep 100");
    t.keys(&["echo status=$?", "Enter"]);
    t.wait_for("status", |s| s.contains("\nstatus=148"));
    t.keys(&["head -n 1", "Enter"]);
    stop(&t, "head -n 1");
    t.keys(&["jobs", "Enter"]);
    t.wait_for("both jobs", |s| {
        s.contains(
            "\n[1]-  Stopped                 sleep 100\n[2]+  Stopped                 head -n 1\n",
        )
    });
    t.keys(&["fg %2", "Enter"]);
    t.wait_for("fg names the job", |s| s.contains("$ fg %2\nhead -n 1\n"));
    t.keys(&["typed-line", "Enter"]);
    t.wait_for("head read the terminal", |s| {
        s.contains("\nhead -n 1\ntyped-line\ntyped-line\n")
    });
    t.keys(&["bg", "Enter"]);
    t.wait_for("bg", |s| s.contains("\n[1]+ sleep 100 &\n"));
    t.keys(&["jobs -l", "Enter"]);
    t.wait_for("running", |s| {
        s.contains("Running                 sleep 100 &")
    });
    t.keys(&["fg", "Enter"]);
    t.wait_for("fg", |s| s.contains("$ fg\nsleep 100\n"));
    t.interrupt("$ fg", "$");
    t.keys(&["echo after=$?; jobs; echo listed", "Enter"]);
    let s = t.wait_for("after", |s| s.contains("\nafter=130\nlisted"));
    assert!(!t.exited(), "{s}");
    // Leaving with a stopped job is refused once.
    t.keys(&["sleep 100", "Enter"]);
    stop(&t, "sleep 100");
    t.keys(&["C-d"]);
    t.wait_for("warning", |s| {
        s.contains("dockerbox: there are stopped jobs")
    });
    assert!(!t.exited());
    t.keys(&["C-d"]);
    crate::util::wait_until("dockerbox to exit", || t.exited());
}

/// A pipeline with a builtin stage (a thread of dockerbox, which cannot be stopped) ignores
/// Ctrl-Z: it runs to its end and no job is left; `%N` specs work for `wait` and `kill`, in the
/// REPL and (without job control) in `-c`.
#[test]
fn ctrl_z_leaves_builtin_pipelines_running_and_job_specs_work() {
    if !tmux_available() {
        return;
    }
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&["sleep 2 | cat; echo piped=$?", "Enter"]);
    t.keys(&["C-z"]);
    t.keys(&["C-z"]);
    // The terminal echoes `^Z` where the output goes on.
    t.wait_for("pipeline ended", |s| {
        s.contains("^Zpiped=0") || s.contains("\npiped=0")
    });
    t.keys(&["jobs; echo none", "Enter"]);
    let s = t.wait_for("no job", |s| s.contains("\nnone"));
    assert!(!s.contains("Stopped"), "{s}");
    t.keys(&["sleep 100", "Enter"]);
    stop(&t, "sleep 100");
    t.keys(&["kill %1; wait %1; echo killed=$?", "Enter"]);
    t.wait_for("kill %1", |s| s.contains("\nkilled=143"));
    t.keys(&["sleep 0.1 & wait %1; echo waited=$?", "Enter"]);
    t.wait_for("wait %1", |s| {
        s.contains("\n[1] ") && s.contains("\nwaited=0")
    });
    // A job nobody waited for is announced once it ended, before a prompt.
    t.keys(&["sleep 0.2 &", "Enter"]);
    crate::util::wait_until("the Done notice", || {
        t.keys(&["Enter"]);
        t.screen(false)
            .contains("\n[1]+  Done                    sleep 0.2\n")
    });
    let s = t.screen(false);
    assert!(
        !s.contains("Done                    sleep 0.1"),
        "waited for: {s}"
    );
    let r = sh.c("sleep 0.1 & wait %1; echo $?; sleep 0.1 & wait %%; echo $?; wait %9; echo $?");
    assert_eq!(r.out(), "0\n0\n127\n");
}

/// `&` jobs under job control: a host job is a process group of its own whose `$!` is the
/// real PID (`kill -0 $!`); `jobs -l` lists it with that PID; `fg` gives it the terminal and
/// Ctrl-Z stops it again; `bg` continues it; `kill %1` ends it (143). A background job that
/// reads the terminal stops, and `fg` lets it read.
#[test]
fn background_host_jobs_have_full_job_control() {
    if !tmux_available() {
        return;
    }
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&["sleep 100 &", "Enter"]);
    let s = t.wait_for("job started", |s| s.contains("\n[1] "));
    let pid: String = s
        .split("\n[1] ")
        .nth(1)
        .unwrap_or_default()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert!(!pid.is_empty(), "{s}");
    t.keys(&["echo bang=$!; kill -0 $! && echo alive", "Enter"]);
    t.wait_for("$! is the PID", |s| {
        s.contains(&format!("\nbang={pid}\nalive\n"))
    });
    t.keys(&["jobs -l", "Enter"]);
    t.wait_for("jobs -l", |s| {
        s.contains(&format!(
            "\n[1]+ {pid} Running                 sleep 100 &\n"
        ))
    });
    t.keys(&["fg %1", "Enter"]);
    t.wait_for("fg names the job", |s| s.contains("$ fg %1\nsleep 100\n"));
    stop(&t, "sleep 100");
    t.keys(&["bg", "Enter"]);
    t.wait_for("bg", |s| s.contains("\n[1]+ sleep 100 &\n"));
    t.keys(&["kill %1; wait %1; echo killed=$?", "Enter"]);
    t.wait_for("kill %1", |s| s.contains("\nkilled=143"));
    // Reading the terminal in the background stops it (SIGTTIN); `fg` lets it read.
    t.keys(&["head -n 1 &", "Enter"]);
    crate::util::wait_until("the reader to stop", || {
        t.keys(&["jobs", "Enter"]);
        t.screen(false)
            .contains("Stopped                 head -n 1 &")
    });
    t.keys(&["kill -STOP %1; bg %1", "Enter"]);
    t.wait_for("bg after kill -STOP", |s| {
        s.contains("\n[1]+ head -n 1 &\n")
    });
    t.keys(&["fg", "Enter"]);
    t.wait_for("fg", |s| s.contains("$ fg\nhead -n 1\n"));
    t.keys(&["typed-in-fg", "Enter"]);
    t.wait_for("head read it", |s| {
        s.contains("\ntyped-in-fg\ntyped-in-fg\n")
    });
    t.keys(&["echo after=$?", "Enter"]);
    t.wait_for("status", |s| s.contains("\nafter=0"));
    assert!(!t.exited());
}

/// `&` jobs that run in dockerbox itself (a loop): Ctrl-C typed for the foreground leaves
/// them running, `kill %N` ends them with 143 (also by `kill $!`), and `fg` waits for one
/// that Ctrl-C then cancels (130).
#[test]
fn background_thread_jobs_are_cancelled_by_kill_and_fg_ctrl_c() {
    if !tmux_available() {
        return;
    }
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&["while :; do sleep 0.05; done &", "Enter"]);
    t.wait_for("job started", |s| s.contains("\n[1] "));
    t.keys(&["while :; do :; done", "Enter"]);
    t.interrupt("while :; do :; done\n", "$");
    t.keys(&["jobs", "Enter"]);
    t.wait_for("still running", |s| {
        s.contains("\n[1]+  Running                 while :; do sleep 0.05; done &\n")
    });
    t.keys(&["kill %1; wait %1; echo killed=$?", "Enter"]);
    t.wait_for("kill %1", |s| s.contains("\nkilled=143"));
    t.keys(&[
        "while :; do :; done & kill $!; wait $!; echo bang=$?",
        "Enter",
    ]);
    t.wait_for("kill $!", |s| s.contains("\nbang=143"));
    t.keys(&["while :; do sleep 0.05; done &", "Enter"]);
    t.wait_for("job started", |s| {
        s.contains("$ while :; do sleep 0.05; done &\n[")
    });
    t.keys(&["fg", "Enter"]);
    t.wait_for("fg names it", |s| {
        s.contains("$ fg\nwhile :; do sleep 0.05; done\n")
    });
    t.interrupt("$ fg\n", "$");
    t.keys(&["echo fg=$?; jobs; echo listed", "Enter"]);
    let s = t.wait_for("after fg", |s| s.contains("\nfg=130\n"));
    let after = s.rsplit("\nfg=130\n").next().unwrap_or_default();
    assert!(after.starts_with("listed"), "{s}");
    assert!(!t.exited());
}

/// Without job control: `$!` of a host job is its real PID (`kill $!`, `wait $!`, `ps -p
/// $!` work), a thread job's is a number above any PID that `kill` and `wait` take, and a
/// script or `-c` waits for thread jobs (their output lands) but not for host programs.
#[test]
fn bang_is_a_real_pid_and_thread_jobs_finish_before_exit() {
    let sh = TestShell::new();
    let r = sh.c("sleep 30 & p=$!; kill -0 $p && echo alive; kill $p; wait $p; echo st=$?");
    assert_eq!(r.out(), "alive\nst=143\n");
    let r =
        sh.c("while :; do :; done & kill $!; wait $!; echo st=$?; [ $! -gt 4194304 ] && echo big");
    assert_eq!(r.out(), "st=143\nbig\n");
    let r = sh.c("sleep 0.1 | sleep 0.2 & jobs -p | grep -qx \"$(jobs -p)\"; wait $!; echo w=$?");
    assert_eq!(r.out(), "w=0\n");
    let file = sh.home.path().join("loop-out");
    let r = sh.c(&format!(
        "for i in 1 2 3; do echo $i; done > '{}' & ",
        file.display()
    ));
    assert_eq!(r.status, 0);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap_or_default(),
        "1\n2\n3\n"
    );
    let r = sh.c("{ sleep 0.2; echo late; } &");
    assert_eq!(r.out(), "late\n");
    let r = sh.stdin(b"{ sleep 0.2; echo piped-late; } &\necho first\n");
    assert_eq!(r.out(), "first\npiped-late\n");
    // A host program is not waited for: it goes on by itself after dockerbox ended.
    let r = sh.c("sleep 60 >/dev/null 2>&1 & echo $! > pid");
    assert_eq!(r.status, 0);
    let pid = std::fs::read_to_string(sh.home.path().join("pid")).unwrap_or_default();
    let kill = |args: &[&str]| {
        std::process::Command::new("kill")
            .args(args)
            .arg(pid.trim())
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(kill(&["-0"]), "sleep {pid} goes on");
    kill(&["-TERM"]);
    // As sh: `wait` says which signal killed a job, on its own stderr; a signal a process
    // ignores by default does not end a thread job.
    let r = sh.c("sleep 30 & kill -HUP $!; wait $! 2>err; echo st=$?; cat err");
    assert!(r.out().starts_with("st=129\ndockerbox: "), "{}", r.out());
    assert!(r.out().ends_with(" Hangup\n"), "{}", r.out());
    let r = sh.c("{ sleep 0.1; echo end; } & kill -URG $!; wait $!; echo st=$?");
    assert_eq!(r.out(), "end\nst=0\n");
    // `wait -n` returns with the first host job to end, not the first started.
    let r = sh
        .c("sleep 30 & a=$!; sh -c 'exit 7' & wait -n; echo n=$?; kill -0 $a && echo on; kill $a");
    assert_eq!(r.out(), "n=7\non\n");
    let r = sh.c("kill -l 143; kill -s KILL %9; echo $?");
    assert_eq!(r.out(), "TERM\n1\n");
    assert!(r.stderr.contains("kill: %9: no such job"), "{}", r.stderr);
}

/// Tab completes a closing keyword where it fits, also on a `> ` line of a multi-line loop,
/// and `%N` after `fg`.
#[test]
fn tab_completes_closing_keywords_and_job_specs() {
    if !tmux_available() {
        return;
    }
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&["for i in a b; do", "Enter"]);
    t.wait_for("continued", |s| s.contains("\n>"));
    t.keys(&["echo item-$i", "Enter"]);
    t.keys(&["don", "Tab"]);
    t.wait_for("done completed", |s| s.contains("\n> done"));
    t.keys(&["Enter"]);
    t.wait_for("the loop ran", |s| s.contains("\nitem-a\nitem-b\n"));
    t.keys(&["sleep 100 &", "Enter"]);
    t.wait_for("job", |s| s.contains("\n[1] "));
    t.keys(&["fg %", "Tab"]);
    t.wait_for("job spec completed", |s| s.contains("$ fg %1"));
    t.keys(&["Enter"]);
    t.wait_for("fg", |s| s.contains("$ fg %1\nsleep 100\n"));
    t.interrupt("$ fg %1\n", "$");
    assert!(!t.exited());
}
