//! The mount's inode table: which names in which directories lead to which kernel node.
//!
//! fuser gives the kernel one number as both the node id and `st_ino`. A node's id is the
//! file's identity (a hash of its container, dev and inode, chosen by the caller) whenever
//! that id is free or is this very file, so `st_ino` stays the same per file across the
//! kernel forgetting it, and hard links are one node with two names. But inode numbers are
//! reused: a file unlinked while the kernel still holds its node, and a new file given the
//! same inode, must not become that node (the old one's FORGETs and open files would reach
//! the new one, and the kernel sees a node change type). Such a lookup gets a fresh id from
//! a counter instead, bound to its node until FORGET brings the kernel's count to zero. Names
//! are kept as (parent, name), never as whole paths, so a rename moves one node and
//! everything below it follows. Pure: no I/O.

use fuser::FileType;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// The mount's root directory.
pub const ROOT: u64 = 1;

/// What a lookup found at a name: the file's identity and what the kernel must not see
/// change under one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// The identity hash (the preferred node id; never 0 or 1).
    pub key: u64,
    pub kind: FileType,
    pub nlink: u32,
}

struct Node {
    /// The names leading to it, the latest last (more than one: hard links). None: it was
    /// removed or renamed over, and only open files still know it.
    names: Vec<(u64, OsString)>,
    /// The kernel's references (entries it was given, not yet forgotten).
    lookups: u64,
    /// What it was found to be, last time.
    found: Found,
}

/// Nodes by (parent, name), and back.
pub struct Nodes {
    by_ino: HashMap<u64, Node>,
    by_name: HashMap<(u64, OsString), u64>,
    /// Where the search for a fresh id starts.
    next: u64,
}

impl Default for Nodes {
    fn default() -> Nodes {
        let mut by_ino = HashMap::new();
        by_ino.insert(
            ROOT,
            Node {
                names: Vec::new(),
                lookups: 1,
                found: Found {
                    key: ROOT,
                    kind: FileType::Directory,
                    nlink: 2,
                },
            },
        );
        Nodes {
            by_ino,
            by_name: HashMap::new(),
            next: 2,
        }
    }
}

impl Nodes {
    /// `name` in `parent` leads to the file `found` (the kernel is given it: one more
    /// reference). Returns its node id: the one this name has if it is still that file, else
    /// the identity's own if that is free or a hard link of this file, else a fresh one.
    /// A different node at that name before (the file was replaced) loses the name.
    pub fn lookup(&mut self, parent: u64, name: &OsStr, found: Found) -> u64 {
        let key = (parent, name.to_os_string());
        let same = |n: &Node| n.found.key == found.key && n.found.kind == found.kind;
        let ino = match self.by_name.get(&key).copied() {
            Some(old) if self.by_ino.get(&old).is_some_and(same) => old,
            at => {
                if at.is_some() {
                    self.detach(parent, name);
                }
                let id = self.pick(found);
                self.name(id, key, found);
                id
            }
        };
        if let Some(n) = self.by_ino.get_mut(&ino) {
            n.lookups += 1;
            n.found = found;
        }
        ino
    }

    /// The id for a file newly named: its identity's, unless a live node holds that id and
    /// is not this file under another name.
    fn pick(&mut self, found: Found) -> u64 {
        let Some(held) = self.by_ino.get(&found.key) else {
            return found.key;
        };
        // A hard link: the same file, not a directory, with more than one name now (or
        // when last seen, if the mount unlinked the names it knew).
        let link = held.found.key == found.key
            && held.found.kind == found.kind
            && found.kind != FileType::Directory
            && if held.names.is_empty() {
                held.found.nlink > 1
            } else {
                found.nlink > 1
            };
        if link {
            return found.key;
        }
        while self.next < 2 || self.by_ino.contains_key(&self.next) {
            self.next = self.next.wrapping_add(1);
        }
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        id
    }

    fn name(&mut self, ino: u64, key: (u64, OsString), found: Found) {
        let n = self.by_ino.entry(ino).or_insert(Node {
            names: Vec::new(),
            lookups: 0,
            found,
        });
        n.names.retain(|k| *k != key);
        n.names.push(key.clone());
        self.by_name.insert(key, ino);
    }

    /// The node known at `name` in `parent`, without taking a reference.
    pub fn find(&self, parent: u64, name: &OsStr) -> Option<u64> {
        self.by_name.get(&(parent, name.to_os_string())).copied()
    }

    /// The kernel dropped `n` references; the node goes when none are left.
    pub fn forget(&mut self, ino: u64, n: u64) {
        if ino == ROOT {
            return;
        }
        let Some(node) = self.by_ino.get_mut(&ino) else {
            return;
        };
        node.lookups = node.lookups.saturating_sub(n);
        if node.lookups > 0 {
            return;
        }
        if let Some(node) = self.by_ino.remove(&ino) {
            for key in node.names {
                if self.by_name.get(&key) == Some(&ino) {
                    self.by_name.remove(&key);
                }
            }
        }
    }

    /// The node's path from the mount's root (`/containers/web/etc`); `None` for a node that
    /// is not known or that no name leads to any more.
    pub fn path(&self, ino: u64) -> Option<PathBuf> {
        let mut names = Vec::new();
        let mut at = ino;
        // Bounded: the kernel never makes a directory its own ancestor, but the walk never
        // trusts that.
        for _ in 0..4096 {
            if at == ROOT {
                let mut p = PathBuf::from("/");
                for n in names.iter().rev() {
                    p.push(n);
                }
                return Some(p);
            }
            let (parent, name) = self.by_ino.get(&at)?.names.last()?;
            names.push(name.clone());
            at = *parent;
        }
        None
    }

    /// The node at `path` (from the mount's root), if the kernel holds one.
    pub fn at(&self, path: &std::path::Path) -> Option<u64> {
        let mut ino = ROOT;
        for c in path.components() {
            if let std::path::Component::Normal(name) = c {
                ino = self.find(ino, name)?;
            }
        }
        Some(ino)
    }

    /// `name` in `parent` no longer leads to its node (unlinked, or renamed over).
    pub fn detach(&mut self, parent: u64, name: &OsStr) -> Option<u64> {
        let key = (parent, name.to_os_string());
        let ino = self.by_name.remove(&key)?;
        if let Some(n) = self.by_ino.get_mut(&ino) {
            n.names.retain(|k| *k != key);
        }
        Some(ino)
    }

    /// A rename: the node at (`parent`, `name`) is now (`to_parent`, `to_name`); whatever was
    /// there loses that name.
    pub fn rename(&mut self, parent: u64, name: &OsStr, to_parent: u64, to_name: &OsStr) {
        let moved = self.detach(parent, name);
        self.detach(to_parent, to_name);
        if let Some(ino) = moved {
            if let Some(found) = self.by_ino.get(&ino).map(|n| n.found) {
                self.name(ino, (to_parent, to_name.to_os_string()), found);
            }
        }
    }

    /// Node `ino` and every node below it (a container whose files changed in ways no event
    /// names: all of them are asked again). One pass over the table.
    pub fn under(&self, ino: u64) -> Vec<u64> {
        let mut kids: HashMap<u64, Vec<u64>> = HashMap::new();
        for (&(parent, _), &child) in &self.by_name {
            kids.entry(parent).or_default().push(child);
        }
        let mut out = vec![ino];
        let mut seen = std::collections::HashSet::from([ino]);
        let mut i = 0;
        while i < out.len() {
            for &k in kids.get(&out[i]).map(Vec::as_slice).unwrap_or_default() {
                // Hard links make it a graph; a node is named once.
                if seen.insert(k) {
                    out.push(k);
                }
            }
            i += 1;
        }
        out
    }

    /// Every node the kernel holds (for invalidating everything).
    pub fn all(&self) -> Vec<u64> {
        self.by_ino.keys().copied().collect()
    }

    /// How many nodes are held (tests; memory stays bounded by what the kernel keeps).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_ino.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn file(key: u64) -> Found {
        Found {
            key,
            kind: FileType::RegularFile,
            nlink: 1,
        }
    }

    fn linked(key: u64, nlink: u32) -> Found {
        Found { nlink, ..file(key) }
    }

    fn dir(key: u64) -> Found {
        Found {
            key,
            kind: FileType::Directory,
            nlink: 2,
        }
    }

    #[test]
    fn names_lead_to_nodes_and_back() {
        let mut n = Nodes::default();
        let c = n.lookup(ROOT, OsStr::new("containers"), dir(10));
        let web = n.lookup(c, OsStr::new("web"), dir(11));
        let etc = n.lookup(web, OsStr::new("etc"), dir(12));
        assert_eq!((c, web, etc), (10, 11, 12), "a free identity is the id");
        assert_eq!(n.lookup(web, OsStr::new("etc"), dir(12)), etc);
        assert_eq!(n.path(etc).unwrap(), Path::new("/containers/web/etc"));
        assert_eq!(n.path(ROOT).unwrap(), Path::new("/"));
        assert_eq!(n.at(Path::new("/containers/web/etc")), Some(etc));
        assert_eq!(n.at(Path::new("/containers/db")), None);
        // Two lookups, so two forgets before it goes.
        n.forget(etc, 1);
        assert!(n.path(etc).is_some());
        n.forget(etc, 1);
        assert!(n.path(etc).is_none());
        assert_eq!(n.find(web, OsStr::new("etc")), None);
        n.forget(ROOT, 10);
        assert!(n.path(ROOT).is_some(), "the root is never forgotten");
        // Forgotten and looked up again: the same id (st_ino stable per file).
        assert_eq!(n.lookup(web, OsStr::new("etc"), dir(12)), etc);
    }

    #[test]
    fn hard_links_are_one_node_and_a_replaced_file_a_new_one() {
        let mut n = Nodes::default();
        let a = n.lookup(ROOT, OsStr::new("a"), linked(20, 2));
        let b = n.lookup(ROOT, OsStr::new("b"), linked(20, 2));
        assert_eq!(a, b);
        n.detach(ROOT, OsStr::new("b"));
        assert_eq!(
            n.path(a).unwrap(),
            Path::new("/a"),
            "still reached by its other name"
        );
        // `a` replaced by another file: the old node keeps no name.
        n.lookup(ROOT, OsStr::new("a"), file(21));
        assert!(n.path(20).is_none());
        assert_eq!(n.find(ROOT, OsStr::new("a")), Some(21));
    }

    #[test]
    fn a_link_whose_known_name_was_unlinked_is_still_its_node() {
        let mut n = Nodes::default();
        let a = n.lookup(ROOT, OsStr::new("a"), linked(22, 2));
        n.detach(ROOT, OsStr::new("a"));
        // Its other name, now its only one.
        assert_eq!(n.lookup(ROOT, OsStr::new("b"), file(22)), a);
        assert_eq!(n.path(a).unwrap(), Path::new("/b"));
    }

    #[test]
    fn a_reused_inode_never_becomes_a_node_the_kernel_still_holds() {
        let mut n = Nodes::default();
        // `old` is open (the kernel holds its node) and unlinked; a new file gets its inode.
        let old = n.lookup(ROOT, OsStr::new("old"), file(50));
        n.detach(ROOT, OsStr::new("old"));
        let new = n.lookup(ROOT, OsStr::new("new"), file(50));
        assert_ne!(new, old);
        assert!(new > 1);
        assert_eq!(n.path(new).unwrap(), Path::new("/new"));
        assert!(n.path(old).is_none());
        // The name keeps its node on later lookups.
        assert_eq!(n.lookup(ROOT, OsStr::new("new"), file(50)), new);
        // Another reuse while both are held: a third id.
        let again = n.lookup(ROOT, OsStr::new("again"), file(50));
        assert!(again != old && again != new);
        // The old node's FORGET does not touch the new one.
        n.forget(old, 1);
        assert_eq!(n.path(new).unwrap(), Path::new("/new"));
        assert_eq!(n.find(ROOT, OsStr::new("new")), Some(new));
        n.forget(new, 2);
        assert!(n.path(new).is_none());
        // The identity's own id is free again.
        assert_eq!(n.lookup(ROOT, OsStr::new("new"), file(50)), 50);
    }

    #[test]
    fn a_file_renamed_or_reused_outside_the_mount_with_one_link_is_a_new_node() {
        let mut n = Nodes::default();
        let a = n.lookup(ROOT, OsStr::new("a"), file(60));
        // Found at another name while `a` still names it, and only one link: not a hard link.
        let b = n.lookup(ROOT, OsStr::new("b"), file(60));
        assert_ne!(a, b);
        // A directory never shares a node with another name.
        let d = n.lookup(ROOT, OsStr::new("d"), dir(61));
        assert_ne!(n.lookup(ROOT, OsStr::new("e"), dir(61)), d);
    }

    #[test]
    fn a_name_whose_file_changed_type_gets_a_new_node() {
        let mut n = Nodes::default();
        let f = n.lookup(ROOT, OsStr::new("x"), file(62));
        let d = n.lookup(ROOT, OsStr::new("x"), dir(62));
        assert_ne!(f, d);
        assert_eq!(n.find(ROOT, OsStr::new("x")), Some(d));
        assert!(n.path(f).is_none());
        n.forget(f, 1);
        assert_eq!(n.path(d).unwrap(), Path::new("/x"));
    }

    #[test]
    fn fresh_ids_skip_the_live_ones() {
        let mut n = Nodes::default();
        // Identities that happen to be small numbers hold the first fresh candidates.
        n.lookup(ROOT, OsStr::new("two"), file(2));
        n.lookup(ROOT, OsStr::new("three"), file(3));
        n.detach(ROOT, OsStr::new("two"));
        let fresh = n.lookup(ROOT, OsStr::new("again"), file(2));
        assert_eq!(fresh, 4);
        // A fresh id that later equals a file's identity is no hard link of it.
        n.detach(ROOT, OsStr::new("again"));
        let other = n.lookup(ROOT, OsStr::new("other"), linked(4, 2));
        assert_ne!(other, 4);
        assert_eq!(n.path(other).unwrap(), Path::new("/other"));
    }

    #[test]
    fn a_rename_moves_a_whole_subtree_and_detaches_the_target() {
        let mut n = Nodes::default();
        let d = n.lookup(ROOT, OsStr::new("d"), dir(30));
        let f = n.lookup(d, OsStr::new("f"), file(31));
        let e = n.lookup(ROOT, OsStr::new("e"), dir(32));
        let old = n.lookup(ROOT, OsStr::new("x"), dir(33));
        n.rename(ROOT, OsStr::new("d"), e, OsStr::new("x"));
        assert_eq!(n.path(f).unwrap(), Path::new("/e/x/f"));
        n.rename(e, OsStr::new("x"), ROOT, OsStr::new("x"));
        assert_eq!(n.path(f).unwrap(), Path::new("/x/f"));
        assert!(
            n.path(old).is_none(),
            "the file renamed over is gone from its name"
        );
        assert_eq!(n.find(ROOT, OsStr::new("x")), Some(d));
        // The moved node keeps its id at its new name.
        assert_eq!(n.lookup(ROOT, OsStr::new("x"), dir(30)), d);
        n.forget(old, 1);
        assert_eq!(n.find(ROOT, OsStr::new("x")), Some(d));
        assert_eq!(n.detach(ROOT, OsStr::new("x")), Some(d));
        assert!(
            n.path(f).is_none(),
            "below a removed directory nothing is reachable"
        );
        let before = n.len();
        n.forget(f, 1);
        assert_eq!(n.len(), before - 1);
    }

    #[test]
    fn under_a_node_is_its_whole_subtree_once() {
        let mut n = Nodes::default();
        let c = n.lookup(ROOT, OsStr::new("containers"), dir(10));
        let web = n.lookup(c, OsStr::new("web"), dir(11));
        let db = n.lookup(c, OsStr::new("db"), dir(12));
        let etc = n.lookup(web, OsStr::new("etc"), dir(13));
        let f = n.lookup(etc, OsStr::new("f"), linked(14, 2));
        // A hard link of f elsewhere in web, and a file of db.
        assert_eq!(n.lookup(web, OsStr::new("g"), linked(14, 2)), f);
        n.lookup(db, OsStr::new("h"), file(15));
        let mut got = n.under(web);
        got.sort();
        assert_eq!(got, [web, etc, f]);
        assert_eq!(n.under(f), [f]);
        assert_eq!(n.under(ROOT).len(), 7);
    }

    #[test]
    fn names_are_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let mut n = Nodes::default();
        let odd = OsStr::from_bytes(b"a\nb\xff$(x)");
        let i = n.lookup(ROOT, odd, file(40));
        assert_eq!(n.path(i).unwrap().as_os_str().as_bytes(), b"/a\nb\xff$(x)");
    }
}
