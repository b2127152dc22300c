//! The `ensemble` module: designs, and ensembles of CLM runs made, submitted, watched and
//! waited for from a script. Members come back as maps.

use super::array::NdArray;
use super::convert::{script_err, RResult};
use crate::config::Config;
use crate::ensemble::{self, from_config, Ensemble, Record};
use rhai::plugin::*;
use rhai::{Array, Dynamic, Map, Module, INT};
use std::sync::Arc;

/// An ensemble of runs (script type `Ensemble`).
#[derive(Clone, Debug)]
pub struct ScriptEnsemble(pub Arc<Ensemble>);

fn err(e: anyhow::Error) -> Box<EvalAltResult> {
    script_err(format!("{e:#}"))
}

/// The config and `dry_run` flag of a config map from `experiment::config`, checked
/// ([`super::config::config_from_map`]).
pub(crate) fn config_of(cfg: &Map) -> RResult<(Config, bool)> {
    super::config::config_from_map(cfg)
}

fn records(r: anyhow::Result<Vec<Record>>) -> RResult<Array> {
    r.map_err(err)?
        .iter()
        .map(|r| rhai::serde::to_dynamic(r).map_err(|e| script_err(e.to_string())))
        .collect()
}

fn strings(a: &Array, what: &str) -> RResult<Vec<String>> {
    a.iter()
        .map(|x| {
            x.clone()
                .into_string()
                .map_err(|_| script_err(format!("{what} must be strings")))
        })
        .collect()
}

/// The members of `ens` the later stages use ([`Ensemble::usable`]); members dropped by
/// `[cases] failed = "drop"` are said on the output and recorded in `run.json`.
pub(crate) fn usable(ens: &Ensemble) -> RResult<ensemble::Usable> {
    let u = ens.usable().map_err(err)?;
    if let Some(note) = ensemble::failed::note(&ens.name, u.complete.len(), &u.dropped) {
        crate::output::println(&note);
        crate::provenance::members(&ens.name, dropped_json(ens, &u));
    }
    Ok(u)
}

/// What `run.json` records of an ensemble with dropped members.
pub(crate) fn dropped_json(ens: &Ensemble, u: &ensemble::Usable) -> serde_json::Value {
    serde_json::json!({
        "policy": ens.settings.failed.to_string(),
        "members": ens.members.len(),
        "used": u.complete.len(),
        "dropped": u.dropped,
    })
}

/// The functions of the `ensemble` module.
#[export_module]
pub mod ensemble_fns {
    use super::*;

    /// An ensemble of CLM runs: members (parameter scalings), their cases, and a registry in
    /// the ensemble's folder that survives crashes.
    pub type Ensemble = ScriptEnsemble;

    /// The perturbed-parameter ensemble of the calibrated parameters (Dagon et al. 2020,
    /// section 2.4): the design from `[cases] ppe_design`, or a seeded maximin Latin
    /// hypercube of `ppe_members` saved there when the file does not exist; cases named by
    /// `[cases] ppe`; registry, logs, `design.csv` and `status.csv` in `OUT/ppe`. Nothing is
    /// made until `create` or `submit`.
    ///
    /// ```rhai
    /// import "experiment" as ex;
    /// let cfg = ex::config(#{out: `${TEMP_DIR}/out`});
    /// let ens = ppe(cfg);
    /// ens.len()                //=> 100
    /// ens.cases[0]             //=> demo_LHC_1
    /// ens.parameters.len()     //=> 6
    /// ```
    #[rhai_fn(return_raw)]
    pub fn ppe(cfg: Map) -> RResult<ScriptEnsemble> {
        let (c, dry) = config_of(&cfg)?;
        from_config::ppe(&c, "ppe", dry)
            .map(|e| ScriptEnsemble(Arc::new(e.with_local_model(crate::demo::run::LOCAL_MODEL))))
            .map_err(err)
    }

    /// The second, independent perturbed-parameter ensemble (`[cases] ppe_test`, another
    /// hypercube) for out-of-sample tests; kept in `OUT/ppe_test`.
    #[rhai_fn(return_raw)]
    pub fn ppe_test(cfg: Map) -> RResult<ScriptEnsemble> {
        let (c, dry) = config_of(&cfg)?;
        from_config::ppe(&c, "ppe_test", dry)
            .map(|e| ScriptEnsemble(Arc::new(e.with_local_model(crate::demo::run::LOCAL_MODEL))))
            .map_err(err)
    }

    /// The one-at-a-time runs of the sensitivity stage (section 2.2): the default case, then
    /// each `[parameters] sensitivity` parameter (all in the spec if empty) at its min and
    /// max with the others at their defaults; an end marked `oaat_default_as` is the default
    /// case. Kept in `OUT/oaat`.
    ///
    /// ```rhai
    /// import "experiment" as ex;
    /// let runs = oaat_runs(ex::config(#{out: `${TEMP_DIR}/out`}));
    /// runs.cases[0]     //=> demo_default
    /// runs.cases[1]     //=> demo_medlynslope_min
    /// ```
    #[rhai_fn(return_raw)]
    pub fn oaat_runs(cfg: Map) -> RResult<ScriptEnsemble> {
        let (c, dry) = config_of(&cfg)?;
        from_config::oaat(&c, dry)
            .map(|e| ScriptEnsemble(Arc::new(e.with_local_model(crate::demo::run::LOCAL_MODEL))))
            .map_err(err)
    }

    /// The default-parameter run (`[cases] default`): a one-member ensemble with no
    /// parameter varied, kept in `OUT/default`.
    ///
    /// ```rhai
    /// import "experiment" as ex;
    /// let d = default_run(ex::config(#{out: `${TEMP_DIR}/out`}));
    /// d.cases       //=> ["demo_default"]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn default_run(cfg: Map) -> RResult<ScriptEnsemble> {
        let (c, dry) = config_of(&cfg)?;
        from_config::default_run(&c, dry)
            .map(|e| ScriptEnsemble(Arc::new(e.with_local_model(crate::demo::run::LOCAL_MODEL))))
            .map_err(err)
    }

    /// An ensemble of given parameter sets, e.g. an optimum to test in CLM: `name` (its
    /// folder `OUT/name`), the parameter names, rows of scalings in [0, 1], and a case
    /// pattern with `{member}` (1, 2, ...).
    ///
    /// ```rhai
    /// import "experiment" as ex;
    /// let cfg = ex::config(#{out: `${TEMP_DIR}/out`});
    /// let t = ensemble(cfg, "optimum", ["kmax", "fff"], [[0.5, 0.25]], "demo_opt_{member}");
    /// t.cases       //=> ["demo_opt_1"]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn ensemble(
        cfg: Map,
        name: &str,
        parameters: Array,
        scalings: Array,
        case_pattern: &str,
    ) -> RResult<ScriptEnsemble> {
        let (c, dry) = config_of(&cfg)?;
        let names = strings(&parameters, "parameter names")?;
        let rows: Vec<Vec<f64>> = if let Some(a) = scalings
            .first()
            .and_then(|x| x.read_lock::<NdArray>().map(|a| a.data().clone()))
        {
            a.outer_iter()
                .map(|r| r.iter().copied().collect())
                .collect()
        } else {
            scalings
                .iter()
                .enumerate()
                .map(|(i, row)| {
                    row.clone()
                        .into_array()
                        .map_err(|_| {
                            script_err(format!(
                                "scalings row {}: give a list of rows, e.g. [[0.5, 0.2]]",
                                i + 1
                            ))
                        })?
                        .iter()
                        .map(|x| {
                            x.as_float()
                                .or_else(|_| x.as_int().map(|i| i as f64))
                                .map_err(|_| {
                                    script_err(format!(
                                        "scalings row {}: {x} is not a number",
                                        i + 1
                                    ))
                                })
                        })
                        .collect()
                })
                .collect::<RResult<_>>()?
        };
        from_config::custom(&c, name, &names, &rows, case_pattern, dry)
            .map(|e| ScriptEnsemble(Arc::new(e.with_local_model(crate::demo::run::LOCAL_MODEL))))
            .map_err(err)
    }

    /// A seeded Latin hypercube: `n` points in `[0, 1]^k` (an `n x k` Array), one point in
    /// each of the `n` strata of every column. `#{maximin: true}` keeps the best of 50
    /// hypercubes by the smallest distance between points.
    ///
    /// ```rhai
    /// let x = latin_hypercube(10, 3, 42);
    /// x.shape                              //=> [10, 3]
    /// sort(floor(x.T[0] * 10))            //=> [0. 1. 2. 3. 4. 5. 6. 7. 8. 9.]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn latin_hypercube(n: INT, k: INT, seed: INT) -> RResult<NdArray> {
        latin_hypercube_with(n, k, seed, Map::new())
    }

    /// [`latin_hypercube`] with options (`maximin`).
    #[rhai_fn(name = "latin_hypercube", return_raw)]
    pub fn latin_hypercube_with(n: INT, k: INT, seed: INT, options: Map) -> RResult<NdArray> {
        let (n, k) = match (usize::try_from(n), usize::try_from(k)) {
            (Ok(n), Ok(k)) if n > 0 && k > 0 => (n, k),
            _ => {
                return Err(script_err(format!(
                    "latin_hypercube: n = {n} and k = {k} must be >= 1"
                )))
            }
        };
        if n.saturating_mul(k) > 100_000_000 {
            return Err(script_err("latin_hypercube: more than 1e8 numbers"));
        }
        let maximin = options
            .get("maximin")
            .map(|m| m.as_bool().unwrap_or(false))
            .unwrap_or(false);
        let pts = ensemble::design::latin_hypercube_points(n, k, seed as u64, maximin, 50);
        let flat: Vec<f64> = pts.into_iter().flatten().collect();
        ndarray::Array2::from_shape_vec((n, k), flat)
            .map(|a| NdArray::new(a.into_dyn()))
            .map_err(script_err)
    }

    /// Makes the case of every member not yet made (and not complete in the archive):
    /// params-file copy, `user_nl_clm`, and for CIME `create_newcase`/`create_clone`,
    /// `xmlchange`, `case.setup`. Returns the members' records.
    #[rhai_fn(return_raw)]
    pub fn create(ens: &mut ScriptEnsemble) -> RResult<Array> {
        records(ens.0.create())
    }

    /// Makes missing cases and submits every member not yet submitted (the local backend
    /// runs them, `parallel` at a time, with a progress bar). Safe to call again after a
    /// crash: nothing is submitted twice; complete cases are used as they are.
    #[rhai_fn(return_raw)]
    pub fn submit(ens: &mut ScriptEnsemble) -> RResult<Array> {
        let _step = crate::provenance::step(&format!("submit {}", ens.0.name));
        records(ens.0.submit())
    }

    /// Cancels the members that are queued or running (CIME: `qdel`, `scancel` or `bkill`
    /// of each recorded job, by the case's BATCH_SYSTEM); each becomes failed
    /// ("cancelled") for `resubmit_failed` to run again. Returns the records.
    #[rhai_fn(return_raw)]
    pub fn cancel(ens: &mut ScriptEnsemble) -> RResult<Array> {
        records(ens.0.cancel())
    }

    /// The kinds of backend `[backend] kind` takes, each with a line on what it does.
    ///
    /// ```rhai
    /// let b = backends();
    /// b.keys()            //=> ["cime", "local", "none"]
    /// ```
    pub fn backends() -> Map {
        ensemble::backend::kinds()
            .into_iter()
            .map(|k| (k.name.into(), Dynamic::from(k.about.to_string())))
            .collect()
    }

    /// Submits the failed members again (after fixing the cause).
    #[rhai_fn(return_raw)]
    pub fn resubmit_failed(ens: &mut ScriptEnsemble) -> RResult<Array> {
        records(ens.0.resubmit_failed())
    }

    /// Every member's record (member, case, status, job_id, case_dir, history_dir,
    /// scalings, paramfile, user_nl_clm, logs, times, message), read from the registry,
    /// CaseStatus and the archive; writes `status.csv`.
    #[rhai_fn(return_raw)]
    pub fn status(ens: &mut ScriptEnsemble) -> RResult<Array> {
        records(ens.0.status())
    }

    /// Counts of members by status, e.g. `#{complete: 98, failed: 2}`.
    #[rhai_fn(return_raw)]
    pub fn summary(ens: &mut ScriptEnsemble) -> RResult<Map> {
        let recs = ens.0.status().map_err(err)?;
        let mut m = Map::new();
        for r in recs {
            let k = r.status.name().into();
            let n = m.get(&k).and_then(|v| v.as_int().ok()).unwrap_or(0);
            m.insert(k, Dynamic::from_int(n + 1));
        }
        Ok(m)
    }

    /// Waits until every member is complete or failed (progress bar), polling every
    /// `[backend] poll` seconds (default 30); an error after 7 days.
    #[rhai_fn(return_raw)]
    pub fn wait(ens: &mut ScriptEnsemble) -> RResult<Array> {
        wait_with(ens, Map::new())
    }

    /// [`wait`] with `#{timeout: seconds, poll: seconds}`.
    #[rhai_fn(name = "wait", return_raw)]
    pub fn wait_with(ens: &mut ScriptEnsemble, options: Map) -> RResult<Array> {
        let num = |k: &str, d: f64| -> RResult<f64> {
            match options.get(k) {
                None => Ok(d),
                Some(v) => v
                    .as_float()
                    .or_else(|_| v.as_int().map(|i| i as f64))
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| script_err(format!("wait: {k} must be a number of seconds"))),
            }
        };
        let timeout = num("timeout", 7.0 * 86400.0)?;
        let poll = num("poll", ens.0.settings.backend.poll.unwrap_or(30.0))?;
        let _step = crate::provenance::step(&format!("wait {}", ens.0.name));
        records(ens.0.wait(timeout, poll))
    }

    /// Fails naming every member that is not complete (with its status, message and logs),
    /// by the policy of `[cases] failed`: with `"drop"` the members that failed are said
    /// (and recorded in `run.json`) and the stages after go on without them; the complete
    /// members' cases are returned.
    #[rhai_fn(return_raw)]
    pub fn check_complete(ens: &mut ScriptEnsemble) -> RResult<Array> {
        let used = usable(&ens.0)?;
        Ok(used
            .complete
            .iter()
            .map(|&i| ens.0.members[i].case.clone().into())
            .collect())
    }

    /// Number of members.
    #[rhai_fn(name = "len", pure)]
    pub fn len(ens: &mut ScriptEnsemble) -> INT {
        ens.0.members.len() as INT
    }

    /// The case names, in member order.
    #[rhai_fn(get = "cases", pure)]
    pub fn cases(ens: &mut ScriptEnsemble) -> Array {
        ens.0
            .members
            .iter()
            .map(|m| m.case.clone().into())
            .collect()
    }

    /// The parameter names, in column order.
    #[rhai_fn(get = "parameters", pure)]
    pub fn parameters(ens: &mut ScriptEnsemble) -> Array {
        ens.0.params.iter().map(|p| p.name.clone().into()).collect()
    }

    /// The members as maps: `#{member, case, scalings: #{name: s or ()}}`.
    #[rhai_fn(get = "members", pure)]
    pub fn members(ens: &mut ScriptEnsemble) -> Array {
        ens.0
            .members
            .iter()
            .map(|m| {
                let mut map = Map::new();
                map.insert("member".into(), m.label.clone().into());
                map.insert("case".into(), m.case.clone().into());
                let mut s = Map::new();
                for (p, x) in ens.0.params.iter().zip(&m.scalings) {
                    s.insert(
                        p.name.as_str().into(),
                        x.map_or(Dynamic::UNIT, Dynamic::from_float),
                    );
                }
                map.insert("scalings".into(), s.into());
                map.into()
            })
            .collect()
    }

    /// The scalings as a (member, parameter) Array; a default is NaN.
    #[rhai_fn(get = "scalings", pure)]
    pub fn scalings(ens: &mut ScriptEnsemble) -> NdArray {
        let e = &ens.0;
        let flat: Vec<f64> = e
            .members
            .iter()
            .flat_map(|m| m.scalings.iter().map(|s| s.unwrap_or(f64::NAN)))
            .collect();
        NdArray::new(
            ndarray::Array2::from_shape_vec((e.members.len(), e.params.len()), flat)
                .unwrap_or_default()
                .into_dyn(),
        )
    }

    /// The ensemble's folder (registry, logs, design.csv, status.csv).
    #[rhai_fn(get = "dir", pure)]
    pub fn dir(ens: &mut ScriptEnsemble) -> String {
        ens.0.dir.display().to_string()
    }

    /// Whether its backend runs each member to its end in this process when submitted (the
    /// demo model's `local`): `ex::ready` then runs the missing members itself; with a batch
    /// backend it only waits for them.
    ///
    /// ```rhai
    /// import "experiment" as ex;
    /// default_run(ex::config(#{out: `${TEMP_DIR}/out`})).runs_in_process    //=> true
    /// ```
    #[rhai_fn(get = "runs_in_process", pure, return_raw)]
    pub fn runs_in_process(ens: &mut ScriptEnsemble) -> RResult<bool> {
        Ok(ens.0.backend().map_err(err)?.runs_in_process())
    }

    /// The ensemble's name.
    #[rhai_fn(get = "name", pure)]
    pub fn name(ens: &mut ScriptEnsemble) -> String {
        ens.0.name.clone()
    }

    /// One line: name, members, parameters, backend, folder.
    #[rhai_fn(name = "to_string", pure)]
    pub fn to_string(ens: &mut ScriptEnsemble) -> String {
        let e = &ens.0;
        format!(
            "Ensemble {}: {} members of {} ({}), backend {}, folder {}",
            e.name,
            e.members.len(),
            e.params
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            e.design.origin,
            e.settings.backend.kind,
            e.dir.display()
        )
    }
}

/// The `ensemble` module.
pub fn module() -> Module {
    exported_module!(ensemble_fns)
}
