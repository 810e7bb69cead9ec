//! Keras 3's optimizers — [`Sgd`], [`RmsProp`] and [`Adam`] — with Keras's
//! gradient clipping ([`Clip`]), for any generated network.
//!
//! The update rules are Keras 3's, operation for operation, so that a model
//! trained here follows the same trajectory as the same model trained by
//! Keras (in `f64`, to the last few ulps). The optimizer state (velocities,
//! moments) is held as values of the model type `M` itself, created with
//! [`Network::zeros`]: it is sized for the model at compile time, lives
//! inline in the optimizer, and is never reallocated. Nothing here allocates
//! or needs `std`.
//!
//! Only the tensors of [`Network::TENSORS`] whose
//! [`trainable`](crate::TensorInfo::trainable) flag is set are updated (and
//! only they count towards a global gradient norm), as Keras's optimizer only
//! ever sees the trainable variables.
//!
//! ```
//! use staticnet::{Network, Optimizer, RmsProp};
//!
//! /// One update of any model from its gradients.
//! fn step<M: Network<f32>>(model: &mut M, grads: &M, optimizer: &mut RmsProp<f32, M>) {
//!     optimizer.apply(model, grads);
//! }
//!
//! fn make<M: Network<f32>>() -> RmsProp<f32, M> {
//!     // keras.optimizers.RMSprop(learning_rate=0.01, momentum=0.9, clipnorm=1.0)
//!     RmsProp::new()
//!         .with_learning_rate(0.01)
//!         .with_momentum(0.9)
//!         .with_clipnorm(1.0)
//! }
//! ```
//!
//! Hyperparameters are public fields of type `T`, rounded from the `f64`
//! the builders take; the constants Keras derives from them in Python
//! (`1 - rho`, `1 - beta_1`, …) are computed in `T`, which for `f32` can
//! differ from Keras by an ulp.

/// A builder method that sets one hyperparameter: an `f64` rounded to `T`,
/// or a flag.
macro_rules! hyperparameter_setter {
    ($(#[doc = $doc:literal])* $setter:ident($field:ident: f64)) => {
        $(#[doc = $doc])*
        #[must_use]
        pub fn $setter(mut self, $field: f64) -> Self {
            self.$field = $crate::scalar::c($field);
            self
        }
    };
    ($(#[doc = $doc:literal])* $setter:ident($field:ident: bool)) => {
        $(#[doc = $doc])*
        #[must_use]
        pub fn $setter(mut self, $field: bool) -> Self {
            self.$field = $field;
            self
        }
    };
}

/// A builder method that sets one of the three clips.
macro_rules! clip_setter {
    ($(#[doc = $doc:literal])* $setter:ident($field:ident) => $kind:ident) => {
        $(#[doc = $doc])*
        ///
        /// # Panics
        ///
        /// When one of the other two clips is already set (Keras allows one).
        #[must_use]
        pub fn $setter(mut self, $field: f64) -> Self {
            self.clip.set_only($crate::optim::clip::ClipKind::$kind, $crate::scalar::c($field));
            self
        }
    };
}

/// Writes an optimizer's builder methods (the learning rate, the
/// hyperparameters listed under `setters`, the clips), the accessors of the
/// state buffers listed under `state`, `Default`, and the [`Optimizer`] impl
/// around the optimizer's own `update`, so that what the optimizers share is
/// written once. The builders stay inherent methods: `RmsProp::new()
/// .with_clipnorm(1.0)` needs no trait in scope.
macro_rules! optimizer_common {
    (
        $optimizer:ident {
            setters: { $($(#[doc = $setter_doc:literal])* $setter:ident($field:ident: $ty:tt)),* $(,)? },
            state: { $($(#[doc = $state_doc:literal])* $state:ident),* $(,)? } $(,)?
        }
    ) => {
        impl<T: $crate::Scalar, M: $crate::Network<T>> $optimizer<T, M> {
            hyperparameter_setter!(
                /// Sets the learning rate.
                with_learning_rate(learning_rate: f64)
            );

            $(hyperparameter_setter!($(#[doc = $setter_doc])* $setter($field: $ty));)*

            /// Sets the clipping (replacing any set before).
            #[must_use]
            pub fn with_clip(mut self, clip: $crate::optim::Clip<T>) -> Self {
                self.clip = clip;
                self
            }

            clip_setter!(
                /// Clips each tensor's gradient to L2 norm `clipnorm`.
                with_clipnorm(clipnorm) => Norm
            );
            clip_setter!(
                /// Clips each gradient element to `[-clipvalue, clipvalue]`.
                with_clipvalue(clipvalue) => Value
            );
            clip_setter!(
                /// Clips all gradients together to global L2 norm `global_clipnorm`.
                with_global_clipnorm(global_clipnorm) => GlobalNorm
            );

            $(
                $(#[doc = $state_doc])*
                pub fn $state(&self) -> &M {
                    &self.$state
                }
            )*
        }

        impl<T: $crate::Scalar, M: $crate::Network<T>> Default for $optimizer<T, M> {
            fn default() -> Self {
                Self::new()
            }
        }

        impl<T: $crate::Scalar, M: $crate::Network<T>> $crate::optim::Optimizer<T, M> for $optimizer<T, M> {
            fn apply(&mut self, params: &mut M, grads: &M) {
                self.update(params, grads);
                self.iterations += 1;
            }

            fn iterations(&self) -> u64 {
                self.iterations
            }

            fn learning_rate(&self) -> T {
                self.learning_rate
            }

            fn set_learning_rate(&mut self, learning_rate: T) {
                self.learning_rate = learning_rate;
            }
        }
    };
}

mod adam;
mod clip;
mod rmsprop;
mod sgd;
#[cfg(test)]
mod tests;

pub use adam::Adam;
pub use clip::{Clip, ClipError};
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

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

/// Indices of the trainable tensors of `M`.
#[inline]
fn trainable<T: Scalar, M: Network<T>>() -> impl Iterator<Item = usize> {
    M::TENSORS.iter().enumerate().filter(|(_, info)| info.trainable).map(|(i, _)| i)
}
