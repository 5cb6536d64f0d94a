//! `mkdir`, `rmdir`, `touch`, `ln` and `chmod` in running and stopped containers and on the
//! host: what lands (checked with `docker exec stat`, `docker diff` and std::fs), what is said.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::util::{docker, Sandbox, TestShell, BUSYBOX};

/// The umask dockerbox inherits from the test process.
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .unwrap();
    u32::from_str_radix(line.trim(), 8).unwrap()
}

/// `stat -c FORMAT PATH` inside a running container.
fn stat(sb: &Sandbox, c: &str, format: &str, path: &str) -> String {
    sb.exec(c, &["stat", "-c", format, path])
}

/// What `docker diff` says was added to a container (works on stopped ones).
fn added(c: &str) -> Vec<String> {
    docker(&["diff", c])
        .lines()
        .filter_map(|l| l.strip_prefix("A ").map(str::to_string))
        .collect()
}

/// The message for changing a stopped container.
fn not_running(cmd: &str, what: &str) -> String {
    format!(
        "dockerbox: {cmd}: {what}: Operation not supported: the container is created (only cp and mkdir reach a stopped container)\n"
    )
}

#[test]
fn mkdir_in_running_and_stopped_containers() {
    let Some(mut sb) = Sandbox::new("mkdir") else {
        return;
    };
    let c = sb.run("run", BUSYBOX, &[]);
    let s = sb.create("stopped", BUSYBOX);
    let sh = TestShell::new();
    let t = format!("/containers/{c}/t");

    let r = sh.c(&format!(
        "mkdir -pv {t}/a/b; mkdir -m 750 {t}/m; mkdir {t}/d"
    ));
    assert_eq!(
        r.ok(),
        format!(
            "mkdir: created directory '{t}'\nmkdir: created directory '{t}/a'\nmkdir: created directory '{t}/a/b'\n"
        )
    );
    // Parents made by -p get u+wx whatever the umask; the directory named gets 777 - umask.
    assert_eq!(
        stat(&sb, &c, "%a %F", "/t/a"),
        format!("{:o} directory", (0o777 & !umask()) | 0o300)
    );
    assert_eq!(
        stat(&sb, &c, "%a %F", "/t/a/b"),
        format!("{:o} directory", 0o777 & !umask())
    );
    assert_eq!(stat(&sb, &c, "%a %F", "/t/m"), "750 directory");
    assert_eq!(
        stat(&sb, &c, "%a", "/t/d"),
        format!("{:o}", 0o777 & !umask())
    );

    let r = sh.c(&format!("mkdir {t} {t}/x/y {t}/n"));
    assert_eq!(
        r.stderr,
        format!(
            "dockerbox: mkdir: cannot create directory '{t}': File exists\n\
             dockerbox: mkdir: cannot create directory '{t}/x/y': No such file or directory\n"
        )
    );
    assert_eq!(r.status, 1);
    assert_eq!(stat(&sb, &c, "%F", "/t/n"), "directory");
    sh.c(&format!("mkdir -p {t}/a/b {t}")).ok();

    // A stopped container gets directories through the archive API, and is not started.
    let st = format!("/containers/{s}");
    sh.c(&format!("mkdir -p {st}/n/o; mkdir -m 700 {st}/n/m"))
        .ok();
    let a = added(&s);
    for p in ["/n", "/n/o", "/n/m"] {
        assert!(a.contains(&p.to_string()), "{p} in {a:?}");
    }
    let long = sh.c(&format!("ls -l {st}/n")).ok();
    assert!(
        long.lines()
            .any(|l| l.starts_with("drwx------ ") && l.ends_with(" m")),
        "{long}"
    );
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.StartedAt}}", &s]),
        "0001-01-01T00:00:00Z"
    );
}

#[test]
fn mkdir_rmdir_touch_on_the_host() {
    let sh = TestShell::new();
    let home = sh.home.path();
    let mode = |p: &str| {
        std::fs::metadata(home.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };

    let r = sh.c("mkdir -pv a/b/c; mkdir -m u=rwx,go= m; touch f; touch -d @1600000000 a/old");
    assert_eq!(
        r.ok(),
        "mkdir: created directory 'a'\nmkdir: created directory 'a/b'\nmkdir: created directory 'a/b/c'\n"
    );
    assert_eq!(mode("m"), 0o700);
    assert_eq!(mode("f"), 0o666 & !umask());
    let old = std::fs::metadata(home.join("a/old")).unwrap();
    assert_eq!((old.mtime(), old.atime()), (1_600_000_000, 1_600_000_000));

    let r = sh.c("rmdir a");
    assert_eq!(
        r.stderr,
        "dockerbox: rmdir: failed to remove 'a': Directory not empty\n"
    );
    assert_eq!(r.status, 1);
    // -p removes the parents named in the operand, up to one that is not empty.
    let r = sh.c("rmdir -pv a/b/c");
    assert_eq!(
        r.out(),
        "rmdir: removing directory, 'a/b/c'\nrmdir: removing directory, 'a/b'\nrmdir: removing directory, 'a'\n"
    );
    assert_eq!(
        r.stderr,
        "dockerbox: rmdir: failed to remove directory 'a': Directory not empty\n"
    );
    assert_eq!(r.status, 1);
    assert!(home.join("a/old").exists(), "a still holds old");
    assert!(!home.join("a/b").exists());

    // touch -c creates nothing; a missing directory is reported, the rest still done.
    let r = sh.c("touch -c ghost; touch nodir/x f2");
    assert_eq!(
        r.stderr,
        "dockerbox: touch: cannot touch 'nodir/x': No such file or directory\n"
    );
    assert_eq!(r.status, 1);
    assert!(!home.join("ghost").exists() && home.join("f2").exists());

    // -m leaves the access time alone; -r copies a file's time.
    sh.c("touch -m -d @5 f; touch -r a/old f2").ok();
    let f = std::fs::metadata(home.join("f")).unwrap();
    assert_eq!(f.mtime(), 5);
    assert_ne!(f.atime(), 5);
    assert_eq!(
        std::fs::metadata(home.join("f2")).unwrap().mtime(),
        1_600_000_000
    );
}

#[test]
fn rmdir_in_running_and_stopped_containers() {
    let Some(mut sb) = Sandbox::new("rmdir") else {
        return;
    };
    let c = sb.run("run", BUSYBOX, &[]);
    let s = sb.create("stopped", BUSYBOX);
    sb.exec(&c, &["sh", "-c", "mkdir -p /t/a/b /t/e && touch /t/f"]);
    let sh = TestShell::new();
    let t = format!("/containers/{c}/t");

    let r = sh.c(&format!("rmdir {t} {t}/e"));
    assert_eq!(
        r.stderr,
        format!("dockerbox: rmdir: failed to remove '{t}': Directory not empty\n")
    );
    assert_eq!(r.status, 1);
    // -p goes up the operand until a parent is not empty.
    let r = sh.c(&format!("rmdir -p {t}/a/b"));
    assert_eq!(
        r.stderr,
        format!("dockerbox: rmdir: failed to remove directory '{t}': Directory not empty\n")
    );
    assert_eq!(r.status, 1);
    assert_eq!(sb.exec(&c, &["ls", "/t"]), "f");

    let r = sh.c(&format!("rmdir /containers/{s}/tmp"));
    assert_eq!(
        r.stderr,
        not_running("rmdir", &format!("failed to remove '/containers/{s}/tmp'"))
    );
    assert_eq!(r.status, 1);
}

#[test]
fn touch_in_running_and_stopped_containers() {
    let Some(mut sb) = Sandbox::new("touch") else {
        return;
    };
    let c = sb.run("run", BUSYBOX, &[]);
    let s = sb.create("stopped", BUSYBOX);
    sb.exec(&c, &["sh", "-c", "mkdir /t && ln -s target /t/dangling"]);
    let sh = TestShell::new();
    let t = format!("/containers/{c}/t");

    sh.c(&format!(
        "touch {t}/new; touch -d '2020-01-02 03:04:05' {t}/dated; touch -c {t}/ghost; touch {t}/dangling"
    ))
    .ok();
    assert_eq!(
        stat(&sb, &c, "%a %F", "/t/new"),
        format!("{:o} regular empty file", 0o666 & !umask())
    );
    // TZ=UTC in the test shell.
    assert_eq!(stat(&sb, &c, "%Y %X", "/t/dated"), "1577934245 1577934245");
    // A dangling symlink stays one; the file it names is made.
    assert_eq!(stat(&sb, &c, "%F", "/t/dangling"), "symbolic link");
    assert_eq!(stat(&sb, &c, "%F", "/t/target"), "regular empty file");
    assert_eq!(sb.exec(&c, &["ls", "/t"]), "dangling\ndated\nnew\ntarget");

    // -a changes only the access time; -r takes another file's.
    sh.c(&format!(
        "touch -a -d @100 {t}/dated; touch -r {t}/dated {t}/new"
    ))
    .ok();
    assert_eq!(stat(&sb, &c, "%X %Y", "/t/dated"), "100 1577934245");
    assert_eq!(stat(&sb, &c, "%Y", "/t/new"), "1577934245");

    let r = sh.c(&format!("touch {t}/nodir/x"));
    assert_eq!(
        r.stderr,
        format!("dockerbox: touch: cannot touch '{t}/nodir/x': No such file or directory\n")
    );
    assert_eq!(r.status, 1);

    // A stopped container takes new files (with their time), not new times for old ones.
    let st = format!("/containers/{s}");
    sh.c(&format!("touch -d @1600000000 {st}/fresh")).ok();
    assert!(added(&s).contains(&"/fresh".to_string()));
    let long = sh.c(&format!("ls -l {st}/fresh")).ok();
    assert!(long.contains(" Sep 13  2020 "), "{long}");
    let r = sh.c(&format!("touch {st}/etc/passwd"));
    assert_eq!(
        r.stderr,
        not_running("touch", &format!("setting times of '{st}/etc/passwd'"))
    );
    assert_eq!(r.status, 1);
}

#[test]
fn ln_in_containers_and_on_the_host() {
    let Some(mut sb) = Sandbox::new("ln") else {
        return;
    };
    let c = sb.run("run", BUSYBOX, &[]);
    let s = sb.create("stopped", BUSYBOX);
    sb.exec(&c, &["sh", "-c", "mkdir -p /t/d && echo hi > /t/f"]);
    let sh = TestShell::new();
    let t = format!("/containers/{c}/t");

    let r = sh.c(&format!(
        "ln -sv /etc/os-release {t}/l; ln {t}/f {t}/h; ln -s /a /b {t}/d; cd {t}/d; ln -s /etc/hostname"
    ));
    assert_eq!(r.ok(), format!("'{t}/l' -> '/etc/os-release'\n"));
    assert_eq!(sb.exec(&c, &["readlink", "/t/l"]), "/etc/os-release");
    // An absolute target is the container's own file.
    assert_eq!(
        sh.c(&format!("cat {t}/l")).ok(),
        "NAME=\"BusyBox\"\nID=busybox\n"
    );
    assert_eq!(
        stat(&sb, &c, "%h %i", "/t/f"),
        stat(&sb, &c, "%h %i", "/t/h")
    );
    assert_eq!(stat(&sb, &c, "%h", "/t/f"), "2");
    assert_eq!(sb.exec(&c, &["ls", "/t/d"]), "a\nb\nhostname");

    let r = sh.c(&format!("ln -s x {t}/l"));
    assert_eq!(
        r.stderr,
        format!("dockerbox: ln: failed to create symbolic link '{t}/l': File exists\n")
    );
    assert_eq!(r.status, 1);
    sh.c(&format!("ln -sf x {t}/l")).ok();
    assert_eq!(sb.exec(&c, &["readlink", "/t/l"]), "x");
    let r = sh.c(&format!("ln -f {t}/f {t}/f"));
    assert_eq!(
        r.stderr,
        format!("dockerbox: ln: '{t}/f' and '{t}/f' are the same file\n")
    );
    assert_eq!(sb.exec(&c, &["cat", "/t/f"]), "hi");

    // Hard links stay within one filesystem.
    let home = sh.home.path().display().to_string();
    let r = sh.c(&format!("ln {t}/f {home}/h"));
    assert_eq!(
        r.stderr,
        format!(
            "dockerbox: ln: failed to create hard link '{home}/h' => '{t}/f': Invalid cross-device link\n"
        )
    );
    assert_eq!(r.status, 1);

    // Symlinks go into stopped containers.
    let st = format!("/containers/{s}");
    sh.c(&format!("ln -s /etc/passwd {st}/pw")).ok();
    assert!(added(&s).contains(&"/pw".to_string()));
    // Hard links too: a one-entry tar uploaded at the root names both.
    sh.c(&format!("ln {st}/etc/passwd {st}/hard")).ok();
    assert_eq!(
        sh.c(&format!("cat {st}/hard")).ok(),
        sh.c(&format!("cat {st}/etc/passwd")).ok()
    );

    // The host: -f replaces, -n does not enter a symlink to a directory.
    sh.c("touch f; mkdir d; ln -s d sd; ln f h; ln -sf f h; ln -sfn f sd")
        .ok();
    let h = sh.home.path();
    assert_eq!(std::fs::read_link(h.join("h")).unwrap().to_str(), Some("f"));
    assert_eq!(
        std::fs::read_link(h.join("sd")).unwrap().to_str(),
        Some("f")
    );
    assert_eq!(std::fs::metadata(h.join("f")).unwrap().nlink(), 1);
    assert!(std::fs::read_dir(h.join("d")).unwrap().next().is_none());
}

#[test]
fn chmod_in_containers_and_on_the_host() {
    let Some(mut sb) = Sandbox::new("chmod") else {
        return;
    };
    let c = sb.run("run", BUSYBOX, &[]);
    let s = sb.create("stopped", BUSYBOX);
    sb.exec(
        &c,
        &[
            "sh",
            "-c",
            "mkdir -p /t/d/e && touch /t/d/e/f /t/g && chmod 644 /t/g && ln -s /etc/passwd /t/d/l",
        ],
    );
    let sh = TestShell::new();
    let t = format!("/containers/{c}/t");

    let r = sh.c(&format!(
        "chmod -v 600 {t}/g; chmod -c 600 {t}/g; chmod u+x,g=u,o-rwx {t}/g"
    ));
    assert_eq!(
        r.ok(),
        format!("mode of '{t}/g' changed from 0644 (rw-r--r--) to 0600 (rw-------)\n")
    );
    assert_eq!(stat(&sb, &c, "%a", "/t/g"), "770");

    // -R does not follow the symlink it meets.
    let r = sh.c(&format!("chmod -R go-rwx {t}/d"));
    assert_eq!(r.ok(), "");
    assert_eq!(stat(&sb, &c, "%a", "/t/d"), "700");
    assert_eq!(stat(&sb, &c, "%a", "/t/d/e"), "700");
    assert_eq!(stat(&sb, &c, "%a", "/t/d/e/f"), "600");
    assert_eq!(stat(&sb, &c, "%a", "/etc/passwd"), "644");

    let r = sh.c(&format!("chmod 755 {t}/nope {t}/g"));
    assert_eq!(
        r.stderr,
        format!("dockerbox: chmod: cannot access '{t}/nope': No such file or directory\n")
    );
    assert_eq!(r.status, 1);
    assert_eq!(stat(&sb, &c, "%a", "/t/g"), "755");
    let r = sh.c(&format!("chmod a+q {t}/g"));
    assert_eq!(
        r.stderr,
        "dockerbox: chmod: invalid mode: 'a+q'\nTry 'help chmod' for more information.\n"
    );
    assert_eq!(r.status, 2);

    let st = format!("/containers/{s}");
    let r = sh.c(&format!("chmod 600 {st}/etc/passwd"));
    assert_eq!(
        r.stderr,
        not_running(
            "chmod",
            &format!("changing permissions of '{st}/etc/passwd'")
        )
    );
    assert_eq!(r.status, 1);

    // The host, octal and symbolic; a setgid directory keeps its bit under a short octal mode.
    let h = sh.home.path();
    let mode = |p: &str| std::fs::metadata(h.join(p)).unwrap().permissions().mode() & 0o7777;
    sh.c("mkdir -p d/e; touch d/e/f; chmod 2775 d; chmod -R 750 d; chmod o+t,g-w d/e")
        .ok();
    assert_eq!(mode("d"), 0o2750);
    assert_eq!(mode("d/e"), 0o1750);
    assert_eq!(mode("d/e/f"), 0o750);
}
