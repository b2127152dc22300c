//! Ridge regression, linear or quadratic in the scalings, in closed form: the emulators'
//! baseline. Penalty `alpha` as scikit-learn's `Ridge(alpha)` with an unpenalised
//! intercept: minimise `|y - b - Z w|^2 + alpha |w|^2` with Z the features (the scalings, and
//! for degree 2 also every product `x_i x_j`, i <= j, in scikit-learn's
//! `PolynomialFeatures(2, include_bias=False)` order).
//!
//! Predictive variance of a new observation at z (features centred on the training mean):
//! `s2 (1 + 1/n + z' A^-1 Z'Z A^-1 z)`, `A = Z'Z + alpha I`, with the residual variance
//! `s2 = RSS / (n - df)` and `df = 1 + trace(Z A^-1 Z')` (the effective degrees of freedom).

use super::kind::{Method, Saved};
use super::{check_inputs, check_training, Emulator, Prediction};
use anyhow::{bail, Result};
use nalgebra::DMatrix;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// Settings of a ridge fit (the options of `fit("ridge", x, y, #{alpha, degree})`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RidgeSettings {
    /// The penalty (scikit-learn's alpha); >= 0.
    pub alpha: f64,
    /// 1: linear in the scalings; 2: quadratic (products of pairs and squares too).
    pub degree: usize,
}

impl Default for RidgeSettings {
    fn default() -> Self {
        RidgeSettings {
            alpha: 1e-3,
            degree: 1,
        }
    }
}

impl RidgeSettings {
    /// Checks the settings once, before fitting.
    pub fn check(&self) -> Result<()> {
        if !(self.alpha >= 0.0 && self.alpha.is_finite()) {
            bail!("ridge alpha = {} must be a finite number >= 0", self.alpha);
        }
        if !(1..=2).contains(&self.degree) {
            bail!("ridge degree = {} must be 1 or 2", self.degree);
        }
        Ok(())
    }
}

/// A fitted ridge regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ridge {
    /// The settings it was fitted with.
    pub settings: RidgeSettings,
    /// Number of inputs.
    pub n_inputs: usize,
    /// Number of training rows.
    pub n_train: usize,
    /// Mean of each feature over the training rows.
    pub feature_mean: Vec<f64>,
    /// Coefficients, features x outputs.
    pub coef: Vec<Vec<f64>>,
    /// Intercept per output.
    pub intercept: Vec<f64>,
    /// Residual variance per output.
    pub residual_variance: Vec<f64>,
    /// Effective degrees of freedom of the fit (intercept included).
    pub dof: f64,
    /// `A^-1 Z'Z A^-1`, features x features, for the estimator's variance.
    pub cov: Vec<Vec<f64>>,
}

/// The features of scalings: the columns of `x`, then for degree 2 every `x_i x_j` with
/// `i <= j` in row-major order (scikit-learn's `PolynomialFeatures(2, include_bias=False)`).
pub fn features(x: ArrayView2<f64>, degree: usize) -> Array2<f64> {
    let (n, d) = x.dim();
    if degree < 2 {
        return x.to_owned();
    }
    let p = d + d * (d + 1) / 2;
    let mut z = Array2::zeros((n, p));
    for (r, row) in x.outer_iter().enumerate() {
        let mut c = 0;
        for &v in row.iter() {
            z[[r, c]] = v;
            c += 1;
        }
        for i in 0..d {
            for j in i..d {
                z[[r, c]] = row[i] * row[j];
                c += 1;
            }
        }
    }
    z
}

fn to_na(a: &Array2<f64>) -> DMatrix<f64> {
    DMatrix::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]])
}

fn rows_of(m: &DMatrix<f64>) -> Vec<Vec<f64>> {
    (0..m.nrows())
        .map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect())
        .collect()
}

impl Saved for Ridge {
    const KIND: &'static str = "ridge";
    const ABOUT: &'static str = "ridge regression, linear (degree 1) or quadratic (degree 2) in \
                                 the scalings, in closed form (scikit-learn's Ridge)";
}

impl Method for Ridge {
    type Settings = RidgeSettings;

    fn check(settings: &RidgeSettings) -> Result<()> {
        settings.check()
    }

    /// Fits `y` (members x outputs) on the scalings `x` (members x parameters).
    fn fit_checked(x: ArrayView2<f64>, y: ArrayView2<f64>, s: &RidgeSettings) -> Result<Ridge> {
        let settings = *s;
        check_training(x, y, 3)?;
        let z = features(x, settings.degree);
        let (n, p) = z.dim();
        let zm = z.mean_axis(Axis(0)).expect("rows");
        let ym = y.mean_axis(Axis(0)).expect("rows");
        let zc = &z - &zm;
        let yc = &y - &ym;
        let zc_na = to_na(&zc);
        let gram = zc_na.transpose() * &zc_na;
        let a = &gram + DMatrix::identity(p, p) * settings.alpha;
        let Some(chol) = a.clone().cholesky() else {
            bail!(
                "ridge: the {p} features are collinear over {n} members; use alpha > 0 (now {})",
                settings.alpha
            );
        };
        let a_inv = chol.inverse();
        let w = &a_inv * zc_na.transpose() * to_na(&yc.to_owned());
        // residuals and effective degrees of freedom
        let fitted = &zc_na * &w;
        let hat_trace = (&zc_na * &a_inv * zc_na.transpose()).trace();
        let dof = 1.0 + hat_trace;
        let resid_dof = (n as f64 - dof).max(1.0);
        let k = y.ncols();
        let residual_variance: Vec<f64> = (0..k)
            .map(|j| {
                (0..n)
                    .map(|i| (yc[[i, j]] - fitted[(i, j)]).powi(2))
                    .sum::<f64>()
                    / resid_dof
            })
            .collect();
        let intercept: Vec<f64> = (0..k)
            .map(|j| ym[j] - (0..p).map(|i| zm[i] * w[(i, j)]).sum::<f64>())
            .collect();
        let cov = &a_inv * gram * &a_inv;
        Ok(Ridge {
            settings,
            n_inputs: x.ncols(),
            n_train: n,
            feature_mean: zm.to_vec(),
            coef: rows_of(&w),
            intercept,
            residual_variance,
            dof,
            cov: rows_of(&cov),
        })
    }
}

impl Ridge {
    /// Coefficients as an array (features x outputs).
    pub fn coefficients(&self) -> Array2<f64> {
        let p = self.coef.len();
        let k = self.intercept.len();
        Array2::from_shape_fn((p, k), |(i, j)| self.coef[i][j])
    }
}

impl Emulator for Ridge {
    fn method(&self) -> String {
        if self.settings.degree == 2 {
            "quadratic_ridge".into()
        } else {
            "ridge".into()
        }
    }
    fn inputs(&self) -> usize {
        self.n_inputs
    }
    fn outputs(&self) -> usize {
        self.intercept.len()
    }
    fn predict(&self, x: ArrayView2<f64>) -> Result<Prediction> {
        check_inputs(x, self.n_inputs)?;
        let z = features(x, self.settings.degree);
        let w = self.coefficients();
        let b = Array1::from(self.intercept.clone());
        let mean = z.dot(&w) + &b;
        let zm = Array1::from(self.feature_mean.clone());
        let zc = &z - &zm;
        let p = zm.len();
        let cov = Array2::from_shape_fn((p, p), |(i, j)| self.cov[i][j]);
        let q = (&zc.dot(&cov) * &zc).sum_axis(Axis(1));
        let base = 1.0 + 1.0 / self.n_train as f64;
        let variance = Array2::from_shape_fn(mean.dim(), |(i, j)| {
            self.residual_variance[j] * (base + q[i])
        });
        Ok(Prediction { mean, variance })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// 12 members x 3 scalings and 2 outputs, made by integer arithmetic so that numpy and
    /// scikit-learn see the same numbers:
    /// x[i, j] = ((7 i + 3 j^2 + 5 j + 1) mod 13) / 12
    /// y0 = 1 + 2 x0 - x1 + 0.5 x2^2 + ((5 i) mod 7 - 3) / 40
    /// y1 = x0 x1 - 0.3 x2 + ((3 i) mod 5 - 2) / 25
    fn data() -> (Array2<f64>, Array2<f64>) {
        let x = Array2::from_shape_fn((12, 3), |(i, j)| {
            ((7 * i + 3 * j * j + 5 * j + 1) % 13) as f64 / 12.0
        });
        let y = Array2::from_shape_fn((12, 2), |(i, k)| {
            let r = x.row(i);
            if k == 0 {
                1.0 + 2.0 * r[0] - r[1] + 0.5 * r[2] * r[2] + ((5 * i) % 7) as f64 / 40.0
                    - 3.0 / 40.0
            } else {
                r[0] * r[1] - 0.3 * r[2] + ((3 * i) % 5) as f64 / 25.0 - 2.0 / 25.0
            }
        });
        (x, y)
    }

    #[test]
    fn quadratic_features_in_scikit_learn_order() {
        let z = features(array![[2.0, 3.0]].view(), 2);
        assert_eq!(z, array![[2.0, 3.0, 4.0, 6.0, 9.0]]);
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-3)
    }

    /// Reference values: /tmp/ridge_ref.py of the session that wrote this test builds data()
    /// in numpy, fits scikit-learn 1.9.1 `Ridge(alpha)` on
    /// `PolynomialFeatures(degree, include_bias=False)`, predicts at xt, and computes the
    /// variance formula of the module doc with numpy (dof = 1 + trace(hat matrix)).
    fn check(
        degree: usize,
        alpha: f64,
        coef: &[[f64; 2]],
        intercept: [f64; 2],
        pred: [[f64; 2]; 2],
        dof: f64,
        var: [[f64; 2]; 2],
    ) {
        let (x, y) = data();
        let r = Ridge::fit(x.view(), y.view(), &RidgeSettings { alpha, degree }).unwrap();
        let c = r.coefficients();
        assert_eq!(c.nrows(), coef.len());
        for (i, row) in coef.iter().enumerate() {
            for j in 0..2 {
                assert!(
                    close(c[[i, j]], row[j], 1e-9),
                    "coef {i} {j}: {} vs {}",
                    c[[i, j]],
                    row[j]
                );
            }
        }
        for (j, (a, b)) in r.intercept.iter().zip(intercept).enumerate() {
            assert!(close(*a, b, 1e-9), "intercept {j}");
        }
        assert!(close(r.dof, dof, 1e-9), "dof {}", r.dof);
        let xt = array![[0.2, 0.7, 0.4], [0.9, 0.1, 0.5]];
        let p = r.predict(xt.view()).unwrap();
        for i in 0..2 {
            for j in 0..2 {
                assert!(close(p.mean[[i, j]], pred[i][j], 1e-9), "pred {i} {j}");
                assert!(
                    close(p.variance[[i, j]], var[i][j], 1e-8),
                    "var {i} {j}: {} vs {}",
                    p.variance[[i, j]],
                    var[i][j]
                );
            }
        }
    }

    #[test]
    fn linear_ridge_equals_scikit_learn() {
        check(
            1,
            0.1,
            &[
                [1.737384247744024, 0.5005416369829688],
                [-0.8930782269691667, 0.33719916503053443],
                [0.3595795199484705, -0.334201549503664],
            ],
            [1.0712467569238127, -0.1926884945972449],
            [
                [0.937400655573589, 0.009778628519257343],
                [2.725374517170753, 0.12441812043864853],
            ],
            3.6901715943340063,
            [
                [0.01179506377885327, 0.007615132251790439],
                [0.012900131888093821, 0.008328586621930431],
            ],
        );
    }

    #[test]
    fn quadratic_ridge_equals_scikit_learn() {
        check(
            2,
            0.01,
            &[
                [1.4575100273027166, 0.07323554982807715],
                [-0.9128757062825653, -0.01420400176288094],
                [-0.26826687328989773, -0.33861548191482976],
                [0.014955843465483402, 0.2305525873296001],
                [0.18149034628521005, 0.27389928342649256],
                [0.5178191262246234, 0.17186508586151508],
                [-0.2445715842913775, 0.29538609162563884],
                [0.3239642731777062, -0.03020905533989042],
                [0.30160870040356397, -0.058427012166122255],
            ],
            [1.2570689743743841, -0.05217188927110945],
            [
                [0.8888109606892444, 0.005335764191185706],
                [2.6940286357642775, 0.11858643943123053],
            ],
            5.409471612093918,
            [
                [0.00665921888347272, 0.006977467800568927],
                [0.006637410585465323, 0.00695461726812743],
            ],
        );
    }

    #[test]
    fn zero_alpha_is_least_squares_and_collinear_is_an_error() {
        // y exactly linear: least squares recovers it, residual variance 0
        let (x, _) = data();
        let y = x
            .map_axis(Axis(1), |r| 0.5 + 2.0 * r[0] - 3.0 * r[2])
            .insert_axis(Axis(1));
        let r = Ridge::fit(
            x.view(),
            y.view(),
            &RidgeSettings {
                alpha: 0.0,
                degree: 1,
            },
        )
        .unwrap();
        let c = r.coefficients();
        assert!(
            (c[[0, 0]] - 2.0).abs() < 1e-12
                && c[[1, 0]].abs() < 1e-12
                && (c[[2, 0]] + 3.0).abs() < 1e-12
        );
        assert!((r.intercept[0] - 0.5).abs() < 1e-12);
        assert!(r.residual_variance[0] < 1e-20);
        let mut xc = x.clone();
        let col0 = xc.column(0).to_owned();
        xc.column_mut(1).assign(&col0);
        let e = Ridge::fit(
            xc.view(),
            y.view(),
            &RidgeSettings {
                alpha: 0.0,
                degree: 1,
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("collinear"), "{e}");
        let e = Ridge::fit(
            x.view(),
            y.view(),
            &RidgeSettings {
                alpha: f64::NAN,
                degree: 1,
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("alpha"), "{e}");
    }
}
