//! Real paths for the shell's host programs: `/containers`, `/images`, `/volumes`, `/apps` and
//! `/meta` as a kernel filesystem, seen only by the host programs that name them, so `grep -rn
//! root /containers/*/etc` gets its arguments unchanged and prints them.
//!
//! Nothing is mounted where anyone else can see it and nothing is created on the host's disk:
//! at the first such program a thread of ours makes a private mount namespace (the process's
//! other threads stay where they are, so the user's own `mount` commands still reach the
//! machine), clones every top-level entry of `/` into a small read-only tmpfs root with the
//! namespace's trees beside them, and serves the FUSE mount they are bound from. A program that
//! names a tree enters that namespace and that root between fork and exec (`setns` + `chroot`);
//! every other program runs exactly as before. The mount is served on a runtime of its own, so
//! it answers while the shell's runtime waits on the program. Before each such program the
//! names at the host's `/` are compared with the root's (one `readdir`), and a name made or
//! removed since is cloned in or taken out, so the root follows the host's.

use std::collections::BTreeSet;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use fuser::{Config, MountOption, SessionACL};

use super::fs;
use crate::vfs::{path::TREES, Vfs};

/// Where, inside the private namespace, the tmpfs holding the new root goes (what it covers is
/// cloned into that root first, so nothing is hidden from the programs).
const STAGES: &[&str] = &["/tmp", "/mnt", "/run"];

/// `open_tree(2)` and `move_mount(2)` flags (linux/mount.h).
const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

static VERBOSE: AtomicBool = AtomicBool::new(false);
static VIEW: OnceLock<Result<View, String>> = OnceLock::new();

/// `-v`: the shell says which way each host program got its container paths.
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// The mounted view host programs enter.
pub struct View {
    ns: OwnedFd,
    root: CString,
    inner: Arc<fs::Inner>,
    rt: tokio::runtime::Runtime,
    _session: Mutex<fuser::BackgroundSession>,
    /// Where the root's tmpfs is, inside the namespace.
    stage: PathBuf,
    /// The names of the host's `/` the root has now (not the trees').
    tops: Mutex<BTreeSet<OsString>>,
}

/// The view, mounted at the first call; `Err` says why host programs get `/dev/fd` streams
/// instead (not root, no FUSE, `DOCKERBOX_MOUNT=0`, a failed mount), the same every time.
pub fn view(vfs: &Arc<Vfs>) -> Result<&'static View, &'static str> {
    let mut fresh = false;
    let v = VIEW
        .get_or_init(|| {
            fresh = true;
            build(vfs)
        })
        .as_ref()
        .map_err(String::as_str)?;
    if !fresh {
        v.refresh();
    }
    Ok(v)
}

/// The names at the host's `/` a root shows (every one but the trees').
fn top_names() -> BTreeSet<OsString> {
    let Ok(rd) = std::fs::read_dir("/") else {
        return BTreeSet::new();
    };
    rd.flatten()
        .map(|e| e.file_name())
        .filter(|n| !TREES.iter().any(|t| OsStr::new(&t[1..]) == n.as_os_str()))
        .collect()
}

/// At the shell's exit: new files a program never closed leave no temporary behind.
pub fn finish() {
    if let Some(Ok(v)) = VIEW.get() {
        v.rt.block_on(v.inner.discard_all());
    }
}

/// Whether `arg` mentions a tree as a path (`/containers/a/etc`, `--file=/meta/x`, a script's
/// `... /containers/a ...`), so the program needs the view.
pub fn mentions_tree(arg: &OsStr) -> bool {
    let b = arg.as_bytes();
    TREES.iter().any(|t| {
        let t = t.as_bytes();
        b.windows(t.len()).enumerate().any(|(i, w)| {
            let before_ok = i == 0 || !is_name_byte(b[i - 1]);
            let after = b.get(i + t.len());
            w == t && before_ok && after.is_none_or(|&c| c == b'/' || !is_name_byte(c))
        })
    })
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'/' | b'~')
}

impl View {
    /// Makes the root show what the host's `/` has now: names made since are cloned in (with
    /// their mounts), names gone are taken out. One `readdir` of `/` when nothing changed; a
    /// failure leaves the root as it was (the program sees the old `/`, as before).
    fn refresh(&self) {
        let Ok(mut have) = self.tops.lock() else {
            return;
        };
        let now = top_names();
        if now.is_empty() || *have == now {
            return;
        }
        let added: BTreeSet<OsString> = now.difference(&have).cloned().collect();
        let gone: BTreeSet<OsString> = have.difference(&now).cloned().collect();
        let (ns, stage) = (self.ns.as_raw_fd(), self.stage.clone());
        let done = std::thread::Builder::new()
            .name("dockerbox-mountns".into())
            .spawn(move || follow_tops(ns, &stage, &added, &gone))
            .ok()
            .and_then(|t| t.join().ok());
        // Tried once per change: a name that cannot be cloned stays missing (as before).
        if let Some(Err(e)) = done {
            if verbose() {
                eprintln!("dockerbox: the programs' root does not follow /: {e}");
            }
        }
        *have = now;
    }

    /// What a child runs between fork and exec to see the view, starting in `cwd` (a host
    /// directory, or one inside a container when `inside`: then a failure to enter it fails
    /// the start; a host directory that went away leaves the program at `/`, as before).
    pub fn enter(&'static self, cwd: &Path, inside: bool) -> io::Result<Enter> {
        let cwd = CString::new(cwd.as_os_str().as_bytes())?;
        Ok(Enter {
            ns: self.ns.as_raw_fd(),
            root: self.root.as_ptr(),
            cwd,
            inside,
        })
    }
}

/// The child's side of [`View::enter`]: only async-signal-safe calls, nothing allocated.
pub struct Enter {
    ns: RawFd,
    root: *const libc::c_char,
    cwd: CString,
    inside: bool,
}

// SAFETY: `root` points into the `'static` view, never freed or changed.
unsafe impl Send for Enter {}
// SAFETY: as above; `Enter` is only read.
unsafe impl Sync for Enter {}

impl Enter {
    /// # Safety
    /// Only between fork and exec (it changes the calling process's namespace and root).
    pub unsafe fn apply(&self) -> io::Result<()> {
        // SAFETY: plain syscalls on a descriptor and C strings we own.
        unsafe {
            if libc::setns(self.ns, libc::CLONE_NEWNS) != 0 || libc::chroot(self.root) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::chdir(self.cwd.as_ptr()) != 0 {
                if self.inside {
                    return Err(io::Error::last_os_error());
                }
                libc::chdir(c"/".as_ptr());
            }
        }
        Ok(())
    }
}

fn build(vfs: &Arc<Vfs>) -> Result<View, String> {
    if std::env::var_os("DOCKERBOX_MOUNT").is_some_and(|v| v == "0") {
        return Err("DOCKERBOX_MOUNT=0".into());
    }
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root".into());
    }
    super::check_fuse()?;
    let stage = STAGES
        .iter()
        .find(|s| std::fs::symlink_metadata(s).is_ok_and(|m| m.is_dir()))
        .ok_or("no /tmp, /mnt or /run to stage the mount in")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("dockerbox-mount")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the mount's runtime: {e}"))?;
    // The programs see the trees at `/`: symlink targets are rewritten against it.
    let inner = Arc::new(fs::Inner::new(
        vfs.clone(),
        rt.handle().clone(),
        PathBuf::from("/"),
    ));
    let fs = fs::MountFs {
        inner: inner.clone(),
    };
    let stage = PathBuf::from(stage);
    let kept_stage = stage.clone();
    let made = std::thread::Builder::new()
        .name("dockerbox-mountns".into())
        .spawn(move || set_up(fs, &stage))
        .map_err(|e| format!("cannot start a thread: {e}"))?
        .join()
        .map_err(|_| "the mount's thread panicked".to_string())??;
    let (ns, session, root, tops) = made;
    super::follow_changes(rt.handle(), vfs, inner.clone(), session.notifier());
    Ok(View {
        ns,
        root,
        inner,
        rt,
        _session: Mutex::new(session),
        stage: kept_stage,
        tops: Mutex::new(tops),
    })
}

/// A top-level entry of `/`, taken before the stage is covered.
enum Top {
    Tree(CString, OwnedFd),
    File(CString, OwnedFd),
    Link(CString, CString),
}

type Made = (
    OwnedFd,
    fuser::BackgroundSession,
    CString,
    BTreeSet<OsString>,
);

/// On a thread of its own, which alone enters the new namespace.
fn set_up(fs: fs::MountFs, stage: &Path) -> Result<Made, String> {
    let fail = |what: &str| {
        format!(
            "{what}: {}",
            crate::vfs::io_text(&io::Error::last_os_error())
        )
    };
    // SAFETY: unshare moves only this thread (and what it starts) to a copy of the mounts.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(fail("cannot make a mount namespace"));
    }
    // Nothing mounted here may reach the machine's mounts.
    sys_mount(None, "/", None, libc::MS_REC | libc::MS_SLAVE, None)
        .map_err(|e| format!("cannot make mounts private: {e}"))?;
    let tops = tops(None)?;
    let names: BTreeSet<OsString> = tops.iter().map(Top::name).collect();
    sys_mount(
        Some("dockerbox"),
        path_str(stage)?,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("mode=0755,size=1m"),
    )
    .map_err(|e| format!("cannot stage the mount: {e}"))?;
    let root = stage.join("root");
    let serve = stage.join("fuse");
    for d in [&root, &serve] {
        std::fs::create_dir(d).map_err(|e| format!("{}: {}", d.display(), e))?;
    }
    for t in tops {
        place(&root, t)?;
    }
    for t in TREES {
        std::fs::create_dir(root.join(&t[1..])).map_err(|e| format!("{t}: {e}"))?;
    }
    let mut config = Config::default();
    // Only programs of ours see it; one that changes user (`su`, pjdfstest) still may use it,
    // with the kernel checking modes.
    config.mount_options = vec![
        MountOption::FSName("dockerbox".into()),
        MountOption::Subtype("dockerbox".into()),
        MountOption::DefaultPermissions,
        MountOption::NoDev,
        MountOption::NoSuid,
    ];
    config.acl = SessionACL::All;
    let session = fuser::Session::new(fs, &serve, &config)
        .map_err(|e| format!("cannot mount: {}", super::short(&e)))?
        .spawn()
        .map_err(|e| format!("cannot serve the mount: {}", super::short(&e)))?;
    for t in TREES {
        let (from, to) = (serve.join(&t[1..]), root.join(&t[1..]));
        sys_mount(
            Some(path_str(&from)?),
            path_str(&to)?,
            None,
            libc::MS_BIND,
            None,
        )
        .map_err(|e| format!("{t}: {e}"))?;
    }
    // A program writing a new name at `/` gets EROFS, never a file that vanishes.
    sys_mount(
        None,
        path_str(stage)?,
        None,
        libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
        None,
    )
    .map_err(|e| format!("cannot make the root read-only: {e}"))?;
    let ns = std::fs::File::open("/proc/thread-self/ns/mnt")
        .map_err(|e| format!("/proc/thread-self/ns/mnt: {e}"))?;
    let root = CString::new(root.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    Ok((OwnedFd::from(ns), session, root, names))
}

impl Top {
    fn name(&self) -> OsString {
        let (Top::Tree(n, _) | Top::File(n, _) | Top::Link(n, _)) = self;
        OsStr::from_bytes(n.as_bytes()).to_os_string()
    }
}

/// On a thread of its own: enters the view's namespace and brings its root in line with the
/// host's `/` (`added` cloned in, `gone` taken out), the root read-only again after.
fn follow_tops(
    ns: RawFd,
    stage: &Path,
    added: &BTreeSet<OsString>,
    gone: &BTreeSet<OsString>,
) -> Result<(), String> {
    let fail = |what: &str| {
        format!(
            "{what}: {}",
            crate::vfs::io_text(&io::Error::last_os_error())
        )
    };
    // SAFETY: this thread stops sharing its root and cwd with the others, then (alone) moves
    // to the view's namespace; it ends when done.
    unsafe {
        if libc::unshare(libc::CLONE_FS) != 0 {
            return Err(fail("unshare"));
        }
        if libc::setns(ns, libc::CLONE_NEWNS) != 0 {
            return Err(fail("setns"));
        }
    }
    let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_NOSUID | libc::MS_NODEV;
    sys_mount(None, path_str(stage)?, None, flags, None)?;
    let root = stage.join("root");
    let mut r = Ok(());
    for n in gone {
        let at = root.join(n);
        if let Ok(c) = CString::new(at.as_os_str().as_bytes()) {
            // SAFETY: a valid C string; detaching what was cloned there, if anything.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir(&at).or_else(|_| std::fs::remove_file(&at));
    }
    match tops(Some(added)) {
        Ok(tops) => {
            for t in tops {
                if let Err(e) = place(&root, t) {
                    r = Err(e);
                }
            }
        }
        Err(e) => r = Err(e),
    }
    sys_mount(None, path_str(stage)?, None, flags | libc::MS_RDONLY, None)?;
    r
}

/// Every entry of `/` but the trees (or only those in `only`): directories and files cloned
/// with all their mounts.
fn tops(only: Option<&BTreeSet<OsString>>) -> Result<Vec<Top>, String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/").map_err(|e| format!("/: {e}"))? {
        let e = e.map_err(|e| format!("/: {e}"))?;
        let name = e.file_name();
        if only.is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        let slashed = Path::new("/").join(&name);
        if TREES.iter().any(|t| Path::new(t) == slashed) {
            continue;
        }
        let Ok(ty) = e.file_type() else { continue };
        let c = CString::new(name.as_bytes()).map_err(|e| e.to_string())?;
        if ty.is_symlink() {
            let target =
                std::fs::read_link(&slashed).map_err(|e| format!("{}: {e}", slashed.display()))?;
            let t = CString::new(target.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
            out.push(Top::Link(c, t));
        } else if ty.is_dir() || ty.is_file() {
            let fd = open_tree(&slashed).map_err(|e| format!("{}: {e}", slashed.display()))?;
            out.push(if ty.is_dir() {
                Top::Tree(c, fd)
            } else {
                Top::File(c, fd)
            });
        } else if ty.is_socket() || ty.is_fifo() || ty.is_block_device() || ty.is_char_device() {
            // Not worth a clone at `/`; none are there on a normal host.
        }
    }
    Ok(out)
}

fn place(root: &Path, t: Top) -> Result<(), String> {
    let at = |n: &CString| root.join(OsStr::from_bytes(n.as_bytes()));
    match t {
        Top::Link(n, target) => {
            std::os::unix::fs::symlink(OsStr::from_bytes(target.as_bytes()), at(&n))
                .map_err(|e| format!("{}: {e}", at(&n).display()))
        }
        Top::Tree(n, fd) => {
            std::fs::create_dir(at(&n)).map_err(|e| format!("{}: {e}", at(&n).display()))?;
            move_mount(&fd, &at(&n)).map_err(|e| format!("/{}: {e}", n.to_string_lossy()))
        }
        Top::File(n, fd) => {
            std::fs::File::create(at(&n)).map_err(|e| format!("{}: {e}", at(&n).display()))?;
            move_mount(&fd, &at(&n)).map_err(|e| format!("/{}: {e}", n.to_string_lossy()))
        }
    }
}

fn open_tree(p: &Path) -> io::Result<OwnedFd> {
    let c = CString::new(p.as_os_str().as_bytes())?;
    // SAFETY: open_tree with a valid path; a result >= 0 is a new descriptor we own.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            OPEN_TREE_CLONE | AT_RECURSIVE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just returned by the kernel, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn move_mount(fd: &OwnedFd, to: &Path) -> io::Result<()> {
    let c = CString::new(to.as_os_str().as_bytes())?;
    // SAFETY: move_mount of a detached tree we hold onto a path.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            c.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn path_str(p: &Path) -> Result<&str, String> {
    p.to_str()
        .ok_or_else(|| format!("{}: not UTF-8", p.display()))
}

fn sys_mount(
    src: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<(), String> {
    let c = |s: &str| CString::new(s).map_err(|e| e.to_string());
    let (src, target) = (src.map(c).transpose()?, c(target)?);
    let (fstype, data) = (fstype.map(c).transpose()?, data.map(c).transpose()?);
    let ptr = |o: &Option<CString>| o.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: mount(2) with C strings that outlive the call (or null where allowed).
    let r = unsafe {
        libc::mount(
            ptr(&src),
            target.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data).cast(),
        )
    };
    if r != 0 {
        return Err(crate::vfs::io_text(&io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_are_mentioned_only_as_paths() {
        for yes in [
            "/containers",
            "/containers/a/etc",
            "--file=/meta/x",
            "grep x /containers/a/etc/passwd | wc",
            "'/images'",
        ] {
            assert!(mentions_tree(OsStr::new(yes)), "{yes}");
        }
        for no in [
            "/usr/meta",
            "/containersx",
            "containers/a",
            "/var/lib/containers/x",
            "-v",
        ] {
            assert!(!mentions_tree(OsStr::new(no)), "{no}");
        }
    }
}
