//! How the CLI shows a run: one progress bar on stderr (when it is a terminal), stage lines,
//! and warnings printed above the bar.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use storyline_ingest::InputWarning;
use storyline_pipeline::{Observer, Stage};

pub struct Bars {
    bar: ProgressBar,
    /// Print each stage's summary line.
    lines: bool,
}

impl Bars {
    pub fn new(progress: bool, lines: bool) -> Bars {
        let bar = ProgressBar::with_draw_target(Some(1), if progress { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
        Bars { bar, lines }
    }
}

impl Observer for Bars {
    fn start(&self, stage: Stage, total: u64) {
        let template = match stage {
            Stage::Scan | Stage::Extract => "{spinner} {prefix:>10} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
            _ => "{spinner} {prefix:>10} [{bar:30}] {pos}/{len} articles (eta {eta})",
        };
        self.bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "));
        self.bar.set_prefix(stage.label());
        self.bar.set_length(total.max(1));
        self.bar.set_position(0);
        self.bar.set_message("");
    }

    fn read(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn position(&self, done: u64) {
        self.bar.set_position(done);
    }

    fn status(&self, message: &str) {
        self.bar.set_message(message.to_owned());
    }

    fn finish(&self, _stage: Stage, line: &str) {
        if self.lines {
            self.bar.suspend(|| eprintln!("{line}"));
        }
    }

    fn warning(&self, warning: &InputWarning) {
        self.bar.suspend(|| eprintln!("{warning}"));
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
