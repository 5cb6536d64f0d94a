//! `cat`: byte-exact, several files, stdin, errors, flat memory.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::util::{docker, host_tree, Sandbox, TestShell, BUSYBOX, SCRATCH};

/// Deterministic bytes covering every value, so that any mangling shows.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545F4914F6CDD1D;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn binary_files_come_back_byte_exact() {
    let Some(mut sb) = Sandbox::new("catbin") else {
        return;
    };
    let data = noise(3 * 1024 * 1024 + 17);
    let tree = host_tree(&[("blob", &data, 0o600)]);
    let run = sb.run("run", BUSYBOX, &[]);
    let stopped = sb.create("stopped", BUSYBOX);
    for c in [&run, &stopped] {
        sb.cp_in(&tree.path().join("blob"), c, "/tmp/blob");
    }
    let sh = TestShell::new();
    for c in [&run, &stopped] {
        let r = sh.c(&format!("cat /containers/{c}/tmp/blob"));
        assert_eq!(r.status, 0, "{}", r.stderr);
        assert!(
            r.stdout == data,
            "{c}: {} bytes back, {} sent",
            r.stdout.len(),
            data.len()
        );
    }
}

#[test]
fn the_scratch_binary_reads_back() {
    let Some(mut sb) = Sandbox::new("catscr") else {
        return;
    };
    let c = sb.run("scr", SCRATCH, &[]);
    let out = Command::new("docker")
        .args(["cp", &format!("{c}:/pause"), "-"])
        .output()
        .unwrap();
    let mut ar = tar::Archive::new(&out.stdout[..]);
    let mut want = Vec::new();
    ar.entries()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .read_to_end(&mut want)
        .unwrap();
    let r = TestShell::new().c(&format!("cat /containers/{c}/pause"));
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout == want && !want.is_empty());
}

#[test]
fn several_files_stdin_and_errors() {
    let Some(mut sb) = Sandbox::new("catmulti") else {
        return;
    };
    let c = sb.create("c", BUSYBOX);
    let sh = TestShell::new();
    let base = format!("/containers/{c}/etc");
    let r = sh.c(&format!(
        "cat {base}/os-release {base}/nope {base} {base}/os-release"
    ));
    assert_eq!(r.out(), "NAME=\"BusyBox\"\nID=busybox\n".repeat(2));
    assert_eq!(
        r.stderr,
        format!("dockerbox: cat: {base}/nope: No such file or directory\ndockerbox: cat: {base}: Is a directory\n")
    );
    assert_eq!(r.status, 1);
    let r = sh.stdin(b"cat\n");
    assert_eq!(r.ok(), "");
    let r = sh.c("cat /containers/dbx-ghost/etc/passwd");
    assert_eq!(
        r.stderr,
        "dockerbox: cat: /containers/dbx-ghost/etc/passwd: No such container\n"
    );
    assert_eq!(r.status, 1);
}

#[test]
fn relative_paths_inside_a_container() {
    let Some(mut sb) = Sandbox::new("catrel") else {
        return;
    };
    let c = sb.create("c", BUSYBOX);
    let r = TestShell::new().c(&format!(
        "cd /containers/{c}/etc; cat os-release ../etc/./os-release"
    ));
    assert_eq!(r.ok(), "NAME=\"BusyBox\"\nID=busybox\n".repeat(2));
}

/// Streams 256 MiB through `cat` and checks the peak RSS stays far below the file size.
#[test]
fn memory_stays_flat_for_big_files() {
    let Some(mut sb) = Sandbox::new("catbig") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    sb.exec(
        &c,
        &[
            "dd",
            "if=/dev/zero",
            "of=/tmp/big",
            "bs=1048576",
            "count=256",
        ],
    );
    let sh = TestShell::new();
    let rss = sh.home.path().join("rss");
    let mut child = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss)
        .arg(TestShell::bin())
        .args(["-c", &format!("cat /containers/{c}/tmp/big")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("/usr/bin/time (apt-get install time)");
    let mut out = child.stdout.take().unwrap();
    let (mut total, mut nonzero) = (0u64, false);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        nonzero |= buf[..n].iter().any(|&b| b != 0);
        total += n as u64;
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(total, 256 << 20);
    assert!(!nonzero);
    let kib: u64 = std::fs::read_to_string(&rss)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        kib < 64 * 1024,
        "peak RSS {kib} KiB while streaming 256 MiB"
    );
    let _ = docker(&["exec", &c, "rm", "/tmp/big"]);
}

/// Issue 12: the direct path reads as the host's root, so files of the kernel's filesystems
/// (whose contents depend on who reads them) come from the agent, as a process in the
/// container sees them: `/proc/kallsyms` has zeros where the host's root would see addresses.
#[test]
fn kernel_files_read_as_the_container_sees_them() {
    let Some(mut sb) = Sandbox::new("catproc") else {
        return;
    };
    let c = sb.run("k", BUSYBOX, &[]);
    let theirs = sb.exec(&c, &["head", "-n", "3", "/proc/kallsyms"]);
    let sh = TestShell::new();
    let ours = sh.c(&format!("cat /containers/{c}/proc/kallsyms")).ok();
    let ours: Vec<&str> = ours.lines().take(3).collect();
    assert_eq!(ours.join("\n"), theirs.trim_end());
    let status = sh.c(&format!("cat /containers/{c}/proc/self/status")).ok();
    assert!(status.contains("Name:"), "{status}");
}

/// A symlink leading onto `/proc` or a tmpfs (`/u -> /proc/1`) is read as the container reads
/// it, by the direct path and by the agent alike, from a session's first command on (when the
/// archive API, which sees the layer beneath, would answer ENOENT); `ls -l` and `test -f`
/// agree.
#[test]
fn links_onto_proc_and_tmpfs_read_as_inside() {
    let Some(mut sb) = Sandbox::new("catlink") else {
        return;
    };
    let c = sb.run("l", BUSYBOX, &["--tmpfs", "/scratch"]);
    sb.exec(
        &c,
        &[
            "sh",
            "-c",
            "ln -s /proc/1 /u && ln -s /proc/1/status /s && ln -s ../scratch /tmp/t \
             && echo on-tmpfs > /scratch/f",
        ],
    );
    let theirs = sb.exec(&c, &["head", "-n", "1", "/u/status"]);
    assert!(theirs.starts_with("Name:"), "{theirs}");
    for direct in ["1", "0"] {
        // Each `-c` is a new session: its first command on the container.
        let sh = TestShell::new().env("DOCKERBOX_DIRECT", direct);
        for path in ["u/status", "s"] {
            let r = sh.c(&format!("cat /containers/{c}/{path} | head -n 1"));
            assert_eq!(
                r.ok(),
                format!("{theirs}\n"),
                "DIRECT={direct} {path}: {}",
                r.stderr
            );
        }
        let r = sh.c(&format!(
            "cat /containers/{c}/tmp/t/f; [ -f /containers/{c}/u/status ] && echo file; \
             ls /containers/{c}/u/ | grep -cx status"
        ));
        assert_eq!(
            r.ok(),
            "on-tmpfs\nfile\n1\n",
            "DIRECT={direct}: {}",
            r.stderr
        );
    }
}

/// A session's first command a `cat` of a stopped container's file: its download goes beside
/// the container's lookup where the direct path cannot serve (`DOCKERBOX_DIRECT=0`), and
/// everything a user sees is as it is after a lookup: the bytes, a symlink followed, the
/// one-line errors, a container named by an ID prefix, and a running container's file.
#[test]
fn a_first_cat_answers_alike_with_its_download_sent_beside_the_lookup() {
    let Some(mut sb) = Sandbox::new("catfirst") else {
        return;
    };
    let stopped = sb.run("stopped", BUSYBOX, &[]);
    sb.exec(&stopped, &["ln", "-s", "/etc/os-release", "/tmp/abs"]);
    sb.exec(&stopped, &["ln", "-s", "../etc", "/tmp/rel"]);
    docker(&["kill", &stopped]);
    let run = sb.run("run", BUSYBOX, &[]);
    let id = docker(&["inspect", "-f", "{{.Id}}", &stopped]);
    let os = "NAME=\"BusyBox\"\nID=busybox\n";
    for direct in ["0", "1"] {
        // Each a fresh process, so each is its session's first request.
        let sh = TestShell::new().env("DOCKERBOX_DIRECT", direct);
        for (c, path) in [
            (&stopped, "/etc/os-release"),
            (&stopped, "/tmp/abs"),
            (&stopped, "/tmp/rel/os-release"),
            (&run, "/etc/os-release"),
        ] {
            let r = sh.c(&format!("cat /containers/{c}{path}"));
            assert_eq!(r.ok(), os, "{c}{path}, DOCKERBOX_DIRECT={direct}");
        }
        let r = sh.c(&format!(
            "cat /containers/{}/etc/os-release",
            &id.trim()[..12]
        ));
        assert_eq!(r.ok(), os, "by ID prefix, DOCKERBOX_DIRECT={direct}");
        for (path, why) in [
            ("/etc/nope", "No such file or directory"),
            ("/etc", "Is a directory"),
        ] {
            let r = sh.c(&format!("cat /containers/{stopped}{path}"));
            assert_eq!(
                (r.status, r.stderr.as_str(), r.stdout.is_empty()),
                (
                    1,
                    format!("dockerbox: cat: /containers/{stopped}{path}: {why}\n").as_str(),
                    true
                ),
                "DOCKERBOX_DIRECT={direct}"
            );
        }
        let r = sh.c("cat /containers/dbx-catfirst-ghost/etc/os-release");
        assert_eq!(
            (r.status, r.stderr.as_str()),
            (1, "dockerbox: cat: /containers/dbx-catfirst-ghost/etc/os-release: No such container\n"),
        );
    }
}
