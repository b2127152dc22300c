//! Making arrays and changing their shape: the `Array` type itself, constructors (`array`,
//! `zeros`, `eye`, `arange`, `rand`, ...), attributes (`shape`, `ndim`, `T`, ...) and shape
//! functions (`reshape`, `transpose`, `slice`, `take`, `concat`, `stack`).

use super::{ok, operand, List, NdArray};
use crate::array::{
    self as core,
    ops::{self, Sel},
};
use ndarray::ArrayD;
use rhai::plugin::*;
use rhai::{Dynamic, INT};
use std::sync::Arc;

use crate::script::convert::{
    int_list, number, script_err, shape_arg, type_name, usize_arg, RResult,
};

fn arrays_of(list: &List, what: &str) -> RResult<Vec<NdArray>> {
    list.iter()
        .enumerate()
        .map(|(i, d)| operand(d).map_err(|e| script_err(format!("{what}: item {i}: {e}"))))
        .collect()
}

/// The `Array` type, its constructors, attributes and shape functions.
#[export_module]
pub mod construct_fns {
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
    /// let m = arange(3) > 1;
    /// m[m] = 5;                   // numbers written in: an array of numbers
    /// m.is_mask                   //=> false
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
}
