//! Backends behind one interface: `cime` (CLM5 cases through CIME's tools), `local` (a model
//! run in this process in each case folder, N at a time: the demo model, supplied as a
//! [`LocalModel`] by the code that builds the ensemble) and `none` (existing output only:
//! nothing is made or submitted; a missing case is an error).

use super::registry::Record;
use super::runner::Runner;
use super::{Ensemble, Member, Settings};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `[backend]` of the experiment config: how runs are made (`config::Backend`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// `local` (the demo model), `cime` (CLM5 through CIME) or `none` (existing output only).
    pub kind: String,
    /// Members run at once (local).
    #[serde(default = "default_parallel")]
    pub parallel: usize,
    /// CTSM checkout for create_newcase.
    pub ctsm_root: Option<PathBuf>,
    /// A built case to clone with --keepexe.
    pub base_case: Option<PathBuf>,
    /// Where case folders are made.
    pub cases_dir: Option<PathBuf>,
    /// CIME compset.
    pub compset: Option<String>,
    /// CIME resolution.
    pub res: Option<String>,
    /// Project (account) for the batch system.
    pub project: Option<String>,
    /// CIME machine.
    pub machine: Option<String>,
    /// Batch queue.
    pub queue: Option<String>,
    /// Wall clock, HH:MM:SS.
    pub wallclock: Option<String>,
    /// Simulated years (STOP_N with STOP_OPTION=nyears).
    pub stop_years: Option<i64>,
    /// DATM forcing years.
    pub datm_years: Option<[i64; 2]>,
    /// Further ./xmlchange settings.
    #[serde(default)]
    pub xmlchange: BTreeMap<String, toml::Value>,
    /// Lines added to every member's `user_nl_clm`, as a CLM user writes them there, e.g.
    /// `["hist_mfilt = 12", "hist_fincl2 = 'TLAI'", "finidat = '/path/restart.nc'"]`; each is
    /// checked as a Fortran namelist assignment.
    #[serde(default)]
    pub user_nl_clm: Vec<String>,
    /// Seconds between status checks while waiting for runs (default 30).
    pub poll: Option<f64>,
    /// A chain of runs per member (`[[backend.chain]]`), e.g. an accelerated-decomposition
    /// spin-up, a post-AD spin-up from its restart, then the analysed run; empty = one run.
    #[serde(default)]
    pub chain: Vec<ChainStage>,
}

/// One stage of every member's chain of runs (`[[backend.chain]]`): its own case (the
/// member's case name with `.STAGE` added; the last stage's is the member's case itself),
/// made like any other, the parameter changes the same; every stage after the first starts
/// from the previous stage's last restart (`finidat`), and its first year follows that
/// stage's last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainStage {
    /// Its name (`ad`, `postad`, `run`): letters, digits, `_`, `-`.
    pub stage: String,
    /// Simulated years (STOP_N). The last stage, the analysed run, runs by default up to the
    /// last analysed year.
    pub years: Option<i64>,
    /// `./xmlchange` settings of this stage (after the `[backend]` ones), e.g.
    /// `{ CLM_ACCELERATED_SPINUP = "on" }`.
    #[serde(default)]
    pub xmlchange: BTreeMap<String, toml::Value>,
    /// Lines added to this stage's `user_nl_clm`.
    #[serde(default)]
    pub user_nl_clm: Vec<String>,
}

/// Where an ensemble's cases sit in a chain of runs: the stage its settings make.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRun {
    /// The stage as the config declares it.
    pub stage: ChainStage,
    /// The suffix of its case names (`.ad`; empty for the last stage, the analysed run).
    pub suffix: String,
    /// Its first and last simulated year.
    pub years: (i64, i64),
    /// The previous stage's case-name suffix: that case's restart at the start of `years.0`
    /// is this stage's `finidat`.
    pub after: Option<String>,
}

impl StageRun {
    /// Whether this is a stage before the analysed run (complete when its last restart is
    /// in the archive).
    pub fn spins_up(&self) -> bool {
        !self.suffix.is_empty()
    }

    /// `RUN_STARTDATE` of the stage.
    pub fn start_date(&self) -> String {
        format!("{:04}-01-01", self.years.0)
    }
}

/// Settings CLM's chain of runs sets itself, refused in `[backend] xmlchange` and in a
/// stage's `xmlchange`.
const CHAIN_SETS: [&str; 4] = ["RUN_STARTDATE", "STOP_N", "STOP_OPTION", "CONTINUE_RUN"];

/// The stages of the config's chain (`[[backend.chain]]`) with their years and case-name
/// suffixes, checked: names, at least two stages, years of every stage but the last, the
/// analysed years inside the last, and nothing the chain sets itself set elsewhere. Empty
/// without a chain.
pub fn chain_plan(s: &Settings) -> Result<Vec<StageRun>> {
    let chain = &s.backend.chain;
    if chain.is_empty() {
        return Ok(Vec::new());
    }
    if chain.len() < 2 {
        bail!(
            "[[backend.chain]] has one stage ({}): a chain of one stage is the run itself; \
             leave [[backend.chain]] out, or declare the stages before it (e.g. ad, postad)",
            crate::format::printable(&chain[0].stage)
        );
    }
    if let Some(n) = s.backend.stop_years {
        bail!("[backend] stop_years = {n} and [[backend.chain]]: the chain gives each stage's years; leave stop_years out");
    }
    for k in CHAIN_SETS {
        if s.backend.xmlchange.contains_key(k) {
            bail!("[backend] xmlchange sets {k}, which the chain sets for each stage ([[backend.chain]]): leave it out");
        }
    }
    if let Some(l) = s
        .backend
        .user_nl_clm
        .iter()
        .find(|l| l.trim_start().to_lowercase().starts_with("finidat"))
    {
        bail!(
            "[backend] user_nl_clm has '{}', and the chain starts each stage from the previous \
             stage's restart: leave finidat out (a stage's own user_nl_clm may set it for the \
             first stage)",
            crate::format::printable(l)
        );
    }
    let (a, z) = s.years;
    let mut out: Vec<StageRun> = Vec::new();
    let mut start = 1;
    for (k, st) in chain.iter().enumerate() {
        let name = crate::format::printable(&st.stage);
        super::check_name(&st.stage, "[[backend.chain]] stage")?;
        if chain[..k].iter().any(|o| o.stage == st.stage) {
            bail!("[[backend.chain]]: two stages are named {name}");
        }
        for key in CHAIN_SETS {
            if st.xmlchange.contains_key(key) {
                bail!("[[backend.chain]] stage {name}: xmlchange sets {key}, which the chain sets itself (the stage's years)");
            }
        }
        let last = k + 1 == chain.len();
        if k > 0 {
            if let Some(l) = st
                .user_nl_clm
                .iter()
                .find(|l| l.trim_start().to_lowercase().starts_with("finidat"))
            {
                bail!(
                    "[[backend.chain]] stage {name}: user_nl_clm has '{}', but this stage \
                     starts from the restart of stage {}",
                    crate::format::printable(l),
                    crate::format::printable(&chain[k - 1].stage)
                );
            }
        }
        let years = match (st.years, last) {
            (Some(n), _) if !(1..=100_000).contains(&n) => {
                bail!("[[backend.chain]] stage {name}: years = {n}: use 1 ..= 100000")
            }
            (Some(n), _) => n,
            (None, false) => bail!(
                "[[backend.chain]] stage {name}: give its years (only the last stage, the \
                 analysed run, runs by default up to the last analysed year)"
            ),
            (None, true) => z - start + 1,
        };
        if last && a < start {
            bail!(
                "[[backend.chain]]: the stages before the last, {name}, end with year {}, after \
                 the first analysed year {a} ([archive] years = [{a}, {z}]): the analysed \
                 years must lie in the last stage; shorten the stages before it or analyse \
                 later years",
                start - 1
            );
        }
        let end = start + years - 1;
        if last && z > end {
            bail!(
                "[[backend.chain]]: the last stage, {name}, simulates years {start}-{end}, and \
                 the analysed years [{a}, {z}] ([archive] years) must lie inside it"
            );
        }
        out.push(StageRun {
            stage: st.clone(),
            suffix: if last {
                String::new()
            } else {
                format!(".{}", st.stage)
            },
            years: (start, end),
            after: out.last().map(|p: &StageRun| p.suffix.clone()),
        });
        start = end + 1;
    }
    Ok(out)
}

/// The restart file CLM's short-term archiving leaves for `case` at the start of `year`:
/// `ARCHIVE/CASE/rest/YYYY-01-01-00000/CASE.clm2.r.YYYY-01-01-00000.nc`.
pub fn restart_file(archive_root: &Path, case: &str, year: i64) -> PathBuf {
    let date = format!("{year:04}-01-01-00000");
    archive_root
        .join(case)
        .join("rest")
        .join(&date)
        .join(format!("{case}.clm2.r.{date}.nc"))
}

fn default_parallel() -> usize {
    2
}

/// What makes, submits, watches and cancels the cases of an ensemble's members. One kind
/// per way of running CLM, chosen by `[backend] kind` through the registry ([`kinds`]);
/// the ensemble asks it, never its name, what to do.
pub trait Backend: Sync {
    /// Its name in `[backend] kind` (and in member records).
    fn name(&self) -> &'static str;
    /// Members submitted (or run) at once.
    fn parallel(&self) -> usize {
        1
    }
    /// Whether it makes cases at all: a backend that does not (`none`) only reads the
    /// archive, so a member missing there is missing, not to be made.
    fn makes_cases(&self) -> bool {
        true
    }
    /// Whether [`Backend::submit`] runs the member to its end before it returns (a model
    /// run in this process): a member not complete afterwards has failed.
    fn runs_in_process(&self) -> bool {
        false
    }
    /// Checks the settings this backend reads, before anything is made.
    fn check(&self, _settings: &Settings) -> Result<()> {
        Ok(())
    }
    /// Makes the case folder `dir` of member `m` ready for its params file and `user_nl_clm`.
    fn create(&self, ens: &Ensemble, m: &Member, dir: &Path, run: &mut Runner) -> Result<()>;
    /// Submits (or runs) the member's case; returns the batch job id if there is one.
    fn submit(
        &self,
        ens: &Ensemble,
        m: &Member,
        dir: &Path,
        run: &mut Runner,
    ) -> Result<Option<String>>;
    /// What is known of a member submitted earlier and not complete in the archive (its
    /// record says submitting, submitted or running). `owner`: this process holds the
    /// ensemble's lock (so no other process is running anything of it).
    fn progress(&self, ens: &Ensemble, r: &Record, owner: bool) -> Progress;
    /// After [`Backend::submit`] failed: `Some(job id)` if the job was handed to the batch
    /// system all the same (it is then submitted, not failed).
    fn handed_over(&self, _ens: &Ensemble, _dir: &Path) -> Option<Option<String>> {
        None
    }
    /// Stops the queued or running job of a member (its record has the job id, if any).
    fn cancel(&self, ens: &Ensemble, r: &Record, run: &mut Runner) -> Result<()>;
}

/// What a backend knows of a submitted member ([`Backend::progress`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Nothing new; the text, if any, becomes the record's message.
    Unchanged(Option<String>),
    /// Waiting in the batch queue, with the job id if the backend knows it.
    Queued(Option<String>),
    /// Running.
    Running,
    /// The run ended; what the archive lacks is then a failure the ensemble describes.
    Ended,
    /// Failed, saying why.
    Failed(String),
    /// To be run again (the record goes back to created), saying why.
    Rerun(String),
}

/// One kind of backend in the registry: its name in `[backend] kind`, a line for the docs,
/// and how it is made from the ensemble's settings.
#[derive(Clone, Copy)]
pub struct Kind {
    /// The name in `[backend] kind`.
    pub name: &'static str,
    /// One line on what it does, for docs and error messages.
    pub about: &'static str,
    /// Makes the backend for the settings.
    pub make: fn(&Settings) -> Box<dyn Backend>,
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kind({})", self.name)
    }
}

/// The kinds clmtune has, in the order docs list them.
const BUILT_IN: [Kind; 3] = [
    Kind {
        name: "local",
        about: "runs a model in this process in each case folder, N at a time (the demo model)",
        make: |s| {
            Box::new(Local {
                parallel: s.backend.parallel,
                model: s.local_model,
            })
        },
    },
    Kind {
        name: "cime",
        about: "CLM5/CTSM cases through CIME (create_newcase or create_clone --keepexe, \
                case.setup, case.build, case.submit to PBS or Slurm)",
        make: |_| Box::new(Cime),
    },
    Kind {
        name: "none",
        about: "existing output only: nothing is made or submitted; a missing case is an error",
        make: |_| Box::new(NoBackend),
    },
];

impl crate::kinds::Named for Kind {
    fn name(&self) -> &'static str {
        self.name
    }
}

static KINDS: crate::kinds::Kinds<Kind> = crate::kinds::Kinds::new("a backend kind", &BUILT_IN);

/// Every kind of backend: the built-in ones, then those added by [`register`].
pub fn kinds() -> Vec<Kind> {
    KINDS.all()
}

/// Adds a kind of backend (a program built on clmtune, or a test); an error if its name is
/// taken.
pub fn register(kind: Kind) -> Result<()> {
    KINDS.register(kind)
}

/// The kind named `name`, or `Err(the problem)` listing the known ones ("use local, cime
/// or none").
pub fn kind(name: &str) -> std::result::Result<Kind, String> {
    KINDS
        .get(name)
        .ok_or_else(|| format!("use {}", KINDS.choices()))
}

/// The model the `local` backend runs in this process, given by the code that builds the
/// ensemble (the demo model's is `clmtune::demo::run::LOCAL_MODEL`).
#[derive(Clone, Copy)]
pub struct LocalModel {
    /// What logs and messages call it, e.g. "demo model".
    pub name: &'static str,
    /// Writes the CIME settings the model reads into a new case folder.
    pub write_case: fn(&Path, &crate::cime::CaseSetup) -> Result<()>,
    /// Runs the case in its folder: the history files written and the seconds taken.
    pub run_case: fn(&Path) -> Result<(usize, f64)>,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalModel({})", self.name)
    }
}

/// Checks the backend settings before anything is made: paths without CIME variables, a
/// known kind, and what that kind reads.
pub fn check(s: &Settings) -> Result<()> {
    let b = &s.backend;
    let mut paths: Vec<(&str, &Path)> = vec![
        ("[archive] root", &s.archive_root),
        ("[backend] cases_dir", &s.cases_dir),
    ];
    if let Some(p) = &b.ctsm_root {
        paths.push(("[backend] ctsm_root", p));
    }
    if let Some(p) = &b.base_case {
        paths.push(("[backend] base_case", p));
    }
    if let Some(p) = &s.base_paramfile {
        paths.push(("base_paramfile of the parameter spec", p));
    }
    for (setting, p) in paths {
        no_cime_variables(setting, &p.display().to_string())?;
    }
    for_settings(s)?.check(s)
}

/// The backend of the settings, from the registry.
pub fn for_settings(s: &Settings) -> Result<Box<dyn Backend>> {
    let k = kind(&s.backend.kind).map_err(|why| {
        anyhow::anyhow!(
            "[backend] kind = '{}': {why}",
            crate::format::printable(&s.backend.kind)
        )
    })?;
    Ok((k.make)(s))
}

/// What CIME's `CaseStatus` file in the case folder says of a submitted member, for the
/// backends that keep one (CIME's tools, and the demo model, which writes the same lines).
/// `in_process`: the run happens in this process (no short-term archiving; a run left
/// running by an ended process was interrupted).
pub fn case_status_progress(r: &Record, in_process: bool, owner: bool) -> Progress {
    let cs = super::registry::read_case_status(&r.case_dir);
    if let Some(e) = cs.run_error {
        Progress::Failed(format!("case.run error: {e}"))
    } else if let Some(e) = cs.submit_error.filter(|_| !cs.run_started) {
        Progress::Failed(format!("case.submit error: {e}"))
    } else if cs.run_success && (cs.archived || in_process) {
        Progress::Ended
    } else if in_process && owner {
        // a run in this process lives in the process that holds the lock: this one
        Progress::Rerun("an interrupted local run is run again".into())
    } else if cs.run_started {
        Progress::Running
    } else if let Some(ids) = &cs.submitted {
        Progress::Queued(super::registry::job_id(ids))
    } else if r.status == super::Status::Submitting {
        Progress::Unchanged(Some(format!(
            "submission was interrupted before case.submit reported; it is not submitted \
             again automatically: check the batch queue, then resubmit_failed if the job \
             is not there (CaseStatus in {})",
            r.case_dir.display()
        )))
    } else {
        Progress::Unchanged(None)
    }
}

/// A CIME XML id and value that `./xmlchange --id K --val V` takes as they are.
fn check_xml(k: &str, v: &str) -> Result<()> {
    if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || k.is_empty() {
        bail!(
            "[backend] xmlchange id '{}' is not a CIME variable name",
            k.escape_debug()
        );
    }
    if v.chars().any(|c| c.is_control() || c == '"' || c == '\'') {
        bail!(
            "[backend] xmlchange {k} = '{}' holds a quote or a control character",
            v.escape_debug()
        );
    }
    Ok(())
}

/// A path clmtune uses itself may not hold a CIME variable (`$CASEROOT`, `${CASE}`) or
/// `$ENV{...}`: clmtune does not expand them, and used as they are they would make folders
/// named after them. The error names the setting.
pub fn no_cime_variables(setting: &str, path: &str) -> Result<()> {
    if path.contains('$') {
        bail!(
            "{setting} = '{}' holds a '$' (a CIME variable or $ENV{{...}}): clmtune does not \
             expand these in its own paths; give the path itself (`./xmlquery --value VAR` in a \
             case prints a CIME variable expanded)",
            path.escape_debug()
        );
    }
    Ok(())
}

/// The DATM variables of a case: CTSM 5.x cases (CDEPS) have `DATM_YR_START/END/ALIGN`,
/// older ones (MCT) `DATM_CLMNCEP_YR_START/END/ALIGN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datm {
    /// CDEPS: `DATM_YR_*`.
    Cdeps,
    /// MCT: `DATM_CLMNCEP_YR_*`.
    Mct,
}

impl Datm {
    /// The prefix of the variables, e.g. `DATM_YR`.
    pub fn prefix(self) -> &'static str {
        match self {
            Datm::Cdeps => "DATM_YR",
            Datm::Mct => "DATM_CLMNCEP_YR",
        }
    }

    /// Asks the case in `dir` (`./xmlquery --value DATM_YR_START`, then
    /// `DATM_CLMNCEP_YR_START`) which variables it has; `None` in a dry run.
    fn of_case(dir: &Path, case: &str, run: &mut Runner) -> Result<Option<Datm>> {
        let mut answers = Vec::new();
        for d in [Datm::Cdeps, Datm::Mct] {
            let var = format!("{}_START", d.prefix());
            match run.ask(&["./xmlquery".into(), "--value".into(), var.clone()], dir)? {
                Ok(_) => return Ok(Some(d)),
                Err(_) if run.dry_run => {
                    run.note(
                        "(the case answers: CDEPS if it has DATM_YR_START, else MCT's \
                         DATM_CLMNCEP_YR_START; the dry run shows CDEPS's names)",
                    )?;
                    return Ok(None);
                }
                Err(why) => answers.push(format!("{var}: {why}")),
            }
        }
        bail!(
            "case {case}: datm_years is set but ./xmlquery finds neither DATM_YR_START (CTSM \
             5.x, CDEPS) nor DATM_CLMNCEP_YR_START (MCT) in {} ({}): is its compset one with \
             DATM (an I compset)? Leave datm_years out otherwise",
            dir.display(),
            answers.join("; ")
        )
    }
}

/// The year of a `RUN_STARTDATE` value (`YYYY-MM-DD`).
fn start_year(date: &str) -> Option<i64> {
    date.trim().split('-').next()?.parse().ok()
}

/// The DATM settings of a case with the variables `datm`: first and last forcing year, and
/// `_ALIGN` = the first simulated year (RUN_STARTDATE's year, from the config's xmlchange
/// when it sets RUN_STARTDATE, else `run_start_year` asked of the case), so the forcing
/// cycle starts with the run.
fn datm_settings(
    s: &Settings,
    datm: Datm,
    run_start_year: Option<i64>,
) -> Result<Vec<(String, String)>> {
    let Some([a, z]) = s.backend.datm_years else {
        return Ok(Vec::new());
    };
    let p = datm.prefix();
    let mut out = vec![
        (format!("{p}_START"), a.to_string()),
        (format!("{p}_END"), z.to_string()),
    ];
    // a chain's stages keep the forcing cycle of its first year, so that it runs on from
    // stage to stage (model year Y reads the same forcing year in every stage)
    let configured = match &s.stage {
        Some(_) => Some("0001-01-01".to_string()),
        None => run_startdate(s),
    };
    let align = match configured {
        Some(d) => Some(start_year(&d).with_context(|| {
            format!(
                "[backend] xmlchange RUN_STARTDATE = '{d}' is not YYYY-MM-DD",
                d = crate::format::printable(&d)
            )
        })?),
        None => run_start_year,
    };
    if let Some(y) = align {
        out.push((format!("{p}_ALIGN"), y.to_string()));
    }
    Ok(out)
}

/// `RUN_STARTDATE` as clmtune sets it: the chain stage's, else the config's xmlchange.
fn run_startdate(s: &Settings) -> Option<String> {
    match &s.stage {
        Some(st) => Some(st.start_date()),
        None => s.backend.xmlchange.get("RUN_STARTDATE").map(|v| match v {
            toml::Value::String(x) => x.clone(),
            other => other.to_string(),
        }),
    }
}

/// The `./xmlchange` settings of a CIME case, in order (the DATM years apart: see
/// [`datm_settings`]).
fn xml_settings(s: &Settings, case: &str) -> Result<Vec<(String, String)>> {
    let b = &s.backend;
    let stop_n = match &s.stage {
        Some(st) => st.years.1 - st.years.0 + 1,
        None => b.stop_years.unwrap_or(s.years.1),
    };
    let mut out: Vec<(String, String)> = vec![
        ("STOP_OPTION".into(), "nyears".into()),
        ("STOP_N".into(), stop_n.to_string()),
        ("CONTINUE_RUN".into(), "FALSE".into()),
        ("RESUBMIT".into(), "0".into()),
    ];
    if let Some(st) = &s.stage {
        out.push(("RUN_STARTDATE".into(), st.start_date()));
    }
    if let Some(q) = &b.queue {
        out.push(("JOB_QUEUE".into(), q.clone()));
    }
    if let Some(w) = &b.wallclock {
        out.push(("JOB_WALLCLOCK_TIME".into(), w.clone()));
    }
    out.push(("DOUT_S".into(), "TRUE".into()));
    out.push((
        "DOUT_S_ROOT".into(),
        s.archive_root.join(case).display().to_string(),
    ));
    let stage_xml = s.stage.iter().flat_map(|st| &st.stage.xmlchange);
    for (k, v) in b.xmlchange.iter().chain(stage_xml) {
        let v = match v {
            toml::Value::String(x) => x.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(t) => if *t { "TRUE" } else { "FALSE" }.to_string(),
            other => bail!("[backend] xmlchange {k} = {other}: give a string, number or boolean"),
        };
        out.push((k.clone(), v));
    }
    Ok(out)
}

/// CLM5 through CIME.
#[derive(Default)]
struct Cime;

/// Shared executables a case of this process builds (so a dry run shows one build per
/// EXEROOT, like the real run, whose marker file is not written in a dry run).
static BUILDS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn build_planned(exe: &Path) -> bool {
    BUILDS
        .lock()
        .map(|b| b.iter().any(|p| p == exe))
        .unwrap_or(false)
}

impl Cime {
    /// CIME's `scripts` folder: `CTSM/cime/scripts`, else the base case's CIMEROOT. A
    /// CIMEROOT holding a CIME variable or `$ENV{...}` is expanded by the base case's
    /// `./xmlquery --value CIMEROOT`, or refused naming it.
    fn scripts(s: &Settings, run: &mut Runner) -> Result<PathBuf> {
        if let Some(root) = &s.backend.ctsm_root {
            return Ok(root.join("cime").join("scripts"));
        }
        let base = s.backend.base_case.as_ref().context("no base_case")?;
        let env = crate::cime::read_env_xml(&base.join("env_case.xml"))
            .with_context(|| format!("base_case {}", base.display()))?;
        let mut cime = env
            .get("CIMEROOT")
            .with_context(|| {
                format!(
                    "base_case {}: no CIMEROOT in env_case.xml; set ctsm_root",
                    base.display()
                )
            })?
            .clone();
        if cime.contains('$') {
            let argv: Vec<String> = vec!["./xmlquery".into(), "--value".into(), "CIMEROOT".into()];
            let answer = if run.dry_run {
                // asked in a dry run too (the base case exists already), without a log
                crate::output::println(&format!(
                    "  ask: (cd {} && ./xmlquery --value CIMEROOT)",
                    super::runner::shell_quote(&base.display().to_string())
                ));
                let out = crate::files::command(base.join("xmlquery"))
                    .args(&argv[1..])
                    .current_dir(base)
                    .env_clear()
                    .envs(super::runner::clean_env())
                    .stdin(std::process::Stdio::null())
                    .output()
                    .with_context(|| {
                        format!("cannot run ./xmlquery in base_case {}", base.display())
                    })?;
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                if out.status.success() {
                    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
                } else {
                    Err(text.trim().lines().last().unwrap_or("").to_string())
                }
            } else {
                run.ask(&argv, base)?
            };
            match answer {
                Ok(v) if !v.is_empty() && !v.contains('$') => cime = v,
                Ok(v) => bail!(
                    "base_case {}: CIMEROOT = '{cime}' in env_case.xml and ./xmlquery --value \
                     CIMEROOT gives '{v}': not a path clmtune can use; set ctsm_root",
                    base.display(),
                    cime = crate::format::printable(&cime),
                    v = crate::format::printable(&v)
                ),
                Err(why) => bail!(
                    "base_case {}: CIMEROOT = '{cime}' in env_case.xml and ./xmlquery --value \
                     CIMEROOT cannot expand it ({why}); set ctsm_root, or the variable it needs",
                    base.display(),
                    cime = crate::format::printable(&cime)
                ),
            }
        }
        Ok(Path::new(&cime).join("scripts"))
    }

    fn tool(dir: &Path, name: &str) -> String {
        dir.join(name).display().to_string()
    }
}

impl Backend for Cime {
    fn name(&self) -> &'static str {
        "cime"
    }

    fn check(&self, s: &Settings) -> Result<()> {
        let b = &s.backend;
        if b.ctsm_root.is_none() && b.base_case.is_none() {
            bail!("[backend] kind = \"cime\" needs ctsm_root (create_newcase) or base_case (create_clone --keepexe)");
        }
        if b.base_case.is_none() && (b.compset.is_none() || b.res.is_none()) {
            bail!("[backend] create_newcase from ctsm_root needs compset and res");
        }
        if let (Some(n), None) = (b.stop_years, &s.stage) {
            if n < s.years.1 {
                bail!(
                    "[backend] stop_years = {n} ends before the analysed years [{}, {}]",
                    s.years.0,
                    s.years.1
                );
            }
        }
        for (k, v) in
            xml_settings(s, "CASE")?
                .into_iter()
                .chain(datm_settings(s, Datm::Cdeps, None)?)
        {
            check_xml(&k, &v)?;
        }
        Ok(())
    }

    fn progress(&self, _: &Ensemble, r: &Record, owner: bool) -> Progress {
        case_status_progress(r, false, owner)
    }

    fn handed_over(&self, _: &Ensemble, dir: &Path) -> Option<Option<String>> {
        let cs = super::registry::read_case_status(dir);
        cs.submitted.as_deref().map(super::registry::job_id)
    }

    fn cancel(&self, _: &Ensemble, r: &Record, run: &mut Runner) -> Result<()> {
        let Some(job) = &r.job_id else {
            bail!(
                "case {}: no batch job id recorded (CaseStatus in {}): cancel it with your \
                 batch system's tools",
                r.case,
                r.case_dir.display()
            );
        };
        if run.dry_run {
            return run.note(&format!(
                "cancel job {job} of {} with the case's batch system (BATCH_SYSTEM: qdel, \
                 scancel or bkill)",
                r.case
            ));
        }
        let system = {
            run.run(
                &[
                    Cime::tool(&r.case_dir, "xmlquery"),
                    "--value".into(),
                    "BATCH_SYSTEM".into(),
                ],
                &r.case_dir,
            )?
            .trim()
            .to_lowercase()
        };
        let tool = match system.as_str() {
            "pbs" | "cobalt" => "qdel",
            "slurm" => "scancel",
            "lsf" => "bkill",
            other => bail!(
                "case {}: BATCH_SYSTEM '{}' has no known cancel command: cancel job {job} \
                 with its own tools",
                r.case,
                crate::format::printable(other)
            ),
        };
        run.run(&[tool.into(), job.clone()], &r.case_dir)?;
        Ok(())
    }

    fn create(&self, ens: &Ensemble, m: &Member, dir: &Path, run: &mut Runner) -> Result<()> {
        let s = &ens.settings;
        let b = &s.backend;
        let scripts = Cime::scripts(s, run)?;
        let parent = dir.parent().unwrap_or(Path::new("."));
        if !run.dry_run {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let case = dir.display().to_string();
        let mut argv: Vec<String>;
        let shared_exe = s.cases_dir.join(format!("{}.bld", s.experiment));
        // a file beside the shared EXEROOT says that its build is done
        let build_marker = shared_exe.with_extension("bld.done");
        if let Some(base) = &b.base_case {
            argv = vec![
                Cime::tool(&scripts, "create_clone"),
                "--case".into(),
                case,
                "--clone".into(),
                base.display().to_string(),
                "--keepexe".into(),
            ];
        } else {
            argv = vec![
                Cime::tool(&scripts, "create_newcase"),
                "--case".into(),
                case,
                "--compset".into(),
                b.compset.clone().unwrap_or_default(),
                "--res".into(),
                b.res.clone().unwrap_or_default(),
                "--run-unsupported".into(),
            ];
            if let Some(mach) = &b.machine {
                argv.extend(["--machine".into(), mach.clone()]);
            }
        }
        if let Some(p) = &b.project {
            argv.extend(["--project".into(), p.clone()]);
        }
        run.run(&argv, parent)?;
        let mut settings = xml_settings(s, &m.case)?;
        if b.datm_years.is_some() {
            // the variables this case has (MCT or CDEPS), and its first year for _ALIGN
            let datm = Datm::of_case(dir, &m.case, run)?;
            let first = if run_startdate(s).is_some() {
                None
            } else {
                match run.ask(
                    &[
                        "./xmlquery".into(),
                        "--value".into(),
                        "RUN_STARTDATE".into(),
                    ],
                    dir,
                )? {
                    Ok(d) => Some(start_year(&d).with_context(|| {
                        format!(
                            "case {}: RUN_STARTDATE = '{d}' is not YYYY-MM-DD",
                            m.case,
                            d = crate::format::printable(&d)
                        )
                    })?),
                    Err(_) if run.dry_run => None,
                    Err(why) => bail!(
                        "case {}: ./xmlquery --value RUN_STARTDATE failed in {}: {why}",
                        m.case,
                        dir.display()
                    ),
                }
            };
            let datm_vars = datm_settings(s, datm.unwrap_or(Datm::Cdeps), first)?;
            if run.dry_run && first.is_none() && run_startdate(s).is_none() {
                run.note("(and _ALIGN = the year of the case's RUN_STARTDATE)")?;
            }
            // before the config's own xmlchange settings, which come last and so win
            let own = b.xmlchange.len() + s.stage.as_ref().map_or(0, |st| st.stage.xmlchange.len());
            let at = settings.len() - own;
            settings.splice(at..at, datm_vars);
        }
        let build_here =
            b.base_case.is_none() && !build_marker.exists() && !build_planned(&shared_exe);
        if b.base_case.is_none() {
            // one build for the whole ensemble: the first case builds into EXEROOT, the others
            // reuse it
            settings.push(("EXEROOT".into(), shared_exe.display().to_string()));
            if !build_here {
                settings.push(("BUILD_COMPLETE".into(), "TRUE".into()));
            }
        }
        for (k, v) in settings {
            run.run(
                &["./xmlchange".into(), "--id".into(), k, "--val".into(), v],
                dir,
            )?;
        }
        // where the case archives, expanded by CIME: it must be where clmtune reads
        let want = s.archive_root.join(&m.case);
        match run.ask(
            &["./xmlquery".into(), "--value".into(), "DOUT_S_ROOT".into()],
            dir,
        )? {
            Ok(got) if Path::new(&got) == want => {}
            Ok(got) => bail!(
                "case {}: ./xmlquery --value DOUT_S_ROOT gives '{got}', but clmtune reads the \
                 history files from {} ([archive] root / case): does the config's xmlchange \
                 set DOUT_S_ROOT?",
                m.case,
                want.display(),
                got = crate::format::printable(&got)
            ),
            Err(_) if run.dry_run => {}
            Err(why) => bail!(
                "case {}: ./xmlquery --value DOUT_S_ROOT failed in {}: {why}",
                m.case,
                dir.display()
            ),
        }
        run.run(&["./case.setup".into()], dir)?;
        if build_here {
            run.run(&["./case.build".into()], dir)?;
            if let Ok(mut b) = BUILDS.lock() {
                b.push(shared_exe.clone());
            }
            if !run.dry_run {
                std::fs::write(
                    &build_marker,
                    format!(
                        "EXEROOT {} built by case {}\n",
                        shared_exe.display(),
                        m.case
                    ),
                )
                .with_context(|| format!("cannot write {}", build_marker.display()))?;
            }
        }
        Ok(())
    }

    fn submit(
        &self,
        _: &Ensemble,
        _: &Member,
        dir: &Path,
        run: &mut Runner,
    ) -> Result<Option<String>> {
        let out = run.run(&["./case.submit".into()], dir)?;
        Ok(super::registry::job_id(&out).or_else(|| {
            super::registry::read_case_status(dir)
                .submitted
                .as_deref()
                .and_then(super::registry::job_id)
        }))
    }
}

/// A model run in this process (the demo model).
struct Local {
    parallel: usize,
    model: Option<LocalModel>,
}

impl Local {
    /// The model, or an error saying none was given.
    fn model(&self, m: &Member) -> Result<LocalModel> {
        self.model.with_context(|| {
            format!(
                "case {}: [backend] kind = \"local\" runs a model in this process, and none \
                 was given to this ensemble",
                m.case
            )
        })
    }
}

impl Backend for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn parallel(&self) -> usize {
        self.parallel
    }

    fn runs_in_process(&self) -> bool {
        self.model.is_some()
    }

    fn progress(&self, _: &Ensemble, r: &Record, owner: bool) -> Progress {
        case_status_progress(r, true, owner)
    }

    fn cancel(&self, _: &Ensemble, r: &Record, _: &mut Runner) -> Result<()> {
        bail!(
            "case {}: a local run belongs to the process running it: stop that process \
             (Ctrl-C); its member is run again next time",
            r.case
        )
    }

    fn create(&self, ens: &Ensemble, m: &Member, dir: &Path, run: &mut Runner) -> Result<()> {
        let s = &ens.settings;
        let setup = crate::cime::CaseSetup {
            case: m.case.clone(),
            archive: s.archive_root.join(&m.case),
            start_year: s.stage.as_ref().map_or(s.years.0, |st| st.years.0),
            stop_years: match &s.stage {
                Some(st) => st.years.1 - st.years.0 + 1,
                None => s.years.1 - s.years.0 + 1,
            },
            datm_years: s
                .backend
                .datm_years
                .map(|[a, z]| (a, z))
                .unwrap_or((2000, 2004)),
        };
        if run.dry_run {
            run.note(&format!(
                "make {} with env_case.xml, env_run.xml (CASE={}, RUN_STARTDATE={:04}-01-01, \
                 STOP_N={}, DATM {}-{}, DOUT_S_ROOT={})",
                dir.display(),
                setup.case,
                setup.start_year,
                setup.stop_years,
                setup.datm_years.0,
                setup.datm_years.1,
                setup.archive.display()
            ))?;
            return Ok(());
        }
        let model = self.model(m)?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        (model.write_case)(dir, &setup)?;
        run.note(&format!("made {} ({} case)", dir.display(), model.name))
    }

    fn submit(
        &self,
        _: &Ensemble,
        m: &Member,
        dir: &Path,
        run: &mut Runner,
    ) -> Result<Option<String>> {
        if run.dry_run {
            let name = self.model.map_or("local model", |l| l.name);
            run.note(&format!(
                "run the {name} in {} (clmtune demo-model {})",
                dir.display(),
                dir.display()
            ))?;
            return Ok(None);
        }
        let model = self.model(m)?;
        run.note(&format!("{} run of {} starting", model.name, m.case))?;
        match (model.run_case)(dir) {
            Ok((files, seconds)) => {
                run.note(&format!(
                    "{} run of {} done: {files} history files in {seconds:.1} s",
                    model.name, m.case,
                ))?;
                Ok(None)
            }
            Err(e) => {
                run.note(&format!("{} run of {} failed: {e:#}", model.name, m.case))?;
                Err(e)
            }
        }
    }
}

/// Existing output only.
struct NoBackend;

impl Backend for NoBackend {
    fn name(&self) -> &'static str {
        "none"
    }

    fn makes_cases(&self) -> bool {
        false
    }

    fn progress(&self, _: &Ensemble, _: &Record, _: bool) -> Progress {
        Progress::Unchanged(None)
    }

    fn cancel(&self, _: &Ensemble, r: &Record, _: &mut Runner) -> Result<()> {
        bail!("backend none submits nothing: case {} has no job", r.case)
    }

    fn create(&self, _: &Ensemble, m: &Member, _: &Path, _: &mut Runner) -> Result<()> {
        bail!(
            "backend none makes no cases: case {} is not in the archive",
            m.case
        )
    }

    fn submit(&self, _: &Ensemble, m: &Member, _: &Path, _: &mut Runner) -> Result<Option<String>> {
        bail!(
            "backend none submits nothing: case {} is not in the archive",
            m.case
        )
    }
}
