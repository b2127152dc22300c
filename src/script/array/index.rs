//! Indexing: `a[...]` and `a[...] = value` with ints, ranges, `":"`, lists of these,
//! masks, Arrays of positions and column names.

use super::{ok, operand, wrap, List, NdArray};
use crate::array::ops::{self, Sel};
use ndarray::ArrayD;
use rhai::plugin::*;
use rhai::{Dynamic, INT};
use std::sync::Arc;

use crate::script::convert::{int_list, script_err, type_name, RResult};

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
            ok(ops::assign_masked(a.data_mut(), &ix.data, &v.data))?;
        } else {
            for i in int_list(idx, "array indices")? {
                ok(ops::assign(a.data_mut(), &[Sel::At(i)], &v.data))?;
            }
        }
        // numbers written into a true/false array make it an array of numbers
        if !v.mask {
            a.mask = false;
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

/// The indexers `a[...]` and `a[...] = value`.
#[export_module]
pub mod index_fns {
    use super::*;

    /// The positions of a multi-index: inside an index bracket `a[i, j]` the commas gather
    /// the positions into one of these, which Array indexing reads as `a[[i, j]]` (one
    /// position or range per axis). Scripts do not keep one: it exists inside `[...]` only.
    ///
    /// ```rhai
    /// let a = array([[1, 2, 3], [4, 5, 6]]);
    /// a[1, 0]         //=> 4.0
    /// a[1, 0..2]      //=> [4. 5.]
    /// ```
    pub type IndexTuple = crate::script::numpy::IndexTuple;

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
}
