//! A container's log stream for `logs [-f]`, as the engine sends it, never held back.
//!
//! Without a TTY the engine multiplexes stdout and stderr in frames (an 8-byte header, then the
//! payload) and bollard's decoder reads them exactly. A TTY container's log is the terminal's
//! raw bytes, which bollard's decoder (on a unix socket) holds until a newline arrives, and
//! misreads when a chunk starts with a byte 0-2 (ENGINE-FACTS). So for a TTY container on a unix
//! socket the request is made here, on a socket of its own, and the body (HTTP/1.1 chunked) is
//! passed on as it arrives. Following, even that is not enough: the log driver keeps a line that
//! has no newline yet (a prompt) out of the log until it ends, so `-f` on a TTY container
//! attaches to it instead (`attach?logs=1&stream=1`, output only: what the log holds, then the
//! terminal's bytes live). On other transports a TTY log goes through bollard (there it is not
//! held, but a chunk starting with a byte 0-2 may still be misread).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use bollard::query_parameters::LogsOptions;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::engine::Engine;
use super::error::EngineError;

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
        if let (true, Some(sock)) = (tty, self.addr().strip_prefix("unix://")) {
            return Ok(raw_logs(sock.to_string(), id.to_string(), follow));
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

/// The log of a TTY container, read from a socket of our own on a thread: every byte passed
/// on as it arrives.
fn raw_logs(
    sock: String,
    id: String,
    follow: bool,
) -> BoxStream<'static, Result<Bytes, EngineError>> {
    let (tx, rx) = mpsc::channel::<Result<Bytes, EngineError>>(8);
    std::thread::spawn(move || {
        if let Err(e) = read_raw(&sock, &id, follow, &tx) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
        .boxed()
}

fn read_raw(
    sock: &str,
    id: &str,
    follow: bool,
    tx: &mpsc::Sender<Result<Bytes, EngineError>>,
) -> Result<(), EngineError> {
    let io = |e: std::io::Error| EngineError::Other(format!("unix://{sock}: {e}"));
    let mut s = UnixStream::connect(sock).map_err(io)?;
    s.set_read_timeout(Some(POLL)).map_err(io)?;
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

/// An HTTP/1.1 response read from our socket.
struct Body<'t> {
    s: UnixStream,
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
