//! Issue 28's "done means": every function of `clmtune doc --json` that takes a path is
//! called, deterministically, with each special file (a FIFO, the device /dev/zero, a
//! symbolic link loop, a folder where a file is expected or a regular file where a folder
//! is expected, a damaged netCDF-4 file for readers) in each of its path positions
//! (parameters named `path`, `dir`, `root`, and a plot's `file` option), plausible values
//! everywhere else; and a config naming a special file as its spec, archive root,
//! observation file, design or output folder is read and given to the stage functions.
//! Every call must return within 10 s without a panic, with an error whose message names
//! the path and says what it is, in printable characters; afterwards every special file is
//! of its kind still and no `.clmtune-*` temporary file is left.

mod common;
use common::OutputAlone;

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a path position expects.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    /// A file read.
    FileIn,
    /// A file written.
    FileOut,
    /// A folder read.
    DirIn,
    /// A folder written.
    DirOut,
}

use Role::*;

/// Every signature of `clmtune doc --json` with a path position, how it is called (`@` is
/// the path, the names are the objects of [`base_scope`]), and what the position expects.
const CALLS: &[(&str, &str, Role)] = &[
    // array
    ("read_csv(path: string) -> map", "read_csv(@)", FileIn),
    (
        "read_csv(path: string, columns: list) -> map",
        "read_csv(@, [\"a\"])",
        FileIn,
    ),
    (
        "write_csv(a: Array, path: string, columns: list) -> ()",
        "write_csv(eye(2), @, [\"a\", \"b\"])",
        FileOut,
    ),
    (
        "write_rows(path: string, header: list, rows: list) -> ()",
        "write_rows(@, [\"a\"], [[1]])",
        FileOut,
    ),
    // config
    ("read_config(path: string) -> any", "read_config(@)", FileIn),
    // field
    ("describe(path: string) -> string", "describe(@)", FileIn),
    (
        "is_complete(root: string, case: string, years: any) -> bool",
        "is_complete(@, \"demo\", [1, 1])",
        DirIn,
    ),
    (
        "missing_months(root: string, case: string, years: any) -> list",
        "missing_months(@, \"demo\", [1, 1])",
        DirIn,
    ),
    (
        "read_case(root: string, case: string, outputs: any, years: any) -> map",
        "read_case(@, \"demo\", \"GPP\", [1, 1])",
        DirIn,
    ),
    (
        "read_case(root: string, case: string, outputs: any, years: any, min_coverage: float) -> map",
        "read_case(@, \"demo\", \"GPP\", [1, 1], 0.5)",
        DirIn,
    ),
    (
        "read_ensemble(root: string, cases: list, outputs: any, years: any) -> map",
        "read_ensemble(@, [\"demo\", \"demo2\"], \"GPP\", [1, 1])",
        DirIn,
    ),
    (
        "read_ensemble(root: string, cases: list, outputs: any, years: any, min_coverage: float) -> map",
        "read_ensemble(@, [\"demo\", \"demo2\"], \"GPP\", [1, 1], 0.5)",
        DirIn,
    ),
    ("read_netcdf(path: string) -> map", "read_netcdf(@)", FileIn),
    (
        "read_obs(path: string, var: string, years: any, like: Field) -> Field",
        "read_obs(@, \"GPP\", [1, 1], F)",
        FileIn,
    ),
    (
        "read_obs(path: string, var: string, years: any, like: Field, options: map) -> Field",
        "read_obs(@, \"GPP\", [1, 1], F, #{})",
        FileIn,
    ),
    (
        "write_netcdf(path: string, fields: map) -> ()",
        "write_netcdf(@, #{GPP: F})",
        FileOut,
    ),
    // sensitivity
    (
        "save(e: Effects, path: string) -> ()",
        "save(EFFECTS, @)",
        FileOut,
    ),
    (
        "save(pc: PatternCorrelation, path: string) -> ()",
        "save(PC, @)",
        FileOut,
    ),
    ("save(r: Ranks, path: string) -> ()", "save(RANKS, @)", FileOut),
    // eof
    ("load_eof(path: string) -> Eof", "load_eof(@)", FileIn),
    (
        "load_eof(path: string, name: string) -> Eof",
        "load_eof(@, \"GPP\")",
        FileIn,
    ),
    (
        "load_eof_stage(dir: string) -> EofStage",
        "load_eof_stage(@)",
        DirIn,
    ),
    ("save(e: Eof, path: string) -> ()", "save(EOF, @)", FileOut),
    ("save(s: EofStage, dir: string) -> ()", "save(STAGE, @)", DirOut),
    (
        "save_eofs(path: string, eofs: map) -> ()",
        "save_eofs(@, #{GPP: EOF})",
        FileOut,
    ),
    // table
    ("read_table(path: string) -> Table", "read_table(@)", FileIn),
    ("save(t: Table, path: string) -> ()", "save(TABLE, @)", FileOut),
    // emulate
    (
        "load_emulator(path: string) -> Emulator",
        "load_emulator(@)",
        FileIn,
    ),
    (
        "load_emulators(dir: string) -> Emulators",
        "load_emulators(@)",
        DirIn,
    ),
    (
        "save(e: Emulator, path: string) -> ()",
        "save(EMULATOR, @)",
        FileOut,
    ),
    (
        "save(s: Emulators, dir: string) -> ()",
        "save(EMULATORS, @)",
        DirOut,
    ),
    // calibrate
    (
        "load_cost(dir: string, ems: any, targets: map) -> Cost",
        "load_cost(@, #{GPP: EMULATOR}, TARGETS)",
        DirIn,
    ),
    (
        "load_posterior_samples(dir: string) -> map",
        "load_posterior_samples(@)",
        DirIn,
    ),
    ("save(c: Cost, dir: string) -> ()", "save(COST, @)", DirOut),
    (
        "save(h: HistoryMatch, dir: string) -> ()",
        "save(MATCH, @)",
        DirOut,
    ),
    ("save(w: Waves, dir: string) -> ()", "save(WAVES, @)", DirOut),
    (
        "save(id: Identifiability, dir: string) -> ()",
        "save(IDENT, @)",
        DirOut,
    ),
    ("save(o: Optima, dir: string) -> ()", "save(OPTIMA, @)", DirOut),
    (
        "save(p: Posterior, dir: string) -> ()",
        "save(POSTERIOR, @)",
        DirOut,
    ),
    // test_case
    ("load_optimum(dir: string) -> map", "load_optimum(@)", DirIn),
    (
        "load_optimum(dir: string, options: map) -> map",
        "load_optimum(@, #{})",
        DirIn,
    ),
    (
        "load_plausible(dir: string, k: int) -> list",
        "load_plausible(@, 1)",
        DirIn,
    ),
    (
        "load_posterior_draws(dir: string, k: int, seed: int) -> list",
        "load_posterior_draws(@, 1, 1)",
        DirIn,
    ),
    (
        "save(t: TestCase, dir: string) -> list",
        "save(TESTCASE, @)",
        DirOut,
    ),
    // refocus
    (
        "design(rf: Refocus, dir: string, n: int, seed: int) -> Array",
        "design(REFOCUS, @, 2, 1)",
        DirOut,
    ),
    ("load_refocus(dir: string) -> Refocus", "load_refocus(@)", DirIn),
    (
        "refocus(stage: EofStage, dir: string) -> Refocus",
        "refocus(STAGE, @)",
        DirIn,
    ),
    ("save(rf: Refocus, dir: string) -> ()", "save(REFOCUS, @)", DirOut),
    // kalman
    (
        "kalman(stage: EofStage, dir: string, options: map) -> Kalman",
        "kalman(STAGE, @, #{})",
        DirIn,
    ),
    ("save(k: Kalman, dir: string) -> ()", "save(KALMAN, @)", DirOut),
    // the report: reads the results folder, writes report.html into it
    ("report(dir: string) -> string", "report(@)", DirIn),
    // plot: the `file` option
    (
        "plot_bars(labels: list, values: any, options: map) -> string",
        "plot_bars([\"a\", \"b\"], [1, 2], #{file: @})",
        FileOut,
    ),
    (
        "plot_grouped_bars(categories: list, series: map, options: map) -> string",
        "plot_grouped_bars([\"a\", \"b\"], #{s: [1, 2]}, #{file: @})",
        FileOut,
    ),
    (
        "plot_heatmap(matrix: Array, labels: list, options: map) -> string",
        "plot_heatmap(eye(2), [\"a\", \"b\"], #{file: @})",
        FileOut,
    ),
    (
        "plot_histogram(values: any, options: map) -> string",
        "plot_histogram([1, 2, 3], #{file: @})",
        FileOut,
    ),
    (
        "plot_lines(x: any, series: map, options: map) -> string",
        "plot_lines([1, 2], #{s: [1, 2]}, #{file: @})",
        FileOut,
    ),
    (
        "plot_map(data: any, options: map) -> string",
        "plot_map(F.time_mean(), #{file: @})",
        FileOut,
    ),
    (
        "plot_pairs(points: Array, names: list, options: map) -> string",
        "plot_pairs(array([[0.1, 0.2], [0.3, 0.4]]), [\"a\", \"b\"], #{file: @})",
        FileOut,
    ),
    (
        "plot_panels(panels: list, options: map) -> string",
        "plot_panels([#{kind: \"bars\", labels: [\"a\"], values: [1]}], #{file: @})",
        FileOut,
    ),
    (
        "plot_scatter(x: any, y: any, options: map) -> string",
        "plot_scatter([1, 2], [1, 2], #{file: @})",
        FileOut,
    ),
    // run
    ("read_json(path: string) -> any", "read_json(@)", FileIn),
    (
        "rerun_reason(path: string, options: map, dir: string) -> string",
        "rerun_reason(@, #{}, DIR)",
        FileIn,
    ),
    (
        "rerun_reason(path: string, options: map, dir: string) -> string",
        "rerun_reason(HELLO, #{}, @)",
        DirIn,
    ),
    ("run_script(path: string) -> any", "run_script(@)", FileIn),
    (
        "run_stage(path: string, options: map, settings: map) -> bool",
        "run_stage(@, #{}, #{dir: DIR})",
        FileIn,
    ),
    (
        "run_script(path: string, options: map) -> any",
        "run_script(@, #{})",
        FileIn,
    ),
];

/// Signatures with a parameter of a path's name that is no path (a format spec).
const NOT_PATHS: &[&str] = &["fmt(x: any, spec: string) -> string"];

/// Parameter names that hold a path.
const PATH_NAMES: &[&str] = &["path", "dir", "root", "spec", "file", "folder", "config"];

/// Calls where a special file is legitimately no error, or gets another error: (signature,
/// special, `None` when success is fine, or the phrase its error must contain instead).
const LEGITIMATE: &[(&str, &str, Option<&str>)] = &[
    // rerun_reason answers with a reason, not an error: with no readable `DIR/run.json`
    // it is "no earlier run recorded in ..."; it never opens a script that is not a
    // regular file (provenance's `read_capped`)
    (
        "rerun_reason(path: string, options: map, dir: string) -> string",
        "fifo",
        None,
    ),
    (
        "rerun_reason(path: string, options: map, dir: string) -> string",
        "device",
        None,
    ),
    (
        "rerun_reason(path: string, options: map, dir: string) -> string",
        "loop",
        None,
    ),
    (
        "rerun_reason(path: string, options: map, dir: string) -> string",
        "folder",
        None,
    ),
    (
        "rerun_reason(path: string, options: map, dir: string) -> string",
        "damaged",
        None,
    ),
    (
        "rerun_reason(path: string, options: map, dir: string) -> string",
        "file",
        None,
    ),
    // load_cost takes the folder or the cost file itself: a text file is read as one
    (
        "load_cost(dir: string, ems: any, targets: map) -> Cost",
        "file",
        Some("not a cost file of clmtune"),
    ),
];

/// One special file of the test folder.
struct Special {
    /// Short name, for the failure messages.
    name: &'static str,
    path: PathBuf,
    /// The phrase an error about it must contain (any of them).
    says: &'static [&'static str],
}

/// The roles each special file is given in.
fn specials_for(role: Role, s: &Special) -> bool {
    match s.name {
        "fifo" | "device" | "loop" => true,
        "folder" => matches!(role, FileIn | FileOut),
        "file" => matches!(role, DirIn | DirOut),
        "damaged" => role == FileIn,
        _ => false,
    }
}

/// The special files, made in `d`.
fn make_specials(d: &Path) -> Vec<Special> {
    std::fs::create_dir_all(d).unwrap();
    let fifo = d.join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let lp = d.join("loop");
    std::os::unix::fs::symlink(&lp, &lp).unwrap();
    let folder = d.join("folder");
    std::fs::create_dir(&folder).unwrap();
    let file = d.join("file.txt");
    std::fs::write(&file, "a regular file, not a folder\n").unwrap();
    // a netCDF-4 file with a damaged HDF5 superblock (as no_panic.rs makes it)
    let nc = d.join("damaged.nc");
    let mut w = clmtune::nc::Writer::new(clmtune::nc::Format::Netcdf4);
    w.dim("x", 3);
    w.var("v", &["x"], vec![1.0f64, 2.0, 3.0]);
    w.save(&nc).unwrap();
    let mut bytes = std::fs::read(&nc).unwrap();
    for b in bytes.iter_mut().skip(8).take(64) {
        *b ^= 0xFF;
    }
    std::fs::write(&nc, bytes).unwrap();
    vec![
        Special {
            name: "fifo",
            path: fifo,
            says: &["is a FIFO"],
        },
        Special {
            name: "device",
            path: PathBuf::from("/dev/zero"),
            says: &["is a device"],
        },
        Special {
            name: "loop",
            path: lp,
            says: &["symbolic link loop"],
        },
        Special {
            name: "folder",
            path: folder,
            says: &["is a folder"],
        },
        Special {
            name: "file",
            path: file,
            says: &["not a folder"],
        },
        Special {
            name: "damaged",
            path: nc,
            says: &[
                "damaged",
                "not a netCDF",
                "HDF",
                "cannot open",
                "cannot read",
            ],
        },
    ]
}

/// Asserts that every special file is of its kind still (the FIFO a FIFO, the loop a
/// link, the folder a folder holding nothing, the file and the damaged file unchanged,
/// /dev/zero a device).
fn check_kinds(specials: &[Special], file_text: &str, damaged: &[u8], what: &str) {
    for s in specials {
        let p = &s.path;
        let ok = match s.name {
            "fifo" => std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_fifo()),
            "device" => std::fs::metadata(p).is_ok_and(|m| m.file_type().is_char_device()),
            "loop" => std::fs::read_link(p).is_ok_and(|t| t == *p),
            "folder" => p.is_dir() && std::fs::read_dir(p).unwrap().next().is_none(),
            "file" => std::fs::read_to_string(p).is_ok_and(|t| t == file_text),
            "damaged" => std::fs::read(p).is_ok_and(|b| b == damaged),
            _ => true,
        };
        assert!(
            ok,
            "after {what}: the {} {} was changed",
            s.name,
            p.display()
        );
    }
}

/// Every file under `dir` (recursive) whose name starts with `.clmtune-`.
fn stray_temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with(".clmtune-") {
            out.push(p);
        } else if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(stray_temporaries(&p));
        }
    }
    out
}

/// Every signature listed by `clmtune doc --json`.
fn documented_signatures() -> Vec<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .args(["doc", "--json"])
        .output_alone()
        .unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    fn collect(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let (Some(_), Some(sig)) = (
                    m.get("name").and_then(|n| n.as_str()),
                    m.get("signature").and_then(|s| s.as_str()),
                ) {
                    out.push(sig.to_string());
                }
                m.values().for_each(|x| collect(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
    let mut sigs = Vec::new();
    collect(&doc, &mut sigs);
    sigs
}

/// Whether a signature takes a path: a parameter named as in [`PATH_NAMES`], or an options
/// map of a plot (its `file`).
fn takes_path(sig: &str) -> bool {
    let Some((name, rest)) = sig.split_once('(') else {
        return false;
    };
    let rest = rest.split(" -> ").next().unwrap_or(rest);
    let params = rest.rsplit_once(')').map_or("", |(p, _)| p);
    let by_name = params.split(',').any(|p| {
        p.split_once(':')
            .is_some_and(|(n, t)| PATH_NAMES.contains(&n.trim()) && t.trim() == "string")
    });
    by_name || (name.starts_with("plot_") && params.contains("options: map"))
}

/// An EOF stage of 8 members and a default run (GPP, latent and sensible heat) on the 4 x 5 degree grid in
/// `d/archive` (the small experiment's archive root, year 2), as tests/layouts.rs makes it.
fn eof_stage(d: &Path, cfg: &Path) -> clmtune::eof::stage::EofStage {
    use clmtune::eof::stage::{EofStage, Runs, Settings};
    let grid = clmtune::grids::f45().unwrap();
    let land: Vec<bool> = grid.landfrac.iter().map(|&f| f > 0.0).collect();
    let lats: Vec<f64> = grid.lat.clone();
    let nlon = grid.lon.len();
    let archive = clmtune::demo::fixture::Archive::new(&d.join("archive"), grid.clone())
        .var("GPP", "gC/m^2/s", "gross primary production")
        .var("EFLX_LH_TOT", "W/m^2", "latent heat flux")
        .var("FSH", "W/m^2", "sensible heat flux");
    let cases: Vec<String> = (1..=8).map(|m| format!("ppe_{m}")).collect();
    for (m, case) in std::iter::once("dflt")
        .chain(cases.iter().map(String::as_str))
        .enumerate()
    {
        archive
            .write_case(case, (2, 2), |var, month| {
                (0..land.len())
                    .map(|k| {
                        if !land[k] {
                            return f64::NAN;
                        }
                        let lat = lats[k / nlon];
                        let a = ((m * 7 + 3) % 11) as f64 / 11.0;
                        let b = ((m * 5 + 1) % 13) as f64 / 13.0;
                        let s = 1.0 + 0.3 * (month.index as f64 / 2.0).sin();
                        let v = (lat.to_radians().cos() + 0.2)
                            * s
                            * (1.0
                                + 0.4 * a * (k as f64 * 0.37).sin()
                                + 0.3 * b * (k as f64 * 0.11).cos());
                        if var == "GPP" {
                            3e-5 * v
                        } else {
                            60.0 * v
                        }
                    })
                    .collect()
            })
            .unwrap();
    }
    let config = clmtune::config::Config::load(cfg).unwrap();
    let mut settings = Settings::from_config(&config).unwrap();
    settings.archive_root = d.join("archive");
    settings.years = (2, 2);
    settings.modes = 2;
    let runs = Runs {
        name: "ppe".into(),
        members: (1..=8).map(|m| m.to_string()).collect(),
        cases,
        parameters: vec!["medlynslope".into(), "dleaf".into()],
        scalings: ndarray::Array2::from_shape_fn((8, 2), |(i, j)| {
            ((i * 3 + j * 5) % 8) as f64 / 8.0
        }),
        dropped: Vec::new(),
    };
    EofStage::run(settings, runs, None, "dflt").unwrap()
}

/// The emulator folder of the `emulate` examples (tests/doc_examples.rs): GPP of 2 modes
/// on 2 parameters, 30 members and 20 more for testing.
fn write_emulators(dir: &Path) {
    use clmtune::emulate::stage::{EmulatorStage, Inputs, StageSettings, Target};
    use ndarray::Array2;
    let f = |x: &Array2<f64>| {
        Array2::from_shape_fn((x.nrows(), 2), |(i, k)| {
            (3.0 * x[[i, 0]]).sin() * (k + 1) as f64 + x[[i, 0]] * x[[i, 1]]
        })
    };
    let x = Array2::from_shape_fn((30, 2), |(i, j)| {
        ((7 * i + 4 * i * j + 5 * j + 1) % 31) as f64 / 30.0
    });
    let tx = Array2::from_shape_fn((20, 2), |(i, j)| {
        ((11 * i + 3 * j + 2 * i * j + 5) % 21) as f64 / 20.0
    });
    let inputs = Inputs {
        parameters: vec!["kmax".into(), "dint".into()],
        cases: (1..=30).map(|i| format!("c{i}")).collect(),
        x: x.clone(),
        test_x: Some(tx.clone()),
    };
    let targets = [Target {
        variable: "GPP".into(),
        y: f(&x),
        test_y: Some(f(&tx)),
        sigma: Some(ndarray::arr1(&[0.1, 0.2])),
    }];
    let mut s = StageSettings::default();
    s.protocol.layer1 = vec![4];
    s.protocol.layer2 = vec![4];
    s.protocol.top = 1;
    s.protocol.resamples = 3;
    s.protocol.network.epochs = 30;
    EmulatorStage::run(&inputs, &targets, s, &|| {})
        .unwrap()
        .save(dir)
        .unwrap();
}

/// The one-at-a-time experiment of the `sensitivity` examples (tests/doc_examples.rs):
/// parameters fff and dint, cases of year 1 on the 2 x 3 grid. Returns its config.
fn write_oaat(dir: &Path) -> PathBuf {
    use clmtune::demo::fixture;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "[experiment]\nname = \"t\"\n[archive]\nroot = \"archive\"\nyears = [1, 1]\n[cases]\ndefault = \"t_default\"\noaat = \"t_{param}_{end}\"\n[parameters]\nspec = \"parameters.toml\"\n[backend]\nkind = \"none\"\n[output]\ndir = \"results\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("parameters.toml"),
        "[[parameter]]\nname = \"fff\"\nlocation = \"namelist\"\ndefault = 0.5\nmin = 0.02\nmax = 5.0\n\n[[parameter]]\nname = \"dint\"\nlocation = \"namelist\"\ndefault = 0.8\nmin = 0.5\nmax = 1.0\noaat_default_as = \"max\"\n",
    )
    .unwrap();
    let base = [1.0, 2.0, f64::NAN, 3.0, 4.0, 5.0];
    let archive = fixture::Archive::new(&dir.join("archive"), fixture::tiny_grid()).var(
        "GPP",
        "gC/m^2/s",
        "gross primary production",
    );
    for (case, f) in [
        ("t_default", 1.0),
        ("t_fff_min", 1.0),
        ("t_fff_max", 2.0),
        ("t_dint_min", 0.7),
    ] {
        archive
            .write_case(case, (1, 1), |_, _| base.iter().map(|b| b * f).collect())
            .unwrap();
    }
    dir.join("config.toml")
}

/// The scope every call runs in: `DIR` (a scratch folder), `ROOT` (an archive of cases
/// demo, demo2, demo3 on the 2 x 3 grid), `HELLO` (a script), and one object of every
/// script type that has a path function: `F` (Field), `EOF` (Eof), `STAGE` (EofStage),
/// `TABLE`, `EMULATOR`, `EMULATORS`, `TARGETS`, `COST`, `MATCH` (HistoryMatch), `WAVES`, `OPTIMA`,
/// `POSTERIOR`, `IDENT` (Identifiability), `EFFECTS`, `PC` (PatternCorrelation), `RANKS`,
/// `REFOCUS`, `KALMAN`, `TESTCASE`.
fn base_scope(d: &Path, engine: &rhai::Engine) -> rhai::Scope<'static> {
    let t0 = Instant::now();
    let root = d.join("archive");
    let archive = clmtune::demo::fixture::Archive::new(&root, clmtune::demo::fixture::tiny_grid())
        .var("GPP", "gC/m^2/s", "gross primary production");
    for (case, shift) in [("demo", 0.0), ("demo2", 0.3), ("demo3", -0.2)] {
        archive
            .write_case(case, (1, 1), |_, m| {
                [1.0, 2.0, f64::NAN, 3.0, 4.0, 5.0]
                    .iter()
                    .enumerate()
                    .map(|(k, b)| b + shift * (k as f64 - 2.5) + 0.1 * m.index as f64)
                    .collect()
            })
            .unwrap();
    }
    write_emulators(&d.join("emulator"));
    let oaat = write_oaat(&d.join("oaat"));
    std::fs::write(d.join("hello.rhai"), "\"hello\"\n").unwrap();
    let small = d.join("small");
    std::fs::create_dir_all(&small).unwrap();
    let small_cfg = common::small_experiment(&small);
    let stage = eof_stage(&small, &small_cfg);
    let mut scope = clmtune::script::base_scope("<special>", &[]);
    scope.push_constant(
        "STAGE",
        clmtune::script::eof::ScriptEofStage(Arc::new(stage)),
    );
    let dd = d.display().to_string();
    let setup = format!(
        r#"
        const DIR = "{dd}/scratch";
        const ROOT = "{dd}/archive";
        const HELLO = "{dd}/hello.rhai";
        const F = read_case(ROOT, "demo", "GPP", [1, 1]).GPP;
        const EOF = eof(read_ensemble(ROOT, ["demo", "demo2", "demo3"], "GPP", [1, 1]).GPP);
        const TABLE = table(#{{a: [1, 2], b: ["x", "y"]}});
        const X = latin_hypercube(30, 2, 1);
        const EMULATOR = fit_ridge(X, X * 2.0);
        const EMULATORS = load_emulators("{dd}/emulator");
        const TARGETS = #{{GPP: #{{observed: array([0.5, 1.0]), sigma: array([0.1, 0.2]),
                                 lambda: array([0.8, 0.2]), default_run: array([0.4, 0.9])}}}};
        const COST = cost(#{{GPP: EMULATOR}}, TARGETS);
        const MATCH = history_match(COST, #{{method: "implausibility", n: 2000, seed: 1}});
        const WAVES = nroy_waves(COST, 2, #{{n: 2000, seed: 1}});
        const OPTIMA = optimize(COST, #{{methods: ["nelder_mead"], seed: 1}});
        const POSTERIOR = posterior(COST, #{{seed: 1, start: [0.3, 0.6], steps: 200, burn: 50}});
        const IDENT = identifiability(COST, POSTERIOR, [0.3, 0.6], #{{seed: 1, n: 200}});
        const RUNS = oaat_runs(read_config("{oaat}"));
        const EFFECTS = parameter_effect(RUNS, #{{GPP: "GPP"}});
        const PC = pattern_correlation(EFFECTS);
        const RANKS = rank_effects(EFFECTS, PC);
        const REFOCUS = {{
            let rf = refocus(X, #{{GPP: X}}, ["a", "b"]);
            let e = fit_gp(X, X, #{{nugget: 0, inputs: ["a", "b"]}});
            rf.add(history_match(cost(#{{GPP: e}}, TARGETS),
                                 #{{method: "implausibility", n: 2000, seed: 1}}), #{{GPP: e}});
            rf
        }};
        const KALMAN = {{
            let k = kalman(["a", "b"], #{{y: array([0.9, -0.3]), sigma: array([0.01, 0.01])}},
                           #{{iterations: 2}});
            let x = k.design();
            k.update(stack([x.T[0] + x.T[1], x.T[0] - x.T[1]], 1));
            k
        }};
        const TESTCASE = test_case(read_config("{small_cfg}"), STAGE,
                                   [#{{label: "optimized", "case": "ppe_1"}}]);
        "#,
        oaat = oaat.display(),
        small_cfg = small_cfg.display(),
    );
    if let Err(e) = engine.run_with_scope(&mut scope, &setup) {
        panic!(
            "setting up the objects: {}",
            clmtune::script::error::report(&e, "<special>", &|_| None)
        );
    }
    eprintln!("objects made in {:.1} s", t0.elapsed().as_secs_f64());
    scope
}

/// What one call gave.
enum Outcome {
    Ok,
    Err(String),
    Panicked,
    TimedOut,
}

/// Runs `code` in a copy of `scope` on its own thread, at most `secs` seconds; a call
/// still running then is recorded as timed out, and the FIFO is opened for reading and
/// writing once, so that a call blocked in opening it goes on.
fn run_bounded(
    engine: &Arc<rhai::Engine>,
    scope: &rhai::Scope<'static>,
    code: &str,
    secs: u64,
    fifo: &Path,
) -> Outcome {
    let (tx, rx) = std::sync::mpsc::channel();
    let (engine, mut scope, c) = (engine.clone(), scope.clone(), code.to_string());
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engine.eval_with_scope::<rhai::Dynamic>(&mut scope, &c)
        }));
        let _ = tx.send(match r {
            Err(_) => Outcome::Panicked,
            Ok(Ok(_)) => Outcome::Ok,
            Ok(Err(e)) => Outcome::Err(clmtune::script::error::report(&e, "<special>", &|_| None)),
        });
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(o) => o,
        Err(_) => {
            let _ = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(fifo);
            let _ = rx.recv_timeout(Duration::from_secs(5));
            Outcome::TimedOut
        }
    }
}

/// Checks one call's outcome: an error naming `path` and saying what it is (one of
/// `says`), printable. Returns the problem, if any.
fn judge(outcome: &Outcome, path: &Path, says: &[&str]) -> Option<String> {
    match outcome {
        Outcome::Panicked => Some("panicked".into()),
        Outcome::TimedOut => Some("ran over 10 s".into()),
        Outcome::Ok => Some("succeeded".into()),
        Outcome::Err(m) => {
            let shown = path.display().to_string();
            let mut problems = Vec::new();
            if !m.contains(&shown) {
                problems.push("does not name the path");
            }
            if !says.iter().any(|s| m.contains(s)) {
                problems.push("does not say what it is");
            }
            if m.chars().any(|c| c.is_control() && c != '\n') {
                problems.push("has control characters");
            }
            if m.contains("::") || m.contains("os error") {
                problems.push("has Rust words");
            }
            if problems.is_empty() {
                None
            } else {
                Some(format!("{}: {m}", problems.join(", ")))
            }
        }
    }
}

#[test]
fn every_path_position_refuses_every_special_file() {
    common::demo_fixture();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // the signatures that take a path: every one is called, and none more is expected
    let sigs = documented_signatures();
    let with_path: std::collections::BTreeSet<&str> = sigs
        .iter()
        .map(String::as_str)
        .filter(|s| takes_path(s) && !NOT_PATHS.contains(s))
        .collect();
    let covered: std::collections::BTreeSet<&str> = CALLS.iter().map(|c| c.0).collect();
    let missing: Vec<&&str> = with_path.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "path-taking functions the test does not call: {missing:#?}"
    );
    let gone: Vec<&&str> = covered.difference(&with_path).collect();
    assert!(
        gone.is_empty(),
        "functions the test calls that `doc --json` no longer lists: {gone:#?}"
    );
    assert!(
        with_path.len() >= 58,
        "only {} path-taking signatures found",
        with_path.len()
    );
    let engine = Arc::new(clmtune::script::engine());
    let scope = base_scope(d, &engine);
    let sp = d.join("special");
    let specials = make_specials(&sp);
    let file_text = std::fs::read_to_string(sp.join("file.txt")).unwrap();
    let damaged = std::fs::read(sp.join("damaged.nc")).unwrap();
    let fifo = sp.join("fifo");
    let t0 = Instant::now();
    let (mut calls, mut failures) = (0, Vec::new());
    for (sig, template, role) in CALLS {
        for s in specials.iter().filter(|s| specials_for(*role, s)) {
            let code = template.replace('@', &format!("\"{}\"", s.path.display()));
            let outcome = run_bounded(&engine, &scope, &code, 10, &fifo);
            calls += 1;
            let legit = LEGITIMATE
                .iter()
                .find(|(g, n, _)| g == sig && *n == s.name)
                .map(|l| l.2);
            let problem = match (legit, &outcome) {
                (Some(None), Outcome::Ok) => None,
                (Some(Some(phrase)), _) => judge(&outcome, &s.path, &[phrase]),
                _ => judge(&outcome, &s.path, s.says),
            };
            if let Outcome::Err(m) = &outcome {
                // one message per function and special file, to read with --nocapture
                eprintln!("{code}\n    {}", m.lines().next().unwrap_or(""));
            }
            if let Some(p) = problem {
                failures.push(format!("{sig} [{role:?}, {}]\n    {code}\n    {p}", s.name));
            }
            check_kinds(&specials, &file_text, &damaged, &code);
            let stray = stray_temporaries(d);
            assert!(stray.is_empty(), "after {code}: {stray:?}");
            let in_dev = std::fs::read_dir("/dev")
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(".clmtune-"));
            assert!(!in_dev, "after {code}: a temporary file in /dev");
        }
    }
    eprintln!(
        "{calls} calls of {} signatures in {:.1} s",
        CALLS.len(),
        t0.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {calls} calls:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs `clmtune run SCRIPT` in `dir`, at most `secs` seconds (then killed, and the FIFO
/// opened once so that nothing stays blocked); returns (exit success, stderr), or `None`
/// when it ran over.
fn run_binary(dir: &Path, script: &Path, secs: u64, fifo: &Path) -> Option<(bool, String)> {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .arg("run")
        .arg(script)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return Some((status.success(), err));
        }
        if t0.elapsed() > Duration::from_secs(secs) {
            child.kill().unwrap();
            child.wait().unwrap();
            let _ = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(fifo);
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The config's paths: a config whose `[parameters] spec`, `[archive] root`,
/// `[observations] file`, `[cases] ppe_design` or `[output] dir` is a special file is read
/// (`read_config`, `record_config`) and given to the stage function that uses that path;
/// the run (through the binary, so that `run.json` is written into the output folder too)
/// ends within 10 s with an error naming the path and what it is, and the special file
/// keeps its kind.
#[test]
fn a_config_naming_special_files_is_refused() {
    common::demo_fixture();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cfg = common::small_experiment(d);
    let text = std::fs::read_to_string(&cfg).unwrap();
    let sp = d.join("special");
    let specials = make_specials(&sp);
    let file_text = std::fs::read_to_string(sp.join("file.txt")).unwrap();
    let damaged = std::fs::read(sp.join("damaged.nc")).unwrap();
    let fifo = sp.join("fifo");
    // (the key's line in the config, the stage function that uses it, the role)
    let keys: &[(&str, &str, Role)] = &[
        ("spec = \"parameters.toml\"", "ppe(cfg)", FileIn),
        (
            "root = \"archive\"",
            "eof_stage(cfg, ppe(cfg), default_run(cfg))",
            DirIn,
        ),
        (
            "file = \"obs/fluxnet_mte_nobias.nc\"",
            "check_eof_inputs(cfg)",
            FileIn,
        ),
        ("ppe_design = \"design/ppe1.csv\"", "ppe(cfg)", FileIn),
        ("dir = \"results\"", "cfg", DirOut),
    ];
    let (mut calls, mut failures) = (0, Vec::new());
    for (line, call, role) in keys {
        assert!(text.contains(line), "the config has no {line}");
        let key = line.split_once(" = ").unwrap().0;
        for s in specials.iter().filter(|s| specials_for(*role, s)) {
            // the damaged netCDF file is a special input of netCDF readers only
            if s.name == "damaged" && key != "file" {
                continue;
            }
            let c = d.join(format!("{key}_{}.toml", s.name));
            std::fs::write(
                &c,
                text.replace(line, &format!("{key} = \"{}\"", s.path.display())),
            )
            .unwrap();
            let script = d.join(format!("{key}_{}.rhai", s.name));
            std::fs::write(
                &script,
                format!(
                    "let cfg = record_config(read_config(\"{}\"));\n{call};\n",
                    c.display()
                ),
            )
            .unwrap();
            calls += 1;
            let what = format!("[{key}] = {} ({})", s.path.display(), s.name);
            match run_binary(d, &script, 10, &fifo) {
                None => failures.push(format!("{what}: ran over 10 s")),
                Some((true, _)) => failures.push(format!("{what}: {call} succeeded")),
                Some((false, err)) => {
                    if let Some(p) = judge(&Outcome::Err(err.clone()), &s.path, s.says) {
                        failures.push(format!("{what}: {call}\n    {p}"));
                    }
                    if err.contains("panicked") {
                        failures.push(format!("{what}: panicked: {err}"));
                    }
                }
            }
            check_kinds(&specials, &file_text, &damaged, &what);
            let stray = stray_temporaries(d);
            assert!(stray.is_empty(), "after {what}: {stray:?}");
        }
    }
    assert!(calls >= 18, "only {calls} runs");
    assert!(
        failures.is_empty(),
        "{} of {calls} runs:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
