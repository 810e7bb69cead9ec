//! Optimizers (being written; the trait below is fixed).
use crate::{Network, Scalar};

/// An optimizer that updates any generated network from its gradients.
pub trait Optimizer<T: Scalar, M: Network<T>> {
    /// Applies one update of `params` from `grads` (only the trainable
    /// tensors of `M::TENSORS`), then counts the iteration.
    fn apply(&mut self, params: &mut M, grads: &M);
    /// Number of updates applied so far (Keras's `optimizer.iterations`).
    fn iterations(&self) -> u64;
    /// The current learning rate.
    fn learning_rate(&self) -> T;
    /// Sets the learning rate used by the following updates.
    fn set_learning_rate(&mut self, learning_rate: T);
}
/// SGD.
pub struct Sgd;
/// RMSprop.
pub struct RmsProp;
/// Adam.
pub struct Adam;
/// Clipping.
pub struct Clip;
