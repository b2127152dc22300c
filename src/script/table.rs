//! The script `Table` type: named columns of numbers or text read from any CSV, with the
//! small part of pandas scientists reach for (filter, where, select, sort, join, pivot).
//!
//! A `Table` holds its data behind an `Arc`: passing one between calls never copies it; every
//! operation returns a new table.

use super::array::NdArray;
use super::convert::{number, script_err, type_name, RResult};
use crate::table::{Column, Table, Value};
use ndarray::Array1;
use rhai::plugin::*;
use rhai::{Dynamic, Map, Module, INT};
use std::path::Path;
use std::sync::Arc;

/// A Rhai list.
type List = rhai::Array;

/// A table as scripts hold it (shared, cheap to pass around).
#[derive(Clone, Debug)]
pub struct ScriptTable(pub Arc<Table>);

fn err(e: anyhow::Error) -> Box<EvalAltResult> {
    script_err(format!("{e:#}"))
}

fn wrap(t: anyhow::Result<Table>) -> RResult<ScriptTable> {
    t.map(|t| ScriptTable(Arc::new(t))).map_err(err)
}

/// A column as a script value: an Array of numbers, or a list of strings.
fn column_value(c: &Column) -> Dynamic {
    match c {
        Column::Numbers(v) => Dynamic::from(NdArray::new(Array1::from(v.clone()).into_dyn())),
        Column::Text(v) => Dynamic::from_array(v.iter().cloned().map(Dynamic::from).collect()),
    }
}

/// A column from a script value: a 1-D Array, or a list of numbers (`()` missing) or of
/// strings (`()` missing).
fn column_of(name: &str, d: &Dynamic) -> RResult<Column> {
    if let Some(a) = d.read_lock::<NdArray>() {
        if a.data().ndim() != 1 {
            return Err(script_err(format!(
                "table: column '{name}' must be a 1-D Array, not shape {:?}",
                a.data().shape(),
                name = crate::format::printable(name)
            )));
        }
        return Ok(Column::Numbers(a.data().iter().copied().collect()));
    }
    let Some(list) = d.read_lock::<List>() else {
        return Err(script_err(format!(
            "table: column '{name}' must be an Array or a list, not {}",
            type_name(d),
            name = crate::format::printable(name)
        )));
    };
    if list.iter().any(|v| v.is_string()) {
        let mut out = Vec::with_capacity(list.len());
        for (i, v) in list.iter().enumerate() {
            if v.is_unit() {
                out.push(String::new());
            } else if let Ok(s) = v.clone().into_string() {
                out.push(s);
            } else {
                return Err(script_err(format!(
                    "table: column '{name}' mixes text and other values: item {i} is {}",
                    type_name(v),
                    name = crate::format::printable(name)
                )));
            }
        }
        return Ok(Column::Text(out));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        if v.is_unit() {
            out.push(f64::NAN);
        } else {
            out.push(number(
                v,
                &format!(
                    "table: column '{name}', item {i},",
                    name = crate::format::printable(name)
                ),
            )?);
        }
    }
    Ok(Column::Numbers(out))
}

/// A list of column names.
fn names_of(d: &List, what: &str) -> RResult<Vec<String>> {
    d.iter()
        .map(|v| {
            v.clone().into_string().map_err(|_| {
                script_err(format!(
                    "{what}: column names are strings, not {}",
                    type_name(v)
                ))
            })
        })
        .collect()
}

/// One row as a map of column name -> value.
fn row_map(t: &Table, i: usize) -> Map {
    t.columns()
        .iter()
        .map(|n| {
            let v = match t.column(n).map(|c| c.value(i)) {
                Ok(Value::Number(x)) => Dynamic::from_float(x),
                Ok(Value::Text(s)) => Dynamic::from(s),
                Err(_) => Dynamic::UNIT,
            };
            (n.as_str().into(), v)
        })
        .collect()
}

/// The functions of the `table` module.
#[export_module]
pub mod table_fns {
    use super::*;

    /// A table: named columns of equal length, each numbers (NaN = missing) or text (empty =
    /// missing). Printing shows it aligned (head and tail of a long one); it is a value, and
    /// every operation returns a new table.
    ///
    /// ```rhai
    /// let t = table(#{"case": ["a", "b"], pc: [0.5, -1]});
    /// t.len()      //=> 2
    /// ```
    pub type Table = ScriptTable;

    /// Reads a CSV file with a header row (any CSV clmtune writes, or your own): a column is
    /// numbers when every non-empty cell reads as a number (NaN, NA and inf included), else
    /// text; an empty cell is missing. Errors name the file, line and column.
    ///
    /// ```rhai
    /// let p = `${TEMP_DIR}/read_table.csv`;
    /// table(#{"case": ["ppe_001", "ppe_002"], pc: [0.25, NAN]}).save(p);
    /// let t = read_table(p);
    /// t.columns    //=> ["case", "pc"]
    /// t["pc"]      //=> [0.25  nan]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn read_table(path: &str) -> RResult<ScriptTable> {
        wrap(crate::table::Table::read(Path::new(path)))
    }

    /// A table from a map of column name -> values: an Array of numbers, or a list of
    /// numbers or of strings (`()` is missing). A map's keys are sorted, so the columns come
    /// in alphabetical order; `.select([...])` puts them in another. A name that is a Rhai
    /// keyword (`case`) or not a plain word (`rank_GPP` is, `pe rank` is not) is quoted:
    /// `#{"case": [...]}`.
    ///
    /// ```rhai
    /// let t = table(#{pc: array([0.5, -1.0]), "case": ["a", "b"], mode: [1, 2]});
    /// t.columns                              //=> ["case", "mode", "pc"]
    /// t.select(["mode", "pc"]).columns       //=> ["mode", "pc"]
    /// ```
    #[rhai_fn(name = "table", return_raw)]
    pub fn table_of(columns: Map) -> RResult<ScriptTable> {
        let cols = columns
            .iter()
            .map(|(k, v)| Ok((k.to_string(), column_of(k, v)?)))
            .collect::<RResult<Vec<_>>>()?;
        wrap(crate::table::Table::from_columns(cols))
    }

    /// The column names, in order.
    ///
    /// ```rhai
    /// table(#{a: [1], b: ["x"]}).columns    //=> ["a", "b"]
    /// ```
    #[rhai_fn(get = "columns", pure)]
    pub fn columns(t: &mut ScriptTable) -> List {
        t.0.columns().iter().cloned().map(Dynamic::from).collect()
    }

    /// The number of rows.
    ///
    /// ```rhai
    /// table(#{a: [1, 2, 3]}).len()    //=> 3
    /// ```
    #[rhai_fn(pure)]
    pub fn len(t: &mut ScriptTable) -> INT {
        t.0.len() as INT
    }

    /// The rows as a list of maps (column name -> value), for a `for` loop over rows.
    ///
    /// ```rhai
    /// let t = table(#{"case": ["a", "b"], pc: [0.5, -1]});
    /// t.rows[1]["case"]    //=> b
    /// t.rows[1].pc         //=> -1.0
    /// ```
    #[rhai_fn(get = "rows", pure)]
    pub fn rows(t: &mut ScriptTable) -> List {
        (0..t.0.len())
            .map(|i| Dynamic::from_map(row_map(&t.0, i)))
            .collect()
    }

    /// `t["name"]`: a number column as an Array, a text column as a list of strings.
    ///
    /// ```rhai
    /// let t = table(#{"case": ["a", "b"], pc: [0.5, -1]});
    /// t["pc"]          //=> [ 0.5 -1. ]
    /// t["case"]        //=> ["a", "b"]
    /// t["pc"].mean()   //=> -0.25
    /// ```
    #[rhai_fn(index_get, return_raw, pure)]
    pub fn index_get(t: &mut ScriptTable, name: &str) -> RResult<Dynamic> {
        t.0.column(name).map(column_value).map_err(err)
    }

    /// The rows where every named column equals its value: `#{variable: "GPP", mode: 1}`
    /// (a number for a number column, a string for a text column).
    ///
    /// ```rhai
    /// let t = table(#{variable: ["GPP", "GPP", "LH"], mode: [1, 2, 1], pc: [0.5, -1, 3]});
    /// t.filter(#{variable: "GPP", mode: 2})["pc"]    //=> [-1.]
    /// t.filter(#{variable: "LH"}).len()              //=> 1
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn filter(t: &mut ScriptTable, equals: Map) -> RResult<ScriptTable> {
        let mut conds = Vec::with_capacity(equals.len());
        for (k, v) in &equals {
            let value = if let Ok(s) = v.clone().into_string() {
                Value::Text(s)
            } else {
                Value::Number(number(
                    v,
                    &format!(
                        "Table.filter: the value of '{k}'",
                        k = crate::format::printable(k)
                    ),
                )?)
            };
            conds.push((k.as_str(), value));
        }
        wrap(t.0.filter(&conds))
    }

    /// The rows where `mask` is true: a boolean Array such as a comparison gives (one value
    /// per row), or a list of bools.
    ///
    /// ```rhai
    /// let t = table(#{"case": ["a", "b", "c"], pc: [0.5, -1, 3]});
    /// t.where(t["pc"] > 0)["case"]        //=> ["a", "c"]
    /// t.where([false, true, false]).len() //=> 1
    /// ```
    #[rhai_fn(name = "where", return_raw, pure)]
    pub fn where_(t: &mut ScriptTable, mask: Dynamic) -> RResult<ScriptTable> {
        let bools: Vec<bool> = if let Some(a) = mask.read_lock::<NdArray>() {
            if !a.is_mask() || a.data().ndim() != 1 {
                return Err(script_err(format!(
                    "Table.where needs a 1-D boolean mask such as t[\"pc\"] > 0, not {} of \
                     shape {:?}",
                    if a.is_mask() {
                        "a mask"
                    } else {
                        "an Array of numbers"
                    },
                    a.data().shape()
                )));
            }
            a.data().iter().map(|&x| x != 0.0).collect()
        } else if let Some(list) = mask.read_lock::<List>() {
            list.iter()
                .map(|v| {
                    v.as_bool().map_err(|_| {
                        script_err(format!(
                            "Table.where: a mask list holds bools, not {}",
                            type_name(v)
                        ))
                    })
                })
                .collect::<RResult<_>>()?
        } else {
            return Err(script_err(format!(
                "Table.where needs a boolean mask such as t[\"pc\"] > 0, not {}",
                type_name(&mask)
            )));
        };
        wrap(t.0.where_mask(&bools))
    }

    /// The named columns, in the order given.
    ///
    /// ```rhai
    /// let t = table(#{a: [1], b: [2], c: ["x"]});
    /// t.select(["c", "a"]).columns    //=> ["c", "a"]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn select(t: &mut ScriptTable, columns: List) -> RResult<ScriptTable> {
        wrap(t.0.select(&names_of(&columns, "Table.select")?))
    }

    /// The rows sorted by one column, ascending and stable (equal values keep their order);
    /// missing values last; text sorts by characters (upper case before lower case).
    ///
    /// ```rhai
    /// let t = table(#{"case": ["a", "b", "c"], pc: [0.5, NAN, -1]});
    /// t.sort("pc")["case"]     //=> ["c", "a", "b"]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn sort(t: &mut ScriptTable, column: &str) -> RResult<ScriptTable> {
        wrap(t.0.sort(column))
    }

    /// The rows sorted by one column, ascending (`true`, as `sort(column)`) or descending
    /// (`false`: largest first); missing values last either way.
    ///
    /// ```rhai
    /// let t = table(#{"case": ["a", "b", "c", "d"], pc: [0.5, NAN, -1, 2]});
    /// t.sort("pc", false)["case"]     //=> ["d", "a", "c", "b"]
    /// ```
    #[rhai_fn(name = "sort", return_raw, pure)]
    pub fn sort_by(t: &mut ScriptTable, column: &str, ascending: bool) -> RResult<ScriptTable> {
        wrap(t.0.sort_by(column, ascending))
    }

    /// Inner join on the key column `key` (numbers in both tables, or text in both): a row
    /// for each pair of rows with equal keys, in the order of this table's rows; rows without
    /// a partner are left out. The right table's columns other than the key follow; one whose
    /// name is already taken gets the suffix `_right`.
    ///
    /// ```rhai
    /// let pcs = table(#{"case": ["b", "a", "b"], pc: [0.5, -1, 2]});
    /// let design = table(#{"case": ["a", "b"], member: [1, 2], pc: [7, 8]});
    /// let j = pcs.join(design, "case");
    /// j.columns       //=> ["case", "pc", "member", "pc_right"]
    /// j["member"]     //=> [2. 1. 2.]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn join(t: &mut ScriptTable, other: ScriptTable, key: &str) -> RResult<ScriptTable> {
        wrap(t.0.join(&other.0, key))
    }

    /// Spreads the number column `values` into an Array (rows x columns): one row per
    /// distinct value of column `index`, one column per distinct value of column `columns`,
    /// both in sorted order (as `unique` gives them). A pair with no row is NaN; a pair
    /// that appears twice is an error (filter first).
    ///
    /// ```rhai
    /// let t = table(#{"case": ["b", "a", "b", "a"], mode: [1, 1, 2, 2], pc: [3, 1, 4, 2]});
    /// t.pivot("case", "mode", "pc")    //=> [[1. 2.]
    ///                                  //=>  [3. 4.]]
    /// t.unique("case")                 //=> ["a", "b"]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn pivot(
        t: &mut ScriptTable,
        index: &str,
        columns: &str,
        values: &str,
    ) -> RResult<NdArray> {
        let (_, _, m) = t.0.pivot(index, columns, values).map_err(err)?;
        Ok(NdArray::new(m.into_dyn()))
    }

    /// The distinct values of a column in sorted order (numbers by value, text by
    /// characters), missing values left out: the row and column labels of `pivot`.
    ///
    /// ```rhai
    /// table(#{mode: [10, 2, 9, 2]}).unique("mode")    //=> [ 2.  9. 10.]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn unique(t: &mut ScriptTable, column: &str) -> RResult<Dynamic> {
        t.0.column(column)
            .map(|c| column_value(&c.unique()))
            .map_err(err)
    }

    /// The named number columns as an Array (rows x columns); a text column is an error.
    ///
    /// ```rhai
    /// let t = table(#{a: [1, 2], b: [0.5, 0.25], "case": ["x", "y"]});
    /// t.to_array(["b", "a"])    //=> [[0.5  1.  ]
    ///                           //=>  [0.25 2.  ]]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn to_array(t: &mut ScriptTable, columns: List) -> RResult<NdArray> {
        let names = names_of(&columns, "Table.to_array")?;
        t.0.to_array(&names)
            .map(|m| NdArray::new(m.into_dyn()))
            .map_err(err)
    }

    /// Every column as an Array (rows x columns); an error if one holds text.
    ///
    /// ```rhai
    /// table(#{a: [1, 2], b: [3, 4]}).to_array()    //=> [[1. 3.]
    ///                                              //=>  [2. 4.]]
    /// ```
    #[rhai_fn(name = "to_array", return_raw, pure)]
    pub fn to_array_all(t: &mut ScriptTable) -> RResult<NdArray> {
        t.0.to_array(t.0.columns())
            .map(|m| NdArray::new(m.into_dyn()))
            .map_err(err)
    }

    /// Writes the table as CSV (numbers at full precision, integers as integers, a missing
    /// value as an empty cell); the file is replaced only once complete.
    ///
    /// ```rhai
    /// let p = `${TEMP_DIR}/saved_table.csv`;
    /// table(#{"case": ["a", "b"], mode: [1, 2], pc: [0.1, NAN]}).save(p);
    /// read_table(p)["pc"]    //=> [0.1 nan]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn save(t: &mut ScriptTable, path: &str) -> RResult<()> {
        t.0.write(Path::new(path)).map_err(err)
    }

    /// The table aligned in columns: every row up to 20, else the first and last 5; then
    /// `N rows x M columns` (used by `print`).
    ///
    /// ```rhai
    /// let t = table(#{"case": ["a", "b"], pc: [0.5, NAN]});
    /// t.to_string()    //=> case   pc
    ///                  //=> a     0.5
    ///                  //=> b     NaN
    ///                  //=> 2 rows x 2 columns
    /// ```
    #[rhai_fn(global, pure)]
    pub fn to_string(t: &mut ScriptTable) -> String {
        t.0.to_string()
    }

    /// The same aligned table (used by `debug` and the REPL).
    #[rhai_fn(global, pure)]
    pub fn to_debug(t: &mut ScriptTable) -> String {
        t.0.to_string()
    }
}

/// The `table` module.
pub fn module() -> Module {
    exported_module!(table_fns)
}
