//! grep, find and du inside containers, compared byte for byte with GNU's own tools
//! run by `docker exec` in the Debian image (the oracle): output, messages (after the
//! `dockerbox: ` prefix) and exit statuses, over a tree with hostile names, binary files and
//! symlinks; several containers at once; a stopped container and host paths through the
//! namespace.

use std::process::Command;

use crate::util::{host_tree, Run, Sandbox, TestShell, DEBIAN};

/// A tree with names a shell or a terminal would trip on, binary files and symlinks.
const TREE: &str = r#"set -e
mkdir -p /t/sub/deep /t/-dash
cd /t
printf 'hello ERROR one\nfine\nERROR two\nerror three\nfoo-bar foobar\n' > app.log
printf 'ERROR in a name with a newline\n' > "$(printf 'new\nline.log')"
printf 'ERROR dash\n' > -- -dash/-f.log
printf 'ERROR not utf8 \377\n' > "$(printf '\377\376.log')"
printf 'ERROR $(touch pwned)\n' > '$(touch pwned).log'
printf 'abab x\nab\n \tx\n' > sub/back.txt
printf 'x\000ERROR\n' > sub/bin.dat
printf 'ERROR first\nsecond\n\000ERROR again\n' > sub/late.bin
printf 'no newline at the end ERROR' > sub/deep/tail.txt
printf 'a.b\naxb\n' > sub/deep/dots.txt
ln -s app.log link.log
ln -s sub dirlink
ln -s nowhere dangling
ln app.log hard.log
touch -h -d '2020-01-02 03:04:05' sub/back.txt link.log
touch -d '2001-01-01 00:00:00' sub/deep/dots.txt
touch -d '2030-01-01 00:00:00' sub/late.bin
"#;

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// GNU's own run in the container: `cd DIR && TOOL ARGS...`.
fn oracle(c: &str, dir: &str, tool: &str, args: &[&str]) -> Run {
    Command::new("docker")
        .args(["exec", "-e", "LC_ALL=C", "-w", dir, c, tool])
        .args(args)
        .output()
        .expect("docker exec")
        .into()
}

/// Ours: `cd DIR; TOOL ARGS...` in dockerbox.
fn ours(sh: &TestShell, dir: &str, tool: &str, args: &[&str]) -> Run {
    let words: Vec<String> = args.iter().map(|a| q(a)).collect();
    sh.c(&format!("cd {}; {tool} {}", q(dir), words.join(" ")))
}

/// Our messages as GNU words them (without the `dockerbox: ` prefix).
fn gnu_messages(stderr: &str) -> String {
    stderr
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("dockerbox: ").unwrap_or(l)))
        .collect()
}

fn same(what: &str, ours: &Run, gnu: &Run) {
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&gnu.stdout),
        "{what}: stdout"
    );
    assert!(ours.stdout == gnu.stdout, "{what}: stdout bytes");
    assert_eq!(gnu_messages(&ours.stderr), gnu.stderr, "{what}: messages");
    assert_eq!(ours.status, gnu.status, "{what}: status");
}

const GREP_CASES: &[&[&str]] = &[
    &["-rn", "ERROR", "t"],
    &["-r", "-i", "error", "t"],
    &["-R", "ERROR", "t"],
    &["-rc", "ERROR", "t"],
    &["-rl", "ERROR", "t"],
    &["-rv", "ERROR", "t"],
    &["-rw", "foo", "t"],
    &["-rnE", "ERR(OR|X)+ (one|two)", "t"],
    &["-rF", "a.b", "t"],
    &["-rhn", "ERROR", "t"],
    &["-n", "ERROR", "t/app.log", "t/missing", "t/sub"],
    &["-H", "-e", "fine", "-e", "two", "t/app.log"],
    &["-c", "", "t/sub/late.bin", "t/sub/bin.dat"],
    &["-r", r"\(ab\)\1", "t"],
    &["-r", "[[:space:]]x$", "t"],
    &["-rs", "ERROR", "t/nope", "t/sub"],
    &["-q", "ERROR", "t/nope", "t/app.log"],
    &["-rq", "nothing-like-this", "t"],
    &["ERROR", "t"],
    &["-r", "[a", "t"],
    &["-Rl", "ERROR"],
    // Literals every match holds pick the lines the regex engine then confirms.
    &["-rn", "E.ROR t", "t"],
    &["-rn", "hel*o ERR", "t"],
    &["-rnw", "ERROR", "t"],
    &["-rni", "error t", "t"],
    &["-rniw", "error", "t"],
    &["-rFi", "A.B", "t"],
    &["-rnE", "ERROR (one|two)", "t"],
    &["-rn", r"foo\(-\)\?bar", "t"],
    &["-rnE", "o{2}ba?r$", "t"],
    &["-rn", "[e]rror th", "t"],
    // The kernel's files, also through a symlink elsewhere: read as the container reads them.
    &["-H", "^Name", "proc/1/status"],
    &["-H", "^Name", "u/status"],
];

#[test]
fn grep_matches_gnu_grep_inside_a_container() {
    let Some(mut sb) = Sandbox::new("grep") else {
        return;
    };
    let c = sb.run("deb", DEBIAN, &[]);
    sb.exec(&c, &["sh", "-c", TREE]);
    sb.exec(&c, &["ln", "-s", "/proc/1", "/u"]);
    // By the direct path (dockerbox reads the files itself) and by the agent.
    for direct in ["1", "0"] {
        let trace = tempfile::NamedTempFile::new().unwrap();
        let sh = TestShell::new()
            .env("DOCKERBOX_DIRECT", direct)
            .env("DOCKERBOX_TRACE_SHARE", trace.path().to_str().unwrap());
        for args in GREP_CASES {
            // `-Rl ERROR` with no operand searches the current directory.
            let dir = if args.len() == 2 { "/t" } else { "/" };
            let gnu = oracle(&c, dir, "grep", args);
            let ours = ours(&sh, &format!("/containers/{c}{dir}"), "grep", args);
            same(&format!("DIRECT={direct} grep {args:?}"), &ours, &gnu);
        }
    }
    let sh = TestShell::new();
    // Absolute operands show the path typed.
    let r = sh.c(&format!(
        "grep -n two /containers/{c}/t/app.log /containers/{c}/t/sub"
    ));
    assert_eq!(
        r.out(),
        format!("/containers/{c}/t/app.log:3:ERROR two\n"),
        "{}",
        r.stderr
    );
    assert_eq!(r.status, 2);
    assert_eq!(
        r.stderr,
        format!("dockerbox: grep: /containers/{c}/t/sub: Is a directory\n")
    );
    // The file named `$(touch pwned).log` was only ever read.
    assert_eq!(oracle(&c, "/t", "ls", &["pwned"]).status, 2);
}

const FIND_CASES: &[&[&str]] = &[
    &["t"],
    &["t", "-name", "*.log"],
    &["t", "-iname", "*.LOG", "-type", "f"],
    &["t", "-type", "l"],
    &["t", "-type", "d,l"],
    &["t", "-maxdepth", "1"],
    &["t", "-mindepth", "2", "-type", "f"],
    &["t", "-size", "-1k"],
    &["t", "-size", "+0", "-type", "f"],
    &["t", "-size", "16c"],
    &["t", "-mtime", "+400"],
    &["t", "-mtime", "-1"],
    &["t", "-newer", "t/app.log"],
    &["t", "!", "-name", "*.log", "-type", "f"],
    &[
        "t", "(", "-name", "*.txt", "-o", "-name", "*.bin", ")", "-print",
    ],
    &["t", "-name", "x", "-o", "-type", "l", "-print"],
    &["t", "-print0"],
    &["t/nope", "t/sub"],
    &["t/sub/", "-maxdepth", "1"],
    &["t/link.log", "t/dirlink"],
    &["-maxdepth", "1"],
];

const DU_CASES: &[&[&str]] = &[
    &["t"],
    &["-a", "t"],
    &["-s", "t"],
    &["-sh", "t"],
    &["-c", "t/sub", "t/app.log"],
    &["--max-depth=1", "t"],
    &["-ah", "--max-depth=1", "t"],
    &["t/nope", "t/sub"],
    &["-d", "0", "t"],
    &["t", "t/sub"],
    &["-h"],
];

#[test]
fn find_and_du_match_gnu_inside_a_container() {
    let Some(mut sb) = Sandbox::new("finddu") else {
        return;
    };
    let c = sb.run("deb", DEBIAN, &[]);
    sb.exec(&c, &["sh", "-c", TREE]);
    for direct in ["1", "0"] {
        let trace = tempfile::NamedTempFile::new().unwrap();
        let sh = TestShell::new()
            .env("DOCKERBOX_DIRECT", direct)
            .env("DOCKERBOX_TRACE_SHARE", trace.path().to_str().unwrap());
        for (tool, cases) in [("find", FIND_CASES), ("du", DU_CASES)] {
            for args in cases {
                // Without a path, the current directory.
                let dir = if args.iter().any(|a| a.starts_with('t')) {
                    "/"
                } else {
                    "/t"
                };
                let gnu = oracle(&c, dir, tool, args);
                let ours = ours(&sh, &format!("/containers/{c}{dir}"), tool, args);
                same(&format!("DIRECT={direct} {tool} {args:?}"), &ours, &gnu);
            }
        }
    }
}

#[test]
fn grep_searches_many_containers_at_once_in_operand_order() {
    let Some(mut sb) = Sandbox::new("grepmany") else {
        return;
    };
    let names: Vec<String> = (0..6)
        .map(|i| sb.run(&format!("c{i}"), DEBIAN, &[]))
        .collect();
    for (i, c) in names.iter().enumerate() {
        let script = format!(
            "mkdir -p /t/d && for n in 1 2 3; do printf 'ERROR {i} $n\\nok\\n' > /t/d/f$n; done"
        );
        sb.exec(c, &["sh", "-c", &script]);
    }
    let stopped = sb.create("off", DEBIAN);
    let tree = host_tree(&[("d/f1", b"ERROR off\nok\n", 0o644)]);
    sb.cp_in(tree.path(), &stopped, "/t");
    let sh = TestShell::new();
    // The glob sorts: c0..c5, then off.
    let mut all: Vec<&String> = names.iter().collect();
    all.push(&stopped);
    let r = sh.c("grep -rn ERROR /containers/*/t");
    let mut want = String::new();
    for c in &all {
        // The stopped container has no exec: the host's GNU grep reads the same tree.
        let gnu = if *c == &stopped {
            let o = Command::new("grep")
                .args(["-rn", "ERROR", "."])
                .current_dir(tree.path())
                .env("LC_ALL", "C")
                .output()
                .unwrap();
            String::from_utf8_lossy(&o.stdout).replace("./", "/t/")
        } else {
            oracle(c, "/", "grep", &["-rn", "ERROR", "/t"]).out()
        };
        for line in gnu.lines() {
            want.push_str(&format!("/containers/{c}{line}\n"));
        }
    }
    // Containers other tests made may match the glob too: only ours are compared.
    let got: String = r
        .out()
        .lines()
        .filter(|l| {
            all.iter()
                .any(|c| l.starts_with(&format!("/containers/{c}/")))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(got, want, "{}", r.stderr);
}

#[test]
fn grep_of_containers_of_one_image_reads_each_as_its_own() {
    let Some(mut sb) = Sandbox::new("grepimage") else {
        return;
    };
    // The image's files read once serve every container that has not changed them: a file
    // changed in one (its upper layer), a directory replaced (opaque), one under a tmpfs.
    let same = sb.run("same", DEBIAN, &[]);
    let changed = sb.run("changed", DEBIAN, &[]);
    sb.exec(
        &changed,
        &[
            "sed",
            "-i",
            "s/Debian/Debian changed/",
            "/usr/lib/os-release",
        ],
    );
    let opaque = sb.run("opaque", DEBIAN, &[]);
    sb.exec(
        &opaque,
        &[
            "sh",
            "-c",
            "rm -rf /usr/lib/apt && mkdir /usr/lib/apt && echo 'Debian anew' > /usr/lib/apt/f",
        ],
    );
    let mounted = sb.run("mounted", DEBIAN, &["--tmpfs", "/usr/lib/apt"]);
    sb.exec(
        &mounted,
        &[
            "sh",
            "-c",
            "echo 'Debian on tmpfs' > /usr/lib/apt/g && echo 'Debian appended' >> /usr/lib/os-release",
        ],
    );
    // A file the others have, gone from this one; one only this one has.
    let gone = sb.run("gone", DEBIAN, &[]);
    sb.exec(
        &gone,
        &[
            "sh",
            "-c",
            "rm /usr/lib/os-release && echo 'Debian only here' > /usr/lib/only",
        ],
    );
    // By the direct path, then by the agents, which share the work (the first container of
    // an image searches, the others print what it found in the files they have not
    // changed): each order puts another container first.
    let orders = [
        [&same, &changed, &opaque, &mounted, &gone],
        [&gone, &changed, &same, &mounted, &opaque],
        [&changed, &mounted, &gone, &opaque, &same],
    ];
    let cases = [
        &["-rn", "Debian"][..],
        &["-rl", "Debian"],
        &["-rc", "Debian"],
        &["-rwi", "debian"],
    ];
    for (direct, all, args) in ["1", "0"]
        .into_iter()
        .flat_map(|d| orders.iter().map(move |o| (d, o)))
        .flat_map(|(d, o)| cases.iter().map(move |a| (d, o, a)))
    {
        if direct == "1" && all[0] != &same {
            continue;
        }
        let trace = tempfile::NamedTempFile::new().unwrap();
        let sh = TestShell::new()
            .env("DOCKERBOX_DIRECT", direct)
            .env("DOCKERBOX_TRACE_SHARE", trace.path().to_str().unwrap());
        let mut want = String::new();
        let mut want_err = String::new();
        for c in all {
            let mut a = args.to_vec();
            a.push("/usr/lib");
            let gnu = oracle(c, "/", "grep", &a);
            for line in gnu.out().lines() {
                want.push_str(&format!("/containers/{c}{line}\n"));
            }
            for line in gnu.stderr.lines() {
                let line = line.strip_prefix("grep: ").unwrap_or(line);
                want_err.push_str(&format!("grep: /containers/{c}{line}\n"));
            }
        }
        let words: Vec<String> = all
            .iter()
            .map(|c| format!("/containers/{c}/usr/lib"))
            .collect();
        let r = sh.c(&format!("grep {} {} {}", args[0], args[1], words.join(" ")));
        let what = format!("DIRECT={direct} grep {args:?} first {}", all[0]);
        assert_eq!(r.out(), want, "{what}: {}", r.stderr);
        assert_eq!(gnu_messages(&r.stderr), want_err, "{what}");
        assert_eq!(r.status, 0, "{what}");
        // By the agents, the first container led and the others printed its memos.
        if direct == "0" {
            let t = std::fs::read_to_string(trace.path()).unwrap();
            let used: usize = t
                .lines()
                .filter_map(|l| l.rsplit_once(" used ").map(|(_, n)| n.parse().unwrap_or(0)))
                .sum();
            assert!(
                t.starts_with(&format!("lead /containers/{}/", all[0])),
                "{what}: {t}"
            );
            assert!(used > 0, "{what}: {t}");
        }
    }
}

#[test]
fn grep_on_host_paths_and_stdin_is_gnu_grep() {
    let Some(_sb) = Sandbox::new("grephost") else {
        return;
    };
    let tree = host_tree(&[
        ("a.log", b"ERROR one\nfine\n", 0o644),
        ("sub/b.log", b"x\0ERROR\n", 0o644),
        ("sub/c.txt", b"error\nERROR\n", 0o644),
    ]);
    let dir = tree.path().to_string_lossy().into_owned();
    let sh = TestShell::new();
    for args in [
        &["-rn", "ERROR", "."][..],
        &["-ric", "error", "."],
        &["-l", "ERROR", "a.log", "missing"],
    ] {
        let gnu: Run = Command::new("grep")
            .args(args)
            .current_dir(&dir)
            .env("LC_ALL", "C")
            .output()
            .unwrap()
            .into();
        same(
            &format!("host grep {args:?}"),
            &ours(&sh, &dir, "grep", args),
            &gnu,
        );
    }
    let r = sh.c("printf 'a\\nb\\nab\\n' | grep -n b");
    assert_eq!(r.out(), "2:b\n3:ab\n");
    // An option dockerbox does not implement runs the host's grep on host paths...
    let r = sh.c(&format!("grep -o ERR {dir}/a.log"));
    assert_eq!((r.out().as_str(), r.status), ("ERR\n", 0), "{}", r.stderr);
    // ...and is refused, naming it, on a container's.
    let r = sh.c("grep -o x /containers/nothing-here/f");
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("'-o' is not supported"), "{}", r.stderr);
}
