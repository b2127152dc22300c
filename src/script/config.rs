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
                "argument '{first}' is not an option: options start with -- ({usage})",
                first = crate::format::printable(&first)
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
                return Err(format!(
                    "option --{key} takes no value, got '{value}'",
                    value = crate::format::printable(&value.to_string())
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A script value as a TOML value, for the config conversion: `()` (an absent optional key)
/// is left out of its table; anything that is not a number, bool, string, list or map is an
/// error naming the key.
fn toml_value(d: &Dynamic, key: &str) -> Result<Option<toml::Value>, String> {
    use toml::Value as V;
    Ok(Some(if d.is_unit() {
        return Ok(None);
    } else if let Ok(i) = d.as_int() {
        V::Integer(i)
    } else if let Ok(x) = d.as_float() {
        V::Float(x)
    } else if let Ok(b) = d.as_bool() {
        V::Boolean(b)
    } else if d.is_string() {
        V::String(d.clone().into_string().unwrap_or_default())
    } else if let Some(list) = d.read_lock::<rhai::Array>() {
        let mut out = Vec::new();
        for (i, x) in list.iter().enumerate() {
            match toml_value(x, &format!("{key}[{i}]"))? {
                Some(v) => out.push(v),
                None => return Err(format!("{key}[{i}] is (), not a config value")),
            }
        }
        V::Array(out)
    } else if let Some(map) = d.read_lock::<Map>() {
        let mut t = toml::Table::new();
        for (k, v) in map.iter() {
            if let Some(v) = toml_value(v, &format!("{key}.{k}"))? {
                t.insert(k.to_string(), v);
            }
        }
        V::Table(t)
    } else {
        return Err(format!(
            "{key} is {}: a config value is a number, bool, string, list or map",
            type_name(d)
        ));
    }))
}

/// The key a line of TOML text sets: the last `[table]` header above it and the key on it
/// (only the table if `table_only`).
fn key_at_line(text: &str, line: usize, table_only: bool) -> String {
    let mut table = String::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if let Some(h) = l.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            table = h.replace('"', "");
        }
        if i + 1 == line {
            if let Some((k, _)) = l.split_once(" = ").filter(|_| !table_only) {
                let k = k.trim().trim_matches('"');
                return if table.is_empty() {
                    k.to_string()
                } else {
                    format!("{table}.{k}")
                };
            }
            break;
        }
    }
    table
}

/// The one conversion of a config map (from `read_config` or `experiment::config`, perhaps
/// changed by the script) back into a [`Config`], with every check of a config file: types
/// and unknown keys (naming the nearest known one), then [`Config::check`]. Errors name the
/// key as the script writes it (`cfg.archive.years = [20, 16]: the first year is after the
/// last`). Also returns the map's `dry_run` flag. Every script function taking `cfg` uses it.
pub fn config_from_map(cfg: &Map) -> RResult<(Config, bool)> {
    const VAR: &str = "cfg";
    let mut m = cfg.clone();
    let dry = match m.remove("dry_run") {
        None => false,
        Some(d) => d.as_bool().map_err(|_| {
            script_err(format!(
                "{VAR}.dry_run must be true or false, not {}",
                type_name(&d)
            ))
        })?,
    };
    let table = toml_value(&Dynamic::from_map(m), VAR).map_err(script_err)?;
    let text = table
        .as_ref()
        .and_then(|t| toml::to_string(t).ok())
        .unwrap_or_default();
    let c: Config = toml::from_str(&text).map_err(|e| {
        let msg = e.message().to_string();
        let msg = crate::toml_read::explain_unknown(&msg).unwrap_or(msg);
        // a missing key is reported on the table that lacks it
        let table_only = msg.starts_with("missing field");
        let key = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                key_at_line(&text, line, table_only)
            })
            .unwrap_or_default();
        if key.is_empty() {
            script_err(format!("{VAR}: {msg}"))
        } else {
            script_err(format!("{VAR}.{key}: {msg}"))
        }
    })?;
    c.check().map_err(|p| script_err(p.in_script(VAR)))?;
    crate::provenance::use_config(&c.path, &c.output.dir, c.experiment.seed, dry);
    Ok((c, dry))
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
        let _step = crate::provenance::step("demo folder");
        let dir = crate::demo::setup::demo_dir();
        crate::demo::setup::ensure(&dir, (1982, 2008))
            .map(|p| p.display().to_string())
            .map_err(|e| script_err(format!("demo folder {}: {e:#}", dir.display())))
    }

    /// Records the config a script works with (its final `[output] dir`, seed and dry-run
    /// flag) for the script's `run.json` in that folder, and returns it unchanged; the config
    /// is checked as by every function taking `cfg`. `experiment::config` calls it, so stage
    /// scripts need not; a script that builds its config otherwise calls it once.
    ///
    /// ```rhai
    /// let cfg = record_config(read_config(`${TEMP_DIR}/exp.toml`));
    /// cfg.output.dir.ends_with("results")    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn record_config(cfg: Map) -> RResult<Map> {
        config_from_map(&cfg)?;
        Ok(cfg)
    }

    /// The truth of the demo experiment's synthetic observations: the scaling in [0, 1] of
    /// each calibrated parameter (`min + s * (max - min)` in every PFT group) that made
    /// them, which a calibration of the demo should come near.
    ///
    /// ```rhai
    /// let t = demo_truth();
    /// t.medlynslope    //=> 0.62
    /// t.keys().len()   //=> 6
    /// ```
    pub fn demo_truth() -> Map {
        crate::demo::setup::TRUTH
            .iter()
            .map(|(k, v)| ((*k).into(), Dynamic::from_float(*v)))
            .collect()
    }

    /// The default run's scalings of the calibrated parameters: a map of parameter ->
    /// scaling in [0, 1] (`(default - min) / (max - min)`; a parameter whose PFT groups'
    /// defaults sit at different scalings gets their mean, and a note says so: the default
    /// run is then not on the design's line). For a cost closure that uses `x`:
    /// `cost(ems, t, #{default_scalings: default_scalings(cfg)}, f)`.
    ///
    /// ```rhai
    /// let cfg = read_config(`${TEMP_DIR}/oaat/config.toml`);
    /// cfg.parameters.calibrate = ["dint", "fff"];
    /// let d = default_scalings(cfg);
    /// d.dint    //=> 0.6
    /// d.fff     //=> 0.0963855421686747
    /// ```
    #[rhai_fn(return_raw)]
    pub fn default_scalings(cfg: Map) -> RResult<Map> {
        let (c, _) = config_from_map(&cfg)?;
        let rows =
            crate::ensemble::from_config::default_scalings(&c).map_err(|e| format!("{e:#}"))?;
        let mut m = Map::new();
        for (name, mean, lo, hi) in rows {
            if hi - lo > 1e-9 {
                crate::output::eprintln(&format!(
                    "note: {name}: its PFT groups' defaults sit at scalings {lo:.3}..{hi:.3}; the default run's scaling is given as their mean {mean:.3}"
                ));
            }
            m.insert(name.as_str().into(), Dynamic::from_float(mean));
        }
        Ok(m)
    }

    /// The default run's scalings of `parameters`, in their order (a figure's "default run"
    /// mark, an emulator's input), or `()` when the spec does not give every one of them.
    ///
    /// ```rhai
    /// let cfg = read_config(`${TEMP_DIR}/oaat/config.toml`);
    /// cfg.parameters.calibrate = ["dint", "fff"];
    /// let d = default_scalings(cfg, ["fff", "dint"]);
    /// d.len()    //=> 2
    /// d[1]       //=> 0.6
    /// default_scalings(cfg, ["dint", "kmax"]) == ()   //=> true
    /// ```
    #[rhai_fn(name = "default_scalings", return_raw)]
    pub fn default_scalings_of(cfg: Map, parameters: rhai::Array) -> RResult<Dynamic> {
        let d = default_scalings(cfg)?;
        let mut out = rhai::Array::new();
        for p in &parameters {
            match d.get(p.to_string().as_str()) {
                Some(v) => out.push(v.clone()),
                None => return Ok(Dynamic::UNIT),
            }
        }
        Ok(out.into())
    }

    /// The truth behind a config's observations, when they are synthetic: the `[scaling]`
    /// table of `truth.toml` beside the config's observation file (the demo folder writes
    /// one), or an empty map for real observations (no such file).
    ///
    /// ```rhai
    /// let cfg = read_config(`${TEMP_DIR}/exp.toml`);
    /// demo_truth(cfg)    //=> #{}
    /// ```
    #[rhai_fn(name = "demo_truth", return_raw)]
    pub fn demo_truth_of(cfg: Map) -> RResult<Map> {
        let (c, _) = config_from_map(&cfg)?;
        let Some(obs) = c.observations else {
            return Ok(Map::new());
        };
        let truth = crate::demo::setup::truth_beside(&obs.file).map_err(|e| format!("{e:#}"))?;
        let m: Map = truth
            .into_iter()
            .map(|(k, v)| (k.as_str().into(), Dynamic::from_float(v)))
            .collect();
        Ok(m)
    }
}

/// The `config` module.
pub fn module() -> Module {
    exported_module!(config_fns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn example_map() -> Map {
        let c = Config::parse(crate::config::EXAMPLE, Path::new("/exp/hydro.toml")).unwrap();
        rhai::serde::to_dynamic(&c).unwrap().cast::<Map>()
    }

    fn err_of(edit: impl Fn(&mut Map)) -> String {
        let mut m = example_map();
        edit(&mut m);
        match config_from_map(&m) {
            Ok(_) => "no error".into(),
            Err(e) => crate::script::error::message(&e),
        }
    }

    fn section(m: &mut Map, name: &str) -> Map {
        m[name].clone().cast::<Map>()
    }

    #[test]
    fn a_config_map_converts_back_unchanged() {
        let c = Config::parse(crate::config::EXAMPLE, Path::new("/exp/hydro.toml")).unwrap();
        let mut m = example_map();
        m.insert("dry_run".into(), Dynamic::TRUE);
        let (back, dry) = config_from_map(&m).unwrap();
        assert!(dry);
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&c).unwrap()
        );
    }

    #[test]
    fn a_config_changed_in_a_script_is_checked_naming_the_key() {
        let years = |v: Dynamic| {
            move |m: &mut Map| {
                let mut a = section(m, "archive");
                a.insert("years".into(), v.clone());
                m.insert("archive".into(), a.into());
            }
        };
        let pair = |a: i64, b: i64| Dynamic::from_array(vec![a.into(), b.into()]);
        assert!(err_of(years(pair(20, 16)))
            .starts_with("cfg.archive.years = [20, 16]: the first year is after the last"));
        assert!(err_of(years("16-20".into()))
            .starts_with("cfg.archive.years: invalid type: string \"16-20\""));
        assert!(err_of(|m| {
            let mut b = section(m, "backend");
            b.insert("kind".into(), "slurm".into());
            m.insert("backend".into(), b.into());
        })
        .starts_with("cfg.backend.kind = 'slurm': use local, cime or none"));
        assert!(err_of(|m| {
            let mut e = section(m, "experiment");
            e.insert("sead".into(), Dynamic::from(1_i64));
            m.insert("experiment".into(), e.into());
        })
        .starts_with("cfg.experiment.sead: unknown key 'sead' (did you mean 'seed'?"));
        assert!(err_of(|m| {
            let mut a = section(m, "archive");
            a.remove("root");
            m.insert("archive".into(), a.into());
        })
        .starts_with("cfg.archive: missing field `root`"));
        assert!(err_of(|m| {
            m.insert("dry_run".into(), "yes".into());
        })
        .starts_with("cfg.dry_run must be true or false, not string"));
        assert!(err_of(|m| {
            let mut e = section(m, "experiment");
            e.insert("name".into(), Dynamic::from(0..3_i64));
            m.insert("experiment".into(), e.into());
        })
        .starts_with("cfg.experiment.name is Range: a config value is"));
    }

    #[test]
    fn options_are_checked_against_the_known_ones() {
        let known: Known = vec![
            ("config".into(), Some("FILE".into())),
            ("dry-run".into(), None),
        ];
        let opts = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            check_options(&super::super::options_map(&args), &known)
        };
        assert_eq!(opts(&["--config", "a.toml", "--dry-run"]), Ok(()));
        assert_eq!(
            opts(&["--confg", "a.toml"]).unwrap_err(),
            "unknown option --confg: did you mean --config? (known options: --config FILE, \
             --dry-run)"
        );
        // too far from every known option for a guess
        assert_eq!(
            opts(&["--verbose"]).unwrap_err(),
            "unknown option --verbose (known options: --config FILE, --dry-run)"
        );
        assert!(opts(&["a.toml"])
            .unwrap_err()
            .starts_with("argument 'a.toml' is not an option"));
        assert_eq!(
            check_options(&Map::new(), &[]),
            Ok(()),
            "no options, none known"
        );
        let mut m = Map::new();
        m.insert("x".into(), Dynamic::TRUE);
        assert_eq!(
            check_options(&m, &[]).unwrap_err(),
            "unknown option --x (this script takes no options)"
        );
    }
}
