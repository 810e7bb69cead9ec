//! [`FitError`], why `fit`, `evaluate` or `predict` refused the data or stopped.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::data::split_point;
use super::history::History;

/// Why [`fit`](super::fit()), [`evaluate`](super::evaluate) or [`predict`](super::predict) refused the data or stopped.
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
    /// The data holds a NaN or an infinity; nothing was trained or run.
    NonFiniteData {
        /// Where: ``input `posts` ``, ``target of head `age` ``,
        /// `` `sample_weight` ``, with ``validation `` before it for the
        /// validation data given separately.
        tensor: String,
        /// The value: NaN, `inf` or `-inf`.
        value: f64,
        /// The 0-based sample (column) holding it, counted in the data as
        /// given (before any validation split).
        sample: usize,
        /// The 0-based feature (row) within the sample; `None` for a sample
        /// weight.
        feature: Option<usize>,
    },
    /// A token id is outside the ids the input's `Embedding` accepts.
    IdOutOfRange {
        /// Where: ``input `text` ``, with ``validation `` before it for the
        /// validation data given separately.
        tensor: String,
        /// The 0-based sample.
        sample: usize,
        /// The 0-based position (step) within the sample.
        position: usize,
        /// The id.
        id: u32,
        /// The number of ids the input takes (`0..ids`).
        ids: usize,
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
            FitError::NonFiniteData { tensor, value, sample, feature } => {
                write!(f, "{tensor} holds {value} at sample {sample}")?;
                match feature {
                    Some(feature) => write!(f, ", feature {feature}"),
                    None => Ok(()),
                }
            }
            FitError::IdOutOfRange { tensor, sample, position, id, ids } => write!(
                f,
                "{tensor} holds id {id} at sample {sample}, position {position}: its `Embedding` takes ids 0..{ids}"
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
