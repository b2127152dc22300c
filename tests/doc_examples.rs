//! Every ```rhai example in a doc comment runs as a test; `EXPR //=> TEXT` lines check
//! what the expression prints.

mod common;

#[test]
fn every_doc_example_runs_and_prints_what_it_says() {
    let cat = clmtune::script::doc::full_catalog();
    let examples = clmtune::script::doc::examples(&cat);
    assert!(
        examples.len() > 80,
        "only {} examples found",
        examples.len()
    );
    common::demo_fixture();
    let engine = clmtune::script::engine();
    let dir = tempfile::tempdir().unwrap();
    write_demo_case(&dir.path().join("archive"));
    std::fs::write(dir.path().join("exp.toml"), clmtune::config::EXAMPLE).unwrap();
    write_obs_file(&dir.path().join("obs.nc"));
    write_oaat_fixture(&dir.path().join("oaat"));
    let failures: Vec<String> = examples
        .iter()
        .filter_map(|ex| {
            clmtune::script::doc::run_example(&engine, ex, &dir.path().display().to_string()).err()
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} examples failed:\n\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_function_and_type_is_documented() {
    for m in clmtune::script::doc::full_catalog() {
        for f in &m.functions {
            assert!(
                !f.doc.is_empty(),
                "{}: {} has no doc comment",
                m.name,
                f.signature
            );
        }
        for t in &m.types {
            assert!(
                !t.doc.is_empty(),
                "{}: type {} has no doc comment",
                m.name,
                t.name
            );
        }
    }
}

/// The 2 x 3 grid of the doc fixtures: areas 1..6 km^2, land fractions [[1, .5, 0], [1, 1,
/// .25]].
fn tiny_grid() -> clmtune::field::Grid {
    use ndarray::array;
    clmtune::field::Grid {
        lat: vec![-10.0, 10.0],
        lon: vec![0.0, 120.0, 240.0],
        area: array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]] * 1e6,
        landfrac: array![[1.0, 0.5, 0.0], [1.0, 1.0, 0.25]],
        landmask: array![[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]],
    }
}

/// The archive the `field` examples read: case "demo", year 1, on 2 x 3 cells with areas 1..6
/// km^2 and land fractions [[1, .5, 0], [1, 1, .25]] (one ocean cell); GPP in month t
/// (0..11) is base + 0.1 t with base [[1, 2, -], [3, 4, 5]], so its time mean is base + 0.55
/// and its land mean (weights 1, 1, 4, 5, 1.5) is 49.375 / 12.5 = 3.95.
fn write_demo_case(root: &std::path::Path) {
    use clmtune::archive::{hist_path, write_history_month, HistVar};
    let grid = tiny_grid();
    let base = [1.0, 2.0, f64::NAN, 3.0, 4.0, 5.0];
    // "demo2" and "demo3" differ from "demo" so that the `eof` examples have an ensemble
    let cases: [(&str, [f64; 6]); 3] = [
        ("demo", [0.0; 6]),
        ("demo2", [0.5, -0.2, 0.0, 0.1, 0.3, -0.4]),
        ("demo3", [-0.3, 0.4, 0.0, 0.2, -0.1, 0.6]),
    ];
    for (case, shift) in cases {
        for m in 1..=12u32 {
            let gpp: Vec<f64> = base
                .iter()
                .zip(shift)
                .map(|(b, d)| b + d + 0.1 * (m - 1) as f64)
                .collect();
            let vars = [HistVar {
                name: "GPP",
                units: "gC/m^2/s",
                long_name: "gross primary production",
                levels: None,
                values: &gpp,
            }];
            write_history_month(
                &hist_path(root, case, 1, m),
                case,
                1,
                m,
                &grid,
                &vars,
                "clmtune test data (synthetic, not CLM)",
            )
            .unwrap();
        }
    }
}

/// The one-at-a-time experiment the `sensitivity` examples read: parameters fff and dint
/// (namelist; dint's max is the default run), backend none, cases t_default, t_fff_min,
/// t_fff_max, t_dint_min of year 1 on the 2 x 3 grid of [`write_demo_case`]. PE of fff is
/// the base map [[1, 2, -], [3, 4, 5]]; PE of dint is [[0.5, 0.1, -], [0.2, 0.9, 0.3]].
fn write_oaat_fixture(dir: &std::path::Path) {
    use clmtune::archive::{hist_path, write_history_month, HistVar};
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "[experiment]\nname = \"t\"\n[archive]\nroot = \"archive\"\nyears = [1, 1]\n[cases]\ndefault = \"t_default\"\noaat = \"t_{param}_{end}\"\n[parameters]\nspec = \"parameters.toml\"\n[backend]\nkind = \"none\"\n[output]\ndir = \"results\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("parameters.toml"),
        "[[parameter]]\nname = \"fff\"\nlocation = \"namelist\"\ndefault = 0.5\nmin = 0.02\nmax = 5.0\n\n[[parameter]]\nname = \"dint\"\nlocation = \"namelist\"\ndefault = 0.8\nmin = 0.5\nmax = 1.0\noaat_default_as = \"max\"\n",
    )
    .unwrap();
    let grid = tiny_grid();
    let base = [1.0, 2.0, f64::NAN, 3.0, 4.0, 5.0];
    let dint = [0.5, 0.1, 0.0, 0.2, 0.9, 0.3];
    let cases: [(&str, [f64; 6]); 4] = [
        ("t_default", base),
        ("t_fff_min", base),
        ("t_fff_max", std::array::from_fn(|i| 2.0 * base[i])),
        ("t_dint_min", std::array::from_fn(|i| base[i] - dint[i])),
    ];
    let root = dir.join("archive");
    for (case, v) in cases {
        for m in 1..=12u32 {
            let et: Vec<f64> = v.iter().map(|x| x * 1e-5).collect();
            let vars = [
                HistVar {
                    name: "GPP",
                    units: "gC/m^2/s",
                    long_name: "gross primary production",
                    levels: None,
                    values: &v,
                },
                HistVar {
                    name: "QFLX_EVAP_TOT",
                    units: "mm/s",
                    long_name: "evapotranspiration",
                    levels: None,
                    values: &et,
                },
            ];
            write_history_month(
                &hist_path(&root, case, 1, m),
                case,
                1,
                m,
                &grid,
                &vars,
                "clmtune test data (synthetic, not CLM)",
            )
            .unwrap();
        }
    }
}

/// The observation file the `read_obs` example reads: 1-degree cells, GPP = 1 everywhere,
/// monthly 1999-2001 on the noleap calendar.
fn write_obs_file(path: &std::path::Path) {
    let mut f = netcdf::create_with(path, netcdf::Options::NETCDF4).unwrap();
    f.add_dimension("time", 36).unwrap();
    f.add_dimension("lat", 180).unwrap();
    f.add_dimension("lon", 360).unwrap();
    let lat: Vec<f64> = (0..180).map(|i| -89.5 + i as f64).collect();
    let lon: Vec<f64> = (0..360).map(|j| 0.5 + j as f64).collect();
    f.add_variable::<f64>("lat", &["lat"])
        .unwrap()
        .put_values(&lat, ..)
        .unwrap();
    f.add_variable::<f64>("lon", &["lon"])
        .unwrap()
        .put_values(&lon, ..)
        .unwrap();
    let t: Vec<f64> = (0..36)
        .map(|k| {
            15.0 + 365.0 * (k / 12) as f64
                + [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334][k % 12] as f64
        })
        .collect();
    let mut tv = f.add_variable::<f64>("time", &["time"]).unwrap();
    tv.put_attribute("units", "days since 1999-01-01").unwrap();
    tv.put_attribute("calendar", "noleap").unwrap();
    tv.put_values(&t, ..).unwrap();
    let mut v = f
        .add_variable::<f32>("GPP", &["time", "lat", "lon"])
        .unwrap();
    v.put_attribute("units", "gC m-2 d-1").unwrap();
    v.put_values(&vec![1.0f32; 36 * 180 * 360], ..).unwrap();
}
