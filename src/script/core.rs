//! The `core` module: checks for scripts and tests.

use rhai::plugin::*;
use rhai::Dynamic;

/// The functions of the `core` module.
#[export_module]
pub mod core_fns {
    /// A range of whole numbers, `a..b` (b left out) or `a..=b` (b included): for `for`
    /// loops, `a[1..3]` slices of an Array and `a.slice(axis, 1..3)`.
    ///
    /// ```rhai
    /// let n = 0;
    /// for i in 1..=4 { n += i; }
    /// n                      //=> 10
    /// array([1, 2, 3, 4])[1..3]    //=> [2. 3.]
    /// ```
    pub type Range = std::ops::Range<rhai::INT>;

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

    /// A number as text with a Python-style format spec `[<|>][width][.precision](f|e|g)`.
    ///
    /// ```rhai
    /// fmt(3.14159, ".2f")       //=> 3.14
    /// fmt(0.000123, ".2e")      //=> 1.23e-04
    /// fmt(1234567.0, ".3g")     //=> 1.23e+06
    /// fmt(0.5, "8.3f")          //=>    0.500
    /// fmt(2, "<4.0f") + "|"     //=> 2   |
    /// ```
    #[rhai_fn(return_raw)]
    pub fn fmt(x: Dynamic, spec: &str) -> Result<String, Box<EvalAltResult>> {
        let v = crate::script::convert::number(&x, "fmt's first argument")?;
        crate::format::format_spec(v, spec).map_err(Into::into)
    }
}

/// The `core` module.
pub fn module() -> Module {
    exported_module!(core_fns)
}
