//! NCAR-style ensembles (issue 30): members as chains of runs (an AD spin-up, a post-AD
//! spin-up from its restart, the analysed run), a kill -9 in the middle of the chain and the
//! resume after it, and the policy for failed members (`[cases] failed`: stop, drop,
//! resubmit), on the demo model with its test hook `CLMTUNE_DEMO_FAIL`.

use clmtune::config::Config;
use clmtune::ensemble::{from_config, Status};
use std::path::Path;
use std::process::Command;

mod common;
use common::experiment;

/// A local backend with a 3-stage chain: `ad` (year 1), `postad` (year 2), `run` (year 3,
/// the analysed year).
const CHAIN: &str = "kind = \"local\"\nparallel = 1\ncases_dir = \"cases\"\n\
    [[backend.chain]]\nstage = \"ad\"\nyears = 1\nxmlchange = { CLM_ACCELERATED_SPINUP = \"on\" }\n\
    [[backend.chain]]\nstage = \"postad\"\nyears = 1\n\
    [[backend.chain]]\nstage = \"run\"";

/// An experiment of `members` members analysing year 3 after the chain's two spin-up years.
fn chained(d: &Path, members: usize) -> std::path::PathBuf {
    let p = experiment(d, members, CHAIN);
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("years = [2, 2]", "years = [3, 3]");
    std::fs::write(&p, text).unwrap();
    p
}

/// The standard output of a run that must have succeeded (else its output and errors).
fn succeeded(out: &std::process::Output) -> String {
    let so = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    so
}

/// A local backend running one member at a time.
const LOCAL: &str = "kind = \"local\"\nparallel = 1\ncases_dir = \"cases\"";

/// How many times the CaseStatus of case `c` says `what`.
fn said(d: &Path, c: &str, what: &str) -> usize {
    std::fs::read_to_string(d.join("cases").join(c).join("CaseStatus"))
        .unwrap_or_default()
        .matches(what)
        .count()
}

fn history_years(d: &Path, case: &str) -> Vec<String> {
    let mut years: Vec<String> = std::fs::read_dir(d.join("archive").join(case).join("lnd/hist"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter_map(|n| n.split(".h0.").nth(1).map(|t| t[..4].to_string()))
        .collect();
    years.sort();
    years.dedup();
    years
}

#[test]
fn each_stage_of_a_chain_starts_from_the_restart_of_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = Config::load(&chained(d, 2)).unwrap();
    let ens = from_config::ppe(&cfg, "ppe", false)
        .unwrap()
        .with_local_model(clmtune::demo::run::LOCAL_MODEL);
    assert_eq!(
        ens.chain
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["ppe.ad", "ppe.postad"]
    );
    let recs = ens.submit().unwrap();
    assert!(
        recs.iter().all(|r| r.status == Status::Complete),
        "{recs:?}"
    );
    for m in ["demo_LHC_1", "demo_LHC_2"] {
        // every stage ran once, each over its own years, each from the one before
        for (case, years) in [
            (format!("{m}.ad"), ["0001"]),
            (format!("{m}.postad"), ["0002"]),
            (m.to_string(), ["0003"]),
        ] {
            assert_eq!(said(d, &case, "case.run success"), 1, "{case}");
            assert_eq!(history_years(d, &case), years, "{case}");
        }
        let nl =
            |c: &str| std::fs::read_to_string(d.join("cases").join(c).join("user_nl_clm")).unwrap();
        let restart = |c: &str, y: &str| {
            d.join("archive").join(c).join(format!(
                "rest/{y}-01-01-00000/{c}.clm2.r.{y}-01-01-00000.nc"
            ))
        };
        assert!(!nl(&format!("{m}.ad")).contains("finidat"));
        assert!(nl(&format!("{m}.postad")).contains(&format!(
            "finidat = '{}'",
            restart(&format!("{m}.ad"), "0002").display()
        )));
        assert!(nl(m).contains(&format!(
            "finidat = '{}'",
            restart(&format!("{m}.postad"), "0003").display()
        )));
        // the parameter changes are the same in every stage
        let scalings = |c: &str| {
            nl(c)
                .lines()
                .find(|l| l.starts_with("! clmtune: scalings "))
                .unwrap()
                .to_string()
        };
        assert_eq!(scalings(&format!("{m}.ad")), scalings(m));
        assert_eq!(scalings(&format!("{m}.postad")), scalings(m));
    }
    // the registry records each stage
    for st in ["ad", "postad"] {
        let s =
            std::fs::read_to_string(d.join(format!("results/ppe/stages/{st}/status.csv"))).unwrap();
        assert_eq!(s.matches(",complete,").count(), 2, "{s}");
    }
    // submitting again runs nothing
    ens.submit().unwrap();
    assert_eq!(said(d, "demo_LHC_1.ad", "case.run starting"), 1);
    assert_eq!(said(d, "demo_LHC_1", "case.run starting"), 1);
}

#[test]
fn a_restart_carries_the_state_into_the_next_stage() {
    use clmtune::demo::run;
    let (_, cells) = run::cells().unwrap();
    let params = clmtune::demo::params::Params::defaults();
    // 2 years spun up, written to a restart and read back: the same state, bit for bit
    let spun = run::simulate_from(&cells, &params, &[2000, 2001], 2, 7, None);
    let states: Vec<_> = spun.iter().map(|(_, s)| s.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("r.nc");
    run::write_restart(&f, "c", &states).unwrap();
    let back = run::read_restart(&f, cells.len()).unwrap();
    for (a, b) in states.iter().zip(&back) {
        assert_eq!((a.w, a.g, a.snow), (b.w, b.g, b.snow));
    }
    assert!(run::read_restart(&f, cells.len() + 1).is_err());
    // year 3 from the restart is close to year 3 of one continuous run (only the weather
    // noise differs), much closer than year 3 from a cold start: the state was carried
    let soil = |out: &[(
        Vec<clmtune::demo::model::Monthly>,
        clmtune::demo::model::State,
    )]|
     -> Vec<f64> {
        out.iter()
            .map(|(m, _)| m[0].soilliq.iter().sum::<f64>())
            .collect()
    };
    let continuous = soil(&run::simulate_from(
        &cells,
        &params,
        &[2000, 2001, 2002],
        2,
        7,
        None,
    ));
    let chained = soil(&run::simulate_from(
        &cells,
        &params,
        &[2002],
        0,
        8,
        Some(&back),
    ));
    let cold = soil(&run::simulate_from(&cells, &params, &[2002], 0, 8, None));
    let dist = |a: &[f64]| -> f64 {
        a.iter()
            .zip(&continuous)
            .map(|(x, y)| (x - y).abs())
            .sum::<f64>()
            / a.len() as f64
    };
    assert!(
        dist(&chained) < 0.2 * dist(&cold),
        "from the restart {} vs cold {}",
        dist(&chained),
        dist(&cold)
    );
}

#[test]
fn a_chain_killed_in_its_second_stage_resumes_and_runs_every_stage_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = chained(d, 4);
    let script = d.join("s.rhai");
    std::fs::write(
        &script,
        "import \"experiment\" as ex;\nlet cfg = ex::config(OPTIONS);\nlet e = ppe(cfg);\ne.submit();\ne.check_complete();\nprint(\"done\");",
    )
    .unwrap();
    let run = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_clmtune"));
        c.arg("run")
            .arg(&script)
            .arg("--")
            .arg("--config")
            .arg(&cfg);
        c
    };
    let child = run()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // kill -9 once the second member's post-AD run has started
    let t0 = std::time::Instant::now();
    while said(d, "demo_LHC_2.postad", "case.run starting") == 0 {
        assert!(t0.elapsed().as_secs() < 300, "stage 2 never started");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let mut child = child;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        said(d, "demo_LHC_4", "case.run starting"),
        0,
        "killed too late"
    );
    let out = run().output().unwrap();
    let so = succeeded(&out);
    assert!(so.contains("done"), "{so}");
    for k in 1..=4 {
        let m = format!("demo_LHC_{k}");
        // every stage of every member ran to its end once; only the killed run started twice
        for case in [format!("{m}.ad"), format!("{m}.postad"), m.clone()] {
            assert_eq!(said(d, &case, "case.run success"), 1, "{case}");
            assert_eq!(said(d, &case, "case.run error"), 0, "{case}");
        }
        assert_eq!(said(d, &format!("{m}.ad"), "case.run starting"), 1, "{m}");
        assert_eq!(said(d, &m, "case.run starting"), 1, "{m}");
    }
}

#[test]
fn a_dry_run_prints_every_stage_of_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = chained(d, 2);
    let out = Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .arg("run")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/02_ppe.rhai"))
        .args(["--", "--dry-run", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let so = succeeded(&out);
    for line in [
        "stage ad of ppe: years 1-1, cases demo_LHC_1.ad",
        "stage postad of ppe: years 2-2, cases demo_LHC_1.postad",
        "stage run of ppe: the analysed run, cases demo_LHC_1",
        "member 2 -> submit case demo_LHC_2.postad",
        "member 1 -> submit case demo_LHC_1",
        "finidat = '",
    ] {
        assert!(so.contains(line), "{line}:\n{so}");
    }
    assert!(!d.join("cases").exists() && !d.join("archive").exists());
}

#[test]
fn chains_that_cannot_run_are_refused_naming_the_stage() {
    for (change, says) in [
        (
            ("years = 1\nxmlchange", "xmlchange"),
            "stage ad: give its years",
        ),
        (
            ("stage = \"postad\"\nyears = 1", "stage = \"postad\"\nyears = 5"),
            "the stages before the last, run, end with year 6, after the first analysed year 3",
        ),
        (
            ("stage = \"postad\"", "stage = \"ad\""),
            "two stages are named ad",
        ),
        (
            ("CLM_ACCELERATED_SPINUP = \"on\"", "STOP_N = 3"),
            "stage ad: xmlchange sets STOP_N",
        ),
        (
            ("stage = \"run\"", "stage = \"run\"\nuser_nl_clm = [\"finidat = 'x.nc'\"]"),
            "stage run: user_nl_clm has 'finidat = 'x.nc'', but this stage starts from the restart of stage postad",
        ),
        (
            ("stage = \"ad\"", "stage = \"a d\""),
            "stage 'a d' may hold only",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let p = chained(dir.path(), 2);
        let text = std::fs::read_to_string(&p).unwrap().replacen(change.0, change.1, 1);
        std::fs::write(&p, &text).unwrap();
        let e = Config::load(&p)
            .and_then(|c| from_config::ppe(&c, "ppe", true).map(|_| ()))
            .unwrap_err();
        assert!(format!("{e:#}").contains(says), "{says}:\n{e:#}");
    }
}

/// The members' records after 02 with the fail hook on `fail` and `[cases] failed = policy`.
fn run_02(d: &Path, policy: &str, fail: &str) -> std::process::Output {
    let cfg = d.join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let text = match text.find("failed = ") {
        Some(_) => text,
        None => text.replacen("[cases]\n", &format!("[cases]\nfailed = {policy}\n"), 1),
    };
    std::fs::write(&cfg, text).unwrap();
    Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .arg("run")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/02_ppe.rhai"))
        .arg("--")
        .arg("--config")
        .arg(&cfg)
        .env(clmtune::demo::run::FAIL_HOOK, fail)
        .output()
        .unwrap()
}

#[test]
fn resubmit_reruns_a_failed_member_and_counts_its_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    experiment(d, 3, LOCAL);
    // member 2 fails its first run only; resubmit = 1 runs it again, and it completes
    let out = run_02(d, "{ resubmit = 1 }", "demo_LHC_2:1");
    let so = succeeded(&out);
    assert!(
        so.contains("member 2 (case demo_LHC_2) failed on attempt 1 of 2 (made to fail by")
            && so.contains("; submitting it again ([cases] failed = { resubmit = 1 })"),
        "{so}"
    );
    assert_eq!(said(d, "demo_LHC_2", "case.run starting"), 2);
    assert_eq!(said(d, "demo_LHC_1", "case.run starting"), 1);
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("results/ppe/members/2.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (rec["status"].as_str(), rec["attempts"].as_u64()),
        (Some("complete"), Some(2))
    );
}

#[test]
fn a_member_failing_every_attempt_stops_naming_its_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    experiment(d, 3, LOCAL);
    let out = run_02(d, "{ resubmit = 1 }", "demo_LHC_3");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        e.contains(
            "ensemble ppe: 1 of 3 members are not complete ([cases] failed = { resubmit = 1 })"
        ) && e.contains("demo_LHC_3 failed: made to fail by CLMTUNE_DEMO_FAIL"),
        "{e}"
    );
    assert_eq!(
        said(d, "demo_LHC_3", "case.run starting"),
        2,
        "one resubmission"
    );
}

#[test]
fn with_drop_a_failed_member_is_left_out_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    experiment(d, 4, LOCAL);
    let out = run_02(d, "\"drop\"", "demo_LHC_2,demo_LHC_4");
    let so = succeeded(&out);
    assert!(
        so.contains(
            "ppe: 2 of 4 members; 2 failed and dropped ([cases] failed = \"drop\"): demo_LHC_2 (failed: "
        ) && so.contains("demo_LHC_4 (failed: "),
        "{so}"
    );
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("results/run.json")).unwrap())
            .unwrap();
    let m = &run["02_ppe"]["members"]["ppe"];
    assert_eq!(
        (m["used"].as_u64(), m["members"].as_u64()),
        (Some(2), Some(4)),
        "{m}"
    );
    assert_eq!(m["dropped"][1]["case"], "demo_LHC_4");
    // all failed: too few to go on
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    experiment(d, 2, LOCAL);
    let out = run_02(d, "\"drop\"", "demo_LHC_1,demo_LHC_2");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        e.contains("ensemble ppe: 0 of 2 members complete, too few to go on"),
        "{e}"
    );
}

#[test]
fn a_batch_backend_submits_each_stage_when_the_one_before_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // the fake CIME (its batch jobs run the demo model in the background), a 3-stage chain
    let body = common::cime_backend(&d.join("cases")).replace("stop_years = 2\n", "")
        + "\n[[backend.chain]]\nstage = \"ad\"\nyears = 1\nxmlchange = { CLM_ACCELERATED_SPINUP = \"on\" }\n\
           [[backend.chain]]\nstage = \"postad\"\nyears = 1\n[[backend.chain]]\nstage = \"run\"";
    let cfg = experiment(d, 2, &body);
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("years = [2, 2]", "years = [3, 3]");
    std::fs::write(&cfg, text).unwrap();
    let s = d.join("s.rhai");
    std::fs::write(
        &s,
        "import \"experiment\" as ex;\nlet e = ppe(ex::config(OPTIONS));\ne.submit();\ne.wait(#{timeout: 300});\ne.check_complete();\nprint(e.summary());\n",
    )
    .unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_clmtune"));
    c.arg("run").arg(&s).arg("--").arg("--config").arg(&cfg);
    common::fake_cime_env(&mut c, d);
    let out = c.env("FAKE_RUN", "1").output().unwrap();
    let so = succeeded(&out);
    assert!(so.contains("#{\"complete\": 2}"), "{so}");
    let cmds = std::fs::read_to_string(d.join("commands")).unwrap();
    for line in [
        "demo_LHC_1.ad xmlchange --id STOP_N --val 1",
        "demo_LHC_1.ad xmlchange --id RUN_STARTDATE --val 0001-01-01",
        "demo_LHC_1.ad xmlchange --id CLM_ACCELERATED_SPINUP --val on",
        "demo_LHC_1.postad xmlchange --id RUN_STARTDATE --val 0002-01-01",
        "demo_LHC_1 xmlchange --id RUN_STARTDATE --val 0003-01-01",
        "demo_LHC_1 xmlchange --id STOP_N --val 1",
        "demo_LHC_1 xmlchange --id DATM_CLMNCEP_YR_ALIGN --val 1",
    ] {
        assert!(
            cmds.lines().any(|l| l.trim_end() == line),
            "missing '{line}' in\n{cmds}"
        );
    }
    assert!(!cmds.contains("demo_LHC_1.postad xmlchange --id CLM_ACCELERATED_SPINUP"));
    // each stage submitted once, in order: a stage only after the one before completed
    let subs: Vec<String> = std::fs::read_to_string(d.join("submissions"))
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    for m in ["demo_LHC_1", "demo_LHC_2"] {
        let at = |c: &str| subs.iter().position(|s| s == c).unwrap();
        assert_eq!(
            subs.iter().filter(|s| s.starts_with(m)).count(),
            3,
            "{subs:?}"
        );
        assert!(
            at(&format!("{m}.ad")) < at(&format!("{m}.postad"))
                && at(&format!("{m}.postad")) < at(m)
        );
        assert_eq!(history_years(d, m), ["0003"]);
    }
}
