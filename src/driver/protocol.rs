//! The Docker volume plugin protocol, pure: HTTP/1.1 requests cut out of the bytes a
//! connection brought (bounded head and body, `Content-Length` or chunked), the plugin's calls
//! parsed from their JSON, and replies encoded. No I/O, so every malformed input is a unit test.
//!
//! The engine (`pkg/plugins` in moby) sends `POST /Plugin.Activate` and `POST
//! /VolumeDriver.NAME` with a JSON body and reads a JSON answer; an error is `{"Err":"text"}`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// The plugin protocol's media type, on every answer.
pub const CONTENT_TYPE: &str = "application/vnd.docker.plugins.v1.2+json";

/// The most a request line and its headers may take.
pub const MAX_HEAD: usize = 16 * 1024;

/// The most a body may take (the engine's calls are a few hundred bytes).
pub const MAX_BODY: usize = 1 << 20;

/// One HTTP request, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The client asked to close the connection after the answer (or speaks HTTP/1.0).
    pub close: bool,
    pub body: Vec<u8>,
}

/// What the bytes so far hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole request yet: read more.
    Partial,
    /// A request, and how many bytes of the buffer it took.
    Whole(Request, usize),
}

/// A request that cannot be served; answered with its status, then the connection closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("request head over {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("request body over {MAX_BODY} bytes")]
    BodyTooLarge,
    #[error("bad request: {0}")]
    Bad(&'static str),
}

impl HttpError {
    pub fn status(&self) -> u16 {
        match self {
            HttpError::HeadTooLarge => 431,
            HttpError::BodyTooLarge => 413,
            HttpError::Bad(_) => 400,
        }
    }
}

/// Cuts the first request out of `buf`.
pub fn parse_request(buf: &[u8]) -> Result<Parsed, HttpError> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err(HttpError::HeadTooLarge)
        } else {
            Ok(Parsed::Partial)
        };
    };
    if end > MAX_HEAD {
        return Err(HttpError::HeadTooLarge);
    }
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| HttpError::Bad("head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::Bad("malformed request line"));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(HttpError::Bad("not HTTP/1.x")),
    };
    if method.is_empty() || !path.starts_with('/') {
        return Err(HttpError::Bad("malformed request line"));
    }
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = http10;
    for h in lines {
        let (k, v) = h
            .split_once(':')
            .ok_or(HttpError::Bad("malformed header"))?;
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            let n: usize = v
                .parse()
                .map_err(|_| HttpError::Bad("bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(HttpError::Bad("conflicting Content-Length"));
            }
            length = Some(n);
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            if !v.eq_ignore_ascii_case("chunked") {
                return Err(HttpError::Bad("unsupported Transfer-Encoding"));
            }
            chunked = true;
        } else if k.eq_ignore_ascii_case("connection") {
            if v.eq_ignore_ascii_case("close") {
                close = true;
            } else if v.eq_ignore_ascii_case("keep-alive") {
                close = false;
            }
        }
    }
    let start = end + 4;
    let rest = &buf[start..];
    let (body, used) = if chunked {
        if length.is_some() {
            return Err(HttpError::Bad("both Content-Length and chunked"));
        }
        match dechunk(rest)? {
            Some(b) => b,
            None => return Ok(Parsed::Partial),
        }
    } else {
        let n = length.unwrap_or(0);
        if n > MAX_BODY {
            return Err(HttpError::BodyTooLarge);
        }
        if rest.len() < n {
            return Ok(Parsed::Partial);
        }
        (rest[..n].to_vec(), n)
    };
    let req = Request {
        method: method.to_string(),
        path: path.to_string(),
        close,
        body,
    };
    Ok(Parsed::Whole(req, start + used))
}

/// A chunked body: `None` until its last chunk (and trailers) arrived.
fn dechunk(mut rest: &[u8]) -> Result<Option<(Vec<u8>, usize)>, HttpError> {
    let total = rest.len();
    let mut body = Vec::new();
    loop {
        let Some(eol) = find(rest, b"\r\n") else {
            return if rest.len() > 64 {
                Err(HttpError::Bad("malformed chunk size"))
            } else {
                Ok(None)
            };
        };
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .map(|s| s.split(';').next().unwrap_or_default().trim())
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or(HttpError::Bad("malformed chunk size"))?;
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(HttpError::BodyTooLarge);
        }
        rest = &rest[eol + 2..];
        if size == 0 {
            // Trailers, up to an empty line.
            loop {
                let Some(eol) = find(rest, b"\r\n") else {
                    return Ok(None);
                };
                rest = &rest[eol + 2..];
                if eol == 0 {
                    return Ok(Some((body, total - rest.len())));
                }
            }
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        if &rest[size..size + 2] != b"\r\n" {
            return Err(HttpError::Bad("malformed chunk"));
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// An HTTP/1.1 answer with a JSON body.
pub fn response(status: u16, body: &[u8], close: bool) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\n{}\r\n",
        body.len(),
        if close { "Connection: close\r\n" } else { "" }
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A call of the plugin protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Activate,
    Capabilities,
    List,
    Create {
        name: String,
        opts: BTreeMap<String, String>,
    },
    Remove {
        name: String,
    },
    Path {
        name: String,
    },
    Get {
        name: String,
    },
    Mount {
        name: String,
        id: String,
    },
    Unmount {
        name: String,
        id: String,
    },
}

/// Why a request is not a call: answered with the status and `{"Err": text}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("unknown call {0}")]
    Unknown(String),
    #[error("{0}")]
    Bad(String),
}

impl CallError {
    pub fn status(&self) -> u16 {
        match self {
            CallError::Unknown(_) => 404,
            CallError::Bad(_) => 400,
        }
    }
}

/// The call a request makes.
pub fn parse_call(req: &Request) -> Result<Call, CallError> {
    if req.method != "POST" {
        return Err(CallError::Bad(format!(
            "{} {}: the plugin protocol only takes POST",
            req.method, req.path
        )));
    }
    let path = req.path.split('?').next().unwrap_or_default();
    let bad = |what: String| CallError::Bad(format!("{path}: {what}"));
    let body: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&req.body).map_err(|e| bad(format!("invalid JSON: {e}")))?
    };
    let Value::Object(obj) = &body else {
        return Err(bad("the body is not a JSON object".into()));
    };
    let field = |k: &str| -> Result<String, CallError> {
        match obj.get(k) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(bad(format!("{k} is not a string"))),
            None => Err(bad(format!("{k} is missing"))),
        }
    };
    Ok(match path {
        "/Plugin.Activate" => Call::Activate,
        "/VolumeDriver.Capabilities" => Call::Capabilities,
        "/VolumeDriver.List" => Call::List,
        "/VolumeDriver.Create" => {
            let mut opts = BTreeMap::new();
            match obj.get("Opts") {
                None | Some(Value::Null) => {}
                Some(Value::Object(o)) => {
                    for (k, v) in o {
                        let Value::String(s) = v else {
                            return Err(bad(format!("option {k} is not a string")));
                        };
                        opts.insert(k.clone(), s.clone());
                    }
                }
                Some(_) => return Err(bad("Opts is not an object".into())),
            }
            Call::Create {
                name: field("Name")?,
                opts,
            }
        }
        "/VolumeDriver.Remove" => Call::Remove {
            name: field("Name")?,
        },
        "/VolumeDriver.Path" => Call::Path {
            name: field("Name")?,
        },
        "/VolumeDriver.Get" => Call::Get {
            name: field("Name")?,
        },
        "/VolumeDriver.Mount" => Call::Mount {
            name: field("Name")?,
            id: field("ID")?,
        },
        "/VolumeDriver.Unmount" => Call::Unmount {
            name: field("Name")?,
            id: field("ID")?,
        },
        other => return Err(CallError::Unknown(other.to_string())),
    })
}

/// One volume as `Get` and `List` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    pub name: String,
    /// Where it is mounted now; empty while no container uses it.
    pub mountpoint: String,
    /// Seconds since the epoch.
    pub created: i64,
    /// What `docker volume inspect` shows as `Status`.
    pub status: BTreeMap<String, String>,
}

impl VolumeInfo {
    fn json(&self) -> Value {
        let mut v = json!({
            "Name": self.name,
            "Mountpoint": self.mountpoint,
            "CreatedAt": rfc3339(self.created),
        });
        if !self.status.is_empty() {
            v["Status"] = json!(self.status);
        }
        v
    }
}

/// An answer of the plugin protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Activate,
    Capabilities,
    /// Create, Remove, Unmount: done.
    Done,
    /// Unmount, and it was the last mount (encoded as `Done`; the driver logs it).
    Unmounted,
    /// Mount, Path.
    Mountpoint(String),
    Volume(VolumeInfo),
    List(Vec<VolumeInfo>),
    Err(String),
}

/// The JSON body of an answer.
pub fn encode(r: &Reply) -> Vec<u8> {
    let v = match r {
        Reply::Activate => json!({ "Implements": ["VolumeDriver"] }),
        Reply::Capabilities => json!({ "Capabilities": { "Scope": "local" } }),
        Reply::Done | Reply::Unmounted => json!({ "Err": "" }),
        Reply::Mountpoint(m) => json!({ "Mountpoint": m, "Err": "" }),
        Reply::Volume(v) => json!({ "Volume": v.json(), "Err": "" }),
        Reply::List(vs) => {
            json!({ "Volumes": vs.iter().map(VolumeInfo::json).collect::<Vec<_>>(), "Err": "" })
        }
        Reply::Err(e) => json!({ "Err": e }),
    };
    serde_json::to_vec(&v).unwrap_or_else(|_| b"{\"Err\":\"cannot encode the answer\"}".to_vec())
}

/// `2026-12-01T14:02:31Z` for seconds since the epoch (UTC, as the engine's own volumes).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let t = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(buf: &[u8]) -> (Request, usize) {
        match parse_request(buf) {
            Ok(Parsed::Whole(r, n)) => (r, n),
            other => panic!("not whole: {other:?}"),
        }
    }

    #[test]
    fn a_request_as_the_engine_sends_it() {
        let body = br#"{"Name":"weblogs","Opts":{"src":"/containers/web/var/log"}}"#;
        let mut buf = format!(
            "POST /VolumeDriver.Create HTTP/1.1\r\nHost: plugin\r\nUser-Agent: Go-http-client/1.1\r\n\
             Content-Length: {}\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\n\
             Accept-Encoding: gzip\r\n\r\n",
            body.len()
        )
        .into_bytes();
        buf.extend_from_slice(body);
        // Every prefix is partial; the whole is one request, and a second one may follow.
        for cut in 0..buf.len() {
            assert_eq!(parse_request(&buf[..cut]), Ok(Parsed::Partial), "cut {cut}");
        }
        let n = buf.len();
        buf.extend_from_slice(b"POST /Plugin.Activate HTTP/1.1\r\n\r\n");
        let (r, used) = whole(&buf);
        assert_eq!(used, n);
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.close),
            ("POST", "/VolumeDriver.Create", false)
        );
        assert_eq!(r.body, body);
        let (r, _) = whole(&buf[used..]);
        assert_eq!((r.path.as_str(), r.body.len()), ("/Plugin.Activate", 0));
        let mut opts = BTreeMap::new();
        opts.insert("src".to_string(), "/containers/web/var/log".to_string());
        let (r, _) = whole(&buf);
        assert_eq!(
            parse_call(&r),
            Ok(Call::Create {
                name: "weblogs".into(),
                opts
            })
        );
    }

    #[test]
    fn chunked_bodies_and_connection_close() {
        let buf = b"POST /VolumeDriver.Get HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
                    4\r\n{\"Na\r\n10;ext=1\r\nme\":\"weblogs\"}  \r\n0\r\n\r\n";
        for cut in 0..buf.len() {
            assert_eq!(parse_request(&buf[..cut]), Ok(Parsed::Partial), "cut {cut}");
        }
        let (r, used) = whole(buf);
        assert_eq!(used, buf.len());
        assert!(r.close);
        assert_eq!(
            parse_call(&r),
            Ok(Call::Get {
                name: "weblogs".into()
            })
        );
        let (r, _) = whole(b"POST /VolumeDriver.List HTTP/1.0\r\n\r\n");
        assert!(r.close, "HTTP/1.0 closes unless told otherwise");
    }

    #[test]
    fn bad_requests_are_refused_not_panicked_on() {
        let cases: &[(&[u8], HttpError)] = &[
            (b"GARBAGE\r\n\r\n", HttpError::Bad("malformed request line")),
            (b"POST /x HTTP/2\r\n\r\n", HttpError::Bad("not HTTP/1.x")),
            (
                b"POST x HTTP/1.1\r\n\r\n",
                HttpError::Bad("malformed request line"),
            ),
            (
                b"POST /x HTTP/1.1\r\nNoColon\r\n\r\n",
                HttpError::Bad("malformed header"),
            ),
            (
                b"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                HttpError::Bad("bad Content-Length"),
            ),
            (
                b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                HttpError::Bad("conflicting Content-Length"),
            ),
            (
                b"POST /x HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
                HttpError::BodyTooLarge,
            ),
            (
                b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                HttpError::Bad("unsupported Transfer-Encoding"),
            ),
            (
                b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                HttpError::Bad("malformed chunk size"),
            ),
            (
                b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffff\r\n",
                HttpError::BodyTooLarge,
            ),
            (
                b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
                HttpError::Bad("malformed chunk"),
            ),
            (
                b"POST /\xff HTTP/1.1\r\n\r\n",
                HttpError::Bad("head not UTF-8"),
            ),
        ];
        for (buf, want) in cases {
            assert_eq!(
                parse_request(buf).as_ref(),
                Err(want),
                "{}",
                String::from_utf8_lossy(buf)
            );
        }
        let long = vec![b'a'; MAX_HEAD + 1];
        assert_eq!(parse_request(&long), Err(HttpError::HeadTooLarge));
        assert_eq!(HttpError::HeadTooLarge.status(), 431);
    }

    #[test]
    fn calls_and_their_errors() {
        let req = |path: &str, body: &str| Request {
            method: "POST".into(),
            path: path.into(),
            close: false,
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(parse_call(&req("/Plugin.Activate", "")), Ok(Call::Activate));
        assert_eq!(parse_call(&req("/VolumeDriver.List", "{}")), Ok(Call::List));
        assert_eq!(
            parse_call(&req("/VolumeDriver.Mount", r#"{"Name":"v","ID":"abc"}"#)),
            Ok(Call::Mount {
                name: "v".into(),
                id: "abc".into()
            })
        );
        assert_eq!(
            parse_call(&req("/VolumeDriver.Create", r#"{"Name":"v","Opts":null}"#)),
            Ok(Call::Create {
                name: "v".into(),
                opts: BTreeMap::new()
            })
        );
        let err = |path: &str, body: &str| parse_call(&req(path, body)).unwrap_err().to_string();
        assert_eq!(
            err("/VolumeDriver.Mount", r#"{"Name":"v"}"#),
            "/VolumeDriver.Mount: ID is missing"
        );
        assert_eq!(
            err("/VolumeDriver.Get", r#"{"Name":1}"#),
            "/VolumeDriver.Get: Name is not a string"
        );
        assert_eq!(
            err("/VolumeDriver.Get", "[1]"),
            "/VolumeDriver.Get: the body is not a JSON object"
        );
        assert!(err("/VolumeDriver.Get", "{").starts_with("/VolumeDriver.Get: invalid JSON: "));
        assert_eq!(
            err("/VolumeDriver.Create", r#"{"Name":"v","Opts":{"ro":true}}"#),
            "/VolumeDriver.Create: option ro is not a string"
        );
        assert_eq!(
            err("/NetworkDriver.Join", "{}"),
            "unknown call /NetworkDriver.Join"
        );
        assert_eq!(
            parse_call(&req("/NetworkDriver.Join", "{}"))
                .unwrap_err()
                .status(),
            404
        );
        let mut get = req("/VolumeDriver.List", "");
        get.method = "GET".into();
        assert_eq!(
            parse_call(&get).unwrap_err().to_string(),
            "GET /VolumeDriver.List: the plugin protocol only takes POST"
        );
    }

    #[test]
    fn replies_are_the_protocol_json() {
        let s = |r: Reply| String::from_utf8(encode(&r)).unwrap();
        assert_eq!(s(Reply::Activate), r#"{"Implements":["VolumeDriver"]}"#);
        assert_eq!(
            s(Reply::Capabilities),
            r#"{"Capabilities":{"Scope":"local"}}"#
        );
        assert_eq!(s(Reply::Done), r#"{"Err":""}"#);
        assert_eq!(
            s(Reply::Err("no such volume: \"x\"".into())),
            r#"{"Err":"no such volume: \"x\""}"#
        );
        assert_eq!(
            s(Reply::Mountpoint("/m/v".into())),
            r#"{"Err":"","Mountpoint":"/m/v"}"#
        );
        let mut status = BTreeMap::new();
        status.insert("src".to_string(), "/containers/web/var/log".to_string());
        let v = VolumeInfo {
            name: "weblogs".into(),
            mountpoint: String::new(),
            created: 1_796_133_751,
            status,
        };
        assert_eq!(
            s(Reply::Volume(v.clone())),
            r#"{"Err":"","Volume":{"CreatedAt":"2026-12-01T14:02:31Z","Mountpoint":"","Name":"weblogs","Status":{"src":"/containers/web/var/log"}}}"#
        );
        assert_eq!(s(Reply::List(vec![])), r#"{"Err":"","Volumes":[]}"#);
        let http = response(200, b"{}", false);
        assert_eq!(
            String::from_utf8(http).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.plugins.v1.2+json\r\nContent-Length: 2\r\n\r\n{}"
        );
        assert!(String::from_utf8(response(400, b"{}", true))
            .unwrap()
            .contains("Connection: close\r\n"));
    }

    /// Random splices of request pieces: every one parses, waits or is refused; none panics,
    /// and a whole request never takes more bytes than there are.
    #[test]
    fn random_input_never_panics() {
        let pieces: &[&[u8]] = &[
            b"POST /VolumeDriver.Mount HTTP/1.1\r\n",
            b"Content-Length: 5\r\n",
            b"Content-Length: 99999999999999999999\r\n",
            b"Transfer-Encoding: chunked\r\n",
            b"Connection: close\r\n",
            b"\r\n",
            b"5\r\nhello\r\n",
            b"0\r\n\r\n",
            b"ffffffffffffffffff\r\n",
            b"{\"Name\":\"v\",\"ID\":\"x\"}",
            b"\xff\x00:",
            b" ",
            b"HTTP/1.0",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut buf = Vec::new();
            for _ in 0..(next() % 8) {
                buf.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            let cut = (next() as usize) % (buf.len() + 1);
            buf.truncate(cut);
            if let Ok(Parsed::Whole(req, used)) = parse_request(&buf) {
                assert!(used <= buf.len());
                let _ = parse_call(&req);
            }
        }
    }

    #[test]
    fn dates_are_utc_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }
}
