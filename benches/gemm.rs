//! The batched products a training step runs, against the `matrixmultiply`
//! crate's `sgemm`/`dgemm` on the same column-major data, interleaved round
//! by round in one run: the measurement behind writing these kernels rather
//! than calling a general GEMM crate (the issue asked to measure first).
//!
//! ```sh
//! cargo bench --bench gemm
//! ```

mod common;

use common::race;
use staticnet::__private::gemm::{gemm_nn, gemm_nt, gemm_tn, Start};
use std::hint::black_box;

#[derive(Clone, Copy, Debug)]
enum Layout {
    /// `A·B`: a dense layer's forward pass.
    NN,
    /// `A·Bᵀ`: its kernel gradient.
    NT,
    /// `Aᵀ·B`: its input gradient.
    TN,
}

/// One product both ways, printed as a table row.
fn compare(what: &str, layout: Layout, m: usize, n: usize, k: usize) {
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 / 13.0 - 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 / 11.0 - 0.5).collect();
    let (mut ours, mut theirs) = (vec![0.0f32; m * n], vec![0.0f32; m * n]);
    // Strides of `A` and `B` as stored (column-major, transposed where the
    // layout says), in `matrixmultiply`'s terms: (row stride, column stride).
    let (rsa, csa) = match layout {
        Layout::TN => (k as isize, 1),
        _ => (1, m as isize),
    };
    let (rsb, csb) = match layout {
        Layout::NT => (n as isize, 1),
        _ => (1, k as isize),
    };
    let run_ours = |c: &mut [f32]| match layout {
        Layout::NN => gemm_nn(m, n, k, black_box(&a), black_box(&b), black_box(c), Start::Zero, false),
        Layout::NT => gemm_nt(m, n, k, black_box(&a), black_box(&b), black_box(c), Start::Zero),
        Layout::TN => gemm_tn(m, n, k, black_box(&a), black_box(&b), black_box(c), Start::Zero),
    };
    let run_theirs = |c: &mut [f32]| {
        // SAFETY: the pointers and strides describe the vectors above.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                black_box(a.as_ptr()),
                rsa,
                csa,
                black_box(b.as_ptr()),
                rsb,
                csb,
                0.0,
                black_box(c.as_mut_ptr()),
                1,
                m as isize,
            )
        }
    };
    run_ours(&mut ours);
    run_theirs(&mut theirs);
    let worst = ours.iter().zip(&theirs).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1e-4 * k as f32, "{what}: the two products differ by {worst}");
    let r = race(vec![&mut || run_ours(&mut ours), &mut || run_theirs(&mut theirs)]);
    let fmas = (m * n * k) as f64;
    println!(
        "| {what} | {layout:?} {m}×{n}×{k} | {:.2} µs ({:.1} FMA/ns) | {:.2} µs ({:.1} FMA/ns) | **{:.2}×** |",
        r[0].median * 1e6,
        fmas / r[0].median / 1e9,
        r[1].median * 1e6,
        fmas / r[1].median / 1e9,
        1.0 / r[1].ratio_to_first
    );
}

fn main() {
    println!("kernels: {}", staticnet::kernels::simd());
    println!("| product | shape (m×n×k) | staticnet | matrixmultiply | time ratio |");
    println!("|---|---|---|---|---|");
    // The seed's multi-output model (256→64→64→{1, 10, 1}) at batch 64.
    compare("layer 1 forward", Layout::NN, 64, 64, 256);
    compare("layer 2 forward", Layout::NN, 64, 64, 64);
    compare("softmax head forward", Layout::NN, 10, 64, 64);
    compare("layer 1 kernel gradient", Layout::NT, 64, 256, 64);
    compare("layer 2 kernel gradient", Layout::NT, 64, 64, 64);
    compare("layer 2 input gradient", Layout::TN, 64, 64, 64);
    // The digits classifier (64→32→32→10) at batch 32, and larger shapes.
    compare("digits layer 1 forward", Layout::NN, 32, 32, 64);
    compare("wide batch", Layout::NN, 64, 1024, 256);
    compare("square", Layout::NN, 256, 256, 256);
}
