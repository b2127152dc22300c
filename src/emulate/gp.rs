//! Gaussian-process emulator on egobox-gp (a Rust port of SMT's kriging): one GP per output
//! (mode), `y(x) = m(x) + Z(x)` with `m` a constant or linear trend estimated by generalised
//! least squares and `Z` a zero-mean process of variance `sigma2` and correlation
//! `k(x, x') + g [x = x']`, `k` a product over the inputs of a squared exponential, Matern 3/2
//! or Matern 5/2 correlation with its own inverse length scale `theta_j` per input
//! (anisotropic). egobox standardises the inputs (by their training mean and standard
//! deviation) and the outputs inside the model; the thetas act on standardised inputs.
//!
//! **Choice per output, by the reduced (concentrated) likelihood** `-n (log10 sigma2_hat +
//! log10 det R / n)` (egobox's, with `sigma2_hat` the GLS residual variance): for each
//! candidate kernel the log10 thetas (bounds -2..1, egobox's) and the log10 nugget `g`
//! (noise variance over process variance, bounds -8..0) are climbed together with COBYLA
//! (egobox's own optimiser, tolerances and evaluation budget) from egobox's default start
//! (theta 0.1, here with g = 1e-2) and `n_start` seeded Latin-hypercube starts; the best
//! (kernel, start) is kept. egobox's own theta optimisation cannot be used for this: it
//! keeps the nugget fixed, and with a small nugget it falls into the degenerate optimum of
//! thetas at their lower bound and a huge `sigma2` on noisy data.
//!
//! **Why a noise term (measured).** egobox's nugget is fixed at `100 eps` unless set, so the
//! GP interpolates its training PCs, internal variability included. On data of known noise
//! (`sin(3 x0) + x1^2 + N(0, 0.1^2)`, 80 members) the chosen noise variance is 0.0085 (true
//! 0.01) and +-2 sigma covers 93 % of 400 new points. On the demo PPE (60 training members
//! of the seeded 60/20/20 split) the chosen noise standard deviations are 0.002-0.007 in
//! PC units (nuggets 3e-6..3e-3), and the second PPE's coverage of +-2 sigma is 0.81-0.92;
//! trained on all 100 members, second-PPE r^2 is GPP 0.998, 0.991, 0.902 and LHF 0.982,
//! 0.989, 0.964 with coverage 0.86-0.95. The predictive variance is that of a new
//! observation: egobox's kriging variance at `x` plus the noise `sigma2 * g`.
//!
//! **Trend.** Constant by default (ordinary kriging): on the demo PPE the linear trend
//! (universal kriging, `Trend::Linear`) lowers the second-PPE r^2 of LHF PC1 from 0.885 to
//! 0.821 (Matern 5/2 only) and helps no mode by more than 0.015; it spends 7 of 60 degrees
//! of freedom.
//!
//! **Determinism and saving.** The starts come from a Latin hypercube of `seed`; the
//! climbs run in parallel and the best is picked in a fixed order, so a fit is the same
//! whatever the thread count. The saved JSON holds the training data, kernel, trend, thetas and
//! nugget of each output; loading rebuilds each GP with those thetas fixed (one Cholesky
//! factorisation), which is the very computation that made the fitted model, so a loaded
//! GP predicts bit for bit as the fitted one.

use super::kind::{Method, Saved};
use super::kriging::Kriging;
use super::{check_inputs, check_training, Emulator, Prediction};
use anyhow::{anyhow, bail, Result};
use egobox_gp::correlation_models::{Matern32Corr, Matern52Corr, SquaredExponentialCorr};
use egobox_gp::mean_models::{ConstantMean, LinearMean};
use egobox_gp::{GaussianProcess, GpParams, ThetaTuning};
use linfa::prelude::{DatasetBase, Fit};
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// Training data of one output, as egobox takes it.
type Dataset = DatasetBase<Array2<f64>, Array1<f64>>;

/// A correlation kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kernel {
    /// `exp(-theta^2 d^2 / 2)` per input: very smooth.
    SquaredExponential,
    /// `(1 + sqrt3 theta d) exp(-sqrt3 theta d)` per input: once differentiable.
    Matern32,
    /// `(1 + sqrt5 u + 5 u^2 / 3) exp(-sqrt5 u)`, `u = theta d`, per input: twice.
    Matern52,
}

impl Kernel {
    /// Every kernel, in the order they are tried.
    pub const ALL: [Kernel; 3] = [
        Kernel::SquaredExponential,
        Kernel::Matern32,
        Kernel::Matern52,
    ];

    /// The kernel's name in scripts and files.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::SquaredExponential => "squared_exponential",
            Kernel::Matern32 => "matern32",
            Kernel::Matern52 => "matern52",
        }
    }
}

impl std::str::FromStr for Kernel {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Kernel::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                anyhow!(
                    "unknown kernel '{s}': use squared_exponential, matern32 or matern52",
                    s = crate::format::printable(s)
                )
            })
    }
}

/// The trend (mean function) of the GP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// An unknown constant (ordinary kriging).
    Constant,
    /// An unknown affine function of the inputs (universal kriging).
    Linear,
}

impl std::str::FromStr for Trend {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "constant" => Ok(Trend::Constant),
            "linear" => Ok(Trend::Linear),
            _ => bail!(
                "unknown trend '{s}': use constant or linear",
                s = crate::format::printable(s)
            ),
        }
    }
}

/// Settings of a GP fit (the options of `fit("gp", x, y, options)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GpSettings {
    /// The candidate kernels (one name or a list); per output the one of highest likelihood
    /// is kept.
    #[serde(deserialize_with = "crate::settings::names")]
    pub kernels: Vec<Kernel>,
    /// The trend.
    pub trend: Trend,
    /// The nugget (noise variance over process variance): `None` chooses it per output and
    /// kernel by likelihood; `Some(g)` fixes it (`g` >= 0; 0 means egobox's `100 eps`).
    pub nugget: Option<f64>,
    /// Restarts of the likelihood maximisation besides the default start.
    pub n_start: usize,
    /// Seed of the restarts' Latin hypercube.
    pub seed: u64,
}

impl Default for GpSettings {
    fn default() -> Self {
        GpSettings {
            kernels: Kernel::ALL.to_vec(),
            trend: Trend::Constant,
            nugget: None,
            n_start: 4,
            seed: 42,
        }
    }
}

/// egobox's default nugget, the smallest one used.
pub const MIN_NUGGET: f64 = 100.0 * f64::EPSILON;

impl GpSettings {
    /// Checks the settings once, before fitting.
    pub fn check(&self) -> Result<()> {
        if self.kernels.is_empty() {
            bail!(
                "gp kernels is empty: give at least one of squared_exponential, matern32, matern52"
            );
        }
        if let Some(g) = self.nugget {
            if !(g.is_finite() && (0.0..=1e3).contains(&g)) {
                bail!("gp nugget = {g} must be a number in [0, 1000] (noise variance over process variance)");
            }
        }
        if self.n_start > 1000 {
            bail!("gp n_start = {} must be at most 1000", self.n_start);
        }
        Ok(())
    }
}

/// One output's GP, as saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpOutput {
    /// The chosen kernel.
    pub kernel: Kernel,
    /// Inverse length scales, one per input (on standardised inputs).
    pub theta: Vec<f64>,
    /// Nugget: noise variance over process variance.
    pub nugget: f64,
    /// Reduced likelihood of the fit (log10 units).
    pub likelihood: f64,
    /// Process variance `sigma2` in the output's units.
    pub variance: f64,
}

/// What a saved GP holds: enough to rebuild it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpFile {
    /// The settings it was fitted with.
    pub settings: GpSettings,
    /// Training inputs, rows.
    pub x: Vec<Vec<f64>>,
    /// Training outputs, one vector per output.
    pub y: Vec<Vec<f64>>,
    /// One GP per output.
    pub outputs: Vec<GpOutput>,
}

macro_rules! built {
    ($($v:ident: $m:ty, $c:ty;)*) => {
        /// An egobox GP of any trend and kernel.
        #[derive(Debug, Clone)]
        enum Built { $($v(GaussianProcess<f64, $m, $c>),)* }

        impl Built {
            fn fit(
                trend: Trend,
                kernel: Kernel,
                tuning: ThetaTuning<f64>,
                nugget: f64,
                n_start: usize,
                data: &Dataset,
            ) -> Result<Built> {
                $(
                    if Built::tag(trend, kernel) == stringify!($v) {
                        let p: GpParams<f64, $m, $c> = GpParams::new(<$m>::default(), <$c>::default())
                            .theta_tuning(tuning)
                            .nugget(nugget)
                            .n_start(n_start);
                        return Ok(Built::$v(p.fit(data).map_err(|e| anyhow!("{e}"))?));
                    }
                )*
                unreachable!("every trend and kernel has a variant")
            }
            fn likelihood(&self) -> f64 {
                match self { $(Built::$v(g) => g.likelihood(),)* }
            }
            fn variance(&self) -> f64 {
                match self { $(Built::$v(g) => g.variance(),)* }
            }
            #[cfg(test)]
            fn predict(&self, x: &Array2<f64>) -> Result<(Array1<f64>, Array1<f64>)> {
                match self { $(Built::$v(g) => g.predict_valvar(x).map_err(|e| anyhow!("{e}")),)* }
            }
        }
    };
}

built! {
    ConstSe: ConstantMean, SquaredExponentialCorr;
    ConstM32: ConstantMean, Matern32Corr;
    ConstM52: ConstantMean, Matern52Corr;
    LinSe: LinearMean, SquaredExponentialCorr;
    LinM32: LinearMean, Matern32Corr;
    LinM52: LinearMean, Matern52Corr;
}

impl Built {
    fn tag(trend: Trend, kernel: Kernel) -> &'static str {
        match (trend, kernel) {
            (Trend::Constant, Kernel::SquaredExponential) => "ConstSe",
            (Trend::Constant, Kernel::Matern32) => "ConstM32",
            (Trend::Constant, Kernel::Matern52) => "ConstM52",
            (Trend::Linear, Kernel::SquaredExponential) => "LinSe",
            (Trend::Linear, Kernel::Matern32) => "LinM32",
            (Trend::Linear, Kernel::Matern52) => "LinM52",
        }
    }
}

/// Rows per chunk of prediction.
const CHUNK: usize = 1024;

/// One output's predictions on a chunk: first row, output, means, variances.
type Part = (usize, usize, Array1<f64>, Array1<f64>);

/// A fitted Gaussian-process emulator (one GP per output).
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "GpFile", into = "GpFile")]
pub struct Gp {
    file: GpFile,
    kriging: Vec<Kriging>,
}

impl std::fmt::Debug for Gp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gp").field("file", &self.file).finish()
    }
}

impl PartialEq for Gp {
    fn eq(&self, other: &Gp) -> bool {
        self.file == other.file
    }
}

impl From<Gp> for GpFile {
    fn from(g: Gp) -> GpFile {
        g.file
    }
}

impl TryFrom<GpFile> for Gp {
    type Error = anyhow::Error;
    fn try_from(file: GpFile) -> Result<Gp> {
        Gp::rebuild(file)
    }
}

fn dataset(x: &Array2<f64>, y: &[f64]) -> Dataset {
    DatasetBase::new(x.clone(), Array1::from(y.to_vec()))
}

fn fixed(
    trend: Trend,
    kernel: Kernel,
    theta: &Array1<f64>,
    nugget: f64,
    data: &Dataset,
) -> Result<Built> {
    Built::fit(
        trend,
        kernel,
        ThetaTuning::Fixed(theta.clone()),
        nugget,
        0,
        data,
    )
}

/// Bounds of log10 theta (egobox's defaults, on standardised inputs).
const LOG_THETA: (f64, f64) = (-2.0, 1.0);
/// Bounds of log10 nugget when it is chosen.
const LOG_NUGGET: (f64, f64) = (-8.0, 0.0);

/// The reduced likelihood at log10 thetas (and log10 nugget, last, unless fixed).
fn likelihood_at(
    trend: Trend,
    kernel: Kernel,
    p: &[f64],
    nugget: Option<f64>,
    data: &Dataset,
) -> f64 {
    let d = data.records().ncols();
    let theta = Array1::from_iter(p[..d].iter().map(|v| 10f64.powf(*v)));
    let g = nugget.unwrap_or_else(|| 10f64.powf(p[d]));
    match fixed(trend, kernel, &theta, g, data) {
        Ok(b) if b.likelihood().is_finite() => b.likelihood(),
        _ => f64::NEG_INFINITY,
    }
}

/// Maximises the reduced likelihood of one kernel over (log10 thetas, log10 nugget) from
/// one start with COBYLA (egobox's own optimiser and tolerances): (likelihood, point).
fn climb(s: &GpSettings, kernel: Kernel, start: &[f64], data: &Dataset) -> (f64, Vec<f64>) {
    let d = data.records().ncols();
    let mut bounds = vec![LOG_THETA; d];
    if s.nugget.is_none() {
        bounds.push(LOG_NUGGET);
    }
    let fixed_g = s.nugget.map(|g| g.max(MIN_NUGGET));
    let objective = |p: &[f64], _: Option<&mut [f64]>| -> f64 {
        let l = likelihood_at(s.trend, kernel, p, fixed_g, data);
        if l.is_finite() {
            -l
        } else {
            f64::INFINITY
        }
    };
    let (v, p) = egobox_gp::basin_optimizer::minimize(
        egobox_gp::basin_optimizer::Algorithm::Cobyla,
        &objective,
        &|_, _, _| 0.0,
        egobox_gp::basin_optimizer::Settings {
            xinit: start,
            bounds: &bounds,
            n_constraints: 0,
            max_evals: (10 * bounds.len()).max(25),
            ftol_abs: 0.0,
            ftol_rel: 1e-4,
            initial_radius: 0.5,
            bounded_evaluations: false,
        },
    );
    (-v, p)
}

/// The seeded starts: egobox's default (theta 0.1) with nugget 1e-2, then `n_start`
/// points of a Latin hypercube over the bounds.
fn starts(s: &GpSettings, d: usize) -> Vec<Vec<f64>> {
    let dim = d + usize::from(s.nugget.is_none());
    let mut first = vec![-1.0; d];
    if s.nugget.is_none() {
        first.push(-2.0);
    }
    let mut out = vec![first];
    if s.n_start > 0 {
        let lhs = crate::sampling::latin_hypercube_points(s.n_start, dim, s.seed, false, 1);
        for row in lhs {
            out.push(
                row.iter()
                    .enumerate()
                    .map(|(j, u)| {
                        let (lo, hi) = if j < d { LOG_THETA } else { LOG_NUGGET };
                        lo + u * (hi - lo)
                    })
                    .collect(),
            );
        }
    }
    out
}

/// One output's choice: (kernel, thetas, nugget, likelihood).
type Choice = (Kernel, Array1<f64>, f64, f64);

/// Chooses kernel, thetas and nugget of one output by the reduced likelihood: every
/// (kernel, start) climbed in parallel, the best kept (the first in order on ties, so the
/// choice does not depend on the thread count).
fn choose(s: &GpSettings, data: &Dataset) -> Result<Choice> {
    use rayon::prelude::*;
    let d = data.records().ncols();
    let st = starts(s, d);
    let jobs: Vec<(Kernel, &Vec<f64>)> = s
        .kernels
        .iter()
        .flat_map(|&k| st.iter().map(move |p| (k, p)))
        .collect();
    let results: Vec<(Kernel, f64, Vec<f64>)> = jobs
        .par_iter()
        .map(|(k, p)| {
            let (l, x) = climb(s, *k, p, data);
            (*k, l, x)
        })
        .collect();
    let mut best: Option<&(Kernel, f64, Vec<f64>)> = None;
    for r in &results {
        if r.1.is_finite() && best.is_none_or(|b| r.1 > b.1) {
            best = Some(r);
        }
    }
    let Some((kernel, l, p)) = best else {
        bail!("the likelihood is not finite anywhere");
    };
    let theta = Array1::from_iter(p[..d].iter().map(|v| 10f64.powf(*v)));
    let g = match s.nugget {
        Some(g) => g.max(MIN_NUGGET),
        None => 10f64.powf(p[d]),
    };
    Ok((*kernel, theta, g, *l))
}

impl Saved for Gp {
    const KIND: &'static str = "gp";
    const ABOUT: &'static str = "Gaussian processes, one per output: kernel and noise chosen per \
                                 output by the likelihood (egobox-gp)";
}

impl Method for Gp {
    type Settings = GpSettings;

    fn check(settings: &GpSettings) -> Result<()> {
        settings.check()
    }

    /// Fits one GP per column of `y` (members x outputs) on the scalings `x` (members x
    /// parameters).
    fn fit_checked(x: ArrayView2<f64>, y: ArrayView2<f64>, settings: &GpSettings) -> Result<Gp> {
        let p = match settings.trend {
            Trend::Constant => 1,
            Trend::Linear => 1 + x.ncols(),
        };
        check_training(x, y, (p + 2).max(3))?;
        let xo = x.to_owned();
        let mut outputs = Vec::new();
        let ys: Vec<Vec<f64>> = y.columns().into_iter().map(|c| c.to_vec()).collect();
        for (k, yk) in ys.iter().enumerate() {
            crate::interrupt::check()?;
            let data = dataset(&xo, yk);
            let chosen = crate::guard::catching("fit_gp", || {
                choose(settings, &data).map_err(|e| anyhow!("{e}"))
            });
            let (kernel, theta, nugget, _) = chosen.map_err(|e| {
                anyhow!(
                    "gp: no kernel fits output {} ({e}); duplicate members or a constant output?",
                    k + 1
                )
            })?;
            let b = crate::guard::catching("fit_gp", || {
                fixed(settings.trend, kernel, &theta, nugget, &data)
            })?;
            outputs.push(GpOutput {
                kernel,
                theta: theta.to_vec(),
                nugget,
                likelihood: b.likelihood(),
                variance: b.variance(),
            });
        }
        Gp::rebuild(GpFile {
            settings: settings.clone(),
            x: xo.outer_iter().map(|r| r.to_vec()).collect(),
            y: ys,
            outputs,
        })
    }
}

impl Gp {
    /// Rebuilds the GPs of a saved file with their thetas and nuggets fixed.
    pub fn rebuild(file: GpFile) -> Result<Gp> {
        let n = file.x.len();
        let d = file.x.first().map_or(0, |r| r.len());
        if n == 0 || d == 0 || file.x.iter().any(|r| r.len() != d) {
            bail!("saved gp: the training inputs are not a non-empty rectangle");
        }
        if file.y.len() != file.outputs.len() || file.y.iter().any(|c| c.len() != n) {
            bail!(
                "saved gp: {} outputs but {} output columns of {n} members",
                file.outputs.len(),
                file.y.len()
            );
        }
        let x = Array2::from_shape_fn((n, d), |(i, j)| file.x[i][j]);
        let kriging = file
            .outputs
            .iter()
            .zip(&file.y)
            .enumerate()
            .map(|(k, (o, yk))| {
                if o.theta.len() != d {
                    bail!(
                        "saved gp: output {} has {} thetas for {d} inputs",
                        k + 1,
                        o.theta.len()
                    );
                }
                Kriging::new(
                    x.view(),
                    yk,
                    o.kernel,
                    file.settings.trend,
                    &o.theta,
                    o.nugget,
                )
                .map_err(|e| anyhow!("saved gp: output {}: {e}", k + 1))
            })
            .collect::<Result<_>>()?;
        Ok(Gp { file, kriging })
    }

    /// What is saved: settings, training data and each output's kernel and parameters.
    pub fn file(&self) -> &GpFile {
        &self.file
    }
}

impl Emulator for Gp {
    fn method(&self) -> String {
        "gp".into()
    }
    fn inputs(&self) -> usize {
        self.file.x[0].len()
    }
    fn outputs(&self) -> usize {
        self.file.outputs.len()
    }
    /// Rows are predicted in chunks of 1024 in parallel: egobox forms the (rows x members
    /// x inputs) differences at once, which for the 800 000 rows of a Sobol analysis would
    /// take gigabytes.
    fn predict(&self, x: ArrayView2<f64>) -> Result<Prediction> {
        use rayon::prelude::*;
        check_inputs(x, self.inputs())?;
        let n = x.nrows();
        let k = self.outputs();
        let mut mean = Array2::zeros((n, k));
        let mut variance = Array2::zeros((n, k));
        // one job per (chunk, output): the MCMC's small calls (32 rows) use every core too
        let jobs: Vec<(usize, usize)> = (0..n)
            .step_by(CHUNK)
            .flat_map(|a| (0..k).map(move |j| (a, j)))
            .collect();
        let parts: Vec<Part> = jobs
            .par_iter()
            .map(|&(a, j)| {
                let b = (a + CHUNK).min(n);
                let g = &self.kriging[j];
                let (m, v) = g.predict(x.slice(ndarray::s![a..b, ..]));
                let noise = g.process_variance() * self.file.outputs[j].nugget;
                (a, j, m, v.mapv(|v| v + noise))
            })
            .collect();
        for (a, j, m, v) in parts {
            let b = a + m.len();
            mean.slice_mut(ndarray::s![a..b, j]).assign(&m);
            variance.slice_mut(ndarray::s![a..b, j]).assign(&v);
        }
        Ok(Prediction { mean, variance })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    fn fixed_nugget(kernels: &[Kernel], nugget: Option<f64>) -> GpSettings {
        GpSettings {
            kernels: kernels.to_vec(),
            nugget,
            ..GpSettings::default()
        }
    }

    #[test]
    fn interpolates_noise_free_training_points_and_variance_grows_away() {
        let x = Array2::from_shape_fn((10, 1), |(i, _)| i as f64 / 9.0);
        let y = x.mapv(|v| (6.0 * v).sin());
        // no noise term: the GP goes through its training points with variance ~0 there
        let g = Gp::fit(
            x.view(),
            y.view(),
            &fixed_nugget(&[Kernel::Matern32], Some(0.0)),
        )
        .unwrap();
        let p = g.predict(x.view()).unwrap();
        for i in 0..10 {
            assert!(
                (p.mean[[i, 0]] - y[[i, 0]]).abs() < 1e-9,
                "{i}: {}",
                p.mean[[i, 0]]
            );
            assert!(p.variance[[i, 0]] < 1e-10, "{i}: {}", p.variance[[i, 0]]);
        }
        // away from x = 4/9: 0.005, 0.02, 1/18 (half way), then outside [0, 1]
        let at = [
            4.0 / 9.0,
            4.0 / 9.0 + 0.005,
            4.0 / 9.0 + 0.02,
            4.5 / 9.0,
            1.1,
            1.3,
        ];
        let xa = Array2::from_shape_fn((at.len(), 1), |(i, _)| at[i]);
        let v = g.predict(xa.view()).unwrap().variance.column(0).to_vec();
        assert!(v.windows(2).all(|w| w[0] < w[1]), "{v:?}");
        assert!(v[3] > 1e6 * v[0] && v[5] > 1e-2, "{v:?}");
        // the noise chosen by likelihood on noise-free data is (nearly) none
        let g = Gp::fit(x.view(), y.view(), &GpSettings::default()).unwrap();
        let o = &g.file().outputs[0];
        assert!(o.nugget <= 1e-4, "{o:?}");
        let p = g.predict(x.view()).unwrap();
        for i in 0..10 {
            assert!(
                (p.mean[[i, 0]] - y[[i, 0]]).abs() < 1e-3,
                "{i}: {}",
                p.mean[[i, 0]]
            );
        }
    }

    /// Reference: /tmp/gpx/kriging_ref.py of the session that wrote this test: ordinary
    /// kriging (constant trend by GLS) with egobox's Matern 5/2 product kernel written out
    /// in plain numpy (standardised inputs and outputs, std with ddof = 1, R^-1 by
    /// numpy.linalg.inv), mean, kriging variance and the reduced likelihood.
    #[test]
    fn mean_variance_and_likelihood_equal_plain_numpy_kriging() {
        let n = 7;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| {
            (if j == 0 {
                (3 * i + 1) % 7
            } else {
                (5 * i + 2) % 7
            }) as f64
                / 6.0
        });
        let y: Vec<f64> = x.outer_iter().map(|r| r[0] + (3.0 * r[1]).sin()).collect();
        let g = Gp::rebuild(GpFile {
            settings: fixed_nugget(&[Kernel::Matern52], Some(0.0)),
            x: x.outer_iter().map(|r| r.to_vec()).collect(),
            y: vec![y],
            outputs: vec![GpOutput {
                kernel: Kernel::Matern52,
                theta: vec![1.3, 0.7],
                nugget: MIN_NUGGET,
                likelihood: 0.0,
                variance: 0.0,
            }],
        })
        .unwrap();
        let xt = ndarray::array![[0.25, 0.6], [0.9, 0.1]];
        let p = g.predict(xt.view()).unwrap();
        let mean = [0.9179852048323529, 1.2645163014822014];
        let var = [0.0639062845464982, 0.037760183968577124];
        for i in 0..2 {
            assert!(
                (p.mean[[i, 0]] - mean[i]).abs() < 1e-10,
                "{}",
                p.mean[[i, 0]]
            );
            assert!(
                (p.variance[[i, 0]] / var[i] - 1.0).abs() < 1e-9,
                "{}",
                p.variance[[i, 0]]
            );
        }
        let data = dataset(&x, &g.file().y[0]);
        let b = fixed(
            Trend::Constant,
            Kernel::Matern52,
            &ndarray::array![1.3, 0.7],
            MIN_NUGGET,
            &data,
        )
        .unwrap();
        assert!((b.likelihood() - 0.12038676516184084).abs() < 1e-10);
        assert!((b.variance() - 0.30155035907463784).abs() < 1e-12);
        assert!((g.kriging[0].process_variance() / 0.30155035907463784 - 1.0).abs() < 1e-12);
    }

    /// The precomputed predictor ([`Kriging`]) against egobox's own `predict_valvar` on the
    /// same thetas and nugget: every kernel and trend, a tiny and a large nugget.
    #[test]
    fn the_precomputed_predictor_equals_egobox() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let u = rand_distr::Uniform::new(0.0f64, 1.0);
        let x = Array2::from_shape_fn((40, 3), |_| u.sample(&mut rng));
        let y: Vec<f64> = x
            .outer_iter()
            .map(|r| (4.0 * r[0]).sin() + r[1] * r[2] + 0.05 * u.sample(&mut rng))
            .collect();
        let xt = Array2::from_shape_fn((25, 3), |_| 1.2 * u.sample(&mut rng) - 0.1);
        let theta = [2.0, 0.7, 1.4];
        for trend in [Trend::Constant, Trend::Linear] {
            for kernel in Kernel::ALL {
                for nugget in [1e-6, 0.05] {
                    let b = fixed(
                        trend,
                        kernel,
                        &Array1::from(theta.to_vec()),
                        nugget,
                        &dataset(&x, &y),
                    )
                    .unwrap();
                    let (me, ve) = b.predict(&xt).unwrap();
                    let k = Kriging::new(x.view(), &y, kernel, trend, &theta, nugget).unwrap();
                    let (mk, vk) = k.predict(xt.view());
                    assert!((k.process_variance() / b.variance() - 1.0).abs() < 1e-9);
                    for i in 0..xt.nrows() {
                        let what = format!("{trend:?} {kernel:?} g {nugget} row {i}");
                        assert!(
                            (mk[i] - me[i]).abs() < 1e-9,
                            "{what}: mean {} vs {}",
                            mk[i],
                            me[i]
                        );
                        assert!(
                            (vk[i] - ve[i]).abs() < 1e-9 * b.variance(),
                            "{what}: variance {} vs {}",
                            vk[i],
                            ve[i]
                        );
                    }
                }
            }
        }
    }

    /// A draw of a zero-mean GP on 60 points of [0, 1] with correlation `corr(|d| / std)`.
    fn draw(corr: impl Fn(f64) -> f64, seed: u64) -> (Array2<f64>, Array2<f64>) {
        let n = 60;
        let x = Array2::from_shape_fn((n, 1), |(i, _)| i as f64 / (n - 1) as f64);
        let sd = x.std(1.0);
        let k = nalgebra::DMatrix::from_fn(n, n, |i, j| {
            corr((x[[i, 0]] - x[[j, 0]]).abs() / sd) + if i == j { 1e-10 } else { 0.0 }
        });
        let l = k.cholesky().unwrap().l();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let z = nalgebra::DVector::from_fn(n, |_, _| StandardNormal.sample(&mut rng));
        let f = l * z;
        (x, Array2::from_shape_fn((n, 1), |(i, _)| f[i]))
    }

    #[test]
    fn the_likelihood_picks_the_kernel_family_the_data_came_from() {
        let s = fixed_nugget(&Kernel::ALL, Some(0.0));
        for seed in 0..3 {
            // Matern 3/2 of theta 3: rough paths
            let t = 3.0 * 3f64.sqrt();
            let (x, y) = draw(|d| (1.0 + t * d) * (-t * d).exp(), seed);
            let g = Gp::fit(x.view(), y.view(), &s).unwrap();
            assert_eq!(g.file().outputs[0].kernel, Kernel::Matern32, "seed {seed}");
            // squared exponential of theta 1.5: very smooth paths
            let (x, y) = draw(|d| (-0.5 * (1.5 * d).powi(2)).exp(), seed);
            let g = Gp::fit(x.view(), y.view(), &s).unwrap();
            assert_ne!(g.file().outputs[0].kernel, Kernel::Matern32, "seed {seed}");
        }
    }

    /// y = sin(3 x0) + x1^2 + N(0, 0.1^2) on 80 training and 400 held-out points.
    fn noisy(n: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, 2), |_| rand::Rng::gen::<f64>(&mut rng));
        let y = Array2::from_shape_fn((n, 1), |(i, _)| {
            let e: f64 = StandardNormal.sample(&mut rng);
            (3.0 * x[[i, 0]]).sin() + x[[i, 1]] * x[[i, 1]] + 0.1 * e
        });
        (x, y)
    }

    #[test]
    fn with_known_noise_the_nugget_is_found_and_2_sigma_covers_90_to_99_percent() {
        let (x, y) = noisy(80, 1);
        let (xt, yt) = noisy(400, 2);
        let g = Gp::fit(x.view(), y.view(), &GpSettings::default()).unwrap();
        let o = &g.file().outputs[0];
        let noise = o.variance * o.nugget;
        assert!(
            (0.005..0.02).contains(&noise),
            "noise variance {noise} (true 0.01): {o:?}"
        );
        let p = g.predict(xt.view()).unwrap();
        let inside = (0..400)
            .filter(|&i| (yt[[i, 0]] - p.mean[[i, 0]]).abs() <= 2.0 * p.variance[[i, 0]].sqrt())
            .count() as f64
            / 400.0;
        assert!((0.90..=0.99).contains(&inside), "coverage {inside}");
    }

    #[test]
    fn saved_gp_predicts_bit_for_bit() {
        let (x, y) = noisy(30, 3);
        let y2 = ndarray::concatenate![
            ndarray::Axis(1),
            y,
            x.column(0).insert_axis(ndarray::Axis(1))
        ];
        let g = Gp::fit(x.view(), y2.view(), &GpSettings::default()).unwrap();
        let f = super::super::Fitted::new(
            super::super::Model::new(g),
            x.view(),
            y2.view(),
            vec!["a".into(), "b".into()],
            vec!["PC1".into(), "PC2".into()],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gp.json");
        f.save(&path).unwrap();
        let back = super::super::Fitted::load(&path).unwrap();
        assert_eq!(f, back);
        let (xt, _) = noisy(50, 4);
        let (a, b) = (
            f.model.emulator().predict(xt.view()).unwrap(),
            back.model.emulator().predict(xt.view()).unwrap(),
        );
        assert!(a
            .mean
            .iter()
            .zip(&b.mean)
            .all(|(u, v)| u.to_bits() == v.to_bits()));
        assert!(a
            .variance
            .iter()
            .zip(&b.variance)
            .all(|(u, v)| u.to_bits() == v.to_bits()));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"kind\": \"gp\""), "{}", &text[..200]);
        // 2500 rows (three chunks) predict as each row alone
        let (xb, _) = noisy(2500, 5);
        let pb = back.model.emulator().predict(xb.view()).unwrap();
        for i in [0, 1023, 1024, 2047, 2048, 2499] {
            let one = back
                .model
                .emulator()
                .predict(xb.slice(ndarray::s![i..i + 1, ..]))
                .unwrap();
            for j in 0..2 {
                assert!(
                    (pb.mean[[i, j]] - one.mean[[0, j]]).abs() < 1e-12,
                    "row {i}"
                );
                assert!(
                    (pb.variance[[i, j]] - one.variance[[0, j]]).abs() < 1e-12,
                    "row {i}"
                );
            }
        }
    }

    #[test]
    fn settings_are_checked_once() {
        let bad = [
            GpSettings {
                n_start: 1001,
                ..GpSettings::default()
            },
            GpSettings {
                nugget: Some(-1.0),
                ..GpSettings::default()
            },
            GpSettings {
                kernels: vec![],
                ..GpSettings::default()
            },
        ];
        let words = ["n_start = 1001", "nugget = -1", "kernels is empty"];
        let x = Array2::from_shape_fn((5, 1), |(i, _)| i as f64);
        for (s, w) in bad.iter().zip(words) {
            let e = Gp::fit(x.view(), x.view(), s).unwrap_err().to_string();
            assert!(e.contains(w), "{e}");
        }
        assert_eq!("matern32".parse::<Kernel>().unwrap(), Kernel::Matern32);
        assert!("rbf"
            .parse::<Kernel>()
            .unwrap_err()
            .to_string()
            .contains("use squared_exponential"));
    }
}
