//! The CLM short-term archive: case names from patterns, the monthly history files of a case
//! (`ROOT/CASE/lnd/hist/CASE.clm2.h0.YYYY-MM.nc`), which months are missing, and whether a
//! case is complete. Also the writer of history files in CLM's exact layout, used by the demo
//! model and by tests.

use crate::field::Grid;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// One monthly history file: the year and month of its averaging interval, from its name.
#[derive(Debug, Clone, PartialEq)]
pub struct HistFile {
    /// Simulation year (CLM's 0001.. numbering).
    pub year: i64,
    /// Month 1..12.
    pub month: u32,
    /// Path of the file.
    pub path: PathBuf,
}

impl HistFile {
    /// `YYYY-MM`, as in the file name.
    pub fn label(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// A case in the archive and the monthly `h0` history files it has, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Case name.
    pub name: String,
    /// `ROOT/CASE/lnd/hist`.
    pub hist_dir: PathBuf,
    /// Monthly files found, ordered by (year, month).
    pub files: Vec<HistFile>,
}

/// Fills a case-name pattern: `{member}`, `{param}` and `{end}` are replaced by the values
/// given; a placeholder without a value, or an unknown one, is an error naming the pattern.
pub fn case_name(
    pattern: &str,
    member: Option<&str>,
    param: Option<&str>,
    end: Option<&str>,
) -> Result<String> {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let j = rest[i..]
            .find('}')
            .with_context(|| format!("case pattern '{pattern}': unclosed '{{'"))?
            + i;
        let key = &rest[i + 1..j];
        let value = match key {
            "member" => member.map(str::to_string),
            "param" => param.map(str::to_string),
            "end" => end.map(str::to_string),
            _ => bail!("case pattern '{pattern}': unknown placeholder {{{key}}} (use {{member}}, {{param}}, {{end}})"),
        };
        out.push_str(
            &value
                .with_context(|| format!("case pattern '{pattern}' needs a value for {{{key}}}"))?,
        );
        rest = &rest[j + 1..];
    }
    out.push_str(rest);
    if out.is_empty()
        || out.starts_with('.')
        || !out
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        bail!("case pattern '{pattern}' gives an unusable case name '{out}'");
    }
    Ok(out)
}

/// Parses `CASE.clm2.h0.YYYY-MM.nc` into (year, month) for the given case name.
fn parse_name(case: &str, file: &str) -> Option<(i64, u32)> {
    let ym = file
        .strip_prefix(case)?
        .strip_prefix(".clm2.h0.")?
        .strip_suffix(".nc")?;
    let (y, m) = ym.split_once('-')?;
    if y.len() < 4 || m.len() != 2 {
        return None;
    }
    let (y, m): (i64, u32) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then_some((y, m))
}

/// The history folder of a case: `ROOT/CASE/lnd/hist`.
pub fn hist_dir(root: &Path, case: &str) -> PathBuf {
    root.join(case).join("lnd").join("hist")
}

/// The path of one monthly file.
pub fn hist_path(root: &Path, case: &str, year: i64, month: u32) -> PathBuf {
    hist_dir(root, case).join(format!("{case}.clm2.h0.{year:04}-{month:02}.nc"))
}

/// Finds a case and its monthly files. A case folder that does not exist is an error naming
/// the path; an existing case with no files is returned empty.
pub fn find_case(root: &Path, case: &str) -> Result<Case> {
    let dir = hist_dir(root, case);
    if !dir.is_dir() {
        bail!("case {case}: no history folder {}", dir.display());
    }
    let mut files: Vec<HistFile> = std::fs::read_dir(&dir)
        .with_context(|| format!("case {case}: cannot list {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let (year, month) = parse_name(case, &name)?;
            Some(HistFile {
                year,
                month,
                path: e.path(),
            })
        })
        .collect();
    files.sort_by_key(|f| (f.year, f.month));
    Ok(Case {
        name: case.to_string(),
        hist_dir: dir,
        files,
    })
}

/// Latest simulation year a range may name: history file names have four-digit years.
pub const MAX_YEAR: i64 = 9999;

/// Checks a year range `[first, last]`: `0 <= first <= last <= 9999` (four-digit years, as
/// in history file names). The one check of every range that becomes a list of months, so
/// that `[1, 1000000000]` is an error, not gigabytes of months.
pub fn check_years(years: (i64, i64)) -> Result<()> {
    let (a, b) = years;
    if a > b {
        bail!("years [{a}, {b}]: the first is after the last");
    }
    if a < 0 || b > MAX_YEAR {
        bail!("years [{a}, {b}]: years must lie in 0-{MAX_YEAR}");
    }
    Ok(())
}

/// Every (year, month) of the years `first..=last` (a range [`check_years`] refuses gives
/// no months).
pub fn expected_months(years: (i64, i64)) -> Vec<(i64, u32)> {
    if check_years(years).is_err() {
        return Vec::new();
    }
    (years.0..=years.1)
        .flat_map(|y| (1..=12).map(move |m| (y, m)))
        .collect()
}

impl Case {
    /// The months of `years` that have no file, as `YYYY-MM`.
    pub fn missing_months(&self, years: (i64, i64)) -> Vec<String> {
        expected_months(years)
            .into_iter()
            .filter(|&(y, m)| !self.files.iter().any(|f| f.year == y && f.month == m))
            .map(|(y, m)| format!("{y:04}-{m:02}"))
            .collect()
    }

    /// Whether every month of `years` has a file.
    pub fn is_complete(&self, years: (i64, i64)) -> bool {
        check_years(years).is_ok() && self.missing_months(years).is_empty()
    }

    /// The files of `years` in time order; a missing month is an error naming the case and
    /// the months.
    pub fn select(&self, years: (i64, i64)) -> Result<Vec<HistFile>> {
        check_years(years).with_context(|| format!("case {}", self.name))?;
        let missing = self.missing_months(years);
        if !missing.is_empty() {
            let shown: Vec<&str> = missing.iter().take(6).map(String::as_str).collect();
            let more = if missing.len() > 6 {
                format!(" and {} more", missing.len() - 6)
            } else {
                String::new()
            };
            bail!(
                "case {}: {} month(s) of years {}-{} missing in {}: {}{more}",
                self.name,
                missing.len(),
                years.0,
                years.1,
                self.hist_dir.display(),
                shown.join(", ")
            );
        }
        Ok(self
            .files
            .iter()
            .filter(|f| f.year >= years.0 && f.year <= years.1)
            .cloned()
            .collect())
    }
}

/// Whether a case exists under `root` with every month of `years` (what the ensemble
/// machinery asks before creating a run).
pub fn is_complete(root: &Path, case: &str, years: (i64, i64)) -> bool {
    find_case(root, case)
        .map(|c| c.is_complete(years))
        .unwrap_or(false)
}

/// Finds the cases of an ensemble; members missing from the archive (no history folder)
/// are reported together, by name.
pub fn find_cases(root: &Path, names: &[String]) -> Result<Vec<Case>> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for n in names {
        match find_case(root, n) {
            Ok(c) => found.push(c),
            Err(_) => missing.push(n.as_str()),
        }
    }
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(8).copied().collect();
        let more = if missing.len() > 8 {
            format!(" and {} more", missing.len() - 8)
        } else {
            String::new()
        };
        bail!(
            "{} of {} case(s) not in the archive {}: {}{more}",
            missing.len(),
            names.len(),
            root.display(),
            shown.join(", ")
        );
    }
    Ok(found)
}

/// One variable of a history file to write: values for one month, `(lat, lon)` or
/// `(levsoi, lat, lon)` in row-major order (NaN over ocean or below ground).
#[derive(Debug, Clone)]
pub struct HistVar<'a> {
    /// CLM variable name.
    pub name: &'a str,
    /// Units attribute.
    pub units: &'a str,
    /// long_name attribute.
    pub long_name: &'a str,
    /// Number of soil levels (`levsoi`), or `None` for a surface field.
    pub levels: Option<usize>,
    /// The values.
    pub values: &'a [f64],
}

/// The `_FillValue` CLM writes (as a float).
pub const CLM_FILL: f32 = 1.0e36;

/// Writes one monthly history file exactly as CLM lays it out: 64-bit offset format, an
/// unlimited `time` stamped at the END of the month (days since 0001-01-01, noleap),
/// `time_bounds`, `lat`/`lon`, `area` in km^2, `landfrac`, `landmask`, and each variable as
/// float with `_FillValue` = `missing_value` = 1e36 over ocean; `source` is the global
/// attribute saying which model made it. Written to a temporary file beside the target and
/// renamed.
pub fn write_history_month(
    path: &Path,
    case: &str,
    year: i64,
    month: u32,
    grid: &Grid,
    vars: &[HistVar],
    source: &str,
) -> Result<()> {
    use crate::nc::{Format, Writer};
    let (nlat, nlon) = grid.shape();
    for hv in vars {
        let n = hv.levels.unwrap_or(1) * nlat * nlon;
        if hv.values.len() != n {
            bail!(
                "{}: {} has {} values, the grid needs {n}",
                path.display(),
                hv.name,
                hv.values.len()
            );
        }
    }
    let fill = CLM_FILL as f64;
    let f32s = |v: &mut dyn Iterator<Item = f64>| -> Vec<f32> { v.map(|x| x as f32).collect() };
    let mut w = Writer::new(Format::Offset64);
    w.unlimited("time")
        .dim("lat", nlat)
        .dim("lon", nlon)
        .dim("hist_interval", 2);
    if let Some(n) = vars.iter().filter_map(|v| v.levels).max() {
        w.dim("levsoi", n);
    }
    w.global("title", "CLM History file information")
        .global("case_id", case)
        .global("source", source);
    let start = (year - 1) * 365 + crate::nc::MONTH_START[(month - 1) as usize] as i64;
    let end = start + crate::nc::DAYS_IN_MONTH[(month - 1) as usize] as i64;
    w.var("time", &["time"], vec![end as f64])
        .attr("long_name", "time")
        .attr("units", "days since 0001-01-01 00:00:00")
        .attr("calendar", "noleap")
        .attr("bounds", "time_bounds");
    w.var(
        "time_bounds",
        &["time", "hist_interval"],
        vec![start as f64, end as f64],
    )
    .attr("long_name", "history time interval endpoints");
    for (name, units, long, values) in [
        ("lat", "degrees_north", "coordinate latitude", &grid.lat),
        ("lon", "degrees_east", "coordinate longitude", &grid.lon),
    ] {
        w.var(name, &[name], f32s(&mut values.iter().copied()))
            .attr("long_name", long)
            .attr("units", units)
            .fill_and_missing(fill);
    }
    for (name, units, long, values) in [
        (
            "area",
            "km^2",
            "grid cell areas",
            grid.area.mapv(|a| a / 1e6),
        ),
        (
            "landfrac",
            "unitless",
            "land fraction",
            grid.landfrac.clone(),
        ),
    ] {
        w.var(name, &["lat", "lon"], f32s(&mut values.iter().copied()))
            .attr("long_name", long)
            .attr("units", units)
            .fill_and_missing(fill);
    }
    let lm: Vec<i32> = grid
        .landmask
        .iter()
        .map(|&x| if x > 0.5 { 1 } else { 0 })
        .collect();
    w.var("landmask", &["lat", "lon"], lm)
        .attr("long_name", "land/ocean mask (0.=ocean and 1.=land)")
        .fill_and_missing(-9999.0);
    for hv in vars {
        let dims: &[&str] = if hv.levels.is_some() {
            &["time", "levsoi", "lat", "lon"]
        } else {
            &["time", "lat", "lon"]
        };
        w.var(hv.name, dims, f32s(&mut hv.values.iter().copied()))
            .attr("long_name", hv.long_name)
            .attr("units", hv.units)
            .attr("cell_methods", "time: mean")
            .fill_and_missing(fill);
    }
    w.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_names_from_patterns() {
        assert_eq!(
            case_name("hydro_LHC_{member}", Some("7"), None, None).unwrap(),
            "hydro_LHC_7"
        );
        assert_eq!(
            case_name("hydro_{param}_{end}", None, Some("kmax"), Some("min")).unwrap(),
            "hydro_kmax_min"
        );
        assert!(case_name("hydro_{param}", None, None, None)
            .unwrap_err()
            .to_string()
            .contains("needs a value for {param}"));
        assert!(case_name("x_{nope}", None, None, None)
            .unwrap_err()
            .to_string()
            .contains("unknown placeholder {nope}"));
        assert!(case_name("../{member}", Some("1"), None, None).is_err());
    }

    #[test]
    fn file_names_give_year_and_month() {
        assert_eq!(parse_name("c1", "c1.clm2.h0.0016-01.nc"), Some((16, 1)));
        assert_eq!(parse_name("c1", "c1.clm2.h0.2000-12.nc"), Some((2000, 12)));
        assert_eq!(parse_name("c1", "c1.clm2.h0.0016-13.nc"), None);
        assert_eq!(parse_name("c1", "c1.clm2.h1.0016-01.nc"), None);
        assert_eq!(parse_name("c1", "c10.clm2.h0.0016-01.nc"), None);
    }
}
