//! The runtime traits every network implements (`Network`, `Data`), and
//! the tables they and `summary()` read: tensors, inputs, heads, layers.

use super::fields::Fields;
use super::sig::Sig;
use super::{ident, loss_tokens, private};
use crate::ir::{Graph, Layout};
use crate::ops::{f64_lit, lit};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// `impl Network<T>`.
pub fn network_impl(name: &Ident, g: &Graph, layout: &Layout, fields: &Fields) -> TokenStream {
    let p = private();
    let (trainable, fixed) = g.param_count();
    let param_count = lit(trainable + fixed);
    let in_names = g.inputs.iter().map(|&i| &g.nodes[i].var);
    let in_sizes = g.inputs.iter().map(|&i| lit(g.nodes[i].shape.size()));
    let heads = g.heads.iter().map(|h| {
        let n = &g.nodes[h.node];
        let (hname, w, units) = (&n.name, lit(n.shape.size()), lit(n.shape.last()));
        let tw = lit(h.loss.map_or(n.shape.size(), |l| crate::check::graph::target_shape(l, &n.shape).size()));
        let loss = match h.loss {
            Some(l) => {
                let t = loss_tokens(l);
                quote!(Some(#t))
            }
            None => quote!(None),
        };
        let weight = f64_lit(h.weight);
        let metrics = h.metrics.iter().map(|m| {
            let v = format_ident!("{}", m.variant());
            quote!(#p::MetricKind::#v)
        });
        quote!(#p::HeadInfo { name: #hname, width: #w, units: #units, target_width: #tw, loss: #loss, loss_weight: #weight, metrics: &[#(#metrics),*] })
    });
    let head_offsets = g.heads.iter().map(|h| lit(layout.slots[h.node].out.unwrap_or(0)));
    let (fwd_rows, train_rows, stats_len) = (lit(layout.forward_rows), lit(layout.train_rows), lit(layout.stats_len));
    let (infos, get, get_mut) = (&fields.infos, &fields.get, &fields.get_mut);
    // An ids input takes the ids every `Embedding` reading it accepts.
    let consumers = g.consumers();
    let id_limits: Vec<Option<usize>> = g
        .inputs
        .iter()
        .map(|&i| {
            g.nodes[i].ids().then(|| consumers[i].iter().filter_map(|&c| g.nodes[c].op.takes_ids()).min()).flatten()
        })
        .collect();
    let input_ids = id_limits.iter().any(Option::is_some).then(|| {
        let limits = id_limits.iter().map(|l| match l {
            Some(n) => {
                let n = lit(*n);
                quote!(Some(#n))
            }
            None => quote!(None),
        });
        quote!(const INPUT_IDS: &'static [Option<usize>] = &[#(#limits),*];)
    });
    quote! {
        impl<T: #p::Scalar> #p::Network<T> for #name<T> {
            const PARAM_COUNT: usize = #param_count;
            const TENSORS: &'static [#p::TensorInfo] = &[#(#infos),*];
            const INPUT_NAMES: &'static [&'static str] = &[#(#in_names),*];
            const INPUT_WIDTHS: &'static [usize] = &[#(#in_sizes),*];
            const HEADS: &'static [#p::HeadInfo] = &[#(#heads),*];
            const FORWARD_ROWS: usize = #fwd_rows;
            const TRAIN_ROWS: usize = #train_rows;
            const HEAD_OFFSETS: &'static [usize] = &[#(#head_offsets),*];
            const STATS_LEN: usize = #stats_len;
            #input_ids

            fn zeros() -> Self {
                Self::zeros()
            }
            fn with_seed(seed: u64) -> Self {
                Self::new(seed)
            }
            fn tensor(&self, i: usize) -> &[T] {
                match i {
                    #(#get)*
                    _ => &[],
                }
            }
            fn tensor_mut(&mut self, i: usize) -> &mut [T] {
                match i {
                    #(#get_mut)*
                    _ => &mut [],
                }
            }
            fn forward_slices(&self, n: usize, inputs: &[&[T]], workspace: &mut [T], mode: #p::Mode, stats: &mut [T]) {
                self.__sn_pass(n, inputs, workspace, mode, stats, None);
            }
        }
    }
}

/// `impl Data<T>` (with `alloc`): the typed data sets `fit` takes.
pub fn data_impl(name: &Ident, sig: &Sig) -> TokenStream {
    let p = private();
    let (inputs_ty, targets_ty) = sig.data_types();
    let (_, n_heads) = sig.counts();
    let fill = |kinds: Vec<Option<bool>>| -> TokenStream {
        let wrap = |at: TokenStream, ids: Option<bool>| match ids {
            Some(true) => quote!(#p::InputData::Ids(#at.as_slice())),
            Some(false) => quote!(#p::InputData::Values(#at.as_slice())),
            None => quote!(#at.as_slice()),
        };
        if kinds.len() == 1 {
            let v = wrap(quote!(data), kinds[0]);
            quote!(out[0] = #v;)
        } else {
            let values = kinds.iter().enumerate().map(|(k, &ids)| {
                let idx = syn::Index::from(k);
                wrap(quote!(data.#idx), ids)
            });
            let pos = 0..kinds.len();
            quote!(#(out[#pos] = #values;)*)
        }
    };
    let fill_inputs = fill(sig.inputs.iter().map(|i| Some(i.ids)).collect());
    let fill_targets = fill(vec![None; n_heads]);
    quote! {
        impl<T: #p::Scalar> #p::Data<T> for #name<T> {
            type Inputs<'a> = #inputs_ty where T: 'a;
            type Targets<'a> = #targets_ty where T: 'a;
            fn input_slices<'a>(data: Self::Inputs<'a>, out: &mut [#p::InputData<'a, T>]) {
                #fill_inputs
            }
            fn target_slices<'a>(data: Self::Targets<'a>, out: &mut [&'a [T]]) {
                #fill_targets
            }
        }
    }
}

/// The body of `summary()`: Keras's table, a row per layer.
pub fn summary(g: &Graph) -> TokenStream {
    let p = private();
    let consumers = g.consumers();
    let chain = g.inputs.len() == 1
        && g.heads.len() == 1
        && g.nodes.iter().enumerate().all(|(k, n)| k == 0 || n.inputs == [k - 1])
        && consumers.iter().all(|c| c.len() <= 1);
    // a shared layer is one row, connected to every tensor it is called on
    let rows = g.nodes.iter().enumerate().filter(|&(k, _)| g.holds_params(k)).map(|(k, n)| {
        let (layer, class, w) = (&n.layer, n.op.class(), lit(n.shape.size()));
        // the steps of a sequence without a length are `None`, 0 here
        let unknown_steps = g.steps_vary && n.shape.rank() == 2;
        let dims = n.shape.0.iter().enumerate().map(|(i, &d)| lit(if unknown_steps && i == 0 { 0 } else { d }));
        let params: usize = g.params(k).iter().map(|t| t.shape.iter().product::<usize>()).sum();
        let params = lit(params);
        let conn = g.calls(k).into_iter().flat_map(|c| g.nodes[c].inputs.iter().map(|&i| g.nodes[i].name.clone()));
        quote!(#p::SummaryRow { layer: #layer, class: #class, width: #w, shape: &[#(#dims),*], params: #params, connected_to: &[#(#conn),*] })
    });
    let title = &g.title;
    let (trainable, fixed) = g.param_count();
    let (tc, fc) = (lit(trainable), lit(fixed));
    quote! {
        #p::Summary {
            name: #title,
            rows: &[#(#rows),*],
            trainable: #tc,
            non_trainable: #fc,
            show_connected: !#chain,
            scalar_bytes: ::core::mem::size_of::<T>(),
        }
    }
}

/// The head fields of `forward_batch`'s result, from the workspace.
pub fn batch_heads(g: &Graph, layout: &Layout, sig: &Sig) -> TokenStream {
    let p = private();
    let takes: Vec<TokenStream> = g
        .heads
        .iter()
        .map(|h| {
            let (off, w) = (lit(layout.slots[h.node].out.unwrap_or(0)), lit(g.nodes[h.node].shape.size()));
            quote!(#p::SMatrix::<T, #w, { B }>::from_column_slice(&__sn_ws[#off * B..(#off + #w) * B]))
        })
        .collect();
    if takes.len() == 1 {
        takes[0].clone()
    } else {
        let out = &sig.output_name;
        let fields = g.heads.iter().map(|h| ident(&g.nodes[h.node].name));
        quote!(#out { #(#fields: #takes),* })
    }
}
