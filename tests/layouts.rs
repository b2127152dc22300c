//! History files in every layout a CLM user has (issue 26): one synthetic ensemble written
//! as CLM's classic monthly `h0` files, as CTSM >= 5.3's `h0a` names, as 12-month files
//! (`hist_mfilt = 12`) and as 1-D `lndgrid` files of the land cells (sparse grid), read
//! back into the same numbers, and the EOF stage gives the same results on all four.
//! Also daily samples averaged into months, weighted by their intervals.

use clmtune::archive::{self, HistVar};
use clmtune::eof::stage::{EofStage, Runs, Settings};
use clmtune::field::read::{read_case, Output};
use clmtune::field::Grid;
use ndarray::Array2;
use std::path::Path;

mod common;

const MEMBERS: usize = 8;
const YEAR: i64 = 2;

/// The layouts written.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Layout {
    Monthly,
    H0a,
    Yearly,
    Sparse,
}

/// A smooth, member-dependent field with some cell noise: GPP (gC/m^2/s) and latent heat
/// (W/m^2) of member `m` (0 = the default run) in month `t` at cell (lat, lon); NaN over
/// ocean.
fn value(var: usize, m: usize, t: usize, lat: f64, lon: f64, land: bool) -> f64 {
    if !land {
        return f64::NAN;
    }
    let (a, b, c) = (
        ((m * 7 + 3) % 11) as f64 / 11.0,
        ((m * 5 + 1) % 13) as f64 / 13.0,
        ((m * 3 + 2) % 7) as f64 / 7.0,
    );
    let noise = ((lat * 12.9898 + lon * 78.233 + m as f64 * 3.7).sin() * 43758.5453).fract();
    let season = 1.0 + 0.3 * ((t as f64 + lat / 30.0) * std::f64::consts::PI / 6.0).sin();
    let pattern = 1.0
        + 0.4 * a * lon.to_radians().sin()
        + 0.3 * b * (2.0 * lat.to_radians()).cos()
        + 0.2 * c * noise;
    let base = (lat.to_radians().cos() + 0.2) * season * pattern;
    if var == 0 {
        3e-5 * base
    } else {
        60.0 * base + 5.0 * c
    }
}

/// Writes one case in `layout` under `root`.
fn write_case(root: &Path, case: &str, m: usize, grid: &Grid, layout: Layout) {
    let dir = archive::hist_dir(root, case);
    std::fs::create_dir_all(&dir).unwrap();
    let land: Vec<bool> = grid.landfrac.iter().map(|&f| f > 0.0).collect();
    let (g, cells): (Grid, Vec<usize>) = if layout == Layout::Sparse {
        let keep: Vec<usize> = (0..grid.ncell()).filter(|&k| land[k]).collect();
        (grid.subset(&land, "lndgrid").unwrap(), keep)
    } else {
        (grid.clone(), (0..grid.ncell()).collect())
    };
    let month_values = |var: usize, t: usize| -> Vec<f64> {
        cells
            .iter()
            .map(|&k| {
                let (lat, lon) = grid.cell_center(k);
                value(var, m, t, lat, lon, land[k])
            })
            .collect()
    };
    let write = |path: &Path, months: &[(i64, u32)]| {
        let gpp: Vec<f64> = months
            .iter()
            .flat_map(|&(_, mo)| month_values(0, mo as usize - 1))
            .collect();
        let lh: Vec<f64> = months
            .iter()
            .flat_map(|&(_, mo)| month_values(1, mo as usize - 1))
            .collect();
        let vars = [
            HistVar {
                name: "GPP",
                units: "gC/m^2/s",
                long_name: "gross primary production",
                levels: None,
                values: &gpp,
            },
            HistVar {
                name: "EFLX_LH_TOT",
                units: "W/m^2",
                long_name: "total latent heat flux [+ to atm]",
                levels: None,
                values: &lh,
            },
        ];
        archive::write_history(path, case, months, &g, &vars, "layouts test").unwrap();
    };
    match layout {
        Layout::Yearly => write(
            &dir.join(format!("{case}.clm2.h0.{YEAR:04}-01.nc")),
            &(1..=12).map(|mo| (YEAR, mo)).collect::<Vec<_>>(),
        ),
        _ => {
            let tape = if layout == Layout::H0a { "h0a" } else { "h0" };
            for mo in 1..=12 {
                write(
                    &dir.join(format!("{case}.clm2.{tape}.{YEAR:04}-{mo:02}.nc")),
                    &[(YEAR, mo)],
                );
            }
        }
    }
}

#[test]
fn four_layouts_give_the_same_fields_and_the_same_eof_stage() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = common::small_experiment(dir.path());
    let cfg = clmtune::config::Config::load(&cfg_path).unwrap();
    let grid = clmtune::grids::f45().unwrap();
    let cases: Vec<String> = (1..=MEMBERS).map(|m| format!("ppe_{m}")).collect();
    let runs = Runs {
        name: "ppe".into(),
        members: (1..=MEMBERS).map(|m| m.to_string()).collect(),
        cases: cases.clone(),
        parameters: vec!["a".into(), "b".into()],
        scalings: Array2::from_shape_fn((MEMBERS, 2), |(i, j)| {
            ((i * 3 + j * 5) % MEMBERS) as f64 / MEMBERS as f64
        }),
        dropped: Vec::new(),
    };
    let outputs = [
        Output::new("GPP", "GPP").unwrap(),
        Output::new("LHF", "EFLX_LH_TOT").unwrap(),
    ];
    let mut stages: Vec<(Layout, EofStage)> = Vec::new();
    let mut means: Vec<(Layout, Vec<f64>)> = Vec::new();
    for layout in [Layout::Monthly, Layout::H0a, Layout::Yearly, Layout::Sparse] {
        let root = dir.path().join(format!("archive_{layout:?}"));
        for (m, c) in cases.iter().enumerate() {
            write_case(&root, c, m + 1, &grid, layout);
        }
        write_case(&root, "dflt", 0, &grid, layout);
        // the case is found complete in every layout, with the tape it has
        let c = archive::find_case(&root, "ppe_1").unwrap();
        assert!(c.is_complete((YEAR, YEAR)), "{layout:?}: {}", c.found());
        assert_eq!(c.tape, if layout == Layout::H0a { "h0a" } else { "h0" });
        // the monthly fields, cell by cell, are the same numbers
        let f = read_case(&c, &outputs, (YEAR, YEAR), false).unwrap();
        assert_eq!(f[0].months.len(), 12);
        let (_, rows) = f[0].cell_rows().unwrap();
        let land: Vec<f64> = rows.iter().copied().filter(|x| x.is_finite()).collect();
        means.push((layout, land));
        let mut settings = Settings::from_config(&cfg).unwrap();
        settings.archive_root = root.clone();
        settings.years = (YEAR, YEAR);
        settings.modes = 3;
        let s = EofStage::run(settings, runs.clone(), None, "dflt")
            .unwrap_or_else(|e| panic!("{layout:?}: {e:#}"));
        stages.push((layout, s));
    }
    // the land values of the monthly fields: identical in all four layouts
    for (l, v) in &means[1..] {
        assert_eq!(v.len(), means[0].1.len(), "{l:?}");
        assert!(
            v.iter().zip(&means[0].1).all(|(a, b)| a == b),
            "{l:?}: other values"
        );
    }
    let (_, first) = &stages[0];
    assert!(first.grid.is_lat_lon());
    assert_eq!(stages[3].1.grid.dims(), vec!["lndgrid"]);
    for (layout, s) in &stages[1..] {
        for (a, b) in first.variables.iter().zip(&s.variables) {
            let close = |x: &[f64], y: &[f64], what: &str| {
                assert_eq!(x.len(), y.len(), "{layout:?} {} {what}", a.name);
                for (p, q) in x.iter().zip(y) {
                    assert!(
                        (p - q).abs() <= 1e-12 * (1.0 + p.abs()),
                        "{layout:?} {} {what}: {p} vs {q}",
                        a.name
                    );
                }
            };
            close(
                a.eof.variance_fraction().as_slice().unwrap(),
                b.eof.variance_fraction().as_slice().unwrap(),
                "variance fractions",
            );
            close(a.pcs.as_slice().unwrap(), b.pcs.as_slice().unwrap(), "PCs");
            close(
                a.u_obs.as_slice().unwrap(),
                b.u_obs.as_slice().unwrap(),
                "U_obs",
            );
            close(
                a.sigma.as_slice().unwrap(),
                b.sigma.as_slice().unwrap(),
                "sigma",
            );
            close(
                a.u_default.as_slice().unwrap(),
                b.u_default.as_slice().unwrap(),
                "default projection",
            );
            close(
                a.rmse_run.as_slice().unwrap(),
                b.rmse_run.as_slice().unwrap(),
                "RMSE",
            );
            // the EOF maps hold the same loadings at the same cells
            let ea: Vec<f64> = a
                .eof
                .eofs(3)
                .unwrap()
                .iter()
                .copied()
                .filter(|x| x.is_finite())
                .collect();
            let eb: Vec<f64> = b
                .eof
                .eofs(3)
                .unwrap()
                .iter()
                .copied()
                .filter(|x| x.is_finite())
                .collect();
            close(&ea, &eb, "EOF loadings");
        }
    }
    // the 1-D stage saves and loads back with its cells
    let out = dir.path().join("eof_sparse");
    stages[3].1.save(&out, "test").unwrap();
    let back = EofStage::load(&out).unwrap();
    assert_eq!(back.grid, stages[3].1.grid);
    assert_eq!(
        back.variables[0].pcs.as_slice(),
        stages[3].1.variables[0].pcs.as_slice()
    );
}

/// Daily samples (365 per file, `hist_mfilt = 365`, as `h1` output is often kept) give each
/// month the mean of its days, and a month split over two files is whole.
#[test]
fn daily_samples_are_averaged_into_months_by_their_intervals() {
    use clmtune::nc::{Format, Writer};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let hist = archive::hist_dir(root, "d");
    std::fs::create_dir_all(&hist).unwrap();
    let g = clmtune::demo::fixture::tiny_grid();
    // two files: days 0..200 and 200..365 of year 1, value = day number at every cell
    let write = |name: &str, days: std::ops::Range<usize>| {
        let mut w = Writer::new(Format::Offset64);
        w.unlimited("time")
            .dim("lat", 2)
            .dim("lon", 3)
            .dim("hist_interval", 2);
        let ends: Vec<f64> = days.clone().map(|d| (d + 1) as f64).collect();
        let bounds: Vec<f64> = days
            .clone()
            .flat_map(|d| [d as f64, (d + 1) as f64])
            .collect();
        w.var("time", &["time"], ends)
            .attr("units", "days since 0001-01-01 00:00:00")
            .attr("calendar", "noleap")
            .attr("bounds", "time_bounds");
        w.var("time_bounds", &["time", "hist_interval"], bounds);
        w.var("lat", &["lat"], g.lat.clone());
        w.var("lon", &["lon"], g.lon.clone());
        w.var("area", &["lat", "lon"], g.area.mapv(|a| a / 1e6).to_vec())
            .attr("units", "km^2");
        w.var("landfrac", &["lat", "lon"], g.landfrac.to_vec());
        let vals: Vec<f64> = days.flat_map(|d| [d as f64; 6]).collect();
        w.var("X", &["time", "lat", "lon"], vals).attr("units", "1");
        w.save(&hist.join(name)).unwrap();
    };
    write("d.clm2.h1.0001-01-01-00000.nc", 0..200);
    write("d.clm2.h1.0001-07-20-00000.nc", 200..365);
    let c = archive::find_case(root, "d").unwrap();
    assert_eq!(c.tape, "h1");
    assert!(c.is_complete((1, 1)), "{}", c.found());
    let f = read_case(&c, &[Output::new("X", "X").unwrap()], (1, 1), false).unwrap();
    // month k holds days MONTH_START[k] .. +DAYS_IN_MONTH[k]: mean day = start + (n - 1) / 2
    for k in 0..12 {
        let start = clmtune::calendar::MONTH_START[k] as f64;
        let n = clmtune::calendar::DAYS_IN_MONTH[k] as f64;
        let want = start + (n - 1.0) / 2.0;
        assert!(
            (f[0].values[[k, 0, 0]] - want).abs() < 1e-9,
            "month {}: {} vs {want}",
            k + 1,
            f[0].values[[k, 0, 0]]
        );
    }
    // a year that is not there: the message says what the folder holds
    let e = c.select((1, 2)).unwrap_err().to_string();
    assert!(
        e.contains("12 month(s) of years 1-2 missing")
            && e.contains("2 h1 file(s) holding 12 month(s) from 0001-01 to 0001-12"),
        "{e}"
    );
}

/// Files that are there but cannot be used are listed with the reason, never "months
/// missing" alone.
#[test]
fn unusable_files_are_named_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let hist = archive::hist_dir(root, "u");
    std::fs::create_dir_all(&hist).unwrap();
    std::fs::write(hist.join("u.clm2.h0.0001-01-01-00000.nc"), b"not netCDF").unwrap();
    std::fs::write(hist.join("u.clm2.rh0.0001-01-01-00000.nc"), b"").unwrap();
    std::fs::write(hist.join("u_history.nc"), b"").unwrap();
    let c = archive::find_case(root, "u").unwrap();
    let e = c.select((1, 1)).unwrap_err().to_string();
    assert!(e.contains("12 month(s) of years 1-1 missing"), "{e}");
    assert!(
        e.contains("u.clm2.h0.0001-01-01-00000.nc not used: ")
            && e.contains("not a readable netCDF file"),
        "{e}"
    );
    assert!(
        e.contains("u.clm2.rh0.0001-01-01-00000.nc not used: not named u.clm2.hN"),
        "{e}"
    );
    assert!(e.contains("u_history.nc not used"), "{e}");
}
