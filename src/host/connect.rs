//! How to reach an engine once it is chosen (`sources.rs`): a bollard client over a unix
//! socket, plain TCP, TLS through rustls, or ssh (`ssh.rs`). Nothing is sent until the client
//! is used, so most failures come with the first request.

use std::io;
use std::path::Path;

use bollard::Docker;

use super::sources::{EngineSpec, TlsFiles};
use super::ssh;

/// A bollard client for `spec`. Nothing is sent yet, so most failures (refused, unreachable,
/// TLS handshake) come with the first request; these are the ones found before. The text reads
/// after `cannot connect to ADDR: `.
pub fn connect(spec: &EngineSpec, timeout_secs: u64) -> Result<Docker, String> {
    let version = bollard::API_DEFAULT_VERSION;
    let addr = spec.addr.as_str();
    if addr.starts_with("unix://") {
        Docker::connect_with_unix(addr, timeout_secs, version).map_err(|e| reason(&e))
    } else if addr.starts_with("ssh://") {
        ssh::connect(addr, timeout_secs)
    } else if addr.starts_with("tcp://") {
        match &spec.tls {
            None => Docker::connect_with_http(addr, timeout_secs, version).map_err(|e| reason(&e)),
            Some(tls) => connect_tls(addr, tls, timeout_secs),
        }
    } else {
        Err("unsupported address (use unix://, tcp:// or ssh://)".to_string())
    }
}

fn connect_tls(addr: &str, tls: &TlsFiles, timeout_secs: u64) -> Result<Docker, String> {
    if !tls.verify {
        return Err(
            "TLS without certificate verification (skip-tls-verify, DOCKER_TLS) is not supported"
                .to_string(),
        );
    }
    for path in [&tls.ca, &tls.cert, &tls.key].into_iter().flatten() {
        std::fs::File::open(path).map_err(|e| format!("{}: {}", path.display(), io_text(&e)))?;
    }
    // bollard wants all three paths. An empty CA file adds nothing to the system's roots, and
    // an empty key means no client certificate is offered. (bollard trusts the system's roots
    // beside the CA, where the docker CLI trusts the CA alone.)
    let nothing = Path::new("/dev/null");
    let (cert, key) = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => (cert.as_path(), key.as_path()),
        (None, None) => (nothing, nothing),
        _ => return Err("a TLS client certificate needs both cert.pem and key.pem".to_string()),
    };
    let ca = tls.ca.as_deref().unwrap_or(nothing);
    Docker::connect_with_ssl(
        addr,
        key,
        cert,
        ca,
        timeout_secs,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|e| reason(&e))
}

/// The readable part of a bollard error (the same rule as the engine's).
pub fn reason(e: &bollard::errors::Error) -> String {
    use bollard::errors::Error as E;
    match e {
        E::SocketNotFoundError(_) => "No such file or directory".to_string(),
        E::RequestTimeoutError => "timed out".to_string(),
        E::CertPathError { path } => format!("{}: cannot read certificate", path.display()),
        E::CertParseError { path } => format!("{}: not a valid PEM file", path.display()),
        E::LoadNativeCertsErrors { .. } => "cannot load the system's CA certificates".to_string(),
        e => {
            // hyper nests the OS error; its innermost source is the readable part.
            let mut src: &dyn std::error::Error = e;
            while let Some(s) = src.source() {
                src = s;
            }
            strip_os_error(src.to_string())
        }
    }
}

/// `No such file or directory`, without Rust's ` (os error 2)`.
fn io_text(e: &io::Error) -> String {
    strip_os_error(e.to_string())
}

/// An error's text without Rust's ` (os error N)`.
pub(super) fn strip_os_error(text: String) -> String {
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::sources::Origin;
    use std::fs;

    fn spec(addr: &str, tls: Option<TlsFiles>) -> EngineSpec {
        EngineSpec {
            name: "e".to_string(),
            addr: addr.to_string(),
            tls,
            origin: Origin::Host,
        }
    }

    #[test]
    fn connect_builds_clients_lazily() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path();
        // Not PEM, so they add no certificate, but they can be read.
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            fs::write(dir.join(f), "").expect("write");
        }
        let files = TlsFiles {
            ca: Some(dir.join("ca.pem")),
            cert: Some(dir.join("cert.pem")),
            key: Some(dir.join("key.pem")),
            verify: true,
        };
        let sock = dir.join("docker.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
        let ok = [
            spec(&format!("unix://{}", sock.display()), None),
            spec("tcp://127.0.0.1:9", None),
            spec("tcp://127.0.0.1:9", Some(files.clone())),
            spec(
                "tcp://127.0.0.1:9",
                Some(TlsFiles {
                    ca: None,
                    cert: None,
                    key: None,
                    verify: true,
                }),
            ),
            spec("ssh://me@box:2222/run/docker.sock", None),
        ];
        for s in ok {
            assert!(connect(&s, 5).is_ok(), "{s:?}");
        }
        let missing = dir.join("nope.pem");
        let bad = [
            (
                spec("unix:///nonexistent.sock", None),
                "No such file or directory".to_string(),
            ),
            (
                spec("tcp://h:1", Some(TlsFiles { verify: false, ..files.clone() })),
                "TLS without certificate verification (skip-tls-verify, DOCKER_TLS) is not supported"
                    .to_string(),
            ),
            (
                spec("tcp://h:1", Some(TlsFiles { ca: Some(missing.clone()), ..files.clone() })),
                format!("{}: No such file or directory", missing.display()),
            ),
            (
                spec("tcp://h:1", Some(TlsFiles { key: None, ..files.clone() })),
                "a TLS client certificate needs both cert.pem and key.pem".to_string(),
            ),
            (spec("ssh://", None), "hostname is empty".to_string()),
            (
                spec("npipe:////./pipe/x", None),
                "unsupported address (use unix://, tcp:// or ssh://)".to_string(),
            ),
        ];
        for (s, want) in bad {
            assert_eq!(connect(&s, 5).err(), Some(want), "{s:?}");
        }
    }
}
