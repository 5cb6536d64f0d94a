//! The driver's volumes on disk, so they outlive a restart of the driver (the engine remembers
//! them, and asks for them by name): one JSON file, replaced whole (temporary + fsync +
//! rename), never half written. Each volume's live mounts (the engine's mount IDs and their
//! counts) are kept too, so a restarted driver mounts again what its consumers still use and
//! counts their `Unmount`s right.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// One volume of the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// `/containers/NAME/PATH` (or `/containers/HOST/NAME/PATH`), as given to Create.
    pub src: String,
    pub read_only: bool,
    /// Seconds since the epoch.
    pub created: i64,
    /// `Mount` calls not yet unmounted, by the engine's mount ID (absent in files of older
    /// drivers: none).
    pub mounts: BTreeMap<String, u32>,
}

impl Volume {
    /// How many mounts are not yet unmounted.
    pub fn refs(&self) -> u32 {
        self.mounts.values().sum()
    }
}

/// Every volume, by name.
pub type Volumes = BTreeMap<String, Volume>;

/// Why the state file cannot be used; the driver refuses to start rather than lose volumes.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state file {}: {reason}", path.display())]
    At { path: PathBuf, reason: String },
}

fn at(path: &Path, reason: impl Into<String>) -> StateError {
    StateError::At {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The file's text for `vols`.
pub fn to_json(vols: &Volumes) -> Vec<u8> {
    let map: serde_json::Map<String, Value> = vols
        .iter()
        .map(|(name, v)| {
            (
                name.clone(),
                json!({ "src": v.src, "ro": v.read_only, "created": v.created, "mounts": v.mounts }),
            )
        })
        .collect();
    let doc = json!({ "version": 1, "volumes": map });
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The volumes a file's text holds.
pub fn from_json(text: &[u8]) -> Result<Volumes, String> {
    let doc: Value = serde_json::from_slice(text).map_err(|e| format!("not valid JSON: {e}"))?;
    match doc.get("version").and_then(Value::as_u64) {
        Some(1) => {}
        Some(v) => return Err(format!("version {v} is not one this dockerbox knows (1)")),
        None => return Err("no version".into()),
    }
    let Some(Value::Object(map)) = doc.get("volumes") else {
        return Err("no volumes object".into());
    };
    let mut vols = Volumes::new();
    for (name, v) in map {
        let src = v.get("src").and_then(Value::as_str);
        let ro = v.get("ro").and_then(Value::as_bool);
        let created = v.get("created").and_then(Value::as_i64);
        let (Some(src), Some(read_only), Some(created)) = (src, ro, created) else {
            return Err(format!("volume {name:?}: needs src, ro and created"));
        };
        let mut mounts = BTreeMap::new();
        if let Some(Value::Object(m)) = v.get("mounts") {
            for (id, n) in m {
                match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
                    Some(0) => {}
                    Some(n) => {
                        mounts.insert(id.clone(), n);
                    }
                    None => return Err(format!("volume {name:?}: mount {id:?}: not a count")),
                }
            }
        }
        vols.insert(
            name.clone(),
            Volume {
                src: src.to_string(),
                read_only,
                created,
                mounts,
            },
        );
    }
    Ok(vols)
}

/// Reads the file; a missing one is no volumes yet.
pub fn load(path: &Path) -> Result<Volumes, StateError> {
    match std::fs::read(path) {
        Ok(text) => from_json(&text).map_err(|why| at(path, why)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Volumes::new()),
        Err(e) => Err(at(path, crate::vfs::io_text(&e))),
    }
}

/// The temporary a save of this process writes.
fn temp_of(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Removes the temporaries of saves cut short (a driver killed mid-write); called under the
/// state directory's lock, so none of them is being written.
pub fn remove_temps(path: &Path) {
    let dir = path.parent().unwrap_or(Path::new("."));
    let prefix = format!(
        ".{}.tmp-",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Replaces the file with `vols`: written beside it under a temporary name, synced, renamed
/// over it, and the directory synced; on any error the temporary is removed and the old file
/// stays as it was.
pub fn save(path: &Path, vols: &Volumes) -> Result<(), StateError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = temp_of(path);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)?;
        f.write_all(&to_json(vols))?;
        f.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        at(path, crate::vfs::io_text(&e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Volumes {
        let mut v = Volumes::new();
        v.insert(
            "weblogs".into(),
            Volume {
                src: "/containers/web/var/log".into(),
                read_only: false,
                created: 1_796_133_751,
                mounts: BTreeMap::from([("f00d".to_string(), 2)]),
            },
        );
        v.insert(
            "conf".into(),
            Volume {
                src: "/containers/prod/db/etc \"odd\"".into(),
                read_only: true,
                created: 1,
                mounts: BTreeMap::new(),
            },
        );
        v
    }

    #[test]
    fn volumes_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("volumes.json");
        assert_eq!(load(&path).unwrap(), Volumes::new(), "no file: no volumes");
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path).unwrap(), sample());
        save(&path, &Volumes::new()).unwrap();
        assert_eq!(load(&path).unwrap(), Volumes::new());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["volumes.json"], "no temporary left behind");
        // One of a killed driver's is removed at the next start.
        std::fs::write(dir.path().join(".volumes.json.tmp-1"), "{").unwrap();
        remove_temps(&path);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(load(&path).unwrap(), Volumes::new());
    }

    #[test]
    fn a_failed_save_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("volumes.json");
        save(&path, &sample()).unwrap();
        // A directory where the temporary goes: the write fails before the rename.
        let temp = dir
            .path()
            .join(format!(".volumes.json.tmp-{}", std::process::id()));
        std::fs::create_dir(&temp).unwrap();
        let e = save(&path, &Volumes::new()).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("state file {}: ", path.display())),
            "{e}"
        );
        assert_eq!(load(&path).unwrap(), sample());
    }

    #[test]
    fn a_bad_file_is_refused_with_its_reason() {
        assert_eq!(
            from_json(b"{").unwrap_err().split(':').next(),
            Some("not valid JSON")
        );
        assert_eq!(from_json(b"{}").unwrap_err(), "no version");
        assert_eq!(
            from_json(br#"{"version":2,"volumes":{}}"#).unwrap_err(),
            "version 2 is not one this dockerbox knows (1)"
        );
        assert_eq!(
            from_json(br#"{"version":1,"volumes":{"v":{"src":"/containers/a"}}}"#).unwrap_err(),
            "volume \"v\": needs src, ro and created"
        );
        assert_eq!(
            from_json(br#"{"version":1,"volumes":{"v":{"src":"/a","ro":true,"created":1,"mounts":{"x":"2"}}}}"#)
                .unwrap_err(),
            "volume \"v\": mount \"x\": not a count"
        );
        // A file of a driver that kept no mounts: none.
        let old = from_json(br#"{"version":1,"volumes":{"v":{"src":"/a","ro":true,"created":1}}}"#);
        assert_eq!(old.unwrap()["v"].refs(), 0);
        let text = to_json(&sample());
        assert!(text.ends_with(b"}\n"));
        assert_eq!(from_json(&text).unwrap(), sample());
    }
}
