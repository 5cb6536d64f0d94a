//! Extra Docker engines for the multi-engine tests (issue 6), started and torn down by the tests
//! themselves: a second dockerd on a unix socket, one on tcp+TLS on 127.0.0.1 with certificates
//! made here by openssl, a private `DOCKER_CONFIG` with contexts made by the real
//! `docker context create`, and an sshd on 127.0.0.1 that forwards `docker system dial-stdio`.
//!
//! How an extra engine is kept from disturbing the machine's own:
//! - everything lives under a fresh `/tmp/dbx-e-XXXXXX` (short: unix socket paths have a 108-byte
//!   limit), its own `--config-file` (so `/etc/docker/daemon.json` does not apply), data root,
//!   exec root (its own containerd and containerd sockets) and pidfile;
//! - dockerd runs in a network namespace of its own (`unshare --net`). With `--bridge none`
//!   dockerd deletes the interface `docker0` at start-up, which in the machine's namespace is
//!   the main engine's bridge: every later `docker run` there without `--network none` would
//!   fail. In its own namespace it deletes nothing that matters. Containers use `--network none`.
//! - the TLS engine cannot bind 127.0.0.1 of the machine from inside that namespace, so the
//!   test binds the port (port 0: no race between parallel tests) and hands the socket to
//!   dockerd as fd 3 by systemd socket activation (`-H fd://`, `LISTEN_FDS=1`), which dockerd
//!   wraps in TLS.
//!
//! Drop removes the containers, stops dockerd (SIGTERM, then SIGKILL) and then sweeps: it kills
//! whatever still runs for this engine (containerd, shims, container processes, found by command
//! line and cgroup), unmounts whatever is mounted under its dir, removes the shims' sockets and
//! the containers' cgroups, and removes the dir. A test process that dies without dropping
//! leaves its engines behind; the next test process that starts an engine sweeps them.

#![allow(dead_code)]

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use crate::util::{docker_ready, sha256, Sandbox, BUSYBOX, LABEL};

/// Environment variables that choose an engine for the docker CLI (and for dockerbox).
const ENGINE_VARS: [&str; 5] = [
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS",
];

/// Whether this machine can start extra engines: root, dockerd, unshare, openssl and a main
/// engine (which has the test images). Otherwise skip, or panic under DOCKERBOX_REQUIRE_DOCKER=1.
pub fn engines_available(test: &str) -> bool {
    static WHY_NOT: OnceLock<Option<String>> = OnceLock::new();
    if !docker_ready() {
        eprintln!("skipping {test}: no Docker engine");
        return false;
    }
    let why_not = WHY_NOT.get_or_init(|| {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Some("not root".to_string());
        }
        for tool in ["dockerd", "containerd", "unshare", "openssl"] {
            if which(tool).is_none() {
                return Some(format!("no {tool} in PATH"));
            }
        }
        sweep_stale();
        None
    });
    match why_not {
        None => true,
        Some(why) => skip_or_panic(test, why),
    }
}

fn skip_or_panic(test: &str, why: &str) -> bool {
    if std::env::var_os("DOCKERBOX_REQUIRE_DOCKER").is_some_and(|v| v == "1") {
        panic!("{test}: cannot start extra engines ({why}) and DOCKERBOX_REQUIRE_DOCKER=1");
    }
    eprintln!("skipping {test}: cannot start extra engines: {why}");
    false
}

/// The first `name` in PATH, then in /usr/sbin and /sbin (not in every user's PATH).
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The docker CLI with no engine chosen by the environment of the test process.
fn bare_docker() -> Command {
    let mut c = Command::new("docker");
    for v in ENGINE_VARS {
        c.env_remove(v);
    }
    c
}

/// Runs a prepared docker command; stdout on success, a panic with stderr otherwise.
fn run_ok(mut c: Command, what: &str) -> String {
    let out = c.output().expect("run docker");
    assert!(
        out.status.success(),
        "{what}: docker {:?} failed: {}",
        c.get_args().collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// A fresh directory `/tmp/PREFIXXXXXXX`, kept (the caller removes it).
fn short_temp_dir(prefix: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("temp dir in /tmp")
        .keep()
}

/// A directory laid out as `DOCKER_CERT_PATH` expects: `ca.pem`, `cert.pem`, `key.pem`.
#[derive(Debug, Clone)]
pub struct CertDir {
    pub dir: PathBuf,
}

impl CertDir {
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    pub fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }
    pub fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }
}

/// The certificates of a TLS engine, made by openssl (EC P-256, valid two days).
#[derive(Debug, Clone)]
pub struct TlsCerts {
    /// The engine's CA and a client certificate it signed (extendedKeyUsage clientAuth): works.
    pub client: CertDir,
    /// An unrelated CA and a client certificate it signed: the client does not trust the
    /// server ("x509: certificate signed by unknown authority").
    pub foreign: CertDir,
    /// The engine's CA but the unrelated CA's client certificate: the server refuses the client
    /// ("remote error: tls: bad certificate").
    pub impostor: CertDir,
    /// The server's side: `ca.pem`, `server-cert.pem` (subjectAltName IP:127.0.0.1,
    /// DNS:localhost), `server-key.pem`.
    pub server: PathBuf,
}

impl TlsCerts {
    /// Makes the certificates under `dir` (which must exist).
    pub fn generate(dir: &Path) -> TlsCerts {
        let script = r#"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() { key "$1-key.pem" && openssl req -x509 -new -key "$1-key.pem" -days 2 -subj "/CN=$2" -out "$1.pem"; }
sign() { # NAME CA CN EXTENSIONS
    key "$1-key.pem"
    openssl req -new -key "$1-key.pem" -subj "/CN=$3" -out "$1.csr"
    printf '%b' "$4" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2-key.pem" -CAcreateserial -days 2 \
        -extfile "$1.ext" -out "$1-cert.pem" 2>/dev/null
}
ca ca dockerbox-test-ca
sign server ca 127.0.0.1 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
sign client ca dockerbox-test-client 'extendedKeyUsage=clientAuth\n'
ca other-ca dockerbox-other-ca
sign other-client other-ca dockerbox-test-client 'extendedKeyUsage=clientAuth\n'
mkdir -p client foreign impostor
cp ca.pem client/ca.pem; cp client-cert.pem client/cert.pem; cp client-key.pem client/key.pem
cp other-ca.pem foreign/ca.pem; cp other-client-cert.pem foreign/cert.pem; cp other-client-key.pem foreign/key.pem
cp ca.pem impostor/ca.pem; cp other-client-cert.pem impostor/cert.pem; cp other-client-key.pem impostor/key.pem
chmod 600 *-key.pem */key.pem
rm -f *.csr *.ext *.srl
"#;
        let out = Command::new("sh")
            .args(["-ec", script])
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "making certificates failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sub = |d: &str| CertDir { dir: dir.join(d) };
        TlsCerts {
            client: sub("client"),
            foreign: sub("foreign"),
            impostor: sub("impostor"),
            server: dir.to_path_buf(),
        }
    }
}

enum Listen {
    Unix(PathBuf),
    /// Plain TCP on 127.0.0.1 (no TLS).
    Tcp(u16),
    Tls {
        port: u16,
        certs: TlsCerts,
    },
}

/// A dockerd of the test's own, with `dockerbox-test/busybox:1` loaded.
pub struct ExtraEngine {
    pub tag: String,
    dir: PathBuf,
    listen: Listen,
    /// dockerd (our child: `sh` execs `unshare`, which execs dockerd, all in one process).
    dockerd: Option<Child>,
    /// From spawning dockerd to `docker info` answering.
    pub start_time: Duration,
    /// `docker save | docker load` of busybox from the main engine.
    pub load_time: Duration,
}

impl ExtraEngine {
    /// An engine on `unix://DIR/docker.sock`. `None` (skip) where extra engines cannot run.
    pub fn unix(tag: &str) -> Option<ExtraEngine> {
        if !engines_available(tag) {
            return None;
        }
        let dir = engine_dir(tag);
        let sock = dir.join("docker.sock");
        let host = format!("unix://{}", sock.display());
        let mut cmd = dockerd_command(&dir, &["--host", &host]);
        let child = cmd.spawn().expect("spawn dockerd");
        Some(ExtraEngine::started(tag, dir, Listen::Unix(sock), child))
    }

    /// [`ExtraEngine::unix`] in a mount namespace of its own too, where `/run/docker/plugins`
    /// is `DIR/plugins`: a volume plugin the tests serve there (their processes entering that
    /// namespace with `nsenter --mount`) is seen by this engine alone, so the machine's engine
    /// never activates it and never waits on it once it is gone.
    pub fn unix_private_plugins(tag: &str) -> Option<ExtraEngine> {
        if !engines_available(tag) {
            return None;
        }
        let dir = engine_dir(tag);
        let plugins = dir.join("plugins");
        std::fs::create_dir(&plugins).expect("mkdir plugins");
        let sock = dir.join("docker.sock");
        let host = format!("unix://{}", sock.display());
        let mut cmd = dockerd_command_in(&dir, &["--host", &host], Some(&plugins));
        let child = cmd.spawn().expect("spawn dockerd");
        Some(ExtraEngine::started(tag, dir, Listen::Unix(sock), child))
    }

    /// An engine on `tcp://127.0.0.1:PORT` with `--tlsverify`; see [`TlsCerts`].
    pub fn tls(tag: &str) -> Option<ExtraEngine> {
        if !engines_available(tag) {
            return None;
        }
        let dir = engine_dir(tag);
        let certs_dir = dir.join("tls");
        std::fs::create_dir(&certs_dir).expect("mkdir tls");
        let certs = TlsCerts::generate(&certs_dir);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let s = certs.server.clone();
        let tls_args = [
            "--host".to_string(),
            "fd://".to_string(),
            "--tlsverify".to_string(),
            format!("--tlscacert={}", s.join("ca.pem").display()),
            format!("--tlscert={}", s.join("server-cert.pem").display()),
            format!("--tlskey={}", s.join("server-key.pem").display()),
        ];
        let tls_args: Vec<&str> = tls_args.iter().map(String::as_str).collect();
        let mut cmd = dockerd_command(&dir, &tls_args);
        hand_over(&mut cmd, &listener);
        let child = cmd.spawn().expect("spawn dockerd");
        // Only dockerd holds the socket now: when it dies, connections are refused.
        drop(listener);
        Some(ExtraEngine::started(
            tag,
            dir,
            Listen::Tls { port, certs },
            child,
        ))
    }

    /// An engine on plain `tcp://127.0.0.1:PORT` (no TLS), handed its socket as the TLS one is.
    pub fn tcp(tag: &str) -> Option<ExtraEngine> {
        if !engines_available(tag) {
            return None;
        }
        let dir = engine_dir(tag);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let mut cmd = dockerd_command(&dir, &["--host", "fd://"]);
        hand_over(&mut cmd, &listener);
        let child = cmd.spawn().expect("spawn dockerd");
        drop(listener);
        Some(ExtraEngine::started(tag, dir, Listen::Tcp(port), child))
    }

    /// [`ExtraEngine::tcp`] that asks an authorization plugin about every request:
    /// `plugin(DIR)` starts the plugin's server in DIR, which is this engine's own
    /// `/run/docker/plugins` (a mount namespace of its own, as
    /// [`ExtraEngine::unix_private_plugins`]), before dockerd starts with
    /// `--authorization-plugin=NAME`.
    pub fn tcp_with_authz(
        tag: &str,
        name: &str,
        plugin: impl FnOnce(&Path),
    ) -> Option<ExtraEngine> {
        if !engines_available(tag) {
            return None;
        }
        let dir = engine_dir(tag);
        let plugins = dir.join("plugins");
        std::fs::create_dir(&plugins).expect("mkdir plugins");
        plugin(&plugins);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let authz = format!("--authorization-plugin={name}");
        let mut cmd = dockerd_command_in(&dir, &["--host", "fd://", &authz], Some(&plugins));
        // Socket activation, as for `tcp` (the script exports LISTEN_PID when this is set).
        cmd.env("LISTEN_FDS", "1");
        hand_over(&mut cmd, &listener);
        let child = cmd.spawn().expect("spawn dockerd");
        drop(listener);
        Some(ExtraEngine::started(tag, dir, Listen::Tcp(port), child))
    }

    /// Waits for the engine to answer and loads busybox into it.
    fn started(tag: &str, dir: PathBuf, listen: Listen, child: Child) -> ExtraEngine {
        let t0 = Instant::now();
        let mut e = ExtraEngine {
            tag: tag.to_string(),
            dir,
            listen,
            dockerd: Some(child),
            start_time: Duration::ZERO,
            load_time: Duration::ZERO,
        };
        loop {
            let ok = e
                .command()
                .args(["info", "--format", "{{.ServerVersion}}"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                break;
            }
            let exited = e.dockerd.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if let Some(st) = exited {
                panic!(
                    "extra engine {tag}: dockerd exited ({st}) before answering:\n{}",
                    e.log_tail()
                );
            }
            if t0.elapsed() > Duration::from_secs(60) {
                panic!(
                    "extra engine {tag}: no answer after 60 s:\n{}",
                    e.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        e.start_time = t0.elapsed();
        let t1 = Instant::now();
        e.load_image(BUSYBOX);
        e.load_time = t1.elapsed();
        eprintln!(
            "extra engine {tag} at {}: started in {} ms, {BUSYBOX} loaded in {} ms",
            e.addr(),
            e.start_time.as_millis(),
            e.load_time.as_millis()
        );
        e
    }

    /// Copies an image from the main engine: `docker save IMAGE | docker load`.
    pub fn load_image(&self, image: &str) {
        let mut save = Command::new("docker")
            .args(["save", image])
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker save");
        let stdout = save.stdout.take().expect("save stdout");
        let load = self
            .command()
            .args(["load", "-q"])
            .stdin(Stdio::from(stdout))
            .output()
            .expect("docker load");
        let saved = save.wait().expect("docker save");
        assert!(
            saved.success() && load.status.success(),
            "extra engine {}: docker save {image} | docker load failed: {}",
            self.tag,
            String::from_utf8_lossy(&load.stderr)
        );
    }

    /// `unix:///tmp/dbx-e-XXXXXX/docker.sock` or `tcp://127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        match &self.listen {
            Listen::Unix(sock) => format!("unix://{}", sock.display()),
            Listen::Tls { port, .. } | Listen::Tcp(port) => format!("tcp://127.0.0.1:{port}"),
        }
    }

    /// The TLS engine's certificates.
    pub fn certs(&self) -> Option<&TlsCerts> {
        match &self.listen {
            Listen::Unix(_) | Listen::Tcp(_) => None,
            Listen::Tls { certs, .. } => Some(certs),
        }
    }

    /// The engine's directory (its data root, exec root, sockets and log are under it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The environment that points the docker CLI at this engine: `DOCKER_HOST`, and for TLS
    /// `DOCKER_TLS_VERIFY=1` and `DOCKER_CERT_PATH` (the client certificates).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![("DOCKER_HOST".to_string(), self.addr())];
        if let Some(c) = self.certs() {
            env.push(("DOCKER_TLS_VERIFY".to_string(), "1".to_string()));
            env.push((
                "DOCKER_CERT_PATH".to_string(),
                c.client.dir.display().to_string(),
            ));
        }
        env
    }

    /// The docker CLI pointed at this engine (by [`ExtraEngine::env`]).
    pub fn command(&self) -> Command {
        let mut c = bare_docker();
        c.envs(self.env());
        c
    }

    /// `docker ARGS` against this engine; stdout, or a panic with stderr.
    pub fn docker(&self, args: &[&str]) -> String {
        let mut c = self.command();
        c.args(args);
        run_ok(c, &self.tag)
    }

    /// `docker ARGS` against this engine, whatever the outcome.
    pub fn docker_output(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run docker")
    }

    /// Starts busybox `sleep 1000000` named `name`, with `--network none --label
    /// dockerbox.test=1` and `extra` options (`docker run` options, before the image).
    pub fn run_container(&self, name: &str, extra: &[&str]) -> String {
        let mut args = vec![
            "run",
            "-d",
            "--network",
            "none",
            "--label",
            LABEL,
            "--name",
            name,
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[BUSYBOX, "sleep", "1000000"]);
        self.docker(&args);
        name.to_string()
    }

    /// Creates a busybox container that never starts.
    pub fn create_container(&self, name: &str) -> String {
        self.docker(&[
            "create",
            "--network",
            "none",
            "--label",
            LABEL,
            "--name",
            name,
            BUSYBOX,
            "true",
        ]);
        name.to_string()
    }

    /// Full ids of every container the engine has (also when it is dead: read from its data
    /// root).
    pub fn container_ids(&self) -> Vec<String> {
        container_ids(&self.dir)
    }

    /// dockerd's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.dockerd.as_ref().map(Child::id)
    }

    /// The engine dies: SIGKILL to dockerd (its containerd follows; shims and containers keep
    /// running, as after a real crash). The socket stops answering at once: unix connections
    /// are refused (the socket file stays), tcp connections are refused. Drop still cleans up.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.dockerd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A sshd on 127.0.0.1 whose sessions reach this engine (`ssh://root@127.0.0.1:PORT`).
    pub fn ssh_endpoint(&self) -> Option<SshEndpoint> {
        SshEndpoint::start(&self.tag, &self.env())
    }

    /// The last lines of dockerd's log.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// Swarm (issue 14): engines joined across their network namespaces.
impl ExtraEngine {
    /// `ip ARGS` inside this engine's network namespace.
    pub fn ip(&self, args: &[&str]) {
        let pid = self.pid().expect("dockerd runs");
        let mut c = Command::new(which("nsenter").expect("nsenter"));
        c.arg(format!("--net=/proc/{pid}/ns/net"))
            .arg(which("ip").expect("ip"))
            .args(args);
        run_ok(c, &self.tag);
    }

    /// A veth pair from this engine's namespace, with address `here` (CIDR) on this end and
    /// `there` on the other, which goes into `other`'s namespace (or, without `other`, stays
    /// here: an address of this namespace's own, as `swarm init --advertise-addr` wants).
    pub fn veth(&self, other: Option<&ExtraEngine>, here: &str, there: &str) {
        self.ip(&["link", "set", "lo", "up"]);
        self.ip(&[
            "link", "add", "dbxsw0", "type", "veth", "peer", "name", "dbxsw1",
        ]);
        self.ip(&["addr", "add", here, "dev", "dbxsw0"]);
        self.ip(&["link", "set", "dbxsw0", "up"]);
        let far = match other {
            Some(o) => {
                let pid = o.pid().expect("dockerd runs").to_string();
                self.ip(&["link", "set", "dbxsw1", "netns", &pid]);
                o.ip(&["link", "set", "lo", "up"]);
                o
            }
            None => self,
        };
        far.ip(&["addr", "add", there, "dev", "dbxsw1"]);
        far.ip(&["link", "set", "dbxsw1", "up"]);
    }

    /// Leaves the swarm, its services removed first, so that Drop's removal of the containers
    /// is not undone by the swarm starting new tasks.
    pub fn leave_swarm(&self) {
        let services = self.docker_output(&["service", "ls", "-q"]).stdout;
        let services = String::from_utf8_lossy(&services).into_owned();
        for s in services.split_whitespace() {
            let _ = self.docker_output(&["service", "rm", s]);
        }
        let _ = self.docker_output(&["swarm", "leave", "--force"]);
    }
}

impl Drop for ExtraEngine {
    fn drop(&mut self) {
        if let Some(mut child) = self.dockerd.take() {
            // Containers first: stopping dockerd with containers running would wait for each
            // one's stop timeout (10 s for `sleep`, which ignores SIGTERM as pid 1).
            let ids = self
                .command()
                .args(["ps", "-aq"])
                .stderr(Stdio::null())
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let _ = self
                    .command()
                    .args(["rm", "-f", "-v"])
                    .args(&ids)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
            // dockerd says "Daemon shutdown complete" at once but then lingers 1-2 s over its
            // containerd; past that line there is nothing left to save.
            let log = self.dir.join("dockerd.log");
            stop(&mut child, Duration::from_secs(20), || {
                std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Daemon shutdown complete"))
            });
        }
        sweep(&self.dir);
    }
}

/// SIGTERM, wait up to `grace` or until `done` says so, then SIGKILL; reaps the child.
fn stop(child: &mut Child, grace: Duration, done: impl Fn() -> bool) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let t0 = Instant::now();
    while t0.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        if done() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Hands `listener` to the command as fd 3, for dockerd's `-H fd://` (socket activation).
fn hand_over(cmd: &mut Command, listener: &TcpListener) {
    let fd = listener.as_raw_fd();
    // SAFETY: the closure runs between fork and exec and only calls dup2/fcntl, which are
    // async-signal-safe. dup2 gives fd 3 without FD_CLOEXEC; if the socket is fd 3 already,
    // clear the flag by hand.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                let flags = libc::fcntl(3, libc::F_GETFD);
                if flags < 0 || libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A new engine dir with an `owner` file (this process, for [`sweep_stale`]).
fn engine_dir(tag: &str) -> PathBuf {
    let dir = short_temp_dir("dbx-e-");
    let me = std::process::id();
    let owner = format!("{me} {}\n{tag}\n", start_time(me).unwrap_or_default());
    std::fs::write(dir.join("owner"), owner).expect("write owner");
    std::fs::write(dir.join("daemon.json"), "{}\n").expect("write daemon.json");
    dir
}

/// dockerd with the engine's own everything under `dir`, in a network namespace of its own,
/// its output in `dir/dockerd.log`. `LISTEN_PID` (for `-H fd://`) is the shell's pid, which
/// `exec` hands to unshare and unshare to dockerd.
fn dockerd_command(dir: &Path, listen: &[&str]) -> Command {
    dockerd_command_in(dir, listen, None)
}

/// [`dockerd_command`], with `plugins` (when given) bind-mounted on `/run/docker/plugins` in
/// a mount namespace of dockerd's own.
fn dockerd_command_in(dir: &Path, listen: &[&str], plugins: Option<&Path>) -> Command {
    let d = dir.display();
    let log = std::fs::File::create(dir.join("dockerd.log")).expect("create dockerd.log");
    let mut c = Command::new("sh");
    let c2 = match plugins {
        None => c.args([
            "-c",
            r#"export LISTEN_PID=$$ LISTEN_FDS=1; exec unshare --net "$@""#,
            "sh",
        ]),
        Some(p) => c
            .args([
                "-c",
                r#"[ "$LISTEN_FDS" = 1 ] && export LISTEN_PID=$$; exec unshare --net --mount --propagation private sh -c 'mount --bind "$0" /run/docker/plugins && exec "$@"' "$@""#,
                "sh",
            ])
            .arg(p),
    };
    c2.arg(which("dockerd").expect("dockerd"))
        .arg(format!("--config-file={d}/daemon.json"))
        .arg(format!("--data-root={d}/data"))
        .arg(format!("--exec-root={d}/exec"))
        .arg(format!("--pidfile={d}/dockerd.pid"))
        .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
        .args(listen)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup log"))
        .stderr(log);
    for v in ENGINE_VARS {
        c.env_remove(v);
    }
    // dockerd finds containerd, runc and the shims in PATH, some of them in sbin.
    let path = std::env::var("PATH").unwrap_or_default();
    c.env("PATH", format!("{path}:/usr/local/sbin:/usr/sbin:/sbin"));
    c
}

/// Field 22 of /proc/PID/stat: when the process started (to tell a reused pid apart).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

fn container_ids(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("data/containers"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    ids.sort();
    ids
}

/// Live processes that belong to the engine in `dir`: its dockerd, containerd, shims and
/// runc/fuse-overlayfs by command line, and anything in one of its containers' cgroups.
fn engine_processes(dir: &Path, ids: &[String]) -> Vec<(i32, String)> {
    let needle = format!("{}/", dir.display());
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let comm = stat
            .find('(')
            .zip(stat.rfind(')'))
            .map(|(a, b)| stat[a + 1..b].to_string())
            .unwrap_or_default();
        let state = stat[stat.rfind(')').unwrap_or(0) + 1..].trim_start();
        if state.starts_with('Z') || state.starts_with('X') {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let daemon = ["dockerd", "containerd", "runc", "fuse-overlayfs", "docker-"]
            .iter()
            .any(|d| comm.starts_with(d));
        let ours = daemon && cmdline.contains(&needle)
            || !ids.is_empty()
                && std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                    .is_ok_and(|cg| ids.iter().any(|id| cg.contains(id.as_str())));
        if ours {
            if let Ok(p) = i32::try_from(pid) {
                found.push((p, format!("{pid} {comm}: {}", cmdline.trim_end())));
            }
        }
    }
    found
}

/// Mount points at or under `dir`, deepest first.
fn mounts_under(dir: &Path) -> Vec<String> {
    let root = dir.display().to_string();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mount)
        .filter(|m| *m == root || m.starts_with(&format!("{root}/")))
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.len()));
    found
}

/// mountinfo writes space, tab, newline and backslash as \ooo.
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// containerd 1.6 puts a shim's socket at /run/containerd/s/sha256(ADDRESS/NAMESPACE/ID);
/// a killed shim leaves it.
fn shim_sockets(dir: &Path, ids: &[String]) -> Vec<PathBuf> {
    let address = dir.join("exec/containerd/containerd.sock");
    ids.iter()
        .map(|id| {
            let key = format!("{}/moby/{id}", address.display());
            Path::new("/run/containerd/s").join(sha256(key.as_bytes()))
        })
        .filter(|p| p.exists())
        .collect()
}

/// The containers' cgroup dirs (v1: one per controller; v2: one), with the default
/// cgroup parent `docker`. runc removes them when a container is removed; a killed engine
/// leaves them.
fn cgroup_dirs(ids: &[String]) -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let mut parents: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("docker"))
        .collect();
    parents.push(root.join("docker"));
    parents
        .iter()
        .flat_map(|p| ids.iter().map(move |id| p.join(id)))
        .filter(|p| p.is_dir())
        .collect()
}

/// What an engine in `dir` with containers `ids` left behind: processes, mounts, shim sockets,
/// cgroups, the dir itself. Empty after a clean teardown.
pub fn leftovers(dir: &Path, ids: &[String]) -> Vec<String> {
    let mut left: Vec<String> = engine_processes(dir, ids)
        .into_iter()
        .map(|(_, what)| format!("process {what}"))
        .collect();
    left.extend(mounts_under(dir).into_iter().map(|m| format!("mount {m}")));
    left.extend(
        shim_sockets(dir, ids)
            .into_iter()
            .map(|p| format!("shim socket {}", p.display())),
    );
    left.extend(
        cgroup_dirs(ids)
            .into_iter()
            .map(|p| format!("cgroup {}", p.display())),
    );
    if dir.exists() {
        left.push(format!("dir {}", dir.display()));
    }
    left
}

/// Removes everything an engine in `dir` left: kills its processes, unmounts, removes shim
/// sockets, cgroups and the dir. Reports what it could not remove.
fn sweep(dir: &Path) {
    let ids = container_ids(dir);
    for _ in 0..100 {
        let procs = engine_processes(dir, &ids);
        if procs.is_empty() {
            break;
        }
        for (pid, _) in procs {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for _ in 0..5 {
        let mounts = mounts_under(dir);
        if mounts.is_empty() {
            break;
        }
        for m in mounts {
            if let Ok(c) = std::ffi::CString::new(m) {
                // SAFETY: c is a valid NUL-terminated path.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
    }
    for p in shim_sockets(dir, &ids) {
        let _ = std::fs::remove_file(p);
    }
    for p in cgroup_dirs(&ids) {
        let _ = std::fs::remove_dir(p);
    }
    let _ = std::fs::remove_dir_all(dir);
    let left = leftovers(dir, &ids);
    if !left.is_empty() {
        eprintln!(
            "extra engine in {}: left behind:\n{}",
            dir.display(),
            left.join("\n")
        );
    }
}

/// Sweeps the engine dirs of test processes that died without dropping their engines.
fn sweep_stale() {
    for entry in std::fs::read_dir("/tmp").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("dbx-e-") || name.starts_with("dbx-s-")) {
            continue;
        }
        let dir = entry.path();
        let owner = std::fs::read_to_string(dir.join("owner")).unwrap_or_default();
        let mut f = owner.split_whitespace();
        let pid = f.next().and_then(|p| p.parse::<u32>().ok());
        let started = f.next().and_then(|s| s.parse::<u64>().ok());
        let alive = match pid {
            Some(pid) => start_time(pid).is_some() && start_time(pid) == started,
            // Being made right now by another process, or not ours: leave young dirs alone.
            None => entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| {
                SystemTime::now()
                    .duration_since(t)
                    .is_ok_and(|age| age < Duration::from_secs(600))
            }),
        };
        if !alive {
            eprintln!("sweeping stale extra engine {}", dir.display());
            if let Ok(pid) = std::fs::read_to_string(dir.join("sshd.pid")) {
                if let Ok(pid) = pid.trim().parse::<i32>() {
                    // SAFETY: kill has no memory-safety preconditions.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            sweep(&dir);
        }
    }
}

/// A temporary `DOCKER_CONFIG`: contexts made with the real `docker context create`.
pub struct DockerConfig {
    dir: tempfile::TempDir,
}

impl DockerConfig {
    pub fn new() -> DockerConfig {
        DockerConfig {
            dir: tempfile::Builder::new()
                .prefix("dbx-config-")
                .tempdir()
                .expect("temp DOCKER_CONFIG"),
        }
    }

    /// The value for `DOCKER_CONFIG`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The docker CLI with `DOCKER_CONFIG` set and no engine chosen by the environment.
    pub fn command(&self) -> Command {
        let mut c = bare_docker();
        c.env("DOCKER_CONFIG", self.path());
        c
    }

    /// `docker ARGS` with this config; stdout, or a panic with stderr.
    pub fn docker(&self, args: &[&str]) -> String {
        let mut c = self.command();
        c.args(args);
        run_ok(c, "DockerConfig")
    }

    /// `docker context create NAME --docker host=HOST[,ca=,cert=,key=]`. The CLI copies the
    /// certificates into the config's context store (`contexts/tls/...`).
    pub fn create_context(&self, name: &str, host: &str, tls: Option<&CertDir>) {
        let mut spec = format!("host={host}");
        if let Some(c) = tls {
            spec.push_str(&format!(
                ",ca={},cert={},key={}",
                c.ca().display(),
                c.cert().display(),
                c.key().display()
            ));
        }
        self.docker(&["context", "create", name, "--docker", &spec]);
    }

    /// `docker context use NAME`: sets `currentContext` in `config.json`.
    pub fn use_context(&self, name: &str) {
        self.docker(&["context", "use", name]);
    }
}

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig::new()
    }
}

/// An sshd on 127.0.0.1 (a key pair made here, root login by that key only) whose sessions
/// get an engine's environment (`SetEnv`), so that `DOCKER_HOST=ssh://root@127.0.0.1:PORT`
/// reaches that engine through `ssh ... docker system dial-stdio`.
///
/// ssh reads `~/.ssh/config` from the passwd entry, not `$HOME`, so the client side is a
/// wrapper `ssh` (`ssh -F DIR/ssh_config "$@"`: the key, a known_hosts with the host key,
/// BatchMode) in [`SshEndpoint::bin_dir`]: put it first in the `PATH` of the docker CLI or
/// dockerbox ([`SshEndpoint::path_env`]).
pub struct SshEndpoint {
    dir: PathBuf,
    port: u16,
    sshd: Option<Child>,
}

impl SshEndpoint {
    /// Starts sshd; its sessions get `env` (e.g. [`ExtraEngine::env`]; empty: the main
    /// engine). `None` (skip) without sshd, unless DOCKERBOX_REQUIRE_DOCKER=1.
    pub fn start(tag: &str, env: &[(String, String)]) -> Option<SshEndpoint> {
        if !engines_available(tag) {
            return None;
        }
        let (Some(sshd), Some(ssh)) = (which("sshd"), which("ssh")) else {
            skip_or_panic(tag, "no sshd or ssh (apt-get install openssh-server)");
            return None;
        };
        let dir = short_temp_dir("dbx-s-");
        let me = std::process::id();
        std::fs::write(
            dir.join("owner"),
            format!("{me} {}\n{tag}\n", start_time(me).unwrap_or_default()),
        )
        .expect("write owner");
        let d = dir.display();
        let keys = Command::new("sh")
            .args([
                "-ec",
                "ssh-keygen -q -t ed25519 -N '' -C dbx-host -f host_key && \
                 ssh-keygen -q -t ed25519 -N '' -C dbx-client -f id && \
                 cp id.pub authorized_keys",
            ])
            .current_dir(&dir)
            .output()
            .expect("ssh-keygen");
        assert!(
            keys.status.success(),
            "ssh-keygen: {}",
            String::from_utf8_lossy(&keys.stderr)
        );
        // Privilege separation needs it; the Debian service makes it at start.
        let _ = std::fs::create_dir_all("/run/sshd");
        let set_env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let wrapper = format!(
            "#!/bin/sh\nexec {} -F {d}/ssh_config \"$@\"\n",
            ssh.display()
        );
        std::fs::create_dir(dir.join("bin")).expect("mkdir bin");
        std::fs::write(dir.join("bin/ssh"), wrapper).expect("write ssh wrapper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("bin/ssh"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod ssh wrapper");
        let host_key = std::fs::read_to_string(dir.join("host_key.pub")).expect("host key");
        // sshd binds the port itself: pick a free one, and another if someone took it.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let mut config = format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\n"
            );
            if !set_env.is_empty() {
                config.push_str(&format!("SetEnv {}\n", set_env.join(" ")));
            }
            std::fs::write(dir.join("sshd_config"), config).expect("write sshd_config");
            std::fs::write(
                dir.join("ssh_config"),
                format!(
                    "Host 127.0.0.1\n  User root\n  IdentityFile {d}/id\n  IdentitiesOnly yes\n\
                     \x20 UserKnownHostsFile {d}/known_hosts\n  StrictHostKeyChecking yes\n\
                     \x20 BatchMode yes\n"
                ),
            )
            .expect("write ssh_config");
            std::fs::write(
                dir.join("known_hosts"),
                format!("[127.0.0.1]:{port} {host_key}"),
            )
            .expect("write known_hosts");
            let log = std::fs::File::create(dir.join("sshd.log")).expect("sshd.log");
            let mut child = Command::new(&sshd)
                .args(["-D", "-e", "-f"])
                .arg(dir.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("dup log"))
                .stderr(log)
                .spawn()
                .expect("spawn sshd");
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(30) {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(SshEndpoint {
                        dir,
                        port,
                        sshd: Some(child),
                    });
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let mut log = String::new();
        let _ =
            std::fs::File::open(dir.join("sshd.log")).and_then(|mut f| f.read_to_string(&mut log));
        let _ = std::fs::remove_dir_all(&dir);
        panic!("sshd did not start: {log}");
    }

    /// `ssh://root@127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("ssh://root@127.0.0.1:{}", self.port)
    }

    /// The dir with the `ssh` wrapper.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// `PATH` with the wrapper first.
    pub fn path_env(&self) -> String {
        format!(
            "{}:{}",
            self.bin_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// The docker CLI on `DOCKER_HOST=ssh://...` with the wrapper in PATH.
    pub fn command(&self) -> Command {
        let mut c = bare_docker();
        c.env("DOCKER_HOST", self.addr())
            .env("PATH", self.path_env());
        c
    }

    /// `docker ARGS` through ssh; stdout, or a panic with stderr.
    pub fn docker(&self, args: &[&str]) -> String {
        let mut c = self.command();
        c.args(args);
        run_ok(c, "ssh")
    }
}

impl Drop for SshEndpoint {
    fn drop(&mut self) {
        if let Some(mut c) = self.sshd.take() {
            stop(&mut c, Duration::from_secs(5), || false);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// Smoke tests of the harness itself, with the docker CLI only.

/// Starts a unix and a TLS engine at once (as parallel tests do), beside a running container
/// of the main engine.
#[test]
fn extra_engines_start_and_clean_up() {
    let Some(mut sb) = Sandbox::new("engines") else {
        return;
    };
    if !engines_available("extra_engines_start_and_clean_up") {
        return;
    }
    let main_c = sb.run("main", BUSYBOX, &[]);
    let docker0 = Path::new("/sys/class/net/docker0").exists();
    let (u, t) = std::thread::scope(|s| {
        let u = s.spawn(|| ExtraEngine::unix("smoke-unix"));
        let t = s.spawn(|| ExtraEngine::tls("smoke-tls"));
        (u.join().unwrap().unwrap(), t.join().unwrap().unwrap())
    });
    assert!(u.addr().starts_with("unix:///tmp/dbx-e-"), "{}", u.addr());
    assert!(t.addr().starts_with("tcp://127.0.0.1:"), "{}", t.addr());

    u.run_container("in-unix", &[]);
    t.run_container("in-tls", &[]);
    let names = |e: &ExtraEngine| e.docker(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(names(&u), "in-unix running");
    assert_eq!(names(&t), "in-tls running");
    assert_eq!(
        u.docker(&["exec", "in-unix", "cat", "/etc/os-release"])
            .lines()
            .next(),
        Some("NAME=\"BusyBox\"")
    );
    assert_eq!(t.docker(&["exec", "in-tls", "echo", "hi"]), "hi");

    // Wrong certificates fail with a TLS error, not a hang or a generic one.
    let certs = t.certs().unwrap();
    let with_certs = |c: &CertDir| {
        let out = t
            .command()
            .env("DOCKER_CERT_PATH", &c.dir)
            .args(["ps"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{:?} was accepted", c.dir);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = with_certs(&certs.foreign);
    assert!(
        err.contains("certificate signed by unknown authority"),
        "{err}"
    );
    let err = with_certs(&certs.impostor);
    assert!(err.contains("tls: bad certificate"), "{err}");
    let plain = t
        .command()
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .args(["ps"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&plain.stderr);
    assert!(
        err.contains("Client sent an HTTP request to an HTTPS server"),
        "{err}"
    );

    // The main engine noticed nothing.
    assert_eq!(
        crate::util::docker(&["inspect", "-f", "{{.State.Running}}", &main_c]),
        "true"
    );
    assert_eq!(
        Path::new("/sys/class/net/docker0").exists(),
        docker0,
        "docker0 changed"
    );
    assert!(!crate::util::docker(&["ps", "-a", "--format", "{{.Names}}"]).contains("in-unix"));

    let gone = [
        (u.dir().to_path_buf(), u.container_ids()),
        (t.dir().to_path_buf(), t.container_ids()),
    ];
    drop(u);
    drop(t);
    for (dir, ids) in &gone {
        assert_eq!(ids.len(), 1);
        let left = leftovers(dir, ids);
        assert!(left.is_empty(), "left behind: {left:#?}");
    }
}

/// An engine killed mid-session stops answering at once (unix and tcp: connection refused),
/// and Drop still removes its shims, container processes, mounts, shim sockets and cgroups.
#[test]
fn a_killed_engine_is_cleaned_up() {
    let Some(u) = ExtraEngine::unix("killed-unix") else {
        return;
    };
    let Some(t) = ExtraEngine::tls("killed-tls") else {
        return;
    };
    for mut e in [u, t] {
        e.run_container("k-a", &[]);
        e.run_container("k-b", &["--user", "1000:1000"]);
        e.create_container("k-c");
        let ids = e.container_ids();
        assert_eq!(ids.len(), 3);
        e.kill();
        let t0 = Instant::now();
        let out = e.docker_output(&["ps"]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Cannot connect to the Docker daemon"), "{err}");
        // Refused, not timed out (a generous bound: the machine may be loaded).
        assert!(t0.elapsed() < Duration::from_secs(30));
        if let Some(port) = e.addr().strip_prefix("tcp://") {
            let refused = TcpStream::connect(port).map_err(|e| e.kind());
            assert_eq!(refused.err(), Some(std::io::ErrorKind::ConnectionRefused));
        }
        // The containers outlive their engine, as after a crash.
        let running = engine_processes(e.dir(), &ids);
        assert!(
            running.iter().any(|(_, p)| p.contains("sleep 1000000")),
            "{running:#?}"
        );

        let dir = e.dir().to_path_buf();
        drop(e);
        let left = leftovers(&dir, &ids);
        assert!(left.is_empty(), "left behind: {left:#?}");
    }
}

/// `docker context create` in a private DOCKER_CONFIG, and which of DOCKER_HOST,
/// DOCKER_CONTEXT and `currentContext` the docker CLI obeys.
#[test]
fn contexts_in_a_private_docker_config() {
    let Some(u) = ExtraEngine::unix("ctx-unix") else {
        return;
    };
    let Some(t) = ExtraEngine::tls("ctx-tls") else {
        return;
    };
    u.run_container("on-u", &[]);
    t.run_container("on-t", &[]);
    let cfg = DockerConfig::new();
    cfg.create_context("eng-u", &u.addr(), None);
    cfg.create_context("eng-t", &t.addr(), Some(&t.certs().unwrap().client));
    let names = |c: &mut Command| {
        let out = c.args(["ps", "--format", "{{.Names}}"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(names(cfg.command().args(["--context", "eng-u"])), "on-u");
    assert_eq!(names(cfg.command().args(["--context", "eng-t"])), "on-t");
    cfg.use_context("eng-t");
    assert_eq!(names(&mut cfg.command()), "on-t");
    // DOCKER_CONTEXT beats currentContext; DOCKER_HOST beats both; --context beats DOCKER_HOST.
    assert_eq!(names(cfg.command().env("DOCKER_CONTEXT", "eng-u")), "on-u");
    assert_eq!(
        names(
            cfg.command()
                .env("DOCKER_CONTEXT", "eng-t")
                .env("DOCKER_HOST", u.addr())
        ),
        "on-u"
    );
    assert_eq!(
        names(
            cfg.command()
                .env("DOCKER_HOST", u.addr())
                .args(["--context", "eng-t"])
        ),
        "on-t"
    );
    let ls = cfg.docker(&["context", "ls", "--format", "{{.Name}} {{.DockerEndpoint}}"]);
    assert!(ls.contains(&format!("eng-u {}", u.addr())), "{ls}");
    assert!(ls.contains(&format!("eng-t {}", t.addr())), "{ls}");
    // The CLI keeps copies of the certificates in the store.
    let store = cfg.path().join("contexts/tls");
    let pems = walk_count(&store, ".pem");
    assert_eq!(pems, 3, "{store:?}");
}

fn walk_count(dir: &Path, suffix: &str) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                walk_count(&p, suffix)
            } else {
                usize::from(p.to_string_lossy().ends_with(suffix))
            }
        })
        .sum()
}

/// `DOCKER_HOST=ssh://root@127.0.0.1:PORT` through a private sshd, to an extra engine.
#[test]
fn an_ssh_endpoint_reaches_its_engine() {
    let Some(e) = ExtraEngine::unix("ssh") else {
        return;
    };
    let Some(ssh) = e.ssh_endpoint() else {
        return;
    };
    e.run_container("via-ssh", &[]);
    assert!(ssh.addr().starts_with("ssh://root@127.0.0.1:"));
    assert_eq!(ssh.docker(&["ps", "--format", "{{.Names}}"]), "via-ssh");
    assert_eq!(ssh.docker(&["exec", "via-ssh", "echo", "hi"]), "hi");
    // A context on the ssh address works the same.
    let cfg = DockerConfig::new();
    cfg.create_context("eng-s", &ssh.addr(), None);
    let out = cfg
        .command()
        .env("PATH", ssh.path_env())
        .args(["--context", "eng-s", "ps", "--format", "{{.Names}}"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "via-ssh");
    let dir = ssh.dir.clone();
    drop(ssh);
    assert!(!dir.exists());
}
