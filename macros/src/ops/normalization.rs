//! `LayerNormalization` (each position over its last axis) and
//! `BatchNormalization` (each channel over the batch and every other axis,
//! with moving statistics for inference). Both have `gamma` (ones) and
//! `beta` (zeros) per channel.

use super::{f64_lit, lit, same_shape, Buffers, Call, CalledOn, Emit, Kind, Op, Origin, Param, ParamType, Stream};
use crate::check::args::Args;
use crate::check::ctxt::Ctx;
use crate::ir::Shape;
use proc_macro2::TokenStream;
use quote::quote;

pub const LAYER_NORMALIZATION: Kind = Kind {
    class: "LayerNormalization",
    function: None,
    called_on: CalledOn::One,
    base: "layer_normalization",
    positional: &[],
    keywords: &["axis", "epsilon", "center", "scale"],
    build: build_layer,
};

pub const BATCH_NORMALIZATION: Kind = Kind {
    class: "BatchNormalization",
    function: None,
    called_on: CalledOn::One,
    base: "batch_normalization",
    positional: &[],
    keywords: &["axis", "momentum", "epsilon", "center", "scale"],
    build: build_batch,
};

#[derive(Clone, Debug)]
pub struct LayerNormalization {
    epsilon: f64,
}

#[derive(Clone, Debug)]
pub struct BatchNormalization {
    momentum: f64,
    epsilon: f64,
}

fn build_layer(a: &mut Args) -> Option<Box<dyn Op>> {
    a.feature_axis("axis");
    a.always_true(&["center", "scale"], "LayerNormalization always has `gamma` and `beta`");
    let epsilon = a.float("epsilon", 1e-3, |v| v > 0.0, "positive");
    Some(Box::new(LayerNormalization { epsilon }))
}

fn build_batch(a: &mut Args) -> Option<Box<dyn Op>> {
    a.feature_axis("axis");
    a.always_true(&["center", "scale"], "BatchNormalization always has `gamma` and `beta`");
    let momentum = a.float("momentum", 0.99, |v| (0.0..=1.0).contains(&v), "in [0, 1]");
    let epsilon = a.float("epsilon", 1e-3, |v| v > 0.0, "positive");
    Some(Box::new(BatchNormalization { momentum, epsilon }))
}

/// `gamma` and `beta`, one per channel.
fn scale_and_offset(channels: usize) -> Vec<Param> {
    vec![Param::new("gamma", vec![channels]), Param::new("beta", vec![channels])]
}

impl Op for LayerNormalization {
    fn class(&self) -> &'static str {
        "LayerNormalization"
    }

    fn stream(&self, _: &[&Shape]) -> Stream {
        Stream::PerStep
    }

    fn infer(&self, _: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        same_shape(call)
    }

    fn params(&self, _: &[&Shape], output: &Shape) -> Vec<Param> {
        scale_and_offset(output.last())
    }

    fn param_type(&self, _: &[&Shape], output: &Shape) -> Option<ParamType> {
        let p = crate::expand::private();
        let n = lit(output.last());
        Some(ParamType {
            path: quote!(#p::layers::LayerNormalization),
            generics: quote!(<T, #n>),
            doc: "(LayerNormalization): gamma and beta.".into(),
        })
    }

    fn init(&self, e: &Emit) -> TokenStream {
        let (p, f) = (&e.p, &e.field);
        quote!(#f = #p::layers::LayerNormalization::initial();)
    }

    /// `x̂`, and `1/σ` per position.
    fn buffers(&self, _: &[&Shape], output: &Shape) -> Buffers {
        Buffers { scratch: vec![("xhat", output.size()), ("inv_std", output.positions())], ..Buffers::default() }
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        let (p, f, x, o) = (&e.p, &e.field, e.x(0), &e.out);
        let (xhat, inv) = (e.scratch("xhat"), e.scratch("inv_std"));
        let (n, eps) = (lit(e.shape().last()), f64_lit(self.epsilon));
        quote!(#p::ops::normalization::layer_norm_forward::<T, #n>(&#f, #eps, #x, &mut *#o, if __sn_training { Some((&mut *#xhat, &mut *#inv)) } else { None });)
    }

    fn forward1(&self, e: &Emit) -> TokenStream {
        let (p, f, x, o) = (&e.p, &e.field, e.x(0), &e.out);
        let (n, eps) = (lit(e.shape().last()), f64_lit(self.epsilon));
        quote!(#p::ops::normalization::layer_norm_forward::<T, #n>(&#f, #eps, #x, &mut *#o, None);)
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let (p, f, g, gr) = (&e.p, &e.field, &e.grad, &e.grads);
        let (xhat, inv) = (e.scratch("xhat"), e.scratch("inv_std"));
        let n = lit(e.shape().last());
        let dx = e.dx(0);
        quote!(#p::ops::normalization::layer_norm_backward::<T, #n>(&#f, &*#xhat, &*#inv, &*#g, &mut #gr, #dx);)
    }
}

impl Op for BatchNormalization {
    fn class(&self) -> &'static str {
        "BatchNormalization"
    }

    fn stream(&self, _: &[&Shape]) -> Stream {
        Stream::PerStep
    }

    fn infer(&self, _: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        same_shape(call)
    }

    fn params(&self, _: &[&Shape], output: &Shape) -> Vec<Param> {
        let n = output.last();
        let mut p = scale_and_offset(n);
        p.push(Param::new("moving_mean", vec![n]).fixed());
        p.push(Param::new("moving_variance", vec![n]).fixed());
        p
    }

    fn param_type(&self, _: &[&Shape], output: &Shape) -> Option<ParamType> {
        let p = crate::expand::private();
        let n = lit(output.last());
        Some(ParamType {
            path: quote!(#p::layers::BatchNormalization),
            generics: quote!(<T, #n>),
            doc: "(BatchNormalization): gamma, beta and moving statistics.".into(),
        })
    }

    fn init(&self, e: &Emit) -> TokenStream {
        let (p, f) = (&e.p, &e.field);
        quote!(#f = #p::layers::BatchNormalization::initial();)
    }

    /// `x̂`, and per channel the batch's mean, variance and `1/σ`.
    fn buffers(&self, _: &[&Shape], output: &Shape) -> Buffers {
        Buffers { scratch: vec![("xhat", output.size())], stats: 3 * output.last(), ..Buffers::default() }
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        let (p, f, x, o) = (&e.p, &e.field, e.x(0), &e.out);
        let xhat = e.scratch("xhat");
        let stats = e.stats();
        let (n, eps) = (lit(e.shape().last()), f64_lit(self.epsilon));
        quote!(#p::ops::normalization::batch_norm_forward::<T, #n>(&#f, #eps, #x, &mut *#o, if __sn_training { Some((&mut *#xhat, &mut #stats)) } else { None });)
    }

    fn forward1(&self, e: &Emit) -> TokenStream {
        let (p, f, x, o) = (&e.p, &e.field, e.x(0), &e.out);
        let (n, eps) = (lit(e.shape().last()), f64_lit(self.epsilon));
        quote!(#p::ops::normalization::batch_norm_forward::<T, #n>(&#f, #eps, #x, &mut *#o, None);)
    }

    fn batch_norm_epsilon(&self) -> Option<f64> {
        Some(self.epsilon)
    }

    fn quantized(&self, _: &[&Shape], _: &Shape) -> Option<super::QuantKind> {
        Some(super::QuantKind::BatchNorm { epsilon: self.epsilon })
    }

    fn forward1_in_place(&self, e: &Emit) -> Option<TokenStream> {
        let (p, f, o) = (&e.p, &e.field, &e.out);
        let (n, eps) = (lit(e.shape().last()), f64_lit(self.epsilon));
        Some(quote!(#p::ops::normalization::batch_norm_inference_in_place::<T, #n>(&#f, #eps, &mut *#o);))
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let (p, f, g, gr) = (&e.p, &e.field, &e.grad, &e.grads);
        let xhat = e.scratch("xhat");
        let stats = e.stats();
        let n = lit(e.shape().last());
        let dx = e.dx(0);
        quote!(#p::ops::normalization::batch_norm_backward::<T, #n>(&#f, &*#xhat, &#stats, &*#g, &mut #gr, #dx);)
    }

    fn moving_update(&self, e: &Emit) -> Option<TokenStream> {
        let (p, f) = (&e.p, &e.field);
        let (a, _) = e.stats.unwrap_or((0, 0));
        let (a, b) = (lit(a), lit(a + 2 * e.shape().last()));
        let m = f64_lit(self.momentum);
        Some(quote!(#f.update_moving(&__sn_stats[#a..#b], <T as #p::Scalar>::of_f64(#m));))
    }
}
