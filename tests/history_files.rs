//! Reading CLM history archives: small files in CLM's exact layout (64-bit offset, time stamps
//! at the end of each month, fill values over ocean), checked against hand-computed values;
//! and every kind of bad input giving an error that names the file, case and variable.

use clmtune::archive;
use clmtune::demo::fixture;
use clmtune::field::read::{read_case, read_ensemble, Output};
use clmtune::field::{Grid, Region};
use ndarray::Array2;
use std::path::Path;

/// 2 x 3 cells: areas 1..6 km^2, land fractions [[1, .5, 0], [1, 1, .25]] (one ocean cell).
/// Land weights area * landfrac (km^2): [[1, 1, 0], [4, 5, 1.5]], sum 12.5.
fn grid() -> Grid {
    fixture::tiny_grid()
}

const BASE: [f64; 6] = [1.0, 2.0, f64::NAN, 3.0, 4.0, 5.0];

/// Month t (0-based from the first year) of a case: GPP = base + 0.1 t over land, NaN over
/// ocean; ET = 2 except 0 in cell (0, 0); QVEGT = ET / 2; SOILLIQ = 10, 20, 30 by level with
/// bedrock (NaN) at level 3 of cell (1, 0); SOILICE = 1.
fn write_case(root: &Path, case: &str, grid: &Grid, years: (i64, i64), skip: Option<(i64, u32)>) {
    let mut a = fixture::Archive::new(root, grid.clone())
        .var("GPP", "gC/m^2/s", "gross primary production")
        .var(
            "QFLX_EVAP_TOT",
            "mm/s",
            "qflx_evap_soi + qflx_evap_can + qflx_tran_veg",
        )
        .var("QVEGT", "mm/s", "canopy transpiration")
        .soil_var(
            "SOILLIQ",
            "kg/m2",
            "soil liquid water (vegetated landunits only)",
            3,
        )
        .soil_var("SOILICE", "kg/m2", "soil ice (vegetated landunits only)", 3);
    if let Some((y, m)) = skip {
        a = a.skip(y, m);
    }
    let et = |i: usize, b: f64| {
        if b.is_nan() {
            f64::NAN
        } else if i == 0 {
            0.0
        } else {
            2.0
        }
    };
    let soil = |liquid: bool| -> Vec<f64> {
        (0..3)
            .flat_map(|lev| {
                BASE.iter().enumerate().map(move |(i, b)| {
                    let bedrock = lev == 2 && i == 3;
                    if b.is_nan() || bedrock {
                        f64::NAN
                    } else if liquid {
                        10.0 * (lev + 1) as f64
                    } else {
                        1.0
                    }
                })
            })
            .collect()
    };
    a.write_case(case, years, |var, m| match var {
        "GPP" => BASE.iter().map(|b| b + 0.1 * m.index as f64).collect(),
        "QFLX_EVAP_TOT" => BASE.iter().enumerate().map(|(i, &b)| et(i, b)).collect(),
        "QVEGT" => BASE
            .iter()
            .enumerate()
            .map(|(i, &b)| et(i, b) / 2.0)
            .collect(),
        "SOILLIQ" => soil(true),
        _ => soil(false),
    })
    .unwrap();
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-5 * b.abs().max(1.0)
}

#[test]
fn time_means_weights_regions_expressions_and_units_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_case(root, "c1", &grid(), (16, 17), None);
    let case = archive::find_case(root, "c1").unwrap();
    assert_eq!(case.files.len(), 24);
    assert!(case.is_complete((16, 17)));
    assert!(archive::is_complete(root, "c1", (16, 17)));
    assert!(!archive::is_complete(root, "c1", (16, 18)));

    let outputs = [
        Output::new("GPP", "GPP").unwrap(),
        Output::new("TF", "QVEGT / QFLX_EVAP_TOT").unwrap(),
        Output::new("SOILWATER", "sum(SOILLIQ + SOILICE, levsoi)").unwrap(),
    ];
    let monthly = read_case(&case, &outputs, (16, 17), false).unwrap();
    let gpp = &monthly[0];
    assert_eq!(gpp.dims, ["time", "lat", "lon"]);
    assert_eq!(gpp.values.shape(), &[24, 2, 3]);
    assert_eq!(gpp.units, "gC/m^2/s");
    assert_eq!(gpp.long_name, "gross primary production");
    assert_eq!(gpp.months[0], (16, 1));
    assert_eq!(gpp.months[23], (17, 12));
    assert!(
        gpp.values[[5, 0, 2]].is_nan(),
        "ocean fill value becomes missing"
    );
    // the area is read in km^2 and converted: cell (1, 2) is 6 km^2
    assert_eq!(gpp.grid.area[5], 6e6);

    // mean of monthly means: base + 0.1 * mean(0..23) = base + 1.15
    let tm = gpp.time_mean().unwrap();
    for (i, b) in BASE.iter().enumerate() {
        let v = tm.values[[i / 3, i % 3]];
        assert!(
            if b.is_nan() {
                v.is_nan()
            } else {
                close(v, b + 1.15)
            },
            "cell {i}: {v}"
        );
    }
    // days-in-month weights (noleap): sum(d_m * m) over one year = 2017, over both
    // 2017 + (2017 + 12 * 365) = 8414 day-months in 730 days -> 0.1 * 11.526027...
    let tw = gpp.time_mean_weighted().unwrap();
    assert!(close(tw.values[[0, 0]], 1.0 + 0.1 * 8414.0 / 730.0));
    // land area-weighted global mean, weights [[1,1,0],[4,5,1.5]]:
    // (2.15 + 3.15 + 4 * 4.15 + 5 * 5.15 + 1.5 * 6.15) / 12.5 = 4.55
    let g = tm.area_mean(None).unwrap();
    assert!(close(g[[]], 4.55), "{}", g[[]]);
    // a box 0..20N, 100..250E holds cells (1,1) and (1,2): (5 * 5.15 + 1.5 * 6.15) / 6.5
    let box_ = Region {
        name: "box".into(),
        lat_min: 0.0,
        lat_max: 20.0,
        lon_min: 100.0,
        lon_max: 250.0,
    };
    assert!(close(tm.area_mean(Some(&box_)).unwrap()[[]], 34.975 / 6.5));
    // the same box with western negatives: 100E..110W
    let west = Region {
        lon_max: -110.0,
        ..box_.clone()
    };
    assert!(close(tm.area_mean(Some(&west)).unwrap()[[]], 34.975 / 6.5));
    // monthly global means keep the time axis
    assert_eq!(gpp.area_mean(None).unwrap().shape(), &[24]);
    // climatology: January = mean of months 0 and 12 -> base + 0.6
    let clim = gpp.climatology().unwrap();
    assert_eq!(clim.dims, ["month", "lat", "lon"]);
    assert!(close(clim.values[[0, 1, 1]], 4.0 + 0.6));

    // TF: ET = 0 in cell (0, 0) -> missing, never infinite; 0.5 elsewhere on land
    let tf = monthly[1].time_mean().unwrap();
    assert!(tf.values[[0, 0]].is_nan());
    assert!(close(tf.values[[1, 1]], 0.5));
    assert_eq!(tf.units, "1");
    // soil water summed over levels, bedrock level skipped: 11 + 21 (+ 31)
    let sw = monthly[2].time_mean().unwrap();
    assert_eq!(sw.dims, ["lat", "lon"]);
    assert!(close(sw.values[[1, 0]], 32.0));
    assert!(close(sw.values[[0, 1]], 63.0));

    // units: gC m-2 s-1 -> gC m-2 d-1 multiplies by 86400
    let perday = tm.convert("gC m-2 d-1").unwrap();
    assert!(close(perday.values[[1, 1]], 5.15 * 86400.0));
    let e = tm.convert("W m-2").unwrap_err().to_string();
    assert!(
        e.contains("'gC/m^2/s' (carbon flux)") && e.contains("'W m-2' (energy flux)"),
        "{e}"
    );

    // time means while reading give the same numbers
    let direct = read_case(&case, &outputs, (16, 17), true).unwrap();
    let same = direct[0]
        .values
        .iter()
        .zip(tm.values.iter())
        .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
    assert!(same, "{} vs {}", direct[0].values, tm.values);
}

#[test]
fn ensembles_stack_members_and_check_grids() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for m in 1..=3 {
        write_case(
            root,
            &archive::case_name("ppe_{member}", Some(&m.to_string()), None, None).unwrap(),
            &grid(),
            (16, 16),
            None,
        );
    }
    let names: Vec<String> = (1..=3).map(|m| format!("ppe_{m}")).collect();
    let cases = archive::find_cases(root, &names).unwrap();
    let out = read_ensemble(
        &cases,
        &[Output::new("GPP", "GPP").unwrap()],
        (16, 16),
        true,
    )
    .unwrap();
    assert_eq!(out[0].dims, ["member", "lat", "lon"]);
    assert_eq!(out[0].values.shape(), &[3, 2, 3]);
    assert_eq!(out[0].members, names);
    assert!(close(out[0].values[[2, 1, 2]], 5.0 + 0.55));

    // a member on another grid is named
    let mut shifted = grid();
    shifted.lon = vec![2.5, 122.5, 242.5];
    write_case(root, "ppe_4", &shifted, (16, 16), None);
    let names4: Vec<String> = (1..=4).map(|m| format!("ppe_{m}")).collect();
    let cases = archive::find_cases(root, &names4).unwrap();
    let e = format!(
        "{:#}",
        read_ensemble(
            &cases,
            &[Output::new("GPP", "GPP").unwrap()],
            (16, 16),
            true
        )
        .unwrap_err()
    );
    assert!(
        e.contains(
            "case ppe_4 is on a different grid from case ppe_1 (lon[0] is 2.5, the other 0)"
        ),
        "{e}"
    );

    // members missing from the archive are listed by name
    let e = archive::find_cases(root, &["ppe_1".into(), "ppe_9".into(), "ppe_10".into()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("2 of 3 case(s) not in the archive") && e.contains("ppe_9, ppe_10"),
        "{e}"
    );
}

#[test]
fn bad_input_is_an_error_naming_file_case_and_variable() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // a missing month
    write_case(root, "gap", &grid(), (16, 17), Some((17, 3)));
    let case = archive::find_case(root, "gap").unwrap();
    assert_eq!(case.missing_months((16, 17)), vec!["0017-03"]);
    let e = read_case(&case, &[Output::new("GPP", "GPP").unwrap()], (16, 17), true)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("case gap: 1 month(s) of years 16-17 missing") && e.contains("0017-03"),
        "{e}"
    );
    // the years before the gap are complete
    assert!(read_case(&case, &[Output::new("GPP", "GPP").unwrap()], (16, 16), true).is_ok());

    // a missing variable: the nearest names come first
    let case = archive::find_case(root, "gap").unwrap();
    let e = format!(
        "{:#}",
        read_case(
            &case,
            &[Output::new("LH", "EFLX_LH_TOTAL").unwrap()],
            (16, 16),
            true
        )
        .unwrap_err()
    );
    assert!(e.contains("no variable EFLX_LH_TOTAL; did you mean"), "{e}");
    assert!(e.contains("gap.clm2.h0.0016-01.nc"), "{e}");

    // a truncated file and a file that is not netCDF
    write_case(root, "bad", &grid(), (16, 16), None);
    let p = archive::hist_path(root, "bad", 16, 5);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 3]).unwrap();
    let case = archive::find_case(root, "bad").unwrap();
    let e = format!(
        "{:#}",
        read_case(&case, &[Output::new("GPP", "GPP").unwrap()], (16, 16), true).unwrap_err()
    );
    assert!(
        e.contains("case bad") && e.contains("bad.clm2.h0.0016-05.nc"),
        "{e}"
    );
    std::fs::write(&p, b"this is not a netCDF file").unwrap();
    let e = format!(
        "{:#}",
        read_case(&case, &[Output::new("GPP", "GPP").unwrap()], (16, 16), true).unwrap_err()
    );
    assert!(
        e.contains("bad.clm2.h0.0016-05.nc: not a readable netCDF file"),
        "{e}"
    );

    // a file whose name and time_bounds disagree is refused, not silently misplaced
    write_case(root, "swap", &grid(), (16, 16), None);
    let apr = archive::hist_path(root, "swap", 16, 4);
    let may = archive::hist_path(root, "swap", 16, 5);
    std::fs::copy(&may, &apr).unwrap();
    let case = archive::find_case(root, "swap").unwrap();
    let e = format!(
        "{:#}",
        read_case(&case, &[Output::new("GPP", "GPP").unwrap()], (16, 16), true).unwrap_err()
    );
    assert!(
        e.contains("is named 0016-04 but its time_bounds cover 0016-05"),
        "{e}"
    );

    // a case that is not there
    let e = archive::find_case(root, "nosuch").unwrap_err().to_string();
    assert!(e.contains("case nosuch: no history folder"), "{e}");
    assert!(Output::new("X", "GPP +").is_err());
    let _ = Array2::<f64>::zeros((1, 1));
}

#[test]
fn fields_written_by_clmtune_read_back_identically() {
    use clmtune::field::write::{read_fields, write_fields};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for m in 1..=2 {
        write_case(root, &format!("m{m}"), &grid(), (16, 16), None);
    }
    let cases = archive::find_cases(root, &["m1".into(), "m2".into()]).unwrap();
    let outputs = [
        Output::new("GPP", "GPP").unwrap(),
        Output::new("SOILLIQ", "SOILLIQ").unwrap(),
    ];
    let ens = read_ensemble(&cases, &outputs, (16, 16), false).unwrap();
    let clim = read_case(&cases[0], &outputs[..1], (16, 16), false).unwrap()[0]
        .climatology()
        .unwrap();
    let mut clim = clim;
    clim.name = "GPP_clim".into();
    let out = root.join("results/fields.nc");
    write_fields(
        &out,
        &[&ens[0], &ens[1], &clim],
        "test: fields_written_by_clmtune_read_back_identically",
    )
    .unwrap();
    let back = read_fields(&out).unwrap();
    let same = |a: &ndarray::ArrayD<f64>, b: &ndarray::ArrayD<f64>| {
        a.shape() == b.shape()
            && a.iter()
                .zip(b.iter())
                .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
    };
    for f in [&ens[0], &ens[1], &clim] {
        let g = &back[&f.name];
        assert_eq!(g.dims, f.dims);
        assert!(same(&g.values, &f.values), "{} differs", f.name);
        assert_eq!(g.units, f.units);
        assert_eq!(g.long_name, f.long_name);
        assert_eq!(g.months, f.months);
        assert_eq!(g.members, f.members);
        assert_eq!(*g.grid, *f.grid);
    }
    // an input of this run is never overwritten
    let input = archive::hist_path(root, "m1", 16, 1);
    let before = std::fs::read(&input).unwrap();
    let e = write_fields(&input, &[&ens[0]], "x")
        .unwrap_err()
        .to_string();
    assert!(e.contains("it was read as input in this run"), "{e}");
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn arrays_are_written_with_their_own_dimensions() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("arrays.nc");
    let a = ndarray::array![[1.0, f64::NAN, 3.0], [4.0, 5.0, 6.0]].into_dyn();
    let named = clmtune::field::write::NamedArray::plain("pcs", a);
    clmtune::field::write::write_netcdf(&p, &[], &[named], "test").unwrap();
    let f = netcdf::open(&p).unwrap();
    let v = f.variable("pcs").unwrap();
    let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
    assert_eq!(dims, ["pcs_0", "pcs_1"]);
    let vals: Vec<f64> = v.get_values(..).unwrap();
    assert_eq!(vals[0], 1.0);
    assert_eq!(
        vals[1],
        clmtune::field::write::FILL,
        "NaN is written as the fill value"
    );
    assert_eq!(vals[5], 6.0);
    let e = clmtune::field::write::write_netcdf(&dir.path().join("x.nc"), &[], &[], "t")
        .unwrap_err()
        .to_string();
    assert!(e.contains("nothing to write"), "{e}");
}
