//! The optimizers against Keras 3's own numbers, and the clipping rules.

use super::*;
use crate::scalar::c;
use crate::{HeadInfo, Mode, TensorInfo};

/// A stand-in for a generated network: a `[2, 3]` kernel, a
/// non-trainable tensor in the middle (like batch normalization's moving
/// statistics), then a `[3]` bias.
#[derive(Clone, Debug, PartialEq)]
struct Tiny<T> {
    kernel: [T; 6],
    moving_mean: [T; 2],
    bias: [T; 3],
}

impl<T: Scalar> Network<T> for Tiny<T> {
    const PARAM_COUNT: usize = 11;
    const TENSORS: &'static [TensorInfo] = &[
        TensorInfo { name: "dense.kernel", shape: &[2, 3], trainable: true },
        TensorInfo { name: "bn.moving_mean", shape: &[2], trainable: false },
        TensorInfo { name: "dense.bias", shape: &[3], trainable: true },
    ];
    const INPUT_NAMES: &'static [&'static str] = &[];
    const INPUT_WIDTHS: &'static [usize] = &[];
    const HEADS: &'static [HeadInfo] = &[];
    const FORWARD_ROWS: usize = 0;
    const TRAIN_ROWS: usize = 0;
    const HEAD_OFFSETS: &'static [usize] = &[];
    const STATS_LEN: usize = 0;

    fn zeros() -> Self {
        Tiny { kernel: [T::zero(); 6], moving_mean: [T::zero(); 2], bias: [T::zero(); 3] }
    }
    fn with_seed(_seed: u64) -> Self {
        Self::zeros()
    }
    fn tensor(&self, i: usize) -> &[T] {
        match i {
            0 => &self.kernel,
            1 => &self.moving_mean,
            2 => &self.bias,
            _ => panic!("no tensor {i}"),
        }
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [T] {
        match i {
            0 => &mut self.kernel,
            1 => &mut self.moving_mean,
            2 => &mut self.bias,
            _ => panic!("no tensor {i}"),
        }
    }
    fn forward_slices(&self, _n: usize, _inputs: &[&[T]], _workspace: &mut [T], _mode: Mode, _stats: &mut [T]) {}
}

const KERNEL: [f64; 6] = [0.5, -0.3, 0.8, 0.1, 0.7, -0.6];
const BIAS: [f64; 3] = [0.05, -0.02, 0.1];
const MOVING_MEAN: [f64; 2] = [1.5, -2.5];
/// (kernel grad, bias grad) of steps 1, 2 and 3.
const GRADS: [([f64; 6], [f64; 3]); 3] = [
    ([0.3, -1.2, 2.5, -0.4, 0.9, -3.1], [0.25, -0.5, 1.5]),
    ([-0.7, 0.8, 1.1, 0.2, -1.6, 0.05], [-0.35, 0.6, -0.9]),
    ([0.0, -0.2, 0.01, 1.3, -0.1, 2.2], [0.0, 0.02, -1.4]),
];

fn tiny<T: Scalar>(kernel: [f64; 6], moving_mean: [f64; 2], bias: [f64; 3]) -> Tiny<T> {
    Tiny { kernel: kernel.map(c), moving_mean: moving_mean.map(c), bias: bias.map(c) }
}

/// Three steps from `KERNEL`/`BIAS` with `GRADS` (the non-trainable
/// tensor gets a large gradient that must be ignored, also by the global
/// norm); before steps 2 and 3 the learning rate is set to `lrs` when
/// given. Checks the weights after every step against `expected` to
/// `tolerance` relative.
fn check<T: Scalar, O: Optimizer<T, Tiny<T>>>(
    mut optimizer: O,
    lrs: Option<[f64; 2]>,
    expected: &[[f64; 9]; 3],
    tolerance: f64,
) {
    let mut model = tiny::<T>(KERNEL, MOVING_MEAN, BIAS);
    for (step, (gk, gb)) in GRADS.iter().enumerate() {
        if let (Some(lrs), true) = (lrs, step > 0) {
            optimizer.set_learning_rate(c(lrs[step - 1]));
            assert_eq!(optimizer.learning_rate(), c(lrs[step - 1]));
        }
        let grads = tiny::<T>(*gk, [100.0, -100.0], *gb);
        optimizer.apply(&mut model, &grads);
        assert_eq!(optimizer.iterations(), step as u64 + 1);
        let got = model.kernel.iter().chain(&model.bias).map(|x| x.as_f64());
        for (j, (got, want)) in got.zip(expected[step]).enumerate() {
            let error = (got - want).abs();
            assert!(
                error <= tolerance * want.abs() + 1e-300,
                "step {} element {j}: got {got:e}, Keras {want:e} (error {error:e})",
                step + 1
            );
        }
        assert_eq!(model.moving_mean, MOVING_MEAN.map(c::<T>), "a non-trainable tensor changed");
    }
}

fn check64<O: Optimizer<f64, Tiny<f64>>>(optimizer: O, lrs: Option<[f64; 2]>, expected: &[[f64; 9]; 3]) {
    check(optimizer, lrs, expected, 1e-12);
}

type T64 = Tiny<f64>;

#[test]
fn sgd() {
    check64(Sgd::<f64, T64>::new(), None, &SGD);
}

#[test]
fn sgd_momentum() {
    check64(Sgd::<f64, T64>::new().with_momentum(0.9), None, &SGD_MOMENTUM);
}

#[test]
fn sgd_nesterov() {
    check64(Sgd::<f64, T64>::new().with_momentum(0.9).with_nesterov(true), None, &SGD_NESTEROV);
}

#[test]
fn sgd_clipnorm() {
    let sgd = Sgd::<f64, T64>::new().with_learning_rate(0.1).with_momentum(0.5).with_clipnorm(2.4);
    check64(sgd, None, &SGD_CLIPNORM);
}

#[test]
fn sgd_clipvalue() {
    let sgd = Sgd::<f64, T64>::new().with_learning_rate(0.1).with_momentum(0.5).with_clipvalue(1.0);
    check64(sgd, None, &SGD_CLIPVALUE);
}

#[test]
fn sgd_global_clipnorm() {
    let sgd = Sgd::<f64, T64>::new().with_learning_rate(0.1).with_momentum(0.5).with_global_clipnorm(2.7);
    check64(sgd, None, &SGD_GLOBAL_CLIPNORM);
}

#[test]
fn sgd_set_learning_rate() {
    let sgd = Sgd::<f64, T64>::new().with_momentum(0.9).with_nesterov(true);
    check64(sgd, Some([0.05, 0.002]), &SGD_SET_LR);
}

#[test]
fn rmsprop() {
    check64(RmsProp::<f64, T64>::new(), None, &RMSPROP);
}

#[test]
fn rmsprop_momentum() {
    check64(RmsProp::<f64, T64>::new().with_momentum(0.5), None, &RMSPROP_MOMENTUM);
}

#[test]
fn rmsprop_centered() {
    check64(RmsProp::<f64, T64>::new().with_centered(true), None, &RMSPROP_CENTERED);
}

#[test]
fn rmsprop_centered_momentum() {
    let rmsprop = RmsProp::<f64, T64>::new()
        .with_learning_rate(0.01)
        .with_rho(0.8)
        .with_momentum(0.3)
        .with_epsilon(1e-3)
        .with_centered(true);
    check64(rmsprop, None, &RMSPROP_CENTERED_MOMENTUM);
}

#[test]
fn rmsprop_clipvalue() {
    check64(RmsProp::<f64, T64>::new().with_clipvalue(0.5), None, &RMSPROP_CLIPVALUE);
}

#[test]
fn rmsprop_set_learning_rate() {
    check64(RmsProp::<f64, T64>::new().with_momentum(0.5), Some([0.01, 0.0005]), &RMSPROP_SET_LR);
}

#[test]
fn adam() {
    check64(Adam::<f64, T64>::new(), None, &ADAM);
}

#[test]
fn adam_amsgrad() {
    check64(Adam::<f64, T64>::new().with_amsgrad(true), None, &ADAM_AMSGRAD);
}

#[test]
fn adam_custom_amsgrad() {
    let adam = Adam::<f64, T64>::new()
        .with_learning_rate(0.01)
        .with_beta_1(0.8)
        .with_beta_2(0.9)
        .with_epsilon(1e-4)
        .with_amsgrad(true);
    check64(adam, None, &ADAM_CUSTOM_AMSGRAD);
}

#[test]
fn adam_clipnorm() {
    let adam = Adam::<f64, T64>::new().with_learning_rate(0.01).with_epsilon(0.5).with_clipnorm(2.4);
    check64(adam, None, &ADAM_CLIPNORM);
}

#[test]
fn adam_global_clipnorm() {
    let adam = Adam::<f64, T64>::new().with_learning_rate(0.01).with_epsilon(0.5).with_global_clipnorm(2.7);
    check64(adam, None, &ADAM_GLOBAL_CLIPNORM);
}

#[test]
fn adam_set_learning_rate() {
    check64(Adam::<f64, T64>::new(), Some([0.01, 0.05]), &ADAM_SET_LR);
}

#[test]
fn f32_follows_keras_f64_closely() {
    check(Adam::<f32, Tiny<f32>>::new().with_amsgrad(true), None, &ADAM_AMSGRAD, 1e-5);
    let sgd = Sgd::<f32, Tiny<f32>>::new().with_learning_rate(0.1).with_momentum(0.5);
    check(sgd.with_global_clipnorm(2.7), None, &SGD_GLOBAL_CLIPNORM, 1e-5);
    check(Sgd::<f32, Tiny<f32>>::new().with_momentum(0.9).with_nesterov(true), None, &SGD_NESTEROV, 1e-5);
}

#[test]
fn defaults_are_keras_defaults() {
    let sgd = Sgd::<f64, T64>::default();
    assert_eq!((sgd.learning_rate, sgd.momentum, sgd.nesterov), (0.01, 0.0, false));
    let rmsprop = RmsProp::<f64, T64>::default();
    assert_eq!(
        (rmsprop.learning_rate, rmsprop.rho, rmsprop.momentum, rmsprop.epsilon, rmsprop.centered),
        (0.001, 0.9, 0.0, 1e-7, false)
    );
    let adam = Adam::<f64, T64>::default();
    assert_eq!(
        (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad),
        (0.001, 0.9, 0.999, 1e-7, false)
    );
    for clip in [sgd.clip, rmsprop.clip, adam.clip] {
        assert_eq!(clip, Clip::none());
        assert!(clip.is_none());
    }
    assert_eq!(Optimizer::<f64, T64>::iterations(&adam), 0);
}

#[test]
fn clip_new_rejects_more_than_one() {
    assert_eq!(Clip::new(Some(1.0), None, None), Ok(Clip::clipnorm(1.0)));
    assert_eq!(Clip::new(None, Some(1.0), None), Ok(Clip::clipvalue(1.0)));
    assert_eq!(Clip::new(None, None, Some(1.0)), Ok(Clip::global_clipnorm(1.0)));
    assert_eq!(Clip::<f64>::new(None, None, None), Ok(Clip::none()));
    assert_eq!(Clip::new(Some(1.0), Some(1.0), None), Err(ClipError));
    assert_eq!(Clip::new(None, Some(1.0), Some(1.0)), Err(ClipError));
    // Keras counts `is not None`, so even a zero counts.
    assert_eq!(Clip::new(Some(0.0), None, Some(1.0)), Err(ClipError));
    let message = format!("{ClipError}");
    assert_eq!(message, "only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set");
}

#[test]
#[should_panic(expected = "only one of")]
fn builders_reject_a_second_clip() {
    let _ = Adam::<f64, T64>::new().with_clipnorm(1.0).with_clipvalue(0.5);
}

#[test]
fn builders_may_reset_the_same_clip() {
    let rmsprop = RmsProp::<f64, T64>::new().with_global_clipnorm(1.0).with_global_clipnorm(2.0);
    assert_eq!(rmsprop.clip, Clip::global_clipnorm(2.0));
}

#[test]
#[should_panic(expected = "momentum")]
fn sgd_momentum_out_of_range() {
    let _ = Sgd::<f64, T64>::new().with_momentum(1.5);
}

/// One SGD step with learning rate 1 from zero weights: the weights are
/// minus the clipped gradient.
fn clipped(clip: Clip<f64>, kernel_grad: [f64; 6], bias_grad: [f64; 3]) -> T64 {
    let mut model = T64::zeros();
    let mut sgd = Sgd::<f64, T64>::new().with_learning_rate(1.0).with_clip(clip);
    sgd.apply(&mut model, &tiny(kernel_grad, [5.0, 5.0], bias_grad));
    model
}

#[test]
fn clip_precedence_follows_keras() {
    let g = ([3.0, 0.0, 0.0, 0.0, 0.0, -4.0], [0.0, 0.0, 2.0]);
    // clipnorm first: kernel norm 5 → 1, bias norm 2 → 1.
    let all = Clip { clipnorm: Some(1.0), clipvalue: Some(0.1), global_clipnorm: Some(1.0) };
    let model = clipped(all, g.0, g.1);
    assert_eq!(model.kernel, [-0.6, 0.0, 0.0, 0.0, 0.0, 0.8]);
    assert_eq!(model.bias, [0.0, 0.0, -1.0]);
    // A non-positive clipnorm is off: global_clipnorm applies (norm sqrt 29).
    let global = Clip { clipnorm: Some(0.0), clipvalue: Some(0.1), global_clipnorm: Some(1.0) };
    let model = clipped(global, g.0, g.1);
    let scale = 1.0 * f64::min(1.0 / 29f64.sqrt(), 1.0);
    assert_eq!(model.kernel[0], -(3.0 * scale));
    assert_eq!(model.bias[2], -(2.0 * scale));
    // Then clipvalue.
    let value = Clip { clipnorm: None, clipvalue: Some(0.1), global_clipnorm: Some(-1.0) };
    let model = clipped(value, g.0, g.1);
    assert_eq!(model.kernel, [-0.1, 0.0, 0.0, 0.0, 0.0, 0.1]);
    assert_eq!(model.bias, [0.0, 0.0, -0.1]);
    // Nothing positive: no clipping.
    let off = Clip { clipnorm: Some(-1.0), clipvalue: Some(0.0), global_clipnorm: None };
    assert!(off.is_none());
    assert_eq!(clipped(off, g.0, g.1).kernel, [-3.0, 0.0, 0.0, 0.0, 0.0, 4.0]);
}

#[test]
fn clipping_zero_gradients_gives_zero() {
    for clip in [Clip::clipnorm(1.0), Clip::global_clipnorm(1.0), Clip::clipvalue(1.0)] {
        let model = clipped(clip, [0.0; 6], [0.0; 3]);
        assert_eq!(model, T64::zeros(), "{clip:?}");
    }
}

#[test]
fn global_clipnorm_of_an_infinite_norm_is_nan() {
    // Keras: `scale = clip * min(1/norm, 1/clip) + (norm - norm)`.
    let model = clipped(Clip::global_clipnorm(1.0), [f64::INFINITY, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0]);
    assert!(model.kernel.iter().chain(&model.bias).all(|x| x.is_nan()));
}

// Reference values: the kernel (row-major) then the bias after each of
// three steps, computed by Keras 3 itself with this script (Keras 3.15.1,
// JAX 0.10.2, JAX backend, float64; `repr` of the float64 results):
//
//   # KERAS_BACKEND=jax JAX_ENABLE_X64=1 python keras_optim_ref.py
//   import jax; jax.config.update("jax_enable_x64", True)
//   import numpy as np, keras
//   keras.config.set_floatx("float64")
//   KERNEL = [0.5, -0.3, 0.8, 0.1, 0.7, -0.6]; BIAS = [0.05, -0.02, 0.1]
//   GRADS = [([0.3, -1.2, 2.5, -0.4, 0.9, -3.1], [0.25, -0.5, 1.5]),
//            ([-0.7, 0.8, 1.1, 0.2, -1.6, 0.05], [-0.35, 0.6, -0.9]),
//            ([0.0, -0.2, 0.01, 1.3, -0.1, 2.2], [0.0, 0.02, -1.4])]
//   O = keras.optimizers
//   CASES = [("SGD", lambda: O.SGD(), None),
//       ("SGD_MOMENTUM", lambda: O.SGD(momentum=0.9), None),
//       ("SGD_NESTEROV", lambda: O.SGD(momentum=0.9, nesterov=True), None),
//       ("SGD_CLIPNORM", lambda: O.SGD(learning_rate=0.1, momentum=0.5, clipnorm=2.4), None),
//       ("SGD_CLIPVALUE", lambda: O.SGD(learning_rate=0.1, momentum=0.5, clipvalue=1.0), None),
//       ("SGD_GLOBAL_CLIPNORM", lambda: O.SGD(learning_rate=0.1, momentum=0.5, global_clipnorm=2.7), None),
//       ("SGD_SET_LR", lambda: O.SGD(momentum=0.9, nesterov=True), (0.05, 0.002)),
//       ("RMSPROP", lambda: O.RMSprop(), None),
//       ("RMSPROP_MOMENTUM", lambda: O.RMSprop(momentum=0.5), None),
//       ("RMSPROP_CENTERED", lambda: O.RMSprop(centered=True), None),
//       ("RMSPROP_CENTERED_MOMENTUM", lambda: O.RMSprop(learning_rate=0.01, rho=0.8,
//           momentum=0.3, epsilon=1e-3, centered=True), None),
//       ("RMSPROP_CLIPVALUE", lambda: O.RMSprop(clipvalue=0.5), None),
//       ("RMSPROP_SET_LR", lambda: O.RMSprop(momentum=0.5), (0.01, 0.0005)),
//       ("ADAM", lambda: O.Adam(), None),
//       ("ADAM_AMSGRAD", lambda: O.Adam(amsgrad=True), None),
//       ("ADAM_CUSTOM_AMSGRAD", lambda: O.Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.9,
//           epsilon=1e-4, amsgrad=True), None),
//       ("ADAM_CLIPNORM", lambda: O.Adam(learning_rate=0.01, epsilon=0.5, clipnorm=2.4), None),
//       ("ADAM_GLOBAL_CLIPNORM", lambda: O.Adam(learning_rate=0.01, epsilon=0.5,
//           global_clipnorm=2.7), None),
//       ("ADAM_SET_LR", lambda: O.Adam(), (0.01, 0.05))]
//   for name, factory, lrs in CASES:
//       k = keras.Variable(np.array(KERNEL).reshape(2, 3), dtype="float64")
//       b = keras.Variable(np.array(BIAS), dtype="float64")
//       opt = factory(); opt.build([k, b])
//       rows = []
//       for step, (gk, gb) in enumerate(GRADS):
//           if step > 0 and lrs is not None:
//               opt.learning_rate = lrs[step - 1]
//           opt.apply([np.array(gk).reshape(2, 3), np.array(gb)], [k, b])
//           rows.append(list(np.asarray(k.value).reshape(-1)) + list(np.asarray(b.value)))
//       print(name, [[repr(float(x)) for x in r] for r in rows])
const SGD: [[f64; 9]; 3] = [
    [0.497, -0.288, 0.775, 0.10400000000000001, 0.691, -0.569, 0.0475, -0.015, 0.085],
    [
        0.504,
        -0.296,
        0.764,
        0.10200000000000001,
        0.707,
        -0.5694999999999999,
        0.051000000000000004,
        -0.020999999999999998,
        0.094,
    ],
    [
        0.504,
        -0.294,
        0.7639,
        0.08900000000000001,
        0.708,
        -0.5914999999999999,
        0.051000000000000004,
        -0.021199999999999997,
        0.108,
    ],
];
const SGD_MOMENTUM: [[f64; 9]; 3] = [
    [0.497, -0.288, 0.775, 0.10400000000000001, 0.691, -0.569, 0.0475, -0.015, 0.085],
    [0.5013, -0.28519999999999995, 0.7415, 0.10560000000000001, 0.6989, -0.5416, 0.04875, -0.0165, 0.0805],
    [
        0.50517,
        -0.28067999999999993,
        0.71125,
        0.09404000000000001,
        0.7070099999999999,
        -0.53894,
        0.049875,
        -0.01805,
        0.09045,
    ],
];
const SGD_NESTEROV: [[f64; 9]; 3] = [
    [
        0.4943,
        -0.2772,
        0.7525000000000001,
        0.1076,
        0.6829,
        -0.5410999999999999,
        0.04525,
        -0.010499999999999999,
        0.07150000000000001,
    ],
    [
        0.50517,
        -0.28268,
        0.71135,
        0.10704,
        0.7060099999999999,
        -0.51694,
        0.049874999999999996,
        -0.017849999999999998,
        0.07645,
    ],
    [
        0.508653,
        -0.27661199999999997,
        0.684025,
        0.08363599999999999,
        0.7143089999999999,
        -0.536546,
        0.050887499999999995,
        -0.019444999999999997,
        0.09940500000000001,
    ],
];
const SGD_CLIPNORM: [[f64; 9]; 3] = [
    [
        0.4831966389916639,
        -0.23278655596665554,
        0.6599719915971991,
        0.12240448134444816,
        0.6495899169749916,
        -0.4263652695805268,
        0.025,
        0.030000000000000002,
        -0.05000000000000002,
    ],
    [
        0.5447949584874958,
        -0.2791798339499833,
        0.4799579873957986,
        0.11360672201667224,
        0.7843848754624874,
        -0.3445479043707902,
        0.0475,
        -0.004999999999999994,
        -0.035,
    ],
    [
        0.5755941182354117,
        -0.28366426691707153,
        0.38901537499386957,
        -0.012421496806957505,
        0.8611384577185232,
        -0.5094734880362541,
        0.05875,
        -0.02449999999999999,
        0.11249999999999999,
    ],
];
const SGD_CLIPVALUE: [[f64; 9]; 3] = [
    [0.47, -0.19999999999999998, 0.7000000000000001, 0.14, 0.61, -0.5, 0.025, 0.030000000000000002, 0.0],
    [
        0.5249999999999999,
        -0.22999999999999998,
        0.55,
        0.14,
        0.665,
        -0.455,
        0.0475,
        -0.004999999999999994,
        0.04000000000000001,
    ],
    [
        0.5524999999999999,
        -0.22499999999999998,
        0.47400000000000003,
        0.04000000000000001,
        0.7025,
        -0.5325,
        0.05875,
        -0.02449999999999999,
        0.16000000000000003,
    ],
];
const SGD_GLOBAL_CLIPNORM: [[f64; 9]; 3] = [
    [
        0.4822916445554343,
        -0.22916657822173697,
        0.6524303712952855,
        0.12361114059275434,
        0.6468749336663027,
        -0.4170136604061539,
        0.035243037129528546,
        0.009513925740942914,
        0.011458222777171262,
    ],
    [
        0.5434374668331514,
        -0.2737498673326055,
        0.4686455569429282,
        0.1154167108891315,
        0.780312400499454,
        -0.33052049060923083,
        0.0628645556942928,
        -0.03572911138858563,
        0.0571873341657569,
    ],
    [
        0.5740103779720099,
        -0.2775636332092423,
        0.3758292558328097,
        -0.008786715374863224,
        0.8562700732554285,
        -0.49053057117754106,
        0.07667531497667494,
        -0.060198417821229644,
        0.20939704061163172,
    ],
];
const SGD_SET_LR: [[f64; 9]; 3] = [
    [
        0.4943,
        -0.2772,
        0.7525000000000001,
        0.1076,
        0.6829,
        -0.5410999999999999,
        0.04525,
        -0.010499999999999999,
        0.07150000000000001,
    ],
    [
        0.55837,
        -0.34348,
        0.62775,
        0.09184,
        0.82761,
        -0.5207399999999999,
        0.07647499999999999,
        -0.06344999999999999,
        0.14485000000000003,
    ],
    [
        0.5845330000000001,
        -0.36637200000000003,
        0.564937,
        0.08171600000000001,
        0.8862289999999999,
        -0.5085259999999998,
        0.08882749999999999,
        -0.08418099999999999,
        0.17568500000000004,
    ],
];
const RMSPROP: [[f64; 9]; 3] = [
    [
        0.4968377399078944,
        -0.2968377234378441,
        0.7968377225928138,
        0.10316226777809702,
        0.696837724291853,
        -0.5968377225043622,
        0.04683774763774933,
        -0.016837728664367967,
        0.09683772304255976,
    ],
    [
        0.49976714616997203,
        -0.2986559047864543,
        0.7955071965059437,
        0.10168785222310661,
        0.6996276200713524,
        -0.5968914781736181,
        0.049455591887142,
        -0.01931842123590298,
        0.0985280312539025,
    ],
    [
        0.49976714616997203,
        -0.29818217871460606,
        0.7954944466311313,
        0.09866997857139612,
        0.6998111109122712,
        -0.5988493477224631,
        0.049455591887142,
        -0.019405550788556533,
        0.10061236618414239,
    ],
];
const RMSPROP_MOMENTUM: [[f64; 9]; 3] = [
    [
        0.4968377399078944,
        -0.2968377234378441,
        0.7968377225928138,
        0.10316226777809702,
        0.696837724291853,
        -0.5968377225043622,
        0.04683774763774933,
        -0.016837728664367967,
        0.09683772304255976,
    ],
    [
        0.4981860161239192,
        -0.2970747665053764,
        0.7939260578023506,
        0.10326898611215513,
        0.6980464822172789,
        -0.5953103394257991,
        0.04787446570601666,
        -0.017737285568086965,
        0.09694689277518237,
    ],
    [
        0.49886015423193164,
        -0.29671956196729427,
        0.7924574755323066,
        0.10030447162747369,
        0.6988343520209107,
        -0.5965045174353626,
        0.048392824740150324,
        -0.018274193572600017,
        0.09908581257173357,
    ],
];
const RMSPROP_CENTERED: [[f64; 9]; 3] = [
    [
        0.4966666872426078,
        -0.29666666795267416,
        0.796666666962963,
        0.10333332175931954,
        0.6966666689529011,
        -0.5966666668593671,
        0.04666669629590124,
        -0.016666674074049384,
        0.09666666748971163,
    ],
    [
        0.4996447070059904,
        -0.2984885419600497,
        0.7952113082922758,
        0.10184854117367992,
        0.6994834171409273,
        -0.5967229186163391,
        0.0492960576686858,
        -0.01915215100551376,
        0.09836304504773444,
    ],
    [
        0.4996447070059904,
        -0.2980120773297819,
        0.7951974892530512,
        0.09871575401677143,
        0.699668974038119,
        -0.5986813369748436,
        0.0492960576686858,
        -0.019239479881508228,
        0.1004706332085507,
    ],
];
const RMSPROP_CENTERED_MOMENTUM: [[f64; 9]; 3] = [
    [
        0.4758253110792386,
        -0.2750540775022181,
        0.7750124906328058,
        0.12452557357939864,
        0.6750958960189382,
        -0.5750081255893198,
        0.026163435268860197,
        0.004693239916239742,
        0.07503465005130228,
    ],
    [
        0.490181960018481,
        -0.2809338102949312,
        0.7556449661716143,
        0.12104054892134065,
        0.6880833501870053,
        -0.5679486032916825,
        0.03782858241948472,
        -0.005875433640247733,
        0.0800330061541435,
    ],
    [
        0.4944889547002538,
        -0.27899286142295227,
        0.7497189773941162,
        0.09656668737819725,
        0.6934075411227606,
        -0.5806737447232642,
        0.04132812656467207,
        -0.009714995634149121,
        0.09762578531126526,
    ],
];
const RMSPROP_CLIPVALUE: [[f64; 9]; 3] = [
    [
        0.4968377399078944,
        -0.296837728664368,
        0.796837728664368,
        0.10316226777809702,
        0.6968377286643679,
        -0.5968377286643679,
        0.04683774763774933,
        -0.016837728664367967,
        0.09683772866436798,
    ],
    [
        0.49958598430611756,
        -0.29913188358817494,
        0.794543573740561,
        0.10168785222310661,
        0.6991318835881749,
        -0.5971692247078719,
        0.049455591887142,
        -0.019131883588174935,
        0.09913188358817494,
    ],
    [
        0.49958598430611756,
        -0.2982068899973466,
        0.7944952143695103,
        0.09923522405142131,
        0.6996099744855194,
        -0.5995139025160491,
        0.049455591887142,
        -0.019228568419733586,
        0.1010528290464918,
    ],
];
const RMSPROP_SET_LR: [[f64; 9]; 3] = [
    [
        0.4968377399078944,
        -0.2968377234378441,
        0.7968377225928138,
        0.10316226777809702,
        0.696837724291853,
        -0.5968377225043622,
        0.04683774763774933,
        -0.016837728664367967,
        0.09683772304255976,
    ],
    [
        0.5245506724826176,
        -0.31343839864286865,
        0.7819513230205191,
        0.08999924611724146,
        0.7231555442327737,
        -0.5957941404491025,
        0.07143506395055065,
        -0.0400635187119021,
        0.11215966667726701,
    ],
    [
        0.5384071387699791,
        -0.3215018732094568,
        0.7745017482969655,
        0.08190879846095843,
        0.7364061996236935,
        -0.5962512841958951,
        0.0837337221069513,
        -0.05171997851199594,
        0.12086280595974058,
    ],
];
const ADAM: [[f64; 9]; 3] = [
    [
        0.49900001054081444,
        -0.2990000026352244,
        0.7990000012649096,
        0.10099999209436836,
        0.6990000035136295,
        -0.5990000010200885,
        0.049000012648950646,
        -0.01900000632451532,
        0.09900000210818066,
    ],
    [
        0.4994201941908244,
        -0.2988554824224992,
        0.7980869194593605,
        0.10126632725000105,
        0.6993202736079513,
        -0.5983420373132105,
        0.04921630796977892,
        -0.019142950476286613,
        0.09880850441926138,
    ],
    [
        0.49974499736943045,
        -0.2986570080618271,
        0.7973787683215029,
        0.10072912053466239,
        0.6996022446873205,
        -0.5982973100008133,
        0.04938350487905526,
        -0.019269774900049427,
        0.0990923449940927,
    ],
];
const ADAM_AMSGRAD: [[f64; 9]; 3] = [
    [
        0.49900001054081444,
        -0.2990000026352244,
        0.7990000012649096,
        0.10099999209436836,
        0.6990000035136295,
        -0.5990000010200885,
        0.049000012648950646,
        -0.01900000632451532,
        0.09900000210818066,
    ],
    [
        0.4994201941908244,
        -0.2988554824224992,
        0.7980869194593605,
        0.10126632725000105,
        0.6993202736079513,
        -0.5983422807566435,
        0.04921630796977892,
        -0.019142950476286613,
        0.09880850441926138,
    ],
    [
        0.49974483492789495,
        -0.2986570080618271,
        0.7973791177325682,
        0.10072912053466239,
        0.6996022446873205,
        -0.5982975534442464,
        0.049383421260305434,
        -0.019269753084876634,
        0.0990923449940927,
    ],
];
const ADAM_CUSTOM_AMSGRAD: [[f64; 9]; 3] = [
    [
        0.4900105298261226,
        -0.290002634537122,
        0.7900012647510843,
        0.10999210055091244,
        0.6900035124077103,
        -0.5900010199855201,
        0.04001263313085369,
        -0.01000632055784856,
        0.09000210774075601,
    ],
    [
        0.4946702771154459,
        -0.289122248979589,
        0.780922135432696,
        0.1121328043595175,
        0.6937186877025708,
        -0.5839989013472126,
        0.04272749549361447,
        -0.012007918456609796,
        0.08863794098917657,
    ],
    [
        0.49795457752967154,
        -0.2875321751335476,
        0.7744971465727948,
        0.10617099181037956,
        0.6967091835963579,
        -0.5844849247980223,
        0.044640994880804544,
        -0.013595038841005245,
        0.09232200929718393,
    ],
];
const ADAM_CLIPNORM: [[f64; 9]; 3] = [
    [
        0.4998948437490292,
        -0.29959223859433004,
        0.7991864355896731,
        0.10013971859185075,
        0.699691029287446,
        -0.5990105006461937,
        0.04984434720379253,
        -0.019693465699682847,
        0.09913351836725479,
    ],
    [
        0.5001418666136447,
        -0.2996783592995254,
        0.7981880274056357,
        0.10014047620074384,
        0.700178774984252,
        -0.598369007825195,
        0.04990161869530867,
        -0.019760738373351513,
        0.09894282304465805,
    ],
    [
        0.5003327246619346,
        -0.2996739858770196,
        0.797413205287337,
        0.09968569736030963,
        0.7005897486359403,
        -0.5986096039345441,
        0.049945868169159524,
        -0.019820414963529112,
        0.09929495240951561,
    ],
];
const ADAM_GLOBAL_CLIPNORM: [[f64; 9]; 3] = [
    [
        0.4998892429770347,
        -0.2995712190583201,
        0.7991463590754447,
        0.10014713283080974,
        0.6996749296949523,
        -0.5989627360759937,
        0.049907531789132986,
        -0.01981675798439979,
        0.09946970829729146,
    ],
    [
        0.5001325676280078,
        -0.2996428564828122,
        0.7981227222044599,
        0.10015290298341273,
        0.7001520507667474,
        -0.598289138387388,
        0.05000734966430038,
        -0.019967741447184755,
        0.09951465392412304,
    ],
    [
        0.500320568325698,
        -0.29962828817563825,
        0.7973284596807051,
        0.09970715736072738,
        0.7005543743650394,
        -0.5984942202139931,
        0.05008447148648369,
        -0.02009155690480617,
        0.10001729507402565,
    ],
];
const ADAM_SET_LR: [[f64; 9]; 3] = [
    [
        0.49900001054081444,
        -0.2990000026352244,
        0.7990000012649096,
        0.10099999209436836,
        0.6990000035136295,
        -0.5990000010200885,
        0.049000012648950646,
        -0.01900000632451532,
        0.09900000210818066,
    ],
    [
        0.503201847040914,
        -0.29755480050797245,
        0.7898691832094188,
        0.10366334365069528,
        0.7022027044568486,
        -0.5924203639513071,
        0.05116296585723333,
        -0.020429447842228242,
        0.09708502521898783,
    ],
    [
        0.5194420059712156,
        -0.2876310824743662,
        0.7544616263165385,
        0.07680300788376233,
        0.7163012584253028,
        -0.5901839983314491,
        0.05952281132105041,
        -0.02677066903036894,
        0.11127705396055383,
    ],
];
