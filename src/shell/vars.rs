//! How expansion sees the shell's variables: [`syntax::Env`](crate::syntax::Env) over the
//! context's `Vars` (`context/vars.rs`), with `$PWD` the logical directory.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use super::Shell;
use crate::syntax::Env;

impl Env for Shell {
    fn var(&self, name: &[u8]) -> Option<OsString> {
        let os = |b: &[u8]| OsStr::from_bytes(b).to_os_string();
        match name {
            b"$" => Some(std::process::id().to_string().into()),
            b"#" => Some("0".into()),
            b"0" => Some("dockerbox".into()),
            // The directory as the user sees it, which may be inside a container.
            b"PWD" => Some(self.cwd.clone().into_os_string()),
            b"OLDPWD" => self.oldpwd.clone().map(|p| p.into_os_string()),
            n if n.first().is_some_and(u8::is_ascii_digit) => None,
            n => self.vars.get(n).map(os),
        }
    }

    fn last_status(&self) -> i32 {
        self.status
    }

    fn home(&self) -> Option<OsString> {
        self.vars.get_os("HOME")
    }

    /// From the host's /etc/passwd.
    fn user_home(&self, user: &[u8]) -> Option<OsString> {
        let passwd = std::fs::read("/etc/passwd").ok()?;
        passwd.split(|&b| b == b'\n').find_map(|line| {
            let fields: Vec<&[u8]> = line.split(|&b| b == b':').collect();
            (fields.len() >= 6 && fields[0] == user).then(|| OsStr::from_bytes(fields[5]).into())
        })
    }
}
