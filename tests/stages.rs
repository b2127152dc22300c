//! The stage scripts end to end on a small demo experiment (10-member ensembles, one analysed
//! year after one spun up, observations of 2000-2001): every contract file is written with
//! the rows it should have.

mod common;
use common::OutputAlone;

use std::path::Path;
use std::process::Command;

fn run(script: &str, cfg: &Path) -> String {
    run_with(script, cfg, &[])
}

fn run_with(script: &str, cfg: &Path, more: &[&str]) -> String {
    run_env(script, cfg, more, &[])
}

/// [`run_with`] with environment variables set for the run.
fn run_env(script: &str, cfg: &Path, more: &[&str], env: &[(&str, &str)]) -> String {
    let s = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let out = Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .arg("run")
        .arg(&s)
        .arg("--")
        .arg("--config")
        .arg(cfg)
        .args(more)
        .envs(env.iter().copied())
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

/// Asserts that the PNG `p` records a text chunk `key` containing `needle` (what the figure
/// says: its title, labels, legend, footnote; see `clmtune::plot::png_text`).
fn png_says(p: &Path, key: &str, needle: &str) {
    let t = clmtune::plot::png_text(p).unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
    assert!(
        t.iter().any(|(k, v)| k == key && v.contains(needle)),
        "{}: no {key} with {needle:?} in {t:?}",
        p.display()
    );
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
    let cfg = common::small_experiment(d);

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
    // Fig. 1: the six calibrated parameters on one colour scale (was the proposed ones,
    // each on its own scale)
    let panels: Vec<String> = clmtune::plot::png_text(&s.join("fig1_pe_GPP.png"))
        .unwrap()
        .into_iter()
        .filter(|(k, _)| k == "Panel")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(panels.len(), 6, "{panels:?}");
    // every stage refreshes the report: after 01 alone it shows 01's figures
    let html =
        std::fs::read_to_string(d.join("results/report.html")).expect("report.html after 01");
    assert!(
        html.contains("sensitivity/fig1_pe_GPP.png"),
        "report after 01"
    );
    let scale = |p: &str| p.split(": colour ").nth(1).map(str::to_string);
    assert!(
        panels[0].starts_with("(a) medlynslope: colour 0 to "),
        "{panels:?}"
    );
    assert!(
        panels
            .iter()
            .all(|p| scale(p).is_some() && scale(p) == scale(&panels[0])),
        "one shared scale: {panels:?}"
    );
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
    assert!(so.contains("GPP (gC/m^2/s):"), "{so}");
    check_eof_folder(&d.join("results/eof"), &cfg);

    // every CSV of the results folder reads as a Table, with its columns typed
    let mut n = 0;
    let mut stack = vec![d.join("results")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "csv") {
                let t = clmtune::table::Table::read(&p).unwrap_or_else(|e| panic!("{e:#}"));
                assert!(!t.is_empty(), "{}", p.display());
                n += 1;
            }
        }
    }
    assert!(n >= 12, "{n} CSV files");
    let pcs = clmtune::table::Table::read(&d.join("results/eof/pcs.csv")).unwrap();
    assert_eq!(pcs.column("member").unwrap().kind(), "numbers");
    assert_eq!(pcs.column("case").unwrap().kind(), "text");
    let ranks = std::fs::read_to_string(d.join("results/sensitivity/ranks.csv")).unwrap();
    assert!(!ranks.contains(".0,"), "ranks are integers: {ranks}");

    // 04: emulators from the saved EOF stage, compared on every split
    let so = run_with("04_emulate.rhai", &cfg, &["--quick"]);
    assert!(so.contains("GPP: calibration uses "), "{so}");
    assert!(
        so.contains("(chosen by ppe_test): on ppe_test r^2 (1 - SSE/SST) "),
        "{so}"
    );
    assert!(so.contains(" sigma; network ["), "{so}");
    let em = d.join("results/emulator");
    let m = clmtune::table::Table::read(&em.join("metrics.csv")).unwrap();
    assert_eq!(
        m.columns(),
        [
            "emulator",
            "variable",
            "mode",
            "split",
            "mse",
            "r2",
            "coverage",
            "r2_score",
            "rmse_sigma"
        ]
    );
    // the choice (issue 27): per variable one row per candidate, one chosen, by the second
    // ensemble, the best mean r2_score there
    let ch = clmtune::table::Table::read(&em.join("choice.csv")).unwrap();
    assert_eq!(
        ch.columns()[..5],
        ["variable", "emulator", "split", "r2", "rmse_sigma"]
    );
    assert_eq!(ch.len(), 10);
    for v in ["GPP", "LHF"] {
        let c = ch
            .filter(&[("variable", clmtune::table::Value::Text(v.into()))])
            .unwrap();
        let chosen = match c.column("chosen").unwrap() {
            clmtune::table::Column::Text(t) => t.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(chosen.iter().filter(|x| *x == "true").count(), 1, "{v}");
        let r2 = c.numbers("r2").unwrap();
        let i = chosen.iter().position(|x| x == "true").unwrap();
        assert!(r2.iter().all(|&x| x <= r2[i]), "{v}: {r2:?}");
        assert!(c
            .numbers("rmse_sigma")
            .unwrap()
            .iter()
            .all(|x| x.is_finite() && *x > 0.0));
    }
    // 5 emulators x 2 variables x 2 modes x (train, validation, test, ppe_test)
    assert_eq!(m.len(), 80);
    use clmtune::table::Value;
    let names: clmtune::table::Column = m
        .filter(&[
            ("variable", Value::Text("GPP".into())),
            ("mode", Value::Number(1.0)),
            ("split", Value::Text("test".into())),
        ])
        .unwrap()
        .column("emulator")
        .unwrap()
        .clone();
    assert_eq!(
        names,
        clmtune::table::Column::Text(
            ["nn", "nn_ensemble", "gp", "ridge", "quadratic_ridge"]
                .map(String::from)
                .to_vec()
        )
    );
    let mse = m.numbers("mse").unwrap();
    let r2 = m.numbers("r2").unwrap();
    let cov = m.numbers("coverage").unwrap();
    assert!(mse.iter().all(|&x| x.is_finite() && x >= 0.0), "{mse:?}");
    assert!(
        r2.iter()
            .all(|&x| x.is_nan() || (-1e-12..=1.0 + 1e-12).contains(&x)),
        "{r2:?}"
    );
    assert!(cov.iter().all(|&x| (0.0..=1.0).contains(&x)), "{cov:?}");
    for name in ["nn", "nn_ensemble", "gp", "ridge", "quadratic_ridge"] {
        for v in ["GPP", "LHF"] {
            let f = clmtune::emulate::Fitted::load(&em.join(format!("{name}_{v}.json"))).unwrap();
            assert_eq!(f.variable.as_deref(), Some(v));
            assert_eq!(f.parameters.len(), 6);
            assert_eq!(f.training_cases.len(), 6, "60 % of 10 members");
        }
    }
    assert!(em.join("fit_LHF_2_ppe_test.png").exists());

    // 05: importance, partial dependence and Sobol indices of every emulator
    run("05_interpret.rhai", &cfg);
    let t = |f: &str| clmtune::table::Table::read(&em.join(f)).unwrap();
    // 5 emulators x 2 variables x 2 modes x 6 parameters
    let imp = t("importance.csv");
    assert_eq!(imp.len(), 120);
    assert!(imp
        .numbers("mse_increase")
        .unwrap()
        .iter()
        .all(|x| x.is_finite()));
    let pd = t("partial_dependence.csv");
    assert_eq!(pd.len(), 1200);
    // rows: value by value, two modes each
    let values: Vec<f64> = pd.numbers("value").unwrap()[..20]
        .iter()
        .step_by(2)
        .copied()
        .collect();
    assert_eq!(values, (0..10).map(|i| i as f64 / 9.0).collect::<Vec<_>>());
    let sob = t("sobol.csv");
    assert_eq!(
        sob.columns(),
        [
            "emulator",
            "variable",
            "mode",
            "parameter",
            "first_order",
            "total"
        ]
    );
    assert_eq!(sob.len(), 120);
    // a linear ridge has no interactions: first-order = total up to Monte Carlo error
    let lin = sob
        .filter(&[("emulator", clmtune::table::Value::Text("ridge".into()))])
        .unwrap();
    for (a, b) in lin
        .numbers("first_order")
        .unwrap()
        .iter()
        .zip(lin.numbers("total").unwrap())
    {
        assert!((a - b).abs() < 0.05, "{a} vs {b}");
    }
    assert!(
        em.join("partial_dependence_GPP_2.png").exists()
            && em.join("importance_LHF_1.png").exists()
    );
    // ensemble inflation (Fig. S10): 9 quantiles per emulator, variable and mode; the
    // ensemble's column is the same for every emulator, the median the middle of 10 PCs
    let inf = t("inflation.csv");
    assert_eq!(
        inf.columns(),
        [
            "emulator",
            "variable",
            "mode",
            "probability",
            "ensemble",
            "emulated"
        ]
    );
    let n_emulators = sob.len() / (2 * 2 * 6);
    assert_eq!(inf.len(), n_emulators * 2 * 2 * 9);
    assert!(inf
        .numbers("emulated")
        .unwrap()
        .iter()
        .all(|x| x.is_finite()));
    // the ensemble median of GPP PC1 is the mean of the middle two of the 10 PCs in pcs.csv
    let pcs = clmtune::table::Table::read(&d.join("results/eof/pcs.csv"))
        .unwrap()
        .filter(&[
            ("ensemble", Value::Text("ppe".into())),
            ("variable", Value::Text("GPP".into())),
            ("mode", Value::Number(1.0)),
        ])
        .unwrap();
    let mut u = pcs.numbers("pc").unwrap().to_vec();
    assert_eq!(u.len(), 10);
    u.sort_by(f64::total_cmp);
    let median = inf
        .filter(&[
            ("emulator", Value::Text("nn".into())),
            ("variable", Value::Text("GPP".into())),
            ("mode", Value::Number(1.0)),
            ("probability", Value::Number(0.5)),
        ])
        .unwrap()
        .numbers("ensemble")
        .unwrap()[0];
    assert!(
        (median - (u[4] + u[5]) / 2.0).abs() < 1e-9 * u[9].abs().max(1.0),
        "{median} vs {u:?}"
    );
    assert!(em.join("inflation_GPP.png").exists() && em.join("inflation_LHF.png").exists());

    // the scripted Eq. 6 equals the built-in (tests/scripts/cost_check.rhai asserts it)
    let check = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/cost_check.rhai");
    let out = Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .arg("run")
        .arg(&check)
        .arg("--")
        .arg("--out")
        .arg(d.join("results"))
        .output_alone()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && so.starts_with("ok "),
        "{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Fig. 6c-d: stage.observed(v) is the map of the stage's RMSEs
    // (tests/scripts/observed_check.rhai asserts it), and rmse_VAR.csv has every member
    let check = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/observed_check.rhai");
    let out = Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .arg("run")
        .arg(&check)
        .arg("--")
        .arg("--out")
        .arg(d.join("results"))
        .output_alone()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && so.starts_with("ok observed"),
        "{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = clmtune::table::Table::read(&em.join("rmse_GPP.csv")).unwrap();
    assert_eq!(r.columns(), ["case", "as_run", "from_modes", "emulated"]);
    assert_eq!(r.len(), 10);
    assert!(r
        .numbers("emulated")
        .unwrap()
        .iter()
        .all(|x| x.is_finite() && *x > 0.0));
    assert!(em.join("rmse_LHF.png").exists());
    // the figures' texts, as each PNG records them (issue 32's figure defects)
    let res = em.parent().unwrap();
    // Fig. 6c-d in the paper's units, as Fig. 6a-b (was gC/m^2/s with 1e-5 ticks)
    png_says(&em.join("rmse_GPP.png"), "X label", "gC m-2 d-1");
    png_says(&em.join("rmse_GPP.png"), "Y label", "gC m-2 d-1");
    png_says(&res.join("eof/rmse_GPP.png"), "Legend", "r² = ");
    // Fig. 6's "x": the default run in 6a-b and, its scalings known, in 6c-d
    png_says(&res.join("eof/rmse_GPP.png"), "Legend", "default run");
    png_says(&em.join("rmse_GPP.png"), "Legend", "default run");
    // Fig. 3: the percent variance of each mode
    png_says(&res.join("eof/pc_GPP_1.png"), "Title", "% of variance");
    // Figs. 3 and 4 as the paper's multi-panel figures: variables x modes
    png_says(&res.join("eof/fig3_pcs.png"), "Panel", "(a) GPP PC1 (");
    png_says(&res.join("eof/fig4_eofs.png"), "Panel", "(a) GPP EOF 1 (");
    // synthetic observations say so on every figure
    for f in [
        "eof/pc_GPP_1.png",
        "emulator/rmse_GPP.png",
        "sensitivity/pattern_correlation.png",
    ] {
        png_says(
            &res.join(f),
            "Comment",
            "synthetic identical-twin observations",
        );
    }
    png_says(
        &em.join("importance_GPP_1.png"),
        "Title",
        "mean and sd of 10 shuffles",
    );

    // 06: calibration on the emulators
    let so = run_with("06_calibrate.rhai", &cfg, &["--quick"]);
    assert!(so.contains("NROY fraction"), "{so}");
    let c = d.join("results/calibrate");
    let hm = clmtune::table::Table::read(&c.join("history_match.csv")).unwrap();
    assert_eq!(
        hm.columns(),
        [
            "rank",
            "cost",
            "medlynslope",
            "dleaf",
            "kmax",
            "fff",
            "dint",
            "baseflow_scalar"
        ]
    );
    assert_eq!(hm.len(), 1000);
    let cost = hm.numbers("cost").unwrap();
    assert!(cost.iter().all(|c| c.is_finite() && *c >= 0.0));
    assert!(cost.windows(2).all(|w| w[0] <= w[1]), "sorted by cost");
    for p in ["medlynslope", "kmax"] {
        assert!(hm
            .numbers(p)
            .unwrap()
            .iter()
            .all(|x| (0.0..1.0).contains(x)));
    }
    let w1 = clmtune::table::Table::read(&c.join("nroy_wave1.csv")).unwrap();
    assert!(w1
        .numbers("implausibility")
        .unwrap()
        .iter()
        .all(|i| *i < 3.0));
    assert!(c.join("history_match_pairs.png").exists());
    let opt = clmtune::table::Table::read(&c.join("optimum.csv")).unwrap();
    assert_eq!(
        opt.column("method").unwrap(),
        &clmtune::table::Column::Text(
            [
                "de",
                "dual_annealing",
                "lbfgsb",
                "nelder_mead",
                "particle_swarm"
            ]
            .map(String::from)
            .to_vec()
        )
    );
    let best = opt.numbers("cost").unwrap();
    assert!(best.iter().all(|c| c.is_finite() && *c >= 0.0));
    // optimum.csv minimises the error-aware cost; Eq. 6's optimum (the history match's
    // cost) is beside it: DE evaluates far more candidates than the 1000 best of history
    // matching reach, so its Eq. 6 optimum is no worse than the best of 100,000 candidates
    let eq6 = clmtune::table::Table::read(&c.join("eq6/optimum.csv")).unwrap();
    let best6 = eq6.numbers("cost").unwrap();
    let low6 = best6.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(low6 <= cost[0] + 1e-9, "{low6} vs {}", cost[0]);
    for p in [
        "medlynslope",
        "dleaf",
        "kmax",
        "fff",
        "dint",
        "baseflow_scalar",
    ] {
        assert!(opt
            .numbers(p)
            .unwrap()
            .iter()
            .all(|x| (0.0..=1.0).contains(x)));
    }
    let post = clmtune::table::Table::read(&c.join("posterior.csv")).unwrap();
    assert_eq!(post.len(), 6);
    let (lo, mid, hi) = (
        post.numbers("p05").unwrap(),
        post.numbers("p50").unwrap(),
        post.numbers("p95").unwrap(),
    );
    for i in 0..6 {
        assert!(0.0 <= lo[i] && lo[i] <= mid[i] && mid[i] <= hi[i] && hi[i] <= 1.0);
    }
    let acc = post.numbers("acceptance").unwrap()[0];
    assert!(acc > 0.05 && acc < 0.95, "acceptance {acc}");
    assert!(c.join("posterior_pairs.png").exists());
    // the MCMC ran until converged (or says it did not), then what the data constrain
    assert!(
        so.contains("MCMC converged after") || so.contains("did not converge"),
        "{so}"
    );
    assert!(c.join("posterior_samples.csv").exists());
    let id = clmtune::table::Table::read(&c.join("identifiability.csv")).unwrap();
    assert_eq!(id.len(), 6);
    match id.column("status").unwrap() {
        clmtune::table::Column::Text(v) => assert!(
            v.iter().all(|s| [
                "constrained",
                "bounded below",
                "bounded above",
                "unconstrained"
            ]
            .contains(&s.as_str())),
            "{v:?}"
        ),
        c => panic!("status {c:?}"),
    }
    assert!(c.join("identifiability.png").exists());
    assert!(c.join("rmse_GPP.png").exists() && c.join("rmse_LHF.png").exists());
    assert!(so.contains("LHF: RMSE of the kept sets"), "{so}");
    // Fig. 6e: Eq. 6 emulated against as run; Fig. 9 with the optimum
    png_says(
        &c.join("fig6e_eq6.png"),
        "X label",
        "Eq. 6 of the member as run",
    );
    png_says(
        &c.join("history_match_pairs.png"),
        "Title",
        "the optimum red",
    );

    // demo.rhai: the whole workflow reuses the stages just run (same script, config,
    // options and inputs), runs 02 and 07, and ends with the summary
    let so = run_with("demo.rhai", &cfg, &["--quick"]);
    for stage in [
        "01_sensitivity",
        "03_eof",
        "04_emulate",
        "05_interpret",
        "06_calibrate",
    ] {
        assert!(
            so.contains(&format!("=== {stage}.rhai: up to date")),
            "{stage} not reused:\n{so}"
        );
    }
    assert!(so.contains("=== 07_test_case.rhai ("), "{so}");
    for line in [
        "SUMMARY",
        "4. calibration (06)",
        "6. the test case (07), Table 2",
    ] {
        assert!(so.contains(line), "{line}:\n{so}");
    }
    // every file of the contract, as after a demo run from nothing
    check_contract(&d.join("results"));

    // 07 judges with the cost 06 saved (calibrate/cost.json), and refuses it, saying what
    // changed, once the stage files are not the ones it came from: here the EOF stage's
    // observed GPP PC1 as if 03 had been run again on other observations
    let cj = c.join("cost.json");
    let saved = std::fs::read_to_string(&cj).unwrap();
    let mut rec: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(rec["form"], "nll");
    let o = rec["targets"]["GPP"]["observed"][0].as_f64().unwrap();
    rec["targets"]["GPP"]["observed"][0] = serde_json::json!(o + 0.25);
    std::fs::write(&cj, serde_json::to_string(&rec).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .arg("run")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/07_test_case.rhai"))
        .args(["--", "--config"])
        .arg(&cfg)
        .arg("--dry-run")
        .output_alone()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains("cost.json no longer matches the stages it came from")
            && all.contains("GPP's target observed of mode 1 was"),
        "{all}"
    );
    std::fs::write(&cj, &saved).unwrap();
    run_with("07_test_case.rhai", &cfg, &["--dry-run"]);

    // issue 28: the dry runs of 03-06 open what each stage reads (03: the members in the
    // archive, one case's history files, the observations; 04-06: the saved stages) and
    // write nothing: no file of the results folder is added, removed or changed
    let before = listing(&d.join("results"));
    for (script, says) in [
        ("03_eof.rhai", "dry run: GPP, LHF read from case demo_LHC_1"),
        (
            "04_emulate.rhai",
            "the EOF stage of GPP, LHF (10 members, 2 modes)",
        ),
        ("05_interpret.rhai", "emulators (calibration uses GPP "),
        ("06_calibrate.rhai", "emulators (calibration uses GPP "),
    ] {
        let so = run_with(script, &cfg, &["--dry-run"]);
        assert!(so.contains(says), "{script}: {says}\n{so}");
    }
    assert!(
        listing(&d.join("results")) == before,
        "a dry run wrote in results/"
    );
    // 07's dry run reports every problem at once: a config naming another emulator than
    // 04 chose, and the saved cost made with other targets
    let named = cfg.with_file_name("named.toml");
    std::fs::write(
        &named,
        std::fs::read_to_string(&cfg).unwrap() + "\n[calibration]\nemulator = \"ridge\"\n",
    )
    .unwrap();
    std::fs::write(&cj, serde_json::to_string(&rec).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .arg("run")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/07_test_case.rhai"))
        .args(["--", "--config"])
        .arg(&named)
        .arg("--dry-run")
        .output_alone()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("dry run: 3 problem(s) with what this stage reads"),
        "{err}"
    );
    assert!(
        err.contains("names ridge for GPP") && err.contains("names ridge for LHF"),
        "{err}"
    );
    assert!(err.contains("cost.json no longer matches"), "{err}");
    std::fs::write(&cj, &saved).unwrap();

    // issue 28: a config for another archive than the EOF stage's is refused, dry run too
    // (07 read the new runs from the stage's archive whatever the config said)
    let other = cfg.with_file_name("other_archive.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("root = \"archive\""));
    std::fs::write(
        &other,
        text.replace("root = \"archive\"", "root = \"archive2\""),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .arg("run")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/07_test_case.rhai"))
        .args(["--", "--config"])
        .arg(&other)
        .arg("--dry-run")
        .output_alone()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("reads the archive") && err.contains("but the EOF stage was made from"),
        "{err}"
    );
}

/// Every file under `dir` with its size and modification time, sorted.
fn listing(dir: &Path) -> Vec<(std::path::PathBuf, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else {
                out.push((p, m.len(), m.modified().unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Parses a results CSV written by clmtune (no quoted cells here) into header and rows.
fn table(p: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn col(h: &[String], name: &str) -> usize {
    h.iter()
        .position(|x| x == name)
        .unwrap_or_else(|| panic!("no column {name} in {h:?}"))
}

/// The numbers of the EOF stage's files agree with each other and with a recomputation.
fn check_eof_folder(e: &Path, cfg: &Path) {
    use clmtune::eof::stage::{EofStage, Settings};
    let modes = 2;
    // variance fractions: every mode (10 members -> 10 modes), summing to 1 per variable
    let (h, vf) = table(&e.join("variance_fraction.csv"));
    assert_eq!(vf.len(), 2 * 10, "{vf:?}");
    let fraction = |v: &str, k: usize| -> f64 {
        vf.iter()
            .find(|r| r[0] == v && r[1] == k.to_string())
            .map(|r| r[col(&h, "fraction")].parse().unwrap())
            .unwrap()
    };
    let total: f64 = (1..=10).map(|k| fraction("GPP", k)).sum();
    assert!((total - 1.0).abs() < 1e-12, "{total}");

    // pcs.csv: member is a number, case the case name; 2 ensembles x 10 x 2 variables x 2 modes
    let (h, pcs) = table(&e.join("pcs.csv"));
    assert_eq!(h, ["ensemble", "member", "case", "variable", "mode", "pc"]);
    assert_eq!(pcs.len(), 80);
    assert!(pcs
        .iter()
        .any(|r| r[..5] == ["ppe_test", "4", "demo_LHC_v2_4", "LHF", "2"]));

    // targets.csv
    let (th, targets) = table(&e.join("targets.csv"));
    assert_eq!(
        th,
        ["variable", "mode", "u_obs", "sigma", "lambda", "u_default"]
    );
    assert_eq!(targets.len(), 4);
    let target = |v: &str, k: usize, c: &str| -> f64 {
        targets
            .iter()
            .find(|r| r[0] == v && r[1] == k.to_string())
            .map(|r| r[col(&th, c)].parse().unwrap())
            .unwrap()
    };
    let (ph, proj) = table(&e.join("projections.csv"));
    // (obs, default, obs_2000, obs_2001) x 2 variables x 2 modes
    assert_eq!(proj.len(), 16, "{proj:?}");
    assert!(
        proj.iter().all(|r| !r[3].is_empty()),
        "every projection defined: {proj:?}"
    );

    let config = clmtune::config::Config::load(cfg).unwrap();
    let settings = Settings::from_config(&config).unwrap();
    for v in ["GPP", "LHF"] {
        let (eof, _) = clmtune::eof::Eof::load_named(&e.join("eof.nc"), v).unwrap();
        let u = eof.pcs(modes).unwrap();
        // saved PCs equal U of the saved eof.nc (bit for bit: both are shortest round-trip)
        for r in pcs.iter().filter(|r| r[0] == "ppe" && r[3] == v) {
            let m: usize = r[1].parse().unwrap();
            let k: usize = r[4].parse().unwrap();
            assert_eq!(r[5].parse::<f64>().unwrap(), u[[m - 1, k - 1]], "{r:?}");
        }
        // lambda equals variance_fraction.csv
        for k in 1..=modes {
            assert_eq!(target(v, k, "lambda"), fraction(v, k), "{v} {k}");
        }
        // sigma = std (ddof 0) of the obs_YYYY rows
        for k in 1..=modes {
            let ys: Vec<f64> = proj
                .iter()
                .filter(|r| r[0].starts_with("obs_") && r[1] == v && r[2] == k.to_string())
                .map(|r| r[col(&ph, "pc")].parse().unwrap())
                .collect();
            assert_eq!(ys.len(), 2);
            let m = ys.iter().sum::<f64>() / 2.0;
            let sd = (ys.iter().map(|y| (y - m).powi(2)).sum::<f64>() / 2.0).sqrt();
            let s = target(v, k, "sigma");
            assert!(
                (s - sd).abs() <= 1e-12 * sd.abs().max(1e-300),
                "{v} {k}: {s} vs {sd}"
            );
            assert!(s > 0.0);
        }
        // U_obs = the observed mean of 2000-2001, regridded, projected with the saved EOFs
        let spec = settings.variables.iter().find(|x| x.name == v).unwrap();
        let out = clmtune::field::read::Output::new(v, &spec.model).unwrap();
        let case =
            clmtune::archive::find_cases(&settings.archive_root, &["demo_default".to_string()])
                .unwrap();
        let model =
            &clmtune::field::read::read_ensemble(&case, &[out], settings.years, true).unwrap()[0];
        let obs = clmtune::field::obs::read_obs(
            &settings.obs_file,
            &spec.obs,
            Some((2000, 2001)),
            model.grid.clone(),
        )
        .unwrap()
        .convert(&model.units)
        .unwrap();
        let mean = obs
            .time_mean()
            .unwrap()
            .values
            .into_dimensionality::<ndarray::Ix2>()
            .unwrap();
        let u_obs = eof
            .project(&mean.insert_axis(ndarray::Axis(0)), modes)
            .unwrap();
        for k in 1..=modes {
            let saved = target(v, k, "u_obs");
            let want = u_obs[[0, k - 1]];
            assert!(
                (saved - want).abs() <= 1e-12 * want.abs(),
                "{v} {k}: {saved} vs {want}"
            );
        }
    }

    // The stage saved and loaded back, then recomputed from the archive: identical arrays.
    let loaded = EofStage::load(e).unwrap();
    let again = EofStage::run(
        settings,
        loaded.ppe.clone(),
        loaded.ppe_test.clone(),
        &loaded.default_case,
    )
    .unwrap();
    assert_eq!(loaded.grid, again.grid);
    assert_eq!(loaded.variables.len(), again.variables.len());
    let bits = |a: &[f64]| a.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (a, b) in loaded.variables.iter().zip(&again.variables) {
        assert_eq!(a.units, b.units);
        assert_eq!(a.sigma_years, b.sigma_years);
        for (x, y, what) in [
            (
                a.pcs.iter().copied().collect::<Vec<_>>(),
                b.pcs.iter().copied().collect::<Vec<_>>(),
                "pcs",
            ),
            (
                a.test_pcs
                    .as_ref()
                    .unwrap()
                    .iter()
                    .copied()
                    .collect::<Vec<_>>(),
                b.test_pcs
                    .as_ref()
                    .unwrap()
                    .iter()
                    .copied()
                    .collect::<Vec<_>>(),
                "test_pcs",
            ),
            (
                a.u_obs.iter().copied().collect::<Vec<_>>(),
                b.u_obs.iter().copied().collect::<Vec<_>>(),
                "u_obs",
            ),
            (
                a.u_years.iter().copied().collect::<Vec<_>>(),
                b.u_years.iter().copied().collect::<Vec<_>>(),
                "u_years",
            ),
            (
                a.sigma.iter().copied().collect::<Vec<_>>(),
                b.sigma.iter().copied().collect::<Vec<_>>(),
                "sigma",
            ),
            (
                a.lambda.iter().copied().collect::<Vec<_>>(),
                b.lambda.iter().copied().collect::<Vec<_>>(),
                "lambda",
            ),
            (
                a.u_default.iter().copied().collect::<Vec<_>>(),
                b.u_default.iter().copied().collect::<Vec<_>>(),
                "u_default",
            ),
            (
                a.rmse_run.iter().copied().collect::<Vec<_>>(),
                b.rmse_run.iter().copied().collect::<Vec<_>>(),
                "rmse_run",
            ),
            (
                a.rmse_modes.iter().copied().collect::<Vec<_>>(),
                b.rmse_modes.iter().copied().collect::<Vec<_>>(),
                "rmse_modes",
            ),
        ] {
            assert_eq!(bits(&x), bits(&y), "{} {what}", a.name);
        }
        let m = |e: &clmtune::eof::Eof| {
            let mut v = e
                .eofs(e.modes())
                .unwrap()
                .iter()
                .copied()
                .collect::<Vec<_>>();
            v.extend(e.pcs(e.modes()).unwrap().iter());
            v.extend(e.singular_values().iter());
            v.extend(e.mean().iter());
            v.extend(e.weights().iter());
            v.extend(e.mask().iter());
            v
        };
        assert_eq!(bits(&m(&a.eof)), bits(&m(&b.eof)), "{} eof", a.name);
    }
    assert_eq!(loaded.ppe, again.ppe);
    for f in [
        "eof_GPP_1.png",
        "pc_LHF_2.png",
        "rmse_GPP.png",
        "stage.json",
        "scalings.csv",
        "rmse.csv",
    ] {
        assert!(e.join(f).exists(), "{f}");
    }
}

/// Issue 20's "done means": `demo.rhai` on a small config from nothing runs every stage
/// script (01 to 07) and leaves every file of the contract's results folder with its
/// columns, its rows and sane values; a second run reuses every stage and prints the same
/// summary.
#[test]
fn demo_runs_the_whole_workflow_from_nothing_then_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = common::small_experiment(d);
    let stages = [
        "01_sensitivity",
        "02_ppe",
        "03_eof",
        "04_emulate",
        "05_interpret",
        "06_calibrate",
        "07_test_case",
    ];
    let so = run_with("demo.rhai", &cfg, &["--quick"]);
    for s in stages {
        assert!(
            so.contains(&format!("=== {s}.rhai (")),
            "{s} not run:\n{so}"
        );
        assert!(
            so.contains(&format!("=== {s}.rhai: ")),
            "{s} no time:\n{so}"
        );
    }
    let r = d.join("results");
    check_contract(&r);

    // the report: every stage's section, every figure of the folders, each image a file
    // there, the synthetic twin said on top, the summary in it
    assert!(so.contains("report: "), "{so}");
    let html = std::fs::read_to_string(r.join("report.html")).unwrap();
    assert!(
        html.contains("class=\"banner synthetic\">Demo model (not CLM)"),
        "{html}"
    );
    assert!(
        html.contains("<h2 id=\"summary\">Summary</h2>\n<pre>"),
        "{html}"
    );
    for id in [
        "sensitivity",
        "eof",
        "emulator",
        "calibrate",
        "test_case",
        "provenance",
    ] {
        assert!(
            html.contains(&format!("<h2 id=\"{id}\">")),
            "no section {id}"
        );
    }
    let srcs: Vec<&str> = html
        .split("<img src=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    let mut pngs = 0;
    for sub in ["sensitivity", "eof", "emulator", "calibrate", "test_case"] {
        pngs += std::fs::read_dir(r.join(sub))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".png")
            })
            .count();
    }
    assert_eq!(srcs.len(), pngs, "every figure shown once");
    for s in &srcs {
        assert!(r.join(s).is_file(), "{s}: no such file");
    }
    for name in stages {
        assert!(
            html.contains(&format!("<td>{name}</td>")),
            "{name} not in the provenance table"
        );
    }
    // in a real browser (Debian's headless chromium, when installed: .ci/run installs it):
    // every image loads, no element is wider than the window
    match common::browser_check(&r.join("report.html")) {
        Some(c) => {
            assert_eq!(c.images, srcs.len(), "{c:?}");
            assert!(
                c.broken.is_empty(),
                "images that did not load: {:?}",
                c.broken
            );
            assert!(
                c.overflowing.is_empty(),
                "wider than the window: {:?}",
                c.overflowing
            );
        }
        None => eprintln!("chromium is not installed: the report's browser check was skipped"),
    }

    // the summary: parameters proposed, variance kept, skill, cost, optimum, NROY, Table 2
    let summary = so.split("SUMMARY").nth(1).expect("a summary");
    for line in [
        "1. sensitivity (01): proposed for calibration",
        "2. EOFs (03): variance kept by 2 modes",
        "3. emulator skill (04",
        "4. calibration (06): cost (error-aware, nll) of the default run",
        "5. plausible",
        "6. the test case (07), Table 2",
        "RMSE against the observations",
    ] {
        assert!(summary.contains(line), "{line}:\n{summary}");
    }
    // the summary's optimum is optimum.csv's best row, each scaling printed with the verdict
    // of identifiability.csv, its estimate, the posterior's 5-95 % range and the truth
    let opt = clmtune::table::Table::read(&r.join("calibrate/optimum.csv")).unwrap();
    let id = clmtune::table::Table::read(&r.join("calibrate/identifiability.csv")).unwrap();
    let status = match id.column("status").unwrap() {
        clmtune::table::Column::Text(v) => v.clone(),
        c => panic!("status {c:?}"),
    };
    let truth = clmtune::demo::setup::TRUTH;
    for (p, t) in truth.iter().filter(|(p, _)| opt.column(p).is_ok()) {
        let line = summary
            .lines()
            .find(|l| l.split_whitespace().next() == Some(p))
            .unwrap_or_else(|| panic!("no summary row for {p}:\n{summary}"));
        let toks: Vec<&str> = line.split_whitespace().collect();
        let optimum: f64 = toks[1].parse().unwrap();
        let shown_truth: f64 = toks.last().unwrap().parse().unwrap();
        assert!((0.0..=1.0).contains(&optimum), "{line}");
        assert!((shown_truth - t).abs() < 5e-4, "{line}: truth {t}");
        let k = id
            .column("parameter")
            .map(|c| match c {
                clmtune::table::Column::Text(v) => v.iter().position(|n| n == p).unwrap(),
                _ => panic!("parameter column"),
            })
            .unwrap();
        assert!(
            line.contains(&format!("  {}", status[k])),
            "{line}: {}",
            status[k]
        );
    }
    assert!(
        summary.contains("MCMC converged after") || summary.contains("MCMC did not converge"),
        "{summary}"
    );

    // a second run reuses all seven stages and prints the same summary
    let again = run_with("demo.rhai", &cfg, &["--quick"]);
    for s in stages {
        assert!(
            again.contains(&format!("=== {s}.rhai: up to date")),
            "{s} not reused:\n{again}"
        );
    }
    assert_eq!(
        again
            .split("SUMMARY")
            .nth(1)
            .unwrap()
            .replace(d.to_str().unwrap(), ""),
        summary.replace(d.to_str().unwrap(), "")
    );
}

/// Every file of the contract's results folder (section 3) in `r`, for the small experiment:
/// the columns the contract names (in its order, extra columns after), the rows, and values
/// in range (fractions in [0, 1], r^2 at most 1, costs finite and >= 0, scalings in [0, 1]).
fn check_contract(r: &Path) {
    use clmtune::table::{Column, Table};
    let read = |f: &str, cols: &[&str], rows: usize| -> Table {
        let t = Table::read(&r.join(f)).unwrap_or_else(|e| panic!("{f}: {e:#}"));
        assert_eq!(&t.columns()[..cols.len()], cols, "{f}");
        assert_eq!(t.len(), rows, "{f} rows");
        t
    };
    let all = |t: &Table, c: &str, ok: &dyn Fn(f64) -> bool, what: &str| {
        for x in t.numbers(c).unwrap() {
            assert!(ok(*x), "{c} = {x}: {what}");
        }
    };
    let unit = |x: f64| (0.0..=1.0).contains(&x);
    let params = [
        "medlynslope",
        "dleaf",
        "kmax",
        "fff",
        "dint",
        "baseflow_scalar",
    ];
    let text = |t: &Table, c: &str| match t.column(c).unwrap() {
        Column::Text(v) => v.clone(),
        other => panic!("{c} is {}", other.kind()),
    };

    // run.json: one key per stage and the demo's, each with the config and the steps' times
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(r.join("run.json")).unwrap()).unwrap();
    for key in [
        "01_sensitivity",
        "02_ppe",
        "03_eof",
        "04_emulate",
        "05_interpret",
        "06_calibrate",
        "07_test_case",
        "demo",
    ] {
        let k = run
            .get(key)
            .unwrap_or_else(|| panic!("run.json has no {key}"));
        let text = k.to_string();
        for field in ["config", "clmtune", "scripts", "start", "end"] {
            assert!(text.contains(field), "run.json {key} lacks {field}: {text}");
        }
    }

    // sensitivity: 16 parameters, 7 outputs
    let t = read(
        "sensitivity/pe_global_mean.csv",
        &["parameter", "output", "pe"],
        16 * 7,
    );
    all(&t, "pe", &|x| x.is_finite(), "finite");
    let t = read("sensitivity/ranks.csv", &["parameter"], 16);
    for c in ["pe_rank", "pc_rank", "combined_rank"] {
        all(
            &t,
            c,
            &|x| (1.0..=16.0).contains(&x) && x.fract() == 0.0,
            "a rank",
        );
    }
    let t = read(
        "sensitivity/pattern_correlation.csv",
        &["output", "parameter_p", "parameter_q", "correlation"],
        8 * 256,
    );
    let outs = text(&t, "output");
    for (o, c) in outs.iter().zip(t.numbers("correlation").unwrap()) {
        // one output: a correlation (NaN where a map is constant); "sum": over 7 outputs
        let lim = if o == "sum" { 7.0 } else { 1.0 } + 1e-9;
        assert!(c.is_nan() || c.abs() <= lim, "{o}: {c}");
    }
    assert!(r.join("sensitivity/pe_maps.nc").exists());

    // ensembles: designs inside [0, 1], every member complete
    for (f, n) in [("ppe", 10), ("ppe_test", 10), ("oaat", 32), ("default", 1)] {
        let t = read(&format!("{f}/status.csv"), &["member", "case", "status"], n);
        assert!(
            text(&t, "status").iter().all(|s| s == "complete"),
            "{f}: {:?}",
            text(&t, "status")
        );
    }
    let t = read("ppe/design.csv", &["member", "case"], 10);
    for p in params {
        all(&t, p, &unit, "a scaling");
    }

    // EOFs: fractions sum to 1 per variable, 2 modes of 2 variables
    let t = read(
        "eof/variance_fraction.csv",
        &["variable", "mode", "fraction"],
        20,
    );
    all(&t, "fraction", &unit, "a fraction");
    let total: f64 = t.numbers("fraction").unwrap().iter().sum();
    assert!((total - 2.0).abs() < 1e-9, "{total}");
    let t = read(
        "eof/pcs.csv",
        &["ensemble", "member", "case", "variable", "mode", "pc"],
        2 * 10 * 2 * 2,
    );
    all(&t, "pc", &|x| x.is_finite(), "finite");
    let t = read(
        "eof/projections.csv",
        &["source", "variable", "mode", "pc"],
        16,
    );
    all(&t, "pc", &|x| x.is_finite(), "finite");
    let t = read(
        "eof/targets.csv",
        &["variable", "mode", "u_obs", "sigma", "lambda", "u_default"],
        4,
    );
    all(&t, "sigma", &|x| x > 0.0 && x.is_finite(), "positive");
    all(&t, "lambda", &|x| x > 0.0 && x <= 1.0, "a fraction");
    assert!(r.join("eof/eof.nc").exists());

    // emulators: 5 emulators x 2 variables x 2 modes x 4 splits
    let t = read(
        "emulator/metrics.csv",
        &["emulator", "variable", "mode", "split", "mse", "r2"],
        5 * 2 * 2 * 4,
    );
    all(&t, "mse", &|x| x >= 0.0 && x.is_finite(), "an MSE");
    all(&t, "r2", &|x| x <= 1.0 + 1e-12 && x.is_finite(), "an r^2");
    let splits = text(&t, "split");
    for s in ["train", "validation", "test", "ppe_test"] {
        assert!(splits.iter().any(|x| x == s), "split {s}");
    }
    // the emulator used for calibration: per variable one row per candidate, one chosen
    let t = read(
        "emulator/choice.csv",
        &["variable", "emulator", "split", "r2", "rmse_sigma"],
        2 * 5,
    );
    all(
        &t,
        "r2",
        &|x| x <= 1.0 && x.is_finite(),
        "an r^2 (1 - SSE/SST)",
    );
    all(
        &t,
        "rmse_sigma",
        &|x| x > 0.0 && x.is_finite(),
        "an RMSE in sigma",
    );
    assert_eq!(
        text(&t, "chosen").iter().filter(|x| *x == "true").count(),
        2
    );
    assert!(text(&t, "split").iter().all(|x| x == "ppe_test"));
    let t = read(
        "emulator/importance.csv",
        &["emulator", "variable", "mode", "parameter", "mse_increase"],
        5 * 2 * 2 * 6,
    );
    all(&t, "mse_increase", &|x| x.is_finite(), "finite");
    // Fig. 7's spread and top bar: the spread over shuffles, the unshuffled error
    all(&t, "mse_increase_sd", &|x| x >= 0.0, "a standard deviation");
    all(&t, "mse_unpermuted", &|x| x > 0.0, "an emulator's error");
    let base = t.numbers("mse_unpermuted").unwrap();
    let (em, va, mo) = (
        text(&t, "emulator"),
        text(&t, "variable"),
        t.numbers("mode").unwrap(),
    );
    let mut seen = std::collections::BTreeMap::new();
    for k in 0..t.len() {
        // one unshuffled error per (emulator, variable, mode), whichever parameter's row
        let key = (em[k].clone(), va[k].clone(), mo[k] as i64);
        let b = *seen.entry(key).or_insert(base[k]);
        assert_eq!(b, base[k], "importance.csv row {k}");
    }
    assert_eq!(seen.len(), 5 * 2 * 2, "emulators x variables x modes");
    let t = Table::read(&r.join("emulator/partial_dependence.csv")).unwrap();
    assert_eq!(
        &t.columns()[..6],
        [
            "emulator",
            "variable",
            "mode",
            "parameter",
            "value",
            "prediction"
        ]
    );
    assert!(!t.is_empty());
    all(&t, "value", &unit, "a scaling");
    all(&t, "prediction", &|x| x.is_finite(), "finite");
    let t = Table::read(&r.join("emulator/sobol.csv")).unwrap();
    assert_eq!(
        &t.columns()[..6],
        [
            "emulator",
            "variable",
            "mode",
            "parameter",
            "first_order",
            "total"
        ]
    );
    assert_eq!(
        t.len() % 6,
        0,
        "six parameters per emulator, variable and mode"
    );
    all(
        &t,
        "total",
        &|x| x.is_finite() && x > -0.2 && x < 1.2,
        "a Sobol index",
    );

    // calibration
    let t = read("calibrate/optimum.csv", &["method", "cost", "nfev"], 5);
    all(&t, "cost", &|x| x.is_finite() && x >= 0.0, "a cost");
    for p in params {
        all(&t, p, &unit, "an optimum inside [0, 1]");
    }
    let t = read("calibrate/history_match.csv", &["rank", "cost"], 1000);
    all(&t, "cost", &|x| x.is_finite() && x >= 0.0, "a cost");
    for p in params {
        all(&t, p, &unit, "a candidate inside [0, 1]");
    }
    let t = read(
        "calibrate/posterior.csv",
        &["parameter", "mean", "p05", "p50", "p95", "acceptance"],
        6,
    );
    for c in ["mean", "p05", "p50", "p95"] {
        all(&t, c, &unit, "a scaling");
    }
    all(&t, "acceptance", &|x| x > 0.0 && x < 1.0, "a fraction");

    // the test case
    let t = read(
        "test_case/pcs.csv",
        &[
            "variable",
            "mode",
            "observed",
            "default",
            "emulated",
            "simulated",
        ],
        2 * 2,
    );
    for c in ["observed", "default", "emulated", "simulated"] {
        all(&t, c, &|x| x.is_finite(), "finite");
    }
    let t = read(
        "test_case/bias_table.csv",
        &["region", "comparison", "gpp", "lhf"],
        10,
    );
    all(
        &t,
        "gpp",
        &|x| x.is_finite() && x.abs() < 20.0,
        "gC m-2 d-1",
    );
    all(&t, "lhf", &|x| x.is_finite() && x.abs() < 200.0, "W m-2");
    let c = text(&t, "comparison");
    assert_eq!(
        c.iter().filter(|x| *x == "optimized-obs").count(),
        5,
        "{c:?}"
    );
}

/// `[cases] failed = "drop"` with two members of the ensemble made to fail (the demo
/// model's test hook): 02-07 finish on the other 8, and every stage after 02, the summary and
/// run.json say which were dropped.
#[test]
fn with_drop_the_workflow_goes_on_without_two_failed_members_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = common::small_experiment(d);
    let text = std::fs::read_to_string(&cfg).unwrap().replacen(
        "[cases]\n",
        "[cases]\nfailed = \"drop\"\n",
        1,
    );
    std::fs::write(&cfg, text).unwrap();
    let so = run_env(
        "demo.rhai",
        &cfg,
        &["--quick"],
        &[(clmtune::demo::run::FAIL_HOOK, "demo_LHC_3,demo_LHC_7")],
    );
    let note = "ppe: 8 of 10 members; 2 failed and dropped ([cases] failed = \"drop\"): \
                demo_LHC_3 (failed: ";
    // said by 02, 03 (twice: the ensemble, then the stage), 04, 05, 06, 07 and the summary
    let stages: Vec<&str> = so.split("=== ").skip(1).collect();
    for name in [
        "02_ppe",
        "03_eof",
        "04_emulate",
        "05_interpret",
        "06_calibrate",
        "07_test_case",
    ] {
        let part = stages
            .iter()
            .find(|p| p.starts_with(&format!("{name}.rhai (")))
            .unwrap_or_else(|| panic!("{name} not run:\n{so}"));
        assert!(part.contains(note), "{name} does not say it:\n{part}");
    }
    let summary = so.split("SUMMARY").nth(1).expect("a summary");
    assert!(
        summary.contains(&format!("   members: {note}")),
        "{summary}"
    );
    let r = d.join("results");
    // the EOF stage, the emulators and the calibration saw the 8 members only
    let sc = clmtune::table::Table::read(&r.join("eof/scalings.csv")).unwrap();
    let ppe = sc
        .filter(&[("ensemble", clmtune::table::Value::Text("ppe".into()))])
        .unwrap();
    assert_eq!(ppe.len(), 8);
    let cases = std::fs::read_to_string(r.join("eof/scalings.csv")).unwrap();
    assert!(!cases.contains("demo_LHC_3,") && !cases.contains("demo_LHC_7,"));
    let stage: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(r.join("eof/stage.json")).unwrap()).unwrap();
    assert_eq!(stage["dropped"]["ppe"][1]["case"], "demo_LHC_7");
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(r.join("run.json")).unwrap()).unwrap();
    for key in ["02_ppe", "03_eof", "06_calibrate"] {
        assert_eq!(run[key]["members"]["ppe"]["used"], 8, "{key}");
    }
}
