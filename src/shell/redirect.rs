//! Where a command's descriptors point: `<`, `>`, `>>`, `n>&m`, `n>&-`, and the container files
//! given to host programs as arguments.
//!
//! Host files are opened as sh opens them. A file inside a container is reached through a pipe
//! and a pump thread: a *feed* streams the file into a pipe (`< /containers/...`, and each
//! container file argument of a host program, passed as `/dev/fd/N` as bash's process
//! substitution does); a *drain* takes what the command writes and lands it through
//! [`Vfs::create_with`](crate::vfs::Vfs::create_with), as sh would: an existing file is
//! truncated (`>`) or appended to (`>>`) in place, keeping its inode, owner and links; a new
//! one goes under a temporary name, renamed when the command is done, so it appears whole or
//! not at all. A drain waits at the end of its input for the shell's word: the command's status
//! does not matter (as in sh, `grep x f > out` leaves `out` even when nothing matched), but
//! Ctrl-C (or a command killed by it) or a failed write leaves no new file.
//!
//! Pumps run on their own threads, driving the async vfs with the runtime's `Handle::block_on`,
//! because they block on pipes; they report their errors when the command is done.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::expand::{Redir, Target};
use super::fds::{self, Fd, FdTable};
use super::Shell;
use crate::context::Reporter;
use crate::exit_codes;
use crate::syntax::RedirOp;
use crate::vfs::stream::{Attrs, FileWriter, Open, CHUNK};
use crate::vfs::{Entry, FsError, Kind, VPath, Vfs};

/// Programs that only print their arguments: a container path stays a name for them
/// (`echo /containers/*/etc/os-release` lists paths).
const PRINTS_ARGS: &[&[u8]] = &[b"echo", b"printf", b"basename", b"dirname"];

/// The descriptor the first `/dev/fd/N` argument gets, counting down (bash's choice too).
const FIRST_STREAM_FD: u32 = 63;
const LAST_STREAM_FD: u32 = 10;

/// The pumps one command started.
#[derive(Default)]
pub struct Pumps(Vec<Pump>);

pub struct Pump {
    /// What a failure is reported as: `PATH` or `CMD: PATH`.
    label: String,
    done: oneshot::Receiver<Result<(), FsError>>,
    /// A drain's go-ahead: land the file (true) or throw it away.
    land: Option<oneshot::Sender<bool>>,
    /// The shell's end of its pipe: once nothing here holds it, the pump sees its end.
    end: std::sync::Weak<OwnedFd>,
}

/// Pumps of `exec`'s redirects (`exec 3>/containers/c/log`): they stay with the shell's
/// descriptors and each ends when its descriptor is closed (`exec 3>&-`) or the shell ends,
/// rather than with the `exec` command (whose wait would never see the pipe's end).
#[derive(Default)]
pub struct Held(std::sync::Mutex<Vec<Pump>>);

impl Held {
    /// Keeps `pumps`, their drains told to land their files when their input ends.
    pub fn hold(&self, mut pumps: Pumps) {
        for p in &mut pumps.0 {
            if let Some(tx) = p.land.take() {
                let _ = tx.send(true);
            }
        }
        if let Ok(mut held) = self.0.lock() {
            held.extend(pumps.0);
        }
    }

    /// Waits for the pumps whose descriptor nothing in this process holds any more and reports
    /// their failures. False if any failed.
    pub async fn settle(&self, errors: &Reporter) -> bool {
        let closed = match self.0.lock() {
            Ok(mut held) => {
                let (closed, open) = std::mem::take(&mut *held)
                    .into_iter()
                    .partition(|p| p.end.strong_count() == 0);
                *held = open;
                closed
            }
            Err(_) => Vec::new(),
        };
        closed.is_empty() || Pumps(closed).finish(true, errors).await
    }
}

impl Pumps {
    /// No container file streams for the command (job control may stop it).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn push(&mut self, p: Pump) {
        self.0.push(p);
    }

    /// Tells drains whether to land their files (`keep`: the command was not interrupted),
    /// waits for every pump (the command's descriptors must be closed by now, or a drain never
    /// sees its end) and reports failures. False if any failed.
    pub async fn finish(mut self, keep: bool, errors: &Reporter) -> bool {
        let mut ok = true;
        for p in &mut self.0 {
            if let Some(tx) = p.land.take() {
                let _ = tx.send(keep);
            }
        }
        for p in self.0 {
            match p.done.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    if !matches!(e, FsError::Interrupted) && !e.is_broken_pipe() {
                        errors.error(format_args!("{}: {e}", p.label));
                    }
                    if matches!(e, FsError::PartialLeft(_)) {
                        errors.error(format_args!(
                            "{}: partial file left (the container is stopped)",
                            p.label
                        ));
                    }
                    ok = false;
                }
                Err(_) => ok = false,
            }
        }
        ok
    }
}

fn spawn_pump(
    label: String,
    land: Option<oneshot::Sender<bool>>,
    work: impl FnOnce() -> Result<(), FsError> + Send + 'static,
) -> io::Result<Pump> {
    let (tx, rx) = oneshot::channel();
    let job = crate::interrupt::scope();
    std::thread::Builder::new()
        .name("dockerbox-pump".into())
        .spawn(move || {
            crate::interrupt::enter(job);
            let _ = tx.send(work());
        })?;
    Ok(Pump {
        label,
        done: rx,
        land,
        end: std::sync::Weak::new(),
    })
}

impl Shell {
    /// Points `table`'s descriptors as `redirects` say, left to right. A failure is reported and
    /// the command must not run.
    pub(super) async fn redirect(
        &self,
        redirects: &[Redir],
        table: &mut FdTable,
        pumps: &mut Pumps,
    ) -> bool {
        for r in redirects {
            if let Err(msg) = self.redirect_one(r, table, pumps).await {
                self.shell_error(&msg);
                return false;
            }
        }
        true
    }

    async fn redirect_one(
        &self,
        r: &Redir,
        table: &mut FdTable,
        pumps: &mut Pumps,
    ) -> Result<(), String> {
        let path = match &r.target {
            Target::Close => {
                table.close(r.fd);
                return Ok(());
            }
            Target::Fd(n) | Target::Move(n) => {
                let fd = table
                    .get(*n)
                    .cloned()
                    .ok_or_else(|| format!("{n}: Bad file descriptor"))?;
                table.set(r.fd, fd);
                if matches!(r.target, Target::Move(_)) && *n != r.fd {
                    table.close(*n);
                }
                return Ok(());
            }
            Target::Ambiguous(msg) => return Err(msg.clone()),
            Target::Body(text) => {
                let fd = here_document(text.clone()).map_err(|e| crate::vfs::io_text(&e))?;
                table.set(r.fd, fd);
                return Ok(());
            }
            Target::Path(p) => p,
        };
        // Quoted on a terminal: a container's file name must not drive it.
        let shown = self.own.name(path);
        let fail = |e: FsError| format!("{shown}: {e}");
        let reading = matches!(r.op, RedirOp::In | RedirOp::DupIn);
        let fd = match self.resolve(path) {
            VPath::Host(h) => {
                if self.opts.noclobber && r.op == RedirOp::Out && h.is_file() {
                    return Err(format!("{shown}: cannot overwrite existing file"));
                }
                Arc::new(open_host(&h, r.op).map_err(|e| fail(e.into()))?)
            }
            p if reading => {
                if self.vfs.stat(&p).await.map_err(fail)?.is_dir() {
                    return Err(fail(FsError::IsADirectory));
                }
                let (fd, pump) = self.feed(p, shown.clone()).map_err(|e| fail(e.into()))?;
                pumps.push(pump);
                fd
            }
            _ if r.op == RedirOp::ReadWrite => {
                // A container file is streamed one way through a pipe: there is no descriptor
                // to both read and write.
                return Err(format!(
                    "{shown}: <> opens host files only (a container file is read with < and written with > or >>)"
                ));
            }
            p => {
                if self.opts.noclobber
                    && r.op == RedirOp::Out
                    && self.vfs.stat(&p).await.is_ok_and(|e| e.kind == Kind::File)
                {
                    return Err(format!("{shown}: cannot overwrite existing file"));
                }
                let append = r.op == RedirOp::Append;
                let (fd, pump) = self.drain(p, append, shown.clone()).await.map_err(fail)?;
                pumps.push(pump);
                fd
            }
        };
        table.set(r.fd, fd);
        Ok(())
    }

    /// The read end of a pipe that a pump fills with the bytes of `p`.
    fn feed(&self, p: VPath, label: String) -> io::Result<(Fd, Pump)> {
        let (r, w) = fds::pipe()?;
        let vfs = self.vfs.clone();
        let handle = tokio::runtime::Handle::current();
        let pump = spawn_pump(label, None, move || {
            let mut out = File::from(w);
            match handle.block_on(vfs.read(&p, &mut out)) {
                Err(e) if !e.is_broken_pipe() => Err(e),
                // The reader stopped early (`head`): that is its business.
                _ => Ok(()),
            }
        })?;
        let r = Arc::new(r);
        Ok((
            r.clone(),
            Pump {
                end: Arc::downgrade(&r),
                ..pump
            },
        ))
    }

    /// The write end of a pipe that a pump lands at `p` when the command is done.
    async fn drain(&self, p: VPath, append: bool, label: String) -> Result<(Fd, Pump), FsError> {
        let mut existing = match self.vfs.lstat(&p).await {
            Ok(e) => Some(e),
            Err(FsError::NotFound) => None,
            Err(e) => return Err(e),
        };
        if existing.as_ref().is_some_and(|e| e.kind == Kind::Symlink) {
            // Written through, as sh does (resolved inside the container).
            existing = match self.vfs.stat(&p).await {
                Ok(e) => Some(e),
                Err(FsError::NotFound) => {
                    return Err(refuse(
                        "a dangling symbolic link inside a container: redirect to its target \
                         instead",
                    ))
                }
                Err(e) => return Err(e),
            };
        }
        let mode = match &existing {
            None => 0o666 & !crate::commands::umask(),
            Some(e) => match e.kind {
                Kind::File => e.perm & 0o7777,
                Kind::Dir => return Err(FsError::IsADirectory),
                _ => {
                    return Err(refuse(
                        "not a regular file: only regular files inside containers take output",
                    ))
                }
            },
        };
        let attrs = Attrs {
            mode,
            ..Attrs::default()
        };
        // An existing file is truncated (`>`) or appended to (`>>`) in place, as sh does, so
        // its inode, owner and links stay and whoever holds it open sees the new lines.
        let open = if append { Open::Append } else { Open::Replace };
        let sink = if self.vfs.create_needs_size(&p).await? {
            Sink::Spool(spool()?)
        } else {
            Sink::Stream(self.vfs.create_with(&p, &attrs, 0, open).await?)
        };
        // Only a spool (the archive API replaces the file) sends the old content first.
        let old = existing.filter(|_| append && matches!(sink, Sink::Spool(_)));
        let (r, w) = fds::pipe()?;
        let vfs = self.vfs.clone();
        let handle = tokio::runtime::Handle::current();
        let (go, land_rx) = oneshot::channel();
        let pump = spawn_pump(label, Some(go), move || {
            let mut sink = sink;
            let filled = handle.block_on(fill(&vfs, &p, &mut sink, old, &r));
            // A command still writing gets a broken pipe rather than waiting on us.
            drop(r);
            // Outside the runtime: this thread waits for the command's end, not a task.
            let keep = filled.is_ok() && land_rx.blocking_recv().unwrap_or(false);
            handle.block_on(land(&vfs, &p, &attrs, sink, filled, keep))
        })?;
        let w = Arc::new(w);
        Ok((
            w.clone(),
            Pump {
                end: Arc::downgrade(&w),
                ..pump
            },
        ))
    }

    /// Whether a host program names the namespace (a path into it among its arguments, also
    /// inside an option or a script's text), or runs in a container directory: it then runs
    /// with the namespace mounted where it can be.
    pub(super) fn wants_view(&self, prog: &OsStr, args: &[OsString]) -> bool {
        let base = Path::new(prog)
            .file_name()
            .map_or(prog.as_bytes(), |n| n.as_bytes());
        if PRINTS_ARGS.contains(&base) {
            return false;
        }
        VPath::parse(&self.cwd).is_virtual()
            || args.iter().any(|a| {
                crate::mount::realpaths::mentions_tree(a)
                    || (!a.as_bytes().starts_with(b"-") && self.resolve(a).is_virtual())
            })
    }

    /// A host program's arguments with each file inside a container replaced by `/dev/fd/N`, a
    /// pipe streaming it, and those descriptors. Only what names something in a container
    /// counts: a path typed from `/`, or, when the current directory is in a container, a
    /// relative word that exists there (`grep root passwd`); options (`--file=/containers/...`)
    /// stay as typed. A directory, or a missing path typed from `/`, is an error naming it: a
    /// host program cannot list, write or create there.
    pub(super) async fn stream_args(
        &self,
        prog: &OsStr,
        args: &[OsString],
        table: &FdTable,
        pumps: &mut Pumps,
    ) -> Result<(Vec<OsString>, Vec<(u32, Fd)>), i32> {
        let base = Path::new(prog)
            .file_name()
            .map_or(prog.as_bytes(), |n| n.as_bytes());
        if PRINTS_ARGS.contains(&base) {
            return Ok((args.to_vec(), Vec::new()));
        }
        let in_container = VPath::parse(&self.cwd).is_virtual();
        let prog = self.own.name(prog);
        let (mut out, mut extra) = (Vec::with_capacity(args.len()), Vec::new());
        let mut next = FIRST_STREAM_FD;
        for arg in args {
            let b = arg.as_bytes();
            let typed_absolute = b.starts_with(b"/");
            let p = self.resolve(arg);
            let candidate = matches!(
                p,
                VPath::Container { .. }
                    | VPath::Meta(_)
                    | VPath::Images(_)
                    | VPath::Volumes(_)
                    | VPath::Apps(_)
            ) && (typed_absolute || (in_container && !b.starts_with(b"-")));
            if !candidate {
                out.push(arg.clone());
                continue;
            }
            let shown = self.own.name(arg);
            let why = match self.vfs.stat(&p).await {
                Ok(e) if !e.is_dir() => None,
                // `du .` in a container means the container's directory, never the host's.
                Ok(_) => Some(
                    "a directory inside a container cannot be given to a host program (only \
                     files can, as streams)"
                        .to_string(),
                ),
                Err(FsError::Interrupted) => return Err(exit_codes::INTERRUPTED),
                // A relative word that names nothing here is not a path (`grep root passwd`).
                Err(_) if !typed_absolute => {
                    out.push(arg.clone());
                    continue;
                }
                Err(FsError::NotFound) => Some(
                    "No such file or directory (a host program can only be given files that \
                     exist inside a container)"
                        .to_string(),
                ),
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = why {
                self.own.error(format_args!("{prog}: {shown}: {why}"));
                return Err(exit_codes::FAILURE);
            }
            while table.contains(next) && next > LAST_STREAM_FD {
                next -= 1;
            }
            if next <= LAST_STREAM_FD {
                self.own.error(format_args!(
                    "{prog}: too many files from containers in one command"
                ));
                return Err(exit_codes::FAILURE);
            }
            match self.feed(p, format!("{prog}: {shown}")) {
                Ok((fd, pump)) => {
                    pumps.push(pump);
                    extra.push((next, fd));
                    out.push(format!("/dev/fd/{next}").into());
                    next -= 1;
                }
                Err(e) => {
                    let e = crate::vfs::io_text(&e);
                    self.own.error(format_args!("{prog}: {shown}: {e}"));
                    return Err(exit_codes::FAILURE);
                }
            }
        }
        Ok((out, extra))
    }
}

/// A here-document's text as the read end of a pipe, written by a thread (the text may be
/// bigger than a pipe holds).
fn here_document(text: Vec<u8>) -> io::Result<Fd> {
    let (r, w) = fds::pipe()?;
    std::thread::Builder::new()
        .name("dockerbox-heredoc".into())
        .spawn(move || {
            // A reader that stops early is its business.
            let _ = File::from(w).write_all(&text);
        })?;
    Ok(Arc::new(r))
}

fn refuse(why: &str) -> FsError {
    FsError::Io(io::Error::other(why.to_string()))
}

/// Opens a host file as sh does for the operator; new files get 0666 less the umask.
fn open_host(h: &Path, op: RedirOp) -> io::Result<OwnedFd> {
    let mut o = std::fs::OpenOptions::new();
    match op {
        RedirOp::In | RedirOp::DupIn | RedirOp::HereDoc => o.read(true),
        RedirOp::Out | RedirOp::Clobber | RedirOp::DupOut => {
            o.write(true).create(true).truncate(true)
        }
        RedirOp::ReadWrite => o.read(true).write(true).create(true),
        RedirOp::Append => o.append(true).create(true),
    };
    // A NUL cannot reach the kernel: say what it would (std's own text names no errno).
    if h.as_os_str().as_bytes().contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(o.mode(0o666).open(h)?.into())
}

/// Where a drain puts the bytes until they land.
enum Sink {
    Stream(FileWriter),
    /// The archive API (a stopped container) needs the size before the first byte: the output
    /// waits in an unlinked host file, then goes up in one piece. Like any write into a stopped
    /// container, a failure during that upload can leave a partial file.
    Spool(File),
}

impl Sink {
    async fn write(&mut self, data: &[u8]) -> Result<(), FsError> {
        match self {
            Sink::Stream(w) => w.write(data).await,
            Sink::Spool(f) => f.write_all(data).map_err(FsError::from),
        }
    }

    async fn commit(self, vfs: &Vfs, p: &VPath, attrs: &Attrs) -> Result<(), FsError> {
        let mut f = match self {
            Sink::Stream(w) => return w.commit().await,
            Sink::Spool(f) => f,
        };
        let size = f.metadata()?.len();
        f.rewind()?;
        let mut w = vfs.create(p, attrs, size).await?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let partial = w.abort().await;
                    return Err(left(partial, e.into()));
                }
            };
            if let Err(e) = w.write(&buf[..n]).await {
                let partial = w.abort().await;
                return Err(left(partial, e));
            }
        }
        w.commit().await
    }

    async fn abort(self) {
        if let Sink::Stream(w) = self {
            w.abort().await;
        }
    }
}

/// `e`, marked as having left a partial file in a stopped container when it did.
fn left(partial: bool, e: FsError) -> FsError {
    if partial {
        FsError::PartialLeft(Box::new(e))
    } else {
        e
    }
}

/// Lands the file when it was filled and the shell says so; otherwise throws it away.
async fn land(
    vfs: &Vfs,
    p: &VPath,
    attrs: &Attrs,
    sink: Sink,
    filled: Result<(), FsError>,
    keep: bool,
) -> Result<(), FsError> {
    match filled {
        Ok(()) if keep => sink.commit(vfs, p, attrs).await,
        Ok(()) => {
            sink.abort().await;
            Err(FsError::Interrupted)
        }
        Err(e) => {
            sink.abort().await;
            Err(e)
        }
    }
}

/// A drain's input: the old content for `>>`, then the pipe to its end.
async fn fill(
    vfs: &Vfs,
    p: &VPath,
    sink: &mut Sink,
    old: Option<Entry>,
    from: &OwnedFd,
) -> Result<(), FsError> {
    if let Some(e) = old {
        let (_, mut reader) = vfs.open_read_known(p, &e).await?;
        while let Some(chunk) = reader.next().await? {
            sink.write(&chunk).await?;
        }
    }
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = fds::read_interruptibly(from, &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        sink.write(&buf[..n]).await?;
    }
}

/// An unlinked temporary host file.
fn spool() -> io::Result<File> {
    let path =
        std::env::temp_dir().join(crate::vfs::stream::temp_name(OsStr::new("dockerbox-spool")));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    let _ = std::fs::remove_file(&path);
    Ok(f)
}
