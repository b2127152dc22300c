//! Standard output for results: a closed pipe (`clmtune ... | head`) ends the program
//! quietly, as command-line tools do, instead of panicking inside `println!`.

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
