//! Observations: a netCDF-4 file with descending latitudes, -180..180 longitudes, the
//! standard calendar and a numeric fill value, regridded onto a model grid and checked by
//! hand; bad observation files give errors naming file and variable.

use clmtune::field::obs::{apply_mask, coverage_mask, read_obs};
use clmtune::field::Grid;
use ndarray::Array2;
use std::path::Path;
use std::sync::Arc;

const FILL: f32 = -9999.0;

/// 2-degree cells, latitudes 89..-89 (descending), longitudes -179..179; monthly 1999-2001
/// stamped mid-month in days since 1980-01-01 (standard calendar). GPP = 0.1 * lat + month
/// (1..12) in gC m-2 d-1, but missing in March, April and May of every year north of 60N
/// and always south of 40S; LE = 2 MJ m-2 d-1 everywhere.
fn write_obs(path: &Path) {
    let lat: Vec<f64> = (0..90).map(|i| 89.0 - 2.0 * i as f64).collect();
    let lon: Vec<f64> = (0..180).map(|j| -179.0 + 2.0 * j as f64).collect();
    let mut f = netcdf::create_with(path, netcdf::Options::NETCDF4).unwrap();
    f.add_dimension("time", 36).unwrap();
    f.add_dimension("latitude", 90).unwrap();
    f.add_dimension("longitude", 180).unwrap();
    {
        let mut v = f.add_variable::<f64>("latitude", &["latitude"]).unwrap();
        v.put_attribute("units", "degrees_north").unwrap();
        v.put_values(&lat, ..).unwrap();
    }
    {
        let mut v = f.add_variable::<f64>("longitude", &["longitude"]).unwrap();
        v.put_attribute("units", "degrees_east").unwrap();
        v.put_values(&lon, ..).unwrap();
    }
    let mut t = Vec::new();
    for y in 1999..=2001i32 {
        for m in 1..=12u32 {
            // days from 1980-01-01 to the 15th of the month (standard calendar)
            let days =
                (y - 1980) as f64 * 365.0 + ((1980..y).filter(|yy| yy % 4 == 0).count() as f64);
            let cum =
                [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334][(m - 1) as usize] as f64;
            let leap = if y % 4 == 0 && m > 2 { 1.0 } else { 0.0 };
            t.push(days + cum + leap + 14.0);
        }
    }
    {
        let mut v = f.add_variable::<f64>("time", &["time"]).unwrap();
        v.put_attribute("units", "days since 1980-01-01 00:00:00")
            .unwrap();
        v.put_attribute("calendar", "standard").unwrap();
        v.put_values(&t, ..).unwrap();
    }
    let mut gpp = Vec::with_capacity(36 * 90 * 180);
    let mut le = Vec::with_capacity(36 * 90 * 180);
    for k in 0..36 {
        let month = (k % 12 + 1) as f64;
        for &la in &lat {
            for _ in &lon {
                let spring = (3.0..=5.0).contains(&month);
                let missing = la < -40.0 || (la > 60.0 && spring);
                gpp.push(if missing {
                    FILL
                } else {
                    (0.1 * la + month) as f32
                });
                le.push(2.0f32);
            }
        }
    }
    for (name, units, data) in [("GPP", "gC m-2 d-1", &gpp), ("LE", "MJ m-2 d-1", &le)] {
        let mut v = f
            .add_variable::<f32>(name, &["time", "latitude", "longitude"])
            .unwrap();
        v.set_fill_value(FILL).unwrap();
        v.put_attribute("units", units).unwrap();
        v.put_values(data, ..).unwrap();
    }
}

fn model_grid() -> Arc<Grid> {
    Arc::new(Grid::regular(46, 72, Array2::ones((46, 72))).unwrap())
}

#[test]
fn regridded_observations_match_hand_values() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mte.nc");
    write_obs(&p);
    let gpp = read_obs(&p, "GPP", Some((2000, 2000)), model_grid()).unwrap();
    assert_eq!(gpp.dims, ["time", "lat", "lon"]);
    assert_eq!(gpp.values.shape(), &[12, 46, 72]);
    assert_eq!(gpp.months.first(), Some(&(2000, 1)));
    assert_eq!(gpp.months.last(), Some(&(2000, 12)));
    assert_eq!(gpp.units, "gC m-2 d-1");
    // the field is linear in latitude, so bilinear regridding is exact: model row 25 is 10N
    // (in June: 0.1 * 10 + 6 = 7), the lon 180 column lies on the -180/180 seam
    assert!(
        (gpp.values[[5, 25, 0]] - 7.0).abs() < 1e-4,
        "{}",
        gpp.values[[5, 25, 0]]
    );
    assert!((gpp.values[[5, 25, 36]] - 7.0).abs() < 1e-4);
    // row 38 is 62N: missing in April; in June 0.1 * 62 + 6 = 12.2
    assert!(gpp.values[[3, 38, 10]].is_nan());
    assert!((gpp.values[[5, 38, 10]] - 12.2).abs() < 1e-4);
    // poles lie outside the source latitudes (89..-89): missing
    assert!(gpp.values[[0, 45, 0]].is_nan() && gpp.values[[0, 0, 0]].is_nan());
    // coverage: north of 60N three of twelve months are missing (75 % < 80 %)
    let mask = coverage_mask(&gpp, 0.8).unwrap();
    assert_eq!(mask[38 * 72 + 10], 0.0);
    assert_eq!(mask[25 * 72 + 10], 1.0);
    assert_eq!(mask[10 * 72 + 10], 0.0, "south of 40S is always missing");
    assert_eq!(coverage_mask(&gpp, 0.75).unwrap()[38 * 72 + 10], 1.0);
    let masked = apply_mask(&gpp.time_mean().unwrap(), &mask).unwrap();
    assert!(masked.values[[38, 10]].is_nan());
    // LE: 2 MJ m-2 d-1 = 23.148... W m-2
    let le = read_obs(&p, "LE", Some((1999, 2001)), model_grid()).unwrap();
    assert_eq!(le.values.shape()[0], 36);
    let w = le.convert("W m-2").unwrap();
    assert!((w.values[[0, 20, 20]] - 2.0e6 / 86400.0).abs() < 1e-9);
}

#[test]
fn bad_observation_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mte.nc");
    write_obs(&p);
    let e = format!(
        "{:#}",
        read_obs(&p, "GPP", Some((1990, 2000)), model_grid()).unwrap_err()
    );
    assert!(
        e.contains("mte.nc: GPP has no data for year(s)") && e.contains("1999-01 to 2001-12"),
        "{e}"
    );
    let e = format!(
        "{:#}",
        read_obs(&p, "GPPP", None, model_grid()).unwrap_err()
    );
    assert!(e.contains("no variable GPPP; did you mean GPP?"), "{e}");
    let e = format!(
        "{:#}",
        read_obs(&p, "latitude", None, model_grid()).unwrap_err()
    );
    assert!(e.contains("latitude has dimensions (latitude)"), "{e}");
    // no lat/lon at all
    let q = dir.path().join("flat.nc");
    {
        let mut f = netcdf::create(&q).unwrap();
        f.add_dimension("n", 3).unwrap();
        let mut v = f.add_variable::<f64>("values", &["n"]).unwrap();
        v.put_values(&[1.0, 2.0, 3.0], ..).unwrap();
    }
    let e = format!(
        "{:#}",
        read_obs(&q, "values", None, model_grid()).unwrap_err()
    );
    assert!(
        e.contains("flat.nc: no recognisable latitude coordinate"),
        "{e}"
    );
    let e = format!(
        "{:#}",
        read_obs(&dir.path().join("none.nc"), "GPP", None, model_grid()).unwrap_err()
    );
    assert!(e.contains("none.nc: no such file"), "{e}");
}
