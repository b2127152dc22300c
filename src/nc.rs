//! Small helpers over the netcdf crate: opening with errors that name the file, reading a
//! variable as f64 with its fill values turned into NaN, attributes as text or numbers; the
//! calendars of CF time coordinates are re-exported from [`crate::calendar`].

use anyhow::{bail, Context, Result};
use netcdf::AttributeValue;
use std::collections::HashMap;
use std::path::Path;

/// Opens a netCDF file for reading; a missing, truncated or non-netCDF file is an error
/// naming it, and so is a damaged netCDF-4 (HDF5) file, found by [`check_files`] before the
/// library reads it in this process.
pub fn open(path: &Path) -> Result<netcdf::File> {
    quiet_hdf5();
    crate::files::check_input(path, "netCDF file")?;
    check_files(&[path])?;
    if let Some(why) = damage(path) {
        bail!(
            "{}: not a readable netCDF file (damaged: {why})",
            path.display()
        );
    }
    let lp = library_path(path)?;
    // the library's own text ("netcdf error(7): Argument list too long" for a truncated
    // file) says nothing to a user: the sentence names the file and the likely causes
    let f = netcdf::open(&lp.path).map_err(|_| {
        anyhow::anyhow!(
            "{}: not a readable netCDF file (truncated, damaged or another format)",
            path.display()
        )
    })?;
    crate::files::mark_input(path);
    Ok(f)
}

/// Stops HDF5 printing its error stack ("HDF5-DIAG: Error detected in HDF5 ...") on this
/// thread, once per thread. netCDF-C turns the printing off when it starts, but a thread-safe
/// HDF5 keeps the setting per thread, so every reader on another thread (rayon's, a test's)
/// printed dozens of lines for each attribute netCDF-C looks for and does not find, a
/// normal event. Errors still reach clmtune as netCDF error codes. A no-op when the netCDF
/// library was built without HDF5.
pub fn quiet_hdf5() {
    use std::cell::Cell;
    thread_local!(static QUIET: Cell<bool> = const { Cell::new(false) });
    if QUIET.with(|q| q.replace(true)) {
        return;
    }
    #[cfg(unix)]
    {
        /// `herr_t H5Eset_auto2(hid_t estack_id, H5E_auto2_t func, void *client_data)`;
        /// hid_t is 64-bit since HDF5 1.10, and H5E_DEFAULT is 0.
        type SetAuto = unsafe extern "C" fn(i64, *const libc::c_void, *mut libc::c_void) -> i32;
        static SET_AUTO: std::sync::OnceLock<Option<SetAuto>> = std::sync::OnceLock::new();
        let f = SET_AUTO.get_or_init(|| {
            // SAFETY: looks a symbol up in the libraries already loaded (HDF5 comes with
            // netCDF-C); a null answer means there is none
            let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"H5Eset_auto2".as_ptr()) };
            // SAFETY: H5Eset_auto2 has this signature in every HDF5 since 1.8
            (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut libc::c_void, SetAuto>(p) })
        });
        if let Some(set_auto) = f {
            // the netcdf crate's lock: no other thread is inside netCDF-C or HDF5 meanwhile
            let _one = netcdf_sys::libnetcdf_lock.lock();
            // SAFETY: H5E_DEFAULT with no printing function and no data
            unsafe { set_auto(0, std::ptr::null(), std::ptr::null_mut()) };
        }
    }
}

// ---- paths the library would rewrite --------------------------------------------------

/// Whether netCDF-C (4.9) rewrites the text of `path` before HDF5 opens it (`NCpathcvt`):
/// it reads a backslash as a Windows folder separator (`bs\dir/x.nc` becomes `bs/dir/x.nc`,
/// which does not exist, reported as "Permission denied") and a leading `c:` as a drive
/// (`c:/x.nc` becomes `/c/x.nc`). Classic files are not affected, netCDF-4 ones are.
pub fn rewritten_by_library(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let b = path.as_os_str().as_bytes();
    b.contains(&b'\\') || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

/// The path the library is given for a file, and the open handle that path goes through,
/// kept open while the library opens it.
struct LibraryPath {
    path: std::path::PathBuf,
    _handle: Option<std::fs::File>,
}

/// `/proc/self/fd/N` of `file`, an open handle of `path` (a path without the characters
/// the library rewrites, naming the same file); an error naming `path` where the system
/// has no `/proc/self/fd`.
fn fd_path(file: &std::fs::File, path: &Path) -> Result<std::path::PathBuf> {
    use std::os::fd::AsRawFd;
    let p = std::path::PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    if !p.exists() {
        bail!(
            "{}: netCDF cannot use this path: the library reads a backslash as a folder \
             separator (and a leading 'c:' as a drive), and this system has no /proc/self/fd \
             to pass the file another way; rename the folder or file",
            path.display()
        );
    }
    Ok(p)
}

/// The path to give the library for reading `path`: itself, or where the library would
/// rewrite it, `/proc/self/fd/N` of an open handle.
fn library_path(path: &Path) -> Result<LibraryPath> {
    if !rewritten_by_library(path) {
        return Ok(LibraryPath {
            path: path.to_path_buf(),
            _handle: None,
        });
    }
    let f = std::fs::File::open(path).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot open: {}",
            path.display(),
            crate::files::os_text(&e)
        )
    })?;
    Ok(LibraryPath {
        path: fd_path(&f, path)?,
        _handle: Some(f),
    })
}

// ---- damaged netCDF-4 files -----------------------------------------------------------
//
// libhdf5 1.10.8 trusts the lengths it reads from a file: a damaged length in the global
// heap that holds a variable's DIMENSION_LIST (read by netCDF-C the first time the variable
// is inquired: nc_inq_var -> nc4_get_var_meta -> H5DSget_num_scales -> H5Aread ->
// H5HG_read) makes it copy past its buffer and crash the process (SIGSEGV). No check of
// ours can tell such a file from a good one short of parsing HDF5, so a netCDF-4 file is
// first opened and described (dimensions, attributes, every variable and its attributes)
// in a forked child; a crash there marks the file damaged and the file is never opened in
// this process. Verdicts are kept per file (device, inode, size, modification and change
// times), so each file is checked once per process; classic netCDF files (CDF magic) are
// not checked.

/// What the check found for a file: `None` sound (or not openable, which `open` reports
/// itself), `Some(why)` damaged.
type Verdict = Option<String>;

/// A file's identity for the verdict cache: device, inode, size, modification and change
/// times (a rewritten file is checked again).
#[derive(Hash, PartialEq, Eq, Clone, Debug)]
struct FileKey(u64, u64, u64, i64, i64, i64, i64);

fn file_key(path: &Path) -> Option<FileKey> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(FileKey(
        m.dev(),
        m.ino(),
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    ))
}

static VERDICTS: std::sync::LazyLock<std::sync::Mutex<HashMap<FileKey, Verdict>>> =
    std::sync::LazyLock::new(Default::default);

thread_local! {
    static CHILDREN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many child processes [`check_files`] has started on this thread (for tests and
/// measurements).
pub fn check_children() -> usize {
    CHILDREN.with(|c| c.get())
}

fn verdicts() -> std::sync::MutexGuard<'static, HashMap<FileKey, Verdict>> {
    VERDICTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why the file at `path` is damaged, if [`check_files`] found it so.
pub fn damage(path: &Path) -> Option<String> {
    let key = file_key(path)?;
    verdicts().get(&key).cloned().flatten()
}

/// Whether `path` is a file the check looks at: anything but a classic netCDF file (magic
/// `CDF` and version 1, 2 or 5), which HDF5 does not read. A file that cannot be read is not
/// checked (opening it reports why).
fn needs_check(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    match f.read_exact(&mut magic) {
        Ok(()) => !(magic[..3] == *b"CDF" && matches!(magic[3], 1 | 2 | 5)),
        Err(_) => false,
    }
}

/// Checks netCDF-4 (HDF5) files for damage that would crash the HDF5 library, in forked
/// child processes (one for the whole list, another after a file that crashed one), and
/// records the verdicts that [`open`] consults. Files checked before (same device, inode,
/// size and times) and classic netCDF files are skipped, so reading thousands of classic
/// history files costs one 4-byte read each and netCDF-4 ones one child per call. An
/// error only if the check itself cannot run (no process can be started) or is interrupted.
pub fn check_files(paths: &[&Path]) -> Result<()> {
    let mut todo: Vec<(&Path, FileKey)> = Vec::new();
    {
        let known = verdicts();
        for &p in paths {
            if let Some(k) = file_key(p) {
                if !known.contains_key(&k) && !todo.iter().any(|t| t.1 == k) {
                    todo.push((p, k));
                }
            }
        }
    }
    todo.retain(|(p, _)| needs_check(p));
    let mut rest = &todo[..];
    while !rest.is_empty() {
        let list: Vec<&Path> = rest.iter().map(|t| t.0).collect();
        let (found, crash) = child::probe_all(&list)?;
        let mut known = verdicts();
        for ((_, k), v) in rest.iter().zip(&found) {
            known.insert(k.clone(), v.clone());
        }
        match crash {
            None => break,
            Some(why) => {
                let Some((_, k)) = rest.get(found.len()) else {
                    break;
                };
                // a child given up leaves that file unchecked (opened as it would be
                // without the check), not damaged
                let verdict = (why != child::STALLED).then_some(why);
                known.insert(k.clone(), verdict);
                rest = &rest[found.len() + 1..];
            }
        }
    }
    Ok(())
}

/// The forked child of [`check_files`] and the parent's side of its pipe.
mod child {
    use anyhow::{bail, Result};
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::path::Path;

    /// Describes `path` as a reader of this program may: dimensions, global attributes,
    /// each variable's name, type, dimensions and attributes. `Ok` also when the file does
    /// not open (the caller's own open says why); `Err(why)` when the library fails or
    /// panics on a file it opened.
    fn probe(path: &Path, tick: &mut dyn FnMut()) -> std::result::Result<(), String> {
        let Ok(lp) = super::library_path(path) else {
            return Ok(());
        };
        let Ok(f) = netcdf::open(&lp.path) else {
            return Ok(());
        };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for d in f.dimensions() {
                let _ = (d.name(), d.len(), d.is_unlimited());
            }
            for a in f.attributes() {
                let _ = (a.name(), a.value());
            }
            tick();
            for v in f.variables() {
                let _ = (v.name(), v.vartype(), v.len());
                for d in v.dimensions() {
                    let _ = (d.name(), d.len());
                }
                for a in v.attributes() {
                    let _ = (a.name(), a.value());
                }
                // progress: a file of 40,000 good variables takes minutes, one variable not
                tick();
            }
        }));
        r.map_err(|e| {
            let text = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            format!("the netCDF library fails describing it: {text}")
        })
    }

    /// Runs [`probe`] on each path in a forked child: the verdicts of the files it finished,
    /// in order, and, if it crashed, why (the file after the last verdict crashed it).
    pub(super) fn probe_all(paths: &[&Path]) -> Result<(Vec<super::Verdict>, Option<String>)> {
        let mut fds = [0i32; 2];
        // SAFETY: pipe2 fills two descriptors, owned below
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            bail!(
                "cannot check netCDF-4 files: {}",
                crate::files::os_text(&std::io::Error::last_os_error())
            );
        }
        // SAFETY: fresh descriptors from pipe2, owned once each
        let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // no other thread is inside the netCDF or HDF5 library while the process forks (the
        // child would inherit its half-changed state): hold the lock every call of the
        // netcdf crate takes; it is reentrant, so the child's calls take it again
        let guard = netcdf_sys::libnetcdf_lock.lock();
        // SAFETY: the child only describes files with the netcdf crate (its lock held),
        // writes to the pipe and leaves with _exit, running no destructor or exit handler
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            std::mem::forget(guard);
            drop(rd);
            // the child holds a copy of every descriptor the parent had open at the fork,
            // among them files another thread was writing with HDF5, which locks them
            // (flock): while the child lives the parent could not open them again ("unable
            // to lock the file"). It closes all but its pipe end and stdio.
            close_inherited(wr.as_raw_fd());
            // (no std::panic::set_hook here: its lock may be held by a thread of the parent
            // that was panicking at the fork, and the child would wait on it for ever)
            // the library's complaints about the damage are the parent's to report
            // SAFETY: plain descriptor calls on the child's own table
            unsafe {
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
                if null >= 0 {
                    libc::dup2(null, 1);
                    libc::dup2(null, 2);
                }
            }
            let mut out = std::fs::File::from(wr);
            for p in paths {
                let mut tick = || {
                    let _ = (&out).write_all(PROGRESS);
                };
                let line = match probe(p, &mut tick) {
                    Ok(()) => "ok\n".to_string(),
                    Err(why) => format!("damaged {}\n", why.replace(['\n', '\r'], " ")),
                };
                if out.write_all(line.as_bytes()).is_err() {
                    break;
                }
            }
            // SAFETY: ends the child at once, as a forked child of a threaded process must
            unsafe { libc::_exit(0) };
        }
        drop(guard);
        drop(wr);
        if pid < 0 {
            bail!(
                "cannot check netCDF-4 files: cannot start a process: {}",
                crate::files::os_text(&std::io::Error::last_os_error())
            );
        }
        super::CHILDREN.with(|c| c.set(c.get() + 1));
        let (text, stalled) = read_all(&rd, pid);
        let mut status = 0;
        // SAFETY: waits for our own child
        unsafe { libc::waitpid(pid, &mut status, 0) };
        // complete lines only (a killed child may have written part of one), without the
        // progress marks in front of each verdict
        let done = text.rfind('\n').map_or("", |i| &text[..i]);
        let found: Vec<super::Verdict> = done
            .lines()
            .map(|l| {
                l.trim_start_matches(PROGRESS_CHAR)
                    .strip_prefix("damaged ")
                    .map(str::to_string)
            })
            .collect();
        if crate::interrupt::requested() {
            crate::interrupt::check()?;
        }
        match stalled {
            // the library went round and round over one variable's metadata (a damaged
            // global heap can make HDF5 1.10 loop for ever): opening the file here would
            // hang this process
            Some(Stall::Busy) => {
                return Ok((
                    found,
                    Some("the HDF5 library loops for ever reading its metadata".to_string()),
                ))
            }
            // a child that waits (a lock inherited in a held state): the next file is not
            // checked
            Some(Stall::Waiting) => return Ok((found, Some(STALLED.to_string()))),
            None => {}
        }
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            let name = match sig {
                libc::SIGSEGV => "SIGSEGV",
                libc::SIGBUS => "SIGBUS",
                libc::SIGABRT => "SIGABRT",
                libc::SIGFPE => "SIGFPE",
                libc::SIGILL => "SIGILL",
                _ => bail!("the check of netCDF-4 files was stopped (signal {sig})"),
            };
            return Ok((
                found,
                Some(format!(
                    "the HDF5 library crashes reading its metadata ({name})"
                )),
            ));
        }
        if found.len() < paths.len() {
            return Ok((found, Some("the check of it ended early".to_string())));
        }
        Ok((found, None))
    }

    /// Closes every descriptor above stdio but `keep` (in the forked child): close_range,
    /// or one close per descriptor where the kernel lacks it.
    fn close_inherited(keep: i32) {
        // SAFETY: closes descriptors of the child's own table, which nothing in the child
        // uses but `keep` and stdio
        unsafe {
            let keep = keep.max(0) as u32;
            let ranges = if keep >= 3 {
                [(3, keep - 1), (keep + 1, u32::MAX)]
            } else {
                [(3, u32::MAX), (1, 0)]
            };
            for (lo, hi) in ranges {
                if lo > hi {
                    continue;
                }
                if libc::syscall(libc::SYS_close_range, lo, hi, 0) != 0 {
                    let max = libc::sysconf(libc::_SC_OPEN_MAX).clamp(1024, 1 << 20) as u32;
                    for fd in lo..hi.min(max) {
                        libc::close(fd as i32);
                    }
                }
            }
        }
    }

    /// How a child that made no progress for [`STALL_SECONDS`] spent them.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Stall {
        /// On the processor most of the time: looping over the file.
        Busy,
        /// Asleep (a lock it will never get), or not known.
        Waiting,
    }

    /// The processor seconds `pid` has used (user and system), from `/proc`; `None` where
    /// there is no `/proc` or the child is gone.
    fn cpu_seconds(pid: libc::pid_t) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // after the command's name in parentheses: state, ppid, ... utime (14th) and stime
        let rest = &stat[stat.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
        // SAFETY: a plain query
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        (hz > 0).then(|| ticks / hz as f64)
    }

    /// Everything the child writes, until it closes the pipe (ends), makes no progress
    /// (neither a progress mark nor a verdict) for [`STALL_SECONDS`], or Ctrl-C is pressed;
    /// the child is then killed. No limit on the whole: describing a good file of 40,000
    /// variables takes the library minutes, but each variable a moment. Returns the text
    /// and, for a child given up, how it spent the stalled seconds.
    fn read_all(rd: &OwnedFd, pid: libc::pid_t) -> (String, Option<Stall>) {
        use std::os::fd::AsRawFd;
        let mut text = Vec::new();
        let mut buf = [0u8; 4096];
        let mut last = std::time::Instant::now();
        let mut cpu_then = cpu_seconds(pid);
        let mut stalled = None;
        loop {
            let mut pfd = libc::pollfd {
                fd: rd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd
            let n = unsafe { libc::poll(&mut pfd, 1, 200) };
            if n == 0 {
                if crate::interrupt::requested() {
                    // SAFETY: our own child
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    break;
                }
                let idle = last.elapsed().as_secs_f64();
                if idle > STALL_SECONDS {
                    // a loop keeps the processor busy even on a loaded machine; a child
                    // waiting on a lock uses next to none of it
                    let used = cpu_seconds(pid).zip(cpu_then).map(|(now, then)| now - then);
                    stalled = Some(match used {
                        Some(u) if u > BUSY_SHARE * idle => Stall::Busy,
                        _ => Stall::Waiting,
                    });
                    // SAFETY: our own child
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    break;
                }
                continue;
            }
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            // SAFETY: reads into a buffer of its length
            let got = unsafe { libc::read(rd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if got < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            if got == 0 {
                break;
            }
            text.extend_from_slice(&buf[..got as usize]);
            last = std::time::Instant::now();
            cpu_then = cpu_seconds(pid);
        }
        (String::from_utf8_lossy(&text).into_owned(), stalled)
    }

    /// What the child writes after each variable it has described.
    const PROGRESS: &[u8] = b".";
    /// [`PROGRESS`] as a character.
    const PROGRESS_CHAR: char = '.';
    /// Seconds without progress after which the child is given up.
    const STALL_SECONDS: f64 = 20.0;
    /// The share of those seconds on the processor above which the child was looping
    /// (a waiting one uses next to none; a looping one on a 2-core machine under a load of
    /// 8 still has about a quarter).
    const BUSY_SHARE: f64 = 0.1;
    /// The "crash" text of a child given up ([`check_files`] opens that file unchecked).
    pub(super) const STALLED: &str = "stalled";
}

/// An attribute as text (numbers are formatted), if present.
pub fn attr_string(v: &netcdf::Variable, name: &str) -> Option<String> {
    match v.attribute_value(name)?.ok()? {
        AttributeValue::Str(s) => Some(s),
        AttributeValue::Strs(s) => Some(s.join(" ")),
        other => attr_f64(&other).map(|x| x.to_string()),
    }
}

/// A numeric attribute value as f64 (the first value of a list).
pub fn attr_f64(a: &AttributeValue) -> Option<f64> {
    Some(match a {
        AttributeValue::Uchar(x) => *x as f64,
        AttributeValue::Schar(x) => *x as f64,
        AttributeValue::Ushort(x) => *x as f64,
        AttributeValue::Short(x) => *x as f64,
        AttributeValue::Uint(x) => *x as f64,
        AttributeValue::Int(x) => *x as f64,
        AttributeValue::Ulonglong(x) => *x as f64,
        AttributeValue::Longlong(x) => *x as f64,
        AttributeValue::Float(x) => *x as f64,
        AttributeValue::Double(x) => *x,
        AttributeValue::Floats(v) => *v.first()? as f64,
        AttributeValue::Doubles(v) => *v.first()?,
        AttributeValue::Shorts(v) => *v.first()? as f64,
        AttributeValue::Ints(v) => *v.first()? as f64,
        _ => return None,
    })
}

/// The values that mean "missing" for a variable: `_FillValue` and `missing_value`.
pub fn fill_values(v: &netcdf::Variable) -> Vec<f64> {
    ["_FillValue", "missing_value"]
        .iter()
        .filter_map(|n| v.attribute_value(n)?.ok())
        .filter_map(|a| attr_f64(&a))
        .collect()
}

/// Whether `x` is one of the fill values (within single precision, since CLM writes floats
/// whose fill attribute may be read back as a double).
pub fn is_fill(x: f64, fills: &[f64]) -> bool {
    // |x - f| < 1e-6 |f| is |(x - f) / f| < 1e-6 without a division per value (this runs
    // over every value read)
    x.is_nan()
        || fills
            .iter()
            .any(|&f| x == f || (x - f).abs() < 1e-6 * f.abs())
}

/// Whether a variable holds numbers (integers or floats), not text (char, string) or a
/// user-defined type.
pub fn is_numeric(v: &netcdf::Variable) -> bool {
    matches!(
        v.vartype(),
        netcdf::types::NcVariableType::Int(_) | netcdf::types::NcVariableType::Float(_)
    )
}

/// The text of a char variable: one string per leading index when it has two or more
/// dimensions (CLM's `pftname(pft, string_length)`, `date_written(time, string_length)`),
/// one string when it has one; trailing NULs and spaces removed.
pub fn read_chars(file: &netcdf::File, path: &Path, name: &str) -> Result<Vec<String>> {
    let v = variable(file, path, name)?;
    if !matches!(v.vartype(), netcdf::types::NcVariableType::Char) {
        bail!("{}: {name} is not a char variable", path.display());
    }
    let lens: Vec<usize> = v.dimensions().iter().map(|d| d.len()).collect();
    let total: usize = lens.iter().product();
    let mut buf = vec![0u8; total];
    if total > 0 {
        v.get_raw_values_into(&mut buf, ..)
            .with_context(|| format!("{}: cannot read {name}", path.display()))?;
    }
    let width = if lens.len() >= 2 {
        *lens.last().unwrap_or(&1)
    } else {
        total.max(1)
    };
    Ok(buf
        .chunks(width.max(1))
        .map(|c| {
            String::from_utf8_lossy(c)
                .trim_end_matches(['\0', ' '])
                .to_string()
        })
        .collect())
}

/// What a netCDF file holds, as `ncdump -h` shows it: its dimensions (the unlimited one
/// marked), each variable with its type, dimensions, units and long name, and the global
/// attributes (long values cut at 80 characters).
pub fn describe(path: &Path) -> Result<String> {
    let f = open(path)?;
    let mut out = format!("{}\n", path.display());
    out.push_str("dimensions:\n");
    for d in f.dimensions() {
        let unlimited = if d.is_unlimited() { " (unlimited)" } else { "" };
        out.push_str(&format!("    {} = {}{unlimited}\n", d.name(), d.len()));
    }
    out.push_str("variables:\n");
    for v in f.variables() {
        let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
        let kind: String = match v.vartype() {
            netcdf::types::NcVariableType::Float(netcdf::types::FloatType::F32) => "float".into(),
            netcdf::types::NcVariableType::Float(_) => "double".into(),
            netcdf::types::NcVariableType::Int(t) => {
                use netcdf::types::IntType::*;
                match t {
                    I8 => "byte",
                    U8 => "ubyte",
                    I16 => "short",
                    U16 => "ushort",
                    I32 => "int",
                    U32 => "uint",
                    I64 => "int64",
                    U64 => "uint64",
                }
                .into()
            }
            netcdf::types::NcVariableType::Char => "char".into(),
            netcdf::types::NcVariableType::String => "string".into(),
            _ => "other".into(),
        };
        let mut line = format!("    {kind} {}({})", v.name(), dims.join(", "));
        if let Some(u) = attr_string(&v, "units") {
            line.push_str(&format!(" [{u}]"));
        }
        if let Some(l) = attr_string(&v, "long_name") {
            line.push_str(&format!(" {l}"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    let globals: Vec<String> = f
        .attributes()
        .filter_map(|a| {
            let v = match a.value().ok()? {
                AttributeValue::Str(s) => s,
                other => attr_f64(&other).map(|x| x.to_string())?,
            };
            let v: String = v.chars().take(80).collect();
            Some(format!("    {} = {v}", a.name()))
        })
        .collect();
    if !globals.is_empty() {
        out.push_str("global attributes:\n");
        out.push_str(&globals.join("\n"));
        out.push('\n');
    }
    Ok(out)
}

/// Reads a whole variable as f64 in row-major order, fill values and NaN as NaN. Errors name
/// the file and variable; a missing variable lists the ones that exist, nearest name first.
pub fn read_f64(file: &netcdf::File, path: &Path, name: &str) -> Result<Vec<f64>> {
    let v = variable(file, path, name)?;
    let mut values: Vec<f64> = v
        .get_values::<f64, _>(..)
        .with_context(|| format!("{}: cannot read variable {name}", path.display()))?;
    let fills = fill_values(&v);
    for x in values.iter_mut() {
        if is_fill(*x, &fills) {
            *x = f64::NAN;
        }
    }
    Ok(values)
}

/// Why `name` cannot name a netCDF variable, dimension or attribute, if it cannot: the
/// netCDF rules (not empty, at most 256 bytes, beginning with a letter, digit, `_` or a
/// non-ASCII character, no `/`, no control character, no trailing space). The netcdf
/// crate panics on such a name, so every name from a user is checked here first.
pub fn name_problem(name: &str) -> Option<&'static str> {
    let Some(first) = name.chars().next() else {
        return Some("is empty");
    };
    if name.len() > 256 {
        Some("is longer than 256 bytes")
    } else if !(first.is_alphanumeric() || first == '_' || !first.is_ascii()) {
        Some("must begin with a letter, a digit or '_'")
    } else if name.contains('/') {
        Some("may not contain '/'")
    } else if name.chars().any(|c| c.is_control()) {
        Some("may not contain control characters")
    } else if name.ends_with(char::is_whitespace) {
        Some("may not end with a space")
    } else {
        None
    }
}

/// Checks a netCDF name (see [`name_problem`]); `what` says what it names (`variable`).
pub fn check_name(name: &str, what: &str) -> Result<()> {
    if let Some(p) = name_problem(name) {
        bail!("{what} name {name:?} is not a valid netCDF name: it {p}");
    }
    Ok(())
}

/// A variable by name; if it is missing, the error lists the variables that exist, nearest
/// name first. A name netCDF cannot hold (`"/"`, a NUL) is an error, not a panic.
pub fn variable<'f>(
    file: &'f netcdf::File,
    path: &Path,
    name: &str,
) -> Result<netcdf::Variable<'f>> {
    check_name(name, "variable").with_context(|| format!("{}", path.display()))?;
    if let Some(v) = file.variable(name) {
        return Ok(v);
    }
    let names: Vec<String> = file.variables().map(|v| v.name()).collect();
    bail!(
        "{}: no variable {name}; {}",
        path.display(),
        nearest_list(name, &names)
    )
}

/// "did you mean X? (it has: ...)" — the known names sorted by closeness to `name`.
pub fn nearest_list(name: &str, known: &[String]) -> String {
    let mut v: Vec<&String> = known.iter().collect();
    v.sort_by(|a, b| {
        let da = strsim::levenshtein(&name.to_lowercase(), &a.to_lowercase());
        let db = strsim::levenshtein(&name.to_lowercase(), &b.to_lowercase());
        da.cmp(&db).then(a.cmp(b))
    });
    match v.first() {
        None => "the file has no variables".into(),
        Some(first) => {
            let list: Vec<&str> = v.iter().take(12).map(|s| s.as_str()).collect();
            let more = if v.len() > 12 {
                format!(", ... ({} in all)", v.len())
            } else {
                String::new()
            };
            format!("did you mean {first}? (it has: {}{more})", list.join(", "))
        }
    }
}

/// A netCDF character (`NC_CHAR`), e.g. for a params file's `pftname`.
#[repr(transparent)]
#[derive(Copy, Clone, Default, Debug, PartialEq)]
pub struct NcChar(pub u8);

// SAFETY: NcChar is a transparent single byte, the layout of NC_CHAR (see the netcdf crate's
// `NcTypeDescriptor` documentation, which gives this exact type as its example).
unsafe impl netcdf::types::NcTypeDescriptor for NcChar {
    fn type_descriptor() -> netcdf::types::NcVariableType {
        netcdf::types::NcVariableType::Char
    }
}

/// The on-disk format of a file a [`Writer`] makes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    /// netCDF-4 (HDF5): string variables, chunking and compression.
    Netcdf4,
    /// The classic 64-bit offset format CLM writes its history and params files in.
    Offset64,
}

/// The element type of a variable whose values are written later (see [`Writer::save_with`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Double.
    F64,
    /// Float.
    F32,
    /// 32-bit integer.
    I32,
    /// Signed byte.
    I8,
}

/// The values of a variable, row-major. Non-finite floats become the variable's fill value
/// when it has one.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Doubles.
    F64(Vec<f64>),
    /// Floats.
    F32(Vec<f32>),
    /// 32-bit integers.
    I32(Vec<i32>),
    /// Signed bytes (`NC_BYTE`), e.g. a 0/1 mask.
    I8(Vec<i8>),
    /// Characters (`NC_CHAR`), e.g. fixed-length names padded with blanks.
    Chars(Vec<u8>),
    /// Variable-length strings (netCDF-4 only), e.g. case names.
    Text(Vec<String>),
    /// Defined now, written afterwards by the closure of [`Writer::save_with`] (data too
    /// large to hold at once, or written slice by slice).
    Later(Kind),
}

impl Values {
    fn len(&self) -> Option<usize> {
        Some(match self {
            Values::F64(v) => v.len(),
            Values::F32(v) => v.len(),
            Values::I32(v) => v.len(),
            Values::I8(v) => v.len(),
            Values::Chars(v) => v.len(),
            Values::Text(v) => v.len(),
            Values::Later(_) => return None,
        })
    }
}

impl From<Vec<f64>> for Values {
    fn from(v: Vec<f64>) -> Values {
        Values::F64(v)
    }
}

impl From<&[f64]> for Values {
    fn from(v: &[f64]) -> Values {
        Values::F64(v.to_vec())
    }
}

impl From<Vec<f32>> for Values {
    fn from(v: Vec<f32>) -> Values {
        Values::F32(v)
    }
}

impl From<Vec<i32>> for Values {
    fn from(v: Vec<i32>) -> Values {
        Values::I32(v)
    }
}

impl From<Vec<i8>> for Values {
    fn from(v: Vec<i8>) -> Values {
        Values::I8(v)
    }
}

impl From<Vec<String>> for Values {
    fn from(v: Vec<String>) -> Values {
        Values::Text(v)
    }
}

/// One variable of a [`Writer`]: its dimensions, values and attributes in the order given
/// (`_FillValue` set with [`Var::fill`] among them).
#[derive(Debug, Clone)]
pub struct Var {
    name: String,
    dims: Vec<String>,
    values: Values,
    attrs: Vec<(String, AttributeValue)>,
    fill: Option<f64>,
    chunking: Option<Vec<usize>>,
    compression: Option<(i32, bool)>,
}

impl Var {
    /// Adds an attribute.
    pub fn attr(&mut self, name: &str, value: impl Into<AttributeValue>) -> &mut Var {
        self.attrs.push((name.to_string(), value.into()));
        self
    }

    /// Sets `_FillValue` (in the variable's type); non-finite values are written as it.
    pub fn fill(&mut self, fill: f64) -> &mut Var {
        self.fill = Some(fill);
        self.attrs
            .push(("_FillValue".to_string(), AttributeValue::Double(fill)));
        self
    }

    /// Sets `_FillValue` and an equal `missing_value`, as CLM does.
    pub fn fill_and_missing(&mut self, fill: f64) -> &mut Var {
        self.fill(fill);
        self.attrs
            .push(("missing_value".to_string(), AttributeValue::Double(fill)));
        self
    }

    /// Chunk sizes (netCDF-4).
    pub fn chunking(&mut self, sizes: &[usize]) -> &mut Var {
        self.chunking = Some(sizes.to_vec());
        self
    }

    /// Deflate level and byte shuffle (netCDF-4).
    pub fn compression(&mut self, level: i32, shuffle: bool) -> &mut Var {
        self.compression = Some((level, shuffle));
        self
    }
}

/// One netCDF file, described whole and then written: dimensions, global attributes,
/// variables with their attributes, fill values and values. The file is made in a temporary
/// file beside the target and renamed over it only when complete; a file read as input in
/// this run is never replaced ([`crate::files::check_not_input`]). Errors name the file and
/// the variable.
///
/// ```
/// # fn main() -> anyhow::Result<()> {
/// let dir = tempfile::tempdir()?;
/// let p = dir.path().join("x.nc");
/// let mut w = clmtune::nc::Writer::new(clmtune::nc::Format::Netcdf4);
/// w.dim("lat", 2).global("history", "made by hand");
/// w.coord("lat", vec![-10.0, 10.0], "latitude", "degrees_north");
/// w.var("t", &["lat"], vec![280.5, f64::NAN])
///     .attr("units", "K")
///     .fill(1e36);
/// w.save(&p)?;
/// let f = clmtune::nc::open(&p)?;
/// assert!(clmtune::nc::read_f64(&f, &p, "t")?[1].is_nan());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Writer {
    format: Format,
    dims: Vec<(String, Option<usize>)>,
    globals: Vec<(String, AttributeValue)>,
    vars: Vec<Var>,
}

impl Writer {
    /// An empty file of `format`.
    pub fn new(format: Format) -> Writer {
        Writer {
            format,
            dims: Vec::new(),
            globals: Vec::new(),
            vars: Vec::new(),
        }
    }

    /// Adds a dimension of fixed length.
    pub fn dim(&mut self, name: &str, len: usize) -> &mut Writer {
        self.dims.push((name.to_string(), Some(len)));
        self
    }

    /// Adds an unlimited dimension (its length follows from the values written).
    pub fn unlimited(&mut self, name: &str) -> &mut Writer {
        self.dims.push((name.to_string(), None));
        self
    }

    /// Whether the dimension `name` is defined.
    pub fn has_dim(&self, name: &str) -> bool {
        self.dims.iter().any(|d| d.0 == name)
    }

    /// Adds a global attribute.
    pub fn global(&mut self, name: &str, value: impl Into<AttributeValue>) -> &mut Writer {
        self.globals.push((name.to_string(), value.into()));
        self
    }

    /// Adds a variable on `dims` (names of dimensions already added).
    pub fn var(&mut self, name: &str, dims: &[&str], values: impl Into<Values>) -> &mut Var {
        self.vars.push(Var {
            name: name.to_string(),
            dims: dims.iter().map(|d| d.to_string()).collect(),
            values: values.into(),
            attrs: Vec::new(),
            fill: None,
            chunking: None,
            compression: None,
        });
        self.vars.last_mut().expect("just pushed")
    }

    /// A CF coordinate variable `name(name)` of doubles: `standard_name`, `long_name` and
    /// `units`, plus `axis` Y or X for latitude and longitude.
    pub fn coord(
        &mut self,
        name: &str,
        values: Vec<f64>,
        standard_name: &str,
        units: &str,
    ) -> &mut Var {
        let axis = match standard_name {
            "latitude" => Some("Y"),
            "longitude" => Some("X"),
            "time" => Some("T"),
            _ => None,
        };
        let v = self.var(name, &[name], values);
        v.attr("standard_name", standard_name)
            .attr("long_name", standard_name)
            .attr("units", units);
        if let Some(a) = axis {
            v.attr("axis", a);
        }
        v
    }

    /// Writes the file to `path` (see the type's documentation).
    pub fn save(&self, path: &Path) -> Result<()> {
        self.save_with(path, |_| Ok(()))
    }

    /// Writes the file to `path`; `later` then writes the values of the [`Values::Later`]
    /// variables into the open file before it is closed and renamed.
    pub fn save_with(
        &self,
        path: &Path,
        later: impl FnOnce(&mut netcdf::FileMut) -> Result<()>,
    ) -> Result<()> {
        self.check(path)?;
        let tmp = crate::files::temp_beside(path, ".nc.tmp")?;
        // the library rewrites some paths (see [`rewritten_by_library`]): such a temporary
        // file is created through /proc/self/fd/N of its open handle
        let lib_path = if rewritten_by_library(tmp.path()) {
            fd_path(tmp.as_file(), path)?
        } else {
            tmp.path().to_path_buf()
        };
        self.write_to(&lib_path, later)
            .with_context(|| format!("cannot write {}", path.display()))?;
        crate::files::persist(tmp, path)?;
        Ok(())
    }

    /// The dimensions by name (looked up once per variable: a file may have as many
    /// dimensions as variables).
    fn dim_map(&self) -> HashMap<&str, Option<usize>> {
        self.dims.iter().map(|(n, l)| (n.as_str(), *l)).collect()
    }

    /// The length of each dimension of `v` (an unlimited one from the number of values);
    /// `dims` is [`Writer::dim_map`].
    fn extents(&self, v: &Var, dims: &HashMap<&str, Option<usize>>) -> Result<Vec<usize>> {
        let mut fixed = 1usize;
        let mut open = None;
        let mut lens = Vec::new();
        for (k, d) in v.dims.iter().enumerate() {
            match dims.get(d.as_str()) {
                None => bail!(
                    "variable {} is on dimension {d}, which is not defined",
                    v.name
                ),
                Some(Some(n)) => {
                    fixed *= n;
                    lens.push(*n);
                }
                Some(None) => {
                    open = Some(k);
                    lens.push(0);
                }
            }
        }
        match (v.values.len(), open) {
            (None, _) => {}
            (Some(n), Some(k)) => {
                if fixed == 0 || n % fixed != 0 {
                    bail!(
                        "variable {} has {n} values, not a multiple of {fixed}",
                        v.name
                    );
                }
                lens[k] = n / fixed;
            }
            (Some(n), None) => {
                if n != fixed {
                    bail!(
                        "variable {} has {n} values; its dimensions ({}) hold {fixed}",
                        v.name,
                        v.dims.join(", ")
                    );
                }
            }
        }
        Ok(lens)
    }

    fn check(&self, path: &Path) -> Result<()> {
        let ctx = || format!("cannot write {}", path.display());
        let names = self
            .dims
            .iter()
            .map(|d| (&d.0, "dimension"))
            .chain(self.globals.iter().map(|g| (&g.0, "attribute")))
            .chain(self.vars.iter().flat_map(|v| {
                std::iter::once((&v.name, "variable"))
                    .chain(v.attrs.iter().map(|a| (&a.0, "attribute")))
            }));
        for (name, what) in names {
            check_name(name, what).with_context(ctx)?;
        }
        let dims = self.dim_map();
        let mut seen = std::collections::HashSet::with_capacity(self.vars.len());
        for v in &self.vars {
            if !seen.insert(v.name.as_str()) {
                return Err(anyhow::anyhow!("variable {} is defined twice", v.name))
                    .with_context(ctx);
            }
            self.extents(v, &dims).with_context(ctx)?;
            if matches!(v.values, Values::Text(_)) && v.dims.len() != 1 {
                return Err(anyhow::anyhow!(
                    "variable {} holds strings: it must have one dimension",
                    v.name
                ))
                .with_context(ctx);
            }
            if matches!(v.values, Values::Text(_)) && self.format != Format::Netcdf4 {
                return Err(anyhow::anyhow!(
                    "variable {} holds strings, which need netCDF-4",
                    v.name
                ))
                .with_context(ctx);
            }
        }
        Ok(())
    }

    fn write_to(
        &self,
        tmp: &Path,
        later: impl FnOnce(&mut netcdf::FileMut) -> Result<()>,
    ) -> Result<()> {
        let opts = match self.format {
            Format::Netcdf4 => netcdf::Options::NETCDF4,
            Format::Offset64 => netcdf::Options::_64BIT_OFFSET,
        };
        quiet_hdf5();
        let mut f = netcdf::create_with(tmp, opts)?;
        for (name, len) in &self.dims {
            match len {
                Some(n) => f.add_dimension(name, *n)?,
                None => f.add_unlimited_dimension(name)?,
            };
        }
        for (name, value) in &self.globals {
            f.add_attribute(name, value.clone())?;
        }
        for v in &self.vars {
            let dims: Vec<&str> = v.dims.iter().map(String::as_str).collect();
            let mut var = match &v.values {
                Values::F64(_) | Values::Later(Kind::F64) => {
                    f.add_variable::<f64>(&v.name, &dims)?
                }
                Values::F32(_) | Values::Later(Kind::F32) => {
                    f.add_variable::<f32>(&v.name, &dims)?
                }
                Values::I32(_) | Values::Later(Kind::I32) => {
                    f.add_variable::<i32>(&v.name, &dims)?
                }
                Values::I8(_) | Values::Later(Kind::I8) => f.add_variable::<i8>(&v.name, &dims)?,
                Values::Chars(_) => f.add_variable::<NcChar>(&v.name, &dims)?,
                Values::Text(_) => f.add_string_variable(&v.name, &dims)?,
            };
            if let Some(c) = &v.chunking {
                var.set_chunking(c)?;
            }
            if let Some((level, shuffle)) = v.compression {
                var.set_compression(level, shuffle)?;
            }
            for (name, value) in &v.attrs {
                let typed = |x: f64| -> AttributeValue {
                    match &v.values {
                        Values::F32(_) | Values::Later(Kind::F32) => {
                            AttributeValue::Float(x as f32)
                        }
                        Values::I32(_) | Values::Later(Kind::I32) => AttributeValue::Int(x as i32),
                        Values::I8(_) | Values::Later(Kind::I8) => AttributeValue::Schar(x as i8),
                        _ => AttributeValue::Double(x),
                    }
                };
                match (name.as_str(), value) {
                    ("_FillValue", AttributeValue::Double(x)) => match typed(*x) {
                        AttributeValue::Float(x) => var.set_fill_value(x)?,
                        AttributeValue::Int(x) => var.set_fill_value(x)?,
                        AttributeValue::Schar(x) => var.set_fill_value(x)?,
                        _ => var.set_fill_value(*x)?,
                    },
                    ("missing_value", AttributeValue::Double(x)) => {
                        var.put_attribute(name, typed(*x))?;
                    }
                    _ => {
                        var.put_attribute(name, value.clone())?;
                    }
                }
            }
        }
        f.enddef()?;
        let dims = self.dim_map();
        for v in &self.vars {
            let lens = self.extents(v, &dims)?;
            let ext: Vec<std::ops::Range<usize>> = lens.iter().map(|&n| 0..n).collect();
            let ext = ext.as_slice();
            let mut var = f
                .variable_mut(&v.name)
                .with_context(|| format!("variable {}", v.name))?;
            let fill = v.fill;
            let put = |e: netcdf::Error| anyhow::anyhow!("variable {}: {e}", v.name);
            match &v.values {
                Values::F64(x) => {
                    let d: Vec<f64> = match fill {
                        Some(fv) => x
                            .iter()
                            .map(|&a| if a.is_finite() { a } else { fv })
                            .collect(),
                        None => x.clone(),
                    };
                    var.put_values(&d, ext).map_err(put)?
                }
                Values::F32(x) => {
                    let d: Vec<f32> = match fill {
                        Some(fv) => x
                            .iter()
                            .map(|&a| if a.is_finite() { a } else { fv as f32 })
                            .collect(),
                        None => x.clone(),
                    };
                    var.put_values(&d, ext).map_err(put)?
                }
                Values::I32(x) => var.put_values(x, ext).map_err(put)?,
                Values::I8(x) => var.put_values(x, ext).map_err(put)?,
                Values::Chars(x) => {
                    let d: Vec<NcChar> = x.iter().map(|&c| NcChar(c)).collect();
                    var.put_values(&d, ext).map_err(put)?
                }
                Values::Text(x) => {
                    for (i, s) in x.iter().enumerate() {
                        var.put_string(s, i).map_err(put)?;
                    }
                }
                Values::Later(_) => {}
            }
        }
        later(&mut f)?;
        f.close()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_match_within_single_precision_only() {
        let clm = 1e36f32 as f64; // CLM's float fill read back as a double
        assert!(is_fill(clm, &[1e36]) && is_fill(f64::NAN, &[]));
        assert!(is_fill(-9999.0 * (1.0 + 5e-7), &[-9999.0]));
        assert!(!is_fill(-9999.0 * (1.0 + 2e-6), &[-9999.0]));
        assert!(!is_fill(1e36 * (1.0 - 2e-6), &[1e36]));
        // a fill of 0 matches 0 only; an infinite fill itself only
        assert!(is_fill(0.0, &[0.0]) && !is_fill(1e-300, &[0.0]));
        assert!(is_fill(f64::INFINITY, &[f64::INFINITY]) && !is_fill(1e308, &[f64::INFINITY]));
    }

    #[test]
    fn a_truncated_file_and_bad_names_are_plain_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.nc");
        let mut w = Writer::new(Format::Netcdf4);
        w.dim("x", 3).var("v", &["x"], vec![1.0, 2.0, 3.0]);
        w.save(&p).unwrap();
        let f = open(&p).unwrap();
        for bad in ["/", "a / b", "x\0y", "", " v"] {
            let e = format!("{:#}", read_f64(&f, &p, bad).unwrap_err());
            assert!(e.contains("is not a valid netCDF name"), "{e}");
        }
        let bytes = std::fs::read(&p).unwrap();
        let q = dir.path().join("cut.nc");
        std::fs::write(&q, &bytes[..bytes.len() / 2]).unwrap();
        let e = format!("{:#}", open(&q).unwrap_err());
        assert!(
            e.ends_with(
                "cut.nc: not a readable netCDF file (truncated, damaged or another format)"
            ),
            "{e}"
        );
    }

    #[test]
    fn nearest_names_first() {
        let known: Vec<String> = ["GPP", "FPSN", "EFLX_LH_TOT", "QVEGT"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(nearest_list("EFLX_LH", &known).starts_with("did you mean EFLX_LH_TOT?"));
        assert!(nearest_list("gpp", &known).starts_with("did you mean GPP?"));
    }

    #[test]
    fn writer_writes_types_fills_and_an_unlimited_dimension_and_refuses_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.nc");
        let mut w = Writer::new(Format::Offset64);
        w.unlimited("time").dim("x", 3).global("title", "t");
        w.var("time", &["time"], vec![31.0, 59.0])
            .attr("units", "days since 0001-01-01");
        w.var(
            "v",
            &["time", "x"],
            vec![1.0f32, f32::NAN, 3.0, 4.0, 5.0, 6.0],
        )
        .fill_and_missing(1e36);
        w.var("m", &["x"], vec![1i8, 0, 1]);
        w.var("n", &["x"], vec![7i32, 8, 9]).fill(-9999.0);
        w.save(&p).unwrap();
        let f = open(&p).unwrap();
        assert_eq!(f.dimension_len("time"), Some(2));
        let v = read_f64(&f, &p, "v").unwrap();
        assert!(v[1].is_nan() && v[5] == 6.0, "{v:?}");
        let raw: Vec<f32> = f.variable("v").unwrap().get_values(..).unwrap();
        assert_eq!(raw[1], 1e36f32, "NaN written as the fill value");
        assert_eq!(fill_values(&f.variable("v").unwrap()), [1e36f32 as f64; 2]);
        assert_eq!(read_f64(&f, &p, "m").unwrap(), [1.0, 0.0, 1.0]);
        assert_eq!(
            f.variable("n").unwrap().fill_value::<i32>().unwrap(),
            Some(-9999)
        );
        drop(f);
        // the file was read: it is an input now and is not replaced
        let e = w.save(&p).unwrap_err().to_string();
        assert!(e.contains("read as input"), "{e}");
        let q = dir.path().join("bad.nc");
        let mut bad = Writer::new(Format::Offset64);
        bad.dim("x", 3);
        bad.var("a", &["x"], vec![1.0, 2.0]);
        let e = format!("{:#}", bad.save(&q).unwrap_err());
        assert!(e.contains("bad.nc") && e.contains("a has 2 values"), "{e}");
        let mut bad = Writer::new(Format::Offset64);
        bad.var("a", &["y"], vec![1.0]);
        let e = format!("{:#}", bad.save(&q).unwrap_err());
        assert!(e.contains("dimension y, which is not defined"), "{e}");
        let mut bad = Writer::new(Format::Offset64);
        bad.dim("x", 1);
        bad.var("s", &["x"], vec!["a".to_string()]);
        let e = format!("{:#}", bad.save(&q).unwrap_err());
        assert!(e.contains("need netCDF-4"), "{e}");
        assert!(!q.exists() && std::fs::read_dir(dir.path()).unwrap().count() == 1);
    }
}
