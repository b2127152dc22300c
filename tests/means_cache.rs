//! The cache of time means (`src/field/cache.rs`): a second read of an ensemble comes from
//! it bit for bit, the values are the hand-computed time means, and a history file written
//! again is read again. One test in its own binary: it sets `CLMTUNE_CACHE_DIR`.

use clmtune::archive;
use clmtune::demo::fixture;
use clmtune::field::read::{read_ensemble, Output};
use std::path::Path;

const BASE: [f64; 6] = [1.0, 2.0, f64::NAN, 3.0, 4.0, 5.0];

/// GPP in month t (0..11) of year 16 = base + offset + 0.1 t: its time mean is
/// base + offset + 0.55.
fn write_case(root: &Path, case: &str, offset: f64) {
    fixture::Archive::new(root, fixture::tiny_grid())
        .var("GPP", "gC/m^2/s", "gross primary production")
        .write_case(case, (16, 16), |_, m| {
            BASE.iter()
                .map(|b| b + offset + 0.1 * m.index as f64)
                .collect()
        })
        .unwrap();
}

#[test]
fn a_second_read_comes_from_the_cache_and_a_rewritten_case_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("archive");
    let cache = dir.path().join("cache");
    std::env::set_var("CLMTUNE_CACHE_DIR", &cache);
    let names: Vec<String> = (1..=3).map(|m| format!("ppe_{m}")).collect();
    for n in &names {
        write_case(&root, n, 0.0);
    }
    let out = [Output::new("GPP", "GPP").unwrap()];
    let read = || {
        let cases = archive::find_cases(&root, &names).unwrap();
        read_ensemble(&cases, &out, (16, 16), true)
            .unwrap()
            .remove(0)
    };
    let first = read();
    // one entry per case
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 3);
    for m in 0..3 {
        for (k, b) in BASE.iter().enumerate() {
            let v = first.values[[m, k / 3, k % 3]];
            if b.is_nan() {
                assert!(v.is_nan());
            } else {
                // the files hold single precision
                assert!((v - (b + 0.55)).abs() < 1e-6, "{v} vs {}", b + 0.55);
            }
        }
    }
    // the history files gone from the page cache's point of view: make them unreadable
    // as netCDF, and the second read can only come from the cache
    let hist = archive::hist_dir(&root, "ppe_1");
    let saved: Vec<(std::path::PathBuf, Vec<u8>, std::time::SystemTime)> = std::fs::read_dir(&hist)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let m = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p.clone(), std::fs::read(&p).unwrap(), m)
        })
        .collect();
    for (p, bytes, m) in &saved {
        // same size and time, other bytes: the key (names, sizes, times) is unchanged
        std::fs::write(p, vec![0u8; bytes.len()]).unwrap();
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(*m)
            .unwrap();
    }
    let second = read();
    let bits = |f: &clmtune::field::Field| f.values.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&second), bits(&first));
    assert_eq!(second.members, first.members);
    assert_eq!(second.units, first.units);
    assert_eq!(second.dims, first.dims);
    assert!(second.grid.same_coords(&first.grid));
    assert_eq!(second.grid.area, first.grid.area);
    for (p, bytes, _) in &saved {
        std::fs::write(p, bytes).unwrap();
    }

    // ppe_2 written again with GPP + 1: its new files are read, the others still cached
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::remove_dir_all(archive::hist_dir(&root, "ppe_2")).unwrap();
    write_case(&root, "ppe_2", 1.0);
    let third = read();
    assert!((third.values[[1, 1, 2]] - (5.0 + 1.55)).abs() < 1e-6);
    assert!((third.values[[0, 1, 2]] - (5.0 + 0.55)).abs() < 1e-6);

    // CLMTUNE_CACHE_DIR=off: no cache, same values
    std::env::set_var("CLMTUNE_CACHE_DIR", "off");
    assert_eq!(bits(&read()), bits(&third));
}
