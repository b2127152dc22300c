//! `clmtune bench`: named benchmarks, each timed over several runs after one warm-up, shown
//! as a table of median / min / max against its target and written as JSON. Later stages
//! add rows to [`BENCHES`]; rows that run scripts (the script engine's `BENCHES`) are given
//! to [`run`] by the command line, so that this module does not depend on the script engine.

use crate::emulate::kind::Method;
use anyhow::Context;
use std::path::Path;
use std::time::Instant;

/// A prepared benchmark body: one timed run.
pub type Body = Box<dyn FnMut() -> anyhow::Result<()>>;

/// One benchmark: its name, what it measures, the target time, and its untimed setup.
#[derive(Clone, Copy)]
pub struct Bench {
    /// Name used on the command line and in the table.
    pub name: &'static str,
    /// What one run does.
    pub about: &'static str,
    /// Target for the median, seconds.
    pub target_s: f64,
    /// Prepares data (not timed) and returns the timed body.
    pub setup: fn() -> anyhow::Result<Body>,
    /// Long benchmarks (a minute) run once, without a warm-up.
    pub once: bool,
    /// The same work in Python on the same data, as recorded on the development machine
    /// (when and at what load: [`python_recorded`]; `--python PY` measures it in the run).
    pub python: Python,
}

/// The Python counterpart of a benchmark: the figure recorded with
/// `python3 docs/bench/python_bench.py NAME` (median of 5 after a warm-up, unless `how` says
/// otherwise; when, at what load and beside which clmtune figure: [`python_recorded`]) and
/// how it does the work.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Python {
    /// Median seconds measured; `None` where there is no Python counterpart.
    pub seconds: Option<f64>,
    /// The libraries and calls timed, or why there is no counterpart.
    pub how: &'static str,
}

/// The scale rows' Python figures, seconds (when, at what load: [`python_recorded`]).
const PY_ENSEMBLE_LOAD_1500: f64 = 6.50;
const PY_ENSEMBLE_LOAD_SPARSE_1500: f64 = 2.78;
const PY_EOF_STAGE_1500: f64 = 9.43;
const PY_HISTORY_MATCH_100M: f64 = 213.0;

/// Every benchmark.
pub const BENCHES: &[Bench] = &[
    Bench {
        name: "ensemble_load",
        about: "GPP, EFLX_LH_TOT 5-yr means: 100 members x 60 months, 4x5",
        target_s: 2.0,
        setup: ensemble_load,
        once: false,
        python: Python {
            seconds: Some(18.9),
            how: "netCDF4, a Dataset per file (6000 files)",
        },
    },
    Bench {
        name: "ensemble_load_yearly",
        about: "as ensemble_load, from 12-month files (hist_mfilt = 12): 100 x 5 files",
        target_s: 2.0,
        setup: ensemble_load_yearly,
        once: false,
        python: Python {
            seconds: Some(2.32),
            how: "netCDF4, a Dataset per 12-month file (500 files), each variable read whole",
        },
    },
    Bench {
        name: "ensemble_load_lndgrid",
        about: "as ensemble_load, from 1-D lndgrid 12-month files of the land cells",
        target_s: 2.0,
        setup: ensemble_load_lndgrid,
        once: false,
        python: Python {
            seconds: Some(1.76),
            how: "netCDF4, a Dataset per 12-month lndgrid file (500 files), each variable read whole",
        },
    },
    Bench {
        name: "ensemble_load_1500",
        about: "issue 30's scale: GPP, EFLX_LH_TOT 5-yr means of 1,500 members x 60 months, 4x5, one 60-month h0 file per member (NCAR's CLM5 PPE: hist_mfilt = 120), read as the EOF stage reads",
        target_s: 10.0,
        setup: ensemble_load_1500,
        once: false,
        python: Python {
            seconds: Some(PY_ENSEMBLE_LOAD_1500),
            how: "netCDF4, a Dataset per 60-month file (1,500 files), each variable read whole",
        },
    },
    Bench {
        name: "ensemble_load_sparse_1500",
        about: "as ensemble_load_1500 on a 400-cell sparse grid (1-D lndgrid files, as NCAR's sparse-grid PPE)",
        target_s: 5.0,
        setup: ensemble_load_sparse_1500,
        once: false,
        python: Python {
            seconds: Some(PY_ENSEMBLE_LOAD_SPARSE_1500),
            how: "netCDF4, a Dataset per 60-month lndgrid file (1,500 files), each variable read whole",
        },
    },
    Bench {
        name: "obs_regrid",
        about: "read + regrid 0.5 deg, 324-month GPP onto 4x5",
        target_s: 2.0,
        setup: obs_regrid,
        once: false,
        python: Python {
            seconds: Some(2.23),
            how: "netCDF4 + scipy RegularGridInterpolator",
        },
    },
    Bench {
        name: "eof_stage",
        about: "EOF stage: 100-member 4x5 ensemble, 0.5 deg 324-month obs",
        target_s: 2.0,
        setup: eof_stage,
        once: false,
        python: Python {
            seconds: Some(25.8),
            how: "netCDF4, RegularGridInterpolator, numpy SVD as eofs",
        },
    },
    Bench {
        name: "eof_stage_1500",
        about: "the EOF stage's numbers for GPP and LHF of the 1,500-member 4x5 ensemble (area-weighted SVD, U_obs, sigma of 27 yearly projections, the default run's PCs, RMSEs): the ensemble and the 0.5 deg observations read in setup (ensemble_load_1500 and obs_regrid time those)",
        target_s: 10.0,
        setup: eof_stage_1500,
        once: false,
        python: Python {
            seconds: Some(PY_EOF_STAGE_1500),
            how: "numpy SVD as eofs, the same fields (read in setup)",
        },
    },
    Bench {
        name: "gp_fit_1500x56",
        about: "sparse Gaussian process (sparse_gp: FITC, 100 inducing points, defaults) on 1,500 members x 56 parameters x 3 modes of a land-like function (issue 30: <= 120 s per variable, all modes; run once)",
        target_s: 120.0,
        setup: gp_fit_1500x56,
        once: true,
        python: Python {
            seconds: None,
            how: "no Python counterpart: scikit-learn is not installed here, and its exact GaussianProcessRegressor on 1,500 x 56 is another method; the counterpart would be a numpy FITC with the same inducing points (the sparse_gp tests check one on 12 members)",
        },
    },
    Bench {
        name: "map_png",
        about: "a 4x5 map with coastlines and colour bar to PNG",
        target_s: 0.1,
        setup: map_png,
        once: false,
        python: Python {
            seconds: Some(0.302),
            how: "matplotlib pcolormesh, contour, colorbar, savefig",
        },
    },
    Bench {
        name: "sensitivity_stage",
        about: "sensitivity stage: 25 demo cases x 60 months, 7 outputs, 12 parameters",
        target_s: 1.0,
        setup: sensitivity_stage,
        once: false,
        python: Python {
            seconds: Some(31.8),
            how: "netCDF4, numpy, scipy.stats.rankdata",
        },
    },
    Bench {
        name: "demo_member",
        about: "demo model: one case, 20 years (15 spun up, 5 written as 60 files)",
        target_s: 1.0,
        setup: demo_member,
        once: false,
        python: Python {
            seconds: None,
            how: "no Python counterpart: the demo model is clmtune's own",
        },
    },
    Bench {
        name: "demo_ensemble",
        about: "demo model: 100 cases of 20 years, one after another (run once)",
        target_s: 60.0,
        setup: demo_ensemble,
        once: true,
        python: Python {
            seconds: None,
            how: "no Python counterpart: the demo model is clmtune's own",
        },
    },
    Bench {
        name: "nn_fit",
        about: "network 6-10-10-3 on 60 members, 500 epochs, batch 30, RMSprop",
        target_s: 0.01,
        setup: nn_fit,
        once: false,
        python: Python {
            seconds: Some(106.0),
            how: "Keras 3 / TF-CPU model.fit",
        },
    },
    Bench {
        name: "nn_predict_10m",
        about: "10 million inputs through a 6-15-15-3 network",
        target_s: 1.0,
        setup: nn_predict,
        once: false,
        python: Python {
            seconds: Some(10.1),
            how: "Keras model.predict, batch 65536",
        },
    },
    Bench {
        name: "ridge_fit",
        about: "quadratic ridge (27 features) on 100 members x 3 modes, with variances",
        target_s: 0.001,
        setup: ridge_fit,
        once: false,
        python: Python {
            seconds: Some(0.0044),
            how: "scikit-learn PolynomialFeatures + Ridge, no variances",
        },
    },
    Bench {
        name: "gp_fit",
        about: "Gaussian process on 100 members x 6 parameters x 3 modes: 3 kernels x 5 starts, nugget chosen",
        target_s: 5.0,
        setup: gp_fit,
        once: false,
        python: Python {
            seconds: Some(88.2),
            how: "scikit-learn GaussianProcessRegressor, 9 fits x 5 starts",
        },
    },
    Bench {
        name: "nn_protocol",
        about: "the paper's protocol for 2 variables: 121 configurations + 100 resamplings of the top 10 (run once)",
        target_s: 60.0,
        setup: nn_protocol,
        once: true,
        python: Python {
            seconds: Some(198000.0),
            how: "Keras, estimate: 6 trainings timed, x 2242",
        },
    },
    Bench {
        name: "history_match_10m",
        about: "the paper's history matching: Eq. 6 on 10 million candidates through two 6-10-10-3 networks, keep the best 1000",
        target_s: 2.0,
        setup: history_match_10m,
        once: false,
        python: Python {
            seconds: Some(49.3),
            how: "numpy networks, 2^20-row chunks, argpartition",
        },
    },
    Bench {
        name: "history_match_10m_nll",
        about: "history_match_10m on the error-aware cost (nll: the misfit over sigma^2 + emulator variance + discrepancy, plus the log terms): at most 2x the Eq. 6 row (issue 27)",
        target_s: 4.0,
        setup: history_match_10m_nll,
        once: false,
        python: Python {
            seconds: None,
            how: "no Python counterpart: not measured (it would be the numpy history_match_10m row with the nll terms added)",
        },
    },
    Bench {
        name: "history_match_100m",
        about: "issue 30's scale: an implausibility wave (cut 3, the emulators' variance in the denominator, the 100,000 least implausible kept) over 10^8 candidates through history_match_10m's two 6-10-10-3 networks, in chunks (memory does not grow with the candidates)",
        target_s: 30.0,
        setup: history_match_100m,
        once: false,
        python: Python {
            seconds: Some(PY_HISTORY_MATCH_100M),
            how: "numpy networks, 2^20-row chunks, implausibility, argpartition (one run, no warm-up)",
        },
    },
    Bench {
        name: "de_rosenbrock6",
        about: "differential evolution (scipy defaults, deferred, polished) to convergence on 6-D Rosenbrock",
        target_s: 0.1,
        setup: de_rosenbrock6,
        once: false,
        python: Python {
            seconds: Some(2.30),
            how: "scipy differential_evolution, vectorized",
        },
    },
    Bench {
        name: "mcmc_gaussian6",
        about: "ensemble sampler, 200 walkers x 10,000 steps on a 6-D Gaussian, + summary (tau, quantiles)",
        target_s: 10.0,
        setup: mcmc_gaussian6,
        once: false,
        python: Python {
            seconds: Some(24.3),
            how: "emcee, vectorize=True",
        },
    },
    Bench {
        name: "de_eq6_networks",
        about: "differential evolution (scipy defaults, polished) on Eq. 6 through two 6-10-10-3 networks, one per variable as 06's nn cost (minimum 0: all 1000 generations)",
        target_s: 0.1,
        setup: de_eq6_networks,
        once: false,
        python: Python {
            seconds: Some(2.79),
            how: "scipy differential_evolution, numpy networks",
        },
    },
    Bench {
        name: "mcmc_networks",
        about: "ensemble sampler, 200 walkers x 10,000 steps, Gaussian likelihood of Eq. 6 through two 6-10-10-3 networks, one per variable as 06's nn posterior",
        target_s: 10.0,
        setup: mcmc_networks,
        once: false,
        python: Python {
            seconds: Some(37.5),
            how: "emcee, vectorize=True, numpy networks",
        },
    },
    Bench {
        name: "mcmc_converge_gp",
        about: "MCMC to convergence (kept chain > 50 tau, tau settled to 5 %), 64 walkers, on the Gaussian likelihood of Eq. 6 through a Gaussian process per variable (two variables, 100 members x 6 parameters x 3 modes, as gp_fit)",
        target_s: 10.0,
        setup: mcmc_converge_gp,
        once: false,
        python: Python {
            seconds: None,
            how: "no Python counterpart: emcee is not installed on the development machine (it would be emcee's run_mcmc in blocks of 100 steps with get_autocorr_time(tol=0), on scikit-learn GPs)",
        },
    },
    Bench {
        name: "kalman_eki_update",
        about: "one EKI update (perturbed observations, data-misfit controller) of 100 members x 20 parameters from 60 outputs",
        target_s: 0.01,
        setup: kalman_eki_update,
        once: false,
        python: Python {
            seconds: Some(0.00113),
            how: "numpy: the data-misfit controller's step and the perturbed-observation update (np.linalg.solve, OpenBLAS)",
        },
    },
    Bench {
        name: "kalman_uki_update",
        about: "one UKI update (sigma points, analysis with the prior joined) of 101 members (50 parameters) from 60 outputs",
        target_s: 0.01,
        setup: kalman_uki_update,
        once: false,
        python: Python {
            seconds: Some(0.00179),
            how: "numpy: the UKI analysis with the prior joined (np.linalg.solve, OpenBLAS), sigma points made in setup",
        },
    },
];

/// A Kalman calibration of `p` parameters against 60 outputs of a fixed nonlinear map, and
/// that map's outputs for its next members: one update is the timed work.
fn kalman_case(
    method: crate::calibrate::kalman::Method,
    members: usize,
    p: usize,
) -> anyhow::Result<(crate::calibrate::kalman::Kalman, ndarray::Array2<f64>)> {
    use crate::calibrate::kalman::{Kalman, Observations, Settings};
    let n = 60;
    let names: Vec<String> = (0..n).map(|i| format!("y{i}")).collect();
    let y: Vec<f64> = (0..n).map(|i| (i as f64 * 0.3).sin()).collect();
    let obs = Observations::diagonal(names, y, &vec![0.1; n])?;
    let settings = Settings {
        method,
        members,
        seed: 1,
        ..Settings::default()
    };
    let params: Vec<String> = (0..p).map(|i| format!("p{i}")).collect();
    let k = Kalman::new(params, obs, settings)?;
    let u = k.members()?;
    let g = ndarray::Array2::from_shape_fn((u.nrows(), n), |(j, o)| {
        (u[(j, o % p)] * (1.0 + o as f64 * 0.01)).tanh() + 0.1 * u[(j, (o + 1) % p)].powi(2)
    });
    Ok((k, g))
}

fn kalman_eki_update() -> anyhow::Result<Body> {
    let (k, g) = kalman_case(crate::calibrate::kalman::Method::Eki, 100, 20)?;
    Ok(Box::new(move || {
        let mut k = k.clone();
        let it = k.update(g.view())?;
        anyhow::ensure!(
            it.misfit.is_finite(),
            "EKI update gave misfit {}",
            it.misfit
        );
        Ok(())
    }))
}

fn kalman_uki_update() -> anyhow::Result<Body> {
    let (k, g) = kalman_case(crate::calibrate::kalman::Method::Uki, 0, 50)?;
    anyhow::ensure!(g.nrows() == 101, "UKI of 50 parameters runs 101 members");
    Ok(Box::new(move || {
        let mut k = k.clone();
        let it = k.update(g.view())?;
        anyhow::ensure!(
            it.misfit.is_finite(),
            "UKI update gave misfit {}",
            it.misfit
        );
        Ok(())
    }))
}

/// DE on the bench's network cost ([`network_cost`]).
fn de_eq6_networks() -> anyhow::Result<Body> {
    use crate::calibrate::optimize::{de::differential_evolution, DeSettings};
    let cost = network_cost()?;
    Ok(Box::new(move || {
        // the cost's minimum is 0 here, where scipy's stop rule std(E) <= tol |mean(E)|
        // (atol 0) never holds: DE runs its 1000 generations
        let r = differential_evolution(&cost, &DeSettings::default(), 1)?;
        anyhow::ensure!(r.cost < 1e-12, "DE did not find the minimum: {r:?}");
        Ok(())
    }))
}

/// The cost's Gaussian log-likelihood as a density (what `posterior(cost, ...)` samples).
struct Likelihood(crate::calibrate::cost::Cost);

impl crate::calibrate::LogDensity for Likelihood {
    fn dim(&self) -> usize {
        crate::calibrate::Objective::dim(&self.0)
    }
    fn log_prob(&self, x: ndarray::ArrayView2<f64>) -> anyhow::Result<ndarray::Array1<f64>> {
        Ok(self.0.log_likelihood(&self.0.emulate(x)?))
    }
}

/// MCMC on the bench's network cost.
fn mcmc_networks() -> anyhow::Result<Body> {
    use crate::calibrate::mcmc::{sample, McmcSettings, Start};
    let d = Likelihood(network_cost()?);
    let s = McmcSettings {
        walkers: 200,
        steps: 10_000,
        burn: 1000,
        thin: 1,
        seed: 1,
        a: 2.0,
        de: crate::calibrate::mcmc::DE_FRACTION,
    };
    Ok(Box::new(move || {
        let chain = sample(&d, &Start::Uniform, &s)?;
        anyhow::ensure!(chain.summary().acceptance > 0.05);
        Ok(())
    }))
}

/// Eq. 6 through a Gaussian process per variable (a GPP-like and an LHF-like variable of
/// [`emulator_data`]'s 100 members, as [`network_terms`] builds them, fitted with the
/// default settings as `gp_fit`), targets the GPs' prediction at 0.4 in every parameter.
fn gp_cost() -> anyhow::Result<crate::calibrate::cost::Cost> {
    use crate::calibrate::cost::{Cost, Form, Target, Term};
    use crate::emulate::gp::{Gp, GpSettings};
    use crate::emulate::Emulator;
    let (x, y) = emulator_data(100);
    let mut terms = Vec::new();
    for (v, yy) in [("GPP", y.clone()), ("LHF", y.mapv(|v| v * v - 0.01))] {
        let gp = Gp::fit(x.view(), yy.view(), &GpSettings::default())?;
        let mid = gp.predict(ndarray::Array2::from_elem((1, 6), 0.4).view())?;
        let target = Target {
            variable: v.into(),
            observed: mid.mean.row(0).to_owned(),
            sigma: ndarray::arr1(&[0.01, 0.01, 0.01]),
            lambda: ndarray::arr1(&[0.7, 0.2, 0.1]),
            default: mid.mean.row(0).mapv(|v| v + 0.02),
        };
        terms.push(Term {
            emulator: std::sync::Arc::new(gp),
            target,
            weight: 1.0,
        });
    }
    Cost::new(terms, Form::Eq6)
}

/// MCMC until converged on [`gp_cost`]'s likelihood, from a ball around the optimum (as 06
/// starts it): what `posterior(j, #{seed, start})` does on the GP.
fn mcmc_converge_gp() -> anyhow::Result<Body> {
    use crate::calibrate::mcmc::{sample_until_converged, ConvergeSettings, Start};
    let d = Likelihood(gp_cost()?);
    let s = ConvergeSettings {
        seed: 1,
        ..ConvergeSettings::default()
    };
    let start = Start::Ball {
        center: vec![0.4; 6],
        radius: 0.05,
    };
    Ok(Box::new(move || {
        let chain = sample_until_converged(&d, &start, &s)?;
        let c = chain.convergence().expect("a run to convergence");
        let names: Vec<String> = (1..=6).map(|j| format!("x{j}")).collect();
        anyhow::ensure!(c.converged, "{}", c.message(&names));
        Ok(())
    }))
}

/// DE's own overhead: the cost (6-D Rosenbrock on [-2, 3]^6) is cheap next to it.
fn de_rosenbrock6() -> anyhow::Result<Body> {
    use crate::calibrate::optimize::{de::differential_evolution, DeSettings};
    use crate::calibrate::FnObjective;
    let f = FnObjective::new(6, |u: &[f64]| {
        let mut s = 0.0;
        for j in 0..5 {
            let (a, b) = (-2.0 + 5.0 * u[j], -2.0 + 5.0 * u[j + 1]);
            s += 100.0 * (b - a * a).powi(2) + (1.0 - a).powi(2);
        }
        s
    });
    Ok(Box::new(move || {
        let r = differential_evolution(&f, &DeSettings::default(), 1)?;
        anyhow::ensure!(r.converged && r.cost < 1e-8, "DE did not converge: {r:?}");
        Ok(())
    }))
}

/// A cheap correlated 6-D Gaussian posterior inside the unit box: the sampler's own cost.
fn mcmc_gaussian6() -> anyhow::Result<Body> {
    use crate::calibrate::mcmc::{sample, GaussianDensity, McmcSettings, Start};
    let sd = [0.05, 0.06, 0.04, 0.07, 0.05, 0.06];
    let cov = ndarray::Array2::from_shape_fn((6, 6), |(i, j)| {
        let r = if i == j { 1.0 } else { 0.3 };
        r * sd[i.min(j)] * sd[i.max(j)]
    });
    let g = GaussianDensity::new(vec![0.35, 0.5, 0.65, 0.45, 0.55, 0.6], cov.view())?;
    let s = McmcSettings {
        walkers: 200,
        steps: 10_000,
        burn: 1000,
        thin: 1,
        seed: 1,
        a: 2.0,
        de: crate::calibrate::mcmc::DE_FRACTION,
    };
    Ok(Box::new(move || {
        let chain = sample(&g, &Start::Uniform, &s)?;
        let sum = chain.summary();
        anyhow::ensure!((sum.mean[0] - 0.35).abs() < 0.01 && sum.acceptance > 0.2);
        Ok(())
    }))
}

/// Emulator training data: 100 seeded uniform scalings of 6 parameters and 3 smooth
/// outputs of PC-like size.
fn emulator_data(n: usize) -> (ndarray::Array2<f64>, ndarray::Array2<f64>) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let x = ndarray::Array2::from_shape_fn((n, 6), |_| rng.gen_range(0.0..1.0));
    let y = ndarray::Array2::from_shape_fn((n, 3), |(i, k)| {
        let r: Vec<f64> = x.row(i).to_vec();
        0.1 * match k {
            0 => (2.0 * r[0]).sin() + r[1] * r[2],
            1 => (-r[3]).exp() - r[5] * r[4],
            _ => r[0] - 0.5 * r[2] * r[2],
        }
    });
    (x, y)
}

fn nn_fit() -> anyhow::Result<Body> {
    use crate::emulate::nn::{Network, NnSettings};
    let (x, y) = emulator_data(60);
    let s = NnSettings {
        epochs: 500,
        patience: None,
        ..NnSettings::default()
    };
    Ok(Box::new(move || {
        Network::train(x.view(), y.view(), None, &s)?;
        Ok(())
    }))
}

fn nn_predict() -> anyhow::Result<Body> {
    use crate::emulate::nn::{Network, NnSettings};
    use rand::{Rng, SeedableRng};
    let (x, y) = emulator_data(60);
    let s = NnSettings {
        hidden: vec![15, 15],
        epochs: 5,
        patience: None,
        ..NnSettings::default()
    };
    let net = Network::train(x.view(), y.view(), None, &s)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
    let big = ndarray::Array2::from_shape_fn((10_000_000, 6), |_| rng.gen_range(0.0..1.0));
    Ok(Box::new(move || {
        net.predict_mean(big.view())?;
        Ok(())
    }))
}

fn ridge_fit() -> anyhow::Result<Body> {
    use crate::emulate::ridge::{Ridge, RidgeSettings};
    use crate::emulate::Emulator;
    let (x, y) = emulator_data(100);
    Ok(Box::new(move || {
        let r = Ridge::fit(
            x.view(),
            y.view(),
            &RidgeSettings {
                alpha: 1e-3,
                degree: 2,
            },
        )?;
        r.predict(x.view())?;
        Ok(())
    }))
}

fn gp_fit() -> anyhow::Result<Body> {
    use crate::emulate::gp::{Gp, GpSettings};
    let (x, y) = emulator_data(100);
    Ok(Box::new(move || {
        Gp::fit(x.view(), y.view(), &GpSettings::default())?;
        Ok(())
    }))
}

/// The sparse GP of 1,500 members x 56 inputs x 3 modes (`sparse_gp::land_like`, seed 1).
fn gp_fit_1500x56() -> anyhow::Result<Body> {
    use crate::emulate::sparse_gp::{land_like, SparseGp, SparseGpSettings};
    let (x, y) = land_like(1500, 56, 1);
    Ok(Box::new(move || {
        SparseGp::fit(x.view(), y.view(), &SparseGpSettings::default())?;
        Ok(())
    }))
}

fn nn_protocol() -> anyhow::Result<Body> {
    use crate::emulate::protocol::{run, ProtocolSettings};
    let (x, y) = emulator_data(100);
    let y2 = y.mapv(|v| v * v - 0.01);
    Ok(Box::new(move || {
        let s = ProtocolSettings::default();
        for yy in [&y, &y2] {
            run(x.view(), yy.view(), &s, &|| {})?;
        }
        Ok(())
    }))
}

/// The two networks and targets of [`network_cost`]: a GPP-like and an LHF-like variable,
/// each a 6-10-10-3 network trained 200 epochs on [`emulator_data`]'s 100 members, the target
/// the prediction at 0.4 in every parameter.
fn network_terms(
) -> anyhow::Result<Vec<(crate::emulate::nn::Network, crate::calibrate::cost::Target)>> {
    use crate::calibrate::cost::Target;
    use crate::emulate::nn::{Network, NnSettings};
    use crate::emulate::Emulator;
    let (x, y) = emulator_data(100);
    let s = NnSettings {
        epochs: 200,
        patience: None,
        ..NnSettings::default()
    };
    let mut out = Vec::new();
    for (v, yy) in [("GPP", y.clone()), ("LHF", y.mapv(|v| v * v - 0.01))] {
        let net = Network::train(x.view(), yy.view(), None, &s)?;
        let mid = net.predict(ndarray::Array2::from_elem((1, 6), 0.4).view())?;
        let target = Target {
            variable: v.into(),
            observed: mid.mean.row(0).to_owned(),
            sigma: ndarray::arr1(&[0.01, 0.01, 0.01]),
            lambda: ndarray::arr1(&[0.7, 0.2, 0.1]),
            default: mid.mean.row(0).mapv(|v| v + 0.02),
        };
        out.push((net, target));
    }
    Ok(out)
}

/// Eq. 6 over two networks (GPP-like and LHF-like) with targets near the middle: one
/// network per variable, as the emulator stage's `nn` (what 06_calibrate.rhai's cost,
/// optimisers and posterior use).
pub fn network_cost() -> anyhow::Result<crate::calibrate::cost::Cost> {
    network_cost_of(crate::calibrate::cost::Form::Eq6)
}

/// [`network_cost`] in another form.
fn network_cost_of(
    form: crate::calibrate::cost::Form,
) -> anyhow::Result<crate::calibrate::cost::Cost> {
    use crate::calibrate::cost::{Cost, Term};
    let terms = network_terms()?
        .into_iter()
        .map(|(net, target)| Term {
            emulator: std::sync::Arc::new(net),
            target,
            weight: 1.0,
        })
        .collect();
    Cost::new(terms, form)
}

/// Writes, as JSON, what the Python counterparts (`docs/bench/python_bench.py`) need to work
/// on the very data of the Rust rows: `x` and `y`, [`emulator_data`]'s 100 members (the
/// 60-member rows use the first 60), and `terms`, the networks (with their scalings) and
/// targets of [`network_cost`]. Rows read from files in [`cache_dir`] need nothing more.
pub fn write_python_inputs(path: &Path) -> anyhow::Result<()> {
    let (x, y) = emulator_data(100);
    let rows = |a: &ndarray::Array2<f64>| -> Vec<Vec<f64>> {
        a.rows().into_iter().map(|r| r.to_vec()).collect()
    };
    let terms: Vec<serde_json::Value> = network_terms()?
        .into_iter()
        .map(|(net, t)| {
            serde_json::json!({
                "variable": t.variable,
                "observed": t.observed.to_vec(),
                "sigma": t.sigma.to_vec(),
                "lambda": t.lambda.to_vec(),
                "activations": net.settings.activations,
                "weights": net.weights.iter().map(&rows).collect::<Vec<_>>(),
                "biases": net.biases.iter().map(|b| b.to_vec()).collect::<Vec<_>>(),
                "x_mean": net.x_mean.to_vec(),
                "x_scale": net.x_scale.to_vec(),
                "y_mean": net.y_mean.to_vec(),
                "y_scale": net.y_scale.to_vec(),
                "residual_variance": net.residual_variance.to_vec(),
            })
        })
        .collect();
    let doc = serde_json::json!({
        "about": "inputs of clmtune bench's emulator and calibration rows (src/bench.rs), \
                  for docs/bench/python_bench.py",
        "x": rows(&x),
        "y": rows(&y),
        "terms": terms,
    });
    crate::files::atomic_write(path, |w| Ok(serde_json::to_writer(w, &doc)?))
        .with_context(|| format!("writing {}", path.display()))
}

fn history_match_10m() -> anyhow::Result<Body> {
    history_match_10m_of(crate::calibrate::cost::Form::Eq6)
}

/// The same history matching on the error-aware cost (`nll`, with a discrepancy term).
fn history_match_10m_nll() -> anyhow::Result<Body> {
    history_match_10m_of(crate::calibrate::cost::Form::Nll)
}

/// History matching of 10 million candidates on [`network_cost_of`] `form`.
fn history_match_10m_of(form: crate::calibrate::cost::Form) -> anyhow::Result<Body> {
    use crate::calibrate::history_match::{cost_filter, FilterSettings};
    let cost = network_cost_of(form)?;
    let n = cost.variables().len();
    let cost = if form.uses_variance() {
        cost.with_discrepancy(vec![1e-3; n])?
    } else {
        cost
    };
    Ok(Box::new(move || {
        let kept = cost_filter(&cost, &FilterSettings::default(), |_, _| {})?;
        anyhow::ensure!(kept.cost.len() == 1000);
        Ok(())
    }))
}

/// An implausibility wave over 10^8 candidates on [`network_cost`]'s networks (their
/// residual variance as the emulator variance), the default settings otherwise (cut 3, the
/// largest implausibility, 100,000 kept).
fn history_match_100m() -> anyhow::Result<Body> {
    use crate::calibrate::history_match::{implausibility_match, MatchSettings};
    let cost = network_cost()?;
    let s = MatchSettings {
        n: 100_000_000,
        ..MatchSettings::default()
    };
    Ok(Box::new(move || {
        let w = implausibility_match(&cost, &s, &[], |_, _| {})?;
        anyhow::ensure!(
            w.kept.evaluated == s.n
                && w.kept.accepted > 0
                && w.kept.cost.len() == w.kept.accepted.min(s.limit),
            "kept {} of {} accepted",
            w.kept.cost.len(),
            w.kept.accepted
        );
        Ok(())
    }))
}

/// A demo case folder like the demo config's runs (start year 16, 5 years written).
fn demo_case(root: &Path, case: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = root.join("cases").join(case);
    std::fs::create_dir_all(&dir)?;
    crate::demo::run::write_case_settings(
        &dir,
        &crate::demo::CaseSetup {
            case: case.to_string(),
            archive: root.join("archive").join(case),
            start_year: 16,
            stop_years: 5,
            datm_years: (2000, 2004),
        },
    )?;
    std::fs::write(dir.join("user_nl_clm"), "fff = 0.4\n")?;
    Ok(dir)
}

/// 25 demo-model cases (a default and 12 min/max pairs of fff) in the bench cache, made once.
fn sensitivity_archive() -> anyhow::Result<(std::path::PathBuf, Vec<String>)> {
    let root = cache_dir().join("sensitivity_demo_25x60");
    let cases: Vec<String> = (0..25).map(|k| format!("bench_oaat_{k}")).collect();
    if !root.join("complete").exists() {
        let pb = crate::progress::bar(25, "making bench one-at-a-time runs");
        for (k, c) in cases.iter().enumerate() {
            let dir = demo_case(&root, c)?;
            std::fs::write(
                dir.join("user_nl_clm"),
                format!("fff = {}\n", 0.1 + 0.15 * k as f64),
            )?;
            crate::demo::run_case(&dir)?;
            pb.inc(1);
        }
        pb.finish_and_clear();
        std::fs::write(root.join("complete"), "")?;
    }
    Ok((root.join("archive"), cases))
}

fn sensitivity_stage() -> anyhow::Result<Body> {
    use crate::field::read::Output;
    use crate::sensitivity as sens;
    let (root, cases) = sensitivity_archive()?;
    let cfg =
        crate::config::Config::parse(crate::demo::setup::CONFIG, Path::new("/demo/config.toml"))?;
    let outputs: Vec<Output> = cfg
        .sensitivity
        .context("demo config has outputs")?
        .outputs
        .iter()
        .map(|(k, v)| Output::new(k, v))
        .collect::<anyhow::Result<_>>()?;
    let pairs: Vec<sens::OaatPair> = (0..12)
        .map(|k| sens::OaatPair {
            parameter: format!("p{k}"),
            min: 1 + 2 * k,
            max: 2 + 2 * k,
        })
        .collect();
    Ok(Box::new(move || {
        let found = crate::archive::find_cases(&root, &cases)?;
        let means = crate::field::read::read_ensemble(&found, &outputs, (16, 20), true)?;
        let e = sens::parameter_effect(&means, &pairs)?;
        let pc = sens::pattern_correlation(&e, false);
        let r = sens::rank_effects(&e, &pc);
        anyhow::ensure!(r.combined_rank.len() == 12);
        Ok(())
    }))
}

fn demo_member() -> anyhow::Result<Body> {
    let tmp = tempfile::tempdir()?;
    let dir = demo_case(tmp.path(), "bench_member")?;
    Ok(Box::new(move || {
        let _keep = &tmp;
        crate::demo::run_case(&dir)?;
        Ok(())
    }))
}

fn demo_ensemble() -> anyhow::Result<Body> {
    let tmp = tempfile::tempdir()?;
    let dirs: Vec<_> = (1..=100)
        .map(|m| demo_case(tmp.path(), &format!("bench_LHC_{m}")))
        .collect::<anyhow::Result<_>>()?;
    Ok(Box::new(move || {
        for d in &dirs {
            crate::demo::run_case(d)?;
        }
        // the next run starts from an empty archive (and the disk stays small)
        std::fs::remove_dir_all(tmp.path().join("archive"))?;
        Ok(())
    }))
}

fn map_png() -> anyhow::Result<Body> {
    let g = crate::grids::f45()?;
    let lf = crate::grids::landfrac_4x5()?;
    let values = ndarray::Array2::from_shape_fn((46, 72), |(i, j)| {
        if lf[[i, j]] > 0.0 {
            g.lat[i].to_radians().cos() * 5.0
        } else {
            f64::NAN
        }
    });
    let dir = tempfile::tempdir()?;
    let opts = crate::plot::Options {
        title: "GPP".into(),
        units: "gC m-2 d-1".into(),
        ..Default::default()
    };
    Ok(Box::new(move || {
        let p = dir.path().join("map.png");
        crate::plot::save(
            &p,
            &opts,
            |a| crate::plot::draw_map(a, &values, &g.lat, &g.lon, Some(&lf), &opts),
            |a| crate::plot::draw_map(a, &values, &g.lat, &g.lon, Some(&lf), &opts),
        )?;
        Ok(())
    }))
}

/// Where benchmarks keep the files they make once: `$CLMTUNE_BENCH_CACHE`, else
/// `~/.cache/clmtune/bench`.
pub fn cache_dir() -> std::path::PathBuf {
    if let Ok(d) = std::env::var("CLMTUNE_BENCH_CACHE") {
        return d.into();
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
    Path::new(&home).join(".cache/clmtune/bench")
}

/// A synthetic 100-member, 5-year (60-month) ensemble on the f45 grid (real continents) in
/// CLM's layout,
/// made once; a `complete` marker guards against a half-made cache.
/// The layouts of the bench ensemble: the same numbers as monthly `h0` files, as one
/// 12-month file per year (`hist_mfilt = 12`), and as 1-D `lndgrid` files of the land cells.
/// (The scale rows' 1,500-member ensembles: [`scale_archive`].)
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    Monthly,
    Yearly,
    Sparse,
}

/// The bench ensemble (100 members x 60 months on f45) in `layout`, written once into the
/// cache.
fn layout_archive(layout: Layout) -> anyhow::Result<std::path::PathBuf> {
    let name = match layout {
        Layout::Monthly => "ensemble_f45_100x60",
        Layout::Yearly => "ensemble_f45_100x60_yearly",
        Layout::Sparse => "ensemble_f45_100x60_lndgrid",
    };
    let root = cache_dir().join(name);
    if root.join("complete").exists() {
        return Ok(root);
    }
    let grid = crate::grids::f45()?;
    let land: Vec<bool> = grid.landfrac.iter().map(|&f| f > 0.0).collect();
    let mut archive = crate::demo::fixture::Archive::new(&root, grid)
        .source("clmtune benchmark data (synthetic, not CLM)")
        .var("GPP", "gC/m^2/s", "gross primary production")
        .var("EFLX_LH_TOT", "W/m^2", "total latent heat flux [+ to atm]");
    if layout == Layout::Yearly {
        archive = archive.yearly();
    }
    if layout == Layout::Sparse {
        archive = archive.sparse().yearly();
    }
    let pb = crate::progress::bar(100, &format!("making bench ensemble {name}"));
    for member in 1..=100 {
        let case = format!("bench_LHC_{member}");
        archive.write_case(&case, (16, 20), |var, m| {
            let season = (m.month as f64 / 12.0 * std::f64::consts::TAU).cos();
            let scale = if var == "GPP" { 1.0 } else { 4e6 };
            land.iter()
                .map(|&l| {
                    if l {
                        1e-5 * (1.0 + 0.3 * season + 0.01 * member as f64) * scale
                    } else {
                        f64::NAN
                    }
                })
                .collect()
        })?;
        pb.inc(1);
    }
    pb.finish_and_clear();
    std::fs::write(root.join("complete"), "")?;
    Ok(root)
}

/// A FLUXNET-MTE-shaped file once: 0.5 degree (360 x 720), monthly 1982-2008 (324 months),
/// netCDF-4, latitudes descending, GPP in gC m-2 d-1 with -9999 over the oceans.
fn obs_file() -> anyhow::Result<std::path::PathBuf> {
    let path = cache_dir().join("mte_0.5deg_324.nc");
    if path.exists() {
        return Ok(path);
    }
    use crate::nc::{Format, Kind, Values, Writer};
    let (ny, nx, nt) = (360, 720, 324);
    let lat: Vec<f64> = (0..ny).map(|i| 89.75 - 0.5 * i as f64).collect();
    let lon: Vec<f64> = (0..nx).map(|j| -179.75 + 0.5 * j as f64).collect();
    let mut w = Writer::new(Format::Netcdf4);
    w.dim("time", nt).dim("lat", ny).dim("lon", nx);
    w.var("lat", &["lat"], lat.clone())
        .attr("units", "degrees_north");
    w.var("lon", &["lon"], lon.clone())
        .attr("units", "degrees_east");
    let t: Vec<f64> = (0..nt).map(|k| 15.0 + 30.4375 * k as f64).collect();
    w.var("time", &["time"], t)
        .attr("units", "days since 1982-01-01")
        .attr("calendar", "standard");
    w.var("GPP", &["time", "lat", "lon"], Values::Later(Kind::F32))
        .fill(-9999.0)
        .attr("units", "gC m-2 d-1");
    w.save_with(&path, |f| {
        let mut v = f.variable_mut("GPP").context("GPP")?;
        for k in 0..nt {
            let month = (k % 12) as f64;
            let map: Vec<f32> = (0..ny * nx)
                .map(|c| {
                    let (la, lo) = (lat[c / nx].to_radians(), lon[c % nx].to_radians());
                    let land = (3.0 * la).sin() * (2.0 * lo).cos() + 0.3 > 0.0;
                    if land {
                        (5.0 * la.cos()
                            * (1.0 + 0.3 * (month / 12.0 * std::f64::consts::TAU).cos()))
                            as f32
                    } else {
                        -9999.0
                    }
                })
                .collect();
            v.put_values(&map, [k..k + 1, 0..ny, 0..nx])?;
        }
        Ok(())
    })?;
    Ok(path)
}

fn obs_regrid() -> anyhow::Result<Body> {
    let path = obs_file()?;
    let grid = std::sync::Arc::new(crate::field::Grid::regular(
        46,
        72,
        ndarray::Array2::ones((46, 72)),
    )?);
    Ok(Box::new(move || {
        let f = crate::field::obs::read_obs(&path, "GPP", None, grid.clone())?;
        anyhow::ensure!(
            f.values.shape() == [324, 46, 72],
            "wrong shape {:?}",
            f.values.shape()
        );
        Ok(())
    }))
}

/// The EOF stage: ensemble 5-year means of GPP and LHF, observations read and regridded
/// (324 months), the coverage mask, one EOF analysis per variable, projections of the
/// observed mean and of every single year, reconstructions and their RMSE.
fn eof_stage() -> anyhow::Result<Body> {
    let (root, names, outputs) = ensemble_inputs(Layout::Monthly)?;
    let obs = obs_file()?;
    Ok(Box::new(move || {
        use ndarray::Ix3;
        let cases = crate::archive::find_cases(&root, &names)?;
        let ens = crate::field::read::read_ensemble(&cases, &outputs, (16, 20), true)?;
        let o = crate::field::obs::read_obs(&obs, "GPP", Some((1982, 2008)), ens[0].grid.clone())?
            .convert("gC/m^2/s")?;
        let idx: Vec<usize> = (0..o.months.len())
            .filter(|&k| (2000..=2004).contains(&o.months[k].0))
            .collect();
        let sel = crate::field::Field {
            values: o.values.select(ndarray::Axis(0), &idx),
            months: idx.iter().map(|&k| o.months[k]).collect(),
            ..o.clone()
        };
        let mask = crate::field::obs::coverage_mask(&sel, 0.8)?;
        let obs_mean = sel
            .time_mean()?
            .values
            .into_dimensionality::<ndarray::Ix2>()?;
        let years: Vec<ndarray::Array2<f64>> = (1982..=2008)
            .map(|y| {
                let k: Vec<usize> = (0..o.months.len())
                    .filter(|&i| o.months[i].0 == y)
                    .collect();
                o.values
                    .select(ndarray::Axis(0), &k)
                    .mean_axis(ndarray::Axis(0))
                    .expect("12 months")
                    .into_dimensionality()
                    .expect("2-D")
            })
            .collect();
        let views: Vec<_> = years.iter().map(|a| a.view()).collect();
        let per_year = ndarray::stack(ndarray::Axis(0), &views)?;
        for f in &ens {
            let stack = f.values.clone().into_dimensionality::<Ix3>()?;
            let e = crate::eof::Eof::new(
                &stack,
                &f.grid.shaped(&f.grid.area)?,
                Some(&f.grid.shaped(&mask)?),
                crate::eof::Weighting::Area,
            )?;
            let _u_obs = e.project(&obs_mean.clone().insert_axis(ndarray::Axis(0)), 3)?;
            let _sigma = e.project(&per_year, 3)?.std_axis(ndarray::Axis(0), 0.0);
            let rec = e.reconstruct(3)?;
            let _err = crate::metrics::rmse_maps(&rec, &obs_mean)?;
        }
        Ok(())
    }))
}

/// The bench ensemble's archive in `layout`, case names and the two outputs the ensemble
/// benchmarks read.
fn ensemble_inputs(
    layout: Layout,
) -> anyhow::Result<(
    std::path::PathBuf,
    Vec<String>,
    [crate::field::read::Output; 2],
)> {
    let names = (1..=100).map(|m| format!("bench_LHC_{m}")).collect();
    let outputs = [
        crate::field::read::Output::new("GPP", "GPP")?,
        crate::field::read::Output::new("LHF", "EFLX_LH_TOT")?,
    ];
    Ok((layout_archive(layout)?, names, outputs))
}

fn ensemble_load() -> anyhow::Result<Body> {
    load_layout(Layout::Monthly, &[100, 46, 72])
}

fn ensemble_load_yearly() -> anyhow::Result<Body> {
    load_layout(Layout::Yearly, &[100, 46, 72])
}

fn ensemble_load_lndgrid() -> anyhow::Result<Body> {
    let land = crate::grids::f45()?
        .landfrac
        .iter()
        .filter(|&&f| f > 0.0)
        .count();
    load_layout(Layout::Sparse, &[100, land])
}

/// Members of the scale rows' ensembles (issue 30: NCAR's PPE wave 0 has 1,501).
pub const SCALE_MEMBERS: usize = 1500;

/// Cells of the scale rows' sparse grid (NCAR's sparse-grid PPE runs 400 grid cells).
pub const SPARSE_CELLS: usize = 400;

/// The flat f45 indices of the sparse grid: [`SPARSE_CELLS`] land cells spread evenly over
/// the land cells in row-major order.
fn sparse_cells(grid: &crate::field::Grid) -> Vec<usize> {
    let land: Vec<usize> = (0..grid.landfrac.len())
        .filter(|&k| grid.landfrac[k] > 0.0)
        .collect();
    (0..SPARSE_CELLS)
        .map(|k| land[k * land.len() / SPARSE_CELLS])
        .collect()
}

/// A number in [-1, 1) from two integers (splitmix64 of both): the scale ensembles'
/// per-member coefficients and per-cell noise, the same on every machine.
fn unit_hash(a: u64, b: u64) -> f64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b.wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_4476_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// Member `member`'s map of variable `var` (0 GPP, 1 LHF) on f45 before the seasonal cycle:
/// `1 + 0.1 sum_k a_k p_k + 0.01 e` over land (NaN elsewhere), with four smooth patterns
/// `p_k` of latitude and longitude, coefficients `a_k` and per-cell noise `e` in [-1, 1)
/// from [`unit_hash`]: an ensemble of several modes, as a PPE's.
fn scale_member_map(grid: &crate::field::Grid, member: usize, var: usize) -> Vec<f64> {
    let m = (member * 2 + var) as u64;
    let a: Vec<f64> = (0..4).map(|k| unit_hash(m, k)).collect();
    let nlon = grid.lon.len();
    (0..grid.landfrac.len())
        .map(|c| {
            if grid.landfrac[c] <= 0.0 {
                return f64::NAN;
            }
            let (la, lo) = (
                grid.lat[c / nlon].to_radians(),
                grid.lon[c % nlon].to_radians(),
            );
            let p = [
                la.sin(),
                lo.cos(),
                (2.0 * la).sin() * lo.sin(),
                (3.0 * lo).cos() * la.cos(),
            ];
            let s: f64 = a.iter().zip(&p).map(|(a, p)| a * p).sum();
            1.0 + 0.1 * s + 0.01 * unit_hash(m, 1000 + c as u64)
        })
        .collect()
}

/// The scale rows' ensemble, written once into the cache: [`SCALE_MEMBERS`] members x 60
/// months (years 16-20), GPP and EFLX_LH_TOT, each member one 60-month `h0` file as NCAR's
/// CLM5 PPE writes them (`hist_mfilt = 120`: ten years of months per file), on f45 or
/// (`sparse`) on [`SPARSE_CELLS`] land cells along `lndgrid`. Values: GPP
/// `1e-5 (1 + 0.3 cos(season))` times [`scale_member_map`], LHF the same times 4e6.
fn scale_archive(sparse: bool) -> anyhow::Result<std::path::PathBuf> {
    let name = if sparse {
        "ensemble_sparse400_1500x60"
    } else {
        "ensemble_f45_1500x60"
    };
    let root = cache_dir().join(name);
    if root.join("complete").exists() {
        return Ok(root);
    }
    let f45 = crate::grids::f45()?;
    let cells: Vec<usize> = if sparse {
        sparse_cells(&f45)
    } else {
        (0..f45.landfrac.len()).collect()
    };
    let grid = if sparse {
        let mut keep = vec![false; f45.landfrac.len()];
        for &c in &cells {
            keep[c] = true;
        }
        f45.subset(&keep, "lndgrid")?
    } else {
        f45.clone()
    };
    let archive = crate::demo::fixture::Archive::new(&root, grid)
        .source("clmtune benchmark data (synthetic, not CLM)")
        .var("GPP", "gC/m^2/s", "gross primary production")
        .var("EFLX_LH_TOT", "W/m^2", "total latent heat flux [+ to atm]")
        .one_file();
    let pb = crate::progress::bar(
        SCALE_MEMBERS as u64,
        &format!("making bench ensemble {name}"),
    );
    for member in 1..=SCALE_MEMBERS {
        let maps: Vec<Vec<f64>> = (0..2)
            .map(|v| {
                let full = scale_member_map(&f45, member, v);
                cells.iter().map(|&c| full[c]).collect()
            })
            .collect();
        archive.write_case(&format!("bench_LHC_{member}"), (16, 20), |var, m| {
            let season = (m.month as f64 / 12.0 * std::f64::consts::TAU).cos();
            let (map, scale) = if var == "GPP" {
                (&maps[0], 1.0)
            } else {
                (&maps[1], 4e6)
            };
            map.iter()
                .map(|x| 1e-5 * (1.0 + 0.3 * season) * scale * x)
                .collect()
        })?;
        pb.inc(1);
    }
    pb.finish_and_clear();
    std::fs::write(root.join("complete"), "")?;
    Ok(root)
}

/// The scale rows' case names and the two outputs they read.
fn scale_inputs() -> anyhow::Result<(Vec<String>, Vec<crate::field::read::Output>)> {
    let names = (1..=SCALE_MEMBERS)
        .map(|m| format!("bench_LHC_{m}"))
        .collect();
    let outputs = vec![
        crate::field::read::Output::new("GPP", "GPP")?,
        crate::field::read::Output::new("LHF", "EFLX_LH_TOT")?,
    ];
    Ok((names, outputs))
}

/// Reads the scale ensemble (`sparse`: on the 400-cell grid) as the EOF stage reads an
/// ensemble ([`crate::eof::stage::read_runs`]), checking the fields' shape.
fn scale_load(sparse: bool) -> anyhow::Result<Body> {
    let root = scale_archive(sparse)?;
    let (names, outputs) = scale_inputs()?;
    let shape: Vec<usize> = if sparse {
        vec![SCALE_MEMBERS, SPARSE_CELLS]
    } else {
        vec![SCALE_MEMBERS, 46, 72]
    };
    Ok(Box::new(move || {
        let f = crate::eof::stage::read_runs(&root, &names, &outputs, (16, 20), 1.0)?;
        anyhow::ensure!(
            f.len() == 2 && f[1].values.shape() == shape.as_slice(),
            "wrong shape {:?}",
            f[1].values.shape()
        );
        Ok(())
    }))
}

fn ensemble_load_1500() -> anyhow::Result<Body> {
    scale_load(false)
}

fn ensemble_load_sparse_1500() -> anyhow::Result<Body> {
    scale_load(true)
}

/// The EOF stage's settings for the scale rows: 3 modes, area weighting, the bench
/// observations' 2000-2004 as the observed years, 1982-2008 for sigma, coverage 0.8.
fn scale_eof_settings(root: &Path, obs: &Path) -> crate::eof::stage::Settings {
    use crate::eof::stage::{Settings, VariableSpec};
    let var = |name: &str, model: &str| VariableSpec {
        name: name.into(),
        obs: "GPP".into(),
        model: model.into(),
        obs_file: None,
        obs_options: Default::default(),
    };
    Settings {
        modes: 3,
        weighting: "area".into(),
        centre: true,
        archive_root: root.to_path_buf(),
        years: (16, 20),
        archive_min_coverage: 1.0,
        obs_file: obs.to_path_buf(),
        obs_options: Default::default(),
        obs_years: (2000, 2004),
        sigma_years: (1982, 2008),
        min_coverage: 0.8,
        variables: vec![var("GPP", "GPP"), var("LHF", "EFLX_LH_TOT")],
        processed: None,
    }
}

/// The EOF stage's numbers ([`crate::eof::stage::VariableResult::compute_all`], as the
/// stage computes them) for both variables of the 1,500-member f45 ensemble. Setup reads the ensemble and the
/// observations (regridded, GPP in gC/m^2/s; LHF's observations are GPP's times 4e6, in
/// W/m^2, as the ensemble's LHF is its GPP's times 4e6) and writes the regridded GPP
/// observations (1982-2008, time x lat x lon) as `eof_stage_1500_obs.npy` beside the data,
/// for the Python counterpart. The default run is member 1.
fn eof_stage_1500() -> anyhow::Result<Body> {
    use crate::eof::stage::VariableResult;
    let root = scale_archive(false)?;
    let (names, outputs) = scale_inputs()?;
    let obs_path = obs_file()?;
    let settings = scale_eof_settings(&root, &obs_path);
    let ens = crate::eof::stage::read_runs(&root, &names, &outputs, (16, 20), 1.0)?;
    let gpp =
        crate::field::obs::read_obs(&obs_path, "GPP", Some((1982, 2008)), ens[0].grid.clone())?
            .convert("gC/m^2/s")?;
    let npy = cache_dir().join("eof_stage_1500_obs.npy");
    ndarray_npy::write_npy(&npy, &gpp.values)
        .with_context(|| format!("writing {}", npy.display()))?;
    let lhf = crate::field::Field {
        name: "LHF".into(),
        units: "W/m^2".into(),
        values: gpp.values.mapv(|v| v * 4e6),
        ..gpp.clone()
    };
    let obs = [gpp, lhf];
    let defaults: Vec<crate::field::Field> = ens
        .iter()
        .map(|f| crate::field::Field {
            values: f
                .values
                .slice_axis(ndarray::Axis(0), (0..1).into())
                .to_owned(),
            members: f.members[..1].to_vec(),
            ..f.clone()
        })
        .collect();
    Ok(Box::new(move || {
        let all = VariableResult::compute_all(&ens, None, &defaults, &obs, &settings)?;
        for r in &all {
            anyhow::ensure!(
                r.pcs.dim() == (SCALE_MEMBERS, 3) && r.sigma.len() == 3,
                "{}: PCs {:?}",
                r.name,
                r.pcs.dim()
            );
        }
        Ok(())
    }))
}

/// Reads the two outputs' 5-year means of the bench ensemble in `layout`; `shape` is the
/// field's expected shape.
fn load_layout(layout: Layout, shape: &[usize]) -> anyhow::Result<Body> {
    let (root, names, outputs) = ensemble_inputs(layout)?;
    let shape = shape.to_vec();
    Ok(Box::new(move || {
        let cases = crate::archive::find_cases(&root, &names)?;
        let f = crate::field::read::read_ensemble(&cases, &outputs, (16, 20), true)?;
        anyhow::ensure!(
            f[0].values.shape() == shape.as_slice(),
            "wrong shape {:?}",
            f[0].values.shape()
        );
        Ok(())
    }))
}

/// Timings of one benchmark, seconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Timing {
    /// Benchmark name.
    pub name: String,
    /// What it measures.
    pub about: String,
    /// Median of the runs.
    pub median_s: f64,
    /// Fastest run.
    pub min_s: f64,
    /// Slowest run.
    pub max_s: f64,
    /// Target for the median.
    pub target_s: f64,
    /// Number of timed runs.
    pub runs: usize,
    /// The most resident memory while this benchmark's warm-up and runs ran, its setup's
    /// data held included (MiB; Linux's VmHWM, reset after the setup by [`reset_peak_rss`]).
    pub peak_rss_mib: Option<f64>,
    /// Whether `peak_rss_mib` is this row's own: false when the reset failed, and the figure
    /// is the high-water mark of the whole process so far (marked `*` in the table).
    pub peak_rss_own: bool,
    /// The Python counterpart's recorded median, seconds (`None`: no counterpart).
    pub python_s: Option<f64>,
    /// How the Python figure was measured, or why there is none.
    pub python_how: String,
    /// When and at what load the recorded figure `python_s` was measured (not in this run).
    pub python_recorded: String,
    /// The Python counterpart measured in this run, right after clmtune's row
    /// (`clmtune bench --python PY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python_measured: Option<PyMeasured>,
    /// Why the Python counterpart failed in this run, e.g. "python: no module named sklearn".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python_error: Option<String>,
    /// The 1-minute load average (`/proc/loadavg`) before clmtune's row, after it, and
    /// (when the Python counterpart ran) after the Python counterpart; `null` if unknown.
    pub load_1m: Vec<Option<f64>>,
}

/// When and at what load the recorded Python figure of row `name` was measured: the
/// `python.seconds` of the rows in [`BENCHES`] and the script engine's `BENCHES`.
pub fn python_recorded(name: &str) -> &'static str {
    // measured with `clmtune bench --python /work/pybench/bin/python` (see README), beside
    // the clmtune median quoted
    match name {
        "obs_regrid" => "6 Dec 2026 beside clmtune's 937 ms, load 6.1-6.5",
        "eof_stage" => "6 Dec 2026 beside clmtune's 2.80 s, load 6.5-7.4",
        "ridge_fit" => "6 Dec 2026 beside clmtune's 220 us, load 7.4",
        "gp_fit" => "6 Dec 2026 beside clmtune's 3.21 s, load 7.4-7.6",
        "ensemble_load" => "6 Dec 2026 beside clmtune's 2.57 s, load 6.8-8.3",
        "ensemble_load_yearly" => "6 Dec 2026 beside clmtune's 1.41 s, load 8.3-8.5",
        "ensemble_load_lndgrid" => "6 Dec 2026 beside clmtune's 732 ms, load 8.4-8.5",
        "map_png" => "6 Dec 2026 beside clmtune's 6.7 ms, load 8.4",
        "de_rosenbrock6" => "6 Dec 2026 beside clmtune's 22.2 ms, load 8.4",
        "mcmc_gaussian6" => "6 Dec 2026 beside clmtune's 2.90 s, load 7.5-8.4",
        "de_eq6_networks" => "6 Dec 2026 beside clmtune's 92.8 ms, load 7.5-7.8",
        "mcmc_networks" => "6 Dec 2026 beside clmtune's 3.60 s, load 7.5-8.1",
        "history_match_10m" => "6 Dec 2026 beside clmtune's 11.1 s, load 5.1-7.8, 3 runs",
        // issue 30's scale rows: /usr/bin/python3 (3.11.2, numpy 1.24.2, netCDF4 1.6.2),
        // `python_bench.py ROW --runs 3`, apart from clmtune's runs (README)
        "ensemble_load_1500" => "7 Dec 2026 09:54 UTC, load 3.2, 3 runs, system Python",
        "ensemble_load_sparse_1500" => "7 Dec 2026 09:25 UTC, load 6.3, 3 runs, system Python",
        "eof_stage_1500" => "7 Dec 2026 09:55 UTC, load 3.0, 3 runs, system Python",
        "history_match_100m" => "7 Dec 2026 09:56-09:59 UTC, load 3-4, one run, system Python",
        "kalman_eki_update" | "kalman_uki_update" => {
            "7 Dec 2026 12:53 UTC, load 1.3, system Python; clmtune 1.1 and 1.6 ms at 12:55, load 1.6"
        }
        _ => "1-2 Dec 2026, load 7-13, apart from clmtune's run",
    }
}

/// One Python counterpart measured by `docs/bench/python_bench.py --emit-json`: timed inside
/// the Python process with `time.perf_counter` (interpreter start-up, imports and the row's
/// untimed setup are not counted), one warm-up then `runs` runs, as clmtune's rows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PyMeasured {
    /// Median of the runs, seconds.
    pub median_s: f64,
    /// Fastest run.
    pub min_s: f64,
    /// Slowest run.
    pub max_s: f64,
    /// Every timed run, seconds.
    pub times_s: Vec<f64>,
    /// Number of timed runs.
    pub runs: usize,
    /// Whether one untimed warm-up ran first.
    pub warmup: bool,
    /// The figure is an estimate scaled from a timed sample (`nn_protocol`).
    #[serde(default)]
    pub estimate: bool,
    /// The Python process's peak resident memory, MiB (`ru_maxrss`).
    #[serde(default)]
    pub peak_rss_mib: Option<f64>,
    /// The versions of the libraries the row imported, as Python reports them.
    #[serde(default)]
    pub versions: std::collections::BTreeMap<String, String>,
}

/// What `python_bench.py --emit-json` puts before each row's JSON line.
pub const PY_MARKER: &str = "CLMTUNE_BENCH_RESULT ";

/// Reads the result of Python row `row` from the output of `python_bench.py --emit-json`
/// (`status`: the exit code, `None` if killed by a signal): the row's JSON line, or the
/// failure as one line for the table ("python: no module named sklearn").
pub fn parse_python_output(
    row: &str,
    stdout: &str,
    stderr: &str,
    status: Option<i32>,
) -> Result<PyMeasured, String> {
    let line = stdout.lines().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l.strip_prefix(PY_MARKER)?).ok()?;
        (v["row"] == row).then_some(v)
    });
    if let Some(v) = line {
        if let Some(e) = v.get("error") {
            let e = e
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string());
            return Err(format!("python: {}", crate::format::printable(&e)));
        }
        let m: PyMeasured = serde_json::from_value(v)
            .map_err(|e| format!("python: unreadable result line ({e})"))?;
        let ok = |t: f64| t.is_finite() && t >= 0.0;
        if m.runs == 0
            || m.times_s.len() != m.runs
            || !(ok(m.median_s) && ok(m.min_s) && ok(m.max_s))
            || m.min_s > m.median_s
            || m.median_s > m.max_s
        {
            return Err(format!(
                "python: inconsistent result: median {} min {} max {} over {} runs",
                m.median_s, m.min_s, m.max_s, m.runs
            ));
        }
        return Ok(m);
    }
    let exit = match status {
        Some(c) => format!("exit status {c}"),
        None => "killed by a signal".to_string(),
    };
    // a failure before the row ran (e.g. `import numpy` at the top of the script)
    for l in stderr.lines().rev() {
        if let Some(rest) = l
            .trim()
            .strip_prefix("ModuleNotFoundError: No module named ")
        {
            let name = rest.trim().trim_matches(|c| c == '\'' || c == '"');
            return Err(format!(
                "python: no module named {}",
                crate::format::printable(name)
            ));
        }
    }
    match stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        Some(l) => Err(format!("python: {} ({exit})", crate::format::printable(l))),
        None => Err(format!("python: no result for {row} ({exit})")),
    }
}

/// The 1-minute load average from the text of `/proc/loadavg` ("0.35 1.17 1.62 2/114 4166").
pub fn parse_loadavg(text: &str) -> Option<f64> {
    let v: f64 = text.split_whitespace().next()?.parse().ok()?;
    v.is_finite().then_some(v)
}

/// The machine's 1-minute load average now (Linux `/proc/loadavg`), if known.
pub fn load_1m() -> Option<f64> {
    parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

/// The Python side of `clmtune bench --python PY`: the interpreter, the counterparts' script
/// (`docs/bench/python_bench.py`, embedded in the binary and written beside the bench data
/// at each run) and what the interpreter reports of itself and its libraries.
pub struct PythonSide {
    /// The interpreter as given.
    pub interpreter: std::path::PathBuf,
    /// Where the counterparts' script was written.
    pub script: std::path::PathBuf,
    /// The bench data folder the script reads ([`cache_dir`]).
    pub cache: std::path::PathBuf,
    /// `executable`, `python` and the versions of numpy, scipy, scikit-learn, netCDF4,
    /// matplotlib, emcee, keras, tensorflow (null: not installed), or `error`.
    pub versions: serde_json::Value,
}

/// The counterparts' script, as in the source tree.
pub const PYTHON_BENCH_SCRIPT: &str = include_str!("../docs/bench/python_bench.py");

/// What `python -c` runs to report the interpreter and its libraries (without importing them).
const VERSIONS_SNIPPET: &str = r#"import json, platform, sys
from importlib import metadata
v = {"executable": sys.executable, "python": platform.python_version()}
for d in ["numpy", "scipy", "scikit-learn", "netCDF4", "matplotlib", "emcee", "keras",
          "tensorflow", "tensorflow-cpu"]:
    try:
        v[d] = metadata.version(d)
    except Exception:
        v[d] = None
print(json.dumps(v))
"#;

impl PythonSide {
    /// Writes the script into `cache` and asks `interpreter` for its versions.
    pub fn new(interpreter: &Path, cache: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(cache)
            .with_context(|| format!("cannot make {}", crate::format::quote_path(cache)))?;
        let script = cache.join("python_bench.py");
        crate::files::atomic_write(
            &script,
            |w| Ok(w.write_all(PYTHON_BENCH_SCRIPT.as_bytes())?),
        )?;
        let versions = match crate::files::command(interpreter)
            .arg("-c")
            .arg(VERSIONS_SNIPPET)
            .stdin(std::process::Stdio::null())
            .output()
        {
            Err(e) => anyhow::bail!(
                "--python: cannot run {}: {e}",
                crate::format::quote_path(interpreter)
            ),
            Ok(o) => serde_json::from_slice::<serde_json::Value>(&o.stdout)
                .ok()
                .filter(|v| v.is_object())
                .unwrap_or_else(|| {
                    let err = String::from_utf8_lossy(&o.stderr);
                    let last = err.lines().rev().map(str::trim).find(|l| !l.is_empty());
                    serde_json::json!({
                        "error": crate::format::printable(last.unwrap_or("no version report"))
                    })
                }),
        };
        Ok(Self {
            interpreter: interpreter.to_path_buf(),
            script,
            cache: cache.to_path_buf(),
            versions,
        })
    }

    /// Runs the counterpart of row `row` in its own process: one warm-up and `runs` timed
    /// runs, or one run without warm-up for `once` rows, as clmtune's row.
    pub fn run_row(&self, row: &str, runs: usize, once: bool) -> Result<PyMeasured, String> {
        let mut cmd = crate::files::command(&self.interpreter);
        cmd.arg(&self.script)
            .arg(row)
            .arg("--emit-json")
            .arg("--runs")
            .arg(if once { 1 } else { runs.max(1) }.to_string())
            .env("CLMTUNE_BENCH_CACHE", &self.cache)
            .stdin(std::process::Stdio::null());
        if once {
            cmd.arg("--no-warmup");
        }
        let out = cmd.output().map_err(|e| {
            format!(
                "python: cannot run {}: {e}",
                crate::format::quote_path(&self.interpreter)
            )
        })?;
        parse_python_output(
            row,
            &String::from_utf8_lossy(&out.stdout),
            &String::from_utf8_lossy(&out.stderr),
            out.status.code(),
        )
    }

    /// The interpreter and its library versions in one line, for the table's footer.
    pub fn describe(&self) -> String {
        let v = &self.versions;
        if let Some(e) = v.get("error") {
            return format!(
                "{} (no version report: {})",
                self.interpreter.display(),
                e.as_str().unwrap_or_default()
            );
        }
        let libs: Vec<String> = [
            "numpy",
            "scipy",
            "scikit-learn",
            "netCDF4",
            "matplotlib",
            "emcee",
            "keras",
            "tensorflow",
            "tensorflow-cpu",
        ]
        .iter()
        .filter_map(|k| Some(format!("{k} {}", v.get(*k)?.as_str()?)))
        .collect();
        format!(
            "{} (Python {}; {})",
            self.interpreter.display(),
            v["python"].as_str().unwrap_or("?"),
            if libs.is_empty() {
                "none of numpy, scipy, scikit-learn".to_string()
            } else {
                libs.join(", ")
            }
        )
    }
}

/// Resets the process's peak resident memory (Linux `VmHWM`) to its resident memory now,
/// after handing the heap's free memory back to the system (glibc's `malloc_trim`, so that
/// what earlier rows freed does not count): writes `5` to `/proc/self/clear_refs` (Linux
/// 4.0 on). Whether the reset worked.
pub fn reset_peak_rss() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it takes no pointers
    unsafe {
        libc::malloc_trim(0);
    }
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The process's peak resident set size in MiB (Linux `VmHWM`), if known.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Median of a non-empty list.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Times one benchmark: one warm-up, then `runs` timed runs; the peak memory is measured
/// from after the setup ([`reset_peak_rss`]) to the end of the runs.
pub fn time(b: &Bench, runs: usize) -> anyhow::Result<Timing> {
    let mut body = (b.setup)().with_context(|| format!("benchmark {}: setup failed", b.name))?;
    let own = reset_peak_rss();
    let runs = if b.once {
        1
    } else {
        body().with_context(|| format!("benchmark {}: warm-up failed", b.name))?;
        runs.max(1)
    };
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        body().with_context(|| format!("benchmark {} failed", b.name))?;
        t.push(start.elapsed().as_secs_f64());
    }
    Ok(Timing {
        name: b.name.into(),
        about: b.about.into(),
        median_s: median(&t),
        min_s: t.iter().copied().fold(f64::INFINITY, f64::min),
        max_s: t.iter().copied().fold(0.0, f64::max),
        target_s: b.target_s,
        runs: t.len(),
        peak_rss_mib: peak_rss_mib(),
        peak_rss_own: own,
        python_s: b.python.seconds,
        python_how: b.python.how.into(),
        python_recorded: python_recorded(b.name).into(),
        python_measured: None,
        python_error: None,
        load_1m: Vec::new(),
    })
}

/// What is wrong with the Python entries of `rows` (empty if nothing): each needs a `how`,
/// and a positive figure or a `how` that starts "no Python counterpart: " and says why;
/// names must be unique.
pub fn python_entry_problems(rows: &[Bench]) -> Vec<String> {
    let mut out = Vec::new();
    for b in rows {
        let p = b.python;
        if p.how.trim().is_empty() {
            out.push(format!("{}: no Python 'how'", b.name));
        }
        match p.seconds {
            Some(s) if !(s.is_finite() && s > 0.0) => {
                out.push(format!("{}: Python figure {s}", b.name))
            }
            None if !p.how.starts_with("no Python counterpart: ") => out.push(format!(
                "{}: without a figure the entry says why: {}",
                b.name, p.how
            )),
            _ => {}
        }
    }
    let mut names: Vec<&str> = rows.iter().map(|b| b.name).collect();
    names.sort();
    for w in names.windows(2) {
        if w[0] == w[1] {
            out.push(format!("{}: named twice", w[0]));
        }
    }
    out
}

/// A duration for the table: microseconds, milliseconds, then seconds (whole above 100 s).
fn secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} us", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else if s < 100.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.0} s")
    }
}

/// Python's time over clmtune's, e.g. `12x` or `0.5x` (`-` without a Python figure).
pub fn ratio(python_s: Option<f64>, median_s: f64) -> String {
    match python_s {
        Some(p) if median_s > 0.0 && p.is_finite() => {
            let r = p / median_s;
            if r >= 10.0 {
                format!("{r:.0}x")
            } else {
                format!("{r:.1}x")
            }
        }
        _ => "-".into(),
    }
}

/// The results as one table: clmtune's median, min, max, target and peak memory, then the
/// Python counterpart, Python's time over clmtune's, how Python did it, and what the row
/// measures. Without `measured` the Python figure is the one recorded in the row's definition
/// (at another time and load: the how column says when); with `measured` (`--python`) it is
/// the counterpart's median, min and max from this run, with the 1-minute load average
/// before clmtune's row, between the two and after Python's, and a failed counterpart's
/// message in the how column.
pub fn table(rows: &[Timing], measured: bool) -> String {
    let how = |r: &Timing| -> String {
        if measured {
            match (&r.python_error, &r.python_measured) {
                (Some(e), _) => e.clone(),
                (None, Some(_)) => r.python_how.clone(),
                (None, None) if r.python_s.is_some() => "python: not run".into(),
                (None, None) => r.python_how.clone(),
            }
        } else if r.python_s.is_some() {
            format!("{} [recorded {}]", r.python_how, r.python_recorded)
        } else {
            r.python_how.clone()
        }
    };
    let how_head = if measured {
        "Python: how"
    } else {
        "Python: how [when recorded]"
    };
    let how_w = rows
        .iter()
        .map(|r| how(r).chars().count())
        .max()
        .unwrap_or(0)
        .max(how_head.len());
    let name_w = rows
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max("benchmark".len());
    let mut out = format!(
        "{:<name_w$} {:>10} {:>10} {:>10} {:>10} {:>9}  {:<4} ",
        "benchmark", "median", "min", "max", "target", "peak RSS", ""
    );
    if measured {
        out.push_str(&format!(
            "{:>10} {:>10} {:>10} {:>6} {:>14}  ",
            "Py median", "Py min", "Py max", "Py/Rs", "load 1m"
        ));
    } else {
        out.push_str(&format!("{:>10} {:>6}  ", "Py (rec.)", "Py/Rs"));
    }
    out.push_str(&format!("{how_head:<how_w$}  what\n"));
    for r in rows {
        let mark = if r.median_s <= r.target_s {
            "ok"
        } else {
            "SLOW"
        };
        let rss = r
            .peak_rss_mib
            .map(|m| format!("{m:.0} MiB{}", if r.peak_rss_own { "" } else { "*" }))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<name_w$} {:>10} {:>10} {:>10} {:>10} {:>9}  {mark:<4} ",
            r.name,
            secs(r.median_s),
            secs(r.min_s),
            secs(r.max_s),
            format!("< {}", secs(r.target_s)),
            rss,
        ));
        if measured {
            let m = r.python_measured.as_ref();
            let est = if m.is_some_and(|m| m.estimate) {
                "~"
            } else {
                ""
            };
            let cell = |f: fn(&PyMeasured) -> f64| {
                m.map(|m| format!("{est}{}", secs(f(m))))
                    .unwrap_or_else(|| "-".into())
            };
            let load: Vec<String> = r
                .load_1m
                .iter()
                .map(|l| l.map(|l| format!("{l:.1}")).unwrap_or_else(|| "-".into()))
                .collect();
            out.push_str(&format!(
                "{:>10} {:>10} {:>10} {:>6} {:>14}  ",
                cell(|m| m.median_s),
                cell(|m| m.min_s),
                cell(|m| m.max_s),
                ratio(m.map(|m| m.median_s), r.median_s),
                load.join(" "),
            ));
        } else {
            out.push_str(&format!(
                "{:>10} {:>6}  ",
                r.python_s.map(secs).unwrap_or_else(|| "-".into()),
                ratio(r.python_s, r.median_s),
            ));
        }
        out.push_str(&format!("{:<how_w$}  {}\n", how(r), r.about));
    }
    out
}

/// The lines under the table: where the Python column comes from.
pub fn table_footer(python: Option<&PythonSide>) -> String {
    let rss = "peak RSS: the most resident memory while the row's warm-up and runs ran, its \
               setup's data included (Linux VmHWM, reset after each row's setup through \
               /proc/self/clear_refs; * = not reset: the whole process's so far).\n";
    let py: String = match python {
        None => "Py (rec.): the Python figure recorded in the row's definition (src/bench.rs), \
                 measured with docs/bench/python_bench.py at another time and load than this \
                 run (when: in brackets);\n  `clmtune bench --python PY` measures both side by \
                 side in one run.\n"
            .into(),
        Some(p) => format!(
            "Python: {}\n  each counterpart ran right after clmtune's row, in its own process \
             ({} ROW --emit-json), timed inside it with time.perf_counter (interpreter start-up, \
             imports and setup not counted);\n  load 1m: /proc/loadavg before clmtune's row, \
             between the two, after Python's.\n",
            p.describe(),
            p.script.display()
        ),
    };
    format!("{rss}{py}")
}

/// Whether command-line filter `f` selects row `name`: `=NAME` that row alone, anything else
/// every row whose name contains it.
pub fn selects(f: &str, name: &str) -> bool {
    match f.strip_prefix('=') {
        Some(exact) => name == exact,
        None => name.contains(f),
    }
}

/// Runs the benchmarks (`first`, then [`BENCHES`]) whose names contain one of `filters`
/// (all if none), prints the table and writes JSON to `json`. `first` are rows defined
/// elsewhere, e.g. the script engine's.
/// With `python` (an interpreter), each row that has a Python counterpart is followed at once
/// by the counterpart, run with that interpreter (see [`PythonSide`]), and the table shows both.
pub fn run(
    filters: &[String],
    runs: usize,
    json: &Path,
    first: &[Bench],
    python: Option<&Path>,
) -> anyhow::Result<()> {
    let all: Vec<&Bench> = first.iter().chain(BENCHES).collect();
    let chosen: Vec<&Bench> = all
        .iter()
        .copied()
        .filter(|b| filters.is_empty() || filters.iter().any(|f| selects(f, b.name)))
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = all.iter().map(|b| b.name).collect();
        anyhow::bail!(
            "no benchmark matches {filters:?}; there are: {}",
            names.join(", ")
        );
    }
    if !cfg!(debug_assertions) || std::env::var_os("CLMTUNE_BENCH_DEBUG").is_some() {
    } else {
        eprintln!("warning: this is a debug build; build with --release for real timings");
    }
    let inputs = cache_dir().join("python_inputs.json");
    write_python_inputs(&inputs)?;
    let py = python
        .map(|p| PythonSide::new(p, &cache_dir()))
        .transpose()?;
    let pb = crate::progress::bar(chosen.len() as u64, "benchmarks");
    let mut rows = Vec::new();
    for b in chosen {
        pb.set_message(b.name);
        let before = load_1m();
        let mut t = time(b, runs)?;
        t.load_1m = vec![before, load_1m()];
        if let Some(py) = py.as_ref().filter(|_| b.python.seconds.is_some()) {
            pb.set_message(format!("{} (python)", b.name));
            match py.run_row(b.name, runs, b.once) {
                Ok(m) => t.python_measured = Some(m),
                Err(e) => t.python_error = Some(e),
            }
            t.load_1m.push(load_1m());
        }
        rows.push(t);
        pb.inc(1);
    }
    pb.finish_and_clear();
    crate::output::print(&table(&rows, py.is_some()));
    crate::output::print(&table_footer(py.as_ref()));
    let mut doc = serde_json::json!({
        "clmtune_version": env!("CARGO_PKG_VERSION"),
        "threads": rayon::current_num_threads(),
        "results": rows,
    });
    if let Some(p) = &py {
        doc["python"] = serde_json::json!({
            "interpreter": p.interpreter,
            "script": p.script,
            "versions": p.versions,
            "protocol": "each counterpart right after clmtune's row, in its own process, timed \
                         inside it with time.perf_counter: one warm-up then the runs (once rows: \
                         one run), as clmtune's; interpreter start-up, imports and setup not \
                         counted",
        });
    }
    crate::files::atomic_write(json, |w| Ok(serde_json::to_writer_pretty(w, &doc)?))?;
    crate::output::println(&format!(
        "wrote {} (the Python counterparts' inputs: {})",
        json.display(),
        inputs.display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_memory_is_read_on_linux() {
        // a 64 MiB allocation, touched, must show in the high-water mark
        // (black_box: a release build would otherwise drop the unused allocation)
        let v = std::hint::black_box(vec![1u8; 64 << 20]);
        let peak = super::peak_rss_mib().expect("Linux /proc/self/status");
        assert!(peak >= 64.0, "{peak} MiB with {} bytes held", v.len());
    }

    /// The high-water mark is the whole process's: other tests of this binary allocating
    /// at the same time would move it, so the check runs alone in a child process (the
    /// ignored test below, run by this one).
    #[test]
    fn the_peak_memory_is_reset_for_each_row() {
        let out = crate::files::command(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "bench::tests::peak_memory_reset_alone",
                "--ignored",
                "--test-threads=1",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("1 passed"),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    #[ignore = "run alone in a child process by the_peak_memory_is_reset_for_each_row"]
    fn peak_memory_reset_alone() {
        // 256 MiB touched and freed: the high-water mark keeps them until the reset, which
        // brings it down to what the process holds now
        let v = std::hint::black_box(vec![1u8; 256 << 20]);
        let before = super::peak_rss_mib().unwrap();
        assert!(before >= 256.0, "{before} MiB with {} bytes held", v.len());
        drop(v);
        assert!(super::reset_peak_rss(), "writing /proc/self/clear_refs");
        let after = super::peak_rss_mib().unwrap();
        assert!(
            after < before - 128.0,
            "{after} MiB after the reset, {before} before"
        );
        // and it rises again with what the next row touches
        let w = std::hint::black_box(vec![1u8; 64 << 20]);
        let again = super::peak_rss_mib().unwrap();
        assert!(
            again >= after + 60.0,
            "{again} MiB with {} more bytes",
            w.len()
        );
    }

    #[test]
    fn every_row_has_a_python_entry() {
        // the script engine's rows are checked with these in crate::script's tests
        assert_eq!(super::BENCHES.len(), 28);
        let problems = super::python_entry_problems(super::BENCHES);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn a_missing_python_entry_is_reported() {
        let mut b = [
            super::Bench {
                ..super::BENCHES[0]
            },
            super::Bench {
                ..super::BENCHES[0]
            },
        ];
        b[0].python.how = " ";
        b[1].python.seconds = None;
        let p = super::python_entry_problems(&b);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("no Python 'how'") && p[1].contains("says why"));
        assert!(p[2].contains("twice"), "{p:?}");
    }

    #[test]
    fn durations_are_shown_in_their_unit() {
        assert_eq!(super::secs(84.1e-6), "84.1 us");
        assert_eq!(super::secs(0.0114), "11.4 ms");
        assert_eq!(super::secs(9.3), "9.30 s");
        assert_eq!(super::secs(197_689.0), "197689 s");
    }

    #[test]
    fn ratio_is_python_over_rust() {
        assert_eq!(super::ratio(Some(9.3), 0.93), "10x");
        assert_eq!(super::ratio(Some(39.6), 0.0077), "5143x");
        assert_eq!(super::ratio(Some(0.5), 1.0), "0.5x");
        assert_eq!(super::ratio(Some(2.0), 1.0), "2.0x");
        assert_eq!(super::ratio(None, 1.0), "-");
        assert_eq!(super::ratio(Some(1.0), 0.0), "-");
    }

    fn row(name: &str, med: f64, py: Option<f64>, how: &str) -> super::Timing {
        super::Timing {
            name: name.into(),
            about: format!("what {name} does"),
            median_s: med,
            min_s: med * 0.9,
            max_s: med * 1.1,
            target_s: 1.0,
            runs: 5,
            peak_rss_mib: Some(40.2),
            peak_rss_own: true,
            python_s: py,
            python_how: how.into(),
            python_recorded: super::python_recorded(name).into(),
            python_measured: None,
            python_error: None,
            load_1m: vec![Some(2.25), Some(2.5)],
        }
    }

    #[test]
    fn table_puts_the_python_figure_beside_each_row() {
        let mut whole_process = row("demo_member", 1.5, None, "no Python counterpart: own model");
        whole_process.peak_rss_own = false;
        let t = super::table(
            &[
                row("sensitivity_stage", 0.95, Some(9.3), "netCDF4 loop"),
                whole_process,
            ],
            false,
        );
        // a row's own peak memory, and the process's (the reset failed) marked *
        assert!(t.lines().nth(1).unwrap().contains(" 40 MiB "), "{t}");
        assert!(t.lines().nth(2).unwrap().contains(" 40 MiB* "), "{t}");
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(lines[0].starts_with("benchmark") && lines[0].contains("Python: how"));
        // the recorded figure is labelled as such, with when and at what load
        assert!(lines[0].contains("Py (rec.)") && lines[0].contains("[when recorded]"));
        assert!(lines[1].contains("950.0 ms") && lines[1].contains("9.30 s"));
        assert!(
            lines[1].contains(" 9.8x ") && lines[1].contains("ok "),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].contains("netCDF4 loop [recorded 1-2 Dec 2026, load 7-13"),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains("SLOW") && lines[2].contains("no Python counterpart"));
        assert!(!lines[2].contains("recorded"), "{}", lines[2]);
        // the columns line up: "what" starts at the same place in every line
        let at = lines[0].find("what").unwrap();
        assert_eq!(lines[1].find("what sensitivity_stage"), Some(at), "{t}");
        assert_eq!(lines[2].find("what demo_member"), Some(at), "{t}");
        assert_eq!(lines[1].find("netCDF4"), lines[0].find("Python: how"));
        assert!(super::table_footer(None).contains("--python PY"));
    }

    fn measured(median: f64, min: f64, max: f64) -> super::PyMeasured {
        super::PyMeasured {
            median_s: median,
            min_s: min,
            max_s: max,
            times_s: vec![max, median, min, median, median],
            runs: 5,
            warmup: true,
            estimate: false,
            peak_rss_mib: Some(120.0),
            versions: [("sklearn".to_string(), "1.9.1".to_string())].into(),
        }
    }

    #[test]
    fn table_with_python_measured_shows_both_columns_and_the_load() {
        let mut gp = row("gp_fit", 0.79, Some(235.0), "scikit-learn GPR");
        gp.python_measured = Some(measured(9.3, 7.6, 12.6));
        gp.load_1m = vec![Some(2.25), Some(2.5), Some(3.04)];
        let mut ridge = row("ridge_fit", 84e-6, Some(0.0059), "scikit-learn Ridge");
        ridge.python_error = Some("python: no module named sklearn".into());
        ridge.load_1m = vec![Some(2.0), Some(2.0), None];
        let demo = row("demo_member", 1.5, None, "no Python counterpart: own model");
        let t = super::table(&[gp, ridge, demo], true);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        for h in [
            "median",
            "Py median",
            "Py min",
            "Py max",
            "Py/Rs",
            "load 1m",
        ] {
            assert!(lines[0].contains(h), "{h}: {}", lines[0]);
        }
        assert!(!lines[0].contains("rec."), "{}", lines[0]);
        // clmtune's and Python's medians from the run, the ratio of the two, the load
        let l = lines[1];
        assert!(l.contains("790.0 ms") && l.contains("9.30 s"), "{l}");
        assert!(l.contains("7.60 s") && l.contains("12.60 s"), "{l}");
        assert!(l.contains(" 12x ") && !l.contains("235"), "{l}");
        assert!(l.contains(" 2.2 2.5 3.0 "), "{l}");
        // the failure is a clear line of its own row, the next rows go on
        let l = lines[2];
        assert!(l.contains("python: no module named sklearn"), "{l}");
        assert!(l.contains("84.0 us") && l.contains(" 2.0 2.0 - "), "{l}");
        assert!(lines[3].contains("no Python counterpart"), "{}", lines[3]);
        let at = lines[0].find("what").unwrap();
        for (l, name) in lines[1..]
            .iter()
            .zip(["gp_fit", "ridge_fit", "demo_member"])
        {
            assert_eq!(l.find(&format!("what {name}")), Some(at), "{t}");
        }
        assert_eq!(
            lines[1].find("scikit-learn GPR"),
            lines[0].find("Python: how")
        );
        assert_eq!(
            lines[2].find("python: no module"),
            lines[0].find("Python: how")
        );
        // an estimate (nn_protocol) is marked
        let mut p = row("nn_protocol", 4.5, Some(198000.0), "Keras, estimate");
        p.python_measured = Some(super::PyMeasured {
            estimate: true,
            runs: 1,
            times_s: vec![150000.0],
            ..measured(150000.0, 150000.0, 150000.0)
        });
        assert!(super::table(&[p], true).contains("~150000 s"));
    }

    #[test]
    fn python_result_line_is_parsed() {
        let out = format!(
            "gp_fit: median 9.3 s ...\n{}{}\npython 3.11.7, numpy 2.4.6\n",
            super::PY_MARKER,
            r#"{"row": "gp_fit", "median_s": 9.3, "min_s": 7.6, "max_s": 12.6,
               "times_s": [12.6, 9.3, 7.6, 9.0, 10.1], "runs": 5, "warmup": true,
               "estimate": false, "sample_s": null, "load": [2.1, 2.0, 1.9],
               "peak_rss_mib": 130.5, "versions": {"python": "3.11.7", "numpy": "2.4.6",
               "scipy": "1.17.1", "sklearn": "1.9.1"}}"#
                .replace('\n', " ")
        );
        let m = super::parse_python_output("gp_fit", &out, "", Some(0)).unwrap();
        assert_eq!((m.median_s, m.min_s, m.max_s, m.runs), (9.3, 7.6, 12.6, 5));
        assert_eq!(m.times_s, vec![12.6, 9.3, 7.6, 9.0, 10.1]);
        assert!(m.warmup && !m.estimate);
        assert_eq!(m.peak_rss_mib, Some(130.5));
        assert_eq!(m.versions["sklearn"], "1.9.1");
        // another row's line is not this row's result
        let e = super::parse_python_output("eof_stage", &out, "", Some(0)).unwrap_err();
        assert!(e.starts_with("python: no result for eof_stage"), "{e}");
        // inconsistent figures are refused
        let bad = format!(
            "{}{}",
            super::PY_MARKER,
            r#"{"row": "x", "median_s": 1.0, "min_s": 2.0, "max_s": 3.0, "times_s": [1.0], "runs": 1, "warmup": true}"#
        );
        let e = super::parse_python_output("x", &bad, "", Some(0)).unwrap_err();
        assert!(e.contains("inconsistent"), "{e}");
    }

    #[test]
    fn python_failures_become_one_line() {
        // the script's own report of a failed row
        let out = format!(
            "{}{}\n",
            super::PY_MARKER,
            r#"{"row": "gp_fit", "error": "no module named sklearn"}"#
        );
        let e = super::parse_python_output("gp_fit", &out, "", Some(1)).unwrap_err();
        assert_eq!(e, "python: no module named sklearn");
        // a failure before any row ran: the traceback's last line
        let tb = "Traceback (most recent call last):\n  File \"x.py\", line 30, in <module>\n    \
                  import numpy as np\nModuleNotFoundError: No module named 'numpy'\n";
        let e = super::parse_python_output("gp_fit", "", tb, Some(1)).unwrap_err();
        assert_eq!(e, "python: no module named numpy");
        let e = super::parse_python_output("gp_fit", "", "boom\nValueError: bad\n\n", Some(2))
            .unwrap_err();
        assert_eq!(e, "python: ValueError: bad (exit status 2)");
        let e = super::parse_python_output("gp_fit", "", "", None).unwrap_err();
        assert_eq!(e, "python: no result for gp_fit (killed by a signal)");
        // control characters from the interpreter are escaped
        let e = super::parse_python_output("gp_fit", "", "bad \u{1b}[31m\n", Some(1)).unwrap_err();
        assert!(!e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn filters_match_parts_of_names_or_whole_names() {
        assert!(super::selects(
            "history_match_10m",
            "history_match_10m_script"
        ));
        assert!(super::selects("=history_match_10m", "history_match_10m"));
        assert!(!super::selects(
            "=history_match_10m",
            "history_match_10m_nll"
        ));
        assert!(super::selects("fit", "gp_fit"));
    }

    #[test]
    fn load_average_is_read_from_proc_loadavg_text() {
        assert_eq!(
            super::parse_loadavg("0.35 1.17 1.62 2/114 4166\n"),
            Some(0.35)
        );
        assert_eq!(super::parse_loadavg("12.50 9.00 8.00 3/200 99"), Some(12.5));
        assert_eq!(super::parse_loadavg(""), None);
        assert_eq!(super::parse_loadavg("abc 1 2"), None);
        assert_eq!(super::parse_loadavg("nan 1 2"), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_missing_module_gives_a_clear_line_and_the_rest_goes_on() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // a fake interpreter that fails as Python does without scikit-learn
        let fake = dir.path().join("python");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho 'Traceback (most recent call last):' >&2\n\
             echo \"ModuleNotFoundError: No module named 'sklearn'\" >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        // another test's fork may briefly hold the new file open ("text file busy")
        for _ in 0..100 {
            match std::process::Command::new(&fake).output() {
                Err(e) if e.raw_os_error() == Some(26) => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                _ => break,
            }
        }
        let cache = dir.path().join("cache");
        let py = super::PythonSide::new(&fake, &cache).unwrap();
        // the script is written beside the data, and the failed version report is kept
        assert_eq!(
            std::fs::read_to_string(cache.join("python_bench.py")).unwrap(),
            super::PYTHON_BENCH_SCRIPT
        );
        assert!(py.versions.get("error").is_some(), "{}", py.versions);
        assert!(
            py.describe().contains("no version report"),
            "{}",
            py.describe()
        );
        let e = py.run_row("gp_fit", 5, false).unwrap_err();
        assert_eq!(e, "python: no module named sklearn");
        let e2 = py.run_row("ridge_fit", 5, false).unwrap_err();
        assert_eq!(e2, e);
        let mut gp = row("gp_fit", 0.79, Some(235.0), "scikit-learn GPR");
        gp.python_error = Some(e);
        let t = super::table(&[gp, row("eof_stage", 1.0, Some(36.4), "numpy SVD")], true);
        assert!(t
            .lines()
            .nth(1)
            .unwrap()
            .contains("python: no module named sklearn"));
        assert!(t.lines().nth(2).unwrap().contains("python: not run"), "{t}");
        // an interpreter that is not there stops the bench at once, saying which
        let e = super::PythonSide::new(&dir.path().join("nope"), &cache)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("--python: cannot run") && e.contains("nope"),
            "{e}"
        );
    }

    #[test]
    fn every_python_counterpart_is_in_the_embedded_script() {
        let script = super::PYTHON_BENCH_SCRIPT;
        assert!(script.contains(&format!("MARKER = {:?}", super::PY_MARKER)));
        for b in super::BENCHES.iter().filter(|b| b.python.seconds.is_some()) {
            assert!(
                script.contains(&format!("\ndef {}(", b.name)),
                "{} has no Python row",
                b.name
            );
        }
    }

    #[test]
    fn python_inputs_reproduce_the_network_cost() {
        use crate::calibrate::Objective;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inputs.json");
        super::write_python_inputs(&path).unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let v = |j: &serde_json::Value| -> Vec<f64> {
            j.as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_f64().unwrap())
                .collect()
        };
        let x = doc["x"].as_array().unwrap();
        assert_eq!(x.len(), 100);
        let (ex, _) = super::emulator_data(100);
        assert_eq!(v(&x[37]), ex.row(37).to_vec());
        // y by its formula, by hand
        let (x0, y0) = (v(&x[0]), v(&doc["y"][0]));
        assert!((y0[0] - 0.1 * ((2.0 * x0[0]).sin() + x0[1] * x0[2])).abs() < 1e-15);
        assert!((y0[2] - 0.1 * (x0[0] - 0.5 * x0[2] * x0[2])).abs() < 1e-15);
        // Eq. 6 by a forward pass written here from the file's numbers, as Python does it
        let cost = super::network_cost().unwrap();
        let points = [
            [0.1, 0.9, 0.3, 0.5, 0.7, 0.2],
            [0.4; 6],
            [0.8, 0.2, 0.6, 0.1, 0.3, 0.9],
        ];
        let want = cost.cost(ndarray::arr2(&points).view()).unwrap();
        for (p, w) in points.iter().zip(want.iter()) {
            let mut j = 0.0;
            for t in doc["terms"].as_array().unwrap() {
                let (xm, xs) = (v(&t["x_mean"]), v(&t["x_scale"]));
                let mut h: Vec<f64> = (0..6).map(|i| (p[i] - xm[i]) / xs[i]).collect();
                let acts = t["activations"].as_array().unwrap();
                for (l, wl) in t["weights"].as_array().unwrap().iter().enumerate() {
                    let b = v(&t["biases"][l]);
                    let rows: Vec<Vec<f64>> = wl.as_array().unwrap().iter().map(&v).collect();
                    h = (0..b.len())
                        .map(|k| {
                            let z = b[k] + (0..h.len()).map(|i| h[i] * rows[i][k]).sum::<f64>();
                            match acts[l].as_str().unwrap() {
                                "relu" => z.max(0.0),
                                "tanh" => z.tanh(),
                                _ => z,
                            }
                        })
                        .collect();
                }
                let (ym, ys) = (v(&t["y_mean"]), v(&t["y_scale"]));
                let (o, s, lam) = (v(&t["observed"]), v(&t["sigma"]), v(&t["lambda"]));
                for k in 0..3 {
                    let z = (h[k] * ys[k] + ym[k] - o[k]) / s[k];
                    j += lam[k] * z * z;
                }
            }
            assert!((j - w).abs() <= 1e-9 * w.abs().max(1.0), "{j} vs {w}");
        }
        // at the targets' point the cost is 0
        assert!(want[1].abs() < 1e-20, "{}", want[1]);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(super::median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
