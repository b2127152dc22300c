//! Skill metrics in one place: mean-square and root-mean-square error, Pearson correlation,
//! the two r^2 that go by the same name, and the area-weighted pattern correlation of maps.
//! Plots, the EOF stage, the sensitivity stage, the emulators and script functions use these.
//!
//! Missing values: every metric uses the pairs where both values are finite (and, for the
//! pattern correlation, the weight is positive); with too few pairs, or no variance where
//! one is needed, the result is NaN (or `None`), never a panic.
//!
//! The two r^2:
//! - [`r2_score`], the **coefficient of determination** `1 - SS_res / SS_tot` of predictions
//!   against the truth (scikit-learn's `r2_score`): 1 is perfect, 0 is no better than the
//!   truth's mean, and it is negative for worse. Use it to judge an emulator.
//! - [`r2_linear`], the **r^2 of a least-squares line** through (x, y) = the squared Pearson
//!   correlation: symmetric in x and y and blind to bias and scale (a prediction of `2 x + 5`
//!   gets 1). The scatter plot shows this one.

use anyhow::{bail, Result};
use ndarray::{Array1, ArrayView2};

/// The finite pairs of `a` and `b`.
fn pairs<'a>(a: &'a [f64], b: &'a [f64]) -> impl Iterator<Item = (f64, f64)> + 'a {
    a.iter()
        .zip(b)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| (*x, *y))
}

/// Mean of `(a - b)^2` over the finite pairs (NaN if there are none).
pub fn mse(a: &[f64], b: &[f64]) -> f64 {
    let (n, s) = pairs(a, b).fold((0usize, 0.0), |(n, s), (x, y)| (n + 1, s + (x - y).powi(2)));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// Square root of [`mse`].
pub fn rmse(a: &[f64], b: &[f64]) -> f64 {
    mse(a, b).sqrt()
}

/// Pearson's correlation of the finite pairs (NaN with fewer than 2 pairs or if either has
/// no variance).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let p: Vec<(f64, f64)> = pairs(x, y).collect();
    let n = p.len() as f64;
    if p.len() < 2 {
        return f64::NAN;
    }
    let mx = p.iter().map(|q| q.0).sum::<f64>() / n;
    let my = p.iter().map(|q| q.1).sum::<f64>() / n;
    let (sxy, sxx, syy) = p.iter().fold((0.0, 0.0, 0.0), |(a, b, c), &(x, y)| {
        (
            a + (x - mx) * (y - my),
            b + (x - mx).powi(2),
            c + (y - my).powi(2),
        )
    });
    if sxx == 0.0 || syy == 0.0 {
        f64::NAN
    } else {
        (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0)
    }
}

/// The r^2 of a least-squares line through (x, y): the squared Pearson correlation (see the
/// module documentation for how it differs from [`r2_score`]).
pub fn r2_linear(x: &[f64], y: &[f64]) -> f64 {
    pearson(x, y).powi(2)
}

/// The coefficient of determination of `predicted` against `truth`:
/// `1 - sum (truth - predicted)^2 / sum (truth - mean(truth))^2` over the finite pairs; NaN
/// with fewer than 2 pairs or a constant truth.
pub fn r2_score(truth: &[f64], predicted: &[f64]) -> f64 {
    let p: Vec<(f64, f64)> = pairs(truth, predicted).collect();
    if p.len() < 2 {
        return f64::NAN;
    }
    let mean = p.iter().map(|q| q.0).sum::<f64>() / p.len() as f64;
    let ss_tot: f64 = p.iter().map(|q| (q.0 - mean).powi(2)).sum();
    let ss_res: f64 = p.iter().map(|q| (q.0 - q.1).powi(2)).sum();
    if ss_tot == 0.0 {
        f64::NAN
    } else {
        1.0 - ss_res / ss_tot
    }
}

/// A metric of each column of two (n x k) arrays of the same shape, e.g. true and emulated
/// PCs (members x modes).
pub fn per_column(
    truth: ArrayView2<f64>,
    predicted: ArrayView2<f64>,
    metric: fn(&[f64], &[f64]) -> f64,
) -> Result<Array1<f64>> {
    if truth.dim() != predicted.dim() {
        bail!(
            "the arrays compared are {:?} and {:?}: they must have the same shape",
            truth.dim(),
            predicted.dim()
        );
    }
    Ok(truth
        .columns()
        .into_iter()
        .zip(predicted.columns())
        .map(|(t, p)| metric(&t.to_vec(), &p.to_vec()))
        .collect())
}

/// [`mse`] of each column.
pub fn mse_columns(truth: ArrayView2<f64>, predicted: ArrayView2<f64>) -> Result<Array1<f64>> {
    per_column(truth, predicted, mse)
}

/// [`rmse`] of each column.
pub fn rmse_columns(truth: ArrayView2<f64>, predicted: ArrayView2<f64>) -> Result<Array1<f64>> {
    per_column(truth, predicted, rmse)
}

/// [`r2_score`] (coefficient of determination) of each column.
pub fn r2_score_columns(truth: ArrayView2<f64>, predicted: ArrayView2<f64>) -> Result<Array1<f64>> {
    per_column(truth, predicted, r2_score)
}

/// [`r2_linear`] (squared correlation) of each column.
pub fn r2_linear_columns(
    truth: ArrayView2<f64>,
    predicted: ArrayView2<f64>,
) -> Result<Array1<f64>> {
    per_column(truth, predicted, r2_linear)
}

/// [`pearson`] of each column.
pub fn pearson_columns(truth: ArrayView2<f64>, predicted: ArrayView2<f64>) -> Result<Array1<f64>> {
    per_column(truth, predicted, pearson)
}

/// Root-mean-square difference of each map of `maps` (k, lat, lon) from `target` (lat, lon)
/// over the cells where both are defined (NaN for a map sharing no cell with it).
pub fn rmse_maps<D: ndarray::Dimension, E: ndarray::Dimension>(
    maps: &ndarray::Array<f64, D>,
    target: &ndarray::Array<f64, E>,
) -> Result<Array1<f64>> {
    if maps.ndim() < 1 || maps.shape()[1..] != *target.shape() {
        bail!(
            "target map is {:?}, the maps are {:?}",
            target.shape(),
            maps.shape().get(1..).unwrap_or(&[])
        );
    }
    let t: Vec<f64> = target.iter().copied().collect();
    let k = maps.shape()[0];
    let maps = maps.as_standard_layout();
    let maps = maps
        .view()
        .into_shape_with_order((k, t.len()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(maps
        .outer_iter()
        .map(|m| rmse(&m.iter().copied().collect::<Vec<f64>>(), &t))
        .collect())
}

/// The pattern correlation of two maps (flattened alike): Pearson's correlation weighted by
/// `w` (e.g. `area * landfrac`) over the cells where both are defined and the weight is
/// positive; `None` when either map has no variance there (or no cell is shared). A spread
/// that is rounding noise (below 1e-12 of the mean) counts as no variance.
pub fn pattern_correlation(a: &[f64], b: &[f64], w: &[f64]) -> Option<f64> {
    let mut sw = 0.0;
    let (mut ma, mut mb) = (0.0, 0.0);
    for ((&x, &y), &wi) in a.iter().zip(b).zip(w) {
        if x.is_finite() && y.is_finite() && wi > 0.0 {
            sw += wi;
            ma += wi * x;
            mb += wi * y;
        }
    }
    if sw == 0.0 {
        return None;
    }
    ma /= sw;
    mb /= sw;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for ((&x, &y), &wi) in a.iter().zip(b).zip(w) {
        if x.is_finite() && y.is_finite() && wi > 0.0 {
            let (da, db) = (x - ma, y - mb);
            sab += wi * da * db;
            saa += wi * da * da;
            sbb += wi * db * db;
        }
    }
    // relative tolerance: a map whose spread is rounding noise has no pattern
    let tiny = |s: f64, m: f64| s <= 1e-24 * (m * m * sw).max(f64::MIN_POSITIVE);
    if tiny(saa, ma) || tiny(sbb, mb) {
        return None;
    }
    Some((sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    // truth t = [1, 2, 3, 4, 5], prediction p = [1.2, 1.9, 3.4, 3.7, 5.6]
    const T: [f64; 5] = [1.0, 2.0, 3.0, 4.0, 5.0];
    const P: [f64; 5] = [1.2, 1.9, 3.4, 3.7, 5.6];

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-14 * b.abs().max(1.0)
    }

    #[test]
    fn errors_and_correlations_against_numpy() {
        // numpy 2.x: np.mean((t - p)**2) = 0.1319999999999999,
        // np.sqrt(np.mean((t - p)**2)) = 0.36331804249169886
        assert!(close(mse(&T, &P), 0.1319999999999999), "{}", mse(&T, &P));
        assert!(close(rmse(&T, &P), 0.36331804249169886));
        // np.corrcoef(t, p)[0, 1] = 0.9786329590108468 (scipy.stats.pearsonr agrees to 3e-16);
        // its square 0.9577224684623258
        assert!(close(pearson(&T, &P), 0.9786329590108468));
        assert!(close(r2_linear(&T, &P), 0.9577224684623258));
        // 1 - np.sum((t - p)**2) / np.sum((t - t.mean())**2) = 0.934 (sklearn's r2_score)
        assert!(close(r2_score(&T, &P), 0.934));
        // a biased, scaled prediction: r^2 of a line is 1, the coefficient of
        // determination is not (hand: 2t + 5 vs t, SS_res = sum (t + 5)^2 = 36 + 49 + 64 + 81 +
        // 100 = 330, SS_tot = 10, so -32; numpy gives -32.0 and corrcoef^2 0.9999999999999998)
        let biased: Vec<f64> = T.iter().map(|t| 2.0 * t + 5.0).collect();
        assert!(close(r2_linear(&T, &biased), 1.0));
        assert!(close(r2_score(&T, &biased), -32.0));
        // reversed: r2_score = 1 - 40 / 10 = -3, correlation -1
        let rev = [5.0, 4.0, 3.0, 2.0, 1.0];
        assert!(close(r2_score(&T, &rev), -3.0));
        assert!(close(pearson(&T, &rev), -1.0));
    }

    #[test]
    fn missing_values_and_degenerate_cases() {
        // NaN pairs are left out: the same as without them
        let t = [1.0, f64::NAN, 2.0, 3.0, 4.0, 5.0];
        let p = [1.2, 7.0, 1.9, 3.4, 3.7, 5.6];
        assert!(close(mse(&t, &p), 0.1319999999999999));
        assert!(close(r2_score(&t, &p), 0.934));
        assert!(mse(&[f64::NAN], &[1.0]).is_nan());
        assert!(pearson(&[1.0], &[2.0]).is_nan());
        assert!(pearson(&[1.0, 1.0], &[2.0, 3.0]).is_nan());
        assert!(r2_score(&[2.0, 2.0], &[2.0, 3.0]).is_nan());
    }

    #[test]
    fn columns_against_numpy() {
        // T = [[1, 10], [2, 20], [3, 25], [4, 45]], P = [[1.5, 12], [1.5, 18], [3.5, 30],
        // [3.5, 40]]: 1 - ((T - P)**2).sum(0) / ((T - T.mean(0))**2).sum(0) = [0.8,
        // 0.9107692307692308]; np.corrcoef per column squared = [0.7999999999999999,
        // 0.9234056541748848]; ((T - P)**2).mean(0) = [0.25, 14.5]
        let t = array![[1.0, 10.0], [2.0, 20.0], [3.0, 25.0], [4.0, 45.0]];
        let p = array![[1.5, 12.0], [1.5, 18.0], [3.5, 30.0], [3.5, 40.0]];
        let r2 = r2_score_columns(t.view(), p.view()).unwrap();
        assert!(
            close(r2[0], 0.8) && close(r2[1], 0.9107692307692308),
            "{r2}"
        );
        let l = r2_linear_columns(t.view(), p.view()).unwrap();
        assert!(close(l[0], 0.8) && close(l[1], 0.9234056541748848), "{l}");
        let m = mse_columns(t.view(), p.view()).unwrap();
        assert!(close(m[0], 0.25) && close(m[1], 14.5), "{m}");
        let r = rmse_columns(t.view(), p.view()).unwrap();
        assert!(close(r[1], 14.5f64.sqrt()));
        let c = pearson_columns(t.view(), p.view()).unwrap();
        assert!(close(c[0], 0.8f64.sqrt()));
        let e = r2_score_columns(t.view(), p.slice(ndarray::s![..3, ..]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("(4, 2) and (3, 2)"), "{e}");
    }

    #[test]
    fn rmse_of_maps_over_common_cells() {
        let maps =
            ndarray::Array3::from_shape_vec((2, 1, 3), vec![1.0, 2.0, f64::NAN, 9.0, 9.0, 9.0])
                .unwrap();
        let t = array![[2.0, 4.0, 9.0]];
        let r = rmse_maps(&maps, &t).unwrap();
        // sqrt((1 + 4) / 2); sqrt((49 + 25 + 0) / 3)
        assert!(close(r[0], 2.5f64.sqrt()));
        assert!(close(r[1], (74.0f64 / 3.0).sqrt()));
        assert!(rmse_maps(&maps, &array![[1.0, 2.0]]).is_err());
    }

    #[test]
    fn weighted_pattern_correlation_against_numpy() {
        // unweighted: a = [1, 2, 3], b = [2, 4, 7]: r = 0.9933992677987828 (numpy.corrcoef)
        let r = pattern_correlation(&[1.0, 2.0, 3.0], &[2.0, 4.0, 7.0], &[1.0; 3]).unwrap();
        assert!((r - 0.9933992677987828).abs() < 1e-14, "{r}");
        // weights 2 on the first cell equal repeating it: a = [1, 1, 2, 3], b = [2, 2, 4, 7]
        // r = 0.9945577827230725 (numpy.corrcoef([1, 1, 2, 3], [2, 2, 4, 7]))
        let r = pattern_correlation(&[1.0, 2.0, 3.0], &[2.0, 4.0, 7.0], &[2.0, 1.0, 1.0]).unwrap();
        assert!((r - 0.9945577827230725).abs() < 1e-14, "{r}");
        // NaN cells and zero weights are left out
        let r = pattern_correlation(
            &[1.0, f64::NAN, 2.0, 3.0, 9.0],
            &[2.0, 0.0, 4.0, 7.0, -5.0],
            &[1.0, 1.0, 1.0, 1.0, 0.0],
        )
        .unwrap();
        assert!((r - 0.9933992677987828).abs() < 1e-14);
        // with unit weights it is Pearson's correlation
        assert!(close(
            pattern_correlation(&T, &P, &[1.0; 5]).unwrap(),
            pearson(&T, &P)
        ));
        // zero variance: no correlation
        assert_eq!(
            pattern_correlation(&[0.0; 3], &[1.0, 2.0, 3.0], &[1.0; 3]),
            None
        );
        assert_eq!(
            pattern_correlation(&[5.0; 3], &[1.0, 2.0, 3.0], &[1.0; 3]),
            None
        );
        assert_eq!(
            pattern_correlation(&[f64::NAN; 3], &[1.0, 2.0, 3.0], &[1.0; 3]),
            None
        );
    }
}
