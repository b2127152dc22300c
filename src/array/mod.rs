//! The numeric core behind the script `Array` type: n-dimensional `f64` arrays (ndarray)
//! with numpy semantics — broadcasting, reductions, sorting, ranking, printing and CSV.
//!
//! Plain Rust: no Rhai types here. Every function returns [`ArrayError`] instead of
//! panicking, so that nothing reachable from a script can panic.

pub mod csv;
pub mod format;
pub mod numpy;
pub mod ops;
pub mod reduce;

use ndarray::{ArrayD, IxDyn};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Largest number of elements an array may hold (2^31 - 1, just under 16 GiB of f64): a
/// guard that turns an accidental huge shape into an error instead of an out-of-memory
/// abort. Every constructor goes through [`alloc`], which checks it.
pub const MAX_ELEMENTS: usize = (1 << 31) - 1;

/// Most dimensions an array may have (numpy's limit of 32): deeper nesting is refused
/// before it can exhaust the stack.
pub const MAX_DIMS: usize = 32;

/// Everything that can go wrong in an array operation; messages follow numpy's wording.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArrayError {
    /// Two shapes that cannot be broadcast together.
    #[error("operands could not be broadcast together with shapes {} and {}", fmt_shape(.0), fmt_shape(.1))]
    Broadcast(Vec<usize>, Vec<usize>),
    /// An axis outside `-ndim..ndim`.
    #[error("axis {axis} is out of bounds for an array of dimension {ndim}")]
    Axis { axis: i64, ndim: usize },
    /// An index outside the axis length.
    #[error("index {index} is out of bounds for axis {axis} with size {len}")]
    Index { index: i64, axis: usize, len: usize },
    /// Any other shape problem (the message names the shapes).
    #[error("{0}")]
    Shape(String),
    /// A bad argument value (the message names it).
    #[error("{0}")]
    Value(String),
    /// A reduction with no identity asked of an empty array.
    #[error("{0} of an empty array has no value")]
    Empty(&'static str),
}

/// Result of an array operation.
pub type Result<T> = std::result::Result<T, ArrayError>;

/// A shape written as numpy writes it: `(2, 3)`, `(4,)`, `()`.
pub fn fmt_shape(shape: &[usize]) -> String {
    match shape {
        [] => "()".into(),
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Checks a requested shape and returns its number of elements.
pub fn checked_size(shape: &[usize]) -> Result<usize> {
    let mut n: usize = 1;
    for &d in shape {
        n = n
            .checked_mul(d)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| {
                ArrayError::Value(format!(
                    "shape {} has more than {MAX_ELEMENTS} elements",
                    fmt_shape(shape)
                ))
            })?;
    }
    Ok(n)
}

/// Turns a possibly negative axis into an index below `ndim`.
pub fn norm_axis(axis: i64, ndim: usize) -> Result<usize> {
    let a = if axis < 0 { axis + ndim as i64 } else { axis };
    if a < 0 || a >= ndim as i64 {
        return Err(ArrayError::Axis { axis, ndim });
    }
    Ok(a as usize)
}

/// Turns a possibly negative index into a position below `len` along `axis`.
pub fn norm_index(index: i64, axis: usize, len: usize) -> Result<usize> {
    let i = if index < 0 { index + len as i64 } else { index };
    if i < 0 || i >= len as i64 {
        return Err(ArrayError::Index { index, axis, len });
    }
    Ok(i as usize)
}

/// An empty vector with room for the elements of `shape`: the one size check of every
/// array constructor (more than [`MAX_ELEMENTS`] elements or [`MAX_DIMS`] dimensions,
/// or memory the system refuses, is an error, never an abort).
pub fn alloc(shape: &[usize]) -> Result<Vec<f64>> {
    if shape.len() > MAX_DIMS {
        return Err(ArrayError::Value(format!(
            "an array may have at most {MAX_DIMS} dimensions, not {}",
            shape.len()
        )));
    }
    let n = checked_size(shape)?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        ArrayError::Value(format!(
            "cannot allocate an array of shape {}",
            fmt_shape(shape)
        ))
    })?;
    Ok(v)
}

/// An array of `shape` filled with `value`.
pub fn full(shape: &[usize], value: f64) -> Result<ArrayD<f64>> {
    let mut v = alloc(shape)?;
    v.resize(checked_size(shape)?, value);
    from_vec(shape, v)
}

/// An array of `shape` from row-major values (their count must match).
pub fn from_vec(shape: &[usize], values: Vec<f64>) -> Result<ArrayD<f64>> {
    let n = values.len();
    ArrayD::from_shape_vec(IxDyn(shape), values).map_err(|_| {
        ArrayError::Shape(format!(
            "cannot make an array of shape {} from {n} values",
            fmt_shape(shape)
        ))
    })
}

/// The n x n identity matrix.
pub fn eye(n: usize) -> Result<ArrayD<f64>> {
    let mut a = full(&[n, n], 0.0)?;
    for i in 0..n {
        a[[i, i]] = 1.0;
    }
    Ok(a)
}

/// `num` evenly spaced values from `start` to `stop` inclusive (numpy `linspace`).
pub fn linspace(start: f64, stop: f64, num: usize) -> Result<ArrayD<f64>> {
    let mut v = alloc(&[num])?;
    let step = if num > 1 {
        (stop - start) / (num - 1) as f64
    } else {
        0.0
    };
    v.extend((0..num).map(|i| {
        if i + 1 == num && num > 1 {
            stop
        } else {
            start + step * i as f64
        }
    }));
    from_vec(&[num], v)
}

/// Values from `start` up to but excluding `stop` by `step` (numpy `arange`).
pub fn arange(start: f64, stop: f64, step: f64) -> Result<ArrayD<f64>> {
    if step == 0.0 || !step.is_finite() || !start.is_finite() || !stop.is_finite() {
        return Err(ArrayError::Value(format!(
            "arange needs finite start, stop and a non-zero step (got {start}, {stop}, {step})"
        )));
    }
    let n = ((stop - start) / step).ceil().max(0.0);
    if n > MAX_ELEMENTS as f64 {
        return Err(ArrayError::Value(format!(
            "arange({start}, {stop}, {step}) is too long"
        )));
    }
    let n = n as usize;
    let mut v = alloc(&[n])?;
    v.extend((0..n).map(|i| start + step * i as f64));
    from_vec(&[n], v)
}

/// Uniform random numbers in [0, 1), reproducible from `seed` (ChaCha8).
pub fn rand(shape: &[usize], seed: u64) -> Result<ArrayD<f64>> {
    let mut v = alloc(shape)?;
    let n = checked_size(shape)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    v.extend((0..n).map(|_| rand::Rng::gen::<f64>(&mut rng)));
    from_vec(shape, v)
}

/// Standard normal random numbers, reproducible from `seed` (ChaCha8).
pub fn randn(shape: &[usize], seed: u64) -> Result<ArrayD<f64>> {
    let mut v = alloc(shape)?;
    let n = checked_size(shape)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    v.extend((0..n).map(|_| -> f64 { StandardNormal.sample(&mut rng) }));
    from_vec(shape, v)
}

/// A new shape for the same elements; one entry may be -1 (inferred).
pub fn reshape(a: &ArrayD<f64>, shape: &[i64]) -> Result<ArrayD<f64>> {
    let bad = || {
        ArrayError::Shape(format!(
            "cannot reshape array of size {} and shape {} into shape {:?}",
            a.len(),
            fmt_shape(a.shape()),
            shape
        ))
    };
    let unknown: Vec<usize> = (0..shape.len()).filter(|&i| shape[i] == -1).collect();
    if unknown.len() > 1 || shape.iter().any(|&d| d < -1) {
        return Err(bad());
    }
    let known: Vec<usize> = shape
        .iter()
        .filter(|&&d| d >= 0)
        .map(|&d| d as usize)
        .collect();
    let known_size = checked_size(&known)?;
    let mut dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
    if let Some(&i) = unknown.first() {
        if known_size == 0 || !a.len().is_multiple_of(known_size) {
            return Err(bad());
        }
        dims[i] = a.len() / known_size;
    } else if known_size != a.len() {
        return Err(bad());
    }
    from_vec(&dims, a.iter().copied().collect())
}

/// Permutes the axes; `None` reverses them (numpy `transpose`).
pub fn transpose(a: &ArrayD<f64>, axes: Option<&[i64]>) -> Result<ArrayD<f64>> {
    let nd = a.ndim();
    let perm: Vec<usize> = match axes {
        None => (0..nd).rev().collect(),
        Some(ax) => {
            let p = ax
                .iter()
                .map(|&x| norm_axis(x, nd))
                .collect::<Result<Vec<_>>>()?;
            let mut seen = p.clone();
            seen.sort_unstable();
            seen.dedup();
            if p.len() != nd || seen.len() != nd {
                return Err(ArrayError::Value(format!(
                    "axes {ax:?} do not permute the {nd} axes of an array of shape {}",
                    fmt_shape(a.shape())
                )));
            }
            p
        }
    };
    Ok(a.view()
        .permuted_axes(IxDyn(&perm))
        .as_standard_layout()
        .into_owned())
}

/// Joins arrays along an existing axis (numpy `concatenate`).
pub fn concat(arrays: &[&ArrayD<f64>], axis: i64) -> Result<ArrayD<f64>> {
    let first = arrays
        .first()
        .ok_or_else(|| ArrayError::Value("concat needs at least one array".into()))?;
    let ax = norm_axis(axis, first.ndim().max(1))?;
    if first.ndim() == 0 {
        return Err(ArrayError::Shape(
            "zero-dimensional arrays cannot be concatenated".into(),
        ));
    }
    for b in arrays {
        let ok = b.ndim() == first.ndim()
            && (0..b.ndim()).all(|i| i == ax || b.shape()[i] == first.shape()[i]);
        if !ok {
            return Err(ArrayError::Shape(format!(
                "all arrays must match except along axis {ax}: shapes {} and {}",
                fmt_shape(first.shape()),
                fmt_shape(b.shape())
            )));
        }
    }
    let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
    ndarray::concatenate(ndarray::Axis(ax), &views).map_err(|e| ArrayError::Shape(e.to_string()))
}

/// Joins equal-shaped arrays along a new axis (numpy `stack`).
pub fn stack(arrays: &[&ArrayD<f64>], axis: i64) -> Result<ArrayD<f64>> {
    let first = arrays
        .first()
        .ok_or_else(|| ArrayError::Value("stack needs at least one array".into()))?;
    let ax = norm_axis(axis, first.ndim() + 1)?;
    if let Some(b) = arrays.iter().find(|b| b.shape() != first.shape()) {
        return Err(ArrayError::Shape(format!(
            "all arrays must have the same shape to stack: {} and {}",
            fmt_shape(first.shape()),
            fmt_shape(b.shape())
        )));
    }
    let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
    ndarray::stack(ndarray::Axis(ax), &views).map_err(|e| ArrayError::Shape(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_print_like_numpy() {
        assert_eq!(fmt_shape(&[]), "()");
        assert_eq!(fmt_shape(&[4]), "(4,)");
        assert_eq!(fmt_shape(&[2, 3]), "(2, 3)");
    }

    #[test]
    fn reshape_infers_one_dimension() {
        let a = arange(0.0, 12.0, 1.0).unwrap();
        assert_eq!(reshape(&a, &[3, -1]).unwrap().shape(), &[3, 4]);
        assert!(reshape(&a, &[5, -1]).is_err());
        assert!(reshape(&a, &[-1, -1]).is_err());
    }

    #[test]
    fn huge_shapes_are_refused_not_allocated() {
        assert!(full(&[1 << 20, 1 << 20], 0.0).is_err());
        assert!(full(&[usize::MAX, 2], 0.0).is_err());
        // 2^31 elements is one too many (issue 18): refused by the check, not allocated
        assert!(full(&[1 << 31], 0.0).is_err());
        assert!(arange(0.0, 2147483648.0, 1.0).is_err());
        assert!(linspace(0.0, 1.0, 1 << 31).is_err());
        assert!(rand(&[1 << 31], 1).is_err());
        assert!(randn(&[1 << 16, 1 << 15], 1).is_err());
        assert!(full(&[1; 33], 0.0).is_err());
        assert_eq!(full(&[1; 32], 2.0).unwrap().sum(), 2.0);
    }

    #[test]
    fn linspace_hits_both_ends() {
        // numpy.linspace(0, 1, 5) = [0, 0.25, 0.5, 0.75, 1]
        let a = linspace(0.0, 1.0, 5).unwrap();
        assert_eq!(a.as_slice().unwrap(), &[0.0, 0.25, 0.5, 0.75, 1.0]);
        // numpy.arange(1, 2, 0.3) has 4 values: 1, 1.3, 1.6, 1.9
        assert_eq!(arange(1.0, 2.0, 0.3).unwrap().len(), 4);
    }

    #[test]
    fn seeded_random_numbers_repeat() {
        assert_eq!(rand(&[5], 7).unwrap(), rand(&[5], 7).unwrap());
        assert_ne!(rand(&[5], 7).unwrap(), rand(&[5], 8).unwrap());
        let z = randn(&[20000], 1).unwrap();
        let m = z.mean().unwrap();
        assert!(m.abs() < 0.03, "mean of 20000 normals {m}");
    }
}
