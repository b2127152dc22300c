//! Observations as products come: a netCDF-4 file with descending latitudes, -180..180
//! longitudes, the standard calendar and a numeric fill value, regridded onto a model grid
//! and checked by hand; a `month` dimension without a time coordinate (the authors' files)
//! with `first_month`; one file per variable; fill values by `_FillValue`, `missing_value`
//! or -9999; units as products write them; conservative regridding; the EOF stage on
//! per-variable files; and the authors' real 4x5 observations against numpy (when the
//! fetched data are present). Bad observation files give errors naming file and variable.

mod common;
use common::OutputAlone;

use clmtune::field::obs::{
    apply_mask, coverage_mask, read_obs, read_obs_with, ReadOptions, Regrid,
};
use clmtune::field::Grid;
use clmtune::nc::{Format, Values, Writer};
use ndarray::{Array2, Axis};
use std::path::{Path, PathBuf};
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

/// The error text of a failed read.
fn err(r: anyhow::Result<clmtune::field::Field>) -> String {
    format!("{:#}", r.expect_err("the read should fail"))
}

/// 4 latitudes x 8 longitudes (45-degree cells), the cells of the model grid `small_grid`.
const LAT: [f64; 4] = [-67.5, -22.5, 22.5, 67.5];
fn lon8() -> Vec<f64> {
    (0..8).map(|j| 22.5 + 45.0 * j as f64).collect()
}
fn small_grid() -> Arc<Grid> {
    Arc::new(Grid::from_axes(LAT.to_vec(), lon8()).unwrap())
}

/// A file like the authors' `MR_GPP_4x5_2000_2004.nc`: `GPP(month, lat, lon)` in gC/m2/day,
/// `_FillValue` -9999, and no coordinate variable for `month`: value = 100 * step + cell,
/// -9999 in cell 5 of every step and in cell 6 of step 0.
fn write_month_file(path: &Path, steps: usize) {
    let mut w = Writer::new(Format::Netcdf4);
    w.dim("month", steps).dim("lat", 4).dim("lon", 8);
    w.var("lat", &["lat"], LAT.to_vec())
        .attr("units", "degrees_north");
    w.var("lon", &["lon"], lon8()).attr("units", "degrees_east");
    let v: Vec<f32> = (0..steps * 32)
        .map(|k| {
            let (t, c) = (k / 32, k % 32);
            if c == 5 || (t == 0 && c == 6) {
                -9999.0
            } else {
                (100 * t + c) as f32
            }
        })
        .collect();
    w.var("GPP", &["month", "lat", "lon"], v)
        .attr("_FillValue", -9999.0f32)
        .attr("long_name", "Gross Primary Production")
        .attr("units", "gC/m2/day");
    w.save(path).unwrap();
}

#[test]
fn a_month_dimension_without_a_coordinate_needs_the_first_month() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("MR_GPP.nc");
    write_month_file(&p, 24);
    // without first_month: the file, the dimension and the key to set
    let e = err(read_obs(&p, "GPP", None, small_grid()));
    assert!(
        e.contains(
            "MR_GPP.nc: the time dimension month of GPP (24 steps) has no coordinate variable"
        ) && e.contains("[observations] first_month = \"YYYY-MM\""),
        "{e}"
    );
    // with it: consecutive months, values as in the file (same grid: the identity)
    let opts = ReadOptions {
        first_month: Some((2000, 1)),
        ..Default::default()
    };
    let f = read_obs_with(&p, "GPP", Some((2001, 2001)), small_grid(), &opts).unwrap();
    assert_eq!(f.dims, ["time", "lat", "lon"]);
    assert_eq!(f.months.len(), 12);
    assert_eq!(f.months[0], (2001, 1));
    assert_eq!(f.months[11], (2001, 12));
    assert_eq!(f.units, "gC/m2/day");
    let v = f.values.into_shape_with_order((12, 32)).unwrap();
    assert_eq!(v[[0, 0]], 1200.0);
    assert_eq!(v[[3, 31]], 1531.0);
    assert!(v[[0, 5]].is_nan() && v[[4, 5]].is_nan(), "-9999 is missing");
    assert_eq!(v[[0, 6]], 1206.0);
    let e = err(read_obs_with(
        &p,
        "GPP",
        Some((2001, 2003)),
        small_grid(),
        &opts,
    ));
    assert!(
        e.contains("MR_GPP.nc: GPP has no data for year(s) [2002, 2003] (the file covers 2000-01 to 2001-12)"),
        "{e}"
    );
}

#[test]
fn a_time_coordinate_and_first_month_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    // months since 2000-01-01 at mid-month, and a `month` coordinate of 1..12 without units
    for (name, units) in [
        ("since.nc", Some("months since 2000-01-01")),
        ("bare.nc", None),
    ] {
        let p = dir.path().join(name);
        let mut w = Writer::new(Format::Offset64);
        w.dim("month", 12).dim("lat", 4).dim("lon", 8);
        w.var("lat", &["lat"], LAT.to_vec())
            .attr("units", "degrees_north");
        w.var("lon", &["lon"], lon8()).attr("units", "degrees_east");
        let t: Vec<f64> = match units {
            Some(_) => (0..12).map(|k| k as f64 + 0.5).collect(),
            None => (1..=12).map(|k| k as f64).collect(),
        };
        let tv = w.var("month", &["month"], t);
        if let Some(u) = units {
            tv.attr("units", u);
        }
        w.var("LE", &["month", "lat", "lon"], vec![30.0f64; 12 * 32])
            .attr("units", "W/m2");
        w.save(&p).unwrap();
    }
    let since = dir.path().join("since.nc");
    let f = read_obs(&since, "LE", None, small_grid()).unwrap();
    assert_eq!(f.months[0], (2000, 1));
    assert_eq!(f.months[11], (2000, 12));
    let first = |y, m| ReadOptions {
        first_month: Some((y, m)),
        ..Default::default()
    };
    assert!(read_obs_with(&since, "LE", None, small_grid(), &first(2000, 1)).is_ok());
    let e = err(read_obs_with(
        &since,
        "LE",
        None,
        small_grid(),
        &first(2001, 1),
    ));
    assert!(
        e.contains(
            "since.nc: first_month is 2001-01, but the time coordinate month begins in 2000-01"
        ),
        "{e}"
    );
    // a coordinate without units cannot place its steps; first_month can
    let bare = dir.path().join("bare.nc");
    let e = err(read_obs(&bare, "LE", None, small_grid()));
    assert!(
        e.contains("bare.nc: the time coordinate of LE cannot place its steps in months")
            && e.contains("has no units")
            && e.contains("first_month"),
        "{e}"
    );
    let f = read_obs_with(&bare, "LE", None, small_grid(), &first(1982, 7)).unwrap();
    assert_eq!(f.months[0], (1982, 7));
    assert_eq!(f.months[11], (1983, 6));
}

#[test]
fn missing_values_by_fill_value_missing_value_or_minus_9999() {
    // cell 0 holds -9999, cell 1 holds 1e20, cell 2 -9999.5, cell 3 the value 7, cell 4
    // netCDF's default float fill; the rest 1
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("fills.nc");
    let raw = |k: usize| -> f64 {
        match k % 32 {
            0 => -9999.0,
            1 => 1e20,
            2 => -9999.5,
            3 => 7.0,
            4 => 9.969209968386869e36,
            _ => 1.0,
        }
    };
    let mut w = Writer::new(Format::Netcdf4);
    w.dim("time", 1).dim("lat", 4).dim("lon", 8);
    w.var("lat", &["lat"], LAT.to_vec())
        .attr("units", "degrees_north");
    w.var("lon", &["lon"], lon8()).attr("units", "degrees_east");
    w.var("time", &["time"], vec![15.0])
        .attr("units", "days since 2000-01-01");
    let data: Vec<f64> = (0..32).map(raw).collect();
    // no fill attribute at all: -9999 exactly and the default fill are missing
    w.var("none", &["time", "lat", "lon"], data.clone())
        .attr("units", "W m-2");
    // _FillValue -9999
    w.var("fill", &["time", "lat", "lon"], data.clone())
        .attr("_FillValue", -9999.0);
    // only missing_value 1e20: a declared fill value is trusted, -9999 is then data
    w.var("missing", &["time", "lat", "lon"], data.clone())
        .attr("missing_value", 1e20);
    // valid_range [0, 10]
    w.var("range", &["time", "lat", "lon"], data.clone())
        .attr("missing_value", 1e20)
        .attr("valid_range", vec![0.0, 10.0]);
    // packed integers: raw 7 -> 7 * 0.5 + 1 = 4.5; -9999 is its declared fill
    let packed: Vec<i32> = (0..32)
        .map(|k| {
            if k == 0 {
                -9999
            } else if k == 3 {
                7
            } else {
                2
            }
        })
        .collect();
    w.var("packed", &["time", "lat", "lon"], Values::I32(packed))
        .attr("_FillValue", -9999i32)
        .attr("scale_factor", 0.5)
        .attr("add_offset", 1.0);
    w.save(&p).unwrap();
    let read = |v: &str| -> Vec<f64> {
        read_obs(&p, v, None, small_grid())
            .unwrap()
            .values
            .iter()
            .copied()
            .collect()
    };
    let none = read("none");
    assert!(none[0].is_nan() && none[4].is_nan(), "{none:?}");
    assert_eq!(
        (none[1], none[2], none[3], none[5]),
        (1e20, -9999.5, 7.0, 1.0)
    );
    let fill = read("fill");
    assert!(fill[0].is_nan());
    assert_eq!(
        (fill[1], fill[2], fill[4]),
        (1e20, -9999.5, 9.969209968386869e36)
    );
    let missing = read("missing");
    assert!(missing[1].is_nan());
    assert_eq!((missing[0], missing[3]), (-9999.0, 7.0));
    let range = read("range");
    assert!(range[0].is_nan() && range[1].is_nan() && range[2].is_nan() && range[4].is_nan());
    assert_eq!((range[3], range[5]), (7.0, 1.0));
    let packed = read("packed");
    assert!(packed[0].is_nan());
    assert_eq!((packed[3], packed[5]), (4.5, 2.0));
}

#[test]
fn units_as_observation_products_write_them() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("units.nc");
    let mut w = Writer::new(Format::Netcdf4);
    w.dim("time", 1).dim("lat", 4).dim("lon", 8);
    w.var("lat", &["lat"], LAT.to_vec())
        .attr("units", "degrees_north");
    w.var("lon", &["lon"], lon8()).attr("units", "degrees_east");
    w.var("time", &["time"], vec![15.0])
        .attr("units", "days since 2000-01-01");
    let cases: [(&str, &str, f64, &str, f64); 7] = [
        ("gpp_a", "gC/m2/day", 8.64, "gC/m^2/s", 1e-4),
        ("gpp_b", "gC m-2 d-1", 8.64, "gC/m^2/s", 1e-4),
        ("le_a", "W/m2", 40.0, "W m-2", 40.0),
        ("le_b", "MJ m-2 d-1", 8.64, "W m-2", 100.0),
        ("et_a", "kg m-2 s-1", 2e-5, "mm/day", 1.728),
        ("et_b", "mm/day", 1.728, "kg m-2 s-1", 2e-5),
        ("le_c", "W m**-2", 40.0, "W/m^2", 40.0),
    ];
    for (name, units, value, _, _) in cases {
        w.var(name, &["time", "lat", "lon"], vec![value; 32])
            .attr("units", units)
            .attr("_FillValue", -9999.0);
    }
    // CMIP's gpp: kg m-2 s-1 of carbon, which the units cannot say
    w.var("gpp_cmip", &["time", "lat", "lon"], vec![1e-7; 32])
        .attr("units", "kg m-2 s-1");
    w.save(&p).unwrap();
    for (name, _, _, to, want) in cases {
        let f = read_obs(&p, name, None, small_grid())
            .unwrap()
            .convert(to)
            .unwrap();
        let x = f.values.iter().next().copied().unwrap();
        assert!(
            (x / want - 1.0).abs() < 1e-12,
            "{name}: {x} {to}, want {want}"
        );
    }
    // water is not latent heat: refused, with the reason
    let e = format!(
        "{:#}",
        read_obs(&p, "et_a", None, small_grid())
            .unwrap()
            .convert("W m-2")
            .unwrap_err()
    );
    assert!(
        e.contains("(water flux) cannot be converted to 'W m-2' (energy flux)"),
        "{e}"
    );
    assert!(e.contains("not a unit conversion"), "{e}");
    // the carbon file's units are refused for a carbon flux until the config says them
    let e = format!(
        "{:#}",
        read_obs(&p, "gpp_cmip", None, small_grid())
            .unwrap()
            .convert("gC m-2 d-1")
            .unwrap_err()
    );
    assert!(e.contains("units = \"kgC m-2 s-1\""), "{e}");
    let opts = ReadOptions {
        units: Some("kgC m-2 s-1".into()),
        ..Default::default()
    };
    let f = read_obs_with(&p, "gpp_cmip", None, small_grid(), &opts)
        .unwrap()
        .convert("gC m-2 d-1")
        .unwrap();
    let x = f.values.iter().next().copied().unwrap();
    assert!((x - 8.64).abs() < 1e-12, "{x}");
}

/// A global file of 2-degree cells, 1 January step: `f(lat, lon)`, -9999 where `hole`; its
/// latitudes descending and longitudes -179..179.
fn write_global(path: &Path, f: impl Fn(f64, f64) -> f64, hole: impl Fn(f64, f64) -> bool) {
    let lat: Vec<f64> = (0..90).map(|i| 89.0 - 2.0 * i as f64).collect();
    let lon: Vec<f64> = (0..180).map(|j| -179.0 + 2.0 * j as f64).collect();
    let mut w = Writer::new(Format::Netcdf4);
    w.dim("time", 1).dim("lat", 90).dim("lon", 180);
    w.var("lat", &["lat"], lat.clone())
        .attr("units", "degrees_north");
    w.var("lon", &["lon"], lon.clone())
        .attr("units", "degrees_east");
    w.var("time", &["time"], vec![14.0])
        .attr("units", "days since 2000-01-01");
    let mut v = Vec::with_capacity(90 * 180);
    for &la in &lat {
        for &lo in &lon {
            v.push(if hole(la, lo) { -9999.0 } else { f(la, lo) });
        }
    }
    w.var("GPP", &["time", "lat", "lon"], v)
        .attr("units", "gC m-2 d-1")
        .attr("_FillValue", -9999.0);
    w.save(path).unwrap();
}

#[test]
fn conservative_regridding_by_hand_and_by_its_properties() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("global.nc");
    let f = |la: f64, lo: f64| 5.0 + 2.0 * la.to_radians().sin() + lo.to_radians().cos();
    // a hole over source cells 41..49N x -1, 1, 3E
    write_global(&p, f, |la, lo| {
        la > 40.0 && la < 50.0 && lo > -2.0 && lo < 4.0
    });
    let g = Arc::new(Grid::regular(46, 72, Array2::ones((46, 72))).unwrap());
    let opts = ReadOptions {
        regrid: Regrid::Conservative,
        ..Default::default()
    };
    let out = read_obs_with(&p, "GPP", None, g.clone(), &opts).unwrap();
    let v: Vec<f64> = out.values.iter().copied().collect();
    let s = |d: f64| d.to_radians().sin();
    let hand = |rows: &[(f64, f64)], cols: &[(f64, f64)]| {
        let (mut num, mut den) = (0.0, 0.0);
        for &(la, wy) in rows {
            for &(lo, wx) in cols {
                num += wy * wx * f(la, lo);
                den += wy * wx;
            }
        }
        num / den
    };
    // the 4x5 cell at (22N, 10E) spans 20..24N, 7.5..12.5E: source rows 20..22 and 22..24
    // whole, columns 6..8 (its 0.5 degrees east of 7.5), 8..10, 10..12, 12..14 (0.5)
    let k = 28 * 72 + 2;
    assert_eq!(g.cell_center(k), (22.0, 10.0));
    let want = hand(
        &[(21.0, s(22.0) - s(20.0)), (23.0, s(24.0) - s(22.0))],
        &[(7.0, 0.5), (9.0, 2.0), (11.0, 2.0), (13.0, 0.5)],
    );
    assert!((v[k] - want).abs() < 1e-12, "{} vs {want}", v[k]);
    // (46N, 0E) spans 44..48N, -2.5..2.5E: the hole covers 4.5 of its 5 degrees of
    // longitude, less than half is valid: missing
    let k = 34 * 72;
    assert_eq!(g.cell_center(k), (46.0, 0.0));
    assert!(v[k].is_nan(), "{}", v[k]);
    // (46N, 5E) spans 2.5..7.5E: the hole covers 1.5 of 5 degrees: the mean of the rest
    let k = 34 * 72 + 1;
    let want = hand(
        &[(45.0, s(46.0) - s(44.0)), (47.0, s(48.0) - s(46.0))],
        &[(5.0, 2.0), (7.0, 1.5)],
    );
    assert!((v[k] - want).abs() < 1e-12, "{} vs {want}", v[k]);
    // a constant stays constant; the global integral is conserved without holes
    let c = dir.path().join("const.nc");
    write_global(&c, |_, _| 2.5, |_, _| false);
    let out = read_obs_with(&c, "GPP", None, g.clone(), &opts).unwrap();
    assert!(out.values.iter().all(|&x| (x - 2.5).abs() < 1e-12));
    let q = dir.path().join("smooth.nc");
    write_global(&q, f, |_, _| false);
    let out = read_obs_with(&q, "GPP", None, g.clone(), &opts).unwrap();
    let dst: f64 = out
        .values
        .iter()
        .zip(g.area.iter())
        .map(|(x, a)| x * a)
        .sum();
    let r2 = (clmtune::field::EARTH_RADIUS_KM * 1e3).powi(2);
    let mut src = 0.0;
    for i in 0..90 {
        let la = 89.0 - 2.0 * i as f64;
        for j in 0..180 {
            let lo = -179.0 + 2.0 * j as f64;
            src += f(la, lo) * r2 * 2f64.to_radians() * (s(la + 1.0) - s(la - 1.0));
        }
    }
    assert!((dst / src - 1.0).abs() < 1e-12, "{dst} vs {src}");
    // a 1-D model grid has no cell edges: refused, naming the file and the way out
    let cells = Arc::new(g.subset(&vec![true; g.ncell()], "lndgrid").unwrap());
    let e = err(read_obs_with(&q, "GPP", None, cells.clone(), &opts));
    assert!(
        e.contains("smooth.nc")
            && e.contains("1-D grid along lndgrid has cell centres only")
            && e.contains("regrid = \"bilinear\""),
        "{e}"
    );
    assert!(read_obs(&q, "GPP", None, cells).is_ok());
}

/// Runs a stage script of `scripts/` with `--config cfg` and further arguments.
fn run_stage(script: &str, cfg: &Path, more: &[&str]) -> String {
    let s = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .arg("run")
        .arg(&s)
        .arg("--")
        .arg("--config")
        .arg(cfg)
        .args(more)
        .output_alone()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{script}:\n{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    so
}

/// A variable of the demo observations, raw (f32, -9999 fill), with the lat and lon axes.
fn raw_f32(file: &netcdf::File, name: &str) -> Vec<f32> {
    file.variable(name)
        .unwrap()
        .get_values::<f32, _>(..)
        .unwrap()
}

#[test]
fn the_eof_stage_reads_one_file_per_variable() {
    // the demo's one observation file split in two, ILAMB style: GPP with a `month`
    // dimension and no time coordinate (first_month), LE with its time coordinate; the
    // config names no [observations] file. The EOF stage gives the same numbers.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = common::small_experiment(d);
    run_stage("03_eof.rhai", &cfg, &[]);
    let src = d.join("obs/fluxnet_mte_nobias.nc");
    let first = read_obs(&src, "GPP", None, small_grid()).unwrap().months[0];
    {
        let f = clmtune::nc::open(&src).unwrap();
        let lat = clmtune::nc::read_f64(&f, &src, "lat").unwrap();
        let lon = clmtune::nc::read_f64(&f, &src, "lon").unwrap();
        let time = clmtune::nc::read_f64(&f, &src, "time").unwrap();
        let tv = f.variable("time").unwrap();
        let tunits = clmtune::nc::attr_string(&tv, "units").unwrap();
        let (nt, ny, nx) = (time.len(), lat.len(), lon.len());
        let mut w = Writer::new(Format::Netcdf4);
        w.dim("month", nt).dim("lat", ny).dim("lon", nx);
        w.var("lat", &["lat"], lat.clone())
            .attr("units", "degrees_north");
        w.var("lon", &["lon"], lon.clone())
            .attr("units", "degrees_east");
        w.var("GPP", &["month", "lat", "lon"], raw_f32(&f, "GPP"))
            .attr("_FillValue", -9999.0f32)
            .attr("units", "gC/m2/day");
        w.save(&d.join("obs/gpp_month.nc")).unwrap();
        let mut w = Writer::new(Format::Netcdf4);
        w.dim("time", nt).dim("lat", ny).dim("lon", nx);
        w.var("lat", &["lat"], lat).attr("units", "degrees_north");
        w.var("lon", &["lon"], lon).attr("units", "degrees_east");
        w.var("time", &["time"], time)
            .attr("units", tunits.as_str())
            .attr("calendar", "standard");
        w.var("LE", &["time", "lat", "lon"], raw_f32(&f, "LE"))
            .attr("_FillValue", -9999.0f32)
            .attr("units", "MJ m-2 d-1");
        w.save(&d.join("obs/le.nc")).unwrap();
    }
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("file = \"obs/fluxnet_mte_nobias.nc\""));
    let split = text
        .replace("file = \"obs/fluxnet_mte_nobias.nc\"\n", "")
        .replace(
            "GPP = { obs = \"GPP\", model = \"GPP\" }",
            &format!(
                "GPP = {{ obs = \"GPP\", model = \"GPP\", file = \"obs/gpp_month.nc\", first_month = \"{:04}-{:02}\" }}",
                first.0, first.1
            ),
        )
        .replace(
            "LHF = { obs = \"LE\", model = \"EFLX_LH_TOT\" }",
            "LHF = { obs = \"LE\", model = \"EFLX_LH_TOT\", file = \"obs/le.nc\" }",
        );
    let split_cfg = d.join("split.toml");
    std::fs::write(&split_cfg, &split).unwrap();
    let out = d.join("results_split");
    run_stage("03_eof.rhai", &split_cfg, &["--out", out.to_str().unwrap()]);
    for f in [
        "targets.csv",
        "projections.csv",
        "pcs.csv",
        "variance_fraction.csv",
    ] {
        let a = std::fs::read_to_string(d.join("results/eof").join(f)).unwrap();
        let b = std::fs::read_to_string(out.join("eof").join(f)).unwrap();
        assert_eq!(a, b, "{f}");
    }
    // the settings record where each variable came from
    let c = clmtune::config::Config::load(&split_cfg).unwrap();
    let s = clmtune::eof::stage::Settings::from_config(&c).unwrap();
    assert!(s.obs_file.as_os_str().is_empty());
    assert_eq!(s.obs_file_of(&s.variables[0]), d.join("obs/gpp_month.nc"));
    assert_eq!(s.variables[0].obs_options.first_month, Some(first));
    assert_eq!(s.obs_file_of(&s.variables[1]), d.join("obs/le.nc"));

    // conservative regridding of the same observations: defined targets, near bilinear's
    let cons = text.replace(
        "min_coverage = 0.8",
        "min_coverage = 0.8\nregrid = \"conservative\"",
    );
    assert_ne!(cons, text);
    let cons_cfg = d.join("conservative.toml");
    std::fs::write(&cons_cfg, cons).unwrap();
    let c = clmtune::config::Config::load(&cons_cfg).unwrap();
    let s = clmtune::eof::stage::Settings::from_config(&c).unwrap();
    assert_eq!(s.variables[0].obs_options.regrid, Regrid::Conservative);
    let saved = clmtune::eof::stage::EofStage::load(&d.join("results/eof")).unwrap();
    let again = clmtune::eof::stage::EofStage::run(
        s,
        saved.ppe.clone(),
        saved.ppe_test.clone(),
        &saved.default_case,
    )
    .unwrap();
    for (a, b) in saved.variables.iter().zip(&again.variables) {
        assert!(b.u_obs.iter().all(|x| x.is_finite()), "{}", b.name);
        // area means and point values of the same smooth field: close on average over the
        // cells both define
        let (m0, m1) = (
            saved.observed_mean(&a.name).unwrap(),
            again.observed_mean(&b.name).unwrap(),
        );
        let both: Vec<(f64, f64)> = m0
            .iter()
            .zip(m1.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| (*x, *y))
            .collect();
        assert!(both.len() > 100, "{}: {} cells", a.name, both.len());
        let (s0, s1) = both
            .iter()
            .fold((0.0, 0.0), |(p, q), (x, y)| (p + x, q + y));
        assert!((s1 / s0 - 1.0).abs() < 0.05, "{}: {s0} vs {s1}", a.name);
    }
}

/// The folder of the fetched real files (tests/data/real/SOURCES.md): `$CLMTUNE_REAL_DATA`,
/// else `tests/data/real`, else `../shared/data/real` beside the crate; `None` when absent.
fn real_data() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates: Vec<PathBuf> = std::env::var_os("CLMTUNE_REAL_DATA")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            root.join("tests/data/real"),
            root.join("../shared/data/real"),
        ])
        .collect();
    candidates
        .into_iter()
        .find(|d| d.join("dagon2020/MR_GPP_4x5_2000_2004.nc").is_file())
}

#[test]
fn the_authors_4x5_observations_onto_their_own_grid_keep_every_cell() {
    // Dagon et al.'s MR_{GPP,LHF}_4x5_2000_2004.nc: month = 60 without a time coordinate,
    // _FillValue -9999; onto the same 4x5 grid every observed cell is kept and each time
    // mean equals numpy's nanmean (tests/data/real/REFERENCE.md, item d)
    let Some(dir) = real_data() else {
        println!(
            "skipped: real data not present (set CLMTUNE_REAL_DATA or fetch the files listed in tests/data/real/SOURCES.md)"
        );
        return;
    };
    let grid = Arc::new(clmtune::grids::f45().unwrap());
    let p = dir.join("dagon2020/MR_GPP_4x5_2000_2004.nc");
    let e = err(read_obs(&p, "GPP", Some((2000, 2004)), grid.clone()));
    assert!(
        e.contains("MR_GPP_4x5_2000_2004.nc: the time dimension month of GPP (60 steps)")
            && e.contains("first_month"),
        "{e}"
    );
    let opts = ReadOptions {
        first_month: Some((2000, 1)),
        ..Default::default()
    };
    // (variable, cells with a value, sum and mean of the time means, five cells and the
    // first partial one: lat index, lon index, numpy's time mean, valid months)
    type Cell = (usize, usize, f64, usize);
    let reference: [(&str, usize, f64, f64, [Cell; 6]); 2] = [
        (
            "GPP",
            725,
            1554.6226727637136,
            2.1443071348465015,
            [
                (9, 58, 1.5590236641466617, 60),
                (33, 5, 3.038892078399658, 60),
                (42, 58, 0.009880007221363485, 60),
                (22, 60, 8.36171151002248, 60),
                (33, 54, 2.589557178475661, 60),
                (32, 5, 0.14570649899542332, 32),
            ],
        ),
        (
            "LHF",
            725,
            24437.003408752236,
            33.70621159827895,
            [
                (9, 58, 16.489677338798842, 60),
                (33, 7, 31.86018466949463, 60),
                (42, 58, 1.75411624306192, 60),
                (22, 60, 95.09768282572428, 60),
                (33, 54, 43.243443608284, 60),
                (40, 45, -1.4499709864457448, 30),
            ],
        ),
    ];
    for (var, count, sum, mean, cells) in reference {
        let p = dir.join(format!("dagon2020/MR_{var}_4x5_2000_2004.nc"));
        let f = read_obs_with(&p, var, Some((2000, 2004)), grid.clone(), &opts).unwrap();
        assert_eq!(f.months.len(), 60);
        assert_eq!(f.months[0], (2000, 1));
        assert_eq!(f.months[59], (2004, 12));
        let tm = f.time_mean().unwrap().values;
        let kept: Vec<f64> = tm.iter().copied().filter(|x| !x.is_nan()).collect();
        let s: f64 = kept.iter().sum();
        let mut max_diff: f64 = 0.0;
        for (i, j, want, months) in cells {
            let x = tm[[i, j]];
            max_diff = max_diff.max((x - want).abs());
            let valid = f
                .values
                .index_axis(Axis(1), i)
                .index_axis(Axis(1), j)
                .iter()
                .filter(|x| !x.is_nan())
                .count();
            assert_eq!(valid, months, "{var} ({i}, {j})");
        }
        println!(
            "{var}: {} cells kept (numpy {count}); sum of time means {s} (numpy {sum}); largest difference at the six reference cells {max_diff:e}",
            kept.len()
        );
        assert_eq!(kept.len(), count, "{var}");
        assert!((s - sum).abs() < 1e-6, "{var}: {s} vs {sum}");
        assert!((s / kept.len() as f64 - mean).abs() < 1e-6);
        assert!(max_diff < 1e-6, "{var}: {max_diff}");
        // conservative onto the same grid: the identity too
        let c = ReadOptions {
            regrid: Regrid::Conservative,
            ..opts.clone()
        };
        let g = read_obs_with(&p, var, Some((2000, 2004)), grid.clone(), &c).unwrap();
        let same = f
            .values
            .iter()
            .zip(g.values.iter())
            .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
        assert!(
            same,
            "{var}: conservative onto the same grid is not the identity"
        );
    }
}
