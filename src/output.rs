//! Standard output for results: a closed pipe (`clmtune ... | head`) ends the program
//! quietly, as command-line tools do, instead of panicking inside `println!`. Messages go
//! to standard error through [`eprintln`], which drops them when nobody reads them any more
//! (`2>&1 >/dev/null | head -c5`) instead of panicking.

use std::io::Write;

/// Writes `text` to standard output; exits with status 0 if the reader has gone away.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// [`print`] followed by a newline.
pub fn println(text: &str) {
    print(&format!("{text}\n"));
}

/// Writes a line to standard error; a closed or full standard error is ignored (the work
/// goes on, its results still reach their files and the exit status still tells).
pub fn eprintln(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err
        .write_all(text.as_bytes())
        .and_then(|_| err.write_all(b"\n"))
        .and_then(|_| err.flush());
}
