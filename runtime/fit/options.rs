//! The settings of [`fit`](super::fit()): [`FitOptions`], [`EarlyStopping`]
//! and the learning-rate schedule.

use alloc::string::String;
use core::fmt;

use crate::network::Data;
use crate::Scalar;

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
    pub(super) monitor: String,
    pub(super) mode: MonitorMode,
    pub(super) min_delta: f64,
    pub(super) patience: usize,
    pub(super) baseline: Option<f64>,
    pub(super) restore_best_weights: bool,
    pub(super) start_from_epoch: usize,
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

/// How much [`fit`](super::fit()) prints: Keras's `verbose` argument.
///
/// ```
/// use staticnet::fit::Verbosity;
/// assert_eq!(Verbosity::from(2), Verbosity::EpochLine);
/// assert_eq!(Verbosity::from(true), Verbosity::Auto);
/// ```
///
/// The progress bar is Keras 3's: `Epoch 3/50` on its own line, then
/// `12/45 ━━━━━━━━━━━━━━━━━━━━ 1s 23ms/step - accuracy: 0.9100 - loss: 0.2700`
/// redrawn in place (the time is the estimated time left, then the time per
/// step; the values are the epoch's running means), which at the end of
/// the epoch becomes its final line, with the time the epoch took and the
/// validation values. A line per epoch reads `45/45 - 850ms - 2ms/step -
/// accuracy: 0.9650 - loss: 0.1234 - val_accuracy: … - val_loss: …`. Values
/// are printed in Keras's order (sorted by name, validation after training,
/// `learning_rate` last), times with the unit that fits them (`850µs`,
/// `12ms`, `3s`; where Keras would print `0s`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// Nothing (`verbose=0`, or `false`).
    Silent,
    /// Keras's default `"auto"` (or `true`): the progress bar when standard
    /// output is a terminal, a line per epoch when it is not (a log, CI).
    #[default]
    Auto,
    /// The progress bar (`verbose=1`). Where standard output is not a
    /// terminal, the bar cannot be redrawn: only each epoch's final bar
    /// line is printed.
    ProgressBar,
    /// A line per epoch (`verbose=2`).
    EpochLine,
}

impl From<bool> for Verbosity {
    /// `true` is [`Verbosity::Auto`], `false` [`Verbosity::Silent`].
    fn from(verbose: bool) -> Self {
        if verbose {
            Verbosity::Auto
        } else {
            Verbosity::Silent
        }
    }
}

impl From<u8> for Verbosity {
    /// Keras's numbers: 0 [`Silent`](Verbosity::Silent), 1
    /// [`ProgressBar`](Verbosity::ProgressBar), 2 (or more)
    /// [`EpochLine`](Verbosity::EpochLine).
    fn from(verbose: u8) -> Self {
        match verbose {
            0 => Verbosity::Silent,
            1 => Verbosity::ProgressBar,
            _ => Verbosity::EpochLine,
        }
    }
}

/// A learning-rate schedule: `(0-based epoch, current rate) -> new rate`,
/// called at the start of every epoch, as `keras.callbacks.LearningRateScheduler`.
pub type LearningRateSchedule = fn(usize, f64) -> f64;

/// The settings of [`fit`](super::fit()), with Keras's defaults and builder methods.
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
    pub(super) epochs: usize,
    pub(super) batch_size: usize,
    pub(super) shuffle: bool,
    pub(super) seed: u64,
    pub(super) validation_split: f64,
    pub(super) validation_data: Option<(M::Inputs<'a>, M::Targets<'a>)>,
    pub(super) validation_sample_weight: Option<&'a [T]>,
    pub(super) sample_weight: Option<&'a [T]>,
    pub(super) early_stopping: Option<EarlyStopping>,
    pub(super) learning_rate_schedule: Option<LearningRateSchedule>,
    pub(super) verbose: Verbosity,
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
    /// validation, no sample weights, no early stopping, progress printed
    /// as Keras's `verbose="auto"` prints it.
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
            verbose: Verbosity::Auto,
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

    /// How much progress to print, as Keras's `verbose`: `0` nothing, `1` a
    /// progress bar, `2` one line per epoch, or `true` (the default, Keras's
    /// `"auto"`: the bar on a terminal, a line per epoch otherwise) and
    /// `false` (nothing); see [`Verbosity`]. Printing needs the `std`
    /// feature.
    pub fn verbose(mut self, verbose: impl Into<Verbosity>) -> Self {
        self.verbose = verbose.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_models::Probe;
    use super::*;
    use alloc::format;

    #[test]
    fn options_have_keras_defaults() {
        let o = FitOptions::<f64, Probe>::default();
        assert_eq!(
            (o.epochs, o.batch_size, o.shuffle, o.validation_split, o.verbose),
            (1, 32, true, 0.0, Verbosity::Auto)
        );
        assert!(o.validation_data.is_none() && o.sample_weight.is_none() && o.early_stopping.is_none());
        let e = EarlyStopping::default();
        assert_eq!((e.monitor(), e.patience, e.min_delta, e.restore_best_weights), ("val_loss", 0, 0.0, false));
        assert!(format!("{o:?}").contains("batch_size: 32"));
        // Keras's numbers, and the booleans of before.
        let levels = [0u8, 1, 2, 3].map(Verbosity::from);
        assert_eq!(levels, [Verbosity::Silent, Verbosity::ProgressBar, Verbosity::EpochLine, Verbosity::EpochLine]);
        assert_eq!([Verbosity::from(true), Verbosity::from(false)], [Verbosity::Auto, Verbosity::Silent]);
        assert_eq!(FitOptions::<f64, Probe>::new().verbose(2).verbose, Verbosity::EpochLine);
    }
}
