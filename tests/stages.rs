//! The stage scripts end to end on a small demo experiment (4-member ensembles, one analysed
//! year after one spun up, observations of 2000-2001): every contract file is written with
//! the rows it should have.

use std::path::Path;
use std::process::Command;

fn run(script: &str, cfg: &Path) -> String {
    let s = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let out = Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .arg("run")
        .arg(&s)
        .arg("--")
        .arg("--config")
        .arg(cfg)
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{script}:\n{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    so
}

fn rows(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

#[test]
fn sensitivity_and_eof_stages_write_every_contract_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = clmtune::demo::setup::ensure(d, (2000, 2001)).unwrap();
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("years = [16, 20]", "years = [2, 2]")
        .replace("ppe_members = 100", "ppe_members = 4")
        .replace("years = [2000, 2004]", "years = [2000, 2001]")
        .replace("sigma_years = [1982, 2008]", "sigma_years = [2000, 2001]")
        .replace("modes = 3", "modes = 2");
    std::fs::write(&cfg, text).unwrap();

    let so = run("01_sensitivity.rhai", &cfg);
    assert!(so.contains("proposed for calibration:"), "{so}");
    let s = d.join("results/sensitivity");
    assert_eq!(rows(&s.join("ranks.csv")).len(), 16);
    assert_eq!(rows(&s.join("pe_global_mean.csv")).len(), 16 * 7);
    // 7 outputs x 16 x 16 pairs, and the sum
    assert_eq!(rows(&s.join("pattern_correlation.csv")).len(), 8 * 256);
    let maps = clmtune::field::write::read_fields(&s.join("pe_maps.nc")).unwrap();
    assert_eq!(maps["GPP"].members.len(), 16);
    assert!(s.join("pattern_correlation.png").exists());
    assert_eq!(
        std::fs::read_dir(&s)
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("pe_GPP_"))
            .count(),
        6
    );

    let so = run("03_eof.rhai", &cfg);
    assert!(so.contains("GPP: 2 modes explain"), "{so}");
    let e = d.join("results/eof");
    let vf = rows(&e.join("variance_fraction.csv"));
    assert_eq!(vf.len(), 4, "{vf:?}");
    let total: f64 = vf
        .iter()
        .filter(|r| r.starts_with("GPP,"))
        .map(|r| r.rsplit(',').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(total > 0.5 && total <= 1.0 + 1e-12, "{total}");
    // 2 ensembles x 4 members x 2 variables x 2 modes
    let pcs = rows(&e.join("pcs.csv"));
    assert_eq!(pcs.len(), 32);
    assert!(pcs
        .iter()
        .any(|r| r.starts_with("ppe_test,demo_LHC_v2_4,LHF,2,")));
    // (obs, default, obs_2000, obs_2001) x 2 variables x 2 modes
    let pr = rows(&e.join("projections.csv"));
    assert_eq!(pr.len(), 16, "{pr:?}");
    assert!(pr.iter().any(|r| r.starts_with("obs_2001,GPP,1,")));
    assert!(
        pr.iter().all(|r| !r.ends_with(',')),
        "every projection defined: {pr:?}"
    );
    let (eof, _, _) = clmtune::eof::Eof::load_named(&e.join("eof.nc"), "LHF").unwrap();
    assert_eq!(eof.pcs(2).unwrap().nrows(), 4);
    for f in ["eof_GPP_1.png", "pc_LHF_2.png", "rmse_GPP.png"] {
        assert!(e.join(f).exists(), "{f}");
    }
}
