//! The script `Array` type: the numeric core of [`crate::array`] with numpy's names.
//!
//! An `Array` holds its data behind an `Arc`, so passing it between Rhai calls never copies
//! the numbers; writing into one (`a[0] = 1.0`) copies only if another variable still
//! shares the same data (Rhai values behave as values, not references).

use crate::array::{
    self as core, fmt_shape,
    ops::{self, Sel},
    reduce::{self, Reduction, TieMethod},
    ArrayError,
};
use ndarray::{ArrayD, IxDyn};
use rhai::plugin::*;
use rhai::{Dynamic, FuncRegistration, Map, Module, FLOAT, INT};
use std::sync::Arc;

use super::convert::{int_list, number, script_err, shape_arg, type_name, usize_arg, RResult};

/// A Rhai list (Rhai's own array of values).
type List = rhai::Array;

/// An n-dimensional array of f64 for scripts; `mask` marks arrays of booleans (0/1).
#[derive(Clone, Debug)]
pub struct NdArray {
    data: Arc<ArrayD<f64>>,
    mask: bool,
    /// Names of the last axis's entries (a cost's candidates: the parameters), if any:
    /// `a["kmax"]` is then that column. Arithmetic drops them.
    columns: Option<Arc<Vec<String>>>,
}

impl NdArray {
    /// Wraps numbers.
    pub fn new(a: ArrayD<f64>) -> Self {
        NdArray {
            data: Arc::new(a),
            mask: false,
            columns: None,
        }
    }
    /// Wraps a boolean mask stored as 0/1.
    pub fn new_mask(a: ArrayD<f64>) -> Self {
        NdArray {
            data: Arc::new(a),
            mask: true,
            columns: None,
        }
    }
    /// A matrix whose columns are named (a cost's candidates, one column per parameter):
    /// `a["name"]` is that column; a name it does not have is an error naming the nearest.
    pub fn with_columns(a: ArrayD<f64>, columns: Vec<String>) -> Self {
        NdArray {
            data: Arc::new(a),
            mask: false,
            columns: Some(Arc::new(columns)),
        }
    }
    /// The names of the last axis's entries, if it has them.
    pub fn columns(&self) -> Option<&[String]> {
        self.columns.as_deref().map(|c| c.as_slice())
    }
    /// The numbers.
    pub fn data(&self) -> &ArrayD<f64> {
        &self.data
    }
    /// Whether this is a boolean mask.
    pub fn is_mask(&self) -> bool {
        self.mask
    }
    /// The numbers, owned (copied only when shared).
    pub fn into_data(self) -> ArrayD<f64> {
        Arc::try_unwrap(self.data).unwrap_or_else(|a| (*a).clone())
    }
    fn data_mut(&mut self) -> &mut ArrayD<f64> {
        Arc::make_mut(&mut self.data)
    }
}

fn ok<T>(r: Result<T, ArrayError>) -> RResult<T> {
    r.map_err(script_err)
}

/// Builds an array from nested lists (ragged lists are an error naming the place).
fn from_list(list: &List) -> RResult<NdArray> {
    fn walk(
        d: &Dynamic,
        depth: usize,
        shape: &mut Vec<usize>,
        out: &mut Vec<f64>,
        bools: &mut (bool, bool),
        path: &str,
    ) -> RResult<()> {
        if let Some(list) = d.read_lock::<List>() {
            if depth >= core::MAX_DIMS {
                return Err(script_err(format!(
                    "nested list {path} is deeper than {} levels (an array has at most {} dimensions)",
                    core::MAX_DIMS,
                    core::MAX_DIMS
                )));
            }
            if shape.len() == depth {
                if !out.is_empty() {
                    return Err(script_err(format!(
                        "ragged nested list: {path} is a list where a number was expected"
                    )));
                }
                shape.push(list.len());
            } else if shape[depth] != list.len() {
                return Err(script_err(format!(
                    "ragged nested list: {path} has {} items, expected {}",
                    list.len(),
                    shape[depth]
                )));
            }
            for (i, x) in list.iter().enumerate() {
                walk(x, depth + 1, shape, out, bools, &format!("{path}[{i}]"))?;
            }
            return Ok(());
        }
        if let Some(a) = d.read_lock::<NdArray>() {
            // an Array inside a list: its dimensions continue the shape
            let sub: Vec<usize> = a.data.shape().to_vec();
            if shape.len() == depth {
                shape.extend_from_slice(&sub);
            } else if shape[depth..] != sub[..] {
                return Err(script_err(format!(
                    "ragged nested list: {path} has shape {}",
                    fmt_shape(&sub)
                )));
            }
            bools.0 &= a.mask;
            bools.1 = true;
            out.extend(a.data.iter());
            return Ok(());
        }
        if shape.len() != depth {
            return Err(script_err(format!(
                "ragged nested list: {path} is a number where a list was expected"
            )));
        }
        let x = if let Ok(b) = d.as_bool() {
            bools.1 = true;
            b as u8 as f64
        } else {
            bools.0 = false;
            bools.1 = true;
            number(d, &format!("array element {path}"))?
        };
        out.push(x);
        Ok(())
    }
    let mut shape = vec![list.len()];
    let mut out = Vec::new();
    let mut bools = (true, false);
    for (i, x) in list.iter().enumerate() {
        walk(x, 1, &mut shape, &mut out, &mut bools, &format!("[{i}]"))?;
    }
    let a = ok(core::from_vec(&shape, out))?;
    Ok(if bools.0 && bools.1 {
        NdArray::new_mask(a)
    } else {
        NdArray::new(a)
    })
}

/// Any array-like value: an Array, a number, a bool or a (nested) list.
pub fn operand(d: &Dynamic) -> RResult<NdArray> {
    if let Some(a) = d.read_lock::<NdArray>() {
        return Ok(a.clone());
    }
    if let Ok(b) = d.as_bool() {
        return Ok(NdArray::new_mask(ArrayD::from_elem(
            IxDyn(&[]),
            b as u8 as f64,
        )));
    }
    if let Some(list) = d.read_lock::<List>() {
        return from_list(&list);
    }
    let x = number(d, "an operand").map_err(|_| {
        script_err(format!(
            "expected an Array, a number or a list, not {}",
            type_name(d)
        ))
    })?;
    Ok(NdArray::new(ArrayD::from_elem(IxDyn(&[]), x)))
}

fn binop(a: NdArray, b: &Dynamic, f: fn(f64, f64) -> f64) -> RResult<NdArray> {
    let b = operand(b)?;
    let out = match Arc::try_unwrap(a.data) {
        Ok(owned) => ops::binary(owned, &b.data, f),
        Err(shared) => ops::binary_ref(&shared, &b.data, f),
    };
    ok(out).map(NdArray::new)
}

fn binop_rev(a: &Dynamic, b: NdArray, f: fn(f64, f64) -> f64) -> RResult<NdArray> {
    let a = operand(a)?;
    let out = match Arc::try_unwrap(b.data) {
        Ok(owned) => ops::binary(owned, &a.data, move |y, x| f(x, y)),
        Err(shared) => ops::binary_ref(&a.data, &shared, f),
    };
    ok(out).map(NdArray::new)
}

fn compare(a: &NdArray, b: &Dynamic, f: fn(f64, f64) -> bool) -> RResult<NdArray> {
    let b = operand(b)?;
    ok(ops::binary_ref(&a.data, &b.data, move |x, y| {
        f(x, y) as u8 as f64
    }))
    .map(NdArray::new_mask)
}

fn compare_rev(a: &Dynamic, b: &NdArray, f: fn(f64, f64) -> bool) -> RResult<NdArray> {
    let a = operand(a)?;
    ok(ops::binary_ref(&a.data, &b.data, move |x, y| {
        f(x, y) as u8 as f64
    }))
    .map(NdArray::new_mask)
}

/// One element as a script value (bool for masks).
fn scalar(x: f64, mask: bool) -> Dynamic {
    if mask {
        Dynamic::from_bool(x != 0.0)
    } else {
        Dynamic::from_float(x)
    }
}

fn wrap(a: ArrayD<f64>, mask: bool) -> Dynamic {
    if a.ndim() == 0 {
        scalar(a.iter().next().copied().unwrap_or(f64::NAN), mask)
    } else {
        Dynamic::from(NdArray {
            data: Arc::new(a),
            mask,
            columns: None,
        })
    }
}

/// Index selectors from an index value: int, range, ":" or a list of these.
fn selectors(a: &ArrayD<f64>, idx: &Dynamic) -> RResult<Vec<Sel>> {
    fn one(x: &Dynamic, axis: usize, a: &ArrayD<f64>) -> RResult<Sel> {
        let len = a.shape().get(axis).copied().unwrap_or(0);
        if let Ok(i) = x.as_int() {
            return Ok(Sel::At(i));
        }
        if let Some(r) = x.read_lock::<std::ops::Range<INT>>() {
            return Ok(Sel::range(r.start, r.end, len));
        }
        if let Some(r) = x.read_lock::<std::ops::RangeInclusive<INT>>() {
            return Ok(Sel::range(*r.start(), r.end().saturating_add(1), len));
        }
        if x.is_unit() || x.clone().into_string().is_ok_and(|s| s == ":") {
            return Ok(Sel::All);
        }
        Err(script_err(format!(
            "an index is an int, a range such as 1..3, \":\" or a list of these, not {}",
            type_name(x)
        )))
    }
    if let Some(list) = idx.read_lock::<List>() {
        if list.len() > a.ndim() {
            return Err(script_err(format!(
                "too many indices ({}) for an array of {} axes: a list inside a[...] is one \
                 position per axis (a[[i, j]]); to pick elements by a list of positions (e.g. \
                 from argsort) use a.take(idx, 0) or a[array(idx)]",
                list.len(),
                a.ndim()
            )));
        }
        return list
            .iter()
            .enumerate()
            .map(|(ax, x)| one(x, ax, a))
            .collect();
    }
    Ok(vec![one(idx, 0, a)?])
}

fn get_index(a: &NdArray, idx: &Dynamic) -> RResult<Dynamic> {
    if let Some(name) = idx.read_lock::<rhai::ImmutableString>() {
        return column(a, name.as_str());
    }
    if let Some(ix) = idx.read_lock::<NdArray>() {
        if ix.mask {
            return ok(ops::masked(&a.data, &ix.data)).map(|r| {
                Dynamic::from(NdArray {
                    data: Arc::new(r),
                    mask: a.mask,
                    columns: None,
                })
            });
        }
        let list = int_list(idx, "array indices")?;
        return ok(ops::take(&a.data, &list, 0)).map(|r| wrap(r, a.mask));
    }
    if a.data.ndim() == 0 {
        return Err(script_err("a 0-d array cannot be indexed: use item(a)"));
    }
    let sels = selectors(&a.data, idx)?;
    ok(ops::select(&a.data, &sels)).map(|r| wrap(r, a.mask))
}

/// The column `name` of an Array with named columns (the last axis).
fn column(a: &NdArray, name: &str) -> RResult<Dynamic> {
    let Some(cols) = a.columns() else {
        return Err(script_err(format!(
            "this Array has no named columns: a[\"{name}\"] needs one (a cost's candidates x have them, one per parameter)"
        )));
    };
    let Some(k) = cols.iter().position(|c| c == name) else {
        return Err(script_err(format!(
            "no column \"{name}\": {}",
            crate::nc::nearest_list(name, cols)
        )));
    };
    let axis = a.data.ndim() - 1;
    let r = ok(ops::take(&a.data, &[k as i64], axis as i64))?;
    let shape: Vec<usize> = r.shape()[..axis].to_vec();
    let r = r
        .into_shape_with_order(ndarray::IxDyn(&shape))
        .map_err(|e| script_err(format!("column {name}: {e}")))?;
    Ok(wrap(r, a.mask))
}

fn set_index(a: &mut NdArray, idx: &Dynamic, value: &Dynamic) -> RResult<()> {
    let v = operand(value)?;
    if let Some(ix) = idx.read_lock::<NdArray>() {
        if ix.mask {
            return ok(ops::assign_masked(a.data_mut(), &ix.data, &v.data));
        }
        for i in int_list(idx, "array indices")? {
            ok(ops::assign(a.data_mut(), &[Sel::At(i)], &v.data))?;
        }
        return Ok(());
    }
    if a.data.ndim() == 0 {
        return Err(script_err("a 0-d array cannot be indexed"));
    }
    let sels = selectors(&a.data, idx)?;
    ok(ops::assign(a.data_mut(), &sels, &v.data))?;
    if !v.mask {
        a.mask = false;
    }
    Ok(())
}

fn arrays_of(list: &List, what: &str) -> RResult<Vec<NdArray>> {
    list.iter()
        .enumerate()
        .map(|(i, d)| operand(d).map_err(|e| script_err(format!("{what}: item {i}: {e}"))))
        .collect()
}

fn to_list_rec(a: ndarray::ArrayViewD<f64>, mask: bool) -> Dynamic {
    if a.ndim() == 0 {
        return scalar(a.iter().next().copied().unwrap_or(f64::NAN), mask);
    }
    let items: List = a.outer_iter().map(|sub| to_list_rec(sub, mask)).collect();
    Dynamic::from_array(items)
}

/// Positions held as floats (exact small integers) as nested Rhai lists of ints.
fn int_nested_list(a: ndarray::ArrayViewD<f64>) -> Dynamic {
    if a.ndim() == 0 {
        return Dynamic::from_int(a.iter().next().copied().unwrap_or(0.0) as INT);
    }
    let items: List = a.outer_iter().map(int_nested_list).collect();
    Dynamic::from_array(items)
}

fn ddof_axis(opts: &Map) -> RResult<(Option<i64>, f64)> {
    for k in opts.keys() {
        if k != "axis" && k != "ddof" {
            return Err(script_err(format!(
                "unknown option '{k}': std and variance take axis and ddof",
                k = crate::format::printable(k)
            )));
        }
    }
    let axis = match opts.get("axis") {
        Some(d) if !d.is_unit() => Some(
            d.as_int()
                .map_err(|_| script_err("option axis must be an int"))?,
        ),
        _ => None,
    };
    let ddof = match opts.get("ddof") {
        Some(d) => number(d, "option ddof")?,
        None => 0.0,
    };
    Ok((axis, ddof))
}

fn reduce_opt(a: &NdArray, axis: Option<i64>, r: Reduction, skip_nan: bool) -> RResult<Dynamic> {
    match axis {
        None => ok(reduce::reduce_all(&a.data, r, skip_nan)).map(Dynamic::from_float),
        Some(ax) => ok(reduce::reduce_axis(&a.data, ax, r, skip_nan))
            .map(|x| Dynamic::from(NdArray::new(x))),
    }
}

/// The functions of the `array` module.
#[export_module]
pub mod array_fns {
    use super::*;

    /// An n-dimensional array of floating-point numbers (numpy's `ndarray`, float64), or of
    /// booleans when it is a mask made by a comparison. Arithmetic broadcasts as in numpy.
    ///
    /// ```rhai
    /// let a = array([[1, 2], [3, 4]]);
    /// a.shape       //=> [2, 2]
    /// a * 10 + 1    //=> [[11. 21.]
    ///               //=>  [31. 41.]]
    /// let total = 0.0;
    /// for row in a { total += row.sum(); }    // `for` runs over the first axis
    /// total         //=> 10.0
    /// ```
    pub type Array = NdArray;

    // ---- creation -----------------------------------------------------------------------

    /// An array from a (nested) list of numbers or booleans, a number, or another Array.
    ///
    /// ```rhai
    /// array([[1, 2, 3], [4, 5, 6]]).shape    //=> [2, 3]
    /// array([true, false])                   //=> [ True False]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn array(values: Dynamic) -> RResult<NdArray> {
        operand(&values)
    }

    /// An array of zeros; `shape` is an int or a list of ints.
    ///
    /// ```rhai
    /// zeros([2, 3])    //=> [[0. 0. 0.]
    ///                  //=>  [0. 0. 0.]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn zeros(shape: Dynamic) -> RResult<NdArray> {
        ok(core::full(&shape_arg(&shape)?, 0.0)).map(NdArray::new)
    }

    /// An array of ones.
    ///
    /// ```rhai
    /// ones(3)    //=> [1. 1. 1.]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn ones(shape: Dynamic) -> RResult<NdArray> {
        ok(core::full(&shape_arg(&shape)?, 1.0)).map(NdArray::new)
    }

    /// An array of `shape` filled with `value`.
    ///
    /// ```rhai
    /// full([2], 7.5)    //=> [7.5 7.5]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn full(shape: Dynamic, value: Dynamic) -> RResult<NdArray> {
        ok(core::full(&shape_arg(&shape)?, number(&value, "value")?)).map(NdArray::new)
    }

    /// The `n` x `n` identity matrix.
    ///
    /// ```rhai
    /// eye(2)    //=> [[1. 0.]
    ///           //=>  [0. 1.]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn eye(n: INT) -> RResult<NdArray> {
        ok(core::eye(usize_arg(n, "n")?)).map(NdArray::new)
    }

    /// `num` evenly spaced numbers from `start` to `stop`, both included.
    ///
    /// ```rhai
    /// linspace(0, 1, 5)    //=> [0.   0.25 0.5  0.75 1.  ]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn linspace(start: Dynamic, stop: Dynamic, num: INT) -> RResult<NdArray> {
        ok(core::linspace(
            number(&start, "start")?,
            number(&stop, "stop")?,
            usize_arg(num, "num")?,
        ))
        .map(NdArray::new)
    }

    /// 0, 1, ... up to but excluding `stop`.
    ///
    /// ```rhai
    /// arange(4)    //=> [0. 1. 2. 3.]
    /// ```
    #[rhai_fn(name = "arange", return_raw)]
    pub fn arange1(stop: Dynamic) -> RResult<NdArray> {
        ok(core::arange(0.0, number(&stop, "stop")?, 1.0)).map(NdArray::new)
    }

    /// `start`, `start + 1`, ... up to but excluding `stop`.
    ///
    /// ```rhai
    /// arange(2, 5)    //=> [2. 3. 4.]
    /// ```
    #[rhai_fn(name = "arange", return_raw)]
    pub fn arange2(start: Dynamic, stop: Dynamic) -> RResult<NdArray> {
        ok(core::arange(
            number(&start, "start")?,
            number(&stop, "stop")?,
            1.0,
        ))
        .map(NdArray::new)
    }

    /// `start`, `start + step`, ... up to but excluding `stop`.
    ///
    /// ```rhai
    /// arange(1, 2, 0.25)    //=> [1.   1.25 1.5  1.75]
    /// ```
    #[rhai_fn(name = "arange", return_raw)]
    pub fn arange3(start: Dynamic, stop: Dynamic, step: Dynamic) -> RResult<NdArray> {
        ok(core::arange(
            number(&start, "start")?,
            number(&stop, "stop")?,
            number(&step, "step")?,
        ))
        .map(NdArray::new)
    }

    /// Uniform random numbers in [0, 1); the same `seed` gives the same numbers everywhere.
    ///
    /// ```rhai
    /// let r = rand([1000], 42);
    /// r.min() >= 0.0 && r.max() < 1.0    //=> true
    /// rand(3, 42) == rand(3, 42)          //=> [ True  True  True]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn rand(shape: Dynamic, seed: INT) -> RResult<NdArray> {
        ok(core::rand(&shape_arg(&shape)?, seed as u64)).map(NdArray::new)
    }

    /// Standard normal random numbers (mean 0, standard deviation 1) from `seed`.
    ///
    /// ```rhai
    /// abs(randn(100000, 1).mean()) < 0.01    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn randn(shape: Dynamic, seed: INT) -> RResult<NdArray> {
        ok(core::randn(&shape_arg(&shape)?, seed as u64)).map(NdArray::new)
    }

    // ---- attributes ---------------------------------------------------------------------

    /// The length of each dimension, as a list (also `a.shape`).
    ///
    /// ```rhai
    /// zeros([2, 3, 4]).shape()    //=> [2, 3, 4]
    /// ```
    #[rhai_fn(name = "shape", get = "shape", pure)]
    pub fn shape(a: &mut NdArray) -> List {
        a.data
            .shape()
            .iter()
            .map(|&d| Dynamic::from_int(d as INT))
            .collect()
    }

    /// The number of dimensions (also `a.ndim`).
    ///
    /// ```rhai
    /// zeros([2, 3]).ndim    //=> 2
    /// ```
    #[rhai_fn(name = "ndim", get = "ndim", pure)]
    pub fn ndim(a: &mut NdArray) -> INT {
        a.data.ndim() as INT
    }

    /// The number of elements (also `a.size`).
    ///
    /// ```rhai
    /// zeros([2, 3]).size    //=> 6
    /// ```
    #[rhai_fn(name = "size", get = "size", pure)]
    pub fn size(a: &mut NdArray) -> INT {
        a.data.len() as INT
    }

    /// The length of the first dimension (numpy's `len`); 0-d arrays have none.
    ///
    /// ```rhai
    /// zeros([2, 3]).len()    //=> 2
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn len(a: &mut NdArray) -> RResult<INT> {
        match a.data.shape().first() {
            Some(&n) => Ok(n as INT),
            None => Err(script_err("len() of a 0-d array")),
        }
    }

    /// True for a boolean mask (the result of a comparison).
    ///
    /// ```rhai
    /// (arange(3) > 1).is_mask    //=> true
    /// ```
    #[rhai_fn(name = "is_mask", get = "is_mask", pure)]
    pub fn is_mask(a: &mut NdArray) -> bool {
        a.mask
    }

    /// The transpose (`a.T`, numpy's attribute).
    ///
    /// ```rhai
    /// array([[1, 2]]).T    //=> [[1.]
    ///                      //=>  [2.]]
    /// ```
    #[rhai_fn(get = "T", pure, return_raw)]
    pub fn t(a: &mut NdArray) -> RResult<NdArray> {
        ok(core::transpose(&a.data, None)).map(|x| NdArray {
            data: Arc::new(x),
            mask: a.mask,
            columns: None,
        })
    }

    // ---- shape --------------------------------------------------------------------------

    /// The same elements in a new shape; one dimension may be -1 (inferred).
    ///
    /// ```rhai
    /// arange(6).reshape([2, -1])    //=> [[0. 1. 2.]
    ///                               //=>  [3. 4. 5.]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn reshape(a: NdArray, shape: Dynamic) -> RResult<NdArray> {
        let dims = int_list(&shape, "a shape")?;
        ok(core::reshape(&a.data, &dims)).map(|x| NdArray {
            data: Arc::new(x),
            mask: a.mask,
            columns: None,
        })
    }

    /// Reverses the axes (a matrix's transpose).
    ///
    /// ```rhai
    /// zeros([2, 3, 4]).transpose().shape    //=> [4, 3, 2]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn transpose(a: NdArray) -> RResult<NdArray> {
        ok(core::transpose(&a.data, None)).map(|x| NdArray {
            data: Arc::new(x),
            mask: a.mask,
            columns: None,
        })
    }

    /// Permutes the axes in the order given.
    ///
    /// ```rhai
    /// zeros([2, 3, 4]).transpose([1, 0, 2]).shape    //=> [3, 2, 4]
    /// ```
    #[rhai_fn(name = "transpose", return_raw)]
    pub fn transpose_axes(a: NdArray, axes: List) -> RResult<NdArray> {
        let ax = int_list(&Dynamic::from_array(axes), "axes")?;
        ok(core::transpose(&a.data, Some(&ax))).map(|x| NdArray {
            data: Arc::new(x),
            mask: a.mask,
            columns: None,
        })
    }

    /// All elements in one dimension, row by row.
    ///
    /// ```rhai
    /// array([[1, 2], [3, 4]]).flatten()    //=> [1. 2. 3. 4.]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn flatten(a: NdArray) -> RResult<NdArray> {
        ok(core::reshape(&a.data, &[-1])).map(|x| NdArray {
            data: Arc::new(x),
            mask: a.mask,
            columns: None,
        })
    }

    /// The part along `axis` in `range` (e.g. `1..3`, `0..=2`), all other axes whole.
    ///
    /// ```rhai
    /// arange(12).reshape([3, 4]).slice(1, 1..3)    //=> [[ 1.  2.]
    ///                                               //=>  [ 5.  6.]
    ///                                               //=>  [ 9. 10.]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn slice(a: NdArray, axis: INT, range: Dynamic) -> RResult<NdArray> {
        let ax = ok(core::norm_axis(axis, a.data.ndim()))?;
        let mut sels = vec![Sel::All; ax + 1];
        let len = a.data.shape()[ax];
        sels[ax] = if let Some(r) = range.read_lock::<std::ops::Range<INT>>() {
            Sel::range(r.start, r.end, len)
        } else if let Some(r) = range.read_lock::<std::ops::RangeInclusive<INT>>() {
            Sel::range(*r.start(), r.end().saturating_add(1), len)
        } else {
            return Err(script_err(format!(
                "slice takes a range such as 1..3, not {}",
                type_name(&range)
            )));
        };
        ok(ops::select(&a.data, &sels)).map(|x| NdArray {
            data: Arc::new(x),
            mask: a.mask,
            columns: None,
        })
    }

    /// The elements at `indices` along `axis` (negative indices count from the end).
    ///
    /// ```rhai
    /// array([10, 20, 30]).take([2, 0], 0)    //=> [30. 10.]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn take(a: NdArray, indices: Dynamic, axis: INT) -> RResult<NdArray> {
        let idx = int_list(&indices, "indices")?;
        ok(ops::take(&a.data, &idx, axis)).map(|x| NdArray {
            data: Arc::new(x),
            mask: a.mask,
            columns: None,
        })
    }

    /// Joins a list of arrays along an existing `axis`.
    ///
    /// ```rhai
    /// concat([ones([1, 2]), zeros([1, 2])], 0)    //=> [[1. 1.]
    ///                                              //=>  [0. 0.]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn concat(arrays: List, axis: INT) -> RResult<NdArray> {
        let v = arrays_of(&arrays, "concat")?;
        let refs: Vec<&ArrayD<f64>> = v.iter().map(|a| a.data()).collect();
        ok(core::concat(&refs, axis)).map(NdArray::new)
    }

    /// Joins equal-shaped arrays along a new `axis`.
    ///
    /// ```rhai
    /// stack([ones(2), zeros(2)], 1)    //=> [[1. 0.]
    ///                                  //=>  [1. 0.]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn stack(arrays: List, axis: INT) -> RResult<NdArray> {
        let v = arrays_of(&arrays, "stack")?;
        let refs: Vec<&ArrayD<f64>> = v.iter().map(|a| a.data()).collect();
        ok(core::stack(&refs, axis)).map(NdArray::new)
    }

    // ---- indexing -----------------------------------------------------------------------

    /// `a[i]`, `a[1..3]`, `a[[i, j]]`, `a[[":", 2]]`, `a[mask]`, `a[indices]`: an int
    /// selects along the first axis (a number when nothing is left), a range keeps the axis,
    /// a list indexes several axes (`":"` = the whole axis), a mask picks elements, an
    /// Array of ints picks rows. Negative indices count from the end.
    ///
    /// ```rhai
    /// let a = arange(6).reshape([2, 3]);
    /// a[1]            //=> [3. 4. 5.]
    /// a[[1, -1]]      //=> 5.0
    /// a[[":", 0..2]]  //=> [[0. 1.]
    ///                 //=>  [3. 4.]]
    /// a[a > 3]        //=> [4. 5.]
    /// ```
    #[rhai_fn(index_get, return_raw, pure)]
    pub fn index_get(a: &mut NdArray, index: Dynamic) -> RResult<Dynamic> {
        get_index(a, &index)
    }

    /// `a[index] = value`: the same indices as reading; `value` broadcasts.
    ///
    /// ```rhai
    /// let a = zeros([2, 3]);
    /// a[0] = 1;
    /// a[[1, 2]] = 5;
    /// a[a == 0] = -1;
    /// a    //=> [[ 1.  1.  1.]
    ///      //=>  [-1. -1.  5.]]
    /// ```
    #[rhai_fn(index_set, return_raw)]
    pub fn index_set(a: &mut NdArray, index: Dynamic, value: Dynamic) -> RResult<()> {
        set_index(a, &index, &value)
    }

    // ---- arithmetic and comparisons -------------------------------------------------------

    /// Element-wise sum with numpy broadcasting (Array, number or list on either side).
    ///
    /// ```rhai
    /// array([[1], [2]]) + array([10, 20])    //=> [[11. 21.]
    ///                                        //=>  [12. 22.]]
    /// 1 + array([1, 2])                      //=> [2. 3.]
    /// ```
    #[rhai_fn(name = "+", return_raw)]
    pub fn add(a: NdArray, b: Dynamic) -> RResult<NdArray> {
        binop(a, &b, |x, y| x + y)
    }
    /// Element-wise sum, number first.
    #[rhai_fn(name = "+", return_raw)]
    pub fn radd(a: Dynamic, b: NdArray) -> RResult<NdArray> {
        binop_rev(&a, b, |x, y| x + y)
    }
    /// Element-wise difference with broadcasting.
    ///
    /// ```rhai
    /// array([5, 7]) - 2    //=> [3. 5.]
    /// ```
    #[rhai_fn(name = "-", return_raw)]
    pub fn sub(a: NdArray, b: Dynamic) -> RResult<NdArray> {
        binop(a, &b, |x, y| x - y)
    }
    /// Element-wise difference, number first.
    ///
    /// ```rhai
    /// 10 - array([1, 2])    //=> [9. 8.]
    /// ```
    #[rhai_fn(name = "-", return_raw)]
    pub fn rsub(a: Dynamic, b: NdArray) -> RResult<NdArray> {
        binop_rev(&a, b, |x, y| x - y)
    }
    /// Element-wise product with broadcasting.
    ///
    /// ```rhai
    /// array([1, 2]) * array([[1], [10]])    //=> [[ 1.  2.]
    ///                                       //=>  [10. 20.]]
    /// ```
    #[rhai_fn(name = "*", return_raw)]
    pub fn mul(a: NdArray, b: Dynamic) -> RResult<NdArray> {
        binop(a, &b, |x, y| x * y)
    }
    /// Element-wise product, number first.
    #[rhai_fn(name = "*", return_raw)]
    pub fn rmul(a: Dynamic, b: NdArray) -> RResult<NdArray> {
        binop_rev(&a, b, |x, y| x * y)
    }
    /// Element-wise quotient (x / 0 gives inf or NaN, as in numpy).
    ///
    /// ```rhai
    /// array([1, -1, 0]) / 0    //=> [ inf -inf  nan]
    /// ```
    #[rhai_fn(name = "/", return_raw)]
    pub fn div(a: NdArray, b: Dynamic) -> RResult<NdArray> {
        binop(a, &b, |x, y| x / y)
    }
    /// Element-wise quotient, number first.
    ///
    /// ```rhai
    /// 1 / array([2, 4])    //=> [0.5  0.25]
    /// ```
    #[rhai_fn(name = "/", return_raw)]
    pub fn rdiv(a: Dynamic, b: NdArray) -> RResult<NdArray> {
        binop_rev(&a, b, |x, y| x / y)
    }
    /// Element-wise remainder with the sign of the divisor (numpy's `%`).
    ///
    /// ```rhai
    /// array([-7, 7]) % 3    //=> [2. 1.]
    /// ```
    #[rhai_fn(name = "%", return_raw)]
    pub fn rem(a: NdArray, b: Dynamic) -> RResult<NdArray> {
        binop(a, &b, ops::modulo)
    }
    /// Element-wise remainder, number first.
    #[rhai_fn(name = "%", return_raw)]
    pub fn rrem(a: Dynamic, b: NdArray) -> RResult<NdArray> {
        binop_rev(&a, b, ops::modulo)
    }
    /// Element-wise power.
    ///
    /// ```rhai
    /// array([1, 2, 3]) ** 2    //=> [1. 4. 9.]
    /// 2 ** array([0, 1, 2])    //=> [1. 2. 4.]
    /// ```
    #[rhai_fn(name = "**", return_raw)]
    pub fn pow(a: NdArray, b: Dynamic) -> RResult<NdArray> {
        binop(a, &b, ops::pow)
    }
    /// Element-wise power, number first.
    #[rhai_fn(name = "**", return_raw)]
    pub fn rpow(a: Dynamic, b: NdArray) -> RResult<NdArray> {
        binop_rev(&a, b, ops::pow)
    }
    /// Unary minus.
    ///
    /// ```rhai
    /// -array([1, -2])    //=> [-1.  2.]
    /// ```
    #[rhai_fn(name = "-")]
    pub fn neg(a: NdArray) -> NdArray {
        NdArray::new(ops::unary(a.into_data(), |x| -x))
    }
    /// Unary plus (a copy).
    #[rhai_fn(name = "+")]
    pub fn plus(a: NdArray) -> NdArray {
        a
    }

    /// Element-wise `==`, a boolean mask.
    ///
    /// ```rhai
    /// array([1, 2, 3]) == 2    //=> [False  True False]
    /// ```
    #[rhai_fn(name = "==", return_raw, pure)]
    pub fn eq(a: &mut NdArray, b: Dynamic) -> RResult<NdArray> {
        compare(a, &b, |x, y| x == y)
    }
    /// Element-wise `==`, number first.
    #[rhai_fn(name = "==", return_raw)]
    pub fn req(a: Dynamic, b: NdArray) -> RResult<NdArray> {
        compare_rev(&a, &b, |x, y| x == y)
    }
    /// Element-wise `!=`, a boolean mask (NaN != NaN is true).
    #[rhai_fn(name = "!=", return_raw, pure)]
    pub fn ne(a: &mut NdArray, b: Dynamic) -> RResult<NdArray> {
        compare(a, &b, |x, y| x != y)
    }
    /// Element-wise `!=`, number first.
    #[rhai_fn(name = "!=", return_raw)]
    pub fn rne(a: Dynamic, b: NdArray) -> RResult<NdArray> {
        compare_rev(&a, &b, |x, y| x != y)
    }
    /// Element-wise `<`, a boolean mask (comparisons with NaN are false).
    ///
    /// ```rhai
    /// array([1, 2, 3]) < 2.5    //=> [ True  True False]
    /// ```
    #[rhai_fn(name = "<", return_raw, pure)]
    pub fn lt(a: &mut NdArray, b: Dynamic) -> RResult<NdArray> {
        compare(a, &b, |x, y| x < y)
    }
    /// Element-wise `<`, number first.
    #[rhai_fn(name = "<", return_raw)]
    pub fn rlt(a: Dynamic, b: NdArray) -> RResult<NdArray> {
        compare_rev(&a, &b, |x, y| x < y)
    }
    /// Element-wise `<=`, a boolean mask.
    #[rhai_fn(name = "<=", return_raw, pure)]
    pub fn le(a: &mut NdArray, b: Dynamic) -> RResult<NdArray> {
        compare(a, &b, |x, y| x <= y)
    }
    /// Element-wise `<=`, number first.
    #[rhai_fn(name = "<=", return_raw)]
    pub fn rle(a: Dynamic, b: NdArray) -> RResult<NdArray> {
        compare_rev(&a, &b, |x, y| x <= y)
    }
    /// Element-wise `>`, a boolean mask.
    ///
    /// ```rhai
    /// 2 > array([1, 2, 3])    //=> [ True False False]
    /// ```
    #[rhai_fn(name = ">", return_raw, pure)]
    pub fn gt(a: &mut NdArray, b: Dynamic) -> RResult<NdArray> {
        compare(a, &b, |x, y| x > y)
    }
    /// Element-wise `>`, number first.
    #[rhai_fn(name = ">", return_raw)]
    pub fn rgt(a: Dynamic, b: NdArray) -> RResult<NdArray> {
        compare_rev(&a, &b, |x, y| x > y)
    }
    /// Element-wise `>=`, a boolean mask.
    #[rhai_fn(name = ">=", return_raw, pure)]
    pub fn ge(a: &mut NdArray, b: Dynamic) -> RResult<NdArray> {
        compare(a, &b, |x, y| x >= y)
    }
    /// Element-wise `>=`, number first.
    #[rhai_fn(name = ">=", return_raw)]
    pub fn rge(a: Dynamic, b: NdArray) -> RResult<NdArray> {
        compare_rev(&a, &b, |x, y| x >= y)
    }
    /// Element-wise logical and of two masks (any non-zero counts as true).
    ///
    /// ```rhai
    /// let x = arange(5);
    /// (x > 0) & (x < 3)    //=> [False  True  True False False]
    /// ```
    #[rhai_fn(name = "&", return_raw, pure)]
    pub fn and(a: &mut NdArray, b: Dynamic) -> RResult<NdArray> {
        compare(a, &b, |x, y| x != 0.0 && y != 0.0)
    }
    /// Element-wise logical or of two masks.
    ///
    /// ```rhai
    /// let x = arange(4);
    /// (x < 1) | (x > 2)    //=> [ True False False  True]
    /// ```
    #[rhai_fn(name = "|", return_raw, pure)]
    pub fn or(a: &mut NdArray, b: Dynamic) -> RResult<NdArray> {
        compare(a, &b, |x, y| x != 0.0 || y != 0.0)
    }
    /// Element-wise logical not of a mask.
    ///
    /// ```rhai
    /// !(arange(3) > 0)    //=> [ True False False]
    /// ```
    #[rhai_fn(name = "!")]
    pub fn not(a: NdArray) -> NdArray {
        NdArray::new_mask(ops::unary(a.into_data(), |x| (x == 0.0) as u8 as f64))
    }

    /// `x` where `cond` is true, else `y`; all three broadcast (numpy's `where`).
    ///
    /// ```rhai
    /// let a = array([-1, 2, -3]);
    /// where(a > 0, a, 0)    //=> [0. 2. 0.]
    /// ```
    #[rhai_fn(name = "where", return_raw)]
    pub fn where_(cond: Dynamic, x: Dynamic, y: Dynamic) -> RResult<NdArray> {
        let (c, x, y) = (operand(&cond)?, operand(&x)?, operand(&y)?);
        ok(ops::where_(&c.data, &x.data, &y.data)).map(|r| NdArray {
            data: Arc::new(r),
            mask: x.mask && y.mask,
            columns: None,
        })
    }

    /// Whether any element is true (non-zero); NaN counts as true, as in numpy.
    ///
    /// ```rhai
    /// any(array([0, 0, 1]))    //=> true
    /// ```
    #[rhai_fn(pure)]
    pub fn any(a: &mut NdArray) -> bool {
        a.data.iter().any(|&x| x != 0.0)
    }

    /// Whether every element is true (non-zero); true for an empty array.
    ///
    /// ```rhai
    /// all(array([1, 2]) > 0)    //=> true
    /// ```
    #[rhai_fn(pure)]
    pub fn all(a: &mut NdArray) -> bool {
        a.data.iter().all(|&x| x != 0.0)
    }

    /// Whether two arrays are equal within `1e-5 * |b| + 1e-8` everywhere (numpy's
    /// `allclose`); NaN never equals NaN here.
    ///
    /// ```rhai
    /// allclose(array([1.0, 2.0]), [1.0, 2.0 + 1e-9])    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn allclose(a: Dynamic, b: Dynamic) -> RResult<bool> {
        let (a, b) = (operand(&a)?, operand(&b)?);
        ok(reduce::allclose(
            a.data.view(),
            b.data.view(),
            1e-5,
            1e-8,
            false,
        ))
    }

    /// `allclose` with options `rtol`, `atol` and `equal_nan`.
    ///
    /// ```rhai
    /// allclose([1.0, 0.0 / 0.0], [1.1, 0.0 / 0.0], #{rtol: 0.2, equal_nan: true})    //=> true
    /// ```
    #[rhai_fn(name = "allclose", return_raw)]
    pub fn allclose_opts(a: Dynamic, b: Dynamic, options: Map) -> RResult<bool> {
        let (a, b) = (operand(&a)?, operand(&b)?);
        let (mut rtol, mut atol, mut equal_nan) = (1e-5, 1e-8, false);
        for (k, v) in &options {
            match k.as_str() {
                "rtol" => rtol = number(v, "option rtol")?,
                "atol" => atol = number(v, "option atol")?,
                "equal_nan" => {
                    equal_nan = v
                        .as_bool()
                        .map_err(|_| script_err("option equal_nan must be true or false"))?
                }
                _ => {
                    return Err(script_err(format!(
                        "unknown option '{k}': allclose takes rtol, atol and equal_nan",
                        k = crate::format::printable(k)
                    )))
                }
            }
        }
        ok(reduce::allclose(
            a.data.view(),
            b.data.view(),
            rtol,
            atol,
            equal_nan,
        ))
    }

    // ---- element-wise functions ---------------------------------------------------------

    /// Each element limited to [`lo`, `hi`] (NaN stays NaN).
    ///
    /// ```rhai
    /// clip(array([-2, 0.5, 3]), 0, 1)    //=> [0.  0.5 1. ]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn clip(a: NdArray, lo: Dynamic, hi: Dynamic) -> RResult<NdArray> {
        let (lo, hi) = (number(&lo, "lo")?, number(&hi, "hi")?);
        if lo.is_nan() || hi.is_nan() {
            return Err(script_err("clip: the bounds must be numbers, not NaN"));
        }
        if lo > hi {
            return Err(script_err(format!(
                "clip: lo ({lo}) is greater than hi ({hi})"
            )));
        }
        Ok(NdArray::new(ops::unary(a.into_data(), move |x| {
            if x.is_nan() {
                x
            } else {
                x.clamp(lo, hi)
            }
        })))
    }

    /// NaN replaced by `value` (e.g. 0) — numpy's `nan_to_num` for missing values only.
    ///
    /// ```rhai
    /// nan_to_num(array([1, 0]) / 0 * 0, 0)    //=> [0. 0.]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn nan_to_num(a: NdArray, value: Dynamic) -> RResult<NdArray> {
        let v = number(&value, "value")?;
        Ok(NdArray::new(ops::unary(a.into_data(), move |x| {
            if x.is_nan() {
                v
            } else {
                x
            }
        })))
    }

    // ---- linear algebra -----------------------------------------------------------------

    /// Matrix product for 1-D and 2-D arrays (numpy's `dot`): vector . vector is a number.
    ///
    /// ```rhai
    /// dot(array([[1, 2], [3, 4]]), array([[5, 6], [7, 8]]))    //=> [[19. 22.]
    ///                                                          //=>  [43. 50.]]
    /// dot(array([1, 2, 3]), array([4, 5, 6]))                  //=> 32.0
    /// ```
    #[rhai_fn(return_raw)]
    pub fn dot(a: Dynamic, b: Dynamic) -> RResult<Dynamic> {
        let (a, b) = (operand(&a)?, operand(&b)?);
        ok(ops::dot(&a.data, &b.data)).map(|r| wrap(r, false))
    }

    /// Matrix product (numpy's `matmul`, the `@` operator) for 1-D and 2-D arrays.
    ///
    /// ```rhai
    /// matmul(array([[1, 2], [3, 4]]), [1, 1])    //=> [3. 7.]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn matmul(a: Dynamic, b: Dynamic) -> RResult<Dynamic> {
        dot(a, b)
    }

    // ---- sorting ------------------------------------------------------------------------

    /// A sorted copy along the last axis, NaN last.
    ///
    /// ```rhai
    /// sort(array([3, 1, 2]))    //=> [1. 2. 3.]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn sort(a: NdArray) -> RResult<NdArray> {
        ok(reduce::sort(&a.data, -1)).map(NdArray::new)
    }

    /// A sorted copy along `axis`.
    ///
    /// ```rhai
    /// sort(array([[3, 1], [2, 4]]), 0)    //=> [[2. 1.]
    ///                                     //=>  [3. 4.]]
    /// ```
    #[rhai_fn(name = "sort", return_raw)]
    pub fn sort_axis(a: NdArray, axis: INT) -> RResult<NdArray> {
        ok(reduce::sort(&a.data, axis)).map(NdArray::new)
    }

    /// Positions that sort the array along the last axis (stable, NaN last), as ints the
    /// way `argmin` gives one: a list for a 1-D array (nested lists for more axes, like
    /// `to_list`). They index Rhai lists (`names[i]`); pick Array elements with
    /// `a.take(idx, 0)` or `a[array(idx)]` (a list inside `a[...]` is one position per axis).
    ///
    /// ```rhai
    /// // numpy: np.argsort([30, 10, 20], kind="stable") -> array([1, 2, 0])
    /// let a = array([30, 10, 20]);
    /// let idx = argsort(a);
    /// idx                   //=> [1, 2, 0]
    /// type_of(idx[0])       //=> i64
    /// a.take(idx, 0)        //=> [10. 20. 30.]
    /// a[array(idx)]         //=> [10. 20. 30.]
    /// ["c", "a", "b"][idx[0]]    //=> a
    /// ```
    #[rhai_fn(return_raw)]
    pub fn argsort(a: NdArray) -> RResult<Dynamic> {
        ok(reduce::argsort(&a.data, -1)).map(|p| int_nested_list(p.view()))
    }

    /// Positions that sort the array along `axis`, as nested lists of ints.
    ///
    /// ```rhai
    /// // numpy: np.argsort([[3, 1], [2, 4]], axis=0, kind="stable") -> [[1, 0], [0, 1]]
    /// argsort(array([[3, 1], [2, 4]]), 0)    //=> [[1, 0], [0, 1]]
    /// ```
    #[rhai_fn(name = "argsort", return_raw)]
    pub fn argsort_axis(a: NdArray, axis: INT) -> RResult<Dynamic> {
        ok(reduce::argsort(&a.data, axis)).map(|p| int_nested_list(p.view()))
    }

    /// Ranks 1..n (smallest = 1), ties averaged, like `scipy.stats.rankdata`; NaN keeps a
    /// NaN rank. Rank largest-first with `rank(-a, "min")`.
    ///
    /// ```rhai
    /// rank(array([10, 30, 20, 30]))    //=> [1.  3.5 2.  3.5]
    /// ```
    #[rhai_fn(pure)]
    pub fn rank(a: &mut NdArray) -> NdArray {
        NdArray::new(reduce::rank(&a.data, TieMethod::Average))
    }

    /// Ranks with a tie `method`: "average", "min" (ties share the lowest rank), "max",
    /// "dense" or "ordinal".
    ///
    /// ```rhai
    /// rank(array([10, 30, 20, 30]), "min")    //=> [1. 3. 2. 3.]
    /// ```
    #[rhai_fn(name = "rank", return_raw, pure)]
    pub fn rank_method(a: &mut NdArray, method: &str) -> RResult<NdArray> {
        let m: TieMethod = ok(method.parse())?;
        Ok(NdArray::new(reduce::rank(&a.data, m)))
    }

    /// Running sum of all elements, flattened.
    ///
    /// ```rhai
    /// cumsum(array([1, 2, 3]))    //=> [1. 3. 6.]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn cumsum(a: NdArray) -> RResult<NdArray> {
        ok(reduce::cumsum(&a.data, None)).map(NdArray::new)
    }

    /// Running sum along `axis`.
    ///
    /// ```rhai
    /// cumsum(array([[1, 2], [3, 4]]), 1)    //=> [[1. 3.]
    ///                                       //=>  [3. 7.]]
    /// ```
    #[rhai_fn(name = "cumsum", return_raw)]
    pub fn cumsum_axis(a: NdArray, axis: INT) -> RResult<NdArray> {
        ok(reduce::cumsum(&a.data, Some(axis))).map(NdArray::new)
    }

    // ---- reductions with options ----------------------------------------------------------

    /// Standard deviation with options `axis` and `ddof` (numpy's default ddof is 0).
    ///
    /// ```rhai
    /// std(array([2, 4, 4, 4, 5, 5, 7, 9]), #{ddof: 0})    //=> 2.0
    /// ```
    #[rhai_fn(name = "std", return_raw, pure)]
    pub fn std_opts(a: &mut NdArray, options: Map) -> RResult<Dynamic> {
        let (axis, ddof) = ddof_axis(&options)?;
        reduce_opt(a, axis, Reduction::Std(ddof), false)
    }

    /// Variance with options `axis` and `ddof`.
    ///
    /// ```rhai
    /// variance(array([[1, 2], [3, 6]]), #{axis: 0, ddof: 1})    //=> [2. 8.]
    /// ```
    #[rhai_fn(name = "variance", return_raw, pure)]
    pub fn var_opts(a: &mut NdArray, options: Map) -> RResult<Dynamic> {
        let (axis, ddof) = ddof_axis(&options)?;
        reduce_opt(a, axis, Reduction::Var(ddof), false)
    }

    /// Quantile `q` in [0, 1] of all elements (linear interpolation, numpy's default).
    ///
    /// ```rhai
    /// quantile(array([2, 4, 4, 4, 5, 5, 7, 9]), 0.9)    //=> 7.6
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn quantile(a: &mut NdArray, q: FLOAT) -> RResult<FLOAT> {
        ok(reduce::reduce_all(&a.data, Reduction::Quantile(q), false))
    }

    /// Quantile `q` along `axis`.
    #[rhai_fn(name = "quantile", return_raw, pure)]
    pub fn quantile_axis(a: &mut NdArray, q: FLOAT, axis: INT) -> RResult<NdArray> {
        ok(reduce::reduce_axis(
            &a.data,
            axis,
            Reduction::Quantile(q),
            false,
        ))
        .map(NdArray::new)
    }

    // ---- conversion ---------------------------------------------------------------------

    /// The single element of a one-element array, as a number (bool for a mask).
    ///
    /// ```rhai
    /// item(array([[4.5]]))    //=> 4.5
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn item(a: &mut NdArray) -> RResult<Dynamic> {
        if a.data.len() != 1 {
            return Err(script_err(format!(
                "item() needs an array of one element, not shape {}",
                fmt_shape(a.data.shape())
            )));
        }
        Ok(scalar(
            a.data.iter().next().copied().unwrap_or(f64::NAN),
            a.mask,
        ))
    }

    /// Nested Rhai lists of numbers (of bools for a mask).
    ///
    /// ```rhai
    /// array([[1, 2]]).to_list()    //=> [[1.0, 2.0]]
    /// ```
    #[rhai_fn(pure)]
    pub fn to_list(a: &mut NdArray) -> Dynamic {
        to_list_rec(a.data.view(), a.mask)
    }

    /// A mask as numbers 1.0 and 0.0 (numbers are unchanged).
    ///
    /// ```rhai
    /// (arange(3) > 0).as_float()    //=> [0. 1. 1.]
    /// ```
    pub fn as_float(a: NdArray) -> NdArray {
        NdArray {
            data: a.data,
            mask: false,
            columns: None,
        }
    }

    /// numpy's `str()` form, truncated past 1000 elements (used by `print`).
    #[rhai_fn(global, pure)]
    pub fn to_string(a: &mut NdArray) -> String {
        crate::array::format::to_str(a.data.view(), a.mask)
    }

    /// numpy's `repr()` form, `array([...])` (used by `debug` and the REPL).
    #[rhai_fn(global, pure)]
    pub fn to_debug(a: &mut NdArray) -> String {
        crate::array::format::to_repr(a.data.view(), a.mask)
    }

    // ---- CSV ----------------------------------------------------------------------------

    /// Reads a CSV file with a header row: `#{columns: [names], data: Array (rows x
    /// columns)}`. Empty, NaN and NA fields are missing values (NaN).
    ///
    /// ```rhai
    /// let p = `${TEMP_DIR}/design.csv`;
    /// write_csv(array([[1.5, 2e-9], [3.0, 4e-8], [2.0, NAN]]), p, ["medlynslope", "kmax"]);
    /// let t = read_csv(p);
    /// t.columns       //=> ["medlynslope", "kmax"]
    /// t.data.shape    //=> [3, 2]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn read_csv(path: &str) -> RResult<Map> {
        table_map(crate::array::csv::read_csv(
            std::path::Path::new(path),
            None,
        ))
    }

    /// Reads only the named `columns` of a CSV file (other columns may hold text).
    ///
    /// ```rhai
    /// let p = `${TEMP_DIR}/design_kmax.csv`;
    /// write_csv(array([[1.5, 2e-9], [3.0, 4e-8]]), p, ["medlynslope", "kmax"]);
    /// read_csv(p, ["kmax"]).data    //=> [[2.e-09]
    ///                               //=>  [4.e-08]]
    /// ```
    #[rhai_fn(name = "read_csv", return_raw)]
    pub fn read_csv_columns(path: &str, columns: List) -> RResult<Map> {
        let names: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        table_map(crate::array::csv::read_csv(
            std::path::Path::new(path),
            Some(&names),
        ))
    }

    /// Writes rows of mixed values (strings, numbers; NaN and `()` as empty cells) as CSV
    /// under `header`, numbers at full precision; the file is replaced only once complete.
    ///
    /// ```rhai
    /// let p = `${TEMP_DIR}/rows.csv`;
    /// write_rows(p, ["variable", "mode", "fraction"], [["GPP", 1, 0.75], ["GPP", 2, 0.25]]);
    /// read_csv(p, ["mode", "fraction"]).data    //=> [[1.   0.75]
    ///                                          //=>  [2.   0.25]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn write_rows(path: &str, header: List, rows: List) -> RResult<()> {
        let head: Vec<String> = header.iter().map(|c| c.to_string()).collect();
        let mut text: Vec<Vec<String>> = Vec::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            let r = r
                .read_lock::<List>()
                .ok_or_else(|| script_err(format!("write_rows {path}: row {i} is not a list")))?;
            if r.len() != head.len() {
                return Err(script_err(format!(
                    "write_rows {path}: row {i} has {} values for {} columns",
                    r.len(),
                    head.len()
                )));
            }
            text.push(r.iter().map(cell_text).collect::<RResult<_>>()?);
        }
        crate::array::csv::write_records(std::path::Path::new(path), &head, &text)
            .map_err(|e| script_err(format!("{e:#}")))
    }

    /// Writes a 2-D array (1-D: one column) as CSV with a header of `columns`, numbers at
    /// full precision; the file is replaced only once completely written.
    ///
    /// ```rhai
    /// let p = `${TEMP_DIR}/out.csv`;
    /// write_csv(array([[1, 0.5]]), p, ["a", "b"]);
    /// read_csv(p).data    //=> [[1.  0.5]]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn write_csv(a: &mut NdArray, path: &str, columns: List) -> RResult<()> {
        let names: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        crate::array::csv::write_csv(std::path::Path::new(path), &names, &a.data)
            .map_err(|e| script_err(format!("{e:#}")))
    }
}

/// The text of one CSV cell: strings as they are, numbers by the one CSV number rule
/// ([`crate::array::csv::fmt_number`]: integers as integers, NaN and `()` empty).
fn cell_text(v: &Dynamic) -> RResult<String> {
    use crate::array::csv::fmt_number;
    if v.is_unit() {
        return Ok(String::new());
    }
    if let Ok(x) = v.as_float() {
        return Ok(fmt_number(x));
    }
    if let Ok(i) = v.as_int() {
        return Ok(i.to_string());
    }
    if let Ok(b) = v.as_bool() {
        return Ok(b.to_string());
    }
    if let Some(a) = v.read_lock::<NdArray>() {
        if a.data().len() == 1 {
            return Ok(fmt_number(
                a.data().iter().next().copied().unwrap_or(f64::NAN),
            ));
        }
        return Err(script_err(format!(
            "a CSV cell holds one value, not an Array of shape {:?}",
            a.data().shape()
        )));
    }
    Ok(v.to_string())
}

fn table_map(t: anyhow::Result<crate::array::csv::Table>) -> RResult<Map> {
    let t = t.map_err(|e| script_err(format!("{e:#}")))?;
    let mut m = Map::new();
    m.insert(
        "columns".into(),
        Dynamic::from_array(t.columns.into_iter().map(Dynamic::from).collect()),
    );
    m.insert(
        "data".into(),
        Dynamic::from(NdArray::new(t.data.into_dyn())),
    );
    Ok(m)
}

/// Reductions are registered from this table: (name, reduction, skips NaN, what it is).
const REDUCTIONS: &[(&str, Reduction, bool, &str)] = &[
    (
        "sum",
        Reduction::Sum,
        false,
        "Sum of the elements (0 for none); NaN propagates.",
    ),
    (
        "mean",
        Reduction::Mean,
        false,
        "Arithmetic mean (NaN for none); NaN propagates.",
    ),
    (
        "std",
        Reduction::Std(0.0),
        false,
        "Standard deviation (ddof 0, as numpy); NaN propagates.",
    ),
    (
        "variance",
        Reduction::Var(0.0),
        false,
        "Variance (ddof 0, as numpy; `var` is a reserved word in Rhai); NaN propagates.",
    ),
    (
        "min",
        Reduction::Min,
        false,
        "Smallest element (an error for none); NaN propagates.",
    ),
    (
        "max",
        Reduction::Max,
        false,
        "Largest element (an error for none); NaN propagates.",
    ),
    (
        "argmin",
        Reduction::ArgMin,
        false,
        "Position of the smallest element in the flattened array (the first NaN if any).",
    ),
    (
        "argmax",
        Reduction::ArgMax,
        false,
        "Position of the largest element in the flattened array (the first NaN if any).",
    ),
    (
        "median",
        Reduction::Median,
        false,
        "Median; NaN propagates.",
    ),
    ("nansum", Reduction::Sum, true, "Sum ignoring NaN."),
    (
        "nanmean",
        Reduction::Mean,
        true,
        "Mean ignoring NaN (NaN if every value is NaN).",
    ),
    (
        "nanstd",
        Reduction::Std(0.0),
        true,
        "Standard deviation ignoring NaN.",
    ),
    (
        "nanvar",
        Reduction::Var(0.0),
        true,
        "Variance ignoring NaN.",
    ),
    (
        "nanmin",
        Reduction::Min,
        true,
        "Smallest element ignoring NaN.",
    ),
    (
        "nanmax",
        Reduction::Max,
        true,
        "Largest element ignoring NaN.",
    ),
    (
        "nanargmin",
        Reduction::ArgMin,
        true,
        "Position of the smallest element ignoring NaN (an error if all are NaN).",
    ),
    (
        "nanargmax",
        Reduction::ArgMax,
        true,
        "Position of the largest element ignoring NaN (an error if all are NaN).",
    ),
    ("nanmedian", Reduction::Median, true, "Median ignoring NaN."),
];

/// Hand-checked examples for the reduction docs: (name, whole-array result, axis-0 result)
/// for `array([[1, 5, 3], [4, 2, 6]])`, or with a NaN for the `nan*` variants.
fn reduction_example(name: &str) -> String {
    let (input, whole, axis0) = match name {
        "sum" => ("[[1, 5, 3], [4, 2, 6]]", "21.0", "[5. 7. 9.]"),
        "mean" => ("[[1, 5, 3], [4, 2, 6]]", "3.5", "[2.5 3.5 4.5]"),
        "std" => (
            "[[1, 5, 3], [4, 2, 6]]",
            "1.707825127659933",
            "[1.5 1.5 1.5]",
        ),
        "variance" => (
            "[[1, 5, 3], [4, 2, 6]]",
            "2.9166666666666665",
            "[2.25 2.25 2.25]",
        ),
        "min" => ("[[1, 5, 3], [4, 2, 6]]", "1.0", "[1. 2. 3.]"),
        "max" => ("[[1, 5, 3], [4, 2, 6]]", "6.0", "[4. 5. 6.]"),
        "argmin" => ("[[1, 5, 3], [4, 2, 6]]", "0", "[0. 1. 0.]"),
        "argmax" => ("[[1, 5, 3], [4, 2, 6]]", "5", "[1. 0. 1.]"),
        "median" => ("[[1, 5, 3], [4, 2, 6]]", "3.5", "[2.5 3.5 4.5]"),
        "nansum" => ("[[1, NAN, 3], [4, 2, 6]]", "16.0", "[5. 2. 9.]"),
        "nanmean" => ("[[1, NAN, 3], [4, 2, 6]]", "3.2", "[2.5 2.  4.5]"),
        "nanstd" => (
            "[[1, NAN, 3], [4, 2, 6]]",
            "1.7204650534085253",
            "[1.5 0.  1.5]",
        ),
        "nanvar" => ("[[1, NAN, 3], [4, 2, 6]]", "2.96", "[2.25 0.   2.25]"),
        "nanmin" => ("[[1, NAN, 3], [4, 2, 6]]", "1.0", "[1. 2. 3.]"),
        "nanmax" => ("[[1, NAN, 3], [4, 2, 6]]", "6.0", "[4. 2. 6.]"),
        "nanargmin" => ("[[1, NAN, 3], [4, 2, 6]]", "0", "[0. 1. 0.]"),
        "nanargmax" => ("[[1, NAN, 3], [4, 2, 6]]", "5", "[1. 1. 1.]"),
        "nanmedian" => ("[[1, NAN, 3], [4, 2, 6]]", "3.0", "[2.5 2.  4.5]"),
        _ => return String::new(),
    };
    format!(
        "///\n/// ```rhai\n/// let a = array({input});\n/// {name}(a)       //=> {whole}\n/// {name}(a, 0)    //=> {axis0}\n/// ```"
    )
}

/// Registers every reduction in [`REDUCTIONS`] twice: whole array (a number) and along an
/// axis (an Array with that axis removed).
fn register_reductions(m: &mut Module) {
    for &(name, r, skip_nan, about) in REDUCTIONS {
        let example = reduction_example(name);
        let doc_all = format!("/// {about}\n/// Along an axis: `{name}(a, axis)`.\n{example}");
        let is_arg = matches!(r, Reduction::ArgMin | Reduction::ArgMax);
        if is_arg {
            FuncRegistration::new(name)
                .with_comments([doc_all.as_str()])
                .with_params_info(["a: NdArray", "int"])
                .set_into_module(m, move |a: &mut NdArray| -> RResult<INT> {
                    ok(reduce::reduce_all(&a.data, r, skip_nan)).map(|x| x as INT)
                });
        } else {
            FuncRegistration::new(name)
                .with_comments([doc_all.as_str()])
                .with_params_info(["a: NdArray", "float"])
                .set_into_module(m, move |a: &mut NdArray| -> RResult<FLOAT> {
                    ok(reduce::reduce_all(&a.data, r, skip_nan))
                });
        }
        let doc_axis = format!("/// {about} Along `axis` (negative counts from the end), which disappears from the shape.");
        FuncRegistration::new(name)
            .with_comments([doc_axis.as_str()])
            .with_params_info(["a: NdArray", "axis: int", "NdArray"])
            .set_into_module(m, move |a: &mut NdArray, axis: INT| -> RResult<NdArray> {
                ok(reduce::reduce_axis(&a.data, axis, r, skip_nan)).map(NdArray::new)
            });
    }
}

/// Element-wise functions registered from this table: (name, function, what it is, example).
#[allow(clippy::type_complexity)]
const ELEMENTWISE: &[(&str, fn(f64) -> f64, &str, &str)] = &[
    (
        "sqrt",
        f64::sqrt,
        "Square root (NaN below 0).",
        "sqrt(array([4, 9]))    //=> [2. 3.]",
    ),
    (
        "exp",
        f64::exp,
        "e to the power of each element.",
        "exp(array([0]))    //=> [1.]",
    ),
    (
        "log",
        f64::ln,
        "Natural logarithm (-inf at 0, NaN below).",
        "log(array([1]))    //=> [0.]",
    ),
    (
        "log10",
        f64::log10,
        "Base-10 logarithm.",
        "log10(array([1, 100]))    //=> [0. 2.]",
    ),
    (
        "abs",
        f64::abs,
        "Absolute value.",
        "abs(array([-1.5, 2]))    //=> [1.5 2. ]",
    ),
    (
        "tanh",
        f64::tanh,
        "Hyperbolic tangent.",
        "tanh(array([0]))    //=> [0.]",
    ),
    (
        "sin",
        f64::sin,
        "Sine (radians).",
        "sin(array([0]))    //=> [0.]",
    ),
    (
        "cos",
        f64::cos,
        "Cosine (radians).",
        "cos(array([0]))    //=> [1.]",
    ),
    (
        "floor",
        f64::floor,
        "Largest whole number not above each element.",
        "floor(array([1.7, -1.2]))    //=> [ 1. -2.]",
    ),
    (
        "ceil",
        f64::ceil,
        "Smallest whole number not below each element.",
        "ceil(array([1.2, -1.7]))    //=> [ 2. -1.]",
    ),
    (
        "round",
        f64::round_ties_even,
        "Nearest whole number, halves to even (as numpy).",
        "round(array([0.5, 1.5, 2.4]))    //=> [0. 2. 2.]",
    ),
];

fn register_elementwise(m: &mut Module) {
    for &(name, f, about, example) in ELEMENTWISE {
        let doc = format!("/// {about}\n///\n/// ```rhai\n/// {example}\n/// ```");
        FuncRegistration::new(name)
            .with_comments([doc.as_str()])
            .with_params_info(["a: NdArray", "NdArray"])
            .set_into_module(m, move |a: NdArray| {
                NdArray::new(ops::unary(a.into_data(), f))
            });
    }
    type Test = fn(f64) -> bool;
    let masks: &[(&str, Test, &str)] = &[
        (
            "isnan",
            f64::is_nan,
            "isnan(array([1, 0]) / 0 * 0)    //=> [ True  True]",
        ),
        (
            "isfinite",
            f64::is_finite,
            "isfinite(array([1, 0]) / 0)    //=> [False False]",
        ),
    ];
    for &(name, f, example) in masks {
        let doc = format!("/// A mask: where `{name}` holds for the element.\n///\n/// ```rhai\n/// {example}\n/// ```");
        FuncRegistration::new(name)
            .with_comments([doc.as_str()])
            .with_params_info(["a: NdArray", "NdArray"])
            .set_into_module(m, move |a: NdArray| {
                NdArray::new_mask(ops::unary(a.into_data(), move |x| f(x) as u8 as f64))
            });
        let doc = format!(
            "/// Whether `{name}` holds for a number.\n///\n/// ```rhai\n/// {name}(1.0)    //=> {}\n/// ```",
            f(1.0)
        );
        FuncRegistration::new(name)
            .with_comments([doc.as_str()])
            .with_params_info(["x: f64", "bool"])
            .set_into_module(m, move |x: FLOAT| f(x));
    }
}

/// The items of `for x in a`: rows along the first axis (numbers for a 1-D array, as numpy
/// iterates); a 0-d array has none.
fn first_axis_items(a: &NdArray) -> Vec<Dynamic> {
    if a.data.ndim() == 0 {
        return Vec::new();
    }
    a.data
        .outer_iter()
        .map(|sub| wrap(sub.to_owned(), a.mask))
        .collect()
}

/// The `array` module: the type, its operators and functions.
pub fn module() -> Module {
    let mut m = exported_module!(array_fns);
    m.set_iter(std::any::TypeId::of::<NdArray>(), |obj: Dynamic| {
        let items = obj
            .read_lock::<NdArray>()
            .map(|a| first_axis_items(&a))
            .unwrap_or_default();
        Box::new(items.into_iter())
    });
    register_reductions(&mut m);
    register_elementwise(&mut m);
    super::numpy::register(&mut m);
    m
}
