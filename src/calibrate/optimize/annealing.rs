//! Dual annealing after `scipy.optimize.dual_annealing` (scipy 1.17; Xiang et al. 1997,
//! Tsallis & Stariolo 1996) on `[0, 1]^d`:
//!
//! - temperature at step `i` of a cycle: `T = T0 (2^(qv-1) - 1) / ((i+2)^(qv-1) - 1)`;
//!   when it falls below `T0 * restart_temp_ratio` the walk restarts at a uniform random
//!   point (the best point so far is kept) and the cycle starts again;
//! - each step runs a Markov chain of `2d` visits from the current point: the first `d`
//!   move every coordinate, the next `d` one coordinate each, by draws from the distorted
//!   Cauchy-Lorentz visiting distribution with parameter `qv` (2.62), tails cut at `1e8`,
//!   wrapped back into the box;
//! - a better visit is taken; a worse one with the generalised Metropolis probability
//!   `(1 - (1 - qa) (e - e_cur) / T_step)^(1 / (1 - qa))`, `qa = -5`, `T_step = T / (i+1)`;
//! - after the chain, L-BFGS-B (iteration limit `min(max(6d, 100), 1000)`) from the best
//!   point when the chain improved it, and from the chain's own best when there was no
//!   improvement for long (first 1000 steps, then `d` steps);
//! - stops after `maxiter` steps in all (counting across restarts) or `maxfun` evaluations.
//!
//! scipy also has a branch doing a local search with probability `exp(K (e_best - e) /
//! T_step)` when `K < 90 d`, but its `K` is fixed at `100 d`, so that branch never runs;
//! it is left out here.
//!
//! The chain is sequential (each visit starts from where the previous one left the walk),
//! so visits are evaluated one at a time; only the local searches' gradients are batches.
//! The random stream differs from numpy's: runs match scipy's in distribution only.

use super::at_least_one;
use super::local::{lbfgsb_from, LbfgsbSettings};
use super::{Counted, OptimumResult};
use crate::calibrate::Objective;
use anyhow::{bail, Result};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::f64::consts::PI;
use std::time::Instant;

/// Dual-annealing settings (scipy's defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct AnnealingSettings {
    /// Maximum number of annealing steps (over all restarts).
    pub maxiter: usize,
    /// Initial temperature.
    pub initial_temp: f64,
    /// Restart when the temperature falls below `initial_temp * restart_temp_ratio`.
    pub restart_temp_ratio: f64,
    /// Visiting-distribution parameter `qv`, in (1, 3).
    pub visit: f64,
    /// Acceptance parameter `qa`, in (-1e4, -5].
    pub accept: f64,
    /// Stop after this many evaluations.
    pub maxfun: usize,
    /// Skip the L-BFGS-B local searches (plain generalised simulated annealing).
    pub no_local_search: bool,
}

impl Default for AnnealingSettings {
    fn default() -> Self {
        AnnealingSettings {
            maxiter: 1000,
            initial_temp: 5230.0,
            restart_temp_ratio: 2e-5,
            visit: 2.62,
            accept: -5.0,
            maxfun: 10_000_000,
            no_local_search: false,
        }
    }
}

impl AnnealingSettings {
    /// Checks the settings (scipy's ranges).
    pub fn check(&self) -> Result<()> {
        at_least_one("dual_annealing", "maxiter", self.maxiter)?;
        if !(self.initial_temp > 0.01 && self.initial_temp <= 5e4) {
            bail!(
                "dual_annealing: initial_temp must be in (0.01, 5e4], got {}",
                self.initial_temp
            );
        }
        if !(self.restart_temp_ratio > 0.0 && self.restart_temp_ratio < 1.0) {
            bail!(
                "dual_annealing: restart_temp_ratio must be in (0, 1), got {}",
                self.restart_temp_ratio
            );
        }
        if !(self.visit > 1.0 && self.visit < 3.0) {
            bail!(
                "dual_annealing: visit must be in (1, 3), got {}",
                self.visit
            );
        }
        if !(self.accept > -1e4 && self.accept <= -5.0) {
            bail!(
                "dual_annealing: accept must be in (-1e4, -5], got {}",
                self.accept
            );
        }
        at_least_one("dual_annealing", "maxfun", self.maxfun)?;
        Ok(())
    }
}

/// `ln Gamma(x)` for `x > 0` (Lanczos, g = 7, 9 terms; relative error ~1e-15).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // reflection
        (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x)
    } else {
        let x = x - 1.0;
        let mut a = C[0];
        let t = x + G + 0.5;
        for (i, c) in C.iter().enumerate().skip(1) {
            a += c / (x + i as f64);
        }
        0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
    }
}

const TAIL_LIMIT: f64 = 1e8;
const MIN_VISIT_BOUND: f64 = 1e-10;

/// The distorted Cauchy-Lorentz visiting distribution (scipy's `VisitingDistribution`).
struct Visiting {
    qv: f64,
    factor4_p: f64,
    factor6: f64,
}

impl Visiting {
    fn new(qv: f64) -> Visiting {
        let factor2 = ((4.0 - qv) * (qv - 1.0).ln()).exp();
        let factor3 = ((2.0 - qv) * 2f64.ln() / (qv - 1.0)).exp();
        let factor4_p = PI.sqrt() * factor2 / (factor3 * (3.0 - qv));
        let factor5 = 1.0 / (qv - 1.0) - 0.5;
        let d1 = 2.0 - factor5;
        let factor6 = PI * (1.0 - factor5) / (PI * (1.0 - factor5)).sin() / ln_gamma(d1).exp();
        Visiting {
            qv,
            factor4_p,
            factor6,
        }
    }

    /// One draw of a step at `temperature`.
    fn step<R: Rng>(&self, rng: &mut R, temperature: f64) -> f64 {
        let qv = self.qv;
        let x: f64 = rng.sample(StandardNormal);
        let y: f64 = rng.sample(StandardNormal);
        let factor1 = (temperature.ln() / (qv - 1.0)).exp();
        let factor4 = self.factor4_p * factor1;
        let x = x * (-(qv - 1.0) * (self.factor6 / factor4).ln() / (3.0 - qv)).exp();
        let den = ((qv - 1.0) * y.abs().ln() / (3.0 - qv)).exp();
        x / den
    }

    /// A visit from `x` into `out` at chain step `j` (all coordinates for `j < d`, else
    /// coordinate `j - d`), wrapped into `[0, 1)`.
    fn visit<R: Rng>(&self, rng: &mut R, x: &[f64], j: usize, temperature: f64, out: &mut [f64]) {
        let d = x.len();
        let wrap = |v: f64| -> f64 {
            // scipy: fmod(fmod(v - lower, range) + range, range) + lower with range 1
            let mut w = ((v % 1.0) + 1.0) % 1.0;
            if w.abs() < MIN_VISIT_BOUND {
                w += MIN_VISIT_BOUND;
            }
            w
        };
        if j < d {
            // scipy draws all d steps, then two uniforms for the tail cut
            out.copy_from_slice(x);
            for o in out.iter_mut() {
                *o = self.step(rng, temperature);
            }
            let upper: f64 = rng.gen();
            let lower: f64 = rng.gen();
            for (o, &xi) in out.iter_mut().zip(x) {
                let mut v = *o;
                if v > TAIL_LIMIT {
                    v = TAIL_LIMIT * upper;
                } else if v < -TAIL_LIMIT {
                    v = -TAIL_LIMIT * lower;
                }
                *o = wrap(v + xi);
            }
        } else {
            out.copy_from_slice(x);
            let mut v = self.step(rng, temperature);
            if v > TAIL_LIMIT {
                v = TAIL_LIMIT * rng.gen::<f64>();
            } else if v < -TAIL_LIMIT {
                v = -TAIL_LIMIT * rng.gen::<f64>();
            }
            let k = j - d;
            out[k] = wrap(v + x[k]);
        }
    }
}

/// The annealing state: current point, best point, chain bookkeeping.
struct Walk<'a, 'b> {
    f: &'b Counted<'a>,
    s: &'b AnnealingSettings,
    ls: LbfgsbSettings,
    ls_maxiter: usize,
    current: Vec<f64>,
    e_current: f64,
    best: Vec<f64>,
    e_best: f64,
    xmin: Vec<f64>,
    emin: f64,
    not_improved: usize,
    not_improved_max: usize,
    improved: bool,
    local_iterations: usize,
}

impl Walk<'_, '_> {
    /// A random start with a finite cost (up to 1000 redraws, as scipy).
    fn reset<R: Rng>(&mut self, rng: &mut R) -> Result<()> {
        let d = self.current.len();
        for _ in 0..=1000 {
            for v in self.current.iter_mut() {
                *v = rng.gen();
            }
            self.e_current = self.f.eval_one(&self.current)?;
            if self.e_current.is_finite() {
                return Ok(());
            }
        }
        bail!("dual_annealing: the cost is +inf at 1001 random points of [0, 1]^{d}")
    }

    fn out_of_budget(&self) -> bool {
        self.f.nfev() >= self.s.maxfun
    }

    /// One Markov chain at `temperature`, step `step` of the cycle; `Some(message)` stops.
    fn chain<R: Rng>(
        &mut self,
        rng: &mut R,
        v: &Visiting,
        step: usize,
        temperature: f64,
        visit: &mut [f64],
    ) -> Result<Option<String>> {
        let d = self.current.len();
        let t_step = temperature / (step as f64 + 1.0);
        self.not_improved += 1;
        for j in 0..2 * d {
            if j == 0 {
                self.improved = step == 0;
            }
            v.visit(rng, &self.current, j, temperature, visit);
            let e = self.f.eval_one(visit)?;
            if e < self.e_current {
                self.e_current = e;
                self.current.copy_from_slice(visit);
                if e < self.e_best {
                    self.e_best = e;
                    self.best.copy_from_slice(visit);
                    self.improved = true;
                    self.not_improved = 0;
                }
            } else {
                let r: f64 = rng.gen();
                let p = 1.0 - (1.0 - self.s.accept) * (e - self.e_current) / t_step;
                let pqv = if p <= 0.0 {
                    0.0
                } else {
                    (p.ln() / (1.0 - self.s.accept)).exp()
                };
                if r <= pqv && pqv > 0.0 {
                    self.e_current = e;
                    self.current.copy_from_slice(visit);
                    self.xmin.copy_from_slice(visit);
                }
                if self.not_improved >= self.not_improved_max
                    && (j == 0 || self.e_current < self.emin)
                {
                    self.emin = self.e_current;
                    self.xmin.copy_from_slice(&self.current);
                }
            }
            if self.out_of_budget() {
                return Ok(Some(
                    "maximum number of evaluations reached during annealing".into(),
                ));
            }
        }
        Ok(None)
    }

    /// L-BFGS-B from `x` whose cost is `e`: the better of the two.
    fn local(&mut self, x: &[f64], e: f64) -> Result<(f64, Vec<f64>)> {
        let r = lbfgsb_from(self.f, x, &self.ls, self.ls_maxiter)?;
        self.local_iterations += r.iterations;
        let valid = r.cost.is_finite() && r.x.iter().all(|v| (0.0..=1.0).contains(v));
        Ok(if valid && r.cost < e {
            (r.cost, r.x)
        } else {
            (e, x.to_vec())
        })
    }

    /// The local searches after a chain (scipy's `StrategyChain.local_search`).
    fn local_search(&mut self) -> Result<Option<String>> {
        if self.improved {
            let (e, x) = self.local(&self.best.clone(), self.e_best)?;
            if e < self.e_best {
                self.not_improved = 0;
                self.e_best = e;
                self.best.copy_from_slice(&x);
                self.e_current = e;
                self.current.copy_from_slice(&x);
            }
            if self.out_of_budget() {
                return Ok(Some(
                    "maximum number of evaluations reached during local search".into(),
                ));
            }
        }
        if self.not_improved >= self.not_improved_max {
            let (e, x) = self.local(&self.xmin.clone(), self.emin)?;
            self.xmin.copy_from_slice(&x);
            self.emin = e;
            self.not_improved = 0;
            self.not_improved_max = self.current.len();
            if e < self.e_best {
                self.e_best = e;
                self.best.copy_from_slice(&x);
                self.e_current = e;
                self.current.copy_from_slice(&x);
            }
            if self.out_of_budget() {
                return Ok(Some(
                    "maximum number of evaluations reached during dual annealing".into(),
                ));
            }
        }
        Ok(None)
    }
}

/// Dual annealing on `objective` (see the module documentation), seeded. `converged` is
/// true when it ran its `maxiter` steps (scipy's `success`), false when `maxfun` stopped it.
pub fn dual_annealing(
    objective: &dyn Objective,
    s: &AnnealingSettings,
    seed: u64,
) -> Result<OptimumResult> {
    s.check()?;
    let t = Instant::now();
    let f = Counted::new(objective)?;
    let d = f.dim();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = Walk {
        f: &f,
        s,
        ls: LbfgsbSettings::default(),
        ls_maxiter: (6 * d).clamp(100, 1000),
        current: vec![0.0; d],
        e_current: f64::INFINITY,
        best: vec![0.0; d],
        e_best: f64::INFINITY,
        xmin: vec![0.0; d],
        emin: f64::INFINITY,
        not_improved: 0,
        not_improved_max: 1000,
        improved: false,
        local_iterations: 0,
    };
    w.reset(&mut rng)?;
    w.best.copy_from_slice(&w.current);
    w.e_best = w.e_current;
    w.xmin.copy_from_slice(&w.current);
    w.emin = w.e_current;
    let v = Visiting::new(s.visit);
    let t_restart = s.initial_temp * s.restart_temp_ratio;
    let t1 = ((s.visit - 1.0) * 2f64.ln()).exp() - 1.0;
    let mut visit = vec![0.0; d];
    let mut iteration = 0;
    let mut stop: Option<String> = None;
    while stop.is_none() {
        for i in 0..s.maxiter {
            let t2 = ((s.visit - 1.0) * (i as f64 + 2.0).ln()).exp() - 1.0;
            let temperature = s.initial_temp * t1 / t2;
            if iteration >= s.maxiter {
                stop = Some(String::new());
                break;
            }
            if temperature < t_restart {
                w.reset(&mut rng)?;
                break;
            }
            if let Some(m) = w.chain(&mut rng, &v, i, temperature, &mut visit)? {
                stop = Some(m);
                break;
            }
            if !s.no_local_search {
                if let Some(m) = w.local_search()? {
                    stop = Some(m);
                    break;
                }
            }
            iteration += 1;
        }
    }
    let m = stop.unwrap_or_default();
    let (converged, message) = if m.is_empty() {
        (true, format!("ran its {} annealing steps", s.maxiter))
    } else {
        (false, m)
    };
    Ok(OptimumResult {
        method: "dual_annealing".into(),
        x: w.best.clone(),
        cost: w.e_best,
        nfev: f.nfev(),
        iterations: iteration,
        seconds: t.elapsed().as_secs_f64(),
        converged,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testfns::*;
    use super::*;
    use crate::calibrate::FnObjective;

    #[test]
    fn ln_gamma_matches_known_values() {
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(1.5) - (PI.sqrt() / 2.0).ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - PI.sqrt().ln()).abs() < 1e-13);
        assert!(ln_gamma(1.0).abs() < 1e-13 && ln_gamma(2.0).abs() < 1e-13);
    }

    const FACTOR4_P: f64 = 11.833986526687411;
    const FACTOR6: f64 = 8.054035404548975;

    #[test]
    fn visiting_factors_match_scipy() {
        // scipy 1.17.1: VisitingDistribution(lb, ub, 2.62, rng)._factor4_p, ._factor6
        let v = Visiting::new(2.62);
        assert!(
            (v.factor4_p - FACTOR4_P).abs() < 1e-12 * FACTOR4_P,
            "{}",
            v.factor4_p
        );
        assert!(
            (v.factor6 - FACTOR6).abs() < 1e-12 * FACTOR6,
            "{}",
            v.factor6
        );
    }

    #[test]
    fn visits_stay_in_the_box() {
        let v = Visiting::new(2.62);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let x = [0.0, 0.5, 1.0];
        let mut out = [0.0; 3];
        for j in 0..6 {
            for &temp in &[5230.0, 1.0, 1e-3] {
                v.visit(&mut rng, &x, j, temp, &mut out);
                for k in 0..3 {
                    if j < 3 || k == j - 3 {
                        // moved coordinates land in (0, 1)
                        assert!(out[k] > 0.0 && out[k] < 1.0, "{out:?}");
                    } else {
                        // one coordinate moved, the others kept
                        assert_eq!(out[k], x[k]);
                    }
                }
            }
        }
    }

    fn assert_at(r: &OptimumResult, u: f64, tol: f64) {
        assert!(r.cost.abs() < tol, "{r:?}");
        for &v in &r.x {
            assert!((v - u).abs() < tol, "{r:?}");
        }
    }

    #[test]
    fn annealing_finds_rosenbrock_rastrigin_ackley_6d() {
        let s = AnnealingSettings::default();
        let r = dual_annealing(&FnObjective::new(6, rosenbrock), &s, 1).unwrap();
        assert_at(&r, U_ROSENBROCK, 1e-4);
        let r = dual_annealing(&FnObjective::new(6, rastrigin), &s, 2).unwrap();
        assert_at(&r, U_RASTRIGIN, 1e-4);
        let r = dual_annealing(&FnObjective::new(6, ackley), &s, 3).unwrap();
        assert_at(&r, U_ACKLEY, 1e-4);
        assert!(r.converged && r.iterations == 1000, "{r:?}");
    }

    #[test]
    fn annealing_counts_evaluations_and_stops_at_maxfun() {
        let s = AnnealingSettings {
            maxfun: 500,
            ..AnnealingSettings::default()
        };
        let rows = std::sync::atomic::AtomicUsize::new(0);
        struct C<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Objective for C<'_> {
            fn dim(&self) -> usize {
                4
            }
            fn cost(&self, x: ndarray::ArrayView2<f64>) -> Result<ndarray::Array1<f64>> {
                self.0
                    .fetch_add(x.nrows(), std::sync::atomic::Ordering::Relaxed);
                Ok(x.rows()
                    .into_iter()
                    .map(|r| rastrigin(&r.to_vec()))
                    .collect())
            }
        }
        let r = dual_annealing(&C(&rows), &s, 9).unwrap();
        assert_eq!(r.nfev, rows.load(std::sync::atomic::Ordering::Relaxed));
        assert!(r.nfev >= 500 && !r.converged, "{r:?}");
        assert!(
            r.message.starts_with("maximum number of evaluations"),
            "{r:?}"
        );
    }
}
