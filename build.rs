//! Embeds every `stdlib/*.rhai` module in the binary, so an installed clmtune imports them
//! from any folder.

use std::fmt::Write;

fn main() {
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
        writeln!(
            code,
            "    ({stem:?}, include_str!({:?})),",
            p.display().to_string()
        )
        .unwrap();
        println!("cargo:rerun-if-changed={}", p.display());
    }
    code.push_str("];\n");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("stdlib.rs");
    std::fs::write(out, code).expect("write stdlib.rs");
}
