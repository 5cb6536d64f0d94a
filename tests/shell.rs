//! The shell language (issue 7): operators and `$?`, variables, aliases, pipelines mixing
//! builtins and host programs, redirects to and from container files, globs over the
//! namespace, container files given to host programs, hostile names, Ctrl-C, `~/.dockerboxrc`.

use crate::util::{docker, sha256, Sandbox, TestShell, Tmux, BUSYBOX};

fn tmux_available() -> bool {
    std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn operators_and_status() {
    let sh = TestShell::new();
    let r = sh.c("true && echo a || echo b; false && echo c || echo d; false; echo $?; ! false; echo $?; ! true; echo \"[$?]\"");
    assert_eq!(r.ok(), "a\nd\n1\n0\n[1]\n");
    // `a && b || c` is left to right: `false && x || y` runs y, `true || x && y` runs y.
    let r = sh.c("true || echo no && echo yes; sh -c 'exit 7' || echo $?");
    assert_eq!(r.ok(), "yes\n7\n");
    assert_eq!(
        sh.c("false | true").status,
        0,
        "a pipeline's status is the last command's"
    );
    assert_eq!(sh.c("true | false").status, 1);
    // Comments, quoting and escapes as in sh.
    let r = sh.c("echo 'a;b' \"c  d\" e\\ f # not an argument");
    assert_eq!(r.ok(), "a;b c  d e f\n");
}

#[test]
fn variables_export_and_unset() {
    let sh = TestShell::new();
    let r = sh.c(
        "X='one two'; echo $X; echo \"[$X]\"; sh -c 'echo \"child: ${X:-unset}\"'; \
         export X; sh -c 'echo \"child: $X\"'; Y=2 sh -c 'echo \"Y=$Y\"'; echo \"after: [$Y]\"; \
         unset X; sh -c 'echo \"child: ${X:-gone}\"'; echo \"[$X]\"",
    );
    assert_eq!(
        r.ok(),
        "one two\n[one two]\nchild: unset\nchild: one two\nY=2\nafter: []\nchild: gone\n[]\n"
    );
    // `export NAME=value` keeps the value whole (no splitting), and `export -p` lists it.
    let r = sh.c("V='a  b'; export W=$V; sh -c 'echo \"$W\"'; export -p | grep '^export W='");
    assert_eq!(r.ok(), "a  b\nexport W='a  b'\n");
    let r = sh.c("export -n HOME; sh -c 'echo ${HOME:-none}'; export 1x=y");
    assert_eq!(r.out(), "none\n");
    assert_eq!(
        r.stderr,
        "dockerbox: export: '1x=y': not a valid identifier\n"
    );
    assert_eq!(r.status, 1);
    // `~` and `$HOME`, and `cd` with no operand, follow the shell's HOME.
    let home = sh.home.path().display().to_string();
    let r = sh.c("echo ~ $HOME; HOME=/tmp; cd; pwd; echo ~/x");
    assert_eq!(r.ok(), format!("{home} {home}\n/tmp\n/tmp/x\n"));
}

#[test]
fn aliases() {
    let sh = TestShell::new();
    let r = sh.stdin(
        b"alias ll='ls -1d' q=\"echo 'a  b'\"\nll /tmp\nq x\nalias\nalias ll\nunalias ll\nll\n",
    );
    let listed = r"alias q='echo '\''a  b'\'''";
    assert_eq!(
        r.out(),
        format!("/tmp\na  b x\nalias ll='ls -1d'\n{listed}\nalias ll='ls -1d'\n")
    );
    assert_eq!(r.stderr, "dockerbox: ll: command not found\n");
    assert_eq!(r.status, 127);
    let r = sh.c("alias nope; alias a/b=x; unalias nope");
    assert_eq!(
        r.stderr,
        "dockerbox: alias: nope: not found\ndockerbox: alias: 'a/b': invalid alias name\ndockerbox: unalias: nope: not found\n"
    );
}

#[test]
fn pipes_mix_builtins_and_host_programs() {
    let Some(mut sb) = Sandbox::new("pipes") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let sh = TestShell::new();
    let etc = format!("/containers/{c}/etc");
    // builtin | host
    assert_eq!(sh.c(&format!("ls {etc} | grep pass")).ok(), "passwd\n");
    // builtin | builtin | host
    assert_eq!(
        sh.c(&format!("cat {etc}/passwd | cat | head -1")).ok(),
        "root:x:0:0:root:/root:/bin/sh\n"
    );
    // host | builtin: cat with no file reads the pipe.
    assert_eq!(sh.c("printf 'a\\nb\\n' | cat | wc -l").ok().trim(), "2");
    assert_eq!(sh.c("printf x | cat - ").ok(), "x");
    // A builtin whose reader stops early ends quietly.
    let r = sh.c(&format!(
        "cat /containers/{c}/bin/busybox | head -c 10 | wc -c"
    ));
    assert_eq!((r.ok().trim(), r.stderr.as_str()), ("10", ""));
    let r = sh.c(&format!("ls {etc} | head -1; ls {etc} | true"));
    assert_eq!((r.ok().as_str(), r.stderr.as_str()), ("group\n", ""));
    // A builtin in a pipeline is a subshell: its `cd` and `exit` stay there.
    let r = sh.c("cd /tmp | true; pwd | cat; exit 3 | cat; echo still");
    assert_eq!(r.ok(), format!("{}\nstill\n", sh.home.path().display()));
    // Stderr into the pipe.
    let r = sh.c(&format!("ls {etc}/nope 2>&1 | tr a-z A-Z"));
    assert!(r.ok().contains("NO SUCH FILE"), "{}", r.out());
}

/// 256 MiB from a container through a builtin and a host program: memory stays flat, so
/// nothing is buffered whole.
#[test]
fn pipelines_stream() {
    let Some(mut sb) = Sandbox::new("pipestream") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    sb.exec(
        &c,
        &[
            "dd",
            "if=/dev/zero",
            "of=/tmp/big",
            "bs=1048576",
            "count=256",
        ],
    );
    let sh = TestShell::new();
    let rss = sh.home.path().join("rss");
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss)
        .arg(TestShell::bin())
        .args(["-c", &format!("cat /containers/{c}/tmp/big | cat | wc -c")])
        .output()
        .expect("/usr/bin/time");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "268435456");
    let kib: u64 = std::fs::read_to_string(&rss)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    assert!(kib < 64 * 1024, "peak RSS {kib} KiB while piping 256 MiB");
}

#[test]
fn redirects_on_the_host() {
    let sh = TestShell::new();
    let r = sh.c(
        "echo a > f; echo b >> f; cat < f; ls /nope 2> err; cat err; ls /nope > out 2>&1; \
         cat out; ls /nope 2>&1 >/dev/null | wc -l; echo gone >&-; echo $?; >empty; cat empty",
    );
    assert_eq!(
        r.out(),
        "a\nb\ndockerbox: ls: /nope: No such file or directory\n\
         dockerbox: ls: /nope: No such file or directory\n1\n1\n"
    );
    assert!(sh.home.path().join("empty").exists());
    // Host programs get the same descriptors, including numbers above 2.
    let r = sh.c("sh -c 'echo three >&3' 3> three; cat three; sh -c 'echo e >&2' 2>&1 | tr e E");
    assert_eq!(r.ok(), "three\nE\n");
    let r = sh.c("cat < /nope; echo $?; echo x > /nope/f; echo $?; echo x >&7");
    assert_eq!(r.out(), "1\n1\n");
    assert_eq!(
        r.stderr,
        "dockerbox: /nope: No such file or directory\ndockerbox: /nope/f: No such file or directory\ndockerbox: 7: Bad file descriptor\n"
    );
}

#[test]
fn redirects_to_and_from_containers() {
    let Some(mut sb) = Sandbox::new("redir") else {
        return;
    };
    let run = sb.run("run", BUSYBOX, &[]);
    let stopped = sb.create("stopped", BUSYBOX);
    let sh = TestShell::new();
    for c in [&run, &stopped] {
        let d = format!("/containers/{c}/tmp");
        // Builtins and host programs, `>`, `>>` and `<`.
        let r = sh.c(&format!(
            "echo one > {d}/f; echo two >> {d}/f; cat < {d}/f; seq 1 50000 | gzip > {d}/n.gz; \
             gzip -dc < {d}/n.gz | tail -1; ls {d}/nope 2> {d}/err; cat {d}/err"
        ));
        assert_eq!(
            r.out(),
            format!("one\ntwo\n50000\ndockerbox: ls: {d}/nope: No such file or directory\n"),
            "{c}: {}",
            r.stderr
        );
        // As in sh, the file is written whatever the command's status.
        let r = sh.c(&format!(
            "false > {d}/empty; echo $?; cat {d}/empty | wc -c"
        ));
        assert_eq!(r.ok(), "1\n0\n", "{c}");
    }
    let got = sb.exec(&run, &["sh", "-c", "cat /tmp/f; stat -c %a /tmp/f"]);
    assert_eq!(got, "one\ntwo\n644");
    // The mode of a file written over is kept.
    sb.exec(&run, &["chmod", "600", "/tmp/f"]);
    sh.c(&format!("echo new > /containers/{run}/tmp/f")).ok();
    assert_eq!(
        sb.exec(&run, &["sh", "-c", "cat /tmp/f; stat -c %a /tmp/f"]),
        "new\n600"
    );
    // A redirect that cannot be made stops the command.
    let r = sh.c(&format!(
        "echo x > /containers/dbx-ghost/tmp/f; echo $?; echo x > /containers/{run}/tmp; echo x > /containers/{run}/nodir/f"
    ));
    assert_eq!(r.out(), "1\n");
    assert_eq!(
        r.stderr,
        format!(
            "dockerbox: /containers/dbx-ghost/tmp/f: No such container\n\
             dockerbox: /containers/{run}/tmp: Is a directory\n\
             dockerbox: /containers/{run}/nodir/f: No such file or directory\n"
        )
    );
    assert_eq!(r.status, 1);
    // No temporary is left behind anywhere.
    let left = sb.exec(&run, &["ls", "-a", "/tmp"]);
    assert!(!left.contains("dbx"), "{left}");
}

#[test]
fn globs_over_the_namespace() {
    let Some(mut sb) = Sandbox::new("glob") else {
        return;
    };
    let a = sb.run("a", BUSYBOX, &[]);
    let b = sb.create("b", BUSYBOX);
    let prefix = a.strip_suffix("-a").unwrap();
    let sh = TestShell::new();
    let r = sh.c(&format!("ls /containers/{prefix}-*/etc/os-release"));
    assert_eq!(
        r.ok(),
        format!("/containers/{a}/etc/os-release\n/containers/{b}/etc/os-release\n")
    );
    let r = sh.c(&format!("cat /containers/{a}/etc/[gp]*"));
    assert!(r.ok().starts_with("root:x:0:\n"), "group then passwd");
    let r = sh.c(&format!("echo /containers/{prefix}-?/etc/pass[w]d"));
    assert_eq!(
        r.ok(),
        format!("/containers/{a}/etc/passwd /containers/{b}/etc/passwd\n")
    );
    // A glob that matches nothing stays as typed, as in bash.
    let r = sh.c(&format!(
        "echo /containers/{prefix}-*/nope /containers/{prefix}-z*; echo '*'"
    ));
    assert_eq!(
        r.ok(),
        format!("/containers/{prefix}-*/nope /containers/{prefix}-z*\n*\n")
    );
    // `cp` of a glob to the host.
    let r = sh.c(&format!(
        "mkdir got; cp /containers/{a}/etc/*ss* got/; ls got"
    ));
    assert_eq!(r.ok(), "passwd\n");
}

#[test]
fn hostile_names_survive_globbing_and_fall_through() {
    let Some(mut sb) = Sandbox::new("hostile") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    sb.exec(
        &c,
        &[
            "sh",
            "-c",
            "mkdir /h && cd /h && touch -- '-rf' 'a b' 'new\nline' '$(touch pwned)' '`touch pwned2`' ';touch pwned3'",
        ],
    );
    let sh = TestShell::new();
    let h = format!("/containers/{c}/h");
    let r = sh.c(&format!("printf '[%s]\\n' {h}/*"));
    assert_eq!(
        r.ok(),
        format!("[{h}/$(touch pwned)]\n[{h}/-rf]\n[{h}/;touch pwned3]\n[{h}/`touch pwned2`]\n[{h}/a b]\n[{h}/new\nline]\n")
    );
    // Each one a single argument to a host program (as a stream), to a builtin, and to cp.
    let r = sh.c(&format!(
        "wc -c {h}/* | tail -1; ls -d {h}/-* {h}/a*; mkdir got; cp {h}/* got/"
    ));
    // wc pads its column for streams (no mount) and not for files it can stat (the mount).
    assert_eq!(r.ok().trim_start(), format!("0 total\n{h}/-rf\n{h}/a b\n"));
    let copied = std::fs::read_dir(sh.home.path().join("got"))
        .unwrap()
        .count();
    assert_eq!(copied, 6);
    // Nothing was ever run: no pwned file anywhere we could have been.
    for dir in [
        sh.home.path().to_path_buf(),
        std::env::current_dir().unwrap(),
    ] {
        for p in ["pwned", "pwned2", "pwned3"] {
            assert!(!dir.join(p).exists(), "{} ran", p);
        }
    }
    let inside = sb.exec(&c, &["ls", "/", "/h"]);
    assert!(!inside.contains("pwned\n"), "{inside}");
}

#[test]
fn host_programs_read_container_files() {
    let Some(mut sb) = Sandbox::new("hostread") else {
        return;
    };
    let a = sb.run("a", BUSYBOX, &[]);
    let b = sb.create("b", BUSYBOX);
    let prefix = a.strip_suffix("-a").unwrap();
    // The streams, as where no mount can be made (tests/realpaths.rs has the real paths).
    let sh = TestShell::new().env("DOCKERBOX_MOUNT", "0");
    let r = sh.c(&format!("grep root /containers/{a}/etc/passwd"));
    assert_eq!(r.ok(), "root:x:0:0:root:/root:/bin/sh\n");
    let r = sh.c(&format!(
        "diff /containers/{a}/etc/passwd /containers/{b}/etc/passwd && echo same"
    ));
    assert_eq!(r.ok(), "same\n");
    let r = sh.c(&format!(
        "diff /containers/{a}/etc/passwd /containers/{b}/etc/group > /dev/null; echo $?"
    ));
    assert_eq!(r.ok(), "1\n");
    let want = sha256(&std::fs::read("/bin/busybox").unwrap_or_default());
    let r = sh.c(&format!("sha256sum /containers/{prefix}-*/bin/busybox"));
    let sums: Vec<_> = r
        .ok()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    if std::path::Path::new("/bin/busybox").exists() {
        assert_eq!(sums, [want.clone(), want]);
    } else {
        assert_eq!(sums.len(), 2);
        assert_eq!(sums[0], sums[1]);
    }
    // Relative names inside a container, and options left alone.
    // (grep, find and du are builtins now, which search containers themselves: `head` shows
    // what a host program is given.)
    let r = sh.c(&format!("cd /containers/{a}/etc; head -n1 passwd group"));
    assert_eq!(
        r.ok(),
        "==> /dev/fd/63 <==\nroot:x:0:0:root:/root:/bin/sh\n\n==> /dev/fd/62 <==\nroot:x:0:\n"
    );
    // `.` there is the container's directory, which a host program cannot be given.
    let r = sh.c(&format!("cd /containers/{a}/etc; head ."));
    assert_eq!(
        (r.stderr.as_str(), r.status),
        ("dockerbox: head: .: a directory inside a container cannot be given to a host program (only files can, as streams)\n", 1)
    );
    // A directory, or a path that is not there, cannot be given: the error names it.
    let r = sh.c(&format!("wc /containers/{a}/etc"));
    assert_eq!(
        r.stderr,
        format!("dockerbox: wc: /containers/{a}/etc: a directory inside a container cannot be given to a host program (only files can, as streams)\n")
    );
    assert_eq!(r.status, 1);
    let r = sh.c(&format!("tee /containers/{a}/tmp/new < /dev/null"));
    assert!(
        r.stderr.starts_with(&format!(
            "dockerbox: tee: /containers/{a}/tmp/new: No such file or directory"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(r.status, 1);
    assert_eq!(
        docker(&["exec", &a, "ls", "/tmp"]),
        "",
        "nothing was created"
    );
}

#[test]
fn syntax_errors_and_continued_lines() {
    let sh = TestShell::new();
    let r = sh.c("ls |");
    assert_eq!(
        (r.stderr.as_str(), r.status),
        ("dockerbox: syntax error: unexpected end of file\n", 2)
    );
    // A line with a syntax error runs none of its commands.
    let r = sh.c("echo a; fi");
    assert_eq!(
        (r.out(), r.stderr.as_str(), r.status),
        (
            String::new(),
            "dockerbox: syntax error near unexpected token `fi'\n",
            2
        )
    );
    let r = sh.c("echo a ;; echo b");
    assert_eq!(
        r.stderr,
        "dockerbox: syntax error near unexpected token `;;'\n"
    );
    // A script joins a line that needs more with the next; errors name the line.
    let script = sh.home.path().join("s.dbx");
    std::fs::write(
        &script,
        "echo 'a\nb' |\n  tr a-z A-Z\necho one \\\n  two\nfi\necho after\n",
    )
    .unwrap();
    // A syntax error stops the script: nothing after it runs.
    let r = sh.args(&[script.as_os_str()]);
    assert_eq!(r.out(), "A\nB\none two\n");
    assert_eq!(r.status, 2);
    assert_eq!(
        r.stderr,
        format!(
            "dockerbox: {}: line 6: syntax error near unexpected token `fi'\n",
            script.display()
        )
    );
    let r = sh.stdin(b"echo a\nfi\necho rm -rf\n");
    assert_eq!((r.out(), r.status), ("a\n".to_string(), 2));
    // A script that ends inside a quote says so.
    let r = sh.stdin(b"echo ok\necho 'open\n");
    assert_eq!(r.out(), "ok\n");
    assert_eq!(
        r.stderr,
        "dockerbox: syntax error: unexpected EOF while looking for matching `''\n"
    );
    assert_eq!(r.status, 2);
}

#[test]
fn help_lists_the_shell_builtins() {
    let sh = TestShell::new();
    let out = sh.c("help").ok();
    for b in ["export", "unset", "alias", "unalias"] {
        assert!(out.contains(&format!("  {b} ")), "help lists {b}: {out}");
    }
    assert!(sh
        .c("help alias")
        .ok()
        .starts_with("usage: alias [-p] [NAME[=VALUE]]..."));
    assert!(sh.c("help export").ok().contains("-n  stop exporting NAME"));
}

#[test]
fn ctrl_c_kills_a_pipeline_and_keeps_the_shell() {
    let Some(mut sb) = Sandbox::new("pipeint") else {
        return;
    };
    if !tmux_available() {
        return;
    }
    let c = sb.run("c", BUSYBOX, &[]);
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &["--agent", "always"]);
    t.wait_for("prompt", |s| s.contains("$"));
    // An endless builtin into a host program that never reads, then one that does.
    t.keys(&[
        &format!("cat /containers/{c}/dev/zero | sleep 100; echo not-reached"),
        "Enter",
    ]);
    t.interrupt("not-reached", "$");
    t.keys(&["echo status=$?", "Enter"]);
    t.wait_for("status", |s| s.contains("\nstatus=130"));
    t.keys(&[
        &format!("cat /containers/{c}/dev/zero | cat | wc -c"),
        "Enter",
    ]);
    t.interrupt("| cat | wc -c", "$");
    t.keys(&["echo again=$?", "Enter"]);
    let s = t.wait_for("again", |s| s.contains("\nagain=130"));
    assert!(!s.contains("\nnot-reached"), "{s}");
    assert!(!t.exited());
}

#[test]
fn ctrl_c_mid_write_leaves_no_new_file() {
    let Some(mut sb) = Sandbox::new("redirint") else {
        return;
    };
    if !tmux_available() {
        return;
    }
    let c = sb.run("c", BUSYBOX, &[]);
    sb.exec(&c, &["sh", "-c", "echo old > /tmp/kept"]);
    let inode = sb.exec(&c, &["stat", "-c", "%i", "/tmp/kept"]);
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &["--agent", "always"]);
    t.wait_for("prompt", |s| s.contains("$"));
    // A builtin and a host program writing without end, one into a new file, one over an old.
    t.keys(&[
        &format!("cat /containers/{c}/dev/zero > /containers/{c}/tmp/zero"),
        "Enter",
    ]);
    t.interrupt("/tmp/zero", "$");
    t.keys(&[&format!("yes > /containers/{c}/tmp/kept"), "Enter"]);
    t.interrupt("/tmp/kept", "$");
    t.keys(&["echo done=$?", "Enter"]);
    t.wait_for("done", |s| s.contains("\ndone=130"));
    let left = sb.exec(&c, &["ls", "-a", "/tmp"]);
    assert_eq!(
        left.lines().collect::<Vec<_>>(),
        [".", "..", "kept"],
        "{left}"
    );
    // An existing file is truncated and written in place, as sh does: the same file, holding
    // what `yes` wrote before Ctrl-C.
    assert_eq!(sb.exec(&c, &["stat", "-c", "%i", "/tmp/kept"]), inode);
    assert_eq!(sb.exec(&c, &["head", "-n", "1", "/tmp/kept"]), "y");
}

#[test]
fn the_rc_file_and_continuation_lines_in_the_repl() {
    if !tmux_available() {
        return;
    }
    let sh = TestShell::new();
    std::fs::write(
        sh.home.path().join(".dockerboxrc"),
        "# settings\nalias hi='echo rc-alias'\nexport RCVAR=from-rc\necho 'broken\n",
    )
    .unwrap();
    let t = Tmux::start(&sh, &[]);
    let s = t.wait_for("prompt", |s| s.contains("$"));
    assert!(
        s.contains(".dockerboxrc: line 4: syntax error: unexpected EOF"),
        "{s}"
    );
    t.keys(&["hi; sh -c 'echo $RCVAR'", "Enter"]);
    t.wait_for("rc applied", |s| s.contains("\nrc-alias\nfrom-rc"));
    // An open quote asks for more with `> `.
    t.keys(&["echo 'first", "Enter"]);
    t.wait_for("continuation prompt", |s| s.contains("first\n>"));
    t.keys(&["second' | tr a-z A-Z", "Enter"]);
    t.wait_for("joined line", |s| s.contains("\nFIRST\nSECOND"));
}

#[test]
fn ctrl_c_stops_a_loop_every_time() {
    if !tmux_available() {
        return;
    }
    let sh = TestShell::new();
    let t = Tmux::start(&sh, &[]);
    t.wait_for("prompt", |s| s.contains("$"));
    // One Ctrl-C each: a loop of builtins only, then one that runs a host program too.
    for (i, body) in ["x=$((x+i))", "x=$((x+i)); /bin/true"].iter().enumerate() {
        t.keys(&[
            &format!(
                "i=0; while true; do i=$((i+1)); {body}; [ $i = 50 ] && echo started{i}; done; echo not-reached"
            ),
            "Enter",
        ]);
        t.wait_for("the loop", |s| s.contains(&format!("\nstarted{i}")));
        t.keys(&["C-c"]);
        t.keys(&[&format!("echo status{i}=$?"), "Enter"]);
        let s = t.wait_for("its status", |s| s.contains(&format!("\nstatus{i}=130")));
        assert!(!s.contains("\nnot-reached"), "{s}");
    }
    assert!(!t.exited());
}
