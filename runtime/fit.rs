//! Keras-style `fit`, `evaluate` and `predict` for any generated network.
//!
//! These work through the [`Train`] and [`Data`] traits that every struct
//! [`network!`](macro@crate::network) generates, so one training loop serves every
//! model. Data sets are `OMatrix<T, Const<width>, Dyn>`, a column a sample, one
//! per input and one per head (a tuple of references when there are several).
//!
//! ```
//! use staticnet::nalgebra::{Const, Dyn, OMatrix};
//! use staticnet::{fit, FitOptions};
//!
//! staticnet::network! {
//!     /// Learns `x0 OR x1`.
//!     pub struct Or {
//!         let x = Input(2);
//!         let y = Dense(1, activation = sigmoid)(x);
//!         Model(x, y);
//!         compile(optimizer = sgd, loss = binary_crossentropy, metrics = [accuracy]);
//!     }
//! }
//!
//! let x = OMatrix::<f64, Const<2>, Dyn>::from_column_slice(&[0., 0., 0., 1., 1., 0., 1., 1.]);
//! let y = OMatrix::<f64, Const<1>, Dyn>::from_column_slice(&[0., 1., 1., 1.]);
//! let mut model = Or::<f64>::new(7);
//! let mut optimizer = Or::<f64>::optimizer();
//! let options = FitOptions::new().epochs(3).batch_size(2).verbose(false);
//! let history = fit(&mut model, &mut optimizer, &x, &y, &options)?;
//! assert_eq!(history.epochs(), 3);
//! assert_eq!(history.get("loss").unwrap().len(), 3);
//! assert!(history.get("accuracy").is_some());
//! # Ok::<(), staticnet::FitError>(())
//! ```
//!
//! What Keras does that this module does too:
//! - the last partial batch is trained and its loss is averaged over its real size;
//! - `validation_split` takes the *last* samples, before any shuffling;
//! - the epoch's `loss` is the mean of the batch losses weighted by batch size,
//!   per-head losses (`"{head}_loss"`, unweighted) appear when there are
//!   several heads, metrics are `"accuracy"` (one head) or
//!   `"{head}_accuracy"` (several), and validation values carry a `val_` prefix;
//! - metrics are not weighted by `sample_weight` (Keras weights only its
//!   `weighted_metrics`), losses are: `Σ w·loss / batch_size`;
//! - early stopping follows `keras.callbacks.EarlyStopping`, including
//!   restoring the best weights at the end of training.
//!
//! Where it differs: a NaN or infinite training loss stops training with
//! [`FitError::NonFinite`] *before* that batch's update is applied (Keras's
//! `TerminateOnNaN` applies it), and an early-stopping monitor that training
//! does not log is an error rather than a warning.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use nalgebra::DMatrix;

use crate::losses;
use crate::network::{Data, HeadInfo, Mode, Network, Train};
use crate::optim::Optimizer;
use crate::rng::{self, SplitMix64};
use crate::Scalar;

#[cfg(feature = "std")]
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/// Whether an early-stopping monitor should go down or up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MonitorMode {
    /// Up for names containing `"acc"` (accuracies), down otherwise (losses,
    /// `mse`, `mae`).
    #[default]
    Auto,
    /// Lower is better.
    Min,
    /// Higher is better.
    Max,
}

/// Stops training when a logged value stops improving, as
/// `keras.callbacks.EarlyStopping` does.
///
/// After an epoch that does not improve on the best value by more than
/// `min_delta`, a counter goes up; training stops once it reaches `patience`
/// (never after the first epoch). With `restore_best_weights`, the weights of
/// the best epoch are copied back into the model when training ends, whether
/// or not it stopped early (Keras 3's behaviour).
///
/// ```
/// use staticnet::fit::{EarlyStopping, MonitorMode};
/// let stop = EarlyStopping::new("val_accuracy").patience(5).restore_best_weights(true);
/// assert_eq!(stop.monitor(), "val_accuracy");
/// assert_eq!(stop.resolved_mode(), MonitorMode::Max);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct EarlyStopping {
    monitor: String,
    mode: MonitorMode,
    min_delta: f64,
    patience: usize,
    baseline: Option<f64>,
    restore_best_weights: bool,
    start_from_epoch: usize,
}

impl Default for EarlyStopping {
    /// Keras's defaults: monitor `"val_loss"`, patience 0, `min_delta` 0,
    /// mode auto, no baseline, no restoring.
    fn default() -> Self {
        Self::new("val_loss")
    }
}

impl EarlyStopping {
    /// Early stopping on the logged value `monitor` (`"loss"`, `"val_loss"`,
    /// `"val_accuracy"`, `"val_{head}_loss"`, …) with Keras's other defaults.
    pub fn new(monitor: impl Into<String>) -> Self {
        Self {
            monitor: monitor.into(),
            mode: MonitorMode::Auto,
            min_delta: 0.0,
            patience: 0,
            baseline: None,
            restore_best_weights: false,
            start_from_epoch: 0,
        }
    }

    /// Whether the value should go down or up (default [`MonitorMode::Auto`]).
    pub fn mode(mut self, mode: MonitorMode) -> Self {
        self.mode = mode;
        self
    }

    /// The smallest change that counts as an improvement (its absolute value
    /// is used, as in Keras; default 0).
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = libm::fabs(min_delta);
        self
    }

    /// Epochs without improvement after which training stops (default 0).
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// A value the monitor must beat before the patience counter resets.
    pub fn baseline(mut self, baseline: f64) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// Whether to copy the best epoch's weights back at the end (default false).
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// Number of (0-based) warm-up epochs that are not monitored (default 0).
    pub fn start_from_epoch(mut self, epoch: usize) -> Self {
        self.start_from_epoch = epoch;
        self
    }

    /// The monitored name.
    pub fn monitor(&self) -> &str {
        &self.monitor
    }

    /// [`MonitorMode::Min`] or [`MonitorMode::Max`], with `Auto` resolved
    /// from the monitored name.
    pub fn resolved_mode(&self) -> MonitorMode {
        match self.mode {
            MonitorMode::Auto if self.monitor.contains("acc") => MonitorMode::Max,
            MonitorMode::Auto => MonitorMode::Min,
            mode => mode,
        }
    }
}

/// The state of an [`EarlyStopping`] during one `fit`.
#[derive(Clone, Debug)]
struct Stopper {
    maximize: bool,
    min_delta: f64,
    patience: usize,
    baseline: Option<f64>,
    start_from_epoch: usize,
    best: f64,
    best_epoch: Option<usize>,
    wait: usize,
}

/// What [`Stopper::update`] decides after an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StopDecision {
    /// The epoch's weights are the best so far: snapshot them.
    snapshot: bool,
    /// Stop training.
    stop: bool,
}

impl Stopper {
    fn new(config: &EarlyStopping) -> Self {
        let maximize = config.resolved_mode() == MonitorMode::Max;
        Self {
            maximize,
            min_delta: config.min_delta,
            patience: config.patience,
            baseline: config.baseline,
            start_from_epoch: config.start_from_epoch,
            best: if maximize { f64::NEG_INFINITY } else { f64::INFINITY },
            best_epoch: None,
            wait: 0,
        }
    }

    fn is_improvement(&self, value: f64, reference: f64) -> bool {
        if self.maximize {
            value - self.min_delta > reference
        } else {
            value + self.min_delta < reference
        }
    }

    /// Keras's `EarlyStopping.on_epoch_end` for the 0-based `epoch`.
    fn update(&mut self, epoch: usize, value: f64) -> StopDecision {
        let mut decision = StopDecision { snapshot: false, stop: false };
        if epoch < self.start_from_epoch {
            return decision;
        }
        if self.best_epoch.is_none() {
            // Until something improves, the first monitored weights are the best.
            self.best_epoch = Some(epoch);
            decision.snapshot = true;
        }
        self.wait += 1;
        if self.is_improvement(value, self.best) {
            self.best = value;
            self.best_epoch = Some(epoch);
            decision.snapshot = true;
            let beats_baseline = match self.baseline {
                Some(baseline) => self.is_improvement(value, baseline),
                None => true,
            };
            if beats_baseline {
                self.wait = 0;
            }
            return decision;
        }
        decision.stop = self.wait >= self.patience && epoch > 0;
        decision
    }
}

/// A learning-rate schedule: `(0-based epoch, current rate) -> new rate`,
/// called at the start of every epoch, as `keras.callbacks.LearningRateScheduler`.
pub type LearningRateSchedule = fn(usize, f64) -> f64;

/// The settings of [`fit`], with Keras's defaults and builder methods.
///
/// ```
/// use staticnet::fit::EarlyStopping;
/// # use staticnet::{FitOptions, Network, Data, Scalar};
/// # fn options<'a, T: Scalar, M: Data<T>>() -> FitOptions<'a, T, M> {
/// FitOptions::new()
///     .epochs(50)
///     .batch_size(16)
///     .validation_split(0.2)
///     .early_stopping(EarlyStopping::new("val_loss").patience(3).restore_best_weights(true))
///     .seed(42)
/// # }
/// ```
pub struct FitOptions<'a, T: Scalar, M: Data<T>> {
    epochs: usize,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    validation_split: f64,
    validation_data: Option<(M::Inputs<'a>, M::Targets<'a>)>,
    validation_sample_weight: Option<&'a [T]>,
    sample_weight: Option<&'a [T]>,
    early_stopping: Option<EarlyStopping>,
    learning_rate_schedule: Option<LearningRateSchedule>,
    verbose: bool,
}

impl<'a, T: Scalar, M: Data<T>> Clone for FitOptions<'a, T, M> {
    fn clone(&self) -> Self {
        Self {
            epochs: self.epochs,
            batch_size: self.batch_size,
            shuffle: self.shuffle,
            seed: self.seed,
            validation_split: self.validation_split,
            validation_data: self.validation_data,
            validation_sample_weight: self.validation_sample_weight,
            sample_weight: self.sample_weight,
            early_stopping: self.early_stopping.clone(),
            learning_rate_schedule: self.learning_rate_schedule,
            verbose: self.verbose,
        }
    }
}

impl<'a, T: Scalar, M: Data<T>> fmt::Debug for FitOptions<'a, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FitOptions")
            .field("epochs", &self.epochs)
            .field("batch_size", &self.batch_size)
            .field("shuffle", &self.shuffle)
            .field("seed", &self.seed)
            .field("validation_split", &self.validation_split)
            .field("validation_data", &self.validation_data.as_ref().map(|_| ".."))
            .field("validation_sample_weight", &self.validation_sample_weight.map(<[T]>::len))
            .field("sample_weight", &self.sample_weight.map(<[T]>::len))
            .field("early_stopping", &self.early_stopping)
            .field("learning_rate_schedule", &self.learning_rate_schedule.is_some())
            .field("verbose", &self.verbose)
            .finish()
    }
}

impl<'a, T: Scalar, M: Data<T>> Default for FitOptions<'a, T, M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, T: Scalar, M: Data<T>> FitOptions<'a, T, M> {
    /// Keras's defaults: 1 epoch, batch size 32, shuffled (seed 0), no
    /// validation, no sample weights, no early stopping, verbose.
    pub fn new() -> Self {
        Self {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            seed: 0,
            validation_split: 0.0,
            validation_data: None,
            validation_sample_weight: None,
            sample_weight: None,
            early_stopping: None,
            learning_rate_schedule: None,
            verbose: true,
        }
    }

    /// Number of passes over the training data (default 1; 0 trains nothing).
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Samples per gradient update (default 32); also the batch size of
    /// validation.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Whether to shuffle the training samples before each epoch (default true).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Seed of the shuffling and of the dropout masks (default 0): the same
    /// seed, model and optimizer give the same training run.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Fraction in `[0, 1)` of the data held out for validation: the *last*
    /// `n - floor(n · (1 - split))` samples, taken before shuffling, with
    /// their sample weights (default 0, ignored when
    /// [`validation_data`](Self::validation_data) is given).
    pub fn validation_split(mut self, validation_split: f64) -> Self {
        self.validation_split = validation_split;
        self
    }

    /// A separate validation set, evaluated in inference mode after each epoch.
    pub fn validation_data(mut self, x: M::Inputs<'a>, y: M::Targets<'a>) -> Self {
        self.validation_data = Some((x, y));
        self
    }

    /// Per-sample weights of the validation set given by
    /// [`validation_data`](Self::validation_data).
    pub fn validation_sample_weight(mut self, weights: &'a [T]) -> Self {
        self.validation_sample_weight = Some(weights);
        self
    }

    /// One weight per training sample: a batch's loss is `Σ w·loss / batch_size`,
    /// so a weight of 0 removes a sample from the gradient.
    pub fn sample_weight(mut self, weights: &'a [T]) -> Self {
        self.sample_weight = Some(weights);
        self
    }

    /// Stops training when a logged value stops improving.
    pub fn early_stopping(mut self, early_stopping: EarlyStopping) -> Self {
        self.early_stopping = Some(early_stopping);
        self
    }

    /// Sets the optimizer's learning rate at the start of each epoch to
    /// `schedule(epoch, current)`; the rate is then logged as `"learning_rate"`.
    pub fn learning_rate_schedule(mut self, schedule: LearningRateSchedule) -> Self {
        self.learning_rate_schedule = Some(schedule);
        self
    }

    /// Whether to print a progress line per epoch (default true; printing
    /// needs the `std` feature).
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }
}

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

/// Named values, in the order Keras logs them: `loss`, per-head losses,
/// metrics (Keras's `logs` dictionary, or `evaluate(..., return_dict=True)`).
///
/// Its `Display` is the progress line's `loss: 0.1234 - accuracy: 0.9650`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logs {
    entries: Vec<(String, f64)>,
}

impl Logs {
    /// The value logged as `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.entries.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }

    /// The total loss.
    pub fn loss(&self) -> f64 {
        self.get("loss").unwrap_or(f64::NAN)
    }

    /// Every `(name, value)`, in log order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        self.entries.iter().map(|(n, v)| (n.as_str(), *v))
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Display for Logs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(" - ")?;
            }
            write!(f, "{name}: ")?;
            write_value(f, *value)?;
        }
        Ok(())
    }
}

/// Writes a logged value as Keras's progress bar does: 4 decimals, or
/// scientific notation (`1.2340e-04`) for magnitudes up to 1e-3.
fn write_value(f: &mut impl fmt::Write, value: f64) -> fmt::Result {
    if !value.is_finite() || libm::fabs(value) > 1e-3 {
        return write!(f, "{value:.4}");
    }
    let s = format!("{value:.4e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            write!(f, "{mantissa}e{sign}{digits:0>2}")
        }
        None => f.write_str(&s),
    }
}

/// What [`fit`] returns: each logged value per epoch, as Keras's
/// `history.history`.
///
/// ```
/// # fn show(history: &staticnet::History) {
/// if let Some(val_loss) = history.get("val_loss") {
///     println!("best validation loss {}", val_loss.iter().cloned().fold(f64::INFINITY, f64::min));
/// }
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    names: Vec<String>,
    values: Vec<Vec<f64>>,
    epochs: usize,
    stopped_epoch: Option<usize>,
    best_epoch: Option<usize>,
    #[cfg(feature = "std")]
    epoch_times: Vec<Duration>,
}

impl History {
    fn with_names(names: Vec<String>) -> Self {
        let values = names.iter().map(|_| Vec::new()).collect();
        Self { names, values, ..Self::default() }
    }

    fn push(&mut self, values: &[f64]) {
        for (column, &v) in self.values.iter_mut().zip(values) {
            column.push(v);
        }
        self.epochs += 1;
    }

    /// The per-epoch values logged as `name` (`"loss"`, `"val_accuracy"`, …).
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.names.iter().position(|n| n == name).map(|i| self.values[i].as_slice())
    }

    /// The value logged as `name` after the last epoch.
    pub fn last(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|v| v.last().copied())
    }

    /// Number of epochs trained.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// The logged names, in log order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.names.iter().map(String::as_str)
    }

    /// Every `(name, per-epoch values)`, in log order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[f64])> + '_ {
        self.names.iter().map(String::as_str).zip(self.values.iter().map(Vec::as_slice))
    }

    /// The values of (0-based) epoch `epoch`, as [`Logs`].
    pub fn epoch_logs(&self, epoch: usize) -> Option<Logs> {
        if epoch >= self.epochs {
            return None;
        }
        let entries = self.iter().map(|(n, v)| (String::from(n), v[epoch])).collect();
        Some(Logs { entries })
    }

    /// The 0-based epoch after which early stopping stopped training, if it did.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The 0-based epoch with the best monitored value, when early stopping was on.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    /// Wall time of each epoch, validation included.
    #[cfg(feature = "std")]
    pub fn epoch_times(&self) -> &[Duration] {
        &self.epoch_times
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why [`fit`], [`evaluate`] or [`predict`] refused the data or stopped.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FitError {
    /// Two arrays that must hold one column per sample disagree.
    SampleCountMismatch {
        /// The first array, such as ``input `x` ``.
        first: String,
        /// Its number of samples.
        first_samples: usize,
        /// The disagreeing array, such as ``target `age` ``.
        second: String,
        /// Its number of samples.
        second_samples: usize,
    },
    /// A buffer's length is not a whole number of columns.
    RaggedData {
        /// The array, such as ``input `x` ``.
        what: String,
        /// Its number of scalars.
        len: usize,
        /// Its number of rows per sample.
        width: usize,
    },
    /// The data holds no sample.
    NoSamples {
        /// `"training data"`, `"validation data"` or `"data"`.
        what: &'static str,
    },
    /// `batch_size` is 0.
    ZeroBatchSize,
    /// `validation_split` is not in `[0, 1)`.
    InvalidValidationSplit {
        /// The value given.
        validation_split: f64,
    },
    /// `validation_split` leaves no training or no validation sample.
    SplitTooSmall {
        /// Number of samples in the data.
        samples: usize,
        /// The value given.
        validation_split: f64,
    },
    /// A sample-weight slice does not have one weight per sample.
    SampleWeightLength {
        /// `"sample_weight"` or `"validation_sample_weight"`.
        what: &'static str,
        /// Its length.
        len: usize,
        /// Number of samples.
        samples: usize,
    },
    /// A class-index target (sparse categorical head) is not an integer in
    /// `0..classes`.
    InvalidClassIndex {
        /// The head.
        head: &'static str,
        /// Whether it is in the validation data given separately.
        validation: bool,
        /// The 0-based sample.
        sample: usize,
        /// The target's value.
        value: f64,
        /// The head's number of classes.
        classes: usize,
    },
    /// Early stopping monitors a name that training does not log.
    UnknownMonitor {
        /// The monitored name.
        monitor: String,
        /// The names training logs.
        available: Vec<String>,
    },
    /// The training loss became NaN or infinite; training stopped before
    /// applying that batch's update (Keras's `TerminateOnNaN`).
    NonFinite {
        /// 0-based epoch (the message counts from 1, as the progress line).
        epoch: usize,
        /// 0-based batch within the epoch (the message counts from 1).
        batch: usize,
        /// The batch's total loss.
        loss: f64,
        /// The epochs completed before (boxed to keep the error small).
        history: Box<History>,
    },
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::SampleCountMismatch { first, first_samples, second, second_samples } => {
                write!(f, "{first} has {first_samples} samples but {second} has {second_samples}")
            }
            FitError::RaggedData { what, len, width } => {
                write!(f, "{what} holds {len} values, not a whole number of samples of width {width}")
            }
            FitError::NoSamples { what } => write!(f, "the {what} has no samples"),
            FitError::ZeroBatchSize => f.write_str("`batch_size` must be at least 1"),
            FitError::InvalidValidationSplit { validation_split } => {
                write!(f, "`validation_split` must be in [0, 1), got {validation_split}")
            }
            FitError::SplitTooSmall { samples, validation_split } => write!(
                f,
                "`validation_split` {validation_split} of {samples} samples leaves no {} sample",
                if split_point(*samples, *validation_split) == 0 { "training" } else { "validation" }
            ),
            FitError::SampleWeightLength { what, len, samples } => {
                write!(f, "`{what}` has {len} weights but the data has {samples} samples")
            }
            FitError::InvalidClassIndex { head, validation, sample, value, classes } => write!(
                f,
                "{}target `{head}` of sample {sample} is {value}, not a class index in 0..{classes}",
                if *validation { "validation " } else { "" }
            ),
            FitError::UnknownMonitor { monitor, available } => {
                write!(f, "early stopping monitors `{monitor}`, which training does not log; it logs ")?;
                for (i, name) in available.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{name}`")?;
                }
                Ok(())
            }
            FitError::NonFinite { epoch, batch, loss, .. } => write!(
                f,
                "the loss became {loss} at epoch {}, batch {}; training stopped before that update",
                epoch + 1,
                batch + 1
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FitError {}

// ---------------------------------------------------------------------------
// Data sets
// ---------------------------------------------------------------------------

/// A model's data as column-major slices, checked for equal sample counts.
#[derive(Clone)]
struct Dataset<'a, T> {
    inputs: Vec<&'a [T]>,
    targets: Vec<&'a [T]>,
    samples: usize,
}

impl<'a, T: Scalar> Dataset<'a, T> {
    /// Samples `start..end` (contiguous columns of every array).
    fn range<M: Network<T>>(&self, start: usize, end: usize) -> Self {
        let cut = |s: &'a [T], w: usize| -> &'a [T] { &s[start * w..end * w] };
        Dataset {
            inputs: self.inputs.iter().zip(M::INPUT_WIDTHS).map(|(s, &w)| cut(s, w)).collect(),
            targets: self.targets.iter().zip(M::HEADS).map(|(s, h)| cut(s, h.target_width)).collect(),
            samples: end - start,
        }
    }
}

/// The number of samples in `len` scalars of width `width`.
fn samples_of(what: impl FnOnce() -> String, len: usize, width: usize) -> Result<usize, FitError> {
    if width == 0 {
        return Ok(0);
    }
    if !len.is_multiple_of(width) {
        return Err(FitError::RaggedData { what: what(), len, width });
    }
    Ok(len / width)
}

/// Checks that every array of the inputs (and targets, when given) has the
/// same number of samples.
fn checked_slices<'a, T: Scalar>(
    names: impl Iterator<Item = (String, usize, &'a [T])>,
) -> Result<(Vec<&'a [T]>, usize), FitError> {
    let mut slices = Vec::new();
    let mut first: Option<(String, usize)> = None;
    for (what, width, slice) in names {
        let n = samples_of(|| what.clone(), slice.len(), width)?;
        match &first {
            Some((first_what, first_n)) if *first_n != n => {
                return Err(FitError::SampleCountMismatch {
                    first: first_what.clone(),
                    first_samples: *first_n,
                    second: what,
                    second_samples: n,
                });
            }
            Some(_) => {}
            None => first = Some((what, n)),
        }
        slices.push(slice);
    }
    Ok((slices, first.map_or(0, |(_, n)| n)))
}

fn input_slices<'a, T: Scalar, M: Data<T>>(x: M::Inputs<'a>) -> Vec<&'a [T]> {
    let mut out: Vec<&'a [T]> = vec![&[]; M::INPUT_NAMES.len()];
    M::input_slices(x, &mut out);
    out
}

fn target_slices<'a, T: Scalar, M: Data<T>>(y: M::Targets<'a>) -> Vec<&'a [T]> {
    let mut out: Vec<&'a [T]> = vec![&[]; M::HEADS.len()];
    M::target_slices(y, &mut out);
    out
}

/// The inputs alone, checked; `prefix` is `""` or `"validation "`.
fn inputs_of<'a, T: Scalar, M: Data<T>>(x: M::Inputs<'a>, prefix: &str) -> Result<(Vec<&'a [T]>, usize), FitError> {
    let raw = input_slices::<T, M>(x);
    checked_slices(
        raw.into_iter()
            .zip(M::INPUT_NAMES.iter().zip(M::INPUT_WIDTHS))
            .map(|(s, (name, &w))| (format!("{prefix}input `{name}`"), w, s)),
    )
}

/// Inputs and targets, checked for equal sample counts and valid class indices.
fn dataset_of<'a, 'x: 'a, 'y: 'a, T: Scalar, M: Data<T>>(
    x: M::Inputs<'x>,
    y: M::Targets<'y>,
    validation: bool,
) -> Result<Dataset<'a, T>, FitError> {
    let prefix = if validation { "validation " } else { "" };
    let raw_inputs: Vec<&'a [T]> = input_slices::<T, M>(x);
    let raw_targets: Vec<&'a [T]> = target_slices::<T, M>(y);
    let inputs = raw_inputs
        .iter()
        .zip(M::INPUT_NAMES.iter().zip(M::INPUT_WIDTHS))
        .map(|(&s, (name, &w))| (format!("{prefix}input `{name}`"), w, s));
    let targets = raw_targets
        .iter()
        .zip(M::HEADS)
        .map(|(&s, head)| (format!("{prefix}target `{}`", head.name), head.target_width, s));
    let (_, samples) = checked_slices(inputs.chain(targets))?;
    let data = Dataset { inputs: raw_inputs, targets: raw_targets, samples };
    check_class_indices::<T, M>(&data, validation)?;
    Ok(data)
}

/// Whether a head's target is a class index.
fn is_sparse(head: &HeadInfo) -> bool {
    matches!(head.loss, Some(losses::Loss::SparseCategoricalCrossentropy { .. }))
        || head.metrics.contains(&crate::network::MetricKind::SparseCategoricalAccuracy)
}

fn check_class_indices<T: Scalar, M: Network<T>>(data: &Dataset<'_, T>, validation: bool) -> Result<(), FitError> {
    for (head, target) in M::HEADS.iter().zip(&data.targets) {
        if !is_sparse(head) || head.target_width != 1 {
            continue;
        }
        for (sample, &t) in target.iter().enumerate() {
            let value = t.as_f64();
            let valid = value.is_finite() && libm::floor(value) == value && value >= 0.0 && value < head.width as f64;
            if !valid {
                return Err(FitError::InvalidClassIndex {
                    head: head.name,
                    validation,
                    sample,
                    value,
                    classes: head.width,
                });
            }
        }
    }
    Ok(())
}

fn check_weights<T>(what: &'static str, weights: Option<&[T]>, samples: usize) -> Result<(), FitError> {
    match weights {
        Some(w) if w.len() != samples => Err(FitError::SampleWeightLength { what, len: w.len(), samples }),
        _ => Ok(()),
    }
}

/// Keras's `train_validation_split`: the first `floor(n · (1 - split))`
/// samples train.
fn split_point(samples: usize, validation_split: f64) -> usize {
    libm::floor(samples as f64 * (1.0 - validation_split)) as usize
}

// ---------------------------------------------------------------------------
// Batches without allocation
// ---------------------------------------------------------------------------

const STACK_SLICES: usize = 16;

/// A list of slices that lives on the stack for up to 16 arrays, so that
/// building a batch's `&[&[T]]` allocates nothing for usual models.
struct Slices<'a, T> {
    stack: [&'a [T]; STACK_SLICES],
    heap: Vec<&'a [T]>,
    count: usize,
}

impl<'a, T> Slices<'a, T> {
    fn new(count: usize, mut slice: impl FnMut(usize) -> &'a [T]) -> Self {
        let mut stack: [&'a [T]; STACK_SLICES] = [&[]; STACK_SLICES];
        let mut heap = Vec::new();
        if count <= STACK_SLICES {
            for (i, s) in stack.iter_mut().take(count).enumerate() {
                *s = slice(i);
            }
        } else {
            heap.extend((0..count).map(slice));
        }
        Slices { stack, heap, count }
    }

    fn as_slice(&self) -> &[&'a [T]] {
        if self.count <= STACK_SLICES {
            &self.stack[..self.count]
        } else {
            &self.heap
        }
    }
}

/// Copies the columns `indices` of `src` (rows `width`) into `dst`.
fn gather<T: Copy>(src: &[T], width: usize, indices: &[usize], dst: &mut [T]) {
    for (k, &i) in indices.iter().enumerate() {
        dst[k * width..(k + 1) * width].copy_from_slice(&src[i * width..(i + 1) * width]);
    }
}

// ---------------------------------------------------------------------------
// Accumulating logs
// ---------------------------------------------------------------------------

/// The names a model logs, Keras 3's way, each with `prefix` (`""` or `"val_"`).
fn log_names<T: Scalar, M: Network<T>>(prefix: &str) -> Vec<String> {
    let heads = M::HEADS;
    let mut names: Vec<String> = vec![format!("{prefix}loss")];
    if heads.len() > 1 {
        for head in heads.iter().filter(|h| h.loss.is_some()) {
            names.push(format!("{prefix}{}_loss", head.name));
        }
    }
    for head in heads {
        for metric in head.metrics {
            let base =
                if heads.len() > 1 { format!("{}_{}", head.name, metric.name()) } else { String::from(metric.name()) };
            // Keras numbers repeated names: `accuracy`, `accuracy_1`, …
            let mut name = format!("{prefix}{base}");
            let mut k = 1;
            while names.contains(&name) {
                name = format!("{prefix}{base}_{k}");
                k += 1;
            }
            names.push(name);
        }
    }
    names
}

/// Running sums of an epoch's (or an evaluation's) losses and metrics.
#[derive(Clone, Debug)]
struct Accum {
    samples: usize,
    loss: f64,
    head_loss: Vec<f64>,
    metric: Vec<f64>,
}

impl Accum {
    fn new<T: Scalar, M: Network<T>>() -> Self {
        let metrics = M::HEADS.iter().map(|h| h.metrics.len()).sum();
        Self { samples: 0, loss: 0.0, head_loss: vec![0.0; M::HEADS.len()], metric: vec![0.0; metrics] }
    }

    fn reset(&mut self) {
        self.samples = 0;
        self.loss = 0.0;
        self.head_loss.iter_mut().for_each(|v| *v = 0.0);
        self.metric.iter_mut().for_each(|v| *v = 0.0);
    }

    /// Adds a batch of `n` samples: its total loss, its heads' losses, and
    /// the metrics of the heads' outputs that `workspace` holds.
    fn add<T: Scalar, M: Network<T>>(
        &mut self,
        n: usize,
        total: f64,
        head_losses: &[T],
        workspace: &[T],
        targets: &[&[T]],
    ) {
        self.samples += n;
        self.loss += total * n as f64;
        for (acc, l) in self.head_loss.iter_mut().zip(head_losses) {
            *acc += l.as_f64() * n as f64;
        }
        let mut k = 0;
        for (h, head) in M::HEADS.iter().enumerate() {
            let start = M::HEAD_OFFSETS[h] * n;
            let output = &workspace[start..start + head.width * n];
            for &metric in head.metrics {
                // Keras's `metrics` are unweighted; only `weighted_metrics` take sample weights.
                self.metric[k] += losses::metric_sum(metric, output, targets[h], head.width, None);
                k += 1;
            }
        }
    }

    /// The means, in the order of [`log_names`].
    fn values<T: Scalar, M: Network<T>>(&self, out: &mut Vec<f64>) {
        let n = self.samples.max(1) as f64;
        out.push(self.loss / n);
        if M::HEADS.len() > 1 {
            for (head, l) in M::HEADS.iter().zip(&self.head_loss) {
                if head.loss.is_some() {
                    out.push(l / n);
                }
            }
        }
        out.extend(self.metric.iter().map(|m| m / n));
    }
}

/// Buffers for inference-mode passes over contiguous batches.
struct Evaluator<T> {
    batch_size: usize,
    workspace: Vec<T>,
    stats: Vec<T>,
    head_losses: Vec<T>,
}

impl<T: Scalar> Evaluator<T> {
    fn new<M: Network<T>>(batch_size: usize) -> Self {
        Self {
            batch_size,
            workspace: vec![T::zero(); M::FORWARD_ROWS * batch_size],
            stats: vec![T::zero(); M::STATS_LEN],
            head_losses: vec![T::zero(); M::HEADS.len()],
        }
    }

    /// Runs `model` on `inputs` in batches; `each` receives the batch's
    /// first sample, its size and the workspace holding the heads' outputs.
    fn for_each_batch<M: Network<T>>(
        &mut self,
        model: &M,
        inputs: &[&[T]],
        samples: usize,
        mut each: impl FnMut(usize, usize, &[T], &mut [T]),
    ) {
        let mut start = 0;
        while start < samples {
            let n = self.batch_size.min(samples - start);
            let batch = Slices::new(inputs.len(), |i| {
                let w = M::INPUT_WIDTHS[i];
                &inputs[i][start * w..(start + n) * w]
            });
            model.forward_slices(n, batch.as_slice(), &mut self.workspace, Mode::Inference, &mut self.stats);
            each(start, n, &self.workspace, &mut self.head_losses);
            start += n;
        }
    }

    /// Losses and metrics of `model` on `data` in inference mode, added to `acc`.
    fn evaluate<M: Network<T>>(&mut self, model: &M, data: &Dataset<'_, T>, weights: Option<&[T]>, acc: &mut Accum) {
        self.for_each_batch(model, &data.inputs, data.samples, |start, n, workspace, head_losses| {
            let targets = Slices::new(M::HEADS.len(), |h| {
                let w = M::HEADS[h].target_width;
                &data.targets[h][start * w..(start + n) * w]
            });
            let weights = weights.map(|w| &w[start..start + n]);
            let mut total = 0.0;
            for (h, head) in M::HEADS.iter().enumerate() {
                head_losses[h] = T::zero();
                if let Some(loss) = head.loss {
                    let offset = M::HEAD_OFFSETS[h] * n;
                    let output = &workspace[offset..offset + head.width * n];
                    let value = losses::loss_and_grad(loss, output, targets.as_slice()[h], head.width, weights, None);
                    head_losses[h] = value;
                    total += head.loss_weight * value.as_f64();
                }
            }
            acc.add::<T, M>(n, total, head_losses, workspace, targets.as_slice());
        });
    }
}

fn logs_from(names: Vec<String>, values: Vec<f64>) -> Logs {
    Logs { entries: names.into_iter().zip(values).collect() }
}

// ---------------------------------------------------------------------------
// fit / evaluate / predict
// ---------------------------------------------------------------------------

/// Trains `model` on inputs `x` and targets `y` with `optimizer`, as Keras's
/// `model.fit(x, y, ...)`.
///
/// Each batch gathers the (shuffled) columns of every input and target into
/// buffers allocated once before the first epoch, runs the model's
/// training-mode forward and backward pass (`loss_and_grad_slices`) on the
/// batch's real size (the last partial batch is kept), folds the batch
/// statistics into the moving statistics, then applies the optimizer. The
/// dropout seed of each step mixes `options.seed` with
/// `optimizer.iterations()`. After each epoch the validation data, if any,
/// is evaluated in inference mode.
///
/// Returns each logged value per epoch (see the [module docs](self) for the
/// names). Errors name the offending argument; a non-finite training loss
/// stops training at once with [`FitError::NonFinite`], leaving the model as
/// it was after the last finite batch (or, with early stopping's
/// `restore_best_weights`, as it was after the best epoch).
pub fn fit<T: Scalar, M: Train<T> + Data<T>, O: Optimizer<T, M>>(
    model: &mut M,
    optimizer: &mut O,
    x: M::Inputs<'_>,
    y: M::Targets<'_>,
    options: &FitOptions<'_, T, M>,
) -> Result<History, FitError> {
    if options.batch_size == 0 {
        return Err(FitError::ZeroBatchSize);
    }
    let split = options.validation_split;
    if !(0.0..1.0).contains(&split) {
        return Err(FitError::InvalidValidationSplit { validation_split: split });
    }

    // The data, the split and the validation set.
    let all = dataset_of::<T, M>(x, y, false)?;
    if all.samples == 0 {
        return Err(FitError::NoSamples { what: "training data" });
    }
    check_weights("sample_weight", options.sample_weight, all.samples)?;
    let (train, train_weights, validation) = match options.validation_data {
        Some((vx, vy)) => {
            let val = dataset_of::<T, M>(vx, vy, true)?;
            if val.samples == 0 {
                return Err(FitError::NoSamples { what: "validation data" });
            }
            check_weights("validation_sample_weight", options.validation_sample_weight, val.samples)?;
            (all, options.sample_weight, Some((val, options.validation_sample_weight)))
        }
        None if split > 0.0 => {
            let at = split_point(all.samples, split);
            if at == 0 || at >= all.samples {
                return Err(FitError::SplitTooSmall { samples: all.samples, validation_split: split });
            }
            let train = all.range::<M>(0, at);
            let val = all.range::<M>(at, all.samples);
            let weights = options.sample_weight.map(|w| w.split_at(at));
            (train, weights.map(|w| w.0), Some((val, weights.map(|w| w.1))))
        }
        None => (all, options.sample_weight, None),
    };

    // The logged names, and the monitor's place among them.
    let mut names = log_names::<T, M>("");
    if validation.is_some() {
        names.extend(log_names::<T, M>("val_"));
    }
    if options.learning_rate_schedule.is_some() {
        names.push(String::from("learning_rate"));
    }
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
    let batch_size = options.batch_size.min(train.samples);
    let n_inputs = M::INPUT_NAMES.len();
    let n_heads = M::HEADS.len();
    let mut batch_inputs: Vec<Vec<T>> = M::INPUT_WIDTHS.iter().map(|&w| vec![T::zero(); w * batch_size]).collect();
    let mut batch_targets: Vec<Vec<T>> =
        M::HEADS.iter().map(|h| vec![T::zero(); h.target_width * batch_size]).collect();
    let mut batch_weights: Vec<T> = vec![T::zero(); if train_weights.is_some() { batch_size } else { 0 }];
    // Over-allocated by a cache line so the buffers start 64-byte aligned,
    // as the generated `train_step`'s are.
    let mut workspace_storage: Vec<T> = vec![T::zero(); M::TRAIN_ROWS * batch_size + 64 / T::BYTES];
    let aligned = workspace_storage.as_ptr().align_offset(64).min(64 / T::BYTES);
    let workspace = &mut workspace_storage[aligned..aligned + M::TRAIN_ROWS * batch_size];
    let mut stats: Vec<T> = vec![T::zero(); M::STATS_LEN];
    let mut grads: Box<M> = Box::new(M::zeros());
    let mut head_losses: Vec<T> = vec![T::zero(); n_heads];
    let mut order: Vec<usize> = (0..train.samples).collect();
    let mut train_acc = Accum::new::<T, M>();
    let mut val_acc = Accum::new::<T, M>();
    let mut evaluator =
        validation.as_ref().map(|(val, _)| Evaluator::<T>::new::<M>(options.batch_size.min(val.samples)));
    let mut values: Vec<f64> = Vec::with_capacity(names.len());
    let mut best: Vec<T> = match &monitor {
        Some((_, _, true)) => Vec::with_capacity(M::PARAM_COUNT),
        _ => Vec::new(),
    };
    let mut shuffler = SplitMix64::new(rng::mix(options.seed ^ 0x5348_5546_464C_4521));

    let mut failure: Option<(usize, usize, f64)> = None;
    'epochs: for epoch in 0..options.epochs {
        #[cfg(feature = "std")]
        let started = Instant::now();
        if let Some(schedule) = options.learning_rate_schedule {
            let rate = schedule(epoch, optimizer.learning_rate().as_f64());
            optimizer.set_learning_rate(T::of_f64(rate));
        }
        if options.shuffle {
            rng::shuffle(&mut order, &mut shuffler);
        }

        train_acc.reset();
        for (batch, indices) in order.chunks(batch_size).enumerate() {
            let n = indices.len();
            for (i, buf) in batch_inputs.iter_mut().enumerate() {
                let w = M::INPUT_WIDTHS[i];
                gather(train.inputs[i], w, indices, &mut buf[..w * n]);
            }
            for (h, buf) in batch_targets.iter_mut().enumerate() {
                let w = M::HEADS[h].target_width;
                gather(train.targets[h], w, indices, &mut buf[..w * n]);
            }
            let weights = match train_weights {
                Some(w) => {
                    gather(w, 1, indices, &mut batch_weights[..n]);
                    Some(&batch_weights[..n])
                }
                None => None,
            };
            let inputs = Slices::new(n_inputs, |i| &batch_inputs[i][..M::INPUT_WIDTHS[i] * n]);
            let targets = Slices::new(n_heads, |h| &batch_targets[h][..M::HEADS[h].target_width * n]);

            for i in 0..M::TENSORS.len() {
                grads.tensor_mut(i).fill(T::zero());
            }
            let dropout_seed = rng::mix(options.seed ^ rng::mix(optimizer.iterations() ^ 0xD1B5_4A32_D192_ED03));
            let total = model.loss_and_grad_slices(
                n,
                inputs.as_slice(),
                targets.as_slice(),
                weights,
                workspace,
                &mut stats,
                &mut grads,
                &mut head_losses,
                dropout_seed,
            );
            let total = total.as_f64();
            if !total.is_finite() {
                failure = Some((epoch, batch, total));
                break 'epochs;
            }
            train_acc.add::<T, M>(n, total, &head_losses, workspace, targets.as_slice());
            model.update_moving_statistics(&stats);
            optimizer.apply(model, &grads);
        }

        values.clear();
        train_acc.values::<T, M>(&mut values);
        if let (Some((data, weights)), Some(evaluator)) = (&validation, &mut evaluator) {
            val_acc.reset();
            evaluator.evaluate(&*model, data, *weights, &mut val_acc);
            val_acc.values::<T, M>(&mut values);
        }
        if options.learning_rate_schedule.is_some() {
            values.push(optimizer.learning_rate().as_f64());
        }
        history.push(&values);
        #[cfg(feature = "std")]
        {
            let elapsed = started.elapsed();
            history.epoch_times.push(elapsed);
            if options.verbose {
                print_epoch(epoch, options.epochs, elapsed, &names, &values);
            }
        }

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

    if let Some((_, _, restore)) = &monitor {
        #[cfg(feature = "std")]
        if options.verbose {
            if let Some(epoch) = history.stopped_epoch {
                std::println!("Epoch {}: early stopping", epoch + 1);
            }
        }
        if *restore && !best.is_empty() {
            let mut offset = 0;
            for i in 0..M::TENSORS.len() {
                let tensor = model.tensor_mut(i);
                tensor.copy_from_slice(&best[offset..offset + tensor.len()]);
                offset += tensor.len();
            }
            #[cfg(feature = "std")]
            if options.verbose {
                if let Some(epoch) = history.best_epoch {
                    std::println!("Restoring model weights from the end of the best epoch: {}.", epoch + 1);
                }
            }
        }
    }
    match failure {
        Some((epoch, batch, loss)) => Err(FitError::NonFinite { epoch, batch, loss, history: Box::new(history) }),
        None => Ok(history),
    }
}

#[cfg(feature = "std")]
fn print_epoch(epoch: usize, epochs: usize, elapsed: Duration, names: &[String], values: &[f64]) {
    use core::fmt::Write;
    let mut line = format!("Epoch {}/{} - {:.2}s", epoch + 1, epochs, elapsed.as_secs_f64());
    for (name, &value) in names.iter().zip(values) {
        let _ = write!(line, " - {name}: ");
        let _ = write_value(&mut line, value);
    }
    std::println!("{line}");
}

/// Evaluates `model` on inputs `x` and targets `y` in inference mode, in
/// batches of `batch_size`, as Keras's `model.evaluate(x, y,
/// return_dict=True)`: the loss, per-head losses and metrics under the names
/// `fit` logs.
pub fn evaluate<T: Scalar, M: Train<T> + Data<T>>(
    model: &M,
    x: M::Inputs<'_>,
    y: M::Targets<'_>,
    batch_size: usize,
) -> Result<Logs, FitError> {
    evaluate_weighted(model, x, y, None, batch_size)
}

/// [`evaluate`] with one weight per sample for the losses (Keras's
/// `sample_weight`): `Σ w·loss / n`.
pub fn evaluate_weighted<T: Scalar, M: Train<T> + Data<T>>(
    model: &M,
    x: M::Inputs<'_>,
    y: M::Targets<'_>,
    sample_weight: Option<&[T]>,
    batch_size: usize,
) -> Result<Logs, FitError> {
    if batch_size == 0 {
        return Err(FitError::ZeroBatchSize);
    }
    let data = dataset_of::<T, M>(x, y, false)?;
    if data.samples == 0 {
        return Err(FitError::NoSamples { what: "data" });
    }
    check_weights("sample_weight", sample_weight, data.samples)?;
    let mut acc = Accum::new::<T, M>();
    Evaluator::new::<M>(batch_size.min(data.samples)).evaluate(model, &data, sample_weight, &mut acc);
    let mut values = Vec::new();
    acc.values::<T, M>(&mut values);
    Ok(logs_from(log_names::<T, M>(""), values))
}

/// Runs `model` on inputs `x` in inference mode, in batches of `batch_size`,
/// as Keras's `model.predict(x)`: one `width × samples` matrix per head, a
/// column a sample.
pub fn predict<T: Scalar, M: Data<T>>(
    model: &M,
    x: M::Inputs<'_>,
    batch_size: usize,
) -> Result<Vec<DMatrix<T>>, FitError> {
    if batch_size == 0 {
        return Err(FitError::ZeroBatchSize);
    }
    let (inputs, samples) = inputs_of::<T, M>(x, "")?;
    if samples == 0 {
        return Err(FitError::NoSamples { what: "data" });
    }
    let mut outputs: Vec<DMatrix<T>> = M::HEADS.iter().map(|h| DMatrix::zeros(h.width, samples)).collect();
    Evaluator::new::<M>(batch_size.min(samples)).for_each_batch(model, &inputs, samples, |start, n, workspace, _| {
        for (h, (head, out)) in M::HEADS.iter().zip(outputs.iter_mut()).enumerate() {
            let offset = M::HEAD_OFFSETS[h] * n;
            let w = head.width;
            out.as_mut_slice()[start * w..(start + n) * w].copy_from_slice(&workspace[offset..offset + w * n]);
        }
    });
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activations::{self, Activation};
    use crate::losses::Loss;
    use crate::network::{MetricKind, TensorInfo};
    use alloc::string::ToString;
    use core::cell::RefCell;
    use nalgebra::{Const, Dyn, OMatrix};

    type Cols<const R: usize> = OMatrix<f64, Const<R>, Dyn>;

    fn cols<const R: usize>(data: &[f64]) -> Cols<R> {
        Cols::<R>::from_column_slice(data)
    }

    /// Plain SGD, so these tests do not depend on `optim`.
    struct TestSgd {
        lr: f64,
        iterations: u64,
    }

    fn sgd(lr: f64) -> TestSgd {
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

    fn quiet<'a, M: Data<f64>>() -> FitOptions<'a, f64, M> {
        FitOptions::new().verbose(false)
    }

    // -- Probe: one bias, output = bias; records what it is shown ------------

    /// `out = b` for every sample, mse loss; records the sample ids (its
    /// input) of every training batch and inference pass.
    #[derive(Clone, Debug, Default, PartialEq)]
    struct Probe {
        b: [f64; 1],
        trained: RefCell<Vec<Vec<f64>>>,
        evaluated: RefCell<Vec<Vec<f64>>>,
        seeds: RefCell<Vec<u64>>,
        updates: usize,
    }

    impl Network<f64> for Probe {
        const PARAM_COUNT: usize = 1;
        const TENSORS: &'static [TensorInfo] = &[TensorInfo { name: "out.bias", shape: &[1], trainable: true }];
        const INPUT_NAMES: &'static [&'static str] = &["id"];
        const INPUT_WIDTHS: &'static [usize] = &[1];
        const HEADS: &'static [HeadInfo] = &[HeadInfo {
            name: "out",
            width: 1,
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
            let loss =
                losses::loss_and_grad(Loss::MeanSquaredError, out, targets[0], 1, sample_weight, Some((d_out, 1.0)));
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
        fn input_slices<'a>(inputs: Self::Inputs<'a>, out: &mut [&'a [f64]]) {
            out[0] = inputs.as_slice();
        }
        fn target_slices<'a>(targets: Self::Targets<'a>, out: &mut [&'a [f64]]) {
            out[0] = targets.as_slice();
        }
    }

    fn ids(n: usize) -> Cols<1> {
        Cols::<1>::from_fn(n, |_, j| j as f64)
    }

    fn sorted(mut v: Vec<f64>) -> Vec<f64> {
        v.sort_by(f64::total_cmp);
        v
    }

    // -- Logistic regression: one input, one sigmoid head ---------------------

    #[derive(Clone, Debug, PartialEq)]
    struct Logistic {
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
            let loss =
                losses::fused_loss_and_grad(bce, Activation::Sigmoid, out, targets[0], 1, sample_weight, dz, 1.0);
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
        fn input_slices<'a>(inputs: Self::Inputs<'a>, out: &mut [&'a [f64]]) {
            out[0] = inputs.as_slice();
        }
        fn target_slices<'a>(targets: Self::Targets<'a>, out: &mut [&'a [f64]]) {
            out[0] = targets.as_slice();
        }
    }

    /// `n` points in [-1, 1]² away from the line x0 + x1 = 0, labelled by its side.
    fn separable(n: usize, seed: u64) -> (Cols<2>, Cols<1>) {
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
    struct TwoHead {
        reg_kernel: [f64; 3],
        reg_bias: [f64; 1],
        cls_kernel: [f64; 2],
        cls_bias: [f64; 1],
    }

    impl TwoHead {
        fn outputs(&self, a: &[f64], b: f64) -> (f64, f64) {
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
                target_width: 1,
                loss: Some(Loss::MeanSquaredError),
                loss_weight: 0.5,
                metrics: &[MetricKind::MeanAbsoluteError],
            },
            HeadInfo {
                name: "cls",
                width: 1,
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
            let reg = losses::loss_and_grad(
                Loss::MeanSquaredError,
                &out[..n],
                targets[0],
                1,
                sample_weight,
                Some((d_reg, 0.5)),
            );
            let bce = Loss::BinaryCrossentropy { from_logits: false };
            let cls = losses::fused_loss_and_grad(
                bce,
                Activation::Sigmoid,
                &out[n..],
                targets[1],
                1,
                sample_weight,
                d_cls,
                1.0,
            );
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
        fn input_slices<'a>(inputs: Self::Inputs<'a>, out: &mut [&'a [f64]]) {
            out[0] = inputs.0.as_slice();
            out[1] = inputs.1.as_slice();
        }
        fn target_slices<'a>(targets: Self::Targets<'a>, out: &mut [&'a [f64]]) {
            out[0] = targets.0.as_slice();
            out[1] = targets.1.as_slice();
        }
    }

    struct TwoHeadData {
        a: Cols<2>,
        b: Cols<1>,
        reg: Cols<1>,
        cls: Cols<1>,
    }

    fn two_head_data(n: usize, seed: u64) -> TwoHeadData {
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
    struct Sparse {
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
        fn input_slices<'a>(inputs: Self::Inputs<'a>, out: &mut [&'a [f64]]) {
            out[0] = inputs.as_slice();
        }
        fn target_slices<'a>(targets: Self::Targets<'a>, out: &mut [&'a [f64]]) {
            out[0] = targets.as_slice();
        }
    }

    fn three_clusters(n: usize, seed: u64) -> (Cols<2>, Cols<1>) {
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

    // -- Tests -------------------------------------------------------------------

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
    fn stopper_follows_keras() {
        let run = |config: EarlyStopping, values: &[f64]| {
            let mut s = Stopper::new(&config);
            let mut snapshots = Vec::new();
            for (epoch, &v) in values.iter().enumerate() {
                let d = s.update(epoch, v);
                if d.snapshot {
                    snapshots.push(epoch);
                }
                if d.stop {
                    return (Some(epoch), snapshots, s.best_epoch);
                }
            }
            (None, snapshots, s.best_epoch)
        };
        // Patience 0 stops at the first non-improvement, never after epoch 0.
        assert_eq!(run(EarlyStopping::new("loss"), &[3.0, 2.0, 2.5]), (Some(2), vec![0, 1], Some(1)));
        // min_delta: 2.95 is not enough of an improvement on 3.0.
        let cfg = EarlyStopping::new("loss").min_delta(-0.1).patience(2);
        assert_eq!(run(cfg, &[3.0, 2.95, 2.0, 1.95, 1.99]), (Some(4), vec![0, 2], Some(2)));
        // Auto mode maximizes accuracies.
        let cfg = EarlyStopping::new("val_accuracy").patience(2);
        assert_eq!(cfg.resolved_mode(), MonitorMode::Max);
        assert_eq!(run(cfg, &[0.5, 0.7, 0.6, 0.8, 0.8, 0.8]), (Some(5), vec![0, 1, 3], Some(3)));
        // An explicit mode wins over the name.
        assert_eq!(EarlyStopping::new("val_accuracy").mode(MonitorMode::Min).resolved_mode(), MonitorMode::Min);
        assert_eq!(EarlyStopping::new("val_cls_mae").resolved_mode(), MonitorMode::Min);
        // Improvements that do not beat the baseline do not reset the
        // patience counter: the first setback then stops training.
        let cfg = EarlyStopping::new("loss").baseline(1.0).patience(2);
        assert_eq!(run(cfg.clone(), &[3.0, 2.0, 1.5, 1.2]), (None, vec![0, 1, 2, 3], Some(3)));
        assert_eq!(run(cfg, &[3.0, 2.0, 1.5, 1.6]), (Some(3), vec![0, 1, 2], Some(2)));
        assert_eq!(run(EarlyStopping::new("loss").patience(2), &[3.0, 2.0, 1.5, 1.6]), (None, vec![0, 1, 2], Some(2)));
        // Warm-up epochs are not monitored.
        let cfg = EarlyStopping::new("loss").start_from_epoch(2);
        assert_eq!(run(cfg, &[1.0, 2.0, 3.0, 4.0]), (Some(3), vec![2], Some(2)));
    }

    #[test]
    fn a_nan_loss_stops_with_an_error() {
        let x = ids(10);
        let mut y = Cols::<1>::from_element(10, 1.0);
        y[(0, 5)] = f64::NAN;
        let mut model = Probe::default();
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
        let y = Cols::<1>::from_element(10, 1.0);
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

    #[test]
    fn errors_name_the_problem() {
        let d = two_head_data(10, 1);
        let short_b = Cols::<1>::zeros(9);
        let short_cls = Cols::<1>::zeros(8);
        let mut model = TwoHead::with_seed(1);
        let mut run = |x: (&Cols<2>, &Cols<1>), y: (&Cols<1>, &Cols<1>), options: FitOptions<'_, f64, TwoHead>| {
            fit(&mut model, &mut sgd(0.1), x, y, &options).unwrap_err().to_string()
        };
        assert_eq!(run((&d.a, &short_b), (&d.reg, &d.cls), quiet()), "input `a` has 10 samples but input `b` has 9");
        assert_eq!(run((&d.a, &d.b), (&d.reg, &short_cls), quiet()), "input `a` has 10 samples but target `cls` has 8");
        let x = (&d.a, &d.b);
        let y = (&d.reg, &d.cls);
        assert_eq!(
            run(x, y, quiet().validation_data((&d.a, &short_b), y)),
            "validation input `a` has 10 samples but validation input `b` has 9"
        );
        assert_eq!(run(x, y, quiet().batch_size(0)), "`batch_size` must be at least 1");
        assert_eq!(run(x, y, quiet().validation_split(1.0)), "`validation_split` must be in [0, 1), got 1");
        assert_eq!(run(x, y, quiet().validation_split(-0.1)), "`validation_split` must be in [0, 1), got -0.1");
        assert_eq!(run(x, y, quiet().validation_split(f64::NAN)), "`validation_split` must be in [0, 1), got NaN");
        assert_eq!(
            run(x, y, quiet().validation_split(0.95)),
            "`validation_split` 0.95 of 10 samples leaves no training sample"
        );
        let w = [1.0; 7];
        assert_eq!(run(x, y, quiet().sample_weight(&w)), "`sample_weight` has 7 weights but the data has 10 samples");
        assert_eq!(
            run(x, y, quiet().validation_data(x, y).validation_sample_weight(&w)),
            "`validation_sample_weight` has 7 weights but the data has 10 samples"
        );
        assert_eq!(
            run(x, y, quiet().early_stopping(EarlyStopping::new("val_loss"))),
            "early stopping monitors `val_loss`, which training does not log; it logs \
             `loss`, `reg_loss`, `cls_loss`, `reg_mae`, `cls_accuracy`"
        );
        let (a0, b0, r0, c0) = (Cols::<2>::zeros(0), Cols::<1>::zeros(0), Cols::<1>::zeros(0), Cols::<1>::zeros(0));
        assert_eq!(run((&a0, &b0), (&r0, &c0), quiet()), "the training data has no samples");
        assert_eq!(run(x, y, quiet().validation_data((&a0, &b0), (&r0, &c0))), "the validation data has no samples");

        assert_eq!(
            evaluate(&model, x, (&d.reg, &short_cls), 4).unwrap_err().to_string(),
            "input `a` has 10 samples but target `cls` has 8"
        );
        assert_eq!(evaluate(&model, x, y, 0).unwrap_err(), FitError::ZeroBatchSize);
        assert_eq!(
            predict(&model, (&d.a, &short_b), 4).unwrap_err().to_string(),
            "input `a` has 10 samples but input `b` has 9"
        );
        assert_eq!(predict(&model, (&a0, &b0), 4).unwrap_err(), FitError::NoSamples { what: "data" });
        #[cfg(feature = "std")]
        {
            let boxed: Box<dyn std::error::Error> = Box::new(FitError::ZeroBatchSize);
            assert_eq!(boxed.to_string(), "`batch_size` must be at least 1");
        }
    }

    #[test]
    fn class_index_targets_are_checked_and_trained() {
        let (x, y) = three_clusters(60, 2);
        let mut model = Sparse::with_seed(4);
        for (bad, shown) in [(3.0, "3"), (1.5, "1.5"), (-1.0, "-1"), (f64::NAN, "NaN")] {
            let mut y_bad = y.clone();
            y_bad[(0, 7)] = bad;
            let err = fit(&mut model, &mut sgd(0.1), &x, &y_bad, &quiet()).unwrap_err();
            assert_eq!(err.to_string(), format!("target `probs` of sample 7 is {shown}, not a class index in 0..3"));
            let err = fit(&mut model, &mut sgd(0.1), &x, &y, &quiet().validation_data(&x, &y_bad)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("validation target `probs` of sample 7 is {shown}, not a class index in 0..3")
            );
            assert!(evaluate(&model, &x, &y_bad, 8).is_err());
        }
        let history =
            fit(&mut model, &mut sgd(0.5), &x, &y, &quiet().epochs(20).batch_size(8).validation_split(0.2)).unwrap();
        assert_eq!(history.names().collect::<Vec<_>>(), ["loss", "accuracy", "val_loss", "val_accuracy"]);
        let loss = history.get("loss").unwrap();
        assert!(loss[19] < 0.5 * loss[0], "{loss:?}");
        assert!(history.last("accuracy").unwrap() > 0.95);
        assert!(history.last("val_accuracy").unwrap() > 0.95);
        let probs = &predict(&model, &x, 7).unwrap()[0];
        assert_eq!(probs.shape(), (3, 60));
        for s in 0..60 {
            assert!((probs.column(s).sum() - 1.0).abs() < 1e-12);
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
    fn evaluate_and_predict_give_shapes_and_values() {
        let d = two_head_data(7, 4);
        let model = TwoHead::with_seed(5);
        let x = (&d.a, &d.b);
        let outputs = predict(&model, x, 3).unwrap();
        assert_eq!(outputs.len(), 2);
        assert_eq!(outputs[0].shape(), (1, 7));
        assert_eq!(outputs[1].shape(), (1, 7));
        for s in 0..7 {
            let (reg, cls) = model.outputs(d.a.column(s).as_slice(), d.b[(0, s)]);
            assert_eq!(outputs[0][(0, s)], reg);
            assert_eq!(outputs[1][(0, s)], cls);
        }
        assert_eq!(predict(&model, x, 100).unwrap(), outputs);
        assert_eq!(predict(&model, x, 1).unwrap(), outputs);

        let logs = evaluate(&model, x, (&d.reg, &d.cls), 3).unwrap();
        let names: Vec<&str> = logs.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["loss", "reg_loss", "cls_loss", "reg_mae", "cls_accuracy"]);
        let reg_loss =
            losses::loss_and_grad(Loss::MeanSquaredError, outputs[0].as_slice(), d.reg.as_slice(), 1, None, None);
        let bce = Loss::BinaryCrossentropy { from_logits: false };
        let cls_loss = losses::loss_and_grad(bce, outputs[1].as_slice(), d.cls.as_slice(), 1, None, None);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(logs.get("reg_loss").unwrap(), reg_loss));
        assert!(close(logs.get("cls_loss").unwrap(), cls_loss));
        assert!(close(logs.loss(), 0.5 * reg_loss + cls_loss));
        let mae = (0..7).map(|s| (outputs[0][(0, s)] - d.reg[(0, s)]).abs()).sum::<f64>() / 7.0;
        assert!(close(logs.get("reg_mae").unwrap(), mae));
        let hits = (0..7).filter(|&s| (outputs[1][(0, s)] > 0.5) == (d.cls[(0, s)] > 0.5)).count();
        assert!(close(logs.get("cls_accuracy").unwrap(), hits as f64 / 7.0));
        // The batch size does not change the result.
        let whole = evaluate(&model, x, (&d.reg, &d.cls), 64).unwrap();
        for ((_, a), (_, b)) in logs.iter().zip(whole.iter()) {
            assert!(close(a, b));
        }
        assert!(logs.to_string().starts_with("loss: "));
        assert!(logs.to_string().contains(" - cls_accuracy: "));
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

    #[test]
    fn values_print_like_keras() {
        let show = |v: f64| {
            let mut s = String::new();
            write_value(&mut s, v).unwrap();
            s
        };
        assert_eq!(show(0.12345678), "0.1235");
        assert_eq!(show(12.0), "12.0000");
        assert_eq!(show(1.5e-4), "1.5000e-04");
        assert_eq!(show(-2.0e-12), "-2.0000e-12");
        assert_eq!(show(0.0), "0.0000e+00");
        assert_eq!(show(f64::NAN), "NaN");
        let logs = Logs { entries: vec![("loss".to_string(), 0.5), ("accuracy".to_string(), 0.875)] };
        assert_eq!(logs.to_string(), "loss: 0.5000 - accuracy: 0.8750");
        assert_eq!(logs.len(), 2);
        assert!(!logs.is_empty());
    }

    #[test]
    fn options_have_keras_defaults() {
        let o = FitOptions::<f64, Probe>::default();
        assert_eq!((o.epochs, o.batch_size, o.shuffle, o.validation_split, o.verbose), (1, 32, true, 0.0, true));
        assert!(o.validation_data.is_none() && o.sample_weight.is_none() && o.early_stopping.is_none());
        let e = EarlyStopping::default();
        assert_eq!((e.monitor(), e.patience, e.min_delta, e.restore_best_weights), ("val_loss", 0, 0.0, false));
        assert!(format!("{o:?}").contains("batch_size: 32"));
    }
}
