//! The one place that writes `dockerbox: ` in front of a message: builtins' per-operand
//! errors, usage errors, the shell's own errors, `-v` notes and the last-resort report in
//! `main`. A [`Reporter`] writes to one stream (a builtin's fd 2 from its descriptor table, or
//! dockerbox's own stderr), so `a 2>x | b` sends only `a`'s messages to `x`; nothing swaps the
//! process's fd 2.

use std::ffi::OsStr;
use std::fmt::Display;
use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::exit_codes;
use crate::output::quote::quote_if_needed;
use crate::vfs::FsError;

/// Where messages go.
#[derive(Clone)]
enum Sink {
    /// dockerbox's own stderr.
    Stderr,
    /// A copy of a builtin's fd 2 (a file, a pipe, a terminal, `/dev/null`).
    File(Arc<File>),
}

/// Writes prefixed messages for one command (or for the shell itself) and remembers whether
/// it reported a failure. Cloning shares the stream and that record.
#[derive(Clone)]
pub struct Reporter {
    sink: Sink,
    /// The stream is a terminal: names from containers are quoted so they cannot drive it.
    tty: bool,
    /// The command the messages are about (`cp`), or `None` for the shell's own.
    cmd: Option<&'static str>,
    failed: Arc<AtomicBool>,
}

impl Reporter {
    /// To dockerbox's own stderr, for the shell's messages.
    pub fn stderr() -> Reporter {
        Reporter {
            sink: Sink::Stderr,
            tty: io::stderr().is_terminal(),
            cmd: None,
            failed: Arc::default(),
        }
    }

    /// To `file` (a copy of a builtin's fd 2); `tty` says whether it is a terminal.
    pub fn to_file(file: File, tty: bool) -> Reporter {
        Reporter {
            sink: Sink::File(Arc::new(file)),
            tty,
            cmd: None,
            failed: Arc::default(),
        }
    }

    /// The same stream, for messages about `cmd`, with a fresh failure record.
    pub fn for_command(&self, cmd: &'static str) -> Reporter {
        Reporter {
            cmd: Some(cmd),
            failed: Arc::default(),
            ..self.clone()
        }
    }

    /// Whether the stream is dockerbox's own stderr on a terminal (where a progress bar may
    /// be drawn).
    pub fn is_own_terminal(&self) -> bool {
        matches!(self.sink, Sink::Stderr) && self.tty
    }

    /// Whether a failure was reported through this reporter (or a clone).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// The exit status that goes with what was reported: 1 after a failure, else 0.
    pub fn status(&self) -> i32 {
        if self.failed() {
            exit_codes::FAILURE
        } else {
            exit_codes::OK
        }
    }

    /// A path as shown in a message: on a terminal quoted as GNU's `quotef` does (so a name
    /// holding `\e[2J` is shown, not obeyed); into a file or pipe as it is.
    pub fn name(&self, path: &OsStr) -> String {
        if self.tty {
            quote_if_needed(path)
        } else {
            path.to_string_lossy().into_owned()
        }
    }

    /// `dockerbox: CMD: PATH: ERROR`; nothing for a Ctrl-C or a closed output pipe, which
    /// are not worth a message (the failure is still recorded).
    pub fn path(&self, path: &OsStr, err: &FsError) {
        self.failed.store(true, Ordering::Relaxed);
        if matches!(err, FsError::Interrupted) || err.is_broken_pipe() {
            return;
        }
        self.line(format_args!("{}: {err}", self.name(path)));
    }

    /// `dockerbox: CMD: WHAT: ERROR`, WHAT naming the file already quoted GNU's way
    /// (`cannot touch 'x'`); like [`path`](Self::path), nothing for a Ctrl-C or a closed pipe.
    pub fn about(&self, what: &str, err: &FsError) {
        self.failed.store(true, Ordering::Relaxed);
        if matches!(err, FsError::Interrupted) || err.is_broken_pipe() {
            return;
        }
        self.line(format_args!("{what}: {err}"));
    }

    /// `dockerbox: CMD: MESSAGE`, a failure. Names in `msg` must be quoted already (GNU's
    /// messages quote theirs with `quote`, safe on a terminal).
    pub fn error(&self, msg: impl Display) {
        self.failed.store(true, Ordering::Relaxed);
        self.line(msg);
    }

    /// `dockerbox: CMD: MESSAGE`, not a failure (a warning, a `-v` note).
    pub fn note(&self, msg: impl Display) {
        self.line(msg);
    }

    /// `dockerbox: CMD: MESSAGE` and the hint to `help CMD`; returns the usage status.
    pub fn usage(&self, msg: impl Display) -> i32 {
        self.failed.store(true, Ordering::Relaxed);
        let cmd = self.cmd.unwrap_or("dockerbox");
        self.write(format!(
            "{}{msg}\nTry 'help {cmd}' for more information.\n",
            self.prefix()
        ));
        exit_codes::USAGE
    }

    /// `dockerbox: CMD: QUESTION? ` with no newline, for `rm -i`.
    pub fn prompt(&self, question: impl Display) {
        self.write(format!("{}{question}? ", self.prefix()));
    }

    /// The same stream for raw bytes (a container process's stderr under `exec`); writes
    /// never fail, as a closed stderr is no reason to stop the command.
    pub fn writer(&self) -> RawWriter {
        RawWriter(self.clone())
    }

    fn prefix(&self) -> String {
        match self.cmd {
            Some(c) => format!("dockerbox: {c}: "),
            None => "dockerbox: ".to_string(),
        }
    }

    fn line(&self, msg: impl Display) {
        self.write(format!("{}{msg}\n", self.prefix()));
    }

    /// One write per message, so messages from builtins running at once do not interleave; a
    /// stream that fails (a closed pipe) is no reason to stop the command.
    fn write(&self, text: String) {
        self.write_bytes(text.as_bytes());
    }

    fn write_bytes(&self, bytes: &[u8]) {
        let _ = match &self.sink {
            Sink::Stderr => {
                let mut e = io::stderr().lock();
                e.write_all(bytes).and_then(|()| e.flush())
            }
            Sink::File(f) => (&**f).write_all(bytes),
        };
    }
}

/// A [`Reporter`]'s stream as a plain writer, no prefix.
pub struct RawWriter(Reporter);

impl Write for RawWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_bytes(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek};

    fn capture(tty: bool) -> (Reporter, File) {
        let f = tempfile::tempfile().unwrap();
        (Reporter::to_file(f.try_clone().unwrap(), tty), f)
    }

    fn text(mut f: File) -> String {
        let mut s = String::new();
        f.rewind().unwrap();
        f.read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn messages_get_one_prefix_and_record_failure() {
        let (r, f) = capture(false);
        let cat = r.for_command("cat");
        cat.note("served by the agent");
        assert!(!cat.failed());
        cat.path(OsStr::new("/x y"), &FsError::NotFound);
        assert_eq!(cat.status(), exit_codes::FAILURE);
        assert!(!r.failed(), "the shell's record is its own");
        cat.path(OsStr::new("/z"), &FsError::Interrupted);
        assert_eq!(cat.usage("invalid option -- 'q'"), exit_codes::USAGE);
        r.error("syntax error");
        assert_eq!(
            text(f),
            "dockerbox: cat: served by the agent\n\
             dockerbox: cat: /x y: No such file or directory\n\
             dockerbox: cat: invalid option -- 'q'\n\
             Try 'help cat' for more information.\n\
             dockerbox: syntax error\n"
        );
    }

    #[test]
    fn names_are_quoted_on_a_terminal_only() {
        let name = OsStr::new("a\x1b[2Jb");
        let (tty, f) = capture(true);
        tty.for_command("cat").path(name, &FsError::NotFound);
        assert_eq!(
            text(f),
            "dockerbox: cat: 'a'$'\\033''[2Jb': No such file or directory\n"
        );
        let (pipe, f) = capture(false);
        pipe.for_command("cat").path(name, &FsError::NotFound);
        assert_eq!(
            text(f),
            "dockerbox: cat: a\x1b[2Jb: No such file or directory\n"
        );
    }
}
