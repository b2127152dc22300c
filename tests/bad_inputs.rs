//! Issue 28's bad-input corpus: every script of `tests/bad_inputs/` is a mistake a new user
//! makes, or a reproducer of a fuzz finding, and must end in one clear message. Each case
//! runs the real binary (`clmtune run CASE -- --dir TMP`, in a fresh temporary folder that
//! is also its working folder) and must exit with status 1 (not 0, nor a panic's 101, an
//! abort's 134 or a segfault's 139) within a time bound, with a message on stderr that holds
//! every `// expect:` line of the case, names the case file and a line, and has no raw
//! control characters (only line breaks) in stderr or stdout.
//!
//! A case file starts with comment lines:
//!
//! - free text: what it reproduces (an issue 28 item, a finding by hand, a user's mistake);
//! - `// expect: TEXT` (at least one): a substring the error message must contain;
//! - `// setup: ...`: something made in the temporary folder before the run (see [`setup`]);
//! - `// absent: PATH`: a file that must not exist after the run (a save left nothing);
//! - `// args: ...`: the arguments after `--` instead of `--dir TMP` (`$DIR` is the folder).
//!
//! In `file`, `replace` and `append` setups the text takes the escapes `\n`, `\r`, `\t`,
//! `\\` and `\u{XXXX}`.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a case may run before it is killed and fails.
const BOUND: Duration = Duration::from_secs(30);

/// A parsed case file.
#[derive(Debug, Default)]
struct Case {
    path: PathBuf,
    name: String,
    expects: Vec<String>,
    setups: Vec<String>,
    absent: Vec<String>,
    args: Option<String>,
}

/// Reads the directives of a case file; an error when it has no `// expect:` line (a case
/// that checks nothing is a mistake of the corpus) or an unknown directive.
fn parse(path: &Path, text: &str) -> Result<Case, String> {
    let mut case = Case {
        path: path.to_path_buf(),
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        ..Case::default()
    };
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix("//") else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(v) = rest.strip_prefix("expect:") {
            let v = v.trim();
            if v.is_empty() {
                return Err(format!("{}: an empty expect line", case.name));
            }
            case.expects.push(v.to_string());
        } else if let Some(v) = rest.strip_prefix("setup:") {
            case.setups.push(v.trim().to_string());
        } else if let Some(v) = rest.strip_prefix("absent:") {
            case.absent.push(v.trim().to_string());
        } else if let Some(v) = rest.strip_prefix("args:") {
            case.args = Some(v.trim().to_string());
        }
    }
    if case.expects.is_empty() {
        return Err(format!(
            "{}: no '// expect:' line (what the message must say)",
            case.name
        ));
    }
    Ok(case)
}

/// The escapes of setup texts: `\n`, `\r`, `\t`, `\\`, `\u{XXXX}`.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('u') => {
                assert_eq!(it.next(), Some('{'), "\\u{{XXXX}} in {s}");
                let hex: String = it.by_ref().take_while(|&c| c != '}').collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
            }
            other => panic!("unknown escape \\{other:?} in {s}"),
        }
    }
    out
}

/// A small folder made once and copied into every case that asks for it.
fn shared(kind: &str) -> &'static Path {
    use std::sync::OnceLock;
    static DEMO: OnceLock<tempfile::TempDir> = OnceLock::new();
    static ARCHIVE: OnceLock<tempfile::TempDir> = OnceLock::new();
    match kind {
        // the stage tests' small demo experiment: config.toml, parameters.toml, params file,
        // observations of 2000-2001 (no archive)
        "demo" => DEMO
            .get_or_init(|| {
                let d = tempfile::tempdir().unwrap();
                let cfg = common::small_experiment(d.path());
                assert_eq!(cfg, d.path().join("config.toml"));
                d
            })
            .path(),
        // a tiny archive of three one-month cases m1, m2, m3 of GPP that differ
        "archive" => ARCHIVE
            .get_or_init(|| {
                let d = tempfile::tempdir().unwrap();
                let archive = clmtune::demo::fixture::Archive::new(
                    &d.path().join("archive"),
                    clmtune::demo::fixture::tiny_grid(),
                )
                .var("GPP", "gC/m^2/s", "gross primary production");
                for (k, case) in ["m1", "m2", "m3"].iter().enumerate() {
                    archive
                        .write_case(case, (1, 1), |_, m| {
                            (0..6)
                                .map(|c| (k * 7 + c) as f64 % 5.0 + m.index as f64)
                                .collect()
                        })
                        .unwrap();
                }
                d
            })
            .path(),
        _ => unreachable!(),
    }
}

/// Copies the folder `from` into `to` (files and folders only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A netCDF-4 file in which one byte of the HDF5 global heap is damaged so that libhdf5
/// 1.10.8 crashes reading its metadata (the search of tests/netcdf_robust.rs: the first of
/// the heap's bytes whose damage `nc::check_files` reports as a crash of the library).
fn damaged_nc4(dir: &Path, name: &str) {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    copy_tree(shared("archive"), w);
    let engine = clmtune::script::engine();
    let eval = |code: &str| {
        let mut scope = clmtune::script::base_scope("<setup>", &[]);
        engine
            .eval_with_scope::<rhai::Dynamic>(&mut scope, code)
            .map_err(|e| clmtune::script::error::report(&e, "<setup>", &|_| None))
    };
    let good = w.join("good.nc");
    let _ = eval(&format!(
        "let F = read_case(`{0}/archive`, \"m1\", \"GPP\", [1, 1]).GPP; \
         write_netcdf(`{0}/good.nc`, #{{GPP: F, w: eye(3)}});",
        w.display()
    ))
    .unwrap();
    let bad = common::heap_damage(&good, 16, "crashes")
        .expect("no byte of the global heap crashes libhdf5 any more: find a new damage");
    std::fs::copy(bad, dir.join(name)).unwrap();
}

/// Performs one `// setup:` line in `dir`:
///
/// - `fifo NAME`, `symlink-loop NAME`, `dir NAME`, `file NAME CONTENT`;
/// - `experiment`: `tests/common`'s experiment of 2 members with backend `none` (config.toml,
///   parameters.toml, clm5_params.demo.nc);
/// - `demo`: the small demo experiment with its observations (config.toml, obs/, ...);
/// - `archive`: `archive/` with three one-month cases `m1`, `m2`, `m3` of GPP;
/// - `damaged-nc4 NAME`: a netCDF-4 file whose damage crashes libhdf5;
/// - `replace FILE OLD => NEW` (OLD must be there), `append FILE TEXT`;
/// - `crlf FILE` (Windows line ends), `bom FILE` (a UTF-8 byte-order mark in front).
fn setup(dir: &Path, line: &str) {
    let (what, rest) = line.split_once(' ').unwrap_or((line, ""));
    let path = |name: &str| dir.join(name.trim());
    match what {
        "fifo" => assert!(Command::new("mkfifo")
            .arg(path(rest))
            .status()
            .unwrap()
            .success()),
        "symlink-loop" => std::os::unix::fs::symlink(path(rest), path(rest)).unwrap(),
        "dir" => std::fs::create_dir_all(path(rest)).unwrap(),
        "file" => {
            let (name, content) = rest.split_once(' ').unwrap_or((rest, ""));
            let p = path(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, unescape(content)).unwrap();
        }
        "experiment" => {
            common::experiment(dir, 2, "kind = \"none\"");
        }
        "demo" => copy_tree(shared("demo"), dir),
        "archive" => copy_tree(shared("archive"), dir),
        "damaged-nc4" => damaged_nc4(dir, rest.trim()),
        "replace" => {
            let (name, edit) = rest.split_once(' ').unwrap();
            let (old, new) = edit.split_once(" =>").expect("replace FILE OLD => NEW");
            let new = new.strip_prefix(' ').unwrap_or(new);
            let (old, new) = (unescape(old), unescape(new));
            let text = std::fs::read_to_string(path(name)).unwrap();
            assert!(text.contains(&old), "setup {line}: '{old}' not in {name}");
            std::fs::write(path(name), text.replacen(&old, &new, 1)).unwrap();
        }
        "append" => {
            let (name, add) = rest.split_once(' ').unwrap();
            let text = std::fs::read_to_string(path(name)).unwrap();
            std::fs::write(path(name), text + unescape(add).as_str()).unwrap();
        }
        "crlf" => {
            let text = std::fs::read_to_string(path(rest)).unwrap();
            std::fs::write(path(rest), text.replace('\n', "\r\n")).unwrap();
        }
        "bom" => {
            let text = std::fs::read_to_string(path(rest)).unwrap();
            std::fs::write(path(rest), format!("\u{feff}{text}")).unwrap();
        }
        _ => panic!("unknown setup '{line}'"),
    }
}

/// Raw control characters other than a line break, and bidirectional-text controls.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// What a run gave.
struct Outcome {
    status: Option<i32>,
    stdout: String,
    stderr: String,
    secs: f64,
}

/// Runs a case in a fresh temporary folder (its setups first) with the time bound.
fn run(case: &Case) -> Outcome {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for s in &case.setups {
        setup(dir, s);
    }
    let args: Vec<String> = match &case.args {
        Some(a) => a
            .split_whitespace()
            .map(|w| w.replace("$DIR", &dir.display().to_string()))
            .collect(),
        None => vec!["--dir".into(), dir.display().to_string()],
    };
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_clmtune"))
        .args(["-q", "run"])
        .arg(&case.path)
        .arg("--")
        .args(&args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // read both pipes while waiting (a full pipe would block the child)
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code().or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                s.signal().map(|k| 128 + k)
            });
        }
        if t0.elapsed() > BOUND {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let secs = t0.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
    for a in &case.absent {
        if dir.join(a).exists() {
            return Outcome {
                status,
                stdout,
                stderr: format!("{stderr}\n[the run left {a} behind]"),
                secs,
            };
        }
    }
    Outcome {
        status,
        stdout,
        stderr,
        secs,
    }
}

/// The problems of an outcome: an exit status other than 1, a missing expected text, no
/// `CASE.rhai:LINE` place, raw control characters, a file left behind.
fn problems(case: &Case, o: &Outcome) -> Vec<String> {
    let mut p = Vec::new();
    match o.status {
        Some(1) => {}
        None => p.push(format!("ran over {} s and was killed", BOUND.as_secs())),
        Some(s) => p.push(format!("exit status {s}, not 1")),
    }
    for e in &case.expects {
        if !o.stderr.contains(e.as_str()) {
            p.push(format!("no '{e}' in the message"));
        }
    }
    let place = format!("{}:", case.name);
    let named = o.stderr.match_indices(&place).any(|(i, _)| {
        o.stderr[i + place.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    });
    if !named {
        p.push(format!("the message does not name {place}LINE"));
    }
    for (what, text) in [("stderr", &o.stderr), ("stdout", &o.stdout)] {
        let raw = raw_controls(text);
        if !raw.is_empty() {
            p.push(format!("raw control characters in {what}: {raw:?}"));
        }
    }
    if o.stderr.contains("[the run left ") {
        p.push("a file was left behind".into());
    }
    p
}

/// The case files of `tests/bad_inputs/`, sorted.
fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    files.sort();
    files
}

/// Every case of `tests/bad_inputs/` ends in one clear message: exit status 1 within the
/// bound, every expected text, the case's `file:line`, no raw control characters; a table
/// of the cases (status, seconds, the message's first line) is printed.
#[test]
fn every_bad_input_ends_in_one_clear_message() {
    common::demo_fixture();
    let files = case_files();
    assert!(files.len() >= 40, "only {} case files", files.len());
    let cases: Vec<Case> = files
        .iter()
        .map(|f| parse(f, &std::fs::read_to_string(f).unwrap()).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    // the shared folders are made once, before the threads start
    let _ = (shared("demo"), shared("archive"));
    let threads = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .min(8);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Outcome>>> =
        cases.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= cases.len() {
                    break;
                }
                *results[i].lock().unwrap() = Some(run(&cases[i]));
            });
        }
    });
    let mut failures = Vec::new();
    eprintln!("{:<44} {:>4} {:>6}  message", "case", "exit", "s");
    for (case, r) in cases.iter().zip(results) {
        let o = r.into_inner().unwrap().unwrap();
        let first = o
            .stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let first = first
            .split_once(".rhai:")
            .map_or(first, |(_, m)| m)
            .chars()
            .take(110)
            .collect::<String>();
        eprintln!(
            "{:<44} {:>4} {:>6.2}  {}",
            case.name,
            o.status.map_or("kill".into(), |s| s.to_string()),
            o.secs,
            first.escape_debug()
        );
        let p = problems(case, &o);
        if !p.is_empty() {
            failures.push(format!(
                "{}:\n  {}\n  stderr: {}",
                case.name,
                p.join("\n  "),
                o.stderr.escape_debug()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A case file without an `// expect:` line is refused by the runner (it would check
/// nothing), and the escapes of setup texts are read as documented.
#[test]
fn a_case_without_an_expect_line_is_refused() {
    let e = parse(Path::new("x.rhai"), "// a case\n// setup: dir a\nfoo();\n").unwrap_err();
    assert!(e.contains("no '// expect:' line"), "{e}");
    let c = parse(
        Path::new("x.rhai"),
        "// expect: a b\n// expect: c\nfoo();\n",
    )
    .unwrap();
    assert_eq!(c.expects, ["a b", "c"]);
    assert_eq!(unescape(r"a\nb\r\t\\\u{feff}"), "a\nb\r\t\\\u{feff}");
}
