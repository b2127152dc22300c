//! Small helpers over the netcdf crate: opening with errors that name the file, reading a
//! variable as f64 with its fill values turned into NaN, attributes as text or numbers; the
//! calendars of CF time coordinates are re-exported from [`crate::calendar`].

use anyhow::{bail, Context, Result};
use netcdf::AttributeValue;
use std::path::Path;

pub use crate::calendar::{days_from_civil, Calendar, TimeAxis, DAYS_IN_MONTH, MONTH_START};

/// Opens a netCDF file for reading; a missing, truncated or non-netCDF file is an error
/// naming it.
pub fn open(path: &Path) -> Result<netcdf::File> {
    if !path.is_file() {
        bail!("{}: no such file", path.display());
    }
    let f = netcdf::open(path)
        .with_context(|| format!("{}: not a readable netCDF file", path.display()))?;
    crate::files::mark_input(path);
    Ok(f)
}

/// An attribute as text (numbers are formatted), if present.
pub fn attr_string(v: &netcdf::Variable, name: &str) -> Option<String> {
    match v.attribute_value(name)?.ok()? {
        AttributeValue::Str(s) => Some(s),
        AttributeValue::Strs(s) => Some(s.join(" ")),
        other => attr_f64(&other).map(|x| x.to_string()),
    }
}

/// A numeric attribute value as f64 (the first value of a list).
pub fn attr_f64(a: &AttributeValue) -> Option<f64> {
    Some(match a {
        AttributeValue::Uchar(x) => *x as f64,
        AttributeValue::Schar(x) => *x as f64,
        AttributeValue::Ushort(x) => *x as f64,
        AttributeValue::Short(x) => *x as f64,
        AttributeValue::Uint(x) => *x as f64,
        AttributeValue::Int(x) => *x as f64,
        AttributeValue::Ulonglong(x) => *x as f64,
        AttributeValue::Longlong(x) => *x as f64,
        AttributeValue::Float(x) => *x as f64,
        AttributeValue::Double(x) => *x,
        AttributeValue::Floats(v) => *v.first()? as f64,
        AttributeValue::Doubles(v) => *v.first()?,
        AttributeValue::Shorts(v) => *v.first()? as f64,
        AttributeValue::Ints(v) => *v.first()? as f64,
        _ => return None,
    })
}

/// The values that mean "missing" for a variable: `_FillValue` and `missing_value`.
pub fn fill_values(v: &netcdf::Variable) -> Vec<f64> {
    ["_FillValue", "missing_value"]
        .iter()
        .filter_map(|n| v.attribute_value(n)?.ok())
        .filter_map(|a| attr_f64(&a))
        .collect()
}

/// Whether `x` is one of the fill values (within single precision, since CLM writes floats
/// whose fill attribute may be read back as a double).
pub fn is_fill(x: f64, fills: &[f64]) -> bool {
    x.is_nan()
        || fills
            .iter()
            .any(|&f| x == f || (f != 0.0 && ((x - f) / f).abs() < 1e-6))
}

/// Reads a whole variable as f64 in row-major order, fill values and NaN as NaN. Errors name
/// the file and variable; a missing variable lists the ones that exist, nearest name first.
pub fn read_f64(file: &netcdf::File, path: &Path, name: &str) -> Result<Vec<f64>> {
    let v = variable(file, path, name)?;
    let mut values: Vec<f64> = v
        .get_values::<f64, _>(..)
        .with_context(|| format!("{}: cannot read variable {name}", path.display()))?;
    let fills = fill_values(&v);
    for x in values.iter_mut() {
        if is_fill(*x, &fills) {
            *x = f64::NAN;
        }
    }
    Ok(values)
}

/// A variable by name; if it is missing, the error lists the variables that exist, nearest
/// name first.
pub fn variable<'f>(
    file: &'f netcdf::File,
    path: &Path,
    name: &str,
) -> Result<netcdf::Variable<'f>> {
    if let Some(v) = file.variable(name) {
        return Ok(v);
    }
    let names: Vec<String> = file.variables().map(|v| v.name()).collect();
    bail!(
        "{}: no variable {name}; {}",
        path.display(),
        nearest_list(name, &names)
    )
}

/// "did you mean X? (it has: ...)" — the known names sorted by closeness to `name`.
pub fn nearest_list(name: &str, known: &[String]) -> String {
    let mut v: Vec<&String> = known.iter().collect();
    v.sort_by(|a, b| {
        let da = strsim::levenshtein(&name.to_lowercase(), &a.to_lowercase());
        let db = strsim::levenshtein(&name.to_lowercase(), &b.to_lowercase());
        da.cmp(&db).then(a.cmp(b))
    });
    match v.first() {
        None => "the file has no variables".into(),
        Some(first) => {
            let list: Vec<&str> = v.iter().take(12).map(|s| s.as_str()).collect();
            let more = if v.len() > 12 {
                format!(", ... ({} in all)", v.len())
            } else {
                String::new()
            };
            format!("did you mean {first}? (it has: {}{more})", list.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_names_first() {
        let known: Vec<String> = ["GPP", "FPSN", "EFLX_LH_TOT", "QVEGT"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(nearest_list("EFLX_LH", &known).starts_with("did you mean EFLX_LH_TOT?"));
        assert!(nearest_list("gpp", &known).starts_with("did you mean GPP?"));
    }
}
