//! The functional API as Keras code writes it: layer objects called later
//! (shared weights), `let model = Model(…)` with `model.compile(…)`, and
//! sub-models called like layers; the seed's three models pasted in Keras's
//! own form (quotes doubled, `let` and `;` added, nothing else changed).

use approx::assert_relative_eq;
use staticnet::nalgebra::SVector;
use staticnet::Network;

mod pasted {
    // input_tensor = Input(shape=(64,))
    // dense = layers.Dense(32, activation='relu')
    // ...
    staticnet::network! {
        pub struct SeedMlp {
            let input_tensor = Input(shape=(64,));
            let dense = layers.Dense(32, activation="relu");
            let x = dense(input_tensor);
            let x = layers.Dense(32, activation="relu")(x);
            let output_tensor = layers.Dense(10, activation="softmax")(x);
            let model = Model(input_tensor, output_tensor);
            model.summary();
            model.compile(optimizer="rmsprop", loss="categorical_crossentropy");
        }
    }

    staticnet::network! {
        pub struct SeedQa {
            let text_input = Input(shape=(40,), name="text");
            let encoded_text = layers.Dense(32, activation="relu")(text_input);
            let question_input = Input(shape=(24,), name="question");
            let encoded_question = layers.Dense(16, activation="relu")(question_input);
            let concatenated = layers.concatenate([encoded_text, encoded_question], axis=-1);
            let answer = layers.Dense(10, activation="softmax")(concatenated);
            let model = Model([text_input, question_input], answer);
            model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["acc"]);
        }
    }

    staticnet::network! {
        pub struct SeedPosts {
            let posts_input = Input(shape=(256,), name="posts");
            let x = layers.Dense(64, activation="relu")(posts_input);
            let age_prediction = layers.Dense(1, name="age")(x);
            let income_prediction = layers.Dense(10, activation="softmax", name="income")(x);
            let gender_prediction = layers.Dense(1, activation="sigmoid", name="gender")(x);
            let model = Model(posts_input, [age_prediction, income_prediction, gender_prediction]);
            model.compile(optimizer="rmsprop",
                          loss={"age": "mse", "income": "categorical_crossentropy", "gender": "binary_crossentropy"},
                          loss_weights={"age": 0.25, "income": 1., "gender": 10.});
        }
    }
}

#[test]
fn the_seed_models_pasted_from_keras_compile_and_train() {
    use pasted::*;
    let mut mlp = SeedMlp::<f32>::new(1);
    let x = staticnet::nalgebra::SMatrix::<f32, 64, 4>::from_fn(|i, j| ((i * 7 + j * 3) % 11) as f32 / 11.0);
    let y = staticnet::nalgebra::SMatrix::<f32, 10, 4>::from_fn(|i, j| if i == j { 1.0 } else { 0.0 });
    let mut optimizer = SeedMlp::<f32>::optimizer();
    let first = mlp.train_step::<4>(&mut optimizer, &x, &y).total;
    for _ in 0..20 {
        mlp.train_step::<4>(&mut optimizer, &x, &y);
    }
    assert!(mlp.train_step::<4>(&mut optimizer, &x, &y).total < first);
    assert_eq!(SeedMlp::<f32>::PARAM_COUNT, 64 * 32 + 32 + 32 * 32 + 32 + 330);

    let qa = SeedQa::<f32>::new(2);
    let answer = qa.forward(&SVector::from_element(0.5), &SVector::from_element(-0.5));
    assert_relative_eq!(answer.sum(), 1.0, epsilon = 1e-5);
    assert_eq!(SeedQa::<f32>::INPUT_NAMES, ["text_input", "question_input"]);

    let posts = SeedPosts::<f32>::new(3);
    let out = posts.forward(&SVector::from_element(0.1));
    assert_relative_eq!(out.income.sum(), 1.0, epsilon = 1e-5);
    let weights: Vec<f64> = SeedPosts::<f32>::HEADS.iter().map(|h| h.loss_weight).collect();
    assert_eq!(weights, [0.25, 1.0, 10.0]);
}

staticnet::network! {
    /// Two inputs through one `Dense`: a siamese pair.
    pub struct Siamese {
        let left = Input(8);
        let right = Input(8);
        let shared = Dense(6, activation = relu, name = "shared");
        let a = shared(left);
        let b = shared(right);
        let d = subtract([a, b]);
        let same = Dense(1, activation = sigmoid, name = "same")(d);
        let model = Model([left, right], same);
        model.compile(optimizer = "adam", loss = "binary_crossentropy");
    }
}

#[test]
fn a_shared_layer_applies_one_set_of_weights_to_each_input() {
    let model = Siamese::<f64>::new(4);
    let (l, r) =
        (SVector::<f64, 8>::from_fn(|i, _| i as f64 / 8.0), SVector::<f64, 8>::from_fn(|i, _| 1.0 - i as f64 / 5.0));
    let dense = |x: &SVector<f64, 8>| (model.shared.kernel * x + model.shared.bias).map(|v| v.max(0.0));
    let z = model.same.kernel * (dense(&l) - dense(&r)) + model.same.bias;
    let want = 1.0 / (1.0 + (-z[0]).exp());
    assert_relative_eq!(model.forward(&l, &r)[0], want, epsilon = 1e-12);
    // listed once, connected to both inputs, as Keras lists it
    let summary = Siamese::<f64>::summary().to_string();
    assert_eq!(summary.matches("shared (Dense)").count(), 1, "{summary}");
    assert!(
        summary.contains("input_layer, input_layer_1") || summary.contains("input_layer[0][0], input_layer_1[0][0]"),
        "{summary}"
    );
    assert_eq!(Siamese::<f64>::TENSORS.len(), 4);
    assert_eq!(Siamese::<f64>::PARAM_COUNT, 8 * 6 + 6 + 6 + 1);
}

staticnet::network! {
    /// A network of its own.
    pub struct Encoder {
        let x = Input(8);
        let h = Dense(6, activation = relu, name = "hidden")(x);
        let n = BatchNormalization(name = "norm")(h);
        let code = Dense(4, name = "code")(n);
        Model(x, code);
    }
}

staticnet::network! {
    /// `Encoder`'s struct called as a layer: its weights are the field
    /// `encoder`, trained with the rest.
    pub struct Classifier {
        let x = Input(8);
        let code = Encoder(x);
        let out = Dense(3, activation = softmax, name = "out")(code);
        Model(x, out);
        compile(optimizer = adam, loss = categorical_crossentropy);
    }
}

#[test]
fn a_network_called_as_a_layer_is_a_field_trained_with_the_rest() {
    let mut model = Classifier::<f64>::new(5);
    let x = SVector::<f64, 8>::from_fn(|i, _| (i as f64 * 0.7).sin());
    let code = model.encoder.forward(&x);
    let want = model.out.kernel * code + model.out.bias;
    let want = want.map(f64::exp) / want.map(f64::exp).sum();
    assert_relative_eq!(model.forward(&x), want, epsilon = 1e-12);
    assert_eq!(Classifier::<f64>::PARAM_COUNT, Encoder::<f64>::PARAM_COUNT + 4 * 3 + 3);
    assert_eq!(Classifier::<f64>::TENSORS[0].name, "encoder.hidden.kernel");
    let summary = Classifier::<f64>::summary().to_string();
    assert!(summary.contains("encoder (Encoder)"), "{summary}");

    // training moves the inner network's weights and its moving statistics
    let batch = staticnet::nalgebra::SMatrix::<f64, 8, 4>::from_fn(|i, j| ((i + 3 * j) as f64 * 0.37).cos());
    let labels = staticnet::nalgebra::SMatrix::<f64, 3, 4>::from_fn(|i, j| if i == j % 3 { 1.0 } else { 0.0 });
    let before = model.clone();
    let mut optimizer = Classifier::<f64>::optimizer();
    let first = model.train_step::<4>(&mut optimizer, &batch, &labels).total;
    for _ in 0..30 {
        model.train_step::<4>(&mut optimizer, &batch, &labels);
    }
    assert!(model.train_step::<4>(&mut optimizer, &batch, &labels).total < first);
    assert_ne!(model.encoder.hidden.kernel, before.encoder.hidden.kernel);
    assert_ne!(model.encoder.norm.moving_mean, before.encoder.norm.moving_mean);
    // the batch pass agrees with the one-sample pass
    let out = model.forward_batch::<4>(&batch);
    for j in 0..4 {
        let one = model.forward(&batch.column(j).into_owned());
        assert_relative_eq!(out.column(j).into_owned(), one, epsilon = 1e-12);
    }
}
