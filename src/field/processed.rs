//! Post-processed ensembles: per variable one netCDF file holding every member's map along a
//! member dimension (any name, e.g. `ens`), on a lat/lon or a 1-D grid, as NCAR distributes
//! its CLM5 PPE and as Dagon et al. (2020) kept theirs (`outputdata_GPP_forSVD_100.nc`:
//! `GPP(ens, lat, lon)` plus a 0/1 `datamask(lat, lon)`), and the default run's map in a file
//! of the same layout without members. Files without CLM's `area` get their grid from the
//! `lat` and `lon` coordinates ([`super::write::field_grid`]).

use super::{Field, Grid};
use crate::nc;
use anyhow::{bail, Context, Result};
use ndarray::{Array1, ArrayD, IxDyn};
use std::path::Path;
use std::sync::Arc;

/// The members of a processed ensemble: a field with dims (member, <grid dims>) whose
/// member labels are the member numbers 1.., and the mask variable's values per cell (if
/// asked for).
pub struct Members {
    /// The field (member, lat, lon) or (member, cell).
    pub field: Field,
    /// The 0/1 mask per cell, when a mask variable was named.
    pub mask: Option<Array1<f64>>,
}

fn dims_of(v: &netcdf::Variable) -> Vec<String> {
    v.dimensions().iter().map(|d| d.name()).collect()
}

/// Reads variable `var` of a processed ensemble file: its dimensions must be the member
/// dimension (`member_dim`, or the first dimension that is not the grid's) followed by the
/// grid's; fill values become missing. `mask` names a 0/1 variable on the grid.
pub fn read_members(
    path: &Path,
    var: &str,
    member_dim: Option<&str>,
    mask: Option<&str>,
) -> Result<Members> {
    let file = nc::open(path)?;
    let grid = Arc::new(super::write::field_grid(&file, path)?);
    let gd = grid.dims();
    let v = nc::variable(&file, path, var)?;
    let dims = dims_of(&v);
    let lens: Vec<usize> = v.dimensions().iter().map(|d| d.len()).collect();
    let want_member = match member_dim {
        Some(m) => m.to_string(),
        None => dims
            .iter()
            .find(|d| !gd.contains(d))
            .cloned()
            .with_context(|| {
                format!(
                    "{}: {var} has dimensions ({}): no member dimension besides the grid's ({})",
                    path.display(),
                    dims.join(", "),
                    gd.join(", ")
                )
            })?,
    };
    let mut want = vec![want_member.clone()];
    want.extend(gd.iter().cloned());
    if dims != want || lens[1..] != grid.spatial_shape()[..] {
        bail!(
            "{}: {var} has dimensions ({}); a processed ensemble needs ({})",
            path.display(),
            dims.join(", "),
            want.join(", ")
        );
    }
    let nm = lens[0];
    if nm < 2 {
        bail!(
            "{}: {var} has {nm} member(s) along {want_member}; an ensemble needs at least 2",
            path.display()
        );
    }
    let values = ArrayD::from_shape_vec(IxDyn(&lens), nc::read_f64(&file, path, var)?)?;
    let mask = match mask {
        None => None,
        Some(m) => {
            let mv = nc::variable(&file, path, m)?;
            if dims_of(&mv) != gd {
                bail!(
                    "{}: the mask {m} has dimensions ({}); it needs the grid's ({})",
                    path.display(),
                    dims_of(&mv).join(", "),
                    gd.join(", ")
                );
            }
            let vals = nc::read_f64(&file, path, m)?;
            if let Some(x) = vals
                .iter()
                .find(|x| !(x.is_nan() || **x == 0.0 || **x == 1.0))
            {
                bail!(
                    "{}: the mask {m} holds {x}; a mask holds 0 and 1",
                    path.display()
                );
            }
            Some(Array1::from_iter(vals.into_iter().map(|x| {
                if x == 1.0 {
                    1.0
                } else {
                    0.0
                }
            })))
        }
    };
    let mut fdims = vec!["member".to_string()];
    fdims.extend(gd);
    Ok(Members {
        field: Field {
            name: var.to_string(),
            units: nc::attr_string(&v, "units").unwrap_or_default(),
            long_name: nc::attr_string(&v, "long_name").unwrap_or_default(),
            dims: fdims,
            values,
            grid,
            months: Vec::new(),
            members: (1..=nm).map(|k| k.to_string()).collect(),
        },
        mask,
    })
}

/// Reads the default run's map `var` from a file of the ensemble's layout without members
/// (a leading dimension of length 1 is allowed), as a one-member field on `grid`; its grid
/// must be the same.
pub fn read_default(path: &Path, var: &str, grid: &Arc<Grid>) -> Result<Field> {
    let file = nc::open(path)?;
    let g = super::write::field_grid(&file, path)?;
    if let Some(d) = g.coord_difference(grid) {
        bail!(
            "{}: the default run is on another grid than the ensemble ({d})",
            path.display()
        );
    }
    let v = nc::variable(&file, path, var)?;
    let dims = dims_of(&v);
    let lens: Vec<usize> = v.dimensions().iter().map(|d| d.len()).collect();
    let gd = grid.dims();
    let ok = (dims == gd) || (dims.len() == gd.len() + 1 && lens[0] == 1 && dims[1..] == gd[..]);
    if !ok {
        bail!(
            "{}: {var} has dimensions ({}); the default run needs ({}) or one leading dimension of length 1",
            path.display(),
            dims.join(", "),
            gd.join(", ")
        );
    }
    let mut shape = vec![1];
    shape.extend(grid.spatial_shape());
    let values = ArrayD::from_shape_vec(IxDyn(&shape), nc::read_f64(&file, path, var)?)?;
    let mut fdims = vec!["member".to_string()];
    fdims.extend(gd);
    Ok(Field {
        name: var.to_string(),
        units: nc::attr_string(&v, "units").unwrap_or_default(),
        long_name: nc::attr_string(&v, "long_name").unwrap_or_default(),
        dims: fdims,
        values,
        grid: grid.clone(),
        months: Vec::new(),
        members: vec!["default".into()],
    })
}

/// Reads a small file of numbers: a `.npy` file (any shape, flattened in C order) or a text
/// file of numbers separated by commas, spaces or new lines (a CSV header line of names is
/// skipped). For saved projections and sigmas.
pub fn read_numbers(path: &Path) -> Result<Vec<f64>> {
    if path.extension().is_some_and(|e| e == "npy") {
        return Ok(crate::npy::read_npy(path)?.iter().copied().collect());
    }
    let text = crate::files::read_text(path, "numbers")?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line
            .split([',', ' ', '\t', ';'])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        let parsed: Vec<Option<f64>> = cells.iter().map(|c| c.parse().ok()).collect();
        if i == 0 && !cells.is_empty() && parsed.iter().all(Option::is_none) {
            continue; // a header
        }
        for (c, p) in cells.iter().zip(parsed) {
            out.push(p.with_context(|| {
                format!(
                    "{}:{}: '{c}' is not a number",
                    path.display(),
                    i + 1,
                    c = crate::format::printable(c)
                )
            })?);
        }
    }
    Ok(out)
}
