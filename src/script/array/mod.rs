//! The script `Array` type: the numeric core of [`crate::array`] with numpy's names.
//!
//! An `Array` holds its data behind an `Arc`, so passing it between Rhai calls never copies
//! the numbers; writing into one (`a[0] = 1.0`) copies only if another variable still
//! shares the same data (Rhai values behave as values, not references).
//!
//! The functions are split as rhai splits its own `packages/`, one plugin module per idea,
//! all combined by [`module`] into the one `array` module of [`super::MODULES`]:
//! [`construct`] (the type, construction, attributes and shape), [`index`] (`a[...]`),
//! [`ops`] (operators, element-wise maths, matrix products), [`reduce`] (reductions,
//! sorting, ranks and statistics) and [`io`] (items, lists, text and CSV files).

pub mod construct;
pub mod index;
pub mod io;
pub mod ops;
pub mod reduce;

use crate::array::{self as core, fmt_shape, ArrayError};
use ndarray::{ArrayD, IxDyn};
use rhai::plugin::*;
use rhai::{Dynamic, Module};
use std::sync::Arc;

use super::convert::{number, script_err, type_name, RResult};

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
    let mut m = Module::new();
    combine_with_exported_module!(&mut m, "construct", construct::construct_fns);
    combine_with_exported_module!(&mut m, "index", index::index_fns);
    combine_with_exported_module!(&mut m, "ops", ops::ops_fns);
    combine_with_exported_module!(&mut m, "reduce", reduce::reduce_fns);
    combine_with_exported_module!(&mut m, "io", io::io_fns);
    m.set_iter(std::any::TypeId::of::<NdArray>(), |obj: Dynamic| {
        let items = obj
            .read_lock::<NdArray>()
            .map(|a| first_axis_items(&a))
            .unwrap_or_default();
        Box::new(items.into_iter())
    });
    reduce::register_reductions(&mut m);
    ops::register_elementwise(&mut m);
    super::numpy::register(&mut m);
    m
}
