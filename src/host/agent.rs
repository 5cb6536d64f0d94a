//! The in-container agent's lifecycle: pick a place, upload, start with exec, check the banner
//! and handshake, then multiplex requests over the exec's stdin/stdout.
//!
//! The agent binary is built by `build.rs` and embedded here. A connection is one exec; when it
//! ends (the container stopped, someone killed the agent) every pending request fails with
//! `Gone` and the owner starts a new one on the next request.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::UploadToContainerOptions;
use bollard::Docker;
use bytes::Bytes;
use dockerbox_proto::{
    decode_frame, encode_request, DirEntry, Request, Response, MAGIC, READ_WINDOW, VERSION,
};
use futures_util::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// The agent for x86_64 containers, built by build.rs.
static AGENT_X86_64: &[u8] = include_bytes!(env!("DOCKERBOX_AGENT_X86_64"));
/// Its build id; the handshake must report exactly this.
pub const BUILD_ID: &str = env!("DOCKERBOX_AGENT_BUILD_ID");

/// How long a started agent has to show its banner.
const START_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// The agent answered something that does not decode.
    #[error("agent protocol error: {0}")]
    Proto(String),
    /// The operation failed inside the container with this errno.
    #[error("errno {0}")]
    Errno(i32),
}

/// Where and as whom to start an agent.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Directories to try, in order.
    pub dirs: Vec<String>,
    /// Owner for the uploaded file: the container's configured user, so it may run it.
    pub uid: u32,
    pub gid: u32,
}

/// Picks the executable for an image architecture (`amd64`), if one is embedded.
pub fn binary_for(arch: &str) -> Option<&'static [u8]> {
    match arch {
        "amd64" | "x86_64" | "" => Some(AGENT_X86_64),
        _ => None,
    }
}

type Pending = Arc<Mutex<HashMap<u32, mpsc::UnboundedSender<Response>>>>;

/// One running agent.
pub struct AgentConn {
    input: tokio::sync::Mutex<Pin<Box<dyn AsyncWrite + Send>>>,
    pending: Pending,
    next_id: AtomicU32,
    alive: Arc<AtomicBool>,
    /// The directory it was started from (for `-v`).
    pub dir: String,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for AgentConn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl AgentConn {
    /// Uploads and starts the agent in the first directory of `place` where it runs.
    pub async fn start(
        docker: &Docker,
        container: &str,
        binary: &[u8],
        place: &Placement,
    ) -> Result<AgentConn, AgentError> {
        let mut last = String::from("no writable directory");
        let mut leftovers = Vec::new();
        for dir in &place.dirs {
            let name = format!(".dbx-agent-{:016x}", random());
            let path = if dir == "/" {
                format!("/{name}")
            } else {
                format!("{dir}/{name}")
            };
            let tar = agent_tar(&name, binary, place.uid, place.gid);
            let opts = UploadToContainerOptions {
                path: dir.clone(),
                ..Default::default()
            };
            match docker
                .upload_to_container(container, Some(opts), bollard::body_full(tar.into()))
                .await
            {
                Ok(()) => {}
                Err(e) => {
                    last = format!("upload to {dir}: {}", short(&e));
                    if last.contains("read-only") {
                        break; // every other place is read-only too
                    }
                    continue;
                }
            }
            match AgentConn::exec(docker, container, &path).await {
                Ok(mut conn) => {
                    conn.dir = dir.clone();
                    // Files from failed starts (a noexec place) are removed by the one that ran.
                    for f in leftovers {
                        let _ = conn.call(Request::Unlink { path: f }).await;
                    }
                    return Ok(conn);
                }
                Err(e) => {
                    last = format!("start from {dir}: {e}");
                    leftovers.push(path.into_bytes());
                }
            }
        }
        Err(AgentError::Start(last))
    }

    async fn exec(docker: &Docker, container: &str, path: &str) -> Result<AgentConn, AgentError> {
        let opts = CreateExecOptions {
            cmd: Some(vec![path.to_string()]),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            ..Default::default()
        };
        let exec = docker
            .create_exec(container, opts)
            .await
            .map_err(|e| AgentError::Start(short(&e)))?;
        let started = docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| AgentError::Start(short(&e)))?;
        let StartExecResults::Attached { mut output, input } = started else {
            return Err(AgentError::Start("exec did not attach".into()));
        };
        // The banner first: a failed exec prints the runtime's error text instead.
        let mut buf: Vec<u8> = Vec::new();
        let banner = tokio::time::timeout(START_TIMEOUT, async {
            while buf.len() < MAGIC.len() + 4
                || decode_frame(&buf[MAGIC.len()..]).ok().flatten().is_none()
            {
                match output.next().await {
                    Some(Ok(bollard::container::LogOutput::StdOut { message })) => {
                        buf.extend_from_slice(&message)
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(AgentError::Start(short(&e))),
                    None => break,
                }
                if buf.len() >= MAGIC.len() && &buf[..MAGIC.len()] != MAGIC {
                    break;
                }
            }
            Ok(())
        })
        .await;
        match banner {
            Err(_) => return Err(AgentError::Start("no answer".into())),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(())) => {}
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

        let pending: Pending = Arc::default();
        let alive = Arc::new(AtomicBool::new(true));
        let reader = tokio::spawn(read_loop(output, buf, pending.clone(), alive.clone()));
        Ok(AgentConn {
            input: tokio::sync::Mutex::new(input),
            pending,
            next_id: AtomicU32::new(1),
            alive,
            dir: String::new(),
            reader,
        })
    }

    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    fn register(&self) -> (u32, mpsc::UnboundedReceiver<Response>) {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, tx);
        }
        (id, rx)
    }

    fn unregister(&self, id: u32) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&id);
        }
    }

    async fn send(&self, id: u32, req: &Request) -> Result<(), AgentError> {
        if !self.is_alive() {
            return Err(AgentError::Gone);
        }
        let mut frame = Vec::with_capacity(64);
        encode_request(id, req, &mut frame);
        let mut input = self.input.lock().await;
        input
            .write_all(&frame)
            .await
            .map_err(|_| AgentError::Gone)?;
        input.flush().await.map_err(|_| AgentError::Gone)
    }

    /// Sends a request that has one answer and waits for it.
    pub async fn call(&self, req: Request) -> Result<Response, AgentError> {
        let (id, mut rx) = self.register();
        let r = async {
            self.send(id, &req).await?;
            rx.recv().await.ok_or(AgentError::Gone)
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
        let (id, mut rx) = self.register();
        let r = async {
            self.send(id, &Request::ReadDir { path }).await?;
            let mut all = Vec::new();
            loop {
                match rx.recv().await.ok_or(AgentError::Gone)? {
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
        let (id, rx) = self.register();
        if let Err(e) = self.send(id, &Request::Read { path }).await {
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
        let (id, rx) = self.register();
        let req = Request::WriteBegin {
            path,
            tmp,
            mode,
            append,
        };
        if let Err(e) = self.send(id, &req).await {
            self.unregister(id);
            return Err(e);
        }
        Ok(WriteStream {
            conn: self.clone(),
            id,
            rx,
            closed: false,
        })
    }
}

impl WriteStream {
    /// Sends bytes (in chunks); fails early if the agent already reported a failure.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), AgentError> {
        if let Ok(Response::Error { errno }) = self.rx.try_recv() {
            return Err(AgentError::Errno(errno));
        }
        for chunk in data.chunks(dockerbox_proto::CHUNK) {
            self.conn
                .send(
                    self.id,
                    &Request::WriteData {
                        data: chunk.to_vec(),
                    },
                )
                .await?;
        }
        Ok(())
    }

    /// Lands the file (`commit`) or throws it away; returns the write's first failure.
    pub async fn close(mut self, commit: bool) -> Result<(), AgentError> {
        self.closed = true;
        let r = async {
            self.conn
                .send(self.id, &Request::WriteClose { commit })
                .await?;
            loop {
                match self.rx.recv().await.ok_or(AgentError::Gone)? {
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

/// A file being read from the agent, chunk by chunk, under the credit window.
pub struct ReadStream {
    conn: Arc<AgentConn>,
    id: u32,
    rx: mpsc::UnboundedReceiver<Response>,
    used: u32,
    done: bool,
}

impl ReadStream {
    /// The next chunk; `None` at the end of the file.
    pub async fn next(&mut self) -> Result<Option<Bytes>, AgentError> {
        if self.done {
            return Ok(None);
        }
        let resp = self.rx.recv().await.ok_or(AgentError::Gone);
        match resp {
            Ok(Response::Data(d)) => {
                self.used += 1;
                if self.used >= READ_WINDOW / 2 {
                    let n = std::mem::take(&mut self.used);
                    self.conn.send(self.id, &Request::Credit { n }).await?;
                }
                Ok(Some(Bytes::from(d)))
            }
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

/// Reads frames off the exec's stdout and hands each to the request it answers.
async fn read_loop(
    mut output: Pin<
        Box<
            dyn futures_util::Stream<
                    Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
                > + Send,
        >,
    >,
    mut buf: Vec<u8>,
    pending: Pending,
    alive: Arc<AtomicBool>,
) {
    'outer: loop {
        let mut used = 0;
        loop {
            match decode_frame(&buf[used..]) {
                Ok(Some((f, len))) => {
                    used += len;
                    let Ok(resp) = Response::decode(f.kind, f.body) else {
                        break 'outer;
                    };
                    let tx = pending.lock().ok().and_then(|p| p.get(&f.id).cloned());
                    if let Some(tx) = tx {
                        let _ = tx.send(resp);
                    }
                }
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
        buf.drain(..used);
        match output.next().await {
            Some(Ok(bollard::container::LogOutput::StdOut { message })) => {
                buf.extend_from_slice(&message)
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    alive.store(false, Ordering::SeqCst);
    if let Ok(mut p) = pending.lock() {
        p.clear(); // every waiting request sees Gone
    }
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
fn random() -> u64 {
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

    #[test]
    fn an_agent_is_embedded() {
        assert!(binary_for("amd64").is_some_and(|b| b.starts_with(b"\x7fELF")));
        assert!(binary_for("arm64").is_none());
        assert!(!BUILD_ID.is_empty());
    }
}
