//! The in-container agent's lifecycle: pick a place, upload, start with exec, check the banner
//! and handshake, then multiplex requests over the exec's stdin/stdout.
//!
//! The agent binary is built by `build.rs` and embedded here. A connection is one exec; when it
//! ends (the container stopped, someone killed the agent) every pending request fails at once
//! with the reason (`the container stopped`), also a write blocked on a full pipe, and the
//! owner starts a new agent on the next request.
//!
//! Replies are untrusted: a root process in the container can replace the agent. Each one goes
//! through `dockerbox_proto`'s validator (the fuzzed one) before any request sees it, a `Read`
//! may not send more chunks than its credit allows, and the first invalid reply ends the
//! connection with `invalid reply from the agent in CONTAINER`.
//!
//! Nothing waits forever on an agent: a stream with no progress for [`stall_limit`] probes the
//! agent, and one that does not answer either fails naming the container and engine.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::ContainerStateStatusEnum;
use bollard::query_parameters::UploadToContainerOptions;
use bollard::Docker;
use bytes::Bytes;
use dockerbox_proto::{
    check_id, check_reply, decode_frame, encode_request, DirEntry, Expect, Replies, Request,
    Response, MAGIC, READ_WINDOW, VERSION,
};
use futures_util::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

/// The agent for x86_64 containers, built by build.rs.
static AGENT_X86_64: &[u8] = include_bytes!(env!("DOCKERBOX_AGENT_X86_64"));
/// The same gzipped (half the bytes), for engines across a network: made on a thread of its
/// own at startup ([`gzip_agent_for`]), used by a start only if it is ready by then.
static AGENT_X86_64_GZ: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
/// Its build id; the handshake must report exactly this.
pub const BUILD_ID: &str = env!("DOCKERBOX_AGENT_BUILD_ID");

/// How long a started agent has to show its banner.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// The most entries one listing may bring: a replaced agent could send `Entries` frames that
/// never end, and each is kept until the last. A million names is more than any directory a
/// command can use; more is refused as an invalid reply.
const MAX_LISTING: usize = 1 << 20;

/// The most bytes of names and link targets one listing may bring (see [`MAX_LISTING`]).
const MAX_LISTING_BYTES: usize = 256 << 20;

/// Why the agent could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// It could not be started anywhere; the reason of the last attempt.
    #[error("cannot start the agent: {0}")]
    Start(String),
    /// The agent went away (container stopped or restarted, agent killed).
    #[error("the agent went away")]
    Gone,
    /// The connection ended during a request; why, as a user reads it (`the container stopped`).
    #[error("{0}")]
    Lost(String),
    /// The agent sent something no honest agent sends.
    #[error("invalid reply from the agent in {container}: {why}")]
    Invalid { container: String, why: String },
    /// Neither the stream nor the agent moved for the stall limit.
    #[error("no progress for {secs} s from the agent in {container} on {engine}")]
    Stalled {
        container: String,
        engine: String,
        secs: u64,
    },
    /// The agent answered something that does not decode.
    #[error("agent protocol error: {0}")]
    Proto(String),
    /// The operation failed inside the container with this errno.
    #[error("errno {0}")]
    Errno(i32),
}

impl AgentError {
    /// Whether the connection itself ended (so the agent can no longer clean up after this
    /// request), as opposed to an operation failing inside the container.
    pub fn connection_ended(&self) -> bool {
        matches!(
            self,
            AgentError::Gone
                | AgentError::Lost(_)
                | AgentError::Invalid { .. }
                | AgentError::Stalled { .. }
        )
    }
}

/// Where and as whom to start an agent.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Where to put the file, in order of preference: a directory and the absolute path of the
    /// file in it (named by the caller, who journals them before any is made).
    pub files: Vec<(String, String)>,
    /// Owner for the uploaded file: the container's configured user, so it may run it.
    pub uid: u32,
    pub gid: u32,
    /// The container's name and its engine's, for messages.
    pub container: String,
    pub engine: String,
    /// The root filesystem is read-only, so the archive API cannot upload: the file is written
    /// by the container's own shell through exec, into a writable mount that allows exec
    /// (`/dev`, a tmpfs the runtime mounts without `noexec`), where the archive API cannot.
    pub by_exec: bool,
}

/// An exec of `cmd` with stdin, stdout and stderr attached and no TTY: how every agent (and
/// the shell that lands one) is run, its protocol on the pipes.
pub(super) fn piped_exec(cmd: Vec<String>) -> CreateExecOptions<String> {
    CreateExecOptions {
        cmd: Some(cmd),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        ..Default::default()
    }
}

/// Writes the agent to `path` through the container's own `sh` (exec with stdin): for a
/// read-only root filesystem, whose writable mounts the archive API cannot reach. The file is
/// made with mode 0700 before a byte is written and removed again if the write fails; a
/// failure says what the shell said.
async fn upload_by_exec(
    docker: &Docker,
    container: &str,
    path: &str,
    binary: &[u8],
) -> Result<(), String> {
    let script =
        "umask 077 && set -C && { cat > \"$0\" && chmod 700 \"$0\" || { rm -f \"$0\"; exit 1; }; }";
    let opts = piped_exec(["/bin/sh", "-c", script, path].map(String::from).to_vec());
    let exec = docker
        .create_exec(container, opts)
        .await
        .map_err(|e| short(&e))?;
    let started = docker
        .start_exec(&exec.id, None)
        .await
        .map_err(|e| short(&e))?;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = started
    else {
        return Err("exec did not attach".into());
    };
    let mut said = Vec::new();
    let work = async {
        let write = async {
            input.write_all(binary).await?;
            input.shutdown().await
        };
        let read = async {
            while let Some(Ok(m)) = output.next().await {
                if said.len() < 4096 {
                    said.extend_from_slice(&m.into_bytes());
                }
            }
        };
        let (w, ()) = tokio::join!(write, read);
        w
    };
    let wrote = match tokio::time::timeout(stall_limit(), work).await {
        Err(_) => return Err("no answer".into()),
        Ok(w) => w,
    };
    let code = docker
        .inspect_exec(&exec.id)
        .await
        .map_err(|e| short(&e))?
        .exit_code;
    // A shell that is not there fails the exec, and the runtime's words arrive as output.
    let text = String::from_utf8_lossy(&said);
    match (code, wrote, text.lines().next()) {
        (Some(0), Ok(()), _) => Ok(()),
        (_, _, Some(line)) if !line.trim().is_empty() => Err(line.trim().to_string()),
        (_, Err(e), _) => Err(super::connect::strip_os_error(e.to_string())),
        _ => Err("the container's shell could not write it".into()),
    }
}

/// Whether an agent's banner starts `buf`.
fn buf_starts_with_magic(buf: &[u8]) -> bool {
    buf.len() >= MAGIC.len() && &buf[..MAGIC.len()] == MAGIC
}

/// `binary` gzipped, if it is the embedded agent and its gzipped copy is ready.
fn gzipped(binary: &[u8]) -> Option<&'static [u8]> {
    if !std::ptr::eq(binary, AGENT_X86_64) {
        return None;
    }
    AGENT_X86_64_GZ.get().map(Vec::as_slice)
}

/// Starts gzipping the agent (once, on a thread of its own) if it may go to an engine at any
/// of `engines` gzipped: at startup, so that across a slow link it is ready before the first
/// exec is (a few round trips in); on a fast one it may not be, and then goes as it is.
pub fn gzip_agent_for<'a>(mut engines: impl Iterator<Item = &'a str>) {
    static STARTED: std::sync::Once = std::sync::Once::new();
    if !engines.any(send_gzipped) {
        return;
    }
    STARTED.call_once(|| {
        std::thread::spawn(|| {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(AGENT_X86_64.len() / 2),
                flate2::Compression::fast(),
            );
            if std::io::Write::write_all(&mut enc, AGENT_X86_64).is_ok() {
                if let Ok(gz) = enc.finish() {
                    let _ = AGENT_X86_64_GZ.set(gz);
                }
            }
        });
    });
}

/// Whether the agent goes gzipped to an engine at `engine`: across a network, where its bytes
/// cost more than the container's `gzip -d` (about 120 ms for the agent at 100 Mbit/s, against
/// 60 ms packed). `DOCKERBOX_PACK=1` sends it packed everywhere, `0` nowhere.
fn send_gzipped(engine: &str) -> bool {
    match std::env::var("DOCKERBOX_PACK").as_deref() {
        Ok("0") => false,
        Ok("1") => true,
        _ => !engine.starts_with("unix://"),
    }
}

/// Picks the executable for an image architecture (`amd64`), if one is embedded.
pub fn binary_for(arch: &str) -> Option<&'static [u8]> {
    match arch {
        "amd64" | "x86_64" | "" => Some(AGENT_X86_64),
        _ => None,
    }
}

/// How long a stream may make no progress before the agent is asked whether it still answers
/// (and, if it does not, the stream fails): 30 s, or `DOCKERBOX_STALL_SECS`.
pub fn stall_limit() -> Duration {
    static LIMIT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        let secs = std::env::var("DOCKERBOX_STALL_SECS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&s| s > 0)
            .unwrap_or(30);
        Duration::from_secs(secs)
    })
}

/// A request waiting for replies.
struct Waiter {
    tx: mpsc::UnboundedSender<Response>,
    expect: Expect,
    /// `Data` chunks the agent may still send (a `Read`'s credit).
    window: u32,
    /// A listing so far: entries (an empty frame counts as one) and bytes of names and link
    /// targets, bounded by [`MAX_LISTING`] and [`MAX_LISTING_BYTES`].
    listed: (usize, usize),
}

/// What the reader task and the requests share.
struct Shared {
    pending: Mutex<HashMap<u32, Waiter>>,
    /// The next request id; ids from here on were never sent.
    next_id: AtomicU32,
    alive: AtomicBool,
    /// Set once when the connection ends: why.
    ended: watch::Sender<Option<AgentError>>,
    container: String,
    engine: String,
}

impl Shared {
    /// Ends the connection: every waiting request, and every later one, gets `why`.
    fn end(&self, why: AgentError) {
        self.alive.store(false, Ordering::SeqCst);
        self.ended.send_if_modified(|e| {
            if e.is_none() {
                *e = Some(why);
                true
            } else {
                false
            }
        });
        if let Ok(mut p) = self.pending.lock() {
            p.clear();
        }
    }

    /// Why the connection ended (`Gone` while the reason is still being found out).
    fn why(&self) -> AgentError {
        match &*self.ended.borrow() {
            Some(AgentError::Lost(s)) => AgentError::Lost(s.clone()),
            Some(AgentError::Invalid { container, why }) => AgentError::Invalid {
                container: container.clone(),
                why: why.clone(),
            },
            Some(AgentError::Stalled {
                container,
                engine,
                secs,
            }) => AgentError::Stalled {
                container: container.clone(),
                engine: engine.clone(),
                secs: *secs,
            },
            _ => AgentError::Gone,
        }
    }

    /// Why the connection ended, once the reader has found out (a round trip or two).
    async fn reason(&self) -> AgentError {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.ended()).await;
        self.why()
    }

    /// Resolves once the connection has ended.
    async fn ended(&self) {
        let mut rx = self.ended.subscribe();
        let _ = rx.wait_for(Option::is_some).await;
    }
}

/// One running agent.
pub struct AgentConn {
    input: tokio::sync::Mutex<Pin<Box<dyn AsyncWrite + Send>>>,
    shared: Arc<Shared>,
    /// The codecs file data may be packed with (`dockerbox_proto::pack`), once the agent
    /// answered the offer sent right after the handshake (0: none, an agent that predates it).
    codecs: tokio::sync::OnceCell<u32>,
    /// The offer's pending answer, taken by the first transfer that asks.
    offer: tokio::sync::Mutex<Option<(u32, mpsc::UnboundedReceiver<Response>)>>,
    /// The directory it was started from (for `-v`).
    pub dir: String,
    /// The user it runs as (the container's): what files it makes are owned by.
    pub uid: u32,
    /// The helper container it runs in (the remote direct path, `host/helper.rs`), chrooted
    /// into the container's root; `None` for an agent inside the container.
    pub helper: Option<Arc<str>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for AgentConn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl AgentConn {
    /// Uploads and starts the agent at the first of `place`'s files where it runs. A failure
    /// comes with the files it made and could not remove (a start that failed after its
    /// upload), for the caller to remove later; on success there are none (the agent removed
    /// its own and those of the failed starts).
    pub async fn start(
        docker: &Docker,
        container: &str,
        binary: &[u8],
        place: &Placement,
    ) -> Result<AgentConn, (AgentError, Vec<String>)> {
        let mut last = String::from("no writable directory");
        let mut leftovers = Vec::new();
        // The container's shell takes the binary on the agent's own stdin; where that fails
        // (no shell, no `head`), the archive upload below, from then on.
        let mut stream = !place.by_exec;
        // Gzipped across a network; a container without `gzip` takes it as it is.
        let mut packed = gzipped(binary).filter(|_| send_gzipped(&place.engine));
        for (dir, path) in &place.files {
            let path = path.clone();
            let Some(name) = path.rsplit('/').next().map(str::to_string) else {
                continue;
            };
            if let Some(gz) = packed.take().filter(|_| stream) {
                let started = AgentConn::start_streamed(docker, container, &path, gz, true, place);
                match started.await {
                    Ok(conn) => return Ok(conn.ran_from(dir, leftovers).await),
                    // The shell removes what it wrote; one cut short may not.
                    Err(_) => leftovers.push(path.clone().into_bytes()),
                }
            }
            if stream {
                let started =
                    AgentConn::start_streamed(docker, container, &path, binary, false, place);
                match started.await {
                    Ok(conn) => return Ok(conn.ran_from(dir, leftovers).await),
                    // The upload below says what fails, if that fails too.
                    Err(_) => {
                        leftovers.push(path.clone().into_bytes());
                        stream = false;
                    }
                }
            }
            let created = if place.by_exec {
                if let Err(e) = upload_by_exec(docker, container, &path, binary).await {
                    last = format!("upload to {dir}: {e}");
                    // The shell removes what it started to write; an exec cut short may not.
                    leftovers.push(path.into_bytes());
                    continue;
                }
                AgentConn::create_exec(docker, container, &path).await
            } else {
                let tar = agent_tar(&name, binary, place.uid, place.gid);
                let opts = UploadToContainerOptions {
                    path: dir.clone(),
                    ..Default::default()
                };
                // The exec is created while the file uploads (it names a path, which only its
                // start needs to exist): one round trip less before the agent answers.
                let (uploaded, created) = tokio::join!(
                    docker.upload_to_container(
                        container,
                        Some(opts),
                        bollard::body_full(tar.into())
                    ),
                    AgentConn::create_exec(docker, container, &path),
                );
                if let Err(e) = uploaded {
                    last = format!("upload to {dir}: {}", short(&e));
                    if last.contains("read-only") {
                        break; // every other place is read-only too
                    }
                    continue;
                }
                created
            };
            let exec = match created {
                Ok(id) => id,
                Err(e) => {
                    last = format!("start from {dir}: {e}");
                    leftovers.push(path.into_bytes());
                    continue;
                }
            };
            match AgentConn::exec(docker, container, exec, place).await {
                Ok(conn) => return Ok(conn.ran_from(dir, leftovers).await),
                Err(e) => {
                    last = format!("start from {dir}: {e}");
                    leftovers.push(path.into_bytes());
                }
            }
        }
        let left = leftovers
            .into_iter()
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .collect();
        Err((AgentError::Start(last), left))
    }

    /// A started agent, which ran from `dir`: it removes the files of failed starts (a
    /// noexec place).
    async fn ran_from(mut self, dir: &str, leftovers: Vec<Vec<u8>>) -> AgentConn {
        self.dir = dir.to_string();
        for f in leftovers {
            let _ = self.call(Request::Unlink { path: f }).await;
        }
        self
    }

    /// Creates (does not start) the exec that runs the agent at `path`; gives its id.
    async fn create_exec(
        docker: &Docker,
        container: &str,
        path: &str,
    ) -> Result<String, AgentError> {
        let opts = piped_exec(vec![path.to_string()]);
        let exec = docker
            .create_exec(container, opts)
            .await
            .map_err(|e| AgentError::Start(short(&e)))?;
        Ok(exec.id)
    }

    /// Starts the exec `exec` and checks the agent's banner and hello.
    async fn exec(
        docker: &Docker,
        container: &str,
        exec: String,
        place: &Placement,
    ) -> Result<AgentConn, AgentError> {
        let started = docker
            .start_exec(&exec, None)
            .await
            .map_err(|e| AgentError::Start(short(&e)))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(AgentError::Start("exec did not attach".into()));
        };
        AgentConn::handshake(docker, container, exec, output, input, None, place).await
    }

    /// Starts the agent with one exec and no upload: the container's own shell reads the
    /// binary from the exec's stdin into `path` (`head -c`, so not a byte more: the rest of
    /// stdin is the agent's), makes it executable and `exec`s it, which then answers on the
    /// same stream. An archive upload costs about 46 ms before the exec can start (the engine
    /// re-execs itself to untar); this costs the copy, a few ms. The file is made with mode
    /// 0700 before a byte is written and removed again if the copy fails. With `gz`, `binary`
    /// is gzipped and the container's `gzip -d` unpacks it on the way.
    async fn start_streamed(
        docker: &Docker,
        container: &str,
        path: &str,
        binary: &[u8],
        gz: bool,
        place: &Placement,
    ) -> Result<AgentConn, AgentError> {
        let script = if gz {
            "umask 077 && set -C && { head -c \"$1\" | gzip -dc > \"$0\" && chmod 700 \"$0\" \
             || { rm -f \"$0\"; exit 1; }; } && exec \"$0\""
        } else {
            "umask 077 && set -C && { head -c \"$1\" > \"$0\" && chmod 700 \"$0\" \
             || { rm -f \"$0\"; exit 1; }; } && exec \"$0\""
        };
        let opts = piped_exec(vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            script.to_string(),
            path.to_string(),
            binary.len().to_string(),
        ]);
        let exec = docker
            .create_exec(container, opts)
            .await
            .map_err(|e| AgentError::Start(short(&e)))?
            .id;
        let started = docker
            .start_exec(&exec, None)
            .await
            .map_err(|e| AgentError::Start(short(&e)))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(AgentError::Start("exec did not attach".into()));
        };
        AgentConn::handshake(docker, container, exec, output, input, Some(binary), place).await
    }

    /// Checks a started agent's banner and hello (after writing `feed` to its stdin, for the
    /// shell that starts it) and makes the connection.
    pub(super) async fn handshake(
        docker: &Docker,
        container: &str,
        exec: String,
        mut output: Pin<
            Box<
                dyn futures_util::Stream<
                        Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
                    > + Send,
            >,
        >,
        mut input: Pin<Box<dyn AsyncWrite + Send>>,
        feed: Option<&[u8]>,
        place: &Placement,
    ) -> Result<AgentConn, AgentError> {
        // The banner first: a failed exec prints the runtime's error text instead (and a
        // failed shell its own words, on stderr).
        let mut buf: Vec<u8> = Vec::new();
        let mut said: Vec<u8> = Vec::new();
        let banner = tokio::time::timeout(START_TIMEOUT, async {
            let read = async {
                while buf.len() < MAGIC.len() + 4
                    || decode_frame(&buf[MAGIC.len()..]).ok().flatten().is_none()
                {
                    match output.next().await {
                        Some(Ok(bollard::container::LogOutput::StdOut { message })) => {
                            buf.extend_from_slice(&message)
                        }
                        Some(Ok(other)) => {
                            if said.len() < 4096 {
                                said.extend_from_slice(&other.into_bytes());
                            }
                        }
                        Some(Err(e)) => return Err(AgentError::Start(short(&e))),
                        None => break,
                    }
                    if buf.len() >= MAGIC.len() && &buf[..MAGIC.len()] != MAGIC {
                        break;
                    }
                }
                Ok(())
            };
            let write = async {
                if let Some(bytes) = feed {
                    input.write_all(bytes).await?;
                    input.flush().await?;
                }
                Ok::<(), std::io::Error>(())
            };
            // The banner can only come once every byte was taken; a shell that failed stops
            // taking them, so the read decides and an unfinished write is dropped.
            tokio::pin!(read, write);
            let mut wrote = None;
            let got = loop {
                tokio::select! {
                    w = &mut write, if wrote.is_none() => wrote = Some(w),
                    r = &mut read => break r,
                }
            };
            if got.is_ok() && wrote.is_none() && buf_starts_with_magic(&buf) {
                wrote = Some(write.await);
            }
            match wrote {
                Some(Err(e)) if feed.is_some() && !buf_starts_with_magic(&buf) => Err(
                    AgentError::Start(super::connect::strip_os_error(e.to_string())),
                ),
                _ => got,
            }
        })
        .await;
        match banner {
            Err(_) => return Err(AgentError::Start("no answer".into())),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(())) => {}
        }
        if buf.is_empty() && !said.is_empty() {
            buf = said;
        }
        if buf.len() < MAGIC.len() || &buf[..MAGIC.len()] != MAGIC {
            let text = String::from_utf8_lossy(&buf);
            return Err(AgentError::Start(
                text.lines()
                    .next()
                    .unwrap_or("no banner")
                    .trim()
                    .to_string(),
            ));
        }
        buf.drain(..MAGIC.len());
        let (hello, used) = match decode_frame(&buf) {
            Ok(Some((f, used))) => (Response::decode(f.kind, f.body), used),
            _ => return Err(AgentError::Proto("no hello".into())),
        };
        match hello {
            Ok(Response::Hello { version, build_id })
                if version == VERSION && build_id == BUILD_ID.as_bytes() => {}
            Ok(Response::Hello { version, build_id }) => {
                return Err(AgentError::Proto(format!(
                    "agent speaks version {version} build {}, expected {VERSION} build {BUILD_ID}",
                    String::from_utf8_lossy(&build_id)
                )))
            }
            other => return Err(AgentError::Proto(format!("unexpected hello {other:?}"))),
        }
        buf.drain(..used);

        let (ended, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            pending: Mutex::default(),
            next_id: AtomicU32::new(1),
            alive: AtomicBool::new(true),
            ended,
            container: place.container.clone(),
            engine: place.engine.clone(),
        });
        let why = Ending {
            docker: docker.clone(),
            container: container.to_string(),
            exec,
        };
        let reader = tokio::spawn(read_loop(output, Replies::new(buf), shared.clone(), why));
        let conn = AgentConn {
            input: tokio::sync::Mutex::new(input),
            shared,
            codecs: tokio::sync::OnceCell::new(),
            offer: tokio::sync::Mutex::new(None),
            dir: String::new(),
            uid: place.uid,
            helper: None,
            reader,
        };
        conn.offer_codecs(place.engine.starts_with("unix://")).await;
        Ok(conn)
    }

    /// Offers the codecs this build packs with; the answer is awaited only by the first
    /// transfer that could use it ([`AgentConn::packing`]), so no request waits a round trip
    /// for it. Only to an engine across a network: on this machine's socket bytes cost less
    /// than packing them (measured: a packed read of text 1.5x slower than the archive's).
    /// `DOCKERBOX_PACK=1` offers them everywhere, `0` nowhere (as an old agent would answer).
    async fn offer_codecs(&self, local: bool) {
        let offer = match std::env::var("DOCKERBOX_PACK").as_deref() {
            Ok("0") => 0,
            Ok("1") => dockerbox_proto::pack::CODECS,
            _ if local => 0,
            _ => dockerbox_proto::pack::CODECS,
        };
        if offer == 0 {
            let _ = self.codecs.set(0);
            return;
        }
        let req = Request::Codecs { offer };
        let (id, rx) = self.register(&req);
        if self.send(id, &req).await.is_err() {
            self.unregister(id);
            let _ = self.codecs.set(0);
            return;
        }
        *self.offer.lock().await = Some((id, rx));
    }

    /// Whether file data may go packed on this connection (the agent took the LZ4 codec).
    pub async fn packing(&self) -> bool {
        let codecs = self
            .codecs
            .get_or_init(|| async {
                let Some((id, mut rx)) = self.offer.lock().await.take() else {
                    return 0;
                };
                let r = tokio::time::timeout(stall_limit(), rx.recv()).await;
                self.unregister(id);
                match r {
                    Ok(Some(Response::Codecs { accept })) => accept,
                    _ => 0, // an agent that predates the offer answers Error
                }
            })
            .await;
        codecs & dockerbox_proto::pack::LZ4 != 0
    }

    /// How well a file in the container packs: (bytes tried, their packed size).
    pub async fn sample(&self, path: Vec<u8>) -> Option<(u64, u64)> {
        if !self.packing().await {
            return None;
        }
        match self.call(Request::Sample { path }).await {
            Ok(Response::Sampled { raw, packed }) => Some((raw, packed)),
            _ => None,
        }
    }

    pub fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::SeqCst)
    }

    fn register(&self, req: &Request) -> (u32, mpsc::UnboundedReceiver<Response>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let expect = Expect::of(req);
        let window = if matches!(expect, Expect::Data | Expect::Search) {
            READ_WINDOW
        } else {
            0
        };
        // The id is taken under the lock, so the reader never sees a sent id it cannot find.
        let Ok(mut p) = self.shared.pending.lock() else {
            return (0, rx);
        };
        let id = self.shared.next_id.fetch_add(1, Ordering::SeqCst);
        p.insert(
            id,
            Waiter {
                tx,
                expect,
                window,
                listed: (0, 0),
            },
        );
        (id, rx)
    }

    fn unregister(&self, id: u32) {
        if let Ok(mut p) = self.shared.pending.lock() {
            p.remove(&id);
        }
    }

    /// Lets the `Read` with this id send `n` more chunks.
    fn grant(&self, id: u32, n: u32) {
        if let Ok(mut p) = self.shared.pending.lock() {
            if let Some(w) = p.get_mut(&id) {
                w.window = w.window.saturating_add(n);
            }
        }
    }

    async fn send(&self, id: u32, req: &Request) -> Result<(), AgentError> {
        if !self.is_alive() {
            return Err(self.shared.reason().await);
        }
        let mut frame = Vec::with_capacity(64);
        encode_request(id, req, &mut frame);
        // A dead agent's exec may stop reading its stdin without closing it: the write would
        // block until the engine gives up, so the connection's end wins over it.
        let write = async {
            let mut input = self.input.lock().await;
            input.write_all(&frame).await?;
            input.flush().await
        };
        let stall = tokio::time::sleep(stall_limit());
        tokio::select! {
            r = write => match r {
                Ok(()) => Ok(()),
                Err(_) => Err(self.shared.reason().await),
            },
            _ = self.shared.ended() => Err(self.shared.why()),
            _ = stall => {
                let e = self.stalled();
                self.shared.end(self.stalled());
                Err(e)
            }
        }
    }

    fn stalled(&self) -> AgentError {
        AgentError::Stalled {
            container: self.shared.container.clone(),
            engine: self.shared.engine.clone(),
            secs: stall_limit().as_secs(),
        }
    }

    /// The next reply for a request; `None` when it was the end of the connection. A stream
    /// that makes no progress for the stall limit asks the agent whether it still answers (a
    /// FIFO may legitimately wait for a writer) and fails if it does not.
    async fn recv(
        &self,
        rx: &mut mpsc::UnboundedReceiver<Response>,
    ) -> Result<Response, AgentError> {
        loop {
            match tokio::time::timeout(stall_limit(), rx.recv()).await {
                Ok(Some(r)) => return Ok(r),
                Ok(None) => return Err(self.shared.reason().await),
                Err(_) => self.probe().await?,
            }
        }
    }

    /// Asks the agent something trivial; ends the connection if it does not answer in time.
    async fn probe(&self) -> Result<(), AgentError> {
        let req = Request::Access {
            path: b"/".to_vec(),
            mode: 0,
        };
        let (id, mut rx) = self.register(&req);
        let r = tokio::time::timeout(stall_limit(), async {
            self.send(id, &req).await?;
            match rx.recv().await {
                Some(r) => Ok(r),
                None => Err(self.shared.reason().await),
            }
        })
        .await;
        self.unregister(id);
        match r {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                let e = self.stalled();
                self.shared.end(self.stalled());
                Err(e)
            }
        }
    }

    /// Sends a request that has one answer and waits for it.
    pub async fn call(&self, req: Request) -> Result<Response, AgentError> {
        let (id, mut rx) = self.register(&req);
        let r = async {
            self.send(id, &req).await?;
            self.recv(&mut rx).await
        }
        .await;
        self.unregister(id);
        match r? {
            Response::Error { errno } => Err(AgentError::Errno(errno)),
            resp => Ok(resp),
        }
    }

    /// Lists a directory: every `Entries` frame until the last.
    pub async fn read_dir(&self, path: Vec<u8>) -> Result<Vec<DirEntry>, AgentError> {
        let req = Request::ReadDir { path };
        let (id, mut rx) = self.register(&req);
        let r = async {
            self.send(id, &req).await?;
            let mut all = Vec::new();
            loop {
                match self.recv(&mut rx).await? {
                    Response::Entries { entries, done } => {
                        all.extend(entries);
                        if done {
                            return Ok(all);
                        }
                    }
                    Response::Error { errno } => return Err(AgentError::Errno(errno)),
                    other => return Err(AgentError::Proto(format!("unexpected {other:?}"))),
                }
            }
        }
        .await;
        self.unregister(id);
        r
    }

    /// Starts streaming a file.
    pub async fn open_read(self: &Arc<Self>, path: Vec<u8>) -> Result<ReadStream, AgentError> {
        self.stream(Request::Read { path }).await
    }

    /// Starts streaming a whole tree as one tar (`ReadTree`), packed where it shrinks.
    pub async fn read_tree(self: &Arc<Self>, path: Vec<u8>) -> Result<ReadStream, AgentError> {
        self.stream(Request::ReadTree { path }).await
    }

    async fn stream(self: &Arc<Self>, req: Request) -> Result<ReadStream, AgentError> {
        let (id, rx) = self.register(&req);
        if let Err(e) = self.send(id, &req).await {
            self.unregister(id);
            return Err(e);
        }
        Ok(ReadStream {
            conn: self.clone(),
            id,
            rx,
            used: 0,
            done: false,
        })
    }
}

/// A file being written through the agent: frames go out without waiting for answers; the
/// first failure shows up at the next write or at `close`.
pub struct WriteStream {
    conn: Arc<AgentConn>,
    id: u32,
    rx: mpsc::UnboundedReceiver<Response>,
    closed: bool,
    /// Chunks may go packed (the agent took the codec); raw ones are packed here where they
    /// shrink.
    packing: bool,
    sampler: dockerbox_proto::pack::Sampler,
}

impl AgentConn {
    /// Starts writing `path` as the overwrite rule says (in place when it exists, else through
    /// the temporary `tmp` beside it, which dockerbox names so it can find it again).
    pub async fn begin_write(
        self: &Arc<Self>,
        path: Vec<u8>,
        tmp: Vec<u8>,
        mode: u32,
        append: bool,
    ) -> Result<WriteStream, AgentError> {
        let req = Request::WriteBegin {
            path,
            tmp,
            mode,
            append,
        };
        let (id, rx) = self.register(&req);
        if let Err(e) = self.send(id, &req).await {
            self.unregister(id);
            return Err(e);
        }
        Ok(WriteStream {
            conn: self.clone(),
            id,
            rx,
            closed: false,
            packing: self.packing().await,
            sampler: Default::default(),
        })
    }
}

impl WriteStream {
    /// Sends bytes (in chunks, packed where they shrink); fails early if the agent already
    /// reported a failure.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), AgentError> {
        self.check().await?;
        let mut packed = Vec::new();
        for chunk in data.chunks(dockerbox_proto::CHUNK) {
            let req = if self.packing && self.sampler.pack(chunk, &mut packed) {
                Request::WritePacked {
                    raw_len: chunk.len() as u32,
                    data: std::mem::take(&mut packed),
                }
            } else {
                Request::WriteData {
                    data: chunk.to_vec(),
                }
            };
            self.conn.send(self.id, &req).await?;
        }
        Ok(())
    }

    /// Sends a chunk as it came: a packed one from another agent goes on packed where this
    /// agent takes it, unpacked here otherwise.
    pub async fn write_chunk(&mut self, chunk: Chunk) -> Result<(), AgentError> {
        match chunk {
            Chunk::Raw(b) => self.write(&b).await,
            Chunk::Packed { raw_len, data } if self.packing => {
                self.check().await?;
                let req = Request::WritePacked {
                    raw_len,
                    data: data.to_vec(),
                };
                self.conn.send(self.id, &req).await
            }
            packed => {
                let raw = packed.unpack()?;
                self.write(&raw).await
            }
        }
    }

    /// The helper container its agent runs in (the remote direct path), if any.
    pub fn helper(&self) -> Option<&str> {
        self.conn.helper.as_deref()
    }

    /// The remote direct path: has the agent fill this write with the regular file `path` of
    /// another container of its engine (init `pid`, ID `container`), copied on that machine.
    /// Gives the bytes copied; the write is then closed as usual.
    pub async fn fill_from(
        &mut self,
        pid: u32,
        container: &str,
        path: Vec<u8>,
    ) -> Result<u64, AgentError> {
        self.check().await?;
        let req = Request::FillFrom {
            write: self.id,
            pid,
            container: container.as_bytes().to_vec(),
            path,
        };
        match self.conn.call(req).await? {
            Response::Filled { bytes } => Ok(bytes),
            other => Err(AgentError::Proto(format!("unexpected answer {other:?}"))),
        }
    }

    /// The agent's early failure, if it sent one.
    async fn check(&mut self) -> Result<(), AgentError> {
        match self.rx.try_recv() {
            Ok(Response::Error { errno }) => Err(AgentError::Errno(errno)),
            Err(mpsc::error::TryRecvError::Disconnected) => Err(self.conn.shared.reason().await),
            _ => Ok(()),
        }
    }

    /// Lands the file (`commit`) or throws it away; returns the write's first failure.
    pub async fn close(mut self, commit: bool) -> Result<(), AgentError> {
        self.closed = true;
        let r = async {
            self.conn
                .send(self.id, &Request::WriteClose { commit })
                .await?;
            loop {
                match self.conn.recv(&mut self.rx).await? {
                    Response::Closed { errno: 0 } => return Ok(()),
                    Response::Closed { errno } => return Err(AgentError::Errno(errno)),
                    _ => {} // an early Error: Closed repeats it
                }
            }
        }
        .await;
        self.conn.unregister(self.id);
        r
    }
}

impl Drop for WriteStream {
    fn drop(&mut self) {
        if !self.closed {
            // Dropped midway (Ctrl-C, a failed source): the temporary must go.
            let (conn, id) = (self.conn.clone(), self.id);
            conn.unregister(id);
            tokio::spawn(async move {
                let _ = conn.send(id, &Request::WriteClose { commit: false }).await;
            });
        }
    }
}

/// A piece of a file on its way: as read, or packed by the agent that read it (and passed on
/// packed to an agent that takes it, never unpacked here).
#[derive(Debug, Clone)]
pub enum Chunk {
    Raw(Bytes),
    Packed { raw_len: u32, data: Bytes },
}

impl Chunk {
    /// Its length unpacked.
    pub fn size(&self) -> usize {
        match self {
            Chunk::Raw(b) => b.len(),
            Chunk::Packed { raw_len, .. } => *raw_len as usize,
        }
    }

    /// Its bytes; packed data that does not unpack (the agent is untrusted) is an error.
    pub fn unpack(self) -> Result<Bytes, AgentError> {
        match self {
            Chunk::Raw(b) => Ok(b),
            Chunk::Packed { raw_len, data } => {
                let mut out = Vec::with_capacity(raw_len as usize);
                dockerbox_proto::pack::unpack(&data, raw_len, &mut out)
                    .map_err(|e| AgentError::Proto(e.to_string()))?;
                Ok(Bytes::from(out))
            }
        }
    }
}

/// A file being read from the agent, chunk by chunk, under the credit window.
pub struct ReadStream {
    conn: Arc<AgentConn>,
    id: u32,
    rx: mpsc::UnboundedReceiver<Response>,
    used: u32,
    done: bool,
}

impl ReadStream {
    /// The next chunk, unpacked; `None` at the end of the file.
    pub async fn next(&mut self) -> Result<Option<Bytes>, AgentError> {
        match self.next_chunk().await? {
            Some(c) => Ok(Some(c.unpack()?)),
            None => Ok(None),
        }
    }

    /// The next chunk as it came (packed or not); `None` at the end of the file.
    pub async fn next_chunk(&mut self) -> Result<Option<Chunk>, AgentError> {
        if self.done {
            return Ok(None);
        }
        let resp = self.conn.recv(&mut self.rx).await;
        let chunk = match resp {
            Ok(Response::Data(d)) => Chunk::Raw(Bytes::from(d)),
            Ok(Response::Packed { raw_len, data }) => Chunk::Packed {
                raw_len,
                data: Bytes::from(data),
            },
            other => return self.end(other),
        };
        self.used += 1;
        if self.used >= READ_WINDOW / 2 {
            let n = std::mem::take(&mut self.used);
            self.conn.grant(self.id, n);
            self.conn.send(self.id, &Request::Credit { n }).await?;
        }
        Ok(Some(chunk))
    }

    /// A reply that is not a chunk: the end of the file, or why the read failed.
    fn end(&mut self, resp: Result<Response, AgentError>) -> Result<Option<Chunk>, AgentError> {
        match resp {
            Ok(Response::Eof) => {
                self.finish();
                Ok(None)
            }
            Ok(Response::Error { errno }) => {
                self.finish();
                Err(AgentError::Errno(errno))
            }
            Ok(other) => {
                self.finish();
                Err(AgentError::Proto(format!("unexpected {other:?}")))
            }
            Err(e) => {
                self.finish();
                Err(e)
            }
        }
    }

    fn finish(&mut self) {
        self.done = true;
        self.conn.unregister(self.id);
    }
}

impl Drop for ReadStream {
    fn drop(&mut self) {
        if !self.done {
            // Abandoned midway (Ctrl-C, a write error): tell the agent to stop sending.
            let (conn, id) = (self.conn.clone(), self.id);
            conn.unregister(id);
            tokio::spawn(async move {
                let _ = conn.send(id, &Request::Credit { n: 0 }).await;
            });
        }
    }
}

impl AgentConn {
    /// Starts a `Search` (grep, find, du run by the agent); its frames come from
    /// [`SearchStream::next`].
    pub async fn search(self: &Arc<Self>, req: Request) -> Result<SearchStream, AgentError> {
        let (id, rx) = self.register(&req);
        if let Err(e) = self.send(id, &req).await {
            self.unregister(id);
            return Err(e);
        }
        Ok(SearchStream {
            conn: self.clone(),
            id,
            rx,
            used: 0,
            done: false,
        })
    }
}

/// A search running in the agent: its `Found`, `Problem` and `Notice` frames under the
/// credit window, refilled as they are taken; dropping it midway cancels the search.
pub struct SearchStream {
    conn: Arc<AgentConn>,
    id: u32,
    rx: mpsc::UnboundedReceiver<Response>,
    used: u32,
    done: bool,
}

impl SearchStream {
    /// The next frame; the last is `SearchDone`, after which this gives `None`.
    pub async fn next(&mut self) -> Result<Option<Response>, AgentError> {
        if self.done {
            return Ok(None);
        }
        match self.conn.recv(&mut self.rx).await {
            Ok(Response::Error { errno }) => {
                self.finish();
                Err(AgentError::Errno(errno))
            }
            Ok(r @ Response::SearchDone { .. }) => {
                self.finish();
                Ok(Some(r))
            }
            Ok(r) => {
                self.used += 1;
                if self.used >= READ_WINDOW / 2 {
                    let n = std::mem::take(&mut self.used);
                    self.conn.grant(self.id, n);
                    self.conn.send(self.id, &Request::Credit { n }).await?;
                }
                Ok(Some(r))
            }
            Err(e) => {
                self.finish();
                Err(e)
            }
        }
    }

    fn finish(&mut self) {
        self.done = true;
        self.conn.unregister(self.id);
    }
}

impl Drop for SearchStream {
    fn drop(&mut self) {
        if !self.done {
            let (conn, id) = (self.conn.clone(), self.id);
            conn.unregister(id);
            tokio::spawn(async move {
                let _ = conn.send(id, &Request::Credit { n: 0 }).await;
            });
        }
    }
}

/// How to find out why an agent's connection ended.
struct Ending {
    docker: Docker,
    container: String,
    exec: String,
}

impl Ending {
    /// Asks the engine (briefly) what happened: the container stopped, restarted or went, or
    /// only the agent died. The agent dies first when the whole container is killed, so a
    /// killed agent in a running container is looked at again for half a second.
    async fn why(&self) -> String {
        let mut why = String::new();
        for _ in 0..5 {
            let (w, settled) = self.ask().await;
            why = w;
            if settled {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        why
    }

    /// One look at the container and the exec; false when the answer may still change.
    async fn ask(&self) -> (String, bool) {
        let ask = async {
            let c = self
                .docker
                .inspect_container(
                    &self.container,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await;
            let e = self.docker.inspect_exec(&self.exec).await;
            (c, e)
        };
        let Ok((c, e)) = tokio::time::timeout(Duration::from_secs(2), ask).await else {
            return (
                "the agent went away (the engine does not answer)".into(),
                true,
            );
        };
        let c = match c {
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return ("the container was removed".into(), true),
            Err(_) => return ("the agent went away".into(), true),
            Ok(c) => c,
        };
        let state = c.state.unwrap_or_default();
        match state.status {
            Some(ContainerStateStatusEnum::RUNNING) | Some(ContainerStateStatusEnum::PAUSED) => {}
            Some(ContainerStateStatusEnum::RESTARTING) => {
                return ("the container restarted".into(), true)
            }
            _ => return ("the container stopped".into(), true),
        }
        match e {
            // The agent's exec belonged to the container's previous run.
            Err(_) => ("the container restarted".into(), true),
            Ok(e) => match e.exit_code {
                Some(n) if n > 128 => (format!("the agent was killed (signal {})", n - 128), false),
                Some(n) => (format!("the agent exited with status {n}"), true),
                None => ("the agent went away".into(), false),
            },
        }
    }
}

/// Reads frames off the exec's stdout, checks each and hands it to the request it answers.
async fn read_loop(
    mut output: Pin<
        Box<
            dyn futures_util::Stream<
                    Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
                > + Send,
        >,
    >,
    mut replies: Replies,
    shared: Arc<Shared>,
    ending: Ending,
) {
    let invalid = |why: String| AgentError::Invalid {
        container: shared.container.clone(),
        why,
    };
    loop {
        loop {
            let (id, resp) = match replies.next_reply() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => return shared.end(invalid(e.0)),
            };
            if let Err(e) = deliver(&shared, id, resp) {
                return shared.end(invalid(e.0));
            }
        }
        match output.next().await {
            Some(Ok(bollard::container::LogOutput::StdOut { message })) => replies.push(&message),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    // No new requests from now on; the waiting ones get the reason a round trip later.
    shared.alive.store(false, Ordering::SeqCst);
    let why = ending.why().await;
    shared.end(AgentError::Lost(why));
}

/// Checks one reply against what its request expects and passes it on.
fn deliver(shared: &Shared, id: u32, resp: Response) -> Result<(), dockerbox_proto::Invalid> {
    check_id(id, shared.next_id.load(Ordering::SeqCst))?;
    let Ok(mut p) = shared.pending.lock() else {
        return Ok(());
    };
    // Replies to a request that is over (a cancelled read's chunks in flight) are dropped.
    let Some(w) = p.get_mut(&id) else {
        return Ok(());
    };
    check_reply(w.expect, &resp)?;
    if let Response::Entries { entries, .. } = &resp {
        let bytes: usize = entries
            .iter()
            .map(|e| e.name.len() + e.link.as_ref().map_or(0, Vec::len))
            .sum();
        w.listed.0 += entries.len().max(1);
        w.listed.1 += bytes;
        if w.listed.0 > MAX_LISTING || w.listed.1 > MAX_LISTING_BYTES {
            return Err(dockerbox_proto::Invalid(format!(
                "a listing of more than {MAX_LISTING} entries or {} MiB of names",
                MAX_LISTING_BYTES >> 20
            )));
        }
    }
    if w.expect.costs_credit(&resp) {
        if w.window == 0 {
            return Err(dockerbox_proto::Invalid(
                "more chunks than the read's credit allows".into(),
            ));
        }
        w.window -= 1;
    }
    let ends = w.expect.ends(&resp);
    let _ = w.tx.send(resp);
    if ends {
        p.remove(&id);
    }
    Ok(())
}

/// A tar holding just the agent, owned by the user that will run it, mode 0700.
fn agent_tar(name: &str, binary: &[u8], uid: u32, gid: u32) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_size(binary.len() as u64);
    h.set_mode(0o700);
    h.set_uid(uid as u64);
    h.set_gid(gid as u64);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mtime(0);
    let mut b = tar::Builder::new(Vec::with_capacity(binary.len() + 2048));
    // Writing into a Vec cannot fail.
    let _ = b.append_data(&mut h, name, binary);
    b.into_inner().unwrap_or_default()
}

/// A random number for file names, from the kernel.
pub fn random() -> u64 {
    let mut v = [0u8; 8];
    // SAFETY: getrandom writes at most 8 bytes into v.
    let n = unsafe { libc::getrandom(v.as_mut_ptr().cast(), 8, 0) };
    if n != 8 {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        return (t as u64) ^ u64::from(std::process::id());
    }
    u64::from_le_bytes(v)
}

fn short(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            message,
            status_code,
        } => {
            if message.is_empty() {
                format!("status {status_code}")
            } else {
                message.clone()
            }
        }
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upload_tar_is_owned_by_the_user() {
        let t = agent_tar(".dbx-agent-1", b"\x7fELF", 1000, 50);
        let mut ar = tar::Archive::new(&t[..]);
        let e = ar.entries().unwrap().next().unwrap().unwrap();
        let h = e.header();
        assert_eq!(
            (h.uid().unwrap(), h.gid().unwrap(), h.mode().unwrap()),
            (1000, 50, 0o700)
        );
        assert_eq!(e.path().unwrap().to_str(), Some(".dbx-agent-1"));
    }

    fn shared() -> Shared {
        Shared {
            pending: Mutex::default(),
            next_id: AtomicU32::new(1),
            alive: AtomicBool::new(true),
            ended: watch::channel(None).0,
            container: "c".into(),
            engine: "e".into(),
        }
    }

    fn open(s: &Shared, expect: Expect, window: u32) -> (u32, mpsc::UnboundedReceiver<Response>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = s.next_id.fetch_add(1, Ordering::SeqCst);
        s.pending.lock().unwrap().insert(
            id,
            Waiter {
                tx,
                expect,
                window,
                listed: (0, 0),
            },
        );
        (id, rx)
    }

    #[test]
    fn replies_go_to_their_request_and_end_it() {
        let s = shared();
        let (id, mut rx) = open(&s, Expect::Attr, 0);
        let attr = Response::Attr(dockerbox_proto::Attr {
            mode: 0o100644,
            ..Default::default()
        });
        deliver(&s, id, attr.clone()).unwrap();
        assert_eq!(rx.try_recv().unwrap(), attr);
        // Over now: a second answer is dropped, not an error (a cancelled read's chunks).
        deliver(&s, id, Response::Ok).unwrap();
        assert!(s.pending.lock().unwrap().is_empty());
    }

    #[test]
    fn replies_that_no_request_asked_for_are_refused() {
        let s = shared();
        let (id, _rx) = open(&s, Expect::Entries, 0);
        assert!(deliver(&s, id + 1, Response::Ok).is_err(), "never sent");
        assert!(deliver(&s, 0, Response::Ok).is_err(), "the handshake's id");
        let evil = Response::Entries {
            entries: vec![DirEntry {
                name: b"../../etc".to_vec(),
                attr: dockerbox_proto::Attr {
                    mode: 0o100644,
                    ..Default::default()
                },
                link: None,
            }],
            done: true,
        };
        assert!(deliver(&s, id, evil).is_err());
        assert!(
            deliver(&s, id, Response::Data(vec![1])).is_err(),
            "wrong kind"
        );
    }

    #[test]
    fn a_listing_that_never_ends_is_refused() {
        let s = shared();
        let (id, mut rx) = open(&s, Expect::Entries, 0);
        let frame = |n: usize, len: usize| Response::Entries {
            entries: (0..n)
                .map(|i| DirEntry {
                    name: format!("{i:0len$}").into_bytes(),
                    attr: dockerbox_proto::Attr {
                        mode: 0o100644,
                        ..Default::default()
                    },
                    link: None,
                })
                .collect(),
            done: false,
        };
        // Up to the limit, in frames of 4096; then an empty frame still counts (each costs a
        // message), and the one past the limit is refused.
        for _ in 0..MAX_LISTING / 4096 - 1 {
            deliver(&s, id, frame(4096, 1)).unwrap();
            let _ = rx.try_recv();
        }
        deliver(&s, id, frame(4095, 1)).unwrap();
        deliver(&s, id, frame(0, 1)).unwrap();
        let e = deliver(&s, id, frame(0, 1)).unwrap_err();
        assert!(e.0.contains("a listing of more than"), "{}", e.0);
        // So are long link targets, long before the count.
        let (id, mut rx) = open(&s, Expect::Entries, 0);
        let links = Response::Entries {
            entries: (0..100)
                .map(|i| DirEntry {
                    name: format!("l{i}").into_bytes(),
                    attr: dockerbox_proto::Attr {
                        mode: 0o120777,
                        ..Default::default()
                    },
                    link: Some(vec![b'x'; 4000]),
                })
                .collect(),
            done: false,
        };
        let mut frames = 0;
        while deliver(&s, id, links.clone()).is_ok() {
            let _ = rx.try_recv();
            frames += 1;
        }
        // 100 links of 4000 bytes and their names (l0..l99: 290 bytes) a frame.
        assert_eq!(frames, MAX_LISTING_BYTES / 400_290);
    }

    #[test]
    fn a_read_may_not_send_beyond_its_credit() {
        let s = shared();
        let (id, mut rx) = open(&s, Expect::Data, 2);
        deliver(&s, id, Response::Data(vec![1])).unwrap();
        deliver(&s, id, Response::Data(vec![2])).unwrap();
        assert!(deliver(&s, id, Response::Data(vec![3])).is_err());
        assert_eq!(rx.try_recv().unwrap(), Response::Data(vec![1]));
    }

    #[test]
    fn an_ended_connection_says_why() {
        let s = shared();
        let (_, mut rx) = open(&s, Expect::Done, 0);
        s.end(AgentError::Lost("the container stopped".into()));
        assert!(rx.try_recv().is_err(), "waiters are woken");
        assert_eq!(s.why().to_string(), "the container stopped");
        // The first reason stays.
        s.end(AgentError::Gone);
        assert_eq!(s.why().to_string(), "the container stopped");
    }

    #[test]
    fn an_agent_is_embedded() {
        assert!(binary_for("amd64").is_some_and(|b| b.starts_with(b"\x7fELF")));
        assert!(binary_for("arm64").is_none());
        assert!(!BUILD_ID.is_empty());
    }
}
