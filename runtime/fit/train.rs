//! `fit`: the training loop.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::data::{check_weights, dataset_of, gather, split_point, Dataset, Slices};
use super::error::FitError;
use super::evaluate::Evaluator;
use super::history::History;
use super::metrics::{log_names, Accum};
use super::options::FitOptions;
use super::stopping::Stopper;
use crate::network::{Data, Network, Train};
use crate::optim::Optimizer;
use crate::rng::{self, SplitMix64};
use crate::Scalar;

/// Trains `model` on inputs `x` and targets `y` with `optimizer`, as Keras's
/// `model.fit(x, y, ...)`.
///
/// Each batch gathers the (shuffled) columns of every input and target into
/// buffers allocated once before the first epoch, runs the model's
/// training-mode forward and backward pass (`loss_and_grad_slices`) on the
/// batch's real size (the last partial batch is kept), folds the batch
/// statistics into the moving statistics, then applies the optimizer (with
/// the `parallel` feature, a large batch of a model without batch
/// normalization runs as two halves on two threads, whose gradients are
/// averaged by their sizes). The dropout seed of each step mixes `options.seed` with
/// `optimizer.iterations()`. After each epoch the validation data, if any,
/// is evaluated in inference mode. Progress goes to standard output as
/// [`FitOptions::verbose`] asks (with the `std` feature).
///
/// Returns each logged value per epoch (see the [module docs](mod@crate::fit)
/// for the names). Errors name the offending argument, and every array is
/// checked (sample counts, class indices, NaN and infinities) before the
/// first batch; a non-finite training loss stops training at once with
/// [`FitError::NonFinite`], leaving the model as it was after the last
/// finite batch (or, with early stopping's `restore_best_weights`, as it was
/// after the best epoch).
pub fn fit<T: Scalar, M: Train<T> + Data<T>, O: Optimizer<T, M>>(
    model: &mut M,
    optimizer: &mut O,
    x: M::Inputs<'_>,
    y: M::Targets<'_>,
    options: &FitOptions<'_, T, M>,
) -> Result<History, FitError> {
    #[cfg(feature = "std")]
    let mut progress = super::progress::Progress::to_stdout(options.verbose);
    #[cfg(not(feature = "std"))]
    let mut progress = Silent;
    fit_observed(model, optimizer, x, y, options, &mut progress)
}

/// What the training loop reports as it goes: the progress output with
/// `std`, nothing without.
pub(super) trait Observer {
    /// Training starts: the logged names, and the epochs and steps per epoch.
    fn train_begin(&mut self, names: &[String], epochs: usize, steps: usize);
    /// Epoch `epoch` (0-based) starts.
    fn epoch_begin(&mut self, epoch: usize);
    /// Step `step` (1-based) of the epoch is done; `running` writes the
    /// epoch's running training values, in log order, when they are wanted.
    fn batch_end(&mut self, step: usize, running: &dyn Fn(&mut Vec<f64>));
    /// The epoch is done, validated, with `values` in log order; returns
    /// the time it took.
    fn epoch_end(&mut self, values: &[f64]) -> Duration;
    /// Training is over (finished, stopped early, or stopped by a NaN loss).
    fn train_end(&mut self);
    /// A message of its own, such as early stopping's.
    fn note(&mut self, text: &str);
}

/// Reports nothing (no `std`: no output and no clock).
#[cfg(not(feature = "std"))]
struct Silent;

#[cfg(not(feature = "std"))]
impl Observer for Silent {
    fn train_begin(&mut self, _names: &[String], _epochs: usize, _steps: usize) {}
    fn epoch_begin(&mut self, _epoch: usize) {}
    fn batch_end(&mut self, _step: usize, _running: &dyn Fn(&mut Vec<f64>)) {}
    fn epoch_end(&mut self, _values: &[f64]) -> Duration {
        Duration::ZERO
    }
    fn train_end(&mut self) {}
    fn note(&mut self, _text: &str) {}
}

/// [`fit`], reporting to `progress`.
pub(super) fn fit_observed<T: Scalar, M: Train<T> + Data<T>, O: Optimizer<T, M>>(
    model: &mut M,
    optimizer: &mut O,
    x: M::Inputs<'_>,
    y: M::Targets<'_>,
    options: &FitOptions<'_, T, M>,
    progress: &mut impl Observer,
) -> Result<History, FitError> {
    let data = checked_split::<T, M>(x, y, options)?;
    let names = logged_names::<T, M>(data.validation.is_some(), options.learning_rate_schedule.is_some());
    let mut monitor = match &options.early_stopping {
        Some(config) => match names.iter().position(|n| n == config.monitor()) {
            Some(i) => Some((i, Stopper::new(config), config.restore_best_weights)),
            None => return Err(FitError::UnknownMonitor { monitor: String::from(config.monitor()), available: names }),
        },
        None => None,
    };
    let mut history = History::with_names(names.clone());
    if options.epochs == 0 {
        return Ok(history);
    }

    // Every buffer, allocated once (no larger than the data needs).
    let batch_size = options.batch_size.min(data.train.samples);
    let mut step = Step::<T, M>::new(batch_size, data.train_weights.is_some());
    let mut order: Vec<usize> = (0..data.train.samples).collect();
    let mut train_acc = Accum::new::<T, M>();
    let mut val_acc = Accum::new::<T, M>();
    let mut evaluator =
        data.validation.as_ref().map(|(val, _)| Evaluator::<T>::new::<M>(options.batch_size.min(val.samples)));
    let mut values: Vec<f64> = Vec::with_capacity(names.len());
    let mut best: Vec<T> = match &monitor {
        Some((_, _, true)) => Vec::with_capacity(M::PARAM_COUNT),
        _ => Vec::new(),
    };
    let mut shuffler = SplitMix64::new(rng::mix(options.seed ^ 0x5348_5546_464C_4521));

    progress.train_begin(&names, options.epochs, data.train.samples.div_ceil(batch_size));
    let mut failure: Option<(usize, usize, f64)> = None;
    'epochs: for epoch in 0..options.epochs {
        progress.epoch_begin(epoch);
        if let Some(schedule) = options.learning_rate_schedule {
            let rate = schedule(epoch, optimizer.learning_rate().as_f64());
            optimizer.set_learning_rate(T::of_f64(rate));
        }
        if options.shuffle {
            rng::shuffle(&mut order, &mut shuffler);
        }

        train_acc.reset();
        for (batch, indices) in order.chunks(batch_size).enumerate() {
            let total = step.train(model, optimizer, &data, indices, options.seed, &mut train_acc);
            if !total.is_finite() {
                failure = Some((epoch, batch, total));
                break 'epochs;
            }
            progress.batch_end(batch + 1, &|out| train_acc.values::<T, M>(out));
        }

        values.clear();
        train_acc.values::<T, M>(&mut values);
        if let (Some((val, weights)), Some(evaluator)) = (&data.validation, &mut evaluator) {
            val_acc.reset();
            evaluator.evaluate(&*model, val, *weights, &mut val_acc);
            val_acc.values::<T, M>(&mut values);
        }
        if options.learning_rate_schedule.is_some() {
            values.push(optimizer.learning_rate().as_f64());
        }
        history.push(&values);
        history.push_epoch_time(progress.epoch_end(&values));

        if let Some((index, stopper, restore)) = &mut monitor {
            let decision = stopper.update(epoch, values[*index]);
            history.best_epoch = stopper.best_epoch;
            if decision.snapshot && *restore {
                best.clear();
                for i in 0..M::TENSORS.len() {
                    best.extend_from_slice(model.tensor(i));
                }
            }
            if decision.stop {
                history.stopped_epoch = Some(epoch);
                break;
            }
        }
    }
    progress.train_end();

    if let Some((_, _, restore)) = &monitor {
        if let Some(epoch) = history.stopped_epoch {
            progress.note(&format!("Epoch {}: early stopping", epoch + 1));
        }
        if *restore && !best.is_empty() {
            restore_weights(model, &best);
            if let Some(epoch) = history.best_epoch {
                progress.note(&format!("Restoring model weights from the end of the best epoch: {}.", epoch + 1));
            }
        }
    }
    match failure {
        Some((epoch, batch, loss)) => Err(FitError::NonFinite { epoch, batch, loss, history: Box::new(history) }),
        None => Ok(history),
    }
}

/// The data `fit` trains and validates on, checked.
struct Split<'a, T: Clone> {
    train: Dataset<'a, T>,
    train_weights: Option<&'a [T]>,
    /// The validation set and its sample weights.
    validation: Option<(Dataset<'a, T>, Option<&'a [T]>)>,
}

/// Checks the options and every array, then holds out the validation data:
/// the set given, or the last samples for `validation_split`.
fn checked_split<'a, 'x: 'a, 'y: 'a, 'o: 'a, T: Scalar, M: Data<T>>(
    x: M::Inputs<'x>,
    y: M::Targets<'y>,
    options: &FitOptions<'o, T, M>,
) -> Result<Split<'a, T>, FitError> {
    if options.batch_size == 0 {
        return Err(FitError::ZeroBatchSize);
    }
    let split = options.validation_split;
    if !(0.0..1.0).contains(&split) {
        return Err(FitError::InvalidValidationSplit { validation_split: split });
    }
    let all = dataset_of::<T, M>(x, y, false)?;
    if all.samples == 0 {
        return Err(FitError::NoSamples { what: "training data" });
    }
    check_weights("sample_weight", options.sample_weight, all.samples)?;
    match options.validation_data {
        Some((vx, vy)) => {
            let val = dataset_of::<T, M>(vx, vy, true)?;
            if val.samples == 0 {
                return Err(FitError::NoSamples { what: "validation data" });
            }
            check_weights("validation_sample_weight", options.validation_sample_weight, val.samples)?;
            let validation = Some((val, options.validation_sample_weight));
            Ok(Split { train: all, train_weights: options.sample_weight, validation })
        }
        None if split > 0.0 => {
            let at = split_point(all.samples, split);
            if at == 0 || at >= all.samples {
                return Err(FitError::SplitTooSmall { samples: all.samples, validation_split: split });
            }
            let weights = options.sample_weight.map(|w| w.split_at(at));
            let validation = Some((all.range::<M>(at, all.samples), weights.map(|w| w.1)));
            Ok(Split { train: all.range::<M>(0, at), train_weights: weights.map(|w| w.0), validation })
        }
        None => Ok(Split { train: all, train_weights: options.sample_weight, validation: None }),
    }
}

/// The names `fit` logs, in log order: training values, validation values,
/// then the learning rate when a schedule sets it.
fn logged_names<T: Scalar, M: Data<T>>(validation: bool, learning_rate: bool) -> Vec<String> {
    let mut names = log_names::<T, M>("");
    if validation {
        names.extend(log_names::<T, M>("val_"));
    }
    if learning_rate {
        names.push(String::from("learning_rate"));
    }
    names
}

/// Copies the snapshot `best` (every tensor, in order) back into `model`.
fn restore_weights<T: Scalar, M: Train<T>>(model: &mut M, best: &[T]) {
    let mut offset = 0;
    for i in 0..M::TENSORS.len() {
        let tensor = model.tensor_mut(i);
        tensor.copy_from_slice(&best[offset..offset + tensor.len()]);
        offset += tensor.len();
    }
}

/// The buffers of one training step, allocated once for batches of up to
/// `batch_size` samples.
struct Step<T, M> {
    inputs: Vec<Vec<T>>,
    targets: Vec<Vec<T>>,
    weights: Vec<T>,
    /// One pass's buffers; with the `parallel` feature on a CPU with a
    /// helper thread, two, each for half a batch (see [`Step::train`]).
    passes: Vec<Pass<T, M>>,
    /// The smallest batch workspace (scalars) that runs as two halves.
    #[cfg(feature = "parallel")]
    split_from: usize,
}

/// The buffers of one forward and backward pass.
struct Pass<T, M> {
    /// Over-allocated by a cache line so that the workspace starts 64-byte
    /// aligned (at `aligned`), as the generated `train_step`'s does.
    workspace: Vec<T>,
    aligned: usize,
    samples: usize,
    stats: Vec<T>,
    grads: Box<M>,
    head_losses: Vec<T>,
    /// The total loss of the last [`Pass::run`].
    total: T,
}

impl<T: Scalar, M: Train<T>> Pass<T, M> {
    fn new(samples: usize) -> Self {
        let workspace: Vec<T> = vec![T::zero(); M::TRAIN_ROWS * samples + 64 / T::BYTES];
        let aligned = workspace.as_ptr().align_offset(64).min(64 / T::BYTES);
        Pass {
            workspace,
            aligned,
            samples,
            stats: vec![T::zero(); M::STATS_LEN],
            grads: Box::new(M::zeros()),
            head_losses: vec![T::zero(); M::HEADS.len()],
            total: T::zero(),
        }
    }

    /// The workspace of the last [`Pass::run`] (the heads' outputs).
    fn workspace(&self) -> &[T] {
        &self.workspace[self.aligned..self.aligned + M::TRAIN_ROWS * self.samples]
    }

    /// The loss and gradients of `n` samples into `grads` (zeroed first);
    /// returns the total loss, also kept in `total`.
    fn run(&mut self, model: &M, n: usize, inputs: &[&[T]], targets: &[&[T]], weights: Option<&[T]>, seed: u64) -> T {
        for i in 0..M::TENSORS.len() {
            self.grads.tensor_mut(i).fill(T::zero());
        }
        let workspace = &mut self.workspace[self.aligned..self.aligned + M::TRAIN_ROWS * self.samples];
        self.total = model.loss_and_grad_slices(
            n,
            inputs,
            targets,
            weights,
            workspace,
            &mut self.stats,
            &mut self.grads,
            &mut self.head_losses,
            seed,
        );
        self.total
    }
}

/// Samples `lo..hi` of each gathered array (inputs or targets), array
/// `k` holding `width(k)` values a sample.
fn samples_of<T>(buffers: &[Vec<T>], width: impl Fn(usize) -> usize, lo: usize, hi: usize) -> Slices<'_, T> {
    Slices::new(buffers.len(), |k| &buffers[k][width(k) * lo..width(k) * hi])
}

/// The values per sample of input `i`.
fn input_width<T: Scalar, M: Network<T>>(i: usize) -> usize {
    M::INPUT_WIDTHS[i]
}

/// The values per sample of head `h`'s target.
fn target_width<T: Scalar, M: Network<T>>(h: usize) -> usize {
    M::HEADS[h].target_width
}

/// The batches that [`Step::train`] splits between two threads: at least
/// this many scalars of workspace (batch size times `TRAIN_ROWS`), a few
/// tens of microseconds of work, where handing half to a helper (about a
/// microsecond) and summing the two halves' gradients pay off.
#[cfg(feature = "parallel")]
const SPLIT_MIN_WORKSPACE: usize = 1 << 16;

impl<T: Scalar, M: Train<T>> Step<T, M> {
    fn new(batch_size: usize, weighted: bool) -> Self {
        #[cfg(feature = "parallel")]
        let passes = if crate::kernels::threads() > 1 && M::STATS_LEN == 0 && batch_size >= 2 {
            let first = batch_size.div_ceil(2);
            vec![Pass::new(batch_size), Pass::new(batch_size - first)]
        } else {
            vec![Pass::new(batch_size)]
        };
        #[cfg(not(feature = "parallel"))]
        let passes = vec![Pass::new(batch_size)];
        Step {
            inputs: M::INPUT_WIDTHS.iter().map(|&w| vec![T::zero(); w * batch_size]).collect(),
            targets: M::HEADS.iter().map(|h| vec![T::zero(); h.target_width * batch_size]).collect(),
            weights: vec![T::zero(); if weighted { batch_size } else { 0 }],
            passes,
            #[cfg(feature = "parallel")]
            split_from: SPLIT_MIN_WORKSPACE,
        }
    }

    /// Trains `model` on the training samples `indices`, adds the batch to
    /// `acc` and returns its total loss; a non-finite loss is returned
    /// before anything is added or applied.
    ///
    /// With the `parallel` feature, a big enough batch of a model without
    /// batch normalization (whose statistics are the whole batch's) runs as
    /// two halves, the second on a helper thread, like Keras's data
    /// parallelism over devices: the batch's loss and gradients are the
    /// halves' averaged by their sizes, as the loss is a mean over samples
    /// (regularization terms, in both halves, stay counted once); the
    /// second half's dropout draws from its own seed.
    fn train<O: Optimizer<T, M>>(
        &mut self,
        model: &mut M,
        optimizer: &mut O,
        data: &Split<'_, T>,
        indices: &[usize],
        seed: u64,
        acc: &mut Accum,
    ) -> f64 {
        let n = indices.len();
        for (i, buf) in self.inputs.iter_mut().enumerate() {
            let w = M::INPUT_WIDTHS[i];
            gather(&data.train.inputs[i], w, indices, &mut buf[..w * n]);
        }
        for (h, buf) in self.targets.iter_mut().enumerate() {
            let w = M::HEADS[h].target_width;
            gather(data.train.targets[h], w, indices, &mut buf[..w * n]);
        }
        let weighted = data.train_weights.map(|w| gather(w, 1, indices, &mut self.weights[..n])).is_some();
        let dropout_seed = rng::mix(seed ^ rng::mix(optimizer.iterations() ^ 0xD1B5_4A32_D192_ED03));
        #[cfg(feature = "parallel")]
        if self.passes.len() == 2 && M::TRAIN_ROWS * n >= self.split_from {
            return self.train_halves(model, optimizer, n, weighted, dropout_seed, acc);
        }
        let (ins, outs) = (
            samples_of(&self.inputs, input_width::<T, M>, 0, n),
            samples_of(&self.targets, target_width::<T, M>, 0, n),
        );
        let weights = weighted.then(|| &self.weights[..n]);
        let pass = &mut self.passes[0];
        let total = pass.run(model, n, ins.as_slice(), outs.as_slice(), weights, dropout_seed).as_f64();
        if total.is_finite() {
            acc.add::<T, M>(n, total, &pass.head_losses, pass.workspace(), outs.as_slice());
            model.update_moving_statistics(&pass.stats);
            optimizer.apply(model, &pass.grads);
        }
        total
    }

    /// [`Step::train`] on two threads: samples `0..⌈n/2⌉` here, the rest on
    /// a helper, each into its own [`Pass`].
    #[cfg(feature = "parallel")]
    fn train_halves<O: Optimizer<T, M>>(
        &mut self,
        model: &mut M,
        optimizer: &mut O,
        n: usize,
        weighted: bool,
        dropout_seed: u64,
        acc: &mut Accum,
    ) -> f64 {
        use std::sync::{Mutex, PoisonError};
        let half = n.div_ceil(2);
        let ranges = [(0, half), (half, n)];
        let (inputs, targets, weights) = (&self.inputs, &self.targets, &self.weights);
        let input_slices = |(lo, hi): (usize, usize)| samples_of(inputs, input_width::<T, M>, lo, hi);
        let target_slices = |(lo, hi): (usize, usize)| samples_of(targets, target_width::<T, M>, lo, hi);
        let [first, second] = &mut self.passes[..] else { unreachable!("two passes") };
        let passes = [Mutex::new(first), Mutex::new(second)];
        let shared: &M = model;
        crate::kernels::run_parts(2, &|p| {
            let (lo, hi) = ranges[p];
            let w = weighted.then(|| &weights[lo..hi]);
            let seed = if p == 0 { dropout_seed } else { rng::mix(dropout_seed ^ 0x9E37_79B9_7F4A_7C15) };
            let mut pass = passes[p].lock().unwrap_or_else(PoisonError::into_inner);
            pass.run(shared, hi - lo, input_slices(ranges[p]).as_slice(), target_slices(ranges[p]).as_slice(), w, seed);
        });
        let [first, second] = passes.map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner));
        let shares = ranges.map(|(lo, hi)| T::of_f64((hi - lo) as f64 / n as f64));
        let total = (shares[0] * first.total + shares[1] * second.total).as_f64();
        if total.is_finite() {
            for (pass, &range) in [&*first, &*second].into_iter().zip(&ranges) {
                let count = range.1 - range.0;
                acc.add::<T, M>(
                    count,
                    pass.total.as_f64(),
                    &pass.head_losses,
                    pass.workspace(),
                    target_slices(range).as_slice(),
                );
            }
            // The batch's gradient: the halves' by their shares of it.
            for i in 0..M::TENSORS.len() {
                for (g, &h) in first.grads.tensor_mut(i).iter_mut().zip(second.grads.tensor(i)) {
                    *g = shares[0] * *g + shares[1] * h;
                }
            }
            optimizer.apply(model, &first.grads);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_models::*;
    use super::*;
    use crate::fit::{evaluate, evaluate_weighted, EarlyStopping, FitError};
    use crate::network::Network;

    #[test]
    fn loss_decreases_on_a_separable_problem() {
        let (x, y) = separable(64, 1);
        let mut model = Logistic::with_seed(3);
        let mut opt = sgd(0.5);
        let history = fit(&mut model, &mut opt, &x, &y, &quiet().epochs(30).batch_size(8)).unwrap();
        assert_eq!(history.names().collect::<Vec<_>>(), ["loss", "accuracy"]);
        assert_eq!(history.epochs(), 30);
        let loss = history.get("loss").unwrap();
        assert_eq!(loss.len(), 30);
        assert!(loss[29] < 0.5 * loss[0], "{loss:?}");
        assert!(loss.windows(2).filter(|w| w[1] > w[0]).count() < 5, "{loss:?}");
        assert_eq!(history.last("accuracy"), Some(1.0));
        assert_eq!(opt.iterations, 30 * 8);
        #[cfg(feature = "std")]
        assert_eq!(history.epoch_times().len(), 30);
        // The trained model classifies the data.
        let logs = evaluate(&model, &x, &y, 32).unwrap();
        assert_eq!(logs.get("accuracy"), Some(1.0));
        assert!(logs.loss() < loss[0]);
    }

    #[test]
    fn the_last_partial_batch_is_trained() {
        let x = ids(10);
        let y = Cols::<1>::from_element(10, 1.0);
        let mut model = Probe::default();
        let mut opt = sgd(0.1);
        fit(&mut model, &mut opt, &x, &y, &quiet().epochs(2).batch_size(4)).unwrap();
        let trained = model.trained.borrow();
        assert_eq!(trained.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2, 4, 4, 2]);
        for epoch in trained.chunks(3) {
            let seen = sorted(epoch.concat());
            assert_eq!(seen, (0..10).map(|i| i as f64).collect::<Vec<_>>());
        }
        assert_eq!(opt.iterations, 6);
        assert_eq!(model.updates, 6, "update_moving_statistics after every step");
        // A batch larger than the data is one batch.
        let mut model = Probe::default();
        fit(&mut model, &mut sgd(0.1), &x, &y, &quiet().batch_size(1000)).unwrap();
        assert_eq!(model.trained.borrow().iter().map(Vec::len).collect::<Vec<_>>(), [10]);
    }

    #[test]
    fn epoch_loss_weights_batches_by_size() {
        // With a learning rate of 0 the epoch's loss is the data set's mean
        // loss only if the partial batch is weighted by its size.
        let x = ids(5);
        let y = cols::<1>(&[1.0, 1.0, 1.0, 1.0, 3.0]);
        let mut model = Probe { b: [0.0], ..Probe::default() };
        let history = fit(&mut model, &mut sgd(0.0), &x, &y, &quiet().batch_size(4).shuffle(false)).unwrap();
        assert!((history.get("loss").unwrap()[0] - 13.0 / 5.0).abs() < 1e-12);
    }

    #[test]
    fn validation_split_takes_the_last_samples() {
        let x = ids(10);
        let y = Cols::<1>::from_element(10, 1.0);
        let mut model = Probe::default();
        let options = quiet().epochs(3).batch_size(3).validation_split(0.25).seed(9);
        let history = fit(&mut model, &mut sgd(0.1), &x, &y, &options).unwrap();
        assert_eq!(history.names().collect::<Vec<_>>(), ["loss", "val_loss"]);
        // floor(10 · 0.75) = 7 training samples, shuffled; 7, 8, 9 validate, in order.
        let trained = model.trained.borrow();
        assert_eq!(trained.len(), 3 * 3);
        for epoch in trained.chunks(3) {
            assert_eq!(sorted(epoch.concat()), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        }
        let evaluated = model.evaluated.borrow();
        assert_eq!(evaluated.len(), 3, "one validation batch per epoch");
        assert!(evaluated.iter().all(|batch| batch == &[7.0, 8.0, 9.0]));
        // val_loss is the inference-mode loss after the epoch: (b - 1)².
        let b = model.b[0];
        assert!((history.last("val_loss").unwrap() - (b - 1.0) * (b - 1.0)).abs() < 1e-12);
    }

    #[test]
    fn validation_split_uses_the_tail_of_sample_weights() {
        let x = ids(4);
        let y = cols::<1>(&[0.0, 0.0, 2.0, 4.0]);
        let w = [1.0, 1.0, 0.0, 1.0];
        let mut model = Probe::default();
        let options = quiet().validation_split(0.5).sample_weight(&w).shuffle(false);
        let history = fit(&mut model, &mut sgd(0.0), &x, &y, &options).unwrap();
        // Validation: samples 2 and 3 with weights 0 and 1, b = 0: (0·4 + 1·16) / 2.
        assert_eq!(history.last("val_loss"), Some(8.0));
    }

    #[test]
    fn shuffling_is_reproducible_for_a_seed() {
        let x = ids(20);
        let y = Cols::<1>::from_element(20, 1.0);
        let order = |options: FitOptions<'_, f64, Probe>| {
            let mut model = Probe::default();
            fit(&mut model, &mut sgd(0.01), &x, &y, &options.epochs(2).batch_size(5)).unwrap();
            let trained = model.trained.borrow().concat();
            let seeds = model.seeds.borrow().clone();
            (trained, seeds)
        };
        let (a, seeds_a) = order(quiet().seed(1));
        let (b, seeds_b) = order(quiet().seed(1));
        let (c, seeds_c) = order(quiet().seed(2));
        let (plain, _) = order(quiet().shuffle(false));
        assert_eq!(a, b);
        assert_eq!(seeds_a, seeds_b);
        assert_ne!(a, c);
        assert_ne!(seeds_a, seeds_c);
        // Each epoch is its own permutation.
        assert_ne!(a[..20], a[20..]);
        assert_eq!(sorted(a[..20].to_vec()), plain[..20]);
        let in_order: Vec<f64> = (0..20).map(|i| i as f64).collect();
        assert_eq!(plain[..20], in_order[..]);
        assert_eq!(plain[20..], in_order[..]);
        // Every step gets its own dropout seed.
        let mut unique = seeds_a.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seeds_a.len());
    }

    #[test]
    fn zero_sample_weights_exclude_samples() {
        let x = ids(6);
        let y = cols::<1>(&[1.0, 1.0, 1.0, 1.0, 100.0, 100.0]);
        let w = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0];
        let mut model = Probe::default();
        let options = quiet().epochs(200).batch_size(3).sample_weight(&w);
        fit(&mut model, &mut sgd(0.1), &x, &y, &options).unwrap();
        assert!((model.b[0] - 1.0).abs() < 1e-6, "{}", model.b[0]);
        // Without the weights the outliers pull the bias up.
        let mut model = Probe::default();
        fit(&mut model, &mut sgd(0.1), &x, &y, &quiet().epochs(200).batch_size(3)).unwrap();
        assert!(model.b[0] > 20.0, "{}", model.b[0]);
        // The weighted loss is Σ w·loss / n, with n the batch size.
        let logs = evaluate_weighted(&Probe::default(), &x, &y, Some(&w[..]), 6).unwrap();
        assert!((logs.loss() - 4.0 / 6.0).abs() < 1e-12);
    }

    /// Probe data where the training targets (1) pull the bias away from
    /// the validation targets (0), so `val_loss` rises every epoch.
    fn diverging() -> (Cols<1>, Cols<1>, Cols<1>, Cols<1>) {
        (ids(8), Cols::<1>::from_element(8, 1.0), ids(4), Cols::<1>::from_element(4, 0.0))
    }

    #[test]
    fn early_stopping_stops_and_restores_the_best_weights() {
        let (x, y, vx, vy) = diverging();
        let base = || quiet::<Probe>().epochs(20).batch_size(4).seed(5).validation_data(&vx, &vy);

        let mut after_first = Probe::default();
        fit(&mut after_first, &mut sgd(0.1), &x, &y, &base().epochs(1)).unwrap();

        let mut model = Probe::default();
        let stop = EarlyStopping::new("val_loss").patience(2).restore_best_weights(true);
        let history = fit(&mut model, &mut sgd(0.1), &x, &y, &base().early_stopping(stop)).unwrap();
        // Epoch 1 is the best; epochs 2 and 3 do not improve: stop after 3.
        assert_eq!(history.epochs(), 3);
        assert_eq!(history.stopped_epoch(), Some(2));
        assert_eq!(history.best_epoch(), Some(0));
        let val = history.get("val_loss").unwrap();
        assert!(val[0] < val[1] && val[1] < val[2], "{val:?}");
        assert_eq!(model.b, after_first.b);

        // Without restoring, the last weights stay.
        let mut model = Probe::default();
        let stop = EarlyStopping::new("val_loss").patience(2);
        fit(&mut model, &mut sgd(0.1), &x, &y, &base().early_stopping(stop)).unwrap();
        assert!(model.b[0] > after_first.b[0]);

        // Restoring happens at the end even when training does not stop early.
        let mut model = Probe::default();
        let stop = EarlyStopping::new("val_loss").patience(100).restore_best_weights(true);
        let history = fit(&mut model, &mut sgd(0.1), &x, &y, &base().epochs(4).early_stopping(stop)).unwrap();
        assert_eq!(history.epochs(), 4);
        assert_eq!(history.stopped_epoch(), None);
        assert_eq!(model.b, after_first.b);

        // "loss" keeps improving, so monitoring it never stops.
        let mut model = Probe::default();
        let stop = EarlyStopping::new("loss").patience(0);
        let history = fit(&mut model, &mut sgd(0.1), &x, &y, &base().epochs(6).early_stopping(stop)).unwrap();
        assert_eq!(history.epochs(), 6);
    }

    #[test]
    fn a_nan_loss_stops_with_an_error() {
        let x = ids(10);
        let y = Cols::<1>::from_element(10, 1.0);
        let mut model = Probe { poison: Some(5.0), ..Probe::default() };
        let mut opt = sgd(0.1);
        let err = fit(&mut model, &mut opt, &x, &y, &quiet().epochs(3).batch_size(2).shuffle(false)).unwrap_err();
        match &err {
            FitError::NonFinite { epoch, batch, loss, history } => {
                assert_eq!((*epoch, *batch), (0, 2));
                assert!(loss.is_nan());
                assert_eq!(history.epochs(), 0);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.to_string(), "the loss became NaN at epoch 1, batch 3; training stopped before that update");
        // The bad batch's update is not applied.
        assert_eq!(opt.iterations, 2);
        assert_eq!(model.updates, 2);
        assert!(model.b[0].is_finite());

        // Divergence to infinity is caught too, after the epochs that went well.
        let mut model = Probe::default();
        let err = fit(&mut model, &mut sgd(1e3), &x, &y, &quiet().epochs(100).batch_size(10)).unwrap_err();
        match err {
            FitError::NonFinite { loss, history, .. } => {
                assert!(loss.is_infinite());
                assert!(history.epochs() > 0);
                assert_eq!(history.get("loss").unwrap().len(), history.epochs());
            }
            other => panic!("{other:?}"),
        }

        // As with Keras's TerminateOnNaN, early stopping still restores the best weights.
        let options = quiet().batch_size(10);
        let mut after_first = Probe::default();
        fit(&mut after_first, &mut sgd(1e3), &x, &y, &options).unwrap();
        let mut model = Probe::default();
        let stop = EarlyStopping::new("loss").patience(1000).restore_best_weights(true);
        let options = options.epochs(100).early_stopping(stop);
        let err = fit(&mut model, &mut sgd(1e3), &x, &y, &options).unwrap_err();
        assert!(matches!(err, FitError::NonFinite { .. }));
        assert_eq!(model.b, after_first.b);
    }

    /// With the `parallel` feature, a batch trained as two halves on two
    /// threads gives the whole batch's loss, metrics and update (to
    /// rounding), with sample weights and two heads.
    #[cfg(feature = "parallel")]
    #[test]
    fn two_halves_train_as_the_whole_batch() {
        if crate::kernels::threads() < 2 {
            return;
        }
        let d = two_head_data(37, 5);
        let weights: Vec<f64> = (0..37).map(|i| 0.25 + f64::from(i % 4)).collect();
        let options = quiet().batch_size(37).sample_weight(&weights);
        let data = checked_split::<f64, TwoHead>((&d.a, &d.b), (&d.reg, &d.cls), &options).unwrap();
        let indices: Vec<usize> = (0..37).rev().collect();
        let run = |split_from: usize| {
            let mut step = Step::<f64, TwoHead>::new(37, true);
            assert_eq!(step.passes.len(), 2);
            step.split_from = split_from;
            let (mut model, mut optimizer, mut acc) = (TwoHead::with_seed(4), sgd(0.3), Accum::new::<f64, TwoHead>());
            let mut totals = vec![];
            for _ in 0..3 {
                totals.push(step.train(&mut model, &mut optimizer, &data, &indices, 9, &mut acc));
            }
            let mut logs = vec![];
            acc.values::<f64, TwoHead>(&mut logs);
            (model, totals, logs)
        };
        let (whole, halves) = (run(usize::MAX), run(0));
        for i in 0..TwoHead::TENSORS.len() {
            for (a, b) in whole.0.tensor(i).iter().zip(halves.0.tensor(i)) {
                assert!((a - b).abs() < 1e-13, "tensor {i}: {a} against {b}");
            }
        }
        assert_ne!(whole.0, TwoHead::with_seed(4));
        for (a, b) in whole.1.iter().chain(&whole.2).zip(halves.1.iter().chain(&halves.2)) {
            assert!((a - b).abs() < 1e-13, "{a} against {b}");
        }
    }

    #[test]
    fn two_heads_log_per_head_losses_and_metrics() {
        let d = two_head_data(50, 3);
        let mut model = TwoHead::with_seed(2);
        let options = quiet().epochs(40).batch_size(8).validation_split(0.2);
        let history = fit(&mut model, &mut sgd(0.2), (&d.a, &d.b), (&d.reg, &d.cls), &options).unwrap();
        assert_eq!(
            history.names().collect::<Vec<_>>(),
            [
                "loss",
                "reg_loss",
                "cls_loss",
                "reg_mae",
                "cls_accuracy",
                "val_loss",
                "val_reg_loss",
                "val_cls_loss",
                "val_reg_mae",
                "val_cls_accuracy"
            ]
        );
        for epoch in 0..history.epochs() {
            let logs = history.epoch_logs(epoch).unwrap();
            // The total is the weighted sum of the unweighted head losses.
            let total = 0.5 * logs.get("reg_loss").unwrap() + logs.get("cls_loss").unwrap();
            assert!((logs.loss() - total).abs() < 1e-9);
            let val_total = 0.5 * logs.get("val_reg_loss").unwrap() + logs.get("val_cls_loss").unwrap();
            assert!((logs.get("val_loss").unwrap() - val_total).abs() < 1e-9);
        }
        let val = history.get("val_loss").unwrap();
        assert!(val[39] < 0.2 * val[0], "{val:?}");
        assert!(history.last("val_reg_mae").unwrap() < 0.1);
        assert!(history.epoch_logs(40).is_none());
    }

    #[test]
    fn a_learning_rate_schedule_sets_and_logs_the_rate() {
        fn halve(epoch: usize, lr: f64) -> f64 {
            if epoch == 0 {
                lr
            } else {
                lr / 2.0
            }
        }
        let x = ids(4);
        let y = Cols::<1>::from_element(4, 1.0);
        let mut opt = sgd(0.4);
        let options = quiet().epochs(3).learning_rate_schedule(halve);
        let history = fit(&mut Probe::default(), &mut opt, &x, &y, &options).unwrap();
        assert_eq!(history.get("learning_rate"), Some(&[0.4, 0.2, 0.1][..]));
        assert_eq!(opt.lr, 0.1);
    }

    #[test]
    fn zero_epochs_train_nothing() {
        let x = ids(4);
        let y = Cols::<1>::from_element(4, 1.0);
        let mut model = Probe::default();
        let history = fit(&mut model, &mut sgd(0.1), &x, &y, &quiet().epochs(0)).unwrap();
        assert_eq!(history.epochs(), 0);
        assert_eq!(history.get("loss"), Some(&[][..]));
        assert!(model.trained.borrow().is_empty());
    }
}
