//! Symlink targets for a mount whose users see only a sub-tree of a container, at a path of
//! their own (the volume driver's consumers): there neither the container's absolute target
//! nor the mount's host path means anything, so a link is shown relative to its own directory,
//! naming what it names inside the container. Pure.

use std::path::{Component, Path, PathBuf};

use crate::vfs::path::link_target_in_container;

/// The target of the link at `link` (absolute inside its container) as a path relative to the
/// link's directory that leads, inside the container, where `target` leads (`..` stopping at
/// the container's root as its kernel would).
pub fn relative_target(link: &Path, target: &Path) -> PathBuf {
    let to = link_target_in_container(link, target);
    let from = link.parent().unwrap_or(Path::new("/"));
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c.as_os_str());
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_become_relative_to_the_links_directory() {
        let r = |link: &str, target: &str| {
            relative_target(Path::new(link), Path::new(target))
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!(r("/var/log/app/cur", "/var/log/app/one.log"), "one.log");
        assert_eq!(r("/var/log/app/cur", "/var/log/other/x"), "../other/x");
        assert_eq!(r("/var/log/app/cur", "one.log"), "one.log");
        assert_eq!(r("/var/log/app/cur", "./sub/../one.log"), "one.log");
        assert_eq!(r("/var/log/app/up", "/var/log"), "..");
        assert_eq!(r("/var/log/app/here", "/var/log/app"), ".");
        assert_eq!(r("/var/log/app/p", "/etc/passwd"), "../../../etc/passwd");
        // Climbing above the container's root stops there, as in the container.
        assert_eq!(r("/a/l", "../../../../etc"), "../etc");
        assert_eq!(r("/l", "/"), ".");
    }
}
