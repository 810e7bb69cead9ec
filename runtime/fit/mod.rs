//! Keras-style `fit`, `evaluate` and `predict` for any generated network.
//!
//! These work through the [`Train`](crate::Train) and [`Data`](crate::Data) traits that every struct
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
//!   restoring the best weights at the end of training;
//! - progress is printed as Keras 3's `ProgbarLogger` prints it: a bar
//!   redrawn in place on a terminal, a line per epoch elsewhere (see
//!   [`Verbosity`]; times are shown in the unit that fits them where Keras
//!   rounds to whole seconds).
//!
//! Where it differs: a NaN or infinite training loss stops training with
//! [`FitError::NonFinite`] *before* that batch's update is applied (Keras's
//! `TerminateOnNaN` applies it); a NaN or infinity in the data (inputs,
//! targets, sample weights, validation data) is refused with
//! [`FitError::NonFiniteData`] before the first batch, where Keras would
//! train on it; and an early-stopping monitor that training does not log is
//! an error rather than a warning.

mod data;
mod error;
mod evaluate;
mod history;
mod metrics;
mod options;
#[cfg(feature = "plot")]
mod plot;
#[cfg(feature = "std")]
mod progress;
mod stopping;
#[cfg(test)]
mod test_models;
mod train;

pub use error::FitError;
pub use evaluate::{evaluate, evaluate_weighted, predict};
pub use history::{History, Logs};
pub use options::{EarlyStopping, FitOptions, LearningRateSchedule, MonitorMode, Verbosity};
#[cfg(feature = "plot")]
pub use plot::PlotError;
pub use train::fit;
