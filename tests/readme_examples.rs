//! Every example in README.md and the user guide (docs/guide/src/**/*.md) comes from a run:
//!
//! - a ```rhai block runs with the doc examples' environment (`TEMP_DIR` holds the fixture
//!   files of tests/common/doc_fixture.rs) and its `EXPR //=> TEXT` lines check what EXPR
//!   prints; ```rhai,no_run (guide only) must compile;
//! - a ```text block is the output of the command named by the HTML comment before it
//!   (`<!-- output of: clmtune ... -->`), run with the built binary in a fresh folder and
//!   compared exactly (a `$ ...` first line is the command itself), or a REPL transcript
//!   (`clm> INPUT` lines, then what clmtune printed) replayed in one session, or (guide
//!   only) ```text,measured: a dated measurement whose paragraph names its date;
//! - a ```toml block loads as an experiment config or a parameter spec through clmtune's
//!   own parsers; ```toml,fragment must at least be TOML;
//! - every relative link resolves, SUMMARY.md lists every guide page, the README stays a
//!   front door (under 300 lines) and no heading cites an issue.

mod common;
#[path = "common/doc_fixture.rs"]
mod doc_fixture;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One fenced block of a Markdown file.
#[derive(Debug, Clone)]
struct Block {
    /// The file, relative to the crate.
    file: String,
    /// The line of the opening fence (1-based).
    line: usize,
    /// The fence's info string (`rhai`, `text,measured`, ...).
    info: String,
    /// The lines between the fences, the fence's indentation removed.
    body: Vec<String>,
    /// The text between the previous block or heading and this one.
    before: Vec<String>,
}

impl Block {
    fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    fn text(&self) -> String {
        self.body.join("\n") + "\n"
    }

    /// The command of an `<!-- output of: CMD -->` comment right before the block.
    fn output_of(&self) -> Option<String> {
        let last = self.before.iter().rev().find(|l| !l.trim().is_empty())?;
        let c = last.trim().strip_prefix("<!-- output of:")?;
        Some(c.strip_suffix("-->")?.trim().to_string())
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, then every page of the guide (sorted), as (path relative to the crate, text).
fn documents() -> Vec<(String, String)> {
    let mut files = vec![root().join("README.md")];
    let mut stack = vec![root().join("docs/guide/src")];
    let mut guide = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                guide.push(p);
            }
        }
    }
    guide.sort();
    files.extend(guide);
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root()).unwrap().display().to_string();
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

fn is_guide(file: &str) -> bool {
    file.starts_with("docs/guide/")
}

/// The fenced blocks of a document, and its headings (line, text) outside blocks.
fn parse(file: &str, text: &str) -> (Vec<Block>, Vec<(usize, String)>) {
    let mut blocks = Vec::new();
    let mut headings = Vec::new();
    let mut before: Vec<String> = Vec::new();
    let mut open: Option<(Block, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            Some((b, ind)) => {
                if trimmed.starts_with("```") {
                    blocks.push(b.clone());
                    open = None;
                    before.clear();
                } else {
                    let l = if line.len() >= *ind && line[..*ind].trim().is_empty() {
                        &line[*ind..]
                    } else {
                        trimmed
                    };
                    b.body.push(l.to_string());
                }
            }
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some((
                        Block {
                            file: file.to_string(),
                            line: i + 1,
                            info: info.trim().to_string(),
                            body: Vec::new(),
                            before: before.clone(),
                        },
                        indent,
                    ));
                } else if line.starts_with('#') {
                    headings.push((i + 1, line.to_string()));
                    before.clear();
                } else {
                    before.push(line.to_string());
                }
            }
        }
    }
    assert!(open.is_none(), "{file}: a code block is never closed");
    (blocks, headings)
}

fn all_blocks() -> Vec<Block> {
    documents()
        .iter()
        .flat_map(|(f, t)| parse(f, t).0)
        .collect()
}

/// A fresh working folder with a copy of `scripts/` and `tests/scripts/`, as in a clone.
fn work_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["scripts", "tests/scripts"] {
        let to = dir.path().join(sub);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(root().join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    dir
}

/// Runs clmtune in `dir` with `stdin`, standard output and error into one file (so that
/// they interleave as on a terminal); returns what was written.
fn run_clmtune(args: &[String], dir: &Path, stdin: Option<&str>) -> String {
    let log = dir.join(".clmtune-output");
    let out = std::fs::File::create(&log).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_clmtune"));
    c.args(args)
        .current_dir(dir)
        .env("CLMTUNE_HISTORY", dir.join(".history"))
        .env("CLMTUNE_CACHE_DIR", "off")
        .env("NO_COLOR", "1");
    match stdin {
        Some(input) => {
            let input_file = dir.join(".clmtune-input");
            std::fs::write(&input_file, input).unwrap();
            let child = {
                let _r = common::HDF5_WRITING
                    .read()
                    .unwrap_or_else(|e| e.into_inner());
                c.stdin(std::fs::File::open(&input_file).unwrap())
                    .stdout(out.try_clone().unwrap())
                    .stderr(out)
                    .spawn()
                    .unwrap()
            };
            child.wait_with_output().unwrap();
        }
        None => {
            let child = {
                let _r = common::HDF5_WRITING
                    .read()
                    .unwrap_or_else(|e| e.into_inner());
                c.stdin(Stdio::null())
                    .stdout(out.try_clone().unwrap())
                    .stderr(out)
                    .spawn()
                    .unwrap()
            };
            child.wait_with_output().unwrap();
        }
    }
    std::fs::read_to_string(&log).unwrap()
}

/// The arguments of a documented command line: `clmtune` (or a path ending in
/// `/clmtune`) first, then words separated by spaces.
fn clmtune_args(command: &str) -> Result<Vec<String>, String> {
    let mut words = command.split_whitespace();
    match words.next() {
        Some(w) if w == "clmtune" || w.ends_with("/clmtune") => {
            Ok(words.map(str::to_string).collect())
        }
        _ => Err(format!("'{command}' is not a clmtune command")),
    }
}

fn diff(want: &str, got: &str) -> String {
    format!("--- the document says ---\n{want}--- clmtune printed ---\n{got}")
}

/// Checks a ```text block that shows a command's output.
fn check_output(b: &Block, command: &str) -> Result<(), String> {
    let mut want = b.body.clone();
    if let Some(first) = want.first() {
        if let Some(typed) = first.strip_prefix("$ ") {
            if clmtune_args(typed)? != clmtune_args(command)? {
                return Err(format!(
                    "{}: the block's command '{typed}' is not the comment's '{command}'",
                    b.at()
                ));
            }
            want.remove(0);
        }
    }
    let want = want.join("\n") + "\n";
    let dir = work_dir();
    let got = run_clmtune(&clmtune_args(command)?, dir.path(), None);
    if got != want {
        return Err(format!(
            "{}: output of {command}\n{}",
            b.at(),
            diff(&want, &got)
        ));
    }
    Ok(())
}

/// Checks a REPL transcript: the `clm> ` inputs are fed to one session in order; what it
/// prints must be the other lines.
fn check_repl(b: &Block) -> Result<(), String> {
    let mut input = String::new();
    let mut want = String::new();
    for l in &b.body {
        match l.strip_prefix("clm> ") {
            Some(i) => {
                input.push_str(i);
                input.push('\n');
            }
            None => {
                want.push_str(l);
                want.push('\n');
            }
        }
    }
    let dir = work_dir();
    let mut got = run_clmtune(&[], dir.path(), Some(&input));
    // piped input ends with a count of the inputs that failed (the exit status's reason)
    if let Some(i) = got.trim_end().rfind('\n').map(|i| i + 1).or(Some(0)) {
        let last = got[i..].trim_end();
        if last.starts_with("error: ") && last.ends_with(" input(s) failed") {
            got.truncate(i);
        }
    }
    if got != want {
        return Err(format!("{}: REPL session\n{}", b.at(), diff(&want, &got)));
    }
    Ok(())
}

/// Whether a paragraph names a date: `6 December 2026`, `7 Dec 2026`, `1-2 December`,
/// `2026-12-07`.
fn names_a_date(text: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    let day = |w: &str| {
        w.split('-')
            .all(|d| !d.is_empty() && d.len() <= 2 && d.chars().all(|c| c.is_ascii_digit()))
    };
    let iso = words.iter().any(|w| {
        let p: Vec<&str> = w.trim_end_matches(['.', ':', ';']).split('-').collect();
        p.len() == 3 && p[0].len() == 4 && p.iter().all(|x| x.chars().all(|c| c.is_ascii_digit()))
    });
    iso || words
        .windows(2)
        .any(|w| day(w[0]) && MONTHS.iter().any(|m| w[1].starts_with(m)))
}

#[test]
fn rhai_blocks_run_and_print_what_they_say() {
    common::demo_fixture();
    let engine = clmtune::script::engine();
    let dir = tempfile::tempdir().unwrap();
    doc_fixture::write_all(dir.path());
    let temp = dir.path().display().to_string();
    let mut failures = Vec::new();
    let (mut ran, mut compiled) = (0, 0);
    for b in all_blocks() {
        match b.info.as_str() {
            "rhai" => {
                ran += 1;
                let ex = clmtune::script::doc::Example {
                    owner: b.at(),
                    code: b.text(),
                };
                if let Err(e) = clmtune::script::doc::run_example(&engine, &ex, &temp) {
                    failures.push(e);
                }
            }
            "rhai,no_run" => {
                compiled += 1;
                if !is_guide(&b.file) {
                    failures.push(format!(
                        "{}: rhai,no_run is not allowed in the README: every example there runs",
                        b.at()
                    ));
                }
                if let Err(e) = engine.compile(b.text()) {
                    failures.push(format!("{}: does not compile: {e}", b.at()));
                }
            }
            _ => {}
        }
    }
    assert!(ran >= 4, "only {ran} rhai blocks run");
    eprintln!("{ran} rhai blocks run, {compiled} compiled (no_run)");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn text_blocks_are_command_output_repl_sessions_or_dated_measurements() {
    common::demo_fixture();
    let mut failures = Vec::new();
    let (mut outputs, mut sessions, mut measured) = (0, 0, 0);
    for b in all_blocks() {
        let result = match b.info.as_str() {
            "text" => {
                if let Some(cmd) = b.output_of() {
                    outputs += 1;
                    check_output(&b, &cmd)
                } else if b.body.first().is_some_and(|l| l.starts_with("clm> ")) {
                    sessions += 1;
                    check_repl(&b)
                } else {
                    Err(format!(
                        "{}: a text block must be a command's output (an `<!-- output of: \
                         clmtune ... -->` comment before it), a REPL session (`clm> ` inputs) \
                         or, in the guide, a dated ```text,measured block",
                        b.at()
                    ))
                }
            }
            "text,measured" => {
                measured += 1;
                if !is_guide(&b.file) {
                    Err(format!(
                        "{}: a measured block belongs in the guide, not the README",
                        b.at()
                    ))
                } else if !names_a_date(&b.before.join("\n")) {
                    Err(format!(
                        "{}: a measured block's paragraph must say when it was measured",
                        b.at()
                    ))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            failures.push(e);
        }
    }
    assert!(
        outputs >= 1 && sessions >= 1,
        "{outputs} outputs, {sessions} sessions"
    );
    eprintln!("{outputs} command outputs and {sessions} REPL sessions checked, {measured} dated measurements");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn toml_blocks_load_through_clmtune() {
    let mut failures = Vec::new();
    let (mut configs, mut specs, mut fragments) = (0, 0, 0);
    let dir = tempfile::tempdir().unwrap();
    for b in all_blocks() {
        let text = b.text();
        let path = dir.path().join("doc.toml");
        let result = match b.info.as_str() {
            "toml" if text.contains("[experiment]") => {
                configs += 1;
                clmtune::config::Config::parse(&text, &path)
                    .map(|_| ())
                    .map_err(|e| format!("{e:#}"))
            }
            "toml" if text.contains("[[parameter]]") => {
                specs += 1;
                clmtune::ensemble::Spec::parse_text(&text, &path)
                    .map(|_| ())
                    .map_err(|e| format!("{e:#}"))
            }
            "toml" => Err(
                "neither a config ([experiment]) nor a parameter spec ([[parameter]]): mark a \
                 fragment ```toml,fragment"
                    .to_string(),
            ),
            "toml,fragment" => {
                fragments += 1;
                text.parse::<toml::Table>()
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            failures.push(format!("{}: {e}", b.at()));
        }
    }
    assert!(configs >= 1, "no experiment config among the examples");
    eprintln!("{configs} configs, {specs} parameter specs, {fragments} fragments");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_block_says_what_it_is() {
    let known = [
        "rhai",
        "rhai,no_run",
        "text",
        "text,measured",
        "toml",
        "toml,fragment",
        "sh",
    ];
    let unknown: Vec<String> = all_blocks()
        .iter()
        .filter(|b| !known.contains(&b.info.as_str()))
        .map(|b| format!("{}: ```{}", b.at(), b.info))
        .collect();
    assert!(
        unknown.is_empty(),
        "blocks of no known kind ({known:?}):\n{}",
        unknown.join("\n")
    );
}

/// The targets of `[text](target)` and `![alt](target)` links.
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
        }
        if fence {
            continue;
        }
        let mut rest = line;
        while let Some(p) = rest.find("](") {
            let after = &rest[p + 2..];
            match after.find(')') {
                Some(end) => {
                    out.push((i + 1, after[..end].to_string()));
                    rest = &after[end..];
                }
                None => break,
            }
        }
    }
    out
}

#[test]
fn relative_links_resolve_and_the_summary_lists_every_page() {
    let docs = documents();
    let mut broken = Vec::new();
    let mut checked = 0;
    for (file, text) in &docs {
        let base = root().join(file).parent().unwrap().to_path_buf();
        for (line, target) in link_targets(text) {
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let path = target.split('#').next().unwrap();
            if !base.join(path).exists() {
                broken.push(format!("{file}:{line}: {target}"));
            }
        }
    }
    assert!(checked > 20, "only {checked} links");
    assert!(
        broken.is_empty(),
        "links to nothing:\n{}",
        broken.join("\n")
    );

    let summary = std::fs::read_to_string(root().join("docs/guide/src/SUMMARY.md")).unwrap();
    let listed: Vec<String> = link_targets(&summary).into_iter().map(|(_, t)| t).collect();
    let missing: Vec<&String> = docs
        .iter()
        .map(|(f, _)| f)
        .filter(|f| is_guide(f) && !f.ends_with("SUMMARY.md"))
        .filter(|f| {
            let page = f.trim_start_matches("docs/guide/src/").to_string();
            !listed.contains(&page)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "pages SUMMARY.md does not list: {missing:?}"
    );
    assert!(root().join("docs/guide/book.toml").is_file());
}

/// Whether a heading cites an issue: "(issue 27)", "issue 30's", "Issue #31".
fn cites_an_issue(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.match_indices("issue").any(|(i, _)| {
        let rest = lower[i + 5..].trim_start_matches(['s', ' ', '#']);
        rest.starts_with(|c: char| c.is_ascii_digit())
    })
}

#[test]
fn the_readme_is_a_front_door_and_no_heading_cites_an_issue() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines < 300,
        "README.md has {lines} lines (a front door has under 300)"
    );
    for (file, text) in documents() {
        let (blocks, headings) = parse(&file, &text);
        for (line, h) in &headings {
            assert!(
                !cites_an_issue(h),
                "{file}:{line}: a heading cites an issue: {h}"
            );
            assert!(
                !h.starts_with("## module "),
                "{file}:{line}: a stray module heading: {h}"
            );
        }
        if file == "README.md" {
            for b in blocks {
                assert!(
                    !b.info.contains("no_run") && !b.info.contains("measured"),
                    "{}: the README's examples all run ({})",
                    b.at(),
                    b.info
                );
            }
        }
    }
}

#[test]
fn the_checks_themselves_can_fail() {
    assert!(cites_an_issue("### Scale rows (issue 30)"));
    assert!(cites_an_issue("## Kalman rows (Issue #31)"));
    assert!(!cites_an_issue("## Issues with partial months"));
    assert!(names_a_date("Measured on 7 December 2026, 10:09 UTC"));
    assert!(names_a_date("the recorded ones of 1-2 December"));
    assert!(names_a_date("(make demo, 7 Dec 2026, 2 cores)"));
    assert!(!names_a_date("release build, 2 cores, load 4.5"));
    let (blocks, headings) = parse(
        "x.md",
        "# T\n\n<!-- output of: clmtune run a.rhai -->\n```text\n$ clmtune run a.rhai\nhi\n```\n  ```rhai,no_run\n  let a = 1;\n  ```\n",
    );
    assert_eq!(headings.len(), 1);
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].output_of().as_deref(), Some("clmtune run a.rhai"));
    assert_eq!(blocks[1].body, vec!["let a = 1;".to_string()]);
    assert_eq!(
        clmtune_args("./target/release/clmtune run x.rhai -- --out r").unwrap(),
        ["run", "x.rhai", "--", "--out", "r"]
    );
    assert!(clmtune_args("python3 x.py").is_err());
    assert_eq!(
        link_targets("see [a](b.md) and ![c](../d.png)\n```\n[x](y)\n```\n"),
        [(1, "b.md".to_string()), (1, "../d.png".to_string())]
    );
}
