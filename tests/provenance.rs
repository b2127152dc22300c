//! `run.json`: a stage script run twice in a temporary experiment records what contract
//! section 3 and issue 20 ask (config, version and commit, scripts with their SHA-256 and
//! git state, seed, times, steps, input fingerprints), merges with the other stages' keys,
//! records failures, and tells when a run can be reused; `run_script` runs a script from
//! another and refuses a script running itself.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

fn clmtune(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .args(args)
        .output()
        .unwrap()
}

fn run_json(results: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(results.join("run.json")).unwrap()).unwrap()
}

/// SHA-256 by the system's `sha256sum` (coreutils), independent of clmtune's own.
fn sha256sum(p: &Path) -> Option<String> {
    let out = Command::new("sha256sum").arg(p).output().ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    })
}

/// FNV-1a over 8-byte little-endian words, the last zero-padded, then the length: written
/// here again byte by byte from the definition, to check clmtune's word-wise version.
fn fnv_words(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for chunk in bytes.chunks(8) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x100000001b3);
    }
    (h ^ bytes.len() as u64).wrapping_mul(0x100000001b3)
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A 3-member experiment (one analysed year after one spun up), no second ensemble.
fn experiment(dir: &Path) -> PathBuf {
    let cfg = clmtune::demo::setup::ensure(dir, (2000, 2001)).unwrap();
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("years = [16, 20]", "years = [2, 2]")
        .replace("ppe_members = 100", "ppe_members = 3")
        .replace("ppe_test = \"demo_LHC_v2_{member}\"\n", "")
        .replace("ppe_test_design = \"design/ppe2.csv\"\n", "");
    std::fs::write(&cfg, text).unwrap();
    cfg
}

#[test]
fn a_stage_run_twice_records_its_provenance_and_keeps_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = experiment(d);
    let results = d.join("results");
    // another stage's entry, already there: it must be kept
    std::fs::create_dir_all(&results).unwrap();
    std::fs::write(results.join("run.json"), r#"{"01_sensitivity": {"n": 1}}"#).unwrap();

    let s02 = script("02_ppe.rhai");
    let args = [
        s02.as_os_str(),
        "--".as_ref(),
        "--config".as_ref(),
        cfg.as_os_str(),
    ];
    let run = |extra: &[&std::ffi::OsStr]| {
        let mut a: Vec<&std::ffi::OsStr> = vec!["run".as_ref()];
        a.extend_from_slice(&args);
        a.extend_from_slice(extra);
        let out = clmtune(&a);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[]);
    let first = run_json(&results);
    run(&[]);
    let all = run_json(&results);
    let keys: Vec<&String> = all.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["01_sensitivity", "02_ppe"]);
    assert_eq!(all["01_sensitivity"]["n"], 1);
    let e = &all["02_ppe"];
    assert_eq!(e["status"], "ok");
    assert_eq!(e["error"], Value::Null);
    assert_eq!(
        e["arguments"],
        serde_json::json!(["--config", cfg.display().to_string()])
    );
    assert_eq!(e["clmtune"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(e["clmtune"]["commit"], clmtune::provenance::COMMIT);
    // the second run replaced the first's entry: its start is not earlier
    assert!(e["started"].as_str().unwrap() >= first["02_ppe"]["started"].as_str().unwrap());
    assert!(e["ended"].as_str().unwrap() >= e["started"].as_str().unwrap());
    assert!(e["seconds"].as_f64().unwrap() > 0.0);

    // the script and the stdlib module it imports, each with the SHA-256 of its text
    let scripts = e["scripts"].as_array().unwrap();
    assert_eq!(scripts[0]["path"], s02.display().to_string());
    if let Some(sum) = sha256sum(&s02) {
        assert_eq!(scripts[0]["sha256"], sum);
        let stdlib = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib/experiment.rhai");
        assert_eq!(scripts[1]["path"], "<stdlib>/experiment.rhai");
        assert_eq!(scripts[1]["sha256"], sha256sum(&stdlib).unwrap());
    }
    // where the script lives in git: the repository, its commit, tracked
    let scripts_dir = s02.parent().unwrap();
    if let Some(top) = git(scripts_dir, &["rev-parse", "--show-toplevel"]) {
        let g = &scripts[0]["git"];
        assert_eq!(g["repository"], top);
        assert_eq!(
            g["commit"],
            git(scripts_dir, &["rev-parse", "HEAD"]).unwrap()
        );
        assert_eq!(g["tracked"], true);
        let dirty = !git(scripts_dir, &["status", "--porcelain", "--", "02_ppe.rhai"])
            .unwrap()
            .is_empty();
        assert_eq!(g["uncommitted_changes"], dirty);
    }

    // the config: path, text and its SHA-256; the seed
    let text = std::fs::read_to_string(&cfg).unwrap();
    // cfg is absolute already (a temporary folder)
    assert_eq!(e["config"][0]["path"], cfg.display().to_string());
    assert_eq!(e["config"][0]["text"], text);
    if let Some(sum) = sha256sum(&cfg) {
        assert_eq!(e["config"][0]["sha256"], sum);
    }
    assert_eq!(e["seeds"]["experiment.seed"], 42);

    // steps: the ensemble was submitted and waited for, once each
    let steps = e["steps"].as_array().unwrap();
    let step = |n: &str| {
        steps
            .iter()
            .find(|s| s["name"] == n)
            .unwrap_or_else(|| panic!("{n}: {steps:?}"))
    };
    assert_eq!(step("submit ppe")["calls"], 1);
    assert!(step("wait ppe")["seconds"].as_f64().unwrap() >= 0.0);

    // input fingerprints: the config by size and content hash; the params file too
    let inputs = e["inputs"].as_array().unwrap();
    let f = inputs
        .iter()
        .find(|f| f["path"] == cfg.display().to_string())
        .unwrap_or_else(|| panic!("{inputs:?}"));
    assert_eq!(f["bytes"], text.len());
    assert_eq!(f["hash"], format!("{:016x}", fnv_words(text.as_bytes())));
    assert!(inputs.iter().any(|f| f["path"]
        .as_str()
        .is_some_and(|p| p.ends_with("parameters.toml"))));
    // what it wrote: the ensemble's design and status tables
    let wrote = e["wrote"].as_array().unwrap();
    assert!(
        wrote
            .iter()
            .any(|w| w.as_str().is_some_and(|p| p.ends_with("ppe/status.csv"))),
        "{wrote:?}"
    );

    // nothing changed: the run can be reused; a changed config cannot
    let a: Vec<String> = vec!["--config".into(), cfg.display().to_string()];
    assert_eq!(clmtune::provenance::rerun_reason(&results, &s02, &a), None);
    assert!(clmtune::provenance::rerun_reason(&results, &s02, &[])
        .unwrap()
        .starts_with("its last run had other options"));
    std::fs::write(&cfg, text.replace("seed = 42", "seed = 43")).unwrap();
    assert_eq!(
        clmtune::provenance::rerun_reason(&results, &s02, &a).unwrap(),
        format!("config {} changed", cfg.display())
    );
    std::fs::write(&cfg, &text).unwrap();

    // a dry run writes no run.json entry
    std::fs::remove_file(results.join("run.json")).unwrap();
    run(&["--dry-run".as_ref()]);
    assert!(!results.join("run.json").exists());
}

#[test]
fn failures_are_recorded_and_scripts_run_scripts_but_not_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = experiment(d);
    // a stage that fails after reading its config
    let bad = d.join("09_bad.rhai");
    std::fs::write(
        &bad,
        "import \"experiment\" as ex;\nlet cfg = ex::config(OPTIONS);\nlet x = 1;\nx.nothing_here();\n",
    )
    .unwrap();
    // a script running the bad one and itself
    let outer = d.join("outer.rhai");
    std::fs::write(
        &outer,
        "import \"experiment\" as ex;\nlet cfg = ex::config(OPTIONS);\n\
         let msg = \"\";\ntry { run_script(\"09_bad.rhai\", OPTIONS); } catch (e) { msg = e; }\n\
         print(msg);\n\
         try { run_script(SCRIPT, OPTIONS); } catch (e) { print(e); }\n",
    )
    .unwrap();
    let out = clmtune(&[
        "run".as_ref(),
        outer.as_os_str(),
        "--".as_ref(),
        "--config".as_ref(),
        cfg.as_os_str(),
    ]);
    let so = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{so}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // the inner report names the inner script's file and line
    assert!(so.contains(&format!("{}:4:", bad.display())), "{so}");
    assert!(so.contains("is already running"), "{so}");
    let all = run_json(&d.join("results"));
    assert_eq!(all["09_bad"]["status"], "failed");
    assert!(all["09_bad"]["error"]
        .as_str()
        .unwrap()
        .contains(&format!("{}:4:", bad.display())));
    assert_eq!(all["outer"]["status"], "ok");
    let steps = all["outer"]["steps"].as_array().unwrap();
    assert_eq!(
        steps[0]["name"],
        format!("run {}", bad.display()),
        "{steps:?}"
    );
    // the refused self-run records nothing of its own
    assert_eq!(all.as_object().unwrap().len(), 2, "{all}");
}
