//! Syntax of the `network!` language: a small expression language that
//! reads like Keras's functional API. The AST keeps every token's span so
//! `check` can point errors at the offending token.

use proc_macro2::{Delimiter, Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{braced, bracketed, parenthesized, Attribute, Ident, LitBool, LitFloat, LitInt, LitStr, Token, Visibility};

/// `#[attrs] vis struct Name { stmts }`.
pub struct NetworkDef {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub stmts: Vec<Stmt>,
    /// Span of the closing brace, for "missing `Model`" errors.
    pub close_span: Span,
}

/// One statement, ended by `;`.
pub enum Stmt {
    /// `let name = value;`
    Let { name: Ident, value: Expr },
    /// `Model(...);`, `compile(...);`, `weights(...);`
    Expr(Expr),
}

/// An expression.
#[derive(Clone)]
pub enum Expr {
    /// `x`, `relu`, `true`-less identifiers.
    Ident(Ident),
    /// `keras.layers.Dense`: at least two segments.
    Path(Vec<Ident>),
    /// `func(args)`.
    Call { func: Box<Expr>, args: Vec<Arg> },
    /// `[a, b]`.
    List(Vec<Expr>, Span),
    /// `(a, b)` or `(a,)`; a parenthesised single expression without a
    /// trailing comma is the expression itself.
    Tuple(Vec<Expr>, Span),
    /// `{ key: value, … }` with identifier or string keys.
    Map(Vec<(MapKey, Expr)>, Span),
    Int(LitInt),
    Float(LitFloat),
    Str(LitStr),
    Bool(LitBool),
    /// `-expr`.
    Neg(Span, Box<Expr>),
}

/// A key of a `{ key: value }` map.
#[derive(Clone)]
pub enum MapKey {
    Ident(Ident),
    Str(LitStr),
}

impl MapKey {
    pub fn text(&self) -> String {
        match self {
            MapKey::Ident(i) => i.unraw().to_string(),
            MapKey::Str(s) => s.value(),
        }
    }
    pub fn span(&self) -> Span {
        match self {
            MapKey::Ident(i) => i.span(),
            MapKey::Str(s) => s.span(),
        }
    }
}

/// One argument: positional, or `name = value`.
#[derive(Clone)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

impl Expr {
    /// The span errors about this expression point at: its first token.
    pub fn span(&self) -> Span {
        match self {
            Expr::Ident(i) => i.span(),
            Expr::Path(p) => p.last().map(|i| i.span()).unwrap_or_else(Span::call_site),
            Expr::Call { func, .. } => func.span(),
            Expr::List(_, s) | Expr::Tuple(_, s) | Expr::Map(_, s) | Expr::Neg(s, _) => *s,
            Expr::Int(l) => l.span(),
            Expr::Float(l) => l.span(),
            Expr::Str(l) => l.span(),
            Expr::Bool(l) => l.span,
        }
    }

    /// A short description for "expected …, found …" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Expr::Ident(_) => "an identifier",
            Expr::Path(_) => "a path",
            Expr::Call { .. } => "a call",
            Expr::List(..) => "a list",
            Expr::Tuple(..) => "a tuple",
            Expr::Map(..) => "a map",
            Expr::Int(_) => "an integer",
            Expr::Float(_) => "a float",
            Expr::Str(_) => "a string",
            Expr::Bool(_) => "a boolean",
            Expr::Neg(..) => "a negative number",
        }
    }
}

impl Parse for NetworkDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let _: Token![struct] = input.parse().map_err(|e| {
            syn::Error::new(e.span(), "expected `struct`: a network is written `pub struct Name { … }`")
        })?;
        let name: Ident = input.parse()?;
        if input.peek(Token![<]) {
            return Err(syn::Error::new(
                input.span(),
                "a network takes no generic parameters: the scalar type `T` is added for you",
            ));
        }
        let body;
        let brace = braced!(body in input);
        let mut stmts = Vec::new();
        while !body.is_empty() {
            stmts.push(body.parse()?);
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the network's `}`: one `network!` defines one struct"));
        }
        Ok(NetworkDef { attrs, vis, name, stmts, close_span: brace.span.close() })
    }
}

impl Parse for Stmt {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Token![let]) {
            let _: Token![let] = input.parse()?;
            let name: Ident = input.call(Ident::parse_any)?;
            let _: Token![=] = input.parse()?;
            let value: Expr = input.parse()?;
            expect_semi(input)?;
            return Ok(Stmt::Let { name, value });
        }
        let value: Expr = input.parse()?;
        expect_semi(input)?;
        Ok(Stmt::Expr(value))
    }
}

fn expect_semi(input: ParseStream) -> syn::Result<()> {
    if input.peek(Token![;]) {
        let _: Token![;] = input.parse()?;
        Ok(())
    } else {
        Err(input.error("expected `;` after the statement"))
    }
}

impl Parse for Expr {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut expr = parse_primary(input)?;
        // postfix calls: `Dense(10)(x)`
        while input.peek(syn::token::Paren) {
            let content;
            parenthesized!(content in input);
            let args = parse_args(&content)?;
            expr = Expr::Call { func: Box::new(expr), args };
        }
        Ok(expr)
    }
}

fn parse_primary(input: ParseStream) -> syn::Result<Expr> {
    let look = input.lookahead1();
    if input.peek(Token![-]) {
        let minus: Token![-] = input.parse()?;
        let inner = parse_primary(input)?;
        return Ok(Expr::Neg(minus.span, Box::new(inner)));
    }
    if look.peek(LitInt) {
        return Ok(Expr::Int(input.parse()?));
    }
    if look.peek(LitFloat) {
        return Ok(Expr::Float(input.parse()?));
    }
    if look.peek(LitStr) {
        return Ok(Expr::Str(input.parse()?));
    }
    if look.peek(LitBool) {
        return Ok(Expr::Bool(input.parse()?));
    }
    if input.peek(Ident::peek_any) {
        let first: Ident = input.call(Ident::parse_any)?;
        if input.peek(Token![.]) && !input.peek(Token![..]) {
            let mut segments = vec![first];
            while input.peek(Token![.]) {
                let _: Token![.] = input.parse()?;
                segments.push(input.call(Ident::parse_any)?);
            }
            return Ok(Expr::Path(segments));
        }
        return Ok(Expr::Ident(first));
    }
    if look.peek(syn::token::Bracket) {
        let content;
        let bracket = bracketed!(content in input);
        let items = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
        return Ok(Expr::List(items.into_iter().collect(), bracket.span.join()));
    }
    if look.peek(syn::token::Paren) {
        let content;
        let paren = parenthesized!(content in input);
        let items = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
        if items.len() == 1 && !items.trailing_punct() {
            return Ok(items.into_iter().next().expect("one item"));
        }
        return Ok(Expr::Tuple(items.into_iter().collect(), paren.span.join()));
    }
    if look.peek(syn::token::Brace) {
        let content;
        let brace = braced!(content in input);
        let mut entries = Vec::new();
        while !content.is_empty() {
            let key = if content.peek(LitStr) {
                MapKey::Str(content.parse()?)
            } else {
                MapKey::Ident(content.call(Ident::parse_any)?)
            };
            let _: Token![:] = content.parse()?;
            let value: Expr = content.parse()?;
            entries.push((key, value));
            if content.is_empty() {
                break;
            }
            let _: Token![,] = content.parse()?;
        }
        return Ok(Expr::Map(entries, brace.span.join()));
    }
    Err(look.error())
}

fn parse_args(input: ParseStream) -> syn::Result<Vec<Arg>> {
    let mut args = Vec::new();
    while !input.is_empty() {
        let arg = if input.peek(Ident::peek_any) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let name: Ident = input.call(Ident::parse_any)?;
            let _: Token![=] = input.parse()?;
            Arg { name: Some(name), value: input.parse()? }
        } else {
            Arg { name: None, value: input.parse()? }
        };
        args.push(arg);
        if input.is_empty() {
            break;
        }
        let _: Token![,] = input.parse()?;
    }
    Ok(args)
}

/// Parses the macro's input.
pub fn parse(tokens: TokenStream) -> syn::Result<NetworkDef> {
    syn::parse2(tokens)
}

/// Best-effort recovery of the struct's visibility and name from input that
/// does not parse, so a placeholder struct can still be emitted.
pub fn recover_header(tokens: TokenStream) -> Option<(Visibility, Ident)> {
    let mut vis = Visibility::Inherited;
    let mut iter = tokens.into_iter().peekable();
    let mut saw_struct = false;
    while let Some(tt) = iter.next() {
        match tt {
            proc_macro2::TokenTree::Ident(i) if i == "pub" => {
                vis = syn::parse_quote!(pub);
                if let Some(proc_macro2::TokenTree::Group(g)) = iter.peek() {
                    if g.delimiter() == Delimiter::Parenthesis {
                        let g = g.clone();
                        iter.next();
                        let stream = g.stream();
                        vis = syn::parse_quote!(pub(#stream));
                    }
                }
            }
            proc_macro2::TokenTree::Ident(i) if i == "struct" => saw_struct = true,
            proc_macro2::TokenTree::Ident(i) if saw_struct => return Some((vis, i)),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn parses_the_design_example() {
        let def = parse(quote! {
            /// Doc.
            pub struct Posts {
                let posts = Input(256);
                let x = keras.layers.Dense(64, activation = relu)(posts);
                let age = Dense(1, name = "age")(x);
                Model(posts, [age]);
                compile(optimizer = RMSprop(learning_rate = 0.01), loss = { age: mse }, loss_weights = [0.25]);
            }
        })
        .unwrap();
        assert_eq!(def.name, "Posts");
        assert_eq!(def.attrs.len(), 1);
        assert_eq!(def.stmts.len(), 5);
        match &def.stmts[1] {
            Stmt::Let { name, value: Expr::Call { func, args, .. } } => {
                assert_eq!(name, "x");
                assert_eq!(args.len(), 1);
                match &**func {
                    Expr::Call { func, args, .. } => {
                        assert!(matches!(&**func, Expr::Path(p) if p.len() == 3));
                        assert_eq!(args[1].name.as_ref().unwrap(), "activation");
                    }
                    _ => panic!("expected a call"),
                }
            }
            _ => panic!("expected let"),
        }
        match &def.stmts[4] {
            Stmt::Expr(Expr::Call { args, .. }) => {
                assert!(matches!(args[1].value, Expr::Map(ref m, _) if m.len() == 1));
            }
            _ => panic!(),
        }
    }

    #[test]
    fn tuples_and_negatives() {
        let e: Expr = syn::parse2(quote!(f((64,), axis = -1, (3))))
            .unwrap();
        match e {
            Expr::Call { args, .. } => {
                assert!(matches!(args[0].value, Expr::Tuple(ref v, _) if v.len() == 1));
                assert!(matches!(args[1].value, Expr::Neg(..)));
                assert!(matches!(args[2].value, Expr::Int(_)));
            }
            _ => panic!(),
        }
    }

    #[test]
    fn syntax_errors_are_errors() {
        assert!(parse(quote!(pub struct A { let x = Input(3) })).is_err());
        assert!(parse(quote!(pub struct A<T> {})).is_err());
        assert!(parse(quote!(pub fn a() {})).is_err());
        assert!(parse(quote!(pub struct A { let = 3; })).is_err());
        assert_eq!(recover_header(quote!(pub struct Foo { garbage })).unwrap().1, "Foo");
    }
}
