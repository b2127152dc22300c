//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A small demo folder (observations of 2000-2001 only) for `demo_config()`, so that tests
/// never make the full demo folder in the user's cache.
pub fn demo_fixture() {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
        clmtune::demo::setup::ensure(dir.path(), (2000, 2001)).unwrap();
        std::env::set_var("CLMTUNE_DEMO_DIR", dir.path());
    });
}

/// An experiment folder with the demo spec and params file and a config of 1 analysed year
/// (year 2, after 1 year of spin-up) and `members` members; `backend` is the [backend] body.
pub fn experiment(dir: &Path, members: usize, backend: &str) -> PathBuf {
    clmtune::demo::write_default_params(&dir.join("clm5_params.demo.nc")).unwrap();
    std::fs::write(dir.join("parameters.toml"), clmtune::demo::setup::SPEC).unwrap();
    let cfg = clmtune::demo::setup::CONFIG
        .replace("years = [16, 20]", "years = [2, 2]")
        .replace("ppe_members = 100", &format!("ppe_members = {members}"));
    let cfg = cfg[..cfg.find("[backend]").unwrap()].to_string()
        + "[backend]\n"
        + backend
        + "\n\n[output]\ndir = \"results\"\n";
    let p = dir.join("config.toml");
    std::fs::write(&p, cfg).unwrap();
    p
}
