//! `/apps/PROJECT/SERVICE`: compose projects made with the labels compose sets (compose itself
//! is not needed), v1 and v2 names, replicas, one-off containers left out, links followed by
//! `cd`, `cat`, `cp` and `exec`, `ls -l /apps`, and read-only projects.

use std::process::{Command, Stdio};

use crate::util::{docker, docker_ready, TestShell, BUSYBOX, LABEL};

/// Containers named as compose names them, removed when the test ends.
struct Project {
    name: String,
    made: Vec<String>,
}

impl Project {
    fn new(short: &str) -> Option<Project> {
        if !docker_ready() {
            return None;
        }
        Some(Project {
            name: format!("dbx{short}{}", std::process::id()),
            made: Vec::new(),
        })
    }

    /// A container of `service` called `name`, with compose's labels (`number` as compose v2
    /// sets it; v1 containers of old compose versions may lack it), running or only created.
    fn add(
        &mut self,
        name: &str,
        service: &str,
        number: Option<&str>,
        extra: &[(&str, &str)],
        running: bool,
    ) -> String {
        let name = name.replace("P", &self.name);
        let mut labels = vec![
            LABEL.to_string(),
            format!("com.docker.compose.project={}", self.name),
            format!("com.docker.compose.service={service}"),
        ];
        if let Some(n) = number {
            labels.push(format!("com.docker.compose.container-number={n}"));
        }
        labels.extend(extra.iter().map(|(k, v)| format!("{k}={v}")));
        let mut args: Vec<String> = vec![if running { "run" } else { "create" }.into()];
        if running {
            args.push("-d".into());
        }
        args.extend([
            "--network".into(),
            "none".into(),
            "--name".into(),
            name.clone(),
        ]);
        for l in labels {
            args.extend(["--label".into(), l]);
        }
        args.extend([BUSYBOX.into(), "sleep".into(), "1000000".into()]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        docker(&refs);
        self.made.push(name.clone());
        name
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if !self.made.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&self.made)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

const WD: &str = "com.docker.compose.project.working_dir";

#[test]
fn compose_services_are_links_into_containers() {
    let Some(mut p) = Project::new("shop") else {
        return;
    };
    let wd = [(WD, "/srv/shop")];
    // Replica 1 is not running: `web` is the lowest-numbered running one.
    p.add("P-web-1", "web", Some("1"), &wd, false);
    let web2 = p.add("P-web-2", "web", Some("2"), &wd, true);
    p.add("P-web-3", "web", Some("3"), &wd, true);
    let worker = p.add("P-worker-1", "worker", Some("1"), &wd, true);
    // `compose run`: left out.
    p.add(
        "P-web-run-1a2b3c",
        "web",
        Some("1"),
        &[(WD, "/srv/shop"), ("com.docker.compose.oneoff", "True")],
        true,
    );
    docker(&["exec", &web2, "sh", "-c", "echo port=2 > /etc/app.conf"]);
    let sh = TestShell::new();
    let a = format!("/apps/{}", p.name);
    assert!(sh.c("ls /apps").ok().lines().any(|l| l == p.name));
    assert_eq!(
        sh.c(&format!("ls {a}")).ok(),
        "web\nweb-1\nweb-2\nweb-3\nworker\n"
    );
    let long = sh.c(&format!("ls -l {a}")).ok();
    assert!(
        long.contains(&format!(" web -> /containers/{web2}\n")),
        "{long}"
    );
    // Through the links: cat, cd, cp between services, exec.
    assert_eq!(sh.c(&format!("cat {a}/web/etc/app.conf")).ok(), "port=2\n");
    assert_eq!(
        sh.c(&format!("cd {a}/web/etc; pwd; ls app.conf")).ok(),
        format!("{a}/web/etc\napp.conf\n")
    );
    sh.c(&format!("cp {a}/web/etc/app.conf {a}/worker/tmp/"))
        .ok();
    assert_eq!(docker(&["exec", &worker, "cat", "/tmp/app.conf"]), "port=2");
    assert_eq!(
        sh.c(&format!("cd {a}/worker/tmp; exec cat app.conf")).ok(),
        "port=2\n"
    );
    // ls -l /apps: the working directory and how many services.
    let long = sh.c("ls -l /apps").ok();
    let line = long
        .lines()
        .find(|l| l.ends_with(&format!("  {}", p.name)))
        .unwrap_or_else(|| panic!("{long}"));
    assert!(line.contains("2 services"), "{line}");
    assert!(line.contains("/srv/shop"), "{line}");
    // Read-only: projects and links are the engine's.
    let r = sh.c(&format!("mkdir {a}/x"));
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    let r = sh.c(&format!("cat {a}/nope/etc/app.conf"));
    assert!(
        r.stderr.contains("No such file or directory"),
        "{}",
        r.stderr
    );
}

#[test]
fn compose_v1_names_without_numbers() {
    let Some(mut p) = Project::new("old") else {
        return;
    };
    let db = p.add("P_db_1", "db", None, &[], true);
    p.add("P_cache_1", "cache", None, &[], true);
    p.add("P_cache_2", "cache", None, &[], false);
    let sh = TestShell::new();
    let a = format!("/apps/{}", p.name);
    assert_eq!(
        sh.c(&format!("ls {a}")).ok(),
        "cache\ncache-1\ncache-2\ndb\n"
    );
    docker(&["exec", &db, "sh", "-c", "echo v1 > /tmp/f"]);
    assert_eq!(sh.c(&format!("cat {a}/db/tmp/f")).ok(), "v1\n");
    let long = sh.c("ls -l /apps").ok();
    let line = long
        .lines()
        .find(|l| l.ends_with(&format!("  {}", p.name)))
        .unwrap_or_else(|| panic!("{long}"));
    assert!(line.contains("2 services  -"), "{line}");
}
