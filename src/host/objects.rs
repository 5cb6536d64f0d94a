//! The engine's objects beyond a container's files: what `docker inspect`, `docker logs` and
//! `docker diff` say about a container, and its lifecycle verbs (start, stop, kill...), for the
//! `/meta` tree. Typed data out (bollard's models); the vfs renders it.

use bollard::models::{ContainerInspectResponse, FilesystemChange};
use bollard::query_parameters::{
    KillContainerOptions, LogsOptions, RestartContainerOptions, StopContainerOptions,
};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use super::engine::Engine;
use super::error::EngineError;

/// A lifecycle verb written to a container's `ctl` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    Start,
    Stop,
    Restart,
    Pause,
    Unpause,
    /// `kill [SIGNAL]`; `None` is the engine's default (SIGKILL).
    Kill(Option<String>),
}

impl Engine {
    /// `docker inspect` of one container (by name or ID), asked now (not the cached one).
    pub async fn inspect_now(&self, id: &str) -> Result<ContainerInspectResponse, EngineError> {
        let docker = self.client().await?;
        docker
            .inspect_container(id, None)
            .await
            .map_err(|e| self.container_error(e))
    }

    /// `docker diff`: what changed in the container's filesystem.
    pub async fn changes(&self, id: &str) -> Result<Vec<FilesystemChange>, EngineError> {
        let docker = self.client().await?;
        Ok(docker
            .container_changes(id)
            .await
            .map_err(|e| self.container_error(e))?
            .unwrap_or_default())
    }

    /// `docker logs` (stdout and stderr, as the engine interleaves them), as a stream of
    /// chunks that ends with what is there now.
    pub async fn logs(
        &self,
        id: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, EngineError>>, EngineError> {
        let docker = self.client().await?.clone();
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            follow: false,
            ..Default::default()
        };
        let id = id.to_string();
        let addr = self.addr().to_string();
        let stream = async_stream(docker, id, opts, addr);
        Ok(stream)
    }

    /// `docker image inspect`, as JSON (for `/meta/images`).
    pub async fn image_doc(&self, id: &str) -> Result<serde_json::Value, EngineError> {
        let docker = self.client().await?;
        let doc = docker.inspect_image(id).await.map_err(|e| self.error(e))?;
        serde_json::to_value(doc).map_err(|e| EngineError::Other(e.to_string()))
    }

    /// `docker volume inspect`, as JSON (for `/meta/volumes`).
    pub async fn volume_doc(&self, name: &str) -> Result<serde_json::Value, EngineError> {
        let docker = self.client().await?;
        let doc = docker
            .inspect_volume(name)
            .await
            .map_err(|e| self.error(e))?;
        serde_json::to_value(doc).map_err(|e| EngineError::Other(e.to_string()))
    }

    /// `docker top`: the column titles and one row per process.
    pub async fn top(&self, id: &str) -> Result<(Vec<String>, Vec<Vec<String>>), EngineError> {
        let docker = self.client().await?;
        let t = docker
            .top_processes(id, None::<bollard::query_parameters::TopOptions>)
            .await
            .map_err(|e| self.container_error(e))?;
        Ok((
            t.titles.unwrap_or_default(),
            t.processes.unwrap_or_default(),
        ))
    }

    /// One sample of `docker stats` (`one-shot`: no second sample waited for), as JSON.
    pub async fn stats_once(&self, id: &str) -> Result<serde_json::Value, EngineError> {
        let docker = self.client().await?;
        let opts = bollard::query_parameters::StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut s = docker.stats(id, Some(opts));
        match s.next().await {
            Some(r) => {
                let v = r.map_err(|e| self.container_error(e))?;
                serde_json::to_value(v).map_err(|e| EngineError::Other(e.to_string()))
            }
            None => Err(EngineError::Other("the engine sent no stats".into())),
        }
    }

    /// Does `verb` to a container. "Already so" (304: start a running one, stop a stopped
    /// one) counts as done, as the docker CLI counts it.
    pub async fn control(&self, id: &str, verb: &Verb) -> Result<(), EngineError> {
        let docker = self.client().await?;
        let r = match verb {
            Verb::Start => docker.start_container(id, None).await,
            Verb::Stop => {
                docker
                    .stop_container(id, None::<StopContainerOptions>)
                    .await
            }
            Verb::Restart => {
                docker
                    .restart_container(id, None::<RestartContainerOptions>)
                    .await
            }
            Verb::Pause => docker.pause_container(id).await,
            Verb::Unpause => docker.unpause_container(id).await,
            Verb::Kill(signal) => {
                let opts = signal
                    .as_ref()
                    .map(|s| KillContainerOptions { signal: s.clone() });
                docker.kill_container(id, opts).await
            }
        };
        match r {
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            r => r.map_err(|e| self.container_error(e)),
        }
    }

    /// A 404 on a container's own endpoint means the container is gone.
    fn container_error(&self, e: bollard::errors::Error) -> EngineError {
        match self.error(e) {
            EngineError::NotFound => EngineError::NoSuchContainer,
            e => e,
        }
    }
}

/// The log stream, owning its client so it outlives the call that opened it.
fn async_stream(
    docker: bollard::Docker,
    id: String,
    opts: LogsOptions,
    addr: String,
) -> BoxStream<'static, Result<Bytes, EngineError>> {
    let unreachable = move |e: bollard::errors::Error| match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        } => EngineError::NoSuchContainer,
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => EngineError::Server {
            status: status_code,
            message,
        },
        e => EngineError::Other(format!("{addr}: {e}")),
    };
    futures_util::stream::once(async move {
        docker
            .logs(&id, Some(opts))
            .map(move |r| r.map(bytes_of).map_err(&unreachable))
    })
    .flatten()
    .boxed()
}

pub(super) fn bytes_of(o: bollard::container::LogOutput) -> Bytes {
    use bollard::container::LogOutput as L;
    match o {
        L::StdErr { message }
        | L::StdOut { message }
        | L::StdIn { message }
        | L::Console { message } => message,
    }
}

/// The label on the never-started containers that show an image's files (`/images`); its value
/// is the session that made it (see [`session_alive`]).
pub const IMAGE_VIEW: &str = "dockerbox.image-view";

/// An image as `/images` lists it.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub id: String,
    /// Its references (`repo:tag`), none for an untagged image.
    pub tags: Vec<String>,
    pub size: u64,
    /// Seconds since the epoch.
    pub created: i64,
}

impl Engine {
    /// The engine's images, as `docker images` lists them (no intermediate layers).
    pub async fn images(&self) -> Result<Vec<ImageInfo>, EngineError> {
        let docker = self.client().await?;
        let list = docker
            .list_images(None::<bollard::query_parameters::ListImagesOptions>)
            .await
            .map_err(|e| self.error(e))?;
        Ok(list
            .into_iter()
            // The empty image /volumes' views are made from is not the user's.
            .filter(|i| {
                !i.labels.contains_key(HELPER_IMAGE)
                    && !i.labels.contains_key(super::helper::REMOTE_DIRECT_IMAGE)
            })
            .map(|i| ImageInfo {
                tags: i
                    .repo_tags
                    .into_iter()
                    .filter(|t| t != "<none>:<none>")
                    .collect(),
                id: i.id,
                size: u64::try_from(i.size).unwrap_or(0),
                created: i.created,
            })
            .collect())
    }

    /// Creates (never starts) a container from `image` whose files the archive API reads:
    /// labelled [`IMAGE_VIEW`] with `session`, no network, a command that is never run (an
    /// imported image may have none). Returns its ID.
    pub async fn create_image_view(
        &self,
        image: &str,
        session: &str,
    ) -> Result<String, EngineError> {
        let docker = self.client().await?;
        let body = bollard::models::ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["/.dockerbox-image-view-never-runs".into()]),
            labels: Some([(IMAGE_VIEW.to_string(), session.to_string())].into()),
            network_disabled: Some(true),
            host_config: Some(bollard::models::HostConfig {
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = docker
            .create_container(
                None::<bollard::query_parameters::CreateContainerOptions>,
                body,
            )
            .await
            .map_err(|e| self.error(e))?;
        Ok(r.id)
    }

    /// Removes one of this session's views by its ID (`volumes`: an image view's anonymous
    /// volumes go with it; a volume view's volume is the user's and stays).
    pub async fn remove_view(&self, id: &str, volumes: bool) -> Result<(), EngineError> {
        let docker = self.client().await?;
        let opts = bollard::query_parameters::RemoveContainerOptions {
            force: true,
            v: volumes,
            ..Default::default()
        };
        docker
            .remove_container(id, Some(opts))
            .await
            .map_err(|e| self.error(e))
    }

    /// Removes the views labelled `label` ([`IMAGE_VIEW`], [`VOLUME_VIEW`]) whose session is
    /// gone, and this session's (`mine`) too.
    pub async fn remove_views(&self, label: &str, mine: Option<&str>) -> Result<(), EngineError> {
        let docker = self.client().await?;
        let list = self.list_where("label", label).await?;
        for c in list {
            let session = c
                .labels
                .as_ref()
                .and_then(|l| l.get(label))
                .cloned()
                .unwrap_or_default();
            let remove = mine.is_some_and(|m| session == m) || !session_alive(&session);
            if let (true, Some(id)) = (remove, c.id) {
                let opts = bollard::query_parameters::RemoveContainerOptions {
                    force: true,
                    // An image view's anonymous volumes (its image's VOLUMEs) go with it; a
                    // volume view's volume is the user's and stays.
                    v: label == IMAGE_VIEW,
                    ..Default::default()
                };
                let _ = docker.remove_container(&id, Some(opts)).await;
            }
        }
        Ok(())
    }
}

/// The label on the never-started containers that show a volume's files (`/volumes`); its
/// value is the session that made it, as for [`IMAGE_VIEW`].
pub const VOLUME_VIEW: &str = "dockerbox.volume-view";

/// The label on the empty image the volume views are created from (imported, never pulled).
pub const HELPER_IMAGE: &str = "dockerbox.helper";

/// Where a volume view mounts its volume.
pub const VOLUME_AT: &str = "/volume";

/// Whether a container is one of dockerbox's own never-started views (not the user's).
pub fn is_view(labels: &std::collections::HashMap<String, String>) -> bool {
    labels.contains_key(IMAGE_VIEW)
        || labels.contains_key(VOLUME_VIEW)
        || labels.contains_key(super::helper::REMOTE_DIRECT)
}

/// A volume as `/volumes` lists it.
#[derive(Debug, Clone)]
pub struct VolumeInfo {
    pub name: String,
    pub driver: String,
    /// Where the engine keeps it, as the engine sees its own filesystem.
    pub mountpoint: String,
    /// When it was made, as the engine words it (RFC 3339).
    pub created: Option<String>,
    /// A plain directory of the `local` driver (no options: not an NFS or tmpfs mount made
    /// only while a container uses it), which the direct path may open itself.
    pub plain_dir: bool,
}

impl VolumeInfo {
    fn of(v: bollard::models::Volume) -> VolumeInfo {
        VolumeInfo {
            plain_dir: v.driver == "local" && v.options.is_empty(),
            created: v.created_at,
            name: v.name,
            driver: v.driver,
            mountpoint: v.mountpoint,
        }
    }
}

impl Engine {
    /// The engine's volumes, as `docker volume ls` lists them.
    pub async fn volumes(&self) -> Result<Vec<VolumeInfo>, EngineError> {
        let docker = self.client().await?;
        let list = docker
            .list_volumes(None::<bollard::query_parameters::ListVolumesOptions>)
            .await
            .map_err(|e| self.error(e))?;
        let mut v: Vec<VolumeInfo> = list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(VolumeInfo::of)
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    /// One volume, asked now (`docker volume inspect`); a missing one is `NotFound`.
    pub async fn volume(&self, name: &str) -> Result<VolumeInfo, EngineError> {
        let docker = self.client().await?;
        let v = docker
            .inspect_volume(name)
            .await
            .map_err(|e| self.error(e))?;
        Ok(VolumeInfo::of(v))
    }

    /// The PID of the engine's process, from the credentials of its unix socket's peer
    /// (`SO_PEERCRED`); `None` for an engine not on a unix socket, or one not run by root.
    pub fn engine_pid(&self) -> Option<i64> {
        use std::os::fd::AsRawFd;
        let path = self.addr().strip_prefix("unix://")?;
        let sock = std::os::unix::net::UnixStream::connect(path).ok()?;
        // SAFETY: a zeroed `ucred` is a valid value for the kernel to fill in.
        let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: a descriptor we own, and `cred` of the length passed.
        let r = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        (r == 0 && cred.uid == 0 && cred.pid > 0).then_some(i64::from(cred.pid))
    }

    /// The empty image volume views are made from: one carrying [`HELPER_IMAGE`] if the engine
    /// has it, else imported now from an empty tar (nothing is pulled). Returns its ID.
    async fn helper_image(&self) -> Result<String, EngineError> {
        self.labelled_image_or_import(
            HELPER_IMAGE.to_string(),
            vec![format!("LABEL {HELPER_IMAGE}=volume-view")],
            "dockerbox: the empty image /volumes' views are made from",
            "the empty helper image",
            // An empty tar: two zero blocks, padded to a record.
            || vec![0u8; 10240],
        )
        .await
    }

    /// The ID of an image carrying `label` (`KEY` or `KEY=VALUE`, as the engine's filter takes
    /// it), else of one imported now from the tar `tar` makes, with `changes` (so nothing is
    /// pulled). `what` names it in the error when the import gives no ID.
    pub(super) async fn labelled_image_or_import(
        &self,
        label: String,
        changes: Vec<String>,
        message: &str,
        what: &str,
        tar: impl FnOnce() -> Vec<u8>,
    ) -> Result<String, EngineError> {
        let docker = self.client().await?;
        let mut filters = std::collections::HashMap::new();
        filters.insert("label".to_string(), vec![label]);
        let opts = bollard::query_parameters::ListImagesOptions {
            filters: Some(filters),
            ..Default::default()
        };
        let found = docker
            .list_images(Some(opts))
            .await
            .map_err(|e| self.error(e))?;
        if let Some(i) = found.into_iter().next() {
            return Ok(i.id);
        }
        let opts = bollard::query_parameters::CreateImageOptions {
            from_src: Some("-".into()),
            changes,
            message: Some(message.into()),
            ..Default::default()
        };
        let body = bollard::body_full(Bytes::from(tar()));
        let mut progress = docker.create_image(Some(opts), Some(body), None);
        let mut id = None;
        while let Some(msg) = progress.next().await {
            let msg = msg.map_err(|e| self.error(e))?;
            if let Some(s) = msg.status.filter(|s| s.starts_with("sha256:")) {
                id = Some(s);
            }
        }
        id.ok_or_else(|| EngineError::Other(format!("importing {what} gave no ID")))
    }

    /// Creates (never starts) a container from the empty helper image that mounts `volume` at
    /// [`VOLUME_AT`], labelled [`VOLUME_VIEW`] with `session`, with no network. Returns its ID.
    pub async fn create_volume_view(
        &self,
        volume: &str,
        session: &str,
    ) -> Result<String, EngineError> {
        let mut tried_again = false;
        loop {
            let image = self.helper_image().await?;
            let docker = self.client().await?;
            let body = bollard::models::ContainerCreateBody {
                image: Some(image),
                cmd: Some(vec!["/.dockerbox-volume-view-never-runs".into()]),
                labels: Some([(VOLUME_VIEW.to_string(), session.to_string())].into()),
                network_disabled: Some(true),
                host_config: Some(bollard::models::HostConfig {
                    network_mode: Some("none".into()),
                    mounts: Some(vec![bollard::models::Mount {
                        target: Some(VOLUME_AT.into()),
                        source: Some(volume.into()),
                        typ: Some(bollard::models::MountType::VOLUME),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let r = docker
                .create_container(
                    None::<bollard::query_parameters::CreateContainerOptions>,
                    body,
                )
                .await;
            match r {
                Ok(r) => return Ok(r.id),
                // Another session removed the helper image between our list and our create.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) if !tried_again => tried_again = true,
                Err(e) => return Err(self.error(e)),
            }
        }
    }

    /// Removes the helper images no container uses any more (one in use by another session's
    /// view stays: the engine refuses, and nothing is forced).
    pub async fn remove_helper_images(&self) {
        let Ok(docker) = self.client().await else {
            return;
        };
        let mut filters = std::collections::HashMap::new();
        filters.insert("label".to_string(), vec![HELPER_IMAGE.to_string()]);
        let opts = bollard::query_parameters::ListImagesOptions {
            filters: Some(filters),
            ..Default::default()
        };
        let Ok(found) = docker.list_images(Some(opts)).await else {
            return;
        };
        for i in found {
            let _ = docker
                .remove_image(
                    &i.id,
                    None::<bollard::query_parameters::RemoveImageOptions>,
                    None,
                )
                .await;
        }
    }
}

/// A container as `/apps` groups it: its name, state and labels.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub name: String,
    pub running: bool,
    /// Seconds since the epoch.
    pub created: i64,
    pub labels: std::collections::HashMap<String, String>,
}

impl Engine {
    /// Every container (running or not) carrying the label `key`, with its labels.
    pub async fn labelled(&self, key: &str) -> Result<Vec<Labelled>, EngineError> {
        let list = self.list_where("label", key).await?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let labels = c.labels.unwrap_or_default();
                if is_view(&labels) {
                    return None;
                }
                Some(Labelled {
                    name: c.names?.first()?.trim_start_matches('/').to_string(),
                    running: c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING),
                    created: c.created.unwrap_or(0),
                    labels,
                })
            })
            .collect())
    }

    /// Every container (running or not) whose mounts name the volume `volume`, by ID, and
    /// whether it runs (`docker ps -a --filter volume=NAME`): the volume driver's self-mount
    /// check. The engine answers it from its own view, without the container locks a start
    /// holds.
    pub async fn volume_users(&self, volume: &str) -> Result<Vec<(String, bool)>, EngineError> {
        let list = self.list_where("volume", volume).await?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let running = c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING);
                c.id.map(|id| (id, running))
            })
            .collect())
    }

    /// Every container (running or not) that the list filter `filter=value` passes.
    async fn list_where(
        &self,
        filter: &str,
        value: &str,
    ) -> Result<Vec<bollard::models::ContainerSummary>, EngineError> {
        let docker = self.client().await?;
        let mut filters = std::collections::HashMap::new();
        filters.insert(filter.to_string(), vec![value.to_string()]);
        let opts = bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| self.error(e))
    }
}

/// This process's session marker: `HOST:PID:START` (the PID's start time, so a recycled PID
/// is not taken for it).
pub fn session_marker() -> String {
    let pid = std::process::id();
    format!(
        "{}:{pid}:{}",
        hostname(),
        start_time(pid).unwrap_or_default()
    )
}

/// Whether the session that wrote `marker` still runs. A marker from another machine counts as
/// alive (its owner sweeps it); one that cannot be read counts as dead.
pub fn session_alive(marker: &str) -> bool {
    let mut parts = marker.splitn(3, ':');
    let (Some(host), Some(pid), Some(start)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if host != hostname() {
        return true;
    }
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    start_time(pid).is_some_and(|s| s == start)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// A process's start time (field 22 of /proc/PID/stat), after the parenthesised name.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19).map(str::to_string)
}

/// The label a swarm stack's services (and their tasks' containers) carry: the stack's name.
pub const STACK: &str = "com.docker.stack.namespace";

/// One running task of a stack's service, as a swarm manager knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmTask {
    pub id: String,
    /// The service's full name (`STACK_SERVICE`).
    pub service: String,
    pub stack: String,
    /// Its replica number (`None` for a global service's task: one per node).
    pub slot: Option<u64>,
    /// The node that runs it.
    pub node: String,
    pub running: bool,
    /// When it was made, as the engine words it (RFC 3339).
    pub created: String,
}

impl SwarmTask {
    /// Its container's name on its node: `SERVICE.SLOT.ID` (a global task: `SERVICE.NODE.ID`).
    pub fn container(&self) -> String {
        match self.slot {
            Some(n) => format!("{}.{n}.{}", self.service, self.id),
            None => format!("{}.{}.{}", self.service, self.node, self.id),
        }
    }
}

/// A swarm node: what names it in an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmNode {
    pub id: String,
    pub hostname: String,
    pub addr: String,
}

impl Engine {
    /// This engine's swarm node ID and whether it manages the swarm (`None`: not in one).
    pub async fn swarm_node(&self) -> Result<Option<(String, bool)>, EngineError> {
        let docker = self.client().await?;
        let info = docker.info().await.map_err(|e| self.error(e))?;
        let Some(sw) = info.swarm else {
            return Ok(None);
        };
        Ok(sw
            .node_id
            .filter(|id| !id.is_empty())
            .map(|id| (id, sw.control_available.unwrap_or(false))))
    }

    /// A manager's view of the stacks: the tasks meant to run of every service labelled
    /// [`STACK`], and the swarm's nodes (to name a node dockerbox does not reach).
    pub async fn swarm_tasks(&self) -> Result<(Vec<SwarmTask>, Vec<SwarmNode>), EngineError> {
        let docker = self.client().await?;
        let filters = |k: &str, v: &str| Some([(k.to_string(), vec![v.to_string()])].into());
        let services = docker
            .list_services(Some(bollard::query_parameters::ListServicesOptions {
                filters: filters("label", STACK),
                ..Default::default()
            }))
            .await
            .map_err(|e| self.error(e))?;
        let mut names = std::collections::HashMap::new();
        for s in services {
            let (Some(id), Some(spec)) = (s.id, s.spec) else {
                continue;
            };
            let stack = spec.labels.as_ref().and_then(|l| l.get(STACK)).cloned();
            if let (Some(name), Some(stack)) = (spec.name, stack) {
                names.insert(id, (name, stack));
            }
        }
        let tasks = docker
            .list_tasks(Some(bollard::query_parameters::ListTasksOptions {
                filters: filters("desired-state", "running"),
            }))
            .await
            .map_err(|e| self.error(e))?;
        let tasks = tasks
            .into_iter()
            .filter_map(|t| {
                let (service, stack) = names.get(t.service_id.as_deref()?)?.clone();
                let state = t.status.as_ref().and_then(|s| s.state);
                Some(SwarmTask {
                    id: t.id?,
                    service,
                    stack,
                    slot: t
                        .slot
                        .and_then(|s| u64::try_from(s).ok())
                        .filter(|&s| s > 0),
                    node: t.node_id.filter(|n| !n.is_empty())?,
                    running: state == Some(bollard::models::TaskState::RUNNING),
                    created: t.created_at.unwrap_or_default(),
                })
            })
            .collect();
        let nodes = docker
            .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
            .await
            .map_err(|e| self.error(e))?
            .into_iter()
            .filter_map(|n| {
                Some(SwarmNode {
                    id: n.id?,
                    hostname: n.description.and_then(|d| d.hostname).unwrap_or_default(),
                    addr: n.status.and_then(|s| s.addr).unwrap_or_default(),
                })
            })
            .collect();
        Ok((tasks, nodes))
    }
}
