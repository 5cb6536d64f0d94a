//! cp's decisions against GNU cp itself: the same invocation on two identical host trees, one
//! run by GNU cp, one by dockerbox, must leave the same layout and say the same things.

use std::path::Path;
use std::process::Command;

use crate::util::TestShell;

/// Names, types and sizes under `root`, sorted: the layout a cp invocation leaves.
fn layout(root: &Path) -> String {
    let out = Command::new("find")
        .args([".", "-mindepth", "1", "-printf", "%P %y %s\\n"])
        .current_dir(root)
        .output()
        .unwrap();
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        // Directory sizes depend on the filesystem's history, not on cp.
        .map(|l| {
            if l.contains(" d ") {
                l.rsplit_once(' ')
                    .map(|(a, _)| a.to_string())
                    .unwrap_or_default()
            } else {
                l.to_string()
            }
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

/// The starting tree: files f and g, a directory d with a file, an empty directory e2,
/// symlinks lf -> f, ld -> d and lx -> d/sub/x.
fn setup(root: &Path) {
    std::fs::write(root.join("f"), b"ffff").unwrap();
    std::fs::write(root.join("g"), b"gg").unwrap();
    std::fs::create_dir_all(root.join("d/sub")).unwrap();
    std::fs::write(root.join("d/sub/x"), b"x").unwrap();
    std::fs::create_dir(root.join("e2")).unwrap();
    std::os::unix::fs::symlink("f", root.join("lf")).unwrap();
    std::os::unix::fs::symlink("d", root.join("ld")).unwrap();
    // Not inside d: what GNU copies of d before refusing `cp -r d d/sub` depends on readdir order.
    std::os::unix::fs::symlink("d/sub/x", root.join("lx")).unwrap();
}

/// GNU's messages as dockerbox prints them: with the `dockerbox: ` prefix and its own help hint.
fn as_dockerbox(gnu_stderr: &str) -> String {
    gnu_stderr
        .lines()
        .map(|l| {
            if l == "Try 'cp --help' for more information." {
                "Try 'help cp' for more information.".to_string()
            } else {
                format!("dockerbox: {l}")
            }
        })
        .map(|l| l + "\n")
        .collect()
}

#[test]
fn cp_decisions_match_gnu_cp() {
    let cases: &[&[&str]] = &[
        &["f", "new"],
        &["f", "d"],
        &["f", "d/"],
        &["f", "missing/"],
        &["d", "e"],
        &["-r", "d", "e"],
        &["-r", "d", "e2"],
        &["-r", "d/", "e3/"],
        &["f", "g", "d"],
        &["f", "g", "h"],
        &["-T", "f", "d"],
        &["-r", "d", "f"],
        &["-n", "f", "g"],
        &["-r", "d", "d/sub"],
        &["nope", "d"],
        &["f", "nope", "d"],
        &["-t", "d", "f", "g"],
        &["-T", "-t", "d", "f"],
        &["-r", "e2", "d"],
        &["-r", "d", "d"],
        &["f", "f"],
        &["-v", "f", "g", "d"],
        &["-rv", "d", "e"],
        &["lf", "c1"],
        &["-P", "lf", "c2"],
        &["-r", "ld", "c3"],
        &["-rL", "ld", "c4"],
        &["-rH", "ld", "c5"],
        &["-a", "ld", "c6"],
        &["lx", "c7"],
        &["-r", "lx", "c8"],
        &["f"],
        &[],
    ];
    for args in cases {
        let gnu = tempfile::tempdir().unwrap();
        let ours = tempfile::tempdir().unwrap();
        setup(gnu.path());
        setup(ours.path());
        let g = Command::new("cp")
            .args(*args)
            .current_dir(gnu.path())
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        let line = std::iter::once("cp")
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        let sh = TestShell::new();
        let o = sh
            .command()
            .arg("-c")
            .arg(&line)
            .current_dir(ours.path())
            .output()
            .unwrap();
        let (gs, os) = (
            String::from_utf8_lossy(&g.stderr),
            String::from_utf8_lossy(&o.stderr),
        );
        assert_eq!(
            layout(ours.path()),
            layout(gnu.path()),
            "layout after `{line}`"
        );
        assert_eq!(
            o.status.success(),
            g.status.success(),
            "status of `{line}`: {os}"
        );
        assert_eq!(os, as_dockerbox(&gs), "messages of `{line}`");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&g.stdout),
            "output of `{line}`"
        );
    }
}
