//! The script `Eof` type: an EOF analysis built once from an ensemble field, then cheap
//! accessors in the manner of Python's eofs package.

use super::array::NdArray;
use super::convert::{script_err, type_name, RResult};
use super::ensemble::ScriptEnsemble;
use super::field::ScriptField;
use crate::eof::stage::{EofStage, Runs, Settings};
use crate::eof::{Eof, Weighting};
use crate::field::Grid;
use ndarray::{Array2, ArrayD, Ix2};
use rhai::plugin::*;
use rhai::{Array, Dynamic, Map, Module, INT};
use std::sync::Arc;

/// An EOF analysis with the coordinates of its maps.
#[derive(Clone, Debug)]
pub struct ScriptEof {
    eof: Arc<Eof>,
    grid: Arc<Grid>,
}

/// The EOF stage's results (script type `EofStage`).
#[derive(Clone, Debug)]
pub struct ScriptEofStage(pub Arc<EofStage>);

impl ScriptEofStage {
    fn var(&self, name: &str) -> RResult<&crate::eof::stage::VariableResult> {
        self.0.variable(name).map_err(err)
    }
    fn eof_of(&self, name: &str) -> RResult<ScriptEof> {
        Ok(ScriptEof {
            eof: Arc::new(self.var(name)?.eof.clone()),
            grid: self.0.grid.clone(),
        })
    }
}

/// The members of a script ensemble the stage reads, as its [`Runs`]: the complete ones
/// (every one, unless `[cases] failed = "drop"` drops those that failed).
fn runs_of(e: &ScriptEnsemble) -> RResult<Runs> {
    let e = &e.0;
    let used = e.usable().map_err(err)?;
    let members: Vec<&crate::ensemble::Member> =
        used.complete.iter().map(|&i| &e.members[i]).collect();
    Ok(Runs {
        name: e.name.clone(),
        members: members.iter().map(|m| m.label.clone()).collect(),
        cases: members.iter().map(|m| m.case.clone()).collect(),
        parameters: e.params.iter().map(|p| p.name.clone()).collect(),
        scalings: Array2::from_shape_fn((members.len(), e.params.len()), |(i, j)| {
            members[i]
                .scalings
                .get(j)
                .copied()
                .flatten()
                .unwrap_or(f64::NAN)
        }),
        dropped: used.dropped,
    })
}

fn strings(v: &[String]) -> Array {
    v.iter().cloned().map(Dynamic::from).collect()
}

fn history() -> String {
    let cmd: Vec<String> = std::env::args().collect();
    format!("{}: {}", crate::files::now_utc(), cmd.join(" "))
}

fn err(e: anyhow::Error) -> Box<EvalAltResult> {
    script_err(format!("{e:#}"))
}

fn modes(n: INT) -> RResult<usize> {
    usize::try_from(n).map_err(|_| script_err(format!("the number of modes must be >= 1, got {n}")))
}

fn arr<D: ndarray::Dimension>(a: ndarray::Array<f64, D>) -> NdArray {
    NdArray::new(a.into_dyn())
}

/// Maps (k, lat, lon) or (k, cell) from a Field or an Array with one map of `map_ndim`
/// dimensions (2 on a lat/lon grid, 1 on a 1-D grid) or several; `single` tells whether it
/// was one map.
fn maps_of(d: &Dynamic, map_ndim: usize) -> RResult<(ArrayD<f64>, bool)> {
    let data = if let Some(f) = d.read_lock::<ScriptField>() {
        f.0.values.clone()
    } else if let Some(a) = d.read_lock::<NdArray>() {
        a.data().clone()
    } else {
        return Err(script_err(format!(
            "expected a Field or an Array of maps, not {}",
            type_name(d)
        )));
    };
    let what = if map_ndim == 2 {
        "(lat, lon)"
    } else {
        "(cell)"
    };
    match data.ndim() {
        n if n == map_ndim => Ok((data.insert_axis(ndarray::Axis(0)), true)),
        n if n == map_ndim + 1 => Ok((data, false)),
        n => Err(script_err(format!(
            "expected one {what} map or (k, ...) maps, not {n}-D"
        ))),
    }
}

/// The functions of the `eof` module.
/// The options of `eof(field, options)`: `weights` a name or an Array and `mask` an
/// Array, checked against the grid after reading.
#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct EofOptions {
    weights: Option<Dynamic>,
    mask: Option<Dynamic>,
    #[serde(alias = "center")]
    centre: bool,
}

impl Default for EofOptions {
    fn default() -> Self {
        EofOptions {
            weights: None,
            mask: None,
            centre: true,
        }
    }
}

#[export_module]
pub mod eof_fns {
    use super::*;

    /// An EOF analysis (Dagon et al. 2020, Eq. 3): the SVD `X = U s V` of the weighted
    /// anomalies (member minus ensemble mean, times the cell weight) of a (member, lat, lon)
    /// field over the cells defined in every member (and inside the mask, if given). Each
    /// EOF's largest loading is positive (the sign convention), so results compare between runs.
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], "GPP", [1, 1]);
    /// let e = eof(ens.GPP);
    /// e.variance_fraction().sum()    //=> 1.0
    /// ```
    pub type Eof = ScriptEof;

    /// Builds an EOF analysis of a (member, lat, lon) field with cell-area weights.
    #[rhai_fn(name = "eof", return_raw)]
    pub fn eof_default(field: ScriptField) -> RResult<ScriptEof> {
        eof_opts(field, Map::new())
    }

    /// Builds an EOF analysis with options: `weights` ("area", the authors' choice and the
    /// default; "sqrt_area"; "none"; or an Array that broadcasts to (lat, lon), multiplied
    /// into the anomalies as Python eofs' `weights=`, cells of weight 0 left out) and `mask`
    /// (a lat x lon Array, e.g. the observation data mask; cells where it is false are left
    /// out). eofs' usual `sqrt(cos(lat))` weights give eofs' EOFs and variance fractions;
    /// its PCs (`pcscaling=0`) are `e.pcs(n) * e.singular_values()[0..n]`.
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], "GPP", [1, 1]);
    /// let w = sqrt(cos(ens.GPP.lat * PI() / 180)).reshape([-1, 1]);   // (lat, 1) broadcasts
    /// eof(ens.GPP, #{weights: w}).weights.shape    //=> [2, 3]
    /// ```
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], "GPP", [1, 1]);
    /// let e = eof(ens.GPP, #{weights: "none", mask: array([[true, true, true], [false, true, true]])});
    /// e.mask    //=> [[ True  True False]
    ///           //=>  [False  True  True]]
    /// ```
    #[rhai_fn(name = "eof", return_raw)]
    pub fn eof_opts(field: ScriptField, options: Map) -> RResult<ScriptEof> {
        let f = &field.0;
        let mut want = vec!["member".to_string()];
        want.extend(f.grid.dims());
        if f.dims != want {
            return Err(script_err(format!(
                "eof needs a ({}) field, not ({}): take time means first",
                want.join(", "),
                f.dims.join(", ")
            )));
        }
        let gshape = f.grid.spatial_shape();
        let shape_text = |s: &[usize]| {
            s.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let o: EofOptions = crate::script::options::read(&options, "eof")?;
        let mut weighting = Weighting::Area;
        let mut given: Option<ArrayD<f64>> = None;
        let mut mask: Option<ArrayD<f64>> = None;
        if let Some(v) = &o.weights {
            if let Some(a) = v.read_lock::<NdArray>() {
                let w = a.data().broadcast(ndarray::IxDyn(&gshape)).ok_or_else(|| {
                    script_err(format!(
                        "option weights: an Array of shape ({}) does not broadcast to the grid's ({})",
                        shape_text(a.data().shape()),
                        shape_text(&gshape)
                    ))
                })?;
                given = Some(w.to_owned());
                weighting = Weighting::Given;
            } else {
                weighting = v.to_string().parse().map_err(err)?;
            }
        }
        if let Some(v) = &o.mask {
            let bad = || {
                script_err(format!(
                    "option mask is an Array of the grid's shape ({})",
                    shape_text(&gshape)
                ))
            };
            let a = v.read_lock::<NdArray>().ok_or_else(bad)?;
            if a.data().shape() != gshape {
                return Err(bad());
            }
            mask = Some(a.data().clone());
        }
        let centre = o.centre;
        let area = f.grid.shaped(&f.grid.area).map_err(err)?;
        let weights = given.as_ref().unwrap_or(&area);
        let e =
            crate::eof::Eof::with_centring(&f.values, weights, mask.as_ref(), weighting, centre)
                .map_err(err)?;
        Ok(ScriptEof {
            eof: Arc::new(e),
            grid: f.grid.clone(),
        })
    }

    /// The first `n` EOFs as maps (mode, lat, lon); NaN outside the analysed cells.
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], "GPP", [1, 1]);
    /// eof(ens.GPP).eofs(2).shape    //=> [2, 2, 3]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn eofs(e: &mut ScriptEof, n: INT) -> RResult<NdArray> {
        e.eof.eofs(modes(n)?).map(arr).map_err(err)
    }

    /// The first `n` principal components (member x mode): the columns of U the emulators learn.
    #[rhai_fn(return_raw, pure)]
    pub fn pcs(e: &mut ScriptEof, n: INT) -> RResult<NdArray> {
        e.eof.pcs(modes(n)?).map(arr).map_err(err)
    }

    /// The singular values, descending.
    #[rhai_fn(pure)]
    pub fn singular_values(e: &mut ScriptEof) -> NdArray {
        arr(e.eof.singular_values().clone())
    }

    /// The fraction of variance of each mode, `s_k^2 / sum s^2`.
    #[rhai_fn(pure)]
    pub fn variance_fraction(e: &mut ScriptEof) -> NdArray {
        arr(e.eof.variance_fraction())
    }

    /// The ensemble mean map.
    #[rhai_fn(get = "mean", pure)]
    pub fn mean(e: &mut ScriptEof) -> NdArray {
        arr(e.eof.mean())
    }

    /// The weight of each analysed cell (a map).
    #[rhai_fn(get = "weights", pure)]
    pub fn weights(e: &mut ScriptEof) -> NdArray {
        arr(e.eof.weights())
    }

    /// The analysed cells (a lat x lon mask).
    #[rhai_fn(get = "mask", pure)]
    pub fn mask(e: &mut ScriptEof) -> NdArray {
        NdArray::new_mask(e.eof.mask().into_dyn())
    }

    /// Projects one map (lat, lon) or several (k, lat, lon) — a Field or an Array, e.g. the
    /// observations of each year — onto the first `n` modes (Eq. 5, with the pseudo-inverse):
    /// `n` PCs for one map, k x n for several. A member's own map gives back its PCs.
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], "GPP", [1, 1]);
    /// let e = eof(ens.GPP);
    /// allclose(e.project(ens.GPP, 2), e.pcs(2))    //=> true
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn project(e: &mut ScriptEof, maps: Dynamic, n: INT) -> RResult<NdArray> {
        let (m, single) = maps_of(&maps, e.eof.map_shape().len())?;
        let p = e.eof.project(&m, modes(n)?).map_err(err)?;
        Ok(if single {
            arr(p.row(0).to_owned())
        } else {
            arr(p)
        })
    }

    /// The members rebuilt from the first `n` modes, in the original units (member, lat, lon).
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], "GPP", [1, 1]);
    /// let e = eof(ens.GPP);
    /// nanmax(abs(e.reconstruct(3) - ens.GPP.values)) < 1e-10    //=> true
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn reconstruct(e: &mut ScriptEof, n: INT) -> RResult<NdArray> {
        e.eof.reconstruct(modes(n)?).map(arr).map_err(err)
    }

    /// Maps rebuilt from given PCs (cases x modes), e.g. emulated ones.
    #[rhai_fn(return_raw, pure)]
    pub fn reconstruct_from(e: &mut ScriptEof, pcs: NdArray) -> RResult<NdArray> {
        let p = pcs
            .data()
            .clone()
            .into_dimensionality::<Ix2>()
            .map_err(|_| script_err("pcs are a cases x modes Array"))?;
        e.eof.reconstruct_from(&p).map(arr).map_err(err)
    }

    /// Saves the analysis as netCDF (EOF maps, PCs, singular values, variance fractions,
    /// mean, weights, mask).
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], "GPP", [1, 1]);
    /// let e = eof(ens.GPP);
    /// e.save(`${TEMP_DIR}/eof.nc`);
    /// load_eof(`${TEMP_DIR}/eof.nc`).singular_values() == e.singular_values()    //=> [ True  True  True]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn save(e: &mut ScriptEof, path: &str) -> RResult<()> {
        let cmd: Vec<String> = std::env::args().collect();
        let history = format!("{}: {}", crate::files::now_utc(), cmd.join(" "));
        e.eof
            .save(std::path::Path::new(path), &e.grid, &history)
            .map_err(err)
    }

    /// Loads an analysis saved with `save`.
    #[rhai_fn(return_raw)]
    pub fn load_eof(path: &str) -> RResult<ScriptEof> {
        let (e, grid) = crate::eof::Eof::load(std::path::Path::new(path)).map_err(err)?;
        Ok(ScriptEof {
            eof: Arc::new(e),
            grid: Arc::new(grid),
        })
    }

    /// Saves several analyses (a map of name -> Eof, e.g. one per calibration variable) in
    /// one netCDF file: variables `NAME_eof`, `NAME_pcs`, `NAME_mean`, `NAME_weights`,
    /// `NAME_mask`, ... (the contract's `eof/eof.nc`).
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], "GPP", [1, 1]);
    /// let e = eof(ens.GPP);
    /// save_eofs(`${TEMP_DIR}/eofs.nc`, #{GPP: e, GPP2: eof(ens.GPP, #{weights: "none"})});
    /// load_eof(`${TEMP_DIR}/eofs.nc`, "GPP").pcs(2) == e.pcs(2)    //=> [[ True  True]
    ///                                                               //=>  [ True  True]
    ///                                                               //=>  [ True  True]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn save_eofs(path: &str, eofs: Map) -> RResult<()> {
        let mut items: Vec<(String, ScriptEof)> = Vec::new();
        for (k, v) in eofs {
            let e = v
                .try_cast::<ScriptEof>()
                .ok_or_else(|| script_err(format!("save_eofs: {k} is not an Eof")))?;
            items.push((k.to_string(), e));
        }
        let first = items
            .first()
            .ok_or_else(|| script_err("save_eofs: no analysis to save"))?
            .1
            .clone();
        let refs: Vec<crate::eof::NamedEof> = items
            .iter()
            .map(|(k, e)| crate::eof::NamedEof {
                name: k.as_str(),
                eof: e.eof.as_ref(),
                cases: None,
                units: None,
            })
            .collect();
        let cmd: Vec<String> = std::env::args().collect();
        let history = format!("{}: {}", crate::files::now_utc(), cmd.join(" "));
        crate::eof::save_all(std::path::Path::new(path), &refs, &first.grid, &history).map_err(err)
    }

    /// Loads the analysis `name` of a file written by `save_eofs`.
    #[rhai_fn(name = "load_eof", return_raw)]
    pub fn load_eof_named(path: &str, name: &str) -> RResult<ScriptEof> {
        let (e, grid) =
            crate::eof::Eof::load_named(std::path::Path::new(path), name).map_err(err)?;
        Ok(ScriptEof {
            eof: Arc::new(e),
            grid: Arc::new(grid),
        })
    }

    /// Root-mean-square difference of each map of `maps` (k, lat, lon) from `target` (lat,
    /// lon) over the cells where both are defined (the error decomposition of Fig. 6).
    ///
    /// ```rhai
    /// rmse(array([[[1.0, 2.0]]]), array([[2.0, 4.0]]))    //=> [1.58113883]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn rmse(maps: Dynamic, target: Dynamic) -> RResult<NdArray> {
        let t = if let Some(f) = target.read_lock::<ScriptField>() {
            f.0.values.clone()
        } else if let Some(a) = target.read_lock::<NdArray>() {
            a.data().clone()
        } else {
            return Err(script_err(format!(
                "the target of rmse is one map (a Field or an Array), not {}",
                type_name(&target)
            )));
        };
        let (m, _) = maps_of(&maps, t.ndim())?;
        crate::metrics::rmse_maps(&m, &t).map(arr).map_err(err)
    }

    /// A one-line summary.
    #[rhai_fn(global, pure)]
    pub fn to_string(e: &mut ScriptEof) -> String {
        let f = e.eof.variance_fraction();
        let shown: Vec<String> = f.iter().take(3).map(|x| format!("{:.3}", x)).collect();
        format!(
            "Eof: {} modes over {} cells; variance fractions {} ...",
            e.eof.modes(),
            e.eof.mask().sum() as usize,
            shown.join(", ")
        )
    }

    /// The same summary (used by the REPL).
    #[rhai_fn(global, pure)]
    pub fn to_debug(e: &mut ScriptEof) -> String {
        to_string(e)
    }

    /// The EOF stage's results (Dagon et al. 2020, sections 3.1 and 4.1), built by
    /// `eof_stage` or read back by `load_eof_stage`: per calibration variable the Eof, the
    /// ensemble's PCs (what the emulators learn) joined by case to the members' scalings,
    /// the second ensemble's projected PCs, U_obs, sigma, lambda and the default run's
    /// projection. `stage.save(dir)` writes the contract's `eof/` files.
    pub type EofStage = ScriptEofStage;

    /// Runs the EOF stage on complete runs: reads the time means of the analysed years of
    /// the ensemble `ppe` and of the default run `dflt` (`default_run(cfg)`), and the
    /// observations of `[observations]` regridded to the model grid; for each calibration
    /// variable makes the EOFs of the ensemble over the cells the observations cover
    /// (`min_coverage` of the months of `years`), projects the observed mean (Eq. 5), each
    /// single year of `sigma_years` (sigma = their standard deviation, ddof 0, Eq. 6) and the
    /// default run, and keeps `[emulator] modes` modes.
    #[rhai_fn(return_raw)]
    pub fn eof_stage(
        cfg: Map,
        ppe: ScriptEnsemble,
        dflt: ScriptEnsemble,
    ) -> RResult<ScriptEofStage> {
        let _step = crate::provenance::step("eof_stage");
        stage_of(&cfg, &ppe, &dflt, None)
    }

    /// For a dry run: opens every observation file the EOF stage will read and checks its
    /// variable, dimensions and years (observed and sigma years), without reading values;
    /// every problem is reported at once in one error. Prints what it checked.
    #[rhai_fn(return_raw)]
    pub fn check_eof_inputs(cfg: Map) -> RResult<()> {
        check_eof_inputs_of_runs(cfg, Array::new())
    }

    /// For a dry run: as `check_eof_inputs(cfg)`, and the ensembles the stage reads
    /// (`[ppe(cfg), default_run(cfg), ...]`): every member complete in the archive (with
    /// backend `none`, each missing or incomplete case named with its history folder; with
    /// a batch backend, members never submitted or failed), and one complete case's history
    /// files read for every calibration variable over the analysed years. Every problem is
    /// reported at once in one error; what would be run or waited for is printed.
    #[rhai_fn(name = "check_eof_inputs", return_raw)]
    pub fn check_eof_inputs_of_runs(cfg: Map, runs: Array) -> RResult<()> {
        let (c, _) = crate::script::config::config_from_map(&cfg)?;
        let settings = Settings::from_config(&c).map_err(err)?;
        let mut problems = Vec::new();
        let mut read_one: Option<String> = None;
        for (k, r) in runs.into_iter().enumerate() {
            let ens = r.try_cast::<ScriptEnsemble>().ok_or_else(|| {
                script_err(format!(
                    "check_eof_inputs: runs[{k}] is not an Ensemble (e.g. ppe(cfg), default_run(cfg))"
                ))
            })?;
            let ready = ens.0.readiness().map_err(err)?;
            for n in &ready.notes {
                crate::output::println(&format!("dry run: {n}"));
            }
            if ready.problems.is_empty() {
                let n = ready.complete.len();
                crate::output::println(&format!(
                    "dry run: {}: {n} member{} complete in the archive",
                    ens.0.name,
                    if n == 1 { "" } else { "s" }
                ));
            }
            problems.extend(ready.problems);
            if read_one.is_none() {
                if let Some(case) = ready.complete.first() {
                    match settings.check_reading(case) {
                        Ok(()) => read_one = Some(case.clone()),
                        Err(e) => {
                            problems.push(format!("{e:#}"));
                            read_one = Some(String::new());
                        }
                    }
                }
            }
        }
        problems.extend(settings.check_inputs());
        if !problems.is_empty() {
            return Err(script_err(format!(
                "dry run: {} problem(s) with what the EOF stage reads:\n  {}",
                problems.len(),
                problems.join("\n  ")
            )));
        }
        let names: Vec<&str> = settings.variables.iter().map(|v| v.name.as_str()).collect();
        if let Some(case) = read_one.filter(|c| !c.is_empty()) {
            crate::output::println(&format!(
                "dry run: {} read from case {case} (history variables, grid, years {}-{})",
                names.join(", "),
                settings.years.0,
                settings.years.1
            ));
        }
        if settings.processed.is_none() {
            crate::output::println(&format!(
                "dry run: observations of {} checked (files, variables, dimensions, years)",
                names.join(", ")
            ));
        }
        Ok(())
    }

    /// Runs the EOF stage on the post-processed ensemble of the config's `[processed]`
    /// section instead of the archive (see the README, "The paper on its own data"): the
    /// members' maps and the default run's from their files, the design's scalings, and the
    /// observations' targets from `u_obs`/`sigma` files or from `[observations]`.
    #[rhai_fn(name = "eof_stage", return_raw)]
    pub fn eof_stage_processed(cfg: Map) -> RResult<ScriptEofStage> {
        let _step = crate::provenance::step("eof_stage");
        let (c, _) = crate::script::config::config_from_map(&cfg)?;
        if c.processed.is_none() {
            return Err(script_err(
                "eof_stage(cfg) reads a [processed] ensemble, and this config has none: use eof_stage(cfg, ppe(cfg), default_run(cfg))",
            ));
        }
        let settings = Settings::from_config(&c).map_err(err)?;
        crate::eof::stage::EofStage::from_processed(
            settings,
            &c.parameters.calibrate,
            c.cases.ppe.as_deref(),
        )
        .map(|s| ScriptEofStage(Arc::new(s)))
        .map_err(err)
    }

    /// The EOF stage with a second, independent ensemble `ppe_test` projected onto the
    /// ensemble's EOFs (the emulators' out-of-sample test data).
    #[rhai_fn(name = "eof_stage", return_raw)]
    pub fn eof_stage_test(
        cfg: Map,
        ppe: ScriptEnsemble,
        dflt: ScriptEnsemble,
        ppe_test: ScriptEnsemble,
    ) -> RResult<ScriptEofStage> {
        let _step = crate::provenance::step("eof_stage");
        stage_of(&cfg, &ppe, &dflt, Some(&ppe_test))
    }

    /// Reads a folder written by `stage.save(dir)` back, identical, without the archive.
    #[rhai_fn(return_raw)]
    pub fn load_eof_stage(dir: &str) -> RResult<ScriptEofStage> {
        let s = crate::eof::stage::EofStage::load(std::path::Path::new(dir)).map_err(err)?;
        // every stage after 03 reads the EOF stage: each says which members it goes without
        for runs in std::iter::once(&s.ppe).chain(&s.ppe_test) {
            if let Some(note) = runs.dropped_note() {
                crate::output::println(&note);
                crate::provenance::members(
                    &runs.name,
                    serde_json::json!({
                        "used": runs.cases.len(),
                        "dropped": runs.dropped,
                        "from": format!("{dir}/stage.json"),
                    }),
                );
            }
        }
        Ok(ScriptEofStage(Arc::new(s)))
    }

    /// Writes the contract's files into `dir` (e.g. `OUT/eof`): `variance_fraction.csv`
    /// (every mode), `pcs.csv` (ensemble, member, case, variable, mode, pc), `projections.csv`
    /// (obs, default, obs_YYYY), `targets.csv` (variable, mode, u_obs, sigma, lambda,
    /// u_default), `scalings.csv` (ensemble, member, case, one column per parameter),
    /// `rmse.csv` (Fig. 6a-b), `eof.nc` and `stage.json` (the settings).
    #[rhai_fn(name = "save", return_raw, pure)]
    pub fn save_stage(s: &mut ScriptEofStage, dir: &str) -> RResult<()> {
        let _step = crate::provenance::step("save eof stage");
        s.0.save(std::path::Path::new(dir), &history()).map_err(err)
    }

    /// The calibration variables, in config order.
    #[rhai_fn(get = "variables", pure)]
    pub fn stage_variables(s: &mut ScriptEofStage) -> Array {
        s.0.variables
            .iter()
            .map(|v| Dynamic::from(v.name.clone()))
            .collect()
    }
    /// The number of modes kept per variable.
    #[rhai_fn(get = "modes", pure)]
    pub fn stage_modes(s: &mut ScriptEofStage) -> INT {
        s.0.settings.modes as INT
    }
    /// The parameters whose scalings are the emulators' inputs.
    #[rhai_fn(get = "parameters", pure)]
    pub fn stage_parameters(s: &mut ScriptEofStage) -> Array {
        strings(&s.0.ppe.parameters)
    }
    /// The ensemble's cases, in the row order of `scalings` and `pcs(v)`.
    #[rhai_fn(get = "cases", pure)]
    pub fn stage_cases(s: &mut ScriptEofStage) -> Array {
        strings(&s.0.ppe.cases)
    }
    /// The ensemble's scalings in [0, 1], members x parameters: the emulators' X.
    #[rhai_fn(get = "scalings", pure)]
    pub fn stage_scalings(s: &mut ScriptEofStage) -> NdArray {
        arr(s.0.ppe.scalings.clone())
    }
    /// The second ensemble's cases (empty without one).
    #[rhai_fn(get = "test_cases", pure)]
    pub fn stage_test_cases(s: &mut ScriptEofStage) -> Array {
        s.0.ppe_test
            .as_ref()
            .map(|t| strings(&t.cases))
            .unwrap_or_default()
    }
    /// The second ensemble's scalings, members x parameters (an error without one).
    #[rhai_fn(get = "test_scalings", pure, return_raw)]
    pub fn stage_test_scalings(s: &mut ScriptEofStage) -> RResult<NdArray> {
        s.0.ppe_test
            .as_ref()
            .map(|t| arr(t.scalings.clone()))
            .ok_or_else(|| script_err("this EOF stage has no second ensemble (ppe_test)"))
    }
    /// The default run's case.
    #[rhai_fn(get = "default_case", pure)]
    pub fn stage_default_case(s: &mut ScriptEofStage) -> String {
        s.0.default_case.clone()
    }
    /// Latitudes of the maps.
    #[rhai_fn(get = "lat", pure)]
    pub fn stage_lat(s: &mut ScriptEofStage) -> NdArray {
        arr(ndarray::Array1::from(s.0.grid.lat.clone()))
    }
    /// Longitudes of the maps.
    #[rhai_fn(get = "lon", pure)]
    pub fn stage_lon(s: &mut ScriptEofStage) -> NdArray {
        arr(ndarray::Array1::from(s.0.grid.lon.clone()))
    }
    /// The EOF analysis of variable `v`.
    #[rhai_fn(name = "eof", return_raw, pure)]
    pub fn stage_eof(s: &mut ScriptEofStage, v: &str) -> RResult<ScriptEof> {
        s.eof_of(v)
    }
    /// The ensemble's PCs of variable `v`, members x modes: the emulators' Y.
    #[rhai_fn(name = "pcs", return_raw, pure)]
    pub fn stage_pcs(s: &mut ScriptEofStage, v: &str) -> RResult<NdArray> {
        Ok(arr(s.var(v)?.pcs.clone()))
    }
    /// The second ensemble's maps of `v` projected onto the EOFs, members x modes.
    #[rhai_fn(return_raw, pure)]
    pub fn test_pcs(s: &mut ScriptEofStage, v: &str) -> RResult<NdArray> {
        s.var(v)?
            .test_pcs
            .clone()
            .map(arr)
            .ok_or_else(|| script_err("this EOF stage has no second ensemble (ppe_test)"))
    }
    /// The observed mean of `v` projected onto the EOFs (U_obs, Eq. 5), one value per mode.
    #[rhai_fn(return_raw, pure)]
    pub fn u_obs(s: &mut ScriptEofStage, v: &str) -> RResult<NdArray> {
        Ok(arr(s.var(v)?.u_obs.clone()))
    }
    /// Sigma of `v` per mode (Eq. 6): the standard deviation (ddof 0) of the projections of
    /// the single years of `sigma_years`.
    #[rhai_fn(return_raw, pure)]
    pub fn sigma(s: &mut ScriptEofStage, v: &str) -> RResult<NdArray> {
        Ok(arr(s.var(v)?.sigma.clone()))
    }
    /// The variance fractions of the kept modes of `v` (lambda of Eq. 6).
    #[rhai_fn(name = "lambda", return_raw, pure)]
    pub fn stage_lambda(s: &mut ScriptEofStage, v: &str) -> RResult<NdArray> {
        Ok(arr(s.var(v)?.lambda.clone()))
    }
    /// The default run of `v` projected onto the EOFs, one value per mode.
    #[rhai_fn(return_raw, pure)]
    pub fn u_default(s: &mut ScriptEofStage, v: &str) -> RResult<NdArray> {
        Ok(arr(s.var(v)?.u_default.clone()))
    }
    /// The projections of each single observed year of `v`, years x modes (see `sigma_years`).
    #[rhai_fn(return_raw, pure)]
    pub fn u_years(s: &mut ScriptEofStage, v: &str) -> RResult<NdArray> {
        Ok(arr(s.var(v)?.u_years.clone()))
    }
    /// The years of the rows of `u_years(v)`.
    #[rhai_fn(return_raw, pure)]
    pub fn sigma_years(s: &mut ScriptEofStage, v: &str) -> RResult<Array> {
        Ok(s.var(v)?
            .sigma_years
            .iter()
            .map(|&y| Dynamic::from(y as INT))
            .collect())
    }
    /// The units of the model field of `v` (the observations are converted to them).
    #[rhai_fn(return_raw, pure)]
    pub fn units_of(s: &mut ScriptEofStage, v: &str) -> RResult<String> {
        Ok(s.var(v)?.units.clone())
    }
    /// The observed mean map of `v` (lat, lon) on the model grid in the model's units, read
    /// again from the observation file (the target of `rmse`): e.g. the RMSE of maps rebuilt
    /// from emulated PCs, `rmse(stage.eof(v).reconstruct_from(pcs), stage.observed(v))`
    /// (Fig. 6c-d).
    #[rhai_fn(return_raw, pure)]
    pub fn observed(s: &mut ScriptEofStage, v: &str) -> RResult<NdArray> {
        s.0.observed_mean(v).map(arr).map_err(err)
    }

    /// Whether `v` has observed maps (`stage.observed(v)` and the RMSEs of Fig. 6): false
    /// for a processed ensemble whose targets came from `u_obs`/`sigma` files.
    #[rhai_fn(return_raw, pure)]
    pub fn has_observed(s: &mut ScriptEofStage, v: &str) -> RResult<bool> {
        s.var(v)?;
        Ok(s.0.has_observed(v))
    }

    /// The RMSE of each member of `v` against the observed mean, as run and rebuilt from the
    /// kept modes (Fig. 6a-b): `#{as_run: Array, from_modes: Array, default_as_run,
    /// default_from_modes}`, the last two the default run's (Fig. 6's "x").
    #[rhai_fn(name = "rmse", return_raw, pure)]
    pub fn stage_rmse(s: &mut ScriptEofStage, v: &str) -> RResult<Map> {
        let r = s.var(v)?;
        let mut m = Map::new();
        m.insert("as_run".into(), Dynamic::from(arr(r.rmse_run.clone())));
        m.insert(
            "from_modes".into(),
            Dynamic::from(arr(r.rmse_modes.clone())),
        );
        m.insert(
            "default_as_run".into(),
            Dynamic::from_float(r.rmse_default.0),
        );
        m.insert(
            "default_from_modes".into(),
            Dynamic::from_float(r.rmse_default.1),
        );
        Ok(m)
    }

    /// The RMSE against the observed mean of `v` of the maps rebuilt from `pcs` (rows x
    /// modes, or one row), one value per row: `rmse(stage.eof(v).reconstruct_from(pcs),
    /// stage.observed(v))`, e.g. of emulated PCs (Fig. 6c-e).
    #[rhai_fn(name = "rmse", return_raw, pure)]
    pub fn stage_rmse_of(s: &mut ScriptEofStage, v: &str, pcs: NdArray) -> RResult<NdArray> {
        let pcs = if pcs.data().ndim() == 1 {
            let n = pcs.data().len();
            NdArray::new(
                pcs.into_data()
                    .into_shape_with_order(ndarray::IxDyn(&[1, n]))
                    .map_err(|e| script_err(format!("pcs: {e}")))?,
            )
        } else {
            pcs
        };
        let maps = reconstruct_from(&mut s.eof_of(v)?, pcs)?;
        let target = observed(s, v)?;
        rmse(Dynamic::from(maps), Dynamic::from(target))
    }

    /// Reads the runs of an ensemble (its time means of the analysed years, from its archive)
    /// and projects them onto the stage's fixed EOFs, as the default run is: a map of
    /// variable -> PCs (members x modes), e.g. new members joining the emulators' training
    /// data (`scripts/08_refocus.rhai`). The members must be complete.
    #[rhai_fn(return_raw, pure)]
    pub fn project_runs(s: &mut ScriptEofStage, ens: ScriptEnsemble) -> RResult<Map> {
        let cases: Vec<String> = ens.0.members.iter().map(|m| m.case.clone()).collect();
        let e = &ens.0.settings;
        if e.years != s.0.settings.years {
            return Err(script_err(format!(
                "ensemble {}: its analysed years {}-{} differ from the EOF stage's {}-{}",
                ens.0.name, e.years.0, e.years.1, s.0.settings.years.0, s.0.settings.years.1
            )));
        }
        let pcs =
            s.0.project_runs(&e.archive_root, &cases)
                .map_err(|e| err(e.context(format!("ensemble {}", ens.0.name))))?;
        Ok(s.0
            .variables
            .iter()
            .zip(pcs)
            .map(|(v, p)| (v.name.as_str().into(), Dynamic::from(arr(p))))
            .collect())
    }

    /// A summary: variables, modes, the variance they keep, U_obs and sigma.
    #[rhai_fn(name = "to_string", global, pure)]
    pub fn stage_to_string(s: &mut ScriptEofStage) -> String {
        s.0.to_string()
    }

    /// The same summary (used by the REPL).
    #[rhai_fn(name = "to_debug", global, pure)]
    pub fn stage_to_debug(s: &mut ScriptEofStage) -> String {
        s.0.to_string()
    }
}

fn stage_of(
    cfg: &Map,
    ppe: &ScriptEnsemble,
    dflt: &ScriptEnsemble,
    test: Option<&ScriptEnsemble>,
) -> RResult<ScriptEofStage> {
    let (c, _) = super::config::config_from_map(cfg)?;
    let settings = Settings::from_config(&c).map_err(err)?;
    let d = &dflt.0;
    if d.members.len() != 1 {
        return Err(script_err(format!(
            "the default run is one case; ensemble {} has {}",
            d.name,
            d.members.len()
        )));
    }
    let test = match test {
        Some(t) => Some(runs_of(t)?),
        None => None,
    };
    EofStage::run(settings, runs_of(ppe)?, test, &d.members[0].case)
        .map(|s| ScriptEofStage(Arc::new(s)))
        .map_err(err)
}

/// The `eof` module.
pub fn module() -> Module {
    exported_module!(eof_fns)
}
