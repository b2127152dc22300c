//! The boundary with libraries that may panic on data they were not made for (egobox's GP
//! on values near the largest float): [`catching`] turns such a panic into an error that
//! names the work, and keeps the panic's report off the terminal while it is caught.

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many [`catching`] calls are running (in any thread: a library's rayon workers
/// panic on their own threads).
static GUARDS: AtomicUsize = AtomicUsize::new(0);
static HOOK: std::sync::Once = std::sync::Once::new();

/// Runs `work`; a panic inside it becomes the error "`what` failed inside a library (...)"
/// instead of ending the program.
pub fn catching<T>(what: &str, work: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDS.load(Ordering::SeqCst) == 0 {
                previous(info);
            }
        }));
    });
    GUARDS.fetch_add(1, Ordering::SeqCst);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    GUARDS.fetch_sub(1, Ordering::SeqCst);
    r.unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no reason given".into());
        Err(anyhow::anyhow!(
            "{what} failed inside a library it uses ({}); the data may be outside what \
             it handles",
            crate::format::printable(&why)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_and_values_pass_through() {
        let e = catching("fit_gp", || -> anyhow::Result<()> {
            let v: Vec<i32> = Vec::new();
            let _ = v[3];
            Ok(())
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("fit_gp failed inside a library it uses (index out of bounds"),
            "{e}"
        );
        assert_eq!(catching("x", || Ok(7)).unwrap(), 7);
        // a panic on another thread (as in a rayon pool) is caught too
        let e = catching("pool", || {
            rayon::join(|| panic!("from a worker"), || ());
            Ok(())
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("(from a worker)"), "{e}");
    }
}
