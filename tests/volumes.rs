//! `/volumes/NAME/...`: volumes read and written with and without a container using them, by
//! the direct path and through a never-started view (`DOCKERBOX_DIRECT=0`), `ls -l /volumes`,
//! and no view left after the session, also after a killed one.

use std::process::{Command, Stdio};

use crate::util::{docker, docker_ready, wait_until, Sandbox, TestShell, BUSYBOX, LABEL};

/// A named volume made for one test, removed when it ends.
struct Volume {
    name: String,
}

impl Volume {
    fn new(short: &str) -> Option<Volume> {
        if !docker_ready() {
            return None;
        }
        let name = format!("dbx-{short}-{}", std::process::id());
        docker(&["volume", "create", "--label", LABEL, &name]);
        Some(Volume { name })
    }

    /// The volume's own directory on the host (the engine here is local).
    fn dir(&self) -> String {
        docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", &self.name])
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The views of `vol` that exist now.
fn views(vol: &str) -> String {
    docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=dockerbox.volume-view",
        "--filter",
        &format!("volume={vol}"),
    ])
}

/// Both ways in: the direct path, and the view's archive API.
fn shells() -> [(&'static str, TestShell); 2] {
    [
        ("direct", TestShell::new()),
        ("view", TestShell::new().env("DOCKERBOX_DIRECT", "0")),
    ]
}

#[test]
fn a_volume_no_container_uses_is_read_and_written() {
    let Some(vol) = Volume::new("vol-alone") else {
        return;
    };
    let v = format!("/volumes/{}", vol.name);
    let dir = vol.dir();
    std::fs::create_dir_all(format!("{dir}/etc")).expect("mkdir");
    std::fs::write(format!("{dir}/etc/app.conf"), "port = 1\n").expect("write");
    for (way, sh) in shells() {
        assert_eq!(
            sh.c(&format!("cat {v}/etc/app.conf")).ok(),
            "port = 1\n",
            "{way}"
        );
        assert_eq!(sh.c(&format!("ls {v}/etc")).ok(), "app.conf\n", "{way}");
        // A new file, and one replaced.
        let line = format!("echo {way} > {v}/new-{way}; cp {v}/etc/app.conf {v}/copy-{way}");
        sh.c(&line).ok();
        assert_eq!(
            std::fs::read_to_string(format!("{dir}/new-{way}")).expect("read"),
            format!("{way}\n")
        );
        assert_eq!(
            std::fs::read_to_string(format!("{dir}/copy-{way}")).expect("read"),
            "port = 1\n"
        );
        sh.c(&format!("mkdir {v}/d-{way}")).ok();
        assert!(std::path::Path::new(&format!("{dir}/d-{way}")).is_dir());
        // Symlinks resolve inside the volume, an absolute one from its root.
        sh.c(&format!("ln -s /etc {v}/link-{way}")).ok();
        assert_eq!(
            sh.c(&format!("cat {v}/link-{way}/app.conf")).ok(),
            "port = 1\n",
            "{way}"
        );
        assert_eq!(views(&vol.name), "", "{way}: a view was left");
    }
    // Only the direct path removes and renames; the view says why it cannot.
    let [(_, direct), (_, view)] = shells();
    let r = view.c(&format!("rm {v}/new-view"));
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("direct path"), "{}", r.stderr);
    direct
        .c(&format!(
            "mv {v}/new-view {v}/d-direct/moved; rm {v}/new-direct"
        ))
        .ok();
    assert_eq!(
        std::fs::read_to_string(format!("{dir}/d-direct/moved")).expect("read"),
        "view\n"
    );
    assert!(!std::path::Path::new(&format!("{dir}/new-direct")).exists());
    // Nothing lands outside: the volume's root itself and /volumes are not writable.
    let r = direct.c(&format!("rmdir {v}"));
    assert_ne!(r.status, 0);
    let r = direct.c("mkdir /volumes/dbx-made-by-mkdir");
    assert_ne!(r.status, 0);
    assert!(
        docker(&["volume", "ls", "-q", "--filter", "name=dbx-made-by-mkdir"]).is_empty(),
        "mkdir made a volume"
    );
}

#[test]
fn a_volume_a_running_container_uses_is_shared() {
    let Some(vol) = Volume::new("vol-shared") else {
        return;
    };
    let Some(mut sb) = Sandbox::new("volshared") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &["-v", &format!("{}:/data", vol.name)]);
    let v = format!("/volumes/{}", vol.name);
    for (way, sh) in shells() {
        sb.exec(
            &c,
            &["sh", "-c", &format!("echo from-{way} > /data/in-{way}")],
        );
        assert_eq!(
            sh.c(&format!("cat {v}/in-{way}")).ok(),
            format!("from-{way}\n")
        );
        sh.c(&format!("echo to-{way} > {v}/out-{way}")).ok();
        assert_eq!(
            sb.exec(&c, &["cat", &format!("/data/out-{way}")]),
            format!("to-{way}")
        );
        // The same file through the container and through the volume.
        assert_eq!(
            sh.c(&format!(
                "cat /containers/{c}/data/out-{way}; cat {v}/out-{way}"
            ))
            .ok(),
            format!("to-{way}\nto-{way}\n")
        );
        // Seen at once, however it was listed before.
        sb.exec(&c, &["touch", &format!("/data/late-{way}")]);
        assert!(
            sh.c(&format!("ls {v}"))
                .ok()
                .lines()
                .any(|l| l == format!("late-{way}")),
            "{way}"
        );
    }
    assert_eq!(views(&vol.name), "");
}

#[test]
fn volumes_list_with_driver_time_and_mountpoint() {
    let Some(vol) = Volume::new("vol-list") else {
        return;
    };
    let sh = TestShell::new();
    assert!(sh.c("ls -a /").ok().lines().any(|l| l == "volumes"));
    assert!(sh.c("ls /volumes").ok().lines().any(|l| l == vol.name));
    let long = sh.c("ls -l /volumes").ok();
    let line = long
        .lines()
        .find(|l| l.ends_with(&format!("  {}", vol.name)))
        .unwrap_or_else(|| panic!("{long}"));
    assert!(line.starts_with("local "), "{line}");
    assert!(line.contains(&vol.dir()), "{line}");
    // The mtime is the volume's creation: `ls -ld --full-time` would say the same day.
    let created = docker(&["volume", "inspect", "-f", "{{.CreatedAt}}", &vol.name]);
    assert!(!created.is_empty());
    let r = sh.c(&format!("cat /volumes/{}-missing/x", vol.name));
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains("No such file or directory"),
        "{}",
        r.stderr
    );
    let r = sh.c("echo x > /volumes/f");
    assert_ne!(r.status, 0);
}

#[test]
fn a_killed_sessions_volume_views_are_swept() {
    let Some(vol) = Volume::new("vol-sweep") else {
        return;
    };
    std::fs::write(format!("{}/f", vol.dir()), "sweep\n").expect("write");
    let v = format!("/volumes/{}", vol.name);
    let sh = TestShell::new().env("DOCKERBOX_DIRECT", "0");
    let mut child = sh
        .command()
        // `cat` then waits on stdin, which this test holds open.
        .args(["-c", &format!("cat {v}/f; cat")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dockerbox");
    wait_until("the view", || !views(&vol.name).is_empty());
    let left = views(&vol.name);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        views(&vol.name),
        left,
        "the killed session could not remove it"
    );
    // Never started.
    let running = docker(&["ps", "-q", "--filter", "label=dockerbox.volume-view"]);
    assert!(!running.contains(&left), "{running}");
    assert_eq!(sh.c(&format!("cat {v}/f")).ok(), "sweep\n");
    wait_until("the next session to sweep it and remove its own", || {
        views(&vol.name).is_empty()
    });
    // The volume and its contents stay.
    assert_eq!(
        std::fs::read_to_string(format!("{}/f", vol.dir())).expect("read"),
        "sweep\n"
    );
}

/// `-v` says which way a volume was reached: directly, or through a view (and why).
#[test]
fn verbose_says_which_way_a_volume_took() {
    let Some(vol) = Volume::new("vol-way") else {
        return;
    };
    let dir = vol.dir();
    std::fs::write(format!("{dir}/f"), "x\n").expect("write");
    let line = format!("cat /volumes/{}/f", vol.name);
    let r = TestShell::new().opts(&["-v"]).c(&line);
    assert_eq!(r.ok(), "x\n");
    assert!(
        r.stderr.starts_with(&format!(
            "dockerbox: volume {}: served directly (its directory {dir})\n",
            vol.name
        )),
        "{}",
        r.stderr
    );
    let r = TestShell::new()
        .opts(&["-v"])
        .env("DOCKERBOX_DIRECT", "0")
        .c(&line);
    assert_eq!(r.ok(), "x\n");
    assert!(
        r.stderr.starts_with(&format!(
            "dockerbox: volume {}: served by a view container, never started (no direct path: DOCKERBOX_DIRECT=0)\n",
            vol.name
        )),
        "{}",
        r.stderr
    );
}
