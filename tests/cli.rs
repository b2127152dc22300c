//! Integration tests that run the real `clmtune` binary on scripts under tests/scripts and
//! on piped REPL input, in a temporary folder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clmtune"));
    c.env_remove("CLMTUNE_STDLIB");
    c
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run_script(name: &str, args: &[&str]) -> Output {
    let mut c = bin();
    c.arg("run").arg(script(name));
    if !args.is_empty() {
        c.arg("--").args(args);
    }
    c.output().expect("clmtune runs")
}

fn repl(input: &str, dir: &Path) -> Output {
    let mut child = bin()
        .current_dir(dir)
        .env("CLMTUNE_HISTORY", dir.join("history"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("clmtune starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn arithmetic_reductions_and_matmul_match_hand_computed_values() {
    let out = run_script("numpy_check.rhai", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Hand-computed for a = [[1,2,3],[4,5,6]]; numpy 2.4 prints the same (ints as floats).
    let expected = "\
[[11. 12. 13.]
 [24. 25. 26.]]
[[ 1.  0. -3.]
 [ 4.  0. -6.]]
[1.000e+00 2.000e+00 1.024e+03]
[5. 7. 9.]
[ 6. 15.]
[2. 5.]
[4. 5. 6.]
[2. 2.]
1.707825127659933
[2.12132034 2.12132034 2.12132034]
[[14. 32.]
 [32. 77.]]
[5. 7. 9.]
32.0
[[ 1.  3.  6.]
 [ 4.  9. 15.]]
[2. 4. 6.]
[[0. 0. 0.]
 [4. 5. 6.]]
2.0
[3. 1. 4. 1.]
[2, 6]
[2, 2, 3]
";
    assert_eq!(text(&out.stdout), expected);
}

#[test]
fn a_script_error_names_file_line_and_column_with_a_caret() {
    let out = run_script("broadcast_error.rhai", &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let path = script("broadcast_error.rhai").display().to_string();
    let expected = format!(
        "{path}:4:11: error: operands could not be broadcast together with shapes (2, 3) and (4,)\n  |\n4 | let c = a + b;\n  |           ^\n"
    );
    assert_eq!(err, expected);
    assert!(out.stdout.is_empty(), "nothing printed after the error");
}

#[test]
fn a_misspelt_function_gets_the_closest_names_and_a_missing_semicolon_its_own_line() {
    // global_maen -> global_mean: one transposition away
    let out = run_script("misspelt.rhai", &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let path = script("misspelt.rhai").display().to_string();
    assert!(
        err.starts_with(&format!(
            "{path}:5:9: error: Function not found: global_maen (Array) (did you mean 'global_mean'?)\n"
        )),
        "{err}"
    );
    // Rhai stops at `let` of line 6; the report points after `2` on line 3 (column 14)
    let out = run_script("missing_semicolon.rhai", &[]);
    assert_eq!(out.status.code(), Some(1));
    let path = script("missing_semicolon.rhai").display().to_string();
    assert_eq!(
        text(&out.stderr),
        format!(
            "{path}:3:14: syntax error: expected ';' at the end of line 3\n  |\n3 | let b = a + 2\n  |              ^\n"
        )
    );
    // in the REPL: `var` is reserved (use variance), a script function is suggested too
    let dir = tempfile::tempdir().unwrap();
    let out = repl(
        "let a = array([1, 2]);\nvar(a)\nfn double_it(x) { x * 2 }\ndoubel_it(a)\n",
        dir.path(),
    );
    let e = text(&out.stderr);
    assert!(
        e.contains(
            "'var' is a reserved keyword (did you mean 'variance'? `var` is reserved in Rhai)"
        ),
        "{e}"
    );
    assert!(
        e.contains("Function not found: doubel_it (Array) (did you mean 'double_it'?)"),
        "{e}"
    );
}

#[test]
fn an_error_inside_an_imported_function_shows_where_and_the_call() {
    let out = run_script("in_function.rhai", &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let helper = script("local_helper.rhai").display().to_string();
    let main = script("in_function.rhai").display().to_string();
    assert!(
        err.starts_with(&format!(
            "{helper}:3:7: error: axis 2 is out of bounds for an array of dimension 2\n"
        )),
        "{err}"
    );
    assert!(err.contains("3 |     m.mean(2)\n  |       ^\n"), "{err}");
    assert!(
        err.contains(&format!(
            "in function `column_means`, called here: {main}:3:"
        )),
        "{err}"
    );
}

#[test]
fn scripts_see_raw_arguments_and_options() {
    let out = run_script(
        "args.rhai",
        &["--config", "exp.toml", "--dry-run", "--out=results"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "[\"--config\", \"exp.toml\", \"--dry-run\", \"--out=results\"]\nexp.toml\ntrue\nresults\n"
    );
}

#[test]
fn syntax_errors_and_missing_files_fail_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.rhai");
    std::fs::write(&bad, "let x = 1;\nlet y = (x + ;\n").unwrap();
    let out = bin().arg("run").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with(&format!("{}:2:", bad.display())), "{err}");
    assert!(err.contains("syntax error"), "{err}");
    let out = bin()
        .arg("run")
        .arg(dir.path().join("missing.rhai"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot read script"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn imports_resolve_next_to_the_script_then_in_the_embedded_stdlib() {
    let dir = tempfile::tempdir().unwrap();
    // the embedded stdlib works from any folder
    let s = dir.path().join("use_stdlib.rhai");
    std::fs::write(
        &s,
        "import \"stats\" as stats;\nprint(stats::rmse(array([1, 2]), array([1, 4])));\n",
    )
    .unwrap();
    let out = bin()
        .current_dir(dir.path())
        .arg("run")
        .arg(&s)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{}\n", 2.0f64.sqrt()));
    // a module next to the script wins over the stdlib one
    std::fs::write(
        dir.path().join("stats.rhai"),
        "fn rmse(a, b) { \"local\" }\n",
    )
    .unwrap();
    let out = bin()
        .current_dir(dir.path())
        .arg("run")
        .arg(&s)
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "local\n");
    // CLMTUNE_STDLIB points at a development copy
    std::fs::remove_file(dir.path().join("stats.rhai")).unwrap();
    let dev = dir.path().join("dev");
    std::fs::create_dir(&dev).unwrap();
    std::fs::write(dev.join("stats.rhai"), "fn rmse(a, b) { \"dev copy\" }\n").unwrap();
    let out = bin()
        .env("CLMTUNE_STDLIB", &dev)
        .arg("run")
        .arg(&s)
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "dev copy\n");
    // an unknown module is an error naming it
    std::fs::write(&s, "import \"nosuch\" as n;\n").unwrap();
    let out = bin().arg("run").arg(&s).output().unwrap();
    assert!(
        text(&out.stderr).contains("Module not found: nosuch"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn repl_keeps_variables_functions_and_imports_between_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = "let a = array([[1, 2], [3, 4]]);\nfn scale(x, k) {\n    x * k\n}\nscale(a, 10)\nimport \"stats\" as stats;\nstats::rmse(a, a + 1)\na.sum(0)\n\"text\"\n";
    let out = repl(input, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "array([[10., 20.],\n       [30., 40.]])\n1.0\narray([4., 6.])\n\"text\"\n"
    );
}

#[test]
fn repl_commands_help_load_vars_and_quit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("setup.rhai"),
        "let members = 3;\nfn half(x) { x / 2.0 }\n",
    )
    .unwrap();
    let input = ":help\n:help linspace\n:load setup.rhai\nhalf(members)\n:vars\n:quit\nprint(\"not reached\");\n";
    let out = repl(input, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    assert!(o.contains(":load FILE"), "{o}");
    assert!(
        o.contains("fn linspace(start: any, stop: any, num: int) -> Array"),
        "{o}"
    );
    assert!(o.contains("\n1.5\n"), "{o}");
    assert!(o.contains("  members: int"), "{o}");
    assert!(!o.contains("not reached"), "{o}");
}

#[test]
fn repl_reports_errors_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = repl(
        "let a = ones(3);\na + ones(2)\na.sum()\n:nosuch\n",
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "piped input with errors exits non-zero"
    );
    assert_eq!(text(&out.stdout), "3.0\n");
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "<repl>:1:3: error: operands could not be broadcast together with shapes (3,) and (2,)"
        ),
        "{err}"
    );
    assert!(err.contains("unknown command :nosuch"), "{err}");
}

#[test]
fn doc_lists_modules_functions_and_types_from_metadata() {
    let out = bin().args(["doc", "--all"]).output().unwrap();
    assert!(out.status.success());
    let o = text(&out.stdout);
    for needle in [
        "## module array",
        "type Array",
        "fn zeros(shape: any) -> Array",
        "## module core",
        "## module stdlib/stats",
        "fn stats::describe(a)",
    ] {
        assert!(o.contains(needle), "missing {needle:?}");
    }
    let out = bin().args(["doc", "cumsum"]).output().unwrap();
    let o = text(&out.stdout);
    assert_eq!(o.matches("fn cumsum(").count(), 2, "{o}");
    let out = bin().args(["doc", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let array = v
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "array")
        .unwrap();
    assert!(array["functions"].as_array().unwrap().len() > 100);
    let out = bin().args(["doc", "no_such_function"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no module, type or function named 'no_such_function'"));
}

#[test]
fn version_and_help() {
    let out = bin().arg("--version").output().unwrap();
    assert_eq!(
        text(&out.stdout),
        format!("clmtune {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = bin().arg("--help").output().unwrap();
    for sub in ["run", "repl", "doc", "bench"] {
        assert!(text(&out.stdout).contains(sub));
    }
}

#[test]
fn csv_round_trip_through_a_script_keeps_full_precision() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("csv.rhai");
    let p = dir.path().join("out/table.csv");
    std::fs::write(
        &s,
        format!(
            "let a = array([[0.1, 1e-300], [NAN, 2.5]]);\nwrite_csv(a, \"{}\", [\"x\", \"y\"]);\nlet t = read_csv(\"{}\");\nprint(t.columns);\nprint(t.data[[0, 0]] == 0.1);\nprint(t.data[[0, 1]]);\nprint(isnan(t.data[[1, 0]]));\n",
            p.display(),
            p.display()
        ),
    )
    .unwrap();
    let out = bin().arg("run").arg(&s).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "[\"x\", \"y\"]\ntrue\n1e-300\ntrue\n");
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        "x,y\n0.1,1e-300\n,2.5\n"
    );
}

#[test]
fn demo_script_computes_parameter_effects_that_numpy_agrees_with() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/00_demo.rhai");
    let out = bin()
        .arg("run")
        .arg(&demo)
        .arg("--")
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(dir.path().join("pe_global_mean.csv")).unwrap();
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    // numpy, same grid and response: 0.7780416915975177 (slope), 0.3481827598506023 (kmax);
    // dint by hand: 0.05 * (1.0 - 0.5) = 0.025.
    let expected = [
        (0.7780416915975177, 1.0),
        (0.3481827598506023, 2.0),
        (0.025, 3.0),
    ];
    for (row, (pe, rank)) in rows.iter().zip(expected) {
        assert!((row[0] - pe).abs() < 1e-12 * pe, "{} vs {pe}", row[0]);
        assert_eq!(row[1], rank);
    }
}

#[test]
fn types_have_script_names_in_type_of_messages_doc_and_vars() {
    let dir = tempfile::tempdir().unwrap();
    // type_of, a Function-not-found message and an argument error name script types
    let out = repl(
        "type_of(zeros(2))\ntype_of(0..3)\ntype_of(1..=3)\nlet r = 0..3;\n:vars\nr.nosuch(zeros(2))\nzeros(r)\n",
        dir.path(),
    );
    let o = text(&out.stdout);
    let e = text(&out.stderr);
    assert!(o.contains("\"Array\"\n\"Range\"\n\"Range\"\n"), "{o}");
    assert!(o.contains("  r: Range"), "{o}");
    assert!(
        e.contains("error: Function not found: nosuch (Range, Array)"),
        "{e}"
    );
    assert!(
        e.contains("error: a shape is an int or a list of ints, not Range"),
        "{e}"
    );
    assert!(!o.contains("::") && !e.contains("::"), "{o}\n{e}");
    // the docs: signatures in script types, never a Rust type name
    let out = bin().args(["doc", "--all"]).output().unwrap();
    let doc = text(&out.stdout);
    assert!(
        doc.contains("fn check_complete(ens: Ensemble) -> list"),
        "Ensemble"
    );
    for line in doc
        .lines()
        .filter(|l| l.starts_with("fn ") || l.starts_with("type "))
    {
        for rust in ["Script", "NdArray", "::ops::", "clmtune::"] {
            assert!(!line.contains(rust), "{line}");
        }
    }
}

#[test]
fn stage_options_are_checked_and_a_typo_names_the_nearest() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("stage.rhai");
    std::fs::write(
        &s,
        "import \"experiment\" as ex;\nlet cfg = ex::config(OPTIONS, #{members: \"N\"});\nprint(cfg.output.dir);\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = bin()
            .current_dir(dir.path())
            .arg("run")
            .arg(&s)
            .arg("--")
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), text(&out.stderr))
    };
    let known = "(known options: --config FILE, --dry-run, --members N, --out DIR)";
    for (args, want) in [
        (
            &["--confg", "x.toml"][..],
            format!("error: unknown option --confg: did you mean --config? {known}"),
        ),
        (
            &["--membres", "3"][..],
            format!("error: unknown option --membres: did you mean --members? {known}"),
        ),
        (
            &["--config=x.toml", "--colour"][..],
            format!("error: unknown option --colour {known}"),
        ),
        (
            &["x.toml"][..],
            format!("error: argument 'x.toml' is not an option: options start with -- {known}"),
        ),
        (
            &["--out", "o", "x.toml"][..],
            format!("error: argument 'x.toml' is not an option: options start with -- {known}"),
        ),
        (
            &["--config"][..],
            "error: option --config needs a value: --config FILE".to_string(),
        ),
        (
            &["--dry-run", "yes"][..],
            "error: option --dry-run takes no value, got 'yes'".to_string(),
        ),
    ] {
        let (code, err) = run(args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(err.contains(&want), "{args:?}:\n{err}");
    }
    // nothing was written: the demo config was never used
    assert!(!dir.path().join("results").exists());
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// The script bridge is a leaf: no plain module imports it (only the bridge itself, the
/// command line and the REPL), so the numeric modules never depend on Rhai.
#[test]
fn no_module_outside_the_bridge_imports_script() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = rust_files(&src);
    assert!(files.len() > 20, "{} files", files.len());
    let allowed = |p: &Path| {
        p.starts_with(src.join("script")) || p == src.join("main.rs") || p == src.join("repl.rs")
    };
    let mut bad = Vec::new();
    for f in files.iter().filter(|f| !allowed(f)) {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("crate::script")
                || code.contains("clmtune::script")
                || code.contains("super::script")
            {
                bad.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "modules importing script:\n{}",
        bad.join("\n")
    );
}

/// The top-level modules of `src/` and the modules each one names (`crate::x`, and each
/// name of `crate::{x, y::z}`), in code and doc comments alike, test modules left out (a
/// file's text from its first `#[cfg(test)] mod` on).
fn module_graph() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = rust_files(&src);
    let mut graph = std::collections::BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "main" || top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let code = &text[..test_module_start(&text)];
        let deps: &mut std::collections::BTreeSet<String> = graph.entry(top.clone()).or_default();
        let ident = |t: &str| -> String {
            t.trim_start()
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect()
        };
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + 7..];
            // `crate::{a, b::{c, d}}` names a and b: the items of the outer braces
            let names: Vec<String> = match rest.strip_prefix('{') {
                Some(list) => {
                    let (mut depth, mut items, mut item) = (0, Vec::new(), String::new());
                    for c in list.chars() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => break,
                            '}' => depth -= 1,
                            ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                            _ => item.push(c),
                        }
                    }
                    items.push(item);
                    items.iter().map(|t| ident(t)).collect()
                }
                None => vec![ident(rest)],
            };
            for name in names {
                if !name.is_empty() && name != top {
                    deps.insert(name);
                }
            }
        }
    }
    // only modules of src/ (not `crate::Result`-like names, if any)
    let modules: std::collections::BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|d| modules.contains(d));
    }
    graph
}

/// Where a file's test modules begin: its first `#[cfg(test)]` that opens a `mod` (a
/// `#[cfg(test)]` on a function or an import inside the code does not end the code).
fn test_module_start(text: &str) -> usize {
    let mut from = 0;
    while let Some(i) = text[from..].find("#[cfg(test)]") {
        let at = from + i;
        let after = text[at + "#[cfg(test)]".len()..].trim_start();
        let after = after
            .strip_prefix("pub(crate)")
            .or_else(|| after.strip_prefix("pub"))
            .unwrap_or(after)
            .trim_start();
        if after.starts_with("mod ") {
            return at;
        }
        from = at + 1;
    }
    text.len()
}

/// The circles of a module graph: its strongly connected components of more than one
/// module (Tarjan), each sorted, with the arrows inside it.
fn circles(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Vec<(Vec<String>, Vec<String>)> {
    struct Walk<'a> {
        graph: &'a std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        index: std::collections::BTreeMap<&'a str, usize>,
        low: std::collections::BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.stack.contains(&w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    comp.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.found.push(comp);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: Default::default(),
        low: Default::default(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
        .into_iter()
        .map(|comp| {
            let mut arrows = Vec::new();
            for a in &comp {
                for b in &graph[a] {
                    if comp.contains(b) {
                        arrows.push(format!("{a} -> {b}"));
                    }
                }
            }
            (comp, arrows)
        })
        .collect()
}

#[test]
fn circles_are_found_with_their_arrows() {
    let graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a", "d"]),
        ("d", vec![]),
        ("e", vec!["e"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
    .collect();
    let found = circles(&graph);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, ["a", "b", "c"]);
    assert_eq!(found[0].1, ["a -> b", "b -> c", "c -> a"]);
    assert_eq!(
        test_module_start("a\n#[cfg(test)]\nfn f() {}\n#[cfg(test)]\npub(crate) mod t {}"),
        "a\n#[cfg(test)]\nfn f() {}\n".len()
    );
}

/// No two modules of `src/` name each other, directly or around a circle: the import graph
/// is a DAG, so every module can be read, tested and changed knowing only those below it.
#[test]
fn the_module_graph_has_no_circle() {
    let graph = module_graph();
    assert!(graph.len() > 30, "{} modules", graph.len());
    let found = circles(&graph);
    let text: Vec<String> = found
        .iter()
        .map(|(comp, arrows)| format!("{}:\n  {}", comp.join(", "), arrows.join("\n  ")))
        .collect();
    assert!(found.is_empty(), "circles of modules:\n{}", text.join("\n"));
}

/// The layers of `src/`, lowest first; a module names only modules of its own layer or
/// below (the circle test keeps a layer's own modules from naming each other round).
///
/// Data flows round a loop (CLM archive -> fields -> analysis -> emulators -> calibration
/// -> parameter sets -> cases -> CLM archive), so the imports cannot follow the data all the
/// way: the loop is closed above the stages, by the config and the scripts, which hand a
/// calibration's scalings to the ensembles (`ensemble::from_config::custom`). So:
///
/// - base: files, netCDF, arrays, tables, formats, calendars, CIME and CLM facts, hashes,
///   Latin hypercubes, TOML reading, serde helpers for settings, registries of kinds,
///   progress bars and named steps; hooks (`files::observe`, `progress::on_step`) carry
///   what the run's record needs upwards;
/// - data: the grids, CLM archives (cases, history files) and the fields read from them;
/// - over the data: figures of fields (`plot`), the sensitivity and EOF analyses, and the
///   ensembles that make cases and fill archives (with `demo`, the model its local backend
///   runs): none of them needs emulators or calibration (`ensemble` needs only the data
///   layer; a calibration's scalings reach it through the config and the scripts);
/// - emulate: emulators, their stage and the choice among them;
/// - calibrate: costs, optimisers, history matching, MCMC (its figures from `plot`);
/// - the stages that use a calibration or an EOF stage: refocusing and the test case;
/// - assembly: the run's record (`provenance`), the experiment config (reads and checks
///   every section, and builds each stage's settings from it), the workflow summary, the
///   benchmarks, the Rhai bridge (`script`) and the REPL.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "base",
        &[
            "array",
            "calendar",
            "cime",
            "clm",
            "files",
            "format",
            "guard",
            "hash",
            "interrupt",
            "kinds",
            "metrics",
            "nc",
            "npy",
            "output",
            "progress",
            "sampling",
            "settings",
            "stdlib",
            "table",
            "toml_read",
        ],
    ),
    ("data", &["grids", "archive", "field"]),
    (
        "over the data",
        &["plot", "sensitivity", "eof", "ensemble", "demo"],
    ),
    ("emulate", &["emulate"]),
    ("calibrate", &["calibrate"]),
    ("stages", &["refocus", "test_case"]),
    (
        "assembly",
        &[
            "provenance",
            "config",
            "summary",
            "report",
            "bench",
            "script",
            "repl",
        ],
    ),
];

/// Every module of `src/` in exactly one layer of [`LAYERS`], and no arrow from a lower
/// layer to a higher one.
#[test]
fn no_module_names_one_in_a_higher_layer() {
    let graph = module_graph();
    let mut layer_of = std::collections::BTreeMap::new();
    for (i, (_, mods)) in LAYERS.iter().enumerate() {
        for m in mods.iter() {
            assert!(graph.contains_key(*m), "no module {m} in src/");
            assert!(layer_of.insert(*m, i).is_none(), "{m} in two layers");
        }
    }
    let unplaced: Vec<&String> = graph
        .keys()
        .filter(|m| !layer_of.contains_key(m.as_str()))
        .collect();
    assert!(unplaced.is_empty(), "modules in no layer: {unplaced:?}");
    let mut bad = Vec::new();
    for (m, deps) in &graph {
        let lm = layer_of[m.as_str()];
        for d in deps {
            let ld = layer_of[d.as_str()];
            if ld > lm {
                bad.push(format!("{m} ({}) -> {d} ({})", LAYERS[lm].0, LAYERS[ld].0));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "arrows from a lower layer to a higher one:\n{}",
        bad.join("\n")
    );
}

fn repl_bytes(input: &[u8], dir: &Path) -> Output {
    let mut child = bin()
        .current_dir(dir)
        .env("CLMTUNE_HISTORY", dir.join("history"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("clmtune starts");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // written from a thread, so that a large input cannot block on a full pipe
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

#[test]
fn piped_repl_input_with_an_open_bracket_is_not_parsed_once_per_line() {
    // issue 18 item 9: `[` then 20,000 lines of `1,` took over 30 s
    let dir = tempfile::tempdir().unwrap();
    let input = format!("let x = [\n{}];\nprint(x.len());\n", "1,\n".repeat(20_000));
    let t0 = std::time::Instant::now();
    let out = repl_bytes(input.as_bytes(), dir.path());
    let took = t0.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("20000"), "{}", text(&out.stdout));
    assert!(took < 10.0, "took {took:.1} s");
    // brackets inside strings and comments do not count
    let out = repl_bytes(
        b"let s = \"[(\"; // ]\nprint(s.len());\nlet t = [1, /* ] */\n2];\nprint(t.len());\n",
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "2\n2");
}

#[test]
fn invalid_utf8_and_a_byte_order_mark_in_scripts_and_piped_input() {
    // issue 18 item 13
    let dir = tempfile::tempdir().unwrap();
    // piped: the bad line is an error naming line and column, the session goes on
    let out = repl_bytes(
        b"let a = 1;\nlet b = \"\xff\";\nprint(a + 1);\n",
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("<stdin>:2:10: invalid UTF-8"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).trim(), "2");
    // a piped BOM is dropped
    let out = repl_bytes(b"\xEF\xBB\xBFprint(40 + 2);\n", dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "42");
    // a script with a BOM runs
    let s = dir.path().join("bom.rhai");
    std::fs::write(&s, b"\xEF\xBB\xBFprint(6 * 7);\n").unwrap();
    let out = bin().arg("run").arg(&s).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "42");
    // a script with invalid UTF-8 names the file, line and column
    let s = dir.path().join("bad.rhai");
    std::fs::write(&s, b"print(1);\nlet x = \"ab\xc3\";\n").unwrap();
    let out = bin().arg("run").arg(&s).output().unwrap();
    assert!(!out.status.success());
    let e = text(&out.stderr);
    assert!(
        e.contains(&format!(
            "script {}:2:12: invalid UTF-8 (byte 0xC3)",
            s.display()
        )),
        "{e}"
    );
    // /dev/zero as a script is refused before it is read (issue 28: not a data file)
    let t0 = std::time::Instant::now();
    let out = bin().arg("run").arg("/dev/zero").output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cannot read script /dev/zero: it is a device, not a data file"),
        "{}",
        text(&out.stderr)
    );
    assert!(t0.elapsed().as_secs_f64() < 10.0);
}

fn signal(child: &std::process::Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} failed");
}

/// Issue 18 item 16: Ctrl-C during a long computation in the REPL stops that computation
/// and returns to the prompt, every variable kept.
#[test]
fn ctrl_c_in_the_repl_stops_the_computation_and_keeps_the_session() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .current_dir(dir.path())
        .env("CLMTUNE_HISTORY", dir.path().join("history"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"let kept = 41;\nprint(\"started\"); let n = 0; loop { n += 1; }\nprint(`after: ${kept + 1} ${n > 0}`);\n")
        .unwrap();
    drop(stdin);
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "started");
    std::thread::sleep(std::time::Duration::from_millis(300));
    signal(&child, "INT");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        rest.contains("after: 42 true"),
        "stdout: {rest}\nstderr: {err}"
    );
    assert!(err.contains("interrupted (Ctrl-C)"), "{err}");
    assert_ne!(status.code(), Some(130), "the session must go on: {err}");
}

/// Issue 18 item 12: a script stopped by a signal in the middle of writing a file leaves no
/// temporary file beside it, and the exit status says which signal (128 + 2, 128 + 15).
#[test]
fn a_signal_during_a_write_leaves_no_temporary_file() {
    for sig in ["INT", "TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().join("write.rhai");
        std::fs::write(
            &s,
            "let a = zeros([2000000, 2]);\nloop { write_csv(a, \"big.csv\", [\"x\", \"y\"]); }\n",
        )
        .unwrap();
        let mut child = bin()
            .current_dir(dir.path())
            .arg("run")
            .arg(&s)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let temps = || {
            std::fs::read_dir(dir.path())
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with(".clmtune-"))
                .count()
        };
        let t0 = std::time::Instant::now();
        while temps() == 0 {
            assert!(t0.elapsed().as_secs() < 120, "no write began");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        signal(&child, sig);
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        let code = if sig == "INT" { 130 } else { 143 };
        assert_eq!(status.code(), Some(code), "{err}");
        assert_eq!(temps(), 0, "a temporary file survived SIG{sig}: {err}");
        if let Ok(t) = std::fs::read_to_string(dir.path().join("big.csv")) {
            assert_eq!(t.lines().count(), 2_000_001, "big.csv is half written");
        }
    }
}

/// Issue 18 item 15: a name with a newline is quoted escaped, so no line of the error looks
/// like a namelist line.
#[test]
fn errors_quote_names_with_control_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("names.rhai");
    std::fs::write(
        &s,
        "import \"experiment\" as ex;\nlet cfg = ex::config(#{out: \"o\"});\nensemble(cfg, \"x\", [\"kmax\\nfff = 1\"], [[0.5]], \"c_{member}\");\n",
    )
    .unwrap();
    let out = bin()
        .current_dir(dir.path())
        .arg("run")
        .arg(&s)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("parameter 'kmax\\nfff = 1' is not in the spec"),
        "{err}"
    );
    assert!(!err.lines().any(|l| l.starts_with("fff = 1")), "{err}");
}
