//! The `config` module: the experiment config as a map scripts read (`cfg.archive.root`).

use super::array::{script_err, RResult};
use crate::config::Config;
use rhai::plugin::*;
use rhai::{Dynamic, Module};

/// The functions of the `config` module.
#[export_module]
pub mod config_fns {
    /// Reads an experiment config (TOML, contract section 1) into a map: paths resolved
    /// relative to the file, types and ranges checked, unknown keys refused naming the nearest
    /// known one. Stage scripts use `experiment::config(OPTIONS)`, which also applies `--out`.
    ///
    /// ```rhai
    /// let p = `${TEMP_DIR}/exp.toml`;
    /// let cfg = read_config(p);
    /// cfg.archive.years                        //=> [16, 20]
    /// cfg.archive.root == `${TEMP_DIR}/archive`  //=> true
    /// cfg.sensitivity.outputs.TF               //=> QVEGT / QFLX_EVAP_TOT
    /// ```
    #[rhai_fn(return_raw)]
    pub fn read_config(path: &str) -> RResult<Dynamic> {
        let cfg =
            Config::load(std::path::Path::new(path)).map_err(|e| script_err(format!("{e:#}")))?;
        rhai::serde::to_dynamic(&cfg).map_err(|e| script_err(format!("config {path}: {e}")))
    }
}

/// The `config` module.
pub fn module() -> Module {
    exported_module!(config_fns)
}
