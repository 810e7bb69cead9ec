//! Making layers and calling them on tensors: `Dense(32)(x)`,
//! `add([a, b])`, `Input(64)`, nested as Keras code nests them. The kind's
//! own module ([`crate::ops`]) reads its arguments and infers its output
//! shape; this module resolves the callee and the tensors, names the layer
//! and adds the node.

use super::args::{bind, callee_name, is_activation, Args};
use super::ctxt::suggest;
use super::scope::Binding;
use super::Checker;
use crate::ir::Node;
use crate::ops::{Call, CalledOn, Kind, Op, Operand, KINDS};
use crate::parse::{Arg, Expr};
use proc_macro2::Span;
use syn::ext::IdentExt;

/// A layer made, before it is called on its inputs.
struct Pending {
    kind: &'static Kind,
    /// `None` when its arguments had an error (reported).
    op: Option<Box<dyn Op>>,
    /// The `name = "…"` it was given.
    name: Option<(String, Span)>,
    /// The layer's token.
    span: Span,
    /// The callee as written (`add`, `Add`).
    what: String,
    /// Whether the layer is named before its inputs are evaluated: Python
    /// builds `Dense(4)` before evaluating the tensor it is called on, but a
    /// merge function after its list.
    name_first: bool,
}

/// A tensor a layer is called on: its node, its token, and its name as
/// written (or the nested layer's name).
pub(super) type Input = (usize, Span, String);

/// The `name = "…"` a layer was given, and its token.
pub(super) type GivenName = Option<(String, Span)>;

impl Checker<'_> {
    /// The node an expression makes or names.
    pub fn tensor_expr(&mut self, expr: &Expr, var: &str) -> Option<usize> {
        match expr {
            Expr::Ident(i) => self.lookup(i.unraw().to_string().as_str(), i.span()),
            Expr::Call { func, args, .. } => {
                if let Expr::Call { func: inner, args: layer_args, .. } = &**func {
                    if let Expr::Call { .. } = &**inner {
                        self.ctx
                            .error(func.end_span(), "a layer is called once, on its input: `Layer(arguments)(tensor)`");
                        return None;
                    }
                    // `Layer(args)(tensors)`
                    let (name, span) = callee_name(self.ctx, inner)?;
                    let mut pending = self.class_form(&name, span, layer_args)?;
                    pending.name_first = true;
                    return self.apply(pending, args, var);
                }
                // a layer object or a sub-model, called
                if let Expr::Ident(i) = &**func {
                    match self.scope.get(&i.unraw().to_string()).copied() {
                        Some(Binding::Layer(idx)) => return self.call_object(idx, i.span(), args, var),
                        Some(Binding::SubModel(idx)) => return self.call_sub_model(idx, i.span(), args, var),
                        // a layer object or sub-model whose making failed, reported
                        Some(Binding::Broken) => return None,
                        _ => {}
                    }
                }
                let (name, span) = callee_name(self.ctx, func)?;
                match Kind::lookup(&name) {
                    Some((kind, _)) if kind.called_on == CalledOn::Nothing => self.input(kind, &name, span, args, var),
                    Some((kind, true)) => {
                        let (first, rest) = match args.split_first() {
                            Some((f, r)) if f.name.is_none() => (f, r),
                            _ => {
                                self.ctx.error(
                                    span,
                                    format!("`{name}` takes a list of tensors first, as in `{name}([a, b])`"),
                                );
                                return None;
                            }
                        };
                        let pending = self.make(kind, &name, span, rest);
                        self.apply(pending, std::slice::from_ref(first), var)
                    }
                    Some(_) => {
                        self.ctx.error(
                            span,
                            format!("`{name}(…)` makes a layer: call it on its input, as in `{name}(…)(x)`, or bind it with `let` and call it later"),
                        );
                        None
                    }
                    None => {
                        if let Some(desc) = self.externals.iter().find(|d| d.name == name).cloned() {
                            return self.call_external(desc, span, args, var);
                        }
                        if external_candidate(&name) {
                            // another network, perhaps: ask for its description
                            self.wanted.get_or_insert_with(|| syn::Ident::new(&name, span));
                            return None;
                        }
                        if let ([Arg { name: None, value: Expr::Ident(x) }], true) = (&args[..], is_activation(&name)) {
                            self.ctx.error(
                                span,
                                format!("`{name}` is an activation, not a layer: write `Activation({name})({x})` or `Dense(…, activation = {name})({x})`"),
                            );
                            return None;
                        }
                        self.unknown_layer(&name, span);
                        None
                    }
                }
            }
            Expr::Path(segs) => {
                let path: Vec<String> = segs.iter().map(|s| s.to_string()).collect();
                self.ctx.error(expr.span(), format!("expected a tensor, found the path `{}`", path.join(".")));
                None
            }
            other => {
                self.ctx.error(
                    other.span(),
                    format!(
                        "expected a tensor: an `Input(…)`, a layer call such as `Dense(32)(x)`, or a merge; found {}",
                        other.describe()
                    ),
                );
                None
            }
        }
    }

    /// `Encoder(x)`: a network generated by another `network!`, called as
    /// a layer (its weights a field of this one).
    fn call_external(
        &mut self,
        desc: crate::parse::ExternalDesc,
        span: Span,
        args: &[Arg],
        var: &str,
    ) -> Option<usize> {
        if desc.broken {
            // its own errors are reported where it is defined
            return None;
        }
        let what = desc.name.to_string();
        let inputs = match args {
            [Arg { name: None, value: Expr::List(..) }] => self.list_operands(&what, span, args, var)?,
            _ => self.one_operand(&what, span, args, var)?,
        };
        let base: &'static str = Box::leak(crate::ops::external::snake_case(&what).into_boxed_str());
        let name = self.name_layer(None, base, span);
        let op = Box::new(crate::ops::external::External::new(desc));
        self.attach(op, &what, span, (name.clone(), name), &inputs, var)
    }

    fn unknown_layer(&mut self, name: &str, span: Span) {
        if let Some(&(_, def_span, _)) = self.lets.iter().find(|(n, _, k)| n == name && *k >= self.stmt) {
            self.ctx.error_with_notes(
                span,
                format!("`{name}` is called before it is made: a layer object or sub-model is made above its calls, and a model cannot contain a call of itself"),
                [(def_span, format!("`{name}` is made here"))],
            );
            return;
        }
        if matches!(self.scope.get(name), Some(Binding::Tensor(_))) {
            self.ctx.error(span, format!("`{name}` is a tensor, not a layer: a layer is made and called on a tensor, as in `Dense(32)({name})`"));
            return;
        }
        if is_activation(name) {
            self.ctx.error(span, format!("`{name}` is an activation, not a layer: write `Activation({name})(x)` or `Dense(…, activation = {name})(x)`"));
            return;
        }
        let hint = suggest(name, Kind::all_names());
        if hint.is_empty() {
            let quoted = |names: Vec<&str>| names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
            let layers = quoted(KINDS.iter().filter(|k| k.called_on == CalledOn::One).map(|k| k.class).collect());
            let merges = quoted(KINDS.iter().filter_map(|k| k.function).collect());
            self.ctx.error(span, format!("unknown layer `{name}`: staticnet has {layers} and the merges ({merges})"));
        } else {
            self.ctx.error(span, format!("unknown layer `{name}`{hint}"));
        }
    }

    /// `Name(args)` about to be called on tensors: a layer in class form.
    fn class_form(&mut self, name: &str, span: Span, args: &[Arg]) -> Option<Pending> {
        match Kind::lookup(name) {
            None => {
                self.unknown_layer(name, span);
                None
            }
            Some((kind, _)) if kind.called_on == CalledOn::Nothing => {
                self.ctx.error(span, "`Input` is not a layer to call: write `let x = Input(64);`");
                None
            }
            Some((_, true)) => {
                self.ctx.error(
                    span,
                    format!("`{name}` is a function: call it on a list of tensors, as in `{name}([a, b])`"),
                );
                None
            }
            Some((kind, false)) => Some(self.make(kind, name, span, args)),
        }
    }

    /// Reads a layer's arguments: the operation and the name it was given.
    pub(super) fn make_pending(
        &mut self,
        kind: &'static Kind,
        what: &str,
        span: Span,
        args: &[Arg],
    ) -> (Option<Box<dyn Op>>, GivenName) {
        let p = self.make(kind, what, span, args);
        (p.op, p.name)
    }

    /// Reads a layer's arguments through its kind.
    fn make(&mut self, kind: &'static Kind, what: &str, span: Span, args: &[Arg]) -> Pending {
        let mut keywords = kind.keywords.to_vec();
        keywords.push("name");
        let bound = bind(self.ctx, what, args, kind.positional, &keywords);
        let mut reader = Args { ctx: self.ctx, what, span, bound, scope: &self.scope };
        let mut op = (kind.build)(&mut reader);
        let bound = reader.bound;
        if let Some(op) = &mut op {
            op.name_inner(&mut |base, given| self.name_layer(given, base, span));
        }
        let name = self.layer_name(&bound);
        Pending { kind, op, name, span, what: what.to_string(), name_first: false }
    }

    /// `Input(…)`: a node of its own.
    fn input(&mut self, kind: &'static Kind, what: &str, span: Span, args: &[Arg], var: &str) -> Option<usize> {
        let p = self.make(kind, what, span, args);
        let name = self.name_layer(p.name, kind.base, span);
        let op = p.op?;
        let call = Call { what, span, inputs: &[] };
        let (shape, origin) = op.infer(self.ctx, &call)?;
        self.push(Node { op, inputs: vec![], shape, layer: name.clone(), name, var: var.to_string(), span }, origin)
    }

    pub(super) fn push(&mut self, node: Node, origin: crate::ops::Origin) -> Option<usize> {
        let varies = node.op.varying_steps().or_else(|| node.inputs.iter().find_map(|&i| self.varies[i]));
        self.varies.push(varies);
        self.nodes.push(node);
        self.origins.push(origin);
        Some(self.nodes.len() - 1)
    }

    /// Calls a made layer on its tensor arguments and adds the node.
    fn apply(&mut self, mut p: Pending, args: &[Arg], var: &str) -> Option<usize> {
        let what = p.what.clone();
        let early_name = if p.name_first { Some(self.name_layer(p.name.take(), p.kind.base, p.span)) } else { None };
        if let Some(arg) = args.iter().find(|a| a.name.is_some()) {
            let n = arg.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
            self.ctx.error(
                arg.name.as_ref().map_or(p.span, |n| n.span()),
                format!("a layer is called on its input only; `{n}` is not supported here"),
            );
        }
        let inputs = if p.kind.called_on == CalledOn::List {
            self.list_operands(&what, p.span, args, var)
        } else {
            self.one_operand(&what, p.span, args, var)
        };
        let name = match early_name {
            Some(n) => n,
            None => self.name_layer(p.name.take(), p.kind.base, p.span),
        };
        self.attempted_name = Some(name.clone());
        let inputs = inputs?;
        let op = p.op?;
        self.attach(op, &what, p.span, (name.clone(), name), &inputs, var)
    }

    /// Adds the node of `op` called on `inputs`: checks what the inputs
    /// hold, infers the shape. `names` is the node's name and its layer's
    /// (different for a shared layer's later calls).
    pub(super) fn attach(
        &mut self,
        op: Box<dyn Op>,
        what: &str,
        span: Span,
        names: (String, String),
        inputs: &[Input],
        var: &str,
    ) -> Option<usize> {
        let operands: Vec<Operand> = inputs
            .iter()
            .map(|(id, _, n)| Operand {
                name: n.clone(),
                shape: self.nodes[*id].shape.clone(),
                ids: self.nodes[*id].ids(),
                origin: self.origins[*id],
            })
            .collect();
        for o in &operands {
            match (o.ids, op.takes_ids().is_some()) {
                (true, false) => {
                    self.ctx.error(span, format!("`{what}` takes values, but `{}` holds token ids (an `int32` input): turn them into vectors with `Embedding` first", o.name));
                    return None;
                }
                (false, true) => {
                    self.ctx.error(span, format!("`{what}` takes token ids, but `{}` holds values: declare its input with `dtype = \"int32\"`", o.name));
                    return None;
                }
                _ => {}
            }
        }
        // Steps without a length run one at a time: a layer that needs the
        // whole sequence cannot follow them (and its shape would be wrong).
        if let Some(none) = inputs.iter().find_map(|i| self.varies[i.0]) {
            if let Some(fixed) = inputs.iter().find(|i| self.varies[i.0].is_none()) {
                let message = format!("`{what}` mixes steps without a length with `{}`, which does not run over them: a model with `None` steps has one input", fixed.2);
                self.ctx.error_with_notes(span, message, Some((none, "the steps have no length here".to_string())));
                return None;
            }
            let shapes: Vec<&crate::ir::Shape> = operands.iter().map(|o| &o.shape).collect();
            if op.stream(&shapes) == crate::ops::Stream::Whole {
                let message = format!("`{what}` needs the whole sequence, so it cannot follow steps without a length: give the `Input` a number of steps, or use layers that run step by step (recurrent layers, causal `Conv1D`, per-step layers)");
                self.ctx.error_with_notes(span, message, Some((none, "the steps have no length here".to_string())));
                return None;
            }
        }
        let (shape, origin) = op.infer(self.ctx, &Call { what, span, inputs: &operands })?;
        let inputs = inputs.iter().map(|i| i.0).collect();
        let (name, layer) = names;
        self.push(Node { op, inputs, shape, name, layer, var: var.to_string(), span }, origin)
    }

    /// The list a merge is called on.
    pub(super) fn list_operands(&mut self, what: &str, span: Span, args: &[Arg], var: &str) -> Option<Vec<Input>> {
        match args {
            [Arg { name: None, value: Expr::List(items, _) }] => {
                let mut v = Vec::new();
                for item in items {
                    match item {
                        Expr::Ident(i) => {
                            let n = i.unraw().to_string();
                            if let Some(id) = self.lookup(&n, i.span()) {
                                v.push((id, i.span(), n));
                            }
                        }
                        // a nested layer call or merge, as Keras code often writes
                        nested @ Expr::Call { .. } => {
                            if let Some(id) = self.tensor_expr(nested, var) {
                                v.push((id, nested.span(), self.nodes[id].name.clone()));
                            }
                        }
                        other => {
                            self.ctx.error(other.span(), format!("expected a tensor name, found {}", other.describe()))
                        }
                    }
                }
                (v.len() == items.len()).then_some(v)
            }
            [Arg { name: None, value: Expr::Ident(i) }] => {
                self.ctx.error(i.span(), format!("`{what}` merges a list of tensors: write `[{i}, …]`"));
                None
            }
            _ => {
                self.ctx.error(span, format!("`{what}` merges a list of tensors, as in `{what}([a, b])`"));
                None
            }
        }
    }

    /// The one tensor a layer is called on.
    pub(super) fn one_operand(&mut self, what: &str, span: Span, args: &[Arg], var: &str) -> Option<Vec<Input>> {
        match args {
            [Arg { name: None, value: Expr::Ident(i) }] => {
                let n = i.unraw().to_string();
                self.lookup(&n, i.span()).map(|id| vec![(id, i.span(), n)])
            }
            [Arg { name: None, value: nested @ Expr::Call { .. } }] => {
                self.tensor_expr(nested, var).map(|id| vec![(id, nested.span(), self.nodes[id].name.clone())])
            }
            [Arg { name: None, value: Expr::List(_, span) }] => {
                self.ctx.error(*span, format!("`{what}` takes one tensor, not a list; to combine several, use a merge such as `concatenate([a, b])`"));
                None
            }
            [] => {
                self.ctx.error(span, format!("`{what}(…)` must be called on a tensor, as in `{what}(…)(x)`"));
                None
            }
            [one] => {
                self.ctx.error(one.value.span(), format!("expected a tensor name, found {}", one.value.describe()));
                None
            }
            [_, second, ..] => {
                self.ctx.error(
                    second.value.span(),
                    format!("`{what}` takes one tensor; to combine several, use a merge such as `concatenate([a, b])`"),
                );
                None
            }
        }
    }
}

/// Keras layers staticnet does not have: a call of one is an unknown
/// layer, not a network to look for.
const KERAS_ONLY: &[&str] = &[
    "MultiHeadAttention",
    "Attention",
    "AdditiveAttention",
    "GroupQueryAttention",
    "Lambda",
    "Masking",
    "Conv3D",
    "Conv1DTranspose",
    "Conv2DTranspose",
    "Conv3DTranspose",
    "MaxPooling3D",
    "AveragePooling3D",
    "GlobalAveragePooling3D",
    "GlobalMaxPooling3D",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "ZeroPadding3D",
    "RepeatVector",
    "Permute",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "ReLU",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "Softmax",
    "GroupNormalization",
    "UnitNormalization",
    "ConvLSTM1D",
    "ConvLSTM2D",
    "ConvLSTM3D",
    "RNN",
    "SimpleRNNCell",
    "GRUCell",
    "LSTMCell",
    "StackedRNNCells",
    "TextVectorization",
    "Normalization",
    "Discretization",
    "CategoryEncoding",
    "Hashing",
    "StringLookup",
    "IntegerLookup",
    "Rescaling",
    "Resizing",
    "CenterCrop",
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomCrop",
    "RandomContrast",
    "RandomTranslation",
    "Identity",
    "InputLayer",
    "EinsumDense",
    "Sequential",
    "Functional",
    "SpectralNormalization",
];

/// Whether an unknown callee may be a network generated by another
/// `network!` (a struct name, not a misspelt or missing Keras layer).
fn external_candidate(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && !KERAS_ONLY.contains(&name)
        && suggest(name, Kind::all_names()).is_empty()
}

#[cfg(test)]
mod tests {
    use crate::check::{errors, run};
    use quote::quote;

    #[test]
    fn infers_shapes_names_and_heads() {
        let g = run(quote! {
            pub struct Posts {
                let posts = Input(256);
                let x = Dense(64, activation = relu)(posts);
                let age = Dense(1, name = "age")(x);
                let income = Dense(10, activation = softmax, name = "income")(x);
                let gender = Dense(1, activation = sigmoid, name = "gender")(x);
                Model(posts, [age, income, gender]);
                compile(optimizer = rmsprop, loss = [mse, categorical_crossentropy, binary_crossentropy], loss_weights = [0.25, 1.0, 10.0], metrics = [accuracy]);
            }
        })
        .unwrap();
        let names: Vec<_> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["input_layer", "dense", "age", "income", "gender"]);
        assert_eq!(g.nodes[1].shape.0, [64]);
        assert_eq!(g.heads.len(), 3);
        assert_eq!(g.param_count(), (256 * 64 + 64 + 65 + 650 + 65, 0));
    }

    #[test]
    fn width_mismatch_names_both_shapes() {
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(8);
                let a = Dense(32)(x);
                let b = Dense(16)(x);
                let c = add([a, b]);
                Model(x, c);
            }
        });
        assert_eq!(
            errs,
            [
                "`add` needs inputs of equal width: `a` has 32 features, `b` has 16",
                "`a` has 32 features from the units of this `Dense`",
                "`b` has 16 features from the units of this `Dense`",
            ]
        );
    }

    #[test]
    fn a_bad_activation_keeps_the_width_for_the_layers_below() {
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(8);
                let a = Dense(32, activation = relux)(x);
                let b = Dense(16)(x);
                let c = add([a, b]);
                Model(x, c);
            }
        });
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert_eq!(errs[1], "`add` needs inputs of equal width: `a` has 32 features, `b` has 16");
        assert_eq!(errs[2], "`a` has 32 features from the units of this `Dense`");
    }

    #[test]
    fn layers_called_the_wrong_way() {
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(8);
                let a = Dense(3);
                let b = relu(x);
                let c = Dense(2)(x)(x);
                let d = add(x, x);
                let e = Dense(4)([x, x]);
                let f = Frobnicate(3)(x);
                let g = Add()(x);
                Model(x, a);
            }
        });
        let has = |m: &str| errs.iter().any(|e| e.starts_with(m));
        assert!(has("`a` is a layer, not a tensor: call it on a tensor"), "{errs:?}");
        assert!(has("`relu` is an activation, not a layer"), "{errs:?}");
        assert!(has("a layer is called once, on its input"), "{errs:?}");
        assert!(has("`add` takes no positional arguments"), "{errs:?}");
        assert!(has("`add` merges a list of tensors: write `[x, …]`"), "{errs:?}");
        assert!(has("`Dense` takes one tensor, not a list"), "{errs:?}");
        assert!(
            has("unknown layer `Frobnicate`: staticnet has `Dense`, `Activation`, `Dropout`, `LayerNormalization`"),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.ends_with(
                "and the merges (`concatenate`, `add`, `subtract`, `multiply`, `average`, `maximum`, `minimum`, `dot`)"
            )),
            "{errs:?}"
        );
        assert!(has("`Add` merges a list of tensors: write `[x, …]`"), "{errs:?}");
    }
}
