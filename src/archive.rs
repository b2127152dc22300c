//! The CLM short-term archive: case names from patterns, the monthly history files of a case
//! (`ROOT/CASE/lnd/hist/CASE.clm2.h0.YYYY-MM.nc`), which months are missing, and whether a
//! case is complete. Also the writer of history files in CLM's exact layout, used by the demo
//! model and by tests.

use crate::grids::Grid;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// One history file of a case: its tape and the start of its first interval (from its
/// name), and the months it holds samples of.
#[derive(Debug, Clone, PartialEq)]
pub struct HistFile {
    /// Simulation year of the file's start (CLM's 0001.. numbering).
    pub year: i64,
    /// Month 1..12 of the file's start.
    pub month: u32,
    /// Day 1..31 of the file's start (1 for a `YYYY-MM` name).
    pub day: u32,
    /// Seconds into that day (0 unless the name has them).
    pub seconds: u32,
    /// Path of the file.
    pub path: PathBuf,
    /// The months this file holds samples of, in time order: read from its time samples
    /// where its name cannot tell (many samples per file, daily or sub-daily output, the
    /// last file of a case), else the month of its name.
    pub months: Vec<(i64, u32)>,
}

impl HistFile {
    /// `YYYY-MM` of the file's start, as in a monthly file's name.
    pub fn label(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// A case in the archive: the history files of one tape (`h0`, or CTSM's `h0a`, ...), in
/// time order, and the files of its folder that were not used, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Case name.
    pub name: String,
    /// `ROOT/CASE/lnd/hist`.
    pub hist_dir: PathBuf,
    /// The tape read (`h0`, `h0a`, `h1`, ...).
    pub tape: String,
    /// The tape's files, ordered by their start.
    pub files: Vec<HistFile>,
    /// Files of the folder not used: (file name, why).
    pub ignored: Vec<(String, String)>,
    /// The fraction of a month's time its samples must cover for the month to count
    /// (`[archive] min_coverage`; 1 = whole months only).
    pub min_coverage: f64,
    /// Every month the samples of the files read touch, with its coverage and whether it
    /// counts, in month order (months of files placed by their names alone are whole).
    pub coverage: Vec<MonthCover>,
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
        let j = rest[i..].find('}').with_context(|| {
            format!(
                "case pattern '{pattern}': unclosed '{{'",
                pattern = crate::format::printable(pattern)
            )
        })? + i;
        let key = &rest[i + 1..j];
        let value = match key {
            "member" => member.map(str::to_string),
            "param" => param.map(str::to_string),
            "end" => end.map(str::to_string),
            _ => bail!("case pattern '{pattern}': unknown placeholder {{{key}}} (use {{member}}, {{param}}, {{end}})", pattern = crate::format::printable(pattern)),
        };
        out.push_str(&value.with_context(|| {
            format!(
                "case pattern '{pattern}' needs a value for {{{key}}}",
                pattern = crate::format::printable(pattern)
            )
        })?);
        rest = &rest[j + 1..];
    }
    out.push_str(rest);
    if out.is_empty()
        || out.starts_with('.')
        || !out
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        bail!(
            "case pattern '{pattern}' gives an unusable case name '{out}'",
            out = crate::format::printable(&out),
            pattern = crate::format::printable(pattern)
        );
    }
    Ok(out)
}

/// A history file name split: tape and start (year, month, day, seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct NameParts {
    /// `h0`..`h9`, with CTSM's `a` (averaged) or `i` (instantaneous) suffix if present.
    pub tape: String,
    /// (year, month, day, seconds) of the file's start.
    pub start: (i64, u32, u32, u32),
    /// Whether the date is a bare `YYYY-MM` (a monthly file's name).
    pub monthly_name: bool,
}

/// Parses `CASE.clm2.TAPE.DATE.nc` for the given case name: TAPE is `h0`..`h9` with an
/// optional `a`/`i` (CTSM >= 5.3); DATE is `YYYY-MM`, `YYYY-MM-DD` or `YYYY-MM-DD-SSSSS`.
pub fn parse_name(case: &str, file: &str) -> Option<NameParts> {
    let rest = file
        .strip_prefix(case)?
        .strip_prefix(".clm2.")?
        .strip_suffix(".nc")?;
    let (tape, date) = rest.split_once('.')?;
    let tb = tape.as_bytes();
    let tape_ok = (tb.len() == 2 || (tb.len() == 3 && matches!(tb[2], b'a' | b'i')))
        && tb[0] == b'h'
        && tb[1].is_ascii_digit();
    if !tape_ok {
        return None;
    }
    let parts: Vec<&str> = date.split('-').collect();
    let num = |s: &str, len: usize| -> Option<u32> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    if parts.len() < 2 || parts.len() > 4 || parts[0].len() < 4 {
        return None;
    }
    let y: i64 = parts[0]
        .parse()
        .ok()
        .filter(|_| parts[0].bytes().all(|b| b.is_ascii_digit()))?;
    let m = num(parts[1], 2).filter(|m| (1..=12).contains(m))?;
    let d = match parts.get(2) {
        Some(p) => num(p, 2).filter(|d| (1..=31).contains(d))?,
        None => 1,
    };
    let sec = match parts.get(3) {
        Some(p) => num(p, 5).filter(|s| *s < 86400)?,
        None => 0,
    };
    Some(NameParts {
        tape: tape.to_string(),
        start: (y, m, d, sec),
        monthly_name: parts.len() == 2,
    })
}

/// The order tapes are chosen in when the config names none: `h0`, `h0a`, `h0i`, `h1`, ...
fn tape_rank(t: &str) -> (u8, u8) {
    let b = t.as_bytes();
    (b[1], b.get(2).copied().unwrap_or(0))
}

/// The history folder of a case: `ROOT/CASE/lnd/hist`.
pub fn hist_dir(root: &Path, case: &str) -> PathBuf {
    root.join(case).join("lnd").join("hist")
}

/// The path of one monthly `h0` file.
pub fn hist_path(root: &Path, case: &str, year: i64, month: u32) -> PathBuf {
    hist_dir(root, case).join(format!("{case}.clm2.h0.{year:04}-{month:02}.nc"))
}

/// One time sample of a history file: its averaging interval in days since 0000-01-01 of
/// the file's calendar, and the month it belongs to (the month of its midpoint).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Start of the interval (days since 0000-01-01).
    pub start: f64,
    /// End of the interval.
    pub end: f64,
    /// Length of the interval in days (from the file's own numbers, exact where `end -
    /// start` of the large day counts would round).
    pub days: f64,
    /// (year, month) of the interval's midpoint.
    pub month: (i64, u32),
}

/// The time samples of an open history file, from `time_bounds` (the variable the `time`
/// coordinate's `bounds` attribute names), else from `time` and CLM's convention that a
/// sample's time stamp marks the END of its interval (the interval then runs from the
/// previous stamp; a file's only sample without bounds is taken as the month before its
/// stamp). Also the file's calendar.
pub fn samples(
    file: &netcdf::File,
    path: &Path,
) -> Result<(Vec<Sample>, crate::calendar::Calendar)> {
    use crate::nc;
    let tv = file.variable("time").with_context(|| {
        format!(
            "{}: no time variable, so its samples cannot be placed in months",
            path.display()
        )
    })?;
    let units = nc::attr_string(&tv, "units")
        .with_context(|| format!("{}: time has no units", path.display()))?;
    let axis =
        crate::calendar::TimeAxis::parse(&units, nc::attr_string(&tv, "calendar").as_deref())
            .with_context(|| format!("{}: time", path.display()))?;
    let times = nc::read_f64(file, path, "time")?;
    let n = times.len();
    let bname = nc::attr_string(&tv, "bounds").unwrap_or_else(|| "time_bounds".into());
    let bounds = if nc::name_problem(&bname).is_none() && file.variable(&bname).is_some() {
        let b = nc::read_f64(file, path, &bname)?;
        if b.len() != 2 * n {
            bail!(
                "{}: {bname} holds {} values for {n} time samples, expected {}",
                path.display(),
                b.len(),
                2 * n
            );
        }
        Some(b)
    } else {
        None
    };
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let (a, b, days) = match &bounds {
            Some(b) => (
                axis.abs_days(b[2 * k]),
                axis.abs_days(b[2 * k + 1]),
                (b[2 * k + 1] - b[2 * k]) * axis.days_per_unit,
            ),
            None => {
                let end = axis.abs_days(times[k]);
                let (start, days) = if k > 0 {
                    (
                        axis.abs_days(times[k - 1]),
                        (times[k] - times[k - 1]) * axis.days_per_unit,
                    )
                } else if n > 1 {
                    let step = (times[1] - times[0]) * axis.days_per_unit;
                    (end - step, step)
                } else {
                    // one stamp: the month that ends at (or contains the instant before) it
                    let (y, m, _) = axis.date(times[0] - 1e-6 / axis.days_per_unit);
                    let start = axis.calendar.month_span(y, m).0 as f64;
                    (start, end - start)
                };
                (start, end, days)
            }
        };
        if !(a.is_finite() && b.is_finite() && b > a && days > 0.0) {
            bail!(
                "{}: time sample {k} has the interval [{a}, {b}] (days since 0000-01-01), which is empty or undefined",
                path.display()
            );
        }
        let mid = (a + b) / 2.0;
        let (y, m, _) = axis.date((mid - axis.abs_days(0.0)) / axis.days_per_unit);
        out.push(Sample {
            start: a,
            end: b,
            days,
            month: (y, m),
        });
    }
    Ok((out, axis.calendar))
}

/// How much of one month the samples of a case cover, and whether the month counts.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthCover {
    /// (year, month).
    pub month: (i64, u32),
    /// Days of the month its samples' intervals cover (their lengths added).
    pub covered: f64,
    /// Days of the month in the file's calendar.
    pub length: f64,
    /// Names of the files holding its samples.
    pub files: Vec<String>,
    /// Whether the month counts (its coverage reaches the case's `min_coverage` and its
    /// samples do not overlap).
    pub kept: bool,
}

/// Tolerance of coverage sums: one second, in days.
const SECOND: f64 = 1.0 / 86400.0;

impl MonthCover {
    /// `YYYY-MM`.
    pub fn label(&self) -> String {
        format!("{:04}-{:02}", self.month.0, self.month.1)
    }

    /// The fraction of the month covered (above 1 when samples overlap).
    pub fn fraction(&self) -> f64 {
        if self.length > 0.0 {
            self.covered / self.length
        } else {
            0.0
        }
    }

    /// Whether the month is covered whole (to a second).
    pub fn is_whole(&self) -> bool {
        (self.covered - self.length).abs() < SECOND
    }

    /// Whether its samples cover more than the month (overlapping samples, e.g. two files
    /// holding the same days).
    pub fn overlaps(&self) -> bool {
        self.covered > self.length + SECOND
    }

    /// The coverage in words: `2004-12: 743 of 744 hours (99.9 %)`, in days when both are
    /// whole days (`30 of 31 days`).
    pub fn describe(&self) -> String {
        let whole_days = |d: f64| (d - d.round()).abs() < SECOND;
        let (covered, length, unit) = if whole_days(self.covered) && whole_days(self.length) {
            (self.covered, self.length, "days")
        } else {
            (self.covered * 24.0, self.length * 24.0, "hours")
        };
        let num = |x: f64| {
            let t = format!("{x:.3}");
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        };
        let pct = 100.0 * self.fraction();
        let pct = if pct < 1.0 {
            format!("{pct:.2}")
        } else {
            format!("{pct:.1}")
        };
        format!(
            "{}: {} of {} {unit} ({pct} %)",
            self.label(),
            num(covered),
            num(length)
        )
    }
}

/// Whether a month whose samples cover `covered` of its `length` days counts at
/// `min_coverage`: covered at least that fraction (to a second), and not more than whole.
pub fn month_counts(covered: f64, length: f64, min_coverage: f64) -> bool {
    covered <= length + SECOND && covered >= min_coverage * length - SECOND
}

/// Checks a `min_coverage`: a fraction in (0, 1].
pub fn check_min_coverage(min_coverage: f64) -> Result<()> {
    if !(min_coverage > 0.0 && min_coverage <= 1.0) {
        bail!(
            "min_coverage = {min_coverage}: must be in (0, 1] (the fraction of a month's time its samples must cover for the month to count; 1 = whole months only)"
        );
    }
    Ok(())
}

/// The coverage of every month the samples touch, in month order: their intervals' lengths
/// added per month (samples need not be sorted); `kept` by [`month_counts`] at
/// `min_coverage`. `files` is left empty.
pub fn month_coverage(
    samples: &[Sample],
    cal: crate::calendar::Calendar,
    min_coverage: f64,
) -> Vec<MonthCover> {
    let mut out: Vec<MonthCover> = Vec::new();
    for s in samples {
        match out.iter_mut().find(|c| c.month == s.month) {
            Some(c) => c.covered += s.days,
            None => {
                let (a, b) = cal.month_span(s.month.0, s.month.1);
                out.push(MonthCover {
                    month: s.month,
                    covered: s.days,
                    length: (b - a) as f64,
                    files: Vec::new(),
                    kept: false,
                });
            }
        }
    }
    for c in &mut out {
        c.kept = month_counts(c.covered, c.length, min_coverage);
    }
    out.sort_by_key(|c| c.month);
    out
}

/// The months the samples cover whole: each month whose samples' intervals add up to its
/// length (within a second).
pub fn whole_months(samples: &[Sample], cal: crate::calendar::Calendar) -> Vec<(i64, u32)> {
    month_coverage(samples, cal, 1.0)
        .into_iter()
        .filter(|c| c.kept)
        .map(|c| c.month)
        .collect()
}

/// The month after `(y, m)`.
fn next_month((y, m): (i64, u32)) -> (i64, u32) {
    if m >= 12 {
        (y + 1, 1)
    } else {
        (y, m + 1)
    }
}

/// Finds a case and the history files of its first tape (`h0`, else `h0a`, ...; see
/// [`find_case_tape`]); whole months only.
pub fn find_case(root: &Path, case: &str) -> Result<Case> {
    find_case_tape(root, case, None)
}

/// [`find_case`] keeping the months whose samples cover at least `min_coverage` of them
/// (see [`scan_case`]); a month kept with partial coverage is reported on stderr as a
/// warning naming the file, the month and its coverage ([`Case::coverage_notes`]).
pub fn find_case_covering(root: &Path, case: &str, min_coverage: f64) -> Result<Case> {
    let c = scan_case(root, case, None, min_coverage)?;
    for w in c.coverage_notes() {
        crate::output::eprintln(&format!("warning: {w}"));
    }
    Ok(c)
}

/// Finds a case and the history files of `tape` (`None`: the first tape the folder has, in
/// the order h0, h0a, h0i, h1, ...); whole months only (see [`scan_case`]).
pub fn find_case_tape(root: &Path, case: &str, tape: Option<&str>) -> Result<Case> {
    scan_case(root, case, tape, 1.0)
}

/// Finds a case and the history files of `tape` (`None`: the first tape the folder has, in
/// the order h0, h0a, h0i, h1, ...), printing nothing. Files are recognised by name
/// (`CASE.clm2.TAPE.DATE.nc`) and placed by content: the months of a file whose name cannot
/// tell (many samples per file, daily or sub-daily samples, the last file) are read from
/// its time samples. A month counts when its samples cover at least `min_coverage` of its
/// time (1: whole months only; in (0, 1], else an error); every month touched is in
/// [`Case::coverage`], those that do not count with the reason in [`Case::found`]. A case
/// folder that does not exist is an error naming the path; an existing case with no files
/// is returned empty, with the files it has and why each was not used.
pub fn scan_case(root: &Path, case: &str, tape: Option<&str>, min_coverage: f64) -> Result<Case> {
    check_min_coverage(min_coverage).with_context(|| format!("case {case}"))?;
    crate::files::check_dir_input(root, "archive")?;
    let dir = hist_dir(root, case);
    if !dir.is_dir() {
        bail!("case {case}: no history folder {}", dir.display());
    }
    let mut parsed: Vec<(NameParts, PathBuf)> = Vec::new();
    let mut ignored: Vec<(String, String)> = Vec::new();
    for e in std::fs::read_dir(&dir)
        .with_context(|| format!("case {case}: cannot list {}", dir.display()))?
        .filter_map(|e| e.ok())
    {
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        if !name.ends_with(".nc") {
            continue;
        }
        match parse_name(case, &name) {
            Some(p) => parsed.push((p, e.path())),
            None => ignored.push((
                name,
                format!("not named {case}.clm2.hN.YYYY-MM[-DD[-SSSSS]].nc"),
            )),
        }
    }
    let chosen = match tape {
        Some(t) => t.to_string(),
        None => parsed
            .iter()
            .map(|(p, _)| p.tape.clone())
            .min_by_key(|t| tape_rank(t))
            .unwrap_or_else(|| "h0".into()),
    };
    let mut files: Vec<(NameParts, PathBuf)> = Vec::new();
    for (p, path) in parsed {
        if p.tape == chosen {
            files.push((p, path));
        } else {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            ignored.push((name, format!("tape {}, not the {chosen} read", p.tape)));
        }
    }
    files.sort_by_key(|(p, _)| p.start);
    // what each file holds: one month by its name, or its samples read (whole months are
    // judged over all files, so a month split between two files of daily output counts)
    enum Held {
        Month((i64, u32)),
        Samples(Vec<Sample>, crate::calendar::Calendar),
    }
    let mut held: Vec<(usize, Held)> = Vec::with_capacity(files.len());
    for (i, (p, path)) in files.iter().enumerate() {
        let (y, m, _, _) = p.start;
        let own = (y, m);
        // a monthly name next to the file of the month before or after it (one file per
        // month, CLM's default) holds that one month: no need to open it
        let next_is_next_month = files
            .get(i + 1)
            .is_some_and(|(q, _)| q.monthly_name && (q.start.0, q.start.1) == next_month(own));
        let prev_is_prev_month = i > 0
            && files[i - 1].0.monthly_name
            && next_month((files[i - 1].0.start.0, files[i - 1].0.start.1)) == own;
        if p.monthly_name && (next_is_next_month || prev_is_prev_month) {
            held.push((i, Held::Month(own)));
            continue;
        }
        match crate::nc::open(path).and_then(|f| samples(&f, path)) {
            Ok((smp, cal)) => held.push((i, Held::Samples(smp, cal))),
            Err(e) => {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                ignored.push((name, format!("{e:#}")));
            }
        }
    }
    let file_name = |i: usize| {
        files[i]
            .1
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut all: Vec<Sample> = Vec::new();
    let mut cal = None;
    for (_, h) in &held {
        if let Held::Samples(smp, c) = h {
            all.extend_from_slice(smp);
            cal.get_or_insert(*c);
        }
    }
    all.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut coverage = cal
        .map(|c| month_coverage(&all, c, min_coverage))
        .unwrap_or_default();
    for (i, h) in &held {
        match h {
            Held::Samples(smp, _) => {
                for c in coverage.iter_mut() {
                    if smp.iter().any(|x| x.month == c.month) {
                        c.files.push(file_name(*i));
                    }
                }
            }
            Held::Month(own) => {
                if !coverage.iter().any(|c| c.month == *own) {
                    let len = crate::calendar::DAYS_IN_MONTH
                        .get(own.1.saturating_sub(1) as usize)
                        .copied()
                        .unwrap_or(0) as f64;
                    coverage.push(MonthCover {
                        month: *own,
                        covered: len,
                        length: len,
                        files: vec![file_name(*i)],
                        kept: true,
                    });
                }
            }
        }
    }
    coverage.sort_by_key(|c| c.month);
    let mut out: Vec<HistFile> = Vec::with_capacity(held.len());
    for (i, h) in held {
        let (p, path) = &files[i];
        let (y, m, d, s) = p.start;
        let months = match h {
            Held::Month(own) => vec![own],
            Held::Samples(smp, _) => {
                let mut ms: Vec<(i64, u32)> = smp
                    .iter()
                    .map(|x| x.month)
                    .filter(|mo| coverage.iter().any(|c| c.month == *mo && c.kept))
                    .collect();
                ms.dedup();
                ms
            }
        };
        out.push(HistFile {
            year: y,
            month: m,
            day: d,
            seconds: s,
            path: path.clone(),
            months,
        });
    }
    ignored.sort();
    Ok(Case {
        name: case.to_string(),
        hist_dir: dir,
        tape: chosen,
        files: out,
        ignored,
        min_coverage,
        coverage,
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
    /// The months of `years` that no file holds, as `YYYY-MM`.
    pub fn missing_months(&self, years: (i64, i64)) -> Vec<String> {
        expected_months(years)
            .into_iter()
            .filter(|m| !self.files.iter().any(|f| f.months.contains(m)))
            .map(|(y, m)| format!("{y:04}-{m:02}"))
            .collect()
    }

    /// Whether every month of `years` is held by a file.
    pub fn is_complete(&self, years: (i64, i64)) -> bool {
        check_years(years).is_ok() && self.missing_months(years).is_empty()
    }

    /// What the folder holds, in words: the tape's files and the months they cover, and the
    /// files not used with the reason (at most a few of each).
    pub fn found(&self) -> String {
        let mut parts = Vec::new();
        let mut months: Vec<(i64, u32)> =
            self.files.iter().flat_map(|f| f.months.clone()).collect();
        months.sort();
        months.dedup();
        match (months.first(), months.last()) {
            (Some(a), Some(b)) => parts.push(format!(
                "{} {} file(s) holding {} month(s) from {:04}-{:02} to {:04}-{:02}",
                self.files.len(),
                self.tape,
                months.len(),
                a.0,
                a.1,
                b.0,
                b.1
            )),
            _ if !self.files.is_empty() => parts.push(format!(
                "{} {} file(s) holding no {}",
                self.files.len(),
                self.tape,
                if self.min_coverage < 1.0 {
                    format!(
                        "month covered to [archive] min_coverage = {}",
                        self.min_coverage
                    )
                } else {
                    "whole month".to_string()
                }
            )),
            _ => parts.push(format!("no {} file", self.tape)),
        }
        for c in self.partial_months().iter().take(4) {
            parts.push(format!(
                "{} kept with partial coverage (in {})",
                c.describe(),
                c.files.join(", ")
            ));
        }
        let dropped = self.dropped_months();
        for c in dropped.iter().take(4) {
            parts.push(self.dropped_reason(c));
        }
        if dropped.len() > 4 {
            parts.push(format!("{} more month(s) not counted", dropped.len() - 4));
        }
        for (name, why) in self.ignored.iter().take(4) {
            parts.push(format!("{name} not used: {why}"));
        }
        if self.ignored.len() > 4 {
            parts.push(format!("{} more file(s) not used", self.ignored.len() - 4));
        }
        parts.join("; ")
    }

    /// The months kept although their samples do not cover them whole.
    pub fn partial_months(&self) -> Vec<&MonthCover> {
        self.coverage
            .iter()
            .filter(|c| c.kept && !c.is_whole())
            .collect()
    }

    /// The months the samples touch that do not count: covered less than `min_coverage`,
    /// or covered more than once.
    pub fn dropped_months(&self) -> Vec<&MonthCover> {
        self.coverage.iter().filter(|c| !c.kept).collect()
    }

    /// Why a month does not count, in words naming its files.
    fn dropped_reason(&self, c: &MonthCover) -> String {
        let why = if c.overlaps() {
            "its samples overlap".to_string()
        } else {
            format!("below [archive] min_coverage = {}", self.min_coverage)
        };
        format!(
            "{} not counted, {why} (in {})",
            c.describe(),
            c.files.join(", ")
        )
    }

    /// One line per month kept with partial coverage, naming the case, the file(s), the
    /// month and its coverage: `case c: c.clm2.h0.2004-01-01-00000.nc: 2004-12: 743 of 744
    /// hours (99.9 %) kept as a month ([archive] min_coverage = 0.99)`.
    pub fn coverage_notes(&self) -> Vec<String> {
        self.partial_months()
            .iter()
            .map(|c| {
                format!(
                    "case {}: {}: {} kept as a month ([archive] min_coverage = {})",
                    self.name,
                    c.files.join(", "),
                    c.describe(),
                    self.min_coverage
                )
            })
            .collect()
    }

    /// The files holding months of `years`, in time order; a missing month is an error
    /// naming the case, the months and what the folder holds.
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
                "case {}: {} month(s) of years {}-{} missing in {}: {}{more} (found: {})",
                self.name,
                missing.len(),
                years.0,
                years.1,
                self.hist_dir.display(),
                shown.join(", "),
                self.found()
            );
        }
        Ok(self
            .files
            .iter()
            .filter(|f| f.months.iter().any(|m| m.0 >= years.0 && m.0 <= years.1))
            .cloned()
            .collect())
    }
}

/// Whether a case exists under `root` with every month of `years` (what the ensemble
/// machinery asks before creating a run); whole months only.
pub fn is_complete(root: &Path, case: &str, years: (i64, i64)) -> bool {
    is_complete_covering(root, case, years, 1.0)
}

/// [`is_complete`] counting the months whose samples cover at least `min_coverage` of
/// them; prints nothing.
pub fn is_complete_covering(root: &Path, case: &str, years: (i64, i64), min_coverage: f64) -> bool {
    scan_case(root, case, None, min_coverage)
        .map(|c| c.is_complete(years))
        .unwrap_or(false)
}

/// Finds the cases of an ensemble; members missing from the archive (no history folder)
/// are reported together, by name. Whole months only.
pub fn find_cases(root: &Path, names: &[String]) -> Result<Vec<Case>> {
    find_cases_covering(root, names, 1.0)
}

/// [`find_cases`] keeping the months whose samples cover at least `min_coverage` of them;
/// months kept with partial coverage are reported on stderr, the first few by file and
/// month and the rest counted. An invalid `min_coverage` is an error naming it.
pub fn find_cases_covering(root: &Path, names: &[String], min_coverage: f64) -> Result<Vec<Case>> {
    check_min_coverage(min_coverage)?;
    crate::files::check_dir_input(root, "archive")?;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for n in names {
        match scan_case(root, n, None, min_coverage) {
            Ok(c) => found.push(c),
            Err(_) => missing.push(n.as_str()),
        }
    }
    let notes: Vec<String> = found.iter().flat_map(|c| c.coverage_notes()).collect();
    for w in notes.iter().take(3) {
        crate::output::eprintln(&format!("warning: {w}"));
    }
    if notes.len() > 3 {
        crate::output::eprintln(&format!(
            "warning: {} more month(s) kept with partial coverage in {} case(s)",
            notes.len() - 3,
            found
                .iter()
                .filter(|c| !c.partial_months().is_empty())
                .count()
        ));
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
    write_history(path, case, &[(year, month)], grid, vars, source)
}

/// Writes a history file of several monthly samples (CLM with `hist_mfilt` > 1) in CLM's
/// layout (see [`write_history_month`]); each variable's values are (month, [level,] cells)
/// in row-major order. On a 1-D grid the cells lie along its dimension (`lndgrid`) with
/// `lat`, `lon`, `area`, `landfrac` and `landmask` per cell, as CLM writes 1-D output.
pub fn write_history(
    path: &Path,
    case: &str,
    months: &[(i64, u32)],
    grid: &Grid,
    vars: &[HistVar],
    source: &str,
) -> Result<()> {
    use crate::nc::{Format, Writer};
    let nt = months.len();
    if nt == 0 || months.iter().any(|&(_, m)| !(1..=12).contains(&m)) {
        bail!("{}: a history file needs months 1..12", path.display());
    }
    let ncell = grid.ncell();
    for hv in vars {
        let n = nt * hv.levels.unwrap_or(1) * ncell;
        if hv.values.len() != n {
            bail!(
                "{}: {} has {} values, the grid and months need {n}",
                path.display(),
                hv.name,
                hv.values.len()
            );
        }
    }
    let fill = CLM_FILL as f64;
    let f32s = |v: &mut dyn Iterator<Item = f64>| -> Vec<f32> { v.map(|x| x as f32).collect() };
    let gd = grid.dims();
    let gdims: Vec<&str> = gd.iter().map(String::as_str).collect();
    let mut w = Writer::new(Format::Offset64);
    w.unlimited("time");
    for (d, n) in gdims.iter().zip(grid.spatial_shape()) {
        w.dim(d, n);
    }
    w.dim("hist_interval", 2);
    if let Some(n) = vars.iter().filter_map(|v| v.levels).max() {
        w.dim("levsoi", n);
    }
    w.global("title", "CLM History file information")
        .global("case_id", case)
        .global("source", source);
    let start = |&(year, month): &(i64, u32)| {
        (year - 1) * 365 + crate::calendar::MONTH_START[(month - 1) as usize] as i64
    };
    let end =
        |ym: &(i64, u32)| start(ym) + crate::calendar::DAYS_IN_MONTH[(ym.1 - 1) as usize] as i64;
    w.var(
        "time",
        &["time"],
        months.iter().map(|m| end(m) as f64).collect::<Vec<f64>>(),
    )
    .attr("long_name", "time")
    .attr("units", "days since 0001-01-01 00:00:00")
    .attr("calendar", "noleap")
    .attr("bounds", "time_bounds");
    w.var(
        "time_bounds",
        &["time", "hist_interval"],
        months
            .iter()
            .flat_map(|m| [start(m) as f64, end(m) as f64])
            .collect::<Vec<f64>>(),
    )
    .attr("long_name", "history time interval endpoints");
    for (name, units, long, values) in [
        ("lat", "degrees_north", "coordinate latitude", &grid.lat),
        ("lon", "degrees_east", "coordinate longitude", &grid.lon),
    ] {
        let dims: Vec<&str> = if grid.is_lat_lon() {
            vec![name]
        } else {
            gdims.clone()
        };
        w.var(name, &dims, f32s(&mut values.iter().copied()))
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
        w.var(name, &gdims, f32s(&mut values.iter().copied()))
            .attr("long_name", long)
            .attr("units", units)
            .fill_and_missing(fill);
    }
    let lm: Vec<i32> = grid
        .landmask
        .iter()
        .map(|&x| if x > 0.5 { 1 } else { 0 })
        .collect();
    w.var("landmask", &gdims, lm)
        .attr("long_name", "land/ocean mask (0.=ocean and 1.=land)")
        .fill_and_missing(-9999.0);
    for hv in vars {
        let mut dims: Vec<&str> = vec!["time"];
        if hv.levels.is_some() {
            dims.push("levsoi");
        }
        dims.extend(&gdims);
        w.var(hv.name, &dims, f32s(&mut hv.values.iter().copied()))
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
    fn file_names_give_tape_and_start() {
        let p = |f: &str| parse_name("c1", f).map(|p| (p.tape, p.start, p.monthly_name));
        assert_eq!(
            p("c1.clm2.h0.0016-01.nc"),
            Some(("h0".into(), (16, 1, 1, 0), true))
        );
        assert_eq!(
            p("c1.clm2.h0a.2000-12.nc"),
            Some(("h0a".into(), (2000, 12, 1, 0), true))
        );
        assert_eq!(
            p("c1.clm2.h1.2004-01-01-00000.nc"),
            Some(("h1".into(), (2004, 1, 1, 0), false))
        );
        assert_eq!(
            p("c1.clm2.h2i.0001-02-03-03600.nc"),
            Some(("h2i".into(), (1, 2, 3, 3600), false))
        );
        assert_eq!(p("c1.clm2.h0.0016-13.nc"), None);
        assert_eq!(p("c1.clm2.h0.0016-01-01-99999.nc"), None);
        assert_eq!(p("c1.clm2.h0x.0016-01.nc"), None);
        assert_eq!(p("c1.clm2.rh0.0016-01.nc"), None);
        assert_eq!(p("c1.clm2.r.0016-01-01-00000.nc"), None);
        assert_eq!(parse_name("c1", "c10.clm2.h0.0016-01.nc"), None);
        // the default tape order
        let mut t = vec!["h1", "h0i", "h0a", "h0"];
        t.sort_by_key(|t| tape_rank(t));
        assert_eq!(t, vec!["h0", "h0a", "h0i", "h1"]);
    }
}

#[cfg(test)]
mod coverage_tests {
    use super::*;

    /// Writes `CASE.clm2.h0.0001-01-01-00000.nc` under `root`: one cell on a 1-D grid
    /// (`lndgrid`), one daily sample (noleap, days since 0001-01-01, `time_bounds`) for each
    /// day of the year in `days` (0 = 1 January), GPP = the day's number + 1.
    fn write_daily(root: &Path, case: &str, days: std::ops::Range<usize>) -> PathBuf {
        use crate::nc::{Format, Writer};
        let dir = hist_dir(root, case);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{case}.clm2.h0.0001-01-01-00000.nc"));
        let d: Vec<f64> = days.map(|d| d as f64).collect();
        let mut w = Writer::new(Format::Offset64);
        w.unlimited("time")
            .dim("lndgrid", 1)
            .dim("hist_interval", 2);
        w.var(
            "time",
            &["time"],
            d.iter().map(|x| x + 1.0).collect::<Vec<f64>>(),
        )
        .attr("units", "days since 0001-01-01 00:00:00")
        .attr("calendar", "noleap")
        .attr("bounds", "time_bounds");
        w.var(
            "time_bounds",
            &["time", "hist_interval"],
            d.iter().flat_map(|x| [*x, x + 1.0]).collect::<Vec<f64>>(),
        );
        for (name, v) in [
            ("lat", 40.0),
            ("lon", 255.0),
            ("area", 100.0),
            ("landfrac", 1.0),
        ] {
            w.var(name, &["lndgrid"], vec![v]);
        }
        w.var(
            "GPP",
            &["time", "lndgrid"],
            d.iter().map(|x| x + 1.0).collect::<Vec<f64>>(),
        )
        .attr("units", "gC/m^2/s");
        w.save(&path).unwrap();
        path
    }

    #[test]
    fn a_month_at_half_coverage_counts_at_0_5_not_at_0_6() {
        let root = tempfile::tempdir().unwrap();
        // January whole (31 days), February's first 14 of 28 days: 50 %
        write_daily(root.path(), "c", 0..45);
        let name = "c.clm2.h0.0001-01-01-00000.nc";
        let gpp = vec!["GPP".to_string()];

        let c = scan_case(root.path(), "c", None, 0.5).unwrap();
        assert_eq!(c.files[0].months, vec![(1, 1), (1, 2)]);
        let feb = c.partial_months();
        assert_eq!(feb.len(), 1);
        assert_eq!(feb[0].describe(), "0001-02: 14 of 28 days (50.0 %)");
        assert_eq!(
            c.coverage_notes(),
            vec![format!(
                "case c: {name}: 0001-02: 14 of 28 days (50.0 %) kept as a month ([archive] min_coverage = 0.5)"
            )]
        );
        assert!(
            c.found().contains(&format!(
                "0001-02: 14 of 28 days (50.0 %) kept with partial coverage (in {name})"
            )),
            "{}",
            c.found()
        );
        assert!(!c.is_complete((1, 1))); // March to December are missing
                                         // hand computed: January (1 + ... + 31) / 31 = 16; February (32 + ... + 45) / 14 = 38.5
        let f = crate::field::read::read_files_covering("c", &c.files, &gpp, None, 0.5).unwrap();
        assert_eq!(f["GPP"].months, vec![(1, 1), (1, 2)]);
        assert_eq!(
            f["GPP"].values.iter().copied().collect::<Vec<_>>(),
            vec![16.0, 38.5]
        );
        // the same files read under a stricter rule: an error naming the month and coverage
        let e = crate::field::read::read_files_covering("c", &c.files, &gpp, None, 0.6)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "case c: 1 month(s) covered less than [archive] min_coverage = 0.6, or more than once, by the samples of its files: 0001-02: 14 of 28 days (50.0 %)"
        );

        let c = scan_case(root.path(), "c", None, 0.6).unwrap();
        assert_eq!(c.files[0].months, vec![(1, 1)]);
        assert!(c.partial_months().is_empty() && c.coverage_notes().is_empty());
        assert_eq!(c.dropped_months().len(), 1);
        let found = c.found();
        assert!(
            found.starts_with("1 h0 file(s) holding 1 month(s) from 0001-01 to 0001-01; ")
                && found.contains(&format!(
                    "0001-02: 14 of 28 days (50.0 %) not counted, below [archive] min_coverage = 0.6 (in {name})"
                )),
            "{found}"
        );
        // whole months only (the default): February is not a month either
        let c = find_case(root.path(), "c").unwrap();
        assert_eq!(c.files[0].months, vec![(1, 1)]);
        assert!(c.found().contains("below [archive] min_coverage = 1 "));
        let e = crate::field::read::read_files("c", &c.files, &gpp, Some((1, 1))).unwrap_err();
        assert!(e.to_string().contains("not covered whole"), "{e}");
    }

    #[test]
    fn coverage_rules_by_hand() {
        assert!(month_counts(14.0, 28.0, 0.5));
        assert!(!month_counts(14.0, 28.0, 0.6));
        assert!(month_counts(28.0, 28.0, 1.0));
        assert!(!month_counts(28.0 - 2.0 / 86400.0, 28.0, 1.0));
        // overlapping samples never count
        assert!(!month_counts(28.0 + 2.0 / 86400.0, 28.0, 0.5));
        let c = MonthCover {
            month: (2004, 12),
            covered: 743.0 / 24.0,
            length: 31.0,
            files: Vec::new(),
            kept: true,
        };
        assert_eq!(c.describe(), "2004-12: 743 of 744 hours (99.9 %)");
        let half_hour = MonthCover {
            month: (2003, 12),
            covered: 0.5 / 24.0,
            ..c
        };
        assert_eq!(half_hour.describe(), "2003-12: 0.5 of 744 hours (0.07 %)");
    }

    #[test]
    fn an_invalid_min_coverage_is_an_error_naming_it() {
        let root = tempfile::tempdir().unwrap();
        write_daily(root.path(), "c", 0..31);
        for bad in [f64::NAN, 0.0, -0.5, 1.5, f64::INFINITY] {
            let e = format!("{:#}", scan_case(root.path(), "c", None, bad).unwrap_err());
            assert!(
                e.starts_with("case c: min_coverage = ") && e.contains("must be in (0, 1]"),
                "{bad}: {e}"
            );
            let e = format!(
                "{:#}",
                find_cases_covering(root.path(), &["c".to_string()], bad).unwrap_err()
            );
            assert!(e.contains("must be in (0, 1]"), "{bad}: {e}");
            assert!(!is_complete_covering(root.path(), "c", (1, 1), bad));
        }
    }
}
