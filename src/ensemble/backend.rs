//! Backends behind one interface: `cime` (CLM5 cases through CIME's tools), `local` (a model
//! run in this process in each case folder, N at a time: the demo model, supplied as a
//! [`LocalModel`] by the code that builds the ensemble) and `none` (existing output only:
//! nothing is made or submitted; a missing case is an error).

use super::runner::Runner;
use super::{Ensemble, Member, Settings};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// What makes and submits cases.
pub trait Backend: Sync {
    /// `cime`, `local` or `none`.
    fn name(&self) -> &'static str;
    /// Members submitted (or run) at once.
    fn parallel(&self) -> usize {
        1
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

/// Checks the backend settings before anything is made.
pub fn check(s: &Settings) -> Result<()> {
    let b = &s.backend;
    match b.kind.as_str() {
        "cime" => {
            if b.ctsm_root.is_none() && b.base_case.is_none() {
                bail!("[backend] kind = \"cime\" needs ctsm_root (create_newcase) or base_case (create_clone --keepexe)");
            }
            if b.base_case.is_none() && (b.compset.is_none() || b.res.is_none()) {
                bail!("[backend] create_newcase from ctsm_root needs compset and res");
            }
            if let Some(n) = b.stop_years {
                if n < s.years.1 {
                    bail!(
                        "[backend] stop_years = {n} ends before the analysed years [{}, {}]",
                        s.years.0,
                        s.years.1
                    );
                }
            }
            for (k, v) in xml_settings(s, "CASE")? {
                check_xml(&k, &v)?;
            }
            Ok(())
        }
        "local" | "none" => Ok(()),
        k => bail!("[backend] kind = '{k}': use local, cime or none"),
    }
}

/// The backend of the settings.
pub fn for_settings(s: &Settings) -> Box<dyn Backend> {
    match s.backend.kind.as_str() {
        "cime" => Box::new(Cime),
        "local" => Box::new(Local {
            parallel: s.backend.parallel,
            model: s.local_model,
        }),
        _ => Box::new(NoBackend),
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

/// The `./xmlchange` settings of a CIME case, in order.
fn xml_settings(s: &Settings, case: &str) -> Result<Vec<(String, String)>> {
    let b = &s.backend;
    let mut out: Vec<(String, String)> = vec![
        ("STOP_OPTION".into(), "nyears".into()),
        (
            "STOP_N".into(),
            b.stop_years.unwrap_or(s.years.1).to_string(),
        ),
        ("CONTINUE_RUN".into(), "FALSE".into()),
        ("RESUBMIT".into(), "0".into()),
    ];
    if let Some([a, z]) = b.datm_years {
        out.push(("DATM_CLMNCEP_YR_START".into(), a.to_string()));
        out.push(("DATM_CLMNCEP_YR_END".into(), z.to_string()));
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
    for (k, v) in &b.xmlchange {
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
    /// CIME's `scripts` folder: `CTSM/cime/scripts`, else the base case's CIMEROOT.
    fn scripts(s: &Settings) -> Result<PathBuf> {
        if let Some(root) = &s.backend.ctsm_root {
            return Ok(root.join("cime").join("scripts"));
        }
        let base = s.backend.base_case.as_ref().context("no base_case")?;
        let env = crate::cime::read_env_xml(&base.join("env_case.xml"))
            .with_context(|| format!("base_case {}", base.display()))?;
        let cime = env.get("CIMEROOT").with_context(|| {
            format!(
                "base_case {}: no CIMEROOT in env_case.xml; set ctsm_root",
                base.display()
            )
        })?;
        Ok(Path::new(cime).join("scripts"))
    }

    fn tool(dir: &Path, name: &str) -> String {
        dir.join(name).display().to_string()
    }
}

impl Backend for Cime {
    fn name(&self) -> &'static str {
        "cime"
    }

    fn create(&self, ens: &Ensemble, m: &Member, dir: &Path, run: &mut Runner) -> Result<()> {
        let s = &ens.settings;
        let b = &s.backend;
        let scripts = Cime::scripts(s)?;
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

    fn create(&self, ens: &Ensemble, m: &Member, dir: &Path, run: &mut Runner) -> Result<()> {
        let s = &ens.settings;
        let setup = crate::cime::CaseSetup {
            case: m.case.clone(),
            archive: s.archive_root.join(&m.case),
            start_year: s.years.0,
            stop_years: s.years.1 - s.years.0 + 1,
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
