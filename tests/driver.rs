//! `dockerbox volume-driver` against a real dockerd: volumes made of a container's directory,
//! read and written by other containers, counted mounts, `ro`, restarts of the driver (clean
//! and killed) with the volumes kept, removal, and the errors (bad `src`, missing container,
//! a container given its own files).
//!
//! The engine keeps every socket plugin it has activated until it restarts, and then waits
//! about 15 s on each volume listing once the plugin is gone. So the driver is served to an
//! engine of the test's own (`ExtraEngine::unix_private_plugins`: its own mount namespace,
//! where `/run/docker/plugins` is a directory of the test), and the driver runs in that
//! namespace (`nsenter --mount`): the machine's engine never sees the plugin. All cases run in
//! one test, with one plugin name and one driver at a time; the guard removes the containers,
//! then the volumes (while the driver answers), then stops the driver, also on failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::engines::ExtraEngine;
use crate::util::{wait_until, TestShell, BUSYBOX, LABEL};

const PLUGIN: &str = "dockerbox-test";

struct World {
    eng: ExtraEngine,
    sh: TestShell,
    state: PathBuf,
    driver: Option<Child>,
    log: PathBuf,
    prefix: String,
    containers: Vec<String>,
    volumes: Vec<String>,
}

impl World {
    fn new(eng: ExtraEngine) -> World {
        let state = eng.dir().join("state");
        let log = eng.dir().join("driver.log");
        World {
            eng,
            sh: TestShell::new(),
            state,
            driver: None,
            log,
            prefix: format!("dbx-driver-{}", std::process::id()),
            containers: Vec::new(),
            volumes: Vec::new(),
        }
    }

    fn socket(&self) -> PathBuf {
        self.eng
            .dir()
            .join("plugins")
            .join(format!("{PLUGIN}.sock"))
    }

    /// The driver, in the engine's mount namespace, answering once its socket is there.
    fn start_driver(&mut self) {
        self.start_driver_with(None);
    }

    /// The driver as systemd's socket unit starts it (the listening socket as fd 3,
    /// `LISTEN_FDS`), by `systemd-socket-activate`; `false` where that tool is missing.
    fn start_activated_driver(&mut self) -> bool {
        let tool = Path::new("/usr/bin/systemd-socket-activate");
        if !tool.exists() {
            return false;
        }
        self.start_driver_with(Some(tool));
        true
    }

    fn start_driver_with(&mut self, activate: Option<&Path>) {
        let pid = self.eng.pid().expect("dockerd runs").to_string();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("driver log");
        let mut c = Command::new("nsenter");
        c.args(["--target", &pid, "--mount", "--"]);
        if let Some(tool) = activate {
            let sock = format!("/run/docker/plugins/{PLUGIN}.sock");
            c.arg(tool).args(["-l", &sock]);
            for k in ["HOME", "TZ", "LC_ALL", "PATH"] {
                c.arg(format!("--setenv={k}"));
            }
        }
        c.arg(TestShell::bin())
            .args(["-H", &self.eng.addr(), "volume-driver", "--name", PLUGIN])
            .arg("--state")
            .arg(&self.state)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let pinned = self.sh.command();
        for (k, v) in pinned.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        self.driver = Some(c.spawn().expect("spawn the driver"));
        let sock = self.socket();
        wait_until("the driver's socket", || {
            std::os::unix::net::UnixStream::connect(&sock).is_ok()
        });
    }

    /// Another driver, run to its end (it cannot start): its output.
    fn refused_driver(&self, name: &str, state: &Path) -> Output {
        let pid = self.eng.pid().expect("dockerd runs").to_string();
        let mut c = Command::new("nsenter");
        c.args(["--target", &pid, "--mount", "--"])
            .arg(TestShell::bin())
            .args(["-H", &self.eng.addr(), "volume-driver", "--name", name])
            .arg("--state")
            .arg(state)
            .stdin(Stdio::null());
        c.output().expect("run a second driver")
    }

    /// Stops the driver with `signal` and waits for it; its exit status.
    fn stop_driver(&mut self, signal: &str) -> Option<i32> {
        let mut c = self.driver.take()?;
        let _ = Command::new("kill")
            .args([signal, &c.id().to_string()])
            .status();
        c.wait().ok().and_then(|s| s.code())
    }

    fn driver_pid(&self) -> u32 {
        self.driver.as_ref().map_or(0, Child::id)
    }

    /// Whether the volume is served: the engine is told a mountpoint, and it is in a FUSE
    /// mount of the driver's mount namespace.
    fn mounted(&self, vol: &str) -> bool {
        let mp = self.inspect(vol, "{{.Mountpoint}}");
        let info = std::fs::read_to_string(format!("/proc/{}/mountinfo", self.driver_pid()))
            .unwrap_or_default();
        !mp.is_empty()
            && info.lines().any(|l| {
                let at = l.split(' ').nth(4).unwrap_or("/nowhere");
                let fstype = l.split(" - ").nth(1).unwrap_or("");
                fstype.starts_with("fuse dockerbox ") && Path::new(&mp).starts_with(at)
            })
    }

    /// The FUSE filesystems mounted in the driver's mount namespace (their device numbers):
    /// one session serves every volume.
    fn fuse_sessions(&self) -> std::collections::BTreeSet<String> {
        let info = std::fs::read_to_string(format!("/proc/{}/mountinfo", self.driver_pid()))
            .unwrap_or_default();
        info.lines()
            .filter(|l| {
                l.split(" - ")
                    .nth(1)
                    .unwrap_or("")
                    .starts_with("fuse dockerbox ")
            })
            .filter(|l| {
                l.split(' ')
                    .nth(4)
                    .is_some_and(|at| Path::new(at).starts_with(&self.state))
            })
            .filter_map(|l| l.split(' ').nth(2).map(str::to_string))
            .collect()
    }

    fn docker(&self, args: &[&str]) -> String {
        self.eng.docker(args)
    }

    fn docker_output(&self, args: &[&str]) -> Output {
        self.eng.docker_output(args)
    }

    fn name(&self, short: &str) -> String {
        format!("{}-{short}", self.prefix)
    }

    /// A busybox `sleep` with `extra` options (`-v VOL:/logs`), removed by the guard.
    fn container(&mut self, short: &str, extra: &[&str]) -> String {
        let name = self.name(short);
        self.containers.push(name.clone());
        self.eng.run_container(&name, extra)
    }

    /// `docker volume create -d dockerbox-test -o OPT... NAME`, whatever the outcome.
    fn create(&mut self, name: &str, opts: &[&str]) -> Output {
        self.volumes.push(name.to_string());
        let mut args = vec!["volume", "create", "-d", PLUGIN];
        for o in opts {
            args.extend(["-o", o]);
        }
        args.push(name);
        self.docker_output(&args)
    }

    /// `docker run --rm --network none -v VOL:/logs busybox CMD...`.
    fn consume(&self, vol_opt: &str, cmd: &[&str]) -> Output {
        let mut args = vec![
            "run",
            "--rm",
            "--network",
            "none",
            "--label",
            LABEL,
            "-v",
            vol_opt,
            BUSYBOX,
        ];
        args.extend_from_slice(cmd);
        self.docker_output(&args)
    }

    fn inspect(&self, vol: &str, format: &str) -> String {
        self.docker(&["volume", "inspect", "-f", format, vol])
    }

    fn volume_names(&self) -> Vec<String> {
        self.docker(&["volume", "ls", "-q"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn driver_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // Containers first (they hold mounts), then the volumes while the driver answers,
        // then the driver.
        if !self.containers.is_empty() {
            let mut c = self.eng.command();
            c.args(["rm", "-f"]).args(&self.containers);
            let _ = c.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
        if !self.volumes.is_empty() {
            if self.driver.is_none() {
                self.start_driver();
            }
            let mut c = self.eng.command();
            c.args(["volume", "rm", "-f"]).args(&self.volumes);
            let _ = c.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
        self.stop_driver("-TERM");
        if std::thread::panicking() {
            eprintln!("the driver's log:\n{}", self.driver_log());
        }
    }
}

fn ok(o: &Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim_end().to_string()
}

fn fails_with(o: &Output, what: &str, text: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{what} succeeded");
    assert!(err.contains(text), "{what}: want {text:?} in: {err}");
}

/// Sends `request` on the driver's socket, half-closes, and returns all it answered.
fn raw(sock: &Path, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(sock).expect("connect to the driver");
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .expect("read timeout");
    s.write_all(request).expect("send");
    s.shutdown(std::net::Shutdown::Write).expect("half-close");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn state_file(state: &Path) -> String {
    std::fs::read_to_string(state.join("volumes.json")).unwrap_or_default()
}

#[test]
fn volume_driver_gives_containers_other_containers_directories() {
    let Some(eng) = ExtraEngine::unix_private_plugins("driver") else {
        return;
    };
    let mut w = World::new(eng);
    let src = w.container("src", &[]);
    w.docker(&[
        "exec",
        &src,
        "sh",
        "-c",
        "mkdir -p /var/log/app && echo hello from src > /var/log/app/one.log \
         && ln -s /var/log/app/one.log /var/log/app/cur && ln -s one.log /var/log/app/rel \
         && ln -s /etc/hostname /var/log/app/out",
    ]);
    w.start_driver();
    let src_opt = format!("src=/containers/{src}/var/log/app");

    // A second driver on the same state or the same name refuses to start, and so does one
    // with a bad name or a broken state file.
    let other = w.eng.dir().join("other");
    let cases = [
        (
            PLUGIN,
            other.clone(),
            format!("another process serves plugin {PLUGIN} there"),
        ),
        (
            "dockerbox-test2",
            w.state.clone(),
            "another volume-driver uses this state directory".to_string(),
        ),
        (
            "no/slash",
            other.clone(),
            "--name: \"no/slash\": not a valid name".to_string(),
        ),
    ];
    for (name, state, want) in &cases {
        let o = w.refused_driver(name, state);
        assert_eq!(o.status.code(), Some(2), "{name}: {o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("dockerbox: volume-driver: "), "{err}");
        assert!(
            err.contains(want.as_str()),
            "{name}: want {want:?} in {err}"
        );
    }
    let broken = w.eng.dir().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("volumes.json"), "{").unwrap();
    let o = w.refused_driver("dockerbox-test3", &broken);
    let err = String::from_utf8_lossy(&o.stderr);
    let want = format!(
        "state file {}/volumes.json: not valid JSON",
        broken.display()
    );
    assert_eq!(err.matches(&want).count(), 1, "said once: {err}");
    assert_eq!(
        std::fs::read(broken.join("volumes.json")).unwrap(),
        b"{",
        "left as it was"
    );

    // The protocol by hand: keep-alive, and bad requests answered (not a crash).
    let answers = raw(
        &w.socket(),
        b"POST /Plugin.Activate HTTP/1.1\r\nContent-Length: 0\r\n\r\n\
          POST /VolumeDriver.Capabilities HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}\
          POST /VolumeDriver.Get HTTP/1.1\r\nContent-Length: 1\r\n\r\n{",
    );
    assert!(answers.starts_with("HTTP/1.1 200 OK\r\n"), "{answers}");
    assert!(answers.contains("Content-Type: application/vnd.docker.plugins.v1.2+json"));
    assert!(
        answers.contains(r#"{"Implements":["VolumeDriver"]}"#),
        "{answers}"
    );
    assert!(
        answers.contains(r#"{"Capabilities":{"Scope":"local"}}"#),
        "{answers}"
    );
    assert!(answers.contains("HTTP/1.1 400 Bad Request"), "{answers}");
    assert!(
        answers.contains(r#"{"Err":"/VolumeDriver.Get: invalid JSON: "#),
        "{answers}"
    );
    let answers = raw(
        &w.socket(),
        b"POST /VolumeDriver.List HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n",
    );
    assert!(answers.starts_with("HTTP/1.1 413 "), "{answers}");
    let answers = raw(&w.socket(), b"\x00\xff garbage\r\n\r\n");
    assert!(answers.starts_with("HTTP/1.1 400 "), "{answers}");

    // Create, and what the engine says of the volume.
    ok(&w.create("weblogs", &[&src_opt]), "volume create");
    assert_eq!(
        w.inspect(
            "weblogs",
            "{{.Driver}} {{.Status.src}} {{.Status.ro}} {{.Status.mounts}}"
        ),
        format!("{PLUGIN} /containers/{src}/var/log/app false 0")
    );
    assert!(state_file(&w.state).contains("\"weblogs\""));
    // A second create of the name is answered by the engine itself: the volume stays as it was.
    ok(&w.create("weblogs", &[&src_opt, "ro=true"]), "create again");
    assert_eq!(w.inspect("weblogs", "{{.Status.ro}}"), "false");

    // A consumer reads the source's file, and its write lands in the source container.
    let o = w.consume("weblogs:/logs", &["cat", "/logs/one.log"]);
    assert_eq!(ok(&o, "cat through the volume"), "hello from src");
    // Symlinks resolve in the consumer to what they name in the source (relative to the link,
    // so at whatever path the consumer mounts the volume); one leading out of the volume
    // climbs out of it as it would in the source.
    let o = w.consume(
        "weblogs:/logs",
        &[
            "sh",
            "-c",
            "for l in cur rel out; do readlink /logs/$l; done; cat /logs/cur /logs/rel",
        ],
    );
    assert_eq!(
        ok(&o, "links through the volume"),
        "one.log\none.log\n../../../etc/hostname\nhello from src\nhello from src"
    );
    let o = w.consume(
        "weblogs:/logs",
        &["sh", "-c", "echo written by a consumer > /logs/two.log"],
    );
    ok(&o, "write through the volume");
    assert_eq!(
        w.docker(&["exec", &src, "cat", "/var/log/app/two.log"]),
        "written by a consumer"
    );
    wait_until("the last consumer's unmount", || !w.mounted("weblogs"));

    // Two consumers at once: one mount, counted twice; live both ways.
    let c1 = w.container("c1", &["-v", "weblogs:/logs"]);
    let c2 = w.container("c2", &["-v", "weblogs:/logs"]);
    assert!(w.mounted("weblogs"));
    assert_eq!(w.inspect("weblogs", "{{.Status.mounts}}"), "2");
    // The engine's mount IDs are its own, not the consumers' container IDs.
    for c in [&c1, &c2] {
        let id = w.docker(&["inspect", "-f", "{{.Id}}", c]);
        assert!(!w.driver_log().contains(&format!("(ID {id})")), "{c}'s ID");
    }
    let mountpoint = w.inspect("weblogs", "{{.Mountpoint}}");
    assert_eq!(
        mountpoint,
        format!(
            "{}/mounts/.namespace/containers/{src}/var/log/app",
            w.state.display()
        )
    );
    w.docker(&["exec", &c1, "sh", "-c", "echo from c1 > /logs/three.log"]);
    assert_eq!(
        w.docker(&["exec", &c2, "cat", "/logs/three.log"]),
        "from c1"
    );
    assert_eq!(
        w.docker(&["exec", &src, "cat", "/var/log/app/three.log"]),
        "from c1"
    );
    w.docker(&[
        "exec",
        &src,
        "sh",
        "-c",
        "echo later >> /var/log/app/one.log",
    ]);
    wait_until("the source's append, seen by a consumer", || {
        w.docker_output(&["exec", &c2, "cat", "/logs/one.log"])
            .stdout
            .ends_with(b"later\n")
    });
    w.docker(&["rm", "-f", &c1]);
    assert_eq!(w.inspect("weblogs", "{{.Status.mounts}}"), "1");
    assert!(w.mounted("weblogs"), "one consumer still uses it");
    assert_eq!(
        w.docker(&["exec", &c2, "cat", "/logs/two.log"]),
        "written by a consumer"
    );
    w.docker(&["rm", "-f", &c2]);
    assert!(!w.mounted("weblogs"), "the last unmount unmounts");
    assert_eq!(
        w.inspect("weblogs", "{{.Status.mounts}}:{{.Mountpoint}}"),
        "0:"
    );

    // ro=true: reads, and writes refused by the kernel. Volumes mounted at once share one
    // FUSE session (and the read-only ones another).
    ok(
        &w.create("roview", &[&src_opt, "ro=true"]),
        "volume create ro",
    );
    ok(
        &w.create("applogs", &[&format!("src=/containers/{src}/var/log")]),
        "volume create applogs",
    );
    let c5 = w.container("c5", &["-v", "weblogs:/logs"]);
    let c6 = w.container("c6", &["-v", "roview:/logs"]);
    let c7 = w.container("c7", &["-v", "applogs:/logs"]);
    assert!(w.mounted("weblogs") && w.mounted("roview") && w.mounted("applogs"));
    assert_eq!(w.fuse_sessions().len(), 2, "two sessions for three volumes");
    let o = w.docker_output(&["exec", &c6, "touch", "/logs/x.log"]);
    fails_with(&o, "a write into a ro volume", "Read-only file system");
    w.docker(&["exec", &c5, "touch", "/logs/x.log"]);
    assert_eq!(
        w.docker(&["exec", &c7, "readlink", "/logs/app/cur"]),
        "one.log"
    );
    w.docker(&["exec", &src, "rm", "/var/log/app/x.log"]);
    w.docker(&["rm", "-f", &c5, &c6, &c7]);
    assert!(
        w.fuse_sessions().is_empty(),
        "the session ends with the last volume"
    );
    let o = w.consume(
        "roview:/logs",
        &["sh", "-c", "cat /logs/two.log && echo x > /logs/x.log"],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "written by a consumer\n"
    );
    fails_with(&o, "a write into a ro volume", "Read-only file system");
    w.docker(&["exec", &src, "test", "!", "-e", "/var/log/app/x.log"]);

    // A stopped source still serves (the archive API): reads, and a new file, whole.
    w.docker(&["kill", &src]);
    let o = w.consume(
        "weblogs:/logs",
        &[
            "sh",
            "-c",
            "cat /logs/one.log && echo while stopped > /logs/four.log",
        ],
    );
    assert_eq!(ok(&o, "through a stopped source"), "hello from src\nlater");
    w.docker(&["start", &src]);
    assert_eq!(
        w.docker(&["exec", &src, "cat", "/var/log/app/four.log"]),
        "while stopped"
    );

    // The image's files at the destination go into an empty source directory when a
    // consumer is created, as with any named volume; `nocopy` keeps them out.
    w.docker(&["exec", &src, "mkdir", "-p", "/srv/empty"]);
    let empty_opt = format!("src=/containers/{src}/srv/empty");
    ok(
        &w.create("emptyvol", &[&empty_opt]),
        "volume create emptyvol",
    );
    ok(
        &w.consume("emptyvol:/home:nocopy", &["true"]),
        "a nocopy consumer",
    );
    assert_eq!(w.docker(&["exec", &src, "ls", "/srv/empty"]), "");
    ok(
        &w.consume("emptyvol:/home", &["true"]),
        "a copying consumer",
    );
    assert_eq!(
        w.docker(&["exec", &src, "stat", "-c", "%n %u", "/srv/empty/user"]),
        "/srv/empty/user 1000"
    );

    // Bad sources: refused at create, with the reason, and no volume made.
    let nope = w.name("nope");
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["src=/var/log".into()],
            "src /var/log: not a container path (/containers/NAME/PATH; or /volumes/NAME/PATH, /images/IMAGE/PATH)".into(),
        ),
        (
            vec![format!("src=/containers/{nope}/var/log")],
            format!("src /containers/{nope}/var/log: no such container {nope}"),
        ),
        (
            vec![],
            "src is missing: -o src=/containers/NAME/PATH".into(),
        ),
        (
            vec![format!("src=/containers/{src}/etc/passwd")],
            format!("src /containers/{src}/etc/passwd: Not a directory"),
        ),
        (
            vec![format!("src=/containers/{src}/nowhere")],
            format!("src /containers/{src}/nowhere: No such file or directory"),
        ),
        (
            vec![src_opt.clone(), "size=1g".into()],
            "unknown option size (src, ro)".into(),
        ),
    ];
    for (i, (opts, want)) in cases.iter().enumerate() {
        let name = format!("bad{i}");
        let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
        let o = w.create(&name, &opts);
        fails_with(&o, &format!("volume create {opts:?}"), want);
        assert!(!w.volume_names().contains(&name), "{name} was made");
    }

    // A container given its own files is refused at its start: the source's name now
    // belongs to a container that uses the volume.
    let selfish = w.container("self", &[]);
    ok(
        &w.create("selfvol", &[&format!("src=/containers/{selfish}/tmp")]),
        "volume create selfvol",
    );
    w.docker(&["rm", "-f", &selfish]);
    let o = w.docker_output(&[
        "run",
        "-d",
        "--network",
        "none",
        "--label",
        LABEL,
        "--name",
        &selfish,
        "-v",
        "selfvol:/x",
        BUSYBOX,
        "sleep",
        "1000000",
    ]);
    fails_with(
        &o,
        "a self-mount",
        &format!(
            "volume selfvol: its source /containers/{selfish}/tmp is in container {selfish}, which uses the volume itself: a container cannot be given its own files"
        ),
    );
    assert!(!w.mounted("selfvol"));
    // While that container, stopped, names the volume, nobody else is served either: its
    // files are read through the archive API, which would mount the volume for it.
    let o = w.consume("selfvol:/x", &["ls", "/x"]);
    fails_with(
        &o,
        "another consumer while the stopped source names the volume",
        "which uses the volume itself",
    );
    w.docker(&["rm", "-f", &selfish]);

    // Other trees: an image's directory (always read-only) and a volume's of the engine;
    // one of this driver's own volumes is refused (reading it would ask the driver itself).
    ok(
        &w.create("imagevol", &[&format!("src=/images/{BUSYBOX}/etc")]),
        "volume create from an image",
    );
    assert_eq!(w.inspect("imagevol", "{{.Status.ro}}"), "true");
    let o = w.consume(
        "imagevol:/x",
        &["sh", "-c", "head -1 /x/passwd; touch /x/new"],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "root:x:0:0:root:/root:/bin/sh\n"
    );
    fails_with(
        &o,
        "a write into an image's volume",
        "Read-only file system",
    );
    let plain = w.name("plain");
    w.volumes.push(plain.clone());
    w.docker(&["volume", "create", &plain]);
    let o = w.consume(
        &format!("{plain}:/v"),
        &["sh", "-c", "mkdir /v/d && echo in a volume > /v/d/f"],
    );
    ok(&o, "fill a plain volume");
    ok(
        &w.create("volvol", &[&format!("src=/volumes/{plain}/d")]),
        "volume create from a volume",
    );
    let o = w.consume("volvol:/x", &["cat", "/x/f"]);
    assert_eq!(ok(&o, "read a volume through a volume"), "in a volume");
    let o = w.create("loop", &["src=/volumes/weblogs"]);
    fails_with(
        &o,
        "a volume of the driver's own",
        "src /volumes/weblogs: volume weblogs is one of this driver's own",
    );

    // A clean restart keeps the volumes (List, Get, Mount again).
    assert_eq!(w.stop_driver("-TERM"), Some(0));
    assert!(!w.socket().exists(), "the driver removes its socket");
    let activated = w.start_activated_driver();
    if !activated {
        w.start_driver();
    }
    let names = w.volume_names();
    for v in ["weblogs", "roview", "selfvol"] {
        assert!(names.contains(&v.to_string()), "{v} lost: {names:?}");
    }
    assert_eq!(
        w.inspect("roview", "{{.Status.src}} {{.Status.ro}}"),
        format!("/containers/{src}/var/log/app true")
    );
    let o = w.consume("weblogs:/logs", &["cat", "/logs/three.log"]);
    assert_eq!(ok(&o, "cat after a restart"), "from c1");

    // A killed driver: the next one mounts again what is still mounted (its counts kept in
    // the state file), so new consumers are served at once. A consumer that was running keeps
    // the dead session's mount (the kernel's connection went with the killed process) until
    // it restarts; then its Unmount and Mount are counted right.
    let c3 = w.container("c3", &["-v", "weblogs:/logs"]);
    assert!(w.mounted("weblogs"));
    w.stop_driver("-KILL");
    if activated {
        assert!(w.socket().exists(), "a socket systemd passed stays");
    }
    w.start_driver();
    wait_until("the new driver's mount of weblogs", || w.mounted("weblogs"));
    assert_eq!(w.inspect("weblogs", "{{.Status.mounts}}"), "1");
    let o = w.docker_output(&["exec", &c3, "cat", "/logs/one.log"]);
    fails_with(
        &o,
        "a read through the dead mount",
        "Transport endpoint is not connected",
    );
    let o = w.consume("weblogs:/logs", &["cat", "/logs/one.log"]);
    assert_eq!(ok(&o, "cat after a killed driver"), "hello from src\nlater");
    assert_eq!(w.inspect("weblogs", "{{.Status.mounts}}"), "1");
    w.docker(&["restart", "-t", "0", &c3]);
    assert_eq!(
        w.docker(&["exec", &c3, "cat", "/logs/one.log"]),
        "hello from src\nlater"
    );
    w.docker(&["rm", "-f", &c3]);
    assert_eq!(w.inspect("weblogs", "{{.Status.mounts}}"), "0");
    assert!(!w.mounted("weblogs"), "the last unmount unmounts");

    // Remove: gone from the engine, the state file and the mounts directory.
    w.docker(&[
        "volume", "rm", "weblogs", "roview", "selfvol", "emptyvol", "imagevol", "volvol", "applogs",
    ]);
    let names = w.volume_names();
    for v in ["weblogs", "roview", "selfvol"] {
        assert!(!names.contains(&v.to_string()), "{v} still listed");
    }
    assert!(!state_file(&w.state).contains("weblogs"));
    let left: Vec<_> = std::fs::read_dir(w.state.join("mounts"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "mount directories left: {left:?}");
    let log = w.driver_log();
    if activated {
        assert!(log.contains("on the socket systemd passed"), "{log}");
    }
    assert!(
        log.contains("dockerbox: volume-driver: Mount weblogs"),
        "{log}"
    );
}
