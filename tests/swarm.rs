//! Swarm stacks in `/apps`: a single-node swarm on an extra engine (its own network namespace,
//! advertised on an address of a veth pair inside it) running a stack's service with two
//! replicas of an image imported into that engine, and two engines joined into one swarm
//! across their namespaces by a veth pair, a task on each: each replica a link into
//! `/containers/HOST/NAME` on the engine that runs it, and a task on an engine dockerbox is not
//! given a link whose use names the node.

use std::process::Command;

use crate::engines::ExtraEngine;
use crate::util::{wait_until, TestShell};

const IMAGE: &str = "dbx-swarm/app:1";

/// `docker import` into `e` of a tree holding a static busybox (the service's sleeper) and
/// `/etc/app.conf`.
fn import(e: &ExtraEngine) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).expect("mkdir");
    std::fs::copy("/bin/busybox", root.join("busybox")).expect("copy busybox");
    std::fs::write(root.join("etc/app.conf"), "replica = any\n").expect("write");
    let tar = dir.path().join("img.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("tar");
    assert!(st.success());
    e.docker(&["import", &tar.to_string_lossy(), IMAGE]);
}

/// The swarm left (services removed) before the engines are dropped.
struct Swarm<'e>(Vec<&'e ExtraEngine>);

impl Drop for Swarm<'_> {
    fn drop(&mut self) {
        for e in self.0.iter().rev() {
            e.leave_swarm();
        }
    }
}

/// The stack `shop`'s service `web` as `docker stack deploy` labels it, `replicas` of them,
/// at most `per_node` on one node.
fn deploy(manager: &ExtraEngine, replicas: &str, per_node: &str) {
    manager.docker(&[
        "service",
        "create",
        "--detach",
        "--no-resolve-image",
        "--name",
        "shop_web",
        "--replicas",
        replicas,
        "--replicas-max-per-node",
        per_node,
        "--label",
        "com.docker.stack.namespace=shop",
        "--container-label",
        "com.docker.stack.namespace=shop",
        "--container-label",
        "dockerbox.test=1",
        IMAGE,
        "/busybox",
        "sleep",
        "1000000",
    ]);
}

/// The names of the running containers of engine `e`.
fn running(e: &ExtraEngine) -> Vec<String> {
    let out = e.docker(&["ps", "--format", "{{.Names}}"]);
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn a_single_node_swarm_stack_links_its_replicas() {
    let Some(e) = ExtraEngine::unix("swarm1") else {
        return;
    };
    e.veth(None, "10.211.0.1/24", "10.211.0.2/24");
    e.docker(&["swarm", "init", "--advertise-addr", "10.211.0.1"]);
    let _swarm = Swarm(vec![&e]);
    import(&e);
    deploy(&e, "2", "0");
    wait_until("two replicas running", || running(&e).len() == 2);
    let names = running(&e);
    assert!(
        names[0].starts_with("shop_web.1.") && names[1].starts_with("shop_web.2."),
        "{names:?}"
    );
    let sh = TestShell::new().opts(&["-H", &e.addr()]);
    let out = sh
        .c("ls /apps; ls /apps/shop; ls -l /apps | cut -c1-13")
        .ok();
    assert_eq!(out, "shop\nweb\nweb-1\nweb-2\n1 service  - \n", "{out}");
    let out = sh
        .c("ls -ld /apps/shop/web-1 /apps/shop/web-2 | awk '{print $(NF-2), $NF}'")
        .ok();
    assert_eq!(
        out,
        format!(
            "/apps/shop/web-1 /containers/{}\n/apps/shop/web-2 /containers/{}\n",
            names[0], names[1]
        )
    );
    let out = sh
        .c("cat /apps/shop/web-2/etc/app.conf; cd /apps/shop/web/etc; pwd; ls app.conf")
        .ok();
    assert_eq!(out, "replica = any\n/apps/shop/web/etc\napp.conf\n");
}

#[test]
fn a_two_node_swarm_links_each_task_on_its_engine() {
    let Some(m) = ExtraEngine::unix("swarm-m") else {
        return;
    };
    let Some(w) = ExtraEngine::unix("swarm-w") else {
        return;
    };
    m.veth(Some(&w), "10.211.1.1/24", "10.211.1.2/24");
    m.docker(&["swarm", "init", "--advertise-addr", "10.211.1.1"]);
    let token = m.docker(&["swarm", "join-token", "-q", "worker"]);
    w.docker(&[
        "swarm",
        "join",
        "--advertise-addr",
        "10.211.1.2",
        "--token",
        token.trim(),
        "10.211.1.1:2377",
    ]);
    let _swarm = Swarm(vec![&m, &w]);
    import(&m);
    import(&w);
    // Two replicas, at most one per node: one on each.
    deploy(&m, "2", "1");
    wait_until("a replica on each node", || {
        running(&m).len() == 1 && running(&w).len() == 1
    });
    let (on_m, on_w) = (running(&m).remove(0), running(&w).remove(0));
    let slot = |name: &str| name.split('.').nth(1).unwrap_or("").to_string();
    let (sm, sw) = (slot(&on_m), slot(&on_w));

    // Both engines known: each link leads onto the engine that runs its task.
    let both = TestShell::new().opts(&[
        "-H",
        &format!("m={}", m.addr()),
        "-H",
        &format!("w={}", w.addr()),
    ]);
    let out = both
        .c(&format!(
            "for l in web-{sm} web-{sw}; do ls -ld /apps/m/shop/$l | awk '{{print $(NF-2), $NF}}'; done; cat /apps/m/shop/web-{sm}/etc/app.conf /apps/m/shop/web-{sw}/etc/app.conf"
        ))
        .ok();
    assert_eq!(
        out,
        format!(
            "/apps/m/shop/web-{sm} /containers/m/{on_m}\n/apps/m/shop/web-{sw} /containers/w/{on_w}\nreplica = any\nreplica = any\n"
        )
    );

    // Only the manager known: the worker's task is a link whose use names its node.
    let node = w.docker(&["info", "--format", "{{.Swarm.NodeID}}"]);
    let node = node.trim();
    let one = TestShell::new().opts(&["-H", &m.addr()]);
    let out = one.c(&format!("cat /apps/shop/web-{sm}/etc/app.conf")).ok();
    assert_eq!(out, "replica = any\n");
    let r = one.c(&format!("cat /apps/shop/web-{sw}/etc/app.conf"));
    assert_eq!(r.status, 1);
    let host = m.docker(&[
        "node",
        "inspect",
        "--format",
        "{{.Description.Hostname}}",
        node,
    ]);
    assert_eq!(
        r.stderr,
        format!(
            "dockerbox: cat: /apps/shop/web-{sw}/etc/app.conf: {on_w} runs on swarm node {} (node {} at 10.211.1.2), whose engine dockerbox does not talk to\n",
            host.trim(),
            &node[..12]
        )
    );
    // The link itself is there (ls -l shows it), and `ls` through it fails the same way.
    let r = one.c(&format!("ls /apps/shop; ls /apps/shop/web-{sw}"));
    let mut links = ["web".to_string(), format!("web-{sm}"), format!("web-{sw}")];
    links.sort();
    assert_eq!(r.out(), format!("{}\n", links.join("\n")));
    assert!(
        r.stderr.contains("runs on swarm node") && r.status != 0,
        "{}",
        r.stderr
    );
}
