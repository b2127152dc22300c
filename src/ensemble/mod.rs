//! Ensembles of CLM runs: a design of parameter scalings becomes one case per member (a
//! params-file copy and `user_nl_clm` lines), made and submitted through a backend (`cime`,
//! `local` = the demo model, `none` = existing output only), tracked in a crash-safe registry
//! in the ensemble's folder. Submitting again after a crash makes and submits only what is
//! missing and never submits a member twice; a case already complete in the archive is used
//! as it is.

pub mod backend;
pub mod design;
pub mod failed;
pub mod namelist;
pub mod paramfile;
pub mod registry;
pub mod runner;
pub mod spec;

use anyhow::{bail, Context, Result};
pub use backend::{Backend, ChainStage, LocalModel, Progress, StageRun};
pub use design::{Design, DesignMember};
use paramfile::VarWrites;
pub use registry::{Record, Registry, Status};
use runner::Runner;
pub use spec::{Location, Parameter, Spec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A member label must be usable in a file name: letters, digits, `_`, `-`, `.`, not first.
pub fn check_label(label: &str) -> Result<()> {
    check_name(label, "member label")
}

/// A name that becomes a file or folder name (`what` says whose: "member label", "ensemble
/// name"): letters, digits, `_`, `-`, `.`, not first, at most 100 characters.
pub fn check_name(label: &str, what: &str) -> Result<()> {
    let ok = !label.is_empty()
        && !label.starts_with('.')
        && label.len() <= 100
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !ok {
        bail!(
            "{what} '{}' may hold only letters, digits, '_', '-' and '.' (not first), at most 100 characters",
            label.escape_debug()
        );
    }
    Ok(())
}

/// A derived seed: `seed` mixed with a purpose (`"ppe"`, `"ppe_test"`), so each random
/// choice of an experiment has its own stream yet follows from the one seed.
pub fn derive_seed(seed: u64, purpose: &str) -> u64 {
    crate::cime::case_seed(purpose) ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// What a dry run finds of an ensemble a stage reads ([`Ensemble::readiness`]).
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    /// Cases complete in the archive, in member order.
    pub complete: Vec<String>,
    /// What the stage would do first (run, wait).
    pub notes: Vec<String>,
    /// What would make the stage fail.
    pub problems: Vec<String>,
}

/// The members the stages after an ensemble use ([`Ensemble::usable`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usable {
    /// The complete members, as indices in member order.
    pub complete: Vec<usize>,
    /// The members `[cases] failed = "drop"` goes on without.
    pub dropped: Vec<failed::Dropped>,
}

/// What an ensemble needs from the experiment config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Experiment name.
    pub experiment: String,
    /// Archive root (`ROOT/CASE/lnd/hist`).
    pub archive_root: PathBuf,
    /// Simulation years analysed (complete = every month of these present).
    pub years: (i64, i64),
    /// `[archive] min_coverage`: the fraction of a month's time a case's samples must cover
    /// for the month to count as present (1 = whole months only).
    pub min_coverage: f64,
    /// The backend section.
    pub backend: backend::Section,
    /// Where case folders are made.
    pub cases_dir: PathBuf,
    /// The base params file (from the spec).
    pub base_paramfile: Option<PathBuf>,
    /// Extra history fields for every member.
    pub hist_fincl1: Vec<String>,
    /// Print, write nothing.
    pub dry_run: bool,
    /// The model the `local` backend runs, given by the code that builds the ensemble
    /// ([`Ensemble::with_local_model`]).
    pub local_model: Option<LocalModel>,
    /// `[cases] failed`: resubmissions, and whether later stages go on without a member
    /// that failed.
    pub failed: failed::Failed,
    /// The stage of the chain of runs (`[[backend.chain]]`) these cases make, if there is a
    /// chain (set by [`Ensemble::new`]).
    pub stage: Option<StageRun>,
}

impl Settings {
    /// The case as the archive holds it, by `[archive] min_coverage`, printing nothing.
    pub fn scan(&self, case: &str) -> anyhow::Result<crate::archive::Case> {
        crate::archive::scan_case(&self.archive_root, case, None, self.min_coverage)
    }

    /// The settings of an experiment config (as [`from_config::Source`]) and its parameter
    /// spec.
    pub fn from_source(cfg: &from_config::Source, spec: &Spec, dry_run: bool) -> Settings {
        let cfg_dir = cfg.path.parent().map(Path::to_path_buf).unwrap_or_default();
        Settings {
            experiment: cfg.experiment.clone(),
            archive_root: cfg.archive_root.clone(),
            years: (cfg.years[0], cfg.years[1]),
            min_coverage: cfg.min_coverage,
            backend: cfg.backend.clone(),
            cases_dir: cfg
                .backend
                .cases_dir
                .clone()
                .unwrap_or_else(|| cfg_dir.join("cases")),
            base_paramfile: spec.base_paramfile.clone(),
            hist_fincl1: Vec::new(),
            dry_run,
            local_model: None,
            failed: cfg.cases.failed,
            stage: None,
        }
    }
}

/// One member: label, case, scalings.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Label (`{member}`).
    pub label: String,
    /// Case name.
    pub case: String,
    /// Scalings in the ensemble's parameter order (`None` = default).
    pub scalings: Vec<Option<f64>>,
}

/// An ensemble: parameters, members, settings, and its folder (registry, logs, design,
/// status).
#[derive(Debug, Clone)]
pub struct Ensemble {
    /// Name (`ppe`, `ppe_test`, `oaat`, ...).
    pub name: String,
    /// Its folder.
    pub dir: PathBuf,
    /// The parameters varied.
    pub params: Vec<Parameter>,
    /// The design it came from.
    pub design: Design,
    /// Members.
    pub members: Vec<Member>,
    /// Settings.
    pub settings: Settings,
    /// With a chain of runs (`[[backend.chain]]`): the stages before the analysed run, each
    /// an ensemble of the same members (cases `CASE.STAGE`, folder `DIR/stages/STAGE`), in
    /// order; this ensemble's cases are the last stage.
    pub chain: Vec<Ensemble>,
}

/// Case names of a design: `pattern` filled with `{member}` (or `{param}`, `{end}` for
/// one-at-a-time members); a member at the defaults only takes `default_case` if given.
pub fn case_names(
    design: &Design,
    pattern: &str,
    default_case: Option<&str>,
) -> Result<Vec<String>> {
    design
        .members
        .iter()
        .map(|m| {
            if m.scalings.iter().all(Option::is_none) {
                if let Some(d) = default_case {
                    return crate::archive::case_name(d, None, None, None);
                }
            }
            let (p, e) = match &m.oaat {
                Some((p, e)) => (Some(p.as_str()), Some(e.name())),
                None => (None, None),
            };
            crate::archive::case_name(pattern, Some(&m.label), p, e)
        })
        .collect()
}

impl Ensemble {
    /// An ensemble of `design` over `params` with the given case names, kept in `dir`.
    pub fn new(
        name: &str,
        dir: &Path,
        params: Vec<Parameter>,
        design: Design,
        cases: Vec<String>,
        settings: Settings,
    ) -> Result<Ensemble> {
        let names: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
        if names != design.names {
            bail!(
                "ensemble {name}: the design's parameters ({}) differ from the spec's ({})",
                design.names.join(", "),
                names.join(", ")
            );
        }
        if cases.len() != design.members.len() {
            bail!(
                "ensemble {name}: {} case names for {} members",
                cases.len(),
                design.members.len()
            );
        }
        let mut seen = BTreeMap::new();
        for (m, c) in design.members.iter().zip(&cases) {
            check_label(&m.label)?;
            if let Some(other) = seen.insert(c.clone(), m.label.clone()) {
                bail!(
                    "ensemble {name}: members {other} and {} would both be case {c}",
                    m.label
                );
            }
        }
        if settings.years.0 < 1 {
            bail!(
                "[archive] years start at {}: simulation years start at 1",
                settings.years.0
            );
        }
        backend::check(&settings)?;
        let spec_namelist: Vec<String> = params
            .iter()
            .filter(|p| p.location == Location::Namelist)
            .map(|p| p.name.clone())
            .collect();
        namelist::check_config_lines(
            &settings.backend.user_nl_clm,
            &spec_namelist,
            !settings.hist_fincl1.is_empty(),
        )?;
        let members: Vec<Member> = design
            .members
            .iter()
            .zip(cases)
            .map(|(m, case)| Member {
                label: m.label.clone(),
                case,
                scalings: m.scalings.clone(),
            })
            .collect();
        let mut ens = Ensemble {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            params,
            design,
            members,
            settings,
            chain: Vec::new(),
        };
        // a backend that makes no cases reads the analysed runs only: no chain to run
        let plan = if backend::for_settings(&ens.settings)?.makes_cases() {
            backend::chain_plan(&ens.settings)?
        } else {
            Vec::new()
        };
        if let Some((last, before)) = plan.split_last() {
            ens.chain = before
                .iter()
                .map(|st| {
                    let mut e = ens.clone();
                    e.name = format!("{name}.{}", st.stage.stage);
                    e.dir = dir.join("stages").join(&st.stage.stage);
                    for m in &mut e.members {
                        m.case.push_str(&st.suffix);
                    }
                    e.settings.years = st.years;
                    e.settings.stage = Some(st.clone());
                    e
                })
                .collect();
            ens.settings.stage = Some(last.clone());
            for e in ens.chain.iter().chain([&ens]) {
                let lines: Vec<String> = e
                    .settings
                    .backend
                    .user_nl_clm
                    .iter()
                    .chain(e.settings.stage.iter().flat_map(|st| &st.stage.user_nl_clm))
                    .cloned()
                    .collect();
                namelist::check_config_lines(
                    &lines,
                    &spec_namelist,
                    !e.settings.hist_fincl1.is_empty(),
                )
                .with_context(|| format!("ensemble {}", e.name))?;
            }
        }
        Ok(ens)
    }

    /// Whether `case` of this ensemble is complete: every history month of the analysed
    /// years in the archive or, for a stage of a chain before the analysed run, its last
    /// restart (what the next stage starts from).
    fn is_complete(&self, case: &str) -> bool {
        match &self.settings.stage {
            Some(st) if st.spins_up() => {
                backend::restart_file(&self.settings.archive_root, case, st.years.1 + 1).is_file()
            }
            _ => crate::archive::is_complete_covering(
                &self.settings.archive_root,
                case,
                self.settings.years,
                self.settings.min_coverage,
            ),
        }
    }

    /// The `finidat` line of a member's case in a chain: the previous stage's restart.
    fn finidat_line(&self, m: &Member) -> Option<String> {
        let st = self.settings.stage.as_ref()?;
        let prev = st.after.as_ref()?;
        let base = m.case.strip_suffix(st.suffix.as_str()).unwrap_or(&m.case);
        let f = backend::restart_file(
            &self.settings.archive_root,
            &format!("{base}{prev}"),
            st.years.0,
        );
        Some(format!("finidat = '{}'", f.display()))
    }

    /// The ensemble with `model` as what its `local` backend runs (the caller that builds
    /// the ensemble supplies it: the ensemble machinery knows no model).
    pub fn with_local_model(mut self, model: LocalModel) -> Ensemble {
        self.settings.local_model = Some(model);
        self.chain = self
            .chain
            .into_iter()
            .map(|e| e.with_local_model(model))
            .collect();
        self
    }

    /// For one-at-a-time runs: each parameter with the member indices of its min and max
    /// runs (the default member where `oaat_default_as` says so).
    pub fn oaat_pairs(&self) -> Result<Vec<(String, usize, usize)>> {
        let default = self
            .design
            .members
            .iter()
            .position(|m| m.scalings.iter().all(Option::is_none));
        self.params
            .iter()
            .map(|p| {
                let find = |end: spec::End| -> Result<usize> {
                    if p.oaat_default_as == Some(end) {
                        return default.with_context(|| {
                            format!(
                                "ensemble {}: {} uses the default run as its {}, but there is no \
                                 default member",
                                self.name,
                                p.name,
                                end.name()
                            )
                        });
                    }
                    self.design
                        .members
                        .iter()
                        .position(|m| m.oaat.as_ref() == Some(&(p.name.clone(), end)))
                        .with_context(|| {
                            format!(
                                "ensemble {} has no one-at-a-time run of {} at its {}",
                                self.name,
                                p.name,
                                end.name()
                            )
                        })
                };
                Ok((p.name.clone(), find(spec::End::Min)?, find(spec::End::Max)?))
            })
            .collect()
    }

    /// The backend of its settings (from the registry of kinds).
    pub fn backend(&self) -> Result<Box<dyn Backend>> {
        backend::for_settings(&self.settings)
    }

    fn registry(&self) -> Registry {
        Registry {
            dir: self.dir.clone(),
        }
    }

    /// The case folder of a member.
    pub fn case_dir(&self, m: &Member) -> PathBuf {
        self.settings.cases_dir.join(&m.case)
    }

    /// The params-file writes and namelist values of a member.
    pub fn materials(&self, m: &Member) -> (Vec<VarWrites>, Vec<(String, f64)>) {
        let mut vars = Vec::new();
        let mut nl = Vec::new();
        for (p, s) in self.params.iter().zip(&m.scalings) {
            let Some(s) = s else { continue };
            let writes = p.writes(*s);
            match p.location {
                Location::Paramfile => vars.push(VarWrites {
                    name: p.name.clone(),
                    writes,
                    dim_indices: p.dim_indices.clone(),
                }),
                Location::Namelist => nl.push((p.name.clone(), writes[0].value)),
            }
        }
        (vars, nl)
    }

    /// The member's params file (a copy in its case folder when it changes paramfile
    /// parameters, else the base file itself) and its `user_nl_clm` lines.
    pub fn member_files(
        &self,
        m: &Member,
    ) -> Result<(Option<PathBuf>, Vec<VarWrites>, Vec<String>)> {
        let (vars, nl) = self.materials(m);
        let paramfile = match (&self.settings.base_paramfile, vars.is_empty()) {
            (None, false) => bail!(
                "member {}: paramfile parameters are perturbed but the spec names no \
                 base_paramfile to copy",
                m.label
            ),
            (None, true) => None,
            (Some(b), true) => Some(b.clone()),
            (Some(b), false) => {
                let stem = b
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_else(|| "params".into());
                Some(self.case_dir(m).join(format!("{stem}.{}.nc", m.case)))
            }
        };
        let mut lines =
            namelist::user_nl_lines(paramfile.as_deref(), &nl, &self.settings.hist_fincl1)
                .with_context(|| format!("member {} (case {})", m.label, m.case))?;
        // the config's lines for every member (checked when the ensemble was made), the
        // stage's, and where the stage starts from
        lines.extend(self.settings.backend.user_nl_clm.iter().cloned());
        if let Some(st) = &self.settings.stage {
            lines.extend(st.stage.user_nl_clm.iter().cloned());
        }
        lines.extend(self.finidat_line(m));
        Ok((paramfile, vars, lines))
    }

    fn new_record(&self, m: &Member) -> Record {
        Record {
            member: m.label.clone(),
            case: m.case.clone(),
            status: Status::Planned,
            job_id: None,
            case_dir: self.case_dir(m),
            history_dir: crate::archive::hist_dir(&self.settings.archive_root, &m.case),
            scalings: self.scaling_map(m),
            paramfile: None,
            user_nl_clm: Vec::new(),
            logs: Vec::new(),
            backend: self.settings.backend.kind.clone(),
            created: None,
            submitted: None,
            finished: None,
            message: None,
            attempts: 0,
        }
    }

    fn scaling_map(&self, m: &Member) -> BTreeMap<String, Option<f64>> {
        self.params
            .iter()
            .zip(&m.scalings)
            .map(|(p, s)| (p.name.clone(), *s))
            .collect()
    }

    /// The records of every member: from the registry, or new (planned); a record whose
    /// scalings differ from the design is an error (the design changed under a live
    /// ensemble), and so is one made for another archive (the folder belongs to another
    /// experiment config): its status says nothing about this config's archive.
    fn load_records(&self) -> Result<Vec<Record>> {
        let reg = self.registry();
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        self.members
            .iter()
            .map(|m| match reg.load(&m.label)? {
                Some(r) => {
                    let hist = crate::archive::hist_dir(&self.settings.archive_root, &m.case);
                    if abs(&r.history_dir) != abs(&hist) {
                        bail!(
                            "ensemble {}: member {} in {} was made for the history folder {}, \
                             but this config's archive gives {}: the folder {} belongs to \
                             another experiment config; use another results folder (--out DIR), \
                             the config it was made with, or delete {} to start again",
                            self.name,
                            m.label,
                            reg.record_path(&m.label).display(),
                            r.history_dir.display(),
                            hist.display(),
                            self.dir.display(),
                            self.dir.join("members").display()
                        );
                    }
                    let want = self.scaling_map(m);
                    if r.scalings != want || r.case != m.case {
                        bail!(
                            "ensemble {}: member {} in {} was made with case {} and scalings \
                             {:?}, the design now says case {} and {:?}; use another ensemble \
                             folder or restore the design",
                            self.name,
                            m.label,
                            reg.record_path(&m.label).display(),
                            r.case,
                            r.scalings,
                            m.case,
                            want
                        );
                    }
                    Ok(r)
                }
                None => Ok(self.new_record(m)),
            })
            .collect()
    }

    /// Updates a record from the archive and what the backend knows of it. `owner` = this
    /// process holds the ensemble's lock (so a local run marked running was interrupted).
    fn refresh(&self, be: &dyn Backend, r: &mut Record, owner: bool) {
        let complete = self.is_complete(&r.case);
        if complete {
            if r.status != Status::Complete {
                r.status = Status::Complete;
                r.finished.get_or_insert_with(crate::files::now_utc);
                r.message = None;
            }
            return;
        }
        let restart = match &self.settings.stage {
            Some(st) if st.spins_up() => Some(backend::restart_file(
                &self.settings.archive_root,
                &r.case,
                st.years.1 + 1,
            )),
            _ => None,
        };
        if let (Some(f), Status::Complete) = (&restart, r.status) {
            r.status = Status::Failed;
            r.message = Some(format!(
                "the stage was complete, but its restart {} has gone",
                f.display()
            ));
            return;
        }
        if r.status == Status::Complete {
            let missing = self
                .settings
                .scan(&r.case)
                .map(|c| c.missing_months(self.settings.years))
                .unwrap_or_default();
            r.status = Status::Failed;
            r.message = Some(match missing.first() {
                Some(first) => format!(
                    "the case was complete, but {} months of years {}-{} are now missing from \
                     {} (first: {first})",
                    missing.len(),
                    self.settings.years.0,
                    self.settings.years.1,
                    r.history_dir.display()
                ),
                None => format!(
                    "the case was complete, but its history folder {} has gone",
                    r.history_dir.display()
                ),
            });
            return;
        }
        if !matches!(
            r.status,
            Status::Submitting | Status::Submitted | Status::Running
        ) {
            return;
        }
        match be.progress(self, r, owner) {
            Progress::Failed(why) => {
                r.status = Status::Failed;
                r.message = Some(why);
                r.finished = Some(crate::files::now_utc());
            }
            Progress::Ended if restart.is_some() => {
                r.status = Status::Failed;
                r.message = Some(format!(
                    "the run ended but its last restart {} is not in the archive",
                    restart.as_deref().unwrap_or(Path::new("")).display()
                ));
                r.finished = Some(crate::files::now_utc());
            }
            Progress::Ended => {
                let (a, z) = self.settings.years;
                r.status = Status::Failed;
                r.message = Some(match self.settings.scan(&r.case) {
                    Ok(c) => {
                        let m = c.missing_months((a, z));
                        format!(
                            "the run ended but {} months are missing from {} (first: {})",
                            m.len(),
                            r.history_dir.display(),
                            m.first().cloned().unwrap_or_default()
                        )
                    }
                    Err(_) => format!(
                        "the run ended but wrote no history files for years {a}-{z} in {}",
                        r.history_dir.display()
                    ),
                });
                r.finished = Some(crate::files::now_utc());
            }
            Progress::Rerun(why) => {
                r.status = Status::Created;
                r.message = Some(why);
            }
            Progress::Running => r.status = Status::Running,
            Progress::Queued(job) => {
                r.status = Status::Submitted;
                if r.job_id.is_none() {
                    r.job_id = job;
                }
                r.message = None;
            }
            Progress::Unchanged(Some(why)) => r.message = Some(why),
            Progress::Unchanged(None) => {}
        }
    }

    /// Reads every member's status (registry, CaseStatus, archive), saves changes, and
    /// writes `status.csv` (not in a dry run).
    pub fn status(&self) -> Result<Vec<Record>> {
        let mut recs = self.load_records()?;
        let be = self.backend()?;
        for r in &mut recs {
            let before = r.clone();
            self.refresh(be.as_ref(), r, false);
            if !self.settings.dry_run && r.status != Status::Planned && *r != before {
                self.registry().save(r)?;
            }
        }
        if !self.settings.dry_run && self.dir.join("members").is_dir() {
            self.registry().write_status_csv(&recs)?;
        }
        Ok(recs)
    }

    /// The members the later stages use, by the policy of `[cases] failed` ([`failed`]):
    /// every member complete, else an error naming each one that is not (its status,
    /// message and last log); with `"drop"`, the complete members and those that failed (or,
    /// with backend `none`, are missing from the archive) as dropped, an error still naming
    /// members not finished, and too few complete (fewer than 2).
    pub fn usable(&self) -> Result<Usable> {
        // an archive root that is not a folder is the problem of every member: said once
        crate::files::check_dir_input(&self.settings.archive_root, "[archive] root")?;
        let recs = self.status()?;
        let be = self.backend()?;
        let drop = self.settings.failed.then == failed::Then::Drop;
        let mut u = Usable::default();
        let mut bad = Vec::new();
        for (i, r) in recs.iter().enumerate() {
            let missing = !be.makes_cases() && r.status == Status::Planned;
            match r.status {
                Status::Complete => u.complete.push(i),
                Status::Failed if drop => u.dropped.push(failed::Dropped {
                    member: r.member.clone(),
                    case: r.case.clone(),
                    why: match (r.attempts, &r.message) {
                        (0 | 1, Some(m)) => format!("failed: {m}"),
                        (0 | 1, None) => "failed".into(),
                        (a, m) => format!(
                            "failed {a} times{}",
                            m.as_ref()
                                .map(|m| format!(", last: {m}"))
                                .unwrap_or_default()
                        ),
                    },
                }),
                _ if missing && drop => u.dropped.push(failed::Dropped {
                    member: r.member.clone(),
                    case: r.case.clone(),
                    why: format!("not in the archive: {}", self.archive_lack(r)),
                }),
                _ => bad.push(format!(
                    "{} {}{}{}",
                    r.case,
                    r.status.name(),
                    match (&r.message, missing) {
                        (_, true) => format!(
                            ": not in the archive (backend none runs nothing): {}",
                            self.archive_lack(r)
                        ),
                        (Some(m), false) => format!(": {m}"),
                        (None, false) => String::new(),
                    },
                    r.logs
                        .last()
                        .map(|l| format!(" (log {})", l.display()))
                        .unwrap_or_default()
                )),
            }
        }
        if !bad.is_empty() {
            bail!(
                "ensemble {}: {} of {} members are not complete ([cases] failed = {}): {}",
                self.name,
                bad.len(),
                recs.len(),
                self.settings.failed,
                bad.join("; ")
            );
        }
        if !u.dropped.is_empty() && u.complete.len() < 2 {
            bail!(
                "ensemble {}: {} of {} members complete, too few to go on without the {} that \
                 failed ([cases] failed = {}): {}",
                self.name,
                u.complete.len(),
                recs.len(),
                u.dropped.len(),
                self.settings.failed,
                failed::note(&self.name, u.complete.len(), &u.dropped).unwrap_or_default()
            );
        }
        Ok(u)
    }

    /// What the archive lacks of a member's case: `no history files in DIR`, or `DIR: N
    /// months of years A-B missing (first: M)`.
    fn archive_lack(&self, r: &Record) -> String {
        let (a, z) = self.settings.years;
        let m = self
            .settings
            .scan(&r.case)
            .map(|c| c.missing_months((a, z)))
            .unwrap_or_default();
        match m.first() {
            None => format!("no history files in {}", r.history_dir.display()),
            Some(first) => format!(
                "{}: {} months of years {a}-{z} missing (first: {first})",
                r.history_dir.display(),
                m.len()
            ),
        }
    }

    /// What a dry run of a stage that reads this ensemble finds, without writing anything:
    /// the members complete in the archive, notes (members the demo model would run now,
    /// members queued or running that the stage waits for) and problems (with backend `none`
    /// every member not complete, naming its history folder and missing months; with a
    /// batch backend members never submitted or failed).
    pub fn readiness(&self) -> Result<Readiness> {
        let recs = self.status()?;
        let be = self.backend()?;
        let mut ready = Readiness::default();
        let (mut to_run, mut waiting, mut absent) = (Vec::new(), Vec::new(), Vec::new());
        let mut dropped = Vec::new();
        for r in &recs {
            let case = crate::format::printable(&r.case);
            let drop = self.settings.failed.then == failed::Then::Drop;
            match r.status {
                Status::Complete => ready.complete.push(r.case.clone()),
                Status::Failed if drop && !be.runs_in_process() => dropped.push(case),
                _ if drop && !be.makes_cases() => dropped.push(case),
                _ if be.runs_in_process() => to_run.push(case),
                _ if !be.makes_cases() => {
                    let m = self
                        .settings
                        .scan(&r.case)
                        .map(|c| c.missing_months(self.settings.years))
                        .unwrap_or_default();
                    match m.first() {
                        None => absent.push((case, r.history_dir.clone())),
                        Some(first) => ready.problems.push(format!(
                            "{}: {case} is incomplete ({}: {} months missing, first {first})",
                            self.name,
                            crate::format::quote_path(&r.history_dir),
                            m.len()
                        )),
                    }
                }
                Status::Failed => ready.problems.push(format!(
                    "{}: {case} failed{}: resubmit it (02_ppe.rhai --resubmit-failed)",
                    self.name,
                    r.message
                        .as_ref()
                        .map(|m| format!(" ({})", crate::format::printable_message(m)))
                        .unwrap_or_default()
                )),
                Status::Submitting | Status::Submitted | Status::Running => waiting.push(case),
                Status::Planned | Status::Creating | Status::Created => {
                    ready.problems.push(format!(
                        "{}: {case} was never submitted: run 02_ppe.rhai first",
                        self.name
                    ))
                }
            }
        }
        let few = |v: &[String]| {
            if v.len() <= 5 {
                v.join(", ")
            } else {
                format!(
                    "{} ... {} ({} cases)",
                    v[..3].join(", "),
                    v[v.len() - 1],
                    v.len()
                )
            }
        };
        if !absent.is_empty() {
            let names: Vec<String> = absent.iter().map(|(c, _)| c.clone()).collect();
            ready.problems.push(format!(
                "{}: {} of {} cases are not in the archive (backend none runs nothing): {} (no history files in {}{})",
                self.name,
                absent.len(),
                recs.len(),
                few(&names),
                crate::format::quote_path(&absent[0].1),
                if absent.len() > 1 { ", ..." } else { "" }
            ));
        }
        if !to_run.is_empty() {
            ready.notes.push(format!(
                "{}: {} of {} members would be run now with {}: {}",
                self.name,
                to_run.len(),
                recs.len(),
                self.settings
                    .local_model
                    .map_or("the local model", |l| l.name),
                few(&to_run)
            ));
        }
        if !dropped.is_empty() {
            ready.notes.push(format!(
                "{}: {} of {} members failed or are missing and would be dropped ([cases] \
                 failed = {}): {}",
                self.name,
                dropped.len(),
                recs.len(),
                self.settings.failed,
                few(&dropped)
            ));
        }
        if !waiting.is_empty() {
            ready.notes.push(format!(
                "{}: {} of {} members are queued or running; the stage waits for them: {}",
                self.name,
                waiting.len(),
                recs.len(),
                few(&waiting)
            ));
        }
        Ok(ready)
    }

    fn save(&self, r: &Record) -> Result<()> {
        if self.settings.dry_run {
            return Ok(());
        }
        self.registry().save(r)
    }

    /// Writes `design.csv` (contract: member, case, one column per scaling, one per
    /// physical value) in the ensemble folder, or says it would.
    pub fn write_design_csv(&self) -> Result<PathBuf> {
        let p = self.dir.join("design.csv");
        if self.settings.dry_run {
            crate::output::println(&format!("write {}", p.display()));
            return Ok(p);
        }
        let mut head = vec!["member".to_string(), "case".to_string()];
        head.extend(self.params.iter().map(|p| p.name.clone()));
        for p in &self.params {
            head.extend(p.value_columns());
        }
        let num = crate::array::csv::fmt_number;
        crate::array::csv::write_records(
            &p,
            &head,
            self.members.iter().map(|m| {
                let mut row = vec![m.label.clone(), m.case.clone()];
                row.extend(m.scalings.iter().map(|s| s.map_or(String::new(), num)));
                for (p, s) in self.params.iter().zip(&m.scalings) {
                    row.extend(p.column_values(*s).into_iter().map(num));
                }
                row
            }),
        )?;
        Ok(p)
    }

    /// Makes the case of every member not yet made (and not complete in the archive).
    pub fn create(&self) -> Result<Vec<Record>> {
        let _lock = self.lock()?;
        for st in &self.chain {
            st.create_locked()?;
        }
        self.create_locked()
    }

    fn lock(&self) -> Result<Option<std::fs::File>> {
        if self.settings.dry_run {
            crate::output::println(&format!(
                "dry run: ensemble {} ({} members, backend {}); nothing is written",
                self.name,
                self.members.len(),
                self.settings.backend.kind
            ));
            return Ok(None);
        }
        self.registry().lock().map(Some)
    }

    fn create_locked(&self) -> Result<Vec<Record>> {
        self.create_locked_for(None)
    }

    /// [`Ensemble::create_locked`] for the members `only` marks (all if `None`): a stage of
    /// a chain makes no case for a member whose analysed run needs nothing more.
    fn create_locked_for(&self, only: Option<&[bool]>) -> Result<Vec<Record>> {
        let mut recs = self.load_records()?;
        self.write_design_csv()?;
        let be = self.backend()?;
        let mut missing = Vec::new();
        for (i, (m, r)) in self.members.iter().zip(recs.iter_mut()).enumerate() {
            let planned = r.status == Status::Planned;
            self.refresh(be.as_ref(), r, true);
            if planned && r.status == Status::Complete {
                // output this ensemble did not make: used as it is, unless its case says
                // it was made with other scalings
                self.check_found_case(m)?;
            }
            if !matches!(r.status, Status::Planned | Status::Creating)
                || only.is_some_and(|o| !o[i])
            {
                continue;
            }
            if !be.makes_cases() {
                let m = self
                    .settings
                    .scan(&r.case)
                    .map(|c| c.missing_months(self.settings.years))
                    .unwrap_or_default();
                missing.push(match m.first() {
                    None => format!(
                        "{} (no history files in {})",
                        r.case,
                        r.history_dir.display()
                    ),
                    Some(first) => format!(
                        "{} ({}: {} months missing, first {first})",
                        r.case,
                        r.history_dir.display(),
                        m.len()
                    ),
                });
                continue;
            }
            self.create_member(be.as_ref(), m, r)?;
        }
        if !missing.is_empty() && self.settings.failed.then != failed::Then::Drop {
            bail!(
                "backend none (existing output only): {} of {} cases are missing or incomplete \
                 for years {}-{}: {}",
                missing.len(),
                recs.len(),
                self.settings.years.0,
                self.settings.years.1,
                missing.join("; ")
            );
        }
        if !self.settings.dry_run {
            self.registry().write_status_csv(&recs)?;
        }
        Ok(recs)
    }

    /// A member whose case is complete in the archive although this ensemble never made it:
    /// an error if the case folder's `user_nl_clm` records other scalings (a case of another
    /// ensemble, or of an earlier calibration, under the same name), so that its output is
    /// never taken for this member's. A case without that record (made outside clmtune, or
    /// before clmtune recorded it) is used as it is, as the contract says.
    fn check_found_case(&self, m: &Member) -> Result<()> {
        let nl = self.case_dir(m).join("user_nl_clm");
        let Ok(text) = std::fs::read_to_string(&nl) else {
            return Ok(());
        };
        let Some(json) = text.lines().find_map(|l| l.strip_prefix(SCALINGS_LINE)) else {
            return Ok(());
        };
        let made: BTreeMap<String, Option<f64>> =
            serde_json::from_str(json.trim()).with_context(|| {
                format!(
                    "{}: the line {SCALINGS_LINE}... is not readable",
                    nl.display()
                )
            })?;
        let want = self.scaling_map(m);
        // a parameter either side leaves out is at its default (the default run of the
        // one-at-a-time ensemble names 16 parameters, that of the default ensemble none)
        let at = |s: &BTreeMap<String, Option<f64>>, k: &String| s.get(k).copied().flatten();
        let same = made
            .keys()
            .chain(want.keys())
            .all(|k| match (at(&made, k), at(&want, k)) {
                (Some(x), Some(y)) => (x - y).abs() <= 1e-12,
                (None, None) => true,
                _ => false,
            });
        if !same {
            bail!(
                "ensemble {}: member {}: case {} is complete in the archive ({}), but {} says it \
                 was made with scalings {}, and this member's are {}; its output is not this \
                 member's. Give this ensemble other case names (the config's [cases] pattern), \
                 or move that case's folder and output away",
                self.name,
                m.label,
                m.case,
                crate::archive::hist_dir(&self.settings.archive_root, &m.case).display(),
                nl.display(),
                scalings_json(&made),
                scalings_json(&want)
            );
        }
        Ok(())
    }

    fn create_member(&self, be: &dyn backend::Backend, m: &Member, r: &mut Record) -> Result<()> {
        let dir = self.case_dir(m);
        let mut run = Runner::new(self.settings.dry_run, self.dir.join("logs").join(&m.case));
        if self.settings.dry_run {
            crate::output::println(&format!("member {} -> case {}", m.label, m.case));
        }
        if dir.exists() {
            if r.status == Status::Creating && !self.settings.dry_run {
                // our own creation was interrupted: keep it aside, make it again
                let aside = dir.with_file_name(format!(
                    "{}.interrupted.{}",
                    m.case,
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0)
                ));
                std::fs::rename(&dir, &aside).with_context(|| {
                    format!("cannot move {} aside to {}", dir.display(), aside.display())
                })?;
                run.note(&format!(
                    "an interrupted creation was moved aside to {}",
                    aside.display()
                ))?;
            } else {
                bail!(
                    "member {}: case folder {} exists but this ensemble did not make it (registry \
                     {}); remove it, or change the case pattern",
                    m.label,
                    dir.display(),
                    self.registry().record_path(&m.label).display()
                );
            }
        }
        let (paramfile, vars, lines) = self.member_files(m)?;
        r.status = Status::Creating;
        r.paramfile = paramfile.clone();
        r.user_nl_clm = lines.clone();
        self.save(r)?;
        let made = be.create(self, m, &dir, &mut run).and_then(|()| {
            if let (Some(p), false) = (&paramfile, vars.is_empty()) {
                let base = self
                    .settings
                    .base_paramfile
                    .as_deref()
                    .unwrap_or(Path::new(""));
                if run.dry_run {
                    crate::output::println(&format!(
                        "  write {} = {} with:",
                        p.display(),
                        base.display()
                    ));
                    for v in &vars {
                        for w in &v.writes {
                            let mut at = if w.pfts.is_empty() {
                                "-".to_string()
                            } else {
                                compact(&w.pfts)
                            };
                            for (d, idx) in &v.dim_indices {
                                at.push_str(&format!(", {d} {}", compact(idx)));
                            }
                            crate::output::println(&format!(
                                "    {}[pft {at}] {} {:e}",
                                v.name,
                                if w.relative { "*=" } else { "=" },
                                w.value
                            ));
                        }
                    }
                } else {
                    paramfile::write_member_params(base, p, &vars)?;
                    run.note(&format!("wrote {}", p.display()))?;
                }
            }
            let mut all = vec![
                format!("! clmtune: member {} of ensemble {}", m.label, self.name),
                format!("{SCALINGS_LINE}{}", scalings_json(&self.scaling_map(m))),
            ];
            all.extend(lines.iter().cloned());
            run.append_lines(&dir.join("user_nl_clm"), &all)
        });
        r.logs = run.logs.clone();
        match made {
            Ok(()) => {
                r.status = Status::Created;
                r.created = Some(crate::files::now_utc());
                r.message = None;
                self.save(r)
            }
            Err(e) => {
                r.status = Status::Failed;
                r.message = Some(format!("creating the case failed: {e:#}"));
                self.save(r)?;
                Err(e.context(format!("member {} (case {})", m.label, m.case)))
            }
        }
    }

    /// Makes missing cases, then submits every created member (the local backend runs them,
    /// `parallel` at a time). Members already submitted, running, complete or failed are
    /// left alone.
    pub fn submit(&self) -> Result<Vec<Record>> {
        let _lock = self.lock()?;
        self.create_and_submit_locked()
    }

    /// Makes what is missing and submits what is made (the caller holds the lock); members
    /// that fail at once (a run in this process, a refused submission) and may be submitted
    /// again by `[cases] failed = { resubmit = N }` are submitted again. With a chain of
    /// runs, each stage of a member is submitted once the stage before it is complete, and a
    /// stage that failed for good is the member's failure.
    fn create_and_submit_locked(&self) -> Result<Vec<Record>> {
        let dry = self.settings.dry_run;
        loop {
            let n = self.members.len();
            let mut again = 0;
            // the members whose analysed run still needs its stages
            let needed: Vec<bool> = if self.chain.is_empty() {
                vec![true; n]
            } else {
                let be = self.backend()?;
                let mut recs = self.load_records()?;
                recs.iter_mut()
                    .map(|r| {
                        self.refresh(be.as_ref(), r, true);
                        matches!(
                            r.status,
                            Status::Planned | Status::Creating | Status::Created
                        )
                    })
                    .collect()
            };
            let mut ready = needed.clone();
            let mut stage_failed: Vec<Option<String>> = vec![None; n];
            for st in &self.chain {
                if dry {
                    let stage = st.settings.stage.as_ref();
                    crate::output::println(&format!(
                        "stage {} of {}: years {}-{}, cases {} ...",
                        stage.map_or("", |s| s.stage.stage.as_str()),
                        self.name,
                        stage.map_or(0, |s| s.years.0),
                        stage.map_or(0, |s| s.years.1),
                        st.members.first().map_or("", |m| m.case.as_str())
                    ));
                }
                let mut recs = st.create_locked_for(Some(&needed))?;
                let todo: Vec<usize> = (0..n)
                    .filter(|&i| ready[i] && recs[i].status == Status::Created)
                    .collect();
                st.submit_members(&mut recs, &todo)?;
                if !dry {
                    st.registry().write_status_csv(&recs)?;
                    again += st.mark_resubmissions(&mut recs)?;
                }
                for (i, r) in recs.iter().enumerate() {
                    if needed[i] && r.status == Status::Failed && stage_failed[i].is_none() {
                        stage_failed[i] = Some(format!(
                            "stage {} (case {}) failed{}",
                            st.name,
                            r.case,
                            r.message
                                .as_ref()
                                .map(|m| format!(": {m}"))
                                .unwrap_or_default()
                        ));
                    }
                    // a dry run shows every stage of every member
                    ready[i] &= dry || r.status == Status::Complete;
                }
            }
            if dry && !self.chain.is_empty() {
                crate::output::println(&format!(
                    "stage {} of {}: the analysed run, cases {} ...",
                    self.settings
                        .stage
                        .as_ref()
                        .map_or("", |s| s.stage.stage.as_str()),
                    self.name,
                    self.members.first().map_or("", |m| m.case.as_str())
                ));
            }
            let mut recs = self.create_locked()?;
            for (r, why) in recs.iter_mut().zip(&stage_failed) {
                if let (Some(why), false) = (why, r.status.settled()) {
                    r.status = Status::Failed;
                    r.message = Some(why.clone());
                    r.finished = Some(crate::files::now_utc());
                    self.save(r)?;
                }
            }
            let todo: Vec<usize> = (0..n)
                .filter(|&i| ready[i] && recs[i].status == Status::Created)
                .collect();
            self.submit_members(&mut recs, &todo)?;
            if !dry {
                self.registry().write_status_csv(&recs)?;
                again += self.mark_resubmissions(&mut recs)?;
            }
            if dry || again == 0 {
                return Ok(recs);
            }
        }
    }

    /// Whether a member may be submitted again by the policy (`[cases] failed = { resubmit =
    /// N }`): it failed, was submitted at most N times, and was not cancelled by the user.
    fn may_resubmit(&self, r: &Record) -> bool {
        r.status == Status::Failed
            && r.attempts > 0
            && self.settings.failed.may_resubmit(r.attempts)
            && !r
                .message
                .as_deref()
                .is_some_and(|m| m.starts_with("cancelled"))
    }

    /// Puts the members the policy submits again back to created (saved, the failure kept
    /// in the message and the log); how many.
    fn mark_resubmissions(&self, recs: &mut [Record]) -> Result<usize> {
        let mut n = 0;
        for r in recs.iter_mut().filter(|r| self.may_resubmit(r)) {
            let why = r.message.take().unwrap_or_else(|| "failed".into());
            crate::output::println(&format!(
                "{}: member {} (case {}) failed on attempt {} of {} ({}); submitting it again \
                 ([cases] failed = {})",
                self.name,
                r.member,
                r.case,
                r.attempts,
                self.settings.failed.resubmit + 1,
                crate::format::printable_message(&why),
                self.settings.failed
            ));
            r.status = Status::Created;
            r.message = Some(format!("resubmitted after attempt {}: {why}", r.attempts));
            r.finished = None;
            self.save(r)?;
            n += 1;
        }
        Ok(n)
    }

    /// Cancels the queued or running members through the backend (CIME: the case's batch
    /// system, `qdel`, `scancel` or `bkill` of the recorded job); each becomes failed,
    /// "cancelled", so that `resubmit_failed` runs it again. Members the backend cannot
    /// cancel keep their status; the error then names every one.
    pub fn cancel(&self) -> Result<Vec<Record>> {
        let _lock = self.lock()?;
        for st in &self.chain {
            st.cancel_locked()?;
        }
        self.cancel_locked()
    }

    /// [`Ensemble::cancel`] of this ensemble's own cases (the caller holds the lock).
    fn cancel_locked(&self) -> Result<Vec<Record>> {
        let be = self.backend()?;
        let mut recs = self.load_records()?;
        let mut errors = Vec::new();
        for r in recs.iter_mut() {
            self.refresh(be.as_ref(), r, true);
            if !matches!(
                r.status,
                Status::Submitting | Status::Submitted | Status::Running
            ) {
                continue;
            }
            let mut run = Runner::new(self.settings.dry_run, self.dir.join("logs").join(&r.case));
            run.logs = r.logs.clone();
            match be.cancel(self, r, &mut run) {
                Ok(()) => {
                    r.logs = run.logs;
                    r.status = Status::Failed;
                    r.message = Some(match &r.job_id {
                        Some(j) => format!("cancelled (job {j})"),
                        None => "cancelled".into(),
                    });
                    r.finished = Some(crate::files::now_utc());
                    self.save(r)?;
                }
                Err(e) => errors.push(format!("member {} ({}): {e:#}", r.member, r.case)),
            }
        }
        if !self.settings.dry_run && self.dir.join("members").is_dir() {
            self.registry().write_status_csv(&recs)?;
        }
        if !errors.is_empty() {
            bail!(
                "ensemble {}: {} member(s) not cancelled: {}",
                self.name,
                errors.len(),
                errors.join("; ")
            );
        }
        Ok(recs)
    }

    /// Submits the failed members again (after the cause was fixed): a case that was made is
    /// submitted again; a case whose creation failed is made again first.
    pub fn resubmit_failed(&self) -> Result<Vec<Record>> {
        let _lock = self.lock()?;
        for e in self.chain.iter().chain([self]) {
            let mut recs = e.load_records()?;
            for r in recs.iter_mut().filter(|r| r.status == Status::Failed) {
                r.status = if r.created.is_some() {
                    Status::Created
                } else {
                    Status::Creating
                };
                r.message = Some("resubmitted after a failure".into());
                r.finished = None;
                e.save(r)?;
            }
        }
        self.create_and_submit_locked()
    }

    fn submit_members(&self, recs: &mut [Record], todo: &[usize]) -> Result<()> {
        if todo.is_empty() {
            return Ok(());
        }
        let be = self.backend()?;
        let parallel = be.parallel().max(1);
        let bar = crate::progress::bar(todo.len() as u64, &format!("{} {}", be.name(), self.name));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: std::sync::Mutex<Vec<(usize, Record, Option<anyhow::Error>)>> =
            std::sync::Mutex::new(Vec::new());
        let work = |i: usize, mut r: Record| -> (Record, Option<anyhow::Error>) {
            let m = &self.members[i];
            let mut run = Runner::new(self.settings.dry_run, self.dir.join("logs").join(&m.case));
            run.logs = r.logs.clone();
            if self.settings.dry_run {
                crate::output::println(&format!("member {} -> submit case {}", m.label, m.case));
            }
            r.status = Status::Submitting;
            r.submitted = Some(crate::files::now_utc());
            r.attempts += 1;
            if let Err(e) = self.save(&r) {
                return (r, Some(e));
            }
            let out = be.submit(self, m, &self.case_dir(m), &mut run);
            r.logs = run.logs.clone();
            let err = match out {
                Ok(job) => {
                    r.job_id = job.or(r.job_id.take());
                    r.status = Status::Submitted;
                    r.message = None;
                    self.refresh(be.as_ref(), &mut r, false);
                    if be.runs_in_process() && !self.settings.dry_run && !r.status.settled() {
                        r.status = Status::Failed;
                        r.message = Some(format!(
                            "the {} ended without a complete archive",
                            self.settings.local_model.map_or("local model", |l| l.name)
                        ));
                    }
                    None
                }
                Err(e) => {
                    if let Some(job) = be.handed_over(self, &self.case_dir(m)) {
                        // the tool failed after the job was handed over: it is submitted
                        r.status = Status::Submitted;
                        r.job_id = job;
                        r.message = Some(format!(
                            "case.submit reported an error after submitting: {e:#}"
                        ));
                        None
                    } else {
                        r.status = Status::Failed;
                        r.message = Some(format!("{e:#}"));
                        r.finished = Some(crate::files::now_utc());
                        Some(e)
                    }
                }
            };
            if let Err(e) = self.save(&r) {
                return (r, Some(e));
            }
            (r, err)
        };
        std::thread::scope(|s| {
            for _ in 0..parallel.min(todo.len()) {
                s.spawn(|| loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(&i) = todo.get(k) else { break };
                    let r = recs[i].clone();
                    let (r, e) = work(i, r);
                    bar.inc(1);
                    if let Ok(mut v) = results.lock() {
                        v.push((i, r, e));
                    }
                });
            }
        });
        bar.finish_and_clear();
        let mut errors = Vec::new();
        for (i, r, e) in results.into_inner().unwrap_or_default() {
            if let Some(e) = e {
                errors.push(format!("{} ({}): {e:#}", r.member, r.case));
            }
            recs[i] = r;
        }
        if !errors.is_empty() && be.makes_cases() && !be.runs_in_process() {
            // a failed submission stops nothing else, but is reported
            crate::output::println(&format!(
                "{} submissions failed: {}",
                errors.len(),
                errors.join("; ")
            ));
        }
        Ok(())
    }

    /// Waits until every member is complete or failed, refreshing every `poll` seconds, with
    /// a progress bar. Past `timeout` seconds it is an error saying how many are pending.
    pub fn wait(&self, timeout: f64, poll: f64) -> Result<Vec<Record>> {
        let t0 = std::time::Instant::now();
        let bar = crate::progress::bar(self.members.len() as u64, &format!("wait {}", self.name));
        let makes_cases = self.backend()?.makes_cases();
        // with backend none and "drop", a member missing from the archive is dropped
        let missing_dropped = !makes_cases && self.settings.failed.then == failed::Then::Drop;
        loop {
            let mut recs = self.status()?;
            // a chain's next stages, and [cases] failed = { resubmit = N }: submitted by this
            // process, unless another one holds the ensemble (it submits them then)
            let advance = !self.chain.is_empty()
                && recs
                    .iter()
                    .any(|r| matches!(r.status, Status::Creating | Status::Created));
            if !self.settings.dry_run && (advance || recs.iter().any(|r| self.may_resubmit(r))) {
                if let Ok(_lock) = self.registry().lock() {
                    let mut now = self.status()?;
                    self.mark_resubmissions(&mut now)?;
                    self.create_and_submit_locked()?;
                    recs = self.status()?;
                }
            }
            let done = recs
                .iter()
                .filter(|r| r.status.settled() || (missing_dropped && r.status == Status::Planned))
                .count();
            bar.set_position(done as u64);
            if done == recs.len() || self.settings.dry_run {
                bar.finish_and_clear();
                return Ok(recs);
            }
            if let Some(r) = recs.iter().find(|r| r.status == Status::Planned) {
                bar.finish_and_clear();
                if !makes_cases {
                    // nothing can be submitted: say what the archive lacks
                    let missing: Vec<&Record> = recs
                        .iter()
                        .filter(|r| r.status == Status::Planned)
                        .collect();
                    let first = self
                        .settings
                        .scan(&r.case)
                        .map(|c| c.missing_months(self.settings.years))
                        .unwrap_or_default();
                    bail!(
                        "ensemble {}: {} member(s) missing from the archive (backend none submits nothing; run them elsewhere or point [archive] root at their output): member {} (case {}) has {} in {}{}",
                        self.name,
                        missing.len(),
                        r.member,
                        r.case,
                        match first.first() {
                            Some(m) => format!(
                                "{} month(s) of years {}-{} missing (first: {m})",
                                first.len(),
                                self.settings.years.0,
                                self.settings.years.1
                            ),
                            None => "no history files".to_string(),
                        },
                        r.history_dir.display(),
                        if missing.len() > 1 {
                            format!(
                                "; also {}",
                                missing[1..]
                                    .iter()
                                    .take(10)
                                    .map(|r| r.case.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        } else {
                            String::new()
                        }
                    );
                }
                bail!(
                    "ensemble {}: member {} (case {}) was never submitted: submit it first \
                     (ens.submit(), as 02_ppe.rhai does)",
                    self.name,
                    r.member,
                    r.case
                );
            }
            if t0.elapsed().as_secs_f64() >= timeout {
                bar.finish_and_clear();
                let pending: Vec<String> = recs
                    .iter()
                    .filter(|r| !r.status.settled())
                    .map(|r| format!("{} {}", r.case, r.status.name()))
                    .collect();
                bail!(
                    "ensemble {}: waited {timeout} s; {} of {} members are not finished ({}{})",
                    self.name,
                    pending.len(),
                    recs.len(),
                    pending
                        .iter()
                        .take(5)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    if pending.len() > 5 { ", ..." } else { "" }
                );
            }
            let pause = poll_pause(poll, timeout - t0.elapsed().as_secs_f64());
            let until = std::time::Instant::now() + pause;
            while std::time::Instant::now() < until {
                if let Err(e) = crate::interrupt::check() {
                    bar.finish_and_clear();
                    return Err(e.context(format!(
                        "ensemble {}: stopped waiting (the members keep running; wait again later)",
                        self.name
                    )));
                }
                std::thread::sleep(
                    until
                        .saturating_duration_since(std::time::Instant::now())
                        .min(std::time::Duration::from_millis(100)),
                );
            }
        }
    }
}

/// The pause between two status polls: `poll` seconds, but at least 10 ms, at most one day
/// and never past the `remaining` time of the wait, so that any number (1e300, NaN) gives a
/// valid pause.
pub fn poll_pause(poll: f64, remaining: f64) -> std::time::Duration {
    let s = if poll.is_nan() { 30.0 } else { poll };
    let limit = if remaining.is_nan() {
        86400.0
    } else {
        remaining.min(86400.0)
    };
    std::time::Duration::from_secs_f64(s.min(limit).max(0.01))
}

/// `1-3,7` style text of a sorted index list.
pub fn compact(idx: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && idx[j + 1] == idx[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            idx[i].to_string()
        } else {
            format!("{}-{}", idx[i], idx[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// The experiment's ensembles, as the config defines them: made from a [`Source`], the
/// sections of the config an ensemble reads, which the config builds (`From<&Config>` in
/// `config.rs`), so that this layer never names the config.
pub mod from_config {
    use super::*;
    use serde::{Deserialize, Serialize};

    /// `[cases]`: case-name patterns and designs.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Cases {
        /// The default-parameter run.
        pub default: String,
        /// One-at-a-time runs (`{param}`, `{end}`).
        pub oaat: Option<String>,
        /// Perturbed-parameter ensemble (`{member}`).
        pub ppe: Option<String>,
        /// Its design (scalings in [0, 1]).
        pub ppe_design: Option<PathBuf>,
        /// Members of a design made when `ppe_design` does not exist yet.
        pub ppe_members: Option<usize>,
        /// A second, independent ensemble.
        pub ppe_test: Option<String>,
        /// Its design.
        pub ppe_test_design: Option<PathBuf>,
        /// The test case's runs of calibrated parameters (`{member}`; 07_test_case.rhai's
        /// default: `EXPERIMENT_opt_{member}`).
        pub test_case: Option<String>,
        /// What a failed member does: `"stop"` (default), `"drop"`, `{ resubmit = N }` or
        /// `{ resubmit = N, then = "drop" }` ([`super::failed`]).
        #[serde(default)]
        pub failed: super::failed::Failed,
    }

    /// `[parameters]`.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Parameters {
        /// The parameter spec (contract section 2).
        pub spec: PathBuf,
        /// Parameters of the one-at-a-time stage (empty = all in the spec).
        #[serde(default)]
        pub sensitivity: Vec<String>,
        /// Parameters to calibrate.
        #[serde(default)]
        pub calibrate: Vec<String>,
    }

    /// What an ensemble is made from: the sections of the experiment config it reads.
    #[derive(Debug, Clone)]
    pub struct Source {
        /// The config file (named in errors; its folder holds `cases/` by default).
        pub path: PathBuf,
        /// `[experiment] name`.
        pub experiment: String,
        /// `[experiment] seed`.
        pub seed: u64,
        /// `[archive] root`.
        pub archive_root: PathBuf,
        /// `[archive] years`.
        pub years: [i64; 2],
        /// `[archive] min_coverage`.
        pub min_coverage: f64,
        /// `[cases]`.
        pub cases: Cases,
        /// `[parameters]`.
        pub parameters: Parameters,
        /// `[backend]`.
        pub backend: backend::Section,
        /// `[output] dir`.
        pub output_dir: PathBuf,
    }

    /// The config's parameter spec, read once per file version ([`Spec::load_cached`]).
    fn spec(cfg: &Source) -> Result<Spec> {
        Spec::load_cached(&cfg.parameters.spec)
            .with_context(|| format!("config {}", cfg.path.display()))
    }

    /// The default run's scaling of each calibrated parameter (`[parameters] calibrate`), as
    /// [`Parameter::default_scaling`]: (name, mean over groups, lowest, highest); an error
    /// names a parameter whose default is unknown.
    pub fn default_scalings(cfg: impl Into<Source>) -> Result<Vec<(String, f64, f64, f64)>> {
        let cfg: Source = cfg.into();
        let spec = spec(&cfg)?;
        cfg.parameters
            .calibrate
            .iter()
            .map(|name| {
                let p = spec.get(name)?;
                let (m, lo, hi) = p.default_scaling().with_context(|| {
                    format!(
                        "parameter {name}: its default is not known (give `default` in {}, or a base_paramfile where each group has one value)",
                        spec.path.display()
                    )
                })?;
                Ok((name.clone(), m, lo, hi))
            })
            .collect()
    }

    /// The perturbed-parameter ensemble (`which` = `ppe`) or the second, independent one
    /// (`ppe_test`) of the calibrated parameters: the design from `[cases] ppe_design`, or, if
    /// that file does not exist yet, a seeded maximin Latin hypercube of `ppe_members` saved
    /// there. Kept in `OUT/ppe` (or `OUT/ppe_test`).
    pub fn ppe(cfg: impl Into<Source>, which: &str, dry_run: bool) -> Result<Ensemble> {
        let cfg: Source = cfg.into();
        let (pattern, design_path) = match which {
            "ppe" => (&cfg.cases.ppe, &cfg.cases.ppe_design),
            "ppe_test" => (&cfg.cases.ppe_test, &cfg.cases.ppe_test_design),
            w => bail!(
                "no ensemble '{w}' in the config: use ppe or ppe_test",
                w = crate::format::printable(w)
            ),
        };
        let pattern = pattern.as_ref().with_context(|| {
            format!(
                "config {}: [cases] has no {which} pattern",
                cfg.path.display()
            )
        })?;
        let spec = spec(&cfg)?;
        let params = spec.select(&cfg.parameters.calibrate)?;
        if cfg.parameters.calibrate.is_empty() {
            bail!(
                "config {}: [parameters] calibrate is empty",
                cfg.path.display()
            );
        }
        let names: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
        let design = match design_path {
            Some(p) if p.exists() => Design::read_csv(p, &names)?,
            other => {
                let n = cfg.cases.ppe_members.with_context(|| {
                    format!(
                        "config {}: no design file and no [cases] ppe_members to make one",
                        cfg.path.display()
                    )
                })?;
                let seed = derive_seed(cfg.seed, which);
                let d = Design::latin_hypercube(&names, n, seed, true)?;
                if let Some(p) = other {
                    if dry_run {
                        crate::output::println(&format!(
                            "dry run: write {} ({}, {} members)",
                            p.display(),
                            d.origin,
                            n
                        ));
                    } else {
                        d.write_csv(p)?;
                    }
                }
                d
            }
        };
        let cases = case_names(&design, pattern, None)?;
        let settings = Settings::from_source(&cfg, &spec, dry_run);
        Ensemble::new(
            which,
            &cfg.output_dir.join(which),
            params,
            design,
            cases,
            settings,
        )
    }

    /// The one-at-a-time runs of the sensitivity stage: the default case, then min and max
    /// of each `[parameters] sensitivity` parameter (all of the spec if empty). Kept in
    /// `OUT/oaat`.
    pub fn oaat(cfg: impl Into<Source>, dry_run: bool) -> Result<Ensemble> {
        let cfg: Source = cfg.into();
        let spec = spec(&cfg)?;
        let params = spec.select(&cfg.parameters.sensitivity)?;
        let pattern = cfg.cases.oaat.as_ref().with_context(|| {
            format!("config {}: [cases] has no oaat pattern", cfg.path.display())
        })?;
        let design = Design::one_at_a_time(&params);
        let cases = case_names(&design, pattern, Some(&cfg.cases.default))?;
        let mut settings = Settings::from_source(&cfg, &spec, dry_run);
        // every one of these runs is needed: a failure stops, whatever the policy
        settings.failed = settings.failed.never_drop();
        Ensemble::new(
            "oaat",
            &cfg.output_dir.join("oaat"),
            params,
            design,
            cases,
            settings,
        )
    }

    /// The default-parameter run (`[cases] default`) as a one-member ensemble with no
    /// parameters varied, kept in `OUT/default`: the run every stage compares against.
    pub fn default_run(cfg: impl Into<Source>, dry_run: bool) -> Result<Ensemble> {
        let cfg: Source = cfg.into();
        let spec = spec(&cfg)?;
        let design = Design::single(&[], &[], "default")?;
        let cases = vec![crate::archive::case_name(
            &cfg.cases.default,
            None,
            None,
            None,
        )?];
        let mut settings = Settings::from_source(&cfg, &spec, dry_run);
        // every one of these runs is needed: a failure stops, whatever the policy
        settings.failed = settings.failed.never_drop();
        Ensemble::new(
            "default",
            &cfg.output_dir.join("default"),
            Vec::new(),
            design,
            cases,
            settings,
        )
    }

    /// An ensemble of given parameter sets (e.g. an optimum): `rows` of scalings over
    /// `names` (spec order as given), case names from `pattern` (`{member}` = 1..), kept in
    /// `OUT/NAME`.
    pub fn custom(
        cfg: impl Into<Source>,
        name: &str,
        names: &[String],
        rows: &[Vec<f64>],
        pattern: &str,
        dry_run: bool,
    ) -> Result<Ensemble> {
        let cfg: Source = cfg.into();
        check_name(name, "ensemble name")?;
        let spec = spec(&cfg)?;
        // exactly these (none: a run at the defaults)
        let params: Vec<Parameter> = names
            .iter()
            .map(|n| spec.get(n).cloned())
            .collect::<Result<_>>()?;
        let mut members = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let d = Design::single(names, r, &(i + 1).to_string())
                .with_context(|| format!("ensemble {name}, member {}", i + 1))?;
            members.extend(d.members);
        }
        let design = Design {
            names: names.to_vec(),
            members,
            origin: "given".into(),
        };
        let cases = case_names(&design, pattern, None)?;
        let mut settings = Settings::from_source(&cfg, &spec, dry_run);
        // every one of these runs is needed: a failure stops, whatever the policy
        settings.failed = settings.failed.never_drop();
        Ensemble::new(
            name,
            &cfg.output_dir.join(name),
            params,
            design,
            cases,
            settings,
        )
    }
}

/// The `user_nl_clm` comment that records a member's scalings, as JSON (`null` = default).
const SCALINGS_LINE: &str = "! clmtune: scalings ";

/// Scalings as one line of JSON, in parameter-name order (`null` = default).
fn scalings_json(s: &BTreeMap<String, Option<f64>>) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_of_files_are_checked_in_the_words_of_their_owner() {
        assert!(super::check_name("wave_2", "ensemble name").is_ok());
        let e = super::check_name("bad/x", "ensemble name")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("ensemble name 'bad/x' may hold only"), "{e}");
        let e = super::check_label("a\nb").unwrap_err().to_string();
        assert!(e.starts_with("member label 'a\\nb'"), "{e}");
    }

    #[test]
    fn any_poll_gives_a_valid_pause() {
        use std::time::Duration;
        // issue 18: poll 1e300 panicked converting to a Duration
        assert_eq!(super::poll_pause(1e300, 5.0), Duration::from_secs(5));
        assert_eq!(super::poll_pause(1e300, 1e300), Duration::from_secs(86400));
        assert_eq!(super::poll_pause(2.0, 1e300), Duration::from_secs(2));
        assert_eq!(super::poll_pause(0.0, 5.0), Duration::from_millis(10));
        assert_eq!(super::poll_pause(2.0, -3.0), Duration::from_millis(10));
        assert_eq!(
            super::poll_pause(f64::NAN, f64::NAN),
            Duration::from_secs(30)
        );
        assert_eq!(
            super::poll_pause(f64::INFINITY, 1.5),
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn the_ensemble_machinery_knows_no_model() {
        // the demo model is supplied by the caller (`Ensemble::with_local_model`): no file of
        // this folder may import it
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ensemble");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                let needle = ["crate", "::demo"].concat();
                assert!(!text.contains(&needle), "{} mentions {needle}", p.display());
                seen += 1;
            }
        }
        assert!(seen >= 8, "only {seen} files read in {}", dir.display());
    }
}
