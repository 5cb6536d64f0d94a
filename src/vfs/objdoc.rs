//! What `/meta/images/REF/` and `/meta/volumes/NAME/` hold: an inspect document (as JSON) cut
//! into one small file per field, each a line of text (a list: a line per item), `labels/KEY`
//! (and `env/KEY`, `options/KEY`) directories, and `inspect.json` whole. Pure: `vfs/meta.rs`
//! asks the engine and serves the files.

use std::ffi::OsString;

use serde_json::Value;

use super::meta::key_name;

/// Which object a document describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Of {
    Image,
    Volume,
}

impl Of {
    /// Its fields: file name and JSON pointer into the inspect document, in listing order.
    pub fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Of::Image => &[
                ("id", "/Id"),
                ("tags", "/RepoTags"),
                ("created", "/Created"),
                ("size", "/Size"),
                ("architecture", "/Architecture"),
                ("os", "/Os"),
                ("author", "/Author"),
                ("command", "/Config/Cmd"),
                ("entrypoint", "/Config/Entrypoint"),
                ("workdir", "/Config/WorkingDir"),
                ("user", "/Config/User"),
            ],
            Of::Volume => &[
                ("name", "/Name"),
                ("driver", "/Driver"),
                ("mountpoint", "/Mountpoint"),
                ("created", "/CreatedAt"),
                ("scope", "/Scope"),
            ],
        }
    }

    /// Its directories of keys: name and pointer (an object of strings, or a list of
    /// `KEY=VALUE`).
    pub fn dirs(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Of::Image => &[("labels", "/Config/Labels"), ("env", "/Config/Env")],
            Of::Volume => &[("labels", "/Labels"), ("options", "/Options")],
        }
    }

    /// When the object was made (the files' mtime), as the engine words it.
    pub fn created(self, doc: &Value) -> Option<&str> {
        let p = match self {
            Of::Image => "/Created",
            Of::Volume => "/CreatedAt",
        };
        doc.pointer(p)?.as_str()
    }
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

/// A field's file: `None` when `name` is not a field of `of` (or `inspect.json`).
pub fn render(of: Of, doc: &Value, name: &str) -> Option<Vec<u8>> {
    if name == "inspect.json" {
        let mut v = serde_json::to_vec_pretty(doc).ok()?;
        v.push(b'\n');
        return Some(v);
    }
    let (_, ptr) = of.fields().iter().find(|(f, _)| *f == name)?;
    let v = doc.pointer(ptr).unwrap_or(&Value::Null);
    let text = match v {
        Value::Null => "\n".to_string(),
        Value::String(s) => format!("{s}\n"),
        Value::Array(items) if matches!(name, "command" | "entrypoint") => {
            let words: Vec<String> = items
                .iter()
                .map(|i| sh_quote(i.as_str().unwrap_or_default()))
                .collect();
            format!("{}\n", words.join(" "))
        }
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => format!("{s}\n"),
                other => format!("{other}\n"),
            })
            .collect(),
        other => format!("{other}\n"),
    };
    Some(text.into_bytes())
}

/// A directory of keys: (file name, content), sorted; `None` when `dir` is not one of `of`'s.
pub fn keyed(of: Of, doc: &Value, dir: &str) -> Option<Vec<(OsString, Vec<u8>)>> {
    let (_, ptr) = of.dirs().iter().find(|(d, _)| *d == dir)?;
    let line = |v: &str| format!("{v}\n").into_bytes();
    let mut out: Vec<(OsString, Vec<u8>)> = match doc.pointer(ptr) {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (key_name(k), line(v.as_str().unwrap_or_default())))
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (key_name(k), line(v))
            })
            .collect(),
        _ => Vec::new(),
    };
    out.sort();
    // A key named twice: the last one wins.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Value {
        serde_json::from_str(
            r#"{"Id": "sha256:abc", "RepoTags": ["app:v1", "app:latest"],
                "Created": "2026-11-26T11:07:53Z", "Size": 2048, "Os": "linux",
                "Config": {"Cmd": ["sh", "-c", "echo hi"], "Entrypoint": null,
                           "Labels": {"a.b": "1", "x/y": "2"}, "Env": ["PATH=/bin", "E="]}}"#,
        )
        .unwrap_or(Value::Null)
    }

    fn text(v: Option<Vec<u8>>) -> String {
        String::from_utf8_lossy(&v.unwrap_or_default()).into_owned()
    }

    #[test]
    fn image_fields_are_lines() {
        let d = image();
        assert_eq!(text(render(Of::Image, &d, "id")), "sha256:abc\n");
        assert_eq!(text(render(Of::Image, &d, "tags")), "app:v1\napp:latest\n");
        assert_eq!(text(render(Of::Image, &d, "size")), "2048\n");
        assert_eq!(text(render(Of::Image, &d, "command")), "sh -c 'echo hi'\n");
        assert_eq!(text(render(Of::Image, &d, "entrypoint")), "\n");
        assert_eq!(text(render(Of::Image, &d, "user")), "\n");
        assert!(text(render(Of::Image, &d, "inspect.json")).starts_with("{\n"));
        assert_eq!(render(Of::Image, &d, "nonsense"), None);
        assert_eq!(Of::Image.created(&d), Some("2026-11-26T11:07:53Z"));
        let labels = keyed(Of::Image, &d, "labels").unwrap_or_default();
        assert_eq!(
            labels,
            [
                (OsString::from("a.b"), b"1\n".to_vec()),
                (OsString::from("x%2Fy"), b"2\n".to_vec())
            ]
        );
        let env = keyed(Of::Image, &d, "env").unwrap_or_default();
        assert_eq!(env[1], (OsString::from("PATH"), b"/bin\n".to_vec()));
        assert_eq!(keyed(Of::Image, &d, "options"), None);
    }

    #[test]
    fn volume_fields_are_lines() {
        let d: Value = serde_json::from_str(
            r#"{"Name": "data", "Driver": "local", "Mountpoint": "/v/data/_data",
                "CreatedAt": "2026-11-26T11:07:53Z", "Labels": null, "Options": {"type": "tmpfs"}}"#,
        )
        .unwrap_or(Value::Null);
        assert_eq!(text(render(Of::Volume, &d, "driver")), "local\n");
        assert_eq!(text(render(Of::Volume, &d, "scope")), "\n");
        assert_eq!(keyed(Of::Volume, &d, "labels"), Some(Vec::new()));
        assert_eq!(
            keyed(Of::Volume, &d, "options"),
            Some(vec![(OsString::from("type"), b"tmpfs\n".to_vec())])
        );
    }
}
