//! More numpy names for the script `Array` type (see [`crate::array::numpy`]): `corrcoef`,
//! `percentile`, `unique`, `minimum`/`maximum`, `diff`, `interp`, `lstsq`, `polyfit`,
//! `polyval`, `histogram`, `zeros_like`/`ones_like`, `prod`, `sign` and reductions over a
//! list of axes. Registered into the `array` module by [`register`].

use super::array::{operand, NdArray};
use super::convert::{int_list, number, script_err, usize_arg, RResult};
use crate::array::{numpy as np, ops, reduce::Reduction, ArrayError};
use ndarray::{ArrayD, IxDyn};
use rhai::plugin::*;
use rhai::{Dynamic, FuncRegistration, Map, Module, FLOAT, INT};

/// A Rhai list.
type List = rhai::Array;

fn ok<T>(r: Result<T, ArrayError>) -> RResult<T> {
    r.map_err(script_err)
}

/// A 0-d result as a number, anything else as an Array.
fn number_or_array(a: ArrayD<f64>) -> Dynamic {
    if a.ndim() == 0 {
        Dynamic::from_float(a.iter().next().copied().unwrap_or(f64::NAN))
    } else {
        Dynamic::from(NdArray::new(a))
    }
}

fn axes_arg(axes: &List) -> RResult<Vec<i64>> {
    int_list(&Dynamic::from_array(axes.clone()), "axes")
}

/// The numpy functions added by issue 19.
#[export_module]
pub mod numpy_fns {
    use super::*;

    /// Pearson correlation matrix of the rows of `x` (each row a variable, as
    /// `numpy.corrcoef(x)`); a 1-D `x` is one variable.
    ///
    /// ```rhai
    /// // numpy.corrcoef([[1, 2, 4, 7], [2, 1, 5, 9]])[0, 1] = 0.9640225544178454
    /// let c = corrcoef(array([[1, 2, 4, 7], [2, 1, 5, 9]]));
    /// fmt(c[[0, 1]], ".6f")    //=> 0.964023
    /// c.shape                  //=> [2, 2]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn corrcoef(x: Dynamic) -> RResult<NdArray> {
        ok(np::corrcoef(operand(&x)?.data(), None)).map(NdArray::new)
    }

    /// Correlation matrix of the variables of `x` and `y` together (`numpy.corrcoef(x, y)`).
    ///
    /// ```rhai
    /// // numpy.corrcoef([1, 2, 3, 4], [2, 4, 5, 9])[0, 1] = 0.9647638212377322
    /// fmt(corrcoef([1, 2, 3, 4], [2, 4, 5, 9])[[0, 1]], ".6f")    //=> 0.964764
    /// ```
    #[rhai_fn(name = "corrcoef", return_raw)]
    pub fn corrcoef2(x: Dynamic, y: Dynamic) -> RResult<NdArray> {
        ok(np::corrcoef(operand(&x)?.data(), Some(operand(&y)?.data()))).map(NdArray::new)
    }

    /// The `q`-th percentile (0..100) of all elements, numpy's default linear method.
    ///
    /// ```rhai
    /// // numpy.percentile([2, 4, 4, 4, 5, 5, 7, 9], 90) = 7.6
    /// percentile(array([2, 4, 4, 4, 5, 5, 7, 9]), 90)    //=> 7.6
    /// ```
    #[rhai_fn(return_raw)]
    pub fn percentile(a: Dynamic, q: Dynamic) -> RResult<FLOAT> {
        let q = number(&q, "percentile q")?;
        let r = ok(np::percentile(operand(&a)?.data(), q, None))?;
        Ok(r.iter().next().copied().unwrap_or(f64::NAN))
    }

    /// The `q`-th percentile along `axis`.
    ///
    /// ```rhai
    /// // numpy.percentile([[1, 2, 4, 7], [2, 1, 5, 9], [3, 3, 1, 0]], 50, axis=1) = [3, 3.5, 2]
    /// percentile(array([[1, 2, 4, 7], [2, 1, 5, 9], [3, 3, 1, 0]]), 50, 1)    //=> [3.  3.5 2. ]
    /// ```
    #[rhai_fn(name = "percentile", return_raw)]
    pub fn percentile_axis(a: Dynamic, q: Dynamic, axis: INT) -> RResult<NdArray> {
        let q = number(&q, "percentile q")?;
        ok(np::percentile(operand(&a)?.data(), q, Some(axis))).map(NdArray::new)
    }

    /// The sorted distinct values (flattened); NaNs become one NaN at the end, as numpy.
    ///
    /// ```rhai
    /// // numpy.unique([3, 1, 2, 3, nan, 1, nan]) = [1, 2, 3, nan]
    /// unique(array([3, 1, 2, 3, NAN, 1, NAN]))    //=> [ 1.  2.  3. nan]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn unique(a: Dynamic) -> RResult<NdArray> {
        ok(np::unique(operand(&a)?.data())).map(NdArray::new)
    }

    /// Element-wise smaller of two array-likes, broadcast; NaN if either is NaN.
    ///
    /// ```rhai
    /// // numpy.minimum([1, 5, nan], [3, 2, 1]) = [1, 2, nan]
    /// minimum(array([1, 5, NAN]), [3, 2, 1])    //=> [ 1.  2. nan]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn minimum(a: Dynamic, b: Dynamic) -> RResult<NdArray> {
        ok(ops::binary_ref(
            operand(&a)?.data(),
            operand(&b)?.data(),
            np::minimum,
        ))
        .map(NdArray::new)
    }

    /// Element-wise larger of two array-likes, broadcast; NaN if either is NaN.
    ///
    /// ```rhai
    /// // numpy.maximum([1, 5, nan], [3, 2, 1]) = [3, 5, nan]
    /// maximum(array([1, 5, NAN]), [3, 2, 1])    //=> [ 3.  5. nan]
    /// maximum(array([-1, 2]), 0)                //=> [0. 2.]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn maximum(a: Dynamic, b: Dynamic) -> RResult<NdArray> {
        ok(ops::binary_ref(
            operand(&a)?.data(),
            operand(&b)?.data(),
            np::maximum,
        ))
        .map(NdArray::new)
    }

    /// -1, 0 or 1 for each element (NaN stays NaN).
    ///
    /// ```rhai
    /// // numpy.sign([-2, 0, 3, nan]) = [-1, 0, 1, nan]
    /// sign(array([-2, 0, 3, NAN]))    //=> [-1.  0.  1. nan]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn sign(a: Dynamic) -> RResult<NdArray> {
        let a = operand(&a)?;
        Ok(NdArray::new(ops::unary(a.into_data(), np::sign)))
    }

    /// Differences of neighbours along the last axis (`a[1:] - a[:-1]`).
    ///
    /// ```rhai
    /// // numpy.diff([1, 4, 9, 16]) = [3, 5, 7]
    /// diff(array([1, 4, 9, 16]))    //=> [3. 5. 7.]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn diff(a: Dynamic) -> RResult<NdArray> {
        ok(np::diff(operand(&a)?.data(), 1, -1)).map(NdArray::new)
    }

    /// The `n`-th difference along the last axis.
    ///
    /// ```rhai
    /// // numpy.diff([1, 4, 9, 16], 2) = [2, 2]
    /// diff(array([1, 4, 9, 16]), 2)    //=> [2. 2.]
    /// ```
    #[rhai_fn(name = "diff", return_raw)]
    pub fn diff_n(a: Dynamic, n: INT) -> RResult<NdArray> {
        let n = usize_arg(n, "diff order n")?;
        ok(np::diff(operand(&a)?.data(), n, -1)).map(NdArray::new)
    }

    /// The `n`-th difference along `axis`.
    ///
    /// ```rhai
    /// // numpy.diff([[1, 2], [4, 8]], 1, axis=0) = [[3, 6]]
    /// diff(array([[1, 2], [4, 8]]), 1, 0)    //=> [[3. 6.]]
    /// ```
    #[rhai_fn(name = "diff", return_raw)]
    pub fn diff_axis(a: Dynamic, n: INT, axis: INT) -> RResult<NdArray> {
        let n = usize_arg(n, "diff order n")?;
        ok(np::diff(operand(&a)?.data(), n, axis)).map(NdArray::new)
    }

    /// Linear interpolation of the points `(xp, fp)` (`xp` increasing) at `x`, a number or
    /// an array-like; outside `xp` the end values of `fp` are used, as `numpy.interp`.
    ///
    /// ```rhai
    /// // numpy.interp([-1, 0.5, 1.5, 2.5, 9], [0, 1, 2, 3], [0, 10, 15, 30])
    /// //   = [0, 5, 12.5, 22.5, 30]
    /// interp([-1, 0.5, 1.5, 2.5, 9], [0, 1, 2, 3], [0, 10, 15, 30])    //=> [ 0.   5.  12.5 22.5 30. ]
    /// interp(1.5, [0, 1, 2, 3], [0, 10, 15, 30])                        //=> 12.5
    /// ```
    #[rhai_fn(return_raw)]
    pub fn interp(x: Dynamic, xp: Dynamic, fp: Dynamic) -> RResult<Dynamic> {
        let r = ok(np::interp(
            operand(&x)?.data(),
            operand(&xp)?.data(),
            operand(&fp)?.data(),
        ))?;
        Ok(number_or_array(r))
    }

    /// The least-squares solution `x` of `a x = b` (`numpy.linalg.lstsq(a, b)[0]`) by SVD;
    /// `a` is (m, n), `b` (m,) or (m, k). Rank-deficient systems get the minimum-norm
    /// solution, as numpy.
    ///
    /// ```rhai
    /// // numpy.linalg.lstsq([[1, 0], [1, 1], [1, 2], [1, 3]], [1, 2, 2.5, 4.5])[0] = [0.85, 1.1]
    /// let x = lstsq([[1, 0], [1, 1], [1, 2], [1, 3]], [1, 2, 2.5, 4.5]);
    /// fmt(x[0], ".6f") + " " + fmt(x[1], ".6f")    //=> 0.850000 1.100000
    /// ```
    #[rhai_fn(return_raw)]
    pub fn lstsq(a: Dynamic, b: Dynamic) -> RResult<NdArray> {
        ok(np::lstsq(operand(&a)?.data(), operand(&b)?.data())).map(NdArray::new)
    }

    /// Least-squares polynomial coefficients of degree `deg`, highest power first
    /// (`numpy.polyfit`).
    ///
    /// ```rhai
    /// // numpy.polyfit([0, 1, 2, 3, 4], [1, 2, 5, 10, 17.5], 2)
    /// //   = [1.07142857, -0.18571429, 1.04285714]
    /// let p = polyfit([0, 1, 2, 3, 4], [1, 2, 5, 10, 17.5], 2);
    /// fmt(p[0], ".6f")    //=> 1.071429
    /// fmt(p[1], ".6f")    //=> -0.185714
    /// ```
    #[rhai_fn(return_raw)]
    pub fn polyfit(x: Dynamic, y: Dynamic, deg: INT) -> RResult<NdArray> {
        let deg = usize_arg(deg, "polyfit degree")?;
        ok(np::polyfit(operand(&x)?.data(), operand(&y)?.data(), deg)).map(NdArray::new)
    }

    /// The polynomial with coefficients `p` (highest power first) at `x` (`numpy.polyval`).
    ///
    /// ```rhai
    /// // numpy.polyval([1, -2, 3], [0, 1, 2]) = [3, 2, 3]
    /// polyval([1, -2, 3], array([0, 1, 2]))    //=> [3. 2. 3.]
    /// polyval([1, -2, 3], 2)                   //=> 3.0
    /// ```
    #[rhai_fn(return_raw)]
    pub fn polyval(p: Dynamic, x: Dynamic) -> RResult<Dynamic> {
        let p = operand(&p)?;
        if p.data().ndim() != 1 {
            return Err(script_err("polyval: the coefficients must be a 1-D list"));
        }
        let coef: Vec<f64> = p.data().iter().copied().collect();
        let x = operand(&x)?.into_data();
        Ok(number_or_array(
            x.mapv(|v| coef.iter().fold(0.0, |acc, &c| acc * v + c)),
        ))
    }

    /// Counts in `bins` equal bins over [min, max] of the values: `#{counts, edges}` as
    /// `numpy.histogram(a, bins)` (the last bin includes its right edge).
    ///
    /// ```rhai
    /// // numpy.histogram([1, 2, 2, 3, 3, 3, 4, 10], bins=3) = ([6, 1, 1], [1, 4, 7, 10])
    /// let h = histogram(array([1, 2, 2, 3, 3, 3, 4, 10]), 3);
    /// h.counts    //=> [6. 1. 1.]
    /// h.edges     //=> [ 1.  4.  7. 10.]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn histogram(a: Dynamic, bins: INT) -> RResult<Map> {
        let bins = usize_arg(bins, "histogram bins")?;
        let (c, e) = ok(np::histogram(operand(&a)?.data(), bins))?;
        let mut m = Map::new();
        m.insert("counts".into(), Dynamic::from(NdArray::new(c)));
        m.insert("edges".into(), Dynamic::from(NdArray::new(e)));
        Ok(m)
    }

    /// Counts between the given bin `edges` (a list or Array, increasing).
    ///
    /// ```rhai
    /// // numpy.histogram([1, 2, 2, 3, 3, 3, 4, 10], bins=[0, 2, 5, 10])[0] = [1, 6, 1]
    /// histogram(array([1, 2, 2, 3, 3, 3, 4, 10]), [0, 2, 5, 10]).counts    //=> [1. 6. 1.]
    /// ```
    #[rhai_fn(name = "histogram", return_raw)]
    pub fn histogram_edges(a: Dynamic, edges: List) -> RResult<Map> {
        let e = operand(&Dynamic::from_array(edges))?.into_data();
        let c = ok(np::histogram_edges(operand(&a)?.data(), &e))?;
        let mut m = Map::new();
        m.insert("counts".into(), Dynamic::from(NdArray::new(c)));
        m.insert("edges".into(), Dynamic::from(NdArray::new(e)));
        Ok(m)
    }

    /// Zeros of the shape of `a`.
    ///
    /// ```rhai
    /// zeros_like(array([[1, 2, 3]]))    //=> [[0. 0. 0.]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn zeros_like(a: Dynamic) -> RResult<NdArray> {
        let a = operand(&a)?;
        Ok(NdArray::new(ArrayD::zeros(IxDyn(a.data().shape()))))
    }

    /// Ones of the shape of `a`.
    ///
    /// ```rhai
    /// ones_like(array([1, 2]))    //=> [1. 1.]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn ones_like(a: Dynamic) -> RResult<NdArray> {
        let a = operand(&a)?;
        Ok(NdArray::new(ArrayD::ones(IxDyn(a.data().shape()))))
    }

    /// Product of all elements (1 for none); NaN propagates.
    ///
    /// ```rhai
    /// // numpy.prod([[1, 2], [3, 4]]) = 24
    /// prod(array([[1, 2], [3, 4]]))    //=> 24.0
    /// ```
    #[rhai_fn(pure)]
    pub fn prod(a: &mut NdArray) -> FLOAT {
        np::prod_all(a.data())
    }

    /// Product along `axis`.
    ///
    /// ```rhai
    /// // numpy.prod([[1, 2], [3, 4]], axis=0) = [3, 8]
    /// prod(array([[1, 2], [3, 4]]), 0)    //=> [3. 8.]
    /// ```
    #[rhai_fn(name = "prod", return_raw, pure)]
    pub fn prod_axis(a: &mut NdArray, axis: INT) -> RResult<NdArray> {
        ok(np::prod_axis(a.data(), axis)).map(NdArray::new)
    }

    /// Product over a list of axes (a number when no axis is left).
    ///
    /// ```rhai
    /// prod(array([[1, 2], [3, 4]]), [0, 1])    //=> 24.0
    /// ```
    #[rhai_fn(name = "prod", return_raw, pure)]
    pub fn prod_axes(a: &mut NdArray, axes: List) -> RResult<Dynamic> {
        ok(np::prod_axes(a.data(), &axes_arg(&axes)?)).map(number_or_array)
    }
}

/// The reductions that take a list of axes: (name, reduction, skips NaN).
const MULTI_AXIS: &[(&str, Reduction, bool)] = &[
    ("sum", Reduction::Sum, false),
    ("mean", Reduction::Mean, false),
    ("std", Reduction::Std(0.0), false),
    ("variance", Reduction::Var(0.0), false),
    ("min", Reduction::Min, false),
    ("max", Reduction::Max, false),
    ("median", Reduction::Median, false),
    ("nansum", Reduction::Sum, true),
    ("nanmean", Reduction::Mean, true),
    ("nanstd", Reduction::Std(0.0), true),
    ("nanvar", Reduction::Var(0.0), true),
    ("nanmin", Reduction::Min, true),
    ("nanmax", Reduction::Max, true),
    ("nanmedian", Reduction::Median, true),
];

/// Registers `NAME(a, [axes])` for every reduction in [`MULTI_AXIS`]: numpy's
/// `NAME(a, axis=(0, 1))`.
fn register_multi_axis(m: &mut Module) {
    for &(name, r, skip_nan) in MULTI_AXIS {
        let example = if name == "sum" {
            "\n///\n/// ```rhai\n/// // y = numpy.arange(24.).reshape(2, 3, 4); y.sum(axis=(0, 2)) = [60, 92, 124]\n/// sum(arange(24).reshape([2, 3, 4]), [0, 2])    //=> [ 60.  92. 124.]\n/// ```"
        } else if name == "mean" {
            "\n///\n/// ```rhai\n/// // numpy.arange(24.).reshape(2, 3, 4).mean(axis=(0, 1)) = [10, 11, 12, 13]\n/// mean(arange(24).reshape([2, 3, 4]), [0, 1])    //=> [10. 11. 12. 13.]\n/// ```"
        } else {
            ""
        };
        let doc = format!(
            "/// `{name}` over a list of axes (numpy's `axis=(0, 1)`); they disappear from the shape (a number when none is left).{example}"
        );
        FuncRegistration::new(name)
            .with_comments([doc.as_str()])
            .with_params_info(["a: NdArray", "axes: Array", "Dynamic"])
            .set_into_module(m, move |a: &mut NdArray, axes: List| -> RResult<Dynamic> {
                ok(np::reduce_axes(a.data(), &axes_arg(&axes)?, r, skip_nan)).map(number_or_array)
            });
    }
}

/// Adds the functions of this file to the `array` module.
pub fn register(m: &mut Module) {
    m.combine_flatten(exported_module!(numpy_fns));
    register_multi_axis(m);
}

/// The operator that `,` inside an index bracket becomes (see [`register_index_syntax`]).
pub const INDEX_SEP: &str = "index_comma";

/// The positions of a multi-index `a[i, j]`, collected by the [`INDEX_SEP`] operator.
#[derive(Clone, Debug)]
pub struct IndexTuple(pub List);

/// What the token mapper remembers while a script is tokenized: one entry per open
/// bracket, parenthesis or brace (true for an index bracket), whether the last token can
/// be indexed, and where it was.
#[derive(Default)]
struct Brackets {
    open: Vec<bool>,
    indexable: bool,
    last: (usize, usize),
}

/// Lets scripts write numpy's `a[0, 1]` for `a[[0, 1]]`: inside an index bracket (one that
/// follows a name, `]` or `)`), a top-level `,` becomes the [`INDEX_SEP`] operator, whose
/// operands are gathered into an [`IndexTuple`] that Array indexing reads as a list of
/// per-axis selectors. Commas inside calls, lists and maps within the bracket are unchanged,
/// and a comma there was a syntax error before, so no valid script changes meaning.
#[allow(deprecated)] // `on_parse_token` is marked volatile, not deprecated
pub fn register_index_syntax(engine: &mut rhai::Engine) {
    use rhai::Token;
    use std::sync::Mutex;
    // precedence 2: below every Rhai operator (`||` is 30), above the expression floor (1)
    if engine.register_custom_operator(INDEX_SEP, 2).is_err() {
        return;
    }
    engine.register_type_with_name::<IndexTuple>("IndexTuple");
    engine.register_fn(INDEX_SEP, |a: Dynamic, b: Dynamic| -> IndexTuple {
        if a.is::<IndexTuple>() {
            let mut t = a.cast::<IndexTuple>();
            t.0.push(b);
            t
        } else {
            IndexTuple(vec![a, b])
        }
    });
    engine.register_indexer_get(|a: &mut NdArray, idx: IndexTuple| -> RResult<Dynamic> {
        super::array::index::index_fns::index_get(a, Dynamic::from_array(idx.0))
    });
    engine.register_indexer_set(
        |a: &mut NdArray, idx: IndexTuple, value: Dynamic| -> RResult<()> {
            super::array::index::index_fns::index_set(a, Dynamic::from_array(idx.0), value)
        },
    );
    let state = Mutex::new(Brackets::default());
    engine.on_parse_token(move |token, pos, _| {
        let Ok(mut s) = state.lock() else {
            return token;
        };
        let here = (pos.line().unwrap_or(0), pos.position().unwrap_or(0));
        // a new script (or REPL line) starts before where the last one stopped
        if here < s.last || matches!(token, Token::EOF) {
            *s = Brackets::default();
        }
        s.last = here;
        let out = match &token {
            Token::LeftBracket => {
                let idx = s.indexable;
                s.open.push(idx);
                token
            }
            Token::LeftParen | Token::LeftBrace | Token::MapStart => {
                s.open.push(false);
                token
            }
            Token::RightBracket | Token::RightParen | Token::RightBrace => {
                s.open.pop();
                token
            }
            Token::Comma if s.open.last() == Some(&true) => {
                Token::Custom(Box::new(INDEX_SEP.into()))
            }
            _ => token,
        };
        s.indexable = matches!(
            out,
            Token::Identifier(_) | Token::RightBracket | Token::RightParen
        );
        out
    });
}
