//! The placeholder emitted next to the errors of a network that failed to
//! check. It has the generated struct's name and, as far as the broken
//! network shows them, its methods, argument counts, widths and head fields,
//! so that user code calling it compiles on and adds no errors of its own.
//!
//! Nothing here can run: the placeholder exists only when the crate already
//! fails to compile, so method bodies are `loop {}` and never panic.

use crate::check::{valid_ident, HeadSig, Interface};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

/// A parameter type: the real one when the width is known, else anything.
fn arg_ty(width: Option<usize>, batch: TokenStream) -> TokenStream {
    let p = quote!(::staticnet::__private);
    match width {
        Some(w) => {
            let w = Literal::usize_unsuffixed(w);
            quote!(&#p::SMatrix<T, #w, #batch>)
        }
        None => quote!(impl ::core::marker::Sized),
    }
}

/// The head fields that can be emitted: valid, unique, not `total`.
fn head_fields(heads: &[HeadSig]) -> Vec<Option<(Ident, usize)>> {
    let mut seen: Vec<String> = Vec::new();
    heads
        .iter()
        .map(|h| {
            let name = h.name.as_ref()?;
            if !valid_ident(name) || name == "total" || name.starts_with("__sn") || seen.contains(name) {
                return None;
            }
            seen.push(name.clone());
            Some((crate::expand::ident(name), h.width.unwrap_or(1)))
        })
        .collect()
}

/// Emits the placeholder for `name`.
pub fn emit(vis: &syn::Visibility, name: &Ident, iface: &Interface) -> TokenStream {
    let p = quote!(::staticnet::__private);
    let output_name = format_ident!("{}Output", name);
    let losses_name = format_ident!("{}Losses", name);
    let inputs: Vec<Option<usize>> = iface.inputs.clone().unwrap_or_else(|| vec![None]);
    let heads: Vec<HeadSig> = iface.heads.clone().unwrap_or_else(|| vec![HeadSig::default()]);
    let fields = head_fields(&heads);
    let field_idents: Vec<&Ident> = fields.iter().flatten().map(|(i, _)| i).collect();
    let field_widths: Vec<Literal> = fields.iter().flatten().map(|(_, w)| Literal::usize_unsuffixed(*w)).collect();
    let single = heads.len() == 1;

    let one_inputs = inputs.iter().map(|w| arg_ty(*w, quote!(1)));
    // `{ B }`: a type named `B` where the network is defined must not capture it
    let batch_inputs: Vec<TokenStream> = inputs.iter().map(|w| arg_ty(*w, quote!({ B }))).collect();
    let targets: Vec<TokenStream> = heads.iter().map(|h| arg_ty(h.target, quote!({ B }))).collect();
    let (one_ret, batch_ret, output_struct) = if single {
        let w = Literal::usize_unsuffixed(heads[0].width.unwrap_or(1));
        (quote!(#p::SMatrix<T, #w, 1>), quote!(#p::SMatrix<T, #w, { B }>), quote!())
    } else {
        (
            quote!(#output_name<T, 1>),
            quote!(#output_name<T, { B }>),
            quote! {
                #[doc(hidden)]
                #[allow(unused_braces)]
                #[derive(Clone, Debug, PartialEq)]
                #vis struct #output_name<T = f32, const B: usize = 1> {
                    #( pub #field_idents: #p::SMatrix<T, #field_widths, { B }>, )*
                    #[doc(hidden)]
                    pub __sn_scalar: ::core::marker::PhantomData<T>,
                }
            },
        )
    };
    quote! {
        #[doc(hidden)]
        #[derive(Clone, Debug, PartialEq)]
        #vis struct #name<T = f32>(::core::marker::PhantomData<T>);

        #output_struct

        #[doc(hidden)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        #vis struct #losses_name<T = f32> {
            pub total: T,
            #( pub #field_idents: T, )*
        }

        #[allow(dead_code, unused_variables, unused_braces, clippy::all)]
        impl<T> #name<T> {
            pub const PARAM_COUNT: usize = 0;
            pub fn new(_: u64) -> Self {
                #name(::core::marker::PhantomData)
            }
            pub fn zeros() -> Self {
                #name(::core::marker::PhantomData)
            }
            pub fn summary() -> &'static str {
                ""
            }
            pub fn forward(&self, #(_: #one_inputs),*) -> #one_ret {
                loop {}
            }
            pub fn forward_batch<const B: usize>(&self, #(_: #batch_inputs),*) -> #batch_ret {
                loop {}
            }
            pub fn loss_and_grad<const B: usize>(&self, #(_: #batch_inputs,)* #(_: #targets,)* _: &mut Self) -> #losses_name<T> {
                loop {}
            }
            pub fn optimizer() {}
            pub fn train_step<const B: usize, O>(&mut self, _: &mut O, #(_: #batch_inputs,)* #(_: #targets,)*) -> #losses_name<T> {
                loop {}
            }
        }

        #p::with_alloc! {
            #[allow(dead_code, unused_variables, clippy::all)]
            impl<T> #name<T> {
                pub fn new_boxed(_: u64) -> #p::Box<Self> {
                    loop {}
                }
                pub fn to_safetensors(&self) -> #p::Vec<u8> {
                    loop {}
                }
                pub fn from_safetensors(_: &[u8]) -> ::core::result::Result<Self, #p::weights::WeightsError> {
                    loop {}
                }
            }
        }
    }
}
