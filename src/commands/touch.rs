//! `touch`: set access and modification times, creating empty files that are missing (also in
//! stopped containers). Times: now, `-d DATE`, `-t STAMP` or `-r FILE`; `-a`/`-m` change one of
//! the two; `-c` creates nothing; `-h` changes a symlink itself.

use std::ffi::{OsStr, OsString};

use futures_util::future::LocalBoxFuture;

use super::common::{quote, quote_c, take_valued, umask};
use super::{Args, Builtin, Out, UsageError};
use crate::context::Context;
use crate::exit_codes;
use crate::vfs::path::link_target_in_container;
use crate::vfs::stream::Attrs;
use crate::vfs::{FsError, Kind, VPath};

pub struct Cmd;

impl Builtin for Cmd {
    fn name(&self) -> &'static str {
        "touch"
    }
    fn about(&self) -> &'static str {
        "change file timestamps, creating empty files"
    }
    fn usage(&self) -> &'static str {
        "touch [-acmh] [-d DATE | -t STAMP | -r FILE] FILE...\n  -a        change only the access time\n  -m        change only the modification time\n  -c        do not create missing files\n  -h        change a symlink itself, not what it points to (creates nothing)\n  -d DATE   @SECONDS[.FRAC], or YYYY-MM-DD[ HH:MM[:SS[.FRAC]]][Z] (local time unless Z)\n  -t STAMP  [[CC]YY]MMDDhhmm[.ss], local time\n  -r FILE   FILE's modification time (used for both times)"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        _out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let (mut opts, files) = match parse(args) {
                Ok(p) => p,
                Err(e) => return ctx.usage(e),
            };
            if let Err(code) = opts.read_reference(ctx).await {
                return code;
            }
            let mut status = exit_codes::OK;
            for f in &files {
                if !opts.operand(ctx, f).await {
                    status = exit_codes::FAILURE;
                }
                if crate::interrupt::is_set() {
                    break;
                }
            }
            status
        })
    }
}

/// A time for utimensat: seconds and nanoseconds, or one of the two special values below.
type Time = (i64, u32);
/// "The current time", taken by the kernel that holds the file (as `touch` with no time does,
/// which also works on files one may write but does not own).
const NOW: Time = (0, libc::UTIME_NOW as u32);
/// "Leave this one as it is" (`-a`, `-m`).
const OMIT: Time = (0, libc::UTIME_OMIT as u32);

fn is_given(t: Time) -> bool {
    t.1 != NOW.1 && t.1 != OMIT.1
}

/// What to do, decided before any I/O (except reading `-r FILE`).
#[derive(Debug)]
struct Opts {
    no_create: bool,
    no_deref: bool,
    atime: Time,
    mtime: Time,
    /// `-r FILE`: the times come from FILE.
    reference: Option<OsString>,
    /// Which of the two times change (`-a`, `-m`; both by default).
    change_a: bool,
    change_m: bool,
}

fn parse(argv: Vec<OsString>) -> Result<(Opts, Vec<OsString>), UsageError> {
    let (argv, values) = take_valued(argv, "rdt")?;
    let longs = [
        "no-create",
        "no-dereference",
        "reference=",
        "date=",
        "time=",
    ];
    let a = Args::parse(argv, "acmhf", &longs)?;
    let has_long = |n: &str| a.long.iter().any(|(l, _)| l == n);
    let mut change_a = a.has('a');
    let mut change_m = a.has('m');
    let mut sources: Vec<(char, OsString)> = values;
    for (name, value) in &a.long {
        let value = value
            .clone()
            .ok_or_else(|| UsageError(format!("option '--{name}' requires an argument")));
        match name.as_str() {
            "reference" => sources.push(('r', value?.into())),
            "date" => sources.push(('d', value?.into())),
            "time" => match value?.as_str() {
                "atime" | "access" | "use" => change_a = true,
                "mtime" | "modify" => change_m = true,
                other => {
                    return Err(UsageError(format!(
                        "invalid argument {} for '--time'",
                        quote_c(OsStr::new(other))
                    )))
                }
            },
            _ => {}
        }
    }
    if !change_a && !change_m {
        (change_a, change_m) = (true, true);
    }
    let mut kinds: Vec<char> = sources.iter().map(|(k, _)| *k).collect();
    kinds.sort_unstable();
    kinds.dedup();
    if kinds.len() > 1 {
        return Err(UsageError(
            "cannot specify times from more than one source".into(),
        ));
    }
    let mut when = NOW;
    let mut reference = None;
    if let Some((kind, text)) = sources.pop() {
        let parsed = match kind {
            'r' => {
                reference = Some(text.clone());
                Some(NOW)
            }
            'd' => text.to_str().and_then(parse_date),
            _ => text.to_str().and_then(parse_stamp),
        };
        when =
            parsed.ok_or_else(|| UsageError(format!("invalid date format {}", quote_c(&text))))?;
    }
    if a.operands.is_empty() {
        return Err(UsageError("missing file operand".into()));
    }
    let opts = Opts {
        no_create: a.has('c') || has_long("no-create"),
        no_deref: a.has('h') || has_long("no-dereference"),
        atime: if change_a { when } else { OMIT },
        mtime: if change_m { when } else { OMIT },
        reference,
        change_a,
        change_m,
    };
    Ok((opts, a.operands))
}

impl Opts {
    /// `-r FILE`: takes FILE's modification time (the namespace gives no access time, so it
    /// is used for both). On failure the command stops, as GNU's does.
    async fn read_reference(&mut self, ctx: &Context) -> Result<(), i32> {
        let Some(r) = &self.reference else {
            return Ok(());
        };
        let p = ctx.resolve(r);
        let e = if self.no_deref {
            ctx.vfs.lstat(&p).await
        } else {
            ctx.vfs.stat(&p).await
        };
        match e {
            Ok(e) => {
                let t = (e.mtime, 0);
                self.atime = if self.change_a { t } else { OMIT };
                self.mtime = if self.change_m { t } else { OMIT };
                Ok(())
            }
            Err(e) => {
                ctx.complain(&format!("failed to get attributes of {}", quote(r)), &e);
                Err(exit_codes::FAILURE)
            }
        }
    }

    /// One file: set its times, or create it. False when that failed.
    async fn operand(&self, ctx: &Context, text: &OsStr) -> bool {
        let p = ctx.resolve(text);
        // Existing files are the common case: one request, no stat first.
        let err = match ctx
            .vfs
            .set_times(&p, self.atime, self.mtime, !self.no_deref)
            .await
        {
            Ok(()) => return true,
            Err(e) => e,
        };
        if matches!(err, FsError::NotFound) && self.no_create {
            return true;
        }
        // A stopped container answers NotRunning whether or not the file exists.
        let missing = matches!(
            err,
            FsError::NotFound | FsError::NotRunning(_) | FsError::NoSuchContainer
        );
        if missing && (self.no_create || !self.no_deref) {
            match missing_target(ctx, &p).await {
                Ok(Some(_)) if self.no_create => return true,
                Ok(Some(dest)) => return self.create(ctx, text, &dest).await,
                Ok(None) => {}
                Err(e) => {
                    ctx.complain(&format!("cannot touch {}", quote(text)), &e);
                    return false;
                }
            }
        }
        ctx.complain(&format!("setting times of {}", quote(text)), &err);
        false
    }

    /// Creates an empty file at `dest` (where `text` leads) with the times asked for.
    async fn create(&self, ctx: &Context, text: &OsStr, dest: &VPath) -> bool {
        let attrs = Attrs {
            mode: 0o666 & !umask(),
            owner: None,
            // A stopped container takes it in the tar header; elsewhere set_times follows.
            mtime: is_given(self.mtime).then_some(self.mtime),
        };
        let made = async {
            let w = ctx.vfs.create(dest, &attrs, 0).await?;
            w.commit().await
        };
        if let Err(e) = made.await {
            ctx.complain(&format!("cannot touch {}", quote(text)), &e);
            return false;
        }
        if !is_given(self.atime) && !is_given(self.mtime) {
            return true;
        }
        match ctx.vfs.set_times(dest, self.atime, self.mtime, true).await {
            Ok(()) | Err(FsError::NotRunning(_)) => true,
            Err(e) => {
                ctx.complain(&format!("setting times of {}", quote(text)), &e);
                false
            }
        }
    }
}

/// Where a missing file would be created: the path itself, or, when it is a dangling symlink,
/// what the link names (as open(2) with O_CREAT does; replacing the link would be wrong).
/// `None` when something is there after all.
async fn missing_target(ctx: &Context, p: &VPath) -> Result<Option<VPath>, FsError> {
    let mut cur = p.clone();
    for _ in 0..40 {
        let e = match ctx.vfs.lstat_with(&cur, true).await {
            Ok(e) => e,
            Err(FsError::NotFound) => return Ok(Some(cur)),
            Err(e) => return Err(e),
        };
        match (e.kind, e.link_target) {
            (Kind::Symlink, Some(t)) => cur = link_destination(&cur, &t),
            _ => return Ok(None),
        }
    }
    Err(FsError::Loop)
}

/// The path a symlink at `link` names: inside its container (confined to it), or on the host
/// (where the kernel resolves `..`).
fn link_destination(link: &VPath, target: &std::path::Path) -> VPath {
    match link {
        VPath::Host(h) => {
            let dir = h.parent().unwrap_or(std::path::Path::new("/"));
            VPath::Host(dir.join(target))
        }
        VPath::Container { host, name, path } => VPath::Container {
            host: host.clone(),
            name: name.clone(),
            path: link_target_in_container(path, target),
        },
        other => other.clone(),
    }
}

/// `-d`: `@SECONDS[.FRAC]`, or `YYYY-MM-DD[( |T)HH:MM[:SS[.FRAC]]][Z| UTC]`.
fn parse_date(s: &str) -> Option<Time> {
    let s = s.trim();
    if let Some(secs) = s.strip_prefix('@') {
        return parse_seconds(secs);
    }
    let (s, utc) = match s
        .strip_suffix(" UTC")
        .or_else(|| s.strip_suffix("UTC"))
        .or_else(|| s.strip_suffix('Z'))
    {
        Some(rest) => (rest.trim_end(), true),
        None => (s, false),
    };
    let (date, time) = match s.find([' ', 'T']) {
        Some(i) => (&s[..i], Some(s[i + 1..].trim_start())),
        None => (s, None),
    };
    let mut d = date.split('-');
    let year: i32 = number(d.next()?)?;
    let month = number(d.next()?)?;
    let day = number(d.next()?)?;
    if d.next().is_some() {
        return None;
    }
    let (mut hour, mut min, mut sec, mut nanos) = (0, 0, 0, 0);
    if let Some(time) = time {
        let (hms, frac) = match time.split_once('.') {
            Some((hms, frac)) => (hms, Some(frac)),
            None => (time, None),
        };
        let mut t = hms.split(':');
        hour = number(t.next()?)?;
        min = number(t.next()?)?;
        sec = t.next().map_or(Some(0), number)?;
        if t.next().is_some() {
            return None;
        }
        if let Some(f) = frac {
            nanos = fraction(f)?;
        }
    }
    let secs = civil_seconds(year, month, day, hour, min, sec, utc)?;
    Some((secs, nanos))
}

/// `-t`: `[[CC]YY]MMDDhhmm[.ss]`, local time.
fn parse_stamp(s: &str) -> Option<Time> {
    let (main, sec) = match s.split_once('.') {
        Some((m, ss)) if ss.len() == 2 => (m, number(ss)?),
        Some(_) => return None,
        None => (s, 0),
    };
    if !main.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match main.len() {
        12 => (number(&main[..4])?, &main[4..]),
        10 => {
            let yy: i32 = number(&main[..2])?;
            (if yy < 69 { 2000 + yy } else { 1900 + yy }, &main[2..])
        }
        8 => (current_year()?, main),
        _ => return None,
    };
    let n = |r: std::ops::Range<usize>| number(&rest[r]);
    let secs = civil_seconds(year, n(0..2)?, n(2..4)?, n(4..6)?, n(6..8)?, sec, false)?;
    Some((secs, 0))
}

fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Up to nine digits after a decimal point, as nanoseconds.
fn fraction(f: &str) -> Option<u32> {
    if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = f.chars().chain(std::iter::repeat('0')).take(9).collect();
    digits.parse().ok()
}

/// `SECONDS[.FRAC]`, possibly negative.
fn parse_seconds(s: &str) -> Option<Time> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, fraction(f)?),
        None => (s, 0),
    };
    let whole: i64 = number(whole)?;
    Some(match (neg, frac) {
        (false, _) => (whole, frac),
        (true, 0) => (-whole, 0),
        (true, f) => (-whole - 1, 1_000_000_000 - f),
    })
}

/// Seconds since the epoch of a calendar time, local (with the TZ rules) or UTC.
fn civil_seconds(
    year: i32,
    month: i32,
    day: i32,
    hour: i32,
    min: i32,
    sec: i32,
    utc: bool,
) -> Option<i64> {
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..=23).contains(&hour)
        && (0..=59).contains(&min)
        && (0..=60).contains(&sec);
    if !valid {
        return None;
    }
    // SAFETY: tm is plain data; all-zero is a valid value (tm_zone a null pointer).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    tm.tm_isdst = -1;
    // SAFETY: a valid tm; both only read and normalise it.
    let t = unsafe {
        if utc {
            libc::timegm(&mut tm)
        } else {
            libc::mktime(&mut tm)
        }
    };
    // Normalising moved the day (31 February): not a date.
    if tm.tm_mday != day || tm.tm_mon != month - 1 {
        return None;
    }
    Some(t)
}

fn current_year() -> Option<i32> {
    // SAFETY: time(NULL) only returns the time.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: as in civil_seconds.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to a time_t and a tm.
    let r = unsafe { libc::localtime_r(&now, &mut tm) };
    (!r.is_null()).then_some(tm.tm_year + 1900)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn dates_in_utc() {
        let cases: &[(&str, Option<Time>)] = &[
            ("@1600000000", Some((1_600_000_000, 0))),
            ("@1.5", Some((1, 500_000_000))),
            ("@-1.5", Some((-2, 500_000_000))),
            ("2020-01-02Z", Some((1_577_923_200, 0))),
            ("2020-01-02 03:04:05Z", Some((1_577_934_245, 0))),
            ("2020-01-02T03:04 UTC", Some((1_577_934_240, 0))),
            (
                "2020-01-02 03:04:05.25Z",
                Some((1_577_934_245, 250_000_000)),
            ),
            ("2020-02-30Z", None),
            ("2020-01-02 25:00Z", None),
            ("yesterday", None),
            ("@", None),
            ("2020-1", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_date(text), *want, "{text}");
        }
    }

    #[test]
    fn stamps() {
        // Local time: compare with the same moment through -d without Z.
        assert_eq!(
            parse_stamp("202001020304.05"),
            parse_date("2020-01-02 03:04:05")
        );
        assert_eq!(parse_stamp("2001020304"), parse_date("2020-01-02 03:04"));
        assert_eq!(parse_stamp("6901020304"), parse_date("1969-01-02 03:04"));
        for bad in ["1234", "20200102030", "202001020304.5", "2020010203x4"] {
            assert_eq!(parse_stamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn command_lines() {
        let (o, files) = parse(v(&["-c", "-d", "@5", "f", "g"])).unwrap();
        assert!(o.no_create && !o.no_deref);
        assert_eq!((o.atime, o.mtime), ((5, 0), (5, 0)));
        assert_eq!(files, v(&["f", "g"]));
        let (o, _) = parse(v(&["-m", "f"])).unwrap();
        assert_eq!((o.atime, o.mtime), (OMIT, NOW));
        let (o, _) = parse(v(&["--time=atime", "-hr", "ref", "f"])).unwrap();
        assert_eq!(o.reference, Some(OsString::from("ref")));
        assert!(o.change_a && !o.change_m && o.no_deref);
        let err = |a: &[&str]| parse(v(a)).err().map(|e| e.0);
        assert_eq!(err(&[]), Some("missing file operand".into()));
        assert_eq!(
            err(&["-d", "soon", "f"]),
            Some("invalid date format 'soon'".into())
        );
        assert_eq!(
            err(&["-d", "@1", "-t", "202001020304", "f"]),
            Some("cannot specify times from more than one source".into())
        );
    }

    #[test]
    fn dangling_links_lead_inside_their_container() {
        let link = VPath::Container {
            host: None,
            name: "c".into(),
            path: "/a/l".into(),
        };
        let to = |t: &str| link_destination(&link, std::path::Path::new(t));
        let inside = |p: &str| VPath::Container {
            host: None,
            name: "c".into(),
            path: p.into(),
        };
        assert_eq!(to("x"), inside("/a/x"));
        assert_eq!(to("/etc/x"), inside("/etc/x"));
        assert_eq!(to("../../../x"), inside("/x"));
        let host = VPath::Host("/tmp/d/l".into());
        assert_eq!(
            link_destination(&host, std::path::Path::new("../x")),
            VPath::Host("/tmp/d/../x".into())
        );
    }
}
