//! What changed in the namespace, for caches kept outside it (a FUSE mount's): writes made
//! through us, host programs having run, and the engines' own container events (a `docker
//! restart` or `docker cp` done elsewhere), each turned into the paths it may have changed.
//!
//! The mapping from an engine event to changes is pure ([`of_event`]), so it is table-tested;
//! `Vfs::new` hands each engine a sink that sends its events' changes on the one channel.

use std::path::PathBuf;

use super::VPath;
use crate::host::ContainerEvent;

/// What a path changed by: sent to `Vfs::subscribe`rs so caches can let go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Something at this path (or below it) changed.
    Path(VPath),
    /// Anything may have changed (a host program ran: `docker cp`, `docker restart`...; or a
    /// subscriber fell behind).
    All,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Path(p) => write!(f, "{}", p.to_path().display()),
            Change::All => f.write_str("*"),
        }
    }
}

/// The changes one container event of an engine stands for; `host` is the engine's directory
/// under `/containers` when there are several. Names come from the engine and are shown as
/// paths by name (a cache keyed by an ID prefix as typed is not told).
///
/// - files changed inside (`docker cp` into it: `extract-to-dir`, which names no path; an exec
///   that ended, which may have written anything): the container's tree;
/// - its state or existence changed (`create`, `start`, `restart`, `die`, `stop`, `pause`,
///   `unpause`, `destroy`, `update`): its tree, its entry in the listing, its `/meta`;
/// - `rename`: all of that under the old name and the new one;
/// - health and OOM: its `/meta`; `commit`: `/images`;
/// - reads and attachments (`archive-path`, `attach`, `top`, `resize`, `export`, `exec_create`,
///   `exec_start`, `kill`, whose `die` follows if it killed): nothing.
pub fn of_event(host: Option<&str>, ev: &ContainerEvent) -> Vec<Change> {
    let tree = |name: &str| {
        Change::Path(VPath::Container {
            host: host.map(str::to_string),
            name: name.to_string(),
            path: PathBuf::from("/"),
        })
    };
    let listing = || {
        Change::Path(match host {
            Some(h) => VPath::Engine(h.to_string()),
            None => VPath::Containers,
        })
    };
    let meta = |name: &str| {
        let mut p = PathBuf::from("/containers");
        if let Some(h) = host {
            p.push(h);
        }
        p.push(name);
        Change::Path(VPath::Meta(p))
    };
    let all = |name: &str| vec![tree(name), listing(), meta(name)];
    let name = ev.name.as_str();
    if name.is_empty() || name.contains('/') {
        // Not a name a path can hold: only the listing can be said to have changed.
        return match ev.action.as_str() {
            "create" | "destroy" | "rename" | "start" | "die" | "stop" => vec![listing()],
            _ => Vec::new(),
        };
    }
    match ev.action.as_str() {
        "extract-to-dir" | "exec_die" => vec![tree(name)],
        "create" | "start" | "restart" | "die" | "stop" | "pause" | "unpause" | "destroy"
        | "update" => all(name),
        "rename" => {
            let mut v = all(name);
            if let Some(old) = ev
                .old_name
                .as_deref()
                .map(|o| o.trim_start_matches('/'))
                .filter(|o| !o.is_empty() && !o.contains('/') && *o != name)
            {
                v.push(tree(old));
                v.push(meta(old));
            }
            v
        }
        "oom" => vec![meta(name)],
        a if a.starts_with("health_status") => vec![meta(name)],
        "commit" => vec![Change::Path(VPath::Images(PathBuf::from("/")))],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(action: &str, name: &str, old: Option<&str>) -> ContainerEvent {
        ContainerEvent {
            id: "0123456789ab".into(),
            action: action.into(),
            name: name.into(),
            old_name: old.map(str::to_string),
        }
    }

    fn shown(host: Option<&str>, e: &ContainerEvent) -> Vec<String> {
        of_event(host, e).iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn events_become_the_paths_they_change() {
        let one = |a: &str| shown(None, &ev(a, "web", None));
        let lifecycle = ["/containers/web", "/containers", "/meta/containers/web"];
        for a in [
            "create", "start", "restart", "die", "stop", "pause", "unpause", "destroy", "update",
        ] {
            assert_eq!(one(a), lifecycle, "{a}");
        }
        assert_eq!(one("extract-to-dir"), ["/containers/web"]);
        assert_eq!(one("exec_die"), ["/containers/web"]);
        assert_eq!(one("oom"), ["/meta/containers/web"]);
        assert_eq!(one("health_status: healthy"), ["/meta/containers/web"]);
        assert_eq!(one("commit"), ["/images"]);
        for a in [
            "archive-path",
            "attach",
            "detach",
            "top",
            "resize",
            "export",
            "kill",
            "exec_create: ls /etc",
            "exec_start: ls /etc",
            "something-new",
        ] {
            assert!(one(a).is_empty(), "{a}");
        }
    }

    #[test]
    fn a_rename_changes_both_names() {
        assert_eq!(
            shown(None, &ev("rename", "new", Some("/old"))),
            [
                "/containers/new",
                "/containers",
                "/meta/containers/new",
                "/containers/old",
                "/meta/containers/old"
            ]
        );
        // Without (or with a useless) old name, the new one still changes.
        for old in [None, Some("/"), Some("/new"), Some("/a/b")] {
            assert_eq!(shown(None, &ev("rename", "new", old)).len(), 3, "{old:?}");
        }
    }

    #[test]
    fn several_engines_put_the_engine_in_the_path() {
        assert_eq!(
            shown(Some("e1"), &ev("start", "web", None)),
            [
                "/containers/e1/web",
                "/containers/e1",
                "/meta/containers/e1/web"
            ]
        );
        let c = of_event(Some("e1"), &ev("extract-to-dir", "web", None));
        assert_eq!(
            c,
            [Change::Path(VPath::Container {
                host: Some("e1".into()),
                name: "web".into(),
                path: "/".into()
            })]
        );
    }

    #[test]
    fn names_no_path_can_hold_change_only_the_listing() {
        assert_eq!(shown(None, &ev("start", "", None)), ["/containers"]);
        assert_eq!(shown(None, &ev("destroy", "a/b", None)), ["/containers"]);
        assert!(shown(None, &ev("extract-to-dir", "", None)).is_empty());
    }
}
