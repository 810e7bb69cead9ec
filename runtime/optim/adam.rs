//! [`Adam`], Keras 3's `keras.optimizers.Adam`.

use core::cmp::Ordering;

use super::clip::{for_each_trainable, with_clip, Clip, GradClip};
use crate::scalar::c;
use crate::{Network, Scalar};

/// Adam, Keras 3's `keras.optimizers.Adam`.
///
/// At step `t` (1 for the first update), with learning rate `lr` and
/// gradient `g`: `α = lr·sqrt(1−β₂ᵗ)/(1−β₁ᵗ)`; `m += (g−m)(1−β₁)`;
/// `v += (g²−v)(1−β₂)`; with AMSGrad `v̂ = max(v̂, v)` replaces `v` below;
/// `w −= m·α / (sqrt(v) + ε)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Adam<T, M> {
    /// Learning rate (Keras default 0.001).
    pub learning_rate: T,
    /// Decay `β₁` of the first moment (default 0.9).
    pub beta_1: T,
    /// Decay `β₂` of the second moment (default 0.999).
    pub beta_2: T,
    /// `ε` added to `sqrt(v)` (default 1e-7).
    pub epsilon: T,
    /// Whether to use AMSGrad (default false).
    pub amsgrad: bool,
    /// Gradient clipping (default none).
    pub clip: Clip<T>,
    iterations: u64,
    momentums: M,
    velocities: M,
    velocity_hats: M,
}

impl<T: Scalar, M: Network<T>> Adam<T, M> {
    /// Keras's defaults: learning rate 0.001, β₁ 0.9, β₂ 0.999, ε 1e-7,
    /// no AMSGrad.
    pub fn new() -> Self {
        Adam {
            learning_rate: c(0.001),
            beta_1: c(0.9),
            beta_2: c(0.999),
            epsilon: c(1e-7),
            amsgrad: false,
            clip: Clip::none(),
            iterations: 0,
            momentums: M::zeros(),
            velocities: M::zeros(),
            velocity_hats: M::zeros(),
        }
    }

    /// One update of `params` from `grads`, Keras's `update_step` for every
    /// trainable tensor.
    fn update(&mut self, params: &mut M, grads: &M) {
        let one = T::one();
        let local_step = c::<T>(self.iterations as f64 + 1.0);
        let beta_1_power = self.beta_1.powf(local_step);
        let beta_2_power = self.beta_2.powf(local_step);
        let alpha = self.learning_rate * (one - beta_2_power).sqrt() / (one - beta_1_power);
        let one_minus_beta_1 = one - self.beta_1;
        let one_minus_beta_2 = one - self.beta_2;
        let eps = self.epsilon;
        let amsgrad = self.amsgrad;
        let (momentums, velocities, velocity_hats) =
            (&mut self.momentums, &mut self.velocities, &mut self.velocity_hats);
        for_each_trainable(&self.clip, params, grads, |i, w, g, clip| {
            let n = w.len();
            let m = &mut momentums.tensor_mut(i)[..n];
            let v = &mut velocities.tensor_mut(i)[..n];
            let v_hat = &mut velocity_hats.tensor_mut(i)[..n];
            let h = AdamHyper { alpha, one_minus_beta_1, one_minus_beta_2, eps };
            if amsgrad {
                with_clip!(clip, |f| adam::<T, true>(w, g, m, v, v_hat, h, f));
            } else {
                with_clip!(clip, |f| adam::<T, false>(w, g, m, v, v_hat, h, f));
            }
        });
    }
}

optimizer_common!(Adam {
    setters: {
        /// Sets `β₁`.
        with_beta_1(beta_1: f64),
        /// Sets `β₂`.
        with_beta_2(beta_2: f64),
        /// Sets `ε`.
        with_epsilon(epsilon: f64),
        /// Sets AMSGrad on or off.
        with_amsgrad(amsgrad: bool),
    },
    state: {
        /// The first moment `m`.
        momentums,
        /// The second moment `v`.
        velocities,
        /// The running maximum `v̂` of the second moment (zero unless AMSGrad).
        velocity_hats,
    },
});

#[derive(Clone, Copy)]
struct AdamHyper<T> {
    alpha: T,
    one_minus_beta_1: T,
    one_minus_beta_2: T,
    eps: T,
}

#[inline(always)]
fn adam<T: Scalar, const AMSGRAD: bool>(
    w: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    v_hat: &mut [T],
    h: AdamHyper<T>,
    clip: impl Fn(T) -> T,
) {
    let AdamHyper { alpha, one_minus_beta_1, one_minus_beta_2, eps } = h;
    let n = w.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    for (e, w) in w.iter_mut().enumerate() {
        let g = clip(g[e]);
        m[e] += (g - m[e]) * one_minus_beta_1;
        v[e] += (g * g - v[e]) * one_minus_beta_2;
        let v = if AMSGRAD {
            // `maximum(v_hat, v)`; a NaN `v` propagates.
            if !matches!(v_hat[e].partial_cmp(&v[e]), Some(Ordering::Greater | Ordering::Equal)) {
                v_hat[e] = v[e];
            }
            v_hat[e]
        } else {
            v[e]
        };
        *w -= m[e] * alpha / (v.sqrt() + eps);
    }
}
