//! Observations as products come, read month by month for the selected years and put onto
//! the model grid:
//!
//! - **Layout**: a CF gridded file (netCDF-4/HDF5 or classic), a variable (time, lat, lon);
//!   latitudes ascending or descending, longitudes 0..360 or -180..180.
//! - **Time**: a CF time coordinate (`days`/`hours`/... `since`, also `months since`, in the
//!   standard, noleap and other calendars; its `bounds` when given), or a time dimension of
//!   any name (`month`, `time`) without a usable coordinate when the caller names the first
//!   month ([`ReadOptions::first_month`], the config's `[observations] first_month`). One
//!   step per month.
//! - **Missing values**: NaN, `_FillValue`, `missing_value`, values outside `valid_min`,
//!   `valid_max` or `valid_range`; and, only for a variable that declares neither
//!   `_FillValue` nor `missing_value`, the value -9999 exactly (FLUXNET's convention) and
//!   netCDF's default fill value of its type. A variable that declares a fill value is
//!   trusted: a -9999 in it is then data. Packed values (`scale_factor`, `add_offset`) are
//!   unpacked after the missing values are found, as CF says.
//! - **Units**: the variable's `units` attribute, or the caller's ([`ReadOptions::units`]);
//!   conversion to the model's units is [`Field::convert`]'s.
//! - **Regridding** ([`Regrid`]): bilinear as NCL's linint2 (the authors' choice, the
//!   default): periodic in longitude, a target cell is missing if a source neighbour with a
//!   non-zero weight is missing or it lies outside the source latitudes, so that an
//!   identical grid is the identity. Or first-order conservative ([`Conservative`]): each
//!   target cell the area-weighted mean of the source cells it overlaps.

use super::{Field, Grid};
use crate::nc;
use anyhow::{anyhow, bail, Context, Result};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// How observations are put onto the model grid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Regrid {
    /// Bilinear interpolation to each model cell's centre ([`Bilinear`]; the authors'
    /// choice and the default). Works on lat/lon and 1-D model grids.
    #[default]
    Bilinear,
    /// First-order conservative, area-weighted averaging over each model cell
    /// ([`Conservative`]), for model cells larger than the observation's (0.5 degree onto
    /// 4x5 or 1 degree). Needs a lat/lon model grid: a 1-D grid's cells have centres only.
    Conservative,
}

impl Regrid {
    /// A method by name: `bilinear` or `conservative` (any case).
    pub fn parse(s: &str) -> Result<Regrid> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bilinear" => Ok(Regrid::Bilinear),
            "conservative" => Ok(Regrid::Conservative),
            _ => bail!(
                "regrid = '{s}': use \"bilinear\" or \"conservative\"",
                s = crate::format::printable(s)
            ),
        }
    }

    /// The method's name as a config writes it.
    pub fn name(self) -> &'static str {
        match self {
            Regrid::Bilinear => "bilinear",
            Regrid::Conservative => "conservative",
        }
    }

    fn is_bilinear(&self) -> bool {
        *self == Regrid::Bilinear
    }
}

/// How [`read_obs_with`] reads an observation variable; the default is what [`read_obs`]
/// does (the file's time coordinate and units, bilinear regridding).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadOptions {
    /// (year, month) of the first step of the time dimension, for files whose time
    /// dimension has no coordinate variable (the authors' `MR_GPP_4x5_2000_2004.nc`: a
    /// `month` dimension of 60 steps) or one without usable units; the steps are then
    /// consecutive months. With a usable time coordinate it must agree with its first step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_month: Option<(i64, u32)>,
    /// Bilinear (default) or conservative regridding.
    #[serde(default, skip_serializing_if = "Regrid::is_bilinear")]
    pub regrid: Regrid,
    /// The units of the observed variable, in place of its `units` attribute (for a file
    /// without one, or whose spelling does not say what is measured: CMIP's `kg m-2 s-1`
    /// for carbon is `kgC m-2 s-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<String>,
}

impl ReadOptions {
    /// Whether these are the default options.
    pub fn is_default(&self) -> bool {
        *self == ReadOptions::default()
    }
}

/// A month written `YYYY-MM` (or `YYYY-MM-DD`, the day ignored), e.g. `"2000-01"`, as
/// (year, month).
pub fn parse_month(s: &str) -> Result<(i64, u32)> {
    let bad = || {
        anyhow!(
            "'{s}' is not a month: write it as YYYY-MM, e.g. \"2000-01\"",
            s = crate::format::printable(s)
        )
    };
    let parts: Vec<&str> = s.trim().split('-').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    let y: i64 = parts[0].parse().map_err(|_| bad())?;
    let m: u32 = parts[1].parse().map_err(|_| bad())?;
    if !(0..=9999).contains(&y) || !(1..=12).contains(&m) {
        return Err(bad());
    }
    if let Some(d) = parts.get(2) {
        let d: u32 = d.parse().map_err(|_| bad())?;
        if !(1..=31).contains(&d) {
            return Err(bad());
        }
    }
    Ok((y, m))
}

/// `YYYY-MM`.
fn month_text((y, m): (i64, u32)) -> String {
    format!("{y:04}-{m:02}")
}

/// The month `k` months after (y, m).
fn add_months((y, m): (i64, u32), k: i64) -> (i64, u32) {
    let n = y * 12 + (m as i64 - 1) + k;
    (n.div_euclid(12), n.rem_euclid(12) as u32 + 1)
}
/// The source coordinates of an observation variable, in file order.
#[derive(Debug, Clone)]
pub struct ObsGrid {
    /// Latitudes as in the file.
    pub lat: Vec<f64>,
    /// Longitudes as in the file.
    pub lon: Vec<f64>,
}

/// Bilinear weights from a source grid to each target cell: four source (lat, lon) indices
/// and weights, or `None` where the target lies outside the source latitudes.
#[derive(Debug, Clone)]
pub struct Bilinear {
    src_shape: (usize, usize),
    cells: Vec<Option<[(usize, usize, f64); 4]>>,
}

/// Position of `x` between the two entries of ascending `v` that bracket it: (index below,
/// fraction to the next), or `None` outside.
fn bracket(v: &[f64], x: f64) -> Option<(usize, f64)> {
    if v.len() < 2 || x < v[0] || x > v[v.len() - 1] {
        return None;
    }
    let i = v
        .partition_point(|&a| a <= x)
        .saturating_sub(1)
        .min(v.len() - 2);
    let span = v[i + 1] - v[i];
    Some((i, if span > 0.0 { (x - v[i]) / span } else { 0.0 }))
}

impl Bilinear {
    /// Weights from `src` (any lat order, any lon convention) to target points (lat, lon):
    /// the cell centres of a model grid ([`Grid::cell_centers`]), on a lat/lon or a 1-D grid.
    pub fn new(src: &ObsGrid, targets: &[(f64, f64)]) -> Result<Bilinear> {
        let (ny, nx) = (src.lat.len(), src.lon.len());
        if ny < 2 || nx < 2 {
            bail!("the source grid needs at least 2 latitudes and 2 longitudes ({ny} x {nx})");
        }
        // latitudes ascending, remembering file positions
        let mut lat_order: Vec<usize> = (0..ny).collect();
        lat_order.sort_by(|&a, &b| src.lat[a].total_cmp(&src.lat[b]));
        let lat_sorted: Vec<f64> = lat_order.iter().map(|&i| src.lat[i]).collect();
        // longitudes in [0, 360) ascending, remembering file positions
        let mut lon_order: Vec<usize> = (0..nx).collect();
        let norm = |x: f64| x.rem_euclid(360.0);
        lon_order.sort_by(|&a, &b| norm(src.lon[a]).total_cmp(&norm(src.lon[b])));
        let lon_sorted: Vec<f64> = lon_order.iter().map(|&j| norm(src.lon[j])).collect();
        let mut cells = Vec::with_capacity(targets.len());
        for &(tl, tn) in targets {
            {
                let Some((i, fy)) = bracket(&lat_sorted, tl) else {
                    cells.push(None);
                    continue;
                };
                let x = norm(tn);
                // periodic: between the last and first longitude the segment wraps
                let (j0, j1, fx) = match bracket(&lon_sorted, x) {
                    Some((j, f)) => (j, j + 1, f),
                    None => {
                        let last = lon_sorted[nx - 1];
                        let span = lon_sorted[0] + 360.0 - last;
                        let d = if x >= last {
                            x - last
                        } else {
                            x + 360.0 - last
                        };
                        (nx - 1, 0, if span > 0.0 { d / span } else { 0.0 })
                    }
                };
                let (a, b) = (lat_order[i], lat_order[i + 1]);
                let (c, d) = (lon_order[j0], lon_order[j1]);
                cells.push(Some([
                    (a, c, (1.0 - fy) * (1.0 - fx)),
                    (a, d, (1.0 - fy) * fx),
                    (b, c, fy * (1.0 - fx)),
                    (b, d, fy * fx),
                ]));
            }
        }
        Ok(Bilinear {
            src_shape: (ny, nx),
            cells,
        })
    }

    /// Regrids one (lat, lon) source map in file order to the target points; NaN where a
    /// neighbour with a non-zero weight is NaN (a neighbour of weight 0 does not count, so
    /// a target on a source point takes that point's value: regridding onto the same grid
    /// is the identity).
    pub fn apply(&self, src: &Array2<f64>) -> Result<Array1<f64>> {
        if src.dim() != self.src_shape {
            bail!(
                "source map is {:?}, the weights were made for {:?}",
                src.dim(),
                self.src_shape
            );
        }
        let v: Vec<f64> = self
            .cells
            .iter()
            .map(|c| match c {
                None => f64::NAN,
                Some(n) => n
                    .iter()
                    .filter(|&&(_, _, w)| w != 0.0)
                    .map(|&(i, j, w)| src[[i, j]] * w)
                    .sum::<f64>(),
            })
            .collect();
        Ok(Array1::from(v))
    }
}

/// The edges of the cells of a lat/lon grid, in file order (degrees): (south, north) of
/// each latitude row, clipped to the poles, and (west, east) of each longitude column, with
/// `0 < east - west <= 360` (east may pass 360, west may be negative).
#[derive(Debug, Clone, PartialEq)]
pub struct CellEdges {
    /// (south, north) per latitude.
    pub lat: Vec<(f64, f64)>,
    /// (west, east) per longitude.
    pub lon: Vec<(f64, f64)>,
}

impl CellEdges {
    /// Edges halfway between neighbouring centres: the first and last latitude rows reach
    /// half a spacing beyond their centres, clipped to the poles (so a grid whose rows sit
    /// on the poles, like CIME's f45, has half cells there); longitudes are periodic on a
    /// global grid, and on a regional one (where one gap between neighbouring longitudes is
    /// more than 1.5 times the smallest) the outer columns reach half a spacing beyond their
    /// centres. Any lat order and lon convention; at least 2 latitudes and 2 longitudes.
    pub fn from_centres(lat: &[f64], lon: &[f64]) -> Result<CellEdges> {
        if lat.len() < 2 || lon.len() < 2 {
            bail!(
                "cell edges from centres need at least 2 latitudes and 2 longitudes ({} x {})",
                lat.len(),
                lon.len()
            );
        }
        if lat.iter().chain(lon).any(|x| !x.is_finite()) {
            bail!("a latitude or longitude is missing (not a finite number)");
        }
        Ok(CellEdges {
            lat: lat_edges(lat),
            lon: lon_edges(lon),
        })
    }

    /// The edges of a lat/lon model grid's cells, as [`CellEdges::from_centres`] makes them
    /// from its axes (the edges of the cell areas of [`Grid::regular`] and
    /// [`Grid::from_axes`]). A 1-D grid has centres only: an error.
    pub fn of_grid(grid: &Grid) -> Result<CellEdges> {
        if let Some(d) = &grid.cell_dim {
            bail!(
                "conservative regridding needs the edges of the model grid's cells, and a 1-D grid along {d} has cell centres only: use regrid = \"bilinear\" (each cell then takes the observations at its centre)"
            );
        }
        CellEdges::from_centres(&grid.lat, &grid.lon)
    }
}

/// Latitude edges halfway between sorted centres, half a spacing beyond the ends, clipped
/// to the poles; in the centres' order.
fn lat_edges(lat: &[f64]) -> Vec<(f64, f64)> {
    let n = lat.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| lat[a].total_cmp(&lat[b]));
    let v: Vec<f64> = order.iter().map(|&i| lat[i]).collect();
    let mut out = vec![(0.0, 0.0); n];
    for (r, &i) in order.iter().enumerate() {
        let lo = if r > 0 {
            (v[r - 1] + v[r]) / 2.0
        } else {
            v[0] - (v[1] - v[0]) / 2.0
        };
        let hi = if r + 1 < n {
            (v[r] + v[r + 1]) / 2.0
        } else {
            v[n - 1] + (v[n - 1] - v[n - 2]) / 2.0
        };
        out[i] = (lo.clamp(-90.0, 90.0), hi.clamp(-90.0, 90.0));
    }
    out
}

/// Longitude edges halfway between circularly sorted centres (see
/// [`CellEdges::from_centres`]); in the centres' order.
fn lon_edges(lon: &[f64]) -> Vec<(f64, f64)> {
    let n = lon.len();
    let norm = |x: f64| x.rem_euclid(360.0);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| norm(lon[a]).total_cmp(&norm(lon[b])));
    let v: Vec<f64> = order.iter().map(|&i| norm(lon[i])).collect();
    // gap[r]: from v[r] to the next centre east (the last one wraps)
    let gap: Vec<f64> = (0..n)
        .map(|r| {
            if r + 1 < n {
                v[r + 1] - v[r]
            } else {
                v[0] + 360.0 - v[n - 1]
            }
        })
        .collect();
    let smallest = gap
        .iter()
        .copied()
        .filter(|&g| g > 0.0)
        .fold(f64::INFINITY, f64::min);
    let (widest, wg) = gap
        .iter()
        .copied()
        .enumerate()
        .fold(
            (0, f64::NEG_INFINITY),
            |a, (r, g)| if g > a.1 { (r, g) } else { a },
        );
    // a regional grid: the widest gap is its outside
    let outside = (wg > 1.5 * smallest).then_some(widest);
    let mut out = vec![(0.0, 0.0); n];
    for (r, &i) in order.iter().enumerate() {
        let prev = (r + n - 1) % n;
        let east = if outside == Some(r) {
            v[r] + gap[prev] / 2.0
        } else {
            v[r] + gap[r] / 2.0
        };
        let west = if outside == Some(prev) {
            v[r] - gap[r] / 2.0
        } else {
            v[r] - gap[prev] / 2.0
        };
        out[i] = (west, east);
    }
    out
}

/// Overlap (degrees) of two longitude intervals on the circle.
fn lon_overlap((a, b): (f64, f64), (c, d): (f64, f64)) -> f64 {
    let (sa, sc) = (360.0 * (a / 360.0).floor(), 360.0 * (c / 360.0).floor());
    let (a, b, c, d) = (a - sa, b - sa, c - sc, d - sc);
    let total: f64 = [-360.0, 0.0, 360.0]
        .iter()
        .map(|k| (b.min(d + k) - a.max(c + k)).max(0.0))
        .sum();
    total.min(b - a).min(d - c)
}

/// First-order conservative regridding weights from a source lat/lon grid to a target
/// lat/lon grid: the overlap areas of every source cell with every target cell (exact for
/// cells bounded by meridians and parallels on a sphere: longitude span times the
/// difference of the sines of the latitudes).
///
/// A target cell's value is `sum(overlap * value) / sum(overlap)` over the source cells
/// with a value; it is missing when those cover less than half of the target cell's overlap
/// with the source grid (all its source cells, valid or not), and where it does not overlap
/// the source grid at all. A constant field stays constant, and when the source covers the
/// globe without missing values the area-weighted integral is conserved.
#[derive(Debug, Clone)]
pub struct Conservative {
    src_shape: (usize, usize),
    /// Per target latitude: (source latitude, overlap in sine of latitude).
    rows: Vec<Vec<(usize, f64)>>,
    /// Per target longitude: (source longitude, overlap in radians).
    cols: Vec<Vec<(usize, f64)>>,
}

impl Conservative {
    /// Weights from the cells of `src` to those of `dst` (both in file order).
    pub fn new(src: &CellEdges, dst: &CellEdges) -> Result<Conservative> {
        for (what, e) in [("source", src), ("target", dst)] {
            let lat_bad = e.lat.iter().any(|&(s, n)| !(s.is_finite() && n >= s));
            let lon_bad = e
                .lon
                .iter()
                .any(|&(w, x)| !(w.is_finite() && x > w && x - w <= 360.0 + 1e-9));
            if lat_bad || lon_bad || e.lat.is_empty() || e.lon.is_empty() {
                bail!("the {what} grid's cell edges are not ordered south < north and west < east (at most 360 degrees wide)");
            }
        }
        let sin = |x: f64| x.clamp(-90.0, 90.0).to_radians().sin();
        let rows = dst
            .lat
            .iter()
            .map(|&(s, n)| {
                src.lat
                    .iter()
                    .enumerate()
                    .filter_map(|(k, &(a, b))| {
                        let ov = sin(n.min(b)) - sin(s.max(a));
                        (ov > 1e-13).then_some((k, ov))
                    })
                    .collect()
            })
            .collect();
        let cols = dst
            .lon
            .iter()
            .map(|&t| {
                src.lon
                    .iter()
                    .enumerate()
                    .filter_map(|(k, &c)| {
                        let ov = lon_overlap(c, t);
                        (ov > 1e-9).then_some((k, ov.to_radians()))
                    })
                    .collect()
            })
            .collect();
        Ok(Conservative {
            src_shape: (src.lat.len(), src.lon.len()),
            rows,
            cols,
        })
    }

    /// Regrids one (lat, lon) source map in file order to the target cells (row-major
    /// (lat, lon) of the target); NaN where the valid source cells cover less than half of
    /// the target cell's overlap with the source grid.
    pub fn apply(&self, src: &Array2<f64>) -> Result<Array1<f64>> {
        if src.dim() != self.src_shape {
            bail!(
                "source map is {:?}, the weights were made for {:?}",
                src.dim(),
                self.src_shape
            );
        }
        let mut out = Vec::with_capacity(self.rows.len() * self.cols.len());
        for row in &self.rows {
            for col in &self.cols {
                let (mut all, mut valid, mut sum) = (0.0, 0.0, 0.0);
                let (mut n, mut last) = (0usize, f64::NAN);
                for &(i, wy) in row {
                    for &(j, wx) in col {
                        let w = wy * wx;
                        all += w;
                        let x = src[[i, j]];
                        if !x.is_nan() {
                            valid += w;
                            sum += w * x;
                            n += 1;
                            last = x;
                        }
                    }
                }
                out.push(if !(all > 0.0 && valid >= 0.5 * all * (1.0 - 1e-12)) {
                    f64::NAN
                } else if n == 1 {
                    // the mean of one value is that value (no rounding: the same grid is
                    // the identity)
                    last
                } else {
                    sum / valid
                });
            }
        }
        Ok(Array1::from(out))
    }
}

/// How raw values of a variable become numbers: its missing values and packing.
#[derive(Debug, Clone)]
struct Decode {
    /// `_FillValue` and `missing_value`.
    declared: Vec<f64>,
    /// -9999 and netCDF's default fill, when nothing is declared.
    undeclared: Vec<f64>,
    valid: (f64, f64),
    scale: f64,
    offset: f64,
}

/// All the numbers of an attribute.
fn attr_numbers(v: &netcdf::Variable, name: &str) -> Vec<f64> {
    use netcdf::AttributeValue as A;
    let Some(Ok(a)) = v.attribute_value(name) else {
        return Vec::new();
    };
    match a {
        A::Doubles(x) => x,
        A::Floats(x) => x.into_iter().map(f64::from).collect(),
        A::Shorts(x) => x.into_iter().map(f64::from).collect(),
        A::Ushorts(x) => x.into_iter().map(f64::from).collect(),
        A::Ints(x) => x.into_iter().map(f64::from).collect(),
        A::Uints(x) => x.into_iter().map(f64::from).collect(),
        A::Schars(x) => x.into_iter().map(f64::from).collect(),
        A::Uchars(x) => x.into_iter().map(f64::from).collect(),
        A::Longlongs(x) => x.into_iter().map(|y| y as f64).collect(),
        A::Ulonglongs(x) => x.into_iter().map(|y| y as f64).collect(),
        other => nc::attr_f64(&other).into_iter().collect(),
    }
}

impl Decode {
    fn of(v: &netcdf::Variable) -> Decode {
        use netcdf::types::{FloatType, IntType, NcVariableType as T};
        let declared = nc::fill_values(v);
        let undeclared = if declared.is_empty() {
            let default_fill = match v.vartype() {
                T::Float(FloatType::F32 | FloatType::F64) => Some(9.969209968386869e36),
                T::Int(IntType::I16) => Some(-32767.0),
                T::Int(IntType::I32) => Some(-2147483647.0),
                T::Int(IntType::U16) => Some(65535.0),
                T::Int(IntType::U32) => Some(4294967295.0),
                _ => None,
            };
            std::iter::once(-9999.0).chain(default_fill).collect()
        } else {
            Vec::new()
        };
        let first = |n: &str| attr_numbers(v, n).first().copied();
        let range = attr_numbers(v, "valid_range");
        let valid = if range.len() == 2 {
            (range[0].min(range[1]), range[0].max(range[1]))
        } else {
            (
                first("valid_min").unwrap_or(f64::NEG_INFINITY),
                first("valid_max").unwrap_or(f64::INFINITY),
            )
        };
        Decode {
            declared,
            undeclared,
            valid,
            scale: first("scale_factor").unwrap_or(1.0),
            offset: first("add_offset").unwrap_or(0.0),
        }
    }

    /// The number a raw value stands for; NaN when it is missing.
    fn value(&self, raw: f64) -> f64 {
        if nc::is_fill(raw, &self.declared)
            || self.undeclared.contains(&raw)
            || raw < self.valid.0
            || raw > self.valid.1
        {
            f64::NAN
        } else {
            raw * self.scale + self.offset
        }
    }
}

fn find_coord(file: &netcdf::File, path: &Path, which: &str) -> Result<String> {
    let (names, units, std): (&[&str], &[&str], &str) = if which == "lat" {
        (
            &["lat", "latitude", "nav_lat", "y"],
            &["degrees_north", "degree_north", "degrees_N", "degree_N"],
            "latitude",
        )
    } else {
        (
            &["lon", "longitude", "nav_lon", "x"],
            &["degrees_east", "degree_east", "degrees_E", "degree_E"],
            "longitude",
        )
    };
    for v in file.variables() {
        let u = nc::attr_string(&v, "units").unwrap_or_default();
        let s = nc::attr_string(&v, "standard_name").unwrap_or_default();
        if v.dimensions().len() == 1 && (units.contains(&u.as_str()) || s == std) {
            return Ok(v.name());
        }
    }
    for n in names {
        if file.variable(n).is_some_and(|v| v.dimensions().len() == 1) {
            return Ok(n.to_string());
        }
    }
    let all: Vec<String> = file.variables().map(|v| v.name()).collect();
    bail!(
        "{}: no recognisable {std} coordinate (a 1-D variable with units {} or standard_name {std}); variables: {}",
        path.display(),
        units[0],
        all.join(", ")
    )
}

/// The cell bounds of coordinate `coord` (length `n`), if the file has them: the variable
/// its `bounds` attribute names, else `{coord}_bnds` or `{coord}_bounds`; (n, 2) numbers.
fn read_bounds(
    file: &netcdf::File,
    path: &Path,
    coord: &str,
    n: usize,
) -> Result<Option<Vec<(f64, f64)>>> {
    let named = file
        .variable(coord)
        .and_then(|v| nc::attr_string(&v, "bounds"));
    let name = match named {
        Some(b) => b,
        None => match [format!("{coord}_bnds"), format!("{coord}_bounds")]
            .into_iter()
            .find(|b| file.variable(b).is_some())
        {
            Some(b) => b,
            None => return Ok(None),
        },
    };
    let v = nc::variable(file, path, &name)?;
    let shape: Vec<usize> = v.dimensions().iter().map(|d| d.len()).collect();
    if shape != [n, 2] {
        bail!(
            "{}: the bounds {name} of {coord} are {:?}, expected ({n}, 2)",
            path.display(),
            shape
        );
    }
    let b = nc::read_f64(file, path, &name)?;
    if b.iter().any(|x| !x.is_finite()) {
        bail!(
            "{}: the bounds {name} of {coord} have missing values",
            path.display()
        );
    }
    Ok(Some(b.chunks(2).map(|c| (c[0], c[1])).collect()))
}

/// The cell edges of the source grid: from `lat_bnds`/`lon_bnds` (or what the coordinates'
/// `bounds` attributes name) when the file has them, else halfway between the centres.
fn source_edges(
    file: &netcdf::File,
    path: &Path,
    (lat_name, lon_name): (&str, &str),
    src: &ObsGrid,
) -> Result<CellEdges> {
    let centres = CellEdges::from_centres(&src.lat, &src.lon)
        .with_context(|| format!("{}: {lat_name} and {lon_name}", path.display()))?;
    let lat = match read_bounds(file, path, lat_name, src.lat.len())? {
        Some(b) => b
            .into_iter()
            .map(|(a, b)| (a.min(b).clamp(-90.0, 90.0), a.max(b).clamp(-90.0, 90.0)))
            .collect(),
        None => centres.lat,
    };
    let lon = match read_bounds(file, path, lon_name, src.lon.len())? {
        Some(b) => b
            .into_iter()
            .map(|(w, e)| if e <= w { (w, e + 360.0) } else { (w, e) })
            .collect(),
        None => centres.lon,
    };
    Ok(CellEdges { lat, lon })
}

/// What to write to name the first month: the config key and the script option.
const FIRST_MONTH_HINT: &str = "set first_month to the month of its first step ([observations] first_month = \"YYYY-MM\" in the config, e.g. \"2000-01\"; #{first_month: \"2000-01\"} in read_obs)";

/// The months of a time coordinate variable: from its bounds when given, else its values;
/// `months since` counts whole calendar months.
fn coordinate_months(
    file: &netcdf::File,
    path: &Path,
    tvar: &netcdf::Variable,
    tname: &str,
) -> Result<Vec<(i64, u32)>> {
    let tunits = nc::attr_string(tvar, "units")
        .ok_or_else(|| anyhow!("the time coordinate {tname} has no units"))?;
    let times = nc::read_f64(file, path, tname)?;
    if let Some(k) = times.iter().position(|t| !t.is_finite()) {
        bail!("the time coordinate {tname} is missing at step {k}");
    }
    let bounds = nc::attr_string(tvar, "bounds")
        .and_then(|b| nc::read_f64(file, path, &b).ok())
        .filter(|b| b.len() == 2 * times.len() && b.iter().all(|x| x.is_finite()));
    let unit = tunits.split_whitespace().next().unwrap_or("");
    if unit.eq_ignore_ascii_case("months") || unit.eq_ignore_ascii_case("month") {
        let (_, date) = tunits.split_once(" since ").ok_or_else(|| {
            anyhow!(
                "time units '{tunits}' are not of the form 'months since YYYY-MM-DD'",
                tunits = crate::format::printable(&tunits)
            )
        })?;
        let since =
            parse_month(date.split_whitespace().next().unwrap_or("")).with_context(|| {
                format!(
                    "time units '{tunits}'",
                    tunits = crate::format::printable(&tunits)
                )
            })?;
        return Ok((0..times.len())
            .map(|k| {
                let t = match &bounds {
                    Some(b) => (b[2 * k] + b[2 * k + 1]) / 2.0,
                    None => times[k],
                };
                add_months(since, (t + 1e-6).floor() as i64)
            })
            .collect());
    }
    let axis =
        crate::calendar::TimeAxis::parse(&tunits, nc::attr_string(tvar, "calendar").as_deref())?;
    Ok((0..times.len())
        .map(|k| match &bounds {
            Some(b) => axis.interval_month(b[2 * k], b[2 * k + 1]),
            None => {
                let (y, m, _) = axis.date(times[k]);
                (y, m)
            }
        })
        .collect())
}

/// The (year, month) of each of the `nt` steps of `var`'s time dimension `tname`: from its
/// coordinate variable when it has a usable one, else consecutive months from
/// `first_month`; without either an error that says which key to set.
fn step_months(
    file: &netcdf::File,
    path: &Path,
    var: &str,
    tname: &str,
    nt: usize,
    first_month: Option<(i64, u32)>,
) -> Result<Vec<(i64, u32)>> {
    let consecutive = |f: (i64, u32)| (0..nt as i64).map(|k| add_months(f, k)).collect();
    let coord = file
        .variable(tname)
        .filter(|v| v.dimensions().len() == 1 && v.dimensions()[0].name() == tname);
    let Some(tvar) = coord else {
        return match first_month {
            Some(f) => Ok(consecutive(f)),
            None => bail!(
                "{}: the time dimension {tname} of {var} ({nt} steps) has no coordinate variable, so the months of its steps are unknown: {FIRST_MONTH_HINT}",
                path.display()
            ),
        };
    };
    match (coordinate_months(file, path, &tvar, tname), first_month) {
        (Ok(m), None) => Ok(m),
        (Ok(m), Some(f)) => match m.first() {
            Some(&first) if first != f => bail!(
                "{}: first_month is {}, but the time coordinate {tname} begins in {}: remove first_month (the file's coordinate is used) or correct it",
                path.display(),
                month_text(f),
                month_text(first)
            ),
            _ => Ok(m),
        },
        // a coordinate without usable units (e.g. month = 1..60): the caller's first month
        (Err(_), Some(f)) => Ok(consecutive(f)),
        (Err(e), None) => bail!(
            "{}: the time coordinate of {var} cannot place its steps in months ({e:#}): {FIRST_MONTH_HINT}",
            path.display()
        ),
    }
}

/// Checks, without reading the values, what [`read_obs_with`] will need of an observation
/// file (for a dry run): it opens as netCDF, has lat and lon coordinates, holds `var` with
/// dimensions (time, lat, lon), its time steps have months, and some fall in each of
/// `years` (named: `("sigma years", (1982, 2008))`).
pub fn check_obs(
    path: &Path,
    var: &str,
    years: &[(&str, (i64, i64))],
    opts: &ReadOptions,
) -> Result<()> {
    let file = nc::open(path)?;
    let months = obs_layout(&file, path, var, opts)?.months;
    for (what, (first, last)) in years {
        if !months.iter().any(|m| m.0 >= *first && m.0 <= *last) {
            let span = match (months.first(), months.last()) {
                (Some(a), Some(b)) => {
                    format!("{:04}-{:02} to {:04}-{:02}", a.0, a.1, b.0, b.1)
                }
                _ => "no time steps".into(),
            };
            bail!(
                "{}: {var} has no month in the {what} {first}-{last} (it holds {span})",
                path.display()
            );
        }
    }
    Ok(())
}

/// An observation variable regridded bilinearly onto a model grid: the months of `years`
/// (all if `None`), dims (time, then the grid's), with the model grid's area and land
/// fraction for means. [`read_obs_with`] with the default [`ReadOptions`].
pub fn read_obs(
    path: &Path,
    var: &str,
    years: Option<(i64, i64)>,
    grid: Arc<Grid>,
) -> Result<Field> {
    read_obs_with(path, var, years, grid, &ReadOptions::default())
}

/// The layout of an observation variable (see [`obs_layout`]).
struct ObsLayout {
    lat: String,
    lon: String,
    time: String,
    months: Vec<(i64, u32)>,
}

/// The layout of an observation variable: its lat and lon coordinate names, its time
/// dimension and the month of each step; an error unless its dimensions are (time, lat, lon).
fn obs_layout(
    file: &netcdf::File,
    path: &Path,
    var: &str,
    opts: &ReadOptions,
) -> Result<ObsLayout> {
    let lat_name = find_coord(file, path, "lat")?;
    let lon_name = find_coord(file, path, "lon")?;
    let v = nc::variable(file, path, var)?;
    let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
    if dims.len() != 3 || dims[1] != lat_name || dims[2] != lon_name {
        bail!(
            "{}: {var} has dimensions ({}); expected (time, {lat_name}, {lon_name})",
            path.display(),
            dims.join(", ")
        );
    }
    let nt = v.dimensions()[0].len();
    let months = step_months(file, path, var, &dims[0], nt, opts.first_month)?;
    Ok(ObsLayout {
        lat: lat_name,
        lon: lon_name,
        time: dims[0].clone(),
        months,
    })
}

/// An observation variable on a model grid, read as `opts` say (first month of a time
/// dimension without a coordinate, regridding method, units): the months of `years` (all
/// if `None`), dims (time, then the grid's), with the model grid's area and land fraction
/// for means. See the module documentation for the time, missing-value and regridding
/// rules. Every error names the file.
pub fn read_obs_with(
    path: &Path,
    var: &str,
    years: Option<(i64, i64)>,
    grid: Arc<Grid>,
    opts: &ReadOptions,
) -> Result<Field> {
    let file = nc::open(path)?;
    let ObsLayout {
        lat: lat_name,
        lon: lon_name,
        time: tname,
        months,
    } = obs_layout(&file, path, var, opts)?;
    let src = ObsGrid {
        lat: nc::read_f64(&file, path, &lat_name)?,
        lon: nc::read_f64(&file, path, &lon_name)?,
    };
    let v = nc::variable(&file, path, var)?;
    let mut seen = std::collections::BTreeMap::new();
    for m in &months {
        *seen.entry(*m).or_insert(0usize) += 1;
    }
    if let Some((m, n)) = seen.iter().find(|(_, &n)| n > 1) {
        bail!(
            "{}: {var} has {n} steps in {} (time dimension {tname}): observations must be monthly, one step per month",
            path.display(),
            month_text(*m)
        );
    }
    let chosen: Vec<usize> = (0..months.len())
        .filter(|&k| years.is_none_or(|(a, b)| months[k].0 >= a && months[k].0 <= b))
        .collect();
    if let Some((a, b)) = years {
        let have: Vec<i64> = (a..=b)
            .filter(|y| !chosen.iter().any(|&k| months[k].0 == *y))
            .collect();
        if !have.is_empty() {
            let span = match (months.first(), months.last()) {
                (Some(&f), Some(&l)) => format!("{} to {}", month_text(f), month_text(l)),
                _ => "no time steps".into(),
            };
            bail!(
                "{}: {var} has no data for year(s) {:?} (the file covers {span})",
                path.display(),
                have
            );
        }
    }
    enum Weights {
        Bilinear(Bilinear),
        Conservative(Conservative),
    }
    let weights = match opts.regrid {
        Regrid::Bilinear => Weights::Bilinear(
            Bilinear::new(&src, &grid.cell_centers())
                .with_context(|| format!("{}: {var}", path.display()))?,
        ),
        Regrid::Conservative => {
            let dst = CellEdges::of_grid(&grid).with_context(|| format!("{}", path.display()))?;
            let edges = source_edges(&file, path, (&lat_name, &lon_name), &src)?;
            Weights::Conservative(
                Conservative::new(&edges, &dst)
                    .with_context(|| format!("{}: {var}", path.display()))?,
            )
        }
    };
    let decode = Decode::of(&v);
    let (ny, nx) = (src.lat.len(), src.lon.len());
    let mut out = Array2::<f64>::zeros((chosen.len(), grid.ncell()));
    for (k, &t) in chosen.iter().enumerate() {
        let raw: Vec<f64> = v
            .get_values::<f64, _>([t..t + 1, 0..ny, 0..nx])
            .with_context(|| format!("{}: cannot read {var} at time step {t}", path.display()))?;
        let map =
            Array2::from_shape_vec((ny, nx), raw.into_iter().map(|x| decode.value(x)).collect())?;
        let row = match &weights {
            Weights::Bilinear(w) => w.apply(&map)?,
            Weights::Conservative(w) => w.apply(&map)?,
        };
        out.index_axis_mut(ndarray::Axis(0), k).assign(&row);
    }
    let mut shape = vec![chosen.len()];
    shape.extend(grid.spatial_shape());
    let mut dims = vec!["time".to_string()];
    dims.extend(grid.dims());
    let units = match &opts.units {
        Some(u) => u.clone(),
        None => nc::attr_string(&v, "units").unwrap_or_default(),
    };
    Ok(Field {
        name: var.to_string(),
        units,
        long_name: nc::attr_string(&v, "long_name").unwrap_or_default(),
        dims,
        values: out.into_shape_with_order(ndarray::IxDyn(&shape))?,
        grid,
        months: chosen.iter().map(|&k| months[k]).collect(),
        members: Vec::new(),
    })
}

/// The observation data mask: 1 where a cell is defined in at least `min_coverage` of the
/// months of `field` (dims time, then the grid's), else 0; one value per cell.
pub fn coverage_mask(field: &Field, min_coverage: f64) -> Result<Array1<f64>> {
    if !(min_coverage > 0.0 && min_coverage <= 1.0) {
        bail!("min_coverage = {min_coverage} must be in (0, 1]");
    }
    let ax = field.axis("time")?;
    let (outer, rows) = field.cell_rows()?;
    if ax != 0 || outer.len() != 1 {
        bail!(
            "a coverage mask needs a (time, {}) field, not ({})",
            field.grid.dims().join(", "),
            field.dims.join(", ")
        );
    }
    let nt = rows.nrows() as f64;
    Ok(rows.map_axis(ndarray::Axis(0), |lane| {
        let valid = lane.iter().filter(|x| !x.is_nan()).count() as f64;
        if nt > 0.0 && valid / nt >= min_coverage - 1e-12 {
            1.0
        } else {
            0.0
        }
    }))
}

/// The field with cells outside `mask` (0; one value per cell) set missing, for every
/// leading index.
pub fn apply_mask(field: &Field, mask: &Array1<f64>) -> Result<Field> {
    if mask.len() != field.grid.ncell() {
        bail!(
            "mask of {} cells does not fit field {} on a grid of {}",
            mask.len(),
            field.name,
            field.grid.ncell()
        );
    }
    field.cell_rows()?;
    let mut f = field.clone();
    let n = mask.len();
    for (k, x) in f.values.iter_mut().enumerate() {
        if mask[k % n] == 0.0 {
            *x = f64::NAN;
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_reproduces_a_linear_field_exactly() {
        // source: 1-degree cells, latitudes descending, longitudes -180..179
        let src = ObsGrid {
            lat: (0..180).map(|i| 89.5 - i as f64).collect(),
            lon: (0..360).map(|j| -180.0 + j as f64).collect(),
        };
        let f = |lat: f64, lon: f64| 3.0 * lat - 0.25 * lon.rem_euclid(360.0) + 7.0;
        let map = Array2::from_shape_fn((180, 360), |(i, j)| f(src.lat[i], src.lon[j]));
        let tlat: Vec<f64> = (0..46).map(|i| -90.0 + 4.0 * i as f64).collect();
        let tlon: Vec<f64> = (0..72).map(|j| 5.0 * j as f64).collect();
        let points: Vec<(f64, f64)> = tlat
            .iter()
            .flat_map(|&a| tlon.iter().map(move |&b| (a, b)))
            .collect();
        let w = Bilinear::new(&src, &points).unwrap();
        let out = w.apply(&map).unwrap();
        for (i, &la) in tlat.iter().enumerate() {
            for (j, &lo) in tlon.iter().enumerate() {
                let v = out[i * 72 + j];
                if la.abs() > 89.5 {
                    assert!(v.is_nan(), "outside the source latitudes: missing");
                } else if lo < 359.0 {
                    assert!(
                        (v - f(la, lo)).abs() < 1e-9,
                        "({la}, {lo}): {v} vs {}",
                        f(la, lo)
                    );
                }
            }
        }
    }

    #[test]
    fn periodic_seam_and_missing_neighbours() {
        // longitudes 10, 130, 250: target 0 lies on the seam between 250 and 370 (=10)
        let src = ObsGrid {
            lat: vec![-10.0, 10.0],
            lon: vec![10.0, 130.0, 250.0],
        };
        let map = Array2::from_shape_vec((2, 3), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]).unwrap();
        let w = Bilinear::new(&src, &[(0.0, 0.0), (0.0, 70.0)]).unwrap();
        let out = w.apply(&map).unwrap();
        // 0 is 110/120 of the way from 250 (value 3) to 370 (value 1): 3 - 2 * 110 / 120
        assert!((out[0] - (3.0 - 2.0 * 110.0 / 120.0)).abs() < 1e-12);
        assert!((out[1] - 1.5).abs() < 1e-12);
        let mut holes = map.clone();
        holes[[1, 0]] = f64::NAN;
        let out = w.apply(&holes).unwrap();
        assert!(
            out[0].is_nan() && out[1].is_nan(),
            "a missing neighbour makes the cell missing"
        );
    }

    #[test]
    fn regridding_onto_the_same_grid_is_the_identity() {
        // 4x5 source with holes: every target on a source point takes its value, and a
        // missing neighbour of weight 0 does not void it
        let lat: Vec<f64> = (0..46).map(|i| -90.0 + 4.0 * i as f64).collect();
        let lon: Vec<f64> = (0..72).map(|j| 5.0 * j as f64).collect();
        let src = ObsGrid {
            lat: lat.clone(),
            lon: lon.clone(),
        };
        let map = Array2::from_shape_fn((46, 72), |(i, j)| {
            if (i * 7 + j * 3) % 5 == 0 {
                f64::NAN
            } else {
                (i * 72 + j) as f64 * 0.5 - 3.0
            }
        });
        let points: Vec<(f64, f64)> = lat
            .iter()
            .flat_map(|&a| lon.iter().map(move |&b| (a, b)))
            .collect();
        let out = Bilinear::new(&src, &points).unwrap().apply(&map).unwrap();
        for (k, (&o, &m)) in out.iter().zip(map.iter()).enumerate() {
            assert!(o == m || (o.is_nan() && m.is_nan()), "cell {k}: {o} vs {m}");
        }
        // the same on the grid's west-negative longitudes and south-first latitudes reversed
        let src2 = ObsGrid {
            lat: lat.iter().rev().copied().collect(),
            lon: lon
                .iter()
                .map(|&x| if x >= 180.0 { x - 360.0 } else { x })
                .collect(),
        };
        let map2 = Array2::from_shape_fn((46, 72), |(i, j)| map[[45 - i, j]]);
        let out2 = Bilinear::new(&src2, &points).unwrap().apply(&map2).unwrap();
        for (&o, &m) in out2.iter().zip(map.iter()) {
            assert!(o == m || (o.is_nan() && m.is_nan()));
        }
    }

    /// The spherical area (sr) of a cell with these edges.
    fn cell_area((s, n): (f64, f64), (w, e): (f64, f64)) -> f64 {
        (e - w).to_radians() * (n.to_radians().sin() - s.to_radians().sin())
    }

    #[test]
    fn months_are_parsed_and_counted() {
        assert_eq!(parse_month("2000-01").unwrap(), (2000, 1));
        assert_eq!(parse_month(" 1982-7 ").unwrap(), (1982, 7));
        assert_eq!(parse_month("2000-02-01").unwrap(), (2000, 2));
        for bad in [
            "2000",
            "2000-13",
            "2000-00",
            "Jan 2000",
            "2000-01-40",
            "2000--01",
            "",
        ] {
            let e = parse_month(bad).unwrap_err().to_string();
            assert!(e.contains("write it as YYYY-MM"), "{bad}: {e}");
        }
        assert_eq!(add_months((2000, 1), 59), (2004, 12));
        assert_eq!(add_months((2000, 11), 2), (2001, 1));
        assert_eq!(add_months((2000, 1), -1), (1999, 12));
        assert_eq!(Regrid::parse("Conservative").unwrap(), Regrid::Conservative);
        assert!(Regrid::parse("nearest")
            .unwrap_err()
            .to_string()
            .contains("use \"bilinear\" or \"conservative\""));
        assert!(ReadOptions::default().is_default());
    }

    #[test]
    fn edges_lie_halfway_with_half_cells_at_the_poles() {
        // f45: rows on the poles get half cells; longitudes wrap
        let lat: Vec<f64> = (0..46).map(|i| -90.0 + 4.0 * i as f64).collect();
        let lon: Vec<f64> = (0..72).map(|j| 5.0 * j as f64).collect();
        let e = CellEdges::from_centres(&lat, &lon).unwrap();
        assert_eq!(e.lat[0], (-90.0, -88.0));
        assert_eq!(e.lat[45], (88.0, 90.0));
        assert_eq!(e.lat[10], (-52.0, -48.0));
        assert_eq!(e.lon[0], (-2.5, 2.5));
        assert_eq!(e.lon[71], (352.5, 357.5));
        // their areas are those of Grid::regular (to rounding)
        let g = Grid::regular(46, 72, Array2::ones((46, 72))).unwrap();
        let r2 = (crate::field::EARTH_RADIUS_KM * 1e3).powi(2);
        for k in [0, 5, 800, 3311] {
            let (i, j) = (k / 72, k % 72);
            let a = r2 * cell_area(e.lat[i], e.lon[j]);
            assert!(
                (a / g.area[k] - 1.0).abs() < 1e-12,
                "{k}: {a} {}",
                g.area[k]
            );
        }
        // descending latitudes and -180..180 longitudes: the same edges per centre
        let lat2: Vec<f64> = lat.iter().rev().copied().collect();
        let lon2: Vec<f64> = lon
            .iter()
            .map(|&x| if x >= 180.0 { x - 360.0 } else { x })
            .collect();
        let e2 = CellEdges::from_centres(&lat2, &lon2).unwrap();
        assert_eq!(e2.lat[0], (88.0, 90.0));
        assert_eq!(e2.lon[36], (177.5, 182.5));
        // a regional grid (30..39.5 E) ends half a spacing beyond its outer centres, also
        // across the prime meridian (-5..4.5 E)
        let reg: Vec<f64> = (0..20).map(|j| 30.0 + 0.5 * j as f64).collect();
        let e3 = CellEdges::from_centres(&[0.0, 1.0], &reg).unwrap();
        assert_eq!(e3.lon[0], (29.75, 30.25));
        assert_eq!(e3.lon[19], (39.25, 39.75));
        let across: Vec<f64> = (0..20).map(|j| -5.0 + 0.5 * j as f64).collect();
        let e4 = CellEdges::from_centres(&[0.0, 1.0], &across).unwrap();
        assert_eq!(e4.lon[0], (354.75, 355.25));
        assert_eq!(e4.lon[19], (4.25, 4.75));
        assert_eq!(e4.lon[10], (-0.25, 0.25));
        assert!(CellEdges::from_centres(&[0.0], &lon).is_err());
    }

    #[test]
    fn longitude_overlaps_wrap_around_the_globe() {
        assert_eq!(lon_overlap((0.0, 10.0), (5.0, 20.0)), 5.0);
        assert_eq!(lon_overlap((355.0, 365.0), (0.0, 2.0)), 2.0);
        assert_eq!(lon_overlap((-2.5, 2.5), (357.0, 362.0)), 4.5);
        assert_eq!(lon_overlap((-2.5, 2.5), (180.0, 190.0)), 0.0);
        assert_eq!(lon_overlap((0.0, 360.0), (-180.0, 180.0)), 360.0);
        assert_eq!(lon_overlap((10.0, 20.0), (20.0, 30.0)), 0.0);
    }

    #[test]
    fn conservative_by_hand() {
        // source: 1-degree cells, lat edges 0..4, lon edges 0..4 (a regional grid);
        // target: 2-degree cells with edges 0, 2, 4 both ways
        let c: Vec<f64> = vec![0.5, 1.5, 2.5, 3.5];
        let src = CellEdges::from_centres(&c, &c).unwrap();
        let dst = CellEdges::from_centres(&[1.0, 3.0], &[1.0, 3.0]).unwrap();
        assert_eq!(src.lon[0], (0.0, 1.0));
        assert_eq!(dst.lat[1], (2.0, 4.0));
        let w = Conservative::new(&src, &dst).unwrap();
        let map = Array2::from_shape_fn((4, 4), |(i, j)| (10 * i + j) as f64);
        let out = w.apply(&map).unwrap();
        // target (0, 0): rows 0-1 weighted by sin(1)-sin(0) and sin(2)-sin(1), columns 0-1
        // equally: (a0 * 0.5 + a1 * 10.5) / (a0 + a1)
        let s = |d: f64| d.to_radians().sin();
        let (a0, a1) = (s(1.0) - s(0.0), s(2.0) - s(1.0));
        let hand = (a0 * 0.5 + a1 * 10.5) / (a0 + a1);
        assert!((out[0] - hand).abs() < 1e-12, "{} vs {hand}", out[0]);
        // target (1, 1): rows 2-3, columns 2-3
        let (a2, a3) = (s(3.0) - s(2.0), s(4.0) - s(3.0));
        let hand = (a2 * 22.5 + a3 * 32.5) / (a2 + a3);
        assert!((out[3] - hand).abs() < 1e-12);
        // missing values: the valid area must be at least half of the overlap
        let mut holes = map.clone();
        holes[[1, 0]] = f64::NAN;
        holes[[1, 1]] = f64::NAN; // target (0, 0): the lower row (a0 > a1) remains: kept
        holes[[0, 2]] = f64::NAN;
        holes[[0, 3]] = f64::NAN; // target (0, 1): the upper row (a1 < a0) remains: missing
        holes[[2, 0]] = f64::NAN; // target (1, 0): 3 of 4 cells remain
        let out = w.apply(&holes).unwrap();
        assert!((out[0] - 0.5).abs() < 1e-12, "{}", out[0]);
        assert!(out[1].is_nan(), "{}", out[1]);
        let hand = (a2 * 21.0 + a3 * (30.0 + 31.0)) / (a2 + 2.0 * a3);
        assert!((out[2] - hand).abs() < 1e-12, "{} vs {hand}", out[2]);
        // a target outside the source grid is missing
        let far = CellEdges::from_centres(&[50.0, 52.0], &[1.0, 3.0]).unwrap();
        let out = Conservative::new(&src, &far).unwrap().apply(&map).unwrap();
        assert!(out.iter().all(|x| x.is_nan()));
        assert!(w.apply(&Array2::zeros((3, 4))).is_err());
    }

    #[test]
    fn conservative_keeps_constants_and_the_global_integral() {
        // 1-degree source (descending, -180..180) onto 4x5 with half cells at the poles
        let slat: Vec<f64> = (0..180).map(|i| 89.5 - i as f64).collect();
        let slon: Vec<f64> = (0..360).map(|j| -179.5 + j as f64).collect();
        let src = CellEdges::from_centres(&slat, &slon).unwrap();
        let tlat: Vec<f64> = (0..46).map(|i| -90.0 + 4.0 * i as f64).collect();
        let tlon: Vec<f64> = (0..72).map(|j| 5.0 * j as f64).collect();
        let dst = CellEdges::from_centres(&tlat, &tlon).unwrap();
        let w = Conservative::new(&src, &dst).unwrap();
        let out = w.apply(&Array2::from_elem((180, 360), 3.25)).unwrap();
        assert!(out.iter().all(|&x| (x - 3.25).abs() < 1e-12));
        let f =
            |la: f64, lo: f64| 2.0 + la.to_radians().sin() * 3.0 + (2.0 * lo.to_radians()).cos();
        let map = Array2::from_shape_fn((180, 360), |(i, j)| f(slat[i], slon[j]));
        let out = w.apply(&map).unwrap();
        let src_integral: f64 = (0..180 * 360)
            .map(|k| map[[k / 360, k % 360]] * cell_area(src.lat[k / 360], src.lon[k % 360]))
            .sum();
        let dst_integral: f64 = (0..46 * 72)
            .map(|k| out[k] * cell_area(dst.lat[k / 72], dst.lon[k % 72]))
            .sum();
        assert!(
            (src_integral / dst_integral - 1.0).abs() < 1e-12,
            "{src_integral} vs {dst_integral}"
        );
        // the same grid: the identity, holes and all
        let same = Conservative::new(&dst, &dst).unwrap();
        let m = Array2::from_shape_fn((46, 72), |(i, j)| {
            if (i + 2 * j) % 7 == 0 {
                f64::NAN
            } else {
                (i * 72 + j) as f64
            }
        });
        let out = same.apply(&m).unwrap();
        for (k, (&o, &x)) in out.iter().zip(m.iter()).enumerate() {
            assert!(o == x || (o.is_nan() && x.is_nan()), "{k}: {o} vs {x}");
        }
    }

    #[test]
    fn a_1d_grid_has_no_cell_edges() {
        let g = Grid::regular(4, 6, Array2::ones((4, 6))).unwrap();
        let s = g.subset(&[true; 24], "lndgrid").unwrap();
        let e = CellEdges::of_grid(&s).unwrap_err().to_string();
        assert!(
            e.contains("1-D grid along lndgrid has cell centres only")
                && e.contains("regrid = \"bilinear\""),
            "{e}"
        );
        assert!(CellEdges::of_grid(&g).is_ok());
    }
}
