//! Writing user files safely: every write goes to a temporary file beside the target and is
//! renamed over it only when complete, so a crash never leaves a half-written file.

use anyhow::Context;
use std::io::Write;
use std::path::Path;

/// `"TIME: written by clmtune VERSION"`, the `history` attribute of files clmtune makes.
pub fn written_by() -> String {
    format!(
        "{}: written by clmtune {}",
        now_utc(),
        env!("CARGO_PKG_VERSION")
    )
}

/// The current time in UTC as `YYYY-MM-DDTHH:MM:SSZ` (for provenance attributes).
pub fn now_utc() -> String {
    crate::calendar::now_utc()
}

/// Identity of a file: (device, inode, modification time in ns) on Unix — the time tells a
/// recycled inode from the input that had it — and its canonical path elsewhere. One
/// `stat`, so marking thousands of history files as inputs stays cheap.
#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64, i64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino(), m.mtime() * 1_000_000_000 + m.mtime_nsec()))
}

#[cfg(not(unix))]
fn identity(path: &Path) -> Option<std::path::PathBuf> {
    path.canonicalize().ok()
}

#[cfg(unix)]
type Identity = (u64, u64, i64);
#[cfg(not(unix))]
type Identity = std::path::PathBuf;

static INPUTS: std::sync::Mutex<Option<std::collections::HashSet<Identity>>> =
    std::sync::Mutex::new(None);

/// Records that `path` was read as input in this run, so that no write replaces it.
pub fn mark_input(path: &Path) {
    if let (Some(id), Ok(mut set)) = (identity(path), INPUTS.lock()) {
        set.get_or_insert_with(Default::default).insert(id);
    }
}

/// Whether `path` is a file this run has read as input.
pub fn is_input(path: &Path) -> bool {
    match (identity(path), INPUTS.lock()) {
        (Some(id), Ok(set)) => set.as_ref().is_some_and(|s| s.contains(&id)),
        _ => false,
    }
}

/// Refuses a write that would replace an input of this run.
pub fn check_not_input(path: &Path) -> anyhow::Result<()> {
    if is_input(path) {
        anyhow::bail!(
            "refusing to overwrite {}: it was read as input in this run",
            path.display()
        );
    }
    Ok(())
}

/// A temporary file in `dir` named `.clmtune-XXXX{suffix}`, readable by others (0644) like
/// a file written directly, so that a rename leaves the permissions users expect.
pub fn temp_in(dir: &Path, suffix: &str) -> anyhow::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(".clmtune-").suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o644));
    }
    b.tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))
}

/// A temporary file beside `path` (its folder created if missing) for a write that will
/// be renamed over `path`; refused if `path` is an input of this run.
pub fn temp_beside(path: &Path, suffix: &str) -> anyhow::Result<tempfile::NamedTempFile> {
    check_not_input(path)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create folder {}", dir.display()))?;
    temp_in(dir, suffix)
}

/// Writes a file atomically: `write` fills a temporary file in the same folder, which then
/// replaces `path`. Missing parent folders are created. Errors name the file.
pub fn atomic_write(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut tmp = temp_beside(path, ".tmp")?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut w).with_context(|| format!("cannot write {}", path.display()))?;
        w.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps_look_right() {
        let t = now_utc();
        assert_eq!(t.len(), 20, "{t}");
        assert!(
            t.starts_with("20") && t.ends_with('Z') && &t[4..5] == "-" && &t[10..11] == "T",
            "{t}"
        );
    }

    #[test]
    fn failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keep.txt");
        std::fs::write(&p, "original").unwrap();
        let r = atomic_write(&p, |w: &mut dyn Write| {
            w.write_all(b"half")?;
            anyhow::bail!("disk full")
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "original");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left behind"
        );
        atomic_write(&p, |w| Ok(w.write_all(b"new")?)).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o644
            );
        }
        mark_input(&p);
        let e = atomic_write(&p, |w| Ok(w.write_all(b"newer")?))
            .unwrap_err()
            .to_string();
        assert!(e.contains("it was read as input in this run"), "{e}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
    }
}
