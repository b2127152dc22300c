//! Facts about CLM5 that every stage shares: the 79 plant functional types (PFTs) in the order
//! of `clm5_params.c171117.nc`, PFT index lists as the parameter spec writes them, and the
//! `pftname` variable of a params file, checked before any value is read or written by index.

use anyhow::{bail, Context, Result};
use std::path::Path;

/// Number of PFTs in a CLM5 params file (`pft` dimension), bare ground included.
pub const NPFT: usize = 79;

/// Segments of the plant hydraulic system (the `segment` dimension of CLM5 params files,
/// `nvegwcs` in older ones): sunlit leaf, shaded leaf, xylem, root.
pub const NVEGWCS: usize = 4;

/// Length of the `pftname` strings in the params file (`string_length`).
pub const NAME_LEN: usize = 40;

/// CLM5's PFT names in params-file order (index 0 = bare ground).
pub const PFT_NAMES: [&str; NPFT] = [
    "not_vegetated",
    "needleleaf_evergreen_temperate_tree",
    "needleleaf_evergreen_boreal_tree",
    "needleleaf_deciduous_boreal_tree",
    "broadleaf_evergreen_tropical_tree",
    "broadleaf_evergreen_temperate_tree",
    "broadleaf_deciduous_tropical_tree",
    "broadleaf_deciduous_temperate_tree",
    "broadleaf_deciduous_boreal_tree",
    "broadleaf_evergreen_shrub",
    "broadleaf_deciduous_temperate_shrub",
    "broadleaf_deciduous_boreal_shrub",
    "c3_arctic_grass",
    "c3_non-arctic_grass",
    "c4_grass",
    "c3_crop",
    "c3_irrigated",
    "temperate_corn",
    "irrigated_temperate_corn",
    "spring_wheat",
    "irrigated_spring_wheat",
    "winter_wheat",
    "irrigated_winter_wheat",
    "temperate_soybean",
    "irrigated_temperate_soybean",
    "barley",
    "irrigated_barley",
    "winter_barley",
    "irrigated_winter_barley",
    "rye",
    "irrigated_rye",
    "winter_rye",
    "irrigated_winter_rye",
    "cassava",
    "irrigated_cassava",
    "citrus",
    "irrigated_citrus",
    "cocoa",
    "irrigated_cocoa",
    "coffee",
    "irrigated_coffee",
    "cotton",
    "irrigated_cotton",
    "datepalm",
    "irrigated_datepalm",
    "foddergrass",
    "irrigated_foddergrass",
    "grapes",
    "irrigated_grapes",
    "groundnuts",
    "irrigated_groundnuts",
    "millet",
    "irrigated_millet",
    "oilpalm",
    "irrigated_oilpalm",
    "potatoes",
    "irrigated_potatoes",
    "pulses",
    "irrigated_pulses",
    "rapeseed",
    "irrigated_rapeseed",
    "rice",
    "irrigated_rice",
    "sorghum",
    "irrigated_sorghum",
    "sugarbeet",
    "irrigated_sugarbeet",
    "sugarcane",
    "irrigated_sugarcane",
    "sunflower",
    "irrigated_sunflower",
    "miscanthus",
    "irrigated_miscanthus",
    "switchgrass",
    "irrigated_switchgrass",
    "tropical_corn",
    "irrigated_tropical_corn",
    "tropical_soybean",
    "irrigated_tropical_soybean",
];

pub use crate::nc::NcChar;

/// Reads the `pftname` list of a params file.
pub fn read_pft_names(file: &netcdf::File, path: &Path) -> Result<Vec<String>> {
    let v = crate::nc::variable(file, path, "pftname")?;
    let dims = v.dimensions();
    if dims.len() != 2 {
        bail!("{}: pftname should be (pft, string_length)", path.display());
    }
    let len = dims[1].len();
    let chars: Vec<NcChar> = v
        .get_values(..)
        .with_context(|| format!("{}: cannot read pftname", path.display()))?;
    Ok(chars
        .chunks(len.max(1))
        .map(|c| {
            let s: String = c.iter().map(|x| x.0 as char).collect();
            s.trim_matches(|ch: char| ch == '\0' || ch.is_whitespace())
                .to_string()
        })
        .collect())
}

/// Checks a params file's `pftname` list against CLM5's order: the count, then the first PFT
/// out of place (so a value meant for one PFT is never written to another).
pub fn check_pft_order(names: &[String], path: &Path) -> Result<()> {
    if names.len() != NPFT {
        bail!(
            "{}: {} PFTs in pftname, CLM5's order has {NPFT}",
            path.display(),
            names.len()
        );
    }
    if let Some(p) = (0..NPFT).find(|&p| names[p] != PFT_NAMES[p]) {
        bail!(
            "{}: PFT {p} is '{}', CLM5's order has '{}' there",
            path.display(),
            names[p],
            PFT_NAMES[p]
        );
    }
    Ok(())
}

/// Parses a PFT index list such as `"1-3"` or `"14,17,18,67-68"` (indices into the `pft`
/// dimension, 0 = bare ground); an index past 78, a reversed range or a stray character is an
/// error quoting the text.
pub fn parse_indices(text: &str) -> anyhow::Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let (a, b): (usize, usize) = match (a.parse(), b.parse()) {
            (Ok(a), Ok(b)) => (a, b),
            _ => {
                anyhow::bail!(
                    "PFT indices '{text}': '{part}' is not an index or a range like 1-3",
                    part = crate::format::printable(part),
                    text = crate::format::printable(text)
                )
            }
        };
        if a > b || b >= NPFT {
            anyhow::bail!(
                "PFT indices '{text}': '{part}' is outside 0-{} or reversed",
                NPFT - 1,
                part = crate::format::printable(part),
                text = crate::format::printable(text)
            );
        }
        out.extend(a..=b);
    }
    Ok(out)
}

#[cfg(test)]
mod index_tests {
    #[test]
    fn index_lists() {
        assert_eq!(super::parse_indices("1-3").unwrap(), vec![1, 2, 3]);
        assert_eq!(
            super::parse_indices("14, 17,67-68").unwrap(),
            vec![14, 17, 67, 68]
        );
        assert!(super::parse_indices("3-1").is_err());
        assert!(super::parse_indices("1-79").is_err());
        assert!(super::parse_indices("a")
            .unwrap_err()
            .to_string()
            .contains("'a'"));
    }
}
