//! The sensitivity stage (Dagon et al. 2020, section 2.2): parameter-effect maps
//! `PE = |X_max - X_min|` of the time-mean outputs of one-at-a-time runs (Eq. 1), their land
//! area-weighted global means and ranks, the spatial pattern correlations between the PE maps
//! of parameter pairs summed over outputs and averaged over the other parameters (Eq. 2), and
//! the combined ranking that proposes which parameters to calibrate.
//!
//! Conventions (contract): ranks give 1 to the largest global-mean PE of each output, ties
//! share the lowest rank (`min`); `pe_rank` ranks the mean of those ranks; `pc_rank` gives 1 to
//! the lowest `pc_mean`; `combined_rank` ranks the mean of `pe_rank` and `pc_rank`. A pattern
//! correlation is the Pearson correlation over the land cells where both maps are defined,
//! weighted by `area * landfrac` ([`crate::metrics::pattern_correlation`]). A map with zero variance there (a parameter with no effect,
//! or the same effect everywhere) has no correlation: the matrix holds NaN (an empty cell in
//! `pattern_correlation.csv`), it counts as 0 (no shared pattern) in the sums, and a
//! parameter whose maps all have zero variance gets `pc_mean` NaN and the last `pc_rank`
//! (there is no pattern to be unique about). NaN values rank last everywhere.

use crate::array::reduce::{rank, TieMethod};
use crate::field::Field;
use anyhow::{bail, Result};
use ndarray::{s, Array2, Array3, ArrayD, Axis, IxDyn};
use std::path::Path;

/// Which members of the one-at-a-time runs are the min and max ends of each parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct OaatPair {
    /// The parameter.
    pub parameter: String,
    /// Index (into the member dimension of the time means) of the run at its min.
    pub min: usize,
    /// Index of the run at its max.
    pub max: usize,
}

/// Parameter effects of every output.
#[derive(Debug, Clone)]
pub struct Effects {
    /// Parameters, in order.
    pub parameters: Vec<String>,
    /// Output names, in order.
    pub outputs: Vec<String>,
    /// PE maps per output: fields with dims (parameter, lat, lon).
    pub maps: Vec<Field>,
    /// Land area-weighted global means, (parameter, output).
    pub global_mean: Array2<f64>,
}

/// Parameter-effect maps (Eq. 1) from time means of each output (fields with dims (member,
/// lat, lon), one member per one-at-a-time run) and the min/max runs of each parameter.
pub fn parameter_effect(means: &[Field], pairs: &[OaatPair]) -> Result<Effects> {
    if means.is_empty() || pairs.is_empty() {
        bail!("parameter_effect needs at least one output and one parameter");
    }
    let mut maps = Vec::new();
    let mut gm = Array2::from_elem((pairs.len(), means.len()), f64::NAN);
    for (o, f) in means.iter().enumerate() {
        if f.dims.len() != 3 || f.dims[0] != "member" {
            bail!(
                "output {}: expected time means with dims (member, lat, lon), got ({})",
                f.name,
                f.dims.join(", ")
            );
        }
        let n = f.values.shape()[0];
        let (nlat, nlon) = (f.values.shape()[1], f.values.shape()[2]);
        let mut pe = Array3::from_elem((pairs.len(), nlat, nlon), f64::NAN);
        for (k, p) in pairs.iter().enumerate() {
            if p.min >= n || p.max >= n {
                bail!(
                    "parameter {}: run index {} or {} is past the {n} members of {}",
                    p.parameter,
                    p.min,
                    p.max,
                    f.name
                );
            }
            let lo = f
                .values
                .index_axis(Axis(0), p.min)
                .into_dimensionality::<ndarray::Ix2>()?;
            let hi = f
                .values
                .index_axis(Axis(0), p.max)
                .into_dimensionality::<ndarray::Ix2>()?;
            ndarray::Zip::from(pe.slice_mut(s![k, .., ..]))
                .and(&lo)
                .and(&hi)
                .for_each(|d, &a, &b| *d = (b - a).abs());
        }
        let field = Field {
            name: f.name.clone(),
            units: f.units.clone(),
            long_name: format!("parameter effect |max - min| of {}", f.name),
            dims: vec!["parameter".into(), "lat".into(), "lon".into()],
            values: pe.into_dyn(),
            grid: f.grid.clone(),
            months: Vec::new(),
            members: pairs.iter().map(|p| p.parameter.clone()).collect(),
        };
        let m = field.area_mean(None)?;
        for k in 0..pairs.len() {
            gm[[k, o]] = m[[k]];
        }
        maps.push(field);
    }
    Ok(Effects {
        parameters: pairs.iter().map(|p| p.parameter.clone()).collect(),
        outputs: means.iter().map(|f| f.name.clone()).collect(),
        maps,
        global_mean: gm,
    })
}

/// Ranks 1..n with ties sharing the lowest rank; `descending` gives 1 to the largest. NaN
/// ranks last (after every number, all NaN sharing one rank).
pub fn rank_min(x: &[f64], descending: bool) -> Vec<f64> {
    let v: Vec<f64> = x.iter().map(|&a| if descending { -a } else { a }).collect();
    let r = rank(
        &ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.clone()).unwrap_or_default(),
        TieMethod::Min,
    );
    let valid = v.iter().filter(|a| !a.is_nan()).count() as f64;
    r.iter()
        .map(|&k| if k.is_nan() { valid + 1.0 } else { k })
        .collect()
}

/// Pattern correlations of the PE maps.
#[derive(Debug, Clone)]
pub struct PatternCorrelation {
    /// Parameters.
    pub parameters: Vec<String>,
    /// Outputs.
    pub outputs: Vec<String>,
    /// Per output: (output, p, q) correlations, NaN where undefined; 1 on the diagonal of a
    /// map with a pattern.
    pub per_output: Array3<f64>,
    /// Summed over outputs, undefined correlations counting 0.
    pub summed: Array2<f64>,
    /// PC(p) (Eq. 2): the summed correlation with each other parameter q != p, averaged over q.
    pub pc_mean: Vec<f64>,
}

/// Pattern correlations between the PE maps of every pair of parameters for each output
/// (weighted by `area * landfrac`), summed over outputs, averaged over the other parameters.
/// With `absolute`, |correlation| is used (anti-correlated patterns count as shared).
pub fn pattern_correlation(e: &Effects, absolute: bool) -> PatternCorrelation {
    let np = e.parameters.len();
    let no = e.outputs.len();
    let mut per = Array3::from_elem((no, np, np), f64::NAN);
    let mut summed = Array2::zeros((np, np));
    let mut any_pattern = vec![false; np];
    for (o, f) in e.maps.iter().enumerate() {
        let w: Vec<f64> = f.grid.weights().iter().copied().collect();
        let cells = w.len();
        let flat = f
            .values
            .as_slice()
            .map(<[f64]>::to_vec)
            .unwrap_or_else(|| f.values.iter().copied().collect());
        for p in 0..np {
            for q in p..np {
                let c = crate::metrics::pattern_correlation(
                    &flat[p * cells..(p + 1) * cells],
                    &flat[q * cells..(q + 1) * cells],
                    &w,
                );
                if let Some(c) = c {
                    let c = if absolute { c.abs() } else { c };
                    per[[o, p, q]] = c;
                    per[[o, q, p]] = c;
                    summed[[p, q]] += c;
                    if p != q {
                        summed[[q, p]] += c;
                    }
                    any_pattern[p] = true;
                    any_pattern[q] = true;
                }
            }
        }
    }
    let pc_mean = (0..np)
        .map(|p| {
            if !any_pattern[p] || np < 2 {
                return f64::NAN;
            }
            (0..np)
                .filter(|&q| q != p)
                .map(|q| summed[[p, q]])
                .sum::<f64>()
                / (np - 1) as f64
        })
        .collect();
    PatternCorrelation {
        parameters: e.parameters.clone(),
        outputs: e.outputs.clone(),
        per_output: per,
        summed,
        pc_mean,
    }
}

/// The rank table (contract `ranks.csv`).
#[derive(Debug, Clone)]
pub struct Ranks {
    /// Parameters.
    pub parameters: Vec<String>,
    /// Outputs.
    pub outputs: Vec<String>,
    /// Rank of each parameter per output, (parameter, output); 1 = largest PE.
    pub per_output: Array2<f64>,
    /// Mean of the per-output ranks.
    pub pe_rank_mean: Vec<f64>,
    /// Rank of `pe_rank_mean` (1 = most sensitive overall).
    pub pe_rank: Vec<f64>,
    /// PC(p).
    pub pc_mean: Vec<f64>,
    /// Rank of `pc_mean` (1 = lowest, the most distinct pattern).
    pub pc_rank: Vec<f64>,
    /// Rank of the mean of `pe_rank` and `pc_rank`.
    pub combined_rank: Vec<f64>,
}

/// Ranks parameters by effect and by pattern distinctness, and combines the two.
pub fn rank_effects(e: &Effects, pc: &PatternCorrelation) -> Ranks {
    let np = e.parameters.len();
    let no = e.outputs.len();
    let mut per = Array2::zeros((np, no));
    for o in 0..no {
        let col: Vec<f64> = e.global_mean.column(o).to_vec();
        for (k, r) in rank_min(&col, true).into_iter().enumerate() {
            per[[k, o]] = r;
        }
    }
    let pe_rank_mean: Vec<f64> = (0..np)
        .map(|k| per.row(k).mean().unwrap_or(f64::NAN))
        .collect();
    let pe_rank = rank_min(&pe_rank_mean, false);
    let pc_rank = rank_min(&pc.pc_mean, false);
    let both: Vec<f64> = pe_rank
        .iter()
        .zip(&pc_rank)
        .map(|(a, b)| (a + b) / 2.0)
        .collect();
    Ranks {
        parameters: e.parameters.clone(),
        outputs: e.outputs.clone(),
        per_output: per,
        pe_rank_mean,
        pe_rank,
        pc_mean: pc.pc_mean.clone(),
        pc_rank,
        combined_rank: rank_min(&both, false),
    }
}

/// The `k` parameters to calibrate: lowest `combined_rank` first; ties go to the better
/// `pe_rank` (a larger effect matters more than a more distinct pattern), then to the order
/// of the spec.
pub fn select(r: &Ranks, k: usize) -> Vec<String> {
    let mut idx: Vec<usize> = (0..r.parameters.len()).collect();
    idx.sort_by(|&a, &b| {
        r.combined_rank[a]
            .total_cmp(&r.combined_rank[b])
            .then(r.pe_rank[a].total_cmp(&r.pe_rank[b]))
            .then(a.cmp(&b))
    });
    idx.into_iter()
        .take(k)
        .map(|i| r.parameters[i].clone())
        .collect()
}

/// A number in a CSV cell, by the one rule of every CSV (integers as integers, NaN empty).
fn num(x: f64) -> String {
    crate::array::csv::fmt_number(x)
}

/// Writes a CSV file; its errors name the file already (no second "cannot write" before
/// "refusing to write").
fn write_csv(path: &Path, header: &[String], rows: &[Vec<String>]) -> Result<()> {
    crate::array::csv::write_records(path, header, rows)
}

/// `pe_global_mean.csv`: parameter, output, pe.
pub fn write_global_mean(e: &Effects, path: &Path) -> Result<()> {
    let mut rows = Vec::new();
    for (k, p) in e.parameters.iter().enumerate() {
        for (o, out) in e.outputs.iter().enumerate() {
            rows.push(vec![p.clone(), out.clone(), num(e.global_mean[[k, o]])]);
        }
    }
    write_csv(
        path,
        &["parameter".into(), "output".into(), "pe".into()],
        &rows,
    )
}

/// `ranks.csv`: parameter, rank_OUTPUT..., pe_rank_mean, pe_rank, pc_mean, pc_rank,
/// combined_rank.
pub fn write_ranks(r: &Ranks, path: &Path) -> Result<()> {
    let mut head = vec!["parameter".to_string()];
    head.extend(r.outputs.iter().map(|o| format!("rank_{o}")));
    head.extend(
        [
            "pe_rank_mean",
            "pe_rank",
            "pc_mean",
            "pc_rank",
            "combined_rank",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let rows: Vec<Vec<String>> = (0..r.parameters.len())
        .map(|k| {
            let mut row = vec![r.parameters[k].clone()];
            row.extend(r.per_output.row(k).iter().map(|&x| num(x)));
            row.extend([
                num(r.pe_rank_mean[k]),
                num(r.pe_rank[k]),
                num(r.pc_mean[k]),
                num(r.pc_rank[k]),
                num(r.combined_rank[k]),
            ]);
            row
        })
        .collect();
    write_csv(path, &head, &rows)
}

/// `pattern_correlation.csv`: output, parameter_p, parameter_q, correlation — every ordered
/// pair per output, then the sum over outputs as output `sum`.
pub fn write_pattern_correlation(pc: &PatternCorrelation, path: &Path) -> Result<()> {
    let np = pc.parameters.len();
    let mut rows = Vec::new();
    for (o, out) in pc.outputs.iter().enumerate() {
        for p in 0..np {
            for q in 0..np {
                rows.push(vec![
                    out.clone(),
                    pc.parameters[p].clone(),
                    pc.parameters[q].clone(),
                    num(pc.per_output[[o, p, q]]),
                ]);
            }
        }
    }
    for p in 0..np {
        for q in 0..np {
            rows.push(vec![
                "sum".into(),
                pc.parameters[p].clone(),
                pc.parameters[q].clone(),
                num(pc.summed[[p, q]]),
            ]);
        }
    }
    write_csv(
        path,
        &[
            "output".into(),
            "parameter_p".into(),
            "parameter_q".into(),
            "correlation".into(),
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_share_the_lowest_on_ties_and_nan_goes_last() {
        assert_eq!(
            rank_min(&[3.0, 1.0, 3.0, 2.0], true),
            vec![1.0, 4.0, 1.0, 3.0]
        );
        assert_eq!(rank_min(&[3.0, f64::NAN, 1.0], false), vec![2.0, 3.0, 1.0]);
    }
}
