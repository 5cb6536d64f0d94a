//! The mount's inode table: which names in which directories lead to which kernel node.
//!
//! A node's id is what the kernel shows as `st_ino` (fuser gives the kernel one number for
//! both), chosen by the caller from the file's own identity, so hard links are one node with
//! two names. Names are kept as (parent, name), never as whole paths, so a rename moves one
//! node and everything below it follows. The kernel counts its references to each node; a node
//! is dropped when `forget` brings that count to zero. Pure: no I/O.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// The mount's root directory.
pub const ROOT: u64 = 1;

struct Node {
    /// The names leading to it, the latest last (more than one: hard links). None: it was
    /// removed or renamed over, and only open files still know it.
    names: Vec<(u64, OsString)>,
    /// The kernel's references (entries it was given, not yet forgotten).
    lookups: u64,
}

/// Nodes by (parent, name), and back.
pub struct Nodes {
    by_ino: HashMap<u64, Node>,
    by_name: HashMap<(u64, OsString), u64>,
}

impl Default for Nodes {
    fn default() -> Nodes {
        let mut by_ino = HashMap::new();
        by_ino.insert(
            ROOT,
            Node {
                names: Vec::new(),
                lookups: 1,
            },
        );
        Nodes {
            by_ino,
            by_name: HashMap::new(),
        }
    }
}

impl Nodes {
    /// `name` in `parent` leads to node `ino` (the kernel is given it: one more reference).
    /// A different node at that name before (the file was replaced) loses the name.
    pub fn lookup(&mut self, parent: u64, name: &OsStr, ino: u64) -> u64 {
        let key = (parent, name.to_os_string());
        match self.by_name.get(&key) {
            Some(&old) if old == ino => {}
            Some(_) => {
                self.detach(parent, name);
                self.name(ino, key);
            }
            None => self.name(ino, key),
        }
        if let Some(n) = self.by_ino.get_mut(&ino) {
            n.lookups += 1;
        }
        ino
    }

    fn name(&mut self, ino: u64, key: (u64, OsString)) {
        let n = self.by_ino.entry(ino).or_insert(Node {
            names: Vec::new(),
            lookups: 0,
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
            self.name(ino, (to_parent, to_name.to_os_string()));
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

    #[test]
    fn names_lead_to_nodes_and_back() {
        let mut n = Nodes::default();
        let c = n.lookup(ROOT, OsStr::new("containers"), 10);
        let web = n.lookup(c, OsStr::new("web"), 11);
        let etc = n.lookup(web, OsStr::new("etc"), 12);
        assert_eq!(n.lookup(web, OsStr::new("etc"), 12), etc);
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
    }

    #[test]
    fn hard_links_are_one_node_and_a_replaced_file_a_new_one() {
        let mut n = Nodes::default();
        let a = n.lookup(ROOT, OsStr::new("a"), 20);
        let b = n.lookup(ROOT, OsStr::new("b"), 20);
        assert_eq!(a, b);
        n.detach(ROOT, OsStr::new("b"));
        assert_eq!(
            n.path(a).unwrap(),
            Path::new("/a"),
            "still reached by its other name"
        );
        // `a` replaced by another file: the old node keeps no name.
        n.lookup(ROOT, OsStr::new("a"), 21);
        assert!(n.path(20).is_none());
        assert_eq!(n.find(ROOT, OsStr::new("a")), Some(21));
    }

    #[test]
    fn a_rename_moves_a_whole_subtree_and_detaches_the_target() {
        let mut n = Nodes::default();
        let d = n.lookup(ROOT, OsStr::new("d"), 30);
        let f = n.lookup(d, OsStr::new("f"), 31);
        let e = n.lookup(ROOT, OsStr::new("e"), 32);
        let old = n.lookup(ROOT, OsStr::new("x"), 33);
        n.rename(ROOT, OsStr::new("d"), e, OsStr::new("x"));
        assert_eq!(n.path(f).unwrap(), Path::new("/e/x/f"));
        n.rename(e, OsStr::new("x"), ROOT, OsStr::new("x"));
        assert_eq!(n.path(f).unwrap(), Path::new("/x/f"));
        assert!(
            n.path(old).is_none(),
            "the file renamed over is gone from its name"
        );
        assert_eq!(n.find(ROOT, OsStr::new("x")), Some(d));
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
        let c = n.lookup(ROOT, OsStr::new("containers"), 10);
        let web = n.lookup(c, OsStr::new("web"), 11);
        let db = n.lookup(c, OsStr::new("db"), 12);
        let etc = n.lookup(web, OsStr::new("etc"), 13);
        let f = n.lookup(etc, OsStr::new("f"), 14);
        // A hard link of f elsewhere in web, and a file of db.
        n.lookup(web, OsStr::new("g"), 14);
        n.lookup(db, OsStr::new("h"), 15);
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
        let i = n.lookup(ROOT, odd, 40);
        assert_eq!(n.path(i).unwrap().as_os_str().as_bytes(), b"/a\nb\xff$(x)");
    }
}
