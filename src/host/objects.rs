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

fn bytes_of(o: bollard::container::LogOutput) -> Bytes {
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

    /// Removes image views whose session is gone, and this session's (`mine`) too.
    pub async fn remove_image_views(&self, mine: Option<&str>) -> Result<(), EngineError> {
        let docker = self.client().await?;
        let mut filters = std::collections::HashMap::new();
        filters.insert("label".to_string(), vec![IMAGE_VIEW.to_string()]);
        let opts = bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let list = docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| self.error(e))?;
        for c in list {
            let session = c
                .labels
                .as_ref()
                .and_then(|l| l.get(IMAGE_VIEW))
                .cloned()
                .unwrap_or_default();
            let remove = mine.is_some_and(|m| session == m) || !session_alive(&session);
            if let (true, Some(id)) = (remove, c.id) {
                let opts = bollard::query_parameters::RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                };
                let _ = docker.remove_container(&id, Some(opts)).await;
            }
        }
        Ok(())
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
