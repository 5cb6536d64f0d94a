//! `ssh://` engines, reached as the docker CLI reaches them: each connection is an
//! `ssh [-l USER] [-p PORT] -- HOST docker system dial-stdio` child whose stdin and stdout
//! carry the engine's HTTP. Connections are pooled, so a warm engine costs no new ssh.
//!
//! ssh runs with `BatchMode=yes`: dockerbox opens connections in the background (events,
//! agents), where a password prompt would garble the terminal, so keys must come from an agent
//! or an unencrypted file. When ssh fails, its last line on stderr is the error.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bollard::{BollardRequest, Docker};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

/// How long an idle connection (an ssh process) is kept for reuse.
const IDLE: Duration = Duration::from_secs(60);

/// How long to wait for ssh's stderr after a failed dial: an ssh ControlPersist master started
/// by the user's ssh config inherits that pipe and can hold it open for minutes.
const STDERR_GRACE: Duration = Duration::from_secs(2);

/// The parts of `ssh://[USER@]HOST[:PORT][/SOCKET]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    user: Option<String>,
    host: String,
    port: Option<u16>,
    /// The engine's socket on the remote host; empty for the remote docker CLI's default.
    socket: String,
}

impl Target {
    /// Checks `addr` as the docker CLI does: no password, query or fragment, a host.
    pub(super) fn parse(addr: &str) -> Result<Target, String> {
        let rest = addr
            .strip_prefix("ssh://")
            .ok_or_else(|| "not an ssh:// address".to_string())?;
        if rest.contains(['?', '#']) {
            return Err("query parameters and fragments are not allowed".to_string());
        }
        let (authority, socket) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((user, _)) if user.contains(':') => {
                return Err("plain-text password is not supported".to_string())
            }
            Some((user, hostport)) => (Some(user), hostport),
            None => (None, authority),
        };
        let (host, port) = match hostport.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((host, "")) => (host, None),
                Some((host, after)) => (host, Some(after.strip_prefix(':').unwrap_or(after))),
                None => return Err("missing ']' after an IPv6 address".to_string()),
            },
            None => match hostport.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            },
        };
        if host.is_empty() {
            return Err("hostname is empty".to_string());
        }
        // ssh gets these as arguments: nothing that it could take for an option or a space.
        let plain = |s: &str| {
            !s.starts_with('-') && !s.contains(|c: char| c.is_whitespace() || c.is_control())
        };
        if !plain(host) || !user.is_none_or(plain) || user == Some("") {
            return Err("invalid user or host".to_string());
        }
        let port = match port {
            None | Some("") => None,
            Some(text) => match text.parse::<u16>() {
                Ok(port) if port != 0 => Some(port),
                _ => return Err(format!("invalid port {text:?}")),
            },
        };
        let socket = if socket.trim_matches('/').is_empty() {
            String::new()
        } else {
            socket.to_string()
        };
        Ok(Target {
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
            socket,
        })
    }

    pub(super) fn host(&self) -> &str {
        &self.host
    }

    /// ssh's arguments, as the docker CLI builds them (plus BatchMode).
    pub(super) fn args(&self, timeout_secs: u64) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(user) = &self.user {
            args.extend(["-l".to_string(), user.clone()]);
        }
        if let Some(port) = self.port {
            args.extend(["-p".to_string(), port.to_string()]);
        }
        args.extend([
            "-o".to_string(),
            format!("ConnectTimeout={}", timeout_secs.max(1)),
            "-o".to_string(),
            "BatchMode=yes".to_string(),
            "-T".to_string(),
            "--".to_string(),
            self.host.clone(),
        ]);
        // The remote command goes through the remote user's shell.
        let remote = if self.socket.is_empty() {
            "docker system dial-stdio".to_string()
        } else {
            format!(
                "docker {} system dial-stdio",
                shell_quote(&format!("--host=unix://{}", self.socket))
            )
        };
        args.push(remote);
        args
    }
}

/// `s` as one word for a POSIX shell.
fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A client for the engine at `addr` (`ssh://...`); no ssh runs until the first request.
pub(super) fn connect(addr: &str, timeout_secs: u64) -> Result<Docker, String> {
    let target = Target::parse(addr)?;
    connect_via("ssh", target.args(timeout_secs), timeout_secs)
}

/// A client whose every connection is `program args...` (tests use a stand-in for ssh).
fn connect_via(program: &str, args: Vec<String>, timeout_secs: u64) -> Result<Docker, String> {
    let dialer = Dialer {
        program: program.into(),
        args: args.into(),
    };
    let client = Arc::new(
        Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE)
            .build(dialer),
    );
    let transport = move |req: BollardRequest| {
        let client = Arc::clone(&client);
        async move {
            client
                .request(req)
                .await
                .map_err(bollard::errors::Error::from)
        }
    };
    // The URL only names the pool; every connection goes to `target`.
    Docker::connect_with_custom_transport(
        transport,
        Some("http://docker"),
        timeout_secs,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|e| e.to_string())
}

/// Opens a connection: starts one ssh.
#[derive(Clone)]
struct Dialer {
    program: Arc<str>,
    args: Arc<[String]>,
}

impl tower_service::Service<http::Uri> for Dialer {
    type Response = TokioIo<SshStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Uri) -> Self::Future {
        let (program, args) = (Arc::clone(&self.program), Arc::clone(&self.args));
        Box::pin(async move { SshStream::spawn(&program, &args).map(TokioIo::new) })
    }
}

/// One ssh child as a byte stream: writes go to its stdin, reads come from its stdout.
struct SshStream {
    /// Killed when the connection is dropped.
    _child: Child,
    /// None once shut down: the remote end then sees EOF, as with a socket's write half.
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    stdout_done: bool,
    /// Whether stdout has carried anything: EOF before that is a failed dial.
    spoke: bool,
    /// Read only after a failed dial, for the reason.
    stderr: Option<ChildStderr>,
    errors: Vec<u8>,
    grace: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl SshStream {
    fn spawn(program: &str, args: &[String]) -> io::Result<SshStream> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => {
                    io::Error::new(e.kind(), format!("{program}: command not found"))
                }
                _ => e,
            })?;
        let (Some(stdin), Some(stdout), stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(io::Error::other("ssh: no pipes"));
        };
        Ok(SshStream {
            _child: child,
            stdin: Some(stdin),
            stdout,
            stdout_done: false,
            spoke: false,
            stderr,
            errors: Vec::new(),
            grace: None,
        })
    }

    /// Reads stderr to its end (or for [`STDERR_GRACE`]).
    fn poll_stderr(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let grace = self
            .grace
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(STDERR_GRACE)));
        while let Some(stderr) = self.stderr.as_mut() {
            let mut chunk = [0u8; 1024];
            let mut buf = ReadBuf::new(&mut chunk);
            match Pin::new(stderr).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    self.errors.extend_from_slice(buf.filled());
                    // The last lines say why; keep a bounded tail.
                    if self.errors.len() > 8192 {
                        self.errors.drain(..self.errors.len() - 4096);
                    }
                }
                Poll::Ready(_) => self.stderr = None,
                Poll::Pending if grace.as_mut().poll(cx).is_ready() => self.stderr = None,
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(())
    }
}

/// The last non-empty line of what ssh wrote to stderr.
fn last_line(text: &[u8]) -> Option<String> {
    String::from_utf8_lossy(text)
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(str::to_string)
}

impl AsyncRead for SshStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.stdout_done {
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.stdout).poll_read(cx, buf))?;
            if buf.filled().len() > before {
                this.spoke = true;
                return Poll::Ready(Ok(()));
            }
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            this.stdout_done = true;
        }
        if this.spoke {
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_stderr(cx));
        match last_line(&this.errors) {
            Some(line) => Poll::Ready(Err(io::Error::other(line))),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for SshStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = match this.stdin.as_mut() {
            Some(stdin) => ready!(Pin::new(stdin).poll_write(cx, buf)),
            None => Err(io::ErrorKind::BrokenPipe.into()),
        };
        match written {
            // ssh gave up before the request went out: what it said is the reason, not EPIPE.
            Err(e) if !this.spoke => {
                ready!(this.poll_stderr(cx));
                Poll::Ready(Err(match last_line(&this.errors) {
                    Some(line) => io::Error::other(line),
                    None => e,
                }))
            }
            r => Poll::Ready(r),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(stdin) = this.stdin.as_mut() {
            ready!(Pin::new(stdin).poll_flush(cx))?;
        }
        this.stdin = None;
        Poll::Ready(Ok(()))
    }
}

impl Connection for SshStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn args(addr: &str) -> Vec<String> {
        Target::parse(addr).expect(addr).args(20)
    }

    #[test]
    fn ssh_arguments_as_the_docker_cli() {
        let tail = |host: &str, remote: &str| -> Vec<String> {
            [
                "-o",
                "ConnectTimeout=20",
                "-o",
                "BatchMode=yes",
                "-T",
                "--",
                host,
                remote,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let plain = "docker system dial-stdio";
        let cases: Vec<(&str, Vec<String>)> = vec![
            ("ssh://box", tail("box", plain)),
            (
                "ssh://me@box:2222",
                [
                    vec!["-l".into(), "me".into(), "-p".into(), "2222".into()],
                    tail("box", plain),
                ]
                .concat(),
            ),
            (
                "ssh://[::1]:22",
                [vec!["-p".into(), "22".into()], tail("::1", plain)].concat(),
            ),
            ("ssh://box/", tail("box", plain)),
            (
                "ssh://box/run/user/1000/docker.sock",
                tail(
                    "box",
                    "docker --host=unix:///run/user/1000/docker.sock system dial-stdio",
                ),
            ),
            (
                "ssh://box/tmp/it's here.sock",
                tail(
                    "box",
                    r"docker '--host=unix:///tmp/it'\''s here.sock' system dial-stdio",
                ),
            ),
        ];
        for (addr, want) in cases {
            assert_eq!(args(addr), want, "{addr}");
        }
    }

    /// A stand-in for ssh: a shell script in a temp dir.
    fn script(dir: &tempfile::TempDir, body: &str) -> String {
        let path = dir.path().join("fake-ssh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("write script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path.to_string_lossy().into_owned()
    }

    #[tokio::test]
    async fn a_failed_dial_reports_what_ssh_said() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ssh = script(
            &dir,
            "echo 'Warning: ignored' >&2\n\
             echo 'ssh: Could not resolve hostname nohost: Name or service not known' >&2\n\
             exit 255\n",
        );
        let docker = connect_via(&ssh, vec![], 5).expect("client");
        let err = docker.ping().await.expect_err("dial fails");
        assert_eq!(
            super::super::connect::reason(&err),
            "ssh: Could not resolve hostname nohost: Name or service not known"
        );

        let docker = connect_via("/nonexistent/ssh", vec![], 5).expect("client");
        let err = docker.ping().await.expect_err("no ssh");
        assert_eq!(
            super::super::connect::reason(&err),
            "/nonexistent/ssh: command not found"
        );
    }

    #[tokio::test]
    async fn requests_share_one_ssh() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Answers every request (GETs: headers only) with 200 "OK", and counts its starts.
        let ssh = script(
            &dir,
            "echo start >> \"$0.starts\"\n\
             cr=$(printf '\\r')\n\
             while IFS= read -r line; do\n\
               if [ \"$line\" = \"$cr\" ]; then printf 'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nOK'; fi\n\
             done\n",
        );
        let docker = connect_via(&ssh, vec![], 5).expect("client");
        for _ in 0..3 {
            assert_eq!(docker.ping().await.expect("ping"), "OK");
        }
        let starts = std::fs::read_to_string(format!("{ssh}.starts")).expect("starts");
        assert_eq!(starts.lines().count(), 1);
    }
}
