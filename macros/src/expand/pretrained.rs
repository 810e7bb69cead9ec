//! `PRETRAINED`: the weights of a `weights("…")` file as constants of the
//! struct for `f32` and `f64`, so a `static` of the model lives in
//! read-only memory.

use super::{ident, private};
use crate::ir::Graph;
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

/// The `PRETRAINED` constants, and an `include_bytes!` of the file so that
/// editing it rebuilds the crate.
pub fn pretrained(name: &Ident, g: &Graph) -> TokenStream {
    let Some(pre) = &g.pretrained else { return TokenStream::new() };
    let p = private();
    let specs = g.tensors();
    let path = &pre.path;
    let doc =
        format!("The weights baked in from `{path}` at compile time; a `static` of it lives in read-only memory.");
    let mut impls = Vec::new();
    for ty in ["f32", "f64"] {
        let scalar = format_ident!("{}", ty);
        let num = |v: f64| if ty == "f32" { Literal::f32_suffixed(v as f32) } else { Literal::f64_suffixed(v) };
        let mut fields = Vec::new();
        for (k, node) in g.nodes.iter().enumerate() {
            let Some(param_type) = node.op.param_type(&g.in_shapes(k), &node.shape).filter(|_| g.holds_params(k))
            else {
                continue;
            };
            let f = ident(&node.layer);
            let members = specs.iter().zip(&pre.values).filter(|(s, _)| s.layer == k).map(|(spec, vals)| {
                let var = format_ident!("{}", spec.param.field);
                // Keras's row-major tensor is the column-major matrix whose
                // rows are its last axis: one array per index of the others.
                let rows = *spec.param.shape.last().unwrap_or(&1);
                let columns = vals.chunks(rows.max(1)).map(|col| {
                    let col = col.iter().map(|&v| num(v));
                    quote!([#(#col),*])
                });
                quote!(#var: #p::SMatrix::from_array_storage(#p::ArrayStorage([#(#columns),*])))
            });
            let path = param_type.path;
            fields.push(quote!(#f: #path { #(#members),* }));
        }
        if fields.is_empty() {
            fields.push(quote!(__sn_scalar: ::core::marker::PhantomData));
        }
        impls.push(quote! {
            impl #name<#scalar> {
                #[doc = #doc]
                pub const PRETRAINED: Self = Self { #(#fields),* };
            }
        });
    }
    quote! {
        #(#impls)*
        const _: &[u8] = include_bytes!(#path);
    }
}
