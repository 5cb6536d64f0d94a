//! The remote direct path (`DOCKERBOX_REMOTE_DIRECT=1`, off by default): on an engine across a
//! network, running containers whose processes run as root are served by agents in one helper
//! container of dockerbox's on that engine (`host/helper.rs`), each chrooted into its
//! container's root, instead of an agent uploaded into each container; and a copy between two
//! such containers of one engine is one request to the destination's agent, which reads the
//! source through `openat2(RESOLVE_IN_ROOT)` on that machine (`FillFrom`, `TreeFrom`), so its
//! bytes never cross the network.
//!
//! Security meaning: the helper is root in the host's PID namespace with `SYS_PTRACE`,
//! `SYS_CHROOT`, `DAC_OVERRIDE`, `FOWNER`, `CHOWN`, `FSETID` and `MKNOD`; whoever controls dockerbox
//! already controls that engine (the Engine API is root on it), so it adds no power to the
//! user, but it is a privileged container for its lifetime: it runs only our agent, has no
//! network, and takes requests only on the exec streams dockerbox opened.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::OnceCell;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use dockerbox_proto::{Request, Response};

use super::stream::Temp;
use super::{FsError, VPath, Vfs};
use crate::host::{remote_direct_wanted, AgentConn, ContainerInfo, Engine, Helper};

type Cell = Arc<OnceCell<Result<Helper, String>>>;

/// This session's helper containers, one per engine address, made on first use.
#[derive(Default)]
pub struct Helpers {
    made: Mutex<HashMap<String, (Arc<Engine>, Cell)>>,
    session: OnceLock<String>,
}

impl Helpers {
    /// The helper on `eng`, made now if this session has none yet (a failure is kept: the
    /// engine's refusal is said once and not asked again).
    pub async fn get(&self, eng: &Arc<Engine>, binary: &[u8]) -> Result<Helper, String> {
        let cell = {
            let Ok(mut m) = self.made.lock() else {
                return Err("internal lock".into());
            };
            m.entry(eng.addr().to_string())
                .or_insert_with(|| (eng.clone(), Cell::default()))
                .1
                .clone()
        };
        let session = self
            .session
            .get_or_init(crate::host::session_marker)
            .clone();
        cell.get_or_init(|| async move {
            eng.start_helper(binary, &session).await.map_err(|e| {
                format!(
                    "the remote direct path's helper container could not start on {}: {e}",
                    eng.addr()
                )
            })
        })
        .await
        .clone()
    }

    /// Removes this session's helpers (before exit), by ID.
    pub async fn remove_all(&self) {
        let made: Vec<(Arc<Engine>, Cell)> = self
            .made
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        let removals = made.iter().filter_map(|(eng, cell)| {
            let helper = cell.get()?.as_ref().ok()?;
            Some(eng.remove_view(&helper.id, false))
        });
        futures_util::future::join_all(removals).await;
    }
}

/// Whether the remote direct path is asked for and `eng` is across a network (locally the
/// direct path does this without a helper).
pub fn applies(eng: &Engine) -> bool {
    remote_direct_wanted() && !eng.addr().starts_with("unix://")
}

/// A copy the destination's helper agent can make itself: the source container's init and ID
/// and the source path inside it.
pub struct Pair {
    pub conn: Arc<AgentConn>,
    pub pid: u32,
    pub id: String,
    pub path: Vec<u8>,
}

impl Vfs {
    /// When `src` and `dst` are in running containers of one engine that the remote direct
    /// path serves, the destination's helper agent (started if need be) and the source.
    pub(super) async fn helper_pair(&self, src: &VPath, dst: &VPath) -> Option<Pair> {
        if !remote_direct_wanted() {
            return None;
        }
        let (
            VPath::Container {
                host: h1,
                name: n1,
                path: p1,
            },
            VPath::Container {
                host: h2, name: n2, ..
            },
        ) = (src, dst)
        else {
            return None;
        };
        let (c1, c2) = (
            self.container(h1.as_deref(), n1).await.ok()?,
            self.container(h2.as_deref(), n2).await.ok()?,
        );
        let eng = self.eng(&c1);
        if c1.engine != c2.engine || !applies(eng) {
            return None;
        }
        let running = crate::host::State::Running;
        if c1.state != running || c2.state != running {
            return None;
        }
        // The source's inspect and the destination's agent (the helper's start, on first use)
        // at once: each is round trips to the engine.
        let (target, via) = tokio::join!(eng.helper_target(&c1.id), self.via_with(&c2, true));
        let (pid, _) = target?;
        let super::agent::Via::Agent(conn) = via else {
            return None;
        };
        conn.helper.as_ref()?;
        let how = format!(
            "{}: copied from {} on the engine's machine by the remote direct path",
            p1.display(),
            c1.name
        );
        self.notes.note(&c2, &how);
        Some(Pair {
            conn,
            pid,
            id: c1.id.clone(),
            path: p1.as_os_str().as_bytes().to_vec(),
        })
    }
}

fn bytes(p: &Path) -> Vec<u8> {
    p.as_os_str().as_bytes().to_vec()
}

impl Vfs {
    /// A new tree copied between two containers of one engine by the destination's helper
    /// agent (`TreeFrom`): made under a temporary name beside `dest` (journaled, so a killed
    /// session's is removed later) and landed with `RENAME_NOREPLACE`, or removed on failure.
    pub(super) async fn tree_by_helper(
        &self,
        c2: &ContainerInfo,
        p: Pair,
        parent: &Path,
        name: &OsStr,
        dest: &Path,
    ) -> Result<u64, FsError> {
        let tmp_path = parent.join(super::stream::temp_name(name));
        let temp = Temp::new(&c2.id, tmp_path.clone(), true);
        let how = format!(
            "{}: tree copied on the engine's machine by the remote direct path",
            dest.display()
        );
        self.notes.note(c2, &how);
        let req = Request::TreeFrom {
            pid: p.pid,
            container: p.id.into_bytes(),
            path: p.path,
            dest: bytes(&tmp_path),
        };
        let landed = match p.conn.call(req).await {
            Ok(Response::Filled { bytes: n }) => {
                let land = Request::Land {
                    from: bytes(&tmp_path),
                    to: bytes(dest),
                };
                match p.conn.call(land).await {
                    Ok(Response::Ok) => Ok(n),
                    Ok(other) => Err(FsError::Engine(format!("agent: unexpected {other:?}"))),
                    Err(e) => Err(super::agent::fs_error(e)),
                }
            }
            Ok(other) => Err(FsError::Engine(format!("agent: unexpected {other:?}"))),
            Err(e) => Err(super::agent::fs_error(e)),
        };
        if landed.is_ok() {
            temp.done();
            return landed;
        }
        let removed = p
            .conn
            .call(Request::RemoveTemp {
                path: bytes(&tmp_path),
            })
            .await;
        match removed {
            Ok(_) | Err(crate::host::AgentError::Errno(libc::ENOENT)) => temp.done(),
            Err(_) => temp.orphan(),
        }
        landed
    }
}
