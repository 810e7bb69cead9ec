//! Pooling: `MaxPooling1D/2D` and `AveragePooling1D/2D` (valid or same;
//! same averages only real values) over windows of each channel, and the
//! global poolings `GlobalAveragePooling1D/2D`, `GlobalMaxPooling1D/2D`
//! over every position of a sample.

use super::window::{channels_last, check_rank, padding, sizes, Sizes, Slide};
use super::{lit, same_shape, Call, CalledOn, Emit, Kind, Op, Origin};
use crate::check::args::Args;
use crate::check::ctxt::Ctx;
use crate::ir::Shape;
use proc_macro2::TokenStream;
use quote::quote;

macro_rules! pool_kind {
    ($name:ident, $class:literal, $base:literal, $rank:literal, $max:literal) => {
        pub const $name: Kind = Kind {
            class: $class,
            function: None,
            called_on: CalledOn::One,
            base: $base,
            positional: &["pool_size", "strides", "padding"],
            keywords: &["data_format"],
            build: |a| build_window(a, $class, $rank, $max),
        };
    };
}

macro_rules! global_kind {
    ($name:ident, $class:literal, $base:literal, $rank:literal, $max:literal) => {
        pub const $name: Kind = Kind {
            class: $class,
            function: None,
            called_on: CalledOn::One,
            base: $base,
            positional: &[],
            keywords: &["data_format", "keepdims"],
            build: |a| build_global(a, $class, $rank, $max),
        };
    };
}

pool_kind!(MAX_POOLING1D, "MaxPooling1D", "max_pooling1d", 1, true);
pool_kind!(MAX_POOLING2D, "MaxPooling2D", "max_pooling2d", 2, true);
pool_kind!(AVERAGE_POOLING1D, "AveragePooling1D", "average_pooling1d", 1, false);
pool_kind!(AVERAGE_POOLING2D, "AveragePooling2D", "average_pooling2d", 2, false);
global_kind!(GLOBAL_AVERAGE_POOLING1D, "GlobalAveragePooling1D", "global_average_pooling1d", 1, false);
global_kind!(GLOBAL_AVERAGE_POOLING2D, "GlobalAveragePooling2D", "global_average_pooling2d", 2, false);
global_kind!(GLOBAL_MAX_POOLING1D, "GlobalMaxPooling1D", "global_max_pooling1d", 1, true);
global_kind!(GLOBAL_MAX_POOLING2D, "GlobalMaxPooling2D", "global_max_pooling2d", 2, true);

/// Pooling over sliding windows.
#[derive(Clone, Debug)]
pub struct Pooling {
    class: &'static str,
    rank: usize,
    max: bool,
    slide: Slide,
}

/// Pooling over every position of a sample.
#[derive(Clone, Debug)]
pub struct GlobalPooling {
    class: &'static str,
    rank: usize,
    max: bool,
}

fn build_window(a: &mut Args, class: &'static str, rank: usize, max: bool) -> Option<Box<dyn Op>> {
    channels_last(a)?;
    let pool = sizes(a, "pool_size", rank, Some(2));
    let strides = match a.get("strides") {
        // Keras: strides default to the pool size
        Some(crate::parse::Expr::Ident(i)) if i == "None" => pool.clone(),
        Some(_) => sizes(a, "strides", rank, None),
        None => pool.clone(),
    };
    let padding = padding(a, false);
    let slide = Slide { kernel: pool?, strides: strides?, dilation: Sizes(vec![1; rank]), padding: padding? };
    Some(Box::new(Pooling { class, rank, max, slide }))
}

fn build_global(a: &mut Args, class: &'static str, rank: usize, max: bool) -> Option<Box<dyn Op>> {
    channels_last(a)?;
    if a.get("keepdims").is_some() && a.bool("keepdims", false) {
        let span = a.get("keepdims").map_or(a.span, |e| e.span());
        a.ctx.error(span, format!("`keepdims = true` is not supported: `{class}` gives one value per channel"));
        return None;
    }
    Some(Box::new(GlobalPooling { class, rank, max }))
}

impl Op for Pooling {
    fn class(&self) -> &'static str {
        self.class
    }

    fn quantized(&self, inputs: &[&Shape], output: &Shape) -> Option<super::QuantKind> {
        (self.rank == 2)
            .then(|| super::QuantKind::Pool { max: self.max, geometry: self.slide.geometry(inputs[0], output) })
    }

    fn infer(&self, ctx: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        let x = call.input();
        check_rank(ctx, call.span, call.what, self.rank, x)?;
        let mut dims = self.slide.out_sizes(ctx, call, "pool")?;
        dims.push(x.shape.last());
        Some((Shape(dims), x.origin))
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        let (p, x, o) = (&e.p, e.x(0), &e.out);
        let w = self.slide.window(e.in_shapes[0], e.shape());
        if self.max {
            quote!(#p::ops::pool::max_forward::<T>(#w, #x, &mut *#o);)
        } else {
            quote!(#p::ops::pool::avg_forward::<T>(#w, #x, &mut *#o);)
        }
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let Some(gx) = &e.input_grads[0] else { return quote!() };
        let (p, x, o, g) = (&e.p, e.x(0), &e.out, &e.grad);
        let w = self.slide.window(e.in_shapes[0], e.shape());
        if self.max {
            quote!(#p::ops::pool::max_backward::<T>(#w, #x, &*#o, &*#g, &mut *#gx);)
        } else {
            quote!(#p::ops::pool::avg_backward::<T>(#w, &*#g, &mut *#gx);)
        }
    }
}

impl Op for GlobalPooling {
    fn class(&self) -> &'static str {
        self.class
    }

    fn quantized(&self, _: &[&Shape], _: &Shape) -> Option<super::QuantKind> {
        (self.rank == 2 && !self.max).then_some(super::QuantKind::Mean)
    }

    fn infer(&self, ctx: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        let x = call.input();
        check_rank(ctx, call.span, call.what, self.rank, x)?;
        let (_, origin) = same_shape(call)?;
        Some((Shape::vector(x.shape.last()), origin))
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        let (p, x, o) = (&e.p, e.x(0), &e.out);
        let (positions, channels) = (lit(e.in_shapes[0].positions()), lit(e.in_shapes[0].last()));
        if self.max {
            quote!(#p::ops::pool::global_max_forward::<T>(#positions, #channels, #x, &mut *#o);)
        } else {
            quote!(#p::ops::pool::global_avg_forward::<T>(#positions, #channels, #x, &mut *#o);)
        }
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let Some(gx) = &e.input_grads[0] else { return quote!() };
        let (p, x, o, g) = (&e.p, e.x(0), &e.out, &e.grad);
        let (positions, channels) = (lit(e.in_shapes[0].positions()), lit(e.in_shapes[0].last()));
        if self.max {
            quote!(#p::ops::pool::global_max_backward::<T>(#positions, #channels, #x, &*#o, &*#g, &mut *#gx);)
        } else {
            quote!(#p::ops::pool::global_avg_backward::<T>(#positions, #channels, &*#g, &mut *#gx);)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::{errors, run};
    use quote::quote;

    #[test]
    fn pooling_shapes_and_errors() {
        let g = run(quote! {
            pub struct Pools {
                let x = Input(shape = (9, 7, 4));
                let a = MaxPooling2D()(x);
                let b = AveragePooling2D((3, 3), strides = 2, padding = "same")(x);
                let c = GlobalMaxPooling2D()(b);
                let s = Input((11, 5));
                let d = MaxPooling1D(3, strides = 2)(s);
                let e = GlobalAveragePooling1D()(d);
                Model([x, s], [a, c, e]);
            }
        })
        .unwrap();
        let shapes: Vec<_> = g.nodes.iter().map(|n| n.shape.0.clone()).collect();
        assert_eq!(shapes, [vec![9, 7, 4], vec![4, 3, 4], vec![5, 4, 4], vec![4], vec![11, 5], vec![5, 5], vec![5]]);
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(shape = (2, 2, 4));
                let a = MaxPooling2D((3, 3))(x);
                let b = GlobalAveragePooling1D()(x);
                let c = GlobalMaxPooling2D(keepdims = true)(x);
                Model(x, [a, b, c]);
            }
        });
        assert!(
            errs.contains(
                &"`MaxPooling2D` with pool (3, 3) and `valid` padding needs at least 3×3 positions, `x` has 2×2"
                    .to_string()
            ),
            "{errs:#?}"
        );
        assert!(
            errs.iter().any(|e| e.starts_with(
                "`GlobalAveragePooling1D` works on sequences (steps, channels): `x` has shape (2, 2, 4), an image"
            )),
            "{errs:#?}"
        );
        assert!(errs.iter().any(|e| e.starts_with("`keepdims = true` is not supported")), "{errs:#?}");
    }
}
