//! More of numpy's functions: correlation matrices, percentiles, unique values, element-wise
//! minimum/maximum, differences, linear interpolation, least squares and polynomial fits,
//! histograms, products, signs and reductions over several axes.
//!
//! Every function follows numpy's result for the same input (the tests record the numpy
//! command and its value).

use super::reduce::{self, cmp_nan_last, Reduction};
use super::{fmt_shape, from_vec, norm_axis, ArrayError, Result};
use ndarray::{ArrayD, Axis, IxDyn};

/// Pearson correlation matrix of the rows of `x` (each row a variable, as numpy's
/// `corrcoef(x)`); a 1-D `x` is one variable. With `y`, its rows are added as more variables
/// (numpy's `corrcoef(x, y)`).
pub fn corrcoef(x: &ArrayD<f64>, y: Option<&ArrayD<f64>>) -> Result<ArrayD<f64>> {
    let rows = |a: &ArrayD<f64>| -> Result<Vec<Vec<f64>>> {
        match a.ndim() {
            1 => Ok(vec![a.iter().copied().collect()]),
            2 => Ok(a
                .outer_iter()
                .map(|r| r.iter().copied().collect())
                .collect()),
            _ => Err(ArrayError::Shape(format!(
                "corrcoef takes 1-D or 2-D arrays (variables in rows), not shape {}",
                fmt_shape(a.shape())
            ))),
        }
    };
    let mut vars = rows(x)?;
    if let Some(y) = y {
        vars.extend(rows(y)?);
    }
    let n = vars.first().map_or(0, |v| v.len());
    if let Some(v) = vars.iter().find(|v| v.len() != n) {
        return Err(ArrayError::Shape(format!(
            "corrcoef: all variables need the same number of observations ({n} and {})",
            v.len()
        )));
    }
    let centred: Vec<Vec<f64>> = vars
        .iter()
        .map(|v| {
            let m = v.iter().sum::<f64>() / n as f64;
            v.iter().map(|x| x - m).collect()
        })
        .collect();
    let k = vars.len();
    super::checked_size(&[k, k])?;
    let mut out = vec![0.0; k * k];
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    for i in 0..k {
        for j in 0..k {
            let c = dot(&centred[i], &centred[j])
                / (dot(&centred[i], &centred[i]) * dot(&centred[j], &centred[j])).sqrt();
            // numpy clips to [-1, 1] against rounding
            out[i * k + j] = if c.is_nan() { c } else { c.clamp(-1.0, 1.0) };
        }
    }
    from_vec(&[k, k], out)
}

/// The `q`-th percentile (0..=100) with numpy's default linear method, of all elements or
/// along `axis`.
pub fn percentile(a: &ArrayD<f64>, q: f64, axis: Option<i64>) -> Result<ArrayD<f64>> {
    if !(0.0..=100.0).contains(&q) {
        return Err(ArrayError::Value(format!(
            "percentiles must be in the range [0, 100], got {q}"
        )));
    }
    let r = Reduction::Quantile(q / 100.0);
    match axis {
        None => Ok(ArrayD::from_elem(
            IxDyn(&[]),
            reduce::reduce_all(a, r, false)?,
        )),
        Some(ax) => reduce::reduce_axis(a, ax, r, false),
    }
}

/// The sorted distinct values of the flattened array; NaNs collapse to one NaN at the end
/// (numpy >= 1.21's `unique`).
pub fn unique(a: &ArrayD<f64>) -> Result<ArrayD<f64>> {
    let mut v: Vec<f64> = a.iter().copied().collect();
    v.sort_by(cmp_nan_last);
    v.dedup_by(|x, y| x == y || (x.is_nan() && y.is_nan()));
    let n = v.len();
    from_vec(&[n], v)
}

/// numpy's `minimum` of two numbers: the smaller, NaN if either is NaN.
pub fn minimum(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else {
        x.min(y)
    }
}

/// numpy's `maximum` of two numbers: the larger, NaN if either is NaN.
pub fn maximum(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else {
        x.max(y)
    }
}

/// numpy's `sign`: -1, 0 or 1 (NaN stays NaN).
pub fn sign(x: f64) -> f64 {
    if x.is_nan() {
        x
    } else if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// The `n`-th discrete difference along `axis` (numpy `diff`): each pass takes
/// `a[1:] - a[:-1]`, so the axis gets `n` shorter (empty when `n` reaches its length).
pub fn diff(a: &ArrayD<f64>, n: usize, axis: i64) -> Result<ArrayD<f64>> {
    if a.ndim() == 0 {
        return Err(ArrayError::Value(
            "diff requires input that is at least one dimensional".into(),
        ));
    }
    let ax = norm_axis(axis, a.ndim())?;
    let mut out = a.clone();
    for _ in 0..n {
        let len = out.shape()[ax];
        if len == 0 {
            break;
        }
        let hi = out.slice_axis(Axis(ax), ndarray::Slice::from(1..));
        let lo = out.slice_axis(Axis(ax), ndarray::Slice::from(..len - 1));
        out = &hi - &lo;
    }
    Ok(out)
}

/// One-dimensional linear interpolation (numpy `interp`): `xp` increasing, `fp` the same
/// length; points left of `xp[0]` get `fp[0]` and right of the last get the last `fp`.
pub fn interp(x: &ArrayD<f64>, xp: &ArrayD<f64>, fp: &ArrayD<f64>) -> Result<ArrayD<f64>> {
    if xp.ndim() != 1 || fp.ndim() != 1 || xp.len() != fp.len() {
        return Err(ArrayError::Shape(format!(
            "interp: xp and fp must be 1-D of the same length, not shapes {} and {}",
            fmt_shape(xp.shape()),
            fmt_shape(fp.shape())
        )));
    }
    let xp: Vec<f64> = xp.iter().copied().collect();
    let fp: Vec<f64> = fp.iter().copied().collect();
    if xp.is_empty() {
        return Err(ArrayError::Value("interp: xp and fp are empty".into()));
    }
    if xp
        .windows(2)
        .any(|w| w[1] < w[0] || w[0].is_nan() || w[1].is_nan())
    {
        return Err(ArrayError::Value(
            "interp: xp must be increasing (sort it together with fp first)".into(),
        ));
    }
    let last = xp.len() - 1;
    Ok(x.mapv(|v| {
        if v.is_nan() {
            return f64::NAN;
        }
        if v <= xp[0] {
            return fp[0];
        }
        if v >= xp[last] {
            return fp[last];
        }
        // first index with xp[i] > v; then xp[i-1] <= v < xp[i]
        let i = xp.partition_point(|&p| p <= v);
        let (x0, x1, f0, f1) = (xp[i - 1], xp[i], fp[i - 1], fp[i]);
        f0 + (f1 - f0) * (v - x0) / (x1 - x0)
    }))
}

/// The least-squares solution `x` of `a x = b` (numpy `linalg.lstsq(a, b)[0]`), by singular
/// value decomposition; `a` is (m, n), `b` is (m,) or (m, k). Rank-deficient systems get the
/// minimum-norm solution (singular values below `eps * max(m, n) * s_max` are dropped, as
/// numpy's default `rcond`).
pub fn lstsq(a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>> {
    if a.ndim() != 2 || !(b.ndim() == 1 || b.ndim() == 2) || a.shape()[0] != b.shape()[0] {
        return Err(ArrayError::Shape(format!(
            "lstsq takes a (m, n) matrix and a (m,) or (m, k) right-hand side, not shapes {} and {}",
            fmt_shape(a.shape()),
            fmt_shape(b.shape())
        )));
    }
    let (m, n) = (a.shape()[0], a.shape()[1]);
    let k = if b.ndim() == 1 { 1 } else { b.shape()[1] };
    if m == 0 || n == 0 {
        return Err(ArrayError::Value("lstsq of an empty system".into()));
    }
    if a.iter().chain(b.iter()).any(|x| !x.is_finite()) {
        return Err(ArrayError::Value(
            "lstsq: the matrix and right-hand side must be finite (no NaN or inf)".into(),
        ));
    }
    let am = nalgebra::DMatrix::from_row_iterator(m, n, a.iter().copied());
    let bm = nalgebra::DMatrix::from_row_iterator(m, k, b.iter().copied());
    // a bounded number of sweeps, so that no input can keep the decomposition iterating
    let svd = am
        .try_svd(true, true, f64::EPSILON, 100_000)
        .ok_or_else(|| ArrayError::Value("lstsq: the SVD did not converge".into()))?;
    let smax = svd.singular_values.iter().copied().fold(0.0, f64::max);
    let eps = f64::EPSILON * m.max(n) as f64 * smax;
    let x = svd
        .solve(&bm, eps)
        .map_err(|e| ArrayError::Value(format!("lstsq: {e}")))?;
    let mut out = Vec::with_capacity(n * k);
    for i in 0..n {
        for j in 0..k {
            out.push(x[(i, j)]);
        }
    }
    if b.ndim() == 1 {
        from_vec(&[n], out)
    } else {
        from_vec(&[n, k], out)
    }
}

/// Least-squares polynomial coefficients of degree `deg`, highest power first (numpy
/// `polyfit`).
pub fn polyfit(x: &ArrayD<f64>, y: &ArrayD<f64>, deg: usize) -> Result<ArrayD<f64>> {
    if x.ndim() != 1 || y.ndim() != 1 || x.len() != y.len() {
        return Err(ArrayError::Shape(format!(
            "polyfit: x and y must be 1-D of the same length, not shapes {} and {}",
            fmt_shape(x.shape()),
            fmt_shape(y.shape())
        )));
    }
    if x.len() <= deg {
        return Err(ArrayError::Value(format!(
            "polyfit: degree {deg} needs more than {deg} points, got {}",
            x.len()
        )));
    }
    let m = x.len();
    let mut v = Vec::with_capacity(m * (deg + 1));
    for &xi in x.iter() {
        for p in (0..=deg).rev() {
            v.push(xi.powi(p as i32));
        }
    }
    let vander = from_vec(&[m, deg + 1], v)?;
    lstsq(&vander, y)
}

/// Counts of the values in `bins` equal-width bins over `[min, max]` of the finite values
/// (numpy `histogram(a, bins)`): (counts, edges), the last bin closed on the right.
pub fn histogram(a: &ArrayD<f64>, bins: usize) -> Result<(ArrayD<f64>, ArrayD<f64>)> {
    if bins == 0 {
        return Err(ArrayError::Value(
            "histogram: the number of bins must be positive".into(),
        ));
    }
    if a.iter().any(|x| x.is_nan()) {
        return Err(ArrayError::Value(
            "histogram: the data contain NaN; drop them first (e.g. a[isfinite(a)])".into(),
        ));
    }
    let (mut lo, mut hi) = a
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
            (l.min(x), h.max(x))
        });
    if a.is_empty() {
        (lo, hi) = (0.0, 1.0);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return Err(ArrayError::Value(
            "histogram: the range of the data is not finite".into(),
        ));
    }
    if lo == hi {
        // numpy widens an empty range by 0.5 each side
        lo -= 0.5;
        hi += 0.5;
    }
    let edges = super::linspace(lo, hi, bins + 1)?;
    histogram_edges(a, &edges).map(|c| (c, edges))
}

/// Counts of the values between consecutive `edges` (increasing): bins are half-open
/// `[e_i, e_{i+1})` except the last, closed on both sides; values outside are not counted.
pub fn histogram_edges(a: &ArrayD<f64>, edges: &ArrayD<f64>) -> Result<ArrayD<f64>> {
    let e: Vec<f64> = edges.iter().copied().collect();
    if edges.ndim() != 1
        || e.len() < 2
        || e.windows(2)
            .any(|w| w[1].partial_cmp(&w[0]) != Some(std::cmp::Ordering::Greater))
    {
        return Err(ArrayError::Value(
            "histogram: bin edges must be a 1-D increasing list of at least two values".into(),
        ));
    }
    let nb = e.len() - 1;
    let mut counts = vec![0.0; nb];
    for &x in a.iter() {
        if x.is_nan() || x < e[0] || x > e[nb] {
            continue;
        }
        let i = if x == e[nb] {
            nb - 1
        } else {
            e.partition_point(|&p| p <= x) - 1
        };
        counts[i] += 1.0;
    }
    from_vec(&[nb], counts)
}

/// Product of all elements (1 for none); NaN propagates.
pub fn prod_all(a: &ArrayD<f64>) -> f64 {
    a.iter().product()
}

/// Product along `axis`, which disappears from the shape.
pub fn prod_axis(a: &ArrayD<f64>, axis: i64) -> Result<ArrayD<f64>> {
    if a.ndim() == 0 {
        return Err(ArrayError::Axis { axis, ndim: 0 });
    }
    let ax = norm_axis(axis, a.ndim())?;
    Ok(a.map_axis(Axis(ax), |lane| lane.iter().product()))
}

/// Normalised, distinct axes from a list (negative counts from the end).
fn axes_of(axes: &[i64], ndim: usize) -> Result<Vec<usize>> {
    let mut ax = axes
        .iter()
        .map(|&x| norm_axis(x, ndim))
        .collect::<Result<Vec<_>>>()?;
    ax.sort_unstable();
    let n = ax.len();
    ax.dedup();
    if ax.len() != n {
        return Err(ArrayError::Value(format!("repeated axis in {axes:?}")));
    }
    Ok(ax)
}

/// Moves `axes` to the end and merges them into one, so that one reduction along the last
/// axis reduces over all of them.
fn merge_axes(a: &ArrayD<f64>, axes: &[usize]) -> Result<ArrayD<f64>> {
    let keep: Vec<usize> = (0..a.ndim()).filter(|i| !axes.contains(i)).collect();
    let perm: Vec<usize> = keep.iter().chain(axes).copied().collect();
    let moved = a.view().permuted_axes(IxDyn(&perm));
    let mut shape: Vec<usize> = keep.iter().map(|&i| a.shape()[i]).collect();
    shape.push(axes.iter().map(|&i| a.shape()[i]).product());
    from_vec(&shape, moved.iter().copied().collect())
}

/// Reduces over several axes at once (numpy's `axis=(0, 2)`); the axes disappear from the
/// shape. Positions (`argmin`, `argmax`) take one axis only, as in numpy.
pub fn reduce_axes(
    a: &ArrayD<f64>,
    axes: &[i64],
    r: Reduction,
    skip_nan: bool,
) -> Result<ArrayD<f64>> {
    if matches!(r, Reduction::ArgMin | Reduction::ArgMax) {
        return Err(ArrayError::Value(format!(
            "{} takes one axis, not a list of axes",
            r.name()
        )));
    }
    if axes.is_empty() {
        return Err(ArrayError::Value(format!(
            "{}: give at least one axis",
            r.name()
        )));
    }
    let ax = axes_of(axes, a.ndim())?;
    let merged = merge_axes(a, &ax)?;
    reduce::reduce_axis(&merged, -1, r, skip_nan)
}

/// Product over several axes.
pub fn prod_axes(a: &ArrayD<f64>, axes: &[i64]) -> Result<ArrayD<f64>> {
    let ax = axes_of(axes, a.ndim())?;
    if ax.is_empty() {
        return Err(ArrayError::Value("prod: give at least one axis".into()));
    }
    prod_axis(&merge_axes(a, &ax)?, -1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(shape: &[usize], v: &[f64]) -> ArrayD<f64> {
        from_vec(shape, v.to_vec()).unwrap()
    }

    fn close(a: &ArrayD<f64>, b: &[f64]) {
        assert_eq!(a.len(), b.len(), "{a} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-8 * (1.0 + y.abs()) || (x.is_nan() && y.is_nan()),
                "{a} vs {b:?}"
            );
        }
    }

    #[test]
    fn corrcoef_matches_numpy() {
        // np.corrcoef([[1,2,4,7],[2,1,5,9],[3,3,1,0]])
        let x = arr(&[3, 4], &[1., 2., 4., 7., 2., 1., 5., 9., 3., 3., 1., 0.]);
        let c = corrcoef(&x, None).unwrap();
        close(
            &c,
            &[
                1.0,
                0.96402255,
                -0.96590921,
                0.96402255,
                1.0,
                -0.97385168,
                -0.96590921,
                -0.97385168,
                1.0,
            ],
        );
        // np.corrcoef([1,2,3,4],[2,4,5,9])[0,1] = 0.96476382
        let c = corrcoef(
            &arr(&[4], &[1., 2., 3., 4.]),
            Some(&arr(&[4], &[2., 4., 5., 9.])),
        )
        .unwrap();
        assert!((c[[0, 1]] - 0.96476382).abs() < 1e-8);
    }

    #[test]
    fn percentile_unique_diff_interp_match_numpy() {
        // np.percentile([2,4,4,4,5,5,7,9], 90) = 7.6, (.., 25) = 4.0
        let a = arr(&[8], &[2., 4., 4., 4., 5., 5., 7., 9.]);
        close(&percentile(&a, 90.0, None).unwrap(), &[7.6]);
        close(&percentile(&a, 25.0, None).unwrap(), &[4.0]);
        assert!(percentile(&a, 101.0, None).is_err());
        // np.unique([3,1,2,3,nan,1,nan]) = [1, 2, 3, nan]
        let u = unique(&arr(&[7], &[3., 1., 2., 3., f64::NAN, 1., f64::NAN])).unwrap();
        close(&u, &[1., 2., 3., f64::NAN]);
        // np.diff([1,4,9,16]) = [3 5 7]; n=2: [2 2]; np.diff([[1,2],[4,8]], axis=0) = [[3 6]]
        let d = arr(&[4], &[1., 4., 9., 16.]);
        close(&diff(&d, 1, -1).unwrap(), &[3., 5., 7.]);
        close(&diff(&d, 2, -1).unwrap(), &[2., 2.]);
        let d2 = diff(&arr(&[2, 2], &[1., 2., 4., 8.]), 1, 0).unwrap();
        assert_eq!(d2.shape(), &[1, 2]);
        close(&d2, &[3., 6.]);
        // np.interp([-1,0.5,1.5,2.5,9],[0,1,2,3],[0,10,15,30]) = [0, 5, 12.5, 22.5, 30]
        let y = interp(
            &arr(&[5], &[-1., 0.5, 1.5, 2.5, 9.]),
            &arr(&[4], &[0., 1., 2., 3.]),
            &arr(&[4], &[0., 10., 15., 30.]),
        )
        .unwrap();
        close(&y, &[0., 5., 12.5, 22.5, 30.]);
    }

    #[test]
    fn minimum_maximum_sign_propagate_nan_as_numpy() {
        // np.minimum([1,5,nan],[3,2,1]) = [1, 2, nan]; np.sign([-2,0,3,nan]) = [-1, 0, 1, nan]
        assert_eq!(minimum(5.0, 2.0), 2.0);
        assert!(minimum(f64::NAN, 1.0).is_nan() && maximum(1.0, f64::NAN).is_nan());
        assert_eq!([sign(-2.0), sign(0.0), sign(3.0)], [-1.0, 0.0, 1.0]);
        assert!(sign(f64::NAN).is_nan());
    }

    #[test]
    fn lstsq_and_polyfit_match_numpy() {
        // np.linalg.lstsq([[1,0],[1,1],[1,2],[1,3]], [1,2,2.5,4.5], rcond=None)[0] = [0.85, 1.1]
        let a = arr(&[4, 2], &[1., 0., 1., 1., 1., 2., 1., 3.]);
        let b = arr(&[4], &[1., 2., 2.5, 4.5]);
        close(&lstsq(&a, &b).unwrap(), &[0.85, 1.1]);
        // np.polyfit([0,1,2,3],[1,2,2.5,4.5],1) = [1.1, 0.85]
        close(
            &polyfit(&arr(&[4], &[0., 1., 2., 3.]), &b, 1).unwrap(),
            &[1.1, 0.85],
        );
        // np.polyfit([0,1,2,3,4],[1,2,5,10,17.5],2) = [1.07142857, -0.18571429, 1.04285714]
        close(
            &polyfit(
                &arr(&[5], &[0., 1., 2., 3., 4.]),
                &arr(&[5], &[1., 2., 5., 10., 17.5]),
                2,
            )
            .unwrap(),
            &[1.07142857142857, -0.185714285714286, 1.04285714285714],
        );
        assert!(polyfit(&arr(&[2], &[0., 1.]), &arr(&[2], &[0., 1.]), 2).is_err());
        // rank-deficient: two equal columns, minimum-norm solution splits the weight
        let a = arr(&[3, 2], &[1., 1., 2., 2., 3., 3.]);
        close(&lstsq(&a, &arr(&[3], &[2., 4., 6.])).unwrap(), &[1.0, 1.0]);
    }

    #[test]
    fn histogram_matches_numpy() {
        // np.histogram([1,2,2,3,3,3,4,10], bins=3) = ([6, 1, 1], [1, 4, 7, 10])
        let a = arr(&[8], &[1., 2., 2., 3., 3., 3., 4., 10.]);
        let (c, e) = histogram(&a, 3).unwrap();
        close(&c, &[6., 1., 1.]);
        close(&e, &[1., 4., 7., 10.]);
        // np.histogram(same, bins=[0,2,5,10]) = ([1, 6, 1], ...)
        let c = histogram_edges(&a, &arr(&[4], &[0., 2., 5., 10.])).unwrap();
        close(&c, &[1., 6., 1.]);
    }

    #[test]
    fn products_and_several_axes_match_numpy() {
        // np.prod([[1,2],[3,4]]) = 24; axis=0: [3, 8]
        let a = arr(&[2, 2], &[1., 2., 3., 4.]);
        assert_eq!(prod_all(&a), 24.0);
        close(&prod_axis(&a, 0).unwrap(), &[3., 8.]);
        close(&prod_axes(&a, &[0, 1]).unwrap(), &[24.]);
        // y = np.arange(24.).reshape(2,3,4); np.sum(y, axis=(0,2)) = [60, 92, 124];
        // np.mean(y, axis=(0,1)) = [10, 11, 12, 13]; np.std(y, axis=(0,2)) = 6.10327781 each
        let y = from_vec(&[2, 3, 4], (0..24).map(|i| i as f64).collect()).unwrap();
        close(
            &reduce_axes(&y, &[0, 2], Reduction::Sum, false).unwrap(),
            &[60., 92., 124.],
        );
        close(
            &reduce_axes(&y, &[0, -2], Reduction::Mean, false).unwrap(),
            &[10., 11., 12., 13.],
        );
        close(
            &reduce_axes(&y, &[2, 0], Reduction::Std(0.0), false).unwrap(),
            &[6.10327781; 3],
        );
        assert!(reduce_axes(&y, &[0, 0], Reduction::Sum, false).is_err());
        assert!(reduce_axes(&y, &[0, 1], Reduction::ArgMin, false).is_err());
    }
}
