//! What training logs: [`Logs`] (one set of named values) and [`History`]
//! (each value per epoch), and how values are printed.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

#[cfg(feature = "std")]
use std::time::Duration;

/// Named values, in the order Keras logs them: `loss`, per-head losses,
/// metrics (Keras's `logs` dictionary, or `evaluate(..., return_dict=True)`).
///
/// Its `Display` is the progress line's `loss: 0.1234 - accuracy: 0.9650`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logs {
    pub(super) entries: Vec<(String, f64)>,
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
pub(super) fn write_value(f: &mut impl fmt::Write, value: f64) -> fmt::Result {
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

/// What [`fit`](super::fit()) returns: each logged value per epoch, as Keras's
/// `history.history`. With the `plot` feature, `write_svg` draws them as
/// learning curves.
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
    pub(super) names: Vec<String>,
    pub(super) values: Vec<Vec<f64>>,
    pub(super) epochs: usize,
    pub(super) stopped_epoch: Option<usize>,
    pub(super) best_epoch: Option<usize>,
    #[cfg(feature = "std")]
    pub(super) epoch_times: Vec<Duration>,
}

impl History {
    pub(super) fn with_names(names: Vec<String>) -> Self {
        let values = names.iter().map(|_| Vec::new()).collect();
        Self { names, values, ..Self::default() }
    }

    pub(super) fn push(&mut self, values: &[f64]) {
        for (column, &v) in self.values.iter_mut().zip(values) {
            column.push(v);
        }
        self.epochs += 1;
    }

    /// Records how long the epoch just pushed took (kept with `std` only).
    pub(super) fn push_epoch_time(&mut self, time: core::time::Duration) {
        #[cfg(feature = "std")]
        self.epoch_times.push(time);
        #[cfg(not(feature = "std"))]
        let _ = time;
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

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
}
