//! The paper's training protocol for the network emulators (Dagon et al. 2020, section 3.1):
//! a seeded 60/20/20 train/validation/test split; a grid over the nodes of the two hidden
//! layers; the best configurations retrained on many random resamplings of the training and
//! validation members (the test members stay out); a summary of skill and spread per
//! configuration; the choice of the configuration with high skill and low spread; and the
//! resampled networks of that configuration as one emulator whose spread is its uncertainty.
//!
//! Configurations and resamplings train in parallel (rayon); each network has its own seed
//! derived from the protocol's seed and its position, so results do not depend on the
//! number of threads.

use super::nn::{Network, NnSettings};
use super::{check_inputs, check_training, Emulator, Prediction};
use anyhow::{bail, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Member indices of a train/validation/test split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Training members.
    pub train: Vec<usize>,
    /// Validation members (early stopping).
    pub validation: Vec<usize>,
    /// Test members (never seen in training or selection).
    pub test: Vec<usize>,
}

/// A seeded random split of `n` members: `round(n * train)` for training, `round(n *
/// validation)` for validation, the rest for testing (each at least one member).
pub fn split(n: usize, train: f64, validation: f64, seed: u64) -> Result<Split> {
    if !(train > 0.0 && validation > 0.0 && train + validation < 1.0) {
        bail!("split fractions train = {train}, validation = {validation} must be > 0 and leave a test set");
    }
    let nt = (n as f64 * train).round() as usize;
    let nv = (n as f64 * validation).round() as usize;
    if nt < 2 || nv < 1 || nt + nv >= n {
        bail!("{n} members are too few for a {train}/{validation} split with a test set");
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    Ok(Split {
        train: idx[..nt].to_vec(),
        validation: idx[nt..nt + nv].to_vec(),
        test: idx[nt + nv..].to_vec(),
    })
}

/// How the emulator's networks are trained at the end of the protocol (the paper's
/// authors offered both).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinalTraining {
    /// The chosen configuration's resampled networks as they are: each trained on its
    /// resampling's training members and early-stopped on its validation members.
    #[default]
    Split,
    /// Each of the chosen configuration's resampled networks trained again, with a new
    /// seed, on every member (training, validation and test) for a fixed number of epochs:
    /// the median of the best epochs of early stopping of those resampled networks
    /// ([`median_epoch`]). Each keeps the validation residual variance of its resampled
    /// network (the MSE on members it did not see), so the ensemble's variance stays
    /// honest; the test members are then no longer held out (the second ensemble is).
    /// The single network ([`ProtocolResult::network`]) is likewise trained again on every
    /// member for its own best epoch on the fixed split, keeping its validation residual
    /// variance.
    All,
}

impl std::str::FromStr for FinalTraining {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "split" => Ok(FinalTraining::Split),
            "all" => Ok(FinalTraining::All),
            _ => bail!(
                "final = '{s}': use \"split\" or \"all\"",
                s = crate::format::printable(s)
            ),
        }
    }
}

/// The median of best epochs; for an even count the mean of the two middle values rounded
/// up (e.g. [4, 1, 3, 2] -> 3); 1 for none.
pub fn median_epoch(epochs: &[usize]) -> usize {
    let mut v = epochs.to_vec();
    v.sort_unstable();
    match v.len() {
        0 => 1,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]).div_ceil(2),
    }
}

/// Settings of the protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolSettings {
    /// The network settings every configuration shares (its `hidden` is replaced).
    pub network: NnSettings,
    /// Nodes tried in the first hidden layer.
    pub layer1: Vec<usize>,
    /// Nodes tried in the second hidden layer.
    pub layer2: Vec<usize>,
    /// Fraction of members for training.
    pub train: f64,
    /// Fraction of members for validation.
    pub validation: f64,
    /// How many of the best grid configurations are retrained on resamplings.
    pub top: usize,
    /// Resamplings per retrained configuration.
    pub resamples: usize,
    /// Seed of the split, the resamplings and every network.
    pub seed: u64,
    /// The final training: on the splits, or on every member.
    #[serde(default)]
    pub final_training: FinalTraining,
}

impl Default for ProtocolSettings {
    /// The paper's protocol: nodes 5..15 in each layer, 60/20/20, the best 10 retrained on
    /// 100 resamplings.
    fn default() -> Self {
        ProtocolSettings {
            network: NnSettings::default(),
            layer1: (5..=15).collect(),
            layer2: (5..=15).collect(),
            train: 0.6,
            validation: 0.2,
            top: 10,
            resamples: 100,
            seed: 0,
            final_training: FinalTraining::Split,
        }
    }
}

/// Skill of one trained network on a set of members: MSE and r^2 per output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skill {
    /// Mean squared error per output (Eq. 4).
    #[serde(deserialize_with = "crate::settings::floats_or_null")]
    pub mse: Vec<f64>,
    /// r^2 per output: the squared correlation of predicted and actual (the paper's r^2 of
    /// a linear fit of predicted against actual); NaN where undefined (a split of one
    /// member), saved as `null`.
    #[serde(deserialize_with = "crate::settings::floats_or_null")]
    pub r2: Vec<f64>,
}

/// MSE and squared correlation per column ([`crate::metrics`]).
pub fn skill(pred: &Array2<f64>, truth: ArrayView2<f64>) -> Result<Skill> {
    Ok(Skill {
        mse: crate::metrics::mse_columns(truth, pred.view())?.to_vec(),
        r2: crate::metrics::r2_linear_columns(truth, pred.view())?.to_vec(),
    })
}

/// One configuration's results: on the fixed split, and over the resamplings if retrained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigResult {
    /// Nodes of the two hidden layers.
    pub hidden: Vec<usize>,
    /// Validation skill on the fixed split.
    pub validation: Skill,
    /// Test skill on the fixed split.
    pub test: Skill,
    /// Epochs trained before early stopping chose the best (fixed split).
    pub best_epoch: usize,
    /// Test skill of each resampled network (empty unless retrained).
    pub resampled: Vec<Skill>,
    /// The best epoch (early stopping) of each resampled network, in the order of
    /// `resampled`.
    #[serde(default)]
    pub resampled_epochs: Vec<usize>,
    /// The epochs every network was trained for on all members, if this configuration was
    /// chosen and the final training was `all`.
    #[serde(default)]
    pub final_epochs: Option<usize>,
}

impl ConfigResult {
    /// Mean over outputs of the validation MSE: the grid's ranking.
    pub fn validation_mse(&self) -> f64 {
        mean(&self.validation.mse)
    }
    /// Mean and standard deviation over the resamplings of the test MSE (mean over outputs).
    pub fn resampled_mse(&self) -> (f64, f64) {
        let v: Vec<f64> = self.resampled.iter().map(|s| mean(&s.mse)).collect();
        mean_std(&v)
    }
    /// The choice rule's score: mean plus standard deviation of the resampled test MSE
    /// (high skill and low spread), or the validation MSE if not retrained.
    pub fn score(&self) -> f64 {
        if self.resampled.is_empty() {
            self.validation_mse()
        } else {
            let (m, s) = self.resampled_mse();
            m + s
        }
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let m = mean(v);
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len().max(1) as f64;
    (m, var.sqrt())
}

/// A seed for network `i` of purpose `p`, mixed from the protocol seed.
fn seed_for(seed: u64, p: u64, i: u64) -> u64 {
    let mut z =
        seed ^ p.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn rows(a: ArrayView2<f64>, idx: &[usize]) -> Array2<f64> {
    a.select(Axis(0), idx)
}

fn train_one(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    sp: &Split,
    settings: &NnSettings,
) -> Result<Network> {
    let (tx, ty) = (rows(x, &sp.train), rows(y, &sp.train));
    let (vx, vy) = (rows(x, &sp.validation), rows(y, &sp.validation));
    Network::train(tx.view(), ty.view(), Some((vx.view(), vy.view())), settings)
}

/// An ensemble of networks trained on resamplings: the mean of their predictions is the
/// emulator's mean; their spread plus their mean validation residual variance is its
/// predictive variance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkEnsemble {
    /// The networks.
    pub networks: Vec<Network>,
}

impl super::kind::Saved for NetworkEnsemble {
    const KIND: &'static str = "nn_ensemble";
    const ABOUT: &'static str = "the protocol's resampled networks as one emulator (mean of the \
                                 networks; their spread plus residual variance as its variance)";
}

impl Emulator for NetworkEnsemble {
    fn method(&self) -> String {
        "nn_ensemble".into()
    }
    fn inputs(&self) -> usize {
        self.networks[0].inputs()
    }
    fn outputs(&self) -> usize {
        self.networks[0].outputs()
    }
    fn predict(&self, x: ArrayView2<f64>) -> Result<Prediction> {
        check_inputs(x, self.inputs())?;
        let k = self.outputs();
        let m = self.networks.len() as f64;
        let mut sum = Array2::zeros((x.nrows(), k));
        let mut sum2 = Array2::zeros((x.nrows(), k));
        let mut noise = Array1::zeros(k);
        for net in &self.networks {
            let p = net.predict_mean(x)?;
            sum2 += &p.mapv(|v| v * v);
            sum += &p;
            noise += &net.residual_variance;
        }
        let mean = &sum / m;
        let spread = (&sum2 / m - &mean.mapv(|v| v * v)).mapv(|v| v.max(0.0));
        let variance = spread + &(noise / m);
        Ok(Prediction { mean, variance })
    }
}

/// The protocol's results: the split, every configuration, the chosen one, its network on
/// the fixed split and its resampled networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolResult {
    /// The settings.
    pub settings: ProtocolSettings,
    /// The fixed split.
    pub split: Split,
    /// Every grid configuration, best validation MSE first.
    pub configs: Vec<ConfigResult>,
    /// Index into `configs` of the chosen configuration.
    pub chosen: usize,
    /// The chosen configuration's network as trained in the grid search on the fixed split
    /// (early-stopped on the validation members): the paper's emulator. Its predictive
    /// variance is its validation residual variance per output, a constant. With the final
    /// training `all`, trained again on every member for its best epoch.
    pub network: Network,
    /// The chosen configuration's resampled networks.
    pub ensemble: NetworkEnsemble,
}

/// Runs the protocol on `x` (members x parameters) and `y` (members x outputs).
/// `progress` is called after each network (for a progress bar): grid, resamplings, and
/// with the final training `all` one more per resampling and one for the single network.
pub fn run(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    s: &ProtocolSettings,
    progress: &(dyn Fn() + Sync),
) -> Result<ProtocolResult> {
    s.network.check()?;
    check_training(x, y, 5)?;
    if s.layer1.is_empty() || s.layer2.is_empty() {
        bail!("the grid of nodes is empty");
    }
    if s.top == 0 || s.resamples == 0 {
        bail!(
            "top = {} and resamples = {} must be >= 1",
            s.top,
            s.resamples
        );
    }
    if s.network.hidden.len() != 2 || s.network.activations.len() != 3 {
        bail!("the protocol searches two hidden layers: give three activations");
    }
    let n = x.nrows();
    let sp = split(n, s.train, s.validation, s.seed)?;
    let grid: Vec<Vec<usize>> = s
        .layer1
        .iter()
        .flat_map(|&a| s.layer2.iter().map(move |&b| vec![a, b]))
        .collect();
    let (tx, ty) = (rows(x, &sp.test), rows(y, &sp.test));
    let mut grid_run: Vec<(ConfigResult, Network)> = grid
        .par_iter()
        .enumerate()
        .map(|(i, hidden)| {
            let ns = NnSettings {
                hidden: hidden.clone(),
                seed: seed_for(s.seed, 1, i as u64),
                ..s.network.clone()
            };
            let net = train_one(x, y, &sp, &ns)?;
            progress();
            let vp = net.predict_mean(rows(x, &sp.validation).view())?;
            let tp = net.predict_mean(tx.view())?;
            let c = ConfigResult {
                hidden: hidden.clone(),
                validation: skill(&vp, rows(y, &sp.validation).view())?,
                test: skill(&tp, ty.view())?,
                best_epoch: net.history.best_epoch,
                resampled: Vec::new(),
                resampled_epochs: Vec::new(),
                final_epochs: None,
            };
            Ok((c, net))
        })
        .collect::<Result<_>>()?;
    // a stable sort of (config, network) pairs: the grid networks follow their configs
    grid_run.sort_by(|a, b| a.0.validation_mse().total_cmp(&b.0.validation_mse()));
    let (mut configs, mut grid_nets): (Vec<ConfigResult>, Vec<Network>) =
        grid_run.into_iter().unzip();
    let top = s.top.min(configs.len());
    // resamplings of the non-test members into train and validation, the same for every
    // configuration so they compare on equal terms
    let pool: Vec<usize> = sp.train.iter().chain(&sp.validation).copied().collect();
    let resplits: Vec<Split> = (0..s.resamples)
        .map(|r| {
            let mut p = pool.clone();
            p.shuffle(&mut ChaCha8Rng::seed_from_u64(seed_for(
                s.seed, 2, r as u64,
            )));
            Split {
                train: p[..sp.train.len()].to_vec(),
                validation: p[sp.train.len()..].to_vec(),
                test: sp.test.clone(),
            }
        })
        .collect();
    let jobs: Vec<(usize, usize)> = (0..top)
        .flat_map(|c| (0..s.resamples).map(move |r| (c, r)))
        .collect();
    let trained: Vec<(usize, Network, Skill)> = jobs
        .par_iter()
        .map(|&(c, r)| {
            let ns = NnSettings {
                hidden: configs[c].hidden.clone(),
                seed: seed_for(s.seed, 3, (c * s.resamples + r) as u64),
                ..s.network.clone()
            };
            let net = train_one(x, y, &resplits[r], &ns)?;
            progress();
            let sk = skill(&net.predict_mean(tx.view())?, ty.view())?;
            Ok((c, net, sk))
        })
        .collect::<Result<_>>()?;
    let mut nets: Vec<Vec<Network>> = vec![Vec::new(); top];
    for (c, net, sk) in trained {
        configs[c].resampled.push(sk);
        configs[c].resampled_epochs.push(net.history.best_epoch);
        nets[c].push(net);
    }
    let chosen = (0..top)
        .min_by(|&a, &b| configs[a].score().total_cmp(&configs[b].score()))
        .expect("top >= 1");
    let mut networks = std::mem::take(&mut nets[chosen]);
    let mut network = grid_nets.swap_remove(chosen);
    drop(grid_nets);
    if s.final_training == FinalTraining::All {
        let ns = NnSettings {
            hidden: configs[chosen].hidden.clone(),
            epochs: configs[chosen].best_epoch.max(1),
            patience: None,
            seed: seed_for(s.seed, 5, 0),
            ..s.network.clone()
        };
        let mut net = Network::train(x, y, None, &ns)?;
        net.residual_variance = network.residual_variance.clone();
        progress();
        network = net;
        let epochs = median_epoch(&configs[chosen].resampled_epochs);
        let base = NnSettings {
            hidden: configs[chosen].hidden.clone(),
            epochs,
            patience: None,
            ..s.network.clone()
        };
        networks = networks
            .par_iter()
            .enumerate()
            .map(|(r, resampled)| {
                let ns = NnSettings {
                    seed: seed_for(s.seed, 4, r as u64),
                    ..base.clone()
                };
                let mut net = Network::train(x, y, None, &ns)?;
                net.residual_variance = resampled.residual_variance.clone();
                progress();
                Ok(net)
            })
            .collect::<Result<_>>()?;
        configs[chosen].final_epochs = Some(epochs);
    }
    Ok(ProtocolResult {
        settings: s.clone(),
        split: sp,
        network,
        ensemble: NetworkEnsemble { networks },
        configs,
        chosen,
    })
}

/// The chosen configuration's two emulators trained again by the same procedure on the
/// members `members` only (the training members of a fold of a cross-validation), for an
/// out-of-sample check of the procedure: the single network on a seeded split of those
/// members into training and validation (the protocol's proportions; returned, so that
/// other emulators can be fitted on the same training members), early-stopped; and
/// `resamples` networks, each on its own seeded split. With the final training `all`, each
/// is then trained again on every one of `members` for its best epoch (the single network)
/// or the median best epoch (the others), keeping its validation residual variance. `salt`
/// (e.g. the fold's number) makes the seeds of one fold differ from another's. `progress`
/// is called after each network.
#[allow(clippy::too_many_arguments)]
pub fn retrain(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    members: &[usize],
    hidden: &[usize],
    s: &ProtocolSettings,
    resamples: usize,
    salt: u64,
    progress: &(dyn Fn() + Sync),
) -> Result<(Split, Network, NetworkEnsemble)> {
    if resamples == 0 {
        bail!("retrain: at least one resampled network");
    }
    let n = members.len();
    if n < 3 {
        bail!("{n} members are too few to train a network with early stopping");
    }
    let nt = ((n as f64 * s.train / (s.train + s.validation)).round() as usize).clamp(2, n - 1);
    let base = seed_for(s.seed, 6, salt);
    let resplit = |r: usize| {
        let mut p = members.to_vec();
        p.shuffle(&mut ChaCha8Rng::seed_from_u64(seed_for(base, 1, r as u64)));
        Split {
            train: p[..nt].to_vec(),
            validation: p[nt..].to_vec(),
            test: Vec::new(),
        }
    };
    // r = 0: the single network; 1..=resamples: the ensemble's
    let trained: Vec<Network> = (0..=resamples)
        .into_par_iter()
        .map(|r| {
            let sp = resplit(r);
            let ns = NnSettings {
                hidden: hidden.to_vec(),
                seed: seed_for(base, 2, r as u64),
                ..s.network.clone()
            };
            let net = train_one(x, y, &sp, &ns)?;
            progress();
            Ok(net)
        })
        .collect::<Result<_>>()?;
    let mut nets = trained.into_iter();
    let mut network = nets.next().expect("resamples + 1 networks");
    let mut networks: Vec<Network> = nets.collect();
    if s.final_training == FinalTraining::All {
        let (ax, ay) = (rows(x, members), rows(y, members));
        let median = median_epoch(
            &networks
                .iter()
                .map(|n| n.history.best_epoch)
                .collect::<Vec<_>>(),
        );
        let all: Vec<Network> = std::iter::once(&network)
            .chain(&networks)
            .enumerate()
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|(r, old)| {
                let epochs = if r == 0 {
                    old.history.best_epoch
                } else {
                    median
                };
                let ns = NnSettings {
                    hidden: hidden.to_vec(),
                    epochs: epochs.max(1),
                    patience: None,
                    seed: seed_for(base, 3, r as u64),
                    ..s.network.clone()
                };
                let mut net = Network::train(ax.view(), ay.view(), None, &ns)?;
                net.residual_variance = old.residual_variance.clone();
                progress();
                Ok(net)
            })
            .collect::<Result<_>>()?;
        let mut all = all.into_iter();
        network = all.next().expect("the single network");
        networks = all.collect();
    }
    Ok((resplit(0), network, NetworkEnsemble { networks }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn split_is_seeded_disjoint_and_complete() {
        let a = split(100, 0.6, 0.2, 7).unwrap();
        assert_eq!(
            (a.train.len(), a.validation.len(), a.test.len()),
            (60, 20, 20)
        );
        let mut all: Vec<usize> = a
            .train
            .iter()
            .chain(&a.validation)
            .chain(&a.test)
            .copied()
            .collect();
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(a, split(100, 0.6, 0.2, 7).unwrap());
        assert_ne!(a, split(100, 0.6, 0.2, 8).unwrap());
        assert_eq!(split(4, 0.6, 0.2, 1).unwrap().test.len(), 1);
        assert!(split(3, 0.6, 0.2, 1).is_err());
    }

    #[test]
    fn skill_of_a_hand_computed_case() {
        // pred = [1, 2, 3, 5], truth = [1, 3, 2, 6]: MSE = (0 + 1 + 1 + 1) / 4 = 0.75;
        // corr: mean p = 2.75, mean t = 3; sxy = 10, sxx = 8.75, syy = 14 -> r^2 = 100 / 122.5
        let p = ndarray::array![[1.0], [2.0], [3.0], [5.0]];
        let t = ndarray::array![[1.0], [3.0], [2.0], [6.0]];
        let s = skill(&p, t.view()).unwrap();
        assert_eq!(s.mse, vec![0.75]);
        assert!((s.r2[0] - 100.0 / 122.5).abs() < 1e-15);
    }

    /// The final training on all members: every network of the ensemble is trained on
    /// every member (its input and output means are those of all 60 members, which no split
    /// has) for exactly the median best epoch of the chosen configuration's resampled
    /// networks, and keeps their validation residual variances; `split` keeps the resampled
    /// networks themselves.
    #[test]
    fn final_training_on_all_members_uses_the_median_best_epoch() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let x = Array2::<f64>::from_shape_fn((60, 3), |_| rng.gen_range(0.0..1.0));
        let y = Array2::from_shape_fn((60, 2), |(i, k)| {
            (2.0 * x[[i, 0]]).sin()
                + x[[i, 1]] * x[[i, 2]] * (k + 1) as f64
                + 0.05 * rng.gen_range(-1.0..1.0)
        });
        let mut s = ProtocolSettings {
            network: NnSettings {
                epochs: 200,
                patience: Some(10),
                ..NnSettings::default()
            },
            layer1: vec![4, 6],
            layer2: vec![4],
            top: 2,
            resamples: 5,
            seed: 11,
            ..ProtocolSettings::default()
        };
        let split_run = run(x.view(), y.view(), &s, &|| {}).unwrap();
        s.final_training = FinalTraining::All;
        let count = std::sync::atomic::AtomicUsize::new(0);
        let all = run(x.view(), y.view(), &s, &|| {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(count.into_inner(), 2 + 2 * 5 + 5 + 1);
        let c = &all.configs[all.chosen];
        assert_eq!(c.resampled_epochs.len(), 5);
        let mut e = c.resampled_epochs.clone();
        e.sort();
        let epochs = e[2]; // the middle of 5
        assert!(epochs < 200, "early stopping chose epochs {e:?}");
        assert_eq!(c.final_epochs, Some(epochs));
        assert!(
            all.configs
                .iter()
                .filter(|c| c.final_epochs.is_some())
                .count()
                == 1
        );
        let x_mean = x.mean_axis(Axis(0)).unwrap();
        let y_mean = y.mean_axis(Axis(0)).unwrap();
        assert_eq!(all.ensemble.networks.len(), 5);
        for (net, old) in all
            .ensemble
            .networks
            .iter()
            .zip(&split_run.ensemble.networks)
        {
            assert_eq!(net.history.loss.len(), epochs);
            assert_eq!(net.history.best_epoch, epochs);
            assert!(net.history.val_loss.is_empty());
            assert!((&net.x_mean - &x_mean).iter().all(|d| d.abs() < 1e-15));
            assert!((&net.y_mean - &y_mean).iter().all(|d| d.abs() < 1e-15));
            assert!((&old.x_mean - &x_mean).iter().any(|d| d.abs() > 1e-6));
            assert_eq!(net.residual_variance, old.residual_variance);
            assert_eq!(net.architecture(), old.architecture());
        }
        assert_eq!(split_run.configs[split_run.chosen].final_epochs, None);
        // the single network: on the split, the grid's network of the chosen configuration
        // (its validation residual variance is the validation MSE of the grid's table, its
        // best epoch the grid's); with `all`, retrained on every member for that epoch
        let (one, c1) = (&split_run.network, &split_run.configs[split_run.chosen]);
        assert_eq!(one.architecture()[1..3], c1.hidden[..]);
        assert_eq!(one.history.best_epoch, c1.best_epoch);
        for (a, b) in one.residual_variance.iter().zip(&c1.validation.mse) {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
        }
        let vx = x.select(Axis(0), &split_run.split.validation);
        let vy = y.select(Axis(0), &split_run.split.validation);
        let p = one.predict(vx.view()).unwrap();
        assert!(p
            .variance
            .rows()
            .into_iter()
            .all(|r| r == one.residual_variance));
        assert!((skill(&p.mean, vy.view()).unwrap().mse[0] - c1.validation.mse[0]).abs() < 1e-12);
        let all1 = &all.network;
        assert_eq!(all.chosen, split_run.chosen);
        assert_eq!(all1.history.loss.len(), c1.best_epoch);
        assert!((&all1.x_mean - &x_mean).iter().all(|d| d.abs() < 1e-15));
        assert_eq!(all1.residual_variance, one.residual_variance);
        assert_ne!(all1.weights, one.weights);
        // the setting travels through JSON (stage.json) and old files read as "split"
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains(r#""final_training":"all""#), "{text}");
        let old = text.replace(r#","final_training":"all""#, "");
        let back: ProtocolSettings = serde_json::from_str(&old).unwrap();
        assert_eq!(back.final_training, FinalTraining::Split);
        assert_eq!(median_epoch(&[4, 1, 3, 2]), 3);
        assert_eq!(median_epoch(&[7]), 7);
        assert_eq!(median_epoch(&[5, 9]), 7);
        assert_eq!(median_epoch(&[5, 8]), 7);
        assert!("every"
            .parse::<FinalTraining>()
            .unwrap_err()
            .to_string()
            .contains("split"));
    }

    /// On y = f(x) + noise of known sd 0.1, the ensemble's +-2 sigma intervals cover 90-99 %
    /// of held-out points and the chosen network is skilful.
    #[test]
    fn protocol_chooses_a_skilful_network_with_honest_intervals() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 200;
        let f = |r: ndarray::ArrayView1<f64>| (3.0 * r[0]).sin() + r[1] * r[1] - 0.5 * r[2];
        let mk = |rng: &mut ChaCha8Rng, n: usize| {
            let x = Array2::from_shape_fn((n, 3), |_| rng.gen_range(0.0..1.0));
            let y = Array2::from_shape_fn((n, 1), |(i, _)| {
                let e: f64 = rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng);
                f(x.row(i)) + 0.1 * e
            });
            (x, y)
        };
        let (x, y) = mk(&mut rng, n);
        let s = ProtocolSettings {
            network: NnSettings {
                epochs: 300,
                patience: Some(30),
                seed: 0,
                ..NnSettings::default()
            },
            layer1: vec![5, 10],
            layer2: vec![5, 10],
            top: 2,
            resamples: 8,
            seed: 3,
            ..ProtocolSettings::default()
        };
        let count = std::sync::atomic::AtomicUsize::new(0);
        let r = run(x.view(), y.view(), &s, &|| {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(count.into_inner(), 4 + 2 * 8);
        assert_eq!(r.ensemble.networks.len(), 8);
        assert_eq!(r.network.method(), "nn");
        assert_eq!(r.ensemble.method(), "nn_ensemble");
        assert!(r.configs[r.chosen].resampled.len() == 8);
        let (hx, hy) = mk(&mut rng, 400);
        let p = r.ensemble.predict(hx.view()).unwrap();
        let sk = skill(&p.mean, hy.view()).unwrap();
        assert!(sk.r2[0] > 0.9, "r^2 {:?}", sk.r2);
        let inside = (0..400)
            .filter(|&i| (hy[[i, 0]] - p.mean[[i, 0]]).abs() <= 2.0 * p.variance[[i, 0]].sqrt())
            .count() as f64
            / 400.0;
        assert!((0.90..=0.99).contains(&inside), "coverage {inside}");
        // the single network: skilful too, and its constant variance (validation MSE,
        // noise 0.01 + its error) gives +-2 sigma intervals near 95 % as well
        let p1 = r.network.predict(hx.view()).unwrap();
        let s1 = skill(&p1.mean, hy.view()).unwrap();
        assert!(s1.r2[0] > 0.9, "r^2 {:?}", s1.r2);
        let inside1 = (0..400)
            .filter(|&i| (hy[[i, 0]] - p1.mean[[i, 0]]).abs() <= 2.0 * p1.variance[[i, 0]].sqrt())
            .count() as f64
            / 400.0;
        assert!((0.88..=0.99).contains(&inside1), "coverage {inside1}");
    }
}
