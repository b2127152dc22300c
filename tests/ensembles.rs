//! Ensembles end to end: the parameter spec, edited params files read back index by index,
//! the local backend running demo-model members, and the CIME backend against a fake CIME
//! (tests/fake_cime: small scripts that record their argv and make what the real tools make),
//! including a kill -9 in the middle of submitting and the resume after it.

use clmtune::config::Config;
use clmtune::demo::pft::{NPFT, NVEGWCS};
use clmtune::ensemble::{from_config, paramfile, spec::Write, Spec, Status};
use std::path::Path;
use std::process::{Command, Stdio};

mod common;
use common::{experiment, fake_cime, fake_cime_env};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_clmtune")
}

#[test]
fn the_contract_spec_reads_and_bad_specs_name_parameter_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("parameters.toml");
    let spec = Spec::parse_text(clmtune::demo::setup::SPEC, &p).unwrap();
    let m = spec.get("medlynslope").unwrap();
    assert_eq!(m.groups.len(), 8);
    assert_eq!(m.groups[6].pfts, vec![14, 17, 18, 67, 68, 75, 76]);
    // scaling 0.25 in group BET: 1.63 + 0.25 * (4.59 - 1.63)
    assert!((m.writes(0.25)[1].value - 2.37).abs() < 1e-12);
    assert_eq!(
        spec.get("interception_fraction")
            .unwrap()
            .oaat_default_as
            .unwrap()
            .name(),
        "max"
    );
    let e = format!("{:#}", spec.get("kmx").unwrap_err());
    assert!(e.contains("'kmx'") && e.contains("kmax"), "{e}");

    let bad = |from: &str, to: &str| -> String {
        let text = clmtune::demo::setup::SPEC.replacen(from, to, 1);
        format!("{:#}", Spec::parse_text(&text, &p).unwrap_err())
    };
    let e = bad("max = 3.8e-8", "mx = 3.8e-8");
    assert!(
        e.contains("parameters.toml:") && e.contains("unknown key 'mx'"),
        "{e}"
    );
    let e = bad("min = 2e-9", "min = 4e-8");
    assert!(
        e.contains("('kmax')") && e.contains("min 0.00000004 is not below max"),
        "{e}"
    );
    let e = bad("pft_indices = [\"1-3\", ", "pft_indices = [");
    assert!(
        e.contains("('medlynslope')") && e.contains("groups has 8 names but pft_indices has 7"),
        "{e}"
    );
    let e = bad("name = \"fff\"", "name = \"fff = 1\\nbaseflow_scalar\"");
    assert!(e.contains("is not a CLM parameter name"), "{e}");
    let e = bad("location = \"namelist\"", "location = \"namlist\"");
    assert!(
        e.contains("('fff')") && e.contains("location = 'namlist'"),
        "{e}"
    );
    let e = bad("relative = [-0.3, 0.3]", "relative = [0.3, -0.3]");
    assert!(
        e.contains("('psi50')") && e.contains("need -1 < lo < hi"),
        "{e}"
    );
    let e = bad("\"14,17,18,67,68,75,76\"", "\"13,17\"");
    assert!(e.contains("PFT 13 is in two groups"), "{e}");
    // a relative range needs a default: none in the spec and no base file to read
    let e = format!(
        "{:#}",
        Spec::parse(
            &clmtune::demo::setup::SPEC.replace("base_paramfile = \"clm5_params.demo.nc\"", ""),
            &p
        )
        .unwrap_err()
    );
    assert!(
        e.contains("'psi50' has a relative range but no default"),
        "{e}"
    );
}

#[test]
fn an_edited_params_file_has_every_pft_index_right_and_the_base_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("clm5_params.demo.nc");
    clmtune::demo::write_default_params(&base).unwrap();
    std::fs::write(
        dir.path().join("parameters.toml"),
        clmtune::demo::setup::SPEC,
    )
    .unwrap();
    let before = std::fs::read(&base).unwrap();
    let spec = Spec::load(&dir.path().join("parameters.toml")).unwrap();
    let ms = spec.get("medlynslope").unwrap();
    let kmax = spec.get("kmax").unwrap();
    let froot = spec.get("froot_leaf").unwrap();
    let rb = spec.get("rootprof_beta").unwrap();
    // defaults read from the base file
    assert_eq!(
        froot.pft_default.as_ref().unwrap()[1],
        clmtune::demo::pft::froot_leaf(1)
    );
    let vars: Vec<paramfile::VarWrites> = [(ms, 0.3), (kmax, 0.9), (froot, 1.0), (rb, 0.5)]
        .iter()
        .map(|(p, s)| paramfile::VarWrites {
            name: p.name.clone(),
            writes: p.writes(*s),
            dim_indices: p.dim_indices.clone(),
        })
        .collect();
    let dest = dir.path().join("case/member.nc");
    paramfile::write_member_params(&base, &dest, &vars).unwrap();
    assert_eq!(std::fs::read(&base).unwrap(), before, "base file changed");

    let f = netcdf::open(&dest).unwrap();
    let read = |n: &str| -> Vec<f64> { f.variable(n).unwrap().get_values(..).unwrap() };
    let b = netcdf::open(&base).unwrap();
    let read_base = |n: &str| -> Vec<f64> { b.variable(n).unwrap().get_values(..).unwrap() };
    // medlynslope: the group of each PFT, hand-listed from the spec
    let (lo, hi) = (
        [1.29, 1.63, 3.19, 2.25, 2.0, 3.05, 0.53, 3.46],
        [4.7, 4.59, 5.11, 9.27, 2.44, 9.45, 4.03, 7.7],
    );
    let group_of = |p: usize| -> Option<usize> {
        match p {
            0 => None,
            1..=3 => Some(0),
            4..=5 => Some(1),
            6..=8 => Some(2),
            9..=11 => Some(3),
            12 => Some(4),
            13 => Some(5),
            14 | 17 | 18 | 67 | 68 | 75 | 76 => Some(6),
            _ => Some(7),
        }
    };
    let got = read("medlynslope");
    let orig = read_base("medlynslope");
    for p in 0..NPFT {
        let want = match group_of(p) {
            None => orig[p],
            Some(g) => lo[g] + 0.3 * (hi[g] - lo[g]),
        };
        assert!(
            (got[p] - want).abs() < 1e-12,
            "medlynslope pft {p}: {} vs {want}",
            got[p]
        );
    }
    // kmax: every one of the 4 segments of PFTs 1-78, bare ground untouched
    let got = read("kmax");
    let orig = read_base("kmax");
    assert_eq!(got.len(), NVEGWCS * NPFT);
    for s in 0..NVEGWCS {
        for p in 0..NPFT {
            let want = if p == 0 {
                orig[s * NPFT]
            } else {
                2e-9 + 0.9 * 3.6e-8
            };
            assert!(
                (got[s * NPFT + p] - want).abs() < 1e-22,
                "kmax seg {s} pft {p}"
            );
        }
    }
    // froot_leaf: each PFT's own default times 1.2 (relative [-0.2, 0.2] at 1.0)
    let got = read("froot_leaf");
    let orig = read_base("froot_leaf");
    for p in 0..NPFT {
        let want = if p == 0 { orig[0] } else { orig[p] * 1.2 };
        assert!(
            (got[p] - want).abs() <= 1e-12 * want.abs(),
            "froot_leaf pft {p}"
        );
    }
    // rootprof_beta(variants, pft): 0.93 + 0.5 * 0.06 = 0.96 in both variants of PFTs 1-78
    let got = read("rootprof_beta");
    assert_eq!(got.len(), 2 * NPFT);
    for v in 0..2 {
        assert_eq!(got[v * NPFT], read_base("rootprof_beta")[v * NPFT]);
        for p in 1..NPFT {
            assert!(
                (got[v * NPFT + p] - 0.96).abs() < 1e-12,
                "variant {v} pft {p}"
            );
        }
    }
    // untouched variables are as in the base
    assert_eq!(read("dleaf"), read_base("dleaf"));

    // a params file whose PFT order differs is refused and nothing is written
    let swapped = dir.path().join("swapped.nc");
    std::fs::copy(&base, &swapped).unwrap();
    {
        let mut f = netcdf::append(&swapped).unwrap();
        let name: Vec<clmtune::demo::params::NcChar> = format!("{:<40}", "c4_grass")
            .bytes()
            .map(clmtune::demo::params::NcChar)
            .collect();
        f.variable_mut("pftname")
            .unwrap()
            .put_values(&name, (13..14, ..))
            .unwrap();
    }
    let dest2 = dir.path().join("case/member2.nc");
    let e = format!(
        "{:#}",
        paramfile::write_member_params(&swapped, &dest2, &vars).unwrap_err()
    );
    assert!(
        e.contains("PFT 13 is 'c4_grass'") && e.contains("c3_non-arctic_grass"),
        "{e}"
    );
    assert!(!dest2.exists());
    // a variable the spec thinks has no pft dimension
    let e = format!(
        "{:#}",
        paramfile::write_member_params(
            &base,
            &dest2,
            &[paramfile::VarWrites {
                name: "dleaf".into(),
                writes: vec![Write::value(vec![], 1.0)],
                dim_indices: vec![],
            }]
        )
        .unwrap_err()
    );
    assert!(e.contains("dleaf has dimensions (pft)"), "{e}");
    assert!(!dest2.exists());
}

#[test]
fn the_local_backend_runs_three_demo_members_whose_output_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = experiment(
        dir.path(),
        3,
        "kind = \"local\"\nparallel = 2\ncases_dir = \"cases\"\ndatm_years = [2000, 2004]",
    );
    let cfg = Config::load(&cfg_path).unwrap();
    let ens = from_config::ppe(&cfg, "ppe", false)
        .unwrap()
        .with_local_model(clmtune::demo::run::LOCAL_MODEL);
    assert!(
        dir.path().join("design/ppe1.csv").exists(),
        "the design is saved for next time"
    );
    let recs = ens.submit().unwrap();
    assert!(
        recs.iter().all(|r| r.status == Status::Complete),
        "{recs:?}"
    );
    // read back through the archive reader: GPP differs between members
    let cases: Vec<String> = ens.members.iter().map(|m| m.case.clone()).collect();
    let found = clmtune::archive::find_cases(&cfg.archive.root, &cases).unwrap();
    assert_eq!(found.len(), 3);
    let mut means = Vec::new();
    for c in &found {
        assert!(c.is_complete((2, 2)));
        let f = netcdf::open(&c.files[6].path).unwrap();
        let gpp: Vec<f32> = f.variable("GPP").unwrap().get_values(..).unwrap();
        let land: Vec<f64> = gpp
            .iter()
            .filter(|x| **x < 1e30)
            .map(|x| *x as f64)
            .collect();
        assert!(land.len() > 500);
        means.push(land.iter().sum::<f64>() / land.len() as f64);
    }
    assert!(means.iter().all(|m| *m > 0.0 && m.is_finite()));
    assert!((means[0] - means[1]).abs() > 1e-3 * means[0], "{means:?}");
    // each case used its own params file, with its scalings
    let member = &recs[0];
    let pf = member.paramfile.as_ref().unwrap();
    let p = clmtune::demo::read_params(pf).unwrap();
    let s = member.scalings["kmax"].unwrap();
    assert!((p.pft("kmax")[40] - (2e-9 + s * 3.6e-8)).abs() < 1e-20);
    let status = std::fs::read_to_string(dir.path().join("results/ppe/status.csv")).unwrap();
    assert_eq!(
        status.lines().filter(|l| l.contains(",complete,")).count(),
        3,
        "{status}"
    );
    let design = std::fs::read_to_string(dir.path().join("results/ppe/design.csv")).unwrap();
    assert!(design.starts_with(
        "member,case,medlynslope,dleaf,kmax,fff,dint,baseflow_scalar,medlynslope[NET/NDT]"
    ));

    // submitting again runs nothing: one run per CaseStatus
    ens.submit().unwrap();
    for c in &cases {
        let cs =
            std::fs::read_to_string(dir.path().join("cases").join(c).join("CaseStatus")).unwrap();
        assert_eq!(cs.matches("case.run starting").count(), 1, "{c}");
    }
    // another results folder with the same design finds the cases complete, made with its
    // scalings (the case's user_nl_clm records them): used as they are, nothing runs again
    let mut same = cfg.clone();
    same.output.dir = dir.path().join("results_same");
    let again = from_config::ppe(&same, "ppe", false)
        .unwrap()
        .with_local_model(clmtune::demo::run::LOCAL_MODEL);
    let recs2 = again.submit().unwrap();
    assert!(recs2.iter().all(|r| r.status == Status::Complete));
    for c in &cases {
        let cs =
            std::fs::read_to_string(dir.path().join("cases").join(c).join("CaseStatus")).unwrap();
        assert_eq!(cs.matches("case.run starting").count(), 1, "{c}");
    }
    let nl = std::fs::read_to_string(dir.path().join("cases").join(&cases[0]).join("user_nl_clm"))
        .unwrap();
    let line = nl
        .lines()
        .find(|l| l.starts_with("! clmtune: scalings {"))
        .unwrap_or_else(|| panic!("{nl}"));
    assert!(
        line.contains(&format!("\"kmax\":{}", recs[0].scalings["kmax"].unwrap())),
        "{line}"
    );

    // the none backend analyses the same archive, and names a case that is missing
    let none_cfg = std::fs::read_to_string(&cfg_path)
        .unwrap()
        .replace("kind = \"local\"", "kind = \"none\"")
        .replace("ppe_members = 3", "ppe_members = 4")
        .replace("design/ppe1.csv", "design/four.csv");
    std::fs::write(&cfg_path, none_cfg).unwrap();
    let mut cfg = Config::load(&cfg_path).unwrap();
    // a new design under the same ensemble folder is refused, naming the member
    let four = from_config::ppe(&cfg, "ppe", false).unwrap();
    let e = format!("{:#}", four.submit().unwrap_err());
    assert!(
        e.contains("member 1 in ") && e.contains("use another ensemble folder"),
        "{e}"
    );
    cfg.output.dir = dir.path().join("results_none");
    let four = from_config::ppe(&cfg, "ppe", false).unwrap();
    let e = format!("{:#}", four.submit().unwrap_err());
    // members 1-3 are complete in the archive, but their cases say they were made with the
    // first design's scalings: never taken for the new design's members
    assert!(
        e.contains("ensemble ppe: member 1: case demo_LHC_1 is complete in the archive")
            && e.contains("was made with scalings {\"baseflow_scalar\":")
            && e.contains("its output is not this member's"),
        "{e}"
    );
    // output made outside clmtune (no case folder) is used as it is, whatever made it
    std::fs::rename(dir.path().join("cases"), dir.path().join("cases.moved")).unwrap();
    let e = format!("{:#}", four.submit().unwrap_err());
    assert!(
        e.contains("1 of 4 cases are missing")
            && e.contains("demo_LHC_4 (")
            && e.contains("no history files"),
        "{e}"
    );
}

/// Runs `clmtune run` on a script text with the fake CIME's environment.
fn clmtune_run(dir: &Path, script: &str, args: &[&str], extra_env: &[(&str, &str)]) -> Command {
    let s = dir.join("s.rhai");
    std::fs::write(&s, script).unwrap();
    let mut c = Command::new(bin());
    c.arg("run").arg(&s).arg("--").args(args);
    fake_cime_env(&mut c, dir);
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c
}

fn cime_backend(dir: &Path) -> String {
    common::cime_backend(&dir.join("cases")) + "\nxmlchange = { NTASKS = 72 }"
}

#[test]
fn cime_backend_end_to_end_with_a_fake_cime() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = experiment(d, 3, &cime_backend(d));
    let out = clmtune_run(
        d,
        "import \"experiment\" as ex;\nlet e = ppe(ex::config(OPTIONS));\ne.submit();\ne.wait(#{timeout: 120});\ne.check_complete();\nprint(e.summary());\n",
        &["--config", cfg.to_str().unwrap()],
        &[("FAKE_RUN", "1")],
    )
    .output()
    .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(so.contains("#{\"complete\": 3}"), "{so}");
    let cmds = std::fs::read_to_string(d.join("commands")).unwrap();
    let case1 = d.join("cases/demo_LHC_1");
    // the commands, in order, as argument vectors
    let want_first = format!(
        "create_newcase --case {} --compset I2000Clm50Sp --res f45_f45 --run-unsupported --machine derecho --project P0000",
        case1.display()
    );
    assert_eq!(cmds.lines().next().unwrap(), want_first);
    for line in [
        "demo_LHC_1 xmlchange --id STOP_OPTION --val nyears",
        "demo_LHC_1 xmlchange --id STOP_N --val 2",
        // an MCT case (the fake's default): asked first for CDEPS's name, then MCT's
        "demo_LHC_1 xmlquery --value DATM_YR_START",
        "demo_LHC_1 xmlquery --value DATM_CLMNCEP_YR_START",
        "demo_LHC_1 xmlchange --id DATM_CLMNCEP_YR_START --val 2000",
        "demo_LHC_1 xmlchange --id DATM_CLMNCEP_YR_END --val 2004",
        "demo_LHC_1 xmlchange --id DATM_CLMNCEP_YR_ALIGN --val 1",
        "demo_LHC_1 xmlquery --value DOUT_S_ROOT",
        "demo_LHC_1 xmlchange --id JOB_QUEUE --val regular",
        "demo_LHC_1 xmlchange --id JOB_WALLCLOCK_TIME --val 01:00:00",
        "demo_LHC_1 xmlchange --id NTASKS --val 72",
        "demo_LHC_1 case.setup",
        "demo_LHC_1 case.build",
        "demo_LHC_2 xmlchange --id BUILD_COMPLETE --val TRUE",
        "demo_LHC_3 case.submit",
    ] {
        assert!(
            cmds.lines().any(|l| l.trim_end() == line),
            "missing '{line}' in\n{cmds}"
        );
    }
    assert_eq!(
        cmds.matches("case.build").count(),
        1,
        "one shared build:\n{cmds}"
    );
    // the virtual environment did not leak into CIME's tools
    let env = std::fs::read_to_string(case1.join(".create_env")).unwrap();
    assert!(!env.contains("VIRTUAL_ENV="), "{env}");
    assert!(
        !env.contains(&d.join("venv/bin").display().to_string()),
        "{env}"
    );
    // user_nl_clm lines, job ids and logs in the registry
    let nl = std::fs::read_to_string(case1.join("user_nl_clm")).unwrap();
    assert!(
        nl.contains(&format!(
            "paramfile = '{}/clm5_params.demo.demo_LHC_1.nc'",
            case1.display()
        )),
        "{nl}"
    );
    assert!(
        nl.lines().any(|l| l.starts_with("baseflow_scalar = ")),
        "{nl}"
    );
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("results/ppe/members/1.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(rec["status"], "complete");
    assert_eq!(rec["job_id"], "1001");
    let logs = rec["logs"].as_array().unwrap();
    assert!(logs
        .iter()
        .any(|l| l.as_str().unwrap().ends_with("-case.submit.log")));
    let submit_log = std::fs::read_to_string(
        logs.iter()
            .map(|l| l.as_str().unwrap())
            .find(|l| l.ends_with("case.submit.log"))
            .unwrap(),
    )
    .unwrap();
    assert!(
        submit_log.contains("Submitted job case.run with id 1001"),
        "{submit_log}"
    );
    // the demo model's output came through the CIME case into the archive
    assert!(clmtune::archive::is_complete(
        &d.join("archive"),
        "demo_LHC_2",
        (2, 2)
    ));
    let status = std::fs::read_to_string(d.join("results/ppe/status.csv")).unwrap();
    assert!(status.contains("2,demo_LHC_2,complete,1002,"), "{status}");
}

#[test]
fn kill_9_while_submitting_then_resume_submits_each_member_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = experiment(d, 8, &cime_backend(d));
    let script = "import \"experiment\" as ex;\nlet e = ppe(ex::config(OPTIONS));\ne.submit();\nprint(e.summary());\n";
    let child = clmtune_run(
        d,
        script,
        &["--config", cfg.to_str().unwrap()],
        &[("FAKE_SUBMIT_SLEEP", "0.3")],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let subs = d.join("submissions");
    let before = common::kill_after_submissions(child, d, 3, 120);
    assert!(before < 8, "killed too late: {before} submitted");
    // a submission in flight finishes on its own (the batch system has it); its fake
    // case.submit sleeps 0.3 s, and under a loaded machine (the full suite runs this test
    // beside eleven others) 0.8 s proved too short once: wait 3 s
    std::thread::sleep(std::time::Duration::from_millis(3000));
    let out = clmtune_run(d, script, &["--config", cfg.to_str().unwrap()], &[])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&subs).unwrap();
    let mut cases: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    cases.sort();
    let mut want: Vec<String> = (1..=8).map(|m| format!("demo_LHC_{m}")).collect();
    want.sort();
    assert_eq!(cases, want, "each member submitted exactly once:\n{text}");
    let status = std::fs::read_to_string(d.join("results/ppe/status.csv")).unwrap();
    assert_eq!(status.matches(",submitted,").count(), 8, "{status}");
    // every job id recorded is the one the fake batch system gave that case
    for l in text.lines() {
        let (case, id) = l.split_once(' ').unwrap();
        assert!(
            status.contains(&format!("{case},submitted,{id},")),
            "{case} {id}\n{status}"
        );
    }
    // submitting yet again does nothing
    clmtune_run(d, script, &["--config", cfg.to_str().unwrap()], &[])
        .output()
        .unwrap();
    assert_eq!(std::fs::read_to_string(&subs).unwrap().lines().count(), 8);
}

#[test]
fn cancel_deletes_the_recorded_jobs_with_the_case_batch_system() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = experiment(d, 2, &cime_backend(d));
    let cfg = cfg.to_str().unwrap();
    let ex = "import \"experiment\" as ex;\nlet e = ppe(ex::config(OPTIONS));\n";
    let out = clmtune_run(d, &format!("{ex}e.submit();"), &["--config", cfg], &[])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // without qdel on PATH: an error naming it, and both members stay submitted
    let out = clmtune_run(d, &format!("{ex}e.cancel();"), &["--config", cfg], &[])
        .output()
        .unwrap();
    let se = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        se.contains("2 member(s) not cancelled")
            && se.contains("cannot run qdel 1001 (in ")
            && se.contains("qdel is not a program on PATH")
            && !se.contains("os error"),
        "{se}"
    );
    let status = std::fs::read_to_string(d.join("results/ppe/status.csv")).unwrap();
    assert_eq!(status.matches(",submitted,").count(), 2, "{status}");
    // a fake PBS qdel that records its argv and folder
    let bin = d.join("pbs");
    std::fs::create_dir_all(&bin).unwrap();
    let qdel = bin.join("qdel");
    std::fs::write(
        &qdel,
        "#!/bin/sh\necho \"$(basename \"$PWD\") qdel $*\" >> \"$FAKE_CIME_STATE/commands\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&qdel, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = clmtune_run(
        d,
        &format!(
            "{ex}for r in e.cancel() {{ print(`${{r[\"case\"]}} ${{r.status}} ${{r.message}}`); }}"
        ),
        &["--config", cfg],
        &[(
            "PATH",
            &format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )],
    )
    .output()
    .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{so}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        so.contains("demo_LHC_1 failed cancelled (job 1001)"),
        "{so}"
    );
    assert!(
        so.contains("demo_LHC_2 failed cancelled (job 1002)"),
        "{so}"
    );
    let cmds = std::fs::read_to_string(d.join("commands")).unwrap();
    for l in [
        "demo_LHC_1 xmlquery --value BATCH_SYSTEM",
        "demo_LHC_1 qdel 1001",
        "demo_LHC_2 qdel 1002",
    ] {
        assert!(cmds.lines().any(|c| c == l), "missing '{l}' in\n{cmds}");
    }
    // cancelled members are failed: resubmit_failed submits them again
    let out = clmtune_run(
        d,
        &format!("{ex}e.resubmit_failed(); print(e.summary());"),
        &["--config", cfg],
        &[],
    )
    .output()
    .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(so.contains("#{\"submitted\": 2}"), "{so}");
    assert_eq!(
        std::fs::read_to_string(d.join("commands"))
            .unwrap()
            .matches("case.submit")
            .count(),
        4
    );
}

#[test]
fn dry_run_prints_commands_files_and_namelist_lines_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = experiment(d, 2, &cime_backend(d));
    let before: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let out = clmtune_run(
        d,
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/02_ppe.rhai"))
            .unwrap(),
        &["--config", cfg.to_str().unwrap(), "--dry-run"],
        &[],
    )
    .output()
    .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let case1 = d.join("cases/demo_LHC_1").display().to_string();
    for want in [
        format!(
            "run: (cd {} && {}/cime/scripts/create_newcase --case {case1} --compset I2000Clm50Sp",
            d.join("cases").display(),
            fake_cime().display()
        ),
        format!(
            "run: (cd {case1} && ./xmlchange --id DOUT_S_ROOT --val {}/archive/demo_LHC_1)",
            d.display()
        ),
        format!("run: (cd {case1} && ./xmlquery --value DATM_YR_START)"),
        "(the case answers: CDEPS if it has DATM_YR_START, else MCT's DATM_CLMNCEP_YR_START"
            .to_string(),
        format!("run: (cd {case1} && ./xmlchange --id DATM_YR_START --val 2000)"),
        format!("run: (cd {case1} && ./xmlquery --value DOUT_S_ROOT)"),
        format!("run: (cd {case1} && ./case.setup)"),
        format!("run: (cd {case1} && ./case.submit)"),
        format!("append to {case1}/user_nl_clm:"),
        format!("paramfile = '{case1}/clm5_params.demo.demo_LHC_1.nc'"),
        "kmax[pft 1-78] = ".to_string(),
        "medlynslope[pft 14,17-18,67-68,75-76] = ".to_string(),
        format!("write {}/design/ppe1.csv", d.display()),
        "dry run: ensemble ppe (2 members, backend cime)".to_string(),
    ] {
        assert!(so.contains(&want), "missing '{want}' in\n{so}");
    }
    let after: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        before.len() + 1,
        after.len(),
        "only the test's script was added: {after:?}"
    );
    assert!(!d.join("commands").exists(), "no CIME tool ran");
}

#[test]
fn one_at_a_time_runs_change_one_parameter_each_and_the_default_serves_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::load(&experiment(dir.path(), 3, "kind = \"local\"")).unwrap();
    let runs = from_config::oaat(&cfg, false)
        .unwrap()
        .with_local_model(clmtune::demo::run::LOCAL_MODEL);
    // default + 16 parameters x 2 ends - interception_fraction's max (the default run)
    assert_eq!(runs.members.len(), 32);
    assert_eq!(runs.members[0].case, "demo_default");
    assert_eq!(runs.members[1].case, "demo_medlynslope_min");
    assert!(runs
        .members
        .iter()
        .any(|m| m.case == "demo_interception_fraction_min"));
    assert!(!runs
        .members
        .iter()
        .any(|m| m.case == "demo_interception_fraction_max"));
    // fff at max: only fff in user_nl_clm, and the base params file as it is
    let m = runs
        .members
        .iter()
        .find(|m| m.case == "demo_fff_max")
        .unwrap();
    let (pf, vars, lines) = runs.member_files(m).unwrap();
    assert!(vars.is_empty());
    assert_eq!(pf.unwrap(), dir.path().join("clm5_params.demo.nc"));
    assert_eq!(lines[1], "fff = 5.0");
    assert_eq!(lines.len(), 2, "{lines:?}");
    // the default run writes no parameter at all
    let (_, vars, lines) = runs.member_files(&runs.members[0]).unwrap();
    assert!(vars.is_empty() && lines.len() == 1, "{lines:?}");
}

#[test]
fn a_failed_creation_is_retried_only_by_resubmit_failed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = experiment(d, 3, &cime_backend(d));
    let script = "import \"experiment\" as ex;\nlet e = ppe(ex::config(OPTIONS, [\"again\"]));\nif OPTIONS.again == \"yes\" { e.resubmit_failed(); } else { e.submit(); }\nprint(e.summary());\n";
    let args = ["--config", cfg.to_str().unwrap(), "--again"];
    let out = clmtune_run(
        d,
        script,
        &[&args[..], &["no"]].concat(),
        &[("FAKE_CREATE_FAIL", "demo_LHC_2")],
    )
    .output()
    .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    let se = String::from_utf8_lossy(&out.stderr);
    // the failure is reported, named, with the tool's message and its log
    assert!(!out.status.success());
    assert!(
        se.contains("member 2 (case demo_LHC_2)")
            && se.contains("machine not supported (fake failure)")
            && se.contains("01-create_newcase.log"),
        "{so}\n{se}"
    );
    let status = std::fs::read_to_string(d.join("results/ppe/status.csv")).unwrap_or_default();
    let rec = std::fs::read_to_string(d.join("results/ppe/members/2.json")).unwrap();
    assert!(rec.contains("\"status\": \"failed\""), "{rec}\n{status}");
    // submit again: the failed member stays failed
    let out = clmtune_run(d, script, &[&args[..], &["no"]].concat(), &[])
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(so.contains("\"failed\": 1"), "{so}");
    // resubmit_failed makes and submits it
    let out = clmtune_run(d, script, &[&args[..], &["yes"]].concat(), &[])
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(so.contains("#{\"submitted\": 3}"), "{so}");
    let subs = std::fs::read_to_string(d.join("submissions")).unwrap();
    assert_eq!(subs.lines().count(), 3, "{subs}");
}

#[test]
fn cime_backend_clones_a_built_base_case_with_keepexe() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = d.join("base_case");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(
        base.join("env_case.xml"),
        format!(
            "<entry id=\"CIMEROOT\" value=\"{}\"/>\n",
            fake_cime().join("cime").display()
        ),
    )
    .unwrap();
    let backend = format!(
        "kind = \"cime\"\nbase_case = \"{}\"\ncases_dir = \"{}\"\nproject = \"P0000\"\nstop_years = 2\npoll = 0.2",
        base.display(),
        d.join("cases").display()
    );
    let cfg = experiment(d, 2, &backend);
    let out = clmtune_run(
        d,
        "import \"experiment\" as ex;\nlet e = ppe(ex::config(OPTIONS));\ne.submit();\nprint(e.summary());\n",
        &["--config", cfg.to_str().unwrap()],
        &[],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cmds = std::fs::read_to_string(d.join("commands")).unwrap();
    assert_eq!(
        cmds.lines().next().unwrap(),
        format!(
            "create_clone --case {} --clone {} --keepexe --project P0000",
            d.join("cases/demo_LHC_1").display(),
            base.display()
        )
    );
    assert!(
        !cmds.contains("case.build"),
        "a clone reuses the base case's build:\n{cmds}"
    );
    assert!(!cmds.contains("EXEROOT"), "{cmds}");
    assert_eq!(
        std::fs::read_to_string(d.join("submissions"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[test]
fn an_interrupted_local_run_is_run_again_and_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg_path = experiment(
        d,
        2,
        "kind = \"local\"\nparallel = 1\ncases_dir = \"cases\"",
    );
    let cfg = Config::load(&cfg_path).unwrap();
    let ens = from_config::ppe(&cfg, "ppe", false)
        .unwrap()
        .with_local_model(clmtune::demo::run::LOCAL_MODEL);
    ens.submit().unwrap();
    // as if clmtune was killed while member 2 ran: its record says submitted, its archive
    // is partial, its CaseStatus says the run started
    let rec = d.join("results/ppe/members/2.json");
    let text = std::fs::read_to_string(&rec)
        .unwrap()
        .replace("\"complete\"", "\"submitted\"");
    std::fs::write(&rec, text).unwrap();
    let hist = d.join("archive/demo_LHC_2/lnd/hist");
    std::fs::remove_file(hist.join("demo_LHC_2.clm2.h0.0002-12.nc")).unwrap();
    let cs = d.join("cases/demo_LHC_2/CaseStatus");
    let mut text = std::fs::read_to_string(&cs).unwrap();
    text.push_str("2026-01-01 00:00:00: case.run starting\n");
    std::fs::write(&cs, text).unwrap();
    let recs = ens.submit().unwrap();
    assert!(
        recs.iter().all(|r| r.status == Status::Complete),
        "{recs:?}"
    );
    let runs = |c: &str| {
        std::fs::read_to_string(d.join("cases").join(c).join("CaseStatus"))
            .unwrap()
            .matches("case.run starting")
            .count()
    };
    assert_eq!((runs("demo_LHC_1"), runs("demo_LHC_2")), (1, 3));
}

/// Reported: after one config's runs were complete, running another config (or a mistyped
/// one falling back to the demo config) into the same results folder marked every complete
/// member failed ("history files have gone"), though nothing had gone: the registry was read
/// against the other config's archive. Now the registry refuses a config whose archive is not
/// the one its records were made for, and changes nothing.
#[test]
fn a_results_folder_of_another_archive_is_refused_and_its_complete_members_stay_complete() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = Config::load(&experiment(d, 1, "kind = \"none\"")).unwrap();
    // the default case complete for the analysed year 2: twelve monthly files
    for m in 1..=12 {
        let p = clmtune::archive::hist_path(&cfg.archive.root, "demo_default", 2, m);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, b"").unwrap();
    }
    let run = from_config::default_run(&cfg, false).unwrap();
    run.submit().unwrap();
    // the registry records it complete
    let recs = run.status().unwrap();
    assert_eq!(recs[0].status, Status::Complete);
    let record = d.join("results/default/members/default.json");
    let before = std::fs::read_to_string(&record).unwrap();

    // the same results folder, another archive (an empty one)
    let mut other = cfg.clone();
    other.archive.root = d.join("elsewhere");
    let e = from_config::default_run(&other, false).unwrap();
    for err in [e.status().unwrap_err(), e.submit().unwrap_err()] {
        let err = format!("{err:#}");
        assert!(
            err.contains("member default in ")
                && err.contains(&format!(
                    "was made for the history folder {}",
                    d.join("archive/demo_default/lnd/hist").display()
                ))
                && err.contains("use another results folder (--out DIR)"),
            "{err}"
        );
    }
    assert_eq!(std::fs::read_to_string(&record).unwrap(), before);
    assert_eq!(run.status().unwrap()[0].status, Status::Complete);

    // files really gone: failed, naming the months
    std::fs::remove_file(clmtune::archive::hist_path(
        &cfg.archive.root,
        "demo_default",
        2,
        7,
    ))
    .unwrap();
    let recs = run.status().unwrap();
    assert_eq!(recs[0].status, Status::Failed);
    assert_eq!(
        recs[0].message.as_deref().unwrap(),
        format!(
            "the case was complete, but 1 months of years 2-2 are now missing from {} (first: 0002-07)",
            d.join("archive/demo_default/lnd/hist").display()
        )
    );
}

/// The ensemble functions read the config's spec once per file version: the same spec while
/// the files are unchanged, the new one as soon as the spec (or its base params file) changes.
#[test]
fn the_spec_is_read_once_per_file_version() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::load(&experiment(dir.path(), 2, "kind = \"none\"")).unwrap();
    let a = from_config::oaat(&cfg, false).unwrap();
    let b = from_config::oaat(&cfg, false).unwrap();
    assert_eq!(a.params, b.params);
    let kmax = |e: &clmtune::ensemble::Ensemble| {
        e.params
            .iter()
            .find(|p| p.name == "kmax")
            .unwrap()
            .writes(1.0)[0]
            .value
    };
    assert_eq!(kmax(&a), 3.8e-8);
    // a new max for kmax (the file's size changes, so a same-second edit is seen too)
    let spec = &cfg.parameters.spec;
    let text = std::fs::read_to_string(spec).unwrap();
    std::fs::write(spec, text.replacen("max = 3.8e-8", "max = 3.85e-8", 1)).unwrap();
    let c = from_config::oaat(&cfg, false).unwrap();
    assert_eq!(kmax(&c), 3.85e-8);
}

/// A CTSM 5.x case (CDEPS: `DATM_YR_START/END/ALIGN`) gets the DATM years under its own
/// names, asked with `./xmlquery`, and `[backend] user_nl_clm` lines reach every member; the
/// demo model runs in it and reads DATM_YR_*.
#[test]
fn a_cdeps_case_gets_datm_yr_and_the_config_user_nl_clm_lines() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let backend =
        cime_backend(d) + "\nuser_nl_clm = [\"hist_mfilt = 1\", \"hist_nhtfrq(1) = 0 ! monthly\"]";
    let cfg = experiment(d, 2, &backend);
    let out = clmtune_run(
        d,
        "import \"experiment\" as ex;\nlet e = ppe(ex::config(OPTIONS));\ne.submit();\ne.wait(#{timeout: 120});\ne.check_complete();\nprint(e.summary());\n",
        &["--config", cfg.to_str().unwrap()],
        &[("FAKE_RUN", "1"), ("FAKE_CIME_DATM", "cdeps")],
    )
    .output()
    .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(so.contains("#{\"complete\": 2}"), "{so}");
    let cmds = std::fs::read_to_string(d.join("commands")).unwrap();
    for line in [
        "demo_LHC_2 xmlquery --value DATM_YR_START",
        "demo_LHC_2 xmlquery --value RUN_STARTDATE",
        "demo_LHC_2 xmlchange --id DATM_YR_START --val 2000",
        "demo_LHC_2 xmlchange --id DATM_YR_END --val 2004",
        "demo_LHC_2 xmlchange --id DATM_YR_ALIGN --val 1",
        "demo_LHC_2 xmlquery --value DOUT_S_ROOT",
    ] {
        assert!(
            cmds.lines().any(|l| l.trim_end() == line),
            "missing '{line}' in\n{cmds}"
        );
    }
    assert!(!cmds.contains("CLMNCEP"), "{cmds}");
    // CDEPS was found on the first question: MCT's name was never asked
    for case in ["demo_LHC_1", "demo_LHC_2"] {
        let nl = std::fs::read_to_string(d.join("cases").join(case).join("user_nl_clm")).unwrap();
        let lines: Vec<&str> = nl.lines().collect();
        assert_eq!(
            &lines[lines.len() - 2..],
            ["hist_mfilt = 1", "hist_nhtfrq(1) = 0 ! monthly"],
            "{nl}"
        );
    }
    // the demo model read the CDEPS years from the case it ran in
    let env = std::fs::read_to_string(d.join("cases/demo_LHC_1/env_run.xml")).unwrap();
    assert!(
        env.contains("<entry id=\"DATM_YR_START\" value=\"2000\"/>"),
        "{env}"
    );
    assert!(clmtune::archive::is_complete(
        &d.join("archive"),
        "demo_LHC_1",
        (2, 2)
    ));
}

/// A case with neither DATM variable is refused naming the case and both names; a user_nl_clm
/// line that is not a namelist assignment is refused naming the line before anything runs.
#[test]
fn a_case_without_datm_and_a_bad_user_nl_clm_line_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = experiment(d, 1, &cime_backend(d));
    let script = "import \"experiment\" as ex;\nlet e = ppe(ex::config(OPTIONS));\ne.submit();\n";
    let out = clmtune_run(
        d,
        script,
        &["--config", cfg.to_str().unwrap()],
        &[("FAKE_CIME_DATM", "none")],
    )
    .output()
    .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("case demo_LHC_1: datm_years is set but ./xmlquery finds neither DATM_YR_START (CTSM 5.x, CDEPS) nor DATM_CLMNCEP_YR_START (MCT)")
            && all.contains("No results found for variable DATM_CLMNCEP_YR_START"),
        "{all}"
    );
    let cmds = std::fs::read_to_string(d.join("commands")).unwrap();
    assert!(!cmds.contains("case.submit"), "{cmds}");

    let d2 = d.join("second");
    std::fs::create_dir_all(&d2).unwrap();
    let cfg = experiment(
        &d2,
        1,
        &(cime_backend(&d2) + "\nuser_nl_clm = [\"hist_mfilt = 12\", \"hist_fincl2 = 'TLAI\"]"),
    );
    let out = clmtune_run(&d2, script, &["--config", cfg.to_str().unwrap()], &[])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains(
            "[backend] user_nl_clm line 2 'hist_fincl2 = 'TLAI': the quotes are not balanced"
        ),
        "{all}"
    );
    assert!(!d2.join("commands").exists(), "nothing ran");
}

/// CIME variables in paths: a base case's CIMEROOT of `$ENV{...}` is expanded by its
/// `./xmlquery --value CIMEROOT`, or refused naming base_case and CIMEROOT when it cannot be;
/// an [archive] root holding `$` is refused naming the setting. No folder with a `$` in its
/// name is ever made.
#[test]
fn cime_variables_in_paths_are_expanded_by_xmlquery_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = d.join("base_case");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(
        base.join("env_case.xml"),
        "<entry id=\"CASE\" value=\"base_case\"/>\n<entry id=\"CIMEROOT\" value=\"$ENV{FAKE_CTSM}/cime\"/>\n",
    )
    .unwrap();
    std::fs::write(base.join("env_run.xml"), "").unwrap();
    std::fs::copy(
        fake_cime().join("cime/scripts/case_tools/xmlquery"),
        base.join("xmlquery"),
    )
    .unwrap();
    let backend = format!(
        "kind = \"cime\"\nbase_case = \"{}\"\ncases_dir = \"{}\"\nstop_years = 2\npoll = 0.2",
        base.display(),
        d.join("cases").display()
    );
    let cfg = experiment(d, 1, &backend);
    let script = "import \"experiment\" as ex;\nlet e = ppe(ex::config(OPTIONS));\ne.submit();\n";
    let fake = fake_cime().display().to_string();
    // expanded: the clone is made with the fake CIME's create_clone
    let out = clmtune_run(
        d,
        script,
        &["--config", cfg.to_str().unwrap()],
        &[("FAKE_CTSM", fake.as_str())],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cmds = std::fs::read_to_string(d.join("commands")).unwrap();
    let lines: Vec<&str> = cmds.lines().collect();
    assert_eq!(lines[0], "base_case xmlquery --value CIMEROOT", "{cmds}");
    assert_eq!(
        lines[1],
        format!(
            "create_clone --case {} --clone {} --keepexe",
            d.join("cases/demo_LHC_1").display(),
            base.display()
        ),
        "the expanded CIMEROOT's create_clone:\n{cmds}"
    );
    // not expandable: refused, naming the base case and the setting
    std::fs::remove_dir_all(d.join("cases")).unwrap();
    std::fs::remove_dir_all(d.join("results")).unwrap();
    let out = clmtune_run(d, script, &["--config", cfg.to_str().unwrap()], &[])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "base_case {}: CIMEROOT = '$ENV{{FAKE_CTSM}}/cime' in env_case.xml and ./xmlquery --value CIMEROOT cannot expand it (ERROR: Undefined env var 'FAKE_CTSM')",
            base.display()
        )),
        "{err}"
    );
    // a '$' in [archive] root is refused before anything is made
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("root = \"archive\"", "root = \"$ENV{SCRATCH}/archive\""),
    )
    .unwrap();
    let out = clmtune_run(
        d,
        script,
        &["--config", cfg.to_str().unwrap()],
        &[("FAKE_CTSM", fake.as_str())],
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[archive] root = '") && err.contains("$ENV{SCRATCH}/archive' holds a '$'"),
        "{err}"
    );
    // nowhere a folder named after a variable
    fn walk(p: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.contains('$') {
                out.push(e.path().display().to_string());
            }
            if e.path().is_dir() {
                walk(&e.path(), out);
            }
        }
    }
    let mut bad = Vec::new();
    walk(d, &mut bad);
    assert!(bad.is_empty(), "{bad:?}");
}
