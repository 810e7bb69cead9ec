//! Zero padding (Keras's ZeroPadding1D and ZeroPadding2D) of NHWC samples:
//! rows added above and below, columns left and right.

use crate::Scalar;

/// `out` is each sample of `x` (`in_h × in_w × channels`) inside a border of
/// zeros: `(in_h + top + bottom) × (in_w + left + right) × channels`.
///
/// # Panics
/// If `out` is shorter than the padded samples of `x`.
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Scalar>(
    in_h: usize,
    in_w: usize,
    channels: usize,
    top: usize,
    bottom: usize,
    left: usize,
    right: usize,
    x: &[T],
    out: &mut [T],
) {
    let (row, out_row) = (in_w * channels, (left + in_w + right) * channels);
    let (per, out_per) = (in_h * row, (top + in_h + bottom) * out_row);
    if per == 0 {
        // No values to copy, only zeros (as many samples as `out` holds).
        out.fill(T::zero());
        return;
    }
    let n = x.len() / per;
    for (sample, dst) in x.chunks_exact(per).zip(out[..n * out_per].chunks_exact_mut(out_per)) {
        let (above, rest) = dst.split_at_mut(top * out_row);
        let (middle, below) = rest.split_at_mut(in_h * out_row);
        above.fill(T::zero());
        below.fill(T::zero());
        for (src, line) in sample.chunks_exact(row).zip(middle.chunks_exact_mut(out_row)) {
            line[..left * channels].fill(T::zero());
            line[left * channels..left * channels + row].copy_from_slice(src);
            line[left * channels + row..].fill(T::zero());
        }
    }
}

/// Adds the unpadded part of `dout` into `dx`.
///
/// # Panics
/// If `dout` is shorter than the padded samples of `dx`.
#[allow(clippy::too_many_arguments)]
pub fn backward<T: Scalar>(
    in_h: usize,
    in_w: usize,
    channels: usize,
    top: usize,
    bottom: usize,
    left: usize,
    right: usize,
    dout: &[T],
    dx: &mut [T],
) {
    let (row, out_row) = (in_w * channels, (left + in_w + right) * channels);
    let (per, out_per) = (in_h * row, (top + in_h + bottom) * out_row);
    if per == 0 {
        return;
    }
    let n = dx.len() / per;
    crate::cpu::wide(
        #[inline(always)]
        || {
            for (grad, src) in dx.chunks_exact_mut(per).zip(dout[..n * out_per].chunks_exact(out_per)) {
                let middle = &src[top * out_row..][..in_h * out_row];
                for (g, line) in grad.chunks_exact_mut(row).zip(middle.chunks_exact(out_row)) {
                    super::add_into(g, &line[left * channels..][..row]);
                }
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::super::window::grid::data;
    use super::*;

    /// Forward against the definition and backward against it (added to
    /// a nonzero `dx`), for 1-D and 2-D paddings with and without sides.
    #[test]
    fn matches_definition() {
        let cases = [(1, 7, 3, 0, 0, 2, 1), (4, 5, 1, 1, 2, 0, 3), (3, 3, 17, 2, 2, 2, 2), (2, 6, 8, 0, 0, 0, 0)];
        for (case, (h, w, c, top, bottom, left, right)) in cases.into_iter().enumerate() {
            for n in [1, 3] {
                let x = data(n * h * w * c, case);
                let (oh, ow) = (h + top + bottom, w + left + right);
                let mut out = vec![7.0; n * oh * ow * c];
                forward(h, w, c, top, bottom, left, right, &x, &mut out);
                let dout = data(out.len(), case + 1);
                let start = data(x.len(), case + 2);
                let mut dx = start.clone();
                backward(h, w, c, top, bottom, left, right, &dout, &mut dx);
                for s in 0..n {
                    for r in 0..oh {
                        for q in 0..ow {
                            for k in 0..c {
                                let o = ((s * oh + r) * ow + q) * c + k;
                                let inside = r >= top && r < top + h && q >= left && q < left + w;
                                if inside {
                                    let i = ((s * h + r - top) * w + q - left) * c + k;
                                    assert_eq!(out[o], x[i], "case {case} at {o}");
                                    assert_eq!(dx[i], start[i] + dout[o], "case {case} at {i}");
                                } else {
                                    assert_eq!(out[o], 0.0, "case {case} at {o}");
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
