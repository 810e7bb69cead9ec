//! SIMD kernels for x86-64: one body written once (the macro below) and
//! instantiated four times, for AVX2+FMA (`f32` 8 lanes, `f64` 4) and for
//! AVX-512F (`f32` 16 lanes, `f64` 8). The body uses only a few vector
//! helpers (load, masked load, partial store, FMA, …) that each module
//! defines; the `f32` softmax is written once over a few more.
//!
//! - `A·B` and `A·Bᵀ`: a register tile of 2 vectors × 6 columns (12
//!   accumulators), `A` loaded straight from the kernel's column-major
//!   storage and `B` broadcast one element at a time, read in place (the
//!   stride between `B`'s rows or columns is a compile-time choice, so the
//!   six broadcasts per step are loads at folded offsets).
//! - `A·x` (one sample): up to 4 vectors of rows, with the `k` loop split
//!   into interleaved streams so 8 independent FMA chains hide the FMA
//!   latency even for narrow layers; the bias starts the sums; a softmax
//!   head of up to 2 vectors of units is finished in registers. A model's
//!   `forward` calls `dense1_fixed`, this kernel compiled for each layer's
//!   sizes (in the model's crate), so no loop bound, tile choice or stride
//!   is left to run time: a pass of small layers is otherwise mostly such
//!   overhead.
//! - `Aᵀ·B`: panels of `Aᵀ` (one tile high) transposed into a stack buffer,
//!   then the `A·B` tile; dot products of contiguous columns for fewer than
//!   4 columns.
//!
//! Row tails use masked loads and partial stores, so no kernel reads or
//! writes outside its slices. The bias, the accumulate-into and ReLU are
//! fused into the store.
//!
//! The AVX-512 kernels run where the CPU has AVX-512F. No machine this
//! project is developed on has it, so they are tested under emulation
//! (`tools/avx512_emulated.sh`, also run by CI) and have not been timed.
// Kernels take their matrices as pointer, size and stride; grouping them in
// structs made the hot loops no clearer.
#![allow(unsafe_op_in_unsafe_fn, clippy::too_many_arguments)]

use super::gemm::{Layout, OneSample, Start};
#[cfg(test)]
use crate::cpu::{level, Level};
use crate::vocab::Activation;

/// The most values a one-sample `f32` softmax keeps in registers at this
/// level, where it also skips the shift by the maximum when every value is
/// within ±80 (see `softmax_of_two`); 0 for the portable loops.
#[cfg(test)]
pub(crate) fn f32_softmax_in_registers() -> usize {
    match level() {
        Level::Portable => 0,
        Level::Avx2 => 2 * avx2::f32::L,
        Level::Avx512 => 2 * avx512::f32::L,
    }
}

/// Tells the fused store what to add and whether to apply ReLU; with
/// `scale` (read only where the tiles are instantiated `SCALED`), the sums are first
/// multiplied by it, per row.
#[derive(Clone, Copy)]
struct Epilogue<E> {
    keep: bool,
    bias: *const E,
    relu: bool,
    scale: *const E,
}

impl<E> Epilogue<E> {
    fn of(start: Start<E>, relu: bool) -> Self {
        Epilogue {
            keep: matches!(start, Start::Keep),
            bias: match start {
                Start::Bias(bias) => bias.as_ptr(),
                _ => core::ptr::null(),
            },
            relu,
            scale: core::ptr::null(),
        }
    }

    /// For the depth chunk `p0..p0 + depth` of a `k`-deep product done in
    /// chunks: later chunks add to what the first one stored, and ReLU
    /// comes only after the last.
    fn for_chunk(self, p0: usize, depth: usize, k: usize) -> Self {
        Epilogue {
            keep: self.keep || p0 > 0,
            bias: if p0 == 0 { self.bias } else { core::ptr::null() },
            relu: self.relu && p0 + depth == k,
            scale: self.scale,
        }
    }
}

/// The one-instruction vector helpers each width defines (inlined, with
/// the module's features): `fn name(args) -> ret = intrinsic(args);`, so
/// another width lists its own intrinsics and nothing else.
macro_rules! lane_ops {
    ($feat:literal; $(fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? = $body:expr;)*) => {
        $(
            #[inline]
            #[target_feature(enable = $feat)]
            pub(crate) unsafe fn $name($($arg: $ty),*) $(-> $ret)? {
                $body
            }
        )*
    };
}
// The streaming step's kernels (`ops::recurrent::stream`) list theirs too.
pub(crate) use lane_ops;

macro_rules! kernels_body {
    ($e:ident, $feat:literal) => {
        type E = $e;

        const MR_VECTORS: usize = 2;
        const NR: usize = 6;
        const UNROLL: usize = 4;

        /// See [`super::super::gemm::Gemm`].
        ///
        /// # Safety
        /// The CPU must have the module's features, and the slices must hold the
        /// matrices their sizes describe (and the bias `m` values).
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn gemm(
            layout: Layout,
            m: usize,
            n: usize,
            k: usize,
            a: &[E],
            b: &[E],
            ldb: usize,
            c: &mut [E],
            start: Start<E>,
            relu: bool,
        ) {
            let e = Epilogue::of(start, relu);
            let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
            // One-row and depth-one products would fill one lane of a vector;
            // each is the same product read another way.
            match layout {
                Layout::NN if n == 1 => matvec(m, k, a, m, b, c, e),
                // `c[j] = a · B[:, j]`.
                Layout::NN if m == 1 => dots(1, n, k, a, b, ldb, c, e),
                Layout::NN => blocked::<false, false>(m, n, k, a, b, ldb, c, e),
                // `cᵀ = Bt · aᵀ`, when no per-row bias breaks the symmetry.
                Layout::NT if m == 1 && e.bias.is_null() => matvec(n, k, b, ldb, a, c, e),
                Layout::NT => blocked::<true, false>(m, n, k, a, b, ldb, c, e),
                // With `k = 1`, `Aᵀ·B` and `A·Bᵀ` are the same outer product
                // (when `B`'s values are adjacent: read as `Bᵀ`'s row, they
                // must be one apart).
                Layout::TN if k == 1 && ldb == 1 => blocked::<true, false>(m, n, 1, a, b, ldb, c, e),
                // Packing pays for itself only when reused across columns.
                Layout::TN if n < 4 => dots(m, n, k, a, b, ldb, c, e),
                Layout::TN => packed_tn(m, n, k, a, b, ldb, c, e),
            }
        }

        /// `C = scale ⊙ (A·B) + shift` per row, then ReLU when `relu`
        /// (`NN`): a convolution with its inference batch normalization.
        /// Always true (done).
        ///
        /// # Safety
        /// As [`gemm`], with `m` and `n` above 1 (the tiles alone take a
        /// scale), `scale` and `shift` holding `m` values.
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn gemm_scaled(
            m: usize,
            n: usize,
            k: usize,
            a: &[E],
            b: &[E],
            c: &mut [E],
            scale: &[E],
            shift: &[E],
            relu: bool,
        ) -> bool {
            let e = Epilogue { keep: false, bias: shift.as_ptr(), relu, scale: scale.as_ptr() };
            let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
            if L * core::mem::size_of::<E>() == 64 && m == 4 * L {
                let mut j0 = 0;
                while j0 < n {
                    let cols = (n - j0).min(NR);
                    let (bp, cp) = (b.add(j0 * k), c.add(j0 * m));
                    let mask = mask_of(L);
                    match cols {
                        1 => tile::<4, 1, false, false, true>(k, a, m, bp, k, cp, m, 0, mask, e),
                        2 => tile::<4, 2, false, false, true>(k, a, m, bp, k, cp, m, 0, mask, e),
                        3 => tile::<4, 3, false, false, true>(k, a, m, bp, k, cp, m, 0, mask, e),
                        4 => tile::<4, 4, false, false, true>(k, a, m, bp, k, cp, m, 0, mask, e),
                        5 => tile::<4, 5, false, false, true>(k, a, m, bp, k, cp, m, 0, mask, e),
                        _ => tile::<4, 6, false, false, true>(k, a, m, bp, k, cp, m, 0, mask, e),
                    }
                    j0 += cols;
                }
                return true;
            }
            blocked::<false, true>(m, n, k, a, b, k, c, e);
            true
        }

        /// The one-sample entry: [`gemm`] with `n = 1` and `NN`, without its
        /// dispatch (a forward pass of small layers is mostly call overhead).
        ///
        /// # Safety
        /// As [`gemm`].
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn matvec_entry(m: usize, k: usize, a: &[E], x: &[E], c: &mut [E], start: Start<E>, relu: bool) {
            matvec(m, k, a.as_ptr(), m, x.as_ptr(), c.as_mut_ptr(), Epilogue::of(start, relu));
        }

        /// Rows of the register tile: the height of a packed panel.
        const MR: usize = MR_VECTORS * L;
        /// Depth of a packed panel: 16 KB of it (256 deep for AVX2, 128 for
        /// AVX-512's twice-as-tall tile), a third to half of an L1 cache.
        const KC: usize = 16 * 1024 / (MR * core::mem::size_of::<E>());

        /// A stack buffer for one `MR × KC` panel, aligned so its vector
        /// loads never straddle cache lines, and not zeroed: whoever packs
        /// it writes every value the kernel then reads (zeroing 16 KB per
        /// call measured more than the copy).
        #[repr(C, align(64))]
        struct Panel(core::mem::MaybeUninit<[E; MR * KC]>);

        impl Panel {
            #[inline(always)]
            fn new() -> Self {
                Panel(core::mem::MaybeUninit::uninit())
            }

            #[inline(always)]
            fn as_mut_ptr(&mut self) -> *mut E {
                self.0.as_mut_ptr().cast()
            }
        }

        /// `fused_softmax_inline` (each width's own), kept out of line for
        /// the run-time-sized entries.
        #[target_feature(enable = $feat)]
        unsafe fn fused_softmax(m: usize, k: usize, a: *const E, x: *const E, bias: *const E, c: *mut E) -> bool {
            fused_softmax_inline(m, k, a, x, bias, c)
        }

        /// `c = softmax(A·x + bias)` for one sample in one pass when this
        /// type has a fused kernel for `m` units; false, with `c` untouched,
        /// otherwise.
        ///
        /// # Safety
        /// The CPU must have the module's features; `a` holds `m·k` values, `x` `k`,
        /// `c` and the bias `m`.
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn matvec_softmax_entry(m: usize, k: usize, a: &[E], x: &[E], bias: Option<&[E]>, c: &mut [E]) -> bool {
            let bias = bias.map_or(core::ptr::null(), <[E]>::as_ptr);
            fused_softmax(m, k, a.as_ptr(), x.as_ptr(), bias, c.as_mut_ptr())
        }

        /// Fused store of one accumulator vector at `c` (rows `row..` of the
        /// bias), masked when `MASKED`.
        ///
        /// This and the matrix-vector helpers below carry no
        /// `#[target_feature]` (which `#[inline(always)]` cannot be combined
        /// with) and are called only from functions that have it: always
        /// inlined, they are compiled with the module's features and see their callers'
        /// constant sizes.
        #[inline(always)]
        unsafe fn store<const MASKED: bool, const SCALED: bool>(mut x: V, c: *mut E, row: usize, mask: M, e: Epilogue<E>) {
            if SCALED {
                // `scale·x + shift` (the bias), or `scale·x + c` for a later
                // depth chunk: each chunk's part is scaled.
                let s = if MASKED { mload(e.scale.add(row), mask) } else { load(e.scale.add(row)) };
                let base = if e.keep {
                    if MASKED { mload(c, mask) } else { load(c) }
                } else if MASKED {
                    mload(e.bias.add(row), mask)
                } else {
                    load(e.bias.add(row))
                };
                x = fma(x, s, base);
            } else if !e.bias.is_null() {
                x = add(x, if MASKED { mload(e.bias.add(row), mask) } else { load(e.bias.add(row)) });
            } else if e.keep {
                x = add(x, if MASKED { mload(c, mask) } else { load(c) });
            }
            if e.relu {
                // `max_ps` returns its second operand when either is NaN:
                // a NaN stays NaN, as Keras's `relu` keeps it.
                x = max(zero(), x);
            }
            if MASKED {
                mstore(c, mask, x)
            } else {
                storeu(c, x)
            }
        }

        /// `C = start + A·B`, `B` stored by columns (`B[p, j]` at
        /// `b[p + j * ldb]`) or, with `B_ROWS`, by rows (`b[p * ldb + j]`,
        /// `Bᵀ` stored by columns), read in place: the tile's six broadcasts
        /// per step come from six column pointers (or one row) at offsets
        /// the compiler folds into the loads. Copying blocks of `B` into a
        /// panel first measured slower (2.5× for 64×64×64: zeroing and
        /// copying it cost more than the products it served).
        ///
        /// Each `MR`-row block of `A` is copied into a contiguous panel when
        /// it serves more than one block of columns: read in place, its
        /// columns are `m` apart, and with `m` a multiple of 64 they fall
        /// into a quarter of the L1 cache's sets, where they and `B`'s rows
        /// evict each other (`A·Bᵀ` at 64×64×64 measured 22 FMA/ns in place
        /// at such addresses, 36 elsewhere). Never inlined: the 16 KB panel
        /// would make every caller's frame probe its pages.
        #[inline(never)]
        #[target_feature(enable = $feat)]
        unsafe fn blocked<const B_ROWS: bool, const SCALED: bool>(
            m: usize,
            n: usize,
            k: usize,
            a: *const E,
            b: *const E,
            ldb: usize,
            c: *mut E,
            e: Epilogue<E>,
        ) {
            let mut panel = Panel::new();
            let panel = panel.as_mut_ptr();
            let pack = n > NR;
            let mut i0 = 0;
            while i0 < m {
                let rows = (m - i0).min(MR);
                if !pack {
                    row_block::<B_ROWS, SCALED>(k, a.add(i0), m, b, ldb, n, c.add(i0), m, i0, rows, e);
                    i0 += rows;
                    continue;
                }
                let mask = mask_of(rows % L);
                let mut p0 = 0;
                while p0 < k {
                    let depth = (k - p0).min(KC);
                    for p in 0..depth {
                        let src = a.add((p0 + p) * m + i0);
                        for v in 0..MR_VECTORS {
                            let x = if (v + 1) * L <= rows {
                                load(src.add(v * L))
                            } else if v * L < rows {
                                mload(src.add(v * L), mask)
                            } else {
                                zero()
                            };
                            storeu(panel.add(p * MR + v * L), x);
                        }
                    }
                    let bp = b.add(if B_ROWS { p0 * ldb } else { p0 });
                    row_block::<B_ROWS, SCALED>(depth, panel, MR, bp, ldb, n, c.add(i0), m, i0, rows, e.for_chunk(p0, depth, k));
                    p0 += depth;
                }
                i0 += rows;
            }
        }

        /// Rows `row..row + rows` (at most `MR`) of `C`, every column, `NR`
        /// columns at a time; `a` and `c` point at that row.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn row_block<const B_ROWS: bool, const SCALED: bool>(
            k: usize,
            a: *const E,
            lda: usize,
            b: *const E,
            ldb: usize,
            n: usize,
            c: *mut E,
            ldc: usize,
            row: usize,
            rows: usize,
            e: Epilogue<E>,
        ) {
            let mask = mask_of(rows % L);
            let mut j0 = 0;
            while j0 < n {
                let cols = (n - j0).min(NR);
                let (bp, cp) = (b.add(if B_ROWS { j0 } else { j0 * ldb }), c.add(j0 * ldc));
                macro_rules! with_cols {
                    ($mv:literal, $masked:literal) => {
                        match cols {
                            1 => tile::<$mv, 1, $masked, B_ROWS, SCALED>(k, a, lda, bp, ldb, cp, ldc, row, mask, e),
                            2 => tile::<$mv, 2, $masked, B_ROWS, SCALED>(k, a, lda, bp, ldb, cp, ldc, row, mask, e),
                            3 => tile::<$mv, 3, $masked, B_ROWS, SCALED>(k, a, lda, bp, ldb, cp, ldc, row, mask, e),
                            4 => tile::<$mv, 4, $masked, B_ROWS, SCALED>(k, a, lda, bp, ldb, cp, ldc, row, mask, e),
                            5 => tile::<$mv, 5, $masked, B_ROWS, SCALED>(k, a, lda, bp, ldb, cp, ldc, row, mask, e),
                            _ => tile::<$mv, 6, $masked, B_ROWS, SCALED>(k, a, lda, bp, ldb, cp, ldc, row, mask, e),
                        }
                    };
                }
                match (rows.div_ceil(L), rows % L != 0) {
                    (1, false) => with_cols!(1, false),
                    (1, true) => with_cols!(1, true),
                    (_, false) => with_cols!(2, false),
                    (_, true) => with_cols!(2, true),
                }
                j0 += cols;
            }
        }

        /// One `MV`-vector × `NC`-column block of `C`, over all of `k`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn tile<const MV: usize, const NC: usize, const MASKED: bool, const B_ROWS: bool, const SCALED: bool>(
            k: usize,
            a: *const E,
            lda: usize,
            b: *const E,
            ldb: usize,
            c: *mut E,
            ldc: usize,
            row: usize,
            mask: M,
            e: Epilogue<E>,
        ) {
            let mut acc = [[zero(); MV]; NC];
            macro_rules! step {
                ($p:expr) => {{
                    let ap = a.add($p * lda);
                    let mut av = [zero(); MV];
                    for (v, slot) in av.iter_mut().enumerate() {
                        *slot = if MASKED && v == MV - 1 { mload(ap.add(v * L), mask) } else { load(ap.add(v * L)) };
                    }
                    for (j, accj) in acc.iter_mut().enumerate() {
                        let bj = splat(*b.add(if B_ROWS { $p * ldb + j } else { $p + j * ldb }));
                        for (slot, &x) in accj.iter_mut().zip(&av) {
                            *slot = fma(x, bj, *slot);
                        }
                    }
                }};
            }
            // Unrolled by hand: measured on Zen 3, the rolled loop reaches
            // half the FMA throughput, four steps per iteration over 80%.
            let mut p = 0;
            while p + UNROLL <= k {
                for u in 0..UNROLL {
                    step!(p + u);
                }
                p += UNROLL;
            }
            while p < k {
                step!(p);
                p += 1;
            }
            for (j, accj) in acc.iter().enumerate() {
                for (v, &x) in accj.iter().enumerate() {
                    let cp = c.add(j * ldc + v * L);
                    if MASKED && v == MV - 1 {
                        store::<true, SCALED>(x, cp, row + v * L, mask, e);
                    } else {
                        store::<false, SCALED>(x, cp, row + v * L, mask, e);
                    }
                }
            }
        }

        /// `c = act(A·x + bias)` for one sample of a layer whose sizes are
        /// constants, so the tile choice, the row and depth loops and the
        /// addressing are all resolved at compile time.
        ///
        /// # Safety
        /// The CPU must have the module's features; `a` holds `M·K` values, `x` `K`,
        /// `c` `M`, and `bias` is null or holds `M`.
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn dense1_fixed<const M: usize, const K: usize>(a: *const E, x: *const E, bias: *const E, act: Activation, c: *mut E) -> OneSample {
            if act == Activation::Softmax && fused_softmax_inline(M, K, a, x, bias, c) {
                return OneSample::Activated;
            }
            let relu = act == Activation::Relu;
            if M == 1 && K >= 2 * L {
                // One output (a regression or audio head): a dot product of
                // whole vectors, as the row is contiguous, rather than a
                // column of one masked lane per input. (At one vector of
                // inputs, measured slower: a causal convolution's Dense(1)
                // head with AVX2, 48 → 54 ns.)
                let mut acc = [zero(); 2];
                let mut p = 0;
                while p + 2 * L <= K {
                    acc[0] = fma(load(a.add(p)), load(x.add(p)), acc[0]);
                    acc[1] = fma(load(a.add(p + L)), load(x.add(p + L)), acc[1]);
                    p += 2 * L;
                }
                if p + L <= K {
                    acc[0] = fma(load(a.add(p)), load(x.add(p)), acc[0]);
                    p += L;
                }
                if p < K {
                    let mask = mask_of(K - p);
                    acc[1] = fma(mload(a.add(p), mask), mload(x.add(p), mask), acc[1]);
                }
                let mut y = hsum_pairwise(add(acc[0], acc[1]));
                if !bias.is_null() {
                    y += *bias;
                }
                // A NaN stays NaN, as Keras's `relu` keeps it.
                *c = if relu && y < 0.0 { 0.0 } else { y };
            } else {
                matvec_inline(M, K, a, M, x, c, Epilogue { keep: false, bias, relu, scale: core::ptr::null() });
            }
            if relu || act == Activation::Linear {
                OneSample::Activated
            } else {
                OneSample::Affine
            }
        }

        /// `c = start + A·x` for one sample.
        #[target_feature(enable = $feat)]
        unsafe fn matvec(m: usize, k: usize, a: *const E, lda: usize, x: *const E, c: *mut E, e: Epilogue<E>) {
            matvec_inline(m, k, a, lda, x, c, e)
        }

        /// [`matvec`], inlined where the sizes are constants.
        #[inline(always)]
        unsafe fn matvec_inline(m: usize, k: usize, a: *const E, lda: usize, x: *const E, c: *mut E, e: Epilogue<E>) {
            let mut i0 = 0;
            while i0 < m {
                let rows = (m - i0).min(4 * L);
                let mask = mask_of(rows % L);
                let (ap, cp) = (a.add(i0), c.add(i0));
                match (rows.div_ceil(L), rows % L != 0) {
                    (1, false) => mv_tile::<1, 8, 8, false>(k, ap, lda, x, cp, i0, mask, e),
                    (1, true) => mv_tile::<1, 8, 8, true>(k, ap, lda, x, cp, i0, mask, e),
                    (2, false) => mv_tile::<2, 4, 8, false>(k, ap, lda, x, cp, i0, mask, e),
                    (2, true) => mv_tile::<2, 4, 8, true>(k, ap, lda, x, cp, i0, mask, e),
                    (3, false) => mv_tile::<3, 4, 8, false>(k, ap, lda, x, cp, i0, mask, e),
                    (3, true) => mv_tile::<3, 4, 8, true>(k, ap, lda, x, cp, i0, mask, e),
                    (_, false) => mv_tile::<4, 2, 8, false>(k, ap, lda, x, cp, i0, mask, e),
                    (_, true) => mv_tile::<4, 2, 8, true>(k, ap, lda, x, cp, i0, mask, e),
                }
                i0 += rows;
            }
        }

        /// `MV` vectors of rows, the `k` loop split into `S` streams (so `MV·S`
        /// independent FMA chains) and unrolled `U` times.
        #[inline(always)]
        unsafe fn mv_tile<const MV: usize, const S: usize, const U: usize, const MASKED: bool>(
            k: usize,
            a: *const E,
            lda: usize,
            x: *const E,
            c: *mut E,
            row: usize,
            mask: M,
            e: Epilogue<E>,
        ) {
            // The bias (or what `c` holds) starts the first stream rather
            // than being added at the end, one add less on the latency chain.
            let start = if !e.bias.is_null() { e.bias.add(row) } else { c };
            let mut init = [zero(); MV];
            if !e.bias.is_null() || e.keep {
                for (v, slot) in init.iter_mut().enumerate() {
                    let p = start.add(v * L);
                    *slot = if MASKED && v == MV - 1 { mload(p, mask) } else { load(p) };
                }
            }
            let sums = mv_sums::<MV, S, U, MASKED>(k, a, lda, x, mask, init);
            let e = Epilogue { keep: false, bias: core::ptr::null(), relu: e.relu, scale: core::ptr::null() };
            for (v, &sum) in sums.iter().enumerate() {
                if MASKED && v == MV - 1 {
                    store::<true, false>(sum, c.add(v * L), row + v * L, mask, e);
                } else {
                    store::<false, false>(sum, c.add(v * L), row + v * L, mask, e);
                }
            }
        }

        /// The `MV` vectors of `A·x` for one row tile (lanes past a masked
        /// end hold zeros).
        #[inline(always)]
        unsafe fn mv_sums<const MV: usize, const S: usize, const U: usize, const MASKED: bool>(
            k: usize,
            a: *const E,
            lda: usize,
            x: *const E,
            mask: M,
            init: [V; MV],
        ) -> [V; MV] {
            let mut acc = [[zero(); MV]; S];
            acc[0] = init;
            macro_rules! column {
                ($p:expr, $v:expr) => {{
                    let ap = a.add($p * lda + $v * L);
                    if MASKED && $v == MV - 1 {
                        mload(ap, mask)
                    } else {
                        load(ap)
                    }
                }};
            }
            // `U` steps per iteration, step `u` into stream `u % S`.
            let mut p = 0;
            while p + U <= k {
                for u in 0..U {
                    let xs = splat(*x.add(p + u));
                    for (v, slot) in acc[u % S].iter_mut().enumerate() {
                        *slot = fma(column!(p + u, v), xs, *slot);
                    }
                }
                p += U;
            }
            while p < k {
                let xs = splat(*x.add(p));
                for (v, slot) in acc[0].iter_mut().enumerate() {
                    *slot = fma(column!(p, v), xs, *slot);
                }
                p += 1;
            }
            // Pairwise, so the streams' sum takes log2(S) dependent adds.
            let mut width = S;
            while width > 1 {
                let half = width / 2;
                for i in 0..half {
                    for v in 0..MV {
                        acc[i][v] = add(acc[i][v], acc[i + half][v]);
                    }
                }
                if width % 2 == 1 {
                    for v in 0..MV {
                        acc[0][v] = add(acc[0][v], acc[width - 1][v]);
                    }
                }
                width = half;
            }
            acc[0]
        }

        /// `C = start + Aᵀ·B`: panels of `Aᵀ` (`MR` rows by up to
        /// `KC` of `k`) are transposed into a stack buffer, zero-padded to
        /// whole vectors, and multiplied by the blocked kernel, so each
        /// panel is reused across every column of `B`. Never inlined: its
        /// 16 KB panel would otherwise make every call's frame probe four
        /// stack pages (measured 28 ns on an eight-FMA product, 17 without).
        #[inline(never)]
        #[target_feature(enable = $feat)]
        unsafe fn packed_tn(
            m: usize,
            n: usize,
            k: usize,
            at: *const E,
            b: *const E,
            ldb: usize,
            c: *mut E,
            e: Epilogue<E>,
        ) {
            let mut panel = Panel::new();
            let panel = panel.as_mut_ptr();
            let mut i0 = 0;
            while i0 < m {
                let rows = (m - i0).min(MR);
                let mut p0 = 0;
                while p0 < k {
                    let depth = (k - p0).min(KC);
                    for p in 0..depth {
                        for r in 0..MR {
                            let v = if r < rows { *at.add((i0 + r) * k + p0 + p) } else { 0.0 };
                            panel.add(p * MR + r).write(v);
                        }
                    }
                    row_block::<false, false>(depth, panel, MR, b.add(p0), ldb, n, c.add(i0), m, i0, rows, e.for_chunk(p0, depth, k));
                    p0 += depth;
                }
                i0 += rows;
            }
        }

        /// `C[i, j] = start + Σ_p at[p + i k] b[p + j k]`: dot products of
        /// contiguous columns, for a few columns of `B`.
        #[inline(never)]
        #[target_feature(enable = $feat)]
        unsafe fn dots(m: usize, n: usize, k: usize, at: *const E, b: *const E, ldb: usize, c: *mut E, e: Epilogue<E>) {
            let mask = mask_of(k % L);
            let mut j0 = 0;
            while j0 < n {
                let cols = (n - j0).min(4);
                let mut i0 = 0;
                while i0 < m {
                    let rows = (m - i0).min(3);
                    let (ap, bp, cp) = (at.add(i0 * k), b.add(j0 * ldb), c.add(i0 + j0 * m));
                    match (rows, cols) {
                        (3, 4) => dot_tile::<3, 4>(k, ap, bp, ldb, cp, m, i0, mask, e),
                        (3, 3) => dot_tile::<3, 3>(k, ap, bp, ldb, cp, m, i0, mask, e),
                        (3, 2) => dot_tile::<3, 2>(k, ap, bp, ldb, cp, m, i0, mask, e),
                        (3, _) => dot_tile::<3, 1>(k, ap, bp, ldb, cp, m, i0, mask, e),
                        (2, 4) => dot_tile::<2, 4>(k, ap, bp, ldb, cp, m, i0, mask, e),
                        (2, 3) => dot_tile::<2, 3>(k, ap, bp, ldb, cp, m, i0, mask, e),
                        (2, 2) => dot_tile::<2, 2>(k, ap, bp, ldb, cp, m, i0, mask, e),
                        (2, _) => dot_tile::<2, 1>(k, ap, bp, ldb, cp, m, i0, mask, e),
                        (_, 4) => dot_tile::<1, 4>(k, ap, bp, ldb, cp, m, i0, mask, e),
                        (_, 3) => dot_tile::<1, 3>(k, ap, bp, ldb, cp, m, i0, mask, e),
                        (_, 2) => dot_tile::<1, 2>(k, ap, bp, ldb, cp, m, i0, mask, e),
                        (_, _) => dot_tile::<1, 1>(k, ap, bp, ldb, cp, m, i0, mask, e),
                    }
                    i0 += rows;
                }
                j0 += cols;
            }
        }

        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn dot_tile<const MI: usize, const NJ: usize>(
            k: usize,
            at: *const E,
            b: *const E,
            ldb: usize,
            c: *mut E,
            ldc: usize,
            row: usize,
            mask: M,
            e: Epilogue<E>,
        ) {
            let mut acc = [[zero(); NJ]; MI];
            let full = k - k % L;
            let mut p = 0;
            while p < full {
                let mut bv = [zero(); NJ];
                for (j, slot) in bv.iter_mut().enumerate() {
                    *slot = load(b.add(j * ldb + p));
                }
                for (i, acci) in acc.iter_mut().enumerate() {
                    let ai = load(at.add(i * k + p));
                    for (slot, &y) in acci.iter_mut().zip(&bv) {
                        *slot = fma(ai, y, *slot);
                    }
                }
                p += L;
            }
            if full < k {
                for (i, acci) in acc.iter_mut().enumerate() {
                    let ai = mload(at.add(i * k + p), mask);
                    for (j, slot) in acci.iter_mut().enumerate() {
                        *slot = fma(ai, mload(b.add(j * ldb + p), mask), *slot);
                    }
                }
            }
            for (i, acci) in acc.iter().enumerate() {
                for (j, &x) in acci.iter().enumerate() {
                    let cp = c.add(i + j * ldc);
                    let mut v = hsum(x);
                    if !e.bias.is_null() {
                        v += *e.bias.add(row + i);
                    } else if e.keep {
                        v += *cp;
                    }
                    if e.relu && v < 0.0 {
                        // NaN stays NaN, as in the vector store.
                        v = 0.0;
                    }
                    *cp = v;
                }
            }
        }

        /// The sum of `x`'s lanes in halves (log2 `L` dependent adds, not
        /// `L − 1`).
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn hsum_pairwise(x: V) -> E {
            let mut lanes = [0.0 as E; L];
            storeu(lanes.as_mut_ptr(), x);
            let mut n = L;
            while n > 1 {
                n /= 2;
                for i in 0..n {
                    lanes[i] += lanes[i + n];
                }
            }
            lanes[0]
        }

        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn hsum(x: V) -> E {
            let mut lanes = [0.0 as E; L];
            storeu(lanes.as_mut_ptr(), x);
            lanes.iter().sum()
        }
    };
}

/// The `f32` exponential and softmax, written once over each width's
/// helpers: arithmetic (`sub`, `mul`, `div`, `min`, `fnmadd`, `round_even`,
/// `pow2`, `abs`), lane flags `B` (`prefix`, `lt`, `above`, `nan`, `both`,
/// `either`, `any`, `keep`, `clear`, `select`) and the horizontal
/// `all_max`/`all_sum`.
macro_rules! f32_softmax {
    ($feat:literal) => {
        /// `e^x` lane by lane: Cephes' `expf` (range reduction by `ln 2` in
        /// two parts, a degree-6 polynomial), within 2 ulp of the correctly
        /// rounded value; NaN stays NaN, inputs below −87.34 give 0.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn exp(x: V) -> V {
            // Below this the result is zero (libm gives a subnormal, at most
            // 1.2e-38, until -103.9); `max(lo, x)` returns a NaN `x` as it is.
            let underflow = lt(x, splat(-87.336_55));
            let x = min(splat(88.376_26), max(splat(-87.336_55), x));
            clear(underflow, exp_in_range(x))
        }

        /// [`exp`] for `|x| ≤ 87.3` (where `e^x` is a normal number),
        /// without its clamps. The polynomial is evaluated in Estrin's
        /// scheme: three dependent steps instead of Horner's five, since a
        /// one-sample softmax is a chain of latencies.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn exp_in_range(x: V) -> V {
            let n = round_even(mul(x, splat(core::f32::consts::LOG2_E)));
            let r = fnmadd(n, splat(0.693_359_4), x);
            let r = fnmadd(n, splat(-2.121_944_4e-4), r);
            // p(r) = 0.5 + c4 r + c3 r² + c2 r³ + c1 r⁴ + c0 r⁵, Cephes' coefficients.
            let r2 = mul(r, r);
            let low = fma(splat(1.666_666_5e-1), r, splat(0.5));
            let mid = fma(splat(8.333_452e-3), r, splat(4.166_579_6e-2));
            let high = fma(splat(1.987_569_1e-4), r, splat(1.398_199_9e-3));
            let p = fma(mid, r2, low);
            let p = fma(high, mul(r2, r2), p);
            let y = fma(p, r2, add(r, splat(1.0)));
            mul(y, pow2(n))
        }

        /// The softmax of the first `live` (at most `2·L`) values of `v0`
        /// and `v1` (the lanes past them may hold anything); `None` when one
        /// is NaN.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn softmax_of_two(v0: V, v1: V, live: usize) -> Option<(V, V)> {
            let (m0, m1) = (prefix(live), prefix(live.saturating_sub(L)));
            // Shifting by the maximum guards only against overflow and a
            // sum that underflows. Neither can happen when every value is
            // within ±80 (32·e⁸⁰ < f32::MAX, e⁻⁸⁰ is normal), and leaving
            // the shift out takes the maximum's reduction off the latency
            // chain (measured 20 ns of a 200 ns forward pass). NaN fails
            // the test.
            let out_of_range = |v: V, m: B| both(m, above(abs(v), splat(80.0)));
            let (y0, y1) = if !any(either(out_of_range(v0, m0), out_of_range(v1, m1))) {
                (keep(m0, exp_in_range(v0)), keep(m1, exp_in_range(v1)))
            } else {
                if any(either(both(m0, nan(v0)), both(m1, nan(v1)))) {
                    return None;
                }
                // Lanes past the end become −∞, whose exponential is 0.
                let v0 = select(m0, v0, splat(E::NEG_INFINITY));
                let v1 = select(m1, v1, splat(E::NEG_INFINITY));
                let top = all_max(max(v0, v1));
                (exp(sub(v0, top)), exp(sub(v1, top)))
            };
            let sum = all_sum(add(y0, y1));
            Some((div(y0, sum), div(y1, sum)))
        }

        /// The first `live` values at `p` (all `L` when `live ≥ L`), zeros
        /// past them.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn load_first(p: *const E, live: usize) -> V {
            if live >= L {
                load(p)
            } else {
                mload(p, mask_of(live))
            }
        }

        /// The first `live` values at `p` (all `L` when `live ≥ L`), the
        /// lanes past them −∞, whose exponential is 0.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn load_or_neg_inf(p: *const E, live: usize) -> V {
            let v = load_first(p, live);
            if live >= L {
                v
            } else {
                select(prefix(live), v, splat(E::NEG_INFINITY))
            }
        }

        /// Stores the first `live` lanes of `v` at `p` (all `L` when
        /// `live ≥ L`).
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn store_first(p: *mut E, live: usize, v: V) {
            if live >= L {
                storeu(p, v)
            } else {
                mstore(p, mask_of(live), v)
            }
        }

        /// The first `live` (at most `2·L`) values at `p` as two vectors,
        /// zeros past them.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn load_two(p: *const E, live: usize) -> (V, V) {
            let rest = live.saturating_sub(L);
            (load_first(p, live), if rest > 0 { load_first(p.add(L), rest) } else { zero() })
        }

        /// Stores the first `live` (at most `2·L`) lanes of `v0` and `v1`
        /// at `p`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn store_two(p: *mut E, live: usize, (v0, v1): (V, V)) {
            store_first(p, live, v0);
            if live > L {
                store_first(p.add(L), live - L, v1);
            }
        }

        /// `c = softmax(A·x + bias)` for one sample of at most `2·L` units,
        /// the product's sums going to the softmax in registers (no store
        /// and reload between them). Returns false, doing nothing, for
        /// wider layers and for NaN sums (the caller's two-step path
        /// handles both).
        ///
        /// # Safety
        /// The CPU must have the module's features; `a` holds `m·k` values,
        /// `x` `k`, `c` `m`, and `bias` is null or holds `m`.
        #[inline(always)]
        unsafe fn fused_softmax_inline(
            m: usize,
            k: usize,
            a: *const E,
            x: *const E,
            bias: *const E,
            c: *mut E,
        ) -> bool {
            if m == 0 || m > 2 * L {
                return false;
            }
            let mask = mask_of(m % L);
            // The bias starts the sums (see `mv_tile`); the second vector
            // holds rows `L..m`, none when `m ≤ L`.
            let (b0, b1) = if bias.is_null() { (zero(), zero()) } else { load_two(bias, m) };
            let (v0, v1) = match (m.div_ceil(L), !m.is_multiple_of(L)) {
                (1, false) => (mv_sums::<1, 8, 8, false>(k, a, m, x, mask, [b0])[0], zero()),
                (1, true) => (mv_sums::<1, 8, 8, true>(k, a, m, x, mask, [b0])[0], zero()),
                (_, true) => mv_sums::<2, 4, 8, true>(k, a, m, x, mask, [b0, b1]).into(),
                (_, false) => mv_sums::<2, 4, 8, false>(k, a, m, x, mask, [b0, b1]).into(),
            };
            let Some(y) = softmax_of_two(v0, v1, m) else {
                return false;
            };
            store_two(c, m, y);
            true
        }

        /// Softmax of one column in place with the vectorized [`exp`]:
        /// `z = e^(z − max) / Σ`. Columns of up to `2·L` values, the usual
        /// classifier head, stay in registers from load to store (and skip
        /// the shift when it cannot matter, see [`softmax_of_two`]).
        ///
        /// Always done here (true), for the `f64` entry's sake.
        ///
        /// # Safety
        /// The CPU must have the module's features.
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn softmax_in_place(col: &mut [E]) -> bool {
            let rows = col.len();
            let op = col.as_mut_ptr();
            if rows <= 2 * L {
                let (v0, v1) = load_two(op, rows);
                match softmax_of_two(v0, v1, rows) {
                    Some(y) => store_two(op, rows, y),
                    // As libm's path: a NaN input makes every output NaN.
                    None => col.fill(E::NAN),
                }
                return true;
            }
            // Lanes past the end are read as −∞, whose exponential is 0.
            let chunks = rows.div_ceil(L);
            let chunk = |c: usize| load_or_neg_inf(op.add(c * L), rows - c * L);
            let put = |c: usize, v: V| store_first(op.add(c * L), rows - c * L, v);
            let mut top = splat(E::NEG_INFINITY);
            let mut seen_nan = prefix(0);
            for c in 0..chunks {
                let v = chunk(c);
                top = max(top, v);
                seen_nan = either(seen_nan, nan(v));
            }
            if any(seen_nan) {
                col.fill(E::NAN);
                return true;
            }
            let top = all_max(top);
            let mut sum = zero();
            for c in 0..chunks {
                let y = exp(sub(chunk(c), top));
                put(c, y);
                sum = add(sum, y);
            }
            let sum = all_sum(sum);
            for c in 0..chunks {
                put(c, div(chunk(c), sum));
            }
            true
        }
    };
}

/// `f64` has no fused softmax layer (its `exp` stays libm's, for 1e-9
/// parity with Keras).
macro_rules! f64_softmax {
    () => {
        /// Always declines.
        #[inline(always)]
        unsafe fn fused_softmax_inline(_: usize, _: usize, _: *const E, _: *const E, _: *const E, _: *mut E) -> bool {
            false
        }

        /// Declines: the caller takes libm's `exp`.
        ///
        /// # Safety
        /// None; `unsafe` to match the `f32` entry.
        pub(crate) unsafe fn softmax_in_place(_: &mut [E]) -> bool {
            false
        }
    };
}

/// The AVX2+FMA kernels (256-bit vectors, 16 registers).
pub(crate) mod avx2 {
    use super::*;

    /// The `f32` kernels: 8 lanes.
    pub(crate) mod f32 {
        use super::*;
        use core::arch::x86_64::*;

        pub(crate) type V = __m256;
        pub(crate) type M = __m256i;
        /// Lane flags: all ones or all zeros per lane.
        type B = __m256;
        pub(crate) const L: usize = 8;

        lane_ops! { "avx2,fma";
            fn zero() -> V = _mm256_setzero_ps();
            fn load(p: *const E) -> V = _mm256_loadu_ps(p);
            fn mload(p: *const E, m: M) -> V = _mm256_maskload_ps(p, m);
            fn storeu(p: *mut E, x: V) = _mm256_storeu_ps(p, x);
            fn splat(x: E) -> V = _mm256_set1_ps(x);
            fn fma(a: V, b: V, c: V) -> V = _mm256_fmadd_ps(a, b, c);
            fn fnmadd(a: V, b: V, c: V) -> V = _mm256_fnmadd_ps(a, b, c);
            fn add(a: V, b: V) -> V = _mm256_add_ps(a, b);
            fn sub(a: V, b: V) -> V = _mm256_sub_ps(a, b);
            fn mul(a: V, b: V) -> V = _mm256_mul_ps(a, b);
            fn div(a: V, b: V) -> V = _mm256_div_ps(a, b);
            fn max(a: V, b: V) -> V = _mm256_max_ps(a, b);
            fn min(a: V, b: V) -> V = _mm256_min_ps(a, b);
            fn abs(x: V) -> V = _mm256_andnot_ps(_mm256_set1_ps(-0.0), x);
            fn round_even(x: V) -> V = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x);
            fn pow2(n: V) -> V =
                _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127))));
            fn prefix(live: usize) -> B = _mm256_castsi256_ps(mask_of(live));
            fn lt(a: V, b: V) -> B = _mm256_cmp_ps::<_CMP_LT_OQ>(a, b);
            fn above(a: V, b: V) -> B = _mm256_cmp_ps::<_CMP_NLE_UQ>(a, b);
            fn nan(x: V) -> B = _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x);
            fn both(a: B, b: B) -> B = _mm256_and_ps(a, b);
            fn either(a: B, b: B) -> B = _mm256_or_ps(a, b);
            fn any(b: B) -> bool = _mm256_movemask_ps(b) != 0;
            fn keep(b: B, x: V) -> V = _mm256_and_ps(b, x);
            fn clear(b: B, x: V) -> V = _mm256_andnot_ps(b, x);
            fn select(b: B, yes: V, no: V) -> V = _mm256_blendv_ps(no, yes, b);
        }

        /// Stores the lanes `m` selects (a prefix). Not `vmaskmovps`: on
        /// AMD Zen 3 that store takes ~17 cycles and blocks store
        /// forwarding (measured 10 ns for a masked store and reload, 1 ns
        /// unmasked).
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub(crate) unsafe fn mstore(p: *mut E, m: M, x: V) {
            // 4, 2 and 1 lanes at a time (a copy of a run-time length would
            // be a call to `memcpy`).
            let mut live = _mm256_movemask_ps(_mm256_castsi256_ps(m)).count_ones() as usize;
            let (mut p, mut part) = (p, _mm256_castps256_ps128(x));
            if live >= 4 {
                _mm_storeu_ps(p, part);
                part = _mm256_extractf128_ps::<1>(x);
                p = p.add(4);
                live -= 4;
            }
            if live >= 2 {
                _mm_store_sd(p as *mut f64, _mm_castps_pd(part));
                part = _mm_movehl_ps(part, part);
                p = p.add(2);
                live -= 2;
            }
            if live == 1 {
                _mm_store_ss(p, part);
            }
        }

        /// Lanes `0..live` on (none when `live` is 0; then no masked access
        /// happens; all from `L` on).
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub(crate) unsafe fn mask_of(live: usize) -> M {
            _mm256_cmpgt_epi32(_mm256_set1_epi32(live.min(L) as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
        }

        /// Every lane set to the maximum of `v`'s lanes (NaNs are handled
        /// by the caller).
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn all_max(v: V) -> V {
            let m = max(v, _mm256_permute2f128_ps::<1>(v, v));
            let m = max(m, _mm256_permute_ps::<0b01_00_11_10>(m));
            max(m, _mm256_permute_ps::<0b10_11_00_01>(m))
        }

        /// Every lane set to the sum of `v`'s lanes.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn all_sum(v: V) -> V {
            let s = add(v, _mm256_permute2f128_ps::<1>(v, v));
            let s = add(s, _mm256_permute_ps::<0b01_00_11_10>(s));
            add(s, _mm256_permute_ps::<0b10_11_00_01>(s))
        }

        kernels_body!(f32, "avx2,fma");
        f32_softmax!("avx2,fma");
    }

    /// The `f64` kernels: 4 lanes.
    pub(crate) mod f64 {
        use super::*;
        use core::arch::x86_64::*;

        pub(crate) type V = __m256d;
        pub(crate) type M = __m256i;
        pub(crate) const L: usize = 4;

        lane_ops! { "avx2,fma";
            fn zero() -> V = _mm256_setzero_pd();
            fn load(p: *const E) -> V = _mm256_loadu_pd(p);
            fn mload(p: *const E, m: M) -> V = _mm256_maskload_pd(p, m);
            fn storeu(p: *mut E, x: V) = _mm256_storeu_pd(p, x);
            fn splat(x: E) -> V = _mm256_set1_pd(x);
            fn fma(a: V, b: V, c: V) -> V = _mm256_fmadd_pd(a, b, c);
            fn add(a: V, b: V) -> V = _mm256_add_pd(a, b);
            fn max(a: V, b: V) -> V = _mm256_max_pd(a, b);
        }

        /// Stores the lanes `m` selects (a prefix), as the `f32` version.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub(crate) unsafe fn mstore(p: *mut E, m: M, x: V) {
            let live = _mm256_movemask_pd(_mm256_castsi256_pd(m)).count_ones() as usize;
            let (mut p, mut part) = (p, _mm256_castpd256_pd128(x));
            if live >= 2 {
                _mm_storeu_pd(p, part);
                part = _mm256_extractf128_pd::<1>(x);
                p = p.add(2);
            }
            if live % 2 == 1 {
                _mm_store_sd(p, part);
            }
        }

        /// Lanes `0..live` on.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub(crate) unsafe fn mask_of(live: usize) -> M {
            _mm256_cmpgt_epi64(_mm256_set1_epi64x(live.min(L) as i64), _mm256_setr_epi64x(0, 1, 2, 3))
        }

        kernels_body!(f64, "avx2,fma");
        f64_softmax!();
    }
}

/// The AVX-512F kernels (512-bit vectors, 32 registers, mask registers for
/// the tails). The tiles are the AVX2 ones with twice the lanes: 2 vectors
/// × 6 columns still keeps two FMA units busy (12 independent chains).
pub(crate) mod avx512 {
    use super::*;

    /// The `f32` kernels: 16 lanes.
    pub(crate) mod f32 {
        use super::*;
        use core::arch::x86_64::*;

        pub(crate) type V = __m512;
        pub(crate) type M = __mmask16;
        /// Lane flags: a mask register.
        type B = __mmask16;
        pub(crate) const L: usize = 16;

        lane_ops! { "avx512f,avx2,fma";
            fn zero() -> V = _mm512_setzero_ps();
            fn load(p: *const E) -> V = _mm512_loadu_ps(p);
            fn mload(p: *const E, m: M) -> V = _mm512_maskz_loadu_ps(m, p);
            fn storeu(p: *mut E, x: V) = _mm512_storeu_ps(p, x);
            fn mstore(p: *mut E, m: M, x: V) = _mm512_mask_storeu_ps(p, m, x);
            fn mask_of(live: usize) -> M = if live >= L { M::MAX } else { (1 << live) - 1 };
            fn splat(x: E) -> V = _mm512_set1_ps(x);
            fn fma(a: V, b: V, c: V) -> V = _mm512_fmadd_ps(a, b, c);
            fn fnmadd(a: V, b: V, c: V) -> V = _mm512_fnmadd_ps(a, b, c);
            fn add(a: V, b: V) -> V = _mm512_add_ps(a, b);
            fn sub(a: V, b: V) -> V = _mm512_sub_ps(a, b);
            fn mul(a: V, b: V) -> V = _mm512_mul_ps(a, b);
            fn div(a: V, b: V) -> V = _mm512_div_ps(a, b);
            fn max(a: V, b: V) -> V = _mm512_max_ps(a, b);
            fn min(a: V, b: V) -> V = _mm512_min_ps(a, b);
            fn abs(x: V) -> V = _mm512_abs_ps(x);
            fn round_even(x: V) -> V = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x);
            fn pow2(n: V) -> V =
                _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127))));
            fn prefix(live: usize) -> B = mask_of(live);
            fn lt(a: V, b: V) -> B = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b);
            fn above(a: V, b: V) -> B = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(a, b);
            fn nan(x: V) -> B = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
            fn both(a: B, b: B) -> B = a & b;
            fn either(a: B, b: B) -> B = a | b;
            fn any(b: B) -> bool = b != 0;
            fn keep(b: B, x: V) -> V = _mm512_maskz_mov_ps(b, x);
            fn clear(b: B, x: V) -> V = _mm512_maskz_mov_ps(!b, x);
            fn select(b: B, yes: V, no: V) -> V = _mm512_mask_blend_ps(b, no, yes);
            fn all_max(v: V) -> V = _mm512_set1_ps(_mm512_reduce_max_ps(v));
            fn all_sum(v: V) -> V = _mm512_set1_ps(_mm512_reduce_add_ps(v));
        }

        kernels_body!(f32, "avx512f,avx2,fma");
        f32_softmax!("avx512f,avx2,fma");
    }

    /// The `f64` kernels: 8 lanes.
    pub(crate) mod f64 {
        use super::*;
        use core::arch::x86_64::*;

        pub(crate) type V = __m512d;
        pub(crate) type M = __mmask8;
        pub(crate) const L: usize = 8;

        lane_ops! { "avx512f,avx2,fma";
            fn zero() -> V = _mm512_setzero_pd();
            fn load(p: *const E) -> V = _mm512_loadu_pd(p);
            fn mload(p: *const E, m: M) -> V = _mm512_maskz_loadu_pd(m, p);
            fn storeu(p: *mut E, x: V) = _mm512_storeu_pd(p, x);
            fn mstore(p: *mut E, m: M, x: V) = _mm512_mask_storeu_pd(p, m, x);
            fn mask_of(live: usize) -> M = if live >= L { M::MAX } else { (1 << live) - 1 };
            fn splat(x: E) -> V = _mm512_set1_pd(x);
            fn fma(a: V, b: V, c: V) -> V = _mm512_fmadd_pd(a, b, c);
            fn add(a: V, b: V) -> V = _mm512_add_pd(a, b);
            fn max(a: V, b: V) -> V = _mm512_max_pd(a, b);
        }

        kernels_body!(f64, "avx512f,avx2,fma");
        f64_softmax!();
    }
}
