//! User and group names from a passwd/group file pair, for `ls -l`.

use std::collections::HashMap;
use std::io::{self, Write};

/// uid -> user name and gid -> group name.
#[derive(Debug, Default)]
pub struct Owners {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

impl Owners {
    /// Parses `/etc/passwd` and `/etc/group` contents; malformed lines are skipped.
    pub fn parse(passwd: &[u8], group: &[u8]) -> Owners {
        Owners {
            users: parse_db(passwd),
            groups: parse_db(group),
        }
    }

    /// The user's name, or the number when there is none.
    pub fn user(&self, uid: u32) -> String {
        self.users
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| uid.to_string())
    }

    pub fn group(&self, gid: u32) -> String {
        self.groups
            .get(&gid)
            .cloned()
            .unwrap_or_else(|| gid.to_string())
    }
}

/// `name:x:id:...` lines: the first name for each id wins, like getpwuid.
fn parse_db(data: &[u8]) -> HashMap<u32, String> {
    let mut map = HashMap::new();
    for line in String::from_utf8_lossy(data).lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(id)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if let Ok(id) = id.parse::<u32>() {
            map.entry(id).or_insert_with(|| name.to_string());
        }
    }
    map
}

/// A `Write` that keeps at most `limit` bytes: a container's passwd file is untrusted input.
pub struct Limited {
    buf: Vec<u8>,
    limit: usize,
}

impl Limited {
    pub fn new(limit: usize) -> Limited {
        Limited {
            buf: Vec::new(),
            limit,
        }
    }

    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

impl Write for Limited {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > self.limit {
            return Err(io::Error::other("file too large"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_fallbacks() {
        let o = Owners::parse(
            b"root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/:\nbad line\n",
            b"staff:x:50:\n",
        );
        assert_eq!(o.user(0), "root");
        assert_eq!(o.user(1000), "user");
        assert_eq!(o.user(4242), "4242");
        assert_eq!(o.group(50), "staff");
        assert_eq!(o.group(0), "0");
    }
}
