//! Engine events on the namespace's change channel (`Vfs::subscribe`, which
//! `DOCKERBOX_TRACE_CHANGES` writes out): what a cache outside the namespace (a FUSE mount's)
//! lets go of when a container is changed by someone else.

use std::process::Stdio;

use crate::util::{docker, wait_until, Sandbox, TestShell, BUSYBOX};

#[test]
fn changes_made_outside_reach_subscribers() {
    let Some(mut sb) = Sandbox::new("events") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let sh = TestShell::new();
    let home = sh.home.path();
    let (trace, script, file) = (home.join("changes"), home.join("script"), home.join("f"));
    std::fs::write(&file, "hi\n").unwrap();
    // The first command starts the engine's event stream; `read` keeps the session open.
    std::fs::write(
        &script,
        format!("ls /containers/{c} >/dev/null\nread line || true\n"),
    )
    .unwrap();
    let mut child = sh
        .command()
        .env("DOCKERBOX_TRACE_CHANGES", &trace)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = |from: usize| -> Vec<String> {
        let text = std::fs::read(&trace).unwrap_or_default();
        let text = String::from_utf8_lossy(text.get(from..).unwrap_or_default()).into_owned();
        text.lines().map(str::to_string).collect()
    };
    let tree = format!("/containers/{c}");
    // `docker cp` into it: the container's tree. The event stream may not be live when the
    // `ls` ends, so copy until the change shows.
    wait_until("a change after docker cp", || {
        docker(&["cp", &file.to_string_lossy(), &format!("{c}:/tmp/f")]);
        lines(0).contains(&tree)
    });
    // A restart: the tree, the listing and /meta.
    let before = std::fs::metadata(&trace).unwrap().len() as usize;
    docker(&["restart", "-t", "0", &c]);
    let meta = format!("/meta/containers/{c}");
    wait_until("changes after docker restart", || {
        let l = lines(before);
        [&tree, "/containers", &meta]
            .iter()
            .all(|want| l.iter().any(|x| x == want))
    });
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!lines(0).iter().any(|l| l == "*"), "{:?}", lines(0));
}
