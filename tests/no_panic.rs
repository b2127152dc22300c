//! No function reachable from a script may panic: every native function and operator is
//! called with malformed arguments (wrong types, wrong shapes, empty arrays, NaN, 0-d
//! arrays, huge and negative numbers) and must return a value or a script error whose
//! message names types in script words (`Field`, `Range`), never by a Rust path.

mod common;

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
