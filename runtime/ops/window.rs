//! The geometry shared by convolutions and pooling: a sliding window over
//! samples stored NHWC (row-major, channels fastest), a batch being its
//! samples back to back. A 1-D sequence `(steps, channels)` is the case
//! `in_h = out_h = k_h = 1`, `in_w = steps`.

use core::ops::Range;

/// The geometry of a sliding window (convolution or pooling) over NHWC
/// samples; 1-D has `in_h = out_h = k_h = 1`.
///
/// Output position `(oh, ow)` reads, for tap `(i, j)`, the input position
/// `(oh·stride_h + i·dilation_h − pad_top, ow·stride_w + j·dilation_w − pad_left)`;
/// a position outside the input is padding (zero for convolutions, left
/// out by pooling). Padding at the bottom and right is implied by
/// `out_h` and `out_w`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Input rows.
    pub in_h: usize,
    /// Input columns (a sequence's steps).
    pub in_w: usize,
    /// Input channels.
    pub channels: usize,
    /// Output rows.
    pub out_h: usize,
    /// Output columns.
    pub out_w: usize,
    /// Window rows.
    pub k_h: usize,
    /// Window columns.
    pub k_w: usize,
    /// Rows between the first rows of consecutive windows.
    pub stride_h: usize,
    /// Columns between the first columns of consecutive windows.
    pub stride_w: usize,
    /// Rows between consecutive taps of a window.
    pub dilation_h: usize,
    /// Columns between consecutive taps of a window.
    pub dilation_w: usize,
    /// Rows of padding before the first input row.
    pub pad_top: usize,
    /// Columns of padding before the first input column.
    pub pad_left: usize,
}

/// Keras's `padding` argument, for [`Window::keras`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding: windows lie inside the input.
    Valid,
    /// TensorFlow's `same`: `ceil(n / stride)` outputs, the padding split
    /// evenly with the odd one at the end.
    Same,
    /// 1-D only: `dilation·(k − 1)` zeros in front (on both axes when used
    /// on 2-D, which Keras does not offer).
    Causal,
}

/// Outputs and padding before, along one axis, for Keras's padding modes.
const fn axis(n: usize, k: usize, stride: usize, dilation: usize, padding: Padding) -> (usize, usize) {
    let span = dilation * (k - 1) + 1;
    match padding {
        Padding::Valid => (if n >= span { (n - span) / stride + 1 } else { 0 }, 0),
        Padding::Same => {
            let out = n.div_ceil(stride);
            let needed = (out - 1) * stride + span;
            let total = needed.saturating_sub(n);
            (out, total / 2)
        }
        Padding::Causal => (n.div_ceil(stride), span - 1),
    }
}

impl Window {
    /// The window Keras builds for a `(in_h, in_w, channels)` input with
    /// kernel (or pool) size `k`, `strides` and `dilation` as (rows,
    /// columns): a 1-D layer passes `(1, steps)`, `(1, k)`, `(1, stride)`
    /// and `(1, dilation)`. Sizes and strides must be at least 1.
    pub const fn keras(
        input: (usize, usize),
        channels: usize,
        k: (usize, usize),
        strides: (usize, usize),
        dilation: (usize, usize),
        padding: Padding,
    ) -> Window {
        let (out_h, pad_top) = axis(input.0, k.0, strides.0, dilation.0, padding);
        let (out_w, pad_left) = axis(input.1, k.1, strides.1, dilation.1, padding);
        Window {
            in_h: input.0,
            in_w: input.1,
            channels,
            out_h,
            out_w,
            k_h: k.0,
            k_w: k.1,
            stride_h: strides.0,
            stride_w: strides.1,
            dilation_h: dilation.0,
            dilation_w: dilation.1,
            pad_top,
            pad_left,
        }
    }

    /// Scalars per input sample.
    #[inline]
    pub const fn in_len(&self) -> usize {
        self.in_h * self.in_w * self.channels
    }

    /// Output positions per sample.
    #[inline]
    pub const fn positions(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Taps per window.
    #[inline]
    pub const fn taps(&self) -> usize {
        self.k_h * self.k_w
    }

    /// Samples in an input batch of `len` scalars (0 for an empty sample).
    #[inline]
    pub(crate) const fn samples(&self, len: usize) -> usize {
        match self.in_len() {
            0 => 0,
            per => len / per,
        }
    }

    /// The taps `lo..hi` of output row `oh` that fall inside the input.
    #[inline]
    pub(crate) fn rows_of(&self, oh: usize) -> (usize, usize) {
        inside(oh * self.stride_h, self.dilation_h, self.pad_top, self.k_h, self.in_h)
    }

    /// The taps `lo..hi` of output column `ow` that fall inside the input.
    #[inline]
    pub(crate) fn cols_of(&self, ow: usize) -> (usize, usize) {
        inside(ow * self.stride_w, self.dilation_w, self.pad_left, self.k_w, self.in_w)
    }

    /// The output positions split into rectangles whose windows have the
    /// same taps inside the input (runs of rows with the same tap rows, by
    /// runs of columns with the same tap columns): `f(rows, cols)` for each,
    /// in order.
    #[inline(always)]
    pub(crate) fn like_rectangles(&self, mut f: impl FnMut(Range<usize>, Range<usize>)) {
        let mut oh0 = 0;
        while oh0 < self.out_h {
            let rows = self.rows_of(oh0);
            let oh1 = (oh0 + 1..self.out_h).find(|&oh| self.rows_of(oh) != rows).unwrap_or(self.out_h);
            let mut ow0 = 0;
            while ow0 < self.out_w {
                let cols = self.cols_of(ow0);
                let ow1 = (ow0 + 1..self.out_w).find(|&ow| self.cols_of(ow) != cols).unwrap_or(self.out_w);
                f(oh0..oh1, ow0..ow1);
                ow0 = ow1;
            }
            oh0 = oh1;
        }
    }

    /// The input row of output row `oh`'s tap `i` (which must be inside).
    #[inline]
    pub(crate) fn in_row(&self, oh: usize, i: usize) -> usize {
        oh * self.stride_h + i * self.dilation_h - self.pad_top
    }

    /// The input column of output column `ow`'s tap `j` (which must be inside).
    #[inline]
    pub(crate) fn in_col(&self, ow: usize, j: usize) -> usize {
        ow * self.stride_w + j * self.dilation_w - self.pad_left
    }

    /// The output rows `lo..hi` whose tap `i` falls inside the input.
    #[inline]
    pub(crate) fn out_rows_of(&self, i: usize) -> (usize, usize) {
        outputs_reading(i * self.dilation_h, self.stride_h, self.pad_top, self.in_h, self.out_h)
    }

    /// The output columns `lo..hi` whose tap `j` falls inside the input.
    #[inline]
    pub(crate) fn out_cols_of(&self, j: usize) -> (usize, usize) {
        outputs_reading(j * self.dilation_w, self.stride_w, self.pad_left, self.in_w, self.out_w)
    }

    /// The taps of a window's rows that read input row `ih`, and the output
    /// rows whose windows they are.
    #[inline]
    pub(crate) fn row_readers(&self, ih: usize) -> Readers {
        readers(ih + self.pad_top, self.stride_h, self.dilation_h, self.k_h, self.out_h)
    }

    /// The taps of a window's columns that read input column `iw`, and the
    /// output columns whose windows they are.
    #[inline]
    pub(crate) fn col_readers(&self, iw: usize) -> Readers {
        readers(iw + self.pad_left, self.stride_w, self.dilation_w, self.k_w, self.out_w)
    }
}

/// Along one axis, the taps that read one input coordinate: `count` taps
/// `first + m·tap_step`, tap `m` of the window of output
/// `out_first − m·out_step` (a larger tap reaches the same input from an
/// earlier window).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Readers {
    pub(crate) first: usize,
    pub(crate) count: usize,
    pub(crate) tap_step: usize,
    pub(crate) out_first: usize,
    pub(crate) out_step: usize,
}

/// [`Readers`] of the padded coordinate `p` (input coordinate plus the
/// padding before) along an axis of stride `s`, dilation `d`, `k` taps and
/// `out` outputs: the taps `t < k` with `p = o·s + t·d` for an output
/// `o < out`. The taps that fit recur every `s / g` (`g = gcd(s, d)`),
/// their outputs `d / g` apart.
#[inline]
fn readers(p: usize, s: usize, d: usize, k: usize, out: usize) -> Readers {
    let g = if s == 1 || d == 1 { 1 } else { gcd(s, d) };
    let (tap_step, out_step) = (s / g, d / g);
    let none = Readers { first: 0, count: 0, tap_step, out_first: 0, out_step };
    // The first tap whose offset `t·d` leaves `p`'s remainder modulo `s`.
    let t0 = if s == 1 {
        0
    } else {
        match (0..tap_step.min(k)).find(|&t| (t * d) % s == p % s) {
            Some(t) => t,
            None => return none,
        }
    };
    if t0 >= k || t0 * d > p {
        return none;
    }
    let o0 = quot(p - t0 * d, s);
    // Tap `t0 + m·tap_step` reads for output `o0 − m·out_step`: `m` from
    // the first whose output exists to the last tap or output 0.
    let m_lo = if o0 >= out { quot(o0 - out, out_step) + 1 } else { 0 };
    let m_hi = (quot(o0, out_step) + 1).min((k - t0).div_ceil(tap_step));
    if m_lo >= m_hi {
        return none;
    }
    Readers { first: t0 + m_lo * tap_step, count: m_hi - m_lo, tap_step, out_first: o0 - m_lo * out_step, out_step }
}

/// `a / b`, without a division for `b = 1`.
#[inline(always)]
fn quot(a: usize, b: usize) -> usize {
    if b == 1 {
        a
    } else {
        a / b
    }
}

/// The greatest common divisor.
fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Along one axis: the taps `t` in `lo..hi` (`lo ≤ hi ≤ k`) for which
/// `start + t·d − pad` lies in `0..n`. Unsigned throughout, so the
/// subtraction of the padding is only done where it cannot wrap.
#[inline]
fn inside(start: usize, d: usize, pad: usize, k: usize, n: usize) -> (usize, usize) {
    let lo = if start >= pad { 0 } else { ceil_div(pad - start, d) };
    let hi = if n + pad > start { ceil_div(n + pad - start, d).min(k) } else { 0 };
    (lo.min(hi), hi)
}

/// `⌈a / d⌉`, without a division for `d = 1` (kernels ask per output
/// position, and a division costs more than the rest of the bookkeeping).
#[inline(always)]
fn ceil_div(a: usize, d: usize) -> usize {
    if d == 1 {
        a
    } else {
        a.div_ceil(d)
    }
}

/// Along one axis: the outputs `o` in `lo..hi` (`≤ out`) for which
/// `o·s + offset − pad` lies in `0..n`.
#[inline]
fn outputs_reading(offset: usize, s: usize, pad: usize, n: usize, out: usize) -> (usize, usize) {
    let lo = if offset >= pad { 0 } else { ceil_div(pad - offset, s) };
    let hi = if n + pad > offset { ceil_div(n + pad - offset, s).min(out) } else { 0 };
    (lo.min(hi), hi)
}

#[cfg(test)]
pub(crate) mod grid {
    //! What the kernels' tests share: a grid of geometries Keras builds,
    //! deterministic data and a tolerance check.
    use super::{Padding, Window};

    /// Every combination of dimensionality, kernel size, stride, dilation
    /// and padding the tests cover, each with an input size that gives at
    /// least one output (and, for `same`, sometimes an input smaller than
    /// the window). `conv` leaves out stride > 1 with dilation > 1, which
    /// Keras forbids for convolutions.
    pub(crate) fn windows(conv: bool) -> Vec<Window> {
        let mut all = Vec::new();
        let kernels2 = [(1, 1), (2, 2), (3, 3), (5, 5), (10, 4), (3, 2)];
        let kernels1 = [(1, 1), (1, 2), (1, 3), (1, 5), (1, 10)];
        let mut case = 0usize;
        for two_d in [false, true] {
            let kernels: &[(usize, usize)] = if two_d { &kernels2 } else { &kernels1 };
            for &k in kernels {
                for s in [1usize, 2, 3] {
                    for d in [1usize, 2] {
                        if conv && s > 1 && d > 1 {
                            continue;
                        }
                        let paddings: &[Padding] = if two_d {
                            &[Padding::Valid, Padding::Same]
                        } else {
                            &[Padding::Valid, Padding::Same, Padding::Causal]
                        };
                        for &padding in paddings {
                            case += 1;
                            let span = |k: usize| d * (k - 1) + 1;
                            // Valid needs the whole window; same and causal
                            // sometimes get an input smaller than it.
                            let extra = [0usize, 1, 3, 4][case % 4];
                            let size = |k: usize| {
                                if padding != Padding::Valid && case.is_multiple_of(3) {
                                    (span(k) / 2).max(1) + extra % 2
                                } else {
                                    span(k) + extra
                                }
                            };
                            let input = if two_d { (size(k.0), size(k.1)) } else { (1, size(k.1)) };
                            let channels = [1usize, 3, 8, 17][case % 4];
                            // Rectangular strides too, where allowed.
                            let sw = if conv && d > 1 || case.is_multiple_of(2) { s } else { 1 + s % 3 };
                            let stride = if two_d { (s, sw) } else { (1, s) };
                            let dilation = if two_d { (d, d) } else { (1, d) };
                            let w = Window::keras(input, channels, k, stride, dilation, padding);
                            assert!(w.positions() > 0, "{w:?}");
                            all.push(w);
                        }
                    }
                }
            }
        }
        all
    }

    /// Deterministic values in about ±1, different for each `salt`.
    pub(crate) fn data(len: usize, salt: usize) -> Vec<f64> {
        (0..len).map(|i| ((i * 7919 + salt * 104_729 + 17) % 1009) as f64 / 504.5 - 1.0).collect()
    }

    /// Central differences of `loss` against `grad` at `theta`, for at most
    /// 60 coordinates (spread evenly) of each `(start, len)` part of it.
    pub(crate) fn finite_differences(
        what: &str,
        theta: &mut [f64],
        parts: &[(usize, usize)],
        grad: &[f64],
        mut loss: impl FnMut(&[f64]) -> f64,
    ) {
        let h = 1e-3;
        for &(from, size) in parts {
            let count = size.min(60);
            for t in 0..count {
                let idx = from + t * size / count;
                let orig = theta[idx];
                theta[idx] = orig + h;
                let up = loss(theta);
                theta[idx] = orig - h;
                let down = loss(theta);
                theta[idx] = orig;
                let fd = (up - down) / (2.0 * h);
                assert!((fd - grad[idx]).abs() <= 1e-7 * (1.0 + fd.abs()), "{what} at {idx}: {} vs {fd}", grad[idx]);
            }
        }
    }

    /// `v` in `T`.
    pub(crate) fn cast<T: crate::Scalar>(v: &[f64]) -> Vec<T> {
        v.iter().map(|&x| T::of_f64(x)).collect()
    }

    /// `v` in f64.
    pub(crate) fn wide<T: crate::Scalar>(v: &[T]) -> Vec<f64> {
        v.iter().map(|x| x.as_f64()).collect()
    }

    /// `|v|` element-wise.
    pub(crate) fn abs(v: &[f64]) -> Vec<f64> {
        v.iter().map(|x| x.abs()).collect()
    }

    /// `a − b` element-wise.
    pub(crate) fn minus(a: &[f64], b: &[f64]) -> Vec<f64> {
        a.iter().zip(b).map(|(x, y)| x - y).collect()
    }

    /// `got` against `want` within `tol` relative to `scale` (the size of
    /// the terms summed into each value, so cancellation does not fail
    /// correct results).
    pub(crate) fn assert_close(what: &str, got: &[f64], want: &[f64], scale: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        for (i, ((&g, &w), &s)) in got.iter().zip(want).zip(scale).enumerate() {
            assert!((g - w).abs() <= tol * (1.0 + s), "{what} at {i}: {g} vs {w}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keras's output sizes and paddings for a few known layers.
    #[test]
    fn keras_geometry() {
        // The keyword-spotting model's first layer: (49, 10), 10×4, stride 2, same.
        let w = Window::keras((49, 10), 1, (10, 4), (2, 2), (1, 1), Padding::Same);
        assert_eq!((w.out_h, w.out_w, w.pad_top, w.pad_left), (25, 5, 4, 1));
        let w = Window::keras((1, 10), 3, (1, 3), (1, 1), (1, 2), Padding::Causal);
        assert_eq!((w.out_h, w.out_w, w.pad_top, w.pad_left), (1, 10, 0, 4));
        let w = Window::keras((7, 7), 3, (3, 3), (2, 2), (1, 1), Padding::Valid);
        assert_eq!((w.out_h, w.out_w, w.pad_top, w.pad_left), (3, 3, 0, 0));
        let w = Window::keras((2, 2), 3, (5, 5), (1, 1), (1, 1), Padding::Same);
        assert_eq!((w.out_h, w.out_w, w.pad_top, w.pad_left), (2, 2, 2, 2));
    }

    /// The tap and output ranges against the definition, position by position.
    #[test]
    fn ranges_match_the_definition() {
        for w in grid::windows(false) {
            for oh in 0..w.out_h {
                let (lo, hi) = w.rows_of(oh);
                for i in 0..w.k_h {
                    let r = (oh * w.stride_h + i * w.dilation_h) as isize - w.pad_top as isize;
                    let real = r >= 0 && (r as usize) < w.in_h;
                    assert_eq!(real, (lo..hi).contains(&i), "{w:?} oh={oh} i={i}");
                    let (olo, ohi) = w.out_rows_of(i);
                    assert_eq!(real, (olo..ohi).contains(&oh), "{w:?} oh={oh} i={i}");
                }
            }
            for ow in 0..w.out_w {
                let (lo, hi) = w.cols_of(ow);
                for j in 0..w.k_w {
                    let c = (ow * w.stride_w + j * w.dilation_w) as isize - w.pad_left as isize;
                    let real = c >= 0 && (c as usize) < w.in_w;
                    assert_eq!(real, (lo..hi).contains(&j), "{w:?} ow={ow} j={j}");
                    let (olo, ohi) = w.out_cols_of(j);
                    assert_eq!(real, (olo..ohi).contains(&ow), "{w:?} ow={ow} j={j}");
                }
            }
            // The readers of each input row and column are exactly the
            // taps and outputs that read it.
            type Reads<'a> = &'a dyn Fn(usize, usize) -> Option<usize>;
            let check = |n: usize, k: usize, out: usize, readers: &dyn Fn(usize) -> Readers, reads: Reads| {
                for at in 0..n {
                    let r = readers(at);
                    let listed: Vec<(usize, usize)> =
                        (0..r.count).map(|m| (r.first + m * r.tap_step, r.out_first - m * r.out_step)).collect();
                    let mut want: Vec<(usize, usize)> = (0..k)
                        .flat_map(|t| (0..out).filter(move |&o| reads(o, t) == Some(at)).map(move |o| (t, o)))
                        .collect();
                    want.sort();
                    assert_eq!(listed, want, "{w:?} at {at}");
                }
            };
            let in_row = |oh: usize, i: usize| (w.rows_of(oh).0..w.rows_of(oh).1).contains(&i).then(|| w.in_row(oh, i));
            let in_col = |ow: usize, j: usize| (w.cols_of(ow).0..w.cols_of(ow).1).contains(&j).then(|| w.in_col(ow, j));
            check(w.in_h, w.k_h, w.out_h, &|ih| w.row_readers(ih), &in_row);
            check(w.in_w, w.k_w, w.out_w, &|iw| w.col_readers(iw), &in_col);
        }
    }
}
