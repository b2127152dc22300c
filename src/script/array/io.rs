//! Getting numbers out of an Array and arrays in and out of files: single items, Rhai
//! lists, numpy's printed forms (`print`, `debug`) and CSV files.

use super::{scalar, List, NdArray};
use crate::array::fmt_shape;
use rhai::plugin::*;
use rhai::{Dynamic, Map};

use crate::script::convert::{script_err, RResult};

fn to_list_rec(a: ndarray::ArrayViewD<f64>, mask: bool) -> Dynamic {
    if a.ndim() == 0 {
        return scalar(a.iter().next().copied().unwrap_or(f64::NAN), mask);
    }
    let items: List = a.outer_iter().map(|sub| to_list_rec(sub, mask)).collect();
    Dynamic::from_array(items)
}

/// Conversions to numbers, lists and text, and CSV reading and writing.
#[export_module]
pub mod io_fns {
    use super::*;

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
