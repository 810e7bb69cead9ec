//! `TimeDistributed(Dense(…))`: the wrapped `Dense` on every step of a
//! sequence, which is what `Dense` does on the last axis anyway; the
//! wrapper keeps Keras's names (`frames.dense.kernel`).

use super::dense::{build_dense, Dense};
use super::{Buffers, Call, CalledOn, Emit, Fold, Kind, Op, Origin, Param, ParamType, Stream};
use crate::check::args::Args;
use crate::check::ctxt::Ctx;
use crate::ir::Shape;
use crate::vocab::Activation;
use proc_macro2::{Span, TokenStream};

pub const KIND: Kind = Kind {
    class: "TimeDistributed",
    function: None,
    called_on: CalledOn::One,
    base: "time_distributed",
    positional: &["layer"],
    keywords: &[],
    build,
};

#[derive(Clone, Debug)]
pub struct TimeDistributed {
    inner: Dense,
    /// The wrapped layer's `name = "…"`, then its Keras name.
    given: Option<(String, Span)>,
    inner_name: String,
}

fn build(a: &mut Args) -> Option<Box<dyn Op>> {
    let inner = a.inner("layer", &["Dense"])?;
    let dense = build_dense(&mut a.nested(&inner))?;
    Some(Box::new(TimeDistributed { inner: dense, given: inner.given, inner_name: String::new() }))
}

impl Op for TimeDistributed {
    fn class(&self) -> &'static str {
        "TimeDistributed"
    }

    fn stream(&self, _: &[&Shape]) -> Stream {
        Stream::PerStep
    }

    fn name_inner(&mut self, namer: &mut dyn FnMut(&'static str, Option<(String, Span)>) -> String) {
        self.inner_name = namer("dense", self.given.take());
    }

    fn infer(&self, ctx: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        let x = call.input();
        if x.shape.is_vector() {
            ctx.error(
                call.span,
                format!(
                    "`{}` applies its layer to every step: `{}` has {}, no steps",
                    call.what,
                    x.name,
                    x.shape.describe()
                ),
            );
            return None;
        }
        self.inner.infer(ctx, call)
    }

    fn activation(&self) -> Option<Activation> {
        self.inner.activation()
    }

    fn params(&self, inputs: &[&Shape], output: &Shape) -> Vec<Param> {
        let mut params = self.inner.params(inputs, output);
        for p in &mut params {
            p.key = format!("{}.{}", self.inner_name, p.key);
        }
        params
    }

    fn param_type(&self, inputs: &[&Shape], output: &Shape) -> Option<ParamType> {
        self.inner
            .param_type(inputs, output)
            .map(|t| ParamType { doc: format!("(TimeDistributed `{}` {}", self.inner_name, &t.doc[1..]), ..t })
    }

    fn init(&self, e: &Emit) -> TokenStream {
        self.inner.init(e)
    }

    fn buffers(&self, inputs: &[&Shape], output: &Shape) -> Buffers {
        self.inner.buffers(inputs, output)
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        self.inner.forward(e)
    }

    fn forward1(&self, e: &Emit) -> TokenStream {
        self.inner.forward1(e)
    }

    fn forward1_folding(&self, e: &Emit, fold: &Fold) -> Option<TokenStream> {
        self.inner.forward1_folding(e, fold)
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        self.inner.backward(e)
    }
}
