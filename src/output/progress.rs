//! The copy progress bar: on stderr, only on a terminal, only once a copy has lasted a second.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counts bytes and files; draws an indicatif bar when it is worth it.
pub struct Progress {
    enabled: bool,
    started: Instant,
    total: Option<u64>,
    bytes: u64,
    files: u64,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// `total` is the byte count when known (a single file, or a tree measured first).
    pub fn new(total: Option<u64>) -> Progress {
        Progress {
            enabled: std::io::stderr().is_terminal(),
            started: Instant::now(),
            total,
            bytes: 0,
            files: 0,
            bar: None,
        }
    }

    pub fn add_bytes(&mut self, n: u64) {
        self.bytes += n;
        self.tick();
    }

    pub fn file_done(&mut self) {
        self.files += 1;
        self.tick();
    }

    fn tick(&mut self) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() >= Duration::from_secs(1) {
            let bar = match self.total {
                Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr())
                    .with_style(
                        ProgressStyle::with_template(
                            "{bytes}/{total_bytes} {bytes_per_sec} ETA {eta} [{bar:30}] {msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    ),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                    .with_style(
                        ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    ),
            };
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(self.bytes);
            bar.set_message(format!("{} files", self.files));
        }
    }

    /// Removes the bar from the screen.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
