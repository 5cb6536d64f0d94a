//! One Docker engine: a lazily negotiated bollard client plus the container table.
//!
//! The table is listed once and then kept current by following `GET /events`: a warm
//! `ls /containers` costs no round trip, and after events only the containers they name are
//! asked for again (one list request filtered by ID, which the engine answers from its index),
//! so a busy engine with a thousand containers is never listed whole twice. Every container
//! event also bumps that container's generation, which is how the archive backend knows its
//! cached listings went stale.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::models::{ContainerInspectResponse, ContainerSummaryStateEnum};
use bollard::query_parameters::{EventsOptions, ListContainersOptions};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::sync::OnceCell;

use super::error::EngineError;
use super::procroot::ProcRoot;
use super::sources::EngineSpec;

/// bollard's own per-request limit: long, since it also bounds exec and archive calls that
/// legitimately take a while. Whether an engine answers at all is decided sooner, by
/// [`Engine::timeout`], around connecting and listing.
const REQUEST_TIMEOUT: u64 = 600;

/// How long an engine that failed to answer counts as down without being asked again.
const DOWN_FOR: Duration = Duration::from_secs(2);

/// A container's lifecycle state, as `docker ps -a` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Running => "running",
            State::Paused => "paused",
            State::Restarting => "restarting",
            State::Removing => "removing",
            State::Exited => "exited",
            State::Dead => "dead",
        }
    }
}

/// What the table knows about one container.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    /// The engine it lives on: its place in the engine list.
    pub engine: usize,
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: State,
    /// Seconds since the epoch.
    pub created: i64,
}

impl ContainerInfo {
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

type Table = Arc<Vec<Arc<ContainerInfo>>>;

/// An engine as a directory of `/containers` (several engines): what `ls -l` shows.
#[derive(Debug, Clone)]
pub struct EngineSummary {
    pub name: String,
    pub addr: String,
    pub version: Option<String>,
    pub running: usize,
    pub stopped: usize,
    /// Why it did not answer (then the counts are 0).
    pub error: Option<String>,
}

/// A container event from the engine's stream, as [`Engine::on_events`]' sink is given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    pub id: String,
    /// As the engine names it: `start`, `die`, `rename`, `extract-to-dir`, `exec_die`...
    pub action: String,
    /// The container's name (after a rename, the new one), without the leading `/`.
    pub name: String,
    /// A rename's old name, as the engine gives it (with its `/`).
    pub old_name: Option<String>,
}

/// Told of every container event, after the generations it moves have moved.
pub type EventSink = Arc<dyn Fn(&ContainerEvent) + Send + Sync>;

/// A container's inspect, and the generation it was asked in.
type Inspected = (Option<u64>, Arc<ContainerInspectResponse>);

/// A container's direct path (or that it has none), and the generation it was looked up in.
type FoundRoot = (Option<u64>, Option<Arc<ProcRoot>>);

/// One Docker endpoint.
pub struct Engine {
    spec: EngineSpec,
    /// Its place in the engine list (what [`ContainerInfo::engine`] refers to).
    index: usize,
    /// How long connecting and listing may take before the engine counts as unreachable.
    timeout: Duration,
    docker: Result<Docker, String>,
    ready: OnceCell<Docker>,
    /// When and why it last failed to answer (see [`Engine::still_down`]).
    down: Mutex<Option<(std::time::Instant, String)>>,
    /// The engine's version, asked once (for `ls -l /containers` with several engines).
    version: OnceCell<String>,
    /// Bumped by [`Engine::invalidate`]: the cached table is valid while this is unchanged.
    table_gen: Arc<AtomicU64>,
    /// Containers whose events arrived since they were listed (see [`Pending`]).
    pending: Arc<Mutex<Pending>>,
    /// Held while the table is listed or brought up to date, so two lookups never race to
    /// store their answers (the later one would undo the earlier one's news).
    refreshing: tokio::sync::Mutex<()>,
    /// False until the event stream answers, and again once it breaks: then nothing is cached.
    following: Arc<AtomicBool>,
    table: Mutex<Option<(u64, Table)>>,
    /// Each listed container's generation when the table was listed: while it is unchanged,
    /// that container's entry is current even if other containers' events moved the table.
    listed_gens: Mutex<HashMap<String, Option<u64>>>,
    /// One inspect per container and generation, for the direct path and its tmpfs mounts.
    inspected: Mutex<HashMap<String, Inspected>>,
    /// Names as the user typed them, inspected beside the first list: the ID the engine
    /// resolved each to, and that container's generation then (see [`Engine::named`]).
    by_name: Mutex<HashMap<String, (String, Option<u64>)>>,
    /// Bumped by [`Engine::invalidate`]: part of every container's generation.
    epoch: AtomicU64,
    /// Mount points per container id (fixed for a container's life), see `Engine::mounts`.
    tmpfs: Mutex<HashMap<String, Arc<Vec<String>>>>,
    /// Per-container generation, bumped by that container's events (start, die, cp into it...).
    container_gen: Arc<Mutex<HashMap<String, u64>>>,
    /// The direct path into running containers, per container id, with the generation it was
    /// found in (a restart means a new process and a new root).
    proc_roots: Mutex<HashMap<String, FoundRoot>>,
    /// Who is told of container events (the vfs, which turns them into changes).
    sink: Arc<std::sync::OnceLock<EventSink>>,
    /// The task following `GET /events`.
    follower: Mutex<Option<tokio::task::AbortHandle>>,
    /// Archive listings in flight (see [`Engine::archive_slot`]).
    archive_slots: tokio::sync::Semaphore,
}

/// The most containers a lookup asks for again by ID after their events (the request's URL
/// holds each ID); beyond that the table is listed whole.
const REFRESH_MAX: usize = 200;

/// What arrived from the event stream since the table was listed: the containers it named, or
/// that the table must be listed whole (an event named no ID to filter by, a request failed).
#[derive(Debug, Default)]
struct Pending {
    ids: HashSet<String>,
    all: bool,
}

impl Pending {
    /// Notes that container `id` changed: a full ID is asked for by itself, anything else
    /// makes the next lookup list every container.
    fn note(&mut self, id: &str) {
        if is_full_id(id) {
            self.ids.insert(id.to_string());
        } else {
            self.all = true;
        }
    }
}

/// A container ID as the engine gives them: 64 lowercase hex digits, so it is safe in a list
/// filter (which the engine matches as a regular expression) and names one container.
fn is_full_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// How many archive listings one engine is asked for at once: a glob over a thousand
/// containers (`/containers/*/etc/hostname`) lists each one's directory, and the engine builds
/// every tar at once otherwise.
const ARCHIVE_SLOTS: usize = 16;

impl Engine {
    /// The engine `spec` describes, number `index` in the list; nothing is sent until it is
    /// first used.
    pub fn new(spec: EngineSpec, index: usize, timeout: Duration) -> Engine {
        let docker = super::connect::connect(&spec, REQUEST_TIMEOUT);
        Engine {
            spec,
            index,
            timeout,
            docker,
            ready: OnceCell::new(),
            down: Mutex::new(None),
            version: OnceCell::new(),
            table_gen: Arc::new(AtomicU64::new(0)),
            pending: Arc::default(),
            refreshing: tokio::sync::Mutex::new(()),
            following: Arc::new(AtomicBool::new(false)),
            table: Mutex::new(None),
            listed_gens: Mutex::new(HashMap::new()),
            inspected: Mutex::new(HashMap::new()),
            by_name: Mutex::new(HashMap::new()),
            tmpfs: Mutex::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            container_gen: Arc::new(Mutex::new(HashMap::new())),
            proc_roots: Mutex::new(HashMap::new()),
            sink: Arc::default(),
            follower: Mutex::new(None),
            archive_slots: tokio::sync::Semaphore::new(ARCHIVE_SLOTS),
        }
    }

    /// A turn to ask for an archive listing, held while it is read; at most
    /// [`ARCHIVE_SLOTS`] at once. Never closed, so waiting always ends in a permit.
    pub async fn archive_slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.archive_slots.acquire().await.ok()
    }

    /// `--timeout`: how long connecting and listing may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Its place in the engine list.
    pub fn index(&self) -> usize {
        self.index
    }

    pub fn addr(&self) -> &str {
        &self.spec.addr
    }

    /// The name it has under `/containers` when there are several engines.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// How it is reached (for a connection of our own, as `logs -f` makes).
    pub(super) fn spec(&self) -> &EngineSpec {
        &self.spec
    }

    /// The client, once the engine answered: after version negotiation (the engine here
    /// speaks API 1.41, older than bollard's default) or a first list answered while the
    /// negotiation runs beside it ([`Engine::containers`]); with the event follower started.
    pub async fn client(&self) -> Result<&Docker, EngineError> {
        self.still_down()?;
        let r = self
            .ready
            .get_or_try_init(|| async {
                let docker = self.raw()?;
                // Events are followed from the start, beside the negotiation (bollard's
                // clones share the negotiated version).
                self.follow_events(docker.clone());
                let docker = tokio::time::timeout(self.timeout, docker.negotiate_version())
                    .await
                    .map_err(|_| self.unreachable("timed out".into()))?
                    .map_err(|e| self.unreachable(reason(&e)))?;
                Ok(docker)
            })
            .await;
        if let Err(e) = &r {
            self.mark_down(e);
        }
        r
    }

    /// The client before version negotiation: bollard 0.21 sends unversioned paths, which
    /// the engine serves at its own version, so a first request may go beside the negotiation.
    fn raw(&self) -> Result<Docker, EngineError> {
        self.docker
            .clone()
            .map_err(|reason| self.unreachable(reason))
    }

    /// An engine that just failed to answer is not asked again for a moment: one command that
    /// touches it several times (`ls /containers/*`) pays its timeout once.
    fn still_down(&self) -> Result<(), EngineError> {
        let down = self.down.lock().ok().and_then(|d| d.clone());
        match down {
            Some((when, reason)) if when.elapsed() < DOWN_FOR => Err(self.unreachable(reason)),
            _ => Ok(()),
        }
    }

    fn mark_down(&self, e: &EngineError) {
        if let EngineError::Unreachable { reason, .. } = e {
            if let Ok(mut d) = self.down.lock() {
                *d = Some((std::time::Instant::now(), reason.clone()));
            }
        }
    }

    fn unreachable(&self, reason: String) -> EngineError {
        EngineError::Unreachable {
            addr: self.spec.addr.clone(),
            reason,
        }
    }

    /// Maps a bollard error of a call on this engine to an [`EngineError`].
    pub fn error(&self, e: bollard::errors::Error) -> EngineError {
        use bollard::errors::Error as E;
        match e {
            E::DockerResponseServerError {
                status_code: 404, ..
            } => EngineError::NotFound,
            E::DockerResponseServerError {
                status_code,
                message,
            } => EngineError::Server {
                status: status_code,
                message,
            },
            e @ (E::RequestTimeoutError
            | E::HyperResponseError { .. }
            | E::HyperLegacyError { .. }
            | E::IOError { .. }) => self.unreachable(reason(&e)),
            e => EngineError::Other(e.to_string()),
        }
    }

    /// All containers, running or not, as `docker ps -a` lists them, sorted by name.
    pub async fn containers(&self) -> Result<Table, EngineError> {
        if self.ready.get().is_none() && self.cheap_connections() {
            // First use: the list is the first request, and an answer to it is proof enough
            // that the engine is there. The version is negotiated beside it, in the background
            // (`GET /version` makes this engine run `runc --version` and `docker-init
            // --version`: 5 ms when idle, 35 ms under load); bollard's clones share the
            // version it settles on. Should the engine refuse the list (a client version it
            // does not speak), it is asked again once negotiated.
            if let Ok(raw) = self.raw() {
                self.still_down()?;
                self.follow_events(raw.clone());
                let (negotiating, limit) = (raw.clone(), self.timeout);
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(limit, negotiating.negotiate_version()).await;
                });
                if let Ok(t) = self.list(&raw).await {
                    let _ = self.ready.set(raw);
                    return Ok(t);
                }
            }
        }
        let docker = self.client().await?;
        if let Some(t) = self.current() {
            return Ok(t);
        }
        let _turn = self.refreshing.lock().await;
        // Another lookup may have brought the table up to date while this one waited.
        if let Some(t) = self.current() {
            return Ok(t);
        }
        if let Some((table, ids)) = self.kept().zip(self.take_pending()) {
            match self.refresh(docker, &table, ids).await {
                Ok(t) => return Ok(t),
                // Asked again by the full list below, which says why if the engine is gone.
                Err(_) => self.pending_all(),
            }
        }
        self.list_locked(docker).await
    }

    /// The table, if it is known to be current: events are followed and none arrived since.
    fn current(&self) -> Option<Table> {
        let t = self.kept()?;
        let quiet = self
            .pending
            .lock()
            .is_ok_and(|p| !p.all && p.ids.is_empty());
        quiet.then_some(t)
    }

    /// The table listed last, if events are followed and nothing asked for it to be forgotten.
    fn kept(&self) -> Option<Table> {
        if !self.following.load(Ordering::SeqCst) {
            return None;
        }
        let gen = self.table_gen.load(Ordering::SeqCst);
        let guard = self.table.lock().ok()?;
        let (g, t) = guard.as_ref()?;
        (*g == gen).then(|| t.clone())
    }

    /// The containers to ask for again, taken out of [`Pending`]; `None` when they are too
    /// many (or one was not an ID to filter by): then the table is listed whole.
    fn take_pending(&self) -> Option<Vec<String>> {
        let mut p = self.pending.lock().ok()?;
        if p.all || p.ids.len() > REFRESH_MAX {
            return None;
        }
        Some(p.ids.drain().collect())
    }

    fn pending_all(&self) {
        if let Ok(mut p) = self.pending.lock() {
            p.all = true;
        }
    }

    /// Asks for just the containers `ids` (a list filtered by ID: the engine looks each one up
    /// in its index instead of summarizing every container) and updates `table` with them:
    /// one that is not answered for is gone.
    async fn refresh(
        &self,
        docker: &Docker,
        table: &Table,
        ids: Vec<String>,
    ) -> Result<Table, EngineError> {
        let gen = self.table_gen.load(Ordering::SeqCst);
        let before = self.generations_now();
        let opts = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("id".to_string(), ids.clone())])),
            ..Default::default()
        };
        let fresh = self.ask(docker, opts).await;
        let fresh = match fresh {
            Ok(f) => f,
            Err(e) => {
                // Whatever the failure, these containers are still to be asked for.
                if let Ok(mut p) = self.pending.lock() {
                    p.ids.extend(ids);
                }
                return Err(e);
            }
        };
        let gens: Vec<(String, Option<u64>)> =
            ids.iter().map(|id| (id.clone(), before(id))).collect();
        let next = Arc::new(merged(table, &ids.into_iter().collect(), fresh));
        self.keep(gen, &next, gens.into_iter(), false);
        Ok(next)
    }

    /// The engine's list with `opts`, as table entries (views left out).
    async fn ask(
        &self,
        docker: &Docker,
        opts: ListContainersOptions,
    ) -> Result<Vec<ContainerInfo>, EngineError> {
        let list = tokio::time::timeout(self.timeout, docker.list_containers(Some(opts)))
            .await
            .map_err(|_| self.unreachable("timed out".into()))
            .and_then(|r| r.map_err(|e| self.error(e)))
            .inspect_err(|e| self.mark_down(e))?;
        Ok(list
            .into_iter()
            .filter_map(|c| info_of(self.index, c))
            .collect())
    }

    /// Stores `table` as listed in this table generation, with the generations its entries
    /// were asked in (all of them, or just those refreshed).
    fn keep(
        &self,
        gen: u64,
        table: &Table,
        gens: impl Iterator<Item = (String, Option<u64>)>,
        whole: bool,
    ) {
        if let Ok(mut guard) = self.table.lock() {
            *guard = Some((gen, table.clone()));
        }
        if let Ok(mut g) = self.listed_gens.lock() {
            if whole {
                g.clear();
            }
            g.extend(gens);
        }
    }

    /// What this engine's generations are now: a lookup of container `id` made after this
    /// gets `before(id)`, to be trusted while [`Engine::generation`] still says the same.
    fn generations_now(&self) -> impl Fn(&str) -> Option<u64> {
        let gens = self
            .container_gen
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        let (following, epoch) = (
            self.following.load(Ordering::SeqCst),
            self.epoch.load(Ordering::SeqCst),
        );
        move |id: &str| following.then(|| gens.get(id).copied().unwrap_or(0) + (epoch << 32))
    }

    /// Lists the containers and keeps the table.
    async fn list(&self, docker: &Docker) -> Result<Table, EngineError> {
        let _turn = self.refreshing.lock().await;
        self.list_locked(docker).await
    }

    /// [`Engine::list`] for a caller holding `refreshing`.
    async fn list_locked(&self, docker: &Docker) -> Result<Table, EngineError> {
        let gen = self.table_gen.load(Ordering::SeqCst);
        // Events from here on name what the next lookup asks for again; those before are in
        // this answer.
        if let Ok(mut p) = self.pending.lock() {
            *p = Pending::default();
        }
        // Generations from before the request: an event that races the answer makes the next
        // lookup ask again rather than trust a stale entry.
        let before = self.generations_now();
        let opts = ListContainersOptions {
            all: true,
            ..Default::default()
        };
        let listed = self.ask(docker, opts).await;
        let mut table: Vec<Arc<ContainerInfo>> = match listed {
            Ok(t) => t.into_iter().map(Arc::new).collect(),
            Err(e) => {
                self.pending_all();
                return Err(e);
            }
        };
        table.sort_by(|a, b| a.name.cmp(&b.name));
        let table = Arc::new(table);
        let gens = table.iter().map(|c| (c.id.clone(), before(&c.id)));
        // Kept under the generation from before the request: an invalidation while it was
        // asked for makes the next lookup list again.
        self.keep(gen, &table, gens.collect::<Vec<_>>().into_iter(), true);
        Ok(table)
    }

    /// What `ls -l /containers` shows of an engine: address, version, containers, or why it
    /// did not answer.
    pub async fn summary(&self) -> EngineSummary {
        let mut sum = EngineSummary {
            name: self.spec.name.clone(),
            addr: self.spec.addr.clone(),
            version: None,
            running: 0,
            stopped: 0,
            error: None,
        };
        match self.containers().await {
            Ok(table) => {
                sum.running = table.iter().filter(|c| c.state == State::Running).count();
                sum.stopped = table.len() - sum.running;
            }
            Err(e) => {
                sum.error = Some(e.to_string());
                return sum;
            }
        }
        if let Ok(docker) = self.client().await {
            let v = self
                .version
                .get_or_try_init(|| async {
                    let v = tokio::time::timeout(self.timeout, docker.version()).await;
                    match v {
                        Ok(Ok(v)) => Ok(v.version.unwrap_or_default()),
                        _ => Err(()),
                    }
                })
                .await;
            sum.version = v.ok().cloned();
        }
        sum
    }

    /// Finds a container by name or unique ID prefix, as the docker CLI does.
    pub async fn find(&self, name: &str) -> Result<Arc<ContainerInfo>, EngineError> {
        // Other containers' events (a busy engine has many) move the table, not this entry.
        if let Some(c) = self.cached(name) {
            let listed = self
                .listed_gens
                .lock()
                .ok()
                .and_then(|g| g.get(&c.id).copied());
            let now = self.generation(&c.id);
            if now.is_some() && listed == Some(now) {
                return Ok(c);
            }
        }
        let table = if self.table_is_cold() && self.cheap_connections() && plain_name(name) {
            // The first lookup: the container's inspect (what the direct path and the tmpfs
            // check need) is asked by name beside the list, instead of after it.
            let (table, _) = tokio::join!(self.containers(), self.inspect_by_name(name));
            table?
        } else {
            self.containers().await?
        };
        if let Some(c) = table.iter().find(|c| c.name == name) {
            return Ok(c.clone());
        }
        let hex = !name.is_empty() && name.bytes().all(|b| b.is_ascii_hexdigit());
        let matches: Vec<_> = table
            .iter()
            .filter(|c| hex && c.id.starts_with(name))
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(EngineError::NoSuchContainer),
            many => Err(EngineError::Ambiguous(
                many.iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
        }
    }

    /// A container by exact name or ID from the table listed last, without asking the engine.
    pub fn cached(&self, name: &str) -> Option<Arc<ContainerInfo>> {
        let guard = self.table.lock().ok()?;
        let (_, t) = guard.as_ref()?;
        t.iter().find(|c| c.name == name || c.id == name).cloned()
    }

    /// Whether first requests may go side by side, each on a connection of its own. On a local
    /// socket a connection costs nothing; over TCP it costs a handshake (TLS: a few round
    /// trips), which side by side they pay once together, where one after another each pays
    /// its own turn too. Over ssh each connection is an ssh process and its login: there the
    /// negotiation goes first and the list reuses its connection.
    fn cheap_connections(&self) -> bool {
        !self.spec.addr.starts_with("ssh://")
    }

    /// The client for a request sent beside the first lookup of the container the user named
    /// `name`, before its answer (see [`Engine::named`]): while no table was listed, on an
    /// engine whose first requests go side by side, and for a name the engine resolves as the
    /// table would.
    pub fn beside_first_lookup(&self, name: &str) -> Option<Docker> {
        if !self.table_is_cold() || !self.cheap_connections() || !plain_name(name) {
            return None;
        }
        self.still_down().ok()?;
        self.raw().ok()
    }

    /// The ID the engine resolved `name` to when it was inspected by that name beside the first
    /// lookup, while that container has not changed since: a request made by that name at the
    /// same time (`beside_first_lookup`) reached this container.
    pub fn named(&self, name: &str) -> Option<String> {
        let (id, gen) = self.by_name.lock().ok()?.get(name).cloned()?;
        (gen.is_some() && gen == self.generation(&id)).then_some(id)
    }

    /// Whether the direct path may serve this engine's running containers (`proc_root`): a
    /// local socket, dockerbox root, not `DOCKERBOX_DIRECT=0`.
    pub fn may_go_direct(&self) -> bool {
        self.spec.addr.starts_with("unix://")
            // SAFETY: geteuid has no preconditions and cannot fail.
            && unsafe { libc::geteuid() } == 0
            && std::env::var_os("DOCKERBOX_DIRECT").is_none_or(|v| v != "0")
    }

    /// Whether no table was listed yet.
    fn table_is_cold(&self) -> bool {
        self.table.lock().is_ok_and(|t| t.is_none())
    }

    /// Inspects a container by the name the user gave and keeps it under its ID, with the
    /// generation from before the request (see [`Engine::inspect`]).
    async fn inspect_by_name(&self, name: &str) {
        let Ok(raw) = self.raw() else { return };
        let before = self.generations_now();
        let Ok(Ok(i)) = tokio::time::timeout(self.timeout, raw.inspect_container(name, None)).await
        else {
            return;
        };
        let Some(id) = i.id.clone() else { return };
        if let Ok(mut m) = self.by_name.lock() {
            m.insert(name.to_string(), (id.clone(), before(&id)));
        }
        if let Ok(mut m) = self.inspected.lock() {
            m.insert(id.clone(), (before(&id), Arc::new(i)));
        }
    }

    /// The engine's inspect of a container, asked once per generation of it.
    pub(super) async fn inspect(&self, id: &str) -> Option<Arc<ContainerInspectResponse>> {
        let gen = self.generation(id);
        let cached = self.inspected.lock().ok().and_then(|m| m.get(id).cloned());
        if let Some((g, i)) = cached {
            if g == gen && gen.is_some() {
                return Some(i);
            }
        }
        let docker = self.client().await.ok()?;
        let i = Arc::new(docker.inspect_container(id, None).await.ok()?);
        if let Ok(mut m) = self.inspected.lock() {
            m.insert(id.to_string(), (gen, i.clone()));
        }
        Some(i)
    }

    /// The generation of a container's files: changes whenever an event says they may have.
    /// `None` while events are not followed, meaning: cache nothing.
    pub fn generation(&self, id: &str) -> Option<u64> {
        if !self.following.load(Ordering::SeqCst) {
            return None;
        }
        let map = self.container_gen.lock().ok()?;
        let epoch = self.epoch.load(Ordering::SeqCst);
        Some(map.get(id).copied().unwrap_or(0) + (epoch << 32))
    }

    /// Forgets everything cached: a host program ran (maybe `docker create`, `docker cp`), and
    /// its events may not have arrived yet when the next command runs.
    pub fn invalidate(&self) {
        self.table_gen.fetch_add(1, Ordering::SeqCst);
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Tells `sink` of every container event from now on (set once; later calls are ignored).
    pub fn on_events(&self, sink: EventSink) {
        let _ = self.sink.set(sink);
    }

    fn follow_events(&self, docker: Docker) {
        let sink = self.sink.clone();
        let pending = self.pending.clone();
        let following = self.following.clone();
        let container_gen = self.container_gen.clone();
        let mut filters = HashMap::new();
        filters.insert("type".to_string(), vec!["container".to_string()]);
        let opts = EventsOptions {
            filters: Some(filters),
            ..Default::default()
        };
        // The stream yields nothing until an event arrives: it counts as live from the moment
        // its request is made, which the spawned task's first poll does beside the caller's
        // own first request.
        following.store(true, Ordering::SeqCst);
        let task = tokio::spawn(async move {
            let mut stream = Box::pin(docker.events(Some(opts)));
            while let Some(msg) = stream.next().await {
                let Ok(msg) = msg else { break };
                let action = msg.action.unwrap_or_default();
                let (id, mut attrs) = msg
                    .actor
                    .map(|a| (a.id.unwrap_or_default(), a.attributes.unwrap_or_default()))
                    .unwrap_or_default();
                let moved = match action.as_str() {
                    a if a.starts_with("exec_") => false,
                    "archive-path" | "attach" | "top" | "resize" | "export" => false,
                    "extract-to-dir" => true,
                    _ => {
                        if let Ok(mut p) = pending.lock() {
                            p.note(&id);
                        }
                        true
                    }
                };
                if moved {
                    if let Ok(mut map) = container_gen.lock() {
                        *map.entry(id.clone()).or_insert(0) += 1;
                    }
                }
                if let Some(sink) = sink.get() {
                    sink(&ContainerEvent {
                        id,
                        name: attrs.remove("name").unwrap_or_default(),
                        old_name: attrs.remove("oldName"),
                        action,
                    });
                }
            }
            following.store(false, Ordering::SeqCst);
        });
        // One follower at a time: one left from an attempt whose negotiation failed goes.
        if let Ok(mut f) = self.follower.lock() {
            if let Some(old) = f.replace(task.abort_handle()) {
                old.abort();
            }
        }
    }
}

/// A container's overlay2 directories on this machine (see [`Engine::overlay_dirs`]).
#[derive(Debug, Clone)]
pub struct OverlayDirs {
    pub upper: String,
    /// `:`-separated, topmost first.
    pub lower: String,
    pub merged: String,
    pub pid: i64,
}

/// What starting an agent in a container needs to know, from inspecting it and its image.
#[derive(Debug, Clone)]
pub struct AgentTarget {
    /// The configured user (`""`, `"1000"`, `"1000:50"`, `"app"`, `"app:staff"`).
    pub user: String,
    /// Where an uploaded file is visible and may run, in order of preference.
    pub dirs: Vec<String>,
    /// The image it runs, for [`Engine::image_arch`].
    pub image: Option<String>,
    /// Nothing can be uploaded: the root filesystem is read-only.
    pub read_only: bool,
}

impl Engine {
    /// A running container's mount points whose files the archive API does not show as a
    /// process in the container sees them: it reads and writes the layer beneath a tmpfs
    /// (`--tmpfs`, tmpfs mounts) and beneath `/dev` (with `/dev/shm`, `/dev/pts`...), and none of
    /// the kernel's filesystems (`/proc`, `/sys`). Volumes, binds and `/etc/hostname`, `hosts`,
    /// `resolv.conf` it mounts for itself (measured on 20.10: the same files as inside), so they
    /// are not listed. Unknown (the inspect failed) is everything, `/`.
    async fn mounts(&self, id: &str) -> Arc<Vec<String>> {
        if let Some(m) = self.tmpfs.lock().ok().and_then(|m| m.get(id).cloned()) {
            return m;
        }
        let Some(c) = self.inspect(id).await else {
            return Arc::new(vec!["/".into()]);
        };
        let mut mounts: Vec<String> = c
            .host_config
            .as_ref()
            .and_then(|h| h.tmpfs.clone())
            .unwrap_or_default()
            .into_keys()
            .collect();
        mounts.extend(
            c.mounts
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter(|m| {
                    m.typ
                        .as_ref()
                        .is_some_and(|t| format!("{t:?}").eq_ignore_ascii_case("tmpfs"))
                })
                .filter_map(|m| m.destination),
        );
        mounts.extend(["/dev", "/proc", "/sys"].map(String::from));
        let mounts = Arc::new(mounts);
        if let Ok(mut m) = self.tmpfs.lock() {
            m.insert(id.to_string(), mounts.clone());
        }
        mounts
    }

    /// Whether `path` in a running container lies on one of [`Engine::mounts`]' mount points,
    /// where only a process in the container (the agent, the direct path) answers right.
    pub async fn under_mount(&self, id: &str, path: &std::path::Path) -> bool {
        self.mounts(id).await.iter().any(|m| path.starts_with(m))
    }

    /// Whether a tree at `path` lies on a mount point or holds one, so one archive stream of it
    /// would not be what a process in the container sees.
    pub async fn touches_mount(&self, id: &str, path: &std::path::Path) -> bool {
        let mounts = self.mounts(id).await;
        mounts
            .iter()
            .any(|m| path.starts_with(m) || std::path::Path::new(m).starts_with(path))
    }

    /// The direct path into a running container's files (see [`ProcRoot`]): only for an engine
    /// on this machine's unix socket, and not when `DOCKERBOX_DIRECT=0`.
    pub async fn proc_root(&self, c: &ContainerInfo) -> Option<Arc<ProcRoot>> {
        if c.state != State::Running
            || !self.spec.addr.starts_with("unix://")
            || std::env::var_os("DOCKERBOX_DIRECT").is_some_and(|v| v == "0")
        {
            return None;
        }
        let gen = self.generation(&c.id);
        let cached = self
            .proc_roots
            .lock()
            .ok()
            .and_then(|m| m.get(&c.id).cloned());
        if let Some((g, root)) = cached {
            if g == gen && gen.is_some() {
                return root.filter(|r| r.alive());
            }
        }
        let pid = self
            .inspect(&c.id)
            .await?
            .state
            .as_ref()
            .and_then(|s| s.pid)?;
        let root = ProcRoot::open(pid, &c.id).map(Arc::new);
        if let Ok(mut m) = self.proc_roots.lock() {
            m.insert(c.id.clone(), (gen, root.clone()));
        }
        root
    }

    /// A running local container's overlay2 (or fuse-overlayfs) directories as the engine
    /// names them, and its init's PID, for telling an image's unchanged files by the direct
    /// path. None for any other storage driver or engine.
    pub async fn overlay_dirs(&self, c: &ContainerInfo) -> Option<OverlayDirs> {
        if c.state != State::Running || !self.spec.addr.starts_with("unix://") {
            return None;
        }
        let i = self.inspect(&c.id).await?;
        let g = i.graph_driver.as_ref()?;
        // fuse-overlayfs keeps overlay2's layout (an upper, lower layers, a merged mount).
        if g.name != "overlay2" && g.name != "fuse-overlayfs" {
            return None;
        }
        let d = |k: &str| g.data.get(k).cloned();
        Some(OverlayDirs {
            upper: d("UpperDir")?,
            lower: d("LowerDir")?,
            merged: d("MergedDir")?,
            pid: i.state.as_ref()?.pid?,
        })
    }

    /// Inspects a container for starting an agent in it.
    pub async fn agent_target(&self, id: &str) -> Result<AgentTarget, EngineError> {
        let docker = self.client().await?;
        // The inspect the lookup already made (once per generation), else a fresh one.
        let c = match self.inspect(id).await {
            Some(c) => c,
            None => Arc::new(
                docker
                    .inspect_container(id, None)
                    .await
                    .map_err(|e| self.error(e))?,
            ),
        };
        let config = c.config.clone().unwrap_or_default();
        let host = c.host_config.clone().unwrap_or_default();
        // Mount points hide what is uploaded beneath them (and tmpfs is noexec by default).
        let mut mounts: Vec<String> = c
            .mounts
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.destination)
            .collect();
        mounts.extend(host.tmpfs.unwrap_or_default().into_keys());
        mounts.push("/dev/shm".into());
        let mut dirs = Vec::new();
        let workdir = config.working_dir.filter(|w| w.starts_with('/'));
        for d in ["/tmp", "/run", "/var/tmp"]
            .into_iter()
            .map(String::from)
            .chain(workdir)
            .chain(["/".to_string()])
        {
            if !dirs.contains(&d)
                && !mounts
                    .iter()
                    .any(|m| m.trim_end_matches('/') == d.trim_end_matches('/'))
            {
                dirs.push(d);
            }
        }
        Ok(AgentTarget {
            user: config.user.unwrap_or_default(),
            dirs,
            image: c.image.clone(),
            read_only: host.readonly_rootfs.unwrap_or(false),
        })
    }

    /// An image's architecture (`amd64`, `arm64`...), `""` when unknown.
    pub async fn image_arch(&self, image: Option<&str>) -> String {
        let (Some(img), Ok(docker)) = (image, self.client().await) else {
            return String::new();
        };
        docker
            .inspect_image(img)
            .await
            .ok()
            .and_then(|i| i.architecture)
            .unwrap_or_default()
    }
}

/// A name as Docker allows them (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`), so it is safe in a request's
/// path as it is; anything else is only ever looked up in the listed table.
fn plain_name(name: &str) -> bool {
    let mut b = name.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// `table` with the containers `asked` for replaced by what the engine answered for them
/// (`fresh`): those it did not answer for are gone. Sorted by name, as the table is.
fn merged(
    table: &[Arc<ContainerInfo>],
    asked: &HashSet<String>,
    fresh: Vec<ContainerInfo>,
) -> Vec<Arc<ContainerInfo>> {
    let mut next: Vec<Arc<ContainerInfo>> = table
        .iter()
        .filter(|c| !asked.contains(&c.id))
        .cloned()
        .collect();
    next.extend(
        fresh
            .into_iter()
            .filter(|c| asked.contains(&c.id))
            .map(Arc::new),
    );
    next.sort_by(|a, b| a.name.cmp(&b.name));
    next
}

/// A listed container as the table keeps it; `None` for /images' and /volumes' never-started
/// helpers, which are not the user's containers, and for an entry without ID or name.
fn info_of(engine: usize, c: bollard::models::ContainerSummary) -> Option<ContainerInfo> {
    if c.labels.as_ref().is_some_and(super::objects::is_view) {
        return None;
    }
    let id = c.id?;
    let name = c.names?.first()?.trim_start_matches('/').to_string();
    Some(ContainerInfo {
        engine,
        name,
        image: c.image.unwrap_or_default(),
        state: state_of(c.state),
        created: c.created.unwrap_or(0),
        id,
    })
}

fn state_of(s: Option<ContainerSummaryStateEnum>) -> State {
    use ContainerSummaryStateEnum as S;
    match s {
        Some(S::RUNNING) => State::Running,
        Some(S::PAUSED) => State::Paused,
        Some(S::RESTARTING) => State::Restarting,
        Some(S::REMOVING) | Some(S::STOPPING) => State::Removing,
        Some(S::EXITED) => State::Exited,
        Some(S::DEAD) => State::Dead,
        _ => State::Created,
    }
}

use super::connect::reason;

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: char, name: &str, state: State) -> ContainerInfo {
        ContainerInfo {
            engine: 0,
            id: id.to_string().repeat(64),
            name: name.into(),
            image: "busybox".into(),
            state,
            created: 0,
        }
    }

    #[test]
    fn only_full_ids_are_asked_for_by_themselves() {
        let mut p = Pending::default();
        p.note(&"a".repeat(64));
        p.note(&"a".repeat(64));
        assert_eq!(p.ids.len(), 1);
        assert!(!p.all);
        // A short ID, upper case, a regular expression or an empty one: the whole list.
        for odd in ["abc", &"A".repeat(64), &format!("{}.*", "a".repeat(62)), ""] {
            let mut p = Pending::default();
            p.note(odd);
            assert!(p.all && p.ids.is_empty(), "{odd:?}");
        }
    }

    #[test]
    fn a_refresh_replaces_what_it_asked_for_and_drops_what_is_gone() {
        let table: Vec<Arc<ContainerInfo>> = vec![
            Arc::new(info('a', "alpha", State::Created)),
            Arc::new(info('b', "beta", State::Running)),
            Arc::new(info('c', "gamma", State::Running)),
        ];
        let ids = |cs: &[char]| cs.iter().map(|c| c.to_string().repeat(64)).collect();
        // a renamed and started, b removed (not answered), d created; c not asked for, and an
        // answer for c (not asked for) is ignored.
        let fresh = vec![
            info('a', "zulu", State::Running),
            info('d', "delta", State::Created),
            info('c', "stale", State::Exited),
        ];
        let next = merged(&table, &ids(&['a', 'b', 'd']), fresh);
        let got: Vec<(&str, State)> = next.iter().map(|c| (c.name.as_str(), c.state)).collect();
        assert_eq!(
            got,
            [
                ("delta", State::Created),
                ("gamma", State::Running),
                ("zulu", State::Running)
            ]
        );
        // Nothing asked for: the same table.
        let same = merged(&table, &HashSet::new(), Vec::new());
        assert_eq!(same.len(), 3);
        assert!(same.iter().zip(&table).all(|(a, b)| Arc::ptr_eq(a, b)));
    }
}
