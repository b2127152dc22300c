//! numpy-like printing: `str` form `[[1. 2.]\n [3. 4.]]` and `repr` form
//! `array([[1., 2.],\n       [3., 4.]])`, truncated with `...` past 1000 elements.

use ndarray::{ArrayViewD, Axis};

/// Arrays with more elements than this print only their edges (numpy's `threshold`).
pub const THRESHOLD: usize = 1000;
/// How many items print at each edge of a truncated axis (numpy's `edgeitems`).
pub const EDGE_ITEMS: usize = 3;
/// Line width for wrapping long rows (numpy's `linewidth`).
pub const LINE_WIDTH: usize = 75;
/// Most fraction digits printed (numpy's `precision`).
pub const PRECISION: usize = 8;

/// How the numbers of one array are written: decided once from all its values.
struct NumFormat {
    sci: bool,
    int_width: usize,
    frac_width: usize,
    mask: bool,
    width: usize,
}

fn trim_frac(s: &str) -> String {
    if let Some(dot) = s.find('.') {
        let t = s.trim_end_matches('0');
        if t.len() <= dot + 1 {
            return s[..=dot].to_string();
        }
        return t.to_string();
    }
    s.to_string()
}

/// (mantissa, exponent digits) of x in numpy's scientific style, e.g. ("1.5", "-05").
fn sci_parts(x: f64) -> (String, String) {
    let s = format!("{:.*e}", PRECISION, x);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    (
        trim_frac(m),
        format!("{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()),
    )
}

fn fixed(x: f64) -> String {
    trim_frac(&format!("{:.*}", PRECISION, x))
}

impl NumFormat {
    fn new<'a>(values: impl Iterator<Item = &'a f64> + Clone, mask: bool) -> NumFormat {
        let finite: Vec<f64> = values.clone().copied().filter(|x| x.is_finite()).collect();
        let abs_nz: Vec<f64> = finite
            .iter()
            .map(|x| x.abs())
            .filter(|&x| x > 0.0)
            .collect();
        let max = abs_nz.iter().copied().fold(0.0, f64::max);
        let min = abs_nz.iter().copied().fold(f64::INFINITY, f64::min);
        let sci = !abs_nz.is_empty() && (max >= 1e8 || min < 1e-4 || max / min > 1e3);
        let (mut int_width, mut frac_width) = (0, 0);
        for &x in &finite {
            let m = if sci { sci_parts(x).0 } else { fixed(x) };
            let (i, f) = m.split_once('.').unwrap_or((&m, ""));
            int_width = int_width.max(i.len());
            frac_width = frac_width.max(f.len());
        }
        let mut fmt = NumFormat {
            sci,
            int_width,
            frac_width,
            mask,
            width: 0,
        };
        // numpy gives booleans the width of "False" whatever the values
        fmt.width = if mask {
            5
        } else {
            values.map(|&x| fmt.raw(x).len()).max().unwrap_or(0)
        };
        fmt
    }

    fn raw(&self, x: f64) -> String {
        if self.mask {
            return if x != 0.0 { "True" } else { "False" }.into();
        }
        if !x.is_finite() {
            return if x.is_nan() {
                "nan".into()
            } else if x > 0.0 {
                "inf".into()
            } else {
                "-inf".into()
            };
        }
        let (m, e) = if self.sci {
            sci_parts(x)
        } else {
            (fixed(x), String::new())
        };
        let (i, f) = m.split_once('.').unwrap_or((&m, ""));
        if self.sci {
            // numpy pads scientific mantissas with zeros, fixed notation with spaces
            format!(
                "{:>w$}.{:0<fw$}e{}",
                i,
                f,
                e,
                w = self.int_width,
                fw = self.frac_width
            )
        } else {
            format!(
                "{:>w$}.{:<fw$}",
                i,
                f,
                w = self.int_width,
                fw = self.frac_width
            )
        }
    }

    fn cell(&self, x: f64) -> String {
        let s = self.raw(x);
        format!("{s:>w$}", w = self.width)
    }
}

/// numpy's `str(a)`.
pub fn to_str(a: ArrayViewD<f64>, mask: bool) -> String {
    render(a, mask, false)
}

/// numpy's `repr(a)`.
pub fn to_repr(a: ArrayViewD<f64>, mask: bool) -> String {
    render(a, mask, true)
}

fn render(a: ArrayViewD<f64>, mask: bool, repr: bool) -> String {
    let truncate = a.len() > THRESHOLD;
    let fmt = NumFormat::new(a.iter(), mask);
    let prefix = if repr { "array(" } else { "" };
    let body = if a.ndim() == 0 {
        let x = a.iter().next().copied().unwrap_or(f64::NAN);
        fmt.raw(x).trim().to_string()
    } else {
        let sep = if repr { "," } else { "" };
        block(&a, &fmt, truncate, prefix.len() + 1, sep)
    };
    if repr {
        let mut s = format!("array({body}");
        if a.is_empty() && a.ndim() > 1 {
            s.push_str(&format!(", shape={}", super::fmt_shape(a.shape())));
        }
        s.push(')');
        s
    } else {
        body
    }
}

fn indices(len: usize, truncate: bool) -> Vec<Option<usize>> {
    if truncate && len > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS)
            .map(Some)
            .chain([None])
            .chain((len - EDGE_ITEMS..len).map(Some))
            .collect()
    } else {
        (0..len).map(Some).collect()
    }
}

/// One bracketed block; `indent` is the column of the first element.
fn block(a: &ArrayViewD<f64>, fmt: &NumFormat, truncate: bool, indent: usize, sep: &str) -> String {
    let len = a.shape()[0];
    if a.ndim() == 1 {
        let mut lines = vec![String::from("[")];
        let items = indices(len, truncate);
        for (k, i) in items.iter().enumerate() {
            let mut word = match i {
                Some(i) => fmt.cell(a[[*i]]),
                None => "...".to_string(),
            };
            if k + 1 < items.len() {
                word.push_str(sep);
            }
            let cur = lines.last_mut().expect("at least one line");
            let gap = if cur.len() <= 1 { "" } else { " " };
            if cur.len() + gap.len() + word.len() + 1 > LINE_WIDTH && cur.len() > 1 {
                lines.push(format!("{}{}", " ".repeat(indent), word));
            } else {
                cur.push_str(gap);
                cur.push_str(&word);
            }
        }
        let mut s = lines.join("\n");
        s.push(']');
        return s;
    }
    let blank = "\n".repeat(a.ndim() - 1);
    let mut parts = Vec::new();
    for i in indices(len, truncate) {
        parts.push(match i {
            Some(i) => block(&a.index_axis(Axis(0), i), fmt, truncate, indent + 1, sep),
            None => "...".into(),
        });
    }
    let joiner = format!("{sep}{blank}{}", " ".repeat(indent));
    format!("[{}]", parts.join(&joiner))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, ArrayD, IxDyn};

    // Expected strings are numpy 2.x's str() and repr() of the same arrays.
    #[test]
    fn integers_and_fractions() {
        assert_eq!(
            to_str(array![1.0, 2.0, 3.0].into_dyn().view(), false),
            "[1. 2. 3.]"
        );
        assert_eq!(
            to_str(array![1.5, 2.25].into_dyn().view(), false),
            "[1.5  2.25]"
        );
        assert_eq!(
            to_str(array![-1.0, 10.0].into_dyn().view(), false),
            "[-1. 10.]"
        );
        assert_eq!(
            to_repr(array![[1.0, 2.0], [3.0, 4.0]].into_dyn().view(), false),
            "array([[1., 2.],\n       [3., 4.]])"
        );
        assert_eq!(
            to_str(array![[1.0, 2.0], [3.0, 4.0]].into_dyn().view(), false),
            "[[1. 2.]\n [3. 4.]]"
        );
    }

    #[test]
    fn scientific_nan_and_masks() {
        assert_eq!(
            to_str(array![1e-5, 1.0].into_dyn().view(), false),
            "[1.e-05 1.e+00]"
        );
        assert_eq!(
            to_str(array![1.0, f64::NAN].into_dyn().view(), false),
            "[ 1. nan]"
        );
        assert_eq!(
            to_str(array![1.0, 0.0].into_dyn().view(), true),
            "[ True False]"
        );
        assert_eq!(
            to_repr(ArrayD::from_elem(IxDyn(&[]), 2.5).view(), false),
            "array(2.5)"
        );
        assert_eq!(
            to_repr(ArrayD::<f64>::zeros(IxDyn(&[0])).view(), false),
            "array([])"
        );
    }

    #[test]
    fn all_true_masks_keep_numpy_width() {
        assert_eq!(
            to_str(array![1.0, 1.0].into_dyn().view(), true),
            "[ True  True]"
        );
        // numpy: repr(np.array([True, False])) == "array([ True, False])"
        assert_eq!(
            to_repr(array![1.0, 0.0].into_dyn().view(), true),
            "array([ True, False])"
        );
    }

    #[test]
    fn large_arrays_are_truncated() {
        let a = ArrayD::from_shape_fn(IxDyn(&[2000]), |i| i[0] as f64);
        assert_eq!(
            to_str(a.view(), false),
            "[0.000e+00 1.000e+00 2.000e+00 ... 1.997e+03 1.998e+03 1.999e+03]"
        );
        let b = ArrayD::from_shape_fn(IxDyn(&[2000]), |i| 1.0 + i[0] as f64 / 2000.0);
        assert_eq!(
            to_str(b.view(), false),
            "[1.     1.0005 1.001  ... 1.9985 1.999  1.9995]"
        );
    }

    #[test]
    fn long_rows_wrap_and_blocks_separate() {
        let a = crate::array::linspace(0.0, 1.0, 40).unwrap();
        let s = to_str(a.view(), false);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            lines[0],
            "[0.         0.02564103 0.05128205 0.07692308 0.1025641  0.12820513"
        );
        assert_eq!(
            lines[1],
            " 0.15384615 0.17948718 0.20512821 0.23076923 0.25641026 0.28205128"
        );
        assert_eq!(
            lines.last().unwrap(),
            &" 0.92307692 0.94871795 0.97435897 1.        ]"
        );
        let c = crate::array::arange(0.0, 24.0, 1.0)
            .unwrap()
            .into_shape_with_order(IxDyn(&[2, 3, 4]))
            .unwrap();
        let r = to_repr(c.view(), false);
        assert!(
            r.starts_with("array([[[ 0.,  1.,  2.,  3.],\n        [ 4.,  5.,  6.,  7.],"),
            "{r}"
        );
        assert!(
            r.contains("[ 8.,  9., 10., 11.]],\n\n       [[12., 13., 14., 15.],"),
            "{r}"
        );
    }
}
