//! Messages (issues 11 and 12): one reporter adds `dockerbox: CMD:`, each command's messages go
//! to its own fd 2 (nothing swaps the process's), and names are quoted on a terminal so a file
//! name cannot drive it.

use crate::util::{Sandbox, TestShell, Tmux, BUSYBOX};

fn tmux_available() -> bool {
    std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn read(p: &std::path::Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned()
}

/// `a 2>x | b`: only a's messages go to x, b's to dockerbox's stderr, whichever stage fails;
/// `2>&1` sends a builtin's messages down the pipe, and `-v` lines go to the builtin's stdout.
#[test]
fn each_builtin_s_messages_go_to_its_own_stderr() {
    let sh = TestShell::new();
    let d = sh.home.path().display().to_string();
    let r = sh.c(&format!("cat /nope-a 2>{d}/x | cat /nope-b"));
    assert_eq!(r.status, 1);
    assert_eq!(
        r.stderr,
        "dockerbox: cat: /nope-b: No such file or directory\n"
    );
    assert_eq!(
        read(&sh.home.path().join("x")),
        "dockerbox: cat: /nope-a: No such file or directory\n"
    );

    let r = sh.c(&format!("ls /nope-c | cat /nope-d 2>{d}/y"));
    assert_eq!(
        r.stderr,
        "dockerbox: ls: /nope-c: No such file or directory\n"
    );
    assert_eq!(
        read(&sh.home.path().join("y")),
        "dockerbox: cat: /nope-d: No such file or directory\n"
    );

    let r = sh.c("cat /nope-e 2>&1 | tr a-z A-Z");
    assert_eq!(
        (r.out(), r.stderr.as_str()),
        (
            "DOCKERBOX: CAT: /NOPE-E: NO SUCH FILE OR DIRECTORY\n".to_string(),
            ""
        )
    );
    // A builtin alone with its own 2>: the shell's next message is on stderr again.
    let r = sh.c(&format!("rm {d}/none 2>{d}/z; cd /nope-f"));
    assert_eq!(
        r.stderr,
        "dockerbox: cd: /nope-f: No such file or directory\n"
    );
    assert_eq!(
        read(&sh.home.path().join("z")),
        format!("dockerbox: rm: cannot remove '{d}/none': No such file or directory\n")
    );

    std::fs::write(sh.home.path().join("f"), "data").unwrap();
    let r = sh.c(&format!(
        "cp -v {d}/f {d}/g | tr a-z A-Z; mkdir {d}/t; rm -rv {d}/t | tr a-z A-Z"
    ));
    assert_eq!(
        r.ok(),
        format!(
            "'{}/F' -> '{}/G'\nREMOVED DIRECTORY '{}/T'\n",
            d.to_uppercase(),
            d.to_uppercase(),
            d.to_uppercase()
        )
    );
}

/// `mv` reports its failures as `mv:`, also those of the removal after a copy across
/// filesystems; `exec`'s container process writes its stderr to the builtin's `2>`.
#[test]
fn messages_name_the_command_that_failed() {
    let Some(mut sb) = Sandbox::new("msgcmd") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let sh = TestShell::new();
    let d = sh.home.path().display().to_string();
    let r = sh.c(&format!(
        "cd /containers/{c}/tmp; exec sh -c 'echo out; echo err >&2' 2>{d}/e"
    ));
    assert_eq!(
        (r.status, r.out(), r.stderr.as_str()),
        (0, "out\n".into(), "")
    );
    assert_eq!(read(&sh.home.path().join("e")), "err\n");
    let r = sh.c(&format!("mv /containers/{c}/nope {d}/"));
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (
            1,
            format!(
                "dockerbox: mv: cannot stat '/containers/{c}/nope': No such file or directory\n"
            )
            .as_str()
        )
    );
}

/// On a terminal a name holding an escape sequence is shown quoted, in a builtin's error, in a
/// redirect's and in a host program's argument's: `\e[2J` must not clear the screen.
#[test]
fn names_in_messages_cannot_drive_the_terminal() {
    if !tmux_available() {
        return;
    }
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("~$"));
    t.keys(&["echo MARK; cat $'/tmp/nope\\e[2J'", "Enter"]);
    let s = t.wait_for("cat's message", |s| s.contains("cat:"));
    assert!(
        s.contains("dockerbox: cat: '/tmp/nope'$'\\033''[2J': No such file or directory"),
        "{s}"
    );
    assert!(s.contains("MARK"), "the screen was not cleared:\n{s}");
    t.keys(&["echo x > $'/nope-dir\\e[2J/f'", "Enter"]);
    let s = t.wait_for("the redirect's message", |s| s.contains("nope-dir"));
    assert!(
        s.contains("dockerbox: '/nope-dir'$'\\033''[2J/f': No such file or directory"),
        "{s}"
    );
    assert!(s.contains("MARK"), "the screen was not cleared:\n{s}");
    // A container path given to a host program that cannot be fed to it (dockerbox says so),
    // or that the program, given the path as typed, cannot open (it says so, quoted as GNU's do).
    if crate::util::docker_ready() {
        t.keys(&["wc $'/containers/nope\\e[2J/f'", "Enter"]);
        let s = t.wait_for("the host argument's message", |s| s.contains("wc:"));
        assert!(
            s.contains("wc: '/containers/nope'$'\\033''[2J/f': No such"),
            "{s}"
        );
        assert!(s.contains("MARK"), "the screen was not cleared:\n{s}");
    }
    t.keys(&["C-d"]);
}

/// A copy into a container whose engine is down says it cannot connect, and into a removed
/// container that there is no such container, not "Not a directory" (issue 12).
#[test]
fn a_copy_to_an_unreachable_engine_or_a_removed_container_says_why() {
    let sh = TestShell::new().opts(&["--host", "x=unix:///nonexistent/docker.sock"]);
    let r = sh.c("cp /etc/hostname /containers/c/tmp/; mv /etc/hostname /containers/c/tmp/");
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (
            1,
            "dockerbox: cp: cannot stat '/containers/c/tmp/': cannot connect to \
             unix:///nonexistent/docker.sock: No such file or directory\n\
             dockerbox: mv: cannot stat '/containers/c/tmp/': cannot connect to \
             unix:///nonexistent/docker.sock: No such file or directory\n"
        )
    );

    let Some(mut sb) = Sandbox::new("msggone") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    // One session: the container is listed, then removed by a host program.
    let r = TestShell::new().stdin(
        format!("ls /containers/{c}/tmp\ndocker rm -f {c} >/dev/null\ncp /etc/hostname /containers/{c}/tmp/\n")
            .as_bytes(),
    );
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (
            1,
            format!("dockerbox: cp: cannot stat '/containers/{c}/tmp/': No such container\n")
                .as_str()
        )
    );
}

/// A NUL in a path, 500 components of a missing path and a 600 KB path get the kernel's words
/// on every path: the host, a running container through the direct path, the agent and the
/// archive API, and a stopped container (the engine would answer a bare 500, which reads as a
/// symlink loop, or "uri too long"). The script is read from a file: no argument holds 600 KB.
#[test]
fn hostile_paths_get_the_kernel_s_words_on_every_path() {
    let Some(mut sb) = Sandbox::new("msgpaths") else {
        return;
    };
    let run = sb.run("r", BUSYBOX, &[]);
    let stopped = sb.create("s", BUSYBOX);
    let deep = "/a".repeat(500);
    let long = format!("/{}", "b".repeat(600_000));
    let ways: [(&str, &str, &[&str]); 5] = [
        ("", "1", &[]),
        (&run, "1", &[]),
        (&run, "0", &["--agent", "always"]),
        (&run, "0", &["--agent", "never"]),
        (&stopped, "1", &[]),
    ];
    for (c, direct, opts) in ways {
        let prefix = if c.is_empty() {
            String::new()
        } else {
            format!("/containers/{c}")
        };
        let sh = TestShell::new().env("DOCKERBOX_DIRECT", direct).opts(opts);
        let script = sh.home.path().join("paths.sh");
        std::fs::write(
            &script,
            format!(
                "cat {prefix}{deep}\nls {prefix}{long}\ncat $'{prefix}/etc/pa\\0sswd'\n\
                 echo x > $'{prefix}/tmp/a\\0b'\n"
            ),
        )
        .unwrap();
        let r = sh.args(&[&script]);
        // The paths are shown short: an assertion message of 600 KB helps nobody.
        let got = r.stderr.replace(&long, "/LONG").replace(&deep, "/DEEP");
        assert_eq!(
            got,
            format!(
                "dockerbox: cat: {prefix}/DEEP: No such file or directory\n\
                 dockerbox: ls: {prefix}/LONG: File name too long\n\
                 dockerbox: cat: {prefix}/etc/pa\0sswd: Invalid argument\n\
                 dockerbox: {}: line 4: {prefix}/tmp/a\0b: Invalid argument\n",
                script.display()
            ),
            "{c} DOCKERBOX_DIRECT={direct} {opts:?}"
        );
        assert_eq!(r.status, 1);
    }
}
