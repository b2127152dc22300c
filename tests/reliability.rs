//! Issue 28 (reliability, round three): each finding of the third fuzz run and of a new
//! user's afternoon, as a regression test that failed before its fix. Script-level cases run
//! the real binary (`clmtune run`), so exit codes (a panic is 101, an abort 134, a segfault
//! 139) and raw terminal bytes in messages are seen as a user sees them.

mod common;
use common::OutputAlone;

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_clmtune")
}

/// Runs `code` as a script in `dir` (as `case.rhai`) with a bound of `secs` seconds:
/// (exit code, stderr). A run over the bound is killed and fails the test.
fn run_script(dir: &Path, code: &str, secs: u64) -> (i32, String) {
    let script = dir.join("case.rhai");
    std::fs::write(&script, code).unwrap();
    let mut child = Command::new(bin())
        .args(["-q", "run"])
        .arg(&script)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
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
            return (status.code().unwrap_or(-1), err);
        }
        if t0.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            panic!("{code}\n  ran over {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the stage script `scripts/NAME.rhai` with `--config cfg --dry-run`.
fn dry_run(name: &str, cfg: &Path) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scripts/{name}.rhai"));
    Command::new(bin())
        .args(["-q", "run"])
        .arg(&script)
        .args(["--", "--config"])
        .arg(cfg)
        .arg("--dry-run")
        .output_alone()
        .unwrap()
}

/// Whether `text` holds a raw control character other than a line break, or a
/// bidirectional-text control.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// Asserts a clean failure: exit status 1 (not a panic, abort or signal), the phrase in
/// the message, a `file:line` place, and no raw control characters.
fn assert_clean(code: &str, (status, err): (i32, String), phrase: &str) {
    assert_eq!(status, 1, "{code}\n  exit {status}: {err}");
    assert!(
        err.contains(phrase),
        "{code}\n  wanted '{phrase}' in: {err}"
    );
    assert!(err.contains("case.rhai:"), "{code}\n  no place in: {err}");
    assert!(
        raw_controls(&err).is_empty(),
        "{code}\n  raw controls in: {err:?}"
    );
}

#[test]
fn fuzz_findings_end_in_one_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: &[(&str, &str)] = &[
        // 1: values near the largest float in a GP fit (egobox panicked: exit 101)
        (
            "fit_gp(latin_hypercube(20, 2, 1) * 1e308, latin_hypercube(20, 2, 1), #{});",
            "emulators take values within +-1e100",
        ),
        // 3: a device as CSV or table input (an allocation abort: exit 134)
        (
            "read_table(\"/dev/zero\");",
            "it is a device, not a data file",
        ),
        (
            "read_csv(\"/dev/zero\");",
            "it is a device, not a data file",
        ),
        (
            "read_csv(\"/dev/full\");",
            "it is a device, not a data file",
        ),
        // 11: raw control characters in a path are escaped in the message
        (
            "read_json(\"a\\x1b[31mRED\\x07\\x00\");",
            "a\\u{1b}[31mRED\\u{7}\\u{0}: file name contained an unexpected NUL byte",
        ),
        (
            "read_table(\"\\u202etxt.csv\");",
            "\\u{202e}txt.csv: no such file",
        ),
        // 12: no Rust types in a message
        (
            "assert(1);",
            "assert takes other arguments: assert(condition: bool)",
        ),
        ("fmt(1, 2, 3, 4);", "fmt(x: any, spec: string) -> string"),
    ];
    for (code, phrase) in cases {
        let r = run_script(d, code, 60);
        assert!(!r.1.contains("Box<EvalAltResult>"), "{code}: {}", r.1);
        assert!(!r.1.contains("panicked"), "{code}: {}", r.1);
        assert_clean(code, r, phrase);
    }
}

#[test]
fn special_files_as_inputs_are_named_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("in.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    std::os::unix::fs::symlink(d.join("loop.csv"), d.join("loop.csv")).unwrap();
    std::fs::create_dir(d.join("folder.json")).unwrap();
    // 6: a FIFO blocked forever in these; the netCDF readers called it "no such file"
    for f in [
        "read_json",
        "read_table",
        "read_csv",
        "load_emulator",
        "read_config",
        "read_netcdf",
        "load_eof",
    ] {
        let code = format!("{f}(`{}`);", fifo.display());
        let r = run_script(d, &code, 30);
        assert_clean(&code, r, "in.fifo: it is a FIFO, not a data file");
        let code = format!("{f}(`{}/loop.csv`);", d.display());
        let r = run_script(d, &code, 30);
        assert_clean(&code, r, "loop.csv: it is a symbolic link loop");
        let code = format!("{f}(`{}/folder.json`);", d.display());
        let r = run_script(d, &code, 30);
        assert_clean(&code, r, "folder.json: it is a folder");
    }
    let code = format!("run_script(`{}`, #{{}});", fifo.display());
    let r = run_script(d, &code, 30);
    assert_clean(&code, r, "in.fifo: it is a FIFO, not a data file");
}

#[test]
fn a_config_whose_spec_is_a_device_is_refused_quickly() {
    // 5: read_config + record_config, ppe, ... read /dev/zero forever
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::demo_fixture();
    let cfg = common::experiment(d, 2, "kind = \"none\"");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let spec_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("spec"))
        .unwrap()
        .to_string();
    std::fs::write(&cfg, text.replace(&spec_line, "spec = \"/dev/zero\"")).unwrap();
    let code = format!(
        "let c = read_config(`{}`); record_config(c);",
        cfg.display()
    );
    let r = run_script(d, &code, 30);
    assert_clean(
        &code,
        r,
        "[parameters] spec: cannot read parameter spec /dev/zero: it is a device, not a data file",
    );
}

#[test]
fn overflow_in_an_eof_is_an_error_not_nan() {
    // 13: eof(FE + 1e300) gave variance fractions NaN with exit 0
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let archive = clmtune::demo::fixture::Archive::new(
        &d.join("archive"),
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
    let read =
        "let FE = read_ensemble(\"archive\", [\"m1\", \"m2\", \"m3\"], \"GPP\", [1, 1]).GPP;\n";
    // the ensemble itself is fine
    let ok = format!("{read}print(eof(FE).variance_fraction());");
    let (status, err) = run_script(d, &ok, 30);
    assert_eq!(status, 0, "{err}");
    let code = format!("{read}print(eof(FE + 1e300).variance_fraction());");
    let r = run_script(d, &code, 30);
    assert_clean(&code, r, "the members do not differ");
}

#[test]
fn a_closed_stderr_pipe_ends_quietly() {
    // 14: `clmtune ... 2>&1 >/dev/null | head -c5` panicked on the write (exit 101)
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("e.rhai");
    std::fs::write(&script, "let a = 1;\nthis_function_does_not_exist(a);\n").unwrap();
    let mut child = Command::new(bin())
        .args(["-q", "run"])
        .arg(&script)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // the reader goes away before anything is written
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{status:?}");
}

/// Issue 28's "done means": in a piped REPL, `history_match` of 10^7 candidates interrupted
/// after 1 s returns within 2 s, and the next line prints a variable defined before it.
#[test]
fn ctrl_c_stops_a_native_history_match_and_keeps_the_session() {
    let mut child = Command::new(bin())
        .arg("repl")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, String)>();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send((Instant::now(), format!("out: {l}")));
        }
    });
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx2.send((Instant::now(), format!("err: {l}")));
        }
    });
    let lines = [
        "let keep = 42;",
        "let x = rand([40, 3], 1);",
        "let ems = #{GPP: fit_gp(x, x * 2.0, #{})};",
        "let t = #{GPP: #{observed: [0.5, 1.0, 0.3], sigma: [0.1, 0.2, 0.1], lambda: [0.5, 0.3, 0.2], default_run: [0.4, 0.9, 0.3]}};",
        "let j = cost(ems, t);",
        "print(\"started\");",
        "let h = history_match(j, #{n: 10_000_000, keep: 10});",
        "print(`kept ${keep}`);",
        "print(type_of(h));",
    ];
    for l in lines {
        writeln!(stdin, "{l}").unwrap();
    }
    stdin.flush().unwrap();
    let mut seen = Vec::new();
    let wait_for = |what: &str, seen: &mut Vec<String>, secs: u64| -> Instant {
        let t0 = Instant::now();
        loop {
            let left = Duration::from_secs(secs).saturating_sub(t0.elapsed());
            match rx.recv_timeout(left) {
                Ok((t, l)) => {
                    let hit = l.contains(what);
                    seen.push(l);
                    if hit {
                        return t;
                    }
                }
                Err(_) => panic!("no '{what}' within {secs} s; seen:\n{}", seen.join("\n")),
            }
        }
    };
    wait_for("out: started", &mut seen, 120);
    std::thread::sleep(Duration::from_secs(1));
    let sent = Instant::now();
    assert!(Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let back = wait_for("out: kept 42", &mut seen, 30);
    let took = back.duration_since(sent).as_secs_f64();
    drop(stdin);
    let _ = child.wait();
    while let Ok((_, l)) = rx.recv_timeout(Duration::from_millis(200)) {
        seen.push(l);
    }
    assert!(
        took < 2.0,
        "the session came back {took:.1} s after Ctrl-C:\n{}",
        seen.join("\n")
    );
    // it was interrupted (had it finished in the second, `h` would be defined)
    let all = seen.join("\n");
    assert!(all.contains("interrupted (Ctrl-C)"), "{all}");
    assert!(!all.contains("out: HistoryMatch"), "{all}");
}

#[test]
fn a_dry_run_of_the_eof_stage_checks_every_observation_input_at_once() {
    // found by hand: 03 --dry-run with a wrong observation file succeeded; the real run failed
    // after reading the whole ensemble
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = common::small_experiment(d);
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("obs = \"LE\"", "obs = \"LEE\"")
            .replace("sigma_years = [2000, 2001]", "sigma_years = [1900, 1901]"),
    )
    .unwrap();
    let out = dry_run("03_eof", &cfg);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("dry run: 2 problem(s) with what the EOF stage reads"),
        "{err}"
    );
    // both variables' problems in one message: GPP's years, LHF's variable
    assert!(
        err.contains("GPP: ") && err.contains("GPP has no month in the sigma years 1900-1901"),
        "{err}"
    );
    assert!(err.contains("LHF: ") && err.contains("LEE"), "{err}");
    // nothing was run or written
    assert!(
        !d.join("archive").exists() || std::fs::read_dir(d.join("archive")).unwrap().count() == 0
    );
}

#[test]
fn backend_none_names_the_cases_missing_from_the_archive() {
    // found by hand: "member 17 (case demo_LHC_17) was never submitted: call submit first"
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::demo_fixture();
    let cfg = common::experiment(d, 3, "kind = \"none\"");
    // waiting without submitting: what the archive lacks, not "call submit first"
    let code = format!("let e = ppe(read_config(`{}`)); e.wait();", cfg.display());
    let r = run_script(d, &code, 60);
    assert!(!r.1.contains("call submit first"), "{}", r.1);
    assert_clean(
        &code,
        r,
        "3 member(s) missing from the archive (backend none submits nothing",
    );
    // (submitting says it too)
    let code = format!(
        "let e = ppe(read_config(`{}`)); e.submit(); e.wait();",
        cfg.display()
    );
    let r = run_script(d, &code, 60);
    assert_clean(
        &code,
        r,
        "3 of 3 cases are missing or incomplete for years 2-2",
    );
}

#[test]
fn a_symlink_loop_as_target_is_refused_and_kept() {
    // 8: write_csv, write_rows and table saves replaced a symlink loop by a regular file
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink(d.join("loop.csv"), d.join("loop.csv")).unwrap();
    for code in [
        "write_csv(eye(2), `loop.csv`, [\"a\", \"b\"]);",
        "write_rows(`loop.csv`, [\"a\"], [[1]]);",
        "table(#{a: [1, 2]}).save(`loop.csv`);",
    ] {
        let r = run_script(d, code, 30);
        assert_clean(
            code,
            r,
            "refusing to write loop.csv: it is a symbolic link loop",
        );
        assert!(
            d.join("loop.csv").is_symlink(),
            "{code}: the link was replaced"
        );
    }
}

#[test]
fn a_map_from_read_csv_where_an_array_is_taken_says_where_the_array_is() {
    // found by hand: fit_gp(read_csv(..), ..) said only "fit_gp (map, map, map)"
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("x.csv"), "a,b\n0.1,0.2\n0.3,0.4\n").unwrap();
    let code = "let x = read_csv(`x.csv`); fit_gp(x, x, #{});";
    let r = run_script(d, code, 30);
    assert_clean(
        code,
        r,
        "a map from read_csv holds its Array in .data (read_csv(p).data)",
    );
}

#[test]
fn a_dry_run_of_the_eof_stage_reports_missing_cases_and_observations_at_once() {
    // found by hand: a dry run opens every input it will need and reports every problem at
    // once: here with backend none, an archive lacking every case, and a wrong observed
    // variable, all in one message (before: the first missing case stopped the dry run)
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = common::small_experiment(d);
    let text = std::fs::read_to_string(&cfg).unwrap();
    let text =
        common::with_backend(&text, "kind = \"none\"").replace("obs = \"LE\"", "obs = \"LEE\"");
    std::fs::write(&cfg, text).unwrap();
    let out = dry_run("03_eof", &cfg);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(raw_controls(&err).is_empty(), "{err}");
    assert!(
        err.contains("dry run: 4 problem(s) with what the EOF stage reads"),
        "{err}"
    );
    assert!(
        err.contains("ppe: 10 of 10 cases are not in the archive (backend none runs nothing): demo_LHC_1, demo_LHC_2, demo_LHC_3 ... demo_LHC_10 (10 cases) (no history files in "),
        "{err}"
    );
    assert!(
        err.contains("ppe_test: 10 of 10 cases are not in the archive"),
        "{err}"
    );
    assert!(err.contains("default: 1 of 1 cases are not in the archive (backend none runs nothing): demo_default (no history files in "), "{err}");
    assert!(err.contains("LHF: ") && err.contains("LEE"), "{err}");
}

#[test]
fn the_dry_runs_of_later_stages_report_every_missing_result_and_train_nothing() {
    // found by hand: 04, 05 and 06 took --dry-run and ran in full (04 trained its networks);
    // now each opens the results it reads and reports every problem at once
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = common::small_experiment(d);
    for (script, n) in [
        ("04_emulate", 1),
        ("05_interpret", 2),
        ("06_calibrate", 2),
        ("07_test_case", 3),
    ] {
        let t0 = Instant::now();
        let out = dry_run(script, &cfg);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{script}: {err}");
        assert!(
            err.contains(&format!(
                "dry run: {n} problem(s) with what this stage reads"
            )),
            "{script}: {err}"
        );
        assert!(
            err.contains("(03_eof.rhai writes it: run it first"),
            "{script}: {err}"
        );
        if n > 1 {
            assert!(
                err.contains("(04_emulate.rhai writes it"),
                "{script}: {err}"
            );
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{script} took {:?}",
            t0.elapsed()
        );
        assert!(
            !d.join("results/emulator").exists(),
            "{script} wrote results/emulator"
        );
    }
}
