//! What the file builtins (mkdir, rmdir, touch, ln, chmod) share: the umask, GNU-worded
//! errors and options with values.
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use crate::commands::UsageError;
pub use crate::output::quote::{quote, quote_c, quote_if_needed};
use crate::vfs::FsError;

/// The process's umask as last set through [`set_umask`]; read first from /proc (no window in
/// which it is 0 for the other threads), else by setting and restoring it.
pub fn umask() -> u32 {
    static START: OnceLock<()> = OnceLock::new();
    START.get_or_init(|| {
        let m = umask_from_proc().unwrap_or_else(umask_by_swap);
        let _ = UMASK.compare_exchange(UNREAD, m, Ordering::SeqCst, Ordering::SeqCst);
    });
    UMASK.load(Ordering::SeqCst)
}

/// Sets the process's umask (the `umask` builtin): what files made from now on and host
/// programs started get.
pub fn set_umask(mask: u32) {
    let _ = umask();
    // SAFETY: umask(2) cannot fail and only sets the process's mask.
    unsafe { libc::umask((mask & 0o777) as libc::mode_t) };
    UMASK.store(mask & 0o777, Ordering::SeqCst);
}

const UNREAD: u32 = u32::MAX;
static UMASK: AtomicU32 = AtomicU32::new(UNREAD);

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

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
        let (rest, vals) = take_valued(v(&["-pm", "750", "x", "-m700", "--", "-m"]), "m").unwrap();
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
