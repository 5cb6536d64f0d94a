//! `/images/REF/...`: each image's filesystem, read-only, without running it.
//!
//! References are nested directories as they read (`/images/ghcr.io/org/app:v1/etc`), resolved
//! against the engine's own list (`resolve`, pure and unit-tested); untagged images are under
//! `/images/.id/ID-PREFIX/`. An image's files are read through the archive API of a container
//! created from it and never started (`Views`): labelled `dockerbox.image-view` with this
//! session's marker, hidden from `/containers`, removed when the session ends
//! ([`Vfs::settle`]) and swept, when their session is dead, the first time a later session
//! opens an image on that engine. Nothing is ever started or pulled. With several engines the
//! tree is `/images/HOST/REF/...`. Every write is EROFS.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::backend::{Backend, BoxFut};
use super::stream::FileReader;
use super::views::ViewOf;
use super::{Entry, FsError, Kind, Object, Vfs};
use crate::host::{ContainerInfo, Engine, ImageInfo, State};

/// The directory of images by ID (hidden: a dot-name).
pub const BY_ID: &str = ".id";

/// Where a path below `/images` (or `/images/HOST`) leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A directory of reference components (or of IDs): its children's names.
    Dir(Vec<String>),
    /// Inside image number `image` of the list, at `rest` (`/` is its root).
    Image {
        image: usize,
        rest: PathBuf,
    },
    Nothing,
    /// An ID prefix that names several images.
    Ambiguous(String),
}

/// The short form of an image ID (`sha256:` dropped, 12 hex digits).
fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Resolves `comps` (the components below `/images`) against `images`: the longest
/// reference that the path starts with wins, so `localhost:5000/app:v1` is found even when a
/// `localhost:5000` image exists.
pub fn resolve(images: &[ImageInfo], comps: &[String]) -> Found {
    let rest_of = |k: usize| {
        let mut p = PathBuf::from("/");
        p.extend(&comps[k..]);
        p
    };
    if comps.first().is_some_and(|c| c == BY_ID) {
        let Some(prefix) = comps.get(1) else {
            let mut ids: Vec<String> = images.iter().map(|i| short_id(&i.id).to_string()).collect();
            ids.sort();
            ids.dedup();
            return Found::Dir(ids);
        };
        let hex = prefix.strip_prefix("sha256:").unwrap_or(prefix);
        let hits: Vec<usize> = (0..images.len())
            .filter(|&i| {
                !hex.is_empty()
                    && images[i]
                        .id
                        .strip_prefix("sha256:")
                        .unwrap_or(&images[i].id)
                        .starts_with(hex)
            })
            .collect();
        return match hits.as_slice() {
            [one] => Found::Image {
                image: *one,
                rest: rest_of(2),
            },
            [] => Found::Nothing,
            many => Found::Ambiguous(
                many.iter()
                    .map(|&i| short_id(&images[i].id))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
    }
    for k in (1..=comps.len()).rev() {
        let candidate = comps[..k].join("/");
        if let Some(i) = images.iter().position(|i| i.tags.contains(&candidate)) {
            return Found::Image {
                image: i,
                rest: rest_of(k),
            };
        }
    }
    let mut kids: Vec<String> = images
        .iter()
        .flat_map(|i| &i.tags)
        .filter_map(|t| {
            let parts: Vec<&str> = t.split('/').collect();
            (parts.len() > comps.len() && parts[..comps.len()] == *comps)
                .then(|| parts[comps.len()].to_string())
        })
        .collect();
    if kids.is_empty() && !comps.is_empty() {
        return Found::Nothing;
    }
    kids.sort();
    kids.dedup();
    if comps.is_empty() {
        kids.push(BY_ID.to_string());
    }
    Found::Dir(kids)
}

/// `/images` (`vfs/mod.rs` routes every `VPath::Images` here).
pub struct Images<'v> {
    pub vfs: &'v Vfs,
}

/// What a path in `/images` is, once the engine's list is known.
enum Place {
    /// A directory of references (or engines), with its own entry and its children.
    Dir(Entry, Vec<Entry>),
    /// Inside an image: its view, the path in it, and its root's entry as listed.
    Inside(Arc<ContainerInfo>, PathBuf, Entry),
}

fn dir(name: impl Into<OsString>, mtime: i64, size: u64) -> Entry {
    let mut e = Entry::new(name, Kind::Dir);
    e.perm = 0o555;
    e.nlink = 2;
    e.mtime = mtime;
    e.size = size;
    e
}

/// An image's root as its directory lists it: size, creation and ID (for `ls -l`, colour).
fn image_entry(name: impl Into<OsString>, i: &ImageInfo) -> Entry {
    let mut e = dir(name, i.created, i.size);
    e.object = Some(Arc::new(Object::Image {
        id: i.id.clone(),
        size: i.size,
    }));
    e
}

/// `/images` as `/` lists it.
pub fn images_dir() -> Entry {
    dir("images", 0, 0)
}

/// The never-started container image `img` on engine number `index` is read through.
async fn view(
    vfs: &Vfs,
    index: usize,
    eng: &Engine,
    img: &ImageInfo,
) -> Result<Arc<ContainerInfo>, FsError> {
    let make = |session: String| async move {
        Ok(ContainerInfo {
            engine: index,
            name: format!(
                "image {}",
                img.tags.first().map_or(short_id(&img.id), String::as_str)
            ),
            image: img.id.clone(),
            state: State::Created,
            created: img.created,
            id: eng.create_image_view(&img.id, &session).await?,
        })
    };
    vfs.views
        .get(index, eng, ViewOf::Image, &img.id, make)
        .await
}

impl Images<'_> {
    async fn place(&self, path: &Path) -> Result<Place, FsError> {
        let mut comps: Vec<String> = Vec::new();
        for c in path.components() {
            if let Component::Normal(n) = c {
                comps.push(n.to_str().ok_or(FsError::NotFound)?.to_string());
            }
        }
        let name = comps.last().cloned().unwrap_or_else(|| "images".into());
        let engines = self.vfs.engines();
        let (index, comps) = if super::path::multi_engine() {
            let Some((host, rest)) = comps.split_first() else {
                let kids = engines
                    .iter()
                    .map(|e| dir(e.name().to_string(), 0, 0))
                    .collect();
                return Ok(Place::Dir(images_dir(), kids));
            };
            let i = engines
                .iter()
                .position(|e| e.name() == host)
                .ok_or(FsError::NotFound)?;
            (i, rest.to_vec())
        } else {
            (0, comps)
        };
        let eng = engines.get(index).ok_or(FsError::NotFound)?;
        let images = eng.images().await?;
        match resolve(&images, &comps) {
            Found::Nothing => Err(FsError::NotFound),
            Found::Ambiguous(m) => Err(FsError::Ambiguous(m)),
            Found::Dir(kids) => {
                let kids = kids
                    .into_iter()
                    .map(|k| {
                        let mut full = comps.clone();
                        full.push(k.clone());
                        match resolve(&images, &full) {
                            Found::Image { image, rest } if rest == Path::new("/") => {
                                image_entry(k, &images[image])
                            }
                            _ => dir(k, 0, 0),
                        }
                    })
                    .collect();
                Ok(Place::Dir(dir(name, 0, 0), kids))
            }
            Found::Image { image, rest } => {
                let i = &images[image];
                let view = view(self.vfs, index, eng, i).await?;
                Ok(Place::Inside(view, rest, image_entry(name, i)))
            }
        }
    }

    fn archive<'a>(&'a self, c: &Arc<ContainerInfo>) -> super::archive::ArchiveBackend<'a> {
        self.vfs.archive_of(c, "an image's files".into(), false)
    }
}

impl Backend for Images<'_> {
    /// A read-only tree: every write it does not serve is refused.
    fn refuse_write(&self) -> FsError {
        FsError::errno_error(libc::EROFS)
    }

    fn lstat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(async move {
            match self.place(path).await? {
                Place::Dir(e, _) => Ok(e),
                Place::Inside(c, rest, own) => {
                    let mut e = self.archive(&c).lstat(&rest).await?;
                    if rest == Path::new("/") {
                        e.perm = 0o555;
                    }
                    Ok(e.at_root_as(&rest, own))
                }
            }
        })
    }

    fn stat<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Entry> {
        Box::pin(async move {
            match self.place(path).await? {
                Place::Dir(e, _) => Ok(e),
                Place::Inside(c, rest, own) => {
                    Ok(self.archive(&c).stat(&rest).await?.at_root_as(&rest, own))
                }
            }
        })
    }

    fn read_dir<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Arc<Vec<Entry>>> {
        Box::pin(async move {
            match self.place(path).await? {
                Place::Dir(_, kids) => Ok(Arc::new(kids)),
                Place::Inside(c, rest, _) => self.archive(&c).read_dir(&rest).await,
            }
        })
    }

    fn readlink<'a>(&'a self, path: &'a Path) -> BoxFut<'a, PathBuf> {
        Box::pin(async move {
            match self.place(path).await? {
                Place::Dir(..) => Err(FsError::errno_error(libc::EINVAL)),
                Place::Inside(c, rest, _) => self.archive(&c).readlink(&rest).await,
            }
        })
    }

    fn open_read<'a>(&'a self, path: &'a Path, size_hint: u64) -> BoxFut<'a, FileReader> {
        Box::pin(async move {
            match self.place(path).await? {
                Place::Dir(..) => Err(FsError::IsADirectory),
                Place::Inside(c, rest, _) => self.archive(&c).open_read(&rest, size_hint).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(id: &str, tags: &[&str]) -> ImageInfo {
        ImageInfo {
            id: format!("sha256:{id}"),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            size: 1,
            created: 0,
        }
    }

    fn list() -> Vec<ImageInfo> {
        vec![
            img("aaaa1111", &["debian:12", "debian:latest"]),
            img("bbbb2222", &["ghcr.io/org/app:v1"]),
            img("bbbb3333", &["ghcr.io/org/app:v2", "localhost:5000/app:v1"]),
            img("cccc4444", &["localhost:5000"]),
            img("dddd5555", &[]),
        ]
    }

    fn r(path: &str) -> Found {
        let comps: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        resolve(&list(), &comps)
    }

    fn at(image: usize, rest: &str) -> Found {
        Found::Image {
            image,
            rest: rest.into(),
        }
    }

    fn d(kids: &[&str]) -> Found {
        Found::Dir(kids.iter().map(|k| k.to_string()).collect())
    }

    #[test]
    fn references_nest_as_they_read() {
        assert_eq!(
            r("/"),
            d(&[
                "debian:12",
                "debian:latest",
                "ghcr.io",
                "localhost:5000",
                ".id"
            ])
        );
        assert_eq!(r("/debian:12"), at(0, "/"));
        assert_eq!(r("/debian:latest/etc/os-release"), at(0, "/etc/os-release"));
        assert_eq!(r("/ghcr.io"), d(&["org"]));
        assert_eq!(r("/ghcr.io/org"), d(&["app:v1", "app:v2"]));
        assert_eq!(r("/ghcr.io/org/app:v2/bin"), at(2, "/bin"));
        // Both an image and a directory: the longest reference wins below it.
        assert_eq!(r("/localhost:5000"), at(3, "/"));
        assert_eq!(r("/localhost:5000/app:v1/etc"), at(2, "/etc"));
        assert_eq!(r("/localhost:5000/etc"), at(3, "/etc"));
        assert_eq!(r("/nope"), Found::Nothing);
        assert_eq!(r("/ghcr.io/other"), Found::Nothing);
    }

    #[test]
    fn untagged_images_by_id_prefix() {
        assert_eq!(
            r("/.id"),
            d(&["aaaa1111", "bbbb2222", "bbbb3333", "cccc4444", "dddd5555"])
        );
        assert_eq!(r("/.id/dddd/etc"), at(4, "/etc"));
        assert_eq!(r("/.id/sha256:aaaa1111"), at(0, "/"));
        assert_eq!(
            r("/.id/bbbb"),
            Found::Ambiguous("bbbb2222, bbbb3333".into())
        );
        assert_eq!(r("/.id/ffff"), Found::Nothing);
    }
}
