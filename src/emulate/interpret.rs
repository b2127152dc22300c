//! What an emulator has learned (Dagon et al. 2020, section 3.2, and beyond): permutation
//! importance (Fig. 7), partial dependence (Fig. 8), and Sobol first-order and total indices
//! per output (Saltelli 2010's first-order and Jansen's total estimators, plain Monte Carlo
//! on the emulator): global sensitivity with interactions, which one-at-a-time runs cannot
//! see. Every random choice takes a seed.

use super::Emulator;
use anyhow::{bail, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn mse_per_output(pred: &Array2<f64>, y: ArrayView2<f64>) -> Array1<f64> {
    (pred - &y)
        .mapv(|d| d * d)
        .mean_axis(Axis(0))
        .expect("rows")
}

/// Permutation importance (Fig. 7): for each input (row) and output (column) the mean and
/// the spread (standard deviation, ddof 1; 0 with one repeat) over `repeats` seeded shuffles
/// of that input's column of the rise of the MSE of the emulator's mean on (`x`, `y`), and
/// the MSE without any shuffle (per output): the paper's top bar.
#[derive(Debug, Clone)]
pub struct Importance {
    /// Mean rise of the MSE (inputs x outputs).
    pub increase: Array2<f64>,
    /// Its standard deviation over the repeats (inputs x outputs).
    pub sd: Array2<f64>,
    /// The MSE without permutation, per output.
    pub base: Array1<f64>,
}

/// Permutation importance of each input of `em` on (`x`, `y`): see [`Importance`].
pub fn permutation_importance(
    em: &dyn Emulator,
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    repeats: usize,
    seed: u64,
) -> Result<Importance> {
    if x.nrows() != y.nrows() || x.nrows() < 2 {
        bail!(
            "importance needs at least 2 members with inputs and outputs ({} and {} rows)",
            x.nrows(),
            y.nrows()
        );
    }
    if repeats == 0 {
        bail!("repeats must be >= 1");
    }
    let base = mse_per_output(&em.predict(x)?.mean, y);
    let mut increase = Array2::zeros((x.ncols(), y.ncols()));
    let mut sd = Array2::zeros((x.ncols(), y.ncols()));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut xp = x.to_owned();
    for j in 0..x.ncols() {
        let col = x.column(j).to_vec();
        let mut rises = Array2::zeros((repeats, y.ncols()));
        for r in 0..repeats {
            let mut c = col.clone();
            c.shuffle(&mut rng);
            xp.column_mut(j).assign(&Array1::from(c));
            rises
                .row_mut(r)
                .assign(&(mse_per_output(&em.predict(xp.view())?.mean, y) - &base));
        }
        xp.column_mut(j).assign(&Array1::from(col));
        increase
            .row_mut(j)
            .assign(&rises.mean_axis(Axis(0)).expect("repeats"));
        if repeats > 1 {
            sd.row_mut(j).assign(&rises.std_axis(Axis(0), 1.0));
        }
    }
    Ok(Importance { increase, sd, base })
}

/// Partial dependence of every output on input `j`: for each of `values`, the mean over the
/// rows of `x` of the emulator's mean with input `j` set to that value (values x outputs).
pub fn partial_dependence(
    em: &dyn Emulator,
    x: ArrayView2<f64>,
    j: usize,
    values: &[f64],
) -> Result<Array2<f64>> {
    if j >= x.ncols() {
        bail!("input {j} does not exist ({} inputs)", x.ncols());
    }
    let mut out = Array2::zeros((values.len(), em.outputs()));
    let mut xp = x.to_owned();
    for (i, &v) in values.iter().enumerate() {
        xp.column_mut(j).fill(v);
        out.row_mut(i).assign(
            &em.predict(xp.view())?
                .mean
                .mean_axis(Axis(0))
                .expect("rows"),
        );
    }
    Ok(out)
}

/// Sobol indices of the emulator's mean over uniform inputs on [0, 1]^d.
#[derive(Debug, Clone, PartialEq)]
pub struct Sobol {
    /// First-order indices, inputs x outputs.
    pub first_order: Array2<f64>,
    /// Total indices, inputs x outputs.
    pub total: Array2<f64>,
    /// The variance of each output.
    pub variance: Array1<f64>,
}

/// Sobol first-order (Saltelli et al. 2010, `S_i = mean(f(B) (f(A_B^i) - f(A))) / V`) and
/// total (Jansen 1999, `ST_i = mean((f(A) - f(A_B^i))^2) / (2 V)`) indices from `n` pairs of
/// seeded uniform samples A, B (`(d + 2) n` evaluations), where `A_B^i` is A with column i
/// from B and V the variance of the outputs over A and B together.
pub fn sobol(em: &dyn Emulator, n: usize, seed: u64) -> Result<Sobol> {
    if n < 2 {
        bail!("Sobol indices need at least 2 samples, got {n}");
    }
    let d = em.inputs();
    if n.saturating_mul(d + 2) > 200_000_000 {
        bail!(
            "{n} samples x {} evaluations is too many (at most 2e8)",
            d + 2
        );
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let a = Array2::from_shape_fn((n, d), |_| rng.gen_range(0.0..1.0));
    let b = Array2::from_shape_fn((n, d), |_| rng.gen_range(0.0..1.0));
    let fa = em.predict(a.view())?.mean;
    let fb = em.predict(b.view())?.mean;
    let k = fa.ncols();
    let both = ndarray::concatenate(Axis(0), &[fa.view(), fb.view()])?;
    let variance = both.var_axis(Axis(0), 0.0);
    let mut first = Array2::zeros((d, k));
    let mut total = Array2::zeros((d, k));
    for i in 0..d {
        let mut abi = a.clone();
        abi.column_mut(i).assign(&b.column(i));
        let fab = em.predict(abi.view())?.mean;
        for o in 0..k {
            let (mut s1, mut st) = (0.0, 0.0);
            for r in 0..n {
                s1 += fb[[r, o]] * (fab[[r, o]] - fa[[r, o]]);
                st += (fa[[r, o]] - fab[[r, o]]).powi(2);
            }
            let v = variance[o];
            first[[i, o]] = if v > 0.0 { s1 / n as f64 / v } else { f64::NAN };
            total[[i, o]] = if v > 0.0 {
                st / n as f64 / (2.0 * v)
            } else {
                f64::NAN
            };
        }
    }
    Ok(Sobol {
        first_order: first,
        total,
        variance,
    })
}

/// Quantiles of each column at the probabilities `probs`, numpy's default (linear
/// interpolation between order statistics: position `(n - 1) p`), NaN rows left out.
pub fn quantiles(a: ArrayView2<f64>, probs: &[f64]) -> Result<Array2<f64>> {
    if let Some(p) = probs.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        bail!("quantile probability {p} is not in [0, 1]");
    }
    let mut out = Array2::from_elem((probs.len(), a.ncols()), f64::NAN);
    for (j, col) in a.columns().into_iter().enumerate() {
        let mut v: Vec<f64> = col.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            continue;
        }
        v.sort_by(f64::total_cmp);
        for (i, &p) in probs.iter().enumerate() {
            let h = (v.len() - 1) as f64 * p;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(v.len() - 1);
            out[[i, j]] = v[lo] + (h - lo as f64) * (v[hi] - v[lo]);
        }
    }
    Ok(out)
}

/// Ensemble inflation (Fig. S10): an emulator's outputs at new Latin-hypercube scalings,
/// against the outputs of the ensemble it learned from.
#[derive(Debug, Clone)]
pub struct Inflation {
    /// The new scalings, `n` x inputs, in [0, 1].
    pub x: Array2<f64>,
    /// The emulator's means there, `n` x outputs.
    pub emulated: Array2<f64>,
    /// The probabilities of the quantiles.
    pub probs: Vec<f64>,
    /// Quantiles of the ensemble's outputs, probabilities x outputs.
    pub ensemble_quantiles: Array2<f64>,
    /// Quantiles of the emulated outputs, probabilities x outputs.
    pub emulated_quantiles: Array2<f64>,
}

/// The probabilities [`inflate`] reports by default.
pub const INFLATION_PROBS: [f64; 9] = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99];

/// Inflates an ensemble with an emulator (Fig. S10): `n` new scalings from a seeded Latin
/// hypercube ([`crate::sampling::latin_hypercube`], chained order, ChaCha8 from `seed`), the
/// emulator's means there, and the quantiles at `probs` of those and of the ensemble's
/// outputs `y` (members x outputs).
pub fn inflate(
    em: &dyn Emulator,
    y: ArrayView2<f64>,
    n: usize,
    seed: u64,
    probs: &[f64],
) -> Result<Inflation> {
    if n < 2 {
        bail!("inflation needs n >= 2 new members, got {n}");
    }
    if y.ncols() != em.outputs() {
        bail!(
            "the ensemble has {} outputs, the emulator {}",
            y.ncols(),
            em.outputs()
        );
    }
    let x = crate::sampling::latin_hypercube(
        n,
        em.inputs(),
        &mut ChaCha8Rng::seed_from_u64(seed),
        crate::sampling::Permutation::Chained,
    );
    let emulated = em.predict(x.view())?.mean;
    Ok(Inflation {
        ensemble_quantiles: quantiles(y, probs)?,
        emulated_quantiles: quantiles(emulated.view(), probs)?,
        probs: probs.to_vec(),
        x,
        emulated,
    })
}

#[cfg(test)]
mod tests {
    use super::super::Prediction;
    use super::*;

    /// A known function as an emulator.
    struct Known(usize, fn(&[f64]) -> f64);

    impl Emulator for Known {
        fn method(&self) -> String {
            "known".into()
        }
        fn inputs(&self) -> usize {
            self.0
        }
        fn outputs(&self) -> usize {
            1
        }
        fn predict(&self, x: ArrayView2<f64>) -> Result<Prediction> {
            let mean = Array2::from_shape_fn((x.nrows(), 1), |(i, _)| (self.1)(&x.row(i).to_vec()));
            Ok(Prediction {
                variance: mean.mapv(|_| 0.0),
                mean,
            })
        }
    }

    /// Ishigami (a = 7, b = 0.1) on [-pi, pi]^3, analytic indices (Saltelli et al. 2008,
    /// Global Sensitivity Analysis, section 4.4; SALib's test values): S = 0.3139, 0.4424, 0;
    /// ST = 0.5576, 0.4424, 0.2437.
    #[test]
    fn sobol_indices_of_the_ishigami_function() {
        fn ishigami(u: &[f64]) -> f64 {
            let x: Vec<f64> = u
                .iter()
                .map(|v| -std::f64::consts::PI + 2.0 * std::f64::consts::PI * v)
                .collect();
            x[0].sin() + 7.0 * x[1].sin().powi(2) + 0.1 * x[2].powi(4) * x[0].sin()
        }
        let s = sobol(&Known(3, ishigami), 200_000, 11).unwrap();
        let want_s = [0.3139, 0.4424, 0.0];
        let want_t = [0.5576, 0.4424, 0.2437];
        for i in 0..3 {
            assert!(
                (s.first_order[[i, 0]] - want_s[i]).abs() < 0.02,
                "S{i} {}",
                s.first_order[[i, 0]]
            );
            assert!(
                (s.total[[i, 0]] - want_t[i]).abs() < 0.02,
                "ST{i} {}",
                s.total[[i, 0]]
            );
        }
        // V = a^2/8 + b pi^4/5 + b^2 pi^8/18 + 1/2 = 13.8446
        assert!((s.variance[0] - 13.8446).abs() < 0.2, "{}", s.variance[0]);
    }

    #[test]
    fn partial_dependence_of_an_additive_function() {
        // f = x0^2 + x1: PD on x0 at v is v^2 + mean(x1)
        let x = ndarray::array![[0.1, 0.2], [0.5, 0.4], [0.9, 0.9]];
        let pd = partial_dependence(
            &Known(2, |u| u[0] * u[0] + u[1]),
            x.view(),
            0,
            &[0.0, 0.5, 1.0],
        )
        .unwrap();
        let m = 0.5;
        for (i, v) in [0.0, 0.5, 1.0].iter().enumerate() {
            assert!((pd[[i, 0]] - (v * v + m)).abs() < 1e-15);
        }
        assert!(partial_dependence(&Known(2, |u| u[0]), x.view(), 2, &[0.0]).is_err());
    }

    #[test]
    fn importance_of_an_input_the_function_ignores_is_zero() {
        // f = 3 x0: shuffling x1 changes nothing; shuffling x0 raises the MSE by
        // 9 mean((x0 - x0_perm)^2), on average 18 var(x0) n / (n - 1)
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let x = Array2::from_shape_fn((500, 2), |_| rng.gen_range(0.0..1.0));
        let y = x.column(0).mapv(|v| 3.0 * v).insert_axis(Axis(1));
        let all =
            permutation_importance(&Known(2, |u| 3.0 * u[0]), x.view(), y.view(), 20, 1).unwrap();
        let imp = &all.increase;
        assert_eq!(imp[[1, 0]], 0.0);
        // the emulator is the function: no error unshuffled, no spread for the ignored input
        assert_eq!(all.base[0], 0.0);
        assert_eq!(all.sd[[1, 0]], 0.0);
        // the spread over shuffles of x0: each rise is 9 mean((x0 - perm)^2), whose sd over
        // random permutations is about 9 sqrt(2 var(x0)^2 ... ) / sqrt(n): small but not 0,
        // and below a tenth of the mean for n = 500
        assert!(
            all.sd[[0, 0]] > 0.0 && all.sd[[0, 0]] < 0.1 * imp[[0, 0]],
            "{}",
            all.sd[[0, 0]]
        );
        let var = x.column(0).var(0.0);
        let want = 18.0 * var * 500.0 / 499.0;
        assert!(
            (imp[[0, 0]] / want - 1.0).abs() < 0.05,
            "{} vs {want}",
            imp[[0, 0]]
        );
    }

    /// numpy's default quantiles, by hand: [1, 2, 3, 4, 10] at 0.1 -> position 0.4 -> 1.4;
    /// 0.5 -> 3; 0.9 -> position 3.6 -> 4 + 0.6 * 6 = 7.6; 0 and 1 the extremes; NaN left out.
    #[test]
    fn quantiles_as_numpy() {
        let a = ndarray::array![[4.0], [1.0], [10.0], [f64::NAN], [3.0], [2.0]];
        let q = quantiles(a.view(), &[0.0, 0.1, 0.5, 0.9, 1.0]).unwrap();
        let want = [1.0, 1.4, 3.0, 7.6, 10.0];
        for (g, w) in q.column(0).iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{g} vs {w}");
        }
        assert!(quantiles(a.view(), &[1.5]).is_err());
    }

    /// An emulator that is the identity on its inputs: the Latin hypercube puts one point
    /// in each of n strata of every input, so its quantile p lies within 2/n of p; the
    /// ensemble's quantiles are those of `y`; the same seed gives the same points.
    #[test]
    fn inflating_the_identity_gives_uniform_quantiles() {
        struct Identity;
        impl Emulator for Identity {
            fn method(&self) -> String {
                "identity".into()
            }
            fn inputs(&self) -> usize {
                3
            }
            fn outputs(&self) -> usize {
                3
            }
            fn predict(&self, x: ArrayView2<f64>) -> Result<Prediction> {
                Ok(Prediction {
                    mean: x.to_owned(),
                    variance: x.mapv(|_| 0.0),
                })
            }
        }
        let y = ndarray::array![[0.0, 0.0, 1.0], [1.0, 2.0, 1.0], [2.0, 4.0, 1.0]];
        let n = 1000;
        let inf = inflate(&Identity, y.view(), n, 5, &INFLATION_PROBS).unwrap();
        assert_eq!(inf.emulated.dim(), (n, 3));
        for (i, &p) in INFLATION_PROBS.iter().enumerate() {
            for k in 0..3 {
                let q = inf.emulated_quantiles[[i, k]];
                assert!((q - p).abs() <= 2.0 / n as f64, "mode {k}: q({p}) = {q}");
            }
            // y's columns: 0..2 -> 2p, 0..4 -> 4p, constant 1
            assert!((inf.ensemble_quantiles[[i, 0]] - 2.0 * p).abs() < 1e-12);
            assert!((inf.ensemble_quantiles[[i, 1]] - 4.0 * p).abs() < 1e-12);
            assert_eq!(inf.ensemble_quantiles[[i, 2]], 1.0);
        }
        let again = inflate(&Identity, y.view(), n, 5, &INFLATION_PROBS).unwrap();
        assert_eq!(again.x, inf.x);
        assert_ne!(inflate(&Identity, y.view(), n, 6, &[0.5]).unwrap().x, inf.x);
        assert!(inflate(&Identity, y.view(), 1, 5, &[0.5]).is_err());
        assert!(inflate(&Identity, y.slice(ndarray::s![.., ..2]), n, 5, &[0.5]).is_err());
    }
}
