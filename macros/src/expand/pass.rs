//! The straight-line passes: the batch pass (`__sn_pass`: forward in
//! topological order, then every head's loss and the backward pass in
//! reverse order) and the one-sample `forward`. Each node's statements come
//! from its operation ([`crate::ops::Op`]); this module names the buffers
//! after the tensors they hold (`__sn_dense_1_out`, `__sn_dense_1_grad`,
//! `__sn_posts_in`) and carves them out of the workspace.

use super::{ident, loss_tokens};
use crate::ir::{Graph, Layout, NodeId};
use crate::ops::{act_tokens, f64_lit, lit, Emit, Stream};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// The buffer locals of the generated passes.
pub struct Locals<'g> {
    g: &'g Graph,
    layout: &'g Layout,
    /// The model's inputs have gradient buffers (`__sn_{var}_dx`): the
    /// pass of a network called as a layer inside another.
    input_grads: bool,
}

impl<'g> Locals<'g> {
    pub fn new(g: &'g Graph, layout: &'g Layout) -> Self {
        Locals { g, layout, input_grads: false }
    }

    /// An input's gradient buffer, in [`backprop_pass`].
    pub fn input_grad(&self, k: NodeId) -> Ident {
        format_ident!("__sn_{}_dx", self.g.nodes[k].var)
    }

    /// An input's slice: `__sn_{var}_in`.
    pub fn input(&self, k: NodeId) -> Ident {
        format_ident!("__sn_{}_in", self.g.nodes[k].var)
    }

    /// A node's output: `__sn_{layer}_out`.
    pub fn out(&self, k: NodeId) -> Ident {
        format_ident!("__sn_{}_out", self.g.nodes[k].name)
    }

    /// The gradient of a node's output: `__sn_{layer}_grad`.
    pub fn grad(&self, k: NodeId) -> Ident {
        format_ident!("__sn_{}_grad", self.g.nodes[k].name)
    }

    fn scratch(&self, k: NodeId, role: &str) -> Ident {
        format_ident!("__sn_{}_{}", self.g.nodes[k].name, role)
    }

    /// A node's value as a `&[T]`.
    pub fn value(&self, k: NodeId) -> TokenStream {
        if self.g.nodes[k].is_input() {
            let x = self.input(k);
            quote!(#x)
        } else {
            let o = self.out(k);
            quote!(&*#o)
        }
    }

    /// What node `k`'s operation writes its code with.
    pub fn emit(&self, k: NodeId, fused: bool) -> Emit<'g> {
        let g = self.g;
        let node = &g.nodes[k];
        let slot = &self.layout.slots[k];
        let f = ident(&node.layer);
        Emit {
            p: super::private(),
            node,
            in_shapes: g.in_shapes(k),
            field: quote!(self.#f),
            grads: quote!(__sn_grads.#f),
            inputs: node.inputs.iter().map(|&j| self.value(j)).collect(),
            input_grads: node
                .inputs
                .iter()
                .map(|&j| match (g.nodes[j].is_input(), self.input_grads) {
                    (false, _) => Some(self.grad(j)),
                    (true, true) => Some(self.input_grad(j)),
                    (true, false) => None,
                })
                .collect(),
            out: self.out(k),
            grad: self.grad(k),
            scratch: slot.scratch.iter().map(|(role, _, _)| (*role, self.scratch(k, role))).collect(),
            stats: slot.stats,
            fused,
            index: k,
        }
    }

    /// `let (__sn_x_out, __sn_ws) = __sn_ws.split_at_mut(rows * __sn_n);`
    /// for every forward buffer, in workspace order.
    fn forward_splits(&self) -> Vec<TokenStream> {
        let mut bufs: Vec<(usize, usize, Ident)> = Vec::new();
        for (k, (node, slot)) in self.g.nodes.iter().zip(&self.layout.slots).enumerate() {
            if let Some(o) = slot.out {
                bufs.push((o, node.shape.size(), self.out(k)));
            }
            for (role, at, rows) in &slot.scratch {
                bufs.push((*at, *rows, self.scratch(k, role)));
            }
        }
        bufs.sort_by_key(|b| b.0);
        bufs.into_iter()
            .map(|(_, rows, id)| {
                let r = lit(rows);
                quote!(let (#id, __sn_ws) = __sn_ws.split_at_mut(#r * __sn_n);)
            })
            .collect()
    }
}

/// The body of `__sn_pass`: bind the inputs, carve the workspace, run
/// forward; with training targets, every head's loss and the backward pass.
pub fn batch_pass(g: &Graph, layout: &Layout) -> TokenStream {
    let p = super::private();
    let locals = Locals::new(g, layout);
    let inputs = g.inputs.iter().enumerate().map(|(i, &k)| {
        let (x, i) = (locals.input(k), lit(i));
        quote!(let #x: &[T] = __sn_inputs[#i];)
    });
    let splits = locals.forward_splits();
    let forward = (0..g.nodes.len()).filter(|&k| !g.nodes[k].is_input()).map(|k| locals.emit(k, false));
    let forward: Vec<TokenStream> = forward.map(|e| e.node.op.forward(&e)).collect();
    let train = if g.trainable() { backward(g, &locals) } else { no_training() };
    quote! {
        let (__sn_training, __sn_seed) = match __sn_mode {
            #p::Mode::Training { dropout_seed } => (true, dropout_seed),
            #p::Mode::Inference => (false, 0u64),
        };
        #(#inputs)*
        #(#splits)*
        let __sn_rest = __sn_ws;
        #(#forward)*
        #train
    }
}

fn no_training() -> TokenStream {
    let p = super::private();
    quote! {
        let _ = (__sn_rest, __sn_train);
        <T as #p::Scalar>::of_f64(0.0)
    }
}

/// Every head's loss into `__sn_head_losses` and the total, then the
/// gradient of the total through every node in reverse order.
fn backward(g: &Graph, locals: &Locals) -> TokenStream {
    let p = super::private();
    let consumers = g.consumers();
    let mut fused_node = vec![false; g.nodes.len()];
    let mut grad_splits = Vec::new();
    for (k, node) in g.nodes.iter().enumerate() {
        if !node.is_input() {
            let (gk, r) = (locals.grad(k), lit(node.shape.size()));
            grad_splits.push(quote!(let (#gk, __sn_ws) = __sn_ws.split_at_mut(#r * __sn_n);));
        }
    }
    let mut heads = Vec::new();
    for (h, head) in g.heads.iter().enumerate() {
        let k = head.node;
        let (o, gk) = (locals.out(k), locals.grad(k));
        let (rows, positions) = (lit(g.nodes[k].shape.last()), lit(g.nodes[k].shape.positions()));
        let loss = loss_tokens(head.loss.expect("trainable graphs have a loss per head"));
        let weight = f64_lit(head.weight);
        let hl = lit(h);
        if g.fused(h, &consumers) {
            fused_node[k] = true;
            let act = act_tokens(&p, g.nodes[k].op.activation().expect("fused heads end in an activation"));
            heads.push(quote! {
                __sn_head_losses[#hl] = #p::losses::fused_loss_and_grad_at(#loss, #act, &*#o, __sn_targets[#hl], #rows, #positions, __sn_sample_weight, &mut *#gk, <T as #p::Scalar>::of_f64(#weight));
            });
        } else {
            heads.push(quote! {
                __sn_head_losses[#hl] = #p::losses::loss_and_grad_at(#loss, &*#o, __sn_targets[#hl], #rows, #positions, __sn_sample_weight, Some((&mut *#gk, <T as #p::Scalar>::of_f64(#weight))));
            });
        }
        heads.push(quote!(__sn_total += <T as #p::Scalar>::of_f64(#weight) * __sn_head_losses[#hl];));
    }
    let backward = reverse_pass(g, locals, &fused_node);
    let grad_rows = lit(locals.layout.train_rows - locals.layout.forward_rows);
    quote! {
        let Some((__sn_targets, __sn_sample_weight, __sn_grads, __sn_head_losses)) = __sn_train else {
            return <T as #p::Scalar>::of_f64(0.0);
        };
        let __sn_ws = __sn_rest;
        __sn_ws[..#grad_rows * __sn_n].fill(<T as #p::Scalar>::of_f64(0.0));
        #(#grad_splits)*
        let mut __sn_total = <T as #p::Scalar>::of_f64(0.0);
        #(#heads)*
        #(#backward)*
        __sn_total
    }
}

/// The body of `__sn_backprop`, which a network called as a layer inside
/// another runs: after a training forward pass on `__sn_ws` (the layout of
/// `__sn_pass`, then a gradient buffer per input), the gradient of the
/// heads (`__sn_head_grads`) goes back through every node into the
/// parameters' gradients (written) and the inputs' (added, where given).
pub fn backprop_pass(g: &Graph, layout: &Layout) -> TokenStream {
    let p = super::private();
    let mut locals = Locals::new(g, layout);
    locals.input_grads = true;
    let inputs = g.inputs.iter().enumerate().map(|(i, &k)| {
        let (x, i) = (locals.input(k), lit(i));
        quote!(let #x: &[T] = __sn_inputs[#i];)
    });
    let splits = locals.forward_splits();
    let mut grad_splits = Vec::new();
    for (k, node) in g.nodes.iter().enumerate() {
        let (gk, r) = if node.is_input() {
            (locals.input_grad(k), node.shape.size())
        } else {
            (locals.grad(k), node.shape.size())
        };
        let r = lit(r);
        grad_splits.push(quote!(let (#gk, __sn_ws) = __sn_ws.split_at_mut(#r * __sn_n);));
    }
    let grad_rows: usize = g.nodes.iter().map(|n| n.shape.size()).sum();
    let grad_rows = lit(grad_rows);
    let seeds = g.heads.iter().enumerate().map(|(h, head)| {
        let (gk, h) = (locals.grad(head.node), lit(h));
        quote!(#p::ops::add_into(&mut *#gk, __sn_head_grads[#h]);)
    });
    let backward = reverse_pass(g, &locals, &vec![false; g.nodes.len()]);
    let outs = g.inputs.iter().enumerate().map(|(i, &k)| {
        let (dx, i) = (locals.input_grad(k), lit(i));
        quote! {
            if let Some(__sn_d) = __sn_input_grads[#i].as_deref_mut() {
                #p::ops::add_into(__sn_d, &*#dx);
            }
        }
    });
    quote! {
        let (__sn_training, __sn_seed) = (true, 0u64);
        #(#inputs)*
        #(#splits)*
        let __sn_ws = __sn_ws;
        __sn_ws[..#grad_rows * __sn_n].fill(<T as #p::Scalar>::of_f64(0.0));
        #(#grad_splits)*
        #(#seeds)*
        #(#backward)*
        #(#outs)*
    }
}

/// Every node's backward statements, in reverse order.
fn reverse_pass(g: &Graph, locals: &Locals, fused_node: &[bool]) -> Vec<TokenStream> {
    let p = super::private();
    let backward = (0..g.nodes.len()).rev().filter(|&k| !g.nodes[k].is_input()).map(|k| {
        let e = locals.emit(k, fused_node[k]);
        let code = e.node.op.backward(&e);
        // A shared layer's calls each write its parameters' gradient: all
        // but the last call's (the first to run here) add theirs to the
        // sum so far.
        let later_call = g.calls(k).into_iter().any(|j| j > k);
        let params = g.nodes[k].op.params(&g.in_shapes(k), &g.nodes[k].shape);
        if later_call && !params.is_empty() {
            let f = ident(&g.nodes[k].layer);
            let adds = params.iter().filter(|t| t.trainable).map(|t| match t.index {
                Some(j) => {
                    let j = lit(j);
                    quote!(#p::ops::add_into(#p::Network::<T>::tensor_mut(&mut __sn_grads.#f, #j), #p::Network::<T>::tensor(&__sn_sum, #j));)
                }
                None => {
                    let v = format_ident!("{}", t.field);
                    quote!(#p::ops::add_into(__sn_grads.#f.#v.as_mut_slice(), __sn_sum.#v.as_slice());)
                }
            });
            quote!({
                let __sn_sum = __sn_grads.#f.clone();
                #code
                #(#adds)*
            })
        } else {
            code
        }
    });
    backward.collect()
}

/// The body of the one-sample `forward`: a stack buffer per node, kernels
/// specialised for each layer's shape, inference mode; returns the heads.
/// With `stream` (how each node streams), `g` is the graph of one step and
/// this is the body of `step`: stateful layers read and update their part
/// of `__sn_state`.
pub fn one_sample(g: &Graph, layout: &Layout, output_name: &Ident, stream: Option<&[Stream]>) -> TokenStream {
    let p = super::private();
    let locals = Locals::new(g, layout);
    let inputs = g.inputs.iter().map(|&k| {
        let (x, arg) = (locals.input(k), ident(&g.nodes[k].var));
        if g.nodes[k].ids() {
            // token ids travel as values, exact integers
            let values = format_ident!("__sn_{}_values", g.nodes[k].var);
            quote! {
                let #values = #arg.map(|v| <T as #p::Scalar>::of_f64(v as f64));
                let #x: &[T] = #values.as_slice();
            }
        } else {
            quote!(let #x: &[T] = #arg.as_slice();)
        }
    });
    let consumers = g.consumers();
    let is_head = |j: NodeId| g.heads.iter().any(|h| h.node == j);
    // The stack buffers: each node's output lives in one, which goes back
    // to `free` after the node's last reader, for a later node to reuse
    // (fewer zeroed buffers, and hot ones).
    // A buffer is its first holder's local (whole) and its length; a node
    // that reuses it borrows a prefix, which ends with the node's last reader.
    let mut buffer: Vec<Option<(Ident, usize)>> = vec![None; g.nodes.len()];
    let mut free: Vec<(Ident, usize)> = Vec::new();
    let take = |size: usize, name: &Ident, free: &mut Vec<(Ident, usize)>, body: &mut Vec<TokenStream>| {
        let best = free.iter().enumerate().filter(|(_, f)| f.1 >= size).min_by_key(|(_, f)| f.1).map(|(i, _)| i);
        let lit_size = lit(size);
        match best {
            Some(i) => {
                let (root, len) = free.remove(i);
                body.push(quote!(let #name: &mut [T] = &mut #root[..#lit_size];));
                (root, len)
            }
            None => {
                // Cache-line aligned: the kernels' vector loads of a
                // position's channels then never straddle two lines (the
                // depthwise layer measured 1.9 against 1.4 µs).
                body.push(quote!(let #name: &mut [T] = &mut #p::ops::CacheAligned([<T as #p::Scalar>::of_f64(0.0); #lit_size]).0;));
                (name.clone(), size)
            }
        }
    };
    let mut body = Vec::new();
    // Layers folded into the layer before them (a batch normalization and
    // the activation after it): they only rename its buffer.
    let mut folded = vec![false; g.nodes.len()];
    // Nodes whose value is a borrowed input slice (`&[T]`), never written.
    let mut borrowed = vec![false; g.nodes.len()];
    for (k, node) in g.nodes.iter().enumerate() {
        if node.is_input() {
            continue;
        }
        let o = locals.out(k);
        if let Some(Stream::Stateful(len)) = stream.map(|s| s[k]) {
            buffer[k] = Some(take(node.shape.size(), &o, &mut free, &mut body));
            let f = ident(&node.name);
            let state = if len > 0 { quote!(__sn_state.#f.as_mut_slice()) } else { quote!(&mut []) };
            body.push(node.op.step(&locals.emit(k, false), &state));
            for &j in &node.inputs {
                if consumers[j].iter().max() == Some(&k) && !is_head(j) {
                    free.extend(buffer[j].take());
                }
            }
            continue;
        }
        if folded[k] {
            let from = locals.out(node.inputs[0]);
            body.push(quote!(let #o: &mut [T] = #from;));
            buffer[k] = buffer[node.inputs[0]].take();
            continue;
        }
        // A reshape of an input (a borrowed slice), or of such a reshape, is
        // that slice: no buffer, no copy (on a microcontroller, a model's
        // first `Reshape` of a large input would otherwise double it on the
        // stack).
        if let [j] = node.inputs[..] {
            if (g.nodes[j].is_input() || borrowed[j]) && matches!(node.op.class(), "Reshape" | "Flatten") {
                let from = locals.value(j);
                body.push(quote!(let #o: &[T] = #from;));
                borrowed[k] = true;
                continue;
            }
        }
        // An element-wise layer takes over its input's buffer when nothing
        // else reads that buffer: no new buffer, no copy.
        if let [j] = node.inputs[..] {
            let sole = !g.nodes[j].is_input() && !borrowed[j] && consumers[j] == [k] && !is_head(j);
            if let Some(code) = sole.then(|| node.op.forward1_in_place(&locals.emit(k, false))).flatten() {
                let from = locals.out(j);
                body.push(quote!(let #o: &mut [T] = #from;));
                body.push(code);
                buffer[k] = buffer[j].take();
                continue;
            }
        }
        buffer[k] = Some(take(node.shape.size(), &o, &mut free, &mut body));
        // Scratch buffers start zeroed (an im2col buffer's padding entries
        // may be left as they are); they are not shared.
        for (role, _, rows) in &layout.slots[k].scratch {
            if node.op.buffers(&g.in_shapes(k), &node.shape).inference.contains(role) {
                let (b, rows) = (locals.scratch(k, role), lit(*rows));
                body.push(quote!(let #b: &mut [T] = &mut [<T as #p::Scalar>::of_f64(0.0); #rows];));
            }
        }
        let e = locals.emit(k, false);
        match fold_after(g, k, &consumers, &is_head)
            .and_then(|(fold, chain)| node.op.forward1_folding(&e, &fold).map(|code| (code, chain)))
        {
            Some((code, chain)) => {
                body.push(code);
                for c in chain {
                    folded[c] = true;
                }
            }
            None => body.push(node.op.forward1(&e)),
        }
        // What this node was the last to read is free again.
        for &j in &node.inputs {
            let last = consumers[j].iter().max() == Some(&k);
            if last && !is_head(j) {
                free.extend(buffer[j].take());
            }
        }
    }
    let takes: Vec<TokenStream> = g
        .heads
        .iter()
        .map(|h| {
            let (v, w) = (locals.value(h.node), lit(g.nodes[h.node].shape.size()));
            quote!(#p::SMatrix::<T, #w, 1>::from_column_slice(#v))
        })
        .collect();
    let result = if takes.len() == 1 {
        takes[0].clone()
    } else {
        let fields = g.heads.iter().map(|h| ident(&g.nodes[h.node].name));
        quote!(#output_name { #(#fields: #takes),* })
    };
    quote! {
        #(#inputs)*
        #(#body)*
        #result
    }
}

/// The batch normalization (and the activation after it) that node `k`'s
/// one-sample pass may fold in: `k` feeds only a batch normalization,
/// which feeds only an activation layer (or anything, then it alone is
/// folded); no head in between. The nodes it folds come second.
fn fold_after(
    g: &Graph,
    k: NodeId,
    consumers: &[Vec<NodeId>],
    is_head: &dyn Fn(NodeId) -> bool,
) -> Option<(crate::ops::Fold, Vec<NodeId>)> {
    let sole = |j: NodeId| match consumers[j][..] {
        [c] if !is_head(j) && g.nodes[c].inputs == [j] => Some(c),
        _ => None,
    };
    let bn = sole(k)?;
    let epsilon = g.nodes[bn].op.batch_norm_epsilon()?;
    let field = ident(&g.nodes[bn].layer);
    let after = sole(bn).and_then(|a| g.nodes[a].op.only_activation().map(|act| (a, act)));
    let (activation, chain) = match after {
        Some((a, act)) => (act, vec![bn, a]),
        None => (crate::vocab::Activation::Linear, vec![bn]),
    };
    Some((crate::ops::Fold { field: quote!(self.#field), epsilon, activation }, chain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    /// The generated passes read like hand-written code: every buffer is
    /// named after the tensor it holds.
    #[test]
    fn locals_are_named_after_their_tensors() {
        let g = crate::check::run(quote! {
            pub struct Posts {
                let posts = Input(16);
                let x = Dense(8, activation = gelu)(posts);
                let y = Dropout(0.5)(x);
                let age = Dense(1, name = "age")(y);
                Model(posts, age);
                compile(loss = mse);
            }
        })
        .unwrap();
        let code = batch_pass(&g, &g.layout()).to_string();
        for local in
            ["__sn_posts_in", "__sn_dense_out", "__sn_dense_pre", "__sn_dropout_mask", "__sn_age_out", "__sn_age_grad"]
        {
            assert!(code.contains(local), "no `{local}` in {code}");
        }
        let one = one_sample(&g, &g.layout(), &format_ident!("PostsOutput"), None).to_string();
        assert!(one.contains("let __sn_dense_out : & mut [T]"), "{one}");
    }
}
