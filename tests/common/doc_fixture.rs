//! The files the doc examples read (`TEMP_DIR` of `clmtune::script::doc::run_example`),
//! shared by tests/doc_examples.rs (examples in doc comments) and tests/readme_examples.rs
//! (examples in README.md and the guide).
#![allow(dead_code)]

use clmtune::demo::fixture;

/// Writes every fixture file into `dir`: the archive of [`write_demo_case`], `exp.toml` (the
/// example config), `obs.nc` ([`write_obs_file`]), `oaat/` ([`write_oaat_fixture`]),
/// `emulator/` ([`write_emulator_fixture`]), two scripts for `run_script` and a small JSON
/// file.
pub fn write_all(dir: &std::path::Path) {
    write_demo_case(&dir.join("archive"));
    std::fs::write(dir.join("exp.toml"), clmtune::config::EXAMPLE).unwrap();
    write_obs_file(&dir.join("obs.nc"));
    write_oaat_fixture(&dir.join("oaat"));
    write_emulator_fixture(&dir.join("emulator"));
    // scripts for `run_script`: one greeting its --name, one running itself
    std::fs::write(
        dir.join("hello.rhai"),
        "let n = if \"name\" in OPTIONS { OPTIONS.name } else { \"nobody\" };\n`hello ${n}`\n",
    )
    .unwrap();
    std::fs::write(dir.join("self.rhai"), "run_script(SCRIPT, #{});\n").unwrap();
    std::fs::write(
        dir.join("small.json"),
        r#"{"name": "demo", "fractions": [0.5, 0.25]}"#,
    )
    .unwrap();
}

/// The archive the `field` examples read: case "demo", year 1, on the 2 x 3 grid of
/// [`fixture::tiny_grid`] (areas 1..6 km^2, land fractions [[1, .5, 0], [1, 1, .25]], one ocean
/// cell); GPP in month t (0..11) is base + 0.1 t with base [[1, 2, -], [3, 4, 5]], so its time
/// mean is base + 0.55 and its land mean (weights 1, 1, 4, 5, 1.5) is 49.375 / 12.5 = 3.95.
pub fn write_demo_case(root: &std::path::Path) {
    let base = [1.0, 2.0, f64::NAN, 3.0, 4.0, 5.0];
    // "demo2" and "demo3" differ from "demo" so that the `eof` examples have an ensemble
    let cases: [(&str, [f64; 6]); 3] = [
        ("demo", [0.0; 6]),
        ("demo2", [0.5, -0.2, 0.0, 0.1, 0.3, -0.4]),
        ("demo3", [-0.3, 0.4, 0.0, 0.2, -0.1, 0.6]),
    ];
    let archive = fixture::Archive::new(root, fixture::tiny_grid()).var(
        "GPP",
        "gC/m^2/s",
        "gross primary production",
    );
    for (case, shift) in cases {
        archive
            .write_case(case, (1, 1), |_, m| {
                base.iter()
                    .zip(shift)
                    .map(|(b, d)| b + d + 0.1 * m.index as f64)
                    .collect()
            })
            .unwrap();
    }
}

/// The one-at-a-time experiment the `sensitivity` examples read: parameters fff and dint
/// (namelist; dint's max is the default run), backend none, cases t_default, t_fff_min,
/// t_fff_max, t_dint_min of year 1 on the 2 x 3 grid of [`write_demo_case`]. PE of fff is
/// the base map [[1, 2, -], [3, 4, 5]]; PE of dint is [[0.5, 0.1, -], [0.2, 0.9, 0.3]].
pub fn write_oaat_fixture(dir: &std::path::Path) {
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
    let base = [1.0, 2.0, f64::NAN, 3.0, 4.0, 5.0];
    let dint = [0.5, 0.1, 0.0, 0.2, 0.9, 0.3];
    let cases: [(&str, [f64; 6]); 4] = [
        ("t_default", base),
        ("t_fff_min", base),
        ("t_fff_max", std::array::from_fn(|i| 2.0 * base[i])),
        ("t_dint_min", std::array::from_fn(|i| base[i] - dint[i])),
    ];
    let archive = fixture::Archive::new(&dir.join("archive"), fixture::tiny_grid())
        .var("GPP", "gC/m^2/s", "gross primary production")
        .var("QFLX_EVAP_TOT", "mm/s", "evapotranspiration");
    for (case, v) in cases {
        archive
            .write_case(case, (1, 1), |var, _| match var {
                "GPP" => v.to_vec(),
                _ => v.iter().map(|x| x * 1e-5).collect(),
            })
            .unwrap();
    }
}

/// The observation file the `read_obs` example reads: 1-degree cells, GPP = 1 everywhere,
/// monthly 1999-2001 on the noleap calendar.
pub fn write_obs_file(path: &std::path::Path) {
    let mut w = clmtune::nc::Writer::new(clmtune::nc::Format::Netcdf4);
    w.dim("time", 36).dim("lat", 180).dim("lon", 360);
    let lat: Vec<f64> = (0..180).map(|i| -89.5 + i as f64).collect();
    let lon: Vec<f64> = (0..360).map(|j| 0.5 + j as f64).collect();
    w.var("lat", &["lat"], lat);
    w.var("lon", &["lon"], lon);
    let t: Vec<f64> = (0..36)
        .map(|k| {
            15.0 + 365.0 * (k / 12) as f64
                + [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334][k % 12] as f64
        })
        .collect();
    w.var("time", &["time"], t)
        .attr("units", "days since 1999-01-01")
        .attr("calendar", "noleap");
    w.var("GPP", &["time", "lat", "lon"], vec![1.0f32; 36 * 180 * 360])
        .attr("units", "gC m-2 d-1");
    w.save(path).unwrap();
}

/// The emulator folder the `emulate` stage examples read (`load_emulators`): variable GPP of
/// 2 modes on 2 parameters, a smooth function of the scalings (sin and a product), 30
/// members and a second ensemble of 20, a small network grid; the Gaussian process is the
/// best on the second ensemble (r2_score above 0.99), so `ems.choice("GPP")` is `gp`.
pub fn write_emulator_fixture(dir: &std::path::Path) {
    use clmtune::emulate::stage::{EmulatorStage, Inputs, StageSettings, Target};
    use ndarray::Array2;
    let f = |x: &Array2<f64>| {
        Array2::from_shape_fn((x.nrows(), 2), |(i, k)| {
            (3.0 * x[[i, 0]]).sin() * (k + 1) as f64 + x[[i, 0]] * x[[i, 1]]
        })
    };
    let x = Array2::from_shape_fn((30, 2), |(i, j)| {
        ((7 * i + 4 * i * j + 5 * j + 1) % 31) as f64 / 30.0
    });
    let tx = Array2::from_shape_fn((20, 2), |(i, j)| {
        ((11 * i + 3 * j + 2 * i * j + 5) % 21) as f64 / 20.0
    });
    let inputs = Inputs {
        parameters: vec!["kmax".into(), "dint".into()],
        cases: (1..=30).map(|i| format!("c{i}")).collect(),
        x: x.clone(),
        test_x: Some(tx.clone()),
    };
    let targets = [Target {
        variable: "GPP".into(),
        y: f(&x),
        test_y: Some(f(&tx)),
        sigma: Some(ndarray::arr1(&[0.1, 0.2])),
    }];
    let mut s = StageSettings::default();
    s.protocol.layer1 = vec![4];
    s.protocol.layer2 = vec![4];
    s.protocol.top = 1;
    s.protocol.resamples = 3;
    s.protocol.network.epochs = 30;
    EmulatorStage::run(&inputs, &targets, s, &|| {})
        .unwrap()
        .save(dir)
        .unwrap();
}
