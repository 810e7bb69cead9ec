//! Turns the AST into the checked [`Graph`]: resolves names, infers every
//! width, and enforces the graph rules. Errors are gathered in a [`Ctx`] and
//! reported together; checking goes on after an error wherever it can.

use crate::ir::*;
use crate::parse::{Arg, Expr, NetworkDef, Stmt};
use proc_macro2::Span;
use std::collections::HashMap;
use syn::ext::IdentExt;
use syn::Ident;

/// Collected errors.
#[derive(Default)]
pub struct Ctx {
    errors: Vec<syn::Error>,
}

impl Ctx {
    pub fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.errors.push(syn::Error::new(span, message));
    }

    /// An error on the whole of `expr`: both tokens of `-0.5`.
    pub fn error_expr(&mut self, expr: &Expr, message: impl std::fmt::Display) {
        let (start, end) = (expr.span(), expr.end_span());
        let mut first = proc_macro2::Punct::new('-', proc_macro2::Spacing::Alone);
        first.set_span(start);
        let last = proc_macro2::Ident::new("x", end);
        let tokens: proc_macro2::TokenStream =
            [proc_macro2::TokenTree::Punct(first), proc_macro2::TokenTree::Ident(last)].into_iter().collect();
        self.errors.push(syn::Error::new_spanned(tokens, message));
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// All errors combined into one, in source order (each with its notes).
    pub fn into_error(mut self) -> Option<syn::Error> {
        self.errors.sort_by_key(|e| {
            let at = e.span().start();
            (at.line, at.column)
        });
        let mut iter = self.errors.into_iter();
        let mut first = iter.next()?;
        for e in iter {
            first.combine(e);
        }
        Some(first)
    }

    #[cfg(test)]
    pub fn messages(&self) -> Vec<String> {
        self.errors.iter().flat_map(|e| e.clone().into_iter().map(|m| m.to_string())).collect()
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
    base: &'static str,
    name: Option<(String, Span)>,
    span: Span,
    callee_name: String,
    op: Option<Op>,
    /// For merges: the axis/axes check already done.
    merge: Option<MergeKind>,
    /// The token that sets the layer's own width (`Dense`'s units).
    width_span: Option<Span>,
    /// Whether the layer is named before its inputs are evaluated: Python
    /// builds `Dense(4)` before evaluating the tensor it is called on, but a
    /// merge function after its list.
    name_first: bool,
}

/// What a `let` name stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Binding {
    Tensor(usize),
    /// A `let` whose value had an error, already reported: uses of the name
    /// report nothing more.
    Broken,
}

struct Checker<'a> {
    ctx: &'a mut Ctx,
    nodes: Vec<Node>,
    /// For each node: the token that fixed its width, and how.
    origins: Vec<(Span, &'static str)>,
    scope: HashMap<String, Binding>,
    /// Every `let` of the network: name, span of the name, statement index.
    lets: Vec<(String, Span, usize)>,
    /// Index of the statement being checked.
    stmt: usize,
    counters: HashMap<&'static str, usize>,
    names: HashMap<String, Span>,
    /// The name span of each `let … = Input(…)`, for "defined twice".
    input_lets: HashMap<String, Span>,
    /// The `name = "…"` of `let`s that had errors, by variable, so the
    /// placeholder still has the head's field.
    broken_names: HashMap<String, String>,
    /// A statement had an error, so rules about the whole graph (inputs no
    /// output uses) would report its consequences rather than mistakes.
    incomplete: bool,
    /// The layer name the current `let` gave its node, set even when the
    /// node then fails.
    attempted_name: Option<String>,
}

/// What is known of a network's generated API even when it has errors, so
/// the placeholder emitted after an error matches the calls in user code.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Interface {
    /// `Model`'s inputs in order, each with its width when known; `None`
    /// when `Model` could not be read.
    pub inputs: Option<Vec<Option<usize>>>,
    /// `Model`'s outputs in order; `None` when `Model` could not be read.
    pub heads: Option<Vec<HeadSig>>,
}

/// One output as far as it is known.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeadSig {
    /// The head's field name (its layer's name).
    pub name: Option<String>,
    pub width: Option<usize>,
    /// The width of its training target.
    pub target: Option<usize>,
}

/// A network that failed to check: every error found, and what is known of
/// its interface.
pub struct Failure {
    pub error: syn::Error,
    pub iface: Interface,
}

/// Checks a parsed network; on failure returns every error found, the
/// syntax errors of skipped statements first.
pub fn check(def: &NetworkDef) -> Result<Graph, Failure> {
    let mut ctx = Ctx::default();
    ctx.errors.extend(def.syntax_errors.iter().cloned());
    let checked = check_with(def, &mut ctx);
    match (ctx.into_error(), checked.graph) {
        (None, Some(g)) => Ok(g),
        (Some(error), _) => Err(Failure { error, iface: checked.iface }),
        (None, None) => Err(Failure {
            error: syn::Error::new(def.name.span(), "the network could not be checked"),
            iface: checked.iface,
        }),
    }
}

/// The result of [`check_with`].
pub struct Checked {
    /// The graph, when no error was found.
    pub graph: Option<Graph>,
    pub iface: Interface,
}

/// The callee of a statement or `let` value that is a call: `Model` in
/// `Model(x, y)`, `Dense` in `Dense(3)(x)`, without reporting anything.
fn quiet_callee(expr: &Expr) -> Option<&Ident> {
    let Expr::Call { func, .. } = expr else { return None };
    match &**func {
        Expr::Ident(i) => Some(i),
        Expr::Path(p) => p.last(),
        inner @ Expr::Call { .. } => quiet_callee(inner),
        _ => None,
    }
}

/// The `name = "…"` a layer call gives itself, read without checking.
fn quiet_layer_name(expr: &Expr) -> Option<String> {
    let Expr::Call { func, args, .. } = expr else { return None };
    let from = |args: &[Arg]| {
        args.iter().find_map(|a| match (&a.name, &a.value) {
            (Some(n), Expr::Str(s)) if n == "name" => Some(s.value()),
            _ => None,
        })
    };
    match &**func {
        Expr::Call { args: inner, .. } => from(inner),
        _ => from(args),
    }
}

/// Checks into `ctx`; returns the graph when no error was found.
pub fn check_with(def: &NetworkDef, ctx: &mut Ctx) -> Checked {
    let lets = def
        .stmts
        .iter()
        .enumerate()
        .filter_map(|(k, s)| match s {
            Stmt::Let { name, .. } | Stmt::Broken { let_name: Some(name), .. } => {
                Some((name.unraw().to_string(), name.span(), k))
            }
            _ => None,
        })
        .collect();
    let mut ck = Checker {
        ctx,
        nodes: Vec::new(),
        origins: Vec::new(),
        scope: HashMap::new(),
        lets,
        stmt: 0,
        counters: HashMap::new(),
        names: HashMap::new(),
        input_lets: HashMap::new(),
        broken_names: HashMap::new(),
        incomplete: false,
        attempted_name: None,
    };
    let mut model: Option<(&Expr, Span, usize)> = None;
    let mut model_broken: Option<Expr> = None;
    let mut compile: Option<(&Expr, Span)> = None;
    let mut weights: Option<(&Expr, Span)> = None;
    for (k, stmt) in def.stmts.iter().enumerate() {
        ck.stmt = k;
        match stmt {
            Stmt::Let { name, value } => {
                if let Some(callee) = quiet_callee(value).filter(|c| *c == "Model" || *c == "Functional") {
                    ck.ctx.error(
                        callee.span(),
                        format!("`{callee}(…)` is a statement of its own: write `{callee}(inputs, outputs);` without `let {name} =`"),
                    );
                    ck.model_stmt(&mut model, value, callee.span(), k);
                    continue;
                }
                ck.let_stmt(name, value);
            }
            Stmt::Broken { let_name, head, tokens } => {
                ck.incomplete = true;
                if let Some(n) = let_name {
                    ck.scope.insert(n.unraw().to_string(), Binding::Broken);
                } else if head.as_ref().is_some_and(|h| h == "Model" || h == "Functional") {
                    model_broken = crate::parse::lenient_call(tokens.clone()).or(model_broken);
                    if model_broken.is_none() {
                        model_broken = Some(Expr::List(Vec::new(), Span::call_site()));
                    }
                }
            }
            Stmt::Expr(expr) => {
                let func = match expr {
                    Expr::Call { func, .. } => Some(&**func),
                    _ => None,
                };
                // `model.compile(…)`, pasted from Keras
                if let Some(Expr::Path(segs)) = func {
                    if segs.len() == 2 && !["keras", "layers", "models"].contains(&segs[0].to_string().as_str()) {
                        let (recv, method) = (&segs[0], &segs[1]);
                        if method == "compile" {
                            ck.ctx.error(
                                recv.span(),
                                format!("`compile` is a statement of its own: write `compile(…);` without `{recv}.`"),
                            );
                            ck.compile_stmt(&mut compile, expr, method.span());
                        } else {
                            ck.ctx.error(
                                method.span(),
                                format!("`{recv}.{method}(…)` is not part of a network: call `{method}` on the generated struct in Rust code"),
                            );
                        }
                        continue;
                    }
                }
                let callee = func.and_then(|f| callee_name(ck.ctx, f));
                match callee.as_ref().map(|(n, s)| (n.as_str(), *s)) {
                    Some(("Model" | "Functional", span)) => ck.model_stmt(&mut model, expr, span, k),
                    Some(("compile", span)) => ck.compile_stmt(&mut compile, expr, span),
                    Some(("weights", span)) => {
                        if let Some((_, first)) = weights {
                            let mut e = syn::Error::new(span, "`weights` is given twice: a network bakes in one file");
                            e.combine(syn::Error::new(first, "the first `weights` is here"));
                            ck.ctx.errors.push(e);
                        } else {
                            weights = Some((expr, span));
                        }
                    }
                    Some((other, span)) if lookup_callee(other).is_some() => {
                        ck.ctx.error(
                            span,
                            format!(
                                "the tensor this `{other}` makes is never used: bind it with `let name = {other}(…);`"
                            ),
                        );
                    }
                    Some((other, span)) => {
                        let hint = suggest(other, ["Model", "compile"]);
                        ck.ctx.error(
                            span,
                            format!("expected `let name = …;`, `Model(…);` or `compile(…);`, found a call of `{other}`{hint}"),
                        );
                    }
                    None if func.is_some() => {}
                    None => ck.ctx.error(
                        expr.span(),
                        format!("expected `let name = …;`, `Model(…);` or `compile(…);`, found {}", expr.describe()),
                    ),
                }
            }
        }
    }
    let Some((model_expr, model_span, _)) = model else {
        let iface = match &model_broken {
            // a `Model(…)` with a syntax error: read what it can of it
            Some(broken) => ck.interface_guess(broken),
            None => {
                ck.ctx.error(
                    def.close_span,
                    "missing `Model(inputs, outputs)`: it names the network's inputs and outputs",
                );
                Interface::default()
            }
        };
        compile_without_graph(ck.ctx, compile.map(|c| c.0));
        return Checked { graph: None, iface };
    };
    let guess = ck.interface_guess(model_expr);
    let Some((inputs, outputs, title)) = ck.model(model_expr, model_span) else {
        compile_without_graph(ck.ctx, compile.map(|c| c.0));
        return Checked { graph: None, iface: guess };
    };
    let struct_name = def.name.to_string();
    let graph = ck.prune(inputs, outputs, title.unwrap_or_else(|| struct_name.clone()));
    let origins: Origins = ck.nodes.iter().zip(&ck.origins).map(|(n, o)| (n.name.clone(), *o)).collect();
    let graph = finish_compile(ck.ctx, graph, compile.map(|c| c.0), &origins);
    let graph = finish_weights(ck.ctx, graph, weights);
    ck.check_generated_names(&graph, &struct_name);
    let iface = Interface {
        inputs: Some(graph.inputs.iter().map(|&i| Some(graph.nodes[i].width)).collect()),
        heads: Some(
            graph
                .heads
                .iter()
                .map(|h| {
                    let node = &graph.nodes[h.node];
                    HeadSig {
                        name: Some(node.name.clone()),
                        width: Some(node.width),
                        target: h.loss.map(|l| target_width(l, node.width)),
                    }
                })
                .collect(),
        ),
    };
    let graph = (!ck.ctx.has_errors()).then_some(graph);
    Checked { graph, iface }
}

/// The width of a head's training target.
fn target_width(loss: LossKind, width: usize) -> usize {
    match loss {
        LossKind::SparseCategorical { .. } => 1,
        _ => width,
    }
}

/// `1 feature`, `32 features`.
fn features(n: usize) -> String {
    if n == 1 {
        "1 feature".to_string()
    } else {
        format!("{n} features")
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
                    ctx.error(
                        seg.span(),
                        format!("unknown module `{s}`: only the prefixes `keras.` and `layers.` are accepted"),
                    );
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
fn bind<'e>(
    ctx: &mut Ctx,
    what: &str,
    args: &'e [Arg],
    positional: &[&'static str],
    keywords: &[&'static str],
) -> HashMap<&'static str, &'e Expr> {
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
                    ctx.error(
                        arg.value.span(),
                        format!("`{what}` takes {takes}; name the others, as in `name = value`"),
                    );
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

/// A finite number; `None` for anything else, `1e999` included.
fn number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Int(i) => i.base10_parse::<f64>().ok().filter(|v| v.is_finite()),
        Expr::Float(f) => f.base10_parse::<f64>().ok().filter(|v| v.is_finite()),
        Expr::Neg(_, inner) => number(inner).map(|v| -v),
        _ => None,
    }
}

/// What a value that is not a usable number is, for "found …": the literal
/// itself when it is one (too large, say), else its kind.
fn not_a_number(expr: &Expr) -> String {
    match expr {
        Expr::Int(i) => format!("`{i}`"),
        Expr::Float(f) => format!("`{f}`"),
        Expr::Neg(_, inner) => format!("`-{}`", not_a_number(inner).trim_matches('`')),
        other => other.describe().to_string(),
    }
}

fn integer(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Int(i) => i.base10_parse::<i64>().ok(),
        Expr::Neg(_, inner) => integer(inner).map(|v| -v),
        _ => None,
    }
}

fn get_f64(
    ctx: &mut Ctx,
    args: &HashMap<&str, &Expr>,
    key: &str,
    default: f64,
    valid: impl Fn(f64) -> bool,
    range: &str,
) -> f64 {
    match args.get(key) {
        None => default,
        Some(e) => match number(e) {
            Some(v) if valid(v) => v,
            Some(v) => {
                ctx.error_expr(e, format!("`{key}` must be {range}, found {v}"));
                default
            }
            None => {
                ctx.error_expr(e, format!("`{key}` must be a finite number, found {}", not_a_number(e)));
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
            None => ctx.error_expr(e, format!("`{key}` must be an integer, found {}", e.describe())),
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
            ctx.error(
                other.span(),
                format!("expected an activation such as `relu` or \"relu\", found {}", other.describe()),
            );
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
    first_ok
        && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
        && !matches!(name, "_" | "self" | "Self" | "super" | "crate")
}

impl Checker<'_> {
    fn model_stmt<'e>(&mut self, model: &mut Option<(&'e Expr, Span, usize)>, expr: &'e Expr, span: Span, k: usize) {
        if let Some((_, first, _)) = model {
            let mut e =
                syn::Error::new(span, "`Model` is given twice: a network has exactly one `Model(inputs, outputs)`");
            e.combine(syn::Error::new(*first, "the first `Model` is here"));
            self.ctx.errors.push(e);
        } else {
            *model = Some((expr, span, k));
        }
    }

    fn compile_stmt<'e>(&mut self, compile: &mut Option<(&'e Expr, Span)>, expr: &'e Expr, span: Span) {
        if let Some((_, first)) = compile {
            let mut e = syn::Error::new(span, "`compile` is given twice: a network has at most one `compile(…)`");
            e.combine(syn::Error::new(*first, "the first `compile` is here"));
            self.ctx.errors.push(e);
        } else {
            *compile = Some((expr, span));
        }
    }

    /// `let name = value;`
    fn let_stmt(&mut self, name: &Ident, value: &Expr) {
        let var = name.unraw().to_string();
        let mut bad_name = true;
        match var.as_str() {
            "_" => self.ctx.error(name.span(), "`let _` would throw the tensor away: give it a name"),
            "self" | "Self" | "super" | "crate" => {
                self.ctx.error(name.span(), format!("`{var}` is a Rust keyword and cannot name a tensor"))
            }
            v if v.starts_with("__sn") => {
                self.ctx.error(name.span(), "names starting with `__sn` are reserved for the generated code")
            }
            _ => bad_name = false,
        }
        self.attempted_name = None;
        let id = match value {
            Expr::Int(_) | Expr::Float(_) | Expr::Neg(..) | Expr::Str(_) | Expr::Bool(_) => {
                let text = match value {
                    Expr::Str(l) => format!("{}", l.token()),
                    Expr::Bool(b) => b.value.to_string(),
                    other => not_a_number(other).trim_matches('`').to_string(),
                };
                self.ctx.error_expr(
                    value,
                    format!("`let` binds a tensor, found {}: `network!` has no constants, so write `{text}` where `{var}` is used", value.describe()),
                );
                None
            }
            Expr::Ident(i)
                if !self.scope.contains_key(&i.unraw().to_string()) && known_name(&i.unraw().to_string()).is_some() =>
            {
                let n = i.unraw().to_string();
                let kind = known_name(&n).unwrap_or("name");
                self.ctx.error(
                    i.span(),
                    format!("`let` binds a tensor, found the {kind} `{n}`: write `{n}` where `{var}` is used"),
                );
                None
            }
            Expr::Map(..) => {
                self.ctx.error(value.span(), "`let` binds a tensor, found a map: maps are written inside `compile(…)`");
                None
            }
            Expr::List(..) | Expr::Tuple(..) => {
                self.ctx.error(
                    value.span(),
                    format!("`let` binds one tensor, found {}: write the list where it is used, as in `concatenate([a, b])`", value.describe()),
                );
                None
            }
            _ => self.tensor_expr(value, &var),
        };
        if let Some(id) = id {
            if matches!(value, Expr::Call { .. }) && self.nodes[id].op == Op::Input {
                if let Some(first) = self.input_lets.get(&var).copied() {
                    let mut e = syn::Error::new(
                        name.span(),
                        format!("input `{var}` is defined twice: the first `Input` can no longer be named, so it cannot be passed to `Model`"),
                    );
                    e.combine(syn::Error::new(first, format!("the first input `{var}` is defined here")));
                    self.ctx.errors.push(e);
                } else {
                    self.input_lets.insert(var.clone(), name.span());
                }
            }
        }
        match id {
            Some(id) if !bad_name => {
                self.scope.insert(var, Binding::Tensor(id));
            }
            _ => {
                self.incomplete = true;
                if let Some(n) = quiet_layer_name(value).or_else(|| self.attempted_name.take()) {
                    self.broken_names.insert(var.clone(), n);
                }
                self.scope.insert(var, Binding::Broken);
            }
        }
    }

    /// The node a `let` binds.
    fn tensor_expr(&mut self, expr: &Expr, var: &str) -> Option<usize> {
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
                    let mut pending = self.layer(&name, span, layer_args)?;
                    pending.name_first = true;
                    self.apply(pending, args, var)
                } else {
                    let (name, span) = callee_name(self.ctx, func)?;
                    match lookup_callee(&name) {
                        Some(Callee::Input) => self.input(args, span, var),
                        Some(Callee::MergeFn(kind)) => {
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
                            let pending = self.merge_layer(&name, span, rest, kind)?;
                            self.apply(pending, std::slice::from_ref(first), var)
                        }
                        Some(_) => {
                            self.ctx.error(
                                span,
                                format!("`{name}(…)` makes a layer: call it on its input where it is made, as in `{name}(…)(x)` (shared layers are not supported)"),
                            );
                            None
                        }
                        None => {
                            if let ([Arg { name: None, value: Expr::Ident(x) }], true) =
                                (&args[..], ACTIVATIONS.iter().any(|a| a.name == name))
                            {
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
            }
            Expr::Path(segs) => {
                self.ctx.error(
                    expr.span(),
                    format!(
                        "expected a tensor, found the path `{}`",
                        segs.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(".")
                    ),
                );
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

    fn unknown_layer(&mut self, name: &str, span: Span) {
        if matches!(self.scope.get(name), Some(Binding::Tensor(_))) {
            self.ctx.error(span, format!("`{name}` is a tensor, not a layer: a layer is made and called on a tensor, as in `Dense(32)({name})`"));
            return;
        }
        if ACTIVATIONS.iter().any(|a| a.name == name) {
            self.ctx.error(span, format!("`{name}` is an activation, not a layer: write `Activation({name})(x)` or `Dense(…, activation = {name})(x)`"));
            return;
        }
        let hint = suggest(name, CALLEES.iter().map(|(n, _)| *n));
        if hint.is_empty() {
            self.ctx.error(
                span,
                format!("unknown layer `{name}`: staticnet has `Dense`, `Activation`, `Dropout`, `LayerNormalization`, `BatchNormalization` and the merges (`concatenate`, `add`, `subtract`, `multiply`, `average`, `maximum`, `minimum`, `dot`)"),
            );
        } else {
            self.ctx.error(span, format!("unknown layer `{name}`{hint}"));
        }
    }

    fn lookup(&mut self, name: &str, span: Span) -> Option<usize> {
        match self.scope.get(name) {
            Some(Binding::Tensor(id)) => Some(*id),
            Some(Binding::Broken) => None,
            None => {
                let later = self.lets.iter().find(|(n, _, k)| n == name && *k >= self.stmt).map(|(_, s, k)| (*s, *k));
                match later {
                    Some((_, k)) if k == self.stmt => {
                        self.ctx.error(
                            span,
                            format!("`{name}` is used in its own definition: a layer's input must be defined above it"),
                        );
                    }
                    Some((def_span, _)) => {
                        let mut e = syn::Error::new(
                            span,
                            format!("`{name}` is used before it is defined: a layer's input must be defined above it"),
                        );
                        e.combine(syn::Error::new(def_span, format!("`{name}` is defined here, below its use")));
                        self.ctx.errors.push(e);
                    }
                    None if ACTIVATIONS.iter().any(|a| a.name == name) => {
                        self.ctx.error(span, format!("`{name}` is an activation, not a tensor: write `Activation({name})(x)` to apply it to `x`"));
                    }
                    None => {
                        let hint = suggest(name, self.scope.keys().map(|s| s.as_str()));
                        self.ctx.error(span, format!("cannot find tensor `{name}` in this network{hint}"));
                    }
                }
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
                if v.starts_with("__sn") {
                    self.ctx.error(s.span(), "names starting with `__sn` are reserved for the generated code");
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
            let mut e =
                syn::Error::new(span, format!("layer name `{name}` is used twice: Keras needs unique layer names"));
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
        let (width, width_span) = width?;
        self.nodes.push(Node { op: Op::Input, inputs: vec![], width, name, var: var.to_string(), span });
        self.origins.push((width_span, "the width of this `Input`"));
        Some(self.nodes.len() - 1)
    }

    /// An input's width and the token that gives it.
    fn width_of(&mut self, e: &Expr) -> Option<(usize, Span)> {
        match e {
            Expr::Tuple(items, span) | Expr::List(items, span) => {
                if items.len() != 1 {
                    self.ctx.error(
                        *span,
                        format!(
                            "staticnet's inputs are vectors: `shape` must have one dimension, as in `(64,)`, found {} dimensions",
                            items.len()
                        ),
                    );
                    return None;
                }
                self.width_of(&items[0])
            }
            _ => self.positive(e, "an `Input`'s width").map(|w| (w, e.span())),
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
                    self.ctx.error(
                        i.span(),
                        format!("{what} {v} is too large for a fixed-size network (at most {})", 1 << 24),
                    );
                    None
                }
                Ok(v) if !i.suffix().is_empty() => {
                    self.ctx.error(i.span(), format!("{what} is written without a type suffix, as in `{v}`"));
                    None
                }
                Ok(v) => Some(v),
                Err(_) => {
                    self.ctx.error(i.span(), format!("{what} must be a positive integer, found `{i}`"));
                    None
                }
            },
            Expr::Ident(i) if matches!(self.scope.get(&i.unraw().to_string()), Some(Binding::Tensor(_))) => {
                self.ctx.error(i.span(), format!("{what} must be a positive integer, found the tensor `{i}`"));
                None
            }
            // a `let` that had an error, already reported
            Expr::Ident(i) if self.scope.get(&i.unraw().to_string()) == Some(&Binding::Broken) => None,
            other => {
                let found = found_value(other);
                self.ctx.error_expr(other, format!("{what} must be a positive integer, found {found}"));
                None
            }
        }
    }

    /// An activation argument; names a tensor given by mistake.
    fn activation_arg(&mut self, e: &Expr) -> Option<Act> {
        if let Expr::Ident(i) = e {
            let n = i.unraw().to_string();
            if self.scope.get(&n) == Some(&Binding::Broken) && !ACTIVATIONS.iter().any(|a| a.name == n) {
                return None;
            }
            if !ACTIVATIONS.iter().any(|a| a.name == n) && matches!(self.scope.get(&n), Some(Binding::Tensor(_))) {
                self.ctx.error(i.span(), format!("expected an activation such as `relu`, found the tensor `{n}`"));
                return None;
            }
        }
        activation(self.ctx, e)
    }

    /// Reads a layer's constructor arguments.
    fn layer(&mut self, name: &str, span: Span, args: &[Arg]) -> Option<Pending> {
        let Some(callee) = lookup_callee(name) else {
            self.unknown_layer(name, span);
            return None;
        };
        let mut p = Pending {
            name_first: false,
            base: "",
            name: None,
            span,
            callee_name: name.to_string(),
            op: None,
            merge: None,
            width_span: None,
        };
        match callee {
            Callee::Input => {
                self.ctx.error(span, "`Input` is not a layer to call: write `let x = Input(64);`");
                return None;
            }
            Callee::Dense => {
                let a = bind(self.ctx, "Dense", args, &["units", "activation"], &["use_bias", "name"]);
                let units = match a.get("units") {
                    Some(e) => {
                        p.width_span = Some(e.span());
                        self.positive(e, "`units`")
                    }
                    None => {
                        self.ctx.error(span, "`Dense` needs `units`, as in `Dense(32)`");
                        None
                    }
                };
                let act = match a.get("activation") {
                    Some(e) => self.activation_arg(e),
                    None => Some(Act::LINEAR),
                };
                let use_bias = get_bool(self.ctx, &a, "use_bias", true);
                p.base = "dense";
                p.name = self.layer_name(&a);
                // a bad activation (reported) leaves the width known, so the
                // layers below are still checked
                if let Some(units) = units {
                    p.op = Some(Op::Dense { units, activation: act.unwrap_or(Act::LINEAR), use_bias });
                }
            }
            Callee::Activation => {
                let a = bind(self.ctx, "Activation", args, &["activation"], &["name"]);
                p.base = "activation";
                p.name = self.layer_name(&a);
                match a.get("activation") {
                    Some(e) => p.op = Some(Op::Activation(self.activation_arg(e).unwrap_or(Act::LINEAR))),
                    None => self.ctx.error(span, "`Activation` needs an activation, as in `Activation(relu)`"),
                }
            }
            Callee::Dropout => {
                let a = bind(self.ctx, "Dropout", args, &["rate"], &["name", "seed"]);
                p.base = "dropout";
                p.name = self.layer_name(&a);
                if let Some(e) = a.get("seed") {
                    if integer(e).is_none_or(|v| v < 0) {
                        self.ctx
                            .error_expr(e, format!("`seed` must be a non-negative integer, found {}", found_value(e)));
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
                let a =
                    bind(self.ctx, "LayerNormalization", args, &[], &["axis", "epsilon", "center", "scale", "name"]);
                get_axis(self.ctx, &a, "axis", "LayerNormalization");
                for k in ["center", "scale"] {
                    if let Some(e) = a.get(k) {
                        if !get_bool(self.ctx, &a, k, true) {
                            self.ctx.error(
                                e.span(),
                                format!(
                                    "`{k} = false` is not supported: LayerNormalization always has `gamma` and `beta`"
                                ),
                            );
                        }
                    }
                }
                let epsilon = get_f64(self.ctx, &a, "epsilon", 1e-3, |v| v > 0.0, "positive");
                p.base = "layer_normalization";
                p.name = self.layer_name(&a);
                p.op = Some(Op::LayerNorm { epsilon });
            }
            Callee::BatchNorm => {
                let a = bind(
                    self.ctx,
                    "BatchNormalization",
                    args,
                    &[],
                    &["axis", "momentum", "epsilon", "center", "scale", "name"],
                );
                get_axis(self.ctx, &a, "axis", "BatchNormalization");
                for k in ["center", "scale"] {
                    if let Some(e) = a.get(k) {
                        if !get_bool(self.ctx, &a, k, true) {
                            self.ctx.error(
                                e.span(),
                                format!(
                                    "`{k} = false` is not supported: BatchNormalization always has `gamma` and `beta`"
                                ),
                            );
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
                self.ctx.error(
                    span,
                    format!("`{name}` is a function: call it on a list of tensors, as in `{name}([a, b])`"),
                );
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
                        Expr::Tuple(items, _) | Expr::List(items, _) => {
                            items.len() == 2 && items.iter().all(|i| matches!(integer(i), Some(1) | Some(-1)))
                        }
                        other => matches!(integer(other), Some(1) | Some(-1)),
                    };
                    if !ok {
                        self.ctx.error_expr(
                            e,
                            format!("`{name}` multiplies feature vectors: `axes` must be 1, -1 or a pair of them, found {} (axis 0 is the batch)", found_value(e)),
                        );
                    }
                }
                Op::Dot { normalize: false }
            }
        };
        if let Op::Dot { normalize } = &mut op {
            *normalize = get_bool(self.ctx, &a, "normalize", false);
        }
        let lname = self.layer_name(&a);
        Some(Pending {
            name_first: false,
            base: merge_base(kind),
            name: lname,
            span,
            callee_name: name.to_string(),
            op: Some(op),
            merge: Some(kind),
            width_span: None,
        })
    }

    /// The layer's Keras name (given or automatic), registered as used.
    fn name_layer(&mut self, p: &mut Pending) -> String {
        let (name, name_span) = match p.name.take() {
            Some(n) => n,
            None => (self.auto_name(p.base), p.span),
        };
        self.register_name(&name, name_span);
        name
    }

    /// Calls a built layer on its tensor arguments and adds the node.
    fn apply(&mut self, mut p: Pending, args: &[Arg], var: &str) -> Option<usize> {
        let what = p.callee_name.clone();
        let early_name = if p.name_first { Some(self.name_layer(&mut p)) } else { None };
        if let Some(arg) = args.iter().find(|a| a.name.is_some()) {
            let n = arg.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
            self.ctx.error(
                arg.name.as_ref().map_or(p.span, |n| n.span()),
                format!("a layer is called on its input only; `{n}` is not supported here"),
            );
        }
        let inputs: Option<Vec<(usize, Span, String)>> = if p.merge.is_some() {
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
                            other => self
                                .ctx
                                .error(other.span(), format!("expected a tensor name, found {}", other.describe())),
                        }
                    }
                    (v.len() == items.len()).then_some(v)
                }
                [Arg { name: None, value: Expr::Ident(i) }] => {
                    self.ctx.error(i.span(), format!("`{what}` merges a list of tensors: write `[{i}, …]`"));
                    None
                }
                _ => {
                    self.ctx.error(p.span, format!("`{what}` merges a list of tensors, as in `{what}([a, b])`"));
                    None
                }
            }
        } else {
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
                    self.ctx.error(p.span, format!("`{what}(…)` must be called on a tensor, as in `{what}(…)(x)`"));
                    None
                }
                [one] => {
                    self.ctx.error(one.value.span(), format!("expected a tensor name, found {}", one.value.describe()));
                    None
                }
                [_, second, ..] => {
                    self.ctx.error(
                        second.value.span(),
                        format!(
                            "`{what}` takes one tensor; to combine several, use a merge such as `concatenate([a, b])`"
                        ),
                    );
                    None
                }
            }
        };
        let name = match early_name {
            Some(n) => n,
            None => self.name_layer(&mut p),
        };
        self.attempted_name = Some(name.clone());
        let inputs = inputs?;
        let op = p.op?;
        let widths: Vec<usize> = inputs.iter().map(|(id, _, _)| self.nodes[*id].width).collect();
        let (width, origin) = match &op {
            Op::Dense { units, .. } => (*units, (p.width_span.unwrap_or(p.span), "the units of this `Dense`")),
            Op::Input => return None,
            Op::Activation(_) | Op::Dropout { .. } | Op::LayerNorm { .. } | Op::BatchNorm { .. } => {
                (widths[0], self.origins[inputs[0].0])
            }
            Op::Merge(_) | Op::Concatenate | Op::Dot { .. } => {
                let exact = matches!(op, Op::Merge(MergeOp::Subtract) | Op::Dot { .. });
                if inputs.len() < 2 || (exact && inputs.len() != 2) {
                    let need = if exact { "exactly 2 tensors" } else { "at least 2 tensors" };
                    let list = inputs.iter().map(|(_, _, n)| format!("`{n}`")).collect::<Vec<_>>().join(", ");
                    let found = match inputs.len() {
                        0 => "found none".to_string(),
                        1 => format!("found 1 ({list})"),
                        n => format!("found {n} ({list})"),
                    };
                    self.ctx.error(p.span, format!("`{what}` needs {need}, {found}"));
                    return None;
                }
                if op == Op::Concatenate {
                    (widths.iter().sum(), (p.span, "this `concatenate`, the sum of its inputs"))
                } else {
                    let first = widths[0];
                    if let Some(k) = (1..inputs.len()).find(|&k| widths[k] != first) {
                        let (id0, _, n0) = &inputs[0];
                        let (idk, _, nk) = &inputs[k];
                        let mut e = syn::Error::new(
                            p.span,
                            format!(
                                "`{what}` needs inputs of equal width: `{n0}` has {}, `{nk}` has {}",
                                features(first),
                                widths[k]
                            ),
                        );
                        let (s0, how0) = self.origins[*id0];
                        let (sk, howk) = self.origins[*idk];
                        e.combine(syn::Error::new(s0, format!("`{n0}` has {} from {how0}", features(first))));
                        e.combine(syn::Error::new(sk, format!("`{nk}` has {} from {howk}", features(widths[k]))));
                        self.ctx.errors.push(e);
                        return None;
                    }
                    if matches!(op, Op::Dot { .. }) {
                        (1, (p.span, "this `dot`"))
                    } else {
                        (first, self.origins[inputs[0].0])
                    }
                }
            }
        };
        self.nodes.push(Node {
            op,
            inputs: inputs.iter().map(|i| i.0).collect(),
            width,
            name,
            var: var.to_string(),
            span: p.span,
        });
        self.origins.push(origin);
        Some(self.nodes.len() - 1)
    }

    /// Reads `Model`'s inputs and outputs without reporting anything, for the
    /// placeholder's interface.
    fn interface_guess(&self, expr: &Expr) -> Interface {
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
            inputs: inputs
                .map(|e| items(e).iter().map(|it| node(it).filter(|n| n.op == Op::Input).map(|n| n.width)).collect()),
            heads: outputs.map(|e| {
                items(e)
                    .iter()
                    .map(|it| match node(it) {
                        Some(n) => HeadSig { name: Some(n.name.clone()), width: Some(n.width), target: None },
                        None => HeadSig {
                            name: var(it).map(|v| self.broken_names.get(&v).cloned().unwrap_or(v)),
                            width: None,
                            target: None,
                        },
                    })
                    .collect()
            }),
        }
    }

    /// Reads `Model(inputs, outputs)`.
    #[allow(clippy::type_complexity)]
    fn model(&mut self, expr: &Expr, span: Span) -> Option<(Vec<(usize, Span)>, Vec<(usize, Span)>, Option<String>)> {
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
                                if let Some((_, first)) = out.iter().find(|(o, _)| *o == id) {
                                    let mut e = syn::Error::new(i.span(), format!("`{n}` is listed twice in `{key}`"));
                                    e.combine(syn::Error::new(*first, format!("`{n}` is first listed here")));
                                    self.ctx.errors.push(e);
                                    ok = false;
                                }
                                out.push((id, i.span()));
                            }
                            None => ok = false,
                        }
                    }
                    other => {
                        self.ctx.error(
                            other.span(),
                            format!("expected a tensor name in `{key}`, found {}", other.describe()),
                        );
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
                let mut e = syn::Error::new(
                    s,
                    format!("`{}` is not an `Input`: `Model`'s inputs must be made by `Input(…)`", self.nodes[id].var),
                );
                e.combine(syn::Error::new(
                    self.nodes[id].span,
                    format!("`{}` is made by this `{}`", self.nodes[id].var, self.nodes[id].op.class()),
                ));
                self.ctx.errors.push(e);
                ok = false;
            }
        }
        for &(id, s) in &outputs {
            if self.nodes[id].op == Op::Input {
                self.ctx.error(
                    s,
                    format!("output `{}` is an `Input`: an output must be computed by a layer", self.nodes[id].var),
                );
                ok = false;
            }
        }
        ok.then_some((inputs, outputs, title))
    }

    /// Keeps the nodes the outputs depend on and checks connectivity. The
    /// graph is built even after an error, so `compile` is still checked.
    fn prune(&mut self, inputs: Vec<(usize, Span)>, outputs: Vec<(usize, Span)>, title: String) -> Graph {
        let n = self.nodes.len();
        let mut needed = vec![false; n];
        for &(out, out_span) in &outputs {
            let mut stack = vec![out];
            let mut seen = vec![false; n];
            let mut reported = Vec::new();
            while let Some(k) = stack.pop() {
                if seen[k] {
                    continue;
                }
                seen[k] = true;
                needed[k] = true;
                if self.nodes[k].op == Op::Input && !inputs.iter().any(|(i, _)| *i == k) && !reported.contains(&k) {
                    reported.push(k);
                    let mut e = syn::Error::new(
                        out_span,
                        format!(
                            "graph disconnected: output `{}` depends on input `{}`, which is not among `Model`'s inputs",
                            self.nodes[out].var, self.nodes[k].var
                        ),
                    );
                    e.combine(syn::Error::new(
                        self.nodes[k].span,
                        format!("input `{}` is defined here; add it to `Model`'s inputs", self.nodes[k].var),
                    ));
                    self.ctx.errors.push(e);
                }
                stack.extend(self.nodes[k].inputs.iter().copied());
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
        Graph {
            nodes,
            inputs: inputs.iter().filter(|(i, _)| needed[*i]).map(|(i, _)| remap[*i]).collect(),
            heads: outputs
                .iter()
                .map(|(o, _)| Head { node: remap[*o], loss: None, weight: 1.0, metrics: Vec::new() })
                .collect(),
            optimizer: OptimizerSpec { kind: "RmsProp", settings: Vec::new() },
            title,
            pretrained: None,
        }
    }

    /// The span of the `let` that last bound `var`.
    fn let_span(&self, var: &str) -> Option<Span> {
        self.lets.iter().rev().find(|(n, _, _)| n == var).map(|(_, s, _)| *s)
    }

    /// Names the generated code would use twice.
    fn check_generated_names(&mut self, g: &Graph, struct_name: &str) {
        let trainable = g.trainable();
        let heads: Vec<&str> = g.heads.iter().map(|h| g.nodes[h.node].name.as_str()).collect();
        for &i in &g.inputs {
            let node = &g.nodes[i];
            let var = node.var.clone();
            let span = self.let_span(&var).unwrap_or(node.span);
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
        if heads.contains(&"total") {
            let span = self.names.get("total").copied().unwrap_or_else(Span::call_site);
            self.ctx.error(
                span,
                format!("an output cannot be named `total`: the generated `{struct_name}Losses` has a field `total` for the weighted sum of the losses"),
            );
        }
    }
}

/// What a bare name that is not a tensor is, if the language knows it.
fn known_name(n: &str) -> Option<&'static str> {
    if ACTIVATIONS.iter().any(|a| a.name == n) {
        Some("activation")
    } else if LOSSES.iter().any(|(l, _)| *l == n) {
        Some("loss")
    } else if OPTIMIZERS.iter().any(|(o, _)| *o == n.to_lowercase()) {
        Some("optimizer")
    } else if METRICS.contains(&n) {
        Some("metric")
    } else {
        None
    }
}

/// The value of an expression for "found …" messages.
fn found_value(e: &Expr) -> String {
    match number(e) {
        Some(v) => format!("`{v}`"),
        None => not_a_number(e),
    }
}

/// Checks what `compile` can check without the model's outputs, after
/// `Model` had an error: argument, loss, optimizer and metric names.
fn compile_without_graph(ctx: &mut Ctx, compile: Option<&Expr>) {
    let Some(Expr::Call { args, .. }) = compile else { return };
    let a = compile_args(ctx, args);
    let flat = |e: &'_ Expr| -> Vec<Expr> {
        match e {
            Expr::List(items, _) => items.clone(),
            Expr::Map(entries, _) => entries.iter().map(|(_, v)| v.clone()).collect(),
            other => vec![other.clone()],
        }
    };
    if let Some(e) = a.get("optimizer") {
        optimizer_of(ctx, e);
    }
    if let Some(e) = a.get("loss") {
        for item in flat(e) {
            loss_of(ctx, &item);
        }
    }
    if let Some(e) = a.get("metrics") {
        for item in flat(e) {
            metrics_of(ctx, &item);
        }
    }
    if let Some(e) = a.get("loss_weights") {
        for item in flat(e) {
            loss_weight(ctx, &item);
        }
    }
}

/// A loss weight: a non-negative number.
fn loss_weight(ctx: &mut Ctx, item: &Expr) -> Option<f64> {
    match number(item) {
        Some(v) if v >= 0.0 && v.is_finite() => Some(v),
        Some(v) => {
            ctx.error_expr(item, format!("a loss weight must be a non-negative number, found {v}"));
            None
        }
        None => {
            ctx.error_expr(item, format!("a loss weight must be a finite number, found {}", not_a_number(item)));
            None
        }
    }
}

/// Binds `compile`'s arguments and reports the Keras ones staticnet lacks.
fn compile_args<'e>(ctx: &mut Ctx, args: &'e [Arg]) -> HashMap<&'static str, &'e Expr> {
    let a = bind(
        ctx,
        "compile",
        args,
        &["optimizer", "loss"],
        &["loss_weights", "metrics", "weighted_metrics", "run_eagerly", "jit_compile"],
    );
    for k in ["weighted_metrics", "run_eagerly", "jit_compile"] {
        if let Some(e) = a.get(k) {
            ctx.error(e.span(), format!("`{k}` is not supported by staticnet's `compile`"));
        }
    }
    a
}

fn lookup_callee(name: &str) -> Option<Callee> {
    CALLEES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// Per-head values of a `compile` argument: one for all, a list in output
/// order, or a map keyed by head name. Values that match no head (a list of
/// the wrong length, an unknown key) come back second, to be checked alone.
fn per_head<'e>(ctx: &mut Ctx, graph: &Graph, key: &str, expr: &'e Expr) -> (Vec<Option<&'e Expr>>, Vec<&'e Expr>) {
    let heads: Vec<&str> = graph.heads.iter().map(|h| graph.nodes[h.node].name.as_str()).collect();
    let plural = |n: usize, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
    let listed = heads.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ");
    match expr {
        Expr::List(items, span) => {
            if items.len() != heads.len() {
                ctx.error(
                    *span,
                    format!(
                        "`{key}` lists {} but the model has {} ({listed})",
                        plural(items.len(), "value", "values"),
                        plural(heads.len(), "output", "outputs"),
                    ),
                );
                return (vec![None; heads.len()], items.iter().collect());
            }
            (items.iter().map(Some).collect(), Vec::new())
        }
        Expr::Map(entries, _) => {
            let mut out: Vec<Option<&Expr>> = vec![None; heads.len()];
            let mut firsts: Vec<Option<Span>> = vec![None; heads.len()];
            let mut rest = Vec::new();
            for (k, v) in entries {
                let name = k.text();
                match heads.iter().position(|h| *h == name) {
                    Some(i) => {
                        if let Some(first) = firsts[i] {
                            let mut e = syn::Error::new(k.span(), format!("output `{name}` appears twice in `{key}`"));
                            e.combine(syn::Error::new(first, format!("`{name}` first appears here")));
                            ctx.errors.push(e);
                            rest.push(v);
                        } else {
                            out[i] = Some(v);
                            firsts[i] = Some(k.span());
                        }
                    }
                    None => {
                        let hint = suggest(&name, heads.iter().copied());
                        let hint = if hint.is_empty() { format!(" ({listed})") } else { hint };
                        ctx.error(
                            k.span(),
                            format!("`{key}` names `{name}`, which is not an output of the model{hint}"),
                        );
                        rest.push(v);
                    }
                }
            }
            (out, rest)
        }
        single => (vec![Some(single); heads.len()], Vec::new()),
    }
}

/// A name, its span, and the arguments when it was called.
type Named<'e> = (String, Span, Option<&'e Vec<Arg>>);

/// A name given as an identifier, a string, a path, or a call with
/// arguments (`mse`, `"mse"`, `keras.losses.mse`, `Huber(delta = 1.0)`):
/// the name, its span and the call's arguments. `Err` for any other form,
/// for the caller to report; `Ok(None)` when the callee was already reported.
fn named<'e>(ctx: &mut Ctx, expr: &'e Expr) -> Result<Option<Named<'e>>, &'e Expr> {
    Ok(match expr {
        Expr::Ident(i) => Some((i.unraw().to_string(), i.span(), None)),
        Expr::Str(s) => Some((s.value(), s.span(), None)),
        Expr::Path(_) => callee_name(ctx, expr).map(|(n, s)| (n, s, None)),
        Expr::Call { func, args, .. } => callee_name(ctx, func).map(|(n, s)| (n, s, Some(args))),
        other => return Err(other),
    })
}

fn loss_of(ctx: &mut Ctx, expr: &Expr) -> Option<LossKind> {
    let (name, span, args) = match named(ctx, expr) {
        Ok(found) => found?,
        Err(Expr::List(..) | Expr::Map(..)) => {
            ctx.error(
                expr.span(),
                "mixed `loss` forms: give one loss, a list of losses, or a map `{ head: loss }`, not a nesting of them",
            );
            return None;
        }
        Err(other) => {
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
            LossKind::Categorical { from_logits }
            | LossKind::SparseCategorical { from_logits }
            | LossKind::Binary { from_logits } => *from_logits = logits,
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
                ctx.error_expr(e, "only `delta = 1.0` (Keras's default) is supported for `Huber`");
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
    let (name, span, args) = match named(ctx, expr) {
        Ok(found) => found?,
        Err(other) => {
            ctx.error(
                other.span(),
                format!(
                    "expected an optimizer such as `rmsprop` or `Adam(learning_rate = 0.01)`, found {}",
                    other.describe()
                ),
            );
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
    let all: Vec<&'static str> =
        common.iter().chain(own).copied().filter(|k| !(kind == "Sgd" && *k == "epsilon")).collect();
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
    let clips: Vec<&&str> =
        ["clipnorm", "clipvalue", "global_clipnorm"].iter().filter(|k| a.contains_key(**k)).collect();
    if clips.len() > 1 {
        ctx.error(
            a[*clips[1]].span(),
            format!(
                "only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set, found `{}` and `{}`",
                clips[0], clips[1]
            ),
        );
    }
    Some(spec)
}

/// Where each layer's width was set, by layer name, for notes on head errors.
type Origins = HashMap<String, (Span, &'static str)>;

fn finish_compile(ctx: &mut Ctx, mut graph: Graph, compile: Option<&Expr>, origins: &Origins) -> Graph {
    let Some(Expr::Call { args, func, .. }) = compile else { return graph };
    let a = compile_args(ctx, args);
    if let Some(e) = a.get("optimizer") {
        if let Some(spec) = optimizer_of(ctx, e) {
            graph.optimizer = spec;
        }
    }
    if let Some(e) = a.get("loss") {
        let (per, rest) = per_head(ctx, &graph, "loss", e);
        for item in rest {
            loss_of(ctx, item);
        }
        let missing: Vec<String> = per
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_none())
            .map(|(h, _)| format!("`{}`", graph.nodes[graph.heads[h].node].name))
            .collect();
        // an unknown key (reported, with its "did you mean") is the likelier mistake
        let unknown_key = matches!(e, Expr::Map(entries, _) if entries.iter().any(|(k, _)| !graph.heads.iter().any(|h| graph.nodes[h.node].name == k.text())));
        if let (Expr::Map(..), false, false) = (e, missing.is_empty(), unknown_key) {
            let (s, them) = if missing.len() == 1 { ("", "it") } else { ("s", "them") };
            ctx.error(
                e.span(),
                format!("`loss` gives no loss for output{s} {}: add {them} to the map", missing.join(", ")),
            );
        }
        for (h, item) in per.into_iter().enumerate() {
            let Some(item) = item else { continue };
            let node = &graph.nodes[graph.heads[h].node];
            let loss = loss_of(ctx, item);
            if let Some(l @ (LossKind::Categorical { .. } | LossKind::SparseCategorical { .. })) = loss {
                if node.width < 2 {
                    let lname = loss_name(item).unwrap_or_else(|| {
                        LOSSES.iter().find(|(_, k)| *k == l).map_or("the loss", |(n, _)| *n).to_string()
                    });
                    let label = if node.var == node.name {
                        format!("output `{}`", node.name)
                    } else {
                        format!("output `{}` (layer `{}`)", node.var, node.name)
                    };
                    let msg = if matches!(l, LossKind::SparseCategorical { .. }) {
                        format!(
                            "`{lname}` needs one output unit per class, but {label} has 1 unit: for a target that is 0 or 1, use a sigmoid head with `binary_crossentropy`"
                        )
                    } else {
                        format!("`{lname}` needs one output unit per class, at least 2, but {label} has 1 unit: for two classes, use a sigmoid head with `binary_crossentropy`")
                    };
                    let mut err = syn::Error::new(item.span(), msg);
                    if let Some((s, how)) = origins.get(&node.name) {
                        err.combine(syn::Error::new(*s, format!("`{}` has 1 unit from {how}", node.var)));
                    }
                    ctx.errors.push(err);
                }
            }
            graph.heads[h].loss = loss;
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
            let (per, rest) = per_head(ctx, &graph, "loss_weights", e);
            for item in rest {
                loss_weight(ctx, item);
            }
            for (h, item) in per.into_iter().enumerate() {
                if let Some(w) = item.and_then(|item| loss_weight(ctx, item)) {
                    graph.heads[h].weight = w;
                }
            }
        } else {
            ctx.error(
                e.span(),
                format!(
                    "`loss_weights` must be a list in output order or a map `{{ head: weight }}`, found {}",
                    e.describe()
                ),
            );
        }
    }
    if let Some(e) = a.get("metrics") {
        let per: Vec<Vec<String>> = match e {
            Expr::Map(..) => {
                let (per, rest) = per_head(ctx, &graph, "metrics", e);
                for item in rest {
                    metrics_of(ctx, item);
                }
                per.into_iter().map(|m| m.map(|m| metrics_of(ctx, m)).unwrap_or_default()).collect()
            }
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

/// The loss's name as written (`"categorical_crossentropy"`, `CategoricalCrossentropy`).
fn loss_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Ident(i) => Some(i.unraw().to_string()),
        Expr::Str(s) => Some(s.value()),
        Expr::Path(p) => p.last().map(|i| i.to_string()),
        Expr::Call { func, .. } => loss_name(func),
        _ => None,
    }
}

/// Reads and checks the file of `weights("path")` (relative to the crate's
/// manifest): every tensor must be there with the graph's shape, F32 or F64,
/// finite; nothing else may be.
fn finish_weights(ctx: &mut Ctx, mut graph: Graph, stmt: Option<(&Expr, Span)>) -> Graph {
    let Some((Expr::Call { args, .. }, span)) = stmt else { return graph };
    let lit = match args.as_slice() {
        [Arg { name: None, value: Expr::Str(s) }] => s,
        _ => {
            ctx.error(
                span,
                "`weights` takes one path, relative to the crate's Cargo.toml: `weights(\"model.safetensors\");`",
            );
            return graph;
        }
    };
    let rel = lit.value();
    let base = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let path = std::path::Path::new(&base).join(&rel);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            ctx.error(lit.span(), format!("cannot read weights file `{}`: {e}", path.display()));
            return graph;
        }
    };
    let file = match safetensors::SafeTensors::deserialize(&bytes) {
        Ok(f) => f,
        Err(e) => {
            ctx.error(lit.span(), format!("`{rel}` is not a safetensors file: {e}"));
            return graph;
        }
    };
    let specs = graph.tensors();
    let mut values = Vec::new();
    let mut ok = true;
    for spec in &specs {
        let Ok(view) = file.tensor(&spec.name) else {
            ctx.error(
                lit.span(),
                format!("`{rel}` has no tensor `{}`, which layer `{}` needs", spec.name, graph.nodes[spec.layer].name),
            );
            ok = false;
            continue;
        };
        if view.shape() != spec.shape.as_slice() {
            ctx.error(
                lit.span(),
                format!(
                    "tensor `{}` in `{rel}` has shape {:?}, the network needs {:?}",
                    spec.name,
                    view.shape(),
                    spec.shape
                ),
            );
            ok = false;
            continue;
        }
        let data: Vec<f64> = match view.dtype() {
            safetensors::Dtype::F64 => {
                view.data().chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect()
            }
            safetensors::Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap_or([0; 4]))))
                .collect(),
            other => {
                ctx.error(
                    lit.span(),
                    format!("tensor `{}` in `{rel}` has dtype {other:?}: expected F32 or F64", spec.name),
                );
                ok = false;
                continue;
            }
        };
        if data.iter().any(|v| !v.is_finite()) {
            ctx.error(lit.span(), format!("tensor `{}` in `{rel}` holds a value that is not finite", spec.name));
            ok = false;
            continue;
        }
        values.push(data);
    }
    let mut extra: Vec<String> =
        file.names().into_iter().filter(|n| !specs.iter().any(|s| s.name == *n)).map(str::to_string).collect();
    extra.sort();
    if let Some(name) = extra.first() {
        ctx.error(lit.span(), format!("`{rel}` has a tensor `{name}`, which is not a weight of this network"));
        ok = false;
    }
    if ok {
        graph.pretrained = Some(Pretrained { path: path.to_string_lossy().into_owned(), values });
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
        ctx.errors.extend(def.syntax_errors.iter().cloned());
        let g = check_with(&def, &mut ctx).graph;
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
            [
                ("text", 40),
                ("input_layer", 24),
                ("dense", 32),
                ("dense_1", 16),
                ("concatenate", 48),
                ("add", 48),
                ("dense_2", 48),
                ("dot", 1)
            ]
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
        assert!(errs.contains("`categorical_crossentropy` needs one output unit per class, at least 2, but output `a` (layer `age`) has 1 unit"), "{errs}");
        assert!(
            errs.contains("`loss` names `agee`, which is not an output of the model; did you mean `age`?"),
            "{errs}"
        );
        assert!(errs.contains("`loss_weights` lists 1 value but the model has 2 outputs"), "{errs}");
        assert!(errs.contains("unknown metric `acuracy`; did you mean `accuracy`?"), "{errs}");
    }

    fn errors(tokens: proc_macro2::TokenStream) -> Vec<String> {
        run(tokens).err().unwrap_or_default()
    }

    #[test]
    fn used_before_defined_is_not_undefined() {
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(8);
                let y = Dense(1)(h);
                let h = Dense(4)(x);
                let z = Dense(1)(hh);
                let w = Dense(1)(w);
                Model(x, [y, z]);
            }
        });
        assert!(errs[0].starts_with("`h` is used before it is defined"), "{errs:?}");
        assert!(errs.iter().any(|e| e == "`h` is defined here, below its use"), "{errs:?}");
        assert!(errs.iter().any(|e| e == "cannot find tensor `hh` in this network; did you mean `h`?"), "{errs:?}");
        assert!(errs.iter().any(|e| e.starts_with("`w` is used in its own definition")), "{errs:?}");
        // `y` and `z` are broken, and say nothing more in `Model`
        assert_eq!(errs.len(), 4, "{errs:?}");
    }

    #[test]
    fn an_error_in_a_let_adds_no_errors_where_it_is_used() {
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(8);
                let h = Dense(0)(x);
                let h2 = Dropout(0.5)(h);
                let y = concatenate([h2, x]);
                Model(x, y);
                compile(loss = mse);
            }
        });
        assert_eq!(errs, ["`units` must be a positive integer, found 0"]);
        let errs = errors(quote! {
            pub struct Bad {
                let units = 32;
                let act = relu;
                let x = Input(8);
                let y = Dense(units, activation = act)(x);
                Model(x, y);
            }
        });
        assert_eq!(
            errs,
            [
                "`let` binds a tensor, found an integer: `network!` has no constants, so write `32` where `units` is used",
                "`let` binds a tensor, found the activation `relu`: write `relu` where `act` is used",
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
    fn duplicates() {
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(8, name = "text");
                let x = Input(4);
                let q = Input(4, name = "text");
                let y = Dense(1)(x);
                Model([x, q], [y, y]);
                Model(x, y);
                compile(loss = mse);
                compile(loss = mse);
            }
        });
        let has = |m: &str| errs.iter().any(|e| e.starts_with(m));
        assert!(has("input `x` is defined twice"), "{errs:?}");
        assert!(has("the first input `x` is defined here"), "{errs:?}");
        assert!(has("layer name `text` is used twice"), "{errs:?}");
        assert!(has("`y` is listed twice in `outputs`"), "{errs:?}");
        assert!(has("`Model` is given twice"), "{errs:?}");
        assert!(has("the first `Model` is here"), "{errs:?}");
        assert!(has("`compile` is given twice"), "{errs:?}");
    }

    #[test]
    fn losses_that_cannot_apply_to_a_head() {
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(8);
                let gender = Dense(1, activation = sigmoid, name = "gender")(x);
                Model(x, gender);
                compile(loss = sparse_categorical_crossentropy);
            }
        });
        assert!(
            errs[0].starts_with(
                "`sparse_categorical_crossentropy` needs one output unit per class, but output `gender` has 1 unit"
            ),
            "{errs:?}"
        );
        assert_eq!(errs[1], "`gender` has 1 unit from the units of this `Dense`");
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(8);
                let a = Dense(1, name = "a")(x);
                let b = Dense(3, name = "b")(x);
                Model(x, [a, b]);
                compile(loss = [mse, { b: mse }], loss_weights = { a: 1.0, c: 2.0 });
            }
        });
        assert!(errs.iter().any(|e| e.starts_with("mixed `loss` forms")), "{errs:?}");
        assert!(
            errs.iter().any(|e| e.starts_with("`loss_weights` names `c`, which is not an output of the model")),
            "{errs:?}"
        );
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
        let errs = errors(quote! {
            pub struct Bad {
                let self = Input(8);
                let _ = Input(8);
                let x = Input(8);
                let y = Dense(1, name = "__sn_o0")(x);
                Model(x, y);
            }
        });
        assert_eq!(errs.len(), 3, "{errs:?}");
    }

    #[test]
    fn syntax_errors_and_check_errors_come_together() {
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(8)
                let h = Dense(16 activation = relu)(x);
                let y = Dense(1)(h);
                let z = Dense(2, activation = relux)(x);
                Model(x, [y, z]);
                compile(loss = [mse, msee]);
            }
        });
        assert_eq!(
            errs,
            [
                "expected `;`, found `let`",
                "expected `,` or `)` after an argument, found `activation`",
                "unknown activation `relux`; did you mean `relu`?",
                "unknown loss `msee`; did you mean `mse`?",
            ]
        );
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
        assert_eq!(failure.iface.inputs, Some(vec![Some(40), None]));
        let heads = failure.iface.heads.unwrap();
        assert_eq!(heads[0], HeadSig { name: Some("answer".into()), width: Some(5), target: None });
        assert_eq!(heads[1], HeadSig { name: Some("score".into()), width: None, target: None });
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("Dens", ["Dense", "Dropout"]), "; did you mean `Dense`?");
        assert_eq!(suggest("zzzzzz", ["Dense"]), "");
    }

    fn weights_file(tensors: &[(&str, Vec<usize>)]) -> String {
        let data: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
            .iter()
            .map(|(n, shape)| (n.to_string(), vec![0u8; 4 * shape.iter().product::<usize>()], shape.clone()))
            .collect();
        let views: Vec<(String, safetensors::tensor::TensorView)> = data
            .iter()
            .map(|(n, bytes, shape)| {
                (
                    n.clone(),
                    safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes).unwrap(),
                )
            })
            .collect();
        let bytes = safetensors::serialize(views, None).unwrap();
        let path = std::env::temp_dir().join(format!(
            "staticnet-check-{}-{}.safetensors",
            std::process::id(),
            tensors.len() * 7 + tensors[0].1[0]
        ));
        std::fs::write(&path, bytes).unwrap();
        path.to_string_lossy().into_owned()
    }

    fn with_weights(path: &str) -> Result<Graph, Vec<String>> {
        let stmt: proc_macro2::TokenStream = format!("weights({path:?});").parse().unwrap();
        run(quote! {
            pub struct W {
                let x = Input(3);
                let y = Dense(2, name = "out")(x);
                Model(x, y);
                #stmt
            }
        })
    }

    #[test]
    fn nested_calls_are_named_in_python_order() {
        let g = run(quote! {
            pub struct Nested {
                let x = Input(8);
                let z = Dense(10, activation = softmax)(concatenate([Dense(3)(x), Dense(5, activation = relu)(x)]));
                Model(x, z);
            }
        })
        .unwrap();
        let names: Vec<_> = g.nodes.iter().map(|n| (n.name.as_str(), n.width)).collect();
        // Python builds `Dense(10)` before evaluating its argument, and the
        // `Concatenate` inside `concatenate` after its list.
        assert_eq!(names, [("input_layer", 8), ("dense_1", 3), ("dense_2", 5), ("concatenate", 8), ("dense", 10)]);
    }

    #[test]
    fn baked_weights_are_checked_against_the_graph() {
        let good = weights_file(&[("out.kernel", vec![3, 2]), ("out.bias", vec![2])]);
        let g = with_weights(&good).unwrap();
        assert_eq!(g.pretrained.as_ref().unwrap().values.len(), 2);
        let missing = weights_file(&[("out.kernel", vec![3, 2])]);
        let errs = with_weights(&missing).unwrap_err().join("\n");
        assert!(errs.contains("has no tensor `out.bias`, which layer `out` needs"), "{errs}");
        let wrong = weights_file(&[("out.kernel", vec![4, 2]), ("out.bias", vec![2]), ("extra.bias", vec![1])]);
        let errs = with_weights(&wrong).unwrap_err().join("\n");
        assert!(errs.contains("tensor `out.kernel` in"), "{errs}");
        assert!(errs.contains("has shape [4, 2], the network needs [3, 2]"), "{errs}");
        assert!(errs.contains("has a tensor `extra.bias`, which is not a weight of this network"), "{errs}");
        let errs = with_weights("/nonexistent/w.safetensors").unwrap_err().join("\n");
        assert!(errs.contains("cannot read weights file"), "{errs}");
    }
}
