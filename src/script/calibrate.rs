//! The `calibrate` module: targets from the EOF stage, costs (built in or a script closure
//! over whole arrays), history matching (cost filter and implausibility with waves).

use super::array::{operand, NdArray};
use super::convert::{number, script_err, RResult};
use super::emulate::{ScriptEmulator, ScriptEmulators};
use super::eof::ScriptEofStage;
use super::table::ScriptTable;
use crate::calibrate::cost::{ClosureRecord, Cost, CostRecord, Form, Target, Term};
use crate::calibrate::history_match::{
    self, cost_filter, implausibility_match, FilterSettings, Keep, Kept, MatchSettings, Wave,
};
use crate::calibrate::mcmc::{sample, Chain, McmcSettings, PosteriorSummary, Start};
use crate::calibrate::optimize::{self, Method, OptimumResult};
use crate::calibrate::{LogDensity, Objective};
use crate::emulate::Fitted;
use anyhow::anyhow;
use ndarray::{Array1, Array2, ArrayView2};
use rhai::plugin::*;
use rhai::{Array, Dynamic, FnPtr, Map, Module, NativeCallContext, INT};
use std::path::Path;
use std::sync::Arc;

fn err(e: anyhow::Error) -> Box<EvalAltResult> {
    script_err(format!("{e:#}"))
}

/// A cost of candidate scalings (script type `Cost`): emulators, targets, weights and a
/// built-in form, or a script closure `|pcs, x| ...` over whole arrays.
#[derive(Clone)]
pub struct ScriptCost {
    /// Emulators, targets, weights, built-in form.
    pub cost: Arc<Cost>,
    /// The script's own cost, if any.
    pub custom: Option<FnPtr>,
    /// Parameter names (the emulators' inputs).
    pub parameters: Vec<String>,
    /// Which emulator of each variable (`nn`, `gp`, `ridge`, ...), in the cost's order.
    pub emulators: Vec<String>,
    /// The default run's scalings, where known (option `default_scalings`): the `x` a
    /// closure gets for the default run (else a row of NaN).
    pub default_x: Option<Array1<f64>>,
    /// The fitted emulator of each variable, in the cost's order (fingerprinted by `save`).
    pub fitted: Vec<Arc<Fitted>>,
    /// A script closure's cost loaded from `cost.json` (`load_cost`): its record. Such a
    /// cost emulates but cannot be evaluated (the closure lives in the script that made it).
    pub frozen: Option<Arc<CostRecord>>,
}

impl ScriptCost {
    /// The emulators as text: one name when every variable uses it, else `GPP: gp, LHF: nn`.
    pub fn emulators_text(&self) -> String {
        let e = &self.emulators;
        if e.windows(2).all(|w| w[0] == w[1]) {
            return e.first().cloned().unwrap_or_default();
        }
        self.cost
            .variables()
            .iter()
            .zip(e)
            .map(|(v, n)| format!("{v}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Debug for ScriptCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Cost({}; {} emulators of {}; parameters {})",
            match (&self.custom, &self.frozen) {
                (Some(p), _) => format!("script closure {}", p.fn_name()),
                (None, Some(r)) => format!(
                    "script closure of {} lines {}-{}, loaded",
                    r.closure.as_ref().map_or("?", |c| c.script.as_str()),
                    r.closure.as_ref().map_or(0, |c| c.lines[0]),
                    r.closure.as_ref().map_or(0, |c| c.lines[1])
                ),
                (None, None) => self.cost.form().name().to_string(),
            },
            self.emulators_text(),
            self.cost.variables().join(", "),
            self.parameters.join(", ")
        )
    }
}

/// A history match's result (script type `HistoryMatch`).
#[derive(Clone)]
pub struct ScriptHistoryMatch {
    /// Kept candidates, lowest cost first.
    pub kept: Arc<Kept>,
    /// The implausibility wave, where that method was used.
    pub wave: Option<Arc<Wave>>,
    /// Earlier waves this one sampled inside.
    pub previous: Vec<Wave>,
    /// Parameter names.
    pub parameters: Vec<String>,
    /// What made it (written beside the CSV).
    pub settings: serde_json::Value,
}

impl std::fmt::Debug for ScriptHistoryMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HistoryMatch({} kept of {} evaluated",
            self.kept.cost.len(),
            self.kept.evaluated
        )?;
        if let Some(w) = &self.wave {
            write!(f, "; NROY fraction {:.4}", w.nroy_fraction)?;
        }
        write!(f, ")")
    }
}

/// Implausibility waves, each sampled inside the one before (script type `Waves`).
#[derive(Clone)]
pub struct ScriptWaves {
    /// The waves, first first (fewer than asked when one ruled out every candidate).
    pub waves: Vec<ScriptHistoryMatch>,
    /// The implausibility cutoff they used.
    pub cutoff: f64,
}

impl std::fmt::Debug for ScriptWaves {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Waves({})", waves_message(self))
    }
}

/// "implausibility < 3: NROY fraction 0.0123, then 0.0045", or that the first wave ruled
/// out every candidate.
fn waves_message(w: &ScriptWaves) -> String {
    let cut = crate::format::format_spec(w.cutoff, ".6g").unwrap_or_default();
    let fractions: Vec<f64> = w
        .waves
        .iter()
        .filter_map(|h| h.wave.as_ref().map(|x| x.nroy_fraction))
        .collect();
    if fractions.first().is_none_or(|f| *f <= 0.0) {
        return format!(
            "implausibility < {cut}: every candidate is ruled out (NROY is empty): no parameter \
             set fits within {cut} sigma plus the emulators' spread"
        );
    }
    let shown: Vec<String> = fractions
        .iter()
        .map(|f| crate::format::format_spec(*f, ".4f").unwrap_or_default())
        .collect();
    format!(
        "implausibility < {cut}: NROY fraction {}",
        shown.join(", then ")
    )
}

/// Optimisers compared on one cost (script type `Optima`).
#[derive(Clone, Debug)]
pub struct ScriptOptima {
    /// One result per method, in the order run.
    pub results: Arc<Vec<OptimumResult>>,
    /// Parameter names.
    pub parameters: Vec<String>,
}

/// An MCMC posterior of the scalings (script type `Posterior`).
#[derive(Clone)]
pub struct ScriptPosterior {
    /// The chain.
    pub chain: Arc<Chain>,
    /// Its summary.
    pub summary: Arc<PosteriorSummary>,
    /// Parameter names.
    pub parameters: Vec<String>,
    /// What made it.
    pub settings: serde_json::Value,
}

impl std::fmt::Debug for ScriptPosterior {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Posterior({} walkers x {} kept steps; acceptance {:.3}; mean [{}])",
            self.summary.walkers,
            self.summary.kept_steps,
            self.summary.acceptance,
            self.summary
                .mean
                .iter()
                .map(|m| format!("{m:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// The log-likelihood of a cost: the built-in Gaussian one (sigma^2 plus the emulator's
/// variance), or `-J / 2` for a script's cost.
struct CostDensity<'a> {
    c: &'a ScriptCost,
    ctx: &'a NativeCallContext<'a>,
}

impl LogDensity for CostDensity<'_> {
    fn dim(&self) -> usize {
        self.c.cost.dim()
    }
    fn log_prob(&self, x: ArrayView2<f64>) -> anyhow::Result<Array1<f64>> {
        crate::interrupt::check()?;
        match &self.c.custom {
            None => {
                let em = self.c.cost.emulate(x)?;
                Ok(self.c.cost.log_likelihood(&em))
            }
            Some(f) => Ok(ClosureObjective {
                cost: &self.c.cost,
                parameters: &self.c.parameters,
                f,
                ctx: self.ctx,
            }
            .cost(x)?
            .mapv(|j| -0.5 * j)),
        }
    }
}

/// What a cost closure receives as `pcs` (script type `PCs`): each variable's emulated PCs
/// (candidates x modes), read as `pcs.GPP` or `pcs["GPP"]`; a variable the cost does not
/// have is an error naming the nearest one (a map would give `()` and fail later).
#[derive(Clone, Debug)]
pub struct ScriptPcs {
    /// Variable and PCs, in the cost's order.
    pub vars: Vec<(String, NdArray)>,
}

impl ScriptPcs {
    fn get(&self, name: &str) -> RResult<NdArray> {
        match self.vars.iter().find(|(v, _)| v == name) {
            Some((_, a)) => Ok(a.clone()),
            None => {
                let names: Vec<String> = self.vars.iter().map(|(v, _)| v.clone()).collect();
                Err(script_err(format!(
                    "the cost closure asked for pcs.{name}: the cost has no variable {name}; {}",
                    crate::nc::nearest_list(name, &names)
                )))
            }
        }
    }
}

/// A candidate-by-candidate objective that calls the script's closure with whole arrays.
struct ClosureObjective<'a> {
    cost: &'a Cost,
    parameters: &'a [String],
    f: &'a FnPtr,
    ctx: &'a NativeCallContext<'a>,
}

impl Objective for ClosureObjective<'_> {
    fn dim(&self) -> usize {
        self.cost.dim()
    }
    fn cost(&self, x: ArrayView2<f64>) -> anyhow::Result<Array1<f64>> {
        let em = self.cost.emulate(x)?;
        let pcs = ScriptPcs {
            vars: self
                .cost
                .variables()
                .into_iter()
                .zip(em.mean)
                .map(|(v, m)| (v, NdArray::new(m.into_dyn())))
                .collect(),
        };
        call_closure(self.f, self.ctx, pcs, self.parameters, x.to_owned())
    }
    fn parallel(&self) -> bool {
        false
    }
}

fn call_closure(
    f: &FnPtr,
    ctx: &NativeCallContext,
    pcs: ScriptPcs,
    parameters: &[String],
    x: Array2<f64>,
) -> anyhow::Result<Array1<f64>> {
    let n = x.nrows();
    let x = if parameters.len() == x.ncols() {
        NdArray::with_columns(x.into_dyn(), parameters.to_vec())
    } else {
        NdArray::new(x.into_dyn())
    };
    let r: Dynamic = f.call_within_context(ctx, (pcs, x)).map_err(|e| match *e {
        EvalAltResult::ErrorTerminated(..) => anyhow!("interrupted (Ctrl-C)"),
        _ => anyhow!("the cost closure failed: {e}"),
    })?;
    let a = operand(&r).map_err(|e| {
        anyhow!(
            "the cost closure must return one cost per candidate (an Array of {n}), not {}: {e}",
            super::convert::type_name(&r)
        )
    })?;
    let d = a.data();
    if d.len() != n || (d.ndim() == 2 && d.shape()[1] != 1) || d.ndim() > 2 {
        anyhow::bail!(
            "the cost closure must return one cost per candidate: {n} values, not shape {:?}",
            d.shape()
        );
    }
    Ok(d.iter().copied().collect())
}

fn vector(m: &Map, key: &str, variable: &str) -> RResult<Array1<f64>> {
    let d = m.get(key).ok_or_else(|| {
        script_err(format!(
            "target {variable} has no '{key}' (a target is #{{observed, sigma, lambda, default_run}})"
        , key = crate::format::printable(key)))
    })?;
    let a = operand(d)?;
    if a.data().ndim() != 1 {
        return Err(script_err(format!(
            "target {variable}: '{key}' must be a 1-D Array (one value per mode)",
            key = crate::format::printable(key)
        )));
    }
    Ok(a.data().iter().copied().collect())
}

fn target_of(targets: &Map, variable: &str) -> RResult<Target> {
    let t = targets
        .get(variable)
        .and_then(|d| d.read_lock::<Map>().map(|m| m.clone()))
        .ok_or_else(|| {
            script_err(format!(
                "the targets have no map for variable '{variable}' (they have: {})",
                targets
                    .keys()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                variable = crate::format::printable(variable)
            ))
        })?;
    Ok(Target {
        variable: variable.to_string(),
        observed: vector(&t, "observed", variable)?,
        sigma: vector(&t, "sigma", variable)?,
        lambda: vector(&t, "lambda", variable)?,
        default: vector(&t, "default_run", variable)?,
    })
}

/// The names of a list option (e.g. `inputs: ["kmax", "fff"]`).
pub(crate) fn names_option(d: &Dynamic, key: &str) -> RResult<Vec<String>> {
    string_list(d, key)
}

fn string_list(d: &Dynamic, key: &str) -> RResult<Vec<String>> {
    let list = d
        .read_lock::<Array>()
        .ok_or_else(|| script_err(format!("option {key} is a list of names")))?;
    list.iter()
        .map(|v| {
            v.clone()
                .into_string()
                .map_err(|_| script_err(format!("option {key} is a list of names")))
        })
        .collect()
}

/// The options of `cost(emulators, targets, options)`; `emulator`, `weights` and
/// `discrepancy` are checked by hand ([`build_cost`]).
#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CostOptions {
    form: Option<String>,
    emulator: Dynamic,
    weights: Option<Dynamic>,
    discrepancy: Option<Dynamic>,
    variables: Option<Vec<String>>,
    default_scalings: Option<Dynamic>,
}

impl Default for CostOptions {
    fn default() -> Self {
        CostOptions {
            form: None,
            emulator: Dynamic::from("nn".to_string()),
            weights: None,
            discrepancy: None,
            variables: None,
            default_scalings: None,
        }
    }
}

/// Where a cost's emulators come from.
enum Source {
    /// The emulator stage: the emulator named by the `emulator` option, per variable.
    Stage(ScriptEmulators),
    /// A map of variable -> Emulator.
    Chosen(Map),
}

fn build_cost(
    ems: &Dynamic,
    targets: &Map,
    options: &Map,
    custom: Option<FnPtr>,
) -> RResult<ScriptCost> {
    let o: CostOptions = crate::script::options::read(options, "a cost")?;
    let source = if let Some(st) = ems.clone().try_cast::<ScriptEmulators>() {
        Source::Stage(st)
    } else if let Some(m) = ems.read_lock::<Map>() {
        Source::Chosen(m.clone())
    } else {
        return Err(script_err(format!(
            "a cost takes the Emulators of 04_emulate (load_emulators) or a map of variable -> Emulator, not {}",
            super::convert::type_name(ems)
        )));
    };
    let variables: Vec<String> = match (o.variables, &source) {
        (Some(v), _) => v,
        (None, Source::Stage(st)) => st.0.variables.iter().map(|v| v.variable.clone()).collect(),
        (None, Source::Chosen(m)) => m.keys().map(|k| k.to_string()).collect(),
    };
    let form = match &o.form {
        None => Form::Eq6,
        Some(f) => Form::parse(f).map_err(err)?,
    };
    let emulator = o.emulator;
    if !(emulator.is_string() || emulator.is_map()) {
        return Err(script_err(
            "option emulator is a name, e.g. \"nn\", or a map of variable -> name, e.g. #{GPP: \"gp\", LHF: \"nn_ensemble\"}",
        ));
    }
    let map_of = |d: Option<Dynamic>, bad: &str| -> RResult<Map> {
        match d {
            None => Ok(Map::new()),
            Some(d) => d
                .read_lock::<Map>()
                .map(|m| m.clone())
                .ok_or_else(|| script_err(bad)),
        }
    };
    let discrepancy = map_of(
        o.discrepancy,
        "option discrepancy is a map of variable -> variance (squared PC units), e.g. #{GPP: 0.01}",
    )?;
    let weights = map_of(
        o.weights,
        "option weights is a map of variable -> weight, e.g. #{LHF: 1.49}",
    )?;
    let default_scalings = o.default_scalings;
    let per_variable = emulator.read_lock::<Map>().map(|m| m.clone());
    let unknown = |what: &str, keys: Vec<String>| -> RResult<()> {
        for w in keys {
            if !variables.contains(&w) {
                return Err(script_err(format!(
                    "{what}: '{w}' is not a variable of this cost ({})",
                    variables.join(", "),
                    w = crate::format::printable(&w)
                )));
            }
        }
        Ok(())
    };
    let keys = |m: &Map| m.keys().map(|k| k.to_string()).collect::<Vec<_>>();
    unknown("weights", keys(&weights))?;
    unknown("discrepancy", keys(&discrepancy))?;
    if let Some(m) = &per_variable {
        unknown("emulator", keys(m))?;
    }
    let mut terms = Vec::new();
    let mut names = Vec::new();
    let mut fitted_all = Vec::new();
    let mut parameters: Option<Vec<String>> = None;
    for v in &variables {
        let emulator = match &per_variable {
            Some(m) => m
                .get(v.as_str())
                .ok_or_else(|| {
                    script_err(format!(
                        "option emulator names no emulator for {v}: give one per variable ({})",
                        variables.join(", ")
                    ))
                })?
                .clone()
                .into_string()
                .map_err(|_| script_err(format!("option emulator: {v}'s emulator is a name")))?,
            None => emulator.clone().into_string().unwrap_or_default(),
        };
        let fitted: Fitted = match &source {
            Source::Stage(st) => st.0.get(&emulator, v).map_err(err)?.clone(),
            Source::Chosen(m) => m
                .get(v.as_str())
                .and_then(|d| d.clone().try_cast::<ScriptEmulator>())
                .map(|e| (*e.0).clone())
                .ok_or_else(|| {
                    script_err(format!(
                        "the map of emulators has no Emulator for '{v}'",
                        v = crate::format::printable(v)
                    ))
                })?,
        };
        match &parameters {
            None => parameters = Some(fitted.parameters.clone()),
            Some(p) if *p != fitted.parameters => {
                return Err(script_err(format!(
                    "the {emulator} emulator of {v} takes parameters {} but another takes {}",
                    fitted.parameters.join(", "),
                    p.join(", ")
                )))
            }
            _ => {}
        }
        let weight = match weights.get(v.as_str()) {
            Some(w) => number(w, &format!("weights.{v}"))?,
            None => 1.0,
        };
        names.push(match &source {
            Source::Stage(_) => emulator,
            Source::Chosen(_) => fitted.model.emulator().method(),
        });
        let fitted = Arc::new(fitted);
        fitted_all.push(fitted.clone());
        terms.push(Term {
            emulator: fitted,
            target: target_of(targets, v)?,
            weight,
        });
    }
    let d2 = variables
        .iter()
        .map(|v| match discrepancy.get(v.as_str()) {
            Some(d) => number(d, &format!("discrepancy.{v}")),
            None => Ok(0.0),
        })
        .collect::<RResult<Vec<f64>>>()?;
    let cost = Cost::new(terms, form)
        .and_then(|c| c.with_discrepancy(d2))
        .map_err(err)?;
    let parameters = parameters.unwrap_or_default();
    let default_x = match default_scalings {
        None => None,
        Some(d) => Some(scalings_of(&d, &parameters)?),
    };
    Ok(ScriptCost {
        cost: Arc::new(cost),
        custom,
        parameters,
        emulators: names,
        default_x,
        fitted: fitted_all,
        frozen: None,
    })
}

/// The scalings of one candidate from a map of parameter -> scaling (what
/// `default_scalings(cfg)` gives) or an Array in the parameters' order.
fn scalings_of(d: &Dynamic, parameters: &[String]) -> RResult<Array1<f64>> {
    if let Some(m) = d.read_lock::<Map>() {
        for k in m.keys() {
            if !parameters.iter().any(|p| p == k.as_str()) {
                return Err(script_err(format!(
                    "default_scalings: '{k}' is not a parameter of this cost; {}",
                    crate::nc::nearest_list(k, parameters),
                    k = crate::format::printable(k)
                )));
            }
        }
        return parameters
            .iter()
            .map(|p| match m.get(p.as_str()) {
                Some(v) => number(v, &format!("default_scalings.{p}")),
                None => Err(script_err(format!(
                    "default_scalings has no scaling for {p} (the cost's parameters: {})",
                    parameters.join(", ")
                ))),
            })
            .collect();
    }
    let a = matrix_of(&operand(d)?, parameters.len())?;
    if a.nrows() != 1 {
        return Err(script_err("default_scalings is one candidate (one row)"));
    }
    Ok(a.row(0).to_owned())
}

fn matrix_of(x: &NdArray, dim: usize) -> RResult<Array2<f64>> {
    let d = x.data();
    let a = match d.ndim() {
        1 if d.len() == dim => d
            .clone()
            .into_shape_with_order((1, dim))
            .map_err(script_err)?,
        2 => d
            .clone()
            .into_dimensionality::<ndarray::Ix2>()
            .map_err(script_err)?,
        _ => {
            return Err(script_err(format!(
                "candidates are an Array (candidates x {dim} parameters), not shape {:?}",
                d.shape()
            )))
        }
    };
    if a.ncols() != dim {
        return Err(script_err(format!(
            "candidates have {} parameters per row, the cost takes {dim}",
            a.ncols()
        )));
    }
    Ok(a)
}

/// The record `save` writes for a cost: [`CostRecord::of`] with the emulators'
/// fingerprints, the default run's cost and the closure's source.
fn cost_record(ctx: &NativeCallContext, c: &ScriptCost) -> RResult<CostRecord> {
    if let Some(r) = &c.frozen {
        return Ok((**r).clone());
    }
    let emulators: Vec<(String, String)> = c
        .emulators
        .iter()
        .zip(&c.fitted)
        .map(|(n, f)| {
            let json = serde_json::to_vec(&**f).map_err(script_err)?;
            Ok((n.clone(), crate::provenance::sha256_hex(&json)))
        })
        .collect::<RResult<_>>()?;
    let mut rec = CostRecord::of(&c.cost, &c.parameters, &emulators);
    let d = default_cost_of(ctx, c)?;
    rec.default_cost = d.is_finite().then_some(d);
    rec.closure = c.custom.as_ref().map(|f| closure_record(ctx, f));
    Ok(rec)
}

/// Where a closure was written: the script (the caller's source), the lines of its body and
/// their text, found through the script's functions (a closure is an anonymous function).
fn closure_record(ctx: &NativeCallContext, f: &FnPtr) -> ClosureRecord {
    let script = ctx.call_source().unwrap_or("<script>").to_string();
    let def = ctx.iter_namespaces().find_map(|m| {
        m.iter_script_fn_info()
            .find(|(_, _, name, _, _)| *name == f.fn_name())
            .map(|(_, _, _, _, d)| d.clone())
    });
    let text = crate::files::read_text(Path::new(&script), "script").unwrap_or_default();
    let lines = def.map_or([0, 0], |d| {
        let start = d.body.start_position();
        let (a, col) = (start.line().unwrap_or(0), start.position().unwrap_or(1));
        let mut b = d.body.end_position().line().unwrap_or(0);
        if a > 0 && b < a {
            // an expression body has no end position: its lines run until the brackets
            // opened from its first character close
            let mut depth = 0i64;
            b = a;
            for (i, line) in text.lines().enumerate().skip(a - 1).take(200) {
                let from = if i + 1 == a { col.saturating_sub(1) } else { 0 };
                for ch in line.chars().skip(from) {
                    match ch {
                        '(' | '[' | '{' => depth += 1,
                        ')' | ']' | '}' => depth -= 1,
                        _ => {}
                    }
                }
                b = i + 1;
                if depth <= 0 {
                    break;
                }
            }
        }
        [a, b]
    });
    let source = if lines[0] > 0 && lines[1] >= lines[0] {
        text.lines()
            .skip(lines[0] - 1)
            .take(lines[1] - lines[0] + 1)
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        String::new()
    };
    ClosureRecord {
        script,
        lines,
        sha256: crate::provenance::sha256_hex(source.as_bytes()),
        source,
    }
}

/// `load_cost`: reads `dir/cost.json` (or the file itself), rebuilds the cost on `ems` and
/// `targets` with its options and refuses when the rebuilt record differs.
pub(crate) fn load_cost_from(
    ctx: &NativeCallContext,
    dir: &Path,
    ems: &Dynamic,
    targets: &Map,
) -> RResult<ScriptCost> {
    let path = if dir.is_dir() {
        dir.join("cost.json")
    } else {
        dir.to_path_buf()
    };
    let text = crate::files::read_text(&path, "the saved cost")
        .map_err(|e| script_err(format!("{e:#} (06_calibrate.rhai writes it: run it first)")))?;
    let saved: CostRecord = serde_json::from_str(&text).map_err(|e| {
        script_err(format!(
            "{}: not a cost file of clmtune: {e}",
            path.display()
        ))
    })?;
    if saved.format != crate::calibrate::cost::COST_FORMAT {
        return Err(script_err(format!(
            "{}: format '{}', this clmtune reads '{}'",
            path.display(),
            saved.format,
            crate::calibrate::cost::COST_FORMAT
        )));
    }
    let to_map = |m: &std::collections::BTreeMap<String, f64>| -> Map {
        m.iter()
            .map(|(k, v)| (k.as_str().into(), Dynamic::from(*v)))
            .collect()
    };
    let mut options = Map::new();
    options.insert("form".into(), Dynamic::from(saved.form.clone()));
    options.insert("weights".into(), Dynamic::from(to_map(&saved.weights)));
    options.insert(
        "discrepancy".into(),
        Dynamic::from(to_map(&saved.discrepancy)),
    );
    options.insert(
        "variables".into(),
        Dynamic::from(
            saved
                .variables
                .iter()
                .map(|v| Dynamic::from(v.clone()))
                .collect::<Array>(),
        ),
    );
    if ems.is::<ScriptEmulators>() {
        let names: Map = saved
            .emulators
            .iter()
            .map(|(k, v)| (k.as_str().into(), Dynamic::from(v.clone())))
            .collect();
        options.insert("emulator".into(), Dynamic::from(names));
    }
    let refuse = |why: Vec<String>| {
        script_err(format!(
            "{} no longer matches the stages it came from: {}. Run 06_calibrate.rhai again (or the stages after the one changed)",
            path.display(),
            why.join("; ")
        ))
    };
    let mut c =
        build_cost(ems, targets, &options, None).map_err(|e| refuse(vec![e.to_string()]))?;
    let mut now = cost_record(ctx, &c)?;
    now.closure = saved.closure.clone();
    let diffs = saved.differences(&now);
    if !diffs.is_empty() {
        return Err(refuse(diffs));
    }
    if saved.closure.is_some() {
        c.frozen = Some(Arc::new(saved));
    } else if let (Some(a), Some(b)) = (saved.default_cost, now.default_cost) {
        if (a - b).abs() > 1e-9 * a.abs().max(1.0) {
            return Err(refuse(vec![format!(
                "the default run's cost was {a} and is {b} now"
            )]));
        }
    }
    Ok(c)
}

/// Refuses to evaluate a script closure's cost loaded from `cost.json`.
fn evaluable(c: &ScriptCost) -> RResult<()> {
    match c.frozen.as_deref().and_then(|r| r.closure.as_ref()) {
        None => Ok(()),
        Some(cl) => Err(script_err(format!(
            "this cost is the script closure of {} (lines {}-{}), loaded from cost.json: it can be emulated and reported but not evaluated outside that script; its values at the optimum are in optimum.csv",
            cl.script, cl.lines[0], cl.lines[1]
        ))),
    }
}

fn evaluate(c: &ScriptCost, ctx: &NativeCallContext, x: ArrayView2<f64>) -> RResult<Array1<f64>> {
    evaluable(c)?;
    match &c.custom {
        None => c.cost.cost(x).map_err(err),
        Some(f) => ClosureObjective {
            cost: &c.cost,
            parameters: &c.parameters,
            f,
            ctx,
        }
        .cost(x)
        .map_err(err),
    }
}

fn default_cost_of(ctx: &NativeCallContext, c: &ScriptCost) -> RResult<f64> {
    if let Some(r) = &c.frozen {
        return Ok(r.default_cost.unwrap_or(f64::NAN));
    }
    match &c.custom {
        None => c.cost.default_cost().map_err(err),
        Some(f) => {
            let pcs = ScriptPcs {
                vars: c
                    .cost
                    .terms()
                    .iter()
                    .map(|t| {
                        let row = t.target.default.clone().insert_axis(ndarray::Axis(0));
                        (t.target.variable.clone(), NdArray::new(row.into_dyn()))
                    })
                    .collect(),
            };
            let x = match &c.default_x {
                Some(d) => d.clone().insert_axis(ndarray::Axis(0)),
                None => Array2::from_elem((1, c.cost.dim()), f64::NAN),
            };
            Ok(call_closure(f, ctx, pcs, &c.parameters, x).map_err(err)?[0])
        }
    }
}

/// Runs a cost closure once on the default run and once on a candidate of the box
/// (seeded) before any search, so that a misspelt name or a wrong return fails now, with
/// the name, rather than minutes into a history match; warns when the default run's cost
/// is NaN.
fn check_closure(ctx: &NativeCallContext, c: &ScriptCost) -> RResult<()> {
    let d = default_cost_of(ctx, c).map_err(|e| {
        script_err(format!(
            "the cost closure fails on the default run (checked before any search): {e}"
        ))
    })?;
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    let x = crate::calibrate::latin_hypercube(1, c.cost.dim(), &mut rng);
    let j = evaluate(c, ctx, x.view()).map_err(|e| {
        script_err(format!(
            "the cost closure fails on a candidate (checked before any search): {e}"
        ))
    })?;
    if d.is_nan() {
        let why = if c.default_x.is_none() {
            "if it uses x: the default run's scalings are not known to the cost, give them with cost(ems, t, #{default_scalings: default_scalings(cfg)}, f)"
        } else {
            "it gives NaN for the default run's PCs and scalings"
        };
        crate::output::eprintln(&format!(
            "warning: the cost closure's cost of the default run is NaN ({why})"
        ));
    }
    if j[0].is_nan() {
        crate::output::eprintln(&format!(
            "warning: the cost closure gives NaN for a candidate inside the box ({:?}): optimisers treat NaN as an error",
            x.row(0).to_vec()
        ));
    }
    Ok(())
}

/// The posterior's `start` option: `"uniform"` (None) or a candidate to start around.
fn start_option(v: &Dynamic) -> RResult<Option<Vec<f64>>> {
    if v.clone().into_string().ok().as_deref() == Some("uniform") {
        return Ok(None);
    }
    Ok(Some(operand(v)?.data().iter().copied().collect()))
}

/// A count option: a whole number (an int, or a float such as `64.0`) in `1..=max`.
fn count(x: f64, key: &str, max: f64) -> RResult<usize> {
    if !(x >= 1.0 && x.fract() == 0.0 && x <= max) {
        return Err(script_err(format!(
            "option {key} = {x} must be a whole number in 1..={max}"
        )));
    }
    Ok(x as usize)
}

/// A seed option: a whole number >= 0 (an int, or a whole float).
fn seed_of(x: f64) -> RResult<u64> {
    if !(x >= 0.0 && x.fract() == 0.0 && x < 9.007_199_254_740_992e15) {
        return Err(script_err(format!(
            "option seed = {x} must be a whole number >= 0"
        )));
    }
    Ok(x as u64)
}

fn seed_option(v: &Dynamic) -> RResult<u64> {
    seed_of(number(v, "seed")?)
}

/// The options of `optimize(cost, options)`.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct OptimizeOptions {
    methods: Option<Vec<String>>,
    seed: f64,
}

/// The options of `posterior(cost, options)` with `steps`: a fixed number of steps.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct FixedPosterior {
    walkers: Option<f64>,
    steps: Option<f64>,
    burn: Option<f64>,
    thin: Option<f64>,
    seed: f64,
    start: Option<Dynamic>,
    radius: Option<f64>,
    de: Option<f64>,
}

impl FixedPosterior {
    /// The sampler's settings and start, the counts checked.
    fn settings(&self) -> RResult<(McmcSettings, Start)> {
        let mut s = McmcSettings::default();
        if let Some(x) = self.walkers {
            s.walkers = count(x, "walkers", 1e6)?;
        }
        if let Some(x) = self.steps {
            s.steps = count(x, "steps", 1e9)?;
        }
        if let Some(x) = self.burn {
            s.burn = x.max(0.0) as usize;
        }
        if let Some(x) = self.thin {
            s.thin = count(x, "thin", 1e6)?;
        }
        s.seed = seed_of(self.seed)?;
        if let Some(x) = self.de {
            s.de = x;
        }
        Ok((s, start_of(&self.start, self.radius)?))
    }
}

/// Where the walkers start: uniform, or in a ball of `radius` (0.05) around `start`.
fn start_of(start: &Option<Dynamic>, radius: Option<f64>) -> RResult<Start> {
    let center = match start {
        Some(v) => start_option(v)?,
        None => None,
    };
    Ok(match center {
        Some(center) => Start::Ball {
            center,
            radius: radius.unwrap_or(0.05),
        },
        None => Start::Uniform,
    })
}

/// The options of `posterior(cost, options)` without `steps`: run until converged.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct ConvergedPosterior {
    walkers: Option<f64>,
    max_steps: Option<f64>,
    max_seconds: Option<f64>,
    check_every: Option<f64>,
    tol: Option<f64>,
    rtol: Option<f64>,
    burn_tau: Option<f64>,
    burn: Option<f64>,
    thin: Option<f64>,
    seed: f64,
    start: Option<Dynamic>,
    radius: Option<f64>,
    de: Option<f64>,
}

impl ConvergedPosterior {
    /// The sampler's settings (at least 2 walkers a parameter by default) and start.
    fn settings(&self, dim: usize) -> RResult<(crate::calibrate::mcmc::ConvergeSettings, Start)> {
        let mut s = crate::calibrate::mcmc::ConvergeSettings::default();
        s.walkers = s.walkers.max(2 * dim);
        if let Some(x) = self.walkers {
            s.walkers = count(x, "walkers", 1e6)?;
        }
        if let Some(x) = self.max_steps {
            s.max_steps = count(x, "max_steps", 1e9)?;
        }
        if let Some(x) = self.max_seconds {
            if x.is_nan() || x <= 0.0 {
                return Err(script_err(format!(
                    "option max_seconds = {x} must be above 0"
                )));
            }
            s.max_seconds = x;
        }
        if let Some(x) = self.check_every {
            s.check_every = count(x, "check_every", 1e9)?;
        }
        s.tol = self.tol.unwrap_or(s.tol);
        s.rtol = self.rtol.unwrap_or(s.rtol);
        s.burn_tau = self.burn_tau.unwrap_or(s.burn_tau);
        if let Some(x) = self.burn {
            s.burn = Some(x.max(0.0) as usize);
        }
        if let Some(x) = self.thin {
            s.thin = Some(count(x, "thin", 1e6)?);
        }
        s.seed = seed_of(self.seed)?;
        s.de = self.de.unwrap_or(s.de);
        Ok((s, start_of(&self.start, self.radius)?))
    }
}

/// The options of `history_match(cost, #{method: "cost", ...})`.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct CostMatch {
    n: Option<f64>,
    keep: Option<f64>,
    threshold: Option<f64>,
    better_than_default: bool,
    limit: Option<f64>,
    seed: f64,
}

impl CostMatch {
    /// The filter's settings; `keep` is `None` when neither `keep` nor `threshold` is given.
    fn settings(&self) -> RResult<(FilterSettings, Option<Keep>)> {
        let mut s = FilterSettings::default();
        if let Some(x) = self.n {
            s.n = count(x, "n", 1e12)?;
        }
        if let Some(x) = self.limit {
            s.limit = count(x, "limit", 1e7)?;
        }
        s.seed = seed_of(self.seed)?;
        let mut keep = match self.keep {
            Some(k) => Some(Keep::Best(count(k, "keep", 1e7)?)),
            None => None,
        };
        // a threshold wins over keep, as when the options were read in key order
        if let Some(t) = self.threshold {
            keep = Some(Keep::Below(t));
        }
        Ok((s, keep))
    }
}

/// The options of `history_match(cost, #{method: "implausibility", ...})`; `discrepancy`
/// and `previous` are read by hand ([`match_by_implausibility`]).
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct ImplausibilityMatch {
    n: Option<f64>,
    cutoff: Option<f64>,
    order: Option<f64>,
    discrepancy: Option<Dynamic>,
    emulator_variance: Option<bool>,
    previous: Option<Dynamic>,
    limit: Option<f64>,
    seed: f64,
}

/// The options of `identifiability(cost, post, x, options)`.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct IdentifyOptions {
    seed: f64,
    n: Option<f64>,
    points: Option<f64>,
    profile: Option<String>,
    max_width_ratio: Option<f64>,
    min_total_sobol: Option<f64>,
    min_excluded: Option<f64>,
    local_iterations: Option<f64>,
}

#[export_module]
pub mod calibrate_fns {
    use super::*;

    /// A cost of candidate scalings (`cost(ems, targets, ...)`): the emulators of each
    /// calibration variable, the targets (observed PCs, sigma, lambda, default run) and a
    /// built-in form (Eq. 6, `rmse`, the error-aware `chi2` and `nll`) or a script closure
    /// `|pcs, x| ...` over whole arrays. `evaluate(x)` gives one cost per row of scalings,
    /// `emulate(x)` the emulated PCs, `implausibility(x)` the largest implausibility,
    /// `default_cost()` the default run's cost; `history_match`, `optimize`, `posterior` and
    /// `identifiability` take it; `save(dir)` writes `cost.json`, which `load_cost` checks
    /// against today's emulators and targets.
    pub type Cost = ScriptCost;

    /// What a cost closure `|pcs, x| ...` receives as `pcs`: each calibration variable's
    /// emulated PCs (candidates x modes), read as `pcs.GPP` or `pcs["GPP"]`; a variable the
    /// cost does not have is an error naming the nearest one. `keys(pcs)` lists them.
    pub type PCs = ScriptPcs;

    /// The result of `history_match(cost, options)`: the kept candidates, lowest cost first
    /// (`x`: candidates x parameters, `cost`, `table`), how many were `evaluated` and
    /// `accepted`, and for the implausibility method the `nroy_fraction` (the share of
    /// candidates not ruled out yet). `save(dir)` writes `history_match.csv` (or
    /// `nroy_waveK.csv`) with a `.json` of its settings.
    pub type HistoryMatch = ScriptHistoryMatch;

    /// Implausibility waves from `nroy_waves(cost, n, options)`, each sampled inside the one
    /// before: `waves` (a list of HistoryMatch), the last wave's `nroy_fraction`, a
    /// `message` in words; `save(dir)` writes `nroy_wave1.csv`, `nroy_wave2.csv`, ...
    pub type Waves = ScriptWaves;

    /// The optimisers compared on one cost (`optimize(cost, #{methods: [...]})`): `best`
    /// (`#{method, x, cost}`: the lowest cost found), `table` (one row per
    /// method); `save(dir)` writes `optimum.csv` and its `.json`.
    pub type Optima = ScriptOptima;

    /// An MCMC posterior of the scalings (`posterior(cost, options)`: emcee's moves, run
    /// until converged or for fixed `steps`): `samples` and `draws` (after burn-in and
    /// thinning), `mean`, `acceptance`, `converged`, a `message` in words, `table` (per
    /// parameter its mean, 5, 50 and 95 % quantiles, autocorrelation time, ...); `save(dir)` writes `posterior.csv`,
    /// `posterior.json` and `posterior_samples.csv`.
    pub type Posterior = ScriptPosterior;

    /// What the data constrain (`identifiability(cost, posterior, optimum, options)`): per
    /// parameter the posterior's width against the prior's, the cost's Sobol indices, a
    /// verdict (`constrained`, `bounded below`/`above`, `unconstrained`) and the estimate to
    /// report; `constrained`, `bounded`, `unconstrained` list the names, `estimate` maps
    /// them, `table` holds every column; `save(dir)` writes `identifiability.csv`, its
    /// profiles, JSON and figure.
    pub type Identifiability = ScriptIdentifiability;

    /// The targets of the cost (Eq. 5, 6) from the EOF stage: a map of calibration variable
    /// to `#{observed, sigma, lambda, default_run}` (one value per mode each: U_obs, the standard
    /// deviation of the single years' projections, the variance fraction, the default run's
    /// projection). An ordinary map: edit it to try another target.
    #[rhai_fn(return_raw)]
    pub fn targets(stage: ScriptEofStage) -> RResult<Map> {
        let mut out = Map::new();
        for v in &stage.0.variables {
            let mut t = Map::new();
            let a = |x: &Array1<f64>| Dynamic::from(NdArray::new(x.clone().into_dyn()));
            t.insert("observed".into(), a(&v.u_obs));
            t.insert("sigma".into(), a(&v.sigma));
            t.insert("lambda".into(), a(&v.lambda));
            t.insert("default_run".into(), a(&v.u_default));
            out.insert(v.name.as_str().into(), Dynamic::from_map(t));
        }
        Ok(out)
    }

    /// The paper's cost (Eq. 6) over the emulators' PCs of every variable: `sum_v sum_m
    /// lambda ((Uhat - Uobs) / sigma)^2`, with the `nn` emulators (one network per variable,
    /// as in the paper; their variance, used by `implausibility` and `posterior`, is their
    /// validation residual variance, constant over the scalings). `ems` is what
    /// `load_emulators` gives, or a map of variable -> Emulator (any mix, e.g.
    /// `#{GPP: ems.get("gp", "GPP"), LHF: ems.get("nn", "LHF")}`).
    #[rhai_fn(name = "cost", return_raw)]
    pub fn cost_default(ems: Dynamic, targets: Map) -> RResult<ScriptCost> {
        build_cost(&ems, &targets, &Map::new(), None)
    }

    /// A built-in cost with options: `form` (`"eq6"`, `"unweighted"`: without lambda,
    /// `"rmse"`: the square root of the unweighted sum, `"chi2"`: the error-aware misfit, sum
    /// over variables and modes of `(Uhat - Uobs)^2 / (sigma^2 + emulator variance +
    /// discrepancy)`, whose value at the truth is about the number of modes; `"nll"`: chi2
    /// plus `sum ln(1 + (emulator variance + discrepancy) / sigma^2)`, -2 log-likelihood,
    /// whose minimum does not drift to where the emulator is unsure), `weights` (a
    /// weight per variable, e.g. `#{LHF: 1.49}`), `emulator` (`"nn"`: one network, the
    /// default; `"nn_ensemble"`: the resampled networks, whose spread makes the variance
    /// grow where they disagree, at 100 times the cost of `nn`; `"gp"`, `"ridge"`,
    /// `"quadratic_ridge"`; or one per variable, `#{GPP: "gp", LHF: "nn_ensemble"}`),
    /// `discrepancy` (a model-discrepancy variance per variable in squared PC units, added
    /// to sigma^2 by `chi2`, the posterior's likelihood and implausibility; default 0),
    /// `variables` (a subset, in order).
    ///
    /// ```rhai
    /// let x = rand([20, 2], 1);                       // 20 members, 2 parameters
    /// let ems = #{GPP: fit_ridge(x, x * 2.0)};         // 2 modes
    /// let t = #{GPP: #{observed: [0.5, 1.0], sigma: [0.1, 0.2], lambda: [0.8, 0.2], default_run: [0.4, 0.9]}};
    /// let j = cost(ems, t, #{form: "chi2", discrepancy: #{GPP: 0.01}});
    /// // the default run (a run: no emulator variance): 0.1^2 / 0.02 + 0.1^2 / 0.05
    /// j.default_cost()    //=> 0.7
    /// j.evaluate([[0.25, 0.5], [0.3, 0.6]]).shape    //=> [2]
    /// ```
    #[rhai_fn(name = "cost", return_raw)]
    pub fn cost_options(ems: Dynamic, targets: Map, options: Map) -> RResult<ScriptCost> {
        build_cost(&ems, &targets, &options, None)
    }

    /// A cost written in the script: `f(pcs, x)` receives whole arrays, `pcs` each
    /// variable's emulated PCs (`pcs.GPP`: candidates x modes) and `x` the scalings
    /// (candidates x parameters, with named columns: `x["kmax"]`), and returns one cost per
    /// candidate. It is called on chunks of many candidates, so array arithmetic runs at
    /// close to native speed. The closure is tried once on the default run and once on a
    /// candidate before `cost` returns: a variable or parameter it misspells is an error
    /// now, naming the nearest name.
    ///
    /// ```rhai
    /// let x = rand([20, 2], 1);
    /// let ems = #{GPP: fit_ridge(x, x * 2.0)};      // parameters x1, x2 (04's: kmax, ...)
    /// let t = #{GPP: #{observed: [0.5, 1.0], sigma: [0.1, 0.2], lambda: [0.8, 0.2], default_run: [0.4, 0.9]}};
    /// // Eq. 6 plus a penalty on x1 far from 0.5
    /// let j = cost(ems, t, |pcs, x| sum(t.GPP.lambda * ((pcs.GPP - t.GPP.observed) / t.GPP.sigma) ** 2, 1)
    ///                               + (x["x1"] - 0.5) ** 2);
    /// j.evaluate([[0.25, 0.5]]).shape    //=> [1]
    /// let msg = "";
    /// try { cost(ems, t, |pcs, x| sum(pcs.GPP, 1) + x["x11"]); } catch (e) { msg = e; }
    /// msg.contains("no column \"x11\": did you mean x1?")    //=> true
    /// try { cost(ems, t, |pcs, x| sum(pcs.GPPP, 1)); } catch (e) { msg = e; }
    /// msg.contains("no variable GPPP; did you mean GPP?")    //=> true
    /// ```
    #[rhai_fn(name = "cost", return_raw)]
    pub fn cost_closure(
        ctx: NativeCallContext,
        ems: Dynamic,
        targets: Map,
        f: FnPtr,
    ) -> RResult<ScriptCost> {
        let c = build_cost(&ems, &targets, &Map::new(), Some(f))?;
        check_closure(&ctx, &c)?;
        Ok(c)
    }

    /// A cost written in the script with options (`emulator`, `variables`, `discrepancy`,
    /// `default_scalings`: the default run's scalings, e.g. `default_scalings(cfg)`, given
    /// to the closure as its `x` for `default_cost()`).
    #[rhai_fn(name = "cost", return_raw)]
    pub fn cost_closure_options(
        ctx: NativeCallContext,
        ems: Dynamic,
        targets: Map,
        options: Map,
        f: FnPtr,
    ) -> RResult<ScriptCost> {
        let c = build_cost(&ems, &targets, &options, Some(f))?;
        check_closure(&ctx, &c)?;
        Ok(c)
    }

    /// `pcs.GPP` or `pcs["GPP"]` in a cost closure: that variable's emulated PCs
    /// (candidates x modes); a name the cost does not have is an error naming the nearest.
    #[rhai_fn(index_get, return_raw, pure)]
    pub fn pcs_get(p: &mut ScriptPcs, name: &str) -> RResult<NdArray> {
        p.get(name)
    }

    /// The variables of a cost closure's `pcs`, in the cost's order.
    #[rhai_fn(name = "keys", pure)]
    pub fn pcs_keys(p: &mut ScriptPcs) -> Array {
        p.vars.iter().map(|(v, _)| v.as_str().into()).collect()
    }

    /// Whether a cost closure's `pcs` has variable `name` (`"GPP" in pcs`).
    #[rhai_fn(name = "contains", pure)]
    pub fn pcs_contains(p: &mut ScriptPcs, name: &str) -> bool {
        p.vars.iter().any(|(v, _)| v == name)
    }

    /// `PCs(GPP: 1000 x 3, LHF: 1000 x 3)`.
    #[rhai_fn(name = "to_string", pure)]
    pub fn pcs_to_string(p: &mut ScriptPcs) -> String {
        let parts: Vec<String> = p
            .vars
            .iter()
            .map(|(v, a)| {
                let s: Vec<String> = a.data().shape().iter().map(|n| n.to_string()).collect();
                format!("{v}: {}", s.join(" x "))
            })
            .collect();
        format!("PCs({})", parts.join(", "))
    }

    /// As `to_string`.
    #[rhai_fn(name = "to_debug", pure)]
    pub fn pcs_to_debug(p: &mut ScriptPcs) -> String {
        pcs_to_string(p)
    }

    /// The cost's form: `nll`, `chi2`, `eq6`, `unweighted`, `rmse`, or `closure` for a
    /// script's own.
    ///
    /// ```rhai
    /// let x = rand([20, 2], 1);
    /// let j = cost(#{GPP: fit_ridge(x, x * 2.0)}, #{GPP: #{observed: [0.5, 1.0], sigma: [0.1, 0.2], lambda: [0.8, 0.2], default_run: [0.4, 0.9]}});
    /// j.form    //=> eq6
    /// ```
    #[rhai_fn(get = "form", pure)]
    pub fn cost_form(c: &mut ScriptCost) -> String {
        match (&c.custom, &c.frozen) {
            (Some(_), _) | (None, Some(_)) => "closure".into(),
            (None, None) => c.cost.form().name().into(),
        }
    }

    /// Writes `DIR/cost.json` (06 does, for 07, 08 and the summary): the form, weights,
    /// discrepancy and emulator of each variable, the targets, the SHA-256 of each emulator,
    /// the default run's cost and, for a script's closure, its lines and their text.
    ///
    /// ```rhai
    /// let x = rand([20, 2], 1);
    /// let ems = #{GPP: fit_ridge(x, x * 2.0)};
    /// let t = #{GPP: #{observed: [0.5, 1.0], sigma: [0.1, 0.2], lambda: [0.8, 0.2], default_run: [0.4, 0.9]}};
    /// cost(ems, t, #{form: "nll"}).save(`${TEMP_DIR}/cost_a`);
    /// read_json(`${TEMP_DIR}/cost_a/cost.json`).form    //=> nll
    /// load_cost(`${TEMP_DIR}/cost_a`, ems, t).form    //=> nll
    /// ```
    #[rhai_fn(name = "save", return_raw, pure)]
    pub fn cost_save(ctx: NativeCallContext, c: &mut ScriptCost, dir: &str) -> RResult<()> {
        let rec = cost_record(&ctx, c)?;
        let dir = Path::new(dir);
        crate::files::create_dir(dir).map_err(err)?;
        crate::files::write_json(&dir.join("cost.json"), &rec).map_err(err)
    }

    /// The cost 06 saved in `DIR/cost.json`, rebuilt on `ems` (the Emulators of
    /// load_emulators, or a map of variable -> Emulator) and `targets` (what `targets(stage)`
    /// gives): refused, saying what changed, when the emulators or the targets are no
    /// longer the ones it was made from. A script closure's cost comes back emulating and
    /// reporting (its form is `closure`, its default cost the saved one) but cannot be
    /// evaluated.
    ///
    /// ```rhai
    /// let x = rand([20, 2], 1);
    /// let ems = #{GPP: fit_ridge(x, x * 2.0)};
    /// let t = #{GPP: #{observed: [0.5, 1.0], sigma: [0.1, 0.2], lambda: [0.8, 0.2], default_run: [0.4, 0.9]}};
    /// cost(ems, t).save(`${TEMP_DIR}/cost_b`);
    /// let t2 = #{GPP: #{observed: [0.6, 1.0], sigma: [0.1, 0.2], lambda: [0.8, 0.2], default_run: [0.4, 0.9]}};
    /// let e = "";
    /// try { load_cost(`${TEMP_DIR}/cost_b`, ems, t2); } catch (err) { e = err; }
    /// e.contains("GPP's target observed of mode 1 was 0.5 and is 0.6 now")    //=> true
    /// let j = cost(ems, t, |pcs, x| sum(((pcs.GPP - 0.5) / 0.1) ** 2, 1));
    /// j.save(`${TEMP_DIR}/cost_c`);
    /// let k = load_cost(`${TEMP_DIR}/cost_c`, ems, t);
    /// k.form    //=> closure
    /// read_json(`${TEMP_DIR}/cost_c/cost.json`).closure.lines.len()    //=> 2
    /// ```
    #[rhai_fn(return_raw)]
    pub fn load_cost(
        ctx: NativeCallContext,
        dir: &str,
        ems: Dynamic,
        targets: Map,
    ) -> RResult<ScriptCost> {
        load_cost_from(&ctx, Path::new(dir), &ems, &targets)
    }

    /// The cost of each row of `x` (candidates x parameters, or one candidate).
    #[rhai_fn(name = "evaluate", return_raw, pure)]
    pub fn cost_eval(ctx: NativeCallContext, c: &mut ScriptCost, x: Dynamic) -> RResult<NdArray> {
        let x = matrix_of(&operand(&x)?, c.cost.dim())?;
        Ok(NdArray::new(evaluate(c, &ctx, x.view())?.into_dyn()))
    }

    /// The cost of the default run, from its projections (not emulated). A script closure
    /// gets the default's PCs and, for `x`, a row of NaN: its scalings are not on the
    /// design's scale.
    #[rhai_fn(name = "default_cost", return_raw, pure)]
    pub fn cost_default_run(ctx: NativeCallContext, c: &mut ScriptCost) -> RResult<f64> {
        default_cost_of(&ctx, c)
    }

    /// The emulated PCs of each row of `x`: a map of variable -> `#{mean, variance}`
    /// (candidates x modes each).
    #[rhai_fn(name = "emulate", return_raw, pure)]
    pub fn cost_emulate(c: &mut ScriptCost, x: Dynamic) -> RResult<Map> {
        let x = matrix_of(&operand(&x)?, c.cost.dim())?;
        let em = c.cost.emulate(x.view()).map_err(err)?;
        let mut out = Map::new();
        for ((v, m), s) in c.cost.variables().into_iter().zip(em.mean).zip(em.variance) {
            let mut e = Map::new();
            e.insert("mean".into(), Dynamic::from(NdArray::new(m.into_dyn())));
            e.insert("variance".into(), Dynamic::from(NdArray::new(s.into_dyn())));
            out.insert(v.into(), Dynamic::from_map(e));
        }
        Ok(out)
    }

    /// The implausibility of each row of `x`: the largest over variables and modes of
    /// `|Uobs - E[Uhat]| / sqrt(sigma^2 + emulator variance)` (below 3: not ruled out).
    #[rhai_fn(name = "implausibility", return_raw, pure)]
    pub fn cost_implausibility(c: &mut ScriptCost, x: Dynamic) -> RResult<NdArray> {
        let x = matrix_of(&operand(&x)?, c.cost.dim())?;
        let em = c.cost.emulate(x.view()).map_err(err)?;
        let s = MatchSettings::default();
        Ok(NdArray::new(
            history_match::implausibility(&c.cost, &em, &s).into_dyn(),
        ))
    }

    /// The parameters (columns of the candidates), in order.
    #[rhai_fn(get = "parameters", pure)]
    pub fn cost_parameters(c: &mut ScriptCost) -> Array {
        c.parameters
            .iter()
            .map(|p| Dynamic::from(p.clone()))
            .collect()
    }

    /// The calibration variables of the cost, in order.
    #[rhai_fn(get = "variables", pure)]
    pub fn cost_variables(c: &mut ScriptCost) -> Array {
        c.cost.variables().into_iter().map(Dynamic::from).collect()
    }

    /// `Cost(eq6; nn emulators of GPP, LHF; parameters ...)`.
    #[rhai_fn(name = "to_string", pure)]
    pub fn cost_to_string(c: &mut ScriptCost) -> String {
        format!("{c:?}")
    }

    /// History matching. `method: "cost"` (the paper's, default): `n` candidates (default
    /// 10,000,000) from Latin hypercubes in chunks, keeping the `keep` best (default 1000),
    /// or all with a cost below `threshold`, or all better than the default run
    /// (`better_than_default: true`); at most `limit` (1,000,000) of those.
    /// `method: "implausibility"`: `n` (default 1,000,000) candidates, implausibility
    /// `|Uobs - E[Uhat]| / sqrt(sigma^2 + emulator variance + discrepancy)` per output, the
    /// `order`-th largest (1) cut at `cutoff` (3); `discrepancy` a variance per variable
    /// (`#{GPP: 1e-5}`; default: the cost's own `discrepancy`); `emulator_variance: false` leaves the emulator's variance out;
    /// `previous`: an earlier wave's result to sample inside. `seed` for both (0).
    #[rhai_fn(return_raw)]
    pub fn history_match(
        ctx: NativeCallContext,
        c: ScriptCost,
        options: Map,
    ) -> RResult<ScriptHistoryMatch> {
        let _step = crate::provenance::step("history_match");
        let method = match options.get("method") {
            None => "cost".to_string(),
            Some(m) => m
                .clone()
                .into_string()
                .map_err(|_| script_err("option method is \"cost\" or \"implausibility\""))?,
        };
        match method.as_str() {
            "cost" => match_by_cost(&ctx, &c, &options),
            "implausibility" => match_by_implausibility(&c, &options),
            m => Err(script_err(format!(
                "unknown method '{m}': use \"cost\" or \"implausibility\"",
                m = crate::format::printable(m)
            ))),
        }
    }

    /// Optimisers compared on the cost (paper section 4.3), each from the same `seed`:
    /// `methods` a list of `"de"` (differential evolution as scipy's), `"dual_annealing"`,
    /// `"lbfgsb"` (from several starts), `"nelder_mead"`, `"particle_swarm"` (default: all).
    /// Each reports its optimum, cost, evaluations, iterations and time.
    #[rhai_fn(return_raw)]
    pub fn optimize(ctx: NativeCallContext, c: ScriptCost, options: Map) -> RResult<ScriptOptima> {
        let _step = crate::provenance::step("optimize");
        let o: OptimizeOptions = crate::script::options::read(&options, "optimize")?;
        let names: Vec<String> = o.methods.unwrap_or_else(|| {
            optimize::METHOD_NAMES
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
        let seed = seed_of(o.seed)?;
        let methods = names
            .iter()
            .map(|n| Method::by_name(n))
            .collect::<anyhow::Result<Vec<_>>>()
            .map_err(err)?;
        evaluable(&c)?;
        let results = match &c.custom {
            None => optimize::compare(c.cost.as_ref(), &methods, seed),
            Some(f) => optimize::compare(
                &ClosureObjective {
                    cost: &c.cost,
                    parameters: &c.parameters,
                    f,
                    ctx: &ctx,
                },
                &methods,
                seed,
            ),
        }
        .map_err(err)?;
        Ok(ScriptOptima {
            results: Arc::new(results),
            parameters: c.parameters.clone(),
        })
    }

    /// `optimum.csv` as a Table: method, cost, nfev, iterations, seconds, converged,
    /// message, one column per parameter.
    #[rhai_fn(get = "table", pure, return_raw)]
    pub fn optima_table(o: &mut ScriptOptima) -> RResult<ScriptTable> {
        optimize::table(&o.results, Some(&o.parameters))
            .map(|t| ScriptTable(Arc::new(t)))
            .map_err(err)
    }

    /// The lowest cost found: `#{method, cost, x}`.
    #[rhai_fn(get = "best", pure)]
    pub fn optima_best(o: &mut ScriptOptima) -> Map {
        let mut m = Map::new();
        if let Some(r) = o.results.iter().min_by(|a, b| a.cost.total_cmp(&b.cost)) {
            m.insert("method".into(), Dynamic::from(r.method.clone()));
            m.insert("cost".into(), Dynamic::from_float(r.cost));
            m.insert(
                "x".into(),
                Dynamic::from(NdArray::new(Array1::from(r.x.clone()).into_dyn())),
            );
        }
        m
    }

    /// Writes `optimum.csv` into `dir`.
    #[rhai_fn(name = "save", pure, return_raw)]
    pub fn optima_save(o: &mut ScriptOptima, dir: &str) -> RResult<()> {
        let dir = Path::new(dir);
        crate::files::create_dir(dir).map_err(err)?;
        optimize::write_csv(&dir.join("optimum.csv"), &o.results, Some(&o.parameters)).map_err(err)
    }

    /// The posterior of the scalings by an affine-invariant ensemble sampler (emcee's
    /// stretch and differential-evolution moves), uniform prior on [0, 1]^d, log-likelihood `-1/2 sum ((Uhat - Uobs)^2
    /// / s2 + ln s2)` with `s2 = sigma^2 +` the emulator's variance (lambda-weighted for the
    /// `eq6` form), or `-J/2` for a script's cost. Options: `walkers` (64), `steps` (5000,
    /// burn-in included), `burn` (1000), `thin` (1), `seed` (0), `start` (`"uniform"`, or
    /// a candidate to start around, e.g. the optimum's `x`), `radius` (0.05, around it),
    /// `de` (0.8: the fraction of steps by differential evolution; 0: the stretch move alone).
    /// Without `steps` the sampler runs until converged (the chain after burn-in longer than
    /// 50 autocorrelation times for every parameter, tau settled to 5 %) within a budget,
    /// choosing burn-in (2 tau) and thinning (tau / 2) itself: options `max_steps` (20000),
    /// `max_seconds` (600), `walkers` (64), `check_every`, `tol`, `rtol`, `burn_tau`, and
    /// `burn`, `thin`, `seed`, `start`, `radius`, `de` as above; `converged` and `message` say how
    /// it went (a warning is printed when it did not converge).
    #[rhai_fn(return_raw)]
    pub fn posterior(
        ctx: NativeCallContext,
        c: ScriptCost,
        options: Map,
    ) -> RResult<ScriptPosterior> {
        let _step = crate::provenance::step("posterior");
        evaluable(&c)?;
        if !options.contains_key("steps") {
            return posterior_until_converged(&ctx, &c, &options); // issue 27
        }
        let (s, start) =
            crate::script::options::read::<FixedPosterior>(&options, "posterior with steps")?
                .settings()?;
        s.check(c.cost.dim()).map_err(err)?;
        let chain = sample(&CostDensity { c: &c, ctx: &ctx }, &start, &s).map_err(err)?;
        let summary = chain.summary();
        let settings = serde_json::json!({
            "cost": format!("{c:?}"),
            "walkers": s.walkers, "steps": s.steps, "burn": s.burn, "thin": s.thin,
            "seed": s.seed, "a": s.a, "de": s.de,
            "start": match &start { Start::Ball { center, radius } => serde_json::json!({"center": center, "radius": radius}), _ => serde_json::json!("uniform") },
            "acceptance": summary.acceptance,
            "likelihood": if c.custom.is_some() { "-J/2 of the script's cost" } else { "Gaussian: sigma^2 + emulator variance" },
        });
        Ok(ScriptPosterior {
            chain: Arc::new(chain),
            summary: Arc::new(summary),
            parameters: c.parameters.clone(),
            settings,
        })
    }

    /// `posterior.csv` as a Table: parameter, mean, p05, p50, p95, acceptance, tau, ess,
    /// tau_reliable, converged, steps, burn, thin.
    #[rhai_fn(get = "table", pure, return_raw)]
    pub fn posterior_table(p: &mut ScriptPosterior) -> RResult<ScriptTable> {
        let rows = p.summary.rows(&p.parameters).map_err(err)?;
        let cols = PosteriorSummary::COLUMNS
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let cells: Vec<String> = rows.iter().map(|r| r[j].clone()).collect();
                let col = if cells
                    .iter()
                    .all(|c| c.is_empty() || c.parse::<f64>().is_ok())
                {
                    crate::table::Column::Numbers(
                        cells
                            .iter()
                            .map(|c| c.parse().unwrap_or(f64::NAN))
                            .collect(),
                    )
                } else {
                    crate::table::Column::Text(cells)
                };
                (name.to_string(), col)
            })
            .collect();
        crate::table::Table::from_columns(cols)
            .map(|t| ScriptTable(Arc::new(t)))
            .map_err(err)
    }

    /// The kept samples, (kept steps x walkers) x parameters: for a corner plot.
    #[rhai_fn(get = "samples", pure)]
    pub fn posterior_samples(p: &mut ScriptPosterior) -> NdArray {
        NdArray::new(p.chain.flat().to_owned().into_dyn())
    }

    /// The posterior mean per parameter.
    #[rhai_fn(get = "mean", pure)]
    pub fn posterior_mean(p: &mut ScriptPosterior) -> NdArray {
        NdArray::new(Array1::from(p.summary.mean.clone()).into_dyn())
    }

    /// The mean acceptance fraction of the walkers.
    #[rhai_fn(get = "acceptance", pure)]
    pub fn posterior_acceptance(p: &mut ScriptPosterior) -> f64 {
        p.summary.acceptance
    }

    /// Writes `posterior.csv`, `posterior.json` (the sampler's settings) and
    /// `posterior_samples.csv` (the draws: `draw`, one column per parameter) into `dir`.
    #[rhai_fn(name = "save", pure, return_raw)]
    pub fn posterior_save(p: &mut ScriptPosterior, dir: &str) -> RResult<()> {
        let dir = Path::new(dir);
        crate::files::all_or_nothing(|| {
            crate::files::create_dir(dir)?;
            p.summary
                .write_csv(&dir.join("posterior.csv"), &p.parameters)?;
            let samples = dir.join("posterior_samples.csv"); // issue 27
            crate::calibrate::mcmc::write_posterior_samples(&samples, &p.chain, &p.parameters)?;
            crate::files::write_json(&dir.join("posterior.json"), &p.settings)
        })
        .map_err(err)
    }

    /// `Posterior(64 walkers x 4000 kept steps; acceptance ...; mean [...])`.
    #[rhai_fn(name = "to_string", pure)]
    pub fn posterior_to_string(p: &mut ScriptPosterior) -> String {
        format!("{p:?}")
    }

    /// `Optima(de: 1.234, ...)`.
    #[rhai_fn(name = "to_string", pure)]
    pub fn optima_to_string(o: &mut ScriptOptima) -> String {
        let parts: Vec<String> = o
            .results
            .iter()
            .map(|r| format!("{}: {:.6} ({} evaluations)", r.method, r.cost, r.nfev))
            .collect();
        format!("Optima({})", parts.join("; "))
    }

    /// The kept candidates' scalings, kept x parameters.
    #[rhai_fn(get = "x", pure)]
    pub fn hm_x(h: &mut ScriptHistoryMatch) -> NdArray {
        NdArray::new(h.kept.x.clone().into_dyn())
    }

    /// The kept candidates' costs, lowest first.
    #[rhai_fn(get = "cost", pure)]
    pub fn hm_cost(h: &mut ScriptHistoryMatch) -> NdArray {
        NdArray::new(h.kept.cost.clone().into_dyn())
    }

    /// Candidates evaluated.
    #[rhai_fn(get = "evaluated", pure)]
    pub fn hm_evaluated(h: &mut ScriptHistoryMatch) -> INT {
        h.kept.evaluated as INT
    }

    /// Candidates that met the criterion (more than kept when a limit cut them).
    #[rhai_fn(get = "accepted", pure)]
    pub fn hm_accepted(h: &mut ScriptHistoryMatch) -> INT {
        h.kept.accepted as INT
    }

    /// The not-ruled-out-yet fraction of [0, 1]^d (implausibility method; else the accepted
    /// fraction).
    #[rhai_fn(get = "nroy_fraction", pure)]
    pub fn hm_nroy(h: &mut ScriptHistoryMatch) -> f64 {
        match &h.wave {
            Some(w) => w.nroy_fraction,
            None => h.kept.accepted as f64 / h.kept.evaluated.max(1) as f64,
        }
    }

    /// `history_match.csv` as a Table: rank, cost, implausibility (where used), one column
    /// per parameter.
    #[rhai_fn(get = "table", pure, return_raw)]
    pub fn hm_table(h: &mut ScriptHistoryMatch) -> RResult<ScriptTable> {
        history_match::table(&h.kept, &h.parameters)
            .map(|t| ScriptTable(Arc::new(t)))
            .map_err(err)
    }

    /// Writes the kept set and its settings and counts into `dir` (e.g. `OUT/calibrate`):
    /// `history_match.csv` and `.json` for the cost filter, `nroy_waveK.csv` and `.json`
    /// for wave K of an implausibility match.
    #[rhai_fn(name = "save", pure, return_raw)]
    pub fn hm_save(h: &mut ScriptHistoryMatch, dir: &str) -> RResult<()> {
        let dir = Path::new(dir);
        let stem = match &h.wave {
            None => "history_match".to_string(),
            Some(_) => format!("nroy_wave{}", h.previous.len() + 1),
        };
        crate::files::all_or_nothing(|| {
            crate::files::create_dir(dir)?;
            history_match::table(&h.kept, &h.parameters)?
                .write(&dir.join(format!("{stem}.csv")))?;
            crate::files::write_json(&dir.join(format!("{stem}.json")), &h.settings)
        })
        .map_err(err)
    }

    /// Implausibility waves (history matching in waves, as `history_match` with method
    /// "implausibility" and `previous`): wave 1 samples `n` candidates over the scalings'
    /// unit cube, each later wave inside the one before, with seeds `seed`, `seed + 1`, ...;
    /// it stops early when a wave rules out every candidate. The options are those of the
    /// implausibility method (`n`, `cutoff`, `order`, `discrepancy`, `emulator_variance`,
    /// `limit`, `seed`).
    ///
    /// ```rhai
    /// let x = rand([40, 2], 1);
    /// let t = #{GPP: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///                  lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let j = cost(#{GPP: fit_ridge(x, x, #{alpha: 0})}, t);
    /// let w = nroy_waves(j, 2, #{n: 20000, seed: 1});
    /// w.waves.len()                                       //=> 2
    /// w.nroy_fraction < w.waves[0].nroy_fraction          //=> true
    /// w.message.starts_with("implausibility < 3: NROY fraction ")   //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn nroy_waves(c: ScriptCost, waves: INT, options: Map) -> RResult<ScriptWaves> {
        let _step = crate::provenance::step("nroy_waves");
        if !(1..=100).contains(&waves) {
            return Err(script_err(format!(
                "nroy_waves: {waves} waves; give 1 to 100"
            )));
        }
        for k in ["method", "previous"] {
            if options.contains_key(k) {
                return Err(script_err(format!(
                    "nroy_waves: option {k} is not taken (each wave samples inside the one before)"
                )));
            }
        }
        let seed = match options.get("seed") {
            Some(v) => seed_option(v)?,
            None => 0,
        };
        let mut out = ScriptWaves {
            waves: Vec::new(),
            cutoff: MatchSettings::default().cutoff,
        };
        for k in 0..waves as u64 {
            let mut o = options.clone();
            o.insert(
                "seed".into(),
                Dynamic::from_int(seed.wrapping_add(k) as INT),
            );
            if let Some(last) = out.waves.last() {
                o.insert("previous".into(), Dynamic::from(last.clone()));
            }
            let h = match_by_implausibility(&c, &o)?;
            if let Some(cut) = h.settings.get("cutoff").and_then(|v| v.as_f64()) {
                out.cutoff = cut;
            }
            let empty = h.wave.as_ref().is_none_or(|w| w.nroy_fraction <= 0.0);
            out.waves.push(h);
            if empty {
                break;
            }
        }
        Ok(out)
    }

    /// The waves (`HistoryMatch` each), first first.
    #[rhai_fn(get = "waves", pure)]
    pub fn waves_list(w: &mut ScriptWaves) -> Array {
        w.waves.iter().cloned().map(Dynamic::from).collect()
    }

    /// The NROY fraction of the last wave.
    #[rhai_fn(get = "nroy_fraction", pure)]
    pub fn waves_nroy(w: &mut ScriptWaves) -> f64 {
        w.waves
            .last()
            .and_then(|h| h.wave.as_ref())
            .map_or(0.0, |x| x.nroy_fraction)
    }

    /// One line: the NROY fraction after each wave, or that the first ruled out everything.
    #[rhai_fn(get = "message", pure)]
    pub fn waves_text(w: &mut ScriptWaves) -> String {
        waves_message(w)
    }

    /// Writes `nroy_waveK.csv` and `.json` of every wave into `dir`, all or none.
    #[rhai_fn(name = "save", pure, return_raw)]
    pub fn waves_save(w: &mut ScriptWaves, dir: &str) -> RResult<()> {
        let dir = Path::new(dir);
        crate::files::all_or_nothing(|| {
            crate::files::create_dir(dir)?;
            for (k, h) in w.waves.iter().enumerate() {
                let stem = format!("nroy_wave{}", k + 1);
                history_match::table(&h.kept, &h.parameters)?
                    .write(&dir.join(format!("{stem}.csv")))?;
                crate::files::write_json(&dir.join(format!("{stem}.json")), &h.settings)?;
            }
            Ok(())
        })
        .map_err(err)
    }

    /// `Waves(implausibility < 3: NROY fraction 0.0123, then 0.0045)`.
    #[rhai_fn(name = "to_string", pure)]
    pub fn waves_to_string(w: &mut ScriptWaves) -> String {
        format!("{w:?}")
    }

    /// `HistoryMatch(1000 kept of 10000000 evaluated)`.
    #[rhai_fn(name = "to_string", pure)]
    pub fn hm_to_string(h: &mut ScriptHistoryMatch) -> String {
        format!("{h:?}")
    }

    // -------------------------------------------------------------------------------------
    // Issue 27: a posterior that converged, and what the data constrain. Everything below
    // is new; above, only `posterior` (runs to convergence when `steps` is not given) and
    // `save` (also writes posterior_samples.csv) gained a line each.
    // -------------------------------------------------------------------------------------

    /// Whether the MCMC converged: for a run to convergence (no `steps` given), the chain
    /// after burn-in is longer than 50 autocorrelation times and tau settled (changed < 5 %
    /// at the last check); for a fixed number of steps, whether every tau is reliable.
    ///
    /// ```rhai
    /// let x = rand([40, 3], 1);
    /// let t = #{GPP: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///                  lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let j = cost(#{GPP: fit_ridge(x, take(x, [0, 1], 1), #{alpha: 0})}, t);
    /// let post = posterior(j, #{seed: 1, start: [0.3, 0.6, 0.5]});    // until converged
    /// post.converged    //=> true
    /// "converged" in post.table.columns    //=> true
    /// ```
    #[rhai_fn(get = "converged", pure)]
    pub fn posterior_converged(p: &mut ScriptPosterior) -> bool {
        p.summary.converged
    }

    /// The sampler's verdict in words: "MCMC converged after ..." or "MCMC did not
    /// converge: chain 5000 steps after burn-in < 50 tau (tau_max 180, ...) for kmax; raise
    /// max_steps" (a run of fixed `steps` says "raise steps").
    ///
    /// ```rhai
    /// let x = rand([40, 3], 1);
    /// let t = #{GPP: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///                  lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let j = cost(#{GPP: fit_ridge(x, take(x, [0, 1], 1), #{alpha: 0})}, t);
    /// let post = posterior(j, #{seed: 1, start: [0.3, 0.6, 0.5], max_steps: 300});
    /// post.converged    //=> false
    /// post.message.contains("raise max_steps")    //=> true
    /// ```
    #[rhai_fn(get = "message", pure)]
    pub fn posterior_message(p: &mut ScriptPosterior) -> String {
        posterior_verdict(p)
    }

    /// Steps every walker took (burn-in included), the burn-in and the thinning, as
    /// `#{steps, burn, thin}`.
    ///
    /// ```rhai
    /// let x = rand([40, 3], 1);
    /// let t = #{GPP: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///                  lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let j = cost(#{GPP: fit_ridge(x, take(x, [0, 1], 1), #{alpha: 0})}, t);
    /// let post = posterior(j, #{steps: 400, burn: 100, thin: 3, seed: 1, start: [0.3, 0.6, 0.5]});
    /// post.chain    //=> #{"burn": 100, "steps": 400, "thin": 3}
    /// ```
    #[rhai_fn(get = "chain", pure)]
    pub fn posterior_chain(p: &mut ScriptPosterior) -> Map {
        let mut m = Map::new();
        m.insert("steps".into(), Dynamic::from(p.summary.steps as INT));
        m.insert("burn".into(), Dynamic::from(p.summary.burn as INT));
        m.insert("thin".into(), Dynamic::from(p.summary.thin as INT));
        m
    }

    /// The posterior draws of `posterior_samples.csv` (draws x parameters): the kept steps
    /// of a run to convergence (thinned by about half the shortest autocorrelation time), or
    /// of a fixed run thinned further to about the same spacing; e.g. to draw K parameter
    /// sets for a posterior predictive check.
    ///
    /// ```rhai
    /// let x = rand([40, 3], 1);
    /// let t = #{GPP: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///                  lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let j = cost(#{GPP: fit_ridge(x, take(x, [0, 1], 1), #{alpha: 0})}, t);
    /// let post = posterior(j, #{seed: 1, start: [0.3, 0.6, 0.5]});
    /// post.draws.shape[1]    //=> 3
    /// post.save(`${TEMP_DIR}/post_draws`);
    /// load_posterior_samples(`${TEMP_DIR}/post_draws`).draws.shape == post.draws.shape    //=> true
    /// ```
    #[rhai_fn(get = "draws", pure)]
    pub fn posterior_draws(p: &mut ScriptPosterior) -> NdArray {
        NdArray::new(p.chain.draws().into_dyn())
    }

    /// Reads `DIR/posterior_samples.csv` (written by a posterior's `save(DIR)`):
    /// `#{parameters, draws}`, the names and the draws (draws x parameters).
    ///
    /// ```rhai
    /// let t = table(#{draw: [1, 2], kmax: [0.25, 0.5], fff: [0.75, 1.0]});
    /// t.select(["draw", "kmax", "fff"]).save(`${TEMP_DIR}/samples_example.csv`);
    /// let s = load_posterior_samples(`${TEMP_DIR}/samples_example.csv`);    // or the folder
    /// s.parameters    //=> ["kmax", "fff"]
    /// s.draws    //=> [[0.25 0.75]
    ///            //=>  [0.5  1.  ]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn load_posterior_samples(dir: &str) -> RResult<Map> {
        let (names, x) = crate::calibrate::load_posterior_samples(Path::new(dir)).map_err(err)?;
        let mut m = Map::new();
        m.insert(
            "parameters".into(),
            Dynamic::from_array(names.into_iter().map(Dynamic::from).collect()),
        );
        m.insert("draws".into(), Dynamic::from(NdArray::new(x.into_dyn())));
        Ok(m)
    }

    /// What the data constrain (`calibrate/identifiability.csv`): per parameter the
    /// posterior's 5-95 % width against the prior's (0.9), the cost's total Sobol index
    /// (Jansen's estimator, `n` seeded base samples), a profile of the cost along the
    /// parameter (21 values; the others re-optimised by L-BFGS-B, and at the optimum), and
    /// `constrained` = width ratio < 0.5 and total Sobol >= 0.01; else `bounded below`
    /// (`above`) when total Sobol >= 0.01 and the posterior leaves out at least a quarter of
    /// the prior below (above); else `unconstrained` (the `status` column). Options: `seed`
    /// (0), `n` (10000), `points` (21), `profile` (`"optimized"` or `"at_optimum"`: the
    /// slice only, cheaper), `max_width_ratio` (0.5), `min_total_sobol` (0.01),
    /// `min_excluded` (0.25), `local_iterations` (200). `post` is the posterior, `x` the
    /// optimum (e.g. `opt.best.x`).
    ///
    /// ```rhai
    /// let x = rand([40, 3], 1);
    /// let t = #{GPP: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///                  lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let j = cost(#{GPP: fit_ridge(x, take(x, [0, 1], 1), #{alpha: 0})}, t);
    /// let post = posterior(j, #{seed: 1, start: [0.3, 0.6, 0.5]});
    /// let id = identifiability(j, post, [0.3, 0.6, 0.5], #{seed: 1, n: 2000});
    /// id.unconstrained    //=> ["x3"]
    /// id.constrained    //=> ["x1", "x2"]
    /// id.table.columns.extract(0, 5)    //=> ["parameter", "prior_width", "posterior_width", "total_sobol", "constrained"]
    /// id.save(`${TEMP_DIR}/ident`);    // identifiability.csv, _profiles.csv, .json, .png
    /// ```
    #[rhai_fn(return_raw)]
    pub fn identifiability(
        ctx: NativeCallContext,
        c: ScriptCost,
        post: ScriptPosterior,
        x: Dynamic,
        options: Map,
    ) -> RResult<ScriptIdentifiability> {
        identifiability_of(&ctx, &c, &post, &x, &options)
    }

    /// `identifiability.csv` as a Table: parameter, prior_width, posterior_width,
    /// total_sobol, constrained, then status (`constrained`, `bounded below`, `bounded
    /// above`, `unconstrained`), width_ratio, first_order_sobol, optimum, p05, p50, p95,
    /// profile_range, estimate (the optimum when constrained, `>= p05` or `<= p95` when
    /// bounded on one side, else the posterior's `p05-p95`), reason.
    ///
    /// ```rhai
    /// let x = rand([40, 3], 1);
    /// let t = #{GPP: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///                  lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let j = cost(#{GPP: fit_ridge(x, take(x, [0, 1], 1), #{alpha: 0})}, t);
    /// let post = posterior(j, #{seed: 1, start: [0.3, 0.6, 0.5]});
    /// let id = identifiability(j, post, [0.3, 0.6, 0.5], #{n: 1000, profile: "at_optimum"});
    /// id.table.len()    //=> 3
    /// ```
    #[rhai_fn(get = "table", pure, return_raw)]
    pub fn ident_table(id: &mut ScriptIdentifiability) -> RResult<ScriptTable> {
        id.0.table().map(|t| ScriptTable(Arc::new(t))).map_err(err)
    }

    /// Names of the parameters the data do not constrain (nor bound on one side).
    ///
    /// ```rhai
    /// let x = rand([40, 3], 1);
    /// let t = #{GPP: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///                  lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let j = cost(#{GPP: fit_ridge(x, take(x, [0, 1], 1), #{alpha: 0})}, t);
    /// let post = posterior(j, #{seed: 1, start: [0.3, 0.6, 0.5]});
    /// identifiability(j, post, [0.3, 0.6, 0.5], #{n: 1000, profile: "at_optimum"}).unconstrained    //=> ["x3"]
    /// ```
    #[rhai_fn(get = "unconstrained", pure)]
    pub fn ident_unconstrained(id: &mut ScriptIdentifiability) -> Array {
        id.0.unconstrained()
            .into_iter()
            .map(Dynamic::from)
            .collect()
    }

    /// Names of the parameters the data constrain.
    ///
    /// ```rhai
    /// let x = rand([40, 3], 1);
    /// let t = #{GPP: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///                  lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let j = cost(#{GPP: fit_ridge(x, take(x, [0, 1], 1), #{alpha: 0})}, t);
    /// let post = posterior(j, #{seed: 1, start: [0.3, 0.6, 0.5]});
    /// identifiability(j, post, [0.3, 0.6, 0.5], #{n: 1000, profile: "at_optimum"}).constrained    //=> ["x1", "x2"]
    /// ```
    #[rhai_fn(get = "constrained", pure)]
    pub fn ident_constrained(id: &mut ScriptIdentifiability) -> Array {
        id.0.constrained().into_iter().map(Dynamic::from).collect()
    }

    /// Names of the parameters the data bound on one side only (`status` `bounded below`
    /// or `bounded above`: a quarter or more of the prior ruled out at one end).
    ///
    /// ```rhai
    /// let x = rand([40, 3], 1);
    /// let t = #{GPP: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///                  lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let j = cost(#{GPP: fit_ridge(x, take(x, [0, 1], 1), #{alpha: 0})}, t);
    /// let post = posterior(j, #{seed: 1, start: [0.3, 0.6, 0.5]});
    /// identifiability(j, post, [0.3, 0.6, 0.5], #{n: 1000, profile: "at_optimum"}).bounded    //=> []
    /// ```
    #[rhai_fn(get = "bounded", pure)]
    pub fn ident_bounded(id: &mut ScriptIdentifiability) -> Array {
        id.0.bounded().into_iter().map(Dynamic::from).collect()
    }

    /// Each parameter's estimate as it should be reported, a map of name -> text: the
    /// optimum (`"0.300"`) when the data constrain it, the bound (`">= 0.41"`) when they
    /// bound it on one side, else the posterior's 5-95 % interval (`"0.05-0.95"`).
    ///
    /// ```rhai
    /// let x = rand([40, 3], 1);
    /// let t = #{GPP: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///                  lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let j = cost(#{GPP: fit_ridge(x, take(x, [0, 1], 1), #{alpha: 0})}, t);
    /// let post = posterior(j, #{seed: 1, start: [0.3, 0.6, 0.5]});
    /// let e = identifiability(j, post, [0.3, 0.6, 0.5], #{n: 1000, profile: "at_optimum"}).estimate;
    /// e.x1    //=> 0.300
    /// e.x3.contains("-")    //=> true
    /// ```
    #[rhai_fn(get = "estimate", pure)]
    pub fn ident_estimate(id: &mut ScriptIdentifiability) -> Map {
        id.0.parameters
            .iter()
            .map(|p| (p.name.as_str().into(), Dynamic::from(p.estimate())))
            .collect()
    }

    /// Writes `identifiability.csv`, `identifiability_profiles.csv` (parameter, value,
    /// cost_at_optimum, cost_profile), `identifiability.json` (the rule, the settings) and
    /// the figure `identifiability.png` into `dir`.
    ///
    /// ```rhai
    /// let x = rand([40, 3], 1);
    /// let t = #{GPP: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///                  lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let j = cost(#{GPP: fit_ridge(x, take(x, [0, 1], 1), #{alpha: 0})}, t);
    /// let post = posterior(j, #{seed: 1, start: [0.3, 0.6, 0.5]});
    /// identifiability(j, post, [0.3, 0.6, 0.5], #{n: 1000}).save(`${TEMP_DIR}/ident_save`);
    /// read_table(`${TEMP_DIR}/ident_save/identifiability.csv`)["constrained"]    //=> ["true", "true", "false"]
    /// ```
    #[rhai_fn(name = "save", pure, return_raw)]
    pub fn ident_save(id: &mut ScriptIdentifiability, dir: &str) -> RResult<()> {
        id.0.save(Path::new(dir)).map_err(err)
    }

    /// `Identifiability(constrained: x1, x2; not constrained: x3 (0.05-0.95))`.
    ///
    /// ```rhai
    /// let x = rand([40, 3], 1);
    /// let t = #{GPP: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///                  lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let j = cost(#{GPP: fit_ridge(x, take(x, [0, 1], 1), #{alpha: 0})}, t);
    /// let post = posterior(j, #{seed: 1, start: [0.3, 0.6, 0.5]});
    /// `${identifiability(j, post, [0.3, 0.6, 0.5], #{n: 1000, profile: "at_optimum"})}`.starts_with("Identifiability(constrained: x1, x2;")    //=> true
    /// ```
    #[rhai_fn(name = "to_string", pure)]
    pub fn ident_to_string(id: &mut ScriptIdentifiability) -> String {
        format!("{id:?}")
    }
}

fn match_by_cost(
    ctx: &NativeCallContext,
    c: &ScriptCost,
    options: &Map,
) -> RResult<ScriptHistoryMatch> {
    let o: CostMatch = crate::script::options::read_with(
        options,
        "history_match with method \"cost\"",
        &["method"],
    )?;
    let (mut s, mut keep) = o.settings()?;
    let better = o.better_than_default;
    let default_cost = if better {
        if keep.is_some() {
            return Err(script_err(
                "give one of keep, threshold and better_than_default",
            ));
        }
        let d = default_cost_of(ctx, c)?;
        keep = Some(Keep::Below(d));
        Some(d)
    } else {
        None
    };
    if let Some(k) = keep {
        s.keep = k;
    }
    evaluable(c)?;
    let pb = crate::progress::bar(s.n as u64, "history matching");
    let kept = match &c.custom {
        None => cost_filter(c.cost.as_ref(), &s, |d, _| pb.set_position(d as u64)),
        Some(f) => {
            let obj = ClosureObjective {
                cost: &c.cost,
                parameters: &c.parameters,
                f,
                ctx,
            };
            cost_filter(&obj, &s, |d, _| pb.set_position(d as u64))
        }
    };
    pb.finish_and_clear();
    let kept = kept.map_err(err)?;
    let settings = serde_json::json!({
        "method": "cost",
        "cost": format!("{c:?}"),
        "n": s.n,
        "keep": match s.keep { Keep::Best(k) => serde_json::json!(k), Keep::Below(_) => serde_json::Value::Null },
        "threshold": match s.keep { Keep::Below(t) => serde_json::json!(t), Keep::Best(_) => serde_json::Value::Null },
        "default_cost": default_cost,
        "limit": s.limit,
        "seed": s.seed,
        "chunk": history_match::CHUNK,
        "evaluated": kept.evaluated,
        "accepted": kept.accepted,
        "kept": kept.cost.len(),
        "candidates": "one Latin hypercube per chunk, seeded from seed and chunk index",
    });
    Ok(ScriptHistoryMatch {
        kept: Arc::new(kept),
        wave: None,
        previous: Vec::new(),
        parameters: c.parameters.clone(),
        settings,
    })
}

fn match_by_implausibility(c: &ScriptCost, options: &Map) -> RResult<ScriptHistoryMatch> {
    let mut s = MatchSettings::default();
    // the cost's own discrepancy unless the options give one: one denominator everywhere
    if c.cost.discrepancy().iter().any(|&d| d > 0.0) {
        s.discrepancy = c.cost.discrepancy().to_vec();
    }
    let o: ImplausibilityMatch = crate::script::options::read_with(
        options,
        "history_match with method \"implausibility\"",
        &["method"],
    )?;
    if let Some(x) = o.n {
        s.n = count(x, "n", 1e12)?;
    }
    s.cutoff = o.cutoff.unwrap_or(s.cutoff);
    if let Some(x) = o.order {
        s.order = count(x, "order", 1e6)?;
    }
    if let Some(x) = o.limit {
        s.limit = count(x, "limit", 1e7)?;
    }
    s.seed = seed_of(o.seed)?;
    s.emulator_variance = o.emulator_variance.unwrap_or(s.emulator_variance);
    let variables = c.cost.variables();
    if let Some(v) = &o.discrepancy {
        let m = v.read_lock::<Map>().map(|m| m.clone()).ok_or_else(|| {
            script_err("option discrepancy is a map of variable -> variance, e.g. #{GPP: 1e-5}")
        })?;
        s.discrepancy = vec![0.0; variables.len()];
        for (name, d) in &m {
            let i = variables
                .iter()
                .position(|v| v == name.as_str())
                .ok_or_else(|| {
                    script_err(format!(
                        "discrepancy: '{name}' is not a variable of this cost ({})",
                        variables.join(", "),
                        name = crate::format::printable(name)
                    ))
                })?;
            s.discrepancy[i] = number(d, &format!("discrepancy.{name}"))?;
        }
    }
    let mut previous: Vec<Wave> = Vec::new();
    if let Some(v) = &o.previous {
        let p = v.clone().try_cast::<ScriptHistoryMatch>().ok_or_else(|| {
            script_err("option previous is the HistoryMatch of an earlier implausibility wave")
        })?;
        let w = p.wave.clone().ok_or_else(|| {
            script_err("option previous must come from method \"implausibility\"")
        })?;
        previous = p.previous.clone();
        previous.push((*w).clone());
    }
    let pb = crate::progress::bar(s.n as u64, "history matching (implausibility)");
    let wave = implausibility_match(&c.cost, &s, &previous, |d, _| pb.set_position(d as u64));
    pb.finish_and_clear();
    let wave = wave.map_err(err)?;
    let kept = history_match::by_cost(&wave.kept);
    let settings = serde_json::json!({
        "method": "implausibility",
        "cost": format!("{c:?}"),
        "wave": previous.len() + 1,
        "n": s.n,
        "cutoff": s.cutoff,
        "order": s.order,
        "discrepancy": s.discrepancy,
        "emulator_variance": s.emulator_variance,
        "limit": s.limit,
        "seed": s.seed,
        "evaluated": wave.kept.evaluated,
        "accepted": wave.kept.accepted,
        "nroy_fraction": wave.nroy_fraction,
        "bounds": wave.bounds,
    });
    Ok(ScriptHistoryMatch {
        kept: Arc::new(kept),
        wave: Some(Arc::new(wave)),
        previous,
        parameters: c.parameters.clone(),
        settings,
    })
}

/// The `calibrate` module.
pub fn module() -> Module {
    exported_module!(calibrate_fns)
}

// -----------------------------------------------------------------------------------------
// Issue 27: a posterior that converged, and what the data constrain (helpers of the block
// at the end of `calibrate_fns`).
// -----------------------------------------------------------------------------------------

/// What the data constrain (script type `Identifiability`).
#[derive(Clone)]
pub struct ScriptIdentifiability(pub Arc<crate::calibrate::identify::Identifiability>);

impl std::fmt::Debug for ScriptIdentifiability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let free: Vec<String> = self
            .0
            .parameters
            .iter()
            .filter(|p| !p.constrained)
            .map(|p| format!("{} ({})", p.name, p.estimate()))
            .collect();
        write!(
            f,
            "Identifiability(constrained: {}; not constrained: {})",
            self.0.constrained().join(", "),
            free.join(", ")
        )
    }
}

/// The verdict of a posterior in words: the run's own message when it ran to convergence;
/// for a fixed number of steps, whether every tau is reliable, and else which parameters'
/// are not.
fn posterior_verdict(p: &ScriptPosterior) -> String {
    if let Some(c) = p.chain.convergence() {
        return c.message(&p.parameters);
    }
    let s = &p.summary;
    let after = s.steps - s.burn;
    let short: Vec<usize> = (0..s.tau.len()).filter(|&j| !s.tau_reliable[j]).collect();
    if short.is_empty() {
        let tau_max = s.tau.iter().copied().fold(f64::NAN, f64::max);
        return format!(
            "MCMC converged: the {after} steps after burn-in are {:.0} times the longest autocorrelation time (tau_max {tau_max:.0}); fixed steps, tau's settling not checked",
            after as f64 / tau_max
        );
    }
    let worst = short
        .iter()
        .copied()
        .max_by(|&a, &b| s.tau[a].total_cmp(&s.tau[b]))
        .unwrap_or(0);
    let names: Vec<&str> = short.iter().map(|&j| p.parameters[j].as_str()).collect();
    format!(
        "MCMC did not converge: chain {after} steps after burn-in < 50 tau (tau_max {:.0}) for {}; raise steps (or leave steps out to run until converged)",
        s.tau[worst],
        names.join(", ")
    )
}

/// `posterior(cost, options)` without `steps`: the ensemble sampler run until converged
/// ([`crate::calibrate::mcmc::sample_until_converged`]). Options: walkers (64), max_steps
/// (20000), max_seconds (600), check_every (100), tol (50), rtol (0.05), burn_tau (2),
/// burn, thin, seed (0), start, radius (0.05).
fn posterior_until_converged(
    ctx: &NativeCallContext,
    c: &ScriptCost,
    options: &Map,
) -> RResult<ScriptPosterior> {
    use crate::calibrate::mcmc::sample_until_converged;
    let dim = c.cost.dim();
    let (s, start) = crate::script::options::read::<ConvergedPosterior>(
        options,
        "posterior without steps (give steps for a fixed number)",
    )?
    .settings(dim)?;
    s.check(dim).map_err(err)?;
    let chain = sample_until_converged(&CostDensity { c, ctx }, &start, &s).map_err(err)?;
    let summary = chain.summary();
    let conv = chain.convergence().cloned();
    let message = conv
        .as_ref()
        .map(|v| v.message(&c.parameters))
        .unwrap_or_default();
    if !summary.converged {
        crate::output::eprintln(&format!("warning: {message}"));
    }
    let settings = serde_json::json!({
        "cost": format!("{c:?}"),
        "mode": "until converged",
        "walkers": s.walkers, "max_steps": s.max_steps,
        "max_seconds": if s.max_seconds.is_finite() { Some(s.max_seconds) } else { None },
        "check_every": s.check_every, "tol": s.tol, "rtol": s.rtol, "burn_tau": s.burn_tau,
        "burn_given": s.burn, "thin_given": s.thin,
        "steps": summary.steps, "burn": summary.burn, "thin": summary.thin,
        "seed": s.seed, "a": s.a, "de": s.de,
        "start": match &start { Start::Ball { center, radius } => serde_json::json!({"center": center, "radius": radius}), _ => serde_json::json!("uniform") },
        "acceptance": summary.acceptance,
        "likelihood": if c.custom.is_some() { "-J/2 of the script's cost" } else { "Gaussian: sigma^2 + emulator variance" },
        "convergence": conv.as_ref().map(|v| v.to_json(&c.parameters)),
        "samples": {
            "file": "posterior_samples.csv",
            "draws": summary.kept_steps * summary.walkers,
            "thin": summary.thin,
            "about": "the kept steps after burn-in and thinning, every walker; columns draw, then one per parameter",
        },
    });
    Ok(ScriptPosterior {
        chain: Arc::new(chain),
        summary: Arc::new(summary),
        parameters: c.parameters.clone(),
        settings,
    })
}

/// `identifiability(cost, post, x, options)` (see the script function).
fn identifiability_of(
    ctx: &NativeCallContext,
    c: &ScriptCost,
    post: &ScriptPosterior,
    x: &Dynamic,
    options: &Map,
) -> RResult<ScriptIdentifiability> {
    use crate::calibrate::identify::{identify, IdentifySettings, Profile};
    let _step = crate::provenance::step("identifiability");
    let o: IdentifyOptions = crate::script::options::read(options, "identifiability")?;
    let mut s = IdentifySettings {
        seed: seed_of(o.seed)?,
        ..IdentifySettings::default()
    };
    if let Some(x) = o.n {
        s.sobol_samples = count(x, "n", 1e8)?;
    }
    if let Some(x) = o.points {
        s.points = count(x, "points", 1e5)?;
    }
    if let Some(name) = &o.profile {
        s.profile = Profile::parse(name).map_err(err)?;
    }
    s.max_width_ratio = o.max_width_ratio.unwrap_or(s.max_width_ratio);
    s.min_total_sobol = o.min_total_sobol.unwrap_or(s.min_total_sobol);
    s.min_excluded = o.min_excluded.unwrap_or(s.min_excluded);
    if let Some(x) = o.local_iterations {
        s.local_iterations = count(x, "local_iterations", 1e7)?;
    }
    if post.parameters != c.parameters {
        return Err(script_err(format!(
            "the posterior's parameters ({}) are not the cost's ({})",
            post.parameters.join(", "),
            c.parameters.join(", ")
        )));
    }
    let optimum: Vec<f64> = operand(x)?.data().iter().copied().collect();
    let draws = post.chain.flat();
    evaluable(c)?;
    let id = match &c.custom {
        None => identify(c.cost.as_ref(), &c.parameters, draws, &optimum, &s),
        Some(f) => identify(
            &ClosureObjective {
                cost: &c.cost,
                parameters: &c.parameters,
                f,
                ctx,
            },
            &c.parameters,
            draws,
            &optimum,
            &s,
        ),
    }
    .map_err(err)?;
    Ok(ScriptIdentifiability(Arc::new(id)))
}
