//! Helpers shared by the integration tests.

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
