//! Small CLM-shaped history archives made by hand, for tests, documentation examples and
//! benchmarks: one builder that declares the variables once and writes each case's monthly
//! `h0` files in CLM's exact layout ([`crate::archive::write_history`]), with the values a
//! closure gives for each variable and month. [`Archive::yearly`] writes one 12-month file
//! per year instead (`hist_mfilt = 12`), [`Archive::one_file`] one file of every month of
//! the case (`hist_mfilt` at least the months run, as NCAR's CLM5 PPE with 120) and
//! [`Archive::sparse`] the land cells only, along `lndgrid` (CLM's 1-D output): the same
//! numbers in the other layouts CLM users have.
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

use crate::archive::{hist_dir, hist_path, write_history, HistVar};
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
    yearly: bool,
    one_file: bool,
    sparse: bool,
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
            yearly: false,
            one_file: false,
            sparse: false,
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

    /// Writes one file per year holding its 12 monthly samples (`CASE.clm2.h0.YYYY-01.nc`,
    /// as CLM with `hist_mfilt = 12`) instead of one file per month.
    pub fn yearly(mut self) -> Archive {
        self.yearly = true;
        self
    }

    /// Writes every month of a case into one file named by its first year
    /// (`CASE.clm2.h0.YYYY-01.nc`), as CLM does when `hist_mfilt` is at least the months run
    /// (NCAR's CLM5 PPE production runs: `hist_mfilt = 120`, ten years of monthly samples per
    /// `h0` file).
    pub fn one_file(mut self) -> Archive {
        self.one_file = true;
        self
    }

    /// Writes only the land cells (`landfrac > 0`), along a 1-D `lndgrid` dimension with
    /// `lat`/`lon`/`area`/`landfrac`/`landmask` per cell, as CLM's 1-D output; the closure
    /// still gives values for every cell of the grid.
    pub fn sparse(mut self) -> Archive {
        self.sparse = true;
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
        let land: Vec<bool> = self.grid.landfrac.iter().map(|&f| f > 0.0).collect();
        let grid = if self.sparse {
            self.grid.subset(&land, "lndgrid")?
        } else {
            self.grid.clone()
        };
        let mut months = Vec::new();
        for year in years.0..=years.1 {
            for month in 1..=12u32 {
                let m = Month {
                    year,
                    month,
                    index: months.len(),
                };
                months.push(m);
            }
        }
        let months: Vec<Month> = months
            .into_iter()
            .filter(|m| !self.skip.contains(&(m.year, m.month)))
            .collect();
        let files: Vec<Vec<Month>> = if self.one_file {
            vec![months]
        } else if self.yearly {
            (years.0..=years.1)
                .map(|y| months.iter().copied().filter(|m| m.year == y).collect())
                .filter(|f: &Vec<Month>| !f.is_empty())
                .collect()
        } else {
            months.iter().map(|&m| vec![m]).collect()
        };
        for file in &files {
            let data: Vec<Vec<f64>> = self
                .vars
                .iter()
                .map(|v| {
                    let mut all = Vec::new();
                    for &m in file {
                        let x = values(&v.name, m);
                        if self.sparse {
                            let per_level = land.len();
                            if !x.len().is_multiple_of(per_level) {
                                bail!(
                                    "archive fixture {case}: {} has {} values, not a multiple of the grid's {per_level} cells",
                                    v.name,
                                    x.len()
                                );
                            }
                            all.extend(
                                x.chunks(per_level)
                                    .flat_map(|l| l.iter().zip(&land).filter(|(_, &k)| k).map(|(&v, _)| v)),
                            );
                        } else {
                            all.extend(x);
                        }
                    }
                    Ok(all)
                })
                .collect::<Result<_>>()?;
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
            let first = file[0];
            let path = if self.yearly || self.one_file {
                hist_dir(&self.root, case).join(format!("{case}.clm2.h0.{:04}-01.nc", first.year))
            } else {
                hist_path(&self.root, case, first.year, first.month)
            };
            let stamps: Vec<(i64, u32)> = file.iter().map(|m| (m.year, m.month)).collect();
            write_history(&path, case, &stamps, &grid, &hist, &self.source)?;
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

    #[test]
    fn yearly_and_sparse_layouts_read_back_as_the_monthly_one() {
        use crate::field::read::{read_case, Output};
        let dir = tempfile::tempdir().unwrap();
        let values = |_: &str, m: Month| -> Vec<f64> {
            tiny_grid()
                .landfrac
                .iter()
                .enumerate()
                .map(|(k, &f)| {
                    if f > 0.0 {
                        k as f64 + 0.5 * m.index as f64
                    } else {
                        f64::NAN
                    }
                })
                .collect()
        };
        let base = Archive::new(dir.path(), tiny_grid()).var("GPP", "gC/m^2/s", "gpp");
        base.clone().write_case("m", (1, 2), values).unwrap();
        base.clone()
            .yearly()
            .write_case("y", (1, 2), values)
            .unwrap();
        base.clone()
            .sparse()
            .yearly()
            .write_case("s", (1, 2), values)
            .unwrap();
        base.one_file().write_case("o", (1, 2), values).unwrap();
        let y = crate::archive::find_case(dir.path(), "y").unwrap();
        assert_eq!(y.files.len(), 2, "one file per year");
        let o = crate::archive::find_case(dir.path(), "o").unwrap();
        assert_eq!(o.files.len(), 1, "one file of 24 months");
        assert_eq!(o.files[0].months.len(), 24);
        assert!(o.files[0].path.ends_with("o.clm2.h0.0001-01.nc"));
        let out = [Output::new("GPP", "GPP").unwrap()];
        let read = |c: &str| {
            let case = crate::archive::find_case(dir.path(), c).unwrap();
            read_case(&case, &out, (1, 2), false).unwrap().remove(0)
        };
        let (m, y, s, o) = (read("m"), read("y"), read("s"), read("o"));
        assert_eq!(m.values.shape(), [24, 2, 3]);
        let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
        for other in [&y, &o] {
            assert_eq!(m.values.shape(), other.values.shape());
            assert!(m
                .values
                .iter()
                .zip(&other.values)
                .all(|(&a, &b)| same(a, b)));
        }
        // month index 15 of cell 4 (land): 4 + 0.5 * 15, by the values' formula
        assert_eq!(o.values[[15, 1, 1]], 11.5);
        // 5 land cells on lndgrid, in row-major order of the land cells: month 15 (index 15)
        // of cell k holds k + 7.5 (cell 2 is ocean)
        assert_eq!(s.values.shape(), [24, 5]);
        let got: Vec<f64> = s
            .values
            .index_axis(ndarray::Axis(0), 15)
            .iter()
            .copied()
            .collect();
        assert_eq!(got, [7.5, 8.5, 10.5, 11.5, 12.5]);
    }
}
