//! Emulators of the EOF stage's PCs (Dagon et al. 2020, section 3): maps from the parameter
//! scalings X (members x parameters, in [0, 1]) to the PCs Y (members x modes), each giving a
//! predictive mean and variance per output.
//!
//! Every emulator implements [`Emulator`]; fitting follows linfa's habit: settings are
//! checked once, then `fit(x, y, settings)` returns a fitted model whose `predict` is cheap.

pub mod choice;
pub mod gp;
pub mod interpret;
pub mod kind;
mod kriging;
pub mod nn;
pub mod protocol;
pub mod ridge;
pub mod sparse_gp;
pub mod stage;

use anyhow::{bail, Result};
use ndarray::{Array2, ArrayView2};

/// Predictions of an emulator: mean and variance, both (inputs x outputs).
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Predictive mean.
    pub mean: Array2<f64>,
    /// Predictive variance (of a new observation: estimator uncertainty plus noise).
    pub variance: Array2<f64>,
}

/// A fitted emulator.
pub trait Emulator: Send + Sync {
    /// The method's name (`ridge`, `quadratic_ridge`, `nn`, `gp`).
    fn method(&self) -> String;
    /// Number of inputs (parameters).
    fn inputs(&self) -> usize;
    /// Number of outputs (modes).
    fn outputs(&self) -> usize;
    /// Mean and variance for each row of `x` (inputs x parameters).
    fn predict(&self, x: ArrayView2<f64>) -> Result<Prediction>;
    /// The mean alone (what a cost needs); emulators whose variance costs extra skip it.
    fn predict_mean(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        Ok(self.predict(x)?.mean)
    }
}

/// Checks training data: the same number of rows, at least `min_rows`, every value finite.
pub fn check_training(x: ArrayView2<f64>, y: ArrayView2<f64>, min_rows: usize) -> Result<()> {
    if x.nrows() != y.nrows() {
        bail!(
            "the inputs have {} rows (members) but the outputs {}",
            x.nrows(),
            y.nrows()
        );
    }
    if x.nrows() < min_rows {
        bail!(
            "{} members are too few to fit this emulator (at least {min_rows})",
            x.nrows()
        );
    }
    if x.ncols() == 0 || y.ncols() == 0 {
        bail!(
            "no inputs or no outputs to fit ({} x {})",
            x.ncols(),
            y.ncols()
        );
    }
    finite(x, "input")?;
    finite(y, "output")?;
    within_scale(x, "input")?;
    within_scale(y, "output")?;
    Ok(())
}

/// Largest magnitude of training data: standardising squares the values, and beyond this
/// their sums overflow (values near 1e308 made egobox panic).
pub const MAX_MAGNITUDE: f64 = 1e100;

fn within_scale(a: ArrayView2<f64>, what: &str) -> Result<()> {
    if let Some(((i, j), v)) = a.indexed_iter().find(|(_, v)| v.abs() > MAX_MAGNITUDE) {
        bail!(
            "{what} of member {} column {} is {v:e}: emulators take values within \
             +-{MAX_MAGNITUDE:e} (rescale the data)",
            i + 1,
            j + 1
        );
    }
    Ok(())
}

fn finite(a: ArrayView2<f64>, what: &str) -> Result<()> {
    if let Some(((i, j), v)) = a.indexed_iter().find(|(_, v)| !v.is_finite()) {
        bail!(
            "{what} of member {} column {} is {v}: emulators need finite training data",
            i + 1,
            j + 1
        );
    }
    Ok(())
}

/// Checks inputs for prediction: `n` columns.
pub fn check_inputs(x: ArrayView2<f64>, n: usize) -> Result<()> {
    if x.ncols() != n {
        bail!(
            "the emulator takes {n} parameters per row, got {}",
            x.ncols()
        );
    }
    Ok(())
}

pub use kind::Model;

/// A fitted emulator with what it was trained on: the names of its inputs and outputs, the
/// training cases and a fingerprint of the training data. Saved as one JSON file; a loaded
/// emulator predicts bit for bit as the saved one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fitted {
    /// clmtune version that fitted it.
    pub clmtune: String,
    /// The calibration variable it emulates (e.g. `GPP`), if known.
    pub variable: Option<String>,
    /// Input names (parameters), one per column of X.
    pub parameters: Vec<String>,
    /// Output names (e.g. `PC1`), one per column of Y.
    pub outputs: Vec<String>,
    /// The training members' cases (empty if not known).
    pub training_cases: Vec<String>,
    /// FNV-1a 64 of the shapes and bits of the training X and Y, in hex.
    pub fingerprint: String,
    /// The model.
    pub model: Model,
}

/// A saved emulator predicts as its model: the one adapter that lets a loaded emulator
/// serve a cost, history matching or a rebuilt refocusing wave.
impl Emulator for Fitted {
    fn method(&self) -> String {
        self.model.emulator().method()
    }
    fn inputs(&self) -> usize {
        self.model.emulator().inputs()
    }
    fn outputs(&self) -> usize {
        self.model.emulator().outputs()
    }
    fn predict(&self, x: ArrayView2<f64>) -> Result<Prediction> {
        self.model.emulator().predict(x)
    }
    fn predict_mean(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.model.emulator().predict_mean(x)
    }
}

/// FNV-1a 64 of the shapes and the bits of `x` and `y` (row-major), as 16 hex digits.
pub fn fingerprint(x: ArrayView2<f64>, y: ArrayView2<f64>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |v: u64| {
        for b in v.to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(x.nrows() as u64);
    eat(x.ncols() as u64);
    x.iter().for_each(|v| eat(v.to_bits()));
    eat(y.nrows() as u64);
    eat(y.ncols() as u64);
    y.iter().for_each(|v| eat(v.to_bits()));
    format!("{h:016x}")
}

impl Fitted {
    /// Wraps a model fitted on `x` and `y`.
    pub fn new(
        model: Model,
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        parameters: Vec<String>,
        outputs: Vec<String>,
    ) -> Result<Fitted> {
        let e = model.emulator();
        if parameters.len() != e.inputs() || outputs.len() != e.outputs() {
            bail!(
                "{} parameter and {} output names for an emulator of {} inputs and {} outputs",
                parameters.len(),
                outputs.len(),
                e.inputs(),
                e.outputs()
            );
        }
        Ok(Fitted {
            clmtune: env!("CARGO_PKG_VERSION").into(),
            variable: None,
            parameters,
            outputs,
            training_cases: Vec::new(),
            fingerprint: fingerprint(x, y),
            model,
        })
    }

    /// Writes the emulator as JSON, atomically.
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        crate::files::write_json(path, self)
    }

    /// Reads an emulator written by [`Fitted::save`].
    pub fn load(path: &std::path::Path) -> Result<Fitted> {
        crate::files::read_json(path, "saved emulator")
    }
}

#[cfg(test)]
mod tests {
    use super::kind::Method;
    use super::*;

    #[test]
    fn saved_emulators_predict_bit_for_bit_and_fingerprints_see_one_bit() {
        let x = Array2::from_shape_fn((20, 2), |(i, j)| ((3 * i + 7 * j) % 11) as f64 / 10.0);
        let y = Array2::from_shape_fn((20, 1), |(i, _)| x[[i, 0]] - 0.3 * x[[i, 1]] * x[[i, 1]]);
        let dir = tempfile::tempdir().unwrap();
        let xt = Array2::from_shape_fn((7, 2), |(i, j)| 0.13 * i as f64 + 0.05 * j as f64);
        let nn = nn::Network::train(
            x.view(),
            y.view(),
            None,
            &nn::NnSettings {
                epochs: 30,
                patience: None,
                ..nn::NnSettings::default()
            },
        )
        .unwrap();
        let rd = ridge::Ridge::fit(x.view(), y.view(), &ridge::RidgeSettings::default()).unwrap();
        for (k, model) in [Model::new(nn), Model::new(rd)].into_iter().enumerate() {
            let f = Fitted::new(
                model,
                x.view(),
                y.view(),
                vec!["a".into(), "b".into()],
                vec!["PC1".into()],
            )
            .unwrap();
            let p = dir.path().join(format!("e{k}.json"));
            f.save(&p).unwrap();
            let g = Fitted::load(&p).unwrap();
            assert_eq!(f, g);
            let (a, b) = (
                f.model.emulator().predict(xt.view()).unwrap(),
                g.model.emulator().predict(xt.view()).unwrap(),
            );
            assert!(a
                .mean
                .iter()
                .zip(b.mean.iter())
                .all(|(u, v)| u.to_bits() == v.to_bits()));
            assert!(a
                .variance
                .iter()
                .zip(b.variance.iter())
                .all(|(u, v)| u.to_bits() == v.to_bits()));
        }
        let mut y2 = y.clone();
        y2[[3, 0]] = f64::from_bits(y2[[3, 0]].to_bits() ^ 1);
        assert_ne!(
            fingerprint(x.view(), y.view()),
            fingerprint(x.view(), y2.view())
        );
        assert_eq!(fingerprint(x.view(), y.view()).len(), 16);
        std::fs::write(dir.path().join("bad.json"), "{").unwrap();
        let e = format!(
            "{:#}",
            Fitted::load(&dir.path().join("bad.json")).unwrap_err()
        );
        assert!(e.contains("bad.json: not a valid saved emulator"), "{e}");
    }
}
