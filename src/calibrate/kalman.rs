//! Ensemble Kalman calibration (beyond the paper; CliMA's route for land models): a small
//! ensemble of real model runs is moved towards the observations in a few iterations, with
//! no emulator; those runs, concentrated where the posterior is, can then train one.
//!
//! Two methods behind one update ([`Kalman::update`]):
//! - **EKI**, ensemble Kalman inversion with perturbed observations (Iglesias, Law & Stuart
//!   2013): `u_j += C_ug (C_gg + Gamma/dt)^-1 (y + xi_j - g_j)`, `xi_j ~ N(0, Gamma/dt)`,
//!   the step `dt` fixed or from the data-misfit controller (Iglesias & Yang 2021), which
//!   ends when the steps add up to 1 (the ensemble then approximates the posterior).
//! - **UKI**, unscented Kalman inversion (Huang, Schneider & Stuart 2022): a Gaussian
//!   `N(m, C)` whose 2p+1 sigma points are run; prediction `m^ = a m + (1-a) r`,
//!   `C^ = a^2 C + (2-a^2) C` (every iteration; or the prior's covariance), analysis with the
//!   observation noise `2 Gamma / dt`. With the prior added to the observations (the
//!   default for UKI) the mean and covariance converge, for a linear model, to the Bayesian
//!   posterior's.
//!
//! Parameters live in an unconstrained space `u`, mapped to the `[0, 1]` scalings by a
//! [`Transform`] (probit: the prior `N(0, 1)` is then the uniform prior on the scalings).
//! The observations are a vector `y` with covariance `Gamma` ([`Observations`]); the forward
//! model is whatever the caller runs (in clmtune: the PCs of each calibration variable of a
//! CLM run on the EOF stage's modes). A failed member (a row of NaN) is tolerated as EKP
//! does: the update uses the successful members (EKI draws the failed ones again from the
//! updated ensemble's Gaussian; UKI uses a lost sigma point's mirror alone), and refuses
//! when fewer than `min_success` of the members succeeded or UKI's central point failed.
//!
//! Plain Rust: no script types. The whole record serialises ([`Kalman::save`],
//! [`Kalman::load`]) so that a finished iteration is never run again.

use crate::array::csv::{fmt_number, write_records};
use anyhow::{bail, Context, Result};
use nalgebra::{DMatrix, DVector};
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// The two ensemble Kalman methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Ensemble Kalman inversion with perturbed observations.
    Eki,
    /// Unscented Kalman inversion (2p+1 sigma points).
    #[default]
    Uki,
}

impl Method {
    /// The name in options and files (`eki`, `uki`).
    pub fn name(self) -> &'static str {
        match self {
            Method::Eki => "eki",
            Method::Uki => "uki",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Method, String> {
        match s {
            "eki" => Ok(Method::Eki),
            "uki" => Ok(Method::Uki),
            _ => Err(format!(
                "unknown Kalman method '{}': use eki or uki",
                crate::format::printable(s)
            )),
        }
    }
}

/// How the unconstrained parameters map onto the `[0, 1]` scalings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    /// The standard normal CDF: the prior `N(0, 1)` is uniform on the scalings.
    #[default]
    Probit,
    /// The logistic function.
    Logit,
}

impl Transform {
    /// The scaling of an unconstrained value (in `[0, 1]`).
    pub fn to_scaling(self, u: f64) -> f64 {
        match self {
            Transform::Probit => normal_cdf(u),
            Transform::Logit => 1.0 / (1.0 + (-u).exp()),
        }
    }

    /// The unconstrained value of a scaling (`±inf` at 0 and 1).
    pub fn to_unconstrained(self, x: f64) -> f64 {
        match self {
            Transform::Probit => normal_quantile(x),
            Transform::Logit => (x / (1.0 - x)).ln(),
        }
    }

    /// The name in options and files.
    pub fn name(self) -> &'static str {
        match self {
            Transform::Probit => "probit",
            Transform::Logit => "logit",
        }
    }
}

/// The standard normal CDF, from the C library's `erfc` (accurate in both tails).
pub fn normal_cdf(u: f64) -> f64 {
    0.5 * libm::erfc(-u / std::f64::consts::SQRT_2)
}

/// The standard normal quantile: Acklam's rational approximation refined by one Halley step
/// on [`normal_cdf`] (relative error near machine precision); NaN outside `[0, 1]`.
pub fn normal_quantile(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // one Halley step: e = Phi(x) - p, u = e sqrt(2 pi) exp(x^2 / 2)
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// The observation vector and its noise covariance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observations {
    /// One name per output (e.g. `GPP_1`: variable and mode).
    pub names: Vec<String>,
    /// The observed values.
    pub y: Vec<f64>,
    /// The noise covariance, row-major (outputs x outputs).
    pub gamma: Vec<f64>,
    /// How the covariance was made (e.g. `diag(sigma^2)`), for the record.
    pub covariance: String,
}

impl Observations {
    /// Independent noise: `Gamma = diag(sd^2)`.
    pub fn diagonal(names: Vec<String>, y: Vec<f64>, sd: &[f64]) -> Result<Observations> {
        let n = y.len();
        if sd.len() != n {
            bail!("{} observations but {} standard deviations", n, sd.len());
        }
        let mut gamma = vec![0.0; n * n];
        for (i, s) in sd.iter().enumerate() {
            gamma[i * n + i] = s * s;
        }
        Observations::full(names, y, gamma, "diag(sigma^2)")
    }

    /// A full covariance (row-major), checked symmetric positive definite.
    pub fn full(
        names: Vec<String>,
        y: Vec<f64>,
        gamma: Vec<f64>,
        covariance: &str,
    ) -> Result<Observations> {
        let n = y.len();
        if n == 0 {
            bail!("no observations");
        }
        if names.len() != n {
            bail!("{} observations but {} names", n, names.len());
        }
        if gamma.len() != n * n {
            bail!(
                "the observation covariance has {} values, not {n} x {n}",
                gamma.len()
            );
        }
        for (i, v) in y.iter().enumerate() {
            if !v.is_finite() {
                bail!(
                    "observation {} is {v}: every observation must be finite",
                    names[i]
                );
            }
        }
        let o = Observations {
            names,
            y,
            gamma,
            covariance: covariance.to_string(),
        };
        let g = o.gamma_matrix();
        for i in 0..n {
            for j in 0..i {
                let (a, b) = (g[(i, j)], g[(j, i)]);
                if (a - b).abs() > 1e-10 * (a.abs() + b.abs()).max(f64::MIN_POSITIVE) {
                    bail!(
                        "the observation covariance is not symmetric: ({}, {}) = {a}, ({}, {}) = {b}",
                        o.names[i],
                        o.names[j],
                        o.names[j],
                        o.names[i]
                    );
                }
            }
            if !(g[(i, i)] > 0.0 && g[(i, i)].is_finite()) {
                bail!(
                    "the observation variance of {} is {}: it must be positive and finite",
                    o.names[i],
                    g[(i, i)]
                );
            }
        }
        if g.clone().cholesky().is_none() {
            bail!("the observation covariance is not positive definite");
        }
        Ok(o)
    }

    /// A covariance estimated from samples of the observations (e.g. each observed year's
    /// projections, years x outputs): the leading `rank` directions of the sample covariance
    /// (by SVD) plus the diagonal of the rest, so that it stays positive definite with fewer
    /// samples than outputs (SVD-plus-diagonal).
    pub fn from_samples(
        names: Vec<String>,
        y: Vec<f64>,
        samples: ArrayView2<f64>,
        rank: usize,
    ) -> Result<Observations> {
        let (k, n) = samples.dim();
        if n != y.len() {
            bail!("samples have {n} outputs, the observations {}", y.len());
        }
        if k < 2 {
            bail!("{k} samples: at least 2 are needed to estimate a covariance");
        }
        if samples.iter().any(|v| !v.is_finite()) {
            bail!("the samples of the observations hold NaN or infinite values");
        }
        let mean = samples.mean_axis(ndarray::Axis(0)).unwrap_or_default();
        let a = DMatrix::from_fn(k, n, |i, j| {
            (samples[(i, j)] - mean[j]) / ((k - 1) as f64).sqrt()
        });
        let full = a.transpose() * &a;
        let svd = a.svd(false, true);
        let vt = svd.v_t.context("SVD of the samples")?;
        let r = rank.min(svd.singular_values.len());
        let mut low = DMatrix::zeros(n, n);
        for i in 0..r {
            let s2 = svd.singular_values[i].powi(2);
            let v = vt.row(i).transpose();
            low += &v * v.transpose() * s2;
        }
        let mut gamma = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                gamma[i * n + j] = low[(i, j)];
            }
            // the rest of the variance on the diagonal; never below a millionth of the whole
            let rest = (full[(i, i)] - low[(i, i)]).max(1e-6 * full[(i, i)]);
            gamma[i * n + i] += rest.max(f64::MIN_POSITIVE);
        }
        Observations::full(
            names,
            y,
            gamma,
            &format!("SVD rank {r} of {k} samples plus the diagonal of the rest"),
        )
    }

    /// Number of outputs.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no outputs (never, once checked).
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    fn gamma_matrix(&self) -> DMatrix<f64> {
        let n = self.y.len();
        DMatrix::from_row_slice(n, n, &self.gamma)
    }
}

/// How the step `dt` is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// The data-misfit controller (Iglesias & Yang 2021), EKI only: ends at `sum dt = 1`.
    Dmc,
    /// The same `dt` every iteration.
    Fixed,
}

/// Settings, checked once ([`Settings::check`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// EKI or UKI (UKI).
    pub method: Method,
    /// EKI's ensemble size (20); UKI always runs 2p+1 (0 or 2p+1 accepted).
    pub members: usize,
    /// The most iterations (10).
    pub iterations: usize,
    /// Stop when the misfit changes by less than this fraction between iterations (0.001;
    /// 0: never).
    pub tolerance: f64,
    /// The step rule (EKI: the data-misfit controller; UKI: fixed).
    pub schedule: Option<Schedule>,
    /// The fixed step (1).
    pub dt: f64,
    /// Probit or logit (probit).
    pub transform: Transform,
    /// Whether the prior joins the observations (UKI: yes; EKI: no, its first ensemble is
    /// drawn from the prior).
    pub prior: Option<bool>,
    /// UKI's regularisation `a` in (0, 1] (1: none).
    pub alpha: f64,
    /// UKI: the evolution covariance from the current covariance every this many iterations
    /// (1); 0: from the prior's.
    pub update_freq: usize,
    /// The least fraction of members that must succeed (0.5).
    pub min_success: f64,
    /// Seed of EKI's draws (the first ensemble, the perturbations, failed members).
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            method: Method::Uki,
            members: 0,
            iterations: 10,
            tolerance: 1e-3,
            schedule: None,
            dt: 1.0,
            transform: Transform::Probit,
            prior: None,
            alpha: 1.0,
            update_freq: 1,
            min_success: 0.5,
            seed: 0,
        }
    }
}

impl Settings {
    /// Checks the settings for `p` parameters and fills what depends on the method (members,
    /// schedule, prior).
    pub fn check(mut self, p: usize) -> Result<Settings> {
        if p == 0 {
            bail!("Kalman calibration needs at least one parameter");
        }
        match self.method {
            Method::Uki => {
                if self.members != 0 && self.members != 2 * p + 1 {
                    bail!(
                        "UKI runs 2p+1 = {} members for {p} parameters, not {} (leave members out)",
                        2 * p + 1,
                        self.members
                    );
                }
                self.members = 2 * p + 1;
                if self.schedule == Some(Schedule::Dmc) {
                    bail!("the data-misfit controller (schedule dmc) is for EKI; UKI takes a fixed dt");
                }
                self.schedule = Some(Schedule::Fixed);
                self.prior.get_or_insert(true);
            }
            Method::Eki => {
                if self.members == 0 {
                    self.members = 20;
                }
                if self.members < 3 {
                    bail!("EKI needs at least 3 members, not {}", self.members);
                }
                self.schedule.get_or_insert(Schedule::Dmc);
                self.prior.get_or_insert(false);
            }
        }
        if self.members > 100_000 {
            bail!("{} members: at most 100,000", self.members);
        }
        if self.iterations == 0 || self.iterations > 1000 {
            bail!("iterations must be 1 to 1000, not {}", self.iterations);
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            bail!("tolerance must be a number >= 0, not {}", self.tolerance);
        }
        if !(self.dt > 0.0 && self.dt.is_finite()) {
            bail!("dt must be a positive number, not {}", self.dt);
        }
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            bail!("alpha must be in (0, 1], not {}", self.alpha);
        }
        if !(self.min_success > 0.0 && self.min_success <= 1.0) {
            bail!("min_success must be in (0, 1], not {}", self.min_success);
        }
        Ok(self)
    }
}

/// One finished iteration: the members run, what they gave, and the state after the update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Iteration {
    /// 1, 2, ...
    pub index: usize,
    /// The members' unconstrained parameters, row-major (members x parameters).
    pub u: Vec<f64>,
    /// Their outputs, row-major (members x outputs), NaN for a failed member.
    #[serde(deserialize_with = "crate::settings::floats_or_null")]
    pub g: Vec<f64>,
    /// The failed members (0-based).
    pub failed: Vec<usize>,
    /// The step used.
    pub dt: f64,
    /// The data misfit `(y - g)' Gamma^-1 (y - g)` of the members' mean output (UKI: the
    /// central point's).
    pub misfit: f64,
    /// The lowest data misfit of one member.
    pub min_misfit: f64,
    /// The mean after the update (unconstrained).
    pub mean: Vec<f64>,
    /// The covariance after the update (unconstrained, row-major).
    pub cov: Vec<f64>,
    /// What happened to failed members, if any.
    pub note: Option<String>,
}

/// The running state between iterations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum State {
    /// EKI: the ensemble to run next (members x parameters, row-major).
    Eki { u: Vec<f64> },
    /// UKI: the Gaussian after the last update.
    Uki { mean: Vec<f64>, cov: Vec<f64> },
}

/// An ensemble Kalman calibration: settings, observations, every finished iteration and the
/// state the next one starts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kalman {
    /// The calibrated parameters.
    pub parameters: Vec<String>,
    /// The observations.
    pub observations: Observations,
    /// The checked settings.
    pub settings: Settings,
    /// The prior in the unconstrained space: mean and standard deviation per parameter.
    pub prior_mean: Vec<f64>,
    /// The prior's standard deviations.
    pub prior_sd: Vec<f64>,
    /// The finished iterations.
    pub iterations: Vec<Iteration>,
    state: State,
}

/// The estimate after the last update, per parameter in scalings (the transform of the
/// unconstrained mean, the median of the fitted Gaussian) with its 5-95 % range.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Scalings of the unconstrained mean.
    pub scaling: Vec<f64>,
    /// 5th percentile of each marginal, as scalings.
    pub p05: Vec<f64>,
    /// 95th percentile.
    pub p95: Vec<f64>,
    /// The unconstrained mean.
    pub mean: Vec<f64>,
    /// The unconstrained standard deviation.
    pub sd: Vec<f64>,
}

/// What an EKI update gives: the next ensemble (row-major), the updated mean and covariance
/// of the members that succeeded, and what happened to the failed ones.
struct EkiStep {
    u: Vec<f64>,
    mean: Vec<f64>,
    cov: Vec<f64>,
    note: Option<String>,
}

/// z of the 95th percentile of a standard normal.
const Z95: f64 = 1.644_853_626_951_472_2;

impl Kalman {
    /// A calibration of `parameters` against `observations`, with the prior `N(0, 1)` per
    /// parameter in the unconstrained space (uniform scalings under probit). EKI draws its
    /// first ensemble from the prior here (seeded).
    pub fn new(
        parameters: Vec<String>,
        observations: Observations,
        settings: Settings,
    ) -> Result<Kalman> {
        let p = parameters.len();
        let settings = settings.check(p)?;
        let prior_mean = vec![0.0; p];
        let prior_sd = vec![1.0; p];
        let state = match settings.method {
            Method::Eki => {
                let mut rng = rng(settings.seed, 0);
                let n = settings.members;
                let mut u = vec![0.0; n * p];
                for (k, v) in u.iter_mut().enumerate() {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    *v = prior_mean[k % p] + prior_sd[k % p] * z;
                }
                State::Eki { u }
            }
            Method::Uki => {
                let mut cov = vec![0.0; p * p];
                for i in 0..p {
                    cov[i * p + i] = prior_sd[i] * prior_sd[i];
                }
                State::Uki {
                    mean: prior_mean.clone(),
                    cov,
                }
            }
        };
        Ok(Kalman {
            parameters,
            observations,
            settings,
            prior_mean,
            prior_sd,
            iterations: Vec::new(),
            state,
        })
    }

    /// Number of parameters.
    pub fn dim(&self) -> usize {
        self.parameters.len()
    }

    /// The unconstrained parameters of the next iteration's members (members x parameters):
    /// EKI's ensemble, or UKI's sigma points of the predicted Gaussian (the first is its mean).
    pub fn members(&self) -> Result<Array2<f64>> {
        let p = self.dim();
        match &self.state {
            State::Eki { u } => Ok(Array2::from_shape_vec((u.len() / p, p), u.clone())?),
            State::Uki { .. } => {
                let (m, c) = self.uki_prediction();
                sigma_points(&m, &c)
            }
        }
    }

    /// The next iteration's members as scalings in `[0, 1]` (what the model runs).
    pub fn design(&self) -> Result<Array2<f64>> {
        let t = self.settings.transform;
        Ok(self.members()?.mapv(|u| t.to_scaling(u)))
    }

    /// UKI's prediction step: `m^ = a m + (1-a) r`, `C^ = a^2 C + Sigma_omega`.
    fn uki_prediction(&self) -> (DVector<f64>, DMatrix<f64>) {
        let p = self.dim();
        let State::Uki { mean, cov } = &self.state else {
            unreachable!("UKI state")
        };
        let a = self.settings.alpha;
        let m = DVector::from_column_slice(mean);
        let c = DMatrix::from_row_slice(p, p, cov);
        let r = DVector::from_column_slice(&self.prior_mean);
        let c0 = DMatrix::from_diagonal(&DVector::from_iterator(
            p,
            self.prior_sd.iter().map(|s| s * s),
        ));
        // Sigma_omega = (2 - a^2) C_(r-1), r the last multiple of update_freq up to this
        // iteration k (EKP's refresh), C_0 the prior's covariance
        let k = self.iterations.len() + 1;
        let f = self.settings.update_freq;
        let refresh = if f > 0 { f * (k / f) } else { 0 };
        let base = if refresh >= 2 {
            DMatrix::from_row_slice(p, p, &self.iterations[refresh - 2].cov)
        } else {
            c0
        };
        let omega = &base * (2.0 - a * a);
        (&m * a + r * (1.0 - a), &c * (a * a) + omega)
    }

    /// The observations the update compares with: the data, then (if the prior joins them)
    /// the prior mean; and their covariance.
    fn augmented(&self) -> (DVector<f64>, DMatrix<f64>) {
        let n = self.observations.len();
        let p = self.dim();
        let with_prior = self.settings.prior == Some(true);
        let len = n + if with_prior { p } else { 0 };
        let mut y = DVector::zeros(len);
        let mut g = DMatrix::zeros(len, len);
        let gm = self.observations.gamma_matrix();
        for i in 0..n {
            y[i] = self.observations.y[i];
            for j in 0..n {
                g[(i, j)] = gm[(i, j)];
            }
        }
        if with_prior {
            for i in 0..p {
                y[n + i] = self.prior_mean[i];
                g[(n + i, n + i)] = self.prior_sd[i] * self.prior_sd[i];
            }
        }
        (y, g)
    }

    /// The data misfit `(y - g)' Gamma^-1 (y - g)` of one output vector.
    pub fn misfit(&self, g: &[f64]) -> f64 {
        self.misfits(&[g])[0]
    }

    /// The data misfits of many output vectors (one factorisation of Gamma for all).
    pub fn misfits(&self, gs: &[&[f64]]) -> Vec<f64> {
        let n = self.observations.len();
        let Some(ch) = self.observations.gamma_matrix().cholesky() else {
            return vec![f64::NAN; gs.len()];
        };
        gs.iter()
            .map(|g| {
                let d = DVector::from_iterator(n, (0..n).map(|i| self.observations.y[i] - g[i]));
                d.dot(&ch.solve(&d))
            })
            .collect()
    }

    /// Updates with the outputs of the members [`Kalman::members`] gave (members x outputs;
    /// a row with a NaN or infinite value is a failed member) and records the iteration.
    pub fn update(&mut self, g: ArrayView2<f64>) -> Result<&Iteration> {
        self.update_cases(g, None)
    }

    /// [`Kalman::update`] with the members' case names, which the errors and notes about
    /// failed members then give beside their numbers ("2 = kalman_i3_002").
    pub fn update_cases(
        &mut self,
        g: ArrayView2<f64>,
        cases: Option<&[String]>,
    ) -> Result<&Iteration> {
        let p = self.dim();
        let n = self.observations.len();
        let u = self.members()?;
        let j = u.nrows();
        if g.dim() != (j, n) {
            bail!(
                "Kalman iteration {}: outputs of {} members x {} values, expected {j} x {n} ({})",
                self.iterations.len() + 1,
                g.nrows(),
                g.ncols(),
                self.observations.names.join(", ")
            );
        }
        if let Some(c) = cases.filter(|c| c.len() != j) {
            bail!(
                "Kalman iteration {}: {} case names for {j} members",
                self.iterations.len() + 1,
                c.len()
            );
        }
        let failed: Vec<usize> = (0..j)
            .filter(|&i| g.row(i).iter().any(|v| !v.is_finite()))
            .collect();
        let failed_text = members_text(&failed, cases);
        let ok: Vec<usize> = (0..j).filter(|i| !failed.contains(i)).collect();
        let k = self.iterations.len() + 1;
        let need = ((self.settings.min_success * j as f64).ceil() as usize).max(2);
        if ok.len() < need {
            bail!(
                "Kalman iteration {k}: {} of {j} members succeeded, fewer than the {need} needed \
                 (min_success {}); failed: {}",
                ok.len(),
                self.settings.min_success,
                failed_text
            );
        }
        let rows: Vec<Vec<f64>> = ok.iter().map(|&i| g.row(i).to_vec()).collect();
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        let misfits = self.misfits(&refs);
        let min_misfit = misfits.iter().copied().fold(f64::INFINITY, f64::min);
        let (y, gamma) = self.augmented();
        // augmented outputs: the data, then (with the prior) the parameters themselves
        let out = |i: usize| -> DVector<f64> {
            let mut v = DVector::zeros(y.len());
            for a in 0..n {
                v[a] = g[(i, a)];
            }
            for a in n..y.len() {
                v[a] = u[(i, a - n)];
            }
            v
        };
        let (dt, misfit, mean, cov, state, note) = match self.settings.method {
            Method::Eki => {
                let dt = match self.settings.schedule {
                    Some(Schedule::Dmc) => {
                        let spent: f64 = self.iterations.iter().map(|it| it.dt).sum();
                        let outs: Vec<DVector<f64>> = ok.iter().map(|&i| out(i)).collect();
                        dmc_step(&outs, &y, &gamma, 1.0 - spent)?
                    }
                    _ => self.settings.dt,
                };
                let gbar = mean_of(&ok, |i| g.row(i).to_vec(), n);
                let misfit = self.misfit(&gbar);
                let EkiStep {
                    u: new_u,
                    mean,
                    cov,
                    note,
                } = self
                    .eki_update(&u, &ok, (&failed, &failed_text), out, &y, &gamma, dt, k)
                    .with_context(|| format!("Kalman iteration {k}"))?;
                (dt, misfit, mean, cov, State::Eki { u: new_u }, note)
            }
            Method::Uki => {
                if failed.contains(&0) {
                    bail!(
                        "Kalman iteration {k}: the central member (member {}, the current estimate) \
                         failed: UKI cannot go on without it",
                        members_text(&[0], cases)
                    );
                }
                let dt = self.settings.dt;
                let misfit = self.misfit(&g.row(0).to_vec());
                let (mean, cov, note) = self
                    .uki_update(&u, (&failed, &failed_text), out, &y, &gamma, dt)
                    .with_context(|| format!("Kalman iteration {k}"))?;
                (
                    dt,
                    misfit,
                    mean.clone(),
                    cov.clone(),
                    State::Uki { mean, cov },
                    note,
                )
            }
        };
        if mean.iter().chain(&cov).any(|v| !v.is_finite()) {
            bail!(
                "Kalman iteration {k}: the update gave a mean or covariance that is not finite \
                 (outputs of {} too large?); nothing was changed",
                self.observations.names.join(", ")
            );
        }
        self.state = state;
        self.iterations.push(Iteration {
            index: k,
            u: u.iter().copied().collect(),
            g: g.iter()
                .copied()
                .map(|v| if v.is_finite() { v } else { f64::NAN })
                .collect(),
            failed,
            dt,
            misfit,
            min_misfit,
            mean,
            cov,
            note,
        });
        let _ = p;
        Ok(self.iterations.last().expect("just pushed"))
    }

    #[allow(clippy::too_many_arguments)]
    fn eki_update(
        &self,
        u: &Array2<f64>,
        ok: &[usize],
        (failed, failed_text): (&[usize], &str),
        out: impl Fn(usize) -> DVector<f64>,
        y: &DVector<f64>,
        gamma: &DMatrix<f64>,
        dt: f64,
        k: usize,
    ) -> Result<EkiStep> {
        let p = self.dim();
        let m = y.len();
        let nok = ok.len() as f64;
        let ubar = DVector::from_iterator(
            p,
            (0..p).map(|a| ok.iter().map(|&i| u[(i, a)]).sum::<f64>() / nok),
        );
        let outs: Vec<DVector<f64>> = ok.iter().map(|&i| out(i)).collect();
        let gbar = outs.iter().fold(DVector::zeros(m), |s, v| s + v) / nok;
        let mut cug = DMatrix::zeros(p, m);
        let mut cgg = DMatrix::zeros(m, m);
        for (idx, &i) in ok.iter().enumerate() {
            let du = DVector::from_iterator(p, (0..p).map(|a| u[(i, a)] - ubar[a]));
            let dg = &outs[idx] - &gbar;
            cug += &du * dg.transpose();
            cgg += &dg * dg.transpose();
        }
        cug /= nok - 1.0;
        cgg /= nok - 1.0;
        let noise = gamma / dt;
        let s = &cgg + &noise;
        let ch = s
            .clone()
            .cholesky()
            .context("the covariance of the outputs plus the noise is not positive definite")?;
        let lchol = noise
            .clone()
            .cholesky()
            .context("the observation covariance is not positive definite")?
            .l();
        let mut rng = rng(self.settings.seed, k as u64);
        let mut new_u = Array2::<f64>::zeros(u.dim());
        for (idx, &i) in ok.iter().enumerate() {
            let z = DVector::from_iterator(m, (0..m).map(|_| StandardNormal.sample(&mut rng)));
            let innov = y + &lchol * z - &outs[idx];
            let step = &cug * ch.solve(&innov);
            for a in 0..p {
                new_u[(i, a)] = u[(i, a)] + step[a];
            }
        }
        // mean and covariance of the updated successful members
        let mean: Vec<f64> = (0..p)
            .map(|a| ok.iter().map(|&i| new_u[(i, a)]).sum::<f64>() / nok)
            .collect();
        let mut cov = vec![0.0; p * p];
        for &i in ok {
            for a in 0..p {
                for b in 0..p {
                    cov[a * p + b] += (new_u[(i, a)] - mean[a]) * (new_u[(i, b)] - mean[b]);
                }
            }
        }
        for c in &mut cov {
            *c /= nok - 1.0;
        }
        let mut note = None;
        if !failed.is_empty() {
            // failed members drawn again from the updated Gaussian (EKP's SampleSuccGauss)
            let mut c = DMatrix::from_row_slice(p, p, &cov);
            c += DMatrix::identity(p, p) * (1e-12 * c.trace().max(1e-300));
            let l = c
                .cholesky()
                .context("the updated covariance is not positive definite")?
                .l();
            for &i in failed {
                let z = DVector::from_iterator(p, (0..p).map(|_| StandardNormal.sample(&mut rng)));
                let d = &l * z;
                for a in 0..p {
                    new_u[(i, a)] = mean[a] + d[a];
                }
            }
            note = Some(format!(
                "{} failed ({}): the update used the {} that succeeded; the failed drawn again \
                 from their updated Gaussian",
                failed.len(),
                failed_text,
                ok.len()
            ));
        }
        Ok(EkiStep {
            u: new_u.iter().copied().collect(),
            mean,
            cov,
            note,
        })
    }

    fn uki_update(
        &self,
        u: &Array2<f64>,
        (failed, failed_text): (&[usize], &str),
        out: impl Fn(usize) -> DVector<f64>,
        y: &DVector<f64>,
        gamma: &DMatrix<f64>,
        dt: f64,
    ) -> Result<(Vec<f64>, Vec<f64>, Option<String>)> {
        let p = self.dim();
        let m = y.len();
        let (mhat, chat) = self.uki_prediction();
        let w = unscented_weight(p);
        let g0 = out(0);
        let mut cug = DMatrix::zeros(p, m);
        let mut cgg = DMatrix::zeros(m, m);
        let mut lost = Vec::new();
        for i in 1..=2 * p {
            if failed.contains(&i) {
                continue;
            }
            let mirror = if i <= p { i + p } else { i - p };
            // a lost mirror: this point alone stands for its direction
            let wi = if failed.contains(&mirror) {
                if i < mirror {
                    lost.push(mirror);
                } else {
                    lost.push(i);
                }
                2.0 * w
            } else {
                w
            };
            let du = DVector::from_iterator(p, (0..p).map(|a| u[(i, a)] - mhat[a]));
            let dg = out(i) - &g0;
            cug += &du * dg.transpose() * wi;
            cgg += &dg * dg.transpose() * wi;
        }
        let s = cgg + gamma * (2.0 / dt);
        let ch = s
            .cholesky()
            .context("the covariance of the outputs plus the noise is not positive definite")?;
        // K = C_ug S^-1: solve S K' = C_ug'
        let kt = ch.solve(&cug.transpose());
        let mean = &mhat + kt.transpose() * (y - &g0);
        let mut cov = &chat - kt.transpose() * cug.transpose();
        // symmetric to rounding
        cov = (&cov + cov.transpose()) * 0.5;
        let note = if failed.is_empty() {
            None
        } else {
            Some(format!(
                "{} failed ({}): each direction used its mirror member alone{}",
                failed.len(),
                failed_text,
                if lost.len() < failed.len() {
                    "; a direction whose two members failed was not updated"
                } else {
                    ""
                }
            ))
        };
        let flat = |x: &DMatrix<f64>| -> Vec<f64> {
            (0..p)
                .flat_map(|a| (0..p).map(move |b| (a, b)))
                .map(|(a, b)| x[(a, b)])
                .collect()
        };
        Ok((mean.iter().copied().collect(), flat(&cov), note))
    }

    /// Why no further iteration should run, if so: the budget of iterations, the data-misfit
    /// controller's end (EKI), or a misfit that changed by less than the tolerance.
    pub fn stop_reason(&self) -> Option<String> {
        let n = self.iterations.len();
        if n >= self.settings.iterations {
            return Some(format!("{n} iterations, the budget"));
        }
        if self.settings.schedule == Some(Schedule::Dmc) {
            let spent: f64 = self.iterations.iter().map(|i| i.dt).sum();
            if spent >= 1.0 - 1e-12 {
                return Some(format!(
                    "the data-misfit controller's steps add up to 1 after {n} iterations (the \
                     ensemble approximates the posterior)"
                ));
            }
        }
        if n >= 2 && self.settings.tolerance > 0.0 {
            let (a, b) = (self.iterations[n - 2].misfit, self.iterations[n - 1].misfit);
            if (a - b).abs() <= self.settings.tolerance * a.abs() {
                return Some(format!(
                    "the misfit changed by less than {} ({} -> {}) at iteration {n}",
                    self.settings.tolerance,
                    fmt_g(a),
                    fmt_g(b)
                ));
            }
        }
        None
    }

    /// The estimate after the last update (before any, the prior).
    pub fn estimate(&self) -> Estimate {
        let p = self.dim();
        let (mean, cov) = match self.iterations.last() {
            Some(it) => (it.mean.clone(), it.cov.clone()),
            None => {
                let mut c = vec![0.0; p * p];
                for i in 0..p {
                    c[i * p + i] = self.prior_sd[i].powi(2);
                }
                (self.prior_mean.clone(), c)
            }
        };
        let t = self.settings.transform;
        let sd: Vec<f64> = (0..p).map(|i| cov[i * p + i].max(0.0).sqrt()).collect();
        Estimate {
            scaling: mean.iter().map(|&m| t.to_scaling(m)).collect(),
            p05: (0..p)
                .map(|i| t.to_scaling(mean[i] - Z95 * sd[i]))
                .collect(),
            p95: (0..p)
                .map(|i| t.to_scaling(mean[i] + Z95 * sd[i]))
                .collect(),
            mean,
            sd,
        }
    }

    /// The columns of `iterations.csv`: iteration, members, failed, dt, misfit, min_misfit,
    /// then per parameter its estimate and 5-95 % range after the update (`P`, `P_p05`,
    /// `P_p95`, scalings).
    pub fn iteration_columns(&self) -> Vec<String> {
        let mut c: Vec<String> = [
            "iteration",
            "members",
            "failed",
            "dt",
            "misfit",
            "min_misfit",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for p in &self.parameters {
            c.push(p.clone());
            c.push(format!("{p}_p05"));
            c.push(format!("{p}_p95"));
        }
        c
    }

    /// The rows of `iterations.csv`, as text.
    pub fn iteration_rows(&self) -> Vec<Vec<String>> {
        let p = self.dim();
        let t = self.settings.transform;
        self.iterations
            .iter()
            .map(|it| {
                let mut r = vec![
                    it.index.to_string(),
                    (it.u.len() / p).to_string(),
                    it.failed.len().to_string(),
                    fmt_number(it.dt),
                    fmt_number(it.misfit),
                    fmt_number(it.min_misfit),
                ];
                for a in 0..p {
                    let sd = it.cov[a * p + a].max(0.0).sqrt();
                    r.push(fmt_number(t.to_scaling(it.mean[a])));
                    r.push(fmt_number(t.to_scaling(it.mean[a] - Z95 * sd)));
                    r.push(fmt_number(t.to_scaling(it.mean[a] + Z95 * sd)));
                }
                r
            })
            .collect()
    }

    /// Every member run, with its scalings and outputs (`members.csv`): iteration, member
    /// (1-based), failed (0/1), the scalings, the outputs (empty when failed), the misfit.
    pub fn member_rows(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let p = self.dim();
        let n = self.observations.len();
        let t = self.settings.transform;
        let mut cols: Vec<String> = vec!["iteration".into(), "member".into(), "failed".into()];
        cols.extend(self.parameters.iter().cloned());
        cols.extend(self.observations.names.iter().cloned());
        cols.push("misfit".into());
        let mut rows = Vec::new();
        for it in &self.iterations {
            let members = it.u.len() / p;
            let gs: Vec<&[f64]> = (0..members).map(|j| &it.g[j * n..(j + 1) * n]).collect();
            let misfits = self.misfits(&gs);
            for (j, misfit) in misfits.iter().enumerate() {
                let bad = it.failed.contains(&j);
                let mut r = vec![
                    it.index.to_string(),
                    (j + 1).to_string(),
                    u8::from(bad).to_string(),
                ];
                r.extend((0..p).map(|a| fmt_number(t.to_scaling(it.u[j * p + a]))));
                let g = &it.g[j * n..(j + 1) * n];
                r.extend(g.iter().map(|&v| fmt_number(v)));
                r.push(if bad {
                    String::new()
                } else {
                    fmt_number(*misfit)
                });
                rows.push(r);
            }
        }
        (cols, rows)
    }

    /// Every successful member run so far, for training an emulator: their scalings
    /// (runs x parameters) and outputs (runs x observations), in iteration and member order.
    pub fn runs(&self) -> (Array2<f64>, Array2<f64>) {
        let p = self.dim();
        let n = self.observations.len();
        let t = self.settings.transform;
        let (mut x, mut g) = (Vec::new(), Vec::new());
        let mut rows = 0;
        for it in &self.iterations {
            for j in 0..it.u.len() / p {
                if it.failed.contains(&j) {
                    continue;
                }
                x.extend(it.u[j * p..(j + 1) * p].iter().map(|&u| t.to_scaling(u)));
                g.extend_from_slice(&it.g[j * n..(j + 1) * n]);
                rows += 1;
            }
        }
        (
            Array2::from_shape_vec((rows, p), x).expect("rows x parameters"),
            Array2::from_shape_vec((rows, n), g).expect("rows x outputs"),
        )
    }

    /// Writes `DIR/kalman.json` (the whole record, read back by [`Kalman::load`]),
    /// `iterations.csv`, `members.csv` and `estimate.csv`, each atomically, all or nothing.
    pub fn save(&self, dir: &Path) -> Result<()> {
        crate::files::all_or_nothing(|| {
            crate::files::create_dir(dir)?;
            let (cols, rows) = self.member_rows();
            write_records(&dir.join("members.csv"), &cols, rows)?;
            let e = self.estimate();
            let est = self.parameters.iter().enumerate().map(|(i, p)| {
                vec![
                    p.clone(),
                    fmt_number(e.scaling[i]),
                    fmt_number(e.p05[i]),
                    fmt_number(e.p95[i]),
                    fmt_number(e.mean[i]),
                    fmt_number(e.sd[i]),
                ]
            });
            write_records(
                &dir.join("estimate.csv"),
                &["parameter", "scaling", "p05", "p95", "u_mean", "u_sd"],
                est,
            )?;
            write_records(
                &dir.join("iterations.csv"),
                &self.iteration_columns(),
                self.iteration_rows(),
            )?;
            if !self.iterations.is_empty() {
                self.plot(&dir.join("kalman.png"))?;
            }
            crate::files::write_json(&dir.join("kalman.json"), self)
        })
    }

    /// The figure of the iterations: one panel per parameter (the estimate and its 5-95 %
    /// range after each iteration's update, scalings), then the data misfit of each
    /// iteration's runs.
    pub fn plot(&self, path: &Path) -> Result<()> {
        use crate::plot::{Options, Panel};
        let p = self.dim();
        let t = self.settings.transform;
        let x: Vec<f64> = self.iterations.iter().map(|i| i.index as f64).collect();
        let mut panels = Vec::new();
        for (a, name) in self.parameters.iter().enumerate() {
            let col = |z: f64| -> Vec<f64> {
                self.iterations
                    .iter()
                    .map(|it| {
                        let sd = it.cov[a * p + a].max(0.0).sqrt();
                        t.to_scaling(it.mean[a] + z * sd)
                    })
                    .collect()
            };
            panels.push((
                Panel::Lines {
                    x: x.clone(),
                    series: vec![
                        (String::new(), col(0.0)),
                        (String::new(), col(-Z95)),
                        (String::new(), col(Z95)),
                    ],
                },
                Options {
                    title: name.clone(),
                    xlabel: "iteration".into(),
                    ylabel: "scaling".into(),
                    vmin: Some(0.0),
                    vmax: Some(1.0),
                    ..Options::default()
                },
            ));
        }
        // the misfit falls by orders of magnitude (65 to 0.85 in the demo's UKI): log10 when
        // it spans more than a factor of 100, as the cost profiles do, so the last
        // iterations can be read
        let misfit: Vec<f64> = self.iterations.iter().map(|i| i.misfit).collect();
        let best: Vec<f64> = self.iterations.iter().map(|i| i.min_misfit).collect();
        let finite = || {
            misfit
                .iter()
                .chain(&best)
                .copied()
                .filter(|v| v.is_finite())
        };
        let lo = finite().fold(f64::INFINITY, f64::min);
        let hi = finite().fold(f64::NEG_INFINITY, f64::max);
        let log = lo > 0.0 && hi / lo > 100.0;
        let tr = |v: &Vec<f64>| -> Vec<f64> {
            v.iter().map(|&m| if log { m.log10() } else { m }).collect()
        };
        panels.push((
            Panel::Lines {
                x: x.clone(),
                series: vec![
                    ("misfit".into(), tr(&misfit)),
                    ("best member".into(), tr(&best)),
                ],
            },
            Options {
                title: "data misfit of the runs".into(),
                xlabel: "iteration".into(),
                ylabel: if log {
                    "log10 (y - g)' Gamma^-1 (y - g)".into()
                } else {
                    "(y - g)' Gamma^-1 (y - g)".into()
                },
                ..Options::default()
            },
        ));
        let cols = 3.min(panels.len());
        let rows = panels.len().div_ceil(cols) as u32;
        let opts = Options {
            title: format!(
                "{} calibration, {} members per iteration: estimate (blue) and 5-95 % range",
                self.settings.method.name().to_uppercase(),
                self.settings.members
            ),
            width: 420 * cols as u32,
            height: 320 * rows + 40,
            ..Options::default()
        };
        crate::plot::save(
            path,
            &opts,
            |a| crate::plot::draw_panels(a, &panels, cols, &opts),
            |a| crate::plot::draw_panels(a, &panels, cols, &opts),
        )?;
        Ok(())
    }

    /// Reads `DIR/kalman.json` back; `None` when there is none (nothing finished yet).
    pub fn load(dir: &Path) -> Result<Option<Kalman>> {
        let path = dir.join("kalman.json");
        if !path.exists() {
            return Ok(None);
        }
        let k: Kalman = crate::files::read_own_json(&path, "Kalman record")?;
        let p = k.parameters.len();
        let n = k.observations.len();
        for it in &k.iterations {
            if p == 0 || it.u.len() % p != 0 || it.g.len() != (it.u.len() / p) * n {
                bail!(
                    "{}: iteration {} has {} parameter values and {} outputs for {p} parameters \
                     and {n} observations",
                    path.display(),
                    it.index,
                    it.u.len(),
                    it.g.len()
                );
            }
        }
        Ok(Some(k))
    }

    /// Whether a record read back was made by the same calibration (parameters,
    /// observations, settings): a resumed run must not mix two.
    pub fn same_problem(&self, other: &Kalman) -> Result<()> {
        if self.parameters != other.parameters {
            bail!(
                "the saved calibration is of {}, this one of {}",
                self.parameters.join(", "),
                other.parameters.join(", ")
            );
        }
        if self.observations != other.observations {
            bail!("the saved calibration compared with other observations (or their covariance)");
        }
        if self.settings != other.settings {
            bail!(
                "the saved calibration had other settings: {} (now {})",
                serde_json::to_string(&self.settings).unwrap_or_default(),
                serde_json::to_string(&other.settings).unwrap_or_default()
            );
        }
        Ok(())
    }
}

impl fmt::Display for Kalman {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let s = &self.settings;
        write!(
            f,
            "Kalman({}, {} parameters, {} observations, {} members per iteration, {} of at most {} iterations done; {} transform, Gamma = {}, prior {})",
            s.method.name(),
            self.dim(),
            self.observations.len(),
            s.members,
            self.iterations.len(),
            s.iterations,
            s.transform.name(),
            self.observations.covariance,
            if s.prior == Some(true) {
                "joined to the observations"
            } else {
                "as the first ensemble"
            }
        )
    }
}

/// The data-misfit controller's step (Iglesias & Yang 2021): with
/// `Phi_j = |Gamma^-1/2 (g_j - y)|^2 / 2` and `M` outputs,
/// `dt = min(max(M / (2 mean Phi), sqrt(M / (2 var Phi))), rest)`.
fn dmc_step(
    outs: &[DVector<f64>],
    y: &DVector<f64>,
    gamma: &DMatrix<f64>,
    rest: f64,
) -> Result<f64> {
    let ch = gamma
        .clone()
        .cholesky()
        .context("the observation covariance is not positive definite")?;
    let phi: Vec<f64> = outs
        .iter()
        .map(|g| {
            let d = g - y;
            0.5 * d.dot(&ch.solve(&d))
        })
        .collect();
    let m = y.len() as f64;
    let n = phi.len() as f64;
    let mean = phi.iter().sum::<f64>() / n;
    let var = phi.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let q = (m / (2.0 * mean)).max((m / (2.0 * var)).sqrt());
    let q = if q.is_finite() { q } else { rest };
    Ok(q.min(rest).max(f64::MIN_POSITIVE))
}

/// The weight of each non-central sigma point (the modified unscented transform of EKP with
/// `kappa = 0`: `a = min(sqrt(4 / p), 1)`, `lambda = a^2 p - p`, weight `1 / (2 (p + lambda))`).
fn unscented_weight(p: usize) -> f64 {
    let n = p as f64;
    let a = (4.0 / n).sqrt().min(1.0);
    let lambda = a * a * n - n;
    1.0 / (2.0 * (n + lambda))
}

/// The 2p+1 sigma points of `N(m, C)`: `m`, then `m + c L_i`, then `m - c L_i` (`L` the
/// Cholesky factor, `c = sqrt(p + lambda)`).
fn sigma_points(m: &DVector<f64>, c: &DMatrix<f64>) -> Result<Array2<f64>> {
    let p = m.len();
    let l = c
        .clone()
        .cholesky()
        .context("the UKI covariance is not positive definite")?
        .l();
    let n = p as f64;
    let a = (4.0 / n).sqrt().min(1.0);
    let scale = (a * a * n).sqrt();
    let mut x = Array2::zeros((2 * p + 1, p));
    for a in 0..p {
        x[(0, a)] = m[a];
    }
    for i in 0..p {
        for a in 0..p {
            x[(1 + i, a)] = m[a] + scale * l[(a, i)];
            x[(1 + p + i, a)] = m[a] - scale * l[(a, i)];
        }
    }
    Ok(x)
}

fn mean_of(rows: &[usize], row: impl Fn(usize) -> Vec<f64>, n: usize) -> Vec<f64> {
    let mut s = vec![0.0; n];
    for &i in rows {
        for (a, v) in row(i).into_iter().enumerate() {
            s[a] += v;
        }
    }
    s.iter().map(|v| v / rows.len() as f64).collect()
}

/// Member numbers (1-based) as text: `3, 7, 12`.
/// Members by number from 1, with their case names when known ("2 = kalman_i3_002"); past
/// ten, the first ten and how many more.
fn members_text(idx: &[usize], cases: Option<&[String]>) -> String {
    let one = |&i: &usize| match cases.and_then(|c| c.get(i)) {
        Some(c) => format!("{} = {c}", i + 1),
        None => (i + 1).to_string(),
    };
    let mut text = idx.iter().take(10).map(one).collect::<Vec<_>>().join(", ");
    if idx.len() > 10 {
        text.push_str(&format!(" and {} more", idx.len() - 10));
    }
    text
}

fn fmt_g(x: f64) -> String {
    format!("{x:.4e}")
}

/// The generator of iteration `k`'s draws: one stream per iteration of the seed.
fn rng(seed: u64, k: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(k);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;

    /// A linear forward model `g = A u` with `p` parameters and `n` outputs (fixed numbers).
    fn linear(p: usize, n: usize) -> (Array2<f64>, Vec<f64>, Vec<f64>) {
        let a = Array2::from_shape_fn((n, p), |(i, j)| {
            ((i * 7 + j * 3) as f64 * 0.37).sin() + if i % p == j { 1.0 } else { 0.0 }
        });
        let y: Vec<f64> = (0..n).map(|i| 0.3 * (i as f64 * 1.3).cos()).collect();
        let sd: Vec<f64> = (0..n).map(|i| 0.2 + 0.05 * i as f64).collect();
        (a, y, sd)
    }

    fn names(n: usize, stem: &str) -> Vec<String> {
        (0..n).map(|i| format!("{stem}{}", i + 1)).collect()
    }

    /// The Bayesian posterior of `y = A u + e`, `e ~ N(0, diag(sd^2))`, `u ~ N(0, I)`, by
    /// the normal equations: `C = (A' G^-1 A + I)^-1`, `m = C A' G^-1 y`.
    fn posterior(a: &Array2<f64>, y: &[f64], sd: &[f64]) -> (DVector<f64>, DMatrix<f64>) {
        let (n, p) = a.dim();
        let am = DMatrix::from_fn(n, p, |i, j| a[(i, j)]);
        let gi =
            DMatrix::from_diagonal(&DVector::from_iterator(n, sd.iter().map(|s| 1.0 / (s * s))));
        let prec = am.transpose() * &gi * &am + DMatrix::identity(p, p);
        let c = prec.try_inverse().unwrap();
        let m = &c * am.transpose() * gi * DVector::from_column_slice(y);
        (m, c)
    }

    fn run(k: &mut Kalman, f: impl Fn(&[f64]) -> Vec<f64>) {
        while k.stop_reason().is_none() {
            let u = k.members().unwrap();
            let n = k.observations.len();
            let mut g = Array2::zeros((u.nrows(), n));
            for (i, r) in u.outer_iter().enumerate() {
                for (a, v) in f(&r.to_vec()).into_iter().enumerate() {
                    g[(i, a)] = v;
                }
            }
            k.update(g.view()).unwrap();
        }
    }

    fn apply(a: &Array2<f64>, u: &[f64]) -> Vec<f64> {
        a.dot(&Array1::from(u.to_vec())).to_vec()
    }

    #[test]
    fn the_normal_quantile_inverts_the_cdf_and_matches_python() {
        // Python 3.11 statistics.NormalDist().inv_cdf / cdf (Wichura AS241; erfc)
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-13);
        assert!((normal_quantile(1e-10) + 6.361_340_902_404_056).abs() < 1e-11);
        assert!((normal_quantile(0.5)).abs() < 1e-15);
        assert!((normal_cdf(-3.0) - 0.001_349_898_031_630_094_6).abs() < 1e-17);
        for &x in &[1e-300, 1e-12, 0.01, 0.3, 0.77, 0.999, 1.0 - 1e-12] {
            let u = normal_quantile(x);
            assert!((normal_cdf(u) - x).abs() <= 1e-14 * x.max(1e-3), "{x}");
        }
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
        assert!(normal_quantile(1.5).is_nan() && normal_quantile(f64::NAN).is_nan());
        for t in [Transform::Probit, Transform::Logit] {
            assert!((t.to_scaling(t.to_unconstrained(0.23)) - 0.23).abs() < 1e-14);
        }
    }

    #[test]
    fn uki_on_a_linear_problem_converges_to_the_kalman_posterior() {
        let (a, y, sd) = linear(3, 5);
        let obs = Observations::diagonal(names(5, "y"), y.clone(), &sd).unwrap();
        let s = Settings {
            iterations: 60,
            tolerance: 0.0,
            ..Settings::default()
        };
        let mut k = Kalman::new(names(3, "p"), obs, s).unwrap();
        assert_eq!(k.members().unwrap().nrows(), 7);
        run(&mut k, |u| apply(&a, u));
        let (m, c) = posterior(&a, &y, &sd);
        let last = k.iterations.last().unwrap();
        for i in 0..3 {
            assert!(
                (last.mean[i] - m[i]).abs() < 1e-8,
                "mean {i}: {} vs {}",
                last.mean[i],
                m[i]
            );
            for j in 0..3 {
                assert!(
                    (last.cov[i * 3 + j] - c[(i, j)]).abs() < 1e-8,
                    "cov {i} {j}"
                );
            }
        }
        // the misfit is the data misfit at the central point (the last estimate)
        let g = apply(&a, &k.iterations[59].u[0..3]);
        assert!((last.misfit - k.misfit(&g)).abs() < 1e-12);
    }

    #[test]
    fn uki_without_the_prior_converges_to_least_squares() {
        // more outputs than parameters, full rank: m = (A'G^-1A)^-1 A'G^-1 y, C = (A'G^-1A)^-1
        let (a, y, sd) = linear(2, 6);
        let obs = Observations::diagonal(names(6, "y"), y.clone(), &sd).unwrap();
        let s = Settings {
            iterations: 60,
            tolerance: 0.0,
            prior: Some(false),
            ..Settings::default()
        };
        let mut k = Kalman::new(names(2, "p"), obs, s).unwrap();
        run(&mut k, |u| apply(&a, u));
        let am = DMatrix::from_fn(6, 2, |i, j| a[(i, j)]);
        let gi =
            DMatrix::from_diagonal(&DVector::from_iterator(6, sd.iter().map(|s| 1.0 / (s * s))));
        let c = (am.transpose() * &gi * &am).try_inverse().unwrap();
        let m = &c * am.transpose() * gi * DVector::from_column_slice(&y);
        let last = k.iterations.last().unwrap();
        for i in 0..2 {
            assert!((last.mean[i] - m[i]).abs() < 1e-8);
            for j in 0..2 {
                assert!((last.cov[i * 2 + j] - c[(i, j)]).abs() < 1e-8);
            }
        }
    }

    #[test]
    fn eki_on_a_linear_problem_ends_near_the_posterior_within_sampling_error() {
        let (a, y, sd) = linear(3, 5);
        let (m, c) = posterior(&a, &y, &sd);
        for schedule in [Schedule::Fixed, Schedule::Dmc] {
            let obs = Observations::diagonal(names(5, "y"), y.clone(), &sd).unwrap();
            let j = 4000;
            let s = Settings {
                method: Method::Eki,
                members: j,
                iterations: if schedule == Schedule::Fixed { 1 } else { 50 },
                tolerance: 0.0,
                schedule: Some(schedule),
                seed: 11,
                ..Settings::default()
            };
            let mut k = Kalman::new(names(3, "p"), obs, s).unwrap();
            run(&mut k, |u| apply(&a, u));
            if schedule == Schedule::Dmc {
                let total: f64 = k.iterations.iter().map(|i| i.dt).sum();
                assert!((total - 1.0).abs() < 1e-12, "steps add up to {total}");
                assert!(k.iterations.len() > 1);
                assert!(k.stop_reason().unwrap().contains("add up to 1"));
            }
            let last = k.iterations.last().unwrap();
            for i in 0..3 {
                // the standard error of a mean of j draws from the posterior, 5 of them
                let se = (c[(i, i)] / j as f64).sqrt();
                assert!(
                    (last.mean[i] - m[i]).abs() < 5.0 * se,
                    "{schedule:?} mean {i}: {} vs {} (se {se})",
                    last.mean[i],
                    m[i]
                );
                let v = last.cov[i * 3 + i];
                assert!(
                    (v / c[(i, i)] - 1.0).abs() < 0.1,
                    "{schedule:?} var {i}: {v} vs {}",
                    c[(i, i)]
                );
            }
        }
    }

    #[test]
    fn uki_finds_the_minimiser_of_a_nonlinear_toy() {
        // g(u) = (u1 + u2^3 / 3, sin u1 + u2, u1 u2 + u1): y = g(u*) exactly, tiny noise
        let f = |u: &[f64]| {
            vec![
                u[0] + u[1].powi(3) / 3.0,
                u[0].sin() + u[1],
                u[0] * u[1] + u[0],
            ]
        };
        let truth = [0.6, -0.4];
        let y = f(&truth);
        let obs = Observations::diagonal(names(3, "y"), y, &[1e-3; 3]).unwrap();
        let s = Settings {
            iterations: 30,
            tolerance: 0.0,
            ..Settings::default()
        };
        let mut k = Kalman::new(names(2, "p"), obs, s).unwrap();
        run(&mut k, f);
        let e = k.estimate();
        for (i, t) in truth.iter().enumerate() {
            assert!((e.mean[i] - t).abs() < 1e-4, "{i}: {} vs {t}", e.mean[i]);
            assert!(e.sd[i] < 0.01 && e.sd[i] > 0.0);
        }
        assert!(k.iterations.last().unwrap().misfit < 1e-3);
        // scalings of the probit transform
        assert!((e.scaling[0] - normal_cdf(e.mean[0])).abs() < 1e-15);
        assert!(e.p05[0] < e.scaling[0] && e.scaling[0] < e.p95[0]);
    }

    #[test]
    fn failed_members_are_tolerated_as_said_or_refused() {
        let (a, y, sd) = linear(3, 5);
        let obs = Observations::diagonal(names(5, "y"), y.clone(), &sd).unwrap();
        let eki = Settings {
            method: Method::Eki,
            members: 10,
            seed: 3,
            ..Settings::default()
        };
        let mut k = Kalman::new(names(3, "p"), obs.clone(), eki).unwrap();
        let u = k.members().unwrap();
        let mut g = Array2::zeros((10, 5));
        for i in 0..10 {
            g.row_mut(i)
                .assign(&Array1::from(apply(&a, &u.row(i).to_vec())));
        }
        g[(2, 1)] = f64::NAN;
        g[(7, 0)] = f64::INFINITY;
        let it = k.update(g.view()).unwrap().clone();
        assert_eq!(it.failed, vec![2, 7]);
        assert!(
            it.note.as_ref().unwrap().contains("2 failed (3, 8)"),
            "{:?}",
            it.note
        );
        assert!(it.g[11].is_nan() && it.g[35].is_nan(), "stored as NaN");
        let next = k.members().unwrap();
        assert!(next.iter().all(|v| v.is_finite()));
        // outputs so large the update overflows: refused, nothing changed
        let huge = Array2::from_shape_fn((10, 5), |(i, o)| 1e300 * (i as f64 + o as f64 + 1.0));
        let mut k2 = k.clone();
        let e = format!("{:#}", k2.update(huge.view()).unwrap_err());
        assert!(e.starts_with("Kalman iteration 2: "), "{e}");
        // (compared as JSON: the failed members' NaN outputs are never equal to themselves)
        let json = |k: &Kalman| serde_json::to_string(k).unwrap();
        assert_eq!(json(&k2), json(&k), "a refused update changes nothing");
        // too few succeeded
        let mut bad = Array2::from_elem((10, 5), f64::NAN);
        bad.row_mut(0).fill(0.0);
        bad.row_mut(1).fill(0.0);
        let e = k.update(bad.view()).unwrap_err().to_string();
        assert!(
            e.contains("2 of 10 members succeeded, fewer than the 5 needed"),
            "{e}"
        );
        assert!(e.ends_with("failed: 3, 4, 5, 6, 7, 8, 9, 10"), "{e}");
        // with the case names: the failed ones named, past ten cut short
        let cases: Vec<String> = (1..=10).map(|m| format!("eki_i2_{m:03}")).collect();
        let e = k
            .update_cases(bad.view(), Some(&cases))
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("failed: 3 = eki_i2_003, 4 = eki_i2_004, 5 = eki_i2_005, 6 = eki_i2_006, 7 = eki_i2_007, 8 = eki_i2_008, 9 = eki_i2_009, 10 = eki_i2_010"),
            "{e}"
        );
        let many: Vec<usize> = (0..13).collect();
        assert_eq!(
            members_text(&many, None),
            "1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 3 more"
        );
        let e = k
            .update_cases(bad.view(), Some(&cases[..9]))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "Kalman iteration 2: 9 case names for 10 members");
        assert_eq!(k.iterations.len(), 1, "a refused update changes nothing");

        let mut k = Kalman::new(names(3, "p"), obs.clone(), Settings::default()).unwrap();
        let u = k.members().unwrap();
        let mut g = Array2::zeros((7, 5));
        for i in 0..7 {
            g.row_mut(i)
                .assign(&Array1::from(apply(&a, &u.row(i).to_vec())));
        }
        let mut central = g.clone();
        central[(0, 0)] = f64::NAN;
        let e = k.update(central.view()).unwrap_err().to_string();
        assert!(e.contains("central member"), "{e}");
        // one sigma point lost: for a linear model its mirror alone gives the same update
        let full = {
            let mut k2 = k.clone();
            k2.update(g.view()).unwrap().clone()
        };
        g[(2, 3)] = f64::NAN;
        let it = k.update(g.view()).unwrap();
        assert!(it.note.as_ref().unwrap().contains("mirror"));
        for i in 0..3 {
            assert!((it.mean[i] - full.mean[i]).abs() < 1e-12);
        }
        for i in 0..9 {
            assert!((it.cov[i] - full.cov[i]).abs() < 1e-12);
        }
    }

    #[test]
    fn a_saved_calibration_reads_back_and_goes_on_as_if_never_stopped() {
        let (a, y, sd) = linear(3, 5);
        let obs = Observations::diagonal(names(5, "y"), y, &sd).unwrap();
        let s = Settings {
            method: Method::Eki,
            members: 8,
            iterations: 4,
            tolerance: 0.0,
            schedule: Some(Schedule::Fixed),
            dt: 0.5,
            seed: 5,
            ..Settings::default()
        };
        let mut whole = Kalman::new(names(3, "p"), obs.clone(), s.clone()).unwrap();
        run(&mut whole, |u| apply(&a, u));
        let dir = tempfile::tempdir().unwrap();
        let mut k = Kalman::new(names(3, "p"), obs.clone(), s.clone()).unwrap();
        for _ in 0..2 {
            let u = k.members().unwrap();
            let g = Array2::from_shape_fn((8, 5), |(i, o)| apply(&a, &u.row(i).to_vec())[o]);
            k.update(g.view()).unwrap();
        }
        k.save(dir.path()).unwrap();
        let mut back = Kalman::load(dir.path()).unwrap().unwrap();
        assert_eq!(back, k);
        back.same_problem(&Kalman::new(names(3, "p"), obs.clone(), s.clone()).unwrap())
            .unwrap();
        run(&mut back, |u| apply(&a, u));
        assert_eq!(back.iteration_rows(), whole.iteration_rows());
        let other = Settings { seed: 6, ..s };
        let e = back
            .same_problem(&Kalman::new(names(3, "p"), obs, other).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("other settings"), "{e}");
        let text = std::fs::read_to_string(dir.path().join("iterations.csv")).unwrap();
        assert!(text.starts_with("iteration,members,failed,dt,misfit,min_misfit,p1,p1_p05,p1_p95,"));
        assert_eq!(text.lines().count(), 3);
        // the misfit panel: linear while the misfits span less than 100, then log10
        let misfit_axis = |k: &Kalman| {
            let png = dir.path().join("misfit.png");
            k.plot(&png).unwrap();
            let texts = crate::plot::png_text(&png).unwrap();
            texts
                .into_iter()
                .find(|(key, t)| key == "Panel" && t.contains("data misfit"))
                .map(|(_, t)| t)
                .unwrap()
        };
        let mut k = back.clone();
        k.iterations[0].misfit = 65.0;
        k.iterations[0].min_misfit = 54.0;
        for (i, it) in k.iterations.iter_mut().enumerate().skip(1) {
            (it.misfit, it.min_misfit) = (2.0 / i as f64, 1.0 / i as f64);
        }
        let t = misfit_axis(&k);
        assert!(t.ends_with(": y log10 (y - g)' Gamma^-1 (y - g)"), "{t}");
        k.iterations[0].misfit = 9.0;
        k.iterations[0].min_misfit = 8.0;
        let t = misfit_axis(&k);
        assert!(t.ends_with(": y (y - g)' Gamma^-1 (y - g)"), "{t}");
    }

    #[test]
    fn bad_settings_and_observations_are_refused_in_words() {
        let e = |r: Result<Settings>| r.unwrap_err().to_string();
        let s = Settings {
            members: 5,
            ..Settings::default()
        };
        assert!(e(s.check(3)).contains("2p+1 = 7"));
        let s = Settings {
            schedule: Some(Schedule::Dmc),
            ..Settings::default()
        };
        assert!(e(s.check(3)).contains("for EKI"));
        let s = Settings {
            alpha: 0.0,
            ..Settings::default()
        };
        assert!(e(s.check(3)).contains("alpha"));
        let s = Settings {
            method: Method::Eki,
            members: 2,
            ..Settings::default()
        };
        assert!(e(s.check(3)).contains("at least 3"));
        let o = Observations::diagonal(names(2, "y"), vec![1.0, f64::NAN], &[1.0, 1.0]);
        assert!(o.unwrap_err().to_string().contains("observation y2 is NaN"));
        let o = Observations::diagonal(names(2, "y"), vec![1.0, 2.0], &[1.0, 0.0]);
        assert!(o.unwrap_err().to_string().contains("variance of y2 is 0"));
        let o = Observations::full(names(2, "y"), vec![1.0, 2.0], vec![1.0, 2.0, 2.0, 1.0], "x");
        assert!(o.unwrap_err().to_string().contains("not positive definite"));
        let o = Observations::full(names(2, "y"), vec![1.0, 2.0], vec![1.0, 0.5, 0.2, 1.0], "x");
        assert!(o.unwrap_err().to_string().contains("not symmetric"));
        assert!("ekf".parse::<Method>().unwrap_err().contains("eki or uki"));
    }

    #[test]
    fn a_covariance_from_few_samples_is_the_leading_directions_plus_the_rest_on_the_diagonal() {
        // 4 samples of 3 outputs; rank 3 (all): the sample covariance itself
        let s = ndarray::arr2(&[
            [1.0, 2.0, 0.5],
            [0.0, 1.0, 0.7],
            [2.0, 2.5, 0.1],
            [1.0, 0.5, 0.9],
        ]);
        let o = Observations::from_samples(names(3, "y"), vec![0.0; 3], s.view(), 3).unwrap();
        // numpy 1.24: np.cov(s, rowvar=False); the diagonal keeps a millionth more (the floor)
        let want = [
            0.666_666_666_666_666_6,
            0.5,
            -0.2,
            0.5,
            0.833_333_333_333_333_3,
            -0.3,
            -0.2,
            -0.3,
            0.116_666_666_666_666_67,
        ];
        for (a, b) in o.gamma.iter().zip(want) {
            assert!((a - b).abs() < 1.01e-6 * b.abs() + 1e-12, "{a} vs {b}");
        }
        // rank 1: the diagonal stays the sample variances
        let o = Observations::from_samples(names(3, "y"), vec![0.0; 3], s.view(), 1).unwrap();
        for i in 0..3 {
            assert!((o.gamma[i * 4] - want[i * 4]).abs() < 1e-12 * want[i * 4] + 1e-15);
        }
    }
}
