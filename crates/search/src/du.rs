//! du: GNU coreutils 9.1's `du [-a] [-s] [-c] [-h] [--max-depth=N]`: disk usage from
//! `st_blocks` in 1 KiB units (or `-h`'s human sizes), each inode counted once, directories
//! after their contents, symlinks never followed.

use std::collections::HashSet;

use crate::args::{self, ArgError, Spec};
use crate::walk::{Fs, Kind, Meta, Root};
use crate::{join, Printer, Sink};

/// Parsed options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opts {
    pub all: bool,
    pub summarize: bool,
    pub total: bool,
    pub human: bool,
    pub max_depth: Option<u64>,
}

const SPECS: &[Spec] = &[
    Spec {
        short: Some(b'a'),
        long: "all",
        value: false,
    },
    Spec {
        short: Some(b's'),
        long: "summarize",
        value: false,
    },
    Spec {
        short: Some(b'c'),
        long: "total",
        value: false,
    },
    Spec {
        short: Some(b'h'),
        long: "human-readable",
        value: false,
    },
    Spec {
        short: Some(b'd'),
        long: "max-depth",
        value: true,
    },
];

/// Parses du's arguments: options and operands.
pub fn parse(argv: &[Vec<u8>]) -> Result<(Opts, Vec<Vec<u8>>), ArgError> {
    let (opts, operands) = args::parse(argv, SPECS)?;
    let mut o = Opts {
        all: false,
        summarize: false,
        total: false,
        human: false,
        max_depth: None,
    };
    for (name, value) in opts {
        match name {
            "all" => o.all = true,
            "summarize" => o.summarize = true,
            "total" => o.total = true,
            "human-readable" => o.human = true,
            "max-depth" => {
                let v = value.unwrap_or_default();
                let n = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| {
                        ArgError::Usage(format!(
                            "invalid maximum depth '{}'",
                            String::from_utf8_lossy(&v)
                        ))
                    })?;
                o.max_depth = Some(n);
            }
            _ => {}
        }
    }
    if o.summarize && o.all {
        return Err(ArgError::Usage(
            "cannot both summarize and show all entries".into(),
        ));
    }
    if o.summarize && o.max_depth.is_some_and(|d| d > 0) {
        let d = o.max_depth.unwrap_or(0);
        return Err(ArgError::Usage(format!(
            "warning: summarizing conflicts with --max-depth={d}"
        )));
    }
    if o.summarize {
        o.max_depth = Some(0);
    }
    Ok((o, operands))
}

impl Opts {
    /// The options as arguments [`parse`] reads back (for the agent); `-c` stays here, where
    /// the totals of every operand meet.
    pub fn to_args(&self) -> Vec<Vec<u8>> {
        let mut a = Vec::new();
        if self.all {
            a.push(b"-a".to_vec());
        }
        if self.human {
            a.push(b"-h".to_vec());
        }
        if let Some(d) = self.max_depth {
            a.push(format!("--max-depth={d}").into_bytes());
        }
        a
    }
}

/// A size as du prints it: 1 KiB blocks rounded up, or `-h`'s (powers of 1024, rounded up,
/// one decimal below 10: `4.0K`, `12K`, `1.5M`).
pub fn size(bytes: u64, human: bool) -> String {
    if !human {
        return bytes.div_ceil(1024).to_string();
    }
    const UNITS: [&str; 8] = ["", "K", "M", "G", "T", "P", "E", "Z"];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut e = 1;
    while e < UNITS.len() - 1 && bytes >= 1024u128.pow(e as u32 + 1) as u64 {
        e += 1;
    }
    let unit = 1024u128.pow(e as u32);
    let b = u128::from(bytes);
    let tenths = (b * 10).div_ceil(unit);
    if tenths < 100 {
        return format!("{}.{}{}", tenths / 10, tenths % 10, UNITS[e]);
    }
    let whole = b.div_ceil(unit);
    if whole >= 1024 && e + 1 < UNITS.len() {
        return format!("1.0{}", UNITS[e + 1]);
    }
    format!("{whole}{}", UNITS[e])
}

struct Du<'a> {
    o: &'a Opts,
    seen: HashSet<(u64, u64)>,
    /// Several operands: every file and directory is counted once (`du a a`, `du . sub`).
    hash_all: bool,
    ok: bool,
}

impl Du<'_> {
    fn line(&self, bytes: u64, shown: &[u8], p: &mut Printer) {
        p.put(size(bytes, self.o.human).as_bytes());
        p.put(b"\t");
        p.put(shown);
        p.put(b"\n");
        p.end_record();
    }

    /// The bytes used under `path` (counted once per inode), printing as du does.
    fn walk(
        &mut self,
        fs: &mut dyn Fs,
        path: &[u8],
        shown: &[u8],
        m: &Meta,
        depth: u64,
        p: &mut Printer,
    ) -> u64 {
        let once = self.hash_all || (m.nlink > 1 && m.kind != Kind::Dir);
        if once && !self.seen.insert((m.dev, m.ino)) {
            return 0;
        }
        let mut total = m.blocks * 512;
        let shows = self.o.max_depth.is_none_or(|d| depth <= d);
        if m.kind == Kind::Dir {
            match fs.read_dir(path) {
                Ok(entries) => {
                    for (name, cm) in entries {
                        if p.stopped() {
                            break;
                        }
                        let child = join(path, &name);
                        let cshown = join(shown, &name);
                        total += self.walk(fs, &child, &cshown, &cm, depth + 1, p);
                    }
                }
                Err(e) => {
                    self.ok = false;
                    p.dir_error(shown, e);
                }
            }
            if shows {
                self.line(total, shown, p);
            }
        } else if shows && (self.o.all || depth == 0) {
            self.line(total, shown, p);
        }
        total
    }
}

/// Runs du over `roots`; gives the bytes counted and whether every path could be read.
pub fn run(o: &Opts, fs: &mut dyn Fs, roots: &[Root], sink: &mut dyn Sink) -> (u64, bool) {
    let mut p = Printer::new(sink);
    let mut d = Du {
        o,
        seen: HashSet::new(),
        hash_all: roots.len() > 1,
        ok: true,
    };
    let mut sum = 0;
    for r in roots {
        match fs.stat(&r.path, false) {
            Ok(m) => sum += d.walk(fs, &r.path, &r.display, &m, 0, &mut p),
            Err(e) => {
                d.ok = false;
                p.error(&r.display, e);
            }
        }
    }
    p.flush();
    (sum, d.ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_gnu_prints_them() {
        assert_eq!(size(0, false), "0");
        assert_eq!(size(512, false), "1");
        assert_eq!(size(4096, false), "4");
        assert_eq!(size(0, true), "0");
        assert_eq!(size(4096, true), "4.0K");
        assert_eq!(size(12 * 1024, true), "12K");
        assert_eq!(size(10 * 1024 - 1, true), "10K");
        assert_eq!(size(1536 * 1024, true), "1.5M");
        assert_eq!(size(1024 * 1024 - 1, true), "1.0M");
        assert_eq!(size(9 * 1024 + 1, true), "9.1K");
    }

    #[test]
    fn options() {
        let v = |a: &[&str]| a.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        let (o, ops) = parse(&v(&["-sh", "x"])).unwrap();
        assert_eq!((o.max_depth, o.human, ops.len()), (Some(0), true, 1));
        let (o, _) = parse(&v(&["--max-depth=1", "-ac"])).unwrap();
        assert_eq!((o.max_depth, o.all, o.total), (Some(1), true, true));
        assert!(matches!(parse(&v(&["-x"])), Err(ArgError::Unknown(_))));
    }
}
