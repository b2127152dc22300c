//! The demo model's atmosphere: a seasonal climate on the real continents, computed from
//! geography (latitude, distance to the sea, position on the continent), with year-to-year
//! anomalies that depend only on the calendar year (so they cycle like CIME's DATM when the
//! run cycles its forcing years). See docs/demo-model.md.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;

/// Days in each month (noleap).
pub const DAYS: [f64; 12] = [
    31.0, 28.0, 31.0, 30.0, 31.0, 30.0, 31.0, 31.0, 30.0, 31.0, 30.0, 31.0,
];

/// Geography of one land cell, fixed for all runs.
#[derive(Debug, Clone)]
pub struct Geo {
    /// Latitude (degrees north).
    pub lat: f64,
    /// Longitude (degrees east, -180..180).
    pub lon: f64,
    /// Continentality 0 (coast) .. 1 (deep interior).
    pub cont: f64,
    /// Cells of land to the east before the sea.
    pub d_east: f64,
    /// Cells of land to the west before the sea.
    pub d_west: f64,
    /// Ice sheet (Antarctica, Greenland).
    pub ice: bool,
    /// Maximum saturated fraction (topography), 0.2..0.45.
    pub fmax: f64,
}

/// The cell and its eight neighbours on a lat/lon grid of `ny` x `nx`, periodic in
/// longitude (rows beyond the poles left out).
pub fn neighbours(
    i: usize,
    j: usize,
    ny: usize,
    nx: usize,
) -> impl Iterator<Item = (usize, usize)> {
    (-1i64..=1).flat_map(move |di| {
        (-1i64..=1).filter_map(move |dj| {
            let ii = i as i64 + di;
            (ii >= 0 && ii < ny as i64)
                .then(|| (ii as usize, (j as i64 + dj).rem_euclid(nx as i64) as usize))
        })
    })
}

/// Builds the geography of the cells with land: `landfrac` is (nlat, nlon) on the f45
/// grid; returns the (row, column) of each land cell and its geography.
pub fn geography(
    landfrac: &ndarray::Array2<f64>,
    lat: &[f64],
    lon: &[f64],
) -> Vec<((usize, usize), Geo)> {
    let (ny, nx) = landfrac.dim();
    let land = |i: usize, j: usize| landfrac[[i, j]] >= 0.5;
    // distance (in cells, 8 neighbours) to the nearest sea cell
    let mut dist = ndarray::Array2::<f64>::from_elem((ny, nx), f64::INFINITY);
    let mut queue = std::collections::VecDeque::new();
    for i in 0..ny {
        for j in 0..nx {
            if !land(i, j) {
                dist[[i, j]] = 0.0;
                queue.push_back((i, j));
            }
        }
    }
    while let Some((i, j)) = queue.pop_front() {
        let d = dist[[i, j]];
        for (ii, jj) in neighbours(i, j, ny, nx) {
            if dist[[ii, jj]] > d + 1.0 {
                dist[[ii, jj]] = d + 1.0;
                queue.push_back((ii, jj));
            }
        }
    }
    let run = |i: usize, j: usize, step: i64| -> f64 {
        let mut n = 0.0;
        let mut jj = j as i64;
        while n < 30.0 {
            jj = (jj + step).rem_euclid(nx as i64);
            if !land(i, jj as usize) {
                break;
            }
            n += 1.0;
        }
        n
    };
    let mut out = Vec::new();
    for i in 0..ny {
        for j in 0..nx {
            if landfrac[[i, j]].is_nan() || landfrac[[i, j]] <= 0.0 {
                continue;
            }
            let la = lat[i];
            let lo = if lon[j] > 180.0 {
                lon[j] - 360.0
            } else {
                lon[j]
            };
            let d = if dist[[i, j]].is_finite() {
                dist[[i, j]]
            } else {
                10.0
            };
            let ice = la <= -62.0
                || (la >= 60.0 && (-75.0..=-12.0).contains(&lo) && la >= 62.0
                    || (la >= 70.0 && (-60.0..=-15.0).contains(&lo)));
            let (r, c) = (la.to_radians(), lo.to_radians());
            let topo =
                0.5 * (3.0 * r).sin() * (2.0 * c + 1.0).cos() + 0.5 * (5.0 * c + 2.0 * r).sin();
            out.push((
                (i, j),
                Geo {
                    lat: la,
                    lon: lo,
                    cont: 1.0 - (-d / 2.5).exp(),
                    d_east: run(i, j, 1),
                    d_west: run(i, j, -1),
                    ice,
                    fmax: 0.32 + 0.12 * topo.clamp(-1.0, 1.0),
                },
            ));
        }
    }
    out
}

/// Climatology of one cell in one month (no year-to-year anomaly).
#[derive(Debug, Clone, Copy, Default)]
pub struct Base {
    /// 2-m air temperature (C).
    pub t: f64,
    /// Precipitation (mm/day).
    pub p: f64,
    /// Top-of-atmosphere insolation, daily mean (W/m2).
    pub q_toa: f64,
    /// Daylight fraction of the day.
    pub daylight: f64,
}

/// Daily-mean top-of-atmosphere insolation (W/m2) and daylight fraction at `lat` on day of
/// year `doy` (standard astronomy, circular orbit corrected for eccentricity).
pub fn insolation(lat: f64, doy: f64) -> (f64, f64) {
    let decl = 23.44f64.to_radians() * (2.0 * PI * (284.0 + doy) / 365.0).sin();
    let phi = lat.to_radians();
    let x = (-phi.tan() * decl.tan()).clamp(-1.0, 1.0);
    let h0 = x.acos();
    let ecc = 1.0 + 0.033 * (2.0 * PI * doy / 365.0).cos();
    let q = 1361.0 / PI * ecc * (h0 * phi.sin() * decl.sin() + phi.cos() * decl.cos() * h0.sin());
    (q.max(0.0), h0 / PI)
}

fn bump(x: f64, centre: f64, width: f64) -> f64 {
    (-((x - centre) / width).powi(2)).exp()
}

/// The climatology of cell `g` in month `m` (0..11).
pub fn base(g: &Geo, m: usize) -> Base {
    let t_year = (m as f64 + 0.5) / 12.0;
    let doy = 15.0 + 30.4 * m as f64;
    let (q_toa, daylight) = insolation(g.lat, doy);
    let s = g.lat.to_radians().sin().abs();
    let hemi = if g.lat >= 0.0 { 1.0 } else { -1.0 };
    // temperature: zonal mean, ice-sheet elevation, seasonal cycle growing with latitude and
    // continentality (coldest in mid-January in the north)
    let mut t_ann = 27.0 - 42.0 * s.powf(2.4);
    if g.ice {
        t_ann -= 22.0;
    }
    // mild maritime west coasts in middle and high latitudes (e.g. western Europe)
    t_ann += 4.0 * (-g.d_west / 5.0).exp() * bump(s.asin().to_degrees(), 55.0, 15.0);
    let amp = 1.0 + 28.0 * s.powf(1.5) * (0.3 + 0.7 * g.cont);
    let t = t_ann - amp * hemi * (2.0 * PI * (t_year - 0.04)).cos();
    // precipitation: an ITCZ following the sun (monsoons), equatorial rain, subtropical
    // deserts on the west and interior of continents, storm tracks fed from the west,
    // summer convection, and less moisture in the cold
    let itcz_lat = 2.0 - 11.0 * (2.0 * PI * (t_year - 0.04)).cos();
    let p_itcz = 9.0 * bump(g.lat, itcz_lat, 8.0);
    let p_eq = 3.5 * bump(g.lat, 0.0, 7.0) * (1.0 - 0.5 * g.cont);
    let winter = (hemi * (2.0 * PI * (t_year - 0.04)).cos()).max(0.0);
    let p_mid = 2.6
        * bump(s.asin().to_degrees(), 50.0, 14.0)
        * (0.75 + 0.5 * winter)
        * (0.5 + 0.5 * (-g.d_west / 12.0).exp());
    let summer = (-hemi * (2.0 * PI * (t_year - 0.04)).cos()).max(0.0);
    let p_east =
        3.0 * bump(s.asin().to_degrees(), 35.0, 8.0) * (-g.d_east / 3.0).exp() * (0.5 + summer);
    // the South and East Asian summer monsoon and the Australian monsoon
    let p_monsoon = 9.0 * bump(g.lat, 22.0, 8.0) * bump(g.lon, 95.0, 22.0) * summer.powi(2)
        + 7.0 * bump(g.lat, -14.0, 6.0) * bump(g.lon, 132.0, 15.0) * summer.powi(2);
    let p_conv = 2.6
        * ((t - 6.0) / 15.0).clamp(0.0, 1.0)
        * (-g.cont * 0.8).exp()
        * summer.max(0.3)
        * ((s.asin().to_degrees() - 25.0) / 10.0).clamp(0.0, 1.0);
    let sub = 1.0 - 0.9 * bump(s.asin().to_degrees(), 24.0, 8.0) * (1.0 - (-g.d_east / 2.0).exp());
    let cold = ((t.min(10.0) - 10.0) * 0.03).exp();
    let mut p = (p_itcz + p_eq) * sub + p_monsoon + (p_mid + p_east + p_conv) * sub * cold;
    if g.ice {
        p *= 0.3;
    }
    Base {
        t,
        p: p.max(0.02),
        q_toa,
        daylight,
    }
}

/// Year-to-year anomalies of one calendar year: smooth large-scale patterns of temperature
/// and precipitation for the year and for each month, and an ENSO-like index.
#[derive(Debug, Clone)]
pub struct YearAnomaly {
    /// The calendar year.
    pub year: i64,
    enso: f64,
    t_year: [f64; 6],
    p_year: [f64; 6],
    t_month: [[f64; 6]; 12],
    p_month: [[f64; 6]; 12],
}

impl YearAnomaly {
    /// The anomalies of calendar year `year` (the same every time it is asked for).
    pub fn new(year: i64) -> YearAnomaly {
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0000 ^ year as u64);
        let mut n = || -> f64 {
            // approximately standard normal (sum of uniforms), cheap and seeded
            (0..12).map(|_| rng.gen::<f64>()).sum::<f64>() - 6.0
        };
        let enso = n();
        let mut arr = || {
            let mut a = [0.0; 6];
            for x in a.iter_mut() {
                *x = n();
            }
            a
        };
        let t_year = arr();
        let p_year = arr();
        let mut t_month = [[0.0; 6]; 12];
        let mut p_month = [[0.0; 6]; 12];
        for m in 0..12 {
            t_month[m] = arr();
            p_month[m] = arr();
        }
        YearAnomaly {
            year,
            enso,
            t_year,
            p_year,
            t_month,
            p_month,
        }
    }
}

/// Six smooth basis patterns at a cell (spatial scales of thousands of km).
pub fn basis(g: &Geo) -> [f64; 6] {
    let (r, c) = (g.lat.to_radians(), g.lon.to_radians());
    [
        (2.0 * r).sin(),
        r.cos() * c.cos(),
        r.cos() * c.sin(),
        (2.0 * c + 3.0 * r).cos(),
        (3.0 * c - r).sin() * r.cos(),
        (4.0 * r + c).cos(),
    ]
}

/// The forcing of one cell in one month.
#[derive(Debug, Clone, Copy)]
pub struct Forcing {
    /// 2-m air temperature (K).
    pub t: f64,
    /// Precipitation (mm/day).
    pub p: f64,
    /// Fraction of precipitation falling as snow.
    pub snow_frac: f64,
    /// Incident solar radiation, daily mean (W/m2).
    pub fsds: f64,
    /// Relative humidity (0..1).
    pub rh: f64,
    /// Wind speed at reference height (m/s).
    pub wind: f64,
    /// Cloud fraction.
    pub cloud: f64,
    /// Daylight fraction.
    pub daylight: f64,
}

/// The forcing of cell `g` with climatology `b`, basis `phi`, in month `m` of the year with
/// anomalies `a`; `noise` is the member's (precipitation factor, temperature offset).
pub fn forcing(
    g: &Geo,
    b: &Base,
    phi: &[f64; 6],
    a: &YearAnomaly,
    m: usize,
    noise: (f64, f64),
) -> Forcing {
    let dot = |c: &[f64; 6]| c.iter().zip(phi).map(|(x, y)| x * y).sum::<f64>();
    let s = g.lat.to_radians().sin().abs();
    let t_amp = 0.3 + 1.2 * s * (0.5 + 0.5 * g.cont);
    let t = b.t + t_amp * (0.5 * dot(&a.t_year) + 0.8 * dot(&a.t_month[m])) / 2.0 + noise.1;
    // ENSO: drier Amazon, maritime continent and Australia in warm years
    let tropics = bump(g.lat, -2.0, 14.0);
    let enso_pattern = -(bump(g.lon, -60.0, 25.0) + bump(g.lon, 125.0, 30.0)) * tropics;
    let log_p = 0.10 * dot(&a.p_year) / 2.0
        + 0.18 * dot(&a.p_month[m]) / 2.0
        + 0.15 * a.enso * enso_pattern;
    let p = b.p * log_p.clamp(-1.5, 1.5).exp() * noise.0;
    let cloud = (0.12 + 0.68 * (1.0 - (-p / 3.5).exp())).clamp(0.08, 0.85);
    let fsds = b.q_toa * 0.76 * (1.0 - 0.55 * cloud);
    let rh = (0.32 + 0.55 * (1.0 - (-p / 2.5).exp()) + 0.08 * (1.0 - g.cont)).clamp(0.15, 0.93);
    let snow_frac = ((1.5 - t) / 3.0).clamp(0.0, 1.0);
    Forcing {
        t: t + 273.15,
        p,
        snow_frac,
        fsds,
        rh,
        wind: 2.5 + 2.0 * (1.0 - g.cont),
        cloud,
        daylight: b.daylight,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insolation_matches_known_values() {
        // equator at equinox: S0/pi * (1 + small) ~ 433 W/m2; daylight half the day
        let (q, day) = insolation(0.0, 80.0);
        assert!((q - 435.0).abs() < 8.0, "{q}");
        assert!((day - 0.5).abs() < 0.01);
        // polar night and midnight sun
        assert_eq!(insolation(80.0, 355.0).0, 0.0);
        let (q, day) = insolation(80.0, 172.0);
        assert!(q > 500.0 && day == 1.0, "{q}");
    }
}
