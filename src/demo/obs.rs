//! Synthetic observations shaped like FLUXNET-MTE (Jung et al. 2011): the demo model run
//! with a "truth" parameter set through the calendar years' forcing, interpolated to 0.5
//! degrees on a real land mask, with observation noise, missing values, and optionally a
//! regional structural bias (so that calibration cannot fit perfectly). The truth is written
//! to its own file, apart from the observations.

use super::params::{Params, NOTICE};
use super::run::{self, LandCells};
use crate::field::obs::{Bilinear, ObsGrid};
use anyhow::{bail, Context, Result};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::path::Path;

const LANDMASK_HALF: &str = include_str!("../../data/landmask_0.5deg.txt");

/// The 0.5 degree land mask shipped in `data/landmask_0.5deg.txt` (360 x 720, south to
/// north, longitudes -179.75..179.75).
pub fn landmask_half_degree() -> Result<Array2<bool>> {
    let mut rows = Vec::new();
    for line in LANDMASK_HALF.lines().filter(|l| !l.starts_with('#')) {
        let (first, runs) = line.split_once(':').context("landmask row")?;
        let mut v: bool = first.trim() == "1";
        let mut row = Vec::with_capacity(720);
        for r in runs.split_whitespace() {
            let n: usize = r.parse()?;
            row.extend(std::iter::repeat_n(v, n));
            v = !v;
        }
        if row.len() != 720 {
            bail!("data/landmask_0.5deg.txt: a row has {} cells", row.len());
        }
        rows.push(row);
    }
    if rows.len() != 360 {
        bail!("data/landmask_0.5deg.txt has {} rows", rows.len());
    }
    Ok(Array2::from_shape_fn((360, 720), |(i, j)| rows[i][j]))
}

/// How to make an observation file.
#[derive(Debug, Clone)]
pub struct ObsOptions {
    /// Calendar years covered (the real product: 1982-2008).
    pub years: (i64, i64),
    /// Add the regional structural bias.
    pub bias: bool,
    /// Seed of the observation noise and missing values.
    pub seed: u64,
}

fn bump(x: f64, c: f64, w: f64) -> f64 {
    (-((x - c) / w).powi(2)).exp()
}

/// The structural bias factors (GPP, LE) at a point: FLUXNET-MTE-like disagreements with
/// the model — more GPP in the wet tropics, less in the boreal forest, less latent heat in
/// the semi-arid tropics, more in the eastern United States.
pub fn bias_factors(lat: f64, lon: f64) -> (f64, f64) {
    let wet_tropics = bump(lat, -2.0, 9.0) * (bump(lon, -60.0, 18.0) + bump(lon, 20.0, 14.0));
    let boreal = bump(lat, 62.0, 8.0);
    let semi_arid = bump(lat, 13.0, 6.0) * bump(lon, 10.0, 30.0)
        + bump(lat, -20.0, 7.0) * bump(lon, 135.0, 15.0);
    let east_us = bump(lat, 38.0, 7.0) * bump(lon, -85.0, 10.0);
    (
        1.0 + 0.18 * wet_tropics - 0.20 * boreal,
        1.0 - 0.15 * semi_arid + 0.10 * east_us,
    )
}

/// Fills the NaN cells of a model map from their defined neighbours (repeated averaging), so
/// that bilinear interpolation reaches coastal points.
fn fill_out(map: &mut Array2<f64>) {
    let (ny, nx) = map.dim();
    for _ in 0..3 {
        let src = map.clone();
        for i in 0..ny {
            for j in 0..nx {
                if src[[i, j]].is_nan() {
                    let (mut s, mut n) = (0.0, 0.0);
                    for (ii, jj) in super::climate::neighbours(i, j, ny, nx) {
                        let v = src[[ii, jj]];
                        if v.is_finite() {
                            s += v;
                            n += 1.0;
                        }
                    }
                    if n > 0.0 {
                        map[[i, j]] = s / n;
                    }
                }
            }
        }
    }
}

/// The observed variables: name, units, long name. `H` (sensible heat, which FLUXNET-MTE
/// also provides) is not calibrated on; the test case judges it.
pub const VARIABLES: [(&str, &str, &str); 3] = [
    ("GPP", "gC m-2 d-1", "gross primary production"),
    ("LE", "MJ m-2 d-1", "latent heat flux"),
    ("H", "MJ m-2 d-1", "sensible heat flux"),
];

/// Seed offset of the noise of `H`: its own random stream, so that `GPP` and `LE` are the
/// same values as in files made before `H` was added.
const H_STREAM: u64 = 0x4853_454e_5349_424c;

/// Runs the truth and writes the observation file (netCDF-4, compressed): `GPP` in
/// gC m-2 d-1, `LE` and `H` in MJ m-2 d-1 on (time, lat, lon) at 0.5 degrees, fill -9999.
/// The structural bias touches GPP and LE only.
#[allow(clippy::needless_range_loop)] // months index the per-cell series
pub fn write_observations(
    path: &Path,
    truth: &Params,
    opts: &ObsOptions,
    cells: &LandCells,
    grid: &crate::field::Grid,
) -> Result<()> {
    let (y0, y1) = opts.years;
    if y1 < y0 || y0 < 1 {
        bail!("observation years {y0}-{y1} are not a range");
    }
    // spin up on the first ten years, then run through the calendar years
    let spin: Vec<i64> = (0..10).map(|k| y0 + k % (y1 - y0 + 1)).collect();
    let years: Vec<i64> = spin.iter().copied().chain(y0..=y1).collect();
    let out = run::simulate(
        cells,
        truth,
        &years,
        spin.len(),
        run::case_seed("fluxnet_mte_truth"),
    );
    let nmonths = ((y1 - y0 + 1) * 12) as usize;
    let land = landmask_half_degree()?;
    let lat: Vec<f64> = (0..360).map(|i| -89.75 + 0.5 * i as f64).collect();
    let lon: Vec<f64> = (0..720).map(|j| -179.75 + 0.5 * j as f64).collect();
    let points: Vec<(f64, f64)> = lat
        .iter()
        .flat_map(|&a| lon.iter().map(move |&b| (a, b)))
        .collect();
    let weights = Bilinear::new(
        &ObsGrid {
            lat: grid.lat.clone(),
            lon: grid.lon.clone(),
        },
        &points,
    )?;
    let valid = Array2::from_shape_fn((360, 720), |(i, j)| {
        let (la, lo) = (lat[i], lon[j]);
        let greenland = la > 59.0 && (-75.0..=-10.0).contains(&lo) && !(la < 66.0 && lo < -60.0);
        land[[i, j]] && la > -60.0 && !greenland
    });
    let (ny, nx) = (grid.lat.len(), grid.lon.len());
    let fill = -9999.0f32;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut rng_h = ChaCha8Rng::seed_from_u64(opts.seed ^ H_STREAM);

    use crate::nc::{Format, Kind, Values, Writer};
    let mut w = Writer::new(Format::Netcdf4);
    w.dim("time", nmonths).dim("lat", 360).dim("lon", 720);
    w.global(
        "title",
        "Synthetic FLUXNET-MTE-shaped GPP, latent and sensible heat from the clmtune demo model (NOT real observations)",
    )
    .global("source", NOTICE)
    .global(
        "comment",
        format!(
            "Demo model run with a truth parameter set (recorded apart, in truth.toml) through forcing years {y0}-{y1}, bilinearly interpolated to 0.5 degrees, multiplied by exp(0.06 N(0,1)) observation noise, 0.3 % of land values missing each month, no data south of 60S or on Greenland{}.",
            if opts.bias {
                "; a regional structural bias is applied (GPP +18 % in the wet tropics, -20 % boreal; LE -15 % in the semi-arid tropics, +10 % in the eastern United States)"
            } else {
                "; no structural bias (for identical-twin tests)"
            }
        ),
    )
    .global("history", crate::files::written_by())
    .global("Conventions", "CF-1.6");
    w.var("time", &["time"], Values::Later(Kind::F64))
        .attr("units", "days since 1582-10-15 00:00:00")
        .attr("calendar", "standard")
        .attr("long_name", "time");
    for (n, u, values) in [
        ("lat", "degrees_north", &lat),
        ("lon", "degrees_east", &lon),
    ] {
        let v32: Vec<f32> = values.iter().map(|&x| x as f32).collect();
        w.var(n, &[n], v32).attr("units", u);
    }
    for (n, u, long) in VARIABLES {
        w.var(n, &["time", "lat", "lon"], Values::Later(Kind::F32))
            .chunking(&[1, 360, 720])
            .compression(1, true)
            .fill(fill as f64)
            .attr("units", u)
            .attr("long_name", long);
    }
    w.save_with(path, |f| {
        let mut times = Vec::with_capacity(nmonths);
        for t in 0..nmonths {
            let year = y0 + (t / 12) as i64;
            let m = t % 12;
            // mid-month, days since 1582-10-15 (proleptic Gregorian)
            let days_since = |y: i64, mo: u32, d: u32| {
                crate::calendar::days_from_civil(y, mo, d)
                    - crate::calendar::days_from_civil(1582, 10, 15)
            };
            let start = days_since(year, m as u32 + 1, 1) as f64;
            let end = if m == 11 {
                days_since(year + 1, 1, 1)
            } else {
                days_since(year, m as u32 + 2, 1)
            } as f64;
            times.push(0.5 * (start + end));
            for (vi, (name, _, _)) in VARIABLES.iter().enumerate() {
                let rng = if vi == 2 { &mut rng_h } else { &mut rng };
                let mut map = Array2::from_elem((ny, nx), f64::NAN);
                for (k, ((i, j), _)) in cells.iter().enumerate() {
                    let mo = &out[k][t];
                    map[[*i, *j]] = match vi {
                        0 => mo.gpp_umol * 12.011e-6 * 86400.0,
                        1 => mo.lh * 0.0864,
                        _ => mo.fsh * 0.0864,
                    };
                }
                fill_out(&mut map);
                let half = weights.apply(&map)?;
                let mut values = vec![fill; 360 * 720];
                for i in 0..360 {
                    for j in 0..720 {
                        if !valid[[i, j]] {
                            continue;
                        }
                        let noise: f64 = StandardNormal.sample(&mut *rng);
                        let missing = rng.gen::<f64>() < 0.003;
                        let mut x = half[i * 720 + j] * (0.06 * noise).exp();
                        if opts.bias && vi < 2 {
                            let (bg, bl) = bias_factors(lat[i], lon[j]);
                            x *= if vi == 0 { bg } else { bl };
                        }
                        if x.is_finite() && !missing {
                            // three significant decimals, as a product on disk would carry
                            values[i * 720 + j] = ((x * 1000.0).round() / 1000.0) as f32;
                        }
                    }
                }
                f.variable_mut(name)
                    .context("obs variable")?
                    .put_values(&values, [t..t + 1, 0..360, 0..720])?;
            }
        }
        f.variable_mut("time")
            .context("time")?
            .put_values(&times, ..)?;
        Ok(())
    })
}
