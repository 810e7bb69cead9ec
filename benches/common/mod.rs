//! What the benches share: the seed's two models, the same networks
//! written the plain way with nalgebra's fixed-size types (the baseline the
//! targets are ratios against), and deterministic data.
// Each bench binary uses a different part of this module.
#![allow(dead_code)]
// The plain-nalgebra baseline multiplies by reference, as nalgebra users write it.
#![allow(clippy::op_ref)]

use staticnet::nalgebra::{SMatrix, SVector};
use staticnet::Scalar;
use std::time::Instant;

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
pub struct PlainDigits<T: Scalar> {
    w1: SMatrix<T, 32, 64>,
    b1: SVector<T, 32>,
    w2: SMatrix<T, 32, 32>,
    b2: SVector<T, 32>,
    w3: SMatrix<T, 10, 32>,
    b3: SVector<T, 10>,
}

impl<T: Scalar> PlainDigits<T> {
    pub fn of(m: &Digits<T>) -> Self {
        Self {
            w1: m.dense.kernel,
            b1: m.dense.bias,
            w2: m.dense_1.kernel,
            b2: m.dense_1.bias,
            w3: m.class.kernel,
            b3: m.class.bias,
        }
    }

    pub fn forward(&self, x: &SVector<T, 64>) -> SVector<T, 10> {
        let h = (&self.w1 * x + &self.b1).map(|v| v.max(T::zero()));
        let h = (&self.w2 * h + &self.b2).map(|v| v.max(T::zero()));
        let z = &self.w3 * h + &self.b3;
        let m = z.max();
        let e = z.map(|v| (v - m).exp());
        e / e.sum()
    }

    pub fn forward_batch<const B: usize>(&self, x: &SMatrix<T, 64, B>) -> SMatrix<T, 10, B> {
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

pub fn input<T: Scalar, const R: usize, const C: usize>(salt: usize) -> SMatrix<T, R, C> {
    SMatrix::from_fn(|i, j| T::of_f64((((i * 37 + j * 11 + salt) % 101) as f64 / 101.0) - 0.3))
}

pub fn check_same<T: Scalar>(a: &[T], b: &[T]) {
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (x.as_f64(), y.as_f64());
        assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "staticnet {x} vs nalgebra {y}");
    }
}

/// The batch of the multi-output model's training step.
pub const B: usize = 64;

/// One batch of the multi-output model's data.
pub struct PostsBatch<T: Scalar> {
    pub x: SMatrix<T, 256, B>,
    pub age: SMatrix<T, 1, B>,
    pub income: SMatrix<T, 10, B>,
    pub gender: SMatrix<T, 1, B>,
}

pub fn posts_batch<T: Scalar>() -> Box<PostsBatch<T>> {
    let f = |v: f64| T::of_f64(v);
    Box::new(PostsBatch {
        x: SMatrix::from_fn(|i, j| f((((i * 37 + j * 11) % 101) as f64 / 101.0) - 0.3)),
        age: SMatrix::from_fn(|_, j| f((j % 7) as f64 / 7.0)),
        income: SMatrix::from_fn(|i, j| f(if i == (j * 3) % 10 { 1.0 } else { 0.0 })),
        gender: SMatrix::from_fn(|_, j| f((j % 2) as f64)),
    })
}

/// RMSprop (Keras's defaults) on one tensor.
fn rmsprop<T: Scalar, const R: usize, const C: usize>(
    w: &mut SMatrix<T, R, C>,
    v: &mut SMatrix<T, R, C>,
    g: &SMatrix<T, R, C>,
) {
    let (lr, rho, eps) = (T::of_f64(0.001), T::of_f64(0.9), T::of_f64(1e-7));
    v.zip_apply(g, |v, g| *v = rho * *v + (T::one() - rho) * g * g);
    w.zip_zip_apply(g, v, |w, g, v| *w -= lr * g / (v + eps).sqrt());
}

/// The multi-output model's training step written with nalgebra's
/// fixed-size types: forward, the three losses' gradients, backward, RMSprop.
#[derive(Clone)]
pub struct PlainPosts<T: Scalar> {
    w1: SMatrix<T, 64, 256>,
    b1: SVector<T, 64>,
    w2: SMatrix<T, 64, 64>,
    b2: SVector<T, 64>,
    w3: SMatrix<T, 1, 64>,
    b3: SVector<T, 1>,
    w4: SMatrix<T, 10, 64>,
    b4: SVector<T, 10>,
    w5: SMatrix<T, 1, 64>,
    b5: SVector<T, 1>,
}

impl<T: Scalar> PlainPosts<T> {
    pub fn of(m: &Posts<T>) -> Box<Self> {
        Box::new(Self {
            w1: m.dense.kernel,
            b1: m.dense.bias,
            w2: m.dense_1.kernel,
            b2: m.dense_1.bias,
            w3: m.age.kernel,
            b3: m.age.bias,
            w4: m.income.kernel,
            b4: m.income.bias,
            w5: m.gender.kernel,
            b5: m.gender.bias,
        })
    }

    pub fn zeros() -> Box<Self> {
        Box::new(Self {
            w1: SMatrix::zeros(),
            b1: SVector::zeros(),
            w2: SMatrix::zeros(),
            b2: SVector::zeros(),
            w3: SMatrix::zeros(),
            b3: SVector::zeros(),
            w4: SMatrix::zeros(),
            b4: SVector::zeros(),
            w5: SMatrix::zeros(),
            b5: SVector::zeros(),
        })
    }

    pub fn train_step(&mut self, v: &mut Self, d: &PostsBatch<T>) -> T {
        let zero = T::zero();
        let relu = |m: &mut SMatrix<T, 64, B>, b: &SVector<T, 64>| {
            for mut c in m.column_iter_mut() {
                c += b;
                c.apply(|v| *v = v.max(zero));
            }
        };
        let mut h1 = &self.w1 * &d.x;
        relu(&mut h1, &self.b1);
        let mut h2 = &self.w2 * &h1;
        relu(&mut h2, &self.b2);
        let age = (&self.w3 * &h2).add_scalar(self.b3[0]);
        let mut income = &self.w4 * &h2;
        for mut c in income.column_iter_mut() {
            c += self.b4;
            let m = c.max();
            c.apply(|v| *v = (*v - m).exp());
            let s = c.sum();
            c /= s;
        }
        let gender = (&self.w5 * &h2).add_scalar(self.b5[0]).map(|z| T::one() / (T::one() + (-z).exp()));
        let inv_b = T::of_f64(1.0 / B as f64);
        let e = age - d.age;
        let loss_age = e.component_mul(&e).sum() * inv_b;
        let loss_income = -income.zip_map(&d.income, |p, t| t * p.max(T::of_f64(1e-7)).ln()).sum() * inv_b;
        let loss_gender = -gender
            .zip_map(&d.gender, |p, t| {
                let p = p.max(T::of_f64(1e-7)).min(T::of_f64(1.0 - 1e-7));
                t * p.ln() + (T::one() - t) * (T::one() - p).ln()
            })
            .sum()
            * inv_b;
        let d_age = e * (T::of_f64(0.25 * 2.0) * inv_b);
        let d_income = (income - d.income) * inv_b;
        let d_gender = (gender - d.gender) * (T::of_f64(10.0) * inv_b);
        let mut dh2 = self.w3.tr_mul(&d_age) + self.w4.tr_mul(&d_income) + self.w5.tr_mul(&d_gender);
        dh2.zip_apply(&h2, |g, h| {
            if h <= zero {
                *g = zero
            }
        });
        let mut dh1 = self.w2.tr_mul(&dh2);
        dh1.zip_apply(&h1, |g, h| {
            if h <= zero {
                *g = zero
            }
        });
        let g = Box::new(PlainPosts {
            w1: dh1 * d.x.transpose(),
            b1: dh1.column_sum(),
            w2: dh2 * h1.transpose(),
            b2: dh2.column_sum(),
            w3: d_age * h2.transpose(),
            b3: d_age.column_sum(),
            w4: d_income * h2.transpose(),
            b4: d_income.column_sum(),
            w5: d_gender * h2.transpose(),
            b5: d_gender.column_sum(),
        });
        rmsprop(&mut self.w1, &mut v.w1, &g.w1);
        rmsprop(&mut self.b1, &mut v.b1, &g.b1);
        rmsprop(&mut self.w2, &mut v.w2, &g.w2);
        rmsprop(&mut self.b2, &mut v.b2, &g.b2);
        rmsprop(&mut self.w3, &mut v.w3, &g.w3);
        rmsprop(&mut self.b3, &mut v.b3, &g.b3);
        rmsprop(&mut self.w4, &mut v.w4, &g.w4);
        rmsprop(&mut self.b4, &mut v.b4, &g.b4);
        rmsprop(&mut self.w5, &mut v.w5, &g.w5);
        rmsprop(&mut self.b5, &mut v.b5, &g.b5);
        T::of_f64(0.25) * loss_age + loss_income + T::of_f64(10.0) * loss_gender
    }
}

/// Rounds of [`race`].
pub const ROUNDS: usize = 51;

/// What [`race`] measured for one closure: seconds per call.
#[derive(Clone, Copy)]
pub struct Timing {
    pub median: f64,
    pub min: f64,
    /// The median over rounds of this closure's time over the first
    /// closure's in the same round: a slow spell of the machine (this VM's
    /// clock drifts by ±20% over seconds) affects both sides of a ratio.
    pub ratio_to_first: f64,
}

/// Seconds per call of each closure: `ROUNDS` interleaved rounds, each of
/// enough calls for about 10 ms.
pub fn race(mut sides: Vec<&mut dyn FnMut()>) -> Vec<Timing> {
    let calls: Vec<usize> = sides
        .iter_mut()
        .map(|f| {
            let start = Instant::now();
            let mut n = 0;
            while start.elapsed().as_secs_f64() < 0.01 {
                f();
                n += 1;
            }
            n.max(1)
        })
        .collect();
    let mut times = vec![Vec::new(); sides.len()];
    for round in 0..ROUNDS {
        for k in 0..sides.len() {
            // Alternate which side goes first.
            let k = if round % 2 == 0 { k } else { sides.len() - 1 - k };
            let start = Instant::now();
            for _ in 0..calls[k] {
                sides[k]();
            }
            times[k].push(start.elapsed().as_secs_f64() / calls[k] as f64);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    times
        .iter()
        .map(|t| Timing {
            median: median(t.clone()),
            min: t.iter().copied().fold(f64::INFINITY, f64::min),
            ratio_to_first: median(t.iter().zip(&times[0]).map(|(a, b)| a / b).collect()),
        })
        .collect()
}
