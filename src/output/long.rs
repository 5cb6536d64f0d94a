//! The `-l` layout: mode, links, owner, group, size, mtime, name.

use std::io::{self, Write};

use super::{display_name, Theme};
use crate::vfs::owners::Owners;
use crate::vfs::{Entry, Kind, Object};

/// Options that change the long layout.
#[derive(Debug, Clone, Copy, Default)]
pub struct LongOpts {
    /// `-h`: sizes as 1.5K, 12M.
    pub human: bool,
}

/// Prints entries in `ls -l` form. `now` decides between the "recent" and "old" date forms.
pub fn render_long(
    w: &mut dyn Write,
    entries: &[Entry],
    owners: &Owners,
    theme: &Theme,
    tty: bool,
    opts: LongOpts,
    now: i64,
) -> io::Result<()> {
    if entries.iter().any(|e| e.container.is_some()) {
        return render_containers(w, entries, theme, tty, now);
    }
    if entries.iter().any(|e| e.engine.is_some()) {
        return render_engines(w, entries, theme, tty);
    }
    if entries.iter().any(|e| e.object.is_some()) {
        return render_objects(w, entries, theme, tty, opts, now);
    }
    let rows: Vec<[String; 5]> = entries
        .iter()
        .map(|e| {
            let size = if opts.human {
                human_size(e.size)
            } else {
                e.size.to_string()
            };
            [
                mode_string(e),
                e.nlink.to_string(),
                owners.user(e.uid),
                owners.group(e.gid),
                size,
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for (e, r) in entries.iter().zip(&rows) {
        write!(
            w,
            "{} {:>l$} {:<u$} {:<g$} {:>s$} {} ",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            format_time(e.mtime, now),
            l = widths[1],
            u = widths[2],
            g = widths[3],
            s = widths[4],
        )?;
        w.write_all(&theme.paint(e, &display_name(&e.name, tty)))?;
        if let Some(t) = &e.link_target {
            w.write_all(b" -> ")?;
            w.write_all(&display_name(t.as_os_str(), tty))?;
        }
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// `ls -l /containers`: state, image, short ID, created, name.
fn render_containers(
    w: &mut dyn Write,
    entries: &[Entry],
    theme: &Theme,
    tty: bool,
    now: i64,
) -> io::Result<()> {
    let infos: Vec<_> = entries
        .iter()
        .filter_map(|e| e.container.as_ref().map(|c| (e, c)))
        .collect();
    let sw = infos
        .iter()
        .map(|(_, c)| c.state.as_str().len())
        .max()
        .unwrap_or(0);
    let iw = infos.iter().map(|(_, c)| c.image.len()).max().unwrap_or(0);
    for (e, c) in infos {
        write!(
            w,
            "{:<sw$}  {:<iw$}  {}  {}  ",
            c.state.as_str(),
            c.image,
            c.short_id(),
            format_time(c.created, now)
        )?;
        w.write_all(&theme.paint(e, &display_name(&e.name, tty)))?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// `ls -l /images`, `/volumes`: two columns of what each object is (an image's size and short
/// ID; a volume's driver and mountpoint), its time (creation), its name. Entries that stand for no object (a directory of
/// nested references) show `-`.
fn render_objects(
    w: &mut dyn Write,
    entries: &[Entry],
    theme: &Theme,
    tty: bool,
    opts: LongOpts,
    now: i64,
) -> io::Result<()> {
    let text = |s: &str| String::from_utf8_lossy(&display_name(s.as_ref(), tty)).into_owned();
    let rows: Vec<(bool, [String; 2])> = entries
        .iter()
        .map(|e| match e.object.as_deref() {
            Some(Object::Image { id, size }) => {
                let size = if opts.human {
                    human_size(*size)
                } else {
                    size.to_string()
                };
                let hex = id.strip_prefix("sha256:").unwrap_or(id);
                (true, [size, hex[..hex.len().min(12)].to_string()])
            }
            Some(Object::Volume { driver, mountpoint }) => {
                (false, [text(driver), text(mountpoint)])
            }
            None => (false, ["-".into(), "-".into()]),
        })
        .collect();
    let w0 = rows.iter().map(|(_, r)| r[0].len()).max().unwrap_or(0);
    let w1 = rows.iter().map(|(_, r)| r[1].len()).max().unwrap_or(0);
    for (e, (right, r)) in entries.iter().zip(&rows) {
        if *right {
            write!(w, "{:>w0$}  ", r[0])?;
        } else {
            write!(w, "{:<w0$}  ", r[0])?;
        }
        let time = if e.object.is_some() {
            format_time(e.mtime, now)
        } else {
            format!("{:>12}", "-")
        };
        write!(w, "{:<w1$}  {}  ", r[1], time)?;
        w.write_all(&theme.paint(e, &display_name(&e.name, tty)))?;
        if let Some(t) = &e.link_target {
            w.write_all(b" -> ")?;
            w.write_all(&display_name(t.as_os_str(), tty))?;
        }
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// `ls -l /containers` with several engines: whether each answered, its version, how many
/// containers run and how many do not, its address, its name.
fn render_engines(
    w: &mut dyn Write,
    entries: &[Entry],
    theme: &Theme,
    tty: bool,
) -> io::Result<()> {
    let rows: Vec<(&Entry, [String; 5])> = entries
        .iter()
        .filter_map(|e| e.engine.as_ref().map(|s| (e, s)))
        .map(|(e, s)| {
            let (state, version, running, stopped) = match &s.error {
                None => (
                    "up".to_string(),
                    s.version.clone().unwrap_or_else(|| "?".into()),
                    format!("{} running", s.running),
                    format!("{} stopped", s.stopped),
                ),
                Some(_) => ("down".into(), "-".into(), "-".into(), "-".into()),
            };
            (e, [state, version, running, stopped, s.addr.clone()])
        })
        .collect();
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|(_, r)| r[i].len()).max().unwrap_or(0))
        .collect();
    for (e, r) in &rows {
        write!(
            w,
            "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}  {:<w4$}  ",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
        )?;
        w.write_all(&theme.paint(e, &display_name(&e.name, tty)))?;
        if let Some(why) = e.engine.as_ref().and_then(|s| s.error.as_ref()) {
            write!(w, " ({why})")?;
        }
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// `drwxr-sr-t` and friends.
pub fn mode_string(e: &Entry) -> String {
    let t = match e.kind {
        Kind::Dir => 'd',
        Kind::Symlink => 'l',
        Kind::Fifo => 'p',
        Kind::Socket => 's',
        Kind::CharDevice => 'c',
        Kind::BlockDevice => 'b',
        Kind::File => '-',
    };
    let p = e.perm;
    let bit = |mask: u32, c: char| if p & mask != 0 { c } else { '-' };
    let special = |x: bool, s: bool, set: char| match (x, s) {
        (true, true) => set,
        (false, true) => set.to_ascii_uppercase(),
        (true, false) => 'x',
        (false, false) => '-',
    };
    let mut s = String::with_capacity(10);
    s.push(t);
    s.push(bit(0o400, 'r'));
    s.push(bit(0o200, 'w'));
    s.push(special(p & 0o100 != 0, p & 0o4000 != 0, 's'));
    s.push(bit(0o040, 'r'));
    s.push(bit(0o020, 'w'));
    s.push(special(p & 0o010 != 0, p & 0o2000 != 0, 's'));
    s.push(bit(0o004, 'r'));
    s.push(bit(0o002, 'w'));
    s.push(special(p & 0o001 != 0, p & 0o1000 != 0, 't'));
    s
}

/// GNU `ls -h`: powers of 1024, rounded up, one decimal below 10.
pub fn human_size(n: u64) -> String {
    const UNITS: &[&str] = &["K", "M", "G", "T", "P", "E"];
    if n < 1024 {
        return n.to_string();
    }
    let mut v = n as f64;
    for u in UNITS {
        v /= 1024.0;
        if v < 1024.0 || *u == "E" {
            return if v < 10.0 {
                let r = (v * 10.0).ceil() / 10.0;
                if r >= 10.0 {
                    format!("{}{u}", r.ceil() as u64)
                } else {
                    format!("{r:.1}{u}")
                }
            } else {
                format!("{}{u}", v.ceil() as u64)
            };
        }
    }
    n.to_string()
}

/// `Nov 26 11:07` for the last six months, `Nov 26  2024` otherwise, in local time.
pub fn format_time(t: i64, now: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const SIX_MONTHS: i64 = 31_556_952 / 2;
    let Some(tm) = localtime(t) else {
        return t.to_string();
    };
    let month = MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("???");
    if now - t < SIX_MONTHS && t - now < 60 * 60 {
        format!(
            "{month} {:>2} {:02}:{:02}",
            tm.tm_mday, tm.tm_hour, tm.tm_min
        )
    } else {
        format!("{month} {:>2}  {}", tm.tm_mday, tm.tm_year + 1900)
    }
}

fn localtime(t: i64) -> Option<libc::tm> {
    let t = t as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`; a null return means it could not convert.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            None
        } else {
            Some(tm)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        let e = |kind, perm| {
            let mut e = Entry::new("x", kind);
            e.perm = perm;
            mode_string(&e)
        };
        assert_eq!(e(Kind::Dir, 0o755), "drwxr-xr-x");
        assert_eq!(e(Kind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(e(Kind::Dir, 0o2751), "drwxr-s--x");
        assert_eq!(e(Kind::File, 0o4644), "-rwSr--r--");
        assert_eq!(e(Kind::Symlink, 0o777), "lrwxrwxrwx");
    }

    #[test]
    fn human_sizes_like_gnu() {
        assert_eq!(human_size(0), "0");
        assert_eq!(human_size(1023), "1023");
        assert_eq!(human_size(1024), "1.0K");
        assert_eq!(human_size(1025), "1.1K");
        assert_eq!(human_size(4096), "4.0K");
        assert_eq!(human_size(10 * 1024), "10K");
        assert_eq!(human_size(1536 * 1024), "1.5M");
        assert_eq!(human_size(2_000_000_000), "1.9G");
    }

    #[test]
    fn objects_show_what_they_are() {
        std::env::set_var("TZ", "UTC");
        let now = 1_795_691_273;
        let obj = |name: &str, o: Object| {
            let mut e = Entry::new(name, Kind::Dir);
            e.mtime = now - 60;
            e.object = Some(std::sync::Arc::new(o));
            e
        };
        let entries = vec![
            obj(
                "data",
                Object::Volume {
                    driver: "local".into(),
                    mountpoint: "/var/lib/docker/volumes/data/_data".into(),
                },
            ),
            obj(
                "app:v1",
                Object::Image {
                    id: "sha256:0123456789abcdef".into(),
                    size: 2048,
                },
            ),
            Entry::new("ghcr.io", Kind::Dir),
        ];
        let mut out = Vec::new();
        let owners = Owners::default();
        render_long(
            &mut out,
            &entries,
            &owners,
            &Theme::plain(),
            false,
            LongOpts { human: true },
            now,
        )
        .expect("render");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "local  /var/lib/docker/volumes/data/_data  Nov 26 11:06  data\n\
             \x202.0K  0123456789ab                        Nov 26 11:06  app:v1\n\
             -      -                                              -  ghcr.io\n"
        );
    }

    #[test]
    fn dates() {
        std::env::set_var("TZ", "UTC");
        let now = 1_795_691_273; // 2026-11-26 11:07:53
        assert_eq!(format_time(now - 60, now), "Nov 26 11:06");
        assert_eq!(format_time(0, now), "Jan  1  1970");
    }
}
