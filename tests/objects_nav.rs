//! The object trees (`/images`, `/volumes`, `/apps`, `/meta`) navigated as `/containers` is:
//! Tab completion (through `--complete-command`, the completer the REPL uses), globs, `cd` and
//! `pwd` (also through an `/apps` link), `ls` colours, and one-line errors (ENOENT, EROFS).

use std::process::{Command, Stdio};

use crate::util::{docker, Sandbox, TestShell, BUSYBOX};

/// A tag (on busybox) and a volume made for one test, removed when it ends.
struct Objects {
    tag: String,
    volume: String,
}

impl Objects {
    fn new(pid_tag: &str) -> Objects {
        let me = std::process::id();
        let tag = format!("dbxnav{pid_tag}{me}/app:v1");
        docker(&["tag", BUSYBOX, &tag]);
        let volume = format!("dbxnav{pid_tag}{me}");
        docker(&["volume", "create", "--label", "dockerbox.test=1", &volume]);
        Objects { tag, volume }
    }
}

impl Drop for Objects {
    fn drop(&mut self) {
        for args in [
            vec!["rmi", &self.tag],
            vec!["volume", "rm", "-f", &self.volume],
        ] {
            let _ = Command::new("docker")
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// What `--complete-command LINE` offers, one per line.
fn complete(sh: &TestShell, line: &str) -> String {
    sh.args(&["--complete-command", line]).out()
}

#[test]
fn object_trees_complete_glob_cd_and_colour() {
    let Some(mut sb) = Sandbox::new("objnav") else {
        return;
    };
    let me = std::process::id();
    let obj = Objects::new("v");
    let (repo, vol) = (format!("dbxnavv{me}"), obj.volume.clone());
    let dir = docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", &vol]);
    std::fs::create_dir_all(format!("{dir}/sub/deeper")).expect("mkdir");
    std::fs::write(format!("{dir}/sub/file"), "in the volume\n").expect("write");
    let project = format!("dbxnavp{me}");
    let running = sb.run(
        "web",
        BUSYBOX,
        &[
            "--label",
            &format!("com.docker.compose.project={project}"),
            "--label",
            "com.docker.compose.service=web",
            "--label",
            "com.docker.compose.container-number=1",
        ],
    );
    let stopped = sb.create("stopped", BUSYBOX);
    let sh = TestShell::new();

    // Tab: each tree's names, then paths inside an image, a volume and a link.
    assert_eq!(
        complete(&sh, &format!("ls /images/{}", &repo[..repo.len() - 1])),
        format!("ls /images/{repo}/\n")
    );
    assert_eq!(
        complete(&sh, &format!("ls /images/{repo}/ap")),
        format!("ls /images/{repo}/app:v1/\n")
    );
    assert_eq!(
        complete(&sh, &format!("ls /images/{repo}/app:v1/et")),
        format!("ls /images/{repo}/app:v1/etc/\n")
    );
    assert_eq!(
        complete(&sh, &format!("cat /volumes/{}", &vol[..vol.len() - 1])),
        format!("cat /volumes/{vol}/\n")
    );
    assert_eq!(
        complete(&sh, &format!("cat /volumes/{vol}/sub/fi")),
        format!("cat /volumes/{vol}/sub/file \n")
    );
    assert_eq!(
        complete(&sh, &format!("cd /apps/{}", &project[..project.len() - 1])),
        format!("cd /apps/{project}/\n")
    );
    assert_eq!(
        complete(&sh, &format!("cd /apps/{project}/web/et")),
        format!("cd /apps/{project}/web/etc/\n")
    );
    assert_eq!(
        complete(&sh, &format!("cat /meta/containers/{running}/stat")),
        format!(
            "cat /meta/containers/{running}/state\ncat /meta/containers/{running}/stats.json\n"
        )
    );

    // Globs over /meta: one path per container, in order, and their values.
    let prefix = &running[..running.len() - "web".len()];
    let out = sh
        .c(&format!(
            "echo /meta/containers/{prefix}*/state; cat /meta/containers/{prefix}*/state"
        ))
        .ok();
    assert_eq!(
        out,
        format!(
            "/meta/containers/{stopped}/state /meta/containers/{running}/state\ncreated\nrunning\n"
        )
    );
    let out = sh.c(&format!("echo /images/{repo}/*")).ok();
    assert_eq!(out, format!("/images/{repo}/app:v1\n"));

    // cd into a volume's directory and through a service link.
    let out = sh
        .c(&format!(
            "cd /volumes/{vol}/sub; pwd; ls; cat file; cd /apps/{project}/web/etc; pwd; ls -d passwd; cd ..; pwd"
        ))
        .ok();
    assert_eq!(
        out,
        format!(
            "/volumes/{vol}/sub\ndeeper\nfile\nin the volume\n/apps/{project}/web/etc\npasswd\n/apps/{project}/web\n"
        )
    );
    let out = sh
        .c(&format!("cd /images/{repo}/app:v1/etc; pwd; ls -d group"))
        .ok();
    assert_eq!(out, format!("/images/{repo}/app:v1/etc\ngroup\n"));

    // Colours by kind: images magenta, volumes cyan, projects bold yellow.
    let col = TestShell::new().opts(&["--color", "always"]);
    let out = col.c(&format!("ls /images/{repo}")).ok();
    assert_eq!(out, "\x1b[35mapp:v1\x1b[0m\n", "{out:?}");
    let out = col
        .c(&format!(
            "ls -d /volumes/{vol} /apps/{project} /images/{repo}/app:v1"
        ))
        .ok();
    assert_eq!(
        out,
        format!(
            "\x1b[1;33m/apps/{project}\x1b[0m\n\x1b[35m/images/{repo}/app:v1\x1b[0m\n\x1b[36m/volumes/{vol}\x1b[0m\n"
        )
    );
}

#[test]
fn object_trees_fail_in_one_line() {
    let Some(mut sb) = Sandbox::new("objerr") else {
        return;
    };
    let me = std::process::id();
    let obj = Objects::new("e");
    let repo = format!("dbxnave{me}");
    let c = sb.create("c", BUSYBOX);
    let sh = TestShell::new();
    let cases = [
        (
            "cat /images/nope:1/x".to_string(),
            "dockerbox: cat: /images/nope:1/x: No such file or directory\n".to_string(),
        ),
        (
            format!("echo x > /images/{repo}/app:v1/etc/new"),
            format!("dockerbox: /images/{repo}/app:v1/etc/new: Read-only file system\n"),
        ),
        (
            format!("cp /etc/hostname /images/{repo}/app:v1/etc/"),
            format!(
                "dockerbox: cp: cannot create regular file '/images/{repo}/app:v1/etc/hostname': Read-only file system\n"
            ),
        ),
        (
            format!("echo x > /meta/containers/{c}/id"),
            format!("dockerbox: /meta/containers/{c}/id: Read-only file system\n"),
        ),
        (
            format!("mkdir /volumes/{}/x/y", obj.volume),
            format!(
                "dockerbox: mkdir: cannot create directory '/volumes/{}/x/y': No such file or directory\n",
                obj.volume
            ),
        ),
        (
            "cd /apps/nope-project".to_string(),
            "dockerbox: cd: /apps/nope-project: No such file or directory\n".to_string(),
        ),
    ];
    for (line, want) in cases {
        let r = sh.c(&line);
        assert_eq!(r.stderr, want, "{line}");
        assert_ne!(r.status, 0, "{line}");
    }
}
