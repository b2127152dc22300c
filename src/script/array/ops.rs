//! Operators and element-wise maths: arithmetic and comparisons with numpy broadcasting,
//! logical operators on masks, `where`, `clip`, `nan_to_num`, the element-wise functions
//! (`sqrt`, `exp`, `isnan`, ...) and matrix products (`dot`, `matmul`).

use super::{ok, operand, wrap, NdArray};
use crate::array::ops;
use rhai::plugin::*;
use rhai::{Dynamic, FuncRegistration, Module, FLOAT};
use std::sync::Arc;

use crate::script::convert::{number, script_err, RResult};

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

/// The operators, element-wise functions and matrix products.
#[export_module]
pub mod ops_fns {
    use super::*;

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

pub(super) fn register_elementwise(m: &mut Module) {
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
