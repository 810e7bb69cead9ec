//! `Bidirectional(LSTM(…), merge_mode = "concat")`: the wrapped recurrent
//! layer run forwards and, as a copy with its own weights, backwards over
//! the sequence (its outputs aligned with the forward one's), the two
//! merged by concatenation, sum, product or mean. Weights
//! `{layer}.forward.kernel`, `{layer}.backward.kernel`, ….

use super::recurrent::{check_sequence, CellKind, Recurrent};
use super::{lit, Buffers, Call, CalledOn, Emit, Kind, Op, Origin, Param, ParamType};
use crate::check::args::Args;
use crate::check::ctxt::{suggest, Ctx};
use crate::ir::Shape;
use crate::parse::Expr;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};

pub const KIND: Kind = Kind {
    class: "Bidirectional",
    function: None,
    called_on: CalledOn::One,
    base: "bidirectional",
    positional: &["layer", "merge_mode"],
    keywords: &["backward_layer"],
    build,
};

/// How the two directions' outputs combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MergeMode {
    Concat,
    Sum,
    Mul,
    Ave,
}

#[derive(Clone, Debug)]
pub struct Bidirectional {
    inner: Recurrent,
    /// The wrapped layer's class and `name = "…"`, for its Keras name.
    inner_base: &'static str,
    inner_given: Option<(String, Span)>,
    merge: MergeMode,
}

fn build(a: &mut Args) -> Option<Box<dyn Op>> {
    if let Some(e) = a.get("backward_layer") {
        a.ctx.error(e.span(), "`backward_layer` is not supported: the backward copy is the wrapped layer's");
    }
    let merge = match a.get("merge_mode") {
        None => Some(MergeMode::Concat),
        Some(e) => {
            let text = match e {
                Expr::Str(s) => Some(s.value()),
                Expr::Ident(i) => Some(i.to_string()),
                _ => None,
            };
            let modes = [
                ("concat", MergeMode::Concat),
                ("sum", MergeMode::Sum),
                ("mul", MergeMode::Mul),
                ("ave", MergeMode::Ave),
            ];
            match text.as_deref().and_then(|t| modes.iter().find(|(n, _)| *n == t)) {
                Some((_, m)) => Some(*m),
                None => {
                    let t = text.unwrap_or_else(|| e.describe().to_string());
                    let hint = suggest(&t, modes.iter().map(|(n, _)| *n)).replace('`', "\"");
                    a.ctx.error(
                        e.span(),
                        format!("unknown `merge_mode` \"{t}\": \"concat\", \"sum\", \"mul\" or \"ave\"{hint}"),
                    );
                    None
                }
            }
        }
    };
    let inner = a.inner("layer", &["LSTM", "GRU", "SimpleRNN"])?;
    let cell = CellKind::of_class(&inner.name)?;
    let rec = super::recurrent::build(&mut a.nested(&inner), cell);
    let inner_base = match cell {
        CellKind::SimpleRnn => "simple_rnn",
        CellKind::Gru => "gru",
        CellKind::Lstm => "lstm",
    };
    Some(Box::new(Bidirectional { inner: rec?, inner_base, inner_given: inner.given, merge: merge? }))
}

impl Bidirectional {
    /// One direction's parameter fields (`forward_kernel`, …).
    fn fields(&self, at: &TokenStream, direction: &str) -> [TokenStream; 3] {
        ["kernel", "recurrent_kernel", "bias"].map(|v| {
            let f = format_ident!("{direction}_{v}");
            quote!(#at.#f)
        })
    }

    /// One direction's output shape.
    fn half(&self, input: &Shape) -> Shape {
        self.inner.output(input)
    }
}

impl Bidirectional {
    /// Both directions then the merge; `infer` for the one-sample pass,
    /// which shares one inference buffer between the directions.
    fn forward_with(&self, e: &Emit, infer: bool) -> TokenStream {
        let (p, x, o) = (&e.p, e.x(0), &e.out);
        let input = e.in_shapes[0];
        let mut code = TokenStream::new();
        for (direction, reverse) in [("forward", false), ("backward", true)] {
            let w = if infer { e.scratch("infer_work") } else { e.scratch(&format!("{direction}_work")) };
            let h = e.scratch(&format!("{direction}_out"));
            let fields = self.fields(&e.field, direction);
            code.extend(self.inner.forward_call(
                p,
                input,
                reverse,
                fields,
                x,
                &quote!(&mut *#w),
                &quote!(&mut *#h),
                infer,
            ));
        }

        let (f, b) = (e.scratch("forward_out"), e.scratch("backward_out"));
        let units = lit(self.inner.units);
        code.extend(match self.merge {
            MergeMode::Concat => {
                let both = lit(2 * self.inner.units);
                quote! {
                    #p::ops::merge::concat_part(&*#f, #units, &mut *#o, #both, 0);
                    #p::ops::merge::concat_part(&*#b, #units, &mut *#o, #both, #units);
                }
            }
            mode => {
                let v = merge_variant(mode);
                quote!(#p::ops::merge::forward(#p::ops::merge::Merge::#v, &[&*#f, &*#b], &mut *#o);)
            }
        });
        code
    }
}

impl Op for Bidirectional {
    fn class(&self) -> &'static str {
        "Bidirectional"
    }

    fn name_inner(&mut self, namer: &mut dyn FnMut(&'static str, Option<(String, Span)>) -> String) {
        // Keras names the wrapped layer (its copies are `forward_…` and
        // `backward_…`, which the weight names shorten to `forward` and
        // `backward`): its automatic name still counts.
        namer(self.inner_base, self.inner_given.take());
    }

    fn infer(&self, ctx: &mut Ctx, call: &Call) -> Option<(Shape, Origin)> {
        check_sequence(ctx, call, call.what)?;
        let half = self.half(&call.input().shape);
        let shape = if self.merge == MergeMode::Concat { half.with_last(2 * half.last()) } else { half };
        Some((shape, Origin { span: self.inner.span, how: "the units of this `Bidirectional` layer" }))
    }

    fn params(&self, inputs: &[&Shape], _: &Shape) -> Vec<Param> {
        let shapes = self.inner.param_shapes(inputs[0].last());
        let mut out = Vec::new();
        for (direction, fields) in [
            ("forward", ["forward_kernel", "forward_recurrent_kernel", "forward_bias"]),
            ("backward", ["backward_kernel", "backward_recurrent_kernel", "backward_bias"]),
        ] {
            for ((key, shape), field) in shapes.iter().zip(fields) {
                out.push(Param {
                    field,
                    key: format!("{direction}.{key}"),
                    shape: shape.clone(),
                    trainable: true,
                    index: None,
                });
            }
        }
        out
    }

    fn param_type(&self, inputs: &[&Shape], _: &Shape) -> Option<ParamType> {
        let p = crate::expand::private();
        let r = &self.inner;
        let (f, u, gu, br) = (lit(inputs[0].last()), lit(r.units), lit(r.cell.gates() * r.units), lit(r.bias_rows()));
        let (path, generics) = if r.use_bias {
            (quote!(#p::layers::Bidirectional), quote!(<T, #f, #u, #gu, #br>))
        } else {
            (quote!(#p::layers::BidirectionalNoBias), quote!(<T, #f, #u, #gu>))
        };
        Some(ParamType {
            path,
            generics,
            doc: format!("(Bidirectional {}): the forward and backward copies' weights.", r.cell.class()),
        })
    }

    fn init(&self, e: &Emit) -> TokenStream {
        let features = e.in_shapes[0].last();
        let mut code = TokenStream::new();
        for direction in ["forward", "backward"] {
            let [k, r, b] = self.fields(&e.field, direction);
            code.extend(self.inner.init_tokens(&e.p, k, r, self.inner.use_bias.then_some(b), features));
        }
        code
    }

    fn buffers(&self, inputs: &[&Shape], _: &Shape) -> Buffers {
        let (work, half) = (self.inner.work(inputs[0]), self.half(inputs[0]).size());
        Buffers {
            scratch: vec![
                ("forward_work", work),
                ("backward_work", work),
                ("forward_out", half),
                ("backward_out", half),
                ("forward_grad", half),
                ("backward_grad", half),
                ("infer_work", self.inner.infer_work(inputs[0])),
            ],
            inference: vec!["infer_work", "forward_out", "backward_out"],
            ..Buffers::default()
        }
    }

    fn forward(&self, e: &Emit) -> TokenStream {
        self.forward_with(e, false)
    }

    fn forward1(&self, e: &Emit) -> TokenStream {
        self.forward_with(e, true)
    }
    fn backward(&self, e: &Emit) -> TokenStream {
        let (p, x, g, gr) = (&e.p, e.x(0), &e.grad, &e.grads);
        let input = e.in_shapes[0];
        let (f, b) = (e.scratch("forward_out"), e.scratch("backward_out"));
        let (df, db) = (e.scratch("forward_grad"), e.scratch("backward_grad"));
        let units = lit(self.inner.units);
        let split = match self.merge {
            MergeMode::Concat => {
                let both = lit(2 * self.inner.units);
                quote! {
                    #p::ops::merge::concat_part_backward(&*#g, #both, 0, &mut *#df, #units);
                    #p::ops::merge::concat_part_backward(&*#g, #both, #units, &mut *#db, #units);
                }
            }
            mode => {
                let v = merge_variant(mode);
                quote! {
                    #p::ops::merge::backward(#p::ops::merge::Merge::#v, &[&*#f, &*#b], 0, &*#g, &mut *#df);
                    #p::ops::merge::backward(#p::ops::merge::Merge::#v, &[&*#f, &*#b], 1, &*#g, &mut *#db);
                }
            }
        };
        let zero = quote!(<T as #p::Scalar>::of_f64(0.0));
        let mut code = quote! {
            #df.fill(#zero);
            #db.fill(#zero);
            #split
        };
        for (direction, reverse, dout) in [("forward", false, df), ("backward", true, db)] {
            let w = e.scratch(&format!("{direction}_work"));
            let (fields, grads) = (self.fields(&e.field, direction), self.fields(gr, direction));
            code.extend(self.inner.backward_call(
                p,
                input,
                reverse,
                fields,
                grads,
                x,
                &quote!(&mut *#w),
                &quote!(&*#dout),
                &e.dx(0),
            ));
        }
        code
    }
}

/// The runtime's element-wise merge for a merge mode other than concat.
fn merge_variant(mode: MergeMode) -> proc_macro2::Ident {
    let name = match mode {
        MergeMode::Sum | MergeMode::Concat => "Add",
        MergeMode::Mul => "Multiply",
        MergeMode::Ave => "Average",
    };
    proc_macro2::Ident::new(name, Span::call_site())
}
