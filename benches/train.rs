//! Training: `train_step` of the seed's multi-output model (256→64→64→{1,
//! 10 softmax, 1 sigmoid}, RMSprop, batch 64) and of the digit classifier,
//! against the same step written the plain way with nalgebra, in the same run.
//!
//! ```sh
//! cargo bench --bench train
//! ```
mod common;

use common::{posts_batch, Digits, PlainPosts, Posts, B};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use staticnet::nalgebra::SMatrix;
use staticnet::Scalar;
use std::hint::black_box;
use std::time::Duration;

fn posts<T: Scalar>(c: &mut Criterion, ty: &str) {
    let data = posts_batch::<T>();
    let mut model = Box::new(Posts::<T>::new(7));
    let mut plain = PlainPosts::of(&model);
    let mut plain_v = PlainPosts::zeros();
    let mut optimizer = Posts::<T>::optimizer();
    // Same step, same numbers (to the rounding of different summation orders).
    let a = model.train_step::<B>(&mut optimizer, &data.x, &data.age, &data.income, &data.gender).total.as_f64();
    let b = plain.train_step(&mut plain_v, &data).as_f64();
    assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "staticnet loss {a} vs nalgebra {b}");

    let mut g = c.benchmark_group(format!("posts_train_step_b64_{ty}"));
    g.throughput(Throughput::Elements(B as u64));
    g.bench_function("staticnet", |b| {
        b.iter(|| {
            model.train_step::<B>(&mut optimizer, black_box(&data.x), &data.age, &data.income, &data.gender).total
        })
    });
    g.bench_function("nalgebra", |b| b.iter(|| plain.train_step(&mut plain_v, black_box(&data))));
    g.finish();
}

fn digits(c: &mut Criterion) {
    let x = Box::new(SMatrix::<f32, 64, 32>::from_fn(|i, j| ((i * 7 + j * 5) % 17) as f32 / 17.0));
    let y = Box::new(SMatrix::<f32, 10, 32>::from_fn(|i, j| if i == j % 10 { 1.0 } else { 0.0 }));
    let mut model = Digits::<f32>::new(7);
    let mut optimizer = Digits::<f32>::optimizer();
    let mut g = c.benchmark_group("digits_train_step_b32_f32");
    g.throughput(Throughput::Elements(32));
    g.bench_function("staticnet", |b| b.iter(|| model.train_step::<32>(&mut optimizer, black_box(&x), &y).total));
    g.finish();
}

fn benches(c: &mut Criterion) {
    posts::<f32>(c, "f32");
    posts::<f64>(c, "f64");
    digits(c);
}

criterion_group! {
    name = train;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(train);
