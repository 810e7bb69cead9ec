//! Turns the AST into the checked [`Graph`]: resolves names, infers every
//! shape, and enforces the graph rules. Errors are gathered in a [`Ctx`]
//! and reported together; checking goes on after an error wherever it can.
//!
//! Split by concern, as serde_derive splits its `internals`:
//! - [`ctxt`]: the error context and suggestions;
//! - [`args`]: binding and reading arguments;
//! - [`scope`]: names: tensors in scope, layer names, Keras's automatic names;
//! - [`layers`]: making layers and calling them on tensors (through
//!   [`crate::ops`]), shape inference;
//! - [`graph`]: `Model(…)`, connectivity, names the generated code needs,
//!   and the interface a placeholder is built from after an error;
//! - [`compile`]: the rules of `compile(…)`;
//! - [`weights`]: a `weights("…")` file baked in at compile time.

pub mod args;
pub mod compile;
pub mod ctxt;
pub mod graph;
pub mod layers;
pub mod objects;
pub mod quantize;
pub mod scope;
pub mod weights;

use crate::ir::*;
use crate::ops::{Kind, Origin};
use crate::parse::{Expr, NetworkDef, Stmt};
use args::callee_name;
use ctxt::{suggest, Ctx};
pub use graph::{HeadSig, Interface};
use proc_macro2::Span;
use scope::Binding;
use std::collections::HashMap;
use syn::ext::IdentExt;

/// A network that failed to check: every error found, and what is known of
/// its interface.
pub struct Failure {
    pub error: syn::Error,
    pub iface: Box<Interface>,
    /// A network called as a layer that has no description yet: expand to
    /// its descriptor macro, which calls `network!` again with it.
    pub wanted: Option<Box<syn::Ident>>,
}

/// Checks a parsed network; on failure returns every error found, the
/// syntax errors of skipped statements first.
pub fn check(def: &NetworkDef) -> Result<Graph, Failure> {
    let mut ctx = Ctx::default();
    ctx.extend(def.syntax_errors.iter().cloned());
    let checked = check_with(def, &mut ctx);
    let wanted = checked.wanted.map(Box::new);
    match (ctx.into_error(), checked.graph) {
        (None, Some(g)) if wanted.is_none() => Ok(g),
        (Some(error), _) => Err(Failure { error, iface: Box::new(checked.iface), wanted }),
        (None, _) => Err(Failure {
            error: syn::Error::new(def.name.span(), "the network could not be checked"),
            iface: Box::new(checked.iface),
            wanted,
        }),
    }
}

/// The result of [`check_with`].
pub struct Checked {
    /// The graph, when no error was found.
    pub graph: Option<Graph>,
    pub iface: Interface,
    /// See [`Failure::wanted`].
    pub wanted: Option<syn::Ident>,
}

/// The state of one check: the nodes made so far and the names in scope.
pub struct Checker<'a> {
    pub ctx: &'a mut Ctx,
    pub nodes: Vec<Node>,
    /// For each node: the token that fixed its shape, and how.
    pub origins: Vec<Origin>,
    /// The networks this one calls as layers, as described to it.
    pub externals: Vec<crate::parse::ExternalDesc>,
    /// The first network called as a layer without a description.
    pub wanted: Option<syn::Ident>,
    /// Layer objects and sub-models, which `Binding`s index.
    pub objects: Vec<objects::LayerObject>,
    pub sub_models: Vec<objects::SubModel>,
    /// For each node: the `None` of the steps it runs over, when they have
    /// no length.
    pub varies: Vec<Option<Span>>,
    pub scope: HashMap<String, Binding>,
    /// Every `let` of the network: name, span of the name, statement index.
    pub lets: Vec<(String, Span, usize)>,
    /// Index of the statement being checked.
    pub stmt: usize,
    /// How many layers of each automatic name base exist.
    pub counters: HashMap<&'static str, usize>,
    /// Layer names in use, with where each was first used.
    pub names: HashMap<String, Span>,
    /// The name span of each `let … = Input(…)`, for "defined twice".
    pub input_lets: HashMap<String, Span>,
    /// The `name = "…"` of `let`s that had errors, by variable, so the
    /// placeholder still has the head's field.
    pub broken_names: HashMap<String, String>,
    /// A statement had an error, so rules about the whole graph (inputs no
    /// output uses) would report its consequences rather than mistakes.
    pub incomplete: bool,
    /// The layer name the current `let` gave its node, set even when the
    /// node then fails.
    pub attempted_name: Option<String>,
}

/// The statements that are not `let`s, as found.
#[derive(Default)]
struct Statements<'e> {
    model: Option<(&'e Expr, Span)>,
    /// `Model(…)` with a syntax error, read leniently.
    model_broken: Option<Expr>,
    compile: Option<(&'e Expr, Span)>,
    /// The name `let model = Model(…);` binds, for `model.compile(…)`.
    model_var: Option<String>,
    weights: Option<(&'e Expr, Span)>,
    quantize: Option<(&'e Expr, Span)>,
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
        varies: Vec::new(),
        objects: Vec::new(),
        sub_models: Vec::new(),
        externals: def.externals.clone(),
        wanted: None,
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
    let mut found = Statements::default();
    // The last `Model(…)` is the network; one bound to a name before it is
    // a sub-model.
    let is_model = |e: &Expr| scope::quiet_callee(e).is_some_and(|c| c == "Model" || c == "Functional");
    let last_model = def.stmts.iter().rposition(|s| match s {
        Stmt::Let { value, .. } | Stmt::Expr(value) => is_model(value),
        Stmt::Broken { head, .. } => head.as_ref().is_some_and(|h| h == "Model" || h == "Functional"),
    });
    for (k, stmt) in def.stmts.iter().enumerate() {
        ck.stmt = k;
        match stmt {
            Stmt::Let { name, value } if is_model(value) => {
                let callee = scope::quiet_callee(value).map_or(name.span(), |c| c.span());
                let var = name.unraw().to_string();
                if Some(k) == last_model {
                    ck.once(&mut found.model, value, callee, "Model");
                    found.model_var = Some(var);
                } else {
                    let binding = match ck.sub_model(&var, value, callee) {
                        Some(idx) => Binding::SubModel(idx),
                        None => Binding::Broken,
                    };
                    ck.scope.insert(var, binding);
                }
            }
            Stmt::Let { name, value } => ck.let_stmt(name, value),
            Stmt::Broken { let_name, head, tokens } => {
                ck.incomplete = true;
                if let Some(n) = let_name {
                    ck.scope.insert(n.unraw().to_string(), Binding::Broken);
                } else if head.as_ref().is_some_and(|h| h == "Model" || h == "Functional") {
                    found.model_broken = crate::parse::lenient_call(tokens.clone())
                        .or(found.model_broken)
                        .or_else(|| Some(Expr::List(Vec::new(), Span::call_site())));
                }
            }
            Stmt::Expr(expr) => ck.expr_stmt(expr, &mut found),
        }
    }
    finish(ck, def, found)
}

/// The graph-wide checks once every statement is read.
fn finish(mut ck: Checker, def: &NetworkDef, found: Statements) -> Checked {
    ck.uncalled_objects();
    let compile_expr = found.compile.map(|c| c.0);
    let Some((model_expr, model_span)) = found.model else {
        let iface = match &found.model_broken {
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
        compile::without_graph(ck.ctx, compile_expr);
        return Checked { graph: None, iface, wanted: ck.wanted };
    };
    let guess = ck.interface_guess(model_expr);
    let Some((inputs, outputs, title)) = ck.model(model_expr, model_span) else {
        compile::without_graph(ck.ctx, compile_expr);
        return Checked { graph: None, iface: guess, wanted: ck.wanted };
    };
    let struct_name = def.name.to_string();
    let graph = ck.prune(inputs, outputs, title.unwrap_or_else(|| struct_name.clone()));
    let origins: compile::Origins = ck.nodes.iter().zip(&ck.origins).map(|(n, o)| (n.name.clone(), *o)).collect();
    let graph = compile::finish(ck.ctx, graph, compile_expr, &origins);
    let graph = weights::finish(ck.ctx, graph, found.weights);
    let graph = quantize::finish(ck.ctx, graph, found.quantize);
    ck.check_generated_names(&graph, &struct_name);
    let iface = Interface::of(&graph);
    let graph = (!ck.ctx.has_errors()).then_some(graph);
    Checked { graph, iface, wanted: ck.wanted }
}

impl<'a> Checker<'a> {
    /// Records the first `Model`, `compile` or `weights` statement; a
    /// second is an error pointing at the first.
    fn once<'e>(&mut self, slot: &mut Option<(&'e Expr, Span)>, expr: &'e Expr, span: Span, what: &str) {
        if let Some((_, first)) = slot {
            let rule = match what {
                "Model" => "a network has exactly one `Model(inputs, outputs)`",
                "compile" => "a network has at most one `compile(…)`",
                "quantize" => "a network has at most one `quantize(…)`",
                _ => "a network bakes in one file",
            };
            self.ctx.error_with_notes(
                span,
                format!("`{what}` is given twice: {rule}"),
                [(*first, format!("the first `{what}` is here"))],
            );
        } else {
            *slot = Some((expr, span));
        }
    }

    /// A statement that is not a `let`: `Model(…)`, `compile(…)`, `weights(…)`.
    fn expr_stmt<'e>(&mut self, expr: &'e Expr, found: &mut Statements<'e>) {
        let func = match expr {
            Expr::Call { func, .. } => Some(&**func),
            _ => None,
        };
        // `model.compile(…)`, pasted from Keras
        if let Some(Expr::Path(segs)) = func {
            if segs.len() == 2 && !["keras", "layers", "models"].contains(&segs[0].to_string().as_str()) {
                let (recv, method) = (&segs[0], &segs[1]);
                let the_model = found.model_var.as_deref() == Some(recv.unraw().to_string().as_str());
                if the_model && method == "compile" {
                    self.once(&mut found.compile, expr, method.span(), "compile");
                } else if the_model && method == "summary" {
                    // Keras prints it; the generated `summary()` does
                } else if method == "compile" {
                    self.ctx.error(
                        recv.span(),
                        format!("`compile` is a statement of its own: write `compile(…);` without `{recv}.`"),
                    );
                    self.once(&mut found.compile, expr, method.span(), "compile");
                } else {
                    self.ctx.error(
                        method.span(),
                        format!("`{recv}.{method}(…)` is not part of a network: call `{method}` on the generated struct in Rust code"),
                    );
                }
                return;
            }
        }
        let callee = func.and_then(|f| callee_name(self.ctx, f));
        match callee.as_ref().map(|(n, s)| (n.as_str(), *s)) {
            Some(("Model" | "Functional", span)) => self.once(&mut found.model, expr, span, "Model"),
            Some(("compile", span)) => self.once(&mut found.compile, expr, span, "compile"),
            Some(("weights", span)) => self.once(&mut found.weights, expr, span, "weights"),
            Some(("quantize", span)) => self.once(&mut found.quantize, expr, span, "quantize"),
            Some((other, span)) if Kind::lookup(other).is_some() => {
                self.ctx.error(
                    span,
                    format!("the tensor this `{other}` makes is never used: bind it with `let name = {other}(…);`"),
                );
            }
            Some((other, span)) => {
                let hint = suggest(other, ["Model", "compile"]);
                self.ctx.error(
                    span,
                    format!("expected `let name = …;`, `Model(…);` or `compile(…);`, found a call of `{other}`{hint}"),
                );
            }
            None if func.is_some() => {}
            None => self.ctx.error(
                expr.span(),
                format!("expected `let name = …;`, `Model(…);` or `compile(…);`, found {}", expr.describe()),
            ),
        }
    }
}

/// Checks a network's tokens and returns the graph or every message.
#[cfg(test)]
pub fn run(tokens: proc_macro2::TokenStream) -> Result<Graph, Vec<String>> {
    let def = crate::parse::parse(tokens).map_err(|e| vec![e.to_string()])?;
    let mut ctx = Ctx::default();
    ctx.extend(def.syntax_errors.iter().cloned());
    let g = check_with(&def, &mut ctx).graph;
    if ctx.has_errors() {
        Err(ctx.messages())
    } else {
        g.ok_or_else(Vec::new)
    }
}

/// The messages of a network that fails to check (none if it checks).
#[cfg(test)]
pub fn errors(tokens: proc_macro2::TokenStream) -> Vec<String> {
    run(tokens).err().unwrap_or_default()
}

/// Writes F32 tensors (name, shape, values) to a temporary safetensors
/// file named after `tag` and this process; its path. For the tests of
/// `weights(…)` and `quantize(…)`, which read files.
#[cfg(test)]
pub fn safetensors_file(tag: &str, tensors: &[(&str, Vec<usize>, Vec<f32>)]) -> String {
    let data: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(n, shape, v)| (n.to_string(), v.iter().flat_map(|x| x.to_le_bytes()).collect(), shape.clone()))
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = data
        .iter()
        .map(|(n, bytes, shape)| {
            (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes).unwrap())
        })
        .collect();
    let bytes = safetensors::serialize(views, None).unwrap();
    let path = std::env::temp_dir().join(format!("staticnet-{tag}-{}.safetensors", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

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
    fn statements_that_are_not_part_of_a_network() {
        let errs = errors(quote! {
            pub struct Bad {
                let x = Input(8);
                let y = Dense(1)(x);
                Dense(3);
                model.fit(x, y);
                Model(x, y);
            }
        });
        assert!(errs.iter().any(|e| e.starts_with("the tensor this `Dense` makes is never used")), "{errs:?}");
        assert!(errs.iter().any(|e| e.starts_with("`model.fit(…)` is not part of a network")), "{errs:?}");
    }
}
