//! `/meta`: what the engine knows about each container, one small read-only file per field
//! (`/meta/containers/NAME/state`, `.../labels/KEY`, `.../inspect.json`, `.../logs`...), and
//! one writable file, `ctl`, that takes a lifecycle verb (`echo restart > .../ctl`).
//!
//! With several engines the containers are under `/meta/containers/HOST/NAME`, as in
//! `/containers`. Every file's mtime is when its value last changed as far as the engine says
//! (creation, start, finish), so `make` and `ls -lt` can use them. Fields are rendered from one
//! `docker inspect` per lookup (`render`, pure and unit-tested); `logs` is streamed from the
//! engine and `changes` is `docker diff`, both listed with size 0 (as `/proc` lists its files).
//! Writes anywhere but `ctl` fail with EROFS.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bollard::models::{ContainerInspectResponse, FilesystemChange};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::backend::{Backend, BoxFut};
use super::entry::parse_rfc3339;
use super::objdoc::{self, Of};
use super::stream::{ArchiveWriter, Attrs, FileReader, FileWriter};
use super::{Entry, FsError, Kind, Vfs};
use crate::host::{EngineError, Verb};

/// The longest line `ctl` takes.
const CTL_MAX: u64 = 256;

/// `/meta` (`vfs/mod.rs` routes every `VPath::Meta` here).
pub struct Meta<'v> {
    pub vfs: &'v Vfs,
}

/// The fields rendered from `docker inspect`, in listing order.
pub const FIELDS: &[&str] = &[
    "id",
    "name",
    "image",
    "image-id",
    "command",
    "created",
    "state",
    "started",
    "finished",
    "exit-code",
    "pid",
    "health",
    "restart-count",
    "ip",
    "ports",
    "mounts",
    "inspect.json",
];

/// Where a path in `/meta` points.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    /// `/meta` itself.
    Root,
    /// `/meta/containers`: the containers, or one directory per engine.
    Containers,
    /// `/meta/containers/HOST` (several engines).
    Engine(String),
    /// `/meta/containers/[HOST/]NAME/REST...`.
    Container {
        host: Option<String>,
        name: String,
        rest: Vec<OsString>,
    },
    /// `/meta/images/[HOST/]REF.../REST` or `/meta/volumes/[HOST/]NAME/REST` (`rest` holds
    /// all that follows the engine; the objects' own parsing splits it).
    Objects {
        of: Of,
        host: Option<String>,
        rest: Vec<OsString>,
    },
}

/// Parses a path inside `/meta` (`/` is `/meta`); `multi` is the `/containers` shape.
fn parse(path: &Path, multi: bool) -> Result<Node, FsError> {
    let mut parts = path.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        _ => None,
    });
    let utf8 = |s: OsString| s.into_string().map_err(|_| FsError::NotFound);
    match parts.next() {
        None => return Ok(Node::Root),
        Some(c) if c == "containers" => {}
        Some(c) if c == "images" || c == "volumes" => {
            let of = if c == "images" { Of::Image } else { Of::Volume };
            let host = match multi {
                true => parts.next().map(utf8).transpose()?,
                false => None,
            };
            return Ok(Node::Objects {
                of,
                host,
                rest: parts.collect(),
            });
        }
        Some(_) => return Err(FsError::NotFound),
    }
    let host = if multi {
        match parts.next() {
            None => return Ok(Node::Containers),
            Some(h) => Some(utf8(h)?),
        }
    } else {
        None
    };
    match (parts.next(), host) {
        (None, None) => Ok(Node::Containers),
        (None, Some(h)) => Ok(Node::Engine(h)),
        (Some(name), host) => Ok(Node::Container {
            host,
            name: utf8(name)?,
            rest: parts.collect(),
        }),
    }
}

/// When a container's values last changed, as the engine says (seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    pub created: i64,
    pub started: i64,
    pub finished: i64,
}

impl Times {
    pub fn of(doc: &ContainerInspectResponse) -> Times {
        // The engine's "never" is 0001-01-01T00:00:00Z.
        let t = |s: Option<&String>| s.and_then(|s| parse_rfc3339(s)).filter(|t| *t > 0);
        let created = t(doc.created.as_ref()).unwrap_or(0);
        let state = doc.state.as_ref();
        Times {
            created,
            started: t(state.and_then(|s| s.started_at.as_ref())).unwrap_or(created),
            finished: t(state.and_then(|s| s.finished_at.as_ref())).unwrap_or(created),
        }
    }

    /// The latest change of any value.
    pub fn last(&self) -> i64 {
        self.created.max(self.started).max(self.finished)
    }

    /// When the field's value last changed.
    pub fn of_field(&self, field: &str) -> i64 {
        match field {
            "started" | "restart-count" => self.started,
            "finished" | "exit-code" => self.finished,
            "state" | "pid" | "health" | "ip" | "ports" | "inspect.json" | "logs" | "changes"
            | "top" | "stats.json" => self.last(),
            _ => self.created,
        }
    }
}

/// A field's file, rendered: one line of text, or one line per item for lists (`ip`, `ports`,
/// `mounts`: empty when there are none). `None` for a name that is not a field.
pub fn render(doc: &ContainerInspectResponse, field: &str) -> Option<Vec<u8>> {
    let config = doc.config.as_ref();
    let state = doc.state.as_ref();
    let line = |s: &str| format!("{s}\n").into_bytes();
    let opt = |s: Option<&String>| line(s.map_or("", String::as_str));
    let num = |n: Option<i64>| line(&n.unwrap_or(0).to_string());
    Some(match field {
        "id" => opt(doc.id.as_ref()),
        "name" => line(doc.name.as_deref().unwrap_or("").trim_start_matches('/')),
        "image" => opt(config.and_then(|c| c.image.as_ref())),
        "image-id" => opt(doc.image.as_ref()),
        "command" => {
            let words: Vec<String> = doc
                .path
                .iter()
                .chain(doc.args.iter().flatten())
                .map(|w| sh_quote(w))
                .collect();
            line(&words.join(" "))
        }
        "created" => opt(doc.created.as_ref()),
        "state" => line(
            &state
                .and_then(|s| s.status)
                .map_or(String::new(), |s| s.to_string()),
        ),
        "started" => opt(state.and_then(|s| s.started_at.as_ref())),
        "finished" => opt(state.and_then(|s| s.finished_at.as_ref())),
        "exit-code" => num(state.and_then(|s| s.exit_code)),
        "pid" => num(state.and_then(|s| s.pid)),
        "health" => line(
            &state
                .and_then(|s| s.health.as_ref())
                .and_then(|h| h.status)
                .map_or("none".to_string(), |s| s.to_string()),
        ),
        "restart-count" => num(doc.restart_count),
        "ip" => {
            let mut nets: Vec<(&String, String)> = doc
                .network_settings
                .as_ref()
                .and_then(|n| n.networks.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|(net, ep)| {
                    let ip = ep.ip_address.clone().filter(|ip| !ip.is_empty())?;
                    Some((net, ip))
                })
                .collect();
            nets.sort();
            lines(nets.into_iter().map(|(_, ip)| ip))
        }
        "ports" => {
            let mut ports: Vec<String> = Vec::new();
            let map = doc.network_settings.as_ref().and_then(|n| n.ports.as_ref());
            for (port, bindings) in map.into_iter().flatten() {
                match bindings.as_deref() {
                    None | Some([]) => ports.push(port.clone()),
                    Some(bs) => ports.extend(bs.iter().map(|b| {
                        format!(
                            "{port} -> {}:{}",
                            b.host_ip.as_deref().unwrap_or(""),
                            b.host_port.as_deref().unwrap_or("")
                        )
                    })),
                }
            }
            ports.sort();
            lines(ports.into_iter())
        }
        "mounts" => lines(doc.mounts.iter().flatten().map(|m| {
            let source = match m.typ.as_deref() {
                Some("volume") => m.name.as_deref().or(m.source.as_deref()),
                _ => m.source.as_deref(),
            };
            format!(
                "{}\t{}\t{}\t{}",
                m.typ.as_deref().unwrap_or(""),
                source.unwrap_or(""),
                m.destination.as_deref().unwrap_or(""),
                if m.rw.unwrap_or(true) { "rw" } else { "ro" }
            )
        })),
        "inspect.json" => {
            let mut v = serde_json::to_vec_pretty(doc).ok()?;
            v.push(b'\n');
            v
        }
        _ => return None,
    })
}

fn lines(items: impl Iterator<Item = String>) -> Vec<u8> {
    let mut out = Vec::new();
    for i in items {
        out.extend_from_slice(i.as_bytes());
        out.push(b'\n');
    }
    out
}

/// A word as sh reads it back: bare when it is plain, else in single quotes.
fn sh_quote(w: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !w.is_empty() && w.chars().all(plain) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// A label's or variable's key as a file name: `/` and `%` are written `%2F` and `%25` (and a
/// key that is empty, `.` or `..` is escaped whole), so every key is one name.
pub fn key_name(key: &str) -> OsString {
    if key.is_empty() || key == "." || key == ".." {
        return key
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect::<String>()
            .into();
    }
    key.replace('%', "%25").replace('/', "%2F").into()
}

/// The `labels` (or `env`) directory's files: (file name, content).
pub fn keyed(doc: &ContainerInspectResponse, dir: &str) -> Option<Vec<(OsString, Vec<u8>)>> {
    let config = doc.config.as_ref();
    let mut out: Vec<(OsString, Vec<u8>)> = match dir {
        "labels" => config
            .and_then(|c| c.labels.as_ref())
            .into_iter()
            .flatten()
            .map(|(k, v)| (key_name(k), format!("{v}\n").into_bytes()))
            .collect(),
        "env" => config
            .and_then(|c| c.env.as_ref())
            .into_iter()
            .flatten()
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
                (key_name(k), format!("{v}\n").into_bytes())
            })
            .collect(),
        _ => return None,
    };
    out.sort();
    // `env` may name a variable twice; the last one wins, as in a process's environment.
    out.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            std::mem::swap(later, earlier);
            true
        } else {
            false
        }
    });
    Some(out)
}

/// `docker diff`'s lines.
pub fn render_changes(changes: &[FilesystemChange]) -> Vec<u8> {
    lines(changes.iter().map(|c| {
        let kind = match c.kind.to_string().as_str() {
            "0" => "C",
            "1" => "A",
            "2" => "D",
            _ => "?",
        };
        format!("{kind} {}", c.path)
    }))
}

/// `docker top`'s table: the titles, then a row per process, in columns as wide as their
/// widest cell (the last one, the command, as it is).
pub fn render_top(titles: &[String], rows: &[Vec<String>]) -> Vec<u8> {
    let all: Vec<&[String]> = std::iter::once(titles)
        .chain(rows.iter().map(Vec::as_slice))
        .collect();
    let cols = all.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            all.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    lines(all.iter().map(|r| {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                let pad = widths[i].saturating_sub(cell.chars().count()) + 3;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        line
    }))
}

/// A verb written to `ctl`: one line, `start`, `stop`, `restart`, `pause`, `unpause` or
/// `kill [SIGNAL]`.
pub fn parse_verb(text: &[u8]) -> Result<Verb, FsError> {
    let bad = |why: String| FsError::Refused {
        errno: libc::EINVAL,
        message: why,
    };
    const TAKES: &str = "ctl takes one of start, stop, restart, pause, unpause, kill [SIGNAL]";
    let text = std::str::from_utf8(text).map_err(|_| bad(format!("not text: {TAKES}")))?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.contains('\n') {
        return Err(bad(format!("one verb per write: {TAKES}")));
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    Ok(match words.as_slice() {
        ["start"] => Verb::Start,
        ["stop"] => Verb::Stop,
        ["restart"] => Verb::Restart,
        ["pause"] => Verb::Pause,
        ["unpause"] => Verb::Unpause,
        ["kill"] => Verb::Kill(None),
        ["kill", sig] => Verb::Kill(Some((*sig).to_string())),
        [] => return Err(bad(format!("no verb: {TAKES}"))),
        [verb, ..] if ["start", "stop", "restart", "pause", "unpause", "kill"].contains(verb) => {
            return Err(bad(format!("too many arguments to '{verb}': {TAKES}")))
        }
        [verb, ..] => {
            let verb: String = verb.chars().flat_map(char::escape_default).collect();
            return Err(bad(format!("unknown verb '{verb}': {TAKES}")));
        }
    })
}

/// The engine's answer to a verb, as the write's error: its message, with the errno it means.
fn refused(e: EngineError) -> FsError {
    let (errno, message) = match e {
        EngineError::Server { status, message } => (
            match status {
                409 => libc::EBUSY,
                403 => libc::EPERM,
                400 => libc::EINVAL,
                404 => libc::ENOENT,
                _ => libc::EIO,
            },
            message,
        ),
        e => return FsError::from(e),
    };
    FsError::Refused { errno, message }
}

fn dir(name: impl Into<OsString>, mtime: i64) -> Entry {
    let mut e = Entry::new(name, Kind::Dir);
    e.perm = 0o555;
    e.nlink = 2;
    e.mtime = mtime;
    e
}

fn file(name: impl Into<OsString>, size: usize, mtime: i64, perm: u32) -> Entry {
    let mut e = Entry::new(name, Kind::File);
    e.perm = perm;
    e.size = size as u64;
    e.blocks_k = (size as u64).div_ceil(1024);
    e.mtime = mtime;
    e
}

/// `/meta` as `/` lists it.
pub fn meta_dir() -> Entry {
    dir("meta", 0)
}

/// A reader over bytes already here.
fn bytes_reader(b: Vec<u8>) -> FileReader {
    let (tx, rx) = mpsc::channel(1);
    if !b.is_empty() {
        let _ = tx.try_send(Ok(Bytes::from(b)));
    }
    FileReader::Archive(rx)
}

/// One container's files, with what they hold.
struct Files {
    times: Times,
    doc: ContainerInspectResponse,
}

impl Files {
    /// Every entry of the container's directory.
    fn entries(&self) -> Vec<Entry> {
        let t = &self.times;
        let mut out: Vec<Entry> = FIELDS
            .iter()
            .map(|f| {
                let size = render(&self.doc, f).map_or(0, |v| v.len());
                file(*f, size, t.of_field(f), 0o444)
            })
            .collect();
        for d in ["labels", "env"] {
            out.push(dir(d, t.created));
        }
        for s in ["logs", "changes", "top", "stats.json"] {
            out.push(file(s, 0, t.of_field(s), 0o444));
        }
        out.push(file("ctl", 0, t.last(), 0o200));
        out
    }

    /// The entry at `rest` below the container's directory.
    fn lookup(&self, name: &str, rest: &[OsString]) -> Result<Entry, FsError> {
        match rest {
            [] => Ok(dir(name, self.times.last())),
            [f] => self
                .entries()
                .into_iter()
                .find(|e| e.name == *f)
                .ok_or(FsError::NotFound),
            [d, key] => {
                let d = d.to_str().ok_or(FsError::NotFound)?;
                let files = keyed(&self.doc, d).ok_or(FsError::NotADirectory)?;
                let (k, v) = files
                    .into_iter()
                    .find(|(k, _)| k == key)
                    .ok_or(FsError::NotFound)?;
                Ok(file(k, v.len(), self.times.created, 0o444))
            }
            _ => Err(self.lookup(name, &rest[..2]).map_or_else(
                |e| e,
                |e| {
                    if e.is_dir() {
                        FsError::NotFound
                    } else {
                        FsError::NotADirectory
                    }
                },
            )),
        }
    }
}

impl Meta<'_> {
    /// The container `host`/`name` names, inspected now.
    async fn files(
        &self,
        host: Option<&str>,
        name: &str,
    ) -> Result<(Arc<crate::host::ContainerInfo>, Files), FsError> {
        let c = self.vfs.container(host, name).await?;
        let doc = self.vfs.eng(&c).inspect_now(&c.id).await?;
        Ok((
            c,
            Files {
                times: Times::of(&doc),
                doc,
            },
        ))
    }

    /// One directory per container of one engine, each dated by its last change.
    async fn container_dirs(&self, host: Option<&str>) -> Result<Vec<Entry>, FsError> {
        let eng = self.vfs.engine(host)?;
        let table = eng.containers().await?;
        let docs =
            futures_util::future::join_all(table.iter().map(|c| eng.inspect_now(&c.id))).await;
        Ok(table
            .iter()
            .zip(docs)
            .filter_map(|(c, doc)| {
                // One removed while we listed is simply not there.
                let doc = doc.ok()?;
                Some(dir(c.name.clone(), Times::of(&doc).last()))
            })
            .collect())
    }

    async fn entry(&self, path: &Path) -> Result<Entry, FsError> {
        match parse(path, super::path::multi_engine())? {
            Node::Root => Ok(meta_dir()),
            Node::Containers => Ok(dir("containers", 0)),
            Node::Engine(h) => {
                self.vfs.engine(Some(&h))?;
                Ok(dir(h, 0))
            }
            Node::Container { host, name, rest } => {
                let (_, files) = self.files(host.as_deref(), &name).await?;
                files.lookup(&name, &rest)
            }
            Node::Objects { of, host, rest } => {
                match self.objects(of, host.as_deref(), &rest).await? {
                    ObjPlace::Dir(e, _) => Ok(e),
                    ObjPlace::In(f, name, rest) => Ok(f.lookup(&name, &rest)?.0),
                }
            }
        }
    }

    /// The ctl writer: what is written is collected (a line, at most [`CTL_MAX`] bytes) and
    /// done on commit; the engine's refusal is the commit's error.
    fn ctl(&self, c: &crate::host::ContainerInfo, size: u64) -> Result<FileWriter, FsError> {
        if size > CTL_MAX {
            return Err(FsError::Refused {
                errno: libc::EINVAL,
                message: format!("ctl takes one short line (at most {CTL_MAX} bytes)"),
            });
        }
        let eng = self.vfs.eng(c).clone();
        let id = c.id.clone();
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o600);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        // The writer that takes a size up front and hands its data to a task on commit; the
        // task here reads the one-entry tar back instead of uploading it.
        Ok(FileWriter::Archive(ArchiveWriter::start(
            h,
            PathBuf::from("ctl"),
            move |mut rx: mpsc::Receiver<Bytes>| async move {
                let mut tar_bytes = Vec::new();
                while let Some(b) = rx.recv().await {
                    tar_bytes.extend_from_slice(&b);
                }
                let text = tar_content(&tar_bytes)?;
                let verb = parse_verb(&text)?;
                eng.control(&id, &verb).await.map_err(refused)
            },
        )))
    }
}

/// The content of a one-entry tar's entry.
fn tar_content(tar_bytes: &[u8]) -> Result<Vec<u8>, FsError> {
    let mut text = Vec::new();
    let mut ar = tar::Archive::new(tar_bytes);
    if let Some(e) = ar.entries()?.next() {
        io::Read::read_to_end(&mut e?, &mut text)?;
    }
    Ok(text)
}

/// One image's or volume's files, from its inspect document.
struct ObjFiles {
    of: Of,
    doc: serde_json::Value,
    /// Every file's mtime: the object's creation.
    created: i64,
}

impl ObjFiles {
    fn entries(&self) -> Vec<Entry> {
        let t = self.created;
        let mut out: Vec<Entry> = self
            .of
            .fields()
            .iter()
            .map(|(f, _)| *f)
            .chain(["inspect.json"])
            .map(|f| {
                let size = objdoc::render(self.of, &self.doc, f).map_or(0, |v| v.len());
                file(f, size, t, 0o444)
            })
            .collect();
        out.extend(self.of.dirs().iter().map(|(d, _)| dir(*d, t)));
        out
    }

    /// The entry at `rest` below the object's directory (called `name`), and its content for
    /// a file.
    fn lookup(&self, name: &OsStr, rest: &[OsString]) -> Result<(Entry, Vec<u8>), FsError> {
        let t = self.created;
        let text = |o: &OsString| o.to_str().ok_or(FsError::NotFound).map(str::to_string);
        match rest {
            [] => Ok((dir(name, t), Vec::new())),
            [f] => {
                let f = text(f)?;
                if self.of.dirs().iter().any(|(d, _)| *d == f) {
                    return Ok((dir(f, t), Vec::new()));
                }
                let v = objdoc::render(self.of, &self.doc, &f).ok_or(FsError::NotFound)?;
                Ok((file(f, v.len(), t, 0o444), v))
            }
            [d, key] => {
                let files =
                    objdoc::keyed(self.of, &self.doc, &text(d)?).ok_or_else(|| {
                        match self.lookup(name, &rest[..1]) {
                            Ok(_) => FsError::NotADirectory,
                            Err(e) => e,
                        }
                    })?;
                let (k, v) = files
                    .into_iter()
                    .find(|(k, _)| k == key)
                    .ok_or(FsError::NotFound)?;
                Ok((file(k, v.len(), t, 0o444), v))
            }
            _ => Err(match self.lookup(name, &rest[..2]) {
                Ok((e, _)) if e.is_dir() => FsError::NotFound,
                Ok(_) => FsError::NotADirectory,
                Err(e) => e,
            }),
        }
    }

    fn read_dir(&self, name: &OsStr, rest: &[OsString]) -> Result<Vec<Entry>, FsError> {
        match rest {
            [] => Ok(self.entries()),
            [d] => match d
                .to_str()
                .and_then(|d| objdoc::keyed(self.of, &self.doc, d))
            {
                Some(kids) => Ok(kids
                    .into_iter()
                    .map(|(k, v)| file(k, v.len(), self.created, 0o444))
                    .collect()),
                None => {
                    self.lookup(name, rest)?;
                    Err(FsError::NotADirectory)
                }
            },
            _ => {
                self.lookup(name, rest)?;
                Err(FsError::NotADirectory)
            }
        }
    }
}

/// Where a path in `/meta/images` or `/meta/volumes` is.
enum ObjPlace {
    /// A directory of references, volumes or engines: its own entry and its children.
    Dir(Entry, Vec<Entry>),
    /// Inside one object's directory (`name`), at `rest`.
    In(ObjFiles, OsString, Vec<OsString>),
}

impl Meta<'_> {
    async fn objects(
        &self,
        of: Of,
        host: Option<&str>,
        rest: &[OsString],
    ) -> Result<ObjPlace, FsError> {
        let top = if of == Of::Image { "images" } else { "volumes" };
        let multi = super::path::multi_engine();
        if multi && host.is_none() {
            let kids = self
                .vfs
                .engines()
                .iter()
                .map(|e| dir(e.name().to_string(), 0))
                .collect();
            return Ok(ObjPlace::Dir(dir(top, 0), kids));
        }
        let eng = self.vfs.engine(host)?;
        let own = |name: Option<&OsString>| match name {
            Some(n) => dir(n.clone(), 0),
            None => dir(host.unwrap_or(top), 0),
        };
        let created = |doc: &serde_json::Value| {
            of.created(doc)
                .and_then(parse_rfc3339)
                .filter(|t| *t > 0)
                .unwrap_or(0)
        };
        match of {
            Of::Volume => {
                let Some((name, rest)) = rest.split_first() else {
                    let kids = eng
                        .volumes()
                        .await?
                        .into_iter()
                        .map(|v| {
                            let t = v.created.as_deref().and_then(parse_rfc3339).unwrap_or(0);
                            dir(v.name, t)
                        })
                        .collect();
                    return Ok(ObjPlace::Dir(own(None), kids));
                };
                let doc = eng
                    .volume_doc(name.to_str().ok_or(FsError::NotFound)?)
                    .await?;
                let created = created(&doc);
                let files = ObjFiles { of, doc, created };
                Ok(ObjPlace::In(files, name.clone(), rest.to_vec()))
            }
            Of::Image => {
                let comps: Vec<String> = rest
                    .iter()
                    .map(|c| c.to_str().map(str::to_string).ok_or(FsError::NotFound))
                    .collect::<Result<_, _>>()?;
                let images = eng.images().await?;
                match super::images::resolve(&images, &comps) {
                    super::images::Found::Nothing => Err(FsError::NotFound),
                    super::images::Found::Ambiguous(m) => Err(FsError::Ambiguous(m)),
                    super::images::Found::Dir(kids) => {
                        let kids = kids
                            .into_iter()
                            .map(|k| {
                                let mut full = comps.clone();
                                full.push(k.clone());
                                match super::images::resolve(&images, &full) {
                                    super::images::Found::Image { image, rest }
                                        if rest == Path::new("/") =>
                                    {
                                        dir(k, images[image].created)
                                    }
                                    _ => dir(k, 0),
                                }
                            })
                            .collect();
                        Ok(ObjPlace::Dir(own(rest.last()), kids))
                    }
                    super::images::Found::Image {
                        image,
                        rest: inside,
                    } => {
                        let doc = eng.image_doc(&images[image].id).await?;
                        let created = created(&doc);
                        let files = ObjFiles { of, doc, created };
                        let n = inside
                            .components()
                            .filter(|c| matches!(c, Component::Normal(_)))
                            .count();
                        let name = rest[rest.len() - n - 1].clone();
                        let inside = rest[rest.len() - n..].to_vec();
                        Ok(ObjPlace::In(files, name, inside))
                    }
                }
            }
        }
    }
}

impl Backend for Meta<'_> {
    /// A read-only tree: every write it does not serve is refused.
    fn refuse_write(&self) -> FsError {
        FsError::errno_error(libc::EROFS)
    }

    fn lstat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(self.entry(path))
    }

    fn stat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(self.entry(path))
    }

    fn realpath<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        Box::pin(super::backend::realpath(self, path))
    }

    fn read_dir<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Arc<Vec<Entry>>> {
        Box::pin(async move {
            let multi = super::path::multi_engine();
            Ok(Arc::new(match parse(path, multi)? {
                Node::Root => ["containers", "images", "volumes"]
                    .into_iter()
                    .map(|d| dir(d, 0))
                    .collect(),
                Node::Objects { of, host, rest } => {
                    match self.objects(of, host.as_deref(), &rest).await? {
                        ObjPlace::Dir(_, kids) => kids,
                        ObjPlace::In(f, name, rest) => f.read_dir(&name, &rest)?,
                    }
                }
                Node::Containers if multi => self
                    .vfs
                    .engines()
                    .iter()
                    .map(|e| dir(e.name().to_string(), 0))
                    .collect(),
                Node::Containers => self.container_dirs(None).await?,
                Node::Engine(h) => self.container_dirs(Some(&h)).await?,
                Node::Container { host, name, rest } => {
                    let (_, files) = self.files(host.as_deref(), &name).await?;
                    match rest.as_slice() {
                        [] => files.entries(),
                        [d] => {
                            let kids = d.to_str().and_then(|d| keyed(&files.doc, d));
                            let Some(kids) = kids else {
                                files.lookup(&name, &rest)?;
                                return Err(FsError::NotADirectory);
                            };
                            let t = files.times.created;
                            kids.into_iter()
                                .map(|(k, v)| file(k, v.len(), t, 0o444))
                                .collect()
                        }
                        _ => {
                            files.lookup(&name, &rest)?;
                            return Err(FsError::NotADirectory);
                        }
                    }
                }
            }))
        })
    }

    fn open_read<'a>(&'a self, path: &'a Path, _size_hint: u64) -> BoxFut<'a, FileReader> {
        Box::pin(async move {
            let (host, name, rest) = match parse(path, super::path::multi_engine())? {
                Node::Container { host, name, rest } => (host, name, rest),
                Node::Objects { of, host, rest } => {
                    return match self.objects(of, host.as_deref(), &rest).await? {
                        ObjPlace::Dir(..) => Err(FsError::IsADirectory),
                        ObjPlace::In(f, name, rest) => match f.lookup(&name, &rest)? {
                            (e, _) if e.is_dir() => Err(FsError::IsADirectory),
                            (_, content) => Ok(bytes_reader(content)),
                        },
                    };
                }
                _ => return Err(FsError::IsADirectory),
            };
            let (c, files) = self.files(host.as_deref(), &name).await?;
            if files.lookup(&name, &rest)?.is_dir() {
                return Err(FsError::IsADirectory);
            }
            let eng = self.vfs.eng(&c);
            let field = rest.first().map(OsString::as_os_str);
            Ok(match (field.and_then(OsStr::to_str), rest.get(1)) {
                (Some("logs"), None) => {
                    let mut logs = eng.logs(&c.id).await?;
                    let (tx, rx) = mpsc::channel(8);
                    tokio::spawn(async move {
                        while let Some(chunk) = logs.next().await {
                            let item = chunk.map_err(|e| io::Error::other(e.to_string()));
                            let failed = item.is_err();
                            // The reader went away (`head`): stop asking the engine.
                            if tx.send(item).await.is_err() || failed {
                                break;
                            }
                        }
                    });
                    FileReader::Archive(rx)
                }
                (Some("changes"), None) => bytes_reader(render_changes(&eng.changes(&c.id).await?)),
                (Some("top"), None) => {
                    let (titles, rows) = eng.top(&c.id).await.map_err(refused)?;
                    bytes_reader(render_top(&titles, &rows))
                }
                (Some("stats.json"), None) => {
                    let mut v = serde_json::to_vec_pretty(&eng.stats_once(&c.id).await?)
                        .map_err(|e| FsError::Engine(e.to_string()))?;
                    v.push(b'\n');
                    bytes_reader(v)
                }
                (Some("ctl"), None) => bytes_reader(Vec::new()),
                (Some(f), None) => bytes_reader(render(&files.doc, f).unwrap_or_default()),
                (Some(d), Some(key)) => {
                    let kids = keyed(&files.doc, d).unwrap_or_default();
                    let v = kids.into_iter().find(|(k, _)| k == key).map(|(_, v)| v);
                    bytes_reader(v.unwrap_or_default())
                }
                (None, _) => return Err(FsError::NotFound),
            })
        })
    }

    fn create<'a>(
        &'a self,
        path: &'a Path,
        _attrs: Attrs,
        size: u64,
        _open: super::stream::Open,
    ) -> BoxFut<'a, FileWriter> {
        Box::pin(async move {
            match parse(path, super::path::multi_engine())? {
                Node::Container { host, name, rest } if rest.len() == 1 && rest[0] == "ctl" => {
                    let c = self.vfs.container(host.as_deref(), &name).await?;
                    self.ctl(&c, size)
                }
                _ => Err(FsError::errno_error(libc::EROFS)),
            }
        })
    }

    /// Only `ctl` takes writes, and its verb is done whole on commit: the shell spools it.
    fn create_needs_size(&self) -> BoxFut<'_, bool> {
        Box::pin(async { Ok(true) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
        "Id": "3f2a1b9c0d1e",
        "Created": "2026-11-26T11:07:53.123Z",
        "Path": "sh",
        "Args": ["-c", "echo it's; sleep 1"],
        "State": {"Status": "running", "Pid": 4242, "ExitCode": 0,
                  "StartedAt": "2026-11-26T11:08:00Z", "FinishedAt": "0001-01-01T00:00:00Z"},
        "Image": "sha256:abc",
        "Name": "/web",
        "RestartCount": 2,
        "Mounts": [{"Type": "volume", "Name": "data", "Source": "/var/lib/docker/volumes/data/_data",
                    "Destination": "/data", "RW": true},
                   {"Type": "bind", "Source": "/etc/hosts", "Destination": "/h", "RW": false}],
        "Config": {"Image": "nginx:1.27", "Labels": {"a.b": "1", "x/y": "2", "..": "3"},
                   "Env": ["PATH=/bin", "EMPTY=", "NOEQ", "A=x=y"]},
        "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
                                       "443/tcp": null},
                            "Networks": {"bridge": {"IPAddress": "172.17.0.2"},
                                         "none": {"IPAddress": ""}}}
    }"#;

    fn doc() -> ContainerInspectResponse {
        serde_json::from_str(DOC).unwrap_or_default()
    }

    fn field(f: &str) -> String {
        String::from_utf8_lossy(&render(&doc(), f).unwrap_or_default()).into_owned()
    }

    #[test]
    fn fields_render_as_lines() {
        assert_eq!(field("id"), "3f2a1b9c0d1e\n");
        assert_eq!(field("name"), "web\n");
        assert_eq!(field("image"), "nginx:1.27\n");
        assert_eq!(field("image-id"), "sha256:abc\n");
        assert_eq!(field("command"), "sh -c 'echo it'\\''s; sleep 1'\n");
        assert_eq!(field("state"), "running\n");
        assert_eq!(field("pid"), "4242\n");
        assert_eq!(field("exit-code"), "0\n");
        assert_eq!(field("restart-count"), "2\n");
        assert_eq!(field("health"), "none\n");
        assert_eq!(field("finished"), "0001-01-01T00:00:00Z\n");
        assert_eq!(field("ip"), "172.17.0.2\n");
        assert_eq!(field("ports"), "443/tcp\n80/tcp -> 0.0.0.0:8080\n");
        assert_eq!(
            field("mounts"),
            "volume\tdata\t/data\trw\nbind\t/etc/hosts\t/h\tro\n"
        );
        assert!(field("inspect.json").starts_with("{\n"));
        assert!(field("inspect.json").contains("\"Id\": \"3f2a1b9c0d1e\""));
        assert_eq!(render(&doc(), "nonsense"), None);
        for f in FIELDS {
            assert!(render(&doc(), f).is_some(), "{f}");
        }
        let empty = ContainerInspectResponse::default();
        assert_eq!(render(&empty, "ports"), Some(Vec::new()));
        assert_eq!(render(&empty, "id"), Some(b"\n".to_vec()));
    }

    #[test]
    fn keys_are_one_name_each() {
        let names = |d| -> Vec<(String, String)> {
            keyed(&doc(), d)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    (
                        k.to_string_lossy().into_owned(),
                        String::from_utf8_lossy(&v).into_owned(),
                    )
                })
                .collect()
        };
        assert_eq!(
            names("labels"),
            [("%2E%2E", "3\n"), ("a.b", "1\n"), ("x%2Fy", "2\n")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(
            names("env"),
            [
                ("A", "x=y\n"),
                ("EMPTY", "\n"),
                ("NOEQ", "\n"),
                ("PATH", "/bin\n")
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(key_name("100%"), "100%25");
        assert_eq!(keyed(&doc(), "ports"), None);
    }

    #[test]
    fn mtimes_follow_the_lifecycle() {
        let t = Times::of(&doc());
        let created = parse_rfc3339("2026-11-26T11:07:53Z").unwrap_or(0);
        let started = parse_rfc3339("2026-11-26T11:08:00Z").unwrap_or(0);
        assert_eq!(t.created, created);
        assert_eq!(t.started, started);
        // Never finished: the engine's zero time counts as the creation.
        assert_eq!(t.finished, created);
        assert_eq!(t.of_field("started"), started);
        assert_eq!(t.of_field("image"), created);
        assert_eq!(t.of_field("state"), started);
        assert_eq!(t.last(), started);
    }

    #[test]
    fn paths_inside_meta() {
        let p = |s: &str, multi| parse(Path::new(s), multi);
        assert_eq!(p("/", false).ok(), Some(Node::Root));
        assert_eq!(p("/containers", false).ok(), Some(Node::Containers));
        assert_eq!(
            p("/containers/web/labels/a.b", false).ok(),
            Some(Node::Container {
                host: None,
                name: "web".into(),
                rest: vec!["labels".into(), "a.b".into()]
            })
        );
        assert_eq!(
            p("/containers/lap", true).ok(),
            Some(Node::Engine("lap".into()))
        );
        assert_eq!(
            p("/containers/lap/web", true).ok(),
            Some(Node::Container {
                host: Some("lap".into()),
                name: "web".into(),
                rest: vec![]
            })
        );
        assert_eq!(
            p("/volumes/data/driver", false).ok(),
            Some(Node::Objects {
                of: Of::Volume,
                host: None,
                rest: vec!["data".into(), "driver".into()]
            })
        );
        assert_eq!(
            p("/images/lap/ghcr.io/app:v1", true).ok(),
            Some(Node::Objects {
                of: Of::Image,
                host: Some("lap".into()),
                rest: vec!["ghcr.io".into(), "app:v1".into()]
            })
        );
        assert!(matches!(p("/networks", false), Err(FsError::NotFound)));
    }

    #[test]
    fn verbs() {
        assert_eq!(parse_verb(b"restart\n").ok(), Some(Verb::Restart));
        assert_eq!(parse_verb(b"  stop ").ok(), Some(Verb::Stop));
        assert_eq!(parse_verb(b"kill").ok(), Some(Verb::Kill(None)));
        assert_eq!(
            parse_verb(b"kill HUP\n").ok(),
            Some(Verb::Kill(Some("HUP".into())))
        );
        for bad in [
            &b"reboot\n"[..],
            b"",
            b"\n",
            b"start now",
            b"start\nstop\n",
            b"\xff",
        ] {
            match parse_verb(bad) {
                Err(e @ FsError::Refused { .. }) => {
                    assert_eq!(e.errno(), libc::EINVAL);
                    assert!(e.to_string().contains("ctl takes"), "{e}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let e = refused(EngineError::Server {
            status: 409,
            message: "Container web is not paused".into(),
        });
        assert_eq!(e.errno(), libc::EBUSY);
        assert_eq!(e.to_string(), "Container web is not paused");
    }

    #[test]
    fn changes_read_as_docker_diff() {
        let ch: Vec<FilesystemChange> =
            serde_json::from_str(r#"[{"Path":"/tmp","Kind":0},{"Path":"/tmp/x","Kind":1},{"Path":"/etc/motd","Kind":2}]"#)
                .unwrap_or_default();
        assert_eq!(render_changes(&ch), b"C /tmp\nA /tmp/x\nD /etc/motd\n");
    }
}
