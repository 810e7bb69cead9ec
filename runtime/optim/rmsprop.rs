//! [`RmsProp`], Keras 3's `keras.optimizers.RMSprop`.

use super::clip::{for_each_trainable, with_clip, Clip, GradClip};
use crate::scalar::c;
use crate::{Network, Scalar};

/// RMSprop, Keras 3's `keras.optimizers.RMSprop`.
///
/// With learning rate `lr`, decay `ρ`, momentum `μ`, `ε` and gradient `g`:
/// `v = ρ·v + (1−ρ)·g²`; the denominator is `v + ε`, or when centered
/// `a = ρ·a + (1−ρ)·g` and `v − a² + ε`; the increment is
/// `Δ = lr·g / sqrt(denominator)`; then `w −= Δ`, or with `μ > 0`
/// `m = μ·m + Δ; w −= m`.
#[derive(Clone, Debug, PartialEq)]
pub struct RmsProp<T, M> {
    /// Learning rate (Keras default 0.001).
    pub learning_rate: T,
    /// Decay `ρ` of the moving average of squared gradients (default 0.9).
    pub rho: T,
    /// Momentum `μ`; used when positive (default 0).
    pub momentum: T,
    /// `ε` added under the square root (default 1e-7).
    pub epsilon: T,
    /// Whether to normalize by the centered second moment (default false).
    pub centered: bool,
    /// Gradient clipping (default none).
    pub clip: Clip<T>,
    iterations: u64,
    velocities: M,
    momentums: M,
    average_gradients: M,
}

impl<T: Scalar, M: Network<T>> RmsProp<T, M> {
    /// Keras's defaults: learning rate 0.001, ρ 0.9, momentum 0, ε 1e-7,
    /// not centered.
    pub fn new() -> Self {
        RmsProp {
            learning_rate: c(0.001),
            rho: c(0.9),
            momentum: T::zero(),
            epsilon: c(1e-7),
            centered: false,
            clip: Clip::none(),
            iterations: 0,
            velocities: M::zeros(),
            momentums: M::zeros(),
            average_gradients: M::zeros(),
        }
    }

    /// One update of `params` from `grads`, Keras's `update_step` for every
    /// trainable tensor.
    fn update(&mut self, params: &mut M, grads: &M) {
        let lr = self.learning_rate;
        let rho = self.rho;
        let one_minus_rho = T::one() - rho;
        let eps = self.epsilon;
        let mu = self.momentum;
        let use_momentum = mu > T::zero();
        let centered = self.centered;
        let (velocities, momentums, average_gradients) =
            (&mut self.velocities, &mut self.momentums, &mut self.average_gradients);
        for_each_trainable(&self.clip, params, grads, |i, w, g, clip| {
            let n = w.len();
            let v = &mut velocities.tensor_mut(i)[..n];
            let m = &mut momentums.tensor_mut(i)[..n];
            let a = &mut average_gradients.tensor_mut(i)[..n];
            let h = RmsHyper { lr, rho, one_minus_rho, eps, mu };
            match (centered, use_momentum) {
                (false, false) => with_clip!(clip, |f| rmsprop::<T, false, false>(w, g, v, m, a, h, f)),
                (false, true) => with_clip!(clip, |f| rmsprop::<T, false, true>(w, g, v, m, a, h, f)),
                (true, false) => with_clip!(clip, |f| rmsprop::<T, true, false>(w, g, v, m, a, h, f)),
                (true, true) => with_clip!(clip, |f| rmsprop::<T, true, true>(w, g, v, m, a, h, f)),
            }
        });
    }
}

optimizer_common!(RmsProp {
    setters: {
        /// Sets the decay `ρ`.
        with_rho(rho: f64),
        /// Sets the momentum `μ` (used when positive).
        with_momentum(momentum: f64),
        /// Sets `ε`.
        with_epsilon(epsilon: f64),
        /// Sets centered RMSprop on or off.
        with_centered(centered: bool),
    },
    state: {
        /// The moving average of squared gradients `v`.
        velocities,
        /// The momentum buffer `m` (zero while the momentum is 0).
        momentums,
        /// The moving average of gradients `a` (zero unless centered).
        average_gradients,
    },
});

#[derive(Clone, Copy)]
struct RmsHyper<T> {
    lr: T,
    rho: T,
    one_minus_rho: T,
    eps: T,
    mu: T,
}

#[inline(always)]
fn rmsprop<T: Scalar, const CENTERED: bool, const MOMENTUM: bool>(
    w: &mut [T],
    g: &[T],
    v: &mut [T],
    m: &mut [T],
    a: &mut [T],
    h: RmsHyper<T>,
    clip: impl Fn(T) -> T,
) {
    let RmsHyper { lr, rho, one_minus_rho, eps, mu } = h;
    let n = w.len();
    let (g, v) = (&g[..n], &mut v[..n]);
    for (e, w) in w.iter_mut().enumerate() {
        let g = clip(g[e]);
        v[e] = rho * v[e] + one_minus_rho * (g * g);
        let denominator = if CENTERED {
            a[e] = rho * a[e] + one_minus_rho * g;
            v[e] - a[e] * a[e] + eps
        } else {
            v[e] + eps
        };
        let increment = lr * g / denominator.sqrt();
        if MOMENTUM {
            m[e] = mu * m[e] + increment;
            *w -= m[e];
        } else {
            *w -= increment;
        }
    }
}
