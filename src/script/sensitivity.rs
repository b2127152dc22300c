//! The `sensitivity` module: parameter effects of one-at-a-time runs, ranks and pattern
//! correlations (Dagon et al. 2020, section 2.2), as script types with cheap accessors.

use super::array::NdArray;
use super::convert::{script_err, RResult};
use super::ensemble::ScriptEnsemble;
use super::field::ScriptField;
use crate::field::read::Output;
use crate::sensitivity::{self as sens, Effects, PatternCorrelation, Ranks};
use rhai::plugin::*;
use rhai::{Array, Dynamic, Map, Module, INT};
use std::sync::Arc;

/// Parameter effects (script type `Effects`).
#[derive(Clone, Debug)]
pub struct ScriptEffects(pub Arc<Effects>);

/// Pattern correlations (script type `PatternCorrelation`).
#[derive(Clone, Debug)]
pub struct ScriptPc(pub Arc<PatternCorrelation>);

/// The rank table (script type `Ranks`).
#[derive(Clone, Debug)]
pub struct ScriptRanks(pub Arc<Ranks>);

fn err(e: anyhow::Error) -> Box<EvalAltResult> {
    script_err(format!("{e:#}"))
}

fn arr1(v: &[f64]) -> NdArray {
    NdArray::new(ndarray::Array1::from(v.to_vec()).into_dyn())
}

fn names(v: &[String]) -> Array {
    v.iter().map(|s| s.clone().into()).collect()
}

fn index_of(list: &[String], name: &str, what: &str) -> RResult<usize> {
    list.iter().position(|x| x == name).ok_or_else(|| {
        script_err(format!(
            "no {what} '{name}'; {}",
            crate::nc::nearest_list(name, list),
            name = crate::format::printable(name)
        ))
    })
}

/// The functions of the `sensitivity` module.
#[export_module]
pub mod sensitivity_fns {
    use super::*;

    /// Parameter-effect maps of every output of every parameter.
    pub type Effects = ScriptEffects;
    /// Pattern correlations between the parameter-effect maps.
    pub type PatternCorrelation = ScriptPc;
    /// The rank table of the sensitivity stage.
    pub type Ranks = ScriptRanks;

    /// Parameter effects (Eq. 1) of one-at-a-time runs: for each output (name = expression
    /// over history variables, e.g. `cfg.sensitivity.outputs`) the time mean over the
    /// analysed years of every run (the mean of monthly means, expressions evaluated month
    /// by month), then `PE = |X_max - X_min|` per parameter, where an end marked
    /// `oaat_default_as` is the default run; and the land area-weighted global mean of each
    /// map. Every run must be complete in the archive.
    ///
    /// ```rhai
    /// import "experiment" as ex;
    /// let cfg = ex::config(#{config: `${TEMP_DIR}/oaat/config.toml`});
    /// let runs = oaat_runs(cfg);
    /// let pe = parameter_effect(runs, #{GPP: "GPP", ET: "QFLX_EVAP_TOT"});
    /// pe.outputs                  //=> ["ET", "GPP"]
    /// pe.global_mean.shape        //=> [2, 2]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn parameter_effect(runs: ScriptEnsemble, outputs: Map) -> RResult<ScriptEffects> {
        let _step = crate::provenance::step("parameter_effect");
        let ens = &runs.0;
        let pairs: Vec<sens::OaatPair> = ens
            .oaat_pairs()
            .map_err(err)?
            .into_iter()
            .map(|(parameter, min, max)| sens::OaatPair {
                parameter,
                min,
                max,
            })
            .collect();
        let outs: Vec<Output> = outputs
            .iter()
            .map(|(k, v)| {
                let e = v.clone().into_string().map_err(|_| {
                    script_err(format!("output {k}: give an expression as a string"))
                })?;
                Output::new(k, &e).map_err(err)
            })
            .collect::<RResult<_>>()?;
        if outs.is_empty() {
            return Err(script_err("parameter_effect: no outputs"));
        }
        let cases: Vec<String> = ens.members.iter().map(|m| m.case.clone()).collect();
        let s = &ens.settings;
        let found = crate::archive::find_cases_covering(&s.archive_root, &cases, s.min_coverage)
            .map_err(err)?;
        for c in &found {
            let missing = c.missing_months(s.years);
            if let Some(first) = missing.first() {
                return Err(script_err(format!(
                    "case {} lacks {} months of years {}-{} (first {first}) in {}: run it first \
                     (submit and wait)",
                    c.name,
                    missing.len(),
                    s.years.0,
                    s.years.1,
                    c.hist_dir.display()
                )));
            }
        }
        let means = crate::field::read::read_ensemble(&found, &outs, s.years, true).map_err(err)?;
        sens::parameter_effect(&means, &pairs)
            .map(|e| ScriptEffects(Arc::new(e)))
            .map_err(err)
    }

    /// The parameter names.
    #[rhai_fn(get = "parameters", pure)]
    pub fn effects_parameters(e: &mut ScriptEffects) -> Array {
        names(&e.0.parameters)
    }

    /// The output names.
    #[rhai_fn(get = "outputs", pure)]
    pub fn effects_outputs(e: &mut ScriptEffects) -> Array {
        names(&e.0.outputs)
    }

    /// Global-mean PE, an Array (parameter, output).
    #[rhai_fn(get = "global_mean", pure)]
    pub fn global_mean(e: &mut ScriptEffects) -> NdArray {
        NdArray::new(e.0.global_mean.clone().into_dyn())
    }

    /// The PE maps of one output: a Field (parameter, lat, lon).
    #[rhai_fn(return_raw)]
    pub fn maps(e: &mut ScriptEffects, output: &str) -> RResult<ScriptField> {
        let o = index_of(&e.0.outputs, output, "output")?;
        Ok(ScriptField(Arc::new(e.0.maps[o].clone())))
    }

    /// The PE map of one output and parameter: a Field (lat, lon).
    #[rhai_fn(return_raw)]
    pub fn map(e: &mut ScriptEffects, output: &str, parameter: &str) -> RResult<ScriptField> {
        let o = index_of(&e.0.outputs, output, "output")?;
        let k = index_of(&e.0.parameters, parameter, "parameter")?;
        let f = &e.0.maps[o];
        let mut m = f.clone();
        m.values = f.values.index_axis(ndarray::Axis(0), k).to_owned();
        m.dims = vec!["lat".into(), "lon".into()];
        m.members = Vec::new();
        m.long_name = format!("parameter effect of {parameter} on {output}");
        Ok(ScriptField(Arc::new(m)))
    }

    /// Writes the PE maps to netCDF (one variable per output, dims (parameter, lat, lon)),
    /// or, for a `.csv` path, the global means (parameter, output, pe).
    #[rhai_fn(name = "save", return_raw)]
    pub fn save_effects(e: &mut ScriptEffects, path: &str) -> RResult<()> {
        let p = std::path::Path::new(path);
        if path.ends_with(".csv") {
            return sens::write_global_mean(&e.0, p).map_err(err);
        }
        let fields: Vec<&crate::field::Field> = e.0.maps.iter().collect();
        crate::field::write::write_fields(
            p,
            &fields,
            &format!(
                "{}: parameter effects |X_max - X_min| (Dagon et al. 2020, Eq. 1)",
                crate::files::written_by()
            ),
        )
        .map_err(err)
    }

    /// Pattern correlations (Eq. 2) between the PE maps of every parameter pair, per output
    /// and summed over outputs; `pc_mean` averages the sum over the other parameters. A map
    /// with zero variance has no correlation (NaN; 0 in the sums).
    ///
    /// ```rhai
    /// import "experiment" as ex;
    /// let runs = oaat_runs(ex::config(#{config: `${TEMP_DIR}/oaat/config.toml`}));
    /// let pc = pattern_correlation(parameter_effect(runs, #{GPP: "GPP"}));
    /// pc.summed.shape       //=> [2, 2]
    /// pc.summed[0][0]       //=> 1.0
    /// ```
    pub fn pattern_correlation(e: ScriptEffects) -> ScriptPc {
        ScriptPc(Arc::new(sens::pattern_correlation(&e.0, false)))
    }

    /// [`pattern_correlation`] with options: `#{absolute: true}` sums |correlation|.
    #[rhai_fn(name = "pattern_correlation")]
    pub fn pattern_correlation_with(e: ScriptEffects, options: Map) -> ScriptPc {
        let abs = options
            .get("absolute")
            .and_then(|v| v.as_bool().ok())
            .unwrap_or(false);
        ScriptPc(Arc::new(sens::pattern_correlation(&e.0, abs)))
    }

    /// The correlation matrix summed over outputs (parameter, parameter).
    #[rhai_fn(get = "summed", pure)]
    pub fn summed(pc: &mut ScriptPc) -> NdArray {
        NdArray::new(pc.0.summed.clone().into_dyn())
    }

    /// PC(p): the summed correlation averaged over the other parameters.
    #[rhai_fn(get = "pc_mean", pure)]
    pub fn pc_mean(pc: &mut ScriptPc) -> NdArray {
        arr1(&pc.0.pc_mean)
    }

    /// The parameter names.
    #[rhai_fn(get = "parameters", pure)]
    pub fn pc_parameters(pc: &mut ScriptPc) -> Array {
        names(&pc.0.parameters)
    }

    /// The correlation matrix of one output (NaN where undefined).
    #[rhai_fn(return_raw)]
    pub fn matrix(pc: &mut ScriptPc, output: &str) -> RResult<NdArray> {
        let o = index_of(&pc.0.outputs, output, "output")?;
        Ok(NdArray::new(
            pc.0.per_output
                .index_axis(ndarray::Axis(0), o)
                .to_owned()
                .into_dyn(),
        ))
    }

    /// Writes `pattern_correlation.csv` (output, parameter_p, parameter_q, correlation; the
    /// sum over outputs as output `sum`).
    #[rhai_fn(name = "save", return_raw)]
    pub fn save_pc(pc: &mut ScriptPc, path: &str) -> RResult<()> {
        sens::write_pattern_correlation(&pc.0, std::path::Path::new(path)).map_err(err)
    }

    /// The rank table: per-output ranks (1 = largest global-mean PE, ties share the lowest),
    /// their mean and its rank, `pc_mean` and its rank (1 = lowest), and the combined rank
    /// of the two.
    #[rhai_fn(name = "rank_effects")]
    pub fn rank_effects(e: ScriptEffects, pc: ScriptPc) -> ScriptRanks {
        ScriptRanks(Arc::new(sens::rank_effects(&e.0, &pc.0)))
    }

    /// The `k` parameters to calibrate: lowest combined rank first, ties to the better PE
    /// rank, then spec order.
    #[rhai_fn(return_raw)]
    pub fn top(r: &mut ScriptRanks, k: INT) -> RResult<Array> {
        let k = usize::try_from(k).map_err(|_| script_err(format!("top: k = {k} must be >= 0")))?;
        Ok(names(&sens::select(&r.0, k)))
    }

    /// The parameter names.
    #[rhai_fn(get = "parameters", pure)]
    pub fn ranks_parameters(r: &mut ScriptRanks) -> Array {
        names(&r.0.parameters)
    }

    /// Per-output ranks, an Array (parameter, output).
    #[rhai_fn(get = "per_output", pure)]
    pub fn per_output(r: &mut ScriptRanks) -> NdArray {
        NdArray::new(r.0.per_output.clone().into_dyn())
    }

    /// The overall PE rank.
    #[rhai_fn(get = "pe_rank", pure)]
    pub fn pe_rank(r: &mut ScriptRanks) -> NdArray {
        arr1(&r.0.pe_rank)
    }

    /// The pattern-correlation rank.
    #[rhai_fn(get = "pc_rank", pure)]
    pub fn pc_rank(r: &mut ScriptRanks) -> NdArray {
        arr1(&r.0.pc_rank)
    }

    /// The combined rank.
    #[rhai_fn(get = "combined_rank", pure)]
    pub fn combined_rank(r: &mut ScriptRanks) -> NdArray {
        arr1(&r.0.combined_rank)
    }

    /// Writes `ranks.csv`.
    #[rhai_fn(name = "save", return_raw)]
    pub fn save_ranks(r: &mut ScriptRanks, path: &str) -> RResult<()> {
        sens::write_ranks(&r.0, std::path::Path::new(path)).map_err(err)
    }

    /// The rank table as text, best combined rank first.
    #[rhai_fn(name = "to_string", pure)]
    pub fn ranks_to_string(r: &mut ScriptRanks) -> String {
        let t = &r.0;
        let order = sens::select(t, t.parameters.len());
        let w = t
            .parameters
            .iter()
            .map(|p| p.len())
            .max()
            .unwrap_or(9)
            .max(9);
        let cw: Vec<usize> = t.outputs.iter().map(|o| o.len().max(4)).collect();
        let mut s = format!("{:w$}", "parameter");
        for (o, c) in t.outputs.iter().zip(&cw) {
            s.push_str(&format!(" {o:>c$}"));
        }
        s.push_str("  pe_rank  pc_mean  pc_rank  combined\n");
        for name in order {
            let k = t.parameters.iter().position(|p| *p == name).unwrap_or(0);
            s.push_str(&format!("{name:w$}"));
            for (o, c) in cw.iter().enumerate() {
                s.push_str(&format!(" {:>c$}", t.per_output[[k, o]]));
            }
            s.push_str(&format!(
                "  {:>7}  {:>7.3}  {:>7}  {:>8}\n",
                t.pe_rank[k], t.pc_mean[k], t.pc_rank[k], t.combined_rank[k]
            ));
        }
        s
    }

    /// Summary of the effects.
    #[rhai_fn(name = "to_string", pure)]
    pub fn effects_to_string(e: &mut ScriptEffects) -> String {
        format!(
            "Effects: {} parameters x {} outputs ({})",
            e.0.parameters.len(),
            e.0.outputs.len(),
            e.0.outputs.join(", ")
        )
    }

    /// Summary of the pattern correlations.
    #[rhai_fn(name = "to_string", pure)]
    pub fn pc_to_string(pc: &mut ScriptPc) -> String {
        format!(
            "PatternCorrelation: {} parameters x {} outputs",
            pc.0.parameters.len(),
            pc.0.outputs.len()
        )
    }

    /// The map keys of a record-like view of the ranks (for `print` in the REPL).
    #[rhai_fn(name = "to_map", pure)]
    pub fn ranks_to_map(r: &mut ScriptRanks) -> Map {
        let t = &r.0;
        let mut m = Map::new();
        for (k, p) in t.parameters.iter().enumerate() {
            let mut row = Map::new();
            for (o, out) in t.outputs.iter().enumerate() {
                row.insert(
                    format!("rank_{out}").into(),
                    Dynamic::from_float(t.per_output[[k, o]]),
                );
            }
            row.insert("pe_rank".into(), Dynamic::from_float(t.pe_rank[k]));
            row.insert("pc_mean".into(), Dynamic::from_float(t.pc_mean[k]));
            row.insert("pc_rank".into(), Dynamic::from_float(t.pc_rank[k]));
            row.insert(
                "combined_rank".into(),
                Dynamic::from_float(t.combined_rank[k]),
            );
            m.insert(p.as_str().into(), row.into());
        }
        m
    }
}

/// The `sensitivity` module.
pub fn module() -> Module {
    exported_module!(sensitivity_fns)
}
