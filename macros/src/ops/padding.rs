//! `ZeroPadding1D(padding)` and `ZeroPadding2D(padding)`: zeros around
//! the spatial axes. Keras's forms: an int (every side), a pair (each axis
//! symmetric in 2-D; left and right in 1-D), or `((top, bottom), (left,
//! right))`.

use super::window::{channels_last, check_rank};
use super::{lit, Call, CalledOn, Emit, Kind, Op, Origin};
use crate::check::args::{found_value, integer, Args};
use crate::check::ctxt::Ctx;
use crate::ir::Shape;
use crate::parse::Expr;
use proc_macro2::TokenStream;
use quote::quote;

pub const ZERO_PADDING1D: Kind = Kind {
    class: "ZeroPadding1D",
    function: None,
    called_on: CalledOn::One,
    base: "zero_padding1d",
    positional: &["padding"],
    keywords: &["data_format"],
    build: |a| build(a, "ZeroPadding1D", 1),
};

pub const ZERO_PADDING2D: Kind = Kind {
    class: "ZeroPadding2D",
    function: None,
    called_on: CalledOn::One,
    base: "zero_padding2d",
    positional: &["padding", "data_format"],
    keywords: &[],
    build: |a| build(a, "ZeroPadding2D", 2),
};

/// Zeros `[top, bottom, left, right]` around the spatial axes (1-D: only
/// left and right).
#[derive(Clone, Debug)]
pub struct ZeroPadding {
    class: &'static str,
    rank: usize,
    sides: [usize; 4],
}

/// A non-negative integer.
fn amount(a: &mut Args, e: &Expr) -> Option<usize> {
    match integer(e) {
        Some(v) if v >= 0 => Some(v as usize),
        _ => {
            a.ctx.error_expr(e, format!("a padding must be a non-negative integer, found {}", found_value(e)));
            None
        }
    }
}

fn pair(a: &mut Args, e: &Expr) -> Option<[usize; 2]> {
    match e {
        Expr::Tuple(items, _) | Expr::List(items, _) if items.len() == 2 => {
            Some([amount(a, &items[0])?, amount(a, &items[1])?])
        }
        one => {
            let v = amount(a, one)?;
            Some([v, v])
        }
    }
}

fn build(a: &mut Args, class: &'static str, rank: usize) -> Option<Box<dyn Op>> {
    channels_last(a)?;
    let sides = match a.get("padding") {
        None => [1, 1, 1, 1],
        Some(e) if rank == 1 => {
            let [l, r] = pair(a, e)?;
            [0, 0, l, r]
        }
        Some(e @ (Expr::Tuple(items, _) | Expr::List(items, _))) => {
            if items.len() != 2 {
                a.ctx.error(
                    e.span(),
                    format!(
                        "`padding` of `{class}` is an int, a pair, or a pair of pairs, found {} values",
                        items.len()
                    ),
                );
                return None;
            }
            let [t, b] = pair(a, &items[0])?;
            let [l, r] = pair(a, &items[1])?;
            [t, b, l, r]
        }
        Some(e) => {
            let v = amount(a, e)?;
            [v; 4]
        }
    };
    Some(Box::new(ZeroPadding { class, rank, sides }))
}

impl ZeroPadding {
    /// `in_h, in_w, channels, top, bottom, left, right` for the runtime.
    fn args(&self, input: &Shape) -> TokenStream {
        let (h, w) = if self.rank == 1 { (1, input.0[0]) } else { (input.0[0], input.0[1]) };
        let [t, b, l, r] = self.sides.map(lit);
        let (h, w, c) = (lit(h), lit(w), lit(input.last()));
        quote!(#h, #w, #c, #t, #b, #l, #r)
    }
}

impl Op for ZeroPadding {
    fn class(&self) -> &'static str {
        self.class
    }

    fn infer(&self, ctx: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        let x = call.input();
        check_rank(ctx, call.span, call.what, self.rank, x)?;
        let [t, b, l, r] = self.sides;
        let mut dims = x.shape.0.clone();
        if self.rank == 1 {
            dims[0] += l + r;
        } else {
            dims[0] += t + b;
            dims[1] += l + r;
        }
        Some((Shape(dims), Origin { span: call.span, how: "this zero padding" }))
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        let (p, x, o) = (&e.p, e.x(0), &e.out);
        let args = self.args(e.in_shapes[0]);
        quote!(#p::ops::padding::forward::<T>(#args, #x, &mut *#o);)
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let Some(gx) = &e.input_grads[0] else { return quote!() };
        let (p, g) = (&e.p, &e.grad);
        let args = self.args(e.in_shapes[0]);
        quote!(#p::ops::padding::backward::<T>(#args, &*#g, &mut *#gx);)
    }
}

#[cfg(test)]
mod tests {
    use crate::check::run;
    use quote::quote;

    #[test]
    fn zero_padding_grows_the_spatial_axes() {
        let g = run(quote! {
            pub struct P {
                let x = Input(shape = (8, 8, 2));
                let a = ZeroPadding2D(((1, 2), (2, 1)))(x);
                let b = ZeroPadding2D(1)(x);
                let c = ZeroPadding2D((3, 0))(x);
                let s = Input((5, 3));
                let d = ZeroPadding1D((2, 1))(s);
                Model([x, s], [a, b, c, d]);
            }
        })
        .unwrap();
        let shapes: Vec<_> = g.nodes.iter().map(|n| n.shape.0.clone()).collect();
        assert_eq!(shapes[1..4], [vec![11, 11, 2], vec![10, 10, 2], vec![14, 8, 2]]);
        assert_eq!(shapes[5], vec![8, 3]);
    }
}
