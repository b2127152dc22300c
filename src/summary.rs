//! The summary of a whole workflow, read from the results files of stages 01-07 (what
//! `demo.rhai` prints at its end): the parameters proposed and calibrated, the variance the
//! EOFs keep, the chosen emulators' out-of-sample skill, the calibration's cost, optimum and
//! what the data constrain (with the truth of synthetic observations), the plausible
//! fraction of each history-matching wave, and the test case's Table 2 and RMSE.

use crate::format::format_spec;
use crate::table::{Column, Table, Value};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the summary needs besides the results folder (from the experiment config).
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The results folder (`[output] dir`).
    pub out: PathBuf,
    /// The calibrated parameters (`[parameters] calibrate`), in order.
    pub calibrated: Vec<String>,
    /// The EOF modes kept (`[emulator] modes`).
    pub modes: usize,
    /// The calibration variables (`[observations.variables]`).
    pub variables: Vec<String>,
    /// The truth behind synthetic observations (empty for real ones).
    pub truth: BTreeMap<String, f64>,
}

fn fmt(x: f64, spec: &str) -> String {
    format_spec(x, spec).unwrap_or_else(|_| x.to_string())
}

use crate::format::shown_float as shown;

/// A list of names as a script prints it: `["a", "b"]`.
fn listed<S: AsRef<str>>(v: &[S]) -> String {
    let items: Vec<String> = v.iter().map(|s| format!("{:?}", s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

/// Pads `s` with spaces to `n` characters (nothing cut).
fn pad(s: &mut String, n: usize) {
    while s.chars().count() < n {
        s.push(' ');
    }
}

fn row(t: &Table, col: &str, i: usize) -> Result<()> {
    if i >= t.len() {
        anyhow::bail!(
            "no row {} for column {col} (the table has {})",
            i + 1,
            t.len()
        );
    }
    Ok(())
}

fn text(t: &Table, col: &str, i: usize) -> Result<String> {
    row(t, col, i)?;
    Ok(match t.column(col)?.value(i) {
        Value::Number(x) => shown(x),
        Value::Text(s) => s,
    })
}

fn number(t: &Table, col: &str, i: usize) -> Result<f64> {
    row(t, col, i)?;
    match t.column(col)?.value(i) {
        Value::Number(x) => Ok(x),
        Value::Text(s) => s.parse().with_context(|| {
            format!(
                "column {col}: '{}' is not a number",
                crate::format::printable(&s)
            )
        }),
    }
}

fn read(out: &Path, rel: &str) -> Result<Table> {
    Table::read(&out.join(rel))
}

/// The members the EOF stage went on without (`[cases] failed = "drop"`, recorded in
/// `eof/stage.json`), one line per ensemble, said under the EOFs' line.
fn dropped_lines(out: &Path) -> Result<Vec<String>> {
    let p = out.join("eof/stage.json");
    let stage: serde_json::Value = crate::files::read_json(&p, "EOF stage file")?;
    let Some(dropped) = stage.get("dropped").and_then(|d| d.as_object()) else {
        return Ok(Vec::new());
    };
    let scalings = read(out, "eof/scalings.csv")?;
    let mut lines = Vec::new();
    for (name, list) in dropped {
        let list: Vec<crate::ensemble::failed::Dropped> = serde_json::from_value(list.clone())
            .with_context(|| format!("{}: dropped.{name}", p.display()))?;
        let used = scalings
            .filter(&[("ensemble", Value::Text(name.clone()))])?
            .len();
        if let Some(note) = crate::ensemble::failed::note(name, used, &list) {
            lines.push(format!("   members: {note}"));
        }
    }
    Ok(lines)
}

/// The summary's lines (without the line that says where the results are).
pub fn summary(inp: &Inputs) -> Result<Vec<String>> {
    let out = &inp.out;
    let mut lines = vec!["SUMMARY".to_string()];

    // 1. sensitivity
    let ranks = read(out, "sensitivity/ranks.csv")?.sort("combined_rank")?;
    let proposed: Vec<String> = (0..ranks.len().min(inp.calibrated.len()))
        .map(|i| text(&ranks, "parameter", i))
        .collect::<Result<_>>()?;
    lines.push(format!(
        "1. sensitivity (01): proposed for calibration {}; calibrated: {}",
        listed(&proposed),
        listed(&inp.calibrated)
    ));

    // 2. EOFs
    let vf = read(out, "eof/variance_fraction.csv")?;
    let mut kept = Vec::new();
    for v in &inp.variables {
        let f = vf.filter(&[("variable", Value::Text(v.clone()))])?;
        let fr = f.numbers("fraction")?;
        let s: f64 = fr.iter().take(inp.modes).sum();
        kept.push(format!("{v} {} %", fmt(100.0 * s, ".1f")));
    }
    lines.push(format!(
        "2. EOFs (03): variance kept by {} modes: {}",
        inp.modes,
        listed(&kept)
    ));
    lines.extend(dropped_lines(out)?);

    // 3. the chosen emulators' skill
    let m = read(out, "emulator/metrics.csv")?;
    lines.push("3. emulator skill (04) of the emulator 06 and 07 use, out of sample, per mode: r^2 = 1 - SSE/SST".into());
    lines.push("   (scikit-learn's r2_score; not the squared correlation) and the RMSE in units of sigma (the".into());
    lines.push("   observations' interannual standard deviation)".into());
    let choice =
        read(out, "emulator/choice.csv")?.filter(&[("chosen", Value::Text("true".into()))])?;
    for i in 0..choice.len() {
        let (em, var, split) = (
            text(&choice, "emulator", i)?,
            text(&choice, "variable", i)?,
            text(&choice, "split", i)?,
        );
        let mm = m
            .filter(&[
                ("emulator", Value::Text(em.clone())),
                ("variable", Value::Text(var.clone())),
                ("split", Value::Text(split.clone())),
            ])?
            .sort("mode")?;
        let r2: Vec<String> = mm
            .numbers("r2_score")?
            .iter()
            .map(|x| fmt(*x, ".3f"))
            .collect();
        let rs: Vec<String> = mm
            .numbers("rmse_sigma")?
            .iter()
            .map(|x| fmt(*x, ".2f"))
            .collect();
        let n = number(&choice, "members", i)? as i64;
        let on = if split == "ppe_test" {
            format!("the second ensemble ({n} members)")
        } else {
            format!(
                "{}-fold cross-validation over the {n} members",
                split.chars().skip(2).collect::<String>()
            )
        };
        let why = if text(&choice, "chosen_by", i)? == "config" {
            "named in the config; its skill"
        } else {
            "the best mean r^2"
        };
        lines.push(format!(
            "   {var}: {em}, {why} on {on}: r^2 {}; RMSE {} sigma",
            r2.join(", "),
            rs.join(", ")
        ));
    }

    // 4. calibration
    let opt = read(out, "calibrate/optimum.csv")?.sort("cost")?;
    let cost: serde_json::Value =
        crate::files::read_json(&out.join("calibrate/cost.json"), "the saved cost")?;
    let form = cost["form"].as_str().unwrap_or("?").to_string();
    let default_cost = cost["default_cost"].as_f64().unwrap_or(f64::NAN);
    lines.push(format!(
        "4. calibration (06): cost (error-aware, {form}) of the default run {}, at the optimum ({}) {}",
        fmt(default_cost, ".3f"),
        text(&opt, "method", 0)?,
        fmt(number(&opt, "cost", 0)?, ".3f")
    ));
    let demo = !inp.truth.is_empty();
    let id = read(out, "calibrate/identifiability.csv")?;
    let post: serde_json::Value =
        crate::files::read_json(&out.join("calibrate/posterior.json"), "JSON file")?;
    lines.push(format!(
        "   {}",
        post["convergence"]["message"]
            .as_str()
            .unwrap_or("posterior: a fixed chain")
    ));
    lines.push(format!(
        "   parameter          optimum  verdict        estimate    posterior 5-95 %{}",
        if demo { "   truth" } else { "" }
    ));
    for i in 0..id.len() {
        let p = text(&id, "parameter", i)?;
        let mut line = format!("   {p}");
        pad(&mut line, 20);
        line += &format!(
            "{}  {}",
            fmt(number(&opt, &p, 0)?, "7.3f"),
            text(&id, "status", i)?
        );
        pad(&mut line, 44);
        line += &text(&id, "estimate", i)?;
        pad(&mut line, 56);
        line += &format!(
            "{}-{}",
            fmt(number(&id, "p05", i)?, ".2f"),
            fmt(number(&id, "p95", i)?, ".2f")
        );
        pad(&mut line, 73);
        if let Some(t) = inp.truth.get(&p) {
            line += &fmt(*t, "7.3f");
        }
        lines.push(line);
    }

    // 5. history matching waves
    let w1: serde_json::Value =
        crate::files::read_json(&out.join("calibrate/nroy_wave1.json"), "JSON file")?;
    let w2: serde_json::Value =
        crate::files::read_json(&out.join("calibrate/nroy_wave2.json"), "JSON file")?;
    let f = |w: &serde_json::Value, k: &str| w[k].as_f64().unwrap_or(f64::NAN);
    lines.push(format!(
        "5. plausible (not ruled out yet, implausibility < {}): {} % of the parameter space after wave 1, {} % after wave 2",
        shown(f(&w1, "cutoff")),
        fmt(100.0 * f(&w1, "nroy_fraction"), ".2f"),
        fmt(100.0 * f(&w2, "nroy_fraction"), ".2f")
    ));

    // 6. the test case
    let bias = read(out, "test_case/bias_table.csv")?;
    lines.push(
        "6. the test case (07), Table 2: mean bias against the observations (gC m-2 d-1, W m-2)"
            .into(),
    );
    let values: Vec<&String> = bias
        .columns()
        .iter()
        .filter(|c| *c != "region" && *c != "comparison")
        .collect();
    let mut head = "   region      comparison    ".to_string();
    for c in &values {
        head += &format!("{c:>9}");
    }
    lines.push(head);
    for i in 0..bias.len() {
        let mut line = format!("   {}", text(&bias, "region", i)?);
        pad(&mut line, 15);
        line += &text(&bias, "comparison", i)?;
        pad(&mut line, 29);
        for c in &values {
            line += &match bias.column(c)? {
                Column::Numbers(v) => fmt(v[i], "9.3f"),
                Column::Text(v) => format!("{:>9}", v[i]),
            };
        }
        lines.push(line);
    }
    let r = read(out, "test_case/rmse.csv")?;
    let vars = match r.column("variable")?.unique() {
        Column::Text(v) => v,
        Column::Numbers(v) => v.iter().map(|x| shown(*x)).collect(),
    };
    for v in vars {
        let rv = r.filter(&[("variable", Value::Text(v.clone()))])?;
        let of = |run: &str| -> Result<f64> {
            let t = rv.filter(&[("run", Value::Text(run.into()))])?;
            number(&t, "rmse", 0)
        };
        let (o, d) = (of("optimized")?, of("default")?);
        lines.push(format!(
            "   {v}: RMSE against the observations, optimized {}, default {} {}: {}",
            fmt(o, ".3g"),
            fmt(d, ".3g"),
            text(&rv, "units", 0)?,
            if o < d {
                "the calibration helped"
            } else {
                "the calibration did not help"
            }
        ));
    }
    Ok(lines)
}
