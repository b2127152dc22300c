//! Calibration (Dagon et al. 2020, section 4): costs of candidate parameter scalings in
//! `[0, 1]^d`, history matching, optimisers and an MCMC posterior.
//!
//! Everything here works on whole batches of candidates: an [`Objective`] returns one cost
//! per row of a (candidates x parameters) array, so that emulators predict many candidates at
//! once and a cost written in a script sees whole arrays. Depends on `array`, `metrics` and
//! the emulators' predictions only.

pub mod cost;
pub mod history_match;
pub mod identify;
pub mod kalman;
pub mod mcmc;
pub mod optimize;

pub use mcmc::load_posterior_samples;

use crate::sampling::Permutation;
use anyhow::{bail, Result};
use ndarray::{Array1, Array2, ArrayView2};
use rand::Rng;

/// A cost to minimise over `[0, 1]^dim`, evaluated for many candidates at once.
pub trait Objective: Sync {
    /// Number of parameters (columns of a candidate batch).
    fn dim(&self) -> usize;
    /// One cost per row of `x` (candidates x parameters). A cost may be `+inf` (treated as
    /// worst); NaN is an error the optimisers report.
    fn cost(&self, x: ArrayView2<f64>) -> Result<Array1<f64>>;
    /// Whether batches may be evaluated on several threads at once (true for native costs;
    /// a cost that calls back into a script says false).
    fn parallel(&self) -> bool {
        true
    }
}

/// A log-probability density over `[0, 1]^dim` (up to a constant), for many points at once.
pub trait LogDensity: Sync {
    /// Number of parameters.
    fn dim(&self) -> usize;
    /// One log-density per row of `x`; `-inf` outside the support.
    fn log_prob(&self, x: ArrayView2<f64>) -> Result<Array1<f64>>;
}

/// An [`Objective`] from a closure over one candidate (for tests and simple costs).
pub struct FnObjective<F> {
    dim: usize,
    f: F,
}

impl<F: Fn(&[f64]) -> f64 + Sync> FnObjective<F> {
    /// The objective `f` over `[0, 1]^dim`.
    pub fn new(dim: usize, f: F) -> FnObjective<F> {
        FnObjective { dim, f }
    }
}

impl<F: Fn(&[f64]) -> f64 + Sync> Objective for FnObjective<F> {
    fn dim(&self) -> usize {
        self.dim
    }
    fn cost(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        check_batch(x, self.dim)?;
        Ok(x.rows()
            .into_iter()
            .map(|r| match r.as_slice() {
                Some(s) => (self.f)(s),
                None => (self.f)(&r.to_vec()),
            })
            .collect())
    }
}

/// A [`LogDensity`] from a closure over one point (for tests).
pub struct FnDensity<F> {
    dim: usize,
    f: F,
}

impl<F: Fn(&[f64]) -> f64 + Sync> FnDensity<F> {
    /// The log-density `f` over `[0, 1]^dim`.
    pub fn new(dim: usize, f: F) -> FnDensity<F> {
        FnDensity { dim, f }
    }
}

impl<F: Fn(&[f64]) -> f64 + Sync> LogDensity for FnDensity<F> {
    fn dim(&self) -> usize {
        self.dim
    }
    fn log_prob(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        check_batch(x, self.dim)?;
        Ok(x.rows()
            .into_iter()
            .map(|r| (self.f)(&r.to_vec()))
            .collect())
    }
}

/// Checks that a batch of candidates has `dim` columns.
pub fn check_batch(x: ArrayView2<f64>, dim: usize) -> Result<()> {
    if x.ncols() != dim {
        bail!(
            "candidates have {} parameters per row, the cost takes {dim}",
            x.ncols()
        );
    }
    Ok(())
}

/// A Latin hypercube of `n` points in `[0, 1]^k` drawn from `rng`: in every column each
/// stratum `[i/n, (i+1)/n)` holds exactly one point, uniform inside it, each column's order
/// of strata shuffled from the previous one's (scipy's `_latinhypercube_init` shuffles each
/// column afresh; [`crate::sampling::latin_hypercube`] with [`Permutation::Chained`]).
pub fn latin_hypercube<R: Rng>(n: usize, k: usize, rng: &mut R) -> Array2<f64> {
    crate::sampling::latin_hypercube(n, k, rng, Permutation::Chained)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn latin_hypercube_has_one_point_per_stratum() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for &(n, k) in &[(1, 1), (7, 3), (100, 6)] {
            let x = latin_hypercube(n, k, &mut rng);
            for col in x.columns() {
                let mut seen = vec![false; n];
                for &v in col {
                    assert!((0.0..1.0).contains(&v));
                    let s = (v * n as f64).floor() as usize;
                    assert!(!seen[s], "stratum {s} twice");
                    seen[s] = true;
                }
            }
        }
    }

    #[test]
    fn fn_objective_evaluates_rows_and_checks_width() {
        let f = FnObjective::new(2, |x: &[f64]| x[0] + 10.0 * x[1]);
        let x = ndarray::array![[1.0, 2.0], [0.5, 0.0]];
        assert_eq!(f.cost(x.view()).unwrap().to_vec(), vec![21.0, 0.5]);
        let e = f.cost(ndarray::array![[1.0]].view()).unwrap_err();
        assert!(e.to_string().contains("the cost takes 2"), "{e}");
    }
}
