//! Dry runs: what a stage reads from the stages before it, checked before it runs, every
//! problem reported at once (`check_results`). The EOF stage's own check of the archive and
//! the observations is `check_eof_inputs` (module `eof`).

use super::convert::{script_err, RResult};
use super::emulate::ScriptEmulators;
use super::eof::ScriptEofStage;
use rhai::plugin::*;
use rhai::{Array, Dynamic, Map, Module};
use std::sync::Arc;

/// The results a stage can read, in the order they are checked: the name `check_results`
/// takes, the folder under `[output] dir`, and the script that writes it.
pub const RESULTS: &[(&str, &str, &str)] = &[
    ("eof", "eof", "03_eof.rhai"),
    ("emulator", "emulator", "04_emulate.rhai"),
    ("calibrate", "calibrate", "06_calibrate.rhai"),
];

/// What [`check`] found: lines to print and problems.
#[derive(Default)]
struct Found {
    checked: Vec<String>,
    problems: Vec<String>,
}

/// Checks the saved results `names` (from [`RESULTS`], and `archive`: the config's
/// archive is the one the EOF stage was made from) of the config `c`.
fn check(ctx: &NativeCallContext, cfg: &Map, c: &crate::config::Config, names: &[String]) -> Found {
    let out = &c.output.dir;
    let mut f = Found::default();
    let wants = |n: &str| names.iter().any(|x| x == n);
    let hint = |name: &str| {
        let (_, _, script) = RESULTS
            .iter()
            .find(|r| r.0 == name)
            .copied()
            .unwrap_or_default();
        format!("{script} writes it: run it first, or give the --out of the run that did")
    };
    // the EOF stage: read whenever a later result needs it
    let needs_stage = wants("eof") || wants("archive") || wants("emulator") || wants("calibrate");
    let stage = if needs_stage {
        let dir = out.join("eof");
        match crate::eof::stage::EofStage::load(&dir) {
            Ok(s) => {
                f.checked.push(format!(
                    "{}: the EOF stage of {} ({} members, {} modes)",
                    crate::format::quote_path(&dir),
                    s.variables
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    s.ppe.cases.len(),
                    s.settings.modes
                ));
                Some(Arc::new(s))
            }
            Err(e) => {
                f.problems.push(format!("{e:#} ({})", hint("eof")));
                None
            }
        }
    } else {
        None
    };
    if wants("archive") {
        if let Some(s) = &stage {
            if let Err(e) = super::test_case::test_case_fns::check_archive(
                cfg.clone(),
                ScriptEofStage(s.clone()),
            ) {
                f.problems.push(super::error::message(&e));
            }
        }
    }
    let needs_ems = wants("emulator") || wants("calibrate");
    let ems = if needs_ems {
        let dir = out.join("emulator");
        match crate::emulate::stage::EmulatorStage::load(&dir) {
            Ok(e) => {
                let mut line = format!("{}: emulators", crate::format::quote_path(&dir));
                if let Some(s) = &stage {
                    let named = c.calibration.as_ref().and_then(|k| k.emulator.as_ref());
                    let mut chosen = Vec::new();
                    for v in &s.variables {
                        match e.choice(&v.name) {
                            Ok(have) => {
                                chosen.push(format!("{} {have}", v.name));
                                if let Some(want) = named.and_then(|n| n.for_variable(&v.name)) {
                                    if want != have {
                                        f.problems.push(format!(
                                            "the config's [calibration] emulator names {want} for {}, but {} has {have}: run 04_emulate.rhai again",
                                            v.name,
                                            crate::format::quote_path(&dir.join("choice.csv"))
                                        ));
                                    }
                                }
                            }
                            Err(err) => f.problems.push(format!("{err:#}")),
                        }
                    }
                    line.push_str(&format!(" (calibration uses {})", chosen.join(", ")));
                }
                f.checked.push(line);
                Some(e)
            }
            Err(e) => {
                f.problems.push(format!("{e:#} ({})", hint("emulator")));
                None
            }
        }
    } else {
        None
    };
    if wants("calibrate") {
        let dir = out.join("calibrate");
        let mut ok = true;
        if let (Some(s), Some(e)) = (&stage, ems) {
            let targets = super::calibrate::calibrate_fns::targets(ScriptEofStage(s.clone()));
            let cost = targets.and_then(|t| {
                super::calibrate::load_cost_from(
                    ctx,
                    &dir,
                    &Dynamic::from(ScriptEmulators(Arc::new(e))),
                    &t,
                )
            });
            if let Err(e) = cost {
                f.problems.push(super::error::message(&e));
                ok = false;
            }
        }
        if let Err(e) = super::test_case::test_case_fns::load_optimum(&dir.display().to_string()) {
            f.problems.push(format!(
                "{} ({})",
                super::error::message(&e),
                hint("calibrate")
            ));
            ok = false;
        }
        if ok {
            f.checked.push(format!(
                "{}: the cost (cost.json) and the optimum (optimum.csv)",
                crate::format::quote_path(&dir)
            ));
        }
    }
    f
}

#[export_module]
pub mod check_fns {
    use super::*;

    /// For a dry run of a stage that reads earlier stages' results: opens each of `stages`
    /// in the config's `[output] dir` as the stage will, and reports every problem at once
    /// in one error. Names: `"eof"` (the EOF stage 03 saved), `"emulator"` (04's emulators,
    /// and that the config's `[calibration] emulator` is the one 04 chose), `"calibrate"`
    /// (06's cost.json, still matching the stages it came from, and optimum.csv), `"archive"`
    /// (the config's archive is the one the EOF stage read). Prints what it checked.
    ///
    /// ```rhai
    /// import "experiment" as ex;
    /// let cfg = ex::config(#{config: `${TEMP_DIR}/exp.toml`, out: `${TEMP_DIR}/none_yet`, "dry-run": true});
    /// let msg = "";
    /// try { check_results(cfg, ["eof", "emulator"]); } catch (e) { msg = e; }
    /// msg.contains("2 problem(s)")    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn check_results(ctx: NativeCallContext, cfg: Map, stages: Array) -> RResult<()> {
        let (c, _) = crate::script::config::config_from_map(&cfg)?;
        let mut known: Vec<String> = RESULTS.iter().map(|r| r.0.to_string()).collect();
        known.push("archive".into());
        let mut names = Vec::new();
        for s in stages {
            let name = s.into_string().map_err(|t| {
                script_err(format!(
                    "check_results: stages are names ({}), not {t}",
                    known.join(", ")
                ))
            })?;
            if !known.contains(&name) {
                let near = crate::format::closest_names(&name, &known);
                return Err(script_err(format!(
                    "check_results: unknown stage '{}'{} (known: {})",
                    crate::format::printable(&name),
                    near.first()
                        .map(|n| format!(": did you mean '{n}'?"))
                        .unwrap_or_default(),
                    known.join(", ")
                )));
            }
            names.push(name);
        }
        let f = check(&ctx, &cfg, &c, &names);
        if !f.problems.is_empty() {
            return Err(script_err(format!(
                "dry run: {} problem(s) with what this stage reads:\n  {}",
                f.problems.len(),
                f.problems.join("\n  ")
            )));
        }
        for line in f.checked {
            crate::output::println(&format!("dry run: read {line}"));
        }
        Ok(())
    }
}

/// The Rhai module of dry-run checks.
pub fn module() -> Module {
    exported_module!(check_fns)
}
