//! Posterior sampling by MCMC: the affine-invariant ensemble sampler of Goodman & Weare
//! (2010) with emcee's stretch move, emcee's integrated autocorrelation time, and a summary
//! of the posterior (`calibrate/posterior.csv`).
//!
//! The posterior is `density(x) * prior(x)` with a uniform prior on the unit box `[0, 1]^d`
//! (the parameter scalings). A proposal outside the box has log-posterior `-inf` and is
//! rejected *without* calling the density, so a density never sees a point outside the box.
//!
//! Each step moves the walkers in two halves (a random split every step, as emcee's default
//! `randomize_split`): all proposals of a half go to [`LogDensity::log_prob`] as **one
//! batch**, so that an emulator predicts them together. Every random number is drawn on the
//! calling thread from one ChaCha8 stream seeded with [`McmcSettings::seed`]; the chain depends
//! only on the seed and the density's values, not on the number of rayon threads.

use super::LogDensity;
use anyhow::{bail, Result};
use ndarray::{Array1, Array2, ArrayView2, ArrayView3};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use std::path::Path;

/// Settings of the ensemble sampler.
#[derive(Debug, Clone, PartialEq)]
pub struct McmcSettings {
    /// Number of walkers: even and at least twice the number of parameters.
    pub walkers: usize,
    /// Steps every walker takes, burn-in included.
    pub steps: usize,
    /// Leading steps discarded as burn-in (emcee's `discard`); must be below `steps`.
    pub burn: usize,
    /// Keep every `thin`-th step after the burn-in (emcee's `thin`, >= 1). The kept steps
    /// are those emcee's `get_chain(discard=burn, thin=thin)` returns:
    /// `burn + thin - 1, burn + 2 thin - 1, ...`.
    pub thin: usize,
    /// Seed of the random stream (the starting walkers, the moves and the acceptances).
    pub seed: u64,
    /// Scale `a` of the stretch move (> 1; emcee's and Goodman & Weare's default 2).
    pub a: f64,
    /// Fraction of the steps that use the differential-evolution move instead of the
    /// stretch move (0..=1; 0.8 by default, 0 for emcee's stretch move alone): see [`sample`].
    pub de: f64,
}

impl Default for McmcSettings {
    /// 64 walkers, 5000 steps of which 1000 are burn-in, no thinning, seed 0, `a = 2`,
    /// 80 % differential-evolution steps.
    fn default() -> McmcSettings {
        McmcSettings {
            walkers: 64,
            steps: 5000,
            burn: 1000,
            thin: 1,
            seed: 0,
            a: 2.0,
            de: DE_FRACTION,
        }
    }
}

/// The default fraction of differential-evolution steps (emcee's documented mixture for
/// hard posteriors is 80 % `DEMove` with 20 % another move).
pub const DE_FRACTION: f64 = 0.8;

/// Checks the fraction of differential-evolution steps.
fn check_de(de: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&de) {
        bail!("mcmc: de = {de} must be a fraction in [0, 1] (of the steps that use the differential-evolution move)");
    }
    Ok(())
}

/// Most chain values (kept steps x walkers x parameters) held in memory: 4 GB of f64.
const MAX_CHAIN_VALUES: usize = 500_000_000;

impl McmcSettings {
    /// Checks the settings for a posterior over `dim` parameters; errors say which setting
    /// is wrong and why.
    pub fn check(&self, dim: usize) -> Result<()> {
        if dim == 0 {
            bail!("mcmc: the density has no parameters");
        }
        if !self.walkers.is_multiple_of(2) || self.walkers < 2 * dim {
            bail!(
                "mcmc: walkers = {} must be even and at least 2 x {dim} parameters = {}",
                self.walkers,
                2 * dim
            );
        }
        if self.thin == 0 {
            bail!("mcmc: thin = 0 must be at least 1");
        }
        if self.burn >= self.steps {
            bail!(
                "mcmc: burn = {} must be below steps = {}",
                self.burn,
                self.steps
            );
        }
        if self.kept_steps() == 0 {
            bail!(
                "mcmc: steps = {} with burn = {} and thin = {} keeps no step",
                self.steps,
                self.burn,
                self.thin
            );
        }
        if !(self.a > 1.0 && self.a.is_finite()) {
            bail!("mcmc: a = {} must be a finite number above 1", self.a);
        }
        check_de(self.de)?;
        let values = self
            .kept_steps()
            .checked_mul(self.walkers)
            .and_then(|v| v.checked_mul(dim));
        match values {
            Some(v) if v <= MAX_CHAIN_VALUES => Ok(()),
            _ => bail!(
                "mcmc: {} kept steps x {} walkers x {dim} parameters is more than {} values \
                 to hold; raise thin or lower steps",
                self.kept_steps(),
                self.walkers,
                MAX_CHAIN_VALUES
            ),
        }
    }

    /// Number of steps kept in the chain: `(steps - burn) / thin`, rounded down.
    pub fn kept_steps(&self) -> usize {
        if self.thin == 0 {
            return 0;
        }
        self.steps.saturating_sub(self.burn) / self.thin
    }
}

/// Where the walkers start.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// Uniformly in the unit box.
    Uniform,
    /// Around `center` (inside the unit box): each coordinate `center + radius * N(0, 1)`,
    /// drawn again while it falls outside `[0, 1]`.
    Ball {
        /// Centre of the ball, one value per parameter.
        center: Vec<f64>,
        /// Standard deviation of the normal offsets (> 0).
        radius: f64,
    },
    /// Given positions (walkers x parameters), inside the unit box.
    Walkers(Array2<f64>),
}

/// A sampled chain: the kept steps of every walker, their log-densities, and the
/// acceptance counts.
#[derive(Debug, Clone)]
pub struct Chain {
    dim: usize,
    walkers: usize,
    thin: usize,
    burn: usize,
    /// Kept steps x walkers x parameters, row-major in one allocation.
    samples: Vec<f64>,
    /// Kept steps x walkers.
    log_probs: Array2<f64>,
    accepted: Vec<u64>,
    steps_taken: usize,
    last: Array2<f64>,
    last_log_probs: Array1<f64>,
    /// How a run to convergence ended ([`sample_until_converged`]); None for a fixed run.
    convergence: Option<Convergence>,
}

/// Number of kept steps x walkers x parameters as a `Vec` of zeros, or an error when the
/// memory cannot be had.
fn zeros(n: usize) -> Result<Vec<f64>> {
    let mut v = Vec::new();
    if v.try_reserve_exact(n).is_err() {
        bail!(
            "mcmc: not enough memory for a chain of {n} values ({} MB); raise thin or lower steps",
            n / 125_000
        );
    }
    v.resize(n, 0.0);
    Ok(v)
}

/// Formats a point for error messages: `(0.1, 0.25)`.
fn point(x: &[f64]) -> String {
    let parts: Vec<String> = x.iter().map(|v| format!("{v}")).collect();
    format!("({})", parts.join(", "))
}

/// Whether every coordinate lies in `[0, 1]`.
fn inside(x: &[f64]) -> bool {
    x.iter().all(|v| (0.0..=1.0).contains(v))
}

/// Checks that the centred walkers span every direction (like emcee's
/// `walkers_independent`): columns scaled to unit norm, modified Gram-Schmidt, and a column
/// whose remainder is below 1e-8 is (nearly) a combination of the others. A stretch move
/// never leaves the affine hull of the starting walkers.
fn check_independent(x: ArrayView2<f64>) -> Result<()> {
    let mut c = x.to_owned();
    let mean = c.mean_axis(ndarray::Axis(0)).unwrap_or_default();
    c -= &mean;
    let dim = c.ncols();
    for j in 0..dim {
        let norm = c.column(j).dot(&c.column(j)).sqrt();
        if norm == 0.0 || !norm.is_finite() {
            bail!("mcmc: every starting walker has the same value of parameter {j}; a stretch move can never change it");
        }
        c.column_mut(j).mapv_inplace(|v| v / norm);
    }
    for j in 0..dim {
        for k in 0..j {
            let p = c.column(j).dot(&c.column(k));
            let ck = c.column(k).to_owned();
            c.column_mut(j).scaled_add(-p, &ck);
        }
        let r = c.column(j).dot(&c.column(j)).sqrt();
        if r < 1e-8 {
            bail!("mcmc: the starting walkers lie in a lower-dimensional subspace (parameter {j} is a combination of the others); the sampler could never leave it");
        }
        c.column_mut(j).mapv_inplace(|v| v / r);
    }
    Ok(())
}

/// Draws or checks the starting walkers (walkers x dim).
fn start_walkers(
    start: &Start,
    walkers: usize,
    dim: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Array2<f64>> {
    match start {
        Start::Uniform => Ok(Array2::from_shape_fn((walkers, dim), |_| rng.gen::<f64>())),
        Start::Ball { center, radius } => {
            if center.len() != dim {
                bail!(
                    "mcmc: the start ball's center has {} values, the density takes {dim} parameters",
                    center.len()
                );
            }
            if !inside(center) {
                bail!(
                    "mcmc: the start ball's center {} is outside the unit box [0, 1]^{dim}",
                    point(center)
                );
            }
            if !(*radius > 0.0 && radius.is_finite()) {
                bail!("mcmc: the start ball's radius = {radius} must be a finite number above 0");
            }
            let mut out = Array2::zeros((walkers, dim));
            for w in 0..walkers {
                for (j, &c) in center.iter().enumerate() {
                    let mut tries = 0;
                    out[[w, j]] = loop {
                        let z: f64 = rng.sample(StandardNormal);
                        let v = c + radius * z;
                        if (0.0..=1.0).contains(&v) {
                            break v;
                        }
                        tries += 1;
                        if tries == 10_000 {
                            bail!(
                                "mcmc: no draw of the start ball fell inside [0, 1] in 10000 tries"
                            );
                        }
                    };
                }
            }
            Ok(out)
        }
        Start::Walkers(x) => {
            if x.dim() != (walkers, dim) {
                bail!(
                    "mcmc: the starting walkers are {} x {}, the settings ask for {walkers} walkers of {dim} parameters",
                    x.nrows(),
                    x.ncols()
                );
            }
            for (w, row) in x.rows().into_iter().enumerate() {
                let r = row.to_vec();
                if !inside(&r) {
                    bail!(
                        "mcmc: starting walker {w} {} is outside the unit box [0, 1]^{dim}",
                        point(&r)
                    );
                }
            }
            Ok(x.clone())
        }
    }
}

/// Calls the density on a batch and checks its answer: one value per row, no NaN, no +inf.
fn evaluate<D: LogDensity + ?Sized>(density: &D, x: ArrayView2<f64>) -> Result<Array1<f64>> {
    let lp = density.log_prob(x)?;
    if lp.len() != x.nrows() {
        bail!(
            "mcmc: the log-density returned {} values for {} points",
            lp.len(),
            x.nrows()
        );
    }
    if let Some(i) = lp.iter().position(|v| v.is_nan() || *v == f64::INFINITY) {
        bail!(
            "mcmc: the log-density is {} at {}",
            lp[i],
            point(&x.row(i).to_vec())
        );
    }
    Ok(lp)
}

/// Samples the posterior `density x uniform prior on [0, 1]^d` with an affine-invariant
/// ensemble sampler: emcee's `StretchMove` (Goodman & Weare 2010) and `DEMove`
/// (differential evolution, ter Braak 2006; Nelson et al. 2014) mixed as emcee's
/// documentation suggests for posteriors the stretch move mixes slowly on.
///
/// Every step splits the walkers at random into two halves and draws which move the step
/// uses (differential evolution with probability [`McmcSettings::de`]). Stretch: each walker
/// `k` of a half proposes `y = c - (c - x_k) z` with `c` a random walker of the other half
/// and `z = ((a - 1) u + 1)^2 / a` (`u` uniform), accepted with probability
/// `min(1, z^(d-1) p(y) / p(x_k))`. Differential evolution: `y = x_k + g (x_a - x_b)` with
/// `a != b` random walkers of the other half and `g = 2.38 / sqrt(2 d) (1 + 1e-5 N(0, 1))`,
/// accepted with probability `min(1, p(y) / p(x_k))`. Measured on the Gaussian-process
/// likelihood of the bench (`mcmc_converge_gp`, 6 parameters, three of them hardly
/// constrained): the stretch move alone needs 14,389 steps (tau_max 248) to converge, 80 %
/// differential evolution 3,792 (tau_max 65). The proposals of a half are evaluated as one batch;
/// proposals outside the box are rejected without being evaluated. The starting walkers
/// must have finite log-density and span all `d` directions. The density must not return
/// NaN or `+inf` (an error naming the point); `-inf` rejects a proposal.
///
/// Costs of the sampler itself: no allocation per step except the density's answer; the
/// chain (kept steps x walkers x parameters) is allocated once.
pub fn sample<D: LogDensity + ?Sized>(
    density: &D,
    start: &Start,
    settings: &McmcSettings,
) -> Result<Chain> {
    let dim = density.dim();
    settings.check(dim)?;
    let nw = settings.walkers;
    let kept = settings.kept_steps();
    let mut st = Stepper::new(density, start, nw, (settings.a, settings.de), settings.seed)?;
    let mut samples = zeros(kept * nw * dim)?;
    let mut log_probs = Array2::zeros((kept, nw));
    let pb = crate::progress::bar(settings.steps as u64, "mcmc steps");

    for step in 0..settings.steps {
        st.step(density)?;
        if step >= settings.burn && (step + 1 - settings.burn).is_multiple_of(settings.thin) {
            let t = (step + 1 - settings.burn) / settings.thin - 1;
            if t < kept {
                samples[t * nw * dim..(t + 1) * nw * dim].copy_from_slice(&st.pos);
                log_probs.row_mut(t).assign(&ndarray::aview1(&st.lp));
            }
        }
        if step % 100 == 99 {
            pb.inc(100);
        }
    }
    pb.finish_and_clear();
    Ok(st.into_chain(samples, log_probs, settings.burn, settings.thin, None))
}

/// The sampler between steps: the walkers' positions and log-densities, the acceptance
/// counts, the random stream and the per-half work space (allocated once). [`sample`] and
/// [`sample_until_converged`] both step through it, so that a seed gives the same walk in
/// both.
struct Stepper {
    dim: usize,
    nw: usize,
    a: f64,
    /// Probability that a step uses the differential-evolution move.
    de: f64,
    rng: ChaCha8Rng,
    /// Walkers x parameters, row-major.
    pos: Vec<f64>,
    lp: Vec<f64>,
    accepted: Vec<u64>,
    steps: usize,
    order: Vec<usize>,
    /// The proposals inside the box of a half, packed as the batch given to the density.
    batch: Vec<f64>,
    /// `row[i]`: where walker i's proposal went in the batch (or [`Stepper::NONE`]).
    row: Vec<usize>,
    factor: Vec<f64>,
}

impl Stepper {
    const NONE: usize = usize::MAX;

    /// Seeds the stream, draws (or checks) the starting walkers and evaluates them.
    fn new<D: LogDensity + ?Sized>(
        density: &D,
        start: &Start,
        nw: usize,
        (a, de): (f64, f64),
        seed: u64,
    ) -> Result<Stepper> {
        let dim = density.dim();
        let half = nw / 2;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x0 = start_walkers(start, nw, dim, &mut rng)?;
        check_independent(x0.view())?;
        let lp0 = evaluate(density, x0.view())?;
        if let Some(w) = lp0.iter().position(|v| !v.is_finite()) {
            bail!(
                "mcmc: the log-density is -inf at starting walker {w} {}; start the walkers where it is finite",
                point(&x0.row(w).to_vec())
            );
        }
        Ok(Stepper {
            dim,
            nw,
            a,
            de,
            rng,
            pos: x0.iter().copied().collect(),
            lp: lp0.to_vec(),
            accepted: vec![0u64; nw],
            steps: 0,
            order: (0..nw).collect(),
            batch: vec![0.0; half * dim],
            row: vec![Self::NONE; half],
            factor: vec![0.0; half],
        })
    }

    /// One step: both halves of a random split move in turn, by one move drawn for the step.
    fn step<D: LogDensity + ?Sized>(&mut self, density: &D) -> Result<()> {
        let (dim, half, a) = (self.dim, self.nw / 2, self.a);
        let rng = &mut self.rng;
        self.order.shuffle(rng);
        // differential evolution needs two walkers in the other half
        let de = rng.gen::<f64>() < self.de && half >= 2;
        let g0 = 2.38 / (2.0 * dim as f64).sqrt();
        for h in 0..2 {
            let (active, other) = if h == 0 {
                (&self.order[..half], &self.order[half..])
            } else {
                (&self.order[half..], &self.order[..half])
            };
            let mut n_in = 0;
            for (i, &k) in active.iter().enumerate() {
                // written in the next free batch row; kept there only when inside the box
                let q = &mut self.batch[n_in * dim..(n_in + 1) * dim];
                let xk = &self.pos[k * dim..(k + 1) * dim];
                let mut ok = true;
                if de {
                    let ia = rng.gen_range(0..half);
                    let ib = rng.gen_range(0..half - 1);
                    let ib = if ib >= ia { ib + 1 } else { ib };
                    let (ca, cb) = (other[ia], other[ib]);
                    let n: f64 = rng.sample(StandardNormal);
                    let g = g0 * (1.0 + 1e-5 * n);
                    self.factor[i] = 0.0;
                    let xa = &self.pos[ca * dim..(ca + 1) * dim];
                    let xb = &self.pos[cb * dim..(cb + 1) * dim];
                    for (((qj, &kj), &aj), &bj) in q.iter_mut().zip(xk).zip(xa).zip(xb) {
                        let v = kj + g * (aj - bj);
                        ok &= (0.0..=1.0).contains(&v);
                        *qj = v;
                    }
                } else {
                    let u: f64 = rng.gen();
                    let z = ((a - 1.0) * u + 1.0).powi(2) / a;
                    let c = other[rng.gen_range(0..half)];
                    self.factor[i] = (dim as f64 - 1.0) * z.ln();
                    let xc = &self.pos[c * dim..(c + 1) * dim];
                    for ((qj, &cj), &kj) in q.iter_mut().zip(xc).zip(xk) {
                        let v = cj - (cj - kj) * z;
                        ok &= (0.0..=1.0).contains(&v);
                        *qj = v;
                    }
                }
                self.row[i] = if ok {
                    n_in += 1;
                    n_in - 1
                } else {
                    Self::NONE
                };
            }
            if n_in == 0 {
                continue;
            }
            let view = ArrayView2::from_shape((n_in, dim), &self.batch[..n_in * dim])?;
            let new_lp = evaluate(density, view)?;
            for (i, &k) in active.iter().enumerate() {
                // a proposal outside the box has log-posterior -inf: rejected, no draw
                let r = self.row[i];
                if r == Self::NONE {
                    continue;
                }
                let diff = self.factor[i] + new_lp[r] - self.lp[k];
                let u: f64 = rng.gen();
                if diff > u.ln() {
                    self.pos[k * dim..(k + 1) * dim]
                        .copy_from_slice(&self.batch[r * dim..(r + 1) * dim]);
                    self.lp[k] = new_lp[r];
                    self.accepted[k] += 1;
                }
            }
        }
        self.steps += 1;
        Ok(())
    }

    /// The chain of the kept steps, with the walkers as they stand now.
    fn into_chain(
        self,
        samples: Vec<f64>,
        log_probs: Array2<f64>,
        burn: usize,
        thin: usize,
        convergence: Option<Convergence>,
    ) -> Chain {
        let last = Array2::from_shape_vec((self.nw, self.dim), self.pos)
            .expect("the walkers are walkers x dim");
        Chain {
            dim: self.dim,
            walkers: self.nw,
            thin,
            burn,
            samples,
            log_probs,
            accepted: self.accepted,
            steps_taken: self.steps,
            last,
            last_log_probs: Array1::from(self.lp),
            convergence,
        }
    }
}

impl Chain {
    /// Number of parameters.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of walkers.
    pub fn walkers(&self) -> usize {
        self.walkers
    }

    /// Number of kept steps.
    pub fn kept_steps(&self) -> usize {
        self.log_probs.nrows()
    }

    /// The kept samples, kept steps x walkers x parameters (emcee's `get_chain(discard,
    /// thin)`).
    pub fn samples(&self) -> ArrayView3<'_, f64> {
        ArrayView3::from_shape((self.kept_steps(), self.walkers, self.dim), &self.samples)
            .expect("the chain's length is steps x walkers x dim")
    }

    /// The kept samples of all walkers as one (kept steps * walkers) x parameters table
    /// (emcee's `get_chain(flat=True)`).
    pub fn flat(&self) -> ArrayView2<'_, f64> {
        ArrayView2::from_shape((self.kept_steps() * self.walkers, self.dim), &self.samples)
            .expect("the chain's length is steps x walkers x dim")
    }

    /// Log-densities of the kept samples, kept steps x walkers.
    pub fn log_probs(&self) -> ArrayView2<'_, f64> {
        self.log_probs.view()
    }

    /// The walkers after the last step (walkers x parameters): a start for a longer run.
    pub fn last(&self) -> ArrayView2<'_, f64> {
        self.last.view()
    }

    /// Log-densities of the walkers after the last step.
    pub fn last_log_probs(&self) -> &Array1<f64> {
        &self.last_log_probs
    }

    /// Fraction of the steps (burn-in included, as emcee counts) in which each walker's
    /// proposal was accepted.
    pub fn acceptance(&self) -> Array1<f64> {
        self.accepted
            .iter()
            .map(|&n| n as f64 / self.steps_taken as f64)
            .collect()
    }

    /// Mean over the walkers of [`Chain::acceptance`].
    pub fn mean_acceptance(&self) -> f64 {
        self.acceptance().mean().unwrap_or(f64::NAN)
    }

    /// Integrated autocorrelation time of each parameter, in steps of the unthinned chain
    /// (emcee's `get_autocorr_time(discard, thin, quiet=True)` = `thin *
    /// integrated_time(kept chain, c = 5)`).
    pub fn autocorr_time(&self) -> Array1<f64> {
        integrated_time(self.samples(), 5.0) * self.thin as f64
    }

    /// Posterior mean of each parameter over every kept sample.
    pub fn mean(&self) -> Array1<f64> {
        let mut m = vec![0.0; self.dim];
        for row in self.samples.chunks_exact(self.dim) {
            m.iter_mut().zip(row).for_each(|(a, v)| *a += v);
        }
        let n = (self.kept_steps() * self.walkers) as f64;
        m.into_iter().map(|a| a / n).collect()
    }

    /// Posterior covariance of the parameters over every kept sample (divisor n - 1).
    pub fn covariance(&self) -> Array2<f64> {
        let m = self.mean();
        let n = self.kept_steps() * self.walkers;
        let mut c = Array2::<f64>::zeros((self.dim, self.dim));
        let mut d = vec![0.0; self.dim];
        for row in self.samples.chunks_exact(self.dim) {
            for ((dj, v), mj) in d.iter_mut().zip(row).zip(&m) {
                *dj = v - mj;
            }
            for i in 0..self.dim {
                for j in 0..=i {
                    c[[i, j]] += d[i] * d[j];
                }
            }
        }
        for i in 0..self.dim {
            for j in 0..=i {
                let v = c[[i, j]] / (n as f64 - 1.0);
                c[[i, j]] = v;
                c[[j, i]] = v;
            }
        }
        c
    }

    /// Steps every walker took, burn-in included.
    pub fn steps(&self) -> usize {
        self.steps_taken
    }

    /// Leading steps discarded as burn-in.
    pub fn burn(&self) -> usize {
        self.burn
    }

    /// Every `thin`-th step after the burn-in was kept.
    pub fn thin(&self) -> usize {
        self.thin
    }

    /// How a run to convergence ended; None for a run of a fixed number of steps.
    pub fn convergence(&self) -> Option<&Convergence> {
        self.convergence.as_ref()
    }

    /// The factor by which [`Chain::draws`] thins the kept steps further: 1 for a run to
    /// convergence (its `thin` is already about half the shortest autocorrelation time);
    /// for a fixed run, `floor(min tau / (2 thin))` (at least 1; 1 when a tau is NaN), so
    /// that the draws are about half an autocorrelation time apart in both cases.
    pub fn draws_thin(&self) -> usize {
        if self.convergence.is_some() {
            return 1;
        }
        let tau = integrated_time(self.samples(), 5.0);
        let min = tau.iter().copied().fold(f64::INFINITY, f64::min);
        if min.is_finite() {
            ((min / 2.0).floor() as usize).max(1)
        } else {
            1
        }
    }

    /// The posterior draws written to `calibrate/posterior_samples.csv`: the kept steps
    /// thinned by [`Chain::draws_thin`] (the last kept step of each group, as emcee's
    /// `thin`), every walker of a step in walker order, steps in order; draws x parameters.
    pub fn draws(&self) -> Array2<f64> {
        let k = self.draws_thin();
        let s = self.samples();
        let steps: Vec<usize> = (k - 1..self.kept_steps()).step_by(k).collect();
        let mut out = Array2::zeros((steps.len() * self.walkers, self.dim));
        for (i, &t) in steps.iter().enumerate() {
            out.slice_mut(ndarray::s![i * self.walkers..(i + 1) * self.walkers, ..])
                .assign(&s.index_axis(ndarray::Axis(0), t));
        }
        out
    }

    /// The posterior summary: mean, 5/50/95 % quantiles (numpy's default `linear`
    /// definition) of each parameter over every kept sample, mean acceptance, autocorrelation
    /// times and effective sample sizes.
    pub fn summary(&self) -> PosteriorSummary {
        let flat = self.flat();
        let n = self.kept_steps();
        let tau_kept = integrated_time(self.samples(), 5.0);
        let quantiles: Vec<[f64; 3]> = (0..self.dim)
            .into_par_iter()
            .map(|j| {
                let mut col = flat.column(j).to_vec();
                let mut out = [0.0; 3];
                for (o, q) in out.iter_mut().zip([0.05, 0.5, 0.95]) {
                    *o = quantile_linear(&mut col, q);
                }
                out
            })
            .collect();
        PosteriorSummary {
            mean: self.mean().to_vec(),
            p05: quantiles.iter().map(|q| q[0]).collect(),
            p50: quantiles.iter().map(|q| q[1]).collect(),
            p95: quantiles.iter().map(|q| q[2]).collect(),
            acceptance: self.mean_acceptance(),
            tau: tau_kept.iter().map(|t| t * self.thin as f64).collect(),
            ess: tau_kept
                .iter()
                .map(|t| (n * self.walkers) as f64 / t)
                .collect(),
            tau_reliable: tau_kept.iter().map(|t| 50.0 * t <= n as f64).collect(),
            walkers: self.walkers,
            kept_steps: n,
            converged: match &self.convergence {
                Some(c) => c.converged,
                None => tau_kept.iter().all(|t| 50.0 * t <= n as f64),
            },
            steps: self.steps_taken,
            burn: self.burn,
            thin: self.thin,
        }
    }
}

/// What `calibrate/posterior.csv` holds: per parameter the posterior mean and quantiles,
/// with the sampler's acceptance, autocorrelation time and effective sample size.
#[derive(Debug, Clone, PartialEq)]
pub struct PosteriorSummary {
    /// Posterior mean per parameter.
    pub mean: Vec<f64>,
    /// 5 % quantile per parameter (numpy's default `linear` quantile of all kept samples).
    pub p05: Vec<f64>,
    /// Median per parameter (same definition).
    pub p50: Vec<f64>,
    /// 95 % quantile per parameter (same definition).
    pub p95: Vec<f64>,
    /// Mean acceptance fraction over the walkers (burn-in included, as emcee counts).
    pub acceptance: f64,
    /// Integrated autocorrelation time per parameter, in steps of the unthinned chain
    /// (emcee's estimator, `c = 5`); NaN where a walker never moved in that parameter.
    pub tau: Vec<f64>,
    /// Effective sample size per parameter: kept steps x walkers / tau (tau in kept steps).
    pub ess: Vec<f64>,
    /// Whether the chain is at least 50 autocorrelation times long (emcee's `tol = 50`; when
    /// false, emcee raises "The chain is shorter than 50 times the integrated
    /// autocorrelation time" and tau is a lower bound).
    pub tau_reliable: Vec<bool>,
    /// Number of walkers.
    pub walkers: usize,
    /// Number of kept steps per walker.
    pub kept_steps: usize,
    /// Whether the chain converged: for a run to convergence, its verdict
    /// ([`Convergence::converged`]); for a fixed number of steps, whether every `tau` is
    /// reliable (the chain after burn-in is at least 50 tau long).
    pub converged: bool,
    /// Steps every walker took, burn-in included.
    pub steps: usize,
    /// Leading steps discarded as burn-in.
    pub burn: usize,
    /// Every `thin`-th step after the burn-in was kept.
    pub thin: usize,
}

impl PosteriorSummary {
    /// Header of `calibrate/posterior.csv`.
    pub const COLUMNS: [&'static str; 13] = [
        "parameter",
        "mean",
        "p05",
        "p50",
        "p95",
        "acceptance",
        "tau",
        "ess",
        "tau_reliable",
        "converged",
        "steps",
        "burn",
        "thin",
    ];

    /// The rows of `calibrate/posterior.csv` as text cells, one per parameter, named by
    /// `names` (one per parameter, in the density's order). Numbers are written as the CSV
    /// writer writes them (shortest round-trip text; NaN as an empty cell); `tau_reliable`
    /// and `converged` are `true` or `false`; `steps`, `burn` and `thin` are the same on
    /// every row.
    pub fn rows(&self, names: &[String]) -> Result<Vec<Vec<String>>> {
        if names.len() != self.mean.len() {
            bail!(
                "posterior: {} parameter names for {} parameters",
                names.len(),
                self.mean.len()
            );
        }
        let f = crate::array::csv::fmt_number;
        Ok(names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                vec![
                    name.clone(),
                    f(self.mean[j]),
                    f(self.p05[j]),
                    f(self.p50[j]),
                    f(self.p95[j]),
                    f(self.acceptance),
                    f(self.tau[j]),
                    f(self.ess[j]),
                    self.tau_reliable[j].to_string(),
                    self.converged.to_string(),
                    self.steps.to_string(),
                    self.burn.to_string(),
                    self.thin.to_string(),
                ]
            })
            .collect())
    }

    /// Writes `calibrate/posterior.csv` (header [`PosteriorSummary::COLUMNS`], one row per
    /// parameter) atomically.
    pub fn write_csv(&self, path: &Path, names: &[String]) -> Result<()> {
        let rows = self.rows(names)?;
        crate::array::csv::write_records(path, &Self::COLUMNS, rows)
    }
}

/// Settings of a run to convergence ([`sample_until_converged`]).
///
/// The run checks its chain every `check_every` steps, or every tenth of the steps taken
/// when that is more (so that the checks cost about as much as one check of the final
/// chain, whatever its length). A check:
///
/// 1. estimates the autocorrelation time of each parameter on the whole chain so far
///    (emcee's `get_autocorr_time(tol=0)`; the start's transient makes it longer, which
///    errs on the safe side for the burn-in);
/// 2. sets the burn-in to `burn_tau` (2) times the longest of those times, and the thinning
///    to half the shortest (at least 1): emcee's documented rule (`burnin = 2 max tau`,
///    `thin = min tau / 2`); the user's `burn` and `thin` replace them when given. The
///    burn-in never exceeds half the steps taken;
/// 3. estimates tau again on the chain after burn-in and thinning (tau times thin, as
///    [`PosteriorSummary::tau`] reports it) and calls the chain converged when, for every
///    parameter, the kept chain is at least `tol` (50) autocorrelation times long (emcee's
///    `tol`: [`PosteriorSummary::tau_reliable`]) **and** that tau changed by less than `rtol`
///    (5 %) since the previous check. The first check can therefore never pass.
///
/// The second test is emcee's tutorial's ("Saving & monitoring progress": tau changed by
/// less than 1 % since the check 100 steps before). Its 1 % does not carry over to checks a
/// tenth of the chain apart: on the 6-D test Gaussian (tau about 65 steps, 48 walkers) the
/// estimates of successive checks still scatter by 1-5 % (now and then 8 %) at 4,000 to
/// 20,000 steps, long after the chain is 50 tau long, so that 1 % is met by chance only, in
/// 20,000 steps or never. 5 % between checks 10 % apart stops drift (tau still growing as
/// the start's transient washes out: +10-40 % per check below 1,000 steps there) and passes
/// once the estimates scatter only.
///
/// The run stops at the first check that passes, or at the budget: `max_steps` steps or
/// `max_seconds` seconds of wall time, whichever comes first; then a last check reports
/// what was missing.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvergeSettings {
    /// Number of walkers: even and at least twice the number of parameters.
    pub walkers: usize,
    /// Most steps every walker takes.
    pub max_steps: usize,
    /// Most seconds of wall time (`f64::INFINITY` for none).
    pub max_seconds: f64,
    /// Least number of steps between two checks (and the step of the first check).
    pub check_every: usize,
    /// The kept chain must be at least `tol` autocorrelation times long (emcee: 50).
    pub tol: f64,
    /// Largest relative change of every tau between two checks (0.05: 5 %).
    pub rtol: f64,
    /// Burn-in in multiples of the longest autocorrelation time (2, emcee's example).
    pub burn_tau: f64,
    /// A fixed burn-in (steps) instead of `burn_tau` times tau.
    pub burn: Option<usize>,
    /// A fixed thinning instead of half the shortest tau.
    pub thin: Option<usize>,
    /// Seed of the random stream.
    pub seed: u64,
    /// Scale `a` of the stretch move.
    pub a: f64,
    /// Fraction of differential-evolution steps (see [`McmcSettings::de`]).
    pub de: f64,
}

impl Default for ConvergeSettings {
    /// 64 walkers, at most 20,000 steps and 600 s, checks every 100 steps or 10 % of the
    /// steps, 50 tau, tau settled to 5 %, burn-in 2 tau, thinning tau / 2, seed 0, `a = 2`,
    /// 80 % differential-evolution steps.
    fn default() -> ConvergeSettings {
        ConvergeSettings {
            walkers: 64,
            max_steps: 20_000,
            max_seconds: 600.0,
            check_every: 100,
            tol: 50.0,
            rtol: 0.05,
            burn_tau: 2.0,
            burn: None,
            thin: None,
            seed: 0,
            a: 2.0,
            de: DE_FRACTION,
        }
    }
}

impl ConvergeSettings {
    /// Checks the settings for a posterior over `dim` parameters.
    pub fn check(&self, dim: usize) -> Result<()> {
        if dim == 0 {
            bail!("mcmc: the density has no parameters");
        }
        if !self.walkers.is_multiple_of(2) || self.walkers < 2 * dim {
            bail!(
                "mcmc: walkers = {} must be even and at least 2 x {dim} parameters = {}",
                self.walkers,
                2 * dim
            );
        }
        if self.max_steps < 2 {
            bail!("mcmc: max_steps = {} must be at least 2", self.max_steps);
        }
        if self.max_seconds.is_nan() || self.max_seconds <= 0.0 {
            bail!("mcmc: max_seconds = {} must be above 0", self.max_seconds);
        }
        if self.check_every == 0 {
            bail!("mcmc: check_every = 0 must be at least 1");
        }
        if !(self.tol > 0.0 && self.tol.is_finite()) {
            bail!("mcmc: tol = {} must be a finite number above 0", self.tol);
        }
        if self.rtol.is_nan() || self.rtol <= 0.0 {
            bail!("mcmc: rtol = {} must be above 0", self.rtol);
        }
        if !(self.burn_tau >= 0.0 && self.burn_tau.is_finite()) {
            bail!(
                "mcmc: burn_tau = {} must be a finite number >= 0",
                self.burn_tau
            );
        }
        if let Some(b) = self.burn {
            if b >= self.max_steps {
                bail!(
                    "mcmc: burn = {b} must be below max_steps = {}",
                    self.max_steps
                );
            }
        }
        if self.thin == Some(0) {
            bail!("mcmc: thin = 0 must be at least 1");
        }
        if !(self.a > 1.0 && self.a.is_finite()) {
            bail!("mcmc: a = {} must be a finite number above 1", self.a);
        }
        check_de(self.de)?;
        let values = self
            .max_steps
            .checked_mul(self.walkers)
            .and_then(|v| v.checked_mul(dim));
        match values {
            Some(v) if v <= MAX_CHAIN_VALUES => Ok(()),
            _ => bail!(
                "mcmc: max_steps = {} x {} walkers x {dim} parameters is more than {} values \
                 to hold; lower max_steps or walkers",
                self.max_steps,
                self.walkers,
                MAX_CHAIN_VALUES
            ),
        }
    }
}

/// Why a run to convergence stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// A check passed.
    Converged,
    /// `max_steps` steps were taken.
    MaxSteps,
    /// `max_seconds` of wall time went by.
    MaxSeconds,
}

impl Stop {
    /// `converged`, `max_steps` or `max_seconds`.
    pub fn name(&self) -> &'static str {
        match self {
            Stop::Converged => "converged",
            Stop::MaxSteps => "max_steps",
            Stop::MaxSeconds => "max_seconds",
        }
    }
}

/// How a run to convergence ended: the verdict, the burn-in and thinning chosen, and the
/// last check's numbers (recorded in `posterior.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct Convergence {
    /// Whether the last check passed (see [`ConvergeSettings`]).
    pub converged: bool,
    /// Why the run stopped.
    pub stop: Stop,
    /// Steps every walker took, burn-in included.
    pub steps: usize,
    /// Burn-in chosen (steps).
    pub burn: usize,
    /// Thinning chosen.
    pub thin: usize,
    /// Kept steps per walker: `(steps - burn) / thin`.
    pub kept_steps: usize,
    /// Autocorrelation time per parameter on the whole chain at the last check (what set
    /// burn-in and thinning), steps.
    pub tau_all: Vec<f64>,
    /// Autocorrelation time per parameter of the kept chain at the last check (thin times
    /// tau of the thinned chain), steps: what `posterior.csv` reports.
    pub tau: Vec<f64>,
    /// Relative change of `tau` since the check before (NaN at the first check).
    pub tau_change: Vec<f64>,
    /// The settings' `tol` and `rtol`.
    pub tol: f64,
    /// See [`ConvergeSettings::rtol`].
    pub rtol: f64,
    /// Checks made.
    pub checks: usize,
    /// Wall time of the run, seconds.
    pub seconds: f64,
    /// The budget the run had: `max_steps` and `max_seconds`.
    pub max_steps: usize,
    /// See [`ConvergeSettings::max_seconds`].
    pub max_seconds: f64,
}

/// Formats a number of steps for messages: `180`, `2.4` (below 10).
fn steps_text(t: f64) -> String {
    if t < 10.0 {
        format!("{t:.1}")
    } else {
        format!("{t:.0}")
    }
}

impl Convergence {
    /// Parameters whose kept chain is shorter than `tol` autocorrelation times (or whose
    /// tau is NaN), by index.
    pub fn too_short(&self) -> Vec<usize> {
        (0..self.tau.len())
            .filter(|&j| {
                let t = self.tau[j] / self.thin as f64;
                t.is_nan() || self.tol * t > self.kept_steps as f64
            })
            .collect()
    }

    /// Parameters whose tau changed by `rtol` or more since the previous check, by index.
    pub fn still_changing(&self) -> Vec<usize> {
        (0..self.tau_change.len())
            .filter(|&j| self.tau_change[j].is_nan() || self.tau_change[j] >= self.rtol)
            .collect()
    }

    /// In words, naming the parameters by `names`: "MCMC converged: ..." or "MCMC did not
    /// converge: chain 5000 steps < 50 tau (tau_max 180) for kmax; raise max_steps".
    pub fn message(&self, names: &[String]) -> String {
        let name = |j: usize| names.get(j).cloned().unwrap_or_else(|| format!("x{j}"));
        let after = self.steps - self.burn;
        let tau_max = self.tau.iter().copied().fold(f64::NAN, f64::max);
        if self.converged {
            return format!(
                "MCMC converged after {} steps ({:.1} s, {} checks): the {after} steps after a burn-in of {} are {:.0} times the longest autocorrelation time (tau_max {}), tau changed < {} % at the last check; thinned by {}",
                self.steps,
                self.seconds,
                self.checks,
                self.burn,
                after as f64 / tau_max,
                steps_text(tau_max),
                self.rtol * 100.0,
                self.thin
            );
        }
        let raise = match self.stop {
            Stop::MaxSeconds => format!(
                "stopped by max_seconds = {} after {} steps; raise max_seconds",
                self.max_seconds, self.steps
            ),
            _ => "raise max_steps".to_string(),
        };
        let short = self.too_short();
        if !short.is_empty() {
            let undefined: Vec<String> = short
                .iter()
                .filter(|&&j| self.tau[j].is_nan())
                .map(|&j| name(j))
                .collect();
            if !undefined.is_empty() {
                return format!(
                    "MCMC did not converge: tau is undefined for {} (a walker never moved in it: start the walkers spread wider); {raise}",
                    undefined.join(", ")
                );
            }
            let worst = short
                .iter()
                .copied()
                .max_by(|&a, &b| self.tau[a].total_cmp(&self.tau[b]))
                .unwrap_or(0);
            let names: Vec<String> = short.iter().map(|&j| name(j)).collect();
            return format!(
                "MCMC did not converge: chain {after} steps after burn-in < {} tau (tau_max {}, needs at least {} steps) for {}; {raise}",
                self.tol,
                steps_text(self.tau[worst]),
                (self.tol * self.tau[worst] + self.burn as f64).ceil(),
                names.join(", ")
            );
        }
        let moving = self.still_changing();
        let worst = moving
            .iter()
            .copied()
            .max_by(|&a, &b| self.tau_change[a].total_cmp(&self.tau_change[b]))
            .unwrap_or(0);
        let names: Vec<String> = moving.iter().map(|&j| name(j)).collect();
        format!(
            "MCMC did not converge: tau still changed by {:.1} % at the last check (needs < {} %) for {}; {raise}",
            100.0 * self.tau_change.get(worst).copied().unwrap_or(f64::NAN),
            self.rtol * 100.0,
            names.join(", ")
        )
    }

    /// The record written to `posterior.json` under `convergence`.
    pub fn to_json(&self, names: &[String]) -> serde_json::Value {
        let nums = |v: &[f64]| -> Vec<Option<f64>> {
            v.iter()
                .map(|x| if x.is_finite() { Some(*x) } else { None })
                .collect()
        };
        serde_json::json!({
            "converged": self.converged,
            "stop": self.stop.name(),
            "message": self.message(names),
            "steps": self.steps,
            "burn": self.burn,
            "thin": self.thin,
            "kept_steps": self.kept_steps,
            "parameters": names,
            "tau": nums(&self.tau),
            "tau_all_steps": nums(&self.tau_all),
            "tau_change": nums(&self.tau_change),
            "tol": self.tol,
            "rtol": self.rtol,
            "checks": self.checks,
            "seconds": self.seconds,
            "max_steps": self.max_steps,
            "max_seconds": if self.max_seconds.is_finite() { Some(self.max_seconds) } else { None },
            "rule": "chain after burn-in >= tol x tau and tau changed < rtol since the previous check, for every parameter; burn = burn_tau x max tau, thin = min tau / 2 (tau of the whole chain at the check) unless given",
        })
    }
}

/// One check of a growing chain (all steps x walkers x parameters so far).
struct Check {
    burn: usize,
    thin: usize,
    kept: usize,
    tau_all: Vec<f64>,
    tau: Vec<f64>,
    change: Vec<f64>,
    converged: bool,
}

fn check_chain(all: ArrayView3<f64>, s: &ConvergeSettings, previous: Option<&[f64]>) -> Check {
    let n = all.shape()[0];
    let tau_all = integrated_time(all, 5.0);
    let max = tau_all.iter().copied().fold(f64::NAN, f64::max);
    let min = tau_all.iter().copied().fold(f64::NAN, f64::min);
    let wanted = s.burn.unwrap_or_else(|| {
        if max.is_finite() {
            (s.burn_tau * max).ceil() as usize
        } else {
            n / 2
        }
    });
    let burn = wanted.min(n / 2);
    let thin = s.thin.unwrap_or_else(|| {
        if min.is_finite() {
            ((min / 2.0).floor() as usize).max(1)
        } else {
            1
        }
    });
    let thin = thin.min(n - burn).max(1);
    let kept_view = all.slice(ndarray::s![burn + thin - 1..;thin, .., ..]);
    let kept = kept_view.shape()[0];
    let tau: Vec<f64> = integrated_time(kept_view, 5.0)
        .iter()
        .map(|t| t * thin as f64)
        .collect();
    let change: Vec<f64> = match previous {
        Some(p) => tau.iter().zip(p).map(|(t, q)| (t - q).abs() / t).collect(),
        None => vec![f64::NAN; tau.len()],
    };
    let long_enough = tau.iter().all(|t| s.tol * (t / thin as f64) <= kept as f64);
    let settled = change.iter().all(|c| *c < s.rtol);
    Check {
        burn,
        thin,
        kept,
        tau_all: tau_all.to_vec(),
        tau,
        change,
        converged: long_enough && settled,
    }
}

/// Samples the posterior as [`sample`] does (same moves, same random stream: the first
/// steps of a seed are those of [`sample`] with that seed), but runs until the chain has
/// converged by the rule of [`ConvergeSettings`] or its budget is spent, and chooses the
/// burn-in and thinning from the autocorrelation times. The returned chain holds the
/// kept steps of the last check; its [`Chain::convergence`] says how the run ended and
/// its summary's `converged` is the verdict.
///
/// Every step is held in memory until the end (steps x walkers x parameters values:
/// 20,000 x 64 x 6 is 61 MB).
pub fn sample_until_converged<D: LogDensity + ?Sized>(
    density: &D,
    start: &Start,
    settings: &ConvergeSettings,
) -> Result<Chain> {
    let dim = density.dim();
    settings.check(dim)?;
    let t0 = std::time::Instant::now();
    let nw = settings.walkers;
    let mut st = Stepper::new(density, start, nw, (settings.a, settings.de), settings.seed)?;
    let per_step = nw * dim;
    let mut all: Vec<f64> = Vec::new();
    let mut all_lp: Vec<f64> = Vec::new();
    let mut next_check = settings.check_every;
    let mut previous: Option<Vec<f64>> = None;
    let mut checks = 0;
    let pb = crate::progress::bar(settings.max_steps as u64, "mcmc steps (until converged)");
    let (check, stop) = loop {
        st.step(density)?;
        if all.len() + per_step > all.capacity() {
            // grow by a quarter (at least 1000 steps), never past max_steps
            let more = (st.steps / 4)
                .max(1000)
                .min(settings.max_steps + 1 - st.steps);
            if all.try_reserve_exact(more * per_step).is_err()
                || all_lp.try_reserve_exact(more * nw).is_err()
            {
                bail!(
                    "mcmc: not enough memory for a chain of {} steps x {nw} walkers x {dim} parameters; lower max_steps",
                    st.steps + more
                );
            }
        }
        all.extend_from_slice(&st.pos);
        all_lp.extend_from_slice(&st.lp);
        let n = st.steps;
        if n % 100 == 0 {
            pb.set_position(n as u64);
        }
        let out_of_steps = n >= settings.max_steps;
        let out_of_time = t0.elapsed().as_secs_f64() >= settings.max_seconds;
        if n >= next_check || out_of_steps || out_of_time {
            let view = ArrayView3::from_shape((n, nw, dim), &all[..])?;
            let c = check_chain(view, settings, previous.as_deref());
            checks += 1;
            if c.converged {
                break (c, Stop::Converged);
            }
            if out_of_steps {
                break (c, Stop::MaxSteps);
            }
            if out_of_time {
                break (c, Stop::MaxSeconds);
            }
            previous = Some(c.tau.clone());
            next_check = n + settings.check_every.max(n / 10);
        }
    };
    pb.finish_and_clear();
    let n = st.steps;
    let first = check.burn + check.thin - 1;
    let mut samples = zeros(check.kept * per_step)?;
    let mut log_probs = Array2::zeros((check.kept, nw));
    for (t, step) in (first..n).step_by(check.thin).enumerate() {
        samples[t * per_step..(t + 1) * per_step]
            .copy_from_slice(&all[step * per_step..(step + 1) * per_step]);
        log_probs
            .row_mut(t)
            .assign(&ndarray::aview1(&all_lp[step * nw..(step + 1) * nw]));
    }
    drop(all);
    let convergence = Convergence {
        converged: check.converged,
        stop,
        steps: n,
        burn: check.burn,
        thin: check.thin,
        kept_steps: check.kept,
        tau_all: check.tau_all,
        tau: check.tau,
        tau_change: check.change,
        tol: settings.tol,
        rtol: settings.rtol,
        checks,
        seconds: t0.elapsed().as_secs_f64(),
        max_steps: settings.max_steps,
        max_seconds: settings.max_seconds,
    };
    let (burn, thin) = (convergence.burn, convergence.thin);
    Ok(st.into_chain(samples, log_probs, burn, thin, Some(convergence)))
}

/// Writes the posterior draws ([`Chain::draws`]) as `posterior_samples.csv`: columns
/// `draw` (1, 2, ...) and one column per parameter scaling, named by `names`; one row per
/// draw. Returns the number of draws.
pub fn write_posterior_samples(path: &Path, chain: &Chain, names: &[String]) -> Result<usize> {
    if names.len() != chain.dim() {
        bail!(
            "posterior samples: {} parameter names for {} parameters",
            names.len(),
            chain.dim()
        );
    }
    let draws = chain.draws();
    let mut header = vec!["draw".to_string()];
    header.extend(names.iter().cloned());
    let f = crate::array::csv::fmt_number;
    crate::array::csv::write_records(
        path,
        &header,
        draws.rows().into_iter().enumerate().map(|(i, r)| {
            std::iter::once((i + 1).to_string())
                .chain(r.iter().map(|&v| f(v)))
                .collect::<Vec<_>>()
        }),
    )?;
    Ok(draws.nrows())
}

/// Reads `DIR/posterior_samples.csv` (what [`write_posterior_samples`] writes: `draw`, then
/// one column per parameter): the parameter names, in the file's order, and the draws
/// (draws x parameters). `dir` is the calibration folder (e.g. `results/calibrate`); a
/// path to the file itself is taken too. Errors name the file and what is wrong with it.
pub fn load_posterior_samples(dir: &Path) -> Result<(Vec<String>, Array2<f64>)> {
    let path = if dir.extension().is_some_and(|e| e == "csv") {
        dir.to_path_buf()
    } else {
        crate::files::check_dir_input(dir, "calibration folder")?;
        dir.join("posterior_samples.csv")
    };
    if !path.exists() {
        bail!(
            "{}: no posterior samples (06_calibrate.rhai writes them with the posterior: post.save(out))",
            path.display()
        );
    }
    let t = crate::table::Table::read(&path)?;
    let cols = t.columns();
    if cols.first().map(String::as_str) != Some("draw") {
        bail!(
            "{}: the first column must be 'draw', then one column per parameter (found: {})",
            path.display(),
            cols.join(", ")
        );
    }
    let names: Vec<String> = cols[1..].to_vec();
    if names.is_empty() {
        bail!("{}: no parameter columns after 'draw'", path.display());
    }
    let x = t
        .to_array(&names)
        .map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?;
    if let Some(((i, j), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        bail!(
            "{}: draw {} has no finite value of {} ({v})",
            path.display(),
            i + 1,
            names[j]
        );
    }
    Ok((names, x))
}

/// The `q` quantile (0 <= q <= 1) of `values` by numpy's default `linear` method (Hyndman &
/// Fan type 7): with the values sorted, `v[i] + g (v[i+1] - v[i])` where `i + g = (n - 1) q`,
/// computed as numpy's `_lerp` does (from the upper value when `g >= 0.5`), so that it
/// equals `numpy.quantile` to the last bit. Reorders `values`; NaN when it is empty.
pub fn quantile_linear(values: &mut [f64], q: f64) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let virt = (n as f64 - 1.0) * q;
    if virt >= n as f64 - 1.0 {
        let (_, hi, _) = values.select_nth_unstable_by(n - 1, f64::total_cmp);
        return *hi;
    }
    if virt < 0.0 {
        let (_, lo, _) = values.select_nth_unstable_by(0, f64::total_cmp);
        return *lo;
    }
    let prev = virt.floor();
    let i = prev as usize;
    let (_, lo, rest) = values.select_nth_unstable_by(i, f64::total_cmp);
    let a = *lo;
    let b = rest.iter().copied().min_by(f64::total_cmp).unwrap_or(a);
    let g = virt - prev;
    let d = b - a;
    if g >= 0.5 {
        b - d * (1.0 - g)
    } else {
        a + d * g
    }
}

/// Precomputed tables of a radix-2 FFT of length `n` (a power of two): the bit-reversal
/// swaps, and for every stage of half-length `h` the twiddles `exp(-2 pi i k / 2h)`,
/// `k < h`, stored contiguously from offset `h - 1`.
struct FftPlan {
    swaps: Vec<(usize, usize)>,
    wr: Vec<f64>,
    wi: Vec<f64>,
}

impl FftPlan {
    fn new(n: usize) -> FftPlan {
        let mut swaps = Vec::new();
        let mut j = 0;
        for i in 1..n {
            let mut bit = n >> 1;
            while j & bit != 0 {
                j ^= bit;
                bit >>= 1;
            }
            j |= bit;
            if i < j {
                swaps.push((i, j));
            }
        }
        let (mut wr, mut wi) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut h = 1;
        while h < n {
            for k in 0..h {
                let t = std::f64::consts::PI * k as f64 / h as f64;
                wr.push(t.cos());
                wi.push(-t.sin());
            }
            h *= 2;
        }
        FftPlan { swaps, wr, wi }
    }

    /// In-place forward FFT (`X_k = sum_j x_j exp(-2 pi i jk / n)`) of `re + i im`.
    fn forward(&self, re: &mut [f64], im: &mut [f64]) {
        let n = re.len();
        for &(i, j) in &self.swaps {
            re.swap(i, j);
            im.swap(i, j);
        }
        let mut h = 1;
        while h < n {
            let (wr, wi) = (&self.wr[h - 1..2 * h - 1], &self.wi[h - 1..2 * h - 1]);
            for (rc, ic) in re.chunks_exact_mut(2 * h).zip(im.chunks_exact_mut(2 * h)) {
                let (r0, r1) = rc.split_at_mut(h);
                let (i0, i1) = ic.split_at_mut(h);
                for (((((a_r, a_i), b_r), b_i), &w_r), &w_i) in r0
                    .iter_mut()
                    .zip(i0.iter_mut())
                    .zip(r1.iter_mut())
                    .zip(i1.iter_mut())
                    .zip(wr)
                    .zip(wi)
                {
                    let tr = *b_r * w_r - *b_i * w_i;
                    let ti = *b_r * w_i + *b_i * w_r;
                    *b_r = *a_r - tr;
                    *b_i = *a_i - ti;
                    *a_r += tr;
                    *a_i += ti;
                }
            }
            h *= 2;
        }
    }
}

/// Adds the power spectra of two real series (or of `x` alone), each centred and scaled to
/// unit norm, to `acc` (the lower half, `n / 2 + 1` values: the spectra are even). One
/// complex FFT of `x + i y` gives both, separated by symmetry. The series are zero-padded
/// to `n` >= twice their length, so that the spectra's inverse transform is the linear (not
/// circular) autocovariance, as in emcee's `function_1d`. False when a series is constant.
fn add_spectra(
    x: &[f64],
    y: Option<&[f64]>,
    re: &mut [f64],
    im: &mut [f64],
    plan: &FftPlan,
    acc: &mut [f64],
) -> bool {
    let len = x.len();
    re.fill(0.0);
    im.fill(0.0);
    for (series, out) in std::iter::once(x)
        .chain(y)
        .zip([&mut re[..len], &mut im[..len]])
    {
        let m = series.iter().sum::<f64>() / len as f64;
        let norm = series.iter().map(|v| (v - m) * (v - m)).sum::<f64>().sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return false;
        }
        for (o, v) in out.iter_mut().zip(series) {
            *o = (v - m) / norm;
        }
    }
    plan.forward(re, im);
    let n = re.len();
    // P_x[k] = |(Z_k + conj Z_m)/2|^2, P_y[k] = |(Z_k - conj Z_m)/2i|^2, m = n - k
    for (k, a) in acc.iter_mut().enumerate() {
        let m = (n - k) % n;
        let (rk, ik, rm, im_m) = (re[k], im[k], re[m], im[m]);
        *a += 0.25 * ((rk + rm).powi(2) + (ik - im_m).powi(2));
        if y.is_some() {
            *a += 0.25 * ((ik + im_m).powi(2) + (rk - rm).powi(2));
        }
    }
    true
}

/// emcee's `autocorr.integrated_time(x, c, quiet=True)` for a chain `x` of steps x walkers x
/// parameters: per parameter, the normalised autocorrelation function of each walker's
/// series (emcee's `function_1d`), averaged over the walkers, `tau(M) = 2 sum_{t<=M} rho(t) -
/// 1`, and Sokal's automatic window: the first `M` with `M >= c tau(M)` (emcee's quirks kept:
/// if no `M` satisfies `M < c tau(M)` the last lag; if all do, lag 0). A walker that never
/// moved in a parameter makes its tau NaN (emcee divides 0 by 0).
///
/// Computed with FFTs as emcee does, so it equals emcee's numbers up to rounding (1e-12
/// relative in the tests): as the transform is linear, the walkers' power spectra (of the
/// series scaled to unit norm, so that each autocorrelation is normalised) are summed and
/// transformed back once per parameter. Parameters run in parallel; the result does not
/// depend on the thread count.
pub fn integrated_time(x: ArrayView3<f64>, c: f64) -> Array1<f64> {
    let (n_t, n_w, n_d) = x.dim();
    if n_t == 0 || n_w == 0 {
        return Array1::from_elem(n_d, f64::NAN);
    }
    let n = n_t.next_power_of_two() * 2;
    let plan = FftPlan::new(n);
    let taus: Vec<f64> = (0..n_d)
        .into_par_iter()
        .map(|d| {
            let mut re = vec![0.0; n];
            let mut im = vec![0.0; n];
            let mut acc = vec![0.0; n / 2 + 1];
            let mut a = vec![0.0; n_t];
            let mut b = vec![0.0; n_t];
            for k in (0..n_w).step_by(2) {
                for (t, v) in a.iter_mut().enumerate() {
                    *v = x[[t, k, d]];
                }
                let ok = if k + 1 < n_w {
                    for (t, v) in b.iter_mut().enumerate() {
                        *v = x[[t, k + 1, d]];
                    }
                    add_spectra(&a, Some(&b), &mut re, &mut im, &plan, &mut acc)
                } else {
                    add_spectra(&a, None, &mut re, &mut im, &plan, &mut acc)
                };
                if !ok {
                    return f64::NAN;
                }
            }
            // the summed spectrum is real and even: its forward transform is n times the
            // inverse, and the factor goes with the normalisation by lag 0
            for k in 0..=n / 2 {
                re[k] = acc[k];
                re[(n - k) % n] = acc[k];
            }
            im.fill(0.0);
            plan.forward(&mut re, &mut im);
            let f0 = re[0];
            let f = re[..n_t].iter().map(|v| v / f0);
            let mut sum = 0.0;
            let mut first_false = None;
            let mut last = f64::NAN;
            let mut any_true = false;
            for (t, ft) in f.enumerate() {
                sum += ft;
                let tau = 2.0 * sum - 1.0;
                last = tau;
                if (t as f64) < c * tau {
                    any_true = true;
                } else if first_false.is_none() {
                    first_false = Some((t, tau));
                    if any_true {
                        break;
                    }
                }
            }
            match (any_true, first_false) {
                (true, Some((_, tau))) => tau,
                (true, None) => 1.0, // np.argmin of all-True is 0: taus[0] = 2 f[0] - 1 = 1
                (false, _) => last,
            }
        })
        .collect();
    Array1::from(taus)
}

/// A Gaussian log-density `-0.5 (x - m)' S^-1 (x - m)` (up to a constant) with mean `m` and
/// covariance `S`, through the Cholesky factor of `S`: a cheap, exactly known posterior for
/// tests and benchmarks.
#[derive(Debug, Clone)]
pub struct GaussianDensity {
    mean: Vec<f64>,
    /// Lower Cholesky factor of the covariance.
    chol: Array2<f64>,
}

impl GaussianDensity {
    /// The Gaussian with this mean and covariance (symmetric positive definite, else an
    /// error).
    pub fn new(mean: Vec<f64>, cov: ArrayView2<f64>) -> Result<GaussianDensity> {
        let d = mean.len();
        if cov.dim() != (d, d) {
            bail!(
                "gaussian: covariance is {} x {} for a mean of {d} values",
                cov.nrows(),
                cov.ncols()
            );
        }
        let mut l = Array2::<f64>::zeros((d, d));
        for i in 0..d {
            for j in 0..=i {
                if (cov[[i, j]] - cov[[j, i]]).abs() > 1e-12 * (cov[[i, i]] * cov[[j, j]]).sqrt() {
                    bail!("gaussian: covariance is not symmetric at ({i}, {j})");
                }
                let mut s = cov[[i, j]];
                for k in 0..j {
                    s -= l[[i, k]] * l[[j, k]];
                }
                if i == j {
                    if s <= 0.0 || s.is_nan() {
                        bail!("gaussian: covariance is not positive definite");
                    }
                    l[[i, i]] = s.sqrt();
                } else {
                    l[[i, j]] = s / l[[j, j]];
                }
            }
        }
        Ok(GaussianDensity { mean, chol: l })
    }
}

impl LogDensity for GaussianDensity {
    fn dim(&self) -> usize {
        self.mean.len()
    }
    fn log_prob(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        super::check_batch(x, self.dim())?;
        let d = self.dim();
        let mut z = vec![0.0; d];
        let mut xr = vec![0.0; d];
        let chol = self.chol.as_slice().unwrap_or(&[]);
        Ok(x.rows()
            .into_iter()
            .map(|r| {
                let xs = match r.as_slice() {
                    Some(s) => s,
                    None => {
                        xr.iter_mut().zip(r.iter()).for_each(|(o, v)| *o = *v);
                        &xr
                    }
                };
                // solve L z = x - m by forward substitution; log p = -|z|^2 / 2
                let mut q = 0.0;
                for i in 0..d {
                    let li = &chol[i * d..i * d + i + 1];
                    let mut s = xs[i] - self.mean[i];
                    for (l, zk) in li.iter().zip(&z[..i]) {
                        s -= l * zk;
                    }
                    z[i] = s / li[i];
                    q += z[i] * z[i];
                }
                -0.5 * q
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::FnDensity;
    use ndarray::{array, s, Array3};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A 64-bit LCG (Knuth's MMIX constants) giving uniforms in [0, 1) from the top 53 bits;
    /// the Python recording script computes the same numbers:
    /// `s = (6364136223846793005 * s + 1442695040888963407) % 2**64; u = (s >> 11) * 2.0**-53`.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 * 2f64.powi(-53)
        }
    }

    /// AR(1) series `v = phi v + (u - 0.5)`, `v0 = 0`, one LCG stream in the order
    /// parameter, walker, step (as the recording script).
    fn ar1(n_t: usize, n_w: usize, phis: &[f64], seed: u64) -> Array3<f64> {
        let mut g = Lcg(seed);
        let mut x = Array3::zeros((n_t, n_w, phis.len()));
        for (d, &phi) in phis.iter().enumerate() {
            for k in 0..n_w {
                let mut v = 0.0;
                for t in 0..n_t {
                    v = phi * v + (g.next() - 0.5);
                    x[[t, k, d]] = v;
                }
            }
        }
        x
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    /// Recorded with emcee 3.1.6, numpy 2.4.6: `x = ar1(3000, 6, [0.5, 0.9, 0.99], 42)`
    /// (x[0,0,0] = 0.0682303266439076, x[2999,5,2] = -0.24679979332410296), then
    /// `emcee.autocorr.integrated_time(x, quiet=True)` (the third parameter warns: the chain
    /// is shorter than 50 tau), and `integrated_time(ar1(1000, 1, [0.7], 7)[:, 0, 0],
    /// quiet=True)` (one walker, a length that is not a power of two).
    #[test]
    fn integrated_time_equals_emcee() {
        let x = ar1(3000, 6, &[0.5, 0.9, 0.99], 42);
        assert_eq!(x[[0, 0, 0]], 0.0682303266439076);
        assert_eq!(x[[2999, 5, 2]], -0.24679979332410296);
        let tau = integrated_time(x.view(), 5.0);
        let emcee = [2.904262797189127, 19.56036111183509, 84.84696228409898];
        for (t, e) in tau.iter().zip(emcee) {
            assert!(close(*t, e, 1e-12), "{t} vs emcee {e}");
        }
        let y = ar1(1000, 1, &[0.7], 7);
        let tau = integrated_time(y.view(), 5.0);
        assert!(close(tau[0], 5.821063919480767, 1e-12), "{}", tau[0]);
        // theory for AR(1): (1 + phi) / (1 - phi) = 3, 19, 199 (the last chain is too short)
    }

    #[test]
    fn integrated_time_of_a_stuck_walker_is_nan() {
        // emcee: function_1d of a constant series is 0/0, so the parameter's tau is NaN
        let mut x = ar1(200, 4, &[0.5, 0.5], 3);
        x.slice_mut(s![.., 2, 1]).fill(0.25);
        let tau = integrated_time(x.view(), 5.0);
        assert!(tau[0].is_finite() && tau[1].is_nan(), "{tau}");
    }

    /// Recorded with numpy 2.4.6: `v` = the first 1001 uniforms of `Lcg(5)`;
    /// `np.quantile(v, [0.05, 0.5, 0.95])` and the same of `v[:10]`.
    #[test]
    fn quantile_equals_numpy_linear() {
        let mut g = Lcg(5);
        let v: Vec<f64> = (0..1001).map(|_| g.next()).collect();
        let cases: [(&[f64], [f64; 3]); 2] = [
            (
                &v,
                [0.04221805871559037, 0.5035021246020525, 0.9398010930684554],
            ),
            (
                &v[..10],
                [0.16978357286715234, 0.3760938487745508, 0.865975048182115],
            ),
        ];
        for (data, want) in cases {
            for (q, w) in [0.05, 0.5, 0.95].into_iter().zip(want) {
                let mut d = data.to_vec();
                assert_eq!(quantile_linear(&mut d, q), w, "q = {q}, n = {}", data.len());
            }
        }
        // by hand: sorted [1, 2, 3, 4], (n - 1) q = 0.15 -> 1 + 0.15; q = 1 -> max; empty NaN
        assert_eq!(quantile_linear(&mut [4.0, 1.0, 3.0, 2.0], 0.05), 1.15);
        assert_eq!(quantile_linear(&mut [4.0, 1.0, 3.0, 2.0], 1.0), 4.0);
        assert!(quantile_linear(&mut [], 0.5).is_nan());
    }

    #[test]
    fn gaussian_density_by_hand() {
        // S = [[4, 2], [2, 2]]: S^-1 = [[0.5, -0.5], [-0.5, 1]]; at x - m = (1, 1):
        // (x-m)' S^-1 (x-m) = 0.5 - 1 + 1 = 0.5 -> log p = -0.25
        let g =
            GaussianDensity::new(vec![0.5, 0.25], array![[4.0, 2.0], [2.0, 2.0]].view()).unwrap();
        let lp = g.log_prob(array![[1.5, 1.25], [0.5, 0.25]].view()).unwrap();
        assert!((lp[0] + 0.25).abs() < 1e-15 && lp[1] == 0.0, "{lp}");
        let e = GaussianDensity::new(vec![0.0, 0.0], array![[1.0, 2.0], [2.0, 1.0]].view());
        assert!(e.unwrap_err().to_string().contains("not positive definite"));
    }

    /// The 6-D test posterior: means 4.5 to 8.8 standard deviations from the box's faces,
    /// correlations from -0.5 to 0.7.
    fn gaussian6() -> (Vec<f64>, Array2<f64>) {
        let mu = vec![0.35, 0.5, 0.65, 0.45, 0.55, 0.6];
        let sd = [0.05, 0.06, 0.04, 0.07, 0.05, 0.06];
        let mut r = Array2::<f64>::eye(6);
        for &(i, j, v) in &[
            (0, 1, 0.6),
            (2, 3, -0.5),
            (4, 5, 0.7),
            (0, 2, 0.3),
            (1, 4, -0.2),
        ] {
            r[[i, j]] = v;
            r[[j, i]] = v;
        }
        let cov = Array2::from_shape_fn((6, 6), |(i, j)| r[[i, j]] * (sd[i.min(j)] * sd[i.max(j)]));
        (mu, cov)
    }

    /// Mean, quantiles and covariance of a chain on the Gaussian `(mu, cov)` within 4
    /// Monte Carlo standard errors (from the chain's effective sample sizes).
    fn assert_moments(chain: &Chain, mu: &[f64], cov: &Array2<f64>) {
        let sum = chain.summary();
        let ess_min = sum.ess.iter().cloned().fold(f64::INFINITY, f64::min);
        let m = chain.mean();
        let c = chain.covariance();
        for i in 0..6 {
            let sd = cov[[i, i]].sqrt();
            let se = sd / sum.ess[i].sqrt();
            assert!(4.0 * se < 0.1 * sd, "test too weak: se {se}");
            assert!(
                (m[i] - mu[i]).abs() < 4.0 * se,
                "mean {i}: {} vs {} (se {se})",
                m[i],
                mu[i]
            );
            assert_eq!(sum.mean[i], m[i]);
            // quantiles of the marginal normal: mu -+ 1.6449 sd; se of a quantile
            // sqrt(p (1-p) / n) / pdf(z_p) = 2.11 sd / sqrt(n)
            let zq = 1.6448536269514722;
            let se_q = (0.05f64 * 0.95).sqrt() / (0.10313564037537128) * sd / sum.ess[i].sqrt();
            assert!(
                (sum.p05[i] - (mu[i] - zq * sd)).abs() < 4.0 * se_q,
                "p05 {i}"
            );
            assert!(
                (sum.p95[i] - (mu[i] + zq * sd)).abs() < 4.0 * se_q,
                "p95 {i}"
            );
            assert!((sum.p50[i] - mu[i]).abs() < 4.0 * 1.2533 * se, "p50 {i}");
            for j in 0..6 {
                // Var(s_ij) = (S_ii S_jj + S_ij^2) / n for Gaussian samples
                let se_c = ((cov[[i, i]] * cov[[j, j]] + cov[[i, j]].powi(2)) / ess_min).sqrt();
                assert!(
                    (c[[i, j]] - cov[[i, j]]).abs() < 4.0 * se_c,
                    "cov ({i},{j}): {} vs {} (se {se_c})",
                    c[[i, j]],
                    cov[[i, j]]
                );
            }
        }
    }

    #[test]
    fn gaussian_6d_mean_and_covariance_within_monte_carlo_error() {
        let (mu, cov) = gaussian6();
        let g = GaussianDensity::new(mu.clone(), cov.view()).unwrap();
        let s = McmcSettings {
            walkers: 48,
            steps: 6000,
            burn: 1000,
            thin: 1,
            seed: 11,
            a: 2.0,
            de: 0.0, // emcee's stretch move alone, as the emcee run below
        };
        let chain = sample(&g, &Start::Uniform, &s).unwrap();
        let sum = chain.summary();
        assert!(sum.tau_reliable.iter().all(|&r| r), "{:?}", sum.tau);
        let ess_min = sum.ess.iter().cloned().fold(f64::INFINITY, f64::min);
        // tau of the stretch move on a 6-D Gaussian: tens of steps, so thousands of samples
        assert!(ess_min > 2000.0, "ess {:?}", sum.ess);
        assert_moments(&chain, &mu, &cov);
        // emcee 3.1.6 on the same posterior (48 walkers, 6000 steps, vectorized, seeds 1
        // and 2): mean acceptance 0.5150 and 0.5153; tau 57.7-65.3 and 56.7-63.0 steps
        assert!((sum.acceptance - 0.515).abs() < 0.01, "{}", sum.acceptance);
        assert!(
            sum.tau.iter().all(|t| (40.0..80.0).contains(t)),
            "{:?}",
            sum.tau
        );
        assert!(chain.acceptance().iter().all(|&a| a > 0.3));
        crate::output::eprintln(&format!(
            "gaussian6: acceptance {:.3}, tau {:?}, ess {:?}",
            sum.acceptance, sum.tau, sum.ess
        ));
    }

    /// The differential-evolution move alone, and the default mixture, sample the same
    /// 6-D Gaussian as the stretch move, with shorter autocorrelation times than its 57-65
    /// steps (emcee's, above).
    #[test]
    fn differential_evolution_samples_the_gaussian_with_shorter_tau() {
        let (mu, cov) = gaussian6();
        let g = GaussianDensity::new(mu.clone(), cov.view()).unwrap();
        for de in [1.0, DE_FRACTION] {
            let s = McmcSettings {
                walkers: 48,
                steps: 4000,
                burn: 1000,
                seed: 12,
                de,
                ..McmcSettings::default()
            };
            let chain = sample(&g, &Start::Uniform, &s).unwrap();
            let sum = chain.summary();
            assert!(
                sum.tau_reliable.iter().all(|&r| r),
                "de {de}: {:?}",
                sum.tau
            );
            assert!(
                sum.tau.iter().all(|&t| t < 40.0),
                "de {de}: tau {:?}",
                sum.tau
            );
            assert_moments(&chain, &mu, &cov);
        }
        let bad = McmcSettings {
            de: 1.5,
            ..McmcSettings::default()
        };
        assert!(bad
            .check(6)
            .unwrap_err()
            .to_string()
            .contains("de = 1.5 must be a fraction"));
    }

    #[test]
    fn flat_density_fills_the_box_and_never_sees_outside() {
        // posterior = uniform prior: mean 1/2, variance 1/12, quantiles 0.05 / 0.5 / 0.95
        let outside = AtomicBool::new(false);
        let f = FnDensity::new(3, |x: &[f64]| {
            if !inside(x) {
                outside.store(true, Ordering::Relaxed);
            }
            0.0
        });
        let s = McmcSettings {
            walkers: 20,
            steps: 5000,
            burn: 500,
            seed: 4,
            ..McmcSettings::default()
        };
        let chain = sample(&f, &Start::Uniform, &s).unwrap();
        assert!(!outside.load(Ordering::Relaxed));
        let sum = chain.summary();
        let c = chain.covariance();
        for j in 0..3 {
            let n = sum.ess[j];
            let se = (1.0f64 / 12.0).sqrt() / n.sqrt();
            assert!((sum.mean[j] - 0.5).abs() < 4.0 * se, "{:?}", sum.mean);
            // se of a quantile of U(0, 1): sqrt(p (1 - p) / n)
            let se_q = (0.05f64 * 0.95 / n).sqrt();
            assert!((sum.p05[j] - 0.05).abs() < 4.0 * se_q, "{:?}", sum.p05);
            assert!((sum.p95[j] - 0.95).abs() < 4.0 * se_q, "{:?}", sum.p95);
            assert!(
                (sum.p50[j] - 0.5).abs() < 4.0 * 0.5 / n.sqrt(),
                "{:?}",
                sum.p50
            );
            // Var of the sample variance of U(0,1): (1/80 - 1/144) / n
            let se_v = ((1.0 / 80.0 - 1.0 / 144.0) / n).sqrt();
            assert!((c[[j, j]] - 1.0 / 12.0).abs() < 4.0 * se_v, "{c}");
        }
        // the kept samples are all inside the box
        assert!(chain.flat().iter().all(|v| (0.0..=1.0).contains(v)));
    }

    /// A Gaussian whose batch is evaluated in parallel chunks (as an emulator would).
    struct ParallelGaussian(GaussianDensity);
    impl LogDensity for ParallelGaussian {
        fn dim(&self) -> usize {
            self.0.dim()
        }
        fn log_prob(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
            let parts: Vec<Array1<f64>> = x
                .axis_chunks_iter(ndarray::Axis(0), 3)
                .into_par_iter()
                .map(|c| self.0.log_prob(c))
                .collect::<Result<_>>()?;
            let all: Vec<f64> = parts.iter().flat_map(|p| p.iter().copied()).collect();
            Ok(Array1::from(all))
        }
    }

    #[test]
    fn same_seed_same_chain_whatever_the_thread_count() {
        let (mu, cov) = gaussian6();
        let g = ParallelGaussian(GaussianDensity::new(mu, cov.view()).unwrap());
        let s = McmcSettings {
            walkers: 24,
            steps: 300,
            burn: 100,
            thin: 2,
            seed: 9,
            a: 2.0,
            de: DE_FRACTION,
        };
        let run = |threads: usize, seed: u64| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let s = McmcSettings { seed, ..s.clone() };
                let c = sample(&g, &Start::Uniform, &s).unwrap();
                (
                    c.samples().to_owned(),
                    c.log_probs().to_owned(),
                    c.summary(),
                )
            })
        };
        let one = run(1, 9);
        let four = run(4, 9);
        assert_eq!(one.0, four.0);
        assert_eq!(one.1, four.1);
        assert_eq!(one.2, four.2);
        assert_eq!(one.0.dim(), (100, 24, 6));
        let other = run(1, 10);
        assert_ne!(one.0, other.0);
    }

    #[test]
    fn burn_and_thin_keep_emcee_steps() {
        // emcee's get_chain(discard, thin) keeps steps discard + thin - 1 :: thin; the random
        // stream does not depend on what is kept, so the thinned chain is a slice of the full
        let (mu, cov) = gaussian6();
        let g = GaussianDensity::new(mu, cov.view()).unwrap();
        let full_s = McmcSettings {
            walkers: 12,
            steps: 50,
            burn: 0,
            thin: 1,
            seed: 2,
            a: 2.0,
            de: DE_FRACTION,
        };
        let full = sample(&g, &Start::Uniform, &full_s).unwrap();
        let thin_s = McmcSettings {
            burn: 7,
            thin: 4,
            ..full_s.clone()
        };
        assert_eq!(thin_s.kept_steps(), 10);
        let thin = sample(&g, &Start::Uniform, &thin_s).unwrap();
        assert_eq!(thin.samples(), full.samples().slice(s![10..50;4, .., ..]));
        assert_eq!(thin.log_probs(), full.log_probs().slice(s![10..50;4, ..]));
        assert_eq!(thin.last(), full.last());
        assert_eq!(thin.acceptance(), full.acceptance());
        // log-probs are the density's values at the samples
        let lp = g.log_prob(thin.flat()).unwrap();
        assert_eq!(lp, Array1::from_iter(thin.log_probs().iter().copied()));
        // tau is reported in steps of the unthinned chain
        let t = integrated_time(thin.samples(), 5.0);
        assert_eq!(thin.autocorr_time(), t * 4.0);
    }

    #[test]
    fn settings_are_checked() {
        let ok = McmcSettings::default();
        assert!(ok.check(6).is_ok());
        let cases = [
            (
                McmcSettings {
                    walkers: 11,
                    ..ok.clone()
                },
                4,
                "walkers = 11 must be even and at least 2 x 4 parameters = 8",
            ),
            (
                McmcSettings {
                    walkers: 10,
                    ..ok.clone()
                },
                6,
                "walkers = 10 must be even and at least 2 x 6 parameters = 12",
            ),
            (
                McmcSettings {
                    thin: 0,
                    ..ok.clone()
                },
                2,
                "thin = 0",
            ),
            (
                McmcSettings {
                    burn: 5000,
                    ..ok.clone()
                },
                2,
                "burn = 5000 must be below steps = 5000",
            ),
            (
                McmcSettings {
                    thin: 5000,
                    ..ok.clone()
                },
                2,
                "keeps no step",
            ),
            (
                McmcSettings {
                    a: 1.0,
                    ..ok.clone()
                },
                2,
                "a = 1 must be",
            ),
            (
                McmcSettings {
                    steps: usize::MAX,
                    ..ok.clone()
                },
                2,
                "raise thin",
            ),
        ];
        for (s, dim, want) in cases {
            let e = s.check(dim).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn bad_starts_and_densities_are_errors() {
        let s = McmcSettings {
            walkers: 4,
            steps: 10,
            burn: 0,
            ..McmcSettings::default()
        };
        let g = FnDensity::new(2, |x: &[f64]| -x[0]);
        let err = |start: Start| sample(&g, &start, &s).unwrap_err().to_string();
        let same = Start::Walkers(array![[0.1, 0.5], [0.2, 0.5], [0.3, 0.5], [0.4, 0.5]]);
        assert!(err(same).contains("same value of parameter 1"));
        let line = Start::Walkers(array![[0.1, 0.2], [0.2, 0.4], [0.3, 0.6], [0.4, 0.8]]);
        assert!(err(line).contains("lower-dimensional subspace"));
        let out = Start::Walkers(array![[0.1, 0.2], [0.2, 1.4], [0.3, 0.6], [0.4, 0.8]]);
        assert!(err(out).contains("starting walker 1 (0.2, 1.4) is outside"));
        let small = Start::Walkers(array![[0.1, 0.2]]);
        assert!(err(small).contains("are 1 x 2, the settings ask for 4 walkers"));
        let ball = Start::Ball {
            center: vec![0.5, 1.5],
            radius: 0.1,
        };
        assert!(err(ball).contains("center (0.5, 1.5) is outside"));
        let ball = Start::Ball {
            center: vec![0.5],
            radius: 0.1,
        };
        assert!(err(ball).contains("center has 1 values"));
        // a ball start stays near its center and inside the box
        let ball = Start::Ball {
            center: vec![0.0, 0.5],
            radius: 0.01,
        };
        let c = sample(
            &g,
            &ball,
            &McmcSettings {
                steps: 1,
                ..s.clone()
            },
        )
        .unwrap();
        assert!(c.flat().iter().all(|v| (0.0..=1.0).contains(v)));

        let nan = FnDensity::new(2, |x: &[f64]| if x[0] > 0.5 { f64::NAN } else { 0.0 });
        let e = sample(
            &nan,
            &Start::Uniform,
            &McmcSettings {
                steps: 1000,
                ..s.clone()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("the log-density is NaN at ("), "{e}");
        let inf = FnDensity::new(
            2,
            |x: &[f64]| if x[0] > 0.5 { f64::NEG_INFINITY } else { 0.0 },
        );
        let start = Start::Walkers(array![[0.1, 0.2], [0.2, 0.1], [0.3, 0.6], [0.6, 0.8]]);
        let e = sample(&inf, &start, &s).unwrap_err().to_string();
        assert!(e.contains("-inf at starting walker 3 (0.6, 0.8)"), "{e}");
    }

    #[test]
    fn posterior_rows_and_csv() {
        let sum = PosteriorSummary {
            mean: vec![0.25, 0.5],
            p05: vec![0.125, 0.1],
            p50: vec![0.25, 0.5],
            p95: vec![0.375, 0.9],
            acceptance: 0.5,
            tau: vec![40.0, f64::NAN],
            ess: vec![1000.0, f64::NAN],
            tau_reliable: vec![true, false],
            walkers: 100,
            kept_steps: 400,
            converged: false,
            steps: 5000,
            burn: 1000,
            thin: 10,
        };
        let names = vec!["fff".to_string(), "medlynslope".to_string()];
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("posterior.csv");
        sum.write_csv(&p, &names).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "parameter,mean,p05,p50,p95,acceptance,tau,ess,tau_reliable,converged,steps,burn,thin\n\
             fff,0.25,0.125,0.25,0.375,0.5,40,1000,true,false,5000,1000,10\n\
             medlynslope,0.5,0.1,0.5,0.9,0.5,,,false,false,5000,1000,10\n"
        );
        let e = sum.rows(&names[..1]).unwrap_err().to_string();
        assert!(e.contains("1 parameter names for 2 parameters"), "{e}");
    }

    #[test]
    fn gaussian_6d_runs_until_converged() {
        let (mu, cov) = gaussian6();
        let g = GaussianDensity::new(mu.clone(), cov.view()).unwrap();
        let s = ConvergeSettings {
            walkers: 48,
            seed: 11,
            de: 0.0, // the stretch move alone: its tau is emcee's (below)
            ..ConvergeSettings::default()
        };
        let chain = sample_until_converged(&g, &Start::Uniform, &s).unwrap();
        let c = chain.convergence().unwrap().clone();
        let names: Vec<String> = (0..6).map(|j| format!("x{j}")).collect();
        crate::output::eprintln(&c.message(&names).to_string());
        assert!(c.converged, "{}", c.message(&names));
        assert_eq!(c.stop, Stop::Converged);
        // the rule: the chain after burn-in is longer than 50 tau for every parameter, and
        // burn-in and thinning come from tau (2 tau_max, tau_min / 2 of the whole chain)
        let tau_max = c.tau.iter().copied().fold(0.0, f64::max);
        assert!((c.steps - c.burn) as f64 > 50.0 * tau_max, "{c:?}");
        let all_max = c.tau_all.iter().copied().fold(0.0, f64::max);
        let all_min = c.tau_all.iter().copied().fold(f64::INFINITY, f64::min);
        assert_eq!(c.burn, ((2.0 * all_max).ceil() as usize).min(c.steps / 2));
        assert_eq!(c.thin, ((all_min / 2.0).floor() as usize).max(1));
        assert!(c.thin > 1 && c.burn > 50);
        assert!(c.tau_change.iter().all(|&d| d < 0.05), "{:?}", c.tau_change);
        assert!(c.message(&names).starts_with("MCMC converged after"));
        // the summary agrees with the verdict, and reports the same tau
        let sum = chain.summary();
        assert!(sum.converged && sum.tau_reliable.iter().all(|&r| r));
        assert_eq!(sum.tau, c.tau);
        assert_eq!((sum.steps, sum.burn, sum.thin), (c.steps, c.burn, c.thin));
        assert_eq!(sum.kept_steps, (c.steps - c.burn) / c.thin);
        // emcee's tau on this posterior is 57-65 steps (see the fixed-steps test)
        assert!(
            sum.tau.iter().all(|t| (40.0..80.0).contains(t)),
            "{:?}",
            sum.tau
        );
        // the posterior is right: means within 4 standard errors
        for i in 0..6 {
            let se = cov[[i, i]].sqrt() / sum.ess[i].sqrt();
            assert!((sum.mean[i] - mu[i]).abs() < 4.0 * se, "mean {i}");
        }
        // the same seed gives the same chain; a run to convergence starts as a fixed run
        let again = sample_until_converged(&g, &Start::Uniform, &s).unwrap();
        assert_eq!(again.samples(), chain.samples());
        let fixed = sample(
            &g,
            &Start::Uniform,
            &McmcSettings {
                walkers: 48,
                steps: c.steps,
                burn: c.burn,
                thin: c.thin,
                seed: 11,
                a: 2.0,
                de: 0.0,
            },
        )
        .unwrap();
        assert_eq!(fixed.samples(), chain.samples());
        assert_eq!(fixed.log_probs(), chain.log_probs());
        assert_eq!(fixed.last(), chain.last());
        // the draws of a converged run are its kept steps
        assert_eq!(chain.draws_thin(), 1);
        assert_eq!(chain.draws(), chain.flat());
    }

    #[test]
    fn a_budget_too_small_says_it_did_not_converge() {
        let (mu, cov) = gaussian6();
        let g = GaussianDensity::new(mu, cov.view()).unwrap();
        let names: Vec<String> = ["medlynslope", "dleaf", "kmax", "fff", "dint", "baseflow"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let s = ConvergeSettings {
            walkers: 24,
            max_steps: 600,
            seed: 2,
            ..ConvergeSettings::default()
        };
        let chain = sample_until_converged(&g, &Start::Uniform, &s).unwrap();
        let c = chain.convergence().unwrap();
        assert!(!c.converged);
        assert_eq!((c.stop, c.steps), (Stop::MaxSteps, 600));
        assert!(!chain.summary().converged);
        let m = c.message(&names);
        crate::output::eprintln(&m.to_string());
        assert!(m.starts_with("MCMC did not converge: chain "), "{m}");
        assert!(
            m.contains("< 50 tau (tau_max ") && m.ends_with("; raise max_steps"),
            "{m}"
        );
        // the parameter with the longest tau is named
        let worst = (0..6)
            .max_by(|&a, &b| c.tau[a].total_cmp(&c.tau[b]))
            .unwrap();
        assert!(m.contains(&names[worst]), "{m}");
        // out of time: the message says which budget to raise
        let s = ConvergeSettings {
            max_seconds: 1e-9,
            ..s
        };
        let chain = sample_until_converged(&g, &Start::Uniform, &s).unwrap();
        let c = chain.convergence().unwrap();
        assert_eq!((c.stop, c.steps, c.converged), (Stop::MaxSeconds, 1, false));
        let m = c.message(&names);
        assert!(
            m.contains("stopped by max_seconds = 0.000000001 after 1 steps; raise max_seconds"),
            "{m}"
        );
    }

    #[test]
    fn converge_settings_are_checked() {
        let ok = ConvergeSettings::default();
        assert!(ok.check(6).is_ok());
        let cases = [
            (
                ConvergeSettings {
                    walkers: 10,
                    ..ok.clone()
                },
                "walkers = 10",
            ),
            (
                ConvergeSettings {
                    max_steps: 1,
                    ..ok.clone()
                },
                "max_steps = 1",
            ),
            (
                ConvergeSettings {
                    max_seconds: 0.0,
                    ..ok.clone()
                },
                "max_seconds = 0",
            ),
            (
                ConvergeSettings {
                    burn: Some(20_000),
                    ..ok.clone()
                },
                "burn = 20000 must be below max_steps",
            ),
            (
                ConvergeSettings {
                    thin: Some(0),
                    ..ok.clone()
                },
                "thin = 0",
            ),
            (
                ConvergeSettings {
                    rtol: 0.0,
                    ..ok.clone()
                },
                "rtol = 0",
            ),
            (
                ConvergeSettings {
                    max_steps: usize::MAX,
                    ..ok.clone()
                },
                "lower max_steps",
            ),
        ];
        for (s, want) in cases {
            let e = s.check(6).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn posterior_samples_round_trip() {
        let (mu, cov) = gaussian6();
        let g = GaussianDensity::new(mu, cov.view()).unwrap();
        let s = McmcSettings {
            walkers: 12,
            steps: 400,
            burn: 100,
            thin: 1,
            seed: 3,
            a: 2.0,
            de: DE_FRACTION,
        };
        let chain = sample(&g, &Start::Uniform, &s).unwrap();
        // a fixed run's draws are thinned to about half the shortest tau
        let k = chain.draws_thin();
        let tau_min = chain
            .autocorr_time()
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        assert_eq!(k, ((tau_min / 2.0).floor() as usize).max(1));
        let draws = chain.draws();
        assert_eq!(draws.nrows(), (300 / k) * 12);
        assert_eq!(draws.row(0), chain.samples().slice(s![k - 1, 0, ..]));
        let names: Vec<String> = ["kmax", "fff", "dint", "a", "b", "c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let n = write_posterior_samples(&dir.path().join("posterior_samples.csv"), &chain, &names)
            .unwrap();
        assert_eq!(n, draws.nrows());
        let text = std::fs::read_to_string(dir.path().join("posterior_samples.csv")).unwrap();
        assert!(
            text.starts_with("draw,kmax,fff,dint,a,b,c\n1,"),
            "{}",
            &text[..40]
        );
        let (got_names, got) = crate::calibrate::load_posterior_samples(dir.path()).unwrap();
        assert_eq!(got_names, names);
        assert_eq!(got, draws); // every bit
                                // errors name the file
        let e = crate::calibrate::load_posterior_samples(&dir.path().join("nowhere"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no posterior samples"), "{e}");
        std::fs::write(dir.path().join("bad.csv"), "x,kmax\n1,0.5\n").unwrap();
        let e = crate::calibrate::load_posterior_samples(&dir.path().join("bad.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("the first column must be 'draw'"), "{e}");
    }
}
