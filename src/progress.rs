//! Progress bars for long native work (indicatif): drawn on stderr when it is a terminal,
//! silent otherwise or after `--quiet`; and named steps of long native work ([`step`]), told
//! to the observer the run's record installs ([`on_step`]), so that this layer never calls up.

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

/// What [`on_step`] installs: called with a step's name when it starts; what it returns is
/// dropped when the step ends.
pub type StepObserver = fn(&str) -> Box<dyn std::any::Any>;

static STEP_OBSERVER: std::sync::RwLock<Option<StepObserver>> = std::sync::RwLock::new(None);

/// Installs the observer of named steps (the run's record times them; replaces an earlier
/// one).
pub fn on_step(f: StepObserver) {
    *STEP_OBSERVER.write().unwrap_or_else(|e| e.into_inner()) = Some(f);
}

/// A named step of long native work (`read history files`, `figures`) until dropped.
#[must_use = "a step lasts until the guard is dropped"]
pub struct Step {
    _observed: Option<Box<dyn std::any::Any>>,
}

/// Starts a named step; the observer (if one is installed) is told now, and its guard is
/// dropped with the returned one.
pub fn step(name: &str) -> Step {
    let f = *STEP_OBSERVER.read().unwrap_or_else(|e| e.into_inner());
    Step {
        _observed: f.map(|f| f(name)),
    }
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
