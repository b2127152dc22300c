//! Local optimisers: L-BFGS-B (the `basin` crate's port of the reference code 3.0) from
//! several starts, and Nelder-Mead and particle swarm from `argmin`.
//!
//! **Gradients for L-BFGS-B** are differences over `h` (default `1e-6`): central where both
//! `x_j - h` and `x_j + h` lie in `[0, 1]`, one-sided (over `h`, from `x_j` clipped) at a
//! bound. The `2d` shifted points, and the centre when the cost is asked for too, are one
//! batch for the objective (scipy uses forward differences with step `1e-8`, one point at a
//! time). Stopping follows scipy's defaults: projected-gradient max-norm `<= 1e-5`, or
//! relative cost decrease `<= 2.22e-9` (scipy's `ftol = factr * eps`, here tested as
//! `|f_k - f_k+1| <= ftol` or `<= ftol |f_k|`), or the iteration limit.
//!
//! A `+inf` cost along a step makes basin's line search fail: that start stops where it
//! stands (`converged` false, "line search failed"); the other starts go on.
//!
//! **Bounds for Nelder-Mead**: argmin's Nelder-Mead is unconstrained, so it minimises
//! `f(p(x)) + (1 + |f(p(x))|) ||x - p(x)||_1` with `p` the projection (clip) onto
//! `[0, 1]^d`: the cost of the nearest feasible point plus a penalty that grows with the
//! distance outside, so every point outside is worse than its projection. The reported
//! optimum is the projection of the best vertex, and its cost is `f` there.
//!
//! **Bounds for particle swarm**: argmin clamps every new position to the box itself.
//! Each swarm iteration's positions are one batch for the objective.

use super::{argmin, Counted, OptimumResult};
use super::{at_least_one, non_negative};
use crate::calibrate::{latin_hypercube, Objective};
use anyhow::{bail, Result};
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// L-BFGS-B settings (scipy's `minimize(method="L-BFGS-B")` defaults where they apply).
#[derive(Clone, Debug, PartialEq)]
pub struct LbfgsbSettings {
    /// Number of starts, from a Latin hypercube (the best end point is reported).
    pub starts: usize,
    /// Iteration limit per start (scipy: 15000).
    pub max_iter: usize,
    /// Stop when the projected gradient's max-norm is at most this (scipy `gtol` 1e-5).
    pub pgtol: f64,
    /// Stop when the relative cost decrease is at most this (scipy `ftol` 2.22e-9).
    pub ftol: f64,
    /// Finite-difference step for the gradient.
    pub step: f64,
    /// Number of correction pairs kept (scipy `maxcor` 10).
    pub memory: usize,
}

impl Default for LbfgsbSettings {
    fn default() -> Self {
        LbfgsbSettings {
            starts: 5,
            max_iter: 15000,
            pgtol: 1e-5,
            ftol: 1e7 * f64::EPSILON,
            step: 1e-6,
            memory: 10,
        }
    }
}

impl LbfgsbSettings {
    /// Checks the settings.
    pub fn check(&self) -> Result<()> {
        at_least_one("lbfgsb", "starts", self.starts)?;
        at_least_one("lbfgsb", "max_iter", self.max_iter)?;
        non_negative("lbfgsb", "pgtol", self.pgtol)?;
        non_negative("lbfgsb", "ftol", self.ftol)?;
        if !(self.step > 0.0 && self.step <= 0.1) {
            bail!("lbfgsb: step must be in (0, 0.1], got {}", self.step);
        }
        at_least_one("lbfgsb", "memory", self.memory)?;
        Ok(())
    }
}

/// One local L-BFGS-B run.
pub(crate) struct LocalRun {
    pub x: Vec<f64>,
    pub cost: f64,
    pub iterations: usize,
    pub converged: bool,
    pub message: String,
}

/// The objective as a `basin` problem on `[0, 1]^d`.
struct BasinProblem<'a, 'b> {
    f: &'b Counted<'a>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    step: f64,
    /// Scratch for the gradient batch: 2d shifted points, then the centre (allocated once
    /// per local run, reused for every gradient).
    batch: std::cell::RefCell<Array2<f64>>,
}

impl BasinProblem<'_, '_> {
    /// Fills the batch with `x - h e_j`, `x + h e_j` (clipped to the box) for every `j`, and
    /// `x` last when `centre`; evaluates it; returns the costs and the spacings.
    fn cost_and_grad(&self, x: &[f64], centre: bool) -> Result<(f64, Vec<f64>)> {
        let d = x.len();
        let mut b = self.batch.borrow_mut();
        let mut spacing = vec![0.0; d];
        for j in 0..d {
            let lo = (x[j] - self.step).max(0.0);
            let hi = (x[j] + self.step).min(1.0);
            let (lo, hi) = if hi - lo < self.step {
                // at a bound: one-sided over h
                if x[j] - self.step < 0.0 {
                    (x[j].max(0.0), (x[j].max(0.0) + self.step).min(1.0))
                } else {
                    ((x[j].min(1.0) - self.step).max(0.0), x[j].min(1.0))
                }
            } else {
                (lo, hi)
            };
            spacing[j] = hi - lo;
            let (mut r0, mut r1) =
                b.multi_slice_mut((ndarray::s![2 * j, ..], ndarray::s![2 * j + 1, ..]));
            for k in 0..d {
                r0[k] = x[k];
                r1[k] = x[k];
            }
            r0[j] = lo;
            r1[j] = hi;
        }
        let rows = if centre { 2 * d + 1 } else { 2 * d };
        if centre {
            b.row_mut(2 * d)
                .iter_mut()
                .zip(x)
                .for_each(|(o, &v)| *o = v);
        }
        let c = self.f.eval(b.slice(ndarray::s![..rows, ..]))?;
        let g = (0..d)
            .map(|j| {
                let v = (c[2 * j + 1] - c[2 * j]) / spacing[j];
                // an infinite cost on one side leaves no usable slope: push away from it
                if v.is_nan() {
                    0.0
                } else {
                    v
                }
            })
            .collect();
        Ok((if centre { c[2 * d] } else { f64::NAN }, g))
    }
}

impl basin::CostFunction for BasinProblem<'_, '_> {
    type Param = Vec<f64>;
    type Output = f64;
    type Error = anyhow::Error;
    fn cost(&self, x: &Vec<f64>) -> Result<f64> {
        self.f.eval_one(x)
    }
}

impl basin::Gradient for BasinProblem<'_, '_> {
    type Gradient = Vec<f64>;
    fn gradient(&self, x: &Vec<f64>) -> Result<Vec<f64>> {
        Ok(self.cost_and_grad(x, false)?.1)
    }
    fn cost_and_gradient(&self, x: &Vec<f64>) -> Result<(f64, Vec<f64>)> {
        self.cost_and_grad(x, true)
    }
}

impl basin::BoxConstraints for BasinProblem<'_, '_> {
    fn lower(&self) -> &Vec<f64> {
        &self.lower
    }
    fn upper(&self) -> &Vec<f64> {
        &self.upper
    }
}

/// L-BFGS-B from `x0` (projected onto the box), stopping as scipy does by default except
/// for the iteration limit `max_iter`.
pub(crate) fn lbfgsb_from(
    f: &Counted<'_>,
    x0: &[f64],
    s: &LbfgsbSettings,
    max_iter: usize,
) -> Result<LocalRun> {
    use basin::core::termination::TerminationReason as R;
    let d = f.dim();
    let problem = BasinProblem {
        f,
        lower: vec![0.0; d],
        upper: vec![1.0; d],
        step: s.step,
        batch: std::cell::RefCell::new(Array2::zeros((2 * d + 1, d))),
    };
    let x0: Vec<f64> = x0.iter().map(|v| v.clamp(0.0, 1.0)).collect();
    let solver = basin::Lbfgsb::new()
        .with_m_capacity(s.memory)
        .with_absolute_projected_gradient_tolerance(s.pgtol)
        .with_absolute_cost_change_tolerance(s.ftol)
        .with_relative_cost_change_tolerance(s.ftol);
    let res = basin::Executor::new(problem, solver, basin::LbfgsState::new(x0, s.memory))
        .max_iter(max_iter as u64)
        .run()?;
    let (converged, message) = match res.reason {
        R::ProjectedGradientTolerance => (true, "projected gradient <= pgtol".to_string()),
        R::CostTolerance | R::RelativeCostTolerance => {
            (true, "relative cost decrease <= ftol".to_string())
        }
        R::MaxIter => (false, format!("iteration limit {max_iter} reached")),
        R::SolverFailed => (
            false,
            "line search failed (an infinite cost along the step?)".to_string(),
        ),
        other => (false, format!("stopped: {other:?}")),
    };
    Ok(LocalRun {
        x: res.best_param().clone(),
        cost: res.best_cost(),
        iterations: res.iter() as usize,
        converged,
        message,
    })
}

/// L-BFGS-B from `s.starts` Latin-hypercube starts (seeded); the best end point is
/// reported, `nfev` and `iterations` are totals over the starts, and `converged` says
/// whether the best start met a stopping test.
pub fn lbfgsb(objective: &dyn Objective, s: &LbfgsbSettings, seed: u64) -> Result<OptimumResult> {
    s.check()?;
    let t = Instant::now();
    let f = Counted::new(objective)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let starts = latin_hypercube(s.starts, f.dim(), &mut rng);
    let mut runs = Vec::with_capacity(s.starts);
    for x0 in starts.rows() {
        runs.push(lbfgsb_from(&f, &x0.to_vec(), s, s.max_iter)?);
    }
    let costs: Vec<f64> = runs.iter().map(|r| r.cost).collect();
    let iterations = runs.iter().map(|r| r.iterations).sum();
    let best = runs.swap_remove(argmin(&costs));
    Ok(OptimumResult {
        method: "lbfgsb".into(),
        x: best.x,
        cost: best.cost,
        nfev: f.nfev(),
        iterations,
        seconds: t.elapsed().as_secs_f64(),
        converged: best.converged,
        message: format!("best of {} starts: {}", s.starts, best.message),
    })
}

/// Nelder-Mead settings (argmin's `NelderMead`).
#[derive(Clone, Debug, PartialEq)]
pub struct NelderMeadSettings {
    /// Number of starts, from a Latin hypercube.
    pub starts: usize,
    /// Iteration limit per start.
    pub max_iter: usize,
    /// Stop when the standard deviation of the simplex's costs is at most this.
    pub sd_tolerance: f64,
    /// Edge of the initial simplex: `x0` and `x0 + size e_j` (stepping down where that
    /// would leave the box).
    pub size: f64,
}

impl Default for NelderMeadSettings {
    fn default() -> Self {
        NelderMeadSettings {
            starts: 5,
            max_iter: 2000,
            sd_tolerance: 1e-10,
            size: 0.05,
        }
    }
}

impl NelderMeadSettings {
    /// Checks the settings.
    pub fn check(&self) -> Result<()> {
        at_least_one("nelder_mead", "starts", self.starts)?;
        at_least_one("nelder_mead", "max_iter", self.max_iter)?;
        non_negative("nelder_mead", "sd_tolerance", self.sd_tolerance)?;
        if !(self.size > 0.0 && self.size <= 0.5) {
            bail!("nelder_mead: size must be in (0, 0.5], got {}", self.size);
        }
        Ok(())
    }
}

/// The objective for argmin: projection plus penalty (Nelder-Mead) or plain (the swarm
/// clamps itself); `bulk_cost` hands a whole set of points to the objective as one batch.
///
/// argmin's Nelder-Mead unwraps the costs of its initial simplex, so for it `cost` never
/// fails: the first error is kept in `error` (and reported after the run) and every cost
/// from then on is `+inf` without evaluating anything.
struct ArgminProblem<'a, 'b> {
    f: &'b Counted<'a>,
    penalise: bool,
    error: std::cell::RefCell<Option<anyhow::Error>>,
}

impl ArgminProblem<'_, '_> {
    fn batch(&self, xs: &[&Vec<f64>]) -> Result<Vec<f64>> {
        let d = self.f.dim();
        let mut b = Array2::zeros((xs.len(), d));
        let mut dist = vec![0.0; xs.len()];
        for (i, x) in xs.iter().enumerate() {
            if x.len() != d {
                bail!("a candidate has {} parameters, the cost takes {d}", x.len());
            }
            for (j, &v) in x.iter().enumerate() {
                let p = v.clamp(0.0, 1.0);
                dist[i] += (v - p).abs();
                b[[i, j]] = p;
            }
        }
        let c = self.f.eval(b.view())?;
        Ok(c.iter()
            .zip(&dist)
            .map(|(&c, &dd)| {
                // (+inf stays +inf: inf * 0 would be NaN)
                if self.penalise && dd > 0.0 {
                    c + (1.0 + c.abs()) * dd
                } else {
                    c
                }
            })
            .collect())
    }
}

impl argmin::core::CostFunction for ArgminProblem<'_, '_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Vec<f64>) -> Result<f64> {
        if self.error.borrow().is_some() {
            return Ok(f64::INFINITY);
        }
        match self.batch(&[x]) {
            Ok(c) => Ok(c[0]),
            Err(e) => {
                *self.error.borrow_mut() = Some(e);
                Ok(f64::INFINITY)
            }
        }
    }
    fn bulk_cost<P>(&self, params: &[P]) -> Result<Vec<f64>>
    where
        P: std::borrow::Borrow<Vec<f64>> + argmin::core::SyncAlias,
        f64: argmin::core::SendAlias,
    {
        let xs: Vec<&Vec<f64>> = params.iter().map(|p| p.borrow()).collect();
        self.batch(&xs)
    }
}

/// Nelder-Mead (argmin) from `s.starts` Latin-hypercube starts; bounds as described in the
/// module documentation. Totals and the best start as for [`lbfgsb`].
pub fn nelder_mead(
    objective: &dyn Objective,
    s: &NelderMeadSettings,
    seed: u64,
) -> Result<OptimumResult> {
    use argmin::core::{State, TerminationReason as R, TerminationStatus};
    s.check()?;
    let t = Instant::now();
    let f = Counted::new(objective)?;
    let d = f.dim();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let starts = latin_hypercube(s.starts, d, &mut rng);
    let mut best: Option<(Vec<f64>, f64, bool, String)> = None;
    let mut iterations = 0;
    for x0 in starts.rows() {
        let x0 = x0.to_vec();
        let mut simplex = vec![x0.clone()];
        for j in 0..d {
            let mut v = x0.clone();
            v[j] = if v[j] + s.size <= 1.0 {
                v[j] + s.size
            } else {
                v[j] - s.size
            };
            simplex.push(v);
        }
        let solver = argmin::solver::neldermead::NelderMead::new(simplex)
            .with_sd_tolerance(s.sd_tolerance)?;
        let problem = ArgminProblem {
            f: &f,
            penalise: true,
            error: None.into(),
        };
        let res = argmin::core::Executor::new(problem, solver)
            .configure(|st| st.max_iters(s.max_iter as u64))
            .run()?;
        if let Some(e) = res.problem.problem.as_ref().and_then(|p| p.error.take()) {
            return Err(e);
        }
        let st = res.state();
        iterations += st.get_iter() as usize;
        let x: Vec<f64> = st
            .get_best_param()
            .map(|p| p.iter().map(|v| v.clamp(0.0, 1.0)).collect())
            .unwrap_or(x0);
        let (conv, msg) = match st.get_termination_status() {
            TerminationStatus::Terminated(R::SolverConverged) => {
                (true, "simplex cost spread <= sd_tolerance".to_string())
            }
            TerminationStatus::Terminated(R::MaxItersReached) => {
                (false, format!("iteration limit {} reached", s.max_iter))
            }
            other => (false, format!("stopped: {other:?}")),
        };
        // the reported cost is f at the projected point (the penalty is zero there)
        let cost = f.eval_one(&x)?;
        if best.as_ref().is_none_or(|b| cost < b.1) {
            best = Some((x, cost, conv, msg));
        }
    }
    let (x, cost, converged, msg) = best.expect("at least one start");
    Ok(OptimumResult {
        method: "nelder_mead".into(),
        x,
        cost,
        nfev: f.nfev(),
        iterations,
        seconds: t.elapsed().as_secs_f64(),
        converged,
        message: format!("best of {} starts: {msg}", s.starts),
    })
}

/// Particle-swarm settings (argmin's `ParticleSwarm`, its default factors).
#[derive(Clone, Debug, PartialEq)]
pub struct SwarmSettings {
    /// Number of particles.
    pub particles: usize,
    /// Number of iterations (the swarm has no convergence test: it always runs them all).
    pub max_iter: usize,
    /// Inertia weight (argmin: 1 / (2 ln 2)).
    pub inertia: f64,
    /// Pull towards each particle's own best (argmin: 0.5 + ln 2).
    pub cognitive: f64,
    /// Pull towards the swarm's best (argmin: 0.5 + ln 2).
    pub social: f64,
}

impl Default for SwarmSettings {
    fn default() -> Self {
        let ln2 = std::f64::consts::LN_2;
        SwarmSettings {
            particles: 40,
            max_iter: 500,
            inertia: 1.0 / (2.0 * ln2),
            cognitive: 0.5 + ln2,
            social: 0.5 + ln2,
        }
    }
}

impl SwarmSettings {
    /// Checks the settings.
    pub fn check(&self) -> Result<()> {
        if self.particles < 2 {
            bail!("particle_swarm: particles must be at least 2");
        }
        at_least_one("particle_swarm", "max_iter", self.max_iter)?;
        for (n, v) in [
            ("inertia", self.inertia),
            ("cognitive", self.cognitive),
            ("social", self.social),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                bail!("particle_swarm: {n} must be >= 0, got {v}");
            }
        }
        Ok(())
    }
}

/// Particle swarm (argmin) on `[0, 1]^d`, seeded; each iteration's positions are one batch.
/// `converged` is always false: the swarm runs its `max_iter` iterations.
pub fn particle_swarm(
    objective: &dyn Objective,
    s: &SwarmSettings,
    seed: u64,
) -> Result<OptimumResult> {
    use argmin::core::State;
    use rand09::SeedableRng as _;
    s.check()?;
    let t = Instant::now();
    let f = Counted::new(objective)?;
    let d = f.dim();
    let solver = argmin::solver::particleswarm::ParticleSwarm::new(
        (vec![0.0; d], vec![1.0; d]),
        s.particles,
    )
    .with_inertia_factor(s.inertia)?
    .with_cognitive_factor(s.cognitive)?
    .with_social_factor(s.social)?
    .with_rng_generator(rand09::rngs::StdRng::seed_from_u64(seed));
    let problem = ArgminProblem {
        f: &f,
        penalise: false,
        error: None.into(),
    };
    let res = argmin::core::Executor::new(problem, solver)
        .configure(|st| st.max_iters(s.max_iter as u64))
        .run()?;
    let st = res.state();
    let p = st
        .get_best_param()
        .ok_or_else(|| anyhow::anyhow!("particle_swarm: no best particle"))?;
    Ok(OptimumResult {
        method: "particle_swarm".into(),
        x: p.position.clone(),
        cost: p.cost,
        nfev: f.nfev(),
        iterations: st.get_iter() as usize,
        seconds: t.elapsed().as_secs_f64(),
        converged: false,
        message: format!("ran its {} iterations (no convergence test)", s.max_iter),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testfns::*;
    use super::*;
    use crate::calibrate::FnObjective;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    /// `(x0-1.2)^2 + (x1-0.3)^2 + (x0-1.2)(x1-0.3) + 3 (x2-0.7)^2`: convex, unconstrained
    /// minimum (1.2, 0.3, 0.7) outside the box. By hand: x0 = 1 is active; then
    /// d/dx1 = 2 (x1 - 0.3) + (1 - 1.2) = 0 gives x1 = 0.4; x2 = 0.7; the cost is
    /// 0.04 + 0.01 - 0.02 = 0.03, and d/dx0 = 2 (-0.2) + 0.1 = -0.3 < 0 pushes against the
    /// bound (KKT). scipy 1.17.1 `minimize(q, [0.5]*3, method="L-BFGS-B", bounds=[(0,1)]*3)`
    /// gives [1, 0.40000478, 0.70000132], 0.030000000028.
    fn quadratic(x: &[f64]) -> f64 {
        (x[0] - 1.2).powi(2)
            + (x[1] - 0.3).powi(2)
            + (x[0] - 1.2) * (x[1] - 0.3)
            + 3.0 * (x[2] - 0.7).powi(2)
    }

    struct Counting<F: Fn(&[f64]) -> f64 + Sync> {
        f: FnObjective<F>,
        rows: AtomicUsize,
        calls: AtomicUsize,
        max_batch: AtomicUsize,
    }
    impl<F: Fn(&[f64]) -> f64 + Sync> Objective for Counting<F> {
        fn dim(&self) -> usize {
            self.f.dim()
        }
        fn cost(&self, x: ndarray::ArrayView2<f64>) -> Result<ndarray::Array1<f64>> {
            self.rows.fetch_add(x.nrows(), Relaxed);
            self.calls.fetch_add(1, Relaxed);
            self.max_batch.fetch_max(x.nrows(), Relaxed);
            self.f.cost(x)
        }
    }
    fn counting<F: Fn(&[f64]) -> f64 + Sync>(d: usize, f: F) -> Counting<F> {
        Counting {
            f: FnObjective::new(d, f),
            rows: 0.into(),
            calls: 0.into(),
            max_batch: 0.into(),
        }
    }

    #[test]
    fn lbfgsb_finds_the_bounded_minimum_of_a_quadratic_exactly() {
        // scipy's default tolerances: as close as scipy gets (it is 4.8e-6 off in x1)
        let r = lbfgsb(
            &FnObjective::new(3, quadratic),
            &LbfgsbSettings::default(),
            1,
        )
        .unwrap();
        assert_eq!(r.x[0], 1.0, "{r:?}");
        assert!(
            (r.x[1] - 0.4).abs() < 5e-6 && (r.x[2] - 0.7).abs() < 5e-6,
            "{r:?}"
        );
        // tight tolerances: exact up to the rounding of the difference quotients
        let s = LbfgsbSettings {
            pgtol: 1e-11,
            ftol: 0.0,
            ..LbfgsbSettings::default()
        };
        let f = counting(3, quadratic);
        let r = lbfgsb(&f, &s, 1).unwrap();
        assert_eq!(r.x[0], 1.0, "{r:?}");
        assert!((r.x[1] - 0.4).abs() < 1e-9, "{r:?}");
        assert!((r.x[2] - 0.7).abs() < 1e-9, "{r:?}");
        assert!((r.cost - 0.03).abs() < 1e-15, "{r:?}");
        assert!(r.converged, "{r:?}");
        // evaluations: exact, and gradients come as batches of 2d + 1 = 7 rows
        assert_eq!(r.nfev, f.rows.load(Relaxed));
        assert_eq!(f.max_batch.load(Relaxed), 7);
        assert!(r.nfev < 5 * 7 * 30, "{r:?}");
    }

    #[test]
    fn lbfgsb_gradient_batch_is_central_inside_and_one_sided_at_bounds() {
        let f = FnObjective::new(2, |x: &[f64]| x[0] * x[0] + 3.0 * x[1]);
        let c = Counted::new(&f).unwrap();
        let p = BasinProblem {
            f: &c,
            lower: vec![0.0; 2],
            upper: vec![1.0; 2],
            step: 1e-3,
            batch: std::cell::RefCell::new(Array2::zeros((5, 2))),
        };
        let (v, g) = p.cost_and_grad(&[0.5, 1.0], true).unwrap();
        assert_eq!(v, 3.25);
        // central for x0: exact 2 * 0.5 = 1; backward over h at the upper bound for x1
        assert!(
            (g[0] - 1.0).abs() < 1e-12 && (g[1] - 3.0).abs() < 1e-9,
            "{g:?}"
        );
        let (_, g) = p.cost_and_grad(&[0.0, 0.2], false).unwrap();
        // forward over h at the lower bound: (h^2 - 0) / h = h
        assert!((g[0] - 1e-3).abs() < 1e-12, "{g:?}");
        assert_eq!(c.nfev(), 5 + 4);
    }

    #[test]
    fn lbfgsb_from_a_few_starts_gets_stuck_on_rastrigin() {
        // a local method: each start ends in a local minimum of Rastrigin (cost >= ~1)
        let f = FnObjective::new(6, rastrigin);
        let r = lbfgsb(&f, &LbfgsbSettings::default(), 2).unwrap();
        assert!(r.cost > 0.9, "{r:?}");
        assert!(r.converged, "{r:?}");
    }

    #[test]
    fn nelder_mead_and_swarm_get_rosenbrock_2d_roughly() {
        let f = counting(2, rosenbrock);
        let r = nelder_mead(&f, &NelderMeadSettings::default(), 1).unwrap();
        assert!(r.cost < 1e-6, "{r:?}");
        assert!(r.x.iter().all(|v| (v - U_ROSENBROCK).abs() < 1e-3), "{r:?}");
        assert_eq!(r.nfev, f.rows.load(Relaxed));
        let f = counting(2, rosenbrock);
        let s = SwarmSettings::default();
        let r = particle_swarm(&f, &s, 1).unwrap();
        assert!(r.cost < 1e-3, "{r:?}");
        assert!(r.x.iter().all(|v| (v - U_ROSENBROCK).abs() < 0.01), "{r:?}");
        // initial swarm plus one batch of 40 per iteration
        assert_eq!(r.nfev, f.rows.load(Relaxed));
        assert_eq!(r.nfev, 40 * (s.max_iter + 1));
        assert_eq!(f.calls.load(Relaxed), s.max_iter + 1);
        // the same seed gives the same swarm
        let r2 = particle_swarm(&FnObjective::new(2, rosenbrock), &s, 1).unwrap();
        assert_eq!(r.x, r2.x);
    }

    #[test]
    fn nan_costs_are_errors_and_inf_is_worst_for_every_local_method() {
        let nan = FnObjective::new(2, |x: &[f64]| if x[0] > 0.3 { f64::NAN } else { x[1] });
        for e in [
            lbfgsb(&nan, &LbfgsbSettings::default(), 1).unwrap_err(),
            nelder_mead(&nan, &NelderMeadSettings::default(), 1).unwrap_err(),
            particle_swarm(&nan, &SwarmSettings::default(), 1).unwrap_err(),
        ] {
            assert!(
                e.to_string().starts_with("the cost is NaN for candidate ["),
                "{e}"
            );
        }
        // +inf beyond x0 = 0.7: the minimum of (x0 - 0.9)^2 + (x1 - 0.5)^2 on the finite
        // part is at (0.7, 0.5), cost 0.04
        let inf = FnObjective::new(2, |x: &[f64]| {
            if x[0] > 0.7 {
                f64::INFINITY
            } else {
                (x[0] - 0.9).powi(2) + (x[1] - 0.5).powi(2)
            }
        });
        // L-BFGS-B's line search cannot step into +inf: it stops where it stands, says so,
        // and reports the best finite start
        let r = lbfgsb(&inf, &LbfgsbSettings::default(), 1).unwrap();
        assert!(r.cost.is_finite() && !r.converged, "{r:?}");
        assert!(r.message.contains("line search failed"), "{r:?}");
        let r = nelder_mead(&inf, &NelderMeadSettings::default(), 1).unwrap();
        assert!((r.cost - 0.04).abs() < 1e-6, "{r:?}");
        let r = particle_swarm(&inf, &SwarmSettings::default(), 1).unwrap();
        assert!((r.cost - 0.04).abs() < 1e-4, "{r:?}");
    }

    #[test]
    fn nelder_mead_respects_the_bounds() {
        // minimum of the quadratic in the box has x0 on its upper bound
        let r = nelder_mead(
            &FnObjective::new(3, quadratic),
            &NelderMeadSettings::default(),
            3,
        )
        .unwrap();
        assert!(r.x.iter().all(|v| (0.0..=1.0).contains(v)), "{r:?}");
        assert!(
            (r.x[0] - 1.0).abs() < 1e-4 && (r.x[1] - 0.4).abs() < 1e-3,
            "{r:?}"
        );
        assert!((r.cost - 0.03).abs() < 1e-6, "{r:?}");
    }
}
