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

/// What happened to a file, as told to the observer ([`observe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileEvent {
    /// Read as an input of the run ([`mark_input`]).
    Read,
    /// Written into place ([`persist`] and every atomic write).
    Wrote,
}

/// The function told of every input and every file written. The run's record (provenance)
/// installs it: this layer reports what it does and never calls up.
static OBSERVER: std::sync::RwLock<Option<Observer>> = std::sync::RwLock::new(None);

/// What [`observe`] installs: told of each file read or written.
pub type Observer = fn(FileEvent, &Path);

/// Installs the observer of reads and writes (the run's record; replaces an earlier one).
pub fn observe(f: Observer) {
    *OBSERVER.write().unwrap_or_else(|e| e.into_inner()) = Some(f);
}

fn tell(event: FileEvent, path: &Path) {
    let f = *OBSERVER.read().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = f {
        f(event, path);
    }
}

thread_local! {
    /// How many [`unrecorded`] calls this thread is inside.
    static UNRECORDED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs `f` with its reads not recorded: neither marked as inputs (a later write of the same
/// file in this run stays allowed) nor told to the provenance record. For a reader of
/// results that is not a stage, the report: refreshed at the end of every stage, it reads
/// other stages' files, which must stay theirs to rewrite and out of this stage's inputs.
pub fn unrecorded<T>(f: impl FnOnce() -> T) -> T {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            UNRECORDED.with(|u| u.set(u.get().saturating_sub(1)));
        }
    }
    UNRECORDED.with(|u| u.set(u.get() + 1));
    let _leave = Leave;
    f()
}

/// Records that `path` was read as input in this run, so that no write replaces it. A
/// temporary file of clmtune's own (`.clmtune-*`, e.g. a params file read back to check it
/// before its rename) is not an input and is not recorded.
pub fn mark_input(path: &Path) {
    if is_temporary(path) || UNRECORDED.with(|u| u.get() > 0) {
        return;
    }
    if let (Some(id), Ok(mut set)) = (identity(path), INPUTS.lock()) {
        set.get_or_insert_with(Default::default).insert(id);
    }
    tell(FileEvent::Read, path);
}

/// Whether `path` is a file this run has read as input.
pub fn is_input(path: &Path) -> bool {
    match (identity(path), INPUTS.lock()) {
        (Some(id), Ok(set)) => set.as_ref().is_some_and(|s| s.contains(&id)),
        _ => false,
    }
}

/// Refuses a write that would replace an input of this run, an empty path, or an existing
/// target that is not a regular file (a folder, a device such as /dev/null, a FIFO, a
/// socket): a rename would replace it by a regular file.
pub fn check_not_input(path: &Path) -> anyhow::Result<()> {
    if path.as_os_str().is_empty() {
        anyhow::bail!("cannot write a file with an empty name");
    }
    if is_input(path) {
        anyhow::bail!(
            "refusing to overwrite {}: it was read as input in this run",
            path.display()
        );
    }
    if let Err(e) = std::fs::metadata(path) {
        if is_loop(&e) {
            anyhow::bail!(
                "refusing to write {}: it is a symbolic link loop",
                path.display()
            );
        }
    }
    if let Ok(m) = std::fs::metadata(path) {
        if !m.is_file() {
            anyhow::bail!(
                "refusing to write {}: it exists and is {}, not a regular file",
                path.display(),
                kind_of(&m)
            );
        }
    }
    Ok(())
}

/// What a file system entry that is not a regular file is, in words.
fn kind_of(m: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = m.file_type();
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if m.is_dir() {
        "a folder"
    } else if m.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// Refuses a folder input that exists as something else (a regular file, a FIFO, a
/// device) or is a symbolic link loop, before anything looks inside it: `what` names it
/// in the error (`archive`, `EOF stage folder`). A missing folder passes: each reader says
/// what it misses in its own words.
pub fn check_dir_input(path: &Path, what: &str) -> anyhow::Result<()> {
    let shown = crate::format::quote_path(path);
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) => anyhow::bail!(
            "cannot read {what} {shown}: it is {}, not a folder",
            kind_of(&m)
        ),
        Err(e) if is_loop(&e) => {
            anyhow::bail!("cannot read {what} {shown}: it is a symbolic link loop")
        }
        Err(_) => Ok(()),
    }
}

/// Creates the folder `path` and its missing parents for writing into. The first of them
/// that exists as something else (a regular file, a FIFO, a device) or is a symbolic link
/// loop is named in the error, with what it is; other failures give the OS reason once.
pub fn create_dir(path: &Path) -> anyhow::Result<()> {
    // the outermost path that is a loop is the link itself (the ones below it loop too)
    let mut looped = None;
    for p in path.ancestors().filter(|p| !p.as_os_str().is_empty()) {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => break,
            Ok(m) => anyhow::bail!(
                "cannot write into folder {}: it is {}, not a folder",
                crate::format::quote_path(p),
                kind_of(&m)
            ),
            Err(e) if is_loop(&e) => looped = Some(p),
            Err(_) => {}
        }
    }
    if let Some(p) = looped {
        anyhow::bail!(
            "cannot write into folder {}: it is a symbolic link loop",
            crate::format::quote_path(p)
        );
    }
    std::fs::create_dir_all(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot create folder {}: {}",
            crate::format::quote_path(path),
            os_text(&e)
        )
    })
}

/// Refuses an input that is not a regular file, before anything opens it (opening a FIFO
/// waits for a writer; a device such as /dev/zero never ends): `what` names it in the
/// error (`config`, `CSV file`). A missing file, a folder, a FIFO, a device, a socket and a
/// symbolic link loop each get their own sentence.
pub fn check_input(path: &Path, what: &str) -> anyhow::Result<()> {
    let shown = crate::format::quote_path(path);
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) if m.is_dir() => anyhow::bail!("cannot read {what} {shown}: it is a folder"),
        Ok(m) => anyhow::bail!(
            "cannot read {what} {shown}: it is {}, not a data file",
            kind_of(&m)
        ),
        Err(e) if is_loop(&e) => {
            anyhow::bail!("cannot read {what} {shown}: it is a symbolic link loop")
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!("cannot read {what} {shown}: no such file")
        }
        Err(e) => anyhow::bail!("cannot read {what} {shown}: {}", os_text(&e)),
    }
}

/// Whether an OS error is "too many levels of symbolic links" (a link loop).
fn is_loop(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(40)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Largest text input read whole (a script, a config, a spec): 64 MiB. Reading
/// /dev/zero or a wrong multi-gigabyte file stops here with an error.
pub const MAX_TEXT_BYTES: u64 = 64 << 20;

/// Reads a text input whole: `what` names it in errors (`config`, `script`). More than
/// [`MAX_TEXT_BYTES`] is an error, so is a folder or invalid UTF-8 (naming the line and
/// column of the first bad byte); a leading UTF-8 byte order mark is dropped. The file is
/// marked as an input of this run.
pub fn read_text(path: &Path, what: &str) -> anyhow::Result<String> {
    let text = read_text_unmarked(path, what)?;
    mark_input(path);
    Ok(text)
}

/// [`read_text`] without marking the file as an input: for a record the run itself goes on
/// rewriting (a resumed calibration's own state).
fn read_text_unmarked(path: &Path, what: &str) -> anyhow::Result<String> {
    use std::io::Read;
    check_input(path, what)?;
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read {what} {}: {}", path.display(), os_text(&e)))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        anyhow::bail!("cannot read {what} {}: it is a folder", path.display());
    }
    let mut bytes = Vec::new();
    file.take(MAX_TEXT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow::anyhow!("cannot read {what} {}: {}", path.display(), os_text(&e)))?;
    if bytes.len() as u64 > MAX_TEXT_BYTES {
        anyhow::bail!(
            "{what} {} is larger than {} MiB: not a text input clmtune reads",
            path.display(),
            MAX_TEXT_BYTES >> 20
        );
    }
    text_from_bytes(bytes).map_err(|e| anyhow::anyhow!("{what} {}:{e}", path.display()))
}

/// Text from bytes: a leading byte order mark is dropped; invalid UTF-8 is an error
/// `LINE:COL: invalid UTF-8 (byte 0xNN)` naming the first bad byte.
pub fn text_from_bytes(mut bytes: Vec<u8>) -> Result<String, String> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let b = e.as_bytes();
        let line = b[..good].iter().filter(|&&c| c == b'\n').count() + 1;
        let start = b[..good]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1);
        let col = String::from_utf8_lossy(&b[start..good]).chars().count() + 1;
        format!("{line}:{col}: invalid UTF-8 (byte 0x{:02X})", b[good])
    })
}

/// An OS error as a sentence, without the Rust `(os error N)` suffix repeated: `No such
/// file or directory`.
pub fn os_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Whether `path` names one of clmtune's temporary files ([`temp_in`]'s `.clmtune-` prefix).
pub fn is_temporary(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(TEMP_PREFIX))
}

const TEMP_PREFIX: &str = ".clmtune-";

/// A temporary file in `dir` named `.clmtune-XXXX{suffix}`, readable by others (0644) like
/// a file written directly, so that a rename leaves the permissions users expect.
pub fn temp_in(dir: &Path, suffix: &str) -> anyhow::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(TEMP_PREFIX).suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let tmp = b
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    register_temporary(tmp.path());
    Ok(tmp)
}

/// Temporary files made by [`temp_in`] that may still exist (renamed or dropped ones are
/// pruned now and then), for [`remove_temporaries`].
static TEMPORARIES: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

fn register_temporary(path: &Path) {
    let mut t = TEMPORARIES.lock().unwrap_or_else(|e| e.into_inner());
    if t.len() >= 64 {
        t.retain(|p| p.exists());
    }
    t.push(path.to_path_buf());
}

/// Removes every temporary file of an unfinished write (called before quitting on a
/// signal, when no destructor will run); returns how many it removed.
pub fn remove_temporaries() -> usize {
    let paths = std::mem::take(&mut *TEMPORARIES.lock().unwrap_or_else(|e| e.into_inner()));
    paths
        .iter()
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count()
}

/// A temporary file beside `path` (its folder created if missing) for a write that will
/// be renamed over `path`; refused if `path` is an input of this run. The folder is
/// checked first, so that a folder that is a FIFO or a link loop is named as such (not
/// the file in it).
pub fn temp_beside(path: &Path, suffix: &str) -> anyhow::Result<tempfile::NamedTempFile> {
    if path.as_os_str().is_empty() {
        anyhow::bail!("cannot write a file with an empty name");
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    create_dir(dir)?;
    check_not_input(path)?;
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
    persist(tmp, path)
}

/// Renames a finished temporary file over `path` (checked again just before, since the
/// target may have appeared meanwhile); the error names the file and gives the OS reason
/// once. On failure the temporary file is removed.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> anyhow::Result<()> {
    check_not_input(path)?;
    let tmp = match STAGED.with(|s| {
        let mut s = s.borrow_mut();
        match s.as_mut() {
            Some(set) => {
                // staged by all_or_nothing; a second write of the same file replaces the first
                set.retain(|(_, p)| p != path);
                set.push((tmp, path.to_path_buf()));
                None
            }
            None => Some(tmp),
        }
    }) {
        Some(tmp) => tmp,
        None => return Ok(()),
    };
    rename_into_place(tmp, path)
}

fn rename_into_place(tmp: tempfile::NamedTempFile, path: &Path) -> anyhow::Result<()> {
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), os_text(&e.error)))?;
    tell(FileEvent::Wrote, path);
    Ok(())
}

thread_local! {
    /// The finished temporary files of an [`all_or_nothing`] save on this thread, with
    /// their targets, waiting to be renamed together.
    static STAGED: std::cell::RefCell<Option<Vec<(tempfile::NamedTempFile, std::path::PathBuf)>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `save`, which writes several files (through [`atomic_write`] or [`persist`] on this
/// thread), so that they appear all together or not at all: each file is finished in its
/// temporary file, and only when `save` succeeds and every target is still writable are
/// they renamed into place, one after the other. On an error no target is touched and the
/// temporary files are removed. A call inside another one joins the outer set.
pub fn all_or_nothing<T>(save: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    if STAGED.with(|s| s.borrow().is_some()) {
        return save();
    }
    STAGED.with(|s| *s.borrow_mut() = Some(Vec::new()));
    let result = save();
    let staged = STAGED.with(|s| s.borrow_mut().take()).unwrap_or_default();
    let value = result?;
    for (_, path) in &staged {
        check_not_input(path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                anyhow::bail!("cannot write {}: its folder has gone", path.display());
            }
        }
    }
    for (tmp, path) in staged {
        rename_into_place(tmp, &path)?;
    }
    Ok(value)
}

/// Writes `value` as pretty JSON with a final newline, atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    atomic_write(path, |w| {
        w.write_all(text.as_bytes())?;
        w.write_all(b"\n")?;
        Ok(())
    })
}

/// Reads JSON written by [`write_json`] through [`read_text`] (`what` names the file in
/// errors, e.g. `emulator file`); a file that does not parse says so with the file's name.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let text = read_text(path, what)?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a valid {what}", path.display()))
}

/// Reads a JSON record the run goes on rewriting (a resumed calibration's state): as
/// [`read_json`], but not marked as an input, so that saving it again is allowed.
pub fn read_own_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let text = read_text_unmarked(path, what)?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a valid {what}", path.display()))
}

/// A [`std::process::Command`] for `program` whose child inherits no descriptor but its
/// standard streams. HDF5 opens netCDF-4 files without close-on-exec and flock-locks them: a
/// child started while another thread had one open would hold that lock for its whole life,
/// and the next open of the file would fail ("unable to lock the file"). Every program
/// clmtune starts (CIME's tools, git, the bench's Python) is started through this.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    #[allow(unused_mut)]
    let mut cmd = std::process::Command::new(program);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure runs in the forked child before exec, after its standard
        // streams are in place, and only makes plain descriptor calls
        unsafe {
            cmd.pre_exec(|| {
                cloexec_above_stderr();
                Ok(())
            });
        }
    }
    cmd
}

/// Marks every descriptor above 2 close-on-exec, in the child between fork and exec:
/// `close_range(CLOSE_RANGE_CLOEXEC)` on Linux 5.11 and later, else `fcntl` on each
/// descriptor below the limit. Descriptors, not closed: std's own pipe that reports a
/// failed exec stays usable until the exec.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not everywhere
fn cloexec_above_stderr() {
    #[cfg(target_os = "linux")]
    // SAFETY: a syscall on the child's own descriptor table
    unsafe {
        if libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        ) == 0
        {
            return;
        }
    }
    // SAFETY: fcntl on descriptors of the child's own table; an unused one fails harmlessly
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            (lim.rlim_cur as u64).clamp(1024, 1 << 20) as i32
        } else {
            1024
        };
        for fd in 3..max {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inside_unrecorded_are_not_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("results.csv");
        std::fs::write(&p, "a\n1\n").unwrap();
        unrecorded(|| mark_input(&p));
        assert!(!is_input(&p), "read by the report: not an input");
        // a write is allowed, and a read outside is recorded again
        atomic_write(&p, |w| Ok(w.write_all(b"a\n2\n")?)).unwrap();
        mark_input(&p);
        assert!(is_input(&p));
        assert!(atomic_write(&p, |w| Ok(w.write_all(b"a\n3\n")?)).is_err());
    }

    /// The two child-descriptor tests start children: one at a time, so the plain child
    /// of the first never holds the second's netCDF-4 file.
    #[cfg(target_os = "linux")]
    static CHILDREN: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[cfg(target_os = "linux")]
    #[test]
    fn a_child_inherits_only_its_standard_streams() {
        let _one = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("held-open.nc");
        std::fs::write(&p, "x").unwrap();
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // as HDF5 opens files: no O_CLOEXEC
        // SAFETY: open on a path we made; the descriptor is closed below
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY) };
        assert!(fd > 2);
        let listing = |mut cmd: std::process::Command| {
            let out = cmd.arg("-l").arg("/proc/self/fd").output().unwrap();
            String::from_utf8_lossy(&out.stdout).to_string()
        };
        // the test can fail: a plain Command's child sees the descriptor
        let plain = listing(std::process::Command::new("ls"));
        let ours = listing(command("ls"));
        // SAFETY: the descriptor opened above
        unsafe { libc::close(fd) };
        assert!(plain.contains("held-open.nc"), "{plain}");
        assert!(!ours.contains("held-open.nc"), "{ours}");
        assert!(
            ours.contains("/proc/"),
            "ls listed its own descriptors: {ours}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_child_holds_no_lock_on_a_netcdf4_file_being_written() {
        let _one = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("obs.nc");
        crate::nc::quiet_hdf5();
        let mut f = netcdf::create_with(&p, netcdf::Options::NETCDF4).unwrap();
        f.add_dimension("x", 3).unwrap();
        f.add_variable::<f64>("GPP", &["x"])
            .unwrap()
            .put_values(&[1.0, 2.0, 3.0], ..)
            .unwrap();
        // a CIME tool started while the file is open, and still running when it is read
        let mut child = command("sleep").arg("30").spawn().unwrap();
        drop(f);
        let read =
            netcdf::open(&p).map(|f| f.variable("GPP").unwrap().get_values::<f64, _>(..).unwrap());
        child.kill().unwrap();
        child.wait().unwrap();
        // (with std's Command the open failed here: "unable to lock the file")
        assert_eq!(read.unwrap(), vec![1.0, 2.0, 3.0]);
    }

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

    #[test]
    fn temporaries_are_never_inputs() {
        // issue 28: run.json listed 223 `.clmtune-*.nc.tmp` files (params files read back
        // before their rename) as inputs, all "missing"
        let dir = tempfile::tempdir().unwrap();
        let tmp = temp_in(dir.path(), ".nc.tmp").unwrap();
        assert!(is_temporary(tmp.path()));
        mark_input(tmp.path());
        assert!(!is_input(tmp.path()));
        let real = dir.path().join("clm5_params.nc");
        std::fs::write(&real, "x").unwrap();
        assert!(!is_temporary(&real));
        mark_input(&real);
        assert!(is_input(&real));
    }

    #[test]
    fn a_save_of_several_files_writes_all_or_none() {
        // issue 28, item 9: the third target is a folder: the first two are not written
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.csv"), "old a").unwrap();
        std::fs::create_dir(d.join("c.csv")).unwrap();
        let e = all_or_nothing(|| {
            atomic_write(&d.join("a.csv"), |w| Ok(w.write_all(b"new a")?))?;
            atomic_write(&d.join("b.csv"), |w| Ok(w.write_all(b"new b")?))?;
            atomic_write(&d.join("c.csv"), |w| Ok(w.write_all(b"new c")?))
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("it exists and is a folder"), "{e}");
        assert_eq!(std::fs::read_to_string(d.join("a.csv")).unwrap(), "old a");
        assert!(!d.join("b.csv").exists());
        let mut names: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.csv", "c.csv"], "no temporary file left");
        // without the folder in the way, all three appear (a nested call joins the set)
        std::fs::remove_dir(d.join("c.csv")).unwrap();
        all_or_nothing(|| {
            atomic_write(&d.join("a.csv"), |w| Ok(w.write_all(b"new a")?))?;
            all_or_nothing(|| atomic_write(&d.join("b.csv"), |w| Ok(w.write_all(b"new b")?)))?;
            assert!(!d.join("b.csv").exists(), "renamed only at the end");
            atomic_write(&d.join("c.csv"), |w| Ok(w.write_all(b"new c")?))
        })
        .unwrap();
        for f in ["a", "b", "c"] {
            assert_eq!(
                std::fs::read_to_string(d.join(format!("{f}.csv"))).unwrap(),
                format!("new {f}")
            );
        }
    }

    #[test]
    fn special_files_are_refused_as_inputs_before_opening() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let e = check_input(Path::new("/dev/zero"), "CSV file")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "cannot read CSV file /dev/zero: it is a device, not a data file"
        );
        let e = check_input(d, "config").unwrap_err().to_string();
        assert!(e.ends_with(": it is a folder"), "{e}");
        let e = check_input(&d.join("none.csv"), "table")
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("none.csv: no such file"), "{e}");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.join("loop"), d.join("loop")).unwrap();
            let e = check_input(&d.join("loop"), "table")
                .unwrap_err()
                .to_string();
            assert!(e.ends_with("loop: it is a symbolic link loop"), "{e}");
            // and as a target: refused, the link kept
            let e = atomic_write(&d.join("loop"), |w| Ok(w.write_all(b"x")?))
                .unwrap_err()
                .to_string();
            assert!(e.contains("it is a symbolic link loop"), "{e}");
            assert!(d.join("loop").is_symlink());
            let fifo = d.join("fifo.csv");
            if command("mkfifo")
                .arg(&fifo)
                .status()
                .is_ok_and(|s| s.success())
            {
                let e = check_input(&fifo, "CSV file").unwrap_err().to_string();
                assert!(
                    e.ends_with("fifo.csv: it is a FIFO, not a data file"),
                    "{e}"
                );
            }
            // a name with control characters is quoted escaped
            let e = check_input(&d.join("a\u{1b}[31mRED\u{7}"), "JSON file")
                .unwrap_err()
                .to_string();
            assert!(e.ends_with("a\\u{1b}[31mRED\\u{7}: no such file"), "{e}");
        }
    }
}
