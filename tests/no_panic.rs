//! No function reachable from a script may panic: every native function and operator is
//! called with malformed arguments (wrong types, wrong shapes, empty arrays, NaN, 0-d
//! arrays, huge and negative numbers) and must return a value or a script error whose
//! message names types in script words (`Field`, `Range`), never by a Rust path.

mod common;
use common::OutputAlone;

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Values as Rhai expressions; `DIR` is replaced by a temporary folder (file arguments).
const VALUES: &[&str] = &[
    "array([])",
    "zeros([0, 3])",
    "array(1.5)",
    "array([NAN, 1, INF])",
    "arange(24).reshape([2, 3, 4])",
    "array([[1, 2], [3, 4]])",
    "array([true, false])",
    "-1",
    "0",
    "2",
    "1e308",
    "-9223372036854775807",
    "NAN",
    "\"DIR/f.csv\"",
    // an odd file name, in the temporary folder (a bare ":" would be written into the
    // current folder by the writers, and its messages would read "cannot open :: ...")
    "\"DIR/:x\"",
    "()",
    "[]",
    "[1, [2]]",
    "[0, 1]",
    "#{}",
    "#{axis: 99, ddof: -1}",
    "true",
    "1..3",
    "-5..=99",
    "table(#{a: [1, NAN], b: [\"x\", \"\"]})",
];

/// A smaller set for functions of three or more parameters.
const FEW: &[&str] = &[
    "array([])",
    "array(1.5)",
    "array([NAN, 1, INF])",
    "array([[1, 2], [3, 4]])",
    "-1",
    "1e308",
    "NAN",
    "\"DIR/g.csv\"",
    "[0, 1]",
    "#{}",
    "()",
    "table(#{a: [1, NAN], b: [\"x\", \"\"]})",
];

/// Calls with text arguments may write files under relative names (`"text"`, `"demo"`):
/// every test here runs with the process's working folder in a temporary folder, never the
/// source tree.
fn sandbox_cwd() {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
        std::env::set_current_dir(dir.path()).unwrap();
    });
}

fn call_expr(name: &str, args: &[&str]) -> String {
    let is_op = !name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '.' || c == '[');
    match (name, args) {
        ("[]", [a, i]) => format!("({a})[{i}]"),
        ("[]=", [a, i, v]) => format!("let __x = {a}; __x[{i}] = {v}; __x"),
        (n, [a]) if n.starts_with('.') => format!("({a}){n}"),
        (op, [a]) if is_op => format!("{op}({a})"),
        (op, [a, b]) if is_op => format!("({a}) {op} ({b})"),
        (n, _) => format!("{n}({})", args.join(", ")),
    }
}

fn combos(pool: &[&'static str], n: usize) -> Vec<Vec<&'static str>> {
    let mut out: Vec<Vec<&str>> = vec![vec![]];
    for _ in 0..n {
        out = out
            .into_iter()
            .flat_map(|v| pool.iter().map(move |x| [v.clone(), vec![*x]].concat()))
            .collect();
    }
    out
}

#[test]
fn no_native_function_panics_on_malformed_arguments() {
    sandbox_cwd();
    common::demo_fixture();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let engine = clmtune::script::engine();
    let mut calls = 0;
    let mut panics = Vec::new();
    let mut rust_words = Vec::new();
    std::panic::set_hook(Box::new(|_| {}));
    for m in clmtune::script::doc::catalog() {
        for f in &m.functions {
            let params = f
                .signature
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .map(|(p, _)| p)
                .unwrap_or("");
            let n = if params.trim().is_empty() {
                0
            } else {
                params.split(',').count()
            };
            let pool = if n >= 3 { FEW } else { VALUES };
            for args in combos(pool, n) {
                let args: Vec<String> = args.iter().map(|a| a.replace("DIR", &d)).collect();
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                let code = call_expr(&f.name, &refs);
                calls += 1;
                let mut scope = clmtune::script::base_scope("<fuzz>", &[]);
                let r = catch_unwind(AssertUnwindSafe(|| {
                    engine.eval_with_scope::<rhai::Dynamic>(&mut scope, &code)
                }));
                match r {
                    Err(_) => panics.push(code),
                    Ok(Err(e)) => {
                        // the message as a person reads it: script type names, never a
                        // Rust path such as clmtune::script::field::ScriptField
                        let text = clmtune::script::error::report(&e, "<fuzz>", &|_| None);
                        if text.contains("::") {
                            rust_words.push(format!("{code}\n    {}", text.trim_end()));
                        }
                    }
                    Ok(Ok(_)) => {}
                }
            }
        }
    }
    let _ = std::panic::take_hook();
    assert!(calls > 10_000, "only {calls} calls");
    assert!(
        panics.is_empty(),
        "{} of {calls} calls panicked:\n{}",
        panics.len(),
        panics.join("\n")
    );
    assert!(
        rust_words.is_empty(),
        "{} of {calls} messages name a Rust path, e.g.:\n{}",
        rust_words.len(),
        rust_words
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn huge_requests_are_errors_not_aborts() {
    sandbox_cwd();
    common::demo_fixture();
    let engine = clmtune::script::engine();
    for code in [
        "zeros([1 << 40, 1 << 40])",
        "ones([9223372036854775807, 2])",
        "eye(4000000000)",
        "linspace(0, 1, 1 << 50)",
        "arange(0, 1e300, 1)",
        "rand([1 << 33], 1)",
        "zeros([2, -3])",
        "arange(10).reshape([1 << 62, 4])",
    ] {
        let r = engine.eval::<rhai::Dynamic>(code);
        assert!(r.is_err(), "{code} should be an error");
    }
}

/// A folder with the archive of case "demo" (year 1, GPP on a 2 x 3 grid) that the
/// reproducers of issue 18 read.
fn issue18_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    clmtune::demo::fixture::Archive::new(
        &dir.path().join("archive"),
        clmtune::demo::fixture::tiny_grid(),
    )
    .var("GPP", "gC/m^2/s", "gross primary production")
    .write_case("demo", (1, 1), |_, m| vec![1.0 + m.index as f64; 6])
    .unwrap();
    dir
}

/// Runs `code` with `ROOT` (the archive), `DIR` (the folder) and `F` (GPP of case demo)
/// defined; a panic fails the test, and so does a call over `secs` seconds. Returns the
/// message of the error (empty if the call succeeded).
fn run_bounded(dir: &std::path::Path, code: &str, secs: f64) -> String {
    let engine = clmtune::script::engine();
    let d = dir.display().to_string();
    let prelude = format!(
        "const ROOT = \"{d}/archive\"; const DIR = \"{d}\"; \
         let F = read_case(ROOT, \"demo\", \"GPP\", [1, 1]).GPP;\n"
    );
    let mut scope = clmtune::script::base_scope("<issue18>", &[]);
    let t0 = std::time::Instant::now();
    let r = catch_unwind(AssertUnwindSafe(|| {
        engine.eval_with_scope::<rhai::Dynamic>(&mut scope, &format!("{prelude}{code}"))
    }));
    let took = t0.elapsed().as_secs_f64();
    assert!(took < secs, "{code} took {took:.1} s (bound {secs} s)");
    match r {
        Err(_) => panic!("{code} panicked"),
        Ok(Ok(_)) => String::new(),
        Ok(Err(e)) => clmtune::script::error::report(&e, "<issue18>", &|_| None),
    }
}

/// Every file in `dir` (not recursive) whose name starts with `.clmtune-`.
fn stray_temporaries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".clmtune-"))
        .collect()
}

#[test]
fn issue18_aborts_are_errors() {
    sandbox_cwd();
    common::demo_fixture();
    let dir = issue18_folder();
    let p = dir.path();
    // (code, a phrase the error must contain); each within 10 s
    let cases: &[(&str, &str)] = &[
        // 1: names netCDF cannot hold, in reading and in writing
        (
            "write_netcdf(`${DIR}/g.nc`, #{GPP: F}); read_obs(`${DIR}/g.nc`, \"/\", (), F)",
            "variable name \"/\" is not a valid netCDF name: it must begin with",
        ),
        (
            "read_obs(`${DIR}/g.nc`, \"a / b\", (), F)",
            "may not contain '/'",
        ),
        (
            "read_obs(`${DIR}/g.nc`, \"G\\x00P\", (), F)",
            "variable name \"G\\0P\" is not a valid netCDF name: it may not contain control",
        ),
        (
            "load_eof(`${DIR}/g.nc`, \"/\")",
            "is not a valid netCDF name",
        ),
        (
            "write_netcdf(`${DIR}/h.nc`, #{\"a/b\": F})",
            "variable name \"a/b\" is not a valid netCDF name: it may not contain '/'",
        ),
        (
            "write_netcdf(`${DIR}/h2.nc`, #{\"x/y\": zeros([2])})",
            "key \"x/y\": variable name \"x/y\" is not a valid netCDF name",
        ),
        // 2: NaN and inverted plot ranges
        (
            "plot_scatter([1, 2], [1, 2], #{file: `${DIR}/s.png`, vmin: NAN})",
            "figure option vmin: NaN is not a finite number",
        ),
        (
            "plot_scatter([1, 2], [1, 2], #{file: `${DIR}/s.png`, vmin: INF, vmax: -INF})",
            "figure option vmin: inf is not a finite number",
        ),
        (
            "plot_histogram([1, 2, 3], #{file: `${DIR}/h.png`, vmin: 3, vmax: 1})",
            "vmin = 3 and vmax = 1: vmin must be below vmax",
        ),
        (
            "plot_map(F.time_mean(), #{file: `${DIR}/m.png`, vmax: NAN})",
            "figure option vmax: NaN is not a finite number",
        ),
        (
            "plot_pairs(array([[0.1, 0.2], [0.3, 0.4]]), [\"a\", \"b\"], #{file: `${DIR}/p.png`, vmin: 1, vmax: 1})",
            "vmin must be below vmax",
        ),
        (
            "plot_heatmap(eye(2), [\"a\", \"b\"], #{file: `${DIR}/q.png`, vmin: -INF})",
            "is not a finite number",
        ),
        // 4: nesting
        (
            "let x = 1; for i in 0..3000 { x = [x]; } array(x)",
            "deeper than 32 levels",
        ),
        // 5: 2^31 elements
        ("arange(2147483648)", "too long"),
        ("linspace(0, 1, 2147483648)", "more than 2147483647 elements"),
        ("rand([2147483648], 1)", "more than 2147483647 elements"),
        ("randn([65536, 32768], 1)", "more than 2147483647 elements"),
        ("zeros(2147483648)", "more than 2147483647 elements"),
        // 6: huge year ranges
        (
            "is_complete(ROOT, \"demo\", [1, 1000000000])",
            "years [1, 1000000000]: years must lie in 0-9999",
        ),
        (
            "missing_months(ROOT, \"demo\", [1, 1000000000])",
            "years must lie in 0-9999",
        ),
        (
            "read_case(ROOT, \"demo\", \"GPP\", [-5, 1])",
            "years [-5, 1]: years must lie in 0-9999",
        ),
        (
            "read_ensemble(ROOT, [\"demo\"], \"GPP\", [1, 1000000000])",
            "years must lie in 0-9999",
        ),
    ];
    for (code, phrase) in cases {
        let e = run_bounded(p, code, 10.0);
        assert!(e.contains(phrase), "{code}\n  gave: {e}");
    }
    // 4: an output expression nested 20,000 deep, or with 10,000 leading minus signs
    for expr in [
        format!("{}GPP{}", "(".repeat(20_000), ")".repeat(20_000)),
        format!("{}GPP", "-".repeat(10_000)),
    ] {
        let e = run_bounded(
            p,
            &format!("read_case(ROOT, \"demo\", #{{X: \"{expr}\"}}, [1, 1])"),
            10.0,
        );
        assert!(e.contains("more than the 1000 allowed"), "{e}");
    }
    // the plots refused above left no file and no temporary file
    assert!(
        stray_temporaries(p).is_empty(),
        "{:?}",
        stray_temporaries(p)
    );
    for f in ["s.png", "h.png", "m.png", "p.png", "q.png"] {
        assert!(!p.join(f).exists(), "{f} was written");
    }
}

#[test]
fn issue18_hangs_end_quickly() {
    sandbox_cwd();
    common::demo_fixture();
    let dir = issue18_folder();
    let p = dir.path();
    // 7: data or limits whose span exceeds the largest float: an error in well under 10 s
    for code in [
        "plot_bars([\"a\", \"b\"], [1e308, -1e308], #{file: `${DIR}/b.png`})",
        "plot_scatter([0, 1], [0, 1], #{file: `${DIR}/s.png`, vmin: -1e308, vmax: 1e308})",
        "plot_histogram([-1e308, 1e308], #{file: `${DIR}/h.png`})",
        "plot_scatter([-1e308, 1e308], [0, 1], #{file: `${DIR}/t.png`})",
    ] {
        let e = run_bounded(p, code, 10.0);
        assert!(
            e.contains("the span is larger than the largest float"),
            "{code}\n  gave: {e}"
        );
    }
    // a span narrower than a float's resolution is widened and drawn
    let e = run_bounded(
        p,
        "plot_scatter([1e16, 1e16 + 2], [1e16, 1e16 + 4], #{file: `${DIR}/n.png`})",
        20.0,
    );
    assert_eq!(e, "");
    assert!(p.join("n.png").is_file());
    assert!(
        stray_temporaries(p).is_empty(),
        "{:?}",
        stray_temporaries(p)
    );
    for f in ["b.png", "s.png", "h.png", "t.png"] {
        assert!(!p.join(f).exists(), "{f} was written");
    }
}

#[test]
fn issue18_special_files_and_inputs_are_never_replaced() {
    sandbox_cwd();
    common::demo_fixture();
    let dir = issue18_folder();
    let p = dir.path();
    // 10: a device, a folder and a FIFO as targets are refused and left as they were
    let e = run_bounded(p, "write_csv(eye(2), \"/dev/null\", [\"a\", \"b\"])", 10.0);
    assert!(
        e.contains("refusing to write /dev/null: it exists and is a device, not a regular file"),
        "{e}"
    );
    std::fs::create_dir(p.join("folder.csv")).unwrap();
    let e = run_bounded(p, "write_rows(`${DIR}/folder.csv`, [\"a\"], [[1]])", 10.0);
    assert!(
        e.contains("it exists and is a folder, not a regular file"),
        "{e}"
    );
    // the OS reason appears once, never "(os error 21): ... (os error 21)"
    assert!(e.matches("os error").count() <= 1, "{e}");
    let fifo = p.join("fifo.png");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let e = run_bounded(
            p,
            "plot_bars([\"a\"], [1], #{file: `${DIR}/fifo.png`})",
            10.0,
        );
        assert!(e.contains("is a FIFO, not a regular file"), "{e}");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }
    // 14: an empty path
    let e = run_bounded(p, "write_rows(\"\", [\"a\"], [[1]])", 10.0);
    assert!(e.contains("cannot write a file with an empty name"), "{e}");
    // 11: the config and the spec read_config read are inputs of the run
    let cfg = common::experiment(p, 2, "kind = \"none\"");
    let before = std::fs::read_to_string(&cfg).unwrap();
    let spec = p.join("parameters.toml");
    let spec_before = std::fs::read_to_string(&spec).unwrap();
    let e = run_bounded(
        p,
        &format!(
            "let c = read_config(\"{}\"); write_rows(\"{}\", [\"a\"], [[1]])",
            cfg.display(),
            cfg.display()
        ),
        10.0,
    );
    assert!(e.contains("it was read as input in this run"), "{e}");
    let e = run_bounded(
        p,
        &format!(
            "let c = read_config(\"{}\"); write_rows(\"{}\", [\"a\"], [[1]])",
            cfg.display(),
            spec.display()
        ),
        10.0,
    );
    assert!(e.contains("it was read as input in this run"), "{e}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), before);
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), spec_before);
    // 14: /dev/zero as a config ends at the size cap, quickly
    let e = run_bounded(p, "read_config(\"/dev/zero\")", 10.0);
    assert!(
        e.contains("cannot read config /dev/zero: it is a device, not a data file"),
        "{e}"
    );
    assert!(
        stray_temporaries(p).is_empty(),
        "{:?}",
        stray_temporaries(p)
    );
}

/// Malformed arguments of the classes of issue 18: wrong types, NaN/inf and inverted
/// ranges, sizes at and above 2^31, deep nesting, huge year ranges, special files as
/// targets (`DIR` is the test folder; `F` a Field, `ROOT` an archive).
const MALFORMED: &[&str] = &[
    // wrong types
    "()",
    "true",
    "#{}",
    "\"text\"",
    "F",
    "table(#{a: [1, NAN]})",
    // NaN, inf and inverted ranges
    "NAN",
    "INF",
    "-INF",
    "[5, 1]",
    "[NAN, INF]",
    "#{file: `${DIR}/x.png`, vmin: NAN}",
    "#{file: `${DIR}/x.png`, vmin: INF, vmax: -INF}",
    "#{file: `${DIR}/x.png`, vmin: 2, vmax: 1}",
    "#{file: `${DIR}/x.png`, vmin: -1e308, vmax: 1e308}",
    "[1e308, -1e308]",
    "array([1e308, -1e308, NAN])",
    // sizes at and above 2^31
    "2147483648",
    "[2147483648]",
    "[65536, 32768]",
    "-2147483649",
    // deep nesting
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    // (and output expressions nested 3,000 deep, added in the test)
    // huge year ranges
    "[1, 1000000000000]",
    "[-9223372036854775807, 9223372036854775807]",
    // special files as targets, names netCDF cannot hold
    "\"/dev/null\"",
    "`${DIR}/folder`",
    // issue 28: special files as inputs and targets (readers refuse them before opening, so
    // a FIFO no longer waits for a writer), and a damaged netCDF-4 file
    "`${DIR}/fifo`",
    "`${DIR}/loop`",
    "\"/dev/zero\"",
    "`${DIR}/damaged.nc`",
    "\"\"",
    "\"/\"",
    "\"a\\x00b\"",
    "\"line\\nbreak\"",
    // plausible values, so that a call reaches the code past its first argument
    "ROOT",
    "\"demo\"",
    "\"GPP\"",
    "[1, 1]",
    "array([[1, 2], [3, 4]])",
    "[\"a\", \"b\"]",
    "`${DIR}/out.png`",
    "`${DIR}/out.csv`",
    "2",
];

/// A small deterministic generator (xorshift64*), so that the fuzz test is repeatable.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// Issue 18's "done means": a seeded fuzz of every function `clmtune doc --json` lists,
/// with malformed arguments of every class, bounded in count (30 calls per function) and time
/// (45 s in all, 10 s per call). No call may panic or abort the process, none may run
/// over its bound, no temporary file may be left beside a target, and the special files
/// given as targets keep their kind.
#[test]
fn seeded_fuzz_of_every_documented_function() {
    sandbox_cwd();
    use std::os::unix::fs::FileTypeExt;
    common::demo_fixture();
    let dir = issue18_folder();
    let p = dir.path();
    std::fs::create_dir(p.join("folder")).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(p.join("fifo"))
        .status()
        .unwrap()
        .success());
    std::os::unix::fs::symlink(p.join("loop"), p.join("loop")).unwrap();
    // a netCDF-4 file with a damaged HDF5 superblock signature and version bytes
    let nc = p.join("damaged.nc");
    let mut w = clmtune::nc::Writer::new(clmtune::nc::Format::Netcdf4);
    w.dim("x", 3);
    w.var("v", &["x"], vec![1.0f64, 2.0, 3.0]);
    w.save(&nc).unwrap();
    let mut bytes = std::fs::read(&nc).unwrap();
    for b in bytes.iter_mut().skip(8).take(64) {
        *b ^= 0xFF;
    }
    std::fs::write(&nc, bytes).unwrap();
    let engine = clmtune::script::engine();
    let d = p.display().to_string();
    let mut base = clmtune::script::base_scope("<fuzz>", &[]);
    engine
        .run_with_scope(
            &mut base,
            &format!(
                "const DIR = \"{d}\"; const ROOT = \"{d}/archive\"; \
                 const F = read_case(ROOT, \"demo\", \"GPP\", [1, 1]).GPP;"
            ),
        )
        .unwrap();
    // the functions as `clmtune doc --json` lists them
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .args(["doc", "--json"])
        .output_alone()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut functions: Vec<(String, usize)> = Vec::new();
    fn collect(v: &serde_json::Value, out: &mut Vec<(String, usize)>) {
        match v {
            serde_json::Value::Object(m) => {
                if let (Some(name), Some(sig)) = (
                    m.get("name").and_then(|n| n.as_str()),
                    m.get("signature").and_then(|s| s.as_str()),
                ) {
                    let params = sig
                        .split_once('(')
                        .and_then(|(_, r)| r.rsplit_once(')'))
                        .map(|(p, _)| p)
                        .unwrap_or("");
                    let n = if params.trim().is_empty() {
                        0
                    } else {
                        params.split(',').count()
                    };
                    out.push((name.to_string(), n));
                }
                m.values().for_each(|x| collect(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
    collect(&doc, &mut functions);
    assert!(
        functions.len() > 100,
        "only {} functions listed",
        functions.len()
    );
    let mut pool: Vec<String> = MALFORMED.iter().map(|s| s.to_string()).collect();
    pool.push(format!(
        "#{{X: \"{}GPP{}\"}}",
        "(".repeat(3000),
        ")".repeat(3000)
    ));
    pool.push(format!("\"{}GPP\"", "-".repeat(5000)));
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(0x5EED_1818);
    let t0 = std::time::Instant::now();
    let (mut calls, mut panics, mut slow) = (0, Vec::new(), Vec::new());
    'all: for round in 0..30 {
        for (name, n) in &functions {
            if t0.elapsed().as_secs_f64() > 45.0 {
                break 'all;
            }
            let args: Vec<&str> = (0..*n)
                .map(|_| pool[rng.below(pool.len())].as_str())
                .collect();
            let code = call_expr(name, &args);
            let mut scope = base.clone();
            let t = std::time::Instant::now();
            let r = catch_unwind(AssertUnwindSafe(|| {
                engine.eval_with_scope::<rhai::Dynamic>(&mut scope, &code)
            }));
            calls += 1;
            if r.is_err() {
                panics.push(code.clone());
            }
            if t.elapsed().as_secs_f64() > 10.0 {
                slow.push(format!("{code} ({:.1} s)", t.elapsed().as_secs_f64()));
            }
            let _ = round;
        }
    }
    let _ = std::panic::take_hook();
    assert!(
        calls >= functions.len(),
        "only {calls} calls in the time bound"
    );
    assert!(
        panics.is_empty(),
        "{} panics:\n{}",
        panics.len(),
        panics.join("\n")
    );
    assert!(slow.is_empty(), "over 10 s:\n{}", slow.join("\n"));
    assert!(
        stray_temporaries(p).is_empty(),
        "{:?}",
        stray_temporaries(p)
    );
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    assert!(std::fs::metadata(p.join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(p.join("loop").is_symlink());
    assert!(p.join("folder").is_dir());
    eprintln!(
        "fuzz: {calls} calls of {} functions in {:.1} s",
        functions.len(),
        t0.elapsed().as_secs_f64()
    );
}
