//! The `emulate` module: emulators of the EOF stage's PCs (ridge, quadratic ridge, the
//! paper's networks) fitted, compared, saved and loaded from scripts.

use super::array::NdArray;
use super::convert::{script_err, RResult};
use super::eof::ScriptEofStage;
use super::table::ScriptTable;
use crate::emulate::nn::{Network, NnOptions};
use crate::emulate::stage::{EmulatorStage, Inputs, StageSettings, Target};
use crate::emulate::{Fitted, Model};
use crate::table::{Column, Table};
use ndarray::{Array2, Ix2};
use rhai::plugin::*;
use rhai::{Array, Dynamic, Map, Module, INT};
use serde::Deserialize;
use std::sync::Arc;

/// A fitted emulator (script type `Emulator`).
#[derive(Clone, Debug)]
pub struct ScriptEmulator(pub Arc<Fitted>);

/// The emulator stage's results (script type `Emulators`).
#[derive(Clone, Debug)]
pub struct ScriptEmulators(pub Arc<EmulatorStage>);

fn err(e: anyhow::Error) -> Box<EvalAltResult> {
    script_err(format!("{e:#}"))
}

fn matrix(a: &NdArray, what: &str) -> RResult<Array2<f64>> {
    let d = a.data();
    match d.ndim() {
        1 => Ok(d
            .clone()
            .into_shape_with_order((d.len(), 1))
            .map_err(script_err)?),
        2 => Ok(d.clone().into_dimensionality::<Ix2>().map_err(script_err)?),
        n => Err(script_err(format!(
            "{what} must be a (rows x columns) Array, not {n}-D"
        ))),
    }
}

/// `v`, or an error if it is above `max` (sizes that would only allocate or run forever).
fn at_most(v: usize, key: &str, max: usize) -> RResult<usize> {
    if v > max {
        return Err(script_err(format!(
            "option {key} = {v} must be a whole number in 0..={max}"
        )));
    }
    Ok(v)
}

/// Fits an emulator of the registered kind `name` (`fit`, `fit_ridge`, `fit_gp`, `fit_nn`
/// without validation data): `options` read into the kind's settings (an unknown key gets a
/// did-you-mean naming `what`), `inputs` (parameter names of the columns of `x`) read here.
fn fit_kind(
    name: &str,
    x: &NdArray,
    y: &NdArray,
    options: &Map,
    what: &str,
) -> RResult<ScriptEmulator> {
    let kind = crate::emulate::kind::kind(name).map_err(err)?;
    let mut own = options.clone();
    let inputs = own.remove("inputs");
    if kind.fits() {
        let mut known = (kind.options)().to_vec();
        known.push("inputs");
        crate::script::options::check_keys(options, what, &known)?;
    }
    let (x, y) = (matrix(x, "x")?, matrix(y, "y")?);
    let model = kind
        .fit_from(
            x.view(),
            y.view(),
            crate::script::options::deserializer(&own),
        )
        .map_err(err)?;
    named(wrap(model, &x, &y)?, inputs, x.ncols())
}

/// The emulator with the parameter names of option `inputs`, if given.
fn named(e: ScriptEmulator, inputs: Option<Dynamic>, columns: usize) -> RResult<ScriptEmulator> {
    let Some(names) = inputs else {
        return Ok(e);
    };
    let names = crate::script::calibrate::names_option(&names, "inputs")?;
    if names.len() != columns {
        return Err(script_err(format!(
            "option inputs: {} names for {columns} columns of x",
            names.len()
        )));
    }
    let mut f = (*e.0).clone();
    f.parameters = names;
    Ok(ScriptEmulator(Arc::new(f)))
}

/// The stage's own options of `emulate(stage, options)` (besides a network's and a
/// Gaussian process's).
#[derive(Debug, Deserialize)]
#[serde(default)]
struct StageOptions {
    layer1: Vec<usize>,
    layer2: Vec<usize>,
    top: usize,
    resamples: usize,
    train: f64,
    validation: f64,
    #[serde(rename = "final")]
    final_training: Option<String>,
    ridge_alpha: f64,
    emulator: Dynamic,
    folds: usize,
    cv_resamples: usize,
}

impl Default for StageOptions {
    fn default() -> Self {
        let s = StageSettings::default();
        StageOptions {
            layer1: s.protocol.layer1,
            layer2: s.protocol.layer2,
            top: s.protocol.top,
            resamples: s.protocol.resamples,
            train: s.protocol.train,
            validation: s.protocol.validation,
            final_training: None,
            ridge_alpha: s.ridge_alpha,
            emulator: Dynamic::UNIT,
            folds: s.choice.folds,
            cv_resamples: s.choice.cv_resamples,
        }
    }
}

/// The Gaussian-process options the stage takes (its `seed` is the network's).
const STAGE_GP: [&str; 4] = ["kernels", "trend", "nugget", "n_start"];

/// The stage's settings from the options of `emulate(stage, options)`: the stage's own, a
/// network's (`fit_nn`'s) and a Gaussian process's (`fit_gp`'s but `seed`).
fn stage_settings(options: &Map) -> RResult<StageSettings> {
    use crate::script::options::{field_names, read_with};
    let own = field_names::<StageOptions>();
    let net = field_names::<NnOptions>();
    let others = |a: &[&'static str], b: &[&'static str]| -> Vec<&'static str> {
        a.iter().chain(b).copied().collect()
    };
    let nn: NnOptions = read_with(options, "emulate", &others(own, &STAGE_GP))?;
    let o: StageOptions = read_with(options, "emulate", &others(net, &STAGE_GP))?;
    let gp_map: Map = options
        .iter()
        .filter(|(k, _)| STAGE_GP.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut s = StageSettings {
        gp: crate::script::options::read(&gp_map, "emulate")?,
        ..StageSettings::default()
    };
    s.gp.check().map_err(err)?;
    s.protocol.network = nn.settings().map_err(err)?;
    let p = &mut s.protocol;
    for (key, list) in [("layer1", &o.layer1), ("layer2", &o.layer2)] {
        for &n in list {
            at_most(n, key, 100_000)?;
        }
    }
    p.layer1 = o.layer1;
    p.layer2 = o.layer2;
    p.top = at_most(o.top, "top", 100_000)?;
    p.resamples = at_most(o.resamples, "resamples", 100_000)?;
    p.train = o.train;
    p.validation = o.validation;
    if let Some(f) = &o.final_training {
        p.final_training = f.parse().map_err(err)?;
    }
    p.seed = p.network.seed;
    s.ridge_alpha = o.ridge_alpha;
    s.choice.emulator = named_option(&o.emulator)?;
    s.choice.folds = at_most(o.folds, "folds", 100_000)?;
    s.choice.cv_resamples = at_most(o.cv_resamples, "cv_resamples", 100_000)?;
    Ok(s)
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|k| format!("{prefix}{k}")).collect()
}

fn wrap(model: Model, x: &Array2<f64>, y: &Array2<f64>) -> RResult<ScriptEmulator> {
    Fitted::new(
        model,
        x.view(),
        y.view(),
        names("x", x.ncols()),
        names("PC", y.ncols()),
    )
    .map(|f| ScriptEmulator(Arc::new(f)))
    .map_err(err)
}

fn metrics_table(s: &EmulatorStage) -> RResult<Table> {
    let m = &s.metrics;
    let text =
        |f: fn(&crate::emulate::stage::Metric) -> String| Column::Text(m.iter().map(f).collect());
    let nums =
        |f: fn(&crate::emulate::stage::Metric) -> f64| Column::Numbers(m.iter().map(f).collect());
    Table::from_columns(vec![
        ("emulator".into(), text(|r| r.emulator.clone())),
        ("variable".into(), text(|r| r.variable.clone())),
        ("mode".into(), nums(|r| r.mode as f64)),
        ("split".into(), text(|r| r.split.clone())),
        ("mse".into(), nums(|r| r.mse)),
        ("r2".into(), nums(|r| r.r2)),
        ("coverage".into(), nums(|r| r.coverage)),
        ("r2_score".into(), nums(|r| r.r2_score)),
        ("rmse_sigma".into(), nums(|r| r.rmse_sigma)),
    ])
    .map_err(err)
}

/// The rows of `choice.csv` as a Table, in its columns.
fn choice_table(s: &EmulatorStage) -> RResult<Table> {
    use crate::emulate::choice::Choice;
    let c = &s.choice;
    let text = |f: fn(&Choice) -> String| Column::Text(c.iter().map(f).collect());
    let nums = |f: fn(&Choice) -> f64| Column::Numbers(c.iter().map(f).collect());
    Table::from_columns(vec![
        ("variable".into(), text(|r| r.variable.clone())),
        ("emulator".into(), text(|r| r.emulator.clone())),
        ("split".into(), text(|r| r.split.clone())),
        ("r2".into(), nums(|r| r.r2)),
        ("rmse_sigma".into(), nums(|r| r.rmse_sigma)),
        ("rmse".into(), nums(|r| r.rmse)),
        ("members".into(), nums(|r| r.members as f64)),
        ("chosen".into(), text(|r| r.chosen.to_string())),
        ("chosen_by".into(), text(|r| r.chosen_by.clone())),
    ])
    .map_err(err)
}

/// The `emulator` option of `emulate`: a name for every variable, a map of variable ->
/// name, or `()` (chosen by evidence).
fn named_option(v: &Dynamic) -> RResult<Option<crate::emulate::choice::Named>> {
    use crate::emulate::choice::Named;
    if v.is_unit() {
        return Ok(None);
    }
    if let Ok(s) = v.clone().into_string() {
        return Ok(Some(Named::All(s)));
    }
    let bad = || {
        script_err(
            "option emulator is a name (\"gp\"), a map of variable -> name (#{GPP: \"gp\"}) or () (chosen by evidence)",
        )
    };
    let m = v.read_lock::<Map>().ok_or_else(bad)?;
    let per = m
        .iter()
        .map(|(k, n)| Ok((k.to_string(), n.clone().into_string().map_err(|_| bad())?)))
        .collect::<RResult<_>>()?;
    Ok(Some(Named::PerVariable(per)))
}

/// Rows of an interpretation table: emulator, variable, mode, parameter, then numbers.
#[derive(Default)]
struct Rows {
    emulator: Vec<String>,
    variable: Vec<String>,
    mode: Vec<f64>,
    parameter: Vec<String>,
    values: Vec<Vec<f64>>,
}

impl Rows {
    fn push(
        &mut self,
        emulator: &str,
        variable: &str,
        mode: usize,
        parameter: &str,
        values: &[f64],
    ) {
        self.emulator.push(emulator.to_string());
        self.variable.push(variable.to_string());
        self.mode.push(mode as f64);
        self.parameter.push(parameter.to_string());
        self.values.push(values.to_vec());
    }
    fn table(self, names: &[&str]) -> RResult<ScriptTable> {
        let mut cols = vec![
            ("emulator".to_string(), Column::Text(self.emulator)),
            ("variable".to_string(), Column::Text(self.variable)),
            ("mode".to_string(), Column::Numbers(self.mode)),
            ("parameter".to_string(), Column::Text(self.parameter)),
        ];
        for (i, n) in names.iter().enumerate() {
            cols.push((
                n.to_string(),
                Column::Numbers(self.values.iter().map(|v| v[i]).collect()),
            ));
        }
        Table::from_columns(cols)
            .map(|t| ScriptTable(Arc::new(t)))
            .map_err(err)
    }
}

/// Options of the interpretation functions: `n` and `seed` of inflation, `repeats` and
/// `seed` of permutation importance, `values` of partial dependence, `samples` and `seed` of
/// Sobol indices.
macro_rules! counts {
    ($name:ident { $($field:ident: $ty:ty = $default:expr),* $(,)? }) => {
        #[derive(Debug, Deserialize)]
        #[serde(default)]
        struct $name { $($field: $ty),* }
        impl Default for $name {
            fn default() -> Self {
                $name { $($field: $default),* }
            }
        }
    };
}

counts!(InflateOptions {
    n: usize = 1000,
    seed: u64 = 0
});
counts!(ImportanceOptions {
    repeats: usize = 10,
    seed: u64 = 0
});
counts!(DependenceOptions { values: usize = 10 });
counts!(SobolOptions {
    samples: usize = 100_000,
    seed: u64 = 0
});

/// The options `n` (new members, default 1000) and `seed` (default 0) of inflation.
fn inflate_options(options: &Map) -> RResult<(usize, u64)> {
    let o: InflateOptions = crate::script::options::read(options, "inflate")?;
    let n = at_most(o.n, "n", 100_000_000)?;
    if n < 2 {
        return Err(script_err(format!(
            "option n = {n}: inflation needs at least 2 new members"
        )));
    }
    Ok((n, o.seed))
}

/// The functions of the `emulate` module.
#[export_module]
pub mod emulate_fns {
    use super::*;

    /// A fitted emulator: `predict(x)` gives the mean and the predictive variance of each
    /// output for each row of scalings; `save(path)` writes one JSON file that
    /// `load_emulator` reads back to predict bit for bit.
    pub type Emulator = ScriptEmulator;

    /// The emulator stage's results: every emulator of every variable, compared.
    pub type Emulators = ScriptEmulators;

    /// Ridge regression of `y` (rows x outputs) on the scalings `x` (rows x parameters),
    /// penalty alpha 1e-3 (scikit-learn's `Ridge(alpha)`, intercept not penalised).
    ///
    /// ```rhai
    /// let x = array([[0.0], [0.5], [1.0], [0.25]]);
    /// let e = fit_ridge(x, 2 * x + 1, #{alpha: 0});
    /// e.predict(array([[0.75]])).mean    //=> [[2.5]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn fit_ridge(x: NdArray, y: NdArray) -> RResult<ScriptEmulator> {
        fit_kind("ridge", &x, &y, &Map::new(), "fit_ridge")
    }

    /// Ridge regression with options: `alpha` (>= 0) and `degree` (1: linear, 2: also
    /// every product and square of the scalings).
    #[rhai_fn(name = "fit_ridge", return_raw)]
    pub fn fit_ridge_with(x: NdArray, y: NdArray, options: Map) -> RResult<ScriptEmulator> {
        fit_kind("ridge", &x, &y, &options, "fit_ridge")
    }

    /// An emulator of any registered kind (`emulator_kinds()`: ridge, nn, gp, sparse_gp, and those a
    /// program adds) fitted on `x` (rows x parameters) and `y` (rows x outputs) with the
    /// kind's options (those of `fit_ridge`, `fit_nn`, `fit_gp`), and `inputs`: the
    /// parameter names of the columns of `x`.
    ///
    /// ```rhai
    /// let x = array([[0.0], [0.5], [1.0], [0.25]]);
    /// let e = fit("ridge", x, 2 * x + 1, #{alpha: 0, inputs: ["kmax"]});
    /// e.parameters    //=> ["kmax"]
    /// e.predict(array([[0.75]])).mean    //=> [[2.5]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn fit(kind: &str, x: NdArray, y: NdArray, options: Map) -> RResult<ScriptEmulator> {
        fit_kind(
            kind,
            &x,
            &y,
            &options,
            &format!("fit(\"{}\")", crate::format::printable(kind)),
        )
    }

    /// An emulator of a registered kind with its default options.
    #[rhai_fn(name = "fit", return_raw)]
    pub fn fit_default(kind: &str, x: NdArray, y: NdArray) -> RResult<ScriptEmulator> {
        fit(kind, x, y, Map::new())
    }

    /// The kinds of emulator `fit` takes and saved files hold: per kind, a line on the
    /// method (`about`), its options, and whether it is fitted alone (`fits`; the network
    /// ensemble is trained by the emulator stage).
    ///
    /// ```rhai
    /// let k = emulator_kinds();
    /// k.keys()    //=> ["gp", "nn", "nn_ensemble", "ridge", "sparse_gp"]
    /// k.ridge.options    //=> ["alpha", "degree"]
    /// k.nn_ensemble.fits    //=> false
    /// ```
    pub fn emulator_kinds() -> Map {
        crate::emulate::kind::kinds()
            .into_iter()
            .map(|k| {
                let mut m = Map::new();
                m.insert("about".into(), Dynamic::from(k.about.to_string()));
                m.insert(
                    "options".into(),
                    Dynamic::from_array(
                        (k.options)()
                            .iter()
                            .map(|o| Dynamic::from(o.to_string()))
                            .collect(),
                    ),
                );
                m.insert("fits".into(), Dynamic::from(k.fits()));
                (k.name.into(), Dynamic::from_map(m))
            })
            .collect()
    }

    /// A neural network of `y` on `x` (the paper's by default: 10-10 hidden nodes, relu then
    /// tanh, linear output, L2 1e-3, RMSprop 0.005, batch 30, up to 500 epochs, inputs and
    /// outputs standardised). Options: hidden, activations, l2, lr, optimizer (rmsprop, adam,
    /// sgd), batch_size, epochs, patience, min_delta, restore_best, standardize_outputs,
    /// seed, and `validation: [x_val, y_val]` for early stopping.
    ///
    /// ```rhai
    /// let x = rand([40, 2], 1);
    /// let e = fit_nn(x, x.T[0] - x.T[1], #{hidden: [8, 8], epochs: 50, seed: 3});
    /// e.method    //=> nn
    /// e.predict(x).mean.shape    //=> [40, 1]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn fit_nn(x: NdArray, y: NdArray, options: Map) -> RResult<ScriptEmulator> {
        let Some(val) = options.get("validation") else {
            return fit_kind("nn", &x, &y, &options, "fit_nn");
        };
        let o: NnOptions =
            crate::script::options::read_with(&options, "fit_nn", &["validation", "inputs"])?;
        let s = o.settings().map_err(err)?;
        let (x, y) = (matrix(&x, "x")?, matrix(&y, "y")?);
        let list = val
            .read_lock::<Array>()
            .filter(|l| l.len() == 2)
            .map(|l| (l[0].clone(), l[1].clone()))
            .ok_or_else(|| script_err("option validation is [x_val, y_val]"))?;
        let a = list.0.read_lock::<NdArray>().map(|a| a.clone());
        let b = list.1.read_lock::<NdArray>().map(|a| a.clone());
        let (vx, vy) = match (a, b) {
            (Some(a), Some(b)) => (matrix(&a, "x_val")?, matrix(&b, "y_val")?),
            _ => {
                return Err(script_err(
                    "option validation is [x_val, y_val], two Arrays",
                ))
            }
        };
        let net =
            Network::train(x.view(), y.view(), Some((vx.view(), vy.view())), &s).map_err(err)?;
        named(
            wrap(Model::new(net), &x, &y)?,
            options.get("inputs").cloned(),
            x.ncols(),
        )
    }

    /// A Gaussian process per column of `y` on the scalings `x`: kernel (squared exponential,
    /// Matern 3/2, Matern 5/2) and noise (nugget) chosen per output by the likelihood,
    /// constant trend, thetas per input. Options: `kernels` (a name or a list of
    /// `squared_exponential`, `matern32`, `matern52`), `trend` (`constant` or `linear`),
    /// `nugget` (a number fixes the noise variance over the process variance; `()` chooses
    /// it), `n_start` (restarts of the likelihood maximisation, default 4), `seed`, `inputs`
    /// (the parameter names of the columns of `x`; default x1, x2, ...). The variance is that
    /// of a new observation (kriging variance plus noise).
    ///
    /// ```rhai
    /// let x = array([[0.0], [0.2], [0.4], [0.6], [0.8], [1.0]]);
    /// let e = fit_gp(x, x * x, #{kernels: "matern52", nugget: 0});
    /// e.method    //=> gp
    /// let p = e.predict(array([[0.4], [0.5]]));
    /// round(p.mean[0][0] * 1000) / 1000    //=> 0.16
    /// p.variance[0][0] < 1e-9    //=> true
    /// p.variance[1][0] > 1e-9    //=> true
    /// fit_gp(x, x * x, #{nugget: 0, inputs: ["kmax"]}).parameters    //=> ["kmax"]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn fit_gp(x: NdArray, y: NdArray, options: Map) -> RResult<ScriptEmulator> {
        fit_kind("gp", &x, &y, &options, "fit_gp")
    }

    /// Runs the emulator stage on an EOF stage's results: for each calibration variable,
    /// the paper's protocol (seeded 60/20/20 split; networks over a grid of nodes per
    /// hidden layer, 5..15 x 5..15; the best 10 retrained on 100 resamplings; the
    /// configuration with the lowest mean + spread of test MSE) giving two emulators: `nn`,
    /// that configuration's one network trained on the fixed split (the paper's emulator; its
    /// variance is its validation residual variance per PC, a constant), and `nn_ensemble`,
    /// its resampled networks (variance: their spread plus their mean residual variance, the
    /// better uncertainty, at 100 times the cost); and a Gaussian process (`gp`), ridge
    /// (`ridge`) and quadratic ridge (`quadratic_ridge`) on the same split;
    /// every emulator compared on the train, validation and test members and the second
    /// ensemble. Options: layer1, layer2 (lists of nodes), top, resamples, seed, train,
    /// validation (fractions), ridge_alpha, the network options of `fit_nn`, the Gaussian
    /// process options of `fit_gp` (kernels, trend, nugget, n_start), and `final`:
    /// `"split"` (default: the networks as trained) or `"all"` (each resampled network
    /// retrained on every member for the median best epoch of those networks, recorded as
    /// `final_epochs` in `stage.json`, and the one network for its own best epoch; the test
    /// members are then seen in training, the second ensemble stays out of sample).
    ///
    /// Per variable, the emulator used for calibration (`ems.choice(v)`) is then chosen by
    /// out-of-sample skill: the highest mean over modes of r^2 as `1 - SSE/SST`
    /// (scikit-learn's `r2_score`), ties to the lower RMSE in units of sigma; measured on
    /// the second ensemble when there is one, else by k-fold cross-validation over the
    /// members (`folds`, default 5, seeded from `seed`): on each fold every candidate is
    /// fitted again by the same procedure on the other members (the chosen network
    /// configuration retrained, and `cv_resamples` resampled networks, default 10, for
    /// `nn_ensemble`) and predicts the fold's members. Option `emulator` names it instead:
    /// `"gp"` for every variable, `#{GPP: "gp"}` per variable (the others chosen by
    /// evidence), `()` for the evidence (what the config's `[calibration] emulator` gives when
    /// absent). `ems.save(dir)` writes the choice and the figures behind it to `choice.csv`.
    #[rhai_fn(return_raw)]
    pub fn emulate(stage: ScriptEofStage, options: Map) -> RResult<ScriptEmulators> {
        let _step = crate::provenance::step("emulate");
        let s = stage_settings(&options)?;
        let e = &stage.0;
        let inputs = Inputs {
            parameters: e.ppe.parameters.clone(),
            cases: e.ppe.cases.clone(),
            x: e.ppe.scalings.clone(),
            test_x: e.ppe_test.as_ref().map(|t| t.scalings.clone()),
        };
        let targets: Vec<Target> = e
            .variables
            .iter()
            .map(|v| Target {
                variable: v.name.clone(),
                y: v.pcs.clone(),
                test_y: v.test_pcs.clone(),
                sigma: Some(v.sigma.clone()),
            })
            .collect();
        let per = s.protocol.layer1.len() * s.protocol.layer2.len()
            + s.protocol
                .top
                .min(s.protocol.layer1.len() * s.protocol.layer2.len())
                * s.protocol.resamples
            + match s.protocol.final_training {
                crate::emulate::protocol::FinalTraining::Split => 0,
                crate::emulate::protocol::FinalTraining::All => s.protocol.resamples + 1,
            };
        let cv = targets.iter().filter(|t| t.test_y.is_none()).count()
            * crate::emulate::stage::cv_networks(&s);
        let pb = crate::progress::bar((per * targets.len() + cv) as u64, "training networks");
        let r = EmulatorStage::run(&inputs, &targets, s, &|| pb.inc(1)).map_err(err);
        pb.finish_and_clear();
        Ok(ScriptEmulators(Arc::new(r?)))
    }

    /// Reads a folder written by `ems.save(dir)` back (the emulators predict bit for bit).
    #[rhai_fn(return_raw)]
    pub fn load_emulators(dir: &str) -> RResult<ScriptEmulators> {
        EmulatorStage::load(std::path::Path::new(dir))
            .map(|s| ScriptEmulators(Arc::new(s)))
            .map_err(err)
    }

    /// Writes `metrics.csv`, `protocol.csv`, `choice.csv`, `stage.json` and one
    /// `METHOD_VARIABLE.json` per emulator into `dir` (e.g. `OUT/emulator`).
    #[rhai_fn(name = "save", return_raw, pure)]
    pub fn save_stage(s: &mut ScriptEmulators, dir: &str) -> RResult<()> {
        s.0.save(std::path::Path::new(dir)).map_err(err)
    }

    /// The comparison: emulator, variable, mode, split (train, validation, test, and
    /// ppe_test or cvK for the cross-validation's out-of-fold predictions), mse, r2 (the
    /// squared correlation), coverage (of +-2 sigma), r2_score (`1 - SSE/SST`) and
    /// rmse_sigma (the RMSE over the mode's sigma).
    ///
    /// ```rhai
    /// let ems = load_emulators(`${TEMP_DIR}/emulator`);
    /// let m = ems.metrics.filter(#{emulator: "ridge", split: "ppe_test"});
    /// m.columns    //=> ["emulator", "variable", "mode", "split", "mse", "r2", "coverage", "r2_score", "rmse_sigma"]
    /// m.len()      //=> 2
    /// ```
    #[rhai_fn(get = "metrics", pure, return_raw)]
    pub fn stage_metrics(s: &mut ScriptEmulators) -> RResult<ScriptTable> {
        metrics_table(&s.0).map(|t| ScriptTable(Arc::new(t)))
    }

    /// The name of the emulator used for calibration of `variable` (`gp`, `nn_ensemble`,
    /// ...): the best out-of-sample skill, or the one the user named (see `emulate`). The
    /// network configuration is `ems.chosen(variable)`.
    ///
    /// ```rhai
    /// let ems = load_emulators(`${TEMP_DIR}/emulator`);
    /// ems.choice("GPP")    //=> gp
    /// ems.get(ems.choice("GPP"), "GPP").method    //=> gp
    /// ```
    #[rhai_fn(name = "choice", pure, return_raw)]
    pub fn stage_choice(s: &mut ScriptEmulators, variable: &str) -> RResult<String> {
        s.0.choice(variable).map(str::to_string).map_err(err)
    }

    /// The emulator choice and the figures behind it (what `choice.csv` holds), one row per
    /// variable and candidate: variable, emulator, split (`ppe_test`: the second ensemble,
    /// or `cvK`: K-fold cross-validation), r2 (mean over modes of `1 - SSE/SST`),
    /// rmse_sigma (mean over modes of the RMSE over sigma), rmse (mean over modes, in PC
    /// units), members (those the skill is measured on), chosen (`"true"` for the one used),
    /// chosen_by (`ppe_test`, `cvK` or `config`).
    ///
    /// ```rhai
    /// let ems = load_emulators(`${TEMP_DIR}/emulator`);
    /// let c = ems.choice_table.filter(#{variable: "GPP", chosen: "true"});
    /// c["emulator"]    //=> ["gp"]
    /// c["chosen_by"]   //=> ["ppe_test"]
    /// c["r2"][0] > 0.99    //=> true
    /// ems.choice_table.len()    //=> 5
    /// ```
    #[rhai_fn(get = "choice_table", pure, return_raw)]
    pub fn stage_choice_table(s: &mut ScriptEmulators) -> RResult<ScriptTable> {
        choice_table(&s.0).map(|t| ScriptTable(Arc::new(t)))
    }

    /// The emulator `name` (`nn`, `gp`, `ridge`, `quadratic_ridge`) of `variable`.
    #[rhai_fn(name = "get", pure, return_raw)]
    pub fn stage_get(
        s: &mut ScriptEmulators,
        name: &str,
        variable: &str,
    ) -> RResult<ScriptEmulator> {
        s.0.get(name, variable)
            .map(|f| ScriptEmulator(Arc::new(f.clone())))
            .map_err(err)
    }

    /// The members (row indices, from 0) of the split every emulator shares:
    /// `#{train, validation, test}`.
    #[rhai_fn(get = "split", pure)]
    pub fn stage_split(s: &mut ScriptEmulators) -> Map {
        let list = |v: &[usize]| -> Dynamic {
            Dynamic::from_array(v.iter().map(|&i| Dynamic::from(i as INT)).collect())
        };
        let sp = &s.0.split;
        let mut m = Map::new();
        m.insert("train".into(), list(&sp.train));
        m.insert("validation".into(), list(&sp.validation));
        m.insert("test".into(), list(&sp.test));
        m
    }

    /// The variables emulated.
    #[rhai_fn(get = "variables", pure)]
    pub fn stage_variables(s: &mut ScriptEmulators) -> Array {
        s.0.variables
            .iter()
            .map(|v| Dynamic::from(v.variable.clone()))
            .collect()
    }

    /// The nodes of the chosen network configuration of `variable` (the emulator used for
    /// calibration is `ems.choice(variable)`).
    #[rhai_fn(pure, return_raw)]
    pub fn chosen(s: &mut ScriptEmulators, variable: &str) -> RResult<Array> {
        let v =
            s.0.variables
                .iter()
                .find(|v| v.variable == variable)
                .ok_or_else(|| {
                    script_err(format!(
                        "no emulators of variable '{variable}'",
                        variable = crate::format::printable(variable)
                    ))
                })?;
        Ok(v.configs[v.chosen]
            .hidden
            .iter()
            .map(|&n| Dynamic::from(n as INT))
            .collect())
    }

    /// Permutation importance (Fig. 7) of every emulator of every variable: the rise of the
    /// MSE of each mode when one parameter's column is shuffled (mean of `repeats`, default
    /// 10), on the second ensemble if the stage has one, else on every member. A Table:
    /// emulator, variable, mode, parameter, mse_increase, mse_increase_sd (its standard
    /// deviation over the shuffles), mse_unpermuted (the MSE with nothing shuffled: Fig. 7's
    /// top bar).
    #[rhai_fn(pure, return_raw)]
    pub fn importance(
        s: &mut ScriptEmulators,
        stage: ScriptEofStage,
        options: Map,
    ) -> RResult<ScriptTable> {
        let _step = crate::provenance::step("importance");
        let o: ImportanceOptions = crate::script::options::read(&options, "importance")?;
        let (repeats, seed) = (at_most(o.repeats, "repeats", 100_000)?, o.seed);
        let st = &stage.0;
        let mut rows = Rows::default();
        for v in &s.0.variables {
            let r = st.variable(&v.variable).map_err(err)?;
            let (x, y) = match (&st.ppe_test, &r.test_pcs) {
                (Some(t), Some(tp)) => (t.scalings.view(), tp.view()),
                _ => (st.ppe.scalings.view(), r.pcs.view()),
            };
            for (name, f) in &v.emulators {
                let imp = crate::emulate::interpret::permutation_importance(
                    f.model.emulator(),
                    x,
                    y,
                    repeats,
                    seed,
                )
                .map_err(err)?;
                for (j, p) in f.parameters.iter().enumerate() {
                    for k in 0..imp.increase.ncols() {
                        rows.push(
                            name,
                            &v.variable,
                            k + 1,
                            p,
                            &[imp.increase[[j, k]], imp.sd[[j, k]], imp.base[k]],
                        );
                    }
                }
            }
        }
        rows.table(&["mse_increase", "mse_increase_sd", "mse_unpermuted"])
    }

    /// Partial dependence (Fig. 8) of every emulator of every variable on each parameter at
    /// `values` (default 10) evenly spaced scalings in [0, 1], averaged over the ensemble's
    /// members. A Table: emulator, variable, mode, parameter, value, prediction.
    #[rhai_fn(pure, return_raw)]
    pub fn partial_dependence(
        s: &mut ScriptEmulators,
        stage: ScriptEofStage,
        options: Map,
    ) -> RResult<ScriptTable> {
        let o: DependenceOptions = crate::script::options::read(&options, "partial_dependence")?;
        let n = at_most(o.values, "values", 10_000)?;
        if n < 2 {
            return Err(script_err("partial dependence needs at least 2 values"));
        }
        let grid: Vec<f64> = (0..n).map(|i| i as f64 / (n - 1) as f64).collect();
        let x = stage.0.ppe.scalings.view();
        let mut rows = Rows::default();
        for v in &s.0.variables {
            for (name, f) in &v.emulators {
                for (j, p) in f.parameters.iter().enumerate() {
                    let pd = crate::emulate::interpret::partial_dependence(
                        f.model.emulator(),
                        x,
                        j,
                        &grid,
                    )
                    .map_err(err)?;
                    for (i, g) in grid.iter().enumerate() {
                        for k in 0..pd.ncols() {
                            rows.push(name, &v.variable, k + 1, p, &[*g, pd[[i, k]]]);
                        }
                    }
                }
            }
        }
        rows.table(&["value", "prediction"])
    }

    /// Sobol first-order and total indices of every emulator of every variable (Saltelli's
    /// and Jansen's estimators on `samples` (default 100000) seeded uniform pairs over
    /// [0, 1]^d). A Table: emulator, variable, mode, parameter, first_order, total.
    #[rhai_fn(pure, return_raw)]
    pub fn sobol(s: &mut ScriptEmulators, options: Map) -> RResult<ScriptTable> {
        let _step = crate::provenance::step("sobol");
        let o: SobolOptions = crate::script::options::read(&options, "sobol")?;
        let (n, seed) = (at_most(o.samples, "samples", 100_000_000)?, o.seed);
        let mut rows = Rows::default();
        for v in &s.0.variables {
            for (name, f) in &v.emulators {
                let so =
                    crate::emulate::interpret::sobol(f.model.emulator(), n, seed).map_err(err)?;
                for (j, p) in f.parameters.iter().enumerate() {
                    for k in 0..so.total.ncols() {
                        rows.push(
                            name,
                            &v.variable,
                            k + 1,
                            p,
                            &[so.first_order[[j, k]], so.total[[j, k]]],
                        );
                    }
                }
            }
        }
        rows.table(&["first_order", "total"])
    }

    /// Ensemble inflation (Fig. S10) with every emulator of every variable: `n` (default
    /// 1000) new scalings from a seeded Latin hypercube (`seed`, default 0), the emulated
    /// PCs there, and their quantiles at 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99
    /// against those of the ensemble's PCs. A Table: emulator, variable, mode, probability,
    /// ensemble, emulated. `em.inflate(n, seed)` gives the emulated PCs themselves.
    #[rhai_fn(name = "inflate", pure, return_raw)]
    pub fn stage_inflate(
        s: &mut ScriptEmulators,
        stage: ScriptEofStage,
        options: Map,
    ) -> RResult<ScriptTable> {
        let (n, seed) = inflate_options(&options)?;
        let (mut em, mut var, mut mode, mut prob, mut ens, mut emu) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for v in &s.0.variables {
            let r = stage.0.variable(&v.variable).map_err(err)?;
            for (name, f) in &v.emulators {
                let inf = crate::emulate::interpret::inflate(
                    f.model.emulator(),
                    r.pcs.view(),
                    n,
                    seed,
                    &crate::emulate::interpret::INFLATION_PROBS,
                )
                .map_err(err)?;
                for k in 0..inf.emulated.ncols() {
                    for (i, &p) in inf.probs.iter().enumerate() {
                        em.push(name.clone());
                        var.push(v.variable.clone());
                        mode.push((k + 1) as f64);
                        prob.push(p);
                        ens.push(inf.ensemble_quantiles[[i, k]]);
                        emu.push(inf.emulated_quantiles[[i, k]]);
                    }
                }
            }
        }
        Table::from_columns(vec![
            ("emulator".into(), Column::Text(em)),
            ("variable".into(), Column::Text(var)),
            ("mode".into(), Column::Numbers(mode)),
            ("probability".into(), Column::Numbers(prob)),
            ("ensemble".into(), Column::Numbers(ens)),
            ("emulated".into(), Column::Numbers(emu)),
        ])
        .map(|t| ScriptTable(Arc::new(t)))
        .map_err(err)
    }

    /// The emulated outputs (means) at `n` new scalings from a seeded Latin hypercube, rows
    /// x outputs: an inflated ensemble (Fig. S10); the same points as `ems.inflate` with the
    /// same `n` and `seed`.
    ///
    /// ```rhai
    /// let x = array([[0.0], [0.5], [1.0], [0.25]]);
    /// let e = fit_ridge(x, 2 * x + 1, #{alpha: 0});
    /// let y = e.inflate(100, 1);
    /// y.shape    //=> [100, 1]
    /// nanmin(y) > 0.99 && nanmax(y) < 3.01    //=> true
    /// ```
    #[rhai_fn(name = "inflate", pure, return_raw)]
    pub fn emulator_inflate(e: &mut ScriptEmulator, n: INT, seed: INT) -> RResult<NdArray> {
        let mut options = Map::new();
        options.insert("n".into(), Dynamic::from(n));
        options.insert("seed".into(), Dynamic::from(seed));
        let (n, seed) = inflate_options(&options)?;
        let em = e.0.model.emulator();
        let y = Array2::<f64>::zeros((0, em.outputs()));
        // the quantiles of an empty ensemble are NaN and unused here
        crate::emulate::interpret::inflate(em, y.view(), n, seed, &[])
            .map(|inf| NdArray::new(inf.emulated.into_dyn()))
            .map_err(err)
    }

    /// A summary.
    #[rhai_fn(name = "to_string", global, pure)]
    pub fn stage_to_string(s: &mut ScriptEmulators) -> String {
        let mut out = String::from("Emulators:");
        for v in &s.0.variables {
            let names: Vec<&str> = v.emulators.iter().map(|(n, _)| n.as_str()).collect();
            out += &format!(
                " {} ({}; network {:?}",
                v.variable,
                names.join(", "),
                v.configs[v.chosen].hidden
            );
            if let Ok(c) = s.0.choice(&v.variable) {
                out += &format!("; calibration uses {c}");
            }
            out += ")";
        }
        out
    }

    /// The same summary (used by the REPL).
    #[rhai_fn(name = "to_debug", global, pure)]
    pub fn stage_to_debug(s: &mut ScriptEmulators) -> String {
        stage_to_string(s)
    }

    /// Mean and predictive variance for each row of scalings `x`: `#{mean, variance}`, both
    /// rows x outputs.
    #[rhai_fn(pure, return_raw)]
    pub fn predict(e: &mut ScriptEmulator, x: NdArray) -> RResult<Map> {
        let x = matrix(&x, "x")?;
        let p = e.0.model.emulator().predict(x.view()).map_err(err)?;
        let mut m = Map::new();
        m.insert(
            "mean".into(),
            Dynamic::from(NdArray::new(p.mean.into_dyn())),
        );
        m.insert(
            "variance".into(),
            Dynamic::from(NdArray::new(p.variance.into_dyn())),
        );
        Ok(m)
    }

    /// Writes the emulator as one JSON file (atomically).
    #[rhai_fn(name = "save", pure, return_raw)]
    pub fn save_emulator(e: &mut ScriptEmulator, path: &str) -> RResult<()> {
        e.0.save(std::path::Path::new(path)).map_err(err)
    }

    /// Reads an emulator saved with `save`.
    ///
    /// ```rhai
    /// let x = array([[0.0], [0.5], [1.0], [0.25]]);
    /// fit_ridge(x, 2 * x + 1).save(`${TEMP_DIR}/ridge.json`);
    /// load_emulator(`${TEMP_DIR}/ridge.json`).method    //=> ridge
    /// ```
    #[rhai_fn(return_raw)]
    pub fn load_emulator(path: &str) -> RResult<ScriptEmulator> {
        Fitted::load(std::path::Path::new(path))
            .map(|f| ScriptEmulator(Arc::new(f)))
            .map_err(err)
    }

    /// The method: `ridge`, `quadratic_ridge`, `nn`, `nn_ensemble` or `gp`.
    #[rhai_fn(get = "method", pure)]
    pub fn method(e: &mut ScriptEmulator) -> String {
        e.0.model.emulator().method()
    }
    /// The input names (parameters).
    #[rhai_fn(get = "parameters", pure)]
    pub fn parameters(e: &mut ScriptEmulator) -> Array {
        e.0.parameters.iter().cloned().map(Dynamic::from).collect()
    }
    /// The fingerprint of the training data.
    #[rhai_fn(get = "fingerprint", pure)]
    pub fn fingerprint(e: &mut ScriptEmulator) -> String {
        e.0.fingerprint.clone()
    }

    /// A summary.
    #[rhai_fn(name = "to_string", global, pure)]
    pub fn emulator_to_string(e: &mut ScriptEmulator) -> String {
        format!(
            "Emulator: {}{} of {} inputs -> {} outputs",
            e.0.model.emulator().method(),
            e.0.variable
                .as_ref()
                .map(|v| format!(" of {v}"))
                .unwrap_or_default(),
            e.0.parameters.len(),
            e.0.outputs.len()
        )
    }

    /// The same summary (used by the REPL).
    #[rhai_fn(name = "to_debug", global, pure)]
    pub fn emulator_to_debug(e: &mut ScriptEmulator) -> String {
        emulator_to_string(e)
    }
}

/// The `emulate` module.
pub fn module() -> Module {
    exported_module!(emulate_fns)
}
