//! Emulators of the EOF stage's PCs (Dagon et al. 2020, section 3): maps from the parameter
//! scalings X (members x parameters, in [0, 1]) to the PCs Y (members x modes), each giving a
//! predictive mean and variance per output.
//!
//! Every emulator implements [`Emulator`]; fitting follows linfa's habit: settings are
//! checked once, then `fit(x, y, settings)` returns a fitted model whose `predict` is cheap.

pub mod nn;
pub mod protocol;
pub mod ridge;

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
