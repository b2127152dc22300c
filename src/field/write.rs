//! Writing fields to CF-compliant netCDF-4 (coordinates, units, fill values, time bounds on
//! the noleap calendar, member names, the grid's area and land fraction, a `history`
//! attribute naming the script and settings) that xarray and ncview open; and reading such
//! a file back into identical fields. Written to a temporary file beside the target and
//! renamed; inputs of the run are never overwritten.

use super::{Field, Grid};
use crate::nc;
use anyhow::{bail, Context, Result};
use ndarray::{ArrayD, IxDyn};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The fill value written for missing values.
pub const FILL: f64 = 1.0e36;

/// Writes fields sharing one grid to `path`. `history` is recorded in the global `history`
/// attribute (say which script and settings made the file).
pub fn write_fields(path: &Path, fields: &[&Field], history: &str) -> Result<()> {
    write_netcdf(path, fields, &[], history)
}

/// The values of a coordinate: numbers, or names (member or parameter names).
#[derive(Debug, Clone, PartialEq)]
pub enum Coord {
    /// Numeric coordinates (written as doubles).
    Numbers(Vec<f64>),
    /// Names (written as netCDF-4 strings).
    Text(Vec<String>),
}

impl Coord {
    /// How many values.
    pub fn len(&self) -> usize {
        match self {
            Coord::Numbers(v) => v.len(),
            Coord::Text(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A plain array written beside the fields (xarray's DataArray without a grid): its
/// dimension names (empty: `NAME_0`, `NAME_1`, ...), coordinates of any of them (written as
/// coordinate variables named after the dimension), units and long name (empty: none).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedArray {
    /// The variable name.
    pub name: String,
    /// The values.
    pub values: ArrayD<f64>,
    /// One name per axis, or none.
    pub dims: Vec<String>,
    /// Coordinates by dimension name.
    pub coords: BTreeMap<String, Coord>,
    /// Units (empty: no attribute).
    pub units: String,
    /// Long name (empty: no attribute).
    pub long_name: String,
}

impl NamedArray {
    /// An array with dimensions `NAME_0`, `NAME_1`, ... and nothing else.
    pub fn plain(name: &str, values: ArrayD<f64>) -> NamedArray {
        NamedArray {
            name: name.to_string(),
            values,
            dims: Vec::new(),
            coords: BTreeMap::new(),
            units: String::new(),
            long_name: String::new(),
        }
    }

    /// The dimension names as written.
    pub fn dim_names(&self) -> Vec<String> {
        if self.dims.is_empty() {
            (0..self.values.ndim())
                .map(|k| format!("{}_{k}", self.name))
                .collect()
        } else {
            self.dims.clone()
        }
    }

    /// Checks the dimension names and coordinates against the shape.
    fn check(&self) -> Result<()> {
        let dn = self.dim_names();
        if dn.len() != self.values.ndim() {
            bail!(
                "{}: {} dimension names for an array of {} axes",
                self.name,
                dn.len(),
                self.values.ndim()
            );
        }
        for (i, d) in dn.iter().enumerate() {
            nc::check_name(d, "dimension").with_context(|| self.name.clone())?;
            if dn[..i].contains(d) {
                bail!("{}: dimension {d} is named twice", self.name);
            }
        }
        for (d, c) in &self.coords {
            let Some(k) = dn.iter().position(|x| x == d) else {
                bail!(
                    "{}: a coordinate for {d}, which is not one of its dimensions ({})",
                    self.name,
                    dn.join(", ")
                );
            };
            if c.len() != self.values.shape()[k] {
                bail!(
                    "{}: coordinate {d} has {} values for a dimension of length {}",
                    self.name,
                    c.len(),
                    self.values.shape()[k]
                );
            }
        }
        Ok(())
    }
}

/// Coordinate and grid variable names the fields of a file use: no array may be called so
/// nor give coordinates for them when fields are written.
const FIELD_COORDS: [&str; 10] = [
    "lat",
    "lon",
    "area",
    "landfrac",
    "landmask",
    "time",
    "time_bounds",
    "month",
    "member",
    "parameter",
];

/// Writes fields sharing one grid and arrays with named dimensions and coordinates
/// ([`NamedArray`]) to `path`; see [`write_fields`]. Dimensions shared by name must have
/// the same length everywhere, and a coordinate given by two arrays the same values.
pub fn write_netcdf(
    path: &Path,
    fields: &[&Field],
    arrays: &[NamedArray],
    history: &str,
) -> Result<()> {
    if fields.is_empty() && arrays.is_empty() {
        bail!("{}: nothing to write", path.display());
    }
    for name in fields
        .iter()
        .map(|f| f.name.as_str())
        .chain(arrays.iter().map(|a| a.name.as_str()))
    {
        nc::check_name(name, "variable")
            .with_context(|| format!("cannot write {}: key {name:?}", path.display()))?;
    }
    let grid = fields.first().map(|f| f.grid.clone());
    let mut dims: BTreeMap<String, usize> = BTreeMap::new();
    let mut coords: BTreeMap<String, Coord> = BTreeMap::new();
    for a in arrays {
        a.check()
            .with_context(|| format!("cannot write {}", path.display()))?;
        for (d, &n) in a.dim_names().iter().zip(a.values.shape()) {
            match dims.get(d) {
                Some(&m) if m != n => bail!(
                    "{}: dimension {d} is {m} long in one array and {n} in {}",
                    path.display(),
                    a.name
                ),
                _ => {
                    dims.insert(d.clone(), n);
                }
            }
        }
        for (d, c) in &a.coords {
            if !fields.is_empty() && FIELD_COORDS.contains(&d.as_str()) {
                // the fields write this coordinate: the array's must be the same
                let same = match (d.as_str(), c) {
                    ("lat" | "lon", Coord::Numbers(v)) => {
                        let g = &fields[0].grid;
                        let want = if d == "lat" { &g.lat } else { &g.lon };
                        v.len() == want.len()
                            && v.iter().zip(want).all(|(x, y)| (x - y).abs() <= 1e-9)
                    }
                    ("member" | "parameter", Coord::Text(v)) => fields
                        .iter()
                        .find(|f| f.dims.iter().any(|x| x == d) && !f.members.is_empty())
                        .is_some_and(|f| &f.members == v),
                    _ => false,
                };
                if !same {
                    bail!(
                        "{}: {}: coordinate {d} differs from the one the fields of the file give; leave it out of coords",
                        path.display(),
                        a.name
                    );
                }
                continue;
            }
            if coords.get(d).is_some_and(|x| x != c) {
                bail!(
                    "{}: two arrays give different coordinates for {d}",
                    path.display()
                );
            }
            coords.insert(d.clone(), c.clone());
        }
    }
    let names: Vec<&str> = fields
        .iter()
        .map(|f| f.name.as_str())
        .chain(arrays.iter().map(|a| a.name.as_str()))
        .collect();
    for a in arrays {
        if (!fields.is_empty() && FIELD_COORDS.contains(&a.name.as_str()))
            || dims.contains_key(&a.name)
        {
            bail!(
                "{}: an array may not be called {} (a dimension or coordinate of the file)",
                path.display(),
                a.name
            );
        }
        if names.iter().filter(|n| **n == a.name).count() > 1 {
            bail!("{}: two variables are called {}", path.display(), a.name);
        }
    }
    for f in fields {
        let (first, grid) = (fields[0], grid.as_ref().context("grid")?);
        if let Some(d) = f.grid.coord_difference(grid) {
            bail!(
                "{}: fields {} and {} are on different grids ({d})",
                path.display(),
                f.name,
                first.name
            );
        }
        for (d, &n) in f.dims.iter().zip(f.values.shape()) {
            match dims.get(d) {
                Some(&m) if m != n => bail!(
                    "{}: dimension {d} is {m} long in one field and {n} in {}",
                    path.display(),
                    f.name
                ),
                _ => {
                    dims.insert(d.clone(), n);
                }
            }
        }
    }
    let mut w = nc::Writer::new(nc::Format::Netcdf4);
    for (d, &n) in &dims {
        w.dim(d, n);
    }
    w.global("Conventions", "CF-1.8")
        .global(
            "source",
            format!("clmtune {}", env!("CARGO_PKG_VERSION")).as_str(),
        )
        .global("history", history);
    if let Some(grid) = grid.as_deref() {
        describe_grid(&mut w, grid);
    }
    for (d, c) in &coords {
        match c {
            Coord::Numbers(v) => {
                w.var(d, &[d.as_str()], v.clone());
            }
            Coord::Text(v) => {
                w.var(d, &[d.as_str()], nc::Values::Text(v.clone()));
            }
        }
    }
    describe(&mut w, fields, arrays).with_context(|| format!("cannot write {}", path.display()))?;
    w.save(path)
}

/// Coordinates and the grid's area, land fraction and land mask: on (lat, lon) for a
/// lat/lon grid; along the cell dimension, with `lat` and `lon` per cell, for a 1-D grid.
pub fn describe_grid(w: &mut nc::Writer, grid: &Grid) {
    let gd = grid.dims();
    let cell_dims: Vec<&str> = gd.iter().map(String::as_str).collect();
    let coord_dims = |name: &'static str| -> Vec<&str> {
        if grid.is_lat_lon() {
            vec![name]
        } else {
            cell_dims.clone()
        }
    };
    for (name, units, std, axis, vals) in [
        ("lat", "degrees_north", "latitude", "Y", &grid.lat),
        ("lon", "degrees_east", "longitude", "X", &grid.lon),
    ] {
        let v = w
            .var(name, &coord_dims(name), vals.clone())
            .attr("units", units)
            .attr("standard_name", std)
            .attr("long_name", std);
        if grid.is_lat_lon() {
            v.attr("axis", axis);
        }
    }
    for (name, units, long, arr) in [
        ("area", "m^2", "grid cell area", &grid.area),
        ("landfrac", "1", "land fraction", &grid.landfrac),
        (
            "landmask",
            "1",
            "land mask (1 land, 0 ocean)",
            &grid.landmask,
        ),
    ] {
        w.var(name, &cell_dims, arr.iter().copied().collect::<Vec<f64>>())
            .attr("units", units)
            .attr("long_name", long)
            .fill(FILL);
    }
}

fn describe(w: &mut nc::Writer, fields: &[&Field], arrays: &[NamedArray]) -> Result<()> {
    let with_months = fields
        .iter()
        .find(|x| x.dims.iter().any(|d| d == "time") && !x.months.is_empty());
    if let Some(tf) = with_months {
        let start: Vec<f64> = tf
            .months
            .iter()
            .map(|&(y, m)| {
                ((y - 1) * 365 + crate::calendar::MONTH_START[(m - 1) as usize] as i64) as f64
            })
            .collect();
        let len: Vec<f64> = tf
            .months
            .iter()
            .map(|&(_, m)| crate::calendar::DAYS_IN_MONTH[(m - 1) as usize] as f64)
            .collect();
        w.dim("nbnd", 2);
        let mid: Vec<f64> = start.iter().zip(&len).map(|(s, l)| s + l / 2.0).collect();
        w.var("time", &["time"], mid)
            .attr("units", "days since 0001-01-01 00:00:00")
            .attr("calendar", "noleap")
            .attr("bounds", "time_bounds")
            .attr("standard_name", "time");
        let bounds: Vec<f64> = start
            .iter()
            .zip(&len)
            .flat_map(|(s, l)| [*s, s + l])
            .collect();
        w.var("time_bounds", &["time", "nbnd"], bounds);
    }
    if let Some(cf) = fields
        .iter()
        .find(|x| x.dims.iter().any(|d| d == "month") && !x.months.is_empty())
    {
        let m: Vec<i32> = cf.months.iter().map(|&(_, m)| m as i32).collect();
        w.var("month", &["month"], m)
            .attr("long_name", "calendar month of the climatology");
    }
    for (dim, long) in super::LABEL_DIMS
        .iter()
        .zip(["case name of the ensemble member", "parameter name"])
    {
        if let Some(mf) = fields
            .iter()
            .find(|x| x.dims.iter().any(|d| d == dim) && !x.members.is_empty())
        {
            w.var(dim, &[dim], nc::Values::Text(mf.members.clone()))
                .attr("long_name", long);
        }
    }
    for fld in fields {
        if FIELD_COORDS.contains(&fld.name.as_str()) {
            bail!(
                "a field may not be called {} (a coordinate of the file)",
                fld.name
            );
        }
        let dn: Vec<&str> = fld.dims.iter().map(String::as_str).collect();
        w.var(
            &fld.name,
            &dn,
            fld.values.iter().copied().collect::<Vec<f64>>(),
        )
        .attr("units", fld.units.as_str())
        .attr("long_name", fld.long_name.as_str())
        .fill(FILL);
    }
    for a in arrays {
        let dn = a.dim_names();
        let dr: Vec<&str> = dn.iter().map(String::as_str).collect();
        let v = w
            .var(&a.name, &dr, a.values.iter().copied().collect::<Vec<f64>>())
            .fill(FILL);
        if !a.units.is_empty() {
            v.attr("units", a.units.as_str());
        }
        if !a.long_name.is_empty() {
            v.attr("long_name", a.long_name.as_str());
        }
    }
    Ok(())
}

/// Reads every variable of a netCDF file that is not a field, a coordinate (a 1-D variable
/// named after its dimension), a grid variable (`area`, `landfrac`, `landmask` beside
/// `lat`/`lon`) or time bounds, as a [`NamedArray`] with the coordinates the file has for
/// its dimensions. Text variables other than coordinates are left out.
pub fn read_arrays(path: &Path) -> Result<BTreeMap<String, NamedArray>> {
    let file = nc::open(path)?;
    let grid_dims = field_grid(&file, path).ok().map(|g| g.dims());
    let has_grid = grid_dims.is_some();
    let mut out = BTreeMap::new();
    for v in file.variables() {
        let name = v.name();
        let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
        let n = dims.len();
        let is_field = grid_dims
            .as_ref()
            .is_some_and(|g| n > g.len() && dims[n - g.len()..] == g[..] && n >= 2);
        let is_coord = n == 1 && dims[0] == name;
        let is_grid =
            has_grid && ["area", "landfrac", "landmask", "lat", "lon"].contains(&name.as_str());
        if is_field
            || is_coord
            || is_grid
            || dims.iter().any(|d| d == "nbnd")
            || !nc::is_numeric(&v)
        {
            continue;
        }
        let shape: Vec<usize> = v.dimensions().iter().map(|d| d.len()).collect();
        let values = ArrayD::from_shape_vec(IxDyn(&shape), nc::read_f64(&file, path, &name)?)?;
        let mut coords = BTreeMap::new();
        for d in &dims {
            if let Some(c) = file.variable(d).filter(|c| c.dimensions().len() == 1) {
                let coord = if matches!(c.vartype(), netcdf::types::NcVariableType::String) {
                    Coord::Text(
                        (0..c.len())
                            .map(|i| c.get_string(i))
                            .collect::<std::result::Result<_, _>>()?,
                    )
                } else {
                    Coord::Numbers(nc::read_f64(&file, path, d)?)
                };
                coords.insert(d.clone(), coord);
            }
        }
        out.insert(
            name.clone(),
            NamedArray {
                units: nc::attr_string(&v, "units").unwrap_or_default(),
                long_name: nc::attr_string(&v, "long_name").unwrap_or_default(),
                name,
                values,
                dims,
                coords,
            },
        );
    }
    Ok(out)
}

/// The fields ([`read_fields`], when the file has a grid and any field) and the other
/// arrays ([`read_arrays`]) of a file; an error if it has neither.
pub fn read_all(path: &Path) -> Result<(BTreeMap<String, Field>, BTreeMap<String, NamedArray>)> {
    let arrays = read_arrays(path)?;
    let fields = match read_fields(path) {
        Ok(f) => f,
        Err(e) if arrays.is_empty() => return Err(e),
        Err(_) => BTreeMap::new(),
    };
    Ok((fields, arrays))
}

/// The grid of a file's fields: CLM's grid variables (see [`super::read::grid_of`]) where
/// the file has `area`, else a lat/lon grid from the `lat` and `lon` coordinates alone, with
/// spherical cell areas between the midpoints of the coordinates and land fraction 1 (any
/// CF file on a lat/lon grid).
pub fn field_grid(file: &netcdf::File, path: &Path) -> Result<Grid> {
    if file.variable("area").is_some() {
        return super::read::grid_of(file, path);
    }
    let one_d = |n: &str| {
        file.variable(n).is_some_and(|v| {
            v.dimensions().len() == 1 && v.dimensions()[0].name() == n && nc::is_numeric(&v)
        })
    };
    if !(one_d("lat") && one_d("lon")) {
        bail!(
            "{}: no grid: neither CLM's area variable nor lat(lat) and lon(lon) coordinates",
            path.display()
        );
    }
    let lat = nc::read_f64(file, path, "lat")?;
    let lon = nc::read_f64(file, path, "lon")?;
    Grid::from_axes(lat, lon).with_context(|| format!("{}", path.display()))
}

/// Reads every field of a file written by [`write_fields`] or any CF file on a grid: every
/// numeric variable whose last dimensions are the grid's ((lat, lon) or the cell dimension
/// of a 1-D grid), other than the grid's own, keyed by name.
pub fn read_fields(path: &Path) -> Result<BTreeMap<String, Field>> {
    let file = nc::open(path)?;
    let grid = Arc::new(field_grid(&file, path)?);
    let gd = grid.dims();
    let ng = gd.len();
    let months: Vec<(i64, u32)> = match file.variable("time") {
        Some(tv) => {
            let axis = crate::calendar::TimeAxis::parse(
                &nc::attr_string(&tv, "units").unwrap_or_default(),
                nc::attr_string(&tv, "calendar").as_deref(),
            )?;
            match file.variable("time_bounds") {
                Some(_) => nc::read_f64(&file, path, "time_bounds")?
                    .chunks(2)
                    .map(|c| axis.interval_month(c[0], c[1]))
                    .collect(),
                None => nc::read_f64(&file, path, "time")?
                    .into_iter()
                    .map(|t| {
                        let (y, m, _) = axis.date(t);
                        (y, m)
                    })
                    .collect(),
            }
        }
        None => Vec::new(),
    };
    let clim_months: Vec<(i64, u32)> = match file.variable("month") {
        Some(_) => nc::read_f64(&file, path, "month")?
            .into_iter()
            .map(|m| (0, m as u32))
            .collect(),
        None => Vec::new(),
    };
    let labels = |dim: &str| -> Result<Vec<String>> {
        Ok(match file.variable(dim) {
            Some(v) => (0..v.len())
                .map(|i| v.get_string(i))
                .collect::<std::result::Result<_, _>>()?,
            None => Vec::new(),
        })
    };
    let members = labels("member")?;
    let parameters = labels("parameter")?;
    let mut out = BTreeMap::new();
    for v in file.variables() {
        let name = v.name();
        let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
        let n = dims.len();
        if ["area", "landfrac", "landmask", "lat", "lon"].contains(&name.as_str())
            || n < ng
            || (n == ng && ng == 1)
            || dims[n - ng..] != gd[..]
            || !nc::is_numeric(&v)
        {
            continue;
        }
        let shape: Vec<usize> = v.dimensions().iter().map(|d| d.len()).collect();
        let values = ArrayD::from_shape_vec(IxDyn(&shape), nc::read_f64(&file, path, &name)?)?;
        let has = |d: &str| dims.iter().any(|x| x == d);
        out.insert(
            name.clone(),
            Field {
                units: nc::attr_string(&v, "units").unwrap_or_default(),
                long_name: nc::attr_string(&v, "long_name").unwrap_or_default(),
                months: if has("time") {
                    months.clone()
                } else if has("month") {
                    clim_months.clone()
                } else {
                    Vec::new()
                },
                members: if has("member") {
                    members.clone()
                } else if has("parameter") {
                    parameters.clone()
                } else {
                    Vec::new()
                },
                name,
                dims,
                values,
                grid: grid.clone(),
            },
        );
    }
    if out.is_empty() {
        bail!(
            "{}: no (…, {}) field in the file",
            path.display(),
            gd.join(", ")
        );
    }
    Ok(out)
}
