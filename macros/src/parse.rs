//! Syntax of the `network!` language: a small expression language that
//! reads like Keras's functional API. The AST keeps every token's span so
//! `check` can point errors at the offending token.

use proc_macro2::{Delimiter, Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::discouraged::Speculative;
use syn::parse::{Parse, ParseStream};
use syn::{braced, bracketed, parenthesized, Attribute, Ident, LitBool, LitFloat, LitInt, LitStr, Token, Visibility};

/// `#[attrs] vis struct Name { stmts }`.
pub struct NetworkDef {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub stmts: Vec<Stmt>,
    /// Span of the closing brace, for "missing `Model`" errors.
    pub close_span: Span,
    /// Syntax errors in statements that were skipped (each up to its `;`),
    /// so that the other statements are still checked.
    pub syntax_errors: Vec<syn::Error>,
}

/// One statement, ended by `;`.
pub enum Stmt {
    /// `let name = value;`
    Let { name: Ident, value: Expr },
    /// `Model(...);`, `compile(...);`, `weights(...);`
    Expr(Expr),
    /// A statement that did not parse and was skipped; its error is in
    /// [`NetworkDef::syntax_errors`]. `let_name` is the name it binds, `head`
    /// its first identifier otherwise (`Model`, `compile`), so that checking
    /// the rest adds no errors of its own about them.
    Broken { let_name: Option<Ident>, head: Option<Ident>, tokens: TokenStream },
}

/// An expression.
#[derive(Clone)]
pub enum Expr {
    /// `x`, `relu`, `true`-less identifiers.
    Ident(Ident),
    /// `keras.layers.Dense`: at least two segments.
    Path(Vec<Ident>),
    /// `func(args)`; `close` is the span of its `)`.
    Call {
        func: Box<Expr>,
        args: Vec<Arg>,
        close: Span,
    },
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
    /// The span of the expression's last token.
    pub fn end_span(&self) -> Span {
        match self {
            Expr::Call { close, .. } => *close,
            Expr::Neg(_, inner) => inner.end_span(),
            Expr::Path(p) => p.last().map(|i| i.span()).unwrap_or_else(Span::call_site),
            other => other.span(),
        }
    }

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
        if !input.peek(syn::token::Brace) {
            return Err(input.error(format!(
                "expected `{{` after `struct {name}`, {}: the network's statements go in braces",
                found(input)
            )));
        }
        let body;
        let brace = braced!(body in input);
        let mut stmts = Vec::new();
        let mut syntax_errors = Vec::new();
        while !body.is_empty() {
            let fork = body.fork();
            match fork.parse::<Stmt>() {
                Ok(stmt) => {
                    body.advance_to(&fork);
                    stmts.push(stmt);
                }
                Err(e) => {
                    syntax_errors.push(e);
                    stmts.push(skip_statement(&body)?);
                }
            }
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the network's `}`: one `network!` defines one struct"));
        }
        Ok(NetworkDef { attrs, vis, name, stmts, close_span: brace.span.close(), syntax_errors })
    }
}

/// Skips a statement that did not parse: up to and including its `;`, or up
/// to the next token that starts a statement (`let`, `Model`, `compile`), so
/// that a forgotten `;` loses no statement. Records what it can of the
/// statement so that checking the others adds no errors about it.
fn skip_statement(body: ParseStream) -> syn::Result<Stmt> {
    use proc_macro2::TokenTree;
    body.step(|cursor| {
        let mut rest = *cursor;
        let mut let_name = None;
        let mut head = None;
        let mut first = true;
        let mut after_let = false;
        let mut tokens = TokenStream::new();
        while let Some((tt, next)) = rest.token_tree() {
            match &tt {
                TokenTree::Punct(p) if p.as_char() == ';' => {
                    rest = next;
                    break;
                }
                TokenTree::Ident(i) if !first && (i == "let" || i == "Model" || i == "compile") => break,
                TokenTree::Ident(i) => {
                    if first && i == "let" {
                        after_let = true;
                    } else if after_let {
                        let_name = Some(i.clone());
                        after_let = false;
                    } else if first {
                        head = Some(i.clone());
                    }
                }
                _ => after_let = false,
            }
            first = false;
            tokens.extend(std::iter::once(tt));
            rest = next;
        }
        Ok((Stmt::Broken { let_name, head, tokens }, rest))
    })
}

/// Reads what it can of a call that did not parse, such as `Model(x, [a, b] c)`:
/// each comma-separated argument up to its first error. Nothing is reported;
/// this only lets the placeholder know the network's inputs and outputs.
pub fn lenient_call(tokens: TokenStream) -> Option<Expr> {
    use proc_macro2::TokenTree;
    let mut iter = tokens.into_iter();
    let func = match iter.next()? {
        TokenTree::Ident(i) => Expr::Ident(i),
        _ => return None,
    };
    let group = iter.find_map(|t| match t {
        TokenTree::Group(g) if g.delimiter() == Delimiter::Parenthesis => Some(g),
        _ => None,
    })?;
    let mut pieces: Vec<TokenStream> = vec![TokenStream::new()];
    for tt in group.stream() {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == ',' => pieces.push(TokenStream::new()),
            _ => pieces.last_mut()?.extend(std::iter::once(tt)),
        }
    }
    let arg = |input: ParseStream| -> syn::Result<Arg> {
        let name = if input.peek(Ident::peek_any) && input.peek2(Token![=]) {
            let name: Ident = input.call(Ident::parse_any)?;
            let _: Token![=] = input.parse()?;
            Some(name)
        } else {
            None
        };
        let value: Expr = input.parse()?;
        let _: TokenStream = input.parse()?;
        Ok(Arg { name, value })
    };
    let args = pieces.into_iter().filter_map(|p| syn::parse::Parser::parse2(arg, p).ok()).collect();
    Some(Expr::Call { func: Box::new(func), args, close: group.span_close() })
}

/// `found `x`` for the next token, for "expected …" messages.
fn found(input: ParseStream) -> String {
    use proc_macro2::TokenTree;
    match input.cursor().token_tree() {
        None => "found the end of the input".to_string(),
        Some((TokenTree::Group(g), _)) => match g.delimiter() {
            Delimiter::Parenthesis => "found `(`".to_string(),
            Delimiter::Bracket => "found `[`".to_string(),
            Delimiter::Brace => "found `{`".to_string(),
            Delimiter::None => "found a macro fragment".to_string(),
        },
        Some((TokenTree::Ident(i), _)) => format!("found `{i}`"),
        Some((TokenTree::Punct(p), _)) => format!("found `{}`", p.as_char()),
        Some((TokenTree::Literal(l), _)) => format!("found `{l}`"),
    }
}

thread_local! {
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Deepest nesting of expressions accepted, so that no input can overflow
/// the stack.
const MAX_DEPTH: usize = 48;

/// Counts one level of expression nesting while it lives.
struct Nesting;

impl Nesting {
    fn enter(input: ParseStream) -> syn::Result<Nesting> {
        let depth = DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        let guard = Nesting;
        if depth > MAX_DEPTH {
            return Err(
                input.error(format!("expression nested too deeply: `network!` accepts at most {MAX_DEPTH} levels"))
            );
        }
        Ok(guard)
    }
}

impl Drop for Nesting {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

impl Parse for Stmt {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Token![let]) {
            let _: Token![let] = input.parse()?;
            let name: Ident = input
                .call(Ident::parse_any)
                .map_err(|_| input.error(format!("expected a tensor name after `let`, {}", found(input))))?;
            if !input.peek(Token![=]) {
                return Err(input.error(format!("expected `=` after `let {name}`, {}", found(input))));
            }
            let _: Token![=] = input.parse()?;
            let value: Expr = input.parse()?;
            expect_semi(input, value.end_span())?;
            return Ok(Stmt::Let { name, value });
        }
        let value: Expr = input.parse()?;
        expect_semi(input, value.end_span())?;
        Ok(Stmt::Expr(value))
    }
}

fn expect_semi(input: ParseStream, last: Span) -> syn::Result<()> {
    if input.peek(Token![;]) {
        let _: Token![;] = input.parse()?;
        Ok(())
    } else if input.is_empty() {
        Err(syn::Error::new(last, "expected `;` after this statement"))
    } else {
        Err(syn::Error::new(last, format!("expected `;`, {}", found(input))))
    }
}

impl Parse for Expr {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let _nesting = Nesting::enter(input)?;
        let mut expr = parse_primary(input)?;
        // postfix calls: `Dense(10)(x)`
        while input.peek(syn::token::Paren) {
            let content;
            let paren = parenthesized!(content in input);
            let args = parse_args(&content)?;
            expr = Expr::Call { func: Box::new(expr), args, close: paren.span.close() };
        }
        Ok(expr)
    }
}

fn parse_primary(input: ParseStream) -> syn::Result<Expr> {
    let _nesting = Nesting::enter(input)?;
    if input.peek(Token![-]) {
        let minus: Token![-] = input.parse()?;
        let inner = parse_primary(input)?;
        if !matches!(inner, Expr::Int(_) | Expr::Float(_)) {
            return Err(syn::Error::new(
                minus.span,
                format!("`-` applies to a number only, found {}", inner.describe()),
            ));
        }
        return Ok(Expr::Neg(minus.span, Box::new(inner)));
    }
    let look = input.lookahead1();
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
        let (items, _) = parse_items(&content, "]")?;
        return Ok(Expr::List(items, bracket.span.join()));
    }
    if look.peek(syn::token::Paren) {
        let content;
        let paren = parenthesized!(content in input);
        let (mut items, trailing) = parse_items(&content, ")")?;
        if items.len() == 1 && !trailing {
            if let Some(item) = items.pop() {
                return Ok(item);
            }
        }
        return Ok(Expr::Tuple(items, paren.span.join()));
    }
    if look.peek(syn::token::Brace) {
        let content;
        let brace = braced!(content in input);
        let mut entries = Vec::new();
        while !content.is_empty() {
            let key = if content.peek(LitStr) {
                MapKey::Str(content.parse()?)
            } else if content.peek(Ident::peek_any) {
                MapKey::Ident(content.call(Ident::parse_any)?)
            } else {
                return Err(
                    content.error(format!("expected an output name as the key of a map entry, {}", found(&content)))
                );
            };
            if !content.peek(Token![:]) || content.peek(Token![::]) {
                return Err(content.error(format!("expected `:` after the key `{}`, {}", key.text(), found(&content))));
            }
            let _: Token![:] = content.parse()?;
            let value: Expr = content.parse()?;
            entries.push((key, value));
            if content.is_empty() {
                break;
            }
            expect_comma(&content, "}", "a map entry")?;
        }
        return Ok(Expr::Map(entries, brace.span.join()));
    }
    let _ = look;
    Err(input.error(format!(
        "expected a value: a tensor name, a layer such as `Dense(32)`, a number, a string, `true`/`false`, a list `[…]` or a map `{{…}}`; {}",
        found(input)
    )))
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
        expect_comma(input, ")", "an argument")?;
    }
    Ok(args)
}

/// The `,` between items, or the error "expected `,` or `)` after …".
fn expect_comma(input: ParseStream, close: &str, after: &str) -> syn::Result<()> {
    if input.peek(Token![,]) {
        let _: Token![,] = input.parse()?;
        Ok(())
    } else {
        Err(input.error(format!("expected `,` or `{close}` after {after}, {}", found(input))))
    }
}

/// Comma-separated values up to `close`; whether a trailing comma ended them.
fn parse_items(input: ParseStream, close: &str) -> syn::Result<(Vec<Expr>, bool)> {
    let mut items = Vec::new();
    let mut trailing = false;
    while !input.is_empty() {
        items.push(input.parse()?);
        trailing = false;
        if input.is_empty() {
            break;
        }
        expect_comma(input, close, "an item")?;
        trailing = true;
    }
    Ok((items, trailing))
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
                vis = Visibility::Public(Token![pub](i.span()));
                if let Some(proc_macro2::TokenTree::Group(g)) = iter.peek() {
                    if g.delimiter() == Delimiter::Parenthesis {
                        let g = g.clone();
                        iter.next();
                        let tokens: TokenStream =
                            [proc_macro2::TokenTree::Ident(i), proc_macro2::TokenTree::Group(g)].into_iter().collect();
                        if let Ok(v) = syn::parse2::<Visibility>(tokens) {
                            vis = v;
                        }
                    }
                }
            }
            proc_macro2::TokenTree::Ident(i) if i == "struct" => saw_struct = true,
            // the name right after `struct`, if it can name a struct
            proc_macro2::TokenTree::Ident(i) if saw_struct => {
                return syn::parse2::<Ident>(proc_macro2::TokenTree::Ident(i).into()).ok().map(|name| (vis, name));
            }
            _ if saw_struct => return None,
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
        let e: Expr = syn::parse2(quote!(f((64,), axis = -1, (3)))).unwrap();
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
        let broken = |t: TokenStream| parse(t).map_or(true, |d| !d.syntax_errors.is_empty());
        assert!(broken(quote!(pub struct A { let x = Input(3) })));
        assert!(parse(quote!(
            pub struct A<T> {}
        ))
        .is_err());
        assert!(parse(quote!(
            pub fn a() {}
        ))
        .is_err());
        assert!(broken(quote!(pub struct A { let = 3; })));
        assert_eq!(recover_header(quote!(pub struct Foo { garbage })).unwrap().1, "Foo");
    }

    #[test]
    fn a_bad_statement_is_skipped_and_the_rest_kept() {
        let def = parse(quote! {
            pub struct A {
                let x = Input(3)
                let y = Dense(4 activation = relu)(x);
                let z = Dense(2)(x);
                Model(x, z);
            }
        })
        .unwrap();
        assert_eq!(def.syntax_errors.len(), 2);
        assert_eq!(def.syntax_errors[0].to_string(), "expected `;`, found `let`");
        assert_eq!(def.syntax_errors[1].to_string(), "expected `,` or `)` after an argument, found `activation`");
        assert!(matches!(&def.stmts[0], Stmt::Broken { let_name: Some(n), .. } if n == "x"));
        let model = parse(quote!(pub struct A { Model(x, [a, b] c); })).unwrap();
        let Stmt::Broken { tokens, .. } = &model.stmts[0] else { panic!("expected a broken statement") };
        let Some(Expr::Call { args, .. }) = lenient_call(tokens.clone()) else { panic!("expected a call") };
        assert!(
            matches!(&args[..], [Arg { value: Expr::Ident(_), .. }, Arg { value: Expr::List(v, _), .. }] if v.len() == 2)
        );
        assert!(matches!(&def.stmts[1], Stmt::Broken { let_name: Some(n), .. } if n == "y"));
        assert!(matches!(&def.stmts[2], Stmt::Let { .. }));
        assert!(matches!(&def.stmts[3], Stmt::Expr(_)));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // proc-macro2's own tokenizer (not ours) recurses per bracket, and in
        // an optimized test build its frames overflow the default 2 MiB test
        // thread; rustc's real tokenizer runs on a large stack.
        let run = || {
            let mut s = String::from("1");
            for _ in 0..5000 {
                s = format!("[{s}]");
            }
            let tokens: TokenStream = format!("pub struct A {{ let x = Input({s}); }}").parse().unwrap();
            let def = parse(tokens).unwrap();
            assert!(def.syntax_errors[0].to_string().contains("nested too deeply"));
        };
        std::thread::Builder::new().stack_size(64 << 20).spawn(run).unwrap().join().unwrap();
    }
}
