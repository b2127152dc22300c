//! Real CLM/CTSM files (issue 26), from public repositories (tests/data/real/SOURCES.md:
//! fetched, not committed; each test says "skipped" when its files are absent). Reference
//! numbers are numpy's on the same files (tests/data/real/REFERENCE.md, with the scripts).

use clmtune::archive;
use clmtune::field::read::{read_files, read_files_covering};
use std::path::Path;

mod common;

/// PEcAn's CLM history file: one cell on a 1-D grid (`lndgrid` = 1), 8760 hourly samples
/// of 2004 in one file (`CASE.clm2.h0.2004-01-01-00000.nc`), the first a half hour of
/// December 2003 and December 2004 one hour short. Each whole month is the mean of its
/// hours, weighted by their intervals, as numpy gives it (REFERENCE.md e); the two partial
/// months are not months.
#[test]
fn pecan_hourly_single_point_file_gives_numpys_monthly_means() {
    let Some(src) = common::real_data("pecan/case.clm2.h0.2004-01-01-00000.nc") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let hist = archive::hist_dir(dir.path(), "case");
    std::fs::create_dir_all(&hist).unwrap();
    std::fs::copy(&src, hist.join("case.clm2.h0.2004-01-01-00000.nc")).unwrap();
    let c = archive::find_case(dir.path(), "case").unwrap();
    let months: Vec<(i64, u32)> = c.files[0].months.clone();
    assert_eq!(months, (1..=11).map(|m| (2004, m)).collect::<Vec<_>>());
    // years 2004 as a whole: December is one hour short, and the message says so
    let e = c.select((2004, 2004)).unwrap_err().to_string();
    assert!(
        e.contains("1 month(s) of years 2004-2004 missing")
            && e.contains("2004-12")
            && e.contains("1 h0 file(s) holding 11 month(s) from 2004-01 to 2004-11")
            && e.contains(
                "2004-12: 743 of 744 hours (99.9 %) not counted, below [archive] min_coverage = 1 (in case.clm2.h0.2004-01-01-00000.nc)"
            ),
        "{e}"
    );
    let vars: Vec<String> = ["GPP", "EFLX_LH_TOT", "TSA"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let f = read_files("case", &c.files, &vars, None).unwrap();
    let gpp = &f["GPP"];
    assert_eq!(gpp.dims, vec!["time", "lndgrid"]);
    assert_eq!(gpp.grid.ncell(), 1);
    assert!(!gpp.grid.is_lat_lon());
    assert_eq!(gpp.months.len(), 11);
    // numpy (REFERENCE.md e): weighted monthly means of the hourly samples
    let want: [(&str, usize, f64); 9] = [
        ("GPP", 1, 3.648481153563293e-07),
        ("GPP", 2, 1.143819706569558e-06),
        ("GPP", 7, 3.333413741370928e-05),
        ("GPP", 11, 3.851201599268788e-05),
        ("EFLX_LH_TOT", 1, -5.052300155589671),
        ("EFLX_LH_TOT", 2, 2.8543712693838974),
        ("EFLX_LH_TOT", 3, 19.35108186209432),
        ("TSA", 1, 270.4814855514034),
        ("TSA", 3, 275.4707591559297),
    ];
    for (v, m, x) in want {
        let got = f[v].values[[m - 1, 0]];
        assert!(
            ((got - x) / x).abs() < 1e-12,
            "{v} 2004-{m:02}: {got} vs numpy {x}"
        );
    }
}

/// The same file with `[archive] min_coverage = 0.99`: December 2004 (743 of its 744 hours)
/// counts, so 2004 has its 12 months, and its mean is numpy's over those 743 hours; the half
/// hour of December 2003 (0.07 %) still does not count, and says so. With a rule low enough
/// to keep that half hour too, the 13 months weighted by the time their samples cover give
/// numpy's weighted mean of all 8760 samples. Reference (REFERENCE.md e, `ref_pecan.py`,
/// run as `cd tests/data/real && /usr/bin/python3 ref_pecan.py`, numpy 1.24.2, netCDF4
/// 1.6.2): December 2004 = `np.sum(x[km == 13] * w[km == 13]) / np.sum(w[km == 13])` with
/// `w = time_bounds[:, 1] - time_bounds[:, 0]` and `km` the month of each interval's
/// midpoint; the year = `np.sum(x * w) / np.sum(w)` over all 8760 samples.
#[test]
fn pecan_hourly_file_with_min_coverage_keeps_december_at_numpys_mean() {
    let Some(src) = common::real_data("pecan/case.clm2.h0.2004-01-01-00000.nc") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let hist = archive::hist_dir(dir.path(), "case");
    std::fs::create_dir_all(&hist).unwrap();
    let name = "case.clm2.h0.2004-01-01-00000.nc";
    std::fs::copy(&src, hist.join(name)).unwrap();
    // the rule as an experiment config gives it
    let text = clmtune::config::EXAMPLE.replace(
        "years = [16, 20]",
        "years = [2004, 2004]\nmin_coverage = 0.99",
    );
    let cfg = clmtune::config::Config::parse(&text, &dir.path().join("h.toml")).unwrap();
    assert_eq!(cfg.archive.min_coverage, 0.99);
    let c = archive::find_case_covering(dir.path(), "case", cfg.archive.min_coverage).unwrap();
    assert_eq!(
        c.files[0].months,
        (1..=12).map(|m| (2004, m)).collect::<Vec<_>>()
    );
    assert_eq!(
        c.coverage_notes(),
        vec![format!(
            "case case: {name}: 2004-12: 743 of 744 hours (99.9 %) kept as a month ([archive] min_coverage = 0.99)"
        )]
    );
    let found = c.found();
    assert!(
        found.starts_with("1 h0 file(s) holding 12 month(s) from 2004-01 to 2004-12; ")
            && found.contains(&format!(
                "2004-12: 743 of 744 hours (99.9 %) kept with partial coverage (in {name})"
            ))
            && found.contains(&format!(
                "2003-12: 0.5 of 744 hours (0.07 %) not counted, below [archive] min_coverage = 0.99 (in {name})"
            )),
        "{found}"
    );
    let years = (cfg.archive.years[0], cfg.archive.years[1]);
    let files = c.select(years).unwrap();
    let vars: Vec<String> = ["GPP", "EFLX_LH_TOT", "TSA", "FSDS"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let f = read_files_covering("case", &files, &vars, Some(years), c.min_coverage).unwrap();
    assert_eq!(f["GPP"].months.len(), 12);
    // numpy (REFERENCE.md e): December 2004 over its 743 hours, and two whole months
    let want: [(&str, usize, f64); 6] = [
        ("GPP", 12, 2.6472135235996616e-05),
        ("EFLX_LH_TOT", 12, 9.612923012722758),
        ("TSA", 12, 274.4759862394063),
        ("FSDS", 12, 52.66111200077093),
        ("GPP", 1, 3.648481153563293e-07),
        ("EFLX_LH_TOT", 7, 60.527975667323346),
    ];
    for (v, m, x) in want {
        let got = f[v].values[[m - 1, 0]];
        assert!(
            ((got - x) / x).abs() < 1e-12,
            "{v} 2004-{m:02}: {got} vs numpy {x}"
        );
    }
    // the whole file: every month the samples touch, weighted by the time they cover
    let c = archive::scan_case(dir.path(), "case", None, 1e-4).unwrap();
    assert_eq!(c.files[0].months.len(), 13);
    let f = read_files_covering("case", &c.files, &vars, None, c.min_coverage).unwrap();
    let covered: Vec<f64> = c.coverage.iter().map(|m| m.covered).collect();
    assert_eq!(
        c.coverage.iter().map(|m| m.month).collect::<Vec<_>>(),
        f["GPP"].months
    );
    assert!((covered.iter().sum::<f64>() - 8760.0 / 24.0 + 0.5 / 24.0).abs() < 1e-9);
    let annual: [(&str, f64); 4] = [
        ("GPP", 2.9368085656477937e-05),
        ("EFLX_LH_TOT", 36.13101921890224),
        ("TSA", 283.10934739151236),
        ("FSDS", 154.29933503349284),
    ];
    for (v, x) in annual {
        let means = &f[v].values;
        let got =
            (0..13).map(|k| means[[k, 0]] * covered[k]).sum::<f64>() / covered.iter().sum::<f64>();
        assert!(
            ((got - x) / x).abs() < 1e-12,
            "{v} over 8760 samples: {got} vs numpy {x}"
        );
    }
}

/// The authors' processed perturbed-parameter ensemble (Dagon et al. 2020): clmtune's PCs
/// are the authors' saved PCs (to 1e-5; their signs fixed by the saved PCs), the variance
/// fractions numpy's, the default run's projection the saved one (LHF; the saved GPP one
/// was made from an earlier file whose anomaly is 100/101 of this one: 1 %, REFERENCE.md b).
#[test]
fn the_authors_ppe_gives_their_pcs_and_variance_fractions() {
    let Some(design) = common::real_data("dagon2020/lhc_100.npy") else {
        return;
    };
    let d = design.parent().unwrap();
    for f in [
        "outputdata_GPP_forSVD_100.nc",
        "outputdata_LHF_forSVD_100.nc",
        "CLM_default_GPP_forSVD.nc",
        "CLM_default_LHF_forSVD.nc",
        "obs_GPP_SVD_3modes.npy",
        "obs_LHF_SVD_3modes.npy",
    ] {
        if !d.join(f).is_file() {
            eprintln!("skipped: {f} not present");
            return;
        }
    }
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/paper/config.toml"),
    )
    .unwrap()
    .replace("../../tests/data/real/dagon2020", &d.display().to_string());
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/paper/parameters.toml"),
        dir.path().join("parameters.toml"),
    )
    .unwrap();
    let cfg_path = dir.path().join("config.toml");
    std::fs::write(&cfg_path, text).unwrap();
    let cfg = clmtune::config::Config::load(&cfg_path).unwrap();
    let settings = clmtune::eof::stage::Settings::from_config(&cfg).unwrap();
    assert_eq!(settings.weighting, "none");
    assert!(!settings.centre);
    let s = clmtune::eof::stage::EofStage::from_processed(
        settings,
        &cfg.parameters.calibrate,
        cfg.cases.ppe.as_deref(),
    )
    .unwrap();
    assert_eq!(s.ppe.cases[0], "hydro_LHC_1");
    // the design's first row (numpy, REFERENCE.md f)
    let row0 = [
        0.3453476305164902,
        0.25748417320905964,
        0.7234931598436986,
        0.7749756249348837,
        0.8671102981698793,
        0.2662391868651302,
    ];
    assert_eq!(s.ppe.scalings.row(0).to_vec(), row0.to_vec());
    // numpy's variance fractions (REFERENCE.md a, float32 SVD; float64 agrees to 1e-7)
    let fractions = [
        (
            "GPP",
            [
                0.8340648544777605,
                0.13489191075542298,
                0.011923345103227996,
            ],
        ),
        (
            "LHF",
            [0.7701995258038206, 0.12915629900434572, 0.05642753138810453],
        ),
    ];
    for (v, want) in fractions {
        let r = s.variable(v).unwrap();
        let f = r.eof.variance_fraction();
        for k in 0..3 {
            assert!(
                (f[k] - want[k]).abs() < 1e-6,
                "{v} mode {}: {}",
                k + 1,
                f[k]
            );
        }
        // the saved PCs (100 x 3, float32)
        let saved =
            clmtune::npy::read_npy(&d.join(format!("outputdata_{v}_SVD_3modes.npy"))).unwrap();
        let worst = r
            .pcs
            .iter()
            .zip(saved.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f64, f64::max);
        assert!(
            worst < 1e-5,
            "{v}: PCs differ from the saved ones by {worst}"
        );
        // the default run's projection against the saved one
        let saved = clmtune::npy::read_npy(&d.join(format!("modeldefault_{v}_SVD_3modes.npy")));
        if let Ok(saved) = saved {
            for (k, (a, b)) in r.u_default.iter().zip(saved.iter()).enumerate() {
                let rel = (a - b).abs() / b.abs();
                let tol = if v == "LHF" { 1e-6 } else { 0.0101 };
                assert!(
                    rel < tol,
                    "{v} default projection mode {}: {a} vs {b}",
                    k + 1
                );
            }
        }
        // U_obs is the authors' projection (their sign convention kept)
        let uo = clmtune::npy::read_npy(&d.join(format!("obs_{v}_SVD_3modes.npy"))).unwrap();
        assert_eq!(r.u_obs.to_vec(), uo.iter().copied().collect::<Vec<f64>>());
    }
}
