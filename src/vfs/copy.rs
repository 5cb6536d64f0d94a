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
use super::stream::{Attrs, FileReader, FileWriter};
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
    /// `-f`: a destination that cannot be opened for writing is removed and made anew.
    pub force: bool,
    pub verbose: bool,
    /// The process umask, for modes of new files when the mode is not preserved.
    pub umask: u32,
}

/// What the copy walk tells its caller (`cp`, `mv`), which shows it: the walk itself never
/// prints, so it does not depend on the terminal, the output or the quoting style.
pub trait CopyReport {
    /// A name as a message shows it (GNU cp quotes every name it mentions).
    fn quote(&self, name: &OsStr) -> String;
    /// A name leading a message (`NAME: what happened`), as GNU's `quotef`: quoted only when it
    /// needs it. By default as [`quote`](Self::quote).
    fn quote_f(&self, name: &OsStr) -> String {
        self.quote(name)
    }
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
    /// The directories this copy made, by (dev, ino): a source directory among them is the copy
    /// itself, met again through a symlink or a bind mount (GNU decides it so too).
    made: std::collections::HashSet<(u64, u64)>,
    /// The command-line operands being copied, as shown, for that message.
    top: (OsString, OsString),
    /// A top-level directory's real paths are still to be compared (once per operand).
    check_real: bool,
    /// The top of a new tree in a stopped container is being copied: `Some(true)` once it was
    /// made, so a walk cut short says that part of it stays.
    stopped_top: Option<bool>,
    /// The walk refused a directory copied into itself (the message said why it stopped).
    met_itself: bool,
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
            made: std::collections::HashSet::new(),
            top: Default::default(),
            check_real: false,
            stopped_top: None,
            met_itself: false,
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
        if top {
            // GNU records the copy's own directories per command-line operand.
            self.top = (src_text.to_os_string(), dst_text.to_os_string());
            self.check_real = true;
            self.made.clear();
        }
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
            let mut existing = if hint.dst_absent {
                None
            } else {
                self.vfs.lstat(dst).await.ok()
            };
            if s.kind == Kind::File && existing.as_ref().is_some_and(|e| e.kind == Kind::Symlink) {
                // GNU cp writes a file through a symlink at its destination (resolved inside
                // the container), whatever -P or -a say: the link stays, its target changes.
                match self.vfs.stat(dst).await {
                    Ok(e) => existing = Some(e),
                    Err(FsError::NotFound) => {
                        self.fail(format!(
                            "not writing through dangling symlink {}",
                            self.q(dst_text)
                        ));
                        return false;
                    }
                    Err(e) => {
                        self.fail(format!("cannot stat {}: {e}", self.q(dst_text)));
                        return false;
                    }
                }
            }
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
                    // A new tree in a stopped container cannot be taken back (the archive API
                    // has no delete): one cut short says so, once, at its top.
                    let top = existing.is_none()
                        && self.stopped_top.is_none()
                        && self
                            .vfs
                            .container_of(dst)
                            .await
                            .is_ok_and(|(_, c)| c.state != crate::host::State::Running);
                    if top {
                        self.stopped_top = Some(false);
                    }
                    let ok = self
                        .copy_dir(src, src_text, &s, dst, dst_text, existing.is_some())
                        .await;
                    if top {
                        // A copy that met itself stops as GNU's does, and says only that.
                        let made = self.stopped_top.take() == Some(true);
                        self.partial_tree(!ok && made && !self.met_itself, dst_text);
                    }
                    ok
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
        if s.ino != 0 && self.made.contains(&(s.dev, s.ino)) {
            let msg = format!(
                "cannot copy a directory, {}, into itself, {}",
                self.q(&self.top.0),
                self.q(&self.top.1)
            );
            self.fail(msg);
            self.met_itself = true;
            return false;
        }
        if let Some((made, top_src, top_dst)) = &self.into_itself {
            if &src.to_path() == made {
                let msg = format!(
                    "cannot copy a directory, {}, into itself, {}",
                    self.q(top_src),
                    self.q(top_dst)
                );
                self.fail(msg);
                self.met_itself = true;
                return false;
            }
        } else if into_itself(src, dst) {
            self.into_itself = Some((
                dst.to_path(),
                src_text.to_os_string(),
                dst_text.to_os_string(),
            ));
        } else if std::mem::take(&mut self.check_real) && src.container() == dst.container() {
            // Through a symlink the paths differ: compare where they really are. (The (dev, ino)
            // check below decides it wherever the numbers are real; a stopped container's
            // listing has none, so there the real paths do.)
            if let (Some(rs), Some(rd)) = (self.real(src).await, self.real(dst).await) {
                if into_itself(&rs, &rd) {
                    self.into_itself = Some((
                        rd.to_path(),
                        src_text.to_os_string(),
                        dst_text.to_os_string(),
                    ));
                }
            }
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
                        self.partial_tree(matches!(e, FsError::PartialLeft(_)), dst_text);
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
            if self.stopped_top == Some(false) {
                self.stopped_top = Some(true);
            }
            // Only a copy within one filesystem space can meet itself.
            if src.container() == dst.container() {
                if let Ok(d) = self.vfs.lstat(dst).await {
                    if d.ino != 0 {
                        self.made.insert((d.dev, d.ino));
                    }
                }
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
        // Written in place, the destination must not be the source itself (the same path, a
        // hard link, a symlink to it, a bind mount of it).
        // (An archive listing's numbers stand for paths, not files: not comparable.)
        let same_file = existing.as_ref().is_some_and(|e| {
            e.ino != 0
                && e.dev != super::archive::ARCHIVE_DEV
                && (e.dev, e.ino) == (s.dev, s.ino)
                && e.kind == Kind::File
        });
        if src == dst || same_file {
            self.fail(format!(
                "{} and {} are the same file",
                self.q(src_text),
                self.q(dst_text)
            ));
            return false;
        }
        // The remote direct path: the destination's agent reads the source on its machine.
        let pair = self.vfs.helper_pair(src, dst).await;
        let mut reader = if pair.is_some() {
            None
        } else {
            match self.vfs.open_read_known(src, s).await {
                Ok((_, r)) => Some(r),
                Err(e) => {
                    self.fail(format!("cannot open {} for reading: {e}", self.q(src_text)));
                    return false;
                }
            }
        };
        let mut existing = existing;
        if self.opts.preserve.links
            && existing.as_ref().is_some_and(|e| e.nlink > 1)
            && self
                .vfs
                .lstat(dst)
                .await
                .is_ok_and(|e| e.kind == Kind::File)
        {
            // GNU cp keeping links (`-a`) does not write into a file with other names: it
            // makes a new one.
            if let Err(e) = self.vfs.remove(dst, false).await {
                self.fail(format!("cannot remove {}: {e}", self.q(dst_text)));
                return false;
            }
            existing = None;
        }
        let mut attrs = self.attrs(s, existing.as_ref());
        let mut created = self.vfs.create(dst, &attrs, s.size).await;
        if self.opts.force
            && existing.is_some()
            && matches!(created, Err(FsError::PermissionDenied))
        {
            // `-f`: what cannot be opened is removed and made anew.
            if self.vfs.remove(dst, false).await.is_ok() {
                attrs = self.attrs(s, None);
                created = self.vfs.create(dst, &attrs, s.size).await;
            }
        }
        let mut writer = match created {
            Ok(w) => w,
            Err(e) => {
                self.fail(format!(
                    "cannot create regular file {}: {e}",
                    self.q(dst_text)
                ));
                return false;
            }
        };
        let filled = match (&pair, &mut writer) {
            (Some(p), FileWriter::Agent(w, _)) if w.helper() == p.conn.helper.as_deref() => {
                Some(w.fill_from(p.pid, &p.id, p.path.clone()).await)
            }
            _ => None,
        };
        let mut reader = match (filled, reader.take()) {
            (Some(Ok(n)), _) => {
                self.report.bytes(n);
                // Nothing left to read here: the loop below meets the end at once.
                FileReader::Archive(tokio::sync::mpsc::channel(1).1)
            }
            (Some(Err(e)), _) => {
                let partial = writer.abort().await;
                self.fail(format!(
                    "error copying {} to {}: {}",
                    self.q(src_text),
                    self.q(dst_text),
                    super::agent::fs_error(e)
                ));
                self.partial(partial, dst_text);
                return false;
            }
            (None, Some(r)) => r,
            (None, None) => match self.vfs.open_read_known(src, s).await {
                Ok((_, r)) => r,
                Err(e) => {
                    let partial = writer.abort().await;
                    self.fail(format!("cannot open {} for reading: {e}", self.q(src_text)));
                    self.partial(partial, dst_text);
                    return false;
                }
            },
        };
        if let (FileReader::Local(from), Some(to)) = (&reader, writer.local_file()) {
            // Both ends are open here: the kernel copies, no byte passes through us. The loop
            // below then meets the end of the source at once.
            if let Err(e) = self.kernel_copy(from, to).await {
                let partial = writer.abort().await;
                if !matches!(e, FsError::Interrupted) {
                    self.fail(format!(
                        "error copying {} to {}: {e}",
                        self.q(src_text),
                        self.q(dst_text)
                    ));
                }
                self.partial(partial, dst_text);
                return false;
            }
        }
        loop {
            let chunk = match reader.next_chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    let partial = writer.abort().await;
                    if !matches!(e, FsError::Interrupted) {
                        self.fail(format!("error reading {}: {e}", self.q(src_text)));
                    }
                    self.partial(partial, dst_text);
                    return false;
                }
            };
            let n = chunk.size() as u64;
            if let Err(e) = writer.write_chunk(chunk).await {
                let partial = writer.abort().await;
                self.fail(format!("error writing {}: {e}", self.q(dst_text)));
                self.partial(partial, dst_text);
                return false;
            }
            self.report.bytes(n);
        }
        let attrs_set = writer.sets_attrs();
        if let Err(e) = writer.commit().await {
            self.fail(format!("error writing {}: {e}", self.q(dst_text)));
            self.partial(matches!(e, FsError::PartialLeft(_)), dst_text);
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
    /// Where a container path really is: its directories' symlinks followed inside the
    /// container (the last component is kept as it is). `None` when a component is missing,
    /// on the host (the kernel's numbers decide there), or after too many links.
    async fn real(&self, p: &VPath) -> Option<VPath> {
        let VPath::Container { host, name, path } = p else {
            return None;
        };
        let (dir, last) = (path.parent()?, path.file_name()?);
        let mut todo: Vec<OsString> = dir
            .components()
            .rev()
            .filter_map(|c| match c {
                std::path::Component::Normal(n) => Some(n.to_os_string()),
                _ => None,
            })
            .collect();
        let mut out = std::path::PathBuf::from("/");
        let mut hops = 0;
        while let Some(comp) = todo.pop() {
            let here = out.join(&comp);
            let at = VPath::Container {
                host: host.clone(),
                name: name.clone(),
                path: here.clone(),
            };
            let e = self.vfs.lstat(&at).await.ok()?;
            match (e.kind, &e.link_target) {
                (Kind::Symlink, Some(t)) => {
                    hops += 1;
                    if hops > 40 {
                        return None;
                    }
                    let to = super::path::link_target_in_container(&here, t);
                    todo.extend(to.components().rev().filter_map(|c| match c {
                        std::path::Component::Normal(n) => Some(n.to_os_string()),
                        _ => None,
                    }));
                    out = std::path::PathBuf::from("/");
                }
                _ => out = here,
            }
        }
        Some(VPath::Container {
            host: host.clone(),
            name: name.clone(),
            path: out.join(last),
        })
    }

    /// Says that a tree copied into a stopped container was cut short: what landed stays there
    /// (the archive API cannot take it back).
    fn partial_tree(&mut self, left: bool, dst_text: &OsStr) {
        if left {
            self.fail(format!(
                "{}: partial tree left (the container is stopped)",
                self.report.quote_f(dst_text)
            ));
        }
    }

    /// Says that a failed write into a stopped container left a partial file (the archive API
    /// cannot take it back); status 1 either way.
    fn partial(&mut self, left: bool, dst_text: &OsStr) {
        if left {
            self.fail(format!(
                "{}: partial file left (the container is stopped)",
                self.report.quote_f(dst_text)
            ));
        }
        self.failed = true;
    }

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
