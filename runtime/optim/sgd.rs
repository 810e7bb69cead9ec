//! [`Sgd`], Keras 3's `keras.optimizers.SGD`.

use super::clip::{for_each_trainable, with_clip, Clip, GradClip};
use crate::scalar::c;
use crate::{Network, Scalar};

/// Stochastic gradient descent, Keras 3's `keras.optimizers.SGD`.
///
/// With learning rate `lr`, momentum `μ` and gradient `g`:
/// - `μ = 0`: `w -= g·lr`;
/// - otherwise `m = m·μ − g·lr`, then `w += m`, or with Nesterov
///   `w += m·μ − g·lr` (Nesterov is ignored when `μ = 0`, as in Keras).
#[derive(Clone, Debug, PartialEq)]
pub struct Sgd<T, M> {
    /// Learning rate (Keras default 0.01).
    pub learning_rate: T,
    /// Momentum `μ` in `[0, 1]` (default 0).
    pub momentum: T,
    /// Whether to use Nesterov momentum (default false).
    pub nesterov: bool,
    /// Gradient clipping (default none).
    pub clip: Clip<T>,
    iterations: u64,
    momentums: M,
}

impl<T: Scalar, M: Network<T>> Sgd<T, M> {
    /// Keras's defaults: learning rate 0.01, momentum 0, no Nesterov.
    pub fn new() -> Self {
        Sgd {
            learning_rate: c(0.01),
            momentum: T::zero(),
            nesterov: false,
            clip: Clip::none(),
            iterations: 0,
            momentums: M::zeros(),
        }
    }

    /// Sets the momentum.
    ///
    /// # Panics
    ///
    /// When `momentum` is not in `[0, 1]`, as Keras raises a `ValueError`.
    #[must_use]
    pub fn with_momentum(mut self, momentum: f64) -> Self {
        assert!((0.0..=1.0).contains(&momentum), "`momentum` must be a float between [0, 1]");
        self.momentum = c(momentum);
        self
    }

    /// One update of `params` from `grads`, Keras's `update_step` for every
    /// trainable tensor.
    fn update(&mut self, params: &mut M, grads: &M) {
        let lr = self.learning_rate;
        let mu = self.momentum;
        let nesterov = self.nesterov;
        let momentums = &mut self.momentums;
        for_each_trainable(&self.clip, params, grads, |i, w, g, clip| {
            if mu != T::zero() {
                let m = &mut momentums.tensor_mut(i)[..w.len()];
                if nesterov {
                    with_clip!(clip, |f| sgd_momentum::<T, true>(w, g, m, lr, mu, f));
                } else {
                    with_clip!(clip, |f| sgd_momentum::<T, false>(w, g, m, lr, mu, f));
                }
            } else {
                with_clip!(clip, |f| {
                    for (w, &g) in w.iter_mut().zip(g) {
                        *w -= f(g) * lr;
                    }
                });
            }
        });
    }
}

optimizer_common!(Sgd {
    setters: {
        /// Sets Nesterov momentum on or off.
        with_nesterov(nesterov: bool),
    },
    state: {
        /// The momentum buffer `m` (zero while the momentum is 0).
        momentums,
    },
});

#[inline(always)]
fn sgd_momentum<T: Scalar, const NESTEROV: bool>(
    w: &mut [T],
    g: &[T],
    m: &mut [T],
    lr: T,
    mu: T,
    clip: impl Fn(T) -> T,
) {
    for ((w, m), &g) in w.iter_mut().zip(m.iter_mut()).zip(g) {
        let g = clip(g);
        *m = *m * mu - g * lr;
        if NESTEROV {
            *w += *m * mu - g * lr;
        } else {
            *w += *m;
        }
    }
}
