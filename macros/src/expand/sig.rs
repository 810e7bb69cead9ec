//! The generated API's signatures, written once for both the real struct
//! and the placeholder emitted after an error (which knows only part of
//! the interface), so the two cannot drift apart.

use super::{ident, private};
use crate::check::graph::target_shape;
use crate::check::{HeadSig, Interface};
use crate::ir::Graph;
use crate::ops::lit;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// What the signatures need to know of a network.
pub struct Sig {
    pub p: TokenStream,
    pub output_name: Ident,
    pub losses_name: Ident,
    pub inputs: Vec<SigInput>,
    pub heads: Vec<HeadField>,
    /// The optimizer type `compile` names.
    pub optimizer: Ident,
}

/// One input as the signatures see it.
pub struct SigInput {
    /// The parameter's name.
    pub name: Ident,
    /// Values per sample, if known.
    pub size: Option<usize>,
    /// Token ids (`u32`) rather than values (`T`).
    pub ids: bool,
}

impl SigInput {
    /// `T`, or `u32` for token ids.
    fn elem(&self) -> TokenStream {
        if self.ids {
            quote!(u32)
        } else {
            quote!(T)
        }
    }
}

/// One head as the signatures see it.
pub struct HeadField {
    /// Its field in the output and losses structs; `None` when its name is
    /// unknown or unusable (a placeholder leaves it out).
    pub field: Option<Ident>,
    /// Values per sample, if known (a placeholder guesses 1).
    pub size: Option<usize>,
    /// The training target's values per sample, if known.
    pub target: Option<usize>,
    /// The target parameter's name.
    pub target_arg: Ident,
}

impl Sig {
    /// The signatures of a checked network.
    pub fn of_graph(name: &Ident, g: &Graph) -> Sig {
        let inputs = g
            .inputs
            .iter()
            .map(|&i| SigInput {
                name: ident(&g.nodes[i].var),
                size: Some(g.nodes[i].shape.size()),
                ids: g.nodes[i].ids(),
            })
            .collect();
        let heads = g
            .heads
            .iter()
            .map(|h| {
                let node = &g.nodes[h.node];
                HeadField {
                    field: Some(ident(&node.name)),
                    size: Some(node.shape.size()),
                    target: Some(h.loss.map_or(node.shape.size(), |l| target_shape(l, &node.shape).size())),
                    target_arg: format_ident!("{}_target", node.name),
                }
            })
            .collect();
        Sig::new(name, inputs, heads, g.optimizer.kind.type_name())
    }

    /// The signatures of a network that failed to check, as far as its
    /// interface is known: an unknown input or target takes any type, an
    /// unknown head is one value wide.
    pub fn of_interface(name: &Ident, iface: &Interface) -> Sig {
        let inputs: Vec<Option<usize>> = match &iface.inputs {
            Some(v) => v.iter().map(|s| s.as_ref().map(|s| s.size())).collect(),
            None => vec![None],
        };
        let inputs = inputs
            .into_iter()
            .enumerate()
            .map(|(i, size)| SigInput {
                name: format_ident!("__sn_input{}", i),
                size,
                ids: iface.input_ids.get(i).copied().unwrap_or(false),
            })
            .collect();
        let heads: Vec<HeadSig> = iface.heads.clone().unwrap_or_else(|| vec![HeadSig::default()]);
        let fields = usable_fields(&heads);
        let heads = heads
            .iter()
            .zip(fields)
            .enumerate()
            .map(|(h, (sig, field))| HeadField {
                field,
                size: sig.shape.as_ref().map(|s| s.size()),
                target: sig.target.as_ref().map(|s| s.size()),
                target_arg: format_ident!("__sn_target{}", h),
            })
            .collect();
        Sig::new(name, inputs, heads, "RmsProp")
    }

    fn new(name: &Ident, inputs: Vec<SigInput>, heads: Vec<HeadField>, optimizer: &str) -> Sig {
        Sig {
            p: private(),
            output_name: format_ident!("{}Output", name),
            losses_name: format_ident!("{}Losses", name),
            inputs,
            heads,
            optimizer: format_ident!("{}", optimizer),
        }
    }

    fn single(&self) -> bool {
        self.heads.len() == 1
    }

    /// `&SMatrix<elem, size, batch>`, or any type when the size is unknown.
    fn arg(&self, elem: TokenStream, size: Option<usize>, batch: TokenStream) -> TokenStream {
        let p = &self.p;
        match size {
            Some(w) => {
                let w = lit(w);
                quote!(&#p::SMatrix<#elem, #w, #batch>)
            }
            None => quote!(impl ::core::marker::Sized),
        }
    }

    /// `posts: &SMatrix<T, 256, { B }>, …` for every input (`{ B }` so that a
    /// type named `B` where the network is defined cannot capture it).
    fn batch_inputs(&self) -> Vec<TokenStream> {
        self.inputs
            .iter()
            .map(|i| {
                let (name, ty) = (&i.name, self.arg(i.elem(), i.size, quote!({ B })));
                quote!(#name: #ty)
            })
            .collect()
    }

    fn targets(&self) -> Vec<TokenStream> {
        self.heads
            .iter()
            .map(|h| {
                let (name, ty) = (&h.target_arg, self.arg(quote!(T), h.target, quote!({ B })));
                quote!(#name: #ty)
            })
            .collect()
    }

    fn head_size(&self, h: usize) -> TokenStream {
        let w = lit(self.heads[h].size.unwrap_or(1));
        quote!(#w)
    }

    /// `pub fn forward(&self, posts: &SVector<T, 256>) -> …`.
    pub fn decl_forward(&self) -> TokenStream {
        let p = &self.p;
        let args = self.inputs.iter().map(|i| {
            let (name, elem) = (&i.name, i.elem());
            let ty = match i.size {
                Some(w) => {
                    let w = lit(w);
                    quote!(&#p::SVector<#elem, #w>)
                }
                None => quote!(impl ::core::marker::Sized),
            };
            quote!(#name: #ty)
        });
        let ret = if self.single() {
            let w = self.head_size(0);
            quote!(#p::SVector<T, #w>)
        } else {
            let out = &self.output_name;
            quote!(#out<T, 1>)
        };
        quote!(pub fn forward(&self, #(#args),*) -> #ret)
    }

    /// `pub fn forward_batch<const B: usize>(&self, …) -> …`.
    pub fn decl_forward_batch(&self) -> TokenStream {
        let p = &self.p;
        let args = self.batch_inputs();
        let ret = if self.single() {
            let w = self.head_size(0);
            quote!(#p::SMatrix<T, #w, { B }>)
        } else {
            let out = &self.output_name;
            quote!(#out<T, { B }>)
        };
        quote!(pub fn forward_batch<const B: usize>(&self, #(#args),*) -> #ret)
    }

    /// `pub fn loss_and_grad<const B: usize>(&self, inputs…, targets…, grads: &mut Self) -> …Losses<T>`.
    pub fn decl_loss_and_grad(&self) -> TokenStream {
        let (inputs, targets, losses) = (self.batch_inputs(), self.targets(), &self.losses_name);
        quote! {
            #[allow(clippy::too_many_arguments)]
            pub fn loss_and_grad<const B: usize>(&self, #(#inputs,)* #(#targets,)* grads: &mut Self) -> #losses<T>
        }
    }

    /// `pub fn train_step<const B: usize>(&mut self, optimizer: &mut impl Optimizer<T, Self>, …)`:
    /// `B` is the only generic argument, so `train_step::<64>(…)` works.
    pub fn decl_train_step(&self) -> TokenStream {
        let p = &self.p;
        let (inputs, targets, losses) = (self.batch_inputs(), self.targets(), &self.losses_name);
        quote! {
            #[allow(clippy::too_many_arguments)]
            pub fn train_step<const B: usize>(&mut self, optimizer: &mut impl #p::Optimizer<T, Self>, #(#inputs,)* #(#targets,)*) -> #losses<T>
        }
    }

    /// `pub fn optimizer() -> RmsProp<T, Self>`.
    pub fn decl_optimizer(&self) -> TokenStream {
        let (p, ty) = (&self.p, &self.optimizer);
        quote!(pub fn optimizer() -> #p::#ty<T, Self>)
    }

    /// `pub fn new(seed: u64) -> Self`.
    pub fn decl_new(&self) -> TokenStream {
        quote!(pub fn new(seed: u64) -> Self)
    }

    /// `pub fn zeros() -> Self`.
    pub fn decl_zeros(&self) -> TokenStream {
        quote!(pub fn zeros() -> Self)
    }

    /// `pub fn summary() -> Summary`.
    pub fn decl_summary(&self) -> TokenStream {
        let p = &self.p;
        quote!(pub fn summary() -> #p::Summary)
    }

    /// `pub fn new_boxed(seed: u64) -> Box<Self>` (with `alloc`).
    pub fn decl_new_boxed(&self) -> TokenStream {
        let p = &self.p;
        quote!(pub fn new_boxed(seed: u64) -> #p::Box<Self>)
    }

    /// `pub fn to_safetensors(&self) -> Vec<u8>` (with `alloc`).
    pub fn decl_to_safetensors(&self) -> TokenStream {
        let p = &self.p;
        quote!(pub fn to_safetensors(&self) -> #p::Vec<u8>)
    }

    /// `pub fn from_safetensors(bytes: &[u8]) -> Result<Self, WeightsError>` (with `alloc`).
    pub fn decl_from_safetensors(&self) -> TokenStream {
        let p = &self.p;
        quote!(pub fn from_safetensors(bytes: &[u8]) -> ::core::result::Result<Self, #p::weights::WeightsError>)
    }

    /// The head fields that exist, with their sizes.
    fn fields(&self) -> Vec<(&Ident, TokenStream)> {
        self.heads.iter().enumerate().filter_map(|(h, f)| f.field.as_ref().map(|i| (i, self.head_size(h)))).collect()
    }

    /// `{Name}Output<T, const B = 1>`, one field per head, for networks with
    /// several heads; a placeholder's has a marker for the fields it lacks.
    pub fn output_struct(&self, vis: &syn::Visibility, doc: &str, docs: &[String], placeholder: bool) -> TokenStream {
        if self.single() {
            return quote!();
        }
        heads_struct(vis, &self.output_name, &format_ident!("B"), doc, &self.fields(), docs, placeholder)
    }

    /// `{Name}Losses<T>`: the total and one field per head.
    pub fn losses_struct(&self, vis: &syn::Visibility, doc: &str, docs: &[String]) -> TokenStream {
        let name = &self.losses_name;
        let fields: Vec<&Ident> = self.fields().into_iter().map(|(f, _)| f).collect();
        let docs = docs.iter().map(String::as_str).chain(std::iter::repeat("")).take(fields.len());
        quote! {
            #[doc = #doc]
            #[derive(Clone, Copy, Debug, PartialEq)]
            #vis struct #name<T> {
                /// `Σ weight · loss` over the heads.
                pub total: T,
                #( #[doc = #docs] pub #fields: T, )*
            }
        }
    }

    /// The data set types of the `Data` impl: `&'a OMatrix<T, Const<w>, Dyn>`
    /// per input (a tuple for several), then per target (`Dyn` rows where a
    /// placeholder does not know the size).
    pub fn data_types(&self) -> (TokenStream, TokenStream) {
        let p = &self.p;
        let ty = |sizes: Vec<(Option<usize>, bool)>| -> TokenStream {
            let tys: Vec<TokenStream> = sizes
                .iter()
                .map(|(s, ids)| {
                    let elem = if *ids { quote!(u32) } else { quote!(T) };
                    match s {
                        Some(w) => {
                            let w = lit(*w);
                            quote!(&'a #p::OMatrix<#elem, #p::Const<#w>, #p::Dyn>)
                        }
                        None => quote!(&'a #p::OMatrix<#elem, #p::Dyn, #p::Dyn>),
                    }
                })
                .collect();
            if tys.len() == 1 {
                let t = &tys[0];
                quote!(#t)
            } else {
                quote!((#(#tys,)*))
            }
        };
        (
            ty(self.inputs.iter().map(|i| (i.size, i.ids)).collect()),
            ty(self.heads.iter().map(|h| (h.target, false)).collect()),
        )
    }

    /// The number of inputs and of heads.
    pub fn counts(&self) -> (usize, usize) {
        (self.inputs.len(), self.heads.len())
    }

    /// The statements turning token ids into values (`T`, exact integers)
    /// for the pass, and the inputs as the pass takes them: `&[&[T]]`.
    pub fn pass_inputs(&self) -> (TokenStream, TokenStream) {
        let p = &self.p;
        let mut prelude = Vec::new();
        let slices = self.inputs.iter().map(|i| {
            let name = &i.name;
            if i.ids {
                let values = format_ident!("__sn_{}_values", name);
                prelude.push(quote!(let #values = #name.map(|v| <T as #p::Scalar>::of_f64(v as f64));));
                quote!(#values.as_slice())
            } else {
                quote!(#name.as_slice())
            }
        });
        let slices: Vec<TokenStream> = slices.collect();
        (quote!(#(#prelude)*), quote!(&[#(#slices),*]))
    }
}

/// `struct {name}<T, const {cols}: usize = 1>` with one field `SMatrix<T,
/// size, { cols }>` per head (`fields`, documented by `docs`, empty where
/// short): the outputs of `forward_batch` (`B` samples) and of
/// `forward_steps` (`S` steps). With `marker`, a hidden field that uses `T`
/// for a placeholder, which may lack every field.
pub fn heads_struct(
    vis: &syn::Visibility,
    name: &Ident,
    cols: &Ident,
    doc: &str,
    fields: &[(&Ident, TokenStream)],
    docs: &[String],
    marker: bool,
) -> TokenStream {
    let p = private();
    let (fields, sizes): (Vec<&Ident>, Vec<&TokenStream>) = fields.iter().map(|(f, s)| (*f, s)).unzip();
    let docs = docs.iter().map(String::as_str).chain(std::iter::repeat("")).take(fields.len());
    let marker = marker.then(|| quote!(#[doc(hidden)] pub __sn_scalar: ::core::marker::PhantomData<T>,));
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug, PartialEq)]
        #[allow(unused_braces)]
        #vis struct #name<T: #p::Scalar, const #cols: usize = 1> {
            #( #[doc = #docs] pub #fields: #p::SMatrix<T, #sizes, { #cols }>, )*
            #marker
        }
    }
}

/// The head fields a placeholder can emit: valid, unique, not `total`.
fn usable_fields(heads: &[HeadSig]) -> Vec<Option<Ident>> {
    let mut seen: Vec<String> = Vec::new();
    heads
        .iter()
        .map(|h| {
            let name = h.name.as_ref()?;
            let usable = crate::check::args::valid_ident(name) && name != "total" && !name.starts_with("__sn");
            if !usable || seen.contains(name) {
                return None;
            }
            seen.push(name.clone());
            Some(ident(name))
        })
        .collect()
}
