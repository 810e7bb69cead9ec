//! Small hand-written networks with known gradients, and a plain SGD, for
//! the tests of `fit`, `evaluate` and `predict`.

use alloc::vec::Vec;
use std::sync::{Mutex, MutexGuard, PoisonError};

use nalgebra::{Const, Dyn, OMatrix};

use crate::activations::{self, Activation};
use crate::losses::{self, Loss};
use crate::network::{Data, HeadInfo, InputData, MetricKind, Mode, Network, TensorInfo, Train};
use crate::optim::Optimizer;
use crate::rng::SplitMix64;

use super::options::FitOptions;

pub(super) type Cols<const R: usize> = OMatrix<f64, Const<R>, Dyn>;

pub(super) fn cols<const R: usize>(data: &[f64]) -> Cols<R> {
    Cols::<R>::from_column_slice(data)
}

/// Plain SGD, so these tests do not depend on `optim`.
pub(super) struct TestSgd {
    pub(super) lr: f64,
    pub(super) iterations: u64,
}

pub(super) fn sgd(lr: f64) -> TestSgd {
    TestSgd { lr, iterations: 0 }
}

impl<M: Network<f64>> Optimizer<f64, M> for TestSgd {
    fn apply(&mut self, params: &mut M, grads: &M) {
        for (i, info) in M::TENSORS.iter().enumerate() {
            if info.trainable {
                for (p, g) in params.tensor_mut(i).iter_mut().zip(grads.tensor(i)) {
                    *p -= self.lr * g;
                }
            }
        }
        self.iterations += 1;
    }
    fn iterations(&self) -> u64 {
        self.iterations
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, learning_rate: f64) {
        self.lr = learning_rate;
    }
}

pub(super) fn quiet<'a, M: Data<f64>>() -> FitOptions<'a, f64, M> {
    FitOptions::new().verbose(false)
}

// -- Probe: one bias, output = bias; records what it is shown ------------

/// A record a model keeps of its calls: a `Mutex`, since a network is
/// `Sync` (`fit` may run half a batch on another thread), that compares
/// and clones by its contents.
#[derive(Debug, Default)]
pub(super) struct Log<T>(Mutex<T>);

impl<T> Log<T> {
    pub(super) fn borrow(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn borrow_mut(&self) -> MutexGuard<'_, T> {
        self.borrow()
    }
}

impl<T: Clone> Clone for Log<T> {
    fn clone(&self) -> Self {
        Log(Mutex::new(self.borrow().clone()))
    }
}

impl<T: PartialEq> PartialEq for Log<T> {
    fn eq(&self, other: &Self) -> bool {
        *self.borrow() == *other.borrow()
    }
}

/// `out = b` for every sample, mse loss; records the sample ids (its
/// input) of every training batch and inference pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Probe {
    pub(super) b: [f64; 1],
    pub(super) trained: Log<Vec<Vec<f64>>>,
    pub(super) evaluated: Log<Vec<Vec<f64>>>,
    pub(super) seeds: Log<Vec<u64>>,
    pub(super) updates: usize,
    /// A sample id whose training batches have a NaN loss (as a model whose
    /// weights overflow would), with finite data.
    pub(super) poison: Option<f64>,
}

impl Network<f64> for Probe {
    const PARAM_COUNT: usize = 1;
    const TENSORS: &'static [TensorInfo] = &[TensorInfo { name: "out.bias", shape: &[1], trainable: true }];
    const INPUT_NAMES: &'static [&'static str] = &["id"];
    const INPUT_WIDTHS: &'static [usize] = &[1];
    const HEADS: &'static [HeadInfo] = &[HeadInfo {
        name: "out",
        width: 1,
        units: 1,
        target_width: 1,
        loss: Some(Loss::MeanSquaredError),
        loss_weight: 1.0,
        metrics: &[],
    }];
    const FORWARD_ROWS: usize = 1;
    const TRAIN_ROWS: usize = 2;
    const HEAD_OFFSETS: &'static [usize] = &[0];
    const STATS_LEN: usize = 0;

    fn zeros() -> Self {
        Self::default()
    }
    fn with_seed(_seed: u64) -> Self {
        Self::default()
    }
    fn tensor(&self, _i: usize) -> &[f64] {
        &self.b
    }
    fn tensor_mut(&mut self, _i: usize) -> &mut [f64] {
        &mut self.b
    }
    fn forward_slices(&self, n: usize, inputs: &[&[f64]], workspace: &mut [f64], mode: Mode, _stats: &mut [f64]) {
        workspace[..n].fill(self.b[0]);
        if mode == Mode::Inference {
            self.evaluated.borrow_mut().push(inputs[0][..n].to_vec());
        }
    }
}

impl Train<f64> for Probe {
    fn loss_and_grad_slices(
        &self,
        n: usize,
        inputs: &[&[f64]],
        targets: &[&[f64]],
        sample_weight: Option<&[f64]>,
        workspace: &mut [f64],
        _stats: &mut [f64],
        grads: &mut Self,
        head_losses: &mut [f64],
        dropout_seed: u64,
    ) -> f64 {
        self.trained.borrow_mut().push(inputs[0][..n].to_vec());
        self.seeds.borrow_mut().push(dropout_seed);
        let (out, rest) = workspace.split_at_mut(n);
        out.fill(self.b[0]);
        let d_out = &mut rest[..n];
        d_out.fill(0.0);
        let mut loss =
            losses::loss_and_grad(Loss::MeanSquaredError, out, targets[0], 1, sample_weight, Some((d_out, 1.0)));
        if self.poison.is_some_and(|id| inputs[0][..n].contains(&id)) {
            loss = f64::NAN;
        }
        grads.b[0] = rest[..n].iter().sum();
        head_losses[0] = loss;
        loss
    }
    fn update_moving_statistics(&mut self, _stats: &[f64]) {
        self.updates += 1;
    }
}

impl Data<f64> for Probe {
    type Inputs<'a> = &'a Cols<1>;
    type Targets<'a> = &'a Cols<1>;
    fn input_slices<'a>(inputs: Self::Inputs<'a>, out: &mut [InputData<'a, f64>]) {
        out[0] = InputData::Values(inputs.as_slice());
    }
    fn target_slices<'a>(targets: Self::Targets<'a>, out: &mut [&'a [f64]]) {
        out[0] = targets.as_slice();
    }
}

pub(super) fn ids(n: usize) -> Cols<1> {
    Cols::<1>::from_fn(n, |_, j| j as f64)
}

pub(super) fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

// -- Logistic regression: one input, one sigmoid head ---------------------

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Logistic {
    kernel: [f64; 2],
    bias: [f64; 1],
}

impl Network<f64> for Logistic {
    const PARAM_COUNT: usize = 3;
    const TENSORS: &'static [TensorInfo] = &[
        TensorInfo { name: "dense.kernel", shape: &[2, 1], trainable: true },
        TensorInfo { name: "dense.bias", shape: &[1], trainable: true },
    ];
    const INPUT_NAMES: &'static [&'static str] = &["x"];
    const INPUT_WIDTHS: &'static [usize] = &[2];
    const HEADS: &'static [HeadInfo] = &[HeadInfo {
        name: "dense",
        width: 1,
        units: 1,
        target_width: 1,
        loss: Some(Loss::BinaryCrossentropy { from_logits: false }),
        loss_weight: 1.0,
        metrics: &[MetricKind::BinaryAccuracy],
    }];
    const FORWARD_ROWS: usize = 1;
    const TRAIN_ROWS: usize = 2;
    const HEAD_OFFSETS: &'static [usize] = &[0];
    const STATS_LEN: usize = 0;

    fn zeros() -> Self {
        Self { kernel: [0.0; 2], bias: [0.0] }
    }
    fn with_seed(seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut kernel = [0.0; 2];
        crate::layers::glorot_uniform(&mut kernel, 2, 1, &mut rng);
        Self { kernel, bias: [0.0] }
    }
    fn tensor(&self, i: usize) -> &[f64] {
        if i == 0 {
            &self.kernel
        } else {
            &self.bias
        }
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f64] {
        if i == 0 {
            &mut self.kernel
        } else {
            &mut self.bias
        }
    }
    fn forward_slices(&self, n: usize, inputs: &[&[f64]], workspace: &mut [f64], _mode: Mode, _stats: &mut [f64]) {
        let x = inputs[0];
        for s in 0..n {
            let z = self.kernel[0] * x[2 * s] + self.kernel[1] * x[2 * s + 1] + self.bias[0];
            workspace[s] = activations::sigmoid(z);
        }
    }
}

impl Train<f64> for Logistic {
    fn loss_and_grad_slices(
        &self,
        n: usize,
        inputs: &[&[f64]],
        targets: &[&[f64]],
        sample_weight: Option<&[f64]>,
        workspace: &mut [f64],
        stats: &mut [f64],
        grads: &mut Self,
        head_losses: &mut [f64],
        dropout_seed: u64,
    ) -> f64 {
        self.forward_slices(n, inputs, workspace, Mode::Training { dropout_seed }, stats);
        let (out, rest) = workspace.split_at_mut(n);
        let dz = &mut rest[..n];
        dz.fill(0.0);
        let bce = Loss::BinaryCrossentropy { from_logits: false };
        let loss = losses::fused_loss_and_grad(bce, Activation::Sigmoid, out, targets[0], 1, sample_weight, dz, 1.0);
        let x = inputs[0];
        *grads = Self::zeros();
        for s in 0..n {
            grads.kernel[0] += dz[s] * x[2 * s];
            grads.kernel[1] += dz[s] * x[2 * s + 1];
            grads.bias[0] += dz[s];
        }
        head_losses[0] = loss;
        loss
    }
    fn update_moving_statistics(&mut self, _stats: &[f64]) {}
}

impl Data<f64> for Logistic {
    type Inputs<'a> = &'a Cols<2>;
    type Targets<'a> = &'a Cols<1>;
    fn input_slices<'a>(inputs: Self::Inputs<'a>, out: &mut [InputData<'a, f64>]) {
        out[0] = InputData::Values(inputs.as_slice());
    }
    fn target_slices<'a>(targets: Self::Targets<'a>, out: &mut [&'a [f64]]) {
        out[0] = targets.as_slice();
    }
}

/// `n` points in [-1, 1]² away from the line x0 + x1 = 0, labelled by its side.
pub(super) fn separable(n: usize, seed: u64) -> (Cols<2>, Cols<1>) {
    let mut rng = SplitMix64::new(seed);
    let mut x = Vec::new();
    let mut y = Vec::new();
    while y.len() < n {
        let a = 2.0 * rng.next_f64() - 1.0;
        let b = 2.0 * rng.next_f64() - 1.0;
        if (a + b).abs() < 0.2 {
            continue;
        }
        x.extend([a, b]);
        y.push(if a + b > 0.0 { 1.0 } else { 0.0 });
    }
    (cols(&x), cols(&y))
}

// -- Two inputs, two heads: regression (mse) and classification (bce) ------

/// `reg = w·[a; b] + c` (mse, weight 0.5, metric mae) and
/// `cls = sigmoid(v·a + d)` (binary cross-entropy, metric accuracy).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct TwoHead {
    reg_kernel: [f64; 3],
    reg_bias: [f64; 1],
    cls_kernel: [f64; 2],
    cls_bias: [f64; 1],
}

impl TwoHead {
    pub(super) fn outputs(&self, a: &[f64], b: f64) -> (f64, f64) {
        let k = &self.reg_kernel;
        let reg = k[0] * a[0] + k[1] * a[1] + k[2] * b + self.reg_bias[0];
        let z = self.cls_kernel[0] * a[0] + self.cls_kernel[1] * a[1] + self.cls_bias[0];
        (reg, activations::sigmoid(z))
    }
}

impl Network<f64> for TwoHead {
    const PARAM_COUNT: usize = 7;
    const TENSORS: &'static [TensorInfo] = &[
        TensorInfo { name: "reg.kernel", shape: &[3, 1], trainable: true },
        TensorInfo { name: "reg.bias", shape: &[1], trainable: true },
        TensorInfo { name: "cls.kernel", shape: &[2, 1], trainable: true },
        TensorInfo { name: "cls.bias", shape: &[1], trainable: true },
    ];
    const INPUT_NAMES: &'static [&'static str] = &["a", "b"];
    const INPUT_WIDTHS: &'static [usize] = &[2, 1];
    const HEADS: &'static [HeadInfo] = &[
        HeadInfo {
            name: "reg",
            width: 1,
            units: 1,
            target_width: 1,
            loss: Some(Loss::MeanSquaredError),
            loss_weight: 0.5,
            metrics: &[MetricKind::MeanAbsoluteError],
        },
        HeadInfo {
            name: "cls",
            width: 1,
            units: 1,
            target_width: 1,
            loss: Some(Loss::BinaryCrossentropy { from_logits: false }),
            loss_weight: 1.0,
            metrics: &[MetricKind::BinaryAccuracy],
        },
    ];
    const FORWARD_ROWS: usize = 2;
    const TRAIN_ROWS: usize = 4;
    const HEAD_OFFSETS: &'static [usize] = &[0, 1];
    const STATS_LEN: usize = 0;

    fn zeros() -> Self {
        Self { reg_kernel: [0.0; 3], reg_bias: [0.0], cls_kernel: [0.0; 2], cls_bias: [0.0] }
    }
    fn with_seed(seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut m = Self::zeros();
        crate::layers::glorot_uniform(&mut m.reg_kernel, 3, 1, &mut rng);
        crate::layers::glorot_uniform(&mut m.cls_kernel, 2, 1, &mut rng);
        m
    }
    fn tensor(&self, i: usize) -> &[f64] {
        match i {
            0 => &self.reg_kernel,
            1 => &self.reg_bias,
            2 => &self.cls_kernel,
            _ => &self.cls_bias,
        }
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f64] {
        match i {
            0 => &mut self.reg_kernel,
            1 => &mut self.reg_bias,
            2 => &mut self.cls_kernel,
            _ => &mut self.cls_bias,
        }
    }
    fn forward_slices(&self, n: usize, inputs: &[&[f64]], workspace: &mut [f64], _mode: Mode, _stats: &mut [f64]) {
        for s in 0..n {
            let (reg, cls) = self.outputs(&inputs[0][2 * s..2 * s + 2], inputs[1][s]);
            workspace[s] = reg;
            workspace[n + s] = cls;
        }
    }
}

impl Train<f64> for TwoHead {
    fn loss_and_grad_slices(
        &self,
        n: usize,
        inputs: &[&[f64]],
        targets: &[&[f64]],
        sample_weight: Option<&[f64]>,
        workspace: &mut [f64],
        stats: &mut [f64],
        grads: &mut Self,
        head_losses: &mut [f64],
        dropout_seed: u64,
    ) -> f64 {
        self.forward_slices(n, inputs, workspace, Mode::Training { dropout_seed }, stats);
        let (out, d) = workspace.split_at_mut(2 * n);
        let d = &mut d[..2 * n];
        d.fill(0.0);
        let (d_reg, d_cls) = d.split_at_mut(n);
        let reg =
            losses::loss_and_grad(Loss::MeanSquaredError, &out[..n], targets[0], 1, sample_weight, Some((d_reg, 0.5)));
        let bce = Loss::BinaryCrossentropy { from_logits: false };
        let cls =
            losses::fused_loss_and_grad(bce, Activation::Sigmoid, &out[n..], targets[1], 1, sample_weight, d_cls, 1.0);
        *grads = Self::zeros();
        for s in 0..n {
            let a = &inputs[0][2 * s..2 * s + 2];
            let b = inputs[1][s];
            grads.reg_kernel[0] += d_reg[s] * a[0];
            grads.reg_kernel[1] += d_reg[s] * a[1];
            grads.reg_kernel[2] += d_reg[s] * b;
            grads.reg_bias[0] += d_reg[s];
            grads.cls_kernel[0] += d_cls[s] * a[0];
            grads.cls_kernel[1] += d_cls[s] * a[1];
            grads.cls_bias[0] += d_cls[s];
        }
        head_losses[0] = reg;
        head_losses[1] = cls;
        0.5 * reg + cls
    }
    fn update_moving_statistics(&mut self, _stats: &[f64]) {}
}

impl Data<f64> for TwoHead {
    type Inputs<'a> = (&'a Cols<2>, &'a Cols<1>);
    type Targets<'a> = (&'a Cols<1>, &'a Cols<1>);
    fn input_slices<'a>(inputs: Self::Inputs<'a>, out: &mut [InputData<'a, f64>]) {
        out[0] = InputData::Values(inputs.0.as_slice());
        out[1] = InputData::Values(inputs.1.as_slice());
    }
    fn target_slices<'a>(targets: Self::Targets<'a>, out: &mut [&'a [f64]]) {
        out[0] = targets.0.as_slice();
        out[1] = targets.1.as_slice();
    }
}

pub(super) struct TwoHeadData {
    pub(super) a: Cols<2>,
    pub(super) b: Cols<1>,
    pub(super) reg: Cols<1>,
    pub(super) cls: Cols<1>,
}

pub(super) fn two_head_data(n: usize, seed: u64) -> TwoHeadData {
    let mut rng = SplitMix64::new(seed);
    let a = Cols::<2>::from_fn(n, |_, _| 2.0 * rng.next_f64() - 1.0);
    let b = Cols::<1>::from_fn(n, |_, _| 2.0 * rng.next_f64() - 1.0);
    let reg = Cols::<1>::from_fn(n, |_, j| 2.0 * a[(0, j)] - a[(1, j)] + 0.5 * b[(0, j)] + 0.3);
    let cls = Cols::<1>::from_fn(n, |_, j| if a[(0, j)] > a[(1, j)] { 1.0 } else { 0.0 });
    TwoHeadData { a, b, reg, cls }
}

// -- Softmax with class-index targets --------------------------------------

/// `p = softmax(W x + c)` over 3 classes, sparse categorical cross-entropy.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Sparse {
    kernel: [f64; 6],
    bias: [f64; 3],
}

impl Network<f64> for Sparse {
    const PARAM_COUNT: usize = 9;
    const TENSORS: &'static [TensorInfo] = &[
        TensorInfo { name: "probs.kernel", shape: &[2, 3], trainable: true },
        TensorInfo { name: "probs.bias", shape: &[3], trainable: true },
    ];
    const INPUT_NAMES: &'static [&'static str] = &["x"];
    const INPUT_WIDTHS: &'static [usize] = &[2];
    const HEADS: &'static [HeadInfo] = &[HeadInfo {
        name: "probs",
        width: 3,
        units: 3,
        target_width: 1,
        loss: Some(Loss::SparseCategoricalCrossentropy { from_logits: false }),
        loss_weight: 1.0,
        metrics: &[MetricKind::SparseCategoricalAccuracy],
    }];
    const FORWARD_ROWS: usize = 3;
    const TRAIN_ROWS: usize = 6;
    const HEAD_OFFSETS: &'static [usize] = &[0];
    const STATS_LEN: usize = 0;

    fn zeros() -> Self {
        Self { kernel: [0.0; 6], bias: [0.0; 3] }
    }
    fn with_seed(seed: u64) -> Self {
        let mut m = Self::zeros();
        crate::layers::glorot_uniform(&mut m.kernel, 2, 3, &mut SplitMix64::new(seed));
        m
    }
    fn tensor(&self, i: usize) -> &[f64] {
        if i == 0 {
            &self.kernel
        } else {
            &self.bias
        }
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f64] {
        if i == 0 {
            &mut self.kernel
        } else {
            &mut self.bias
        }
    }
    fn forward_slices(&self, n: usize, inputs: &[&[f64]], workspace: &mut [f64], _mode: Mode, _stats: &mut [f64]) {
        for s in 0..n {
            let x = &inputs[0][2 * s..2 * s + 2];
            let p = &mut workspace[3 * s..3 * s + 3];
            for (j, pj) in p.iter_mut().enumerate() {
                *pj = self.kernel[j] * x[0] + self.kernel[3 + j] * x[1] + self.bias[j];
            }
            let max = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            p.iter_mut().for_each(|v| *v = (*v - max).exp());
            let sum: f64 = p.iter().sum();
            p.iter_mut().for_each(|v| *v /= sum);
        }
    }
}

impl Train<f64> for Sparse {
    fn loss_and_grad_slices(
        &self,
        n: usize,
        inputs: &[&[f64]],
        targets: &[&[f64]],
        sample_weight: Option<&[f64]>,
        workspace: &mut [f64],
        stats: &mut [f64],
        grads: &mut Self,
        head_losses: &mut [f64],
        dropout_seed: u64,
    ) -> f64 {
        self.forward_slices(n, inputs, workspace, Mode::Training { dropout_seed }, stats);
        let (out, dz) = workspace.split_at_mut(3 * n);
        let dz = &mut dz[..3 * n];
        dz.fill(0.0);
        let loss_kind = Loss::SparseCategoricalCrossentropy { from_logits: false };
        let loss =
            losses::fused_loss_and_grad(loss_kind, Activation::Softmax, out, targets[0], 3, sample_weight, dz, 1.0);
        *grads = Self::zeros();
        for s in 0..n {
            let x = &inputs[0][2 * s..2 * s + 2];
            for j in 0..3 {
                grads.kernel[j] += dz[3 * s + j] * x[0];
                grads.kernel[3 + j] += dz[3 * s + j] * x[1];
                grads.bias[j] += dz[3 * s + j];
            }
        }
        head_losses[0] = loss;
        loss
    }
    fn update_moving_statistics(&mut self, _stats: &[f64]) {}
}

impl Data<f64> for Sparse {
    type Inputs<'a> = &'a Cols<2>;
    type Targets<'a> = &'a Cols<1>;
    fn input_slices<'a>(inputs: Self::Inputs<'a>, out: &mut [InputData<'a, f64>]) {
        out[0] = InputData::Values(inputs.as_slice());
    }
    fn target_slices<'a>(targets: Self::Targets<'a>, out: &mut [&'a [f64]]) {
        out[0] = targets.as_slice();
    }
}

pub(super) fn three_clusters(n: usize, seed: u64) -> (Cols<2>, Cols<1>) {
    let centers = [(2.0, 0.0), (-1.0, 1.7), (-1.0, -1.7)];
    let mut rng = SplitMix64::new(seed);
    let mut x = Vec::new();
    let mut y = Vec::new();
    for s in 0..n {
        let class = s % 3;
        let (cx, cy) = centers[class];
        x.extend([cx + 0.6 * (rng.next_f64() - 0.5), cy + 0.6 * (rng.next_f64() - 0.5)]);
        y.push(class as f64);
    }
    (cols(&x), cols(&y))
}
