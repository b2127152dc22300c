//! What the data constrain: per parameter, the posterior's width against the prior's, the
//! cost's total Sobol index, and a profile of the cost along the parameter; a verdict
//! (`constrained`) by a stated rule, and for the parameters the data do not constrain the
//! optimum reported as a range (the posterior's 5-95 % interval), not a number
//! (`calibrate/identifiability.csv`, `identifiability_profiles.csv`, `identifiability.png`).
//!
//! **Widths.** The prior is uniform on `[0, 1]` (the scalings), so its 5-95 % width is
//! [`PRIOR_WIDTH`] = 0.9. The posterior's width is `p95 - p05` of the draws (numpy's
//! `linear` quantiles, as `posterior.csv`).
//!
//! **Total Sobol index of the cost** over the prior (uniform on the box): the Jansen (1999)
//! estimator of the emulator stage ([`crate::emulate::interpret::sobol`], reused through an
//! adapter: the cost is a one-output "emulator"), `N` seeded base samples, `(d + 2) N` cost
//! evaluations. It is a global measure: the share of the cost's variance over the whole box
//! that involves the parameter, interactions included. A cost that ignores a parameter
//! gives exactly 0 (`f(A) = f(A_B^i)` row by row).
//!
//! **Profiles.** On a grid of `points` values in `[0, 1]` (21: steps of 0.05): the cost with
//! the other parameters at the optimum (a slice, `points` evaluations per parameter), and,
//! with [`Profile::Optimized`] (the default), the profile proper: the other parameters
//! re-optimised at each grid value by L-BFGS-B (the optimiser of `optimize`, its defaults
//! but at most `local_iterations` iterations), warm-started from the optimum at the grid
//! value nearest to it and from the neighbouring grid value's solution outward; the profile
//! is the lower of that and the slice at each value (so it never lies above the slice). On
//! the demo twin's GP cost the Sobol indices and re-optimised profiles together took 63 s
//! in a debug build under load (`profile: "at_optimum"` skips the local optimisations).
//!
//! **The rule.** A parameter is *constrained* when both
//! - its posterior 5-95 % width is below `max_width_ratio` (0.5) of the prior's: the data
//!   rule out at least half of its range, and
//! - its total Sobol index is at least `min_total_sobol` (0.01): at least 1 % of the cost's
//!   variance over the box involves it.
//!
//! The first is the verdict itself (what the posterior says about the parameter); the second
//! guards it: a narrow posterior of a parameter the cost hardly depends on cannot come from
//! the data, only from a chain that did not spread (walkers started in a small ball that
//! never mixed), so both must agree. A parameter with a wide posterior is not constrained
//! however large its Sobol index (the cost may vary strongly far from the optimum and still
//! be flat near it). The Sobol index being global, a parameter that matters only in a small
//! region can fall under 1 % while its posterior is narrow: it is then reported
//! unconstrained and the `reason` column says why; look at its profile.
//!
//! **Bounded on one side.** A parameter that is not constrained but matters (total Sobol at
//! least `min_total_sobol`) and whose posterior leaves out at least `min_excluded` (0.25) of
//! the prior at one end is *bounded below* (`p05 >= 0.25`: the data rule out low values,
//! reported `>= p05`) or *bounded above* (`p95 <= 0.75`, reported `<= p95`). On the demo
//! twin kmax is one: the cost rises steeply below 0.4 and is nearly flat above (posterior
//! 0.41-0.96, total Sobol 1.0). The `status` column holds the verdict in words:
//! `constrained`, `bounded below`, `bounded above` or `unconstrained`.

use super::mcmc::quantile_linear;
use super::optimize::local::{lbfgsb_from, LbfgsbSettings};
use super::optimize::Counted;
use super::Objective;
use crate::emulate::{Emulator, Prediction};
use crate::table::{Column, Table};
use anyhow::{bail, Result};
use ndarray::{Array1, Array2, ArrayView2};
use std::path::Path;
use std::time::Instant;

/// The 5-95 % width of the prior of every scaling: uniform on `[0, 1]`.
pub const PRIOR_WIDTH: f64 = 0.9;

/// How the profile of the cost along a parameter treats the other parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// At the optimum (a slice through it): `points` evaluations per parameter.
    AtOptimum,
    /// Re-optimised at every grid value (the profile proper), besides the slice.
    Optimized,
}

impl Profile {
    /// `"at_optimum"` or `"optimized"`.
    pub fn name(&self) -> &'static str {
        match self {
            Profile::AtOptimum => "at_optimum",
            Profile::Optimized => "optimized",
        }
    }

    /// The profile kind named `name` (`at_optimum` or `optimized`).
    pub fn parse(name: &str) -> Result<Profile> {
        match name {
            "at_optimum" | "fixed" => Ok(Profile::AtOptimum),
            "optimized" | "optimised" => Ok(Profile::Optimized),
            _ => bail!(
                "unknown profile '{name}': use \"optimized\" or \"at_optimum\"",
                name = crate::format::printable(name)
            ),
        }
    }
}

/// Settings of [`identify`].
#[derive(Debug, Clone, PartialEq)]
pub struct IdentifySettings {
    /// Base samples `N` of the Sobol estimator (`(d + 2) N` cost evaluations).
    pub sobol_samples: usize,
    /// Seed of the Sobol samples.
    pub seed: u64,
    /// Grid values of each profile, evenly from 0 to 1 (at least 2).
    pub points: usize,
    /// Whether profiles re-optimise the other parameters.
    pub profile: Profile,
    /// Iteration limit of each local optimisation of a profile.
    pub local_iterations: usize,
    /// Constrained needs posterior width / prior width below this.
    pub max_width_ratio: f64,
    /// Constrained needs a total Sobol index at least this.
    pub min_total_sobol: f64,
    /// Bounded on one side needs the posterior to leave out at least this much of the
    /// prior (`[0, 1]`) at that end.
    pub min_excluded: f64,
}

impl Default for IdentifySettings {
    /// N = 10,000 Sobol samples, seed 0, 21 profile values, re-optimised profiles (at most
    /// 200 L-BFGS-B iterations each), width ratio below 0.5, total Sobol at least 0.01,
    /// a quarter of the prior left out for a bound on one side.
    fn default() -> IdentifySettings {
        IdentifySettings {
            sobol_samples: 10_000,
            seed: 0,
            points: 21,
            profile: Profile::Optimized,
            local_iterations: 200,
            max_width_ratio: 0.5,
            min_total_sobol: 0.01,
            min_excluded: 0.25,
        }
    }
}

impl IdentifySettings {
    /// Checks the settings; errors say which is wrong.
    pub fn check(&self) -> Result<()> {
        if self.sobol_samples < 2 {
            bail!(
                "identifiability: sobol_samples = {} must be at least 2",
                self.sobol_samples
            );
        }
        if self.points < 2 {
            bail!(
                "identifiability: points = {} must be at least 2",
                self.points
            );
        }
        if self.local_iterations == 0 {
            bail!("identifiability: local_iterations must be at least 1");
        }
        if !(self.max_width_ratio > 0.0 && self.max_width_ratio.is_finite()) {
            bail!(
                "identifiability: max_width_ratio = {} must be a number above 0",
                self.max_width_ratio
            );
        }
        if !(self.min_excluded > 0.0 && self.min_excluded < 1.0) {
            bail!(
                "identifiability: min_excluded = {} must be a fraction between 0 and 1",
                self.min_excluded
            );
        }
        if !(self.min_total_sobol >= 0.0 && self.min_total_sobol.is_finite()) {
            bail!(
                "identifiability: min_total_sobol = {} must be a number >= 0",
                self.min_total_sobol
            );
        }
        Ok(())
    }
}

/// The verdict on one parameter (module docs: the rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The posterior is narrow and the cost depends on the parameter.
    Constrained,
    /// The data rule out low values only.
    BoundedBelow,
    /// The data rule out high values only.
    BoundedAbove,
    /// The data say little about it.
    Unconstrained,
}

impl Status {
    /// The verdict in words, as in `identifiability.csv`'s `status` column.
    pub fn name(self) -> &'static str {
        match self {
            Status::Constrained => "constrained",
            Status::BoundedBelow => "bounded below",
            Status::BoundedAbove => "bounded above",
            Status::Unconstrained => "unconstrained",
        }
    }
}

/// What the data say about one parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterIdentity {
    /// The parameter's name.
    pub name: String,
    /// 5-95 % width of the prior ([`PRIOR_WIDTH`]).
    pub prior_width: f64,
    /// 5-95 % width of the posterior draws.
    pub posterior_width: f64,
    /// Total Sobol index of the cost.
    pub total_sobol: f64,
    /// First-order Sobol index of the cost.
    pub first_order_sobol: f64,
    /// The verdict of the rule (module docs): `status == Status::Constrained`.
    pub constrained: bool,
    /// The verdict, with the one-sided bounds.
    pub status: Status,
    /// Why, in words.
    pub reason: String,
    /// The optimum's value.
    pub optimum: f64,
    /// Posterior 5 % quantile.
    pub p05: f64,
    /// Posterior median.
    pub p50: f64,
    /// Posterior 95 % quantile.
    pub p95: f64,
    /// Cost on the grid with the others at the optimum.
    pub slice: Vec<f64>,
    /// Cost on the grid with the others re-optimised ([`Profile::Optimized`]).
    pub profile: Option<Vec<f64>>,
}

impl ParameterIdentity {
    /// The posterior width over the prior width.
    pub fn width_ratio(&self) -> f64 {
        self.posterior_width / self.prior_width
    }

    /// The profile drawn and ranged: re-optimised if computed, else the slice.
    pub fn curve(&self) -> &[f64] {
        self.profile.as_deref().unwrap_or(&self.slice)
    }

    /// How much the cost moves along the parameter: max - min of [`Self::curve`] (finite
    /// values).
    pub fn profile_range(&self) -> f64 {
        let c = self.curve().iter().copied().filter(|v| v.is_finite());
        let (lo, hi) = c.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        if lo <= hi {
            hi - lo
        } else {
            f64::NAN
        }
    }

    /// The estimate as it should be reported: the optimum (`0.533`) when constrained, the
    /// bound (`>= 0.41`, `<= 0.62`) when bounded on one side, else the posterior's 5-95 %
    /// interval (`0.39-0.91`).
    pub fn estimate(&self) -> String {
        match self.status {
            Status::Constrained => format!("{:.3}", self.optimum),
            Status::BoundedBelow => format!(">= {:.2}", self.p05),
            Status::BoundedAbove => format!("<= {:.2}", self.p95),
            Status::Unconstrained => format!("{:.2}-{:.2}", self.p05, self.p95),
        }
    }
}

/// What the data constrain, per parameter ([`identify`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Identifiability {
    /// One per parameter, in the cost's order.
    pub parameters: Vec<ParameterIdentity>,
    /// The profiles' grid.
    pub grid: Vec<f64>,
    /// The cost at the optimum.
    pub optimum_cost: f64,
    /// The cost's variance over the box (the Sobol indices' denominator).
    pub cost_variance: f64,
    /// Number of posterior draws the widths come from.
    pub draws: usize,
    /// Cost evaluations made (Sobol and profiles).
    pub evaluations: usize,
    /// Wall time, seconds.
    pub seconds: f64,
    /// The settings used.
    pub settings: IdentifySettings,
}

/// The cost as a one-output emulator, so that the emulator stage's Sobol estimator can
/// run on it; counts evaluations, and refuses a non-finite cost (Sobol indices of a cost
/// that is `+inf` somewhere are undefined).
struct CostAsEmulator<'a> {
    cost: &'a dyn Objective,
    evaluations: std::sync::atomic::AtomicUsize,
}

impl Emulator for CostAsEmulator<'_> {
    fn method(&self) -> String {
        "cost".into()
    }
    fn inputs(&self) -> usize {
        self.cost.dim()
    }
    fn outputs(&self) -> usize {
        1
    }
    fn predict(&self, x: ArrayView2<f64>) -> Result<Prediction> {
        let c = self.cost.cost(x)?;
        self.evaluations
            .fetch_add(x.nrows(), std::sync::atomic::Ordering::Relaxed);
        if c.len() != x.nrows() {
            bail!(
                "the cost returned {} values for {} candidates",
                c.len(),
                x.nrows()
            );
        }
        if let Some(i) = c.iter().position(|v| !v.is_finite()) {
            let xs: Vec<String> = x.row(i).iter().map(|v| format!("{v:.4}")).collect();
            bail!(
                "identifiability: the cost is {} at [{}]; Sobol indices need a finite cost everywhere in the box",
                c[i],
                xs.join(", ")
            );
        }
        let mean = c.insert_axis(ndarray::Axis(1));
        Ok(Prediction {
            variance: Array2::zeros(mean.raw_dim()),
            mean,
        })
    }
}

/// The cost with parameter `j` pinned at `value`: an objective over the other `d - 1`.
struct Pinned<'a> {
    cost: &'a dyn Objective,
    j: usize,
    value: f64,
}

impl Objective for Pinned<'_> {
    fn dim(&self) -> usize {
        self.cost.dim() - 1
    }
    fn cost(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        super::check_batch(x, self.dim())?;
        let d = self.cost.dim();
        let full = Array2::from_shape_fn((x.nrows(), d), |(i, k)| {
            if k < self.j {
                x[[i, k]]
            } else if k == self.j {
                self.value
            } else {
                x[[i, k - 1]]
            }
        });
        self.cost.cost(full.view())
    }
    fn parallel(&self) -> bool {
        self.cost.parallel()
    }
}

/// The profile of parameter `j` with the others re-optimised (module docs), and the number
/// of evaluations it took.
fn optimized_profile(
    cost: &dyn Objective,
    j: usize,
    grid: &[f64],
    optimum: &[f64],
    slice: &[f64],
    s: &IdentifySettings,
) -> Result<(Vec<f64>, usize)> {
    let others: Vec<f64> = optimum
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != j)
        .map(|(_, v)| *v)
        .collect();
    let local = LbfgsbSettings {
        starts: 1,
        max_iter: s.local_iterations,
        ..LbfgsbSettings::default()
    };
    let nearest = (0..grid.len())
        .min_by(|&a, &b| {
            (grid[a] - optimum[j])
                .abs()
                .total_cmp(&(grid[b] - optimum[j]).abs())
        })
        .unwrap_or(0);
    let mut out = vec![f64::NAN; grid.len()];
    let mut nfev = 0;
    let up: Vec<usize> = (nearest..grid.len()).collect();
    let down: Vec<usize> = (0..nearest).rev().collect();
    for order in [up, down] {
        let mut x0 = others.clone();
        for k in order {
            let pinned = Pinned {
                cost,
                j,
                value: grid[k],
            };
            let f = Counted::new(&pinned)?;
            let run = lbfgsb_from(&f, &x0, &local, local.max_iter)?;
            nfev += f.nfev();
            out[k] = if run.cost.is_nan() {
                slice[k]
            } else {
                run.cost.min(slice[k])
            };
            x0 = run.x;
        }
    }
    Ok((out, nfev))
}

/// What the data constrain (module docs): for the cost `cost` over `[0, 1]^d` with
/// parameters `names`, the posterior `draws` (draws x parameters, e.g. the kept chain) and
/// the `optimum` (one value per parameter).
pub fn identify(
    cost: &dyn Objective,
    names: &[String],
    draws: ArrayView2<f64>,
    optimum: &[f64],
    s: &IdentifySettings,
) -> Result<Identifiability> {
    s.check()?;
    let t0 = Instant::now();
    let d = cost.dim();
    if d == 0 {
        bail!("identifiability: the cost has no parameters");
    }
    if names.len() != d {
        bail!(
            "identifiability: {} parameter names for a cost of {d} parameters",
            names.len()
        );
    }
    if draws.ncols() != d {
        bail!(
            "identifiability: the posterior draws have {} parameters, the cost {d}",
            draws.ncols()
        );
    }
    if draws.nrows() < 2 {
        bail!(
            "identifiability: {} posterior draws are too few for a 5-95 % width",
            draws.nrows()
        );
    }
    if optimum.len() != d {
        bail!(
            "identifiability: the optimum has {} values, the cost {d} parameters",
            optimum.len()
        );
    }
    if let Some(v) = optimum.iter().find(|v| !(0.0..=1.0).contains(*v)) {
        bail!("identifiability: the optimum's value {v} is outside [0, 1]");
    }
    let adapter = CostAsEmulator {
        cost,
        evaluations: 0.into(),
    };
    let sobol = crate::emulate::interpret::sobol(&adapter, s.sobol_samples, s.seed)?;
    let mut evaluations = adapter.evaluations.into_inner();
    let cost_variance = sobol.variance[0];

    let grid: Vec<f64> = (0..s.points)
        .map(|k| k as f64 / (s.points - 1) as f64)
        .collect();
    // the slices of every parameter and the optimum itself, as one batch
    let m = s.points;
    let mut batch = Array2::zeros((d * m + 1, d));
    for j in 0..d {
        for (k, &g) in grid.iter().enumerate() {
            let mut row = batch.row_mut(j * m + k);
            row.assign(&ndarray::aview1(optimum));
            row[j] = g;
        }
    }
    batch.row_mut(d * m).assign(&ndarray::aview1(optimum));
    let slices = cost.cost(batch.view())?;
    if slices.len() != d * m + 1 {
        bail!(
            "the cost returned {} values for {} candidates",
            slices.len(),
            d * m + 1
        );
    }
    evaluations += d * m + 1;
    let optimum_cost = slices[d * m];

    let mut parameters = Vec::with_capacity(d);
    for j in 0..d {
        let slice: Vec<f64> = slices.slice(ndarray::s![j * m..(j + 1) * m]).to_vec();
        let profile = match s.profile {
            Profile::AtOptimum => None,
            Profile::Optimized if d == 1 => Some(slice.clone()),
            Profile::Optimized => {
                let (p, n) = optimized_profile(cost, j, &grid, optimum, &slice, s)?;
                evaluations += n;
                Some(p)
            }
        };
        let mut col = draws.column(j).to_vec();
        if let Some(v) = col.iter().find(|v| !v.is_finite()) {
            bail!("identifiability: a posterior draw of {} is {v}", names[j]);
        }
        let p05 = quantile_linear(&mut col, 0.05);
        let p50 = quantile_linear(&mut col, 0.5);
        let p95 = quantile_linear(&mut col, 0.95);
        let posterior_width = p95 - p05;
        let total = sobol.total[[j, 0]];
        let ratio = posterior_width / PRIOR_WIDTH;
        let narrow = ratio < s.max_width_ratio;
        let matters = total >= s.min_total_sobol;
        let (below, above) = (p05, 1.0 - p95);
        let status = if narrow && matters {
            Status::Constrained
        } else if matters && below.max(above) >= s.min_excluded {
            if below >= above {
                Status::BoundedBelow
            } else {
                Status::BoundedAbove
            }
        } else {
            Status::Unconstrained
        };
        let reason = match (narrow, matters, status) {
            (true, true, _) => format!(
                "posterior {:.0} % of the prior's width, total Sobol {total:.3}",
                100.0 * ratio
            ),
            (_, _, Status::BoundedBelow | Status::BoundedAbove) => format!(
                "posterior {:.0} % of the prior's width (needs < {:.0} %) but {:.0} % of the prior {} it left out, total Sobol {total:.3}",
                100.0 * ratio,
                100.0 * s.max_width_ratio,
                100.0 * below.max(above),
                if status == Status::BoundedBelow { "below" } else { "above" }
            ),
            (false, _, _) => format!(
                "posterior {:.0} % of the prior's width (needs < {:.0} %)",
                100.0 * ratio,
                100.0 * s.max_width_ratio
            ),
            (true, false, _) => format!(
                "total Sobol {total:.4} < {}: the cost hardly depends on it, so its narrow posterior ({:.0} % of the prior's width) is not the data's doing (chain not mixed?)",
                s.min_total_sobol,
                100.0 * ratio
            ),
        };
        parameters.push(ParameterIdentity {
            name: names[j].clone(),
            prior_width: PRIOR_WIDTH,
            posterior_width,
            total_sobol: total,
            first_order_sobol: sobol.first_order[[j, 0]],
            constrained: status == Status::Constrained,
            status,
            reason,
            optimum: optimum[j],
            p05,
            p50,
            p95,
            slice,
            profile,
        });
    }
    Ok(Identifiability {
        parameters,
        grid,
        optimum_cost,
        cost_variance,
        draws: draws.nrows(),
        evaluations,
        seconds: t0.elapsed().as_secs_f64(),
        settings: s.clone(),
    })
}

impl Identifiability {
    /// Header of `identifiability.csv`: the contract's five columns, then the extras.
    pub const COLUMNS: [&'static str; 15] = [
        "parameter",
        "prior_width",
        "posterior_width",
        "total_sobol",
        "constrained",
        "status",
        "width_ratio",
        "first_order_sobol",
        "optimum",
        "p05",
        "p50",
        "p95",
        "profile_range",
        "estimate",
        "reason",
    ];

    /// `identifiability.csv` as a table ([`Identifiability::COLUMNS`]): `constrained` is
    /// `true` or `false`, `status` the verdict in words ([`Status::name`]); `profile_range`
    /// is max - min of the profile over the grid; `estimate` as [`ParameterIdentity::estimate`].
    pub fn table(&self) -> Result<Table> {
        let p = &self.parameters;
        let nums =
            |f: &dyn Fn(&ParameterIdentity) -> f64| Column::Numbers(p.iter().map(f).collect());
        let text =
            |f: &dyn Fn(&ParameterIdentity) -> String| Column::Text(p.iter().map(f).collect());
        let cols = vec![
            text(&|r| r.name.clone()),
            nums(&|r| r.prior_width),
            nums(&|r| r.posterior_width),
            nums(&|r| r.total_sobol),
            text(&|r| r.constrained.to_string()),
            text(&|r| r.status.name().to_string()),
            nums(&|r| r.width_ratio()),
            nums(&|r| r.first_order_sobol),
            nums(&|r| r.optimum),
            nums(&|r| r.p05),
            nums(&|r| r.p50),
            nums(&|r| r.p95),
            nums(&|r| r.profile_range()),
            text(&|r| r.estimate()),
            text(&|r| r.reason.clone()),
        ];
        Table::from_columns(
            Self::COLUMNS
                .iter()
                .map(|c| c.to_string())
                .zip(cols)
                .collect(),
        )
    }

    /// The profiles as a long table: parameter, value, cost_at_optimum (the slice),
    /// cost_profile (re-optimised; empty when not computed).
    pub fn profiles_table(&self) -> Result<Table> {
        let mut name = Vec::new();
        let mut value = Vec::new();
        let mut slice = Vec::new();
        let mut prof = Vec::new();
        for p in &self.parameters {
            for (k, &g) in self.grid.iter().enumerate() {
                name.push(p.name.clone());
                value.push(g);
                slice.push(p.slice[k]);
                prof.push(p.profile.as_ref().map_or(f64::NAN, |c| c[k]));
            }
        }
        Table::from_columns(vec![
            ("parameter".into(), Column::Text(name)),
            ("value".into(), Column::Numbers(value)),
            ("cost_at_optimum".into(), Column::Numbers(slice)),
            ("cost_profile".into(), Column::Numbers(prof)),
        ])
    }

    /// Names of the parameters the data constrain, in order.
    pub fn constrained(&self) -> Vec<String> {
        self.parameters
            .iter()
            .filter(|p| p.constrained)
            .map(|p| p.name.clone())
            .collect()
    }

    /// Names of the parameters the data do not constrain (nor bound on one side), in order.
    pub fn unconstrained(&self) -> Vec<String> {
        self.with_status(&[Status::Unconstrained])
    }

    /// Names of the parameters the data bound on one side only, in order.
    pub fn bounded(&self) -> Vec<String> {
        self.with_status(&[Status::BoundedBelow, Status::BoundedAbove])
    }

    /// Names of the parameters whose verdict is one of `status`, in order.
    fn with_status(&self, status: &[Status]) -> Vec<String> {
        self.parameters
            .iter()
            .filter(|p| status.contains(&p.status))
            .map(|p| p.name.clone())
            .collect()
    }

    /// The parameter named `name`.
    pub fn get(&self, name: &str) -> Option<&ParameterIdentity> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// The rule and settings, for `identifiability.json`.
    pub fn to_json(&self) -> serde_json::Value {
        let s = &self.settings;
        serde_json::json!({
            "rule": format!(
                "constrained = posterior 5-95 % width / prior width ({PRIOR_WIDTH}) < {} and total Sobol index of the cost >= {}; else bounded below (above) when the total Sobol index is >= {} and p05 >= {} (p95 <= 1 - {}); else unconstrained",
                s.max_width_ratio, s.min_total_sobol, s.min_total_sobol, s.min_excluded, s.min_excluded
            ),
            "min_excluded": s.min_excluded,
            "max_width_ratio": s.max_width_ratio,
            "min_total_sobol": s.min_total_sobol,
            "sobol": format!("Jansen total / Saltelli first-order estimators, N = {} uniform base samples, seed {}", s.sobol_samples, s.seed),
            "profile": s.profile.name(),
            "profile_points": s.points,
            "local_iterations": s.local_iterations,
            "optimum_cost": self.optimum_cost,
            "cost_variance": self.cost_variance,
            "draws": self.draws,
            "evaluations": self.evaluations,
            "seconds": self.seconds,
            "constrained": self.constrained(),
            "unconstrained": self.unconstrained(),
            "bounded": self.bounded(),
        })
    }

    /// Writes `identifiability.csv`, `identifiability_profiles.csv`, `identifiability.json`
    /// and the figure `identifiability.png` into `dir` (made if missing).
    pub fn save(&self, dir: &Path) -> Result<()> {
        crate::files::all_or_nothing(|| {
            crate::files::create_dir(dir)?;
            self.table()?.write(&dir.join("identifiability.csv"))?;
            self.profiles_table()?
                .write(&dir.join("identifiability_profiles.csv"))?;
            crate::files::write_json(&dir.join("identifiability.json"), &self.to_json())?;
            self.plot(&dir.join("identifiability.png"))
        })
    }

    /// The figure: one panel per parameter, the profile (solid; the slice through the
    /// optimum dashed when the profile was re-optimised), the optimum (red line) and the
    /// posterior's 5-95 % interval (shaded).
    pub fn plot(&self, path: &Path) -> Result<()> {
        use crate::plot::{Options, ProfilePanel};
        let panels: Vec<ProfilePanel> = self
            .parameters
            .iter()
            .map(|p| {
                let mut curves = Vec::new();
                match &p.profile {
                    Some(c) => {
                        curves.push(("profile (others re-optimised)".to_string(), c.clone()));
                        curves.push(("others at the optimum".to_string(), p.slice.clone()));
                    }
                    None => curves.push(("others at the optimum".to_string(), p.slice.clone())),
                }
                ProfilePanel {
                    title: format!("{}: {}", p.name, p.status.name()),
                    x: self.grid.clone(),
                    curves,
                    marker: Some(p.optimum),
                    band: Some((p.p05, p.p95)),
                }
            })
            .collect();
        let cols = if panels.len() <= 4 {
            panels.len().max(1)
        } else {
            3
        };
        let rows = panels.len().div_ceil(cols).max(1) as u32;
        let opts = Options {
            title: "What the data constrain: the cost along each parameter".into(),
            xlabel: "scaling".into(),
            width: 380 * cols as u32 + 250,
            height: 290 * rows + 40,
            ..Options::default()
        };
        let legend = ("optimum", "posterior 5-95 %");
        crate::plot::save(
            path,
            &opts,
            |a| crate::plot::draw_profiles(a, &panels, cols, legend, &opts),
            |a| crate::plot::draw_profiles(a, &panels, cols, legend, &opts),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::FnObjective;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::f64::consts::PI;

    /// Ishigami's function (a = 7, b = 0.1) of `u` in [0, 1]^3 mapped onto [-pi, pi]^3.
    fn ishigami(u: &[f64]) -> f64 {
        let x: Vec<f64> = u.iter().map(|v| -PI + 2.0 * PI * v).collect();
        x[0].sin() + 7.0 * x[1].sin().powi(2) + 0.1 * x[2].powi(4) * x[0].sin()
    }

    /// The analytic Sobol indices of Ishigami's function (Sobol' & Levitan 1999; Saltelli
    /// et al. 2008, section 4.4), x_i uniform on [-pi, pi]:
    /// V1 = 1/2 (1 + b pi^4 / 5)^2, V2 = a^2 / 8, V3 = 0,
    /// V13 = b^2 pi^8 (1/18 - 1/50) = 8 b^2 pi^8 / 225, V12 = V23 = V123 = 0,
    /// V = V1 + V2 + V13 = a^2/8 + b pi^4/5 + b^2 pi^8/18 + 1/2;
    /// total indices ST1 = (V1 + V13) / V, ST2 = V2 / V, ST3 = V13 / V.
    fn ishigami_totals(a: f64, b: f64) -> [f64; 3] {
        let v1 = 0.5 * (1.0 + b * PI.powi(4) / 5.0).powi(2);
        let v2 = a * a / 8.0;
        let v13 = b * b * PI.powi(8) * (1.0 / 18.0 - 1.0 / 50.0);
        let v = v1 + v2 + v13;
        [(v1 + v13) / v, v2 / v, v13 / v]
    }

    fn names(d: usize) -> Vec<String> {
        (0..d).map(|j| format!("p{j}")).collect()
    }

    #[test]
    fn total_sobol_of_the_ishigami_cost_is_analytic() {
        // a = 7, b = 0.1: V = 13.8446, ST = 0.557589, 0.442411, 0.243684
        let want = ishigami_totals(7.0, 0.1);
        let by_hand = [0.557589, 0.442411, 0.243684];
        for (w, h) in want.iter().zip(by_hand) {
            assert!((w - h).abs() < 1e-6, "{want:?}");
        }
        // a cost may be any real function: shift Ishigami to be positive as a cost is
        let f = FnObjective::new(3, |u: &[f64]| ishigami(u) + 20.0);
        let draws = Array2::from_shape_fn((100, 3), |(i, _)| i as f64 / 99.0);
        let s = IdentifySettings {
            sobol_samples: 100_000,
            seed: 3,
            profile: Profile::AtOptimum,
            ..IdentifySettings::default()
        };
        let id = identify(&f, &names(3), draws.view(), &[0.5, 0.5, 0.5], &s).unwrap();
        for (p, w) in id.parameters.iter().zip(want) {
            // Jansen's estimator with N = 1e5: standard errors about 0.005
            let t = p.total_sobol;
            assert!((t - w).abs() < 0.02, "ST of {} = {t}, analytic {w}", p.name);
        }
        // V = a^2/8 + b pi^4/5 + b^2 pi^8/18 + 1/2 = 13.8446
        assert!(
            (id.cost_variance - 13.8446).abs() < 0.3,
            "{}",
            id.cost_variance
        );
        assert_eq!(id.evaluations, 5 * 100_000 + 3 * 21 + 1);
    }

    /// A cost of x0 and x1 only: a narrow valley at (0.3, 0.7).
    fn two_of_six(u: &[f64]) -> f64 {
        ((u[0] - 0.3) / 0.05).powi(2)
            + ((u[1] - 0.7) / 0.05).powi(2)
            + (u[0] - 0.3) * (u[1] - 0.7) * 10.0
    }

    #[test]
    fn parameters_the_cost_ignores_are_unconstrained_with_flat_profiles() {
        let f = FnObjective::new(6, two_of_six);
        // posterior draws: x0 and x1 narrow around the optimum, the others the prior
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let draws = Array2::from_shape_fn((4000, 6), |(_, j)| match j {
            0 => 0.3 + 0.03 * (rng.gen::<f64>() - 0.5),
            1 => 0.7 + 0.03 * (rng.gen::<f64>() - 0.5),
            _ => rng.gen::<f64>(),
        });
        let opt = [0.3, 0.7, 0.1, 0.9, 0.5, 0.25];
        let s = IdentifySettings {
            sobol_samples: 4000,
            seed: 1,
            ..IdentifySettings::default()
        };
        let id = identify(&f, &names(6), draws.view(), &opt, &s).unwrap();
        assert_eq!(id.constrained(), vec!["p0", "p1"]);
        assert_eq!(id.unconstrained(), vec!["p2", "p3", "p4", "p5"]);
        for p in &id.parameters[2..] {
            // the cost never sees them: f(A) = f(A_B^i) row by row
            assert_eq!(p.total_sobol, 0.0, "{}", p.name);
            assert!(!p.constrained);
            assert!(p.width_ratio() > 0.9, "{}", p.width_ratio());
            // flat profiles, both kinds
            assert_eq!(p.profile_range(), 0.0, "{:?}", p.curve());
            assert!(p.slice.iter().all(|&c| c == id.optimum_cost));
            // the estimate is the posterior's range, not a number
            assert_eq!(p.estimate(), format!("{:.2}-{:.2}", p.p05, p.p95));
        }
        for p in &id.parameters[..2] {
            assert!(p.total_sobol > 0.3, "{}: {}", p.name, p.total_sobol);
            assert!(p.constrained, "{}: {}", p.name, p.reason);
            assert!(p.profile_range() > 50.0);
            // the re-optimised profile never lies above the slice
            let prof = p.profile.as_ref().unwrap();
            assert!(prof.iter().zip(&p.slice).all(|(a, b)| a <= b));
        }
        // x0 profile at x0 = 1 (t = 0.7 from the optimum): the slice is (t / 0.05)^2 = 196;
        // re-optimising x1 lowers 400 s^2 + 10 t s (s = x1 - 0.7) by (10 t)^2 / 1600 = 0.031
        let p0 = &id.parameters[0];
        let prof = p0.profile.as_ref().unwrap();
        assert!((p0.slice[20] - 196.0).abs() < 1e-9, "{}", p0.slice[20]);
        let gain = p0.slice[20] - prof[20];
        assert!((gain - 0.030625).abs() < 1e-4, "{gain}");
        assert_eq!(p0.estimate(), "0.300");

        let dir = tempfile::tempdir().unwrap();
        id.save(dir.path()).unwrap();
        let t = Table::read(&dir.path().join("identifiability.csv")).unwrap();
        assert_eq!(
            &t.columns()[..5],
            &[
                "parameter",
                "prior_width",
                "posterior_width",
                "total_sobol",
                "constrained"
            ]
        );
        assert_eq!(t.len(), 6);
        assert_eq!(t.numbers("prior_width").unwrap(), &[0.9; 6]);
        let pr = Table::read(&dir.path().join("identifiability_profiles.csv")).unwrap();
        assert_eq!(pr.len(), 6 * 21);
        assert!(dir.path().join("identifiability.png").exists());
        assert!(dir.path().join("identifiability.json").exists());
    }

    #[test]
    fn a_narrow_posterior_without_sobol_support_is_not_constrained() {
        // the cost ignores x1, but the (unmixed) draws of x1 are narrow
        let f = FnObjective::new(2, |u: &[f64]| (u[0] - 0.5).powi(2));
        let draws = Array2::from_shape_fn((200, 2), |(i, _)| 0.5 + 0.001 * (i as f64 / 199.0));
        let s = IdentifySettings {
            sobol_samples: 1000,
            profile: Profile::AtOptimum,
            ..IdentifySettings::default()
        };
        let id = identify(&f, &names(2), draws.view(), &[0.5, 0.5], &s).unwrap();
        assert!(id.parameters[0].constrained);
        assert!(!id.parameters[1].constrained);
        assert!(
            id.parameters[1].reason.contains("hardly depends on it"),
            "{}",
            id.parameters[1].reason
        );
        assert!(id.parameters[0].profile.is_none());
    }

    /// A saturating response, as kmax's on the demo twin: the cost rises steeply below 0.4
    /// and is flat above (x0), the mirror image for x1, and x2 ignored.
    #[test]
    fn a_parameter_ruled_out_at_one_end_is_bounded_there() {
        let f = FnObjective::new(3, |u: &[f64]| {
            (100.0 * (0.4 - u[0]).max(0.0)).powi(2) + (100.0 * (u[1] - 0.7).max(0.0)).powi(2)
        });
        // the posterior of such a cost: x0 uniform on [0.4, 1], x1 on [0, 0.7], x2 the prior
        let draws = Array2::from_shape_fn((1001, 3), |(i, j)| {
            let u = i as f64 / 1000.0;
            match j {
                0 => 0.4 + 0.6 * u,
                1 => 0.7 * u,
                _ => u,
            }
        });
        let s = IdentifySettings {
            sobol_samples: 2000,
            profile: Profile::AtOptimum,
            ..IdentifySettings::default()
        };
        let id = identify(&f, &names(3), draws.view(), &[0.6, 0.3, 0.5], &s).unwrap();
        let [p0, p1, p2] = &id.parameters[..] else {
            panic!("three parameters")
        };
        // p05 of x0 = 0.4 + 0.6 * 0.05 = 0.43: 43 % of the prior left out below, width 0.54
        // of 0.9 (60 %: not narrow)
        assert!((p0.p05 - 0.43).abs() < 1e-12 && (p0.width_ratio() - 0.6).abs() < 1e-12);
        assert_eq!(p0.status, Status::BoundedBelow, "{}", p0.reason);
        assert_eq!(p0.estimate(), ">= 0.43");
        // p95 of x1 = 0.665: 33.5 % left out above
        assert_eq!(p1.status, Status::BoundedAbove, "{}", p1.reason);
        assert_eq!(p1.estimate(), "<= 0.66"); // 0.665 is 0.66499.. in binary
        assert_eq!(p2.status, Status::Unconstrained);
        assert!(!p0.constrained && !p1.constrained);
        assert_eq!(id.bounded(), vec!["p0", "p1"]);
        assert_eq!(id.unconstrained(), vec!["p2"]);
        assert!(id.constrained().is_empty());
        let t = id.table().unwrap();
        match t.column("status").unwrap() {
            Column::Text(v) => assert_eq!(v, &["bounded below", "bounded above", "unconstrained"]),
            c => panic!("status is {c:?}"),
        }
        // a quarter is the default: with 0.5 asked, neither bound is enough
        let strict = IdentifySettings {
            min_excluded: 0.5,
            ..s.clone()
        };
        let id = identify(&f, &names(3), draws.view(), &[0.6, 0.3, 0.5], &strict).unwrap();
        assert_eq!(id.unconstrained(), vec!["p0", "p1", "p2"]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let f = FnObjective::new(2, |u: &[f64]| u[0]);
        let draws = Array2::from_elem((10, 2), 0.5);
        let s = IdentifySettings::default();
        let e = |r: Result<Identifiability>| r.unwrap_err().to_string();
        assert!(
            e(identify(&f, &names(3), draws.view(), &[0.5, 0.5], &s)).contains("3 parameter names")
        );
        assert!(
            e(identify(&f, &names(2), draws.view(), &[0.5], &s)).contains("optimum has 1 values")
        );
        assert!(
            e(identify(&f, &names(2), draws.view(), &[0.5, 1.5], &s)).contains("outside [0, 1]")
        );
        let inf = FnObjective::new(2, |u: &[f64]| if u[0] > 0.9 { f64::INFINITY } else { 0.0 });
        assert!(e(identify(&inf, &names(2), draws.view(), &[0.5, 0.5], &s)).contains("finite cost"));
        let bad = IdentifySettings {
            points: 1,
            ..IdentifySettings::default()
        };
        assert!(e(identify(&f, &names(2), draws.view(), &[0.5, 0.5], &bad)).contains("points = 1"));
    }
}
