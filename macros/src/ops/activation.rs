//! `Activation(relu)`: an activation on its own, element-wise (softmax
//! and log_softmax over the last axis).

use super::{act_tokens, lit, same_shape, Call, CalledOn, Emit, Kind, Op, Origin, Stream};
use crate::check::args::Args;
use crate::check::ctxt::Ctx;
use crate::ir::Shape;
use crate::vocab::Activation;
use proc_macro2::TokenStream;
use quote::quote;

pub const KIND: Kind = Kind {
    class: "Activation",
    function: None,
    called_on: CalledOn::One,
    base: "activation",
    positional: &["activation"],
    keywords: &[],
    build,
};

#[derive(Clone, Debug)]
pub struct ActivationLayer {
    activation: Activation,
}

fn build(a: &mut Args) -> Option<Box<dyn Op>> {
    a.require("activation", "`Activation` needs an activation, as in `Activation(relu)`")?;
    let activation = a.activation("activation", None).unwrap_or(Activation::Linear);
    Some(Box::new(ActivationLayer { activation }))
}

impl Op for ActivationLayer {
    fn class(&self) -> &'static str {
        "Activation"
    }

    fn stream(&self, _: &[&Shape]) -> Stream {
        Stream::PerStep
    }

    fn infer(&self, _: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        same_shape(call)
    }

    fn activation(&self) -> Option<Activation> {
        Some(self.activation)
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        let (p, x, o) = (&e.p, e.x(0), &e.out);
        let act = act_tokens(p, self.activation);
        let rows = lit(e.shape().last());
        quote!(#p::activations::forward(#act, #x, &mut *#o, #rows);)
    }

    fn only_activation(&self) -> Option<Activation> {
        Some(self.activation)
    }

    fn quantized(&self, _: &[&Shape], _: &Shape) -> Option<super::QuantKind> {
        Some(super::QuantKind::Activation(self.activation))
    }

    fn forward1_in_place(&self, e: &Emit) -> Option<TokenStream> {
        let (p, o) = (&e.p, &e.out);
        let act = act_tokens(p, self.activation);
        let rows = lit(e.shape().last());
        Some(quote!(#p::activations::forward_in_place(#act, &mut *#o, #rows);))
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let (p, x, o, g) = (&e.p, e.x(0), &e.out, &e.grad);
        let rows = lit(e.shape().last());
        let act_back = if e.fused {
            quote!()
        } else {
            let act = act_tokens(p, self.activation);
            quote!(#p::activations::backward(#act, #x, &*#o, &mut *#g, #rows);)
        };
        let add = match &e.input_grads[0] {
            Some(gx) => quote!(#p::ops::add_into(&mut *#gx, &*#g);),
            None => quote!(),
        };
        quote!(#act_back #add)
    }
}
