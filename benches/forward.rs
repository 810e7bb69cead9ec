//! Inference: staticnet's generated `forward` / `forward_batch` against
//! straightforward nalgebra code computing the same network with the same
//! weights, in the same run.
//!
//! ```sh
//! cargo bench --bench forward
//! ```
mod common;

use common::{check_same, input, Digits, PlainDigits, Posts};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use staticnet::nalgebra::{SMatrix, SVector};
use staticnet::Scalar;
use std::hint::black_box;
use std::time::Duration;

fn digits_b1<T: Scalar>(c: &mut Criterion, ty: &str) {
    let model = Digits::<T>::new(7);
    let plain = PlainDigits::of(&model);
    let x: SVector<T, 64> = input(0);
    check_same(model.forward(&x).as_slice(), plain.forward(&x).as_slice());
    let mut g = c.benchmark_group(format!("digits_forward_b1_{ty}"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("staticnet", |b| b.iter(|| model.forward(black_box(&x))));
    g.bench_function("nalgebra", |b| b.iter(|| plain.forward(black_box(&x))));
    g.finish();
}

fn digits_batch<T: Scalar, const B: usize>(c: &mut Criterion, ty: &str) {
    let model = Digits::<T>::new(7);
    let plain = PlainDigits::of(&model);
    let x: Box<SMatrix<T, 64, B>> = Box::new(input(3));
    check_same(model.forward_batch::<B>(&x).as_slice(), plain.forward_batch::<B>(&x).as_slice());
    let mut g = c.benchmark_group(format!("digits_forward_batch_{ty}"));
    g.throughput(Throughput::Elements(B as u64));
    g.bench_with_input(BenchmarkId::new("staticnet", B), &x, |b, x| b.iter(|| model.forward_batch::<B>(black_box(x))));
    g.bench_with_input(BenchmarkId::new("nalgebra", B), &x, |b, x| b.iter(|| plain.forward_batch::<B>(black_box(x))));
    g.finish();
}

fn posts(c: &mut Criterion) {
    let model = Posts::<f32>::new(7);
    let x: SVector<f32, 256> = input(1);
    let xb: Box<SMatrix<f32, 256, 64>> = Box::new(input(2));
    let mut g = c.benchmark_group("posts_forward_f32");
    g.bench_function("staticnet_b1", |b| b.iter(|| model.forward(black_box(&x))));
    g.throughput(Throughput::Elements(64));
    g.bench_function("staticnet_b64", |b| b.iter(|| model.forward_batch::<64>(black_box(&xb))));
    g.finish();
}

fn benches(c: &mut Criterion) {
    digits_b1::<f32>(c, "f32");
    digits_b1::<f64>(c, "f64");
    digits_batch::<f32, 64>(c, "f32");
    digits_batch::<f32, 256>(c, "f32");
    digits_batch::<f64, 64>(c, "f64");
    posts(c);
}

criterion_group! {
    name = forward;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(forward);
