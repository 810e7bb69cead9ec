//! The convolution kernels on the layer shapes of the keyword-spotting
//! DS-CNN (input 49×10×1; Conv2D 64 10×4 stride 2 same; 4× [3×3 depthwise
//! same, 1×1 Conv2D 64]; global average pooling; Dense 12 softmax), at
//! batch 1 and 64, forward (inference: ReLU fused, no `z`) and backward
//! (kernel, bias and input gradients), in multiply-adds per nanosecond;
//! then the alternatives the kernels were chosen over, raced against
//! them (the first layer: the direct loop against im2col and the matrix
//! product; the depthwise layer: the direct loop against im2col and
//! branch-free sums), and the whole inference pass at batch 1.
//!
//! ```sh
//! cargo bench --bench conv
//! STATICNET_NO_AVX512=1 cargo bench --bench conv   # AVX2 on a CPU with AVX-512
//! STATICNET_PORTABLE=1 cargo bench --bench conv    # the portable loops
//! ```

mod common;

use common::race;
use staticnet::__private::gemm::{gemm_nn, Start};
use staticnet::__private::ops::{conv, depthwise, pool, Padding, Window};
use staticnet::__private::{activations, Activation};
use std::hint::black_box;

fn data(len: usize, salt: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 7919 + salt * 104_729) % 1009) as f32 / 1009.0 - 0.5).collect()
}

/// The first layer: 10×4, stride 2, same, 1 channel in, 64 out.
fn conv0() -> Window {
    Window::keras((49, 10), 1, (10, 4), (2, 2), (1, 1), Padding::Same)
}

/// A depthwise layer: 3×3, same, over 25×5×64.
fn dw() -> Window {
    Window::keras((25, 5), 64, (3, 3), (1, 1), (1, 1), Padding::Same)
}

/// A pointwise layer: 1×1 over 25×5×64.
fn pw() -> Window {
    Window::keras((25, 5), 64, (1, 1), (1, 1), (1, 1), Padding::Valid)
}

/// Seconds per call of one closure: the median and the fastest round.
fn time(f: &mut dyn FnMut()) -> (f64, f64) {
    let t = race(vec![f])[0];
    (t.median, t.min)
}

/// A table row: time per call (median, and fastest round) and multiply-adds
/// per nanosecond at the median.
fn row(what: &str, n: usize, macs: f64, (median, min): (f64, f64)) {
    println!(
        "| {what} | {n} | {:.2} µs (min {:.2}) | {:.1} |",
        median * 1e6,
        min * 1e6,
        macs * n as f64 / median / 1e9
    );
}

/// A convolution layer's forward and backward at batch `n`.
fn conv_layer(what: &str, w: Window, filters: usize, n: usize) {
    let depth = w.taps() * w.channels;
    let macs = (w.positions() * filters * depth) as f64;
    let kernel = data(filters * depth, 1);
    let bias = data(filters, 2);
    let x = data(n * w.in_len(), 3);
    let len = n * w.positions() * filters;
    let mut cols = vec![0.0f32; conv::cols_len(&w) * n];
    let mut out = vec![0.0f32; len];
    let t = time(&mut || {
        conv::forward(&w, filters, &kernel, Some(&bias), Activation::Relu, black_box(&x), &mut cols, None, &mut out)
    });
    row(&format!("{what} forward"), n, macs, t);
    let mut z = vec![0.0f32; len];
    conv::forward(&w, filters, &kernel, Some(&bias), Activation::Relu, &x, &mut cols, Some(&mut z), &mut out);
    let dz = data(len, 4);
    let (mut dk, mut db, mut dx) = (vec![0.0f32; kernel.len()], vec![0.0f32; filters], vec![0.0f32; x.len()]);
    let t = time(&mut || {
        conv::backward(&w, filters, &kernel, &x, &mut cols, black_box(&dz), &mut dk, Some(&mut db), Some(&mut dx))
    });
    row(&format!("{what} backward"), n, 2.0 * macs, t);
}

/// The depthwise layer's forward and backward at batch `n`.
fn depthwise_layer(w: Window, n: usize) {
    let oc = w.channels;
    let macs = (w.positions() * oc * w.taps()) as f64;
    let kernel = data(w.taps() * oc, 1);
    let bias = data(oc, 2);
    let x = data(n * w.in_len(), 3);
    let len = n * w.positions() * oc;
    let mut out = vec![0.0f32; len];
    let t =
        time(&mut || depthwise::forward(&w, 1, &kernel, Some(&bias), Activation::Relu, black_box(&x), None, &mut out));
    row("depthwise 3×3 forward", n, macs, t);
    let dz = data(len, 4);
    let (mut dk, mut db, mut dx) = (vec![0.0f32; kernel.len()], vec![0.0f32; oc], vec![0.0f32; x.len()]);
    let t =
        time(&mut || depthwise::backward(&w, 1, &kernel, &x, black_box(&dz), &mut dk, Some(&mut db), Some(&mut dx)));
    row("depthwise 3×3 backward", n, 2.0 * macs, t);
}

/// Runs `f` compiled with AVX2 and FMA where the CPU has them, so the
/// alternative below gets the vector width of the kernel it is raced
/// against.
#[inline(always)]
fn avx2<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if staticnet::kernels::simd() != "portable" {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn run<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { run(f) };
    }
    f()
}

/// The depthwise layer as im2col (every tap's channels copied, zeros over
/// padding) followed by branch-free sums over all nine taps.
fn depthwise_im2col(w: &Window, kernel: &[f32], bias: &[f32], x: &[f32], cols: &mut [f32], out: &mut [f32]) {
    const C: usize = 64;
    let taps = w.taps();
    avx2(
        #[inline(always)]
        || {
            let mut columns = cols.chunks_exact_mut(taps * C);
            for sample in x.chunks_exact(w.in_len()) {
                for p in 0..w.positions() {
                    let (oh, ow) = (p / w.out_w, p % w.out_w);
                    let col = columns.next().unwrap();
                    for i in 0..w.k_h {
                        for j in 0..w.k_w {
                            let dst = &mut col[(i * w.k_w + j) * C..][..C];
                            let r = (oh + i) as isize - w.pad_top as isize;
                            let q = (ow + j) as isize - w.pad_left as isize;
                            if r < 0 || q < 0 || r as usize >= w.in_h || q as usize >= w.in_w {
                                dst.fill(0.0);
                            } else {
                                dst.copy_from_slice(&sample[(r as usize * w.in_w + q as usize) * C..][..C]);
                            }
                        }
                    }
                }
            }
            // The channel loop innermost, over the output in memory: the
            // form the vectorizer handles whatever else is inlined here.
            for (col, dst) in cols.chunks_exact(taps * C).zip(out.chunks_exact_mut(C)) {
                dst.copy_from_slice(bias);
                for (xs, ks) in col.chunks_exact(C).zip(kernel.chunks_exact(C)) {
                    for ((a, &xv), &kv) in dst.iter_mut().zip(xs).zip(ks) {
                        *a += xv * kv;
                    }
                }
                for o in dst.iter_mut() {
                    *o = o.max(0.0);
                }
            }
        },
    )
}

/// The chosen kernel against an alternative, same inputs, same results.
fn versus(what: &str, n: usize, macs: f64, ours: &mut dyn FnMut() -> Vec<f32>, theirs: &mut dyn FnMut() -> Vec<f32>) {
    let (a, b) = (ours(), theirs());
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "{what}: the two differ by {worst}");
    let r = race(vec![&mut || drop(black_box(ours())), &mut || drop(black_box(theirs()))]);
    println!(
        "| {what} | {n} | {:.2} µs (min {:.2}, {:.1} MAC/ns) | {:.2} µs (min {:.2}, {:.1} MAC/ns) | {:.2}× |",
        r[0].median * 1e6,
        r[0].min * 1e6,
        macs * n as f64 / r[0].median / 1e9,
        r[1].median * 1e6,
        r[1].min * 1e6,
        macs * n as f64 / r[1].median / 1e9,
        r[1].ratio_to_first
    );
}

/// A convolution as [`conv::forward`] does it against im2col and the
/// matrix product.
fn conv_versus(what: &str, w: Window, filters: usize, n: usize) {
    let depth = w.taps() * w.channels;
    let (kernel, bias, x) = (data(filters * depth, 1), data(filters, 2), data(n * w.in_len(), 3));
    let len = n * w.positions() * filters;
    let (mut cols, mut cols2) = (vec![0.0f32; conv::cols_len(&w) * n], vec![0.0f32; conv::cols_len(&w) * n]);
    let (mut out, mut out2) = (vec![0.0f32; len], vec![0.0f32; len]);
    versus(
        &format!("{what}: chosen vs im2col + GEMM"),
        n,
        (w.positions() * filters * depth) as f64,
        &mut || {
            conv::forward(
                &w,
                filters,
                &kernel,
                Some(&bias),
                Activation::Relu,
                black_box(&x),
                &mut cols,
                None,
                &mut out,
            );
            out[..filters].to_vec()
        },
        &mut || {
            conv::forward_by_product(&w, filters, &kernel, Some(&bias), true, black_box(&x), &mut cols2, &mut out2);
            out2[..filters].to_vec()
        },
    );
}

fn alternatives(n: usize) {
    conv_versus("conv0 (10 KB kernel)", conv0(), 64, n);
    // Off the benchmark: fewer filters (fewer sums to hide the latency
    // behind) and a kernel at the size limit of the direct loop.
    conv_versus("conv0 with 32 filters", conv0(), 32, n);
    let w = Window::keras((25, 5), 7, (3, 3), (1, 1), (1, 1), Padding::Same);
    conv_versus("3×3, 7→64 over 25×5 (16 KB kernel)", w, 64, n);
    let w = dw();
    let (kernel, bias, x) = (data(9 * 64, 1), data(64, 2), data(n * w.in_len(), 3));
    let len = n * w.positions() * 64;
    let (mut cols, mut out, mut out2) =
        (vec![0.0f32; w.positions() * 9 * 64 * n], vec![0.0f32; len], vec![0.0f32; len]);
    versus(
        "depthwise: direct vs im2col + sums",
        n,
        (w.positions() * 64 * 9) as f64,
        &mut || {
            depthwise::forward(&w, 1, &kernel, Some(&bias), Activation::Relu, black_box(&x), None, &mut out);
            out[..64].to_vec()
        },
        &mut || {
            depthwise_im2col(&w, &kernel, &bias, black_box(&x), &mut cols, &mut out2);
            out2[..64].to_vec()
        },
    );
}

/// The model's inference pass at batch 1 on these kernels (batch
/// normalization folded into the convolutions, as an inference build
/// does), the figure to set against LiteRT/XNNPACK's 78 µs.
fn whole_model() {
    let (c0, d, p) = (conv0(), dw(), pw());
    let k0 = data(64 * 40, 1);
    let kd: Vec<Vec<f32>> = (0..4).map(|l| data(9 * 64, 10 + l)).collect();
    let kp: Vec<Vec<f32>> = (0..4).map(|l| data(64 * 64, 20 + l)).collect();
    let b = data(64, 2);
    let (kd12, bd12) = (data(12 * 64, 5), data(12, 6));
    let x = data(c0.in_len(), 3);
    let mut cols = vec![0.0f32; conv::cols_len(&c0)];
    let (mut h, mut g) = (vec![0.0f32; 125 * 64], vec![0.0f32; 125 * 64]);
    let (mut pooled, mut logits) = (vec![0.0f32; 64], vec![0.0f32; 12]);
    let t = time(&mut || {
        conv::forward(&c0, 64, &k0, Some(&b), Activation::Relu, black_box(&x), &mut cols, None, &mut h);
        for l in 0..4 {
            depthwise::forward(&d, 1, &kd[l], Some(&b), Activation::Relu, &h, None, &mut g);
            conv::forward(&p, 64, &kp[l], Some(&b), Activation::Relu, &g, &mut [], None, &mut h);
        }
        pool::global_avg_forward(125, 64, &h, &mut pooled);
        gemm_nn(12, 1, 64, &kd12, &pooled, &mut logits, Start::Bias(&bd12), false);
        activations::forward_in_place(Activation::Softmax, &mut logits, 12);
        black_box(&logits);
    });
    println!(
        "\nwhole inference pass, batch 1: {:.1} µs, fastest round {:.1} µs ({:.1} MAC/ns over 2.66M MACs)",
        t.0 * 1e6,
        t.1 * 1e6,
        2.66e6 / t.0 / 1e9
    );
}

fn main() {
    println!("kernels: {}", staticnet::kernels::simd());
    println!("| layer | batch | time (fastest round) | MAC/ns |");
    println!("|---|---|---|---|");
    for n in [1, 64] {
        conv_layer("conv0 10×4/2, 1→64", conv0(), 64, n);
        depthwise_layer(dw(), n);
        conv_layer("pointwise 1×1, 64→64", pw(), 64, n);
        let x = data(n * 125 * 64, 3);
        let mut out = vec![0.0f32; n * 64];
        let t = time(&mut || pool::global_avg_forward(125, 64, black_box(&x), &mut out));
        row("global average pooling forward", n, 125.0 * 64.0, t);
    }
    println!("\n| alternative | batch | chosen | other | other's time / chosen's |");
    println!("|---|---|---|---|---|");
    for n in [1, 64] {
        alternatives(n);
    }
    whole_model();
}
