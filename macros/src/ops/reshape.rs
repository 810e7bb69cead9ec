//! `Flatten()` and `Reshape(target_shape)` (one `-1` allowed): the same
//! values per sample, read in a new shape. A sample is stored row-major,
//! so both are plain copies.

use super::window::channels_last;
use super::{Call, CalledOn, Emit, Kind, Op, Origin};
use crate::check::args::{found_value, integer, Args};
use crate::check::ctxt::Ctx;
use crate::ir::Shape;
use crate::parse::Expr;
use proc_macro2::{Span, TokenStream};
use quote::quote;

pub const FLATTEN: Kind = Kind {
    class: "Flatten",
    function: None,
    called_on: CalledOn::One,
    base: "flatten",
    positional: &[],
    keywords: &["data_format"],
    build: |a| {
        channels_last(a)?;
        Some(Box::new(Reshape { class: "Flatten", dims: None, span: a.span }))
    },
};

pub const RESHAPE: Kind = Kind {
    class: "Reshape",
    function: None,
    called_on: CalledOn::One,
    base: "reshape",
    positional: &["target_shape"],
    keywords: &[],
    build: build_reshape,
};

/// A reshape; `dims` is `None` for `Flatten`, and a `-1` is `None` in it.
#[derive(Clone, Debug)]
pub struct Reshape {
    class: &'static str,
    dims: Option<Vec<Option<usize>>>,
    /// The target shape's token.
    span: Span,
}

fn build_reshape(a: &mut Args) -> Option<Box<dyn Op>> {
    let e = a.require("target_shape", "`Reshape` needs a target shape, as in `Reshape((5, 2))`")?;
    let items: Vec<&Expr> = match e {
        Expr::Tuple(items, _) | Expr::List(items, _) => items.iter().collect(),
        one => vec![one],
    };
    if items.is_empty() || items.len() > 3 {
        a.ctx.error(e.span(), format!("`Reshape` takes 1 to 3 dimensions, found {}", items.len()));
        return None;
    }
    let mut dims = Vec::new();
    for item in items {
        match integer(item) {
            Some(-1) => dims.push(None),
            _ => dims.push(Some(a.positive(item, "a dimension of `Reshape`")?)),
        }
    }
    if dims.iter().filter(|d| d.is_none()).count() > 1 {
        a.ctx.error_expr(e, format!("`Reshape` takes at most one `-1`, found {}", found_value(e)));
        return None;
    }
    Some(Box::new(Reshape { class: "Reshape", dims: Some(dims), span: e.span() }))
}

impl Op for Reshape {
    fn class(&self) -> &'static str {
        self.class
    }

    fn quantized(&self, _: &[&Shape], _: &Shape) -> Option<super::QuantKind> {
        Some(super::QuantKind::Identity)
    }

    fn infer(&self, ctx: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        let x = call.input();
        let size = x.shape.size();
        let origin = Origin { span: self.span, how: "this `Reshape`" };
        let Some(dims) = &self.dims else {
            return Some((Shape::vector(size), Origin { span: call.span, how: "this `Flatten`" }));
        };
        let known: usize = dims.iter().flatten().product();
        let written = format!(
            "({}{})",
            dims.iter().map(|d| d.map_or("-1".to_string(), |d| d.to_string())).collect::<Vec<_>>().join(", "),
            if dims.len() == 1 { "," } else { "" }
        );
        let has = if x.shape.is_vector() { x.shape.describe() } else { format!("shape {}: {size} values", x.shape) };
        if dims.contains(&None) {
            if !size.is_multiple_of(known) {
                ctx.error(
                    call.span,
                    format!(
                        "`Reshape` to {written} needs a multiple of {known} values per sample, `{}` has {has}",
                        x.name
                    ),
                );
                return None;
            }
            let shape = Shape(dims.iter().map(|d| d.unwrap_or(size / known)).collect());
            return Some((shape, origin));
        }
        if known != size {
            ctx.error(
                call.span,
                format!("`Reshape` to {written} needs {known} values per sample, `{}` has {has}", x.name),
            );
            return None;
        }
        Some((Shape(dims.iter().flatten().copied().collect()), origin))
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        let (x, o) = (e.x(0), &e.out);
        quote!(#o.copy_from_slice(#x);)
    }

    /// The same values in the same order: nothing to do.
    fn forward1_in_place(&self, _: &Emit) -> Option<TokenStream> {
        Some(quote!())
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let (p, g) = (&e.p, &e.grad);
        match &e.input_grads[0] {
            Some(gx) => quote!(#p::ops::add_into(&mut *#gx, &*#g);),
            None => quote!(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::{errors, run};
    use quote::quote;

    #[test]
    fn reshape_keeps_the_values_per_sample() {
        let g = run(quote! {
            pub struct R {
                let x = Input(shape = (4, 6));
                let a = Reshape((3, -1))(x);
                let b = Flatten()(a);
                let c = Reshape((2, 3, 4))(b);
                Model(x, c);
            }
        })
        .unwrap();
        let shapes: Vec<_> = g.nodes.iter().map(|n| n.shape.0.clone()).collect();
        assert_eq!(shapes, [vec![4, 6], vec![3, 8], vec![24], vec![2, 3, 4]]);
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(shape = (4, 4));
                let a = Reshape((5, 3))(x);
                let b = Reshape((-1, 5))(x);
                let c = Reshape((-1, -1))(x);
                Model(x, [a, b, c]);
            }
        });
        assert_eq!(
            errs,
            [
                "`Reshape` to (5, 3) needs 15 values per sample, `x` has shape (4, 4): 16 values",
                "`Reshape` to (-1, 5) needs a multiple of 5 values per sample, `x` has shape (4, 4): 16 values",
                "`Reshape` takes at most one `-1`, found a tuple",
            ]
        );
    }
}
