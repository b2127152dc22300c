//! The `config` module: the experiment config as a map scripts read (`cfg.archive.root`).

use super::convert::{script_err, type_name, RResult};
use crate::config::Config;
use rhai::plugin::*;
use rhai::{Dynamic, Map, Module};

/// The known options of a script: name and, for an option that takes a value, what the
/// value is (`FILE`); `None` for a flag.
type Known = Vec<(String, Option<String>)>;

/// Reads the `known` argument of `check_options`: a list of names (each takes a value) or a
/// map of name to a word for its value (`"FILE"`), `false` or `()` for a flag.
fn known_options(known: &Dynamic) -> RResult<Known> {
    let name = |k: &Dynamic| {
        k.clone().into_string().map_err(|_| {
            script_err(format!(
                "check_options: option names are strings, not {}",
                type_name(k)
            ))
        })
    };
    if let Some(list) = known.read_lock::<rhai::Array>() {
        return list
            .iter()
            .map(|k| {
                Ok((
                    name(k)?.trim_start_matches("--").to_string(),
                    Some("VALUE".into()),
                ))
            })
            .collect();
    }
    if let Some(map) = known.read_lock::<Map>() {
        return map
            .iter()
            .map(|(k, v)| {
                let value = if v.is_unit() || v.as_bool() == Ok(false) {
                    None
                } else if let Ok(s) = v.clone().into_string() {
                    Some(s)
                } else {
                    return Err(script_err(format!(
                        "check_options: option --{k} is described by a string (the value, e.g. \
                         \"FILE\"), or false for a flag, not {}",
                        type_name(v)
                    )));
                };
                Ok((k.trim_start_matches("--").to_string(), value))
            })
            .collect();
    }
    Err(script_err(format!(
        "check_options: the known options are a list of names or a map, not {}",
        type_name(known)
    )))
}

/// Checks a script's options (the map `OPTIONS`) against the known ones: an unknown option
/// is an error naming the nearest known one, an argument that is not an option is an error,
/// an option that takes a value must have one, a flag must not.
pub fn check_options(options: &Map, known: &[(String, Option<String>)]) -> Result<(), String> {
    let usage = known
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("--{k} {v}"),
            None => format!("--{k}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let usage = if known.is_empty() {
        "this script takes no options".to_string()
    } else {
        format!("known options: {usage}")
    };
    for (key, value) in options {
        if key.as_str() == super::POSITIONAL_KEY {
            let first = value
                .clone()
                .into_array()
                .ok()
                .and_then(|a| a.first().cloned())
                .map(|a| a.to_string())
                .unwrap_or_default();
            return Err(format!(
                "argument '{first}' is not an option: options start with -- ({usage})"
            ));
        }
        match known.iter().find(|(k, _)| k == key.as_str()) {
            None => {
                let nearest = known
                    .iter()
                    .map(|(k, _)| (strsim::levenshtein(k, key), k))
                    .min()
                    .filter(|(d, k)| *d <= 2.max(k.len() / 3))
                    .map(|(_, k)| format!(": did you mean --{k}?"))
                    .unwrap_or_default();
                return Err(format!("unknown option --{key}{nearest} ({usage})"));
            }
            Some((_, Some(what))) if value.is_bool() => {
                return Err(format!("option --{key} needs a value: --{key} {what}"));
            }
            Some((_, None)) if !value.is_bool() => {
                return Err(format!("option --{key} takes no value, got '{value}'"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

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

    /// Checks a script's command-line options (`OPTIONS`) against the `known` ones and
    /// returns them: a list of names of options that take a value, or a map of name to what
    /// its value is (`#{config: "FILE", "dry-run": false}`, `false` for a flag). An unknown
    /// option is an error naming the nearest known one; so is an argument that is not an
    /// option, an option without its value, and a flag with one. Stage scripts get this
    /// through `experiment::config(OPTIONS)` (options `--config`, `--out`, `--dry-run`) or
    /// `experiment::config(OPTIONS, more)` for options of their own.
    ///
    /// ```rhai
    /// let o = check_options(#{config: "x.toml", "dry-run": true}, #{config: "FILE", "dry-run": false});
    /// o.config                                   //=> x.toml
    /// check_options(#{members: "5"}, ["members"]).members    //=> 5
    /// let msg = "";
    /// try { check_options(#{confg: "x.toml"}, #{config: "FILE"}); } catch (e) { msg = e; }
    /// msg    //=> unknown option --confg: did you mean --config? (known options: --config FILE)
    /// ```
    #[rhai_fn(return_raw)]
    pub fn check_options(options: Map, known: Dynamic) -> RResult<Map> {
        let known = known_options(&known)?;
        super::check_options(&options, &known).map_err(script_err)?;
        Ok(options)
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
