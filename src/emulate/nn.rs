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

use super::{check_inputs, check_training, Emulator, Prediction};
use anyhow::{bail, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};
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
            _ => bail!("unknown activation '{s}': use relu, tanh, sigmoid or linear"),
        })
    }
}

impl Activation {
    fn apply(self, x: f64) -> f64 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Linear => x,
        }
    }
    /// The derivative, from the activation's output `y` (and input `x` for relu).
    fn derivative(self, x: f64, y: f64) -> f64 {
        match self {
            Activation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Tanh => 1.0 - y * y,
            Activation::Sigmoid => y * (1.0 - y),
            Activation::Linear => 1.0,
        }
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

fn mean_scale(a: ArrayView2<f64>) -> (Array1<f64>, Array1<f64>) {
    let m = a.mean_axis(Axis(0)).expect("rows");
    let sd = a
        .std_axis(Axis(0), 0.0)
        .mapv(|s| if s > 0.0 && s.is_finite() { s } else { 1.0 });
    (m, sd)
}

/// Forward pass of one batch: the activations of every layer (the input first).
fn forward(
    weights: &[Array2<f64>],
    biases: &[Array1<f64>],
    acts: &[Activation],
    x: Array2<f64>,
) -> (Vec<Array2<f64>>, Vec<Array2<f64>>) {
    let mut pre = Vec::with_capacity(weights.len());
    let mut out = Vec::with_capacity(weights.len() + 1);
    out.push(x);
    for ((w, b), &act) in weights.iter().zip(biases).zip(acts) {
        let z = out.last().expect("input").dot(w) + b;
        let a = z.mapv(|v| act.apply(v));
        pre.push(z);
        out.push(a);
    }
    (pre, out)
}

/// Gradient buffers: kernels and biases, one per layer.
type Grads<'a> = (&'a mut [Array2<f64>], &'a mut [Array1<f64>]);

/// Loss (MSE over rows and outputs plus `l2 * sum W^2`) and, if asked, its gradients.
fn loss_and_grad(
    weights: &[Array2<f64>],
    biases: &[Array1<f64>],
    acts: &[Activation],
    l2: f64,
    x: Array2<f64>,
    y: ArrayView2<f64>,
    grads: Option<Grads>,
) -> f64 {
    let (pre, out) = forward(weights, biases, acts, x);
    let pred = out.last().expect("output");
    let diff = pred - &y;
    let n = diff.len() as f64;
    let penalty: f64 = weights
        .iter()
        .map(|w| w.iter().map(|v| v * v).sum::<f64>())
        .sum();
    let loss = diff.iter().map(|d| d * d).sum::<f64>() / n + l2 * penalty;
    if let Some((gw, gb)) = grads {
        let mut delta = diff * (2.0 / n);
        for l in (0..weights.len()).rev() {
            let act = acts[l];
            ndarray::Zip::from(&mut delta)
                .and(&pre[l])
                .and(&out[l + 1])
                .for_each(|d, &z, &a| *d *= act.derivative(z, a));
            gw[l] = out[l].t().dot(&delta) + &(&weights[l] * (2.0 * l2));
            gb[l] = delta.sum_axis(Axis(0));
            if l > 0 {
                delta = delta.dot(&weights[l].t());
            }
        }
    }
    loss
}

/// Optimiser state for one parameter tensor (flattened view).
struct Slot {
    a: Vec<f64>,
    b: Vec<f64>,
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
    pub fn fit(
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
        let mut gw: Vec<Array2<f64>> = ws.iter().map(|w| Array2::zeros(w.raw_dim())).collect();
        let mut gb: Vec<Array1<f64>> = bs.iter().map(|b| Array1::zeros(b.raw_dim())).collect();
        let mut slots_w: Vec<Slot> = ws
            .iter()
            .map(|w| Slot {
                a: vec![0.0; w.len()],
                b: vec![0.0; w.len()],
            })
            .collect();
        let mut slots_b: Vec<Slot> = bs
            .iter()
            .map(|b| Slot {
                a: vec![0.0; b.len()],
                b: vec![0.0; b.len()],
            })
            .collect();

        let n = xs.nrows();
        let mut order: Vec<usize> = (0..n).collect();
        let mut history = History::default();
        let mut best = (f64::INFINITY, ws.clone(), bs.clone(), 0usize);
        let mut wait = 0usize;
        let mut t = 0u64;
        for epoch in 1..=settings.epochs {
            order.shuffle(&mut rng);
            let mut sum = 0.0;
            let mut batches = 0usize;
            for chunk in order.chunks(settings.batch_size) {
                let bx = xs.select(Axis(0), chunk);
                let by = ys.select(Axis(0), chunk);
                sum += loss_and_grad(
                    &ws,
                    &bs,
                    acts,
                    settings.l2,
                    bx,
                    by.view(),
                    Some((&mut gw, &mut gb)),
                );
                batches += 1;
                t += 1;
                for l in 0..ws.len() {
                    let g = gw[l].as_standard_layout();
                    let w = ws[l].as_slice_mut().expect("standard layout");
                    step(
                        &settings.optimizer,
                        t,
                        w,
                        g.as_slice().expect("standard"),
                        &mut slots_w[l],
                    );
                    let g = gb[l].to_vec();
                    let b = bs[l].as_slice_mut().expect("contiguous");
                    step(&settings.optimizer, t, b, &g, &mut slots_b[l]);
                }
            }
            let train_loss = sum / batches as f64;
            if !train_loss.is_finite() {
                bail!(
                    "training diverged at epoch {epoch} (loss {train_loss}): lower the learning rate"
                );
            }
            history.loss.push(train_loss);
            match &vs {
                Some((vx, vy)) => {
                    let vl =
                        loss_and_grad(&ws, &bs, acts, settings.l2, vx.clone(), vy.view(), None);
                    history.val_loss.push(vl);
                    if vl < best.0 - settings.min_delta {
                        best = (vl, ws.clone(), bs.clone(), epoch);
                        wait = 0;
                    } else {
                        wait += 1;
                        if settings.patience.is_some_and(|p| wait >= p) {
                            break;
                        }
                    }
                }
                None => best.3 = epoch,
            }
        }
        if vs.is_some() && settings.restore_best && best.3 > 0 {
            ws = best.1;
            bs = best.2;
            history.best_epoch = best.3;
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

    /// The predicted means only, for each row of `x`.
    pub fn predict_mean(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        check_inputs(x, self.x_mean.len())?;
        let mut out = Array2::zeros((x.nrows(), self.y_mean.len()));
        const CHUNK: usize = 16_384;
        // forward pass without keeping the layers (in place where it can be)
        let run = |xc: ArrayView2<f64>, mut oc: ndarray::ArrayViewMut2<f64>| {
            let mut a = (&xc - &self.x_mean) / &self.x_scale;
            for ((w, b), &act) in self
                .weights
                .iter()
                .zip(&self.biases)
                .zip(&self.settings.activations)
            {
                let mut z = a.dot(w);
                z += b;
                if act != Activation::Linear {
                    z.mapv_inplace(|v| act.apply(v));
                }
                a = z;
            }
            a *= &self.y_scale;
            a += &self.y_mean;
            oc.assign(&a);
        };
        if x.nrows() <= CHUNK {
            run(x, out.view_mut());
        } else {
            use rayon::prelude::*;
            let xs: Vec<ArrayView2<f64>> = x.axis_chunks_iter(Axis(0), CHUNK).collect();
            let outs: Vec<ndarray::ArrayViewMut2<f64>> =
                out.axis_chunks_iter_mut(Axis(0), CHUNK).collect();
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
        let mean = self.predict_mean(x)?;
        let variance = Array2::from_shape_fn(mean.dim(), |(_, j)| self.residual_variance[j]);
        Ok(Prediction { mean, variance })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::s;

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
        let net = Network::fit(x.view(), y.view(), Some((vx.view(), vy.view())), &s).unwrap();
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
        let a = Network::fit(x.view(), y.view(), None, &s).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| Network::fit(x.view(), y.view(), None, &s).unwrap());
        assert_eq!(a, b);
        let c = Network::fit(
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
        let net = Network::fit(x.view(), y.view(), Some((vx.view(), vy.view())), &s).unwrap();
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
            let e = Network::fit(x.view(), y.view(), None, &s)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
