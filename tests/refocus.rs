//! Iterative refocusing (`scripts/08_refocus.rhai`) end to end on a small demo experiment
//! (10-member ensembles, one analysed year, observations of 2000-2001, 2 modes): the NROY
//! fraction shrinks over the waves; the truth of the demo's unbiased observations stays in
//! NROY; a kill -9 during a wave and a rerun submit no member twice and redo no finished wave.

mod common;

use clmtune::calibrate::history_match::implausibility;
use clmtune::refocus::Refocus;
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn script() -> PathBuf {
    common::stage_script("08_refocus.rhai")
}

use common::{run_stage as run, stage_command as command};

/// The small demo experiment of tests/stages.rs; `twin` reads the unbiased observations
/// and writes its results elsewhere (the runs are shared).
fn config(d: &Path, twin: bool) -> PathBuf {
    let cfg = clmtune::demo::setup::ensure(d, (2000, 2001)).unwrap();
    let mut text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("years = [16, 20]", "years = [2, 2]")
        .replace("ppe_members = 100", "ppe_members = 10")
        .replace("years = [2000, 2004]", "years = [2000, 2001]")
        .replace("sigma_years = [1982, 2008]", "sigma_years = [2000, 2001]")
        .replace("modes = 3", "modes = 2");
    assert!(text.contains("file = \"obs/fluxnet_mte_nobias.nc\""));
    if twin {
        // its own results and its own case names: the archive is shared with the biased
        // run's, whose wave-2 cases have other scalings (refused, not taken for these)
        text = text
            .replace("dir = \"results\"", "dir = \"results_twin\"")
            .replace("name = \"demo\"", "name = \"twin\"");
    } else {
        // the biased observations: a structural error no scaling removes
        text = text.replace(
            "file = \"obs/fluxnet_mte_nobias.nc\"",
            "file = \"obs/fluxnet_mte.nc\"",
        );
    }
    let p = d.join(if twin { "twin.toml" } else { "small.toml" });
    std::fs::write(&p, text).unwrap();
    p
}

fn eof_stage(d: &Path, cfg: &Path) {
    run(d, &common::stage_script("03_eof.rhai"), cfg, &[]);
}

fn waves(dir: &Path) -> clmtune::table::Table {
    clmtune::table::Table::read(&dir.join("waves.csv")).unwrap()
}

#[test]
fn refocusing_shrinks_nroy_keeps_the_truth_and_resumes_after_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let small = config(d, false);
    eof_stage(d, &small);
    let out = d.join("results/refocus");

    // a dry run computes wave 1, says what wave 2 would do, and writes nothing
    let so = run(
        d,
        &script(),
        &small,
        &["--members", "4", "--candidates", "20000", "--dry-run"],
    );
    assert!(so.contains("wave 1: 10 members, NROY fraction"), "{so}");
    assert!(
        so.contains("dry run: wave 2 would choose 4 members inside this NROY region"),
        "{so}"
    );
    assert!(!d.join("archive/demo_refocus2_1").exists());
    assert!(!out.exists(), "a dry run wrote {}", out.display());

    // (a) at least two waves, the NROY fraction shrinking
    let so = run(
        d,
        &script(),
        &small,
        &[
            "--members",
            "4",
            "--waves",
            "3",
            "--candidates",
            "20000",
            "--ratio",
            "2",
        ],
    );
    let t = waves(&out);
    assert_eq!(
        &t.columns()[..5],
        ["wave", "members", "nroy_fraction", "r2", "best_cost"]
    );
    assert_eq!(t.numbers("wave").unwrap(), [1.0, 2.0, 3.0], "{so}");
    assert_eq!(t.numbers("members").unwrap(), [10.0, 4.0, 4.0]);
    assert_eq!(t.numbers("training_members").unwrap(), [10.0, 14.0, 18.0]);
    let f = t.numbers("nroy_fraction").unwrap().to_vec();
    assert!(f[0] > 0.0 && f[0] <= 1.0, "{f:?}");
    assert!(f[1] < f[0] && f[2] < f[1], "NROY shrinks: {f:?}\n{so}");
    let r2 = t.numbers("r2").unwrap();
    assert!(
        r2[0].is_nan() && r2[1].is_finite() && r2[1] <= 1.0,
        "{r2:?}"
    );
    assert!(out.join("nroy_fraction.png").exists());
    let skill = clmtune::table::Table::read(&out.join("skill.csv")).unwrap();
    assert_eq!(skill.len(), 2 * 2 * 2, "waves 2-3 x GPP, LHF x 2 modes");
    // the waves.csv r2 is the mean of the per-variable numbers of skill.csv
    let s = skill.numbers("r2").unwrap();
    let mean2 = s[..4].iter().sum::<f64>() / 4.0;
    assert!((mean2 - r2[1]).abs() < 1e-12, "{mean2} vs {}", r2[1]);
    // every new member lies in the NROY region of the wave before it
    let rf = Refocus::load(&out).unwrap().unwrap();
    for k in 1..3 {
        let x = &rf.added[k].x;
        for w in &rf.waves[..k] {
            let i = implausibility(&w.cost, &w.cost.emulate(x.view()).unwrap(), &w.settings);
            assert!(i.iter().all(|&v| v < w.settings.cutoff), "wave {k}: {i:?}");
        }
    }
    // the file's implausibility column is that of the saved emulators (rebuilt exactly)
    let w3 = &rf.waves[2];
    let xk = w3.kept.x.slice(ndarray::s![..5, ..]).to_owned();
    let again = implausibility(&w3.cost, &w3.cost.emulate(xk.view()).unwrap(), &w3.settings);
    let saved = w3.kept.implausibility.as_ref().unwrap();
    for i in 0..5 {
        assert!((again[i] - saved[i]).abs() < 1e-9 * saved[i].max(1.0));
    }

    // (c) kill -9 during wave 4 (through the fake CIME, submissions slowed down), rerun:
    // no member submitted twice, finished waves not redone
    let mtimes = |k: usize| {
        std::fs::metadata(out.join(format!("wave_{k}/nroy_wave{k}.csv")))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before: Vec<_> = (1..=3).map(mtimes).collect();
    let text = std::fs::read_to_string(&small).unwrap();
    let cime_cfg = d.join("cime.toml");
    std::fs::write(
        &cime_cfg,
        common::with_backend(&text, &common::cime_backend(&d.join("cases"))),
    )
    .unwrap();
    let args = [
        "--members",
        "4",
        "--waves",
        "4",
        "--candidates",
        "20000",
        "--ratio",
        "2",
    ];
    let child = command(d, &script(), &cime_cfg, &args)
        .env("FAKE_SUBMIT_SLEEP", "0.5")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let subs = d.join("submissions");
    let killed = common::kill_after_submissions(child, d, 1, 300);
    assert!(killed < 4, "killed too late: {killed} submitted");
    assert!(!out.join("wave_4/wave.json").exists());
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let so = run(d, &script(), &cime_cfg, &args);
    assert!(so.contains("resuming: 3 finished waves reused"), "{so}");
    let text = std::fs::read_to_string(&subs).unwrap();
    let mut cases: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    cases.sort();
    let want: Vec<String> = (1..=4).map(|m| format!("demo_refocus4_{m}")).collect();
    assert_eq!(cases, want, "each member submitted exactly once:\n{text}");
    let after: Vec<_> = (1..=3).map(mtimes).collect();
    assert_eq!(before, after, "finished waves are not redone");
    let t = waves(&out);
    assert_eq!(t.numbers("wave").unwrap(), [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(&t.numbers("nroy_fraction").unwrap()[..3], &f[..]);
    // the members of wave 4 are those its saved design chose
    let design = clmtune::table::Table::read(&out.join("wave_4/design.csv")).unwrap();
    let rf = Refocus::load(&out).unwrap().unwrap();
    assert_eq!(
        design.to_array(&rf.parameters).unwrap(),
        rf.added[3].x,
        "design reused"
    );

    // (b) the twin experiment: observations without bias; the truth stays in NROY
    let twin = config(d, true);
    eof_stage(d, &twin);
    let so = run(
        d,
        &script(),
        &twin,
        &[
            "--members",
            "4",
            "--waves",
            "3",
            "--candidates",
            "20000",
            "--ratio",
            "2",
        ],
    );
    let tout = d.join("results_twin/refocus");
    let rf = Refocus::load(&tout).unwrap().unwrap();
    assert!(rf.waves.len() >= 2, "{so}");
    let truth: Vec<f64> = rf
        .parameters
        .iter()
        .map(|p| {
            clmtune::demo::setup::TRUTH
                .iter()
                .find(|(n, _)| n == p)
                .unwrap()
                .1
        })
        .collect();
    let x = ndarray::Array2::from_shape_vec((1, truth.len()), truth).unwrap();
    for (k, w) in rf.waves.iter().enumerate() {
        let i = implausibility(&w.cost, &w.cost.emulate(x.view()).unwrap(), &w.settings)[0];
        eprintln!("twin wave {}: implausibility of the truth {i:.3}", k + 1);
        assert!(
            i < w.settings.cutoff,
            "wave {}: the truth is ruled out ({i})",
            k + 1
        );
    }
}
