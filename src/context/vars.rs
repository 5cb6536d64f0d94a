//! Shell variables: the environment dockerbox started with (all exported) plus what `A=b`,
//! `export` and `unset` change. Exported ones are host programs' environment; the process's own
//! environment is never changed (other threads read it). The shell's expansion reads them
//! through its `syntax::Env`, with `$PWD` the logical directory.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

#[derive(Debug, Clone, Default)]
pub struct Vars(BTreeMap<Vec<u8>, Var>);

#[derive(Debug, Clone)]
struct Var {
    /// `None`: exported by name before it has a value (`export X`).
    value: Option<Vec<u8>>,
    exported: bool,
}

/// Whether `name` can be a variable: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_name(name: &[u8]) -> bool {
    matches!(name.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
        && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

impl Vars {
    /// The process environment, every variable exported.
    pub fn from_env() -> Vars {
        let mut v = Vars::default();
        for (k, val) in std::env::vars_os() {
            v.0.insert(
                k.into_vec(),
                Var {
                    value: Some(val.into_vec()),
                    exported: true,
                },
            );
        }
        v
    }

    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.0.get(name).and_then(|v| v.value.as_deref())
    }

    pub fn get_os(&self, name: &str) -> Option<OsString> {
        self.get(name.as_bytes())
            .map(|v| OsStr::from_bytes(v).to_os_string())
    }

    /// `NAME=value`: an exported variable stays exported.
    pub fn set(&mut self, name: &[u8], value: Vec<u8>) {
        match self.0.get_mut(name) {
            Some(v) => v.value = Some(value),
            None => {
                self.0.insert(
                    name.to_vec(),
                    Var {
                        value: Some(value),
                        exported: false,
                    },
                );
            }
        }
    }

    /// `export NAME[=value]`.
    pub fn export(&mut self, name: &[u8], value: Option<Vec<u8>>) {
        let v = self.0.entry(name.to_vec()).or_insert(Var {
            value: None,
            exported: true,
        });
        v.exported = true;
        if value.is_some() {
            v.value = value;
        }
    }

    /// `export -n NAME`: a shell variable again.
    pub fn unexport(&mut self, name: &[u8]) {
        if let Some(v) = self.0.get_mut(name) {
            v.exported = false;
        }
    }

    pub fn unset(&mut self, name: &[u8]) {
        self.0.remove(name);
    }

    /// Exported variables with a value, sorted: a host program's environment.
    pub fn exported(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.0
            .iter()
            .filter(|(_, v)| v.exported)
            .filter_map(|(k, v)| Some((k.as_slice(), v.value.as_deref()?)))
    }

    /// Every exported name, with its value if it has one (`export -p`).
    pub fn exported_names(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        self.0
            .iter()
            .filter(|(_, v)| v.exported)
            .map(|(k, v)| (k.as_slice(), v.value.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_export_unset() {
        let mut v = Vars::default();
        v.set(b"A", b"1".to_vec());
        assert_eq!(v.exported().count(), 0);
        v.export(b"A", None);
        assert_eq!(v.exported().collect::<Vec<_>>(), [(&b"A"[..], &b"1"[..])]);
        v.set(b"A", b"2".to_vec());
        assert_eq!(v.get(b"A"), Some(&b"2"[..]));
        assert_eq!(v.exported().count(), 1, "stays exported");
        v.export(b"B", None);
        assert_eq!(v.exported().count(), 1, "no value yet");
        assert_eq!(v.exported_names().count(), 2);
        v.set(b"B", b"x".to_vec());
        assert_eq!(v.exported().count(), 2);
        v.unexport(b"A");
        v.unset(b"B");
        assert_eq!(v.exported().count(), 0);
        assert_eq!(v.get(b"A"), Some(&b"2"[..]));
        assert!(is_name(b"_a1") && !is_name(b"1a") && !is_name(b"") && !is_name(b"a-b"));
    }
}
