//! Sparse Gaussian-process emulator (`sparse_gp`) on egobox-gp's `SparseGaussianProcess`:
//! one GP per output (mode) through `M` inducing points, for ensembles too large for the
//! full GP's `O(n^3)` likelihood (NCAR's 1,500-member, 56-parameter PPE; issue 30).
//!
//! **Model.** Inputs are standardised by their training mean and standard deviation (ddof
//! 1, as the full GP), each output by its own; egobox's sparse GP has no trend (a zero-mean
//! process), so the standardised output's mean is the trend. Covariance `sigma2 k(x, x')`,
//! `k` a product over the inputs of a squared exponential, Matern 3/2 or Matern 5/2
//! correlation with one inverse length scale `theta_j` per input (the same kernels and
//! forms as `gp`), plus an estimated noise variance `eta2`. The inducing points are `M`
//! training members drawn without replacement from `seed` (every member when `M >= n`).
//! Two approximations (Bauer, van der Wilk and Rasmussen 2016): **FITC** (the default;
//! `Q_nn + diag(K_nn - Q_nn) + eta2 I`, `Q_nn = K_nm K_mm^-1 K_mn`) and **VFE** (Titsias
//! 2009: `Q_nn + eta2 I` and a trace penalty in the likelihood). With every member an
//! inducing point `Q_nn = K_nn` (up to the jitter `1e-8` on `K_mm`): both are the exact GP
//! of zero mean, which the tests check against numpy.
//!
//! **Fit.** egobox climbs log10 of (`theta_1..theta_d`, `sigma2`, `eta2`) with COBYLA
//! (10 evaluations per input, at most `max_evals`, 300 by default) from `theta = 0.1` and
//! from `n_start` more starts of a seeded Latin hypercube over log10 theta in `[-2, 1]`
//! (the full GP's bounds), noise from `1e-2` in `[1e-8, 2]` (fractions of the output's
//! variance); for each output the (kernel, start) of highest likelihood is kept (the first
//! in order on ties). Every (output, kernel, start) is one job, run in parallel. egobox's
//! own multistart is not used: with one extra start it draws it from entropy (not
//! reproducible).
//!
//! **Prediction.** Mean and variance are evaluated here from the saved hyperparameters
//! (the same formulas as egobox's FITC, written with `K_mm = U U'`, `V = U^-1 K_mn`,
//! `Lambda = diag(nu)`, `A = I + V Lambda^-1 V' = L L'`): mean `k_*m U^-T L^-T L^-1 V
//! Lambda^-1 y`; variance `sigma2 - |U^-1 k_m*|^2 + |L^-1 U^-1 k_m*|^2 + eta2` (kriging part
//! at least 0), the variance of a new observation as `gp`'s. egobox's VFE variance adds
//! the last term instead of subtracting it (`(I + L^-T L^-1)` where the posterior needs
//! `(I - L^-T L^-1)`; the tests show it against a dense numpy VFE), so its predictions are not
//! used. A fitted model and a loaded one go through the same rebuild, so a saved sparse GP
//! predicts bit for bit as the fitted one.
//!
//! **Cost** (measured in release on the 2-core machine under a load of 4-5; the README
//! has the table): every likelihood evaluation forms egobox's (M n x d) input differences,
//! so a fit costs about `max_evals x M x n x d`. At 1,500 members x 56 inputs with the
//! defaults (M = 100, 300 evaluations) one mode took 36 s and three 119 s, second-design
//! r^2 0.98-0.99; egobox's full budget (560) took 182 s for 0.993-0.996. egobox's Matern
//! kernels loop over d x d weights per pair (read in its code, not timed), so with 56
//! inputs `kernels` stays at the squared exponential unless asked.

use super::gp::Kernel;
use super::kind::{Method, Saved};
use super::kriging::{correlation, standardise};
use super::{check_inputs, check_training, Emulator, Prediction};
use anyhow::{anyhow, bail, Result};
use egobox_gp::correlation_models::{
    CorrelationModel, Matern32Corr, Matern52Corr, SquaredExponentialCorr,
};
use egobox_gp::{Inducings, ParamTuning, SparseGaussianProcess};
use linfa::prelude::{DatasetBase, Fit};
use nalgebra::DMatrix;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

/// The sparse approximation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SparseMethod {
    /// Fully independent training conditional: the exact prior variance at each member.
    Fitc,
    /// Variational free energy (Titsias): a lower bound of the exact likelihood.
    Vfe,
}

impl SparseMethod {
    /// The method's name in scripts and files.
    pub fn name(self) -> &'static str {
        match self {
            SparseMethod::Fitc => "fitc",
            SparseMethod::Vfe => "vfe",
        }
    }
}

impl std::str::FromStr for SparseMethod {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fitc" => Ok(SparseMethod::Fitc),
            "vfe" => Ok(SparseMethod::Vfe),
            _ => bail!(
                "unknown sparse_gp method '{}': use fitc or vfe",
                crate::format::printable(s)
            ),
        }
    }
}

impl TryFrom<String> for SparseMethod {
    type Error = anyhow::Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<SparseMethod> for String {
    fn from(m: SparseMethod) -> String {
        m.name().into()
    }
}

/// Settings of a sparse GP fit (the options of `fit("sparse_gp", x, y, options)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SparseGpSettings {
    /// Inducing points: this many training members drawn from `seed` (all of them when
    /// there are fewer members).
    pub inducing: usize,
    /// The approximation: `fitc` or `vfe`.
    pub method: SparseMethod,
    /// The candidate kernels (one name or a list); per output the one of highest
    /// likelihood is kept.
    #[serde(deserialize_with = "crate::settings::names")]
    pub kernels: Vec<Kernel>,
    /// Restarts of the likelihood maximisation besides the default start.
    pub n_start: usize,
    /// Seed of the inducing points and of the restarts' Latin hypercube.
    pub seed: u64,
    /// Most likelihood evaluations per start (COBYLA's budget): egobox spends 10 per input
    /// up to this (25 at least); 300 keeps 1,500 members x 56 inputs x 3 modes within two
    /// minutes on two cores.
    pub max_evals: usize,
}

impl Default for SparseGpSettings {
    fn default() -> Self {
        SparseGpSettings {
            inducing: 100,
            method: SparseMethod::Fitc,
            kernels: vec![Kernel::SquaredExponential],
            n_start: 0,
            seed: 42,
            max_evals: 300,
        }
    }
}

/// Most inducing points allowed: the rebuild holds a few (M x M) and one (M x n) matrix.
pub const MAX_INDUCING: usize = 5000;

impl SparseGpSettings {
    /// Checks the settings once, before fitting.
    pub fn check(&self) -> Result<()> {
        if !(1..=MAX_INDUCING).contains(&self.inducing) {
            bail!(
                "sparse_gp inducing = {} must be 1 to {MAX_INDUCING} (inducing points, drawn \
                 among the training members)",
                self.inducing
            );
        }
        if self.kernels.is_empty() {
            bail!(
                "sparse_gp kernels is empty: give at least one of squared_exponential, \
                 matern32, matern52"
            );
        }
        if self.n_start > 100 {
            bail!("sparse_gp n_start = {} must be at most 100", self.n_start);
        }
        if !(25..=100_000).contains(&self.max_evals) {
            bail!(
                "sparse_gp max_evals = {} must be 25 to 100000 (likelihood evaluations per start)",
                self.max_evals
            );
        }
        Ok(())
    }
}

/// One output's sparse GP, as saved (variances in units of the output's training variance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparseGpOutput {
    /// The chosen kernel.
    pub kernel: Kernel,
    /// Inverse length scales, one per input (on standardised inputs).
    pub theta: Vec<f64>,
    /// Process variance `sigma2` over the output's training variance.
    pub process_variance: f64,
    /// Noise variance `eta2` over the output's training variance.
    pub noise_variance: f64,
    /// egobox's reduced log likelihood of the fit (natural log, constant dropped).
    pub likelihood: f64,
}

/// What a saved sparse GP holds: enough to rebuild it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparseGpFile {
    /// The settings it was fitted with.
    pub settings: SparseGpSettings,
    /// Training inputs, rows.
    pub x: Vec<Vec<f64>>,
    /// Training outputs, one vector per output.
    pub y: Vec<Vec<f64>>,
    /// The training members (0-based rows of `x`) that are the inducing points.
    pub inducing: Vec<usize>,
    /// The jitter added to the diagonal of `K_mm` (standardised units).
    pub jitter: f64,
    /// One sparse GP per output.
    pub outputs: Vec<SparseGpOutput>,
}

/// Jitter on the diagonal of `K_mm` (egobox's `nugget`), in standardised output units.
pub const JITTER: f64 = 1e-8;
/// Bounds of theta (the full GP's, on standardised inputs).
const THETA: (f64, f64) = (1e-2, 10.0);
/// Start and bounds of the noise variance (fractions of the output's variance).
const NOISE: (f64, (f64, f64)) = (1e-2, (1e-8, 2.0));

/// One output's predictor, precomputed from its hyperparameters.
#[derive(Debug, Clone)]
struct Predictor {
    kernel: Kernel,
    theta: Array1<f64>,
    sigma2: f64,
    noise: f64,
    y_mean: f64,
    y_std: f64,
    /// Mean weights `U^-T L^-T L^-1 V Lambda^-1 y` (M).
    w: Array1<f64>,
    /// `U^-T` (M x M): `k (U^-T) = (U^-1 k')'`.
    ui_t: Array2<f64>,
    /// `(L^-1 U^-1)'` (M x M).
    lui_t: Array2<f64>,
}

/// A fitted sparse Gaussian-process emulator (one sparse GP per output).
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "SparseGpFile", into = "SparseGpFile")]
pub struct SparseGp {
    file: SparseGpFile,
    x_mean: Array1<f64>,
    x_std: Array1<f64>,
    /// Standardised inducing points (M x inputs).
    z: Array2<f64>,
    outputs: Vec<Predictor>,
}

impl std::fmt::Debug for SparseGp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SparseGp")
            .field("file", &self.file)
            .finish()
    }
}

impl PartialEq for SparseGp {
    fn eq(&self, other: &SparseGp) -> bool {
        self.file == other.file
    }
}

impl From<SparseGp> for SparseGpFile {
    fn from(g: SparseGp) -> SparseGpFile {
        g.file
    }
}

impl TryFrom<SparseGpFile> for SparseGp {
    type Error = anyhow::Error;
    fn try_from(file: SparseGpFile) -> Result<SparseGp> {
        SparseGp::rebuild(file)
    }
}

/// `m` distinct members of `n` drawn from `seed` (ChaCha8), in increasing order.
fn draw_inducing(n: usize, m: usize, seed: u64) -> Vec<usize> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    if m >= n {
        return (0..n).collect();
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rng);
    idx.truncate(m);
    idx.sort_unstable();
    idx
}

/// Hyperparameters of one climb: (likelihood, theta, sigma2, eta2).
type Tuned = (f64, Vec<f64>, f64, f64);

/// One egobox sparse-GP fit of one kernel from one start.
fn climb<C: CorrelationModel<f64>>(
    corr: C,
    s: &SparseGpSettings,
    z: &Array2<f64>,
    data: &DatasetBase<Array2<f64>, Array1<f64>>,
    theta0: Array1<f64>,
) -> Result<Tuned> {
    let method = match s.method {
        SparseMethod::Fitc => egobox_gp::SparseMethod::Fitc,
        SparseMethod::Vfe => egobox_gp::SparseMethod::Vfe,
    };
    // egobox spends min(10 x thetas, max_eval) evaluations (25 at least)
    let g = SparseGaussianProcess::<f64, C>::params(corr, Inducings::Located(z.clone()))
        .sparse_method(method)
        .theta_init(theta0)
        // one pair for every parameter: egobox refuses per-input bounds for the sparse GP
        .theta_bounds(ndarray::array![THETA])
        .n_start(0)
        .noise_variance(ParamTuning::Optimized {
            init: NOISE.0,
            bounds: NOISE.1,
        })
        .nugget(JITTER)
        .max_eval(s.max_evals)
        .fit(data)
        .map_err(|e| anyhow!("{e}"))?;
    Ok((
        g.likelihood(),
        g.theta().to_vec(),
        g.variance(),
        g.noise_variance(),
    ))
}

/// The starts: theta 0.1 (egobox's default), then `n_start` points of a Latin hypercube
/// over log10 theta.
fn starts(s: &SparseGpSettings, d: usize) -> Vec<Array1<f64>> {
    let mut out = vec![Array1::from_elem(d, 0.1)];
    if s.n_start > 0 {
        let (lo, hi) = (THETA.0.log10(), THETA.1.log10());
        for row in crate::sampling::latin_hypercube_points(s.n_start, d, s.seed, false, 1) {
            out.push(row.iter().map(|u| 10f64.powf(lo + u * (hi - lo))).collect());
        }
    }
    out
}

impl Saved for SparseGp {
    const KIND: &'static str = "sparse_gp";
    const ABOUT: &'static str = "sparse Gaussian processes (FITC or VFE on inducing members), one \
                                 per output, for large ensembles (egobox-gp)";
}

impl Method for SparseGp {
    type Settings = SparseGpSettings;

    fn check(settings: &SparseGpSettings) -> Result<()> {
        settings.check()
    }

    /// Fits one sparse GP per column of `y` (members x outputs) on `x` (members x
    /// parameters).
    fn fit_checked(
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        settings: &SparseGpSettings,
    ) -> Result<SparseGp> {
        use rayon::prelude::*;
        check_training(x, y, 3)?;
        crate::interrupt::check()?;
        let (n, d) = x.dim();
        let inducing = draw_inducing(n, settings.inducing, settings.seed);
        let (xm, xs) = standardise(x);
        let xt = (&x - &xm) / &xs;
        let z = Array2::from_shape_fn((inducing.len(), d), |(i, j)| xt[[inducing[i], j]]);
        let (ym, ys) = standardise(y);
        let data: Vec<DatasetBase<Array2<f64>, Array1<f64>>> = (0..y.ncols())
            .map(|k| {
                let yk = y.column(k).mapv(|v| (v - ym[k]) / ys[k]);
                DatasetBase::new(xt.clone(), yk)
            })
            .collect();
        let st = starts(settings, d);
        let jobs: Vec<(usize, Kernel, &Array1<f64>)> = (0..y.ncols())
            .flat_map(|k| {
                let st = &st;
                settings
                    .kernels
                    .iter()
                    .flat_map(move |&c| st.iter().map(move |t| (k, c, t)))
            })
            .collect();
        let results: Vec<Result<Tuned>> = jobs
            .par_iter()
            .map(|&(k, kernel, t0)| {
                crate::guard::catching("fit_sparse_gp", || {
                    let (m, dk) = (settings, &data[k]);
                    match kernel {
                        Kernel::SquaredExponential => {
                            climb(SquaredExponentialCorr(), m, &z, dk, t0.clone())
                        }
                        Kernel::Matern32 => climb(Matern32Corr(), m, &z, dk, t0.clone()),
                        Kernel::Matern52 => climb(Matern52Corr(), m, &z, dk, t0.clone()),
                    }
                })
            })
            .collect();
        let mut outputs = Vec::new();
        for k in 0..y.ncols() {
            let mut best: Option<(Kernel, &Tuned)> = None;
            let mut why = None;
            for (job, r) in jobs.iter().zip(&results) {
                if job.0 != k {
                    continue;
                }
                match r {
                    Ok(t) if t.0.is_finite() && best.is_none_or(|b| t.0 > b.1 .0) => {
                        best = Some((job.1, t))
                    }
                    Ok(_) => {}
                    Err(e) => why = Some(e.to_string()),
                }
            }
            let Some((kernel, (l, theta, s2, eta2))) = best else {
                bail!(
                    "sparse_gp: no kernel fits output {} ({}); duplicate members or a \
                     constant output?",
                    k + 1,
                    why.unwrap_or_else(|| "the likelihood is not finite anywhere".into())
                );
            };
            outputs.push(SparseGpOutput {
                kernel,
                theta: theta.clone(),
                process_variance: *s2,
                noise_variance: *eta2,
                likelihood: *l,
            });
        }
        SparseGp::rebuild(SparseGpFile {
            settings: settings.clone(),
            x: x.outer_iter().map(|r| r.to_vec()).collect(),
            y: y.columns().into_iter().map(|c| c.to_vec()).collect(),
            inducing,
            jitter: JITTER,
            outputs,
        })
    }
}

/// The (rows of `a`) x (rows of `b`) correlations of `kernel`.
fn correlations(
    kernel: Kernel,
    theta: &Array1<f64>,
    a: ArrayView2<f64>,
    b: ArrayView2<f64>,
) -> Array2<f64> {
    let mut r = Array2::zeros((a.nrows(), b.nrows()));
    for (ai, mut ri) in a.outer_iter().zip(r.outer_iter_mut()) {
        for (bj, v) in b.outer_iter().zip(ri.iter_mut()) {
            *v = correlation(kernel, theta, ai, bj);
        }
    }
    r
}

fn to_nd(m: &DMatrix<f64>) -> Array2<f64> {
    Array2::from_shape_fn(m.shape(), |(i, j)| m[(i, j)])
}

fn to_na(a: &Array2<f64>) -> DMatrix<f64> {
    DMatrix::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]])
}

/// Precomputes one output's predictor (standardised inputs `xt`, inducing points `z`).
fn predictor(
    o: &SparseGpOutput,
    method: SparseMethod,
    jitter: f64,
    xt: ArrayView2<f64>,
    z: ArrayView2<f64>,
    y: ArrayView1<f64>,
) -> Result<Predictor> {
    let (n, m) = (xt.nrows(), z.nrows());
    let theta = Array1::from(o.theta.clone());
    let s2 = o.process_variance;
    let ya = y.to_owned().insert_axis(ndarray::Axis(1));
    let (ym, ys) = standardise(ya.view());
    let (y_mean, y_std) = (ym[0], ys[0]);
    let kmm =
        correlations(o.kernel, &theta, z, z).mapv(|v| v * s2) + Array2::<f64>::eye(m) * jitter;
    let kmn = correlations(o.kernel, &theta, z, xt).mapv(|v| v * s2);
    let Some(u) = to_na(&kmm).cholesky().map(|c| c.l()) else {
        bail!("K_mm is not positive definite (duplicate inducing members?)");
    };
    let fail = || anyhow!("a triangular solve failed (a zero pivot)");
    let v = u.solve_lower_triangular(&to_na(&kmn)).ok_or_else(fail)?;
    let nu: Vec<f64> = match method {
        SparseMethod::Fitc => (0..n)
            .map(|j| s2 - v.column(j).norm_squared() + o.noise_variance)
            .collect(),
        SparseMethod::Vfe => vec![o.noise_variance.max(jitter); n],
    };
    if let Some(j) = nu.iter().position(|v| !v.is_finite() || *v <= 0.0) {
        bail!("the FITC variance of member {} is not positive", j + 1);
    }
    let mut vb = v.clone();
    for (j, mut c) in vb.column_iter_mut().enumerate() {
        c /= nu[j];
    }
    let a = DMatrix::identity(m, m) + &vb * v.transpose();
    let Some(l) = a.cholesky().map(|c| c.l()) else {
        bail!("I + V Lambda^-1 V' is not positive definite");
    };
    let yn = nalgebra::DVector::from_iterator(n, y.iter().map(|v| (v - y_mean) / y_std));
    let c = l.solve_lower_triangular(&(&vb * yn)).ok_or_else(fail)?;
    let t = l.transpose().solve_upper_triangular(&c).ok_or_else(fail)?;
    let w = u.transpose().solve_upper_triangular(&t).ok_or_else(fail)?;
    let ui = u
        .solve_lower_triangular(&DMatrix::identity(m, m))
        .ok_or_else(fail)?;
    let lui = l.solve_lower_triangular(&ui).ok_or_else(fail)?;
    Ok(Predictor {
        kernel: o.kernel,
        theta,
        sigma2: s2,
        noise: o.noise_variance,
        y_mean,
        y_std,
        w: Array1::from_iter(w.iter().copied()),
        ui_t: to_nd(&ui.transpose()),
        lui_t: to_nd(&lui.transpose()),
    })
}

impl Predictor {
    /// Mean and (with `variance`) the variance of a new observation at standardised rows.
    fn predict(&self, xn: ArrayView2<f64>, z: ArrayView2<f64>, variance: bool) -> Part {
        let k = correlations(self.kernel, &self.theta, xn, z).mapv(|v| v * self.sigma2);
        let mean = k.dot(&self.w).mapv(|v| v * self.y_std + self.y_mean);
        if !variance {
            return (mean, None);
        }
        let p = k.dot(&self.ui_t);
        let q = k.dot(&self.lui_t);
        let scale = self.y_std * self.y_std;
        let var = Array1::from_iter(p.outer_iter().zip(q.outer_iter()).map(|(pi, qi)| {
            let kriging = self.sigma2 - pi.dot(&pi) + qi.dot(&qi);
            (kriging.max(0.0) + self.noise) * scale
        }));
        (mean, Some(var))
    }
}

/// One output's predictions on a chunk: means and (if asked) variances.
type Part = (Array1<f64>, Option<Array1<f64>>);

/// Rows per chunk of prediction.
const CHUNK: usize = 1024;

impl SparseGp {
    /// Rebuilds the predictors of a saved file from its hyperparameters.
    pub fn rebuild(file: SparseGpFile) -> Result<SparseGp> {
        let n = file.x.len();
        let d = file.x.first().map_or(0, |r| r.len());
        if n == 0 || d == 0 || file.x.iter().any(|r| r.len() != d) {
            bail!("saved sparse_gp: the training inputs are not a non-empty rectangle");
        }
        if file.y.len() != file.outputs.len() || file.y.iter().any(|c| c.len() != n) {
            bail!(
                "saved sparse_gp: {} outputs but {} output columns of {n} members",
                file.outputs.len(),
                file.y.len()
            );
        }
        if file.inducing.is_empty() || file.inducing.iter().any(|&i| i >= n) {
            bail!("saved sparse_gp: the inducing members are not rows of the {n} members");
        }
        let x = Array2::from_shape_fn((n, d), |(i, j)| file.x[i][j]);
        let (x_mean, x_std) = standardise(x.view());
        let xt = (&x - &x_mean) / &x_std;
        let z = Array2::from_shape_fn((file.inducing.len(), d), |(i, j)| xt[[file.inducing[i], j]]);
        let outputs = file
            .outputs
            .iter()
            .zip(&file.y)
            .enumerate()
            .map(|(k, (o, yk))| {
                if o.theta.len() != d {
                    bail!(
                        "saved sparse_gp: output {} has {} thetas for {d} inputs",
                        k + 1,
                        o.theta.len()
                    );
                }
                predictor(
                    o,
                    file.settings.method,
                    file.jitter,
                    xt.view(),
                    z.view(),
                    ArrayView1::from(yk),
                )
                .map_err(|e| anyhow!("sparse_gp output {}: {e}", k + 1))
            })
            .collect::<Result<_>>()?;
        Ok(SparseGp {
            file,
            x_mean,
            x_std,
            z,
            outputs,
        })
    }

    /// What is saved: settings, training data, inducing members and each output's
    /// hyperparameters.
    pub fn file(&self) -> &SparseGpFile {
        &self.file
    }

    /// Means and (with `variance`) variances, rows in chunks of 1024 and outputs in
    /// parallel.
    fn predict_parts(&self, x: ArrayView2<f64>, variance: bool) -> Result<Prediction> {
        use rayon::prelude::*;
        check_inputs(x, self.inputs())?;
        let (n, k) = (x.nrows(), self.outputs());
        let xn = (&x - &self.x_mean) / &self.x_std;
        let jobs: Vec<(usize, usize)> = (0..n)
            .step_by(CHUNK)
            .flat_map(|a| (0..k).map(move |j| (a, j)))
            .collect();
        let parts: Vec<Part> = jobs
            .par_iter()
            .map(|&(a, j)| {
                let b = (a + CHUNK).min(n);
                self.outputs[j].predict(xn.slice(ndarray::s![a..b, ..]), self.z.view(), variance)
            })
            .collect();
        let mut mean = Array2::zeros((n, k));
        let mut var = Array2::zeros((n, k));
        for ((a, j), (m, v)) in jobs.into_iter().zip(parts) {
            let b = a + m.len();
            mean.slice_mut(ndarray::s![a..b, j]).assign(&m);
            if let Some(v) = v {
                var.slice_mut(ndarray::s![a..b, j]).assign(&v);
            }
        }
        Ok(Prediction {
            mean,
            variance: var,
        })
    }
}

impl Emulator for SparseGp {
    fn method(&self) -> String {
        "sparse_gp".into()
    }
    fn inputs(&self) -> usize {
        self.file.x[0].len()
    }
    fn outputs(&self) -> usize {
        self.file.outputs.len()
    }
    /// Rows are predicted in chunks of 1024, chunks and outputs in parallel; the work per
    /// row is one pass over the M inducing points and two (M x M) products.
    fn predict(&self, x: ArrayView2<f64>) -> Result<Prediction> {
        self.predict_parts(x, true)
    }
    /// The mean alone: one pass over the inducing points per row.
    fn predict_mean(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        Ok(self.predict_parts(x, false)?.mean)
    }
}

/// A land-model-like synthetic ensemble: `members` rows of a Latin hypercube of `inputs`
/// (>= 8) scalings in [0, 1] (seed `seed`), and 3 smooth outputs ("PCs") driven by a few
/// strong inputs (0-3), some moderate ones (4-7) and a weak linear trace of all the others.
/// A second design (another seed) gives an independent test set.
pub fn land_like(members: usize, inputs: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
    assert!(inputs >= 8, "land_like needs at least 8 inputs");
    let rows = crate::sampling::latin_hypercube_points(members, inputs, seed, false, 1);
    let x = Array2::from_shape_fn((members, inputs), |(i, j)| rows[i][j]);
    let y = Array2::from_shape_fn((members, 3), |(i, k)| {
        let r = x.row(i);
        let weak: f64 = (8..inputs)
            .map(|j| r[j] * 0.3 / (1.0 + (j - 8) as f64))
            .sum();
        match k {
            0 => {
                3.0 * (-2.5 * r[0]).exp()
                    + 1.5 * (3.0 * r[1]).sin()
                    + r[2] * r[3]
                    + 0.4 * r[4]
                    + 0.3 * r[5] * r[5]
                    + weak
            }
            1 => (4.0 * r[1]).cos() + 2.0 * (r[0] - 0.5).powi(2) + 0.6 * r[6] - 0.5 * r[2] - weak,
            _ => r[3] * r[0] + 0.5 * (std::f64::consts::TAU * r[7]).sin() + 0.3 * r[2] + 0.5 * weak,
        }
    });
    (x, y)
}

/// `1 - SSE / SST` of `pred` against `truth`, one per column.
pub fn r_squared(truth: ArrayView2<f64>, pred: ArrayView2<f64>) -> Vec<f64> {
    truth
        .columns()
        .into_iter()
        .zip(pred.columns())
        .map(|(t, p)| {
            let m = t.mean().unwrap_or(0.0);
            let sse: f64 = t.iter().zip(p).map(|(a, b)| (a - b).powi(2)).sum();
            let sst: f64 = t.iter().map(|a| (a - m).powi(2)).sum();
            1.0 - sse / sst
        })
        .collect()
}

/// What [`bench_fit`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchFit {
    /// Wall-clock seconds of the fit (all outputs).
    pub seconds: f64,
    /// Out-of-sample r^2 per output on an independent Latin hypercube of the same size.
    pub r2: Vec<f64>,
    /// The fitted emulator.
    pub model: SparseGp,
}

/// Fits a sparse GP of `settings` on [`land_like`] (`members` x `inputs`, seed 1, 3
/// outputs) and scores it on a second design (seed 2): the measurement behind the bench
/// row `gp_fit_1500x56` (`bench_fit(1500, 56, &SparseGpSettings::default())`).
pub fn bench_fit(members: usize, inputs: usize, settings: &SparseGpSettings) -> Result<BenchFit> {
    let (x, y) = land_like(members, inputs, 1);
    let (xt, yt) = land_like(members, inputs, 2);
    let t = std::time::Instant::now();
    let model = SparseGp::fit(x.view(), y.view(), settings)?;
    let seconds = t.elapsed().as_secs_f64();
    let p = model.predict_mean(xt.view())?;
    Ok(BenchFit {
        seconds,
        r2: r_squared(yt.view(), p.view()),
        model,
    })
}

/// The bench row `gp_fit_1500x56`: [`bench_fit`] at 1,500 members x 56 inputs x 3 outputs
/// with the default settings.
pub fn bench_fit_1500x56() -> Result<BenchFit> {
    bench_fit(1500, 56, &SparseGpSettings::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulate::gp::{Gp, GpSettings};

    /// The 12 members of `/tmp/sgp/ref.py` (the session that wrote these tests): two inputs
    /// on a permuted grid, a smooth output.
    fn small() -> (Array2<f64>, Vec<f64>) {
        let x = Array2::from_shape_fn((12, 2), |(i, j)| {
            (if j == 0 {
                (5 * i + 1) % 12
            } else {
                (7 * i + 3) % 12
            }) as f64
                / 11.0
        });
        let y = x
            .outer_iter()
            .map(|r| (3.0 * r[0]).sin() + r[1] * r[1] + 0.1 * (7.0 * r[0] * r[1]).cos())
            .collect();
        (x, y)
    }

    fn file(
        kernel: Kernel,
        method: SparseMethod,
        inducing: Vec<usize>,
        x: &Array2<f64>,
        y: Vec<f64>,
    ) -> SparseGpFile {
        SparseGpFile {
            settings: SparseGpSettings {
                method,
                ..SparseGpSettings::default()
            },
            x: x.outer_iter().map(|r| r.to_vec()).collect(),
            y: vec![y],
            inducing,
            jitter: JITTER,
            outputs: vec![SparseGpOutput {
                kernel,
                theta: vec![1.3, 0.7],
                process_variance: 0.9,
                noise_variance: 0.05,
                likelihood: 0.0,
            }],
        }
    }

    fn close(what: &str, got: &[f64], want: &[f64], rel: f64) {
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= rel * w.abs().max(1.0),
                "{what} row {i}: {g} vs {w}"
            );
        }
    }

    /// Reference: `/tmp/sgp/ref.py`, plain numpy in the textbook form (Sigma = (K_mm +
    /// K_mn Lambda^-1 K_nm)^-1 by `numpy.linalg.inv`, Lambda = diag(K_nn - Q_nn) + eta2 for
    /// FITC, eta2 I for VFE; the exact GP by inverting K_nn + eta2 I), inputs and output
    /// standardised with ddof 1, jitter 1e-8 on K_mm.
    #[test]
    fn mean_and_variance_equal_a_dense_numpy_fitc_vfe_and_exact_gp() {
        let (x, y) = small();
        let xt = ndarray::array![[0.25, 0.6], [0.9, 0.1], [1.2, -0.1]];
        let some = vec![0, 3, 5, 8, 10];
        let all: Vec<usize> = (0..12).collect();
        let cases = [
            (
                "fitc se",
                Kernel::SquaredExponential,
                SparseMethod::Fitc,
                &some,
                [1.0623844573403718, 0.9792997427761854, 0.9467749865342168],
                [0.12686752938027318, 0.28719418452564016, 0.2926372752382044],
            ),
            (
                "vfe matern52",
                Kernel::Matern52,
                SparseMethod::Vfe,
                &some,
                [1.027052445889833, 0.955806515673405, 0.945140911337696],
                [0.1752638200698968, 0.2886729913158525, 0.2925608020572845],
            ),
            (
                "fitc se, every member inducing",
                Kernel::SquaredExponential,
                SparseMethod::Fitc,
                &all,
                [1.0751116702421284, 0.5205430431232763, 0.5833261780416606],
                [0.12588227884092806, 0.1612668743203258, 0.24098480331915828],
            ),
            (
                "vfe se, every member inducing",
                Kernel::SquaredExponential,
                SparseMethod::Vfe,
                &all,
                [1.0751116771488616, 0.5205430367900331, 0.583326162472992],
                [0.1258822777119711, 0.1612668731555067, 0.2409848009473081],
            ),
        ];
        // the exact GP of zero mean on the standardised output, same hyperparameters
        let exact_mean = [1.0751116870650415, 0.5205430321471776, 0.5833260936177889];
        let exact_var = [0.12588227534101162, 0.16126686825215633, 0.2409847699374603];
        for (what, kernel, method, inducing, mean, var) in cases {
            let g =
                SparseGp::rebuild(file(kernel, method, inducing.clone(), &x, y.clone())).unwrap();
            let p = g.predict(xt.view()).unwrap();
            close(what, &p.mean.column(0).to_vec(), &mean, 1e-9);
            close(what, &p.variance.column(0).to_vec(), &var, 1e-9);
            assert_eq!(g.predict_mean(xt.view()).unwrap(), p.mean);
            if inducing.len() == 12 {
                // Q_nn = K_nn: FITC and VFE are the exact GP, up to the jitter on K_mm
                close(what, &p.mean.column(0).to_vec(), &exact_mean, 1e-6);
                close(what, &p.variance.column(0).to_vec(), &exact_var, 1e-6);
            }
        }
    }

    /// egobox fitted on the standardised data, and the predictor rebuilt here from its
    /// hyperparameters: the same FITC predictions; VFE means equal, and egobox's VFE
    /// variance is ours minus `2 k Sigma k` (it adds `Sigma` to `K_mm^-1` where the posterior
    /// subtracts it), which is why predictions are never egobox's.
    #[test]
    fn the_rebuilt_predictor_equals_egobox_fitc_and_vfe_means() {
        let (x, y) = land_like(60, 8, 3);
        let y = y.column(0).to_vec();
        let xa = Array2::from_shape_vec((60, 1), y.clone()).unwrap();
        let (xm, xs) = standardise(x.view());
        let (ym, ys) = standardise(xa.view());
        let xt = (&x - &xm) / &xs;
        let yn = Array1::from_iter(y.iter().map(|v| (v - ym[0]) / ys[0]));
        let inducing = draw_inducing(60, 15, 7);
        let z = Array2::from_shape_fn((15, 8), |(i, j)| xt[[inducing[i], j]]);
        let (xq, _) = land_like(40, 8, 4);
        let xqn = (&xq - &xm) / &xs;
        let data = DatasetBase::new(xt.clone(), yn);
        for (method, em) in [
            (SparseMethod::Fitc, egobox_gp::SparseMethod::Fitc),
            (SparseMethod::Vfe, egobox_gp::SparseMethod::Vfe),
        ] {
            let e = SparseGaussianProcess::<f64, SquaredExponentialCorr>::params(
                SquaredExponentialCorr(),
                Inducings::Located(z.clone()),
            )
            .sparse_method(em)
            .theta_init(Array1::from_elem(8, 0.5))
            .theta_bounds(ndarray::array![THETA])
            .n_start(0)
            .nugget(JITTER)
            .fit(&data)
            .unwrap();
            let mut f = file(
                Kernel::SquaredExponential,
                method,
                inducing.clone(),
                &x,
                y.clone(),
            );
            f.outputs[0].theta = e.theta().to_vec();
            f.outputs[0].process_variance = e.variance();
            f.outputs[0].noise_variance = e.noise_variance();
            let g = SparseGp::rebuild(f).unwrap();
            let p = g.predict(xq.view()).unwrap();
            let me = e.predict(&xqn).unwrap().mapv(|v| v * ys[0] + ym[0]);
            let ve = e.predict_var(&xqn).unwrap().mapv(|v| v * ys[0] * ys[0]);
            let o = &g.outputs[0];
            let k = correlations(o.kernel, &o.theta, xqn.view(), g.z.view()).mapv(|v| v * o.sigma2);
            let q = k.dot(&o.lui_t);
            for i in 0..40 {
                let what = format!("{method:?} row {i}");
                assert!(
                    (p.mean[[i, 0]] - me[i]).abs() < 1e-8,
                    "{what}: {} vs {}",
                    p.mean[[i, 0]],
                    me[i]
                );
                let ksk = q.row(i).dot(&q.row(i)) * ys[0] * ys[0];
                let want = match method {
                    SparseMethod::Fitc => p.variance[[i, 0]],
                    SparseMethod::Vfe => p.variance[[i, 0]] - 2.0 * ksk,
                };
                if want > 1e-12 + e.noise_variance() * ys[0] * ys[0] {
                    assert!(
                        (ve[i] - want).abs() < 1e-8,
                        "{what}: variance {} vs {want}",
                        ve[i]
                    );
                }
            }
        }
    }

    /// With every member an inducing point, a fitted sparse GP (its own likelihood climb,
    /// zero mean) predicts a smooth 3-input function as the full GP does (squared
    /// exponential, constant trend): both near the truth, and near each other.
    #[test]
    fn with_every_member_inducing_it_predicts_as_the_full_gp() {
        let f = |r: ArrayView1<f64>| (3.0 * r[0]).sin() + r[1] * r[1] + 0.5 * r[0] * r[2];
        let rows = |n, seed| {
            let p = crate::sampling::latin_hypercube_points(n, 3, seed, false, 1);
            let x = Array2::from_shape_fn((n, 3), |(i, j)| p[i][j]);
            let y = Array2::from_shape_fn((n, 1), |(i, _)| f(x.row(i)));
            (x, y)
        };
        let (x, y) = rows(50, 1);
        let (xt, yt) = rows(200, 2);
        let s = SparseGpSettings {
            inducing: 50,
            ..SparseGpSettings::default()
        };
        let sparse = SparseGp::fit(x.view(), y.view(), &s).unwrap();
        assert_eq!(sparse.file().inducing.len(), 50);
        let full = Gp::fit(
            x.view(),
            y.view(),
            &GpSettings {
                kernels: vec![Kernel::SquaredExponential],
                ..GpSettings::default()
            },
        )
        .unwrap();
        let ps = sparse.predict(xt.view()).unwrap();
        let pf = full.predict(xt.view()).unwrap();
        let r2s = r_squared(yt.view(), ps.mean.view())[0];
        let r2f = r_squared(yt.view(), pf.mean.view())[0];
        let between = r_squared(pf.mean.view(), ps.mean.view())[0];
        assert!(r2s > 0.999 && r2f > 0.999, "sparse {r2s}, full {r2f}");
        assert!(between > 0.999, "sparse against full: {between}");
        let sd = y.std(1.0);
        let worst = (&ps.mean - &pf.mean)
            .mapv(f64::abs)
            .fold(0.0f64, |a, b| a.max(*b));
        assert!(
            worst < 0.05 * sd,
            "largest difference {worst} (output sd {sd})"
        );
    }

    #[test]
    fn saved_sparse_gp_predicts_bit_for_bit() {
        let (x, y) = land_like(80, 10, 5);
        let s = SparseGpSettings {
            inducing: 30,
            kernels: vec![Kernel::SquaredExponential, Kernel::Matern52],
            n_start: 1,
            ..SparseGpSettings::default()
        };
        let g = SparseGp::fit(x.view(), y.view(), &s).unwrap();
        assert_eq!(g.file().inducing.len(), 30);
        let f = super::super::Fitted::new(
            super::super::Model::new(g),
            x.view(),
            y.view(),
            (0..10).map(|j| format!("p{j}")).collect(),
            vec!["PC1".into(), "PC2".into(), "PC3".into()],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sgp.json");
        f.save(&path).unwrap();
        let back = super::super::Fitted::load(&path).unwrap();
        assert_eq!(f, back);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"kind\": \"sparse_gp\""), "{}", &text[..300]);
        let (xb, _) = land_like(2500, 10, 6);
        let (a, b) = (
            f.model.emulator().predict(xb.view()).unwrap(),
            back.model.emulator().predict(xb.view()).unwrap(),
        );
        let bits = |u: &Array2<f64>, v: &Array2<f64>| {
            u.iter().zip(v).all(|(p, q)| p.to_bits() == q.to_bits())
        };
        assert!(bits(&a.mean, &b.mean) && bits(&a.variance, &b.variance));
        assert!(a.variance.iter().all(|v| *v > 0.0));
        // 2500 rows (three chunks) predict as each row alone
        for i in [0, 1023, 1024, 2047, 2048, 2499] {
            let one = back
                .model
                .emulator()
                .predict(xb.slice(ndarray::s![i..i + 1, ..]))
                .unwrap();
            for j in 0..3 {
                assert!((a.mean[[i, j]] - one.mean[[0, j]]).abs() < 1e-12, "row {i}");
                assert!(
                    (a.variance[[i, j]] - one.variance[[0, j]]).abs() < 1e-12,
                    "row {i}"
                );
            }
        }
    }

    #[test]
    fn settings_are_checked_once() {
        let bad = [
            SparseGpSettings {
                inducing: 0,
                ..SparseGpSettings::default()
            },
            SparseGpSettings {
                kernels: vec![],
                ..SparseGpSettings::default()
            },
            SparseGpSettings {
                n_start: 101,
                ..SparseGpSettings::default()
            },
            SparseGpSettings {
                max_evals: 10,
                ..SparseGpSettings::default()
            },
        ];
        let words = [
            "sparse_gp inducing = 0 must be 1 to 5000",
            "sparse_gp kernels is empty",
            "sparse_gp n_start = 101",
            "sparse_gp max_evals = 10 must be 25 to 100000",
        ];
        let x = Array2::from_shape_fn((5, 1), |(i, _)| i as f64);
        for (s, w) in bad.iter().zip(words) {
            let e = SparseGp::fit(x.view(), x.view(), s)
                .unwrap_err()
                .to_string();
            assert!(e.contains(w), "{e}");
        }
        let e = "dtc".parse::<SparseMethod>().unwrap_err().to_string();
        assert_eq!(e, "unknown sparse_gp method 'dtc': use fitc or vfe");
        assert_eq!(draw_inducing(5, 9, 1), vec![0, 1, 2, 3, 4]);
        let d = draw_inducing(100, 10, 1);
        assert!(d.len() == 10 && d.windows(2).all(|w| w[0] < w[1]) && d[9] < 100);
        assert_eq!(d, draw_inducing(100, 10, 1));
    }

    /// The measurement behind the README's paragraph (release: `cargo test --release --lib
    /// sparse_gp::tests::measure -- --ignored --nocapture`): fit seconds and second-design
    /// r^2 of sparse and full GP at 500 members x 56 inputs, the sparse GP at 1,500 x 56.
    #[test]
    #[ignore]
    fn measure() {
        let sizes: Vec<usize> = std::env::var("SGP_SIZES")
            .unwrap_or_else(|_| "500,1500".into())
            .split(',')
            .map(|s| s.parse().unwrap())
            .collect();
        let inducing: Vec<usize> = std::env::var("SGP_INDUCING")
            .unwrap_or_else(|_| "100".into())
            .split(',')
            .map(|s| s.parse().unwrap())
            .collect();
        let full = std::env::var("SGP_FULL").is_ok();
        // SGP_MODES=1: the first output alone (time per mode)
        let modes: usize = std::env::var("SGP_MODES").map_or(3, |v| v.parse().unwrap());
        for &n in &sizes {
            let (x, y) = land_like(n, 56, 1);
            let (xt, yt) = land_like(n, 56, 2);
            let (y, yt) = (
                y.slice(ndarray::s![.., ..modes]).to_owned(),
                yt.slice(ndarray::s![.., ..modes]).to_owned(),
            );
            for &m in &inducing {
                let s = SparseGpSettings {
                    inducing: m,
                    max_evals: std::env::var("SGP_EVALS").map_or(300, |v| v.parse().unwrap()),
                    ..SparseGpSettings::default()
                };
                let evals = s.max_evals;
                let t = std::time::Instant::now();
                let g = SparseGp::fit(x.view(), y.view(), &s).unwrap();
                let secs = t.elapsed().as_secs_f64();
                let p = g.predict(xt.view()).unwrap();
                let z = (&yt - &p.mean) / p.variance.mapv(f64::sqrt);
                let cover = z.iter().filter(|v| v.abs() <= 2.0).count() as f64 / z.len() as f64;
                println!(
                    "sparse_gp n {n} M {m} evals {evals:?} modes {modes}: {secs:.1} s, r2 {:?}, noise {:?}, \
                     2-sigma coverage {cover:.3}",
                    r_squared(yt.view(), p.mean.view()),
                    g.file()
                        .outputs
                        .iter()
                        .map(|o| o.noise_variance)
                        .collect::<Vec<_>>()
                );
            }
            if full {
                let t = std::time::Instant::now();
                let g = Gp::fit(
                    x.view(),
                    y.view(),
                    &GpSettings {
                        kernels: vec![Kernel::SquaredExponential],
                        n_start: 0,
                        ..GpSettings::default()
                    },
                )
                .unwrap();
                let secs = t.elapsed().as_secs_f64();
                let p = g.predict_mean(xt.view()).unwrap();
                println!(
                    "gp n {n} modes {modes}: {secs:.1} s, r2 {:?}",
                    r_squared(yt.view(), p.view())
                );
            }
        }
    }
}
