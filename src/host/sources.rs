//! Which Docker engines dockerbox talks to (how to reach each is `connect.rs`).
//!
//! [`resolve`] turns the command line and the environment into a list of [`EngineSpec`]s, the way
//! the docker CLI picks its one engine, first match wins:
//!
//! 1. `--host [NAME=]URL`, `--context NAME` and `--all-contexts`. Unlike the docker CLI (which
//!    refuses `-H` with `--context`) these combine: dockerbox shows several engines at once, in
//!    the order given (`--host`s, then `--context`s, then every context, sorted by name).
//! 2. `DOCKER_HOST` (with `DOCKER_TLS_VERIFY`, `DOCKER_TLS` and `DOCKER_CERT_PATH`).
//! 3. `DOCKER_CONTEXT`.
//! 4. `currentContext` in `$DOCKER_CONFIG/config.json` (`~/.docker` by default).
//! 5. The local socket, `unix:///var/run/docker.sock`.
//!
//! The context named `default` is always the engine of steps 2 and 5, as in the docker CLI.
//! `connect::connect` makes a bollard client for a spec.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::ssh;

/// The engine the docker CLI calls `default`: `DOCKER_HOST`, or the local socket.
pub const DEFAULT_NAME: &str = "default";

/// Where the docker daemon listens unless told otherwise.
const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";

/// The docker CLI's default engine when TLS is on and no host is given.
const DEFAULT_TLS_HOST: &str = "tcp://localhost:2376";

/// The docker CLI's port for a `tcp://` address without one (even with TLS, as there).
const DEFAULT_TCP_PORT: u16 = 2375;

/// What the command line asked for, before any lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Raw `--host` values: `URL` or `NAME=URL`.
    pub hosts: Vec<String>,
    /// `--context` values.
    pub contexts: Vec<String>,
    /// `--all-contexts`: every context in the docker CLI's store, plus `default`.
    pub all_contexts: bool,
}

/// One engine to show, under `/containers/NAME` (or `/containers/HOST/...` with several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSpec {
    /// A valid, unique path component.
    pub name: String,
    /// Normalised: `unix:///path`, `tcp://host:port[/path]` or `ssh://[user@]host[:port][/path]`.
    pub addr: String,
    /// Only ever set for `tcp://` addresses.
    pub tls: Option<TlsFiles>,
    pub origin: Origin,
}

/// TLS material for a `tcp://` engine, as the docker CLI would use it.
///
/// `cert` and `key` are both set or both unset: a client certificate needs the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA to check the engine against, besides the system's roots.
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// False for a context's `SkipTLSVerify`, or `DOCKER_TLS` without `DOCKER_TLS_VERIFY`.
    pub verify: bool,
}

/// Why an engine is in the list, for error messages and `ls -l`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--host`.
    Host,
    /// `--context`.
    Context,
    /// `--all-contexts`.
    AllContexts,
    /// `DOCKER_HOST`.
    DockerHost,
    /// `DOCKER_CONTEXT`.
    DockerContext,
    /// `currentContext` in the docker CLI's config.json (`docker context use`).
    CurrentContext,
    /// Nothing configured.
    Default,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Host => "--host",
            Origin::Context => "--context",
            Origin::AllContexts => "--all-contexts",
            Origin::DockerHost => "DOCKER_HOST",
            Origin::DockerContext => "DOCKER_CONTEXT",
            Origin::CurrentContext => "current context",
            Origin::Default => "default",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the engines could not be worked out. Printed after `dockerbox: `.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceError {
    /// A `--host` value that is neither `URL` nor `NAME=URL`.
    #[error("--host {value:?}: {reason}")]
    Host { value: String, reason: String },
    /// A bad `DOCKER_HOST` (or another variable).
    #[error("{var}={value:?}: {reason}")]
    Env {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("context {name:?} does not exist")]
    NoSuchContext { name: String },
    /// A context that exists but cannot be used.
    #[error("context {name:?}: {reason}")]
    Context { name: String, reason: String },
    /// An unreadable or malformed file of the docker CLI's configuration.
    #[error("{}: {reason}", path.display())]
    Config { path: PathBuf, reason: String },
    #[error("two engines are named {name:?}: name them with --host NAME=URL")]
    DuplicateName { name: String },
    #[error("cannot find the docker CLI's configuration: neither DOCKER_CONFIG nor HOME is set")]
    NoConfigDir,
}

/// The engines `req` and the environment ask for, in order; never empty.
///
/// `env` reads an environment variable and `home` is the home directory, so tests need not touch
/// the process's. The only I/O is reading the docker CLI's configuration (config.json, contexts
/// and whether their TLS files exist).
pub fn resolve(
    req: &Request,
    env: &dyn Fn(&str) -> Option<OsString>,
    home: Option<&Path>,
) -> Result<Vec<EngineSpec>, SourceError> {
    let cx = Lookup::new(env, home);
    let mut specs = Vec::new();
    if !req.hosts.is_empty() || !req.contexts.is_empty() || req.all_contexts {
        for raw in &req.hosts {
            specs.push(cx.host_flag(raw)?);
        }
        // One context asked for twice (`--context a --all-contexts`) is one engine.
        let mut seen = HashSet::new();
        for name in &req.contexts {
            if seen.insert(name.clone()) {
                specs.push(cx.context(name, Origin::Context)?);
            }
        }
        if req.all_contexts {
            for spec in cx.all_contexts()? {
                if seen.insert(spec.name.clone()) {
                    specs.push(spec);
                }
            }
        }
    } else if cx.var("DOCKER_HOST").is_some() {
        specs.push(cx.default_engine(Origin::DockerHost)?);
    } else if let Some(name) = cx.var("DOCKER_CONTEXT") {
        let name = name.to_string_lossy().into_owned();
        specs.push(cx.context(&name, Origin::DockerContext)?);
    } else if let Some(name) = cx.current_context()? {
        specs.push(cx.context(&name, Origin::CurrentContext)?);
    } else {
        specs.push(cx.default_engine(Origin::Default)?);
    }
    let mut names = HashSet::new();
    for spec in &specs {
        if !names.insert(spec.name.as_str()) {
            return Err(SourceError::DuplicateName {
                name: spec.name.clone(),
            });
        }
    }
    Ok(specs)
}

/// `No such file or directory`, without Rust's ` (os error 2)`.
fn io_text(e: &io::Error) -> String {
    super::connect::strip_os_error(e.to_string())
}

/// The environment and the docker CLI's configuration directory, read once per [`resolve`].
struct Lookup<'a> {
    env: &'a dyn Fn(&str) -> Option<OsString>,
    /// `$DOCKER_CONFIG`, else `~/.docker`; None without either.
    config: Option<PathBuf>,
}

/// What a context's meta.json says about its docker endpoint.
struct Meta {
    name: String,
    /// None when the context has no docker endpoint (a Kubernetes-only context, say).
    docker: Option<(String, bool)>,
}

impl<'a> Lookup<'a> {
    fn new(env: &'a dyn Fn(&str) -> Option<OsString>, home: Option<&Path>) -> Lookup<'a> {
        let config = match env("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
            Some(dir) => Some(PathBuf::from(dir)),
            None => home.map(|h| h.join(".docker")),
        };
        Lookup { env, config }
    }

    /// A variable that is set and not empty, as the docker CLI reads them.
    fn var(&self, name: &str) -> Option<OsString> {
        (self.env)(name).filter(|v| !v.is_empty())
    }

    fn config_dir(&self) -> Result<&Path, SourceError> {
        self.config.as_deref().ok_or(SourceError::NoConfigDir)
    }

    /// `--host URL` or `--host NAME=URL`.
    ///
    /// A bare URL is named after its host (`tcp://10.0.0.5:2376` is `10.0.0.5`, `ssh://me@box`
    /// is `box`), or after its socket file (`unix:///run/podman/podman.sock` is `podman`), and
    /// the standard socket is `default`, as the docker CLI calls it.
    fn host_flag(&self, raw: &str) -> Result<EngineSpec, SourceError> {
        let bad = |reason: String| SourceError::Host {
            value: raw.to_string(),
            reason,
        };
        // An `=` inside a URL (`unix:///tmp/a=b.sock`) comes after its `://`.
        let (name, url) = match raw.split_once('=') {
            Some((name, url)) if !name.contains("://") => (Some(name), url),
            _ => (None, raw),
        };
        if url.trim().is_empty() {
            return Err(bad("no address (use --host NAME=URL)".to_string()));
        }
        let addr = parse_addr(url).map_err(bad)?;
        let name = match name {
            Some(name) => name.to_string(),
            None => default_name(&addr),
        };
        check_name(&name).map_err(|reason| bad(format!("invalid name {name:?}: {reason}")))?;
        let tls = self.env_tls(&addr)?;
        Ok(EngineSpec {
            name,
            addr,
            tls,
            origin: Origin::Host,
        })
    }

    /// The engine the docker CLI calls `default`: `DOCKER_HOST`, else `tcp://localhost:2376`
    /// when TLS is asked for, else the local socket.
    fn default_engine(&self, origin: Origin) -> Result<EngineSpec, SourceError> {
        let addr = match self.var("DOCKER_HOST") {
            Some(value) => {
                let bad = |reason: String| SourceError::Env {
                    var: "DOCKER_HOST",
                    value: value.to_string_lossy().into_owned(),
                    reason,
                };
                let text = value
                    .to_str()
                    .ok_or_else(|| bad("not valid UTF-8".to_string()))?;
                parse_addr(text).map_err(bad)?
            }
            None if self.tls_wanted() => DEFAULT_TLS_HOST.to_string(),
            None => DEFAULT_SOCKET.to_string(),
        };
        let tls = self.env_tls(&addr)?;
        Ok(EngineSpec {
            name: DEFAULT_NAME.to_string(),
            addr,
            tls,
            origin,
        })
    }

    /// `DOCKER_TLS_VERIFY` turns TLS on and verifies; `DOCKER_TLS` alone turns it on without.
    fn tls_wanted(&self) -> bool {
        self.var("DOCKER_TLS_VERIFY").is_some() || self.var("DOCKER_TLS").is_some()
    }

    /// TLS from the environment, for a `tcp://` engine given by `--host` or `DOCKER_HOST`.
    ///
    /// As the docker CLI: files come from `DOCKER_CERT_PATH` (else the config directory); the
    /// CA is expected whether or not it exists, the client certificate only if it does.
    fn env_tls(&self, addr: &str) -> Result<Option<TlsFiles>, SourceError> {
        if !addr.starts_with("tcp://") || !self.tls_wanted() {
            return Ok(None);
        }
        let dir = match self.var("DOCKER_CERT_PATH") {
            Some(dir) => PathBuf::from(dir),
            None => self.config_dir()?.to_path_buf(),
        };
        let (cert, key) = client_cert(&dir);
        Ok(Some(TlsFiles {
            ca: Some(dir.join("ca.pem")),
            cert,
            key,
            verify: self.var("DOCKER_TLS_VERIFY").is_some(),
        }))
    }

    /// The current context from config.json; None when unset or `default`.
    fn current_context(&self) -> Result<Option<String>, SourceError> {
        let Some(dir) = self.config.as_deref() else {
            return Ok(None);
        };
        let path = dir.join("config.json");
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(SourceError::Config {
                    reason: io_text(&e),
                    path,
                })
            }
        };
        let json: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| SourceError::Config {
                reason: format!("invalid JSON: {e}"),
                path: path.clone(),
            })?;
        Ok(match json.get("currentContext") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(name)) if name.is_empty() || name == DEFAULT_NAME => {
                None
            }
            Some(serde_json::Value::String(name)) => Some(name.clone()),
            Some(_) => {
                return Err(SourceError::Config {
                    reason: "currentContext is not a string".to_string(),
                    path,
                })
            }
        })
    }

    /// The context `name`, found where the docker CLI keeps it: under the hex SHA-256 of its
    /// name, `contexts/meta/ID/meta.json`, with TLS files in `contexts/tls/ID/docker/`.
    fn context(&self, name: &str, origin: Origin) -> Result<EngineSpec, SourceError> {
        if name == DEFAULT_NAME {
            return self.default_engine(origin);
        }
        let id = sha256_hex(name.as_bytes());
        let path = self
            .config_dir()?
            .join("contexts/meta")
            .join(&id)
            .join("meta.json");
        let meta = match std::fs::read(&path) {
            Ok(bytes) => parse_meta(&bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SourceError::NoSuchContext {
                    name: name.to_string(),
                })
            }
            Err(e) => Err(format!("{}: {}", path.display(), io_text(&e))),
        }
        .map_err(|reason| SourceError::Context {
            name: name.to_string(),
            reason,
        })?;
        self.context_spec(name, &id, meta.docker, origin)
    }

    /// Every context in the store with a docker endpoint, plus `default`, sorted by name as
    /// `docker context ls` lists them.
    fn all_contexts(&self) -> Result<Vec<EngineSpec>, SourceError> {
        let mut specs = vec![self.default_engine(Origin::AllContexts)?];
        let dir = self.config_dir()?.join("contexts/meta");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(specs),
            Err(e) => {
                return Err(SourceError::Config {
                    reason: io_text(&e),
                    path: dir,
                })
            }
        };
        for entry in entries {
            let entry = entry.map_err(|e| SourceError::Config {
                reason: io_text(&e),
                path: dir.clone(),
            })?;
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let path = entry.path().join("meta.json");
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                // A directory without meta.json is no context: docker skips those too.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(SourceError::Config {
                        reason: io_text(&e),
                        path,
                    })
                }
            };
            let meta = parse_meta(&bytes).map_err(|reason| SourceError::Config {
                reason,
                path: path.clone(),
            })?;
            if meta.docker.is_none() || meta.name == DEFAULT_NAME {
                continue;
            }
            check_name(&meta.name).map_err(|reason| SourceError::Config {
                reason: format!("invalid context name {:?}: {reason}", meta.name),
                path: path.clone(),
            })?;
            let id = entry.file_name().to_string_lossy().into_owned();
            specs.push(self.context_spec(&meta.name, &id, meta.docker, Origin::AllContexts)?);
        }
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(specs)
    }

    /// A context's engine. As the docker CLI, TLS applies to `tcp://` only, and is on when the
    /// context has TLS files or skips verification.
    fn context_spec(
        &self,
        name: &str,
        id: &str,
        docker: Option<(String, bool)>,
        origin: Origin,
    ) -> Result<EngineSpec, SourceError> {
        let bad = |reason: String| SourceError::Context {
            name: name.to_string(),
            reason,
        };
        let (host, skip_verify) =
            docker.ok_or_else(|| bad("it has no docker endpoint".to_string()))?;
        let addr = if host.is_empty() {
            DEFAULT_SOCKET.to_string()
        } else {
            parse_addr(&host).map_err(|r| bad(format!("invalid address {host:?}: {r}")))?
        };
        let mut tls = None;
        if addr.starts_with("tcp://") {
            let dir = self
                .config_dir()?
                .join("contexts/tls")
                .join(id)
                .join("docker");
            let ca = Some(dir.join("ca.pem")).filter(|p| p.exists());
            let (cert, key) = client_cert(&dir);
            if ca.is_some() || cert.is_some() || skip_verify {
                tls = Some(TlsFiles {
                    ca,
                    cert,
                    key,
                    verify: !skip_verify,
                });
            }
        }
        Ok(EngineSpec {
            name: name.to_string(),
            addr,
            tls,
            origin,
        })
    }
}

/// `cert.pem` and `key.pem` in `dir` if both exist: half a client certificate is none.
fn client_cert(dir: &Path) -> (Option<PathBuf>, Option<PathBuf>) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert.exists() && key.exists() {
        (Some(cert), Some(key))
    } else {
        (None, None)
    }
}

/// The name and docker endpoint in a context's meta.json:
/// `{"Name":"x","Endpoints":{"docker":{"Host":"tcp://...","SkipTLSVerify":false}}}`.
fn parse_meta(bytes: &[u8]) -> Result<Meta, String> {
    use serde_json::Value;
    let json: Value = serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    let name = json.get("Name").and_then(Value::as_str).unwrap_or_default();
    let docker = json
        .get("Endpoints")
        .and_then(|e| e.get("docker"))
        .filter(|d| d.is_object())
        .map(|d| {
            let host = d.get("Host").and_then(Value::as_str).unwrap_or_default();
            let skip = d
                .get("SkipTLSVerify")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            (host.to_string(), skip)
        });
    Ok(Meta {
        name: name.to_string(),
        docker,
    })
}

/// An engine name must be one path component of `/containers`.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("empty")
    } else if name == "." || name == ".." {
        Err("not a directory name")
    } else if name.contains('/') {
        Err("contains '/'")
    } else if name.contains('\0') {
        Err("contains a NUL byte")
    } else {
        Ok(())
    }
}

/// The name of an engine given by a bare `--host URL` (see [`Lookup::host_flag`]).
fn default_name(addr: &str) -> String {
    if let Some(path) = addr.strip_prefix("unix://") {
        if addr == DEFAULT_SOCKET || path == "/run/docker.sock" {
            return DEFAULT_NAME.to_string();
        }
        let file = path.rsplit('/').next().unwrap_or_default();
        let stem = file.strip_suffix(".sock").unwrap_or(file);
        return stem.to_string();
    }
    if addr.starts_with("ssh://") {
        return ssh::Target::parse(addr)
            .map(|t| t.host().to_string())
            .unwrap_or_default();
    }
    let rest = addr.strip_prefix("tcp://").unwrap_or(addr);
    let hostport = rest.split('/').next().unwrap_or_default();
    match hostport.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default().to_string(),
        None => hostport.split(':').next().unwrap_or_default().to_string(),
    }
}

/// An engine address, normalised as the docker CLI's `ParseHost` does: `HOST[:PORT]` means
/// `tcp://`, a `tcp://` address gets port 2375 and host `localhost` when it has none, and
/// `unix://` alone is the standard socket. `http://` is taken for `tcp://`, as bollard does.
fn parse_addr(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let (scheme, rest) = raw.split_once("://").unwrap_or(("tcp", raw));
    match scheme {
        "tcp" | "http" => parse_tcp(rest),
        "unix" => {
            if rest.contains("://") {
                Err("invalid socket path".to_string())
            } else if rest.is_empty() {
                Ok(DEFAULT_SOCKET.to_string())
            } else {
                Ok(format!("unix://{rest}"))
            }
        }
        "ssh" => ssh::Target::parse(raw).map(|_| raw.to_string()),
        "npipe" | "fd" => Err(format!("{scheme}:// is not supported here")),
        _ => Err(format!(
            "unsupported scheme {scheme:?} (use unix://, tcp:// or ssh://)"
        )),
    }
}

/// `HOST[:PORT][/PATH]` after `tcp://`.
fn parse_tcp(rest: &str) -> Result<String, String> {
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let (host, port) = match hostport.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| "missing ']' after an IPv6 address".to_string())?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(format!("unexpected {after:?} after ']'")),
                },
            }
        }
        None => match hostport.split_once(':') {
            Some((_, port)) if port.contains(':') => {
                return Err("write an IPv6 address in brackets: tcp://[::1]:2375".to_string())
            }
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        },
    };
    let host = if host.is_empty() { "localhost" } else { host };
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '%');
    if !host.chars().all(valid) {
        return Err(format!("invalid host {host:?}"));
    }
    let port = match port {
        None | Some("") => DEFAULT_TCP_PORT,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err(format!("invalid port {text:?}")),
        },
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Ok(format!("tcp://{host}:{port}{path}"))
}

/// Hex SHA-256, the id under which the docker CLI stores a context (ring's, already in the
/// build for rustls).
fn sha256_hex(data: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::fs;

    /// A docker CLI configuration directory in a temp dir, plus a home beside it.
    struct Fixture {
        root: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            let root = tempfile::tempdir().expect("tempdir");
            fs::create_dir_all(root.path().join("cfg")).expect("mkdir");
            fs::create_dir_all(root.path().join("home")).expect("mkdir");
            Fixture { root }
        }

        fn cfg(&self) -> PathBuf {
            self.root.path().join("cfg")
        }

        fn home(&self) -> PathBuf {
            self.root.path().join("home")
        }

        /// A context as `docker context create NAME --docker host=HOST,...` writes it, with
        /// the TLS files named in `tls` (e.g. `["ca.pem"]`).
        fn context(&self, name: &str, host: &str, skip_verify: bool, tls: &[&str]) -> &Fixture {
            self.context_in(&self.cfg(), name, host, skip_verify, tls)
        }

        fn context_in(
            &self,
            cfg: &Path,
            name: &str,
            host: &str,
            skip_verify: bool,
            tls: &[&str],
        ) -> &Fixture {
            let id = sha256_hex(name.as_bytes());
            let meta = cfg.join("contexts/meta").join(&id);
            fs::create_dir_all(&meta).expect("mkdir");
            let json = format!(
                r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":{skip_verify}}}}}}}"#
            );
            fs::write(meta.join("meta.json"), json).expect("write meta.json");
            let dir = cfg.join("contexts/tls").join(&id).join("docker");
            for file in tls {
                fs::create_dir_all(&dir).expect("mkdir");
                fs::write(dir.join(file), "pem").expect("write tls file");
            }
            self
        }

        fn tls_dir(&self, name: &str) -> PathBuf {
            self.cfg()
                .join("contexts/tls")
                .join(sha256_hex(name.as_bytes()))
                .join("docker")
        }

        fn config_json(&self, json: &str) -> &Fixture {
            fs::write(self.cfg().join("config.json"), json).expect("write config.json");
            self
        }

        /// `resolve` with DOCKER_CONFIG pointing here, plus `vars`.
        fn resolve(
            &self,
            req: &Request,
            vars: &[(&str, &str)],
        ) -> Result<Vec<EngineSpec>, SourceError> {
            let mut all = vec![("DOCKER_CONFIG", self.cfg().to_string_lossy().into_owned())];
            all.extend(vars.iter().map(|(k, v)| (*k, v.to_string())));
            resolve_with(req, &all, Some(&self.home()))
        }
    }

    fn resolve_with(
        req: &Request,
        vars: &[(&str, String)],
        home: Option<&Path>,
    ) -> Result<Vec<EngineSpec>, SourceError> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        resolve(req, &|k| map.get(k).cloned(), home)
    }

    fn req(hosts: &[&str], contexts: &[&str], all_contexts: bool) -> Request {
        Request {
            hosts: hosts.iter().map(|s| s.to_string()).collect(),
            contexts: contexts.iter().map(|s| s.to_string()).collect(),
            all_contexts,
        }
    }

    /// Environment variables for one case.
    type Vars<'a> = &'a [(&'a str, &'a str)];
    /// (name, addr, origin) per engine.
    type Want<'a> = &'a [(&'a str, &'a str, Origin)];

    fn summary(specs: &[EngineSpec]) -> Vec<(String, String, Origin)> {
        specs
            .iter()
            .map(|s| (s.name.clone(), s.addr.clone(), s.origin))
            .collect()
    }

    fn owned(want: &[(&str, &str, Origin)]) -> Vec<(String, String, Origin)> {
        want.iter()
            .map(|(n, a, o)| (n.to_string(), a.to_string(), *o))
            .collect()
    }

    #[test]
    fn sha256_matches_known_digests() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
            // Written by `docker context create plain` (28.2.2).
            (
                b"plain",
                "a116c9ed46d6207734a43317d30fd88f52ac8634c37d904bbf4e41d865f90475",
            ),
            (
                &[b'a'; 1000],
                "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3",
            ),
        ];
        for (data, want) in cases {
            assert_eq!(sha256_hex(data), *want, "{}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn addresses_are_normalised_as_docker_does() {
        let ok = [
            ("tcp://1.2.3.4:2376", "tcp://1.2.3.4:2376"),
            ("1.2.3.4", "tcp://1.2.3.4:2375"),
            ("box:1234", "tcp://box:1234"),
            ("tcp://", "tcp://localhost:2375"),
            ("tcp://:2376", "tcp://localhost:2376"),
            ("tcp://h", "tcp://h:2375"),
            ("tcp://h:2375/", "tcp://h:2375"),
            ("tcp://h:2375/base", "tcp://h:2375/base"),
            ("tcp://[::1]:2376", "tcp://[::1]:2376"),
            ("tcp://[fe80::1%eth0]", "tcp://[fe80::1%eth0]:2375"),
            ("http://h:1", "tcp://h:1"),
            (" tcp://h:1 ", "tcp://h:1"),
            ("unix://", "unix:///var/run/docker.sock"),
            (
                "unix:///run/podman/podman.sock",
                "unix:///run/podman/podman.sock",
            ),
            ("ssh://me@box:2222", "ssh://me@box:2222"),
            ("ssh://box/run/docker.sock", "ssh://box/run/docker.sock"),
        ];
        for (raw, want) in ok {
            assert_eq!(parse_addr(raw).as_deref(), Ok(want), "{raw}");
        }
        let bad = [
            (
                "foo://x",
                "unsupported scheme \"foo\" (use unix://, tcp:// or ssh://)",
            ),
            (
                "https://x",
                "unsupported scheme \"https\" (use unix://, tcp:// or ssh://)",
            ),
            ("npipe:////./pipe/docker", "npipe:// is not supported here"),
            ("tcp://h:0", "invalid port \"0\""),
            ("tcp://h:65536", "invalid port \"65536\""),
            ("tcp://h:x", "invalid port \"x\""),
            (
                "tcp://::1",
                "write an IPv6 address in brackets: tcp://[::1]:2375",
            ),
            ("tcp://[::1", "missing ']' after an IPv6 address"),
            ("tcp://a b:1", "invalid host \"a b\""),
            ("unix://unix:///x", "invalid socket path"),
            ("ssh://", "hostname is empty"),
            (
                "ssh://me:secret@box",
                "plain-text password is not supported",
            ),
            (
                "ssh://box?x=1",
                "query parameters and fragments are not allowed",
            ),
            ("ssh://-oProxyCommand=x", "invalid user or host"),
            ("ssh://box:http", "invalid port \"http\""),
        ];
        for (raw, want) in bad {
            assert_eq!(parse_addr(raw), Err(want.to_string()), "{raw}");
        }
    }

    #[test]
    fn host_flag_names() {
        let cases = [
            ("web=tcp://10.0.0.5:2376", "web", "tcp://10.0.0.5:2376"),
            ("tcp://10.0.0.5:2376", "10.0.0.5", "tcp://10.0.0.5:2376"),
            ("10.0.0.5", "10.0.0.5", "tcp://10.0.0.5:2375"),
            ("tcp://[::1]:2375", "::1", "tcp://[::1]:2375"),
            ("ssh://me@box:22", "box", "ssh://me@box:22"),
            (
                "unix:///var/run/docker.sock",
                "default",
                "unix:///var/run/docker.sock",
            ),
            ("unix://", "default", "unix:///var/run/docker.sock"),
            (
                "unix:///run/docker.sock",
                "default",
                "unix:///run/docker.sock",
            ),
            (
                "unix:///run/podman/podman.sock",
                "podman",
                "unix:///run/podman/podman.sock",
            ),
            ("unix:///tmp/a=b.sock", "a=b", "unix:///tmp/a=b.sock"),
            ("x=unix:///tmp/a=b.sock", "x", "unix:///tmp/a=b.sock"),
            ("local=unix://", "local", "unix:///var/run/docker.sock"),
        ];
        let fx = Fixture::new();
        for (raw, name, addr) in cases {
            let got = fx.resolve(&req(&[raw], &[], false), &[]).expect(raw);
            assert_eq!(summary(&got), owned(&[(name, addr, Origin::Host)]), "{raw}");
            assert_eq!(got[0].tls, None, "{raw}");
        }
    }

    #[test]
    fn bad_hosts_are_refused_clearly() {
        let fx = Fixture::new();
        let cases: &[(&[&str], &str)] = &[
            (
                &["=tcp://x"],
                r#"--host "=tcp://x": invalid name "": empty"#,
            ),
            (
                &["a/b=tcp://x"],
                r#"--host "a/b=tcp://x": invalid name "a/b": contains '/'"#,
            ),
            (
                &["..=tcp://x"],
                r#"--host "..=tcp://x": invalid name "..": not a directory name"#,
            ),
            (
                &["web="],
                r#"--host "web=": no address (use --host NAME=URL)"#,
            ),
            (&[""], r#"--host "": no address (use --host NAME=URL)"#),
            (
                &["web=ftp://x"],
                r#"--host "web=ftp://x": unsupported scheme "ftp" (use unix://, tcp:// or ssh://)"#,
            ),
            (
                &["unix:///x/.sock"],
                r#"--host "unix:///x/.sock": invalid name "": empty"#,
            ),
            (
                &["tcp://h:1", "tcp://h:2"],
                r#"two engines are named "h": name them with --host NAME=URL"#,
            ),
            (
                &["a=tcp://h:1", "a=tcp://g:1"],
                r#"two engines are named "a": name them with --host NAME=URL"#,
            ),
        ];
        for (hosts, want) in cases {
            let err = fx.resolve(&req(hosts, &[], false), &[]).expect_err(want);
            assert_eq!(err.to_string(), *want);
        }
    }

    #[test]
    fn precedence_follows_the_docker_cli() {
        let fx = Fixture::new();
        fx.context("ctxa", "tcp://a:1", false, &[])
            .context("ctxb", "tcp://b:2", false, &[])
            .context("cur", "tcp://cur:3", false, &[])
            .config_json(r#"{"auths":{},"currentContext":"cur"}"#);
        use Origin::*;
        let sock = "unix:///var/run/docker.sock";
        let cases: &[(Request, Vars, Want)] = &[
            (
                req(&[], &[], false),
                &[],
                &[("cur", "tcp://cur:3", CurrentContext)],
            ),
            (
                req(&[], &[], false),
                &[("DOCKER_CONTEXT", "ctxa")],
                &[("ctxa", "tcp://a:1", DockerContext)],
            ),
            (
                req(&[], &[], false),
                &[("DOCKER_HOST", "tcp://h:9"), ("DOCKER_CONTEXT", "ctxa")],
                &[("default", "tcp://h:9", DockerHost)],
            ),
            // Empty is unset, as in the docker CLI.
            (
                req(&[], &[], false),
                &[("DOCKER_HOST", ""), ("DOCKER_CONTEXT", "ctxa")],
                &[("ctxa", "tcp://a:1", DockerContext)],
            ),
            (
                req(&[], &[], false),
                &[("DOCKER_CONTEXT", "default")],
                &[("default", sock, DockerContext)],
            ),
            (
                req(&[], &["ctxb"], false),
                &[("DOCKER_HOST", "tcp://h:9"), ("DOCKER_CONTEXT", "ctxa")],
                &[("ctxb", "tcp://b:2", Context)],
            ),
            (
                req(&["x=tcp://x:1"], &[], false),
                &[("DOCKER_HOST", "tcp://h:9"), ("DOCKER_CONTEXT", "ctxa")],
                &[("x", "tcp://x:1", Host)],
            ),
            // Flags combine, --hosts first.
            (
                req(&["x=tcp://x:1"], &["ctxb", "ctxa"], false),
                &[],
                &[
                    ("x", "tcp://x:1", Host),
                    ("ctxb", "tcp://b:2", Context),
                    ("ctxa", "tcp://a:1", Context),
                ],
            ),
            // The context `default` is DOCKER_HOST, else the socket.
            (
                req(&[], &["default"], false),
                &[("DOCKER_HOST", "tcp://h:9")],
                &[("default", "tcp://h:9", Context)],
            ),
            (
                req(&[], &["default"], false),
                &[],
                &[("default", sock, Context)],
            ),
            (
                req(&[], &[], true),
                &[],
                &[
                    ("ctxa", "tcp://a:1", AllContexts),
                    ("ctxb", "tcp://b:2", AllContexts),
                    ("cur", "tcp://cur:3", AllContexts),
                    ("default", sock, AllContexts),
                ],
            ),
            // A context asked for twice is listed once, where first asked for.
            (
                req(&[], &["cur", "cur"], true),
                &[],
                &[
                    ("cur", "tcp://cur:3", Context),
                    ("ctxa", "tcp://a:1", AllContexts),
                    ("ctxb", "tcp://b:2", AllContexts),
                    ("default", sock, AllContexts),
                ],
            ),
        ];
        for (request, vars, want) in cases {
            let got = fx.resolve(request, vars).expect("resolve");
            assert_eq!(summary(&got), owned(want), "{request:?} {vars:?}");
        }
    }

    #[test]
    fn without_a_current_context_the_local_socket() {
        let sock = "unix:///var/run/docker.sock";
        let configs = [
            None,
            Some(r#"{"auths":{}}"#),
            Some(r#"{"currentContext":"default"}"#),
            Some(r#"{"currentContext":""}"#),
        ];
        for config in configs {
            let fx = Fixture::new();
            if let Some(json) = config {
                fx.config_json(json);
            }
            let got = fx.resolve(&Request::default(), &[]).expect("resolve");
            assert_eq!(
                summary(&got),
                owned(&[("default", sock, Origin::Default)]),
                "{config:?}"
            );
        }
        // No home and no DOCKER_CONFIG: no configuration to read, still the socket.
        let got = resolve_with(&Request::default(), &[], None).expect("resolve");
        assert_eq!(summary(&got), owned(&[("default", sock, Origin::Default)]));
    }

    #[test]
    fn docker_config_is_honoured_over_home() {
        let fx = Fixture::new();
        let in_home = fx.home().join(".docker");
        fs::create_dir_all(&in_home).expect("mkdir");
        fx.context_in(&in_home, "ctx", "tcp://home:1", false, &[]);
        fs::write(in_home.join("config.json"), r#"{"currentContext":"ctx"}"#).expect("write");
        fx.context("ctx", "tcp://cfg:1", false, &[])
            .config_json(r#"{"currentContext":"ctx"}"#);
        let home = fx.home();
        let got = resolve_with(&Request::default(), &[], Some(&home)).expect("resolve");
        assert_eq!(got[0].addr, "tcp://home:1");
        let got = fx.resolve(&Request::default(), &[]).expect("resolve");
        assert_eq!(got[0].addr, "tcp://cfg:1");
    }

    #[test]
    fn context_tls_files() {
        let fx = Fixture::new();
        fx.context(
            "full",
            "tcp://f:2376",
            false,
            &["ca.pem", "cert.pem", "key.pem"],
        )
        .context("caonly", "tcp://c:2376", false, &["ca.pem"])
        .context("certonly", "tcp://c:2376", false, &["cert.pem"])
        .context("skip", "tcp://s:2376", true, &[])
        .context("plain", "tcp://p:2375", false, &[])
        .context(
            "sshtls",
            "ssh://me@box",
            false,
            &["ca.pem", "cert.pem", "key.pem"],
        );
        let tls = |name: &str| {
            fx.resolve(&req(&[], &[name], false), &[]).expect(name)[0]
                .tls
                .clone()
        };
        let dir = fx.tls_dir("full");
        assert_eq!(
            tls("full"),
            Some(TlsFiles {
                ca: Some(dir.join("ca.pem")),
                cert: Some(dir.join("cert.pem")),
                key: Some(dir.join("key.pem")),
                verify: true,
            })
        );
        let ca = |name: &str| TlsFiles {
            ca: Some(fx.tls_dir(name).join("ca.pem")),
            cert: None,
            key: None,
            verify: true,
        };
        assert_eq!(tls("caonly"), Some(ca("caonly")));
        // Half a client certificate is none, and then nothing asks for TLS.
        assert_eq!(tls("certonly"), None);
        let skip = TlsFiles {
            ca: None,
            cert: None,
            key: None,
            verify: false,
        };
        assert_eq!(tls("skip"), Some(skip));
        assert_eq!(tls("plain"), None);
        assert_eq!(tls("sshtls"), None);
    }

    #[test]
    fn env_tls_as_the_docker_cli() {
        let fx = Fixture::new();
        let certs = fx.root.path().join("certs");
        fs::create_dir_all(&certs).expect("mkdir");
        for f in ["cert.pem", "key.pem"] {
            fs::write(certs.join(f), "pem").expect("write");
        }
        let certs_s = certs.to_string_lossy().into_owned();
        let with_client = TlsFiles {
            ca: Some(certs.join("ca.pem")),
            cert: Some(certs.join("cert.pem")),
            key: Some(certs.join("key.pem")),
            verify: true,
        };
        // The cert path defaults to the config directory, where there is no client cert.
        let in_cfg = TlsFiles {
            ca: Some(fx.cfg().join("ca.pem")),
            cert: None,
            key: None,
            verify: true,
        };
        let host_and_certs = [
            ("DOCKER_HOST", "tcp://h:2376"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", certs_s.as_str()),
        ];
        let certs_only = [
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", certs_s.as_str()),
        ];
        let cases: Vec<(Request, Vars, &str, Option<TlsFiles>)> = vec![
            (
                Request::default(),
                &host_and_certs,
                "tcp://h:2376",
                Some(with_client.clone()),
            ),
            (
                Request::default(),
                &[("DOCKER_HOST", "tcp://h:2376"), ("DOCKER_TLS_VERIFY", "1")],
                "tcp://h:2376",
                Some(in_cfg.clone()),
            ),
            // TLS with no host: docker's default TLS host.
            (
                Request::default(),
                &[("DOCKER_TLS_VERIFY", "1")],
                "tcp://localhost:2376",
                Some(in_cfg.clone()),
            ),
            // Any non-empty value turns it on, "0" too (as docker); empty does not.
            (
                Request::default(),
                &[("DOCKER_HOST", "tcp://h:2376"), ("DOCKER_TLS_VERIFY", "0")],
                "tcp://h:2376",
                Some(in_cfg.clone()),
            ),
            (
                Request::default(),
                &[("DOCKER_HOST", "tcp://h:2375"), ("DOCKER_TLS_VERIFY", "")],
                "tcp://h:2375",
                None,
            ),
            (
                Request::default(),
                &[("DOCKER_HOST", "tcp://h:2376"), ("DOCKER_TLS", "1")],
                "tcp://h:2376",
                Some(TlsFiles {
                    verify: false,
                    ..in_cfg.clone()
                }),
            ),
            // Sockets and ssh never use TLS.
            (
                Request::default(),
                &[
                    ("DOCKER_HOST", "unix:///s.sock"),
                    ("DOCKER_TLS_VERIFY", "1"),
                ],
                "unix:///s.sock",
                None,
            ),
            (
                Request::default(),
                &[("DOCKER_HOST", "ssh://box"), ("DOCKER_TLS_VERIFY", "1")],
                "ssh://box",
                None,
            ),
            // --host takes the environment's TLS too, as `docker -H`.
            (
                req(&["w=tcp://w:2376"], &[], false),
                &certs_only,
                "tcp://w:2376",
                Some(with_client),
            ),
        ];
        for (request, vars, addr, tls) in cases {
            let got = fx.resolve(&request, vars).expect("resolve");
            assert_eq!(got[0].addr, addr, "{vars:?}");
            assert_eq!(got[0].tls, tls, "{vars:?}");
        }
    }

    #[test]
    fn context_errors_are_clear() {
        let fx = Fixture::new();
        fx.context("kube", "", false, &[]);
        // A Kubernetes-only context: no docker endpoint.
        let kube_only = fx.cfg().join("contexts/meta").join(sha256_hex(b"k8s"));
        fs::create_dir_all(&kube_only).expect("mkdir");
        fs::write(
            kube_only.join("meta.json"),
            r#"{"Name":"k8s","Endpoints":{"kubernetes":{}}}"#,
        )
        .expect("write");
        let broken = fx.cfg().join("contexts/meta").join(sha256_hex(b"broken"));
        fs::create_dir_all(&broken).expect("mkdir");
        fs::write(broken.join("meta.json"), "{").expect("write");
        let cases: &[(Request, Vars, &str)] = &[
            (
                req(&[], &["nope"], false),
                &[],
                r#"context "nope" does not exist"#,
            ),
            (
                Request::default(),
                &[("DOCKER_CONTEXT", "nope")],
                r#"context "nope" does not exist"#,
            ),
            (
                req(&[], &["k8s"], false),
                &[],
                r#"context "k8s": it has no docker endpoint"#,
            ),
            (
                req(&[], &["broken"], false),
                &[],
                r#"context "broken": invalid JSON: EOF while parsing an object at line 1 column 1"#,
            ),
            (
                Request::default(),
                &[("DOCKER_HOST", "ftp://x")],
                r#"DOCKER_HOST="ftp://x": unsupported scheme "ftp" (use unix://, tcp:// or ssh://)"#,
            ),
        ];
        for (request, vars, want) in cases {
            let err = fx.resolve(request, vars).expect_err(want);
            assert_eq!(err.to_string(), *want);
        }
        // An empty Host is the local socket, as an empty DOCKER_HOST.
        let got = fx.resolve(&req(&[], &["kube"], false), &[]).expect("kube");
        assert_eq!(got[0].addr, "unix:///var/run/docker.sock");
        // --all-contexts reads every meta.json: a broken one is reported with its path.
        let err = fx.resolve(&req(&[], &[], true), &[]).expect_err("broken");
        assert_eq!(
            err.to_string(),
            format!(
                "{}: invalid JSON: EOF while parsing an object at line 1 column 1",
                broken.join("meta.json").display()
            )
        );
        fs::remove_dir_all(&broken).expect("rm");
        let got = fx.resolve(&req(&[], &[], true), &[]).expect("all");
        let names: Vec<&str> = got.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["default", "kube"],
            "k8s has no docker endpoint: skipped"
        );
        // A --host named like a context.
        let err = fx
            .resolve(&req(&["default=tcp://x:1"], &[], true), &[])
            .expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            r#"two engines are named "default": name them with --host NAME=URL"#
        );
    }

    #[test]
    fn config_errors_name_the_file() {
        let fx = Fixture::new();
        fx.config_json("{not json");
        let err = fx
            .resolve(&Request::default(), &[])
            .expect_err("bad config");
        assert_eq!(
            err.to_string(),
            format!(
                "{}: invalid JSON: key must be a string at line 1 column 2",
                fx.cfg().join("config.json").display()
            )
        );
        fx.config_json(r#"{"currentContext":"gone"}"#);
        let err = fx.resolve(&Request::default(), &[]).expect_err("gone");
        assert_eq!(err.to_string(), r#"context "gone" does not exist"#);
        // Contexts need a configuration directory.
        let err = resolve_with(&req(&[], &["x"], false), &[], None).expect_err("no dir");
        assert_eq!(err, SourceError::NoConfigDir);
    }
}
