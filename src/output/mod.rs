//! Rendering listings: the command hands over entries, this module picks how they look.
//!
//! Three layers, after eza: the data ([`Entry`](crate::vfs::Entry)), the layout ([`Layout`]:
//! grid, long or one per line) and the colour ([`Theme`]). Renderers do no engine I/O.

pub mod grid;
pub mod long;
pub mod lscolors;
pub mod progress;
pub mod quote;
pub mod theme;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

pub use quote::quote;
pub use theme::Theme;

/// How a listing is laid out; chosen once per command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Columns filled top to bottom, as `ls` does on a terminal.
    Grid { width: usize },
    /// `-l`.
    Long,
    /// One name per line: `-1`, or whenever stdout is not a terminal.
    Lines,
}

/// A name as it is shown. On a terminal, control characters and bytes that are not UTF-8
/// become `?` (a container's file names must not drive the terminal); into a pipe the bytes
/// pass unchanged.
pub fn display_name(name: &OsStr, tty: bool) -> Vec<u8> {
    if !tty {
        return name.as_bytes().to_vec();
    }
    let lossy = String::from_utf8_lossy(name.as_bytes());
    lossy
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{FFFD}' {
                '?'
            } else {
                c
            }
        })
        .collect::<String>()
        .into_bytes()
}

/// Display width of a rendered name (one column per character).
pub fn width(bytes: &[u8]) -> usize {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.chars().count(),
        Err(_) => bytes.len(),
    }
}

/// The terminal's width, from the tty, then `$COLUMNS`, then 80.
pub fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ only writes into the winsize struct we pass.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0 {
            return ws.ws_col as usize;
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&c| c > 0)
        .unwrap_or(80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised_only_on_a_tty() {
        let raw = OsStr::from_bytes(b"a\nb\xffc\x1b[31m");
        assert_eq!(display_name(raw, false), raw.as_bytes());
        assert_eq!(display_name(raw, true), b"a?b?c?[31m");
    }
}
