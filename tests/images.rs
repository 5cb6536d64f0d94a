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
