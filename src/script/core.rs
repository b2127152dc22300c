//! The `core` module: checks for scripts and tests.

use rhai::plugin::*;

/// The functions of the `core` module.
#[export_module]
pub mod core_fns {
    /// Stops the script with an error unless `condition` is true.
    ///
    /// ```rhai
    /// assert(1 + 1 == 2);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn assert(condition: bool) -> Result<(), Box<EvalAltResult>> {
        if condition {
            Ok(())
        } else {
            Err("assertion failed".into())
        }
    }

    /// Stops the script with `message` unless `condition` is true.
    ///
    /// ```rhai
    /// let members = 100;
    /// assert(members > 0, "the ensemble is empty");
    /// ```
    #[rhai_fn(name = "assert", return_raw)]
    pub fn assert_msg(condition: bool, message: &str) -> Result<(), Box<EvalAltResult>> {
        if condition {
            Ok(())
        } else {
            Err(format!("assertion failed: {message}").into())
        }
    }
}

/// The `core` module.
pub fn module() -> Module {
    exported_module!(core_fns)
}
