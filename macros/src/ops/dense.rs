//! `Dense(units, activation, use_bias)`: `y = act(x·W + b)` on the last
//! axis, kernel `[in, units]` (Glorot-uniform), bias `[units]` (zeros).

use super::{act_tokens, lit, Buffers, Call, CalledOn, Emit, Fold, Kind, Op, Origin, Param, ParamType, Stream};
use crate::check::args::Args;
use crate::check::ctxt::Ctx;
use crate::ir::Shape;
use crate::vocab::Activation;
use proc_macro2::{Span, TokenStream};
use quote::quote;

pub const KIND: Kind = Kind {
    class: "Dense",
    function: None,
    called_on: CalledOn::One,
    base: "dense",
    positional: &["units", "activation"],
    keywords: &["use_bias"],
    build,
};

#[derive(Clone, Debug)]
pub struct Dense {
    units: usize,
    /// The token that gives the units, for notes.
    units_span: Span,
    activation: Activation,
    use_bias: bool,
}

fn build(a: &mut Args) -> Option<Box<dyn Op>> {
    build_dense(a).map(|d| Box::new(d) as Box<dyn Op>)
}

/// Reads `Dense`'s arguments (also for the one `TimeDistributed` wraps).
pub fn build_dense(a: &mut Args) -> Option<Dense> {
    let units = match a.get("units") {
        Some(e) => a.positive(e, "`units`").map(|u| (u, e.span())),
        None => {
            a.ctx.error(a.span, "`Dense` needs `units`, as in `Dense(32)`");
            None
        }
    };
    let activation = a.activation("activation", Some(Activation::Linear));
    let use_bias = a.bool("use_bias", true);
    let (units, units_span) = units?;
    // a bad activation (reported) leaves the shape known, so the layers
    // below are still checked
    Some(Dense { units, units_span, activation: activation.unwrap_or(Activation::Linear), use_bias })
}

impl Op for Dense {
    fn class(&self) -> &'static str {
        "Dense"
    }

    fn stream(&self, _: &[&Shape]) -> Stream {
        Stream::PerStep
    }

    fn infer(&self, _: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        let shape = call.input().shape.with_last(self.units);
        Some((shape, Origin { span: self.units_span, how: "the units of this `Dense`" }))
    }

    fn activation(&self) -> Option<Activation> {
        Some(self.activation)
    }

    fn quantized(&self, _: &[&Shape], _: &Shape) -> Option<super::QuantKind> {
        Some(super::QuantKind::Dense { units: self.units, activation: self.activation, use_bias: self.use_bias })
    }

    fn params(&self, inputs: &[&Shape], _: &Shape) -> Vec<Param> {
        let mut p = vec![Param::new("kernel", vec![inputs[0].last(), self.units])];
        if self.use_bias {
            p.push(Param::new("bias", vec![self.units]));
        }
        p
    }

    fn param_type(&self, inputs: &[&Shape], _: &Shape) -> Option<ParamType> {
        let p = crate::expand::private();
        let (i, o) = (lit(inputs[0].last()), lit(self.units));
        let (path, doc) = if self.use_bias {
            (quote!(#p::layers::Dense), "kernel and bias")
        } else {
            (quote!(#p::layers::DenseNoBias), "kernel")
        };
        let class = if self.use_bias { "Dense" } else { "Dense, no bias" };
        Some(ParamType { path, generics: quote!(<T, #i, #o>), doc: format!("({class}): {doc}.") })
    }

    fn init(&self, e: &Emit) -> TokenStream {
        let (p, f) = (&e.p, &e.field);
        let (i, o) = (lit(e.in_shapes[0].last()), lit(self.units));
        quote!(#p::layers::glorot_uniform(#f.kernel.as_mut_slice(), #i, #o, &mut __sn_rng);)
    }

    fn buffers(&self, _: &[&Shape], output: &Shape) -> Buffers {
        let scratch = if self.activation.needs_input() { vec![("pre", output.size())] } else { Vec::new() };
        Buffers { scratch, ..Buffers::default() }
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        let (p, f, x, o) = (&e.p, &e.field, e.x(0), &e.out);
        let (i, u) = (lit(e.in_shapes[0].last()), lit(self.units));
        let bias = self.bias(e);
        let act = act_tokens(p, self.activation);
        let z = if self.activation.needs_input() {
            let pre = e.scratch("pre");
            quote!(if __sn_training { Some(&mut *#pre) } else { None })
        } else {
            quote!(None)
        };
        quote!(#p::ops::dense::forward::<T, #i, #u>(&#f.kernel, #bias, #act, #x, #z, &mut *#o);)
    }

    fn forward1(&self, e: &Emit) -> TokenStream {
        let (p, f, x, o) = (&e.p, &e.field, e.x(0), &e.out);
        let (i, u) = (lit(e.in_shapes[0].last()), lit(self.units));
        let bias = self.bias(e);
        let act = act_tokens(p, self.activation);
        if e.in_shapes[0].is_vector() {
            quote!(#p::ops::dense::forward1::<T, #i, #u>(&#f.kernel, #bias, #act, #x, &mut *#o);)
        } else {
            // one column per position: the batch kernel
            quote!(#p::ops::dense::forward::<T, #i, #u>(&#f.kernel, #bias, #act, #x, None, &mut *#o);)
        }
    }

    fn forward1_folding(&self, e: &Emit, fold: &Fold) -> Option<TokenStream> {
        if self.activation != Activation::Linear {
            return None;
        }
        let (p, f, x, o) = (&e.p, &e.field, e.x(0), &e.out);
        let (i, u) = (e.in_shapes[0].last(), self.units);
        let bias = if self.use_bias { quote!(Some(#f.bias.as_slice())) } else { quote!(None) };
        let (fold_code, k, b) = fold.folded(e, quote!(#f.kernel.as_slice()), bias, i * u, u);
        let act = act_tokens(p, fold.activation);
        let (i, u) = (lit(i), lit(u));
        Some(quote! {
            #fold_code
            #p::ops::dense::forward::<T, #i, #u>(
                &#p::SMatrix::<T, #u, #i>::from_column_slice(&*#k),
                Some(&#p::SVector::<T, #u>::from_column_slice(&*#b)),
                #act, #x, None, &mut *#o,
            );
        })
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let (p, f, x, g, gr) = (&e.p, &e.field, e.x(0), &e.grad, &e.grads);
        let (i, u) = (lit(e.in_shapes[0].last()), lit(self.units));
        let act_back = super::activation_backward(e, self.activation);
        let db = if self.use_bias { quote!(Some(&mut #gr.bias)) } else { quote!(None) };
        let dx = e.dx(0);
        quote! {
            #act_back
            #p::ops::dense::backward::<T, #i, #u>(&#f.kernel, #x, &*#g, &mut #gr.kernel, #db, #dx);
        }
    }
}

impl Dense {
    fn bias(&self, e: &Emit) -> TokenStream {
        let f = &e.field;
        if self.use_bias {
            quote!(Some(&#f.bias))
        } else {
            quote!(None)
        }
    }
}
