//! Keras's gradient clipping: [`Clip`], [`ClipError`], and the passes that
//! apply it during an update.

use super::trainable;
use crate::{Network, Scalar};

/// Gradient clipping, as Keras's `clipnorm`, `clipvalue` and
/// `global_clipnorm` optimizer arguments.
///
/// - `clipnorm = c`: each trainable tensor's gradient `g` becomes
///   `g·c / max(‖g‖₂, c)` (Keras's `_clip_by_norm`; a zero gradient stays zero).
/// - `global_clipnorm = c`: with `n` the L2 norm of all trainable gradients
///   together, every gradient is multiplied by `c·min(1/n, 1/c)` (Keras's
///   `clip_by_global_norm`; an infinite or NaN norm makes every gradient NaN).
/// - `clipvalue = v`: each gradient element is clamped to `[-v, v]`.
///
/// Keras refuses more than one of the three (`ValueError` in its
/// constructor); [`Clip::new`] returns a [`ClipError`] likewise, and the
/// optimizers' `with_clipnorm`-style builders panic. The fields are public,
/// though, so a `Clip` set field by field can hold several; it then applies
/// exactly one, in the order of Keras's `_clip_gradients`: `clipnorm` if it
/// is set and positive, else `global_clipnorm` if set and positive, else
/// `clipvalue` if set and positive. A value that is zero or negative (or NaN)
/// means no clipping, as in Keras.
///
/// Clipping never copies the gradients: norms are computed in a first pass
/// over them, and the clipped gradient is formed element by element during
/// the update.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Clip<T> {
    /// Clip each tensor's gradient to this L2 norm.
    pub clipnorm: Option<T>,
    /// Clip each gradient element to `[-clipvalue, clipvalue]`.
    pub clipvalue: Option<T>,
    /// Clip all gradients together to this global L2 norm.
    pub global_clipnorm: Option<T>,
}

/// More than one of `clipnorm`, `clipvalue` and `global_clipnorm` was set;
/// Keras allows at most one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClipError;

impl core::fmt::Display for ClipError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ClipError {}

impl<T: Scalar> Clip<T> {
    /// No clipping (Keras's default).
    pub const fn none() -> Self {
        Clip { clipnorm: None, clipvalue: None, global_clipnorm: None }
    }

    /// Clipping as Keras's optimizer arguments give it; an error when more
    /// than one is `Some`, as Keras raises one.
    pub fn new(clipnorm: Option<T>, clipvalue: Option<T>, global_clipnorm: Option<T>) -> Result<Self, ClipError> {
        let clip = Clip { clipnorm, clipvalue, global_clipnorm };
        if clip.count() > 1 {
            Err(ClipError)
        } else {
            Ok(clip)
        }
    }

    /// Per-tensor norm clipping (Keras's `clipnorm`).
    pub const fn clipnorm(clipnorm: T) -> Self {
        Clip { clipnorm: Some(clipnorm), clipvalue: None, global_clipnorm: None }
    }

    /// Element clipping (Keras's `clipvalue`).
    pub const fn clipvalue(clipvalue: T) -> Self {
        Clip { clipnorm: None, clipvalue: Some(clipvalue), global_clipnorm: None }
    }

    /// Global norm clipping (Keras's `global_clipnorm`).
    pub const fn global_clipnorm(global_clipnorm: T) -> Self {
        Clip { clipnorm: None, clipvalue: None, global_clipnorm: Some(global_clipnorm) }
    }

    /// Whether no clipping applies.
    pub fn is_none(&self) -> bool {
        matches!(self.active(), Active::None)
    }

    /// How many of the three are `Some`.
    fn count(&self) -> usize {
        self.clipnorm.is_some() as usize + self.clipvalue.is_some() as usize + self.global_clipnorm.is_some() as usize
    }

    /// The clip that applies, in Keras's `_clip_gradients` order.
    fn active(&self) -> Active<T> {
        let positive = |x: Option<T>| x.filter(|&x| x > T::zero());
        if let Some(c) = positive(self.clipnorm) {
            Active::Norm(c)
        } else if let Some(c) = positive(self.global_clipnorm) {
            Active::GlobalNorm(c)
        } else if let Some(v) = positive(self.clipvalue) {
            Active::Value(v)
        } else {
            Active::None
        }
    }

    /// The first pass over the gradients: the global scale when clipping by
    /// global norm.
    fn begin<M: Network<T>>(&self, grads: &M) -> ClipPass<T> {
        match self.active() {
            Active::None => ClipPass::None,
            Active::Norm(c) => ClipPass::Norm(c),
            Active::Value(v) => ClipPass::Value(v),
            Active::GlobalNorm(c) => {
                // Keras: `global_norm` sums each tensor's squares, then the sums.
                let mut sum = T::zero();
                for i in trainable::<T, M>() {
                    sum += sum_of_squares(grads.tensor(i));
                }
                let norm = sum.sqrt();
                // Keras: `clip_norm * minimum(1 / norm, 1 / clip_norm) + (norm - norm)`.
                let inv_norm = T::one() / norm;
                let inv_c = T::one() / c;
                let min = if inv_c <= inv_norm { inv_c } else { inv_norm };
                // `norm - norm` is 0 for a finite norm, NaN for an infinite or NaN one.
                #[allow(clippy::eq_op)]
                let not_finite = norm - norm;
                ClipPass::Scale(c * min + not_finite)
            }
        }
    }

    /// Sets the clip `kind` to `value`, as an optimizer's `with_clipnorm`-style
    /// builder does.
    ///
    /// # Panics
    ///
    /// When another kind is already set (Keras allows one).
    pub(super) fn set_only(&mut self, kind: ClipKind, value: T) {
        let set = [
            (ClipKind::Norm, self.clipnorm),
            (ClipKind::Value, self.clipvalue),
            (ClipKind::GlobalNorm, self.global_clipnorm),
        ];
        let others = set.iter().filter(|(k, x)| *k != kind && x.is_some()).count();
        assert!(others == 0, "{}", ClipError);
        let slot = match kind {
            ClipKind::Norm => &mut self.clipnorm,
            ClipKind::Value => &mut self.clipvalue,
            ClipKind::GlobalNorm => &mut self.global_clipnorm,
        };
        *slot = Some(value);
    }
}

/// Which of the three clips a builder sets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ClipKind {
    Norm,
    Value,
    GlobalNorm,
}

/// Calls `update(i, w, g, clip)` for each trainable tensor `i` of `params`:
/// its weights `w`, its gradient `g` (cut to `w`'s length, so the update
/// loops need no bounds checks) and how to clip `g`, after the first pass
/// that `clip` needs over all the gradients.
#[inline]
pub(super) fn for_each_trainable<T: Scalar, M: Network<T>>(
    clip: &Clip<T>,
    params: &mut M,
    grads: &M,
    mut update: impl FnMut(usize, &mut [T], &[T], GradClip<T>),
) {
    let pass = clip.begin(grads);
    for i in trainable::<T, M>() {
        let g = grads.tensor(i);
        let tensor_clip = pass.tensor(g);
        let w = params.tensor_mut(i);
        let g = &g[..w.len()];
        update(i, w, g, tensor_clip);
    }
}

/// The clip that applies.
#[derive(Clone, Copy)]
enum Active<T> {
    None,
    Norm(T),
    GlobalNorm(T),
    Value(T),
}

/// A clip ready for the update pass.
#[derive(Clone, Copy)]
enum ClipPass<T> {
    None,
    Norm(T),
    Scale(T),
    Value(T),
}

impl<T: Scalar> ClipPass<T> {
    /// The per-element transform for the gradient `g` of one tensor.
    #[inline]
    fn tensor(self, g: &[T]) -> GradClip<T> {
        match self {
            ClipPass::None => GradClip::None,
            ClipPass::Scale(s) => GradClip::Scale(s),
            ClipPass::Value(v) => GradClip::Value(v),
            ClipPass::Norm(c) => {
                // Keras's `_clip_by_norm`: `g * c / maximum(l2norm, c)` with
                // `l2norm = l2sum > 0 ? sqrt(l2sum) : l2sum`; NaN propagates.
                let l2sum = sum_of_squares(g);
                let l2norm = if l2sum > T::zero() { l2sum.sqrt() } else { l2sum };
                let denominator = if l2norm < c { c } else { l2norm };
                GradClip::Norm { c, denominator }
            }
        }
    }
}

/// The clipping of one tensor's gradient, element by element.
#[derive(Clone, Copy)]
pub(super) enum GradClip<T> {
    None,
    Norm { c: T, denominator: T },
    Scale(T),
    Value(T),
}

impl<T: Scalar> GradClip<T> {
    #[inline(always)]
    pub(super) fn apply(self, g: T) -> T {
        match self {
            GradClip::None => g,
            GradClip::Norm { c, denominator } => g * c / denominator,
            GradClip::Scale(s) => g * s,
            // `clip(g, -v, v)`, NaN kept.
            GradClip::Value(v) => {
                if g < -v {
                    -v
                } else if g > v {
                    v
                } else {
                    g
                }
            }
        }
    }
}

/// Runs `$body` with `$f` bound to the element-wise form of `$clip`, so the
/// clip variant is chosen once per tensor rather than per element, inside a
/// function compiled for the widest SIMD the CPU has: the update loops then
/// vectorize. (No floating-point contraction happens in Rust, so the numbers
/// are the same on every path.)
macro_rules! with_clip {
    ($clip:expr, |$f:ident| $body:expr) => {
        // Each arm rebuilds its own variant, so `apply`'s match folds away.
        $crate::kernels::wide(
            #[inline(always)]
            || match $clip {
                GradClip::None => {
                    let $f = |g: T| GradClip::None.apply(g);
                    $body
                }
                GradClip::Norm { c, denominator } => {
                    let $f = move |g: T| GradClip::Norm { c, denominator }.apply(g);
                    $body
                }
                GradClip::Scale(s) => {
                    let $f = move |g: T| GradClip::Scale(s).apply(g);
                    $body
                }
                GradClip::Value(v) => {
                    let $f = move |g: T| GradClip::Value(v).apply(g);
                    $body
                }
            },
        )
    };
}
// The optimizers call it with `GradClip` in scope.
pub(super) use with_clip;

#[inline]
fn sum_of_squares<T: Scalar>(g: &[T]) -> T {
    g.iter().fold(T::zero(), |s, &x| s + x * x)
}
