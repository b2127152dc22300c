//! The demo model: physical sanity, responses to parameters, and files exactly as CLM lays
//! them out (read back through clmtune's own reader).

use clmtune::demo::model::Monthly;
use clmtune::demo::run::{self, CaseSetup, LandCells};
use clmtune::demo::Params;
use std::sync::OnceLock;

mod common;

/// The land cells (built once).
fn cells() -> &'static LandCells {
    static CELLS: OnceLock<LandCells> = OnceLock::new();
    CELLS.get_or_init(|| run::cells().unwrap().1)
}

/// Three spin-up years and one written year of forcing 2000-2003.
fn simulate(params: &Params) -> Vec<Vec<Monthly>> {
    run::simulate(cells(), params, &[2000, 2001, 2002, 2003], 3, 42)
}

fn defaults() -> &'static Vec<Vec<Monthly>> {
    static OUT: OnceLock<Vec<Vec<Monthly>>> = OnceLock::new();
    OUT.get_or_init(|| simulate(&Params::defaults()))
}

fn set_all_pfts(p: &mut Params, name: &str, value: f64) {
    for (i, v) in p.pft.get_mut(name).unwrap().iter_mut().enumerate() {
        if i > 0 {
            *v = value;
        }
    }
}

#[test]
fn fluxes_are_physical() {
    let out = defaults();
    let mut dew_months = 0;
    for cell in out {
        for m in cell {
            assert!(m.gpp_umol >= 0.0 && m.gpp_umol.is_finite(), "GPP {m:?}");
            assert!(m.qvegt >= 0.0 && m.qvege >= 0.0, "transpiration {m:?}");
            let avail = m.fsa - m.fira - m.fgr;
            let et = m.qvegt + m.qvege + m.qsoil;
            // negative evaporation is dew / frost, which only forms when the surface loses energy
            if et < 0.0 {
                assert!(avail < 0.0, "dew with {avail} W/m2 available: {m:?}");
                dew_months += 1;
            }
            // energy closure: latent + sensible heat = net radiation - ground heat
            assert!(
                (m.lh + m.fsh - avail).abs() < 1e-9 * avail.abs().max(1.0),
                "{m:?}"
            );
            assert!(m.zwt >= 0.0 && m.zwt <= 14.0, "ZWT {}", m.zwt);
            assert!(m.soilwater_10cm >= 0.0 && m.soilwater_10cm <= 45.0 + 1e-9);
            assert!(m.fsat >= 0.0 && m.fsat < 0.5);
        }
    }
    // dew forms somewhere (polar nights) but is rare
    let total: usize = out.iter().map(|c| c.len()).sum();
    eprintln!("dew in {dew_months} of {total} cell-months");
    assert!(
        dew_months > 0 && dew_months < total / 10,
        "{dew_months} of {total}"
    );
}

/// (annual precipitation, annual mean root-zone water) of the snow-free, vegetated cells.
#[test]
fn wetter_soils_where_it_rains_more() {
    let out = defaults();
    let mut pairs: Vec<(f64, f64)> = Vec::new();
    for cell in out {
        let t = cell.iter().map(|m| m.tsa).sum::<f64>() / 12.0 - 273.15;
        if t < 5.0 {
            continue;
        }
        let p = cell.iter().map(|m| m.rain + m.snow).sum::<f64>() / 12.0;
        let w = cell
            .iter()
            .map(|m| m.soilliq[..8].iter().sum::<f64>())
            .sum::<f64>()
            / 12.0;
        pairs.push((p, w));
    }
    assert!(pairs.len() > 500, "{}", pairs.len());
    // Spearman rank correlation
    let rank = |v: Vec<f64>| {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut r = vec![0.0; v.len()];
        for (k, &i) in idx.iter().enumerate() {
            r[i] = k as f64;
        }
        r
    };
    let rp = rank(pairs.iter().map(|x| x.0).collect());
    let rw = rank(pairs.iter().map(|x| x.1).collect());
    let n = rp.len() as f64;
    let mean = (n - 1.0) / 2.0;
    let cov: f64 = rp
        .iter()
        .zip(&rw)
        .map(|(a, b)| (a - mean) * (b - mean))
        .sum();
    let var: f64 = rp.iter().map(|a| (a - mean).powi(2)).sum();
    let rho = cov / var;
    eprintln!("Spearman rho {rho} over {} cells", pairs.len());
    assert!(
        rho > 0.6,
        "Spearman correlation of rain and soil water: {rho}"
    );
}

#[test]
fn higher_medlynslope_transpires_more_in_the_wet_tropics() {
    let mut hi = Params::defaults();
    for (p, v) in hi
        .pft
        .get_mut("medlynslope")
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        if p > 0 {
            *v *= 1.5;
        }
    }
    let out_hi = simulate(&hi);
    let out = defaults();
    let (mut n, mut more) = (0, 0);
    let (mut sum0, mut sum1) = (0.0, 0.0);
    for (k, (_, cell)) in cells().iter().enumerate() {
        let p = out[k].iter().map(|m| m.rain).sum::<f64>() / 12.0;
        if cell.geo.lat.abs() > 10.0 || p < 5.0 {
            continue;
        }
        let t0: f64 = out[k].iter().map(|m| m.qvegt).sum();
        let t1: f64 = out_hi[k].iter().map(|m| m.qvegt).sum();
        n += 1;
        more += (t1 > t0) as usize;
        sum0 += t0;
        sum1 += t1;
    }
    eprintln!("wet tropics: {more} of {n} cells transpire more; total {sum1} vs {sum0}");
    assert!(n > 40, "{n} wet tropical cells");
    assert!(more as f64 >= 0.95 * n as f64, "{more} of {n}");
    assert!(sum1 > 1.1 * sum0, "{sum1} vs {sum0}");
}

#[test]
fn low_kmax_lowers_gpp_most_in_the_dry_season() {
    let mut low = Params::defaults();
    set_all_pfts(&mut low, "kmax", 4e-9);
    let out_low = simulate(&low);
    let out = defaults();
    let (mut dry_loss, mut wet_loss, mut n) = (0.0, 0.0, 0);
    for k in 0..out.len() {
        let mut months: Vec<usize> = (0..12).collect();
        months.sort_by(|&a, &b| out[k][a].rain.total_cmp(&out[k][b].rain));
        let (dry, wet) = (&months[..3], &months[9..]);
        let rain_dry: f64 = dry.iter().map(|&m| out[k][m].rain).sum();
        let rain_wet: f64 = wet.iter().map(|&m| out[k][m].rain).sum();
        let gpp =
            |o: &Vec<Vec<Monthly>>, ms: &[usize]| ms.iter().map(|&m| o[k][m].gpp_umol).sum::<f64>();
        let (g_dry, g_wet) = (gpp(out, dry), gpp(out, wet));
        // seasonal climates with growth in both seasons
        if rain_wet < 4.0 * rain_dry || g_dry < 1.0 || g_wet < 1.0 {
            continue;
        }
        n += 1;
        dry_loss += 1.0 - gpp(&out_low, dry) / g_dry;
        wet_loss += 1.0 - gpp(&out_low, wet) / g_wet;
    }
    assert!(n > 30, "{n} seasonal cells");
    let (dry_loss, wet_loss) = (dry_loss / n as f64, wet_loss / n as f64);
    eprintln!("{n} seasonal cells: GPP loss dry {dry_loss}, wet {wet_loss}");
    assert!(dry_loss > 0.0 && wet_loss >= 0.0);
    assert!(
        dry_loss > 1.2 * wet_loss,
        "dry-season loss {dry_loss}, wet-season loss {wet_loss}"
    );
}

/// A one-year demo case in `dir`, writing to `archive`.
fn make_case(dir: &std::path::Path, archive: &std::path::Path, user_nl: &str) {
    std::fs::create_dir_all(dir).unwrap();
    run::write_case_settings(
        dir,
        &CaseSetup {
            case: "demo_test".into(),
            archive: archive.join("demo_test"),
            start_year: 2,
            stop_years: 1,
            datm_years: (2000, 2004),
        },
    )
    .unwrap();
    std::fs::write(dir.join("user_nl_clm"), user_nl).unwrap();
}

#[test]
fn case_files_are_clm_shaped_bit_identical_and_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let case = tmp.path().join("case");
    let archive = tmp.path().join("archive");
    clmtune::demo::write_default_params(&tmp.path().join("p.nc")).unwrap();
    make_case(
        &case,
        &archive,
        "paramfile = '../p.nc'\nfff = 1.0\nhist_fincl1 = 'SOILLIQ'\n",
    );
    let s = clmtune::demo::run_case(&case).unwrap();
    assert_eq!(s.files.len(), 12);
    let status = std::fs::read_to_string(case.join("CaseStatus")).unwrap();
    assert!(
        status.contains("case.run starting") && status.contains("case.run success"),
        "{status}"
    );
    // the same inputs give the same bytes
    let first: Vec<Vec<u8>> = s.files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let again = clmtune::demo::run_case(&case).unwrap();
    for (a, f) in first.iter().zip(&again.files) {
        assert!(*a == std::fs::read(f).unwrap(), "{} differs", f.display());
    }
    // CLM's layout: end-of-month stamp, bounds, fill over ocean, the notice
    let f = netcdf::open(&s.files[0]).unwrap();
    let t: Vec<f64> = f.variable("time").unwrap().get_values(..).unwrap();
    assert_eq!(t, vec![365.0 + 31.0]);
    let src = f.attribute("source").unwrap().value().unwrap();
    assert!(format!("{src:?}").contains("NOT CLM"), "{src:?}");
    assert_eq!(f.variable("SOILLIQ").unwrap().dimensions()[1].len(), 20);
    // clmtune's reader takes the case as it would take CLM's
    use clmtune::field::read::{read_case, Output};
    let c = clmtune::archive::find_case(&archive, "demo_test").unwrap();
    let outputs = [
        Output::new("GPP", "GPP").unwrap(),
        Output::new("SW", "sum(SOILLIQ, levsoi)").unwrap(),
    ];
    let fields = read_case(&c, &outputs, (2, 2), false).unwrap();
    let gpp = &fields[0];
    assert_eq!(gpp.units, "gC/m^2/s");
    assert_eq!(gpp.values.shape(), &[12, 46, 72]);
    assert!(gpp.values[[0, 23, 36]].is_nan(), "0N 180E is ocean");
    assert!(gpp.values[[0, 22, 60]] > 0.0, "the Amazon grows in January");
    assert!(
        fields[1].values[[0, 22, 60]] > 100.0,
        "the Amazon's soil holds water"
    );
    // a broken input names its line and leaves an error in CaseStatus
    std::fs::write(case.join("user_nl_clm"), "paramfile = '../p.nc'\nfff = x\n").unwrap();
    let e = clmtune::demo::run_case(&case).unwrap_err().to_string();
    assert!(
        e.contains("user_nl_clm:2: fff needs one finite number"),
        "{e}"
    );
    let status = std::fs::read_to_string(case.join("CaseStatus")).unwrap();
    assert!(status.contains("case.run error"), "{status}");
}

#[test]
fn a_params_file_in_another_pft_order_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("p.nc");
    clmtune::demo::write_default_params(&p).unwrap();
    {
        let mut f = netcdf::append(&p).unwrap();
        let mut v = f.variable_mut("pftname").unwrap();
        let name: Vec<clmtune::demo::params::NcChar> = format!("{:<40}", "c4_grass")
            .bytes()
            .map(clmtune::demo::params::NcChar)
            .collect();
        v.put_values(&name, [13..14, 0..40]).unwrap();
    }
    let e = clmtune::demo::read_params(&p).unwrap_err().to_string();
    assert!(
        e.contains("PFT 13 is 'c4_grass'") && e.contains("c3_non-arctic_grass"),
        "{e}"
    );
}

#[test]
fn synthetic_observations_follow_the_truth_with_a_regional_bias() {
    use clmtune::demo::obs::{write_observations, ObsOptions};
    let tmp = tempfile::tempdir().unwrap();
    let (grid, cells) = run::cells().unwrap();
    let truth = clmtune::demo::setup::truth_params().unwrap();
    let read = |bias: bool| {
        let p = tmp.path().join(format!("obs_{bias}.nc"));
        let opts = ObsOptions {
            years: (2000, 2001),
            bias,
            seed: 7,
        };
        write_observations(&p, &truth, &opts, &cells, &grid).unwrap();
        // FLUXNET-MTE's layout, read back and regridded to 4x5 by clmtune's reader
        let f = netcdf::open(&p).unwrap();
        assert_eq!(f.variable("GPP").unwrap().dimensions()[1].len(), 360);
        ["GPP", "LE"].map(|v| {
            clmtune::field::obs::read_obs(
                &p,
                v,
                Some((2000, 2001)),
                std::sync::Arc::new(grid.clone()),
            )
            .unwrap()
        })
    };
    let plain = read(false);
    let biased = read(true);
    assert_eq!(plain[0].units, "gC m-2 d-1");
    assert_eq!(plain[0].values.shape(), &[24, 46, 72]);
    // the unbiased observations follow the truth run (observation noise of 6 % aside)
    let truth_run = run::simulate(
        &cells,
        &truth,
        &(0..12).map(|k| 2000 + k % 2).collect::<Vec<_>>(),
        10,
        run::case_seed("fluxnet_mte_truth"),
    );
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for (k, ((i, j), cell)) in cells.iter().enumerate() {
        if grid.landfrac[*i * 72 + *j] < 0.99 || cell.geo.lat < -55.0 || cell.geo.lat > 58.0 {
            continue;
        }
        for (t, m) in truth_run[k].iter().enumerate() {
            let o = plain[0].values[[t, *i, *j]];
            if o.is_finite() {
                sx += m.gpp_umol * 12.011e-6 * 86400.0;
                sy += o;
                n += 1.0;
            }
        }
    }
    assert!(n > 5000.0, "{n}");
    assert!(
        (sy / sx - 1.0).abs() < 0.03,
        "observed / truth GPP = {}",
        sy / sx
    );
    // the bias: more GPP in the Amazon (4S, 60W), less LE in the Sahel (14N, 0E)
    let mean = |f: &clmtune::field::Field, i: usize, j: usize| {
        // months with a missing neighbour are missing after regridding: skip them
        let v: Vec<f64> = (0..24)
            .map(|t| f.values[[t, i, j]])
            .filter(|x| x.is_finite())
            .collect();
        assert!(v.len() > 12);
        v.iter().sum::<f64>() / v.len() as f64
    };
    let (ai, aj) = (((-4.0 + 90.0) / 4.0) as usize, (300.0 / 5.0) as usize);
    let ratio = mean(&biased[0], ai, aj) / mean(&plain[0], ai, aj);
    assert!(ratio > 1.1 && ratio < 1.25, "Amazon GPP bias {ratio}");
    let (si, sj) = (((12.0 + 90.0) / 4.0) as usize, 0);
    let ratio = mean(&biased[1], si, sj) / mean(&plain[1], si, sj);
    assert!(ratio < 0.92 && ratio > 0.8, "Sahel LE bias {ratio}");
}

/// A member made from CLM5's real params file c171117 (tests/data/real/params) with the demo
/// spec runs in the demo model: the model reads the file's layout (`segment`, `rootprof_beta`
/// on `(variants, pft)`, no `d_max`/`csoilc`, which come from `user_nl_clm`), and the values
/// it reads are the spec's, hand-computed. A c200425 file holds `d_max` itself, so setting it
/// in `user_nl_clm` as well is refused.
#[test]
fn a_member_of_the_real_c171117_file_runs_in_the_demo_model() {
    use clmtune::ensemble::{paramfile, Spec};
    let (Some(c171117), Some(_)) = (
        common::real_data("params/clm5_params.c171117.nc"),
        common::real_data("params/clm5_params.c200425.nc"),
    ) else {
        return;
    };
    let real = c171117.parent().unwrap().to_path_buf();
    let tmp = tempfile::tempdir().unwrap();
    let spec_path = tmp.path().join("parameters.toml");
    std::fs::write(
        &spec_path,
        clmtune::demo::setup::SPEC.replace(
            "base_paramfile = \"clm5_params.demo.nc\"",
            &format!(
                "base_paramfile = \"{}\"",
                real.join("clm5_params.c171117.nc").display()
            ),
        ),
    )
    .unwrap();
    let spec = Spec::load(&spec_path).unwrap();
    let s = 0.25;
    let vars: Vec<paramfile::VarWrites> = spec
        .parameters
        .iter()
        .filter(|p| p.location == clmtune::ensemble::spec::Location::Paramfile)
        .map(|p| paramfile::VarWrites {
            name: p.name.clone(),
            writes: p.writes(s),
            dim_indices: p.dim_indices.clone(),
        })
        .collect();
    assert_eq!(vars.len(), 9);
    let member = tmp.path().join("case/clm5_params.c171117.member.nc");
    paramfile::write_member_params(&real.join("clm5_params.c171117.nc"), &member, &vars).unwrap();
    let case = tmp.path().join("case");
    let archive = tmp.path().join("archive");
    make_case(
        &case,
        &archive,
        &format!(
            "paramfile = '{}'\nd_max = 17.5\ncsoilc = 0.00275\nfff = 1.2425\n",
            member.display()
        ),
    );
    let out = clmtune::demo::run_case(&case).unwrap();
    assert_eq!(out.files.len(), 12);
    // what the model read: medlynslope BET 1.63 + 0.25 * (4.59 - 1.63) = 2.37; kmax 2e-9 +
    // 0.25 * 3.6e-8 = 1.1e-8 in four equal segments (series mean = the value); rootprof_beta
    // 0.93 + 0.25 * 0.06 = 0.945 (the water variant); psi50 x 0.85 of c171117's -530000 for
    // PFT 1 (relative [-0.3, 0.3] at 0.25); d_max and csoilc from user_nl_clm
    let p = clmtune::demo::read_params(&member).unwrap();
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(y.abs());
    assert!(close(p.pft("medlynslope")[4], 2.37));
    assert!(close(p.pft("kmax")[4], 1.1e-8), "{}", p.pft("kmax")[4]);
    assert!(close(p.pft("rootprof_beta")[4], 0.945));
    assert!(close(p.pft("psi50")[1], -530000.0 * 0.85));
    assert!(p.from_paramfile.is_empty());
    // the run used them: GPP is written and finite over land
    let f = netcdf::open(&out.files[6]).unwrap();
    let gpp: Vec<f64> = f.variable("GPP").unwrap().get_values(..).unwrap();
    assert!(gpp.iter().any(|x| *x > 0.0 && *x < 1e30));
    // a later file holds d_max itself: a second value in user_nl_clm is refused
    let later = clmtune::demo::read_params(&real.join("clm5_params.c200425.nc")).unwrap();
    assert_eq!(later.get("d_max"), 15.0);
    assert_eq!(later.get("csoilc"), 0.004);
    std::fs::write(
        case.join("user_nl_clm"),
        format!(
            "paramfile = '{}'\nd_max = 17.5\n",
            real.join("clm5_params.c200425.nc").display()
        ),
    )
    .unwrap();
    let e = clmtune::demo::run_case(&case).unwrap_err().to_string();
    assert!(
        e.contains("user_nl_clm: d_max is set here but the params file")
            && e.contains("clm5_params.c200425.nc holds d_max"),
        "{e}"
    );
}
