//! Temporaries that outlive their writer, and who may remove them.
//!
//! A new file (or a tree copied by one tar stream) is written under a temporary name and renamed
//! into place; a writer that fails removes its temporary. When it cannot (the agent was killed,
//! the container stopped or restarted mid-write, dockerbox itself was killed) the temporary stays
//! where it was, beside its destination. It is provably ours by its name: every temporary holds
//! this session's marker (`.NAME.dbx-PID.START-N`, PID and start time of this dockerbox process,
//! unique on this machine), and a session is gone when no process has that PID and start time.
//!
//! So each session keeps a journal (`$XDG_STATE_HOME/dockerbox/temps/MARKER`): a line per
//! temporary before it is made, and a line when it landed or was removed. The next dockerbox
//! that reaches a container removes what the journals of dead sessions list for it, and within
//! a session, what a writer could not remove is removed when the container is reached again
//! (the next agent). Host temporaries of dead sessions are removed when the journals are read.
//! Nothing is removed that is not named in a journal with its session's marker.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Where a temporary is: `None` on the host, else the container's ID.
type Place = Option<String>;

/// This process's marker: `PID.START` (START from `/proc/self/stat`, clock ticks since boot).
pub fn marker() -> &'static str {
    static M: OnceLock<String> = OnceLock::new();
    M.get_or_init(|| {
        let pid = std::process::id();
        format!("{pid}.{}", start_time(pid).unwrap_or(0))
    })
}

/// A process's start time, field 22 of `/proc/PID/stat` (after the parenthesised name, which
/// may hold spaces).
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// Whether the session with this marker is still running.
fn alive(marker: &str) -> bool {
    let Some((pid, start)) = marker.split_once('.') else {
        return false;
    };
    match (pid.parse::<u32>(), start.parse::<u64>()) {
        (Ok(pid), Ok(start)) => start_time(pid) == Some(start),
        _ => false,
    }
}

/// The temporary name a file is written under before its rename: hidden, unique, with this
/// session's marker, and short enough for any name on a filesystem with NAME_MAX 251.
pub fn name(dest: &OsStr) -> OsString {
    static N: AtomicU64 = AtomicU64::new(0);
    let mut tmp = b".".to_vec();
    tmp.extend_from_slice(&dest.as_bytes()[..dest.len().min(200)]);
    let n = N.fetch_add(1, Ordering::SeqCst);
    tmp.extend_from_slice(format!(".dbx-{}-{n:x}", marker()).as_bytes());
    OsString::from_vec(tmp)
}

/// Whether `name` is a temporary of the session `marker`.
fn made_by(name: &[u8], marker: &str) -> bool {
    let tag = format!(".dbx-{marker}-");
    name.starts_with(b".") && name.windows(tag.len()).any(|w| w == tag.as_bytes())
}

/// One temporary in flight; [`Ticket::done`] when it landed or was removed.
#[derive(Debug)]
pub struct Ticket(u64);

struct State {
    /// Our own journal, opened on first use; emptied whenever nothing is in flight, so it stays
    /// short however long the session.
    journal: Option<File>,
    next: u64,
    /// Temporaries made and not yet done.
    open: u64,
    /// Temporaries to remove from containers when they are reached: ours that a writer could not
    /// remove (with their tickets), and those of dead sessions' journals.
    orphans: HashMap<String, HashMap<PathBuf, Option<Ticket>>>,
    /// Whether the journals of dead sessions were read.
    loaded: bool,
    /// Containers already swept this session: what could not be removed then waits for a new
    /// orphan there (or the next session), so a container only the archive API serves does not
    /// pay for a sweep on every call.
    swept: std::collections::HashSet<String>,
}

fn state() -> &'static Mutex<State> {
    static S: OnceLock<Mutex<State>> = OnceLock::new();
    S.get_or_init(|| {
        Mutex::new(State {
            journal: None,
            next: 0,
            open: 0,
            orphans: HashMap::new(),
            loaded: false,
            swept: Default::default(),
        })
    })
}

fn journal_dir() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("dockerbox/temps"))
}

/// Hex, so any path fits on one line.
fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Notes a temporary about to be made at `path` (in container `place`, or on the host), so a
/// later session can remove it if this one dies first. Best effort: without a writable state
/// directory nothing is journaled and only this session's own cleanup applies.
pub fn record(place: Option<&str>, path: &Path) -> Ticket {
    let Ok(mut s) = state().lock() else {
        return Ticket(u64::MAX);
    };
    load(&mut s);
    s.next += 1;
    s.open += 1;
    let n = s.next;
    if s.journal.is_none() {
        s.journal = journal_dir().and_then(|d| {
            fs::create_dir_all(&d).ok()?;
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(d.join(marker()))
                .ok()
        });
    }
    if let Some(j) = &mut s.journal {
        let line = format!(
            "+ {n} {} {}\n",
            place.unwrap_or("-"),
            hex(path.as_os_str().as_bytes())
        );
        let _ = j.write_all(line.as_bytes());
    }
    Ticket(n)
}

impl Ticket {
    /// The temporary is gone (renamed into place or removed).
    pub fn done(self) {
        if let Ok(mut s) = state().lock() {
            s.open = s.open.saturating_sub(1);
            let empty = s.open == 0;
            if let Some(j) = &mut s.journal {
                let _ = if empty {
                    j.set_len(0)
                } else {
                    j.write_all(format!("- {}\n", self.0).as_bytes())
                };
            }
        }
    }
}

/// A writer could not remove its temporary in container `id` (it was gone): remove it when the
/// container is reached again. Its ticket stays open (in the journal) until then.
pub fn orphaned(id: &str, path: &Path, ticket: Option<Ticket>) {
    if let Ok(mut s) = state().lock() {
        s.swept.remove(id);
        s.orphans
            .entry(id.to_string())
            .or_default()
            .insert(path.to_path_buf(), ticket);
    }
}

/// Gives back a temporary the sweep could not remove: it waits for a new orphan in that
/// container or for the next session, not for the next call.
pub fn put_back(id: &str, path: &Path, ticket: Option<Ticket>) {
    if let Ok(mut s) = state().lock() {
        s.orphans
            .entry(id.to_string())
            .or_default()
            .insert(path.to_path_buf(), ticket);
    }
}

/// Temporaries waiting to be removed from container `id` (taken: the caller removes them, marks
/// their tickets done, and gives back with [`put_back`] what it could not). Once per container
/// per session, unless a new orphan appeared there since.
pub fn take(id: &str) -> Vec<(PathBuf, Option<Ticket>)> {
    let Ok(mut s) = state().lock() else {
        return Vec::new();
    };
    load(&mut s);
    if s.swept.contains(id) || !s.orphans.contains_key(id) {
        return Vec::new();
    }
    s.swept.insert(id.to_string());
    let paths: Vec<(PathBuf, Option<Ticket>)> =
        s.orphans.remove(id).into_iter().flatten().collect();
    forget(id);
    paths
}

/// Reads the journals of dead sessions (once per process; later calls do nothing): host
/// temporaries they left are removed at once, container ones wait for their container.
pub fn load_journals() {
    if let Ok(mut s) = state().lock() {
        load(&mut s);
    }
}

/// Reads the journals of dead sessions once: host temporaries are removed now, container ones
/// wait for their container. A journal with nothing left for any container is deleted.
fn load(s: &mut State) {
    if s.loaded {
        return;
    }
    s.loaded = true;
    let Some(dir) = journal_dir() else { return };
    let Ok(rd) = fs::read_dir(&dir) else { return };
    for e in rd.flatten() {
        let Some(m) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if m == marker() || m.ends_with(".rewrite") || alive(&m) {
            continue;
        }
        // A container not reached in a month is likely gone (`docker rm`): its lines go too.
        let stale = e
            .metadata()
            .and_then(|md| md.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(30 * 24 * 3600));
        let Some(left) = read_journal(&e.path()) else {
            continue;
        };
        let mut kept = Vec::new();
        for (place, path) in left {
            let name = path.file_name().map(OsStr::as_bytes).unwrap_or_default();
            if !made_by(name, &m) {
                continue; // not provably that session's
            }
            match place {
                None => {
                    if fs::symlink_metadata(&path).is_ok_and(|md| md.is_file()) {
                        let _ = fs::remove_file(&path);
                    } else if fs::symlink_metadata(&path).is_ok_and(|md| md.is_dir()) {
                        let _ = fs::remove_dir_all(&path);
                    }
                }
                Some(_) if stale => {}
                Some(id) => {
                    s.orphans
                        .entry(id.clone())
                        .or_default()
                        .insert(path.clone(), None);
                    kept.push((id, path));
                }
            }
        }
        let _ = if kept.is_empty() {
            fs::remove_file(e.path())
        } else {
            rewrite(&e.path(), &kept)
        };
    }
}

/// A journal's temporaries that were made and never marked done.
fn read_journal(p: &Path) -> Option<Vec<(Place, PathBuf)>> {
    let f = File::open(p).ok()?;
    let mut open: HashMap<u64, (Place, PathBuf)> = HashMap::new();
    for line in BufReader::new(f).lines() {
        let line = line.ok()?;
        let mut w = line.split(' ');
        match (w.next(), w.next().and_then(|n| n.parse::<u64>().ok())) {
            (Some("+"), Some(n)) => {
                let (Some(place), Some(path)) = (w.next(), w.next().and_then(unhex)) else {
                    continue;
                };
                let place = (place != "-").then(|| place.to_string());
                open.insert(n, (place, PathBuf::from(OsString::from_vec(path))));
            }
            (Some("-"), Some(n)) => {
                open.remove(&n);
            }
            _ => {}
        }
    }
    Some(open.into_values().collect())
}

/// Leaves in a dead session's journal only the container temporaries still to remove.
fn rewrite(p: &Path, kept: &[(String, PathBuf)]) -> std::io::Result<()> {
    let mut out = String::new();
    for (n, (id, path)) in kept.iter().enumerate() {
        out.push_str(&format!(
            "+ {n} {id} {}\n",
            hex(path.as_os_str().as_bytes())
        ));
    }
    let tmp = p.with_extension("rewrite");
    fs::write(&tmp, out)?;
    fs::rename(&tmp, p)
}

/// Drops container `id`'s lines from dead sessions' journals (their temporaries were taken).
fn forget(id: &str) {
    let Some(dir) = journal_dir() else { return };
    let Ok(rd) = fs::read_dir(&dir) else { return };
    for e in rd.flatten() {
        let Some(m) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if m == marker() || m.ends_with(".rewrite") || alive(&m) {
            continue;
        }
        let Some(left) = read_journal(&e.path()) else {
            continue;
        };
        let kept: Vec<(String, PathBuf)> = left
            .into_iter()
            .filter_map(|(place, path)| Some((place?, path)))
            .filter(|(place, _)| place != id)
            .collect();
        let _ = if kept.is_empty() {
            fs::remove_file(e.path())
        } else {
            rewrite(&e.path(), &kept)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_carry_the_session_marker() {
        let n = name(OsStr::new("app.conf"));
        let b = n.as_bytes();
        assert!(b.starts_with(b".app.conf.dbx-"), "{n:?}");
        assert!(made_by(b, marker()));
        assert!(!made_by(b"app.conf", marker()));
        assert!(!made_by(b".app.conf.dbx-1.2-0", marker()));
        let long = OsString::from_vec(vec![b'x'; 255]);
        assert!(name(&long).len() <= 251);
        assert!(alive(marker()), "this session is alive");
        assert!(!alive("1.1"), "init did not start at tick 1");
        assert!(!alive("garbage"));
    }

    #[test]
    fn a_container_is_swept_once_until_a_new_orphan_appears() {
        let id = format!("test-container-{}", std::process::id());
        let (a, b) = (
            PathBuf::from("/tmp/.a.dbx-x"),
            PathBuf::from("/tmp/.b.dbx-x"),
        );
        assert!(take(&id).is_empty());
        orphaned(&id, &a, None);
        let got: Vec<PathBuf> = take(&id).into_iter().map(|(p, _)| p).collect();
        assert_eq!(got, std::slice::from_ref(&a));
        put_back(&id, &a, None);
        assert!(take(&id).is_empty(), "not again in this session");
        orphaned(&id, &b, None);
        let mut got: Vec<PathBuf> = take(&id).into_iter().map(|(p, _)| p).collect();
        got.sort();
        assert_eq!(got, [a, b]);
    }

    #[test]
    fn paths_round_trip_through_the_journal_encoding() {
        let p = b"/tmp/new\nline \xff";
        assert_eq!(unhex(&hex(p)).as_deref(), Some(&p[..]));
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("abc"), None);
    }

    #[test]
    fn a_dead_sessions_journal_lists_what_never_landed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = dir.path().join("1.1");
        let a = hex(b"/tmp/.a.dbx-1.1-0");
        let b = hex(b"/tmp/.b.dbx-1.1-1");
        fs::write(&j, format!("+ 1 abc {a}\n+ 2 - {b}\n- 2\nbroken line\n")).expect("write");
        let left = read_journal(&j).expect("read");
        assert_eq!(
            left,
            vec![(Some("abc".to_string()), PathBuf::from("/tmp/.a.dbx-1.1-0"))]
        );
    }
}
