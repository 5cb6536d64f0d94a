//! The remote direct path's helper container (off by default: `DOCKERBOX_REMOTE_DIRECT=1`).
//!
//! On an engine across a network, dockerbox can run one short-lived container of its own that
//! sees the engine's other containers from the inside of that machine: made from an image
//! dockerbox imports itself (the Engine API's image create `fromSrc=-`, a tar holding only the
//! static agent, so nothing is pulled), with the host's PID namespace (`PidMode: host`), no
//! network, and the few capabilities that reach `/proc/PID/root` of the engine's containers
//! and keep their owners and modes when copying (see [`CAPS`]). An agent exec'd in it with
//! `--root PID ID` checks that PID's cgroup names the container and chroots into its root
//! (`crates/agent/src/helper.rs`), so it answers as an in-container agent would, and a copy
//! between two containers of that engine is one request (`FillFrom`, `TreeFrom`) whose bytes
//! never cross the network.
//!
//! Labelled [`REMOTE_DIRECT`] with the session's marker: removed by ID when the session ends,
//! and those of dead sessions swept when a later session makes its own on that engine.

use std::sync::Arc;

use bollard::exec::StartExecResults;

use super::agent::{AgentConn, AgentError, Placement};
use super::engine::Engine;
use super::error::EngineError;

/// The label on helper containers; its value is the session that made it.
pub const REMOTE_DIRECT: &str = "dockerbox.remote-direct";

/// The label on the helper's image; its value is the agent's build id it holds.
pub const REMOTE_DIRECT_IMAGE: &str = "dockerbox.remote-direct-image";

/// Where the agent is in the helper's image.
const AGENT_AT: &str = "/dbx-agent";

/// The capabilities the helper runs with (`CapDrop: ALL`, then these), what the agent's
/// operations need as the container's root and no more:
/// - `SYS_PTRACE`: `/proc/PID/root` of another container's process (measured on 20.10:
///   without it, EACCES for a default container, whose capabilities are not a subset of ours);
/// - `SYS_CHROOT`: the per-container agent's chroot into that root;
/// - `DAC_OVERRIDE`, `FOWNER`: read and write every file as the container's root does (its
///   files belong to its users);
/// - `CHOWN`, `FSETID`, `MKNOD`: `cp -a` keeps owners, set-id bits and device files.
pub const CAPS: [&str; 7] = [
    "SYS_PTRACE",
    "SYS_CHROOT",
    "DAC_OVERRIDE",
    "FOWNER",
    "CHOWN",
    "FSETID",
    "MKNOD",
];

/// Whether the remote direct path was asked for (`DOCKERBOX_REMOTE_DIRECT=1`).
pub fn remote_direct_wanted() -> bool {
    static WANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WANTED.get_or_init(|| std::env::var_os("DOCKERBOX_REMOTE_DIRECT").is_some_and(|v| v == "1"))
}

/// A tar holding just the agent at [`AGENT_AT`], root's, mode 0755.
fn image_tar(binary: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_size(binary.len() as u64);
    h.set_mode(0o755);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mtime(0);
    let mut b = tar::Builder::new(Vec::with_capacity(binary.len() + 2048));
    // Writing into a Vec cannot fail.
    let _ = b.append_data(&mut h, &AGENT_AT[1..], binary);
    b.into_inner().unwrap_or_default()
}

/// A started helper container.
#[derive(Debug, Clone)]
pub struct Helper {
    /// Its ID.
    pub id: String,
}

impl Engine {
    /// The helper image for this build's agent: found by its label, else imported now.
    async fn helper_agent_image(&self, binary: &[u8]) -> Result<String, EngineError> {
        let build = super::agent::BUILD_ID;
        self.labelled_image_or_import(
            format!("{REMOTE_DIRECT_IMAGE}={build}"),
            vec![
                format!("LABEL {REMOTE_DIRECT_IMAGE}={build}"),
                format!("CMD [\"{AGENT_AT}\", \"--idle\"]"),
            ],
            "dockerbox: the remote direct path's helper (the agent only)",
            "the helper image",
            || image_tar(binary),
        )
        .await
    }

    /// Makes and starts this session's helper container (sweeping those of dead sessions
    /// first). The engine's refusal (no host PID namespace under user namespaces, an
    /// authorization plugin) comes back as its own words.
    pub async fn start_helper(&self, binary: &[u8], session: &str) -> Result<Helper, EngineError> {
        // Dead sessions' helpers go while the image is looked for (a round trip less before
        // ours starts, which counts on a slow link).
        let (_, image) = tokio::join!(
            self.remove_views(REMOTE_DIRECT, None),
            self.helper_agent_image(binary)
        );
        let image = image?;
        let docker = self.client().await?;
        let body = bollard::models::ContainerCreateBody {
            image: Some(image),
            cmd: Some(vec![AGENT_AT.into(), "--idle".into()]),
            labels: Some([(REMOTE_DIRECT.to_string(), session.to_string())].into()),
            network_disabled: Some(true),
            host_config: Some(bollard::models::HostConfig {
                network_mode: Some("none".into()),
                pid_mode: Some("host".into()),
                cap_drop: Some(vec!["ALL".into()]),
                cap_add: Some(CAPS.iter().map(|c| c.to_string()).collect()),
                auto_remove: Some(true),
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
        if let Err(e) = docker
            .start_container(
                &r.id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
        {
            let _ = self.remove_view(&r.id, false).await;
            return Err(self.error(e));
        }
        Ok(Helper { id: r.id })
    }

    /// The PID of a running container's init, in the host's PID namespace (the helper's), and
    /// whether its processes run as root without a user namespace of their own: only then
    /// does the helper (root, host PID namespace) act as that container's own root would.
    pub async fn helper_target(&self, id: &str) -> Option<(u32, String)> {
        let i = self.inspect(id).await?;
        let pid = i.state.as_ref()?.pid.filter(|p| *p > 0)?;
        let user = i
            .config
            .as_ref()
            .and_then(|c| c.user.clone())
            .unwrap_or_default();
        let userns = i
            .host_config
            .as_ref()
            .and_then(|h| h.userns_mode.clone())
            .unwrap_or_default();
        let root = matches!(user.split(':').next().unwrap_or(""), "" | "0" | "root");
        (root && (userns.is_empty() || userns == "host")).then_some((pid as u32, user))
    }
}

impl AgentConn {
    /// Starts an agent in the helper container `helper` serving container `id` (init `pid`)
    /// from its root: one exec, nothing uploaded.
    pub async fn start_in_helper(
        eng: &Engine,
        helper: &Helper,
        pid: u32,
        id: &str,
        place: &Placement,
    ) -> Result<AgentConn, AgentError> {
        let docker = eng
            .client()
            .await
            .map_err(|e| AgentError::Start(e.to_string()))?;
        let opts = super::agent::piped_exec(vec![
            AGENT_AT.to_string(),
            "--root".to_string(),
            pid.to_string(),
            id.to_string(),
        ]);
        let exec = docker
            .create_exec(&helper.id, opts)
            .await
            .map_err(|e| AgentError::Start(eng.error(e).to_string()))?
            .id;
        let started = docker
            .start_exec(&exec, None)
            .await
            .map_err(|e| AgentError::Start(eng.error(e).to_string()))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(AgentError::Start("exec did not attach".into()));
        };
        let mut conn =
            AgentConn::handshake(docker, &helper.id, exec, output, input, None, place).await?;
        conn.helper = Some(Arc::from(helper.id.as_str()));
        conn.dir = "the remote direct path's helper container".into();
        Ok(conn)
    }
}
