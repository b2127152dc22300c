//! Empirical orthogonal functions of an ensemble (Dagon et al. 2020, Eq. 3 and 5), in the
//! manner of Python's eofs: all the work happens when an [`Eof`] is built; afterwards the
//! EOF maps, principal components, singular values, variance fractions, projections of other
//! fields and reconstructions are cheap.
//!
//! `X = U s V`: X holds the weighted anomalies (member minus ensemble mean, times the cell
//! weight) over the cells of the mask, one row per member. Sign convention: each EOF (row of
//! V) is flipped so that its loading of largest magnitude is positive, with the matching
//! column of U flipped too, so results compare between runs and machines.

pub mod stage;

use crate::field::Grid;
use anyhow::{bail, Context, Result};
use ndarray::{Array, Array1, Array2, ArrayD, Axis, Dimension, IxDyn};
use std::path::Path;

/// How grid cells are weighted before the SVD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Weighting {
    /// By cell area (m^2), as the authors did (LHF anomalies become TW-like units).
    Area,
    /// By the square root of the area (common EOF practice: variance weighted by area).
    SqrtArea,
    /// No weighting.
    None,
    /// The weights map a script gave (e.g. Python eofs' `sqrt(cos(lat))`), used as is.
    Given,
}

impl Weighting {
    /// The name the option and the files use: `area`, `sqrt_area`, `none` or `given`.
    pub fn name(&self) -> &'static str {
        match self {
            Weighting::Area => "area",
            Weighting::SqrtArea => "sqrt_area",
            Weighting::None => "none",
            Weighting::Given => "given",
        }
    }

    /// The units of the weights: m^2, m or 1.
    pub fn units(&self) -> &'static str {
        match self {
            Weighting::Area => "m^2",
            Weighting::SqrtArea => "m",
            Weighting::None | Weighting::Given => "1",
        }
    }
}

impl std::str::FromStr for Weighting {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "area" => Weighting::Area,
            "sqrt_area" | "sqrt(area)" => Weighting::SqrtArea,
            "none" => Weighting::None,
            _ => bail!(
                "unknown weighting '{s}': use area, sqrt_area or none",
                s = crate::format::printable(s)
            ),
        })
    }
}

/// A fitted EOF analysis of a stack of maps: (member, lat, lon) on a lat/lon grid, or
/// (member, cell) on a 1-D grid.
#[derive(Debug, Clone)]
pub struct Eof {
    /// The shape of one map: [nlat, nlon] or [ncell].
    shape: Vec<usize>,
    /// Flat (row-major) indices of the cells analysed.
    cells: Vec<usize>,
    /// Weight of each analysed cell.
    weights: Array1<f64>,
    /// Ensemble mean of each analysed cell (unweighted).
    mean: Array1<f64>,
    /// Left singular vectors, members x modes (the PCs the emulators learn).
    u: Array2<f64>,
    /// Singular values, descending.
    s: Array1<f64>,
    /// Right singular vectors, modes x cells (the EOFs).
    vt: Array2<f64>,
    /// How the cells were weighted (`None`: loaded from a file that does not say).
    weighting: Option<Weighting>,
}

impl Eof {
    /// Builds the analysis. `stack` is (member, lat, lon), or (member, cell) on a 1-D grid;
    /// `area` (one map) gives the weights (with [`Weighting::Given`] it is the weights map
    /// itself); `mask` (one map), if given, limits the cells (e.g. the observation data
    /// mask); cells undefined in any member, or with a zero or undefined area (weight), are
    /// always left out. With `centre` false the members are analysed as they are (fields
    /// that are already anomalies, as the authors' processed ensembles are), not minus
    /// their mean.
    pub fn new<D: Dimension, E: Dimension>(
        stack: &Array<f64, D>,
        area: &Array<f64, E>,
        mask: Option<&Array<f64, E>>,
        weighting: Weighting,
    ) -> Result<Eof> {
        Eof::with_centring(stack, area, mask, weighting, true)
    }

    /// [`Eof::new`] with the choice of centring (see there).
    pub fn with_centring<D: Dimension, E: Dimension>(
        stack: &Array<f64, D>,
        area: &Array<f64, E>,
        mask: Option<&Array<f64, E>>,
        weighting: Weighting,
        centre: bool,
    ) -> Result<Eof> {
        let dims = stack.shape();
        if dims.len() < 2 {
            bail!(
                "an EOF analysis needs a stack of maps (member, ...), got {} dimension(s)",
                dims.len()
            );
        }
        let nm = dims[0];
        let shape: Vec<usize> = dims[1..].to_vec();
        let ncell: usize = shape.iter().product();
        if nm < 2 {
            bail!("an EOF analysis needs at least 2 members, got {nm}");
        }
        if area.shape() != &shape[..] || mask.is_some_and(|m| m.shape() != &shape[..]) {
            bail!("weights and mask must be {shape:?} like the members' maps");
        }
        let stack = stack.as_standard_layout();
        let flat = stack
            .view()
            .into_shape_with_order((nm, ncell))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mask_f: Option<Vec<f64>> = mask.map(|m| m.iter().copied().collect());
        let area_f: Vec<f64> = area.iter().copied().collect();
        let cells: Vec<usize> = (0..ncell)
            .filter(|&c| {
                mask_f.as_ref().is_none_or(|m| m[c] != 0.0)
                    && area_f[c].is_finite()
                    && area_f[c] > 0.0
                    && flat.column(c).iter().all(|x| x.is_finite())
            })
            .collect();
        if cells.len() < 2 {
            bail!(
                "only {} cell(s) are defined in every member and inside the mask",
                cells.len()
            );
        }
        let weights: Array1<f64> = cells
            .iter()
            .map(|&c| match weighting {
                Weighting::Area | Weighting::Given => area_f[c],
                Weighting::SqrtArea => area_f[c].sqrt(),
                Weighting::None => 1.0,
            })
            .collect();
        let sub = flat.select(Axis(1), &cells);
        let mean = if centre {
            sub.mean_axis(Axis(0)).expect("at least two members")
        } else {
            Array1::zeros(cells.len())
        };
        let x = (&sub - &mean) * &weights;
        // Values near the largest float overflow in the mean or the SVD's sums of squares:
        // refuse them here, before an SVD that would iterate for minutes or give NaN.
        let ss = x.iter().fold(0.0f64, |s, v| s + v * v);
        if !ss.is_finite() {
            bail!(
                "the field's weighted anomalies are too large for an SVD (their sum of squares overflows, largest |value| {:e}): convert to smaller units first",
                sub.iter().fold(0.0f64, |m, v| m.max(v.abs()))
            );
        }
        // No spread at all, or a spread below what floats resolve at these values
        // (FE + 1e300: every anomaly is rounding): variance fractions would be 0 / 0.
        let largest = sub.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let spread = (&sub - &mean).iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if ss == 0.0 || spread <= 1e-13 * largest {
            bail!(
                "the members do not differ (largest difference from their mean {spread:e} at values up to {largest:e}{}): an EOF analysis needs members that vary",
                if spread > 0.0 { ", below what floats resolve there" } else { "" }
            );
        }
        let m = nalgebra::DMatrix::from_row_slice(
            nm,
            cells.len(),
            x.as_standard_layout().as_slice().expect("standard layout"),
        );
        let svd = nalgebra::linalg::SVD::try_new(m, true, true, f64::EPSILON, 0)
            .ok_or_else(|| anyhow::anyhow!("the SVD did not converge"))?;
        let (Some(u), Some(vt)) = (svd.u, svd.v_t) else {
            bail!("the SVD gave no singular vectors")
        };
        let k = svd.singular_values.len();
        let mut u = Array2::from_shape_fn((nm, k), |(i, j)| u[(i, j)]);
        let mut vt = Array2::from_shape_fn((k, cells.len()), |(i, j)| vt[(i, j)]);
        let s = Array1::from_iter(svd.singular_values.iter().copied());
        for j in 0..k {
            let row = vt.row(j);
            let big = row
                .iter()
                .copied()
                .fold(0.0f64, |a, b| if b.abs() > a.abs() { b } else { a });
            if big < 0.0 {
                vt.row_mut(j).mapv_inplace(|v| -v);
                u.column_mut(j).mapv_inplace(|v| -v);
            }
        }
        Ok(Eof {
            shape,
            cells,
            weights,
            mean,
            u,
            s,
            vt,
            weighting: Some(weighting),
        })
    }

    /// Flips the sign of modes so that each of the first `reference.ncols()` PCs points the
    /// way of the same column of `reference` (e.g. PCs saved by another tool, whose
    /// projections are given): a mode whose PC has a negative dot product with the
    /// reference's is flipped (EOF and PC together). Returns the largest absolute
    /// difference between the PCs and the reference afterwards.
    pub fn align_signs(&mut self, reference: &Array2<f64>) -> Result<f64> {
        let k = reference.ncols();
        if reference.nrows() != self.u.nrows() || k > self.modes() {
            bail!(
                "reference PCs of shape ({}, {k}) do not fit {} members and {} modes",
                reference.nrows(),
                self.u.nrows(),
                self.modes()
            );
        }
        let mut worst = 0.0f64;
        for j in 0..k {
            let dot: f64 = self.u.column(j).dot(&reference.column(j));
            if dot < 0.0 {
                self.u.column_mut(j).mapv_inplace(|v| -v);
                self.vt.row_mut(j).mapv_inplace(|v| -v);
            }
            for (a, b) in self.u.column(j).iter().zip(reference.column(j)) {
                worst = worst.max((a - b).abs());
            }
        }
        Ok(if worst.is_nan() { f64::INFINITY } else { worst })
    }

    /// How the cells were weighted, if known.
    pub fn weighting(&self) -> Option<Weighting> {
        self.weighting
    }

    /// Number of modes (members, or analysed cells if fewer).
    pub fn modes(&self) -> usize {
        self.s.len()
    }

    fn check_n(&self, n: usize) -> Result<()> {
        if n == 0 || n > self.modes() {
            bail!("asked for {n} modes; there are 1..={}", self.modes());
        }
        Ok(())
    }

    /// The shape of one map: [nlat, nlon] or [ncell].
    pub fn map_shape(&self) -> &[usize] {
        &self.shape
    }

    fn to_maps(&self, rows: ndarray::ArrayView2<f64>) -> ArrayD<f64> {
        let ncell: usize = self.shape.iter().product();
        let mut out = Array2::from_elem((rows.nrows(), ncell), f64::NAN);
        for (k, row) in rows.outer_iter().enumerate() {
            let mut o = out.row_mut(k);
            for (&c, &v) in self.cells.iter().zip(row.iter()) {
                o[c] = v;
            }
        }
        let mut shape = vec![rows.nrows()];
        shape.extend(&self.shape);
        out.into_shape_with_order(IxDyn(&shape))
            .expect("rows x cells")
    }

    fn to_map(&self, values: &Array1<f64>) -> ArrayD<f64> {
        self.to_maps(values.view().insert_axis(Axis(0)))
            .index_axis_move(Axis(0), 0)
    }

    /// The first `n` EOFs as maps (mode, lat, lon) or (mode, cell), NaN outside the
    /// analysed cells.
    pub fn eofs(&self, n: usize) -> Result<ArrayD<f64>> {
        self.check_n(n)?;
        Ok(self.to_maps(self.vt.slice(ndarray::s![..n, ..])))
    }

    /// The first `n` principal components: columns of U (member x mode).
    pub fn pcs(&self, n: usize) -> Result<Array2<f64>> {
        self.check_n(n)?;
        Ok(self.u.slice(ndarray::s![.., ..n]).to_owned())
    }

    /// The singular values, descending.
    pub fn singular_values(&self) -> &Array1<f64> {
        &self.s
    }

    /// Fraction of variance of each mode, `s_k^2 / sum s^2`.
    pub fn variance_fraction(&self) -> Array1<f64> {
        let total: f64 = self.s.iter().map(|s| s * s).sum();
        self.s
            .mapv(|s| if total > 0.0 { s * s / total } else { f64::NAN })
    }

    /// The ensemble mean as a map (NaN outside the analysed cells; 0 there when the
    /// analysis was not centred).
    pub fn mean(&self) -> ArrayD<f64> {
        self.to_map(&self.mean)
    }

    /// The weights of the analysed cells as a map.
    pub fn weights(&self) -> ArrayD<f64> {
        self.to_map(&self.weights)
    }

    /// The analysed cells as a 0/1 map.
    pub fn mask(&self) -> ArrayD<f64> {
        let mut m = ArrayD::zeros(IxDyn(&self.shape));
        let flat = m.as_slice_mut().expect("standard layout");
        for &c in &self.cells {
            flat[c] = 1.0;
        }
        m
    }

    /// Projects maps (k, lat, lon) or (k, cell) onto the first `n` modes with the
    /// pseudo-inverse of Eq. 5: `U = X (s V)^+ = X V^T / s`, X the weighted anomaly from the
    /// ensemble mean. A map undefined at an analysed cell gives NaN PCs.
    pub fn project<D: Dimension>(&self, maps: &Array<f64, D>, n: usize) -> Result<Array2<f64>> {
        self.check_n(n)?;
        let dims = maps.shape();
        if dims.len() < 2 || dims[1..] != self.shape[..] {
            bail!(
                "maps are {:?}; the EOFs were made on {:?} (one map per row)",
                dims.get(1..).unwrap_or(&[]),
                self.shape
            );
        }
        let k = dims[0];
        let ncell: usize = self.shape.iter().product();
        let maps = maps.as_standard_layout();
        let flat = maps
            .view()
            .into_shape_with_order((k, ncell))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let x = (&flat.select(Axis(1), &self.cells) - &self.mean) * &self.weights;
        let v = self.vt.slice(ndarray::s![..n, ..]);
        let mut out = x.dot(&v.t());
        for (j, mut col) in out.columns_mut().into_iter().enumerate() {
            let s = self.s[j];
            col.mapv_inplace(|p| if s > 0.0 { p / s } else { f64::NAN });
        }
        Ok(out)
    }

    /// Maps (member, lat, lon) rebuilt from the first `n` modes in the original units:
    /// `mean + (U_n s_n V_n) / weights`.
    pub fn reconstruct(&self, n: usize) -> Result<ArrayD<f64>> {
        self.reconstruct_from(&self.pcs(n)?)
    }

    /// Maps rebuilt from given PCs (rows: cases, columns: the first modes), e.g. emulated ones.
    pub fn reconstruct_from(&self, pcs: &Array2<f64>) -> Result<ArrayD<f64>> {
        let n = pcs.ncols();
        self.check_n(n)?;
        let sv = &self.vt.slice(ndarray::s![..n, ..])
            * &self.s.slice(ndarray::s![..n]).insert_axis(Axis(1));
        let x = pcs.dot(&sv) / &self.weights + &self.mean;
        Ok(self.to_maps(x.view()))
    }
}

impl Eof {
    /// Saves the analysis as netCDF (EOF maps, PCs, singular values, variance fractions,
    /// mean, weights, mask) with its grid; see [`save_all`].
    pub fn save(&self, path: &Path, grid: &Grid, history: &str) -> Result<()> {
        let item = NamedEof {
            name: "",
            eof: self,
            cases: None,
            units: None,
        };
        save_all(path, &[item], grid, history)
    }

    /// Loads an analysis saved by [`Eof::save`], with its grid.
    pub fn load(path: &Path) -> Result<(Eof, Grid)> {
        Eof::load_named(path, "")
    }

    /// Loads the analysis `name` of a file written by [`save_all`] (`""` = unprefixed), with
    /// its grid (from `lat` and `lon` alone for a file written before the grid's area was
    /// saved).
    pub fn load_named(path: &Path, name: &str) -> Result<(Eof, Grid)> {
        let v = |x: &str| prefixed(name, x);
        let file = crate::nc::open(path)?;
        let grid = crate::field::write::field_grid(&file, path)?;
        let shape = grid.spatial_shape();
        let ncell = grid.ncell();
        let (ny, nx) = (ncell, 1);
        let mask = crate::nc::read_f64(&file, path, &v("mask"))?;
        let cells: Vec<usize> = (0..ny * nx)
            .filter(|&c| mask.get(c).is_some_and(|&m| m == 1.0))
            .collect();
        let s = Array1::from(crate::nc::read_f64(&file, path, &v("singular_values"))?);
        let k = s.len();
        let eof = crate::nc::read_f64(&file, path, &v("eof"))?;
        if eof.len() != k * ny * nx {
            bail!(
                "{}: {} holds {} values, expected {k} x {ny} cells",
                path.display(),
                v("eof"),
                eof.len()
            );
        }
        let vt = Array2::from_shape_fn((k, cells.len()), |(j, c)| eof[j * ny * nx + cells[c]]);
        let u_flat = crate::nc::read_f64(&file, path, &v("pcs"))?;
        let nm = u_flat.len() / k.max(1);
        let u = Array2::from_shape_vec((nm, k), u_flat)?;
        let mean_map = crate::nc::read_f64(&file, path, &v("mean"))?;
        let w_var = crate::nc::variable(&file, path, &v("weights"))?;
        let weighting = crate::nc::attr_string(&w_var, "weighting").and_then(|w| {
            w.parse()
                .ok()
                .or((w == "given").then_some(Weighting::Given))
        });
        let w_map = crate::nc::read_f64(&file, path, &v("weights"))?;
        if mean_map.len() != ny * nx || w_map.len() != ny * nx {
            bail!(
                "{}: {} and {} must be maps of {ny} cells",
                path.display(),
                v("mean"),
                v("weights")
            );
        }
        let mean = cells.iter().map(|&c| mean_map[c]).collect();
        let weights = cells.iter().map(|&c| w_map[c]).collect();
        Ok((
            Eof {
                shape,
                cells,
                weights,
                mean,
                u,
                s,
                vt,
                weighting,
            },
            grid,
        ))
    }
}

/// `NAME_x`, or `x` for an unnamed analysis.
fn prefixed(name: &str, x: &str) -> String {
    if name.is_empty() {
        x.to_string()
    } else {
        format!("{name}_{x}")
    }
}

/// The case names of the members of analysis `name` in a file written by [`save_all`]
/// (the `NAME_member` coordinate), or `None` if it was saved without them.
pub fn load_cases(path: &Path, name: &str) -> Result<Option<Vec<String>>> {
    let file = crate::nc::open(path)?;
    let vname = prefixed(name, "member");
    let v = crate::nc::variable(&file, path, &vname)?;
    if v.vartype() != netcdf::types::NcVariableType::String {
        return Ok(None);
    }
    (0..v.len())
        .map(|i| {
            v.get_string(i)
                .with_context(|| format!("{}: cannot read {vname}", path.display()))
        })
        .collect::<Result<Vec<String>>>()
        .map(Some)
}

/// One analysis to save with [`save_all`]: its name (the prefix of its variables and
/// dimensions), the members' case names and the units of the field it was made from, when
/// known.
#[derive(Debug, Clone, Copy)]
pub struct NamedEof<'a> {
    /// Prefix of the variables (`NAME_eof`, ...); `""` for none.
    pub name: &'a str,
    /// The analysis.
    pub eof: &'a Eof,
    /// Case name of each member (the `NAME_member` coordinate); numbers 1.. if `None`.
    pub cases: Option<&'a [String]>,
    /// Units of the field analysed (the mean's units).
    pub units: Option<&'a str>,
}

/// Saves several analyses on one grid into one CF netCDF-4 file. Analysis `NAME` has
/// dimensions `NAME_mode` and `NAME_member` with coordinates of the same names (mode
/// numbers 1..k; case names, or member numbers 1.. without them) and variables `NAME_eof`
/// (mode, lat, lon), `NAME_pcs` (member, mode), `NAME_singular_values`,
/// `NAME_variance_fraction` (mode), `NAME_mean`, `NAME_weights` and `NAME_mask` (a byte, 1 =
/// analysed) on (lat, lon); no prefix for an empty name. Every variable has a `long_name`,
/// lat/lon their CF attributes. Written atomically.
pub fn save_all(path: &Path, items: &[NamedEof], grid: &Grid, history: &str) -> Result<()> {
    use crate::nc::{Format, Values, Writer};
    let Some(first) = items.first() else {
        bail!("{}: no EOF analysis to save", path.display());
    };
    let shape = grid.spatial_shape();
    if first.eof.shape != shape {
        bail!(
            "{}: the grid {shape:?} does not fit the EOF maps {:?}",
            path.display(),
            first.eof.shape
        );
    }
    let gd = grid.dims();
    let gdims: Vec<&str> = gd.iter().map(String::as_str).collect();
    let mut w = Writer::new(Format::Netcdf4);
    for (d, &n) in gdims.iter().zip(&shape) {
        w.dim(d, n);
    }
    w.global("Conventions", "CF-1.8")
        .global("title", "EOF analysis of an ensemble (clmtune)")
        .global(
            "source",
            format!("clmtune {} EOF analysis", env!("CARGO_PKG_VERSION")).as_str(),
        )
        .global("history", history)
        .global(
            "sign_convention",
            "each EOF's largest-magnitude loading is positive",
        )
        .global(
            "decomposition",
            "X = U s V: X holds the weighted anomalies (member minus ensemble mean, times the \
             cell weight) over the analysed cells, one row per member; EOFs are the rows of V, \
             PCs the columns of U",
        );
    crate::field::write::describe_grid(&mut w, grid);
    let fill = crate::field::write::FILL;
    for (i, item) in items.iter().enumerate() {
        let (prefix, e) = (item.name, item.eof);
        let what = if prefix.is_empty() {
            "the analysis".to_string()
        } else {
            prefix.to_string()
        };
        if items[..i].iter().any(|x| x.name == prefix) {
            bail!("{}: EOF analysis {what} is given twice", path.display());
        }
        if e.shape != shape {
            bail!("{}: EOF analysis {what} is on another grid", path.display());
        }
        let name = |x: &str| prefixed(prefix, x);
        let k = e.modes();
        let nm = e.u.nrows();
        let (dmode, dmember) = (name("mode"), name("member"));
        w.dim(&dmode, k).dim(&dmember, nm);
        w.var(&dmode, &[&dmode], (1..=k as i32).collect::<Vec<i32>>())
            .attr("long_name", format!("EOF mode number of {what}").as_str());
        match item.cases {
            Some(c) if c.len() != nm => bail!(
                "{}: EOF analysis {what} has {nm} members but {} case names",
                path.display(),
                c.len()
            ),
            Some(c) => {
                w.var(&dmember, &[&dmember], Values::Text(c.to_vec()))
                    .attr("long_name", "case name of the ensemble member");
            }
            None => {
                w.var(&dmember, &[&dmember], (1..=nm as i32).collect::<Vec<i32>>())
                    .attr("long_name", "ensemble member number");
            }
        }
        w.var(
            &name("eof"),
            &[&[dmode.as_str()][..], &gdims[..]].concat(),
            e.eofs(k)?.into_iter().collect::<Vec<f64>>(),
        )
        .fill(fill)
        .attr(
            "long_name",
            format!("EOF maps of {what} (rows of V)").as_str(),
        )
        .attr("units", "1")
        .attr(
            "comment",
            "dimensionless loadings; each EOF has unit Euclidean norm over the analysed cells \
             (sum of squares 1); undefined outside the mask",
        );
        w.var(
            &name("pcs"),
            &[&dmember, &dmode],
            e.u.iter().copied().collect::<Vec<f64>>(),
        )
        .fill(fill)
        .attr(
            "long_name",
            format!("principal components of {what} (columns of U)").as_str(),
        )
        .attr("units", "1")
        .attr(
            "comment",
            "dimensionless; each column has unit Euclidean norm over the members",
        );
        let sv = w.var(&name("singular_values"), &[&dmode], e.s.to_vec());
        sv.fill(fill).attr(
            "long_name",
            format!("singular values of the weighted anomalies of {what}").as_str(),
        );
        if let (Some(u), Some(wt)) = (item.units, e.weighting) {
            sv.attr("units", format!("{u} {}", wt.units()).as_str());
        }
        w.var(
            &name("variance_fraction"),
            &[&dmode],
            e.variance_fraction().to_vec(),
        )
        .fill(fill)
        .attr(
            "long_name",
            format!("fraction of variance of {what}").as_str(),
        )
        .attr("units", "1");
        let mean = w.var(
            &name("mean"),
            &gdims,
            e.mean().into_iter().collect::<Vec<f64>>(),
        );
        mean.fill(fill).attr(
            "long_name",
            format!("ensemble mean of {what} over the analysed cells").as_str(),
        );
        if let Some(u) = item.units {
            mean.attr("units", u);
        }
        let wv = w.var(
            &name("weights"),
            &gdims,
            e.weights().into_iter().collect::<Vec<f64>>(),
        );
        wv.fill(fill).attr(
            "long_name",
            format!("cell weights of {what} (they multiply the anomalies before the SVD)").as_str(),
        );
        if let Some(wt) = e.weighting {
            wv.attr("units", wt.units()).attr("weighting", wt.name());
        }
        w.var(
            &name("mask"),
            &gdims,
            e.mask().iter().map(|&m| m as i8).collect::<Vec<i8>>(),
        )
        .attr("long_name", format!("cells analysed for {what}").as_str())
        .attr("flag_values", vec![0i8, 1])
        .attr("flag_meanings", "not_analysed analysed");
    }
    w.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use ndarray::{Array3, Ix3};

    fn stack() -> Array3<f64> {
        // 4 members on 2 x 3 cells, cell (0, 2) undefined in member 2
        let mut a = crate::array::randn(&[4, 2, 3], 3)
            .unwrap()
            .into_dimensionality::<ndarray::Ix3>()
            .unwrap();
        a[[2, 0, 2]] = f64::NAN;
        a
    }

    #[test]
    fn all_modes_rebuild_the_members_and_fractions_sum_to_one() {
        let area = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let st = stack();
        let e = Eof::new(&st, &area, None, Weighting::Area).unwrap();
        assert_eq!(
            e.mask()[[0, 2]],
            0.0,
            "a cell undefined in one member is left out"
        );
        let r = e
            .reconstruct(e.modes())
            .unwrap()
            .into_dimensionality::<Ix3>()
            .unwrap();
        for ((m, i, j), &v) in r.indexed_iter() {
            if (i, j) == (0, 2) {
                assert!(v.is_nan(), "masked cells never leak");
            } else {
                assert!(
                    (v - st[[m, i, j]]).abs() < 1e-10,
                    "({m},{i},{j}) {v} vs {}",
                    st[[m, i, j]]
                );
            }
        }
        assert!((e.variance_fraction().sum() - 1.0).abs() < 1e-12);
        // projecting each member's own map returns its PCs
        let p = e.project(&st, 3).unwrap();
        let u = e.pcs(3).unwrap();
        for (a, b) in p.iter().zip(u.iter()) {
            assert!((a - b).abs() < 1e-10, "{a} vs {b}");
        }
        // the sign convention: each EOF's largest loading is positive
        for k in 0..3 {
            let row = e
                .eofs(3)
                .unwrap()
                .index_axis(Axis(0), k)
                .iter()
                .copied()
                .filter(|x| x.is_finite())
                .fold(0.0f64, |a, b| if b.abs() > a.abs() { b } else { a });
            assert!(row > 0.0);
        }
        assert!(e.eofs(9).is_err());
    }

    #[test]
    fn a_small_case_against_numpy() {
        // numpy 2.4: X = [[1, 0, 2], [0, 1, 0], [2, 1, 0]] with unit weights; anomalies
        // A = X - X.mean(0); np.linalg.svd(A, full_matrices=False)[1] =
        // [1.82574186e+00, 1.41421356e+00, 9.9e-17] (three members have two independent
        // anomalies); variance fractions 0.625, 0.375, 0 (sum of squares 16/3).
        let st =
            Array3::from_shape_vec((3, 1, 3), vec![1.0, 0.0, 2.0, 0.0, 1.0, 0.0, 2.0, 1.0, 0.0])
                .unwrap();
        let e = Eof::new(&st, &array![[1.0, 1.0, 1.0]], None, Weighting::None).unwrap();
        let s = e.singular_values();
        assert!((s[0] - 1.8257418583505538).abs() < 1e-12, "{s}");
        assert!((s[1] - std::f64::consts::SQRT_2).abs() < 1e-12, "{s}");
        assert!(s[2].abs() < 1e-12);
        // numpy's U and V with the same sign convention (largest |loading| positive):
        // U[:, :2] = [[0.81649658, 0], [-0.40824829, -0.70710678], [-0.40824829, 0.70710678]]
        // Vt[:2] = [[0, -0.4472136, 0.89442719], [1, 0, 0]]
        let u = e.pcs(2).unwrap();
        let want_u = array![
            [0.816496580927726, 0.0],
            [-0.408248290463863, -std::f64::consts::FRAC_1_SQRT_2],
            [-0.408248290463863, std::f64::consts::FRAC_1_SQRT_2]
        ];
        assert!(
            u.iter()
                .zip(want_u.iter())
                .all(|(a, b)| (a - b).abs() < 1e-9),
            "{u}"
        );
        let v = e.eofs(2).unwrap();
        assert!(
            (v[[0, 0, 2]] - 0.894427190999916).abs() < 1e-9 && (v[[1, 0, 0]] - 1.0).abs() < 1e-9,
            "{v}"
        );
        let f = e.variance_fraction();
        assert!(
            (f[0] - 0.625).abs() < 1e-12 && (f[1] - 0.375).abs() < 1e-12,
            "{f}"
        );
    }

    #[test]
    fn cells_outside_the_mask_never_leak() {
        let area = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let mask = array![[1.0, 1.0, 1.0], [0.0, 1.0, 1.0]];
        let mut st = stack();
        let a = Eof::new(&st, &area, Some(&mask), Weighting::SqrtArea).unwrap();
        st[[0, 1, 0]] = 1e6; // a wild value in the masked-out cell
        let b = Eof::new(&st, &area, Some(&mask), Weighting::SqrtArea).unwrap();
        assert_eq!(a.singular_values(), b.singular_values());
        assert!(b.eofs(1).unwrap()[[0, 1, 0]].is_nan());
        assert!(b.reconstruct(2).unwrap()[[0, 1, 0]].is_nan());
        assert_eq!(
            b.mask(),
            array![[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]].into_dyn()
        );
        assert!((b.weights()[[1, 2]] - 6f64.sqrt()).abs() < 1e-15);
    }

    /// Whether two arrays hold the same bits (NaN equal to NaN).
    fn same_bits<'a>(
        a: impl IntoIterator<Item = &'a f64>,
        b: impl IntoIterator<Item = &'a f64>,
    ) -> bool {
        let (a, b): (Vec<u64>, Vec<u64>) = (
            a.into_iter().map(|x| x.to_bits()).collect(),
            b.into_iter().map(|x| x.to_bits()).collect(),
        );
        a == b
    }

    #[test]
    fn save_and_load_give_the_same_analysis() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("eof.nc");
        let area = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let st = stack();
        let e = Eof::new(&st, &area, None, Weighting::Area).unwrap();
        let grid = crate::demo::fixture::tiny_grid();
        e.save(&p, &grid, "test").unwrap();
        let (b, g) = Eof::load(&p).unwrap();
        assert_eq!(g, grid);
        assert_eq!(b.singular_values(), e.singular_values());
        assert_eq!(b.pcs(3).unwrap(), e.pcs(3).unwrap());
        assert_eq!(b.project(&st, 3).unwrap(), e.project(&st, 3).unwrap());
        assert_eq!(b.mask(), e.mask());
        assert_eq!(b.weighting(), Some(Weighting::Area));
        assert_eq!(load_cases(&p, "").unwrap(), None);
    }

    #[test]
    fn named_analyses_round_trip_bit_for_bit_with_cf_attributes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("eof.nc");
        let area = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]] * 1e6;
        let st = stack();
        let mask = array![[1.0, 1.0, 1.0], [0.0, 1.0, 1.0]];
        let a = Eof::new(&st, &area, Some(&mask), Weighting::Area).unwrap();
        let b = Eof::new(&st, &area, None, Weighting::SqrtArea).unwrap();
        let cases: Vec<String> = (1..=4).map(|m| format!("ppe_{m}")).collect();
        let items = [
            NamedEof {
                name: "GPP",
                eof: &a,
                cases: Some(&cases),
                units: Some("gC m-2 d-1"),
            },
            NamedEof {
                name: "LHF",
                eof: &b,
                cases: None,
                units: None,
            },
        ];
        let grid = crate::demo::fixture::tiny_grid();
        save_all(&p, &items, &grid, "made by a test").unwrap();
        for (name, e) in [("GPP", &a), ("LHF", &b)] {
            let (l, g) = Eof::load_named(&p, name).unwrap();
            assert_eq!(g, grid);
            let k = e.modes();
            assert!(
                same_bits(&l.eofs(k).unwrap(), &e.eofs(k).unwrap()),
                "{name}"
            );
            assert!(same_bits(&l.pcs(k).unwrap(), &e.pcs(k).unwrap()));
            assert!(same_bits(l.singular_values(), e.singular_values()));
            assert!(same_bits(&l.mean(), &e.mean()));
            assert!(same_bits(&l.weights(), &e.weights()));
            assert!(same_bits(&l.mask(), &e.mask()));
            assert!(same_bits(&l.variance_fraction(), &e.variance_fraction()));
            assert_eq!(l.weighting(), e.weighting());
        }
        assert_eq!(load_cases(&p, "GPP").unwrap(), Some(cases.clone()));
        assert_eq!(load_cases(&p, "LHF").unwrap(), None);

        // what a scientist opening the file sees
        let f = netcdf::open(&p).unwrap();
        let text = |v: &str, a: &str| {
            crate::nc::attr_string(&f.variable(v).unwrap(), a)
                .unwrap_or_else(|| panic!("{v} has no {a}"))
        };
        for (v, units, std, axis) in [
            ("lat", "degrees_north", "latitude", "Y"),
            ("lon", "degrees_east", "longitude", "X"),
        ] {
            assert_eq!(text(v, "units"), units);
            assert_eq!(text(v, "standard_name"), std);
            assert_eq!(text(v, "axis"), axis);
        }
        for v in f.variables() {
            assert!(
                v.attribute("long_name").is_some(),
                "{} has no long_name",
                v.name()
            );
        }
        assert_eq!(text("GPP_mean", "units"), "gC m-2 d-1");
        assert!(!f
            .variable("LHF_mean")
            .unwrap()
            .attributes()
            .any(|a| a.name() == "units"));
        assert_eq!(text("GPP_weights", "units"), "m^2");
        assert_eq!(text("LHF_weights", "units"), "m");
        assert_eq!(text("LHF_weights", "weighting"), "sqrt_area");
        assert_eq!(text("GPP_singular_values", "units"), "gC m-2 d-1 m^2");
        assert_eq!(text("GPP_eof", "units"), "1");
        assert!(text("GPP_eof", "comment").contains("unit Euclidean norm"));
        let dims = |v: &str| -> Vec<String> {
            f.variable(v)
                .unwrap()
                .dimensions()
                .iter()
                .map(|d| d.name())
                .collect()
        };
        assert_eq!(dims("GPP_eof"), ["GPP_mode", "lat", "lon"]);
        assert_eq!(dims("GPP_pcs"), ["GPP_member", "GPP_mode"]);
        assert_eq!(dims("GPP_member"), ["GPP_member"]);
        let m = f.variable("GPP_member").unwrap();
        assert_eq!(m.vartype(), netcdf::types::NcVariableType::String);
        assert_eq!(m.get_string(3).unwrap(), "ppe_4");
        let modes: Vec<i32> = f.variable("GPP_mode").unwrap().get_values(..).unwrap();
        assert_eq!(modes, [1, 2, 3, 4]);
        let lm: Vec<i32> = f.variable("LHF_member").unwrap().get_values(..).unwrap();
        assert_eq!(lm, [1, 2, 3, 4]);
        let mv = f.variable("GPP_mask").unwrap();
        assert_eq!(
            mv.vartype(),
            netcdf::types::NcVariableType::Int(netcdf::types::IntType::I8)
        );
        let mask_back: Vec<i8> = mv.get_values(..).unwrap();
        assert_eq!(
            mask_back,
            [1, 1, 0, 0, 1, 1],
            "cell (0, 2) is NaN in member 2"
        );
        assert_eq!(text("GPP_mask", "flag_meanings"), "not_analysed analysed");
        let g = |a: &str| match f.attribute(a).unwrap().value().unwrap() {
            netcdf::AttributeValue::Str(s) => s,
            other => panic!("{other:?}"),
        };
        assert_eq!(g("history"), "made by a test");
        assert_eq!(g("Conventions"), "CF-1.8");
        assert!(g("source").starts_with("clmtune "));

        // errors name the analysis
        let wrong = [NamedEof {
            name: "GPP",
            eof: &a,
            cases: Some(&cases[..3]),
            units: None,
        }];
        let e = save_all(&dir.path().join("x.nc"), &wrong, &grid, "")
            .unwrap_err()
            .to_string();
        assert!(e.contains("GPP has 4 members but 3 case names"), "{e}");
        let twice = [items[0], items[0]];
        let e = save_all(&dir.path().join("x.nc"), &twice, &grid, "")
            .unwrap_err()
            .to_string();
        assert!(e.contains("GPP is given twice"), "{e}");
    }
}

#[cfg(test)]
mod overflow_tests {
    use super::*;
    use ndarray::Array3;

    /// Issue 18 item 8: `eof(F * 1e308)` ran for minutes and `eof(F * 1e150)` gave NaN
    /// variance fractions; both are now errors, and a large but safe scale still works.
    #[test]
    fn huge_values_are_refused_before_the_svd() {
        let stack = Array3::from_shape_fn((4, 2, 3), |(m, i, j)| {
            (m * 7 + i * 3 + j) as f64 % 5.0 + 1.0
        });
        let area = Array2::from_elem((2, 3), 1e10);
        let e = Eof::new(&stack.mapv(|v| v * 1e150), &area, None, Weighting::Area).unwrap_err();
        assert!(e.to_string().contains("too large for an SVD"), "{e}");
        // + 1e308: the ensemble mean overflows, the anomalies are NaN
        let e = Eof::new(&stack.mapv(|v| v + 1e308), &area, None, Weighting::Area).unwrap_err();
        assert!(e.to_string().contains("too large for an SVD"), "{e}");
        // * 1e308: most values are infinite, so no cell is defined in every member
        assert!(Eof::new(&stack.mapv(|v| v * 1e308), &area, None, Weighting::Area).is_err());
        let ok = Eof::new(&stack.mapv(|v| v * 1e100), &area, None, Weighting::Area).unwrap();
        assert!(ok.variance_fraction().iter().all(|f| f.is_finite()));
        // issue 28, item 13: + 1e300 leaves only rounding as anomalies (fractions were NaN)
        let e = Eof::new(&stack.mapv(|v| v + 1e300), &area, None, Weighting::Area).unwrap_err();
        assert!(
            e.to_string().contains("the members do not differ (largest difference from their mean 0e0 at values up to 1e300)"),
            "{e}"
        );
        let same = Array3::from_elem((4, 2, 3), 2.5);
        let e = Eof::new(&same, &area, None, Weighting::Area).unwrap_err();
        assert!(
            e.to_string()
                .contains("an EOF analysis needs members that vary"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod eofs_package_tests {
    use super::*;
    use ndarray::Array3;

    /// Python's eofs (2.0.0, `pip install eofs`) on the field below with its conventional
    /// weights `sqrt(cos(lat))`, recorded with:
    ///
    /// ```text
    /// import numpy as np; from eofs.standard import Eof
    /// lat = np.array([-60.0, -20.0, 20.0, 60.0]); nm, ny, nx = 6, 4, 5
    /// m, j, i = np.meshgrid(np.arange(nm), np.arange(ny), np.arange(nx), indexing="ij")
    /// data = np.sin(0.7 * (m + 1) * (j + 1)) + np.cos(0.3 * (m + 1) * (i + 2)) + 0.1 * m * j
    /// w = np.sqrt(np.cos(np.deg2rad(lat)))[:, None] * np.ones((1, nx))
    /// s = Eof(data, weights=w)
    /// s.eofs(neofs=2, eofscaling=0); s.pcs(npcs=2, pcscaling=0); s.eigenvalues(); s.varianceFraction()
    /// ```
    #[test]
    fn given_sqrt_cos_lat_weights_reproduce_the_eofs_package() {
        let lat = [-60.0f64, -20.0, 20.0, 60.0];
        let (nm, ny, nx) = (6, 4, 5);
        let data = Array3::from_shape_fn((nm, ny, nx), |(m, j, i)| {
            let (m, j, i) = (m as f64, j as f64, i as f64);
            (0.7 * (m + 1.0) * (j + 1.0)).sin() + (0.3 * (m + 1.0) * (i + 2.0)).cos() + 0.1 * m * j
        });
        let w = Array2::from_shape_fn((ny, nx), |(j, _)| lat[j].to_radians().cos().sqrt());
        let e = Eof::new(&data, &w, None, Weighting::Given).unwrap();
        let eof1_first5 = [
            0.20848683067526863,
            0.01636117140750364,
            -0.02538101247072328,
            0.15233632208098502,
            0.22564205485569955,
        ];
        let eof2_first5 = [
            0.11471057453340583,
            0.10892735538524537,
            -0.00499585702672887,
            -0.1384361472393903,
            -0.14005246651553588,
        ];
        let pcs = [
            [-1.7769467024083216, -0.09611215196422969],
            [2.544372554667382, 3.7668742102673245],
            [3.3570906542119046, -1.005742583034072],
            [1.250482021607533, -3.4979631220965226],
            [-2.3018047507815522, 0.7197259834884889],
            [-3.073193777296946, 0.11321766333901107],
        ];
        let eigenvalues = [
            7.441591866128443,
            5.595333347841597,
            3.3481735339273,
            1.5880822292712868,
            0.9286720067406591,
        ];
        let vf = [
            0.3936964207934163,
            0.2960203612103415,
            0.17713467228728969,
            0.08401727759829604,
            0.04913126811065647,
        ];
        let maps = e.eofs(2).unwrap();
        let u = e.pcs(2).unwrap();
        let s = e.singular_values();
        for (k, want) in [eof1_first5, eof2_first5].iter().enumerate() {
            // eofs leaves the sign to LAPACK; clmtune makes the largest loading positive
            let sign = (maps[[k, 0, 0]] / want[0]).signum();
            for (i, &x) in want.iter().enumerate() {
                assert!(
                    (sign * maps[[k, 0, i]] - x).abs() < 1e-12,
                    "EOF {k} cell {i}"
                );
            }
            for (m, row) in pcs.iter().enumerate() {
                // eofs' unscaled PCs are U s
                assert!(
                    (sign * u[[m, k]] * s[k] - row[k]).abs() < 1e-11,
                    "PC {k} member {m}"
                );
            }
        }
        for k in 0..5 {
            // eofs' eigenvalues are s^2 / (members - 1)
            let ev = s[k] * s[k] / (nm as f64 - 1.0);
            assert!(
                (ev - eigenvalues[k]).abs() < 1e-11 * eigenvalues[k],
                "eigenvalue {k}"
            );
            assert!(
                (e.variance_fraction()[k] - vf[k]).abs() < 1e-13,
                "fraction {k}"
            );
        }
        // clmtune's area weighting differs: on this grid (area proportional to cos(lat))
        // `sqrt_area` gives eofs' EOFs and fractions, `area` (the default) does not
        let area = w.mapv(|x| 1.0e10 * x * x);
        let sq = Eof::new(&data, &area, None, Weighting::SqrtArea).unwrap();
        assert!((sq.variance_fraction()[0] - vf[0]).abs() < 1e-12);
        let by_area = Eof::new(&data, &area, None, Weighting::Area).unwrap();
        assert!((by_area.variance_fraction()[0] - vf[0]).abs() > 1e-3);
    }
}
