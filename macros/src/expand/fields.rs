//! The struct's parameter fields, one per layer with weights, and what
//! goes with them: zeroed and initial values, the tensor table in Keras's
//! names and shapes, access to each tensor, and moving-statistics updates.

use super::pass::Locals;
use super::{ident, private};
use crate::ir::{Graph, Layout};
use crate::ops::lit;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The pieces of the struct and its impls that follow its fields.
#[derive(Default)]
pub struct Fields {
    /// `#[doc = …] pub dense: Dense<T, 64, 32>,`
    pub decls: Vec<TokenStream>,
    /// `dense: <Dense<T, 64, 32>>::zeros(),`
    pub zeros: Vec<TokenStream>,
    /// Statements setting Keras's initial values.
    pub init: Vec<TokenStream>,
    /// `TensorInfo { name: "dense.kernel", shape: &[64, 32], trainable: true }`
    pub infos: Vec<TokenStream>,
    /// `0 => self.dense.kernel.as_slice(),`
    pub get: Vec<TokenStream>,
    pub get_mut: Vec<TokenStream>,
    /// Statements folding batch statistics into moving statistics.
    pub moving: Vec<TokenStream>,
}

/// Every layer's parameter field and its companions.
pub fn fields(g: &Graph, layout: &Layout) -> Fields {
    let p = private();
    let locals = Locals::new(g, layout);
    let tensors = g.tensors();
    let mut out = Fields::default();
    for (k, node) in g.nodes.iter().enumerate() {
        let e = locals.emit(k, false);
        // every call of a shared batch normalization updates the statistics
        out.moving.extend(node.op.moving_update(&e));
        if !g.holds_params(k) {
            continue;
        }
        let Some(ty) = node.op.param_type(&g.in_shapes(k), &node.shape) else { continue };
        let f = ident(&node.layer);
        let (path, generics) = (&ty.path, &ty.generics);
        let shared =
            if g.calls(k).len() > 1 { format!(", shared by {} calls", g.calls(k).len()) } else { String::new() };
        let doc = format!("Layer `{}` {}{shared}", node.layer, ty.doc);
        out.decls.push(quote!(#[doc = #doc] pub #f: #path #generics,));
        out.zeros.push(quote!(#f: <#path #generics>::zeros(),));
        out.init.push(node.op.init(&e));
    }
    for (i, t) in tensors.iter().enumerate() {
        let (name, trainable) = (&t.name, t.param.trainable);
        let shape = t.param.shape.iter().map(|&s| lit(s));
        out.infos.push(quote!(#p::TensorInfo { name: #name, shape: &[#(#shape),*], trainable: #trainable }));
        let (f, i) = (ident(&g.nodes[t.layer].layer), lit(i));
        match t.param.index {
            // a network called as a layer: its own table
            Some(j) => {
                let j = lit(j);
                out.get.push(quote!(#i => #p::Network::<T>::tensor(&self.#f, #j),));
                out.get_mut.push(quote!(#i => #p::Network::<T>::tensor_mut(&mut self.#f, #j),));
            }
            None => {
                let v = format_ident!("{}", t.param.field);
                out.get.push(quote!(#i => self.#f.#v.as_slice(),));
                out.get_mut.push(quote!(#i => self.#f.#v.as_mut_slice(),));
            }
        }
    }
    if out.decls.is_empty() {
        out.decls.push(quote!(#[doc(hidden)] pub __sn_scalar: ::core::marker::PhantomData<T>,));
        out.zeros.push(quote!(__sn_scalar: ::core::marker::PhantomData,));
    }
    out
}
