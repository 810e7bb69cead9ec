//! Names: what each `let` binds, looking tensors up (with "used before it
//! is defined" and "did you mean"), layer names given or made as Keras
//! makes them (`dense`, `dense_1`, …), and names used twice.

use super::args::{is_activation, not_a_number, valid_ident};
use super::ctxt::suggest;
use super::Checker;
use crate::parse::{Arg, Expr};
use crate::vocab::{Loss, MetricKind, OptimizerKind};
use proc_macro2::Span;
use std::collections::HashMap;
use syn::ext::IdentExt;
use syn::Ident;

/// What a `let` name stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    Tensor(usize),
    /// A layer object (`let dense = Dense(32);`), index into `objects`.
    Layer(usize),
    /// A sub-model (`let encoder = Model(…);`), index into `sub_models`.
    SubModel(usize),
    /// A `let` whose value had an error, already reported: uses of the name
    /// report nothing more.
    Broken,
}

/// The callee of a statement or `let` value that is a call: `Model` in
/// `Model(x, y)`, `Dense` in `Dense(3)(x)`, without reporting anything.
pub fn quiet_callee(expr: &Expr) -> Option<&Ident> {
    let Expr::Call { func, .. } = expr else { return None };
    match &**func {
        Expr::Ident(i) => Some(i),
        Expr::Path(p) => p.last(),
        inner @ Expr::Call { .. } => quiet_callee(inner),
        _ => None,
    }
}

/// The `name = "…"` a layer call gives itself, read without checking.
pub fn quiet_layer_name(expr: &Expr) -> Option<String> {
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

/// What a bare name that is not a tensor is, if the language knows it.
pub fn known_name(n: &str) -> Option<&'static str> {
    if is_activation(n) {
        Some("activation")
    } else if Loss::from_name(n).is_some() {
        Some("loss")
    } else if OptimizerKind::from_name(n).is_some() {
        Some("optimizer")
    } else if MetricKind::NAMES.contains(&n) {
        Some("metric")
    } else {
        None
    }
}

impl Checker<'_> {
    /// `let name = value;`
    pub fn let_stmt(&mut self, name: &Ident, value: &Expr) {
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
        if let Some(object) = self.layer_object(value, &var, name.span()) {
            let binding = match object {
                Some(idx) if !bad_name => Binding::Layer(idx),
                _ => Binding::Broken,
            };
            self.scope.insert(var, binding);
            return;
        }
        let id = self.let_value(value, &var);
        if let Some(id) = id {
            if matches!(value, Expr::Call { .. }) && self.nodes[id].is_input() {
                if let Some(first) = self.input_lets.get(&var).copied() {
                    self.ctx.error_with_notes(
                        name.span(),
                        format!("input `{var}` is defined twice: the first `Input` can no longer be named, so it cannot be passed to `Model`"),
                        [(first, format!("the first input `{var}` is defined here"))],
                    );
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

    /// The node a `let`'s value makes, or its error: `let` binds tensors,
    /// not constants, activations or lists.
    fn let_value(&mut self, value: &Expr, var: &str) -> Option<usize> {
        match value {
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
            _ => self.tensor_expr(value, var),
        }
    }

    /// The node `name` stands for; reports an unknown or later name.
    pub fn lookup(&mut self, name: &str, span: Span) -> Option<usize> {
        match self.scope.get(name) {
            Some(Binding::Tensor(id)) => Some(*id),
            Some(Binding::Broken) => None,
            Some(Binding::Layer(_) | Binding::SubModel(_)) => {
                let message = self.not_a_tensor(name).unwrap_or_default();
                self.ctx.error(span, message);
                None
            }
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
                        self.ctx.error_with_notes(
                            span,
                            format!("`{name}` is used before it is defined: a layer's input must be defined above it"),
                            [(def_span, format!("`{name}` is defined here, below its use"))],
                        );
                    }
                    None if is_activation(name) => {
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

    /// Keras's next automatic name for `base`: `dense`, then `dense_1`, ….
    pub fn auto_name(&mut self, base: &'static str) -> String {
        let n = self.counters.entry(base).or_insert(0);
        let name = if *n == 0 { base.to_string() } else { format!("{base}_{n}") };
        *n += 1;
        name
    }

    /// The `name = "…"` argument of a layer, checked.
    pub fn layer_name(&mut self, args: &HashMap<&str, &Expr>) -> Option<(String, Span)> {
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

    /// Records a layer name; a second use is an error.
    pub fn register_name(&mut self, name: &str, span: Span) {
        if let Some(first) = self.names.get(name).copied() {
            self.ctx.error_with_notes(
                span,
                format!("layer name `{name}` is used twice: Keras needs unique layer names"),
                [(first, format!("`{name}` is first used here"))],
            );
        } else {
            self.names.insert(name.to_string(), span);
        }
    }

    /// The given name, else the next automatic one; registered as used.
    pub fn name_layer(&mut self, given: Option<(String, Span)>, base: &'static str, span: Span) -> String {
        let (name, name_span) = match given {
            Some(n) => n,
            None => (self.auto_name(base), span),
        };
        self.register_name(&name, name_span);
        name
    }

    /// The span of the `let` that last bound `var`.
    pub fn let_span(&self, var: &str) -> Option<Span> {
        self.lets.iter().rev().find(|(n, _, _)| n == var).map(|(_, s, _)| *s)
    }
}

#[cfg(test)]
mod tests {
    use crate::check::{errors, run};
    use quote::quote;

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
        let names: Vec<_> = g.nodes.iter().map(|n| (n.name.as_str(), n.shape.size())).collect();
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
    fn nested_calls_are_named_in_python_order() {
        let g = run(quote! {
            pub struct Nested {
                let x = Input(8);
                let z = Dense(10, activation = softmax)(concatenate([Dense(3)(x), Dense(5, activation = relu)(x)]));
                Model(x, z);
            }
        })
        .unwrap();
        let names: Vec<_> = g.nodes.iter().map(|n| (n.name.as_str(), n.shape.size())).collect();
        // Python builds `Dense(10)` before evaluating its argument, and the
        // `Concatenate` inside `concatenate` after its list.
        assert_eq!(names, [("input_layer", 8), ("dense_1", 3), ("dense_2", 5), ("concatenate", 8), ("dense", 10)]);
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
    fn reserved_and_keyword_names() {
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
}
