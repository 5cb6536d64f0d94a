//! Copying between any two places of the namespace, file by file, streamed: what `cp` and a
//! cross-filesystem `mv` do once the top-level decisions are made.
//!
//! Each file goes from a [`FileReader`](super::stream::FileReader) to a
//! [`FileWriter`](super::stream::FileWriter) in bounded chunks, so a container-to-container
//! copy is never staged on disk and memory stays flat; each lands atomically where the
//! destination allows. Failures are reported per file (GNU wording) and the copy goes on.
//!
//! The walk prints nothing: failures, `-v` lines and progress go to the [`CopyReport`] its
//! caller gives it, which decides how names are quoted and where each line goes.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use futures_util::future::LocalBoxFuture;

use super::path::join_bytes;
use super::stream::{Attrs, FileReader};
use super::{Entry, FsError, Kind, VPath, Vfs};

/// When to follow symlinks in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deref {
    /// `-L`: always.
    Always,
    /// `-P` (and `-r`/`-a` by default): never; symlinks are copied as symlinks.
    Never,
    /// `-H` (and plain `cp FILE` by default): only the operands on the command line.
    CommandLine,
}

/// What a copy keeps of the source.
#[derive(Debug, Clone, Copy, Default)]
pub struct Preserve {
    pub mode: bool,
    pub owner: bool,
    pub times: bool,
    /// Hard links among the copied files stay hard links (`-a`, `--preserve=links`).
    pub links: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct CopyOpts {
    pub recursive: bool,
    pub deref: Deref,
    pub preserve: Preserve,
    pub no_clobber: bool,
    pub verbose: bool,
    /// The process umask, for modes of new files when the mode is not preserved.
    pub umask: u32,
}

/// What the copy walk tells its caller (`cp`, `mv`), which shows it: the walk itself never
/// prints, so it does not depend on the terminal, the output or the quoting style.
pub trait CopyReport {
    /// A name as a message shows it (GNU cp quotes every name it mentions).
    fn quote(&self, name: &OsStr) -> String;
    /// One entry failed; `msg` is GNU cp's wording, names quoted with [`quote`](Self::quote).
    /// The walk goes on with the next entry.
    fn error(&mut self, msg: &str);
    /// `-v`: `src` was copied to `dst` (as typed, unquoted).
    fn copied(&mut self, src: &OsStr, dst: &OsStr);
    /// `n` more bytes landed.
    fn bytes(&mut self, n: u64);
    /// One more regular file landed whole.
    fn file_done(&mut self);
}

/// One copy run: options, where it reports, and whether anything failed.
pub struct Copier<'a> {
    vfs: &'a Vfs,
    opts: CopyOpts,
    report: &'a mut dyn CopyReport,
    pub failed: bool,
    /// A top-level directory copied into itself (`cp -r d d/sub`): its source and destination,
    /// as shown. GNU copies what it can and refuses at the point where the walk would meet the
    /// copy it is making; so does this.
    into_itself: Option<(std::path::PathBuf, OsString, OsString)>,
    /// Set when the walk met the copy it is making: nothing more is copied.
    stopped: bool,
    /// Where each multiply-linked source file (dev, ino) was first copied to.
    linked: std::collections::HashMap<(u64, u64), VPath>,
}

impl<'a> Copier<'a> {
    pub fn new(vfs: &'a Vfs, opts: CopyOpts, report: &'a mut dyn CopyReport) -> Copier<'a> {
        Copier {
            vfs,
            opts,
            report,
            failed: false,
            into_itself: None,
            stopped: false,
            linked: std::collections::HashMap::new(),
        }
    }

    /// A name for a message, quoted by the caller.
    fn q(&self, name: &OsStr) -> String {
        self.report.quote(name)
    }

    fn fail(&mut self, msg: String) {
        self.report.error(&msg);
        self.failed = true;
    }

    /// Copies `src` to `dst` (both resolved; `*_text` as the user should see them). `top` is true
    /// for command-line operands. Returns false when it failed (already reported).
    pub fn copy<'b>(
        &'b mut self,
        src: &'b VPath,
        src_text: &'b OsStr,
        dst: &'b VPath,
        dst_text: &'b OsStr,
        top: bool,
    ) -> LocalBoxFuture<'b, bool> {
        self.copy_hinted(src, src_text, dst, dst_text, top, Hint::default())
    }

    /// `copy`, with what the caller already knows: saves a round trip or two per file in a tree.
    fn copy_hinted<'b>(
        &'b mut self,
        src: &'b VPath,
        src_text: &'b OsStr,
        dst: &'b VPath,
        dst_text: &'b OsStr,
        top: bool,
        hint: Hint,
    ) -> LocalBoxFuture<'b, bool> {
        Box::pin(async move {
            if crate::interrupt::is_set() {
                return false;
            }
            let follow = match self.opts.deref {
                Deref::Always => true,
                Deref::Never => false,
                Deref::CommandLine => top,
            };
            let looked = match hint.src {
                Some(e) if !follow || e.kind != Kind::Symlink => Ok(e),
                _ if follow => self.vfs.stat(src).await,
                _ => self.vfs.lstat_with(src, true).await,
            };
            let s = match looked {
                Ok(e) => e,
                Err(e) => {
                    self.fail(format!("cannot stat {}: {e}", self.q(src_text)));
                    return false;
                }
            };
            let existing = if hint.dst_absent {
                None
            } else {
                self.vfs.lstat(dst).await.ok()
            };
            match (&s.kind, existing.as_ref().map(|e| e.kind)) {
                (Kind::Dir, _) if !self.opts.recursive => {
                    self.fail(format!(
                        "-r not specified; omitting directory {}",
                        self.q(src_text)
                    ));
                    false
                }
                (Kind::Dir, Some(k)) if k != Kind::Dir => {
                    let msg = format!(
                        "cannot overwrite non-directory {} with directory {}",
                        self.q(dst_text),
                        self.q(src_text)
                    );
                    self.fail(msg);
                    false
                }
                (Kind::Dir, _) => {
                    self.copy_dir(src, src_text, &s, dst, dst_text, existing.is_some())
                        .await
                }
                (_, Some(Kind::Dir)) => {
                    self.fail(format!(
                        "cannot overwrite directory {} with non-directory",
                        self.q(dst_text)
                    ));
                    false
                }
                (_, Some(_)) if self.opts.no_clobber => true,
                (Kind::Symlink, _) => {
                    self.copy_symlink(&s, dst, dst_text, existing.is_some())
                        .await
                }
                (Kind::File, _) => {
                    self.copy_file(src, src_text, &s, dst, dst_text, existing)
                        .await
                }
                _ => {
                    self.fail(format!(
                        "cannot copy special file {}: not supported",
                        self.q(src_text)
                    ));
                    false
                }
            }
        })
    }

    /// The attributes a new entry gets from its source.
    fn attrs(&self, s: &Entry, existing: Option<&Entry>) -> Attrs {
        let p = self.opts.preserve;
        let mode = if p.mode {
            s.perm
        } else if let Some(e) = existing {
            e.perm // an overwritten file keeps its mode, as with GNU cp
        } else {
            s.perm & 0o777 & !self.opts.umask
        };
        Attrs {
            mode,
            owner: p.owner.then_some((s.uid, s.gid)),
            mtime: p.times.then_some((s.mtime, 0)),
        }
    }

    async fn copy_dir(
        &mut self,
        src: &VPath,
        src_text: &OsStr,
        s: &Entry,
        dst: &VPath,
        dst_text: &OsStr,
        exists: bool,
    ) -> bool {
        if let Some((made, top_src, top_dst)) = &self.into_itself {
            if &src.to_path() == made {
                let msg = format!(
                    "cannot copy a directory, {}, into itself, {}",
                    self.q(top_src),
                    self.q(top_dst)
                );
                self.fail(msg);
                return false;
            }
        } else if into_itself(src, dst) {
            self.into_itself = Some((
                dst.to_path(),
                src_text.to_os_string(),
                dst_text.to_os_string(),
            ));
        }
        let p = self.opts.preserve;
        if !exists
            && self.into_itself.is_none()
            && self.opts.deref == Deref::Never
            && p.mode
            && p.owner
            && p.times
            && !self.opts.verbose
        {
            // A new tree between containers, everything kept: one tar stream does it all.
            if let Some(r) = self.vfs.copy_tree(src, dst).await {
                return match r {
                    Ok(bytes) => {
                        self.report.bytes(bytes);
                        true
                    }
                    Err(e) => {
                        self.fail(format!(
                            "cannot copy {} to {}: {e}",
                            self.q(src_text),
                            self.q(dst_text)
                        ));
                        false
                    }
                };
            }
        }
        let attrs = self.attrs(s, None);
        if !exists {
            // Created writable first so the children can go in; the real mode comes after.
            let tmp = Attrs {
                mode: attrs.mode | 0o700,
                owner: None,
                mtime: None,
            };
            if let Err(e) = self.vfs.mkdir(dst, &tmp).await {
                self.fail(format!("cannot create directory {}: {e}", self.q(dst_text)));
                return false;
            }
            if self.opts.verbose {
                self.report.copied(src_text, dst_text);
            }
        }
        let children = match self.vfs.read_dir(src).await {
            Ok(c) => c,
            Err(e) => {
                self.fail(format!("cannot access {}: {e}", self.q(src_text)));
                return false;
            }
        };
        let mut children: Vec<Entry> = children.iter().cloned().collect();
        children.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        let mut ok = true;
        for child in children {
            let name: OsString = child.name.clone();
            let cs = VPath::parse(&join_bytes(&src.to_path(), name.as_bytes()));
            let cd = VPath::parse(&join_bytes(&dst.to_path(), name.as_bytes()));
            let cst = join_bytes(src_text.as_ref(), name.as_bytes()).into_os_string();
            let cdt = join_bytes(dst_text.as_ref(), name.as_bytes()).into_os_string();
            // The listing is the child's lstat; a directory we just made has no children yet.
            let hint = Hint {
                src: Some(child),
                dst_absent: !exists,
            };
            ok &= self.copy_hinted(&cs, &cst, &cd, &cdt, false, hint).await;
            if self.stopped {
                return false;
            }
            if crate::interrupt::is_set() {
                return false;
            }
        }
        // Mode, owner and times last: a read-only mode or a new mtime must not block or undo
        // the children.
        if !exists || self.opts.preserve.mode {
            if let Err(e) = self.vfs.set_dir_attrs(dst, &attrs).await {
                self.fail(format!(
                    "preserving permissions for {}: {e}",
                    self.q(dst_text)
                ));
            }
        }
        ok
    }

    async fn copy_symlink(
        &mut self,
        s: &Entry,
        dst: &VPath,
        dst_text: &OsStr,
        exists: bool,
    ) -> bool {
        let Some(target) = &s.link_target else {
            self.fail(format!("cannot read symbolic link {}", self.q(&s.name)));
            return false;
        };
        if exists {
            if let Err(e) = self.vfs.remove(dst, false).await {
                self.fail(format!("cannot remove {}: {e}", self.q(dst_text)));
                return false;
            }
        }
        let mtime = self.opts.preserve.times.then_some((s.mtime, 0));
        let attrs = Attrs {
            mode: 0o777,
            owner: self.opts.preserve.owner.then_some((s.uid, s.gid)),
            mtime,
        };
        if let Err(e) = self.vfs.symlink(target, dst, &attrs).await {
            self.fail(format!(
                "cannot create symbolic link {}: {e}",
                self.q(dst_text)
            ));
            return false;
        }
        if let Some(m) = mtime {
            // The link's own time (a stopped container had it from the tar header).
            match self.vfs.set_times(dst, m, m, false).await {
                Ok(()) | Err(FsError::NotRunning(_)) => {}
                Err(e) => self.fail(format!("preserving times for {}: {e}", self.q(dst_text))),
            }
        }
        true
    }

    async fn copy_file(
        &mut self,
        src: &VPath,
        src_text: &OsStr,
        s: &Entry,
        dst: &VPath,
        dst_text: &OsStr,
        existing: Option<Entry>,
    ) -> bool {
        let identity = (s.dev, s.ino);
        let tracked = self.opts.preserve.links && s.nlink > 1 && s.ino != 0;
        if tracked {
            if let Some(first) = self.linked.get(&identity).cloned() {
                if existing.is_some() {
                    let _ = self.vfs.remove(dst, false).await;
                }
                return match self.vfs.hard_link(&first, dst).await {
                    Ok(()) => true,
                    Err(e) => {
                        self.fail(format!("cannot create hard link {}: {e}", self.q(dst_text)));
                        false
                    }
                };
            }
        }
        if src == dst {
            self.fail(format!(
                "{} and {} are the same file",
                self.q(src_text),
                self.q(dst_text)
            ));
            return false;
        }
        let (_, mut reader) = match self.vfs.open_read_known(src, s).await {
            Ok(r) => r,
            Err(e) => {
                self.fail(format!("cannot open {} for reading: {e}", self.q(src_text)));
                return false;
            }
        };
        let attrs = self.attrs(s, existing.as_ref());
        let mut writer = match self.vfs.create(dst, &attrs, s.size).await {
            Ok(w) => w,
            Err(e) => {
                self.fail(format!(
                    "cannot create regular file {}: {e}",
                    self.q(dst_text)
                ));
                return false;
            }
        };
        if let (FileReader::Local(from), Some(to)) = (&reader, writer.local_file()) {
            // Both ends are open here: the kernel copies, no byte passes through us. The loop
            // below then meets the end of the source at once.
            if let Err(e) = self.kernel_copy(from, to).await {
                writer.abort().await;
                if !matches!(e, FsError::Interrupted) {
                    self.fail(format!(
                        "error copying {} to {}: {e}",
                        self.q(src_text),
                        self.q(dst_text)
                    ));
                }
                return false;
            }
        }
        loop {
            let chunk = match reader.next().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    writer.abort().await;
                    if !matches!(e, FsError::Interrupted) {
                        self.fail(format!("error reading {}: {e}", self.q(src_text)));
                    }
                    return false;
                }
            };
            if let Err(e) = writer.write(&chunk).await {
                writer.abort().await;
                self.fail(format!("error writing {}: {e}", self.q(dst_text)));
                return false;
            }
            self.report.bytes(chunk.len() as u64);
        }
        let attrs_set = writer.sets_attrs();
        if let Err(e) = writer.commit().await {
            self.fail(format!("error writing {}: {e}", self.q(dst_text)));
            return false;
        }
        if attrs_set {
            // Set before the rename.
        } else if let Err(e) = self.vfs.finish_attrs(dst, &attrs).await {
            if !matches!(e, FsError::NotRunning(_)) {
                self.fail(format!(
                    "preserving attributes of {}: {e}",
                    self.q(dst_text)
                ));
            }
        }
        if self.opts.verbose {
            self.report.copied(src_text, dst_text);
        }
        if tracked {
            self.linked.insert(identity, dst.clone());
        }
        self.report.file_done();
        true
    }
}

impl Copier<'_> {
    /// Copies the rest of `from` into `to` with `copy_file_range`, a slice at a time on a
    /// blocking thread, so progress moves and Ctrl-C stops it between slices.
    async fn kernel_copy(
        &mut self,
        from: &std::fs::File,
        to: &std::fs::File,
    ) -> Result<(), FsError> {
        const SLICE: usize = 16 << 20;
        let (from, to) = (from.try_clone()?, to.try_clone()?);
        let shared = std::sync::Arc::new((from, to));
        loop {
            if crate::interrupt::is_set() {
                return Err(FsError::Interrupted);
            }
            let files = shared.clone();
            let n = tokio::task::spawn_blocking(move || {
                crate::host::copy_slice(&files.0, &files.1, SLICE)
            })
            .await
            .map_err(|e| FsError::Engine(e.to_string()))??;
            if n == 0 {
                return Ok(());
            }
            self.report.bytes(n as u64);
        }
    }
}

/// What a caller already knows about one copy.
#[derive(Default)]
struct Hint {
    /// The source's attributes (from its parent's listing).
    src: Option<Entry>,
    /// The destination cannot exist (its directory was just created).
    dst_absent: bool,
}

/// Whether `dst` is `src` or below it (lexically): a directory cannot be copied into itself.
pub fn into_itself(src: &VPath, dst: &VPath) -> bool {
    let (s, d) = (src.to_path(), dst.to_path());
    d.starts_with(&s)
}
