//! The error context: every error found while checking a network,
//! reported together at the end in source order, each with its notes.

use crate::parse::Expr;
use proc_macro2::Span;

/// Collected errors.
#[derive(Default)]
pub struct Ctx {
    errors: Vec<syn::Error>,
}

impl Ctx {
    /// An error at `span`.
    pub fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.errors.push(syn::Error::new(span, message));
    }

    /// An error at `span` with notes pointing at other tokens (where a
    /// width came from, where a name was first used), shown right after it.
    pub fn error_with_notes(
        &mut self,
        span: Span,
        message: impl std::fmt::Display,
        notes: impl IntoIterator<Item = (Span, String)>,
    ) {
        let mut e = syn::Error::new(span, message);
        for (at, note) in notes {
            e.combine(syn::Error::new(at, note));
        }
        self.errors.push(e);
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

    /// Errors found before checking (the parser's).
    pub fn extend(&mut self, errors: impl IntoIterator<Item = syn::Error>) {
        self.errors.extend(errors);
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

    /// Every message, notes included, in the order they were found.
    #[cfg(test)]
    pub fn messages(&self) -> Vec<String> {
        self.errors.iter().flat_map(|e| e.clone().into_iter().map(|m| m.to_string())).collect()
    }
}

/// Edit distance with transpositions (`vaild` is one edit from `valid`),
/// for "did you mean" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows: Vec<Vec<usize>> = vec![(0..=b.len()).collect()];
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let prev = &rows[i - 1];
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(rows[i - 2][j - 2] + 1);
            }
        }
        rows.push(cur);
    }
    rows[a.len()][b.len()]
}

/// `; did you mean `x`?` for the closest known name, or nothing.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(suggest("Dens", ["Dense", "Dropout"]), "; did you mean `Dense`?");
        assert_eq!(suggest("relux", ["relu", "elu"]), "; did you mean `relu`?");
        assert_eq!(suggest("zzzzzz", ["Dense"]), "");
        assert_eq!(suggest("vaild", ["valid", "same"]), "; did you mean `valid`?");
    }

    #[test]
    fn errors_come_out_in_source_order_with_their_notes() {
        let mut ctx = Ctx::default();
        ctx.error_with_notes(Span::call_site(), "first", [(Span::call_site(), "its note".to_string())]);
        ctx.error(Span::call_site(), "second");
        assert_eq!(ctx.messages(), ["first", "its note", "second"]);
        let all: Vec<String> = ctx.into_error().unwrap().into_iter().map(|e| e.to_string()).collect();
        assert_eq!(all, ["first", "its note", "second"]);
    }
}
