//! A container's log stream for `logs [-f]`, as the engine sends it, never held back.
//!
//! Without a TTY the engine multiplexes stdout and stderr in frames (an 8-byte header, then the
//! payload) and bollard's decoder reads them exactly. A TTY container's log is the terminal's
//! raw bytes, which bollard's decoder (on a unix socket) holds until a newline arrives, and
//! misreads when a chunk starts with a byte 0-2 (ENGINE-FACTS). So for a TTY container the
//! request is made here, on a connection of its own ([`dial`]: the unix socket, plain TCP, TLS
//! through rustls with the engine's CA and client certificate, or `ssh ... docker system
//! dial-stdio` as for bollard), and the body (HTTP/1.1 chunked) is passed on as it arrives.
//! Following, even that is not enough: the log driver keeps a line that has no newline yet (a
//! prompt) out of the log until it ends, so `-f` on a TTY container attaches to it instead
//! (`attach?logs=1&stream=1`, output only: what the log holds, then the terminal's bytes live).
//! Only a TLS engine without a CA file of its own (trusting the system's roots) goes through
//! bollard (there a TTY's output is not held, but a chunk starting with a byte 0-2 may be
//! misread).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use bollard::query_parameters::LogsOptions;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::engine::Engine;
use super::error::{io_text, EngineError};
use super::sources::{EngineSpec, TlsFiles};

/// How long a read on our own log socket waits before looking whether anyone still listens.
const POLL: Duration = Duration::from_millis(250);

impl Engine {
    /// Container `id`'s log: what is there, and with `follow` what comes after, as chunks of
    /// the container's output (stdout and stderr in the engine's order).
    pub async fn log_stream(
        &self,
        id: &str,
        follow: bool,
    ) -> Result<BoxStream<'static, Result<Bytes, EngineError>>, EngineError> {
        let doc = self.inspect_now(id).await?;
        let tty = doc.config.as_ref().and_then(|c| c.tty).unwrap_or(false);
        if tty && dialable(self.spec()) {
            let secs = self.timeout().as_secs();
            return Ok(raw_logs(self.spec().clone(), secs, id.to_string(), follow));
        }
        let docker = self.client().await?.clone();
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            follow,
            ..Default::default()
        };
        let addr = self.addr().to_string();
        let id = id.to_string();
        Ok(futures_util::stream::once(async move {
            docker.logs(&id, Some(opts)).map(move |r| {
                r.map(super::objects::bytes_of).map_err(|e| match e {
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
                })
            })
        })
        .flatten()
        .boxed())
    }
}

/// A byte stream to the engine, of our own.
trait Duplex: Read + Write + Send {}
impl<T: Read + Write + Send> Duplex for T {}

/// Whether [`dial`] reaches this engine: all but TLS trusting the system's roots alone.
fn dialable(spec: &EngineSpec) -> bool {
    spec.tls.as_ref().is_none_or(|t| t.verify && t.ca.is_some())
}

/// A connection of our own to the engine, whose reads give up after [`POLL`] (so a reader can
/// look whether anyone still listens).
fn dial(spec: &EngineSpec, timeout_secs: u64) -> Result<Box<dyn Duplex>, String> {
    let addr = spec.addr.as_str();
    if let Some(sock) = addr.strip_prefix("unix://") {
        let s = UnixStream::connect(sock).map_err(|e| io_text(&e))?;
        s.set_read_timeout(Some(POLL)).map_err(|e| io_text(&e))?;
        return Ok(Box::new(s));
    }
    if addr.starts_with("ssh://") {
        let target = super::ssh::Target::parse(addr)?;
        return Ok(Box::new(SshPipe::spawn(&target.args(timeout_secs))?));
    }
    let hostport = addr
        .strip_prefix("tcp://")
        .map(|r| r.split('/').next().unwrap_or(r))
        .ok_or_else(|| "unsupported address".to_string())?;
    let tcp = TcpStream::connect(hostport).map_err(|e| io_text(&e))?;
    let Some(tls) = &spec.tls else {
        tcp.set_read_timeout(Some(POLL)).map_err(|e| io_text(&e))?;
        return Ok(Box::new(tcp));
    };
    // The handshake with the engine's own limit; then reads that give up after POLL.
    let limit = Duration::from_secs(timeout_secs.max(1));
    tcp.set_read_timeout(Some(limit)).map_err(|e| io_text(&e))?;
    let mut s = tls_over(tcp, hostport, tls)?;
    while s.conn.is_handshaking() {
        s.conn
            .complete_io(&mut s.sock)
            .map_err(|e| format!("TLS: {}", io_text(&e)))?;
    }
    s.sock
        .set_read_timeout(Some(POLL))
        .map_err(|e| io_text(&e))?;
    Ok(Box::new(s))
}

/// TLS as the docker CLI speaks it: the engine checked against the CA, our client certificate
/// offered when there is one.
fn tls_over(
    tcp: TcpStream,
    hostport: &str,
    tls: &TlsFiles,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let pem =
        |p: &std::path::Path, e: rustls::pki_types::pem::Error| format!("{}: {e}", p.display());
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = &tls.ca {
        for c in CertificateDer::pem_file_iter(ca).map_err(|e| pem(ca, e))? {
            roots
                .add(c.map_err(|e| pem(ca, e))?)
                .map_err(|e| format!("{}: {e}", ca.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let certs = CertificateDer::pem_file_iter(cert)
                .map_err(|e| pem(cert, e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| pem(cert, e))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem(key, e))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| e.to_string())?
        }
        _ => builder.with_no_client_auth(),
    };
    let host = match hostport.rsplit_once(':') {
        Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']'),
        None => hostport,
    };
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// `ssh ... docker system dial-stdio`: its stdin and stdout are the connection. Reads wait at
/// most [`POLL`]; ssh is killed when the connection is dropped.
struct SshPipe {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::process::ChildStdout,
}

impl SshPipe {
    fn spawn(args: &[String]) -> Result<SshPipe, String> {
        let mut child = std::process::Command::new("ssh")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("ssh: {}", io_text(&e)))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("ssh: no pipes".into());
        };
        Ok(SshPipe {
            child,
            stdin,
            stdout,
        })
    }
}

impl Read for SshPipe {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd {
            fd: self.stdout.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(POLL.as_millis()).unwrap_or(250);
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if n == 0 {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.stdout.read(buf)
    }
}

impl Write for SshPipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.stdin.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.stdin.flush()
    }
}

impl Drop for SshPipe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The log of a TTY container, read from a connection of our own on a thread: every byte
/// passed on as it arrives.
fn raw_logs(
    spec: EngineSpec,
    timeout_secs: u64,
    id: String,
    follow: bool,
) -> BoxStream<'static, Result<Bytes, EngineError>> {
    let (tx, rx) = mpsc::channel::<Result<Bytes, EngineError>>(8);
    std::thread::spawn(move || {
        if let Err(e) = read_raw(&spec, timeout_secs, &id, follow, &tx) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
        .boxed()
}

fn read_raw(
    spec: &EngineSpec,
    timeout_secs: u64,
    id: &str,
    follow: bool,
    tx: &mpsc::Sender<Result<Bytes, EngineError>>,
) -> Result<(), EngineError> {
    let addr = &spec.addr;
    let io = |e: std::io::Error| EngineError::Other(format!("{addr}: {}", io_text(&e)));
    let mut s = dial(spec, timeout_secs)
        .map_err(|e| EngineError::Other(format!("cannot connect to {addr}: {e}")))?;
    let follow = if follow { 1 } else { 0 };
    // The engine names containers with [a-zA-Z0-9_.-] and IDs in hex: nothing to escape.
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        return Err(EngineError::NoSuchContainer);
    }
    if follow == 1 {
        // What the log holds (whole lines: the log driver keeps a line until its newline),
        // then the terminal's bytes live, as they come.
        write!(
            s,
            "POST /containers/{id}/attach?logs=1&stream=1&stdout=1&stderr=1 HTTP/1.1\r\n\
             Host: docker\r\nUser-Agent: dockerbox\r\nConnection: Upgrade\r\n\
             Upgrade: tcp\r\nContent-Length: 0\r\n\r\n"
        )
    } else {
        write!(
            s,
            "GET /containers/{id}/logs?stdout=1&stderr=1 HTTP/1.1\r\n\
             Host: docker\r\nUser-Agent: dockerbox\r\n\r\n"
        )
    }
    .map_err(io)?;
    let mut r = Body {
        s,
        buf: BytesMut::with_capacity(64 * 1024),
        tx,
    };
    let head = r.head()?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .unwrap_or(0);
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if status != 200 && status != 101 {
        let mut body = Vec::new();
        let _ = r.each(chunked, |b| {
            body.extend_from_slice(b);
            body.len() < 4096
        });
        let text = String::from_utf8_lossy(&body);
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("message")?.as_str().map(str::to_string))
            .unwrap_or_else(|| text.trim().to_string());
        return Err(match status {
            404 => EngineError::NoSuchContainer,
            _ => EngineError::Server { status, message },
        });
    }
    r.each(chunked, |b| r_send(tx, Bytes::copy_from_slice(b)))
}

/// Sends a chunk on; false when nobody listens any more.
fn r_send(tx: &mpsc::Sender<Result<Bytes, EngineError>>, b: Bytes) -> bool {
    tx.blocking_send(Ok(b)).is_ok()
}

/// An HTTP/1.1 response read from our connection.
struct Body<'t> {
    s: Box<dyn Duplex>,
    buf: BytesMut,
    tx: &'t mpsc::Sender<Result<Bytes, EngineError>>,
}

impl Body<'_> {
    /// Reads more into the buffer; `Ok(false)` at the end of the stream. A read that times out
    /// is retried while someone listens.
    fn fill(&mut self) -> Result<bool, EngineError> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.s.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    if self.tx.is_closed() {
                        return Ok(false);
                    }
                }
                Err(e) => return Err(EngineError::Other(e.to_string())),
            }
        }
    }

    /// The status line and headers.
    fn head(&mut self) -> Result<String, EngineError> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = self.buf.split_to(end + 4);
                return Ok(String::from_utf8_lossy(&head).into_owned());
            }
            if self.buf.len() > 64 * 1024 || !self.fill()? {
                return Err(EngineError::Other(
                    "the engine's log response ended early".into(),
                ));
            }
        }
    }

    /// A line (a chunk's size) without its CRLF; `None` at the end of the stream.
    fn line(&mut self) -> Result<Option<String>, EngineError> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let l = self.buf.split_to(end + 2);
                return Ok(Some(String::from_utf8_lossy(&l[..end]).into_owned()));
            }
            if self.buf.len() > 4096 || !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Passes each piece of the body to `f` as it arrives, until the end or until `f` says
    /// stop. Chunked bodies are decoded; others run to the end of the stream.
    fn each(&mut self, chunked: bool, mut f: impl FnMut(&[u8]) -> bool) -> Result<(), EngineError> {
        if !chunked {
            loop {
                if !self.buf.is_empty() {
                    let b = self.buf.split();
                    if !f(&b) {
                        return Ok(());
                    }
                }
                if !self.fill()? {
                    return Ok(());
                }
            }
        }
        loop {
            let Some(size) = self.line()? else {
                return Ok(());
            };
            let hex = size.split(';').next().unwrap_or("").trim();
            let mut left = usize::from_str_radix(hex, 16)
                .map_err(|_| EngineError::Other(format!("bad chunk size in the log: {hex:?}")))?;
            if left == 0 {
                return Ok(());
            }
            while left > 0 {
                if self.buf.is_empty() && !self.fill()? {
                    return Ok(());
                }
                let n = left.min(self.buf.len());
                let piece = self.buf.split_to(n);
                left -= n;
                if !f(&piece) {
                    return Ok(());
                }
            }
            // The chunk's CRLF.
            while self.buf.len() < 2 {
                if !self.fill()? {
                    return Ok(());
                }
            }
            self.buf.advance(2);
        }
    }
}
