//! Writing fields to CF-compliant netCDF-4 (coordinates, units, fill values, time bounds on
//! the noleap calendar, member names, the grid's area and land fraction, a `history`
//! attribute naming the script and settings) that xarray and ncview open; and reading such
//! a file back into identical fields. Written to a temporary file beside the target and
//! renamed; inputs of the run are never overwritten.

use super::{Field, Grid};
use crate::nc;
use anyhow::{bail, Context, Result};
use ndarray::{Array2, ArrayD, IxDyn};
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

/// Writes fields sharing one grid and plain arrays (each with its own dimensions
/// `NAME_0`, `NAME_1`, ...) to `path`; see [`write_fields`].
pub fn write_netcdf(
    path: &Path,
    fields: &[&Field],
    arrays: &[(&str, &ArrayD<f64>)],
    history: &str,
) -> Result<()> {
    if fields.is_empty() && arrays.is_empty() {
        bail!("{}: nothing to write", path.display());
    }
    for name in fields
        .iter()
        .map(|f| f.name.as_str())
        .chain(arrays.iter().map(|a| a.0))
    {
        nc::check_name(name, "variable")
            .with_context(|| format!("cannot write {}: key {name:?}", path.display()))?;
    }
    let grid = fields.first().map(|f| f.grid.clone());
    let mut dims: BTreeMap<String, usize> = BTreeMap::new();
    for (name, a) in arrays {
        for (k, &n) in a.shape().iter().enumerate() {
            dims.insert(format!("{name}_{k}"), n);
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
    describe(&mut w, fields, arrays).with_context(|| format!("cannot write {}", path.display()))?;
    w.save(path)
}

/// Coordinates and the grid's area, land fraction and land mask.
fn describe_grid(w: &mut nc::Writer, grid: &Grid) {
    for (name, units, std, vals) in [
        ("lat", "degrees_north", "latitude", &grid.lat),
        ("lon", "degrees_east", "longitude", &grid.lon),
    ] {
        w.var(name, &[name], vals.clone())
            .attr("units", units)
            .attr("standard_name", std);
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
        w.var(
            name,
            &["lat", "lon"],
            arr.iter().copied().collect::<Vec<f64>>(),
        )
        .attr("units", units)
        .attr("long_name", long)
        .fill(FILL);
    }
}

fn describe(w: &mut nc::Writer, fields: &[&Field], arrays: &[(&str, &ArrayD<f64>)]) -> Result<()> {
    let with_months = fields
        .iter()
        .find(|x| x.dims.iter().any(|d| d == "time") && !x.months.is_empty());
    if let Some(tf) = with_months {
        let start: Vec<f64> = tf
            .months
            .iter()
            .map(|&(y, m)| ((y - 1) * 365 + nc::MONTH_START[(m - 1) as usize] as i64) as f64)
            .collect();
        let len: Vec<f64> = tf
            .months
            .iter()
            .map(|&(_, m)| nc::DAYS_IN_MONTH[(m - 1) as usize] as f64)
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
        if [
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
        ]
        .contains(&fld.name.as_str())
        {
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
    for (name, a) in arrays {
        let dn: Vec<String> = (0..a.ndim()).map(|k| format!("{name}_{k}")).collect();
        let dr: Vec<&str> = dn.iter().map(String::as_str).collect();
        w.var(name, &dr, a.iter().copied().collect::<Vec<f64>>())
            .fill(FILL);
    }
    Ok(())
}

/// Reads every field of a file written by [`write_fields`] (any variable whose last two
/// dimensions are lat, lon, other than the grid's own), keyed by name.
pub fn read_fields(path: &Path) -> Result<BTreeMap<String, Field>> {
    let file = nc::open(path)?;
    let lat = nc::read_f64(&file, path, "lat")?;
    let lon = nc::read_f64(&file, path, "lon")?;
    let (nlat, nlon) = (lat.len(), lon.len());
    let arr = |name: &str| -> Result<Array2<f64>> {
        Ok(Array2::from_shape_vec(
            (nlat, nlon),
            nc::read_f64(&file, path, name)?,
        )?)
    };
    let area_var = nc::variable(&file, path, "area")?;
    let au = nc::attr_string(&area_var, "units").unwrap_or_else(|| "m^2".into());
    let (scale, _) = super::units::conversion(&au, "m^2")
        .map_err(|e| anyhow::anyhow!("{}: area: {e}", path.display()))?;
    let grid = Arc::new(Grid {
        lat,
        lon,
        area: arr("area")? * scale,
        landfrac: arr("landfrac")?,
        landmask: arr("landmask")?,
    });
    let months: Vec<(i64, u32)> = match file.variable("time") {
        Some(tv) => {
            let axis = nc::TimeAxis::parse(
                &nc::attr_string(&tv, "units").unwrap_or_default(),
                nc::attr_string(&tv, "calendar").as_deref(),
            )?;
            let b = nc::read_f64(&file, path, "time_bounds")?;
            b.chunks(2)
                .map(|c| axis.interval_month(c[0], c[1]))
                .collect()
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
        if ["area", "landfrac", "landmask"].contains(&name.as_str())
            || n < 2
            || dims[n - 2] != "lat"
            || dims[n - 1] != "lon"
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
        bail!("{}: no (…, lat, lon) field in the file", path.display());
    }
    Ok(out)
}
