//! find: GNU findutils 4.9's `-P` walk (symlinks never followed) with the tests `-name
//! -iname -type -size -mtime -newer`, the options `-maxdepth -mindepth`, the actions `-print
//! -print0`, and the operators `! -not -a -and -o -or ( )`. Output and order are GNU's:
//! preorder, each directory's entries in the order the directory gives them.

use std::ffi::CString;

use crate::args::ArgError;
use crate::walk::{Fs, Kind, Meta, Root};
use crate::{join, Printer, Sink};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Less,
    Equal,
    More,
}

#[derive(Debug, Clone)]
enum Expr {
    Name {
        pat: CString,
        icase: bool,
    },
    Type(Vec<Kind>),
    Size {
        cmp: Cmp,
        n: u64,
        unit: u64,
    },
    Mtime {
        cmp: Cmp,
        days: i64,
    },
    /// Newer than this modification time (seconds, nanoseconds).
    Newer(i64, u32),
    Print,
    Print0,
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// A parsed find command line.
#[derive(Debug, Clone)]
pub struct Find {
    pub paths: Vec<Vec<u8>>,
    /// The expression's own arguments, for the agent (`-newer` already turned into times).
    pub expr_args: Vec<Vec<u8>>,
    expr: Expr,
    pub maxdepth: Option<u64>,
    pub mindepth: u64,
    /// GNU's warnings (a global option after a test).
    pub warnings: Vec<String>,
    /// Names printed by -print go to a terminal: unprintable bytes become `?`.
    pub tty: bool,
    /// When the search started (seconds), for -mtime.
    pub now: i64,
}

/// `-newer FILE` references the caller must turn into times (`-newermt @SECONDS`) first.
pub fn newer_refs(argv: &[Vec<u8>]) -> Vec<usize> {
    (0..argv.len().saturating_sub(1))
        .filter(|&i| argv[i] == b"-newer")
        .map(|i| i + 1)
        .collect()
}

fn missing(p: &[u8]) -> ArgError {
    ArgError::Usage(format!(
        "missing argument to `{}'",
        String::from_utf8_lossy(p)
    ))
}

fn number(s: &[u8]) -> Option<(Cmp, &[u8])> {
    let (cmp, rest) = match s.first() {
        Some(b'+') => (Cmp::More, &s[1..]),
        Some(b'-') => (Cmp::Less, &s[1..]),
        _ => (Cmp::Equal, s),
    };
    Some((cmp, rest))
}

fn digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Parses `find [PATH]... [EXPRESSION]` (without `-H`/`-L`, which are not ours).
pub fn parse(argv: &[Vec<u8>], now: i64) -> Result<Find, ArgError> {
    let first_expr = argv
        .iter()
        .position(|a| (a.len() > 1 && a[0] == b'-') || a == b"(" || a == b"!")
        .unwrap_or(argv.len());
    let mut paths: Vec<Vec<u8>> = argv[..first_expr].to_vec();
    if let Some(opt) = paths
        .first()
        .filter(|p| *p == b"-H" || *p == b"-L" || *p == b"-P")
    {
        return Err(ArgError::Unknown(String::from_utf8_lossy(opt).into_owned()));
    }
    let args = &argv[first_expr..];
    let mut f = Find {
        paths: Vec::new(),
        expr_args: args.to_vec(),
        expr: Expr::Print,
        maxdepth: None,
        mindepth: 0,
        warnings: Vec::new(),
        tty: false,
        now,
    };
    let mut p = Parser {
        args,
        i: 0,
        f: &mut f,
        seen_test: None,
        action: false,
    };
    let e = if args.is_empty() {
        None
    } else {
        let e = p.or()?;
        if p.i < args.len() {
            let a = String::from_utf8_lossy(&args[p.i]).into_owned();
            return Err(if a == ")" {
                ArgError::Usage("invalid expression; you have too many ')'".into())
            } else {
                ArgError::Usage(format!("paths must precede expression: `{a}'"))
            });
        }
        e
    };
    let action = p.action;
    f.expr = match e {
        None => Expr::Print,
        Some(e) if action => e,
        Some(e) => Expr::And(Box::new(e), Box::new(Expr::Print)),
    };
    if paths.is_empty() {
        paths.push(b".".to_vec());
    }
    f.paths = paths;
    Ok(f)
}

struct Parser<'a> {
    args: &'a [Vec<u8>],
    i: usize,
    f: &'a mut Find,
    seen_test: Option<String>,
    action: bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&[u8]> {
        self.args.get(self.i).map(Vec::as_slice)
    }

    fn or(&mut self) -> Result<Option<Expr>, ArgError> {
        let Some(mut left) = self.and()? else {
            return Ok(None);
        };
        while matches!(self.peek(), Some(b"-o" | b"-or")) {
            self.i += 1;
            let right = self
                .and()?
                .ok_or_else(|| ArgError::Usage("expected an expression after '-o'".into()))?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(Some(left))
    }

    fn and(&mut self) -> Result<Option<Expr>, ArgError> {
        let Some(mut left) = self.not()? else {
            return Ok(None);
        };
        loop {
            match self.peek() {
                Some(b"-a" | b"-and") => {
                    self.i += 1;
                    let right = self.not()?.ok_or_else(|| {
                        ArgError::Usage("expected an expression after '-a'".into())
                    })?;
                    left = Expr::And(Box::new(left), Box::new(right));
                }
                None | Some(b"-o" | b"-or" | b")") => return Ok(Some(left)),
                Some(_) => {
                    let Some(right) = self.not()? else {
                        return Ok(Some(left));
                    };
                    left = Expr::And(Box::new(left), Box::new(right));
                }
            }
        }
    }

    fn not(&mut self) -> Result<Option<Expr>, ArgError> {
        if matches!(self.peek(), Some(b"!" | b"-not")) {
            self.i += 1;
            let e = self
                .not()?
                .ok_or_else(|| ArgError::Usage("expected an expression after '!'".into()))?;
            return Ok(Some(Expr::Not(Box::new(e))));
        }
        self.primary()
    }

    fn value(&mut self, name: &[u8]) -> Result<Vec<u8>, ArgError> {
        let v = self
            .args
            .get(self.i)
            .cloned()
            .ok_or_else(|| missing(name))?;
        self.i += 1;
        Ok(v)
    }

    fn test(&mut self, name: &[u8]) {
        if self.seen_test.is_none() {
            self.seen_test = Some(String::from_utf8_lossy(name).into_owned());
        }
    }

    fn global(&mut self, name: &[u8]) {
        if let Some(t) = &self.seen_test {
            let o = String::from_utf8_lossy(name);
            self.f.warnings.push(format!(
                "warning: you have specified the global option {o} after the argument {t}, but \
                 global options are not positional, i.e., {o} affects tests specified before it \
                 as well as those specified after it.  Please specify global options before \
                 other arguments."
            ));
        }
    }

    fn primary(&mut self) -> Result<Option<Expr>, ArgError> {
        let Some(a) = self.peek().map(<[u8]>::to_vec) else {
            return Ok(None);
        };
        self.i += 1;
        let a = a.as_slice();
        let e = match a {
            b"(" => {
                let e = self.or()?.ok_or_else(|| {
                    ArgError::Usage("invalid expression; empty parentheses are not allowed.".into())
                })?;
                if self.peek() != Some(b")") {
                    return Err(ArgError::Usage(
                        "invalid expression; I was expecting to find a ')' somewhere but did not see one.".into(),
                    ));
                }
                self.i += 1;
                e
            }
            b")" => {
                self.i -= 1;
                return Ok(None);
            }
            b"-name" | b"-iname" => {
                self.test(a);
                let v = self.value(a)?;
                let pat = CString::new(v).map_err(|_| missing(a))?;
                Expr::Name {
                    pat,
                    icase: a == b"-iname",
                }
            }
            b"-type" => {
                self.test(a);
                let v = self.value(a)?;
                let mut kinds = Vec::new();
                for t in v.split(|&b| b == b',') {
                    kinds.push(match t {
                        b"f" => Kind::File,
                        b"d" => Kind::Dir,
                        b"l" => Kind::Symlink,
                        b"p" => Kind::Fifo,
                        b"s" => Kind::Socket,
                        b"c" => Kind::CharDevice,
                        b"b" => Kind::BlockDevice,
                        _ => {
                            return Err(ArgError::Usage(format!(
                                "Unknown argument to -type: {}",
                                String::from_utf8_lossy(t)
                            )))
                        }
                    });
                }
                Expr::Type(kinds)
            }
            b"-size" => {
                self.test(a);
                let v = self.value(a)?;
                let bad = || {
                    ArgError::Usage(format!(
                        "invalid -size type `{}'",
                        String::from_utf8_lossy(&v)
                    ))
                };
                let (cmp, rest) = number(&v).ok_or_else(bad)?;
                let (num, unit) = match rest.last() {
                    Some(b'c') => (&rest[..rest.len() - 1], 1),
                    Some(b'w') => (&rest[..rest.len() - 1], 2),
                    Some(b'b') => (&rest[..rest.len() - 1], 512),
                    Some(b'k') => (&rest[..rest.len() - 1], 1024),
                    Some(b'M') => (&rest[..rest.len() - 1], 1 << 20),
                    Some(b'G') => (&rest[..rest.len() - 1], 1 << 30),
                    _ => (rest, 512),
                };
                let n = digits(num).ok_or_else(bad)?;
                Expr::Size { cmp, n, unit }
            }
            b"-mtime" => {
                self.test(a);
                let v = self.value(a)?;
                let (cmp, rest) = number(&v).ok_or_else(|| missing(a))?;
                let days = digits(rest).ok_or_else(|| {
                    ArgError::Usage(format!(
                        "invalid argument `{}' to `-mtime'",
                        String::from_utf8_lossy(&v)
                    ))
                })?;
                Expr::Mtime {
                    cmp,
                    days: days as i64,
                }
            }
            b"-newermt" => {
                self.test(a);
                // Only dockerbox's own `@SECONDS` form (what `-newer FILE` becomes).
                let v = self.value(a)?;
                let t = v
                    .strip_prefix(b"@")
                    .and_then(|s| std::str::from_utf8(s).ok())
                    .ok_or_else(|| ArgError::Unknown("-newermt".into()))?;
                let (s, ns) = t.split_once('.').unwrap_or((t, "0"));
                match (s.parse::<i64>(), ns.parse::<u32>()) {
                    (Ok(s), Ok(ns)) if ns < 1_000_000_000 => Expr::Newer(s, ns),
                    _ => return Err(ArgError::Unknown("-newermt".into())),
                }
            }
            b"-newer" => return Err(ArgError::Usage("-newer must be resolved first".into())),
            b"-maxdepth" | b"-mindepth" => {
                self.global(a);
                let v = self.value(a)?;
                let n = digits(&v).ok_or_else(|| {
                    ArgError::Usage(format!(
                        "Expected a positive decimal integer argument to {}, but got `{}'",
                        String::from_utf8_lossy(a),
                        String::from_utf8_lossy(&v)
                    ))
                })?;
                if a == b"-maxdepth" {
                    self.f.maxdepth = Some(n);
                } else {
                    self.f.mindepth = n;
                }
                return self.after_option();
            }
            b"-print" => {
                self.action = true;
                Expr::Print
            }
            b"-print0" => {
                self.action = true;
                Expr::Print0
            }
            b"-dbx-tty" => {
                self.f.tty = true;
                return self.after_option();
            }
            other => {
                return Err(ArgError::Unknown(
                    String::from_utf8_lossy(other).into_owned(),
                ))
            }
        };
        Ok(Some(e))
    }

    /// An option stands for `-true` where it is.
    fn after_option(&mut self) -> Result<Option<Expr>, ArgError> {
        Ok(Some(Expr::Not(Box::new(Expr::Not(Box::new(Expr::Type(
            ALL_KINDS.to_vec(),
        )))))))
    }
}

const ALL_KINDS: [Kind; 7] = [
    Kind::File,
    Kind::Dir,
    Kind::Symlink,
    Kind::Fifo,
    Kind::Socket,
    Kind::CharDevice,
    Kind::BlockDevice,
];

/// The last component, trailing slashes aside (`/` for the root).
fn base(path: &[u8]) -> &[u8] {
    let trimmed = {
        let mut p = path;
        while p.len() > 1 && p.ends_with(b"/") {
            p = &p[..p.len() - 1];
        }
        p
    };
    if trimmed == b"/" {
        return trimmed;
    }
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

fn fnmatch(pat: &CString, name: &[u8], icase: bool) -> bool {
    let Ok(name) = CString::new(name) else {
        return false;
    };
    let flags = if icase { 1 << 4 } else { 0 }; // FNM_CASEFOLD
                                                // SAFETY: two valid NUL-terminated strings.
    unsafe { libc::fnmatch(pat.as_ptr(), name.as_ptr(), flags) == 0 }
}

fn cmp(c: Cmp, have: u64, want: u64) -> bool {
    match c {
        Cmp::Less => have < want,
        Cmp::Equal => have == want,
        Cmp::More => have > want,
    }
}

impl Find {
    fn eval(&self, e: &Expr, shown: &[u8], m: &Meta, p: &mut Printer) -> bool {
        match e {
            Expr::Name { pat, icase } => fnmatch(pat, base(shown), *icase),
            Expr::Type(kinds) => kinds.contains(&m.kind),
            Expr::Size { cmp: c, n, unit } => cmp(*c, m.size.div_ceil(*unit), *n),
            Expr::Mtime { cmp: c, days } => {
                let age = (self.now - m.mtime).div_euclid(86400);
                match c {
                    Cmp::Less => age < *days,
                    Cmp::Equal => age == *days,
                    Cmp::More => age > *days,
                }
            }
            Expr::Newer(s, ns) => (m.mtime, m.mtime_nsec) > (*s, *ns),
            Expr::Print => {
                if self.tty {
                    let shown: Vec<u8> = shown
                        .iter()
                        .map(|&b| if (0x20..0x7f).contains(&b) { b } else { b'?' })
                        .collect();
                    p.put(&shown);
                } else {
                    p.put(shown);
                }
                p.put(b"\n");
                p.end_record();
                true
            }
            Expr::Print0 => {
                p.put(shown);
                p.put(b"\0");
                p.end_record();
                true
            }
            Expr::Not(e) => !self.eval(e, shown, m, p),
            Expr::And(a, b) => self.eval(a, shown, m, p) && self.eval(b, shown, m, p),
            Expr::Or(a, b) => self.eval(a, shown, m, p) || self.eval(b, shown, m, p),
        }
    }

    fn visit(
        &self,
        fs: &mut dyn Fs,
        path: &[u8],
        shown: &[u8],
        m: &Meta,
        depth: u64,
        p: &mut Printer,
    ) {
        if p.stopped() {
            return;
        }
        if depth >= self.mindepth {
            self.eval(&self.expr, shown, m, p);
        }
        if m.kind != Kind::Dir || self.maxdepth.is_some_and(|d| depth >= d) {
            return;
        }
        let entries = match fs.read_dir(path) {
            Ok(e) => e,
            Err(e) => return p.dir_error(shown, e),
        };
        for (name, cm) in entries {
            let child = join(path, &name);
            let cshown = join(shown, &name);
            self.visit(fs, &child, &cshown, &cm, depth + 1, p);
        }
    }
}

/// Runs find over `roots`; false when some path could not be read (status 1).
pub fn run(f: &Find, fs: &mut dyn Fs, roots: &[Root], sink: &mut dyn Sink) -> bool {
    let mut p = Printer::new(sink);
    let mut ok = true;
    for r in roots {
        match fs.stat(&r.path, false) {
            Ok(m) => f.visit(fs, &r.path, &r.display, &m, 0, &mut p),
            Err(e) => {
                ok = false;
                p.error(&r.display, e);
            }
        }
    }
    p.flush();
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<Vec<u8>> {
        a.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn paths_then_expression() {
        let f = parse(&v(&["a", "b", "-name", "*.c", "-o", "-type", "d"]), 0).unwrap();
        assert_eq!(f.paths, v(&["a", "b"]));
        assert!(matches!(f.expr, Expr::And(_, _)));
        let f = parse(&v(&[]), 0).unwrap();
        assert_eq!(f.paths, v(&["."]));
        assert!(matches!(
            parse(&v(&["-exec", "x"]), 0),
            Err(ArgError::Unknown(_))
        ));
        assert!(matches!(
            parse(&v(&["-L", "."]), 0),
            Err(ArgError::Unknown(_))
        ));
        assert!(matches!(
            parse(&v(&["-type", "q"]), 0),
            Err(ArgError::Usage(_))
        ));
        let f = parse(&v(&[".", "-name", "x", "-maxdepth", "1"]), 0).unwrap();
        assert_eq!((f.maxdepth, f.warnings.len()), (Some(1), 1));
        assert_eq!(newer_refs(&v(&[".", "-newer", "r"])), vec![2]);
    }

    #[test]
    fn bases_and_sizes() {
        assert_eq!(base(b"a/b/"), b"b");
        assert_eq!(base(b"/"), b"/");
        assert_eq!(base(b"x"), b"x");
        // -size -1M: only empty files (one byte is one whole MiB, rounded up).
        assert!(!cmp(Cmp::Less, 1u64.div_ceil(1 << 20), 1));
        assert!(fnmatch(&CString::new("*.LOG").unwrap(), b"a.log", true));
        assert!(fnmatch(&CString::new("*").unwrap(), b".hidden", false));
    }
}
