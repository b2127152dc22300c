//! The `run` module: running a script from another (the whole-workflow demo runs every stage
//! script), each run recorded in `run.json` (see [`crate::provenance`]); whether a recorded
//! run can be reused; reading JSON results.

use super::convert::{script_err, RResult};
use rhai::plugin::*;
use rhai::{Dynamic, Map};
use std::path::{Path, PathBuf};

/// The command-line arguments equivalent to an options map, so that a script run by
/// another sees the same `ARGS` and `OPTIONS` as from `clmtune run FILE -- ARGS`: a string,
/// number or other value `v` under `key` gives `--key v`, `true` gives `--key`, `false` and
/// `()` give nothing; the list under the empty key (arguments that are not options) comes
/// first.
pub fn args_of(options: &Map) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(pos) = options.get(super::POSITIONAL_KEY) {
        match pos.read_lock::<rhai::Array>() {
            Some(list) => args.extend(list.iter().map(|x| x.to_string())),
            None => args.push(pos.to_string()),
        }
    }
    for (k, v) in options {
        if k.as_str() == super::POSITIONAL_KEY || v.is_unit() || v.as_bool() == Ok(false) {
            continue;
        }
        args.push(format!("--{k}"));
        if v.as_bool() != Ok(true) {
            args.push(v.to_string());
        }
    }
    args
}

/// Where a script named by another is: an absolute path as it is; a relative one beside the
/// calling script if it is there (the stage scripts beside `demo.rhai`), else relative to
/// the current folder.
fn locate(caller: Option<&str>, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    if let Some(dir) = caller
        .filter(|s| !s.starts_with('<'))
        .and_then(|s| Path::new(s).parent())
    {
        let beside = dir.join(p);
        if beside.is_file() {
            return beside;
        }
    }
    p.to_path_buf()
}

/// Runs a script file in a fresh engine with `args`, recorded as a run of its own (its key
/// in `run.json`) and as a step of the calling run. The error is the script's whole report
/// (file, line, caret).
pub fn run_nested(script: &Path, args: &[String]) -> Result<Dynamic, String> {
    let _step = crate::provenance::step(&format!("run {}", script.display()));
    crate::provenance::begin(script, args)?;
    let engine = super::engine();
    let mut scope = super::base_scope(&script.display().to_string(), args);
    let result = super::compile_file(&engine, &scope, script)
        .map_err(|e| format!("{e:#}"))
        .and_then(|ast| super::run_ast(&engine, &mut scope, &ast).map_err(|e| e.to_string()));
    let recorded = crate::provenance::end(result.as_ref().err().map(String::as_str));
    match (result, recorded) {
        (Err(e), _) => Err(e),
        (Ok(_), Some(Err(e))) => Err(format!("{e:#}")),
        (Ok(v), _) => Ok(v),
    }
}

/// The functions of the `run` module.
#[export_module]
pub mod run_fns {
    /// Runs another script with its options, as `clmtune run FILE -- --key value ...` would,
    /// in a fresh engine (its own `OPTIONS`, `ARGS` and `SCRIPT`; nothing of the caller's
    /// variables), and returns its last value. A relative path is looked up beside the
    /// calling script first, then in the current folder. The run is recorded in `run.json`
    /// under the script's name and as a step of the caller. An error in the script stops the
    /// caller with the script's own report (its file, line and the line itself); a script
    /// that is already running (a script running itself, directly or through others) is
    /// refused. Option values: a string or number gives `--key value`, `true` a flag.
    ///
    /// ```rhai
    /// let s = `${TEMP_DIR}/hello.rhai`;
    /// run_script(s, #{name: "world"})        //=> hello world
    /// let msg = "";
    /// try { run_script(`${TEMP_DIR}/self.rhai`, #{}); } catch (e) { msg = e; }
    /// msg.contains("is already running")     //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn run_script(ctx: NativeCallContext, path: &str, options: Map) -> RResult<Dynamic> {
        let script = locate(ctx.call_source(), path);
        if std::fs::symlink_metadata(&script).is_ok() && !script.is_file() {
            return Err(script_err(format!(
                "run_script: {:#}",
                crate::files::check_input(&script, "script").unwrap_err()
            )));
        }
        if !script.is_file() {
            return Err(script_err(format!(
                "run_script: no script {} (relative paths are looked up beside the calling \
                 script, then in the current folder)",
                script.display()
            )));
        }
        run_nested(&script, &args_of(&options))
            .map_err(|e| script_err(format!("run_script {}:\n{e}", script.display())))
    }

    /// Why the script at `path` run with `options` must run again for the results folder
    /// `dir`, or `""` if its last run recorded in `dir/run.json` can be reused: that run
    /// succeeded with the same options and the same clmtune build, the script, the modules
    /// it imported and its config are unchanged (SHA-256 of their text), every input's
    /// fingerprint is as recorded (size and content hash of files, names, sizes and times of
    /// the files of big folders such as history archives), and what it wrote is still there.
    /// The whole-workflow demo skips a stage when this is `""`.
    ///
    /// ```rhai
    /// rerun_reason(`${TEMP_DIR}/hello.rhai`, #{}, `${TEMP_DIR}/nowhere`).starts_with("no earlier run")    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn rerun_reason(
        ctx: NativeCallContext,
        path: &str,
        options: Map,
        dir: &str,
    ) -> RResult<String> {
        let script = locate(ctx.call_source(), path);
        Ok(
            crate::provenance::rerun_reason(Path::new(dir), &script, &args_of(&options))
                .unwrap_or_default(),
        )
    }

    /// Reads a JSON file (e.g. `run.json`, or the settings and counts a stage saved beside
    /// its tables, such as `calibrate/nroy_wave1.json`) into script values: objects become
    /// maps, arrays lists, numbers int or float.
    ///
    /// ```rhai
    /// let j = read_json(`${TEMP_DIR}/small.json`);
    /// j.name             //=> demo
    /// j.fractions[1]     //=> 0.25
    /// ```
    #[rhai_fn(return_raw)]
    pub fn read_json(path: &str) -> RResult<Dynamic> {
        let v: serde_json::Value = crate::files::read_json(Path::new(path), "JSON file")
            .map_err(|e| script_err(format!("{e:#}")))?;
        rhai::serde::to_dynamic(&v).map_err(|e| script_err(format!("{path}: {e}")))
    }

    /// Runs a stage script as `run_script(path, options)` does, unless its last run in
    /// the results folder `settings.dir` can be reused (`rerun_reason` is `""`): prints
    /// `=== NAME: up to date in DIR, reused (--fresh runs it again)`, or `=== NAME (why it
    /// runs)`, then runs it and prints `=== NAME: SECONDS s`. `settings.fresh` (true) runs it
    /// whatever `run.json` says; a dry run (`"dry-run"` in `options`) is always run. Returns
    /// whether it ran.
    ///
    /// ```rhai
    /// run_stage(`${TEMP_DIR}/hello.rhai`, #{name: "stage"}, #{dir: `${TEMP_DIR}/nowhere`})    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn run_stage(
        ctx: NativeCallContext,
        path: &str,
        options: Map,
        settings: Map,
    ) -> RResult<bool> {
        let mut dir = None;
        let mut fresh = false;
        for (k, v) in &settings {
            match k.as_str() {
                "dir" => dir = Some(v.to_string()),
                "fresh" => {
                    fresh = v.as_bool().map_err(|t| {
                        script_err(format!("run_stage: fresh is true or false, not {t}"))
                    })?
                }
                _ => {
                    return Err(script_err(format!(
                        "run_stage: unknown setting '{}' (known: dir, fresh)",
                        crate::format::printable(k)
                    )))
                }
            }
        }
        let dir =
            dir.ok_or_else(|| script_err("run_stage: settings need dir, the results folder"))?;
        let name = path;
        let dry = options.contains_key("dry-run");
        if dry || fresh {
            crate::output::println(&format!("=== {name}"));
        } else {
            let script = locate(ctx.call_source(), path);
            let why = crate::provenance::rerun_reason(Path::new(&dir), &script, &args_of(&options))
                .unwrap_or_default();
            if why.is_empty() {
                crate::output::println(&format!(
                    "=== {name}: up to date in {dir}, reused (--fresh runs it again)"
                ));
                return Ok(false);
            }
            crate::output::println(&format!("=== {name} ({why})"));
        }
        let t = std::time::Instant::now();
        let _ = run_script(ctx, path, options)?;
        crate::output::println(&format!(
            "=== {name}: {} s",
            crate::format::format_spec(t.elapsed().as_secs_f64(), ".1f").unwrap_or_default()
        ));
        Ok(true)
    }

    /// The summary of a whole workflow (what `demo.rhai` prints at its end), read from the
    /// results files of stages 01-07 in the config's `[output] dir`: the parameters proposed
    /// and calibrated, the variance the EOFs keep, the chosen emulators' out-of-sample skill,
    /// the cost at the default run and the optimum, what the data constrain (and the truth,
    /// for synthetic observations), the plausible fraction after each wave, Table 2 and the
    /// test case's RMSE against the observations.
    #[rhai_fn(return_raw)]
    pub fn summary(cfg: Map) -> RResult<String> {
        let (c, _) = crate::script::config::config_from_map(&cfg)?;
        let variables = c
            .observations
            .as_ref()
            .map(|o| o.variables.keys().cloned().collect())
            .unwrap_or_default();
        let truth = match &c.observations {
            Some(o) => crate::demo::setup::truth_beside(&o.file)
                .map_err(|e| script_err(format!("{e:#}")))?,
            None => Default::default(),
        };
        let inputs = crate::summary::Inputs {
            out: c.output.dir.clone(),
            calibrated: c.parameters.calibrate.clone(),
            modes: c.emulator.as_ref().map_or(3, |e| e.modes),
            variables,
            truth,
        };
        let lines = crate::summary::summary(&inputs).map_err(|e| {
            script_err(format!(
                "summary of {}: {e:#} (every stage 01-07 writes its part)",
                crate::format::quote_path(&c.output.dir)
            ))
        })?;
        Ok(lines.join("\n"))
    }

    /// Writes `dir/report.html` (the results folder, e.g. `cfg.output.dir`): one page with
    /// the summary, every stage's figures with captions and key tables, and what ran
    /// (run.json); says on top when the observations are the demo's synthetic twin. Returns
    /// its path.
    #[rhai_fn(return_raw)]
    pub fn report(dir: &str) -> RResult<String> {
        crate::report::write(std::path::Path::new(dir))
            .map(|p| p.display().to_string())
            .map_err(|e| script_err(format!("{e:#}")))
    }

    /// Runs another script without options (see `run_script(path, options)`).
    ///
    /// ```rhai
    /// run_script(`${TEMP_DIR}/hello.rhai`)    //=> hello nobody
    /// ```
    #[rhai_fn(name = "run_script", return_raw)]
    pub fn run_script_plain(ctx: NativeCallContext, path: &str) -> RResult<Dynamic> {
        run_script(ctx, path, Map::new())
    }
}

/// The `run` module.
pub fn module() -> Module {
    exported_module!(run_fns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_the_same_arguments() {
        let mut m = Map::new();
        m.insert("config".into(), "a.toml".into());
        m.insert("dry-run".into(), Dynamic::TRUE);
        m.insert("quick".into(), Dynamic::FALSE);
        m.insert("seed".into(), Dynamic::from(7_i64));
        let args = args_of(&m);
        // the map of these arguments is the map we started from (less the false flag)
        let back = super::super::options_map(&args);
        assert_eq!(back.len(), 3);
        assert_eq!(back["config"].clone().into_string().unwrap(), "a.toml");
        assert!(back["dry-run"].as_bool().unwrap());
        assert_eq!(back["seed"].clone().into_string().unwrap(), "7");
        assert_eq!(args.len(), 5, "{args:?}");
    }
}
