//! The experiment config (contract section 1): a TOML file every stage script reads. Paths
//! are resolved relative to the file's folder; types and ranges are checked; an unknown key
//! is an error naming it, its section, the line, and the nearest known key.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `[experiment]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Used in case names, file attributes and plot titles.
    pub name: String,
    /// Every random choice derives from it.
    #[serde(default)]
    pub seed: u64,
}

/// `[archive]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archive {
    /// CIME short-term archive root.
    pub root: PathBuf,
    /// Simulation years analysed, inclusive.
    pub years: [i64; 2],
    /// The fraction of a month's time that a case's samples must cover for the month to
    /// count, in (0, 1]; 1 (the default) = whole months only. Below 1, a month kept with
    /// partial coverage (e.g. the last month of hourly output one hour short) is the mean
    /// of the intervals present, and is reported.
    #[serde(default = "whole_months")]
    pub min_coverage: f64,
}

fn whole_months() -> f64 {
    1.0
}

/// `[cases]` and `[parameters]` (defined by the ensembles, which read them).
pub use crate::ensemble::from_config::{Cases, Parameters};

/// `[sensitivity]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensitivity {
    /// Output name -> expression over history variables.
    pub outputs: BTreeMap<String, String>,
}

/// One calibration variable: the observed and the model variable, and (one file per
/// variable, ILAMB style) where and how its observations are read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObsVariable {
    /// Variable in the observation file.
    pub obs: String,
    /// Model variable or expression.
    pub model: String,
    /// This variable's observation file, in place of `[observations] file` (relative to the
    /// config's folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// The month of the first step of this variable's file (`"2000-01"`), in place of
    /// `[observations] first_month`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_month: Option<String>,
    /// The observed variable's units, in place of the file's `units` attribute (a file
    /// without one, or CMIP's `kg m-2 s-1` of carbon: `units = "kgC m-2 s-1"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<String>,
}

/// `[observations]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observations {
    /// The observation file of every variable without its own `file`; may be omitted (then
    /// empty) when every variable names one.
    #[serde(default, skip_serializing_if = "path_is_empty")]
    pub file: PathBuf,
    /// Years matched to the analysed simulation years.
    pub years: [i64; 2],
    /// Years whose projections give sigma.
    pub sigma_years: Option<[i64; 2]>,
    /// Fraction of months a regridded cell must be valid in to enter the data mask.
    #[serde(default = "default_coverage")]
    pub min_coverage: f64,
    /// The month of the first step (`"2000-01"`) of files whose time dimension (`month`,
    /// `time`) has no coordinate variable; the steps are consecutive months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_month: Option<String>,
    /// How observations are put onto the model grid: `bilinear` (the default, the authors'
    /// choice) or `conservative` (area-weighted means over each model cell; lat/lon model
    /// grids only).
    #[serde(default)]
    pub regrid: crate::field::obs::Regrid,
    /// Calibration variable -> observed and model variable.
    pub variables: BTreeMap<String, ObsVariable>,
}

fn path_is_empty(p: &Path) -> bool {
    p.as_os_str().is_empty()
}

impl Observations {
    /// The observation file of a variable: its own `file`, else `[observations] file`.
    pub fn file_of<'a>(&'a self, v: &'a ObsVariable) -> &'a Path {
        v.file.as_deref().unwrap_or(&self.file)
    }

    /// How the observations of `[observations]` as a whole are read: `first_month` and
    /// `regrid`.
    pub fn read_options(&self) -> Result<crate::field::obs::ReadOptions> {
        let first_month = match &self.first_month {
            Some(m) => {
                Some(crate::field::obs::parse_month(m).context("[observations] first_month")?)
            }
            None => None,
        };
        Ok(crate::field::obs::ReadOptions {
            first_month,
            regrid: self.regrid,
            units: None,
        })
    }

    /// How the observations of a variable are read: its own `first_month` and `units`, else
    /// those of `[observations]`, and `[observations] regrid`.
    pub fn read_options_of(&self, v: &ObsVariable) -> Result<crate::field::obs::ReadOptions> {
        let mut o = self.read_options()?;
        if let Some(m) = &v.first_month {
            o.first_month = Some(
                crate::field::obs::parse_month(m)
                    .with_context(|| format!("variable {}: first_month", v.obs))?,
            );
        }
        o.units = v.units.clone();
        Ok(o)
    }
}

fn default_coverage() -> f64 {
    0.8
}

/// `[processed]` and its variables (defined by the EOF stage, which reads them).
pub use crate::eof::stage::{Processed, ProcessedVariable};

/// `[test_case]`: what the test case judges besides the calibration variables.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// Further variables (not calibrated on) -> observed and model variable, e.g.
    /// `FSH = { obs = "H", model = "FSH" }`; judged where the observation file has them.
    #[serde(default)]
    pub variables: BTreeMap<String, ObsVariable>,
}

/// `[emulator]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Emulator {
    /// EOF modes per variable.
    #[serde(default = "default_modes")]
    pub modes: usize,
}

fn default_modes() -> usize {
    3
}

/// `[calibration]`: how the calibration stages (06-08) use the emulators.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// The emulator used for calibration, in place of the one the emulator stage chooses by
    /// out-of-sample skill: a name for every variable (`emulator = "gp"`) or one per
    /// variable (`[calibration.emulator]` with `GPP = "gp"`; the variables left out are
    /// chosen by skill). Names: nn, nn_ensemble, gp, ridge, quadratic_ridge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator: Option<crate::emulate::choice::Named>,
}

/// `[backend]`: how runs are made (defined by the ensemble's backends, which read it).
pub use crate::ensemble::backend::Section as Backend;

/// `[output]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// The results folder.
    pub dir: PathBuf,
}

/// The whole experiment config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[experiment]`.
    pub experiment: Experiment,
    /// `[archive]`.
    pub archive: Archive,
    /// `[cases]`.
    pub cases: Cases,
    /// `[parameters]`.
    pub parameters: Parameters,
    /// `[sensitivity]`.
    pub sensitivity: Option<Sensitivity>,
    /// `[observations]`.
    pub observations: Option<Observations>,
    /// `[emulator]`.
    pub emulator: Option<Emulator>,
    /// `[processed]`: a post-processed ensemble in place of the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed: Option<Processed>,
    /// `[test_case]`.
    pub test_case: Option<TestCase>,
    /// `[calibration]`.
    #[serde(default)]
    pub calibration: Option<Calibration>,
    /// `[backend]`.
    pub backend: Backend,
    /// `[output]`.
    pub output: Output,
    /// The file it was read from (set by [`Config::load`]).
    #[serde(default)]
    pub path: PathBuf,
}

/// TOML text read into a serde type with errors naming the file, line and key (in
/// [`crate::toml_read`], below the modules whose sections it reads).
pub use crate::toml_read::from_toml;
#[cfg(test)]
use crate::toml_read::key_at;

/// A config value [`Config::check`] refuses: its key (dotted, `archive.years`), the value as
/// written, and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyProblem {
    /// The key, its sections joined by dots: `archive.years`, `sensitivity.outputs.TF`.
    pub key: String,
    /// The value, as it would be written.
    pub value: Option<String>,
    /// What is wrong with it.
    pub problem: String,
}

impl KeyProblem {
    fn with_key(&self, key: String) -> String {
        match &self.value {
            Some(v) => format!("{key} = {v}: {}", self.problem),
            None => format!("{key} {}", self.problem),
        }
    }

    /// In the words of a config file: `[archive] years = [20, 16]: the first year is after
    /// the last`.
    pub fn in_file(&self) -> String {
        let key = match self.key.split_once('.') {
            // the section is everything but the last name
            Some(_) => {
                let (section, name) = self.key.rsplit_once('.').unwrap_or(("", &self.key));
                format!("[{section}] {name}")
            }
            None => format!("[{}]", self.key),
        };
        self.with_key(key)
    }

    /// In the words of a script whose config map is `var`: `cfg.archive.years = [20, 16]:
    /// the first year is after the last`.
    pub fn in_script(&self, var: &str) -> String {
        self.with_key(format!("{var}.{}", self.key))
    }
}

impl std::fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.in_file())
    }
}

impl Config {
    /// Reads and checks a config file; relative paths become relative to its folder.
    /// The config and the parameter spec it names are marked as inputs of this run, so
    /// that no write of the run replaces them.
    pub fn load(path: &Path) -> Result<Config> {
        let text = crate::files::read_text(path, "config")?;
        let cfg = Config::parse(&text, path)?;
        // a spec that exists must be a data file (a FIFO or device would never end)
        if cfg.parameters.spec.exists() || cfg.parameters.spec.is_symlink() {
            crate::files::check_input(&cfg.parameters.spec, "parameter spec")
                .with_context(|| format!("config {}: [parameters] spec", path.display()))?;
        }
        crate::provenance::config_read(&cfg.path, &text);
        crate::files::mark_input(&cfg.parameters.spec);
        Ok(cfg)
    }

    /// Parses config text as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let mut cfg: Config = from_toml(text, path)?;
        cfg.path = path.to_path_buf();
        cfg.check()
            .map_err(|p| anyhow::anyhow!(p.in_file()))
            .with_context(|| format!("config {}", path.display()))?;
        let base = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // absolute, so that case folders and archives mean the same from any folder
        let base = std::path::absolute(&base).unwrap_or(base);
        cfg.resolve(&base);
        Ok(cfg)
    }

    /// Checks the values serde cannot: year ranges, names, fractions, counts, the backend
    /// kind, the sensitivity expressions. The one check of a config, whether read from a file
    /// ([`Config::parse`]) or changed in a script; the problem names its key.
    pub fn check(&self) -> std::result::Result<(), KeyProblem> {
        let problem = |key: &str, value: Option<String>, problem: &str| KeyProblem {
            key: key.to_string(),
            value,
            problem: problem.to_string(),
        };
        let years = |key: &str, y: [i64; 2]| {
            if y[0] > y[1] {
                return Err(problem(
                    key,
                    Some(format!("[{}, {}]", y[0], y[1])),
                    "the first year is after the last",
                ));
            }
            if y[0] < 0 || y[1] > crate::archive::MAX_YEAR {
                return Err(problem(
                    key,
                    Some(format!("[{}, {}]", y[0], y[1])),
                    &format!("years must lie in 0-{}", crate::archive::MAX_YEAR),
                ));
            }
            Ok(())
        };
        years("archive.years", self.archive.years)?;
        if !(self.archive.min_coverage > 0.0 && self.archive.min_coverage <= 1.0) {
            return Err(problem(
                "archive.min_coverage",
                Some(self.archive.min_coverage.to_string()),
                "must be in (0, 1]: the fraction of a month's time its samples must cover for the month to count (1 = whole months only)",
            ));
        }
        if self.experiment.name.trim().is_empty() {
            return Err(problem("experiment.name", None, "is empty"));
        }
        if let Some(o) = &self.observations {
            years("observations.years", o.years)?;
            if let Some(s) = o.sigma_years {
                years("observations.sigma_years", s)?;
            }
            if !(o.min_coverage > 0.0 && o.min_coverage <= 1.0) {
                return Err(problem(
                    "observations.min_coverage",
                    Some(o.min_coverage.to_string()),
                    "must be in (0, 1]",
                ));
            }
            if o.variables.is_empty() {
                return Err(problem(
                    "observations.variables",
                    None,
                    "names no calibration variable",
                ));
            }
            let month = |key: &str, m: &Option<String>| match m {
                Some(m) => crate::field::obs::parse_month(m)
                    .map(|_| ())
                    .map_err(|e| problem(key, Some(format!("{m:?}")), &format!("{e:#}"))),
                None => Ok(()),
            };
            month("observations.first_month", &o.first_month)?;
            for (name, v) in &o.variables {
                month(
                    &format!("observations.variables.{name}.first_month"),
                    &v.first_month,
                )?;
                if path_is_empty(&o.file) && v.file.as_deref().is_none_or(path_is_empty) {
                    return Err(problem(
                        "observations.file",
                        None,
                        &format!(
                            "is missing: name one file for all variables, or give {name} its own (e.g. {name} = {{ obs = {:?}, model = {:?}, file = \"obs/{}.nc\" }})",
                            v.obs,
                            v.model,
                            v.obs.to_lowercase()
                        ),
                    ));
                }
            }
        }
        if let Some(t) = &self.test_case {
            for (name, v) in &t.variables {
                let own = [
                    ("file", v.file.is_some()),
                    ("first_month", v.first_month.is_some()),
                    ("units", v.units.is_some()),
                ];
                if let Some((key, _)) = own.iter().find(|x| x.1) {
                    return Err(problem(
                        &format!("test_case.variables.{name}.{key}"),
                        None,
                        "is not read: the test case reads its further variables from [observations] file with [observations] first_month (own files, first months and units are for calibration variables in [observations.variables])",
                    ));
                }
            }
        }
        if let Some(p) = &self.processed {
            if p.variables.is_empty() {
                return Err(problem(
                    "processed.variables",
                    None,
                    "names no calibration variable",
                ));
            }
            for (name, v) in &p.variables {
                if v.u_obs.is_some() != v.sigma.is_some() {
                    return Err(problem(
                        &format!("processed.variables.{name}"),
                        None,
                        "gives one of u_obs and sigma: give both (the observations' targets), or neither (targets from [observations])",
                    ));
                }
                if v.u_obs.is_some() && v.pcs.is_none() {
                    return Err(problem(
                        &format!("processed.variables.{name}"),
                        None,
                        "gives u_obs without pcs: the PCs u_obs was projected with fix each mode's sign (e.g. the saved *_SVD_3modes.npy)",
                    ));
                }
                if v.u_obs.is_none() && self.observations.is_none() {
                    return Err(problem(
                        &format!("processed.variables.{name}"),
                        None,
                        "needs u_obs and sigma, or an [observations] section",
                    ));
                }
            }
        }
        if let Some(s) = &self.sensitivity {
            for (name, e) in &s.outputs {
                if let Err(err) = crate::field::expr::parse(e) {
                    return Err(problem(
                        &format!("sensitivity.outputs.{name}"),
                        Some(format!("{e:?}")),
                        &format!("{err:#}"),
                    ));
                }
            }
        }
        if let Some(e) = self.emulator.as_ref().filter(|e| e.modes == 0) {
            return Err(problem(
                "emulator.modes",
                Some(e.modes.to_string()),
                "must be at least 1",
            ));
        }
        if let Some(named) = self.calibration.as_ref().and_then(|c| c.emulator.as_ref()) {
            use crate::emulate::choice::{check_emulator, nearest, Named};
            let mut vars: Vec<&str> = Vec::new();
            for v in self
                .observations
                .iter()
                .flat_map(|o| o.variables.keys())
                .chain(self.processed.iter().flat_map(|p| p.variables.keys()))
            {
                if !vars.contains(&v.as_str()) {
                    vars.push(v);
                }
            }
            let names: Vec<(String, &String)> = match named {
                Named::All(n) => vec![("calibration.emulator".into(), n)],
                Named::PerVariable(m) => m
                    .iter()
                    .map(|(v, n)| (format!("calibration.emulator.{v}"), n))
                    .collect(),
            };
            for (key, n) in names {
                if let Err(e) = check_emulator(n) {
                    return Err(problem(&key, Some(format!("{n:?}")), &e.to_string()));
                }
            }
            if let Named::PerVariable(m) = named {
                for (v, n) in m {
                    if !vars.is_empty() && !vars.contains(&v.as_str()) {
                        return Err(problem(
                            &format!("calibration.emulator.{v}"),
                            Some(format!("{n:?}")),
                            &format!(
                                "'{v}' is not a calibration variable (did you mean '{}'? variables: {})",
                                nearest(v, &vars),
                                vars.join(", ")
                            , v = crate::format::printable(v)),
                        ));
                    }
                }
            }
        }
        if self.cases.ppe_members == Some(0) {
            return Err(problem(
                "cases.ppe_members",
                Some("0".into()),
                "must be at least 1",
            ));
        }
        if let Some(n) = self
            .cases
            .ppe_members
            .filter(|n| *n > crate::ensemble::design::MAX_MEMBERS)
        {
            return Err(problem(
                "cases.ppe_members",
                Some(n.to_string()),
                &format!(
                    "must be at most {} (the largest design clmtune makes)",
                    crate::ensemble::design::MAX_MEMBERS
                ),
            ));
        }
        if let Err(why) = crate::ensemble::backend::kind(&self.backend.kind) {
            return Err(problem(
                "backend.kind",
                Some(format!(
                    "'{k}'",
                    k = crate::format::printable(&self.backend.kind)
                )),
                &why,
            ));
        }
        if let Some(p) = self.backend.poll.filter(|p| !(*p > 0.0 && *p <= 86400.0)) {
            return Err(problem(
                "backend.poll",
                Some(format!("{p:?}")),
                "must be a positive number of seconds, at most 86400 (one day)",
            ));
        }
        if self.backend.parallel == 0 {
            return Err(problem(
                "backend.parallel",
                Some("0".into()),
                "must be at least 1",
            ));
        }
        Ok(())
    }

    fn resolve(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.archive.root);
        fix(&mut self.parameters.spec);
        fix(&mut self.output.dir);
        for p in [
            &mut self.cases.ppe_design,
            &mut self.cases.ppe_test_design,
            &mut self.backend.ctsm_root,
            &mut self.backend.base_case,
            &mut self.backend.cases_dir,
        ]
        .into_iter()
        .flatten()
        {
            fix(p);
        }
        if let Some(o) = &mut self.observations {
            if !path_is_empty(&o.file) {
                fix(&mut o.file);
            }
            for v in o.variables.values_mut() {
                if let Some(f) = &mut v.file {
                    fix(f);
                }
            }
        }
        if let Some(p) = &mut self.processed {
            fix(&mut p.design);
            for v in p.variables.values_mut() {
                fix(&mut v.file);
                fix(&mut v.default);
                for q in [&mut v.u_obs, &mut v.sigma, &mut v.pcs]
                    .into_iter()
                    .flatten()
                {
                    fix(q);
                }
            }
        }
    }
}

/// The contract's example config, used by tests and doc examples.
pub const EXAMPLE: &str = include_str!("config_example.toml");

/// The sections of the config an ensemble reads.
impl From<&Config> for crate::ensemble::from_config::Source {
    fn from(cfg: &Config) -> Self {
        crate::ensemble::from_config::Source {
            path: cfg.path.clone(),
            experiment: cfg.experiment.name.clone(),
            seed: cfg.experiment.seed,
            archive_root: cfg.archive.root.clone(),
            years: cfg.archive.years,
            min_coverage: cfg.archive.min_coverage,
            cases: cfg.cases.clone(),
            parameters: cfg.parameters.clone(),
            backend: cfg.backend.clone(),
            output_dir: cfg.output.dir.clone(),
        }
    }
}

impl crate::ensemble::Settings {
    /// The settings of an experiment config and its parameter spec.
    pub fn from_config(cfg: &Config, spec: &crate::ensemble::Spec, dry_run: bool) -> Self {
        Self::from_source(&cfg.into(), spec, dry_run)
    }
}

/// The EOF stage's settings made from a config here, above the stage, so that the stage
/// never names the config.
mod eof_settings {
    use super::{Config, Processed};
    use crate::eof::stage::{Settings, VariableSpec};
    use crate::field::obs::ReadOptions;
    use anyhow::{bail, Context, Result};

    impl Settings {
        /// The stage settings of an experiment config: `[emulator] modes`, `[archive]`,
        /// `[observations]` (sigma years default to the observed years).
        pub fn from_config(cfg: &Config) -> Result<Settings> {
            if let Some(p) = &cfg.processed {
                return Settings::from_processed(cfg, p);
            }
            let o = cfg.observations.as_ref().with_context(|| {
                format!(
                    "config {}: the EOF stage needs an [observations] section",
                    cfg.path.display()
                )
            })?;
            if o.variables.is_empty() {
                bail!(
                    "config {}: [observations.variables] is empty",
                    cfg.path.display()
                );
            }
            let ctx = || format!("config {}", cfg.path.display());
            let modes = cfg.emulator.as_ref().map(|e| e.modes).unwrap_or(3);
            let sigma = o.sigma_years.unwrap_or(o.years);
            Ok(Settings {
                modes,
                weighting: "area".into(),
                centre: true,
                archive_root: cfg.archive.root.clone(),
                years: (cfg.archive.years[0], cfg.archive.years[1]),
                archive_min_coverage: cfg.archive.min_coverage,
                obs_file: o.file.clone(),
                obs_options: o.read_options().context(ctx())?,
                obs_years: (o.years[0], o.years[1]),
                sigma_years: (sigma[0], sigma[1]),
                min_coverage: o.min_coverage,
                variables: o
                    .variables
                    .iter()
                    .map(|(k, v)| {
                        Ok(VariableSpec {
                            name: k.clone(),
                            obs: v.obs.clone(),
                            model: v.model.clone(),
                            obs_file: v.file.clone(),
                            obs_options: o.read_options_of(v).context(ctx())?,
                        })
                    })
                    .collect::<Result<_>>()?,
                processed: None,
            })
        }

        /// The settings of a config whose `[processed]` section replaces the archive: the
        /// variables of `[processed.variables]`; without weighting or centring when the fields
        /// are already anomalies; observations from `[observations]` where a variable has no
        /// `u_obs`/`sigma`.
        fn from_processed(cfg: &Config, p: &Processed) -> Result<Settings> {
            let o = cfg.observations.as_ref();
            let modes = cfg.emulator.as_ref().map(|e| e.modes).unwrap_or(3);
            let years = o.map(|o| o.years).unwrap_or(cfg.archive.years);
            let sigma = o.and_then(|o| o.sigma_years).unwrap_or(years);
            let mut variables = Vec::new();
            for (k, v) in &p.variables {
                let (obs, obs_file, obs_options) =
                match (&v.u_obs, o.and_then(|o| o.variables.get(k).map(|ov| (o, ov)))) {
                    (Some(_), _) => (String::new(), None, ReadOptions::default()),
                    (None, Some((o, ov))) => (
                        ov.obs.clone(),
                        ov.file.clone(),
                        o.read_options_of(ov)
                            .with_context(|| format!("config {}", cfg.path.display()))?,
                    ),
                    (None, None) => bail!(
                        "config {}: [processed.variables] {k} has no u_obs and sigma, and [observations.variables] has no {k}",
                        cfg.path.display()
                    ),
                };
                variables.push(VariableSpec {
                    name: k.clone(),
                    obs,
                    model: v.var.clone().unwrap_or_else(|| k.clone()),
                    obs_file,
                    obs_options,
                });
            }
            Ok(Settings {
                modes,
                weighting: if p.anomalies { "none" } else { "area" }.into(),
                centre: !p.anomalies,
                archive_root: cfg.archive.root.clone(),
                years: (cfg.archive.years[0], cfg.archive.years[1]),
                archive_min_coverage: cfg.archive.min_coverage,
                obs_file: o.map(|o| o.file.clone()).unwrap_or_default(),
                obs_options: match o {
                    Some(o) => o
                        .read_options()
                        .with_context(|| format!("config {}", cfg.path.display()))?,
                    None => ReadOptions::default(),
                },
                obs_years: (years[0], years[1]),
                sigma_years: (sigma[0], sigma[1]),
                min_coverage: o.map(|o| o.min_coverage).unwrap_or(0.8),
                variables,
                processed: Some(p.clone()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_example_reads_and_paths_resolve() {
        let c = Config::parse(EXAMPLE, Path::new("/exp/hydro.toml")).unwrap();
        assert_eq!(c.experiment.seed, 42);
        assert_eq!(c.archive.root, Path::new("/exp/archive"));
        assert_eq!(
            c.cases.ppe_design.as_deref(),
            Some(Path::new("/exp/design/ppe1.csv"))
        );
        assert_eq!(
            c.observations.as_ref().unwrap().file,
            Path::new("/exp/obs/fluxnet_mte.nc")
        );
        assert_eq!(c.observations.as_ref().unwrap().min_coverage, 0.8);
        assert_eq!(
            c.sensitivity.as_ref().unwrap().outputs["TF"],
            "QVEGT / QFLX_EVAP_TOT"
        );
        assert_eq!(c.output.dir, Path::new("/exp/results"));
    }

    #[test]
    fn unknown_keys_name_the_nearest_and_the_line() {
        let bad = EXAMPLE.replace("seed = 42", "sead = 42");
        let e = Config::parse(&bad, Path::new("hydro.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("hydro.toml:3: unknown key 'sead' (did you mean 'seed'?"),
            "{e}"
        );
        let bad = EXAMPLE.replace("[emulator]", "[emulater]");
        let e = Config::parse(&bad, Path::new("hydro.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown key 'emulater' (did you mean 'emulator'?"),
            "{e}"
        );
    }

    #[test]
    fn every_unknown_key_is_reported_at_once_with_close_suggestions_only() {
        // issue 28: two unknown keys in two sections, one near a known key, one far from all
        let bad = EXAMPLE
            .replace("seed = 42", "sead = 42")
            .replace("[cases]\n", "[cases]\nhist_fincl = [\"GPP\"]\n");
        let e = Config::parse(&bad, Path::new("hydro.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("hydro.toml: 2 unknown keys:\n"), "{e}");
        assert!(
            e.contains("hydro.toml:3: unknown key 'sead' (did you mean 'seed'?"),
            "{e}"
        );
        assert!(
            e.contains("unknown key 'hist_fincl' (known keys here: default,"),
            "{e}"
        );
        assert!(!e.contains("did you mean 'kind'"), "{e}");
        // serde's Rust type words become a reader's
        let e = Config::parse(
            &EXAMPLE.replace("ppe_members = 100", "ppe_members = -1"),
            Path::new("hydro.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("expected a whole number (0 or more)"), "{e}");
        assert!(!e.contains("usize"), "{e}");
        // a size beyond any design is refused before anything is allocated
        let e = Config::parse(
            &EXAMPLE.replace("ppe_members = 100", "ppe_members = 9223372036854775807"),
            Path::new("hydro.toml"),
        )
        .unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("[cases] ppe_members = 9223372036854775807: must be at most 1000000"),
            "{e}"
        );
    }

    #[test]
    fn wrong_types_and_ranges_are_errors() {
        let e = Config::parse(
            &EXAMPLE.replace("years = [16, 20]", "years = \"16-20\""),
            Path::new("h.toml"),
        )
        .unwrap_err()
        .to_string();
        // issue 18 item 15: the key is named, not only the line
        assert!(
            e.starts_with("h.toml:7: archive.years: invalid type"),
            "{e}"
        );
        assert_eq!(
            key_at("[a.b]\nx = 1\n[c]\n  y = [1]", 22).as_deref(),
            Some("c.y")
        );
        assert_eq!(key_at("top = 1\n", 6).as_deref(), Some("top"));
        assert_eq!(key_at("[a]\n# no key here\n", 10), None);
        let e = format!(
            "{:#}",
            Config::parse(
                &EXAMPLE.replace("years = [16, 20]", "years = [20, 16]"),
                Path::new("h.toml")
            )
            .unwrap_err()
        );
        assert!(
            e.contains("[archive] years = [20, 16]: the first year is after the last"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            Config::parse(
                &EXAMPLE.replace("kind = \"local\"", "kind = \"slurm\""),
                Path::new("h.toml")
            )
            .unwrap_err()
        );
        assert!(e.contains("kind = 'slurm': use local, cime or none"), "{e}");
        // issue 18: a huge year range and a poll no Duration holds are refused by the check
        let e = format!(
            "{:#}",
            Config::parse(
                &EXAMPLE.replace("years = [16, 20]", "years = [1, 1000000000]"),
                Path::new("h.toml")
            )
            .unwrap_err()
        );
        assert!(
            e.contains("[archive] years = [1, 1000000000]: years must lie in 0-9999"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            Config::parse(
                &EXAMPLE.replace("[backend]", "[backend]\npoll = 1e300"),
                Path::new("h.toml")
            )
            .unwrap_err()
        );
        assert!(
            e.contains("[backend] poll = 1e300: must be a positive number"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            Config::parse(
                &EXAMPLE.replace("\"QVEGT / QFLX_EVAP_TOT\"", "\"QVEGT / \""),
                Path::new("h.toml")
            )
            .unwrap_err()
        );
        assert!(
            e.contains("[sensitivity.outputs] TF = \"QVEGT / \": expression 'QVEGT / '"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            Config::parse(
                &EXAMPLE.replace(
                    "sigma_years = [1982, 2008]",
                    "sigma_years = [1982, 2008]\nmin_coverage = 1.5"
                ),
                Path::new("h.toml")
            )
            .unwrap_err()
        );
        assert!(
            e.contains("config h.toml: [observations] min_coverage = 1.5: must be in (0, 1]"),
            "{e}"
        );
    }

    #[test]
    fn archive_min_coverage_defaults_to_whole_months_and_is_checked() {
        let c = Config::parse(EXAMPLE, Path::new("h.toml")).unwrap();
        assert_eq!(c.archive.min_coverage, 1.0);
        let with = |v: &str| {
            Config::parse(
                &EXAMPLE.replace(
                    "years = [16, 20]",
                    &format!("years = [16, 20]\nmin_coverage = {v}"),
                ),
                Path::new("h.toml"),
            )
        };
        assert_eq!(with("0.95").unwrap().archive.min_coverage, 0.95);
        assert_eq!(with("1").unwrap().archive.min_coverage, 1.0);
        for bad in ["nan", "0", "-0.5", "1.01", "inf"] {
            let e = format!("{:#}", with(bad).unwrap_err());
            assert!(
                e.contains("config h.toml: [archive] min_coverage = ")
                    && e.contains("must be in (0, 1]"),
                "{bad}: {e}"
            );
        }
        // a script's config map: the same check names the script's key
        let mut c = c;
        c.archive.min_coverage = f64::NAN;
        assert!(c
            .check()
            .unwrap_err()
            .in_script("cfg")
            .starts_with("cfg.archive.min_coverage = NaN: must be in (0, 1]"));
    }

    #[test]
    fn observation_files_per_variable_and_first_month() {
        // ILAMB style: no [observations] file, one per variable (relative to the config)
        let text = EXAMPLE
            .replace("file = \"obs/fluxnet_mte.nc\"\n", "first_month = \"2000-01\"\nregrid = \"conservative\"\n")
            .replace(
                "GPP = { obs = \"GPP\", model = \"GPP\" }",
                "GPP = { obs = \"gpp\", model = \"GPP\", file = \"obs/gpp_0.5x0.5.nc\", units = \"kgC m-2 s-1\" }",
            )
            .replace(
                "LHF = { obs = \"LE\", model = \"EFLX_LH_TOT\" }",
                "LHF = { obs = \"hfls\", model = \"EFLX_LH_TOT\", file = \"/data/hfls.nc\", first_month = \"1982-01\" }",
            );
        let c = Config::parse(&text, Path::new("/exp/hydro.toml")).unwrap();
        let o = c.observations.as_ref().unwrap();
        assert!(o.file.as_os_str().is_empty());
        assert_eq!(o.regrid, crate::field::obs::Regrid::Conservative);
        let (g, l) = (&o.variables["GPP"], &o.variables["LHF"]);
        assert_eq!(o.file_of(g), Path::new("/exp/obs/gpp_0.5x0.5.nc"));
        assert_eq!(o.file_of(l), Path::new("/data/hfls.nc"));
        let go = o.read_options_of(g).unwrap();
        assert_eq!(go.first_month, Some((2000, 1)));
        assert_eq!(go.units.as_deref(), Some("kgC m-2 s-1"));
        assert_eq!(go.regrid, crate::field::obs::Regrid::Conservative);
        assert_eq!(o.read_options_of(l).unwrap().first_month, Some((1982, 1)));
        // the one-file example: its file for every variable, default options
        let c = Config::parse(EXAMPLE, Path::new("/exp/hydro.toml")).unwrap();
        let o = c.observations.as_ref().unwrap();
        assert_eq!(
            o.file_of(&o.variables["GPP"]),
            Path::new("/exp/obs/fluxnet_mte.nc")
        );
        assert!(o.read_options_of(&o.variables["GPP"]).unwrap().is_default());
    }

    #[test]
    fn the_calibration_emulator_is_a_known_name() {
        let e = |text: &str| {
            format!(
                "{:#}",
                Config::parse(text, Path::new("h.toml")).unwrap_err()
            )
        };
        let with = |section: &str| EXAMPLE.replace("[backend]", &format!("{section}\n[backend]"));
        let c = Config::parse(
            &with("[calibration]\nemulator = \"gp\""),
            Path::new("h.toml"),
        )
        .unwrap();
        let named = c.calibration.unwrap().emulator.unwrap();
        assert_eq!(named.for_variable("LHF"), Some("gp"));
        let c = Config::parse(
            &with("[calibration.emulator]\nGPP = \"ridge\""),
            Path::new("h.toml"),
        )
        .unwrap();
        let named = c.calibration.unwrap().emulator.unwrap();
        assert_eq!(
            (named.for_variable("GPP"), named.for_variable("LHF")),
            (Some("ridge"), None)
        );
        assert!(Config::parse(EXAMPLE, Path::new("h.toml"))
            .unwrap()
            .calibration
            .is_none());
        // an unknown name: the error names it and the nearest known one
        let msg = e(&with("[calibration]\nemulator = \"gpp\""));
        assert!(
            msg.contains("[calibration] emulator = \"gpp\": unknown emulator 'gpp' (did you mean 'gp'? known: nn, nn_ensemble, gp, ridge, quadratic_ridge)"),
            "{msg}"
        );
        let msg = e(&with("[calibration.emulator]\nGPP = \"nn_ensmble\""));
        assert!(
            msg.contains("[calibration.emulator] GPP = \"nn_ensmble\": unknown emulator 'nn_ensmble' (did you mean 'nn_ensemble'?"),
            "{msg}"
        );
        let msg = e(&with("[calibration.emulator]\nGP = \"gp\""));
        assert!(
            msg.contains("[calibration.emulator] GP = \"gp\": 'GP' is not a calibration variable (did you mean 'GPP'? variables: GPP, LHF)"),
            "{msg}"
        );
        let msg = e(&with("[calibration]\nemulatr = \"gp\""));
        assert!(
            msg.contains("unknown key 'emulatr' (did you mean 'emulator'?"),
            "{msg}"
        );
    }

    #[test]
    fn observation_keys_are_checked() {
        let e = |text: &str| {
            format!(
                "{:#}",
                Config::parse(text, Path::new("h.toml")).unwrap_err()
            )
        };
        // no file at all for a variable
        let msg = e(&EXAMPLE.replace("file = \"obs/fluxnet_mte.nc\"\n", ""));
        assert!(
            msg.contains("[observations] file is missing: name one file for all variables, or give GPP its own")
                && msg.contains("file = \"obs/gpp.nc\""),
            "{msg}"
        );
        let msg = e(&EXAMPLE.replace(
            "sigma_years = [1982, 2008]",
            "sigma_years = [1982, 2008]\nfirst_month = \"2000-13\"",
        ));
        assert!(
            msg.contains("[observations] first_month = \"2000-13\": '2000-13' is not a month: write it as YYYY-MM"),
            "{msg}"
        );
        let msg = e(&EXAMPLE.replace(
            "GPP = { obs = \"GPP\", model = \"GPP\" }",
            "GPP = { obs = \"GPP\", model = \"GPP\", first_month = \"Jan 2000\" }",
        ));
        assert!(
            msg.contains("[observations.variables.GPP] first_month = \"Jan 2000\""),
            "{msg}"
        );
        let msg = e(&EXAMPLE.replace(
            "sigma_years = [1982, 2008]",
            "sigma_years = [1982, 2008]\nregrid = \"nearest\"",
        ));
        assert!(
            msg.contains("observations.regrid")
                && msg.contains("bilinear")
                && msg.contains("conservative"),
            "{msg}"
        );
        let msg = e(&EXAMPLE.replace(
            "FSH = { obs = \"H\", model = \"FSH\" }",
            "FSH = { obs = \"H\", model = \"FSH\", file = \"obs/h.nc\" }",
        ));
        assert!(
            msg.contains("[test_case.variables.FSH] file is not read"),
            "{msg}"
        );
    }
}
