//! The emulator stage as one object: for each calibration variable of an EOF stage, the
//! paper's network protocol (two emulators: `nn`, the chosen configuration's one network on
//! the fixed split, with its validation residual variance as a constant predictive variance,
//! and `nn_ensemble`, its resampled networks, whose spread plus mean residual variance is the
//! predictive variance), a Gaussian process and the ridge baselines fitted on the same
//! split, compared on
//! the training, validation and test members and on the second ensemble (out of sample),
//! with the coverage of their +-2 sigma predictive intervals.
//!
//! [`EmulatorStage::save`] writes `metrics.csv` (emulator, variable, mode, split, mse, r2,
//! coverage), `protocol.csv` (every grid configuration's skill) and one JSON file per
//! emulator and variable (`METHOD_VARIABLE.json`, read back by [`super::Fitted::load`]).

use super::gp::{Gp, GpSettings};
use super::protocol::{self, ProtocolSettings, Split};
use super::ridge::{Ridge, RidgeSettings};
use super::{Fitted, Model};
use crate::array::csv::{fmt_number, write_records};
use anyhow::{bail, Context, Result};
use ndarray::{Array2, ArrayView2, Axis};
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
}

impl Default for StageSettings {
    fn default() -> Self {
        StageSettings {
            protocol: ProtocolSettings::default(),
            ridge_alpha: 1e-3,
            gp: GpSettings::default(),
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
) -> Result<Vec<Metric>> {
    let p = f.model.emulator().predict(x)?;
    let sk = protocol::skill(&p.mean, y)?;
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
            }
        })
        .collect())
}

impl EmulatorStage {
    /// Fits and compares the emulators of every target on the same split. `progress` is
    /// called after each network.
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
        let split = protocol::split(n, ps.train, ps.validation, ps.seed)?;
        let mut variables = Vec::new();
        let mut metrics = Vec::new();
        for v in targets {
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
            add("nn", Model::Nn(Box::new(r.network)))?;
            add("nn_ensemble", Model::NnEnsemble(r.ensemble))?;
            let g = Gp::fit(tx.view(), ty.view(), &settings.gp)
                .with_context(|| format!("variable {}: gp", v.variable))?;
            add("gp", Model::Gp(g))?;
            for (name, degree) in [("ridge", 1), ("quadratic_ridge", 2)] {
                let m = Ridge::fit(
                    tx.view(),
                    ty.view(),
                    RidgeSettings {
                        alpha: settings.ridge_alpha,
                        degree,
                    },
                )
                .with_context(|| format!("variable {}: {name}", v.variable))?;
                add(name, Model::Ridge(m))?;
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
                    )?);
                }
            }
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
        })
    }

    /// The emulator `name` of `variable`.
    pub fn get(&self, name: &str, variable: &str) -> Result<&Fitted> {
        let v = self
            .variables
            .iter()
            .find(|v| v.variable == variable)
            .with_context(|| format!("no emulators of variable '{variable}'"))?;
        v.emulators
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f)
            .with_context(|| {
                let names: Vec<&str> = v.emulators.iter().map(|(n, _)| n.as_str()).collect();
                format!(
                    "no emulator '{name}' of {variable} (there are {})",
                    names.join(", ")
                )
            })
    }

    /// Writes `metrics.csv`, `protocol.csv` and `METHOD_VARIABLE.json` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let n = fmt_number;
        write_records(
            &dir.join("metrics.csv"),
            &[
                "emulator", "variable", "mode", "split", "mse", "r2", "coverage",
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
                ]
            }),
        )?;
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
    }

    /// Reads a folder written by [`EmulatorStage::save`] back.
    pub fn load(dir: &Path) -> Result<EmulatorStage> {
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
        let metrics = (0..t.len())
            .map(|i| Metric {
                emulator: em[i].clone(),
                variable: var[i].clone(),
                mode: mode[i] as usize,
                split: split[i].clone(),
                mse: mse[i],
                r2: r2[i],
                coverage: cov[i],
            })
            .collect();
        Ok(EmulatorStage {
            settings: meta.settings,
            split: meta.split,
            variables,
            metrics,
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
            RidgeSettings {
                alpha: 0.0,
                degree: 1,
            },
        )
        .unwrap();
        let f = Fitted::new(
            Model::Ridge(r),
            x.view(),
            y.view(),
            vec!["a".into()],
            vec!["PC1".into()],
        )
        .unwrap();
        let m = metrics_of(&f, "ridge", "GPP", "train", x.view(), y.view()).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].mode, m[0].split.as_str()), (1, "train"));
        assert!(m[0].r2 > 0.999 && m[0].mse < 1.1e-4, "{m:?}");
        // residuals +-0.01 (slightly less after the fit) and sd >= 0.01: every point inside
        assert_eq!(m[0].coverage, 1.0);
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
        match (&f.model, &s.get("nn_ensemble", "GPP").unwrap().model) {
            (Model::Nn(one), Model::NnEnsemble(e)) => {
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
            other => panic!("{other:?}"),
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
        assert!(text.starts_with("emulator,variable,mode,split,mse,r2,coverage\n"));
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
