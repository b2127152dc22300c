//! Costs of candidate scalings (Dagon et al. 2020, Eq. 6 and its variants): emulated PCs of
//! each calibration variable compared with the observed projections.
//!
//! `z[v, m] = (Uhat[v, m](p) - Uobs[v, m]) / sigma[v, m]`, and per candidate
//! - `eq6`: `sum_v w_v sum_m lambda[v, m] z^2` (the paper's Eq. 6, w = 1),
//! - `unweighted`: `sum_v w_v sum_m z^2` (the paper's alternate cost),
//! - `rmse`: `sqrt(sum_v w_v sum_m z^2)` (the authors' other form; with `w_LHF = 1.49` it is
//!   `sqrt(sum_GPP z^2 + B sum_LHF z^2)`),
//! - `chi2`: `sum_v w_v sum_m (Uhat - Uobs)^2 / (sigma^2 + emulator variance + discrepancy_v)`,
//!   the misfit in units of every uncertainty there is (the denominator of history matching's
//!   implausibility): at the truth its expected value is about the number of modes, where
//!   Eq. 6 fits the emulator's noise (an optimum "better" than the truth's cost).

use super::{check_batch, Objective};
use crate::emulate::Emulator;
use anyhow::{bail, Context, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use std::sync::Arc;

/// What one calibration variable's PCs are compared with (the EOF stage's `targets.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Calibration variable (e.g. `GPP`).
    pub variable: String,
    /// Observed projection U_obs per mode (Eq. 5).
    pub observed: Array1<f64>,
    /// Standard deviation of the single observed years' projections per mode.
    pub sigma: Array1<f64>,
    /// Fraction of variance of each mode (lambda in Eq. 6).
    pub lambda: Array1<f64>,
    /// The default run's projection per mode.
    pub default: Array1<f64>,
}

impl Target {
    /// Number of modes.
    pub fn modes(&self) -> usize {
        self.observed.len()
    }

    /// Checks lengths and values: finite observations, sigma > 0, lambda >= 0.
    pub fn check(&self) -> Result<()> {
        let m = self.observed.len();
        let v = &self.variable;
        if m == 0 {
            bail!("target {v}: no modes");
        }
        for (what, a) in [
            ("sigma", &self.sigma),
            ("lambda", &self.lambda),
            ("default", &self.default),
        ] {
            if a.len() != m {
                bail!(
                    "target {v}: {what} has {} modes but observed has {m}",
                    a.len()
                );
            }
        }
        for (k, ((o, s), l)) in self
            .observed
            .iter()
            .zip(&self.sigma)
            .zip(&self.lambda)
            .enumerate()
        {
            if !o.is_finite() {
                bail!("target {v}: observed PC{} is {o}", k + 1);
            }
            if !(s.is_finite() && *s > 0.0) {
                bail!(
                    "target {v}: sigma of PC{} is {s}; the cost divides by it (a positive number is needed)",
                    k + 1
                );
            }
            if !(l.is_finite() && *l >= 0.0) {
                bail!("target {v}: lambda of PC{} is {l}", k + 1);
            }
        }
        Ok(())
    }
}

/// The built-in forms of the cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Eq. 6: lambda-weighted sum of squared normalised distances.
    Eq6,
    /// Eq. 6 without lambda.
    Unweighted,
    /// Square root of the unweighted sum (the authors' RMSE form).
    Rmse,
    /// Unweighted sum over modes of squared distances divided by sigma^2 plus the emulator's
    /// variance plus the model discrepancy: the error-aware misfit.
    Chi2,
    /// `chi2` plus `sum ln(1 + (emulator variance + discrepancy) / sigma^2)`: -2 times the
    /// Gaussian log-likelihood (relative to an exact emulator), whose minimum is the
    /// maximum-likelihood point. `chi2` alone rewards the emulator's uncertainty (its
    /// denominator grows where the emulator is unsure): on the demo twin its optimum on the
    /// Gaussian process put kmax at 1.0 (truth 0.55), this form's at 0.46.
    Nll,
}

impl Form {
    /// The form named `eq6`, `unweighted` or `rmse`.
    pub fn parse(name: &str) -> Result<Form> {
        Ok(match name {
            "eq6" => Form::Eq6,
            "unweighted" => Form::Unweighted,
            "rmse" => Form::Rmse,
            "chi2" => Form::Chi2,
            "nll" => Form::Nll,
            _ => bail!(
                "unknown cost form {name:?}: use \"nll\", \"chi2\", \"eq6\", \"unweighted\" or \"rmse\""
            ),
        })
    }

    /// The form's name.
    pub fn name(&self) -> &'static str {
        match self {
            Form::Eq6 => "eq6",
            Form::Unweighted => "unweighted",
            Form::Rmse => "rmse",
            Form::Chi2 => "chi2",
            Form::Nll => "nll",
        }
    }

    /// Whether the form divides by the emulator's variance (so candidates need it).
    pub fn uses_variance(&self) -> bool {
        matches!(self, Form::Chi2 | Form::Nll)
    }
}

/// One calibration variable in a cost: its emulator, its target and its weight.
#[derive(Clone)]
pub struct Term {
    /// Emulator of the variable's PCs.
    pub emulator: Arc<dyn Emulator>,
    /// Observed projections, sigma, lambda.
    pub target: Target,
    /// Weight of the variable's sum (1 in Eq. 6).
    pub weight: f64,
}

/// Emulated PCs of a batch of candidates, one entry per variable (in the cost's order).
#[derive(Debug, Clone)]
pub struct Emulated {
    /// Predictive means, candidates x modes.
    pub mean: Vec<Array2<f64>>,
    /// Predictive variances, candidates x modes.
    pub variance: Vec<Array2<f64>>,
}

/// A cost over candidate scalings: emulators, targets, weights and a built-in form.
#[derive(Clone)]
pub struct Cost {
    terms: Vec<Term>,
    form: Form,
    dim: usize,
    discrepancy: Vec<f64>,
}

impl Cost {
    /// A cost from its terms (at least one); checks that every emulator takes the same
    /// parameters and predicts as many modes as its target has.
    pub fn new(terms: Vec<Term>, form: Form) -> Result<Cost> {
        let Some(first) = terms.first() else {
            bail!("a cost needs at least one variable (emulator and target)");
        };
        let dim = first.emulator.inputs();
        for t in &terms {
            let v = &t.target.variable;
            t.target.check()?;
            if t.emulator.inputs() != dim {
                bail!(
                    "the emulator of {v} takes {} parameters, the one of {} takes {dim}",
                    t.emulator.inputs(),
                    first.target.variable
                );
            }
            if t.emulator.outputs() != t.target.modes() {
                bail!(
                    "the emulator of {v} predicts {} modes but its target has {}",
                    t.emulator.outputs(),
                    t.target.modes()
                );
            }
            if !(t.weight.is_finite() && t.weight >= 0.0) {
                bail!("the weight of {v} is {}: use a number >= 0", t.weight);
            }
        }
        let discrepancy = vec![0.0; terms.len()];
        Ok(Cost {
            terms,
            form,
            dim,
            discrepancy,
        })
    }

    /// The cost with a model-discrepancy variance per variable (in the cost's order, squared
    /// PC units, each >= 0), added to sigma^2 in the `chi2` form and in the likelihood.
    pub fn with_discrepancy(mut self, discrepancy: Vec<f64>) -> Result<Cost> {
        if discrepancy.len() != self.terms.len() {
            bail!(
                "{} discrepancy variances for {} variables",
                discrepancy.len(),
                self.terms.len()
            );
        }
        for (d, t) in discrepancy.iter().zip(&self.terms) {
            if !(d.is_finite() && *d >= 0.0) {
                bail!(
                    "discrepancy variance of {} is {d}: use a number >= 0",
                    t.target.variable
                );
            }
        }
        self.discrepancy = discrepancy;
        Ok(self)
    }

    /// The model-discrepancy variance of each variable (in the cost's order; zeros unless
    /// [`Cost::with_discrepancy`] set them).
    pub fn discrepancy(&self) -> &[f64] {
        &self.discrepancy
    }

    /// The terms, in order.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// The built-in form.
    pub fn form(&self) -> Form {
        self.form
    }

    /// The variables, in order.
    pub fn variables(&self) -> Vec<String> {
        self.terms
            .iter()
            .map(|t| t.target.variable.clone())
            .collect()
    }

    /// Emulated PCs (mean and variance) of every variable for a batch of candidates.
    pub fn emulate(&self, x: ArrayView2<f64>) -> Result<Emulated> {
        check_batch(x, self.dim)?;
        let mut mean = Vec::with_capacity(self.terms.len());
        let mut variance = Vec::with_capacity(self.terms.len());
        for t in &self.terms {
            let p = t
                .emulator
                .predict(x)
                .with_context(|| format!("emulating {}", t.target.variable))?;
            mean.push(p.mean);
            variance.push(p.variance);
        }
        Ok(Emulated { mean, variance })
    }

    /// The cost of PCs given per variable (candidates x modes each, in the cost's order),
    /// taken as exact (emulator variance 0 in the `chi2` form).
    pub fn of_pcs(&self, pcs: &[ArrayView2<f64>]) -> Result<Array1<f64>> {
        self.of_parts(pcs, None)
    }

    /// The cost of emulated PCs, their variances included where the form uses them.
    pub fn of_emulated(&self, em: &Emulated) -> Result<Array1<f64>> {
        let means: Vec<ArrayView2<f64>> = em.mean.iter().map(|m| m.view()).collect();
        let vars: Vec<ArrayView2<f64>> = em.variance.iter().map(|m| m.view()).collect();
        self.of_parts(&means, Some(&vars))
    }

    fn of_parts(
        &self,
        pcs: &[ArrayView2<f64>],
        variances: Option<&[ArrayView2<f64>]>,
    ) -> Result<Array1<f64>> {
        if pcs.len() != self.terms.len() {
            bail!(
                "{} variables of PCs given, the cost has {}",
                pcs.len(),
                self.terms.len()
            );
        }
        let n = pcs[0].nrows();
        let mut out = Array1::<f64>::zeros(n);
        for (v, (t, p)) in self.terms.iter().zip(pcs).enumerate() {
            if p.nrows() != n || p.ncols() != t.target.modes() {
                bail!(
                    "PCs of {} are {} x {}, expected {n} x {}",
                    t.target.variable,
                    p.nrows(),
                    p.ncols(),
                    t.target.modes()
                );
            }
            let tg = &t.target;
            if self.form.uses_variance() {
                let var = variances.map(|vs| vs[v]);
                let d2 = self.discrepancy[v];
                let nll = self.form == Form::Nll;
                for (i, (row, o)) in p.rows().into_iter().zip(out.iter_mut()).enumerate() {
                    let mut s = 0.0;
                    for m in 0..row.len() {
                        let ve = var.map_or(0.0, |a| a[[i, m]].max(0.0));
                        let d = row[m] - tg.observed[m];
                        let s2 = tg.sigma[m] * tg.sigma[m];
                        s += d * d / (s2 + ve + d2);
                        if nll {
                            s += ((ve + d2) / s2).ln_1p();
                        }
                    }
                    *o += t.weight * s;
                }
                continue;
            }
            let lambda = match self.form {
                Form::Eq6 => tg.lambda.clone(),
                _ => Array1::ones(tg.modes()),
            };
            for (row, o) in p.rows().into_iter().zip(out.iter_mut()) {
                *o += t.weight * weighted_z2(row, &tg.observed, &tg.sigma, &lambda);
            }
        }
        if self.form == Form::Rmse {
            out.mapv_inplace(f64::sqrt);
        }
        Ok(out)
    }

    /// The cost of the default run, from its projections (not emulated).
    pub fn default_cost(&self) -> Result<f64> {
        let rows: Vec<Array2<f64>> = self
            .terms
            .iter()
            .map(|t| t.target.default.clone().insert_axis(ndarray::Axis(0)))
            .collect();
        let views: Vec<ArrayView2<f64>> = rows.iter().map(|r| r.view()).collect();
        Ok(self.of_pcs(&views)?[0])
    }

    /// Gaussian log-likelihood of each candidate (up to a constant): with
    /// `s2 = sigma^2 + emulator variance + discrepancy`, `-1/2 sum_v w_v sum_m c_m ((Uhat -
    /// Uobs)^2 / s2 + ln s2)`, where c_m is lambda for the `eq6` form and 1 otherwise.
    pub fn log_likelihood(&self, em: &Emulated) -> Array1<f64> {
        let n = em.mean.first().map_or(0, |m| m.nrows());
        let mut out = Array1::<f64>::zeros(n);
        for (((t, mean), var), &d2) in self
            .terms
            .iter()
            .zip(&em.mean)
            .zip(&em.variance)
            .zip(&self.discrepancy)
        {
            let tg = &t.target;
            for i in 0..n {
                let mut s = 0.0;
                for m in 0..tg.modes() {
                    let c = if self.form == Form::Eq6 {
                        tg.lambda[m]
                    } else {
                        1.0
                    };
                    let s2 = tg.sigma[m] * tg.sigma[m] + var[[i, m]].max(0.0) + d2;
                    let d = mean[[i, m]] - tg.observed[m];
                    s += c * (d * d / s2 + s2.ln());
                }
                out[i] -= 0.5 * t.weight * s;
            }
        }
        out
    }
}

fn weighted_z2(
    row: ArrayView1<f64>,
    obs: &Array1<f64>,
    sigma: &Array1<f64>,
    lambda: &Array1<f64>,
) -> f64 {
    let mut s = 0.0;
    for m in 0..row.len() {
        let z = (row[m] - obs[m]) / sigma[m];
        s += lambda[m] * z * z;
    }
    s
}

/// Candidates evaluated between two looks at the interrupt flag (a cost is row by row, so
/// the batches change nothing but how soon Ctrl-C is seen).
const INTERRUPT_BATCH: usize = 8192;

impl Objective for Cost {
    fn dim(&self) -> usize {
        self.dim
    }
    fn cost(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        // every optimiser, history match and sampler evaluates through here: Ctrl-C in the
        // REPL stops them at the next batch of at most INTERRUPT_BATCH candidates
        crate::interrupt::check()?;
        if x.nrows() > INTERRUPT_BATCH {
            let mut out = Vec::with_capacity(x.nrows());
            for rows in x.axis_chunks_iter(ndarray::Axis(0), INTERRUPT_BATCH) {
                out.extend(self.cost(rows)?);
            }
            return Ok(Array1::from(out));
        }
        check_batch(x, self.dim)?;
        if self.form.uses_variance() {
            return self.of_emulated(&self.emulate(x)?);
        }
        let mut means = Vec::with_capacity(self.terms.len());
        for t in &self.terms {
            means.push(
                t.emulator
                    .predict_mean(x)
                    .with_context(|| format!("emulating {}", t.target.variable))?,
            );
        }
        let views: Vec<ArrayView2<f64>> = means.iter().map(|m| m.view()).collect();
        self.of_pcs(&views)
    }
}

/// The format tag of `calibrate/cost.json`.
pub const COST_FORMAT: &str = "clmtune cost 1";

/// One variable's target as `cost.json` records it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TargetRecord {
    /// Observed projection per mode.
    pub observed: Vec<f64>,
    /// Observational standard deviation per mode.
    pub sigma: Vec<f64>,
    /// Variance fraction per mode.
    pub lambda: Vec<f64>,
    /// The default run's projection per mode.
    pub default_run: Vec<f64>,
}

/// A script's cost closure as `cost.json` records it: where it was written and its text.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClosureRecord {
    /// The script that defined it (as the run named it).
    pub script: String,
    /// Its first and last line in that script.
    pub lines: [usize; 2],
    /// Those lines' text.
    pub source: String,
    /// SHA-256 of `source`.
    pub sha256: String,
}

/// What `calibrate/cost.json` holds (06 writes it, 07, 08 and the demo's summary read it):
/// the cost's form, weights, discrepancy and emulator per variable, the targets it compares
/// with, fingerprints of the emulators, and the script closure if the cost is one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CostRecord {
    /// [`COST_FORMAT`].
    pub format: String,
    /// The built-in form (`nll`, `eq6`, ...), also under a closure (its `pcs`).
    pub form: String,
    /// The calibration variables, in the cost's order.
    pub variables: Vec<String>,
    /// The parameters (emulator inputs), in order.
    pub parameters: Vec<String>,
    /// Emulator name per variable.
    pub emulators: std::collections::BTreeMap<String, String>,
    /// SHA-256 of each variable's emulator as saved (its JSON).
    pub emulator_sha256: std::collections::BTreeMap<String, String>,
    /// Weight per variable.
    pub weights: std::collections::BTreeMap<String, f64>,
    /// Model-discrepancy variance per variable (squared PC units).
    pub discrepancy: std::collections::BTreeMap<String, f64>,
    /// The targets per variable.
    pub targets: std::collections::BTreeMap<String, TargetRecord>,
    /// The script's closure, when the cost is one.
    pub closure: Option<ClosureRecord>,
    /// The cost of the default run (`null` when not finite).
    pub default_cost: Option<f64>,
    /// The clmtune version that wrote it.
    pub clmtune: String,
}

impl CostRecord {
    /// The record of `cost` (closure and default cost left for the caller), with each
    /// variable's emulator name and the SHA-256 of its saved JSON.
    pub fn of(cost: &Cost, parameters: &[String], emulators: &[(String, String)]) -> CostRecord {
        let vars = cost.variables();
        let by_var = |f: &dyn Fn(usize) -> f64| -> std::collections::BTreeMap<String, f64> {
            vars.iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), f(i)))
                .collect()
        };
        CostRecord {
            format: COST_FORMAT.into(),
            form: cost.form().name().into(),
            variables: vars.clone(),
            parameters: parameters.to_vec(),
            emulators: vars
                .iter()
                .cloned()
                .zip(emulators.iter().map(|e| e.0.clone()))
                .collect(),
            emulator_sha256: vars
                .iter()
                .cloned()
                .zip(emulators.iter().map(|e| e.1.clone()))
                .collect(),
            weights: by_var(&|i| cost.terms()[i].weight),
            discrepancy: by_var(&|i| cost.discrepancy()[i]),
            targets: cost
                .terms()
                .iter()
                .map(|t| {
                    let g = &t.target;
                    (
                        g.variable.clone(),
                        TargetRecord {
                            observed: g.observed.to_vec(),
                            sigma: g.sigma.to_vec(),
                            lambda: g.lambda.to_vec(),
                            default_run: g.default.to_vec(),
                        },
                    )
                })
                .collect(),
            closure: None,
            default_cost: None,
            clmtune: env!("CARGO_PKG_VERSION").into(),
        }
    }

    /// How `now` (the record of the cost rebuilt from today's stage files) differs from this
    /// saved record, in words; empty when it does not (closure and default cost aside).
    pub fn differences(&self, now: &CostRecord) -> Vec<String> {
        let mut d = Vec::new();
        if self.variables != now.variables {
            d.push(format!(
                "the variables were {} and are now {}",
                self.variables.join(", "),
                now.variables.join(", ")
            ));
            return d;
        }
        if self.parameters != now.parameters {
            d.push(format!(
                "the parameters were {} and are now {}",
                self.parameters.join(", "),
                now.parameters.join(", ")
            ));
        }
        for v in &self.variables {
            let (e0, e1) = (&self.emulators[v], &now.emulators[v]);
            if e0 != e1 {
                d.push(format!("{v}'s emulator was {e0} and is now {e1}"));
            } else if self.emulator_sha256[v] != now.emulator_sha256[v] {
                d.push(format!(
                    "the {e0} emulator of {v} is not the one 06 used (04 refitted it since: SHA-256 {} then, {} now)",
                    short(&self.emulator_sha256[v]),
                    short(&now.emulator_sha256[v])
                ));
            }
            let (t0, t1) = (&self.targets[v], &now.targets[v]);
            for (what, a, b) in [
                ("observed", &t0.observed, &t1.observed),
                ("sigma", &t0.sigma, &t1.sigma),
                ("lambda", &t0.lambda, &t1.lambda),
                ("default_run", &t0.default_run, &t1.default_run),
            ] {
                if a.len() != b.len() {
                    d.push(format!(
                        "{v}'s targets had {} modes and have {} now (03 was run again since)",
                        a.len(),
                        b.len()
                    ));
                    break;
                }
                if let Some(k) = (0..a.len()).find(|&k| a[k].to_bits() != b[k].to_bits()) {
                    d.push(format!(
                        "{v}'s target {what} of mode {} was {} and is {} now (the EOF stage was made again since)",
                        k + 1,
                        a[k],
                        b[k]
                    ));
                }
            }
        }
        if self.form != now.form {
            d.push(format!(
                "the form was {} and is now {}",
                self.form, now.form
            ));
        }
        if self.weights != now.weights {
            d.push(format!(
                "the weights were {:?} and are now {:?}",
                self.weights, now.weights
            ));
        }
        if self.discrepancy != now.discrepancy {
            d.push(format!(
                "the discrepancy was {:?} and is now {:?}",
                self.discrepancy, now.discrepancy
            ));
        }
        d
    }
}

/// The first 12 hex digits of a hash.
fn short(h: &str) -> &str {
    &h[..h.len().min(12)]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::emulate::Prediction;
    use ndarray::array;

    /// A linear emulator: PC_m = sum_j a[m][j] x_j + b[m], variance `var` everywhere.
    pub(crate) struct Linear {
        pub a: Array2<f64>,
        pub b: Array1<f64>,
        pub var: f64,
    }

    impl Emulator for Linear {
        fn method(&self) -> String {
            "linear".into()
        }
        fn inputs(&self) -> usize {
            self.a.ncols()
        }
        fn outputs(&self) -> usize {
            self.a.nrows()
        }
        fn predict(&self, x: ArrayView2<f64>) -> Result<Prediction> {
            let mean = x.dot(&self.a.t()) + &self.b;
            let variance = Array2::from_elem(mean.dim(), self.var);
            Ok(Prediction { mean, variance })
        }
    }

    pub(crate) fn two_variable_cost(form: Form, w_lhf: f64) -> Cost {
        let gpp = Linear {
            a: array![[1.0, 0.0], [0.0, 2.0]],
            b: array![0.0, 0.0],
            var: 0.01,
        };
        let lhf = Linear {
            a: array![[1.0, 1.0]],
            b: array![0.5],
            var: 0.04,
        };
        Cost::new(
            vec![
                Term {
                    emulator: Arc::new(gpp),
                    target: Target {
                        variable: "GPP".into(),
                        observed: array![0.3, 1.0],
                        sigma: array![0.1, 0.2],
                        lambda: array![0.75, 0.25],
                        default: array![0.5, 0.5],
                    },
                    weight: 1.0,
                },
                Term {
                    emulator: Arc::new(lhf),
                    target: Target {
                        variable: "LHF".into(),
                        observed: array![1.2],
                        sigma: array![0.5],
                        lambda: array![1.0],
                        default: array![1.0],
                    },
                    weight: w_lhf,
                },
            ],
            form,
        )
        .unwrap()
    }

    #[test]
    fn built_in_forms_equal_hand_computation() {
        // candidate (0.4, 0.6): GPP PCs (0.4, 1.2), LHF PC 1.5
        // z_GPP = (1, 1), z_LHF = 0.6
        let x = array![[0.4, 0.6]];
        let eq6 = two_variable_cost(Form::Eq6, 1.0).cost(x.view()).unwrap()[0];
        assert!((eq6 - (0.75 + 0.25 + 0.36)).abs() < 1e-12, "{eq6}");
        let un = two_variable_cost(Form::Unweighted, 1.0)
            .cost(x.view())
            .unwrap()[0];
        assert!((un - 2.36).abs() < 1e-12, "{un}");
        let rmse = two_variable_cost(Form::Rmse, 1.49).cost(x.view()).unwrap()[0];
        assert!(
            (rmse - (2.0f64 + 1.49 * 0.36).sqrt()).abs() < 1e-12,
            "{rmse}"
        );
    }

    #[test]
    fn default_cost_uses_the_default_projections() {
        // z_GPP = (2, -2.5), z_LHF = -0.4
        let c = two_variable_cost(Form::Eq6, 1.0).default_cost().unwrap();
        assert!((c - (0.75 * 4.0 + 0.25 * 6.25 + 0.16)).abs() < 1e-12, "{c}");
    }

    #[test]
    fn log_likelihood_adds_emulator_variance_to_sigma() {
        let cost = two_variable_cost(Form::Unweighted, 1.0);
        let x = array![[0.4, 0.6]];
        let em = cost.emulate(x.view()).unwrap();
        let ll = cost.log_likelihood(&em)[0];
        let term = |d: f64, s: f64, v: f64| {
            let s2 = s * s + v;
            d * d / s2 + s2.ln()
        };
        let want = -0.5 * (term(0.1, 0.1, 0.01) + term(0.2, 0.2, 0.01) + term(0.3, 0.5, 0.04));
        assert!((ll - want).abs() < 1e-12, "{ll} vs {want}");
    }

    #[test]
    fn chi2_divides_by_sigma2_emulator_variance_and_discrepancy() {
        // candidate (0.4, 0.6): GPP PCs (0.4, 1.2) against (0.3, 1.0), sigma (0.1, 0.2),
        // emulator variance 0.01; LHF PC 1.5 against 1.2, sigma 0.5, variance 0.04; weight
        // 2 on LHF, discrepancy 0.03 on GPP and 0.21 on LHF
        let c = two_variable_cost(Form::Chi2, 2.0)
            .with_discrepancy(vec![0.03, 0.21])
            .unwrap();
        let x = array![[0.4, 0.6]];
        let got = c.cost(x.view()).unwrap()[0];
        let want = 0.01 / (0.01 + 0.01 + 0.03)
            + 0.04 / (0.04 + 0.01 + 0.03)
            + 2.0 * 0.09 / (0.25 + 0.04 + 0.21);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        assert!(
            (want - 1.06).abs() < 1e-12,
            "hand sum 0.2 + 0.5 + 0.36 = {want}"
        );
        // the default run is a run, not an emulation: no emulator variance
        // z: GPP (0.2, -0.5) over (0.01 + 0.03, 0.04 + 0.03), LHF -0.2 over 0.25 + 0.21
        let d = c.default_cost().unwrap();
        let want = 0.04 / 0.04 + 0.25 / 0.07 + 2.0 * 0.04 / 0.46;
        assert!((d - want).abs() < 1e-12, "{d} vs {want}");
        // without discrepancy and emulator variance chi2 is the unweighted form
        let un = two_variable_cost(Form::Unweighted, 2.0);
        let pcs = [array![[0.4, 1.2]], array![[1.5]]];
        let views: Vec<_> = pcs.iter().map(|a| a.view()).collect();
        let plain = two_variable_cost(Form::Chi2, 2.0);
        let (a, b) = (
            plain.of_pcs(&views).unwrap()[0],
            un.of_pcs(&views).unwrap()[0],
        );
        assert!((a - b).abs() < 1e-14, "{a} vs {b}");
        // the likelihood adds the discrepancy to sigma^2 + emulator variance
        let em = c.emulate(x.view()).unwrap();
        let ll = c.log_likelihood(&em)[0];
        let term = |d: f64, s2: f64| d * d / s2 + s2.ln();
        let want = -0.5 * (term(0.1, 0.05) + term(0.2, 0.08) + 2.0 * term(0.3, 0.5));
        assert!((ll - want).abs() < 1e-12, "{ll} vs {want}");
        assert!(c.clone().with_discrepancy(vec![0.1]).is_err());
        let e = c
            .with_discrepancy(vec![0.1, -1.0])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("LHF"), "{e}");
    }

    #[test]
    fn nll_adds_the_log_of_the_variance_inflation_to_chi2() {
        // as chi2_divides_by_sigma2_emulator_variance_and_discrepancy, plus per mode
        // ln(1 + (variance + discrepancy) / sigma^2): GPP ln(0.05/0.01), ln(0.08/0.04); LHF
        // (weight 2) ln(0.5/0.25)
        let c = two_variable_cost(Form::Nll, 2.0)
            .with_discrepancy(vec![0.03, 0.21])
            .unwrap();
        let got = c.cost(array![[0.4, 0.6]].view()).unwrap()[0];
        let want = 1.06 + 5f64.ln() + 2f64.ln() + 2.0 * 2f64.ln();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // it is -2 log-likelihood + 2 sum ln sigma (the likelihood's own constant)
        let em = c.emulate(array![[0.4, 0.6]].view()).unwrap();
        let ll = c.log_likelihood(&em)[0];
        let lnsig = 0.01f64.ln() + 0.04f64.ln() + 2.0 * 0.25f64.ln();
        assert!(
            (got - (-2.0 * ll - lnsig)).abs() < 1e-12,
            "{got} vs {}",
            -2.0 * ll - lnsig
        );
        assert_eq!(Form::parse("nll").unwrap(), Form::Nll);
    }

    #[test]
    fn eq6_is_unchanged_bit_for_bit() {
        // the paper's form: its value to the last bit, as Python computes it in the same
        // order (IEEE doubles, no fused multiply-add): z = (0.4 - 0.3) / 0.1; s = 0.75 z^2;
        // z = (1.2 - 1.0) / 0.2; s += 0.25 z^2; then + ((1.5 - 1.2) / 0.5)^2 ->
        // 1.3600000000000005 = 0x1.5c28f5c28f5c5p+0 (bits 4608803714665870789)
        let x = array![[0.4, 0.6]];
        let eq6 = two_variable_cost(Form::Eq6, 1.0).cost(x.view()).unwrap()[0];
        assert_eq!(eq6.to_bits(), 4608803714665870789, "{eq6}");
    }

    #[test]
    fn bad_terms_are_refused_with_the_variable_named() {
        let c = two_variable_cost(Form::Eq6, 1.0);
        let mut terms = c.terms().to_vec();
        terms[1].target.sigma[0] = 0.0;
        let e = Cost::new(terms, Form::Eq6).err().unwrap().to_string();
        assert!(e.contains("LHF") && e.contains("sigma"), "{e}");
        let mut terms = c.terms().to_vec();
        terms[0].target.observed = array![1.0];
        terms[0].target.sigma = array![1.0];
        terms[0].target.lambda = array![1.0];
        terms[0].target.default = array![1.0];
        let e = Cost::new(terms, Form::Eq6).err().unwrap().to_string();
        assert!(e.contains("predicts 2 modes but its target has 1"), "{e}");
        assert!(Form::parse("eq7").is_err());
    }
}
