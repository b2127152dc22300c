//! Optimisers on `[0, 1]^d` (Dagon et al. 2020, section 4.3), each taking any batch
//! [`Objective`] and a seed and reporting the same [`OptimumResult`]: where it ended, the
//! cost there, the number of candidates evaluated, iterations, wall time and whether its own
//! stopping rule was met.
//!
//! - [`de`]: differential evolution as `scipy.optimize.differential_evolution` does it
//!   (best1bin, dithering, Latin-hypercube start, population-spread tolerance, L-BFGS-B
//!   polish). A generation's trial population is one batch.
//! - [`annealing`]: dual annealing after `scipy.optimize.dual_annealing` (generalised
//!   simulated annealing plus L-BFGS-B local searches).
//! - [`local`]: L-BFGS-B (the `basin` port of the reference code 3.0) from several starts,
//!   with central-difference gradients evaluated as one batch; Nelder-Mead and particle
//!   swarm from `argmin`.
//!
//! As in argmin, a cost is one small trait ([`Objective`]) and the solvers are
//! interchangeable: [`Method`] names one with its settings and [`compare`] runs several.
//! Every evaluation goes through one counter, so `nfev` is the exact number of candidates
//! the objective was asked for. A NaN (or `-inf`) cost stops the run with an error naming
//! the candidate; `+inf` is a valid cost, worse than every finite one.

pub mod annealing;
pub mod de;
pub mod local;

pub use annealing::AnnealingSettings;
pub use de::{DeSettings, Updating};
pub use local::{LbfgsbSettings, NelderMeadSettings, SwarmSettings};

use super::Objective;
use crate::table::{Column, Table};
use anyhow::{bail, Result};
use ndarray::{Array1, ArrayView2};
use std::cell::Cell;
use std::path::Path;

/// Where one optimiser ended.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimumResult {
    /// Short method name (`de`, `dual_annealing`, `lbfgsb`, `nelder_mead`, `particle_swarm`).
    pub method: String,
    /// Best candidate found, in `[0, 1]^d`.
    pub x: Vec<f64>,
    /// Cost at `x`.
    pub cost: f64,
    /// Candidates evaluated (rows given to the objective, polish and gradients included).
    pub nfev: usize,
    /// Iterations: generations (DE), annealing steps, or local-solver iterations summed
    /// over the starts.
    pub iterations: usize,
    /// Wall time of the run, seconds.
    pub seconds: f64,
    /// True when the method's own stopping rule was met (not an iteration budget).
    pub converged: bool,
    /// Why it stopped, in words.
    pub message: String,
}

/// One optimiser with its settings.
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    /// Differential evolution.
    De(DeSettings),
    /// Dual annealing.
    DualAnnealing(AnnealingSettings),
    /// L-BFGS-B from several Latin-hypercube starts.
    Lbfgsb(LbfgsbSettings),
    /// Nelder-Mead (argmin) from several starts, bounds by projection and a penalty.
    NelderMead(NelderMeadSettings),
    /// Particle swarm (argmin), positions clamped to the bounds.
    ParticleSwarm(SwarmSettings),
}

/// The method names [`Method::by_name`] knows.
pub const METHOD_NAMES: &[&str] = &[
    "de",
    "dual_annealing",
    "lbfgsb",
    "nelder_mead",
    "particle_swarm",
];

impl Method {
    /// The method `name` (one of [`METHOD_NAMES`]) with default settings.
    pub fn by_name(name: &str) -> Result<Method> {
        Ok(match name {
            "de" => Method::De(DeSettings::default()),
            "dual_annealing" => Method::DualAnnealing(AnnealingSettings::default()),
            "lbfgsb" => Method::Lbfgsb(LbfgsbSettings::default()),
            "nelder_mead" => Method::NelderMead(NelderMeadSettings::default()),
            "particle_swarm" => Method::ParticleSwarm(SwarmSettings::default()),
            _ => bail!(
                "unknown optimiser `{name}`: use one of {}",
                METHOD_NAMES.join(", ")
            ),
        })
    }

    /// The short name reported in [`OptimumResult::method`].
    pub fn name(&self) -> &'static str {
        match self {
            Method::De(_) => "de",
            Method::DualAnnealing(_) => "dual_annealing",
            Method::Lbfgsb(_) => "lbfgsb",
            Method::NelderMead(_) => "nelder_mead",
            Method::ParticleSwarm(_) => "particle_swarm",
        }
    }

    /// Checks the settings.
    pub fn check(&self) -> Result<()> {
        match self {
            Method::De(s) => s.check(),
            Method::DualAnnealing(s) => s.check(),
            Method::Lbfgsb(s) => s.check(),
            Method::NelderMead(s) => s.check(),
            Method::ParticleSwarm(s) => s.check(),
        }
    }

    /// Runs the method on `objective` with random numbers from `seed`.
    pub fn run(&self, objective: &dyn Objective, seed: u64) -> Result<OptimumResult> {
        match self {
            Method::De(s) => de::differential_evolution(objective, s, seed),
            Method::DualAnnealing(s) => annealing::dual_annealing(objective, s, seed),
            Method::Lbfgsb(s) => local::lbfgsb(objective, s, seed),
            Method::NelderMead(s) => local::nelder_mead(objective, s, seed),
            Method::ParticleSwarm(s) => local::particle_swarm(objective, s, seed),
        }
    }
}

/// A setting that must be a whole number >= 1 (`method: name must be at least 1`).
pub(crate) fn at_least_one(method: &str, name: &str, v: usize) -> Result<()> {
    if v == 0 {
        bail!("{method}: {name} must be at least 1");
    }
    Ok(())
}

/// A setting that must be a finite number >= 0 (`method: name must be >= 0, got v`).
pub(crate) fn non_negative(method: &str, name: &str, v: f64) -> Result<()> {
    if !(v >= 0.0 && v.is_finite()) {
        bail!("{method}: {name} must be >= 0, got {v}");
    }
    Ok(())
}

/// Runs every method in `methods` on `objective`, each with the same `seed`, in order.
pub fn compare(
    objective: &dyn Objective,
    methods: &[Method],
    seed: u64,
) -> Result<Vec<OptimumResult>> {
    for m in methods {
        m.check()?;
    }
    methods.iter().map(|m| m.run(objective, seed)).collect()
}

/// The results as `optimum.csv` rows (contract): method, cost, nfev, iterations, seconds,
/// converged, message, then one column per parameter (`names`, else `x1`, `x2`, ...).
pub fn table(results: &[OptimumResult], names: Option<&[String]>) -> Result<Table> {
    let d = results.first().map_or(0, |r| r.x.len());
    if let Some(n) = names {
        if n.len() != d {
            bail!("{} parameter names for optima of {d} parameters", n.len());
        }
    }
    let text = |f: fn(&OptimumResult) -> String| Column::Text(results.iter().map(f).collect());
    let nums = |f: fn(&OptimumResult) -> f64| Column::Numbers(results.iter().map(f).collect());
    let mut cols = vec![
        ("method".to_string(), text(|r| r.method.clone())),
        ("cost".to_string(), nums(|r| r.cost)),
        ("nfev".to_string(), nums(|r| r.nfev as f64)),
        ("iterations".to_string(), nums(|r| r.iterations as f64)),
        ("seconds".to_string(), nums(|r| r.seconds)),
        ("converged".to_string(), text(|r| r.converged.to_string())),
        ("message".to_string(), text(|r| r.message.clone())),
    ];
    for j in 0..d {
        let name = names.map_or_else(|| format!("x{}", j + 1), |n| n[j].clone());
        cols.push((
            name,
            Column::Numbers(results.iter().map(|r| r.x[j]).collect()),
        ));
    }
    Table::from_columns(cols)
}

/// Writes [`table`] as CSV through the one CSV writer, atomically.
pub fn write_csv(path: &Path, results: &[OptimumResult], names: Option<&[String]>) -> Result<()> {
    table(results, names)?.write(path)
}

/// The objective behind one counter: every evaluation of a run goes through here, so
/// `nfev` is exact, and NaN / `-inf` costs become errors naming the candidate.
pub(crate) struct Counted<'a> {
    objective: &'a dyn Objective,
    nfev: Cell<usize>,
}

impl<'a> Counted<'a> {
    /// Wraps `objective`, checking that it has at least one parameter.
    pub(crate) fn new(objective: &'a dyn Objective) -> Result<Counted<'a>> {
        if objective.dim() == 0 {
            bail!("the cost has no parameters to optimise");
        }
        Ok(Counted {
            objective,
            nfev: Cell::new(0),
        })
    }

    /// Number of parameters.
    pub(crate) fn dim(&self) -> usize {
        self.objective.dim()
    }

    /// Candidates evaluated so far.
    pub(crate) fn nfev(&self) -> usize {
        self.nfev.get()
    }

    /// Costs of the rows of `x`, checked.
    pub(crate) fn eval(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        let c = self.objective.cost(x)?;
        self.nfev.set(self.nfev.get() + x.nrows());
        if c.len() != x.nrows() {
            bail!(
                "the cost returned {} values for {} candidates",
                c.len(),
                x.nrows()
            );
        }
        for (i, &v) in c.iter().enumerate() {
            if v.is_nan() || v == f64::NEG_INFINITY {
                let xs: Vec<String> = x.row(i).iter().map(|v| format!("{v:.6}")).collect();
                bail!(
                    "the cost is {} for candidate [{}]: a cost must be a number or +inf",
                    if v.is_nan() { "NaN" } else { "-inf" },
                    xs.join(", ")
                );
            }
        }
        Ok(c)
    }

    /// Cost of one candidate.
    pub(crate) fn eval_one(&self, x: &[f64]) -> Result<f64> {
        let v = ndarray::ArrayView2::from_shape((1, x.len()), x)?;
        Ok(self.eval(v)?[0])
    }
}

/// Index of the smallest value (the first of equal ones); `+inf` ranks last.
pub(crate) fn argmin(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &e) in v.iter().enumerate() {
        if e < v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
pub(crate) mod testfns {
    //! Test functions mapped from `[0, 1]^d` onto their usual domains, with the minimum
    //! moved off the centre of the box.
    use std::f64::consts::PI;

    /// The shift applied to Rastrigin and Ackley: their minimum (0) is at `SHIFT` in their
    /// own coordinates.
    pub const SHIFT: f64 = 1.3;

    /// Rosenbrock on `[-2, 3]^d` (x = -2 + 5 u): minimum 0 at x = 1, u = 0.6.
    pub fn rosenbrock(u: &[f64]) -> f64 {
        let x: Vec<f64> = u.iter().map(|v| -2.0 + 5.0 * v).collect();
        x.windows(2)
            .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
            .sum()
    }

    /// Rastrigin on `[-5.12, 5.12]^d` shifted so its minimum 0 is at x = 1.3 (u =
    /// (5.12 + 1.3) / 10.24 = 0.626953125).
    pub fn rastrigin(u: &[f64]) -> f64 {
        u.iter()
            .map(|v| {
                let z = -5.12 + 10.24 * v - SHIFT;
                z * z - 10.0 * (2.0 * PI * z).cos() + 10.0
            })
            .sum()
    }

    /// Ackley on `[-5, 5]^d` shifted so its minimum 0 is at x = 1.3 (u = 0.63).
    pub fn ackley(u: &[f64]) -> f64 {
        let d = u.len() as f64;
        let z: Vec<f64> = u.iter().map(|v| -5.0 + 10.0 * v - SHIFT).collect();
        let s2 = z.iter().map(|v| v * v).sum::<f64>() / d;
        let sc = z.iter().map(|v| (2.0 * PI * v).cos()).sum::<f64>() / d;
        -20.0 * (-0.2 * s2.sqrt()).exp() - sc.exp() + 20.0 + std::f64::consts::E
    }

    /// Where Rosenbrock, Rastrigin and Ackley have their minimum, in `[0, 1]` units.
    pub const U_ROSENBROCK: f64 = 0.6;
    /// See [`U_ROSENBROCK`].
    pub const U_RASTRIGIN: f64 = (5.12 + SHIFT) / 10.24;
    /// See [`U_ROSENBROCK`].
    pub const U_ACKLEY: f64 = (5.0 + SHIFT) / 10.0;
}

#[cfg(test)]
mod tests {
    use super::testfns::*;
    use super::*;
    use crate::calibrate::FnObjective;

    #[test]
    fn test_functions_are_zero_at_their_stated_minimum() {
        assert!(rosenbrock(&[U_ROSENBROCK; 6]).abs() < 1e-12);
        assert!(rastrigin(&[U_RASTRIGIN; 6]).abs() < 1e-12);
        assert!(ackley(&[U_ACKLEY; 6]).abs() < 1e-12);
        // and positive a little away from it
        assert!(rastrigin(&[U_RASTRIGIN + 0.01; 6]) > 0.1);
        assert!(ackley(&[U_ACKLEY - 0.01; 6]) > 0.1);
    }

    #[test]
    fn counter_counts_rows_and_rejects_nan() {
        let f = FnObjective::new(2, |x: &[f64]| if x[0] > 0.5 { f64::NAN } else { x[1] });
        let c = Counted::new(&f).unwrap();
        let x = ndarray::array![[0.1, 2.0], [0.2, 3.0], [0.3, f64::INFINITY]];
        assert_eq!(
            c.eval(x.view()).unwrap().to_vec(),
            vec![2.0, 3.0, f64::INFINITY]
        );
        assert_eq!(c.nfev(), 3);
        let e = c.eval_one(&[0.75, 0.25]).unwrap_err().to_string();
        assert_eq!(
            e,
            "the cost is NaN for candidate [0.750000, 0.250000]: a cost must be a number or +inf"
        );
        assert_eq!(c.nfev(), 4);
    }

    #[test]
    fn unknown_method_names_the_known_ones() {
        let e = Method::by_name("simplex").unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown optimiser `simplex`: use one of de, dual_annealing, lbfgsb, nelder_mead, particle_swarm"
        );
        for n in METHOD_NAMES {
            assert_eq!(Method::by_name(n).unwrap().name(), *n);
        }
    }

    #[test]
    fn argmin_takes_the_first_of_equal_and_ranks_inf_last() {
        assert_eq!(argmin(&[f64::INFINITY, 2.0, 1.0, 1.0]), 2);
        assert_eq!(argmin(&[f64::INFINITY, f64::INFINITY]), 0);
    }
}

#[cfg(test)]
mod compare_tests {
    use super::testfns::*;
    use super::*;
    use crate::calibrate::FnObjective;

    /// scipy reference, recorded with scipy 1.17.1 (numpy's PCG64 stream, so not draw for
    /// draw): for seed in 0..20,
    /// `differential_evolution(rosen, [(0, 1)] * 2, rng=seed, updating="deferred")` with
    /// `rosen(u)` the 2-D Rosenbrock of x = -2 + 5 u (testfns::rosenbrock) gave nfev median
    /// 4980 (min 4785, max 5355), nit median 163.5, x = [0.6, 0.6], fun = 0.0; seed 1:
    /// nit 160, nfev 4875. (`updating="immediate"`, scipy's default: nfev median 4095.)
    #[test]
    fn de_matches_a_recorded_scipy_run_on_rosenbrock_2d() {
        let f = FnObjective::new(2, rosenbrock);
        let mut nfev = Vec::new();
        for seed in 0..20 {
            let r = de::differential_evolution(&f, &DeSettings::default(), seed).unwrap();
            assert!(r.converged, "{r:?}");
            assert!(r.cost < 1e-12, "{r:?}");
            assert!(r.x.iter().all(|v| (v - 0.6).abs() < 1e-6), "{r:?}");
            nfev.push(r.nfev as f64);
        }
        nfev.sort_by(f64::total_cmp);
        let median = 0.5 * (nfev[9] + nfev[10]);
        assert!((0.7 * 4980.0..1.4 * 4980.0).contains(&median), "{nfev:?}");
    }

    #[test]
    fn compare_runs_the_methods_in_order_and_writes_csv() {
        let f = FnObjective::new(2, rastrigin);
        let methods = vec![
            Method::by_name("lbfgsb").unwrap(),
            Method::De(DeSettings {
                polish: false,
                ..DeSettings::default()
            }),
        ];
        let r = compare(&f, &methods, 7).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].method.as_str(), r[1].method.as_str()),
            ("lbfgsb", "de")
        );
        assert!(r[1].cost < 1e-3, "{:?}", r[1]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("optimum.csv");
        write_csv(&p, &r, Some(&["a".to_string(), "b".to_string()])).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "method,cost,nfev,iterations,seconds,converged,message,a,b"
        );
        assert!(lines[2].starts_with(&format!("de,{},{},", r[1].cost, r[1].nfev)));
        assert_eq!(lines.len(), 3);
        // a bad setting is refused before anything runs
        let bad = vec![Method::Lbfgsb(LbfgsbSettings {
            starts: 0,
            ..LbfgsbSettings::default()
        })];
        assert_eq!(
            compare(&f, &bad, 1).unwrap_err().to_string(),
            "lbfgsb: starts must be at least 1"
        );
    }

    /// The table of the report: `cargo test --lib print_method_table -- --ignored
    /// --nocapture`.
    #[test]
    #[ignore]
    fn print_method_table() {
        let methods: Vec<Method> = METHOD_NAMES
            .iter()
            .map(|n| Method::by_name(n).unwrap())
            .collect();
        for (name, func) in [
            ("rastrigin6", rastrigin as fn(&[f64]) -> f64),
            ("rosenbrock6", rosenbrock),
            ("ackley6", ackley),
        ] {
            let f = FnObjective::new(6, func);
            for r in compare(&f, &methods, 1).unwrap() {
                println!(
                    "{name:12} {:15} cost {:10.3e} nfev {:8} it {:6} {:8.4}s conv {} | {}",
                    r.method, r.cost, r.nfev, r.iterations, r.seconds, r.converged, r.message
                );
            }
        }
    }
}

#[cfg(test)]
mod robustness {
    use super::testfns::*;
    use super::*;
    use crate::calibrate::FnObjective;

    /// How often DE and dual annealing reach the minimum to 1e-4 over 20 seeds:
    /// `cargo test --lib optimize::robustness -- --ignored --nocapture`.
    ///
    /// Measured here (seeds 0..20, deferred DE / immediate DE / dual annealing): Rastrigin-6
    /// 18 / 16 / 20 of 20, mean nfev 23865 / 19646 / 12851; Rosenbrock-6 19 / 18 / 20,
    /// 76950 / 67045 / 12808; Ackley-6 20 / 20 / 20, 28975 / 26023 / 13119.
    /// scipy 1.17.1 on the same functions, `differential_evolution(f, [(0, 1)] * 6,
    /// rng=seed, updating="deferred")`, seeds 0..20: Rastrigin-6 16/20 (mean nfev 23146),
    /// Rosenbrock-6 18/20 (73693), Ackley-6 20/20 (30707). DE's misses are genuine: the
    /// population converges (spread <= tol |mean|) on a local minimum or short of the
    /// Rosenbrock valley's end, in scipy as here.
    #[test]
    #[ignore]
    fn success_rates_over_seeds() {
        for (name, func, u) in [
            ("rastrigin6", rastrigin as fn(&[f64]) -> f64, U_RASTRIGIN),
            ("rosenbrock6", rosenbrock, U_ROSENBROCK),
            ("ackley6", ackley, U_ACKLEY),
        ] {
            let f = FnObjective::new(6, func);
            for m in [
                Method::by_name("de").unwrap(),
                Method::De(DeSettings {
                    updating: Updating::Immediate,
                    ..DeSettings::default()
                }),
                Method::by_name("dual_annealing").unwrap(),
            ] {
                let mut ok = 0;
                let mut nfev = 0;
                for seed in 0..20 {
                    let r = m.run(&f, seed).unwrap();
                    nfev += r.nfev;
                    if r.cost < 1e-4 && r.x.iter().all(|v| (v - u).abs() < 1e-4) {
                        ok += 1;
                    }
                }
                println!(
                    "{name:12} {:15} {:?} {ok}/20 mean nfev {}",
                    m.name(),
                    if let Method::De(s) = &m {
                        Some(s.updating)
                    } else {
                        None
                    },
                    nfev / 20
                );
            }
        }
    }
}
