//! The names `fit` and `evaluate` log, and the running sums behind them.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::losses;
use crate::network::Network;
use crate::Scalar;

/// The names a model logs, Keras 3's way, each with `prefix` (`""` or `"val_"`).
pub(super) fn log_names<T: Scalar, M: Network<T>>(prefix: &str) -> Vec<String> {
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
pub(super) struct Accum {
    samples: usize,
    loss: f64,
    head_loss: Vec<f64>,
    metric: Vec<f64>,
}

impl Accum {
    pub(super) fn new<T: Scalar, M: Network<T>>() -> Self {
        let metrics = M::HEADS.iter().map(|h| h.metrics.len()).sum();
        Self { samples: 0, loss: 0.0, head_loss: vec![0.0; M::HEADS.len()], metric: vec![0.0; metrics] }
    }

    pub(super) fn reset(&mut self) {
        self.samples = 0;
        self.loss = 0.0;
        self.head_loss.iter_mut().for_each(|v| *v = 0.0);
        self.metric.iter_mut().for_each(|v| *v = 0.0);
    }

    /// Adds a batch of `n` samples: its total loss, its heads' losses, and
    /// the metrics of the heads' outputs that `workspace` holds.
    pub(super) fn add<T: Scalar, M: Network<T>>(
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
            // A head with a value per step counts each step, averaged per sample.
            let positions = (head.width / head.units.max(1)).max(1) as f64;
            for &metric in head.metrics {
                // Keras's `metrics` are unweighted; only `weighted_metrics` take sample weights.
                self.metric[k] += losses::metric_sum(metric, output, targets[h], head.units, None) / positions;
                k += 1;
            }
        }
    }

    /// The means, in the order of [`log_names`].
    pub(super) fn values<T: Scalar, M: Network<T>>(&self, out: &mut Vec<f64>) {
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
