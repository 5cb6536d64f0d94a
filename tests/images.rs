//! `/images/REF/...`: two tags of one imported repository read and diffed, an untagged image by
//! ID prefix, nothing started, no helper container left (also after a killed session).

use std::process::{Command, Stdio};

use crate::util::{docker, docker_ready, wait_until, TestShell};

/// Images imported for one test, removed when it ends.
struct Imported {
    refs: Vec<String>,
}

impl Drop for Imported {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .arg("rmi")
            .arg("-f")
            .args(&self.refs)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `docker import` of a tree holding `etc/app.conf` with `conf`; returns the image ID.
fn import(conf: &str, tag: Option<&str>) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("root/etc")).expect("mkdir");
    std::fs::write(dir.path().join("root/etc/app.conf"), conf).expect("write");
    std::fs::write(dir.path().join("root/etc/same"), "same\n").expect("write");
    let tar = dir.path().join("img.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(dir.path().join("root"))
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("tar");
    assert!(st.success());
    let tar = tar.to_string_lossy().into_owned();
    let mut args = vec!["import", tar.as_str()];
    if let Some(t) = tag {
        args.push(t);
    }
    docker(&args)
}

fn views() -> String {
    docker(&["ps", "-aq", "--filter", "label=dockerbox.image-view"])
}

#[test]
fn images_are_read_without_running_them() {
    if !docker_ready() {
        return;
    }
    let repo = format!("dbx-test-{}/org/app", std::process::id());
    let (v1, v2) = (format!("{repo}:v1"), format!("{repo}:v2"));
    let untagged = import("untagged\n", None);
    let mut imported = Imported {
        refs: vec![untagged.clone()],
    };
    import("port = 1\nname = app\n", Some(&v1));
    import("port = 2\nname = app\n", Some(&v2));
    imported.refs.extend([v1.clone(), v2.clone()]);
    let all_before = docker(&["ps", "-aq", "--filter", &format!("ancestor={v1}")]);
    assert_eq!(all_before, "");

    let sh = TestShell::new();
    let root = format!("/images/{repo}");
    let org = format!("/images/dbx-test-{}/org", std::process::id());
    assert_eq!(sh.c(&format!("ls {org}")).ok(), "app:v1\napp:v2\n");
    assert_eq!(
        sh.c(&format!("cat {root}:v1/etc/app.conf")).ok(),
        "port = 1\nname = app\n"
    );
    let r = sh.c(&format!(
        "diff {root}:v1/etc/app.conf {root}:v2/etc/app.conf"
    ));
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(r.out().contains("< port = 1") && r.out().contains("> port = 2"));
    // Nested references are directories; ls -l shows each image's size and creation time.
    let first = repo.split('/').next().unwrap_or_default();
    assert!(sh.c("ls /images").ok().lines().any(|l| l == first));
    let long = sh.c(&format!("ls -l {org}")).ok();
    assert!(
        long.contains(" app:v1\n") && long.contains(" app:v2\n"),
        "{long}"
    );
    assert!(sh.c("ls -a /").ok().lines().any(|l| l == "images"));
    // An untagged image by ID prefix, under the dot-name.
    let hex = untagged.trim_start_matches("sha256:");
    assert_eq!(
        sh.c(&format!("cat /images/.id/{}/etc/app.conf", &hex[..10]))
            .ok(),
        "untagged\n"
    );
    // Read-only.
    let r = sh.c(&format!("echo x > {root}:v1/etc/app.conf"));
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    // Inside one session: the helper exists, is not running, and is not in /containers.
    let line = format!(
        "cat {root}:v2/etc/same; docker ps -q --filter label=dockerbox.image-view; \
         docker ps -aq --filter label=dockerbox.image-view --filter ancestor={v2}; ls /containers"
    );
    let out = sh.c(&line).ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("same"));
    let created = lines.next().unwrap_or_default().to_string();
    assert!(!created.is_empty(), "a view was made: {out}");
    assert!(!out.contains("image "), "{out}");
    // Nothing started, nothing left.
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &format!("ancestor={v1}")]),
        ""
    );
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &format!("ancestor={v2}")]),
        ""
    );
    assert!(!views().contains(&created));
}

#[test]
fn a_killed_sessions_helpers_are_swept() {
    if !docker_ready() {
        return;
    }
    let tag = format!("dbx-test-{}/sweep:v1", std::process::id());
    import("sweep\n", Some(&tag));
    let _imported = Imported {
        refs: vec![tag.clone()],
    };
    let sh = TestShell::new();
    let mut child = sh
        .command()
        .args([
            "-c",
            // `cat` then waits on stdin, which this test holds open.
            &format!("cat /images/{tag}/etc/app.conf; cat"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dockerbox");
    let ours = || docker(&["ps", "-aq", "--filter", &format!("ancestor={tag}")]);
    wait_until("the helper container", || !ours().is_empty());
    let left = ours();
    let _ = child.kill();
    let _ = child.wait();
    // The killed session could not remove it.
    assert_eq!(ours(), left);
    assert_eq!(
        sh.c(&format!("cat /images/{tag}/etc/app.conf")).ok(),
        "sweep\n"
    );
    // The engine may take a moment to forget a removed container under load.
    wait_until("the next session to sweep it and remove its own", || {
        ours().is_empty()
    });
}

/// `make` through the mount: a target depending on an image's `created` (and reading one of
/// its files) rebuilds exactly when the tag moves to another image.
#[test]
fn make_through_the_mount_rebuilds_when_the_tag_moves() {
    let Some((_sb, sh)) = crate::mount::mount_ready() else {
        return;
    };
    let repo = format!("dbx-make-{}/app", std::process::id());
    let tag = format!("{repo}:v1");
    let first = import("one\n", Some(&tag));
    let mut imported = Imported {
        refs: vec![tag.clone(), first.clone()],
    };
    let m = crate::mount::Mounted::new(&sh, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // Make wants the tag's colon escaped.
    let at = |tree: &str, rel: &str| format!("{}/{tree}/{}/{rel}", m.root().display(), tag);
    let esc = |p: String| p.replace(':', "\\:");
    std::fs::write(
        d.join("Makefile"),
        format!(
            "out: {}\n\tcat {} >> built.log\n\ttouch out\n",
            esc(at("meta/images", "created")),
            esc(at("images", "etc/app.conf"))
        ),
    )
    .expect("Makefile");
    let make = || {
        let st = Command::new("make")
            .arg("-s")
            .arg("-C")
            .arg(d)
            .output()
            .expect("make");
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        std::fs::read_to_string(d.join("built.log")).unwrap_or_default()
    };
    let mtime = |p: &std::path::Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|t| t.as_secs())
    };
    let created = std::path::PathBuf::from(at("meta/images", "created"));
    let before = mtime(&created);
    assert!(before.is_some());
    assert_eq!(make(), "one\n");
    assert_eq!(make(), "one\n", "nothing moved: nothing rebuilt");
    // The next image is made in a later second (mtimes are whole seconds) than the build.
    let built = mtime(&d.join("out")).unwrap_or(0);
    wait_until("the next second", || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .is_ok_and(|now| now.as_secs() > built)
    });
    let second = import("two\n", Some(&tag));
    imported.refs.push(second);
    wait_until("the mount to show the moved tag", || {
        mtime(&created) > before
    });
    assert_eq!(make(), "one\ntwo\n", "the tag moved: rebuilt");
    assert_eq!(make(), "one\ntwo\n");
}
