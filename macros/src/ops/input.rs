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
    /// Token ids (`dtype = "int32"`) rather than values.
    ids: bool,
    /// The `None` of `Input(shape = (None, channels))`: steps without a
    /// length, for a model that runs step by step (held as one step).
    varies: Option<Span>,
}

fn build(a: &mut Args) -> Option<Box<dyn Op>> {
    if let Some(e) = a.get("batch_size") {
        a.ctx.error(
            e.span(),
            "`Input` does not support `batch_size` here: the batch size is chosen when the network is used",
        );
    }
    let ids = match a.get("dtype") {
        None => false,
        Some(e) => match e {
            Expr::Str(s) if ["int32", "int64", "uint32"].contains(&s.value().as_str()) => true,
            Expr::Str(s) if ["float32", "float64"].contains(&s.value().as_str()) => false,
            other => {
                a.ctx.error(
                    other.span(),
                    "`dtype` is \"int32\" for token ids, or \"float32\"/\"float64\" (the scalar type is chosen when the network is used)",
                );
                false
            }
        },
    };
    let e = a.require("shape", "`Input` needs a shape, as in `Input(64)` or `Input(shape = (49, 10, 1))`")?;
    let (shape, span, varies) = shape_of(a, e)?;
    if let (Some(none), true) = (varies, ids) {
        a.ctx.error(none, "token ids cannot stream: `None` steps are for an input of values `(None, channels)`");
        return None;
    }
    Some(Box::new(Input { shape, span, ids, varies }))
}

/// An input's shape, `(64,)`, `(128, 3)`, `(None, 3)` or `(49, 10, 1)` (a
/// bare int is a vector), the token that gives it, and the `None` of steps
/// without a length.
fn shape_of(a: &mut Args, e: &Expr) -> Option<(Shape, Span, Option<Span>)> {
    let items: Vec<&Expr> = match e {
        Expr::Tuple(items, _) | Expr::List(items, _) => items.iter().collect(),
        one => return a.positive(one, "an `Input`'s width").map(|w| (Shape::vector(w), one.span(), None)),
    };
    if items.is_empty() || items.len() > 3 {
        a.ctx.error(
            e.span(),
            format!(
                "an `Input`'s shape has 1 to 3 dimensions, as in `(64,)`, `(128, 3)` or `(49, 10, 1)`, found {}",
                items.len()
            ),
        );
        return None;
    }
    // a vector's note points at its width, as `Input(64)`'s does
    let span = if items.len() == 1 { items[0].span() } else { e.span() };
    let mut dims = Vec::new();
    let mut varies = None;
    let rank = items.len();
    for (axis, item) in items.into_iter().enumerate() {
        if matches!(item, Expr::Ident(i) if i == "None") {
            if axis == 0 && rank == 2 {
                // a sequence of any length, run step by step: held as one step
                varies = Some(item.span());
                dims.push(1);
                continue;
            }
            a.ctx.error(
                item.span(),
                "`None` is allowed only for the steps of a sequence, `(None, channels)`, in a model that runs step by step: give the length, as in `Input(shape = (128, 3))`",
            );
            return None;
        }
        let what = if dims.is_empty() && matches!(e, Expr::Tuple(v, _) | Expr::List(v, _) if v.len() == 1) {
            "an `Input`'s width"
        } else {
            "a dimension of an `Input`'s shape"
        };
        dims.push(a.positive(item, what)?);
    }
    if dims.iter().product::<usize>() > 1 << 24 {
        a.ctx.error(e.span(), format!("an `Input` of shape {} is too large for a fixed-size network", Shape(dims)));
        return None;
    }
    Some((Shape(dims), span, varies))
}

impl Op for Input {
    fn class(&self) -> &'static str {
        "InputLayer"
    }

    fn infer(&self, _: &mut Ctx, _: &Call) -> Option<(Shape, Origin)> {
        let how = if self.shape.is_vector() { "the width of this `Input`" } else { "the shape of this `Input`" };
        Some((self.shape.clone(), Origin { span: self.span, how }))
    }

    fn is_input(&self) -> bool {
        true
    }

    fn quantized(&self, _: &[&Shape], _: &Shape) -> Option<super::QuantKind> {
        (!self.ids).then_some(super::QuantKind::Input)
    }

    fn makes_ids(&self) -> bool {
        self.ids
    }

    fn varying_steps(&self) -> Option<Span> {
        self.varies
    }

    // The model's inputs are slices the caller passes: nothing to compute.
    fn forward(&self, _: &Emit) -> TokenStream {
        TokenStream::new()
    }

    fn backward(&self, _: &Emit) -> TokenStream {
        TokenStream::new()
    }
}
