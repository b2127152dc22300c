//! The experiment's report: one self-contained HTML page (`RESULTS/report.html`, the figures
//! beside it, no network, no JavaScript) that puts together what the stages left: whether the
//! data are the demo's synthetic twin, the whole workflow's summary, each stage's figures
//! with captions in the paper's words and its key tables rendered as tables, and the
//! provenance of every stage from `run.json` (script, status, times, clmtune commit, config
//! and script hashes).
//!
//! Everything is read from the results folder; a stage that did not run is left out, a file
//! that cannot be read is named in the page instead of stopping it.

use crate::table::{Table, Value};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A stage's section: its folder under the results, its title, and the tables shown (file,
/// caption; only those present).
struct Stage {
    dir: &'static str,
    title: &'static str,
    about: &'static str,
    tables: &'static [(&'static str, &'static str)],
}

/// The sections in workflow order.
const STAGES: &[Stage] = &[
    Stage {
        dir: "sensitivity",
        title: "Parameter sensitivity",
        about: "Section 2.3: the effect of each parameter from one-at-a-time runs, ranked (Figs. 1, 2).",
        tables: &[("ranks.csv", "Parameters ranked by their effects")],
    },
    Stage {
        dir: "eof",
        title: "EOF analysis",
        about: "Section 3: the leading modes of the ensemble's climatologies and the observations' projections on them (Figs. 3, 4; Eq. 5).",
        tables: &[
            ("variance_fraction.csv", "Fraction of the ensemble variance per mode"),
            ("targets.csv", "Targets: U_obs, sigma, lambda and the default run's projection per mode"),
        ],
    },
    Stage {
        dir: "emulator",
        title: "Emulators",
        about: "Section 3.1: emulators of the PCs, compared in and out of sample (Figs. 5, 7, 8, S10).",
        tables: &[("choice.csv", "The emulators compared, and the one chosen for calibration")],
    },
    Stage {
        dir: "calibrate",
        title: "Calibration",
        about: "Section 4: history matching, optimisers and the posterior on the emulators (Eq. 6; Figs. 6e, 9).",
        tables: &[
            ("optimum.csv", "The optimisers compared"),
            ("posterior.csv", "Posterior of the scalings (MCMC)"),
            ("identifiability.csv", "What the data constrain"),
        ],
    },
    Stage {
        dir: "test_case",
        title: "Test case",
        about: "The optimum run in the model and judged against the observations (Table 2; Figs. 10, 11).",
        tables: &[
            ("rmse.csv", "RMSE of the test case against the observations (Table 2)"),
            ("bias_table.csv", "Regional biases"),
        ],
    },
    Stage {
        dir: "refocus",
        title: "Refocusing",
        about: "Beyond the paper: history matching in waves, new runs inside the region not ruled out yet (NROY).",
        tables: &[("waves.csv", "The waves")],
    },
    Stage {
        dir: "kalman/uki",
        title: "Ensemble Kalman calibration (UKI)",
        about: "Beyond the paper: unscented Kalman inversion with real runs, no emulator.",
        tables: &[("estimate.csv", "The estimate and its 5-95 % range")],
    },
    Stage {
        dir: "kalman/eki",
        title: "Ensemble Kalman calibration (EKI)",
        about: "Beyond the paper: ensemble Kalman inversion with real runs, no emulator.",
        tables: &[("estimate.csv", "The estimate and its 5-95 % range")],
    },
];

/// The most rows a table shows (the rest are in its CSV file, linked).
const MAX_ROWS: usize = 15;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Escapes a relative path for an `src` or `href` attribute (each segment percent-encoded
/// where it is not a plain character).
fn url(rel: &str) -> String {
    let mut o = String::new();
    for b in rel.bytes() {
        if b.is_ascii_alphanumeric() || b"-_./~".contains(&b) {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

/// A figure's caption from its file name, in the paper's words where the name says which
/// figure it is (`eof_GPP_1` -> "EOF 1 of GPP (Fig. 4)").
pub fn caption(stem: &str) -> String {
    let parts: Vec<&str> = stem.split('_').collect();
    let var_mode = |rest: &[&str]| -> Option<(String, String)> {
        match rest {
            [v, k] if k.parse::<u32>().is_ok() => Some((v.to_string(), k.to_string())),
            _ => None,
        }
    };
    match parts.as_slice() {
        ["eof", rest @ ..] => var_mode(rest)
            .map(|(v, k)| format!("EOF {k} of {v}: its spatial pattern (Fig. 4)"))
            .unwrap_or_else(|| plain(stem)),
        ["pc", rest @ ..] => var_mode(rest)
            .map(|(v, k)| {
                format!("PC {k} of {v} over the ensemble, with the observations' and the default run's (Fig. 3)")
            })
            .unwrap_or_else(|| plain(stem)),
        ["fit", v, k, "test"] => {
            format!("{v} PC{k}: emulated against actual on the test members (Fig. 5)")
        }
        ["fit", v, k, "ppe", "test"] => {
            format!("{v} PC{k}: emulated against actual on the second ensemble (Fig. 5)")
        }
        ["importance", v, k] => format!("{v} PC{k}: permutation importance of each parameter (Fig. 7)"),
        ["partial", "dependence", v, k] => {
            format!("{v} PC{k}: partial dependence on each parameter (Fig. 8)")
        }
        ["inflation", v] => format!(
            "{v}: the PCs emulated at new Latin-hypercube members against the ensemble's, each row on one axis (Fig. S10)"
        ),
        ["rmse", v] => format!("{v}: RMSE against the observations (Fig. 6)"),
        ["fig1", "pe", v] => format!(
            "Parameter effect on {v} of the calibrated parameters, on one colour scale (Fig. 1)"
        ),
        ["fig3", "pcs"] => "The ensemble's PCs, each mode's % of variance, the observations' and the default run's (Fig. 3)".into(),
        ["fig4", "eofs"] => "The EOFs of each variable, each mode's % of variance (Fig. 4)".into(),
        ["fig6e", "eq6"] => "Combined normalised error (Eq. 6): emulated against the ensemble as run, with the history-matching threshold and the default run (Fig. 6e)".into(),
        ["pe", v, p @ ..] => format!("Effect of {} on {v}, on its own colour scale", p.join("_")),
        ["pattern", "correlation"] => "Pattern correlations of the parameter effects (Fig. S2)".into(),
        ["history", "match", "pairs"] => "The lowest-cost candidates of history matching (Fig. 9)".into(),
        ["posterior", "pairs"] => "Posterior of the scalings by MCMC".into(),
        ["identifiability"] => "What the data constrain: posterior width against the prior's, and the cost profiles".into(),
        ["climatology", v] => format!("{v}: monthly climatology of the test case against the observations in each region (Figs. S12-S13)"),
        ["bias", "maps", v] => format!("{v}: bias maps of the test case (Fig. 11)"),
        ["fig10", "pcs"] => "The test case's PCs against the ensemble's (Fig. 10)".into(),
        ["fig11", "bias", "maps"] => "Bias maps of the test case (Fig. 11)".into(),
        ["nroy", "fraction"] => "The NROY fraction wave by wave".into(),
        ["kalman"] => "The estimate and its 5-95 % range after each iteration, and the misfit of each iteration's runs".into(),
        _ => plain(stem),
    }
}

fn plain(stem: &str) -> String {
    stem.replace('_', " ")
}

/// A number for a table cell: four significant digits, whole numbers as they are.
fn cell(v: &Value) -> String {
    match v {
        Value::Number(x) if x.is_nan() => String::new(),
        Value::Number(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Value::Number(x) => {
            let a = x.abs();
            if (1e-3..1e5).contains(&a) {
                let digits = (3 - a.log10().floor() as i32).max(0) as usize;
                format!("{x:.digits$}")
            } else {
                format!("{x:.3e}")
            }
        }
        Value::Text(s) => s.clone(),
    }
}

/// An HTML table of a CSV file (at most [`MAX_ROWS`] rows), or a line naming why not.
fn table_html(path: &Path, rel: &str, caption: &str) -> String {
    let t = match Table::read(path) {
        Ok(t) => t,
        Err(e) => {
            return format!(
                "<p class=\"problem\">{}: cannot be read: {}</p>\n",
                escape(rel),
                escape(&format!("{e:#}"))
            )
        }
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<div class=\"table\"><table>\n<caption>{} (<a href=\"{}\">{}</a>)</caption>\n<thead><tr>",
        escape(caption),
        url(rel),
        escape(rel)
    );
    for c in t.columns() {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for i in 0..t.len().min(MAX_ROWS) {
        h.push_str("<tr>");
        for c in t.columns() {
            let v = t.column(c).map(|col| col.value(i));
            let (text, num) = match &v {
                Ok(v @ Value::Number(_)) => (cell(v), true),
                Ok(v) => (cell(v), false),
                Err(_) => (String::new(), false),
            };
            let _ = write!(
                h,
                "<td{}>{}</td>",
                if num { " class=\"num\"" } else { "" },
                escape(&text)
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table>");
    if t.len() > MAX_ROWS {
        let _ = write!(
            h,
            "<p class=\"note\">The first {MAX_ROWS} of {} rows; all in {}.</p>",
            t.len(),
            escape(rel)
        );
    }
    h.push_str("</div>\n");
    h
}

/// The PNG figures of a folder (not its subfolders), sorted by name.
fn figures(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.to_ascii_lowercase().ends_with(".png"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// What `run.json` records of the stages, and the truth behind synthetic observations.
struct Provenance {
    runs: BTreeMap<String, serde_json::Value>,
    config: Option<crate::config::Config>,
    truth: BTreeMap<String, f64>,
    experiment: Option<String>,
    observations: Option<PathBuf>,
    problems: Vec<String>,
}

fn provenance(out: &Path) -> Provenance {
    let mut p = Provenance {
        runs: BTreeMap::new(),
        config: None,
        truth: BTreeMap::new(),
        experiment: None,
        observations: None,
        problems: Vec::new(),
    };
    let path = out.join("run.json");
    if !path.exists() {
        p.problems.push(format!(
            "{}: no such file (no stage recorded)",
            path.display()
        ));
        return p;
    }
    // run.json is the run's own record (rewritten when the stage that calls this ends): read
    // without marking it an input
    match crate::files::read_own_json::<serde_json::Value>(&path, "run record") {
        Ok(serde_json::Value::Object(m)) => p.runs = m.into_iter().collect(),
        Ok(_) => p
            .problems
            .push(format!("{}: not a map of stages", path.display())),
        Err(e) => p.problems.push(format!("{e:#}")),
    }
    // the config of the last stage recorded: the experiment, its observations, their truth
    let config = p
        .runs
        .values()
        .rev()
        .find_map(|r| r.get("config")?.as_array()?.first().cloned());
    if let Some(c) = config {
        let cpath = c.get("path").and_then(|v| v.as_str()).map(PathBuf::from);
        let text = c.get("text").and_then(|v| v.as_str());
        if let (Some(cpath), Some(text)) = (cpath, text) {
            match crate::config::Config::parse(text, &cpath) {
                Ok(cfg) => {
                    p.experiment = Some(cfg.experiment.name.clone());
                    if let Some(obs) = &cfg.observations {
                        match crate::demo::setup::truth_beside(&obs.file) {
                            Ok(t) => p.truth = t,
                            Err(e) => p.problems.push(format!("{e:#}")),
                        }
                        p.observations = Some(obs.file.clone());
                    }
                    p.config = Some(cfg);
                }
                Err(e) => p
                    .problems
                    .push(format!("the config recorded in run.json: {e:#}")),
            }
        }
    }
    p
}

fn stage_rows(p: &Provenance) -> String {
    let mut h = String::from(
        "<div class=\"table\"><table>\n<caption>What ran (run.json)</caption>\n<thead><tr><th>stage</th><th>script</th><th>status</th><th>started</th><th>seconds</th><th>clmtune</th><th>script sha256</th><th>config sha256</th></tr></thead>\n<tbody>\n",
    );
    for (name, r) in &p.runs {
        let s = |k: &str| {
            r.get(k)
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    v => v.to_string(),
                })
                .unwrap_or_default()
        };
        let commit = r
            .pointer("/clmtune/commit")
            .and_then(|v| v.as_str())
            .map(|c| c.chars().take(10).collect::<String>())
            .unwrap_or_default();
        let version = r
            .pointer("/clmtune/version")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let short = |v: Option<&serde_json::Value>| {
            v.and_then(|v| v.as_str())
                .map(|x| x.chars().take(12).collect::<String>())
                .unwrap_or_default()
        };
        let script_hash = short(r.pointer("/scripts/0/sha256"));
        let config_hash = short(r.pointer("/config/0/sha256"));
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{} {}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            escape(name),
            escape(&s("script")),
            escape(&s("status")),
            escape(&s("started")),
            escape(&s("seconds")),
            escape(version),
            escape(&commit),
            escape(&script_hash),
            escape(&config_hash)
        );
    }
    h.push_str("</tbody></table></div>\n");
    h
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1200px;margin:0 auto;padding:1em 2em;color:#222;line-height:1.4}\
h1{margin-bottom:0.2em}h2{border-bottom:1px solid #ccc;padding-bottom:0.2em;margin-top:2em}\
.banner{padding:0.8em 1em;border-radius:4px;margin:1em 0;font-weight:bold}\
.synthetic{background:#fff3cd;border:1px solid #e0c36a}.real{background:#e7f1e7;border:1px solid #9c9}\
nav a{margin-right:1em}pre{background:#f6f6f6;padding:0.8em;overflow-x:auto;font-size:0.9em}\
.figures{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0;flex:1 1 360px;max-width:560px}\
figure img{width:100%;height:auto;border:1px solid #ddd}figcaption{font-size:0.9em;color:#444}\
.table{overflow-x:auto;margin:1em 0}table{border-collapse:collapse;font-size:0.85em}\
caption{text-align:left;font-weight:bold;padding:0.3em 0}th,td{border:1px solid #ccc;padding:0.2em 0.5em;white-space:nowrap}\
td.num{text-align:right;font-variant-numeric:tabular-nums}.problem{color:#a00}.note{font-size:0.85em;color:#555}";

/// The whole workflow's summary ([`crate::summary`]) from the config recorded in run.json,
/// or why there is none.
fn summary_of(out: &Path, p: &Provenance) -> Result<Vec<String>, String> {
    let c = p
        .config
        .as_ref()
        .ok_or_else(|| "no config recorded in run.json".to_string())?;
    let inputs = crate::summary::Inputs {
        out: out.to_path_buf(),
        calibrated: c.parameters.calibrate.clone(),
        modes: c.emulator.as_ref().map_or(3, |e| e.modes),
        variables: c
            .observations
            .as_ref()
            .map(|o| o.variables.keys().cloned().collect())
            .unwrap_or_default(),
        truth: p.truth.clone(),
    };
    crate::summary::summary(&inputs)
        .map_err(|e| format!("{e:#} (the summary reads the results of stages 01-07)"))
}

/// The report's HTML for the results folder `out`.
pub fn html(out: &Path) -> String {
    let p = provenance(out);
    let summary = summary_of(out, &p);
    let name = p.experiment.clone().unwrap_or_else(|| "experiment".into());
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>clmtune report: {n}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>clmtune report: {n}</h1>\n<p class=\"note\">Written {t} by clmtune {v} from {o}.</p>\n",
        n = escape(&name),
        t = crate::files::now_utc(),
        v = env!("CARGO_PKG_VERSION"),
        o = escape(&out.display().to_string())
    );
    if !p.truth.is_empty() {
        let truth: Vec<String> = p.truth.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            h,
            "<p class=\"banner synthetic\">Demo model (not CLM) against synthetic identical-twin observations{}, made by the demo model at a known truth (scalings: {}). Nothing here is CLM5 or FLUXNET.</p>",
            p.observations
                .as_ref()
                .map(|o| format!(" ({})", escape(&o.display().to_string())))
                .unwrap_or_default(),
            escape(&truth.join(", "))
        );
    } else if let Some(o) = &p.observations {
        let _ = writeln!(
            h,
            "<p class=\"banner real\">Model runs against the observations in {}.</p>",
            escape(&o.display().to_string())
        );
    }
    let present: Vec<&Stage> = STAGES.iter().filter(|s| out.join(s.dir).is_dir()).collect();
    h.push_str("<nav><a href=\"#summary\">Summary</a>");
    for s in &present {
        let _ = write!(
            h,
            "<a href=\"#{}\">{}</a>",
            url(&s.dir.replace('/', "-")),
            escape(s.title)
        );
    }
    h.push_str("<a href=\"#provenance\">Provenance</a></nav>\n");
    h.push_str("<h2 id=\"summary\">Summary</h2>\n");
    match &summary {
        Ok(lines) => {
            let _ = writeln!(h, "<pre>{}</pre>", escape(&lines.join("\n")));
        }
        Err(e) => {
            let _ = writeln!(h, "<p class=\"note\">No summary: {}</p>", escape(e));
        }
    }
    for s in present {
        let dir = out.join(s.dir);
        let _ = write!(
            h,
            "<h2 id=\"{}\">{}</h2>\n<p>{}</p>\n",
            url(&s.dir.replace('/', "-")),
            escape(s.title),
            escape(s.about)
        );
        for (file, cap) in s.tables {
            let path = dir.join(file);
            if path.is_file() {
                h.push_str(&table_html(&path, &format!("{}/{file}", s.dir), cap));
            }
        }
        let figs = figures(&dir);
        if !figs.is_empty() {
            h.push_str("<div class=\"figures\">\n");
            for f in figs {
                let stem = f.trim_end_matches(".png").trim_end_matches(".PNG");
                let rel = format!("{}/{f}", s.dir);
                let _ = writeln!(
                    h,
                    "<figure><img src=\"{}\" alt=\"{}\" loading=\"lazy\"><figcaption>{} <span class=\"note\">({})</span></figcaption></figure>",
                    url(&rel),
                    escape(&caption(stem)),
                    escape(&caption(stem)),
                    escape(&rel)
                );
            }
            h.push_str("</div>\n");
        }
    }
    h.push_str("<h2 id=\"provenance\">Provenance</h2>\n");
    if !p.runs.is_empty() {
        h.push_str(&stage_rows(&p));
    }
    for pr in &p.problems {
        let _ = writeln!(h, "<p class=\"problem\">{}</p>", escape(pr));
    }
    h.push_str("</body>\n</html>\n");
    h
}

/// Writes `OUT/report.html` (atomically) and returns its path.
pub fn write(out: &Path) -> Result<PathBuf> {
    crate::files::check_dir_input(out, "results folder")?;
    if !out.is_dir() {
        anyhow::bail!("cannot write a report: {} is not a folder", out.display());
    }
    let path = out.join("report.html");
    // what the report reads stays the stages' own: not inputs of the stage refreshing it
    let text = crate::files::unrecorded(|| html(out));
    crate::files::atomic_write(&path, |w| Ok(w.write_all(text.as_bytes())?))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_say_which_figure_of_the_paper() {
        assert_eq!(
            caption("eof_GPP_1"),
            "EOF 1 of GPP: its spatial pattern (Fig. 4)"
        );
        assert_eq!(
            caption("fit_LHF_2_ppe_test"),
            "LHF PC2: emulated against actual on the second ensemble (Fig. 5)"
        );
        assert_eq!(
            caption("partial_dependence_GPP_3"),
            "GPP PC3: partial dependence on each parameter (Fig. 8)"
        );
        assert_eq!(
            caption("pe_GPP_baseflow_scalar"),
            "Effect of baseflow_scalar on GPP, on its own colour scale"
        );
        assert_eq!(
            caption("fig1_pe_GPP"),
            "Parameter effect on GPP of the calibrated parameters, on one colour scale (Fig. 1)"
        );
        assert_eq!(caption("something_else"), "something else");
    }

    #[test]
    fn cells_and_text_are_escaped_and_numbers_rounded() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(url("eof/a b#.png"), "eof/a%20b%23.png");
        assert_eq!(cell(&Value::Number(0.123456)), "0.1235");
        assert_eq!(cell(&Value::Number(12.0)), "12");
        assert_eq!(cell(&Value::Number(1234.5678)), "1235");
        assert_eq!(cell(&Value::Number(2.5e-7)), "2.500e-7");
        assert_eq!(cell(&Value::Number(f64::NAN)), "");
    }

    #[test]
    fn a_results_folder_becomes_one_page_whose_images_all_exist() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path();
        std::fs::create_dir_all(out.join("eof")).unwrap();
        std::fs::create_dir_all(out.join("kalman/uki")).unwrap();
        // a 1x1 PNG
        let png: &[u8] = &[
            0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52,
            0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1F, 0x15, 0xC4, 0x89, 0, 0, 0, 0x0D, 0x49,
            0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0D, 0x0A, 0x2D, 0xB4, 0, 0,
            0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
        ];
        std::fs::write(out.join("eof/eof_GPP_1.png"), png).unwrap();
        std::fs::write(out.join("kalman/uki/kalman.png"), png).unwrap();
        std::fs::write(
            out.join("eof/targets.csv"),
            "variable,mode,u_obs\nGPP,1,0.0523870660\n<b>,2,3\n",
        )
        .unwrap();
        std::fs::write(
            out.join("kalman/uki/estimate.csv"),
            "parameter,scaling,p05,p95\nkmax,0.51,0.42,0.60\n",
        )
        .unwrap();
        let path = write(out).unwrap();
        // the tables it showed are not inputs of the run that refreshed it: a stage rerun in
        // the same run (demo.rhai --fresh) may write them again
        assert!(!crate::files::is_input(&out.join("eof/targets.csv")));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("<!DOCTYPE html>"));
        for want in [
            "<h2 id=\"summary\">Summary</h2>",
            "<h2 id=\"eof\">EOF analysis</h2>",
            "<h2 id=\"kalman-uki\">Ensemble Kalman calibration (UKI)</h2>",
            "<h2 id=\"provenance\">Provenance</h2>",
            "<td class=\"num\">0.05239</td>",
            "<td>&lt;b&gt;</td>",
            "No summary: no config recorded in run.json",
            "no stage recorded",
        ] {
            assert!(text.contains(want), "no {want} in\n{text}");
        }
        assert!(
            !text.contains("<h2 id=\"calibrate\">"),
            "a stage that did not run is left out"
        );
        assert!(!text.contains("<script"), "no JavaScript");
        // every image is a relative path to a file that exists
        let srcs: Vec<&str> = text
            .split("<img src=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').unwrap()])
            .collect();
        assert_eq!(srcs, ["eof/eof_GPP_1.png", "kalman/uki/kalman.png"]);
        for s in srcs {
            assert!(out.join(s).is_file(), "{s}");
        }
        // written again over itself (atomically), nothing left beside it
        write(out).unwrap();
        let names: Vec<_> = std::fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }
}
