//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// HDF5 locks a netCDF-4 file it writes (flock) on a descriptor opened without
/// close-on-exec, so a child process started by another thread while the file is being
/// written inherits the lock and keeps it for its whole life: a later reader of that file
/// gets "not a readable netCDF file" (found as a failure of 03 in tests/stages.rs, whose
/// observations were written while a parallel test started `clmtune run demo.rhai`). The
/// demo folders are written holding this lock's write side; children are started holding
/// its read side ([`OutputAlone`]).
pub static HDF5_WRITING: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// [`std::process::Command::output`], started while no demo folder is being written.
pub trait OutputAlone {
    /// Starts the command (stdout and stderr captured) under [`HDF5_WRITING`]'s read side,
    /// then waits for it.
    fn output_alone(&mut self) -> std::io::Result<std::process::Output>;
}

impl OutputAlone for std::process::Command {
    fn output_alone(&mut self) -> std::io::Result<std::process::Output> {
        let child = {
            let _r = HDF5_WRITING.read().unwrap_or_else(|e| e.into_inner());
            self.stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()?
        };
        child.wait_with_output()
    }
}

/// A small demo folder (observations of 2000-2001 only) for `demo_config()`, so that tests
/// never make the full demo folder in the user's cache.
pub fn demo_fixture() {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
        let _w = HDF5_WRITING.write().unwrap_or_else(|e| e.into_inner());
        clmtune::demo::setup::ensure(dir.path(), (2000, 2001)).unwrap();
        std::env::set_var("CLMTUNE_DEMO_DIR", dir.path());
    });
}

/// A real CLM/CTSM file of `tests/data/real` (see SOURCES.md there: they are fetched from
/// public repositories, not committed): looked for under `$CLMTUNE_REAL_DATA`, the crate's
/// `tests/data/real` and `../shared/data/real`. `None`, with a note on stderr, when it is
/// not present: the test that needs it then checks nothing and says so.
pub fn real_data(rel: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut places: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("CLMTUNE_REAL_DATA") {
        places.push(PathBuf::from(d));
    }
    places.push(root.join("tests/data/real"));
    places.push(root.join("../shared/data/real"));
    let found = places.iter().map(|p| p.join(rel)).find(|p| p.is_file());
    if found.is_none() {
        eprintln!("skipped: real data {rel} not present (see tests/data/real/SOURCES.md)");
    }
    found
}

/// An experiment folder with the demo spec and params file and a config of 1 analysed year
/// (year 2, after 1 year of spin-up) and `members` members; `backend` is the [backend] body.
pub fn experiment(dir: &Path, members: usize, backend: &str) -> PathBuf {
    clmtune::demo::write_default_params(&dir.join("clm5_params.demo.nc")).unwrap();
    std::fs::write(dir.join("parameters.toml"), clmtune::demo::setup::SPEC).unwrap();
    let cfg = clmtune::demo::setup::CONFIG
        .replace("years = [16, 20]", "years = [2, 2]")
        .replace("ppe_members = 100", &format!("ppe_members = {members}"));
    let cfg = cfg[..cfg.find("[backend]").unwrap()].to_string()
        + "[backend]\n"
        + backend
        + "\n\n[output]\ndir = \"results\"\n";
    let p = dir.join("config.toml");
    std::fs::write(&p, cfg).unwrap();
    p
}

/// The fake CIME of the tests (tests/fake_cime: small scripts that record their argv and
/// make what the real tools make; with `FAKE_RUN` set, a submitted case runs the demo model).
pub fn fake_cime() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake_cime")
}

/// A `[backend]` body for the fake CIME (no table header), its cases in `cases`.
pub fn cime_backend(cases: &Path) -> String {
    format!(
        "kind = \"cime\"\nctsm_root = \"{}\"\ncases_dir = \"{}\"\ncompset = \"I2000Clm50Sp\"\n\
         res = \"f45_f45\"\nproject = \"P0000\"\nmachine = \"derecho\"\nqueue = \"regular\"\n\
         wallclock = \"01:00:00\"\nstop_years = 2\ndatm_years = [2000, 2004]\npoll = 0.2",
        fake_cime().display(),
        cases.display()
    )
}

/// A config's text with its `[backend]` table replaced by `body` (the tables after it kept).
pub fn with_backend(config: &str, body: &str) -> String {
    let a = config.find("[backend]").expect("a [backend] table");
    let rest = &config[a + "[backend]".len()..];
    let b = rest
        .find("\n[")
        .map_or(config.len(), |i| a + "[backend]".len() + i + 1);
    format!("{}[backend]\n{body}\n\n{}", &config[..a], &config[b..])
}

/// Gives `c` the fake CIME's environment, its state in `state`: `CLMTUNE_BIN` for the
/// demo model and an active Python virtual environment (clmtune must run CIME's tools
/// without it). Set `FAKE_RUN` too for submitted cases to run.
pub fn fake_cime_env(c: &mut std::process::Command, state: &Path) {
    c.env("FAKE_CIME_STATE", state)
        .env("CLMTUNE_BIN", env!("CARGO_BIN_EXE_clmtune"))
        .env("VIRTUAL_ENV", state.join("venv"))
        .env(
            "PATH",
            format!(
                "{}:{}",
                state.join("venv/bin").display(),
                std::env::var("PATH").unwrap()
            ),
        );
}

/// A stage script of `scripts/` by file name.
pub fn stage_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

/// `clmtune run SCRIPT -- --config CFG ARGS` in `d`, with the fake CIME's environment (its
/// state in `d`; harmless for the local backend) and `FAKE_RUN` set: submitted cases run.
pub fn stage_command(d: &Path, script: &Path, cfg: &Path, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_clmtune"));
    c.current_dir(d)
        .arg("run")
        .arg(script)
        .arg("--")
        .arg("--config")
        .arg(cfg)
        .args(args);
    fake_cime_env(&mut c, d);
    c.env("FAKE_RUN", "1");
    c
}

/// Runs [`stage_command`] to its end, asserts it succeeded (showing its output if not) and
/// returns its standard output.
pub fn run_stage(d: &Path, script: &Path, cfg: &Path, args: &[&str]) -> String {
    let out = stage_command(d, script, cfg, args).output().unwrap();
    let so = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}:\n{so}\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    so
}

/// The small demo experiment of the stage tests in `d`: 10-member ensembles, one analysed
/// year after one spun up, observations of 2000-2001, 2 modes. Returns its config's path.
pub fn small_experiment(d: &Path) -> PathBuf {
    let cfg = {
        let _w = HDF5_WRITING.write().unwrap_or_else(|e| e.into_inner());
        clmtune::demo::setup::ensure(d, (2000, 2001)).unwrap()
    };
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("years = [16, 20]", "years = [2, 2]")
        .replace("ppe_members = 100", "ppe_members = 10")
        .replace("years = [2000, 2004]", "years = [2000, 2001]")
        .replace("sigma_years = [1982, 2008]", "sigma_years = [2000, 2001]")
        .replace("modes = 3", "modes = 2");
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// Waits (at most `timeout_s`) until the fake CIME in `state` has recorded `n` submissions,
/// then kills `child` with SIGKILL (no chance to clean up) and returns how many submissions
/// were recorded by then.
pub fn kill_after_submissions(
    mut child: std::process::Child,
    state: &Path,
    n: usize,
    timeout_s: u64,
) -> usize {
    let subs = state.join("submissions");
    let count = || {
        std::fs::read_to_string(&subs)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let t0 = std::time::Instant::now();
    while count() < n {
        assert!(t0.elapsed().as_secs() < timeout_s, "no submissions seen");
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the run ended ({status}) after {} of the {n} submissions awaited",
                count()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    count()
}

/// What a headless browser finds in a page: the images that did not load and the elements
/// wider than the window (outside the scrolling boxes, tables and `pre`).
#[derive(Debug)]
pub struct BrowserCheck {
    /// Images in the page.
    pub images: usize,
    /// The `src` of each image that did not load.
    pub broken: Vec<String>,
    /// Elements that reach beyond the window's width (tag and id).
    pub overflowing: Vec<String>,
}

/// Opens `html` in Debian's headless `chromium` (when installed; `None` otherwise), through
/// a copy beside it with a check script added, every image loaded eagerly, and reads what the
/// script found from the DOM chromium dumps after the page loaded.
pub fn browser_check(html: &Path) -> Option<BrowserCheck> {
    let exe = ["chromium", "chromium-browser"].into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })?;
    let text = std::fs::read_to_string(html).unwrap();
    let check = r#"<script>window.addEventListener('load', () => {
  const w = document.documentElement.clientWidth;
  const broken = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));
  const over = [...document.body.querySelectorAll('*')].filter(e => !e.parentElement.closest('.table, pre') && e.getBoundingClientRect().right > w + 1).map(e => e.tagName + (e.id ? '#' + e.id : ''));
  document.body.setAttribute('data-check', JSON.stringify({images: document.images.length, broken: broken, over: over}));
});</script>"#;
    let copy = html.with_file_name("report_browser_check.html");
    std::fs::write(
        &copy,
        text.replace(" loading=\"lazy\"", "")
            .replace("</body>", &format!("{check}\n</body>")),
    )
    .unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,2000",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", copy.display()))
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&copy);
    let dom = String::from_utf8_lossy(&out.stdout);
    let at = dom.find("data-check=\"").unwrap_or_else(|| {
        panic!(
            "chromium gave no check result:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let rest = &dom[at + "data-check=\"".len()..];
    let json = rest[..rest.find('"').unwrap()]
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let strings = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap_or_default().to_string())
            .collect()
    };
    Some(BrowserCheck {
        images: v["images"].as_u64().unwrap() as usize,
        broken: strings("broken"),
        overflowing: strings("over"),
    })
}

/// The first copy of the netCDF-4 file `good` with one byte of its first HDF5 global heap
/// ("GCOL") flipped, at offsets `from..64` into the heap, whose damage the check reports
/// with a verdict containing `verdict` ("crashes", "loops"); the copies are written beside
/// `good` and read only by the check's forked child: one the check passes may still read
/// past a buffer in the test process, which crashes or not by where the memory lies (a CI
/// run died of it). `None` when no byte there does it (the test needs a new damage).
pub fn heap_damage(good: &Path, from: usize, verdict: &str) -> Option<PathBuf> {
    let bytes = std::fs::read(good).unwrap();
    assert_eq!(&bytes[1..4], b"HDF", "{} is not netCDF-4", good.display());
    let heap = bytes
        .windows(4)
        .position(|w| w == b"GCOL")
        .expect("a netCDF-4 file with dimensions has a global heap");
    let dir = good.parent().unwrap();
    (heap + from..heap + 64).enumerate().find_map(|(k, off)| {
        let p = dir.join(format!("damaged{k}.nc"));
        let mut b = bytes.clone();
        b[off] ^= 0xff;
        std::fs::write(&p, &b).unwrap();
        clmtune::nc::check_files(&[&p]).unwrap();
        clmtune::nc::damage(&p)
            .is_some_and(|why| why.contains(verdict))
            .then_some(p)
    })
}
