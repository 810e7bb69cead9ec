//! The functional API's other half: layer objects (`let dense =
//! Dense(32);` then `dense(x)`, one set of weights for every call) and
//! sub-models (`let encoder = Model(x, h, name = "encoder");` then
//! `encoder(a)`, a copy of its layers' calls on new tensors, sharing their
//! weights).

use super::layers::Input;
use super::scope::Binding;
use super::Checker;
use crate::ir::{Node, Shape};
use crate::ops::{CalledOn, Kind, Op};
use crate::parse::{Arg, Expr};
use proc_macro2::Span;
use syn::ext::IdentExt;

/// A layer made without being called: its calls share its weights.
pub struct LayerObject {
    pub kind: &'static Kind,
    /// `None` when its arguments had an error (reported).
    pub op: Option<Box<dyn Op>>,
    /// Its Keras name, given when it is made (as Keras names it).
    pub name: String,
    /// The callee as written (`Dense`).
    pub what: String,
    /// The `let` name that holds it, and its token.
    pub var: String,
    pub var_span: Span,
    /// Calls so far.
    pub calls: usize,
    /// The first call: its inputs' shapes and names, and its token.
    pub first: Option<(Vec<Shape>, Vec<String>, Span)>,
}

/// A `Model(…)` bound to a name before the network's own: called like a
/// layer, it applies its layers again to new tensors.
pub struct SubModel {
    pub var: String,
    /// Its inputs (`Input` nodes) and its one output.
    pub inputs: Vec<usize>,
    pub output: usize,
    /// The nodes between them, in order.
    pub body: Vec<usize>,
}

impl Checker<'_> {
    /// `let var = Dense(…);`: a layer object, when `value` makes a layer
    /// without calling it. `None` when `value` is something else.
    pub fn layer_object(&mut self, value: &Expr, var: &str, var_span: Span) -> Option<Option<usize>> {
        let Expr::Call { func, args, .. } = value else { return None };
        if matches!(**func, Expr::Call { .. }) {
            return None;
        }
        let name = super::scope::quiet_callee(value)?.unraw().to_string();
        let (kind, function) = Kind::lookup(&name)?;
        if function || kind.called_on == CalledOn::Nothing {
            return None;
        }
        let span = func.span();
        let (op, given) = self.make_pending(kind, &name, span, args);
        let layer_name = self.name_layer(given, kind.base, span);
        self.objects.push(LayerObject {
            kind,
            op,
            name: layer_name,
            what: name,
            var: var.to_string(),
            var_span,
            calls: 0,
            first: None,
        });
        Some(Some(self.objects.len() - 1))
    }

    /// `dense(x)`: a call of layer object `idx`.
    pub fn call_object(&mut self, idx: usize, span: Span, args: &[Arg], var: &str) -> Option<usize> {
        let (what, called_on) = (self.objects[idx].var.clone(), self.objects[idx].kind.called_on);
        self.objects[idx].calls += 1;
        let inputs = if called_on == CalledOn::List {
            self.list_operands(&what, span, args, var)
        } else {
            self.one_operand(&what, span, args, var)
        }?;
        let op = self.objects[idx].op.clone()?;
        let shapes: Vec<Shape> = inputs.iter().map(|i| self.nodes[i.0].shape.clone()).collect();
        let layer = self.objects[idx].name.clone();
        let node_name = match &self.objects[idx].first {
            None => {
                let names = inputs.iter().map(|i| i.2.clone()).collect();
                self.objects[idx].first = Some((shapes, names, span));
                layer.clone()
            }
            Some((first_shapes, first_names, first_span)) => {
                if let Some(k) = (0..shapes.len()).find(|&k| first_shapes.get(k) != Some(&shapes[k])) {
                    let (first_shape, first_name) =
                        (&first_shapes[k.min(first_shapes.len() - 1)], &first_names[k.min(first_names.len() - 1)]);
                    let message = format!(
                        "`{what}` is a shared layer built for `{first_name}`'s {}, so every call needs it: `{}` has {}",
                        describe(first_shape),
                        inputs[k].2,
                        describe(&shapes[k])
                    );
                    let note = (*first_span, format!("`{what}` is first called here, on `{first_name}`"));
                    self.ctx.error_with_notes(inputs[k].1, message, [note]);
                    return None;
                }
                self.call_name(&layer)
            }
        };
        let class = self.objects[idx].what.clone();
        self.attach(op, &class, span, (node_name, layer), &inputs, var)
    }

    /// A fresh node name for a later call of `layer`.
    fn call_name(&self, layer: &str) -> String {
        let mut k = 1;
        while self.nodes.iter().any(|n| n.name == format!("{layer}__call{k}"))
            || self.names.contains_key(&format!("{layer}__call{k}"))
        {
            k += 1;
        }
        format!("{layer}__call{k}")
    }

    /// `let encoder = Model(x, h, name = "encoder");`
    pub fn sub_model(&mut self, var: &str, value: &Expr, span: Span) -> Option<usize> {
        // its `name` is Keras's name of the sub-model; its layers keep theirs
        let (inputs, outputs, _title) = self.model(value, span)?;
        let &[(output, out_span)] = &outputs[..] else {
            self.ctx.error(
                span,
                format!("sub-model `{var}` has {} outputs: a sub-model called like a layer has one", outputs.len()),
            );
            return None;
        };
        // the nodes its output depends on, down to its inputs
        let mut needed = vec![false; self.nodes.len()];
        let mut stack = vec![output];
        let mut ok = true;
        while let Some(k) = stack.pop() {
            if needed[k] {
                continue;
            }
            needed[k] = true;
            if inputs.iter().any(|&(i, _)| i == k) {
                continue;
            }
            if self.nodes[k].is_input() {
                self.ctx.error(
                    out_span,
                    format!(
                        "sub-model `{var}`'s output depends on input `{}`, which is not among its inputs",
                        self.nodes[k].var
                    ),
                );
                ok = false;
                continue;
            }
            stack.extend(self.nodes[k].inputs.iter().copied());
        }
        if !ok {
            return None;
        }
        let body = (0..self.nodes.len()).filter(|&k| needed[k] && !inputs.iter().any(|&(i, _)| i == k)).collect();
        self.sub_models.push(SubModel {
            var: var.to_string(),
            inputs: inputs.iter().map(|&(i, _)| i).collect(),
            output,
            body,
        });
        Some(self.sub_models.len() - 1)
    }

    /// `encoder(a)` or `encoder([a, b])`: sub-model `idx`'s layers called
    /// again on these tensors.
    pub fn call_sub_model(&mut self, idx: usize, span: Span, args: &[Arg], var: &str) -> Option<usize> {
        let sub_var = self.sub_models[idx].var.clone();
        let expected = self.sub_models[idx].inputs.clone();
        let given: Vec<Input> = match args {
            [Arg { name: None, value: Expr::List(..) }] => self.list_operands(&sub_var, span, args, var)?,
            _ => self.one_operand(&sub_var, span, args, var)?,
        };
        if given.len() != expected.len() {
            let names: Vec<String> = expected.iter().map(|&i| format!("`{}`", self.nodes[i].var)).collect();
            let one = if expected.len() == 1 { "tensor" } else { "tensors" };
            self.ctx.error(
                span,
                format!(
                    "sub-model `{sub_var}` takes {} {one} ({}), found {}",
                    expected.len(),
                    names.join(", "),
                    given.len()
                ),
            );
            return None;
        }
        for (&want, got) in expected.iter().zip(&given) {
            let (w, g) = (&self.nodes[want], &self.nodes[got.0]);
            if w.shape != g.shape || w.ids() != g.ids() {
                let what =
                    |n: &Node| if n.ids() { format!("token ids of shape {}", n.shape) } else { describe(&n.shape) };
                self.ctx.error(
                    got.1,
                    format!("sub-model `{sub_var}` takes `{}` with {}: `{}` has {}", w.var, what(w), got.2, what(g)),
                );
                return None;
            }
        }
        let body = self.sub_models[idx].body.clone();
        let output = self.sub_models[idx].output;
        let mut copy: Vec<Option<usize>> = vec![None; self.nodes.len()];
        for (&want, got) in expected.iter().zip(&given) {
            copy[want] = Some(got.0);
        }
        for k in body {
            let node = &self.nodes[k];
            // a body node's inputs are the sub-model's inputs or earlier body nodes
            let inputs: Option<Vec<usize>> = node.inputs.iter().map(|&i| copy[i]).collect();
            let inputs = inputs?;
            let (op, shape, layer, node_span) = (node.op.clone(), node.shape.clone(), node.layer.clone(), node.span);
            let name = self.call_name(&layer);
            let new = Node { op, inputs, shape, name, layer, var: var.to_string(), span: node_span };
            let origin = self.origins[k];
            copy[k] = Some(self.push(new, origin)?);
        }
        copy[output]
    }

    /// Layer objects made and never called: errors.
    pub fn uncalled_objects(&mut self) {
        for o in &self.objects {
            if o.calls == 0 && o.op.is_some() {
                self.ctx.error(
                    o.var_span,
                    format!(
                        "layer `{}` is made but never called: call it on a tensor, as in `{}(x)`, or remove it",
                        o.var, o.var
                    ),
                );
            }
        }
    }

    /// What a name bound to something other than a tensor is, for errors.
    pub fn not_a_tensor(&self, name: &str) -> Option<String> {
        match self.scope.get(name) {
            Some(Binding::Layer(_)) => {
                Some(format!("`{name}` is a layer, not a tensor: call it on a tensor, as in `{name}(x)`"))
            }
            Some(Binding::SubModel(_)) => {
                Some(format!("`{name}` is a sub-model, not a tensor: call it on a tensor, as in `{name}(x)`"))
            }
            _ => None,
        }
    }
}

/// `8 features`, or `shape (10, 4)`.
fn describe(shape: &Shape) -> String {
    shape.describe()
}
