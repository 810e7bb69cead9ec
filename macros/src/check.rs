//! Turns the AST into the checked [`Graph`]: resolves names, infers every
//! width, and enforces the graph rules. Errors are gathered in a [`Ctx`] and
//! reported together; checking goes on after an error wherever it can.

use crate::ir::*;
use crate::parse::{Arg, Expr, MapKey, NetworkDef, Stmt};
use proc_macro2::Span;
use std::collections::HashMap;
use syn::ext::IdentExt;

/// Collected errors.
#[derive(Default)]
pub struct Ctx {
    errors: Vec<syn::Error>,
}

impl Ctx {
    pub fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.errors.push(syn::Error::new(span, message));
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// All errors combined into one, in the order found.
    pub fn into_error(self) -> Option<syn::Error> {
        let mut iter = self.errors.into_iter();
        let mut first = iter.next()?;
        for e in iter {
            first.combine(e);
        }
        Some(first)
    }

    #[cfg(test)]
    pub fn messages(&self) -> Vec<String> {
        self.errors.iter().map(|e| e.to_string()).collect()
    }
}

/// Edit distance, for "did you mean" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `: did you mean `x`?` for the closest known name, or nothing.
pub fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for k in known {
        let d = if k.to_lowercase() == lower { 0 } else { distance(&lower, &k.to_lowercase()) + 1 };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, k));
        }
    }
    match best {
        Some((d, k)) if d <= 1 + name.len().max(3) / 3 => format!("; did you mean `{k}`?"),
        _ => String::new(),
    }
}

/// The layers and functions the language knows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Callee {
    Input,
    Dense,
    Activation,
    Dropout,
    LayerNorm,
    BatchNorm,
    /// Class form of a merge (`Add()`), to be called on a list.
    MergeClass(MergeKind),
    /// Function form (`add([a, b])`).
    MergeFn(MergeKind),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum MergeKind {
    Elementwise(MergeOp),
    Concatenate,
    Dot,
}

const CALLEES: &[(&str, Callee)] = &[
    ("Input", Callee::Input),
    ("Dense", Callee::Dense),
    ("Activation", Callee::Activation),
    ("Dropout", Callee::Dropout),
    ("LayerNormalization", Callee::LayerNorm),
    ("BatchNormalization", Callee::BatchNorm),
    ("Concatenate", Callee::MergeClass(MergeKind::Concatenate)),
    ("Add", Callee::MergeClass(MergeKind::Elementwise(MergeOp::Add))),
    ("Subtract", Callee::MergeClass(MergeKind::Elementwise(MergeOp::Subtract))),
    ("Multiply", Callee::MergeClass(MergeKind::Elementwise(MergeOp::Multiply))),
    ("Average", Callee::MergeClass(MergeKind::Elementwise(MergeOp::Average))),
    ("Maximum", Callee::MergeClass(MergeKind::Elementwise(MergeOp::Maximum))),
    ("Minimum", Callee::MergeClass(MergeKind::Elementwise(MergeOp::Minimum))),
    ("Dot", Callee::MergeClass(MergeKind::Dot)),
    ("concatenate", Callee::MergeFn(MergeKind::Concatenate)),
    ("add", Callee::MergeFn(MergeKind::Elementwise(MergeOp::Add))),
    ("subtract", Callee::MergeFn(MergeKind::Elementwise(MergeOp::Subtract))),
    ("multiply", Callee::MergeFn(MergeKind::Elementwise(MergeOp::Multiply))),
    ("average", Callee::MergeFn(MergeKind::Elementwise(MergeOp::Average))),
    ("maximum", Callee::MergeFn(MergeKind::Elementwise(MergeOp::Maximum))),
    ("minimum", Callee::MergeFn(MergeKind::Elementwise(MergeOp::Minimum))),
    ("dot", Callee::MergeFn(MergeKind::Dot)),
];

fn merge_base(kind: MergeKind) -> &'static str {
    match kind {
        MergeKind::Concatenate => "concatenate",
        MergeKind::Dot => "dot",
        MergeKind::Elementwise(op) => match op {
            MergeOp::Add => "add",
            MergeOp::Subtract => "subtract",
            MergeOp::Multiply => "multiply",
            MergeOp::Average => "average",
            MergeOp::Maximum => "maximum",
            MergeOp::Minimum => "minimum",
        },
    }
}

const LOSSES: &[(&str, LossKind)] = &[
    ("mse", LossKind::Mse),
    ("MSE", LossKind::Mse),
    ("mean_squared_error", LossKind::Mse),
    ("MeanSquaredError", LossKind::Mse),
    ("mae", LossKind::Mae),
    ("MAE", LossKind::Mae),
    ("mean_absolute_error", LossKind::Mae),
    ("MeanAbsoluteError", LossKind::Mae),
    ("huber", LossKind::Huber),
    ("huber_loss", LossKind::Huber),
    ("Huber", LossKind::Huber),
    ("categorical_crossentropy", LossKind::Categorical { from_logits: false }),
    ("CategoricalCrossentropy", LossKind::Categorical { from_logits: false }),
    ("sparse_categorical_crossentropy", LossKind::SparseCategorical { from_logits: false }),
    ("SparseCategoricalCrossentropy", LossKind::SparseCategorical { from_logits: false }),
    ("binary_crossentropy", LossKind::Binary { from_logits: false }),
    ("BinaryCrossentropy", LossKind::Binary { from_logits: false }),
];

const METRICS: &[&str] = &[
    "accuracy",
    "acc",
    "categorical_accuracy",
    "binary_accuracy",
    "sparse_categorical_accuracy",
    "mse",
    "mean_squared_error",
    "mae",
    "mean_absolute_error",
];

const OPTIMIZERS: &[(&str, &str)] = &[("sgd", "Sgd"), ("rmsprop", "RmsProp"), ("adam", "Adam")];

/// A layer being built, before it is called on its inputs.
struct Pending {
    callee: Callee,
    base: &'static str,
    name: Option<(String, Span)>,
    span: Span,
    callee_name: String,
    op: Option<Op>,
    /// For merges: the axis/axes check already done.
    merge: Option<MergeKind>,
}

struct Checker<'a> {
    ctx: &'a mut Ctx,
    nodes: Vec<Node>,
    scope: HashMap<String, usize>,
    counters: HashMap<&'static str, usize>,
    names: HashMap<String, Span>,
}

/// Checks a parsed network; on failure returns every error found.
pub fn check(def: &NetworkDef) -> Result<Graph, syn::Error> {
    let mut ctx = Ctx::default();
    let graph = check_with(def, &mut ctx);
    match (ctx.into_error(), graph) {
        (None, Some(g)) => Ok(g),
        (Some(e), _) => Err(e),
        (None, None) => Err(syn::Error::new(def.name.span(), "the network could not be checked")),
    }
}

/// Checks into `ctx`; returns the graph when no error was found.
pub fn check_with(def: &NetworkDef, ctx: &mut Ctx) -> Option<Graph> {
    let mut ck = Checker { ctx, nodes: Vec::new(), scope: HashMap::new(), counters: HashMap::new(), names: HashMap::new() };
    let mut model: Option<(&Expr, Span)> = None;
    let mut compile: Option<&Expr> = None;
    for stmt in &def.stmts {
        match stmt {
            Stmt::Let { name, value } => {
                let var = name.unraw().to_string();
                if let Some(id) = ck.tensor_expr(value, &var) {
                    ck.scope.insert(var, id);
                }
            }
            Stmt::Expr(expr) => {
                let callee = match expr {
                    Expr::Call { func, .. } => callee_name(ck.ctx, func).map(|(n, s)| (n, s)),
                    _ => None,
                };
                match callee.as_ref().map(|(n, s)| (n.as_str(), *s)) {
                    Some(("Model" | "Functional", span)) => {
                        if let Some((_, first)) = model {
                            ck.ctx.error(span, "`Model` is given twice: a network has exactly one `Model(inputs, outputs)`");
                            let _ = first;
                        } else {
                            model = Some((expr, span));
                        }
                    }
                    Some(("compile", span)) => {
                        if compile.is_some() {
                            ck.ctx.error(span, "`compile` is given twice");
                        } else {
                            compile = Some(expr);
                        }
                    }
                    Some((other, span)) => {
                        let hint = suggest(other, ["Model", "compile"]);
                        ck.ctx.error(
                            span,
                            format!("expected `let name = …;`, `Model(…);` or `compile(…);`, found a call of `{other}`{hint}"),
                        );
                    }
                    None => ck.ctx.error(expr.span(), "expected `let name = …;`, `Model(…);` or `compile(…);`"),
                }
            }
        }
    }
    let Some((model_expr, model_span)) = model else {
        ck.ctx.error(def.close_span, "missing `Model(inputs, outputs)`: it names the network's inputs and outputs");
        return None;
    };
    let (inputs, outputs, title) = ck.model(model_expr, model_span)?;
    let struct_name = def.name.to_string();
    let graph = ck.prune(inputs, outputs, model_span, title.unwrap_or(struct_name))?;
    let graph = finish_compile(ck.ctx, graph, compile);
    if ck.ctx.has_errors() {
        None
    } else {
        Some(graph)
    }
}

/// `Dense`, `layers.Dense`, `keras.layers.Dense` → ("Dense", span of `Dense`).
fn callee_name(ctx: &mut Ctx, func: &Expr) -> Option<(String, Span)> {
    match func {
        Expr::Ident(i) => Some((i.unraw().to_string(), i.span())),
        Expr::Path(segments) => {
            let (last, prefix) = segments.split_last()?;
            let mut ok = true;
            for (k, seg) in prefix.iter().enumerate() {
                let s = seg.to_string();
                let allowed = match (k, prefix.len()) {
                    (0, _) => s == "keras" || s == "layers" || s == "activations" || s == "models",
                    (1, _) => (s == "layers" || s == "activations" || s == "models") && prefix[0] == "keras",
                    _ => false,
                };
                if !allowed {
                    ctx.error(seg.span(), format!("unknown module `{s}`: only the prefixes `keras.` and `layers.` are accepted"));
                    ok = false;
                }
            }
            ok.then(|| (last.unraw().to_string(), last.span()))
        }
        other => {
            ctx.error(other.span(), format!("expected a layer name, found {}", other.describe()));
            None
        }
    }
}

/// Binds positional and keyword arguments to parameter names.
fn bind<'e>(ctx: &mut Ctx, what: &str, args: &'e [Arg], positional: &[&'static str], keywords: &[&'static str]) -> HashMap<&'static str, &'e Expr> {
    let mut out: HashMap<&'static str, &'e Expr> = HashMap::new();
    let mut pos = 0;
    for arg in args {
        match &arg.name {
            None => {
                if pos < positional.len() {
                    out.insert(positional[pos], &arg.value);
                    pos += 1;
                } else {
                    let n = positional.len();
                    let takes = match n {
                        0 => "no positional arguments".to_string(),
                        1 => "1 positional argument".to_string(),
                        _ => format!("{n} positional arguments"),
                    };
                    ctx.error(arg.value.span(), format!("`{what}` takes {takes}; name the others, as in `name = value`"));
                }
            }
            Some(name) => {
                let n = name.unraw().to_string();
                match positional.iter().chain(keywords).find(|k| **k == n) {
                    Some(k) => {
                        if out.insert(k, &arg.value).is_some() {
                            ctx.error(name.span(), format!("argument `{n}` is given twice"));
                        }
                    }
                    None => {
                        let hint = suggest(&n, positional.iter().chain(keywords).copied());
                        ctx.error(name.span(), format!("`{what}` has no argument `{n}`{hint}"));
                    }
                }
            }
        }
    }
    out
}

fn number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Int(i) => i.base10_parse::<f64>().ok(),
        Expr::Float(f) => f.base10_parse::<f64>().ok(),
        Expr::Neg(_, inner) => number(inner).map(|v| -v),
        _ => None,
    }
}

fn integer(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Int(i) => i.base10_parse::<i64>().ok(),
        Expr::Neg(_, inner) => integer(inner).map(|v| -v),
        _ => None,
    }
}

fn get_f64(ctx: &mut Ctx, args: &HashMap<&str, &Expr>, key: &str, default: f64, valid: impl Fn(f64) -> bool, range: &str) -> f64 {
    match args.get(key) {
        None => default,
        Some(e) => match number(e) {
            Some(v) if valid(v) => v,
            Some(v) => {
                ctx.error(e.span(), format!("`{key}` must be {range}, found {v}"));
                default
            }
            None => {
                ctx.error(e.span(), format!("`{key}` must be a number, found {}", e.describe()));
                default
            }
        },
    }
}

fn get_bool(ctx: &mut Ctx, args: &HashMap<&str, &Expr>, key: &str, default: bool) -> bool {
    match args.get(key) {
        None => default,
        Some(Expr::Bool(b)) => b.value,
        Some(Expr::Ident(i)) if i == "True" || i == "False" => i == "True",
        Some(e) => {
            ctx.error(e.span(), format!("`{key}` must be `true` or `false`, found {}", e.describe()));
            default
        }
    }
}

fn get_axis(ctx: &mut Ctx, args: &HashMap<&str, &Expr>, key: &str, what: &str) {
    if let Some(e) = args.get(key) {
        match integer(e) {
            Some(-1) | Some(1) => {}
            Some(v) => ctx.error(
                e.span(),
                format!("`{what}` works on the feature axis: `{key}` must be -1 or 1, found {v} (axis 0 is the batch)"),
            ),
            None => ctx.error(e.span(), format!("`{key}` must be an integer, found {}", e.describe())),
        }
    }
}

/// An activation from an identifier, a string, or `activations.relu`.
fn activation(ctx: &mut Ctx, expr: &Expr) -> Option<Act> {
    let (name, span) = match expr {
        Expr::Ident(i) => (i.unraw().to_string(), i.span()),
        Expr::Str(s) => (s.value(), s.span()),
        Expr::Path(_) => callee_name(ctx, expr)?,
        other => {
            ctx.error(other.span(), format!("expected an activation such as `relu` or \"relu\", found {}", other.describe()));
            return None;
        }
    };
    if name == "None" {
        return Some(Act::LINEAR);
    }
    match ACTIVATIONS.iter().find(|a| a.name == name) {
        Some(a) => Some(*a),
        None => {
            let hint = suggest(&name, ACTIVATIONS.iter().map(|a| a.name));
            ctx.error(span, format!("unknown activation `{name}`{hint}"));
            None
        }
    }
}

/// Whether `name` can be a Rust identifier (raw if it is a keyword).
pub fn valid_ident(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic());
    first_ok && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) && !matches!(name, "_" | "self" | "Self" | "super" | "crate")
}

impl Checker<'_> {
    /// The node a `let` binds.
    fn tensor_expr(&mut self, expr: &Expr, var: &str) -> Option<usize> {
        match expr {
            Expr::Ident(i) => self.lookup(i.unraw().to_string().as_str(), i.span()),
            Expr::Call { func, args, .. } => {
                if let Expr::Call { func: inner, args: layer_args, .. } = &**func {
                    // `Layer(args)(tensors)`
                    let (name, span) = callee_name(self.ctx, inner)?;
                    let pending = self.layer(&name, span, layer_args, false)?;
                    self.apply(pending, args, var)
                } else {
                    let (name, span) = callee_name(self.ctx, func)?;
                    match lookup_callee(&name) {
                        Some(Callee::Input) => self.input(args, span, var),
                        Some(Callee::MergeFn(kind)) => {
                            let (first, rest) = match args.split_first() {
                                Some((f, r)) if f.name.is_none() => (f, r),
                                _ => {
                                    self.ctx.error(span, format!("`{name}` takes a list of tensors first, as in `{name}([a, b])`"));
                                    return None;
                                }
                            };
                            let pending = self.merge_layer(&name, span, rest, kind)?;
                            self.apply(pending, std::slice::from_ref(first), var)
                        }
                        Some(_) => {
                            self.ctx.error(
                                span,
                                format!("`{name}(…)` makes a layer; call it on a tensor where it is made, as in `{name}(…)(x)`"),
                            );
                            None
                        }
                        None => {
                            self.unknown_layer(&name, span);
                            None
                        }
                    }
                }
            }
            other => {
                self.ctx.error(
                    other.span(),
                    format!("expected a tensor: an `Input(…)`, a layer call such as `Dense(32)(x)`, or a merge; found {}", other.describe()),
                );
                None
            }
        }
    }

    fn unknown_layer(&mut self, name: &str, span: Span) {
        let hint = suggest(name, CALLEES.iter().map(|(n, _)| *n));
        self.ctx.error(span, format!("unknown layer `{name}`{hint}"));
    }

    fn lookup(&mut self, name: &str, span: Span) -> Option<usize> {
        match self.scope.get(name) {
            Some(&id) => Some(id),
            None => {
                let hint = suggest(name, self.scope.keys().map(|s| s.as_str()));
                self.ctx.error(span, format!("cannot find tensor `{name}` in this network{hint}"));
                None
            }
        }
    }

    fn auto_name(&mut self, base: &'static str) -> String {
        let n = self.counters.entry(base).or_insert(0);
        let name = if *n == 0 { base.to_string() } else { format!("{base}_{n}") };
        *n += 1;
        name
    }

    fn layer_name(&mut self, args: &HashMap<&str, &Expr>) -> Option<(String, Span)> {
        match args.get("name") {
            None => None,
            Some(Expr::Str(s)) => {
                let v = s.value();
                if !valid_ident(&v) {
                    self.ctx.error(
                        s.span(),
                        format!("layer name \"{v}\" cannot name a Rust field: use letters, digits and `_`, not starting with a digit"),
                    );
                    return None;
                }
                Some((v, s.span()))
            }
            Some(e) => {
                self.ctx.error(e.span(), format!("`name` must be a string, found {}", e.describe()));
                None
            }
        }
    }

    fn register_name(&mut self, name: &str, span: Span) {
        if let Some(first) = self.names.get(name).copied() {
            let mut e = syn::Error::new(span, format!("layer name `{name}` is used twice: Keras needs unique layer names"));
            e.combine(syn::Error::new(first, format!("`{name}` is first used here")));
            self.ctx.errors.push(e);
        } else {
            self.names.insert(name.to_string(), span);
        }
    }

    fn input(&mut self, args: &[Arg], span: Span, var: &str) -> Option<usize> {
        let a = bind(self.ctx, "Input", args, &["shape"], &["name", "batch_size", "dtype"]);
        for k in ["batch_size", "dtype"] {
            if let Some(e) = a.get(k) {
                self.ctx.error(e.span(), format!("`Input` does not support `{k}` here: the scalar type and batch size are chosen when the network is used"));
            }
        }
        let width = match a.get("shape") {
            None => {
                self.ctx.error(span, "`Input` needs a width, as in `Input(64)` or `Input(shape = (64,))`");
                None
            }
            Some(e) => self.width_of(e),
        };
        let name = self.layer_name(&a);
        let (name, name_span) = match name {
            Some(n) => n,
            None => (self.auto_name("input_layer"), span),
        };
        self.register_name(&name, name_span);
        let width = width?;
        self.nodes.push(Node { op: Op::Input, inputs: vec![], width, name, var: var.to_string(), span });
        Some(self.nodes.len() - 1)
    }

    fn width_of(&mut self, e: &Expr) -> Option<usize> {
        match e {
            Expr::Tuple(items, span) => {
                if items.len() != 1 {
                    self.ctx.error(*span, format!("staticnet's inputs are vectors: `shape` must have one dimension, as in `(64,)`, found {} dimensions", items.len()));
                    return None;
                }
                self.width_of(&items[0])
            }
            Expr::List(items, span) => {
                if items.len() != 1 {
                    self.ctx.error(*span, "staticnet's inputs are vectors: `shape` must have one dimension, as in `(64,)`");
                    return None;
                }
                self.width_of(&items[0])
            }
            _ => self.positive(e, "the width"),
        }
    }

    fn positive(&mut self, e: &Expr, what: &str) -> Option<usize> {
        match e {
            Expr::Int(i) => match i.base10_parse::<usize>() {
                Ok(0) => {
                    self.ctx.error(i.span(), format!("{what} must be a positive integer, found 0"));
                    None
                }
                Ok(v) if v > 1 << 24 => {
                    self.ctx.error(i.span(), format!("{what} {v} is too large for a fixed-size network"));
                    None
                }
                Ok(v) => Some(v),
                Err(_) => {
                    self.ctx.error(i.span(), format!("{what} must be a positive integer, found `{i}`"));
                    None
                }
            },
            other => {
                let found = match number(other) {
                    Some(v) => format!("`{v}`"),
                    None => other.describe().to_string(),
                };
                self.ctx.error(other.span(), format!("{what} must be a positive integer, found {found}"));
                None
            }
        }
    }

    /// Reads a layer's constructor arguments.
    fn layer(&mut self, name: &str, span: Span, args: &[Arg], _fn_form: bool) -> Option<Pending> {
        let Some(callee) = lookup_callee(name) else {
            self.unknown_layer(name, span);
            return None;
        };
        let mut p = Pending { callee, base: "", name: None, span, callee_name: name.to_string(), op: None, merge: None };
        match callee {
            Callee::Input => {
                self.ctx.error(span, "`Input` is not a layer to call: write `let x = Input(64);`");
                return None;
            }
            Callee::Dense => {
                let a = bind(self.ctx, "Dense", args, &["units", "activation"], &["use_bias", "name"]);
                let units = match a.get("units") {
                    Some(e) => self.positive(e, "`units`"),
                    None => {
                        self.ctx.error(span, "`Dense` needs `units`, as in `Dense(32)`");
                        None
                    }
                };
                let act = match a.get("activation") {
                    Some(e) => activation(self.ctx, e),
                    None => Some(Act::LINEAR),
                };
                let use_bias = get_bool(self.ctx, &a, "use_bias", true);
                p.base = "dense";
                p.name = self.layer_name(&a);
                if let (Some(units), Some(activation)) = (units, act) {
                    p.op = Some(Op::Dense { units, activation, use_bias });
                }
            }
            Callee::Activation => {
                let a = bind(self.ctx, "Activation", args, &["activation"], &["name"]);
                p.base = "activation";
                p.name = self.layer_name(&a);
                match a.get("activation") {
                    Some(e) => p.op = activation(self.ctx, e).map(Op::Activation),
                    None => self.ctx.error(span, "`Activation` needs an activation, as in `Activation(relu)`"),
                }
            }
            Callee::Dropout => {
                let a = bind(self.ctx, "Dropout", args, &["rate"], &["name", "seed"]);
                p.base = "dropout";
                p.name = self.layer_name(&a);
                if let Some(e) = a.get("seed") {
                    if integer(e).is_none_or(|v| v < 0) {
                        self.ctx.error(e.span(), "`seed` must be a non-negative integer");
                    }
                }
                match a.get("rate") {
                    None => self.ctx.error(span, "`Dropout` needs a rate, as in `Dropout(0.5)`"),
                    Some(_) => {
                        let rate = get_f64(self.ctx, &a, "rate", 0.0, |v| (0.0..1.0).contains(&v), "in [0, 1)");
                        p.op = Some(Op::Dropout { rate });
                    }
                }
            }
            Callee::LayerNorm => {
                let a = bind(self.ctx, "LayerNormalization", args, &[], &["axis", "epsilon", "center", "scale", "name"]);
                get_axis(self.ctx, &a, "axis", "LayerNormalization");
                for k in ["center", "scale"] {
                    if let Some(e) = a.get(k) {
                        if !get_bool(self.ctx, &a, k, true) {
                            self.ctx.error(e.span(), format!("`{k} = false` is not supported: LayerNormalization always has `gamma` and `beta`"));
                        }
                    }
                }
                let epsilon = get_f64(self.ctx, &a, "epsilon", 1e-3, |v| v > 0.0, "positive");
                p.base = "layer_normalization";
                p.name = self.layer_name(&a);
                p.op = Some(Op::LayerNorm { epsilon });
            }
            Callee::BatchNorm => {
                let a = bind(self.ctx, "BatchNormalization", args, &[], &["axis", "momentum", "epsilon", "center", "scale", "name"]);
                get_axis(self.ctx, &a, "axis", "BatchNormalization");
                for k in ["center", "scale"] {
                    if let Some(e) = a.get(k) {
                        if !get_bool(self.ctx, &a, k, true) {
                            self.ctx.error(e.span(), format!("`{k} = false` is not supported: BatchNormalization always has `gamma` and `beta`"));
                        }
                    }
                }
                let momentum = get_f64(self.ctx, &a, "momentum", 0.99, |v| (0.0..=1.0).contains(&v), "in [0, 1]");
                let epsilon = get_f64(self.ctx, &a, "epsilon", 1e-3, |v| v > 0.0, "positive");
                p.base = "batch_normalization";
                p.name = self.layer_name(&a);
                p.op = Some(Op::BatchNorm { momentum, epsilon });
            }
            Callee::MergeClass(kind) => return self.merge_layer(name, span, args, kind),
            Callee::MergeFn(_) => {
                self.ctx.error(span, format!("`{name}` is a function: call it on a list of tensors, as in `{name}([a, b])`"));
                return None;
            }
        }
        Some(p)
    }

    fn merge_layer(&mut self, name: &str, span: Span, args: &[Arg], kind: MergeKind) -> Option<Pending> {
        let keywords: &[&'static str] = match kind {
            MergeKind::Concatenate => &["axis", "name"],
            MergeKind::Dot => &["axes", "normalize", "name"],
            MergeKind::Elementwise(_) => &["name"],
        };
        let a = bind(self.ctx, name, args, &[], keywords);
        let mut op = match kind {
            MergeKind::Concatenate => {
                get_axis(self.ctx, &a, "axis", name);
                Op::Concatenate
            }
            MergeKind::Elementwise(m) => Op::Merge(m),
            MergeKind::Dot => {
                if let Some(e) = a.get("axes") {
                    let ok = match e {
                        Expr::Tuple(items, _) | Expr::List(items, _) => items.len() == 2 && items.iter().all(|i| matches!(integer(i), Some(1) | Some(-1))),
                        other => matches!(integer(other), Some(1) | Some(-1)),
                    };
                    if !ok {
                        self.ctx.error(e.span(), format!("`{name}` multiplies feature vectors: `axes` must be 1 or -1 (axis 0 is the batch)"));
                    }
                }
                Op::Dot { normalize: false }
            }
        };
        if let Op::Dot { normalize } = &mut op {
            *normalize = get_bool(self.ctx, &a, "normalize", false);
        }
        let lname = self.layer_name(&a);
        Some(Pending { callee: Callee::MergeClass(kind), base: merge_base(kind), name: lname, span, callee_name: name.to_string(), op: Some(op), merge: Some(kind) })
    }

    /// Calls a built layer on its tensor arguments and adds the node.
    fn apply(&mut self, p: Pending, args: &[Arg], var: &str) -> Option<usize> {
        let what = p.callee_name.clone();
        if let Some(arg) = args.iter().find(|a| a.name.is_some()) {
            let n = arg.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
            self.ctx.error(arg.name.as_ref().map_or(p.span, |n| n.span()), format!("a layer is called on its input only; `{n}` is not supported here"));
        }
        let inputs: Vec<(usize, Span, String)> = if p.merge.is_some() {
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
                            other => self.ctx.error(other.span(), format!("expected a tensor name, found {}", other.describe())),
                        }
                    }
                    if v.len() != items.len() {
                        return None;
                    }
                    v
                }
                _ => {
                    self.ctx.error(p.span, format!("`{what}` merges a list of tensors, as in `{what}([a, b])`"));
                    return None;
                }
            }
        } else {
            match args {
                [Arg { name: None, value: Expr::Ident(i) }] => {
                    let n = i.unraw().to_string();
                    let id = self.lookup(&n, i.span())?;
                    vec![(id, i.span(), n)]
                }
                [Arg { name: None, value: Expr::List(..) }] => {
                    self.ctx.error(p.span, format!("`{what}` takes one tensor, not a list"));
                    return None;
                }
                [] => {
                    self.ctx.error(p.span, format!("`{what}(…)` must be called on a tensor, as in `{what}(…)(x)`"));
                    return None;
                }
                [one] => {
                    self.ctx.error(one.value.span(), format!("expected a tensor name, found {}", one.value.describe()));
                    return None;
                }
                _ => {
                    self.ctx.error(p.span, format!("`{what}` takes one tensor; to combine several, use a merge such as `concatenate([a, b])`"));
                    return None;
                }
            }
        };
        let (name, name_span) = match p.name {
            Some(n) => n,
            None => (self.auto_name(p.base), p.span),
        };
        self.register_name(&name, name_span);
        let op = p.op?;
        let widths: Vec<usize> = inputs.iter().map(|(id, _, _)| self.nodes[*id].width).collect();
        let width = match &op {
            Op::Dense { units, .. } => *units,
            Op::Input => unreachable!("inputs are not applied"),
            Op::Activation(_) | Op::Dropout { .. } | Op::LayerNorm { .. } | Op::BatchNorm { .. } => widths[0],
            Op::Merge(_) | Op::Concatenate | Op::Dot { .. } => {
                let min = if matches!(op, Op::Merge(MergeOp::Subtract) | Op::Dot { .. }) { 2 } else { 2 };
                let exact = matches!(op, Op::Merge(MergeOp::Subtract) | Op::Dot { .. });
                if inputs.len() < min || (exact && inputs.len() != 2) {
                    let need = if exact { "exactly 2 tensors".to_string() } else { "at least 2 tensors".to_string() };
                    self.ctx.error(p.span, format!("`{what}` needs {need}, found {}", inputs.len()));
                    return None;
                }
                if op == Op::Concatenate {
                    widths.iter().sum()
                } else {
                    let first = widths[0];
                    for (k, (_, span, n)) in inputs.iter().enumerate().skip(1) {
                        if widths[k] != first {
                            let (_, _, n0) = &inputs[0];
                            let mut e = syn::Error::new(
                                p.span,
                                format!("`{what}` needs inputs of equal width: `{n0}` has {first} features, `{n}` has {}", widths[k]),
                            );
                            e.combine(syn::Error::new(
                                self.nodes[inputs[0].0].span,
                                format!("`{n0}` gets its {first} features from `{}` here", self.nodes[inputs[0].0].name),
                            ));
                            e.combine(syn::Error::new(
                                self.nodes[inputs[k].0].span,
                                format!("`{n}` gets its {} features from `{}` here", widths[k], self.nodes[inputs[k].0].name),
                            ));
                            let _ = span;
                            self.ctx.errors.push(e);
                            return None;
                        }
                    }
                    if matches!(op, Op::Dot { .. }) {
                        1
                    } else {
                        first
                    }
                }
            }
        };
        let _ = p.callee;
        self.nodes.push(Node { op, inputs: inputs.iter().map(|i| i.0).collect(), width, name, var: var.to_string(), span: p.span });
        Some(self.nodes.len() - 1)
    }

    /// Reads `Model(inputs, outputs)`.
    fn model(&mut self, expr: &Expr, span: Span) -> Option<(Vec<(usize, Span)>, Vec<(usize, Span)>, Option<String>)> {
        let Expr::Call { args, .. } = expr else { return None };
        let a = bind(self.ctx, "Model", args, &["inputs", "outputs"], &["name"]);
        let title = match a.get("name") {
            Some(Expr::Str(s)) => Some(s.value()),
            Some(e) => {
                self.ctx.error(e.span(), "`name` must be a string");
                None
            }
            None => None,
        };
        let mut list = |key: &str| -> Option<Vec<(usize, Span)>> {
            let Some(e) = a.get(key) else {
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
            let mut out = Vec::new();
            let mut ok = true;
            for item in items {
                match item {
                    Expr::Ident(i) => {
                        let n = i.unraw().to_string();
                        match self.lookup(&n, i.span()) {
                            Some(id) => {
                                if out.iter().any(|(o, _)| *o == id) {
                                    self.ctx.error(i.span(), format!("`{n}` is listed twice in `{key}`"));
                                    ok = false;
                                }
                                out.push((id, i.span()));
                            }
                            None => ok = false,
                        }
                    }
                    other => {
                        self.ctx.error(other.span(), format!("expected a tensor name in `{key}`, found {}", other.describe()));
                        ok = false;
                    }
                }
            }
            ok.then_some(out)
        };
        let inputs = list("inputs");
        let outputs = list("outputs");
        let (inputs, outputs) = (inputs?, outputs?);
        let mut ok = true;
        for &(id, s) in &inputs {
            if self.nodes[id].op != Op::Input {
                self.ctx.error(s, format!("`{}` is not an `Input`: `Model`'s inputs must be made by `Input(…)`", self.nodes[id].var));
                ok = false;
            }
        }
        for &(id, s) in &outputs {
            if self.nodes[id].op == Op::Input {
                self.ctx.error(s, format!("output `{}` is an `Input`: an output must be computed by a layer", self.nodes[id].var));
                ok = false;
            }
        }
        ok.then_some((inputs, outputs, title))
    }

    /// Keeps the nodes the outputs depend on and checks connectivity.
    fn prune(&mut self, inputs: Vec<(usize, Span)>, outputs: Vec<(usize, Span)>, model_span: Span, title: String) -> Option<Graph> {
        let n = self.nodes.len();
        let mut needed = vec![false; n];
        let mut ok = true;
        for &(out, out_span) in &outputs {
            let mut stack = vec![out];
            let mut seen = vec![false; n];
            while let Some(k) = stack.pop() {
                if seen[k] {
                    continue;
                }
                seen[k] = true;
                needed[k] = true;
                if self.nodes[k].op == Op::Input && !inputs.iter().any(|(i, _)| *i == k) {
                    self.ctx.error(
                        out_span,
                        format!(
                            "graph disconnected: output `{}` depends on input `{}`, which is not among `Model`'s inputs",
                            self.nodes[out].var, self.nodes[k].var
                        ),
                    );
                    ok = false;
                }
                stack.extend(self.nodes[k].inputs.iter().copied());
            }
        }
        for &(i, s) in &inputs {
            if !needed[i] {
                self.ctx.error(s, format!("input `{}` is not used by any output", self.nodes[i].var));
                ok = false;
            }
        }
        let _ = model_span;
        if !ok {
            return None;
        }
        let mut remap = vec![usize::MAX; n];
        let mut nodes = Vec::new();
        for (k, node) in self.nodes.iter().enumerate() {
            if needed[k] {
                remap[k] = nodes.len();
                let mut node = node.clone();
                node.inputs = node.inputs.iter().map(|i| remap[*i]).collect();
                nodes.push(node);
            }
        }
        Some(Graph {
            nodes,
            inputs: inputs.iter().map(|(i, _)| remap[*i]).collect(),
            heads: outputs.iter().map(|(o, _)| Head { node: remap[*o], loss: None, weight: 1.0, metrics: Vec::new() }).collect(),
            optimizer: OptimizerSpec { kind: "RmsProp", settings: Vec::new() },
            title,
        })
    }
}

fn lookup_callee(name: &str) -> Option<Callee> {
    CALLEES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// Per-head values of a `compile` argument: one for all, a list in output
/// order, or a map keyed by head name.
fn per_head<'e>(ctx: &mut Ctx, graph: &Graph, key: &str, expr: &'e Expr, single_ok: bool) -> Vec<Option<&'e Expr>> {
    let heads: Vec<&str> = graph.heads.iter().map(|h| graph.nodes[h.node].name.as_str()).collect();
    match expr {
        Expr::List(items, span) if single_ok || true => {
            if items.len() != heads.len() {
                ctx.error(
                    *span,
                    format!(
                        "`{key}` lists {} value{} but the model has {} output{} ({})",
                        items.len(),
                        if items.len() == 1 { "" } else { "s" },
                        heads.len(),
                        if heads.len() == 1 { "" } else { "s" },
                        heads.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ")
                    ),
                );
                return vec![None; heads.len()];
            }
            items.iter().map(Some).collect()
        }
        Expr::Map(entries, _) => {
            let mut out = vec![None; heads.len()];
            for (k, v) in entries {
                let name = k.text();
                match heads.iter().position(|h| *h == name) {
                    Some(i) => {
                        if out[i].is_some() {
                            ctx.error(k.span(), format!("head `{name}` appears twice in `{key}`"));
                        }
                        out[i] = Some(v);
                    }
                    None => {
                        let hint = suggest(&name, heads.iter().copied());
                        let _ = MapKey::span;
                        ctx.error(k.span(), format!("`{key}` names `{name}`, which is not an output of the model{hint}"));
                    }
                }
            }
            out
        }
        single => {
            if !single_ok && heads.len() > 1 {
                ctx.error(single.span(), format!("`{key}` needs a list or a map for a model with several outputs"));
            }
            vec![Some(single); heads.len()]
        }
    }
}

fn loss_of(ctx: &mut Ctx, expr: &Expr) -> Option<LossKind> {
    let (name, span, args) = match expr {
        Expr::Ident(i) => (i.unraw().to_string(), i.span(), None),
        Expr::Str(s) => (s.value(), s.span(), None),
        Expr::Path(_) => {
            let (n, s) = callee_name(ctx, expr)?;
            (n, s, None)
        }
        Expr::Call { func, args, .. } => {
            let (n, s) = callee_name(ctx, func)?;
            (n, s, Some(args))
        }
        Expr::List(..) | Expr::Map(..) => {
            ctx.error(expr.span(), "mixed `loss` forms: give one loss, a list of losses, or a map `{ head: loss }`, not a nesting of them");
            return None;
        }
        other => {
            ctx.error(other.span(), format!("expected a loss such as `mse`, found {}", other.describe()));
            return None;
        }
    };
    let Some(&(_, mut kind)) = LOSSES.iter().find(|(n, _)| *n == name) else {
        let hint = suggest(&name, LOSSES.iter().map(|(n, _)| *n));
        ctx.error(span, format!("unknown loss `{name}`{hint}"));
        return None;
    };
    if let Some(args) = args {
        let a = bind(ctx, &name, args, &[], &["from_logits", "delta", "name", "reduction"]);
        let logits = get_bool(ctx, &a, "from_logits", false);
        match &mut kind {
            LossKind::Categorical { from_logits } | LossKind::SparseCategorical { from_logits } | LossKind::Binary { from_logits } => *from_logits = logits,
            _ => {
                if let Some(e) = a.get("from_logits") {
                    ctx.error(e.span(), format!("`{name}` has no `from_logits` form"));
                }
            }
        }
        if let Some(e) = a.get("delta") {
            if kind != LossKind::Huber {
                ctx.error(e.span(), format!("`{name}` has no `delta`"));
            } else if number(e) != Some(1.0) {
                ctx.error(e.span(), "only `delta = 1.0` (Keras's default) is supported for `Huber`");
            }
        }
        if let Some(e) = a.get("reduction") {
            ctx.error(e.span(), "only Keras's default reduction (`sum_over_batch_size`) is supported");
        }
    }
    Some(kind)
}

fn metrics_of(ctx: &mut Ctx, expr: &Expr) -> Vec<String> {
    let items: Vec<&Expr> = match expr {
        Expr::List(items, _) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for item in items {
        let (name, span) = match item {
            Expr::Ident(i) => (i.unraw().to_string(), i.span()),
            Expr::Str(s) => (s.value(), s.span()),
            other => {
                ctx.error(other.span(), format!("expected a metric such as `accuracy`, found {}", other.describe()));
                continue;
            }
        };
        if METRICS.contains(&name.as_str()) {
            out.push(name);
        } else {
            let hint = suggest(&name, METRICS.iter().copied());
            ctx.error(span, format!("unknown metric `{name}`{hint}"));
        }
    }
    out
}

fn resolve_metric(name: &str, loss: Option<LossKind>, width: usize) -> Metric {
    match name {
        "categorical_accuracy" => Metric::CategoricalAccuracy,
        "binary_accuracy" => Metric::BinaryAccuracy,
        "sparse_categorical_accuracy" => Metric::SparseCategoricalAccuracy,
        "mse" | "mean_squared_error" => Metric::MeanSquaredError,
        "mae" | "mean_absolute_error" => Metric::MeanAbsoluteError,
        // "accuracy" / "acc": as Keras resolves it from the loss and shape
        _ => match loss {
            Some(LossKind::SparseCategorical { .. }) => Metric::SparseCategoricalAccuracy,
            Some(LossKind::Binary { .. }) => Metric::BinaryAccuracy,
            Some(LossKind::Categorical { .. }) => Metric::CategoricalAccuracy,
            _ if width == 1 => Metric::BinaryAccuracy,
            _ => Metric::CategoricalAccuracy,
        },
    }
}

fn optimizer_of(ctx: &mut Ctx, expr: &Expr) -> Option<OptimizerSpec> {
    let (name, span, args) = match expr {
        Expr::Ident(i) => (i.unraw().to_string(), i.span(), None),
        Expr::Str(s) => (s.value(), s.span(), None),
        Expr::Path(_) => {
            let (n, s) = callee_name(ctx, expr)?;
            (n, s, None)
        }
        Expr::Call { func, args, .. } => {
            let (n, s) = callee_name(ctx, func)?;
            (n, s, Some(args))
        }
        other => {
            ctx.error(other.span(), format!("expected an optimizer such as `rmsprop` or `Adam(learning_rate = 0.01)`, found {}", other.describe()));
            return None;
        }
    };
    let Some(&(_, kind)) = OPTIMIZERS.iter().find(|(n, _)| *n == name.to_lowercase()) else {
        let hint = suggest(&name, ["sgd", "rmsprop", "adam", "SGD", "RMSprop", "Adam"]);
        ctx.error(span, format!("unknown optimizer `{name}`{hint}"));
        return None;
    };
    let mut spec = OptimizerSpec { kind, settings: Vec::new() };
    let Some(args) = args else { return Some(spec) };
    let common: &[&'static str] = &["learning_rate", "epsilon", "clipnorm", "clipvalue", "global_clipnorm", "name"];
    let own: &[&'static str] = match kind {
        "Sgd" => &["momentum", "nesterov"],
        "RmsProp" => &["rho", "momentum", "centered"],
        _ => &["beta_1", "beta_2", "amsgrad"],
    };
    let all: Vec<&'static str> = common.iter().chain(own).copied().filter(|k| !(kind == "Sgd" && *k == "epsilon")).collect();
    let a = bind(ctx, &name, args, &["learning_rate"], &all[1..]);
    let pos = |v: f64| v > 0.0;
    let unit = |v: f64| (0.0..1.0).contains(&v);
    let mut float = |ctx: &mut Ctx, key: &'static str, valid: &dyn Fn(f64) -> bool, range: &str| {
        if a.contains_key(key) {
            let v = get_f64(ctx, &a, key, f64::NAN, valid, range);
            if !v.is_nan() {
                spec.settings.push((key, Setting::Float(v)));
            }
        }
    };
    float(ctx, "learning_rate", &pos, "positive");
    float(ctx, "epsilon", &pos, "positive");
    float(ctx, "rho", &unit, "in [0, 1)");
    float(ctx, "momentum", &unit, "in [0, 1)");
    float(ctx, "beta_1", &unit, "in [0, 1)");
    float(ctx, "beta_2", &unit, "in [0, 1)");
    float(ctx, "clipnorm", &pos, "positive");
    float(ctx, "clipvalue", &pos, "positive");
    float(ctx, "global_clipnorm", &pos, "positive");
    for key in ["nesterov", "centered", "amsgrad"] {
        if a.contains_key(key) {
            let v = get_bool(ctx, &a, key, false);
            spec.settings.push((key, Setting::Bool(v)));
        }
    }
    let clips: Vec<&&str> = ["clipnorm", "clipvalue", "global_clipnorm"].iter().filter(|k| a.contains_key(**k)).collect();
    if clips.len() > 1 {
        ctx.error(a[*clips[1]].span(), format!("only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set, found `{}` and `{}`", clips[0], clips[1]));
    }
    Some(spec)
}

fn finish_compile(ctx: &mut Ctx, mut graph: Graph, compile: Option<&Expr>) -> Graph {
    let Some(Expr::Call { args, func, .. }) = compile else { return graph };
    let a = bind(ctx, "compile", args, &["optimizer", "loss"], &["loss_weights", "metrics", "weighted_metrics", "run_eagerly", "jit_compile"]);
    for k in ["weighted_metrics", "run_eagerly", "jit_compile"] {
        if let Some(e) = a.get(k) {
            ctx.error(e.span(), format!("`{k}` is not supported by staticnet's `compile`"));
        }
    }
    if let Some(e) = a.get("optimizer") {
        if let Some(spec) = optimizer_of(ctx, e) {
            graph.optimizer = spec;
        }
    }
    if let Some(e) = a.get("loss") {
        let per = per_head(ctx, &graph, "loss", e, true);
        for (h, item) in per.into_iter().enumerate() {
            let node = &graph.nodes[graph.heads[h].node];
            match item {
                None => {
                    if matches!(e, Expr::Map(..)) {
                        ctx.error(e.span(), format!("`loss` gives no loss for output `{}`", node.name));
                    }
                }
                Some(item) => {
                    let loss = loss_of(ctx, item);
                    if let Some(l @ (LossKind::Categorical { .. } | LossKind::SparseCategorical { .. })) = loss {
                        if node.width < 2 {
                            let lname = LOSSES.iter().find(|(_, k)| *k == l).map(|(n, _)| *n).unwrap_or("the loss");
                            ctx.error(
                                item.span(),
                                format!("`{lname}` needs an output with at least 2 classes, but `{}` has 1 unit; use `binary_crossentropy`", node.name),
                            );
                        }
                    }
                    graph.heads[h].loss = loss;
                }
            }
        }
    } else if a.contains_key("loss_weights") || a.contains_key("metrics") {
        let span = match &**func {
            Expr::Ident(i) => i.span(),
            other => other.span(),
        };
        ctx.error(span, "`compile` needs a `loss` for `loss_weights` and `metrics` to apply");
    }
    if let Some(e) = a.get("loss_weights") {
        if let Expr::List(..) | Expr::Map(..) = e {
            let per = per_head(ctx, &graph, "loss_weights", e, false);
            for (h, item) in per.into_iter().enumerate() {
                if let Some(item) = item {
                    match number(item) {
                        Some(v) if v >= 0.0 && v.is_finite() => graph.heads[h].weight = v,
                        Some(v) => ctx.error(item.span(), format!("a loss weight must be a non-negative number, found {v}")),
                        None => ctx.error(item.span(), format!("a loss weight must be a number, found {}", item.describe())),
                    }
                }
            }
        } else {
            ctx.error(e.span(), "`loss_weights` must be a list in output order or a map `{ head: weight }`");
        }
    }
    if let Some(e) = a.get("metrics") {
        let per: Vec<Vec<String>> = match e {
            Expr::Map(..) => per_head(ctx, &graph, "metrics", e, true).into_iter().map(|m| m.map(|m| metrics_of(ctx, m)).unwrap_or_default()).collect(),
            other => {
                let names = metrics_of(ctx, other);
                vec![names; graph.heads.len()]
            }
        };
        for (h, names) in per.into_iter().enumerate() {
            let width = graph.nodes[graph.heads[h].node].width;
            let loss = graph.heads[h].loss;
            let mut resolved: Vec<Metric> = Vec::new();
            for n in names {
                let m = resolve_metric(&n, loss, width);
                if !resolved.contains(&m) {
                    resolved.push(m);
                }
            }
            graph.heads[h].metrics = resolved;
        }
    }
    graph
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn run(tokens: proc_macro2::TokenStream) -> Result<Graph, Vec<String>> {
        let def = crate::parse::parse(tokens).map_err(|e| vec![e.to_string()])?;
        let mut ctx = Ctx::default();
        let g = check_with(&def, &mut ctx);
        if ctx.has_errors() {
            Err(ctx.messages())
        } else {
            Ok(g.unwrap())
        }
    }

    #[test]
    fn infers_widths_names_and_heads() {
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
        assert_eq!(g.nodes[1].width, 64);
        assert_eq!(g.heads.len(), 3);
        assert_eq!(g.heads[2].weight, 10.0);
        assert_eq!(g.heads[1].metrics, vec![Metric::CategoricalAccuracy]);
        assert_eq!(g.heads[2].metrics, vec![Metric::BinaryAccuracy]);
        assert_eq!(g.param_count(), (256 * 64 + 64 + 65 + 650 + 65, 0));
    }

    #[test]
    fn merges_and_auto_names() {
        let g = run(quote! {
            pub struct Qa {
                let text = Input(shape = (40,), name = "text");
                let q = Input(24);
                let a = Dense(32)(text);
                let b = layers.Dense(16)(q);
                let c = concatenate([a, b], axis = -1);
                let d = keras.layers.Add()([c, c]);
                let e = Dense(48)(d);
                let f = dot([e, d], axes = 1, normalize = true);
                Model([text, q], f);
            }
        })
        .unwrap();
        let names: Vec<_> = g.nodes.iter().map(|n| (n.name.as_str(), n.width)).collect();
        assert_eq!(
            names,
            [("text", 40), ("input_layer", 24), ("dense", 32), ("dense_1", 16), ("concatenate", 48), ("add", 48), ("dense_2", 48), ("dot", 1)]
        );
    }

    #[test]
    fn reports_every_independent_mistake() {
        let errs = run(quote! {
            pub struct Bad {
                let x = Input(8);
                let a = Dense(32, activation = relux)(x);
                let b = Dense(16)(x);
                let c = add([a, b]);
                let d = Dens(3)(x);
                let e = Dense(0)(y);
                Model(x, [b]);
                compile(loss = mse, optimizer = adamw);
            }
        })
        .unwrap_err();
        let all = errs.join("\n");
        assert!(all.contains("unknown activation `relux`; did you mean `relu`?"), "{all}");
        assert!(all.contains("unknown layer `Dens`; did you mean `Dense`?"), "{all}");
        assert!(all.contains("`units` must be a positive integer, found 0"), "{all}");
        assert!(all.contains("cannot find tensor `y`"), "{all}");
        assert!(all.contains("unknown optimizer `adamw`; did you mean `adam`?"), "{all}");
    }

    #[test]
    fn width_mismatch_names_both_shapes() {
        let errs = run(quote! {
            pub struct Bad {
                let x = Input(8);
                let a = Dense(32)(x);
                let b = Dense(16)(x);
                let c = add([a, b]);
                Model(x, c);
            }
        })
        .unwrap_err();
        assert!(errs[0].contains("`add` needs inputs of equal width: `a` has 32 features, `b` has 16"), "{errs:?}");
    }

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
    fn compile_rules() {
        let errs = run(quote! {
            pub struct Bad {
                let x = Input(8);
                let a = Dense(1, name = "age")(x);
                let b = Dense(3, activation = softmax)(x);
                Model(x, [a, b]);
                compile(loss = { age: categorical_crossentropy, dense: mse, agee: mse }, loss_weights = [1.0], metrics = [acuracy]);
            }
        })
        .unwrap_err()
        .join("\n");
        assert!(errs.contains("`categorical_crossentropy` needs an output with at least 2 classes"), "{errs}");
        assert!(errs.contains("`loss` names `agee`, which is not an output of the model; did you mean `age`?"), "{errs}");
        assert!(errs.contains("`loss_weights` lists 1 value but the model has 2 outputs"), "{errs}");
        assert!(errs.contains("unknown metric `acuracy`; did you mean `accuracy`?"), "{errs}");
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("Dens", ["Dense", "Dropout"]), "; did you mean `Dense`?");
        assert_eq!(suggest("zzzzzz", ["Dense"]), "");
    }
}
