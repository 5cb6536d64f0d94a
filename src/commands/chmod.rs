//! `chmod`: change mode bits, octal or symbolic, with `-R` walking directories without following
//! the symlinks it meets. Also owns the mode language itself ([`Mode`], gnulib's `mode_compile`
//! and `mode_adjust`), which `mkdir -m` shares.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use futures_util::future::LocalBoxFuture;

use super::common::{quote, quote_c, quote_if_needed, umask};
use super::{Args, Builtin, Out, UsageError};
use crate::context::Context;
use crate::exit_codes;
use crate::vfs::path::join_bytes;
use crate::vfs::{Entry, FsError, Kind, VPath};

pub struct Cmd;

impl Builtin for Cmd {
    fn name(&self) -> &'static str {
        "chmod"
    }
    fn about(&self) -> &'static str {
        "change file mode bits"
    }
    fn usage(&self) -> &'static str {
        "chmod [-Rcvf] MODE[,MODE]... FILE...\n       chmod [-Rcvf] --reference=RFILE FILE...\n  MODE is octal (755, 2750) or symbolic: [ugoa]*[-+=]([rwxXst]*|[ugo]), comma-separated\n  -R  change files and directories recursively (symlinks met on the way are left alone)\n  -c  report only the changes\n  -v  report every file processed\n  -f  say nothing about files that could not be changed\n  --reference=RFILE  use RFILE's mode"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let (mut opts, files) = match parse(args) {
                Ok(p) => p,
                Err(e) => return ctx.usage(e),
            };
            if let Some(r) = opts.reference.take() {
                match ctx.vfs.stat(&ctx.resolve(&r)).await {
                    Ok(e) => opts.mode = Mode::exact(e.perm),
                    Err(e) => {
                        let what = format!("failed to get attributes of {}", quote(&r));
                        ctx.complain(&what, &e);
                        return exit_codes::FAILURE;
                    }
                }
            }
            let mut status = exit_codes::OK;
            for f in &files {
                if !opts.operand(ctx, out, f).await {
                    status = exit_codes::FAILURE;
                }
                if crate::interrupt::is_set() {
                    break;
                }
            }
            status
        })
    }
}

/// GNU's `-c` (report changes) and `-v` (report everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verbosity {
    Off,
    Changes,
    All,
}

/// What to do, decided before any I/O.
#[derive(Debug)]
struct Opts {
    mode: Mode,
    /// `--reference=RFILE`: the mode comes from this file, once it is stat-ed.
    reference: Option<OsString>,
    recursive: bool,
    verbosity: Verbosity,
    silent: bool,
    /// The mode was given as an option (`chmod -w f`): say so when the umask kept a bit from
    /// changing, as GNU does, since the user probably meant `a-w`.
    diagnose: bool,
    umask: u32,
}

/// The characters of a mode given as an option (`-w`, `-x,+X`).
const DASH_MODE_CHARS: &[u8] = b"rwxXstugoa,+=-01234567";

/// Parses the command line: options, the mode, the files.
fn parse(argv: Vec<OsString>) -> Result<(Opts, Vec<OsString>), UsageError> {
    // GNU takes `-w`, `-rx`... for modes, not options: pull them out before getopt sees them.
    let mut dash_modes = Vec::new();
    let mut rest = Vec::new();
    let mut iter = argv.into_iter();
    while let Some(arg) = iter.next() {
        let b = arg.as_bytes();
        if b == b"--" {
            rest.push(arg);
            rest.extend(iter.by_ref());
            break;
        }
        let is_mode = b.len() > 1
            && b[0] == b'-'
            && b[1] != b'-'
            && b[1..].iter().all(|c| DASH_MODE_CHARS.contains(c));
        if is_mode {
            dash_modes.push(arg.to_string_lossy().into_owned());
        } else {
            rest.push(arg);
        }
    }
    let longs = [
        "recursive",
        "changes",
        "verbose",
        "silent",
        "quiet",
        "reference=",
    ];
    let a = Args::parse(rest, "Rcvf", &longs)?;
    let has_long = |n: &str| a.long.iter().any(|(l, _)| l == n);
    let mut verbosity = match a.last_of("cv") {
        Some('c') => Verbosity::Changes,
        Some(_) => Verbosity::All,
        None => Verbosity::Off,
    };
    if has_long("verbose") {
        verbosity = Verbosity::All;
    } else if has_long("changes") {
        verbosity = Verbosity::Changes;
    }
    let reference = match a.long.iter().rev().find(|(l, _)| l == "reference") {
        Some((_, Some(r))) => Some(OsString::from(r)),
        Some((_, None)) => {
            return Err(UsageError(
                "option '--reference' requires an argument".into(),
            ))
        }
        None => None,
    };
    let recursive = a.has('R') || has_long("recursive");
    let silent = a.has('f') || has_long("silent") || has_long("quiet");
    let mut files = a.operands;
    let text: Option<OsString> = if reference.is_some() {
        None
    } else if !dash_modes.is_empty() {
        Some(dash_modes.join(",").into())
    } else if files.is_empty() {
        return Err(UsageError("missing operand".into()));
    } else {
        Some(files.remove(0))
    };
    if files.is_empty() {
        return Err(UsageError(match &text {
            Some(t) if dash_modes.is_empty() => format!("missing operand after {}", quote_c(t)),
            _ => "missing operand".into(),
        }));
    }
    let mode = match &text {
        Some(t) => {
            Mode::parse(t).ok_or_else(|| UsageError(format!("invalid mode: {}", quote_c(t))))?
        }
        None => Mode::exact(0),
    };
    let opts = Opts {
        mode,
        reference,
        recursive,
        verbosity,
        silent,
        diagnose: !dash_modes.is_empty(),
        umask: umask(),
    };
    Ok((opts, files))
}

impl Opts {
    /// One operand, and with `-R` everything under it; false when anything failed.
    async fn operand(&self, ctx: &Context, out: &mut Out, text: &OsStr) -> bool {
        let shown = one_trailing_slash(text);
        let p = ctx.resolve(text);
        // Operands are followed (a symlink operand changes its referent, as chmod(2) does).
        let e = match ctx.vfs.stat(&p).await {
            Ok(e) => e,
            Err(err) => {
                if !self.silent {
                    ctx.complain(&format!("cannot access {}", quote(&shown)), &err);
                }
                if self.verbosity == Verbosity::All {
                    let _ = writeln!(out, "{} could not be accessed", quote(&shown));
                }
                return false;
            }
        };
        let mut ok = true;
        // Depth first, parents before children, names in byte order.
        let mut stack = vec![(shown, p, e)];
        while let Some((shown, p, e)) = stack.pop() {
            if crate::interrupt::is_set() {
                return false;
            }
            ok &= self.change(ctx, out, &shown, &p, &e).await;
            if !self.recursive || !e.is_dir() {
                continue;
            }
            match ctx.vfs.read_dir(&p).await {
                Ok(list) => {
                    let mut kids: Vec<&Entry> = list.iter().collect();
                    kids.sort_by(|a, b| b.name.cmp(&a.name));
                    for k in kids {
                        let t = join_bytes(shown.as_ref(), k.name.as_bytes()).into_os_string();
                        let kp = ctx.resolve(&t);
                        stack.push((t, kp, k.clone()));
                    }
                }
                Err(err) => {
                    ok = false;
                    if !self.silent {
                        let what = format!("cannot read directory {}", quote(&shown));
                        ctx.complain(&what, &err);
                    }
                }
            }
        }
        ok
    }

    /// Changes one file whose current attributes are `e`.
    async fn change(
        &self,
        ctx: &Context,
        out: &mut Out,
        shown: &OsStr,
        p: &VPath,
        e: &Entry,
    ) -> bool {
        if e.kind == Kind::Symlink {
            // Only met inside a -R walk: chmod(2) would change the referent, which may be
            // anywhere; GNU leaves both alone.
            if self.verbosity == Verbosity::All {
                let _ = writeln!(
                    out,
                    "neither symbolic link {} nor referent has been changed",
                    quote(shown)
                );
            }
            return true;
        }
        let old = e.perm & 0o7777;
        let new = self.mode.apply(old, e.is_dir(), self.umask);
        let result: Result<(), FsError> = ctx.vfs.chmod(p, new).await;
        if let Err(err) = &result {
            if !self.silent {
                let what = format!("changing permissions of {}", quote(shown));
                ctx.complain(&what, err);
            }
        }
        self.describe(out, shown, old, new, result.is_ok());
        if result.is_err() {
            return false;
        }
        if self.diagnose {
            let naive = self.mode.apply(old, e.is_dir(), 0);
            if new & !naive != 0 {
                ctx.fail(format_args!(
                    "{}: new permissions are {}, not {}",
                    quote_if_needed(shown),
                    perm_string(new),
                    perm_string(naive)
                ));
                return false;
            }
        }
        true
    }

    /// The `-v`/`-c` line for one file, in GNU's words.
    fn describe(&self, out: &mut Out, shown: &OsStr, old: u32, new: u32, done: bool) {
        let q = quote(shown);
        let line = match (done, old == new, self.verbosity) {
            (_, _, Verbosity::Off) => return,
            (false, _, Verbosity::All) => format!(
                "failed to change mode of {q} from {} to {}",
                octal_and_string(old),
                octal_and_string(new)
            ),
            (true, false, _) => format!(
                "mode of {q} changed from {} to {}",
                octal_and_string(old),
                octal_and_string(new)
            ),
            (true, true, Verbosity::All) => {
                format!("mode of {q} retained as {}", octal_and_string(old))
            }
            _ => return,
        };
        let _ = writeln!(out, "{line}");
    }
}

/// `0644 (rw-r--r--)`.
fn octal_and_string(m: u32) -> String {
    format!("{m:04o} ({})", perm_string(m))
}

/// The nine `ls -l` permission characters, with s/S and t/T for the special bits.
pub(super) fn perm_string(m: u32) -> String {
    let bit = |mask: u32, c: char| if m & mask != 0 { c } else { '-' };
    let exec = |x: u32, special: u32, on: char, off: char| match (m & x != 0, m & special != 0) {
        (true, true) => on,
        (false, true) => off,
        (true, false) => 'x',
        (false, false) => '-',
    };
    [
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        exec(0o100, SUID, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        exec(0o010, SGID, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        exec(0o001, SVTX, 't', 'T'),
    ]
    .iter()
    .collect()
}

/// `q//` is shown as `q/`, as GNU's directory walk (fts) shows it.
fn one_trailing_slash(text: &OsStr) -> OsString {
    let b = text.as_bytes();
    let mut end = b.len();
    while end > 1 && b[end - 1] == b'/' && b[end - 2] == b'/' {
        end -= 1;
    }
    OsStr::from_bytes(&b[..end]).to_os_string()
}

const SUID: u32 = 0o4000;
const SGID: u32 = 0o2000;
const SVTX: u32 = 0o1000;
const RWXU: u32 = 0o700;
const RWXG: u32 = 0o070;
const RWXO: u32 = 0o007;
/// Every bit chmod may change.
const ALL: u32 = 0o7777;

/// The operator of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Set,
    Add,
    Remove,
}

/// Where the bits of one change come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The letters given (`rwxst`).
    Bits,
    /// The file's own u, g or o bits (`g=u`).
    Copy,
    /// `X`: execute only for directories and files someone may already execute.
    XIfAnyX,
}

/// One `[who]op[perms]` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Change {
    op: Op,
    source: Source,
    /// The bits named by who (`u`, `go`...); 0 when none was named, and then the umask applies.
    affected: u32,
    value: u32,
    /// Bits the user named: a directory's setuid/setgid bits survive unless named.
    mentioned: u32,
}

/// A compiled mode: what `chmod MODE` or `mkdir -m MODE` does to a file's bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mode(Vec<Change>);

impl Mode {
    /// Compiles an octal (`750`, `02755`) or symbolic (`u+x,g=u,o-rwx`) mode; `None` when it is
    /// not one, as GNU's `mode_compile`.
    pub(super) fn parse(text: &OsStr) -> Option<Mode> {
        let s = text.as_bytes();
        match s.first() {
            Some(b'0'..=b'7') => parse_octal(s),
            _ => parse_symbolic(s).map(Mode),
        }
    }

    /// Sets exactly `bits` (`--reference`).
    pub(super) fn exact(bits: u32) -> Mode {
        Mode(vec![Change {
            op: Op::Set,
            source: Source::Bits,
            affected: ALL,
            value: bits & ALL,
            mentioned: ALL,
        }])
    }

    /// The new bits for a file whose bits are `old`, as GNU's `mode_adjust`.
    pub(super) fn apply(&self, old: u32, dir: bool, umask: u32) -> u32 {
        let mut new = old & ALL;
        for c in &self.0 {
            let omit = if dir { SUID | SGID } else { 0 } & !c.mentioned;
            let mut value = c.value;
            match c.source {
                Source::Bits => {}
                Source::Copy => {
                    value &= new;
                    let spread = |mask: u32| if value & mask != 0 { mask } else { 0 };
                    value |= spread(0o444) | spread(0o222) | spread(0o111);
                }
                Source::XIfAnyX => {
                    if new & 0o111 != 0 || dir {
                        value |= 0o111;
                    }
                }
            }
            value &= if c.affected != 0 { c.affected } else { !umask } & !omit;
            new = match c.op {
                Op::Set => {
                    let preserved = if c.affected != 0 { !c.affected } else { 0 } | omit;
                    (new & preserved) | value
                }
                Op::Add => new | value,
                Op::Remove => new & !value,
            };
        }
        new & ALL
    }
}

/// `755`: sets every bit; with fewer than five digits a directory keeps the setuid and setgid
/// bits it has unless they are given (GNU: `chmod 755 dir` keeps a setgid dir setgid).
fn parse_octal(s: &[u8]) -> Option<Mode> {
    let mut value: u32 = 0;
    for &c in s {
        if !(b'0'..=b'7').contains(&c) {
            return None;
        }
        value = value * 8 + u32::from(c - b'0');
        if value > ALL {
            return None;
        }
    }
    let mentioned = if s.len() < 5 {
        (value & (SUID | SGID)) | SVTX | 0o777
    } else {
        ALL
    };
    Some(Mode(vec![Change {
        op: Op::Set,
        source: Source::Bits,
        affected: ALL,
        value,
        mentioned,
    }]))
}

/// Comma-separated clauses of `[ugoa]*` followed by one or more `[-+=]([rwxXst]*|[ugo])`.
fn parse_symbolic(s: &[u8]) -> Option<Vec<Change>> {
    let mut changes = Vec::new();
    let mut i = 0;
    loop {
        let mut affected = 0;
        loop {
            match *s.get(i)? {
                b'u' => affected |= SUID | RWXU,
                b'g' => affected |= SGID | RWXG,
                b'o' => affected |= SVTX | RWXO,
                b'a' => affected |= ALL,
                b'=' | b'+' | b'-' => break,
                _ => return None,
            }
            i += 1;
        }
        while let Some(&c) = s.get(i) {
            let op = match c {
                b'=' => Op::Set,
                b'+' => Op::Add,
                b'-' => Op::Remove,
                _ => break,
            };
            i += 1;
            let copy = match s.get(i) {
                Some(b'u') => Some(RWXU),
                Some(b'g') => Some(RWXG),
                Some(b'o') => Some(RWXO),
                _ => None,
            };
            let (source, value) = match copy {
                Some(bits) => {
                    i += 1;
                    (Source::Copy, bits)
                }
                None => {
                    let (mut source, mut value) = (Source::Bits, 0);
                    while let Some(&p) = s.get(i) {
                        match p {
                            b'r' => value |= 0o444,
                            b'w' => value |= 0o222,
                            b'x' => value |= 0o111,
                            b's' => value |= SUID | SGID,
                            b't' => value |= SVTX,
                            b'X' => source = Source::XIfAnyX,
                            _ => break,
                        }
                        i += 1;
                    }
                    (source, value)
                }
            };
            let mentioned = if affected != 0 {
                affected & value
            } else {
                value
            };
            changes.push(Change {
                op,
                source,
                affected,
                value,
                mentioned,
            });
        }
        match s.get(i) {
            None => return Some(changes),
            Some(b',') => i += 1,
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (mode, old bits, is a directory, umask, expected), checked against GNU chmod 9.1.
    const CASES: &[(&str, u32, bool, u32, u32)] = &[
        ("755", 0o600, false, 0o022, 0o755),
        ("0", 0o777, false, 0o022, 0o000),
        ("4755", 0o644, false, 0o022, 0o4755),
        ("7777", 0o000, false, 0o022, 0o7777),
        // Directories keep setuid/setgid under a short octal mode, not under a long one.
        ("755", 0o2755, true, 0o022, 0o2755),
        ("755", 0o1777, true, 0o022, 0o755),
        ("00755", 0o2755, true, 0o022, 0o755),
        ("755", 0o2755, false, 0o022, 0o755),
        ("u+x", 0o644, false, 0o022, 0o744),
        ("a+x", 0o644, false, 0o022, 0o755),
        ("go-rwx", 0o755, true, 0o022, 0o700),
        ("u=rw,go=r", 0o777, false, 0o022, 0o644),
        ("a=rw+x", 0o000, false, 0o022, 0o777),
        ("u=rwx,go=u-w", 0o000, false, 0o022, 0o755),
        ("g=u", 0o640, false, 0o022, 0o660),
        ("o=g", 0o754, false, 0o022, 0o755),
        ("=,u=g", 0o7777, false, 0o022, 0o000),
        ("u+", 0o644, false, 0o022, 0o644),
        // No who: the umask holds bits back.
        ("+w", 0o444, false, 0o022, 0o644),
        ("+w", 0o444, false, 0o000, 0o666),
        ("-x", 0o777, false, 0o022, 0o666),
        ("=r", 0o777, false, 0o022, 0o444),
        ("+X", 0o644, false, 0o022, 0o644),
        ("+X", 0o644, true, 0o022, 0o755),
        ("a+X", 0o744, false, 0o022, 0o755),
        ("-x,+X", 0o755, true, 0o022, 0o755),
        ("u+s,g+s,+t", 0o644, false, 0o022, 0o7644),
        ("g-s", 0o2755, true, 0o022, 0o755),
        ("o+t", 0o777, true, 0o022, 0o1777),
        ("ug+rw,o-rwx", 0o604, false, 0o022, 0o660),
        ("a-w,u+w", 0o666, false, 0o022, 0o644),
    ];

    #[test]
    fn modes_apply_as_gnu_does() {
        for &(text, old, dir, umask, want) in CASES {
            let m = Mode::parse(OsStr::new(text)).unwrap_or_else(|| panic!("{text} should parse"));
            let got = m.apply(old, dir, umask);
            assert_eq!(
                got, want,
                "{text} on {old:o} (dir {dir}, umask {umask:o}): {got:o}, want {want:o}"
            );
        }
    }

    #[test]
    fn invalid_modes_are_refused() {
        for text in [
            "", "88", "17777", "755x", "u", "z+x", "u+x,", "u=gx", "+q", ",u+x", "u+x,,g+x",
        ] {
            assert_eq!(
                Mode::parse(OsStr::new(text)),
                None,
                "{text:?} should not parse"
            );
        }
    }

    #[test]
    fn reference_modes_are_exact() {
        assert_eq!(Mode::exact(0o2750).apply(0o4777, true, 0o077), 0o2750);
    }

    #[test]
    fn permission_strings() {
        assert_eq!(perm_string(0o644), "rw-r--r--");
        assert_eq!(perm_string(0o4755), "rwsr-xr-x");
        assert_eq!(perm_string(0o2644), "rw-r-Sr--");
        assert_eq!(perm_string(0o1777), "rwxrwxrwt");
        assert_eq!(perm_string(0o1776), "rwxrwxrwT");
        assert_eq!(octal_and_string(0o600), "0600 (rw-------)");
    }

    fn v(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn command_lines() {
        let (o, files) = parse(v(&["-Rv", "u+x", "a", "b"])).unwrap();
        assert!(o.recursive && o.verbosity == Verbosity::All && !o.diagnose);
        assert_eq!(files, v(&["a", "b"]));
        // A mode that looks like an option is the mode, and every operand is a file.
        let (o, files) = parse(v(&["-w", "-c", "f"])).unwrap();
        assert!(o.diagnose && o.verbosity == Verbosity::Changes);
        assert_eq!(o.mode.apply(0o666, false, 0), 0o444);
        assert_eq!(files, v(&["f"]));
        let (_, files) = parse(v(&["--", "-x", "f"])).unwrap();
        assert_eq!(files, v(&["f"]));
        let (o, files) = parse(v(&["--reference=r", "f"])).unwrap();
        assert_eq!(o.reference, Some(OsString::from("r")));
        assert_eq!(files, v(&["f"]));
        let err = |a: &[&str]| parse(v(a)).err().map(|e| e.0);
        assert_eq!(err(&[]), Some("missing operand".into()));
        assert_eq!(err(&["755"]), Some("missing operand after '755'".into()));
        assert_eq!(err(&["nope", "f"]), Some("invalid mode: 'nope'".into()));
        assert_eq!(err(&["-Z", "f"]), Some("invalid option -- 'Z'".into()));
    }

    #[test]
    fn trailing_slashes_are_shown_once() {
        assert_eq!(one_trailing_slash(OsStr::new("q//")), OsString::from("q/"));
        assert_eq!(one_trailing_slash(OsStr::new("q")), OsString::from("q"));
        assert_eq!(one_trailing_slash(OsStr::new("//")), OsString::from("/"));
    }
}
