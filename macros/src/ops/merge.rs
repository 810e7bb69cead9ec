//! Merges: the element-wise `add`, `subtract`, `multiply`, `average`,
//! `maximum`, `minimum` (inputs of equal shapes), `concatenate` (on an
//! axis, the others equal) and `dot` (two vectors, one value per sample),
//! each in function form (`add([a, b])`) and class form (`Add()([a, b])`).

use super::{lit, Call, CalledOn, Emit, Kind, Op, Operand, Origin, Stream};
use crate::check::args::{found_value, integer, Args};
use crate::check::ctxt::Ctx;
use crate::ir::Shape;
use crate::parse::Expr;
use crate::vocab::Merge as Elementwise;
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

macro_rules! elementwise {
    ($($konst:ident $variant:ident),* $(,)?) => {
        $(pub const $konst: Kind = Kind {
            class: Elementwise::$variant.names().0,
            function: Some(Elementwise::$variant.names().1),
            called_on: CalledOn::List,
            base: Elementwise::$variant.names().1,
            positional: &[],
            keywords: &[],
            build: |_| Some(Box::new(Merge { op: Elementwise::$variant })),
        };)*
    };
}

elementwise! {
    ADD Add,
    SUBTRACT Subtract,
    MULTIPLY Multiply,
    AVERAGE Average,
    MAXIMUM Maximum,
    MINIMUM Minimum,
}

pub const CONCATENATE: Kind = Kind {
    class: "Concatenate",
    function: Some("concatenate"),
    called_on: CalledOn::List,
    base: "concatenate",
    positional: &[],
    keywords: &["axis"],
    build: build_concatenate,
};

pub const DOT: Kind = Kind {
    class: "Dot",
    function: Some("dot"),
    called_on: CalledOn::List,
    base: "dot",
    positional: &[],
    keywords: &["axes", "normalize"],
    build: build_dot,
};

/// An element-wise merge.
#[derive(Clone, Debug)]
pub struct Merge {
    op: Elementwise,
}

/// `concatenate`, on `axis` as Keras numbers it (0 is the batch).
#[derive(Clone, Debug)]
pub struct Concatenate {
    axis: i64,
    /// The `axis` token (or the layer's).
    span: Span,
}

/// `dot(axes = 1)`: the inner product of two vectors, or their cosine
/// similarity with `normalize`.
#[derive(Clone, Debug)]
pub struct Dot {
    normalize: bool,
}

fn build_concatenate(a: &mut Args) -> Option<Box<dyn Op>> {
    let axis = match a.get("axis") {
        None => -1,
        Some(e) => match integer(e) {
            Some(0) => {
                let what = a.what;
                a.ctx.error(
                    e.span(),
                    format!("`{what}` joins the samples' own axes: `axis` must not be 0 (axis 0 is the batch)"),
                );
                return None;
            }
            Some(v) => v,
            None => {
                a.ctx.error_expr(e, format!("`axis` must be an integer, found {}", e.describe()));
                return None;
            }
        },
    };
    Some(Box::new(Concatenate { axis, span: a.get("axis").map_or(a.span, |e| e.span()) }))
}

fn build_dot(a: &mut Args) -> Option<Box<dyn Op>> {
    if let Some(e) = a.get("axes") {
        let feature = |e: &Expr| matches!(integer(e), Some(1) | Some(-1));
        let ok = match e {
            Expr::Tuple(items, _) | Expr::List(items, _) => items.len() == 2 && items.iter().all(feature),
            other => feature(other),
        };
        if !ok {
            let what = a.what;
            a.ctx.error_expr(
                e,
                format!("`{what}` multiplies feature vectors: `axes` must be 1, -1 or a pair of them, found {} (axis 0 is the batch)", found_value(e)),
            );
        }
    }
    let normalize = a.bool("normalize", false);
    Some(Box::new(Dot { normalize }))
}

/// "needs at least 2 tensors, found 1 (`a`)".
fn count(ctx: &mut Ctx, call: &Call, exact: bool) -> Option<()> {
    let n = call.inputs.len();
    if n >= 2 && (!exact || n == 2) {
        return Some(());
    }
    let need = if exact { "exactly 2 tensors" } else { "at least 2 tensors" };
    let list = call.inputs.iter().map(|o| format!("`{}`", o.name)).collect::<Vec<_>>().join(", ");
    let found = match n {
        0 => "found none".to_string(),
        1 => format!("found 1 ({list})"),
        n => format!("found {n} ({list})"),
    };
    ctx.error(call.span, format!("`{}` needs {need}, {found}", call.what));
    None
}

/// Where `a` and `b` came from, for notes.
fn notes(a: &Operand, b: &Operand, vectors: bool) -> [(Span, String); 2] {
    let has = |o: &Operand| if vectors { o.shape.describe() } else { format!("shape {}", o.shape) };
    [
        (a.origin.span, format!("`{}` has {} from {}", a.name, has(a), a.origin.how)),
        (b.origin.span, format!("`{}` has {} from {}", b.name, has(b), b.origin.how)),
    ]
}

/// Every input has the first one's shape.
fn equal_shapes(ctx: &mut Ctx, call: &Call) -> Option<()> {
    let first = &call.inputs[0];
    let Some(other) = call.inputs[1..].iter().find(|o| o.shape != first.shape) else { return Some(()) };
    let vectors = first.shape.is_vector() && other.shape.is_vector();
    let message = if vectors {
        format!(
            "`{}` needs inputs of equal width: `{}` has {}, `{}` has {}",
            call.what,
            first.name,
            first.shape.describe(),
            other.name,
            other.shape.last()
        )
    } else {
        format!(
            "`{}` needs inputs of equal shape: `{}` has shape {}, `{}` has {}",
            call.what, first.name, first.shape, other.name, other.shape
        )
    };
    ctx.error_with_notes(call.span, message, notes(first, other, vectors));
    None
}

/// The input values, as the runtime's merges take them: `&[a, b, …]`.
fn values(e: &Emit) -> TokenStream {
    let xs = &e.inputs;
    quote!(&[#(#xs),*])
}

/// Each input with a gradient: its index and buffer.
fn with_grads<'e>(e: &'e Emit) -> impl Iterator<Item = (usize, &'e Ident)> {
    e.input_grads.iter().enumerate().filter_map(|(i, g)| g.as_ref().map(|g| (i, g)))
}

impl Op for Merge {
    fn class(&self) -> &'static str {
        self.op.names().0
    }

    fn stream(&self, _: &[&Shape]) -> Stream {
        Stream::PerStep
    }

    fn infer(&self, ctx: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        count(ctx, call, self.op == Elementwise::Subtract)?;
        equal_shapes(ctx, call)?;
        Some((call.inputs[0].shape.clone(), call.inputs[0].origin))
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        let (p, o) = (&e.p, &e.out);
        let v = Ident::new(self.op.names().0, Span::call_site());
        let xs = values(e);
        quote!(#p::ops::merge::forward(#p::ops::merge::Merge::#v, #xs, &mut *#o);)
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let (p, g) = (&e.p, &e.grad);
        let v = Ident::new(self.op.names().0, Span::call_site());
        let parts = with_grads(e).map(|(i, gx)| {
            let xs = values(e);
            quote!(#p::ops::merge::backward(#p::ops::merge::Merge::#v, #xs, #i, &*#g, &mut *#gx);)
        });
        quote!(#(#parts)*)
    }
}

impl Concatenate {
    /// The joined axis as an index into the per-sample shape.
    fn axis_of(&self, rank: usize) -> usize {
        if self.axis < 0 {
            rank.saturating_sub(self.axis.unsigned_abs() as usize)
        } else {
            (self.axis as usize).saturating_sub(1).min(rank.saturating_sub(1))
        }
    }

    /// Rows each input contributes per block, and the output's: the
    /// joined axis times everything after it. A batch is then a sequence
    /// of such blocks (every sample's leading positions), so the same
    /// copy serves every axis.
    fn blocks(&self, inputs: &[&Shape], output: &Shape) -> (Vec<usize>, usize) {
        let a = self.axis_of(output.rank());
        let inner: usize = output.0[a + 1..].iter().product();
        (inputs.iter().map(|s| s.0[a] * inner).collect(), output.0[a] * inner)
    }
}

impl Op for Concatenate {
    fn class(&self) -> &'static str {
        "Concatenate"
    }

    // joined on the channels, each step's are joined on their own
    fn stream(&self, inputs: &[&Shape]) -> Stream {
        let rank = inputs.first().map_or(1, |s| s.rank());
        if self.axis_of(rank) + 1 == rank {
            Stream::PerStep
        } else {
            Stream::Whole
        }
    }

    fn infer(&self, ctx: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        count(ctx, call, false)?;
        let first = &call.inputs[0];
        let rank = first.shape.rank();
        if self.axis.unsigned_abs() as usize > rank {
            let msg = format!(
                "`{}` joins on an axis of the samples: `axis` must be between -{rank} and {rank} (not 0, the batch) for `{}` of shape {}, found {}",
                call.what, first.name, first.shape, self.axis
            );
            ctx.error(self.span, msg);
            return None;
        }
        let a = self.axis_of(rank);
        let fits = |s: &Shape| s.rank() == rank && (0..rank).all(|d| d == a || s.0[d] == first.shape.0[d]);
        if let Some(other) = call.inputs[1..].iter().find(|o| !fits(&o.shape)) {
            ctx.error_with_notes(
                call.span,
                format!(
                    "`{}` joins on axis {} and needs the other axes equal: `{}` has shape {}, `{}` has {}",
                    call.what, self.axis, first.name, first.shape, other.name, other.shape
                ),
                notes(first, other, false),
            );
            return None;
        }
        let mut dims = first.shape.0.clone();
        dims[a] = call.inputs.iter().map(|o| o.shape.0[a]).sum();
        Some((Shape(dims), Origin { span: call.span, how: "this `concatenate`, the sum of its inputs" }))
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        let (p, o) = (&e.p, &e.out);
        let (rows, out_rows) = self.blocks(&e.in_shapes, e.shape());
        let mut offset = 0;
        let parts = rows.iter().enumerate().map(|(i, &r)| {
            let x = e.x(i);
            let (rl, ol, total) = (lit(r), lit(offset), lit(out_rows));
            offset += r;
            quote!(#p::ops::merge::concat_part(#x, #rl, &mut *#o, #total, #ol);)
        });
        quote!(#(#parts)*)
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let (p, g) = (&e.p, &e.grad);
        let (rows, out_rows) = self.blocks(&e.in_shapes, e.shape());
        let offsets: Vec<usize> = rows.iter().scan(0, |at, &r| Some(std::mem::replace(at, *at + r))).collect();
        let parts = with_grads(e).map(|(i, gx)| {
            let (rl, ol, total) = (lit(rows[i]), lit(offsets[i]), lit(out_rows));
            quote!(#p::ops::merge::concat_part_backward(&*#g, #total, #ol, &mut *#gx, #rl);)
        });
        quote!(#(#parts)*)
    }
}

impl Op for Dot {
    fn class(&self) -> &'static str {
        "Dot"
    }

    fn stream(&self, _: &[&Shape]) -> Stream {
        Stream::PerStep
    }

    fn infer(&self, ctx: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        count(ctx, call, true)?;
        if let Some(o) = call.inputs.iter().find(|o| !o.shape.is_vector()) {
            ctx.error(call.span, format!("`{}` multiplies vectors: `{}` has shape {}", call.what, o.name, o.shape));
            return None;
        }
        equal_shapes(ctx, call)?;
        Some((Shape::vector(1), Origin { span: call.span, how: "this `dot`" }))
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        let (p, o) = (&e.p, &e.out);
        let (a, b, n) = (e.x(0), e.x(1), lit(e.in_shapes[0].size()));
        let normalize = self.normalize;
        quote!(#p::ops::merge::dot_forward(#a, #b, #n, #normalize, &mut *#o);)
    }

    fn backward(&self, e: &Emit) -> TokenStream {
        let (p, g) = (&e.p, &e.grad);
        let (a, b, n) = (e.x(0), e.x(1), lit(e.in_shapes[0].size()));
        let normalize = self.normalize;
        let parts = with_grads(e)
            .map(|(i, gx)| quote!(#p::ops::merge::dot_backward(#a, #b, #n, #normalize, #i, &*#g, &mut *#gx);));
        quote!(#(#parts)*)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Origin;

    fn operand(name: &str, dims: &[usize]) -> Operand {
        Operand {
            name: name.into(),
            shape: Shape(dims.to_vec()),
            ids: false,
            origin: Origin { span: Span::call_site(), how: "this test" },
        }
    }

    fn infer(op: &dyn Op, what: &str, inputs: &[Operand]) -> Result<Shape, Vec<String>> {
        let mut ctx = Ctx::default();
        let out = op.infer(&mut ctx, &Call { what, span: Span::call_site(), inputs });
        out.map(|(s, _)| s).ok_or_else(|| ctx.messages())
    }

    #[test]
    fn merges_of_higher_rank_name_their_shapes_as_keras_does() {
        let add = Merge { op: Elementwise::Add };
        let a = operand("a", &[25, 5, 64]);
        let b = operand("b", &[25, 5, 32]);
        assert_eq!(infer(&add, "add", &[a.clone(), a.clone()]).unwrap(), Shape(vec![25, 5, 64]));
        let errs = infer(&add, "add", &[a.clone(), b.clone()]).unwrap_err();
        assert_eq!(errs[0], "`add` needs inputs of equal shape: `a` has shape (25, 5, 64), `b` has (25, 5, 32)");
        assert_eq!(errs[1], "`a` has shape (25, 5, 64) from this test");
        let errs = infer(&add, "add", &[operand("x", &[32]), operand("y", &[16])]).unwrap_err();
        assert_eq!(errs[0], "`add` needs inputs of equal width: `x` has 32 features, `y` has 16");
        assert_eq!(errs[2], "`y` has 16 features from this test");
    }

    #[test]
    fn concatenate_joins_one_axis_and_needs_the_others_equal() {
        let last = Concatenate { axis: -1, span: Span::call_site() };
        let got = infer(&last, "concatenate", &[operand("a", &[10, 8]), operand("b", &[10, 3])]).unwrap();
        assert_eq!(got, Shape(vec![10, 11]));
        let errs = infer(&last, "concatenate", &[operand("a", &[10, 8]), operand("b", &[9, 8])]).unwrap_err();
        assert_eq!(
            errs[0],
            "`concatenate` joins on axis -1 and needs the other axes equal: `a` has shape (10, 8), `b` has (9, 8)"
        );
        let steps = Concatenate { axis: 1, span: Span::call_site() };
        let got = infer(&steps, "concatenate", &[operand("a", &[10, 8]), operand("b", &[4, 8])]).unwrap();
        assert_eq!(got, Shape(vec![14, 8]));
        // blocks: each input's rows per leading position, and the output's
        let (a, b, out) = (Shape(vec![10, 8]), Shape(vec![4, 8]), Shape(vec![14, 8]));
        assert_eq!(steps.blocks(&[&a, &b], &out), (vec![80, 32], 112));
        let (a, b, out) = (Shape(vec![6, 5, 2]), Shape(vec![6, 5, 3]), Shape(vec![6, 5, 5]));
        assert_eq!(last.blocks(&[&a, &b], &out), (vec![2, 3], 5));
    }

    #[test]
    fn dot_takes_two_vectors() {
        let dot = Dot { normalize: false };
        let errs = infer(&dot, "dot", &[operand("a", &[4, 8]), operand("b", &[4, 8])]).unwrap_err();
        assert_eq!(errs[0], "`dot` multiplies vectors: `a` has shape (4, 8)");
        let errs = infer(&dot, "dot", &[operand("a", &[8])]).unwrap_err();
        assert_eq!(errs[0], "`dot` needs exactly 2 tensors, found 1 (`a`)");
    }
}
