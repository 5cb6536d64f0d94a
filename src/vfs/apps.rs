//! `/apps/PROJECT/SERVICE`: compose projects (and swarm stacks) as directories of links into
//! `/containers`, grouped from the labels the tools put on their containers, so `cd
//! /apps/shop/web/etc` and `cp /apps/shop/web/etc/app.conf /apps/shop/worker/tmp/` work.
//!
//! Each service is a symlink to its lowest-numbered running replica (the lowest-numbered one
//! when none runs); with several replicas each is also `SERVICE-N`. One-off containers
//! (`compose run`) are left out. A path below a link is routed as the container path it leads
//! to ([`through`], called by `Vfs::route`), so every backend of `/containers` serves it; this
//! backend only serves `/apps`, the projects and the links themselves. With several engines
//! the tree is `/apps/HOST/PROJECT/...`. Grouping is pure ([`group`], [`links`]) and
//! unit-tested; compose v1 (`proj_web_1`) and v2 (`proj-web-1`) differ only in names, which
//! are read from the labels (and the number from the name when its label is missing).

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::backend::{Backend, BoxFut};
use super::entry::parse_rfc3339;
use super::stream::FileReader;
use super::{Entry, FsError, Kind, Object, VPath, Vfs};
use crate::host::{Engine, Labelled, SwarmNode, SwarmTask};

const PROJECT: &str = "com.docker.compose.project";
const SERVICE: &str = "com.docker.compose.service";
const NUMBER: &str = "com.docker.compose.container-number";
const ONEOFF: &str = "com.docker.compose.oneoff";
const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
const STACK: &str = "com.docker.stack.namespace";
const SWARM_SERVICE: &str = "com.docker.swarm.service.name";
const TASK_NAME: &str = "com.docker.swarm.task.name";

/// One container of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub number: u32,
    pub name: String,
    pub running: bool,
    pub at: At,
}

/// Which engine runs a replica.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum At {
    /// The engine whose `/apps` this is.
    #[default]
    Here,
    /// Another engine dockerbox talks to (its name): a swarm task on that engine's node.
    Engine(String),
    /// A swarm node dockerbox does not talk to: how an error names it.
    Node(String),
}

/// A compose project or a swarm stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    pub working_dir: Option<String>,
    /// Each service's replicas, lowest number first.
    pub services: BTreeMap<String, Vec<Replica>>,
    /// The newest container's creation (the project's mtime).
    pub created: i64,
}

/// The number at the end of a compose name (`proj_web_2`, `proj-web-2`).
fn number_in_name(name: &str) -> Option<u32> {
    name.rsplit(['_', '-']).next()?.parse().ok()
}

/// Groups labelled containers into projects: compose's labels, then swarm stacks'.
pub fn group(list: &[Labelled]) -> BTreeMap<String, Project> {
    let mut out: BTreeMap<String, Project> = BTreeMap::new();
    for c in list {
        let l = &c.labels;
        let (project, service, number) = if let Some(p) = l.get(PROJECT) {
            if l.get(ONEOFF)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            {
                continue;
            }
            let Some(s) = l.get(SERVICE) else { continue };
            let n = l
                .get(NUMBER)
                .and_then(|n| n.parse().ok())
                .or_else(|| number_in_name(&c.name))
                .unwrap_or(1);
            (p.clone(), s.clone(), n)
        } else if let (Some(ns), Some(svc)) = (l.get(STACK), l.get(SWARM_SERVICE)) {
            let s = svc
                .strip_prefix(&format!("{ns}_"))
                .unwrap_or(svc)
                .to_string();
            // `STACK_SERVICE.SLOT.TASKID`
            let n = l
                .get(TASK_NAME)
                .and_then(|t| t.split('.').nth(1)?.parse().ok())
                .unwrap_or(1);
            (ns.clone(), s, n)
        } else {
            continue;
        };
        if project.is_empty() || service.is_empty() || project.contains('/') {
            continue;
        }
        let p = out.entry(project).or_default();
        if p.working_dir.is_none() {
            p.working_dir = l.get(WORKING_DIR).cloned();
        }
        p.created = p.created.max(c.created);
        p.services.entry(service).or_default().push(Replica {
            number,
            name: c.name.clone(),
            running: c.running,
            at: At::Here,
        });
    }
    for p in out.values_mut() {
        for r in p.services.values_mut() {
            r.sort_by(|a, b| a.number.cmp(&b.number).then(a.name.cmp(&b.name)));
        }
    }
    out
}

/// A project's links and the container each leads to: `SERVICE` (the lowest-numbered running
/// replica, else the lowest-numbered), and with several replicas `SERVICE-N` for each. A name
/// taken already (a service called `web-2`) keeps its first meaning.
pub fn links(p: &Project) -> Vec<(String, Replica)> {
    let mut out: Vec<(String, Replica)> = Vec::new();
    let mut add = |link: String, to: &Replica| {
        if !out.iter().any(|(l, _)| *l == link) {
            out.push((link, to.clone()));
        }
    };
    for (service, replicas) in &p.services {
        // A replica dockerbox can reach before one it cannot.
        let first = replicas
            .iter()
            .find(|r| r.running && !matches!(r.at, At::Node(_)))
            .or(replicas.iter().find(|r| r.running))
            .or(replicas.first());
        if let Some(first) = first {
            add(service.clone(), first);
        }
    }
    for (service, replicas) in &p.services {
        if replicas.len() > 1 {
            for r in replicas {
                add(format!("{service}-{}", r.number), r);
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A swarm manager's stacks as projects: each task a replica of its service (numbered by its
/// slot; a global service's tasks in node order), placed on the engine whose node runs it.
/// `here` is this engine's node; `engines` the node of each other engine dockerbox talks to.
pub fn stacks(
    tasks: &[SwarmTask],
    nodes: &[SwarmNode],
    here: &str,
    engines: &[(String, String)],
) -> BTreeMap<String, Project> {
    let mut out: BTreeMap<String, Project> = BTreeMap::new();
    let mut sorted: Vec<&SwarmTask> = tasks.iter().collect();
    sorted.sort_by(|a, b| (&a.service, a.slot, &a.node).cmp(&(&b.service, b.slot, &b.node)));
    for t in sorted {
        if t.stack.is_empty() || t.stack.contains('/') {
            continue;
        }
        let service = t
            .service
            .strip_prefix(&format!("{}_", t.stack))
            .unwrap_or(&t.service)
            .to_string();
        if service.is_empty() {
            continue;
        }
        let at = if t.node == here {
            At::Here
        } else if let Some((_, e)) = engines.iter().find(|(n, _)| *n == t.node) {
            At::Engine(e.clone())
        } else {
            At::Node(describe(nodes, &t.node))
        };
        let p = out.entry(t.stack.clone()).or_default();
        p.created = p.created.max(parse_rfc3339(&t.created).unwrap_or(0));
        let replicas = p.services.entry(service).or_default();
        let number = match t.slot {
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
            None => u32::try_from(replicas.len() + 1).unwrap_or(u32::MAX),
        };
        replicas.push(Replica {
            number,
            name: t.container(),
            running: t.running,
            at,
        });
    }
    out
}

/// A node as an error names it: `HOSTNAME (node ID12, ADDR)`.
fn describe(nodes: &[SwarmNode], id: &str) -> String {
    let short = &id[..id.len().min(12)];
    match nodes.iter().find(|n| n.id == id) {
        Some(n) if !n.addr.is_empty() => format!("{} (node {short} at {})", n.hostname, n.addr),
        Some(n) => format!("{} (node {short})", n.hostname),
        None => format!("node {short}"),
    }
}

/// How long an engine's swarm node is remembered.
const NODE_TTL: Duration = Duration::from_secs(10);

/// Each engine's swarm node (ID, manager?), asked at most every [`NODE_TTL`]; an engine that
/// does not answer counts as outside any swarm meanwhile.
#[derive(Default)]
pub struct Nodes {
    known: Mutex<HashMap<usize, (Instant, Node)>>,
}

/// An engine's swarm node: its ID and whether it manages the swarm (`None`: in no swarm).
type Node = Option<(String, bool)>;

impl Nodes {
    async fn of(&self, index: usize, eng: &Engine) -> Node {
        let cached = self.known.lock().ok().and_then(|m| {
            m.get(&index)
                .filter(|(t, _)| t.elapsed() < NODE_TTL)
                .map(|(_, v)| v.clone())
        });
        if let Some(v) = cached {
            return v;
        }
        let v = eng.swarm_node().await.ok().flatten();
        if let Ok(mut m) = self.known.lock() {
            m.insert(index, (Instant::now(), v.clone()));
        }
        v
    }
}

/// The engine's projects: compose's from the labels of its containers; a swarm manager's
/// stacks from its tasks (on whichever node), anywhere else the stacks' containers it runs.
async fn projects(vfs: &Vfs, eng: &Engine) -> Result<BTreeMap<String, Project>, FsError> {
    let mut all = eng.labelled(PROJECT).await?;
    let index = vfs
        .engines()
        .iter()
        .position(|e| std::ptr::eq(&**e, eng))
        .unwrap_or(0);
    let manager = match vfs.swarm.of(index, eng).await {
        Some((here, true)) => eng.swarm_tasks().await.ok().map(|t| (here, t)),
        _ => None,
    };
    // Outside a swarm, on a worker, or a manager that cannot answer now (no quorum): the
    // stacks' containers this engine runs, by their labels.
    let Some((here, (tasks, nodes))) = manager else {
        all.extend(eng.labelled(STACK).await?);
        return Ok(group(&all));
    };
    let mut engines = Vec::new();
    if tasks.iter().any(|t| t.node != here) {
        let others = vfs
            .engines()
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index);
        let asked = others.map(|(i, e)| async move {
            vfs.swarm
                .of(i, e)
                .await
                .map(|(n, _)| (n, e.name().to_string()))
        });
        engines = futures_util::future::join_all(asked)
            .await
            .into_iter()
            .flatten()
            .collect();
    }
    let mut out = group(&all);
    for (name, p) in stacks(&tasks, &nodes, &here, &engines) {
        out.entry(name).or_insert(p);
    }
    Ok(out)
}

/// Where a path in `/apps` is.
enum Place {
    Dir(Entry, Vec<Entry>),
    /// A service link: its entry, and the container root it leads to.
    Link(Entry, VPath),
    /// Below a link: the container path it leads to.
    Through(VPath),
    /// A link to a task on a swarm node dockerbox does not talk to (or below it): the link's
    /// entry and the error its use gives.
    Away(Entry, String),
}

fn dir(name: impl Into<OsString>, mtime: i64) -> Entry {
    let mut e = Entry::new(name, Kind::Dir);
    e.perm = 0o555;
    e.nlink = 2;
    e.mtime = mtime;
    e
}

/// A project as `/apps` lists it (and `ls -ld` shows it): working directory, service count.
fn project_entry(name: &str, p: &Project) -> Entry {
    let mut e = dir(name, p.created);
    e.object = Some(Arc::new(Object::App {
        working_dir: p.working_dir.clone().unwrap_or_else(|| "-".into()),
        services: p.services.len(),
    }));
    e
}

/// `/apps` as `/` lists it.
pub fn apps_dir() -> Entry {
    dir("apps", 0)
}

fn link(name: &str, target: PathBuf, mtime: i64) -> Entry {
    let mut e = Entry::new(name, Kind::Symlink);
    e.perm = 0o777;
    e.mtime = mtime;
    e.size = target.as_os_str().len() as u64;
    e.link_target = Some(target);
    e
}

async fn place(vfs: &Vfs, path: &Path) -> Result<Place, FsError> {
    let mut comps: Vec<String> = Vec::new();
    for c in path.components() {
        if let Component::Normal(n) = c {
            comps.push(n.to_str().ok_or(FsError::NotFound)?.to_string());
        }
    }
    let engines = vfs.engines();
    let (host, comps) = if super::path::multi_engine() {
        let Some((h, rest)) = comps.split_first() else {
            let kids = engines
                .iter()
                .map(|e| dir(e.name().to_string(), 0))
                .collect();
            return Ok(Place::Dir(apps_dir(), kids));
        };
        (Some(h.clone()), rest.to_vec())
    } else {
        (None, comps)
    };
    let eng = vfs.engine(host.as_deref())?;
    let projects = projects(vfs, eng).await?;
    let Some((name, rest)) = comps.split_first() else {
        let kids = projects
            .iter()
            .map(|(name, p)| project_entry(name, p))
            .collect();
        let own = path.file_name().map_or_else(apps_dir, |n| dir(n, 0));
        return Ok(Place::Dir(own, kids));
    };
    let project = projects.get(name).ok_or(FsError::NotFound)?;
    // The engine a replica's link leads into (`None`: the only one).
    let host_of = |r: &Replica| match &r.at {
        At::Here => host.clone(),
        At::Engine(e) => Some(e.clone()),
        At::Node(_) => None,
    };
    let to_container = |r: &Replica| {
        let mut t = PathBuf::from(super::path::CONTAINERS);
        match (&r.at, host_of(r)) {
            (_, Some(h)) => t.push(h),
            // Named after its node, which no engine here is.
            (At::Node(n), None) => t.push(n.split(' ').next().unwrap_or(n)),
            _ => {}
        }
        t.push(&r.name);
        t
    };
    let links = links(project);
    let Some((l, rest)) = rest.split_first() else {
        let kids = links
            .iter()
            .map(|(l, r)| link(l, to_container(r), project.created))
            .collect();
        return Ok(Place::Dir(project_entry(name, project), kids));
    };
    let (_, r) = links
        .iter()
        .find(|(name, _)| name == l)
        .ok_or(FsError::NotFound)?;
    let entry = link(l, to_container(r), project.created);
    if let At::Node(node) = &r.at {
        let why = format!(
            "{} runs on swarm node {node}, whose engine dockerbox does not talk to",
            r.name
        );
        return Ok(Place::Away(entry, why));
    }
    let mut inside = PathBuf::from("/");
    inside.extend(rest);
    let target = VPath::Container {
        host: host_of(r),
        name: r.name.clone(),
        path: inside,
    };
    if rest.is_empty() {
        return Ok(Place::Link(entry, target));
    }
    Ok(Place::Through(target))
}

/// The container path a path below a service link leads to (`None`: `/apps` serves it).
pub async fn through(vfs: &Vfs, path: &Path) -> Result<Option<VPath>, FsError> {
    let depth = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    if depth < 3 + usize::from(super::path::multi_engine()) {
        return Ok(None);
    }
    match place(vfs, path).await? {
        Place::Through(p) => Ok(Some(p)),
        // Below the link (a depth the link itself never has).
        Place::Away(_, why) => Err(away(why)),
        _ => Ok(None),
    }
}

/// The error a link to an unreachable swarm node gives when used.
fn away(why: String) -> FsError {
    FsError::Refused {
        errno: libc::EHOSTUNREACH,
        message: why,
    }
}

/// `/apps` (`vfs/mod.rs` routes here whatever [`through`] does not send to a container).
pub struct Apps<'v> {
    pub vfs: &'v Vfs,
}

impl Backend for Apps<'_> {
    /// Projects and links are the engine's to make: read-only.
    fn refuse_write(&self) -> FsError {
        FsError::errno_error(libc::EROFS)
    }

    fn lstat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(async move {
            match place(self.vfs, path).await? {
                Place::Dir(e, _) | Place::Link(e, _) | Place::Away(e, _) => Ok(e),
                Place::Through(p) => self.vfs.lstat(&p).await,
            }
        })
    }

    fn stat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(async move {
            match place(self.vfs, path).await? {
                Place::Dir(e, _) => Ok(e),
                Place::Link(e, p) => {
                    let mut s = self.vfs.stat(&p).await?;
                    s.name = e.name;
                    Ok(s)
                }
                Place::Through(p) => self.vfs.stat(&p).await,
                Place::Away(_, why) => Err(away(why)),
            }
        })
    }

    fn read_dir<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Arc<Vec<Entry>>> {
        Box::pin(async move {
            match place(self.vfs, path).await? {
                Place::Dir(_, kids) => Ok(Arc::new(kids)),
                Place::Link(_, p) | Place::Through(p) => self.vfs.read_dir(&p).await,
                Place::Away(_, why) => Err(away(why)),
            }
        })
    }

    fn readlink<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        Box::pin(async move {
            match place(self.vfs, path).await? {
                Place::Link(e, _) | Place::Away(e, _) => e
                    .link_target
                    .ok_or_else(|| FsError::errno_error(libc::EINVAL)),
                Place::Through(p) => self.vfs.readlink(&p).await,
                Place::Dir(..) => Err(FsError::errno_error(libc::EINVAL)),
            }
        })
    }

    fn open_read<'a>(&'a self, path: &'a Path, size_hint: u64) -> BoxFut<'a, FileReader> {
        Box::pin(async move {
            match place(self.vfs, path).await? {
                Place::Dir(..) | Place::Link(..) => Err(FsError::IsADirectory),
                Place::Away(_, why) => Err(away(why)),
                Place::Through(p) => {
                    self.vfs
                        .serve(&p, super::Need::Read, Path::new(""), move |b, at| {
                            b.open_read(&at.path, size_hint)
                        })
                        .await
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each link and the container it leads to.
    fn names(p: &Project) -> Vec<(String, String)> {
        links(p).into_iter().map(|(l, r)| (l, r.name)).collect()
    }

    fn c(name: &str, running: bool, labels: &[(&str, &str)]) -> Labelled {
        Labelled {
            name: name.into(),
            running,
            created: 0,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn compose(name: &str, running: bool, p: &str, s: &str, n: Option<&str>) -> Labelled {
        let mut l = vec![(PROJECT, p), (SERVICE, s), (WORKING_DIR, "/src/shop")];
        if let Some(n) = n {
            l.push((NUMBER, n));
        }
        c(name, running, &l)
    }

    #[test]
    fn compose_projects_group_by_label() {
        let list = vec![
            // v2 names
            compose("shop-web-1", false, "shop", "web", Some("1")),
            compose("shop-web-2", true, "shop", "web", Some("2")),
            compose("shop-web-3", true, "shop", "web", Some("3")),
            compose("shop-worker-1", true, "shop", "worker", Some("1")),
            // v1 names, no number label
            compose("old_db_1", true, "old", "db", None),
            c(
                "shop-web-run-abc",
                true,
                &[(PROJECT, "shop"), (SERVICE, "web"), (ONEOFF, "True")],
            ),
            c("plain", true, &[]),
        ];
        let g = group(&list);
        assert_eq!(g.keys().collect::<Vec<_>>(), ["old", "shop"]);
        let shop = &g["shop"];
        assert_eq!(shop.working_dir.as_deref(), Some("/src/shop"));
        assert_eq!(shop.services.len(), 2);
        let l = |p: &Project| {
            links(p)
                .into_iter()
                .map(|(a, b)| format!("{a}>{}", b.name))
                .collect::<Vec<_>>()
        };
        // The lowest-numbered *running* replica; every replica by number; no one-off.
        assert_eq!(
            l(shop),
            [
                "web>shop-web-2",
                "web-1>shop-web-1",
                "web-2>shop-web-2",
                "web-3>shop-web-3",
                "worker>shop-worker-1"
            ]
        );
        assert_eq!(l(&g["old"]), ["db>old_db_1"]);
    }

    #[test]
    fn nothing_running_links_the_lowest_number() {
        let list = vec![
            compose("p_s_2", false, "p", "s", None),
            compose("p_s_1", false, "p", "s", None),
        ];
        let g = group(&list);
        assert_eq!(names(&g["p"])[0], ("s".to_string(), "p_s_1".to_string()));
    }

    #[test]
    fn swarm_stacks_group_by_namespace_and_slot() {
        let task = |name: &str, slot: &str| {
            c(
                name,
                true,
                &[
                    (STACK, "shop"),
                    (SWARM_SERVICE, "shop_web"),
                    (TASK_NAME, &format!("shop_web.{slot}.x1y2z3")),
                ],
            )
        };
        let g = group(&[task("shop_web.2.x1y2z3", "2"), task("shop_web.1.a", "1")]);
        assert_eq!(
            names(&g["shop"]),
            [
                ("web".to_string(), "shop_web.1.a".to_string()),
                ("web-1".to_string(), "shop_web.1.a".to_string()),
                ("web-2".to_string(), "shop_web.2.x1y2z3".to_string()),
            ]
        );
    }

    fn task(service: &str, slot: Option<u64>, node: &str, id: &str) -> SwarmTask {
        SwarmTask {
            id: id.into(),
            service: service.into(),
            stack: "shop".into(),
            slot,
            node: node.into(),
            running: true,
            created: "2026-12-01T14:00:00.5Z".into(),
        }
    }

    #[test]
    fn stacks_place_each_task_on_its_nodes_engine() {
        let tasks = vec![
            task("shop_web", Some(2), "n2", "t2"),
            task("shop_web", Some(1), "n1", "t1"),
            task("shop_web", Some(3), "n3", "t3"),
            task("shop_agent", None, "n2", "g2"),
            task("shop_agent", None, "n1", "g1"),
            SwarmTask {
                stack: "a/b".into(),
                ..task("a/b_x", Some(1), "n1", "bad")
            },
        ];
        let nodes = vec![SwarmNode {
            id: "n3".into(),
            hostname: "far".into(),
            addr: "10.0.0.3".into(),
        }];
        let engines = vec![("n2".to_string(), "other".to_string())];
        let g = stacks(&tasks, &nodes, "n1", &engines);
        assert_eq!(g.keys().collect::<Vec<_>>(), ["shop"]);
        let shop = &g["shop"];
        assert_eq!(shop.created, 1_796_133_600);
        let got: Vec<(String, String, At)> = links(shop)
            .into_iter()
            .map(|(l, r)| (l, r.name, r.at))
            .collect();
        let here = |l: &str, c: &str| (l.to_string(), c.to_string(), At::Here);
        let on = |l: &str, c: &str| (l.to_string(), c.to_string(), At::Engine("other".into()));
        assert_eq!(
            got,
            [
                // A global service's tasks are named by node and numbered in node order.
                here("agent", "shop_agent.n1.g1"),
                here("agent-1", "shop_agent.n1.g1"),
                on("agent-2", "shop_agent.n2.g2"),
                here("web", "shop_web.1.t1"),
                here("web-1", "shop_web.1.t1"),
                on("web-2", "shop_web.2.t2"),
                (
                    "web-3".to_string(),
                    "shop_web.3.t3".to_string(),
                    At::Node("far (node n3 at 10.0.0.3)".into())
                ),
            ]
        );
    }

    #[test]
    fn a_service_links_a_replica_it_can_reach() {
        let tasks = vec![
            task("shop_web", Some(1), "far", "t1"),
            task("shop_web", Some(2), "n1", "t2"),
        ];
        let g = stacks(&tasks, &[], "n1", &[]);
        let l = links(&g["shop"]);
        assert_eq!(
            (l[0].0.as_str(), l[0].1.name.as_str()),
            ("web", "shop_web.2.t2")
        );
        assert_eq!(l[1].1.at, At::Node("node far".into()));
    }
}
