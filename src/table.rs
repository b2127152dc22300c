//! Tables: named columns of numbers or text, the small part of a dataframe that scientists
//! reach for (read any CSV, filter, select, sort, join on a key, pivot to a matrix, save).
//!
//! A number column holds f64 with NaN for a missing value; a text column holds strings with
//! the empty string for a missing value. Files are read and written by the rules every CSV of
//! clmtune follows: a header row; numbers written by [`fmt_number`] (shortest round-trip text,
//! integers as integers, a missing value as an empty cell) through the one CSV writer
//! [`crate::array::csv::write_records`], atomically.

use anyhow::{bail, Context, Result};
use ndarray::Array2;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

pub use crate::array::csv::fmt_number;

/// One column: numbers (NaN = missing) or text (empty = missing).
#[derive(Debug, Clone)]
pub enum Column {
    /// Numbers; NaN is a missing value.
    Numbers(Vec<f64>),
    /// Text; the empty string is a missing value.
    Text(Vec<String>),
}

impl PartialEq for Column {
    /// Equal values in the same order; a missing number equals a missing number.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Column::Numbers(a), Column::Numbers(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
            }
            (Column::Text(a), Column::Text(b)) => a == b,
            _ => false,
        }
    }
}

impl Column {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Column::Numbers(v) => v.len(),
            Column::Text(v) => v.len(),
        }
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the column holds, in words: "numbers" or "text".
    pub fn kind(&self) -> &'static str {
        match self {
            Column::Numbers(_) => "numbers",
            Column::Text(_) => "text",
        }
    }

    /// The values at `rows`, in that order.
    fn take(&self, rows: &[usize]) -> Column {
        match self {
            Column::Numbers(v) => Column::Numbers(rows.iter().map(|&i| v[i]).collect()),
            Column::Text(v) => Column::Text(rows.iter().map(|&i| v[i].clone()).collect()),
        }
    }

    /// The CSV cell of row `i` (numbers by [`fmt_number`]).
    fn cell(&self, i: usize) -> String {
        match self {
            Column::Numbers(v) => fmt_number(v[i]),
            Column::Text(v) => v[i].clone(),
        }
    }

    /// The value of row `i` as printed in a table (a missing number as `NaN`).
    fn shown(&self, i: usize) -> String {
        match self {
            Column::Numbers(v) if v[i].is_nan() => "NaN".into(),
            _ => self.cell(i),
        }
    }

    /// The value of row `i` as a value a filter compares with.
    pub fn value(&self, i: usize) -> Value {
        match self {
            Column::Numbers(v) => Value::Number(v[i]),
            Column::Text(v) => Value::Text(v[i].clone()),
        }
    }

    /// The hashable key of row `i`; `None` for a missing value (which never matches).
    fn key(&self, i: usize) -> Option<Key> {
        match self {
            Column::Numbers(v) if v[i].is_nan() => None,
            // -0 and 0 are the same key
            Column::Numbers(v) => Some(Key::Number((v[i] + 0.0).to_bits())),
            Column::Text(v) if v[i].is_empty() => None,
            Column::Text(v) => Some(Key::Text(v[i].clone())),
        }
    }

    /// Row order that sorts the column (stable; missing values last; numbers by value, text
    /// lexically by bytes).
    fn sort_order(&self) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.len()).collect();
        match self {
            Column::Numbers(v) => idx.sort_by(|&a, &b| {
                let (x, y) = (v[a], v[b]);
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    // -0 and 0 compare equal (a stable sort keeps their order)
                    (false, false) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                }
            }),
            Column::Text(v) => idx.sort_by(|&a, &b| {
                let (x, y) = (&v[a], &v[b]);
                match (x.is_empty(), y.is_empty()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    (false, false) => x.cmp(y),
                }
            }),
        }
        idx
    }

    /// The distinct present values in sorted order (numbers by value, text lexically);
    /// missing values are left out.
    pub fn unique(&self) -> Column {
        let order = self.sort_order();
        let mut seen = std::collections::HashSet::new();
        let keep: Vec<usize> = order
            .into_iter()
            .filter(|&i| self.key(i).is_some_and(|k| seen.insert(k)))
            .collect();
        self.take(&keep)
    }
}

/// A value a filter compares a column with: a number or a text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number (compares with a number column).
    Number(f64),
    /// A text (compares with a text column).
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(x) if x.is_nan() => f.write_str("NaN"),
            Value::Number(x) => f.write_str(&fmt_number(*x)),
            Value::Text(s) => write!(f, "'{s}'"),
        }
    }
}

/// A hashable key value of a join or a pivot (numbers by their bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Number(u64),
    Text(String),
}

/// A table: named columns of equal length, each numbers or text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    names: Vec<String>,
    cols: Vec<Column>,
    rows: usize,
}

/// Whether a CSV cell is a missing number: empty, `NA`, `N/A` or NaN in any case.
fn is_missing_token(s: &str) -> bool {
    matches!(s, "" | "NA" | "N/A") || s.eq_ignore_ascii_case("nan")
}

/// A CSV cell as a number: `Some(NaN)` for a missing token, `None` if it is not a number.
fn parse_number(cell: &str) -> Option<f64> {
    let t = cell.trim();
    if is_missing_token(t) {
        Some(f64::NAN)
    } else {
        t.parse().ok()
    }
}

/// "did you mean 'x'? columns: a, b, c", the nearest name by edit distance.
fn nearest(name: &str, known: &[String]) -> String {
    let best = known.iter().min_by_key(|k| {
        (
            strsim::levenshtein(&name.to_lowercase(), &k.to_lowercase()),
            k.as_str(),
        )
    });
    match best {
        None => "the table has no columns".into(),
        Some(b) => format!(
            "did you mean '{b}'? columns: {}",
            known.join(", "),
            b = crate::format::printable(b)
        ),
    }
}

impl Table {
    /// A table from `(name, column)` pairs in order. Names must be non-empty and distinct,
    /// and every column as long as the first.
    pub fn from_columns(columns: Vec<(String, Column)>) -> Result<Table> {
        let rows = columns.first().map_or(0, |(_, c)| c.len());
        let mut names = Vec::with_capacity(columns.len());
        let mut cols = Vec::with_capacity(columns.len());
        for (name, col) in columns {
            if name.is_empty() {
                bail!("Table: a column needs a name");
            }
            if names.contains(&name) {
                bail!(
                    "Table: column '{name}' is given twice",
                    name = crate::format::printable(&name)
                );
            }
            if col.len() != rows {
                bail!(
                    "Table: column '{name}' has {} values, column '{}' has {rows}",
                    col.len(),
                    names[0],
                    name = crate::format::printable(&name)
                );
            }
            names.push(name);
            cols.push(col);
        }
        Ok(Table { names, cols, rows })
    }

    /// Reads a CSV file with a header row (any CSV clmtune writes, or a user's own).
    ///
    /// Each column is numbers when every non-empty cell reads as a number (`NaN`, `nan`,
    /// `NA`, `N/A` and `inf` included; an empty cell is missing), else text (kept as
    /// written; an empty cell is missing). Header names are trimmed; an empty header name
    /// becomes `unnamed_I` (I the 0-based column position, as pandas' `Unnamed: I`).
    /// Errors name the file and line, and the column where one is at fault; a row with more
    /// or fewer cells than the header is an error. The file is marked as an input of this
    /// run, so no later write of the run replaces it.
    pub fn read(path: &Path) -> Result<Table> {
        crate::files::check_input(path, "table")?;
        crate::files::mark_input(path);
        let file = path.display();
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_path(path)
            .with_context(|| format!("cannot open {file}"))?;
        let mut records = rdr.byte_records();
        let header = match records.next() {
            None => bail!("{file}: empty file, no header row"),
            Some(h) => h.with_context(|| format!("{file}: cannot read the header row"))?,
        };
        let mut names: Vec<String> = Vec::with_capacity(header.len());
        for (i, h) in header.iter().enumerate() {
            let h = std::str::from_utf8(h)
                .map_err(|_| anyhow::anyhow!("{file}:1: column {}: not UTF-8 text", i + 1))?;
            let h = h.trim_start_matches('\u{feff}').trim();
            let name = if h.is_empty() {
                format!("unnamed_{i}")
            } else {
                h.to_string()
            };
            if names.contains(&name) {
                bail!(
                    "{file}:1: column '{name}' appears twice in the header",
                    name = crate::format::printable(&name)
                );
            }
            names.push(name);
        }
        let ncols = names.len();
        let mut cells: Vec<Vec<String>> = vec![Vec::new(); ncols];
        for rec in records {
            let rec = rec.with_context(|| format!("cannot read {file}"))?;
            let line = rec.position().map_or(0, |p| p.line());
            // a line of blanks alone is no row
            if ncols > 1 && rec.len() == 1 && rec[0].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if rec.len() != ncols {
                bail!(
                    "{file}:{line}: {} cells, but the header has {ncols} columns",
                    rec.len()
                );
            }
            for (c, field) in rec.iter().enumerate() {
                let text = std::str::from_utf8(field).map_err(|_| {
                    anyhow::anyhow!("{file}:{line}: column '{}': not UTF-8 text", names[c])
                })?;
                cells[c].push(text.to_string());
            }
        }
        let rows = cells.first().map_or(0, Vec::len);
        let cols = cells
            .into_iter()
            .map(|col| {
                let numbers: Option<Vec<f64>> = col.iter().map(|s| parse_number(s)).collect();
                match numbers {
                    Some(v) => Column::Numbers(v),
                    None => Column::Text(col),
                }
            })
            .collect();
        Ok(Table { names, cols, rows })
    }

    /// Writes the table as CSV through the one CSV writer, atomically (numbers by
    /// [`fmt_number`], a missing value as an empty cell). A text column whose every value
    /// reads as a number comes back from [`Table::read`] as numbers.
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::array::csv::write_records(
            path,
            &self.names,
            (0..self.rows).map(|i| self.cols.iter().map(move |c| c.cell(i))),
        )
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.names
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The position of column `name`; an error names the nearest column.
    fn position(&self, name: &str) -> Result<usize> {
        self.names.iter().position(|n| n == name).with_context(|| {
            format!(
                "Table has no column '{}' ({})",
                crate::format::printable(name),
                nearest(name, &self.names)
            )
        })
    }

    /// The column called `name`; an unknown name is an error naming the nearest.
    pub fn column(&self, name: &str) -> Result<&Column> {
        Ok(&self.cols[self.position(name)?])
    }

    /// The numbers of column `name`; an error if it is text.
    pub fn numbers(&self, name: &str) -> Result<&[f64]> {
        match self.column(name)? {
            Column::Numbers(v) => Ok(v),
            Column::Text(_) => bail!(
                "Table column '{name}' holds text, not numbers",
                name = crate::format::printable(name)
            ),
        }
    }

    /// The rows at `rows` (in that order), every column kept.
    fn take(&self, rows: &[usize]) -> Table {
        Table {
            names: self.names.clone(),
            cols: self.cols.iter().map(|c| c.take(rows)).collect(),
            rows: rows.len(),
        }
    }

    /// The rows where every named column equals its value: a number for a number column
    /// (NaN matches nothing), a text for a text column. A value of the wrong kind is an error.
    pub fn filter(&self, equals: &[(&str, Value)]) -> Result<Table> {
        let mut keep = vec![true; self.rows];
        for (name, value) in equals {
            let col = self.column(name)?;
            match (col, value) {
                (Column::Numbers(v), Value::Number(x)) => {
                    for (k, y) in keep.iter_mut().zip(v) {
                        *k &= y == x;
                    }
                }
                (Column::Text(v), Value::Text(s)) => {
                    for (k, y) in keep.iter_mut().zip(v) {
                        *k &= y == s;
                    }
                }
                (col, value) => bail!(
                    "Table.filter: column '{name}' holds {}, but the value {value} is {}",
                    col.kind(),
                    match value {
                        Value::Number(_) => "a number",
                        Value::Text(_) => "text",
                    },
                    name = crate::format::printable(name)
                ),
            }
        }
        self.where_mask(&keep)
    }

    /// The rows where `mask` is true; the mask has one entry per row.
    pub fn where_mask(&self, mask: &[bool]) -> Result<Table> {
        if mask.len() != self.rows {
            bail!(
                "Table.where: the mask has {} values for {} rows",
                mask.len(),
                self.rows
            );
        }
        let rows: Vec<usize> = (0..self.rows).filter(|&i| mask[i]).collect();
        Ok(self.take(&rows))
    }

    /// The named columns, in the order given (each at most once).
    pub fn select<S: AsRef<str>>(&self, names: &[S]) -> Result<Table> {
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            let n = n.as_ref();
            if out.iter().any(|(m, _): &(String, Column)| m == n) {
                bail!(
                    "Table.select: column '{n}' is named twice",
                    n = crate::format::printable(n)
                );
            }
            out.push((n.to_string(), self.column(n)?.clone()));
        }
        Table::from_columns(out)
    }

    /// The rows sorted by column `name`, ascending and stable (rows with equal values keep
    /// their order); missing values last; numbers by value, text lexically (by bytes, so
    /// upper case before lower case).
    pub fn sort(&self, name: &str) -> Result<Table> {
        Ok(self.take(&self.column(name)?.sort_order()))
    }

    /// Rows sorted by column `name`, ascending as [`Table::sort`] or descending (largest
    /// first; equal values then in reverse order); missing values last either way.
    pub fn sort_by(&self, name: &str, ascending: bool) -> Result<Table> {
        let col = self.column(name)?;
        let mut order = col.sort_order();
        if !ascending {
            let present = order.iter().filter(|&&i| col.key(i).is_some()).count();
            order[..present].reverse();
        }
        Ok(self.take(&order))
    }

    /// Inner join on column `key` (numbers in both tables or text in both): one row for each
    /// pair of a left row and a right row with equal keys, in the order of the left rows,
    /// then of the right rows (pandas' `merge(how="inner")`). Missing keys match nothing.
    /// The columns are the left table's, then the right table's other than the key; a right
    /// column whose name is already taken gets the suffix `_right` (repeated until free).
    pub fn join(&self, other: &Table, key: &str) -> Result<Table> {
        let lk = self
            .position(key)
            .context("Table.join: the left table has no key column")?;
        let rk = other
            .position(key)
            .context("Table.join: the right table has no key column")?;
        let (lcol, rcol) = (&self.cols[lk], &other.cols[rk]);
        if lcol.kind() != rcol.kind() {
            bail!(
                "Table.join: key '{key}' holds {} in the left table but {} in the right",
                lcol.kind(),
                rcol.kind(),
                key = crate::format::printable(key)
            );
        }
        let mut right: HashMap<Key, Vec<usize>> = HashMap::new();
        for j in 0..other.rows {
            if let Some(k) = rcol.key(j) {
                right.entry(k).or_default().push(j);
            }
        }
        let (mut li, mut ri) = (Vec::new(), Vec::new());
        for i in 0..self.rows {
            if let Some(js) = lcol.key(i).and_then(|k| right.get(&k)) {
                for &j in js {
                    li.push(i);
                    ri.push(j);
                }
            }
        }
        let mut names = self.names.clone();
        let mut cols: Vec<Column> = self.cols.iter().map(|c| c.take(&li)).collect();
        for (j, (n, c)) in other.names.iter().zip(&other.cols).enumerate() {
            if j == rk {
                continue;
            }
            let mut name = n.clone();
            while names.contains(&name) {
                name.push_str("_right");
            }
            names.push(name);
            cols.push(c.take(&ri));
        }
        Ok(Table {
            names,
            cols,
            rows: li.len(),
        })
    }

    /// Spreads column `values` (numbers) into a matrix: one row per distinct value of
    /// column `index`, one column per distinct value of column `columns`, both in sorted
    /// order (numbers by value, text lexically). A pair with no row is NaN; a pair with two
    /// rows, or a row with a missing index or columns value, is an error naming it.
    /// Returns (the index values, the columns values, the matrix).
    pub fn pivot(
        &self,
        index: &str,
        columns: &str,
        values: &str,
    ) -> Result<(Column, Column, Array2<f64>)> {
        let (ic, cc) = (self.column(index)?, self.column(columns)?);
        let v = match self.column(values)? {
            Column::Numbers(v) => v,
            Column::Text(_) => bail!(
                "Table.pivot: values column '{values}' holds text",
                values = crate::format::printable(values)
            ),
        };
        let (iu, cu) = (ic.unique(), cc.unique());
        let pos = |u: &Column| -> HashMap<Key, usize> {
            (0..u.len())
                .filter_map(|k| u.key(k).map(|key| (key, k)))
                .collect()
        };
        let (ipos, cpos) = (pos(&iu), pos(&cu));
        let mut out = Array2::from_elem((iu.len(), cu.len()), f64::NAN);
        let mut first: HashMap<(usize, usize), usize> = HashMap::new();
        for (r, &x) in v.iter().enumerate() {
            let missing = |c: &str| {
                anyhow::anyhow!(
                    "Table.pivot: row {r}: '{c}' is missing",
                    c = crate::format::printable(c)
                )
            };
            let a = ic.key(r).map(|k| ipos[&k]).ok_or_else(|| missing(index))?;
            let b = cc
                .key(r)
                .map(|k| cpos[&k])
                .ok_or_else(|| missing(columns))?;
            if let Some(prev) = first.insert((a, b), r) {
                bail!(
                    "Table.pivot: {index} = {} and {columns} = {} appear twice (rows {prev} \
                     and {r}); pivot needs one row per pair (filter first)",
                    ic.value(r),
                    cc.value(r)
                );
            }
            out[[a, b]] = x;
        }
        Ok((iu, cu, out))
    }

    /// The named number columns as a (rows x columns) matrix; a text column is an error.
    pub fn to_array<S: AsRef<str>>(&self, names: &[S]) -> Result<Array2<f64>> {
        let mut out = Array2::from_elem((self.rows, names.len()), f64::NAN);
        for (j, n) in names.iter().enumerate() {
            let n = n.as_ref();
            let v = match self.column(n)? {
                Column::Numbers(v) => v,
                Column::Text(_) => {
                    bail!(
                        "Table.to_array: column '{n}' holds text, not numbers",
                        n = crate::format::printable(n)
                    )
                }
            };
            for (i, x) in v.iter().enumerate() {
                out[[i, j]] = *x;
            }
        }
        Ok(out)
    }
}

/// Rows shown in full up to this many; a longer table shows its head and tail.
const SHOW_ALL: usize = 20;
/// Rows shown at each end of a long table.
const SHOW_ENDS: usize = 5;

impl fmt::Display for Table {
    /// An aligned table: numbers right-aligned, text left-aligned, a missing number as NaN;
    /// every row up to 20, else the first 5, a `...` row and the last 5; then
    /// `N rows x M columns`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<Option<usize>> = if self.rows <= SHOW_ALL {
            (0..self.rows).map(Some).collect()
        } else {
            (0..SHOW_ENDS)
                .map(Some)
                .chain(std::iter::once(None))
                .chain((self.rows - SHOW_ENDS..self.rows).map(Some))
                .collect()
        };
        if !self.names.is_empty() {
            let texts: Vec<Vec<String>> = self
                .cols
                .iter()
                .map(|c| {
                    shown
                        .iter()
                        .map(|r| r.map_or_else(|| "...".to_string(), |i| c.shown(i)))
                        .collect()
                })
                .collect();
            let widths: Vec<usize> = self
                .names
                .iter()
                .zip(&texts)
                .map(|(n, t)| {
                    t.iter()
                        .chain(std::iter::once(n))
                        .map(|s| s.chars().count())
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |cells: Vec<&str>| -> String {
                let parts: Vec<String> = cells
                    .iter()
                    .zip(&widths)
                    .zip(&self.cols)
                    .map(|((s, &w), c)| match c {
                        Column::Numbers(_) => format!("{s:>w$}"),
                        Column::Text(_) => format!("{s:<w$}"),
                    })
                    .collect();
                parts.join("  ").trim_end().to_string()
            };
            writeln!(
                f,
                "{}",
                line(self.names.iter().map(String::as_str).collect())
            )?;
            for k in 0..shown.len() {
                writeln!(f, "{}", line(texts.iter().map(|t| t[k].as_str()).collect()))?;
            }
        }
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        write!(
            f,
            "{} x {}",
            plural(self.rows, "row"),
            plural(self.names.len(), "column")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &[&str]) -> Column {
        Column::Text(v.iter().map(|s| s.to_string()).collect())
    }

    /// The hand-made table of these tests (a PC table in miniature):
    ///
    /// row  variable  mode  case  pc
    ///   0  GPP          1  a     0.5
    ///   1  GPP          2  a     -1
    ///   2  GPP          1  b     1.5
    ///   3  GPP          2  b     2
    ///   4  LH           1  a     3
    ///   5  LH           1  b     NaN
    fn pcs() -> Table {
        Table::from_columns(vec![
            (
                "variable".into(),
                text(&["GPP", "GPP", "GPP", "GPP", "LH", "LH"]),
            ),
            (
                "mode".into(),
                Column::Numbers(vec![1.0, 2.0, 1.0, 2.0, 1.0, 1.0]),
            ),
            ("case".into(), text(&["a", "a", "b", "b", "a", "b"])),
            (
                "pc".into(),
                Column::Numbers(vec![0.5, -1.0, 1.5, 2.0, 3.0, f64::NAN]),
            ),
        ])
        .unwrap()
    }

    fn nums(t: &Table, name: &str) -> Vec<f64> {
        t.numbers(name).unwrap().to_vec()
    }

    fn texts(t: &Table, name: &str) -> Vec<String> {
        match t.column(name).unwrap() {
            Column::Text(v) => v.clone(),
            c => panic!("{name} holds {}", c.kind()),
        }
    }

    #[test]
    fn round_trip_keeps_every_bit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        let xs = vec![1.0 / 3.0, 2e-300, 1e20, f64::NAN, 2.0, -0.0];
        let t = Table::from_columns(vec![
            ("x".into(), Column::Numbers(xs.clone())),
            (
                "name, quoted".into(),
                text(&["a", "b, c", "say \"hi\"", "", "e", "f"]),
            ),
        ])
        .unwrap();
        t.write(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "x,\"name, quoted\"\n0.3333333333333333,a\n2e-300,\"b, c\"\n\
             1e20,\"say \"\"hi\"\"\"\n,\n2,e\n0,f\n"
        );
        let back = Table::read(&p).unwrap();
        assert_eq!(back.columns(), ["x", "name, quoted"]);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let got = nums(&back, "x");
        assert_eq!(bits(&got[..3]), bits(&xs[..3]));
        assert!(got[3].is_nan());
        assert_eq!(got[4], 2.0);
        assert_eq!(got[5].to_bits(), 0.0f64.to_bits(), "-0 is written as 0");
        assert_eq!(
            back.column("name, quoted").unwrap(),
            t.column("name, quoted").unwrap()
        );
        assert_eq!(back.len(), 6);
        // the file read is an input of this run: writing over it is refused
        assert!(back.write(&p).is_err());
    }

    #[test]
    fn column_types_are_inferred() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "a, b ,c,d,e,\n1,x,,nan,inf, 7\nNA,2,,3,-1e5,N/A\n\n").unwrap();
        let t = Table::read(&p).unwrap();
        assert_eq!(t.columns(), ["a", "b", "c", "d", "e", "unnamed_5"]);
        assert_eq!(t.len(), 2);
        let a = nums(&t, "a");
        assert!(a[0] == 1.0 && a[1].is_nan());
        assert_eq!(texts(&t, "b"), ["x", "2"]);
        assert!(nums(&t, "c").iter().all(|x| x.is_nan()));
        let d = nums(&t, "d");
        assert!(d[0].is_nan() && d[1] == 3.0);
        assert_eq!(nums(&t, "e"), [f64::INFINITY, -1e5]);
        let u = nums(&t, "unnamed_5");
        assert!(u[0] == 7.0 && u[1].is_nan());
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.csv");
        std::fs::write(&p, "a,b\n1,2\n3\n").unwrap();
        let e = format!("{:#}", Table::read(&p).unwrap_err());
        assert!(
            e.contains("bad.csv:3: 1 cells, but the header has 2 columns"),
            "{e}"
        );
        std::fs::write(&p, b"a,b\n1,2\n3,\xff\n").unwrap();
        let e = format!("{:#}", Table::read(&p).unwrap_err());
        assert!(e.contains("bad.csv:3: column 'b': not UTF-8 text"), "{e}");
        std::fs::write(&p, "a,b,a\n1,2,3\n").unwrap();
        let e = format!("{:#}", Table::read(&p).unwrap_err());
        assert!(e.contains("bad.csv:1: column 'a' appears twice"), "{e}");
        std::fs::write(&p, "").unwrap();
        let e = format!("{:#}", Table::read(&p).unwrap_err());
        assert!(e.contains("bad.csv: empty file"), "{e}");

        let t = pcs();
        let e = format!("{:#}", t.column("pcc").unwrap_err());
        assert_eq!(
            e,
            "Table has no column 'pcc' (did you mean 'pc'? columns: variable, mode, case, pc)"
        );
        let e = format!(
            "{:#}",
            t.filter(&[("mode", Value::Text("1".into()))]).unwrap_err()
        );
        assert_eq!(
            e,
            "Table.filter: column 'mode' holds numbers, but the value '1' is text"
        );
        let e = format!("{:#}", t.to_array(&["mode", "case"]).unwrap_err());
        assert_eq!(e, "Table.to_array: column 'case' holds text, not numbers");
        assert!(Table::from_columns(vec![
            ("a".into(), Column::Numbers(vec![1.0])),
            ("b".into(), Column::Numbers(vec![])),
        ])
        .is_err());
    }

    #[test]
    fn filter_where_select_sort() {
        let t = pcs();
        let g = t
            .filter(&[("variable", Value::Text("GPP".into()))])
            .unwrap();
        assert_eq!(nums(&g, "pc"), [0.5, -1.0, 1.5, 2.0]);
        let g2 = t
            .filter(&[
                ("variable", Value::Text("GPP".into())),
                ("mode", Value::Number(2.0)),
            ])
            .unwrap();
        assert_eq!(texts(&g2, "case"), ["a", "b"]);
        assert_eq!(nums(&g2, "pc"), [-1.0, 2.0]);
        assert!(t
            .filter(&[("pc", Value::Number(f64::NAN))])
            .unwrap()
            .is_empty());

        // pc > 0: rows 0, 2, 3, 4 (NaN is not > 0)
        let mask: Vec<bool> = nums(&t, "pc").iter().map(|&x| x > 0.0).collect();
        let w = t.where_mask(&mask).unwrap();
        assert_eq!(nums(&w, "pc"), [0.5, 1.5, 2.0, 3.0]);
        assert_eq!(texts(&w, "variable"), ["GPP", "GPP", "GPP", "LH"]);
        assert!(t.where_mask(&[true]).is_err());

        let s = t.select(&["pc", "case"]).unwrap();
        assert_eq!(s.columns(), ["pc", "case"]);
        assert_eq!(s.len(), 6);
        assert!(t.select(&["pc", "pc"]).is_err());

        // by pc: -1 (row 1), 0.5 (0), 1.5 (2), 2 (3), 3 (4), NaN (5) last
        let by_pc = t.sort("pc").unwrap();
        assert_eq!(texts(&by_pc, "case"), ["a", "a", "b", "b", "a", "b"]);
        assert_eq!(nums(&by_pc, "mode"), [2.0, 1.0, 1.0, 2.0, 1.0, 1.0]);
        // by case, stable: a rows 0, 1, 4 then b rows 2, 3, 5
        let by_case = t.sort("case").unwrap();
        let pc = nums(&by_case, "pc");
        assert_eq!(pc[..5], [0.5, -1.0, 3.0, 1.5, 2.0]);
        assert!(pc[5].is_nan());
        // text: upper case before lower case, missing last
        let u = Table::from_columns(vec![("s".into(), text(&["b", "", "B", "a"]))]).unwrap();
        assert_eq!(texts(&u.sort("s").unwrap(), "s"), ["B", "a", "b", ""]);
    }

    #[test]
    fn join_on_a_text_key_and_a_number_key() {
        let t = pcs();
        let design = Table::from_columns(vec![
            ("case".into(), text(&["b", "a", "c"])),
            ("member".into(), Column::Numbers(vec![2.0, 1.0, 3.0])),
            ("pc".into(), Column::Numbers(vec![9.0, 8.0, 7.0])),
        ])
        .unwrap();
        let j = t.join(&design, "case").unwrap();
        assert_eq!(
            j.columns(),
            ["variable", "mode", "case", "pc", "member", "pc_right"]
        );
        // left order kept; case c (no PC) dropped
        assert_eq!(nums(&j, "member"), [1.0, 1.0, 2.0, 2.0, 1.0, 2.0]);
        assert_eq!(nums(&j, "pc_right"), [8.0, 8.0, 9.0, 9.0, 8.0, 9.0]);
        assert_eq!(j.column("pc").unwrap(), t.column("pc").unwrap());

        // a key on both sides twice gives every pair; numbers match as numbers (2 == 2.0)
        let l = Table::from_columns(vec![
            ("k".into(), Column::Numbers(vec![1.0, 2.0, f64::NAN])),
            ("x".into(), Column::Numbers(vec![10.0, 20.0, 30.0])),
        ])
        .unwrap();
        let r = Table::from_columns(vec![
            ("y".into(), Column::Numbers(vec![0.1, 0.2, 0.3, 0.4])),
            ("k".into(), Column::Numbers(vec![2.0, 5.0, 2.0, f64::NAN])),
        ])
        .unwrap();
        let j = l.join(&r, "k").unwrap();
        assert_eq!(j.columns(), ["k", "x", "y"]);
        assert_eq!(nums(&j, "k"), [2.0, 2.0]);
        assert_eq!(nums(&j, "x"), [20.0, 20.0]);
        assert_eq!(nums(&j, "y"), [0.1, 0.3]);

        let e = format!("{:#}", t.join(&l, "k").unwrap_err());
        assert!(
            e.contains("left table has no key column: Table has no column 'k'"),
            "{e}"
        );
        let e = format!("{:#}", t.join(&l, "case").unwrap_err());
        assert!(e.contains("right table has no key column"), "{e}");
        let m = Table::from_columns(vec![("case".into(), Column::Numbers(vec![1.0]))]).unwrap();
        let e = format!("{:#}", t.join(&m, "case").unwrap_err());
        assert_eq!(
            e,
            "Table.join: key 'case' holds text in the left table but numbers in the right"
        );
    }

    #[test]
    fn pivot_to_a_matrix() {
        let t = pcs();
        let gpp = t
            .filter(&[("variable", Value::Text("GPP".into()))])
            .unwrap();
        let (rows, cols, m) = gpp.pivot("case", "mode", "pc").unwrap();
        assert_eq!(rows, text(&["a", "b"]));
        assert_eq!(cols, Column::Numbers(vec![1.0, 2.0]));
        assert_eq!(m, ndarray::array![[0.5, -1.0], [1.5, 2.0]]);

        // mode 1 of rows 0..4: (b, LH) has no row (row 5 left out) -> NaN
        let mask = [true, true, true, true, true, false];
        let one = t
            .where_mask(&mask)
            .unwrap()
            .filter(&[("mode", Value::Number(1.0))])
            .unwrap();
        let (rows, cols, m) = one.pivot("case", "variable", "pc").unwrap();
        assert_eq!(rows, text(&["a", "b"]));
        assert_eq!(cols, text(&["GPP", "LH"]));
        assert_eq!((m[[0, 0]], m[[0, 1]], m[[1, 0]]), (0.5, 3.0, 1.5));
        assert!(m[[1, 1]].is_nan());

        // numbers sort as numbers: 2 < 9 < 10
        let n = Table::from_columns(vec![
            ("i".into(), Column::Numbers(vec![10.0, 9.0, 2.0])),
            ("j".into(), text(&["x", "x", "x"])),
            ("v".into(), Column::Numbers(vec![1.0, 2.0, 3.0])),
        ])
        .unwrap();
        let (rows, _, m) = n.pivot("i", "j", "v").unwrap();
        assert_eq!(rows, Column::Numbers(vec![2.0, 9.0, 10.0]));
        assert_eq!(m, ndarray::array![[3.0], [2.0], [1.0]]);

        // (a, 1) appears for GPP (row 0) and LH (row 4)
        let e = format!("{:#}", t.pivot("case", "mode", "pc").unwrap_err());
        assert!(
            e.starts_with("Table.pivot: case = 'a' and mode = 1 appear twice (rows 0 and 4)"),
            "{e}"
        );
        let e = format!("{:#}", t.pivot("case", "mode", "variable").unwrap_err());
        assert_eq!(e, "Table.pivot: values column 'variable' holds text");
    }

    #[test]
    fn to_array_and_unique() {
        let t = pcs();
        let a = t.to_array(&["mode", "pc"]).unwrap();
        assert_eq!(a.shape(), [6, 2]);
        assert_eq!(a.row(3).to_vec(), [2.0, 2.0]);
        assert!(a[[5, 1]].is_nan());
        assert_eq!(t.column("case").unwrap().unique(), text(&["a", "b"]));
        assert_eq!(
            t.column("pc").unwrap().unique(),
            Column::Numbers(vec![-1.0, 0.5, 1.5, 2.0, 3.0])
        );
    }

    #[test]
    fn prints_aligned_with_head_and_tail() {
        assert_eq!(
            pcs().to_string(),
            "variable  mode  case   pc\n\
             GPP          1  a     0.5\n\
             GPP          2  a      -1\n\
             GPP          1  b     1.5\n\
             GPP          2  b       2\n\
             LH           1  a       3\n\
             LH           1  b     NaN\n\
             6 rows x 4 columns"
        );
        let long = Table::from_columns(vec![(
            "k".into(),
            Column::Numbers((0..25).map(|i| i as f64).collect()),
        )])
        .unwrap();
        assert_eq!(
            long.to_string(),
            "  k\n  0\n  1\n  2\n  3\n  4\n...\n 20\n 21\n 22\n 23\n 24\n25 rows x 1 column"
        );
        assert_eq!(Table::default().to_string(), "0 rows x 0 columns");
    }
}
