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
