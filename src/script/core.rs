//! The `core` module: checks for scripts and tests.

use rhai::plugin::*;
use rhai::Dynamic;

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

#[cfg(test)]
mod tests {
    use super::format_spec;

    // Expected strings are Python's format(x, spec) for the same arguments.
    #[test]
    fn python_format_specs() {
        assert_eq!(format_spec(1.23456, ".3f").unwrap(), "1.235");
        assert_eq!(format_spec(12345.678, ".4g").unwrap(), "1.235e+04");
        assert_eq!(format_spec(0.00012345, ".3g").unwrap(), "0.000123");
        assert_eq!(format_spec(0.000012345, ".3g").unwrap(), "1.23e-05");
        assert_eq!(format_spec(2.5, "g").unwrap(), "2.5");
        assert_eq!(format_spec(100.0, ".3g").unwrap(), "100");
        assert_eq!(format_spec(-1.5e-10, "10.2e").unwrap(), " -1.50e-10");
        assert_eq!(format_spec(f64::NAN, ".2f").unwrap(), "nan");
        assert!(format_spec(1.0, ".2x").is_err());
        assert!(format_spec(1.0, "").is_err());
    }
}
