//! Rules about the whole graph: `Model(inputs, outputs)`, connectivity
//! (every output reachable from `Model`'s inputs, every input used), the
//! names the generated code needs for itself, and the interface known of a
//! network even when it has errors.

use super::args::bind;
use super::scope::Binding;
use super::Checker;
use crate::ir::{state_fields, Graph, Head, Node, OptimizerSpec, Shape, StateField};
use crate::parse::Expr;
use crate::vocab::OptimizerKind;
use proc_macro2::Span;
use syn::ext::IdentExt;

/// What is known of a network's generated API even when it has errors, so
/// the placeholder emitted after an error matches the calls in user code.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Interface {
    /// `Model`'s inputs in order, each with its shape when known; `None`
    /// when `Model` could not be read.
    pub inputs: Option<Vec<Option<Shape>>>,
    /// Which of them take token ids (`dtype = "int32"`).
    pub input_ids: Vec<bool>,
    /// `Model`'s outputs in order; `None` when `Model` could not be read.
    pub heads: Option<Vec<HeadSig>>,
    /// The channels of an input whose steps have no length (`Input(shape =
    /// (None, channels))`): such a network only streams, so its user calls
    /// `step`, and the placeholder must have it too.
    pub stream_channels: Option<usize>,
    /// The streaming state's fields, of the layers that were built.
    pub stream_state: Vec<StateField>,
}

/// One output as far as it is known.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeadSig {
    /// The head's field name (its layer's name).
    pub name: Option<String>,
    pub shape: Option<Shape>,
    /// The shape of its training target.
    pub target: Option<Shape>,
}

impl Interface {
    /// The whole interface of a checked graph.
    pub fn of(graph: &Graph) -> Interface {
        Interface {
            inputs: Some(graph.inputs.iter().map(|&i| Some(graph.nodes[i].shape.clone())).collect()),
            input_ids: graph.inputs.iter().map(|&i| graph.nodes[i].ids()).collect(),
            heads: Some(
                graph
                    .heads
                    .iter()
                    .map(|h| {
                        let node = &graph.nodes[h.node];
                        HeadSig {
                            name: Some(node.name.clone()),
                            shape: Some(node.shape.clone()),
                            target: h.loss.map(|l| target_shape(l, &node.shape)),
                        }
                    })
                    .collect(),
            ),
            stream_channels: stream_channels(graph.inputs.iter().map(|&i| &graph.nodes[i])),
            stream_state: graph.state_fields(),
        }
    }
}

/// The channels of the first of `inputs` whose steps have no length.
fn stream_channels<'n>(inputs: impl IntoIterator<Item = &'n Node>) -> Option<usize> {
    inputs.into_iter().find(|n| n.op.varying_steps().is_some()).map(|n| n.shape.last())
}

/// The shape of a head's training target: the head's, or one class index
/// per position for sparse losses.
pub fn target_shape(loss: crate::vocab::Loss, shape: &Shape) -> Shape {
    shape.with_last(loss.target_width(shape.last()))
}

/// The name of input `i`'s shape constant: `INPUT_SHAPE` for a network's
/// one input, else `{VAR}_SHAPE`.
pub fn input_shape_const(g: &Graph, i: usize) -> String {
    if g.inputs.len() == 1 {
        "INPUT_SHAPE".to_string()
    } else {
        format!("{}_SHAPE", g.nodes[i].var.to_uppercase())
    }
}

/// The name of a head's shape constant: `{LAYER}_SHAPE`.
pub fn head_shape_const(layer: &str) -> String {
    format!("{}_SHAPE", layer.to_uppercase())
}

/// A list of tensors named in `Model`, with their tokens.
type Listed = Vec<(usize, Span)>;

impl Checker<'_> {
    /// Reads `Model`'s inputs and outputs without reporting anything, for the
    /// placeholder's interface.
    pub fn interface_guess(&self, expr: &Expr) -> Interface {
        let Expr::Call { args, .. } = expr else { return Interface::default() };
        let (mut inputs, mut outputs, mut pos) = (None, None, 0);
        for a in args {
            match &a.name {
                None => {
                    match pos {
                        0 => inputs = Some(&a.value),
                        1 => outputs = Some(&a.value),
                        _ => {}
                    }
                    pos += 1;
                }
                Some(n) if n == "inputs" => inputs = Some(&a.value),
                Some(n) if n == "outputs" => outputs = Some(&a.value),
                _ => {}
            }
        }
        let items = |e: &Expr| -> Vec<Expr> {
            match e {
                Expr::List(items, _) | Expr::Tuple(items, _) => items.clone(),
                other => vec![other.clone()],
            }
        };
        let var = |e: &Expr| match e {
            Expr::Ident(i) => Some(i.unraw().to_string()),
            _ => None,
        };
        let node = |e: &Expr| match var(e).and_then(|v| self.scope.get(&v).copied()) {
            Some(Binding::Tensor(id)) => Some(&self.nodes[id]),
            _ => None,
        };
        Interface {
            inputs: inputs.map(|e| {
                items(e).iter().map(|it| node(it).filter(|n| n.is_input()).map(|n| n.shape.clone())).collect()
            }),
            input_ids: inputs
                .map_or(Vec::new(), |e| items(e).iter().map(|it| node(it).is_some_and(|n| n.ids())).collect()),
            // `Model`'s inputs, or every input declared when it cannot be read
            stream_channels: match inputs {
                Some(e) => stream_channels(items(e).iter().filter_map(node)),
                None => stream_channels(&self.nodes),
            },
            stream_state: state_fields(&self.nodes),
            heads: outputs.map(|e| {
                items(e)
                    .iter()
                    .map(|it| match node(it) {
                        Some(n) => HeadSig { name: Some(n.name.clone()), shape: Some(n.shape.clone()), target: None },
                        None => HeadSig {
                            name: var(it).map(|v| self.broken_names.get(&v).cloned().unwrap_or(v)),
                            shape: None,
                            target: None,
                        },
                    })
                    .collect()
            }),
        }
    }

    /// Reads `Model(inputs, outputs)`.
    pub fn model(&mut self, expr: &Expr, span: Span) -> Option<(Listed, Listed, Option<String>)> {
        let Expr::Call { args, .. } = expr else { return None };
        let a = bind(self.ctx, "Model", args, &["inputs", "outputs"], &["name"]);
        let title = match a.get("name") {
            Some(Expr::Str(s)) => Some(s.value()),
            Some(e) => {
                self.ctx.error(e.span(), format!("`name` must be a string, found {}", e.describe()));
                None
            }
            None => None,
        };
        let inputs = self.model_list("inputs", a.get("inputs").copied(), span);
        let outputs = self.model_list("outputs", a.get("outputs").copied(), span);
        let (inputs, outputs) = (inputs?, outputs?);
        let mut ok = true;
        for &(id, s) in &inputs {
            let node = &self.nodes[id];
            if !node.is_input() {
                self.ctx.error_with_notes(
                    s,
                    format!("`{}` is not an `Input`: `Model`'s inputs must be made by `Input(…)`", node.var),
                    [(node.span, format!("`{}` is made by this `{}`", node.var, node.op.class()))],
                );
                ok = false;
            }
        }
        for &(id, s) in &outputs {
            if self.nodes[id].is_input() {
                self.ctx.error(
                    s,
                    format!("output `{}` is an `Input`: an output must be computed by a layer", self.nodes[id].var),
                );
                ok = false;
            }
        }
        ok.then_some((inputs, outputs, title))
    }

    /// One of `Model`'s lists: tensor names, each once.
    fn model_list(&mut self, key: &str, list: Option<&Expr>, span: Span) -> Option<Listed> {
        let Some(e) = list else {
            self.ctx.error(span, format!("`Model` needs `{key}`, as in `Model(inputs, outputs)`"));
            return None;
        };
        let items: Vec<&Expr> = match e {
            Expr::List(items, _) | Expr::Tuple(items, _) => items.iter().collect(),
            other => vec![other],
        };
        if items.is_empty() {
            self.ctx.error(e.span(), format!("`Model` needs at least one tensor in `{key}`"));
            return None;
        }
        let mut out: Listed = Vec::new();
        let mut ok = true;
        for item in items {
            let Expr::Ident(i) = item else {
                self.ctx.error(item.span(), format!("expected a tensor name in `{key}`, found {}", item.describe()));
                ok = false;
                continue;
            };
            let n = i.unraw().to_string();
            match self.lookup(&n, i.span()) {
                Some(id) => {
                    if let Some((_, first)) = out.iter().find(|(o, _)| *o == id) {
                        self.ctx.error_with_notes(
                            i.span(),
                            format!("`{n}` is listed twice in `{key}`"),
                            [(*first, format!("`{n}` is first listed here"))],
                        );
                        ok = false;
                    }
                    out.push((id, i.span()));
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// Keeps the nodes the outputs depend on and checks connectivity. The
    /// graph is built even after an error, so `compile` is still checked.
    pub fn prune(&mut self, inputs: Listed, outputs: Listed, title: String) -> Graph {
        let n = self.nodes.len();
        let mut needed = vec![false; n];
        for &(out, out_span) in &outputs {
            let mut stack = vec![out];
            let mut seen = vec![false; n];
            while let Some(k) = stack.pop() {
                if seen[k] {
                    continue;
                }
                seen[k] = true;
                needed[k] = true;
                let node = &self.nodes[k];
                if node.is_input() && !inputs.iter().any(|(i, _)| *i == k) {
                    self.ctx.error_with_notes(
                        out_span,
                        format!(
                            "graph disconnected: output `{}` depends on input `{}`, which is not among `Model`'s inputs",
                            self.nodes[out].var, node.var
                        ),
                        [(node.span, format!("input `{}` is defined here; add it to `Model`'s inputs", node.var))],
                    );
                }
                stack.extend(node.inputs.iter().copied());
            }
        }
        if !self.incomplete {
            for &(i, s) in &inputs {
                if !needed[i] {
                    self.ctx.error(
                        s,
                        format!(
                            "input `{}` is not used by any output: remove it from `Model`'s inputs or use it",
                            self.nodes[i].var
                        ),
                    );
                }
            }
        }
        let mut remap = vec![0; n];
        let mut nodes = Vec::new();
        for (k, node) in self.nodes.iter().enumerate() {
            if needed[k] {
                remap[k] = nodes.len();
                let mut node = node.clone();
                node.inputs = node.inputs.iter().map(|i| remap[*i]).collect();
                nodes.push(node);
            }
        }
        let varying = inputs.iter().find_map(|&(i, _)| self.nodes[i].op.varying_steps());
        if let (Some(none), true) = (varying, inputs.len() > 1) {
            self.ctx.error(
                none,
                format!(
                    "steps without a length need a model with one input, run step by step; this `Model` has {} inputs",
                    inputs.len()
                ),
            );
        }
        Graph {
            steps_vary: varying.is_some(),
            nodes,
            inputs: inputs.iter().filter(|(i, _)| needed[*i]).map(|(i, _)| remap[*i]).collect(),
            heads: outputs
                .iter()
                .map(|(o, _)| Head { node: remap[*o], loss: None, weight: 1.0, metrics: Vec::new() })
                .collect(),
            optimizer: OptimizerSpec { kind: OptimizerKind::RmsProp, settings: Vec::new() },
            title,
            pretrained: None,
            int8: None,
        }
    }

    /// Names the generated code would use twice.
    pub fn check_generated_names(&mut self, g: &Graph, struct_name: &str) {
        let trainable = g.trainable();
        let heads: Vec<&str> = g.heads.iter().map(|h| g.nodes[h.node].name.as_str()).collect();
        for &i in &g.inputs {
            let node = &g.nodes[i];
            let var = node.var.clone();
            let span = self.let_span(&var).unwrap_or(node.span);
            if var == "state" && g.stream_kinds().is_some() {
                self.ctx.error(span, "an input cannot be named `state` in a network that streams: the generated `step` has a parameter `state`");
            }
            if var == "B" {
                self.ctx.error(span, "an input cannot be named `B`: the generated `forward_batch` and `loss_and_grad` use `B` for the batch size");
            }
            if trainable && (var == "grads" || var == "optimizer") {
                let method = if var == "grads" { "loss_and_grad" } else { "train_step" };
                self.ctx.error(span, format!("an input cannot be named `{var}` in a network with a loss: the generated `{method}` has a parameter `{var}`"));
            }
            if let Some(h) = heads.iter().find(|h| trainable && format!("{h}_target") == var) {
                self.ctx.error(
                    span,
                    format!("input `{var}` has the name the generated `loss_and_grad` gives the target of output `{h}`: rename the input"),
                );
            }
        }
        let mut consts: Vec<(String, String, Span)> = g
            .inputs
            .iter()
            .map(|&i| {
                let node = &g.nodes[i];
                let span = self.let_span(&node.var).unwrap_or(node.span);
                (input_shape_const(g, i), format!("input `{}`", node.var), span)
            })
            .collect();
        consts.extend(g.heads.iter().map(|h| {
            let node = &g.nodes[h.node];
            (head_shape_const(&node.name), format!("output `{}`", node.name), node.span)
        }));
        for (k, (name, what, span)) in consts.iter().enumerate() {
            if let Some((_, first, _)) = consts[..k].iter().find(|(n, _, _)| n == name) {
                self.ctx.error(
                    *span,
                    format!("{what} and {first} would both have the shape constant `{name}`: rename one"),
                );
            }
        }
        if heads.contains(&"total") {
            let span = self.names.get("total").copied().unwrap_or_else(Span::call_site);
            self.ctx.error(
                span,
                format!("an output cannot be named `total`: the generated `{struct_name}Losses` has a field `total` for the weighted sum of the losses"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{check, errors, run};
    use quote::quote;

    #[test]
    fn graph_rules() {
        let errs = run(quote! {
            pub struct Bad {
                let x = Input(8);
                let y = Input(4);
                let z = Input(4);
                let a = Dense(3)(y);
                Model([x, z], a);
            }
        })
        .unwrap_err()
        .join("\n");
        assert!(errs.contains("graph disconnected: output `a` depends on input `y`"), "{errs}");
        assert!(errs.contains("input `x` is not used by any output"), "{errs}");
        let errs = run(quote!(pub struct Bad { let x = Input(8); })).unwrap_err().join("\n");
        assert!(errs.contains("missing `Model"), "{errs}");
    }

    #[test]
    fn a_streaming_input_cannot_be_named_state() {
        let errs = run(quote! {
            pub struct Bad {
                let state = Input(shape = (None, 1));
                let h = GRU(4, return_sequences = true)(state);
                Model(state, h);
            }
        })
        .unwrap_err()
        .join("\n");
        assert!(errs.contains("an input cannot be named `state` in a network that streams"), "{errs}");
        // a model that does not stream may use the name
        assert!(run(quote! {
            pub struct Fine {
                let state = Input(3);
                let y = Dense(2)(state);
                Model(state, y);
            }
        })
        .is_ok());
    }

    #[test]
    fn names_the_generated_code_would_use_twice() {
        let errs = errors(quote! {
            pub struct Bad {
                let grads = Input(8);
                let B = Input(2);
                let age_target = Input(3);
                let m = concatenate([grads, B, age_target]);
                let age = Dense(1, name = "age")(m);
                let t = Dense(1, name = "total")(m);
                Model([grads, B, age_target], [age, t]);
                compile(loss = mse);
            }
        });
        let has = |m: &str| errs.iter().any(|e| e.starts_with(m));
        assert!(has("an input cannot be named `grads`"), "{errs:?}");
        assert!(has("an input cannot be named `B`"), "{errs:?}");
        assert!(
            has("input `age_target` has the name the generated `loss_and_grad` gives the target of output `age`"),
            "{errs:?}"
        );
        assert!(has("an output cannot be named `total`: the generated `BadLosses`"), "{errs:?}");
    }

    #[test]
    fn the_interface_survives_errors() {
        let def = crate::parse::parse(quote! {
            pub struct Bad {
                let text = Input(40);
                let q = Input(0);
                let a = Dense(5, activation = softmax, name = "answer")(text);
                let s = Dense(0, name = "score")(text);
                Model([text, q], [a, s]);
                compile(loss = [categorical_crossentropy, mse]);
            }
        })
        .unwrap();
        let Err(failure) = check(&def) else { panic!("expected errors") };
        assert_eq!(failure.iface.inputs, Some(vec![Some(Shape::vector(40)), None]));
        let heads = failure.iface.heads.unwrap();
        assert_eq!(heads[0], HeadSig { name: Some("answer".into()), shape: Some(Shape::vector(5)), target: None });
        assert_eq!(heads[1], HeadSig { name: Some("score".into()), shape: None, target: None });
    }

    #[test]
    fn the_interface_knows_a_network_streams_despite_errors() {
        let iface = |tokens| match check(&crate::parse::parse(tokens).unwrap()) {
            Err(failure) => failure.iface,
            Ok(_) => panic!("expected errors"),
        };
        // a mistake in a layer: the graph is not built, `Model` is read
        let broken_layer = iface(quote! {
            pub struct Bad {
                let x = Input(shape = (None, 3));
                let h = GRU(8, return_sequences = true)(x);
                let y = Dense(1, activation = sigmoidd)(h);
                Model(x, y);
            }
        });
        assert_eq!(broken_layer.stream_channels, Some(3));
        // the state's fields: of the layers built before the mistake
        let fields = |i: &Interface| i.stream_state.iter().map(|f| (f.name.clone(), f.len)).collect::<Vec<_>>();
        assert_eq!(fields(&broken_layer), [("gru".to_string(), 8)]);
        // a mistake the graph shows: the graph is built
        let two_inputs = iface(quote! {
            pub struct Bad {
                let x = Input(shape = (None, 2));
                let z = Input(shape = (None, 2));
                let y = GRU(4)(add([x, z]));
                Model([x, z], y);
            }
        });
        assert_eq!(two_inputs.stream_channels, Some(2));
        assert_eq!(fields(&two_inputs), [("gru".to_string(), 4)]);
        // `Model` cannot be read: any input declared with steps without a length
        let no_model = iface(quote! {
            pub struct Bad {
                let x = Input(shape = (None, 5));
                let y = GRU(4)(x);
                Model(inputs = x);
            }
        });
        assert_eq!(no_model.stream_channels, Some(5));
        // a sequence with a length does not make the placeholder stream
        let fixed = iface(quote! {
            pub struct Bad {
                let x = Input(shape = (16, 3));
                let y = GRU(4, activation = tanhh)(x);
                Model(x, y);
            }
        });
        assert_eq!(fixed.stream_channels, None);
    }
}
