//! The macro never panics: a seeded, deterministic property test that feeds
//! generated programs and mutated seed models through the whole pipeline
//! (parse → check → expand, or the errors and the placeholder) as a library,
//! and checks that the output is always well-formed Rust items.
//!
//! `STATICNET_FUZZ_CASES` sets the number of cases (default 3000, a few
//! seconds; `STATICNET_FUZZ_CASES=1000000` for a long run) and
//! `STATICNET_FUZZ_SEED` the seed (default fixed, so CI is deterministic).

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// xorshift64*: small, fast, and good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn word(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }
}

/// Valid models covering the language: every layer, merge form, `Input`
/// form, `loss` form and optimizer form.
const SEEDS: &[&str] = &[
    r#"pub struct SeedMlp {
        let input_tensor = Input(64);
        let x = Dense(32, activation = relu)(input_tensor);
        let x = Dense(32, activation = relu)(x);
        let output_tensor = Dense(10, activation = softmax)(x);
        Model(input_tensor, output_tensor);
        compile(optimizer = rmsprop, loss = categorical_crossentropy);
    }"#,
    r#"/// Predicts age, income bracket and gender from a post embedding.
    pub struct Posts {
        let posts = Input(256);
        let x = Dense(64, activation = relu)(posts);
        let age = Dense(1, name = "age")(x);
        let income = Dense(10, activation = softmax, name = "income")(x);
        let gender = Dense(1, activation = sigmoid, name = "gender")(x);
        Model(posts, [age, income, gender]);
        compile(
            optimizer = rmsprop,
            loss = [mse, categorical_crossentropy, binary_crossentropy],
            loss_weights = [0.25, 1.0, 10.0],
            metrics = [accuracy],
        );
    }"#,
    r#"pub struct QuestionAnswer {
        let text = Input(shape = (40,), name = "text");
        let question = Input(24);
        let encoded_text = keras.layers.Dense(32, activation = "relu")(text);
        let encoded_question = layers.Dense(16, activation = relu, use_bias = false)(question);
        let merged = concatenate([encoded_text, encoded_question], axis = -1);
        let d = Dropout(0.25, seed = 3)(merged);
        let n = LayerNormalization(epsilon = 0.001)(d);
        let b = BatchNormalization(momentum = 0.9)(n);
        let s = Add()([b, merged]);
        let m = maximum([s, b, n]);
        let q = Dense(48)(question);
        let p = dot([m, q], axes = 1, normalize = true);
        let answer = Dense(5, activation = softmax, name = "answer")(m);
        let score = Activation(sigmoid, name = "score")(p);
        Model(inputs = [text, question], outputs = [answer, score], name = "qa");
        compile(
            optimizer = Adam(learning_rate = 0.01, beta_1 = 0.8, amsgrad = false),
            loss = { answer: SparseCategoricalCrossentropy(from_logits = false), score: "binary_crossentropy" },
            loss_weights = { answer: 1.0, score: 0.5 },
            metrics = { answer: [accuracy], score: [acc, mae] },
        );
    }"#,
    r#"pub(crate) struct Small {
        let a = Input(3);
        let b = Input(3);
        let c = subtract([a, b]);
        let d = multiply([c, a]);
        let e = average([d, b]);
        let f = minimum([e, a]);
        let g = Dense(2, activation = leaky_relu)(f);
        let h = Dense(1, activation = None)(g);
        Model([a, b], h);
        compile(optimizer = SGD(learning_rate = 0.1, momentum = 0.9, nesterov = true), loss = Huber(), metrics = mse);
    }"#,
    r#"struct NoCompile {
        let x = Input([7]);
        let y = Activation("tanh")(x);
        let z = Dense(units = 2, activation = activations.gelu)(y);
        Model(x, z);
    }"#,
];

const IDENTS: &[&str] = &[
    "Input",
    "Dense",
    "Activation",
    "Dropout",
    "LayerNormalization",
    "BatchNormalization",
    "Concatenate",
    "Add",
    "Dot",
    "concatenate",
    "add",
    "subtract",
    "dot",
    "maximum",
    "Model",
    "Functional",
    "compile",
    "let",
    "struct",
    "pub",
    "self",
    "Self",
    "crate",
    "super",
    "_",
    "B",
    "T",
    "grads",
    "optimizer",
    "total",
    "relu",
    "softmax",
    "sigmoid",
    "linear",
    "None",
    "mse",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_crossentropy",
    "Huber",
    "rmsprop",
    "adam",
    "SGD",
    "RMSprop",
    "accuracy",
    "units",
    "activation",
    "name",
    "shape",
    "axis",
    "axes",
    "rate",
    "loss",
    "loss_weights",
    "metrics",
    "inputs",
    "outputs",
    "from_logits",
    "learning_rate",
    "true",
    "false",
    "True",
    "keras",
    "layers",
    "x",
    "y",
    "z",
    "age",
    "age_target",
    "__sn_o0",
    "type",
    "fn",
    "r#type",
    "r#x",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "-1",
    "16777216",
    "16777217",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "0.0",
    "0.5",
    "1.0",
    "1.5",
    "-0.5",
    "1e308",
    "1e309",
    "1e-400",
    "3u8",
    "2.5f32",
    "0x10",
    "0b11",
    "1_000",
    "9223372036854775807",
    "-9223372036854775808",
];

const STRINGS: &[&str] = &[
    "\"\"",
    "\"relu\"",
    "\"total\"",
    "\"a b\"",
    "\"type\"",
    "\"self\"",
    "\"dense\"",
    "\"age\"",
    "\"1x\"",
    "\"__sn_x\"",
    "\"_\"",
    "\"é\"",
    "\"mse\"",
    "\"x_target\"",
];

const PUNCTS: &[char] = &[';', ',', '=', '-', '.', ':', '#', '<', '>', '!', '&', '*'];

fn lex(s: &str) -> TokenStream {
    s.parse().expect("the fuzz vocabulary lexes")
}

fn random_leaf(rng: &mut Rng) -> TokenTree {
    match rng.below(5) {
        0 => TokenTree::Punct(Punct::new(*rng.pick(PUNCTS), Spacing::Alone)),
        1 => lex(rng.word(NUMBERS)).into_iter().last().unwrap_or_else(|| TokenTree::Literal(Literal::u8_unsuffixed(1))),
        2 => lex(rng.word(STRINGS)).into_iter().next().unwrap_or_else(|| TokenTree::Literal(Literal::string(""))),
        3 => {
            let d = *rng.pick(&[Delimiter::Parenthesis, Delimiter::Bracket, Delimiter::Brace, Delimiter::None]);
            TokenTree::Group(Group::new(d, TokenStream::new()))
        }
        _ => ident_tree(rng.word(IDENTS)),
    }
}

fn ident_tree(s: &str) -> TokenTree {
    match s.strip_prefix("r#") {
        Some(raw) => TokenTree::Ident(Ident::new_raw(raw, Span::call_site())),
        None => TokenTree::Ident(Ident::new(s, Span::call_site())),
    }
}

/// One random edit of `tokens`, at a random depth.
fn mutate(rng: &mut Rng, tokens: TokenStream, depth: usize) -> TokenStream {
    let mut v: Vec<TokenTree> = tokens.into_iter().collect();
    let groups: Vec<usize> = (0..v.len()).filter(|&k| matches!(v[k], TokenTree::Group(_))).collect();
    // descend into a group most of the time
    if !groups.is_empty() && depth < 8 && rng.chance(70) {
        let k = *rng.pick(&groups);
        if let TokenTree::Group(g) = &v[k] {
            let inner = mutate(rng, g.stream(), depth + 1);
            let mut ng = Group::new(g.delimiter(), inner);
            ng.set_span(g.span());
            v[k] = TokenTree::Group(ng);
        }
        return v.into_iter().collect();
    }
    let n = v.len();
    match rng.below(9) {
        0 if n > 0 => {
            v.remove(rng.below(n));
        }
        1 if n > 0 => {
            let k = rng.below(n);
            let t = v[k].clone();
            v.insert(k, t);
        }
        2 if n > 1 => {
            let k = rng.below(n - 1);
            v.swap(k, k + 1);
        }
        3 => {
            let lits: Vec<usize> = (0..n).filter(|&k| matches!(v[k], TokenTree::Literal(_))).collect();
            if !lits.is_empty() {
                let k = *rng.pick(&lits);
                let new: Vec<TokenTree> = lex(rng.word(NUMBERS)).into_iter().collect();
                v.splice(k..=k, new);
            }
        }
        4 => {
            let ids: Vec<usize> = (0..n).filter(|&k| matches!(v[k], TokenTree::Ident(_))).collect();
            if !ids.is_empty() {
                let k = *rng.pick(&ids);
                // swap with another identifier of the program, or one of the vocabulary
                let others: Vec<TokenTree> = v.iter().filter(|t| matches!(t, TokenTree::Ident(_))).cloned().collect();
                v[k] = if rng.chance(50) { rng.pick(&others).clone() } else { ident_tree(rng.word(IDENTS)) };
            }
        }
        5 => {
            let k = rng.below(n + 1);
            v.insert(k, random_leaf(rng));
        }
        6 if n > 0 => {
            // wrap a token in a group
            let k = rng.below(n);
            let d = *rng.pick(&[Delimiter::Parenthesis, Delimiter::Bracket, Delimiter::Brace]);
            let t = v[k].clone();
            v[k] = TokenTree::Group(Group::new(d, std::iter::once(t).collect()));
        }
        7 if !groups.is_empty() => {
            // unwrap a group
            let k = *rng.pick(&groups);
            if let TokenTree::Group(g) = v[k].clone() {
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                v.splice(k..=k, inner);
            }
        }
        _ if n > 0 => {
            // truncate
            v.truncate(rng.below(n));
        }
        _ => {}
    }
    v.into_iter().collect()
}

/// A random program from the grammar, with wrong values mixed in.
fn generate(rng: &mut Rng) -> String {
    let mut vars: Vec<String> = Vec::new();
    let mut inputs: Vec<String> = Vec::new();
    let mut out = String::new();
    let width = |rng: &mut Rng| -> String {
        if rng.chance(85) {
            (1 + rng.below(12)).to_string()
        } else {
            rng.pick(NUMBERS).to_string()
        }
    };
    let act = |rng: &mut Rng| -> String {
        let acts = ["relu", "softmax", "sigmoid", "tanh", "\"gelu\"", "None", "linear", "relux", "x", "3"];
        rng.pick(&acts).to_string()
    };
    let name_arg = |rng: &mut Rng| -> String {
        if rng.chance(25) {
            format!(", name = {}", rng.pick(STRINGS))
        } else {
            String::new()
        }
    };
    for k in 0..1 + rng.below(3) {
        let v = format!("in{k}");
        let form = match rng.below(3) {
            0 => format!("Input({})", width(rng)),
            1 => format!("Input(shape = ({},){})", width(rng), name_arg(rng)),
            _ => format!("Input({}{})", width(rng), name_arg(rng)),
        };
        out += &format!("let {v} = {form};\n");
        vars.push(v.clone());
        inputs.push(v);
    }
    for k in 0..rng.below(9) {
        let v = if rng.chance(15) && !vars.is_empty() { rng.pick(&vars).clone() } else { format!("t{k}") };
        let x = if rng.chance(95) { rng.pick(&vars).clone() } else { "undefined".to_string() };
        let y = rng.pick(&vars).clone();
        let value = match rng.below(10) {
            0..=3 => format!("Dense({}, activation = {}{})({x})", width(rng), act(rng), name_arg(rng)),
            4 => format!("Activation({})({x})", act(rng)),
            5 => format!("Dropout({})({x})", rng.pick(NUMBERS)),
            6 => format!("LayerNormalization(axis = {})({x})", rng.pick(&["-1", "1", "0", "2"])),
            7 => format!("BatchNormalization(momentum = {})({x})", rng.pick(NUMBERS)),
            8 => {
                let f =
                    rng.pick(&["concatenate", "add", "subtract", "multiply", "average", "maximum", "minimum", "dot"]);
                format!("{f}([{x}, {y}])")
            }
            _ => {
                let f = rng.pick(&["Concatenate(axis = -1)", "Add()", "Dot(axes = 1)", "Subtract()"]);
                format!(
                    "{f}([{x}, {y}{}])",
                    if rng.chance(30) { format!(", {}", rng.pick(&vars)) } else { String::new() }
                )
            }
        };
        out += &format!("let {v} = {value};\n");
        vars.push(v);
    }
    let some = |rng: &mut Rng, from: &[String]| -> String {
        let n = 1 + rng.below(from.len().min(3));
        let picked: Vec<String> = (0..n).map(|_| rng.pick(from).clone()).collect();
        if n == 1 && rng.chance(50) {
            picked[0].clone()
        } else {
            format!("[{}]", picked.join(", "))
        }
    };
    if rng.chance(90) {
        let ins = some(rng, &inputs);
        let outs = some(rng, &vars);
        out += &format!("Model({ins}, {outs});\n");
    }
    if rng.chance(70) {
        let losses = [
            "mse",
            "mae",
            "huber",
            "categorical_crossentropy",
            "sparse_categorical_crossentropy",
            "binary_crossentropy",
            "CategoricalCrossentropy(from_logits = true)",
            "msee",
        ];
        let loss = match rng.below(3) {
            0 => rng.pick(&losses).to_string(),
            1 => format!("[{}]", (0..1 + rng.below(3)).map(|_| *rng.pick(&losses)).collect::<Vec<_>>().join(", ")),
            _ => format!("{{ {}: {} }}", rng.pick(&vars), rng.pick(&losses)),
        };
        let opt = rng.pick(&[
            "rmsprop",
            "adam",
            "sgd",
            "Adam(learning_rate = 0.01)",
            "RMSprop(rho = 1.5)",
            "SGD(momentum = 0.9, nesterov = true)",
            "adamw",
        ]);
        let weights = if rng.chance(40) { format!(", loss_weights = [{}]", rng.pick(NUMBERS)) } else { String::new() };
        out += &format!("compile(optimizer = {opt}, loss = {loss}{weights}, metrics = [accuracy]);\n");
    }
    format!("pub struct Net {{\n{out}}}")
}

/// Runs the pipeline on `tokens`; `Err` with the panic's message if it panics
/// or emits output that is not Rust items.
fn run_case(tokens: TokenStream) -> Result<(), String> {
    let out = catch_unwind(AssertUnwindSafe(|| crate::expand_network(tokens))).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })?;
    syn::parse2::<syn::File>(out.clone()).map_err(|e| format!("the output is not Rust items: {e}\n{out}"))?;
    Ok(())
}

fn env(key: &str, default: u64) -> u64 {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn the_seeds_expand_without_errors() {
    for seed in SEEDS {
        let out = crate::expand_network(lex(seed)).to_string();
        assert!(!out.contains("compile_error"), "{seed}\n{out}");
    }
}

#[test]
fn never_panics_on_generated_and_mutated_input() {
    let cases = env("STATICNET_FUZZ_CASES", 3000);
    let seed = env("STATICNET_FUZZ_SEED", 0x5EED);
    let mut rng = Rng::new(seed);
    // silence the default hook's message for caught panics; report the input instead
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failure = None;
    for case in 0..cases {
        let tokens = if rng.chance(30) {
            match generate(&mut rng).parse::<TokenStream>() {
                Ok(t) => t,
                Err(_) => continue,
            }
        } else {
            let mut t = lex(rng.word(SEEDS));
            for _ in 0..1 + rng.below(4) {
                t = mutate(&mut rng, t, 0);
            }
            t
        };
        let text = tokens.to_string();
        if let Err(msg) = run_case(tokens) {
            failure = Some(format!("case {case} (STATICNET_FUZZ_SEED={seed}): {msg}\ninput:\n{text}"));
            break;
        }
        // free the source map that `span-locations` keeps of every lexed case
        proc_macro2::extra::invalidate_current_thread_spans();
    }
    std::panic::set_hook(hook);
    if let Some(f) = failure {
        panic!("{f}");
    }
}
