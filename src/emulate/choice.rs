//! The emulator used for calibration, chosen per variable by evidence (issue 27): every
//! candidate emulator's out-of-sample skill, on the second ensemble (`ppe_test`) when there
//! is one, else by k-fold cross-validation over the members (each candidate refitted on each
//! fold's other members); or named by the user (`[calibration] emulator` in the config, the
//! `emulator` option of the stage).
//!
//! The criterion: the mean over modes of r^2 as `1 - SSE/SST` (scikit-learn's `r2_score`,
//! [`crate::metrics::r2_score`]; not the squared correlation of the `r2` column of
//! `metrics.csv`), the highest wins; ties (within 1e-12) go to the lower mean RMSE in units
//! of sigma (the observations' interannual standard deviation of each mode's projection,
//! `eof/targets.csv`), then to the lower mean RMSE. The choice and the figures behind it
//! are written to `choice.csv`: one row per variable and candidate, the contract's columns
//! first (variable, emulator, split, r2, rmse_sigma), then rmse, members, chosen, chosen_by.

use crate::array::csv::{fmt_number, write_records};
use anyhow::{bail, Context, Result};
use ndarray::Array1;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The candidate emulators of the stage, in its order.
pub const EMULATORS: [&str; 5] = ["nn", "nn_ensemble", "gp", "ridge", "quadratic_ridge"];

/// `Ok` if `name` is a candidate emulator; else an error naming it and the nearest one:
/// `unknown emulator 'gpp' (did you mean 'gp'? known: nn, nn_ensemble, gp, ridge,
/// quadratic_ridge)`.
pub fn check_emulator(name: &str) -> Result<()> {
    if EMULATORS.contains(&name) {
        return Ok(());
    }
    bail!(
        "unknown emulator '{name}' (did you mean '{}'? known: {})",
        nearest(name, &EMULATORS),
        EMULATORS.join(", "),
        name = crate::format::printable(name)
    )
}

/// The name of `known` nearest to `name` by edit distance (case-insensitive).
pub fn nearest<'a>(name: &str, known: &[&'a str]) -> &'a str {
    known
        .iter()
        .min_by_key(|k| strsim::levenshtein(&name.to_lowercase(), &k.to_lowercase()))
        .copied()
        .unwrap_or("")
}

/// The emulator the user names: one for every variable (`emulator = "gp"`), or one per
/// variable (`[calibration.emulator] GPP = "gp"`; the variables it leaves out are chosen by
/// evidence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Named {
    /// The same emulator for every variable.
    All(String),
    /// An emulator per variable.
    PerVariable(BTreeMap<String, String>),
}

impl Named {
    /// The emulator named for `variable`, if any.
    pub fn for_variable(&self, variable: &str) -> Option<&str> {
        match self {
            Named::All(n) => Some(n),
            Named::PerVariable(m) => m.get(variable).map(String::as_str),
        }
    }

    /// Checks every name against [`EMULATORS`] and, per variable, the variable against
    /// `variables` (when not empty); an error names the key (`GPP`) and the nearest known
    /// name.
    pub fn check(&self, variables: &[String]) -> Result<()> {
        match self {
            Named::All(n) => check_emulator(n),
            Named::PerVariable(m) => {
                for (v, n) in m {
                    check_emulator(n).with_context(|| format!("variable {v}"))?;
                    if !variables.is_empty() && !variables.contains(v) {
                        let known: Vec<&str> = variables.iter().map(String::as_str).collect();
                        bail!(
                            "'{v}' is not a calibration variable (did you mean '{}'? variables: {})",
                            nearest(v, &known),
                            known.join(", ")
                        , v = crate::format::printable(v));
                    }
                }
                Ok(())
            }
        }
    }
}

/// How the stage chooses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceSettings {
    /// Folds of the cross-validation when there is no second ensemble (default 5).
    #[serde(default = "default_folds")]
    pub folds: usize,
    /// Resampled networks of `nn_ensemble` retrained on each fold (default 10, at most the
    /// protocol's resamplings): the mean of 10 networks predicts nearly as the mean of 100,
    /// at a tenth of the cost.
    #[serde(default = "default_cv_resamples")]
    pub cv_resamples: usize,
    /// The emulator the user names, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator: Option<Named>,
}

fn default_folds() -> usize {
    5
}

fn default_cv_resamples() -> usize {
    10
}

impl Default for ChoiceSettings {
    fn default() -> Self {
        ChoiceSettings {
            folds: default_folds(),
            cv_resamples: default_cv_resamples(),
            emulator: None,
        }
    }
}

impl ChoiceSettings {
    /// Checks the settings: at least 2 folds and 1 resampling, known emulator names.
    pub fn check(&self, variables: &[String]) -> Result<()> {
        if self.folds < 2 {
            bail!(
                "folds = {}: a cross-validation needs at least 2 folds",
                self.folds
            );
        }
        if self.cv_resamples == 0 {
            bail!("cv_resamples = 0: at least 1 network per fold");
        }
        if let Some(n) = &self.emulator {
            n.check(variables).context("emulator")?;
        }
        Ok(())
    }
}

/// The seeded folds of a k-fold cross-validation of `n` members: the members shuffled with
/// `seed`, then dealt in turn to the folds, so every member is in exactly one fold and fold
/// sizes differ by at most one. `k` is capped at `n` (leave-one-out).
pub fn kfold(n: usize, k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    let k = k.min(n);
    if k < 2 {
        bail!("{n} members are too few for a cross-validation (at least 2 folds)");
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut folds = vec![Vec::new(); k];
    for (i, m) in idx.into_iter().enumerate() {
        folds[i % k].push(m);
    }
    Ok(folds)
}

/// The members outside fold `fold`, in increasing order.
pub fn complement(n: usize, fold: &[usize]) -> Vec<usize> {
    let mut inside = vec![false; n];
    for &i in fold {
        inside[i] = true;
    }
    (0..n).filter(|&i| !inside[i]).collect()
}

/// Each mode's RMSE divided by its sigma; NaN where sigma is unknown, zero or not finite.
pub fn rmse_sigma(rmse: &[f64], sigma: Option<&Array1<f64>>) -> Vec<f64> {
    rmse.iter()
        .enumerate()
        .map(|(k, r)| match sigma.and_then(|s| s.get(k)) {
            Some(&s) if s.is_finite() && s > 0.0 => r / s,
            _ => f64::NAN,
        })
        .collect()
}

/// The mean of `v` (NaN if empty or if any value is NaN).
pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// One candidate's out-of-sample skill on a variable: a row of `choice.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Calibration variable.
    pub variable: String,
    /// Candidate emulator.
    pub emulator: String,
    /// Where the skill was measured: `ppe_test` (the second ensemble) or `cvK` (K-fold
    /// cross-validation over the members: the out-of-fold predictions of every member).
    pub split: String,
    /// Mean over modes of `1 - SSE/SST` (scikit-learn's `r2_score`).
    pub r2: f64,
    /// Mean over modes of the RMSE over sigma (NaN if sigma is not known).
    pub rmse_sigma: f64,
    /// Mean over modes of the RMSE, in PC units.
    pub rmse: f64,
    /// Members the skill is measured on.
    pub members: usize,
    /// Whether this is the emulator used for calibration.
    pub chosen: bool,
    /// Why the chosen emulator of this variable was chosen: `ppe_test` or `cvK` (the best
    /// skill there) or `config` (named by the user).
    pub chosen_by: String,
}

/// The index of the best candidate by the rule of the module: highest `r2` (NaN is worst),
/// ties within 1e-12 broken by the lower `rmse_sigma` (NaN is worst), then by the lower
/// `rmse`, then by order. `None` if there is no candidate.
pub fn best(candidates: &[Choice]) -> Option<usize> {
    let key = |x: f64, worst: f64| if x.is_nan() { worst } else { x };
    let better = |a: &Choice, b: &Choice| -> bool {
        let (ra, rb) = (key(a.r2, f64::NEG_INFINITY), key(b.r2, f64::NEG_INFINITY));
        if (ra - rb).abs() > 1e-12 && !(ra.is_infinite() && rb.is_infinite()) {
            return ra > rb;
        }
        let (sa, sb) = (
            key(a.rmse_sigma, f64::INFINITY),
            key(b.rmse_sigma, f64::INFINITY),
        );
        if sa != sb {
            return sa < sb;
        }
        key(a.rmse, f64::INFINITY) < key(b.rmse, f64::INFINITY)
    };
    let mut best: Option<usize> = None;
    for (i, c) in candidates.iter().enumerate() {
        match best {
            Some(b) if !better(c, &candidates[b]) => {}
            _ => best = Some(i),
        }
    }
    best
}

/// The columns of `choice.csv`.
pub const COLUMNS: [&str; 9] = [
    "variable",
    "emulator",
    "split",
    "r2",
    "rmse_sigma",
    "rmse",
    "members",
    "chosen",
    "chosen_by",
];

/// Writes `rows` as `choice.csv` at `path`, atomically.
pub fn write(path: &Path, rows: &[Choice]) -> Result<()> {
    write_records(
        path,
        &COLUMNS,
        rows.iter().map(|c| {
            vec![
                c.variable.clone(),
                c.emulator.clone(),
                c.split.clone(),
                fmt_number(c.r2),
                fmt_number(c.rmse_sigma),
                fmt_number(c.rmse),
                c.members.to_string(),
                c.chosen.to_string(),
                c.chosen_by.clone(),
            ]
        }),
    )
}

/// Reads a `choice.csv` written by [`write`].
pub fn read(path: &Path) -> Result<Vec<Choice>> {
    let t = crate::table::Table::read(path)?;
    let text = |name: &str| -> Result<Vec<String>> {
        Ok(match t.column(name)? {
            crate::table::Column::Text(v) => v.clone(),
            crate::table::Column::Numbers(v) => v.iter().map(|x| fmt_number(*x)).collect(),
        })
    };
    let (variable, emulator, split, chosen, chosen_by) = (
        text("variable")?,
        text("emulator")?,
        text("split")?,
        text("chosen")?,
        text("chosen_by")?,
    );
    let (r2, rs, rmse, members) = (
        t.numbers("r2")?,
        t.numbers("rmse_sigma")?,
        t.numbers("rmse")?,
        t.numbers("members")?,
    );
    (0..t.len())
        .map(|i| {
            let chosen = match chosen[i].as_str() {
                "true" => true,
                "false" => false,
                other => bail!(
                    "{}: row {}: chosen is '{other}', not true or false",
                    path.display(),
                    i + 2,
                    other = crate::format::printable(other)
                ),
            };
            Ok(Choice {
                variable: variable[i].clone(),
                emulator: emulator[i].clone(),
                split: split[i].clone(),
                r2: r2[i],
                rmse_sigma: rs[i],
                rmse: rmse[i],
                members: members[i] as usize,
                chosen,
                chosen_by: chosen_by[i].clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(name: &str, r2: f64, rs: f64, rmse: f64) -> Choice {
        Choice {
            variable: "GPP".into(),
            emulator: name.into(),
            split: "ppe_test".into(),
            r2,
            rmse_sigma: rs,
            rmse,
            members: 10,
            chosen: false,
            chosen_by: String::new(),
        }
    }

    #[test]
    fn the_rule_prefers_r2_then_rmse_in_sigma_then_rmse() {
        let c = [
            cand("nn", 0.5, 1.0, 1.0),
            cand("gp", 0.9, 3.0, 3.0),
            cand("ridge", f64::NAN, 0.1, 0.1),
        ];
        assert_eq!(best(&c), Some(1));
        // equal r2: the lower RMSE in sigma units wins
        let c = [cand("nn", 0.9, 2.0, 1.0), cand("gp", 0.9, 1.0, 3.0)];
        assert_eq!(best(&c), Some(1));
        // equal r2 within 1e-12 and no sigma: the lower RMSE wins
        let c = [
            cand("nn", 0.9 + 1e-13, f64::NAN, 2.0),
            cand("gp", 0.9, f64::NAN, 1.0),
        ];
        assert_eq!(best(&c), Some(1));
        // everything equal: the first
        let c = [cand("nn", 0.9, 1.0, 1.0), cand("gp", 0.9, 1.0, 1.0)];
        assert_eq!(best(&c), Some(0));
        assert_eq!(best(&[]), None);
        // every r2 NaN: by RMSE in sigma
        let c = [
            cand("nn", f64::NAN, 2.0, 1.0),
            cand("gp", f64::NAN, 1.0, 3.0),
        ];
        assert_eq!(best(&c), Some(1));
    }

    #[test]
    fn folds_partition_the_members() {
        // property: for many n, k and seeds, every member is in exactly one fold, sizes
        // differ by at most one, and the folds are seeded
        for n in [2usize, 5, 7, 10, 33, 100] {
            for k in [2usize, 3, 5, 10] {
                for seed in 0..5u64 {
                    let f = kfold(n, k, seed).unwrap();
                    assert_eq!(f.len(), k.min(n));
                    let mut count = vec![0; n];
                    for fold in &f {
                        for &m in fold {
                            count[m] += 1;
                        }
                    }
                    assert!(count.iter().all(|&c| c == 1), "n {n} k {k}: {count:?}");
                    let sizes: Vec<usize> = f.iter().map(Vec::len).collect();
                    let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                    assert!(hi - lo <= 1, "{sizes:?}");
                    assert_eq!(f, kfold(n, k, seed).unwrap());
                    let c = complement(n, &f[0]);
                    assert_eq!(c.len() + f[0].len(), n);
                    assert!(c.iter().all(|m| !f[0].contains(m)));
                }
            }
        }
        assert_ne!(kfold(100, 5, 1).unwrap(), kfold(100, 5, 2).unwrap());
        assert!(kfold(1, 5, 0).is_err());
    }

    #[test]
    fn unknown_names_are_refused_naming_the_nearest() {
        let e = check_emulator("gpp").unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown emulator 'gpp' (did you mean 'gp'? known: nn, nn_ensemble, gp, ridge, quadratic_ridge)"
        );
        let vars = vec!["GPP".to_string(), "LHF".to_string()];
        let n = Named::PerVariable([("GPP".to_string(), "quadratic_rige".to_string())].into());
        let e = format!("{:#}", n.check(&vars).unwrap_err());
        assert!(
            e.contains(
                "variable GPP: unknown emulator 'quadratic_rige' (did you mean 'quadratic_ridge'?"
            ),
            "{e}"
        );
        let n = Named::PerVariable([("LH".to_string(), "gp".to_string())].into());
        let e = format!("{:#}", n.check(&vars).unwrap_err());
        assert!(
            e.contains("'LH' is not a calibration variable (did you mean 'LHF'?"),
            "{e}"
        );
        assert_eq!(n.for_variable("LH"), Some("gp"));
        assert_eq!(n.for_variable("GPP"), None);
        assert_eq!(Named::All("nn".into()).for_variable("GPP"), Some("nn"));
        assert!(ChoiceSettings {
            folds: 1,
            ..ChoiceSettings::default()
        }
        .check(&vars)
        .is_err());
    }

    #[test]
    fn rmse_in_sigma_units() {
        let s = Array1::from(vec![2.0, 0.0, f64::NAN]);
        let r = rmse_sigma(&[1.0, 1.0, 1.0, 1.0], Some(&s));
        assert_eq!(r[0], 0.5);
        assert!(r[1].is_nan() && r[2].is_nan() && r[3].is_nan());
        assert!(rmse_sigma(&[1.0], None)[0].is_nan());
    }
}
