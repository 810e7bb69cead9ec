//! The performance targets as ratios, each side measured in the same run and
//! interleaved round by round, so a noisy machine (a shared virtual machine,
//! say) slows both sides alike. Prints one table; the Keras side comes from
//! `benches/keras_baseline.py`.
//!
//! ```sh
//! cargo bench --bench ratios                        # one thread
//! cargo bench --bench ratios --features parallel    # with the helper threads
//! ```
//!
//! Each time is the median over rounds of the time per call (the minimum is
//! printed beside it), each ratio the median of the rounds' ratios; a round
//! runs each side for about 10 ms.

#[allow(dead_code, unused_imports)]
#[path = "../examples/digits.rs"]
mod digits;

mod common;

use common::{check_same, input, posts_batch, race, PlainDigits, PlainPosts, Posts, Timing, B, ROUNDS};
use staticnet::nalgebra::{Const, Dyn, OMatrix, SVector, U1, U10};
use staticnet::{FitOptions, Scalar};
use std::hint::black_box;
use std::time::Instant;

/// A table row: `ours` against `base` (both from one race, `ours` first).
fn row(what: &str, ours: Timing, base: Timing, base_name: &str) {
    println!(
        "| {what} | {} (min {}) | {} (min {}) {base_name} | **{:.2}×** |",
        time(ours.median),
        time(ours.min),
        time(base.median),
        time(base.min),
        1.0 / base.ratio_to_first
    );
}

fn time(s: f64) -> String {
    if s < 1e-6 {
        format!("{:.0} ns", s * 1e9)
    } else if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

fn forward_b1<T: Scalar>(ty: &str) -> Timing {
    let model = common::Digits::<T>::new(7);
    let plain = PlainDigits::of(&model);
    let x: SVector<T, 64> = input(0);
    check_same(model.forward(&x).as_slice(), plain.forward(&x).as_slice());
    let r = race(vec![
        &mut || {
            black_box(model.forward(black_box(&x)));
        },
        &mut || {
            black_box(plain.forward(black_box(&x)));
        },
    ]);
    row(&format!("`forward`, batch 1, {ty}: staticnet / plain nalgebra"), r[0], r[1], "nalgebra");
    r[0]
}

fn train_step<T: Scalar>(ty: &str) {
    let data = posts_batch::<T>();
    let mut model = Box::new(Posts::<T>::new(7));
    let mut optimizer = Posts::<T>::optimizer();
    let mut plain = PlainPosts::of(&model);
    let mut plain_v = PlainPosts::zeros();
    let r = race(vec![
        &mut || {
            black_box(model.train_step::<B>(&mut optimizer, black_box(&data.x), &data.age, &data.income, &data.gender));
        },
        &mut || {
            black_box(plain.train_step(&mut plain_v, black_box(&data)));
        },
    ]);
    row(&format!("`train_step`, batch {B}, {ty}: staticnet / plain nalgebra"), r[0], r[1], "nalgebra");
    println!(
        "| `train_step`, batch {B}, {ty}: samples/s | {:.0} (best {:.0}) | | |",
        B as f64 / r[0].median,
        B as f64 / r[0].min
    );
}

/// A large batch through the multi-output model, where the `parallel`
/// feature's split pays (each product is millions of multiply-adds).
fn large_batch() {
    const N: usize = 1024;
    let model = Box::new(Posts::<f32>::new(7));
    let x: Box<staticnet::nalgebra::SMatrix<f32, 256, N>> = Box::new(input(5));
    let r = race(vec![&mut || {
        black_box(model.forward_batch::<N>(black_box(&x)));
    }]);
    println!(
        "| `forward_batch::<{N}>`, multi-output model, f32: samples/s | {:.0} (best {:.0}) | | |",
        N as f64 / r[0].median,
        N as f64 / r[0].min
    );
}

/// `fit` of the multi-output model for one epoch of 25,600 samples at batch
/// 64, as `keras_baseline.py fit` times Keras.
fn posts_fit() {
    let n = 64 * 400;
    let unit = |i: usize, salt: usize| {
        ((i.wrapping_mul(2_654_435_761).wrapping_add(salt * 40_503)) % 10_007) as f32 / 10_007.0
    };
    let x = OMatrix::<f32, Const<256>, Dyn>::from_fn(n, |i, j| unit(i + 256 * j, 1) - 0.3);
    let age = OMatrix::<f32, U1, Dyn>::from_fn(n, |_, j| unit(j, 2));
    let income = OMatrix::<f32, U10, Dyn>::from_fn(n, |i, j| if i == (j * 7) % 10 { 1.0 } else { 0.0 });
    let gender = OMatrix::<f32, U1, Dyn>::from_fn(n, |_, j| (j % 2) as f32);
    let mut model = Box::new(Posts::<f32>::new(7));
    let mut optimizer = Posts::<f32>::optimizer();
    let options = FitOptions::new().epochs(1).batch_size(64).verbose(false);
    let mut seconds = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        staticnet::fit(&mut *model, &mut optimizer, &x, (&age, &income, &gender), &options).expect("fit");
        seconds.push(start.elapsed().as_secs_f64());
    }
    seconds.sort_by(f64::total_cmp);
    println!(
        "| `fit`, multi-output model, batch 64, f32: samples/s | {:.0} (best {:.0}) | | |",
        n as f64 / seconds[3],
        n as f64 / seconds[0]
    );
}

fn digits_fit() {
    let mut seconds = Vec::new();
    let mut accuracy = 0.0;
    for _ in 0..7 {
        let outcome = digits::train_and_test(7, false).expect("digits");
        seconds.push(outcome.train_seconds);
        accuracy = outcome.test_accuracy;
    }
    seconds.sort_by(f64::total_cmp);
    println!(
        "| `fit` on UCI digits, 50 epochs, batch 32 (main example): seconds | {:.3} s (best {:.3} s), test accuracy {:.2}% | | |",
        seconds[3],
        seconds[0],
        accuracy * 100.0
    );
}

/// The time this CPU needs for the classifier's 3,392 multiply-adds at its
/// peak FMA rate (8-wide f32, measured with independent register-only FMAs).
#[cfg(target_arch = "x86_64")]
fn fma_limit_seconds() -> Option<f64> {
    #[target_feature(enable = "avx2,fma")]
    fn chains(rounds: usize) -> f32 {
        use std::arch::x86_64::*;
        let mut acc = [_mm256_set1_ps(0.5); 12];
        let (x, y) = (_mm256_set1_ps(0.999_9), _mm256_set1_ps(1e-5));
        for _ in 0..rounds {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, x, y);
            }
        }
        let mut s = 0.0;
        for a in acc {
            s += _mm256_cvtss_f32(a);
        }
        s
    }
    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
        return None;
    }
    let rounds = 1_000_000;
    let mut best = f64::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        // SAFETY: the CPU has AVX2 and FMA.
        black_box(unsafe { chains(black_box(rounds)) });
        best = best.min(start.elapsed().as_secs_f64());
    }
    let fma_per_second = (rounds * 12 * 8) as f64 / best;
    Some((64 * 32 + 32 * 32 + 32 * 10) as f64 / fma_per_second)
}

#[cfg(not(target_arch = "x86_64"))]
fn fma_limit_seconds() -> Option<f64> {
    None
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    println!(
        "kernels: {}; features: parallel {}, threads available {}",
        staticnet::kernels::simd(),
        cfg!(feature = "parallel"),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("| measurement | staticnet | baseline | ratio |");
    println!("|---|---|---|---|");
    let b1 = forward_b1::<f32>("f32");
    if let Some(limit) = fma_limit_seconds() {
        println!(
            "| `forward`, batch 1, f32: staticnet / FMA limit (fastest round of each) | {} | {} (3,392 FMAs at peak) | **{:.2}×** |",
            time(b1.min),
            time(limit),
            b1.min / limit
        );
    }
    forward_b1::<f64>("f64");
    train_step::<f32>("f32");
    train_step::<f64>("f64");
    large_batch();
    posts_fit();
    digits_fit();
}
