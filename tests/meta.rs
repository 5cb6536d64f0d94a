//! `/meta/containers/NAME/`: fields against `docker inspect`, `ctl` verbs and their errors,
//! `logs`, read-only everywhere else, and mtimes that `make` can use.

use std::path::Path;

use crate::util::{docker, wait_until, Sandbox, TestShell, BUSYBOX};

/// `docker inspect -f FORMAT NAME`.
fn inspect(name: &str, format: &str) -> String {
    docker(&["inspect", "-f", format, name])
}

/// A busybox container that stops at once on SIGTERM (`docker stop` is quick).
fn quick_stopper(sb: &mut Sandbox, short: &str, extra: &[&str]) -> String {
    sb.run_cmd(
        short,
        BUSYBOX,
        extra,
        &[
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do sleep 0.1; done",
        ],
    )
}

#[test]
fn meta_fields_match_docker_inspect() {
    let Some(mut sb) = Sandbox::new("metafields") else {
        return;
    };
    let c = quick_stopper(
        &mut sb,
        "c",
        &[
            "-e",
            "GREETING=hello world",
            "--label",
            "app.tier=front",
            "--label",
            "odd/key=slash",
        ],
    );
    let created = sb.create("created", BUSYBOX);
    let sh = TestShell::new();
    let m = format!("/meta/containers/{c}");
    let cat = |f: &str| sh.c(&format!("cat {m}/{f}")).ok();
    let fields = [
        ("id", "{{.Id}}"),
        ("name", "{{slice .Name 1}}"),
        ("image", "{{.Config.Image}}"),
        ("image-id", "{{.Image}}"),
        ("created", "{{.Created}}"),
        ("state", "{{.State.Status}}"),
        ("started", "{{.State.StartedAt}}"),
        ("finished", "{{.State.FinishedAt}}"),
        ("exit-code", "{{.State.ExitCode}}"),
        ("pid", "{{.State.Pid}}"),
        ("restart-count", "{{.RestartCount}}"),
        ("labels/app.tier", "{{index .Config.Labels \"app.tier\"}}"),
        ("labels/odd%2Fkey", "{{index .Config.Labels \"odd/key\"}}"),
    ];
    for (f, format) in fields {
        assert_eq!(cat(f), format!("{}\n", inspect(&c, format)), "{f}");
    }
    assert_eq!(cat("env/GREETING"), "hello world\n");
    assert_eq!(cat("health"), "none\n");
    assert_eq!(cat("ip"), "", "--network none has no address");
    assert_eq!(cat("ports"), "");
    assert_eq!(
        cat("command"),
        "sh -c 'trap '\\''exit 0'\\'' TERM; while :; do sleep 0.1; done'\n"
    );
    let json = cat("inspect.json");
    assert!(json.contains(&format!("\"Id\": \"{}\"", inspect(&c, "{{.Id}}"))));
    // A never-started container.
    let cm = format!("/meta/containers/{created}");
    assert_eq!(sh.c(&format!("cat {cm}/state")).ok(), "created\n");
    assert_eq!(sh.c(&format!("cat {cm}/pid")).ok(), "0\n");

    // Every field is listed, with the size `cat` gives.
    let long = sh.c(&format!("ls -l {m}")).ok();
    for f in [
        "id",
        "image",
        "state",
        "inspect.json",
        "labels",
        "env",
        "logs",
        "changes",
        "ctl",
    ] {
        assert!(
            long.lines().any(|l| l.ends_with(&format!(" {f}"))),
            "{f}:\n{long}"
        );
    }
    for line in long.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (size, name) = (cols[4], cols[cols.len() - 1]);
        if line.starts_with('-') && !["logs", "changes", "ctl", "top", "stats.json"].contains(&name)
        {
            assert_eq!(size, cat(name).len().to_string(), "{name}");
        }
    }
    let labels = sh.c(&format!("ls {m}/labels")).ok();
    assert!(labels.contains("app.tier\n") && labels.contains("odd%2Fkey\n"));
    // Globs and cd work in the tree; / lists it.
    let globbed = sh.c(&format!("cd {m}; cat st*")).ok();
    assert!(globbed.starts_with(&cat("started")) && globbed.contains("running"));
    assert!(sh.c("ls /").ok().lines().any(|l| l == "meta"));
    let listed = sh.c("ls /meta/containers").ok();
    assert!(listed.lines().any(|l| l == c) && listed.lines().any(|l| l == created));

    // Read-only, but for ctl.
    for line in [
        format!("echo x > {m}/state"),
        format!("mkdir {m}/new"),
        format!("rm {m}/id"),
        format!("touch {m}/labels/app.tier"),
        format!("cp /etc/hostname {m}/"),
    ] {
        let r = sh.c(&line);
        assert_ne!(r.status, 0, "{line}");
        assert!(
            r.stderr.contains("Read-only file system"),
            "{line}: {}",
            r.stderr
        );
    }
    let r = sh.c(&format!("cat {m}/nonsense"));
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains("No such file or directory"),
        "{}",
        r.stderr
    );
    let r = sh.c("cat /meta/containers/dbx-no-such-container-here/state");
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("No such container"), "{}", r.stderr);
}

#[test]
fn ctl_does_every_verb() {
    let Some(mut sb) = Sandbox::new("metactl") else {
        return;
    };
    let c = quick_stopper(&mut sb, "c", &[]);
    let sh = TestShell::new();
    let ctl = format!("/meta/containers/{c}/ctl");
    let state = || inspect(&c, "{{.State.Status}}");
    let verb = |v: &str| sh.c(&format!("echo {v} > {ctl}")).ok();
    verb("pause");
    assert_eq!(state(), "paused");
    // The engine's refusal is the write's error, said once.
    let r = sh.c(&format!("echo pause > {ctl}"));
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("already paused").count(),
        1,
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    verb("unpause");
    assert_eq!(state(), "running");
    let r = sh.c(&format!("echo unpause > {ctl}"));
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("is not paused"), "{}", r.stderr);
    verb("stop");
    assert_eq!(state(), "exited");
    let r = sh.c(&format!("echo pause > {ctl}"));
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("is not running"), "{}", r.stderr);
    verb("start");
    assert_eq!(state(), "running");
    let before = inspect(&c, "{{.State.StartedAt}}");
    verb("restart");
    assert_eq!(state(), "running");
    assert_ne!(inspect(&c, "{{.State.StartedAt}}"), before);
    verb("kill KILL");
    wait_until("the kill", || state() == "exited");
    assert_eq!(inspect(&c, "{{.State.ExitCode}}"), "137");
    verb("start");
    verb("kill");
    wait_until("the default kill", || state() == "exited");
    // Unknown verbs and signals.
    let r = sh.c(&format!("echo reboot > {ctl}"));
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("unknown verb 'reboot'"), "{}", r.stderr);
    verb("start");
    let r = sh.c(&format!("echo kill NOSUCHSIG > {ctl}"));
    assert_eq!(r.status, 1);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert_eq!(state(), "running");
    // Reading ctl gives nothing; it is not a field.
    assert_eq!(sh.c(&format!("cat {ctl}")).ok(), "");
}

#[test]
fn logs_hold_stdout_and_stderr() {
    let Some(mut sb) = Sandbox::new("metalogs") else {
        return;
    };
    let c = sb.run_cmd(
        "c",
        BUSYBOX,
        &[],
        &[
            "sh",
            "-c",
            "echo out1; echo err1 >&2; echo out2; seq 1 20000; echo done",
        ],
    );
    wait_until("the container to finish", || {
        inspect(&c, "{{.State.Status}}") == "exited"
    });
    let sh = TestShell::new();
    let logs = sh.c(&format!("cat /meta/containers/{c}/logs")).ok();
    let combined = std::process::Command::new("sh")
        .args(["-c", &format!("docker logs {c} 2>&1")])
        .output()
        .expect("docker logs");
    let mut want: Vec<&str> = std::str::from_utf8(&combined.stdout)
        .unwrap_or("")
        .lines()
        .collect();
    let mut got: Vec<&str> = logs.lines().collect();
    assert_eq!(got.len(), 20004);
    assert!(got.contains(&"err1") && got.contains(&"out1") && got.contains(&"done"));
    // The two streams are interleaved as the engine recorded them; each in its own order.
    let outs: Vec<&&str> = got.iter().filter(|l| **l != "err1").collect();
    assert_eq!(outs[..3], [&"out1", &"out2", &"1"]);
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    // Through a pipe into a host program: a stream that ends.
    let n = sh.c(&format!("cat /meta/containers/{c}/logs | wc -l")).ok();
    assert_eq!(n.trim(), "20004");
}

#[test]
fn make_rebuilds_exactly_when_the_container_restarted() {
    let Some(mut sb) = Sandbox::new("metamake") else {
        return;
    };
    let c = quick_stopper(&mut sb, "c", &[]);
    let sh = TestShell::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(
        d.join("Makefile"),
        "out: started\n\tcat started >> built.log\n\ttouch out\n",
    )
    .expect("Makefile");
    let mtime = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .expect("mtime")
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
    };
    // `cp -p` keeps the mtime /meta gives the file: when the container started.
    let fetch = || {
        sh.c(&format!(
            "cp -p /meta/containers/{c}/started {}/started",
            d.display()
        ))
        .ok();
    };
    let make = || {
        let st = std::process::Command::new("make")
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
    };
    let builds = || {
        std::fs::read_to_string(d.join("built.log"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let started_at = |c: &str| {
        let s = inspect(c, "{{.State.StartedAt}}");
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &s, "+%s"])
            .output()
            .expect("date");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
    };
    fetch();
    assert_eq!(mtime(&d.join("started")).as_secs(), started_at(&c));
    make();
    assert_eq!(builds(), 1);
    fetch();
    make();
    assert_eq!(builds(), 1, "nothing changed: nothing rebuilt");
    // mtimes are whole seconds: the restart must fall in a later second than the build.
    let built = mtime(&d.join("out"));
    wait_until("the next second", || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .is_ok_and(|now| now.as_secs() > built.as_secs())
    });
    sh.c(&format!("echo restart > /meta/containers/{c}/ctl"))
        .ok();
    fetch();
    assert_eq!(mtime(&d.join("started")).as_secs(), started_at(&c));
    make();
    assert_eq!(builds(), 2, "restarted: rebuilt");
    fetch();
    make();
    assert_eq!(builds(), 2);
}

#[test]
fn meta_images_and_volumes_match_inspect() {
    let Some(_sb) = Sandbox::new("metaobjects") else {
        return;
    };
    let sh = TestShell::new();
    let img = format!("/meta/images/{BUSYBOX}");
    let cat = |p: &str| sh.c(&format!("cat {p}")).ok();
    let image = |f: &str| docker(&["image", "inspect", "-f", f, BUSYBOX]);
    assert_eq!(cat(&format!("{img}/id")), format!("{}\n", image("{{.Id}}")));
    assert!(cat(&format!("{img}/tags")).lines().any(|t| t == BUSYBOX));
    assert_eq!(
        cat(&format!("{img}/created")),
        format!("{}\n", image("{{.Created}}"))
    );
    assert_eq!(
        cat(&format!("{img}/size")),
        format!("{}\n", image("{{.Size}}"))
    );
    assert!(cat(&format!("{img}/inspect.json")).contains("\"RepoTags\""));
    let names = sh.c(&format!("ls {img}")).ok();
    for f in [
        "id",
        "tags",
        "created",
        "size",
        "inspect.json",
        "labels",
        "env",
    ] {
        assert!(names.lines().any(|l| l == f), "{f} in {names}");
    }
    // The mtime is the image's creation.
    let created = docker(&["image", "inspect", "-f", "{{.Created}}", BUSYBOX]);
    let secs = |s: &str| {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", s, "+%s"])
            .output()
            .expect("date");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let d = tempfile::tempdir().expect("tempdir");
    sh.c(&format!("cp -p {img}/id {}/id", d.path().display()))
        .ok();
    let m = std::fs::metadata(d.path().join("id"))
        .and_then(|m| m.modified())
        .expect("mtime");
    let m = m
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().to_string())
        .unwrap_or_default();
    assert_eq!(m, secs(&created));
    // Read-only, like the rest of /meta.
    let r = sh.c(&format!("echo x > {img}/id"));
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);

    let vol = format!("dbx-metavol-{}", std::process::id());
    docker(&[
        "volume",
        "create",
        "--label",
        "dockerbox.test=1",
        "--label",
        "tier=db",
        &vol,
    ]);
    let v = format!("/meta/volumes/{vol}");
    let volume = |f: &str| docker(&["volume", "inspect", "-f", f, &vol]);
    let got = [
        cat(&format!("{v}/driver")),
        cat(&format!("{v}/mountpoint")),
        cat(&format!("{v}/created")),
        cat(&format!("{v}/labels/tier")),
    ];
    let want = [
        "local\n".to_string(),
        format!("{}\n", volume("{{.Mountpoint}}")),
        format!("{}\n", volume("{{.CreatedAt}}")),
        "db\n".to_string(),
    ];
    let listed = sh.c("ls /meta/volumes").ok();
    let _ = std::process::Command::new("docker")
        .args(["volume", "rm", "-f", &vol])
        .output();
    assert_eq!(got, want);
    assert!(listed.lines().any(|l| l == vol), "{listed}");
}

#[test]
fn top_and_stats_of_a_running_container() {
    let Some(mut sb) = Sandbox::new("metatop") else {
        return;
    };
    let c = quick_stopper(&mut sb, "c", &[]);
    let created = sb.create("created", BUSYBOX);
    let sh = TestShell::new();
    let top = sh.c(&format!("cat /meta/containers/{c}/top")).ok();
    let mut lines = top.lines();
    assert!(
        lines
            .next()
            .is_some_and(|t| t.starts_with("UID") && t.contains("CMD")),
        "{top}"
    );
    assert!(top.contains("sh -c"), "{top}");
    let stats = sh.c(&format!("cat /meta/containers/{c}/stats.json")).ok();
    let v: serde_json::Value = serde_json::from_str(&stats).expect("stats.json is JSON");
    assert!(v.get("memory_stats").is_some(), "{stats}");
    let r = sh.c(&format!("cat /meta/containers/{created}/top"));
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("is not running"), "{}", r.stderr);
}

#[test]
fn ls_lt_sorts_containers_by_their_last_change() {
    let Some(mut sb) = Sandbox::new("metalt") else {
        return;
    };
    let first = sb.create("first", BUSYBOX);
    let second = sb.create("second", BUSYBOX);
    let created = inspect(&second, "{{.Created}}");
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &created, "+%s"])
        .output()
        .expect("date");
    let created: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    // mtimes are whole seconds: the change must fall in a later second.
    wait_until("the next second", || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .is_ok_and(|now| now.as_secs() > created)
    });
    docker(&["start", &first]);
    let sh = TestShell::new();
    let order: Vec<String> = sh
        .c("ls -t /meta/containers")
        .ok()
        .lines()
        .filter(|l| *l == first || *l == second)
        .map(str::to_string)
        .collect();
    assert_eq!(order, [first.clone(), second.clone()]);
    let order: Vec<String> = sh
        .c("ls -tr /meta/containers")
        .ok()
        .lines()
        .filter(|l| *l == first || *l == second)
        .map(str::to_string)
        .collect();
    assert_eq!(order, [second, first]);
}
