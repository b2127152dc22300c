//! Embeds every `stdlib/*.rhai` module in the binary, so an installed clmtune imports them
//! from any folder, and the git commit clmtune is built from (`CLMTUNE_COMMIT`, `unknown`
//! outside a git checkout or without git) for the provenance in `run.json`.

use std::fmt::Write;

/// `git ARGS` in the package folder: its trimmed output, if git ran and succeeded.
fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Sets `CLMTUNE_COMMIT` and asks to be run again when HEAD moves (a commit, a checkout).
fn commit() {
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CLMTUNE_COMMIT={commit}");
    // only files that exist: cargo reruns a build script on every build for a missing one
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    for name in ["HEAD", "packed-refs"].into_iter().chain(branch.as_deref()) {
        if let Some(p) = git(&["rev-parse", "--path-format=absolute", "--git-path", name]) {
            if std::path::Path::new(&p).exists() {
                println!("cargo:rerun-if-changed={p}");
            }
        }
    }
}

/// The files whose code decides the time means the cache of `src/field/cache.rs` keeps.
const READ_CODE: &[&str] = &[
    "src/nc.rs",
    "src/archive.rs",
    "src/calendar.rs",
    "src/field/mod.rs",
    "src/field/read.rs",
    "src/field/expr.rs",
    "src/field/units.rs",
    "src/field/cache.rs",
];

/// Sets `CLMTUNE_READ_CODE`: FNV-1a (64 bits) of those files' texts.
fn read_code() {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in READ_CODE {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(f);
        println!("cargo:rerun-if-changed={}", p.display());
        for b in std::fs::read(&p).unwrap_or_default() {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=CLMTUNE_READ_CODE={h:016x}");
}

fn main() {
    commit();
    read_code();
    println!("cargo:rerun-if-changed=stdlib");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut code = String::from("/// The embedded stdlib: (module name, source).\npub static STDLIB: &[(&str, &str)] = &[\n");
    for p in names {
        let stem = p
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 stdlib file name");
        // the path from the crate's own folder at compile time, not this checkout's absolute
        // path: two checkouts sharing a target folder share this output file
        let file = p.file_name().and_then(|s| s.to_str()).expect("UTF-8 name");
        writeln!(
            code,
            "    ({stem:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/stdlib/{file}\"))),"
        )
        .unwrap();
        println!("cargo:rerun-if-changed={}", p.display());
    }
    code.push_str("];\n");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("stdlib.rs");
    std::fs::write(out, code).expect("write stdlib.rs");
}
