//! The `clmtune` command: REPL, script runner, docs and benchmarks.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Calibrate the Community Land Model (CLM5) with short Rhai scripts.
#[derive(Parser)]
#[command(name = "clmtune", version, about, long_about = None)]
struct Cli {
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a script; arguments after `--` reach it as ARGS (list) and OPTIONS (map).
    Run {
        /// The script (.rhai).
        file: PathBuf,
        /// Arguments for the script.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Open the interactive REPL (the default with no command).
    Repl,
    /// Document the native functions and types: an index of every module, or one module,
    /// type or function (`--all`: everything).
    Doc {
        /// A module, type or function name.
        name: Option<String>,
        /// Every module's types and functions in full (the index without it).
        #[arg(long, conflicts_with = "name")]
        all: bool,
        /// Machine-readable JSON instead of text (everything, or what NAME names).
        #[arg(long)]
        json: bool,
        /// The guide's function reference as Markdown (docs/guide/src/reference.md).
        #[arg(long, conflicts_with_all = ["name", "json", "all"])]
        markdown: bool,
    },
    /// Run the clmtune demo model (not CLM) in a case folder made by the ensemble machinery:
    /// reads env_case.xml, env_run.xml, user_nl_clm and the params file named there, writes
    /// monthly history files to DOUT_S_ROOT/lnd/hist and a line to CaseStatus.
    DemoModel {
        /// The case folder.
        #[arg(required_unless_present_any = ["write_params", "setup"])]
        casedir: Option<PathBuf>,
        /// Instead of running: write the demo model's default params file (CLM5 layout) here.
        #[arg(long, value_name = "FILE")]
        write_params: Option<PathBuf>,
        /// Instead of running: make the demo experiment's folder (config, parameter spec,
        /// params file, synthetic observations; $CLMTUNE_DEMO_DIR or ~/.cache/clmtune/demo)
        /// and print where it is.
        #[arg(long)]
        setup: bool,
    },
    /// Write DIR/report.html: one page with the summary, every stage's figures and tables,
    /// and what ran (run.json).
    Report {
        /// The results folder (`[output] dir`).
        #[arg(default_value = "results")]
        dir: PathBuf,
    },
    /// Run the benchmarks and print a table (median, min, max over several runs).
    Bench {
        /// Only the benchmarks whose names contain one of these (`=NAME`: that one alone).
        names: Vec<String>,
        /// Timed runs per benchmark.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Where the JSON results go.
        #[arg(long, default_value = "bench.json")]
        json: PathBuf,
        /// Also run each row's Python counterpart (docs/bench/python_bench.py) with this
        /// interpreter right after the row, and show both measured in this run.
        #[arg(long, value_name = "PY")]
        python: Option<PathBuf>,
    },
}

fn run(cli: Cli) -> anyhow::Result<()> {
    clmtune::progress::set_quiet(cli.quiet);
    match cli.command.unwrap_or(Command::Repl) {
        Command::Run { file, args } => clmtune::script::run_file(&file, &args),
        Command::Repl => clmtune::repl::run(),
        Command::Doc {
            name,
            all,
            json,
            markdown,
        } => {
            let cat = clmtune::script::doc::full_catalog();
            if markdown {
                clmtune::output::print(&clmtune::script::doc::markdown(&cat));
                return Ok(());
            }
            if name.is_none() && !all && !json {
                clmtune::output::print(&clmtune::script::doc::index(&cat));
                return Ok(());
            }
            if json {
                let sel: Vec<_> = cat
                    .into_iter()
                    .filter_map(|mut m| {
                        if let Some(n) = &name {
                            if &m.name != n {
                                m.types.retain(|t| &t.name == n);
                                m.functions.retain(|f| &f.name == n);
                                if m.types.is_empty() && m.functions.is_empty() {
                                    return None;
                                }
                            }
                        }
                        Some(m)
                    })
                    .collect();
                clmtune::output::println(&serde_json::to_string_pretty(&sel)?);
                return Ok(());
            }
            match clmtune::script::doc::render(&cat, name.as_deref()) {
                Some(text) => {
                    clmtune::output::print(&text);
                    Ok(())
                }
                None => anyhow::bail!(
                    "no module, type or function named '{}'",
                    name.unwrap_or_default()
                ),
            }
        }
        Command::Report { dir } => {
            let p = clmtune::report::write(&dir)?;
            clmtune::output::println(&format!("wrote {}", p.display()));
            Ok(())
        }
        Command::Bench {
            names,
            runs,
            json,
            python,
        } => {
            // the benchmarks time reading history files, not the cache of time means
            if std::env::var_os("CLMTUNE_CACHE_DIR").is_none() {
                std::env::set_var("CLMTUNE_CACHE_DIR", "off");
            }
            clmtune::bench::run(
                &names,
                runs,
                &json,
                clmtune::script::BENCHES,
                python.as_deref(),
            )
        }
        Command::DemoModel {
            casedir,
            write_params,
            setup,
        } => {
            if setup {
                let dir = clmtune::demo::setup::demo_dir();
                let cfg = clmtune::demo::setup::ensure(&dir, (1982, 2008))?;
                clmtune::output::println(&format!("demo experiment: {}", cfg.display()));
                return Ok(());
            }
            if let Some(p) = write_params {
                clmtune::demo::write_default_params(&p)?;
                clmtune::output::println(&format!("wrote {}", p.display()));
                return Ok(());
            }
            let casedir = casedir.unwrap_or_default();
            let s = clmtune::demo::run_case(&casedir)?;
            clmtune::output::println(&format!(
                "{}: {} history files in {:.2} s ({})",
                s.case,
                s.files.len(),
                s.seconds,
                s.files
                    .first()
                    .and_then(|p| p.parent())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    clmtune::interrupt::install();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(f) = e.downcast_ref::<clmtune::script::ScriptFailure>() {
                clmtune::output::eprintln(&format!("{f}"));
            } else {
                clmtune::output::eprintln(&format!("error: {e:#}"));
            }
            ExitCode::FAILURE
        }
    }
}
