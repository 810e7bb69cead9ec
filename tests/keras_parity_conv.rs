//! Parity with Keras (f64, JAX; tools/keras_fixtures.py) on the
//! convolutional cases: batch outputs in inference mode, the one-sample
//! `forward`, losses, gradients, and three steps of each model's own
//! optimizer (moving statistics included), in f64 and in f32.

mod common;
#[path = "common/parity.rs"]
#[macro_use]
mod parity;

use common::*;
use parity::*;
use staticnet::Scalar;

mod conv1d_sensor {
    use super::*;

    fixture_network! {
        pub struct Conv1dSensor {
            let imu = Input(shape = (32, 3));
            let x = Conv1D(8, 3, padding = "causal", dilation_rate = 2, activation = relu, name = "c1")(imu);
            let x = Conv1D(8, 3, strides = 2, padding = "same", activation = relu, name = "c2")(x);
            let x = MaxPooling1D(2, name = "pool")(x);
            let x = Conv1D(12, 3, padding = "valid", name = "c3")(x);
            let x = AveragePooling1D(3, strides = 2, padding = "same", name = "avg")(x);
            let a = GlobalAveragePooling1D(name = "gap")(x);
            let activity = Dense(4, activation = softmax, name = "activity")(a);
            let m = GlobalMaxPooling1D(name = "gmp")(x);
            let level = Dense(1, name = "level")(m);
            Model(imu, [activity, level]);
            compile(
                optimizer = adam,
                loss = [sparse_categorical_crossentropy, mse],
                loss_weights = [1.0, 0.5],
            );
        }
    }

    fn run<T: Scalar>() {
        let (f, model) = check::<T, Conv1dSensor<T>, _>("conv1d_sensor", NETWORK_TEXT, Conv1dSensor::<T>::optimizer());
        for s in 0..8 {
            let out = model.forward(&sample::<T, 96>(&f, "imu", s));
            assert_close("forward activity", out.activity.as_slice(), expected(&f, "activity", s, 4));
            assert_close("forward level", out.level.as_slice(), expected(&f, "level", s, 1));
        }
        // The contract's batch methods on the same fixture.
        let x = f.matrix::<T, 96, 8>("input/imu");
        let out = model.forward_batch::<8>(&x);
        assert_close("forward_batch", out.activity.as_slice(), f.get("expect/output/activity"));
        let (activity, level) = (f.matrix::<T, 1, 8>("target/activity"), f.matrix::<T, 1, 8>("target/level"));
        let mut trained = model.clone();
        let mut optimizer = Conv1dSensor::<T>::optimizer();
        for step in 0..3 {
            let losses = trained.train_step::<8>(&mut optimizer, &x, &activity, &level);
            assert_scalar_close(
                &format!("train_step {step}"),
                losses.total,
                f.scalar(&format!("expect/step_loss/{step}")),
            );
        }
        assert_params(&f, "expect/step3/", &trained, false);
    }

    precision_tests!(run);
}

mod kws_dscnn {
    use super::*;

    fixture_network! {
        pub struct KwsDscnn {
            let mfcc = Input(shape = (49, 10, 1));
            let x = Conv2D(16, (10, 4), strides = (2, 2), padding = "same", use_bias = false, name = "conv0")(mfcc);
            let x = BatchNormalization(name = "bn0")(x);
            let x = Activation(relu, name = "relu0")(x);
            let x = DepthwiseConv2D((3, 3), padding = "same", use_bias = false, name = "dw1")(x);
            let x = BatchNormalization(name = "bn_dw1")(x);
            let x = Activation(relu, name = "relu_dw1")(x);
            let x = Conv2D(16, (1, 1), use_bias = false, name = "pw1")(x);
            let x = BatchNormalization(name = "bn_pw1")(x);
            let x = Activation(relu, name = "relu_pw1")(x);
            let x = DepthwiseConv2D((3, 3), padding = "same", use_bias = false, name = "dw2")(x);
            let x = BatchNormalization(name = "bn_dw2")(x);
            let x = Activation(relu, name = "relu_dw2")(x);
            let x = Conv2D(16, (1, 1), use_bias = false, name = "pw2")(x);
            let x = BatchNormalization(name = "bn_pw2")(x);
            let x = Activation(relu, name = "relu_pw2")(x);
            let x = SeparableConv2D(16, (3, 3), padding = "same", activation = relu, name = "sep")(x);
            let x = GlobalAveragePooling2D(name = "gap")(x);
            let fc = Dense(12, activation = softmax, name = "fc")(x);
            Model(mfcc, fc);
            compile(optimizer = rmsprop, loss = categorical_crossentropy);
        }
    }

    fn run<T: Scalar>() {
        let (f, model) = check::<T, KwsDscnn<T>, _>("kws_dscnn", NETWORK_TEXT, KwsDscnn::<T>::optimizer());
        for s in 0..8 {
            let out = model.forward(&sample::<T, 490>(&f, "mfcc", s));
            assert_close("forward", out.as_slice(), expected(&f, "fc", s, 12));
        }
    }

    precision_tests!(run);
}

mod residual_image {
    use super::*;

    fixture_network! {
        pub struct ResidualImage {
            let image = Input(shape = (8, 8, 2));
            let padded = ZeroPadding2D(((1, 2), (2, 1)), name = "pad")(image);
            let x = Conv2D(6, (3, 3), strides = (1, 1), padding = "valid", activation = relu, name = "c1")(padded);
            let x = Conv2D(6, (3, 3), padding = "same", dilation_rate = (2, 2), name = "c2")(x);
            let shortcut = Conv2D(6, (3, 3), padding = "valid", use_bias = false, name = "proj")(padded);
            let x = add([x, shortcut], name = "skip");
            let x = Activation(relu, name = "relu")(x);
            let x = MaxPooling2D((2, 2), padding = "same", name = "max")(x);
            let x = AveragePooling2D((2, 2), strides = (1, 1), padding = "valid", name = "avg")(x);
            let x = DepthwiseConv2D((2, 2), depth_multiplier = 2, name = "dw")(x);
            let x = Flatten(name = "flat")(x);
            let x = Dense(10, activation = relu, name = "hidden")(x);
            let x = Reshape((5, 2), name = "fold")(x);
            let x = Flatten(name = "flat_1")(x);
            let out = Dense(3, activation = softmax, name = "out")(x);
            Model(image, out);
            compile(optimizer = SGD(learning_rate = 0.05, momentum = 0.9), loss = categorical_crossentropy);
        }
    }

    fn run<T: Scalar>() {
        let (f, model) =
            check::<T, ResidualImage<T>, _>("residual_image", NETWORK_TEXT, ResidualImage::<T>::optimizer());
        for s in 0..8 {
            let out = model.forward(&sample::<T, 128>(&f, "image", s));
            assert_close("forward", out.as_slice(), expected(&f, "out", s, 3));
        }
    }

    precision_tests!(run);
}

mod image_branches {
    use super::*;

    fixture_network! {
        pub struct ImageBranches {
            let image = Input(shape = (16, 15, 3));
            let t = Conv2D(6, (3, 3), strides = (2, 3), padding = "valid", activation = elu, name = "strided")(image);
            let d = Conv2D(4, (3, 3), padding = "same", dilation_rate = (2, 1), activation = sigmoid, use_bias = false, name = "dilated")(t);
            let p = Conv2D(3, (1, 1), name = "point")(t);
            let c = concatenate([d, p], axis = -1, name = "cat");
            let x = AveragePooling2D((3, 3), strides = (2, 2), padding = "same", name = "avg")(c);
            let x = SeparableConv2D(8, (3, 3), strides = (2, 2), padding = "same", depth_multiplier = 2, name = "sep")(x);
            let x = GlobalMaxPooling2D(name = "gmp")(x);
            let cls = Dense(5, activation = softmax, name = "cls")(x);
            let y = MaxPooling2D((3, 3), strides = (2, 1), padding = "valid", name = "max")(c);
            let y = Reshape((3, -1), name = "rows")(y);
            let y = GlobalAveragePooling1D(name = "row_mean")(y);
            let score = Dense(1, name = "score")(y);
            Model(image, [cls, score]);
            compile(
                optimizer = RMSprop(learning_rate = 0.01),
                loss = [categorical_crossentropy, mse],
                loss_weights = [1.0, 2.0],
            );
        }
    }

    fn run<T: Scalar>() {
        let (f, model) =
            check::<T, ImageBranches<T>, _>("image_branches", NETWORK_TEXT, ImageBranches::<T>::optimizer());
        for s in 0..8 {
            let out = model.forward(&sample::<T, 720>(&f, "image", s));
            assert_close("forward cls", out.cls.as_slice(), expected(&f, "cls", s, 5));
            assert_close("forward score", out.score.as_slice(), expected(&f, "score", s, 1));
        }
    }

    precision_tests!(run);
}

mod signal_branches {
    use super::*;

    fixture_network! {
        pub struct SignalBranches {
            let signal = Input(shape = (30, 4));
            let x = ZeroPadding1D((2, 1), name = "pad")(signal);
            let x = Conv1D(6, 3, dilation_rate = 3, padding = "valid", use_bias = false, name = "dilated")(x);
            let x = MaxPooling1D(3, strides = 2, padding = "valid", name = "max")(x);
            let a = Conv1D(4, 2, padding = "same", activation = relu, name = "wide")(x);
            let b = Conv1D(3, 5, padding = "causal", activation = elu, name = "causal")(x);
            let x = concatenate([a, b], name = "cat");
            let x = AveragePooling1D(2, strides = 3, padding = "valid", name = "avg")(x);
            let x = Flatten(name = "flat")(x);
            let out = Dense(3, activation = softmax, name = "out")(x);
            Model(signal, out);
            compile(optimizer = Adam(learning_rate = 0.005), loss = sparse_categorical_crossentropy);
        }
    }

    fn run<T: Scalar>() {
        let (f, model) =
            check::<T, SignalBranches<T>, _>("signal_branches", NETWORK_TEXT, SignalBranches::<T>::optimizer());
        for s in 0..8 {
            let out = model.forward(&sample::<T, 120>(&f, "signal", s));
            assert_close("forward", out.as_slice(), expected(&f, "out", s, 3));
        }
    }

    precision_tests!(run);
}
