//! `quantize(int8, calibration = "calib.safetensors")` (or `scales =
//! "scales.safetensors"`): the int8 model `{Name}Int8`, its constants
//! computed here, at compile time, from the baked weights and either the
//! calibration inputs (each tensor's range over them, as TFLite's converter
//! measures it) or scales given outright (TFLite's own, read from the
//! `.tflite` by `tools/int8_fixtures.py`).
//!
//! A scales file holds, for the input (named as the input) and each
//! layer's output (named as the layer; a `Dense` with softmax names its
//! logits, the softmax's output being TFLite's fixed 1/256 and −128),
//! `{tensor}.scale` (F32 `[1]`) and `{tensor}.zero_point` (I32 `[1]`), and
//! for each `Dense`, `{layer}.kernel_scale` (F32 `[units]`).

use super::ctxt::Ctx;
use crate::ir::{Graph, NodeId};
use crate::ops::QuantKind;
use crate::parse::{Arg, Expr};
use crate::quant::{self, Int8Plan, QLayer, QParams};
use crate::vocab::Activation;
use proc_macro2::Span;
use syn::ext::IdentExt;

/// Where the scales come from.
enum Source {
    Calibration(syn::LitStr),
    Scales(syn::LitStr),
}

/// A layer of the chain the int8 model runs.
struct Step {
    node: NodeId,
    units: usize,
    inputs: usize,
    activation: Activation,
    use_bias: bool,
}

/// Reads the `quantize(…)` statement and builds the int8 plan into
/// `graph.int8`.
pub fn finish(ctx: &mut Ctx, mut graph: Graph, stmt: Option<(&Expr, Span)>) -> Graph {
    let Some((Expr::Call { args, .. }, span)) = stmt else { return graph };
    let Some(source) = read_args(ctx, args, span) else { return graph };
    if ctx.has_errors() {
        return graph;
    }
    if graph.pretrained.is_none() {
        ctx.error(span, "`quantize` needs the weights baked in: add `weights(\"model.safetensors\");` to the network");
        return graph;
    }
    let Some(steps) = chain(ctx, &graph, span) else { return graph };
    let plan = match &source {
        Source::Calibration(lit) => calibrated(ctx, &graph, &steps, lit),
        Source::Scales(lit) => given(ctx, &graph, &steps, lit),
    };
    graph.int8 = plan;
    graph
}

fn read_args(ctx: &mut Ctx, args: &[Arg], span: Span) -> Option<Source> {
    let usage = "`quantize(int8, calibration = \"calibration.safetensors\")` or `quantize(int8, scales = \"scales.safetensors\")`";
    let mut scheme = false;
    let mut source = None;
    let mut ok = true;
    for (k, arg) in args.iter().enumerate() {
        match (&arg.name, &arg.value) {
            (None, Expr::Ident(i)) if k == 0 && i.unraw() == "int8" => scheme = true,
            (None, Expr::Str(s)) if k == 0 && s.value() == "int8" => scheme = true,
            (None, other) if k == 0 => {
                ctx.error(other.span(), format!("`quantize` supports `int8` only: {usage}"));
                ok = false;
            }
            (Some(name), Expr::Str(s)) if name == "calibration" || name == "scales" => {
                if source.is_some() {
                    ctx.error(name.span(), "`quantize` takes one of `calibration` and `scales`");
                    ok = false;
                } else if name == "calibration" {
                    source = Some(Source::Calibration(s.clone()));
                } else {
                    source = Some(Source::Scales(s.clone()));
                }
            }
            (Some(name), _) if name == "calibration" || name == "scales" => {
                ctx.error(
                    arg.value.span(),
                    format!("`{name}` takes a path, relative to the crate's Cargo.toml: {usage}"),
                );
                ok = false;
            }
            (Some(name), _) => {
                ctx.error(name.span(), format!("`quantize` has no argument `{name}`: {usage}"));
                ok = false;
            }
            (None, other) => {
                ctx.error(other.span(), format!("unexpected argument: {usage}"));
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    if !scheme || source.is_none() {
        ctx.error(span, format!("`quantize` needs a scheme and where its scales come from: {usage}"));
        return None;
    }
    source
}

/// The model as a chain of supported layers, from its one input to its
/// one head.
fn chain(ctx: &mut Ctx, g: &Graph, span: Span) -> Option<Vec<Step>> {
    if g.inputs.len() != 1 || g.heads.len() != 1 {
        ctx.error(
            span,
            format!(
                "int8 quantization takes a model with one input and one output; this one has {} and {}",
                g.inputs.len(),
                g.heads.len()
            ),
        );
        return None;
    }
    let head = g.heads[0].node;
    let supported = "Dense (activation linear, relu or relu6; softmax on the output) and Dropout";
    let mut steps = Vec::new();
    let mut ok = true;
    for (k, node) in g.nodes.iter().enumerate() {
        let kind = node.op.quantized();
        let unsupported = |ctx: &mut Ctx, why: String| {
            ctx.error(node.span, why);
        };
        match kind {
            None => {
                unsupported(
                    ctx,
                    format!(
                        "`{}` (layer `{}`) is not supported by int8 quantization yet: `quantize(int8, …)` takes {supported}",
                        node.op.class(),
                        node.name
                    ),
                );
                ok = false;
            }
            Some(QuantKind::Input) => {
                if !node.shape.is_vector() {
                    unsupported(
                        ctx,
                        format!("int8 quantization takes a vector input yet; `{}` has shape {}", node.name, node.shape),
                    );
                    ok = false;
                }
            }
            Some(QuantKind::Identity) => {}
            Some(QuantKind::Dense { units, activation, use_bias }) => {
                let input = node.inputs.first().map(|&i| &g.nodes[i].shape);
                let Some(input) = input.filter(|s| s.is_vector()) else {
                    unsupported(
                        ctx,
                        format!(
                            "int8 quantization takes `Dense` on vectors yet; `{}` is on a sequence or image",
                            node.name
                        ),
                    );
                    ok = false;
                    continue;
                };
                let fine = match activation {
                    Activation::Linear | Activation::Relu | Activation::Relu6 => true,
                    Activation::Softmax => k == head,
                    _ => false,
                };
                if !fine {
                    unsupported(
                        ctx,
                        format!(
                            "int8 quantization fuses linear, relu and relu6 into `Dense` (softmax on the output layer only), not `{}` (layer `{}`)",
                            activation.name(),
                            node.name
                        ),
                    );
                    ok = false;
                }
                steps.push(Step { node: k, units, inputs: input.last(), activation, use_bias });
            }
        }
    }
    // a chain: each layer reads the one before it
    for (k, node) in g.nodes.iter().enumerate() {
        if node.inputs.len() > 1 || (k > 0 && node.inputs.first() != Some(&(k - 1))) {
            ctx.error(
                node.span,
                format!(
                    "int8 quantization takes a chain of layers yet; `{}` does not read the layer just before it",
                    node.name
                ),
            );
            return None;
        }
    }
    ok.then_some(steps)
}

/// The baked weights of a node's layer: kernel and bias.
fn weights(g: &Graph, node: NodeId) -> (&[f64], Option<&[f64]>) {
    let pre = g.pretrained.as_ref().expect("checked");
    let layer = &g.nodes[node].layer;
    let specs = g.tensors();
    let find =
        |key: &str| specs.iter().position(|s| s.name == format!("{layer}.{key}")).map(|i| pre.values[i].as_slice());
    (find("kernel").unwrap_or(&[]), find("bias"))
}

fn open(ctx: &mut Ctx, lit: &syn::LitStr, what: &str) -> Option<(Vec<u8>, String)> {
    let base = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let path = std::path::Path::new(&base).join(lit.value());
    match std::fs::read(&path) {
        Ok(b) => Some((b, path.to_string_lossy().into_owned())),
        Err(e) => {
            ctx.error(lit.span(), format!("cannot read {what} file `{}`: {e}", path.display()));
            None
        }
    }
}

/// A tensor's values as `f64`, for F32, F64, I32, I64 and I8 tensors.
fn values(view: &safetensors::tensor::TensorView) -> Option<Vec<f64>> {
    use safetensors::Dtype;
    let d = view.data();
    Some(match view.dtype() {
        Dtype::F64 => d.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect(),
        Dtype::F32 => {
            d.chunks_exact(4).map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap_or([0; 4])))).collect()
        }
        Dtype::I64 => d.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f64).collect(),
        Dtype::I32 => {
            d.chunks_exact(4).map(|c| f64::from(i32::from_le_bytes(c.try_into().unwrap_or([0; 4])))).collect()
        }
        Dtype::I8 => d.iter().map(|&b| f64::from(b as i8)).collect(),
        _ => return None,
    })
}

/// Scales computed from the calibration inputs: the float model (in f32,
/// as TFLite's calibration runs it) on every sample, each tensor's minimum
/// and maximum, and parameters from them.
fn calibrated(ctx: &mut Ctx, g: &Graph, steps: &[Step], lit: &syn::LitStr) -> Option<Int8Plan> {
    let (bytes, path) = open(ctx, lit, "calibration")?;
    let rel = lit.value();
    let file = match safetensors::SafeTensors::deserialize(&bytes) {
        Ok(f) => f,
        Err(e) => {
            ctx.error(lit.span(), format!("`{rel}` is not a safetensors file: {e}"));
            return None;
        }
    };
    let input = &g.nodes[g.inputs[0]];
    let width = input.shape.size();
    let Ok(view) = file.tensor(&input.var) else {
        ctx.error(
            lit.span(),
            format!("`{rel}` has no tensor `{}`: a calibration file holds one tensor per input, named as the input, `[samples, …shape]`", input.var),
        );
        return None;
    };
    let shape = view.shape().to_vec();
    let per_sample: usize = shape.iter().skip(1).product();
    if shape.len() < 2 || per_sample != width || shape[0] == 0 {
        ctx.error(
            lit.span(),
            format!(
                "tensor `{}` in `{rel}` has shape {shape:?}: the calibration inputs of `{}` are `[samples, {}]`",
                input.var, input.var, width
            ),
        );
        return None;
    }
    let data = match values(&view) {
        Some(v) if matches!(view.dtype(), safetensors::Dtype::F32 | safetensors::Dtype::F64) => v,
        _ => {
            ctx.error(
                lit.span(),
                format!("tensor `{}` in `{rel}` has dtype {:?}: expected F32 or F64", input.var, view.dtype()),
            );
            return None;
        }
    };
    // ranges: the input, then each step's output (a softmax's logits)
    let mut ranges = vec![(f32::INFINITY, f32::NEG_INFINITY); steps.len() + 1];
    let widen = |r: &mut (f32, f32), xs: &[f32]| {
        for &v in xs {
            r.0 = r.0.min(v);
            r.1 = r.1.max(v);
        }
    };
    for sample in data.chunks_exact(width) {
        let mut x: Vec<f32> = sample.iter().map(|&v| v as f32).collect();
        widen(&mut ranges[0], &x);
        for (k, step) in steps.iter().enumerate() {
            let (kernel, bias) = weights(g, step.node);
            x = quant::dense_f32(&x, kernel, bias, step.units, step.activation);
            widen(&mut ranges[k + 1], &x);
        }
    }
    if ranges.iter().any(|r| !r.0.is_finite() || !r.1.is_finite()) {
        ctx.error(lit.span(), format!("the calibration inputs in `{rel}` give values that are not finite"));
        return None;
    }
    let params: Vec<QParams> = ranges.iter().map(|&(lo, hi)| quant::choose_params(lo, hi)).collect();
    let kernel_scales = steps
        .iter()
        .map(|s| {
            let (kernel, _) = weights(g, s.node);
            quant::kernel_scales(kernel, s.inputs, s.units)
        })
        .collect::<Vec<_>>();
    let origin = format!("calibrated on the {} samples of `{rel}`", shape[0]);
    Some(plan(g, steps, &params, &kernel_scales, vec![path], origin))
}

/// Scales read from a file.
fn given(ctx: &mut Ctx, g: &Graph, steps: &[Step], lit: &syn::LitStr) -> Option<Int8Plan> {
    let (bytes, path) = open(ctx, lit, "scales")?;
    let rel = lit.value();
    let file = match safetensors::SafeTensors::deserialize(&bytes) {
        Ok(f) => f,
        Err(e) => {
            ctx.error(lit.span(), format!("`{rel}` is not a safetensors file: {e}"));
            return None;
        }
    };
    let mut ok = true;
    let mut read = |ctx: &mut Ctx, key: String, len: usize| -> Vec<f64> {
        let got = file.tensor(&key).ok().and_then(|v| values(&v)).filter(|v| v.len() == len);
        match got {
            Some(v) if v.iter().all(|x| x.is_finite()) => v,
            _ => {
                ctx.error(lit.span(), format!("`{rel}` needs a tensor `{key}` of {len} number(s)"));
                ok = false;
                vec![1.0; len]
            }
        }
    };
    let mut tensor = |ctx: &mut Ctx, name: &str| {
        let scale = read(ctx, format!("{name}.scale"), 1)[0] as f32;
        let zero_point = read(ctx, format!("{name}.zero_point"), 1)[0] as i32;
        QParams { scale, zero_point }
    };
    let mut params = vec![tensor(ctx, &g.nodes[g.inputs[0]].var)];
    for s in steps {
        params.push(tensor(ctx, &g.nodes[s.node].name));
    }
    let kernel_scales: Vec<Vec<f32>> = steps
        .iter()
        .map(|s| {
            read(ctx, format!("{}.kernel_scale", g.nodes[s.node].name), s.units).iter().map(|&v| v as f32).collect()
        })
        .collect();
    if !ok {
        return None;
    }
    if let Some(bad) = params.iter().find(|p| p.scale <= 0.0 || !(-128..=127).contains(&p.zero_point)) {
        ctx.error(
            lit.span(),
            format!("`{rel}` has a scale {} or zero point {} out of range", bad.scale, bad.zero_point),
        );
        return None;
    }
    let origin = format!("with the scales of `{rel}`");
    Some(plan(g, steps, &params, &kernel_scales, vec![path], origin))
}

/// The layers, once every tensor's parameters are known (`params[0]` the
/// input's, `params[k + 1]` step `k`'s output).
fn plan(
    g: &Graph,
    steps: &[Step],
    params: &[QParams],
    kernel_scales: &[Vec<f32>],
    files: Vec<String>,
    origin: String,
) -> Int8Plan {
    let mut layers = Vec::new();
    let mut output = params[0];
    for (k, step) in steps.iter().enumerate() {
        let (kernel, bias) = weights(g, step.node);
        let bias = if step.use_bias { bias } else { None };
        let name = &g.nodes[step.node].name;
        let out = params[k + 1];
        layers.push(quant::dense(
            name,
            kernel,
            bias,
            step.inputs,
            step.units,
            step.activation,
            params[k],
            &kernel_scales[k],
            out,
        ));
        output = out;
        if step.activation == Activation::Softmax {
            let (input_multiplier, input_left_shift, diff_min) = quant::softmax_scaling(out.scale);
            layers.push(QLayer::Softmax {
                name: format!("{name}_softmax"),
                len: step.units,
                input_multiplier,
                input_left_shift,
                diff_min,
            });
            output = quant::SOFTMAX_OUTPUT;
        }
    }
    let input_len = g.nodes[g.inputs[0]].shape.size();
    let output_len = g.nodes[g.heads[0].node].shape.size();
    Int8Plan { input: params[0], input_len, output, output_len, layers, files, origin }
}

#[cfg(test)]
mod tests {
    use crate::check::run;
    use crate::ir::Graph;
    use crate::quant::QLayer;

    /// Writes F32 tensors to a temporary safetensors file; its path.
    fn file(tag: &str, tensors: &[(&str, Vec<usize>, Vec<f32>)]) -> String {
        let data: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
            .iter()
            .map(|(n, shape, v)| (n.to_string(), v.iter().flat_map(|x| x.to_le_bytes()).collect(), shape.clone()))
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
        let path = std::env::temp_dir().join(format!("staticnet-quantize-{}-{tag}.safetensors", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        path.to_string_lossy().into_owned()
    }

    fn weights(tag: &str) -> String {
        let kernel: Vec<f32> = (0..6).map(|i| i as f32 / 4.0 - 0.6).collect();
        file(tag, &[("h.kernel", vec![3, 2], kernel), ("h.bias", vec![2], vec![0.1, -0.2])])
    }

    fn calibration(tag: &str) -> String {
        let x: Vec<f32> = (0..12).map(|i| i as f32 / 6.0 - 1.0).collect();
        file(tag, &[("x", vec![4, 3], x)])
    }

    fn with(
        middle: proc_macro2::TokenStream,
        w: &str,
        quantize: proc_macro2::TokenStream,
    ) -> Result<Graph, Vec<String>> {
        let stmt: proc_macro2::TokenStream = format!("weights({w:?});").parse().unwrap();
        run(quote::quote! {
            pub struct Q {
                let x = Input(3);
                #middle
                Model(x, y);
                #stmt
                #quantize
            }
        })
    }

    #[test]
    fn calibrated_dense_is_planned() {
        let (w, c) = (weights("w1"), calibration("c1"));
        let q: proc_macro2::TokenStream = format!("quantize(int8, calibration = {c:?});").parse().unwrap();
        let g = with(quote::quote!(let y = Dense(2, activation = relu, name = "h")(Dropout(0.5)(x));), &w, q)
            .unwrap_or_else(|e| panic!("{e:?}"));
        let plan = g.int8.expect("a plan");
        // inputs in [−1, 0.83]: scale 1.83/255, zero point −128 + 1/scale
        assert!((plan.input.scale - (11.0 / 6.0) / 255.0).abs() < 1e-6, "{:?}", plan.input);
        assert_eq!(plan.input.zero_point, 11);
        let [QLayer::Dense { kernel, act_min, output_zero_point, .. }] = plan.layers.as_slice() else {
            panic!("{:?}", plan.layers)
        };
        // relu: the range starts at 0, which is the zero point −128
        assert_eq!((*act_min, *output_zero_point), (-128, -128));
        // per channel, the largest magnitude is ±127
        assert_eq!(kernel[..3].iter().map(|k| k.abs()).max(), Some(127));
        assert_eq!(kernel[3..].iter().map(|k| k.abs()).max(), Some(127));
    }

    #[test]
    fn misuse_is_an_error() {
        let (w, c) = (weights("w2"), calibration("c2"));
        let q = |s: &str| -> proc_macro2::TokenStream { s.replace("CAL", &format!("{c:?}")).parse().unwrap() };
        let dense = quote::quote!(let y = Dense(2, name = "h")(x););
        let errs = |r: Result<Graph, Vec<String>>| r.err().unwrap_or_default().join("\n");
        let e = errs(with(
            quote::quote!(let y = Dense(2, activation = tanh, name = "h")(x);),
            &w,
            q("quantize(int8, calibration = CAL);"),
        ));
        assert!(e.contains("not `tanh` (layer `h`)"), "{e}");
        let e = errs(with(
            quote::quote!(let y = Dense(2, name = "h")(Activation(tanh)(x));),
            &w,
            q("quantize(int8, calibration = CAL);"),
        ));
        assert!(e.contains("`Activation` (layer `activation`) is not supported by int8 quantization yet"), "{e}");
        let e = errs(with(dense.clone(), &w, q("quantize(int16, calibration = CAL);")));
        assert!(e.contains("supports `int8` only"), "{e}");
        let e = errs(with(dense.clone(), &w, q("quantize(int8);")));
        assert!(e.contains("needs a scheme and where its scales come from"), "{e}");
        let e = errs(with(dense.clone(), &w, q("quantize(int8, calibration = CAL, scales = CAL);")));
        assert!(e.contains("one of `calibration` and `scales`"), "{e}");
        let e = errs(with(dense.clone(), &w, q("quantize(int8, scales = CAL);")));
        assert!(e.contains("needs a tensor `x.scale`"), "{e}");
        let e =
            errs(with(dense.clone(), &w, q("quantize(int8, calibration = CAL); quantize(int8, calibration = CAL);")));
        assert!(e.contains("`quantize` is given twice"), "{e}");
        let e = errs(with(dense, &w, q("quantize(int8, calibration = \"/nonexistent/c.safetensors\");")));
        assert!(e.contains("cannot read calibration file"), "{e}");
    }
}
