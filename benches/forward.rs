//! Inference: staticnet's generated `forward` / `forward_batch` against
//! straightforward nalgebra code computing the same network with the same
//! weights, in the same run.
//!
//! ```sh
//! cargo bench --bench forward
//! ```
// The plain-nalgebra baseline multiplies by reference, as nalgebra users write it.
#![allow(clippy::op_ref)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use staticnet::nalgebra::{SMatrix, SVector};
use staticnet::Scalar;
use std::hint::black_box;
use std::time::Duration;

staticnet::network! {
    /// The seed's digit classifier.
    pub struct Digits {
        let image = Input(64);
        let x = Dense(32, activation = relu)(image);
        let x = Dense(32, activation = relu)(x);
        let class = Dense(10, activation = softmax, name = "class")(x);
        Model(image, class);
        compile(optimizer = rmsprop, loss = categorical_crossentropy, metrics = [accuracy]);
    }
}

staticnet::network! {
    /// The seed's multi-output model.
    pub struct Posts {
        let posts = Input(256);
        let x = Dense(64, activation = relu)(posts);
        let x = Dense(64, activation = relu)(x);
        let age = Dense(1, name = "age")(x);
        let income = Dense(10, activation = softmax, name = "income")(x);
        let gender = Dense(1, activation = sigmoid, name = "gender")(x);
        Model(posts, [age, income, gender]);
        compile(
            optimizer = rmsprop,
            loss = [mse, categorical_crossentropy, binary_crossentropy],
            loss_weights = [0.25, 1.0, 10.0],
        );
    }
}

/// The classifier written the plain way with nalgebra's fixed-size types
/// (by reference: `self.w1 * x` would copy the matrix on every call).
struct PlainDigits<T: Scalar> {
    w1: SMatrix<T, 32, 64>,
    b1: SVector<T, 32>,
    w2: SMatrix<T, 32, 32>,
    b2: SVector<T, 32>,
    w3: SMatrix<T, 10, 32>,
    b3: SVector<T, 10>,
}

impl<T: Scalar> PlainDigits<T> {
    fn of(m: &Digits<T>) -> Self {
        Self {
            w1: m.dense.kernel,
            b1: m.dense.bias,
            w2: m.dense_1.kernel,
            b2: m.dense_1.bias,
            w3: m.class.kernel,
            b3: m.class.bias,
        }
    }

    fn forward(&self, x: &SVector<T, 64>) -> SVector<T, 10> {
        let h = (&self.w1 * x + &self.b1).map(|v| v.max(T::zero()));
        let h = (&self.w2 * h + &self.b2).map(|v| v.max(T::zero()));
        let z = &self.w3 * h + &self.b3;
        let m = z.max();
        let e = z.map(|v| (v - m).exp());
        e / e.sum()
    }

    fn forward_batch<const B: usize>(&self, x: &SMatrix<T, 64, B>) -> SMatrix<T, 10, B> {
        let mut h = &self.w1 * x;
        for mut c in h.column_iter_mut() {
            c += self.b1;
            c.apply(|v| *v = v.max(T::zero()));
        }
        let mut h2 = &self.w2 * h;
        for mut c in h2.column_iter_mut() {
            c += self.b2;
            c.apply(|v| *v = v.max(T::zero()));
        }
        let mut z = &self.w3 * h2;
        for mut c in z.column_iter_mut() {
            c += self.b3;
            let m = c.max();
            c.apply(|v| *v = (*v - m).exp());
            let s = c.sum();
            c /= s;
        }
        z
    }
}

fn input<T: Scalar, const R: usize, const C: usize>(salt: usize) -> SMatrix<T, R, C> {
    SMatrix::from_fn(|i, j| T::of_f64((((i * 37 + j * 11 + salt) % 101) as f64 / 101.0) - 0.3))
}

fn check_same<T: Scalar>(a: &[T], b: &[T]) {
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (x.as_f64(), y.as_f64());
        assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "staticnet {x} vs nalgebra {y}");
    }
}

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
