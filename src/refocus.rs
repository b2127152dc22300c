//! Iterative refocusing (beyond the paper; practitioners do it by hand, e.g. NCAR's CTSM
//! ensembles): after an implausibility wave, new members are run inside its NROY region,
//! their PCs join the emulators' training data, the emulators are refitted and the match
//! is made again, sampling inside the previous waves' NROY region.
//!
//! [`Refocus`] is the record of the waves: per wave its NROY set (history matching's own
//! files), the emulators it used, the members it added and the numbers of `waves.csv`
//! (contract: wave, members, nroy_fraction, r2, best_cost). It is written after each wave and
//! read back to resume: a finished wave is never redone. [`maximin_subset`] picks the new
//! members among a wave's NROY candidates, spread over the region.

use crate::array::csv::{fmt_number, write_records};
use crate::calibrate::cost::{Cost, Form, Target, Term};
use crate::calibrate::history_match::{self, Kept, MatchSettings, Wave};
use crate::calibrate::Objective;
use crate::emulate::Fitted;
use crate::table::Table;
use anyhow::{bail, Context, Result};
use ndarray::{concatenate, Array1, Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The contract's columns of `waves.csv`, then the extra ones.
pub const WAVE_COLUMNS: [&str; 9] = [
    "wave",
    "members",
    "nroy_fraction",
    "r2",
    "best_cost",
    "training_members",
    "best_run_cost",
    "candidates",
    "accepted",
];

/// When refocusing makes another wave, and how big (08's options): `members` new members
/// per wave, a `budget` of members in all, at most `waves` waves, stop when a wave keeps
/// more than `ratio` of the NROY fraction before it; `candidates` per wave and the model
/// `discrepancy` (a fraction of each variable's ensemble variance of the PCs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// New members per wave (20).
    pub members: usize,
    /// Members run for refocusing in all (100).
    pub budget: usize,
    /// The most waves, wave 1 included (5).
    pub waves: usize,
    /// Stop when the NROY fraction shrinks by less: last / before > ratio (0.9; above 1,
    /// never).
    pub ratio: f64,
    /// Candidates of each wave's match (50,000).
    pub candidates: usize,
    /// Model discrepancy as a fraction of the ensemble variance of the PCs (0.1).
    pub discrepancy: f64,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            members: 20,
            budget: 100,
            waves: 5,
            ratio: 0.9,
            candidates: 50_000,
            discrepancy: 0.1,
        }
    }
}

impl Rules {
    /// Checks the rules once, naming the option: whole numbers above 0, `ratio` above 0,
    /// `discrepancy` finite and not negative.
    pub fn check(&self) -> Result<()> {
        for (name, v) in [
            ("members", self.members),
            ("budget", self.budget),
            ("waves", self.waves),
            ("candidates", self.candidates),
        ] {
            if v == 0 {
                bail!("--{name} must be at least 1");
            }
        }
        if self.ratio.is_nan() || self.ratio <= 0.0 {
            bail!(
                "--ratio {} must be above 0 (above 1: never stop for it)",
                self.ratio
            );
        }
        if !(self.discrepancy.is_finite() && self.discrepancy >= 0.0) {
            bail!("--discrepancy {} must be 0 or more", self.discrepancy);
        }
        Ok(())
    }

    /// Why no further wave is made after the waves of `rf`, or `None` to make one: every
    /// candidate ruled out, the region no longer shrinking, the budget spent, or the most
    /// waves made.
    pub fn stop(&self, rf: &Refocus) -> Option<String> {
        let k = rf.records.len();
        let last = rf.records.last()?;
        if last.accepted == 0 {
            return Some(format!(
                "wave {k} ruled out every candidate (the observations are out of reach: raise --discrepancy)"
            ));
        }
        if k >= 2 && rf.shrink() > self.ratio {
            return Some(format!(
                "wave {k} kept {:.3} of the NROY fraction (> {})",
                rf.shrink(),
                crate::format::shown_float(self.ratio)
            ));
        }
        if rf.spent() + self.members > self.budget {
            return Some(format!(
                "{} members spent; {} more would exceed the budget of {}",
                rf.spent(),
                self.members,
                self.budget
            ));
        }
        if k >= self.waves {
            return Some(format!("{k} waves made, the most --waves allows"));
        }
        None
    }
}

/// One wave's numbers (a row of `waves.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct WaveRecord {
    /// The wave, from 1.
    pub wave: usize,
    /// Members run for this wave (wave 1: the ensemble its emulators learned from).
    pub members: usize,
    /// The NROY fraction of `[0, 1]^d` after this wave.
    pub nroy_fraction: f64,
    /// Emulator skill inside NROY: r^2 of the previous wave's emulators predicting this
    /// wave's new members (which all lie in the previous NROY region), averaged over
    /// variables and modes; NaN for wave 1.
    pub r2: f64,
    /// The lowest emulated cost among this wave's NROY candidates.
    pub best_cost: f64,
    /// Training members of this wave's emulators (every member run so far).
    pub training_members: usize,
    /// The lowest cost of this wave's members from their own PCs (not emulated).
    pub best_run_cost: f64,
    /// Candidates the match evaluated.
    pub candidates: usize,
    /// Candidates found NROY.
    pub accepted: usize,
}

/// Skill of one emulated output inside NROY (a row of `skill.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Skill {
    /// The wave whose new members were predicted.
    pub wave: usize,
    /// Calibration variable.
    pub variable: String,
    /// Mode, from 1.
    pub mode: usize,
    /// r^2 of the previous wave's emulator on the new members' PCs.
    pub r2: f64,
}

/// Members with their scalings and PCs (per variable, members x modes).
#[derive(Debug, Clone, PartialEq)]
pub struct Members {
    /// Case names.
    pub cases: Vec<String>,
    /// Scalings, members x parameters.
    pub x: Array2<f64>,
    /// Per variable (in the record's order), members x modes.
    pub pcs: Vec<Array2<f64>>,
}

impl Members {
    fn check(&self, parameters: usize, variables: &[String]) -> Result<()> {
        let n = self.cases.len();
        if self.x.nrows() != n || self.x.ncols() != parameters {
            bail!(
                "{n} members with scalings of shape {:?}: expected {n} x {parameters}",
                self.x.shape()
            );
        }
        if self.pcs.len() != variables.len() {
            bail!(
                "PCs of {} variables for {} calibration variables",
                self.pcs.len(),
                variables.len()
            );
        }
        for (v, p) in variables.iter().zip(&self.pcs) {
            if p.nrows() != n {
                bail!("{v}: PCs of {} members for {n} members", p.nrows());
            }
            for (i, row) in p.outer_iter().enumerate() {
                if row.iter().any(|x| !x.is_finite()) {
                    bail!(
                        "{v}: the PCs of member {} are not finite (its map misses an analysed cell?)",
                        self.cases[i]
                    );
                }
            }
        }
        if self.x.iter().any(|x| !x.is_finite()) {
            bail!("the members' scalings must be finite numbers");
        }
        Ok(())
    }

    fn append(&mut self, other: &Members) -> Result<()> {
        self.cases.extend(other.cases.iter().cloned());
        self.x = concatenate![Axis(0), self.x, other.x];
        for (a, b) in self.pcs.iter_mut().zip(&other.pcs) {
            *a = concatenate(Axis(0), &[a.view(), b.view()])?;
        }
        Ok(())
    }
}

/// What `wave_K/wave.json` holds: what rebuilds the wave without matching again.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WaveFile {
    wave: usize,
    variables: Vec<String>,
    parameters: Vec<String>,
    form: String,
    weights: Vec<f64>,
    n: usize,
    cutoff: f64,
    order: usize,
    discrepancy: Vec<f64>,
    emulator_variance: bool,
    limit: usize,
    seed: u64,
    bounds: Vec<(f64, f64)>,
    nroy_fraction: f64,
    evaluated: usize,
    accepted: usize,
}

/// The record of a refocusing: waves, their emulators and NROY sets, the members run.
#[derive(Clone)]
pub struct Refocus {
    /// Parameter names (columns of the scalings).
    pub parameters: Vec<String>,
    /// Calibration variables, in the costs' order.
    pub variables: Vec<String>,
    /// One record per finished wave.
    pub records: Vec<WaveRecord>,
    /// Per-output skill of every wave after the first.
    pub skill: Vec<Skill>,
    /// The matched waves (cost and NROY set), each sampled inside the ones before.
    pub waves: Vec<Wave>,
    /// Per wave, the emulator of each variable (what its cost predicts with).
    pub emulators: Vec<Vec<Arc<Fitted>>>,
    /// Per wave, the settings history matching wrote for it (`nroy_waveK.json`).
    pub match_json: Vec<serde_json::Value>,
    /// Every member run so far (the first ensemble, then each wave's), the training data.
    pub training: Members,
    /// Per wave, the members it added.
    pub added: Vec<Members>,
    /// Waves whose folders are on disk.
    saved: usize,
}

impl std::fmt::Debug for Refocus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Refocus({} waves; {} training members",
            self.records.len(),
            self.training.cases.len()
        )?;
        if !self.records.is_empty() {
            let fr: Vec<String> = self
                .records
                .iter()
                .map(|r| format!("{:.3e}", r.nroy_fraction))
                .collect();
            write!(f, "; NROY fraction {}", fr.join(" -> "))?;
        }
        write!(f, ")")
    }
}

/// r^2 of `pred` against `obs` per column: `1 - SS_res / SS_tot` (about the column mean of
/// `obs`); NaN where `obs` is constant or has fewer than 2 rows.
pub fn r2_columns(pred: ArrayView2<f64>, obs: ArrayView2<f64>) -> Vec<f64> {
    (0..obs.ncols())
        .map(|j| {
            let y = obs.column(j);
            let n = y.len();
            if n < 2 {
                return f64::NAN;
            }
            let mean = y.sum() / n as f64;
            let tot: f64 = y.iter().map(|v| (v - mean) * (v - mean)).sum();
            let res: f64 = y
                .iter()
                .zip(pred.column(j))
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            if tot > 0.0 {
                1.0 - res / tot
            } else {
                f64::NAN
            }
        })
        .collect()
}

fn sq_dist(a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// A space-filling subset of `n` rows of `pool` (greedy maximin, "farthest point first"):
/// each next row is the one farthest (Euclidean, in scalings) from every row chosen so far
/// and from every row of `existing` (e.g. the members already run, so new members avoid
/// them). Without `existing`, the first row is drawn with `seed`. Ties go to the lower
/// index. Returns the chosen row indices in the order chosen.
pub fn maximin_subset(
    pool: ArrayView2<f64>,
    existing: ArrayView2<f64>,
    n: usize,
    seed: u64,
) -> Result<Vec<usize>> {
    if n == 0 {
        bail!("choose at least 1 new member");
    }
    if n > pool.nrows() {
        bail!(
            "{n} new members asked for, but the NROY set holds {} candidates",
            pool.nrows()
        );
    }
    if existing.nrows() > 0 && existing.ncols() != pool.ncols() {
        bail!(
            "the members run have {} parameters, the candidates {}",
            existing.ncols(),
            pool.ncols()
        );
    }
    let mut d2: Vec<f64> = pool
        .outer_iter()
        .map(|p| {
            existing
                .outer_iter()
                .map(|e| sq_dist(p, e))
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    let mut taken = vec![false; pool.nrows()];
    let mut chosen = Vec::with_capacity(n);
    let mut next = if existing.nrows() == 0 {
        ChaCha8Rng::seed_from_u64(seed).gen_range(0..pool.nrows())
    } else {
        argmax(&d2, &taken)
    };
    loop {
        taken[next] = true;
        chosen.push(next);
        if chosen.len() == n {
            return Ok(chosen);
        }
        let p = pool.row(next);
        for (i, d) in d2.iter_mut().enumerate() {
            *d = d.min(sq_dist(pool.row(i), p));
        }
        next = argmax(&d2, &taken);
    }
}

fn argmax(d: &[f64], taken: &[bool]) -> usize {
    let mut best = usize::MAX;
    for (i, &v) in d.iter().enumerate() {
        if !taken[i] && (best == usize::MAX || v > d[best]) {
            best = i;
        }
    }
    best
}

/// The smallest distance between two rows of `x` (infinity for fewer than two rows).
pub fn min_pairwise_distance(x: ArrayView2<f64>) -> f64 {
    let mut m = f64::INFINITY;
    for i in 0..x.nrows() {
        for j in i + 1..x.nrows() {
            m = m.min(sq_dist(x.row(i), x.row(j)));
        }
    }
    m.sqrt()
}

/// Reads a table this record wrote and rewrites later (`waves.csv`, `skill.csv`) through a
/// temporary copy, so that the run does not count it as an input it must not replace.
fn read_own(path: &Path) -> Result<Table> {
    let tmp = tempfile::Builder::new()
        .suffix(".csv")
        .tempfile()
        .context("cannot make a temporary file")?;
    std::fs::copy(path, tmp.path()).with_context(|| format!("cannot read {}", path.display()))?;
    Table::read(tmp.path()).with_context(|| format!("reading {}", path.display()))
}

fn wave_dir(dir: &Path, k: usize) -> PathBuf {
    dir.join(format!("wave_{k}"))
}

fn pc_columns(variables: &[String], pcs: &[Array2<f64>]) -> Vec<String> {
    variables
        .iter()
        .zip(pcs)
        .flat_map(|(v, p)| (1..=p.ncols()).map(move |m| format!("{v}_pc{m}")))
        .collect()
}

fn write_members(
    path: &Path,
    parameters: &[String],
    variables: &[String],
    m: &Members,
) -> Result<()> {
    let mut header = vec!["case".to_string()];
    header.extend(parameters.iter().cloned());
    header.extend(pc_columns(variables, &m.pcs));
    let rows = (0..m.cases.len()).map(|i| {
        let mut r = vec![m.cases[i].clone()];
        r.extend(m.x.row(i).iter().map(|&v| fmt_number(v)));
        for p in &m.pcs {
            r.extend(p.row(i).iter().map(|&v| fmt_number(v)));
        }
        r
    });
    write_records(path, &header, rows)
}

fn read_members(
    path: &Path,
    parameters: &[String],
    variables: &[String],
    modes: &[usize],
) -> Result<Members> {
    let t = Table::read(path)?;
    let cases: Vec<String> = match t.column("case")? {
        crate::table::Column::Text(c) => c.clone(),
        crate::table::Column::Numbers(n) => n.iter().map(|v| fmt_number(*v)).collect(),
    };
    let x = t.to_array(parameters)?;
    let mut pcs = Vec::new();
    for (v, &m) in variables.iter().zip(modes) {
        let names: Vec<String> = (1..=m).map(|k| format!("{v}_pc{k}")).collect();
        pcs.push(t.to_array(&names)?);
    }
    Ok(Members { cases, x, pcs })
}

fn targets_table(cost: &Cost) -> Result<Table> {
    let (mut var, mut mode, mut obs, mut sig, mut lam, mut dfl) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for t in cost.terms() {
        let g = &t.target;
        for m in 0..g.modes() {
            var.push(g.variable.clone());
            mode.push((m + 1) as f64);
            obs.push(g.observed[m]);
            sig.push(g.sigma[m]);
            lam.push(g.lambda[m]);
            dfl.push(g.default[m]);
        }
    }
    use crate::table::Column::{Numbers, Text};
    Table::from_columns(vec![
        ("variable".into(), Text(var)),
        ("mode".into(), Numbers(mode)),
        ("observed".into(), Numbers(obs)),
        ("sigma".into(), Numbers(sig)),
        ("lambda".into(), Numbers(lam)),
        ("default_run".into(), Numbers(dfl)),
    ])
}

fn read_targets(path: &Path, variables: &[String]) -> Result<Vec<Target>> {
    let t = Table::read(path)?;
    let names = match t.column("variable")? {
        crate::table::Column::Text(c) => c.clone(),
        _ => bail!("{}: column variable must hold names", path.display()),
    };
    let col = |c: &str| t.numbers(c).map(|v| v.to_vec());
    let (obs, sig, lam, dfl) = (
        col("observed")?,
        col("sigma")?,
        col("lambda")?,
        col("default_run")?,
    );
    variables
        .iter()
        .map(|v| {
            let rows: Vec<usize> = (0..names.len()).filter(|&i| names[i] == *v).collect();
            if rows.is_empty() {
                bail!("{}: no rows of variable {v}", path.display());
            }
            let pick = |c: &[f64]| Array1::from(rows.iter().map(|&i| c[i]).collect::<Vec<_>>());
            Ok(Target {
                variable: v.clone(),
                observed: pick(&obs),
                sigma: pick(&sig),
                lambda: pick(&lam),
                default: pick(&dfl),
            })
        })
        .collect()
}

impl Refocus {
    /// A new record whose first emulators learn from `initial` (the perturbed-parameter
    /// ensemble's members, scalings and PCs).
    pub fn new(
        parameters: Vec<String>,
        variables: Vec<String>,
        initial: Members,
    ) -> Result<Refocus> {
        initial
            .check(parameters.len(), &variables)
            .context("the first ensemble")?;
        Ok(Refocus {
            parameters,
            variables,
            records: Vec::new(),
            skill: Vec::new(),
            waves: Vec::new(),
            emulators: Vec::new(),
            match_json: Vec::new(),
            added: Vec::new(),
            training: initial,
            saved: 0,
        })
    }

    /// Members run for refocusing (every wave after the first).
    pub fn spent(&self) -> usize {
        self.added.iter().skip(1).map(|m| m.cases.len()).sum()
    }

    /// Adds a finished wave: its match `wave` (whose cost's emulators are `emulators`, one
    /// per variable in order, trained on every member so far including `new`), the settings
    /// history matching recorded, and the members run for it (`None` for wave 1, whose
    /// emulators learn from the first ensemble). Computes the skill of the previous wave's
    /// emulators on the new members, the lowest emulated cost among the NROY candidates and
    /// the lowest cost of the new members' own PCs.
    pub fn add(
        &mut self,
        mut wave: Wave,
        match_json: serde_json::Value,
        emulators: Vec<Arc<Fitted>>,
        new: Option<Members>,
    ) -> Result<&WaveRecord> {
        let k = self.records.len() + 1;
        let vars = wave.cost.variables();
        if vars != self.variables {
            bail!(
                "wave {k}: the cost's variables ({}) differ from the refocusing's ({})",
                vars.join(", "),
                self.variables.join(", ")
            );
        }
        if wave.cost.dim() != self.parameters.len() {
            bail!(
                "wave {k}: the cost takes {} parameters, the refocusing has {}",
                wave.cost.dim(),
                self.parameters.len()
            );
        }
        if emulators.len() != vars.len() {
            bail!(
                "wave {k}: {} emulators for {} variables",
                emulators.len(),
                vars.len()
            );
        }
        if self.records.len() != self.waves.len() {
            bail!(
                "the record is inconsistent: {} records of {} waves",
                self.records.len(),
                self.waves.len()
            );
        }
        // the emulators given must be the cost's (they are saved to rebuild it)
        let probe = Array2::from_elem((1, self.parameters.len()), 0.5);
        let em = wave.cost.emulate(probe.view())?;
        for (i, (f, v)) in emulators.iter().zip(&vars).enumerate() {
            let mine = f.model.emulator().predict_mean(probe.view())?;
            if mine.shape() != em.mean[i].shape()
                || mine
                    .iter()
                    .zip(em.mean[i].iter())
                    .any(|(a, b)| a.to_bits() != b.to_bits())
            {
                bail!("wave {k}: the emulator given for {v} is not the one of the match's cost");
            }
        }
        wave.kept = history_match::by_cost(&wave.kept);
        let (members, r2) = match (&new, self.waves.last()) {
            (None, None) => (self.training.cases.len(), f64::NAN),
            (Some(m), Some(last)) => {
                m.check(self.parameters.len(), &self.variables)
                    .with_context(|| format!("wave {k}: the new members"))?;
                let pred = last.cost.emulate(m.x.view())?;
                let mut all = Vec::new();
                for (v, name) in self.variables.iter().enumerate() {
                    let r = r2_columns(pred.mean[v].view(), m.pcs[v].view());
                    for (mode, r) in r.into_iter().enumerate() {
                        self.skill.push(Skill {
                            wave: k,
                            variable: name.clone(),
                            mode: mode + 1,
                            r2: r,
                        });
                        all.push(r);
                    }
                }
                let ok: Vec<f64> = all.into_iter().filter(|r| r.is_finite()).collect();
                let mean = if ok.is_empty() {
                    f64::NAN
                } else {
                    ok.iter().sum::<f64>() / ok.len() as f64
                };
                (m.cases.len(), mean)
            }
            (None, Some(_)) => bail!("wave {k}: the members run for it are missing"),
            (Some(_), None) => bail!("wave 1 learns from the first ensemble: give no new members"),
        };
        let best_run_cost = match &new {
            Some(m) => {
                let views: Vec<ArrayView2<f64>> = m.pcs.iter().map(|p| p.view()).collect();
                wave.cost
                    .of_pcs(&views)?
                    .iter()
                    .copied()
                    .fold(f64::INFINITY, f64::min)
            }
            None => f64::NAN,
        };
        let added = match new {
            Some(m) => {
                self.training.append(&m)?;
                m
            }
            None => self.training.clone(),
        };
        let record = WaveRecord {
            wave: k,
            members,
            nroy_fraction: wave.nroy_fraction,
            r2,
            best_cost: wave.kept.cost.iter().copied().fold(f64::INFINITY, f64::min),
            training_members: self.training.cases.len(),
            best_run_cost,
            candidates: wave.kept.evaluated,
            accepted: wave.kept.accepted,
        };
        let best = if record.best_cost.is_finite() {
            record.best_cost
        } else {
            f64::NAN
        };
        self.records.push(WaveRecord {
            best_cost: best,
            ..record
        });
        self.waves.push(wave);
        self.emulators.push(emulators);
        self.match_json.push(match_json);
        self.added.push(added);
        Ok(self.records.last().expect("just pushed"))
    }

    /// The ratio of the last NROY fraction to the one before (NaN before two waves).
    pub fn shrink(&self) -> f64 {
        match self.records.as_slice() {
            [.., a, b] => b.nroy_fraction / a.nroy_fraction,
            _ => f64::NAN,
        }
    }

    /// The design of the next wave: `n` members chosen by [`maximin_subset`] among the last
    /// wave's NROY candidates, away from every member run; saved as `wave_K/design.csv` in
    /// `dir` before anything is submitted and read back (not chosen again) when it exists,
    /// so that a rerun after a crash submits the same members.
    pub fn design(&self, dir: &Path, n: usize, seed: u64) -> Result<Array2<f64>> {
        let k = self.records.len() + 1;
        let last = self
            .waves
            .last()
            .context("no wave yet: match the first wave before choosing new members")?;
        let path = wave_dir(dir, k).join("design.csv");
        if path.exists() {
            let x = Table::read(&path)?.to_array(&self.parameters)?;
            if x.nrows() != n {
                bail!(
                    "{}: the saved design of wave {k} has {} members, not {n} (remove the file to choose again)",
                    path.display(),
                    x.nrows()
                );
            }
            return Ok(x);
        }
        let pool = &last.kept.x;
        let idx = maximin_subset(pool.view(), self.training.x.view(), n, seed)?;
        let x = pool.select(Axis(0), &idx);
        let rows = x
            .outer_iter()
            .map(|r| r.iter().map(|&v| fmt_number(v)).collect::<Vec<_>>());
        write_records(&path, &self.parameters, rows)?;
        Ok(x)
    }

    /// Writes into `dir` (e.g. `OUT/refocus`): a folder `wave_K` per wave not yet written
    /// (`nroy_waveK.csv` and `.json` as history matching saves them, `wave.json`,
    /// `emulator_VAR.json`, `targets.csv`, `members.csv`: the members it added with their
    /// PCs), then `skill.csv` (wave, variable, mode, r2), the figure `nroy_fraction.png`
    /// and last `waves.csv` (a wave listed there is finished). Every file atomically.
    /// The files appear all together or not at all ([`crate::files::all_or_nothing`]).
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        crate::files::all_or_nothing(|| self.write_files(dir))?;
        self.saved = self.waves.len();
        Ok(())
    }

    fn write_files(&self, dir: &Path) -> Result<()> {
        crate::files::create_dir(dir)?;
        for k in self.saved..self.waves.len() {
            let w = &self.waves[k];
            let d = wave_dir(dir, k + 1);
            std::fs::create_dir_all(&d)
                .with_context(|| format!("cannot make folder {}", d.display()))?;
            let stem = format!("nroy_wave{}", k + 1);
            history_match::table(&w.kept, &self.parameters)?
                .write(&d.join(format!("{stem}.csv")))?;
            crate::files::write_json(&d.join(format!("{stem}.json")), &self.match_json[k])?;
            for (v, f) in self.variables.iter().zip(&self.emulators[k]) {
                f.save(&d.join(format!("emulator_{v}.json")))?;
            }
            targets_table(&w.cost)?.write(&d.join("targets.csv"))?;
            write_members(
                &d.join("members.csv"),
                &self.parameters,
                &self.variables,
                &self.added[k],
            )?;
            let s = &w.settings;
            let file = WaveFile {
                wave: k + 1,
                variables: self.variables.clone(),
                parameters: self.parameters.clone(),
                form: w.cost.form().name().to_string(),
                weights: w.cost.terms().iter().map(|t| t.weight).collect(),
                n: s.n,
                cutoff: s.cutoff,
                order: s.order,
                discrepancy: s.discrepancy.clone(),
                emulator_variance: s.emulator_variance,
                limit: s.limit,
                seed: s.seed,
                bounds: w.bounds.clone(),
                nroy_fraction: w.nroy_fraction,
                evaluated: w.kept.evaluated,
                accepted: w.kept.accepted,
            };
            crate::files::write_json(&d.join("wave.json"), &file)?;
        }
        let skill_rows = self.skill.iter().map(|s| {
            vec![
                s.wave.to_string(),
                s.variable.clone(),
                s.mode.to_string(),
                fmt_number(s.r2),
            ]
        });
        write_records(
            &dir.join("skill.csv"),
            &["wave", "variable", "mode", "r2"],
            skill_rows,
        )?;
        if !self.records.is_empty() {
            plot_nroy(&dir.join("nroy_fraction.png"), &self.records)?;
        }
        let rows = self.records.iter().map(|r| {
            vec![
                r.wave.to_string(),
                r.members.to_string(),
                fmt_number(r.nroy_fraction),
                fmt_number(r.r2),
                fmt_number(r.best_cost),
                r.training_members.to_string(),
                fmt_number(r.best_run_cost),
                r.candidates.to_string(),
                r.accepted.to_string(),
            ]
        });
        write_records(&dir.join("waves.csv"), &WAVE_COLUMNS, rows)
    }

    /// Reads a record written by [`Refocus::save`] back: every wave listed in `waves.csv`
    /// with its cost rebuilt from the saved emulators and targets, its NROY set, and the
    /// members run. `None` when `dir` holds no `waves.csv` (nothing finished yet).
    pub fn load(dir: &Path) -> Result<Option<Refocus>> {
        crate::files::check_dir_input(dir, "refocusing folder")?;
        let path = dir.join("waves.csv");
        if !path.exists() {
            return Ok(None);
        }
        let t = read_own(&path)?;
        let num = |c: &str| -> Result<Vec<f64>> { Ok(t.numbers(c)?.to_vec()) };
        let (wave, members, fr, r2, best) = (
            num("wave")?,
            num("members")?,
            num("nroy_fraction")?,
            num("r2")?,
            num("best_cost")?,
        );
        let (tm, brc, cand, acc) = (
            num("training_members")?,
            num("best_run_cost")?,
            num("candidates")?,
            num("accepted")?,
        );
        let mut rf: Option<Refocus> = None;
        for i in 0..t.len() {
            let k = i + 1;
            if wave[i] != k as f64 {
                bail!(
                    "{}: line {}: wave {} where wave {k} was expected",
                    path.display(),
                    i + 2,
                    wave[i]
                );
            }
            let d = wave_dir(dir, k);
            let wf: WaveFile =
                crate::files::read_json(&d.join("wave.json"), "refocusing wave file")?;
            let mut fitted = Vec::new();
            for v in &wf.variables {
                fitted.push(Arc::new(Fitted::load(
                    &d.join(format!("emulator_{v}.json")),
                )?));
            }
            let targets = read_targets(&d.join("targets.csv"), &wf.variables)?;
            let modes: Vec<usize> = targets.iter().map(|t| t.modes()).collect();
            let terms = targets
                .into_iter()
                .zip(&fitted)
                .zip(&wf.weights)
                .map(|((target, f), &weight)| Term {
                    emulator: f.clone(),
                    target,
                    weight,
                })
                .collect();
            let cost = Cost::new(terms, Form::parse(&wf.form)?)
                .with_context(|| format!("{}: the cost of wave {k}", d.display()))?;
            let kt = Table::read(&d.join(format!("nroy_wave{k}.csv")))?;
            let kept = Kept {
                x: if kt.is_empty() {
                    Array2::zeros((0, wf.parameters.len()))
                } else {
                    kt.to_array(&wf.parameters)?
                },
                cost: Array1::from(kt.numbers("cost")?.to_vec()),
                implausibility: Some(Array1::from(kt.numbers("implausibility")?.to_vec())),
                evaluated: wf.evaluated,
                accepted: wf.accepted,
            };
            let w = Wave {
                cost,
                settings: MatchSettings {
                    n: wf.n,
                    cutoff: wf.cutoff,
                    order: wf.order,
                    discrepancy: wf.discrepancy.clone(),
                    emulator_variance: wf.emulator_variance,
                    limit: wf.limit,
                    seed: wf.seed,
                },
                bounds: wf.bounds.clone(),
                nroy_fraction: wf.nroy_fraction,
                kept,
            };
            let json: serde_json::Value = crate::files::read_json(
                &d.join(format!("nroy_wave{k}.json")),
                "history match settings",
            )?;
            let added = read_members(
                &d.join("members.csv"),
                &wf.parameters,
                &wf.variables,
                &modes,
            )?;
            let r = match rf.as_mut() {
                None => {
                    let mut r =
                        Refocus::new(wf.parameters.clone(), wf.variables.clone(), added.clone())?;
                    r.added.push(added);
                    rf = Some(r);
                    rf.as_mut().expect("just set")
                }
                Some(r) => {
                    r.training.append(&added)?;
                    r.added.push(added);
                    r
                }
            };
            r.records.push(WaveRecord {
                wave: k,
                members: members[i] as usize,
                nroy_fraction: fr[i],
                r2: r2[i],
                best_cost: best[i],
                training_members: tm[i] as usize,
                best_run_cost: brc[i],
                candidates: cand[i] as usize,
                accepted: acc[i] as usize,
            });
            r.waves.push(w);
            r.emulators.push(fitted);
            r.match_json.push(json);
        }
        let mut rf = match rf {
            Some(r) => r,
            None => return Ok(None),
        };
        let skill = read_own(&dir.join("skill.csv"))?;
        if !skill.is_empty() {
            let names = match skill.column("variable")? {
                crate::table::Column::Text(c) => c.clone(),
                _ => bail!(
                    "{}: column variable must hold names",
                    dir.join("skill.csv").display()
                ),
            };
            let (w, m, r) = (
                skill.numbers("wave")?,
                skill.numbers("mode")?,
                skill.numbers("r2")?,
            );
            rf.skill = (0..skill.len())
                .filter(|&i| (w[i] as usize) <= rf.records.len())
                .map(|i| Skill {
                    wave: w[i] as usize,
                    variable: names[i].clone(),
                    mode: m[i] as usize,
                    r2: r[i],
                })
                .collect();
        }
        rf.saved = rf.waves.len();
        Ok(Some(rf))
    }
}

/// The NROY fraction per wave on a log axis, each point labelled with the members its
/// emulators learned from.
fn plot_nroy(path: &Path, records: &[WaveRecord]) -> Result<()> {
    let opts = crate::plot::Options::default();
    crate::plot::save(
        path,
        &opts,
        |a| draw_nroy(a, records),
        |a| draw_nroy(a, records),
    )?;
    Ok(())
}

fn draw_nroy<DB: plotters::prelude::DrawingBackend>(
    area: &plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    records: &[WaveRecord],
) -> Result<()> {
    use plotters::prelude::*;
    let de = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("drawing failed: {e:?}");
    let pts: Vec<(f64, f64, usize)> = records
        .iter()
        .filter(|r| r.nroy_fraction > 0.0 && r.nroy_fraction.is_finite())
        .map(|r| (r.wave as f64, r.nroy_fraction, r.training_members))
        .collect();
    let lo = pts.iter().map(|p| p.1).fold(1.0, f64::min);
    let hi = pts.iter().map(|p| p.1).fold(lo, f64::max);
    // whole decades around the data, at least one
    let d0 = lo.log10().floor();
    let d1 = hi.log10().ceil().max(d0 + 1.0);
    let (y0, y1) = (10f64.powf(d0), 10f64.powf(d1));
    let last = records.len().max(2) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "Refocusing: the NROY region shrinks wave by wave",
            ("sans-serif", 24),
        )
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.5..last + 0.5, (y0..y1).log_scale())
        .map_err(de)?;
    chart
        .configure_mesh()
        .x_desc("wave")
        .y_desc("NROY fraction of the parameter space (log scale)")
        .x_labels(records.len().max(2) + 1)
        .x_label_formatter(&|v| {
            if v.fract() == 0.0 && *v >= 1.0 {
                format!("{v:.0}")
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(de)?;
    let c = RGBColor(31, 119, 180);
    chart
        .draw_series(std::iter::once(PathElement::new(
            pts.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(),
            c.stroke_width(2),
        )))
        .map_err(de)?;
    chart
        .draw_series(pts.iter().map(|p| Circle::new((p.0, p.1), 5, c.filled())))
        .map_err(de)?;
    chart
        .draw_series(pts.iter().map(|p| {
            Text::new(
                format!("{:.2e} ({} runs)", p.1, p.2),
                (p.0, p.1),
                ("sans-serif", 14).into_font(),
            )
        }))
        .map_err(de)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_checked_once_naming_the_option() {
        assert!(Rules::default().check().is_ok());
        let e = |r: Rules| r.check().unwrap_err().to_string();
        assert_eq!(
            e(Rules {
                members: 0,
                ..Rules::default()
            }),
            "--members must be at least 1"
        );
        assert!(e(Rules {
            ratio: f64::NAN,
            ..Rules::default()
        })
        .starts_with("--ratio NaN must be above 0"));
        assert!(e(Rules {
            discrepancy: -0.5,
            ..Rules::default()
        })
        .contains("--discrepancy -0.5"));
        // above 1 the ratio never stops refocusing: allowed
        assert!(Rules {
            ratio: 2.0,
            ..Rules::default()
        }
        .check()
        .is_ok());
    }

    #[test]
    fn r2_equals_hand_computation() {
        // obs 1, 2, 3 (mean 2, SS_tot 2); pred 1, 2, 4: SS_res 1 -> r2 0.5
        let obs = ndarray::array![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]];
        let pred = ndarray::array![[1.0, 0.0], [2.0, 0.0], [4.0, 0.0]];
        let r = r2_columns(pred.view(), obs.view());
        assert!((r[0] - 0.5).abs() < 1e-15);
        assert!(r[1].is_nan(), "a constant column has no r2");
    }

    #[test]
    fn maximin_subset_spreads_better_than_random_subsets_and_stays_in_the_pool() {
        // a pool of 2000 uniform points in a disc (the "NROY region"); the chosen 20 are
        // rows of the pool (so inside it) and their smallest pairwise distance beats every
        // one of 200 random subsets of 20
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut pool = Vec::new();
        while pool.len() < 2000 {
            let (a, b): (f64, f64) = (rng.gen(), rng.gen());
            if (a - 0.5).powi(2) + (b - 0.5).powi(2) < 0.16 {
                pool.push([a, b]);
            }
        }
        let pool = Array2::from_shape_fn((2000, 2), |(i, j)| pool[i][j]);
        let none = Array2::<f64>::zeros((0, 2));
        let idx = maximin_subset(pool.view(), none.view(), 20, 1).unwrap();
        assert_eq!(idx.len(), 20);
        let mut u = idx.clone();
        u.sort();
        u.dedup();
        assert_eq!(u.len(), 20, "no row twice");
        let chosen = pool.select(Axis(0), &idx);
        for r in chosen.outer_iter() {
            assert!((r[0] - 0.5).powi(2) + (r[1] - 0.5).powi(2) < 0.16);
        }
        let d = min_pairwise_distance(chosen.view());
        let mut best_random: f64 = 0.0;
        for s in 0..200 {
            let mut r = ChaCha8Rng::seed_from_u64(100 + s);
            let pick = rand::seq::index::sample(&mut r, 2000, 20).into_vec();
            best_random =
                best_random.max(min_pairwise_distance(pool.select(Axis(0), &pick).view()));
        }
        assert!(d > best_random, "maximin {d} vs best random {best_random}");
        // the same seed gives the same subset
        assert_eq!(
            maximin_subset(pool.view(), none.view(), 20, 1).unwrap(),
            idx
        );
        // existing members are avoided: with the pool's first row run already, it is not chosen
        let run = pool.slice(ndarray::s![0..1, ..]).to_owned();
        let idx2 = maximin_subset(pool.view(), run.view(), 5, 1).unwrap();
        assert!(!idx2.contains(&0));
        assert!(maximin_subset(pool.view(), none.view(), 2001, 1).is_err());
        assert!(maximin_subset(pool.view(), none.view(), 0, 1).is_err());
    }
}
