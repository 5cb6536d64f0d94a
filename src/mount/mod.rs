//! `dockerbox mount DIR`: the namespace as a kernel filesystem (FUSE), so every host program
//! (`find`, `grep -r`, `tar`, `rsync`, `git`, an editor) can use container paths as it uses
//! any other: `DIR/containers/NAME/...` (`DIR/containers/HOST/NAME/...` with several engines),
//! `DIR/meta`, `DIR/images`, `DIR/volumes` (every tree in `vfs::path::TREES`). The host's own
//! files are not shown again under DIR.
//!
//! As root it opens `/dev/fuse` and calls mount(2) itself (fuser's pure-Rust mount, no
//! libfuse); as a user fuser runs `fusermount3`. The mount is `nodev,nosuid` and uses the
//! kernel's permission checks (`default_permissions`), so `-o allow_other` shares it safely. It
//! runs in the foreground until it is unmounted or gets SIGINT, SIGTERM or SIGHUP, and then
//! unmounts (lazily if something still uses it); `--background` returns once the mount is
//! ready.

mod fs;
mod links;
mod nodes;
pub mod realpaths;

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fuser::{Config, MountOption, Notifier, SessionACL};

use crate::vfs::{Change, Vfs};

/// What `dockerbox mount` was asked.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dir: PathBuf,
    pub read_only: bool,
    pub allow_other: bool,
    /// Symlinks shown relative to their own directory, for users that see sub-trees of the
    /// mount at paths of their own (the volume driver's consumers).
    pub relative_links: bool,
    /// `-o writeback_cache`: the kernel gathers small writes (see `fs::Inner::writeback`).
    pub writeback: bool,
}

/// Why the mount could not be made (worded `mount: DIR: reason`).
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("mount: {}: {reason}", dir.display())]
    At { dir: PathBuf, reason: String },
    #[error("mount: -o {0}: unknown option (ro, rw, allow_other, writeback_cache)")]
    Option(String),
}

impl Options {
    /// `-o` values, comma-separated, as other FUSE filesystems take them.
    pub fn parse(dir: PathBuf, opts: &[String]) -> Result<Options, MountError> {
        let mut o = Options {
            dir,
            ..Options::default()
        };
        for opt in opts
            .iter()
            .flat_map(|s| s.split(','))
            .filter(|s| !s.is_empty())
        {
            match opt {
                "ro" => o.read_only = true,
                "rw" => o.read_only = false,
                "allow_other" => o.allow_other = true,
                "writeback_cache" => o.writeback = true,
                other => return Err(MountError::Option(other.to_string())),
            }
        }
        Ok(o)
    }

    fn fail(&self, reason: impl Into<String>) -> MountError {
        MountError::At {
            dir: self.dir.clone(),
            reason: reason.into(),
        }
    }
}

/// Mounts at `opts.dir` and serves from a thread of fuser's, with the kernel's caches
/// following the namespace's changes: what `run` and [`serve`] share.
fn start(
    rt: &tokio::runtime::Handle,
    vfs: Arc<Vfs>,
    opts: &Options,
) -> Result<(fuser::BackgroundSession, Arc<fs::Inner>), MountError> {
    check_fuse().map_err(|why| opts.fail(why))?;
    match std::fs::metadata(&opts.dir) {
        Ok(md) if md.is_dir() => {}
        Ok(_) => return Err(opts.fail("Not a directory")),
        Err(e) => return Err(opts.fail(crate::vfs::io_text(&e))),
    }
    let at = std::fs::canonicalize(&opts.dir).map_err(|e| opts.fail(crate::vfs::io_text(&e)))?;
    let inner = Arc::new(
        fs::Inner::new(vfs.clone(), rt.clone(), at)
            .with_relative_links(opts.relative_links)
            .with_writeback(opts.writeback),
    );
    let mut options = vec![
        MountOption::FSName("dockerbox".into()),
        MountOption::Subtype("dockerbox".into()),
        MountOption::DefaultPermissions,
        MountOption::NoDev,
        MountOption::NoSuid,
    ];
    if opts.read_only {
        options.push(MountOption::RO);
    }
    let mut config = Config::default();
    config.mount_options = options;
    config.acl = if opts.allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    let fs = fs::MountFs {
        inner: inner.clone(),
    };
    // Returns once the kernel's INIT was answered: the mount is there.
    let session = fuser::Session::new(fs, &opts.dir, &config).map_err(|e| {
        // SAFETY: geteuid cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let hint = if root {
            ""
        } else {
            " (as a user this needs fusermount3 installed setuid root)"
        };
        opts.fail(format!("cannot mount: {}{hint}", short(&e)))
    })?;
    let notifier = session.notifier();
    let bg = session
        .spawn()
        .map_err(|e| opts.fail(format!("cannot serve the mount: {}", short(&e))))?;
    follow_changes(rt, &vfs, inner.clone(), notifier);
    Ok((bg, inner))
}

/// Mounts, serves until unmounted or signalled, unmounts. `ready` is told once the mount
/// answers (`--background`'s parent is waiting for it).
pub fn run(
    rt: &tokio::runtime::Runtime,
    vfs: Arc<Vfs>,
    opts: &Options,
    ready: Option<Ready>,
) -> Result<i32, MountError> {
    let (bg, inner) = start(rt.handle(), vfs.clone(), opts)?;
    if let Some(r) = ready {
        r.ok();
    }
    let dir = opts.dir.clone();
    rt.block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            let _ = tokio::task::spawn_blocking(move || bg.join()).await;
            return;
        };
        // Until a signal, or until someone else unmounted it (the session's thread ends).
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = tick.tick() => if bg.guard.is_finished() {
                    let _ = tokio::task::spawn_blocking(move || bg.join()).await;
                    return;
                },
                _ = int.recv() => break,
                _ = term.recv() => break,
                _ = hup.recv() => break,
            }
        }
        let _ = tokio::task::spawn_blocking(move || {
            if bg.umount_and_join().is_err() {
                // Busy (a shell's cwd is in it): detached now, gone when its last user leaves.
                detach(&dir);
            }
        })
        .await;
    });
    rt.block_on(async {
        inner.discard_all().await;
        vfs.settle().await;
    });
    Ok(0)
}

/// A mount served in the background for another frontend (the volume driver): the whole
/// namespace at a directory, as `dockerbox mount` serves it. Dropping it unmounts (lazily if
/// something still uses it); drop it on a blocking thread, the unmount waits for the
/// session's thread.
pub struct Served {
    dir: PathBuf,
    bg: Option<fuser::BackgroundSession>,
    inner: Arc<fs::Inner>,
    rt: tokio::runtime::Handle,
}

/// Mounts the namespace at `opts.dir` and returns once the kernel answers there.
pub fn serve(
    rt: &tokio::runtime::Handle,
    vfs: Arc<Vfs>,
    opts: &Options,
) -> Result<Served, MountError> {
    let (bg, inner) = start(rt, vfs, opts)?;
    Ok(Served {
        dir: opts.dir.clone(),
        bg: Some(bg),
        inner,
        rt: rt.clone(),
    })
}

impl Served {
    /// The directory under the mount that shows the namespace's path `p`
    /// (`/containers/web/var/log`: `DIR/containers/web/var/log`).
    pub fn path_of(&self, p: &Path) -> PathBuf {
        self.dir.join(p.strip_prefix("/").unwrap_or(p))
    }

    /// False once the session ended (someone unmounted it, the kernel aborted it).
    pub fn alive(&self) -> bool {
        self.bg.as_ref().is_some_and(|bg| !bg.guard.is_finished())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(bg) = self.bg.take() {
            if bg.umount_and_join().is_err() {
                detach(&self.dir);
            }
        }
        let inner = self.inner.clone();
        self.rt.spawn(async move { inner.discard_all().await });
    }
}

/// Whether this process can use FUSE at all, in words for the user when not.
pub fn check_fuse() -> Result<(), String> {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(
            "FUSE is not available: /dev/fuse is missing (in a container, run it with --device /dev/fuse)"
                .into(),
        ),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(
            "FUSE is not permitted: /dev/fuse cannot be opened (Permission denied)".into(),
        ),
        Err(e) => Err(format!(
            "FUSE is not available: /dev/fuse: {}",
            crate::vfs::io_text(&e)
        )),
    }
}

fn short(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(_) => crate::vfs::io_text(e),
        None => e.to_string(),
    }
}

/// `umount2(MNT_DETACH)`.
fn detach(dir: &Path) {
    if let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) {
        // SAFETY: a valid C string.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Tells the kernel to drop what it cached for paths that changed (engine events, once the
/// namespace reports them; anything after a `Change::All`). The notifications go from a thread
/// of their own: the kernel may hold one until a request on that directory is answered.
fn follow_changes(
    rt: &tokio::runtime::Handle,
    vfs: &Vfs,
    inner: Arc<fs::Inner>,
    notifier: Notifier,
) {
    let (tx, rx) = std::sync::mpsc::channel::<Change>();
    let mut changes = vfs.subscribe();
    rt.spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let c = match changes.recv().await {
                Ok(c) => c,
                Err(RecvError::Lagged(_)) => Change::All,
                Err(RecvError::Closed) => return,
            };
            if tx.send(c).is_err() {
                return;
            }
        }
    });
    let _ = std::thread::Builder::new()
        .name("mount-inval".into())
        .spawn(move || {
            use std::sync::mpsc::RecvTimeoutError;
            // Also, every so often, the listings the kernel keeps of directories whose
            // mtime does not follow their names (see `Inner::sweep`).
            let every = inner.sweep_every();
            let mut due = every.map(|e| std::time::Instant::now() + e);
            loop {
                let got = match due {
                    Some(at) => {
                        rx.recv_timeout(at.saturating_duration_since(std::time::Instant::now()))
                    }
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                };
                match got {
                    Ok(c) => invalidate(&inner, &notifier, &c),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                if let (Some(at), Some(e)) = (due, every) {
                    if std::time::Instant::now() >= at {
                        for ino in inner.sweep() {
                            let _ = notifier.inval_inode(fuser::INodeNo(ino), 0, 0);
                        }
                        due = Some(std::time::Instant::now() + e);
                    }
                }
            }
        });
}

/// A container's whole tree (an exec ended, `docker cp` into it, a restart: events that name
/// no file) drops every node below it, since the kernel keeps their attributes, entries and
/// listings for a whole TTL; any other path drops its own node and its name.
fn invalidate(inner: &fs::Inner, notifier: &Notifier, c: &Change) {
    let (inos, entry) = {
        let Ok(nodes) = inner.nodes.lock() else {
            return;
        };
        match c {
            Change::All => (nodes.all(), None),
            Change::Path(vp) => {
                let p = vp.to_path();
                let ino = nodes.at(&p);
                let entry = p
                    .parent()
                    .and_then(|d| nodes.at(d))
                    .zip(p.file_name().map(|n| n.to_os_string()));
                let tree = matches!(vp, crate::vfs::VPath::Container { path, .. } if path == Path::new("/"));
                let inos = match ino {
                    Some(ino) if tree => nodes.under(ino),
                    ino => ino.into_iter().collect(),
                };
                (inos, entry)
            }
        }
    };
    if matches!(c, Change::All) {
        inner.all_stale();
    }
    for ino in inos {
        inner.stale(ino);
        // Offset 0, length 0: the attributes and every cached page (a listing, a file's
        // bytes) go.
        let _ = notifier.inval_inode(fuser::INodeNo(ino), 0, 0);
    }
    if let Some((parent, name)) = entry {
        let _ = notifier.inval_entry(fuser::INodeNo(parent), &name);
    }
}

/// `--background`: the parent waits for the child to say the mount is ready, then exits.
pub struct Ready {
    fd: std::os::fd::OwnedFd,
}

impl Ready {
    fn ok(self) {
        use std::io::Write;
        let mut f = std::fs::File::from(self.fd);
        let _ = f.write_all(b"1");
        // Nothing of ours goes to the terminal any more: it may go away.
        if let Ok(null) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
        {
            use std::os::fd::AsRawFd;
            for fd in 0..3 {
                // SAFETY: dup2 onto the standard descriptors, with one we own.
                unsafe { libc::dup2(null.as_raw_fd(), fd) };
            }
        }
    }
}

/// Forks for `--background`, before any thread exists. The parent never returns: it exits 0
/// once the child's mount is ready, else with the child's status (the child reported why).
pub fn daemonize() -> io::Result<Ready> {
    use std::os::fd::FromRawFd;
    let mut fds = [-1; 2];
    // SAFETY: pipe2 writes two descriptors, which we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both were just made and belong to nothing else.
    let (r, w) = unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    // SAFETY: called before the runtime or any other thread is started.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        drop(r);
        // SAFETY: a new session, so the terminal's signals no longer reach the mount.
        unsafe { libc::setsid() };
        return Ok(Ready { fd: w });
    }
    drop(w);
    let mut f = std::fs::File::from(r);
    let mut b = [0u8; 1];
    let got = io::Read::read(&mut f, &mut b).unwrap_or(0);
    if got == 1 {
        std::process::exit(0);
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        1
    };
    std::process::exit(if code == 0 { 1 } else { code });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_parsed_as_fuse_filesystems_take_them() {
        let o = Options::parse("/m".into(), &["ro,allow_other".into()]).unwrap();
        assert!(o.read_only && o.allow_other);
        let o = Options::parse("/m".into(), &["ro".into(), "rw".into()]).unwrap();
        assert!(!o.read_only && !o.writeback);
        let o = Options::parse("/m".into(), &["writeback_cache".into()]).unwrap();
        assert!(o.writeback);
        let e = Options::parse("/m".into(), &["ro,exec".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mount: -o exec: unknown option (ro, rw, allow_other, writeback_cache)"
        );
        let e = Options::parse("/m".into(), &[])
            .unwrap()
            .fail("Not a directory");
        assert_eq!(e.to_string(), "mount: /m: Not a directory");
    }
}
