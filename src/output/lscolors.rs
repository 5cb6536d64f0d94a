//! `LS_COLORS`, read the way GNU ls reads it, with GNU ls's built-in defaults underneath.

use std::collections::HashMap;

use crate::vfs::{Entry, Kind};

/// SGR codes by indicator (`di`, `ln`, ...) and by file extension (`*.tar`).
#[derive(Debug, Clone)]
pub struct LsColors {
    keys: HashMap<String, String>,
    exts: Vec<(String, String)>,
}

/// GNU ls's colours when LS_COLORS says nothing (coreutils `ls.c`, `color_indicator`).
const DEFAULTS: &[(&str, &str)] = &[
    ("di", "01;34"),
    ("ln", "01;36"),
    ("pi", "33"),
    ("so", "01;35"),
    ("bd", "01;33"),
    ("cd", "01;33"),
    ("ex", "01;32"),
    ("do", "01;35"),
    ("su", "37;41"),
    ("sg", "30;43"),
    ("st", "37;44"),
    ("ow", "34;42"),
    ("tw", "30;42"),
];

impl LsColors {
    /// Defaults overlaid with `spec` (the value of LS_COLORS; empty or unset gives defaults).
    pub fn parse(spec: Option<&str>) -> LsColors {
        let mut keys: HashMap<String, String> = DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut exts = Vec::new();
        for item in spec.unwrap_or("").split(':') {
            let Some((k, v)) = item.split_once('=') else {
                continue;
            };
            if let Some(ext) = k.strip_prefix('*') {
                exts.push((ext.to_string(), v.to_string()));
            } else if k.len() == 2 {
                keys.insert(k.to_string(), v.to_string());
            }
        }
        // Later patterns win in GNU ls; search from the back.
        exts.reverse();
        LsColors { keys, exts }
    }

    /// The SGR sequence for an entry, or `None` to print it plain.
    pub fn style(&self, e: &Entry) -> Option<&str> {
        let key = match e.kind {
            Kind::Dir => {
                let (sticky, ow) = (e.perm & 0o1000 != 0, e.perm & 0o002 != 0);
                match (sticky, ow) {
                    (true, true) => "tw",
                    (false, true) => "ow",
                    (true, false) => "st",
                    _ => "di",
                }
            }
            Kind::Symlink => "ln",
            Kind::Fifo => "pi",
            Kind::Socket => "so",
            Kind::BlockDevice => "bd",
            Kind::CharDevice => "cd",
            Kind::File => {
                if e.perm & 0o4000 != 0 {
                    "su"
                } else if e.perm & 0o2000 != 0 {
                    "sg"
                } else if e.perm & 0o111 != 0 {
                    "ex"
                } else {
                    let name = e.name.to_string_lossy();
                    if let Some((_, v)) = self
                        .exts
                        .iter()
                        .find(|(ext, _)| name.ends_with(ext.as_str()))
                    {
                        return usable(v);
                    }
                    "fi"
                }
            }
        };
        // An unset special key (su, tw...) falls back to the plain one, as GNU ls does.
        let v = self.keys.get(key).or_else(|| match key {
            "su" | "sg" => self.keys.get("ex"),
            "tw" | "ow" | "st" => self.keys.get("di"),
            _ => None,
        })?;
        usable(v)
    }
}

fn usable(v: &str) -> Option<&str> {
    match v {
        "" | "0" | "00" => None,
        v => Some(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: Kind, perm: u32) -> Entry {
        let mut e = Entry::new(name, kind);
        e.perm = perm;
        e
    }

    #[test]
    fn defaults_without_ls_colors() {
        let c = LsColors::parse(None);
        assert_eq!(c.style(&entry("d", Kind::Dir, 0o755)), Some("01;34"));
        assert_eq!(c.style(&entry("l", Kind::Symlink, 0o777)), Some("01;36"));
        assert_eq!(c.style(&entry("x", Kind::File, 0o755)), Some("01;32"));
        assert_eq!(c.style(&entry("f", Kind::File, 0o644)), None);
        assert_eq!(c.style(&entry("tmp", Kind::Dir, 0o1777)), Some("30;42"));
    }

    #[test]
    fn ls_colors_overrides_and_extensions() {
        let c = LsColors::parse(Some("di=01;33:*.tar=01;31:ex=00:*.gz=35"));
        assert_eq!(c.style(&entry("d", Kind::Dir, 0o755)), Some("01;33"));
        assert_eq!(c.style(&entry("a.tar", Kind::File, 0o644)), Some("01;31"));
        assert_eq!(c.style(&entry("a.gz", Kind::File, 0o644)), Some("35"));
        assert_eq!(c.style(&entry("x", Kind::File, 0o755)), None);
    }
}
