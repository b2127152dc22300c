//! Grids: the model grid as a set of cells ([`Grid`], `grid.rs`), and the built-in ones:
//! CIME's f45 (4x5 degree) grid with the land fraction shipped in `data/landfrac_4x5.csv`
//! (see `data/README.md` for where it comes from). Names no other module of clmtune.

pub mod grid;

use anyhow::{bail, Result};
pub use grid::{Grid, EARTH_RADIUS_KM};
use ndarray::Array2;

const LANDFRAC_4X5: &str = include_str!("../../data/landfrac_4x5.csv");

/// The shipped land fraction of the f45 grid (46 x 72).
pub fn landfrac_4x5() -> Result<Array2<f64>> {
    let rows: Vec<Vec<f64>> = LANDFRAC_4X5
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|x| x.trim().parse::<f64>())
                .collect::<std::result::Result<Vec<_>, _>>()
        })
        .collect::<std::result::Result<_, _>>()?;
    if rows.len() != 46 || rows.iter().any(|r| r.len() != 72) {
        bail!("data/landfrac_4x5.csv is not 46 x 72");
    }
    Ok(Array2::from_shape_fn((46, 72), |(i, j)| rows[i][j]))
}

/// CIME's f45 grid (as `--res f45_f45`) with real continents.
pub fn f45() -> Result<Grid> {
    Grid::regular(46, 72, landfrac_4x5()?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn continents_are_where_they_belong() {
        let g = super::f45().unwrap();
        let cell = |lat: f64, lon: f64| {
            let i = ((lat + 90.0) / 4.0).round() as usize;
            let j = (lon.rem_euclid(360.0) / 5.0).round() as usize;
            g.landfrac[i * 72 + j]
        };
        assert_eq!(cell(22.0, 10.0), 1.0, "Sahara");
        assert_eq!(cell(-10.0, -60.0), 1.0, "Amazon");
        assert_eq!(cell(62.0, 100.0), 1.0, "Siberia");
        assert_eq!(cell(-82.0, 0.0), 1.0, "Antarctica");
        assert_eq!(cell(0.0, 180.0), 0.0, "central Pacific");
        assert_eq!(cell(30.0, -40.0), 0.0, "North Atlantic");
        // Earth is about 29 % land (Antarctica included)
        let share = (&g.area * &g.landfrac).sum() / g.area.sum();
        assert!((share - 0.29).abs() < 0.01, "{share}");
    }
}
