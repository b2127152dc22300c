//! The emulator stage as one object: for each calibration variable of an EOF stage, the
//! paper's network protocol (two emulators: `nn`, the chosen configuration's one network on
//! the fixed split, with its validation residual variance as a constant predictive variance,
//! and `nn_ensemble`, its resampled networks, whose spread plus mean residual variance is the
//! predictive variance), a Gaussian process and the ridge baselines fitted on the same
//! split, compared on
//! the training, validation and test members and on the second ensemble (out of sample),
//! with the coverage of their +-2 sigma predictive intervals.
//!
//! Per variable, the emulator used for calibration is then chosen by out-of-sample skill
//! ([`super::choice`]): on the second ensemble when there is one, else by k-fold
//! cross-validation over the members (every candidate refitted on each fold); or named by
//! the user.
//!
//! [`EmulatorStage::save`] writes `metrics.csv` (emulator, variable, mode, split, mse, r2,
//! coverage, r2_score, rmse_sigma), `protocol.csv` (every grid configuration's skill),
//! `choice.csv` (the choice and the figures behind it) and one JSON file per emulator and
//! variable (`METHOD_VARIABLE.json`, read back by [`super::Fitted::load`]).

use super::choice::{self, Choice, ChoiceSettings};
use super::gp::{Gp, GpSettings};
use super::kind::Method;
use super::protocol::{self, ProtocolSettings, Split};
use super::ridge::{Ridge, RidgeSettings};
use super::{Emulator, Fitted, Model, Prediction};
use crate::array::csv::{fmt_number, write_records};
use anyhow::{bail, Context, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Settings of the stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageSettings {
    /// The network protocol (its seed also draws the split every emulator shares).
    pub protocol: ProtocolSettings,
    /// Penalty of the two ridge baselines.
    pub ridge_alpha: f64,
    /// The Gaussian process (kernels, trend, nugget).
    #[serde(default)]
    pub gp: GpSettings,
    /// How the emulator used for calibration is chosen.
    #[serde(default)]
    pub choice: ChoiceSettings,
}

impl Default for StageSettings {
    fn default() -> Self {
        StageSettings {
            protocol: ProtocolSettings::default(),
            ridge_alpha: 1e-3,
            gp: GpSettings::default(),
            choice: ChoiceSettings::default(),
        }
    }
}

/// The training data every variable shares: the ensemble's scalings (and the second
/// ensemble's, for out-of-sample metrics).
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// Parameter names, the columns of `x`.
    pub parameters: Vec<String>,
    /// The members' cases, the rows of `x`.
    pub cases: Vec<String>,
    /// Scalings, members x parameters.
    pub x: Array2<f64>,
    /// The second ensemble's scalings, if any.
    pub test_x: Option<Array2<f64>>,
}

/// One calibration variable's PCs: the emulators' outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Calibration variable.
    pub variable: String,
    /// PCs, members x modes.
    pub y: Array2<f64>,
    /// The second ensemble's projected PCs, if any.
    pub test_y: Option<Array2<f64>>,
    /// Sigma of each mode (the observations' interannual standard deviation of the
    /// projection, `eof/targets.csv`), for the RMSE in units of sigma; `None` if not known.
    pub sigma: Option<Array1<f64>>,
}

/// One row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Emulator name (`nn`, `nn_ensemble`, `gp`, `ridge`, `quadratic_ridge`).
    pub emulator: String,
    /// Calibration variable.
    pub variable: String,
    /// Mode (1-based).
    pub mode: usize,
    /// `train`, `validation`, `test` or `ppe_test`.
    pub split: String,
    /// Mean squared error (Eq. 4).
    pub mse: f64,
    /// Squared correlation of predicted and actual.
    pub r2: f64,
    /// Fraction of members inside the +-2 sigma predictive interval.
    pub coverage: f64,
    /// The coefficient of determination `1 - SSE/SST` (scikit-learn's `r2_score`): what
    /// the emulator choice compares.
    pub r2_score: f64,
    /// RMSE over the mode's sigma (the observations' interannual standard deviation); NaN
    /// if sigma is not known.
    pub rmse_sigma: f64,
}

/// The emulators of one calibration variable.
#[derive(Debug, Clone, PartialEq)]
pub struct VariableEmulators {
    /// Calibration variable.
    pub variable: String,
    /// The fitted emulators by name: the protocol's network (`nn`) and network ensemble
    /// (`nn_ensemble`) first.
    pub emulators: Vec<(String, Fitted)>,
    /// Every grid configuration of the protocol, best validation MSE first.
    pub configs: Vec<protocol::ConfigResult>,
    /// Index of the chosen configuration in `configs`.
    pub chosen: usize,
}

/// The stage's results.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorStage {
    /// The settings.
    pub settings: StageSettings,
    /// The split every emulator shares.
    pub split: Split,
    /// One entry per calibration variable.
    pub variables: Vec<VariableEmulators>,
    /// The comparison.
    pub metrics: Vec<Metric>,
    /// The emulator used for calibration of each variable and the figures behind the
    /// choice: one row per variable and candidate (empty for a folder saved before
    /// `choice.csv` existed).
    pub choice: Vec<Choice>,
}

fn rows(a: ArrayView2<f64>, idx: &[usize]) -> Array2<f64> {
    a.select(Axis(0), idx)
}

/// Metrics of an emulator on `x`, `y`, one row per mode.
fn metrics_of(
    f: &Fitted,
    name: &str,
    variable: &str,
    split: &str,
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    sigma: Option<&Array1<f64>>,
) -> Result<Vec<Metric>> {
    let p = f.model.emulator().predict(x)?;
    metrics_from(&p, name, variable, split, y, sigma)
}

/// Metrics of predictions `p` of `y`, one row per mode.
fn metrics_from(
    p: &Prediction,
    name: &str,
    variable: &str,
    split: &str,
    y: ArrayView2<f64>,
    sigma: Option<&Array1<f64>>,
) -> Result<Vec<Metric>> {
    let sk = protocol::skill(&p.mean, y)?;
    let r2s = crate::metrics::r2_score_columns(y, p.mean.view())?;
    let rmse: Vec<f64> = sk.mse.iter().map(|m| m.sqrt()).collect();
    let rs = choice::rmse_sigma(&rmse, sigma);
    Ok((0..y.ncols())
        .map(|k| {
            let inside = (0..y.nrows())
                .filter(|&i| (y[[i, k]] - p.mean[[i, k]]).abs() <= 2.0 * p.variance[[i, k]].sqrt())
                .count();
            Metric {
                emulator: name.to_string(),
                variable: variable.to_string(),
                mode: k + 1,
                split: split.to_string(),
                mse: sk.mse[k],
                r2: sk.r2[k],
                coverage: inside as f64 / y.nrows().max(1) as f64,
                r2_score: r2s[k],
                rmse_sigma: rs[k],
            }
        })
        .collect())
}

/// A seed for the folds of the cross-validation, mixed from the stage's seed (so that the
/// folds are not the protocol's split reshaped).
fn fold_seed(seed: u64) -> u64 {
    seed ^ 0x6b66_6f6c_6473_0027
}

/// Networks trained by the cross-validation: per fold, the single network and
/// `cv_resamples` resampled ones (twice that with the final training `all`).
pub fn cv_networks(settings: &StageSettings) -> usize {
    let r = settings
        .choice
        .cv_resamples
        .min(settings.protocol.resamples)
        .max(1);
    let per = match settings.protocol.final_training {
        protocol::FinalTraining::Split => r + 1,
        protocol::FinalTraining::All => 2 * (r + 1),
    };
    settings.choice.folds * per
}

/// K-fold cross-validation of every candidate emulator (in [`choice::EMULATORS`] order) on
/// `x`, `y`: on each fold, the emulators are fitted again by the stage's procedure on the
/// other members ([`protocol::retrain`]: the chosen configuration's network early-stopped
/// on a seeded split of those members, its resampled networks, and the Gaussian process and
/// the ridges on that split's training members) and predict the fold's members. Returns the
/// split's name (`cvK`) and the out-of-fold predictions of every member per emulator.
fn cross_validate(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    settings: &StageSettings,
    hidden: &[usize],
    progress: &(dyn Fn() + Sync),
) -> Result<(String, Vec<(String, Prediction)>)> {
    let n = x.nrows();
    let folds = choice::kfold(n, settings.choice.folds, fold_seed(settings.protocol.seed))?;
    let resamples = settings
        .choice
        .cv_resamples
        .min(settings.protocol.resamples)
        .max(1);
    let per_fold: Vec<Vec<Prediction>> = folds
        .par_iter()
        .enumerate()
        .map(|(i, fold)| {
            let train = choice::complement(n, fold);
            let (sp, net, ens) = protocol::retrain(
                x,
                y,
                &train,
                hidden,
                &settings.protocol,
                resamples,
                i as u64,
                progress,
            )
            .with_context(|| format!("fold {} of {}", i + 1, folds.len()))?;
            let (tx, ty) = (rows(x, &sp.train), rows(y, &sp.train));
            let g = Gp::fit(tx.view(), ty.view(), &settings.gp)
                .with_context(|| format!("fold {}: gp", i + 1))?;
            let ridge = |degree| {
                Ridge::fit(
                    tx.view(),
                    ty.view(),
                    &RidgeSettings {
                        alpha: settings.ridge_alpha,
                        degree,
                    },
                )
            };
            let (r1, r2) = (ridge(1)?, ridge(2)?);
            let fx = rows(x, fold);
            let models: [&dyn Emulator; 5] = [&net, &ens, &g, &r1, &r2];
            models.iter().map(|m| m.predict(fx.view())).collect()
        })
        .collect::<Result<_>>()?;
    let out = choice::EMULATORS
        .iter()
        .enumerate()
        .map(|(e, name)| {
            let mut mean = Array2::zeros(y.dim());
            let mut variance = Array2::zeros(y.dim());
            for (fold, preds) in folds.iter().zip(&per_fold) {
                for (r, &m) in fold.iter().enumerate() {
                    mean.row_mut(m).assign(&preds[e].mean.row(r));
                    variance.row_mut(m).assign(&preds[e].variance.row(r));
                }
            }
            (name.to_string(), Prediction { mean, variance })
        })
        .collect();
    Ok((format!("cv{}", folds.len()), out))
}

/// The choice of one variable from the per-mode metrics of every candidate on the split
/// that decides (`evidence`, rows of one split): one [`Choice`] per candidate in the order
/// of `names`, the chosen one marked; `named` is the emulator the user names, if any.
fn choose(
    variable: &str,
    names: &[String],
    evidence: &[Metric],
    members: usize,
    named: Option<&str>,
) -> Result<Vec<Choice>> {
    let split = evidence
        .first()
        .map(|m| m.split.clone())
        .context("internal: no evidence for the choice")?;
    let mut rows: Vec<Choice> = names
        .iter()
        .map(|name| {
            let m: Vec<&Metric> = evidence.iter().filter(|m| &m.emulator == name).collect();
            let r2: Vec<f64> = m.iter().map(|m| m.r2_score).collect();
            let rs: Vec<f64> = m.iter().map(|m| m.rmse_sigma).collect();
            let rmse: Vec<f64> = m.iter().map(|m| m.mse.sqrt()).collect();
            Choice {
                variable: variable.to_string(),
                emulator: name.clone(),
                split: split.clone(),
                r2: choice::mean(&r2),
                rmse_sigma: choice::mean(&rs),
                rmse: choice::mean(&rmse),
                members,
                chosen: false,
                chosen_by: String::new(),
            }
        })
        .collect();
    let (i, by) = match named {
        Some(n) => {
            choice::check_emulator(n)?;
            let i = names.iter().position(|x| x == n).with_context(|| {
                format!(
                    "variable {variable}: no emulator '{n}' was fitted",
                    n = crate::format::printable(n)
                )
            })?;
            (i, "config".to_string())
        }
        None => (
            choice::best(&rows).context("internal: no candidate emulator")?,
            split,
        ),
    };
    rows[i].chosen = true;
    for r in &mut rows {
        r.chosen_by = by.clone();
    }
    Ok(rows)
}

impl EmulatorStage {
    /// Fits and compares the emulators of every target on the same split, then chooses per
    /// target the emulator used for calibration (see the module). `progress` is called
    /// after each network (those of the cross-validation too: [`cv_networks`] per variable
    /// without a second ensemble).
    pub fn run(
        inputs: &Inputs,
        targets: &[Target],
        settings: StageSettings,
        progress: &(dyn Fn() + Sync),
    ) -> Result<EmulatorStage> {
        let x = inputs.x.view();
        if x.iter().any(|v| !v.is_finite()) {
            bail!("the ensemble's scalings have missing values: every member must set every parameter");
        }
        let n = x.nrows();
        let ps = &settings.protocol;
        let names: Vec<String> = targets.iter().map(|t| t.variable.clone()).collect();
        settings.choice.check(&names)?;
        let split = protocol::split(n, ps.train, ps.validation, ps.seed)?;
        let mut variables = Vec::new();
        let mut metrics = Vec::new();
        let mut choices = Vec::new();
        for v in targets {
            let sigma = v.sigma.as_ref();
            let y = v.y.view();
            let outputs: Vec<String> = (1..=y.ncols()).map(|k| format!("PC{k}")).collect();
            let r = protocol::run(x, y, ps, progress)
                .with_context(|| format!("variable {}", v.variable))?;
            if r.split != split {
                bail!("internal: the protocol drew another split");
            }
            let (tx, ty) = (rows(x, &split.train), rows(y, &split.train));
            let mut fitted: Vec<(String, Fitted)> = Vec::new();
            let mut add = |name: &str, model: Model| -> Result<()> {
                let mut f = Fitted::new(
                    model,
                    tx.view(),
                    ty.view(),
                    inputs.parameters.clone(),
                    outputs.clone(),
                )?;
                f.variable = Some(v.variable.clone());
                f.training_cases = split
                    .train
                    .iter()
                    .map(|&i| inputs.cases[i].clone())
                    .collect();
                fitted.push((name.to_string(), f));
                Ok(())
            };
            // the paper's emulator: one network (the chosen configuration on the fixed split);
            // the resampled networks as a second emulator whose spread is its uncertainty
            add("nn", Model::new(r.network))?;
            add("nn_ensemble", Model::new(r.ensemble))?;
            let g = Gp::fit(tx.view(), ty.view(), &settings.gp)
                .with_context(|| format!("variable {}: gp", v.variable))?;
            add("gp", Model::new(g))?;
            for (name, degree) in [("ridge", 1), ("quadratic_ridge", 2)] {
                let m = Ridge::fit(
                    tx.view(),
                    ty.view(),
                    &RidgeSettings {
                        alpha: settings.ridge_alpha,
                        degree,
                    },
                )
                .with_context(|| format!("variable {}: {name}", v.variable))?;
                add(name, Model::new(m))?;
            }
            for (name, f) in &fitted {
                for (sname, idx) in [
                    ("train", &split.train),
                    ("validation", &split.validation),
                    ("test", &split.test),
                ] {
                    metrics.extend(metrics_of(
                        f,
                        name,
                        &v.variable,
                        sname,
                        rows(x, idx).view(),
                        rows(y, idx).view(),
                        sigma,
                    )?);
                }
                if let (Some(t), Some(tp)) = (&inputs.test_x, &v.test_y) {
                    metrics.extend(metrics_of(
                        f,
                        name,
                        &v.variable,
                        "ppe_test",
                        t.view(),
                        tp.view(),
                        sigma,
                    )?);
                }
            }
            // the choice: on the second ensemble, else by cross-validation
            let fitted_names: Vec<String> = fitted.iter().map(|(n, _)| n.clone()).collect();
            if fitted_names != choice::EMULATORS {
                bail!("internal: the stage fitted {fitted_names:?}, not the candidates");
            }
            let (evidence, members) = match (&inputs.test_x, &v.test_y) {
                (Some(_), Some(ty)) => (
                    metrics
                        .iter()
                        .filter(|m| m.variable == v.variable && m.split == "ppe_test")
                        .cloned()
                        .collect::<Vec<_>>(),
                    ty.nrows(),
                ),
                _ => {
                    let (sname, preds) =
                        cross_validate(x, y, &settings, &r.configs[r.chosen].hidden, progress)
                            .with_context(|| {
                                format!("variable {}: cross-validation", v.variable)
                            })?;
                    let mut rows = Vec::new();
                    for (name, p) in &preds {
                        rows.extend(metrics_from(p, name, &v.variable, &sname, y, sigma)?);
                    }
                    metrics.extend(rows.iter().cloned());
                    (rows, n)
                }
            };
            let named = settings
                .choice
                .emulator
                .as_ref()
                .and_then(|e| e.for_variable(&v.variable));
            choices.extend(
                choose(&v.variable, &fitted_names, &evidence, members, named)
                    .with_context(|| format!("variable {}: the emulator choice", v.variable))?,
            );
            variables.push(VariableEmulators {
                variable: v.variable.clone(),
                emulators: fitted,
                configs: r.configs,
                chosen: r.chosen,
            });
        }
        Ok(EmulatorStage {
            settings,
            split,
            variables,
            metrics,
            choice: choices,
        })
    }

    /// The name of the emulator used for calibration of `variable` (`gp`, `nn_ensemble`,
    /// ...), as chosen by [`EmulatorStage::run`] or read from `choice.csv`.
    pub fn choice(&self, variable: &str) -> Result<&str> {
        if !self.variables.iter().any(|v| v.variable == variable) {
            let known: Vec<&str> = self.variables.iter().map(|v| v.variable.as_str()).collect();
            bail!(
                "no emulators of variable '{variable}' (did you mean '{}'? variables: {})",
                choice::nearest(variable, &known),
                known.join(", "),
                variable = crate::format::printable(variable)
            );
        }
        self.choice
            .iter()
            .find(|c| c.variable == variable && c.chosen)
            .map(|c| c.emulator.as_str())
            .with_context(|| {
                format!(
                    "no emulator is chosen for {variable}: the emulator folder has no choice.csv (saved before the choice existed); run 04_emulate.rhai again"
                )
            })
    }

    /// The emulator used for calibration of `variable` ([`EmulatorStage::choice`]).
    pub fn chosen_emulator(&self, variable: &str) -> Result<&Fitted> {
        self.get(self.choice(variable)?, variable)
    }

    /// The emulator `name` of `variable`.
    pub fn get(&self, name: &str, variable: &str) -> Result<&Fitted> {
        let v = self
            .variables
            .iter()
            .find(|v| v.variable == variable)
            .with_context(|| {
                format!(
                    "no emulators of variable '{variable}'",
                    variable = crate::format::printable(variable)
                )
            })?;
        v.emulators
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f)
            .with_context(|| {
                let names: Vec<&str> = v.emulators.iter().map(|(n, _)| n.as_str()).collect();
                format!(
                    "no emulator '{name}' of {variable} (there are {})",
                    names.join(", "),
                    name = crate::format::printable(name)
                )
            })
    }

    /// Writes `metrics.csv`, `protocol.csv`, `choice.csv`, `stage.json` and
    /// `METHOD_VARIABLE.json` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        crate::files::all_or_nothing(|| {
            let n = fmt_number;
            write_records(
                &dir.join("metrics.csv"),
                &[
                    "emulator",
                    "variable",
                    "mode",
                    "split",
                    "mse",
                    "r2",
                    "coverage",
                    "r2_score",
                    "rmse_sigma",
                ],
                self.metrics.iter().map(|m| {
                    vec![
                        m.emulator.clone(),
                        m.variable.clone(),
                        m.mode.to_string(),
                        m.split.clone(),
                        n(m.mse),
                        n(m.r2),
                        n(m.coverage),
                        n(m.r2_score),
                        n(m.rmse_sigma),
                    ]
                }),
            )?;
            choice::write(&dir.join("choice.csv"), &self.choice)?;
            let mut rows = Vec::new();
            for v in &self.variables {
                for (i, c) in v.configs.iter().enumerate() {
                    let (rm, rs) = if c.resampled.is_empty() {
                        (f64::NAN, f64::NAN)
                    } else {
                        c.resampled_mse()
                    };
                    rows.push(vec![
                        v.variable.clone(),
                        c.hidden[0].to_string(),
                        c.hidden[1].to_string(),
                        n(c.validation_mse()),
                        n(c.test.mse.iter().sum::<f64>() / c.test.mse.len() as f64),
                        n(c.best_epoch as f64),
                        c.resampled.len().to_string(),
                        n(rm),
                        n(rs),
                        (i == v.chosen).to_string(),
                    ]);
                }
            }
            write_records(
                &dir.join("protocol.csv"),
                &[
                    "variable",
                    "layer1",
                    "layer2",
                    "validation_mse",
                    "test_mse",
                    "best_epoch",
                    "resamples",
                    "resampled_test_mse",
                    "resampled_test_mse_std",
                    "chosen",
                ],
                rows,
            )?;
            for v in &self.variables {
                for (name, f) in &v.emulators {
                    f.save(&dir.join(format!("{name}_{}.json", v.variable)))?;
                }
            }
            let meta = StageFile {
                clmtune: env!("CARGO_PKG_VERSION").into(),
                settings: self.settings.clone(),
                split: self.split.clone(),
                variables: self
                    .variables
                    .iter()
                    .map(|v| VariableFile {
                        variable: v.variable.clone(),
                        emulators: v.emulators.iter().map(|(n, _)| n.clone()).collect(),
                        configs: v.configs.clone(),
                        chosen: v.chosen,
                    })
                    .collect(),
            };
            crate::files::write_json(&dir.join("stage.json"), &meta)
        })
    }

    /// Reads a folder written by [`EmulatorStage::save`] back.
    pub fn load(dir: &Path) -> Result<EmulatorStage> {
        crate::files::check_dir_input(dir, "emulator folder")?;
        let meta: StageFile = crate::files::read_json(
            &dir.join("stage.json"),
            "emulator stage file (written by an emulator stage's save)",
        )?;
        let mut variables = Vec::new();
        for v in meta.variables {
            let emulators = v
                .emulators
                .iter()
                .map(|n| {
                    Ok((
                        n.clone(),
                        Fitted::load(&dir.join(format!("{n}_{}.json", v.variable)))?,
                    ))
                })
                .collect::<Result<_>>()?;
            variables.push(VariableEmulators {
                variable: v.variable,
                emulators,
                configs: v.configs,
                chosen: v.chosen,
            });
        }
        let t = crate::table::Table::read(&dir.join("metrics.csv"))?;
        let text_col = |name: &str| -> Result<Vec<String>> {
            match t.column(name)? {
                crate::table::Column::Text(v) => Ok(v.clone()),
                crate::table::Column::Numbers(v) => Ok(v.iter().map(|x| fmt_number(*x)).collect()),
            }
        };
        let (em, var, split) = (
            text_col("emulator")?,
            text_col("variable")?,
            text_col("split")?,
        );
        let (mode, mse, r2, cov) = (
            t.numbers("mode")?,
            t.numbers("mse")?,
            t.numbers("r2")?,
            t.numbers("coverage")?,
        );
        // columns added later: NaN in a folder saved before them
        let nan = vec![f64::NAN; t.len()];
        let r2s = t.numbers("r2_score").unwrap_or(&nan);
        let rs = t.numbers("rmse_sigma").unwrap_or(&nan);
        let metrics = (0..t.len())
            .map(|i| Metric {
                emulator: em[i].clone(),
                variable: var[i].clone(),
                mode: mode[i] as usize,
                split: split[i].clone(),
                mse: mse[i],
                r2: r2[i],
                coverage: cov[i],
                r2_score: r2s[i],
                rmse_sigma: rs[i],
            })
            .collect();
        let cp = dir.join("choice.csv");
        let choice = if cp.exists() {
            choice::read(&cp)?
        } else {
            Vec::new()
        };
        Ok(EmulatorStage {
            settings: meta.settings,
            split: meta.split,
            variables,
            metrics,
            choice,
        })
    }
}

/// What `stage.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct StageFile {
    clmtune: String,
    settings: StageSettings,
    split: Split,
    variables: Vec<VariableFile>,
}

#[derive(Debug, Serialize, Deserialize)]
struct VariableFile {
    variable: String,
    emulators: Vec<String>,
    configs: Vec<protocol::ConfigResult>,
    chosen: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulate::nn::Network;

    #[test]
    fn metrics_count_coverage_by_hand() {
        // ridge on y = 2x exactly: perfect skill; residual variance ~0 so coverage is
        // whether |error| <= 2 sd holds at rounding level
        let x = Array2::from_shape_fn((10, 1), |(i, _)| i as f64 / 9.0);
        let y = x.mapv(|v| {
            2.0 * v
                + if ((v * 9.0) as usize).is_multiple_of(2) {
                    0.01
                } else {
                    -0.01
                }
        });
        let r = Ridge::fit(
            x.view(),
            y.view(),
            &RidgeSettings {
                alpha: 0.0,
                degree: 1,
            },
        )
        .unwrap();
        let f = Fitted::new(
            Model::new(r),
            x.view(),
            y.view(),
            vec!["a".into()],
            vec!["PC1".into()],
        )
        .unwrap();
        let m = metrics_of(&f, "ridge", "GPP", "train", x.view(), y.view(), None).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].mode, m[0].split.as_str()), (1, "train"));
        assert!(m[0].r2 > 0.999 && m[0].mse < 1.1e-4, "{m:?}");
        // residuals +-0.01 (slightly less after the fit) and sd >= 0.01: every point inside
        assert_eq!(m[0].coverage, 1.0);
    }

    /// r2_score and rmse_sigma of hand numbers: truth [1, 3, 2, 6], prediction [1, 2, 3, 5],
    /// sigma 0.5. SSE = 0 + 1 + 1 + 1 = 3, mean 3, SST = 4 + 0 + 1 + 9 = 14, so r2_score =
    /// 1 - 3/14 = 11/14; RMSE = sqrt(3/4), over sigma 0.5 = sqrt(3). python3 (numpy 2.4):
    /// `1 - ((y-p)**2).sum()/((y-y.mean())**2).sum()` -> 0.7857142857142857 and
    /// `np.sqrt(((y-p)**2).mean())/0.5` -> 1.7320508075688772. The r2 column (squared
    /// correlation) is 100/122.5 = 0.8163...: another number.
    #[test]
    fn r2_score_and_rmse_in_sigma_units_by_hand() {
        let y = ndarray::array![[1.0], [3.0], [2.0], [6.0]];
        let p = Prediction {
            mean: ndarray::array![[1.0], [2.0], [3.0], [5.0]],
            variance: Array2::ones((4, 1)),
        };
        let m = metrics_from(
            &p,
            "x",
            "GPP",
            "ppe_test",
            y.view(),
            Some(&ndarray::arr1(&[0.5])),
        )
        .unwrap();
        assert!((m[0].r2_score - 0.7857142857142857).abs() < 1e-15, "{m:?}");
        assert!(
            (m[0].rmse_sigma - 1.7320508075688772).abs() < 1e-15,
            "{m:?}"
        );
        assert!((m[0].r2 - 100.0 / 122.5).abs() < 1e-15);
        // coverage: |error| <= 2 for all four
        assert_eq!(m[0].coverage, 1.0);
    }

    /// Targets exactly linear in x plus tiny noise: ridge predicts them nearly exactly; a
    /// deliberately bad emulator (ridge's prediction shifted by 0.5) has the same squared
    /// correlation (the `r2` column: 1) but a poor `1 - SSE/SST`, and the choice takes
    /// ridge. By hand: the shift adds 0.5^2 per member to the SSE, so its r2_score is about
    /// 1 - n 0.25 / SST.
    #[test]
    fn a_biased_emulator_loses_by_r2_score_not_by_squared_correlation() {
        let (x, y) = linear_data(40, 3);
        let r = Ridge::fit(
            x.view(),
            y.view(),
            &RidgeSettings {
                alpha: 0.0,
                degree: 1,
            },
        )
        .unwrap();
        let good = r.predict(x.view()).unwrap();
        let bad = Prediction {
            mean: good.mean.mapv(|v| v + 0.5),
            variance: good.variance.clone(),
        };
        let sigma = ndarray::arr1(&[0.1, 0.1]);
        let mut ev = metrics_from(&bad, "nn", "GPP", "ppe_test", y.view(), Some(&sigma)).unwrap();
        ev.extend(metrics_from(&good, "ridge", "GPP", "ppe_test", y.view(), Some(&sigma)).unwrap());
        for (k, e) in ev.iter().take(2).enumerate() {
            let sst: f64 = y
                .column(k)
                .iter()
                .map(|v| (v - y.column(k).mean().unwrap()).powi(2))
                .sum();
            assert!(
                e.r2 > 0.9999,
                "the shifted one correlates perfectly: {:?}",
                e
            );
            let want = 1.0 - 40.0 * 0.25 / sst;
            assert!((e.r2_score - want).abs() < 1e-3, "{} vs {want}", e.r2_score);
            assert!((e.rmse_sigma - 5.0).abs() < 1e-3, "0.5 / 0.1: {:?}", e);
        }
        let names = vec!["nn".to_string(), "ridge".to_string()];
        let c = choose("GPP", &names, &ev, 40, None).unwrap();
        assert_eq!((c[0].chosen, c[1].chosen), (false, true));
        assert!(c[1].r2 > 0.9999 && c[0].r2 < c[1].r2);
        assert_eq!(c[1].chosen_by, "ppe_test");
        // named by the user: the bad one, and it says so
        let c = choose("GPP", &names, &ev, 40, Some("nn")).unwrap();
        assert!(c[0].chosen && !c[1].chosen);
        assert!(c.iter().all(|r| r.chosen_by == "config"));
        let e = format!(
            "{:#}",
            choose("GPP", &names, &ev, 40, Some("gpp")).unwrap_err()
        );
        assert!(
            e.contains("unknown emulator 'gpp' (did you mean 'gp'?"),
            "{e}"
        );
    }

    /// `n` members of 2 scalings (a fixed pseudo-random pattern shifted by `shift`) and 2
    /// modes exactly linear in them plus noise of 1e-4.
    fn linear_data(n: usize, shift: usize) -> (Array2<f64>, Array2<f64>) {
        let x = Array2::from_shape_fn((n, 2), |(i, j)| {
            ((7 * (i + shift) + 4 * (i + shift) * j + 5 * j + 1) % 41) as f64 / 40.0
        });
        let y = Array2::from_shape_fn((n, 2), |(i, k)| {
            let noise = 1e-4 * (((13 * i + 7 * k) % 11) as f64 / 5.0 - 1.0);
            if k == 0 {
                2.0 * x[[i, 0]] - x[[i, 1]] + noise
            } else {
                x[[i, 0]] + 3.0 * x[[i, 1]] + noise
            }
        });
        (x, y)
    }

    fn quick_settings() -> StageSettings {
        let mut s = StageSettings {
            ridge_alpha: 1e-10,
            ..StageSettings::default()
        };
        s.protocol.layer1 = vec![3];
        s.protocol.layer2 = vec![3];
        s.protocol.top = 1;
        s.protocol.resamples = 2;
        // deliberately poor networks: 3 epochs
        s.protocol.network.epochs = 3;
        s.choice.cv_resamples = 2;
        s
    }

    #[test]
    fn the_second_ensemble_decides_else_cross_validation_and_choice_csv_round_trips() {
        let (x, y) = linear_data(40, 0);
        let (tx, ty) = linear_data(20, 100);
        let sigma = ndarray::arr1(&[0.05, 0.2]);
        let inputs = Inputs {
            parameters: vec!["a".into(), "b".into()],
            cases: (1..=40).map(|i| format!("c{i}")).collect(),
            x: x.clone(),
            test_x: Some(tx),
        };
        let target = Target {
            variable: "GPP".into(),
            y: y.clone(),
            test_y: Some(ty),
            sigma: Some(sigma.clone()),
        };
        // 1. with a second ensemble: it decides, no cross-validation
        let s = EmulatorStage::run(
            &inputs,
            std::slice::from_ref(&target),
            quick_settings(),
            &|| {},
        )
        .unwrap();
        assert_eq!(s.choice.len(), 5);
        assert!(s.metrics.iter().all(|m| !m.split.starts_with("cv")));
        for c in &s.choice {
            assert_eq!(
                (c.split.as_str(), c.chosen_by.as_str(), c.members),
                ("ppe_test", "ppe_test", 20)
            );
            // the means over modes of the ppe_test rows of metrics.csv
            let rows: Vec<&Metric> = s
                .metrics
                .iter()
                .filter(|m| m.emulator == c.emulator && m.split == "ppe_test")
                .collect();
            assert_eq!(rows.len(), 2);
            assert!((c.r2 - (rows[0].r2_score + rows[1].r2_score) / 2.0).abs() < 1e-15);
            let rs = (rows[0].mse.sqrt() / 0.05 + rows[1].mse.sqrt() / 0.2) / 2.0;
            assert!(
                (c.rmse_sigma - rs).abs() < 1e-12,
                "{} vs {rs}",
                c.rmse_sigma
            );
        }
        let chosen: Vec<&Choice> = s.choice.iter().filter(|c| c.chosen).collect();
        assert_eq!(chosen.len(), 1);
        let best_r2 = s
            .choice
            .iter()
            .map(|c| c.r2)
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(chosen[0].r2, best_r2);
        assert!(best_r2 > 0.999, "{:?}", s.choice);
        assert_ne!(
            chosen[0].emulator, "nn",
            "3 epochs are not enough: {:?}",
            s.choice
        );
        assert_eq!(s.choice("GPP").unwrap(), chosen[0].emulator);
        assert_eq!(
            s.chosen_emulator("GPP").unwrap(),
            s.get(&chosen[0].emulator, "GPP").unwrap()
        );
        let e = s.choice("GP").unwrap_err().to_string();
        assert!(
            e.contains("no emulators of variable 'GP' (did you mean 'GPP'?"),
            "{e}"
        );
        // choice.csv: the contract's columns first; a round trip through save and load
        let dir = tempfile::tempdir().unwrap();
        s.save(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("choice.csv")).unwrap();
        assert!(
            text.starts_with(
                "variable,emulator,split,r2,rmse_sigma,rmse,members,chosen,chosen_by\n"
            ),
            "{text}"
        );
        assert_eq!(text.lines().count(), 6);
        let back = EmulatorStage::load(dir.path()).unwrap();
        assert_eq!(back.choice, s.choice);
        assert_eq!(back.metrics, s.metrics);
        assert_eq!(back.choice("GPP").unwrap(), s.choice("GPP").unwrap());
        // a folder saved before choice.csv existed: loads, and says what to do
        std::fs::remove_file(dir.path().join("choice.csv")).unwrap();
        let old = EmulatorStage::load(dir.path()).unwrap();
        let e = old.choice("GPP").unwrap_err().to_string();
        assert!(e.contains("run 04_emulate.rhai again"), "{e}");

        // 2. without one: 5-fold cross-validation over the 40 members
        let inputs2 = Inputs {
            test_x: None,
            ..inputs.clone()
        };
        let target2 = Target {
            test_y: None,
            ..target.clone()
        };
        let count = std::sync::atomic::AtomicUsize::new(0);
        let settings = quick_settings();
        let nets = 1 + 2 + cv_networks(&settings); // grid, resamplings, cross-validation
        let s2 = EmulatorStage::run(&inputs2, std::slice::from_ref(&target2), settings, &|| {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(count.into_inner(), nets);
        assert_eq!(cv_networks(&quick_settings()), 5 * 3);
        let cv: Vec<&Metric> = s2.metrics.iter().filter(|m| m.split == "cv5").collect();
        assert_eq!(cv.len(), 5 * 2, "every emulator, every mode");
        let c2 = s2.choice.iter().find(|c| c.chosen).unwrap();
        assert_eq!(
            (c2.split.as_str(), c2.chosen_by.as_str(), c2.members),
            ("cv5", "cv5", 40)
        );
        assert!(
            ["ridge", "quadratic_ridge", "gp"].contains(&c2.emulator.as_str()) && c2.r2 > 0.999,
            "{:?}",
            s2.choice
        );
        let nn = s2.choice.iter().find(|c| c.emulator == "nn").unwrap();
        assert!(nn.r2 < c2.r2);
        // ridge's out-of-fold predictions, by hand: each fold's members predicted by a ridge
        // fitted on the training part of the seeded split of the other members
        let folds = choice::kfold(40, 5, fold_seed(0)).unwrap();
        let mut oof = Array2::zeros((40, 2));
        for (i, f) in folds.iter().enumerate() {
            let others = choice::complement(40, f);
            let (sp, _, _) = protocol::retrain(
                x.view(),
                y.view(),
                &others,
                &[3, 3],
                &quick_settings().protocol,
                1,
                i as u64,
                &|| {},
            )
            .unwrap();
            let r = Ridge::fit(
                rows(x.view(), &sp.train).view(),
                rows(y.view(), &sp.train).view(),
                &RidgeSettings {
                    alpha: 1e-10,
                    degree: 1,
                },
            )
            .unwrap();
            let p = r.predict(rows(x.view(), f).view()).unwrap();
            for (j, &m) in f.iter().enumerate() {
                oof.row_mut(m).assign(&p.mean.row(j));
            }
        }
        let want = crate::metrics::r2_score_columns(y.view(), oof.view()).unwrap();
        let got: Vec<f64> = cv
            .iter()
            .filter(|m| m.emulator == "ridge")
            .map(|m| m.r2_score)
            .collect();
        assert!((got[0] - want[0]).abs() < 1e-12 && (got[1] - want[1]).abs() < 1e-12);

        // 3. named: per variable, and an unknown name refused naming the nearest
        let mut named = quick_settings();
        named.choice.emulator = Some(choice::Named::PerVariable(
            [("GPP".to_string(), "nn".to_string())].into(),
        ));
        let s3 = EmulatorStage::run(&inputs, std::slice::from_ref(&target), named, &|| {}).unwrap();
        assert_eq!(s3.choice("GPP").unwrap(), "nn");
        assert!(s3
            .choice
            .iter()
            .all(|c| c.chosen_by == "config" && c.split == "ppe_test"));
        let mut bad = quick_settings();
        bad.choice.emulator = Some(choice::Named::All("quadratic".into()));
        let e = format!(
            "{:#}",
            EmulatorStage::run(&inputs, std::slice::from_ref(&target), bad, &|| {}).unwrap_err()
        );
        assert!(
            e.contains("unknown emulator 'quadratic' (did you mean 'quadratic_ridge'?"),
            "{e}"
        );
    }

    #[test]
    fn every_emulator_is_compared_on_every_split() {
        let x = Array2::from_shape_fn((30, 2), |(i, j)| {
            ((7 * i + 4 * i * j + 5 * j + 1) % 31) as f64 / 30.0
        });
        let y = Array2::from_shape_fn((30, 2), |(i, k)| {
            x[[i, 0]] * (k + 1) as f64 - x[[i, 1]] * x[[i, 1]]
        });
        let tx = x.mapv(|v| 1.0 - v);
        let ty = Array2::from_shape_fn((30, 2), |(i, k)| {
            tx[[i, 0]] * (k + 1) as f64 - tx[[i, 1]] * tx[[i, 1]]
        });
        let inputs = Inputs {
            parameters: vec!["a".into(), "b".into()],
            cases: (1..=30).map(|i| format!("c{i}")).collect(),
            x,
            test_x: Some(tx),
        };
        let targets = [Target {
            variable: "GPP".into(),
            y,
            test_y: Some(ty),
            sigma: Some(ndarray::arr1(&[0.5, 2.0])),
        }];
        let mut settings = StageSettings {
            ridge_alpha: 1e-10,
            ..StageSettings::default()
        };
        settings.protocol.layer1 = vec![4];
        settings.protocol.layer2 = vec![3, 4];
        settings.protocol.top = 1;
        settings.protocol.resamples = 3;
        settings.protocol.network.epochs = 20;
        let s = EmulatorStage::run(&inputs, &targets, settings, &|| {}).unwrap();
        // 5 emulators x 4 splits x 2 modes
        assert_eq!(s.metrics.len(), 40);
        let q = s
            .metrics
            .iter()
            .find(|m| m.emulator == "quadratic_ridge" && m.split == "ppe_test" && m.mode == 2)
            .unwrap();
        assert!(
            q.r2 > 0.999,
            "a quadratic function is fitted exactly by quadratic ridge: {q:?}"
        );
        let f = s.get("nn", "GPP").unwrap();
        assert_eq!(f.training_cases.len(), 18);
        assert!(s
            .get("svm", "GPP")
            .unwrap_err()
            .to_string()
            .contains("there are nn, nn_ensemble, gp, ridge, quadratic_ridge"));
        // nn is one network with a constant variance, nn_ensemble the 3 resampled ones
        let ens = &s.get("nn_ensemble", "GPP").unwrap().model;
        match (
            f.model.downcast_ref::<Network>(),
            ens.downcast_ref::<protocol::NetworkEnsemble>(),
        ) {
            (Some(one), Some(e)) => {
                assert_eq!(e.networks.len(), 3);
                let c = &s.variables[0].configs[s.variables[0].chosen];
                assert_eq!(one.history.best_epoch, c.best_epoch);
                // its validation metric is the grid's validation MSE of that configuration
                for (k, mse) in c.validation.mse.iter().enumerate() {
                    let m = s
                        .metrics
                        .iter()
                        .find(|m| m.emulator == "nn" && m.split == "validation" && m.mode == k + 1)
                        .unwrap();
                    assert!((m.mse - mse).abs() <= 1e-12 * mse, "{m:?} vs {mse}");
                }
            }
            _ => panic!("{:?} {:?}", f.model.kind(), ens.kind()),
        }
        // a smooth function of 2 inputs: the GP is near exact on the second ensemble
        let g = s
            .metrics
            .iter()
            .find(|m| m.emulator == "gp" && m.split == "ppe_test" && m.mode == 1)
            .unwrap();
        assert!(g.r2 > 0.99, "{g:?}");
        let dir = tempfile::tempdir().unwrap();
        s.save(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
        assert_eq!(text.lines().count(), 41);
        assert_eq!(text.matches("\nnn_ensemble,GPP,").count(), 8);
        assert_eq!(text.matches("\nnn,GPP,").count(), 8);
        assert!(
            text.starts_with("emulator,variable,mode,split,mse,r2,coverage,r2_score,rmse_sigma\n")
        );
        let back = Fitted::load(&dir.path().join("quadratic_ridge_GPP.json")).unwrap();
        assert_eq!(&back, s.get("quadratic_ridge", "GPP").unwrap());
        let back = EmulatorStage::load(dir.path()).unwrap();
        for name in ["nn", "nn_ensemble"] {
            assert!(dir.path().join(format!("{name}_GPP.json")).exists());
            assert_eq!(back.get(name, "GPP").unwrap(), s.get(name, "GPP").unwrap());
        }
        let (a, b) = (s.get("gp", "GPP").unwrap(), back.get("gp", "GPP").unwrap());
        assert_eq!(a, b);
        let (pa, pb) = (
            a.model
                .emulator()
                .predict(inputs.test_x.as_ref().unwrap().view())
                .unwrap(),
            b.model
                .emulator()
                .predict(inputs.test_x.as_ref().unwrap().view())
                .unwrap(),
        );
        assert_eq!(pa, pb);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("protocol.csv"))
                .unwrap()
                .lines()
                .count(),
            3
        );
    }
}
