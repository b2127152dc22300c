//! The `config` module: the experiment config as a map scripts read (`cfg.archive.root`).

use super::convert::{script_err, RResult};
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

    /// The path of the demo experiment's config (the clmtune demo model, not CLM), making the
    /// demo folder on first use: config, parameter spec, params file, and synthetic
    /// FLUXNET-MTE-shaped observations with their truth. The folder is `$CLMTUNE_DEMO_DIR`,
    /// else `~/.cache/clmtune/demo`. Stage scripts get it through `experiment::config`
    /// when no `--config` is given.
    ///
    /// ```rhai
    /// let cfg = read_config(demo_config());
    /// cfg.experiment.name     //=> demo
    /// cfg.parameters.calibrate.len()    //=> 6
    /// ```
    #[rhai_fn(return_raw)]
    pub fn demo_config() -> RResult<String> {
        let dir = crate::demo::setup::demo_dir();
        crate::demo::setup::ensure(&dir, (1982, 2008))
            .map(|p| p.display().to_string())
            .map_err(|e| script_err(format!("demo folder {}: {e:#}", dir.display())))
    }
}

/// The `config` module.
pub fn module() -> Module {
    exported_module!(config_fns)
}
