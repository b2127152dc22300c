//! xarray's habits for fields: reductions over a named dimension, selection by label
//! (`sel`) or position (`isel`), dropping length-one dimensions (`squeeze`), a field from an
//! array with another field's grid and units (`with_array`), and broadcasting by dimension
//! name for arithmetic.

use super::{units, Field, LABEL_DIMS};
use crate::array::reduce::{reduce_values, Reduction};
use anyhow::{bail, Result};
use ndarray::{ArrayD, Axis, IxDyn};

/// Dimensions whose steps are labelled by [`Field::months`].
const TIME_DIMS: [&str; 3] = ["time", "month", "year"];

/// A label for [`Field::sel`]: a member or parameter name, a month `"2000-01"` of `time`, a
/// year of `year` or a month number 1..12 of `month`.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    /// A name or a `YYYY-MM` month.
    Text(String),
    /// A year or a month number.
    Number(i64),
}

impl Field {
    /// Whether `dim` is one of the grid's dimensions (`lat`, `lon`, or a 1-D grid's cells).
    fn is_grid_dim(&self, dim: &str) -> bool {
        self.grid.dims().iter().any(|d| d == dim)
    }

    fn no_grid_dim(&self, dim: &str, what: &str) -> Result<usize> {
        if self.is_grid_dim(dim) {
            bail!(
                "field {}: {what} over {dim} is not supported: a field keeps its grid ({}) \
                 (use global_mean or regional_mean, or .values for an Array)",
                self.name,
                self.grid.dims().join(", ")
            );
        }
        self.axis(dim)
    }

    /// Reduces over the named dimension `dim` (not `lat`/`lon`) skipping missing values, as
    /// xarray's `f.mean("member")` with `skipna=True`; a cell with no defined value stays
    /// missing (for `Sum` this is xarray's `min_count=1`). Units are kept, squared for a
    /// variance.
    pub fn reduce_dim(&self, dim: &str, r: Reduction) -> Result<Field> {
        let ax = self.no_grid_dim(dim, r.name())?;
        let mut err = None;
        let v = self.values.map_axis(Axis(ax), |lane| {
            if lane.iter().all(|x| x.is_nan()) {
                return f64::NAN;
            }
            reduce_values(r, lane.iter().copied(), true).unwrap_or_else(|e| {
                err.get_or_insert(e);
                f64::NAN
            })
        });
        if let Some(e) = err {
            bail!("field {}: {} over {dim}: {e}", self.name, r.name());
        }
        let mut f = self.with_values(v, self.without(ax));
        if matches!(r, Reduction::Var(_)) {
            f.units = units::product(&self.units, &self.units);
        }
        Ok(f)
    }

    /// The field at position `index` of `dim` (negative counts from the end), which
    /// disappears (xarray's `isel`).
    pub fn isel(&self, dim: &str, index: i64) -> Result<Field> {
        let ax = self.no_grid_dim(dim, "isel")?;
        let len = self.values.shape()[ax];
        let i = if index < 0 { index + len as i64 } else { index };
        if i < 0 || i >= len as i64 {
            bail!(
                "field {}: index {index} is out of range for {dim} of length {len}",
                self.name
            );
        }
        let i = i as usize;
        let v = self.values.index_axis(Axis(ax), i).to_owned();
        let mut f = self.with_values(v, self.without(ax));
        // the label of the chosen step survives as the name, as xarray keeps a scalar coord
        if LABEL_DIMS.contains(&dim) {
            if let Some(m) = self.members.get(i) {
                f.long_name = format!("{} ({dim} {m})", self.long_name);
            }
        }
        if TIME_DIMS.contains(&dim) && !f.dims.iter().any(|d| TIME_DIMS.contains(&d.as_str())) {
            f.months.clear();
        }
        Ok(f)
    }

    /// The field at the step of `dim` labelled `label` (xarray's `sel`).
    pub fn sel(&self, dim: &str, label: &Label) -> Result<Field> {
        let ax = self.no_grid_dim(dim, "sel")?;
        let len = self.values.shape()[ax];
        let found = match (dim, label) {
            (d, Label::Text(s)) if LABEL_DIMS.contains(&d) => {
                self.members.iter().position(|m| m == s)
            }
            ("time", Label::Text(s)) => (0..len.min(self.months.len())).find(|&k| {
                let (y, m) = self.months[k];
                format!("{y:04}-{m:02}") == *s
            }),
            ("year", Label::Number(y)) => {
                (0..len.min(self.months.len())).find(|&k| self.months[k].0 == *y)
            }
            ("month", Label::Number(m)) => {
                (0..len.min(self.months.len())).find(|&k| i64::from(self.months[k].1) == *m)
            }
            _ => bail!(
                "field {}: sel on {dim} takes {}",
                self.name,
                match dim {
                    "time" => "a month such as \"2000-01\"",
                    "year" => "a year (an int)",
                    "month" => "a month number 1..12",
                    d if LABEL_DIMS.contains(&d) => "a name",
                    _ => "nothing: it has no labels (use isel)",
                }
            ),
        };
        let shown = match label {
            Label::Text(s) => format!("\"{s}\""),
            Label::Number(n) => n.to_string(),
        };
        match found {
            Some(i) => self.isel(dim, i as i64),
            None => bail!(
                "field {}: {dim} has no label {shown}{}",
                self.name,
                if LABEL_DIMS.contains(&dim) {
                    format!(" (it has {})", self.members.join(", "))
                } else {
                    String::new()
                }
            ),
        }
    }

    /// The field without its length-one dimensions (xarray's `squeeze`); `lat` and `lon`
    /// always stay.
    pub fn squeeze(&self) -> Field {
        let mut f = self.clone();
        while let Some(ax) = f
            .dims
            .iter()
            .zip(f.values.shape())
            .position(|(d, &n)| n == 1 && !f.is_grid_dim(d))
        {
            let dim = f.dims[ax].clone();
            // isel cannot fail here: index 0 of a length-one non-grid dimension
            match f.isel(&dim, 0) {
                Ok(g) => f = g,
                Err(_) => break,
            }
        }
        f
    }

    /// A field holding `values` with this field's grid, units and name (xarray's
    /// `f.copy(data=values)`), so that maps computed as Arrays (EOF patterns, cost maps)
    /// keep their grid and write as CF netCDF. The last two dimensions of `values` must be
    /// this grid's (lat, lon); the leading ones are named by `dims`, or take this field's
    /// names when the shape is the same, else `dim_0`, `dim_1`, ... (xarray's default).
    /// A leading dimension named `member`/`parameter` or `time`/`month`/`year` keeps this
    /// field's labels when its length matches.
    pub fn with_array(&self, values: ArrayD<f64>, dims: Option<Vec<String>>) -> Result<Field> {
        let gshape = self.grid.spatial_shape();
        let gdims = self.grid.dims();
        let ng = gshape.len();
        let shape = values.shape().to_vec();
        if shape.len() < ng || shape[shape.len() - ng..] != gshape[..] {
            let sizes: Vec<String> = gdims
                .iter()
                .zip(&gshape)
                .map(|(d, n)| format!("{d} {n}"))
                .collect();
            bail!(
                "with_values: an Array of shape {} does not end with the grid of field {} \
                 ({})",
                crate::array::fmt_shape(&shape),
                self.name,
                sizes.join(", ")
            );
        }
        let lead = shape.len() - ng;
        let names: Vec<String> = match dims {
            Some(d) => {
                let d: Vec<String> = d.into_iter().filter(|x| !gdims.contains(x)).collect();
                if d.len() != lead {
                    bail!(
                        "with_values: {} dimension names for {lead} leading dimensions of shape {}",
                        d.len(),
                        crate::array::fmt_shape(&shape)
                    );
                }
                d
            }
            None if shape == self.values.shape() => self.dims[..lead].to_vec(),
            None => (0..lead).map(|i| format!("dim_{i}")).collect(),
        };
        let mut seen = names.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != names.len() {
            bail!("with_values: repeated dimension name in {names:?}");
        }
        let mut f = self.clone();
        f.members.clear();
        f.months.clear();
        for (i, n) in names.iter().enumerate() {
            let own = self.dims.iter().position(|d| d == n);
            let same_len = own.is_some_and(|ax| self.values.shape()[ax] == shape[i]);
            if LABEL_DIMS.contains(&n.as_str()) && same_len {
                f.members = self.members.clone();
            }
            if TIME_DIMS.contains(&n.as_str()) && same_len {
                f.months = self.months.clone();
            }
        }
        f.dims = names;
        f.dims.extend(gdims);
        f.values = values;
        Ok(f)
    }

    /// Both operands' values broadcast by dimension name (as xarray): the result has this
    /// field's dimensions, then the other's that this one lacks, then lat and lon. A
    /// dimension both have must have the same length (and labels).
    pub fn broadcast_with(&self, other: &Field) -> Result<(Vec<String>, ArrayD<f64>, ArrayD<f64>)> {
        let mut dims: Vec<String> = self
            .dims
            .iter()
            .filter(|d| !self.is_grid_dim(d))
            .cloned()
            .collect();
        for d in &other.dims {
            if !self.is_grid_dim(d) && !dims.contains(d) {
                dims.push(d.clone());
            }
        }
        dims.extend(self.grid.dims());
        let len_of = |f: &Field, d: &str| {
            f.dims
                .iter()
                .position(|x| x == d)
                .map(|ax| f.values.shape()[ax])
        };
        let mut full = Vec::with_capacity(dims.len());
        for d in &dims {
            match (len_of(self, d), len_of(other, d)) {
                (Some(a), Some(b)) if a != b => bail!(
                    "fields {} and {} differ in the length of {d}: {a} and {b}",
                    self.name,
                    other.name
                ),
                (Some(a), _) | (None, Some(a)) => full.push(a),
                (None, None) => full.push(1),
            }
            let both = self.dims.contains(d) && other.dims.contains(d);
            if both
                && LABEL_DIMS.contains(&d.as_str())
                && !self.members.is_empty()
                && !other.members.is_empty()
                && self.members != other.members
            {
                bail!(
                    "fields {} and {} have different {d} labels",
                    self.name,
                    other.name
                );
            }
        }
        let expand = |f: &Field| -> Result<ArrayD<f64>> {
            let perm: Vec<usize> = dims
                .iter()
                .filter_map(|d| f.dims.iter().position(|x| x == d))
                .collect();
            if perm.len() != f.dims.len() {
                bail!("field {} has a dimension twice", f.name);
            }
            let moved = f.values.view().permuted_axes(IxDyn(&perm));
            let shape: Vec<usize> = dims.iter().map(|d| len_of(f, d).unwrap_or(1)).collect();
            let v = ArrayD::from_shape_vec(IxDyn(&shape), moved.iter().copied().collect())?;
            Ok(match v.broadcast(IxDyn(&full)) {
                Some(b) => b.to_owned(),
                None => bail!("fields cannot be broadcast to {:?}", full),
            })
        };
        let (a, b) = (expand(self)?, expand(other)?);
        Ok((dims, a, b))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Grid;
    use super::*;
    use ndarray::Array2;
    use std::sync::Arc;

    /// member x lat x lon = 3 x 1 x 2, members a, b, c; values
    /// [[[1, 2]], [[3, NaN]], [[8, 6]]].
    fn ens() -> Field {
        Field {
            name: "GPP".into(),
            units: "gC/m^2/s".into(),
            long_name: "gpp".into(),
            dims: vec!["member".into(), "lat".into(), "lon".into()],
            values: ArrayD::from_shape_vec(
                IxDyn(&[3, 1, 2]),
                vec![1.0, 2.0, 3.0, f64::NAN, 8.0, 6.0],
            )
            .unwrap(),
            grid: Arc::new(
                Grid::lat_lon(
                    vec![0.0],
                    vec![0.0, 10.0],
                    Array2::ones((1, 2)),
                    Array2::ones((1, 2)),
                    Array2::ones((1, 2)),
                )
                .unwrap(),
            ),
            months: vec![],
            members: vec!["a".into(), "b".into(), "c".into()],
        }
    }

    #[test]
    fn reductions_over_member_match_xarray() {
        // xarray 2026.9: d = xr.DataArray([[[1,2]],[[3,nan]],[[8,6]]], dims=("member","lat","lon"))
        //   .mean("member") = [[4, 4]]; .std("member") = [[2.94392029, 2.0]];
        //   .median("member") = [[3, 4]]; .sum("member", min_count=1) = [[12, 8]];
        //   .var("member") = [[8.66666667, 4]]; d.sel(member="b") = [[3, nan]]
        let f = ens();
        let m = f.reduce_dim("member", Reduction::Mean).unwrap();
        assert_eq!(m.dims, vec!["lat", "lon"]);
        assert!(m.members.is_empty());
        assert_eq!(m.values.iter().copied().collect::<Vec<_>>(), vec![4.0, 4.0]);
        let s = f.reduce_dim("member", Reduction::Std(0.0)).unwrap();
        assert!((s.values[[0, 0]] - 2.943_920_288_775_949).abs() < 1e-12);
        assert_eq!(s.values[[0, 1]], 2.0);
        let md = f.reduce_dim("member", Reduction::Median).unwrap();
        assert_eq!(
            md.values.iter().copied().collect::<Vec<_>>(),
            vec![3.0, 4.0]
        );
        let sm = f.reduce_dim("member", Reduction::Sum).unwrap();
        assert_eq!(
            sm.values.iter().copied().collect::<Vec<_>>(),
            vec![12.0, 8.0]
        );
        let v = f.reduce_dim("member", Reduction::Var(0.0)).unwrap();
        assert_eq!(v.units, "(gC/m^2/s)^2");
        assert!(f.reduce_dim("lat", Reduction::Mean).is_err());
        assert!(f.reduce_dim("time", Reduction::Mean).is_err());
    }

    #[test]
    fn sel_isel_squeeze_by_hand() {
        let f = ens();
        let b = f.sel("member", &Label::Text("b".into())).unwrap();
        assert_eq!(b.dims, vec!["lat", "lon"]);
        assert_eq!(b.values[[0, 0]], 3.0);
        let c = f.isel("member", -1).unwrap();
        assert_eq!(c.values[[0, 1]], 6.0);
        let e = f.sel("member", &Label::Text("z".into())).unwrap_err();
        assert!(e.to_string().contains("a, b, c"), "{e}");
        assert!(f.isel("member", 3).is_err());
        let one = f
            .with_array(
                f.values.slice_axis(Axis(0), (0..1).into()).to_owned(),
                Some(vec!["member".into()]),
            )
            .unwrap();
        assert_eq!(one.values.shape(), &[1, 1, 2]);
        // the length differs from the 3 members: no labels
        assert!(one.members.is_empty());
        let sq = one.squeeze();
        assert_eq!(sq.dims, vec!["lat", "lon"]);
        assert_eq!(sq.values[[0, 1]], 2.0);
    }

    #[test]
    fn with_array_keeps_grid_and_units_and_names_dimensions() {
        let f = ens();
        let same = f.with_array(f.values.clone() * 2.0, None).unwrap();
        assert_eq!(same.dims, f.dims);
        assert_eq!(same.members, f.members);
        assert_eq!(same.units, "gC/m^2/s");
        let modes = f
            .with_array(ArrayD::zeros(IxDyn(&[2, 1, 2])), Some(vec!["mode".into()]))
            .unwrap();
        assert_eq!(modes.dims, vec!["mode", "lat", "lon"]);
        let map = f.with_array(ArrayD::zeros(IxDyn(&[1, 2])), None).unwrap();
        assert_eq!(map.dims, vec!["lat", "lon"]);
        let anon = f
            .with_array(ArrayD::zeros(IxDyn(&[2, 1, 2])), None)
            .unwrap();
        assert_eq!(anon.dims, vec!["dim_0", "lat", "lon"]);
        assert!(f.with_array(ArrayD::zeros(IxDyn(&[2, 2])), None).is_err());
    }

    #[test]
    fn arithmetic_broadcasts_by_dimension_name_and_squares_units() {
        // d = xr.DataArray([[[1,2]],[[3,nan]],[[8,6]]], dims=("member","lat","lon"));
        // (d - d.mean("member")).dims = (member, lat, lon), [2] = [[4, 2]];
        // (d.mean("member") - d) is (lat, lon, member) in xarray, [[-4, -2]] for member 2
        // (clmtune keeps lat, lon last)
        let f = ens();
        let m = f.reduce_dim("member", Reduction::Mean).unwrap();
        let anom = f.combine(&m, '-').unwrap();
        assert_eq!(anom.dims, vec!["member", "lat", "lon"]);
        assert_eq!(anom.members, f.members);
        assert_eq!(anom.values[[2, 0, 0]], 4.0);
        assert_eq!(anom.values[[2, 0, 1]], 2.0);
        // the map first: (lat, lon) with (member, lat, lon)
        let r = m.combine(&f, '-').unwrap();
        assert_eq!(r.dims, vec!["member", "lat", "lon"]);
        assert_eq!(r.values[[2, 0, 0]], -4.0);
        let sq = f.combine(&f, '*').unwrap();
        assert_eq!(sq.units, "(gC/m^2/s)^2");
        assert_eq!(sq.values[[2, 0, 0]], 64.0);
        let two = f.isel("member", 0).unwrap();
        let bad = f
            .with_array(
                ArrayD::zeros(IxDyn(&[2, 1, 2])),
                Some(vec!["member".into()]),
            )
            .unwrap();
        assert!(f
            .combine(&bad, '+')
            .unwrap_err()
            .to_string()
            .contains("length of member"));
        assert!(two.combine(&f, '+').is_ok());
    }
}
