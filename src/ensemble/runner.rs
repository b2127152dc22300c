//! What a backend does to the file system and the outside world, done or (with `--dry-run`)
//! only printed: commands as argument vectors (never a shell string) in a clean environment,
//! each with its output in a log file per member; files written; lines appended.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Runs or prints.
#[derive(Debug, Clone)]
pub struct Runner {
    /// Print instead of doing.
    pub dry_run: bool,
    /// The folder of this member's logs.
    pub log_dir: PathBuf,
    /// Logs written so far.
    pub logs: Vec<PathBuf>,
}

/// Quotes an argument for display the way a shell would need it (display only; commands are
/// never run through a shell).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The environment CIME's tools get: this one without an active Python virtual environment
/// (VIRTUAL_ENV, its `bin` on PATH, PYTHONHOME, PYTHONPATH), which breaks batch submission.
pub fn clean_env() -> Vec<(String, String)> {
    let venv = std::env::var("VIRTUAL_ENV").ok();
    std::env::vars()
        .filter(|(k, _)| !matches!(k.as_str(), "VIRTUAL_ENV" | "PYTHONHOME" | "PYTHONPATH"))
        .map(|(k, v)| {
            if k == "PATH" {
                if let Some(venv) = &venv {
                    let bin = Path::new(venv).join("bin");
                    let kept: Vec<&str> = v.split(':').filter(|p| Path::new(p) != bin).collect();
                    return (k, kept.join(":"));
                }
            }
            (k, v)
        })
        .collect()
}

impl Runner {
    /// A runner logging into `log_dir`.
    pub fn new(dry_run: bool, log_dir: PathBuf) -> Runner {
        Runner {
            dry_run,
            log_dir,
            logs: Vec::new(),
        }
    }

    /// Runs `argv` in `cwd` with the clean environment; its output (stdout and stderr) goes
    /// to the next numbered log. Returns that output. A non-zero exit is an error naming the command and the log.
    pub fn run(&mut self, argv: &[String], cwd: &Path) -> Result<String> {
        let shown: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
        if self.dry_run {
            crate::output::println(&format!(
                "  run: (cd {} && {})",
                shell_quote(&cwd.display().to_string()),
                shown.join(" ")
            ));
            return Ok(String::new());
        }
        let (status, stdout, log) = self.exec(argv, cwd)?;
        if !status.success() {
            let last = stdout
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .to_string();
            bail!(
                "{} failed ({}) in {}: {last} (log {})",
                shown.join(" "),
                status,
                cwd.display(),
                log.display()
            );
        }
        Ok(stdout)
    }

    /// Runs a question such as `./xmlquery --value VAR` in `cwd`, logged like [`Runner::run`]:
    /// its output when it succeeds, `Err(last line of its output)` when it exits non-zero
    /// (e.g. the case has no such variable). In a dry run the command is printed and the
    /// answer is `Err("dry run")`.
    pub fn ask(
        &mut self,
        argv: &[String],
        cwd: &Path,
    ) -> Result<std::result::Result<String, String>> {
        if self.dry_run {
            self.run(argv, cwd)?;
            return Ok(Err("dry run".into()));
        }
        let (status, stdout, _) = self.exec(argv, cwd)?;
        if status.success() {
            Ok(Ok(stdout.trim().to_string()))
        } else {
            Ok(Err(stdout
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string()))
        }
    }

    /// Runs `argv` in `cwd` with its output in the next log: exit status, output, log.
    fn exec(
        &mut self,
        argv: &[String],
        cwd: &Path,
    ) -> Result<(std::process::ExitStatus, String, PathBuf)> {
        let shown: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
        std::fs::create_dir_all(&self.log_dir)
            .with_context(|| format!("cannot create {}", self.log_dir.display()))?;
        let tool = Path::new(&argv[0])
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        let log = self
            .log_dir
            .join(format!("{:02}-{tool}.log", self.logs.len() + 1));
        // `./tool` is the case folder's tool, whatever this process's folder
        let program = match argv[0].strip_prefix("./") {
            Some(t) => cwd.join(t),
            None => PathBuf::from(&argv[0]),
        };
        // the tool writes straight into its log, so its output survives this process
        // being killed (a broken pipe could stop case.submit half-way)
        std::fs::write(
            &log,
            format!(
                "$ (cd {} && {})\n# started {}\n",
                cwd.display(),
                shown.join(" "),
                crate::files::now_utc()
            ),
        )
        .with_context(|| format!("cannot write {}", log.display()))?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot write {}", log.display()))?;
        let err_file = file
            .try_clone()
            .with_context(|| format!("cannot write {}", log.display()))?;
        let status = crate::files::command(&program)
            .args(&argv[1..])
            .current_dir(cwd)
            .env_clear()
            .envs(clean_env())
            .stdin(std::process::Stdio::null())
            .stdout(file)
            .stderr(err_file)
            .status()
            .map_err(|e| {
                let why = match e.kind() {
                    std::io::ErrorKind::NotFound => format!(
                        "{} is not a program on PATH or in {}",
                        argv[0],
                        cwd.display()
                    ),
                    std::io::ErrorKind::PermissionDenied => {
                        format!("{} is not executable", argv[0])
                    }
                    _ => crate::files::os_text(&e),
                };
                anyhow::anyhow!(
                    "cannot run {} (in {}): {why}",
                    shown.join(" "),
                    cwd.display()
                )
            })?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let stdout = text.lines().skip(2).collect::<Vec<_>>().join("\n");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot write {}", log.display()))?;
        use std::io::Write;
        writeln!(f, "# ended {}: {status}", crate::files::now_utc())?;
        self.logs.push(log.clone());
        Ok((status, stdout, log))
    }

    /// Notes a step in the log (or prints it in a dry run).
    pub fn note(&mut self, text: &str) -> Result<()> {
        if self.dry_run {
            crate::output::println(&format!("  {text}"));
            return Ok(());
        }
        std::fs::create_dir_all(&self.log_dir)
            .with_context(|| format!("cannot create {}", self.log_dir.display()))?;
        let p = self.log_dir.join("clmtune.log");
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .with_context(|| format!("cannot write {}", p.display()))?;
        writeln!(f, "{} {text}", crate::files::now_utc())?;
        if !self.logs.contains(&p) {
            self.logs.push(p);
        }
        Ok(())
    }

    /// Appends `lines` to `path` (created if missing), or prints them.
    pub fn append_lines(&mut self, path: &Path, lines: &[String]) -> Result<()> {
        if self.dry_run {
            crate::output::println(&format!("  append to {}:", path.display()));
            for l in lines {
                crate::output::println(&format!("    {l}"));
            }
            return Ok(());
        }
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        for l in lines {
            writeln!(f, "{l}").with_context(|| format!("cannot write {}", path.display()))?;
        }
        f.sync_all()
            .with_context(|| format!("cannot write {}", path.display()))?;
        self.note(&format!(
            "appended {} lines to {}",
            lines.len(),
            path.display()
        ))
    }
}
