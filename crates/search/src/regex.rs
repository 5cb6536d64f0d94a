//! GNU regular expressions through glibc's own GNU API (`re_compile_pattern`, `re_search`,
//! `re_match`), with the syntax bits GNU grep uses (`RE_SYNTAX_GREP`, `RE_SYNTAX_EGREP`): the
//! same engine and the same semantics as GNU grep in the C locale, at no size cost to the
//! static agent, which links glibc already. Back-references, `\w`, `\<`, intervals and
//! GNU's error texts come along.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr};
use std::sync::Mutex;

/// `struct re_pattern_buffer` (glibc's `regex_t`, 64 bytes on x86_64).
#[repr(C)]
struct Buffer {
    buffer: *mut c_void,
    allocated: usize,
    used: usize,
    syntax: c_ulong,
    fastmap: *mut c_char,
    translate: *mut u8,
    re_nsub: usize,
    /// can_be_null:1 regs_allocated:2 fastmap_accurate:1 no_sub:1 not_bol:1 not_eol:1
    /// newline_anchor:1, lowest bit first.
    bits: u8,
    _pad: [u8; 7],
}

/// `struct re_registers`.
#[repr(C)]
struct Regs {
    num_regs: c_uint,
    start: *mut c_int,
    end: *mut c_int,
}

extern "C" {
    fn re_set_syntax(syntax: c_ulong) -> c_ulong;
    fn re_compile_pattern(
        pattern: *const c_char,
        length: usize,
        buffer: *mut Buffer,
    ) -> *const c_char;
    fn re_search(
        buffer: *mut Buffer,
        string: *const c_char,
        length: c_int,
        start: c_int,
        range: c_int,
        regs: *mut Regs,
    ) -> c_int;
    fn re_match(
        buffer: *mut Buffer,
        string: *const c_char,
        length: c_int,
        start: c_int,
        regs: *mut Regs,
    ) -> c_int;
    fn regfree(buffer: *mut Buffer);
}

/// `RE_SYNTAX_GREP`: POSIX basic with newline as alternation, `.` matching NUL.
pub const SYNTAX_GREP: c_ulong = 0x10a46;
/// `RE_SYNTAX_EGREP`.
pub const SYNTAX_EGREP: c_ulong = 0x23ba5c;
const RE_ICASE: c_ulong = 0x400000;
const RE_DOT_NEWLINE: c_ulong = 0x40;
const RE_HAT_LISTS_NOT_NEWLINE: c_ulong = 0x100;
const NOT_EOL: u8 = 1 << 6;

/// `re_syntax_options` is one global: compiles take turns.
static COMPILE: Mutex<()> = Mutex::new(());

/// Lengths and offsets are C ints; buffers stay far below that.
fn int(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

/// One compiled pattern.
pub struct Regex {
    buf: Box<Buffer>,
    regs: Regs,
}

// SAFETY: the buffers are owned by this value alone; glibc's matcher keeps no global state.
unsafe impl Send for Regex {}

impl Regex {
    /// Compiles `pattern` with GNU's `syntax` bits; `icase` folds ASCII case. A line never
    /// holds a newline, so `.` and `[^x]` are kept from matching one: a search over many
    /// lines at once then finds the lines a search of each would.
    pub fn new(pattern: &[u8], syntax: c_ulong, icase: bool) -> Result<Regex, String> {
        let mut syntax = (syntax | RE_HAT_LISTS_NOT_NEWLINE) & !RE_DOT_NEWLINE;
        if icase {
            syntax |= RE_ICASE;
        }
        // SAFETY: malloc of 256 bytes for the fastmap, which regfree frees.
        let fastmap = unsafe { libc::malloc(256) }.cast::<c_char>();
        if fastmap.is_null() {
            return Err("memory exhausted".into());
        }
        let mut buf = Box::new(Buffer {
            buffer: std::ptr::null_mut(),
            allocated: 0,
            used: 0,
            syntax: 0,
            fastmap,
            translate: std::ptr::null_mut(),
            re_nsub: 0,
            bits: 0,
            _pad: [0; 7],
        });
        let err = {
            let _turn = COMPILE.lock();
            // SAFETY: the pattern is a valid buffer of its length; the buffer is zeroed but
            // for its fastmap, as re_compile_pattern expects.
            unsafe {
                re_set_syntax(syntax);
                re_compile_pattern(pattern.as_ptr().cast(), pattern.len(), &mut *buf)
            }
        };
        let regs = Regs {
            num_regs: 0,
            start: std::ptr::null_mut(),
            end: std::ptr::null_mut(),
        };
        let re = Regex { buf, regs };
        if !err.is_null() {
            // SAFETY: glibc returns a static NUL-terminated message.
            let msg = unsafe { CStr::from_ptr(err) };
            return Err(msg.to_string_lossy().into_owned());
        }
        Ok(re)
    }

    /// The leftmost match starting in `from..` of `hay` (anchors see `hay`'s own start and
    /// end, and newlines inside it): its start and end.
    pub fn search(&mut self, hay: &[u8], from: usize, not_eol: bool) -> Option<(usize, usize)> {
        self.set_not_eol(not_eol);
        let len = int(hay.len());
        let from = int(from);
        // SAFETY: hay is valid for len bytes; regs belongs to this buffer.
        let r = unsafe {
            re_search(
                &mut *self.buf,
                hay.as_ptr().cast(),
                len,
                from,
                len - from,
                &mut self.regs,
            )
        };
        self.span(r)
    }

    /// Whether some match starts in `from..`, without computing where it ends.
    pub fn found_from(&mut self, hay: &[u8], from: usize) -> Option<usize> {
        self.set_not_eol(false);
        let len = int(hay.len());
        let from = int(from);
        // SAFETY: as in `search`; null registers ask for the start only.
        let r = unsafe {
            re_search(
                &mut *self.buf,
                hay.as_ptr().cast(),
                len,
                from,
                len - from,
                std::ptr::null_mut(),
            )
        };
        usize::try_from(r).ok()
    }

    /// The length of the longest match anchored at `at` within `hay[..end]`.
    pub fn match_at(&mut self, hay: &[u8], end: usize, at: usize, not_eol: bool) -> Option<usize> {
        self.set_not_eol(not_eol);
        let end = end.min(hay.len());
        // SAFETY: hay is valid for end bytes.
        let r = unsafe {
            re_match(
                &mut *self.buf,
                hay.as_ptr().cast(),
                int(end),
                int(at),
                &mut self.regs,
            )
        };
        usize::try_from(r).ok()
    }

    fn set_not_eol(&mut self, on: bool) {
        if on {
            self.buf.bits |= NOT_EOL;
        } else {
            self.buf.bits &= !NOT_EOL;
        }
    }

    fn span(&self, start: c_int) -> Option<(usize, usize)> {
        let s = usize::try_from(start).ok()?;
        if self.regs.num_regs == 0 || self.regs.end.is_null() {
            return Some((s, s));
        }
        // SAFETY: re_search filled at least one register pair.
        let e = unsafe { *self.regs.end };
        Some((s, usize::try_from(e).unwrap_or(s).max(s)))
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: frees what re_compile_pattern and re_search allocated, once.
        unsafe {
            regfree(&mut *self.buf);
            libc::free(self.regs.start.cast());
            libc::free(self.regs.end.cast());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gnu_basic_and_extended() {
        let mut r = Regex::new(br"\(ab\)\1x", SYNTAX_GREP, false).unwrap();
        assert_eq!(r.search(b"zzababx", 0, false), Some((2, 7)));
        let mut r = Regex::new(b"a+|q", SYNTAX_EGREP, false).unwrap();
        assert_eq!(r.search(b"xxaaa", 0, false), Some((2, 5)));
        let mut r = Regex::new(b"a+", SYNTAX_GREP, false).unwrap();
        assert_eq!(r.search(b"aa a+", 0, false), Some((3, 5)));
        let mut r = Regex::new(br"\w\+", SYNTAX_GREP, true).unwrap();
        assert_eq!(r.search(b"-- AbC_1 --", 0, false), Some((3, 8)));
        assert_eq!(
            Regex::new(b"[a", SYNTAX_GREP, false).err().as_deref(),
            Some("Unmatched [, [^, [:, [., or [=")
        );
    }

    #[test]
    fn lines_stay_lines() {
        let mut r = Regex::new(b"a.b", SYNTAX_GREP, false).unwrap();
        assert_eq!(r.found_from(b"a\nb axb", 0), Some(4));
        let mut r = Regex::new(b"^b", SYNTAX_GREP, false).unwrap();
        assert_eq!(r.found_from(b"ab\nb", 0), Some(3));
        let mut r = Regex::new(b"a$", SYNTAX_GREP, false).unwrap();
        assert_eq!(r.found_from(b"ab\nba\n", 0), Some(4));
        let mut r = Regex::new(b"ab", SYNTAX_GREP, false).unwrap();
        assert_eq!(r.match_at(b"xabc", 4, 1, false), Some(2));
        assert_eq!(r.match_at(b"xabc", 2, 1, false), None);
    }
}
