//! Real paths for the shell's host programs: with the namespace mounted for them (root,
//! /dev/fuse), `grep -r`, `du`, `find`, `tar`, `rsync`, `diff -r` and an editor's save get
//! container paths as typed, against the truth from `docker exec`; the machine's own mounts
//! and `/` never change; with `DOCKERBOX_MOUNT=0` container files are `/dev/fd` streams again.
//! Host programs are named by path (`/usr/bin/grep`) where a builtin of the same name exists.

use std::path::Path;
use std::process::Command;

use crate::util::{Sandbox, TestShell, DEBIAN};

fn ready(test: &str) -> Option<Sandbox> {
    let sb = Sandbox::new(test)?;
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 || !Path::new("/dev/fuse").exists() {
        eprintln!("skipping {test}: needs root and /dev/fuse");
        return None;
    }
    Some(sb)
}

/// Lines sorted, for outputs whose order is a directory's (readdir order differs).
fn sorted(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// `docker exec C sh -c SCRIPT` with the C locale, its stdout as it is.
fn inside(c: &str, script: &str) -> String {
    let out = Command::new("docker")
        .args(["exec", "-e", "LC_ALL=C", c, "sh", "-c", script])
        .output()
        .expect("docker exec");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn host_programs_get_container_paths_as_typed() {
    let Some(mut sb) = ready("realpaths") else {
        return;
    };
    let (a, b) = (sb.run("a", DEBIAN, &[]), sb.run("b", DEBIAN, &[]));
    let sh = TestShell::new().env("LC_ALL", "C");
    let work = tempfile::tempdir().unwrap();
    let w = work.path().display();

    // grep -rn over two containers' /etc prints the paths typed.
    let got = sh
        .c(&format!(
            "/usr/bin/grep -rn root /containers/{a}/etc /containers/{b}/etc"
        ))
        .ok();
    let mut want = Vec::new();
    for c in [&a, &b] {
        for l in inside(c, "grep -rn root /etc").lines() {
            want.push(format!("/containers/{c}{l}"));
        }
    }
    want.sort();
    assert_eq!(sorted(&got), want);

    // find with a test, and du, on the typed paths.
    let got = sh
        .c(&format!("/usr/bin/find /containers/{a}/etc -name '*.conf'"))
        .ok();
    let want: Vec<String> = sorted(&inside(&a, "find /etc -name '*.conf'"))
        .into_iter()
        .map(|l| format!("/containers/{a}{l}"))
        .collect();
    assert_eq!(sorted(&got), want);
    let got = sh
        .c(&format!("/usr/bin/du -s --inodes /containers/{a}/var/lib"))
        .ok();
    let n = inside(&a, "du -s --inodes /var/lib");
    let n = n.split_whitespace().next().unwrap();
    assert_eq!(got, format!("{n}\t/containers/{a}/var/lib\n"));

    // tar of a container directory into a host file, listed back.
    sh.c(&format!(
        "cd {w} && tar czf db.tgz /containers/{a}/var/lib 2>/dev/null"
    ))
    .ok();
    let listed = Command::new("tar")
        .args(["tzf", "db.tgz"])
        .current_dir(work.path())
        .output()
        .unwrap();
    let got: Vec<String> = sorted(&String::from_utf8_lossy(&listed.stdout))
        .into_iter()
        .map(|l| l.trim_end_matches('/').to_string())
        .collect();
    let want: Vec<String> = sorted(&inside(&a, "find /var/lib"))
        .into_iter()
        .map(|l| format!("containers/{a}{l}"))
        .collect();
    assert_eq!(got, want);

    // rsync from one container to the other, then diff -r says they are the same.
    sb.exec(
        &a,
        &[
            "sh",
            "-c",
            "mkdir -p /srv/site/img && printf 'hello\\n' > /srv/site/index.html && \
             head -c 300000 /dev/urandom > /srv/site/img/big.bin && chmod 640 /srv/site/index.html \
             && ln -s index.html /srv/site/home",
        ],
    );
    let tree = "cd /srv && find . -printf '%p %y %s %m %l\\n' | sort && \
                find . -type f | sort | xargs sha256sum";
    if Path::new("/usr/bin/rsync").exists() {
        sh.c(&format!(
            "rsync -a /containers/{a}/srv/ /containers/{b}/srv/"
        ))
        .ok();
    } else {
        eprintln!("no rsync on this host: cp -a instead");
        sh.c(&format!(
            "/bin/cp -a /containers/{a}/srv/. /containers/{b}/srv/"
        ))
        .ok();
    }
    assert_eq!(inside(&b, tree), inside(&a, tree));
    let r = sh.c(&format!("diff -r /containers/{a}/srv /containers/{b}/srv"));
    assert_eq!((r.status, r.out()), (0, String::new()));
    sb.exec(&b, &["sh", "-c", "echo changed > /srv/site/index.html"]);
    let r = sh.c(&format!("diff -r /containers/{a}/srv /containers/{b}/srv"));
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(
        r.out().contains(&format!(
            "diff -r /containers/{a}/srv/site/index.html /containers/{b}/srv/site/index.html"
        )),
        "{}",
        r.out()
    );

    // An editor's save: vim writes the file; a script writes a temporary and renames it.
    sb.exec(&a, &["sh", "-c", "printf 'one\\ntwo\\n' > /etc/app.conf"]);
    if Path::new("/usr/bin/vim").exists() {
        sh.c(&format!(
            "vim -es -u NONE -c '%s/two/three/' -c wq /containers/{a}/etc/app.conf"
        ))
        .ok();
        assert_eq!(sb.exec(&a, &["cat", "/etc/app.conf"]), "one\nthree");
    }
    sh.c(&format!(
        "/bin/sh -c 'cd /containers/{a}/etc && printf \"saved\\n\" > .app.conf.swp && \
         mv .app.conf.swp app.conf'"
    ))
    .ok();
    assert_eq!(sb.exec(&a, &["cat", "/etc/app.conf"]), "saved");
    assert!(!sb.exec(&a, &["ls", "-a", "/etc"]).contains(".app.conf.swp"));

    // In a container directory, a host program runs there: relative names are its files.
    let got = sh
        .c(&format!(
            "cd /containers/{a}/etc; /usr/bin/grep -c root passwd; /bin/pwd"
        ))
        .ok();
    let want = inside(&a, "grep -c root /etc/passwd");
    assert_eq!(got, format!("{want}/containers/{a}/etc\n"));

    // `-v` says which way the paths went.
    let r = sh.args(&[
        "-v",
        "-c",
        &format!("/bin/cat /containers/{a}/etc/hostname"),
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "dockerbox: /bin/cat: container paths as typed (the namespace is mounted for it)"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn the_machine_sees_nothing_of_it() {
    let Some(mut sb) = ready("realpaths-hidden") else {
        return;
    };
    let a = sb.run("a", DEBIAN, &[]);
    let sh = TestShell::new();
    // The program sees the trees at `/` and the host's own directories beside them; pid 1
    // (the machine) has no /containers and none of our mounts; a new name at `/` is refused
    // rather than written where nobody sees it.
    let script = "test -d /containers && test -d /usr/bin && test -d /proc/self && \
                  ! test -e /proc/1/root/containers && \
                  ! grep -q /root/containers /proc/1/mountinfo && \
                  grep -q ' /containers ' /proc/self/mountinfo && echo hidden; \
                  touch /dockerbox-new 2>&1 | sed 's/.*: //'";
    let got = sh
        .c(&format!("/bin/sh -c \"{script}\" /containers/{a}"))
        .ok();
    assert_eq!(got, "hidden\nRead-only file system\n");
    assert!(!Path::new("/containers").exists());
    assert!(!Path::new("/dockerbox-new").exists());
    // Programs that name no container run as before, in the machine's own mounts.
    let got = sh
        .c("/bin/sh -c 'ls / | grep -qx containers || echo plain'")
        .ok();
    assert_eq!(got, "plain\n");
}

#[test]
fn without_a_mount_container_files_are_streams() {
    let Some(mut sb) = ready("realpaths-fallback") else {
        return;
    };
    let a = sb.run("a", DEBIAN, &[]);
    let sh = TestShell::new().env("DOCKERBOX_MOUNT", "0");
    let r = sh.args(&[
        "-v",
        "-c",
        &format!("/usr/bin/grep -H root /containers/{a}/etc/passwd"),
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.out().starts_with("/dev/fd/63:root:"), "{}", r.out());
    assert!(
        r.stderr.contains(
            "dockerbox: /usr/bin/grep: container files as /dev/fd streams (no mount: DOCKERBOX_MOUNT=0)"
        ),
        "{}",
        r.stderr
    );
    let r = sh.c(&format!("/usr/bin/du -s /containers/{a}/etc"));
    assert_eq!(r.status, 1);
    assert_eq!(
        r.stderr,
        format!(
            "dockerbox: /usr/bin/du: /containers/{a}/etc: a directory inside a container cannot \
             be given to a host program (only files can, as streams)\n"
        )
    );
}

#[test]
fn the_programs_root_follows_the_hosts() {
    let Some(mut sb) = ready("realpaths-tops") else {
        return;
    };
    let a = sb.run("a", DEBIAN, &[]);
    /// Removes the test's name at `/` also on failure.
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let name = Gone(format!("/dbx-realpaths-{}", std::process::id()));
    let n = &name.0;
    // A name made at `/` after the first program set the view up is there for the next one,
    // and one removed is gone; `exec PROG` outside a container is PROG, with real paths too.
    let script = format!(
        "/bin/sh -c 'test -d /containers/{a} && echo first'
         mkdir {n}
         echo new > {n}/f
         /bin/sh -c 'cat {n}/f; test -d /containers/{a}/etc && echo tree'
         /bin/rm -r {n}
         /bin/sh -c 'test -e {n} || echo gone; test -d /containers/{a} && echo still'
         exec /bin/sh -c 'test -d /containers/{a}/etc && echo by exec'"
    );
    let got = TestShell::new().c(&script).ok();
    assert_eq!(got, "first\nnew\ntree\ngone\nstill\nby exec\n");
    assert!(!Path::new(n).exists());
}
