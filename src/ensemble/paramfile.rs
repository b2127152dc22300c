//! A member's params file: a copy of the base params file with the member's values written to
//! exactly the right indices. The base file is never opened for writing; the copy is checked
//! against CLM5's PFT order first, every write is read back, and the file appears under its
//! name only when complete (written beside it, then renamed).

use super::spec::Write;
use crate::clm;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// The values of one variable to write.
#[derive(Debug, Clone, PartialEq)]
pub struct VarWrites {
    /// The params-file variable.
    pub name: String,
    /// Values, by PFT (every segment of other dimensions) or for the whole variable.
    pub writes: Vec<Write>,
}

/// Applies `writes` to a flat variable of `shape` whose `pft` dimension is at `pft_pos`.
fn apply(values: &mut [f64], shape: &[usize], pft_pos: Option<usize>, writes: &[Write]) {
    for w in writes {
        match pft_pos {
            None => values.iter_mut().for_each(|v| *v = w.value),
            Some(pos) => {
                let npft = shape[pos];
                let inner: usize = shape[pos + 1..].iter().product();
                for (i, v) in values.iter_mut().enumerate() {
                    let p = (i / inner) % npft;
                    if w.pfts.contains(&p) {
                        *v = w.value;
                    }
                }
            }
        }
    }
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
            let dims: Vec<String> = var.dimensions().iter().map(|d| d.name()).collect();
            let shape: Vec<usize> = var.dimensions().iter().map(|d| d.len()).collect();
            let pft_pos = dims.iter().position(|d| d == "pft");
            let per_pft = v.writes.iter().any(|w| !w.pfts.is_empty());
            match (pft_pos, per_pft) {
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
                    dims.join(", ")
                ),
                _ => {}
            }
            if let Some(pos) = pft_pos {
                if shape[pos] != clm::NPFT {
                    bail!(
                        "{}: {} has pft = {}, CLM5 has {}",
                        base.display(),
                        v.name,
                        shape[pos],
                        clm::NPFT
                    );
                }
            }
            let mut values = crate::nc::read_f64(&f, base, &v.name)?;
            apply(&mut values, &shape, pft_pos, &v.writes);
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
            let got = crate::nc::read_f64(&f, &tmp_path, &name)?;
            let close = |a: f64, b: f64| a == b || (a - b).abs() <= 1e-6 * a.abs().max(b.abs());
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

    #[test]
    fn apply_writes_every_segment_of_the_chosen_pfts() {
        // shape (nvegwcs = 2, pft = 3): [s0p0 s0p1 s0p2 s1p0 s1p1 s1p2]
        let mut v = vec![0.0; 6];
        apply(
            &mut v,
            &[2, 3],
            Some(1),
            &[Write {
                pfts: vec![1, 2],
                value: 5.0,
            }],
        );
        assert_eq!(v, vec![0.0, 5.0, 5.0, 0.0, 5.0, 5.0]);
        // shape (pft = 3, x = 2)
        let mut v = vec![0.0; 6];
        apply(
            &mut v,
            &[3, 2],
            Some(0),
            &[Write {
                pfts: vec![2],
                value: 1.0,
            }],
        );
        assert_eq!(v, vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        let mut v = vec![0.0];
        apply(
            &mut v,
            &[],
            None,
            &[Write {
                pfts: vec![],
                value: 3.0,
            }],
        );
        assert_eq!(v, vec![3.0]);
    }
}
