//! Times the parts of one demo-model run (cells, simulation, writing).
fn main() {
    let t = std::time::Instant::now();
    let (grid, cells) = clmtune::demo::run::cells().unwrap();
    eprintln!("cells {:?} ({} land cells)", t.elapsed(), cells.len());
    let p = clmtune::demo::Params::defaults();
    let years: Vec<i64> = (0..20).map(|k| 2000 + k % 5).collect();
    let t = std::time::Instant::now();
    let out = clmtune::demo::run::simulate(&cells, &p, &years, 15, 1);
    eprintln!("simulate {:?}", t.elapsed());
    let dir = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    clmtune::demo::run::write_history(dir.path(), "x", &grid, &cells, &out, 16, false, "t")
        .unwrap();
    eprintln!("write {:?}", t.elapsed());
}
