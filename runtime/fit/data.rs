//! The data sets of `fit`, `evaluate` and `predict`: typed matrices as
//! column-major slices, their checks, the validation split, and batches
//! gathered without allocating.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::error::FitError;
use crate::losses;
use crate::network::{Data, HeadInfo, InputData, Network};
use crate::Scalar;

/// A model's data as column-major slices, checked for equal sample counts
/// (token ids converted to values, the one copy of the data `fit` makes).
#[derive(Clone)]
pub(super) struct Dataset<'a, T: Clone> {
    pub(super) inputs: Vec<Cow<'a, [T]>>,
    pub(super) targets: Vec<&'a [T]>,
    pub(super) samples: usize,
}

impl<'a, T: Scalar> Dataset<'a, T> {
    /// Samples `start..end` (contiguous columns of every array).
    pub(super) fn range<M: Network<T>>(&self, start: usize, end: usize) -> Self {
        let cut = |s: &'a [T], w: usize| -> &'a [T] { &s[start * w..end * w] };
        let cut_input = |s: &Cow<'a, [T]>, w: usize| -> Cow<'a, [T]> {
            match s {
                Cow::Borrowed(s) => Cow::Borrowed(cut(s, w)),
                Cow::Owned(v) => Cow::Owned(v[start * w..end * w].to_vec()),
            }
        };
        Dataset {
            inputs: self.inputs.iter().zip(M::INPUT_WIDTHS).map(|(s, &w)| cut_input(s, w)).collect(),
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

/// Each input's values: token ids checked against the ids the model takes
/// and converted (exact integers in `T`), values as they are.
fn input_slices<'a, T: Scalar, M: Data<T>>(x: M::Inputs<'a>, prefix: &str) -> Result<Vec<Cow<'a, [T]>>, FitError> {
    let mut raw: Vec<InputData<'a, T>> = vec![InputData::default(); M::INPUT_NAMES.len()];
    M::input_slices(x, &mut raw);
    let mut out = Vec::with_capacity(raw.len());
    for (i, data) in raw.into_iter().enumerate() {
        out.push(match data {
            InputData::Values(v) => Cow::Borrowed(v),
            InputData::Ids(ids) => {
                let limit = M::INPUT_IDS.get(i).copied().flatten().unwrap_or(usize::MAX);
                let width = M::INPUT_WIDTHS[i].max(1);
                if let Some(at) = ids.iter().position(|&id| id as usize >= limit) {
                    return Err(FitError::IdOutOfRange {
                        tensor: format!("{prefix}input `{}`", M::INPUT_NAMES[i]),
                        sample: at / width,
                        position: at % width,
                        id: ids[at],
                        ids: limit,
                    });
                }
                Cow::Owned(ids.iter().map(|&id| T::of_f64(id as f64)).collect())
            }
        });
    }
    Ok(out)
}

fn target_slices<'a, T: Scalar, M: Data<T>>(y: M::Targets<'a>) -> Vec<&'a [T]> {
    let mut out: Vec<&'a [T]> = vec![&[]; M::HEADS.len()];
    M::target_slices(y, &mut out);
    out
}

/// The inputs alone, checked for equal sample counts and finite values;
/// `prefix` is `""` or `"validation "`.
/// Every input's values and the number of samples.
pub(super) type Inputs<'a, T> = (Vec<Cow<'a, [T]>>, usize);

pub(super) fn inputs_of<'a, T: Scalar, M: Data<T>>(x: M::Inputs<'a>, prefix: &str) -> Result<Inputs<'a, T>, FitError> {
    let raw = input_slices::<T, M>(x, prefix)?;
    let (_, samples) = checked_slices(
        raw.iter()
            .zip(M::INPUT_NAMES.iter().zip(M::INPUT_WIDTHS))
            .map(|(s, (name, &w))| (format!("{prefix}input `{name}`"), w, &**s)),
    )?;
    check_inputs_finite::<T, M>(&raw, prefix)?;
    Ok((raw, samples))
}

/// Inputs and targets, checked for equal sample counts, valid class indices
/// and finite values.
pub(super) fn dataset_of<'a, 'x: 'a, 'y: 'a, T: Scalar, M: Data<T>>(
    x: M::Inputs<'x>,
    y: M::Targets<'y>,
    validation: bool,
) -> Result<Dataset<'a, T>, FitError> {
    let prefix = if validation { "validation " } else { "" };
    let raw_inputs: Vec<Cow<'a, [T]>> = input_slices::<T, M>(x, prefix)?;
    let raw_targets: Vec<&'a [T]> = target_slices::<T, M>(y);
    let inputs = raw_inputs
        .iter()
        .zip(M::INPUT_NAMES.iter().zip(M::INPUT_WIDTHS))
        .map(|(s, (name, &w))| (format!("{prefix}input `{name}`"), w, &**s));
    let targets = raw_targets
        .iter()
        .zip(M::HEADS)
        .map(|(&s, head)| (format!("{prefix}target `{}`", head.name), head.target_width, s));
    let (_, samples) = checked_slices(inputs.chain(targets))?;
    let data = Dataset { inputs: raw_inputs, targets: raw_targets, samples };
    check_class_indices::<T, M>(&data, validation)?;
    check_inputs_finite::<T, M>(&data.inputs, prefix)?;
    for (target, head) in data.targets.iter().zip(M::HEADS) {
        check_finite(|| format!("{prefix}target of head `{}`", head.name), target, head.target_width)?;
    }
    Ok(data)
}

fn check_inputs_finite<T: Scalar, M: Network<T>>(inputs: &[Cow<'_, [T]>], prefix: &str) -> Result<(), FitError> {
    for ((input, name), &width) in inputs.iter().zip(M::INPUT_NAMES).zip(M::INPUT_WIDTHS) {
        check_finite(|| format!("{prefix}input `{name}`"), input, width)?;
    }
    Ok(())
}

/// Refuses a NaN or infinite value in `data`, a column-major array of
/// `width` values a sample, naming where it is: training on it would turn
/// the loss, or silently the weights, into NaN.
fn check_finite<T: Scalar>(tensor: impl FnOnce() -> String, data: &[T], width: usize) -> Result<(), FitError> {
    match first_non_finite(data) {
        None => Ok(()),
        Some((at, value)) => {
            Err(FitError::NonFiniteData { tensor: tensor(), value, sample: at / width, feature: Some(at % width) })
        }
    }
}

/// The index and value of the first NaN or infinity in `data`.
fn first_non_finite<T: Scalar>(data: &[T]) -> Option<(usize, f64)> {
    let at = data.iter().position(|v| !v.as_f64().is_finite())?;
    Some((at, data[at].as_f64()))
}

/// Whether a head's target is a class index.
fn is_sparse(head: &HeadInfo) -> bool {
    matches!(head.loss, Some(losses::Loss::SparseCategoricalCrossentropy { .. }))
        || head.metrics.contains(&crate::network::MetricKind::SparseCategoricalAccuracy)
}

fn check_class_indices<T: Scalar, M: Network<T>>(data: &Dataset<'_, T>, validation: bool) -> Result<(), FitError> {
    for (head, target) in M::HEADS.iter().zip(&data.targets) {
        // a class index per position
        if !is_sparse(head) || head.target_width * head.units != head.width {
            continue;
        }
        for (at, &t) in target.iter().enumerate() {
            let value = t.as_f64();
            let valid = value.is_finite() && libm::floor(value) == value && value >= 0.0 && value < head.units as f64;
            if !valid {
                return Err(FitError::InvalidClassIndex {
                    head: head.name,
                    validation,
                    sample: at / head.target_width.max(1),
                    value,
                    classes: head.units,
                });
            }
        }
    }
    Ok(())
}

/// Checks that `weights`, when given, hold one finite weight per sample.
pub(super) fn check_weights<T: Scalar>(
    what: &'static str,
    weights: Option<&[T]>,
    samples: usize,
) -> Result<(), FitError> {
    let Some(weights) = weights else { return Ok(()) };
    if weights.len() != samples {
        return Err(FitError::SampleWeightLength { what, len: weights.len(), samples });
    }
    match first_non_finite(weights) {
        // A weight is a sample's alone: no feature to name.
        Some((sample, value)) => {
            Err(FitError::NonFiniteData { tensor: format!("`{what}`"), value, sample, feature: None })
        }
        None => Ok(()),
    }
}

/// Keras's `train_validation_split`: the first `floor(n · (1 - split))`
/// samples train.
pub(super) fn split_point(samples: usize, validation_split: f64) -> usize {
    libm::floor(samples as f64 * (1.0 - validation_split)) as usize
}

const STACK_SLICES: usize = 16;

/// A list of slices that lives on the stack for up to 16 arrays, so that
/// building a batch's `&[&[T]]` allocates nothing for usual models.
pub(super) struct Slices<'a, T> {
    stack: [&'a [T]; STACK_SLICES],
    heap: Vec<&'a [T]>,
    count: usize,
}

impl<'a, T> Slices<'a, T> {
    pub(super) fn new(count: usize, mut slice: impl FnMut(usize) -> &'a [T]) -> Self {
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

    pub(super) fn as_slice(&self) -> &[&'a [T]] {
        if self.count <= STACK_SLICES {
            &self.stack[..self.count]
        } else {
            &self.heap
        }
    }
}

/// Copies the columns `indices` of `src` (rows `width`) into `dst`.
pub(super) fn gather<T: Copy>(src: &[T], width: usize, indices: &[usize], dst: &mut [T]) {
    for (k, &i) in indices.iter().enumerate() {
        dst[k * width..(k + 1) * width].copy_from_slice(&src[i * width..(i + 1) * width]);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_models::*;
    use super::*;
    use crate::fit::{evaluate, evaluate_weighted, fit, predict, EarlyStopping, FitOptions};
    use alloc::string::ToString;

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

    /// `matrix` with `value` at (`feature`, `sample`).
    fn with_value<const R: usize>(matrix: &Cols<R>, sample: usize, feature: usize, value: f64) -> Cols<R> {
        let mut changed = matrix.clone();
        changed[(feature, sample)] = value;
        changed
    }

    #[test]
    fn non_finite_data_is_refused_before_training() {
        let d = two_head_data(10, 1);
        let (x, y) = ((&d.a, &d.b), (&d.reg, &d.cls));
        let a_nan = with_value(&d.a, 4, 1, f64::NAN);
        let b_nan = with_value(&d.b, 3, 0, f64::NAN);
        let a_late_nan = with_value(&d.a, 9, 0, f64::NAN);
        let reg_inf = with_value(&d.reg, 0, 0, f64::INFINITY);
        let cls_minus_inf = with_value(&d.cls, 9, 0, f64::NEG_INFINITY);
        let mut weights = [1.0; 10];
        weights[6] = f64::NAN;
        let untrained = TwoHead::with_seed(1);
        let mut model = untrained.clone();
        let mut optimizer = sgd(0.1);
        let mut run = |x: (&Cols<2>, &Cols<1>), y: (&Cols<1>, &Cols<1>), options: FitOptions<'_, f64, TwoHead>| {
            fit(&mut model, &mut optimizer, x, y, &options).unwrap_err().to_string()
        };
        assert_eq!(run((&a_nan, &d.b), y, quiet()), "input `a` holds NaN at sample 4, feature 1");
        assert_eq!(run(x, (&reg_inf, &d.cls), quiet()), "target of head `reg` holds inf at sample 0, feature 0");
        assert_eq!(run(x, (&d.reg, &cls_minus_inf), quiet()), "target of head `cls` holds -inf at sample 9, feature 0");
        assert_eq!(run(x, y, quiet().sample_weight(&weights)), "`sample_weight` holds NaN at sample 6");
        // Validation data given separately, and the held-out part of a split
        // (whose samples count from the start of the data as given).
        assert_eq!(
            run(x, y, quiet().validation_data((&d.a, &b_nan), y)),
            "validation input `b` holds NaN at sample 3, feature 0"
        );
        assert_eq!(
            run(x, y, quiet().validation_data(x, (&reg_inf, &d.cls))),
            "validation target of head `reg` holds inf at sample 0, feature 0"
        );
        assert_eq!(
            run(x, y, quiet().validation_data(x, y).validation_sample_weight(&weights)),
            "`validation_sample_weight` holds NaN at sample 6"
        );
        assert_eq!(
            run((&a_late_nan, &d.b), y, quiet().validation_split(0.5)),
            "input `a` holds NaN at sample 9, feature 0"
        );
        // Nothing was trained.
        assert_eq!(optimizer.iterations, 0);
        assert_eq!(model, untrained);

        assert_eq!(
            evaluate(&model, x, (&d.reg, &cls_minus_inf), 4).unwrap_err().to_string(),
            "target of head `cls` holds -inf at sample 9, feature 0"
        );
        assert_eq!(
            evaluate_weighted(&model, x, y, Some(&weights[..]), 4).unwrap_err().to_string(),
            "`sample_weight` holds NaN at sample 6"
        );
        match predict(&model, (&d.a, &b_nan), 4).unwrap_err() {
            FitError::NonFiniteData { tensor, value, sample, feature } => {
                assert_eq!((tensor.as_str(), sample, feature), ("input `b`", 3, Some(0)));
                assert!(value.is_nan());
            }
            other => panic!("{other:?}"),
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
}
