//! Code generation: the struct, its output and loss types, the straight-line
//! forward and backward passes, and the contract methods of DESIGN.md.

use crate::ir::*;
use crate::parse::NetworkDef;
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

fn p() -> TokenStream {
    quote!(::staticnet::__private)
}

/// A field or parameter identifier for a checked name (raw if a keyword).
pub fn ident(name: &str) -> Ident {
    syn::parse_str::<Ident>(name).unwrap_or_else(|_| Ident::new_raw(name, Span::call_site()))
}

fn lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

fn f64_lit(v: f64) -> Literal {
    Literal::f64_suffixed(v)
}

fn act_tokens(a: Act) -> TokenStream {
    let p = p();
    let v = format_ident!("{}", a.variant);
    quote!(#p::Activation::#v)
}

fn loss_tokens(l: LossKind) -> TokenStream {
    let p = p();
    match l {
        LossKind::Mse => quote!(#p::Loss::MeanSquaredError),
        LossKind::Mae => quote!(#p::Loss::MeanAbsoluteError),
        LossKind::Huber => quote!(#p::Loss::Huber),
        LossKind::Categorical { from_logits } => {
            quote!(#p::Loss::CategoricalCrossentropy { from_logits: #from_logits })
        }
        LossKind::SparseCategorical { from_logits } => {
            quote!(#p::Loss::SparseCategoricalCrossentropy { from_logits: #from_logits })
        }
        LossKind::Binary { from_logits } => quote!(#p::Loss::BinaryCrossentropy { from_logits: #from_logits }),
    }
}

fn metric_tokens(m: Metric) -> TokenStream {
    let p = p();
    let v = format_ident!("{}", format!("{:?}", m));
    quote!(#p::MetricKind::#v)
}

fn target_width(loss: Option<LossKind>, width: usize) -> usize {
    match loss {
        Some(LossKind::SparseCategorical { .. }) => 1,
        _ => width,
    }
}

/// A placeholder struct for a network that failed to check, with the
/// methods, argument counts and head fields the broken network shows, so
/// uses of the name add no errors of their own; see [`crate::placeholder`].
pub fn placeholder(vis: &syn::Visibility, name: &Ident, iface: &crate::check::Interface) -> TokenStream {
    crate::placeholder::emit(vis, name, iface)
}

struct Names {
    out: Vec<Ident>,
    pre: Vec<Ident>,
    aux: Vec<Ident>,
    grad: Vec<Ident>,
}

/// Emits the whole network.
pub fn expand(def: &NetworkDef, g: &Graph) -> TokenStream {
    let p = p();
    let name = &def.name;
    let vis = &def.vis;
    let attrs = &def.attrs;
    let output_name = format_ident!("{}Output", name);
    let losses_name = format_ident!("{}Losses", name);
    let layout = g.layout();
    let consumers = g.consumers();
    let n_nodes = g.nodes.len();
    let names = Names {
        out: (0..n_nodes).map(|k| format_ident!("__sn_o{}", k)).collect(),
        pre: (0..n_nodes).map(|k| format_ident!("__sn_p{}", k)).collect(),
        aux: (0..n_nodes).map(|k| format_ident!("__sn_a{}", k)).collect(),
        grad: (0..n_nodes).map(|k| format_ident!("__sn_g{}", k)).collect(),
    };
    let input_index = |k: NodeId| g.inputs.iter().position(|&i| i == k);
    let val = |k: NodeId| -> TokenStream {
        match input_index(k) {
            Some(i) => {
                let x = format_ident!("__sn_x{}", i);
                quote!(#x)
            }
            None => {
                let o = &names.out[k];
                quote!(&*#o)
            }
        }
    };
    let dx = |k: NodeId| -> TokenStream {
        if g.nodes[k].op == Op::Input {
            quote!(None)
        } else {
            let gk = &names.grad[k];
            quote!(Some(&mut *#gk))
        }
    };
    let in_width = |node: &Node| node.inputs.first().map_or(0, |&i| g.nodes[i].width);

    // ---- struct fields, tensors, init ----
    let mut fields = Vec::new();
    let mut init_zero = Vec::new();
    let mut init_in_place = Vec::new();
    let mut tensor_infos = Vec::new();
    let mut tensor_get = Vec::new();
    let mut tensor_get_mut = Vec::new();
    let mut moving_updates = Vec::new();
    let mut ti = 0usize;
    for (k, node) in g.nodes.iter().enumerate() {
        if !node.op.has_params() {
            continue;
        }
        let f = ident(&node.name);
        let w = lit(node.width);
        let iw = lit(in_width(node));
        let (ty, doc) = match &node.op {
            Op::Dense { use_bias: true, .. } => {
                (quote!(#p::layers::Dense<T, #iw, #w>), format!("Layer `{}` (Dense): kernel and bias.", node.name))
            }
            Op::Dense { .. } => (
                quote!(#p::layers::DenseNoBias<T, #iw, #w>),
                format!("Layer `{}` (Dense, no bias): kernel.", node.name),
            ),
            Op::LayerNorm { .. } => (
                quote!(#p::layers::LayerNormalization<T, #w>),
                format!("Layer `{}` (LayerNormalization): gamma and beta.", node.name),
            ),
            Op::BatchNorm { momentum, .. } => {
                let s = layout.slots[k].stats.unwrap_or(0);
                let (a, b) = (lit(s), lit(s + 2 * node.width));
                let m = f64_lit(*momentum);
                moving_updates.push(quote! {
                    self.#f.update_moving(&__sn_stats[#a..#b], <T as #p::Scalar>::of_f64(#m));
                });
                (
                    quote!(#p::layers::BatchNormalization<T, #w>),
                    format!("Layer `{}` (BatchNormalization): gamma, beta and moving statistics.", node.name),
                )
            }
            _ => continue,
        };
        fields.push(quote!(#[doc = #doc] pub #f: #ty,));
        init_in_place.push(match &node.op {
            Op::Dense { .. } => {
                quote!(#p::layers::glorot_uniform(self.#f.kernel.as_mut_slice(), #iw, #w, &mut __sn_rng);)
            }
            Op::BatchNorm { .. } => quote!(self.#f = #p::layers::BatchNormalization::initial();),
            _ => quote!(self.#f = #p::layers::LayerNormalization::initial();),
        });
        init_zero.push(quote!(#f: <#ty>::zeros(),));
        for (var, shape, trainable) in node.tensors(in_width(node)) {
            let tname = format!("{}.{}", node.name, var);
            let shape_lits = shape.iter().map(|&s| lit(s));
            tensor_infos
                .push(quote!(#p::TensorInfo { name: #tname, shape: &[#(#shape_lits),*], trainable: #trainable }));
            let v = format_ident!("{}", var);
            let idx = lit(ti);
            tensor_get.push(quote!(#idx => self.#f.#v.as_slice(),));
            tensor_get_mut.push(quote!(#idx => self.#f.#v.as_mut_slice(),));
            ti += 1;
        }
    }
    let no_params = fields.is_empty();
    if no_params {
        fields.push(quote!(#[doc(hidden)] pub __sn_scalar: ::core::marker::PhantomData<T>,));
        init_zero.push(quote!(__sn_scalar: ::core::marker::PhantomData,));
    }
    let (trainable_count, fixed_count) = g.param_count();
    let param_count = lit(trainable_count + fixed_count);

    // ---- the pass ----
    let mut splits = Vec::new();
    {
        let mut bufs: Vec<(usize, usize, &Ident)> = Vec::new();
        for (k, (node, slot)) in g.nodes.iter().zip(&layout.slots).enumerate() {
            if let Some(o) = slot.out {
                bufs.push((o, node.width, &names.out[k]));
            }
            if let Some(o) = slot.pre {
                bufs.push((o, node.width, &names.pre[k]));
            }
            if let Some(o) = slot.aux {
                bufs.push((o, 1, &names.aux[k]));
            }
        }
        bufs.sort_by_key(|b| b.0);
        for (_, rows, id) in bufs {
            let r = lit(rows);
            splits.push(quote!(let (#id, __sn_ws) = __sn_ws.split_at_mut(#r * __sn_n);));
        }
    }
    let input_bindings = g.inputs.iter().enumerate().map(|(i, _)| {
        let x = format_ident!("__sn_x{}", i);
        quote!(let #x: &[T] = __sn_inputs[#i];)
    });
    let mut forward = Vec::new();
    // The one-sample pass of `forward`: a stack buffer per node and kernels
    // specialised for each layer's shape, in inference mode.
    let mut forward1 = Vec::new();
    for (k, node) in g.nodes.iter().enumerate() {
        let o = &names.out[k];
        let pre = &names.pre[k];
        if node.op != Op::Input {
            let buf = format_ident!("__sn_b{}", k);
            let w = lit(node.width);
            forward1.push(quote! {
                let mut #buf = [<T as #p::Scalar>::of_f64(0.0); #w];
                let #o: &mut [T] = &mut #buf;
            });
        }
        match &node.op {
            Op::Input => {}
            Op::Dense { activation, use_bias, .. } => {
                let x = val(node.inputs[0]);
                let iw = lit(in_width(node));
                let w = lit(node.width);
                let field = ident(&node.name);
                let bias = if *use_bias { quote!(Some(&self.#field.bias)) } else { quote!(None) };
                let act = act_tokens(*activation);
                forward1.push(
                    quote!(#p::kernels::dense_forward1::<T, #iw, #w>(&self.#field.kernel, #bias, #act, #x, &mut *#o);),
                );
            }
            Op::Dropout { .. } => {
                let x = val(node.inputs[0]);
                forward1.push(quote!(#o.copy_from_slice(#x);));
            }
            Op::LayerNorm { epsilon } => {
                let x = val(node.inputs[0]);
                let e = f64_lit(*epsilon);
                let w = lit(node.width);
                let field = ident(&node.name);
                forward1.push(quote!(#p::kernels::layer_norm_forward::<T, #w>(&self.#field, #e, #x, &mut *#o, None);));
            }
            Op::BatchNorm { epsilon, .. } => {
                let x = val(node.inputs[0]);
                let e = f64_lit(*epsilon);
                let w = lit(node.width);
                let field = ident(&node.name);
                forward1.push(quote!(#p::kernels::batch_norm_forward::<T, #w>(&self.#field, #e, #x, &mut *#o, None);));
            }
            // The rest do not depend on the mode: the batch statement, with n = 1.
            _ => {}
        }
        let aux = &names.aux[k];
        let w = lit(node.width);
        let field = ident(&node.name);
        let stmt = match &node.op {
            Op::Input => continue,
            Op::Dense { activation, use_bias, .. } => {
                let x = val(node.inputs[0]);
                let iw = lit(in_width(node));
                let bias = if *use_bias { quote!(Some(&self.#field.bias)) } else { quote!(None) };
                let act = act_tokens(*activation);
                let z = if activation.needs_input() {
                    quote!(if __sn_training { Some(&mut *#pre) } else { None })
                } else {
                    quote!(None)
                };
                quote!(#p::kernels::dense_forward::<T, #iw, #w>(&self.#field.kernel, #bias, #act, #x, #z, &mut *#o);)
            }
            Op::Activation(a) => {
                let x = val(node.inputs[0]);
                let act = act_tokens(*a);
                quote!(#p::activations::forward(#act, #x, &mut *#o, #w);)
            }
            Op::Dropout { rate } => {
                let x = val(node.inputs[0]);
                let r = f64_lit(*rate);
                let stream = lit(k);
                quote! {
                    if __sn_training {
                        #p::kernels::dropout_forward(#r, __sn_seed, #stream as u64, #x, &mut *#pre, &mut *#o);
                    } else {
                        #o.copy_from_slice(#x);
                    }
                }
            }
            Op::LayerNorm { epsilon } => {
                let x = val(node.inputs[0]);
                let e = f64_lit(*epsilon);
                quote!(#p::kernels::layer_norm_forward::<T, #w>(&self.#field, #e, #x, &mut *#o, if __sn_training { Some((&mut *#pre, &mut *#aux)) } else { None });)
            }
            Op::BatchNorm { epsilon, .. } => {
                let x = val(node.inputs[0]);
                let e = f64_lit(*epsilon);
                let s = layout.slots[k].stats.unwrap_or(0);
                let (a, b) = (lit(s), lit(s + 3 * node.width));
                quote!(#p::kernels::batch_norm_forward::<T, #w>(&self.#field, #e, #x, &mut *#o, if __sn_training { Some((&mut *#pre, &mut __sn_stats[#a..#b])) } else { None });)
            }
            Op::Merge(m) => {
                let xs = node.inputs.iter().map(|&i| val(i));
                let v = format_ident!("{}", m.variant());
                quote!(#p::kernels::merge_forward(#p::kernels::Merge::#v, &[#(#xs),*], &mut *#o);)
            }
            Op::Concatenate => {
                let mut off = 0;
                let parts = node.inputs.iter().map(|&i| {
                    let x = val(i);
                    let wi = g.nodes[i].width;
                    let (wl, ol) = (lit(wi), lit(off));
                    off += wi;
                    quote!(#p::kernels::concat_part(#x, #wl, &mut *#o, #w, #ol);)
                });
                quote!(#(#parts)*)
            }
            Op::Dot { normalize } => {
                let (a, b) = (val(node.inputs[0]), val(node.inputs[1]));
                let wa = lit(g.nodes[node.inputs[0]].width);
                quote!(#p::kernels::dot_forward(#a, #b, #wa, #normalize, &mut *#o);)
            }
        };
        if matches!(node.op, Op::Activation(_) | Op::Merge(_) | Op::Concatenate | Op::Dot { .. }) {
            forward1.push(stmt.clone());
        }
        forward.push(stmt);
    }

    // ---- losses and backward ----
    let trainable = g.trainable();
    let train_part = if trainable {
        let mut grad_splits = Vec::new();
        for (k, node) in g.nodes.iter().enumerate() {
            if node.op != Op::Input {
                let gk = &names.grad[k];
                let r = lit(node.width);
                grad_splits.push(quote!(let (#gk, __sn_ws) = __sn_ws.split_at_mut(#r * __sn_n);));
            }
        }
        let fused: Vec<bool> = (0..g.heads.len()).map(|h| g.fused(h, &consumers)).collect();
        let mut fused_node = vec![false; n_nodes];
        let mut head_stmts = Vec::new();
        for (h, head) in g.heads.iter().enumerate() {
            let k = head.node;
            let o = &names.out[k];
            let gk = &names.grad[k];
            let w = lit(g.nodes[k].width);
            let loss = loss_tokens(head.loss.expect("trainable graphs have a loss per head"));
            let weight = f64_lit(head.weight);
            let hl = lit(h);
            if fused[h] {
                fused_node[k] = true;
                let act = act_tokens(g.nodes[k].op.activation().expect("fused heads end in an activation"));
                head_stmts.push(quote! {
                    __sn_head_losses[#hl] = #p::losses::fused_loss_and_grad(#loss, #act, &*#o, __sn_targets[#hl], #w, __sn_sample_weight, &mut *#gk, <T as #p::Scalar>::of_f64(#weight));
                });
            } else {
                head_stmts.push(quote! {
                    __sn_head_losses[#hl] = #p::losses::loss_and_grad(#loss, &*#o, __sn_targets[#hl], #w, __sn_sample_weight, Some((&mut *#gk, <T as #p::Scalar>::of_f64(#weight))));
                });
            }
            head_stmts.push(quote!(__sn_total += <T as #p::Scalar>::of_f64(#weight) * __sn_head_losses[#hl];));
        }
        let mut backward = Vec::new();
        for (k, node) in g.nodes.iter().enumerate().rev() {
            let o = &names.out[k];
            let pre = &names.pre[k];
            let aux = &names.aux[k];
            let gk = &names.grad[k];
            let w = lit(node.width);
            let field = ident(&node.name);
            let stmt = match &node.op {
                Op::Input => continue,
                Op::Dense { activation, use_bias, .. } => {
                    let j = node.inputs[0];
                    let x = val(j);
                    let iw = lit(in_width(node));
                    let act = act_tokens(*activation);
                    let act_back = if activation.is_linear() || fused_node[k] {
                        quote!()
                    } else if activation.needs_input() {
                        quote!(#p::activations::backward(#act, &*#pre, &*#o, &mut *#gk, #w);)
                    } else {
                        quote!(#p::kernels::backward_from_output(#act, &*#o, &mut *#gk, #w);)
                    };
                    let db = if *use_bias { quote!(Some(&mut __sn_grads.#field.bias)) } else { quote!(None) };
                    let d = dx(j);
                    quote! {
                        #act_back
                        #p::kernels::dense_backward::<T, #iw, #w>(&self.#field.kernel, #x, &*#gk, &mut __sn_grads.#field.kernel, #db, #d);
                    }
                }
                Op::Activation(a) => {
                    let j = node.inputs[0];
                    let x = val(j);
                    let act_back = if fused_node[k] {
                        quote!()
                    } else {
                        let act = act_tokens(*a);
                        quote!(#p::activations::backward(#act, #x, &*#o, &mut *#gk, #w);)
                    };
                    let add = if g.nodes[j].op == Op::Input {
                        quote!()
                    } else {
                        let gj = &names.grad[j];
                        quote!(#p::kernels::add_into(&mut *#gj, &*#gk);)
                    };
                    quote!(#act_back #add)
                }
                Op::Dropout { .. } => {
                    let j = node.inputs[0];
                    if g.nodes[j].op == Op::Input {
                        continue;
                    }
                    let gj = &names.grad[j];
                    quote!(#p::kernels::dropout_backward(&*#pre, &*#gk, &mut *#gj);)
                }
                Op::LayerNorm { .. } => {
                    let d = dx(node.inputs[0]);
                    quote!(#p::kernels::layer_norm_backward::<T, #w>(&self.#field, &*#pre, &*#aux, &*#gk, &mut __sn_grads.#field, #d);)
                }
                Op::BatchNorm { .. } => {
                    let d = dx(node.inputs[0]);
                    let s = layout.slots[k].stats.unwrap_or(0);
                    let (a, b) = (lit(s), lit(s + 3 * node.width));
                    quote!(#p::kernels::batch_norm_backward::<T, #w>(&self.#field, &*#pre, &__sn_stats[#a..#b], &*#gk, &mut __sn_grads.#field, #d);)
                }
                Op::Merge(m) => {
                    let v = format_ident!("{}", m.variant());
                    let mut parts = Vec::new();
                    for (i, &j) in node.inputs.iter().enumerate() {
                        if g.nodes[j].op == Op::Input {
                            continue;
                        }
                        let xs = node.inputs.iter().map(|&i| val(i));
                        let gj = &names.grad[j];
                        parts.push(quote!(#p::kernels::merge_backward(#p::kernels::Merge::#v, &[#(#xs),*], #i, &*#gk, &mut *#gj);));
                    }
                    quote!(#(#parts)*)
                }
                Op::Concatenate => {
                    let mut off = 0;
                    let mut parts = Vec::new();
                    for &j in &node.inputs {
                        let wj = g.nodes[j].width;
                        if g.nodes[j].op != Op::Input {
                            let gj = &names.grad[j];
                            let (wl, ol) = (lit(wj), lit(off));
                            parts.push(quote!(#p::kernels::concat_part_backward(&*#gk, #w, #ol, &mut *#gj, #wl);));
                        }
                        off += wj;
                    }
                    quote!(#(#parts)*)
                }
                Op::Dot { normalize } => {
                    let (a, b) = (val(node.inputs[0]), val(node.inputs[1]));
                    let wa = lit(g.nodes[node.inputs[0]].width);
                    let mut parts = Vec::new();
                    for (i, &j) in node.inputs.iter().enumerate() {
                        if g.nodes[j].op != Op::Input {
                            let gj = &names.grad[j];
                            parts.push(
                                quote!(#p::kernels::dot_backward(#a, #b, #wa, #normalize, #i, &*#gk, &mut *#gj);),
                            );
                        }
                    }
                    quote!(#(#parts)*)
                }
            };
            backward.push(stmt);
        }
        let grad_rows = lit(layout.train_rows - layout.forward_rows);
        quote! {
            let Some((__sn_targets, __sn_sample_weight, __sn_grads, __sn_head_losses)) = __sn_train else {
                return <T as #p::Scalar>::of_f64(0.0);
            };
            let __sn_ws = __sn_rest;
            __sn_ws[..#grad_rows * __sn_n].fill(<T as #p::Scalar>::of_f64(0.0));
            #(#grad_splits)*
            let mut __sn_total = <T as #p::Scalar>::of_f64(0.0);
            #(#head_stmts)*
            #(#backward)*
            __sn_total
        }
    } else {
        quote! {
            let _ = (__sn_rest, __sn_train);
            <T as #p::Scalar>::of_f64(0.0)
        }
    };

    // ---- public signatures ----
    let inputs: Vec<&Node> = g.inputs.iter().map(|&i| &g.nodes[i]).collect();
    let in_idents: Vec<Ident> = inputs.iter().map(|n| ident(&n.var)).collect();
    let in_widths: Vec<Literal> = inputs.iter().map(|n| lit(n.width)).collect();
    let in_names: Vec<String> = inputs.iter().map(|n| n.var.clone()).collect();
    let heads: Vec<&Node> = g.heads.iter().map(|h| &g.nodes[h.node]).collect();
    let head_idents: Vec<Ident> = heads.iter().map(|n| ident(&n.name)).collect();
    let head_widths: Vec<Literal> = heads.iter().map(|n| lit(n.width)).collect();
    let target_idents: Vec<Ident> = heads.iter().map(|n| format_ident!("{}_target", n.name)).collect();
    let target_widths: Vec<Literal> =
        g.heads.iter().map(|h| lit(target_width(h.loss, g.nodes[h.node].width))).collect();
    let head_offsets: Vec<Literal> = g.heads.iter().map(|h| lit(layout.slots[h.node].out.unwrap_or(0))).collect();
    let n_heads = lit(g.heads.len());
    let fwd_rows = lit(layout.forward_rows);
    let train_rows = lit(layout.train_rows);
    let stats_len = lit(layout.stats_len);
    let single = g.heads.len() == 1;

    let batch_ret = if single {
        let w = &head_widths[0];
        quote!(#p::SMatrix<T, #w, { B }>)
    } else {
        quote!(#output_name<T, { B }>)
    };
    let one_ret = if single {
        let w = &head_widths[0];
        quote!(#p::SVector<T, #w>)
    } else {
        quote!(#output_name<T, 1>)
    };
    let extract_heads = {
        let takes = head_offsets.iter().zip(&head_widths).map(
            |(off, w)| quote!(#p::SMatrix::<T, #w, { B }>::from_column_slice(&__sn_ws[#off * B..(#off + #w) * B])),
        );
        let takes: Vec<TokenStream> = takes.collect();
        if single {
            let t = &takes[0];
            quote!(#t)
        } else {
            quote!(#output_name { #(#head_idents: #takes),* })
        }
    };

    let forward1_inputs = g.inputs.iter().enumerate().map(|(i, &k)| {
        let x = format_ident!("__sn_x{}", i);
        let arg = ident(&g.nodes[k].var);
        quote!(let #x: &[T] = #arg.as_slice();)
    });
    let extract_one = {
        let takes: Vec<TokenStream> = g
            .heads
            .iter()
            .zip(&head_widths)
            .map(|(h, w)| {
                let v = val(h.node);
                quote!(#p::SMatrix::<T, #w, 1>::from_column_slice(#v))
            })
            .collect();
        if single {
            let t = &takes[0];
            quote!(#t)
        } else {
            quote!(#output_name { #(#head_idents: #takes),* })
        }
    };

    let output_struct = if single {
        quote!()
    } else {
        let docs = heads.iter().map(|n| format!("Output `{}`: {} units per sample.", n.name, n.width));
        let doc = format!("The outputs of [`{name}`], one field per head; a column per sample.");
        quote! {
            #[doc = #doc]
            #[derive(Clone, Debug, PartialEq)]
            #vis struct #output_name<T: #p::Scalar, const B: usize = 1> {
                #( #[doc = #docs] pub #head_idents: #p::SMatrix<T, #head_widths, { B }>, )*
            }
        }
    };
    let losses_doc =
        format!("The losses [`{name}`]'s training methods report: the weighted total and each head's unweighted loss.");
    let loss_field_docs = heads.iter().map(|n| format!("Loss of head `{}` (unweighted).", n.name));
    let losses_struct = quote! {
        #[doc = #losses_doc]
        #[derive(Clone, Copy, Debug, PartialEq)]
        #vis struct #losses_name<T> {
            /// `Σ weight · loss` over the heads.
            pub total: T,
            #( #[doc = #loss_field_docs] pub #head_idents: T, )*
        }
    };

    // ---- constants ----
    let head_infos = g.heads.iter().map(|h| {
        let n = &g.nodes[h.node];
        let hname = &n.name;
        let w = lit(n.width);
        let tw = lit(target_width(h.loss, n.width));
        let loss = match h.loss {
            Some(l) => {
                let t = loss_tokens(l);
                quote!(Some(#t))
            }
            None => quote!(None),
        };
        let weight = f64_lit(h.weight);
        let metrics = h.metrics.iter().map(|m| metric_tokens(*m));
        quote!(#p::HeadInfo { name: #hname, width: #w, target_width: #tw, loss: #loss, loss_weight: #weight, metrics: &[#(#metrics),*] })
    });

    // ---- summary ----
    let chain = g.inputs.len() == 1
        && g.heads.len() == 1
        && g.nodes.iter().enumerate().all(|(k, n)| k == 0 || n.inputs == [k - 1])
        && consumers.iter().all(|c| c.len() <= 1);
    let rows = g.nodes.iter().map(|n| {
        let layer = &n.name;
        let class = n.op.class();
        let w = lit(n.width);
        let params: usize = n.tensors(in_width(n)).iter().map(|(_, s, _)| s.iter().product::<usize>()).sum();
        let params = lit(params);
        let conn = n.inputs.iter().map(|&i| g.nodes[i].name.clone());
        quote!(#p::SummaryRow { layer: #layer, class: #class, width: #w, params: #params, connected_to: &[#(#conn),*] })
    });
    let title = &g.title;
    let (tc, fc) = (lit(trainable_count), lit(fixed_count));

    // ---- training methods ----
    let pass_inputs = quote!(&[#(#in_idents.as_slice()),*]);
    let pass_targets = quote!(&[#(#target_idents.as_slice()),*]);
    let head_idx: Vec<Literal> = (0..g.heads.len()).map(lit).collect();
    let make_losses = quote!(#losses_name { total: __sn_total, #(#head_idents: __sn_head[#head_idx]),* });
    let optimizer_ty = format_ident!("{}", g.optimizer.kind);
    let optimizer_settings = g.optimizer.settings.iter().map(|(k, v)| {
        let m = format_ident!("with_{}", k);
        match v {
            Setting::Float(f) => {
                let f = f64_lit(*f);
                quote!(.#m(#f))
            }
            Setting::Bool(b) => quote!(.#m(#b)),
        }
    });
    let training_methods = if trainable {
        quote! {
            /// Runs the training-mode forward pass on `B` samples, every head's
            /// loss and the weighted total, and writes the total's gradient into
            /// `grads` (dropout uses seed 0; see `train_step` for fresh masks).
            #[allow(clippy::too_many_arguments)]
            pub fn loss_and_grad<const B: usize>(&self, #(#in_idents: &#p::SMatrix<T, #in_widths, { B }>,)* #(#target_idents: &#p::SMatrix<T, #target_widths, { B }>,)* grads: &mut Self) -> #losses_name<T> {
                let mut __sn_ws = #p::kernels::CacheAligned(#p::SMatrix::<T, #train_rows, { B }>::zeros());
                let mut __sn_stats = #p::SVector::<T, #stats_len>::zeros();
                let mut __sn_head = [<T as #p::Scalar>::of_f64(0.0); #n_heads];
                let __sn_total = self.__sn_pass(B, #pass_inputs, __sn_ws.0.as_mut_slice(), #p::Mode::Training { dropout_seed: 0 }, __sn_stats.as_mut_slice(),
                    Some((#pass_targets, None, grads, &mut __sn_head)));
                #make_losses
            }

            /// The optimizer `compile` names, with Keras's defaults for what it
            /// leaves out, its state sized for this model.
            pub fn optimizer() -> #p::#optimizer_ty<T, Self> {
                #p::#optimizer_ty::<T, Self>::new() #(#optimizer_settings)*
            }

            /// One training step on `B` samples: `loss_and_grad`, the
            /// moving-statistics update, then one optimizer update. Returns the
            /// losses before the update.
            #[allow(clippy::too_many_arguments)]
            pub fn train_step<const B: usize, O: #p::Optimizer<T, Self>>(&mut self, optimizer: &mut O, #(#in_idents: &#p::SMatrix<T, #in_widths, { B }>,)* #(#target_idents: &#p::SMatrix<T, #target_widths, { B }>,)*) -> #losses_name<T> {
                let mut __sn_grads = Self::zeros();
                let mut __sn_ws = #p::kernels::CacheAligned(#p::SMatrix::<T, #train_rows, { B }>::zeros());
                let mut __sn_stats = #p::SVector::<T, #stats_len>::zeros();
                let mut __sn_head = [<T as #p::Scalar>::of_f64(0.0); #n_heads];
                let __sn_seed = #p::rng::mix(optimizer.iterations() ^ 0x5EED_0F_D80F_0000);
                let __sn_total = self.__sn_pass(B, #pass_inputs, __sn_ws.0.as_mut_slice(), #p::Mode::Training { dropout_seed: __sn_seed }, __sn_stats.as_mut_slice(),
                    Some((#pass_targets, None, &mut __sn_grads, &mut __sn_head)));
                <Self as #p::Train<T>>::update_moving_statistics(self, __sn_stats.as_slice());
                optimizer.apply(self, &__sn_grads);
                #make_losses
            }
        }
    } else {
        quote!()
    };
    let train_impl = if trainable {
        quote! {
            impl<T: #p::Scalar> #p::Train<T> for #name<T> {
                fn loss_and_grad_slices(&self, n: usize, inputs: &[&[T]], targets: &[&[T]], sample_weight: ::core::option::Option<&[T]>, workspace: &mut [T], stats: &mut [T], grads: &mut Self, head_losses: &mut [T], dropout_seed: u64) -> T {
                    self.__sn_pass(n, inputs, workspace, #p::Mode::Training { dropout_seed }, stats, Some((targets, sample_weight, grads, head_losses)))
                }
                #[allow(unused_variables)]
                fn update_moving_statistics(&mut self, __sn_stats: &[T]) {
                    #(#moving_updates)*
                }
            }
        }
    } else {
        quote!()
    };

    let data_ty = |widths: &[Literal]| -> TokenStream {
        let tys: Vec<TokenStream> = widths.iter().map(|w| quote!(&'a #p::OMatrix<T, #p::Const<#w>, #p::Dyn>)).collect();
        if tys.len() == 1 {
            let t = &tys[0];
            quote!(#t)
        } else {
            quote!((#(#tys,)*))
        }
    };
    let data_fill = |count: usize| -> TokenStream {
        if count == 1 {
            quote!(out[0] = data.as_slice();)
        } else {
            let idx = (0..count).map(syn::Index::from);
            let pos = 0..count;
            quote!(#(out[#pos] = data.#idx.as_slice();)*)
        }
    };
    let inputs_ty = data_ty(&in_widths);
    let targets_ty = data_ty(&target_widths);
    let fill_inputs = data_fill(in_widths.len());
    let fill_targets = data_fill(target_widths.len());

    let forward_doc = format!(
        "Runs the network on one sample{}.",
        if single { String::new() } else { format!(", returning a [`{output_name}`] with one field per head") }
    );
    let struct_doc_note = format!(
        "\n\nGenerated by `network!`: {} parameters, inputs {}.",
        trainable_count + fixed_count,
        in_names.join(", ")
    );

    let pretrained_items = pretrained(name, g);
    quote! {
        #(#attrs)*
        #[doc = #struct_doc_note]
        #[derive(Clone, Debug, PartialEq)]
        #vis struct #name<T: #p::Scalar = f32> {
            #(#fields)*
        }

        #output_struct
        #losses_struct

        impl<T: #p::Scalar> #name<T> {
            /// Number of scalars in all parameters, trainable or not.
            pub const PARAM_COUNT: usize = #param_count;

            /// Keras's initial weights (Glorot-uniform kernels, zero biases),
            /// reproducible for `seed`.
            pub fn new(seed: u64) -> Self {
                let mut __sn_model = Self::zeros();
                __sn_model.__sn_init(seed);
                __sn_model
            }

            #[doc(hidden)]
            fn __sn_init(&mut self, seed: u64) {
                let mut __sn_rng = #p::rng::SplitMix64::new(seed);
                let _ = &mut __sn_rng;
                #(#init_in_place)*
            }

            /// Every parameter zero: a gradient buffer.
            pub fn zeros() -> Self {
                Self { #(#init_zero)* }
            }

            /// The Keras-like summary table; print it with `{}`.
            pub fn summary() -> #p::Summary {
                #p::Summary {
                    name: #title,
                    rows: &[#(#rows),*],
                    trainable: #tc,
                    non_trainable: #fc,
                    show_connected: !#chain,
                    scalar_bytes: ::core::mem::size_of::<T>(),
                }
            }

            #[doc = #forward_doc]
            #[allow(unused_mut, clippy::all)]
            pub fn forward(&self, #(#in_idents: &#p::SVector<T, #in_widths>),*) -> #one_ret {
                #(#forward1_inputs)*
                #(#forward1)*
                #extract_one
            }

            /// Runs the network on `B` samples at once, a column per sample.
            pub fn forward_batch<const B: usize>(&self, #(#in_idents: &#p::SMatrix<T, #in_widths, { B }>),*) -> #batch_ret {
                let mut __sn_ws = #p::kernels::CacheAligned(#p::SMatrix::<T, #fwd_rows, { B }>::zeros());
                let mut __sn_stats = #p::SVector::<T, #stats_len>::zeros();
                self.__sn_pass(B, #pass_inputs, __sn_ws.0.as_mut_slice(), #p::Mode::Inference, __sn_stats.as_mut_slice(), None);
                let __sn_ws = __sn_ws.0.as_slice();
                #extract_heads
            }

            #training_methods

            #[doc(hidden)]
            #[allow(unused_variables, unused_mut, clippy::all)]
            fn __sn_pass(&self, __sn_n: usize, __sn_inputs: &[&[T]], __sn_ws: &mut [T], __sn_mode: #p::Mode, __sn_stats: &mut [T],
                __sn_train: ::core::option::Option<(&[&[T]], ::core::option::Option<&[T]>, &mut Self, &mut [T])>) -> T {
                let (__sn_training, __sn_seed) = match __sn_mode {
                    #p::Mode::Training { dropout_seed } => (true, dropout_seed),
                    #p::Mode::Inference => (false, 0u64),
                };
                #(#input_bindings)*
                #(#splits)*
                let __sn_rest = __sn_ws;
                #(#forward)*
                #train_part
            }
        }

        impl<T: #p::Scalar> #p::Network<T> for #name<T> {
            const PARAM_COUNT: usize = #param_count;
            const TENSORS: &'static [#p::TensorInfo] = &[#(#tensor_infos),*];
            const INPUT_NAMES: &'static [&'static str] = &[#(#in_names),*];
            const INPUT_WIDTHS: &'static [usize] = &[#(#in_widths),*];
            const HEADS: &'static [#p::HeadInfo] = &[#(#head_infos),*];
            const FORWARD_ROWS: usize = #fwd_rows;
            const TRAIN_ROWS: usize = #train_rows;
            const HEAD_OFFSETS: &'static [usize] = &[#(#head_offsets),*];
            const STATS_LEN: usize = #stats_len;

            fn zeros() -> Self {
                Self::zeros()
            }
            fn with_seed(seed: u64) -> Self {
                Self::new(seed)
            }
            fn tensor(&self, i: usize) -> &[T] {
                match i {
                    #(#tensor_get)*
                    _ => &[],
                }
            }
            fn tensor_mut(&mut self, i: usize) -> &mut [T] {
                match i {
                    #(#tensor_get_mut)*
                    _ => &mut [],
                }
            }
            fn forward_slices(&self, n: usize, inputs: &[&[T]], workspace: &mut [T], mode: #p::Mode, stats: &mut [T]) {
                self.__sn_pass(n, inputs, workspace, mode, stats, None);
            }
        }

        #train_impl

        #pretrained_items

        #p::with_alloc! {
            // SAFETY: the struct holds only f32/f64 matrices (T is sealed to
            // those) and zero-sized markers, for which zeroed memory is valid.
            #[allow(unsafe_code)]
            unsafe impl<T: #p::Scalar> #p::layers::ZeroBits for #name<T> {}

            impl<T: #p::Scalar> #name<T> {
                /// Like `new`, but builds the model in place on the heap, never
                /// as a stack temporary: for models too large for the stack.
                pub fn new_boxed(seed: u64) -> #p::Box<Self> {
                    let mut __sn_model = #p::layers::boxed_zeroed::<Self>();
                    __sn_model.__sn_init(seed);
                    __sn_model
                }

                /// The weights as a safetensors file: `"{layer}.kernel"` with
                /// Keras's `[in, out]` shape, `"{layer}.bias"`, and so on.
                pub fn to_safetensors(&self) -> #p::Vec<u8> {
                    #p::weights::to_safetensors(self)
                }

                /// Loads weights written by `to_safetensors` (or by Keras, in its
                /// layout), f32 or f64; an error names any missing, extra or
                /// misshapen tensor.
                pub fn from_safetensors(bytes: &[u8]) -> ::core::result::Result<Self, #p::weights::WeightsError> {
                    #p::weights::from_safetensors(bytes)
                }
            }

            impl<T: #p::Scalar> #p::Data<T> for #name<T> {
                type Inputs<'a> = #inputs_ty where T: 'a;
                type Targets<'a> = #targets_ty where T: 'a;
                fn input_slices<'a>(data: Self::Inputs<'a>, out: &mut [&'a [T]]) {
                    #fill_inputs
                }
                fn target_slices<'a>(data: Self::Targets<'a>, out: &mut [&'a [T]]) {
                    #fill_targets
                }
            }
        }
    }
}

/// `PRETRAINED` constants for `f32` and `f64` from the `weights("…")` file,
/// and an `include_bytes!` of it so that editing the file rebuilds the crate.
fn pretrained(name: &Ident, g: &Graph) -> TokenStream {
    let Some(pre) = &g.pretrained else { return TokenStream::new() };
    let p = p();
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
            if !node.op.has_params() {
                continue;
            }
            let f = ident(&node.name);
            let members = specs.iter().zip(&pre.values).filter(|(s, _)| s.layer == k).map(|(spec, vals)| {
                let var = format_ident!("{}", spec.variable);
                // Keras's row-major [in, out] is the column-major out × in matrix:
                // one array of `out` values per input.
                let rows = *spec.shape.last().unwrap_or(&1);
                let columns = vals.chunks(rows.max(1)).map(|col| {
                    let col = col.iter().map(|&v| num(v));
                    quote!([#(#col),*])
                });
                quote!(#var: #p::SMatrix::from_array_storage(#p::ArrayStorage([#(#columns),*])))
            });
            let ty_path = match &node.op {
                Op::Dense { use_bias: true, .. } => quote!(#p::layers::Dense),
                Op::Dense { .. } => quote!(#p::layers::DenseNoBias),
                Op::LayerNorm { .. } => quote!(#p::layers::LayerNormalization),
                _ => quote!(#p::layers::BatchNormalization),
            };
            fields.push(quote!(#f: #ty_path { #(#members),* }));
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
