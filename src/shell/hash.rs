//! bash's table of program paths (`hash`): a name found in `$PATH` is remembered, and run from
//! there until `hash -r` or `$PATH` changes, as bash does (a program put earlier in `$PATH`
//! later is not seen; one removed is not found again elsewhere).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::Shell;

/// The remembered paths, with the `$PATH` they were found under.
#[derive(Debug, Clone, Default)]
pub struct Hashed {
    path: Vec<u8>,
    /// By name: times run since it was found, and where.
    pub programs: BTreeMap<Vec<u8>, (u32, OsString)>,
}

impl Hashed {
    pub fn clear(&mut self) {
        self.programs.clear();
    }
}

impl Shell {
    /// Where program `name` (no slash) is: remembered, else the first executable file in
    /// `$PATH` (then remembered). `run` counts a use, as `hash` shows.
    pub(super) fn find_program(&self, name: &[u8], run: bool) -> Option<OsString> {
        let path = self.vars.get(b"PATH").unwrap_or(b"/usr/bin:/bin");
        let mut table = self.hashed.borrow_mut();
        if table.path != path {
            table.path = path.to_vec();
            table.programs.clear();
        }
        if let Some((hits, p)) = table.programs.get_mut(name) {
            *hits += u32::from(run);
            return Some(p.clone());
        }
        let found = search(path, name)?;
        table
            .programs
            .insert(name.to_vec(), (u32::from(run), found.clone()));
        Some(found)
    }
}

/// The first executable file called `name` in the directories of `path` (`a:b`; empty is `.`).
pub fn search(path: &[u8], name: &[u8]) -> Option<OsString> {
    path.split(|&c| c == b':').find_map(|dir| {
        let dir = if dir.is_empty() { b"." } else { dir };
        let p = Path::new(OsStr::from_bytes(dir)).join(OsStr::from_bytes(name));
        let meta = std::fs::metadata(&p).ok()?;
        (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then(|| p.into_os_string())
    })
}
