//! The remote direct path (issue 16, `DOCKERBOX_REMOTE_DIRECT=1`): on an engine across a
//! network, a helper container of dockerbox's (host PID namespace, an image holding only the
//! agent) serves the engine's root containers, and copies between them are made on that
//! machine. Against an extra engine on tcp://127.0.0.1 (tests/engines.rs).

use std::process::Stdio;

use crate::engines::ExtraEngine;
use crate::util::{wait_until, TestShell};

const LABEL: &str = "dockerbox.remote-direct";

fn shell(e: &ExtraEngine, direct: bool) -> TestShell {
    let mut sh = TestShell::new().opts(&["-v"]);
    for (k, v) in e.env() {
        sh = sh.env(&k, &v);
    }
    if direct {
        sh = sh
            .env("DOCKERBOX_REMOTE_DIRECT", "1")
            .opts(&["--agent", "always"]);
    }
    sh
}

/// The helper containers on `e` (running or not).
fn helpers(e: &ExtraEngine) -> Vec<String> {
    e.docker(&[
        "ps",
        "-aq",
        "--no-trunc",
        "--filter",
        &format!("label={LABEL}"),
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

/// Files, modes, owners, sizes, times, links and contents of a tree, as `stat` and `md5sum`
/// in the container say.
fn listing(e: &ExtraEngine, c: &str, top: &str) -> String {
    e.docker(&[
        "exec",
        c,
        "sh",
        "-c",
        &format!(
            "cd {top} && find . | sort | while read -r p; do \
             stat -c '%n %a %u %g %s %Y %h %F' \"$p\"; \
             if [ -L \"$p\" ]; then readlink \"$p\"; elif [ -f \"$p\" ]; then md5sum < \"$p\"; fi; \
             done"
        ),
    ])
}

#[test]
fn copies_between_containers_of_a_remote_engine_through_the_helper() {
    let Some(e) = ExtraEngine::tcp("rdcopy") else {
        return;
    };
    let (a, b) = (e.run_container("rd-a", &[]), e.run_container("rd-b", &[]));
    e.docker(&[
        "exec",
        &a,
        "sh",
        "-c",
        "head -c 3000000 /dev/urandom > /tmp/big && mkdir -p /tmp/tree/d/sub && cd /tmp/tree && \
         i=0; while [ $i -lt 200 ]; do echo \"line $i\" > d/f$i; i=$((i + 1)); done && \
         head -c 70000 /dev/urandom > d/sub/blob && ln d/sub/blob hard && \
         ln -s d/f1 rel && ln -s /etc/hostname abs && mkfifo fifo && chmod 4751 d/f2 && \
         chmod 700 d/sub && chown -R 1000:50 d/sub && \
         find . -exec touch -h -d '2020-01-02 03:04:05' {} +",
    ]);
    let sh = shell(&e, true);
    let r = sh.c(&format!(
        "cp /containers/{a}/tmp/big /containers/{b}/tmp/big && \
         cp -a /containers/{a}/tmp/tree /containers/{b}/tmp/copy && \
         cat /containers/{a}/etc/hostname && ls /containers/{b}/tmp"
    ));
    let out = r.ok();
    assert!(
        r.stderr.contains("remote direct path"),
        "-v says the helper served: {}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("tree copied on the engine's machine by the remote direct path"),
        "{}",
        r.stderr
    );
    let hostname = e.docker(&["exec", &a, "cat", "/etc/hostname"]);
    assert!(out.starts_with(&hostname), "{out}");
    assert!(out.contains("big\ncopy\n"), "{out}");
    let sum = |c: &str| e.docker(&["exec", c, "md5sum", "/tmp/big"]);
    assert_eq!(sum(&a), sum(&b));
    assert_eq!(listing(&e, &a, "/tmp/tree"), listing(&e, &b, "/tmp/copy"));
    // Nothing of ours stays: no temporary in the destination, no helper on the engine.
    let left = e.docker(&["exec", &b, "sh", "-c", "ls -a /tmp"]);
    assert!(!left.contains(".dbx-"), "{left}");
    assert_eq!(helpers(&e), Vec::<String>::new());
    // And no agent was uploaded into the containers (nothing in their /tmp but ours).
    let in_a = e.docker(&["exec", &a, "ls", "-a", "/tmp"]);
    assert!(!in_a.contains("dbx-agent"), "{in_a}");
}

#[test]
fn the_remote_direct_path_is_off_by_default() {
    let Some(e) = ExtraEngine::tcp("rdoff") else {
        return;
    };
    let (a, b) = (e.run_container("rdo-a", &[]), e.run_container("rdo-b", &[]));
    e.docker(&["exec", &a, "sh", "-c", "echo hello > /tmp/f"]);
    let r = shell(&e, false).c(&format!(
        "cp /containers/{a}/tmp/f /containers/{b}/tmp/f && ls /containers/{b}/tmp"
    ));
    r.ok();
    assert!(!r.stderr.contains("remote direct"), "{}", r.stderr);
    assert_eq!(e.docker(&["exec", &b, "cat", "/tmp/f"]), "hello");
    assert_eq!(
        e.docker(&[
            "images",
            "-q",
            "--filter",
            "label=dockerbox.remote-direct-image"
        ]),
        ""
    );
    assert_eq!(helpers(&e), Vec::<String>::new());
}

#[test]
fn a_killed_session_s_helper_is_swept_by_the_next() {
    let Some(e) = ExtraEngine::tcp("rdsweep") else {
        return;
    };
    let a = e.run_container("rds-a", &[]);
    let sh = shell(&e, true);
    let mut child = sh
        .command()
        .args(["-c", &format!("ls /containers/{a}/etc; sleep 600")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dockerbox");
    wait_until("the helper container runs", || helpers(&e).len() == 1);
    let old = helpers(&e);
    // SAFETY: kill on the PID of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    assert_eq!(helpers(&e), old, "a killed session leaves its helper");
    let r = sh.c(&format!("ls /containers/{a}/etc"));
    r.ok();
    assert!(r.stderr.contains("remote direct path"), "{}", r.stderr);
    assert_eq!(
        helpers(&e),
        Vec::<String>::new(),
        "swept, and our own removed"
    );
}

/// An authorization plugin (the Docker plugin API over a unix socket) that refuses creating a
/// container with the host's PID namespace, as a policy on a real engine might.
const REFUSING_AUTHZ: &str = r#"
import base64, json, socketserver, sys
from http.server import BaseHTTPRequestHandler
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n) or b"{}")
        if self.path == "/Plugin.Activate":
            out = {"Implements": ["authz"]}
        elif self.path == "/AuthZPlugin.AuthZReq":
            req = base64.b64decode(body.get("RequestBody") or "")
            deny = "/containers/create" in body.get("RequestUri", "") and b'"PidMode":"host"' in req
            out = {"Allow": not deny, "Msg": "the host PID namespace is refused here" if deny else ""}
        else:
            out = {"Allow": True}
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
S(sys.argv[1], H).serve_forever()
"#;

/// Kills the plugin's server when the test ends (after the engine, declared later, is gone).
struct Plugin(Option<std::process::Child>);

impl Drop for Plugin {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn an_engine_that_refuses_the_helper_is_said_and_the_copy_made() {
    if std::process::Command::new("python3")
        .arg("-c")
        .arg("1")
        .status()
        .map_or(true, |s| !s.success())
    {
        eprintln!(
            "skipping an_engine_that_refuses_the_helper_is_said_and_the_copy_made: no python3"
        );
        return;
    }
    let mut plugin = Plugin(None);
    let Some(e) = ExtraEngine::tcp_with_authz("rdrefuse", "dbxauthz", |dir| {
        let sock = dir.join("dbxauthz.sock");
        plugin.0 = Some(
            std::process::Command::new("python3")
                .arg("-c")
                .arg(REFUSING_AUTHZ)
                .arg(&sock)
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn the plugin"),
        );
        wait_until("the plugin listens", || sock.exists());
    }) else {
        return;
    };
    let (a, b) = (e.run_container("rdr-a", &[]), e.run_container("rdr-b", &[]));
    e.docker(&["exec", &a, "sh", "-c", "echo hello > /tmp/f"]);
    // The copy is still made (by the archive API, as where no agent can run), and -v gives
    // the engine's own words for why the helper is not there.
    let r = shell(&e, true).c(&format!("cp /containers/{a}/tmp/f /containers/{b}/tmp/f"));
    r.ok();
    assert!(
        r.stderr.contains(
            "the remote direct path's helper container could not start on tcp://127.0.0.1:"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(
            "authorization denied by plugin dbxauthz: the host PID namespace is refused here"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(helpers(&e), Vec::<String>::new());
    assert_eq!(e.docker(&["exec", &b, "cat", "/tmp/f"]), "hello");
}
