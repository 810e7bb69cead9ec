//! What convolutions and pooling share: reading sizes that Keras takes as
//! an int or a tuple (`kernel_size`, `strides`, `dilation_rate`,
//! `pool_size`) and `padding`; Keras's output-size arithmetic, with the
//! error that shows it; and the runtime's `Window` literal.

use super::lit;
use crate::check::args::{found_value, Args};
use crate::check::ctxt::{suggest, Ctx};
use crate::ir::Shape;
use crate::parse::Expr;
use proc_macro2::{Span, TokenStream};
use quote::quote;

/// Keras's `padding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    Valid,
    Same,
    /// Conv1D only: `d·(k−1)` zeros in front.
    Causal,
}

/// Sizes along the spatial axes, as given (an int is repeated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sizes(pub Vec<usize>);

impl Sizes {
    /// `3` for one axis, `(5, 5)` for two, as Keras prints them.
    pub fn keras(&self) -> String {
        match self.0.as_slice() {
            [n] => n.to_string(),
            dims => format!("({})", dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
        }
    }

    pub fn above_one(&self) -> bool {
        self.0.iter().any(|&v| v > 1)
    }
}

/// Reads `key` as an int or a tuple of `rank` ints, each at least 1;
/// `default` when absent, `None` after reporting a bad value.
pub fn sizes(a: &mut Args, key: &str, rank: usize, default: Option<usize>) -> Option<Sizes> {
    let Some(e) = a.get(key) else {
        return default.map(|d| Sizes(vec![d; rank]));
    };
    let items: Vec<&Expr> = match e {
        Expr::Tuple(items, _) | Expr::List(items, _) => items.iter().collect(),
        one => vec![one],
    };
    if items.len() != 1 && items.len() != rank {
        let what = a.what;
        let form = if rank == 1 { "an integer".to_string() } else { format!("an integer or a tuple of {rank}") };
        a.ctx.error(e.span(), format!("`{key}` of `{what}` is {form}, found {} values", items.len()));
        return None;
    }
    let mut out = Vec::new();
    for item in &items {
        out.push(a.positive(item, &format!("`{key}`"))?);
    }
    if out.len() == 1 {
        out = vec![out[0]; rank];
    }
    Some(Sizes(out))
}

/// Reads `padding`: `"valid"`, `"same"` or, where `causal` is allowed,
/// `"causal"`, as a string or an identifier, in any case.
pub fn padding(a: &mut Args, causal: bool) -> Option<Padding> {
    let Some(e) = a.get("padding") else { return Some(Padding::Valid) };
    let (text, span) = match e {
        Expr::Str(s) => (s.value(), s.span()),
        Expr::Ident(i) => (i.to_string(), i.span()),
        other => {
            a.ctx.error(other.span(), format!("`padding` must be \"valid\" or \"same\", found {}", found_value(other)));
            return None;
        }
    };
    match text.to_lowercase().as_str() {
        "valid" => Some(Padding::Valid),
        "same" => Some(Padding::Same),
        "causal" if causal => Some(Padding::Causal),
        "causal" => {
            let what = a.what;
            a.ctx.error(
                span,
                format!("`padding = \"causal\"` is for `Conv1D` only: `{what}` takes \"valid\" or \"same\""),
            );
            None
        }
        _ => {
            let known: &[&str] = if causal { &["valid", "same", "causal"] } else { &["valid", "same"] };
            let hint = suggest(&text, known.iter().copied());
            let hint = if hint.is_empty() {
                format!(": expected {}", known.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(" or "))
            } else {
                hint.replace('`', "\"")
            };
            a.ctx.error(span, format!("unknown padding \"{text}\"{hint}"));
            None
        }
    }
}

/// A window sliding over the spatial axes of its input: sizes, strides,
/// dilations, padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slide {
    pub kernel: Sizes,
    pub strides: Sizes,
    pub dilation: Sizes,
    pub padding: Padding,
}

/// The spatial axes a layer of spatial rank `rank` needs its input to have:
/// `(steps, channels)` for 1, `(height, width, channels)` for 2.
pub fn check_rank(ctx: &mut Ctx, span: Span, what: &str, rank: usize, input: &super::Operand) -> Option<()> {
    if input.shape.rank() == rank + 1 {
        return Some(());
    }
    let (needs, other) =
        if rank == 1 { ("sequences (steps, channels)", "2D") } else { ("images (height, width, channels)", "1D") };
    let has = match input.shape.rank() {
        1 => format!("{}, a vector", input.shape.describe()),
        2 => format!("shape {}, a sequence", input.shape),
        _ => format!("shape {}, an image", input.shape),
    };
    let hint = match (rank, input.shape.rank()) {
        (2, 2) | (1, 3) => format!("; use the {other} form of the layer"),
        _ => String::new(),
    };
    ctx.error(span, format!("`{what}` works on {needs}: `{}` has {has}{hint}", input.name));
    None
}

impl Slide {
    /// The output size along each spatial axis, Keras's arithmetic; an
    /// error at the layer that shows it when the input is too small.
    pub fn out_sizes(&self, ctx: &mut Ctx, call: &super::Call, noun: &str) -> Option<Vec<usize>> {
        let x = call.input();
        let rank = self.kernel.0.len();
        let dims = &x.shape.0[..rank];
        let reach: Vec<usize> = (0..rank).map(|a| self.dilation.0[a] * (self.kernel.0[a] - 1) + 1).collect();
        if self.padding == Padding::Valid && (0..rank).any(|a| dims[a] < reach[a]) {
            let dilated =
                if self.dilation.above_one() { format!(", dilation {}", self.dilation.keras()) } else { String::new() };
            let need = if rank == 1 {
                format!("{} steps", reach[0])
            } else {
                reach.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("×") + " positions"
            };
            let has = dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("×");
            ctx.error(
                call.span,
                format!(
                    "`{}` with {noun} {}{dilated} and `valid` padding needs at least {need}, `{}` has {has}",
                    call.what,
                    self.kernel.keras(),
                    x.name
                ),
            );
            return None;
        }
        Some(
            (0..rank)
                .map(|a| match self.padding {
                    Padding::Valid => (dims[a] - reach[a]) / self.strides.0[a] + 1,
                    Padding::Same | Padding::Causal => dims[a].div_ceil(self.strides.0[a]),
                })
                .collect(),
        )
    }

    /// Zeros before the input along axis `a` of an input `n` long with
    /// `out` outputs: Keras puts `same`'s odd one at the end.
    fn pad_before(&self, a: usize, n: usize, out: usize) -> usize {
        let reach = self.dilation.0[a] * (self.kernel.0[a] - 1) + 1;
        match self.padding {
            Padding::Valid => 0,
            Padding::Causal => reach - 1,
            Padding::Same => ((out - 1) * self.strides.0[a] + reach).saturating_sub(n) / 2,
        }
    }

    /// The runtime's `Window` for this input and output, as numbers.
    pub fn geometry(&self, input: &Shape, output: &Shape) -> Geometry {
        let rank = self.kernel.0.len();
        // 1-D is the 2-D case with height 1.
        let at = |v: &[usize], a: usize| if rank == 1 { [1, v[0]][a] } else { v[a] };
        let (pad_top, pad_left) = if rank == 1 {
            (0, self.pad_before(0, input.0[0], output.0[0]))
        } else {
            (self.pad_before(0, input.0[0], output.0[0]), self.pad_before(1, input.0[1], output.0[1]))
        };
        Geometry {
            in_h: at(&input.0, 0),
            in_w: at(&input.0, 1),
            channels: input.last(),
            out_h: at(&output.0, 0),
            out_w: at(&output.0, 1),
            k_h: at(&self.kernel.0, 0),
            k_w: at(&self.kernel.0, 1),
            stride_h: at(&self.strides.0, 0),
            stride_w: at(&self.strides.0, 1),
            dilation_h: at(&self.dilation.0, 0),
            dilation_w: at(&self.dilation.0, 1),
            pad_top,
            pad_left,
        }
    }

    /// `&Window { … }` for the runtime, from the input and output shapes.
    pub fn window(&self, input: &Shape, output: &Shape) -> TokenStream {
        self.geometry(input, output).tokens()
    }

    /// Keras forbids strides and dilation above 1 together.
    pub fn check_strides_and_dilation(&self, a: &mut Args) -> Option<()> {
        if self.strides.above_one() && self.dilation.above_one() {
            let what = a.what;
            let span = a.get("dilation_rate").map_or(a.span, |e| e.span());
            a.ctx.error(
                span,
                format!(
                    "`{what}` cannot have both `strides` and `dilation_rate` above 1, as in Keras: strides {}, dilation_rate {}",
                    self.strides.keras(),
                    self.dilation.keras()
                ),
            );
            return None;
        }
        Some(())
    }
}

/// The numbers of the runtime's `ops::Window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub in_h: usize,
    pub in_w: usize,
    pub channels: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dilation_h: usize,
    pub dilation_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
}

impl Geometry {
    /// `&::staticnet::__private::ops::Window { … }`, a constant.
    pub fn tokens(&self) -> TokenStream {
        let p = crate::expand::private();
        let f = |v: usize| lit(v);
        let (ih, iw, c, oh, ow) = (f(self.in_h), f(self.in_w), f(self.channels), f(self.out_h), f(self.out_w));
        let (kh, kw, sh, sw) = (f(self.k_h), f(self.k_w), f(self.stride_h), f(self.stride_w));
        let (dh, dw, pt, pl) = (f(self.dilation_h), f(self.dilation_w), f(self.pad_top), f(self.pad_left));
        quote! {
            &#p::ops::Window {
                in_h: #ih, in_w: #iw, channels: #c, out_h: #oh, out_w: #ow, k_h: #kh, k_w: #kw,
                stride_h: #sh, stride_w: #sw, dilation_h: #dh, dilation_w: #dw, pad_top: #pt, pad_left: #pl,
            }
        }
    }

    /// Scalars per sample of a convolution's `cols` buffer: the runtime's
    /// `conv::cols_len` (generated code asserts at compile time that they
    /// agree). None when the product reads the input itself (a 1×1 window
    /// visiting every position once); else a window per output position,
    /// and a zero-bordered copy of a sample when windows reach padding.
    pub fn cols_len(&self) -> usize {
        let reads_input = self.k_h == 1
            && self.k_w == 1
            && self.pad_top == 0
            && self.pad_left == 0
            && self.out_h == self.in_h
            && self.out_w == self.in_w
            && (self.stride_h == 1 || self.out_h == 1)
            && (self.stride_w == 1 || self.out_w == 1);
        if reads_input {
            return 0;
        }
        let span = |out: usize, stride: usize, k: usize, d: usize| {
            if out == 0 {
                0
            } else {
                (out - 1) * stride + (k - 1) * d + 1
            }
        };
        let rows = span(self.out_h, self.stride_h, self.k_h, self.dilation_h);
        let cols = span(self.out_w, self.stride_w, self.k_w, self.dilation_w);
        let padded = if self.pad_top == 0 && self.pad_left == 0 && rows <= self.in_h && cols <= self.in_w {
            0
        } else {
            rows * cols * self.channels
        };
        self.out_h * self.out_w * self.k_h * self.k_w * self.channels + padded
    }
}

/// `data_format`: staticnet's tensors are channels last, as Keras's default.
pub fn channels_last(a: &mut Args) -> Option<()> {
    let Some(e) = a.get("data_format") else { return Some(()) };
    match e {
        Expr::Str(s) if s.value() == "channels_last" => Some(()),
        Expr::Ident(i) if i == "None" => Some(()),
        other => {
            a.ctx.error(
                other.span(),
                format!("only `data_format = \"channels_last\"` is supported (staticnet's tensors are channels last), found {}", found_value(other)),
            );
            None
        }
    }
}
