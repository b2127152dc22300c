//! The `refocus` module: iterative refocusing from a script (`scripts/08_refocus.rhai`):
//! new members inside the NROY region of the last implausibility wave, the record of the
//! waves (`refocus/waves.csv`, per-wave folders, the figure) and resuming it after a crash.

use super::array::{operand, NdArray};
use super::calibrate::ScriptHistoryMatch;
use super::convert::{script_err, RResult};
use super::emulate::ScriptEmulator;
use super::ensemble::ScriptEnsemble;
use super::eof::ScriptEofStage;
use super::table::ScriptTable;
use crate::refocus::{maximin_subset, Members, Refocus};
use crate::table::{Column, Table};
use ndarray::{Array2, Axis, Ix2};
use rhai::plugin::*;
use rhai::{Array, Dynamic, Map, Module, INT};
use std::path::Path;
use std::sync::Arc;

/// The record of a refocusing (script type `Refocus`).
#[derive(Clone, Debug)]
pub struct ScriptRefocus(pub Refocus);

fn err(e: anyhow::Error) -> Box<EvalAltResult> {
    script_err(format!("{e:#}"))
}

fn arr(a: Array2<f64>) -> NdArray {
    NdArray::new(a.into_dyn())
}

fn matrix(d: &Dynamic, what: &str) -> RResult<Array2<f64>> {
    operand(d)?
        .data()
        .clone()
        .into_dimensionality::<Ix2>()
        .map_err(|_| script_err(format!("{what} must be a 2-D Array (rows x columns)")))
}

fn count(n: INT, what: &str) -> RResult<usize> {
    usize::try_from(n)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| script_err(format!("{what} = {n}: use a whole number >= 1")))
}

fn seed(s: INT) -> RResult<u64> {
    u64::try_from(s).map_err(|_| script_err(format!("seed = {s}: use a whole number >= 0")))
}

/// The PCs of `variables` from a map of variable -> Array (members x modes).
fn pcs_of(pcs: &Map, variables: &[String]) -> RResult<Vec<Array2<f64>>> {
    variables
        .iter()
        .map(|v| {
            let d = pcs.get(v.as_str()).ok_or_else(|| {
                script_err(format!(
                    "the map of PCs has no Array for variable '{v}'",
                    v = crate::format::printable(v)
                ))
            })?;
            matrix(d, &format!("the PCs of {v}"))
        })
        .collect()
}

fn emulators_of(ems: &Map, variables: &[String]) -> RResult<Vec<Arc<crate::emulate::Fitted>>> {
    variables
        .iter()
        .map(|v| {
            ems.get(v.as_str())
                .and_then(|d| d.clone().try_cast::<ScriptEmulator>())
                .map(|e| e.0.clone())
                .ok_or_else(|| {
                    script_err(format!(
                        "the map of emulators has no Emulator for '{v}'",
                        v = crate::format::printable(v)
                    ))
                })
        })
        .collect()
}

fn from_stage(stage: &ScriptEofStage) -> RResult<Refocus> {
    let s = &stage.0;
    let initial = Members {
        cases: s.ppe.cases.clone(),
        x: s.ppe.scalings.clone(),
        pcs: s.variables.iter().map(|v| v.pcs.clone()).collect(),
    };
    Refocus::new(
        s.ppe.parameters.clone(),
        s.variables.iter().map(|v| v.name.clone()).collect(),
        initial,
    )
    .map_err(err)
}

fn history_match_of(rf: &Refocus, k: usize) -> ScriptHistoryMatch {
    let w = &rf.waves[k];
    ScriptHistoryMatch {
        kept: Arc::new(w.kept.clone()),
        wave: Some(Arc::new(w.clone())),
        previous: rf.waves[..k].to_vec(),
        parameters: rf.parameters.clone(),
        settings: rf.match_json[k].clone(),
    }
}

fn add_wave(
    rf: &mut ScriptRefocus,
    hm: ScriptHistoryMatch,
    ems: Map,
    new: Option<Members>,
) -> RResult<Map> {
    let r = &mut rf.0;
    let k = r.records.len() + 1;
    let wave = hm.wave.as_ref().ok_or_else(|| {
        script_err("add: the HistoryMatch must come from method \"implausibility\"")
    })?;
    if hm.previous.len() != r.waves.len() {
        return Err(script_err(format!(
            "add: wave {k} must be matched with previous: the last wave (rf.last); it sampled inside {} earlier waves, the refocusing has {}",
            hm.previous.len(),
            r.waves.len()
        )));
    }
    if let (Some(a), Some(b)) = (hm.previous.last(), r.waves.last()) {
        if a.nroy_fraction.to_bits() != b.nroy_fraction.to_bits() || a.bounds != b.bounds {
            return Err(script_err(format!(
                "add: wave {k} was matched inside another wave than the refocusing's last (use previous: rf.last)"
            )));
        }
    }
    if hm.parameters != r.parameters {
        return Err(script_err(format!(
            "add: the match's parameters ({}) differ from the refocusing's ({}); fit the emulators with #{{inputs: stage.parameters}}",
            hm.parameters.join(", "),
            r.parameters.join(", ")
        )));
    }
    let fitted = emulators_of(&ems, &r.variables)?;
    let rec = r
        .add((**wave).clone(), hm.settings.clone(), fitted, new)
        .map_err(err)?;
    Ok(record_map(rec))
}

fn record_map(r: &crate::refocus::WaveRecord) -> Map {
    let mut m = Map::new();
    m.insert("wave".into(), Dynamic::from_int(r.wave as INT));
    m.insert("members".into(), Dynamic::from_int(r.members as INT));
    m.insert("nroy_fraction".into(), Dynamic::from_float(r.nroy_fraction));
    m.insert("r2".into(), Dynamic::from_float(r.r2));
    m.insert("best_cost".into(), Dynamic::from_float(r.best_cost));
    m.insert(
        "training_members".into(),
        Dynamic::from_int(r.training_members as INT),
    );
    m.insert("best_run_cost".into(), Dynamic::from_float(r.best_run_cost));
    m.insert("candidates".into(), Dynamic::from_int(r.candidates as INT));
    m.insert("accepted".into(), Dynamic::from_int(r.accepted as INT));
    m
}

/// The functions of the `refocus` module.
#[export_module]
pub mod refocus_fns {
    use super::*;

    /// The record of an iterative refocusing: per wave the implausibility match, its
    /// emulators, the members run for it and its numbers (`waves.csv`); `save(dir)` writes it
    /// and `refocus(stage, dir)` resumes from it.
    pub type Refocus = ScriptRefocus;

    /// `n` new members inside the NROY region of an implausibility wave: a space-filling
    /// subset (greedy maximin on the scalings, the first drawn with `seed`) of the wave's
    /// NROY candidates, `n x parameters`.
    ///
    /// ```rhai
    /// let x = latin_hypercube(40, 2, 1);
    /// let e = fit_gp(x, x, #{nugget: 0, inputs: ["a", "b"]});
    /// let t = #{V: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///               lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let j = cost(#{V: e}, t);
    /// let w = history_match(j, #{method: "implausibility", n: 20000, seed: 1});
    /// let m = nroy_members(w, 5, 1);
    /// m.shape    //=> [5, 2]
    /// max(j.implausibility(m)) < 3    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn nroy_members(wave: ScriptHistoryMatch, n: INT, seed: INT) -> RResult<NdArray> {
        let w = wave.wave.as_ref().ok_or_else(|| {
            script_err("nroy_members: give the HistoryMatch of an implausibility wave")
        })?;
        let pool = &w.kept.x;
        let none = Array2::<f64>::zeros((0, pool.ncols()));
        let idx = maximin_subset(pool.view(), none.view(), count(n, "n")?, super::seed(seed)?)
            .map_err(err)?;
        Ok(arr(pool.select(Axis(0), &idx)))
    }

    /// A new refocusing whose first emulators learn from the EOF stage's ensemble (its
    /// cases, scalings and PCs).
    #[rhai_fn(name = "refocus", return_raw)]
    pub fn refocus_new(stage: ScriptEofStage) -> RResult<ScriptRefocus> {
        from_stage(&stage).map(ScriptRefocus)
    }

    /// The refocusing saved in `dir` (every finished wave, nothing redone), or a new one
    /// from the EOF stage when `dir` holds none. The saved one must have started from this
    /// stage's ensemble.
    #[rhai_fn(name = "refocus", return_raw)]
    pub fn refocus_resume(stage: ScriptEofStage, dir: &str) -> RResult<ScriptRefocus> {
        let fresh = from_stage(&stage)?;
        match crate::refocus::Refocus::load(Path::new(dir)).map_err(err)? {
            None => Ok(ScriptRefocus(fresh)),
            Some(r) => {
                let first = &r.added[0];
                if first.cases != fresh.training.cases || r.variables != fresh.variables {
                    return Err(script_err(format!(
                        "{dir}: this refocusing started from another ensemble or other variables than the EOF stage's (move the folder away to start again)"
                    )));
                }
                Ok(ScriptRefocus(r))
            }
        }
    }

    /// A new refocusing from given training data: scalings `x` (members x parameters), a map
    /// of variable -> PCs (members x modes) and the parameter names; cases are named 1, 2, ...
    ///
    /// ```rhai
    /// let x = latin_hypercube(30, 2, 1);
    /// let rf = refocus(x, #{V: x}, ["a", "b"]);
    /// let e = fit_gp(x, x, #{nugget: 0, inputs: ["a", "b"]});
    /// let t = #{V: #{observed: array([0.3, 0.6]), sigma: array([0.05, 0.05]),
    ///               lambda: array([0.5, 0.5]), default_run: array([0.5, 0.5])}};
    /// let w = history_match(cost(#{V: e}, t), #{method: "implausibility", n: 20000, seed: 1});
    /// rf.add(w, #{V: e}).members    //=> 30
    /// rf.save(`${TEMP_DIR}/refocus`);
    /// let again = load_refocus(`${TEMP_DIR}/refocus`);
    /// again.waves    //=> 1
    /// again.nroy_fraction == rf.nroy_fraction    //=> [ True]
    /// again.table.columns.extract(0, 5)    //=> ["wave", "members", "nroy_fraction", "r2", "best_cost"]
    /// ```
    #[rhai_fn(name = "refocus", return_raw)]
    pub fn refocus_arrays(x: NdArray, pcs: Map, parameters: Array) -> RResult<ScriptRefocus> {
        let x = x
            .data()
            .clone()
            .into_dimensionality::<Ix2>()
            .map_err(|_| script_err("refocus: x must be a 2-D Array (members x parameters)"))?;
        let names: Vec<String> = parameters
            .iter()
            .map(|p| {
                p.clone()
                    .into_string()
                    .map_err(|_| script_err("refocus: parameters are names"))
            })
            .collect::<RResult<_>>()?;
        let variables: Vec<String> = pcs.keys().map(|k| k.to_string()).collect();
        let pcs = pcs_of(&pcs, &variables)?;
        let cases = (1..=x.nrows()).map(|i| i.to_string()).collect();
        crate::refocus::Refocus::new(names, variables, Members { cases, x, pcs })
            .map(ScriptRefocus)
            .map_err(err)
    }

    /// Reads a refocusing saved with `save` (an error if `dir` holds none).
    #[rhai_fn(return_raw)]
    pub fn load_refocus(dir: &str) -> RResult<ScriptRefocus> {
        crate::refocus::Refocus::load(Path::new(dir))
            .map_err(err)?
            .map(ScriptRefocus)
            .ok_or_else(|| script_err(format!("{dir} holds no refocusing (no waves.csv)")))
    }

    /// Adds wave 1: its implausibility match and its emulators (a map of variable ->
    /// Emulator, those of the match's cost), fitted on the first ensemble. Returns the
    /// wave's numbers: `#{wave, members, nroy_fraction, r2, best_cost, training_members,
    /// best_run_cost, candidates, accepted}`.
    #[rhai_fn(name = "add", return_raw)]
    pub fn add_first(rf: &mut ScriptRefocus, wave: ScriptHistoryMatch, ems: Map) -> RResult<Map> {
        add_wave(rf, wave, ems, None)
    }

    /// Adds a later wave: its match (made with `previous: rf.last`), its emulators (refitted
    /// on every member so far and the new ones), the ensemble run for it and the new
    /// members' PCs (`stage.project_runs(ens)`). The skill inside NROY is that of the
    /// previous wave's emulators on the new members.
    #[rhai_fn(name = "add", return_raw)]
    pub fn add_next(
        rf: &mut ScriptRefocus,
        wave: ScriptHistoryMatch,
        ems: Map,
        ens: ScriptEnsemble,
        pcs: Map,
    ) -> RResult<Map> {
        let e = &ens.0;
        let names: Vec<String> = e.params.iter().map(|p| p.name.clone()).collect();
        if names != rf.0.parameters {
            return Err(script_err(format!(
                "add: ensemble {} varies {}, the refocusing {}",
                e.name,
                names.join(", "),
                rf.0.parameters.join(", ")
            )));
        }
        let x = Array2::from_shape_fn((e.members.len(), names.len()), |(i, j)| {
            e.members[i]
                .scalings
                .get(j)
                .copied()
                .flatten()
                .unwrap_or(f64::NAN)
        });
        let new = Members {
            cases: e.members.iter().map(|m| m.case.clone()).collect(),
            x,
            pcs: pcs_of(&pcs, &rf.0.variables)?,
        };
        add_wave(rf, wave, ems, Some(new))
    }

    /// The design of the next wave: `n` members inside the last wave's NROY region, away from
    /// every member run (greedy maximin), saved as `wave_K/design.csv` in `dir` before
    /// anything is submitted, and read back instead of chosen again when it exists.
    #[rhai_fn(return_raw)]
    pub fn design(rf: &mut ScriptRefocus, dir: &str, n: INT, seed: INT) -> RResult<NdArray> {
        rf.0.design(Path::new(dir), count(n, "n")?, super::seed(seed)?)
            .map(arr)
            .map_err(err)
    }

    /// Writes the record into `dir` (e.g. `OUT/refocus`): `waves.csv` (wave, members,
    /// nroy_fraction, r2, best_cost, training_members, best_run_cost, candidates, accepted),
    /// `skill.csv` (r2 per wave, variable and mode), `nroy_fraction.png` and one folder
    /// `wave_K` per wave (its NROY set `nroy_waveK.csv`/`.json`, emulators, targets and
    /// members), atomically; the folders of waves already written are left as they are.
    #[rhai_fn(name = "save", return_raw)]
    pub fn save(rf: &mut ScriptRefocus, dir: &str) -> RResult<()> {
        rf.0.save(Path::new(dir)).map_err(err)
    }

    /// 08's refocusing rules from its command line (`OPTIONS`): `--members N` new members
    /// per wave (20), `--budget N` members in all (100), `--waves N` the most waves (5),
    /// `--ratio R` stop when a wave keeps more than R of the NROY fraction (0.9),
    /// `--candidates N` per wave (50,000), `--discrepancy F` (0.1, a fraction of each
    /// variable's ensemble variance of the PCs). Each is checked, naming the option; other
    /// options are left to `ex::config`.
    ///
    /// ```rhai
    /// let r = refocus_rules(#{members: "10", ratio: "0.8", config: "x.toml"});
    /// r.members        //=> 10
    /// r.ratio          //=> 0.8
    /// r.budget         //=> 100
    /// let msg = "";
    /// try { refocus_rules(#{waves: "many"}); } catch (e) { msg = e; }
    /// msg              //=> --waves many: not a whole number
    /// ```
    #[rhai_fn(return_raw)]
    pub fn refocus_rules(options: Map) -> RResult<Map> {
        let mut m = Map::new();
        for (name, whole) in [
            ("members", true),
            ("budget", true),
            ("waves", true),
            ("ratio", false),
            ("candidates", true),
            ("discrepancy", false),
        ] {
            let Some(v) = options.get(name) else { continue };
            let text = v.to_string();
            let value = if whole {
                text.trim()
                    .replace('_', "")
                    .parse::<u32>()
                    .map(|n| Dynamic::from_int(n as INT))
                    .map_err(|_| {
                        script_err(format!(
                            "--{name} {}: not a whole number",
                            crate::format::printable(&text)
                        ))
                    })?
            } else {
                text.trim()
                    .parse::<f64>()
                    .map(Dynamic::from_float)
                    .map_err(|_| {
                        script_err(format!(
                            "--{name} {}: not a number",
                            crate::format::printable(&text)
                        ))
                    })?
            };
            m.insert(name.into(), value);
        }
        let rules = rules_of(&m)?;
        rhai::serde::to_dynamic(&rules)?
            .try_cast::<Map>()
            .ok_or_else(|| script_err("refocus_rules: not a map"))
    }

    /// Why refocusing makes no further wave under `rules` (`refocus_rules(OPTIONS)`):
    /// every candidate of the last wave ruled out, the NROY region no longer shrinking
    /// (last / before > ratio), the member budget spent, or the most waves made; `""` to go
    /// on (and before wave 1).
    #[rhai_fn(return_raw, pure)]
    pub fn stop_reason(rf: &mut ScriptRefocus, rules: Map) -> RResult<String> {
        Ok(rules_of(&rules)?.stop(&rf.0).unwrap_or_default())
    }

    /// The number of finished waves.
    #[rhai_fn(get = "waves", pure)]
    pub fn waves(rf: &mut ScriptRefocus) -> INT {
        rf.0.records.len() as INT
    }

    /// The last wave's match (with every earlier wave as its `previous`): give it as
    /// `previous` to match the next wave inside it. An error before wave 1.
    #[rhai_fn(get = "last", pure, return_raw)]
    pub fn last(rf: &mut ScriptRefocus) -> RResult<ScriptHistoryMatch> {
        match rf.0.waves.len() {
            0 => Err(script_err(
                "the refocusing has no wave yet: add wave 1 first",
            )),
            k => Ok(history_match_of(&rf.0, k - 1)),
        }
    }

    /// Every member's scalings so far (the emulators' training X), members x parameters.
    #[rhai_fn(get = "x", pure)]
    pub fn x(rf: &mut ScriptRefocus) -> NdArray {
        arr(rf.0.training.x.clone())
    }

    /// Every member's PCs of `v` so far (the emulators' training Y), members x modes.
    #[rhai_fn(return_raw, pure)]
    pub fn pcs(rf: &mut ScriptRefocus, v: &str) -> RResult<NdArray> {
        let i = rf.0.variables.iter().position(|x| x == v).ok_or_else(|| {
            script_err(format!(
                "'{v}' is not a variable of the refocusing ({})",
                rf.0.variables.join(", "),
                v = crate::format::printable(v)
            ))
        })?;
        Ok(arr(rf.0.training.pcs[i].clone()))
    }

    /// Every member's case so far, in the rows' order of `x`.
    #[rhai_fn(get = "cases", pure)]
    pub fn cases(rf: &mut ScriptRefocus) -> Array {
        rf.0.training
            .cases
            .iter()
            .cloned()
            .map(Dynamic::from)
            .collect()
    }

    /// The members run for refocusing (every wave after the first).
    #[rhai_fn(get = "spent", pure)]
    pub fn spent(rf: &mut ScriptRefocus) -> INT {
        rf.0.spent() as INT
    }

    /// The NROY fraction of each wave.
    #[rhai_fn(get = "nroy_fraction", pure)]
    pub fn nroy_fraction(rf: &mut ScriptRefocus) -> NdArray {
        let v: Vec<f64> = rf.0.records.iter().map(|r| r.nroy_fraction).collect();
        NdArray::new(ndarray::Array1::from(v).into_dyn())
    }

    /// The last NROY fraction over the one before (NaN before two waves): near 1, the
    /// region has stopped shrinking.
    #[rhai_fn(get = "shrink", pure)]
    pub fn shrink(rf: &mut ScriptRefocus) -> f64 {
        rf.0.shrink()
    }

    /// The numbers of wave `k` (from 1): `#{wave, members, nroy_fraction, r2, best_cost,
    /// training_members, best_run_cost, candidates, accepted}`.
    #[rhai_fn(name = "wave", return_raw, pure)]
    pub fn wave(rf: &mut ScriptRefocus, k: INT) -> RResult<Map> {
        let n = rf.0.records.len();
        usize::try_from(k)
            .ok()
            .filter(|&k| k >= 1 && k <= n)
            .map(|k| record_map(&rf.0.records[k - 1]))
            .ok_or_else(|| script_err(format!("wave {k}: the refocusing has waves 1..={n}")))
    }

    /// `waves.csv` as a Table.
    #[rhai_fn(get = "table", pure, return_raw)]
    pub fn table(rf: &mut ScriptRefocus) -> RResult<ScriptTable> {
        let r = &rf.0.records;
        let num =
            |f: fn(&crate::refocus::WaveRecord) -> f64| Column::Numbers(r.iter().map(f).collect());
        Table::from_columns(vec![
            ("wave".into(), num(|r| r.wave as f64)),
            ("members".into(), num(|r| r.members as f64)),
            ("nroy_fraction".into(), num(|r| r.nroy_fraction)),
            ("r2".into(), num(|r| r.r2)),
            ("best_cost".into(), num(|r| r.best_cost)),
            (
                "training_members".into(),
                num(|r| r.training_members as f64),
            ),
            ("best_run_cost".into(), num(|r| r.best_run_cost)),
            ("candidates".into(), num(|r| r.candidates as f64)),
            ("accepted".into(), num(|r| r.accepted as f64)),
        ])
        .map(|t| ScriptTable(Arc::new(t)))
        .map_err(err)
    }

    /// `Refocus(3 waves; 140 training members; NROY fraction ... -> ...)`.
    #[rhai_fn(name = "to_string", pure)]
    pub fn to_string(rf: &mut ScriptRefocus) -> String {
        format!("{:?}", rf.0)
    }

    /// The same summary (used by the REPL).
    #[rhai_fn(name = "to_debug", pure)]
    pub fn to_debug(rf: &mut ScriptRefocus) -> String {
        format!("{:?}", rf.0)
    }
}

/// The `refocus` module.
/// Refocusing rules from a script map (`refocus_rules`' keys), checked.
fn rules_of(m: &Map) -> RResult<crate::refocus::Rules> {
    let rules: crate::refocus::Rules = rhai::serde::from_dynamic(&Dynamic::from_map(m.clone()))
        .map_err(|e| script_err(format!("refocusing rules: {e}")))?;
    rules.check().map_err(err)?;
    Ok(rules)
}

pub fn module() -> Module {
    exported_module!(refocus_fns)
}
