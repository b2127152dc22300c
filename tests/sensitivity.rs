//! The sensitivity stage on constructed fields with known effects and correlations, and on
//! the demo model's one-at-a-time runs.

use clmtune::field::{Field, Grid};
use clmtune::sensitivity::{self as sens, OaatPair};
use ndarray::{array, Array3};
use std::sync::Arc;

mod common;

/// A 2 x 2 grid with equal weights (area 1, land fraction 1), so weighted = plain Pearson.
fn grid() -> Arc<Grid> {
    Arc::new(
        Grid::lat_lon(
            vec![-1.0, 1.0],
            vec![0.0, 1.0],
            array![[1.0, 1.0], [1.0, 1.0]],
            array![[1.0, 1.0], [1.0, 1.0]],
            array![[1.0, 1.0], [1.0, 1.0]],
        )
        .unwrap(),
    )
}

/// Time means (member, lat, lon) of an output whose runs are: 0 default D, then per
/// parameter its min and max runs, built so that the PE maps are
/// p1 = A, p2 = 2A + 1, p3 = 0 (no effect), p4 = B + 2 (max is the default run),
/// p5 = C, with A = [1, 2, 3, 4], B = [1, -1, -1, 1], C = [4, 3, 2, 1] (cells in row order).
/// Hence corr(p1, p2) = 1, corr(p1, p5) = -1, corr(p1, p4) = 0, and p3 has none.
fn means(name: &str, scale: f64) -> (Field, Vec<OaatPair>) {
    let d = [10.0, 20.0, 30.0, 40.0];
    let a = [1.0, 2.0, 3.0, 4.0];
    let b2 = [3.0, 1.0, 1.0, 3.0];
    let c = [4.0, 3.0, 2.0, 1.0];
    let add = |x: [f64; 4], k: f64| -> [f64; 4] { std::array::from_fn(|i| d[i] + k * x[i]) };
    let runs: Vec<[f64; 4]> = vec![
        d,                                                // 0 default
        add(a, 0.0),                                      // 1 p1 min
        add(a, 1.0),                                      // 2 p1 max
        add([0.0; 4], 0.0),                               // 3 p2 min
        std::array::from_fn(|i| d[i] + 2.0 * a[i] + 1.0), // 4 p2 max
        add(a, 0.5),                                      // 5 p3 min
        add(a, 0.5),                                      // 6 p3 max (same: no effect)
        add(b2, -1.0),                                    // 7 p4 min; its max is the default
        add(c, 1.0),                                      // 8 p5 min
        add(c, 0.0),                                      // 9 p5 max (lower: |.| gives C)
    ];
    let flat: Vec<f64> = runs.iter().flatten().map(|x| x * scale).collect();
    let values = Array3::from_shape_vec((runs.len(), 2, 2), flat)
        .unwrap()
        .into_dyn();
    let pairs = [
        ("p1", 1, 2),
        ("p2", 3, 4),
        ("p3", 5, 6),
        ("p4", 7, 0),
        ("p5", 8, 9),
    ]
    .iter()
    .map(|&(p, min, max)| OaatPair {
        parameter: p.into(),
        min,
        max,
    })
    .collect();
    let f = Field {
        name: name.into(),
        units: "1".into(),
        long_name: name.into(),
        dims: vec!["member".into(), "lat".into(), "lon".into()],
        values,
        grid: grid(),
        months: vec![],
        members: (0..runs.len()).map(|i| format!("case{i}")).collect(),
    };
    (f, pairs)
}

#[test]
fn effects_ranks_and_correlations_of_constructed_fields() {
    let (x, pairs) = means("X", 1.0);
    let (y, _) = means("Y", 10.0);
    let e = sens::parameter_effect(&[x, y], &pairs).unwrap();
    // PE maps
    assert_eq!(
        e.maps[0].values.as_slice().unwrap()[..8],
        [1.0, 2.0, 3.0, 4.0, 3.0, 5.0, 7.0, 9.0]
    );
    // global means (equal weights): 2.5, 6, 0, 2, 2.5; Y is 10 x X
    let gm: Vec<f64> = e.global_mean.column(0).to_vec();
    assert_eq!(gm, vec![2.5, 6.0, 0.0, 2.0, 2.5]);
    assert_eq!(e.global_mean[[1, 1]], 60.0);

    let pc = sens::pattern_correlation(&e, false);
    let m = pc.per_output.index_axis(ndarray::Axis(0), 0);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(close(m[[0, 1]], 1.0) && close(m[[0, 4]], -1.0) && close(m[[0, 3]], 0.0));
    assert!(close(m[[3, 4]], 0.0) && close(m[[0, 0]], 1.0));
    // the parameter with no effect has no correlation with anything, itself included
    assert!((0..5).all(|q| m[[2, q]].is_nan() && m[[q, 2]].is_nan()));
    // summed over the two outputs: undefined counts 0
    assert!(close(pc.summed[[0, 4]], -2.0) && close(pc.summed[[2, 0]], 0.0));
    // PC(p) = sum over q != p of the summed correlation / 4
    // p1: (2 + 0 + 0 - 2) / 4 = 0; p5: (-2 - 2 + 0 + 0) / 4 = -1; p3: no pattern = NaN
    let want = [0.0, 0.0, f64::NAN, 0.0, -1.0];
    for (g, w) in pc.pc_mean.iter().zip(want) {
        assert!(
            (g.is_nan() && w.is_nan()) || close(*g, w),
            "{:?}",
            pc.pc_mean
        );
    }

    let r = sens::rank_effects(&e, &pc);
    // PE ranks, 1 = largest; p1 and p5 tie at 2.5 and share rank 2 (min method)
    assert_eq!(
        r.per_output.column(0).to_vec(),
        vec![2.0, 1.0, 5.0, 4.0, 2.0]
    );
    assert_eq!(r.pe_rank_mean, vec![2.0, 1.0, 5.0, 4.0, 2.0]);
    assert_eq!(r.pe_rank, vec![2.0, 1.0, 5.0, 4.0, 2.0]);
    // PC rank, 1 = lowest; p3 (NaN) last
    assert_eq!(r.pc_rank, vec![2.0, 2.0, 5.0, 2.0, 1.0]);
    // combined: mean(pe, pc) = 2, 1.5, 5, 3, 1.5
    assert_eq!(r.combined_rank, vec![3.0, 1.0, 5.0, 4.0, 1.0]);
    // p2 and p5 tie; p2 has the better PE rank
    assert_eq!(sens::select(&r, 3), vec!["p2", "p5", "p1"]);

    // absolute correlations: anti-correlated patterns count as shared
    let pa = sens::pattern_correlation(&e, true);
    assert!(close(pa.pc_mean[4], 1.0) && close(pa.pc_mean[0], 1.0) && close(pa.pc_mean[3], 0.0));

    // files
    let dir = tempfile::tempdir().unwrap();
    sens::write_ranks(&r, &dir.path().join("ranks.csv")).unwrap();
    let t = std::fs::read_to_string(dir.path().join("ranks.csv")).unwrap();
    assert!(t.starts_with(
        "parameter,rank_X,rank_Y,pe_rank_mean,pe_rank,pc_mean,pc_rank,combined_rank\n"
    ));
    assert!(t.contains("\np3,5,5,5,5,,5,5\n"), "{t}");
    sens::write_pattern_correlation(&pc, &dir.path().join("pc.csv")).unwrap();
    let t = std::fs::read_to_string(dir.path().join("pc.csv")).unwrap();
    assert!(
        t.contains("\nX,p1,p3,\n") && t.contains("\nsum,p1,p5,-2\n"),
        "{t}"
    );
    sens::write_global_mean(&e, &dir.path().join("pe.csv")).unwrap();
    let t = std::fs::read_to_string(dir.path().join("pe.csv")).unwrap();
    assert!(t.contains("\np2,Y,60\n"), "{t}");
    let fields: Vec<&Field> = e.maps.iter().collect();
    clmtune::field::write::write_fields(&dir.path().join("pe.nc"), &fields, "test").unwrap();
    let back = clmtune::field::write::read_fields(&dir.path().join("pe.nc")).unwrap();
    assert_eq!(back["X"].dims, vec!["parameter", "lat", "lon"]);
    assert_eq!(back["X"].members, vec!["p1", "p2", "p3", "p4", "p5"]);
    assert_eq!(back["Y"].values, e.maps[1].values);
}

#[test]
fn the_demo_models_one_at_a_time_runs_rank_as_its_physics_page_says() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = common::experiment(
        dir.path(),
        3,
        "kind = \"local\"\nparallel = 2\ncases_dir = \"cases\"\ndatm_years = [2000, 2004]",
    );
    let cfg = clmtune::config::Config::load(&cfg_path).unwrap();
    let runs = clmtune::ensemble::from_config::oaat(&cfg, false)
        .unwrap()
        .with_local_model(clmtune::demo::run::LOCAL_MODEL);
    let recs = runs.submit().unwrap();
    assert!(recs
        .iter()
        .all(|r| r.status == clmtune::ensemble::Status::Complete));
    let cases: Vec<String> = runs.members.iter().map(|m| m.case.clone()).collect();
    let found = clmtune::archive::find_cases(&cfg.archive.root, &cases).unwrap();
    let outputs = [
        clmtune::field::read::Output::new("GPP", "GPP").unwrap(),
        clmtune::field::read::Output::new("ZWT", "ZWT").unwrap(),
    ];
    let means = clmtune::field::read::read_ensemble(&found, &outputs, (2, 2), true).unwrap();
    let pairs: Vec<OaatPair> = runs
        .oaat_pairs()
        .unwrap()
        .into_iter()
        .map(|(parameter, min, max)| OaatPair {
            parameter,
            min,
            max,
        })
        .collect();
    let e = sens::parameter_effect(&means, &pairs).unwrap();
    let pc = sens::pattern_correlation(&e, false);
    let r = sens::rank_effects(&e, &pc);
    let by_rank = |o: usize| -> Vec<String> {
        let mut idx: Vec<usize> = (0..e.parameters.len()).collect();
        idx.sort_by(|&a, &b| r.per_output[[a, o]].total_cmp(&r.per_output[[b, o]]));
        idx.iter().map(|&i| e.parameters[i].clone()).collect()
    };
    let gpp = by_rank(0);
    // docs/demo-model.md: kmax and medlynslope dominate GPP; leafcn and froot_leaf are inert
    assert_eq!(
        gpp[..2].iter().collect::<std::collections::BTreeSet<_>>(),
        ["kmax".to_string(), "medlynslope".to_string()]
            .iter()
            .collect(),
        "{gpp:?}"
    );
    let last2: std::collections::BTreeSet<&String> = gpp[gpp.len() - 2..].iter().collect();
    assert!(
        last2.contains(&"leafcn".to_string()) || last2.contains(&"froot_leaf".to_string()),
        "{gpp:?}"
    );
    // baseflow_scalar dominates the water table
    assert_eq!(by_rank(1)[0], "baseflow_scalar", "{:?}", by_rank(1));
    // overall, the inert pair is at the bottom of the PE ranking
    let worst = r.pe_rank.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let k = e.parameters.iter().position(|p| p == "leafcn").unwrap();
    assert!(
        r.pe_rank[k] >= worst - 1.0,
        "{:?} {:?}",
        e.parameters,
        r.pe_rank
    );
}
