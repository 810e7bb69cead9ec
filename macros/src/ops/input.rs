//! `Input(64)`, `Input(shape = (64,), name = "text")`: a model input.

use super::{Call, CalledOn, Emit, Kind, Op, Origin};
use crate::check::args::Args;
use crate::check::ctxt::Ctx;
use crate::ir::Shape;
use crate::parse::Expr;
use proc_macro2::{Span, TokenStream};

pub const KIND: Kind = Kind {
    class: "Input",
    function: None,
    called_on: CalledOn::Nothing,
    base: "input_layer",
    positional: &["shape"],
    keywords: &["batch_size", "dtype"],
    build,
};

/// An input of the model.
#[derive(Clone, Debug)]
pub struct Input {
    shape: Shape,
    /// The token that gives the shape.
    span: Span,
}

fn build(a: &mut Args) -> Option<Box<dyn Op>> {
    for k in ["batch_size", "dtype"] {
        if let Some(e) = a.get(k) {
            a.ctx.error(e.span(), format!("`Input` does not support `{k}` here: the scalar type and batch size are chosen when the network is used"));
        }
    }
    let e = a.require("shape", "`Input` needs a width, as in `Input(64)` or `Input(shape = (64,))`")?;
    let (width, span) = width_of(a, e)?;
    Some(Box::new(Input { shape: Shape::vector(width), span }))
}

/// An input's width and the token that gives it.
fn width_of(a: &mut Args, e: &Expr) -> Option<(usize, Span)> {
    match e {
        Expr::Tuple(items, span) | Expr::List(items, span) => {
            if items.len() != 1 {
                a.ctx.error(
                    *span,
                    format!(
                        "staticnet's inputs are vectors: `shape` must have one dimension, as in `(64,)`, found {} dimensions",
                        items.len()
                    ),
                );
                return None;
            }
            width_of(a, &items[0])
        }
        _ => a.positive(e, "an `Input`'s width").map(|w| (w, e.span())),
    }
}

impl Op for Input {
    fn class(&self) -> &'static str {
        "InputLayer"
    }

    fn infer(&self, _: &mut Ctx, _: &Call) -> Option<(Shape, Origin)> {
        Some((self.shape.clone(), Origin { span: self.span, how: "the width of this `Input`" }))
    }

    fn is_input(&self) -> bool {
        true
    }

    // The model's inputs are slices the caller passes: nothing to compute.
    fn forward(&self, _: &Emit) -> TokenStream {
        TokenStream::new()
    }

    fn backward(&self, _: &Emit) -> TokenStream {
        TokenStream::new()
    }
}
