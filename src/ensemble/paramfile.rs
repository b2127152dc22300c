//! A member's params file: a copy of the base params file with the member's values written to
//! exactly the right indices. The base file is never opened for writing; the copy is checked
//! against CLM5's PFT order first, every write is read back, and the file appears under its
//! name only when complete (written beside it, then renamed).

use super::spec::Write;
use crate::clm;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Where a params-file variable's values are: its dimensions, the position of `pft` among
/// them, and which indices of each dimension a parameter writes (every index unless the
/// spec's `dim_indices` names the dimension). Works for any of CLM's layouts: `(pft)`,
/// `(segment, pft)` or the older `(nvegwcs, pft)`, `(variants, pft)`, `(allpfts)` and
/// scalars without dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Dimension names, in the variable's order.
    pub dims: Vec<String>,
    /// Dimension lengths.
    pub shape: Vec<usize>,
    /// Position of `pft` in `dims`, if the variable has it.
    pub pft_pos: Option<usize>,
    /// Per dimension, the indices written (`None` = all).
    pub keep: Vec<Option<Vec<usize>>>,
}

impl Layout {
    /// The layout of `var` (variable `name` of `path`) for a parameter writing
    /// `dim_indices`; an unknown dimension, an index past a dimension's end, or a `pft`
    /// dimension that is not CLM5's 79 PFTs is an error naming the file and variable.
    pub fn of(
        var: &netcdf::Variable,
        path: &Path,
        name: &str,
        dim_indices: &[(String, Vec<usize>)],
    ) -> Result<Layout> {
        let dims: Vec<String> = var.dimensions().iter().map(|d| d.name()).collect();
        let shape: Vec<usize> = var.dimensions().iter().map(|d| d.len()).collect();
        let pft_pos = dims.iter().position(|d| d == "pft");
        if let Some(pos) = pft_pos {
            if shape[pos] != clm::NPFT {
                bail!(
                    "{}: {name} has pft = {}, CLM5 has {}",
                    path.display(),
                    shape[pos],
                    clm::NPFT
                );
            }
        }
        let mut keep = vec![None; dims.len()];
        for (dim, idx) in dim_indices {
            let Some(d) = dims.iter().position(|x| x == dim) else {
                bail!(
                    "{}: {name} has dimensions ({}), no {dim} for dim_indices",
                    path.display(),
                    dims.join(", ")
                );
            };
            if let Some(i) = idx.iter().find(|&&i| i >= shape[d]) {
                bail!(
                    "{}: {name}: dim_indices.{dim} has index {i} but {dim} has {} (0-{})",
                    path.display(),
                    shape[d],
                    shape[d].saturating_sub(1)
                );
            }
            keep[d] = Some(idx.clone());
        }
        Ok(Layout {
            dims,
            shape,
            pft_pos,
            keep,
        })
    }

    /// Number of values (1 for a scalar).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the variable holds no value (a dimension of length 0).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The flat (row-major) positions written, each with its PFT index (`None` for a variable
    /// without a `pft` dimension).
    pub fn positions(&self) -> Vec<(usize, Option<usize>)> {
        let mut out = Vec::new();
        'elements: for i in 0..self.len() {
            let mut rest = i;
            let mut pft = None;
            for d in (0..self.shape.len()).rev() {
                let k = rest % self.shape[d];
                rest /= self.shape[d];
                if let Some(keep) = &self.keep[d] {
                    if !keep.contains(&k) {
                        continue 'elements;
                    }
                }
                if Some(d) == self.pft_pos {
                    pft = Some(k);
                }
            }
            out.push((i, pft));
        }
        out
    }
}

/// Applies `writes` to the flat values of a variable of `layout`: an absolute write sets the
/// value, a relative one multiplies each element's own value (fill values, `fills`, are left
/// as they are).
fn apply(values: &mut [f64], layout: &Layout, writes: &[Write], fills: &[f64]) {
    let base = values.to_vec();
    for (i, pft) in layout.positions() {
        for w in writes {
            let hit = match pft {
                None => true,
                Some(p) => w.pfts.is_empty() || w.pfts.contains(&p),
            };
            if !hit {
                continue;
            }
            if w.relative {
                if !crate::nc::is_fill(base[i], fills) {
                    values[i] = base[i] * w.value;
                }
            } else {
                values[i] = w.value;
            }
        }
    }
}

/// The values of one variable to write, with the dimension indices it writes.
#[derive(Debug, Clone, PartialEq)]
pub struct VarWrites {
    /// The params-file variable.
    pub name: String,
    /// Values, by PFT (every segment of other dimensions) or for the whole variable.
    pub writes: Vec<Write>,
    /// Indices of dimensions other than `pft` that are written (empty = all of them).
    pub dim_indices: Vec<(String, Vec<usize>)>,
}

/// Writes `dest`: a copy of `base` with `vars` applied. Errors name the file and variable;
/// `dest` is untouched unless everything succeeded.
pub fn write_member_params(base: &Path, dest: &Path, vars: &[VarWrites]) -> Result<()> {
    if base == dest {
        bail!(
            "{}: refusing to edit the base params file in place",
            base.display()
        );
    }
    crate::files::check_not_input(dest)?;
    let tmp = crate::files::temp_beside(dest, ".nc.tmp")?;
    let tmp_path = tmp.path().to_path_buf();
    std::fs::copy(base, &tmp_path).with_context(|| {
        format!(
            "cannot copy base params file {} to {}",
            base.display(),
            tmp_path.display()
        )
    })?;
    {
        crate::nc::quiet_hdf5();
        let mut f = netcdf::append(&tmp_path).with_context(|| {
            format!(
                "cannot open the copy {} of {}",
                tmp_path.display(),
                base.display()
            )
        })?;
        let names = clm::read_pft_names(&f, base)?;
        clm::check_pft_order(&names, base)?;
        let mut expected = Vec::new();
        for v in vars {
            let var = crate::nc::variable(&f, base, &v.name)?;
            let layout = Layout::of(&var, base, &v.name, &v.dim_indices)?;
            let dims = &layout.dims;
            let per_pft = v.writes.iter().any(|w| !w.pfts.is_empty());
            match (layout.pft_pos, per_pft) {
                (Some(_), false) => bail!(
                    "{}: {} has dimensions ({}): the spec must give pft_indices",
                    base.display(),
                    v.name,
                    dims.join(", ")
                ),
                (None, true) => bail!(
                    "{}: {} has no pft dimension (dimensions: {}) but the spec gives pft_indices",
                    base.display(),
                    v.name,
                    if dims.is_empty() {
                        "none".to_string()
                    } else {
                        dims.join(", ")
                    }
                ),
                _ => {}
            }
            // the stored values as they are (fill values not turned into NaN, so elements the
            // spec does not write are written back unchanged)
            let mut values: Vec<f64> = var
                .get_values::<f64, _>(..)
                .with_context(|| format!("{}: cannot read {}", base.display(), v.name))?;
            let fills = crate::nc::fill_values(&var);
            apply(&mut values, &layout, &v.writes, &fills);
            drop(var);
            let mut var = f
                .variable_mut(&v.name)
                .with_context(|| format!("{}: {}", base.display(), v.name))?;
            var.put_values(&values, ..)
                .with_context(|| format!("cannot write {} into {}", v.name, tmp_path.display()))?;
            expected.push((v.name.clone(), values));
        }
        f.close()
            .with_context(|| format!("cannot close {}", tmp_path.display()))?;
        let f = crate::nc::open(&tmp_path)?;
        for (name, want) in expected {
            let got: Vec<f64> = crate::nc::variable(&f, &tmp_path, &name)?
                .get_values::<f64, _>(..)
                .with_context(|| format!("{}: cannot read {name}", tmp_path.display()))?;
            let close = |a: f64, b: f64| {
                a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
            };
            if got.len() != want.len() || got.iter().zip(&want).any(|(a, b)| !close(*a, *b)) {
                bail!(
                    "{}: {} did not read back as written",
                    tmp_path.display(),
                    name
                );
            }
        }
    }
    crate::files::persist(tmp, dest)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(dims: &[(&str, usize)], keep: &[(&str, &[usize])]) -> Layout {
        let names: Vec<String> = dims.iter().map(|d| d.0.to_string()).collect();
        Layout {
            pft_pos: names.iter().position(|d| d == "pft"),
            keep: names
                .iter()
                .map(|n| keep.iter().find(|k| k.0 == n).map(|k| k.1.to_vec()))
                .collect(),
            dims: names,
            shape: dims.iter().map(|d| d.1).collect(),
        }
    }

    #[test]
    fn apply_writes_every_segment_of_the_chosen_pfts() {
        // shape (segment = 2, pft = 3): [s0p0 s0p1 s0p2 s1p0 s1p1 s1p2]
        let mut v = vec![0.0; 6];
        let l = layout(&[("segment", 2), ("pft", 3)], &[]);
        apply(&mut v, &l, &[Write::value(vec![1, 2], 5.0)], &[]);
        assert_eq!(v, vec![0.0, 5.0, 5.0, 0.0, 5.0, 5.0]);
        // shape (pft = 3, x = 2)
        let mut v = vec![0.0; 6];
        let l = layout(&[("pft", 3), ("x", 2)], &[]);
        apply(&mut v, &l, &[Write::value(vec![2], 1.0)], &[]);
        assert_eq!(v, vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        // a scalar
        let mut v = vec![0.0];
        apply(&mut v, &layout(&[], &[]), &[Write::value(vec![], 3.0)], &[]);
        assert_eq!(v, vec![3.0]);
    }

    #[test]
    fn dim_indices_narrow_the_write_and_relative_writes_scale_each_element() {
        // (variants = 2, pft = 3), only variant 1
        let mut v = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let l = layout(&[("variants", 2), ("pft", 3)], &[("variants", &[1])]);
        apply(&mut v, &l, &[Write::value(vec![0, 2], 9.0)], &[]);
        assert_eq!(v, vec![1.0, 2.0, 3.0, 9.0, 5.0, 9.0]);
        // relative: each element times 1.5, the fill value (0) kept
        let mut v = vec![0.0, 2.0, 3.0, 4.0, 0.0, 6.0];
        let l = layout(&[("variants", 2), ("pft", 3)], &[]);
        let w = Write {
            pfts: vec![0, 1, 2],
            value: 1.5,
            relative: true,
        };
        apply(&mut v, &l, &[w], &[0.0]);
        assert_eq!(v, vec![0.0, 3.0, 4.5, 6.0, 0.0, 9.0]);
    }
}
