//! User and group names from a passwd/group file pair, for `ls -l`.

use std::collections::HashMap;
use std::io::{self, Write};

/// uid -> user name and gid -> group name, and back.
#[derive(Debug, Default)]
pub struct Owners {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
    /// name -> (uid, primary gid), from passwd.
    by_name: HashMap<String, (u32, Option<u32>)>,
}

impl Owners {
    /// Parses `/etc/passwd` and `/etc/group` contents; malformed lines are skipped.
    pub fn parse(passwd: &[u8], group: &[u8]) -> Owners {
        let mut by_name = HashMap::new();
        for line in String::from_utf8_lossy(passwd).lines() {
            let f: Vec<&str> = line.split(':').collect();
            if let (Some(name), Some(Ok(uid))) = (f.first(), f.get(2).map(|u| u.parse::<u32>())) {
                let gid = f.get(3).and_then(|g| g.parse::<u32>().ok());
                by_name.entry(name.to_string()).or_insert((uid, gid));
            }
        }
        Owners {
            users: parse_db(passwd),
            groups: parse_db(group),
            by_name,
        }
    }

    /// A user's uid and primary gid, by name.
    pub fn user_ids(&self, name: &str) -> Option<(u32, Option<u32>)> {
        self.by_name.get(name).copied()
    }

    /// The primary gid of a uid.
    pub fn primary_gid(&self, uid: u32) -> Option<u32> {
        self.by_name
            .values()
            .find(|(u, _)| *u == uid)
            .and_then(|(_, g)| *g)
    }

    /// A group's gid, by name.
    pub fn gid_of(&self, name: &str) -> Option<u32> {
        self.groups
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(g, _)| *g)
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
        assert_eq!(o.user_ids("user"), Some((1000, Some(1000))));
        assert_eq!(o.gid_of("staff"), Some(50));
        assert_eq!(o.primary_gid(0), Some(0));
        assert_eq!(o.user_ids("user"), Some((1000, Some(1000))));
        assert_eq!(o.gid_of("staff"), Some(50));
        assert_eq!(o.primary_gid(0), Some(0));
    }
}
