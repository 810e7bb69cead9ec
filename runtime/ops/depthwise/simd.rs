//! The dispatch to the depthwise loops' SIMD blocks (module `avx2`).

/// The depthwise loops' inner blocks with SIMD intrinsics, per scalar type
/// (see the `avx2` module; a supertrait of [`crate::Scalar`], as the matrix
/// products' entry is). Each returns false, having done nothing, where
/// this CPU runs the portable loops; the caller then runs those.
#[doc(hidden)]
pub trait DepthwiseSimd: Sized {
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

    /// `dk[c] += Σ x[r·x_row + j·x_col + c] · g[r·g_row + j·g_col + c]` over
    /// `rows × cols` positions, every channel `c < channels`.
    ///
    /// # Safety
    /// As [`DepthwiseSimd::taps_sum`].
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

/// Whether this CPU runs the SIMD blocks.
#[inline(always)]
fn simd() -> bool {
    #[cfg(target_arch = "x86_64")]
    return crate::cpu::level() != crate::cpu::Level::Portable;
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

macro_rules! depthwise_simd_for {
    ($t:ident) => {
        impl DepthwiseSimd for $t {
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
                // SAFETY: the CPU has AVX2 and FMA (the level says so), and
                // the caller vouches for the offsets.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    super::avx2::$t::taps_sum::<P>(
                        src, bases, row_step, col_step, k, k_row, k_col, rows, cols, channels, init, out, outs, add,
                        floor,
                    )
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
                    super::avx2::$t::rect_dot(x, x_row, x_col, g, g_row, g_col, rows, cols, channels, dk)
                };
                true
            }
        }
    };
}

depthwise_simd_for!(f32);
depthwise_simd_for!(f64);
