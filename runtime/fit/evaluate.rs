//! `evaluate` and `predict`: inference-mode passes over a data set in batches.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use nalgebra::DMatrix;

use super::data::{check_weights, dataset_of, inputs_of, Dataset, Slices};
use super::error::FitError;
use super::history::Logs;
use super::metrics::{log_names, Accum};
use crate::losses;
use crate::network::{Data, Mode, Network, Train};
use crate::Scalar;

/// Buffers for inference-mode passes over contiguous batches.
pub(super) struct Evaluator<T> {
    batch_size: usize,
    workspace: Vec<T>,
    stats: Vec<T>,
    head_losses: Vec<T>,
}

impl<T: Scalar> Evaluator<T> {
    pub(super) fn new<M: Network<T>>(batch_size: usize) -> Self {
        Self {
            batch_size,
            workspace: vec![T::zero(); M::FORWARD_ROWS * batch_size],
            stats: vec![T::zero(); M::STATS_LEN],
            head_losses: vec![T::zero(); M::HEADS.len()],
        }
    }

    /// Runs `model` on `inputs` in batches; `each` receives the batch's
    /// first sample, its size and the workspace holding the heads' outputs.
    pub(super) fn for_each_batch<M: Network<T>>(
        &mut self,
        model: &M,
        inputs: &[alloc::borrow::Cow<'_, [T]>],
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
    pub(super) fn evaluate<M: Network<T>>(
        &mut self,
        model: &M,
        data: &Dataset<'_, T>,
        weights: Option<&[T]>,
        acc: &mut Accum,
    ) {
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
                    let positions = head.width / head.units.max(1);
                    let value = losses::loss_and_grad_at(
                        loss,
                        output,
                        targets.as_slice()[h],
                        head.units,
                        positions,
                        weights,
                        None,
                    );
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
    use super::super::test_models::*;
    use super::*;
    use crate::losses::Loss;
    use alloc::string::ToString;

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
}
