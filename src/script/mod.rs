//! The bridge between Rhai scripts and the plain-Rust stage modules: one Rhai module per
//! stage, the engine that holds them, the script runner and its error reports.

pub mod array;
pub mod calibrate;
pub mod check;
pub mod config;
pub mod convert;
pub mod core;
pub mod doc;
pub mod emulate;
pub mod ensemble;
pub mod eof;
pub mod error;
pub mod field;
pub mod kalman;
pub mod numpy;
pub mod options;
pub mod plot;
pub mod refocus;
pub mod resolver;
pub mod run;
pub mod sensitivity;
pub mod table;
pub mod test_case;

use rhai::{Dynamic, Engine, Map, Module, Scope, AST};
use std::path::Path;

/// One Rhai module of native functions: its name (for `clmtune doc`), what it is for, and
/// its builder. This table is the single list the engine, the docs and the REPL use.
pub struct ScriptModule {
    /// Name shown in the docs.
    pub name: &'static str,
    /// One line on what it holds.
    pub about: &'static str,
    /// Builds the module.
    pub build: fn() -> Module,
}

/// Every native module, in the order the docs list them.
pub const MODULES: &[ScriptModule] = &[
    ScriptModule {
        name: "array",
        about: "numeric n-dimensional arrays with numpy's names",
        build: array::module,
    },
    ScriptModule {
        name: "config",
        about: "the experiment config",
        build: config::module,
    },
    ScriptModule {
        name: "ensemble",
        about: "designs and ensembles of CLM runs: create, submit, status, wait",
        build: ensemble::module,
    },
    ScriptModule {
        name: "field",
        about: "CLM history archives: cases, months, fields, means, units",
        build: field::module,
    },
    ScriptModule {
        name: "sensitivity",
        about: "parameter effects, ranks and pattern correlations of one-at-a-time runs",
        build: sensitivity::module,
    },
    ScriptModule {
        name: "eof",
        about: "EOF analysis of ensembles: SVD, projections, reconstructions",
        build: eof::module,
    },
    ScriptModule {
        name: "table",
        about: "tables of named columns: read any CSV, filter, sort, join, pivot, save",
        build: table::module,
    },
    ScriptModule {
        name: "emulate",
        about:
            "emulators of the PCs: ridge, quadratic ridge, the paper's networks; fit, compare, save",
        build: emulate::module,
    },
    ScriptModule {
        name: "calibrate",
        about: "targets, costs (built in or a script closure), history matching, optimisers, MCMC",
        build: calibrate::module,
    },
    ScriptModule {
        name: "test_case",
        about: "the CLM test case: the optimum, its runs judged against the observations (Table 2)",
        build: test_case::module,
    },
    ScriptModule {
        name: "refocus",
        about: "iterative refocusing: new members inside NROY, waves recorded and resumed",
        build: refocus::module,
    },
    ScriptModule {
        name: "kalman",
        about: "ensemble Kalman calibration (EKI, UKI) with real runs through the backend",
        build: kalman::module,
    },
    ScriptModule {
        name: "check",
        about: "dry runs: what a stage reads from the stages before it, checked at once",
        build: check::module,
    },
    ScriptModule {
        name: "plot",
        about: "figures: maps, histograms, scatter plots (PNG, SVG)",
        build: plot::module,
    },
    ScriptModule {
        name: "run",
        about: "running a script from another (recorded in run.json), reusing runs, reading JSON",
        build: run::module,
    },
    ScriptModule {
        name: "core",
        about: "checks for scripts and tests",
        build: core::module,
    },
];

/// A type a script sees: its script name (in `type_of`, messages, `clmtune doc` and the
/// REPL's `:vars`) and the Rust type behind it.
pub struct ScriptType {
    /// The name scripts know it by.
    pub name: &'static str,
    /// The Rust type's full name (`std::any::type_name`), recognised and rewritten in
    /// messages.
    pub rust: fn() -> &'static str,
    register: fn(&mut Engine, &'static str),
}

fn register_one<T: rhai::Variant + Clone>(engine: &mut Engine, name: &'static str) {
    engine.register_type_with_name::<T>(name);
}

const fn script_type<T: rhai::Variant + Clone>(name: &'static str) -> ScriptType {
    ScriptType {
        name,
        rust: std::any::type_name::<T>,
        register: register_one::<T>,
    }
}

/// Every native type and its script name: the one list `type_of`, error messages
/// ([`convert::script_words`]), [`convert::type_name`], `clmtune doc` and the REPL use.
/// Adding a type is one line here.
pub const TYPES: &[ScriptType] = &[
    script_type::<array::NdArray>("Array"),
    script_type::<field::ScriptField>("Field"),
    script_type::<eof::ScriptEof>("Eof"),
    script_type::<eof::ScriptEofStage>("EofStage"),
    script_type::<emulate::ScriptEmulator>("Emulator"),
    script_type::<emulate::ScriptEmulators>("Emulators"),
    script_type::<calibrate::ScriptCost>("Cost"),
    script_type::<calibrate::ScriptPcs>("PCs"),
    script_type::<calibrate::ScriptHistoryMatch>("HistoryMatch"),
    script_type::<calibrate::ScriptWaves>("Waves"),
    script_type::<calibrate::ScriptOptima>("Optima"),
    script_type::<calibrate::ScriptPosterior>("Posterior"),
    script_type::<calibrate::ScriptIdentifiability>("Identifiability"),
    script_type::<refocus::ScriptRefocus>("Refocus"),
    script_type::<kalman::ScriptKalman>("Kalman"),
    script_type::<ensemble::ScriptEnsemble>("Ensemble"),
    script_type::<sensitivity::ScriptEffects>("Effects"),
    script_type::<sensitivity::ScriptPc>("PatternCorrelation"),
    script_type::<sensitivity::ScriptRanks>("Ranks"),
    script_type::<table::ScriptTable>("Table"),
    script_type::<test_case::ScriptTestCase>("TestCase"),
    script_type::<std::ops::Range<rhai::INT>>("Range"),
    script_type::<std::ops::RangeInclusive<rhai::INT>>("Range"),
];

/// The script name of a Rust type: by its full name (`std::any::type_name`) or by the
/// bare name the plugin macros record in signatures (`ScriptField`); `None` if it is not
/// in [`TYPES`].
pub fn script_name_of(rust: &str) -> Option<&'static str> {
    let rust = rust.trim_start_matches("&mut ").trim_start_matches('&');
    TYPES.iter().find_map(|t| {
        let full = (t.rust)();
        let bare = full.rsplit("::").next().unwrap_or(full);
        (full == rust || (!bare.contains('<') && bare == rust)).then_some(t.name)
    })
}

/// Gives the engine the script names of the native types ([`TYPES`]).
pub fn register_types(engine: &mut Engine) {
    for t in TYPES {
        (t.register)(engine, t.name);
    }
}

/// The engine every script, the REPL and the docs run on: standard Rhai plus every module
/// in [`MODULES`], imports resolved by [`resolver::Resolver`].
pub fn engine() -> Engine {
    let mut engine = Engine::new();
    register_types(&mut engine);
    for m in MODULES {
        engine.register_global_module((m.build)().into());
    }
    numpy::register_index_syntax(&mut engine);
    engine.set_module_resolver(resolver::Resolver::default());
    engine.set_max_expr_depths(256, 256);
    engine.on_progress(|_| {
        crate::interrupt::requested().then(|| Dynamic::from("interrupted (Ctrl-C)"))
    });
    engine.on_print(crate::output::println);
    engine.on_debug(|s, src, pos| match (src, pos.line()) {
        (Some(src), Some(l)) => crate::output::eprintln(&format!("{src}:{l}: {s}")),
        _ => crate::output::eprintln(s),
    });
    engine
}

/// The key of [`options_map`] under which arguments that are not options are listed.
pub const POSITIONAL_KEY: &str = "";

/// The command-line arguments of a script as a map: `--key value` and `--key=value` give
/// `key: "value"`, a `--flag` followed by another option or nothing gives `flag: true`.
/// Arguments that are not options (no leading `--`, not the value of one) are listed under
/// the empty key (`OPTIONS[""]`), so that `check_options` can refuse them.
pub fn options_map(args: &[String]) -> Map {
    let mut m = Map::new();
    let mut positional = rhai::Array::new();
    let mut i = 0;
    while i < args.len() {
        let key = args[i].strip_prefix("--");
        match key {
            Some(key) if !key.is_empty() && !key.starts_with('=') => {
                if let Some((k, v)) = key.split_once('=') {
                    m.insert(k.into(), Dynamic::from(v.to_string()));
                } else if i + 1 < args.len() && !args[i + 1].starts_with("--") {
                    m.insert(key.into(), Dynamic::from(args[i + 1].clone()));
                    i += 1;
                } else {
                    m.insert(key.into(), Dynamic::TRUE);
                }
            }
            _ => positional.push(Dynamic::from(args[i].clone())),
        }
        i += 1;
    }
    if !positional.is_empty() {
        m.insert(POSITIONAL_KEY.into(), Dynamic::from_array(positional));
    }
    m
}

/// The scope a script starts with: `ARGS` (the raw list after `--`), `OPTIONS` (the same as
/// a map, see [`options_map`]), `SCRIPT` (its path), and the numbers `NAN` and `INF`.
pub fn base_scope(script: &str, args: &[String]) -> Scope<'static> {
    let mut scope = Scope::new();
    scope.push_constant("NAN", f64::NAN);
    scope.push_constant("INF", f64::INFINITY);
    scope.push_constant(
        "ARGS",
        Dynamic::from_array(args.iter().cloned().map(Dynamic::from).collect()),
    );
    scope.push_constant("OPTIONS", options_map(args));
    scope.push_constant("SCRIPT", script.to_string());
    scope
}

/// A script that failed: the report to print (already formatted with file, line and caret).
#[derive(Debug)]
pub struct ScriptFailure(pub String);

impl std::fmt::Display for ScriptFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.trim_end())
    }
}

impl std::error::Error for ScriptFailure {}

/// Compiles a script file, its source name set to the path (for imports and errors).
pub fn compile_file(engine: &Engine, scope: &Scope, path: &Path) -> anyhow::Result<AST> {
    let text = crate::files::read_text(path, "script")?;
    let name = path.display().to_string();
    let mut ast = engine
        .compile_with_scope(scope, &text)
        .map_err(|e| ScriptFailure(error::report_parse(&e, &name, &text)))?;
    ast.set_source(name);
    Ok(ast)
}

/// Runs `ast` in `scope`; a failure carries the full report.
pub fn run_ast(engine: &Engine, scope: &mut Scope, ast: &AST) -> Result<Dynamic, ScriptFailure> {
    engine
        .eval_ast_with_scope::<Dynamic>(scope, ast)
        .map_err(|e| {
            let main = ast.source().unwrap_or("<input>").to_string();
            let own: Vec<String> = ast.iter_functions().map(|f| f.name.to_string()).collect();
            ScriptFailure(error::report_with(&e, &main, &resolver::source_text, &own))
        })
}

/// Runs a script file with its arguments (`clmtune run FILE -- ARGS`), recording the run in
/// `run.json` of the results folder it uses ([`crate::provenance`]), failures included.
pub fn run_file(path: &Path, args: &[String]) -> anyhow::Result<()> {
    crate::provenance::begin(path, args).map_err(anyhow::Error::msg)?;
    let result = (|| -> anyhow::Result<()> {
        let engine = engine();
        let mut scope = base_scope(&path.display().to_string(), args);
        let ast = compile_file(&engine, &scope, path)?;
        let _ = run_ast(&engine, &mut scope, &ast)?;
        Ok(())
    })();
    let failure = result
        .as_ref()
        .err()
        .map(|e| match e.downcast_ref::<ScriptFailure>() {
            Some(f) => f.to_string(),
            None => format!("{e:#}"),
        });
    match (crate::provenance::end(failure.as_deref()), result) {
        (Some(Err(e)), Ok(())) => Err(e),
        (Some(Err(e)), Err(r)) => {
            crate::output::eprintln(&format!("warning: {e:#}"));
            Err(r)
        }
        (_, r) => r,
    }
}

/// The benchmarks of the script engine, rows of `clmtune bench` before those of
/// [`crate::bench::BENCHES`] (given to [`crate::bench::run`] by the command line).
pub const BENCHES: &[crate::bench::Bench] = &[
    crate::bench::Bench {
        name: "array_arith",
        about: "a * b + c on 10^7 elements, from a script",
        target_s: 0.2,
        setup: array_arith_bench,
        once: false,
        python: crate::bench::Python {
            seconds: Some(0.0502),
            how: "numpy a * b + c, float64",
        },
    },
    crate::bench::Bench {
        name: "history_match_10m_script",
        about:
            "history_match_10m with Eq. 6 written as a script closure (target: 3x the built-in's)",
        target_s: 6.0,
        setup: script_cost_bench,
        once: false,
        python: crate::bench::Python {
            seconds: Some(173.0),
            how: "numpy networks, Eq. 6 a Python function of the PCs",
        },
    },
];

/// `history_match` of 10 million candidates through the bench's two networks
/// ([`crate::bench::network_cost`]) with Eq. 6 written as a script closure.
fn script_cost_bench() -> anyhow::Result<crate::bench::Body> {
    let engine = engine();
    let mut scope = base_scope("<bench>", &[]);
    let cost = crate::bench::network_cost()?;
    let mut t = Map::new();
    for term in cost.terms() {
        let tg = &term.target;
        let a = |x: &ndarray::Array1<f64>| Dynamic::from(array::NdArray::new(x.clone().into_dyn()));
        let mut m = Map::new();
        m.insert("observed".into(), a(&tg.observed));
        m.insert("sigma".into(), a(&tg.sigma));
        m.insert("lambda".into(), a(&tg.lambda));
        m.insert("default_run".into(), a(&tg.default));
        t.insert(tg.variable.as_str().into(), Dynamic::from_map(m));
    }
    scope.push("t", t);
    let setup = engine.compile(
        "let f = |pcs, x| {
             let s = 0.0;
             for v in [\"GPP\", \"LHF\"] {
                 let z = (pcs[v] - t[v].observed) / t[v].sigma;
                 s += sum(t[v].lambda * z * z, 1);
             }
             s
         };",
    )?;
    engine
        .run_ast_with_scope(&mut scope, &setup)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let f = scope
        .get_value::<rhai::FnPtr>("f")
        .ok_or_else(|| anyhow::anyhow!("the bench closure is missing"))?;
    let n_terms = cost.terms().len();
    scope.push(
        "j",
        calibrate::ScriptCost {
            cost: std::sync::Arc::new(cost),
            custom: Some(f),
            parameters: (1..=6).map(|i| format!("p{i}")).collect(),
            emulators: vec!["nn".into(); n_terms],
            default_x: None,
            fitted: Vec::new(),
            frozen: None,
        },
    );
    // the closure's function lives in the setup's AST: keep its functions
    let ast = setup
        .clone_functions_only()
        .merge(&engine.compile("history_match(j, #{n: 10_000_000, keep: 1000}).accepted")?);
    Ok(Box::new(move || {
        let r: rhai::INT = engine
            .eval_ast_with_scope(&mut scope, &ast)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(r == 10_000_000, "accepted {r}");
        Ok(())
    }))
}

/// `a * b + c` on three arrays of 10^7 random numbers, evaluated by a script.
fn array_arith_bench() -> anyhow::Result<crate::bench::Body> {
    let engine = engine();
    let mut scope = base_scope("<bench>", &[]);
    let setup = engine.compile(
        "let n = 10_000_000; let a = rand(n, 1); let b = rand(n, 2); let c = rand(n, 3);",
    )?;
    engine
        .run_ast_with_scope(&mut scope, &setup)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ast = engine.compile("a * b + c")?;
    Ok(Box::new(move || {
        let r: array::NdArray = engine
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

#[cfg(test)]
mod tests {
    #[test]
    fn every_bench_row_has_a_python_entry() {
        let all: Vec<crate::bench::Bench> = super::BENCHES
            .iter()
            .chain(crate::bench::BENCHES)
            .copied()
            .collect();
        assert_eq!(all.len(), 30);
        let problems = crate::bench::python_entry_problems(&all);
        assert!(problems.is_empty(), "{problems:?}");
    }

    use super::*;

    #[test]
    fn options_from_arguments() {
        let args: Vec<String> = [
            "--config",
            "a.toml",
            "--dry-run",
            "--out=res",
            "x",
            "--seed",
            "7",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let m = options_map(&args);
        assert_eq!(m["config"].clone().into_string().unwrap(), "a.toml");
        assert!(m["dry-run"].as_bool().unwrap());
        assert_eq!(m["out"].clone().into_string().unwrap(), "res");
        assert_eq!(m["seed"].clone().into_string().unwrap(), "7");
        // `x` is no option's value: it is kept as a positional argument
        let pos = m[POSITIONAL_KEY].clone().into_array().unwrap();
        assert_eq!(pos.len(), 1);
        assert_eq!(pos[0].clone().into_string().unwrap(), "x");
        assert_eq!(m.len(), 5);
        let m = options_map(&["--".to_string(), "--=v".to_string()]);
        assert_eq!(m[POSITIONAL_KEY].clone().into_array().unwrap().len(), 2);
    }
}
