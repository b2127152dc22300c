//! Small helpers over the netcdf crate: opening with errors that name the file, reading a
//! variable as f64 with its fill values turned into NaN, attributes as text or numbers, and
//! the noleap / standard calendars of CF time coordinates.

use anyhow::{bail, Context, Result};
use netcdf::AttributeValue;
use std::path::Path;

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

/// Cumulative days before each month in a 365-day year.
pub const MONTH_START: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/// Days in each month of the noleap calendar.
pub const DAYS_IN_MONTH: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// A CF calendar we can count days in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Calendar {
    /// 365 days every year (CLM's `noleap`, also `365_day`).
    NoLeap,
    /// The proleptic Gregorian calendar (`standard`, `gregorian`, `proleptic_gregorian`).
    Standard,
}

impl Calendar {
    /// Reads the `calendar` attribute (CF's default is standard).
    pub fn parse(s: Option<&str>) -> Result<Calendar> {
        match s.map(|s| s.trim().to_lowercase()).as_deref() {
            None | Some("standard") | Some("gregorian") | Some("proleptic_gregorian") => {
                Ok(Calendar::Standard)
            }
            Some("noleap") | Some("365_day") => Ok(Calendar::NoLeap),
            Some(other) => {
                bail!("calendar '{other}' is not supported (noleap, 365_day, standard, gregorian)")
            }
        }
    }
}

/// Days from 0000-03-01-based civil counting (Howard Hinnant's algorithm) for the proleptic
/// Gregorian calendar: days since 1970-01-01 of a date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date of a day count since 1970-01-01 (inverse of `days_from_civil`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A CF time axis: "UNIT since YYYY-MM-DD[ hh:mm:ss]" in a calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeAxis {
    /// Days per unit (1 for days, 1/24 for hours, ...).
    pub days_per_unit: f64,
    /// Reference date (year, month, day).
    pub since: (i64, u32, u32),
    /// The calendar.
    pub calendar: Calendar,
}

impl TimeAxis {
    /// Parses the `units` and `calendar` attributes of a time coordinate.
    pub fn parse(units: &str, calendar: Option<&str>) -> Result<TimeAxis> {
        let (unit, date) = units.split_once(" since ").with_context(|| {
            format!("time units '{units}' are not of the form 'days since YYYY-MM-DD'")
        })?;
        let days_per_unit = match unit.trim().to_lowercase().as_str() {
            "days" | "day" | "d" => 1.0,
            "hours" | "hour" | "h" => 1.0 / 24.0,
            "minutes" | "minute" => 1.0 / 1440.0,
            "seconds" | "second" | "s" => 1.0 / 86400.0,
            other => bail!("time unit '{other}' in '{units}' is not supported"),
        };
        let d = date.trim().split(['T', ' ']).next().unwrap_or_default();
        let parts: Vec<&str> = d.split('-').collect();
        let bad = || anyhow::anyhow!("cannot read the reference date in time units '{units}'");
        if parts.len() != 3 {
            return Err(bad());
        }
        let y: i64 = parts[0].parse().map_err(|_| bad())?;
        let m: u32 = parts[1].parse().map_err(|_| bad())?;
        let day: u32 = parts[2].parse().map_err(|_| bad())?;
        if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
            return Err(bad());
        }
        Ok(TimeAxis {
            days_per_unit,
            since: (y, m, day),
            calendar: Calendar::parse(calendar)?,
        })
    }

    /// The (year, month, day-of-month with fraction) of a time value.
    pub fn date(&self, t: f64) -> (i64, u32, f64) {
        let days = t * self.days_per_unit;
        let (y0, m0, d0) = self.since;
        match self.calendar {
            Calendar::NoLeap => {
                let start = y0 * 365 + MONTH_START[(m0 - 1) as usize] as i64 + (d0 as i64 - 1);
                let total = start as f64 + days;
                let whole = total.floor() as i64;
                let frac = total - whole as f64;
                let year = whole.div_euclid(365);
                let doy = whole.rem_euclid(365) as u32;
                let month = (0..12).rev().find(|&i| MONTH_START[i] <= doy).unwrap_or(0);
                (
                    year,
                    month as u32 + 1,
                    (doy - MONTH_START[month]) as f64 + 1.0 + frac,
                )
            }
            Calendar::Standard => {
                let total = days_from_civil(y0, m0, d0) as f64 + days;
                let whole = total.floor() as i64;
                let (y, m, d) = civil_from_days(whole);
                (y, m, d as f64 + (total - whole as f64))
            }
        }
    }

    /// The month an averaging interval [t0, t1] belongs to: the month of its midpoint.
    pub fn interval_month(&self, t0: f64, t1: f64) -> (i64, u32) {
        let (y, m, _) = self.date((t0 + t1) / 2.0);
        (y, m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noleap_dates_of_clm_stamps() {
        let t = TimeAxis::parse("days since 0001-01-01 00:00:00", Some("noleap")).unwrap();
        // CLM stamps the January mean of year 1 at day 31 = 1 February
        assert_eq!(t.date(31.0), (1, 2, 1.0));
        // bounds [0, 31] are January of year 1; [5475, 5506] January of year 16 (15*365)
        assert_eq!(t.interval_month(0.0, 31.0), (1, 1));
        assert_eq!(t.interval_month(5475.0, 5506.0), (16, 1));
        assert_eq!(t.interval_month(7265.0, 7300.0), (20, 12));
    }

    #[test]
    fn standard_calendar_counts_leap_days() {
        let t = TimeAxis::parse("days since 1980-01-01", Some("standard")).unwrap();
        // 1980 is a leap year: day 59 is 29 February, day 366 is 1 January 1981
        assert_eq!(t.date(59.0), (1980, 2, 29.0));
        assert_eq!(t.date(60.0), (1980, 3, 1.0));
        assert_eq!(t.date(366.0), (1981, 1, 1.0));
        let h = TimeAxis::parse("hours since 2000-01-01 00:00:00", None).unwrap();
        assert_eq!(h.date(24.0 * 31.0), (2000, 2, 1.0));
        assert!(TimeAxis::parse("months since 2000-01-01", None).is_err());
        assert!(TimeAxis::parse("days after 2000", None).is_err());
    }

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
