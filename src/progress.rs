//! Progress bars for long native work (indicatif): drawn on stderr when it is a terminal,
//! silent otherwise or after `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Silences every progress bar from now on (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether bars are drawn: not quiet and stderr is a terminal.
pub fn enabled() -> bool {
    !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// A progress bar over `len` steps with a message; hidden when [`enabled`] is false.
pub fn bar(len: u64, message: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        Some(len),
        if enabled() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) =
        ProgressStyle::with_template("{msg:24} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(message.to_string());
    pb
}

#[cfg(test)]
mod tests {
    #[test]
    fn quiet_hides_bars() {
        super::set_quiet(true);
        assert!(!super::enabled());
        assert!(super::bar(10, "x").is_hidden());
        super::set_quiet(false);
    }
}
