//! The `test_case` module: the optimum read back from the calibration's files, and the CLM
//! test case (runs of calibrated parameters judged against the observations and the default
//! run; [`crate::test_case`]).

use super::array::NdArray;
use super::convert::{script_err, type_name, RResult};
use super::ensemble::ScriptEnsemble;
use super::eof::ScriptEofStage;
use super::table::ScriptTable;
use crate::table::{Table, Value};
use crate::test_case::Variable;
use rhai::plugin::*;
use rhai::{Array, Dynamic, Map, Module, INT};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The result of a test case (script type `TestCase`).
#[derive(Clone, Debug)]
pub struct ScriptTestCase(pub Arc<crate::test_case::TestCase>);

fn err(e: anyhow::Error) -> Box<EvalAltResult> {
    script_err(format!("{e:#}"))
}

/// The numbers of a `Table` column.
fn numbers(t: &Table, name: &str) -> RResult<Vec<f64>> {
    t.numbers(name).map(<[f64]>::to_vec).map_err(err)
}

/// A parameter set as the map scripts get: `#{label, x (1 x k Array), scalings (the same
/// as a list), parameters, cost}`.
fn point(set: &str, label: &str, parameters: &[String], x: Vec<f64>, cost: f64) -> Map {
    let mut m = Map::new();
    m.insert("set".into(), Dynamic::from(set.to_string()));
    m.insert(
        "scalings".into(),
        Dynamic::from_array(x.iter().map(|&v| Dynamic::from_float(v)).collect()),
    );
    m.insert("label".into(), Dynamic::from(label.to_string()));
    let k = x.len();
    let a = ndarray::Array2::from_shape_vec((1, k), x)
        .unwrap_or_else(|_| ndarray::Array2::zeros((1, 0)));
    m.insert("x".into(), Dynamic::from(NdArray::new(a.into_dyn())));
    m.insert(
        "parameters".into(),
        Dynamic::from_array(parameters.iter().cloned().map(Dynamic::from).collect()),
    );
    m.insert("cost".into(), Dynamic::from_float(cost));
    m
}

/// The columns of `t` other than `skip`: the parameter names of a calibration file.
fn parameter_columns(t: &Table, skip: &[&str]) -> Vec<String> {
    t.columns()
        .iter()
        .filter(|c| !skip.contains(&c.as_str()))
        .cloned()
        .collect()
}

/// The emulated PCs of one run: a map of variable -> Array of modes (or 1 x modes, or the
/// `#{mean, variance}` maps `cost.emulate(x)` gives).
fn emulated_of(m: &Map, label: &str) -> RResult<BTreeMap<String, Vec<f64>>> {
    let mut out = BTreeMap::new();
    for (v, d) in m {
        let d = match d.read_lock::<Map>() {
            Some(inner) => inner.get("mean").cloned().ok_or_else(|| {
                script_err(format!(
                    "run {label}: emulated.{v} is a map without 'mean' (give the Array of PCs)"
                ))
            })?,
            None => d.clone(),
        };
        let a = d.read_lock::<NdArray>().map(|a| a.data().clone());
        let vals: Vec<f64> = match a {
            Some(a) if a.len() == a.shape().last().copied().unwrap_or(0) => {
                a.iter().copied().collect()
            }
            Some(a) => {
                return Err(script_err(format!(
                    "run {label}: emulated.{v} has shape {:?}; give the PCs of one parameter set",
                    a.shape()
                )))
            }
            None => d
                .clone()
                .into_array()
                .map_err(|_| {
                    script_err(format!(
                        "run {label}: emulated.{v} is {}; give an Array of PCs",
                        type_name(&d)
                    ))
                })?
                .iter()
                .map(|x| crate::script::convert::number(x, &format!("emulated.{v}")))
                .collect::<RResult<_>>()?,
        };
        out.insert(v.to_string(), vals);
    }
    Ok(out)
}

/// The functions of the `test_case` module.
/// The options of `load_optimum(dir, options)`: the row of a `method` (any value, as
/// text) or the `posterior` mean.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct LoadOptimum {
    method: Option<Dynamic>,
    posterior: bool,
}

#[export_module]
pub mod test_case_fns {
    use super::*;

    /// The CLM test case (Dagon et al. 2020, section 4.4): runs of calibrated parameters
    /// judged against the observations and the default run. Properties `pcs` (Fig. 10),
    /// `bias_table` (Table 2), `climatology` (Figs. S12-S13), `rmse` (Tables), `notes`,
    /// `verdict`; `tc.save(dir)` writes the files and figures.
    pub type TestCase = ScriptTestCase;

    /// The optimum of the calibration in the folder `dir` (what 06_calibrate.rhai saved):
    /// the lowest cost of `optimum.csv`, as `#{label, x, scalings, parameters, cost}` with `x`
    /// a 1 x k Array of scalings and `scalings` the same as a list.
    ///
    /// ```rhai
    /// let d = `${TEMP_DIR}/calib_a`;
    /// table(#{method: ["de", "lbfgsb"], cost: [2.5, 1.5], kmax: [0.5, 0.25], fff: [0.1, 0.75]})
    ///     .save(`${d}/optimum.csv`);
    /// let o = load_optimum(d);
    /// o.label         //=> lbfgsb
    /// o.x             //=> [[0.75 0.25]]
    /// o.parameters    //=> ["fff", "kmax"]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn load_optimum(dir: &str) -> RResult<Map> {
        load_optimum_with(dir, Map::new())
    }

    /// The optimum with a choice: `#{method: "lbfgsb"}` takes that optimiser's row of
    /// `optimum.csv`; `#{posterior: true}` the posterior mean of `posterior.csv` (label
    /// `posterior_mean`, cost NaN).
    ///
    /// ```rhai
    /// let d = `${TEMP_DIR}/calib_b`;
    /// table(#{method: ["de", "lbfgsb"], cost: [2.5, 1.5], kmax: [0.5, 0.25], fff: [0.1, 0.75]})
    ///     .save(`${d}/optimum.csv`);
    /// load_optimum(d, #{method: "de"}).x    //=> [[0.1 0.5]]
    /// table(#{parameter: ["kmax", "fff"], mean: [0.4, 0.6], p05: [0.1, 0.2]}).save(`${d}/posterior.csv`);
    /// let p = load_optimum(d, #{posterior: true});
    /// p.label         //=> posterior_mean
    /// p.x             //=> [[0.4 0.6]]
    /// ```
    #[rhai_fn(name = "load_optimum", return_raw)]
    pub fn load_optimum_with(dir: &str, options: Map) -> RResult<Map> {
        crate::files::check_dir_input(Path::new(dir), "calibration folder").map_err(err)?;
        let o: LoadOptimum = crate::script::options::read(&options, "load_optimum")?;
        let dir = Path::new(dir);
        if o.posterior {
            let p = dir.join("posterior.csv");
            let t = Table::read(&p).map_err(err)?;
            let names: Vec<String> = match t.column("parameter").map_err(err)? {
                crate::table::Column::Text(v) => v.clone(),
                crate::table::Column::Numbers(_) => {
                    return Err(script_err(format!(
                        "{}: column 'parameter' holds numbers, not names",
                        p.display()
                    )))
                }
            };
            let mean = numbers(&t, "mean")?;
            return Ok(point("posterior", "posterior_mean", &names, mean, f64::NAN));
        }
        let p = dir.join("optimum.csv");
        let t = Table::read(&p).map_err(err)?;
        let params = parameter_columns(
            &t,
            &[
                "method",
                "cost",
                "nfev",
                "iterations",
                "seconds",
                "converged",
                "message",
            ],
        );
        let cost = numbers(&t, "cost")?;
        let methods = t.column("method").map_err(err)?;
        let row = match &o.method {
            Some(m) => {
                let m = m.to_string();
                (0..t.len())
                    .find(|&i| methods.value(i) == Value::Text(m.clone()))
                    .ok_or_else(|| {
                        script_err(format!(
                            "{}: no row of method '{m}'",
                            p.display(),
                            m = crate::format::printable(&m)
                        ))
                    })?
            }
            None => (0..t.len())
                .filter(|&i| cost[i].is_finite())
                .min_by(|&a, &b| cost[a].total_cmp(&cost[b]))
                .ok_or_else(|| script_err(format!("{}: no row with a finite cost", p.display())))?,
        };
        let x: Vec<f64> = params
            .iter()
            .map(|c| numbers(&t, c).map(|v| v[row]))
            .collect::<RResult<_>>()?;
        let label = match methods.value(row) {
            Value::Text(s) => s,
            Value::Number(n) => n.to_string(),
        };
        Ok(point("optimized", &label, &params, x, cost[row]))
    }

    /// The `k` best parameter sets of `history_match.csv` in `dir` (the paper's plausible
    /// set, lowest cost first), each as `#{label: "plausible_R", x, parameters, cost}`.
    ///
    /// ```rhai
    /// let d = `${TEMP_DIR}/calib_c`;
    /// table(#{rank: [1, 2, 3], cost: [1.0, 2.0, 3.0], kmax: [0.5, 0.25, 0.75]}).save(`${d}/history_match.csv`);
    /// let p = load_plausible(d, 2);
    /// p.len()       //=> 2
    /// p[1].label    //=> plausible_2
    /// p[1].x        //=> [[0.25]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn load_plausible(dir: &str, k: INT) -> RResult<Array> {
        crate::files::check_dir_input(Path::new(dir), "calibration folder").map_err(err)?;
        let p = Path::new(dir).join("history_match.csv");
        let t = Table::read(&p).map_err(err)?;
        let params = parameter_columns(&t, &["rank", "cost"]);
        let cost = numbers(&t, "cost")?;
        let mut order: Vec<usize> = (0..t.len()).collect();
        order.sort_by(|&a, &b| cost[a].total_cmp(&cost[b]));
        if k < 1 || k as usize > order.len() {
            return Err(script_err(format!(
                "load_plausible: k = {k}, but {} has {} rows",
                p.display(),
                order.len()
            )));
        }
        let cols: Vec<Vec<f64>> = params
            .iter()
            .map(|c| numbers(&t, c))
            .collect::<RResult<_>>()?;
        Ok(order[..k as usize]
            .iter()
            .enumerate()
            .map(|(r, &i)| {
                Dynamic::from_map(point(
                    "plausible",
                    &format!("plausible_{}", r + 1),
                    &params,
                    cols.iter().map(|c| c[i]).collect(),
                    cost[i],
                ))
            })
            .collect())
    }

    /// `k` parameter sets drawn at random (seeded, without replacement; the first `k` of one
    /// permutation, so a larger `k` keeps the smaller's sets) from the posterior draws 06 saved (`posterior_samples.csv` in `dir`), each as `#{label: "draw_R", x,
    /// parameters, cost}` (cost NaN): a posterior predictive ensemble for the test case.
    ///
    /// ```rhai
    /// let d = `${TEMP_DIR}/calib_d`;
    /// table(#{draw: [1, 2, 3, 4], kmax: [0.1, 0.2, 0.3, 0.4], fff: [0.5, 0.6, 0.7, 0.8]})
    ///     .select(["draw", "kmax", "fff"]).save(`${d}/posterior_samples.csv`);
    /// let p = load_posterior_draws(d, 3, 42);
    /// p.len()            //=> 3
    /// p[2].label         //=> draw_3
    /// p[0].parameters    //=> ["kmax", "fff"]
    /// all(load_posterior_draws(d, 4, 42)[1].x == p[1].x)    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn load_posterior_draws(dir: &str, k: INT, seed: INT) -> RResult<Array> {
        use rand::SeedableRng;
        let (params, draws) =
            crate::calibrate::mcmc::load_posterior_samples(Path::new(dir)).map_err(err)?;
        let n = draws.nrows();
        if k < 1 || k as usize > n {
            return Err(script_err(format!(
                "load_posterior_draws: k = {k}, but {dir} holds {n} posterior draws"
            )));
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed as u64);
        // the first k of one seeded permutation: --posterior 10 after --posterior 3 keeps
        // the three draws (and their cases) and adds seven
        let rows = rand::seq::index::sample(&mut rng, n, n);
        Ok(rows
            .iter()
            .take(k as usize)
            .enumerate()
            .map(|(r, i)| {
                Dynamic::from_map(point(
                    "draw",
                    &format!("draw_{}", r + 1),
                    &params,
                    draws.row(i).to_vec(),
                    f64::NAN,
                ))
            })
            .collect())
    }

    /// The ensemble that runs one group of parameter sets in CLM (what `load_optimum`,
    /// `load_plausible` and `load_posterior_draws` give; every set of the group of one
    /// `set`): one ensemble per kind of set, so that a case name always means one set. The
    /// optimum's folder is `OUT/test_case` and its cases follow the config's `[cases]
    /// test_case` (default `EXPERIMENT_opt_{member}`); another kind's folder is
    /// `OUT/test_case_SET` and `{member}` becomes `SET{member}` (`demo_test_plausible2`).
    ///
    /// ```rhai
    /// import "experiment" as ex;
    /// let cfg = ex::config(#{out: `${TEMP_DIR}/out`});
    /// let d = `${TEMP_DIR}/calib_e`;
    /// table(#{rank: [1, 2], cost: [1.0, 2.0], kmax: [0.5, 0.25]}).save(`${d}/history_match.csv`);
    /// let e = test_case_ensemble(cfg, load_plausible(d, 2));
    /// e.name     //=> test_case_plausible
    /// e.cases    //=> ["demo_test_plausible1", "demo_test_plausible2"]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn test_case_ensemble(cfg: Map, sets: Array) -> RResult<ScriptEnsemble> {
        let (c, _) = crate::script::config::config_from_map(&cfg)?;
        let field = |i: usize, s: &Dynamic, key: &str| -> RResult<Dynamic> {
            s.read_lock::<Map>()
                .and_then(|m| m.get(key).cloned())
                .ok_or_else(|| {
                    script_err(format!(
                        "parameter set {}: a map with '{key}' (what load_optimum, load_plausible and load_posterior_draws give), not {}",
                        i + 1,
                        type_name(s)
                    ))
                })
        };
        let first = sets
            .first()
            .ok_or_else(|| script_err("test_case_ensemble: no parameter sets"))?;
        let set = field(0, first, "set")?.to_string();
        for (i, s) in sets.iter().enumerate() {
            let other = field(i, s, "set")?.to_string();
            if other != set {
                return Err(script_err(format!(
                    "parameter set {} is a {other} set, the first a {set} set: one ensemble holds one kind of set",
                    i + 1,
                    other = crate::format::printable(&other),
                    set = crate::format::printable(&set)
                )));
            }
        }
        let parameters = field(0, first, "parameters")?.into_array().map_err(|t| {
            script_err(format!(
                "parameter set 1: parameters is a list of names, not {t}"
            ))
        })?;
        let scalings: Array = sets
            .iter()
            .enumerate()
            .map(|(i, s)| field(i, s, "scalings"))
            .collect::<RResult<_>>()?;
        let pattern = c
            .cases
            .test_case
            .clone()
            .unwrap_or_else(|| format!("{}_opt_{{member}}", c.experiment.name));
        let (name, pattern) = if set == "optimized" {
            ("test_case".to_string(), pattern)
        } else {
            (
                format!("test_case_{set}"),
                pattern.replace("{member}", &format!("{set}{{member}}")),
            )
        };
        crate::script::ensemble::ensemble_fns::ensemble(cfg, &name, parameters, scalings, &pattern)
    }

    /// Refuses a config whose `[archive] root` is not the one the EOF stage was read from:
    /// the test case's runs are read from the stage's archive, so a config for another
    /// experiment (or a stage made with another config) would silently mix the two. 07 calls
    /// it first, so that a dry run says so too.
    #[rhai_fn(return_raw)]
    pub fn check_archive(cfg: Map, stage: ScriptEofStage) -> RResult<()> {
        let (c, _) = crate::script::config::config_from_map(&cfg)?;
        let same = |a: &std::path::Path, b: &std::path::Path| {
            a == b
                || a.canonicalize()
                    .ok()
                    .is_some_and(|x| b.canonicalize().ok() == Some(x))
        };
        let s = &stage.0.settings;
        if s.processed.is_none() && !same(&c.archive.root, &s.archive_root) {
            return Err(script_err(format!(
                "the config {} reads the archive {}, but the EOF stage was made from {}: the test case's runs would be read there; give the config that made the stage, or run 03 again with this one",
                crate::format::quote_path(&c.path),
                crate::format::quote_path(&c.archive.root),
                crate::format::quote_path(&s.archive_root)
            )));
        }
        Ok(())
    }

    /// Judges runs of calibrated parameters against the observations and the stage's
    /// default run: `runs` lists `#{label, case, emulated}` (`emulated`, optional: per
    /// calibration variable the emulated PCs, e.g. `cost.emulate(x)`); the stage gives the
    /// archive, the analysed and observed years, the observation file and the EOFs; the
    /// config's `[test_case] variables` add variables the calibration did not use (skipped
    /// with a note when the observations lack them). Label the optimum `optimized`: Table 2
    /// then reads `optimized-obs` and `default-obs`.
    #[rhai_fn(return_raw)]
    pub fn test_case(cfg: Map, stage: ScriptEofStage, runs: Array) -> RResult<ScriptTestCase> {
        let (c, _) = crate::script::config::config_from_map(&cfg)?;
        check_archive(cfg.clone(), stage.clone())?;
        let further: Vec<Variable> = c
            .test_case
            .as_ref()
            .map(|t| {
                t.variables
                    .iter()
                    .map(|(n, v)| Variable {
                        name: n.clone(),
                        obs: v.obs.clone(),
                        model: v.model.clone(),
                        calibrated: false,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut list = Vec::new();
        let mut emulated = Vec::new();
        for (i, r) in runs.iter().enumerate() {
            let m = r.read_lock::<Map>().ok_or_else(|| {
                script_err(format!(
                    "runs[{i}] is {}; give #{{label, case, emulated}}",
                    type_name(r)
                ))
            })?;
            let get = |k: &str| -> RResult<String> {
                m.get(k)
                    .and_then(|d| d.clone().into_string().ok())
                    .ok_or_else(|| {
                        script_err(format!(
                            "runs[{i}] needs a text '{k}'",
                            k = crate::format::printable(k)
                        ))
                    })
            };
            let label = get("label")?;
            list.push((label.clone(), get("case")?));
            emulated.push(match m.get("emulated") {
                Some(d) => {
                    let e = d.read_lock::<Map>().ok_or_else(|| {
                        script_err(format!(
                            "runs[{i}].emulated is {}; give a map of variable -> PCs",
                            type_name(d)
                        ))
                    })?;
                    emulated_of(&e, &label)?
                }
                None => BTreeMap::new(),
            });
        }
        crate::test_case::TestCase::read(&stage.0, &further, &list, &emulated)
            .map(|t| ScriptTestCase(Arc::new(t)))
            .map_err(err)
    }

    /// `pcs.csv` (Fig. 10): variable, mode, observed, default, emulated, simulated, run.
    #[rhai_fn(get = "pcs", pure)]
    pub fn pcs(t: &mut ScriptTestCase) -> ScriptTable {
        ScriptTable(Arc::new(t.0.pcs.clone()))
    }

    /// `bias_table.csv` (Table 2): region, comparison (`optimized-obs`, `default-obs`), one
    /// column per variable (`gpp`, `lhf`, ...), land area-weighted mean bias in the paper's
    /// units.
    #[rhai_fn(get = "bias_table", pure)]
    pub fn bias_table(t: &mut ScriptTestCase) -> ScriptTable {
        ScriptTable(Arc::new(t.0.bias_table.clone()))
    }

    /// `spread.csv`, the posterior predictive check of `07 --posterior K`: over the runs
    /// labelled `draw_R`, per simulated PC and per Table 2 bias: quantity (`pc`, `bias`),
    /// variable, item (mode or region), target (the observed PC; 0 for a bias), optimized,
    /// min, mean, max, sd, runs, covers (the target within min..max). Empty without draws.
    #[rhai_fn(get = "spread", pure)]
    pub fn spread(t: &mut ScriptTestCase) -> ScriptTable {
        ScriptTable(Arc::new(t.0.spread.clone()))
    }

    /// `climatology.csv` (Figs. S12-S13): region, variable, units, source, month, value.
    #[rhai_fn(get = "climatology", pure)]
    pub fn climatology(t: &mut ScriptTestCase) -> ScriptTable {
        ScriptTable(Arc::new(t.0.climatology.clone()))
    }

    /// `rmse.csv`: variable, units, run, rmse (over the analysed cells, unweighted as the
    /// EOF stage's), rmse_area_weighted, cells.
    #[rhai_fn(get = "rmse", pure)]
    pub fn rmse(t: &mut ScriptTestCase) -> ScriptTable {
        ScriptTable(Arc::new(t.0.rmse.clone()))
    }

    /// Notes: further variables skipped, regions without land.
    #[rhai_fn(get = "notes", pure)]
    pub fn notes(t: &mut ScriptTestCase) -> Array {
        t.0.notes.iter().cloned().map(Dynamic::from).collect()
    }

    /// One sentence per run and variable: closer to or farther from the observations than
    /// the default run, with both RMSEs.
    #[rhai_fn(get = "verdict", pure)]
    pub fn verdict(t: &mut ScriptTestCase) -> Array {
        t.0.verdict().into_iter().map(Dynamic::from).collect()
    }

    /// Writes `pcs.csv`, `bias_table.csv`, `climatology.csv`, `rmse.csv`, `bias_maps.nc`
    /// and the figures (`fig10_pcs.png`, `fig11_bias_maps.png`, `bias_maps_VAR.png` for a
    /// variable not calibrated on, `climatology_VAR.png`) into `dir`, atomically; returns
    /// the paths.
    #[rhai_fn(name = "save", pure, return_raw)]
    pub fn save(t: &mut ScriptTestCase, dir: &str) -> RResult<Array> {
        let history = format!("{}: clmtune test case", crate::files::now_utc());
        t.0.save(Path::new(dir), &history)
            .map(|v| {
                v.iter()
                    .map(|p| Dynamic::from(p.display().to_string()))
                    .collect()
            })
            .map_err(err)
    }

    /// A one-line summary.
    #[rhai_fn(name = "to_string", global, pure)]
    pub fn to_string(t: &mut ScriptTestCase) -> String {
        t.0.to_string()
    }

    /// The same summary (used by the REPL).
    #[rhai_fn(name = "to_debug", global, pure)]
    pub fn to_debug(t: &mut ScriptTestCase) -> String {
        t.0.to_string()
    }
}

/// The `test_case` module.
pub fn module() -> Module {
    exported_module!(test_case_fns)
}
