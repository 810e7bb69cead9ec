//! Convolutions: `Conv1D` (padding valid, same, causal), `Conv2D`,
//! `DepthwiseConv2D` (`depth_multiplier`) and `SeparableConv2D` (a
//! depthwise convolution, then a 1×1 convolution with the bias and the
//! activation), with Keras's arguments, shapes, weights and initializers.

use super::window::{channels_last, check_rank, padding, sizes, Padding, Sizes, Slide};
use super::{act_tokens, lit, Buffers, Call, CalledOn, Emit, Fold, Kind, Op, Origin, Param, ParamType, Stream};
use crate::check::args::Args;
use crate::check::ctxt::Ctx;
use crate::ir::Shape;
use crate::vocab::Activation;
use proc_macro2::TokenStream;
use quote::quote;

/// Which convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// `Conv1D`, `Conv2D`: every input channel into every filter.
    Full,
    /// `DepthwiseConv2D`: each channel on its own, `multiplier` outputs each.
    Depthwise,
    /// `SeparableConv2D`: depthwise, then a 1×1 full convolution.
    Separable,
}

macro_rules! conv_kind {
    ($name:ident, $class:literal, $base:literal, $positional:expr, $keywords:expr, $build:ident) => {
        pub const $name: Kind = Kind {
            class: $class,
            function: None,
            called_on: CalledOn::One,
            base: $base,
            positional: $positional,
            keywords: $keywords,
            build: $build,
        };
    };
}

// Positional arguments in Keras's order, up to `data_format`.
const FULL: &[&str] = &["filters", "kernel_size", "strides", "padding"];
const KEYWORDS: &[&str] = &["data_format", "dilation_rate", "activation", "use_bias"];
conv_kind!(
    CONV1D,
    "Conv1D",
    "conv1d",
    FULL,
    &["data_format", "dilation_rate", "groups", "activation", "use_bias"],
    build_conv1d
);
conv_kind!(
    CONV2D,
    "Conv2D",
    "conv2d",
    FULL,
    &["data_format", "dilation_rate", "groups", "activation", "use_bias"],
    build_conv2d
);
conv_kind!(
    DEPTHWISE_CONV2D,
    "DepthwiseConv2D",
    "depthwise_conv2d",
    &["kernel_size", "strides", "padding", "depth_multiplier"],
    KEYWORDS,
    build_depthwise
);
conv_kind!(
    SEPARABLE_CONV2D,
    "SeparableConv2D",
    "separable_conv2d",
    FULL,
    &["data_format", "dilation_rate", "depth_multiplier", "activation", "use_bias"],
    build_separable
);

/// A convolution layer.
#[derive(Clone, Debug)]
pub struct Conv {
    class: &'static str,
    form: Form,
    /// Spatial axes: 1 or 2.
    rank: usize,
    /// Output channels of a full or separable convolution.
    filters: usize,
    multiplier: usize,
    slide: Slide,
    activation: Activation,
    use_bias: bool,
}

fn build_conv1d(a: &mut Args) -> Option<Box<dyn Op>> {
    build(a, "Conv1D", Form::Full, 1)
}

fn build_conv2d(a: &mut Args) -> Option<Box<dyn Op>> {
    build(a, "Conv2D", Form::Full, 2)
}

fn build_depthwise(a: &mut Args) -> Option<Box<dyn Op>> {
    build(a, "DepthwiseConv2D", Form::Depthwise, 2)
}

fn build_separable(a: &mut Args) -> Option<Box<dyn Op>> {
    build(a, "SeparableConv2D", Form::Separable, 2)
}

/// Reads a convolution's arguments; every one is checked before any error
/// stops the layer, so one call reports all its mistakes.
fn build(a: &mut Args, class: &'static str, form: Form, rank: usize) -> Option<Box<dyn Op>> {
    channels_last(a)?;
    if let Some(e) = a.get("groups") {
        if crate::check::args::integer(e) != Some(1) {
            a.ctx.error_expr(e, "only `groups = 1` is supported");
        }
    }
    let filters = if form == Form::Depthwise {
        Some(0)
    } else {
        match a.require("filters", &format!("`{class}` needs `filters`, as in `{class}(32, 3)`")) {
            Some(e) => a.positive(e, "`filters`"),
            None => None,
        }
    };
    let kernel = match a.require("kernel_size", &format!("`{class}` needs `kernel_size`, as in `{class}(32, 3)`")) {
        Some(_) => sizes(a, "kernel_size", rank, None),
        None => None,
    };
    let strides = sizes(a, "strides", rank, Some(1));
    let dilation = sizes(a, "dilation_rate", rank, Some(1));
    let multiplier = if form == Form::Full { Some(Sizes(vec![1])) } else { sizes(a, "depth_multiplier", 1, Some(1)) };
    let padding = padding(a, class == "Conv1D");
    let activation = a.activation("activation", Some(Activation::Linear));
    let use_bias = a.bool("use_bias", true);
    let filters = filters?;
    let slide = Slide { kernel: kernel?, strides: strides?, dilation: dilation?, padding: padding? };
    slide.check_strides_and_dilation(a)?;
    let multiplier = multiplier?.0[0];
    Some(Box::new(Conv {
        class,
        form,
        rank,
        filters,
        multiplier,
        slide,
        activation: activation.unwrap_or(Activation::Linear),
        use_bias,
    }))
}

impl Conv {
    /// Kernel positions: `kh·kw` (or `k`).
    fn taps(&self) -> usize {
        self.slide.kernel.0.iter().product()
    }

    /// The pointwise half of a separable convolution: a 1×1 window over
    /// the depthwise output.
    fn pointwise(&self) -> Slide {
        let ones = Sizes(vec![1; self.rank]);
        Slide { kernel: ones.clone(), strides: ones.clone(), dilation: ones, padding: Padding::Valid }
    }

    /// The depthwise half's output shape (a separable convolution's middle).
    fn middle(&self, input: &Shape, output: &Shape) -> Shape {
        output.with_last(input.last() * self.multiplier)
    }

    /// Scalars per sample of a full convolution's `cols` buffer.
    fn cols(&self, input: &Shape, output: &Shape) -> usize {
        self.slide.geometry(input, output).cols_len()
    }

    /// The full convolution's window, with a compile-time check that the
    /// runtime needs the `cols` buffer this layout gave it.
    fn window_checked(&self, input: &Shape, output: &Shape) -> TokenStream {
        let p = crate::expand::private();
        let w = self.slide.window(input, output);
        let n = lit(self.cols(input, output));
        quote!({
            const __SN_COLS_FIT: () = assert!(#p::ops::conv::cols_len(#w) == #n, "staticnet: the macro and the runtime disagree on a convolution's buffer");
            #w
        })
    }

    fn bias(&self, e: &Emit) -> TokenStream {
        let f = &e.field;
        if self.use_bias {
            quote!(Some(#f.bias.as_slice()))
        } else {
            quote!(None)
        }
    }

    /// The length of the one-sample pass's `cols` array, which
    /// `conv::forward1` makes itself when it needs one.
    fn cols1(&self, e: &Emit) -> TokenStream {
        let n = lit(self.cols(e.in_shapes[0], e.shape()));
        quote!(#n)
    }

    /// `&mut *cols`, or an empty buffer when the convolution needs none.
    fn cols_arg(&self, e: &Emit) -> TokenStream {
        match e.scratch.iter().find(|(r, _)| *r == "cols") {
            Some((_, c)) => quote!(&mut *#c),
            None => quote!(&mut []),
        }
    }

    /// `if __sn_training { Some(pre) } else { None }` when the activation's
    /// derivative needs its input.
    fn pre(&self, e: &Emit, training: bool) -> TokenStream {
        if training && self.activation.needs_input() {
            let pre = e.scratch("pre");
            quote!(if __sn_training { Some(&mut *#pre) } else { None })
        } else {
            quote!(None)
        }
    }

    fn forward_with(&self, e: &Emit, training: bool) -> TokenStream {
        let (p, f, x, o) = (&e.p, &e.field, e.x(0), &e.out);
        let input = e.in_shapes[0];
        let act = act_tokens(p, self.activation);
        let (bias, pre) = (self.bias(e), self.pre(e, training));
        let m = lit(self.multiplier);
        match self.form {
            Form::Full if !training => {
                let (w, filters, cols) = (self.window_checked(input, e.shape()), lit(self.filters), self.cols1(e));
                quote!(#p::ops::conv::forward1::<T, #cols>(#w, #filters, #f.kernel.as_slice(), #bias, None, #act, #x, &mut *#o);)
            }
            Form::Full => {
                let (w, filters, cols) = (self.window_checked(input, e.shape()), lit(self.filters), self.cols_arg(e));
                quote!(#p::ops::conv::forward::<T>(#w, #filters, #f.kernel.as_slice(), #bias, #act, #x, #cols, #pre, &mut *#o);)
            }
            Form::Depthwise => {
                let w = self.slide.window(input, e.shape());
                quote!(#p::ops::depthwise::forward::<T>(#w, #m, #f.kernel.as_slice(), #bias, #act, #x, #pre, &mut *#o);)
            }
            Form::Separable => {
                let middle = self.middle(input, e.shape());
                let (w, w1) = (self.slide.window(input, &middle), self.pointwise().window(&middle, e.shape()));
                let (dw, filters) = (e.scratch("depthwise"), lit(self.filters));
                let linear = act_tokens(p, Activation::Linear);
                quote! {
                    #p::ops::depthwise::forward::<T>(#w, #m, #f.depthwise_kernel.as_slice(), None, #linear, #x, None, &mut *#dw);
                    #p::ops::conv::forward::<T>(#w1, #filters, #f.pointwise_kernel.as_slice(), #bias, #act, &*#dw, &mut [], #pre, &mut *#o);
                }
            }
        }
    }
}

impl Op for Conv {
    fn class(&self) -> &'static str {
        self.class
    }

    fn quantized(&self, inputs: &[&Shape], output: &Shape) -> Option<super::QuantKind> {
        let form = match self.form {
            _ if self.rank != 2 => return None,
            Form::Full => super::ConvForm::Full,
            Form::Depthwise => super::ConvForm::Depthwise,
            Form::Separable => super::ConvForm::Separable,
        };
        Some(super::QuantKind::Conv {
            form,
            filters: self.filters,
            multiplier: self.multiplier,
            geometry: self.slide.geometry(inputs[0], output),
            activation: self.activation,
            use_bias: self.use_bias,
        })
    }

    // A `Conv1D` with stride 1 whose output step `t` reads steps up to `t`
    // only (causal padding, or one tap) streams with the frames its taps
    // reach back to as state.
    fn stream(&self, inputs: &[&Shape]) -> Stream {
        let (k, d) = (self.slide.kernel.0[0], self.slide.dilation.0[0]);
        let causal = self.slide.padding == Padding::Causal || k == 1;
        if self.rank == 1 && self.form == Form::Full && self.slide.strides.0[0] == 1 && causal {
            Stream::Stateful((k - 1) * d * inputs[0].last())
        } else {
            Stream::Whole
        }
    }

    fn step(&self, e: &Emit, state: &TokenStream) -> TokenStream {
        let (p, f, x, o) = (&e.p, &e.field, e.x(0), &e.out);
        let (k, d) = (lit(self.slide.kernel.0[0]), lit(self.slide.dilation.0[0]));
        let (c, filters) = (lit(e.in_shapes[0].last()), lit(self.filters));
        let bias = if self.use_bias { quote!(Some(#f.bias.as_slice())) } else { quote!(None) };
        let act = act_tokens(p, self.activation);
        quote! {
            #p::ops::causal::step::<T, #k, #d, #c, #filters>(#act, #f.kernel.as_slice(), #bias, #state, #x, &mut *#o);
        }
    }

    fn infer(&self, ctx: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        let x = call.input();
        check_rank(ctx, call.span, call.what, self.rank, x)?;
        let spatial = self.slide.out_sizes(ctx, call, "kernel")?;
        let channels = match self.form {
            Form::Depthwise => x.shape.last() * self.multiplier,
            _ => self.filters,
        };
        let mut dims = spatial;
        dims.push(channels);
        let how = match self.class {
            "Conv1D" => "this `Conv1D`",
            "Conv2D" => "this `Conv2D`",
            "DepthwiseConv2D" => "this `DepthwiseConv2D`",
            _ => "this `SeparableConv2D`",
        };
        Some((Shape(dims), Origin { span: call.span, how }))
    }

    fn activation(&self) -> Option<Activation> {
        Some(self.activation)
    }

    fn params(&self, inputs: &[&Shape], _: &Shape) -> Vec<Param> {
        let c = inputs[0].last();
        let k = &self.slide.kernel.0;
        let with = |tail: &[usize]| k.iter().chain(tail).copied().collect::<Vec<usize>>();
        let mut p = match self.form {
            Form::Full => vec![Param::new("kernel", with(&[c, self.filters]))],
            Form::Depthwise => vec![Param::new("kernel", with(&[c, self.multiplier]))],
            Form::Separable => vec![
                Param::new("depthwise_kernel", with(&[c, self.multiplier])),
                Param::new(
                    "pointwise_kernel",
                    vec![1; self.rank].into_iter().chain([c * self.multiplier, self.filters]).collect(),
                ),
            ],
        };
        if self.use_bias {
            let n = if self.form == Form::Depthwise { c * self.multiplier } else { self.filters };
            p.push(Param::new("bias", vec![n]));
        }
        p
    }

    fn param_type(&self, inputs: &[&Shape], _: &Shape) -> Option<ParamType> {
        let p = crate::expand::private();
        let c = inputs[0].last();
        let (taps, m, cm, f) =
            (lit(self.taps() * c), lit(self.multiplier), lit(c * self.multiplier), lit(self.filters));
        let bias = if self.use_bias { "" } else { "NoBias" };
        let (ty, generics, what) = match self.form {
            Form::Full => ("Convolution", quote!(<T, #taps, #f>), "kernel"),
            Form::Depthwise => ("Depthwise", quote!(<T, #taps, #m, #cm>), "kernel"),
            Form::Separable => ("Separable", quote!(<T, #taps, #m, #cm, #f>), "depthwise and pointwise kernels"),
        };
        let ident = quote::format_ident!("{}{}", ty, bias);
        let doc = if self.use_bias {
            format!("({}): {what} and bias.", self.class)
        } else {
            format!("({}): {what}.", self.class)
        };
        Some(ParamType { path: quote!(#p::layers::#ident), generics, doc })
    }

    /// Glorot-uniform kernels with Keras's fans: the kernel positions times
    /// the input and output channels.
    fn init(&self, e: &Emit) -> TokenStream {
        let (p, f) = (&e.p, &e.field);
        let (taps, c) = (self.taps(), e.in_shapes[0].last());
        let glorot = |field: TokenStream, fan_in: usize, fan_out: usize| {
            let (i, o) = (lit(fan_in), lit(fan_out));
            quote!(#p::layers::glorot_uniform(#f.#field.as_mut_slice(), #i, #o, &mut __sn_rng);)
        };
        match self.form {
            Form::Full => glorot(quote!(kernel), taps * c, taps * self.filters),
            Form::Depthwise => glorot(quote!(kernel), taps * c, taps * self.multiplier),
            Form::Separable => {
                let dk = glorot(quote!(depthwise_kernel), taps * c, taps * self.multiplier);
                let pk = glorot(quote!(pointwise_kernel), c * self.multiplier, self.filters);
                quote!(#dk #pk)
            }
        }
    }

    fn buffers(&self, inputs: &[&Shape], output: &Shape) -> Buffers {
        let mut scratch = Vec::new();
        let mut inference = Vec::new();
        match self.form {
            Form::Full => {
                // The one-sample pass leaves it to `conv::forward1`.
                let cols = self.cols(inputs[0], output);
                if cols > 0 {
                    scratch.push(("cols", cols));
                }
            }
            Form::Depthwise => {}
            Form::Separable => {
                let middle = self.middle(inputs[0], output).size();
                scratch.push(("depthwise", middle));
                scratch.push(("depthwise_grad", middle));
                inference.push("depthwise");
            }
        }
        if self.activation.needs_input() {
            scratch.push(("pre", output.size()));
        }
        Buffers { scratch, stats: 0, inference }
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        self.forward_with(e, true)
    }

    fn forward1(&self, e: &Emit) -> TokenStream {
        self.forward_with(e, false)
    }

    fn forward1_folding(&self, e: &Emit, fold: &Fold) -> Option<TokenStream> {
        if self.activation != Activation::Linear {
            return None;
        }
        let (p, f, x, o) = (&e.p, &e.field, e.x(0), &e.out);
        let input = e.in_shapes[0];
        let (c, taps) = (input.last(), self.taps());
        let bias = if self.use_bias { quote!(Some(#f.bias.as_slice())) } else { quote!(None) };
        let act = act_tokens(p, fold.activation);
        let m = lit(self.multiplier);
        Some(match self.form {
            Form::Full => {
                // Applied in the store: folding the kernel into a copy on
                // every call cost more than the smaller layers themselves.
                let (code, s, t) = fold.scale_shift(e, bias, self.filters);
                let (w, filters, cols) = (self.window_checked(input, e.shape()), lit(self.filters), self.cols1(e));
                quote! {
                    #code
                    #p::ops::conv::forward1::<T, #cols>(#w, #filters, #f.kernel.as_slice(), Some(&#t), Some(&#s), #act, #x, &mut *#o);
                }
            }
            Form::Depthwise => {
                let (code, s, t) = fold.scale_shift(e, bias, c * self.multiplier);
                let (w, k) = (self.slide.window(input, e.shape()), lit(taps * c * self.multiplier));
                quote! {
                    #code
                    #p::ops::depthwise::forward1::<T, #k>(#w, #m, #f.kernel.as_slice(), Some(&#t), Some(&#s), #act, #x, &mut *#o);
                }
            }
            Form::Separable => {
                let middle = self.middle(input, e.shape());
                let (w, w1) = (self.slide.window(input, &middle), self.pointwise().window(&middle, e.shape()));
                let (dw, filters) = (e.scratch("depthwise"), lit(self.filters));
                let (code, s, t) = fold.scale_shift(e, bias, self.filters);
                let linear = act_tokens(p, Activation::Linear);
                quote! {
                    #code
                    #p::ops::depthwise::forward::<T>(#w, #m, #f.depthwise_kernel.as_slice(), None, #linear, #x, None, &mut *#dw);
                    #p::ops::conv::forward1::<T, 0>(#w1, #filters, #f.pointwise_kernel.as_slice(), Some(&#t), Some(&#s), #act, &*#dw, &mut *#o);
                }
            }
        })
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let (p, f, x, g, gr) = (&e.p, &e.field, e.x(0), &e.grad, &e.grads);
        let input = e.in_shapes[0];
        let act_back = super::activation_backward(e, self.activation);
        let db = if self.use_bias { quote!(Some(#gr.bias.as_mut_slice())) } else { quote!(None) };
        let (dx, m) = (e.dx(0), lit(self.multiplier));
        let rest = match self.form {
            Form::Full => {
                let (w, filters, cols) = (self.slide.window(input, e.shape()), lit(self.filters), self.cols_arg(e));
                quote!(#p::ops::conv::backward::<T>(#w, #filters, #f.kernel.as_slice(), #x, #cols, &*#g, #gr.kernel.as_mut_slice(), #db, #dx);)
            }
            Form::Depthwise => {
                let w = self.slide.window(input, e.shape());
                quote!(#p::ops::depthwise::backward::<T>(#w, #m, #f.kernel.as_slice(), #x, &*#g, #gr.kernel.as_mut_slice(), #db, #dx);)
            }
            Form::Separable => {
                let middle = self.middle(input, e.shape());
                let (w, w1) = (self.slide.window(input, &middle), self.pointwise().window(&middle, e.shape()));
                let (dw, ddw, filters) = (e.scratch("depthwise"), e.scratch("depthwise_grad"), lit(self.filters));
                quote! {
                    #ddw.fill(<T as #p::Scalar>::of_f64(0.0));
                    #p::ops::conv::backward::<T>(#w1, #filters, #f.pointwise_kernel.as_slice(), &*#dw, &mut [], &*#g, #gr.pointwise_kernel.as_mut_slice(), #db, Some(&mut *#ddw));
                    #p::ops::depthwise::backward::<T>(#w, #m, #f.depthwise_kernel.as_slice(), #x, &*#ddw, #gr.depthwise_kernel.as_mut_slice(), None, #dx);
                }
            }
        };
        quote!(#act_back #rest)
    }
}

#[cfg(test)]
mod tests {
    use crate::check::{errors, run};
    use quote::quote;

    fn shapes(g: &crate::ir::Graph) -> Vec<(String, Vec<usize>)> {
        g.nodes.iter().map(|n| (n.name.clone(), n.shape.0.clone())).collect()
    }

    #[test]
    fn output_shapes_follow_keras_arithmetic() {
        let g = run(quote! {
            pub struct Kws {
                let x = Input(shape = (49, 10, 1));
                let a = Conv2D(64, (10, 4), strides = (2, 2), padding = "same")(x);
                let b = DepthwiseConv2D((3, 3), padding = same, depth_multiplier = 2)(a);
                let c = SeparableConv2D(16, 3, strides = 2)(b);
                let d = Conv2D(8, (3, 2), dilation_rate = (2, 1))(c);
                Model(x, d);
            }
        })
        .unwrap();
        assert_eq!(
            shapes(&g)[1..],
            [
                ("conv2d".into(), vec![25, 5, 64]),
                ("depthwise_conv2d".into(), vec![25, 5, 128]),
                ("separable_conv2d".into(), vec![12, 2, 16]),
                ("conv2d_1".into(), vec![8, 1, 8]),
            ]
        );
        let params: Vec<_> = g.tensors().iter().map(|t| (t.name.clone(), t.param.shape.clone())).collect();
        assert_eq!(params[0], ("conv2d.kernel".to_string(), vec![10, 4, 1, 64]));
        assert_eq!(params[2], ("depthwise_conv2d.kernel".to_string(), vec![3, 3, 64, 2]));
        assert_eq!(params[3], ("depthwise_conv2d.bias".to_string(), vec![128]));
        assert_eq!(params[5], ("separable_conv2d.pointwise_kernel".to_string(), vec![1, 1, 128, 16]));
        let g = run(quote! {
            pub struct Sensor {
                let x = Input((128, 3));
                let a = Conv1D(16, 5, padding = "causal", dilation_rate = 2, activation = relu)(x);
                let b = Conv1D(16, 5, strides = 2, padding = "same")(a);
                let c = Conv1D(8, 3, use_bias = false)(b);
                Model(x, c);
            }
        })
        .unwrap();
        assert_eq!(
            shapes(&g)[1..],
            [("conv1d".into(), vec![128, 16]), ("conv1d_1".into(), vec![64, 16]), ("conv1d_2".into(), vec![62, 8])]
        );
        assert_eq!(g.tensors()[4].param.shape, [3, 16, 8]);
    }

    #[test]
    fn impossible_convolutions_show_the_arithmetic() {
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(shape = (4, 4, 3));
                let s = Input(shape = (4, 3));
                let a = Conv2D(8, (5, 5))(x);
                let b = Conv1D(8, 3, dilation_rate = 2)(s);
                let c = Conv2D(8, 3)(s);
                let d = Conv1D(8, 3)(x);
                let e = Conv2D(8, 3, strides = 2, dilation_rate = 2)(x);
                let f = Conv2D(8, 3, padding = "causal")(x);
                let g = Conv2D(8, 3, padding = "vaild")(x);
                let h = Conv2D(8, (3, 3, 3))(x);
                Model([x, s], [a, b, c, d, e, f, g, h]);
            }
        });
        let has = |m: &str| errs.iter().any(|e| e == m);
        assert!(
            has("`Conv2D` with kernel (5, 5) and `valid` padding needs at least 5×5 positions, `x` has 4×4"),
            "{errs:#?}"
        );
        assert!(
            has("`Conv1D` with kernel 3, dilation 2 and `valid` padding needs at least 5 steps, `s` has 4"),
            "{errs:#?}"
        );
        assert!(has("`Conv2D` works on images (height, width, channels): `s` has shape (4, 3), a sequence; use the 1D form of the layer"), "{errs:#?}");
        assert!(has("`Conv1D` works on sequences (steps, channels): `x` has shape (4, 4, 3), an image; use the 2D form of the layer"), "{errs:#?}");
        assert!(has("`Conv2D` cannot have both `strides` and `dilation_rate` above 1, as in Keras: strides (2, 2), dilation_rate (2, 2)"), "{errs:#?}");
        assert!(has("`padding = \"causal\"` is for `Conv1D` only: `Conv2D` takes \"valid\" or \"same\""), "{errs:#?}");
        assert!(has("unknown padding \"vaild\"; did you mean \"valid\"?"), "{errs:#?}");
        assert!(has("`kernel_size` of `Conv2D` is an integer or a tuple of 2, found 3 values"), "{errs:#?}");
    }
}
