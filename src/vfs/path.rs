//! The namespace's path model: where an absolute, lexically normalised path points.
//!
//! `/containers` is virtual; `/containers/NAME/P` is `P` inside container NAME; everything else
//! is the host. Paths are bytes (`OsStr` on Unix) so that non-UTF-8 names survive. Parsing is
//! pure: no engine is asked here, so this is where `..`, `.` and `//` are decided once.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The longest name of one path component (Linux's `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// The mount point of the container tree.
pub const CONTAINERS: &str = "/containers";

/// The mount point of the Docker objects' metadata (`/meta/containers/NAME/FIELD`).
pub const META: &str = "/meta";

/// The mount point of the images' filesystems (`/images/REF/...`).
pub const IMAGES: &str = "/images";

/// The mount point of the volumes' contents (`/volumes/NAME/...`).
pub const VOLUMES: &str = "/volumes";

/// Several engines: the tree is `/containers/HOST/NAME/...` instead of `/containers/NAME/...`.
/// Set once at startup, from the engine list.
static MULTI: AtomicBool = AtomicBool::new(false);

/// Chooses the tree's shape (once, before any path is parsed).
pub fn set_multi_engine(multi: bool) {
    MULTI.store(multi, Ordering::Relaxed);
}

/// Whether `/containers` holds engines (true) or containers (false).
pub fn multi_engine() -> bool {
    MULTI.load(Ordering::Relaxed)
}

/// Where a path points. Always built from an absolute, normalised path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VPath {
    /// A path on the host's real filesystem.
    Host(PathBuf),
    /// `/containers` itself: one directory per container, or per engine when there are several.
    Containers,
    /// `/containers/HOST` with several engines: one directory per container of that engine.
    Engine(String),
    /// A path inside one container: `name` as typed (name or ID prefix), `path` absolute inside
    /// it; `host` names its engine when there are several.
    Container {
        host: Option<String>,
        name: String,
        path: PathBuf,
    },
    /// A path in `/meta` (`/` is `/meta` itself), read-only but for `ctl` files; its backend
    /// (`vfs/meta.rs`) parses the rest.
    Meta(PathBuf),
    /// A path in `/images` (`/` is `/images` itself), read-only; parsed by `vfs/images.rs`.
    Images(PathBuf),
    /// A path in `/volumes` (`/` is `/volumes` itself), read and write; parsed by
    /// `vfs/volumes.rs`.
    Volumes(PathBuf),
}

impl VPath {
    /// Parses an absolute path; relative input is joined to `/` first.
    pub fn parse(abs: &Path) -> VPath {
        VPath::parse_in(abs, multi_engine())
    }

    /// [`VPath::parse`] for a given tree shape.
    pub fn parse_in(abs: &Path, multi: bool) -> VPath {
        let norm = normalize(abs);
        let mut comps = norm.components();
        comps.next(); // RootDir
        let name_of = |c: Component| c.as_os_str().to_string_lossy().into_owned();
        match comps.next() {
            Some(Component::Normal(c)) if c == "containers" => {
                let host = if multi {
                    match comps.next() {
                        None => return VPath::Containers,
                        Some(h) => Some(name_of(h)),
                    }
                } else {
                    None
                };
                match (comps.next(), host) {
                    (None, None) => VPath::Containers,
                    (None, Some(h)) => VPath::Engine(h),
                    (Some(name), host) => VPath::Container {
                        host,
                        name: name_of(name),
                        path: Path::new("/").join(comps.as_path()),
                    },
                }
            }
            Some(Component::Normal(c)) if c == "meta" => {
                VPath::Meta(Path::new("/").join(comps.as_path()))
            }
            Some(Component::Normal(c)) if c == "images" => {
                VPath::Images(Path::new("/").join(comps.as_path()))
            }
            Some(Component::Normal(c)) if c == "volumes" => {
                VPath::Volumes(Path::new("/").join(comps.as_path()))
            }
            _ => VPath::Host(norm),
        }
    }

    /// Resolves a user-typed path against the current directory (`cwd` is absolute).
    pub fn resolve(cwd: &Path, arg: &OsStr) -> VPath {
        VPath::parse(&cwd.join(arg))
    }

    /// The absolute path a user would type for this location.
    pub fn to_path(&self) -> PathBuf {
        match self {
            VPath::Host(p) => p.clone(),
            VPath::Containers => PathBuf::from(CONTAINERS),
            VPath::Engine(h) => PathBuf::from(CONTAINERS).join(h),
            VPath::Container { host, name, path } => {
                let mut p = PathBuf::from(CONTAINERS);
                if let Some(h) = host {
                    p.push(h);
                }
                p.push(name);
                let rel = path.strip_prefix("/").unwrap_or(path);
                if !rel.as_os_str().is_empty() {
                    p.push(rel);
                }
                p
            }
            VPath::Meta(p) => tree_path(META, p),
            VPath::Images(p) => tree_path(IMAGES, p),
            VPath::Volumes(p) => tree_path(VOLUMES, p),
        }
    }

    /// The container a path is in, if any.
    pub fn container(&self) -> Option<&str> {
        match self {
            VPath::Container { name, .. } => Some(name),
            _ => None,
        }
    }

    /// What the kernel refuses of a path before looking at any filesystem, checked in the route
    /// so every backend answers alike (the engine would say a bare 500 or "uri too long"): a NUL
    /// byte is `EINVAL`, a component over `NAME_MAX` or a path of `PATH_MAX` bytes or more
    /// `ENAMETOOLONG`. The limits apply to the path as its own filesystem sees it (inside the
    /// container for a container path).
    pub fn limits_error(&self) -> Option<i32> {
        let (inside, name): (&Path, &str) = match self {
            VPath::Host(p) | VPath::Meta(p) | VPath::Images(p) | VPath::Volumes(p) => (p, ""),
            VPath::Container { name, path, .. } => (path, name),
            VPath::Containers | VPath::Engine(_) => return None,
        };
        let bytes = inside.as_os_str().as_bytes();
        if bytes.contains(&0) || name.as_bytes().contains(&0) {
            return Some(libc::EINVAL);
        }
        let too_long = bytes.len() >= libc::PATH_MAX as usize
            || name.len() > NAME_MAX
            || bytes.split(|&b| b == b'/').any(|c| c.len() > NAME_MAX);
        too_long.then_some(libc::ENAMETOOLONG)
    }

    /// True for everything dockerbox serves itself rather than the host kernel.
    pub fn is_virtual(&self) -> bool {
        !matches!(self, VPath::Host(_))
    }
}

/// `mount` + a path inside that tree (`/` is the mount point itself).
fn tree_path(mount: &str, inside: &Path) -> PathBuf {
    let mut p = PathBuf::from(mount);
    let rel = inside.strip_prefix("/").unwrap_or(inside);
    if !rel.as_os_str().is_empty() {
        p.push(rel);
    }
    p
}

/// Lexical normalisation of an absolute path: drops `.` and empty components, applies `..`
/// textually (as `cd -L` does), never climbs above `/`.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out: Vec<&OsStr> = Vec::new();
    for c in p.components() {
        match c {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    let mut buf = PathBuf::from("/");
    for c in out {
        buf.push(c);
    }
    buf
}

/// Resolves a symlink found at `link` (absolute inside a container) to the absolute path it
/// names inside the same container. An absolute target is relative to the container's root, and
/// `..` stops at that root, so no target can leave the container.
pub fn link_target_in_container(link: &Path, target: &Path) -> PathBuf {
    let base = if target.is_absolute() {
        PathBuf::from("/")
    } else {
        link.parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| "/".into())
    };
    normalize(&base.join(target))
}

/// Splits a path typed for completion into the directory to list and the name prefix to match:
/// `"/containers/we"` -> (`"/containers/"`, `"we"`); `"etc/"` -> (`"etc/"`, `""`).
pub fn split_for_completion(word: &[u8]) -> (&[u8], &[u8]) {
    match word.iter().rposition(|&b| b == b'/') {
        Some(i) => (&word[..=i], &word[i + 1..]),
        None => (&[], word),
    }
}

/// Joins raw bytes onto a path (for names read from containers, which may not be UTF-8).
pub fn join_bytes(dir: &Path, name: &[u8]) -> PathBuf {
    let mut v = dir.as_os_str().as_bytes().to_vec();
    if v.last() != Some(&b'/') {
        v.push(b'/');
    }
    v.extend_from_slice(name);
    PathBuf::from(OsString::from_vec(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, path: &str) -> VPath {
        VPath::Container {
            host: None,
            name: name.into(),
            path: path.into(),
        }
    }

    #[test]
    fn several_engines_add_a_level() {
        let m = |p: &str| VPath::parse_in(Path::new(p), true);
        assert_eq!(m("/containers"), VPath::Containers);
        assert_eq!(m("/containers/lap/"), VPath::Engine("lap".into()));
        assert_eq!(
            m("/containers/lap/web/etc"),
            VPath::Container {
                host: Some("lap".into()),
                name: "web".into(),
                path: "/etc".into()
            }
        );
        assert_eq!(m("/containers/lap/web/.."), VPath::Engine("lap".into()));
        for p in [
            "/containers/lap",
            "/containers/lap/web",
            "/containers/lap/web/x/y",
        ] {
            assert_eq!(m(p).to_path(), PathBuf::from(p));
        }
    }

    #[test]
    fn parse_table() {
        let cases: &[(&str, VPath)] = &[
            ("/", VPath::Host("/".into())),
            ("/etc/passwd", VPath::Host("/etc/passwd".into())),
            ("/containers", VPath::Containers),
            ("/containers/", VPath::Containers),
            ("//containers//", VPath::Containers),
            ("/containers/web", c("web", "/")),
            ("/containers/web/", c("web", "/")),
            (
                "/containers/web/etc/../etc/./passwd",
                c("web", "/etc/passwd"),
            ),
            ("/containers/web/..", VPath::Containers),
            ("/containers/web/../..", VPath::Host("/".into())),
            ("/containers/web/../../../..", VPath::Host("/".into())),
            ("/containersx/a", VPath::Host("/containersx/a".into())),
            ("/tmp/../containers/a/b", c("a", "/b")),
            ("/meta", VPath::Meta("/".into())),
            (
                "/meta/containers/web/state",
                VPath::Meta("/containers/web/state".into()),
            ),
            ("/meta/containers/web/..", VPath::Meta("/containers".into())),
            ("/meta/..", VPath::Host("/".into())),
            ("/metax", VPath::Host("/metax".into())),
            ("/images/", VPath::Images("/".into())),
            (
                "/images/ghcr.io/org/app:v1/etc",
                VPath::Images("/ghcr.io/org/app:v1/etc".into()),
            ),
            ("/volumes", VPath::Volumes("/".into())),
            ("/volumes/data/x/..", VPath::Volumes("/data".into())),
            ("/volumesx", VPath::Host("/volumesx".into())),
        ];
        for (input, want) in cases {
            assert_eq!(&VPath::parse(Path::new(input)), want, "parse({input})");
        }
    }

    #[test]
    fn resolve_relative_across_the_boundary() {
        let cwd = Path::new("/containers/web/etc");
        assert_eq!(VPath::resolve(cwd, OsStr::new("..")), c("web", "/"));
        assert_eq!(VPath::resolve(cwd, OsStr::new("../..")), VPath::Containers);
        assert_eq!(VPath::resolve(cwd, OsStr::new("../../db/x")), c("db", "/x"));
        assert_eq!(
            VPath::resolve(cwd, OsStr::new("/tmp")),
            VPath::Host("/tmp".into())
        );
        let home = Path::new("/home/u");
        assert_eq!(
            VPath::resolve(home, OsStr::new("../../containers")),
            VPath::Containers
        );
    }

    #[test]
    fn to_path_round_trips() {
        for p in [
            "/",
            "/etc",
            "/containers",
            "/containers/web",
            "/containers/web/etc/x",
            "/meta",
            "/meta/containers/web/labels/a.b",
            "/images",
            "/images/app:v1/etc",
            "/volumes",
            "/volumes/data/x",
        ] {
            assert_eq!(VPath::parse(Path::new(p)).to_path(), PathBuf::from(p));
        }
    }

    #[test]
    fn non_utf8_names_survive() {
        let raw = OsStr::from_bytes(b"/containers/web/tmp/\xff\nname");
        match VPath::parse(Path::new(raw)) {
            VPath::Container { path, .. } => {
                assert_eq!(path.as_os_str().as_bytes(), b"/tmp/\xff\nname")
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn symlinks_never_leave_the_container() {
        let t =
            |link: &str, target: &str| link_target_in_container(Path::new(link), Path::new(target));
        assert_eq!(t("/lib", "usr/lib"), PathBuf::from("/usr/lib"));
        assert_eq!(t("/a/b/l", "../c"), PathBuf::from("/a/c"));
        assert_eq!(t("/a/l", "/etc/passwd"), PathBuf::from("/etc/passwd"));
        assert_eq!(t("/a/l", "../../../../etc"), PathBuf::from("/etc"));
        assert_eq!(t("/l", "/../../host"), PathBuf::from("/host"));
    }

    #[test]
    fn the_kernel_s_path_limits_are_checked_before_any_backend() {
        let p = |s: &[u8]| VPath::parse_in(Path::new(OsStr::from_bytes(s)), false);
        assert_eq!(p(b"/etc/pa\0sswd").limits_error(), Some(libc::EINVAL));
        assert_eq!(
            p(b"/containers/c/etc/x\0").limits_error(),
            Some(libc::EINVAL)
        );
        assert_eq!(
            p(b"/containers/c\0d/etc").limits_error(),
            Some(libc::EINVAL)
        );
        let deep = b"/a".repeat(500);
        assert_eq!(p(&deep).limits_error(), None);
        let name = [b"/containers/c/".as_slice(), &[b'b'; 255]].concat();
        assert_eq!(p(&name).limits_error(), None);
        let name = [b"/containers/c/".as_slice(), &[b'b'; 256]].concat();
        assert_eq!(p(&name).limits_error(), Some(libc::ENAMETOOLONG));
        let long = b"/b".repeat(2048);
        assert_eq!(p(&long).limits_error(), Some(libc::ENAMETOOLONG));
        // The limit is the container's: its mount point does not count.
        let inside = [b"/containers/c".as_slice(), &b"/b".repeat(2047)].concat();
        assert_eq!(p(&inside).limits_error(), None);
        assert_eq!(p(b"/containers").limits_error(), None);
    }

    #[test]
    fn completion_split() {
        assert_eq!(
            split_for_completion(b"/containers/we"),
            (&b"/containers/"[..], &b"we"[..])
        );
        assert_eq!(split_for_completion(b"etc/"), (&b"etc/"[..], &b""[..]));
        assert_eq!(split_for_completion(b"et"), (&b""[..], &b"et"[..]));
    }
}
