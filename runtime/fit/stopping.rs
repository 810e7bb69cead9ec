//! Early stopping's state during one `fit`, as `keras.callbacks.EarlyStopping`
//! keeps it.

use super::options::{EarlyStopping, MonitorMode};

/// The state of an [`EarlyStopping`] during one `fit`.
#[derive(Clone, Debug)]
pub(super) struct Stopper {
    maximize: bool,
    min_delta: f64,
    patience: usize,
    baseline: Option<f64>,
    start_from_epoch: usize,
    best: f64,
    pub(super) best_epoch: Option<usize>,
    wait: usize,
}

/// What [`Stopper::update`] decides after an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct StopDecision {
    /// The epoch's weights are the best so far: snapshot them.
    pub(super) snapshot: bool,
    /// Stop training.
    pub(super) stop: bool,
}

impl Stopper {
    pub(super) fn new(config: &EarlyStopping) -> Self {
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
    pub(super) fn update(&mut self, epoch: usize, value: f64) -> StopDecision {
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

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
}
