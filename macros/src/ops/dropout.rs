//! `Dropout(rate, seed)`: a reproducible mask in training, the identity
//! in inference.

use super::{f64_lit, lit, same_shape, Buffers, Call, CalledOn, Emit, Kind, Op, Origin, Stream};
use crate::check::args::{found_value, integer, Args};
use crate::check::ctxt::Ctx;
use crate::ir::Shape;
use proc_macro2::TokenStream;
use quote::quote;

pub const KIND: Kind = Kind {
    class: "Dropout",
    function: None,
    called_on: CalledOn::One,
    base: "dropout",
    positional: &["rate"],
    keywords: &["seed"],
    build,
};

#[derive(Clone, Debug)]
pub struct Dropout {
    rate: f64,
}

fn build(a: &mut Args) -> Option<Box<dyn Op>> {
    if let Some(e) = a.get("seed") {
        if integer(e).is_none_or(|v| v < 0) {
            a.ctx.error_expr(e, format!("`seed` must be a non-negative integer, found {}", found_value(e)));
        }
    }
    a.require("rate", "`Dropout` needs a rate, as in `Dropout(0.5)`")?;
    let rate = a.float("rate", 0.0, |v| (0.0..1.0).contains(&v), "in [0, 1)");
    Some(Box::new(Dropout { rate }))
}

impl Op for Dropout {
    fn class(&self) -> &'static str {
        "Dropout"
    }

    fn quantized(&self, _: &[&Shape], _: &Shape) -> Option<super::QuantKind> {
        Some(super::QuantKind::Identity)
    }

    fn stream(&self, _: &[&Shape]) -> Stream {
        Stream::PerStep
    }

    fn infer(&self, _: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        same_shape(call)
    }

    fn buffers(&self, _: &[&Shape], output: &Shape) -> Buffers {
        Buffers { scratch: vec![("mask", output.size())], ..Buffers::default() }
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        let (p, x, o) = (&e.p, e.x(0), &e.out);
        let mask = e.scratch("mask");
        let rate = f64_lit(self.rate);
        let stream = lit(e.index);
        quote! {
            if __sn_training {
                #p::ops::dropout::forward(#rate, __sn_seed, #stream as u64, #x, &mut *#mask, &mut *#o);
            } else {
                #o.copy_from_slice(#x);
            }
        }
    }

    fn forward1(&self, e: &Emit) -> TokenStream {
        let (x, o) = (e.x(0), &e.out);
        quote!(#o.copy_from_slice(#x);)
    }

    /// The identity in inference.
    fn forward1_in_place(&self, _: &Emit) -> Option<TokenStream> {
        Some(quote!())
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let (p, g) = (&e.p, &e.grad);
        let mask = e.scratch("mask");
        match &e.input_grads[0] {
            Some(gx) => quote!(#p::ops::dropout::backward(&*#mask, &*#g, &mut *#gx);),
            None => quote!(),
        }
    }
}
