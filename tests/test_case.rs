//! The CLM test case (07_test_case.rhai) end to end on a small demo experiment (10-member
//! ensembles, one analysed year, observations of 2000-2001): Table 2 against an independent
//! recomputation from the saved bias maps, the default run's projection against the EOF
//! stage's, FSH judged (the demo observations have H) or skipped with a note, and a kill -9
//! in the middle of submitting through a (fake) CIME followed by a rerun.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

fn run_with(name: &str, cfg: &Path, more: &[&str], env: &[(&str, &str)]) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clmtune"));
    c.arg("run")
        .arg(script(name))
        .arg("--")
        .arg("--config")
        .arg(cfg)
        .args(more);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let so = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{name}:\n{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    so
}

/// A small demo experiment in `d` (the stages.rs settings) with 03, 04 and 06 done.
fn calibrated_demo(d: &Path) -> PathBuf {
    let cfg = common::small_experiment(d);
    run_with("03_eof.rhai", &cfg, &[], &[]);
    run_with("04_emulate.rhai", &cfg, &["--quick"], &[]);
    run_with("06_calibrate.rhai", &cfg, &["--quick"], &[]);
    cfg
}

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1e-300)
}

/// Table 2 recomputed by hand from `bias_maps.nc`: the land area-weighted mean
/// (area * landfrac from the file) of each map over the cells of each region where it is
/// defined, compared with `bias_table.csv`.
fn check_table2(out: &Path) -> usize {
    let f = netcdf::open(out.join("bias_maps.nc")).unwrap();
    let get = |n: &str| -> Vec<f64> { f.variable(n).unwrap().get_values::<f64, _>(..).unwrap() };
    let lat = get("lat");
    let lon = get("lon");
    let area = get("area");
    let landfrac = get("landfrac");
    let nlon = lon.len();
    let regions: [(&str, f64, f64, f64, f64); 5] = [
        ("Global", -90.0, 90.0, 0.0, 360.0),
        ("Amazon", -10.0, 0.0, 290.0, 310.0),
        ("Sahel", 5.0, 15.0, 0.0, 20.0),
        ("Eastern US", 35.0, 45.0, 260.0, 280.0),
        ("Siberia", 60.0, 70.0, 90.0, 110.0),
    ];
    let t = clmtune::table::Table::read(&out.join("bias_table.csv")).unwrap();
    let reg = t.column("region").unwrap();
    let cmp = t.column("comparison").unwrap();
    let mut checked = 0;
    for var in ["GPP", "LHF", "FSH"] {
        let col = t.numbers(&var.to_lowercase()).unwrap().to_vec();
        for label in ["optimized", "default"] {
            let map = get(&format!("{var}_bias_{label}"));
            for (name, la0, la1, lo0, lo1) in regions {
                let (mut sw, mut s) = (0.0, 0.0);
                for (k, &x) in map.iter().enumerate() {
                    let (i, j) = (k / nlon, k % nlon);
                    let lo = lon[j].rem_euclid(360.0);
                    let w = area[k] * landfrac[k];
                    // the fill value 1e36 reads back as is: a missing bias
                    if x.abs() < 1e30
                        && w.is_finite()
                        && w > 0.0
                        && lat[i] >= la0
                        && lat[i] <= la1
                        && lo >= lo0
                        && lo <= lo1
                    {
                        sw += w;
                        s += w * x;
                    }
                }
                let want = s / sw;
                let row = (0..t.len())
                    .find(|&r| {
                        reg.value(r) == clmtune::table::Value::Text(name.into())
                            && cmp.value(r) == clmtune::table::Value::Text(format!("{label}-obs"))
                    })
                    .unwrap();
                assert!(
                    rel_close(col[row], want, 1e-12),
                    "{var} {label} {name}: table {} by hand {want}",
                    col[row]
                );
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn the_test_case_judges_the_optimum_and_table_2_matches_the_bias_maps() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = calibrated_demo(d);
    let so = run_with("07_test_case.rhai", &cfg, &[], &[]);
    assert!(so.contains("optimized: cost"), "{so}");
    assert!(
        so.contains("GPP: the optimized run is")
            && so.contains("the observations than the default run (RMSE"),
        "{so}"
    );
    let out = d.join("results/test_case");
    // (a) Table 2 = by hand, 3 variables x 2 runs x 5 regions
    assert_eq!(check_table2(&out), 30);
    // the files and figures
    for f in [
        "pcs.csv",
        "climatology.csv",
        "rmse.csv",
        "fig10_pcs.png",
        "fig11_bias_maps.png",
        "bias_maps_FSH.png",
        "climatology_GPP.png",
        "climatology_LHF.png",
        "climatology_FSH.png",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let pcs = clmtune::table::Table::read(&out.join("pcs.csv")).unwrap();
    assert_eq!(pcs.len(), 2 * 2, "GPP and LHF x 2 modes");
    assert!(pcs
        .numbers("emulated")
        .unwrap()
        .iter()
        .all(|x| x.is_finite()));
    // the climatology: 5 regions x 3 variables x 3 sources x 12 months
    let clim = clmtune::table::Table::read(&out.join("climatology.csv")).unwrap();
    assert_eq!(clim.len(), 5 * 3 * 3 * 12);
    // the RMSE is the root mean square of the saved bias map over its defined cells
    let f = netcdf::open(out.join("bias_maps.nc")).unwrap();
    let b: Vec<f64> = f
        .variable("GPP_bias_default")
        .unwrap()
        .get_values::<f64, _>(..)
        .unwrap()
        .into_iter()
        .filter(|x| x.abs() < 1e30)
        .collect();
    let by_hand = (b.iter().map(|x| x * x).sum::<f64>() / b.len() as f64).sqrt();
    let rmse = clmtune::table::Table::read(&out.join("rmse.csv")).unwrap();
    let row = (0..rmse.len())
        .find(|&r| {
            rmse.column("variable").unwrap().value(r) == clmtune::table::Value::Text("GPP".into())
                && rmse.column("run").unwrap().value(r)
                    == clmtune::table::Value::Text("default".into())
        })
        .unwrap();
    assert!(rel_close(
        rmse.numbers("rmse").unwrap()[row],
        by_hand,
        1e-12
    ));

    // (b) the default run judged as if it were the optimum: its projection is the stage's
    // u_default (the stage read it through another path: time means while reading), and its
    // bias equals the default run's
    let stage = clmtune::eof::stage::EofStage::load(&d.join("results/eof")).unwrap();
    let tc = clmtune::test_case::TestCase::read(
        &stage,
        &[clmtune::test_case::Variable {
            name: "SH".into(),
            obs: "no_such_variable".into(),
            model: "FSH".into(),
            calibrated: false,
        }],
        &[("optimized".into(), stage.default_case.clone())],
        &[],
    )
    .unwrap();
    let sim = tc.pcs.numbers("simulated").unwrap();
    let vars = tc.pcs.column("variable").unwrap();
    let modes = tc.pcs.numbers("mode").unwrap();
    for r in 0..tc.pcs.len() {
        let v = match vars.value(r) {
            clmtune::table::Value::Text(s) => s,
            _ => unreachable!(),
        };
        let u = stage.variable(&v).unwrap().u_default[modes[r] as usize - 1];
        assert!(
            rel_close(sim[r], u, 1e-12),
            "{v} mode {}: {} vs {u}",
            modes[r],
            sim[r]
        );
    }
    // a further variable the observations lack is skipped with a note
    assert_eq!(tc.variables.len(), 2);
    assert!(
        tc.notes
            .iter()
            .any(|n| n.contains("have no no_such_variable")),
        "{:?}",
        tc.notes
    );
    let gpp = tc.bias_table.numbers("gpp").unwrap();
    for pair in gpp.chunks(2) {
        assert_eq!(pair[0], pair[1]);
    }

    // (d) one calibrated experiment serves both (06 is the slow part)
    kill_9_while_submitting_then_rerun_submits_each_member_once(d, &cfg);
}

/// Runs `clmtune run` with the fake CIME's environment (tests/ensembles.rs).
fn fake_cime_command(d: &Path, cfg: &Path, more: &[&str], env: &[(&str, &str)]) -> Command {
    let bin = env!("CARGO_BIN_EXE_clmtune");
    let mut c = Command::new(bin);
    c.arg("run")
        .arg(script("07_test_case.rhai"))
        .arg("--")
        .arg("--config")
        .arg(cfg)
        .args(more);
    common::fake_cime_env(&mut c, d);
    c.env("FAKE_RUN", "1");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// 07 with --posterior 3 (the optimum and three seeded posterior draws: four members in
/// two ensembles; issue 27's posterior predictive check), first clean with the local
/// backend, then through a fake CIME whose submissions are slow, killed (SIGKILL) after two
/// submissions and run again: each member is submitted once and the files equal the clean
/// run's.
fn kill_9_while_submitting_then_rerun_submits_each_member_once(d: &Path, cfg: &Path) {
    // a clean run with the local backend: the reference
    let so = run_with("07_test_case.rhai", cfg, &["--posterior", "3"], &[]);
    assert!(so.contains("posterior draws: spread"), "{so}");
    // the posterior predictive spread: one row per simulated PC and per Table 2 bias, over
    // the three draws, each row's min <= mean <= max
    let sp = clmtune::table::Table::read(&d.join("results/test_case/spread.csv")).unwrap();
    assert!(sp.len() >= 2, "{} rows", sp.len());
    assert!(sp.numbers("runs").unwrap().iter().all(|&n| n == 3.0));
    let (lo, mean, hi) = (
        sp.numbers("min").unwrap(),
        sp.numbers("mean").unwrap(),
        sp.numbers("max").unwrap(),
    );
    assert!((0..sp.len()).all(|i| lo[i] <= mean[i] && mean[i] <= hi[i]));
    let reference = d.join("reference");
    std::fs::create_dir_all(&reference).unwrap();
    for f in [
        "pcs.csv",
        "bias_table.csv",
        "rmse.csv",
        "climatology.csv",
        "spread.csv",
    ] {
        std::fs::copy(d.join("results/test_case").join(f), reference.join(f)).unwrap();
    }
    // the ensembles' folders (OUT/test_case holds the registry beside the results) and
    // the runs go: everything is made again through CIME
    for e in ["test_case", "test_case_draw"] {
        std::fs::remove_dir_all(d.join("results").join(e)).unwrap();
    }
    for m in [
        "demo_test_1",
        "demo_test_draw1",
        "demo_test_draw2",
        "demo_test_draw3",
    ] {
        std::fs::remove_dir_all(d.join("archive").join(m)).unwrap();
    }
    // the same experiment through a (fake) CIME
    let text = std::fs::read_to_string(cfg).unwrap();
    let text = common::with_backend(&text, &common::cime_backend(&d.join("cime_cases")));
    std::fs::write(cfg, text).unwrap();
    let child = fake_cime_command(
        d,
        cfg,
        &["--posterior", "3"],
        &[("FAKE_SUBMIT_SLEEP", "0.5")],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let subs = d.join("submissions");
    let before = common::kill_after_submissions(child, d, 2, 300);
    assert!(before < 4, "killed too late: {before} submitted");
    std::thread::sleep(std::time::Duration::from_millis(3000));
    let out = fake_cime_command(d, cfg, &["--posterior", "3"], &[])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&subs).unwrap();
    let mut cases: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    cases.sort();
    assert_eq!(
        cases,
        [
            "demo_test_1",
            "demo_test_draw1",
            "demo_test_draw2",
            "demo_test_draw3"
        ],
        "each member submitted exactly once:\n{text}"
    );
    // the results equal the clean run's
    for f in [
        "pcs.csv",
        "bias_table.csv",
        "rmse.csv",
        "climatology.csv",
        "spread.csv",
    ] {
        assert_eq!(
            std::fs::read_to_string(d.join("results/test_case").join(f)).unwrap(),
            std::fs::read_to_string(reference.join(f)).unwrap(),
            "{f}"
        );
    }
}
