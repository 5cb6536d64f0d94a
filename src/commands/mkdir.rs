//! `mkdir`: make directories, with `-p` (parents as needed, no error for existing ones),
//! `-m MODE` and `-v`. Works in stopped containers too (through the archive API).
//!
//! Also home, for now, of [`shared`]: what the file builtins (mkdir, rmdir, touch, ln, chmod)
//! have in common — GNU's quoting of names, the umask, GNU-worded errors, short options that
//! take a value.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use futures_util::future::LocalBoxFuture;

use self::shared::{complain, errno_error, quote, quote_c, stat, take_valued, umask};
use super::chmod::Mode;
use super::{Args, Builtin, Out, UsageError};
use crate::exit_codes;
use crate::shell::Shell;
use crate::vfs::stream::Attrs;
use crate::vfs::FsError;

pub struct Cmd;

impl Builtin for Cmd {
    fn name(&self) -> &'static str {
        "mkdir"
    }
    fn about(&self) -> &'static str {
        "make directories, also in stopped containers"
    }
    fn usage(&self) -> &'static str {
        "mkdir [-pv] [-m MODE] DIR...\n  -p       make parent directories as needed; no error if DIR exists\n  -m MODE  the new directories' mode: octal (750) or symbolic (u=rwx,g=rx), from a=rwx\n           (without -m: 777 less the umask)\n  -v       print a line for each directory made"
    }
    fn run<'a>(
        &'a self,
        sh: &'a mut Shell,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let (opts, dirs) = match parse(args) {
                Ok(p) => p,
                Err(e) => return sh.usage("mkdir", e),
            };
            let mut status = exit_codes::OK;
            for d in &dirs {
                let made = if opts.parents {
                    opts.make_parents(sh, out, d).await
                } else {
                    opts.make(sh, out, d).await
                };
                if let Err((shown, e)) = made {
                    let what = format!("cannot create directory {}", quote_c(&shown));
                    complain("mkdir", &what, &e);
                    status = exit_codes::FAILURE;
                    if matches!(e, FsError::Interrupted) {
                        break;
                    }
                }
            }
            status
        })
    }
}

/// What to do, decided before any I/O.
#[derive(Debug)]
struct Opts {
    parents: bool,
    verbose: bool,
    /// The mode of the directories named.
    mode: u32,
    /// The mode of parents made by `-p`: GNU gives them u+wx whatever the umask, so that the
    /// next level can be made.
    parent_mode: u32,
}

fn parse(argv: Vec<OsString>) -> Result<(Opts, Vec<OsString>), UsageError> {
    let (argv, values) = take_valued(argv, "m")?;
    let a = Args::parse(argv, "pv", &["parents", "verbose", "mode="])?;
    let has_long = |n: &str| a.long.iter().any(|(l, _)| l == n);
    let long_mode = a
        .long
        .iter()
        .filter(|(l, _)| l == "mode")
        .map(|(_, v)| v.clone().map(OsString::from));
    let modes: Vec<Option<OsString>> = values
        .into_iter()
        .map(|(_, v)| Some(v))
        .chain(long_mode)
        .collect();
    let base = 0o777 & !umask();
    let mode = match modes.last() {
        None => base,
        Some(None) => return Err(UsageError("option '--mode' requires an argument".into())),
        Some(Some(text)) => Mode::parse(text)
            .ok_or_else(|| UsageError(format!("invalid mode {}", quote_c(text))))?
            .apply(0o777, true, umask()),
    };
    if a.operands.is_empty() {
        return Err(UsageError("missing operand".into()));
    }
    let opts = Opts {
        parents: a.has('p') || has_long("parents"),
        verbose: a.has('v') || has_long("verbose"),
        mode,
        parent_mode: base | 0o300,
    };
    Ok((opts, a.operands))
}

/// A failure and the name (as typed, or the prefix of it) it is about.
type Failed = (OsString, FsError);

/// How one `mkdir` went.
enum Made {
    Created,
    /// Already there: whether it is a directory (following symlinks).
    Exists(bool),
    /// A component on the way is missing or not a directory: try the parent first.
    NoParent(FsError),
}

impl Opts {
    /// Plain `mkdir DIR`.
    async fn make(&self, sh: &Shell, out: &mut Out, text: &OsStr) -> Result<(), Failed> {
        match self.try_make(sh, out, text, self.mode).await {
            Ok(Made::Created) => Ok(()),
            Ok(Made::Exists(_)) => Err((text.into(), errno_error(libc::EEXIST))),
            Ok(Made::NoParent(e)) | Err(e) => Err((text.into(), e)),
        }
    }

    /// `mkdir -p DIR`: goes up from DIR only as far as something is missing (one request
    /// when the parent exists), then makes the missing levels on the way back down.
    async fn make_parents(&self, sh: &Shell, out: &mut Out, text: &OsStr) -> Result<(), Failed> {
        let levels = prefixes(text);
        let last = levels.len() - 1;
        let mut i = last;
        loop {
            let mode = if i == last {
                self.mode
            } else {
                self.parent_mode
            };
            let fail = |e| Err((levels[i].to_os_string(), e));
            match self.try_make(sh, out, levels[i], mode).await {
                Ok(Made::Created) | Ok(Made::Exists(true)) => break,
                Ok(Made::Exists(false)) if i == last => return fail(errno_error(libc::EEXIST)),
                Ok(Made::Exists(false)) => return fail(FsError::NotADirectory),
                Ok(Made::NoParent(e)) if i == 0 => return fail(e),
                Ok(Made::NoParent(_)) => i -= 1,
                Err(e) => return fail(e),
            }
        }
        for (j, level) in levels.iter().enumerate().skip(i + 1) {
            let mode = if j == last {
                self.mode
            } else {
                self.parent_mode
            };
            match self.try_make(sh, out, level, mode).await {
                Ok(Made::Created) | Ok(Made::Exists(true)) => {}
                Ok(Made::Exists(false)) => {
                    let e = if j == last {
                        errno_error(libc::EEXIST)
                    } else {
                        FsError::NotADirectory
                    };
                    return Err((level.to_os_string(), e));
                }
                Ok(Made::NoParent(e)) | Err(e) => return Err((level.to_os_string(), e)),
            }
        }
        Ok(())
    }

    /// One `mkdir`; when it fails, says whether the name exists (then the error is moot, as
    /// for `/containers` or a container's root, which refuse writes but exist).
    async fn try_make(
        &self,
        sh: &Shell,
        out: &mut Out,
        text: &OsStr,
        mode: u32,
    ) -> Result<Made, FsError> {
        if text.is_empty() {
            return Err(FsError::NotFound);
        }
        let p = sh.resolve(text);
        let attrs = Attrs {
            mode,
            ..Attrs::default()
        };
        let err = match sh.vfs.mkdir(&p, &attrs).await {
            Ok(()) => {
                if self.verbose {
                    let _ = writeln!(out, "mkdir: created directory {}", quote(text));
                }
                return Ok(Made::Created);
            }
            Err(e) => e,
        };
        if matches!(err, FsError::Interrupted) {
            return Err(err);
        }
        match stat(sh, &p).await {
            Ok(e) => Ok(Made::Exists(e.is_dir())),
            // A dangling symlink is there, but no directory can be made through it.
            Err(FsError::NotFound) if sh.vfs.lstat(&p).await.is_ok() => Ok(Made::Exists(false)),
            Err(_) if matches!(err, FsError::NotFound | FsError::NotADirectory) => {
                Ok(Made::NoParent(err))
            }
            Err(_) => Err(err),
        }
    }
}

/// The levels of a path as typed, each a prefix of it: `a/b//c/` gives `a`, `a/b`, `a/b//c/`.
fn prefixes(text: &OsStr) -> Vec<&OsStr> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for i in 1..b.len() {
        let ends_component = b[i] == b'/' && b[i - 1] != b'/';
        let more_follows = b[i..].iter().any(|&c| c != b'/');
        if ends_component && more_follows {
            out.push(OsStr::from_bytes(&b[..i]));
        }
    }
    out.push(text);
    out
}

/// What the file builtins share. It lives here until it can move to a module of its own
/// (`commands/gnu.rs`, say).
pub(super) mod shared {
    use std::ffi::{OsStr, OsString};
    use std::io;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::Path;
    use std::sync::OnceLock;

    use crate::commands::UsageError;
    use crate::shell::Shell;
    use crate::vfs::{Entry, FsError, Kind, VPath};

    /// The process's umask, read once: from /proc (no window in which it is 0 for the other
    /// threads), else by setting and restoring it.
    pub fn umask() -> u32 {
        static UMASK: OnceLock<u32> = OnceLock::new();
        *UMASK.get_or_init(|| umask_from_proc().unwrap_or_else(umask_by_swap))
    }

    fn umask_from_proc() -> Option<u32> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
        u32::from_str_radix(line.trim(), 8).ok()
    }

    fn umask_by_swap() -> u32 {
        // SAFETY: umask(2) cannot fail; the old value is put back at once.
        let old = unsafe { libc::umask(0o022) };
        // SAFETY: as above.
        unsafe { libc::umask(old) };
        old
    }

    /// `Vfs::stat`, following symlinks on the host too. Workaround: `Vfs::stat` answers lstat
    /// for host paths today (`cd` into a host symlink fails the same way); when it follows,
    /// this becomes `sh.vfs.stat(p)`.
    pub async fn stat(sh: &Shell, p: &VPath) -> Result<Entry, FsError> {
        let mut e = sh.vfs.stat(p).await?;
        let VPath::Host(h) = p else {
            return Ok(e);
        };
        let mut cur = h.clone();
        for _ in 0..40 {
            let (Kind::Symlink, Some(t)) = (e.kind, &e.link_target) else {
                return Ok(e);
            };
            cur = cur.parent().unwrap_or(Path::new("/")).join(t);
            e = sh.vfs.lstat(&VPath::Host(cur.clone())).await?;
        }
        Err(FsError::Loop)
    }

    /// An `FsError` for a plain errno (`EEXIST`...), worded as strerror.
    pub fn errno_error(errno: i32) -> FsError {
        FsError::from(io::Error::from_raw_os_error(errno))
    }

    /// The errno behind an error, when there is one.
    pub fn errno(e: &FsError) -> Option<i32> {
        match e {
            FsError::NotFound => Some(libc::ENOENT),
            FsError::NotADirectory => Some(libc::ENOTDIR),
            FsError::IsADirectory => Some(libc::EISDIR),
            FsError::PermissionDenied => Some(libc::EACCES),
            FsError::Loop => Some(libc::ELOOP),
            FsError::Io(e) => e.raw_os_error(),
            _ => None,
        }
    }

    /// Prints a GNU-worded failure, `dockerbox: CMD: WHAT: ERROR` (WHAT names the file, quoted
    /// GNU's way); like `Shell::report`, nothing after Ctrl-C or for a closed pipe.
    pub fn complain(cmd: &str, what: &str, err: &FsError) {
        if matches!(err, FsError::Interrupted) || err.is_broken_pipe() {
            return;
        }
        eprintln!("dockerbox: {cmd}: {what}: {err}");
    }

    /// Takes the short options that carry a value (`-m MODE`, `-mMODE`, `-pm MODE`) out of
    /// `argv`, which `Args::parse` cannot do. Returns the rest and the values in order.
    #[allow(clippy::type_complexity)]
    pub fn take_valued(
        argv: Vec<OsString>,
        valued: &str,
    ) -> Result<(Vec<OsString>, Vec<(char, OsString)>), UsageError> {
        let (mut rest, mut values) = (Vec::new(), Vec::new());
        let mut iter = argv.into_iter();
        while let Some(arg) = iter.next() {
            let b = arg.as_bytes();
            if b == b"--" {
                rest.push(arg);
                rest.extend(iter.by_ref());
                break;
            }
            let at = match b.first() {
                Some(b'-') if b.len() > 1 && b[1] != b'-' => b
                    .iter()
                    .skip(1)
                    .position(|c| valued.as_bytes().contains(c))
                    .map(|i| i + 1),
                _ => None,
            };
            let Some(at) = at else {
                rest.push(arg);
                continue;
            };
            let c = char::from(b[at]);
            if at > 1 {
                rest.push(OsString::from_vec(b[..at].to_vec()));
            }
            let value = if at + 1 < b.len() {
                OsString::from_vec(b[at + 1..].to_vec())
            } else {
                iter.next()
                    .ok_or_else(|| UsageError(format!("option requires an argument -- '{c}'")))?
            };
            values.push((c, value));
        }
        Ok((rest, values))
    }

    /// A piece of a name for quoting: a printable character, or the escape for bytes that are
    /// not (`\n`, `\303`).
    enum Piece {
        Char(char),
        Escape(String),
    }

    /// Splits a name into printable characters and escapes. Valid UTF-8 prints as itself (as
    /// GNU in a UTF-8 locale); control characters and invalid bytes are escaped.
    fn pieces(name: &OsStr) -> Vec<Piece> {
        let mut out = Vec::new();
        let octal = |out: &mut Vec<Piece>, bytes: &[u8]| {
            for b in bytes {
                out.push(Piece::Escape(format!("\\{b:03o}")));
            }
        };
        for chunk in name.as_bytes().utf8_chunks() {
            for c in chunk.valid().chars() {
                let named = match c {
                    '\x07' => Some("\\a"),
                    '\x08' => Some("\\b"),
                    '\x0c' => Some("\\f"),
                    '\n' => Some("\\n"),
                    '\r' => Some("\\r"),
                    '\t' => Some("\\t"),
                    '\x0b' => Some("\\v"),
                    _ => None,
                };
                match named {
                    Some(n) => out.push(Piece::Escape(n.to_string())),
                    None if c.is_control() => {
                        let mut buf = [0u8; 4];
                        octal(&mut out, c.encode_utf8(&mut buf).as_bytes());
                    }
                    None => out.push(Piece::Char(c)),
                }
            }
            octal(&mut out, chunk.invalid());
        }
        out
    }

    /// GNU's `quoteaf` (shell-escape-always): `'x'`, `"it's"`, `'a'\''b$c'`, `'a'$'\n''b'`.
    /// Most messages and every `-v` line quote names this way.
    pub fn quote(name: &OsStr) -> String {
        let pieces = pieces(name);
        let has_quote = pieces.iter().any(|p| matches!(p, Piece::Char('\'')));
        let plain = pieces
            .iter()
            .all(|p| matches!(p, Piece::Char(c) if !"\"$`\\!".contains(*c)));
        if has_quote && plain {
            return format!("\"{}\"", name.to_string_lossy());
        }
        #[derive(PartialEq)]
        enum In {
            Single,
            Dollar,
        }
        let mut s = String::from("'");
        let mut state = In::Single;
        for p in pieces {
            match p {
                Piece::Char('\'') => {
                    // Closes whichever quote is open, then an escaped quote, then reopens.
                    s.push_str("'\\''");
                    state = In::Single;
                }
                Piece::Char(c) => {
                    if state == In::Dollar {
                        s.push_str("''");
                        state = In::Single;
                    }
                    s.push(c);
                }
                Piece::Escape(e) => {
                    if state == In::Single {
                        s.push_str("'$'");
                        state = In::Dollar;
                    }
                    s.push_str(&e);
                }
            }
        }
        s.push('\'');
        s
    }

    /// GNU's `quote` in the C locale: `'a\'b'`, `'n\nl'`. Used by the few messages GNU quotes
    /// this way (mkdir's "cannot create directory", invalid modes and dates).
    pub fn quote_c(name: &OsStr) -> String {
        let mut s = String::from("'");
        for p in pieces(name) {
            match p {
                Piece::Char('\'') => s.push_str("\\'"),
                Piece::Char('\\') => s.push_str("\\\\"),
                Piece::Char(c) => s.push(c),
                Piece::Escape(e) => s.push_str(&e),
            }
        }
        s.push('\'');
        s
    }

    /// GNU's `quotef`: the name as is when a shell would take it so, else as [`quote`].
    pub fn quote_if_needed(name: &OsStr) -> String {
        let safe = |(i, c): (usize, char)| {
            c.is_alphanumeric() || "%+,-./:]_@".contains(c) || (i > 0 && (c == '#' || c == '~'))
        };
        let s = name.to_str();
        match s {
            Some(s) if !s.is_empty() && s.chars().enumerate().all(safe) => s.to_string(),
            _ => quote(name),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Checked against `ls --quoting-style=shell-escape-always` and `=locale` (LC_ALL=C),
        /// except that valid UTF-8 prints as itself.
        #[test]
        fn quoting_as_gnu() {
            let cases: &[(&[u8], &str, &str)] = &[
                (b"plain", "'plain'", "'plain'"),
                (b"a b", "'a b'", "'a b'"),
                (b"a'b", "\"a'b\"", "'a\\'b'"),
                (b"a'b$c", "'a'\\''b$c'", "'a\\'b$c'"),
                (b"a'b\"c", "'a'\\''b\"c'", "'a\\'b\"c'"),
                (b"a'b\nc", "'a'\\''b'$'\\n''c'", "'a\\'b\\nc'"),
                (b"x\ty", "'x'$'\\t''y'", "'x\\ty'"),
                (b"it's a \"q\"", "'it'\\''s a \"q\"'", "'it\\'s a \"q\"'"),
                (b"back\\slash", "'back\\slash'", "'back\\\\slash'"),
                (b"\x01", "''$'\\001'", "'\\001'"),
                (b"\xff", "''$'\\377'", "'\\377'"),
                (b"a'b\\c", "'a'\\''b\\c'", "'a\\'b\\\\c'"),
                (b"$x", "'$x'", "'$x'"),
                (b"", "''", "''"),
                ("é".as_bytes(), "'é'", "'é'"),
            ];
            for (raw, shell, c) in cases {
                let name = OsStr::from_bytes(raw);
                assert_eq!(&quote(name), shell, "quote({name:?})");
                assert_eq!(&quote_c(name), c, "quote_c({name:?})");
            }
            assert_eq!(quote_if_needed(OsStr::new("d")), "d");
            assert_eq!(quote_if_needed(OsStr::new("a/b-c.d")), "a/b-c.d");
            assert_eq!(quote_if_needed(OsStr::new("a b")), "'a b'");
            assert_eq!(quote_if_needed(OsStr::new("")), "''");
        }

        fn v(args: &[&str]) -> Vec<OsString> {
            args.iter().map(OsString::from).collect()
        }

        #[test]
        fn valued_short_options() {
            let (rest, vals) =
                take_valued(v(&["-pm", "750", "x", "-m700", "--", "-m"]), "m").unwrap();
            assert_eq!(rest, v(&["-p", "x", "--", "-m"]));
            assert_eq!(
                vals,
                vec![('m', OsString::from("750")), ('m', OsString::from("700"))]
            );
            let (rest, vals) = take_valued(v(&["-v", "--mode=1", "-"]), "m").unwrap();
            assert_eq!(rest, v(&["-v", "--mode=1", "-"]));
            assert!(vals.is_empty());
            assert_eq!(
                take_valued(v(&["-m"]), "m").err(),
                Some(UsageError("option requires an argument -- 'm'".into()))
            );
        }

        #[test]
        fn the_umask_is_read() {
            assert!(umask() <= 0o777);
            assert_eq!(umask_from_proc(), Some(umask_by_swap()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_of_a_path() {
        let p = |s: &str| -> Vec<String> {
            prefixes(OsStr::new(s))
                .iter()
                .map(|x| x.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(p("a"), ["a"]);
        assert_eq!(p("a/b//c/"), ["a", "a/b", "a/b//c/"]);
        assert_eq!(
            p("/containers/c/x"),
            ["/containers", "/containers/c", "/containers/c/x"]
        );
        assert_eq!(p("/"), ["/"]);
    }

    #[test]
    fn modes_from_the_command_line() {
        let v = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        let (o, dirs) = parse(v(&["-pm", "750", "x"])).unwrap();
        assert!(o.parents && !o.verbose);
        assert_eq!(o.mode, 0o750);
        assert_eq!(dirs, v(&["x"]));
        let (o, _) = parse(v(&["--mode=u=rwx,g=rx", "-v", "x"])).unwrap();
        assert_eq!(o.mode, 0o757); // o keeps a=rwx's bits, as GNU
        assert!(o.verbose);
        let (o, _) = parse(v(&["-m", "7777", "x"])).unwrap();
        assert_eq!(o.mode, 0o7777);
        let err = |a: &[&str]| parse(v(a)).err().map(|e| e.0);
        assert_eq!(err(&["-m", "bad", "x"]), Some("invalid mode 'bad'".into()));
        assert_eq!(err(&["-p"]), Some("missing operand".into()));
    }
}
