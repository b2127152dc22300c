//! 2-D arrays as CSV files with a header row; the one number rule ([`fmt_number`]) and the
//! one writer ([`write_records`]) of every CSV clmtune writes.

use anyhow::{bail, Context};
use ndarray::{Array2, ArrayD, Axis};
use std::path::Path;

/// A numeric table read from CSV: column names and a (rows x columns) array.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Header names, in file order.
    pub columns: Vec<String>,
    /// Values, one row per data line.
    pub data: Array2<f64>,
}

/// Parses one CSV field: a number, or empty / NaN / NA for a missing value.
fn parse_field(s: &str) -> Option<f64> {
    let t = s.trim();
    match t {
        "" | "NaN" | "nan" | "NA" | "N/A" => Some(f64::NAN),
        _ => t.parse().ok(),
    }
}

/// Reads a CSV file with a header row. `only` picks columns by name (others, e.g. text
/// columns, are skipped); without it every column must be numeric. Errors name the file,
/// line and column.
pub fn read_csv(path: &Path, only: Option<&[String]>) -> anyhow::Result<Table> {
    crate::files::check_input(path, "CSV file")?;
    crate::files::mark_input(path);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let header: Vec<String> = rdr
        .headers()
        .with_context(|| format!("{}: cannot read the header row", path.display()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header.is_empty() {
        bail!("{}: empty file, no header row", path.display());
    }
    let picks: Vec<usize> = match only {
        None => (0..header.len()).collect(),
        Some(names) => names
            .iter()
            .map(|n| {
                header.iter().position(|h| h == n).with_context(|| {
                    format!(
                        "{}: no column '{n}' (columns: {})",
                        path.display(),
                        header.join(", "),
                        n = crate::format::printable(n)
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?,
    };
    let mut values = Vec::new();
    let mut rows = 0;
    for rec in rdr.records() {
        let rec = rec.with_context(|| format!("cannot read {}", path.display()))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if rec.len() != header.len() {
            bail!(
                "{}:{line}: {} fields, but the header has {}",
                path.display(),
                rec.len(),
                header.len()
            );
        }
        for &c in &picks {
            let f = &rec[c];
            let v = parse_field(f).with_context(|| {
                format!(
                    "{}:{line}: column '{}': cannot read '{f}' as a number",
                    path.display(),
                    header[c],
                    f = crate::format::printable(f)
                )
            })?;
            values.push(v);
        }
        rows += 1;
    }
    let columns: Vec<String> = picks.iter().map(|&c| header[c].clone()).collect();
    let data = Array2::from_shape_vec((rows, columns.len()), values)?;
    Ok(Table { columns, data })
}

/// The one number rule of every CSV clmtune writes: a missing value (NaN) is an empty cell;
/// a whole number with |x| < 2^53 is written as an integer (`2`, and `-0` as `0`); any other
/// number as Rust's shortest text that reads back to the same f64 (`0.1`, `1e-300`, `1e20`,
/// `inf`).
pub fn fmt_number(x: f64) -> String {
    /// 2^53: below it every whole f64 is an exact integer.
    const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;
    if x.is_nan() {
        String::new()
    } else if x.fract() == 0.0 && x.abs() < EXACT_INTEGERS {
        format!("{}", x as i64)
    } else {
        format!("{x:?}")
    }
}

/// Writes a 2-D array (a 1-D array is one column) with a header row, atomically.
pub fn write_csv(path: &Path, columns: &[String], data: &ArrayD<f64>) -> anyhow::Result<()> {
    let data2 = match data.ndim() {
        1 => data
            .view()
            .insert_axis(Axis(1))
            .into_dimensionality::<ndarray::Ix2>()?,
        2 => data.view().into_dimensionality::<ndarray::Ix2>()?,
        n => bail!(
            "{}: only 1-D or 2-D arrays can be written as CSV, not {n}-D",
            path.display()
        ),
    };
    if columns.len() != data2.ncols() {
        bail!(
            "{}: {} column names for an array with {} columns",
            path.display(),
            columns.len(),
            data2.ncols()
        );
    }
    write_records(
        path,
        columns,
        data2
            .rows()
            .into_iter()
            .map(|row| row.iter().map(|&x| fmt_number(x)).collect::<Vec<_>>()),
    )
}

/// Writes a header and rows of text cells as CSV (quoting as needed), atomically: the file
/// appears under its name only when complete.
pub fn write_records<H, R, S>(
    path: &Path,
    header: &[H],
    rows: impl IntoIterator<Item = R>,
) -> anyhow::Result<()>
where
    H: AsRef<str>,
    R: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    crate::files::atomic_write(path, |w| {
        let mut wtr = csv::Writer::from_writer(w);
        wtr.write_record(header.iter().map(|h| h.as_ref()))?;
        for row in rows {
            wtr.write_record(row)?;
        }
        wtr.flush()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_every_bit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        let a = ndarray::array![[0.1, 1.0 / 3.0], [f64::NAN, 2e-300], [1e20, -4.0]].into_dyn();
        write_csv(&p, &["x".into(), "y, quoted".into()], &a).unwrap();
        let t = read_csv(&p, None).unwrap();
        assert_eq!(t.columns, vec!["x", "y, quoted"]);
        assert_eq!(t.data[[0, 1]].to_bits(), (1.0f64 / 3.0).to_bits());
        assert_eq!(t.data[[1, 1]], 2e-300);
        assert!(t.data[[1, 0]].is_nan());
        assert_eq!(t.data[[2, 0]], 1e20);
    }

    #[test]
    fn one_number_rule() {
        assert_eq!(fmt_number(f64::NAN), "");
        assert_eq!(fmt_number(2.0), "2");
        assert_eq!(fmt_number(-0.0), "0");
        assert_eq!(fmt_number(-17.0), "-17");
        assert_eq!(fmt_number(0.1), "0.1");
        assert_eq!(fmt_number(1e-300), "1e-300");
        assert_eq!(fmt_number(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(fmt_number(f64::INFINITY), "inf");
        assert_eq!(fmt_number(f64::NEG_INFINITY), "-inf");
        // 2^53 - 1 is the largest whole number written as an integer; 2^53 and 1e20 are not
        assert_eq!(fmt_number(9007199254740991.0), "9007199254740991");
        assert_eq!(fmt_number(9007199254740992.0), "9007199254740992.0");
        assert_eq!(fmt_number(1e20), "1e20");
        for x in [
            0.1,
            1.0 / 3.0,
            2e-300,
            1e20,
            -4.0,
            9007199254740992.0,
            5e-324,
        ] {
            assert_eq!(fmt_number(x).parse::<f64>().unwrap().to_bits(), x.to_bits());
        }
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.csv");
        std::fs::write(&p, "a,b\n1,2\n3,oops\n").unwrap();
        let e = format!("{:#}", read_csv(&p, None).unwrap_err());
        assert!(
            e.contains("bad.csv:3: column 'b': cannot read 'oops'"),
            "{e}"
        );
        let t = read_csv(&p, Some(&["a".into()])).unwrap();
        assert_eq!(t.data.column(0).to_vec(), vec![1.0, 3.0]);
        std::fs::write(&p, "a,b\n1\n").unwrap();
        assert!(format!("{:#}", read_csv(&p, None).unwrap_err()).contains("bad.csv:2: 1 fields"));
    }
}
