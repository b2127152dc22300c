//! Ensemble Kalman calibration (`scripts/09_kalman.rhai`) end to end on a small demo twin
//! (10-member PPE, one analysed year, observations of 2000-2001 without bias, 2 modes): UKI
//! with 13 demo runs per iteration lowers the misfit; a kill -9 during an iteration's
//! submissions (through the fake CIME) and a rerun submit every member once and give the
//! `iterations.csv` of a clean run; a member that fails is left out of the update, as said.

mod common;

use common::{run_stage as run, stage_command as command, stage_script as script};
use std::process::Stdio;

#[test]
fn uki_lowers_the_misfit_and_resumes_after_kill_9_as_if_never_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // the small demo experiment; the demo config's observations are the unbiased ones
    let small = common::small_experiment(d);
    assert!(std::fs::read_to_string(&small)
        .unwrap()
        .contains("file = \"obs/fluxnet_mte_nobias.nc\""));
    run(d, &script("03_eof.rhai"), &small, &[]);
    let args = ["--iterations", "3"];

    // a dry run says what iteration 1 would run and writes nothing
    let so = run(d, &script("09_kalman.rhai"), &small, &["--dry-run"]);
    assert!(
        so.contains("dry run: iteration 1 would run 13 members as demo_kalman_uki1_{member}"),
        "{so}"
    );
    assert!(!d.join("results/kalman/uki").exists());

    // (a) a clean run through the local backend (the demo model)
    let so = run(d, &script("09_kalman.rhai"), &small, &args);
    assert!(so.contains("stop: 3 iterations, the budget"), "{so}");
    let clean = std::fs::read_to_string(d.join("results/kalman/uki/iterations.csv")).unwrap();
    let t = clmtune::table::Table::read(&d.join("results/kalman/uki/iterations.csv")).unwrap();
    assert_eq!(t.numbers("iteration").unwrap(), [1.0, 2.0, 3.0]);
    assert_eq!(t.numbers("members").unwrap(), [13.0, 13.0, 13.0]);
    let misfit = t.numbers("misfit").unwrap();
    assert!(misfit[2] < misfit[0], "the misfit falls: {misfit:?}\n{so}");
    let members = clmtune::table::Table::read(&d.join("results/kalman/uki/members.csv")).unwrap();
    assert_eq!(members.len(), 39);
    assert!(members.columns().contains(&"GPP_2".to_string()));
    // the first member of each iteration is the estimate of the one before (UKI's centre)
    let med = members.numbers("medlynslope").unwrap();
    let est = t.numbers("medlynslope").unwrap();
    assert!((med[13] - est[0]).abs() < 1e-12 && (med[26] - est[1]).abs() < 1e-12);
    assert!(d.join("results/kalman/uki/kalman.png").exists());

    // (b) the same calibration through the fake CIME into another archive and results
    // folder (same case names: the demo model's weather is seeded by the case name), killed
    // during iteration 2's submissions, then run again
    let text = std::fs::read_to_string(&small).unwrap();
    let text = text
        .replace("root = \"archive\"", "root = \"archive_cime\"")
        .replace("dir = \"results\"", "dir = \"results_cime\"");
    assert!(text.contains("archive_cime") && text.contains("results_cime"));
    let cime_cfg = d.join("cime.toml");
    std::fs::write(
        &cime_cfg,
        common::with_backend(&text, &common::cime_backend(&d.join("cases_cime"))),
    )
    .unwrap();
    copy_dir(&d.join("results/eof"), &d.join("results_cime/eof"));
    let log = std::fs::File::create(d.join("killed.log")).unwrap();
    let child = command(d, &script("09_kalman.rhai"), &cime_cfg, &args)
        .env("FAKE_SUBMIT_SLEEP", "0.3")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let killed = common::kill_after_submissions(child, d, 16, 600);
    assert!(killed < 26, "killed too late: {killed} submitted");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let so = run(d, &script("09_kalman.rhai"), &cime_cfg, &args);
    assert!(so.contains("resuming: 1 finished iterations"), "{so}");
    let text = std::fs::read_to_string(d.join("submissions")).unwrap();
    let mut cases: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    cases.sort();
    let mut want: Vec<String> = (1..=3)
        .flat_map(|i| (1..=13).map(move |m| format!("demo_kalman_uki{i}_{m}")))
        .collect();
    want.sort();
    assert_eq!(cases, want, "each member submitted exactly once:\n{text}");
    let resumed =
        std::fs::read_to_string(d.join("results_cime/kalman/uki/iterations.csv")).unwrap();
    assert_eq!(resumed, clean, "iterations.csv equals the clean run's");

    // (c) a member that fails (the demo model's test hook): the update goes on without it
    // and says so; its row in members.csv is marked failed, without PCs
    let text = std::fs::read_to_string(&small)
        .unwrap()
        .replace("root = \"archive\"", "root = \"archive_fail\"")
        .replace("dir = \"results\"", "dir = \"results_fail\"")
        .replace("cases_dir = \"cases\"", "cases_dir = \"cases_fail\"");
    assert!(text.contains("cases_fail"));
    let fail_cfg = d.join("fail.toml");
    std::fs::write(&fail_cfg, text).unwrap();
    copy_dir(&d.join("results/eof"), &d.join("results_fail/eof"));
    let out = command(
        d,
        &script("09_kalman.rhai"),
        &fail_cfg,
        &["--iterations", "1"],
    )
    .env(clmtune::demo::run::FAIL_HOOK, "demo_kalman_uki1_5")
    .output()
    .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        so.contains(
            "1 failed (5 = demo_kalman_uki1_5): each direction used its mirror member alone"
        ),
        "{so}"
    );
    let t = clmtune::table::Table::read(&d.join("results_fail/kalman/uki/iterations.csv")).unwrap();
    assert_eq!(t.numbers("failed").unwrap(), [1.0]);
    let m = clmtune::table::Table::read(&d.join("results_fail/kalman/uki/members.csv")).unwrap();
    assert_eq!(m.numbers("failed").unwrap()[4], 1.0);
    assert!(m.numbers("GPP_1").unwrap()[4].is_nan());
}

/// Copies the files of a folder (not its subfolders) into another, made if need be.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
    }
}
