//! Reductions, sorting and statistics: `sum`, `mean`, `min`, ... and their `nan*` forms
//! (whole array or along an axis), `std`/`variance` with options, `quantile`, `any`, `all`,
//! `allclose`, `sort`, `argsort`, `rank` and `cumsum`.

use super::{ok, operand, List, NdArray};
use crate::array::reduce::{self, Reduction, TieMethod};
use rhai::plugin::*;
use rhai::{Dynamic, FuncRegistration, Map, Module, FLOAT, INT};

use crate::script::convert::RResult;
use crate::script::options;

/// Positions held as floats (exact small integers) as nested Rhai lists of ints.
fn int_nested_list(a: ndarray::ArrayViewD<f64>) -> Dynamic {
    if a.ndim() == 0 {
        return Dynamic::from_int(a.iter().next().copied().unwrap_or(0.0) as INT);
    }
    let items: List = a.outer_iter().map(int_nested_list).collect();
    Dynamic::from_array(items)
}

/// The options of `std` and `variance`.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct DdofAxis {
    /// The axis to reduce along (default: the whole array).
    axis: Option<i64>,
    /// Delta degrees of freedom (0).
    ddof: f64,
}

fn ddof_axis(opts: &Map) -> RResult<(Option<i64>, f64)> {
    let o: DdofAxis = options::read(opts, "std or variance")?;
    Ok((o.axis, o.ddof))
}

/// The options of `allclose`.
#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Allclose {
    rtol: f64,
    atol: f64,
    equal_nan: bool,
}

impl Default for Allclose {
    fn default() -> Self {
        Allclose {
            rtol: 1e-5,
            atol: 1e-8,
            equal_nan: false,
        }
    }
}

fn reduce_opt(a: &NdArray, axis: Option<i64>, r: Reduction, skip_nan: bool) -> RResult<Dynamic> {
    match axis {
        None => ok(reduce::reduce_all(&a.data, r, skip_nan)).map(Dynamic::from_float),
        Some(ax) => ok(reduce::reduce_axis(&a.data, ax, r, skip_nan))
            .map(|x| Dynamic::from(NdArray::new(x))),
    }
}

/// The reductions with options, logical reductions, sorting, ranks and running sums.
#[export_module]
pub mod reduce_fns {
    use super::*;

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
        let o: Allclose = options::read(&options, "allclose")?;
        ok(reduce::allclose(
            a.data.view(),
            b.data.view(),
            o.rtol,
            o.atol,
            o.equal_nan,
        ))
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
pub(super) fn register_reductions(m: &mut Module) {
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
