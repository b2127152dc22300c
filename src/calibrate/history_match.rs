//! History matching, both ways practitioners use it.
//!
//! 1. The paper's cost filter ([`cost_filter`]): N candidates from Latin hypercubes, streamed
//!    in chunks in bounded memory, keeping the best K, or all below a threshold.
//! 2. Implausibility ([`implausibility_match`], Williamson et al. 2015):
//!    `I = |Uobs - E[Uhat(x)]| / sqrt(Var_obs + Var_emulator + Var_discrepancy)` per output
//!    (variable and mode), the largest (or second or third largest) over outputs, cut at 3;
//!    the not-ruled-out-yet (NROY) fraction; waves, each sampling inside the previous NROY
//!    region. The emulator's variance enters: a point the emulator is unsure of is kept.
//!
//! Candidates come from one Latin hypercube per chunk (every chunk is stratified in every
//! parameter), each chunk seeded from the seed and its index, so the result does not depend
//! on the thread count.

use super::cost::{Cost, Emulated};
use super::{latin_hypercube, Objective};
use crate::table::{Column, Table};
use anyhow::{bail, Result};
use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::BinaryHeap;

/// Candidates per chunk.
pub const CHUNK: usize = 65_536;

/// Which candidates the cost filter keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Keep {
    /// The K lowest costs.
    Best(usize),
    /// Every candidate with a cost below the threshold (at most `limit` of the lowest).
    Below(f64),
}

/// Settings of the cost filter.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterSettings {
    /// Number of candidates (10 million in the paper).
    pub n: usize,
    /// What to keep.
    pub keep: Keep,
    /// Most candidates kept with [`Keep::Below`] (the lowest ones).
    pub limit: usize,
    /// Seed of the candidates.
    pub seed: u64,
}

impl Default for FilterSettings {
    fn default() -> Self {
        FilterSettings {
            n: 10_000_000,
            keep: Keep::Best(1000),
            limit: 1_000_000,
            seed: 0,
        }
    }
}

impl FilterSettings {
    /// Checks the settings.
    pub fn check(&self) -> Result<()> {
        if self.n == 0 || self.n > 1 << 40 {
            bail!("n = {} candidates: use 1 ..= 2^40", self.n);
        }
        match self.keep {
            Keep::Best(k) if k == 0 || k > 10_000_000 => {
                bail!("keep = {k}: keep 1 ..= 10,000,000 candidates")
            }
            Keep::Below(t) if t.is_nan() => bail!("threshold is NaN"),
            _ => {}
        }
        if self.limit == 0 || self.limit > 10_000_000 {
            bail!("limit = {}: use 1 ..= 10,000,000", self.limit);
        }
        Ok(())
    }
}

/// Candidates kept by a history match, best (lowest cost) first.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    /// Scalings, kept x parameters.
    pub x: Array2<f64>,
    /// Their costs.
    pub cost: Array1<f64>,
    /// Their implausibility, where it was used.
    pub implausibility: Option<Array1<f64>>,
    /// Candidates evaluated.
    pub evaluated: usize,
    /// Candidates that met the criterion (more than kept when a limit cut them).
    pub accepted: usize,
}

/// The candidates of chunk `c` (rows `c * CHUNK ..`, at most `n` in all) in `[0, 1]^dim`.
pub fn chunk_candidates(seed: u64, c: usize, n: usize, dim: usize) -> Array2<f64> {
    let start = c * CHUNK;
    let len = CHUNK.min(n - start);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    latin_hypercube(len, dim, &mut rng)
}

#[derive(PartialEq)]
struct Entry(f64, usize, Vec<f64>);
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    // by cost, then by candidate index: ties keep the earlier candidate
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0).then(self.1.cmp(&o.1))
    }
}

/// The paper's history matching: `n` candidates, costs from `objective`, the best kept.
/// `progress(done, total)` is called after each chunk. Memory: one chunk and the kept set.
pub fn cost_filter(
    objective: &dyn Objective,
    settings: &FilterSettings,
    mut progress: impl FnMut(usize, usize),
) -> Result<Kept> {
    settings.check()?;
    let dim = objective.dim();
    let cap = match settings.keep {
        Keep::Best(k) => k,
        Keep::Below(_) => settings.limit,
    };
    let mut heap: BinaryHeap<Entry> = BinaryHeap::with_capacity(cap + 1);
    let mut accepted = 0usize;
    let chunks = settings.n.div_ceil(CHUNK);
    let group = if objective.parallel() {
        rayon::current_num_threads().clamp(1, 8)
    } else {
        1
    };
    let mut evaluated = Vec::new();
    for c in 0..chunks {
        if c % group == 0 {
            // the next `group` chunks, made and evaluated in parallel, merged in chunk order
            let last = (c + group).min(chunks);
            let eval = |c: usize| -> Result<(Array2<f64>, Array1<f64>)> {
                crate::interrupt::check()?;
                let x = chunk_candidates(settings.seed, c, settings.n, dim);
                let cost = objective.cost(x.view())?;
                Ok((x, cost))
            };
            evaluated = if group > 1 {
                (c..last)
                    .into_par_iter()
                    .map(eval)
                    .collect::<Result<Vec<_>>>()?
            } else {
                vec![eval(c)?]
            };
            evaluated.reverse();
        }
        let (x, cost) = evaluated.pop().expect("one evaluated chunk per index");
        if cost.len() != x.nrows() {
            bail!(
                "the cost returned {} values for {} candidates",
                cost.len(),
                x.nrows()
            );
        }
        for (i, &j) in cost.iter().enumerate() {
            if j.is_nan() {
                bail!(
                    "the cost of candidate {} is NaN (scalings {:?})",
                    c * CHUNK + i + 1,
                    x.row(i).to_vec()
                );
            }
            if let Keep::Below(t) = settings.keep {
                if j >= t {
                    continue;
                }
            }
            accepted += 1;
            let idx = c * CHUNK + i;
            if heap.len() < cap {
                heap.push(Entry(j, idx, x.row(i).to_vec()));
            } else if let Some(top) = heap.peek() {
                if Entry(j, idx, Vec::new()) < *top {
                    heap.pop();
                    heap.push(Entry(j, idx, x.row(i).to_vec()));
                }
            }
        }
        progress(((c + 1) * CHUNK).min(settings.n), settings.n);
    }
    let kept = heap.into_sorted_vec();
    let mut xs = Array2::zeros((kept.len(), dim));
    let mut cost = Array1::zeros(kept.len());
    for (r, e) in kept.iter().enumerate() {
        cost[r] = e.0;
        xs.row_mut(r).assign(&Array1::from(e.2.clone()));
    }
    Ok(Kept {
        x: xs,
        cost,
        implausibility: None,
        evaluated: settings.n,
        accepted,
    })
}

/// Settings of an implausibility history match.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchSettings {
    /// Candidates sampled in this wave.
    pub n: usize,
    /// Cut: candidates with implausibility at or above it are ruled out (3).
    pub cutoff: f64,
    /// Which largest implausibility over outputs is cut: 1 = the maximum, 2 = the second...
    pub order: usize,
    /// Model discrepancy variance per variable (in the cost's order), in squared PC units.
    pub discrepancy: Vec<f64>,
    /// Whether the emulator's variance enters the denominator (as it should).
    pub emulator_variance: bool,
    /// Most NROY candidates kept (the lowest implausibility first).
    pub limit: usize,
    /// Seed of the candidates.
    pub seed: u64,
}

impl Default for MatchSettings {
    fn default() -> Self {
        MatchSettings {
            n: 1_000_000,
            cutoff: 3.0,
            order: 1,
            discrepancy: Vec::new(),
            emulator_variance: true,
            limit: 100_000,
            seed: 0,
        }
    }
}

impl MatchSettings {
    /// Checks the settings against the cost's number of variables and outputs.
    pub fn check(&self, cost: &Cost) -> Result<()> {
        if self.n == 0 || self.n > 1 << 40 {
            bail!("n = {} candidates: use 1 ..= 2^40", self.n);
        }
        if !(self.cutoff.is_finite() && self.cutoff > 0.0) {
            bail!(
                "cutoff = {}: use a positive number (3 is usual)",
                self.cutoff
            );
        }
        let outputs: usize = cost.terms().iter().map(|t| t.target.modes()).sum();
        if self.order == 0 || self.order > outputs {
            bail!(
                "order = {}: use 1 (the largest implausibility) ..= {outputs} (the outputs)",
                self.order
            );
        }
        if !self.discrepancy.is_empty() && self.discrepancy.len() != cost.terms().len() {
            bail!(
                "{} discrepancy variances for {} variables",
                self.discrepancy.len(),
                cost.terms().len()
            );
        }
        if let Some(d) = self
            .discrepancy
            .iter()
            .find(|d| !(d.is_finite() && **d >= 0.0))
        {
            bail!("discrepancy variance {d}: use a number >= 0");
        }
        if self.limit == 0 || self.limit > 10_000_000 {
            bail!("limit = {}: use 1 ..= 10,000,000", self.limit);
        }
        Ok(())
    }
}

/// The implausibility of each candidate: per output `|Uobs - mean| / sqrt(sigma^2 +
/// emulator variance + discrepancy)`, then the `order`-th largest over outputs.
pub fn implausibility(cost: &Cost, em: &Emulated, settings: &MatchSettings) -> Array1<f64> {
    let n = em.mean.first().map_or(0, |m| m.nrows());
    // per output (variable, mode): its variable, mode, observed value and the variance that
    // does not depend on the candidate (sigma^2 + discrepancy)
    let mut outputs: Vec<(usize, usize, f64, f64)> = Vec::new();
    for (v, t) in cost.terms().iter().enumerate() {
        let tg = &t.target;
        let disc = settings.discrepancy.get(v).copied().unwrap_or(0.0);
        for m in 0..tg.modes() {
            outputs.push((v, m, tg.observed[m], tg.sigma[m] * tg.sigma[m] + disc));
        }
    }
    let one = |i: usize, &(v, m, obs, fixed): &(usize, usize, f64, f64)| -> f64 {
        let ev = if settings.emulator_variance {
            em.variance[v][[i, m]].max(0.0)
        } else {
            0.0
        };
        (obs - em.mean[v][[i, m]]).abs() / (fixed + ev).sqrt()
    };
    let mut all = Vec::with_capacity(outputs.len());
    let mut out = Array1::zeros(n);
    for i in 0..n {
        out[i] = if settings.order == 1 {
            // the largest, as the sort below would give it (NaN above every number)
            outputs
                .iter()
                .map(|o| one(i, o))
                .fold(f64::NEG_INFINITY, |a, b| {
                    if b.total_cmp(&a).is_gt() {
                        b
                    } else {
                        a
                    }
                })
        } else {
            all.clear();
            all.extend(outputs.iter().map(|o| one(i, o)));
            all.sort_by(|a, b| b.total_cmp(a));
            all[settings.order - 1]
        };
    }
    out
}

/// The candidates of one chunk of an implausibility wave that are not ruled out: their rows
/// in the chunk, scalings, implausibility and cost.
struct ChunkNroy {
    rows: Vec<usize>,
    x: Array2<f64>,
    imp: Vec<f64>,
    cost: Array1<f64>,
}

/// Chunk `c` of an implausibility wave: its candidates in `bounds`, those every `previous`
/// wave and this one (`cost`, `settings`) do not rule out, with their cost.
fn chunk_nroy(
    cost: &Cost,
    settings: &MatchSettings,
    previous: &[Wave],
    bounds: &[(f64, f64)],
    c: usize,
) -> Result<ChunkNroy> {
    crate::interrupt::check()?;
    let mut x = chunk_candidates(settings.seed, c, settings.n, bounds.len());
    for (j, (a, b)) in bounds.iter().enumerate() {
        x.column_mut(j).mapv_inplace(|u| a + u * (b - a));
    }
    let mut alive: Vec<bool> = vec![true; x.nrows()];
    for w in previous {
        let em = w.cost.emulate(x.view())?;
        let imp = implausibility(&w.cost, &em, &w.settings);
        for (a, i) in alive.iter_mut().zip(imp.iter()) {
            *a &= *i < w.settings.cutoff;
        }
    }
    let em = cost.emulate(x.view())?;
    let imp = implausibility(cost, &em, settings);
    let rows: Vec<usize> = (0..x.nrows())
        .filter(|&i| alive[i] && imp[i] < settings.cutoff)
        .collect();
    let means: Vec<Array2<f64>> = em.mean.iter().map(|m| m.select(Axis(0), &rows)).collect();
    let views: Vec<ArrayView2<f64>> = means.iter().map(|m| m.view()).collect();
    Ok(ChunkNroy {
        x: x.select(Axis(0), &rows),
        imp: rows.iter().map(|&i| imp[i]).collect(),
        cost: cost.of_pcs(&views)?,
        rows,
    })
}

/// One wave of an implausibility match: its cost (emulators and targets), settings and
/// the NROY candidates it kept.
#[derive(Clone)]
pub struct Wave {
    /// The cost whose emulators and targets define the implausibility.
    pub cost: Cost,
    /// Its settings.
    pub settings: MatchSettings,
    /// Per parameter, the smallest and largest scaling of the NROY candidates.
    pub bounds: Vec<(f64, f64)>,
    /// The NROY fraction of the whole `[0, 1]^d`.
    pub nroy_fraction: f64,
    /// NROY candidates kept (lowest implausibility first), with their cost and implausibility.
    pub kept: Kept,
}

/// A wave of history matching: `settings.n` candidates in the bounding box of the last
/// previous wave's NROY set (or `[0, 1]^d`), ruled out by every previous wave and by this
/// one; the NROY fraction of `[0, 1]^d` is the box's volume times the fraction kept.
/// Chunks are evaluated in parallel groups of at most 8 and merged in order, so the wave
/// does not depend on the thread count. Memory: one group's candidates and the kept set (at
/// most `settings.limit` rows), whatever `settings.n`; `progress(done, total)` is called
/// after each chunk.
pub fn implausibility_match(
    cost: &Cost,
    settings: &MatchSettings,
    previous: &[Wave],
    mut progress: impl FnMut(usize, usize),
) -> Result<Wave> {
    settings.check(cost)?;
    let dim = cost.dim();
    for w in previous {
        if w.cost.dim() != dim {
            bail!(
                "a previous wave has {} parameters, this cost {dim}",
                w.cost.dim()
            );
        }
    }
    let bounds: Vec<(f64, f64)> = match previous.last() {
        Some(w) if w.kept.x.nrows() == 0 => {
            bail!("the previous wave ruled out every candidate: there is no region to sample")
        }
        Some(w) => w.bounds.clone(),
        None => vec![(0.0, 1.0); dim],
    };
    let volume: f64 = bounds.iter().map(|(a, b)| b - a).product();
    let mut heap: BinaryHeap<Entry> = BinaryHeap::new();
    let mut accepted = 0usize;
    let mut lo = vec![f64::INFINITY; dim];
    let mut hi = vec![f64::NEG_INFINITY; dim];
    let chunks = settings.n.div_ceil(CHUNK);
    // groups of chunks evaluated in parallel, merged in chunk order (the result does not
    // depend on the thread count); memory: one group's candidates and the kept set
    let group = rayon::current_num_threads().clamp(1, 8);
    for first in (0..chunks).step_by(group) {
        let last = (first + group).min(chunks);
        let found = (first..last)
            .into_par_iter()
            .map(|c| chunk_nroy(cost, settings, previous, &bounds, c))
            .collect::<Result<Vec<_>>>()?;
        for (c, ch) in (first..last).zip(found) {
            for (r, &i) in ch.rows.iter().enumerate() {
                accepted += 1;
                let row = ch.x.row(r);
                for j in 0..dim {
                    lo[j] = lo[j].min(row[j]);
                    hi[j] = hi[j].max(row[j]);
                }
                let (idx, imp) = (c * CHUNK + i, ch.imp[r]);
                // the scalings and cost are copied only for a candidate the heap takes
                let take = heap.len() < settings.limit
                    || heap
                        .peek()
                        .is_some_and(|top| Entry(imp, idx, Vec::new()) < *top);
                if take {
                    if heap.len() >= settings.limit {
                        heap.pop();
                    }
                    let mut v = row.to_vec();
                    v.push(ch.cost[r]);
                    heap.push(Entry(imp, idx, v));
                }
            }
            progress(((c + 1) * CHUNK).min(settings.n), settings.n);
        }
    }
    let kept = heap.into_sorted_vec();
    let mut xs = Array2::zeros((kept.len(), dim));
    let mut costs = Array1::zeros(kept.len());
    let mut imps = Array1::zeros(kept.len());
    for (r, e) in kept.iter().enumerate() {
        imps[r] = e.0;
        costs[r] = e.2[dim];
        xs.row_mut(r)
            .assign(&ndarray::ArrayView1::from(&e.2[..dim]));
    }
    let bounds = if accepted == 0 {
        Vec::new()
    } else {
        lo.into_iter().zip(hi).collect()
    };
    Ok(Wave {
        cost: cost.clone(),
        settings: settings.clone(),
        bounds,
        nroy_fraction: volume * accepted as f64 / settings.n as f64,
        kept: Kept {
            x: xs,
            cost: costs,
            implausibility: Some(imps),
            evaluated: settings.n,
            accepted,
        },
    })
}

/// The rows of `kept` sorted by cost (lowest first): the order `history_match.csv` uses.
pub fn by_cost(kept: &Kept) -> Kept {
    let mut order: Vec<usize> = (0..kept.cost.len()).collect();
    order.sort_by(|&a, &b| kept.cost[a].total_cmp(&kept.cost[b]).then(a.cmp(&b)));
    Kept {
        x: kept.x.select(Axis(0), &order),
        cost: kept.cost.select(Axis(0), &order),
        implausibility: kept
            .implausibility
            .as_ref()
            .map(|i| i.select(Axis(0), &order)),
        evaluated: kept.evaluated,
        accepted: kept.accepted,
    }
}

/// The first `k` rows of a kept set.
pub fn head(kept: &Kept, k: usize) -> Kept {
    let k = k.min(kept.cost.len());
    Kept {
        x: kept.x.slice(s![..k, ..]).to_owned(),
        cost: kept.cost.slice(s![..k]).to_owned(),
        implausibility: kept
            .implausibility
            .as_ref()
            .map(|i| i.slice(s![..k]).to_owned()),
        evaluated: kept.evaluated,
        accepted: kept.accepted,
    }
}

/// The kept set as `history_match.csv` rows (contract): rank (from 1), cost,
/// implausibility (where it was used), then one column per parameter scaling.
pub fn table(kept: &Kept, parameters: &[String]) -> Result<Table> {
    if parameters.len() != kept.x.ncols() {
        bail!(
            "{} parameter names for {} columns of scalings",
            parameters.len(),
            kept.x.ncols()
        );
    }
    let n = kept.cost.len();
    let mut cols = vec![
        (
            "rank".to_string(),
            Column::Numbers((1..=n).map(|r| r as f64).collect()),
        ),
        ("cost".to_string(), Column::Numbers(kept.cost.to_vec())),
    ];
    if let Some(i) = &kept.implausibility {
        cols.push(("implausibility".to_string(), Column::Numbers(i.to_vec())));
    }
    for (j, p) in parameters.iter().enumerate() {
        cols.push((p.clone(), Column::Numbers(kept.x.column(j).to_vec())));
    }
    Table::from_columns(cols)
}

#[cfg(test)]
mod tests {
    use super::super::cost::tests::two_variable_cost;
    use super::super::cost::Form;
    use super::super::FnObjective;
    use super::*;

    #[test]
    fn cost_filter_keeps_exactly_the_k_best_of_an_enumerable_case() {
        // cost = the first scaling: the K best are the K smallest first coordinates among
        // every candidate, which we enumerate independently from the same chunks
        let n = 200_000;
        let obj = FnObjective::new(3, |x: &[f64]| x[0]);
        let s = FilterSettings {
            n,
            keep: Keep::Best(25),
            limit: 10,
            seed: 7,
        };
        let mut calls = 0;
        let kept = cost_filter(&obj, &s, |_, _| calls += 1).unwrap();
        assert_eq!(calls, n.div_ceil(CHUNK));
        let mut all: Vec<(f64, Vec<f64>)> = Vec::new();
        for c in 0..n.div_ceil(CHUNK) {
            let x = chunk_candidates(7, c, n, 3);
            for r in x.rows() {
                all.push((r[0], r.to_vec()));
            }
        }
        assert_eq!(all.len(), n);
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(kept.cost.len(), 25);
        for (i, (c, row)) in all.iter().take(25).enumerate() {
            assert_eq!(kept.cost[i], *c);
            assert_eq!(kept.x.row(i).to_vec(), *row);
        }
        // a Latin hypercube per chunk: the smallest first coordinate of 200,000 stratified
        // points is below 1/65536 (chunk 0 has one point in [0, 1/65536))
        assert!(kept.cost[0] < 1.0 / CHUNK as f64);
    }

    #[test]
    fn cost_filter_is_the_same_on_one_thread_and_on_many() {
        let obj = FnObjective::new(4, |x: &[f64]| (x[0] - 0.3).abs() + x[1] * x[2] - x[3]);
        let s = FilterSettings {
            n: 300_000,
            keep: Keep::Best(50),
            limit: 10,
            seed: 11,
        };
        let many = cost_filter(&obj, &s, |_, _| {}).unwrap();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| cost_filter(&obj, &s, |_, _| {}).unwrap());
        assert_eq!(many, one);
    }

    #[test]
    fn cost_filter_below_a_threshold_counts_and_limits() {
        let obj = FnObjective::new(2, |x: &[f64]| x[0] + x[1]);
        let s = FilterSettings {
            n: 100_000,
            keep: Keep::Below(0.1),
            limit: 50,
            seed: 1,
        };
        let kept = cost_filter(&obj, &s, |_, _| {}).unwrap();
        // P(x0 + x1 < 0.1) = 0.005 for uniform points: 500 expected, binomial sd ~22
        assert!(
            (kept.accepted as f64 - 500.0).abs() < 100.0,
            "{}",
            kept.accepted
        );
        assert_eq!(kept.cost.len(), 50);
        assert!(kept.cost.iter().all(|&c| c < 0.1));
        assert!(kept.cost.windows(2).into_iter().all(|w| w[0] <= w[1]));
    }

    #[test]
    fn cost_filter_reports_nan_with_the_candidate() {
        let obj = FnObjective::new(1, |x: &[f64]| if x[0] > 0.5 { f64::NAN } else { x[0] });
        let s = FilterSettings {
            n: 10,
            seed: 1,
            ..Default::default()
        };
        let e = cost_filter(&obj, &s, |_, _| {}).unwrap_err().to_string();
        assert!(e.contains("is NaN"), "{e}");
    }

    #[test]
    fn implausibility_equals_hand_computation_and_orders() {
        let cost = two_variable_cost(Form::Eq6, 1.0);
        let x = ndarray::array![[0.4, 0.6]];
        let em = cost.emulate(x.view()).unwrap();
        // |d| / sqrt(sigma^2 + var): GPP 0.1/sqrt(0.02), 0.2/sqrt(0.05); LHF 0.3/sqrt(0.29)
        let i = [
            0.1 / 0.02f64.sqrt(),
            0.2 / 0.05f64.sqrt(),
            0.3 / 0.29f64.sqrt(),
        ];
        let mut s = MatchSettings::default();
        let got = implausibility(&cost, &em, &s)[0];
        assert!((got - i[1]).abs() < 1e-12, "{got}");
        s.order = 2;
        assert!((implausibility(&cost, &em, &s)[0] - i[0]).abs() < 1e-12);
        s.order = 1;
        s.emulator_variance = false;
        // without the emulator's variance: 1, 1, 0.6
        assert!((implausibility(&cost, &em, &s)[0] - 1.0).abs() < 1e-12);
        s.discrepancy = vec![0.0, 0.0];
        s.order = 4;
        assert!(s.check(&cost).is_err());
    }

    #[test]
    fn implausibility_match_keeps_the_least_implausible_of_all_candidates_on_any_thread_count() {
        // more candidates are not ruled out than the limit keeps: the kept set must be the
        // `limit` least implausible of every candidate, enumerated here chunk by chunk from
        // the same candidates with the implausibility and Eq. 6 written out by hand for the
        // linear emulators (GPP PCs x0, 2 x1 with variance 0.01; LHF x0 + x1 + 0.5 with 0.04)
        let cost = two_variable_cost(Form::Eq6, 1.0);
        let s = MatchSettings {
            n: 300_000,
            limit: 40,
            seed: 5,
            ..Default::default()
        };
        let mut calls = 0;
        let w = implausibility_match(&cost, &s, &[], |_, _| calls += 1).unwrap();
        assert_eq!(calls, s.n.div_ceil(CHUNK));
        let mut all: Vec<(f64, usize, Vec<f64>)> = Vec::new();
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for c in 0..s.n.div_ceil(CHUNK) {
            let x = chunk_candidates(5, c, s.n, 2);
            for (i, r) in x.rows().into_iter().enumerate() {
                let (a, b) = (r[0], r[1]);
                let imp = [
                    (0.3 - a).abs() / (0.01f64 + 0.01).sqrt(),
                    (1.0 - 2.0 * b).abs() / (0.04f64 + 0.01).sqrt(),
                    (1.2 - a - b - 0.5).abs() / (0.25f64 + 0.04).sqrt(),
                ]
                .into_iter()
                .fold(0.0, f64::max);
                if imp < 3.0 {
                    all.push((imp, c * CHUNK + i, vec![a, b]));
                    for j in 0..2 {
                        lo[j] = lo[j].min(r[j]);
                        hi[j] = hi[j].max(r[j]);
                    }
                }
            }
        }
        assert!(all.len() > 1000, "{} not ruled out", all.len());
        assert_eq!(w.kept.accepted, all.len());
        assert_eq!(w.nroy_fraction, all.len() as f64 / s.n as f64);
        assert_eq!(w.bounds, vec![(lo[0], hi[0]), (lo[1], hi[1])]);
        all.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)));
        let imps = w.kept.implausibility.as_ref().unwrap();
        assert_eq!(imps.len(), 40);
        for (r, (imp, _, x)) in all.iter().take(40).enumerate() {
            assert!((imps[r] - imp).abs() < 1e-12, "{} vs {imp}", imps[r]);
            assert_eq!(w.kept.x.row(r).to_vec(), *x);
            let (a, b) = (x[0], x[1]);
            let j = 0.75 * ((a - 0.3) / 0.1f64).powi(2)
                + 0.25 * ((2.0 * b - 1.0) / 0.2f64).powi(2)
                + ((a + b + 0.5 - 1.2) / 0.5f64).powi(2);
            assert!(
                (w.kept.cost[r] - j).abs() < 1e-9 * j.max(1.0),
                "{} vs {j}",
                w.kept.cost[r]
            );
        }
        // the same on one thread (chunks evaluated in parallel groups, merged in order)
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| implausibility_match(&cost, &s, &[], |_, _| {}).unwrap());
        assert_eq!(one.kept, w.kept);
        assert_eq!(one.bounds, w.bounds);
    }

    #[test]
    fn waves_shrink_and_keep_the_truth() {
        // truth: GPP PCs (0.3, 1.0) at x = (0.3, 0.5); LHF 1.2 on the line x0 + x1 = 0.7
        let cost = two_variable_cost(Form::Eq6, 1.0);
        let s = MatchSettings {
            n: 200_000,
            seed: 3,
            ..Default::default()
        };
        let w1 = implausibility_match(&cost, &s, &[], |_, _| {}).unwrap();
        // analytic: |x0 - 0.3| < 3 sqrt(0.02) and |2 x1 - 1| < 3 sqrt(0.05) and the LHF band
        assert!(
            w1.nroy_fraction > 0.05 && w1.nroy_fraction < 0.6,
            "{}",
            w1.nroy_fraction
        );
        let (a, b) = w1.bounds[0];
        assert!(a < 0.3 && b > 0.3 && a >= 0.3 - 3.0 * 0.02f64.sqrt() - 1e-9);
        // a second wave with a sharper emulator (less variance) rules out more
        let mut sharper = cost.terms().to_vec();
        for t in &mut sharper {
            t.target.sigma.mapv_inplace(|v| v / 2.0);
        }
        let cost2 = Cost::new(sharper, Form::Eq6).unwrap();
        let w2 = implausibility_match(&cost2, &s, std::slice::from_ref(&w1), |_, _| {}).unwrap();
        assert!(w2.nroy_fraction < w1.nroy_fraction);
        assert!(w2.kept.implausibility.as_ref().unwrap()[0] < 3.0);
        // the truth is not ruled out by either wave
        let truth = ndarray::array![[0.3, 0.5]];
        for w in [&w1, &w2] {
            let em = w.cost.emulate(truth.view()).unwrap();
            assert!(implausibility(&w.cost, &em, &w.settings)[0] < 3.0);
        }
    }
}
