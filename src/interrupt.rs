//! Ctrl-C and termination signals. In the REPL, Ctrl-C during an evaluation stops that
//! evaluation at its next step and returns to the prompt with every variable kept; a second
//! Ctrl-C, or Ctrl-C anywhere else, quits. Before quitting on a signal (SIGINT, SIGTERM,
//! SIGHUP), the temporary files of unfinished writes are removed ([`crate::files`]), so that
//! no `.clmtune-*` file is left beside a user's file; the exit status is 128 + the signal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

static EVALUATING: AtomicBool = AtomicBool::new(false);
static REQUESTED: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

/// Installs the signal handling (once per process; later calls do nothing). Without it, the
/// operating system's default applies.
pub fn install() {
    INSTALL.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        std::thread::spawn(move || {
            for sig in signals.forever() {
                on_signal(sig);
            }
        });
    });
}

/// What a signal does: asks a running REPL evaluation to stop (the first Ctrl-C), or removes
/// the temporary files of unfinished writes and quits.
fn on_signal(sig: i32) {
    if sig == signal_hook::consts::SIGINT
        && EVALUATING.load(Ordering::SeqCst)
        && !REQUESTED.swap(true, Ordering::SeqCst)
    {
        crate::output::eprintln(
            "\ninterrupting: the computation stops at its next step (Ctrl-C again quits)",
        );
        return;
    }
    let removed = crate::files::remove_temporaries();
    if removed > 0 {
        crate::output::eprintln(&format!(
            "\ninterrupted: removed {removed} unfinished temporary file(s)"
        ));
    } else {
        crate::output::eprintln("\ninterrupted");
    }
    std::process::exit(128 + sig);
}

/// Marks the start (`true`) or end (`false`) of a REPL evaluation that Ctrl-C may stop;
/// either clears an earlier request.
pub fn evaluating(on: bool) {
    REQUESTED.store(false, Ordering::SeqCst);
    EVALUATING.store(on, Ordering::SeqCst);
}

/// Whether Ctrl-C asked the running evaluation to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// An error if Ctrl-C asked the running evaluation to stop: for long native loops (e.g.
/// waiting for an ensemble) to call between steps.
pub fn check() -> anyhow::Result<()> {
    if requested() {
        anyhow::bail!("interrupted (Ctrl-C)");
    }
    Ok(())
}
