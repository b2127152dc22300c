//! Reductions (whole array or along an axis, NaN-propagating or NaN-skipping as numpy's
//! `nan*` functions), sorting, ranking and cumulative sums.

use super::{fmt_shape, norm_axis, ArrayError, Result};
use ndarray::{ArrayD, ArrayViewD, Axis};
use std::cmp::Ordering;

/// A reduction of many values to one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reduction {
    /// Sum (0 for no values).
    Sum,
    /// Arithmetic mean (NaN for no values).
    Mean,
    /// Variance with `ddof` delta degrees of freedom (numpy's default is 0).
    Var(f64),
    /// Standard deviation with `ddof` delta degrees of freedom.
    Std(f64),
    /// Smallest value (error for no values).
    Min,
    /// Largest value (error for no values).
    Max,
    /// Position of the smallest value along the reduced values.
    ArgMin,
    /// Position of the largest value.
    ArgMax,
    /// Median (linear interpolation between the two middle values).
    Median,
    /// Quantile q in [0, 1] with linear interpolation (numpy's default method).
    Quantile(f64),
}

impl Reduction {
    /// The numpy name, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Sum => "sum",
            Reduction::Mean => "mean",
            Reduction::Var(_) => "var",
            Reduction::Std(_) => "std",
            Reduction::Min => "min",
            Reduction::Max => "max",
            Reduction::ArgMin => "argmin",
            Reduction::ArgMax => "argmax",
            Reduction::Median => "median",
            Reduction::Quantile(_) => "quantile",
        }
    }
}

/// NaN sorts after every number, as in numpy.
pub fn cmp_nan_last(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
    }
}

fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// Reduces `values` (in order) with `r`; `skip_nan` ignores NaN as numpy's `nan*` do.
pub fn reduce_values(
    r: Reduction,
    values: impl Iterator<Item = f64>,
    skip_nan: bool,
) -> Result<f64> {
    if let Reduction::Quantile(q) = r {
        if !(0.0..=1.0).contains(&q) {
            return Err(ArrayError::Value(format!(
                "quantile q must be in [0, 1], got {q}"
            )));
        }
    }
    if let Reduction::Var(d) | Reduction::Std(d) = r {
        if d.is_nan() || d < 0.0 {
            return Err(ArrayError::Value(format!("ddof must be >= 0, got {d}")));
        }
    }
    let mut any_nan = false;
    let vals = values.enumerate().filter(|(_, x)| {
        if x.is_nan() {
            any_nan = true;
        }
        !(skip_nan && x.is_nan())
    });
    match r {
        Reduction::Sum => Ok(vals.map(|(_, x)| x).sum()),
        Reduction::Mean => {
            let (n, s) = vals.fold((0usize, 0.0), |(n, s), (_, x)| (n + 1, s + x));
            Ok(if n == 0 { f64::NAN } else { s / n as f64 })
        }
        Reduction::Var(ddof) | Reduction::Std(ddof) => {
            // Welford's one-pass algorithm.
            let (mut n, mut mean, mut m2) = (0usize, 0.0, 0.0);
            for (_, x) in vals {
                n += 1;
                let d = x - mean;
                mean += d / n as f64;
                m2 += d * (x - mean);
            }
            let dof = n as f64 - ddof;
            let var = if dof <= 0.0 { f64::NAN } else { m2 / dof };
            Ok(if matches!(r, Reduction::Std(_)) {
                var.sqrt()
            } else {
                var
            })
        }
        Reduction::Min | Reduction::Max => {
            let mut best: Option<f64> = None;
            for (_, x) in vals {
                best = Some(match best {
                    None => x,
                    Some(b) if b.is_nan() || x.is_nan() => f64::NAN,
                    Some(b) if r == Reduction::Min => b.min(x),
                    Some(b) => b.max(x),
                });
            }
            match best {
                Some(b) => Ok(b),
                None if skip_nan && any_nan => Ok(f64::NAN),
                None => Err(ArrayError::Empty(r.name())),
            }
        }
        Reduction::ArgMin | Reduction::ArgMax => {
            let mut best: Option<(usize, f64)> = None;
            for (i, x) in vals {
                if x.is_nan() {
                    // numpy: the first NaN wins
                    return Ok(i as f64);
                }
                let better = match best {
                    None => true,
                    Some((_, b)) => {
                        (r == Reduction::ArgMin && x < b) || (r == Reduction::ArgMax && x > b)
                    }
                };
                if better {
                    best = Some((i, x));
                }
            }
            match best {
                Some((i, _)) => Ok(i as f64),
                None if any_nan => Err(ArrayError::Value(format!(
                    "nan{}: all values are NaN",
                    r.name()
                ))),
                None => Err(ArrayError::Empty(r.name())),
            }
        }
        Reduction::Median | Reduction::Quantile(_) => {
            let mut v: Vec<f64> = vals.map(|(_, x)| x).collect();
            if v.iter().any(|x| x.is_nan()) {
                return Ok(f64::NAN);
            }
            v.sort_by(cmp_nan_last);
            let q = if let Reduction::Quantile(q) = r {
                q
            } else {
                0.5
            };
            Ok(quantile_sorted(&v, q))
        }
    }
}

/// Reduces the whole array to one number.
pub fn reduce_all(a: &ArrayD<f64>, r: Reduction, skip_nan: bool) -> Result<f64> {
    reduce_values(r, a.iter().copied(), skip_nan)
}

/// Reduces along `axis`, removing it from the shape.
pub fn reduce_axis(
    a: &ArrayD<f64>,
    axis: i64,
    r: Reduction,
    skip_nan: bool,
) -> Result<ArrayD<f64>> {
    if a.ndim() == 0 {
        return Err(ArrayError::Axis { axis, ndim: 0 });
    }
    let ax = norm_axis(axis, a.ndim())?;
    if a.shape()[ax] == 0
        && !matches!(
            r,
            Reduction::Sum | Reduction::Mean | Reduction::Var(_) | Reduction::Std(_)
        )
    {
        return Err(ArrayError::Value(format!(
            "{} along axis {ax} of an array of shape {}: that axis is empty",
            r.name(),
            fmt_shape(a.shape())
        )));
    }
    let mut err = None;
    let out = a.map_axis(Axis(ax), |lane| {
        match reduce_values(r, lane.iter().copied(), skip_nan) {
            Ok(v) => v,
            Err(e) => {
                err.get_or_insert(e);
                f64::NAN
            }
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn along_lanes(a: &ArrayD<f64>, axis: i64, f: impl Fn(&[f64]) -> Vec<f64>) -> Result<ArrayD<f64>> {
    if a.ndim() == 0 {
        return Err(ArrayError::Axis { axis, ndim: 0 });
    }
    let ax = norm_axis(axis, a.ndim())?;
    let mut out = a.clone();
    for (src, mut dst) in a.lanes(Axis(ax)).into_iter().zip(out.lanes_mut(Axis(ax))) {
        let v: Vec<f64> = src.iter().copied().collect();
        for (d, x) in dst.iter_mut().zip(f(&v)) {
            *d = x;
        }
    }
    Ok(out)
}

/// Sorted copy along `axis`, NaN last.
pub fn sort(a: &ArrayD<f64>, axis: i64) -> Result<ArrayD<f64>> {
    along_lanes(a, axis, |v| {
        let mut v = v.to_vec();
        v.sort_by(cmp_nan_last);
        v
    })
}

fn argsort_slice(v: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| cmp_nan_last(&v[i], &v[j]));
    idx
}

/// Positions that would sort each lane along `axis` (stable; NaN last).
pub fn argsort(a: &ArrayD<f64>, axis: i64) -> Result<ArrayD<f64>> {
    along_lanes(a, axis, |v| {
        argsort_slice(v).into_iter().map(|i| i as f64).collect()
    })
}

/// How `rank` treats ties (scipy.stats.rankdata's methods).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TieMethod {
    /// Ties get the mean of the ranks they span (scipy's default).
    Average,
    /// Ties get the lowest rank they span (the contract's convention for PE ranks).
    Min,
    /// Ties get the highest rank they span.
    Max,
    /// Like `Min`, but the next distinct value gets the next integer.
    Dense,
    /// Every value a distinct rank, ties in order of appearance.
    Ordinal,
}

impl std::str::FromStr for TieMethod {
    type Err = ArrayError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "average" => TieMethod::Average,
            "min" => TieMethod::Min,
            "max" => TieMethod::Max,
            "dense" => TieMethod::Dense,
            "ordinal" => TieMethod::Ordinal,
            _ => {
                return Err(ArrayError::Value(format!(
                    "unknown rank method '{s}': use average, min, max, dense or ordinal",
                    s = crate::format::printable(s)
                )))
            }
        })
    }
}

/// Ranks 1..n of the values (smallest = 1), as scipy.stats.rankdata on the flattened array;
/// NaN gets a NaN rank and the other values are ranked among themselves.
pub fn rank(a: &ArrayD<f64>, method: TieMethod) -> ArrayD<f64> {
    let v: Vec<f64> = a.iter().copied().collect();
    let order = argsort_slice(&v);
    let mut ranks = vec![f64::NAN; v.len()];
    let valid = order.iter().take_while(|&&i| !v[i].is_nan()).count();
    let (mut start, mut dense) = (0usize, 0usize);
    while start < valid {
        let mut end = start + 1;
        while end < valid && v[order[end]] == v[order[start]] {
            end += 1;
        }
        dense += 1;
        for (k, &i) in order[start..end].iter().enumerate() {
            ranks[i] = match method {
                TieMethod::Average => (start + end + 1) as f64 / 2.0,
                TieMethod::Min => (start + 1) as f64,
                TieMethod::Max => end as f64,
                TieMethod::Dense => dense as f64,
                TieMethod::Ordinal => (start + k + 1) as f64,
            };
        }
        start = end;
    }
    ArrayD::from_shape_vec(a.raw_dim(), ranks).expect("same number of ranks as values")
}

/// Cumulative sum of the flattened array (`axis = None`) or along an axis.
pub fn cumsum(a: &ArrayD<f64>, axis: Option<i64>) -> Result<ArrayD<f64>> {
    let running = |v: &[f64]| {
        let mut s = 0.0;
        v.iter()
            .map(|x| {
                s += x;
                s
            })
            .collect::<Vec<f64>>()
    };
    match axis {
        None => {
            let v: Vec<f64> = a.iter().copied().collect();
            let n = v.len();
            Ok(ArrayD::from_shape_vec(ndarray::IxDyn(&[n]), running(&v))
                .expect("1-D of its own length"))
        }
        Some(ax) => along_lanes(a, ax, running),
    }
}

/// True when every pair of elements is within `atol + rtol * |b|` (numpy `allclose`); NaN
/// equals NaN only when `equal_nan`.
pub fn allclose(
    a: ArrayViewD<f64>,
    b: ArrayViewD<f64>,
    rtol: f64,
    atol: f64,
    equal_nan: bool,
) -> Result<bool> {
    let shape = super::ops::broadcast_shape(a.shape(), b.shape())?;
    let err = || ArrayError::Broadcast(a.shape().to_vec(), b.shape().to_vec());
    let av = a.broadcast(ndarray::IxDyn(&shape)).ok_or_else(err)?;
    let bv = b.broadcast(ndarray::IxDyn(&shape)).ok_or_else(err)?;
    Ok(av.iter().zip(bv.iter()).all(|(&x, &y)| {
        if x.is_nan() || y.is_nan() {
            equal_nan && x.is_nan() && y.is_nan()
        } else {
            x == y || (x - y).abs() <= atol + rtol * y.abs()
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn variance_matches_hand_computation() {
        // values 2,4,4,4,5,5,7,9: mean 5, sum of squares 32 -> var 4 (ddof 0), 32/7 (ddof 1)
        let a = array![2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0].into_dyn();
        assert_eq!(reduce_all(&a, Reduction::Var(0.0), false).unwrap(), 4.0);
        assert!(
            (reduce_all(&a, Reduction::Std(1.0), false).unwrap() - (32.0f64 / 7.0).sqrt()).abs()
                < 1e-15
        );
        assert_eq!(reduce_all(&a, Reduction::Median, false).unwrap(), 4.5);
        // numpy.quantile([2,4,4,4,5,5,7,9], 0.9) = 7.6
        assert!((reduce_all(&a, Reduction::Quantile(0.9), false).unwrap() - 7.6).abs() < 1e-12);
    }

    #[test]
    fn nan_propagates_or_is_skipped() {
        let a = array![1.0, f64::NAN, 3.0].into_dyn();
        assert!(reduce_all(&a, Reduction::Sum, false).unwrap().is_nan());
        assert_eq!(reduce_all(&a, Reduction::Sum, true).unwrap(), 4.0);
        assert!(reduce_all(&a, Reduction::Max, false).unwrap().is_nan());
        assert_eq!(reduce_all(&a, Reduction::Max, true).unwrap(), 3.0);
        assert_eq!(reduce_all(&a, Reduction::ArgMax, false).unwrap(), 1.0);
        assert_eq!(reduce_all(&a, Reduction::ArgMax, true).unwrap(), 2.0);
        let all_nan = array![f64::NAN].into_dyn();
        assert!(reduce_all(&all_nan, Reduction::ArgMin, true).is_err());
    }

    #[test]
    fn empty_reductions() {
        let e = ArrayD::<f64>::zeros(ndarray::IxDyn(&[0]));
        assert_eq!(reduce_all(&e, Reduction::Sum, false).unwrap(), 0.0);
        assert!(reduce_all(&e, Reduction::Mean, false).unwrap().is_nan());
        assert!(reduce_all(&e, Reduction::Min, false).is_err());
        assert!(reduce_all(&e, Reduction::ArgMax, false).is_err());
    }

    #[test]
    fn axis_reductions_by_hand() {
        let a = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]].into_dyn();
        assert_eq!(
            reduce_axis(&a, 0, Reduction::Sum, false).unwrap(),
            array![5.0, 7.0, 9.0].into_dyn()
        );
        assert_eq!(
            reduce_axis(&a, -1, Reduction::Mean, false).unwrap(),
            array![2.0, 5.0].into_dyn()
        );
        assert_eq!(
            reduce_axis(&a, 1, Reduction::ArgMax, false).unwrap(),
            array![2.0, 2.0].into_dyn()
        );
        assert!(reduce_axis(&a, 2, Reduction::Sum, false).is_err());
    }

    #[test]
    fn ranks_like_scipy() {
        // scipy.stats.rankdata([0, 2, 3, 2], method=...): average [1, 2.5, 4, 2.5],
        // min [1, 2, 4, 2], max [1, 3, 4, 3], dense [1, 2, 3, 2], ordinal [1, 2, 4, 3]
        let a = array![0.0, 2.0, 3.0, 2.0].into_dyn();
        let r = |m| rank(&a, m).into_raw_vec_and_offset().0;
        assert_eq!(r(TieMethod::Average), vec![1.0, 2.5, 4.0, 2.5]);
        assert_eq!(r(TieMethod::Min), vec![1.0, 2.0, 4.0, 2.0]);
        assert_eq!(r(TieMethod::Max), vec![1.0, 3.0, 4.0, 3.0]);
        assert_eq!(r(TieMethod::Dense), vec![1.0, 2.0, 3.0, 2.0]);
        assert_eq!(r(TieMethod::Ordinal), vec![1.0, 2.0, 4.0, 3.0]);
        let with_nan = rank(&array![3.0, f64::NAN, 1.0].into_dyn(), TieMethod::Average);
        assert_eq!(with_nan[[0]], 2.0);
        assert!(with_nan[[1]].is_nan());
    }

    #[test]
    fn sort_and_cumsum() {
        let a = array![[3.0, f64::NAN, 1.0], [2.0, 0.0, 5.0]].into_dyn();
        let s = sort(&a, -1).unwrap();
        assert_eq!(s[[0, 0]], 1.0);
        assert!(s[[0, 2]].is_nan());
        assert_eq!(
            argsort(&a, 0)
                .unwrap()
                .index_axis(Axis(0), 1)
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            vec![0.0, 0.0, 1.0]
        );
        let c = cumsum(&array![[1.0, 2.0], [3.0, 4.0]].into_dyn(), Some(0)).unwrap();
        assert_eq!(c, array![[1.0, 2.0], [4.0, 6.0]].into_dyn());
    }
}
