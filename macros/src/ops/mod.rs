//! One module per operation: each layer or merge kind owns its arguments
//! and their checks, its output shape, its parameters (field type, Keras
//! weight names and shapes, initial values), its workspace, and what it
//! emits for the one-sample forward pass, the batch forward pass and the
//! backward pass. The checker and the code generator call them only
//! through [`Op`] and the [`Kind`] table, [`KINDS`].
//!
//! # How to add a layer
//!
//! 1. Write its kernels in the runtime, `runtime/ops/{kind}.rs` (forward
//!    on a batch, backward adding into the input gradient), declare the
//!    module in `runtime/ops/mod.rs`, and give it unit tests there. A layer
//!    with weights also gets its parameter struct in `runtime/layers.rs`
//!    (fields named as Keras names the variables).
//! 2. Write `macros/src/ops/{kind}.rs`: a `pub const KIND: Kind` (Keras's
//!    class name, its arguments, a `build` function that reads them with
//!    [`crate::check::args::Args`]) and a struct implementing [`Op`]:
//!    `infer` (the output shape, or an error at the layer that shows
//!    Keras's arithmetic), `params` and `param_type` if it has weights,
//!    `buffers` if training keeps something for the backward pass, and
//!    `forward` / `backward` (and `forward1` when the one-sample pass
//!    differs), which emit calls of the runtime kernels through
//!    `::staticnet::__private` using the names [`Emit`] gives.
//! 3. Add `mod {kind};` below and its `KIND` to [`KINDS`].
//! 4. Tests: Keras fixtures made by a script in `tools/`, a Keras-parity
//!    test in `tests/keras_parity.rs`, a finite-difference check in
//!    `tests/gradient_check.rs`, and a `tests/ui/` case per compile error
//!    it adds.
//!
//! Nothing else changes: the checker, the workspace layout, the struct's
//! fields, weights I/O, `summary()` and the passes are driven by the trait.

pub mod activation;
pub mod bidirectional;
pub mod conv;
pub mod dense;
pub mod dropout;
pub mod embedding;
pub mod external;
pub mod input;
pub mod merge;
pub mod normalization;
pub mod padding;
pub mod pooling;
pub mod recurrent;
pub mod reshape;
pub mod time_distributed;
pub mod window;

use crate::check::args::Args;
use crate::check::ctxt::Ctx;
use crate::ir::{Node, Shape};
use crate::vocab::Activation;
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;
use std::fmt;

/// Every kind the language knows, in the order "unknown layer" lists them.
pub const KINDS: &[&Kind] = &[
    &input::KIND,
    &dense::KIND,
    &activation::KIND,
    &dropout::KIND,
    &normalization::LAYER_NORMALIZATION,
    &normalization::BATCH_NORMALIZATION,
    &conv::CONV1D,
    &conv::CONV2D,
    &conv::DEPTHWISE_CONV2D,
    &conv::SEPARABLE_CONV2D,
    &pooling::MAX_POOLING1D,
    &pooling::MAX_POOLING2D,
    &pooling::AVERAGE_POOLING1D,
    &pooling::AVERAGE_POOLING2D,
    &pooling::GLOBAL_AVERAGE_POOLING1D,
    &pooling::GLOBAL_AVERAGE_POOLING2D,
    &pooling::GLOBAL_MAX_POOLING1D,
    &pooling::GLOBAL_MAX_POOLING2D,
    &reshape::FLATTEN,
    &reshape::RESHAPE,
    &padding::ZERO_PADDING1D,
    &padding::ZERO_PADDING2D,
    &embedding::KIND,
    &recurrent::SIMPLE_RNN,
    &recurrent::GRU,
    &recurrent::LSTM,
    &bidirectional::KIND,
    &time_distributed::KIND,
    &merge::CONCATENATE,
    &merge::ADD,
    &merge::SUBTRACT,
    &merge::MULTIPLY,
    &merge::AVERAGE,
    &merge::MAXIMUM,
    &merge::MINIMUM,
    &merge::DOT,
];

/// A layer kind: how it is written and how its arguments are read.
pub struct Kind {
    /// Keras's class name, which is also how the layer is made: `Dense`.
    pub class: &'static str,
    /// The function form of a merge (`add([a, b])`), if it has one.
    pub function: Option<&'static str>,
    /// What the layer is called on.
    pub called_on: CalledOn,
    /// Base of the automatic name (`dense`, `dense_1`, …).
    pub base: &'static str,
    /// Arguments that may be given by position, in order.
    pub positional: &'static [&'static str],
    /// Arguments given by name only (`name` is added for every kind).
    pub keywords: &'static [&'static str],
    /// Reads the bound arguments; `None` after reporting an error.
    pub build: fn(&mut Args) -> Option<Box<dyn Op>>,
}

/// What a layer is called on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalledOn {
    /// Nothing: `Input(…)` makes a tensor itself.
    Nothing,
    /// One tensor: `Dense(3)(x)`.
    One,
    /// A list of tensors: `Add()([a, b])`, `add([a, b])`.
    List,
}

impl Kind {
    /// The kind made by `Name(…)` or, for merges, called as `name([…])`.
    pub fn lookup(name: &str) -> Option<(&'static Kind, bool)> {
        KINDS.iter().find_map(|k| {
            if k.class == name {
                Some((*k, false))
            } else if k.function == Some(name) {
                Some((*k, true))
            } else {
                None
            }
        })
    }

    /// Every name a layer can be written with, for suggestions.
    pub fn all_names() -> impl Iterator<Item = &'static str> {
        KINDS.iter().flat_map(|k| std::iter::once(k.class).chain(k.function))
    }
}

/// A tensor a layer is called on, as the checker knows it.
#[derive(Clone, Debug)]
pub struct Operand {
    /// The name it was written with (`a`), or the nested layer's name.
    pub name: String,
    /// Its shape.
    pub shape: Shape,
    /// Whether it holds token ids rather than values.
    pub ids: bool,
    /// Where its shape was fixed, for notes.
    pub origin: Origin,
}

/// The token that fixed a tensor's shape, and how, for notes such as
/// "`x` has 64 features from the width of this `Input`".
#[derive(Clone, Copy, Debug)]
pub struct Origin {
    pub span: Span,
    pub how: &'static str,
}

/// A layer being called: what [`Op::infer`] checks.
pub struct Call<'a> {
    /// The callee as written (`add`, `Add`, `Dense`).
    pub what: &'a str,
    /// The layer's token.
    pub span: Span,
    pub inputs: &'a [Operand],
}

impl Call<'_> {
    /// The one input of a single-input layer.
    pub fn input(&self) -> &Operand {
        &self.inputs[0]
    }
}

/// A parameter tensor: the runtime struct's field, Keras's variable name
/// and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// The field of the layer's runtime struct that holds it.
    pub field: &'static str,
    /// Keras's name for it under the layer: the field's name, or a path
    /// (`forward.kernel` in a `Bidirectional`, `dense.kernel` in a
    /// `TimeDistributed`).
    pub key: String,
    pub shape: Vec<usize>,
    pub trainable: bool,
    /// For a network called as a layer: its tensor's index in that
    /// network's table, reached through `Network::tensor` (`field` unused).
    pub index: Option<usize>,
}

impl Param {
    /// A trainable tensor whose Keras name is its field's.
    pub fn new(field: &'static str, shape: Vec<usize>) -> Param {
        Param { field, key: field.to_string(), shape, trainable: true, index: None }
    }

    /// Not updated by the optimizer (moving statistics).
    pub fn fixed(self) -> Param {
        Param { trainable: false, ..self }
    }
}

/// The runtime struct that holds a layer's parameters.
pub struct ParamType {
    /// Its path, for struct literals: `::staticnet::__private::layers::Dense`.
    pub path: TokenStream,
    /// Its generic arguments: `<T, 64, 32>`.
    pub generics: TokenStream,
    /// The field's doc comment.
    pub doc: String,
}

/// Buffers the training pass keeps for the backward pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Buffers {
    /// Per-sample buffers: a role (`pre`, `mask`, …, which names the local)
    /// and rows per sample, in order.
    pub scratch: Vec<(&'static str, usize)>,
    /// Length of per-batch statistics (batch normalization), or 0.
    pub stats: usize,
    /// The scratch roles inference needs too (an im2col buffer), which the
    /// one-sample pass keeps on the stack.
    pub inference: Vec<&'static str>,
}

/// How a layer runs on a sequence one step at a time (`step()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Each step on its own (Dense, activations, normalizations, merges).
    PerStep,
    /// Each step from its input and a state of this many scalars carried
    /// from step to step (recurrent layers, causal convolutions).
    Stateful(usize),
    /// Only over the whole sequence (pooling, `Flatten`, `Bidirectional`).
    Whole,
}

/// One operation: what the checker and the code generator ask of a layer.
pub trait Op: OpClone + fmt::Debug {
    /// Keras's class name, for the summary and messages.
    fn class(&self) -> &'static str;

    /// The output shape for these inputs, or `None` after reporting why
    /// not at the layer.
    fn infer(&self, ctx: &mut Ctx, call: &Call) -> Option<(Shape, Origin)>;

    /// Whether this is an `Input` (the graph rules treat inputs apart).
    fn is_input(&self) -> bool {
        false
    }

    /// The `None` of an `Input(shape = (None, channels))`, whose steps have
    /// no length.
    fn varying_steps(&self) -> Option<Span> {
        None
    }

    /// Whether its output is token ids (an `Input` with `dtype = "int32"`).
    fn makes_ids(&self) -> bool {
        false
    }

    /// `Some(n)` for a layer that reads token ids `0..n` (`Embedding`);
    /// every other layer reads values.
    fn takes_ids(&self) -> Option<usize> {
        None
    }

    /// Names the layers written inside this one (`TimeDistributed(Dense(3))`'s
    /// `Dense`), as Keras does: before the outer layer, with `namer(base,
    /// given name)`.
    fn name_inner(&mut self, _namer: &mut dyn FnMut(&'static str, Option<(String, Span)>) -> String) {}

    /// The activation it ends in, for fusing it with a head's loss.
    fn activation(&self) -> Option<Activation> {
        None
    }

    /// Its parameter tensors, in the order of the runtime struct's fields.
    fn params(&self, _inputs: &[&Shape], _output: &Shape) -> Vec<Param> {
        Vec::new()
    }

    /// The runtime struct holding [`Op::params`], when it has any.
    fn param_type(&self, _inputs: &[&Shape], _output: &Shape) -> Option<ParamType> {
        None
    }

    /// Sets the initial weights of `self.{field}` (zeroed before).
    fn init(&self, _e: &Emit) -> TokenStream {
        TokenStream::new()
    }

    /// What the training pass keeps for the backward pass.
    fn buffers(&self, _inputs: &[&Shape], _output: &Shape) -> Buffers {
        Buffers::default()
    }

    /// The batch pass (`__sn_n` samples; `__sn_training` tells the mode).
    fn forward(&self, e: &Emit) -> TokenStream;

    /// The one-sample pass of `forward`, always in inference mode.
    fn forward1(&self, e: &Emit) -> TokenStream {
        self.forward(e)
    }

    /// The one-sample pass computed in place, where its input's buffer,
    /// which nothing else reads, already holds the input and becomes the
    /// output (`e.out`): element-wise layers, which then need no buffer and
    /// no copy. `None` when the layer cannot work in place.
    fn forward1_in_place(&self, _e: &Emit) -> Option<TokenStream> {
        None
    }

    /// The one-sample pass with an inference-mode batch normalization
    /// folded into this layer's kernel and bias (and `fold.activation`
    /// fused), which then writes the normalized, activated output: layers
    /// whose kernel ends in the output channels and which end linear.
    fn forward1_folding(&self, _e: &Emit, _fold: &Fold) -> Option<TokenStream> {
        None
    }

    /// `Some(epsilon)` for a batch normalization, which the one-sample pass
    /// may fold into the layer before it.
    fn batch_norm_epsilon(&self) -> Option<f64> {
        None
    }

    /// `Some(act)` for a layer that is only an element-wise activation,
    /// which the one-sample pass may fuse into the layer before it.
    fn only_activation(&self) -> Option<Activation> {
        None
    }

    /// How the layer streams (see [`Stream`]), over inputs of these
    /// (whole-sequence) shapes.
    fn stream(&self, _inputs: &[&Shape]) -> Stream {
        Stream::Whole
    }

    /// One step: `e` is written over the shapes of one step (a sequence's
    /// `(steps, c)` is `(c,)`); `state` is this layer's state, a `&mut [T]`
    /// (for [`Stream::Stateful`]). A per-step layer's step is its
    /// one-sample pass.
    fn step(&self, e: &Emit, _state: &TokenStream) -> TokenStream {
        self.forward1(e)
    }

    /// How the int8 model (`quantize(int8, …)`) runs it; `None` for a
    /// layer it does not support yet.
    fn quantized(&self, _inputs: &[&Shape], _output: &Shape) -> Option<QuantKind> {
        None
    }

    /// Adds the gradients of its inputs (and writes those of its
    /// parameters) from its output's gradient.
    fn backward(&self, e: &Emit) -> TokenStream;

    /// Folds the training pass's batch statistics into the layer's
    /// moving statistics, after the pass.
    fn moving_update(&self, _e: &Emit) -> Option<TokenStream> {
        None
    }
}

/// A layer as the int8 model sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum QuantKind {
    /// The model's input.
    Input,
    /// `Dense` with its units, activation and whether it has a bias.
    Dense { units: usize, activation: Activation, use_bias: bool },
    /// A layer that does nothing to the data at inference (`Dropout`, and
    /// `Flatten` and `Reshape`, whose row-major order is TFLite's).
    Identity,
    /// `Conv2D`, `DepthwiseConv2D` or `SeparableConv2D` (a depthwise then a
    /// 1×1 convolution): `filters` output channels (the depthwise part's
    /// are `in · multiplier`), its window over its input.
    Conv {
        form: ConvForm,
        filters: usize,
        multiplier: usize,
        geometry: window::Geometry,
        activation: Activation,
        use_bias: bool,
    },
    /// `BatchNormalization` (inference: moving statistics), folded into the
    /// convolution before it.
    BatchNorm { epsilon: f64 },
    /// `Activation(…)`, fused into the layer before it.
    Activation(Activation),
    /// `GlobalAveragePooling2D`: TFLite's `MEAN` over the positions.
    Mean,
    /// `MaxPooling2D` or `AveragePooling2D`.
    Pool { max: bool, geometry: window::Geometry },
}

/// A convolution's form, for the int8 model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvForm {
    Full,
    Depthwise,
    Separable,
}

/// `Clone` for boxed operations.
pub trait OpClone {
    fn clone_box(&self) -> Box<dyn Op>;
}

impl<O: Op + Clone + 'static> OpClone for O {
    fn clone_box(&self) -> Box<dyn Op> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn Op> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// A batch normalization to fold into the layer before it, in the
/// one-sample pass.
pub struct Fold {
    /// `self.{batch_normalization}`.
    pub field: TokenStream,
    pub epsilon: f64,
    /// The activation after it, fused too (`Linear` for none).
    pub activation: Activation,
}

impl Fold {
    /// Stack buffers `kernel` (`kernel_len` values) and `bias`
    /// (`channels`), filled with `kernel` and `bias` folded with the batch
    /// normalization: the statements, and the two buffers' names.
    pub fn folded(
        &self,
        e: &Emit,
        kernel: TokenStream,
        bias: TokenStream,
        kernel_len: usize,
        channels: usize,
    ) -> (TokenStream, Ident, Ident) {
        let (p, bn) = (&e.p, &self.field);
        let k = quote::format_ident!("__sn_{}_folded_kernel", e.node.name);
        let b = quote::format_ident!("__sn_{}_folded_bias", e.node.name);
        let (kl, n, eps) = (lit(kernel_len), lit(channels), f64_lit(self.epsilon));
        let code = quote! {
            let #k: &mut [T] = &mut [<T as #p::Scalar>::of_f64(0.0); #kl];
            let #b: &mut [T] = &mut [<T as #p::Scalar>::of_f64(0.0); #n];
            #p::ops::normalization::fold_batch_norm::<T, #n>(&#bn, #eps, #kernel, #bias, &mut *#k, &mut *#b);
        };
        (code, k, b)
    }
}

impl Fold {
    /// Two stack arrays, the batch normalization's scale and shift per
    /// channel (`channels`), the layer's `bias` folded into the shift: the
    /// statement, and the two arrays' names.
    pub fn scale_shift(&self, e: &Emit, bias: TokenStream, channels: usize) -> (TokenStream, Ident, Ident) {
        let (p, bn) = (&e.p, &self.field);
        let s = quote::format_ident!("__sn_{}_bn_scale", e.node.name);
        let t = quote::format_ident!("__sn_{}_bn_shift", e.node.name);
        let (n, eps) = (lit(channels), f64_lit(self.epsilon));
        let code = quote! {
            let (#s, #t) = #p::ops::normalization::batch_norm_scale_shift::<T, #n>(&#bn, #eps, #bias);
        };
        (code, s, t)
    }
}

/// Names and tokens the code of one node is written with.
pub struct Emit<'a> {
    /// `::staticnet::__private`.
    pub p: TokenStream,
    pub node: &'a Node,
    /// The input shapes.
    pub in_shapes: Vec<&'a Shape>,
    /// `self.{layer}`.
    pub field: TokenStream,
    /// `__sn_grads.{layer}`.
    pub grads: TokenStream,
    /// Each input's value, a `&[T]`.
    pub inputs: Vec<TokenStream>,
    /// Each input's gradient buffer (`None` for the model's inputs).
    pub input_grads: Vec<Option<Ident>>,
    /// The output buffer, a `&mut [T]` local.
    pub out: Ident,
    /// The output's gradient buffer, a `&mut [T]` local.
    pub grad: Ident,
    /// The [`Buffers::scratch`] locals, by role.
    pub scratch: Vec<(&'static str, Ident)>,
    /// The range of this node's statistics in `__sn_stats`.
    pub stats: Option<(usize, usize)>,
    /// Whether the head's loss took the gradient through the activation.
    pub fused: bool,
    /// The node's index, a stream for its random numbers.
    pub index: usize,
}

impl Emit<'_> {
    /// Input `i`'s value.
    pub fn x(&self, i: usize) -> &TokenStream {
        &self.inputs[i]
    }

    /// `Some(&mut *grad)` for input `i`'s gradient, `None` for a model input.
    pub fn dx(&self, i: usize) -> TokenStream {
        match &self.input_grads[i] {
            Some(g) => quote!(Some(&mut *#g)),
            None => quote!(None),
        }
    }

    /// The scratch local of `role`.
    pub fn scratch(&self, role: &str) -> &Ident {
        &self.scratch.iter().find(|(r, _)| *r == role).expect("a buffer the op declared").1
    }

    /// `__sn_stats[a..b]`.
    pub fn stats(&self) -> TokenStream {
        let (a, b) = self.stats.unwrap_or((0, 0));
        let (a, b) = (lit(a), lit(b));
        quote!(__sn_stats[#a..#b])
    }

    /// The output shape.
    pub fn shape(&self) -> &Shape {
        &self.node.shape
    }
}

/// An unsuffixed integer literal.
pub fn lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// An `f64` literal.
pub fn f64_lit(v: f64) -> Literal {
    Literal::f64_suffixed(v)
}

/// `::staticnet::__private::Activation::Relu`.
pub fn act_tokens(p: &TokenStream, a: Activation) -> TokenStream {
    let v = Ident::new(a.variant(), Span::call_site());
    quote!(#p::Activation::#v)
}

/// Turns the output gradient into the pre-activation gradient in place,
/// for a layer ending in `act` (nothing when it is linear or the head's
/// loss took the gradient through it): from the kept pre-activation
/// (`pre`) where the derivative needs it, else from the output.
pub fn activation_backward(e: &Emit, act: Activation) -> TokenStream {
    let (p, o, g) = (&e.p, &e.out, &e.grad);
    let (a, rows) = (act_tokens(p, act), lit(e.shape().last()));
    if act == Activation::Linear || e.fused {
        quote!()
    } else if act.needs_input() {
        let pre = e.scratch("pre");
        quote!(#p::activations::backward(#a, &*#pre, &*#o, &mut *#g, #rows);)
    } else {
        quote!(#p::activations::backward_from_output(#a, &*#o, &mut *#g, #rows);)
    }
}

/// Checks that a single-input layer keeps its input's shape: what
/// element-wise layers infer.
pub fn same_shape(call: &Call) -> Option<(Shape, Origin)> {
    let x = call.input();
    Some((x.shape.clone(), x.origin))
}
