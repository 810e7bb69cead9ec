//! Recurrent layers: `SimpleRNN`, `GRU` (Keras's `reset_after` form) and
//! `LSTM`, over a sequence `(steps, features)`, returning the last state or
//! (`return_sequences`) every step's; and `Bidirectional` around one of
//! them (`ops/bidirectional.rs`). Kernels `[features, g·units]`
//! (Glorot-uniform), recurrent kernels `[units, g·units]` (orthogonal),
//! biases `[g·units]` (GRU `[2, 3·units]`; LSTM's forget gate at 1).

use super::{act_tokens, lit, Buffers, Call, CalledOn, Emit, Kind, Op, Origin, Param, ParamType, Stream};
use crate::check::args::Args;
use crate::check::ctxt::Ctx;
use crate::ir::Shape;
use crate::vocab::Activation;
use proc_macro2::{Span, TokenStream};
use quote::quote;

macro_rules! recurrent_kind {
    ($name:ident, $class:literal, $base:literal, $cell:expr, $positional:expr) => {
        pub const $name: Kind = Kind {
            class: $class,
            function: None,
            called_on: CalledOn::One,
            base: $base,
            positional: $positional,
            keywords: KEYWORDS,
            build: |a| build(a, $cell).map(|r| Box::new(r) as Box<dyn Op>),
        };
    };
}

/// Keras's arguments staticnet reads or refuses with a reason.
const KEYWORDS: &[&str] = &[
    "return_sequences",
    "unit_forget_bias",
    "reset_after",
    "dropout",
    "recurrent_dropout",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "seed",
];

recurrent_kind!(SIMPLE_RNN, "SimpleRNN", "simple_rnn", CellKind::SimpleRnn, &["units", "activation", "use_bias"]);
recurrent_kind!(GRU, "GRU", "gru", CellKind::Gru, &["units", "activation", "recurrent_activation", "use_bias"]);
recurrent_kind!(LSTM, "LSTM", "lstm", CellKind::Lstm, &["units", "activation", "recurrent_activation", "use_bias"]);

/// Which cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    SimpleRnn,
    Gru,
    Lstm,
}

impl CellKind {
    /// Gates per unit: the width of the kernels is `gates·units`.
    pub fn gates(self) -> usize {
        match self {
            CellKind::SimpleRnn => 1,
            CellKind::Gru => 3,
            CellKind::Lstm => 4,
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            CellKind::SimpleRnn => "SimpleRNN",
            CellKind::Gru => "GRU",
            CellKind::Lstm => "LSTM",
        }
    }

    /// Every class name, for `Bidirectional`'s check of what it wraps.
    pub fn of_class(name: &str) -> Option<CellKind> {
        [CellKind::SimpleRnn, CellKind::Gru, CellKind::Lstm].into_iter().find(|c| c.class() == name)
    }
}

/// A recurrent layer.
#[derive(Clone, Debug)]
pub struct Recurrent {
    pub cell: CellKind,
    pub units: usize,
    pub activation: Activation,
    pub recurrent_activation: Activation,
    pub use_bias: bool,
    pub return_sequences: bool,
    /// LSTM: the forget gate's bias starts at 1.
    pub unit_forget_bias: bool,
    /// The token that gives the units, for notes.
    pub span: Span,
}

/// Reads a recurrent layer's arguments (also for the one `Bidirectional`
/// wraps, whose `Args` are its own).
pub fn build(a: &mut Args, cell: CellKind) -> Option<Recurrent> {
    let class = cell.class();
    let units = match a.require("units", &format!("`{class}` needs `units`, as in `{class}(32)`")) {
        Some(e) => a.positive(e, "`units`").map(|u| (u, e.span())),
        None => None,
    };
    let activation = a.activation("activation", Some(Activation::Tanh));
    let recurrent_activation = if cell == CellKind::SimpleRnn {
        Some(Activation::Sigmoid)
    } else {
        a.activation("recurrent_activation", Some(Activation::Sigmoid))
    };
    // a recurrent cell's activations act on each value alone
    for (key, act) in [("activation", activation), ("recurrent_activation", recurrent_activation)] {
        if let (Some(Activation::Softmax | Activation::LogSoftmax), Some(e)) = (act, a.get(key)) {
            a.ctx.error_expr(e, format!("`{key}` of a recurrent layer acts on each value: softmax is for a `Dense` or `Activation` after it"));
        }
    }
    let use_bias = a.bool("use_bias", true);
    let return_sequences = a.bool("return_sequences", false);
    let unit_forget_bias = a.bool("unit_forget_bias", true);
    for (key, cell_of) in [("unit_forget_bias", CellKind::Lstm), ("reset_after", CellKind::Gru)] {
        if let (Some(e), true) = (a.get(key), cell != cell_of) {
            a.ctx.error(e.span(), format!("`{class}` has no argument `{key}`"));
        }
    }
    if a.get("reset_after").is_some() && !a.bool("reset_after", true) {
        let span = a.get("reset_after").map_or(a.span, |e| e.span());
        a.ctx.error(span, "only `reset_after = true` (Keras's default, the cuDNN form) is supported");
    }
    for key in ["dropout", "recurrent_dropout"] {
        if let Some(e) = a.get(key) {
            if crate::check::args::number(e) != Some(0.0) {
                a.ctx.error_expr(
                    e,
                    format!(
                        "`{key}` inside a recurrent layer is not supported: put a `Dropout` layer before or after it"
                    ),
                );
            }
        }
    }
    for (key, why) in [
        ("return_state", "the states are a model's `{Name}State` in staticnet, carried by `step`"),
        ("go_backwards", "wrap the layer in `Bidirectional` to read a sequence backwards"),
        ("stateful", "a model that streams keeps its state in `{Name}State`, passed to `step`"),
        ("unroll", "the steps are always unrolled at run time, not in the graph"),
    ] {
        if a.get(key).is_some() && a.bool(key, false) {
            let span = a.get(key).map_or(a.span, |e| e.span());
            a.ctx.error(span, format!("`{key} = true` is not supported: {why}"));
        }
    }
    let (units, span) = units?;
    Some(Recurrent {
        cell,
        units,
        activation: activation.unwrap_or(Activation::Tanh),
        recurrent_activation: recurrent_activation.unwrap_or(Activation::Sigmoid),
        use_bias,
        return_sequences,
        unit_forget_bias,
        span,
    })
}

/// How a recurrent layer without `return_sequences` gives its output's shape.
const LAST_STATE: &str = "the units of this recurrent layer (its last state)";

/// That `input` is a sequence `(steps, features)`: the error of a
/// recurrent layer (or its wrapper, `what`) called on anything else.
pub fn check_sequence(ctx: &mut Ctx, call: &Call, what: &str) -> Option<()> {
    let x = call.input();
    if x.shape.rank() == 2 {
        return Some(());
    }
    let has = if x.shape.is_vector() {
        format!("{}, a vector: it has no steps to run over (use `return_sequences = true` on the layer before it, or `Reshape` it into steps)", x.shape.describe())
    } else {
        format!("shape {}", x.shape)
    };
    let message = format!("`{what}` works on sequences (steps, features): `{}` has {has}", x.name);
    // the last state of a recurrent layer: say which, and how to keep its steps
    let note = (x.shape.is_vector() && x.origin.how == LAST_STATE).then(|| {
        (
            x.origin.span,
            format!("`{}` is the last state of this layer; `return_sequences = true` gives every step's", x.name),
        )
    });
    ctx.error_with_notes(call.span, message, note);
    None
}

impl Recurrent {
    /// The runtime's `Cell` value.
    pub fn cell_tokens(&self, p: &TokenStream) -> TokenStream {
        let (act, rec) = (act_tokens(p, self.activation), act_tokens(p, self.recurrent_activation));
        match self.cell {
            CellKind::SimpleRnn => quote!(#p::ops::recurrent::Cell::SimpleRnn { activation: #act }),
            CellKind::Gru => quote!(#p::ops::recurrent::Cell::Gru { activation: #act, recurrent_activation: #rec }),
            CellKind::Lstm => quote!(#p::ops::recurrent::Cell::Lstm { activation: #act, recurrent_activation: #rec }),
        }
    }

    /// `&Shape { … }` for the runtime, over `input` `(steps, features)`.
    pub fn shape_tokens(&self, p: &TokenStream, input: &Shape, reverse: bool) -> TokenStream {
        let (steps, features, units, seq) = (lit(input.0[0]), lit(input.0[1]), lit(self.units), self.return_sequences);
        quote!(&#p::ops::recurrent::Shape { steps: #steps, features: #features, units: #units, return_sequences: #seq, reverse: #reverse })
    }

    /// The output shape over `input`.
    pub fn output(&self, input: &Shape) -> Shape {
        if self.return_sequences {
            Shape(vec![input.0[0], self.units])
        } else {
            Shape::vector(self.units)
        }
    }

    /// Rows of the bias: 2 for GRU (input and recurrent), else 1.
    pub fn bias_rows(&self) -> usize {
        if self.cell == CellKind::Gru {
            2
        } else {
            1
        }
    }

    /// The kernel, recurrent kernel and bias, with Keras's shapes.
    pub fn param_shapes(&self, features: usize) -> Vec<(&'static str, Vec<usize>)> {
        let gu = self.cell.gates() * self.units;
        let mut p = vec![("kernel", vec![features, gu]), ("recurrent_kernel", vec![self.units, gu])];
        if self.use_bias {
            p.push(("bias", if self.bias_rows() == 2 { vec![2, gu] } else { vec![gu] }));
        }
        p
    }

    /// Keras's initial values of the parameters at `field` (`self.lstm`,
    /// or a prefix for `Bidirectional`'s copies).
    pub fn init_tokens(
        &self,
        p: &TokenStream,
        kernel: TokenStream,
        recurrent: TokenStream,
        bias: Option<TokenStream>,
        features: usize,
    ) -> TokenStream {
        let (f, u, gu) = (lit(features), lit(self.units), lit(self.cell.gates() * self.units));
        let forget = match (self.cell, self.unit_forget_bias, bias) {
            (CellKind::Lstm, true, Some(b)) => {
                let (from, to) = (lit(self.units), lit(2 * self.units));
                quote!(#b.as_mut_slice()[#from..#to].fill(<T as #p::Scalar>::of_f64(1.0));)
            }
            _ => quote!(),
        };
        quote! {
            #p::layers::glorot_uniform(#kernel.as_mut_slice(), #f, #gu, &mut __sn_rng);
            #p::layers::orthogonal(#recurrent.as_mut_slice(), #u, #gu, &mut __sn_rng);
            #forget
        }
    }

    /// Scalars per sample of the runtime's work buffer (checked against
    /// `recurrent::work_len` at compile time): the gates of every step,
    /// `h` and the gates' gradients for every step and the start, `dh`,
    /// LSTM's `c` and `dc`, GRU's `r·(U·h)`, and the gates'
    /// pre-activations when an activation's derivative needs them.
    pub fn work(&self, input: &Shape) -> usize {
        let (steps, u) = (input.0[0], self.units);
        let g = self.cell.gates() * u;
        let mut n = g * steps + u * (steps + 1) + g * (steps + 1) + u;
        match self.cell {
            CellKind::Lstm => n += u * (steps + 1) + u,
            CellKind::Gru => n += u * steps,
            CellKind::SimpleRnn => {}
        }
        if self.cell != CellKind::SimpleRnn
            && (self.activation.needs_input() || self.recurrent_activation.needs_input())
        {
            n += g * steps;
        }
        n
    }

    /// Scalars per sample of the inference-only work buffer (checked
    /// against `recurrent::infer_work_len`): the input projections of every
    /// step, two states and one step's gates, LSTM's two cell states.
    pub fn infer_work(&self, input: &Shape) -> usize {
        let (steps, u) = (input.0[0], self.units);
        let g = self.cell.gates() * u;
        g * steps + 2 * u + g + if self.cell == CellKind::Lstm { 2 * u } else { 0 }
    }

    /// Scalars of state a streaming step carries: `h` (and LSTM's `c`).
    pub fn state_len(&self) -> usize {
        if self.cell == CellKind::Lstm {
            2 * self.units
        } else {
            self.units
        }
    }

    /// One streaming step of one direction (checked against
    /// `recurrent::state_len` at compile time).
    pub fn step_call(
        &self,
        p: &TokenStream,
        features: usize,
        fields: [TokenStream; 3],
        x: &TokenStream,
        state: &TokenStream,
        out: &TokenStream,
    ) -> TokenStream {
        let (cell, f, u, n) = (self.cell_tokens(p), lit(features), lit(self.units), lit(self.state_len()));
        let [k, r, b] = fields;
        let bias = if self.use_bias { quote!(Some(#b.as_slice())) } else { quote!(None) };
        quote!({
            const __SN_STATE_FITS: () = assert!(#p::ops::recurrent::state_len(#cell, #u) == #n, "staticnet: the macro and the runtime disagree on a recurrent layer's state");
            #p::ops::recurrent::step_sized::<T, #f, #u>(#cell, #k.as_slice(), #r.as_slice(), #bias, #x, #state, #out);
        })
    }

    /// `work` (or the inference-only buffer), sized by the macro, with the
    /// assertion that the runtime agrees.
    pub fn work_checked(&self, p: &TokenStream, input: &Shape, reverse: bool, infer: bool) -> TokenStream {
        let (cell, shape) = (self.cell_tokens(p), self.shape_tokens(p, input, reverse));
        let (len, n) = if infer {
            (quote!(infer_work_len), lit(self.infer_work(input)))
        } else {
            (quote!(work_len), lit(self.work(input)))
        };
        quote!({
            const __SN_WORK_FITS: () = assert!(#p::ops::recurrent::#len(#cell, #shape) == #n, "staticnet: the macro and the runtime disagree on a recurrent layer's buffer");
            #shape
        })
    }

    /// `forward(…)` of one direction: `fields` names the kernel, recurrent
    /// kernel and bias.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_call(
        &self,
        p: &TokenStream,
        input: &Shape,
        reverse: bool,
        fields: [TokenStream; 3],
        x: &TokenStream,
        work: &TokenStream,
        out: &TokenStream,
        infer: bool,
    ) -> TokenStream {
        let (cell, shape) = (self.cell_tokens(p), self.work_checked(p, input, reverse, infer));
        let [k, r, b] = fields;
        let bias = if self.use_bias { quote!(Some(#b.as_slice())) } else { quote!(None) };
        let f = if infer { quote!(infer) } else { quote!(forward) };
        quote!(#p::ops::recurrent::#f::<T>(#cell, #shape, #k.as_slice(), #r.as_slice(), #bias, #x, #work, #out);)
    }

    /// `backward(…)` of one direction: the parameters and their gradients.
    #[allow(clippy::too_many_arguments)]
    pub fn backward_call(
        &self,
        p: &TokenStream,
        input: &Shape,
        reverse: bool,
        fields: [TokenStream; 3],
        grads: [TokenStream; 3],
        x: &TokenStream,
        work: &TokenStream,
        dout: &TokenStream,
        dx: &TokenStream,
    ) -> TokenStream {
        let (cell, shape) = (self.cell_tokens(p), self.shape_tokens(p, input, reverse));
        let ([k, r, _], [dk, dr, db]) = (fields, grads);
        let dbias = if self.use_bias { quote!(Some(#db.as_mut_slice())) } else { quote!(None) };
        quote!(#p::ops::recurrent::backward::<T>(#cell, #shape, #k.as_slice(), #r.as_slice(), #x, #work, #dout, #dk.as_mut_slice(), #dr.as_mut_slice(), #dbias, #dx);)
    }
}

impl Op for Recurrent {
    fn class(&self) -> &'static str {
        self.cell.class()
    }

    fn stream(&self, _: &[&Shape]) -> Stream {
        Stream::Stateful(self.state_len())
    }

    fn infer(&self, ctx: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        check_sequence(ctx, call, call.what)?;
        let how = if self.return_sequences { "the units of this recurrent layer" } else { LAST_STATE };
        Some((self.output(&call.input().shape), Origin { span: self.span, how }))
    }

    fn params(&self, inputs: &[&Shape], _: &Shape) -> Vec<Param> {
        self.param_shapes(inputs[0].last()).into_iter().map(|(f, s)| Param::new(f, s)).collect()
    }

    fn param_type(&self, inputs: &[&Shape], _: &Shape) -> Option<ParamType> {
        let p = crate::expand::private();
        let (f, u, gu) = (lit(inputs[0].last()), lit(self.units), lit(self.cell.gates() * self.units));
        let path = match (self.use_bias, self.cell) {
            (false, _) => quote!(#p::layers::RecurrentNoBias),
            (true, CellKind::Gru) => quote!(#p::layers::GruReset),
            (true, _) => quote!(#p::layers::Recurrent),
        };
        let generics = quote!(<T, #f, #u, #gu>);
        let bias = if self.use_bias { ", bias" } else { "" };
        Some(ParamType { path, generics, doc: format!("({}): kernel, recurrent kernel{bias}.", self.cell.class()) })
    }

    fn init(&self, e: &Emit) -> TokenStream {
        let f = &e.field;
        let bias = self.use_bias.then(|| quote!(#f.bias));
        self.init_tokens(&e.p, quote!(#f.kernel), quote!(#f.recurrent_kernel), bias, e.in_shapes[0].last())
    }

    fn buffers(&self, inputs: &[&Shape], _: &Shape) -> Buffers {
        Buffers {
            scratch: vec![("work", self.work(inputs[0])), ("infer_work", self.infer_work(inputs[0]))],
            inference: vec!["infer_work"],
            ..Buffers::default()
        }
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        let (f, x, o, w) = (&e.field, e.x(0), &e.out, e.scratch("work"));
        let fields = [quote!(#f.kernel), quote!(#f.recurrent_kernel), quote!(#f.bias)];
        self.forward_call(&e.p, e.in_shapes[0], false, fields, x, &quote!(&mut *#w), &quote!(&mut *#o), false)
    }

    fn forward1(&self, e: &Emit) -> TokenStream {
        let (f, x, o, w) = (&e.field, e.x(0), &e.out, e.scratch("infer_work"));
        let fields = [quote!(#f.kernel), quote!(#f.recurrent_kernel), quote!(#f.bias)];
        self.forward_call(&e.p, e.in_shapes[0], false, fields, x, &quote!(&mut *#w), &quote!(&mut *#o), true)
    }

    fn step(&self, e: &Emit, state: &TokenStream) -> TokenStream {
        let (f, x, o) = (&e.field, e.x(0), &e.out);
        let fields = [quote!(#f.kernel), quote!(#f.recurrent_kernel), quote!(#f.bias)];
        self.step_call(&e.p, e.in_shapes[0].last(), fields, x, state, &quote!(&mut *#o))
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let (f, gr, x, g, w) = (&e.field, &e.grads, e.x(0), &e.grad, e.scratch("work"));
        let fields = [quote!(#f.kernel), quote!(#f.recurrent_kernel), quote!(#f.bias)];
        let grads = [quote!(#gr.kernel), quote!(#gr.recurrent_kernel), quote!(#gr.bias)];
        self.backward_call(&e.p, e.in_shapes[0], false, fields, grads, x, &quote!(&mut *#w), &quote!(&*#g), &e.dx(0))
    }
}

#[cfg(test)]
mod tests {
    use crate::check::{errors, run};
    use quote::quote;

    #[test]
    fn shapes_weights_and_names_follow_keras() {
        let g = run(quote! {
            pub struct Qa {
                let text = Input(shape = (12,), dtype = "int32");
                let x = Embedding(60, 16)(text);
                let a = LSTM(8, return_sequences = true)(x);
                let b = Bidirectional(GRU(5, return_sequences = true), merge_mode = "concat")(a);
                let c = TimeDistributed(Dense(3))(b);
                let d = Bidirectional(LSTM(4), merge_mode = "sum", name = "bi")(c);
                let e = SimpleRNN(6, use_bias = false)(c);
                let y = concatenate([d, e]);
                Model(text, y);
            }
        })
        .unwrap();
        let shapes: Vec<_> = g.nodes.iter().map(|n| (n.name.clone(), n.shape.0.clone())).collect();
        assert_eq!(
            shapes,
            [
                ("input_layer".into(), vec![12]),
                ("embedding".into(), vec![12, 16]),
                ("lstm".into(), vec![12, 8]),
                ("bidirectional".into(), vec![12, 10]),
                ("time_distributed".into(), vec![12, 3]),
                ("bi".into(), vec![4]),
                ("simple_rnn".into(), vec![6]),
                ("concatenate".into(), vec![10]),
            ]
        );
        let keys: Vec<_> = g.tensors().iter().map(|t| (t.name.clone(), t.param.shape.clone())).collect();
        assert!(keys.contains(&("embedding.embeddings".into(), vec![60, 16])), "{keys:?}");
        assert!(keys.contains(&("lstm.recurrent_kernel".into(), vec![8, 32])), "{keys:?}");
        assert!(keys.contains(&("bidirectional.forward.bias".into(), vec![2, 15])), "{keys:?}");
        assert!(keys.contains(&("bidirectional.backward.kernel".into(), vec![8, 15])), "{keys:?}");
        assert!(keys.contains(&("time_distributed.dense.kernel".into(), vec![10, 3])), "{keys:?}");
        assert!(keys.contains(&("bi.forward.recurrent_kernel".into(), vec![4, 16])), "{keys:?}");
        assert!(!keys.iter().any(|(k, _)| k == "simple_rnn.bias"), "{keys:?}");
        // the wrapped layers took their automatic names, as in Keras
        assert!(keys.iter().all(|(k, _)| !k.starts_with("gru")), "{keys:?}");
    }

    #[test]
    fn steps_without_a_length_need_layers_that_stream() {
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(shape = (None, 3));
                let a = GRU(8, return_sequences = true)(x);
                let b = Conv1D(4, 3, padding = "causal")(a);
                let c = GlobalAveragePooling1D()(b);
                let d = Bidirectional(LSTM(4))(a);
                let e = Conv1D(4, 3, padding = "same")(a);
                Model(x, [c, d, e]);
            }
        });
        let has = |m: &str| errs.iter().any(|e| e.starts_with(m));
        assert!(has("`GlobalAveragePooling1D` needs the whole sequence"), "{errs:#?}");
        assert!(has("`Bidirectional` needs the whole sequence"), "{errs:#?}");
        assert!(has("`Conv1D` needs the whole sequence"), "{errs:#?}");
        assert_eq!(errs.iter().filter(|e| e.contains("needs the whole sequence")).count(), 3, "{errs:#?}");
        assert_eq!(errs.len(), 6, "three errors with a note each: {errs:#?}");
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(shape = (None,));
                let s = Input(shape = (None, 2));
                let t = Input(shape = (4, 2));
                let y = concatenate([s, t]);
                Model([x, s, t], y);
            }
        });
        assert!(errs.iter().any(|e| e.starts_with("`None` is allowed only for the steps of a sequence")), "{errs:#?}");
        assert!(errs.iter().any(|e| e.starts_with("`concatenate` mixes steps without a length with `t`")), "{errs:#?}");
        let errs = errors(quote! {
            pub struct Bad {
                let s = Input(shape = (None, 2));
                let t = Input(shape = (4, 2));
                let a = LSTM(3)(s);
                let b = LSTM(3)(t);
                Model([s, t], [a, b]);
            }
        });
        assert!(errs.iter().any(|e| e.starts_with("steps without a length need a model with one input")), "{errs:#?}");
        let g = run(quote! {
            pub struct Good {
                let x = Input(shape = (None, 3));
                let a = LSTM(8, return_sequences = true)(x);
                let b = Dense(2)(a);
                let c = SimpleRNN(4)(b);
                Model(x, [b, c]);
            }
        })
        .unwrap();
        assert!(g.steps_vary);
        let kinds = g.stream_kinds().unwrap();
        assert_eq!(kinds[1], crate::ops::Stream::Stateful(16));
        assert_eq!(kinds[2], crate::ops::Stream::PerStep);
        let step = g.step_graph();
        assert_eq!(
            step.nodes.iter().map(|n| n.shape.0.clone()).collect::<Vec<_>>(),
            [vec![3], vec![8], vec![2], vec![4]]
        );
    }

    #[test]
    fn impossible_uses_are_errors() {
        let errs = errors(quote! {
            pub struct Bad {
                let ids = Input(shape = (12,), dtype = "int32");
                let x = Input(32);
                let s = Input(shape = (10, 4));
                let a = LSTM(8)(x);
                let b = Embedding(100, 8)(s);
                let c = Dense(4)(ids);
                let d = GRU(4, reset_after = false)(s);
                let e = Bidirectional(Dense(3))(s);
                let f = LSTM(8)(GRU(4)(s));
                let g = GRU(4, activation = softmax)(s);
                Model([ids, x, s], [a, b, c, d, e, f, g]);
            }
        });
        let has = |m: &str| errs.iter().any(|e| e.starts_with(m));
        assert!(has("`LSTM` works on sequences (steps, features): `x` has 32 features, a vector"), "{errs:#?}");
        assert!(has("`Embedding` takes token ids, but `s` holds values"), "{errs:#?}");
        assert!(has("`Dense` takes values, but `ids` holds token ids"), "{errs:#?}");
        assert!(has("only `reset_after = true`"), "{errs:#?}");
        assert!(has("`activation` of a recurrent layer acts on each value"), "{errs:#?}");
        assert!(has("`Bidirectional` wraps `LSTM`, `GRU`, `SimpleRNN`, found `Dense`"), "{errs:#?}");
        assert!(
            has("`LSTM` works on sequences (steps, features): `gru_1` has 4 features, a vector: it has no steps"),
            "{errs:#?}"
        );
    }
}
