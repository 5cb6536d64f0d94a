//! `cd` and `pwd` across the host and the container tree.

use crate::util::{Sandbox, TestShell, BUSYBOX};

#[test]
fn cd_and_pwd_cross_the_boundary() {
    let Some(mut sb) = Sandbox::new("cd") else {
        return;
    };
    let c = sb.create("c", BUSYBOX);
    let sh = TestShell::new();
    let home = sh.home.path().display().to_string();
    let script = format!("cd /containers/{c}/etc; pwd; cd ..; pwd; cd ..; pwd; cd {c}; pwd; cd etc; pwd; cd -; pwd; cd ~; pwd; cd /containers/{c}/..; pwd; cd; pwd");
    let out = sh.c(&script).ok();
    let want = [
        format!("/containers/{c}/etc"),
        format!("/containers/{c}"),
        "/containers".to_string(),
        format!("/containers/{c}"),
        format!("/containers/{c}/etc"),
        format!("/containers/{c}"), // printed by cd -
        format!("/containers/{c}"),
        home.clone(),
        "/containers".to_string(),
        home,
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), want);
}

#[test]
fn cd_errors() {
    let Some(mut sb) = Sandbox::new("cderr") else {
        return;
    };
    let c = sb.create("c", BUSYBOX);
    let sh = TestShell::new();
    let r = sh.c("cd /containers/dbx-ghost; pwd");
    assert_eq!(
        r.stderr,
        "dockerbox: cd: /containers/dbx-ghost: No such container\n"
    );
    assert_eq!(r.status, 0, "the last command (pwd) decides");
    let r = sh.c(&format!("cd /containers/{c}/etc/passwd"));
    assert_eq!(
        r.stderr,
        format!("dockerbox: cd: /containers/{c}/etc/passwd: Not a directory\n")
    );
    assert_eq!(r.status, 1);
    let r = sh.c(&format!("cd /containers/{c}; cd nope"));
    assert_eq!(r.stderr, "dockerbox: cd: nope: No such file or directory\n");
    assert_eq!(r.status, 1);
    let r = sh.c("cd -");
    assert_eq!(r.stderr, "dockerbox: cd: OLDPWD not set\n");
    let r = sh.c("cd /nonexistent-dbx");
    assert_eq!(
        r.stderr,
        "dockerbox: cd: /nonexistent-dbx: No such file or directory\n"
    );
}
