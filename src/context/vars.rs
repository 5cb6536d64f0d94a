//! Shell variables: the environment dockerbox started with (all exported) plus what `A=b`,
//! `export` and `unset` change. Exported ones are host programs' environment; the process's own
//! environment is never changed (other threads read it). The shell's expansion reads them
//! through its `syntax::Env`, with `$PWD` the logical directory. A variable is a string, an
//! indexed array (sparse, as bash's) or an associative one; arrays are never exported, and a
//! scalar use of an array (`$a`, `a=x`) means its element 0, as in bash.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

pub use crate::syntax::Key;

/// By name, hashed (a loop reads and sets variables every turn); listings sort.
#[derive(Debug, Clone, Default)]
pub struct Vars(HashMap<Vec<u8>, Var, crate::syntax::FastHash>);

/// One variable with its attributes; [`Vars::save`] and [`Vars::restore`] move it whole (for
/// `local` and prefix assignments).
#[derive(Debug, Clone)]
pub struct Var {
    /// `None`: declared by name before it has a value (`export X`, `local x`).
    value: Option<Value>,
    exported: bool,
    readonly: bool,
}

/// What a variable holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(Vec<u8>),
    /// `a=(x y)`, `a[5]=z`: elements by index, in index order.
    Indexed(BTreeMap<i64, Vec<u8>>),
    /// `declare -A m; m[k]=v`: elements by key, in key order.
    Assoc(BTreeMap<Vec<u8>, Vec<u8>>),
}

impl Value {
    /// The scalar meaning: the string, or element 0.
    fn scalar(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => Some(s),
            Value::Indexed(m) => m.get(&0).map(Vec::as_slice),
            Value::Assoc(m) => m.get(&b"0"[..]).map(Vec::as_slice),
        }
    }
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
                    value: Some(Value::Str(val.into_vec())),
                    exported: true,
                    readonly: false,
                },
            );
        }
        v
    }

    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.0.get(name).and_then(|v| v.value.as_ref()?.scalar())
    }

    /// The whole value, arrays included.
    pub fn value(&self, name: &[u8]) -> Option<&Value> {
        self.0.get(name).and_then(|v| v.value.as_ref())
    }

    /// Whether `name` is an associative array (its subscripts are strings, not arithmetic).
    pub fn is_assoc(&self, name: &[u8]) -> bool {
        matches!(self.value(name), Some(Value::Assoc(_)))
    }

    /// One element; a string is element 0 of itself. A negative index counts from the end.
    pub fn elem(&self, name: &[u8], key: &Key) -> Option<&[u8]> {
        match (self.value(name)?, key) {
            (Value::Str(s), Key::Index(0 | -1)) => Some(s),
            (Value::Indexed(m), Key::Index(i)) => {
                let i = if *i < 0 {
                    m.keys().next_back().map_or(*i, |last| last + 1 + i)
                } else {
                    *i
                };
                m.get(&i).map(Vec::as_slice)
            }
            (Value::Assoc(m), Key::Name(k)) => m.get(k).map(Vec::as_slice),
            (Value::Assoc(m), Key::Index(i)) => m.get(i.to_string().as_bytes()).map(Vec::as_slice),
            _ => None,
        }
    }

    /// `declare x`, `local x`: the name exists without a value.
    pub fn declare(&mut self, name: &[u8]) {
        self.0.entry(name.to_vec()).or_insert(Var {
            value: None,
            exported: false,
            readonly: false,
        });
    }

    /// The variable as it is now, attributes included, to put back later.
    pub fn save(&self, name: &[u8]) -> Option<Var> {
        self.0.get(name).cloned()
    }

    /// Puts back what [`Vars::save`] gave (`None`: there was no such variable).
    pub fn restore(&mut self, name: &[u8], saved: Option<Var>) {
        match saved {
            Some(v) => {
                self.0.insert(name.to_vec(), v);
            }
            None => {
                self.0.remove(name);
            }
        }
    }

    /// Replaces the whole value (`a=(x y)`), keeping the attributes.
    pub fn set_value(&mut self, name: &[u8], value: Value) {
        self.0
            .entry(name.to_vec())
            .or_insert(Var {
                value: None,
                exported: false,
                readonly: false,
            })
            .value = Some(value);
    }

    /// `a[k]=v`: a missing variable becomes an indexed array, a string becomes element 0 of
    /// one. `Err` names a negative index past the start.
    pub fn set_elem(&mut self, name: &[u8], key: Key, value: Vec<u8>) -> Result<(), String> {
        let var = self.0.entry(name.to_vec()).or_insert(Var {
            value: None,
            exported: false,
            readonly: false,
        });
        let current = var.value.take();
        let mut v = match current {
            None => Value::Indexed(BTreeMap::new()),
            Some(Value::Str(s)) => Value::Indexed(BTreeMap::from([(0, s)])),
            Some(other) => other,
        };
        let result = match (&mut v, key) {
            (Value::Indexed(m), Key::Index(i)) => {
                let i = if i < 0 {
                    m.keys().next_back().map_or(i, |last| last + 1 + i)
                } else {
                    i
                };
                if i < 0 {
                    Err(format!(
                        "{}[{i}]: bad array subscript",
                        String::from_utf8_lossy(name)
                    ))
                } else {
                    m.insert(i, value);
                    Ok(())
                }
            }
            (Value::Assoc(m), Key::Name(k)) => {
                m.insert(k, value);
                Ok(())
            }
            (Value::Assoc(m), Key::Index(i)) => {
                m.insert(i.to_string().into_bytes(), value);
                Ok(())
            }
            (Value::Indexed(m), Key::Name(k)) => {
                let i = std::str::from_utf8(&k)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                m.insert(i, value);
                Ok(())
            }
            (Value::Str(_), _) => Ok(()),
        };
        var.value = Some(v);
        result
    }

    /// `unset 'a[k]'`.
    pub fn unset_elem(&mut self, name: &[u8], key: &Key) {
        let Some(var) = self.0.get_mut(name) else {
            return;
        };
        if var.readonly {
            return;
        }
        match (&mut var.value, key) {
            (Some(Value::Indexed(m)), Key::Index(i)) => {
                let i = if *i < 0 {
                    m.keys().next_back().map_or(*i, |last| last + 1 + i)
                } else {
                    *i
                };
                m.remove(&i);
            }
            (Some(Value::Assoc(m)), Key::Name(k)) => {
                m.remove(k);
            }
            (Some(Value::Assoc(m)), Key::Index(i)) => {
                m.remove(i.to_string().as_bytes());
            }
            (Some(Value::Str(_)), Key::Index(0 | -1)) => {
                self.0.remove(name);
            }
            _ => {}
        }
    }

    /// The variables sorted by name.
    fn sorted(&self) -> Vec<(&[u8], &Var)> {
        let mut all: Vec<_> = self.0.iter().map(|(k, v)| (k.as_slice(), v)).collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all
    }

    /// Every variable with its value and attributes, sorted (`declare -p`).
    pub fn declared(&self) -> impl Iterator<Item = (&[u8], Option<&Value>, bool, bool)> {
        self.sorted()
            .into_iter()
            .map(|(k, v)| (k, v.value.as_ref(), v.exported, v.readonly))
    }

    /// One variable with its value and attributes (`declare -p NAME`).
    pub fn declared_one(&self, name: &[u8]) -> Option<(Option<&Value>, bool, bool)> {
        self.0
            .get(name)
            .map(|v| (v.value.as_ref(), v.exported, v.readonly))
    }

    pub fn get_os(&self, name: &str) -> Option<OsString> {
        self.get(name.as_bytes())
            .map(|v| OsStr::from_bytes(v).to_os_string())
    }

    /// `NAME=value`, refused (false) for a readonly variable: one lookup for both.
    pub fn set_unless_readonly(&mut self, name: &[u8], value: Vec<u8>) -> bool {
        match self.0.get_mut(name) {
            Some(v) if v.readonly => false,
            Some(v) => {
                Self::put(v, value);
                true
            }
            None => {
                self.set(name, value);
                true
            }
        }
    }

    /// A scalar value into `v`: element 0 of an array.
    fn put(v: &mut Var, value: Vec<u8>) {
        match &mut v.value {
            Some(Value::Indexed(m)) => {
                m.insert(0, value);
            }
            Some(Value::Assoc(m)) => {
                m.insert(b"0".to_vec(), value);
            }
            slot => *slot = Some(Value::Str(value)),
        }
    }

    /// `NAME=value`: an exported variable stays exported.
    pub fn set(&mut self, name: &[u8], value: Vec<u8>) {
        match self.0.get_mut(name) {
            Some(v) => Self::put(v, value),
            None => {
                self.0.insert(
                    name.to_vec(),
                    Var {
                        value: Some(Value::Str(value)),
                        exported: false,
                        readonly: false,
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
            readonly: false,
        });
        v.exported = true;
        if let Some(value) = value {
            v.value = Some(Value::Str(value));
        }
    }

    /// `export -n NAME`: a shell variable again.
    pub fn unexport(&mut self, name: &[u8]) {
        if let Some(v) = self.0.get_mut(name) {
            v.exported = false;
        }
    }

    pub fn unset(&mut self, name: &[u8]) {
        if !self.is_readonly(name) {
            self.0.remove(name);
        }
    }

    pub fn is_readonly(&self, name: &[u8]) -> bool {
        self.0.get(name).is_some_and(|v| v.readonly)
    }

    /// `readonly NAME`.
    pub fn set_readonly(&mut self, name: &[u8]) {
        self.0
            .entry(name.to_vec())
            .or_insert(Var {
                value: None,
                exported: false,
                readonly: false,
            })
            .readonly = true;
    }

    /// Every variable with a value, sorted (`set`).
    pub fn all(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.sorted()
            .into_iter()
            .filter_map(|(k, v)| match &v.value {
                Some(Value::Str(s)) => Some((k, s.as_slice())),
                _ => None,
            })
    }

    /// Exported variables with a string value, sorted: a host program's environment.
    pub fn exported(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.sorted()
            .into_iter()
            .filter(|(_, v)| v.exported)
            .filter_map(|(k, v)| match &v.value {
                Some(Value::Str(s)) => Some((k, s.as_slice())),
                _ => None,
            })
    }

    /// Every exported name, with its value if it has one (`export -p`).
    pub fn exported_names(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        self.sorted()
            .into_iter()
            .filter(|(_, v)| v.exported)
            .map(|(k, v)| (k, v.value.as_ref().and_then(Value::scalar)))
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
