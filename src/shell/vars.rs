//! How expansion sees the shell's variables: [`syntax::Env`](crate::syntax::Env) over the
//! context's `Vars` (`context/vars.rs`), with `$PWD` the logical directory.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::Shell;
use crate::syntax::Env;

impl Env for Shell {
    fn var(&self, name: &[u8]) -> Option<OsString> {
        let os = |b: &[u8]| OsStr::from_bytes(b).to_os_string();
        match name {
            b"$" => Some(std::process::id().to_string().into()),
            b"#" => Some(self.args.len().to_string().into()),
            b"0" => Some(self.arg0.clone()),
            b"-" => Some(self.opts.flags().into()),
            b"!" => self.last_bg.map(|n| n.to_string().into()),
            b"@" | b"*" => Some(OsString::from_vec(
                self.args
                    .iter()
                    .map(|a| a.as_bytes())
                    .collect::<Vec<_>>()
                    .join(&b" "[..]),
            )),
            b"LINENO" => Some(self.lineno.to_string().into()),
            b"RANDOM" => {
                // xorshift: not for secrets, as bash's.
                let mut x = self.random.get();
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                self.random.set(x);
                Some(((x >> 8) % 32768).to_string().into())
            }
            n if n.first().is_some_and(u8::is_ascii_digit) => {
                let i: usize = std::str::from_utf8(n).ok()?.parse().ok()?;
                self.args.get(i.checked_sub(1)?).cloned()
            }
            // The directory as the user sees it, which may be inside a container.
            b"PWD" => Some(self.cwd.clone().into_os_string()),
            b"OLDPWD" => self.oldpwd.clone().map(|p| p.into_os_string()),
            n => self.vars.get(n).map(os),
        }
    }

    fn last_status(&self) -> i32 {
        self.status
    }

    fn positional(&self) -> Vec<OsString> {
        self.args.clone()
    }

    fn set_var(&mut self, name: &[u8], value: Vec<u8>) -> Result<(), String> {
        if !crate::context::is_name(name) {
            return Err(format!(
                "${}: cannot assign in this way",
                String::from_utf8_lossy(name)
            ));
        }
        self.assign(name, value)
    }

    fn command_sub(&mut self, list: &crate::syntax::List) -> Vec<u8> {
        self.capture(list)
    }

    fn proc_sub(&mut self, list: &crate::syntax::List, out: bool) -> Result<Vec<u8>, String> {
        self.process_sub(list, out)
    }

    fn nounset(&self) -> bool {
        self.opts.nounset
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
