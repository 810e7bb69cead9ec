//! Streaming, for a model whose one input is a sequence and whose every
//! layer runs step by step: `{Name}State<T>` (each recurrent layer's state
//! and each causal convolution's history), `step` (one time step, the
//! one-sample pass over the graph of one step) and `forward_steps::<S>`
//! (every step of a sequence from a fresh state).

use super::{ident, pass, private};
use crate::ir::{Graph, Layout, Slot};
use crate::ops::{lit, Stream};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// The state struct's name: `{Name}State`.
pub fn state_name(name: &Ident) -> Ident {
    format_ident!("{}State", name)
}

/// The types and methods of a streaming model, or nothing when `g` cannot
/// stream.
pub fn emit(name: &Ident, vis: &syn::Visibility, g: &Graph) -> TokenStream {
    let Some(kinds) = g.stream_kinds() else { return quote!() };
    let p = private();
    let sg = g.step_graph();
    let state = state_name(name);
    let step_output = format_ident!("{}StepOutput", name);

    // The state: one vector per stateful layer, zeros at the start.
    let stateful: Vec<(usize, usize)> = kinds
        .iter()
        .enumerate()
        .filter_map(|(k, s)| match s {
            Stream::Stateful(len) if *len > 0 => Some((k, *len)),
            _ => None,
        })
        .collect();
    let fields: Vec<Ident> = stateful.iter().map(|&(k, _)| ident(&g.nodes[k].name)).collect();
    let lens: Vec<_> = stateful.iter().map(|&(_, n)| lit(n)).collect();
    let docs: Vec<String> = stateful
        .iter()
        .map(|&(k, n)| {
            let node = &g.nodes[k];
            match node.op.class() {
                "LSTM" => format!("`{}` (LSTM): `h`, then `c` ({n} values).", node.name),
                "Conv1D" => format!(
                    "`{}` (causal Conv1D): the last input frames its taps reach back to, oldest first ({n} values).",
                    node.name
                ),
                class => format!("`{}` ({class}): `h` ({n} values).", node.name),
            }
        })
        .collect();
    let marker = fields.is_empty().then(|| quote!(#[doc(hidden)] pub __sn_scalar: ::core::marker::PhantomData<T>,));
    let marker_init = fields.is_empty().then(|| quote!(__sn_scalar: ::core::marker::PhantomData,));
    let state_doc = format!(
        "What [`{name}::step`] carries from one time step to the next. `Default` is the state before a sequence's first step (all zeros, as Keras starts)."
    );

    // The output of one step (and of `forward_steps`, a column per step).
    let heads: Vec<(Ident, usize)> =
        sg.heads.iter().map(|h| (ident(&sg.nodes[h.node].name), sg.nodes[h.node].shape.size())).collect();
    let single = heads.len() == 1;
    let (head_fields, head_sizes): (Vec<Ident>, Vec<_>) = heads.iter().map(|(f, w)| (f.clone(), lit(*w))).unzip();
    let output_struct = (!single).then(|| {
        let doc = format!("The outputs of [`{name}::step`] (`S = 1`) and of [`{name}::forward_steps`] (a column per step), one field per head.");
        quote! {
            #[doc = #doc]
            #[derive(Clone, Debug, PartialEq)]
            #[allow(unused_braces)]
            #vis struct #step_output<T: #p::Scalar, const S: usize = 1> {
                #( #[doc = concat!("Output `", stringify!(#head_fields), "` at each step.")] pub #head_fields: #p::SMatrix<T, #head_sizes, { S }>, )*
            }
        }
    });
    let (step_ret, steps_ret) = if single {
        let w = &head_sizes[0];
        (quote!(#p::SVector<T, #w>), quote!(#p::SMatrix<T, #w, { S }>))
    } else {
        (quote!(#step_output<T>), quote!(#step_output<T, S>))
    };

    // The step's body: the one-sample pass over the graph of one step.
    let layout = step_layout(&sg, &kinds);
    let body = pass::one_sample(&sg, &layout, &step_output, Some(&kinds));
    let input = &sg.nodes[sg.inputs[0]];
    let (x, channels) = (ident(&input.var), lit(input.shape.size()));
    let collect = if single {
        let w = &head_sizes[0];
        quote! {
            __sn_out.as_mut_slice()[__sn_t * #w..][..#w].copy_from_slice(__sn_y.as_slice());
        }
    } else {
        quote! {
            #( __sn_out.#head_fields.as_mut_slice()[__sn_t * #head_sizes..][..#head_sizes].copy_from_slice(__sn_y.#head_fields.as_slice()); )*
        }
    };
    let zeros = if single {
        let w = &head_sizes[0];
        quote!(#p::SMatrix::<T, #w, { S }>::zeros())
    } else {
        quote!(#step_output { #( #head_fields: #p::SMatrix::<T, #head_sizes, { S }>::zeros(), )* })
    };
    let step_doc = format!(
        "One time step: feeds `{}`'s values at this step and returns what `forward` would return at this step of the sequence seen so far (a per-step output's value at this step, a recurrent layer's state so far), updating `state`. No allocation.",
        input.var
    );
    quote! {
        #[doc = #state_doc]
        #[derive(Clone, Debug, PartialEq)]
        #vis struct #state<T: #p::Scalar = f32> {
            #( #[doc = #docs] pub #fields: #p::SVector<T, #lens>, )*
            #marker
        }

        impl<T: #p::Scalar> ::core::default::Default for #state<T> {
            fn default() -> Self {
                Self { #( #fields: #p::SVector::<T, #lens>::zeros(), )* #marker_init }
            }
        }

        impl<T: #p::Scalar> #state<T> {
            /// Back to the start of a sequence: every state zero.
            pub fn reset(&mut self) {
                *self = Self::default();
            }
        }

        #output_struct

        impl<T: #p::Scalar> #name<T> {
            #[doc = #step_doc]
            #[inline]
            pub fn step(&self, state: &mut #state<T>, #x: &#p::SVector<T, #channels>) -> #step_ret {
                self.__sn_step(state, #x.as_slice())
            }

            /// Every step of a sequence of `S` steps (a column per step, the
            /// memory of Keras's `(S, channels)`) from a fresh state: a
            /// column per step of each output, as [`Self::step`] gives them.
            pub fn forward_steps<const S: usize>(&self, #x: &#p::SMatrix<T, #channels, { S }>) -> #steps_ret {
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
