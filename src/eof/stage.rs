//! The EOF stage as one object (Dagon et al. 2020, sections 3.1 and 4.1): for each
//! calibration variable, the EOF analysis of the perturbed-parameter ensemble (Eq. 3), the
//! PCs the emulators learn joined to the members' scalings, the second ensemble's projected
//! PCs (out-of-sample test data), the projection of the observations (U_obs, Eq. 5), sigma
//! per mode (the standard deviation of the projections of single observed years, Eq. 6), the
//! variance fractions (lambda) and the default run's projection.
//!
//! [`EofStage::run`] reads the archive and the observations and does all the work;
//! [`EofStage::save`] writes the contract's `eof/` files and [`EofStage::load`] reads such a
//! folder back, identical, without touching the archive.

use super::{Eof, Weighting};
use crate::archive;
use crate::array::csv::{fmt_number, write_records};
use crate::ensemble::failed::Dropped;
use crate::field::obs::ReadOptions;
use crate::field::{obs, read, Field, Grid};
use anyhow::{bail, Context, Result};
use ndarray::{Array1, Array2, ArrayD, Axis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn yes() -> bool {
    true
}

fn whole_months() -> f64 {
    1.0
}

fn is_whole_months(x: &f64) -> bool {
    *x == 1.0
}

/// One calibration variable: its observed and model names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableSpec {
    /// The calibration variable's name (e.g. `GPP`, `LHF`).
    pub name: String,
    /// The observed variable in the observation file.
    pub obs: String,
    /// The model expression over history variables.
    pub model: String,
    /// Its own observation file (one file per variable), else [`Settings::obs_file`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obs_file: Option<PathBuf>,
    /// How its observations are read (first month, regridding, units).
    #[serde(default, skip_serializing_if = "ReadOptions::is_default")]
    pub obs_options: ReadOptions,
}

/// Everything the stage's numbers depend on besides the runs (from the experiment config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// EOF modes kept per variable.
    pub modes: usize,
    /// Cell weighting of the SVD: `area` (the authors'), `sqrt_area` or `none`.
    pub weighting: String,
    /// Whether the members are centred on their mean before the SVD (false for fields that
    /// are already anomalies).
    #[serde(default = "yes")]
    pub centre: bool,
    /// The CLM archive the runs were read from.
    pub archive_root: PathBuf,
    /// Simulation years analysed (inclusive).
    pub years: (i64, i64),
    /// `[archive] min_coverage`: the fraction of a month's time a run's samples must cover
    /// for the month to count (1 = whole months only).
    #[serde(default = "whole_months", skip_serializing_if = "is_whole_months")]
    pub archive_min_coverage: f64,
    /// The observation file (of every variable without its own; empty when each has one).
    pub obs_file: PathBuf,
    /// How the observations of `obs_file` are read (`[observations] first_month`, `regrid`).
    #[serde(default, skip_serializing_if = "ReadOptions::is_default")]
    pub obs_options: ReadOptions,
    /// Observed years matched to the analysed simulation years (U_obs).
    pub obs_years: (i64, i64),
    /// Observed years whose single-year projections give sigma.
    pub sigma_years: (i64, i64),
    /// A cell enters the data mask if valid in at least this fraction of the months.
    pub min_coverage: f64,
    /// The calibration variables, in config order.
    pub variables: Vec<VariableSpec>,
    /// The post-processed ensemble the stage read instead of the archive, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed: Option<Processed>,
}

/// `[processed]`: a post-processed ensemble (per variable one file with a member dimension,
/// as NCAR distributes its CLM5 PPE and as Dagon et al. kept theirs) in place of the
/// archive, for the EOF stage and all that follows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Processed {
    /// The members' scalings in [0, 1]: a CSV file whose header names the parameters, or a
    /// numpy `.npy` file (members x parameters, columns in `[parameters] calibrate` order).
    pub design: PathBuf,
    /// The member dimension of the files (default: the first dimension that is not the
    /// grid's).
    pub member_dim: Option<String>,
    /// Whether the fields are already weighted anomalies (the authors' `*_forSVD` files):
    /// then the EOFs use no weighting and no centring. Default false: time means of each
    /// member, weighted and centred as from the archive.
    #[serde(default)]
    pub anomalies: bool,
    /// Calibration variable -> its files.
    pub variables: BTreeMap<String, ProcessedVariable>,
}

/// One variable of a `[processed]` ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessedVariable {
    /// The ensemble file: the variable with dims (member, lat, lon) or (member, cell).
    pub file: PathBuf,
    /// The variable's name in the files (default: the calibration variable's name).
    pub var: Option<String>,
    /// The default-parameter run: a file of the same layout without the member dimension.
    pub default: PathBuf,
    /// A 0/1 mask variable of the ensemble file: cells where it is 0 are not analysed.
    pub mask: Option<String>,
    /// The observations' projection onto the modes (Eq. 5), a `.npy` or CSV file of numbers,
    /// when the observations are not read from `[observations]`.
    pub u_obs: Option<PathBuf>,
    /// The standard deviation of the yearly projections (sigma of Eq. 6), with `u_obs`.
    pub sigma: Option<PathBuf>,
    /// The PCs (members x modes, `.npy` or CSV) the given `u_obs` belong with, e.g. the
    /// authors' `outputdata_GPP_SVD_3modes.npy`: a projection's sign follows its EOF's, so
    /// each mode's sign is matched to these, and they must agree (to 1e-5) with the PCs
    /// computed here. Needed with `u_obs`.
    pub pcs: Option<PathBuf>,
}

impl Settings {
    /// Every problem with the observation inputs the stage will read (for a dry run, so
    /// that a wrong file or variable is reported before the ensemble is read): each
    /// variable's file, variable, dimensions and years (observed and sigma years).
    pub fn check_inputs(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.processed.is_some() {
            return problems;
        }
        for v in &self.variables {
            let file = v.obs_file.as_deref().unwrap_or(&self.obs_file);
            let years = [
                ("observed years", self.obs_years),
                ("sigma years", self.sigma_years),
            ];
            if let Err(e) = crate::field::obs::check_obs(file, &v.obs, &years, &v.obs_options) {
                problems.push(format!("{}: {e:#}", v.name));
            }
        }
        problems
    }

    /// For a dry run: reads one complete case's time means of every calibration variable
    /// over the analysed years, as the stage will read every member (history variables,
    /// grid, units, months), so that a missing variable is reported before the ensemble is
    /// read.
    pub fn check_reading(&self, case: &str) -> Result<()> {
        let outputs: Vec<read::Output> = self
            .variables
            .iter()
            .map(|v| read::Output::new(&v.name, &v.model))
            .collect::<Result<_>>()?;
        read_runs(
            &self.archive_root,
            &[case.to_string()],
            &outputs,
            self.years,
            self.archive_min_coverage,
        )
        .map(|_| ())
    }

    /// The observation file of a calibration variable: its own, else [`Settings::obs_file`].
    pub fn obs_file_of<'a>(&'a self, v: &'a VariableSpec) -> &'a Path {
        v.obs_file.as_deref().unwrap_or(&self.obs_file)
    }

    /// The observations of variable `v` over the observed and the sigma years, regridded
    /// onto `grid` and converted to `units` (the model field's); errors name the variable,
    /// the observed variable and the file.
    fn observations(&self, v: &VariableSpec, grid: Arc<Grid>, units: &str) -> Result<Field> {
        let first = self.obs_years.0.min(self.sigma_years.0);
        let last = self.obs_years.1.max(self.sigma_years.1);
        let file = self.obs_file_of(v);
        obs::read_obs_with(file, &v.obs, Some((first, last)), grid, &v.obs_options)
            .and_then(|o| o.convert(units))
            .with_context(|| {
                format!(
                    "variable {}: observations {} in {}",
                    v.name,
                    v.obs,
                    file.display()
                )
            })
    }
}

/// The members of an ensemble: labels, cases and their scalings in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Runs {
    /// Ensemble name (`ppe`, `ppe_test`).
    pub name: String,
    /// Member labels (numbers for a Latin hypercube: 1, 2, ...).
    pub members: Vec<String>,
    /// Case names, one per member.
    pub cases: Vec<String>,
    /// Parameter names, the columns of `scalings`.
    pub parameters: Vec<String>,
    /// Scalings, members x parameters (NaN where a member keeps a default).
    pub scalings: Array2<f64>,
    /// Members of the ensemble left out because they failed (`[cases] failed = "drop"`).
    pub dropped: Vec<Dropped>,
}

impl Runs {
    /// The line saying which members were dropped, if any.
    pub fn dropped_note(&self) -> Option<String> {
        crate::ensemble::failed::note(&self.name, self.cases.len(), &self.dropped)
    }

    fn check(&self) -> Result<()> {
        let n = self.members.len();
        if self.cases.len() != n || self.scalings.nrows() != n {
            bail!(
                "ensemble {}: {} members, {} cases, {} rows of scalings",
                self.name,
                n,
                self.cases.len(),
                self.scalings.nrows()
            );
        }
        if self.scalings.ncols() != self.parameters.len() {
            bail!(
                "ensemble {}: {} parameters for {} columns of scalings",
                self.name,
                self.parameters.len(),
                self.scalings.ncols()
            );
        }
        Ok(())
    }
}

/// The stage's results for one calibration variable.
#[derive(Debug, Clone)]
pub struct VariableResult {
    /// The calibration variable.
    pub name: String,
    /// Units of the model field (and of the observations, converted to them).
    pub units: String,
    /// The EOF analysis of the perturbed-parameter ensemble.
    pub eof: Eof,
    /// PCs of the ensemble, members x modes (U's first columns): what the emulators learn.
    pub pcs: Array2<f64>,
    /// The second ensemble's maps projected onto the EOFs, members x modes.
    pub test_pcs: Option<Array2<f64>>,
    /// The observed mean of the observed years projected (Eq. 5), per mode.
    pub u_obs: Array1<f64>,
    /// The years of `u_years`.
    pub sigma_years: Vec<i64>,
    /// Each single observed year's mean projected, years x modes.
    pub u_years: Array2<f64>,
    /// Standard deviation (ddof 0) over the defined rows of `u_years`, per mode.
    pub sigma: Array1<f64>,
    /// Variance fraction of each kept mode.
    pub lambda: Array1<f64>,
    /// The default run's projection, per mode.
    pub u_default: Array1<f64>,
    /// RMSE of each ensemble member against the observed mean, as run.
    pub rmse_run: Array1<f64>,
    /// RMSE of each member rebuilt from the kept modes against the observed mean.
    pub rmse_modes: Array1<f64>,
    /// The default run's RMSE against the observed mean, as run and rebuilt from the kept
    /// modes (Fig. 6's "x"; NaN where the stage has no observed maps).
    pub rmse_default: (f64, f64),
}

/// The EOF stage's results: settings, the ensembles and one [`VariableResult`] per
/// calibration variable.
#[derive(Debug, Clone)]
pub struct EofStage {
    /// What made these numbers.
    pub settings: Settings,
    /// The grid of the EOF maps (lat/lon or 1-D).
    pub grid: Arc<Grid>,
    /// The perturbed-parameter ensemble (training data).
    pub ppe: Runs,
    /// The second, independent ensemble (out-of-sample test data), if configured.
    pub ppe_test: Option<Runs>,
    /// The default run's case.
    pub default_case: String,
    /// The results, one per calibration variable in settings order.
    pub variables: Vec<VariableResult>,
}

/// Standard deviation (ddof 0, as numpy's default) of each column over the rows where it is
/// defined; NaN with fewer than two defined rows.
fn nan_std_columns(a: &Array2<f64>) -> Array1<f64> {
    a.columns()
        .into_iter()
        .map(|c| {
            let v: Vec<f64> = c.iter().copied().filter(|x| x.is_finite()).collect();
            if v.len() < 2 {
                return f64::NAN;
            }
            let n = v.len() as f64;
            let m = v.iter().sum::<f64>() / n;
            (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n).sqrt()
        })
        .collect()
}

/// The maps of an ensemble field: (member, lat, lon) or (member, cell).
fn maps(f: &Field) -> Result<ArrayD<f64>> {
    let mut want = vec!["member".to_string()];
    want.extend(f.grid.dims());
    if f.dims != want {
        bail!(
            "field {}: expected ({}) maps, not ({})",
            f.name,
            want.join(", "),
            f.dims.join(", ")
        );
    }
    Ok(f.values.clone())
}

impl VariableResult {
    /// [`VariableResult::compute`] for every variable of `s` (field `k` of `ens`, `test`,
    /// `default` and `obs` is variable `k`'s), the variables on rayon's threads at once (each
    /// SVD runs on one thread: the EOF stage of a 1,500-member ensemble spends most of its
    /// time there); the results, and the first error, in the variables' order.
    pub fn compute_all(
        ens: &[Field],
        test: Option<&[Field]>,
        default: &[Field],
        obs: &[Field],
        s: &Settings,
    ) -> Result<Vec<VariableResult>> {
        use rayon::prelude::*;
        let n = s.variables.len();
        if ens.len() != n
            || default.len() != n
            || obs.len() != n
            || test.is_some_and(|t| t.len() != n)
        {
            bail!(
                "{n} variables, but {} ensemble fields, {} default-run fields and {} observed fields",
                ens.len(),
                default.len(),
                obs.len()
            );
        }
        let results: Vec<Result<VariableResult>> = s
            .variables
            .par_iter()
            .enumerate()
            .map(|(k, v)| {
                VariableResult::compute(
                    &v.name,
                    &ens[k],
                    test.map(|t| &t[k]),
                    &default[k],
                    &obs[k],
                    s,
                )
            })
            .collect();
        results.into_iter().collect()
    }

    /// The stage's numbers for one variable from fields already read: the ensemble's time
    /// means `ens` (member, lat, lon), the second ensemble's (if any), the default run's
    /// (one member), and the observations `obs` (time, lat, lon) on the model grid in the
    /// model's units, covering the observed and the sigma years.
    pub fn compute(
        name: &str,
        ens: &Field,
        test: Option<&Field>,
        default: &Field,
        obs: &Field,
        s: &Settings,
    ) -> Result<VariableResult> {
        let ctx = || format!("variable {name}");
        let stack = maps(ens).with_context(ctx)?;
        let target = obs
            .select_years(s.obs_years.0, s.obs_years.1)
            .with_context(ctx)?;
        let mask = obs::coverage_mask(&target, s.min_coverage).with_context(ctx)?;
        let weighting: Weighting = s.weighting.parse()?;
        let grid = &ens.grid;
        let eof = Eof::with_centring(
            &stack,
            &grid.shaped(&grid.area)?,
            Some(&grid.shaped(&mask)?),
            weighting,
            s.centre,
        )
        .with_context(ctx)?;
        let modes = s.modes;
        if modes == 0 || modes > eof.modes() {
            bail!(
                "variable {name}: [emulator] modes = {modes}, but the ensemble has {} modes ({} members)",
                eof.modes(),
                stack.shape()[0]
            );
        }
        let observed = target.time_mean()?.values;
        let u_obs = eof
            .project(&observed.clone().insert_axis(Axis(0)), modes)?
            .row(0)
            .to_owned();
        if u_obs.iter().any(|x| !x.is_finite()) {
            bail!(
                "variable {name}: the observed mean is missing at an analysed cell, so U_obs is undefined"
            );
        }
        let years = obs
            .select_years(s.sigma_years.0, s.sigma_years.1)
            .with_context(ctx)?
            .annual_means()?;
        let sigma_years: Vec<i64> = years.months.iter().map(|m| m.0).collect();
        let u_years = eof.project(&years.values, modes)?;
        let sigma = nan_std_columns(&u_years);
        let default_map = maps(default).with_context(ctx)?;
        let u_default = eof.project(&default_map, modes)?.row(0).to_owned();
        let rmse_default = (
            crate::metrics::rmse_maps(&default_map, &observed)?[0],
            crate::metrics::rmse_maps(
                &eof.reconstruct_from(&u_default.clone().insert_axis(Axis(0)))?,
                &observed,
            )?[0],
        );
        let test_pcs = match test {
            Some(t) => Some(eof.project(&maps(t).with_context(ctx)?, modes)?),
            None => None,
        };
        let lambda = eof
            .variance_fraction()
            .slice(ndarray::s![..modes])
            .to_owned();
        let rmse_run = crate::metrics::rmse_maps(&stack, &observed)?;
        let rmse_modes = crate::metrics::rmse_maps(&eof.reconstruct(modes)?, &observed)?;
        Ok(VariableResult {
            name: name.to_string(),
            units: ens.units.clone(),
            pcs: eof.pcs(modes)?,
            eof,
            test_pcs,
            u_obs,
            sigma_years,
            u_years,
            sigma,
            lambda,
            u_default,
            rmse_run,
            rmse_modes,
            rmse_default,
        })
    }
}

/// PCs saved by another tool: members x modes from a `.npy` or text file of `members`
/// rows.
fn read_pcs(path: &Path, members: usize) -> Result<Array2<f64>> {
    let x = crate::field::processed::read_numbers(path)?;
    if members == 0 || x.is_empty() || x.len() % members != 0 {
        bail!(
            "{}: {} numbers are not {members} members x modes",
            path.display(),
            x.len()
        );
    }
    Ok(Array2::from_shape_vec((members, x.len() / members), x)?)
}

/// The scalings of a design file, members x `parameters`: a CSV file whose header names
/// the parameters (any order; a `member` or `case` column is ignored), or a `.npy` file
/// whose columns are the parameters in order.
pub fn read_design(path: &Path, parameters: &[String]) -> Result<Array2<f64>> {
    let a = if path.extension().is_some_and(|e| e == "npy") {
        let a = crate::npy::read_npy(path)?;
        if a.ndim() != 2 || a.shape()[1] != parameters.len() {
            bail!(
                "{}: a design of shape {:?}; expected members x {} parameters ({})",
                path.display(),
                a.shape(),
                parameters.len(),
                parameters.join(", ")
            );
        }
        a.into_dimensionality::<ndarray::Ix2>()?
    } else {
        let t = crate::table::Table::read(path)?;
        let mut a = Array2::zeros((t.len(), parameters.len()));
        for (j, p) in parameters.iter().enumerate() {
            let col = t
                .numbers(p)
                .with_context(|| format!("design {}", path.display()))?;
            for (i, x) in col.iter().enumerate() {
                a[[i, j]] = *x;
            }
        }
        a
    };
    if a.nrows() < 2 {
        bail!("{}: a design needs at least 2 members", path.display());
    }
    if let Some(((i, j), x)) = a
        .indexed_iter()
        .find(|(_, x)| !(x.is_finite() && (0.0..=1.0).contains(*x)))
    {
        bail!(
            "{}: member {}, {}: scaling {x} is not in [0, 1]",
            path.display(),
            i + 1,
            parameters[j]
        );
    }
    Ok(a)
}

/// The time means of the analysed years of every case, one field per output: how the
/// stage reads an ensemble from the archive (cases found keeping the months covered at
/// least `min_coverage`, then [`read::read_ensemble`]); `clmtune bench` times it.
pub fn read_runs(
    root: &Path,
    cases: &[String],
    outputs: &[read::Output],
    years: (i64, i64),
    min_coverage: f64,
) -> Result<Vec<Field>> {
    let found = archive::find_cases_covering(root, cases, min_coverage)?;
    read::read_ensemble(&found, outputs, years, true)
}

impl EofStage {
    /// Runs the stage: reads the time means of the analysed years of the ensemble, the
    /// second ensemble (if given) and the default run from the archive, and the observations
    /// regridded to the model grid, then computes every variable's results.
    pub fn run(
        settings: Settings,
        ppe: Runs,
        ppe_test: Option<Runs>,
        default_case: &str,
    ) -> Result<EofStage> {
        ppe.check()?;
        if let Some(t) = &ppe_test {
            t.check()?;
        }
        let outputs: Vec<read::Output> = settings
            .variables
            .iter()
            .map(|v| read::Output::new(&v.name, &v.model))
            .collect::<Result<_>>()?;
        let root = &settings.archive_root;
        let ens = read_runs(
            root,
            &ppe.cases,
            &outputs,
            settings.years,
            settings.archive_min_coverage,
        )
        .with_context(|| format!("ensemble {}", ppe.name))?;
        let test = match &ppe_test {
            Some(t) => Some(
                read_runs(
                    root,
                    &t.cases,
                    &outputs,
                    settings.years,
                    settings.archive_min_coverage,
                )
                .with_context(|| format!("ensemble {}", t.name))?,
            ),
            None => None,
        };
        let dflt = read_runs(
            root,
            &[default_case.to_string()],
            &outputs,
            settings.years,
            settings.archive_min_coverage,
        )
        .with_context(|| format!("the default run {default_case}"))?;
        let mut obs = Vec::new();
        for (k, v) in settings.variables.iter().enumerate() {
            obs.push(settings.observations(v, ens[k].grid.clone(), &ens[k].units)?);
        }
        let variables = VariableResult::compute_all(&ens, test.as_deref(), &dflt, &obs, &settings)?;
        Ok(EofStage {
            grid: ens[0].grid.clone(),
            settings,
            ppe,
            ppe_test,
            default_case: default_case.to_string(),
            variables,
        })
    }

    /// Runs the stage on a post-processed ensemble (`settings.processed`, from a config's
    /// `[processed]` section) instead of the archive: per variable the members' maps and the
    /// default run's from their files, the cells of the file's mask; the observations'
    /// targets from `u_obs`/`sigma` files where given (their projections are then not
    /// recomputed, and the RMSEs against observed maps are missing), else as [`EofStage::run`]
    /// does. `parameters` name the design's columns; case names come from `case_pattern`
    /// (`{member}` = 1..) when given.
    pub fn from_processed(
        settings: Settings,
        parameters: &[String],
        case_pattern: Option<&str>,
    ) -> Result<EofStage> {
        let p = settings
            .processed
            .clone()
            .context("the settings name no processed ensemble")?;
        let scalings = read_design(&p.design, parameters)?;
        let nm = scalings.nrows();
        let members: Vec<String> = (1..=nm).map(|k| k.to_string()).collect();
        let cases: Vec<String> = members
            .iter()
            .map(|m| match case_pattern {
                Some(pat) => crate::archive::case_name(pat, Some(m), None, None),
                None => Ok(format!("member_{m}")),
            })
            .collect::<Result<_>>()?;
        let ppe = Runs {
            name: "ppe".into(),
            members,
            cases,
            parameters: parameters.to_vec(),
            scalings,
            dropped: Vec::new(),
        };
        let weighting: Weighting = settings.weighting.parse()?;
        let mut variables = Vec::new();
        let mut grid: Option<Arc<Grid>> = None;
        for v in &settings.variables {
            let ctx = || format!("variable {}", v.name);
            let pv = p
                .variables
                .get(&v.name)
                .with_context(|| format!("[processed.variables] has no {}", v.name))?;
            let m = crate::field::processed::read_members(
                &pv.file,
                &v.model,
                p.member_dim.as_deref(),
                pv.mask.as_deref(),
            )
            .with_context(ctx)?;
            if m.field.values.shape()[0] != nm {
                bail!(
                    "variable {}: {} has {} members, the design {} has {nm}",
                    v.name,
                    pv.file.display(),
                    m.field.values.shape()[0],
                    p.design.display()
                );
            }
            let mut ens = m.field;
            ens.members = ppe.cases.clone();
            let dflt = crate::field::processed::read_default(&pv.default, &v.model, &ens.grid)
                .with_context(ctx)?;
            if let Some(g) = &grid {
                if let Some(d) = g.coord_difference(&ens.grid) {
                    bail!(
                        "variable {}: on another grid than the first variable ({d})",
                        v.name
                    );
                }
            }
            grid.get_or_insert(ens.grid.clone());
            let r = match (&pv.u_obs, &pv.sigma) {
                (Some(uo), Some(sg)) => {
                    let g = &ens.grid;
                    let ones = Array1::from_elem(g.ncell(), 1.0);
                    let mask = m.mask.unwrap_or(ones);
                    let eof = Eof::with_centring(
                        &ens.values,
                        &g.shaped(&g.area)?,
                        Some(&g.shaped(&mask)?),
                        weighting,
                        settings.centre,
                    )
                    .with_context(ctx)?;
                    let pcs_path = pv.pcs.as_ref().with_context(|| {
                        format!("[processed.variables] {}: u_obs needs pcs", v.name)
                    })?;
                    let reference = read_pcs(pcs_path, nm).with_context(ctx)?;
                    let mut eof = eof;
                    let diff = eof.align_signs(&reference).with_context(ctx)?;
                    if diff > 1e-5 {
                        bail!(
                            "variable {}: the PCs computed here differ from {} by up to {diff:e}, so the u_obs given were not projected on these EOFs (check the file, the mask and [processed] anomalies)",
                            v.name,
                            pcs_path.display()
                        );
                    }
                    let modes = settings.modes;
                    if modes == 0 || modes > eof.modes() {
                        bail!(
                            "variable {}: [emulator] modes = {modes}, but the ensemble has {} modes",
                            v.name,
                            eof.modes()
                        );
                    }
                    let take = |path: &Path, what: &str| -> Result<Array1<f64>> {
                        let x = crate::field::processed::read_numbers(path)
                            .with_context(|| format!("variable {}: {what}", v.name))?;
                        if x.len() < modes {
                            bail!(
                                "variable {}: {what} {} holds {} number(s), the stage keeps {modes} modes",
                                v.name,
                                path.display(),
                                x.len()
                            );
                        }
                        Ok(Array1::from(x[..modes].to_vec()))
                    };
                    let u_default = eof.project(&dflt.values, modes)?.row(0).to_owned();
                    VariableResult {
                        name: v.name.clone(),
                        units: ens.units.clone(),
                        pcs: eof.pcs(modes)?,
                        test_pcs: None,
                        u_obs: take(uo, "u_obs")?,
                        sigma_years: Vec::new(),
                        u_years: Array2::zeros((0, modes)),
                        sigma: take(sg, "sigma")?,
                        lambda: eof
                            .variance_fraction()
                            .slice(ndarray::s![..modes])
                            .to_owned(),
                        u_default,
                        rmse_run: Array1::from_elem(nm, f64::NAN),
                        rmse_modes: Array1::from_elem(nm, f64::NAN),
                        rmse_default: (f64::NAN, f64::NAN),
                        eof,
                    }
                }
                _ => {
                    let o = settings.observations(v, ens.grid.clone(), &ens.units)?;
                    VariableResult::compute(&v.name, &ens, None, &dflt, &o, &settings)?
                }
            };
            variables.push(r);
        }
        Ok(EofStage {
            grid: grid.context("[processed.variables] is empty")?,
            settings,
            ppe,
            ppe_test: None,
            default_case: "default".into(),
            variables,
        })
    }

    /// Projects other runs onto the stage's fixed EOFs, as the default run is projected:
    /// the time means of the stage's analysed years of `cases`, read from the archive `root`
    /// (where they ran, which may differ from the stage's), onto the kept modes of every
    /// calibration variable. One `cases x modes` array per variable, in the stage's order
    /// (e.g. new members that join the emulators' training data).
    pub fn project_runs(&self, root: &Path, cases: &[String]) -> Result<Vec<Array2<f64>>> {
        let outputs: Vec<read::Output> = self
            .settings
            .variables
            .iter()
            .map(|v| read::Output::new(&v.name, &v.model))
            .collect::<Result<_>>()?;
        let runs = read_runs(
            root,
            cases,
            &outputs,
            self.settings.years,
            self.settings.archive_min_coverage,
        )?;
        self.variables
            .iter()
            .zip(&runs)
            .map(|(v, f)| {
                v.eof
                    .project(&maps(f)?, self.settings.modes)
                    .with_context(|| format!("variable {}", v.name))
            })
            .collect()
    }

    /// The observed mean map of calibration variable `v` on the model grid, in the model's
    /// units: the observations of the observed years read again from the observation file,
    /// regridded onto the default run's grid and converted as [`EofStage::run`] does (the
    /// map the RMSEs of Fig. 6 are against; the stage does not store it).
    pub fn observed_mean(&self, v: &str) -> Result<ArrayD<f64>> {
        let s = &self.settings;
        let spec = s.variables.iter().find(|x| x.name == v).ok_or_else(|| {
            anyhow::anyhow!(
                "no calibration variable '{v}' in the EOF stage",
                v = crate::format::printable(v)
            )
        })?;
        if let Some(p) = &self.settings.processed {
            if p.variables.get(v).is_some_and(|pv| pv.u_obs.is_some()) {
                bail!(
                    "variable {v}: its targets came from u_obs and sigma files ([processed]), so there is no observed map"
                );
            }
            let units = self.variable(v)?.units.clone();
            let file = s.obs_file_of(spec);
            let o = obs::read_obs_with(
                file,
                &spec.obs,
                Some(s.obs_years),
                self.grid.clone(),
                &spec.obs_options,
            )
            .and_then(|o| o.convert(&units))
            .with_context(|| {
                format!(
                    "variable {v}: observations {} in {}",
                    spec.obs,
                    file.display()
                )
            })?;
            return Ok(o.time_mean()?.values);
        }
        let out = [read::Output::new(&spec.name, &spec.model)?];
        let dflt = read_runs(
            &s.archive_root,
            std::slice::from_ref(&self.default_case),
            &out,
            s.years,
            s.archive_min_coverage,
        )
        .with_context(|| format!("the default run {}", self.default_case))?;
        let file = s.obs_file_of(spec);
        let o = obs::read_obs_with(
            file,
            &spec.obs,
            Some(s.obs_years),
            dflt[0].grid.clone(),
            &spec.obs_options,
        )
        .and_then(|o| o.convert(&dflt[0].units))
        .with_context(|| {
            format!(
                "variable {v}: observations {} in {}",
                spec.obs,
                file.display()
            )
        })?;
        Ok(o.time_mean()?.values)
    }

    /// Whether variable `v` has observed maps ([`EofStage::observed_mean`], the RMSEs of
    /// Fig. 6): false when its targets came from `u_obs`/`sigma` files of a processed
    /// ensemble.
    pub fn has_observed(&self, v: &str) -> bool {
        match &self.settings.processed {
            Some(p) => p.variables.get(v).is_none_or(|pv| pv.u_obs.is_none()),
            None => true,
        }
    }

    /// The results of a calibration variable (an error lists the variables there are).
    pub fn variable(&self, name: &str) -> Result<&VariableResult> {
        self.variables
            .iter()
            .find(|v| v.name == name)
            .with_context(|| {
                let names: Vec<&str> = self.variables.iter().map(|v| v.name.as_str()).collect();
                format!(
                    "the EOF stage has no variable '{name}' (it has {})",
                    names.join(", "),
                    name = crate::format::printable(name)
                )
            })
    }

    /// Writes the contract's files into `dir`: `variance_fraction.csv`, `pcs.csv`,
    /// `projections.csv`, `targets.csv`, `eof.nc`, and `scalings.csv`, `rmse.csv` and
    /// `stage.json` so that [`EofStage::load`] reads everything back.
    pub fn save(&self, dir: &Path, history: &str) -> Result<()> {
        crate::files::all_or_nothing(|| {
            crate::files::create_dir(dir)?;
            let n = fmt_number;
            let modes = self.settings.modes;
            // variance_fraction.csv: every mode, so the truncation can be judged
            let mut rows = Vec::new();
            for v in &self.variables {
                for (k, f) in v.eof.variance_fraction().iter().enumerate() {
                    rows.push(vec![v.name.clone(), (k + 1).to_string(), n(*f)]);
                }
            }
            write_records(
                &dir.join("variance_fraction.csv"),
                &["variable", "mode", "fraction"],
                rows,
            )?;
            // pcs.csv
            let mut rows = Vec::new();
            let sets: Vec<(&Runs, Vec<&Array2<f64>>)> =
                std::iter::once((&self.ppe, self.variables.iter().map(|v| &v.pcs).collect()))
                    .chain(self.ppe_test.iter().map(|t| {
                        (
                            t,
                            self.variables
                                .iter()
                                .filter_map(|v| v.test_pcs.as_ref())
                                .collect(),
                        )
                    }))
                    .collect();
            for (runs, pcs) in &sets {
                for (v, u) in self.variables.iter().zip(pcs) {
                    for (m, row) in u.outer_iter().enumerate() {
                        for (k, x) in row.iter().enumerate() {
                            rows.push(vec![
                                runs.name.clone(),
                                runs.members[m].clone(),
                                runs.cases[m].clone(),
                                v.name.clone(),
                                (k + 1).to_string(),
                                n(*x),
                            ]);
                        }
                    }
                }
            }
            write_records(
                &dir.join("pcs.csv"),
                &["ensemble", "member", "case", "variable", "mode", "pc"],
                rows,
            )?;
            // projections.csv
            let mut rows = Vec::new();
            for v in &self.variables {
                for k in 0..modes {
                    rows.push(vec![
                        "obs".into(),
                        v.name.clone(),
                        (k + 1).to_string(),
                        n(v.u_obs[k]),
                    ]);
                    rows.push(vec![
                        "default".into(),
                        v.name.clone(),
                        (k + 1).to_string(),
                        n(v.u_default[k]),
                    ]);
                }
                for (y, row) in v.sigma_years.iter().zip(v.u_years.outer_iter()) {
                    for (k, x) in row.iter().enumerate() {
                        rows.push(vec![
                            format!("obs_{y}"),
                            v.name.clone(),
                            (k + 1).to_string(),
                            n(*x),
                        ]);
                    }
                }
            }
            write_records(
                &dir.join("projections.csv"),
                &["source", "variable", "mode", "pc"],
                rows,
            )?;
            // targets.csv
            let mut rows = Vec::new();
            for v in &self.variables {
                for k in 0..modes {
                    rows.push(vec![
                        v.name.clone(),
                        (k + 1).to_string(),
                        n(v.u_obs[k]),
                        n(v.sigma[k]),
                        n(v.lambda[k]),
                        n(v.u_default[k]),
                    ]);
                }
            }
            write_records(
                &dir.join("targets.csv"),
                &["variable", "mode", "u_obs", "sigma", "lambda", "u_default"],
                rows,
            )?;
            // scalings.csv: the training and test inputs, joined to the PCs by case
            let mut header = vec!["ensemble".to_string(), "member".into(), "case".into()];
            header.extend(self.ppe.parameters.iter().cloned());
            let mut rows = Vec::new();
            for runs in std::iter::once(&self.ppe).chain(self.ppe_test.iter()) {
                if runs.parameters != self.ppe.parameters {
                    bail!(
                        "ensemble {} varies {} but {} varies {}",
                        runs.name,
                        runs.parameters.join(", "),
                        self.ppe.name,
                        self.ppe.parameters.join(", ")
                    );
                }
                for (m, row) in runs.scalings.outer_iter().enumerate() {
                    let mut r = vec![
                        runs.name.clone(),
                        runs.members[m].clone(),
                        runs.cases[m].clone(),
                    ];
                    r.extend(row.iter().map(|x| n(*x)));
                    rows.push(r);
                }
            }
            write_records(&dir.join("scalings.csv"), &header, rows)?;
            // rmse.csv: Fig. 6a-b
            let mut rows = Vec::new();
            for v in &self.variables {
                for m in 0..self.ppe.cases.len() {
                    rows.push(vec![
                        v.name.clone(),
                        self.ppe.members[m].clone(),
                        self.ppe.cases[m].clone(),
                        n(v.rmse_run[m]),
                        n(v.rmse_modes[m]),
                    ]);
                }
                // the default run's, last (member "default"): Fig. 6's "x"
                rows.push(vec![
                    v.name.clone(),
                    "default".into(),
                    self.default_case.clone(),
                    n(v.rmse_default.0),
                    n(v.rmse_default.1),
                ]);
            }
            write_records(
                &dir.join("rmse.csv"),
                &["variable", "member", "case", "as_run", "from_modes"],
                rows,
            )?;
            // eof.nc
            let items: Vec<crate::eof::NamedEof> = self
                .variables
                .iter()
                .map(|v| crate::eof::NamedEof {
                    name: v.name.as_str(),
                    eof: &v.eof,
                    cases: Some(&self.ppe.cases),
                    units: Some(v.units.as_str()),
                })
                .collect();
            crate::eof::save_all(&dir.join("eof.nc"), &items, &self.grid, history)?;
            // stage.json
            let meta = StageFile {
                clmtune: env!("CARGO_PKG_VERSION").into(),
                settings: self.settings.clone(),
                ppe: self.ppe.name.clone(),
                ppe_test: self.ppe_test.as_ref().map(|t| t.name.clone()),
                default_case: self.default_case.clone(),
                units: self
                    .variables
                    .iter()
                    .map(|v| (v.name.clone(), v.units.clone()))
                    .collect(),
                dropped: std::iter::once(&self.ppe)
                    .chain(&self.ppe_test)
                    .filter(|r| !r.dropped.is_empty())
                    .map(|r| (r.name.clone(), r.dropped.clone()))
                    .collect(),
            };
            crate::files::write_json(&dir.join("stage.json"), &meta)
        })
    }
}

/// What `stage.json` holds: the settings and names the CSV files do not.
#[derive(Debug, Serialize, Deserialize)]
struct StageFile {
    clmtune: String,
    settings: Settings,
    ppe: String,
    ppe_test: Option<String>,
    default_case: String,
    units: Vec<(String, String)>,
    /// By ensemble, the members dropped as failed (absent when none was).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    dropped: BTreeMap<String, Vec<Dropped>>,
}

/// The rows of a CSV file the stage wrote, read by [`crate::table::Table`] (whose errors
/// name the file and a missing column): each row holds the cells of `names` in that order,
/// then those of the other columns, as CSV text; the other columns' names are returned too.
fn read_rows(path: &Path, names: &[&str]) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let t = crate::table::Table::read(path)?;
    let others: Vec<String> = t
        .columns()
        .iter()
        .filter(|h| !names.contains(&h.as_str()))
        .cloned()
        .collect();
    let cols: Vec<&crate::table::Column> = names
        .iter()
        .copied()
        .chain(others.iter().map(String::as_str))
        .map(|h| t.column(h))
        .collect::<Result<_>>()?;
    let rows = (0..t.len())
        .map(|i| {
            cols.iter()
                .map(|c| match c.value(i) {
                    crate::table::Value::Number(x) => fmt_number(x),
                    crate::table::Value::Text(s) => s,
                })
                .collect()
        })
        .collect();
    Ok((others, rows))
}

fn number(path: &Path, line: usize, col: &str, s: &str) -> Result<f64> {
    if s.is_empty() {
        return Ok(f64::NAN);
    }
    s.parse().with_context(|| {
        format!(
            "{}:{line}: column '{col}': '{s}' is not a number",
            path.display(),
            col = crate::format::printable(col),
            s = crate::format::printable(s)
        )
    })
}

fn mode_index(path: &Path, line: usize, s: &str, modes: usize) -> Result<usize> {
    match s.parse::<usize>() {
        Ok(k) if (1..=modes).contains(&k) => Ok(k - 1),
        _ => bail!(
            "{}:{line}: mode '{s}' is not one of 1..={modes}",
            path.display(),
            s = crate::format::printable(s)
        ),
    }
}

impl EofStage {
    /// Reads a folder written by [`EofStage::save`] back: the same numbers, bit for bit,
    /// without the archive or the observations.
    pub fn load(dir: &Path) -> Result<EofStage> {
        crate::files::check_dir_input(dir, "EOF stage folder")?;
        let meta: StageFile = crate::files::read_json(
            &dir.join("stage.json"),
            "EOF stage file (written by an EOF stage's save)",
        )?;
        let s = meta.settings;
        let modes = s.modes;
        let nc = dir.join("eof.nc");

        // scalings.csv -> the ensembles
        let p = dir.join("scalings.csv");
        let (parameters, rows) = read_rows(&p, &["ensemble", "member", "case"])?;
        let runs_of = |name: &str| -> Result<Runs> {
            let mine: Vec<(usize, &Vec<String>)> = rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r[0] == name)
                .collect();
            let mut sc = Array2::zeros((mine.len(), parameters.len()));
            for (i, (line, r)) in mine.iter().enumerate() {
                for (j, name) in parameters.iter().enumerate() {
                    sc[[i, j]] = number(&p, line + 2, name, &r[3 + j])?;
                }
            }
            Ok(Runs {
                name: name.to_string(),
                members: mine.iter().map(|(_, r)| r[1].clone()).collect(),
                cases: mine.iter().map(|(_, r)| r[2].clone()).collect(),
                parameters: parameters.clone(),
                scalings: sc,
                dropped: meta.dropped.get(name).cloned().unwrap_or_default(),
            })
        };
        let ppe = runs_of(&meta.ppe)?;
        let ppe_test = match &meta.ppe_test {
            Some(t) => Some(runs_of(t)?),
            None => None,
        };
        let member_row = |runs: &Runs, case: &str| runs.cases.iter().position(|c| c == case);

        // pcs.csv
        let p = dir.join("pcs.csv");
        let (_, rows) = read_rows(&p, &["ensemble", "case", "variable", "mode", "pc"])?;
        let mut pcs: Vec<Array2<f64>> = s
            .variables
            .iter()
            .map(|_| Array2::from_elem((ppe.cases.len(), modes), f64::NAN))
            .collect();
        let mut test_pcs: Vec<Array2<f64>> = s
            .variables
            .iter()
            .map(|_| {
                Array2::from_elem(
                    (ppe_test.as_ref().map_or(0, |t| t.cases.len()), modes),
                    f64::NAN,
                )
            })
            .collect();
        let var_index = |p: &Path, line: usize, v: &str| -> Result<usize> {
            s.variables
                .iter()
                .position(|x| x.name == v)
                .with_context(|| {
                    format!(
                        "{}:{line}: variable '{v}' is not one of the stage's",
                        p.display(),
                        v = crate::format::printable(v)
                    )
                })
        };
        for (i, r) in rows.iter().enumerate() {
            let line = i + 2;
            let vi = var_index(&p, line, &r[2])?;
            let k = mode_index(&p, line, &r[3], modes)?;
            let x = number(&p, line, "pc", &r[4])?;
            let (runs, target) = if r[0] == ppe.name {
                (&ppe, &mut pcs[vi])
            } else if let Some(t) = ppe_test.as_ref().filter(|t| t.name == r[0]) {
                (t, &mut test_pcs[vi])
            } else {
                bail!("{}:{line}: unknown ensemble '{}'", p.display(), r[0]);
            };
            let m = member_row(runs, &r[1]).with_context(|| {
                format!(
                    "{}:{line}: case '{}' is not in scalings.csv",
                    p.display(),
                    r[1]
                )
            })?;
            target[[m, k]] = x;
        }

        // projections.csv
        let p = dir.join("projections.csv");
        let (_, rows) = read_rows(&p, &["source", "variable", "mode", "pc"])?;
        let nv = s.variables.len();
        let mut u_obs = vec![Array1::from_elem(modes, f64::NAN); nv];
        let mut u_default = vec![Array1::from_elem(modes, f64::NAN); nv];
        let mut years: Vec<Vec<i64>> = vec![Vec::new(); nv];
        let mut year_rows: Vec<Vec<(i64, usize, f64)>> = vec![Vec::new(); nv];
        for (i, r) in rows.iter().enumerate() {
            let line = i + 2;
            let vi = var_index(&p, line, &r[1])?;
            let k = mode_index(&p, line, &r[2], modes)?;
            let x = number(&p, line, "pc", &r[3])?;
            match r[0].as_str() {
                "obs" => u_obs[vi][k] = x,
                "default" => u_default[vi][k] = x,
                src => {
                    let y: i64 = src
                        .strip_prefix("obs_")
                        .and_then(|y| y.parse().ok())
                        .with_context(|| {
                            format!(
                                "{}:{line}: unknown source '{src}'",
                                p.display(),
                                src = crate::format::printable(src)
                            )
                        })?;
                    if !years[vi].contains(&y) {
                        years[vi].push(y);
                    }
                    year_rows[vi].push((y, k, x));
                }
            }
        }

        // targets.csv
        let p = dir.join("targets.csv");
        let (_, rows) = read_rows(&p, &["variable", "mode", "sigma", "lambda"])?;
        let mut sigma = vec![Array1::from_elem(modes, f64::NAN); nv];
        let mut lambda = vec![Array1::from_elem(modes, f64::NAN); nv];
        for (i, r) in rows.iter().enumerate() {
            let line = i + 2;
            let vi = var_index(&p, line, &r[0])?;
            let k = mode_index(&p, line, &r[1], modes)?;
            sigma[vi][k] = number(&p, line, "sigma", &r[2])?;
            lambda[vi][k] = number(&p, line, "lambda", &r[3])?;
        }

        // rmse.csv
        let p = dir.join("rmse.csv");
        let (_, rows) = read_rows(&p, &["variable", "case", "as_run", "from_modes"])?;
        let mut rmse_run = vec![Array1::from_elem(ppe.cases.len(), f64::NAN); nv];
        let mut rmse_modes = rmse_run.clone();
        let mut rmse_default = vec![(f64::NAN, f64::NAN); nv];
        for (i, r) in rows.iter().enumerate() {
            let line = i + 2;
            let vi = var_index(&p, line, &r[0])?;
            if r[1] == meta.default_case {
                rmse_default[vi] = (
                    number(&p, line, "as_run", &r[2])?,
                    number(&p, line, "from_modes", &r[3])?,
                );
                continue;
            }
            let m = member_row(&ppe, &r[1]).with_context(|| {
                format!(
                    "{}:{line}: case '{}' is not in scalings.csv",
                    p.display(),
                    r[1]
                )
            })?;
            rmse_run[vi][m] = number(&p, line, "as_run", &r[2])?;
            rmse_modes[vi][m] = number(&p, line, "from_modes", &r[3])?;
        }

        let mut variables = Vec::new();
        let mut grid = None;
        for (vi, v) in s.variables.iter().enumerate() {
            let (eof, g) =
                Eof::load_named(&nc, &v.name).with_context(|| format!("variable {}", v.name))?;
            grid = Some(Arc::new(g));
            let mut u_years = Array2::from_elem((years[vi].len(), modes), f64::NAN);
            for &(y, k, x) in &year_rows[vi] {
                let row = years[vi].iter().position(|&z| z == y).unwrap_or(0);
                u_years[[row, k]] = x;
            }
            let units = meta
                .units
                .iter()
                .find(|(n, _)| n == &v.name)
                .map(|(_, u)| u.clone())
                .unwrap_or_default();
            variables.push(VariableResult {
                name: v.name.clone(),
                units,
                eof,
                pcs: std::mem::take(&mut pcs[vi]),
                test_pcs: ppe_test.as_ref().map(|_| std::mem::take(&mut test_pcs[vi])),
                u_obs: u_obs[vi].clone(),
                sigma_years: years[vi].clone(),
                u_years,
                sigma: sigma[vi].clone(),
                lambda: lambda[vi].clone(),
                u_default: u_default[vi].clone(),
                rmse_run: rmse_run[vi].clone(),
                rmse_modes: rmse_modes[vi].clone(),
                rmse_default: rmse_default[vi],
            });
        }
        Ok(EofStage {
            grid: grid.with_context(|| format!("{}: no calibration variable", nc.display()))?,
            settings: s,
            ppe,
            ppe_test,
            default_case: meta.default_case,
            variables,
        })
    }
}

impl EofStage {
    /// One line per ensemble that went on without members that failed (`[cases] failed =
    /// "drop"`), e.g. `ppe: 98 of 100 members; 2 failed and dropped ...`.
    pub fn dropped_notes(&self) -> Vec<String> {
        std::iter::once(&self.ppe)
            .chain(&self.ppe_test)
            .filter_map(Runs::dropped_note)
            .collect()
    }
}

impl std::fmt::Display for EofStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.settings;
        writeln!(
            f,
            "EofStage: {} members x {} parameters ({}){}, default run {}, {} modes",
            self.ppe.cases.len(),
            self.ppe.parameters.len(),
            self.ppe.parameters.join(", "),
            match &self.ppe_test {
                Some(t) => format!(", second ensemble of {}", t.cases.len()),
                None => String::new(),
            },
            self.default_case,
            s.modes
        )?;
        for note in self.dropped_notes() {
            writeln!(f, "  {note}")?;
        }
        let list = |a: &Array1<f64>| {
            a.iter()
                .map(|x| format!("{x:.4}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for v in &self.variables {
            writeln!(
                f,
                "  {} ({}): {:.1} % of the variance in {} modes; U_obs [{}]; sigma [{}]; lambda [{}]",
                v.name,
                v.units,
                100.0 * v.lambda.sum(),
                s.modes,
                list(&v.u_obs),
                list(&v.sigma),
                list(&v.lambda)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A field on the tiny grid (2 x 3, cell (0, 2) ocean) along `dim` (`member` or `time`).
    fn field(dim: &str, maps: Vec<Vec<f64>>, months: Vec<(i64, u32)>) -> Field {
        let n = maps.len();
        let values: Vec<f64> = maps.into_iter().flatten().collect();
        Field {
            name: "x".into(),
            units: "1".into(),
            long_name: String::new(),
            dims: vec![dim.into(), "lat".into(), "lon".into()],
            values: ArrayD::from_shape_vec(vec![n, 2, 3], values).unwrap(),
            grid: Arc::new(crate::demo::fixture::tiny_grid()),
            months,
            members: if dim == "member" {
                (1..=n).map(|k| format!("m{k}")).collect()
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn every_variable_computed_at_once_gives_each_variables_own_result() {
        let nan = f64::NAN;
        let land = |f: &dyn Fn(usize) -> f64| -> Vec<f64> {
            (0..6).map(|c| if c == 2 { nan } else { f(c) }).collect()
        };
        // two members: one mode, whose PCs are +-1/sqrt(2) whatever the maps
        let ens = |scale: f64| {
            field(
                "member",
                vec![
                    land(&|c| scale * (1.0 + 0.1 * c as f64)),
                    land(&|c| scale * (2.0 + 0.3 * c as f64)),
                ],
                Vec::new(),
            )
        };
        let ens = [ens(1.0), ens(40.0)];
        let dflt: Vec<Field> = ens
            .iter()
            .map(|f| Field {
                values: f.values.slice_axis(Axis(0), (0..1).into()).to_owned(),
                members: vec!["m1".into()],
                ..f.clone()
            })
            .collect();
        let months: Vec<(i64, u32)> = (2000..=2001)
            .flat_map(|y| (1..=12).map(move |m| (y, m)))
            .collect();
        let obs: Vec<Field> = [1.0, 40.0]
            .iter()
            .map(|&k| {
                let maps = months
                    .iter()
                    .map(|&(y, m)| {
                        land(&|c| {
                            k * (1.5
                                + 0.01 * (y - 2000) as f64
                                + 0.001 * m as f64
                                + 0.02 * c as f64)
                        })
                    })
                    .collect();
                field("time", maps, months.clone())
            })
            .collect();
        let var = |name: &str| VariableSpec {
            name: name.into(),
            obs: name.into(),
            model: name.into(),
            obs_file: None,
            obs_options: ReadOptions::default(),
        };
        let s = Settings {
            modes: 1,
            weighting: "area".into(),
            centre: true,
            archive_root: PathBuf::new(),
            years: (1, 1),
            archive_min_coverage: 1.0,
            obs_file: PathBuf::new(),
            obs_options: ReadOptions::default(),
            obs_years: (2000, 2000),
            sigma_years: (2000, 2001),
            min_coverage: 0.8,
            variables: vec![var("GPP"), var("LHF")],
            processed: None,
        };
        let all = VariableResult::compute_all(&ens, None, &dflt, &obs, &s).unwrap();
        assert_eq!(all.len(), 2);
        for (k, r) in all.iter().enumerate() {
            assert_eq!(r.name, ["GPP", "LHF"][k]);
            let alone =
                VariableResult::compute(&r.name, &ens[k], None, &dflt[k], &obs[k], &s).unwrap();
            assert_eq!(r.pcs, alone.pcs);
            assert_eq!(r.u_obs, alone.u_obs);
            assert_eq!(r.sigma, alone.sigma);
            assert!(
                (r.pcs[[0, 0]].abs() - 0.5f64.sqrt()).abs() < 1e-12,
                "{}",
                r.pcs
            );
            assert!((r.pcs[[0, 0]] + r.pcs[[1, 0]]).abs() < 1e-12);
            assert_eq!(r.lambda[0], 1.0);
            // the default run is member m1: its RMSEs (Fig. 6's "x") are member 1's, as run
            // and from the one mode (which holds all of two members' variance)
            assert!((r.rmse_default.0 - r.rmse_run[0]).abs() < 1e-12 * r.rmse_run[0].max(1.0));
            assert!(
                (r.rmse_default.1 - r.rmse_modes[0]).abs() < 1e-9 * r.rmse_modes[0].max(1.0),
                "{:?} vs {}",
                r.rmse_default,
                r.rmse_modes[0]
            );
            assert!(r.rmse_default.0 > 0.0);
        }
        let e = VariableResult::compute_all(&ens[..1], None, &dflt, &obs, &s).unwrap_err();
        assert!(e.to_string().contains("1 ensemble fields"), "{e}");
    }
}
