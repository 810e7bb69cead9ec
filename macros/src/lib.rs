//! The `network!` proc-macro of staticnet: a thin shim over `parse` (syntax
//! with spans), `check` (names, shapes and graph rules, into the `ir`),
//! `ops` (one module per layer kind) and `expand` (code generation), which
//! are unit-tested without rustc.

mod check;
mod expand;
#[cfg(test)]
mod fuzz;
mod ir;
mod ops;
mod parse;
mod quant;
// The vocabulary shared with the runtime: one file, compiled by both crates.
#[allow(dead_code)]
#[path = "../../runtime/vocab.rs"]
mod vocab;

use proc_macro::TokenStream;

/// Compiles a Keras functional-API model into a plain struct of fixed-size
/// nalgebra matrices with generated forward and backward passes. See the
/// `staticnet` crate for the language and the generated API.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    expand_network(input.into()).into()
}

/// The whole pipeline on `proc_macro2` tokens; never panics. After an error
/// it emits every error found and a placeholder struct with the network's
/// name, so code that uses the network adds no errors of its own.
fn expand_network(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let def = match parse::parse(input.clone()) {
        Ok(def) => def,
        Err(e) => {
            let mut out = e.to_compile_error();
            if let Some((vis, name)) = parse::recover_header(input) {
                out.extend(expand::placeholder(&vis, &name, &check::Interface::default()));
                out.extend(expand::broken_descriptor(&name));
            }
            return out;
        }
    };
    match check::check(&def) {
        Ok(graph) => expand::expand(&def, &graph),
        // A network called as a layer: its descriptor macro (defined with
        // it) calls `network!` again on these tokens, described.
        Err(check::Failure { wanted: Some(name), .. }) => quote::quote_spanned!(name.span()=> #name! { #input }),
        Err(failure) => {
            let mut out = failure.error.to_compile_error();
            out.extend(expand::placeholder(&def.vis, &def.name, &failure.iface));
            out.extend(expand::broken_descriptor(&def.name));
            out
        }
    }
}
