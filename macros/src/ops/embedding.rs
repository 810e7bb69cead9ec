//! `Embedding(input_dim, output_dim)`: each token id of an `int32` input
//! becomes its row of the table `[input_dim, output_dim]` (uniform in
//! ±0.05 at first, as Keras); an id outside `[0, input_dim)` gives zeros.

use super::{lit, Call, CalledOn, Emit, Kind, Op, Origin, Param, ParamType};
use crate::check::args::Args;
use crate::check::ctxt::Ctx;
use crate::ir::Shape;
use proc_macro2::{Span, TokenStream};
use quote::quote;

pub const KIND: Kind = Kind {
    class: "Embedding",
    function: None,
    called_on: CalledOn::One,
    base: "embedding",
    positional: &["input_dim", "output_dim"],
    keywords: &["mask_zero", "input_length"],
    build,
};

#[derive(Clone, Debug)]
pub struct Embedding {
    input_dim: usize,
    output_dim: usize,
    /// The token that gives the output dimension, for notes.
    span: Span,
}

fn build(a: &mut Args) -> Option<Box<dyn Op>> {
    let input_dim =
        match a.require("input_dim", "`Embedding` needs `input_dim`, the number of ids, as in `Embedding(1000, 64)`") {
            Some(e) => a.positive(e, "`input_dim`"),
            None => None,
        };
    let output_dim = match a.require("output_dim", "`Embedding` needs `output_dim`, as in `Embedding(1000, 64)`") {
        Some(e) => a.positive(e, "`output_dim`").map(|d| (d, e.span())),
        None => None,
    };
    if a.get("mask_zero").is_some() && a.bool("mask_zero", false) {
        let span = a.get("mask_zero").map_or(a.span, |e| e.span());
        a.ctx.error(span, "`mask_zero = true` is not supported: staticnet's sequences have no masks");
    }
    let (output_dim, span) = output_dim?;
    Some(Box::new(Embedding { input_dim: input_dim?, output_dim, span }))
}

impl Op for Embedding {
    fn class(&self) -> &'static str {
        "Embedding"
    }

    fn takes_ids(&self) -> Option<usize> {
        Some(self.input_dim)
    }

    fn infer(&self, _: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        let mut dims = call.input().shape.0.clone();
        dims.push(self.output_dim);
        Some((Shape(dims), Origin { span: self.span, how: "the output dimension of this `Embedding`" }))
    }

    fn params(&self, _: &[&Shape], _: &Shape) -> Vec<Param> {
        vec![Param::new("embeddings", vec![self.input_dim, self.output_dim])]
    }

    fn param_type(&self, _: &[&Shape], _: &Shape) -> Option<ParamType> {
        let p = crate::expand::private();
        let (v, d) = (lit(self.input_dim), lit(self.output_dim));
        Some(ParamType {
            path: quote!(#p::layers::Embedding),
            generics: quote!(<T, #v, #d>),
            doc: "(Embedding): the table, a row per id.".into(),
        })
    }

    fn init(&self, e: &Emit) -> TokenStream {
        let (p, f) = (&e.p, &e.field);
        quote!(#p::layers::uniform(#f.embeddings.as_mut_slice(), 0.05, &mut __sn_rng);)
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        let (p, f, x, o) = (&e.p, &e.field, e.x(0), &e.out);
        let (v, d) = (lit(self.input_dim), lit(self.output_dim));
        quote!(#p::ops::embedding::forward::<T>(#v, #d, #f.embeddings.as_slice(), #x, &mut *#o);)
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let (p, x, g, gr) = (&e.p, e.x(0), &e.grad, &e.grads);
        let (v, d) = (lit(self.input_dim), lit(self.output_dim));
        quote!(#p::ops::embedding::backward::<T>(#v, #d, #x, &*#g, #gr.embeddings.as_mut_slice());)
    }
}
