//! The dispatch to the window kernels' SIMD loops (module `x86`: AVX2 and
//! AVX-512 instantiations of one body): the depthwise blocks and the direct
//! convolution.
// Off x86-64 the SIMD entries compile to their portable fallbacks, which
// leave their arguments (and the level dispatch) unused.
#![cfg_attr(not(target_arch = "x86_64"), allow(unused_imports, unused_variables))]

use super::window::Window;

#[cfg(target_arch = "x86_64")]
mod x86;

/// Calls `$f` for `$t` at this CPU's level: the AVX-512 loops where it has
/// them (and `$wide` holds), else the AVX2 ones.
#[cfg(target_arch = "x86_64")]
macro_rules! at_level {
    ($t:ident, $wide:expr, $f:ident $(::<$($g:tt),*>)? ($($arg:expr),*)) => {
        if crate::cpu::level() == crate::cpu::Level::Avx512 && $wide {
            x86::avx512::$t::$f$(::<$($g),*>)?($($arg),*)
        } else {
            x86::avx2::$t::$f$(::<$($g),*>)?($($arg),*)
        }
    };
}

/// The window kernels' inner loops with SIMD intrinsics, per scalar type
/// (see the `avx2` module; a supertrait of [`crate::Scalar`], as the matrix
/// products' entry is). Each returns false, having done nothing, where
/// this CPU runs the portable loops; the caller then runs those.
#[doc(hidden)]
pub trait WindowSimd: Sized {
    /// Values per vector of the AVX2 loops (8 `f32`, 4 `f64`); the
    /// AVX-512 ones have twice as many.
    const LANES: usize;

    /// `out = max(floor, conv(x, kernel) + bias)` for every sample of `x`,
    /// or with `scale`, `max(floor, scale ⊙ conv(x, kernel) + bias)`,
    /// computed directly by output position, when `filters` is a multiple
    /// of [`WindowSimd::LANES`] (else false, as without SIMD).
    ///
    /// # Panics
    /// If `kernel`, `bias`, `scale` or `out` is shorter than the window and
    /// `filters` need for those samples.
    #[allow(clippy::too_many_arguments)]
    fn conv_direct(
        w: &Window,
        filters: usize,
        x: &[Self],
        kernel: &[Self],
        bias: Option<&[Self]>,
        scale: Option<&[Self]>,
        out: &mut [Self],
        floor: Self,
    ) -> bool;

    /// `P` windows' sums over the same taps, every channel: for output
    /// `p`, `Σ src[bases[p] + r·row_step + j·col_step + c] ·
    /// k[r·k_row + j·k_col + c]` over `rows × cols` taps, from `init[c]`
    /// (0 when null), stored at `out + outs[p] + c` as `max(floor, sum)`
    /// or, with `add`, added to what is there.
    ///
    /// # Safety
    /// Every offset named, for every channel `c < channels`, must lie in its
    /// allocation.
    #[allow(clippy::too_many_arguments)]
    unsafe fn taps_sum<const P: usize>(
        src: *const Self,
        bases: &[usize; P],
        row_step: isize,
        col_step: isize,
        k: *const Self,
        k_row: usize,
        k_col: usize,
        rows: usize,
        cols: usize,
        channels: usize,
        init: *const Self,
        out: *mut Self,
        outs: &[usize; P],
        add: bool,
        floor: Self,
    ) -> bool;

    /// `out = max(floor, depthwise(x, kernel) + bias)` (with `scale`,
    /// `max(floor, scale ⊙ depthwise(x, kernel) + bias)`) for one sample
    /// with multiplier 1, when the window is 3×3 or 5×5 with stride 1 and
    /// no dilation and the CPU has AVX-512 (else false, having done
    /// nothing, as without SIMD): the
    /// sums of a strip of an output row in registers, each input value
    /// loaded once for the taps it feeds.
    ///
    /// # Panics
    /// If `x`, `kernel`, `bias`, `scale` or `out` is shorter than the window
    /// needs.
    #[allow(clippy::too_many_arguments)]
    fn depthwise_stride1(
        w: &Window,
        x: &[Self],
        kernel: &[Self],
        bias: Option<&[Self]>,
        scale: Option<&[Self]>,
        out: &mut [Self],
        floor: Self,
    ) -> bool;

    /// `dk[c] += Σ x[r·x_row + j·x_col + c] · g[r·g_row + j·g_col + c]` over
    /// `rows × cols` positions, every channel `c < channels`.
    ///
    /// # Safety
    /// As [`WindowSimd::taps_sum`].
    #[allow(clippy::too_many_arguments)]
    unsafe fn rect_dot(
        x: *const Self,
        x_row: usize,
        x_col: usize,
        g: *const Self,
        g_row: usize,
        g_col: usize,
        rows: usize,
        cols: usize,
        channels: usize,
        dk: *mut Self,
    ) -> bool;
}

/// Whether this CPU runs the SIMD loops.
#[inline(always)]
pub(crate) fn simd() -> bool {
    #[cfg(target_arch = "x86_64")]
    return crate::cpu::level() != crate::cpu::Level::Portable;
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

macro_rules! window_simd_for {
    ($t:ident) => {
        impl WindowSimd for $t {
            const LANES: usize = 32 / core::mem::size_of::<$t>();

            #[inline]
            fn conv_direct(
                w: &Window,
                filters: usize,
                x: &[$t],
                kernel: &[$t],
                bias: Option<&[$t]>,
                scale: Option<&[$t]>,
                out: &mut [$t],
                floor: $t,
            ) -> bool {
                if !simd() || !filters.is_multiple_of(Self::LANES) {
                    return false;
                }
                let samples = w.samples(x.len());
                assert!(
                    kernel.len() >= w.taps() * w.channels * filters
                        && bias.is_none_or(|b| b.len() >= filters)
                        && scale.is_none_or(|s| s.len() >= filters)
                        && out.len() >= samples * w.positions() * filters,
                    "conv: slices shorter than the window"
                );
                let init = bias.map_or(core::ptr::null(), <[$t]>::as_ptr);
                let scale = scale.map_or(core::ptr::null(), <[$t]>::as_ptr);
                // SAFETY: the CPU has the level's features, and the slices
                // were checked above (the window's taps lie in the sample);
                // the AVX-512 loops get whole vectors of their width too.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    at_level!(
                        $t,
                        filters.is_multiple_of(2 * Self::LANES),
                        conv_direct(
                            w,
                            filters,
                            x.as_ptr(),
                            samples,
                            kernel.as_ptr(),
                            init,
                            scale,
                            out.as_mut_ptr(),
                            floor
                        )
                    )
                };
                true
            }

            #[inline]
            unsafe fn taps_sum<const P: usize>(
                src: *const $t,
                bases: &[usize; P],
                row_step: isize,
                col_step: isize,
                k: *const $t,
                k_row: usize,
                k_col: usize,
                rows: usize,
                cols: usize,
                channels: usize,
                init: *const $t,
                out: *mut $t,
                outs: &[usize; P],
                add: bool,
                floor: $t,
            ) -> bool {
                if !simd() {
                    return false;
                }
                // SAFETY: the CPU has the level's features, and the caller
                // vouches for the offsets.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    at_level!(
                        $t,
                        true,
                        taps_sum::<P>(
                            src, bases, row_step, col_step, k, k_row, k_col, rows, cols, channels, init, out, outs,
                            add, floor
                        )
                    )
                };
                true
            }

            #[inline]
            fn depthwise_stride1(
                w: &Window,
                x: &[$t],
                kernel: &[$t],
                bias: Option<&[$t]>,
                scale: Option<&[$t]>,
                out: &mut [$t],
                floor: $t,
            ) -> bool {
                let plain = w.stride_h == 1 && w.stride_w == 1 && w.dilation_h == 1 && w.dilation_w == 1;
                let size = match (w.k_h, w.k_w) {
                    (3, 3) => 3,
                    (5, 5) => 5,
                    _ => 0,
                };
                // AVX-512 only (see the loop's module).
                #[cfg(target_arch = "x86_64")]
                let wide = crate::cpu::level() == crate::cpu::Level::Avx512;
                #[cfg(not(target_arch = "x86_64"))]
                let wide = false;
                if !wide || !plain || size == 0 {
                    return false;
                }
                let c = w.channels;
                assert!(
                    x.len() >= w.in_len()
                        && kernel.len() >= w.taps() * c
                        && bias.is_none_or(|b| b.len() >= c)
                        && scale.is_none_or(|s| s.len() >= c)
                        && out.len() >= w.positions() * c,
                    "depthwise: slices shorter than the window"
                );
                let init = bias.map_or(core::ptr::null(), <[$t]>::as_ptr);
                let scale = scale.map_or(core::ptr::null(), <[$t]>::as_ptr);
                let (x, k, o) = (x.as_ptr(), kernel.as_ptr(), out.as_mut_ptr());
                // SAFETY: the CPU has AVX-512F; the slices were checked
                // above, the loops read only the input's rows and columns
                // and write the positions' channels, and the window is
                // `size × size` with stride 1 and no dilation.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    if size == 3 {
                        x86::avx512::$t::depthwise_stride1::<3, 3>(w, x, k, init, scale, o, floor)
                    } else {
                        x86::avx512::$t::depthwise_stride1::<5, 5>(w, x, k, init, scale, o, floor)
                    }
                };
                true
            }

            #[inline]
            unsafe fn rect_dot(
                x: *const $t,
                x_row: usize,
                x_col: usize,
                g: *const $t,
                g_row: usize,
                g_col: usize,
                rows: usize,
                cols: usize,
                channels: usize,
                dk: *mut $t,
            ) -> bool {
                if !simd() {
                    return false;
                }
                // SAFETY: as in `taps_sum`.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    at_level!($t, true, rect_dot(x, x_row, x_col, g, g_row, g_col, rows, cols, channels, dk))
                };
                true
            }
        }
    };
}

window_simd_for!(f32);
window_simd_for!(f64);
