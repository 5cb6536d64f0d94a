//! `printf`: bash's, as a builtin (no process per call, and `-v VAR`). The format is reused
//! while arguments remain; numbers take C's forms (`0x1f`, `017`, `'a` for a character's code)
//! and are formatted by the C library's `snprintf`, so `%5.2f`, `%#x` and `%e` read exactly as
//! in C; `%b` expands escapes in its argument, `%q` quotes for the shell, `%(FMT)T` formats a
//! time with `strftime`.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStringExt;

use futures_util::future::LocalBoxFuture;

use super::{Builtin, Out};
use crate::context::{is_name, Context, Key};
use crate::exit_codes;

pub struct Printf;

impl Builtin for Printf {
    fn name(&self) -> &'static str {
        "printf"
    }
    fn about(&self) -> &'static str {
        "format and print arguments (bash's printf, with -v VAR)"
    }
    fn usage(&self) -> &'static str {
        "printf [-v VAR] FORMAT [ARGUMENT...]\n  -v VAR  assign the output to shell variable VAR (or element VAR[N])"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move { printf(ctx, args, out) })
    }
}

fn printf(ctx: &mut Context, args: Vec<OsString>, out: &mut Out) -> i32 {
    let mut args: Vec<Vec<u8>> = args.into_iter().map(OsString::into_vec).collect();
    let mut var = None;
    loop {
        match args.first().map(Vec::as_slice) {
            Some(b"--") => {
                args.remove(0);
                break;
            }
            Some(b"-v") if args.len() > 1 => {
                args.remove(0);
                var = Some(args.remove(0));
            }
            Some([b'-', b'v', rest @ ..]) if !rest.is_empty() => {
                var = Some(rest.to_vec());
                args.remove(0);
            }
            _ => break,
        }
    }
    if args.is_empty() {
        return ctx.usage("usage: printf [-v var] format [arguments]");
    }
    let target = match &var {
        Some(v) => match target(v) {
            Some(t) => Some(t),
            None => {
                ctx.fail(format_args!(
                    "`{}': not a valid identifier",
                    String::from_utf8_lossy(v)
                ));
                return exit_codes::USAGE;
            }
        },
        None => None,
    };
    let format = args.remove(0);
    let mut f = Formatter {
        args: &args,
        next: 0,
        out: Vec::new(),
        status: exit_codes::OK,
        ctx,
    };
    loop {
        let used_before = f.next;
        match f.run(&format) {
            Ok(true) => {}
            Ok(false) => break,
            Err(()) => {
                f.status = exit_codes::FAILURE;
                break;
            }
        }
        if f.next >= f.args.len() || f.next == used_before {
            break;
        }
    }
    let (text, status) = (f.out, f.status);
    match target {
        Some((name, key)) => {
            let result = match key {
                Some(k) => ctx.vars.set_elem(&name, k, text),
                None => {
                    if ctx.vars.is_readonly(&name) {
                        Err(format!(
                            "{}: readonly variable",
                            String::from_utf8_lossy(&name)
                        ))
                    } else {
                        ctx.vars.set(&name, text);
                        Ok(())
                    }
                }
            };
            if let Err(msg) = result {
                ctx.fail(msg);
                return exit_codes::FAILURE;
            }
            status
        }
        None => match out.write_all(&text).and_then(|()| out.flush()) {
            Ok(()) => status,
            Err(_) => exit_codes::FAILURE,
        },
    }
}

/// `-v NAME` or `-v NAME[N]`.
fn target(v: &[u8]) -> Option<(Vec<u8>, Option<Key>)> {
    if let Some(open) = v.iter().position(|&c| c == b'[') {
        let name = &v[..open];
        let inner = v[open + 1..].strip_suffix(b"]")?;
        if !is_name(name) || inner.is_empty() {
            return None;
        }
        let key = match std::str::from_utf8(inner).ok().and_then(|s| s.parse().ok()) {
            Some(i) => Key::Index(i),
            None => Key::Name(inner.to_vec()),
        };
        return Some((name.to_vec(), Some(key)));
    }
    is_name(v).then(|| (v.to_vec(), None))
}

struct Formatter<'a> {
    args: &'a [Vec<u8>],
    next: usize,
    out: Vec<u8>,
    status: i32,
    ctx: &'a Context,
}

/// One conversion's flags, width and precision.
#[derive(Default)]
struct Spec {
    flags: Vec<u8>,
    width: Option<i64>,
    precision: Option<i64>,
}

impl Formatter<'_> {
    fn arg(&mut self) -> Option<&[u8]> {
        let a = self.args.get(self.next)?;
        self.next += 1;
        Some(a)
    }

    /// One pass over the format; `Ok(false)`: `\c` stopped all output.
    fn run(&mut self, format: &[u8]) -> Result<bool, ()> {
        let mut i = 0;
        while i < format.len() {
            match format[i] {
                b'\\' => {
                    let (n, stop) = escape(&format[i..], false, &mut self.out);
                    if stop {
                        return Ok(false);
                    }
                    i += n;
                }
                b'%' if format.get(i + 1) == Some(&b'%') => {
                    self.out.push(b'%');
                    i += 2;
                }
                b'%' => {
                    i += 1;
                    let mut spec = Spec::default();
                    while let Some(&c) = format.get(i).filter(|c| b"-+ #0'".contains(c)) {
                        spec.flags.push(c);
                        i += 1;
                    }
                    spec.width = self.number_field(format, &mut i)?;
                    if format.get(i) == Some(&b'.') {
                        i += 1;
                        spec.precision = Some(self.number_field(format, &mut i)?.unwrap_or(0));
                    }
                    // Length modifiers mean nothing here.
                    while format.get(i).is_some_and(|c| b"hlLjzt".contains(c)) {
                        i += 1;
                    }
                    let Some(&conv) = format.get(i) else {
                        let text = String::from_utf8_lossy(&format[i.saturating_sub(1)..]);
                        self.ctx
                            .fail(format_args!("`{text}': missing format character"));
                        return Err(());
                    };
                    i += 1;
                    if conv == b'(' {
                        let Some(close) = format[i..].iter().position(|&c| c == b')') else {
                            self.ctx.fail("`(': missing format character");
                            return Err(());
                        };
                        let time_format = format[i..i + close].to_vec();
                        i += close + 1;
                        if format.get(i) != Some(&b'T') {
                            self.ctx.fail("`(': invalid format character");
                            return Err(());
                        }
                        i += 1;
                        let when = self.arg().map(<[u8]>::to_vec);
                        let text = strftime(&time_format, when.as_deref());
                        self.pad(&text, &spec);
                        continue;
                    }
                    if !self.convert(conv, &spec)? {
                        return Ok(false);
                    }
                }
                c => {
                    self.out.push(c);
                    i += 1;
                }
            }
        }
        Ok(true)
    }

    /// A width or precision: digits, or `*` taking the next argument.
    fn number_field(&mut self, format: &[u8], i: &mut usize) -> Result<Option<i64>, ()> {
        if format.get(*i) == Some(&b'*') {
            *i += 1;
            let a = self.arg().map(<[u8]>::to_vec).unwrap_or_default();
            return Ok(Some(self.integer(&a)));
        }
        let n = format[*i..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if n == 0 {
            return Ok(None);
        }
        let v = std::str::from_utf8(&format[*i..*i + n])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(i64::MAX);
        *i += n;
        Ok(Some(v))
    }

    /// Text padded to the width, cut to the precision (bytes, as C's `%s`).
    fn pad(&mut self, text: &[u8], spec: &Spec) {
        let text = match spec.precision {
            Some(p) if (p as usize) < text.len() => &text[..p.max(0) as usize],
            _ => text,
        };
        let width = spec.width.unwrap_or(0);
        let left = spec.flags.contains(&b'-') || width < 0;
        let fill = (width.unsigned_abs() as usize).saturating_sub(text.len());
        if !left {
            self.out.extend(std::iter::repeat_n(b' ', fill));
        }
        self.out.extend_from_slice(text);
        if left {
            self.out.extend(std::iter::repeat_n(b' ', fill));
        }
    }

    /// One conversion; `Ok(false)`: `%b`'s `\c` stopped all output.
    fn convert(&mut self, conv: u8, spec: &Spec) -> Result<bool, ()> {
        match conv {
            b's' => {
                let a = self.arg().map(<[u8]>::to_vec).unwrap_or_default();
                self.pad(&a, spec);
            }
            b'b' => {
                let a = self.arg().map(<[u8]>::to_vec).unwrap_or_default();
                let mut text = Vec::new();
                let mut i = 0;
                let mut stop = false;
                while i < a.len() {
                    if a[i] == b'\\' {
                        let (n, s) = escape(&a[i..], true, &mut text);
                        i += n;
                        if s {
                            stop = true;
                            break;
                        }
                    } else {
                        text.push(a[i]);
                        i += 1;
                    }
                }
                self.pad(&text, spec);
                if stop {
                    return Ok(false);
                }
            }
            b'q' => {
                let a = self.arg().map(<[u8]>::to_vec).unwrap_or_default();
                let q = shell_quote(&a);
                self.pad(&q, spec);
            }
            b'c' => {
                let a = self.arg().map(<[u8]>::to_vec).unwrap_or_default();
                // bash's: the first byte, whatever the locale.
                let first: Vec<u8> = a.first().copied().into_iter().collect();
                self.pad(&first, spec);
            }
            b'd' | b'i' | b'o' | b'u' | b'x' | b'X' => {
                let a = self.arg().map(<[u8]>::to_vec).unwrap_or_default();
                let c_spec = c_spec(spec, &format!("ll{}", conv as char));
                let text = if conv == b'd' || conv == b'i' {
                    let v = self.integer(&a);
                    c_format_int(&c_spec, v)
                } else {
                    let v = self.unsigned(&a);
                    c_format_uint(&c_spec, v)
                };
                self.out.extend_from_slice(&text);
            }
            b'e' | b'E' | b'f' | b'F' | b'g' | b'G' | b'a' | b'A' => {
                let a = self.arg().map(<[u8]>::to_vec).unwrap_or_default();
                let v = self.float(&a);
                let c_spec = c_spec(spec, &(conv as char).to_string());
                self.out.extend_from_slice(&c_format_float(&c_spec, v));
            }
            c => {
                self.ctx
                    .fail(format_args!("`{}': invalid format character", c as char));
                return Err(());
            }
        }
        Ok(true)
    }

    /// A signed argument: C's forms, a leading quote for a character's code; a bad one is
    /// reported (status 1) and what could be read of it used; out of range is clamped.
    fn integer(&mut self, a: &[u8]) -> i64 {
        match parse_integer(a) {
            Parsed::Ok(v) => v.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
            Parsed::Range(v) => {
                self.ctx.errors.note(format_args!(
                    "warning: {}: Numerical result out of range",
                    String::from_utf8_lossy(a)
                ));
                if v < 0 {
                    i64::MIN
                } else {
                    i64::MAX
                }
            }
            Parsed::Bad(v) => {
                self.invalid(a);
                v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
            }
        }
    }

    fn unsigned(&mut self, a: &[u8]) -> u64 {
        match parse_integer(a) {
            Parsed::Ok(v) if v >= 0 => v.min(u64::MAX as i128) as u64,
            Parsed::Ok(v) => (v as i64) as u64,
            // C's strtoumax: a negative number within 64 bits wraps.
            Parsed::Range(v) if v < 0 && -v <= u64::MAX as i128 => ((-v) as u64).wrapping_neg(),
            Parsed::Range(_) => {
                self.ctx.errors.note(format_args!(
                    "warning: {}: Numerical result out of range",
                    String::from_utf8_lossy(a)
                ));
                u64::MAX
            }
            Parsed::Bad(v) => {
                self.invalid(a);
                v as u64
            }
        }
    }

    fn float(&mut self, a: &[u8]) -> f64 {
        let t = String::from_utf8_lossy(a);
        let t = t.trim();
        if t.is_empty() {
            return 0.0;
        }
        if let Ok(v) = t.parse::<f64>() {
            return v;
        }
        match parse_integer(a) {
            Parsed::Ok(v) | Parsed::Range(v) => v as f64,
            Parsed::Bad(v) => {
                self.invalid(a);
                v as f64
            }
        }
    }

    fn invalid(&mut self, a: &[u8]) {
        self.ctx.errors.note(format_args!(
            "{}: invalid number",
            String::from_utf8_lossy(a)
        ));
        self.status = exit_codes::FAILURE;
    }
}

enum Parsed {
    Ok(i128),
    /// Beyond 64 bits.
    Range(i128),
    /// Not all of it is a number: the value of what was.
    Bad(i128),
}

fn parse_integer(a: &[u8]) -> Parsed {
    if let Some(rest) = a.strip_prefix(b"'").or_else(|| a.strip_prefix(b"\"")) {
        let code = std::str::from_utf8(rest)
            .ok()
            .and_then(|s| s.chars().next())
            .map_or_else(|| rest.first().map_or(0, |b| i128::from(*b)), |c| c as i128);
        return Parsed::Ok(code);
    }
    // Leading blanks are allowed, as by C's strtol; trailing ones are not.
    let t = a.trim_ascii_start();
    if t.is_empty() {
        return Parsed::Ok(0);
    }
    let (neg, digits) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if let Some(h) = digits
        .strip_prefix(b"0x")
        .or_else(|| digits.strip_prefix(b"0X"))
    {
        (16, h)
    } else if digits.len() > 1 && digits[0] == b'0' {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    let mut v: i128 = 0;
    let mut n = 0;
    let mut over = false;
    for &c in digits {
        let Some(d) = (c as char).to_digit(radix) else {
            break;
        };
        v = v * i128::from(radix) + i128::from(d);
        if v > u64::MAX as i128 + 1 {
            over = true;
            v = u64::MAX as i128 + 1;
        }
        n += 1;
    }
    let v = if neg { -v } else { v };
    if n < digits.len() || (n == 0 && radix != 8) {
        return Parsed::Bad(v);
    }
    if over || v > u64::MAX as i128 || v < i64::MIN as i128 {
        return Parsed::Range(v);
    }
    if v > i64::MAX as i128 && neg {
        return Parsed::Range(v);
    }
    Parsed::Ok(v)
}

/// `%` + flags + width + precision + `conv`, for the C library.
fn c_spec(spec: &Spec, conv: &str) -> CString {
    let mut s = String::from("%");
    for &f in &spec.flags {
        if f != b'\'' {
            s.push(f as char);
        }
    }
    if let Some(w) = spec.width {
        s.push_str(&w.to_string());
    }
    if let Some(p) = spec.precision {
        s.push('.');
        s.push_str(&p.to_string());
    }
    s.push_str(conv);
    CString::new(s).unwrap_or_default()
}

macro_rules! c_format {
    ($name:ident, $t:ty) => {
        fn $name(spec: &CString, v: $t) -> Vec<u8> {
            // SAFETY: `spec` is one conversion whose argument type is `$t`; the first call
            // measures, the second writes into a buffer of that size plus the NUL.
            unsafe {
                let n = libc::snprintf(std::ptr::null_mut(), 0, spec.as_ptr(), v);
                if n < 0 {
                    return Vec::new();
                }
                let mut buf = vec![0u8; n as usize + 1];
                libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), spec.as_ptr(), v);
                buf.truncate(n as usize);
                buf
            }
        }
    };
}

c_format!(c_format_int, libc::c_longlong);
c_format!(c_format_uint, libc::c_ulonglong);
c_format!(c_format_float, libc::c_double);

/// `%(FMT)T`: the time (seconds since the epoch; -1 or none: now) in local time.
fn strftime(format: &[u8], when: Option<&[u8]>) -> Vec<u8> {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    };
    let t = match when.map(|w| w.trim_ascii()) {
        None | Some(b"") | Some(b"-1") | Some(b"-2") => now(),
        Some(w) => match parse_integer(w) {
            Parsed::Ok(v) => v as i64,
            _ => now(),
        },
    };
    let format = if format.is_empty() {
        b"%X".as_slice()
    } else {
        format
    };
    let Ok(cfmt) = CString::new(format) else {
        return Vec::new();
    };
    // SAFETY: `tm` is filled by localtime_r before use; strftime writes at most `buf.len()`
    // bytes and returns how many.
    unsafe {
        let time: libc::time_t = t;
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&time, &mut tm).is_null() {
            return Vec::new();
        }
        let mut buf = vec![0u8; 256];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm);
        buf.truncate(n);
        buf.truncate(128);
        buf
    }
}

/// One escape at the start of `s` (which begins with `\`) appended to `out`: how many bytes it
/// took, and whether it was `\c` (stop). In `%b` (`arg`) octal may be `\0NNN` and `\c` stops.
pub fn escape(s: &[u8], arg: bool, out: &mut Vec<u8>) -> (usize, bool) {
    escape_as(s, arg, true, out)
}

/// [`escape`], for `echo -e` when `short_octal` is off: only `\0NNN` is octal.
pub fn escape_as(s: &[u8], arg: bool, short_octal: bool, out: &mut Vec<u8>) -> (usize, bool) {
    let Some(&c) = s.get(1) else {
        out.push(b'\\');
        return (1, false);
    };
    let simple = match c {
        b'a' => Some(7),
        b'b' => Some(8),
        b'e' | b'E' => Some(27),
        b'f' => Some(12),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(11),
        b'\\' => Some(b'\\'),
        b'"' if !arg => Some(b'"'),
        b'\'' if !arg => Some(b'\''),
        b'?' if !arg => Some(b'?'),
        _ => None,
    };
    if let Some(b) = simple {
        out.push(b);
        return (2, false);
    }
    let digits = |from: usize, max: usize, radix: u32| {
        s[from..]
            .iter()
            .take(max)
            .take_while(|c| (**c as char).is_digit(radix))
            .count()
    };
    let value = |from: usize, n: usize, radix: u32| {
        u32::from_str_radix(
            std::str::from_utf8(&s[from..from + n]).unwrap_or("0"),
            radix,
        )
        .unwrap_or(0)
    };
    match c {
        b'c' if arg => (2, true),
        b'1'..=b'7' if !short_octal => {
            out.extend_from_slice(&s[..2]);
            (2, false)
        }
        b'0'..=b'7' => {
            let (from, max) = if arg && c == b'0' { (2, 3) } else { (1, 3) };
            let n = digits(from, max, 8);
            out.push(value(from, n, 8) as u8);
            (from + n, false)
        }
        b'x' => {
            let n = digits(2, 2, 16);
            if n == 0 {
                out.extend_from_slice(b"\\x");
                return (2, false);
            }
            out.push(value(2, n, 16) as u8);
            (2 + n, false)
        }
        b'u' | b'U' => {
            let n = digits(2, if c == b'u' { 4 } else { 8 }, 16);
            if n == 0 {
                out.extend_from_slice(&s[..2]);
                return (2, false);
            }
            let ch = char::from_u32(value(2, n, 16)).unwrap_or('\u{fffd}');
            out.extend_from_slice(ch.to_string().as_bytes());
            (2 + n, false)
        }
        _ => {
            out.push(b'\\');
            out.push(c);
            (2, false)
        }
    }
}

/// `%q`: bash's quoting, backslashes before special bytes, `$'...'` for control bytes.
pub fn shell_quote(s: &[u8]) -> Vec<u8> {
    if s.is_empty() {
        return b"''".to_vec();
    }
    if s.iter().any(|&c| c < 0x20 || c == 0x7f) {
        let mut out = b"$'".to_vec();
        for &c in s {
            match c {
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\r' => out.extend_from_slice(b"\\r"),
                27 => out.extend_from_slice(b"\\E"),
                b'\'' => out.extend_from_slice(b"\\'"),
                b'\\' => out.extend_from_slice(b"\\\\"),
                c if c < 0x20 || c == 0x7f => {
                    out.extend_from_slice(format!("\\{c:03o}").as_bytes())
                }
                c => out.push(c),
            }
        }
        out.push(b'\'');
        return out;
    }
    let mut out = Vec::with_capacity(s.len() + 4);
    for (i, &c) in s.iter().enumerate() {
        let special =
            b" \t'\"\\|&;()<>!{}*[]?$`,^".contains(&c) || (i == 0 && (c == b'~' || c == b'#'));
        if special {
            out.push(b'\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_bash_reads_them() {
        for (text, want) in [
            ("42", 42i128),
            ("-7", -7),
            ("0x1f", 31),
            ("017", 15),
            ("'a", 97),
            ("\"A", 65),
            ("'", 0),
            (" 5", 5),
        ] {
            assert!(
                matches!(parse_integer(text.as_bytes()), Parsed::Ok(v) if v == want),
                "{text}"
            );
        }
        assert!(matches!(parse_integer(b"3x"), Parsed::Bad(3)));
        assert!(matches!(
            parse_integer(b"18446744073709551616"),
            Parsed::Range(_)
        ));
    }

    #[test]
    fn escapes_and_quoting() {
        let mut out = Vec::new();
        for s in [&b"\\n"[..], b"\\x41", b"\\101", b"\\u00e9", b"\\q"] {
            escape(s, false, &mut out);
        }
        assert_eq!(out, "\nAA\u{e9}\\q".as_bytes());
        assert_eq!(shell_quote(b"a b"), b"a\\ b");
        assert_eq!(shell_quote(b"x\ny"), b"$'x\\ny'");
        assert_eq!(shell_quote(b""), b"''");
    }
}
