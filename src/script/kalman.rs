//! The `kalman` module: ensemble Kalman calibration from a script (`scripts/09_kalman.rhai`):
//! the observations from the EOF stage, each iteration's members as an ensemble through the
//! backend, their PCs on the stage's modes, the update, and the record saved and resumed.

use super::array::{operand, NdArray};
use super::convert::{script_err, RResult};
use super::ensemble::ScriptEnsemble;
use super::eof::ScriptEofStage;
use super::table::ScriptTable;
use crate::calibrate::kalman::{Kalman, Observations, Settings};
use crate::ensemble::registry::Status;
use crate::table::{Column, Table};
use ndarray::{Array2, Ix2};
use rhai::plugin::*;
use rhai::{Array, Dynamic, Map, Module, INT};
use std::path::Path;
use std::sync::Arc;

/// An ensemble Kalman calibration (script type `Kalman`).
#[derive(Clone, Debug)]
pub struct ScriptKalman(pub Kalman);

fn err(e: anyhow::Error) -> Box<EvalAltResult> {
    script_err(format!("{e:#}"))
}

/// The options `kalman` reads itself (the rest are [`Settings`]).
const OWN: [&str; 3] = ["covariance", "discrepancy", "rank"];

/// Settings from an options map; command-line text (`"13"`) is taken for numbers.
fn settings_of(options: &Map) -> RResult<Settings> {
    let mut o = options.clone();
    for (k, v) in o.iter_mut() {
        if let Some(text) = v.clone().try_cast::<rhai::ImmutableString>() {
            let t = text.trim().replace('_', "");
            let whole = ["members", "iterations", "update_freq", "seed"].contains(&k.as_str());
            let real = ["tolerance", "dt", "alpha", "min_success"].contains(&k.as_str());
            if whole {
                *v = Dynamic::from_int(t.parse::<INT>().map_err(|_| {
                    script_err(format!(
                        "--{k} {}: not a whole number",
                        crate::format::printable(&text)
                    ))
                })?);
            } else if real {
                *v = Dynamic::from_float(t.parse::<f64>().map_err(|_| {
                    script_err(format!(
                        "--{k} {}: not a number",
                        crate::format::printable(&text)
                    ))
                })?);
            } else if k.as_str() == "prior" {
                *v = Dynamic::from_bool(match t.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(script_err(format!("--prior {t}: use true or false"))),
                });
            }
        }
    }
    super::options::read_with(&o, "kalman", &OWN)
}

fn number(options: &Map, key: &str, default: f64) -> RResult<f64> {
    match options.get(key) {
        None => Ok(default),
        Some(v) => {
            let x = if let Ok(f) = v.as_float() {
                f
            } else if let Ok(i) = v.as_int() {
                i as f64
            } else {
                v.to_string()
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| script_err(format!("{key} = {v}: not a number")))?
            };
            if x.is_finite() && x >= 0.0 {
                Ok(x)
            } else {
                Err(script_err(format!("{key} = {x}: use a number >= 0")))
            }
        }
    }
}

/// The observations of an EOF stage: U_obs per variable and mode (`GPP_1`, ...), with the
/// covariance `options.covariance` names: `"sigma"` (diag(sigma^2), the default) or
/// `"years"` (from the observed years' projections, SVD of rank `options.rank` plus the
/// diagonal of the rest); `options.discrepancy` adds that fraction of each variable's
/// ensemble variance of the PCs to the diagonal (a model discrepancy).
fn observations_of(stage: &ScriptEofStage, options: &Map) -> RResult<Observations> {
    let s = &stage.0;
    let mut names = Vec::new();
    let mut y = Vec::new();
    let mut sd = Vec::new();
    let mut extra = Vec::new();
    let frac = number(options, "discrepancy", 0.0)?;
    for v in &s.variables {
        let ens_var = v.pcs.var_axis(ndarray::Axis(0), 1.0);
        let mean_var = ens_var.mean().unwrap_or(0.0);
        for m in 0..v.u_obs.len() {
            names.push(format!("{}_{}", v.name, m + 1));
            y.push(v.u_obs[m]);
            sd.push(v.sigma[m]);
            extra.push(frac * mean_var);
        }
    }
    let kind = options
        .get("covariance")
        .map(|v| v.to_string())
        .unwrap_or_else(|| "sigma".into());
    let mut o = match kind.as_str() {
        "sigma" => Observations::diagonal(names, y, &sd).map_err(err)?,
        "years" => {
            let first = &s.variables[0].sigma_years;
            if let Some(v) = s.variables.iter().find(|v| &v.sigma_years != first) {
                return Err(script_err(format!(
                    "covariance \"years\": variable {} was observed in other years than {}",
                    v.name, s.variables[0].name
                )));
            }
            let blocks: Vec<_> = s.variables.iter().map(|v| v.u_years.view()).collect();
            let samples = ndarray::concatenate(ndarray::Axis(1), &blocks)
                .map_err(|e| script_err(format!("the yearly projections: {e}")))?;
            let rank = number(options, "rank", samples.nrows().saturating_sub(1) as f64)? as usize;
            Observations::from_samples(names, y, samples.view(), rank).map_err(err)?
        }
        other => {
            return Err(script_err(format!(
                "covariance \"{}\": use \"sigma\" (diag(sigma^2)) or \"years\" (from the observed years' projections)",
                crate::format::printable(other)
            )))
        }
    };
    if frac > 0.0 {
        let n = o.y.len();
        for (i, e) in extra.iter().enumerate() {
            o.gamma[i * n + i] += e;
        }
        o.covariance = format!(
            "{} + {frac} x the ensemble variance of the PCs (discrepancy)",
            o.covariance
        );
        o = Observations::full(o.names, o.y, o.gamma, &o.covariance).map_err(err)?;
    }
    Ok(o)
}

fn iteration_map(k: &Kalman) -> Map {
    let mut m = Map::new();
    if let Some(it) = k.iterations.last() {
        m.insert("iteration".into(), Dynamic::from_int(it.index as INT));
        m.insert("misfit".into(), Dynamic::from_float(it.misfit));
        m.insert("min_misfit".into(), Dynamic::from_float(it.min_misfit));
        m.insert("dt".into(), Dynamic::from_float(it.dt));
        m.insert("failed".into(), Dynamic::from_int(it.failed.len() as INT));
        m.insert(
            "note".into(),
            it.note.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT),
        );
    }
    let e = k.estimate();
    let mut est = Map::new();
    for (i, p) in k.parameters.iter().enumerate() {
        est.insert(p.as_str().into(), Dynamic::from_float(e.scaling[i]));
    }
    m.insert("estimate".into(), Dynamic::from_map(est));
    m
}

/// The functions of the `kalman` module.
#[export_module]
pub mod kalman_fns {
    use super::*;

    /// An ensemble Kalman calibration (EKI or UKI): its observations, settings, every
    /// finished iteration and the state the next starts from; `save(dir)` writes it and
    /// `kalman(stage, dir, options)` resumes from it.
    pub type Kalman = ScriptKalman;

    /// A Kalman calibration against the EOF stage's observations (U_obs of every
    /// calibration variable and mode), resumed from `dir` when a calibration with the same
    /// observations and settings was saved there (an error when they differ). Options:
    /// `method` (`"uki"`: 2p+1 members; `"eki"`), `members` (EKI, 20), `iterations` (10),
    /// `tolerance` (stop when the misfit changes by less, 0.001), `schedule` (`"dmc"`: EKI's
    /// data-misfit controller, its default; `"fixed"`), `dt` (1), `transform` (`"probit"`:
    /// the prior N(0, 1) is uniform on the scalings; `"logit"`), `prior` (join the prior to
    /// the observations: UKI's default), `alpha` (UKI's regularisation, 1), `update_freq`
    /// (1), `min_success` (0.5), `seed`; `covariance` (`"sigma"`: diag(sigma^2), or
    /// `"years"`: from the observed years' projections, SVD-plus-diagonal with `rank`),
    /// `discrepancy` (a fraction of each variable's ensemble variance of the PCs added to
    /// the noise, 0). Numbers may be given as command-line text.
    #[rhai_fn(name = "kalman", return_raw)]
    pub fn kalman_stage(stage: ScriptEofStage, dir: &str, options: Map) -> RResult<ScriptKalman> {
        let obs = observations_of(&stage, &options)?;
        let settings = settings_of(&options)?;
        let k =
            crate::calibrate::kalman::Kalman::new(stage.0.ppe.parameters.clone(), obs, settings)
                .map_err(err)?;
        crate::files::check_dir_input(Path::new(dir), "Kalman folder").map_err(err)?;
        match crate::calibrate::kalman::Kalman::load(Path::new(dir)).map_err(err)? {
            Some(saved) => {
                saved.same_problem(&k).map_err(|e| {
                    err(e.context(format!(
                        "{dir}/kalman.json: cannot resume (remove the folder to start over)"
                    )))
                })?;
                Ok(ScriptKalman(saved))
            }
            None => Ok(ScriptKalman(k)),
        }
    }

    /// A Kalman calibration of `parameters` against any observations: `observed` is a map
    /// `#{y: Array, sigma: Array}` (names `y1`, `y2`, ... unless `names` is given), the
    /// forward model whatever the script runs on `design()`; options as for
    /// `kalman(stage, dir, options)` without `covariance` and `discrepancy`.
    ///
    /// ```rhai
    /// // a linear toy: g(x) = [x1 + x2, x1 - x2] on the scalings, observed at (0.3, 0.6)
    /// let k = kalman(["a", "b"], #{y: array([0.9, -0.3]), sigma: array([0.01, 0.01])},
    ///                #{iterations: 20, tolerance: 0});
    /// while k.stop_reason == "" {
    ///     let x = k.design();
    ///     k.update(stack([x.T[0] + x.T[1], x.T[0] - x.T[1]], 1));
    /// }
    /// round(k.estimate.scaling * 100) / 100     //=> [0.3 0.6]
    /// ```
    #[rhai_fn(name = "kalman", return_raw)]
    pub fn kalman_given(parameters: Array, observed: Map, options: Map) -> RResult<ScriptKalman> {
        let names: Vec<String> = parameters.iter().map(|p| p.to_string()).collect();
        let vec_of = |key: &str| -> RResult<Vec<f64>> {
            let d = observed.get(key).ok_or_else(|| {
                script_err(format!(
                    "kalman: observed has no '{key}' (give #{{y: Array, sigma: Array}})"
                ))
            })?;
            Ok(operand(d)?.data().iter().copied().collect())
        };
        let y = vec_of("y")?;
        let sd = vec_of("sigma")?;
        let onames: Vec<String> = match observed.get("names") {
            Some(n) => n
                .clone()
                .into_array()
                .map_err(|_| script_err("kalman: observed.names must be an array of names"))?
                .iter()
                .map(|x| x.to_string())
                .collect(),
            None => (1..=y.len()).map(|i| format!("y{i}")).collect(),
        };
        let obs = Observations::diagonal(onames, y, &sd).map_err(err)?;
        let settings = settings_of(&options)?;
        crate::calibrate::kalman::Kalman::new(names, obs, settings)
            .map(ScriptKalman)
            .map_err(err)
    }

    /// The scalings of the next iteration's members (members x parameters, in `[0, 1]`):
    /// EKI's ensemble or UKI's sigma points (the first is the current estimate).
    #[rhai_fn(return_raw, pure)]
    pub fn design(k: &mut ScriptKalman) -> RResult<NdArray> {
        k.0.design()
            .map(|a| NdArray::new(a.into_dyn()))
            .map_err(err)
    }

    /// Updates with the outputs of `design()`'s members (members x observations; a row
    /// with NaN is a failed member) and returns the iteration: `#{iteration, misfit,
    /// min_misfit, dt, failed, note, estimate}`.
    #[rhai_fn(name = "update", return_raw)]
    pub fn update_outputs(k: &mut ScriptKalman, g: Dynamic) -> RResult<Map> {
        let g = operand(&g)?
            .data()
            .clone()
            .into_dimensionality::<Ix2>()
            .map_err(|_| {
                script_err("update: the outputs must be a 2-D Array (members x observations)")
            })?;
        k.0.update(g.view()).map_err(err)?;
        Ok(iteration_map(&k.0))
    }

    /// Updates with the runs of `ens` (made from `design()`): each complete member's PCs on
    /// the EOF stage's modes; a failed member counts as failed (the update goes on without
    /// it, as the Kalman settings allow). Every member must have finished.
    #[rhai_fn(name = "update", return_raw)]
    pub fn update_runs(
        k: &mut ScriptKalman,
        stage: ScriptEofStage,
        ens: ScriptEnsemble,
    ) -> RResult<Map> {
        let e = &ens.0;
        let names: Vec<String> = e.params.iter().map(|p| p.name.clone()).collect();
        if names != k.0.parameters {
            return Err(script_err(format!(
                "update: ensemble {} varies {}, the calibration {}",
                e.name,
                names.join(", "),
                k.0.parameters.join(", ")
            )));
        }
        let want = k.0.design().map_err(err)?;
        if e.members.len() != want.nrows() {
            return Err(script_err(format!(
                "update: ensemble {} has {} members, this iteration {}",
                e.name,
                e.members.len(),
                want.nrows()
            )));
        }
        for (i, m) in e.members.iter().enumerate() {
            for (j, s) in m.scalings.iter().enumerate() {
                let w = want[(i, j)];
                if s.is_none_or(|s| (s - w).abs() > 1e-9) {
                    return Err(script_err(format!(
                        "update: member {} of ensemble {} has {} = {}, this iteration's design {w}",
                        m.label,
                        e.name,
                        names[j],
                        s.map(|s| s.to_string()).unwrap_or_else(|| "default".into())
                    )));
                }
            }
        }
        if e.settings.years != stage.0.settings.years {
            return Err(script_err(format!(
                "ensemble {}: its analysed years {}-{} differ from the EOF stage's {}-{}",
                e.name,
                e.settings.years.0,
                e.settings.years.1,
                stage.0.settings.years.0,
                stage.0.settings.years.1
            )));
        }
        let recs = e.status().map_err(err)?;
        let mut complete = Vec::new();
        let mut unfinished = Vec::new();
        for (i, r) in recs.iter().enumerate() {
            match r.status {
                Status::Complete => complete.push(i),
                Status::Failed => {}
                s => unfinished.push(format!("{} {}", r.case, s.name())),
            }
        }
        if !unfinished.is_empty() {
            return Err(script_err(format!(
                "update: ensemble {}: {} members have not finished: {}",
                e.name,
                unfinished.len(),
                unfinished.join(", ")
            )));
        }
        let n = k.0.observations.len();
        let mut g = Array2::from_elem((recs.len(), n), f64::NAN);
        if !complete.is_empty() {
            let cases: Vec<String> = complete.iter().map(|&i| recs[i].case.clone()).collect();
            let pcs = stage
                .0
                .project_runs(&e.settings.archive_root, &cases)
                .map_err(|x| err(x.context(format!("ensemble {}", e.name))))?;
            for (row, &i) in complete.iter().enumerate() {
                let mut col = 0;
                for p in &pcs {
                    for m in 0..p.ncols() {
                        if col < n {
                            g[(i, col)] = p[(row, m)];
                        }
                        col += 1;
                    }
                }
                if col != n {
                    return Err(script_err(format!(
                        "update: the EOF stage gives {col} PCs per run, the calibration has {n} observations"
                    )));
                }
            }
        }
        let cases: Vec<String> = recs.iter().map(|r| r.case.clone()).collect();
        k.0.update_cases(g.view(), Some(&cases)).map_err(err)?;
        Ok(iteration_map(&k.0))
    }

    /// Every successful member run so far as training data for emulators (calibrate,
    /// emulate, sample): `#{x: runs x parameters (scalings), pcs: #{VARIABLE: runs x modes}}`,
    /// the PCs split by the EOF stage's variables, e.g. `fit_gp(r.x, r.pcs.GPP, ...)` or
    /// joined to the PPE's with `concat`.
    #[rhai_fn(return_raw, pure)]
    pub fn runs(k: &mut ScriptKalman, stage: ScriptEofStage) -> RResult<Map> {
        let (x, g) = k.0.runs();
        let mut pcs = Map::new();
        let mut col = 0;
        for v in &stage.0.variables {
            let m = v.u_obs.len();
            if col + m > g.ncols() {
                return Err(script_err(format!(
                    "runs: the EOF stage has more PCs than the calibration's {} observations",
                    g.ncols()
                )));
            }
            let block = g.slice(ndarray::s![.., col..col + m]).to_owned();
            pcs.insert(
                v.name.as_str().into(),
                Dynamic::from(NdArray::new(block.into_dyn())),
            );
            col += m;
        }
        if col != g.ncols() {
            return Err(script_err(format!(
                "runs: the EOF stage has {col} PCs, the calibration {} observations",
                g.ncols()
            )));
        }
        let mut out = Map::new();
        out.insert("x".into(), Dynamic::from(NdArray::new(x.into_dyn())));
        out.insert("pcs".into(), Dynamic::from_map(pcs));
        Ok(out)
    }

    /// Writes the calibration into `dir` (e.g. `OUT/kalman`): `iterations.csv` (iteration,
    /// members, failed, dt, misfit, min_misfit, and per parameter its estimate and 5-95 %
    /// range in scalings), `members.csv` (every member run: scalings, PCs, misfit),
    /// `estimate.csv`, `kalman.png` and `kalman.json` (read back to resume), atomically.
    #[rhai_fn(return_raw, pure)]
    pub fn save(k: &mut ScriptKalman, dir: &str) -> RResult<()> {
        k.0.save(Path::new(dir)).map_err(err)
    }

    /// Why no further iteration should run (`""` while one should): the budget, EKI's
    /// data-misfit controller at 1, or a misfit that stopped changing.
    #[rhai_fn(get = "stop_reason", pure)]
    pub fn stop_reason(k: &mut ScriptKalman) -> String {
        k.0.stop_reason().unwrap_or_default()
    }

    /// The number of finished iterations.
    #[rhai_fn(get = "iterations", pure)]
    pub fn iterations(k: &mut ScriptKalman) -> INT {
        k.0.iterations.len() as INT
    }

    /// Members per iteration.
    #[rhai_fn(get = "members", pure)]
    pub fn members(k: &mut ScriptKalman) -> INT {
        k.0.settings.members as INT
    }

    /// The method's name (`"uki"`, `"eki"`).
    #[rhai_fn(get = "method", pure)]
    pub fn method(k: &mut ScriptKalman) -> String {
        k.0.settings.method.name().to_string()
    }

    /// The calibrated parameters.
    #[rhai_fn(get = "parameters", pure)]
    pub fn parameters(k: &mut ScriptKalman) -> Array {
        k.0.parameters
            .iter()
            .map(|p| Dynamic::from(p.clone()))
            .collect()
    }

    /// The estimate after the last update: `#{parameters, scaling, p05, p95}` (scalings:
    /// the transform of the unconstrained mean, and its 5-95 % range).
    #[rhai_fn(get = "estimate", pure)]
    pub fn estimate(k: &mut ScriptKalman) -> Map {
        let e = k.0.estimate();
        let a = |v: Vec<f64>| Dynamic::from(NdArray::new(ndarray::Array1::from(v).into_dyn()));
        let mut m = Map::new();
        m.insert("parameters".into(), Dynamic::from_array(parameters(k)));
        m.insert("scaling".into(), a(e.scaling));
        m.insert("p05".into(), a(e.p05));
        m.insert("p95".into(), a(e.p95));
        m
    }

    /// `iterations.csv` as a Table.
    #[rhai_fn(get = "table", pure, return_raw)]
    pub fn table(k: &mut ScriptKalman) -> RResult<ScriptTable> {
        let cols = k.0.iteration_columns();
        let rows = k.0.iteration_rows();
        let columns = cols
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let v: Vec<f64> = rows
                    .iter()
                    .map(|r| r[j].parse::<f64>().unwrap_or(f64::NAN))
                    .collect();
                (c.clone(), Column::Numbers(v))
            })
            .collect();
        Table::from_columns(columns)
            .map(|t| ScriptTable(Arc::new(t)))
            .map_err(err)
    }

    /// A summary: method, parameters, observations, members, iterations, transform, noise.
    #[rhai_fn(name = "to_string", global, pure)]
    pub fn to_string(k: &mut ScriptKalman) -> String {
        k.0.to_string()
    }

    /// The same summary (used by the REPL).
    #[rhai_fn(name = "to_debug", global, pure)]
    pub fn to_debug(k: &mut ScriptKalman) -> String {
        k.0.to_string()
    }
}

/// The `kalman` module.
pub fn module() -> Module {
    exported_module!(kalman_fns)
}
