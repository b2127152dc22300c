//! Fields: values on the land grid with their dimensions, grid, units and long name, read
//! from CLM history files; time means, climatologies, land area-weighted global and regional
//! means, arithmetic and unit conversion. Missing values are NaN and never enter a sum or
//! mean.

pub mod cache;
pub mod dims;
pub mod expr;
pub mod obs;
pub mod processed;
pub mod read;
pub mod units;
pub mod write;

use anyhow::{bail, Result};
use ndarray::{ArrayD, Axis, IxDyn};
use std::sync::Arc;

/// The grid (in [`crate::grids`], below fields and archives, which both name it).
pub use crate::grids::{grid, Grid, EARTH_RADIUS_KM};

/// A latitude-longitude box. Longitudes may be given as western negatives (-70..-50) on a
/// 0..360 grid; a box may cross the date line or the prime meridian.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// Name used in tables.
    pub name: String,
    /// Southern edge (degrees north).
    pub lat_min: f64,
    /// Northern edge.
    pub lat_max: f64,
    /// Western edge (degrees east, -180..360).
    pub lon_min: f64,
    /// Eastern edge.
    pub lon_max: f64,
}

impl Region {
    /// Whether a cell centre lies in the box (edges included).
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        if lat < self.lat_min || lat > self.lat_max {
            return false;
        }
        let span = (self.lon_max - self.lon_min).rem_euclid(360.0);
        let span = if span == 0.0 && self.lon_max != self.lon_min {
            360.0
        } else {
            span
        };
        (lon - self.lon_min).rem_euclid(360.0) <= span
    }

    /// The regions of Dagon et al. (2020), Table 2.
    pub fn table2() -> Vec<Region> {
        let r = |name: &str, lat_min, lat_max, lon_min, lon_max| Region {
            name: name.into(),
            lat_min,
            lat_max,
            lon_min,
            lon_max,
        };
        vec![
            r("Amazon", -10.0, 0.0, -70.0, -50.0),
            r("Sahel", 5.0, 15.0, 0.0, 20.0),
            r("Eastern US", 35.0, 45.0, -100.0, -80.0),
            r("Siberia", 60.0, 70.0, 90.0, 110.0),
        ]
    }

    /// A Table 2 region by name (case-insensitive; "global" is the whole globe).
    pub fn named(name: &str) -> Result<Region> {
        if name.eq_ignore_ascii_case("global") {
            return Ok(Region {
                name: "Global".into(),
                lat_min: -90.0,
                lat_max: 90.0,
                lon_min: 0.0,
                lon_max: 360.0,
            });
        }
        let all = Region::table2();
        match all.iter().find(|r| {
            r.name.eq_ignore_ascii_case(name) || r.name.replace(' ', "_").eq_ignore_ascii_case(name)
        }) {
            Some(r) => Ok(r.clone()),
            None => {
                let names: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
                bail!(
                    "no built-in region '{name}': there are Global, {}",
                    names.join(", "),
                    name = crate::format::printable(name)
                )
            }
        }
    }
}

/// Values on the land grid with their metadata. Dimensions are named; the last two are always
/// `lat` and `lon`, before them any of `member`, `time` (or `month` for a climatology) and a
/// level dimension such as `levsoi`.
#[derive(Debug, Clone)]
pub struct Field {
    /// Variable name or expression.
    pub name: String,
    /// Units (CF/CLM text).
    pub units: String,
    /// Long name.
    pub long_name: String,
    /// Dimension names, one per axis of `values`.
    pub dims: Vec<String>,
    /// The values; NaN is missing.
    pub values: ArrayD<f64>,
    /// The grid.
    pub grid: Arc<Grid>,
    /// (year, month) of each step of the `time` dimension.
    pub months: Vec<(i64, u32)>,
    /// Labels of the `member` dimension (case names), or of the `parameter` dimension
    /// (parameter names, e.g. parameter-effect maps).
    pub members: Vec<String>,
}

/// The dimensions labelled by [`Field::members`].
pub const LABEL_DIMS: [&str; 2] = ["member", "parameter"];

/// The mean of the defined values (NaN if none).
fn nanmean_lane(v: ndarray::ArrayView1<f64>) -> f64 {
    let (n, s) = v
        .iter()
        .filter(|x| !x.is_nan())
        .fold((0usize, 0.0), |(n, s), &x| (n + 1, s + x));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

impl Field {
    /// The axis of a named dimension.
    pub fn axis(&self, dim: &str) -> Result<usize> {
        self.dims.iter().position(|d| d == dim).ok_or_else(|| {
            anyhow::anyhow!(
                "field {} has no dimension {dim} (it has {})",
                self.name,
                self.dims.join(", ")
            )
        })
    }

    fn with_values(&self, values: ArrayD<f64>, dims: Vec<String>) -> Field {
        let keep_months = dims
            .iter()
            .any(|d| d == "time" || d == "month" || d == "year");
        let keep_members = dims.iter().any(|d| LABEL_DIMS.contains(&d.as_str()));
        Field {
            name: self.name.clone(),
            units: self.units.clone(),
            long_name: self.long_name.clone(),
            dims,
            values,
            grid: self.grid.clone(),
            months: if keep_months {
                self.months.clone()
            } else {
                Vec::new()
            },
            members: if keep_members {
                self.members.clone()
            } else {
                Vec::new()
            },
        }
    }

    fn without(&self, axis: usize) -> Vec<String> {
        let mut d = self.dims.clone();
        d.remove(axis);
        d
    }

    /// Mean over `time` of the months where each value is defined: the mean of monthly
    /// means, the authors' convention.
    pub fn time_mean(&self) -> Result<Field> {
        let ax = self.axis("time")?;
        let v = self.values.map_axis(Axis(ax), nanmean_lane);
        Ok(self.with_values(v, self.without(ax)))
    }

    /// Mean over `time` weighted by the days in each month of the noleap calendar, over the
    /// months where each value is defined.
    pub fn time_mean_weighted(&self) -> Result<Field> {
        let ax = self.axis("time")?;
        let w: Vec<f64> = self
            .months
            .iter()
            .map(|&(_, m)| crate::calendar::DAYS_IN_MONTH[(m - 1) as usize] as f64)
            .collect();
        if w.len() != self.values.shape()[ax] {
            bail!(
                "field {}: {} months recorded for a time axis of {}",
                self.name,
                w.len(),
                self.values.shape()[ax]
            );
        }
        let v = self.values.map_axis(Axis(ax), |lane| {
            let (sw, s) = lane
                .iter()
                .zip(&w)
                .filter(|(x, _)| !x.is_nan())
                .fold((0.0, 0.0), |(sw, s), (&x, &wi)| (sw + wi, s + wi * x));
            if sw == 0.0 {
                f64::NAN
            } else {
                s / sw
            }
        });
        Ok(self.with_values(v, self.without(ax)))
    }

    /// The time steps of the years `first..=last` (an error if there is none).
    pub fn select_years(&self, first: i64, last: i64) -> Result<Field> {
        let ax = self.axis("time")?;
        let idx: Vec<usize> = (0..self.months.len())
            .filter(|&k| (first..=last).contains(&self.months[k].0))
            .collect();
        if idx.is_empty() {
            let have = match (self.months.first(), self.months.last()) {
                (Some(a), Some(b)) => format!("{}-{}", a.0, b.0),
                _ => "none".into(),
            };
            bail!(
                "field {}: no month of the years {first}-{last} (it has {have})",
                self.name
            );
        }
        let mut f = self.with_values(self.values.select(Axis(ax), &idx), self.dims.clone());
        f.months = idx.iter().map(|&k| self.months[k]).collect();
        Ok(f)
    }

    /// The mean of each year's months (the mean of monthly means, over the months where a
    /// value is defined): `time` becomes `year`; `months` holds (year, 0) per step.
    pub fn annual_means(&self) -> Result<Field> {
        let ax = self.axis("time")?;
        let mut years: Vec<i64> = self.months.iter().map(|m| m.0).collect();
        years.dedup();
        let mut parts = Vec::new();
        for &y in &years {
            let idx: Vec<usize> = (0..self.months.len())
                .filter(|&k| self.months[k].0 == y)
                .collect();
            parts.push(
                self.values
                    .select(Axis(ax), &idx)
                    .map_axis(Axis(ax), nanmean_lane),
            );
        }
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        let v = ndarray::stack(Axis(ax), &views)?;
        let mut dims = self.dims.clone();
        dims[ax] = "year".into();
        let mut f = self.with_values(v, dims);
        f.months = years.iter().map(|&y| (y, 0)).collect();
        Ok(f)
    }

    /// The mean of each calendar month over the years: `time` becomes `month` (1..12, only the
    /// months present).
    pub fn climatology(&self) -> Result<Field> {
        let ax = self.axis("time")?;
        let present: Vec<u32> = (1..=12)
            .filter(|m| self.months.iter().any(|&(_, mm)| mm == *m))
            .collect();
        let mut parts = Vec::new();
        for &m in &present {
            let idx: Vec<usize> = self
                .months
                .iter()
                .enumerate()
                .filter(|(_, &(_, mm))| mm == m)
                .map(|(i, _)| i)
                .collect();
            let sub = self.values.select(Axis(ax), &idx);
            parts.push(sub.map_axis(Axis(ax), nanmean_lane));
        }
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        let v = ndarray::stack(Axis(ax), &views)?;
        let mut dims = self.dims.clone();
        dims[ax] = "month".into();
        let mut f = self.with_values(v, dims);
        // a climatology's months carry year 0
        f.months = present.iter().map(|&m| (0, m)).collect();
        Ok(f)
    }

    /// Sum over a dimension (e.g. `levsoi`) of the defined values; NaN where none is defined.
    pub fn sum_over(&self, dim: &str) -> Result<Field> {
        let ax = self.axis(dim)?;
        let v = self.values.map_axis(Axis(ax), |lane| {
            let (n, s) = lane
                .iter()
                .filter(|x| !x.is_nan())
                .fold((0usize, 0.0), |(n, s), &x| (n + 1, s + x));
            if n == 0 {
                f64::NAN
            } else {
                s
            }
        });
        Ok(self.with_values(v, self.without(ax)))
    }

    /// The values as rows of cells: (the shape of the leading dimensions, a view of shape
    /// (their product, cells)). An error unless the trailing dimensions are the grid's.
    pub fn cell_rows(&self) -> Result<(Vec<usize>, ndarray::ArrayView2<'_, f64>)> {
        let gd = self.grid.dims();
        let nd = self.values.ndim();
        let ng = gd.len();
        if nd < ng
            || self.dims[nd - ng..] != gd[..]
            || self.values.shape()[nd - ng..] != self.grid.spatial_shape()[..]
        {
            bail!(
                "field {} is not on its grid: its dimensions are ({}), the grid's ({})",
                self.name,
                self.dims.join(", "),
                gd.join(", ")
            );
        }
        let outer: Vec<usize> = self.values.shape()[..nd - ng].to_vec();
        let n_outer: usize = outer.iter().product();
        let v = self
            .values
            .view()
            .into_shape_with_order((n_outer, self.grid.ncell()))
            .map_err(|e| anyhow::anyhow!("field {}: {e}", self.name))?;
        Ok((outer, v))
    }

    /// Land area-weighted mean over the cells of `region` (all cells if `None`) where the
    /// value is defined, with weights `area * landfrac`. Removes the grid's dimensions.
    pub fn area_mean(&self, region: Option<&Region>) -> Result<ArrayD<f64>> {
        let (outer, flat) = self.cell_rows()?;
        let mut wf = self.grid.weights();
        if let Some(r) = region {
            for (k, w) in wf.iter_mut().enumerate() {
                let (lat, lon) = self.grid.cell_center(k);
                if !r.contains(lat, lon) {
                    *w = 0.0;
                }
            }
            if wf.iter().all(|&x| x == 0.0) {
                bail!("region {} holds no land cell of the grid", r.name);
            }
        }
        let out: Vec<f64> = flat
            .outer_iter()
            .map(|row| {
                let (sw, s) = row
                    .iter()
                    .zip(wf.iter())
                    .filter(|(x, &wi)| !x.is_nan() && wi > 0.0)
                    .fold((0.0, 0.0), |(sw, s), (&x, &wi)| (sw + wi, s + wi * x));
                if sw == 0.0 {
                    f64::NAN
                } else {
                    s / sw
                }
            })
            .collect();
        Ok(ArrayD::from_shape_vec(IxDyn(&outer), out)?)
    }

    /// The field in other units (see [`units::factor`]); incompatible units are an error
    /// naming both.
    pub fn convert(&self, to: &str) -> Result<Field> {
        let (scale, offset) = units::conversion(&self.units, to)
            .map_err(|e| anyhow::anyhow!("field {}: {e}", self.name))?;
        let mut f = self.clone();
        f.values.mapv_inplace(|x| x * scale + offset);
        f.units = to.to_string();
        Ok(f)
    }

    /// Element-wise `self OP other` for fields on the same grid, broadcast by dimension name
    /// as xarray does (a (lat, lon) map with a (member, lat, lon) ensemble; see
    /// [`Field::broadcast_with`]). `+` and `-`
    /// need the same units (after conversion of `other`); `/` of like units is unitless
    /// ("1"); division by zero gives a missing value, never infinity.
    pub fn combine(&self, other: &Field, op: char) -> Result<Field> {
        if let Some(d) = self.grid.coord_difference(&other.grid) {
            bail!(
                "fields {} and {} are on different grids ({d})",
                self.name,
                other.name
            );
        }
        let (other, units) = match op {
            '+' | '-' => (
                other.convert(&self.units).map_err(|_| {
                    anyhow::anyhow!(
                        "cannot {} {} [{}] and {} [{}]: incompatible units",
                        if op == '+' { "add" } else { "subtract" },
                        self.name,
                        self.units,
                        other.name,
                        other.units
                    )
                })?,
                self.units.clone(),
            ),
            '*' => (other.clone(), units::product(&self.units, &other.units)),
            '/' => (other.clone(), units::quotient(&self.units, &other.units)),
            _ => bail!("unknown operator {op}"),
        };
        let (dims, mut v, b) = self.broadcast_with(&other)?;
        ndarray::Zip::from(&mut v)
            .and(&b)
            .for_each(|a, &b| *a = apply(*a, b, op));
        let mut f = self.with_values(v, dims);
        if f.members.is_empty() && f.dims.iter().any(|d| LABEL_DIMS.contains(&d.as_str())) {
            f.members = other.members.clone();
        }
        if f.months.is_empty()
            && f.dims
                .iter()
                .any(|d| d == "time" || d == "month" || d == "year")
        {
            f.months = other.months.clone();
        }
        f.name = format!("{} {op} {}", self.name, other.name);
        f.long_name = f.name.clone();
        f.units = units;
        Ok(f)
    }

    /// Element-wise `self OP x` (or `x OP self` when `scalar_first`) with a number; units are
    /// kept for `*` and `/`.
    pub fn combine_scalar(&self, x: f64, op: char, scalar_first: bool) -> Result<Field> {
        if !matches!(op, '+' | '-' | '*' | '/') {
            bail!("unknown operator {op}");
        }
        let mut f = self.clone();
        f.values.mapv_inplace(|a| {
            if scalar_first {
                apply(x, a, op)
            } else {
                apply(a, x, op)
            }
        });
        f.name = if scalar_first {
            format!("{x} {op} {}", self.name)
        } else {
            format!("{} {op} {x}", self.name)
        };
        if scalar_first && op == '/' {
            f.units = units::quotient("1", &self.units);
        }
        Ok(f)
    }
}

/// One arithmetic operation with missing values: NaN in, NaN out; x / 0 is missing.
pub fn apply(a: f64, b: f64, op: char) -> f64 {
    match op {
        '+' => a + b,
        '-' => a - b,
        '*' => a * b,
        '/' if b == 0.0 => f64::NAN,
        '/' => a / b,
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annual_means_and_year_selection_by_hand() {
        // one cell, 2000-01 .. 2001-12, value = month index t; a missing value in 2001-03
        let mut v: Vec<f64> = (0..24).map(|t| t as f64).collect();
        v[14] = f64::NAN;
        let f = Field {
            name: "x".into(),
            units: "1".into(),
            long_name: "x".into(),
            dims: vec!["time".into(), "lat".into(), "lon".into()],
            values: ArrayD::from_shape_vec(IxDyn(&[24, 1, 1]), v).unwrap(),
            grid: Arc::new(Grid::point()),
            months: (0..24)
                .map(|t| (2000 + t / 12, (t % 12) as u32 + 1))
                .collect(),
            members: vec![],
        };
        let a = f.annual_means().unwrap();
        assert_eq!(a.dims, vec!["year", "lat", "lon"]);
        assert_eq!(a.months, vec![(2000, 0), (2001, 0)]);
        // 2000: mean of 0..11 = 5.5; 2001: mean of 12..23 without 14 = (210 - 14) / 11
        assert_eq!(a.values[[0, 0, 0]], 5.5);
        assert!((a.values[[1, 0, 0]] - 196.0 / 11.0).abs() < 1e-12);
        let s = f.select_years(2001, 2001).unwrap();
        assert_eq!(s.values.shape(), &[12, 1, 1]);
        assert_eq!(s.months[0], (2001, 1));
        assert!(f
            .select_years(1990, 1991)
            .unwrap_err()
            .to_string()
            .contains("2000-2001"));
    }

    #[test]
    fn regions_accept_western_negatives_on_a_0_360_grid() {
        let amazon = Region::named("amazon").unwrap();
        assert!(amazon.contains(-6.0, 300.0)); // 60W
        assert!(amazon.contains(-6.0, -60.0));
        assert!(!amazon.contains(-6.0, 60.0));
        assert!(!amazon.contains(2.0, 300.0));
        let sahel = Region::named("Sahel").unwrap();
        assert!(
            sahel.contains(10.0, 0.0) && sahel.contains(10.0, 20.0) && !sahel.contains(10.0, 355.0)
        );
        let dateline = Region {
            name: "x".into(),
            lat_min: -10.0,
            lat_max: 10.0,
            lon_min: 170.0,
            lon_max: -170.0,
        };
        assert!(
            dateline.contains(0.0, 180.0)
                && dateline.contains(0.0, 185.0)
                && !dateline.contains(0.0, 160.0)
        );
        assert!(Region::named("Global").unwrap().contains(-90.0, 355.0));
        assert!(Region::named("Atlantis")
            .unwrap_err()
            .to_string()
            .contains("Amazon, Sahel, Eastern US, Siberia"));
    }
}
