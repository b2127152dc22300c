//! `clmtune bench`: named benchmarks, each timed over several runs after one warm-up, shown
//! as a table of median / min / max against its target and written as JSON. Later stages
//! add rows to [`BENCHES`].

use anyhow::Context;
use std::path::Path;
use std::time::Instant;

/// A prepared benchmark body: one timed run.
pub type Body = Box<dyn FnMut() -> anyhow::Result<()>>;

/// One benchmark: its name, what it measures, the target time, and its untimed setup.
pub struct Bench {
    /// Name used on the command line and in the table.
    pub name: &'static str,
    /// What one run does.
    pub about: &'static str,
    /// Target for the median, seconds.
    pub target_s: f64,
    /// Prepares data (not timed) and returns the timed body.
    pub setup: fn() -> anyhow::Result<Body>,
}

/// Every benchmark.
pub const BENCHES: &[Bench] = &[Bench {
    name: "array_arith",
    about: "a * b + c on 10^7 elements, from a script",
    target_s: 0.2,
    setup: array_arith,
}];

fn array_arith() -> anyhow::Result<Body> {
    let engine = crate::script::engine();
    let mut scope = crate::script::base_scope("<bench>", &[]);
    let setup = engine.compile(
        "let n = 10_000_000; let a = rand(n, 1); let b = rand(n, 2); let c = rand(n, 3);",
    )?;
    engine
        .run_ast_with_scope(&mut scope, &setup)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ast = engine.compile("a * b + c")?;
    Ok(Box::new(move || {
        let r: crate::script::array::NdArray = engine
            .eval_ast_with_scope(&mut scope, &ast)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(
            r.data().len() == 10_000_000,
            "wrong result size {}",
            r.data().len()
        );
        Ok(())
    }))
}

/// Timings of one benchmark, seconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Timing {
    /// Benchmark name.
    pub name: String,
    /// What it measures.
    pub about: String,
    /// Median of the runs.
    pub median_s: f64,
    /// Fastest run.
    pub min_s: f64,
    /// Slowest run.
    pub max_s: f64,
    /// Target for the median.
    pub target_s: f64,
    /// Number of timed runs.
    pub runs: usize,
}

/// Median of a non-empty list.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Times one benchmark: one warm-up, then `runs` timed runs.
pub fn time(b: &Bench, runs: usize) -> anyhow::Result<Timing> {
    let mut body = (b.setup)().with_context(|| format!("benchmark {}: setup failed", b.name))?;
    body().with_context(|| format!("benchmark {}: warm-up failed", b.name))?;
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        body().with_context(|| format!("benchmark {} failed", b.name))?;
        t.push(start.elapsed().as_secs_f64());
    }
    Ok(Timing {
        name: b.name.into(),
        about: b.about.into(),
        median_s: median(&t),
        min_s: t.iter().copied().fold(f64::INFINITY, f64::min),
        max_s: t.iter().copied().fold(0.0, f64::max),
        target_s: b.target_s,
        runs: t.len(),
    })
}

fn secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} us", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// The results as a table.
pub fn table(rows: &[Timing]) -> String {
    let mut out = format!(
        "{:<16} {:>10} {:>10} {:>10} {:>10}  {}\n",
        "benchmark", "median", "min", "max", "target", "what"
    );
    for r in rows {
        let mark = if r.median_s <= r.target_s {
            "ok"
        } else {
            "SLOW"
        };
        out.push_str(&format!(
            "{:<16} {:>10} {:>10} {:>10} {:>10}  {mark:<4} {}\n",
            r.name,
            secs(r.median_s),
            secs(r.min_s),
            secs(r.max_s),
            format!("< {}", secs(r.target_s)),
            r.about
        ));
    }
    out
}

/// Runs the benchmarks whose names contain one of `filters` (all if none), prints the table
/// and writes JSON to `json`.
pub fn run(filters: &[String], runs: usize, json: &Path) -> anyhow::Result<()> {
    let chosen: Vec<&Bench> = BENCHES
        .iter()
        .filter(|b| filters.is_empty() || filters.iter().any(|f| b.name.contains(f.as_str())))
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = BENCHES.iter().map(|b| b.name).collect();
        anyhow::bail!(
            "no benchmark matches {filters:?}; there are: {}",
            names.join(", ")
        );
    }
    if !cfg!(debug_assertions) || std::env::var_os("CLMTUNE_BENCH_DEBUG").is_some() {
    } else {
        eprintln!("warning: this is a debug build; build with --release for real timings");
    }
    let pb = crate::progress::bar(chosen.len() as u64, "benchmarks");
    let mut rows = Vec::new();
    for b in chosen {
        pb.set_message(b.name);
        rows.push(time(b, runs)?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    crate::output::print(&table(&rows));
    let doc = serde_json::json!({
        "clmtune_version": env!("CARGO_PKG_VERSION"),
        "threads": rayon::current_num_threads(),
        "results": rows,
    });
    crate::files::atomic_write(json, |w| Ok(serde_json::to_writer_pretty(w, &doc)?))?;
    crate::output::println(&format!("wrote {}", json.display()));
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(super::median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
