//! The kriging predictor of one fitted GP output, precomputed once from its training data,
//! kernel, thetas and nugget, then applied to many rows with matrix products.
//!
//! Why not egobox's `predict_valvar`: it forms the (rows x members x inputs) differences and
//! solves the triangular systems one right-hand side at a time through small-array slicing;
//! on the MCMC's calls (32 rows, 100 members, 6 inputs) that overhead was 70 % of the run
//! (perf, session 10). Here the same formulas (egobox's, written out below) are evaluated
//! with the inverse Cholesky factor precomputed, so a call is one kernel pass and two
//! matrix products. Tested against egobox's own prediction for every kernel and trend.
//!
//! With inputs and outputs standardised by their training mean and standard deviation
//! (ddof 1, 1 where it is 0), `R = K + (1 + g) I` off its diagonal `K`, `L L' = R`,
//! `F` the trend's regressors (1, or 1 and the inputs), GLS on `Ft = L^-1 F = Q Rq`:
//! `beta = Rq^-1 Q' L^-1 y`, `rho = L^-1 y - Ft beta`, `gamma = L^-T rho`,
//! `sigma2 = |rho|^2 / n` (times the output's variance). At new rows with correlations `r`
//! and regressors `f`: mean `f beta + r gamma`; kriging variance
//! `sigma2 (1 - |L^-1 r|^2 + |Rq^-T (Ft' L^-1 r - f)|^2)`, at least 0.

use super::gp::{Kernel, Trend};
use anyhow::{bail, Result};
use nalgebra::DMatrix;
use ndarray::{Array1, Array2, ArrayView2, Axis};

/// One output's precomputed kriging predictor.
#[derive(Debug, Clone)]
pub(crate) struct Kriging {
    kernel: Kernel,
    theta: Array1<f64>,
    x_mean: Array1<f64>,
    x_std: Array1<f64>,
    /// Standardised training inputs (members x inputs).
    xt: Array2<f64>,
    y_mean: f64,
    y_std: f64,
    beta: Array1<f64>,
    gamma: Array1<f64>,
    /// Transposed inverse Cholesky factor `L^-T` (members x members): `r L^-T = (L^-1 r')'`.
    linv_t: Array2<f64>,
    /// `L^-T Ft = R^-1 F` (members x regressors).
    w: Array2<f64>,
    /// The upper triangle `Rq` of the QR factorisation of `Ft` (regressors x regressors).
    rq: Array2<f64>,
    /// The process variance in the output's units.
    sigma2: f64,
}

/// Column means and standard deviations (ddof 1; 1 where the deviation is 0), as egobox.
pub(crate) fn standardise(x: ArrayView2<f64>) -> (Array1<f64>, Array1<f64>) {
    let mean = x.mean_axis(Axis(0)).expect("at least one row");
    let std = x
        .std_axis(Axis(0), 1.0)
        .mapv(|v| if v == 0.0 { 1.0 } else { v });
    (mean, std)
}

impl Kriging {
    /// Precomputes the predictor of output `y` on inputs `x` (members x inputs).
    pub(crate) fn new(
        x: ArrayView2<f64>,
        y: &[f64],
        kernel: Kernel,
        trend: Trend,
        theta: &[f64],
        nugget: f64,
    ) -> Result<Kriging> {
        let (n, d) = x.dim();
        let (x_mean, x_std) = standardise(x);
        let xt = (&x - &x_mean) / &x_std;
        let ya = Array2::from_shape_vec((n, 1), y.to_vec())?;
        let (ym, ys) = standardise(ya.view());
        let (y_mean, y_std) = (ym[0], ys[0]);
        let theta = Array1::from(theta.to_vec());
        let mut r = DMatrix::from_element(n, n, 0.0);
        for i in 0..n {
            r[(i, i)] = 1.0 + nugget;
            for j in 0..i {
                let v = correlation(kernel, &theta, xt.row(i), xt.row(j));
                r[(i, j)] = v;
                r[(j, i)] = v;
            }
        }
        let Some(chol) = r.cholesky() else {
            bail!("the correlation matrix is not positive definite (duplicate members with no nugget?)");
        };
        let l = chol.l();
        let Some(linv) = l.clone().try_inverse() else {
            bail!("the Cholesky factor is singular");
        };
        let p = match trend {
            Trend::Constant => 1,
            Trend::Linear => 1 + d,
        };
        let f = DMatrix::from_fn(n, p, |i, j| if j == 0 { 1.0 } else { xt[[i, j - 1]] });
        let ft = &linv * &f;
        let yn = DMatrix::from_fn(n, 1, |i, _| (y[i] - y_mean) / y_std);
        let yt = &linv * yn;
        let qr = ft.clone().qr();
        let (q, rq) = (qr.q(), qr.r());
        let Some(beta) = rq.solve_upper_triangular(&(q.transpose() * &yt)) else {
            bail!("the trend's regressors are collinear");
        };
        let rho = &yt - &ft * &beta;
        let gamma = linv.transpose() * &rho;
        let sigma2 = rho.norm_squared() / n as f64 * y_std * y_std;
        let w = linv.transpose() * &ft;
        let to_nd = |m: &DMatrix<f64>| Array2::from_shape_fn(m.shape(), |(i, j)| m[(i, j)]);
        Ok(Kriging {
            kernel,
            theta,
            x_mean,
            x_std,
            xt,
            y_mean,
            y_std,
            beta: Array1::from_iter(beta.iter().copied()),
            gamma: Array1::from_iter(gamma.iter().copied()),
            linv_t: to_nd(&linv.transpose()),
            w: to_nd(&w),
            rq: to_nd(&rq),
            sigma2,
        })
    }

    /// The process variance `sigma2` in the output's units.
    pub(crate) fn process_variance(&self) -> f64 {
        self.sigma2
    }

    /// Mean and kriging variance (without the noise) at the rows of `x`.
    pub(crate) fn predict(&self, x: ArrayView2<f64>) -> (Array1<f64>, Array1<f64>) {
        let xn = (&x - &self.x_mean) / &self.x_std;
        let m = xn.nrows();
        let nt = self.xt.nrows();
        let mut r = Array2::zeros((m, nt));
        for (xi, mut ri) in xn.outer_iter().zip(r.outer_iter_mut()) {
            for (xj, v) in self.xt.outer_iter().zip(ri.iter_mut()) {
                *v = correlation(self.kernel, &self.theta, xi, xj);
            }
        }
        let p = self.beta.len();
        let f = Array2::from_shape_fn((m, p), |(i, j)| if j == 0 { 1.0 } else { xn[[i, j - 1]] });
        let mean = (f.dot(&self.beta) + r.dot(&self.gamma)).mapv(|v| v * self.y_std + self.y_mean);
        let rt = r.dot(&self.linv_t);
        let mut v = r.dot(&self.w) - &f;
        let mut var = Array1::zeros(m);
        for (i, mut vi) in v.outer_iter_mut().enumerate() {
            // u = Rq^-T v: forward substitution on the lower triangle Rq'
            for a in 0..p {
                let mut s = vi[a];
                for b in 0..a {
                    s -= self.rq[[b, a]] * vi[b];
                }
                vi[a] = s / self.rq[[a, a]];
            }
            let r2: f64 = rt.row(i).iter().map(|t| t * t).sum();
            let u2: f64 = vi.iter().map(|t| t * t).sum();
            var[i] = (self.sigma2 * (1.0 - r2 + u2)).max(0.0);
        }
        (mean, var)
    }
}

/// The kernel's correlation between two standardised input rows (egobox's product forms).
pub(crate) fn correlation(
    kernel: Kernel,
    theta: &Array1<f64>,
    a: ndarray::ArrayView1<f64>,
    b: ndarray::ArrayView1<f64>,
) -> f64 {
    match kernel {
        Kernel::SquaredExponential => {
            let mut s = 0.0;
            for ((x, y), t) in a.iter().zip(b).zip(theta) {
                let u = t * (x - y);
                s += u * u;
            }
            (-0.5 * s).exp()
        }
        Kernel::Matern32 => {
            let s3 = 3f64.sqrt();
            let (mut prod, mut sum) = (1.0, 0.0);
            for ((x, y), t) in a.iter().zip(b).zip(theta) {
                let u = t * (x - y).abs();
                prod *= 1.0 + s3 * u;
                sum += u;
            }
            prod * (-s3 * sum).exp()
        }
        Kernel::Matern52 => {
            let s5 = 5f64.sqrt();
            let (mut prod, mut sum) = (1.0, 0.0);
            for ((x, y), t) in a.iter().zip(b).zip(theta) {
                let u = t * (x - y).abs();
                prod *= 1.0 + s5 * u + 5.0 / 3.0 * u * u;
                sum += u;
            }
            prod * (-s5 * sum).exp()
        }
    }
}
