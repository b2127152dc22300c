//! The registry of an ensemble: one JSON record per member in `DIR/members/`, each replaced
//! atomically on every change, so a kill at any moment leaves every record whole. Status is
//! read back from CIME's `CaseStatus` and from the archive (complete = every expected
//! history month present); `status.csv` is the readable summary.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// In the design, nothing made yet.
    Planned,
    /// Its case is being made (an interrupted creation is redone).
    Creating,
    /// Case folder ready to submit.
    Created,
    /// `case.submit` was started; without an outcome it is never started again.
    Submitting,
    /// Handed to the batch system (or queued to run locally).
    Submitted,
    /// Running.
    Running,
    /// Every expected history month is in the archive.
    Complete,
    /// Creation, submission or the run failed (see `message` and `logs`).
    Failed,
}

impl Status {
    /// The lower-case name used in files.
    pub fn name(self) -> &'static str {
        match self {
            Status::Planned => "planned",
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Submitting => "submitting",
            Status::Submitted => "submitted",
            Status::Running => "running",
            Status::Complete => "complete",
            Status::Failed => "failed",
        }
    }

    /// Whether nothing more will happen without an explicit call.
    pub fn settled(self) -> bool {
        matches!(self, Status::Complete | Status::Failed)
    }
}

/// The durable record of one member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Member label.
    pub member: String,
    /// Case name.
    pub case: String,
    /// Status.
    pub status: Status,
    /// Batch job id (`case.run`), if submitted through CIME.
    pub job_id: Option<String>,
    /// The case folder.
    pub case_dir: PathBuf,
    /// Where its history files go (`ARCHIVE/CASE/lnd/hist`).
    pub history_dir: PathBuf,
    /// Scalings by parameter (`null` = default).
    pub scalings: BTreeMap<String, Option<f64>>,
    /// The member's params file, if it has one.
    pub paramfile: Option<PathBuf>,
    /// The lines added to `user_nl_clm`.
    pub user_nl_clm: Vec<String>,
    /// Log files of the commands run for this member.
    pub logs: Vec<PathBuf>,
    /// Backend that made it.
    pub backend: String,
    /// When the case was created (UTC).
    pub created: Option<String>,
    /// When it was submitted (UTC).
    pub submitted: Option<String>,
    /// When it was seen complete or failed (UTC).
    pub finished: Option<String>,
    /// Why it failed, or a note.
    pub message: Option<String>,
    /// How many times it was submitted (`[cases] failed = { resubmit = N }` allows N + 1).
    #[serde(default)]
    pub attempts: u32,
}

/// The registry folder of an ensemble.
#[derive(Debug, Clone)]
pub struct Registry {
    /// The ensemble folder (`results/ppe`).
    pub dir: PathBuf,
}

impl Registry {
    /// The record file of `member`.
    pub fn record_path(&self, member: &str) -> PathBuf {
        self.dir.join("members").join(format!("{member}.json"))
    }

    /// Reads a member's record, if there is one.
    pub fn load(&self, member: &str) -> Result<Option<Record>> {
        let p = self.record_path(member);
        if !p.exists() {
            return Ok(None);
        }
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        let r: Record = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a clmtune member record", p.display()))?;
        Ok(Some(r))
    }

    /// Writes a member's record atomically.
    pub fn save(&self, r: &Record) -> Result<()> {
        let p = self.record_path(&r.member);
        let text = serde_json::to_string_pretty(r)?;
        crate::files::atomic_write(&p, |w| Ok(w.write_all(text.as_bytes())?))
    }

    /// Writes `status.csv`: member, case, status, job_id, history_dir (+ message).
    pub fn write_status_csv(&self, records: &[Record]) -> Result<()> {
        let p = self.dir.join("status.csv");
        crate::array::csv::write_records(
            &p,
            &[
                "member",
                "case",
                "status",
                "job_id",
                "history_dir",
                "message",
            ],
            records.iter().map(|r| {
                [
                    r.member.clone(),
                    r.case.clone(),
                    r.status.name().to_string(),
                    r.job_id.clone().unwrap_or_default(),
                    r.history_dir.display().to_string(),
                    r.message.clone().unwrap_or_default(),
                ]
            }),
        )
    }

    /// Takes the ensemble's lock (`DIR/.lock`) for as long as the returned file lives, so two
    /// clmtune processes never submit the same ensemble at once.
    pub fn lock(&self) -> Result<std::fs::File> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let p = self.dir.join(".lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .with_context(|| format!("cannot open {}", p.display()))?;
        match f.try_lock() {
            Ok(()) => Ok(f),
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "{}: another clmtune process is working on this ensemble (lock {})",
                self.dir.display(),
                p.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", p.display()))
            }
        }
    }
}

/// What a case's `CaseStatus` says last about submission and the run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaseStatus {
    /// `case.submit starting` seen.
    pub submit_started: bool,
    /// `case.submit success ...` seen; the job ids it lists (`case.run:12345, ...`).
    pub submitted: Option<String>,
    /// `case.submit error` seen.
    pub submit_error: Option<String>,
    /// `case.run starting` seen after the last submission.
    pub run_started: bool,
    /// `case.run success` seen.
    pub run_success: bool,
    /// `case.run error` text.
    pub run_error: Option<String>,
    /// `st_archive success` seen.
    pub archived: bool,
}

/// Reads the `CaseStatus` file of a case folder (absent = nothing happened yet). A new
/// `case.submit starting` resets what earlier runs said.
pub fn read_case_status(case_dir: &Path) -> CaseStatus {
    let mut s = CaseStatus::default();
    let Ok(text) = std::fs::read_to_string(case_dir.join("CaseStatus")) else {
        return s;
    };
    for line in text.lines() {
        // "YYYY-MM-DD HH:MM:SS: case.run starting"
        let msg = line.splitn(4, ':').nth(3).map(str::trim).unwrap_or("");
        let rest = |p: &str| msg.strip_prefix(p).map(|r| r.trim().to_string());
        if msg.starts_with("case.submit starting") {
            s = CaseStatus {
                submit_started: true,
                ..CaseStatus::default()
            };
        } else if let Some(r) = rest("case.submit success") {
            s.submitted = Some(r);
        } else if let Some(r) = rest("case.submit error") {
            s.submit_error = Some(r);
        } else if msg.starts_with("case.run starting") {
            s.run_started = true;
            s.run_success = false;
            s.run_error = None;
            s.archived = false;
        } else if msg.starts_with("case.run success") {
            s.run_success = true;
        } else if let Some(r) = rest("case.run error") {
            s.run_error = Some(if r.is_empty() {
                "case.run error".into()
            } else {
                r
            });
        } else if msg.starts_with("st_archive success") {
            s.archived = true;
        }
    }
    s
}

/// The `case.run` job id in CIME's text: `Submitted job case.run with id 12345` (stdout of
/// `case.submit`) or `case.run:12345, case.st_archive:12346` (CaseStatus, JOB_IDS).
pub fn job_id(text: &str) -> Option<String> {
    for line in text.lines() {
        if let Some(r) = line.split("Submitted job case.run with id ").nth(1) {
            return r.split_whitespace().next().map(str::to_string);
        }
    }
    text.split(',')
        .find_map(|p| p.trim().strip_prefix("case.run:"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_status_lines() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("CaseStatus"),
            "2026-01-01 10:00:00: case.setup starting\n ---\n2026-01-01 10:00:01: case.submit starting\n\
             2026-01-01 10:00:02: case.submit success case.run:4711.desched1, case.st_archive:4712\n\
             2026-01-01 10:05:00: case.run starting\n",
        )
        .unwrap();
        let s = read_case_status(d.path());
        assert!(s.submit_started && s.run_started && !s.run_success);
        assert_eq!(
            job_id(s.submitted.as_deref().unwrap()).as_deref(),
            Some("4711.desched1")
        );
        assert_eq!(
            job_id("INFO: Submitted job case.run with id 99\nSubmitted job case.st_archive with id 100").as_deref(),
            Some("99")
        );
        assert_eq!(job_id("nothing"), None);
        assert_eq!(
            read_case_status(Path::new("/nonexistent")),
            CaseStatus::default()
        );
    }
}
