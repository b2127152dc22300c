//! Observations: a CF gridded file (netCDF-4/HDF5 or classic; latitudes ascending or
//! descending; longitudes 0..360 or -180..180; standard or noleap calendar; numeric fill
//! values), read month by month for the selected years and regridded bilinearly onto the
//! model grid as NCL's linint2 does: periodic in longitude, and a target cell is missing if
//! any of its four source neighbours is missing or it lies outside the source latitudes.

use super::{Field, Grid};
use crate::nc;
use anyhow::{bail, Context, Result};
use ndarray::{Array1, Array2};
use std::path::Path;
use std::sync::Arc;

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

/// An observation variable regridded onto a model grid: months of `years` (all if `None`),
/// dims (time, lat, lon), the model grid's area and land fraction for means.
pub fn read_obs(
    path: &Path,
    var: &str,
    years: Option<(i64, i64)>,
    grid: Arc<Grid>,
) -> Result<Field> {
    let file = nc::open(path)?;
    let lat_name = find_coord(&file, path, "lat")?;
    let lon_name = find_coord(&file, path, "lon")?;
    let src = ObsGrid {
        lat: nc::read_f64(&file, path, &lat_name)?,
        lon: nc::read_f64(&file, path, &lon_name)?,
    };
    let v = nc::variable(&file, path, var)?;
    let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
    if dims.len() != 3 || dims[1] != lat_name || dims[2] != lon_name {
        bail!(
            "{}: {var} has dimensions ({}); expected (time, {lat_name}, {lon_name})",
            path.display(),
            dims.join(", ")
        );
    }
    let tname = dims[0].clone();
    let tvar = nc::variable(&file, path, &tname)?;
    let tunits = nc::attr_string(&tvar, "units")
        .with_context(|| format!("{}: {tname} has no units", path.display()))?;
    let axis = nc::TimeAxis::parse(&tunits, nc::attr_string(&tvar, "calendar").as_deref())
        .with_context(|| format!("{}: {tname}", path.display()))?;
    let times = nc::read_f64(&file, path, &tname)?;
    let bounds = nc::attr_string(&tvar, "bounds").and_then(|b| nc::read_f64(&file, path, &b).ok());
    let months: Vec<(i64, u32)> = times
        .iter()
        .enumerate()
        .map(|(k, &t)| match &bounds {
            Some(b) if b.len() == 2 * times.len() => axis.interval_month(b[2 * k], b[2 * k + 1]),
            _ => {
                let (y, m, _) = axis.date(t);
                (y, m)
            }
        })
        .collect();
    let chosen: Vec<usize> = (0..months.len())
        .filter(|&k| years.is_none_or(|(a, b)| months[k].0 >= a && months[k].0 <= b))
        .collect();
    if let Some((a, b)) = years {
        let have: Vec<i64> = (a..=b)
            .filter(|y| !chosen.iter().any(|&k| months[k].0 == *y))
            .collect();
        if !have.is_empty() {
            let span = match (months.first(), months.last()) {
                (Some(f), Some(l)) => format!("{:04}-{:02} to {:04}-{:02}", f.0, f.1, l.0, l.1),
                _ => "no time steps".into(),
            };
            bail!(
                "{}: {var} has no data for year(s) {:?} (the file covers {span})",
                path.display(),
                have
            );
        }
    }
    let weights = Bilinear::new(&src, &grid.cell_centers())?;
    let fills = nc::fill_values(&v);
    let (ny, nx) = (src.lat.len(), src.lon.len());
    let mut out = Array2::<f64>::zeros((chosen.len(), grid.ncell()));
    for (k, &t) in chosen.iter().enumerate() {
        let raw: Vec<f64> = v
            .get_values::<f64, _>([t..t + 1, 0..ny, 0..nx])
            .with_context(|| format!("{}: cannot read {var} at time step {t}", path.display()))?;
        let map = Array2::from_shape_vec(
            (ny, nx),
            raw.into_iter()
                .map(|x| if nc::is_fill(x, &fills) { f64::NAN } else { x })
                .collect(),
        )?;
        out.index_axis_mut(ndarray::Axis(0), k)
            .assign(&weights.apply(&map)?);
    }
    let mut shape = vec![chosen.len()];
    shape.extend(grid.spatial_shape());
    let mut dims = vec!["time".to_string()];
    dims.extend(grid.dims());
    Ok(Field {
        name: var.to_string(),
        units: nc::attr_string(&v, "units").unwrap_or_default(),
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
}
