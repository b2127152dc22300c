//! Small CLM-shaped history archives made by hand, for tests, documentation examples and
//! benchmarks: one builder that declares the variables once and writes each case's monthly
//! `h0` files in CLM's exact layout ([`crate::archive::write_history_month`]), with the
//! values a closure gives for each variable and month.
//!
//! ```
//! use clmtune::demo::fixture::{tiny_grid, Archive};
//! # fn main() -> anyhow::Result<()> {
//! let dir = tempfile::tempdir()?;
//! // GPP = 1 + 0.1 t in month t over land (NaN over the ocean cell)
//! Archive::new(dir.path(), tiny_grid())
//!     .var("GPP", "gC/m^2/s", "gross primary production")
//!     .write_case("c1", (1, 1), |_, m| {
//!         tiny_grid().landfrac.iter().map(|&f| if f > 0.0 { 1.0 + 0.1 * m.index as f64 } else { f64::NAN }).collect()
//!     })?;
//! assert_eq!(clmtune::archive::find_case(dir.path(), "c1")?.files.len(), 12);
//! # Ok(())
//! # }
//! ```

use crate::archive::{hist_path, write_history_month, HistVar};
use crate::field::Grid;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// The 2 x 3 grid of the tests and doc examples: latitudes -10, 10; longitudes 0, 120, 240;
/// areas 1..6 km^2; land fractions [[1, .5, 0], [1, 1, .25]] (cell (0, 2) is ocean); land
/// weights `area * landfrac` [[1, 1, 0], [4, 5, 1.5]] km^2, summing to 12.5.
pub fn tiny_grid() -> Grid {
    use ndarray::array;
    Grid::lat_lon(
        vec![-10.0, 10.0],
        vec![0.0, 120.0, 240.0],
        array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]] * 1e6,
        array![[1.0, 0.5, 0.0], [1.0, 1.0, 0.25]],
        array![[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]],
    )
    .expect("a 2 x 3 grid")
}

/// One month being written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Month {
    /// Simulation year.
    pub year: i64,
    /// Month 1..=12.
    pub month: u32,
    /// Months since the first month of the case (0-based; skipped months count).
    pub index: usize,
}

/// A variable the archive holds.
#[derive(Debug, Clone)]
struct Var {
    name: String,
    units: String,
    long_name: String,
    levels: Option<usize>,
}

/// A builder of CLM-shaped archives under one root (`ROOT/CASE/lnd/hist/...`).
#[derive(Debug, Clone)]
pub struct Archive {
    root: PathBuf,
    grid: Grid,
    source: String,
    vars: Vec<Var>,
    skip: Vec<(i64, u32)>,
}

impl Archive {
    /// An archive under `root` on `grid`; its files say `source` = "clmtune test data
    /// (synthetic, not CLM)" unless [`Archive::source`] changes it.
    pub fn new(root: &Path, grid: Grid) -> Archive {
        Archive {
            root: root.to_path_buf(),
            grid,
            source: "clmtune test data (synthetic, not CLM)".into(),
            vars: Vec::new(),
            skip: Vec::new(),
        }
    }

    /// The `source` global attribute of the files.
    pub fn source(mut self, source: &str) -> Archive {
        self.source = source.into();
        self
    }

    /// Adds a surface variable `(time, lat, lon)`.
    pub fn var(mut self, name: &str, units: &str, long_name: &str) -> Archive {
        self.vars.push(Var {
            name: name.into(),
            units: units.into(),
            long_name: long_name.into(),
            levels: None,
        });
        self
    }

    /// Adds a soil variable `(time, levsoi, lat, lon)` of `levels` levels.
    pub fn soil_var(mut self, name: &str, units: &str, long_name: &str, levels: usize) -> Archive {
        self.vars.push(Var {
            name: name.into(),
            units: units.into(),
            long_name: long_name.into(),
            levels: Some(levels),
        });
        self
    }

    /// Leaves out month (`year`, `month`) of every case written afterwards (an incomplete
    /// archive).
    pub fn skip(mut self, year: i64, month: u32) -> Archive {
        self.skip.push((year, month));
        self
    }

    /// The grid.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// Writes the monthly files of `case` for `years` (inclusive): `values(variable, month)`
    /// gives each variable's values, row-major `(lat, lon)` or `(levsoi, lat, lon)`, NaN
    /// where undefined.
    pub fn write_case(
        &self,
        case: &str,
        years: (i64, i64),
        values: impl Fn(&str, Month) -> Vec<f64>,
    ) -> Result<()> {
        if self.vars.is_empty() {
            bail!("archive fixture {case}: no variable declared");
        }
        let mut index = 0;
        for year in years.0..=years.1 {
            for month in 1..=12u32 {
                let m = Month { year, month, index };
                index += 1;
                if self.skip.contains(&(year, month)) {
                    continue;
                }
                let data: Vec<Vec<f64>> = self.vars.iter().map(|v| values(&v.name, m)).collect();
                let hist: Vec<HistVar> = self
                    .vars
                    .iter()
                    .zip(&data)
                    .map(|(v, d)| HistVar {
                        name: &v.name,
                        units: &v.units,
                        long_name: &v.long_name,
                        levels: v.levels,
                        values: d,
                    })
                    .collect();
                write_history_month(
                    &hist_path(&self.root, case, year, month),
                    case,
                    year,
                    month,
                    &self.grid,
                    &hist,
                    &self.source,
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_hold_the_values_given_and_skipped_months_are_missing() {
        let dir = tempfile::tempdir().unwrap();
        let a = Archive::new(dir.path(), tiny_grid())
            .var("GPP", "gC/m^2/s", "gross primary production")
            .soil_var("SOILLIQ", "kg/m2", "soil liquid water", 2)
            .skip(2, 3);
        a.write_case("c", (1, 2), |v, m| match v {
            "GPP" => vec![m.index as f64; 6],
            _ => (0..12).map(|k| (k / 6) as f64 + 10.0).collect(),
        })
        .unwrap();
        let case = crate::archive::find_case(dir.path(), "c").unwrap();
        assert_eq!(case.files.len(), 23);
        assert!(!case.is_complete((1, 2)) && case.is_complete((1, 1)));
        // month 4 of year 2 is index 15 (skipped months count)
        let p = hist_path(dir.path(), "c", 2, 4);
        let f = crate::nc::open(&p).unwrap();
        let g = crate::nc::read_f64(&f, &p, "GPP").unwrap();
        assert_eq!(g, [15.0; 6]);
        let s = crate::nc::read_f64(&f, &p, "SOILLIQ").unwrap();
        assert_eq!((s[0], s[6]), (10.0, 11.0));
        let e = Archive::new(dir.path(), tiny_grid())
            .write_case("d", (1, 1), |_, _| vec![])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no variable declared"), "{e}");
    }
}
