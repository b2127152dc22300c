//! The model grid as a set of cells. Every cell has a centre (lat, lon), an area, a land
//! fraction and a land mask; how the cells sit in a field's trailing dimensions is the
//! grid's layout:
//!
//! - a latitude-longitude grid: dimensions (`lat`, `lon`), cell `k = i * nlon + j`;
//! - a 1-D grid: one dimension of cells (CLM's `lndgrid`: the sparse grid of NCAR's PPE,
//!   regional and single-point runs), each cell with its own lat and lon.
//!
//! Everything that works cell by cell (means, regions, EOFs, projections, observations,
//! sensitivity maps) sees a field as `(outer, cell)` rows through [`Grid::ncell`] and the
//! row-major flattening of the trailing dimensions, so one code path serves both layouts.

use anyhow::{bail, Result};
use ndarray::{Array1, Array2};

/// Earth radius CLM uses (km).
pub const EARTH_RADIUS_KM: f64 = 6371.22;

/// The land grid of a set of history files: its cells and their layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Latitudes (degrees north): the `lat` axis of a lat/lon grid, or each cell's centre
    /// latitude on a 1-D grid.
    pub lat: Vec<f64>,
    /// Longitudes (degrees east, as in the file): the `lon` axis, or each cell's centre.
    pub lon: Vec<f64>,
    /// The cell dimension of a 1-D grid (e.g. `lndgrid`); `None` for a lat/lon grid.
    pub cell_dim: Option<String>,
    /// Cell areas in m^2 (converted from CLM's km^2), one per cell; NaN where undefined.
    pub area: Array1<f64>,
    /// Land fraction of each cell (0..1); NaN where undefined.
    pub landfrac: Array1<f64>,
    /// 1 for land cells, 0 for ocean.
    pub landmask: Array1<f64>,
}

impl Grid {
    /// A lat/lon grid from its axes and (lat, lon) maps of area (m^2), land fraction and
    /// land mask.
    pub fn lat_lon(
        lat: Vec<f64>,
        lon: Vec<f64>,
        area: Array2<f64>,
        landfrac: Array2<f64>,
        landmask: Array2<f64>,
    ) -> Result<Grid> {
        let shape = (lat.len(), lon.len());
        for (name, a) in [
            ("area", &area),
            ("landfrac", &landfrac),
            ("landmask", &landmask),
        ] {
            if a.dim() != shape {
                bail!(
                    "{name} is {:?}, the grid has {} latitudes and {} longitudes",
                    a.dim(),
                    shape.0,
                    shape.1
                );
            }
        }
        let flat = |a: Array2<f64>| Array1::from_iter(a.iter().copied());
        Ok(Grid {
            lat,
            lon,
            cell_dim: None,
            area: flat(area),
            landfrac: flat(landfrac),
            landmask: flat(landmask),
        })
    }

    /// A 1-D grid: cells along dimension `dim`, each with its centre, area (m^2), land
    /// fraction and land mask.
    pub fn cells(
        dim: &str,
        lat: Vec<f64>,
        lon: Vec<f64>,
        area: Array1<f64>,
        landfrac: Array1<f64>,
        landmask: Array1<f64>,
    ) -> Result<Grid> {
        let n = lat.len();
        for (name, len) in [
            ("lon", lon.len()),
            ("area", area.len()),
            ("landfrac", landfrac.len()),
            ("landmask", landmask.len()),
        ] {
            if len != n {
                bail!("{name} has {len} values, the grid has {n} cells along {dim}");
            }
        }
        if n == 0 {
            bail!("a grid along {dim} needs at least one cell");
        }
        Ok(Grid {
            lat,
            lon,
            cell_dim: Some(dim.to_string()),
            area,
            landfrac,
            landmask,
        })
    }

    /// Whether this is a lat/lon grid (not a 1-D grid of cells).
    pub fn is_lat_lon(&self) -> bool {
        self.cell_dim.is_none()
    }

    /// The number of cells.
    pub fn ncell(&self) -> usize {
        self.area.len()
    }

    /// The trailing dimensions of a field on this grid: (`lat`, `lon`) or (`lndgrid`).
    pub fn dims(&self) -> Vec<String> {
        match &self.cell_dim {
            None => vec!["lat".into(), "lon".into()],
            Some(d) => vec![d.clone()],
        }
    }

    /// The sizes of those dimensions: [nlat, nlon] or [ncell].
    pub fn spatial_shape(&self) -> Vec<usize> {
        match &self.cell_dim {
            None => vec![self.lat.len(), self.lon.len()],
            Some(_) => vec![self.ncell()],
        }
    }

    /// The centre (lat, lon) of cell `k`.
    pub fn cell_center(&self, k: usize) -> (f64, f64) {
        match &self.cell_dim {
            None => {
                let nlon = self.lon.len().max(1);
                (self.lat[k / nlon], self.lon[k % nlon])
            }
            Some(_) => (self.lat[k], self.lon[k]),
        }
    }

    /// The centres of every cell, in cell order.
    pub fn cell_centers(&self) -> Vec<(f64, f64)> {
        (0..self.ncell()).map(|k| self.cell_center(k)).collect()
    }

    /// The weights of land area-weighted means: `area * landfrac` (m^2 of land), 0 where either
    /// is undefined.
    pub fn weights(&self) -> Array1<f64> {
        let mut w = &self.area * &self.landfrac;
        w.mapv_inplace(|x| if x.is_finite() && x > 0.0 { x } else { 0.0 });
        w
    }

    /// Values per cell in the grid's shape: a (lat, lon) map or a (cell) vector.
    pub fn shaped(&self, v: &Array1<f64>) -> Result<ndarray::ArrayD<f64>> {
        if v.len() != self.ncell() {
            bail!("{} values for a grid of {} cells", v.len(), self.ncell());
        }
        Ok(v.clone()
            .into_shape_with_order(ndarray::IxDyn(&self.spatial_shape()))?)
    }

    /// Values per cell as a (lat, lon) map, for a lat/lon grid (`None` on a 1-D grid or
    /// when the length is not the number of cells).
    pub fn to_map(&self, v: &Array1<f64>) -> Option<Array2<f64>> {
        if !self.is_lat_lon() || v.len() != self.ncell() {
            return None;
        }
        Array2::from_shape_vec((self.lat.len(), self.lon.len()), v.to_vec()).ok()
    }

    /// Whether two grids have the same layout and coordinates (to 1e-4 degrees).
    pub fn same_coords(&self, other: &Grid) -> bool {
        self.coord_difference(other).is_none()
    }

    /// What differs between the layouts or coordinates of two grids, in words (`lat has 46
    /// values, the other 47`; `lon[3] is 16.25, the other 15`: the first differing value,
    /// 1e-4 degree tolerance), or `None` when they are the same grid.
    pub fn coord_difference(&self, other: &Grid) -> Option<String> {
        let describe = |g: &Grid| match &g.cell_dim {
            None => "a lat/lon grid".to_string(),
            Some(d) => format!("a 1-D grid along {d}"),
        };
        if self.cell_dim != other.cell_dim {
            return Some(format!(
                "one is {}, the other {}",
                describe(self),
                describe(other)
            ));
        }
        for (name, a, b) in [
            ("lat", &self.lat, &other.lat),
            ("lon", &self.lon, &other.lon),
        ] {
            if a.len() != b.len() {
                return Some(format!(
                    "{name} has {} values, the other {}",
                    a.len(),
                    b.len()
                ));
            }
            if let Some(i) = (0..a.len()).find(|&i| {
                let d = (a[i] - b[i]).abs();
                d.is_nan() || d >= 1e-4
            }) {
                return Some(format!("{name}[{i}] is {}, the other {}", a[i], b[i]));
            }
        }
        None
    }

    /// The 1-D grid of the cells of this grid where `keep` is true (in cell order), along
    /// dimension `dim`: how a lat/lon run is written as sparse-grid output.
    pub fn subset(&self, keep: &[bool], dim: &str) -> Result<Grid> {
        if keep.len() != self.ncell() {
            bail!(
                "a subset needs one flag per cell ({}), got {}",
                self.ncell(),
                keep.len()
            );
        }
        let idx: Vec<usize> = (0..self.ncell()).filter(|&k| keep[k]).collect();
        let pick = |a: &Array1<f64>| Array1::from_iter(idx.iter().map(|&k| a[k]));
        let centres: Vec<(f64, f64)> = idx.iter().map(|&k| self.cell_center(k)).collect();
        Grid::cells(
            dim,
            centres.iter().map(|c| c.0).collect(),
            centres.iter().map(|c| c.1).collect(),
            pick(&self.area),
            pick(&self.landfrac),
            pick(&self.landmask),
        )
    }

    /// A regular global grid of `nlat` latitudes from -90 to 90 and `nlon` longitudes from 0,
    /// as CIME's f45 (46 x 72) and f19 grids: cell areas on a sphere of CLM's radius (pole
    /// cells are half cells), with the given land fraction (landmask where > 0).
    pub fn regular(nlat: usize, nlon: usize, landfrac: Array2<f64>) -> Result<Grid> {
        if nlat < 2 || nlon < 1 || landfrac.dim() != (nlat, nlon) {
            bail!("a regular grid needs nlat >= 2, nlon >= 1 and a ({nlat}, {nlon}) land fraction");
        }
        let dlat = 180.0 / (nlat - 1) as f64;
        let dlon = 360.0 / nlon as f64;
        let lat: Vec<f64> = (0..nlat).map(|i| -90.0 + dlat * i as f64).collect();
        let lon: Vec<f64> = (0..nlon).map(|j| dlon * j as f64).collect();
        let r = EARTH_RADIUS_KM * 1e3;
        let area = Array2::from_shape_fn((nlat, nlon), |(i, _)| {
            let s = (lat[i] - dlat / 2.0).max(-90.0).to_radians().sin();
            let n = (lat[i] + dlat / 2.0).min(90.0).to_radians().sin();
            r * r * dlon.to_radians() * (n - s)
        });
        let landmask = landfrac.mapv(|f| if f > 0.0 { 1.0 } else { 0.0 });
        Grid::lat_lon(lat, lon, area, landfrac, landmask)
    }

    /// A lat/lon grid from its axes alone (a CF file without CLM's grid variables): each
    /// cell spans the midpoints to its neighbours (half a spacing beyond the first and last,
    /// latitudes clipped to the poles), with its spherical area on CLM's Earth radius, land
    /// fraction 1 and land mask 1.
    pub fn from_axes(lat: Vec<f64>, lon: Vec<f64>) -> Result<Grid> {
        if lat.is_empty() || lon.is_empty() || lat.iter().chain(&lon).any(|x| !x.is_finite()) {
            bail!("lat and lon need at least one finite value each");
        }
        let edges = |v: &[f64]| -> Vec<(f64, f64)> {
            let n = v.len();
            (0..n)
                .map(|i| {
                    let lo = if i > 0 {
                        (v[i - 1] + v[i]) / 2.0
                    } else if n > 1 {
                        v[0] - (v[1] - v[0]) / 2.0
                    } else {
                        v[0] - 0.5
                    };
                    let hi = if i + 1 < n {
                        (v[i] + v[i + 1]) / 2.0
                    } else if n > 1 {
                        v[n - 1] + (v[n - 1] - v[n - 2]) / 2.0
                    } else {
                        v[0] + 0.5
                    };
                    (lo.min(hi), lo.max(hi))
                })
                .collect()
        };
        let (le, ne) = (edges(&lat), edges(&lon));
        let r = EARTH_RADIUS_KM * 1e3;
        let area = Array2::from_shape_fn((lat.len(), lon.len()), |(i, j)| {
            let s = le[i].0.clamp(-90.0, 90.0).to_radians().sin();
            let n = le[i].1.clamp(-90.0, 90.0).to_radians().sin();
            r * r * (ne[j].1 - ne[j].0).min(360.0).to_radians() * (n - s)
        });
        let ones = Array2::ones((lat.len(), lon.len()));
        Grid::lat_lon(lat, lon, area, ones.clone(), ones)
    }

    /// A one-cell grid at (0, 0) of area 1 m^2, all land (tests and hand-made fields).
    pub fn point() -> Grid {
        Grid {
            lat: vec![0.0],
            lon: vec![0.0],
            cell_dim: None,
            area: Array1::ones(1),
            landfrac: Array1::ones(1),
            landmask: Array1::ones(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_grid_areas_sum_to_the_sphere() {
        let g = Grid::regular(46, 72, Array2::ones((46, 72))).unwrap();
        let total: f64 = g.area.sum();
        let sphere = 4.0 * std::f64::consts::PI * (EARTH_RADIUS_KM * 1e3).powi(2);
        assert!((total / sphere - 1.0).abs() < 1e-12, "{total} vs {sphere}");
        assert_eq!(g.lat[0], -90.0);
        assert_eq!(g.lat[45], 90.0);
        assert_eq!(g.lon[71], 355.0);
        assert_eq!(g.ncell(), 46 * 72);
        assert_eq!(g.spatial_shape(), vec![46, 72]);
        // cell k = i * nlon + j
        assert_eq!(g.cell_center(72 * 3 + 5), (-78.0, 25.0));
    }

    #[test]
    fn a_grid_from_axes_has_the_areas_of_a_regular_grid() {
        // the f45 axes: the same areas as the regular construction (pole cells half cells)
        let reg = Grid::regular(46, 72, Array2::ones((46, 72))).unwrap();
        let g = Grid::from_axes(reg.lat.clone(), reg.lon.clone()).unwrap();
        for (a, b) in g.area.iter().zip(&reg.area) {
            assert!((a / b - 1.0).abs() < 1e-12, "{a} {b}");
        }
        assert!(Grid::from_axes(vec![], vec![1.0]).is_err());
        assert!(Grid::from_axes(vec![f64::NAN], vec![1.0]).is_err());
    }

    #[test]
    fn a_subset_is_a_1d_grid_of_the_kept_cells() {
        let g = Grid::regular(
            3,
            4,
            Array2::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as f64),
        )
        .unwrap();
        let keep: Vec<bool> = (0..12).map(|k| k % 5 == 1).collect(); // cells 1, 6, 11
        let s = g.subset(&keep, "lndgrid").unwrap();
        assert_eq!(s.dims(), vec!["lndgrid"]);
        assert_eq!(s.ncell(), 3);
        assert_eq!(s.landfrac.to_vec(), vec![1.0, 6.0, 11.0]);
        // centres: (-90, 90), (0, 180), (90, 270)
        assert_eq!(s.lat, vec![-90.0, 0.0, 90.0]);
        assert_eq!(s.lon, vec![90.0, 180.0, 270.0]);
        assert_eq!(s.area[1], g.area[6]);
        assert!(s
            .coord_difference(&g)
            .unwrap()
            .contains("1-D grid along lndgrid"));
        assert!(s.to_map(&s.area).is_none());
        assert_eq!(g.to_map(&g.landfrac).unwrap()[[1, 2]], 6.0);
    }
}
