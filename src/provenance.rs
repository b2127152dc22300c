//! `run.json`: what a run of a script did, merged into its results folder under one key per
//! script (its file stem, e.g. `03_eof`), as contract section 3 asks: the config (path and
//! text), clmtune's version and the commit it was built from, every script that ran (the
//! script and the modules it imported, each with the SHA-256 of its text and, where it lives
//! in a git repository, the commit and whether it had uncommitted changes), the seed, start
//! and end time, the wall time of each step, the files written, and fingerprints of the input
//! files.
//!
//! One process-wide recorder stack does it, so that stage scripts need no boilerplate:
//! `clmtune run` (and `run_script` for a script run by another) pushes a recorder;
//! reading a config ([`config_read`]), using one with its final `[output] dir`
//! ([`use_config`], from `experiment::config` and every function taking `cfg`), opening an
//! input file ([`input`], from [`crate::files::mark_input`]), writing a file ([`wrote`], from
//! [`crate::files::persist`]) and long native calls ([`step`]) record into the top
//! recorder; [`end`] pops it and merges its entry into `run.json` of every results folder
//! the run used (never in a dry run). Outside a run (the REPL, library use) every call is a
//! no-op.

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// clmtune's version (Cargo.toml).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit clmtune was built from (`git rev-parse HEAD` at build time), or `unknown`
/// when it was built outside a git checkout or without git.
pub const COMMIT: &str = env!("CLMTUNE_COMMIT");

/// The name of the provenance file in a results folder.
pub const RUN_JSON: &str = "run.json";

/// How deep scripts may run scripts (`run_script`) before it is refused as a runaway.
pub const MAX_DEPTH: usize = 8;

/// A folder holding more input files than this is fingerprinted as one entry (count, bytes,
/// newest modification, a hash of names, sizes and times) instead of file by file: an
/// archive's thousands of history files would otherwise be read again in full.
pub const GROUP_ABOVE: usize = 8;

/// Files larger than this are hashed over their first and last [`SAMPLE_BYTES`] only (the
/// entry says so).
pub const FULL_HASH_MAX: u64 = 256 << 20;
/// See [`FULL_HASH_MAX`].
pub const SAMPLE_BYTES: u64 = 16 << 20;

/// A named step of a run: how often it ran, its total wall time, and the files written
/// while it ran.
#[derive(Debug, Clone)]
struct StepRecord {
    name: String,
    calls: usize,
    seconds: f64,
    started: String,
    wrote: Vec<PathBuf>,
}

/// What one script run records.
#[derive(Debug)]
struct Recorder {
    key: String,
    script: PathBuf,
    identity: PathBuf,
    args: Vec<String>,
    started: String,
    t0: Instant,
    scripts: Vec<Value>,
    configs: Vec<(PathBuf, String)>,
    outputs: Vec<PathBuf>,
    seeds: BTreeMap<String, Value>,
    dry_run: bool,
    steps: Vec<StepRecord>,
    open: Vec<usize>,
    wrote: Vec<PathBuf>,
    inputs: Vec<PathBuf>,
    // the same inputs, to skip a repeat in O(1): an ensemble has thousands of them
    input_set: HashSet<PathBuf>,
    // by ensemble: the members used and dropped ([cases] failed = "drop")
    members: BTreeMap<String, Value>,
}

static STACK: Mutex<Vec<Recorder>> = Mutex::new(Vec::new());

fn with_top(f: impl FnOnce(&mut Recorder)) {
    if let Ok(mut s) = STACK.lock() {
        if let Some(r) = s.last_mut() {
            f(r);
        }
    }
}

/// The key of a script in `run.json`: its file stem (`scripts/03_eof.rhai` gives `03_eof`).
pub fn key_of(script: &Path) -> String {
    script
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| script.display().to_string())
}

/// How a script is told apart from another on the stack: its canonical path.
fn identity(script: &Path) -> PathBuf {
    script
        .canonicalize()
        .unwrap_or_else(|_| std::path::absolute(script).unwrap_or(script.to_path_buf()))
}

/// The bytes of a script to hash: a regular file of at most 64 MiB (the cap of
/// [`crate::files::read_text`]), else `None` (`/dev/zero` given as a script is refused by the
/// runner; its record must not read it first).
fn read_capped(path: &Path) -> Option<Vec<u8>> {
    let m = std::fs::metadata(path).ok()?;
    if !m.is_file() || m.len() > 64 << 20 {
        return None;
    }
    std::fs::read(path).ok()
}

/// Starts recording a run of `script` with its arguments. Refused (with a sentence for the
/// user) when `script` is already running in this process (a script running itself,
/// directly or through others) or when scripts are nested [`MAX_DEPTH`] deep.
pub fn begin(script: &Path, args: &[String]) -> std::result::Result<(), String> {
    crate::files::observe(|event, path| match event {
        crate::files::FileEvent::Read => input(path),
        crate::files::FileEvent::Wrote => wrote(path),
    });
    crate::progress::on_step(|name| Box::new(step(name)));
    let id = identity(script);
    let mut stack = STACK
        .lock()
        .map_err(|_| "the run record is unusable after an earlier failure".to_string())?;
    if stack.iter().any(|r| r.identity == id) {
        let chain: Vec<String> = stack
            .iter()
            .map(|r| r.script.display().to_string())
            .chain(std::iter::once(script.display().to_string()))
            .collect();
        return Err(format!(
            "{} is already running ({}): a script cannot run itself",
            script.display(),
            chain.join(" -> ")
        ));
    }
    if stack.len() >= MAX_DEPTH {
        return Err(format!(
            "{}: scripts run scripts {MAX_DEPTH} deep; refusing to go deeper",
            script.display()
        ));
    }
    let text = read_capped(script).unwrap_or_default();
    let entry = script_entry(&script.display().to_string(), &text, Some(script));
    stack.push(Recorder {
        key: key_of(script),
        script: script.to_path_buf(),
        identity: id,
        args: args.to_vec(),
        started: crate::files::now_utc(),
        t0: Instant::now(),
        scripts: vec![entry],
        configs: Vec::new(),
        outputs: Vec::new(),
        seeds: BTreeMap::new(),
        dry_run: false,
        steps: Vec::new(),
        open: Vec::new(),
        wrote: Vec::new(),
        inputs: Vec::new(),
        input_set: HashSet::new(),
        members: BTreeMap::new(),
    });
    Ok(())
}

/// How a finished run went, for the caller (a `run_script` step of the parent run).
#[derive(Debug, Clone)]
pub struct Finished {
    /// The run's key in `run.json`.
    pub key: String,
    /// Its wall time in seconds.
    pub seconds: f64,
    /// The `run.json` files it merged its entry into.
    pub written: Vec<PathBuf>,
}

/// Ends the run on top of the stack: `error` is the failure report if the script failed.
/// Its entry is merged into `run.json` of every results folder it used (none in a dry run,
/// none if it used no config). `None` if no run was being recorded.
pub fn end(error: Option<&str>) -> Option<Result<Finished>> {
    let rec = STACK.lock().ok()?.pop()?;
    let seconds = rec.t0.elapsed().as_secs_f64();
    let key = rec.key.clone();
    let mut written = Vec::new();
    if !rec.dry_run && !rec.outputs.is_empty() {
        let entry = entry_of(&rec, seconds, error);
        for dir in &rec.outputs {
            let p = dir.join(RUN_JSON);
            if let Err(e) = merge_entry(&p, &key, &entry) {
                return Some(Err(e));
            }
            written.push(p);
        }
    }
    Some(Ok(Finished {
        key,
        seconds,
        written,
    }))
}

/// Records a config file read as `text` from `path` (by the config's loader).
pub fn config_read(path: &Path, text: &str) {
    let path = std::path::absolute(path).unwrap_or(path.to_path_buf());
    with_top(|r| {
        if !r.configs.iter().any(|(p, _)| *p == path) {
            r.configs.push((path, text.to_string()));
        }
    });
}

/// Records the config a script uses with its final settings: the file it was read from
/// (`path`, empty for one made in a script), its `[output] dir` (a folder `run.json` is
/// written into) and its `[experiment] seed`; a dry run writes no `run.json`.
pub fn use_config(path: &Path, output_dir: &Path, seed: u64, dry_run: bool) {
    with_top(|r| {
        if dry_run {
            r.dry_run = true;
        }
        let dir = output_dir.to_path_buf();
        if !r.outputs.contains(&dir) {
            r.outputs.push(dir);
        }
        r.seeds.insert("experiment.seed".into(), json!(seed));
        let abs = std::path::absolute(path).unwrap_or(path.to_path_buf());
        if !path.as_os_str().is_empty() && !r.configs.iter().any(|(p, _)| *p == abs) {
            let text = std::fs::read_to_string(&abs).unwrap_or_default();
            r.configs.push((abs, text));
        }
    });
}

/// Records a module a script imported: its source name (a file, or `<stdlib>/NAME.rhai` for
/// one embedded in clmtune) and its text.
pub fn script_used(name: &str, text: &str) {
    with_top(|r| {
        if !r.scripts.iter().any(|s| s["path"] == name) {
            let file = (!name.starts_with('<')).then(|| Path::new(name));
            r.scripts.push(script_entry(name, text.as_bytes(), file));
        }
    });
}

/// Records the members of an ensemble that the run used, when some were dropped by
/// `[cases] failed = "drop"`: `run.json` then has `"members": {ENSEMBLE: value}` (the entry
/// has no `members` otherwise).
pub fn members(ensemble: &str, value: Value) {
    with_top(|r| {
        r.members.insert(ensemble.to_string(), value);
    });
}

/// Records an input file of the run (fingerprinted when the run ends).
pub fn input(path: &Path) {
    with_top(|r| {
        if r.input_set.insert(path.to_path_buf()) {
            r.inputs.push(path.to_path_buf());
        }
    });
}

/// Records a file the run wrote (to the innermost open step as well).
pub fn wrote(path: &Path) {
    with_top(|r| {
        r.wrote.push(path.to_path_buf());
        if let Some(&i) = r.open.last() {
            r.steps[i].wrote.push(path.to_path_buf());
        }
    });
}

/// A step being timed; its wall time is added to the step of its name when dropped.
#[must_use = "a step is timed until the guard is dropped"]
pub struct StepGuard {
    index: Option<(usize, usize)>,
    t0: Instant,
}

/// Starts timing a named step of the current run (e.g. `eof_stage`, `submit ppe`). Steps
/// of the same name add up (`calls`, `seconds`); steps may nest (reading an ensemble is
/// part of the stage that reads it).
pub fn step(name: &str) -> StepGuard {
    let mut index = None;
    if let Ok(mut s) = STACK.lock() {
        let depth = s.len();
        if let Some(r) = s.last_mut() {
            let i = match r.steps.iter().position(|x| x.name == name) {
                Some(i) => i,
                None => {
                    r.steps.push(StepRecord {
                        name: name.to_string(),
                        calls: 0,
                        seconds: 0.0,
                        started: crate::files::now_utc(),
                        wrote: Vec::new(),
                    });
                    r.steps.len() - 1
                }
            };
            r.steps[i].calls += 1;
            r.open.push(i);
            index = Some((depth, i));
        }
    }
    StepGuard {
        index,
        t0: Instant::now(),
    }
}

impl Drop for StepGuard {
    fn drop(&mut self) {
        let Some((depth, i)) = self.index else { return };
        let dt = self.t0.elapsed().as_secs_f64();
        if let Ok(mut s) = STACK.lock() {
            if s.len() == depth {
                if let Some(r) = s.last_mut() {
                    r.steps[i].seconds += dt;
                    if let Some(k) = r.open.iter().rposition(|&x| x == i) {
                        r.open.remove(k);
                    }
                }
            }
        }
    }
}

/// The entry of a script (or module) in `run.json`: where it is, the SHA-256 of its text,
/// and its git state.
fn script_entry(name: &str, text: &[u8], file: Option<&Path>) -> Value {
    let mut m = Map::new();
    m.insert("path".into(), json!(name));
    m.insert("sha256".into(), json!(sha256_hex(text)));
    match file {
        Some(f) => {
            m.insert("git".into(), git_state(f).unwrap_or(Value::Null));
        }
        None => {
            m.insert("embedded_in".into(), json!(format!("clmtune {COMMIT}")));
        }
    }
    Value::Object(m)
}

/// The git state of a file: the repository, its HEAD commit, whether the file is tracked and
/// whether it differs from the commit (modified, staged or untracked); `None` outside a git
/// repository or without git.
pub fn git_state(file: &Path) -> Option<Value> {
    let abs = std::path::absolute(file).ok()?;
    let dir = abs.parent()?;
    let git = |args: &[&str]| -> Option<std::process::Output> {
        crate::files::command("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
    };
    let top = git(&["rev-parse", "--show-toplevel"]).filter(|o| o.status.success())?;
    let repo = String::from_utf8_lossy(&top.stdout).trim().to_string();
    let commit = git(&["rev-parse", "HEAD"])
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let name = abs.file_name()?.to_string_lossy().into_owned();
    let tracked =
        git(&["ls-files", "--error-unmatch", "--", &name]).is_some_and(|o| o.status.success());
    let status = git(&["status", "--porcelain", "--", &name])
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    Some(json!({
        "repository": repo,
        "commit": commit,
        "tracked": tracked,
        "uncommitted_changes": status.map(|s| !s.is_empty()),
    }))
}

/// The whole entry of a finished run.
fn entry_of(r: &Recorder, seconds: f64, error: Option<&str>) -> Value {
    let configs: Vec<Value> = r
        .configs
        .iter()
        .map(|(p, text)| {
            json!({
                "path": p.display().to_string(),
                "sha256": sha256_hex(text.as_bytes()),
                "text": text,
            })
        })
        .collect();
    let steps: Vec<Value> = r
        .steps
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "calls": s.calls,
                "started": s.started,
                "seconds": round_ms(s.seconds),
                "wrote": folders_of(&s.wrote),
            })
        })
        .collect();
    let status = if error.is_some() { "failed" } else { "ok" };
    let folder = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let mut entry = json!({
        "script": r.script.display().to_string(),
        "arguments": r.args,
        "status": status,
        "error": error,
        "clmtune": {"version": VERSION, "commit": COMMIT},
        "scripts": r.scripts,
        "config": configs,
        "seeds": r.seeds,
        "started": r.started,
        "ended": crate::files::now_utc(),
        "seconds": round_ms(seconds),
        "folder": folder,
        "steps": steps,
        "wrote": written_list(&r.wrote),
        "inputs": fingerprints(&r.inputs),
    });
    if !r.members.is_empty() {
        entry["members"] = json!(r.members);
    }
    entry
}

fn round_ms(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

/// The distinct folders of some files, in order of first appearance.
fn folders_of(files: &[PathBuf]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in files {
        let d = f
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// The files a run wrote, in order: each path, except that a folder where more than
/// [`GROUP_ABOVE`] files were written (an archive of history files) is one
/// `{folder, files}` entry where its first file was.
fn written_list(files: &[PathBuf]) -> Vec<Value> {
    let mut count: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for f in files {
        *count
            .entry(f.parent().map(Path::to_path_buf).unwrap_or_default())
            .or_default() += 1;
    }
    let mut out = Vec::new();
    let mut seen: HashSet<&Path> = HashSet::new();
    for f in files {
        let d = f.parent().unwrap_or(Path::new(""));
        if count[d] > GROUP_ABOVE {
            if seen.insert(d) {
                out.push(json!({"folder": d.display().to_string(), "files": count[d]}));
            }
        } else if seen.insert(f.as_path()) {
            out.push(json!(f.display().to_string()));
        }
    }
    out
}

/// Fingerprints of input files: one entry per file (bytes, modification time, content
/// hash), except that a folder with more than [`GROUP_ABOVE`] inputs is one entry
/// ([`folder_fingerprint`]).
pub fn fingerprints(inputs: &[PathBuf]) -> Vec<Value> {
    let mut by_dir: BTreeMap<PathBuf, Vec<&PathBuf>> = BTreeMap::new();
    let mut order: Vec<PathBuf> = Vec::new();
    for p in inputs {
        let d = p.parent().map(Path::to_path_buf).unwrap_or_default();
        let files = by_dir.entry(d.clone()).or_default();
        if files.is_empty() {
            order.push(d);
        }
        files.push(p);
    }
    let mut out = Vec::new();
    for d in order {
        let files = &by_dir[&d];
        if files.len() > GROUP_ABOVE {
            out.push(folder_fingerprint(&d, files.len()));
        } else {
            out.extend(files.iter().map(|p| file_fingerprint(p)));
        }
    }
    out
}

fn mtime_of(m: &std::fs::Metadata) -> Option<(i64, u32)> {
    let t = m.modified().ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some((d.as_secs() as i64, d.subsec_nanos()))
}

fn utc_of(t: Option<(i64, u32)>) -> Value {
    match t {
        Some((s, _)) => json!(crate::calendar::utc_stamp(s)),
        None => Value::Null,
    }
}

/// One file's fingerprint: `{path, bytes, modified, hash}` (`hash` = [`fast_hash`] of the
/// content, `hash_of` says when only the first and last [`SAMPLE_BYTES`] were hashed);
/// a file that is gone is `{path, missing: true}`.
pub fn file_fingerprint(p: &Path) -> Value {
    let Ok(meta) = std::fs::metadata(p) else {
        return json!({"path": p.display().to_string(), "missing": true});
    };
    if !meta.is_file() {
        // a device or FIFO is never read (it might not end)
        return json!({"path": p.display().to_string(), "not_a_file": true});
    }
    let bytes = meta.len();
    let mut v = json!({
        "path": p.display().to_string(),
        "bytes": bytes,
        "modified": utc_of(mtime_of(&meta)),
    });
    match hash_file(p, bytes) {
        Ok(h) => {
            v["hash"] = json!(format!("{h:016x}"));
            if bytes > FULL_HASH_MAX {
                v["hash_of"] = json!(format!("the first and last {} MiB", SAMPLE_BYTES >> 20));
            }
        }
        Err(e) => v["hash"] = json!(format!("unreadable: {e}")),
    }
    v
}

fn hash_file(p: &Path, bytes: u64) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(p)?;
    let mut h = FastHash::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut feed = |f: &mut std::fs::File, mut n: u64, h: &mut FastHash| -> std::io::Result<()> {
        while n > 0 {
            let k = f.read(&mut buf[..n.min(1 << 20) as usize])?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            n -= k as u64;
        }
        Ok(())
    };
    if bytes > FULL_HASH_MAX {
        feed(&mut f, SAMPLE_BYTES, &mut h)?;
        f.seek(SeekFrom::Start(bytes - SAMPLE_BYTES))?;
        feed(&mut f, SAMPLE_BYTES, &mut h)?;
    } else {
        feed(&mut f, u64::MAX, &mut h)?;
    }
    Ok(h.finish())
}

/// A file of a folder fingerprint: name, size, modification time (s, ns).
type FileRow = (String, u64, Option<(i64, u32)>);

/// A folder's fingerprint: `{folder, files, read, bytes, newest, hash}` over every regular
/// file in the folder (not only the `read` ones this run read: a check later lists the
/// folder again), `hash` = [`fast_hash`] of every file's `name size mtime_s.mtime_ns` line in
/// name order (a change of any file's size or time, or of the set of files, changes it; the
/// contents are not read).
pub fn folder_fingerprint(dir: &Path, read: usize) -> Value {
    let mut rows: Vec<FileRow> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .filter_map(|e| {
                    let m = e.metadata().ok().filter(|m| m.is_file())?;
                    Some((
                        e.file_name().to_string_lossy().into_owned(),
                        m.len(),
                        mtime_of(&m),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    rows.sort();
    let mut text = String::new();
    for (n, b, t) in &rows {
        let (s, ns) = t.unwrap_or((0, 0));
        text.push_str(&format!("{n} {b} {s}.{ns:09}\n"));
    }
    json!({
        "folder": dir.display().to_string(),
        "files": rows.len(),
        "read": read,
        "bytes": rows.iter().map(|r| r.1).sum::<u64>(),
        "newest": utc_of(rows.iter().filter_map(|r| r.2).max()),
        "hash": format!("{:016x}", fast_hash(text.as_bytes())),
    })
}

/// Why `script` run with `args` must run again for the results folder `dir`, or `None` if
/// its last run recorded in `dir/run.json` may be reused: that run succeeded, with the same
/// arguments, the same clmtune build, scripts and config texts of the same SHA-256, every
/// input fingerprint as recorded, and every file it wrote still there.
pub fn rerun_reason(dir: &Path, script: &Path, args: &[String]) -> Option<String> {
    let path = dir.join(RUN_JSON);
    let key = key_of(script);
    let all: Value = match std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
    {
        Some(v) => v,
        None => return Some(format!("no earlier run recorded in {}", path.display())),
    };
    let Some(e) = all.get(&key) else {
        return Some(format!("no earlier run of {key} in {}", path.display()));
    };
    if e["status"] != "ok" {
        return Some("its last run failed".into());
    }
    if e["arguments"] != json!(args) {
        return Some(format!(
            "its last run had other options ({})",
            e["arguments"]
        ));
    }
    if e["clmtune"]["commit"] != COMMIT || e["clmtune"]["version"] != VERSION {
        return Some(format!(
            "clmtune changed (it ran with {} {}, this is {VERSION} {COMMIT})",
            e["clmtune"]["version"], e["clmtune"]["commit"]
        ));
    }
    let sha_now = |p: &str| -> Option<String> {
        if let Some(stem) = p
            .strip_prefix("<stdlib>/")
            .and_then(|n| n.strip_suffix(".rhai"))
        {
            let text = crate::stdlib::STDLIB.iter().find(|(n, _)| *n == stem)?.1;
            return Some(sha256_hex(text.as_bytes()));
        }
        read_capped(Path::new(p)).map(|b| sha256_hex(&b))
    };
    let scripts = e["scripts"].as_array().cloned().unwrap_or_default();
    for (i, s) in scripts.iter().enumerate() {
        let now = if i == 0 {
            read_capped(script).map(|b| sha256_hex(&b))
        } else {
            sha_now(s["path"].as_str().unwrap_or_default())
        };
        if now.as_deref() != s["sha256"].as_str() {
            return Some(format!(
                "{} changed",
                s["path"].as_str().unwrap_or("a script")
            ));
        }
    }
    for c in e["config"].as_array().cloned().unwrap_or_default() {
        let p = c["path"].as_str().unwrap_or_default();
        if sha_now(p).as_deref() != c["sha256"].as_str() {
            return Some(format!("config {p} changed"));
        }
    }
    for f in e["inputs"].as_array().cloned().unwrap_or_default() {
        if let Some(folder) = f["folder"].as_str() {
            let now = folder_fingerprint(Path::new(folder), 0);
            if now["hash"] != f["hash"] {
                return Some(format!("input folder {folder} changed"));
            }
        } else if let Some(p) = f["path"].as_str() {
            let now = file_fingerprint(Path::new(p));
            if now["bytes"] != f["bytes"] || now["hash"] != f["hash"] {
                return Some(format!("input {p} changed"));
            }
        }
    }
    for w in e["wrote"].as_array().cloned().unwrap_or_default() {
        let p = w.as_str().or(w["folder"].as_str()).unwrap_or_default();
        if !Path::new(p).exists() {
            return Some(format!("{p}, which it wrote, is gone"));
        }
    }
    None
}

/// Merges `entry` under `key` into the JSON object in `path` (made if missing; a file that
/// is not a JSON object is replaced), under a lock so that two runs finishing at once keep
/// both entries, and written atomically.
pub fn merge_entry(path: &Path, key: &str, entry: &Value) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    crate::files::create_dir(dir)?;
    let lock_path = dir.join(".run.json.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("cannot lock {}", lock_path.display()))?;
    let mut all = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    all.insert(key.to_string(), entry.clone());
    let r = crate::files::write_json(path, &Value::Object(all));
    drop(lock);
    r
}

/// A fast 64-bit hash for fingerprints (not for security): FNV-1a over 8-byte little-endian
/// words (the last word zero-padded), then the length in bytes as a final word.
pub fn fast_hash(bytes: &[u8]) -> u64 {
    let mut h = FastHash::new();
    h.update(bytes);
    h.finish()
}

/// [`fast_hash`] fed in pieces.
struct FastHash {
    h: u64,
    len: u64,
    tail: [u8; 8],
    ntail: usize,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl FastHash {
    fn new() -> FastHash {
        FastHash {
            h: FNV_OFFSET,
            len: 0,
            tail: [0; 8],
            ntail: 0,
        }
    }

    fn word(&mut self, w: u64) {
        self.h = (self.h ^ w).wrapping_mul(FNV_PRIME);
    }

    fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if self.ntail > 0 {
            let k = (8 - self.ntail).min(bytes.len());
            self.tail[self.ntail..self.ntail + k].copy_from_slice(&bytes[..k]);
            self.ntail += k;
            bytes = &bytes[k..];
            if self.ntail < 8 {
                return;
            }
            let w = u64::from_le_bytes(self.tail);
            self.word(w);
            self.ntail = 0;
        }
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.word(w);
        }
        let rest = chunks.remainder();
        self.tail[..rest.len()].copy_from_slice(rest);
        self.ntail = rest.len();
    }

    fn finish(mut self) -> u64 {
        if self.ntail > 0 {
            let mut t = [0u8; 8];
            t[..self.ntail].copy_from_slice(&self.tail[..self.ntail]);
            self.word(u64::from_le_bytes(t));
        }
        let n = self.len;
        self.word(n);
        self.h
    }
}

/// The SHA-256 digest of `bytes` as 64 lowercase hex digits (in [`crate::hash`]).
pub use crate::hash::sha256_hex;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_hash_is_fnv1a_over_words_and_piecewise_equal() {
        // by hand: one word "abc" zero-padded = 0x636261, then the length 3
        let w = 0x0063_6261_u64;
        let h = (FNV_OFFSET ^ w).wrapping_mul(FNV_PRIME);
        let h = (h ^ 3).wrapping_mul(FNV_PRIME);
        assert_eq!(fast_hash(b"abc"), h);
        // fed in odd pieces, the same as at once
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut f = FastHash::new();
        for c in data.chunks(13) {
            f.update(c);
        }
        assert_eq!(f.finish(), fast_hash(&data));
        // the length counts: trailing zero bytes change the hash
        assert_ne!(fast_hash(b"abc"), fast_hash(b"abc\0"));
    }

    #[test]
    fn fingerprints_list_files_and_group_big_folders() {
        let d = tempfile::tempdir().unwrap();
        let one = d.path().join("one.txt");
        std::fs::write(&one, b"abc").unwrap();
        let many = d.path().join("hist");
        std::fs::create_dir(&many).unwrap();
        let mut inputs = vec![one.clone()];
        for i in 0..=GROUP_ABOVE {
            let p = many.join(format!("f{i:02}.nc"));
            std::fs::write(&p, vec![0u8; i]).unwrap();
            inputs.push(p);
        }
        let f = fingerprints(&inputs);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0]["bytes"], 3);
        assert_eq!(f[0]["hash"], format!("{:016x}", fast_hash(b"abc")));
        assert_eq!(f[1]["files"], GROUP_ABOVE + 1);
        assert_eq!(f[1]["read"], GROUP_ABOVE + 1);
        // 0 + 1 + ... + 8 bytes
        assert_eq!(f[1]["bytes"], (0..=GROUP_ABOVE).sum::<usize>());
        let before = f[1]["hash"].clone();
        std::fs::write(many.join("f03.nc"), b"longer than before").unwrap();
        assert_ne!(fingerprints(&inputs)[1]["hash"], before);
        let gone = fingerprints(&[d.path().join("nothing")]);
        assert_eq!(gone[0]["missing"], true);
    }

    #[test]
    fn merging_keeps_other_keys_and_replaces_its_own() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("results/run.json");
        merge_entry(&p, "01_a", &json!({"n": 1})).unwrap();
        merge_entry(&p, "02_b", &json!({"n": 2})).unwrap();
        merge_entry(&p, "01_a", &json!({"n": 3})).unwrap();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(v, json!({"01_a": {"n": 3}, "02_b": {"n": 2}}));
        // a damaged file is replaced, not an error
        std::fs::write(&p, "not json").unwrap();
        merge_entry(&p, "03_c", &json!(1)).unwrap();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(v, json!({"03_c": 1}));
    }

    #[test]
    fn keys_are_script_stems() {
        assert_eq!(key_of(Path::new("scripts/03_eof.rhai")), "03_eof");
        assert_eq!(key_of(Path::new("/x/demo.rhai")), "demo");
    }
}
