//! `{Name}Int8`: the int8 model of `quantize(int8, …)`, its layers the
//! runtime's int8 kernels (`::staticnet::__private::int8`) with constants
//! computed at compile time, `PRETRAINED` in read-only memory, and
//! straight-line `forward_quantized` (i8) and `forward` (f32 at the edges).

use super::{ident, private};
use crate::ir::Graph;
use crate::ops::lit;
use crate::quant::{quantize_multiplier, QLayer, QParams, Weighted};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

fn i8s(v: &[i8]) -> TokenStream {
    let v = v.iter().map(|&x| Literal::i8_unsuffixed(x));
    quote!([#(#v),*])
}

fn i32s(v: &[i32]) -> TokenStream {
    let v = v.iter().map(|&x| Literal::i32_unsuffixed(x));
    quote!([#(#v),*])
}

fn params(p: &TokenStream, q: QParams) -> TokenStream {
    let (s, z) = (Literal::f32_suffixed(q.scale), Literal::i32_suffixed(q.zero_point));
    quote!(#p::int8::QuantParams { scale: #s, zero_point: #z })
}

/// The `Requant` of a product.
fn requant(p: &TokenStream, q: &Weighted) -> TokenStream {
    let (b, m, s) = (i32s(&q.bias), i32s(&q.multiplier), i32s(&q.shift));
    let (izp, ozp) = (Literal::i32_unsuffixed(q.input_zero_point), Literal::i32_unsuffixed(q.output_zero_point));
    let (lo, hi) = (Literal::i8_unsuffixed(q.act_min), Literal::i8_unsuffixed(q.act_max));
    quote! {
        #p::int8::Requant {
            bias: #b, multiplier: #m, shift: #s,
            input_zero_point: #izp, output_zero_point: #ozp, act_min: #lo, act_max: #hi,
        }
    }
}

/// The struct, its constants and its passes.
pub fn int8(vis: &syn::Visibility, name: &Ident, g: &Graph) -> TokenStream {
    let Some(plan) = &g.int8 else { return TokenStream::new() };
    let p = private();
    let qname = format_ident!("{}Int8", name);
    let (n_in, n_out) = (lit(plan.input_len), lit(plan.output_len));
    let mut decls = Vec::new();
    let mut values = Vec::new();
    let mut pass = Vec::new();
    let mut last = format_ident!("__sn_q0");
    for (k, layer) in plan.layers.iter().enumerate() {
        let out = format_ident!("__sn_q{}", k + 1);
        match layer {
            QLayer::Dense { name, inputs, units, q } => {
                let f = ident(name);
                let (i, o) = (lit(*inputs), lit(*units));
                let doc = format!("Layer `{name}`: int8 `Dense` {inputs} → {units}.");
                decls.push(quote!(#[doc = #doc] pub #f: #p::int8::QDense<#i, #o>));
                let kernel = q.kernel_by_output(*inputs, *units);
                let rows = kernel.chunks(*inputs).map(i8s);
                let b = i32s(&q.bias);
                let (mult, shift): (Vec<i32>, Vec<i32>) = q.real.iter().map(|&v| quantize_multiplier(v)).unzip();
                let (mult, shift) = (i32s(&mult), i32s(&shift));
                let (izp, ozp) =
                    (Literal::i32_unsuffixed(q.input_zero_point), Literal::i32_unsuffixed(q.output_zero_point));
                let (lo, hi) = (Literal::i8_unsuffixed(q.act_min), Literal::i8_unsuffixed(q.act_max));
                values.push(quote! {
                    #f: #p::int8::QDense {
                        kernel: [#(#rows),*], bias: #b, multiplier: #mult, shift: #shift,
                        input_zero_point: #izp, output_zero_point: #ozp, act_min: #lo, act_max: #hi,
                    }
                });
                pass.push(quote! {
                    let mut #out = [0i8; #o];
                    self.#f.forward(&#last, &mut #out);
                });
            }
            QLayer::Conv { name, geometry, depthwise, rows, channels, out_len, q } => {
                let f = ident(name);
                let (kl, o, n) = (lit(rows * channels), lit(*channels), lit(*out_len));
                let window = geometry.tokens();
                let rq = requant(&p, q);
                if *depthwise {
                    let doc = format!("Layer `{name}`: int8 `DepthwiseConv2D` into {channels} channels.");
                    decls.push(quote!(#[doc = #doc] pub #f: #p::int8::QDepthwiseConv2D<#kl, #o>));
                    let kernel = i8s(&q.kernel);
                    let dm = lit(channels / geometry.channels.max(1));
                    values.push(quote! {
                        #f: #p::int8::QDepthwiseConv2D { kernel: #kernel, depth_multiplier: #dm, requant: #rq, window: *#window }
                    });
                } else {
                    let doc = format!("Layer `{name}`: int8 `Conv2D` into {channels} channels.");
                    decls.push(quote!(#[doc = #doc] pub #f: #p::int8::QConv2D<#kl, #o>));
                    let kernel = i8s(&q.kernel_by_output(*rows, *channels));
                    values.push(quote! {
                        #f: #p::int8::QConv2D { kernel: #kernel, requant: #rq, window: *#window }
                    });
                }
                pass.push(quote! {
                    let mut #out = [0i8; #n];
                    self.#f.forward(&#last, &mut #out);
                });
            }
            QLayer::Mean { name, positions, channels, multiplier, shift, input_zero_point, output_zero_point } => {
                let f = ident(name);
                let c = lit(*channels);
                let doc = format!("Layer `{name}`: int8 mean over {positions} positions.");
                decls.push(quote!(#[doc = #doc] pub #f: #p::int8::QMean<#c>));
                let (pos, m, s) =
                    (lit(*positions), Literal::i32_unsuffixed(*multiplier), Literal::i32_unsuffixed(*shift));
                let (izp, ozp) =
                    (Literal::i32_unsuffixed(*input_zero_point), Literal::i32_unsuffixed(*output_zero_point));
                values.push(quote! {
                    #f: #p::int8::QMean { positions: #pos, multiplier: #m, shift: #s, input_zero_point: #izp, output_zero_point: #ozp }
                });
                pass.push(quote! {
                    let mut #out = [0i8; #c];
                    self.#f.forward(&#last, &mut #out);
                });
            }
            QLayer::Pool { name, max, geometry, out_len } => {
                let f = ident(name);
                let n = lit(*out_len);
                let doc = format!("Layer `{name}`: int8 {} pooling.", if *max { "max" } else { "average" });
                decls.push(quote!(#[doc = #doc] pub #f: #p::int8::QPool2D));
                let window = geometry.tokens();
                values.push(quote! {
                    #f: #p::int8::QPool2D { max: #max, window: *#window, act_min: -128, act_max: 127 }
                });
                pass.push(quote! {
                    let mut #out = [0i8; #n];
                    self.#f.forward(&#last, &mut #out);
                });
            }
            QLayer::Softmax { name, len, input_multiplier, input_left_shift, diff_min } => {
                let f = ident(name);
                let doc = format!("`{name}`: int8 softmax over {len} values (output scale 1/256, zero point −128).");
                decls.push(quote!(#[doc = #doc] pub #f: #p::int8::QSoftmax));
                let (m, s, d) = (
                    Literal::i32_unsuffixed(*input_multiplier),
                    Literal::i32_unsuffixed(*input_left_shift),
                    Literal::i32_unsuffixed(*diff_min),
                );
                values.push(quote! {
                    #f: #p::int8::QSoftmax { input_multiplier: #m, input_left_shift: #s, diff_min: #d }
                });
                let n = lit(*len);
                pass.push(quote! {
                    let mut #out = [0i8; #n];
                    self.#f.forward(&#last, &mut #out);
                });
            }
        }
        last = out;
    }
    let (input_q, output_q) = (params(&p, plan.input), params(&p, plan.output));
    let doc = format!(
        "The int8 model of [`{name}`] (TFLite's scheme: per-channel symmetric int8 weights, asymmetric int8 \
         activations, int32 bias and accumulation, fixed-point requantization), {}. Generated by \
         `quantize(int8, …)`.",
        plan.origin
    );
    let files = &plan.files;
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug, PartialEq)]
        #vis struct #qname {
            #(#decls,)*
        }

        impl #qname {
            /// The quantized weights and requantization constants, computed at compile time;
            /// a `static` of it lives in read-only memory.
            pub const PRETRAINED: Self = Self { #(#values,)* };
            /// The input's quantization (`forward` quantizes with it).
            pub const INPUT_QUANT: #p::int8::QuantParams = #input_q;
            /// The output's quantization (`forward` dequantizes with it).
            pub const OUTPUT_QUANT: #p::int8::QuantParams = #output_q;

            /// Runs the int8 model on one quantized sample (flattened row-major, as
            /// `forward`'s): TFLite's integer arithmetic throughout, no allocation.
            pub fn forward_quantized(&self, x: &#p::SVector<i8, #n_in>) -> #p::SVector<i8, #n_out> {
                let __sn_q0: [i8; #n_in] = x.data.0[0];
                #(#pass)*
                #p::SVector::from_array_storage(#p::ArrayStorage([#last]))
            }

            /// Runs the int8 model on one `f32` sample: quantizes it with
            /// [`Self::INPUT_QUANT`], runs [`Self::forward_quantized`] and dequantizes
            /// the result with [`Self::OUTPUT_QUANT`].
            pub fn forward(&self, x: &#p::SVector<f32, #n_in>) -> #p::SVector<f32, #n_out> {
                let q = Self::INPUT_QUANT;
                let xq = #p::SVector::<i8, #n_in>::from_fn(|i, _| q.quantize(x[i]));
                let y = self.forward_quantized(&xq);
                let o = Self::OUTPUT_QUANT;
                #p::SVector::<f32, #n_out>::from_fn(|i, _| o.dequantize(y[i]))
            }
        }

        #(const _: &[u8] = include_bytes!(#files);)*
    }
}
