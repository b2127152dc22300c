//! Members made from real CLM params files (tests/data/real/params, see SOURCES.md there):
//! CLM5.0's c171117 (scalars on `allpfts`), c200425 and a ctsm51 file (dimensionless
//! scalars, `d_max`/`csoilc`/`fff` in the file). Only the spec's variables change: every other
//! variable is compared byte for byte with the source file, the written values with numbers
//! computed by hand from the spec and from the source values as python's netCDF4 reads them
//! (recorded below). A file with two PFTs swapped is refused naming the first one out of place.

use clmtune::ensemble::{paramfile, Spec};
use std::path::{Path, PathBuf};

mod common;

/// The real params file `name`, or `None` (the test is skipped) where the fetched files are
/// not present.
fn real_opt(name: &str) -> Option<PathBuf> {
    common::real_data(&format!("params/{name}"))
}

const C171117: &str = "clm5_params.c171117.nc";
const C200425: &str = "clm5_params.c200425.nc";
const CTSM51: &str = "ctsm51_params.c210217_kwo.c210222.nc";

/// The spec of these tests: a per-PFT variable in eight groups, a `(segment, pft)` one, a
/// `(variants, pft)` one written to its first variant only and relative to each element's
/// own value, a `(segment, pft)` one relative over every PFT (bare ground's segments differ),
/// a `(pft)` one with `_FillValue = 0`, and a scalar (`scalar`: `br_mr`, on `allpfts` in
/// c171117 and dimensionless later).
fn spec_text(base: &Path, scalar: &str) -> String {
    format!(
        r#"base_paramfile = "{}"

[[parameter]]
name = "medlynslope"
location = "paramfile"
groups = ["NET/NDT", "BET", "BDT", "SHR", "C3ag", "C3g", "C4", "C3c"]
pft_indices = ["1-3", "4-5", "6-8", "9-11", "12", "13", "14,17,18,67,68,75,76", "15-16,19-66,69-74,77-78"]
min = [1.29, 1.63, 3.19, 2.25, 2.0, 3.05, 0.53, 3.46]
max = [4.7, 4.59, 5.11, 9.27, 2.44, 9.45, 4.03, 7.7]

[[parameter]]
name = "kmax"
location = "paramfile"
pft_indices = ["1-78"]
default = 2e-8
min = 2e-9
max = 3.8e-8

[[parameter]]
name = "rootprof_beta"
location = "paramfile"
pft_indices = ["1-78"]
dim_indices = {{ variants = "0" }}
relative = [-0.02, 0.02]

[[parameter]]
name = "psi50"
location = "paramfile"
pft_indices = ["0-78"]
relative = [-0.3, 0.3]

[[parameter]]
name = "allconsl"
location = "paramfile"
pft_indices = ["17-18"]
min = 1.0
max = 9.0

[[parameter]]
name = "{scalar}"
location = "paramfile"
min = 1e-6
max = 5e-6
"#,
        base.display()
    )
}

/// Scalings of the member, in spec order.
const S: [f64; 6] = [0.3, 0.9, 1.0, 0.0, 0.25, 0.5];

/// Writes the member of `file` into `dir`; returns (source, member, spec), or `None` when
/// the real file is not present.
fn member(dir: &Path, file: &str) -> Option<(PathBuf, PathBuf, Spec)> {
    let src = real_opt(file)?;
    let spec_path = dir.join("parameters.toml");
    std::fs::write(&spec_path, spec_text(&src, "br_mr")).unwrap();
    let spec = Spec::load(&spec_path).unwrap();
    let vars: Vec<paramfile::VarWrites> = spec
        .parameters
        .iter()
        .zip(S)
        .map(|(p, s)| paramfile::VarWrites {
            name: p.name.clone(),
            writes: p.writes(s),
            dim_indices: p.dim_indices.clone(),
        })
        .collect();
    let dest = dir.join("case").join(format!("member.{file}"));
    paramfile::write_member_params(&src, &dest, &vars).unwrap();
    Some((src, dest, spec))
}

fn values(f: &netcdf::File, name: &str) -> Vec<f64> {
    f.variable(name).unwrap().get_values(..).unwrap()
}

/// Every variable but `changed`: same dimensions, attributes and bytes; the global
/// attributes and the variable list the same.
fn only_these_changed(src: &Path, member: &Path, changed: &[&str]) -> usize {
    let a = netcdf::open(src).unwrap();
    let b = netcdf::open(member).unwrap();
    let names = |f: &netcdf::File| -> Vec<String> { f.variables().map(|v| v.name()).collect() };
    assert_eq!(names(&a), names(&b));
    let attrs = |it: Vec<netcdf::Attribute>| -> Vec<String> {
        it.iter()
            .map(|x| format!("{} {:?}", x.name(), x.value().unwrap()))
            .collect()
    };
    assert_eq!(
        attrs(a.attributes().collect()),
        attrs(b.attributes().collect())
    );
    let mut compared = 0;
    for va in a.variables() {
        let vb = b.variable(&va.name()).unwrap();
        let dims = |v: &netcdf::Variable| -> Vec<(String, usize)> {
            v.dimensions().iter().map(|d| (d.name(), d.len())).collect()
        };
        assert_eq!(dims(&va), dims(&vb), "{}", va.name());
        assert_eq!(
            attrs(va.attributes().collect()),
            attrs(vb.attributes().collect()),
            "{}",
            va.name()
        );
        if changed.contains(&va.name().as_str()) {
            continue;
        }
        assert!(
            va.get_raw_values(..).unwrap() == vb.get_raw_values(..).unwrap(),
            "{} changed",
            va.name()
        );
        compared += 1;
    }
    compared
}

/// Hand-computed values of the member (the same in the three files), from the spec, the
/// scalings S and the source values python's netCDF4 reads.
fn check_written(src: &Path, member: &Path, scalar: &str) {
    let a = netcdf::open(src).unwrap();
    let b = netcdf::open(member).unwrap();
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(y.abs());
    // medlynslope at 0.3: BET (PFTs 4-5) 1.63 + 0.3 * (4.59 - 1.63) = 2.518, C4 (14) 0.53 +
    // 0.3 * 3.5 = 1.58, C3 crop (15) 3.46 + 0.3 * 4.24 = 4.732; bare ground as it was
    let ms = values(&b, "medlynslope");
    assert!(close(ms[4], 2.518) && close(ms[5], 2.518), "{:?}", &ms[..6]);
    assert!(close(ms[14], 1.58) && close(ms[75], 1.58));
    assert!(close(ms[15], 4.732) && close(ms[78], 4.732));
    assert_eq!(ms[0], values(&a, "medlynslope")[0]);
    // kmax(segment, pft) at 0.9: 2e-9 + 0.9 * 3.6e-8 = 3.44e-8 in all four segments of
    // PFTs 1-78; bare ground's 0 kept
    let k = values(&b, "kmax");
    assert_eq!(k.len(), 4 * 79);
    for s in 0..4 {
        assert_eq!(k[s * 79], 0.0);
        for p in 1..79 {
            assert!(
                close(k[s * 79 + p], 3.44e-8),
                "kmax[{s}, {p}] = {}",
                k[s * 79 + p]
            );
        }
    }
    // rootprof_beta(variants, pft), variant 0 only, times 1.02 (scaling 1 of [-0.02, 0.02]):
    // PFT 4 0.993 -> 1.01286 in variant 0, 0.962 kept in variant 1 (python: rb[:, 4] =
    // [0.993, 0.962], rb[:, 6] = [0.993, 0.961])
    let rb = values(&b, "rootprof_beta");
    assert!(close(rb[4], 0.993 * 1.02) && close(rb[4], 1.01286));
    assert_eq!(rb[79 + 4], 0.962);
    assert_eq!(rb[79 + 6], 0.961);
    assert_eq!(
        rb[0],
        values(&a, "rootprof_beta")[0],
        "PFT 0 not in the spec"
    );
    // psi50(segment, pft) times 0.7 everywhere: bare ground keeps its segments' proportions
    // (python: psi50[:, 0] = [-150000, -150000, -200000, -200000], psi50[:, 1] = -530000)
    let psi = values(&b, "psi50");
    for (s, want) in [
        (0, -105000.0),
        (1, -105000.0),
        (2, -140000.0),
        (3, -140000.0),
    ] {
        assert!(close(psi[s * 79], want), "psi50[{s}, 0] = {}", psi[s * 79]);
        assert!(close(psi[s * 79 + 1], -371000.0));
    }
    // allconsl (_FillValue = 0) at 0.25: 1 + 0.25 * 8 = 3 for PFTs 17-18; the zeros of the
    // other PFTs (python: allconsl[15:20] = [0, 0, 5, 5, 3]) are still 0, not NaN
    let al = values(&b, "allconsl");
    assert_eq!((al[17], al[18]), (3.0, 3.0));
    assert_eq!((al[15], al[16], al[19]), (0.0, 0.0, 3.0));
    assert_eq!(al.iter().filter(|x| x.is_nan()).count(), 0);
    // the scalar at 0.5: 1e-6 + 0.5 * 4e-6 = 3e-6 (python: br_mr = 2.525e-06 before)
    assert_eq!(values(&a, scalar), vec![2.525e-6]);
    let sc = values(&b, scalar);
    assert_eq!(sc.len(), 1);
    assert!(close(sc[0], 3e-6));
}

const CHANGED: [&str; 6] = [
    "medlynslope",
    "kmax",
    "rootprof_beta",
    "psi50",
    "allconsl",
    "br_mr",
];

#[test]
fn a_member_of_c171117_changes_only_the_spec_variables() {
    let dir = tempfile::tempdir().unwrap();
    let Some((src, dest, spec)) = member(dir.path(), C171117) else {
        return;
    };
    check_written(&src, &dest, "br_mr");
    // python: c171117 has 264 variables
    assert_eq!(only_these_changed(&src, &dest, &CHANGED), 264 - 6);
    // c171117's scalar is on allpfts = 1
    let f = netcdf::open(&src).unwrap();
    assert_eq!(
        f.variable("br_mr").unwrap().dimensions()[0].name(),
        "allpfts"
    );
    // kmax is 2e-8 in every vegetated PFT of c171117: the spec's default agrees, no note
    assert!(
        spec.notes.iter().all(|n| !n.contains("kmax")),
        "{:?}",
        spec.notes
    );
}

#[test]
fn a_member_of_c200425_changes_only_the_spec_variables() {
    let dir = tempfile::tempdir().unwrap();
    let Some((src, dest, _)) = member(dir.path(), C200425) else {
        return;
    };
    check_written(&src, &dest, "br_mr");
    // python: c200425 has 285 variables; d_max, csoilc and fff are dimensionless scalars
    assert_eq!(only_these_changed(&src, &dest, &CHANGED), 285 - 6);
    let f = netcdf::open(&dest).unwrap();
    assert_eq!(values(&f, "d_max"), vec![15.0]);
    assert_eq!(values(&f, "csoilc"), vec![0.004]);
    assert!(f.variable("d_max").unwrap().dimensions().is_empty());
}

#[test]
fn a_member_of_ctsm51_changes_only_the_spec_variables_and_the_spec_default_is_noted() {
    let dir = tempfile::tempdir().unwrap();
    let Some((src, dest, spec)) = member(dir.path(), CTSM51) else {
        return;
    };
    check_written(&src, &dest, "br_mr");
    // python: the ctsm51 file has 366 variables
    assert_eq!(only_these_changed(&src, &dest, &CHANGED), 366 - 6);
    // kmax varies by PFT in ctsm51 (python: 16 distinct values over PFTs 1-78, from
    // 1.2940811548017199e-09 to 4.0278222002268734e-08; 2e-8 in some PFTs): the spec's
    // default 2e-8 is noted, not refused
    let note = spec
        .notes
        .iter()
        .find(|n| n.contains("kmax default[1-78] = 0.00000002"))
        .unwrap_or_else(|| panic!("{:?}", spec.notes));
    assert!(
        note.contains("vary by PFT or segment")
            && note.contains("0.0000000012940811548017199 to 0.000000040278222002268734")
            // python: 60 of the 312 values (4 segments x 78 PFTs) differ from 2e-8
            && note.contains("60 of 312 differ from 0.00000002")
            && note.contains("the default run uses the file's values"),
        "{note}"
    );
}

#[test]
fn a_real_file_with_two_pfts_swapped_is_refused_naming_the_first_out_of_place() {
    let Some(c171117) = real_opt(C171117) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let swapped = dir.path().join("swapped.nc");
    std::fs::copy(c171117, &swapped).unwrap();
    {
        // swap c3_crop (15) and c3_irrigated (16)
        let mut f = netcdf::append(&swapped).unwrap();
        let mut v = f.variable_mut("pftname").unwrap();
        for (p, name) in [(15, "c3_irrigated"), (16, "c3_crop")] {
            let chars: Vec<clmtune::clm::NcChar> = format!("{name:<40}")
                .bytes()
                .map(clmtune::clm::NcChar)
                .collect();
            v.put_values(&chars, (p, ..)).unwrap();
        }
    }
    let dest = dir.path().join("member.nc");
    let vars = [paramfile::VarWrites {
        name: "medlynslope".into(),
        writes: vec![clmtune::ensemble::spec::Write::value(vec![15], 5.0)],
        dim_indices: vec![],
    }];
    let e = format!(
        "{:#}",
        paramfile::write_member_params(&swapped, &dest, &vars).unwrap_err()
    );
    assert!(
        e.contains("swapped.nc: PFT 15 is 'c3_irrigated', CLM5's order has 'c3_crop' there"),
        "{e}"
    );
    assert!(!dest.exists());
    // the spec check refuses it too, before any member is made
    let spec_path = dir.path().join("parameters.toml");
    std::fs::write(&spec_path, spec_text(&swapped, "br_mr")).unwrap();
    let e = format!("{:#}", Spec::load(&spec_path).unwrap_err());
    assert!(e.contains("PFT 15 is 'c3_irrigated'"), "{e}");
}

#[test]
fn dim_indices_past_the_dimension_and_on_a_missing_dimension_are_refused() {
    let Some(c171117) = real_opt(C171117) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("parameters.toml");
    let text = spec_text(&c171117, "br_mr");
    std::fs::write(
        &spec_path,
        text.replace("variants = \"0\"", "variants = \"2\""),
    )
    .unwrap();
    let e = format!("{:#}", Spec::load(&spec_path).unwrap_err());
    assert!(
        e.contains("rootprof_beta: dim_indices.variants has index 2 but variants has 2 (0-1)"),
        "{e}"
    );
    std::fs::write(
        &spec_path,
        text.replace("variants = \"0\"", "segment = \"0\""),
    )
    .unwrap();
    let e = format!("{:#}", Spec::load(&spec_path).unwrap_err());
    assert!(
        e.contains("rootprof_beta has dimensions (variants, pft), no segment for dim_indices"),
        "{e}"
    );
}
