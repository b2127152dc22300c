//! Element-wise arithmetic with numpy broadcasting, comparisons, `where`, matrix products,
//! and indexing (slices, index lists, boolean masks).

use super::{checked_size, fmt_shape, norm_axis, norm_index, ArrayError, Result};
use ndarray::{ArrayD, Axis, IxDyn, Zip};

/// Arrays at least this large are processed on all cores.
const PARALLEL_MIN: usize = 1 << 16;

/// The shape two shapes broadcast to, by numpy's rules.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(ArrayError::Broadcast(a.to_vec(), b.to_vec())),
        };
    }
    checked_size(&out)?;
    Ok(out)
}

/// `f(a, b)` element by element with broadcasting. When `a` already has the result's shape
/// it is reused as the output buffer (so `a * b + c` allocates once per operator at most).
pub fn binary(
    a: ArrayD<f64>,
    b: &ArrayD<f64>,
    f: impl Fn(f64, f64) -> f64 + Sync + Send,
) -> Result<ArrayD<f64>> {
    let shape = broadcast_shape(a.shape(), b.shape())?;
    if a.shape() == shape.as_slice() && a.is_standard_layout() {
        let mut out = a;
        let bv = b
            .broadcast(IxDyn(&shape))
            .ok_or_else(|| ArrayError::Broadcast(out.shape().to_vec(), b.shape().to_vec()))?;
        let z = Zip::from(&mut out).and(&bv);
        if shape.iter().product::<usize>() >= PARALLEL_MIN {
            z.par_for_each(|o, &y| *o = f(*o, y));
        } else {
            z.for_each(|o, &y| *o = f(*o, y));
        }
        return Ok(out);
    }
    binary_ref(&a, b, f)
}

/// `f(a, b)` element by element with broadcasting, into a new array.
pub fn binary_ref(
    a: &ArrayD<f64>,
    b: &ArrayD<f64>,
    f: impl Fn(f64, f64) -> f64 + Sync + Send,
) -> Result<ArrayD<f64>> {
    let shape = broadcast_shape(a.shape(), b.shape())?;
    let err = || ArrayError::Broadcast(a.shape().to_vec(), b.shape().to_vec());
    let av = a.broadcast(IxDyn(&shape)).ok_or_else(err)?;
    let bv = b.broadcast(IxDyn(&shape)).ok_or_else(err)?;
    let z = Zip::from(&av).and(&bv);
    Ok(if shape.iter().product::<usize>() >= PARALLEL_MIN {
        z.par_map_collect(|&x, &y| f(x, y))
    } else {
        z.map_collect(|&x, &y| f(x, y))
    })
}

/// `f(x)` for every element, reusing the buffer.
pub fn unary(mut a: ArrayD<f64>, f: impl Fn(f64) -> f64 + Sync + Send) -> ArrayD<f64> {
    if a.len() >= PARALLEL_MIN {
        a.par_mapv_inplace(f);
    } else {
        a.mapv_inplace(f);
    }
    a
}

/// Numpy's `power`: like `powf`, with an integer fast path.
pub fn pow(x: f64, y: f64) -> f64 {
    if y == 2.0 {
        x * x
    } else if y.fract() == 0.0 && y.abs() < 64.0 {
        x.powi(y as i32)
    } else {
        x.powf(y)
    }
}

/// Numpy's `mod` (result has the sign of the divisor).
pub fn modulo(x: f64, y: f64) -> f64 {
    if y == 0.0 {
        return f64::NAN;
    }
    let r = x % y;
    if r != 0.0 && (r < 0.0) != (y < 0.0) {
        r + y
    } else {
        r
    }
}

/// `cond ? x : y` element by element, all three broadcast together (numpy `where`).
pub fn where_(cond: &ArrayD<f64>, x: &ArrayD<f64>, y: &ArrayD<f64>) -> Result<ArrayD<f64>> {
    let s1 = broadcast_shape(cond.shape(), x.shape())?;
    let shape = broadcast_shape(&s1, y.shape())?;
    let err = || ArrayError::Broadcast(s1.clone(), y.shape().to_vec());
    let c = cond.broadcast(IxDyn(&shape)).ok_or_else(err)?;
    let xv = x.broadcast(IxDyn(&shape)).ok_or_else(err)?;
    let yv = y.broadcast(IxDyn(&shape)).ok_or_else(err)?;
    Ok(Zip::from(&c)
        .and(&xv)
        .and(&yv)
        .map_collect(|&c, &x, &y| if c != 0.0 { x } else { y }))
}

/// Matrix product with numpy's rules for 1-D and 2-D operands (`dot`/`matmul`).
pub fn dot(a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>> {
    use ndarray::Ix1;
    use ndarray::Ix2;
    let mismatch = || {
        ArrayError::Shape(format!(
            "shapes {} and {} not aligned for a matrix product: {} (dim {}) != {} (dim 0)",
            fmt_shape(a.shape()),
            fmt_shape(b.shape()),
            a.shape().last().copied().unwrap_or(0),
            a.ndim().saturating_sub(1),
            b.shape().first().copied().unwrap_or(0)
        ))
    };
    match (a.ndim(), b.ndim()) {
        (1, 1) => {
            if a.len() != b.len() {
                return Err(mismatch());
            }
            let x = a
                .view()
                .into_dimensionality::<Ix1>()
                .map_err(|e| ArrayError::Shape(e.to_string()))?;
            let y = b
                .view()
                .into_dimensionality::<Ix1>()
                .map_err(|e| ArrayError::Shape(e.to_string()))?;
            Ok(ArrayD::from_elem(IxDyn(&[]), x.dot(&y)))
        }
        (1 | 2, 1 | 2) => {
            let x = if a.ndim() == 1 {
                a.view().insert_axis(Axis(0))
            } else {
                a.view()
            };
            let y = if b.ndim() == 1 {
                b.view().insert_axis(Axis(1))
            } else {
                b.view()
            };
            let x = x
                .into_dimensionality::<Ix2>()
                .map_err(|e| ArrayError::Shape(e.to_string()))?;
            let y = y
                .into_dimensionality::<Ix2>()
                .map_err(|e| ArrayError::Shape(e.to_string()))?;
            if x.ncols() != y.nrows() {
                return Err(mismatch());
            }
            checked_size(&[x.nrows(), y.ncols()])?;
            let mut r = x.dot(&y).into_dyn();
            if b.ndim() == 1 {
                r = r.index_axis_move(Axis(1), 0);
            }
            if a.ndim() == 1 {
                r = r.index_axis_move(Axis(0), 0);
            }
            Ok(r)
        }
        _ => Err(ArrayError::Shape(format!(
            "matrix products take 1-D or 2-D arrays, not shapes {} and {}",
            fmt_shape(a.shape()),
            fmt_shape(b.shape())
        ))),
    }
}

/// One selector per axis in a multi-index such as `a[[0, ":", 1..3]]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Sel {
    /// A single position (negative counts from the end); the axis disappears.
    At(i64),
    /// Positions `start..end` by `step` (already clamped by [`Sel::range`]); the axis stays.
    Range(usize, usize),
    /// The whole axis.
    All,
}

impl Sel {
    /// A half-open range whose ends may be negative, clamped to the axis like Python slices.
    pub fn range(start: i64, end: i64, len: usize) -> Sel {
        let clamp = |i: i64| -> usize {
            let i = if i < 0 { i + len as i64 } else { i };
            i.clamp(0, len as i64) as usize
        };
        let (s, e) = (clamp(start), clamp(end));
        Sel::Range(s, e.max(s))
    }
}

fn check_sels(a: &ArrayD<f64>, sels: &[Sel]) -> Result<()> {
    if sels.len() > a.ndim() {
        return Err(ArrayError::Shape(format!(
            "too many indices ({}) for an array of shape {}",
            sels.len(),
            fmt_shape(a.shape())
        )));
    }
    for (ax, s) in sels.iter().enumerate() {
        let len = a.shape()[ax];
        match s {
            Sel::At(i) => {
                norm_index(*i, ax, len)?;
            }
            Sel::Range(s, e) if *s > len || *e > len => {
                return Err(ArrayError::Value(format!(
                    "range {s}..{e} out of bounds for axis {ax} with size {len}"
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

fn slice_info(a: &ArrayD<f64>, sels: &[Sel]) -> Result<Vec<ndarray::SliceInfoElem>> {
    use ndarray::SliceInfoElem as E;
    check_sels(a, sels)?;
    let mut v = Vec::with_capacity(a.ndim());
    for (ax, s) in sels.iter().enumerate() {
        v.push(match *s {
            Sel::At(i) => E::Index(norm_index(i, ax, a.shape()[ax])? as isize),
            Sel::Range(s, e) => E::Slice {
                start: s as isize,
                end: Some(e as isize),
                step: 1,
            },
            Sel::All => E::Slice {
                start: 0,
                end: None,
                step: 1,
            },
        });
    }
    for _ in sels.len()..a.ndim() {
        v.push(E::Slice {
            start: 0,
            end: None,
            step: 1,
        });
    }
    Ok(v)
}

/// The part of `a` that the selectors pick (a copy).
pub fn select(a: &ArrayD<f64>, sels: &[Sel]) -> Result<ArrayD<f64>> {
    let info = slice_info(a, sels)?;
    Ok(a.slice(info.as_slice()).to_owned())
}

/// Writes `value` (broadcast to the selected part) into `a`.
pub fn assign(a: &mut ArrayD<f64>, sels: &[Sel], value: &ArrayD<f64>) -> Result<()> {
    let info = slice_info(a, sels)?;
    let mut part = a.slice_mut(info.as_slice());
    let shape = part.shape().to_vec();
    let v = value.broadcast(IxDyn(&shape)).ok_or_else(|| {
        ArrayError::Shape(format!(
            "could not broadcast input array from shape {} into shape {}",
            fmt_shape(value.shape()),
            fmt_shape(&shape)
        ))
    })?;
    part.assign(&v);
    Ok(())
}

/// The elements at `indices` along `axis` (numpy `take`); negative indices count from the end.
pub fn take(a: &ArrayD<f64>, indices: &[i64], axis: i64) -> Result<ArrayD<f64>> {
    let ax = norm_axis(axis, a.ndim())?;
    let len = a.shape()[ax];
    let idx = indices
        .iter()
        .map(|&i| norm_index(i, ax, len))
        .collect::<Result<Vec<_>>>()?;
    Ok(a.select(Axis(ax), &idx))
}

fn check_mask(a: &ArrayD<f64>, mask: &ArrayD<f64>) -> Result<()> {
    if a.shape() != mask.shape() {
        return Err(ArrayError::Shape(format!(
            "boolean index of shape {} does not match the array's shape {}",
            fmt_shape(mask.shape()),
            fmt_shape(a.shape())
        )));
    }
    Ok(())
}

/// The elements where `mask` is true, as a 1-D array in row-major order.
pub fn masked(a: &ArrayD<f64>, mask: &ArrayD<f64>) -> Result<ArrayD<f64>> {
    check_mask(a, mask)?;
    let v: Vec<f64> = a
        .iter()
        .zip(mask.iter())
        .filter(|(_, &m)| m != 0.0)
        .map(|(&x, _)| x)
        .collect();
    let n = v.len();
    Ok(ArrayD::from_shape_vec(IxDyn(&[n]), v).expect("1-D shape of its own length"))
}

/// Sets the elements where `mask` is true to `value`: a scalar, or one value per true element.
pub fn assign_masked(a: &mut ArrayD<f64>, mask: &ArrayD<f64>, value: &ArrayD<f64>) -> Result<()> {
    check_mask(a, mask)?;
    let count = mask.iter().filter(|&&m| m != 0.0).count();
    if value.len() == 1 {
        let v = value.iter().next().copied().unwrap_or(f64::NAN);
        Zip::from(a).and(mask).for_each(|x, &m| {
            if m != 0.0 {
                *x = v
            }
        });
        return Ok(());
    }
    if value.len() != count {
        return Err(ArrayError::Shape(format!(
            "cannot assign {} values to the {count} elements where the mask is true",
            value.len()
        )));
    }
    let mut vals = value.iter();
    for (x, &m) in a.iter_mut().zip(mask.iter()) {
        if m != 0.0 {
            *x = *vals.next().unwrap_or(&f64::NAN);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shape(&[2, 3], &[3]).unwrap(), vec![2, 3]);
        assert_eq!(broadcast_shape(&[4, 1], &[1, 5]).unwrap(), vec![4, 5]);
        assert_eq!(broadcast_shape(&[], &[2]).unwrap(), vec![2]);
        let e = broadcast_shape(&[2, 3], &[4]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "operands could not be broadcast together with shapes (2, 3) and (4,)"
        );
    }

    #[test]
    fn column_plus_row_is_an_outer_sum() {
        let col = array![[1.0], [2.0]].into_dyn();
        let row = array![10.0, 20.0, 30.0].into_dyn();
        let s = binary(col, &row, |x, y| x + y).unwrap();
        assert_eq!(s, array![[11.0, 21.0, 31.0], [12.0, 22.0, 32.0]].into_dyn());
    }

    #[test]
    fn matmul_by_hand() {
        // [[1,2],[3,4]] @ [[5,6],[7,8]] = [[19,22],[43,50]]
        let a = array![[1.0, 2.0], [3.0, 4.0]].into_dyn();
        let b = array![[5.0, 6.0], [7.0, 8.0]].into_dyn();
        assert_eq!(
            dot(&a, &b).unwrap(),
            array![[19.0, 22.0], [43.0, 50.0]].into_dyn()
        );
        let v = array![1.0, 1.0].into_dyn();
        assert_eq!(dot(&a, &v).unwrap(), array![3.0, 7.0].into_dyn());
        assert_eq!(dot(&v, &a).unwrap(), array![4.0, 6.0].into_dyn());
        assert!(dot(&a, &array![1.0, 2.0, 3.0].into_dyn()).is_err());
    }

    #[test]
    fn python_modulo_sign() {
        assert_eq!(modulo(-7.0, 3.0), 2.0);
        assert_eq!(modulo(7.0, -3.0), -2.0);
    }

    #[test]
    fn selections_and_masks() {
        let a = super::super::arange(0.0, 12.0, 1.0)
            .unwrap()
            .into_shape_with_order(IxDyn(&[3, 4]))
            .unwrap();
        let r = select(&a, &[Sel::All, Sel::Range(1, 3)]).unwrap();
        assert_eq!(r, array![[1.0, 2.0], [5.0, 6.0], [9.0, 10.0]].into_dyn());
        assert_eq!(
            select(&a, &[Sel::At(-1), Sel::At(0)])
                .unwrap()
                .iter()
                .next(),
            Some(&8.0)
        );
        assert!(select(&a, &[Sel::At(3)]).is_err());
        let m = a.mapv(|x| (x > 9.0) as u8 as f64);
        assert_eq!(masked(&a, &m).unwrap(), array![10.0, 11.0].into_dyn());
    }
}
