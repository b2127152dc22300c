//! Latin hypercubes in `[0, 1]^k`: the one implementation behind the ensemble designs, the
//! Gaussian process's starts, the optimisers' starts and populations, history matching's
//! candidates and the emulator inflation. Depends on `ndarray` and `rand` only.
//!
//! In every column each of the `n` strata `[i/n, (i+1)/n)` holds exactly one point, placed
//! uniformly inside it ([`in_stratum`]). The callers differ in one documented choice, how
//! each column's order of strata is drawn ([`Permutation`]); both orders are kept because
//! results written with each (designs, optima) must stay bit-identical.

use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How the order of the strata is drawn for each column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permutation {
    /// Every column shuffles `0..n` afresh (the ensemble designs and the GP's starts:
    /// [`latin_hypercube_points`]).
    Fresh,
    /// Every column shuffles the previous column's order (the optimisers, history matching
    /// and the emulator inflation; scipy's `_latinhypercube_init` shuffles afresh, but these
    /// results were first written with this order and must stay bit-identical).
    Chained,
}

/// The point of stratum `p` of `n` at uniform `u` in `[0, 1)`: `(p + u) / n`, kept below
/// `(p + 1) / n` (which rounding could reach for `u` close to 1).
pub fn in_stratum(p: usize, u: f64, n: usize) -> f64 {
    ((p as f64 + u) / n as f64).min((p as f64 + 1.0) / n as f64 - 1e-15)
}

/// A Latin hypercube of `n` points in `[0, 1]^k` (rows are points) drawn from `rng`: per
/// column, the order of strata by `permutation`, then one uniform number per point.
pub fn latin_hypercube<R: Rng>(
    n: usize,
    k: usize,
    rng: &mut R,
    permutation: Permutation,
) -> Array2<f64> {
    let mut out = Array2::zeros((n, k));
    let mut perm: Vec<usize> = (0..n).collect();
    for j in 0..k {
        if permutation == Permutation::Fresh {
            perm = (0..n).collect();
        }
        perm.shuffle(rng);
        for (i, &p) in perm.iter().enumerate() {
            let u: f64 = rng.gen();
            out[[i, j]] = in_stratum(p, u, n);
        }
    }
    out
}

/// A seeded Latin hypercube of `n` points in `[0, 1]^k` (ChaCha8 from `seed`, strata in a
/// [`Permutation::Fresh`] order). With `maximin`, the best of `candidates` hypercubes by the
/// smallest distance between two points is kept.
pub fn latin_hypercube_points(
    n: usize,
    k: usize,
    seed: u64,
    maximin: bool,
    candidates: usize,
) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let one = |rng: &mut ChaCha8Rng| -> Vec<Vec<f64>> {
        latin_hypercube(n, k, rng, Permutation::Fresh)
            .rows()
            .into_iter()
            .map(|r| r.to_vec())
            .collect()
    };
    if !maximin || n < 2 {
        return one(&mut rng);
    }
    let min_dist = |pts: &[Vec<f64>]| -> f64 {
        let mut best = f64::INFINITY;
        for a in 0..pts.len() {
            for b in a + 1..pts.len() {
                let d: f64 = pts[a]
                    .iter()
                    .zip(&pts[b])
                    .map(|(x, y)| (x - y).powi(2))
                    .sum();
                best = best.min(d);
            }
        }
        best
    };
    let mut best = one(&mut rng);
    let mut best_d = min_dist(&best);
    for _ in 1..candidates.max(1) {
        let c = one(&mut rng);
        let d = min_dist(&c);
        if d > best_d {
            best = c;
            best_d = d;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_orders_hold_one_point_per_stratum_and_differ() {
        for p in [Permutation::Fresh, Permutation::Chained] {
            let x = latin_hypercube(9, 4, &mut ChaCha8Rng::seed_from_u64(5), p);
            for col in x.columns() {
                let mut seen = [false; 9];
                for &v in col {
                    assert!((0.0..1.0).contains(&v));
                    let s = (v * 9.0).floor() as usize;
                    assert!(!seen[s], "stratum {s} twice");
                    seen[s] = true;
                }
            }
        }
        let a = latin_hypercube(9, 4, &mut ChaCha8Rng::seed_from_u64(5), Permutation::Fresh);
        let b = latin_hypercube(
            9,
            4,
            &mut ChaCha8Rng::seed_from_u64(5),
            Permutation::Chained,
        );
        // the first column draws the same numbers; later ones start from other orders
        assert_eq!(a.column(0), b.column(0));
        assert_ne!(a, b);
    }

    #[test]
    fn a_point_never_reaches_the_next_stratum() {
        assert!(in_stratum(2, 1.0 - f64::EPSILON / 2.0, 3) < 1.0);
        assert_eq!(in_stratum(0, 0.0, 4), 0.0);
    }
}
