//! The rules of `compile(optimizer, loss, loss_weights, metrics)`: names
//! from the shared vocabulary, one value per head (one for all, a list in
//! output order, or a map by head name), and losses that fit their heads.

use super::args::{bind, get_bool, get_f64, named, not_a_number, number};
use super::ctxt::{suggest, Ctx};
use crate::ir::{Graph, OptimizerSpec, Setting};
use crate::ops::Origin;
use crate::parse::{Arg, Expr};
use crate::vocab::{Loss, MetricKind, OptimizerKind, Range};
use proc_macro2::Span;
use std::collections::HashMap;
use syn::ext::IdentExt;

/// Where each layer's shape was set, by layer name, for notes on head errors.
pub type Origins = HashMap<String, Origin>;

/// Checks what `compile` can check without the model's outputs, after
/// `Model` had an error: argument, loss, optimizer and metric names.
pub fn without_graph(ctx: &mut Ctx, compile: Option<&Expr>) {
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

/// Applies `compile` to the graph: optimizer, losses, loss weights, metrics.
pub fn finish(ctx: &mut Ctx, mut graph: Graph, compile: Option<&Expr>, origins: &Origins) -> Graph {
    let Some(Expr::Call { args, func, .. }) = compile else { return graph };
    let a = compile_args(ctx, args);
    if let Some(e) = a.get("optimizer") {
        if let Some(spec) = optimizer_of(ctx, e) {
            graph.optimizer = spec;
        }
    }
    if let Some(e) = a.get("loss") {
        losses(ctx, &mut graph, e, origins);
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
        metrics(ctx, &mut graph, e);
    }
    graph
}

/// `loss`: one per head, each fitting its head.
fn losses(ctx: &mut Ctx, graph: &mut Graph, e: &Expr, origins: &Origins) {
    let (per, rest) = per_head(ctx, graph, "loss", e);
    for item in rest {
        loss_of(ctx, item);
    }
    let head_name = |g: &Graph, h: usize| g.nodes[g.heads[h].node].name.clone();
    let missing: Vec<String> = per
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_none())
        .map(|(h, _)| format!("`{}`", head_name(graph, h)))
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
        let loss = loss_of(ctx, item);

        if let Some(l) = loss.filter(|l| l.is_categorical()) {
            let node = &graph.nodes[graph.heads[h].node];
            if node.shape.last() < 2 {
                let lname = loss_name(item).unwrap_or_else(|| l.name().to_string());
                let label = if node.var == node.name {
                    format!("output `{}`", node.name)
                } else {
                    format!("output `{}` (layer `{}`)", node.var, node.name)
                };
                let msg = if l.is_sparse() {
                    format!(
                        "`{lname}` needs one output unit per class, but {label} has 1 unit: for a target that is 0 or 1, use a sigmoid head with `binary_crossentropy`"
                    )
                } else {
                    format!("`{lname}` needs one output unit per class, at least 2, but {label} has 1 unit: for two classes, use a sigmoid head with `binary_crossentropy`")
                };
                let notes =
                    origins.get(&node.name).map(|o| (o.span, format!("`{}` has 1 unit from {}", node.var, o.how)));
                ctx.error_with_notes(item.span(), msg, notes);
            }
        }
        graph.heads[h].loss = loss;
    }
}

/// `metrics`: a list for every head, or a map by head name.
fn metrics(ctx: &mut Ctx, graph: &mut Graph, e: &Expr) {
    let per: Vec<Vec<String>> = match e {
        Expr::Map(..) => {
            let (per, rest) = per_head(ctx, graph, "metrics", e);
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
        let width = graph.nodes[graph.heads[h].node].shape.last();
        let loss = graph.heads[h].loss;
        let mut resolved: Vec<MetricKind> = Vec::new();
        for n in names {
            if let Some(m) = MetricKind::resolve(&n, loss, width) {
                if !resolved.contains(&m) {
                    resolved.push(m);
                }
            }
        }
        graph.heads[h].metrics = resolved;
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
                            ctx.error_with_notes(
                                k.span(),
                                format!("output `{name}` appears twice in `{key}`"),
                                [(first, format!("`{name}` first appears here"))],
                            );
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

fn loss_of(ctx: &mut Ctx, expr: &Expr) -> Option<Loss> {
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
    let Some(mut kind) = Loss::from_name(&name) else {
        let hint = suggest(&name, Loss::NAMED.iter().map(|(n, _)| *n));
        ctx.error(span, format!("unknown loss `{name}`{hint}"));
        return None;
    };
    if let Some(args) = args {
        let a = bind(ctx, &name, args, &[], &["from_logits", "delta", "name", "reduction"]);
        let logits = get_bool(ctx, &a, "from_logits", false);
        match kind.with_from_logits(logits) {
            Some(k) => kind = k,
            None => {
                if let Some(e) = a.get("from_logits") {
                    ctx.error(e.span(), format!("`{name}` has no `from_logits` form"));
                }
            }
        }
        if let Some(e) = a.get("delta") {
            if kind != Loss::Huber {
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
        if MetricKind::NAMES.contains(&name.as_str()) {
            out.push(name);
        } else {
            let hint = suggest(&name, MetricKind::NAMES.iter().copied());
            ctx.error(span, format!("unknown metric `{name}`{hint}"));
        }
    }
    out
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
    let Some(kind) = OptimizerKind::from_name(&name) else {
        let hint = suggest(&name, OptimizerKind::SPELLINGS.iter().copied());
        ctx.error(span, format!("unknown optimizer `{name}`{hint}"));
        return None;
    };
    let mut spec = OptimizerSpec { kind, settings: Vec::new() };
    let Some(args) = args else { return Some(spec) };
    let params: Vec<_> = kind.hyperparameters().iter().chain(OptimizerKind::CLIPPING).collect();
    let mut keywords: Vec<&'static str> = params[1..].iter().map(|h| h.name).collect();
    keywords.push("name");
    let a = bind(ctx, &name, args, &[params[0].name], &keywords);
    for hp in params {
        if !a.contains_key(hp.name) {
            continue;
        }
        let setting = match hp.range {
            Range::Positive => Setting::Float(get_f64(ctx, &a, hp.name, f64::NAN, |v| v > 0.0, "positive")),
            Range::Fraction => {
                Setting::Float(get_f64(ctx, &a, hp.name, f64::NAN, |v| (0.0..1.0).contains(&v), "in [0, 1)"))
            }
            Range::Flag => Setting::Bool(get_bool(ctx, &a, hp.name, false)),
        };
        if !matches!(setting, Setting::Float(v) if v.is_nan()) {
            spec.settings.push((hp.name, setting));
        }
    }
    let clips: Vec<&str> = OptimizerKind::CLIPPING.iter().map(|h| h.name).filter(|k| a.contains_key(k)).collect();
    if clips.len() > 1 {
        ctx.error(
            a[clips[1]].span(),
            format!(
                "only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set, found `{}` and `{}`",
                clips[0], clips[1]
            ),
        );
    }
    Some(spec)
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

#[cfg(test)]
mod tests {
    use crate::check::{errors, run};
    use crate::vocab::MetricKind;
    use quote::quote;

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
    fn metrics_resolve_as_keras_resolves_them() {
        let g = run(quote! {
            pub struct Posts {
                let posts = Input(16);
                let age = Dense(1, name = "age")(posts);
                let income = Dense(10, activation = softmax, name = "income")(posts);
                let gender = Dense(1, activation = sigmoid, name = "gender")(posts);
                Model(posts, [age, income, gender]);
                compile(loss = [mse, categorical_crossentropy, binary_crossentropy], loss_weights = [0.25, 1.0, 10.0], metrics = [accuracy, mae]);
            }
        })
        .unwrap();
        assert_eq!(g.heads[2].weight, 10.0);
        assert_eq!(g.heads[1].metrics, [MetricKind::CategoricalAccuracy, MetricKind::MeanAbsoluteError]);
        assert_eq!(g.heads[2].metrics, [MetricKind::BinaryAccuracy, MetricKind::MeanAbsoluteError]);
        assert_eq!(g.heads[0].metrics, [MetricKind::BinaryAccuracy, MetricKind::MeanAbsoluteError]);
    }

    #[test]
    fn optimizer_settings() {
        let g = run(quote! {
            pub struct Net {
                let x = Input(4);
                let y = Dense(1)(x);
                Model(x, y);
                compile(optimizer = RMSprop(0.01, rho = 0.8, centered = True), loss = mse);
            }
        })
        .unwrap();
        assert_eq!(g.optimizer.kind, crate::vocab::OptimizerKind::RmsProp);
        assert_eq!(g.optimizer.settings.len(), 3);
        let errs = errors(quote! {
            pub struct Net {
                let x = Input(4);
                let y = Dense(1)(x);
                Model(x, y);
                compile(optimizer = SGD(learning_rate = -1.0, epsilon = 1e-7, clipnorm = 1.0, clipvalue = 1.0), loss = mse);
            }
        });
        let has = |m: &str| errs.iter().any(|e| e.starts_with(m));
        assert!(has("`learning_rate` must be positive, found -1"), "{errs:?}");
        assert!(has("`SGD` has no argument `epsilon`"), "{errs:?}");
        assert!(has("only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set"), "{errs:?}");
    }
}
