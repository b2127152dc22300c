//! Differential evolution as `scipy.optimize.differential_evolution` (scipy 1.17) does it,
//! strategy `best1bin`, on `[0, 1]^d`:
//!
//! - population of `max(5, popsize * d)` members from a Latin hypercube, evaluated as one
//!   batch; the best member is kept in row 0;
//! - each generation draws the mutation factor uniformly in `dither` (default `[0.5, 1)`),
//!   or uses the fixed `mutation` when `dither` is `None`;
//! - member `i`'s trial: `b = best + F (x_r0 - x_r1)` with `r0 != r1`, both `!= i`, drawn
//!   uniformly; each coordinate is taken from `b` with probability `recombination` (0.7),
//!   and one coordinate drawn uniformly always is (binomial crossover); coordinates outside
//!   `[0, 1]` are replaced by uniform draws (scipy's `_ensure_constraint`);
//! - a trial replaces its member when its cost is `<=` the member's;
//! - after each generation: stop when `std(costs) <= atol + tol |mean(costs)|` (population
//!   standard deviation; never while a cost is `+inf`), else after `maxiter` generations;
//! - `polish`: L-BFGS-B from the best member; its end point is taken when it is better and
//!   its own stopping test was met (its evaluations count in `nfev`, not in iterations).
//!
//! [`Updating::Deferred`] (the default here) builds all trials of a generation from the
//! population as it stood and evaluates them as one batch, then replaces: scipy's
//! `updating="deferred"` (what scipy does with `workers` or `vectorized`). scipy's own
//! default is [`Updating::Immediate`]: one trial at a time, a better trial replaces its
//! member at once and becomes the best immediately, so later trials of the same generation
//! use it; it converges in fewer evaluations on some problems but cannot be batched (each
//! generation is `n` objective calls of one row).
//!
//! The random streams differ from numpy's, so runs match scipy's in distribution, not
//! draw for draw. Per generation the trial population and the random indices live in
//! buffers allocated once; the objective returns one cost array per generation.

use super::{argmin, Counted, OptimumResult};
use super::{at_least_one, non_negative};
use crate::calibrate::{latin_hypercube, Objective};
use anyhow::{bail, Result};
use ndarray::{Array1, Array2};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// When a better trial replaces its member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Updating {
    /// After the whole generation: the trials are one batch (scipy `updating="deferred"`).
    Deferred,
    /// At once, one trial at a time (scipy's default, `updating="immediate"`).
    Immediate,
}

/// Differential-evolution settings (scipy's defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct DeSettings {
    /// Population size multiplier: `max(5, popsize * d)` members.
    pub popsize: usize,
    /// Maximum number of generations.
    pub maxiter: usize,
    /// Relative tolerance on the spread of the population's costs.
    pub tol: f64,
    /// Absolute tolerance on the spread of the population's costs.
    pub atol: f64,
    /// Mutation factor drawn per generation uniformly in `[lo, hi)`; `None` uses `mutation`.
    pub dither: Option<(f64, f64)>,
    /// Fixed mutation factor (used when `dither` is `None`).
    pub mutation: f64,
    /// Crossover probability.
    pub recombination: f64,
    /// Finish with L-BFGS-B from the best member.
    pub polish: bool,
    /// When trials replace members.
    pub updating: Updating,
}

impl Default for DeSettings {
    fn default() -> Self {
        DeSettings {
            popsize: 15,
            maxiter: 1000,
            tol: 0.01,
            atol: 0.0,
            dither: Some((0.5, 1.0)),
            mutation: 0.8,
            recombination: 0.7,
            polish: true,
            updating: Updating::Deferred,
        }
    }
}

impl DeSettings {
    /// Checks the settings (scipy's ranges).
    pub fn check(&self) -> Result<()> {
        at_least_one("de", "popsize", self.popsize)?;
        at_least_one("de", "maxiter", self.maxiter)?;
        non_negative("de", "tol", self.tol)?;
        non_negative("de", "atol", self.atol)?;
        match self.dither {
            Some((lo, hi)) => {
                if !(0.0 <= lo && lo < hi && hi <= 2.0) {
                    bail!("de: dither must be 0 <= lo < hi <= 2, got ({lo}, {hi})");
                }
            }
            None => {
                if !(0.0..=2.0).contains(&self.mutation) {
                    bail!("de: mutation must be in [0, 2], got {}", self.mutation);
                }
            }
        }
        if !(0.0..=1.0).contains(&self.recombination) {
            bail!(
                "de: recombination must be in [0, 1], got {}",
                self.recombination
            );
        }
        Ok(())
    }
}

/// Population standard deviation and mean; `None` when a cost is `+inf`.
fn spread(e: &[f64]) -> Option<(f64, f64)> {
    if e.iter().any(|v| v.is_infinite()) {
        return None;
    }
    let n = e.len() as f64;
    let mean = e.iter().sum::<f64>() / n;
    let var = e.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    Some((var.sqrt(), mean))
}

/// Swaps the lowest cost (first of equal ones) into row 0.
fn promote_lowest(pop: &mut Array2<f64>, e: &mut [f64]) {
    let l = argmin(e);
    if l != 0 {
        e.swap(0, l);
        for j in 0..pop.ncols() {
            pop.swap([0, j], [l, j]);
        }
    }
}

/// Two distinct member indices, both different from `i`, uniform (`n >= 3`).
fn two_others<R: Rng>(rng: &mut R, n: usize, i: usize) -> (usize, usize) {
    let mut r0 = rng.gen_range(0..n - 1);
    if r0 >= i {
        r0 += 1;
    }
    let (a, b) = if i < r0 { (i, r0) } else { (r0, i) };
    let mut r1 = rng.gen_range(0..n - 2);
    if r1 >= a {
        r1 += 1;
    }
    if r1 >= b {
        r1 += 1;
    }
    (r0, r1)
}

/// Writes member `i`'s best1bin trial into `out`.
fn trial_into<R: Rng>(
    rng: &mut R,
    pop: &Array2<f64>,
    i: usize,
    scale: f64,
    cr: f64,
    out: &mut [f64],
) {
    let n = pop.nrows();
    let d = pop.ncols();
    let (r0, r1) = two_others(rng, n, i);
    let fill = rng.gen_range(0..d);
    for (j, o) in out.iter_mut().enumerate() {
        let u: f64 = rng.gen();
        *o = if u < cr || j == fill {
            pop[[0, j]] + scale * (pop[[r0, j]] - pop[[r1, j]])
        } else {
            pop[[i, j]]
        };
    }
    for o in out.iter_mut() {
        if *o > 1.0 || *o < 0.0 {
            *o = rng.gen();
        }
    }
}

/// Differential evolution on `objective` (see the module documentation), seeded.
pub fn differential_evolution(
    objective: &dyn Objective,
    s: &DeSettings,
    seed: u64,
) -> Result<OptimumResult> {
    s.check()?;
    let t = Instant::now();
    let f = Counted::new(objective)?;
    let d = f.dim();
    let n = (s.popsize * d).max(5);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pop = latin_hypercube(n, d, &mut rng);
    let mut energies: Vec<f64> = f.eval(pop.view())?.to_vec();
    promote_lowest(&mut pop, &mut energies);

    let mut trials = Array2::<f64>::zeros((n, d));
    let mut one = Array2::<f64>::zeros((1, d));
    let mut converged = false;
    let mut nit = 0;
    for it in 1..=s.maxiter {
        nit = it;
        let scale = match s.dither {
            Some((lo, hi)) => rng.gen_range(lo..hi),
            None => s.mutation,
        };
        match s.updating {
            Updating::Deferred => {
                for i in 0..n {
                    let row = trials.row_mut(i).into_slice().expect("standard layout");
                    trial_into(&mut rng, &pop, i, scale, s.recombination, row);
                }
                let te: Array1<f64> = f.eval(trials.view())?;
                for i in 0..n {
                    if te[i] <= energies[i] {
                        energies[i] = te[i];
                        pop.row_mut(i).assign(&trials.row(i));
                    }
                }
                promote_lowest(&mut pop, &mut energies);
            }
            Updating::Immediate => {
                for i in 0..n {
                    let row = one.row_mut(0).into_slice().expect("standard layout");
                    trial_into(&mut rng, &pop, i, scale, s.recombination, row);
                    let e = f.eval(one.view())?[0];
                    if e <= energies[i] {
                        energies[i] = e;
                        pop.row_mut(i).assign(&one.row(0));
                        if e <= energies[0] {
                            promote_lowest(&mut pop, &mut energies);
                        }
                    }
                }
            }
        }
        if let Some((sd, mean)) = spread(&energies) {
            if sd <= s.atol + s.tol * mean.abs() {
                converged = true;
                break;
            }
        }
    }
    let mut x = pop.row(0).to_vec();
    let mut cost = energies[0];
    let mut message = if converged {
        format!("population spread <= atol + tol |mean| after {nit} generations")
    } else {
        format!("generation limit {} reached", s.maxiter)
    };
    if s.polish && cost.is_finite() {
        let ls = super::local::LbfgsbSettings::default();
        let p = super::local::lbfgsb_from(&f, &x, &ls, ls.max_iter)?;
        if p.cost < cost && p.converged {
            message.push_str(&format!(
                "; polished by L-BFGS-B ({} iterations)",
                p.iterations
            ));
            x = p.x;
            cost = p.cost;
        } else {
            message.push_str("; polishing did not improve");
        }
    }
    Ok(OptimumResult {
        method: "de".into(),
        x,
        cost,
        nfev: f.nfev(),
        iterations: nit,
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

    fn assert_at(r: &OptimumResult, u: f64, tol: f64) {
        assert!(r.cost.abs() < tol, "{r:?}");
        for &v in &r.x {
            assert!((v - u).abs() < tol, "{r:?}");
        }
    }

    #[test]
    fn two_others_are_distinct_and_uniform() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 5;
        let mut counts = vec![0usize; n * n];
        for k in 0..50_000 {
            let i = k % n;
            let (a, b) = two_others(&mut rng, n, i);
            assert!(a != i && b != i && a != b && a < n && b < n);
            counts[a * n + b] += 1;
        }
        // each candidate i has 4 * 3 ordered pairs, each 1/12 of 10_000 = 833.3
        let nonzero: Vec<usize> = counts.iter().copied().filter(|&c| c > 0).collect();
        assert_eq!(nonzero.len(), 20);
        // pair (a, b) is allowed for the 3 candidates i outside {a, b}: 3 * 833.3 = 2500
        for c in nonzero {
            assert!((2350..2650).contains(&c), "{c}");
        }
    }

    #[test]
    fn de_finds_rosenbrock_6d() {
        let f = FnObjective::new(6, rosenbrock);
        let r = differential_evolution(&f, &DeSettings::default(), 1).unwrap();
        assert!(r.converged, "{r:?}");
        assert_at(&r, U_ROSENBROCK, 1e-4);
    }

    #[test]
    fn de_finds_rastrigin_6d() {
        let f = FnObjective::new(6, rastrigin);
        let r = differential_evolution(&f, &DeSettings::default(), 2).unwrap();
        assert_at(&r, U_RASTRIGIN, 1e-4);
    }

    #[test]
    fn de_finds_ackley_6d() {
        let f = FnObjective::new(6, ackley);
        let r = differential_evolution(&f, &DeSettings::default(), 3).unwrap();
        assert_at(&r, U_ACKLEY, 1e-4);
    }

    #[test]
    fn de_immediate_updating_finds_rosenbrock_6d() {
        let f = FnObjective::new(6, rosenbrock);
        let s = DeSettings {
            updating: Updating::Immediate,
            ..DeSettings::default()
        };
        let r = differential_evolution(&f, &s, 4).unwrap();
        assert_at(&r, U_ROSENBROCK, 1e-4);
    }

    /// Counts evaluations and batches independently of the optimiser's own counter.
    struct Counting<'a> {
        f: &'a dyn Objective,
        rows: std::sync::atomic::AtomicUsize,
        calls: std::sync::atomic::AtomicUsize,
    }
    impl Objective for Counting<'_> {
        fn dim(&self) -> usize {
            self.f.dim()
        }
        fn cost(&self, x: ndarray::ArrayView2<f64>) -> Result<Array1<f64>> {
            use std::sync::atomic::Ordering::Relaxed;
            self.rows.fetch_add(x.nrows(), Relaxed);
            self.calls.fetch_add(1, Relaxed);
            self.f.cost(x)
        }
    }

    #[test]
    fn de_counts_evaluations_exactly_and_batches_generations() {
        use std::sync::atomic::Ordering::Relaxed;
        let g = FnObjective::new(3, rastrigin);
        let f = Counting {
            f: &g,
            rows: 0.into(),
            calls: 0.into(),
        };
        let s = DeSettings {
            polish: false,
            maxiter: 7,
            tol: 0.0,
            ..DeSettings::default()
        };
        let r = differential_evolution(&f, &s, 5).unwrap();
        // 45 members: the initial population and 7 generations, one batch each
        assert_eq!(r.nfev, 45 * 8);
        assert_eq!(f.rows.load(Relaxed), 45 * 8);
        assert_eq!(f.calls.load(Relaxed), 8);
        assert_eq!(r.iterations, 7);
        assert!(!r.converged);
        // with polish: every row the polish asks for is counted as well
        let f2 = Counting {
            f: &g,
            rows: 0.into(),
            calls: 0.into(),
        };
        let r2 = differential_evolution(&f2, &DeSettings::default(), 5).unwrap();
        assert_eq!(r2.nfev, f2.rows.load(Relaxed));
        assert!(r2.nfev > 45);
    }

    #[test]
    fn de_reports_nan_and_treats_inf_as_worst() {
        let f = FnObjective::new(2, |x: &[f64]| if x[0] > 0.9 { f64::NAN } else { x[1] });
        let e = differential_evolution(&f, &DeSettings::default(), 6).unwrap_err();
        assert!(
            e.to_string().starts_with("the cost is NaN for candidate ["),
            "{e}"
        );
        // +inf on a third of the box: the minimum 0 at (0.2, 0.5) is still found
        let g = FnObjective::new(2, |x: &[f64]| {
            if x[0] > 0.66 {
                f64::INFINITY
            } else {
                (x[0] - 0.2).powi(2) + (x[1] - 0.5).powi(2)
            }
        });
        let r = differential_evolution(&g, &DeSettings::default(), 6).unwrap();
        assert!(
            (r.x[0] - 0.2).abs() < 1e-4 && (r.x[1] - 0.5).abs() < 1e-4,
            "{r:?}"
        );
    }

    #[test]
    fn de_settings_are_checked() {
        let s = DeSettings {
            dither: Some((0.9, 0.5)),
            ..DeSettings::default()
        };
        assert_eq!(
            s.check().unwrap_err().to_string(),
            "de: dither must be 0 <= lo < hi <= 2, got (0.9, 0.5)"
        );
        let s = DeSettings {
            recombination: 1.5,
            ..DeSettings::default()
        };
        assert!(s.check().is_err());
    }
}
