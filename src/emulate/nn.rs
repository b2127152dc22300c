//! A small fully connected neural network written on ndarray (Dagon et al. 2020, section
//! 3.1): dense layers with relu, tanh, sigmoid or linear activations, Glorot-uniform
//! initialisation from a seed (as Keras), L2 penalty on the kernels (Keras' `l2(c)` adds
//! `c * sum(W^2)` to the loss), mean squared error, and SGD (with momentum), RMSprop or Adam
//! with Keras' update rules and defaults; mini-batches shuffled every epoch; early stopping on
//! the validation loss (patience, min_delta, restoring the best weights).
//!
//! Inputs are standardised inside the model, and so are the outputs unless asked not to:
//! the paper fitted raw PCs of order 0.1 with an L2 penalty of 1e-3, which pulls the
//! weights towards predicting the mean; with standardised outputs the same penalty is mild.
//!
//! Training is sequential and seeded, so a seed gives the same weights bit for bit on any
//! machine and whatever the number of threads; prediction of many inputs runs in parallel
//! over chunks of rows.

use super::kind::{Method, Saved};
use super::{check_inputs, check_training, Emulator, Prediction};
use anyhow::{bail, Result};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// An activation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(0, x)
    Relu,
    /// tanh(x)
    Tanh,
    /// 1 / (1 + exp(-x))
    Sigmoid,
    /// x
    Linear,
}

impl std::str::FromStr for Activation {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "relu" => Activation::Relu,
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            "linear" => Activation::Linear,
            _ => bail!(
                "unknown activation '{s}': use relu, tanh, sigmoid or linear",
                s = crate::format::printable(s)
            ),
        })
    }
}

/// An optimiser with Keras' update rules.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Optimizer {
    /// `v = momentum v - lr g; w += v`.
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum (0 for plain gradient descent).
        momentum: f64,
    },
    /// `a = rho a + (1 - rho) g^2; w -= lr g / (sqrt(a) + eps)`.
    Rmsprop {
        /// Learning rate (the paper: 0.005).
        lr: f64,
        /// Decay of the squared-gradient average (Keras: 0.9).
        rho: f64,
        /// Keras: 1e-7.
        eps: f64,
    },
    /// Adam with bias correction, Keras' form: `w -= lr_t m / (sqrt(v) + eps)`,
    /// `lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)`.
    Adam {
        /// Learning rate (Keras: 0.001).
        lr: f64,
        /// Keras: 0.9.
        beta1: f64,
        /// Keras: 0.999.
        beta2: f64,
        /// Keras: 1e-7.
        eps: f64,
    },
}

impl Optimizer {
    /// RMSprop with the paper's learning rate 0.005 and Keras' rho 0.9, eps 1e-7.
    pub fn paper() -> Optimizer {
        Optimizer::Rmsprop {
            lr: 0.005,
            rho: 0.9,
            eps: 1e-7,
        }
    }
    fn check(&self) -> Result<()> {
        let (lr, ok) = match *self {
            Optimizer::Sgd { lr, momentum } => (lr, (0.0..1.0).contains(&momentum)),
            Optimizer::Rmsprop { lr, rho, eps } => (
                lr,
                (0.0..1.0).contains(&rho) && eps > 0.0 && eps.is_finite(),
            ),
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => (
                lr,
                (0.0..1.0).contains(&beta1)
                    && (0.0..1.0).contains(&beta2)
                    && eps > 0.0
                    && eps.is_finite(),
            ),
        };
        if !(lr > 0.0 && lr.is_finite()) {
            bail!("learning rate = {lr} must be a finite number > 0");
        }
        if !ok {
            bail!("optimizer settings out of range: {self:?} (momentum, rho, beta in [0, 1), eps > 0)");
        }
        Ok(())
    }
}

/// Settings of a network and its training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NnSettings {
    /// Nodes of each hidden layer.
    pub hidden: Vec<usize>,
    /// Activation of each hidden layer and of the output layer (one more than `hidden`).
    pub activations: Vec<Activation>,
    /// L2 penalty on the kernels (not the biases).
    pub l2: f64,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Rows per mini-batch (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Early stopping: epochs without improvement of the validation loss before stopping
    /// (`None`: train every epoch).
    pub patience: Option<usize>,
    /// Early stopping: the smallest decrease that counts as an improvement.
    pub min_delta: f64,
    /// Early stopping: end with the weights of the best validation epoch.
    pub restore_best: bool,
    /// Standardise the outputs inside the model (inputs always are).
    pub standardize_outputs: bool,
    /// Seed of the initial weights and of the shuffling.
    pub seed: u64,
}

impl Default for NnSettings {
    /// The paper's network (two hidden layers of 10, relu then tanh, linear output, L2 1e-3,
    /// RMSprop 0.005, batch 30) with early stopping after 20 epochs without improvement and
    /// standardised outputs.
    fn default() -> Self {
        NnSettings {
            hidden: vec![10, 10],
            activations: vec![Activation::Relu, Activation::Tanh, Activation::Linear],
            l2: 1e-3,
            optimizer: Optimizer::paper(),
            batch_size: 30,
            epochs: 500,
            patience: Some(20),
            min_delta: 0.0,
            restore_best: true,
            standardize_outputs: true,
            seed: 0,
        }
    }
}

/// The options of a network as a script gives them (`fit("nn", x, y, options)`, the
/// network options of `emulate(stage, options)`): [`NnSettings`] with the optimiser by name
/// (`rmsprop`, `adam`, `sgd`, each with Keras' defaults) and its learning rate apart.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct NnOptions {
    /// Nodes of each hidden layer.
    pub hidden: Vec<usize>,
    /// Activation of each hidden layer and of the output layer.
    #[serde(deserialize_with = "crate::settings::names")]
    pub activations: Vec<Activation>,
    /// L2 penalty on the kernels.
    pub l2: f64,
    /// Learning rate (default: the optimiser's).
    pub lr: Option<f64>,
    /// `rmsprop` (the paper's), `adam` or `sgd`.
    pub optimizer: Option<String>,
    /// Rows per mini-batch.
    pub batch_size: usize,
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Epochs without improvement before stopping; `()` trains every epoch.
    pub patience: Option<usize>,
    /// The smallest decrease that counts as an improvement.
    pub min_delta: f64,
    /// End with the weights of the best validation epoch.
    pub restore_best: bool,
    /// Standardise the outputs inside the model.
    pub standardize_outputs: bool,
    /// Seed of the initial weights and of the shuffling.
    pub seed: u64,
}

impl Default for NnOptions {
    /// The paper's network ([`NnSettings::default`]).
    fn default() -> Self {
        let s = NnSettings::default();
        NnOptions {
            hidden: s.hidden,
            activations: s.activations,
            l2: s.l2,
            lr: None,
            optimizer: None,
            batch_size: s.batch_size,
            epochs: s.epochs,
            patience: s.patience,
            min_delta: s.min_delta,
            restore_best: s.restore_best,
            standardize_outputs: s.standardize_outputs,
            seed: s.seed,
        }
    }
}

impl NnOptions {
    /// The settings these options give, checked.
    pub fn settings(&self) -> Result<NnSettings> {
        let mut optimizer = match self.optimizer.as_deref() {
            None | Some("rmsprop") => Optimizer::paper(),
            Some("adam") => Optimizer::Adam {
                lr: 0.001,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-7,
            },
            Some("sgd") => Optimizer::Sgd {
                lr: 0.01,
                momentum: 0.0,
            },
            Some(o) => bail!(
                "unknown optimizer '{o}': use rmsprop, adam or sgd",
                o = crate::format::printable(o)
            ),
        };
        if let Some(lr) = self.lr {
            match &mut optimizer {
                Optimizer::Sgd { lr: l, .. }
                | Optimizer::Rmsprop { lr: l, .. }
                | Optimizer::Adam { lr: l, .. } => *l = lr,
            }
        }
        let s = NnSettings {
            hidden: self.hidden.clone(),
            activations: self.activations.clone(),
            l2: self.l2,
            optimizer,
            batch_size: self.batch_size,
            epochs: self.epochs,
            patience: self.patience,
            min_delta: self.min_delta,
            restore_best: self.restore_best,
            standardize_outputs: self.standardize_outputs,
            seed: self.seed,
        };
        s.check()?;
        Ok(s)
    }
}

impl NnSettings {
    /// Checks the settings once, before fitting.
    pub fn check(&self) -> Result<()> {
        if self.activations.len() != self.hidden.len() + 1 {
            bail!(
                "{} hidden layers need {} activations (one per hidden layer and one for the output), got {}",
                self.hidden.len(),
                self.hidden.len() + 1,
                self.activations.len()
            );
        }
        if let Some(n) = self.hidden.iter().find(|&&n| n == 0 || n > 100_000) {
            bail!("a hidden layer of {n} nodes: use 1..=100000");
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            bail!("l2 = {} must be a finite number >= 0", self.l2);
        }
        if self.batch_size == 0 {
            bail!("batch_size must be >= 1");
        }
        if self.epochs == 0 || self.epochs > 10_000_000 {
            bail!("epochs = {} must be in 1..=10000000", self.epochs);
        }
        if !(self.min_delta >= 0.0 && self.min_delta.is_finite()) {
            bail!(
                "min_delta = {} must be a finite number >= 0",
                self.min_delta
            );
        }
        self.optimizer.check()
    }
}

/// The losses of each epoch of a training.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Training loss per epoch (MSE in the model's scaled units plus the L2 penalty, the
    /// mean of the batch losses, as Keras reports it).
    pub loss: Vec<f64>,
    /// Validation loss per epoch (MSE plus the L2 penalty, as Keras' `val_loss`); empty
    /// without validation data.
    pub val_loss: Vec<f64>,
    /// The epoch (1-based) whose weights the network holds.
    pub best_epoch: usize,
}

/// A trained network with its scalings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// The settings it was trained with.
    pub settings: NnSettings,
    /// Kernels, one per layer (inputs x nodes).
    pub weights: Vec<Array2<f64>>,
    /// Biases, one per layer.
    pub biases: Vec<Array1<f64>>,
    /// Input means (standardisation).
    pub x_mean: Array1<f64>,
    /// Input standard deviations (1 where an input is constant).
    pub x_scale: Array1<f64>,
    /// Output means (0 without output standardisation).
    pub y_mean: Array1<f64>,
    /// Output standard deviations (1 without output standardisation).
    pub y_scale: Array1<f64>,
    /// Residual variance per output in the outputs' units: the validation MSE if there was
    /// validation data, else the training MSE. A single network's predictive variance.
    pub residual_variance: Array1<f64>,
    /// Losses per epoch.
    pub history: History,
}

/// Cephes' rational approximation of tanh on |x| < 0.625: `x + x s P(s) / Q(s)`, s = x^2.
const TANH_P: [f64; 3] = [
    -9.643_991_794_250_523e-1,
    -9.928_772_310_019_186e1,
    -1.614_687_684_417_084_5e3,
];
const TANH_Q: [f64; 3] = [
    1.128_116_784_916_329_3e2,
    2.235_488_390_601_004_6e3,
    4.844_063_053_251_255e3,
];

/// exp(y) for y in [0, 40]: Cody-Waite reduction by ln 2 and the Taylor series of degree 13
/// on |r| <= ln2 / 2 (truncation below 1e-17), written without branches or calls so that
/// loops over slices vectorise. Plain multiply-adds (no fused ones), so the bits are the
/// same with or without vector units.
#[inline(always)]
fn exp_small_positive(y: f64) -> f64 {
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52: rounds to an integer
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let kf = y * std::f64::consts::LOG2_E + SHIFT;
    let bits = kf.to_bits(); // the low bits hold k
    let k = kf - SHIFT;
    let r = (y - k * LN2_HI) - k * LN2_LO;
    let mut p = 1.0 / 6_227_020_800.0; // 1/13!
    for c in [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * r + c;
    }
    // 2^k from k's bits: the exponent field is (k + 1023) mod 2^11
    p * f64::from_bits(bits.wrapping_add(1023) << 52)
}

/// tanh within 2 units in the last place of the standard library's (checked in a test),
/// branch-free so that it vectorises: the rational form below |x| = 0.625, `1 - 2 / (e^2|x|
/// + 1)` with the sign of x above (|x| capped at 20, where tanh is 1 in doubles).
#[inline(always)]
fn tanh_fast(x: f64) -> f64 {
    let ax = x.abs();
    let s = x * x;
    let p = (TANH_P[0] * s + TANH_P[1]) * s + TANH_P[2];
    let q = ((s + TANH_Q[0]) * s + TANH_Q[1]) * s + TANH_Q[2];
    let small = x + x * (s * p / q);
    let e = exp_small_positive((2.0 * ax).min(40.0));
    let big = 1.0 - 2.0 / (e + 1.0);
    // the sign of x (both forms have it, but for -0 the rational one gives +0)
    let t = (if ax < 0.625 { small } else { big }).copysign(x);
    if x.is_nan() {
        x
    } else {
        t
    }
}

#[inline(always)]
fn tanh_slice(z: &[f64], a: &mut [f64]) {
    for (o, &v) in a.iter_mut().zip(z) {
        *o = tanh_fast(v);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tanh_slice_avx2(z: &[f64], a: &mut [f64]) {
    tanh_slice(z, a)
}

/// `a = tanh(z)` element by element, with 256-bit vectors where the CPU has them (the
/// same bits either way: the same operations in the same order).
fn tanh_into(z: &[f64], a: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { tanh_slice_avx2(z, a) };
        return;
    }
    tanh_slice(z, a)
}

impl Activation {
    /// `a = act(z)` element by element.
    fn apply_slice(self, z: &[f64], a: &mut [f64]) {
        match self {
            Activation::Tanh => tanh_into(z, a),
            Activation::Relu => a.iter_mut().zip(z).for_each(|(o, &v)| *o = v.max(0.0)),
            Activation::Sigmoid => a
                .iter_mut()
                .zip(z)
                .for_each(|(o, &v)| *o = 1.0 / (1.0 + (-v).exp())),
            Activation::Linear => a.copy_from_slice(z),
        }
    }
    /// `d *= act'(z)` element by element, from the inputs `z` and outputs `a`.
    fn scale_by_derivative(self, d: &mut [f64], z: &[f64], a: &[f64]) {
        match self {
            Activation::Relu => d.iter_mut().zip(z).for_each(|(d, &z)| {
                if z <= 0.0 || z.is_nan() {
                    *d = 0.0
                }
            }),
            Activation::Tanh => d.iter_mut().zip(a).for_each(|(d, &y)| *d *= 1.0 - y * y),
            Activation::Sigmoid => d.iter_mut().zip(a).for_each(|(d, &y)| *d *= y * (1.0 - y)),
            Activation::Linear => {}
        }
    }
}

fn mean_scale(a: ArrayView2<f64>) -> (Array1<f64>, Array1<f64>) {
    let m = a.mean_axis(Axis(0)).expect("rows");
    let sd = a
        .std_axis(Axis(0), 0.0)
        .mapv(|s| if s > 0.0 && s.is_finite() { s } else { 1.0 });
    (m, sd)
}

/// Buffers of forward and backward passes over up to `cap` rows, allocated once per
/// training (or per block of predictions) so that a training step allocates nothing.
/// Every buffer is row-major; a pass over `m <= cap` rows uses the first `m` rows.
struct Work {
    sizes: Vec<usize>,
    cap: usize,
    /// `act[0]` the (standardised) inputs, `act[l + 1]` the outputs of layer `l`.
    act: Vec<Vec<f64>>,
    /// The pre-activations of layer `l`.
    pre: Vec<Vec<f64>>,
    /// The targets (rows x outputs).
    target: Vec<f64>,
    /// The loss's derivative with respect to layer `l`'s pre-activations (empty without
    /// gradients).
    delta: Vec<Vec<f64>>,
    /// Gradients of the kernels.
    gw: Vec<Array2<f64>>,
    /// Gradients of the biases.
    gb: Vec<Array1<f64>>,
}

impl Work {
    fn new(sizes: &[usize], cap: usize, grads: bool) -> Work {
        let layers = sizes.len() - 1;
        let outputs = sizes[layers];
        Work {
            sizes: sizes.to_vec(),
            cap,
            act: sizes.iter().map(|&n| vec![0.0; cap * n]).collect(),
            pre: sizes[1..].iter().map(|&n| vec![0.0; cap * n]).collect(),
            target: vec![0.0; cap * outputs],
            delta: if grads {
                sizes[1..].iter().map(|&n| vec![0.0; cap * n]).collect()
            } else {
                Vec::new()
            },
            gw: if grads {
                sizes
                    .windows(2)
                    .map(|p| Array2::zeros((p[0], p[1])))
                    .collect()
            } else {
                Vec::new()
            },
            gb: if grads {
                sizes[1..].iter().map(|&n| Array1::zeros(n)).collect()
            } else {
                Vec::new()
            },
        }
    }

    /// Copies row `r` of `x` and `y` into row `i` of the input and target buffers.
    fn set_row(&mut self, i: usize, x: &Array2<f64>, y: &Array2<f64>, r: usize) {
        let (d, k) = (self.sizes[0], *self.sizes.last().expect("layers"));
        self.act[0][i * d..(i + 1) * d]
            .iter_mut()
            .zip(x.row(r))
            .for_each(|(o, &v)| *o = v);
        self.target[i * k..(i + 1) * k]
            .iter_mut()
            .zip(y.row(r))
            .for_each(|(o, &v)| *o = v);
    }

    /// Forward pass of the first `m` rows of the input buffer: per layer one matrix
    /// product into the pre-activation buffer, then bias and activation.
    fn forward(&mut self, ws: &[Array2<f64>], bs: &[Array1<f64>], acts: &[Activation], m: usize) {
        debug_assert!(m <= self.cap);
        for l in 0..ws.len() {
            let (ni, no) = (self.sizes[l], self.sizes[l + 1]);
            let (below, above) = self.act.split_at_mut(l + 1);
            let a = ArrayView2::from_shape((m, ni), &below[l][..m * ni]).expect("sized");
            let z = &mut self.pre[l][..m * no];
            let mut zv = ArrayViewMut2::from_shape((m, no), &mut *z).expect("sized");
            general_mat_mul(1.0, &a, &ws[l], 0.0, &mut zv);
            let b = bs[l].as_slice().expect("contiguous biases");
            for row in z.chunks_exact_mut(no) {
                row.iter_mut().zip(b).for_each(|(v, &bj)| *v += bj);
            }
            acts[l].apply_slice(z, &mut above[0][..m * no]);
        }
    }

    /// Loss of the first `m` rows (MSE over rows and outputs plus `l2 * sum W^2`) after a
    /// forward pass; with `grads`, its gradients in `gw` and `gb`.
    #[allow(clippy::too_many_arguments)]
    fn loss(
        &mut self,
        ws: &[Array2<f64>],
        bs: &[Array1<f64>],
        acts: &[Activation],
        l2: f64,
        m: usize,
        grads: bool,
    ) -> f64 {
        self.forward(ws, bs, acts, m);
        let layers = ws.len();
        let k = self.sizes[layers];
        let n = (m * k) as f64;
        let out = &self.act[layers][..m * k];
        let target = &self.target[..m * k];
        let penalty: f64 = ws
            .iter()
            .map(|w| w.iter().map(|v| v * v).sum::<f64>())
            .sum();
        let mut sse = 0.0;
        if !grads {
            for (&o, &t) in out.iter().zip(target) {
                sse += (o - t) * (o - t);
            }
            return sse / n + l2 * penalty;
        }
        let scale = 2.0 / n;
        for ((d, &o), &t) in self.delta[layers - 1][..m * k]
            .iter_mut()
            .zip(out)
            .zip(target)
        {
            let e = o - t;
            sse += e * e;
            *d = e * scale;
        }
        for l in (0..layers).rev() {
            let (ni, no) = (self.sizes[l], self.sizes[l + 1]);
            let (below, at) = self.delta.split_at_mut(l);
            let d = &mut at[0][..m * no];
            acts[l].scale_by_derivative(d, &self.pre[l][..m * no], &self.act[l + 1][..m * no]);
            let dv = ArrayView2::from_shape((m, no), &*d).expect("sized");
            let a = ArrayView2::from_shape((m, ni), &self.act[l][..m * ni]).expect("sized");
            let gw = &mut self.gw[l];
            gw.zip_mut_with(&ws[l], |g, &w| *g = 2.0 * l2 * w);
            general_mat_mul(1.0, &a.t(), &dv, 1.0, gw);
            let gb = self.gb[l].as_slice_mut().expect("contiguous");
            gb.fill(0.0);
            for row in d.chunks_exact(no) {
                gb.iter_mut().zip(row).for_each(|(g, &v)| *g += v);
            }
            if l > 0 {
                let mut prev =
                    ArrayViewMut2::from_shape((m, ni), &mut below[l - 1][..m * ni]).expect("sized");
                general_mat_mul(1.0, &dv, &ws[l].t(), 0.0, &mut prev);
            }
        }
        sse / n + l2 * penalty
    }
}

/// Optimiser state for one parameter tensor (flattened view).
struct Slot {
    a: Vec<f64>,
    b: Vec<f64>,
}

impl Slot {
    fn new(n: usize) -> Slot {
        Slot {
            a: vec![0.0; n],
            b: vec![0.0; n],
        }
    }
}

fn step(opt: &Optimizer, t: u64, p: &mut [f64], g: &[f64], slot: &mut Slot) {
    match *opt {
        Optimizer::Sgd { lr, momentum } => {
            for ((w, &gi), v) in p.iter_mut().zip(g).zip(slot.a.iter_mut()) {
                *v = momentum * *v - lr * gi;
                *w += *v;
            }
        }
        Optimizer::Rmsprop { lr, rho, eps } => {
            for ((w, &gi), a) in p.iter_mut().zip(g).zip(slot.a.iter_mut()) {
                *a = rho * *a + (1.0 - rho) * gi * gi;
                *w -= lr * gi / (a.sqrt() + eps);
            }
        }
        Optimizer::Adam {
            lr,
            beta1,
            beta2,
            eps,
        } => {
            let tt = t as i32;
            let lr_t = lr * (1.0 - beta2.powi(tt)).sqrt() / (1.0 - beta1.powi(tt));
            for (((w, &gi), m), v) in p
                .iter_mut()
                .zip(g)
                .zip(slot.a.iter_mut())
                .zip(slot.b.iter_mut())
            {
                *m = beta1 * *m + (1.0 - beta1) * gi;
                *v = beta2 * *v + (1.0 - beta2) * gi * gi;
                *w -= lr_t * *m / (v.sqrt() + eps);
            }
        }
    }
}

/// Glorot-uniform kernels and zero biases for the layer sizes `sizes` (inputs first).
fn initial(sizes: &[usize], rng: &mut ChaCha8Rng) -> (Vec<Array2<f64>>, Vec<Array1<f64>>) {
    let mut ws = Vec::new();
    let mut bs = Vec::new();
    for pair in sizes.windows(2) {
        let (i, o) = (pair[0], pair[1]);
        let limit = (6.0 / (i + o) as f64).sqrt();
        ws.push(Array2::from_shape_fn((i, o), |_| {
            rng.gen_range(-limit..limit)
        }));
        bs.push(Array1::zeros(o));
    }
    (ws, bs)
}

impl Network {
    /// Trains a network on `x` (members x parameters) and `y` (members x outputs); with
    /// validation data (`val`), the validation loss drives early stopping.
    pub fn train(
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        val: Option<(ArrayView2<f64>, ArrayView2<f64>)>,
        settings: &NnSettings,
    ) -> Result<Network> {
        settings.check()?;
        check_training(x, y, 2)?;
        if let Some((vx, vy)) = val {
            check_training(vx, vy, 1)?;
            if vx.ncols() != x.ncols() || vy.ncols() != y.ncols() {
                bail!(
                    "validation data has {} x {} columns, training data {} x {}",
                    vx.ncols(),
                    vy.ncols(),
                    x.ncols(),
                    y.ncols()
                );
            }
        }
        let (x_mean, x_scale) = mean_scale(x);
        let (y_mean, y_scale) = if settings.standardize_outputs {
            mean_scale(y)
        } else {
            (Array1::zeros(y.ncols()), Array1::ones(y.ncols()))
        };
        let xs = (&x - &x_mean) / &x_scale;
        let ys = (&y - &y_mean) / &y_scale;
        let vs = val.map(|(vx, vy)| ((&vx - &x_mean) / &x_scale, (&vy - &y_mean) / &y_scale));

        let mut sizes = vec![x.ncols()];
        sizes.extend(&settings.hidden);
        sizes.push(y.ncols());
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let (mut ws, mut bs) = initial(&sizes, &mut rng);
        let acts = &settings.activations;
        let mut slots_w: Vec<Slot> = ws.iter().map(|w| Slot::new(w.len())).collect();
        let mut slots_b: Vec<Slot> = bs.iter().map(|b| Slot::new(b.len())).collect();

        let n = xs.nrows();
        let mut work = Work::new(&sizes, settings.batch_size.min(n), true);
        // the validation rows go into their buffers once: forward passes never change them
        let mut vwork = vs.as_ref().map(|(vx, vy)| {
            let mut w = Work::new(&sizes, vx.nrows(), false);
            for r in 0..vx.nrows() {
                w.set_row(r, vx, vy, r);
            }
            w
        });
        let mut order: Vec<usize> = (0..n).collect();
        let mut history = History::default();
        let (mut best_ws, mut best_bs) = (ws.clone(), bs.clone());
        let mut best = (f64::INFINITY, 0usize);
        let mut wait = 0usize;
        let mut t = 0u64;
        for epoch in 1..=settings.epochs {
            if epoch % 16 == 0 {
                crate::interrupt::check()?;
            }
            order.shuffle(&mut rng);
            let mut sum = 0.0;
            let mut batches = 0usize;
            for chunk in order.chunks(settings.batch_size) {
                for (i, &r) in chunk.iter().enumerate() {
                    work.set_row(i, &xs, &ys, r);
                }
                sum += work.loss(&ws, &bs, acts, settings.l2, chunk.len(), true);
                batches += 1;
                t += 1;
                for l in 0..ws.len() {
                    let w = ws[l].as_slice_mut().expect("standard layout");
                    let g = work.gw[l].as_slice().expect("standard layout");
                    step(&settings.optimizer, t, w, g, &mut slots_w[l]);
                    let b = bs[l].as_slice_mut().expect("contiguous");
                    let g = work.gb[l].as_slice().expect("contiguous");
                    step(&settings.optimizer, t, b, g, &mut slots_b[l]);
                }
            }
            let train_loss = sum / batches as f64;
            if !train_loss.is_finite() {
                bail!(
                    "training diverged at epoch {epoch} (loss {train_loss}): lower the learning rate"
                );
            }
            history.loss.push(train_loss);
            match &mut vwork {
                Some(vw) => {
                    let m = vw.cap;
                    let vl = vw.loss(&ws, &bs, acts, settings.l2, m, false);
                    history.val_loss.push(vl);
                    if vl < best.0 - settings.min_delta {
                        best = (vl, epoch);
                        for (b, w) in best_ws.iter_mut().zip(&ws) {
                            b.assign(w);
                        }
                        for (b, w) in best_bs.iter_mut().zip(&bs) {
                            b.assign(w);
                        }
                        wait = 0;
                    } else {
                        wait += 1;
                        if settings.patience.is_some_and(|p| wait >= p) {
                            break;
                        }
                    }
                }
                None => best.1 = epoch,
            }
        }
        if vs.is_some() && settings.restore_best && best.1 > 0 {
            ws = best_ws;
            bs = best_bs;
            history.best_epoch = best.1;
        } else {
            history.best_epoch = history.loss.len();
        }
        let mut net = Network {
            settings: settings.clone(),
            weights: ws,
            biases: bs,
            x_mean,
            x_scale,
            y_mean,
            y_scale,
            residual_variance: Array1::zeros(y.ncols()),
            history,
        };
        let residual = |rx: ArrayView2<f64>, ry: ArrayView2<f64>| -> Result<Array1<f64>> {
            let p = net.predict_mean(rx)?;
            Ok((&p - &ry).mapv(|d| d * d).mean_axis(Axis(0)).expect("rows"))
        };
        net.residual_variance = match val {
            Some((vx, vy)) => residual(vx, vy)?,
            None => residual(x, y)?,
        };
        Ok(net)
    }

    /// The predicted means only, for each row of `x`: blocks of 256 rows through buffers
    /// that stay in cache (one matrix product per layer, then bias and activation), blocks
    /// of 16384 rows in parallel. Each row's result does not depend on the blocks.
    pub fn predict_mean(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        check_inputs(x, self.x_mean.len())?;
        let (d, k) = (self.x_mean.len(), self.y_mean.len());
        let mut out = Array2::zeros((x.nrows(), k));
        const BLOCK: usize = 256;
        const CHUNK: usize = 16_384;
        let sizes = self.architecture();
        let layers = self.weights.len();
        let (xm, xs) = (self.x_mean.view(), self.x_scale.view());
        let (ym, ys) = (self.y_mean.view(), self.y_scale.view());
        let run = |xc: ArrayView2<f64>, mut oc: ArrayViewMut2<f64>| {
            let mut work = Work::new(&sizes, BLOCK.min(xc.nrows()), false);
            for (xb, mut ob) in xc
                .axis_chunks_iter(Axis(0), BLOCK)
                .zip(oc.axis_chunks_iter_mut(Axis(0), BLOCK))
            {
                let m = xb.nrows();
                for (row, dst) in xb.rows().into_iter().zip(work.act[0].chunks_exact_mut(d)) {
                    for j in 0..d {
                        dst[j] = (row[j] - xm[j]) / xs[j];
                    }
                }
                work.forward(&self.weights, &self.biases, &self.settings.activations, m);
                for (mut dst, src) in ob
                    .rows_mut()
                    .into_iter()
                    .zip(work.act[layers].chunks_exact(k))
                {
                    for j in 0..k {
                        dst[j] = src[j] * ys[j] + ym[j];
                    }
                }
            }
        };
        if x.nrows() <= CHUNK {
            run(x, out.view_mut());
        } else {
            use rayon::prelude::*;
            let xs: Vec<ArrayView2<f64>> = x.axis_chunks_iter(Axis(0), CHUNK).collect();
            let outs: Vec<ArrayViewMut2<f64>> = out.axis_chunks_iter_mut(Axis(0), CHUNK).collect();
            xs.into_par_iter()
                .zip(outs)
                .for_each(|(xc, oc)| run(xc, oc));
        }
        Ok(out)
    }

    /// The number of trainable numbers.
    pub fn parameter_count(&self) -> usize {
        self.weights.iter().map(|w| w.len()).sum::<usize>()
            + self.biases.iter().map(|b| b.len()).sum::<usize>()
    }

    /// Layer sizes, inputs first (e.g. 6-10-10-3).
    pub fn architecture(&self) -> Vec<usize> {
        let mut v = vec![self.x_mean.len()];
        v.extend(self.biases.iter().map(|b| b.len()));
        v
    }
}

impl Saved for Network {
    const KIND: &'static str = "nn";
    const ABOUT: &'static str = "a feed-forward neural network with Keras' training (the paper's \
                                 emulator: 10-10 nodes, relu then tanh, RMSprop)";
}

impl Method for Network {
    type Settings = NnOptions;

    fn check(options: &NnOptions) -> Result<()> {
        options.settings().map(|_| ())
    }

    /// Trains on every row (no validation data: `patience` then has nothing to watch and
    /// every epoch runs; the emulator stage early-stops on its split).
    fn fit_checked(x: ArrayView2<f64>, y: ArrayView2<f64>, options: &NnOptions) -> Result<Network> {
        Network::train(x, y, None, &options.settings()?)
    }
}

impl Emulator for Network {
    fn method(&self) -> String {
        "nn".into()
    }
    fn inputs(&self) -> usize {
        self.x_mean.len()
    }
    fn outputs(&self) -> usize {
        self.y_mean.len()
    }
    /// Mean, and the residual variance of validation (or training) as the variance.
    fn predict(&self, x: ArrayView2<f64>) -> Result<Prediction> {
        let mean = Network::predict_mean(self, x)?;
        let variance = Array2::from_shape_fn(mean.dim(), |(_, j)| self.residual_variance[j]);
        Ok(Prediction { mean, variance })
    }
    fn predict_mean(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        Network::predict_mean(self, x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::s;

    /// Gradient buffers: kernels and biases, one per layer.
    type Grads<'a> = (&'a mut [Array2<f64>], &'a mut [Array1<f64>]);

    /// The loss of (`x`, `y`) and, if asked, its gradients, through the training buffers.
    fn loss_and_grad(
        weights: &[Array2<f64>],
        biases: &[Array1<f64>],
        acts: &[Activation],
        l2: f64,
        x: Array2<f64>,
        y: ArrayView2<f64>,
        grads: Option<Grads>,
    ) -> f64 {
        let mut sizes = vec![x.ncols()];
        sizes.extend(biases.iter().map(|b| b.len()));
        let mut w = Work::new(&sizes, x.nrows(), grads.is_some());
        let y = y.to_owned();
        for r in 0..x.nrows() {
            w.set_row(r, &x, &y, r);
        }
        let loss = w.loss(weights, biases, acts, l2, x.nrows(), grads.is_some());
        if let Some((gw, gb)) = grads {
            gw.clone_from_slice(&w.gw);
            gb.clone_from_slice(&w.gb);
        }
        loss
    }

    fn rand_matrix(n: usize, k: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((n, k), |_| rng.gen_range(0.0..1.0))
    }

    /// Analytic gradients against central differences of the loss, every weight and bias.
    fn check_gradients(acts: Vec<Activation>, l2: f64) {
        let sizes = [4, 5, 3, 2];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (ws, bs) = initial(&sizes, &mut rng);
        let bs: Vec<Array1<f64>> = bs
            .into_iter()
            .map(|b| b.mapv(|_| rng.gen_range(-0.5..0.5)))
            .collect();
        let x = rand_matrix(7, 4, 1) * 2.0 - 1.0;
        let y = rand_matrix(7, 2, 2);
        let mut gw: Vec<Array2<f64>> = ws.iter().map(|w| Array2::zeros(w.raw_dim())).collect();
        let mut gb: Vec<Array1<f64>> = bs.iter().map(|b| Array1::zeros(b.raw_dim())).collect();
        loss_and_grad(
            &ws,
            &bs,
            &acts,
            l2,
            x.clone(),
            y.view(),
            Some((&mut gw, &mut gb)),
        );
        let h = 1e-6;
        let f = |ws: &[Array2<f64>], bs: &[Array1<f64>]| {
            loss_and_grad(ws, bs, &acts, l2, x.clone(), y.view(), None)
        };
        let mut worst = 0.0f64;
        for l in 0..ws.len() {
            for idx in 0..ws[l].len() {
                let (i, j) = (idx / ws[l].ncols(), idx % ws[l].ncols());
                let mut wp = ws.clone();
                wp[l][[i, j]] += h;
                let mut wm = ws.clone();
                wm[l][[i, j]] -= h;
                let fd = (f(&wp, &bs) - f(&wm, &bs)) / (2.0 * h);
                let rel = (fd - gw[l][[i, j]]).abs() / fd.abs().max(gw[l][[i, j]].abs()).max(1e-8);
                worst = worst.max(rel);
            }
            for i in 0..bs[l].len() {
                let mut bp = bs.to_vec();
                bp[l][i] += h;
                let mut bm = bs.to_vec();
                bm[l][i] -= h;
                let fd = (f(&ws, &bp) - f(&ws, &bm)) / (2.0 * h);
                let rel = (fd - gb[l][i]).abs() / fd.abs().max(gb[l][i].abs()).max(1e-8);
                worst = worst.max(rel);
            }
        }
        assert!(
            worst < 1e-6,
            "{acts:?}: worst relative gradient error {worst:e}"
        );
    }

    /// The vectorised tanh against the standard library's: within 4e-16 relative on a
    /// dense grid over [-25, 25] and at tiny, huge and special values; the slice version
    /// (vector units where present) gives the same bits as the scalar one.
    #[test]
    fn fast_tanh_matches_the_standard_library() {
        let mut xs: Vec<f64> = (0..=400_000).map(|i| -25.0 + i as f64 / 8000.0).collect();
        xs.extend((0..2000).flat_map(|i| {
            let x = 10f64.powf(-300.0 + i as f64 * 0.15);
            [x, -x]
        }));
        xs.extend([
            0.0,
            -0.0,
            0.625,
            -0.625,
            19.5,
            1e308,
            -1e308,
            f64::INFINITY,
            -f64::INFINITY,
        ]);
        let mut worst = (0.0f64, 0.0);
        for &x in &xs {
            let (a, b) = (tanh_fast(x), x.tanh());
            let rel = if b == 0.0 {
                a.abs()
            } else {
                ((a - b) / b).abs()
            };
            if rel > worst.0 {
                worst = (rel, x);
            }
        }
        assert!(
            worst.0 <= 4e-16,
            "relative error {:e} at x = {}",
            worst.0,
            worst.1
        );
        assert!(tanh_fast(f64::NAN).is_nan());
        assert_eq!(tanh_fast(-0.0).to_bits(), (-0.0f64).to_bits());
        let mut a = vec![0.0; xs.len()];
        tanh_into(&xs, &mut a);
        assert!(a
            .iter()
            .zip(&xs)
            .all(|(&t, &x)| t.to_bits() == tanh_fast(x).to_bits()));
        // exp on [0, 40] too
        for i in 0..=40_000 {
            let y = i as f64 / 1000.0;
            let (a, b) = (exp_small_positive(y), y.exp());
            assert!(((a - b) / b).abs() < 4e-16, "exp({y}) = {a} vs {b}");
        }
    }

    #[test]
    fn gradients_equal_finite_differences() {
        use Activation::*;
        check_gradients(vec![Tanh, Sigmoid, Linear], 1e-3);
        check_gradients(vec![Relu, Tanh, Linear], 0.0);
        check_gradients(vec![Sigmoid, Relu, Tanh], 0.1);
    }

    /// A smooth function of 6 inputs: fitted to held-out r^2 > 0.99.
    #[test]
    fn fits_a_smooth_six_input_function() {
        let f = |r: ndarray::ArrayView1<f64>| {
            (
                (2.0 * r[0]).sin() + r[1] * r[2] + (-r[3]).exp() + 0.5 * r[4] * r[4] - r[5],
                r[0] - 2.0 * r[3] * r[5] + (3.0 * r[2]).cos(),
            )
        };
        let mk = |n, seed| {
            let x = rand_matrix(n, 6, seed);
            let y = Array2::from_shape_fn((n, 2), |(i, j)| {
                let (a, b) = f(x.row(i));
                if j == 0 {
                    a
                } else {
                    b
                }
            });
            (x, y)
        };
        let (x, y) = mk(300, 10);
        let (vx, vy) = mk(100, 11);
        let (tx, ty) = mk(200, 12);
        let s = NnSettings {
            hidden: vec![20, 20],
            activations: vec![Activation::Tanh, Activation::Tanh, Activation::Linear],
            l2: 0.0,
            optimizer: Optimizer::Adam {
                lr: 0.01,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-7,
            },
            batch_size: 32,
            epochs: 1500,
            patience: Some(100),
            seed: 5,
            ..NnSettings::default()
        };
        let net = Network::train(x.view(), y.view(), Some((vx.view(), vy.view())), &s).unwrap();
        let r2 = crate::metrics::r2_score_columns(
            ty.view(),
            net.predict_mean(tx.view()).unwrap().view(),
        )
        .unwrap();
        assert!(
            r2.iter().all(|&r| r > 0.99),
            "held-out r^2 {r2} after {} epochs",
            net.history.loss.len()
        );
    }

    #[test]
    fn same_seed_same_weights_whatever_the_threads_and_json_round_trip() {
        let x = rand_matrix(60, 6, 1);
        let y = Array2::from_shape_fn((60, 3), |(i, j)| x[[i, j]] * x[[i, j + 1]] + 0.1 * j as f64);
        let s = NnSettings {
            epochs: 50,
            patience: None,
            seed: 9,
            ..NnSettings::default()
        };
        let a = Network::train(x.view(), y.view(), None, &s).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| Network::train(x.view(), y.view(), None, &s).unwrap());
        assert_eq!(a, b);
        let c = Network::train(
            x.view(),
            y.view(),
            None,
            &NnSettings {
                seed: 10,
                ..s.clone()
            },
        )
        .unwrap();
        assert_ne!(a.weights, c.weights);
        let text = serde_json::to_string(&a).unwrap();
        let back: Network = serde_json::from_str(&text).unwrap();
        assert_eq!(back, a);
        // prediction in parallel chunks equals one chunk, bit for bit
        let big = rand_matrix(10_000, 6, 4);
        let p = a.predict_mean(big.view()).unwrap();
        let q = a.predict_mean(big.slice(s![..4000, ..])).unwrap();
        assert_eq!(p.slice(s![..4000, ..]), q);
    }

    #[test]
    fn early_stopping_restores_the_best_epoch() {
        let x = rand_matrix(40, 3, 1);
        let y = rand_matrix(40, 1, 2); // noise: validation loss soon rises
        let (vx, vy) = (rand_matrix(20, 3, 3), rand_matrix(20, 1, 4));
        let s = NnSettings {
            hidden: vec![30, 30],
            epochs: 2000,
            patience: Some(10),
            l2: 0.0,
            seed: 1,
            ..NnSettings::default()
        };
        let net = Network::train(x.view(), y.view(), Some((vx.view(), vy.view())), &s).unwrap();
        let h = &net.history;
        assert!(h.loss.len() < 2000, "stopped early");
        assert_eq!(
            h.loss.len(),
            h.best_epoch + 10,
            "stops `patience` epochs after the best"
        );
        let best = h.val_loss.iter().cloned().fold(f64::INFINITY, f64::min);
        assert_eq!(h.val_loss[h.best_epoch - 1], best);
        // the restored weights give the best validation loss again
        let xs = (&vx - &net.x_mean) / &net.x_scale;
        let ys = (&vy - &net.y_mean) / &net.y_scale;
        let vl = loss_and_grad(
            &net.weights,
            &net.biases,
            &s.activations,
            0.0,
            xs,
            ys.view(),
            None,
        );
        assert!((vl - best).abs() < 1e-12, "{vl} vs {best}");
    }

    #[test]
    fn bad_settings_are_refused_before_training() {
        let x = rand_matrix(10, 2, 1);
        let y = rand_matrix(10, 1, 2);
        for (s, want) in [
            (
                NnSettings {
                    activations: vec![Activation::Relu],
                    ..NnSettings::default()
                },
                "activations",
            ),
            (
                NnSettings {
                    batch_size: 0,
                    ..NnSettings::default()
                },
                "batch_size",
            ),
            (
                NnSettings {
                    l2: f64::NAN,
                    ..NnSettings::default()
                },
                "l2",
            ),
            (
                NnSettings {
                    optimizer: Optimizer::Sgd {
                        lr: -1.0,
                        momentum: 0.0,
                    },
                    ..NnSettings::default()
                },
                "learning rate",
            ),
        ] {
            let e = Network::train(x.view(), y.view(), None, &s)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
