//! The identical twin on the demo model: an experiment calibrated to the unbiased synthetic
//! observations (made by the demo model at the known truth of `clmtune::demo::setup::TRUTH`)
//! recovers the truth scalings of its sensitive parameters within 0.1, and the truth lies
//! inside the NROY set. A small experiment (see [`twin_config`]) so that it runs in CI.

use std::path::Path;
use std::process::Command;

/// Members of the twin's ensemble (see the README's identical-twin paragraph for what fewer
/// gave).
const MEMBERS: usize = 40;

fn run(script: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .arg("run")
        .arg(script)
        .arg("--")
        .args(args)
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}:\n{so}\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    so
}

/// The demo config made small: `MEMBERS` members, no second ensemble, forcing and
/// observations of 2000-2001, each case 4 years (2 spun up, model years 3-4 = forcing
/// 2000-2001 analysed), 3 modes, and the unbiased observations.
fn twin_config(d: &Path) -> std::path::PathBuf {
    let cfg = clmtune::demo::setup::ensure(d, (2000, 2001)).unwrap();
    let text = std::fs::read_to_string(&cfg).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("ppe_test") {
            continue; // no second ensemble
        }
        out.push_str(line);
        out.push('\n');
    }
    let reps = [
        // datm first: "years = [2000, 2004]" is also the end of its line
        (
            "datm_years = [2000, 2004]",
            "datm_years = [2000, 2001]".to_string(),
        ),
        ("years = [16, 20]", "years = [3, 4]".into()),
        ("ppe_members = 100", format!("ppe_members = {MEMBERS}")),
        ("years = [2000, 2004]", "years = [2000, 2001]".into()),
        (
            "sigma_years = [1982, 2008]",
            "sigma_years = [2000, 2001]".into(),
        ),
        ("stop_years = 20", "stop_years = 4".into()),
        (
            "file = \"obs/fluxnet_mte.nc\"",
            "file = \"obs/fluxnet_mte_nobias.nc\"".into(),
        ),
    ];
    for (a, b) in reps {
        assert!(out.contains(a), "the demo config has no '{a}'");
        out = out.replace(a, &b);
    }
    std::fs::write(&cfg, out).unwrap();
    cfg
}

fn numbers(line: &str) -> Vec<f64> {
    line.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
        .filter_map(|s| s.parse().ok())
        .collect()
}

#[test]
fn identical_twin_recovers_the_truth_and_keeps_it_in_nroy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = twin_config(d);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let c = cfg.to_str().unwrap();
    run(&root.join("scripts/03_eof.rhai"), &["--config", c]);
    run(
        &root.join("scripts/04_emulate.rhai"),
        &["--config", c, "--quick"],
    );
    let truth = clmtune::demo::setup::TRUTH;
    let t: Vec<String> = truth.iter().map(|(_, v)| v.to_string()).collect();
    let results = d.join("results");
    let so = run(
        &root.join("tests/scripts/twin_check.rhai"),
        &["--out", results.to_str().unwrap(), "--truth", &t.join(",")],
    );
    let line = |key: &str| -> &str {
        so.lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no '{key}' line in:\n{so}"))
    };
    let names: Vec<&str> = truth.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        line("parameters"),
        format!("parameters {names:?}").replace('\'', "\""),
        "{so}"
    );
    let x = numbers(line("optimum"));
    assert_eq!(x.len(), 6, "{so}");
    // the sensitive parameters: stomatal slope, root conductance, interception
    for (i, (name, truth)) in truth.iter().enumerate() {
        if ["medlynslope", "kmax", "dint"].contains(name) {
            assert!(
                (x[i] - truth).abs() <= 0.1,
                "{name}: optimum {} vs truth {truth}\n{so}",
                x[i]
            );
        }
    }
    let imp = numbers(line("implausibility"));
    assert!(
        imp[0] < 3.0 && imp[1] < 3.0,
        "the truth is ruled out:\n{so}"
    );
    let costs = numbers(line("cost"));
    // the truth is near the optimum of the cost, far below the default run
    assert!(costs[0] <= costs[1] + 1e-9 && costs[1] < costs[2], "{so}");
    println!("{so}");
}
