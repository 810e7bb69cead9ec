//! A `weights("file.safetensors")` statement: the file is read at compile
//! time (relative to the crate's Cargo.toml), checked against the graph
//! (every tensor there with its Keras shape, F32 or F64, finite; nothing
//! else), and its values baked into `PRETRAINED`.

use super::ctxt::Ctx;
use crate::ir::{Graph, Pretrained};
use crate::parse::{Arg, Expr};
use proc_macro2::Span;

/// Reads and checks the file of `weights("path")` (relative to the crate's
/// manifest): every tensor must be there with the graph's shape, F32 or F64,
/// finite; nothing else may be.
pub fn finish(ctx: &mut Ctx, mut graph: Graph, stmt: Option<(&Expr, Span)>) -> Graph {
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
                format!("`{rel}` has no tensor `{}`, which layer `{}` needs", spec.name, graph.nodes[spec.layer].layer),
            );
            ok = false;
            continue;
        };
        if view.shape() != spec.param.shape.as_slice() {
            ctx.error(
                lit.span(),
                format!(
                    "tensor `{}` in `{rel}` has shape {:?}, the network needs {:?}",
                    spec.name,
                    view.shape(),
                    spec.param.shape
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
    use crate::check::run;
    use crate::ir::Graph;
    use quote::quote;

    /// A file of zeros with these names and shapes.
    fn weights_file(tensors: &[(&str, Vec<usize>)]) -> String {
        let tag = format!("check-{}", tensors.len() * 7 + tensors[0].1[0]);
        let zeros: Vec<(&str, Vec<usize>, Vec<f32>)> =
            tensors.iter().map(|(n, shape)| (*n, shape.clone(), vec![0.0; shape.iter().product()])).collect();
        crate::check::safetensors_file(&tag, &zeros)
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
