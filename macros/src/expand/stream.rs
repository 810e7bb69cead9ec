//! Streaming, for a model whose one input is a sequence and whose every
//! layer runs step by step: `{Name}State<T>` (each recurrent layer's state
//! and each causal convolution's history), `step` (one time step, the
//! one-sample pass over the graph of one step) and `forward_steps::<S>`
//! (every step of a sequence from a fresh state).

use super::sig::heads_struct;
use super::{ident, pass, private};
use crate::ir::{Graph, Layout, Slot, StateField};
use crate::ops::{lit, Stream};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;

/// The streaming API's types and signatures, written once for both the real
/// model and the placeholder emitted after an error (which knows only part
/// of the network), so the two cannot drift apart.
pub struct StreamSig {
    p: TokenStream,
    name: Ident,
    /// `{Name}State`.
    pub state: Ident,
    /// `{Name}StepOutput`, for several heads.
    pub step_output: Ident,
    /// The input's parameter and its channels.
    x: Ident,
    channels: Literal,
    /// Each head's field (`None` where a placeholder has no usable name)
    /// and values at one step (a placeholder guesses 1 where unknown).
    heads: Vec<(Option<Ident>, Literal)>,
}

impl StreamSig {
    pub fn new(name: &Ident, x: Ident, channels: usize, heads: Vec<(Option<Ident>, Option<usize>)>) -> StreamSig {
        StreamSig {
            p: private(),
            name: name.clone(),
            state: format_ident!("{}State", name),
            step_output: format_ident!("{}StepOutput", name),
            x,
            channels: lit(channels),
            heads: heads.into_iter().map(|(f, w)| (f, lit(w.unwrap_or(1)))).collect(),
        }
    }

    fn single(&self) -> bool {
        self.heads.len() == 1
    }

    /// The head fields that exist, with their values at one step.
    fn fields(&self) -> Vec<(&Ident, TokenStream)> {
        self.heads.iter().filter_map(|(f, w)| f.as_ref().map(|f| (f, quote!(#w)))).collect()
    }

    /// `{Name}State<T>`, `Default` (all zeros) and `reset`: one field per
    /// stateful layer, or a hidden marker when there is none (a network
    /// without one, or a placeholder whose stateful layers were not built).
    pub fn state_struct(&self, vis: &syn::Visibility, stateful: &[StateField]) -> TokenStream {
        let (p, name, state) = (&self.p, &self.name, &self.state);
        let fields: Vec<Ident> = stateful.iter().map(|f| ident(&f.name)).collect();
        let inits = &fields;
        let lens: Vec<_> = stateful.iter().map(|f| lit(f.len)).collect();
        let docs = stateful.iter().map(|f| &f.doc);
        let marker =
            stateful.is_empty().then(|| quote!(#[doc(hidden)] pub __sn_scalar: ::core::marker::PhantomData<T>,));
        let marker_init = stateful.is_empty().then(|| quote!(__sn_scalar: ::core::marker::PhantomData,));
        let doc = format!(
            "What [`{name}::step`] carries from one time step to the next. `Default` is the state before a sequence's first step (all zeros, as Keras starts)."
        );
        quote! {
            #[doc = #doc]
            #[derive(Clone, Debug, PartialEq)]
            #vis struct #state<T: #p::Scalar = f32> {
                #( #[doc = #docs] pub #fields: #p::SVector<T, #lens>, )*
                #marker
            }

            impl<T: #p::Scalar> ::core::default::Default for #state<T> {
                fn default() -> Self {
                    Self { #( #inits: #p::SVector::<T, #lens>::zeros(), )* #marker_init }
                }
            }

            impl<T: #p::Scalar> #state<T> {
                /// Back to the start of a sequence: every state zero.
                pub fn reset(&mut self) {
                    *self = Self::default();
                }
            }
        }
    }

    /// `{Name}StepOutput<T, const S = 1>`, one field per head, for networks
    /// with several heads; a placeholder's has a marker for the fields it
    /// lacks.
    pub fn output_struct(&self, vis: &syn::Visibility, placeholder: bool) -> TokenStream {
        if self.single() {
            return quote!();
        }
        let name = &self.name;
        let doc = format!("The outputs of [`{name}::step`] (`S = 1`) and of [`{name}::forward_steps`] (a column per step), one field per head.");
        let fields = self.fields();
        let docs: Vec<String> = fields.iter().map(|(f, _)| format!("Output `{}` at each step.", f.unraw())).collect();
        heads_struct(vis, &self.step_output, &format_ident!("S"), &doc, &fields, &docs, placeholder)
    }

    /// What `step` returns: the one head's vector, or `{Name}StepOutput<T>`.
    fn step_ret(&self) -> TokenStream {
        let (p, out) = (&self.p, &self.step_output);
        match &self.heads[..] {
            [(_, w)] => quote!(#p::SVector<T, #w>),
            _ => quote!(#out<T>),
        }
    }

    /// What `forward_steps` returns: a column per step of each head.
    fn steps_ret(&self) -> TokenStream {
        let (p, out) = (&self.p, &self.step_output);
        match &self.heads[..] {
            [(_, w)] => quote!(#p::SMatrix<T, #w, { S }>),
            _ => quote!(#out<T, S>),
        }
    }

    /// `pub fn step(&self, state: &mut {Name}State<T>, x: &SVector<T, channels>) -> …`.
    pub fn decl_step(&self) -> TokenStream {
        let (p, state, x, c, ret) = (&self.p, &self.state, &self.x, &self.channels, self.step_ret());
        quote!(pub fn step(&self, state: &mut #state<T>, #x: &#p::SVector<T, #c>) -> #ret)
    }

    /// `pub fn forward_steps<const S: usize>(&self, x: &SMatrix<T, channels, S>) -> …`.
    pub fn decl_forward_steps(&self) -> TokenStream {
        let (p, x, c, ret) = (&self.p, &self.x, &self.channels, self.steps_ret());
        quote!(pub fn forward_steps<const S: usize>(&self, #x: &#p::SMatrix<T, #c, { S }>) -> #ret)
    }
}

/// The types and methods of a streaming model, or nothing when `g` cannot
/// stream.
pub fn emit(name: &Ident, vis: &syn::Visibility, g: &Graph) -> TokenStream {
    let Some(kinds) = g.stream_kinds() else { return quote!() };
    let p = private();
    let sg = g.step_graph();
    let input = &sg.nodes[sg.inputs[0]];
    let heads = sg.heads.iter().map(|h| (Some(ident(&sg.nodes[h.node].name)), Some(sg.nodes[h.node].shape.size())));
    let sig = StreamSig::new(name, ident(&input.var), input.shape.size(), heads.collect());
    let (state, step_output) = (&sig.state, &sig.step_output);

    // The state: one vector per stateful layer, zeros at the start.
    let state_struct = sig.state_struct(vis, &g.state_fields());
    // The output of one step (and of `forward_steps`, a column per step).
    let output_struct = sig.output_struct(vis, false);
    let (step_ret, step, forward_steps) = (sig.step_ret(), sig.decl_step(), sig.decl_forward_steps());

    // The step's body: the one-sample pass over the graph of one step.
    let layout = step_layout(&sg, &kinds);
    let body = pass::one_sample(&sg, &layout, step_output, Some(&kinds));
    let (x, channels) = (&sig.x, &sig.channels);
    let (head_fields, head_sizes): (Vec<&Ident>, Vec<TokenStream>) = sig.fields().into_iter().unzip();
    let (collect, zeros) = match &sig.heads[..] {
        [(_, w)] => (
            quote!(__sn_out.as_mut_slice()[__sn_t * #w..][..#w].copy_from_slice(__sn_y.as_slice());),
            quote!(#p::SMatrix::<T, #w, { S }>::zeros()),
        ),
        _ => (
            quote! {
                #( __sn_out.#head_fields.as_mut_slice()[__sn_t * #head_sizes..][..#head_sizes].copy_from_slice(__sn_y.#head_fields.as_slice()); )*
            },
            quote!(#step_output { #( #head_fields: #p::SMatrix::<T, #head_sizes, { S }>::zeros(), )* }),
        ),
    };
    let step_doc = format!(
        "One time step: feeds `{}`'s values at this step and returns what `forward` would return at this step of the sequence seen so far (a per-step output's value at this step, a recurrent layer's state so far), updating `state`. No allocation.",
        input.var
    );
    quote! {
        #state_struct
        #output_struct

        impl<T: #p::Scalar> #name<T> {
            #[doc = #step_doc]
            #[inline]
            #step {
                self.__sn_step(state, #x.as_slice())
            }

            /// Every step of a sequence of `S` steps (a column per step, the
            /// memory of Keras's `(S, channels)`) from a fresh state: a
            /// column per step of each output, as [`Self::step`] gives them.
            #forward_steps {
                let mut __sn_state = #state::<T>::default();
                let mut __sn_out = #zeros;
                for __sn_t in 0..S {
                    let __sn_y = self.__sn_step(&mut __sn_state, &#x.as_slice()[__sn_t * #channels..][..#channels]);
                    #collect
                }
                __sn_out
            }

            #[doc(hidden)]
            #[allow(unused_mut, unused_variables, clippy::all)]
            #[inline(always)]
            fn __sn_step(&self, __sn_state: &mut #state<T>, #x: &[T]) -> #step_ret {
                let #x = #p::SVectorView::<T, #channels>::from_slice(#x);
                #body
            }
        }
    }
}

/// The buffers of one step: the inference scratch of the per-step layers
/// (a stateful layer's step needs none).
fn step_layout(sg: &Graph, kinds: &[Stream]) -> Layout {
    let slots = (0..sg.nodes.len())
        .map(|k| {
            let node = &sg.nodes[k];
            let mut slot = Slot::default();
            if !node.is_input() && kinds[k] == Stream::PerStep {
                let buffers = node.op.buffers(&sg.in_shapes(k), &node.shape);
                slot.scratch = buffers.scratch.into_iter().map(|(role, n)| (role, 0, n)).collect();
            }
            slot
        })
        .collect();
    Layout { slots, forward_rows: 0, train_rows: 0, stats_len: 0 }
}
