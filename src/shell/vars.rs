//! How expansion sees the shell's variables: [`syntax::Env`](crate::syntax::Env) over the
//! context's `Vars` (`context/vars.rs`), with `$PWD` the logical directory.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::Shell;
use crate::context::{Key, Value};
use crate::syntax::{Assignment, Env, ExpandError};

impl Env for Shell {
    fn var_bytes(&self, name: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
        // The specials are made on the fly; any other name is stored as it is.
        let special = !name
            .first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
            || matches!(
                name,
                b"LINENO"
                    | b"_"
                    | b"PPID"
                    | b"UID"
                    | b"EUID"
                    | b"BASHPID"
                    | b"SECONDS"
                    | b"OSTYPE"
                    | b"HOSTNAME"
                    | b"PIPESTATUS"
                    | b"RANDOM"
            );
        if special {
            return self
                .var(name)
                .map(|v| std::borrow::Cow::Owned(v.into_vec()));
        }
        self.vars.get(name).map(std::borrow::Cow::Borrowed)
    }

    fn var(&self, name: &[u8]) -> Option<OsString> {
        let os = |b: &[u8]| OsStr::from_bytes(b).to_os_string();
        match name {
            b"$" => Some(std::process::id().to_string().into()),
            b"#" => Some(self.args.len().to_string().into()),
            b"0" => Some(self.arg0.clone()),
            b"-" => {
                let mut f = self.opts.flags();
                if self.interactive {
                    f.push('i');
                }
                Some(f.into())
            }
            b"!" => self.last_bg.map(|n| n.to_string().into()),
            b"@" | b"*" => Some(OsString::from_vec(
                self.args
                    .iter()
                    .map(|a| a.as_bytes())
                    .collect::<Vec<_>>()
                    .join(&b" "[..]),
            )),
            b"LINENO" => Some(self.lineno.to_string().into()),
            b"_" => Some(self.last_arg.clone()),
            // The process's own, whatever the environment says (bash makes them readonly).
            b"PPID" => Some(std::os::unix::process::parent_id().to_string().into()),
            // SAFETY: getuid and geteuid cannot fail.
            b"UID" => Some(unsafe { libc::getuid() }.to_string().into()),
            b"EUID" => Some(unsafe { libc::geteuid() }.to_string().into()),
            b"BASHPID" => Some(self.bashpid.to_string().into()),
            b"SECONDS" if self.vars.get(b"SECONDS").is_none() => {
                Some(self.started.elapsed().as_secs().to_string().into())
            }
            b"OSTYPE" if self.vars.get(b"OSTYPE").is_none() => Some("linux-gnu".into()),
            b"HOSTNAME" if self.vars.get(b"HOSTNAME").is_none() => {
                let h = std::fs::read("/proc/sys/kernel/hostname").unwrap_or_default();
                Some(OsString::from_vec(h.trim_ascii_end().to_vec()))
            }
            b"PIPESTATUS" => self.pipestatus.first().map(|s| s.to_string().into()),
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

    fn is_assoc(&self, name: &[u8]) -> bool {
        self.vars.is_assoc(name)
    }

    fn is_array(&self, name: &[u8]) -> bool {
        name == b"PIPESTATUS" || matches!(self.vars.value(name), Some(Value::Indexed(_)))
    }

    fn elem(&self, name: &[u8], key: &Key) -> Option<OsString> {
        match (name, key) {
            (b"PIPESTATUS", Key::Index(i)) => {
                let i = if *i < 0 {
                    self.pipestatus.len() as i64 + i
                } else {
                    *i
                };
                let i = usize::try_from(i).ok()?;
                self.pipestatus.get(i).map(|s| s.to_string().into())
            }
            (_, Key::Index(0)) if self.vars.value(name).is_none() => self.var(name),
            _ => self
                .vars
                .elem(name, key)
                .map(|v| OsStr::from_bytes(v).to_os_string()),
        }
    }

    fn elems(&self, name: &[u8]) -> Option<Vec<(Key, OsString)>> {
        let os = |b: &[u8]| OsStr::from_bytes(b).to_os_string();
        if name == b"PIPESTATUS" {
            return Some(
                self.pipestatus
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (Key::Index(i as i64), s.to_string().into()))
                    .collect(),
            );
        }
        match self.vars.value(name) {
            Some(Value::Indexed(m)) => {
                Some(m.iter().map(|(k, v)| (Key::Index(*k), os(v))).collect())
            }
            Some(Value::Assoc(m)) => Some(
                m.iter()
                    .map(|(k, v)| (Key::Name(k.clone()), os(v)))
                    .collect(),
            ),
            _ => self.var(name).map(|v| vec![(Key::Index(0), v)]),
        }
    }

    fn set_elem(&mut self, name: &[u8], key: Key, value: Vec<u8>) -> Result<(), String> {
        if self.vars.is_readonly(name) {
            return Err(format!(
                "{}: readonly variable",
                String::from_utf8_lossy(name)
            ));
        }
        self.vars.set_elem(name, key, value)
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

impl Shell {
    /// An assignment with an array or a subscript, or `+=`: `a=(x [3]=y)`, `a[i]=v`, `s+=x`.
    pub(super) fn assign_compound(&mut self, a: &Assignment) -> Result<(), ExpandError> {
        let name = a.name.as_slice();
        if self.vars.is_readonly(name) {
            return Err(ExpandError::Failed(format!(
                "{}: readonly variable",
                String::from_utf8_lossy(name)
            )));
        }
        if let Some(elems) = &a.array {
            return self.assign_array(name, elems, a.append);
        }
        let v = crate::syntax::expand_string(&a.value, self)?;
        if let Some(index) = &a.index {
            let key = crate::syntax::subscript(self, name, index)?;
            let v = if a.append {
                let mut old = self
                    .elem(name, &key)
                    .map(OsString::into_vec)
                    .unwrap_or_default();
                old.extend_from_slice(&v);
                old
            } else {
                v
            };
            return self.set_elem(name, key, v).map_err(ExpandError::Failed);
        }
        let mut old = if a.append {
            self.vars.get(name).map(<[u8]>::to_vec).unwrap_or_default()
        } else {
            Vec::new()
        };
        old.extend_from_slice(&v);
        self.assign(name, old).map_err(ExpandError::Failed)
    }

    /// `a=(...)` / `a+=(...)`: elements in order from 0 (or after the last), `[k]=v` ones at
    /// their subscript.
    pub(super) fn assign_array(
        &mut self,
        name: &[u8],
        elems: &[crate::syntax::Word],
        append: bool,
    ) -> Result<(), ExpandError> {
        let assoc = self.vars.is_assoc(name);
        let mut value = match (append, self.vars.value(name)) {
            (true, Some(v @ (Value::Indexed(_) | Value::Assoc(_)))) => v.clone(),
            (true, Some(Value::Str(s))) => Value::Indexed([(0, s.clone())].into()),
            _ if assoc => Value::Assoc(Default::default()),
            _ => Value::Indexed(Default::default()),
        };
        let mut pending_key: Option<Vec<u8>> = None;
        let mut next = match &value {
            Value::Indexed(m) => m.keys().next_back().map_or(0, |k| k + 1),
            _ => 0,
        };
        for w in elems {
            if let Some((k, v)) = crate::syntax::parse::element(w) {
                let text = crate::syntax::expand_string(&k, self)?;
                let v = crate::syntax::expand_string(&v, self)?;
                match &mut value {
                    Value::Assoc(m) => {
                        m.insert(text, v);
                    }
                    Value::Indexed(m) => {
                        let i =
                            crate::syntax::arith::eval(&text, self).map_err(ExpandError::Failed)?;
                        m.insert(i, v);
                        next = i + 1;
                    }
                    Value::Str(_) => {}
                }
                continue;
            }
            let mut fields = Vec::new();
            for b in crate::syntax::brace::expand(w) {
                fields.extend(crate::syntax::word_fields(&b, self, true)?);
            }
            for f in fields {
                match &mut value {
                    Value::Indexed(m) => {
                        m.insert(next, f.bytes);
                        next += 1;
                    }
                    // bash 5.2: `m=(k1 v1 k2 v2)` pairs them.
                    Value::Assoc(m) => match pending_key.take() {
                        Some(k) => {
                            m.insert(k, f.bytes);
                        }
                        None => pending_key = Some(f.bytes),
                    },
                    Value::Str(_) => {}
                }
            }
        }
        if let (Some(k), Value::Assoc(m)) = (pending_key, &mut value) {
            m.insert(k, Vec::new());
        }
        self.vars.set_value(name, value);
        Ok(())
    }
}
