//! Reading arguments: binding positional and keyword arguments to
//! parameter names, and reading numbers, flags, activations and names from
//! them, each with its error.

use super::ctxt::{suggest, Ctx};
use super::scope::Binding;
use crate::parse::{Arg, Expr};
use crate::vocab::Activation;
use proc_macro2::Span;
use std::collections::HashMap;
use syn::ext::IdentExt;

/// Binds positional and keyword arguments to parameter names.
pub fn bind<'e>(
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
                    let takes = match positional.len() {
                        0 => "no positional arguments".to_string(),
                        1 => "1 positional argument".to_string(),
                        n => format!("{n} positional arguments"),
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
pub fn number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Int(i) => i.base10_parse::<f64>().ok().filter(|v| v.is_finite()),
        Expr::Float(f) => f.base10_parse::<f64>().ok().filter(|v| v.is_finite()),
        Expr::Neg(_, inner) => number(inner).map(|v| -v),
        _ => None,
    }
}

/// What a value that is not a usable number is, for "found …": the literal
/// itself when it is one (too large, say), else its kind.
pub fn not_a_number(expr: &Expr) -> String {
    match expr {
        Expr::Int(i) => format!("`{i}`"),
        Expr::Float(f) => format!("`{f}`"),
        Expr::Neg(_, inner) => format!("`-{}`", not_a_number(inner).trim_matches('`')),
        other => other.describe().to_string(),
    }
}

/// The value of an expression for "found …" messages.
pub fn found_value(e: &Expr) -> String {
    match number(e) {
        Some(v) => format!("`{v}`"),
        None => not_a_number(e),
    }
}

/// An integer literal, possibly negative.
pub fn integer(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Int(i) => i.base10_parse::<i64>().ok(),
        Expr::Neg(_, inner) => integer(inner).map(|v| -v),
        _ => None,
    }
}

/// Argument `key` as a number satisfying `valid` (described by `range`),
/// or `default` when it is absent or wrong (wrong is reported).
pub fn get_f64(
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

/// Argument `key` as `true`/`false` (Python's `True`/`False` too).
pub fn get_bool(ctx: &mut Ctx, args: &HashMap<&str, &Expr>, key: &str, default: bool) -> bool {
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

/// `Dense`, `layers.Dense`, `keras.layers.Dense` → ("Dense", span of `Dense`).
pub fn callee_name(ctx: &mut Ctx, func: &Expr) -> Option<(String, Span)> {
    match func {
        Expr::Ident(i) => Some((i.unraw().to_string(), i.span())),
        Expr::Path(segments) => {
            let (last, prefix) = segments.split_last()?;
            let mut ok = true;
            for (k, seg) in prefix.iter().enumerate() {
                let s = seg.to_string();
                let allowed = match k {
                    0 => s == "keras" || s == "layers" || s == "activations" || s == "models",
                    1 => (s == "layers" || s == "activations" || s == "models") && prefix[0] == "keras",
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

/// An activation from an identifier, a string, or `activations.relu`.
pub fn activation(ctx: &mut Ctx, expr: &Expr) -> Option<Activation> {
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
        return Some(Activation::Linear);
    }
    match Activation::from_name(&name) {
        Some(a) => Some(a),
        None => {
            let hint = suggest(&name, Activation::NAMED.iter().map(|(n, _)| *n));
            ctx.error(span, format!("unknown activation `{name}`{hint}"));
            None
        }
    }
}

/// Whether `name` is an activation's name.
pub fn is_activation(name: &str) -> bool {
    Activation::from_name(name).is_some()
}

/// A name, its span, and the arguments when it was called.
pub type Named<'e> = (String, Span, Option<&'e Vec<Arg>>);

/// A name given as an identifier, a string, a path, or a call with
/// arguments (`mse`, `"mse"`, `keras.losses.mse`, `Huber(delta = 1.0)`):
/// the name, its span and the call's arguments. `Err` for any other form,
/// for the caller to report; `Ok(None)` when the callee was already reported.
pub fn named<'e>(ctx: &mut Ctx, expr: &'e Expr) -> Result<Option<Named<'e>>, &'e Expr> {
    Ok(match expr {
        Expr::Ident(i) => Some((i.unraw().to_string(), i.span(), None)),
        Expr::Str(s) => Some((s.value(), s.span(), None)),
        Expr::Path(_) => callee_name(ctx, expr).map(|(n, s)| (n, s, None)),
        Expr::Call { func, args, .. } => callee_name(ctx, func).map(|(n, s)| (n, s, Some(args))),
        other => return Err(other),
    })
}

/// Whether `name` can be a Rust identifier (raw if it is a keyword).
pub fn valid_ident(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic());
    first_ok
        && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
        && !matches!(name, "_" | "self" | "Self" | "super" | "crate")
}

/// A layer written inside another (see [`Args::inner`]).
pub struct Inner<'e> {
    /// Its class, as written.
    pub name: String,
    /// Its token.
    pub span: Span,
    pub bound: HashMap<&'static str, &'e Expr>,
    /// The `name = "…"` it gives itself.
    pub given: Option<(String, Span)>,
}

/// The bound arguments of one layer, with what reading them needs: the
/// error context, and the tensors in scope (an argument that names a
/// tensor by mistake is reported as such).
pub struct Args<'a, 'e> {
    pub ctx: &'a mut Ctx,
    /// The callee as written (`Dense`, `layers.Add` is `Add`).
    pub what: &'a str,
    /// The layer's token.
    pub span: Span,
    pub bound: HashMap<&'static str, &'e Expr>,
    pub scope: &'a HashMap<String, Binding>,
}

impl<'e> Args<'_, 'e> {
    pub fn get(&self, key: &str) -> Option<&'e Expr> {
        self.bound.get(key).copied()
    }

    /// Argument `key`, or an error at the layer saying `missing` when it is
    /// absent.
    pub fn require(&mut self, key: &str, missing: &str) -> Option<&'e Expr> {
        let e = self.get(key);
        if e.is_none() {
            self.ctx.error(self.span, missing);
        }
        e
    }

    pub fn float(&mut self, key: &str, default: f64, valid: impl Fn(f64) -> bool, range: &str) -> f64 {
        get_f64(self.ctx, &self.bound, key, default, valid, range)
    }

    pub fn bool(&mut self, key: &str, default: bool) -> bool {
        get_bool(self.ctx, &self.bound, key, default)
    }

    /// `e` as a positive integer (at most 2²⁴), `what` naming it in errors.
    pub fn positive(&mut self, e: &Expr, what: &str) -> Option<usize> {
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

    /// Argument `key` as an activation; `default` when absent, `None` when
    /// wrong (reported; a tensor given by mistake is named as one).
    pub fn activation(&mut self, key: &str, default: Option<Activation>) -> Option<Activation> {
        let Some(e) = self.get(key) else { return default };
        if let Expr::Ident(i) = e {
            let n = i.unraw().to_string();
            if !is_activation(&n) {
                match self.scope.get(&n) {
                    Some(Binding::Broken) => return None,
                    Some(Binding::Tensor(_)) => {
                        self.ctx
                            .error(i.span(), format!("expected an activation such as `relu`, found the tensor `{n}`"));
                        return None;
                    }
                    Some(Binding::Layer(_) | Binding::SubModel(_)) => {
                        self.ctx
                            .error(i.span(), format!("expected an activation such as `relu`, found the layer `{n}`"));
                        return None;
                    }
                    None => {}
                }
            }
        }
        activation(self.ctx, e)
    }

    /// A layer written inside this one, as `Bidirectional(LSTM(8))` and
    /// `TimeDistributed(Dense(3))` take it: argument `key` as a call of one
    /// of `kinds` (reported otherwise). Returns its arguments, bound to the
    /// inner kind's names, to read with [`Args::nested`], and the
    /// `name = "…"` it gives itself.
    pub fn inner(&mut self, key: &str, kinds: &[&str]) -> Option<Inner<'e>> {
        let what = self.what;
        let e = self.require(key, &format!("`{what}` wraps a layer, as in `{what}({}(…))`", kinds[0]))?;
        let Expr::Call { func, args, .. } = e else {
            self.ctx.error(
                e.span(),
                format!(
                    "`{what}` wraps a layer made in place, as in `{what}({}(…))`, found {}",
                    kinds[0],
                    e.describe()
                ),
            );
            return None;
        };
        let (name, span) = callee_name(self.ctx, func)?;
        if !kinds.contains(&name.as_str()) {
            let list = kinds.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
            self.ctx.error(span, format!("`{what}` wraps {list}, found `{name}`"));
            return None;
        }
        let (kind, _) = crate::ops::Kind::lookup(&name)?;
        let mut keywords = kind.keywords.to_vec();
        keywords.push("name");
        let bound = bind(self.ctx, &name, args, kind.positional, &keywords);
        let given = match bound.get("name") {
            Some(Expr::Str(s)) if valid_ident(&s.value()) => Some((s.value(), s.span())),
            Some(other) => {
                self.ctx.error(other.span(), "the wrapped layer's `name` must be a string that can name a Rust field");
                None
            }
            None => None,
        };
        Some(Inner { name, span, bound, given })
    }

    /// The arguments of an [`Inner`] layer, to build it with its kind's code.
    pub fn nested<'s>(&'s mut self, inner: &'s Inner<'e>) -> Args<'s, 'e> {
        Args { ctx: &mut *self.ctx, what: &inner.name, span: inner.span, bound: inner.bound.clone(), scope: self.scope }
    }

    /// `axis`: the feature axis only (-1 or 1; 0 is the batch).
    pub fn feature_axis(&mut self, key: &str) {
        if let Some(e) = self.get(key) {
            match integer(e) {
                Some(-1) | Some(1) => {}
                Some(v) => self.ctx.error(
                    e.span(),
                    format!(
                        "`{}` works on the feature axis: `{key}` must be -1 or 1, found {v} (axis 0 is the batch)",
                        self.what
                    ),
                ),
                None => self.ctx.error_expr(e, format!("`{key}` must be an integer, found {}", e.describe())),
            }
        }
    }

    /// Flags Keras has whose `false` staticnet does not support (`center`,
    /// `scale`): an error when one is set to false.
    pub fn always_true(&mut self, keys: &[&str], why: &str) {
        for &k in keys {
            if let Some(e) = self.get(k) {
                if !self.bool(k, true) {
                    self.ctx.error(e.span(), format!("`{k} = false` is not supported: {why}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn call_args(tokens: proc_macro2::TokenStream) -> Vec<Arg> {
        match syn::parse2::<Expr>(tokens).unwrap() {
            Expr::Call { args, .. } => args,
            _ => panic!("expected a call"),
        }
    }

    #[test]
    fn binds_positional_then_keyword_arguments() {
        let mut ctx = Ctx::default();
        let args = call_args(quote!(Dense(32, relu, use_bias = false)));
        let bound = bind(&mut ctx, "Dense", &args, &["units", "activation"], &["use_bias"]);
        assert!(!ctx.has_errors());
        assert_eq!(bound.len(), 3);
        let args = call_args(quote!(Dense(32, relu, 3, units = 4, use_bais = true)));
        bind(&mut ctx, "Dense", &args, &["units", "activation"], &["use_bias"]);
        assert_eq!(
            ctx.messages(),
            [
                "`Dense` takes 2 positional arguments; name the others, as in `name = value`",
                "argument `units` is given twice",
                "`Dense` has no argument `use_bais`; did you mean `use_bias`?",
            ]
        );
    }

    #[test]
    fn numbers_flags_and_positive_integers() {
        let e = |t: proc_macro2::TokenStream| syn::parse2::<Expr>(t).unwrap();
        assert_eq!(number(&e(quote!(-0.5))), Some(-0.5));
        assert_eq!(number(&e(quote!(1e999))), None);
        assert_eq!(not_a_number(&e(quote!(1e999))), "`1e999`");
        assert_eq!(integer(&e(quote!(-3))), Some(-3));
        let mut ctx = Ctx::default();
        let scope = HashMap::new();
        let mut a =
            Args { ctx: &mut ctx, what: "Dense", span: Span::call_site(), bound: HashMap::new(), scope: &scope };
        assert_eq!(a.positive(&e(quote!(32)), "`units`"), Some(32));
        assert_eq!(a.positive(&e(quote!(0)), "`units`"), None);
        assert_eq!(a.positive(&e(quote!(32u8)), "`units`"), None);
        assert_eq!(a.positive(&e(quote!(2.5)), "`units`"), None);
        assert_eq!(
            ctx.messages(),
            [
                "`units` must be a positive integer, found 0",
                "`units` is written without a type suffix, as in `32`",
                "`units` must be a positive integer, found `2.5`",
            ]
        );
    }

    #[test]
    fn activations_by_name_string_or_path() {
        let mut ctx = Ctx::default();
        let e = |t: proc_macro2::TokenStream| syn::parse2::<Expr>(t).unwrap();
        assert_eq!(activation(&mut ctx, &e(quote!(relu))), Some(Activation::Relu));
        assert_eq!(activation(&mut ctx, &e(quote!("swish"))), Some(Activation::Silu));
        assert_eq!(activation(&mut ctx, &e(quote!(keras.activations.gelu))), Some(Activation::Gelu));
        assert_eq!(activation(&mut ctx, &e(quote!(None))), Some(Activation::Linear));
        assert_eq!(activation(&mut ctx, &e(quote!(relux))), None);
        assert_eq!(ctx.messages(), ["unknown activation `relux`; did you mean `relu`?"]);
        assert!(valid_ident("dense_1") && !valid_ident("1dense") && !valid_ident("self"));
    }
}
