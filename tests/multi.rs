//! Several engines at once (issue 6): `/containers/HOST/NAME` from `--host`, the environment
//! and docker contexts, against extra engines the harness starts (tests/engines.rs).

use crate::engines::{engines_available, DockerConfig, ExtraEngine};
use crate::util::{sha256, Sandbox, TestShell, BUSYBOX};

const MAIN: &str = "unix:///var/run/docker.sock";

/// A name unique to this test run (containers on the extra engines are gone with the engine,
/// those on the main one are the Sandbox's).
fn uniq(tag: &str) -> String {
    format!("dbx-{tag}-{}", std::process::id())
}

/// A shell on three engines: `main` (this machine's), `e2` (unix) and `tls` (tcp + TLS, its
/// client certificates from the environment, as `DOCKER_CERT_PATH` gives them to `--host`).
fn three_engines(e2: &ExtraEngine, tls: &ExtraEngine) -> TestShell {
    let certs = tls.certs().unwrap();
    TestShell::new()
        .env("DOCKER_CERT_PATH", &certs.client.dir.display().to_string())
        .env("DOCKER_TLS_VERIFY", "1")
        .opts(&[
            "--host",
            &format!("main={MAIN}"),
            "--host",
            &format!("e2={}", e2.addr()),
            "--host",
            &format!("tls={}", tls.addr()),
        ])
}

#[test]
fn three_engines_one_tree() {
    if !engines_available("three_engines_one_tree") {
        return;
    }
    let Some(mut sb) = Sandbox::new("multi3") else {
        return;
    };
    let (Some(e2), Some(tls)) = (ExtraEngine::unix("m3u"), ExtraEngine::tls("m3t")) else {
        return;
    };
    let on_main = sb.run("main", BUSYBOX, &[]);
    let on_e2 = e2.run_container(&uniq("on-e2"), &[]);
    let stopped = e2.create_container(&uniq("stopped-e2"));
    let on_tls = tls.run_container(&uniq("on-tls"), &[]);
    let sh = three_engines(&e2, &tls);

    let r = sh.c("ls /containers");
    assert_eq!(
        (r.status, r.out().as_str()),
        (0, "e2\nmain\ntls\n"),
        "{}",
        r.stderr
    );

    let r = sh.c("ls -l /containers");
    assert_eq!(r.status, 0, "{}", r.stderr);
    let lines = r.lines();
    assert_eq!(lines.len(), 3, "{}", r.out());
    let e2_line = lines.iter().find(|l| l.ends_with(" e2")).unwrap();
    assert!(e2_line.starts_with("up "), "{e2_line}");
    assert!(
        e2_line.contains("1 running") && e2_line.contains("1 stopped"),
        "{e2_line}"
    );
    assert!(e2_line.contains(&e2.addr()), "{e2_line}");
    let tls_line = lines.iter().find(|l| l.ends_with(" tls")).unwrap();
    assert!(
        tls_line.contains(&tls.addr()) && tls_line.contains("20."),
        "{tls_line}"
    );

    let r = sh.c("ls /containers/e2 /containers/tls");
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.out(),
        format!("/containers/e2:\n{on_e2}\n{stopped}\n\n/containers/tls:\n{on_tls}\n")
    );
    assert!(sh.c("ls /containers/main").out().contains(&on_main));

    // The same commands work on every host.
    let r = sh.c(&format!(
        "cd /containers/tls/{on_tls}/etc; pwd; cat hostname; cat /containers/e2/{stopped}/etc/passwd"
    ));
    assert_eq!(r.status, 0, "{}", r.stderr);
    let out = r.lines();
    assert_eq!(out[0], format!("/containers/tls/{on_tls}/etc"));
    assert!(out[2].starts_with("root:"), "{}", r.out());

    // A name that is not an engine.
    let r = sh.c("ls /containers/nope");
    assert_eq!(r.status, 2);
    assert_eq!(
        r.stderr,
        "dockerbox: ls: /containers/nope: No such file or directory\n"
    );
}

#[test]
fn a_dead_engine_is_reported_once_and_the_others_still_list() {
    if !engines_available("dead_engine") {
        return;
    }
    let Some(mut sb) = Sandbox::new("multidead") else {
        return;
    };
    let Some(mut e2) = ExtraEngine::unix("mdead") else {
        return;
    };
    let on_main = sb.run("main", BUSYBOX, &[]);
    let on_e2 = e2.run_container(&uniq("dead-e2"), &[]);
    let pid = e2.pid().unwrap();
    let sh = TestShell::new().opts(&[
        "--host",
        &format!("main={MAIN}"),
        "--host",
        &format!("e2={}", e2.addr()),
    ]);
    // One session: e2 answers, then dies (the first loop waits until it is a zombie or gone,
    // so its socket is closed; the second, up to 30 s, until the session has seen its event
    // stream end, which on a loaded machine can come after the next command), then is asked
    // again.
    let script = format!(
        "ls /containers/e2\nkill -9 {pid}\n\
         while grep -Eq '^State:[[:space:]]+[^Z]' /proc/{pid}/status 2>/dev/null; do sleep 0.05; done\n\
         n=0; while ls /containers/e2 >/dev/null 2>&1 && [ $n -lt 600 ]; do n=$((n+1)); sleep 0.05; done\n\
         ls /containers/e2 /containers/main\n"
    );
    let r = sh.stdin(script.as_bytes());
    e2.kill(); // reaps it; Drop cleans up
    assert!(r.out().starts_with(&format!("{on_e2}\n")), "{}", r.out());
    // Other tests' containers may share the main engine: ours is one of the lines listed there.
    let main_part = r.out();
    let main_part = main_part
        .split("/containers/main:\n")
        .nth(1)
        .unwrap_or_default();
    assert!(main_part.lines().any(|l| l == on_main), "{}", r.out());
    let want = format!(
        "dockerbox: ls: /containers/e2: cannot connect to {}: ",
        e2.addr()
    );
    assert_eq!(r.stderr.matches(&want).count(), 1, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    // ls's status (the script's last), as GNU ls on an unreadable directory.
    assert_eq!(r.status, 1);

    // ls -l /containers says it is down, and the listing still prints.
    let r = sh.c("ls -l /containers");
    assert_eq!(r.status, 0, "{}", r.stderr);
    let down = r.lines().into_iter().find(|l| l.contains(" e2")).unwrap();
    assert!(down.starts_with("down "), "{down}");
}

#[test]
fn a_wrong_tls_certificate_is_a_clear_error() {
    if !engines_available("wrong_cert") {
        return;
    }
    let Some(tls) = ExtraEngine::tls("mcert") else {
        return;
    };
    let certs = tls.certs().unwrap();
    let sh = TestShell::new()
        .env("DOCKER_HOST", &tls.addr())
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &certs.foreign.dir.display().to_string());
    let r = sh.c("ls /containers");
    assert_eq!(r.status, 1);
    let want = format!(
        "dockerbox: ls: /containers: cannot connect to {}: ",
        tls.addr()
    );
    assert!(r.stderr.starts_with(&want), "{}", r.stderr);
    assert!(
        r.stderr.to_lowercase().contains("certificate") || r.stderr.contains("Issuer"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    // The right certificates work.
    let sh = TestShell::new()
        .env("DOCKER_HOST", &tls.addr())
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &certs.client.dir.display().to_string());
    let r = sh.c("ls /containers");
    assert_eq!(r.status, 0, "{}", r.stderr);
}

#[test]
fn contexts_and_the_environment_pick_the_engine_in_docker_s_order() {
    if !engines_available("contexts") {
        return;
    }
    let (Some(e2), Some(e3)) = (ExtraEngine::unix("mctx2"), ExtraEngine::tls("mctx3")) else {
        return;
    };
    let (a, b) = (
        e2.run_container(&uniq("ctx-a"), &[]),
        e3.run_container(&uniq("ctx-b"), &[]),
    );
    let cfg = DockerConfig::new();
    cfg.create_context("two", &e2.addr(), None);
    cfg.create_context("three", &e3.addr(), Some(&e3.certs().unwrap().client));
    let conf = cfg.path().display().to_string();
    let ls = |env: &[(&str, &str)], opts: &[&str]| {
        let mut sh = TestShell::new().env("DOCKER_CONFIG", &conf).opts(opts);
        for (k, v) in env {
            sh = sh.env(k, v);
        }
        let r = sh.c("ls /containers");
        assert_eq!(r.status, 0, "{env:?} {opts:?}: {}", r.stderr);
        r.out()
    };
    // The current context, then DOCKER_CONTEXT over it, then DOCKER_HOST over both.
    cfg.use_context("two");
    assert_eq!(ls(&[], &[]), format!("{a}\n"));
    assert_eq!(ls(&[("DOCKER_CONTEXT", "three")], &[]), format!("{b}\n"));
    assert_eq!(
        ls(
            &[("DOCKER_CONTEXT", "three"), ("DOCKER_HOST", &e2.addr())],
            &[]
        ),
        format!("{a}\n")
    );
    // --context over the environment; several make the tree /containers/HOST/NAME.
    assert_eq!(
        ls(&[("DOCKER_HOST", &e2.addr())], &["--context", "three"]),
        format!("{b}\n")
    );
    assert_eq!(
        ls(&[], &["--context", "two", "--context", "three"]),
        "three\ntwo\n"
    );
    let sh = TestShell::new()
        .env("DOCKER_CONFIG", &conf)
        .opts(&["--all-contexts"]);
    let r = sh.c(&format!(
        "ls /containers; ls /containers/three/{b}/etc/hostname"
    ));
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.out(),
        format!("default\nthree\ntwo\n/containers/three/{b}/etc/hostname\n")
    );
    // A context that does not exist.
    let sh = TestShell::new().env("DOCKER_CONFIG", &conf);
    let r = sh.args(&["--context", "nope", "-c", "ls /"]);
    assert_eq!(r.status, 2);
    assert_eq!(r.stderr, "dockerbox: context \"nope\" does not exist\n");
}

#[test]
fn cp_across_engines_is_byte_exact() {
    if !engines_available("cross_cp") {
        return;
    }
    let Some(mut sb) = Sandbox::new("multicp") else {
        return;
    };
    let (Some(e2), Some(tls)) = (ExtraEngine::unix("mcpu"), ExtraEngine::tls("mcpt")) else {
        return;
    };
    let src = sb.run("src", BUSYBOX, &[]);
    sb.exec(
        &src,
        &["sh", "-c", "head -c 100000000 /dev/urandom > /tmp/f"],
    );
    let want = sb.exec(&src, &["sha256sum", "/tmp/f"]);
    let want = want.split_whitespace().next().unwrap().to_string();
    let on_e2 = e2.run_container(&uniq("cp-e2"), &[]);
    let stopped_tls = tls.create_container(&uniq("cp-tls-stopped"));
    let on_tls = tls.run_container(&uniq("cp-tls"), &[]);
    let sh = three_engines(&e2, &tls);
    // main -> tls (streamed over TLS), tls -> e2, e2 -> a stopped container on tls, and back.
    let r = sh.c(&format!(
        "cp /containers/main/{src}/tmp/f /containers/tls/{on_tls}/tmp/f; \
         cp /containers/tls/{on_tls}/tmp/f /containers/e2/{on_e2}/tmp/f; \
         mv /containers/e2/{on_e2}/tmp/f /containers/tls/{stopped_tls}/f; \
         cp /containers/tls/{stopped_tls}/f back"
    ));
    assert_eq!(r.status, 0, "{}", r.stderr);
    let back = std::fs::read(sh.home.path().join("back")).unwrap();
    assert_eq!(back.len(), 100_000_000);
    assert_eq!(sha256(&back), want);
    let on_tls_sum = tls.docker(&["exec", &on_tls, "sha256sum", "/tmp/f"]);
    assert!(on_tls_sum.starts_with(&want), "{on_tls_sum}");
    // mv removed the source.
    let r = sh.c(&format!("ls /containers/e2/{on_e2}/tmp"));
    assert_eq!(r.out(), "");
    // A tree with everything kept, one tar stream from one engine into the other.
    let r = sh.c(&format!(
        "cp -a /containers/main/{src}/etc /containers/tls/{on_tls}/tmp/etc"
    ));
    assert_eq!(r.status, 0, "{}", r.stderr);
    let listing = |p: String| {
        let r = sh.c(&format!("cd {p}; ls -lR ."));
        assert_eq!(r.status, 0, "{}", r.stderr);
        r.out()
    };
    assert_eq!(
        listing(format!("/containers/main/{src}/etc")),
        listing(format!("/containers/tls/{on_tls}/tmp/etc"))
    );
}

/// An engine reached over ssh (an sshd on 127.0.0.1 whose sessions run `docker system
/// dial-stdio` against an extra engine), beside a local one.
#[test]
fn an_ssh_engine_lists_and_serves_files() {
    if !engines_available("ssh_engine") {
        return;
    }
    let Some(e2) = ExtraEngine::unix("mssh") else {
        return;
    };
    let Some(ssh) = e2.ssh_endpoint() else {
        return;
    };
    let on_e2 = e2.run_container(&uniq("over-ssh"), &[]);
    let sh = TestShell::new().env("PATH", &ssh.path_env()).opts(&[
        "--host",
        &format!("far={}", ssh.addr()),
        "--host",
        &format!("main={MAIN}"),
    ]);
    let r = sh.c(&format!(
        "ls /containers/far; cat /containers/far/{on_e2}/etc/hostname"
    ));
    assert_eq!(r.status, 0, "{}", r.stderr);
    let lines = r.lines();
    assert_eq!(lines[0], on_e2);
    assert_eq!(lines.len(), 2, "{}", r.out());
}

/// Tab completes engine names, then container names on that engine, then paths inside.
#[test]
fn tab_completes_hosts_then_containers() {
    if !engines_available("multi_tab") || !crate::repl::tmux_available() {
        return;
    }
    let Some(e2) = ExtraEngine::unix("mtab") else {
        return;
    };
    let on_e2 = e2.run_container(&uniq("tab-e2"), &[]);
    let sh = TestShell::new();
    let hosts = [
        "--host".to_string(),
        format!("main={MAIN}"),
        "--host".to_string(),
        format!("second={}", e2.addr()),
    ];
    let args: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let t = crate::util::Tmux::start(&sh, &args);
    t.wait_for("prompt", |s| s.contains("$"));
    t.keys(&["ls /containers/sec", "Tab"]);
    t.wait_for("host", |s| s.contains("$ ls /containers/second/"));
    t.keys(&["dbx-tab", "Tab"]);
    t.wait_for("container", |s| {
        s.contains(&format!("$ ls /containers/second/{on_e2}/"))
    });
    // One key at a time: rustyline may leave a burst of typed bytes unprocessed until the next.
    t.keys(&["e", "t", "Tab"]);
    t.wait_for("etc/", |s| {
        s.contains(&format!("$ ls /containers/second/{on_e2}/etc/"))
    });
    t.keys(&["h", "o", "s", "t", "n", "Tab"]);
    t.wait_for("hostname", |s| {
        s.contains(&format!("$ ls /containers/second/{on_e2}/etc/hostname"))
    });
    t.keys(&["Enter"]);
    t.wait_for("listing", |s| {
        s.contains(&format!("/containers/second/{on_e2}/etc/hostname\n"))
    });
    t.keys(&["C-d"]);
}
