//! Calendars of CF time coordinates (noleap and proleptic Gregorian), CLM's month lengths,
//! and the current date for provenance attributes. No file I/O: `nc` and `files` both use it.

use anyhow::{bail, Context, Result};

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
                bail!(
                    "calendar '{other}' is not supported (noleap, 365_day, standard, gregorian)",
                    other = crate::format::printable(other)
                )
            }
        }
    }
}

impl Calendar {
    /// Days since 0000-01-01 of a date in this calendar (the count [`TimeAxis::abs_days`]
    /// uses).
    pub fn day_number(&self, y: i64, m: u32, d: u32) -> i64 {
        match self {
            Calendar::NoLeap => {
                y * 365 + MONTH_START[(m.clamp(1, 12) - 1) as usize] as i64 + d as i64 - 1
            }
            Calendar::Standard => days_from_civil(y, m, d) - days_from_civil(0, 1, 1),
        }
    }

    /// The first day of a month and of the next, as [`Calendar::day_number`]s.
    pub fn month_span(&self, y: i64, m: u32) -> (i64, i64) {
        let (ny, nm) = if m >= 12 { (y + 1, 1) } else { (y, m + 1) };
        (self.day_number(y, m, 1), self.day_number(ny, nm, 1))
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
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
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

/// A CF time axis: `UNIT since YYYY-MM-DD[ hh:mm:ss]` in a calendar.
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
            format!(
                "time units '{units}' are not of the form 'days since YYYY-MM-DD'",
                units = crate::format::printable(units)
            )
        })?;
        let days_per_unit = match unit.trim().to_lowercase().as_str() {
            "days" | "day" | "d" => 1.0,
            "hours" | "hour" | "h" => 1.0 / 24.0,
            "minutes" | "minute" => 1.0 / 1440.0,
            "seconds" | "second" | "s" => 1.0 / 86400.0,
            other => bail!(
                "time unit '{other}' in '{units}' is not supported",
                other = crate::format::printable(other),
                units = crate::format::printable(units)
            ),
        };
        let d = date.trim().split(['T', ' ']).next().unwrap_or_default();
        let parts: Vec<&str> = d.split('-').collect();
        let bad = || {
            anyhow::anyhow!(
                "cannot read the reference date in time units '{units}'",
                units = crate::format::printable(units)
            )
        };
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

    /// A time value as days since 0000-01-01 of the axis' calendar (so that values of axes
    /// with different reference dates compare).
    pub fn abs_days(&self, t: f64) -> f64 {
        self.calendar
            .day_number(self.since.0, self.since.1, self.since.2) as f64
            + t * self.days_per_unit
    }

    /// The month an averaging interval [t0, t1] belongs to: the month of its midpoint.
    pub fn interval_month(&self, t0: f64, t1: f64) -> (i64, u32) {
        let (y, m, _) = self.date((t0 + t1) / 2.0);
        (y, m)
    }
}

/// The current time in UTC as `YYYY-MM-DDTHH:MM:SSZ` (for provenance attributes).
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    utc_stamp(secs)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a count of seconds since 1970-01-01 00:00:00 UTC.
pub fn utc_stamp(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
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
    fn utc_stamps_of_known_instants() {
        // `date -u -d @1700000000 +%FT%TZ` = 2023-11-14T22:13:20Z; 951782400 = 2000-02-29
        assert_eq!(utc_stamp(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc_stamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_stamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_stamp(-1), "1969-12-31T23:59:59Z");
    }
}
