//! The traits every generated network implements, through which the
//! runtime's optimizers, `fit`, `evaluate`, `predict` and weight I/O work
//! with any model.

pub use crate::vocab::MetricKind;

use crate::vocab::Loss;
use crate::Scalar;

/// Whether a pass runs as in `model.predict` or as in training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Dropout is the identity; batch normalization uses its moving statistics.
    Inference,
    /// Dropout drops with a mask drawn from `dropout_seed`; batch
    /// normalization uses the batch's statistics.
    Training {
        /// Seed of every dropout mask in this pass.
        dropout_seed: u64,
    },
}

/// One parameter tensor of a network, named as Keras names its variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// `"{layer}.{variable}"`, for example `"dense.kernel"`.
    pub name: &'static str,
    /// Keras's shape: `[in, out]` for a kernel, `[units]` for a vector.
    pub shape: &'static [usize],
    /// Whether the optimizer updates it (moving statistics are not trained).
    pub trainable: bool,
}

impl TensorInfo {
    /// Number of scalars in the tensor.
    pub const fn len(&self) -> usize {
        let mut n = 1;
        let mut i = 0;
        while i < self.shape.len() {
            n *= self.shape[i];
            i += 1;
        }
        n
    }

    /// Whether the tensor holds no scalars.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One output of a network.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeadInfo {
    /// The output layer's name.
    pub name: &'static str,
    /// Values per sample.
    pub width: usize,
    /// Values per position: the last axis (`width` for a vector head; a
    /// head with a value per step has `width / units` positions).
    pub units: usize,
    /// Values of its target per sample: `width`, or one class index per
    /// position for sparse targets.
    pub target_width: usize,
    /// Its loss, when `compile` names one.
    pub loss: Option<Loss>,
    /// Its weight in the total loss.
    pub loss_weight: f64,
    /// Its metrics.
    pub metrics: &'static [MetricKind],
}

/// Implemented by every struct that [`network!`](macro@crate::network) generates.
///
/// Buffers are column-major with one column per sample: a batch of `n`
/// samples of width `w` is a slice of `w * n` scalars.
///
/// `Send + Sync` (a generated struct is, being its weights): with the
/// `parallel` feature, [`fit`](crate::fit()) runs half a batch on another
/// thread.
pub trait Network<T: Scalar>: Clone + core::fmt::Debug + PartialEq + Send + Sync {
    /// Number of scalars in all parameters, trainable or not.
    const PARAM_COUNT: usize;
    /// Every parameter tensor, in definition order.
    const TENSORS: &'static [TensorInfo];
    /// Names of the inputs, in `Model` order.
    const INPUT_NAMES: &'static [&'static str];
    /// Widths of the inputs, in `Model` order.
    const INPUT_WIDTHS: &'static [usize];
    /// The heads, in output order.
    const HEADS: &'static [HeadInfo];
    /// Rows per sample of the workspace [`Network::forward_slices`] needs.
    const FORWARD_ROWS: usize;
    /// Rows per sample of the workspace [`Train::loss_and_grad_slices`] needs.
    const TRAIN_ROWS: usize;
    /// Row offset of each head's output inside the workspace.
    const HEAD_OFFSETS: &'static [usize];
    /// Length of the per-feature statistics buffer (batch normalization).
    const STATS_LEN: usize;
    /// For each input, in `Model` order, whether it takes token ids and how
    /// many (the `input_dim` of the `Embedding` layers that read it):
    /// `Some(n)` for ids `0..n`, `None` for values. Empty when no input
    /// takes ids.
    const INPUT_IDS: &'static [Option<usize>] = &[];

    /// All parameters zero (a gradient buffer, or optimizer state).
    fn zeros() -> Self;
    /// Keras's initial weights, reproducible for `seed`.
    fn with_seed(seed: u64) -> Self;
    /// Tensor `i` of [`Network::TENSORS`], Keras's row-major layout.
    fn tensor(&self, i: usize) -> &[T];
    /// Tensor `i` of [`Network::TENSORS`], mutably.
    fn tensor_mut(&mut self, i: usize) -> &mut [T];
    /// Runs the graph on `n` samples; head `h` is then at rows
    /// `HEAD_OFFSETS[h]..` of `workspace` (`workspace[HEAD_OFFSETS[h] * n..]`).
    /// `workspace` holds at least `FORWARD_ROWS * n` scalars.
    fn forward_slices(&self, n: usize, inputs: &[&[T]], workspace: &mut [T], mode: Mode, stats: &mut [T]);
}

/// Implemented by networks whose `compile` names a loss for every head.
pub trait Train<T: Scalar>: Network<T> {
    /// Forward in training mode, every head's loss, the weighted total and its
    /// gradient written into `grads`. Head losses (unweighted) go into
    /// `head_losses`; returns the total. `sample_weight`, when given, has
    /// `n` entries and the batch loss is `Σ w·loss / n`, as Keras reduces it.
    #[allow(clippy::too_many_arguments)]
    fn loss_and_grad_slices(
        &self,
        n: usize,
        inputs: &[&[T]],
        targets: &[&[T]],
        sample_weight: Option<&[T]>,
        workspace: &mut [T],
        stats: &mut [T],
        grads: &mut Self,
        head_losses: &mut [T],
        dropout_seed: u64,
    ) -> T;

    /// Folds the batch statistics of the last training pass into the moving
    /// statistics of every batch normalization layer.
    fn update_moving_statistics(&mut self, stats: &[T]);
}

/// A generated network's typed data sets for [`fit`](crate::fit()): one
/// `OMatrix<T, Const<width>, Dyn>` per input and per head, a column a sample.
#[cfg(feature = "alloc")]
pub trait Data<T: Scalar>: Network<T> {
    /// `&OMatrix` for one input, a tuple of them for several.
    type Inputs<'a>: Copy
    where
        T: 'a;
    /// `&OMatrix` for one head, a tuple of them for several.
    type Targets<'a>: Copy
    where
        T: 'a;
    /// The column-major data of each input.
    fn input_slices<'a>(inputs: Self::Inputs<'a>, out: &mut [InputData<'a, T>]);
    /// The column-major data of each target.
    fn target_slices<'a>(targets: Self::Targets<'a>, out: &mut [&'a [T]]);
}

/// One input's data set, as [`Data::input_slices`] gives it: column-major
/// values, or token ids (`u32`) for an input declared with
/// `dtype = "int32"`.
#[cfg(feature = "alloc")]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InputData<'a, T> {
    /// Values, `width` a sample.
    Values(&'a [T]),
    /// Token ids, `width` a sample.
    Ids(&'a [u32]),
}

#[cfg(feature = "alloc")]
impl<T> Default for InputData<'_, T> {
    fn default() -> Self {
        InputData::Values(&[])
    }
}

/// Sum of the lengths of `tensors`.
pub const fn total_len(tensors: &[TensorInfo]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < tensors.len() {
        n += tensors[i].len();
        i += 1;
    }
    n
}
