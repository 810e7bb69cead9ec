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
use crate::ops::window::Geometry;
use crate::ops::{ConvForm, QuantKind};
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

/// What one int8 operation computes.
#[derive(Clone, Debug)]
enum StepKind {
    /// A product with a kernel `[rows, out]` (Keras's row-major layout):
    /// `Dense` (`rows` = inputs), a full convolution (`rows` = kh·kw·in)
    /// or a depthwise one (`rows` = kh·kw, `out` = in·multiplier).
    Weighted {
        conv: Option<(Geometry, bool)>,
        rows: usize,
        out: usize,
        kernel_key: &'static str,
        bias_key: Option<&'static str>,
    },
    /// The mean over `positions`, per channel.
    Mean { positions: usize, channels: usize },
    /// Pooling windows (the output keeps the input's parameters).
    Pool { max: bool, geometry: Geometry },
}

/// One int8 operation: a layer with what TFLite fuses into it.
#[derive(Clone, Debug)]
struct Step {
    /// The layer whose weights it uses (its field is named after it).
    owner: NodeId,
    /// Its field's name.
    field: String,
    kind: StepKind,
    activation: Activation,
    /// A batch normalization folded in: its node and epsilon.
    bn: Option<(NodeId, f64)>,
    /// Ends in TFLite's int8 softmax (the model's output).
    softmax: bool,
    /// The name of its output tensor in a scales file.
    tensor: String,
    /// Values per sample of its output.
    len: usize,
}

impl Step {
    /// Node `owner`'s step into the field `field`, its output `tensor` of
    /// `len` values per sample: linear, nothing folded in.
    fn new(owner: NodeId, field: String, kind: StepKind, tensor: String, len: usize) -> Step {
        Step { owner, field, kind, activation: Activation::Linear, bn: None, softmax: false, tensor, len }
    }
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

const SUPPORTED: &str = "Dense, Conv2D, DepthwiseConv2D, SeparableConv2D, BatchNormalization after a convolution, \
Activation (linear, relu, relu6; softmax on the output), MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, \
Flatten, Reshape and Dropout";

/// The model as a chain of int8 operations, from its one input to its one
/// head, with batch normalizations and activations fused as TFLite fuses
/// them.
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
    let head = g.heads[0].node;
    let mut steps: Vec<Step> = Vec::new();
    // whether the last step's output is the tensor just made (nothing but
    // identities since), so a normalization or activation can fuse into it
    let mut fusable = false;
    for (k, node) in g.nodes.iter().enumerate() {
        let ins = g.in_shapes(k);
        let len = node.shape.size();
        let fusable_before = std::mem::replace(&mut fusable, false);
        let fuse_act = |a: Activation| matches!(a, Activation::Linear | Activation::Relu | Activation::Relu6);
        let unsupported = |ctx: &mut Ctx, why: String| ctx.error(node.span, why);
        match node.op.quantized(&ins, &node.shape) {
            None => {
                unsupported(
                    ctx,
                    format!(
                        "`{}` (layer `{}`) is not supported by int8 quantization yet: `quantize(int8, …)` takes {SUPPORTED}",
                        node.op.class(),
                        node.name
                    ),
                );
                return None;
            }
            Some(QuantKind::Input) | Some(QuantKind::Identity) => fusable = fusable_before,
            Some(QuantKind::Dense { units, activation, use_bias }) => {
                if !ins[0].is_vector() {
                    unsupported(
                        ctx,
                        format!(
                            "int8 quantization takes `Dense` on vectors yet; `{}` is on a sequence or image",
                            node.name
                        ),
                    );
                    return None;
                }
                let softmax = activation == Activation::Softmax && k == head;
                if !fuse_act(activation) && !softmax {
                    unsupported(
                        ctx,
                        format!(
                            "int8 quantization fuses linear, relu and relu6 into `Dense` (softmax on the output layer only), not `{}` (layer `{}`)",
                            activation.name(),
                            node.name
                        ),
                    );
                    return None;
                }
                let kind = StepKind::Weighted {
                    conv: None,
                    rows: ins[0].last(),
                    out: units,
                    kernel_key: "kernel",
                    bias_key: use_bias.then_some("bias"),
                };
                steps.push(Step {
                    activation: if softmax { Activation::Linear } else { activation },
                    softmax,
                    ..Step::new(k, node.layer.clone(), kind, node.name.clone(), len)
                });
                fusable = !softmax;
            }
            Some(QuantKind::Conv { form, filters, multiplier, geometry, activation, use_bias }) => {
                if !fuse_act(activation) {
                    unsupported(
                        ctx,
                        format!(
                            "int8 quantization fuses linear, relu and relu6 into a convolution, not `{}` (layer `{}`)",
                            activation.name(),
                            node.name
                        ),
                    );
                    return None;
                }
                let taps = geometry.k_h * geometry.k_w;
                let c_in = geometry.channels;
                let layer = node.layer.clone();
                let bias_key = use_bias.then_some("bias");
                // A convolution's product: `geometry` with `depthwise`, its
                // kernel `[rows, out]` under `kernel_key`.
                let weighted = |geometry, depthwise, rows, out, kernel_key, bias_key| StepKind::Weighted {
                    conv: Some((geometry, depthwise)),
                    rows,
                    out,
                    kernel_key,
                    bias_key,
                };
                match form {
                    ConvForm::Full => steps.push(Step {
                        activation,
                        ..Step::new(
                            k,
                            layer,
                            weighted(geometry, false, taps * c_in, filters, "kernel", bias_key),
                            node.name.clone(),
                            len,
                        )
                    }),
                    ConvForm::Depthwise => steps.push(Step {
                        activation,
                        ..Step::new(
                            k,
                            layer,
                            weighted(geometry, true, taps, c_in * multiplier, "kernel", bias_key),
                            node.name.clone(),
                            len,
                        )
                    }),
                    ConvForm::Separable => {
                        let mid = c_in * multiplier;
                        steps.push(Step::new(
                            k,
                            format!("{layer}_depthwise"),
                            weighted(geometry, true, taps, mid, "depthwise_kernel", None),
                            format!("{}.depthwise", node.name),
                            geometry.out_h * geometry.out_w * mid,
                        ));
                        let pointwise = Geometry {
                            in_h: geometry.out_h,
                            in_w: geometry.out_w,
                            channels: mid,
                            k_h: 1,
                            k_w: 1,
                            stride_h: 1,
                            stride_w: 1,
                            dilation_h: 1,
                            dilation_w: 1,
                            pad_top: 0,
                            pad_left: 0,
                            ..geometry
                        };
                        steps.push(Step {
                            activation,
                            ..Step::new(
                                k,
                                format!("{layer}_pointwise"),
                                weighted(pointwise, false, mid, filters, "pointwise_kernel", bias_key),
                                node.name.clone(),
                                len,
                            )
                        });
                    }
                }
                fusable = activation == Activation::Linear;
            }
            Some(QuantKind::BatchNorm { epsilon }) => {
                let last = steps.last_mut().filter(|s| {
                    fusable_before && s.bn.is_none() && matches!(s.kind, StepKind::Weighted { conv: Some(_), .. })
                });
                let Some(last) = last else {
                    unsupported(
                        ctx,
                        format!(
                            "int8 quantization folds `BatchNormalization` into the convolution just before it, with no activation between; `{}` follows none",
                            node.name
                        ),
                    );
                    return None;
                };
                last.bn = Some((k, epsilon));
                last.tensor = node.name.clone();
                fusable = true;
            }
            Some(QuantKind::Activation(a)) => {
                let last =
                    steps.last_mut().filter(|s| fusable_before && s.activation == Activation::Linear && !s.softmax);
                let Some(last) = last else {
                    unsupported(
                        ctx,
                        format!("int8 quantization fuses `Activation` into the `Dense` or convolution just before it; `{}` follows none", node.name),
                    );
                    return None;
                };
                if a == Activation::Softmax && k == head && matches!(last.kind, StepKind::Weighted { conv: None, .. }) {
                    last.softmax = true;
                } else if fuse_act(a) {
                    last.activation = a;
                    last.tensor = node.name.clone();
                    fusable = true;
                } else {
                    unsupported(
                        ctx,
                        format!(
                            "int8 quantization fuses linear, relu and relu6 (softmax after the last `Dense`), not `{}` (layer `{}`)",
                            a.name(),
                            node.name
                        ),
                    );
                    return None;
                }
            }
            Some(QuantKind::Mean) => {
                let kind = StepKind::Mean { positions: ins[0].positions(), channels: ins[0].last() };
                steps.push(Step::new(k, node.layer.clone(), kind, node.name.clone(), len))
            }
            Some(QuantKind::Pool { max, geometry }) => {
                steps.push(Step::new(k, node.layer.clone(), StepKind::Pool { max, geometry }, node.name.clone(), len))
            }
        }
    }
    if steps.is_empty() {
        ctx.error(span, "int8 quantization needs at least one layer");
        return None;
    }
    for (k, s) in steps.iter().enumerate() {
        if steps[..k].iter().any(|t| t.field == s.field) {
            let node = &g.nodes[s.owner];
            ctx.error(
                node.span,
                format!("int8 quantization takes each layer once yet; `{}` is called twice", node.layer),
            );
            return None;
        }
    }
    Some(steps)
}

/// A baked tensor of a node's layer: `{layer}.{key}`.
fn tensor<'g>(g: &'g Graph, node: NodeId, key: &str) -> Option<&'g [f64]> {
    let pre = g.pretrained.as_ref()?;
    let name = format!("{}.{key}", g.nodes[node].layer);
    g.tensors().iter().position(|s| s.name == name).map(|i| pre.values[i].as_slice())
}

/// A weighted step's float kernel `[rows, out]` and bias, in f32, with its
/// batch normalization folded in as TFLite's converter folds it:
/// `inv = rsqrt(variance + ε) · γ`, kernel · inv, `bias · inv + (β − mean · inv)`.
fn folded(g: &Graph, s: &Step) -> (Vec<f32>, Vec<f32>) {
    let StepKind::Weighted { out, kernel_key, bias_key, .. } = s.kind else { return (Vec::new(), Vec::new()) };
    let mut kernel: Vec<f32> = tensor(g, s.owner, kernel_key).unwrap_or(&[]).iter().map(|&v| v as f32).collect();
    let mut bias: Vec<f32> = match bias_key.and_then(|k| tensor(g, s.owner, k)) {
        Some(b) => b.iter().map(|&v| v as f32).collect(),
        None => vec![0.0; out],
    };
    if let Some((bn, eps)) = s.bn {
        let get = |k: &str| -> Vec<f32> { tensor(g, bn, k).unwrap_or(&[]).iter().map(|&v| v as f32).collect() };
        let (gamma, beta, mean, var) = (get("gamma"), get("beta"), get("moving_mean"), get("moving_variance"));
        let inv: Vec<f32> = (0..out)
            .map(|c| {
                let r = 1.0f32 / (var[c] + eps as f32).sqrt();
                r * gamma.get(c).copied().unwrap_or(1.0)
            })
            .collect();
        for (i, w) in kernel.iter_mut().enumerate() {
            *w *= inv[i % out];
        }
        for c in 0..out {
            let offset = beta.get(c).copied().unwrap_or(0.0) - mean[c] * inv[c];
            bias[c] = bias[c] * inv[c] + offset;
        }
    }
    (kernel, bias)
}

/// The float model's step on one sample, in f32 as TFLite's calibration
/// runs it (a softmax left out: its input is the tensor measured).
fn step_f32(s: &Step, kernel: &[f32], bias: &[f32], x: &[f32]) -> Vec<f32> {
    let act = |v: f32| match s.activation {
        Activation::Relu => v.max(0.0),
        Activation::Relu6 => v.clamp(0.0, 6.0),
        _ => v,
    };
    match &s.kind {
        StepKind::Weighted { conv: None, rows, out, .. } => {
            (0..*out).map(|c| act((0..*rows).fold(bias[c], |acc, i| acc + x[i] * kernel[i * out + c]))).collect()
        }
        StepKind::Weighted { conv: Some((w, depthwise)), out, .. } => {
            let mut y = vec![0.0f32; w.out_h * w.out_w * out];
            for oy in 0..w.out_h {
                for ox in 0..w.out_w {
                    for c in 0..*out {
                        let mut acc = bias[c];
                        for_taps(w, oy, ox, |t, iy, ix| {
                            let px = &x[(iy * w.in_w + ix) * w.channels..][..w.channels];
                            if *depthwise {
                                acc += px[c * w.channels / out] * kernel[t * out + c];
                            } else {
                                for (ic, &v) in px.iter().enumerate() {
                                    acc += v * kernel[(t * w.channels + ic) * out + c];
                                }
                            }
                        });
                        y[(oy * w.out_w + ox) * out + c] = act(acc);
                    }
                }
            }
            y
        }
        StepKind::Mean { positions, channels } => (0..*channels)
            .map(|c| (0..*positions).map(|p| x[p * channels + c]).sum::<f32>() / *positions as f32)
            .collect(),
        StepKind::Pool { max, geometry: w } => {
            let mut y = vec![0.0f32; w.out_h * w.out_w * w.channels];
            for oy in 0..w.out_h {
                for ox in 0..w.out_w {
                    for c in 0..w.channels {
                        let (mut sum, mut top, mut n) = (0.0f32, f32::NEG_INFINITY, 0);
                        for_taps(w, oy, ox, |_, iy, ix| {
                            let v = x[(iy * w.in_w + ix) * w.channels + c];
                            sum += v;
                            top = top.max(v);
                            n += 1;
                        });
                        y[(oy * w.out_w + ox) * w.channels + c] = if *max { top } else { sum / n.max(1) as f32 };
                    }
                }
            }
            y
        }
    }
}

/// The runtime's window walk: tap index and input position of each tap
/// of output `(oy, ox)` that falls inside the input.
fn for_taps(w: &Geometry, oy: usize, ox: usize, mut f: impl FnMut(usize, usize, usize)) {
    for ky in 0..w.k_h {
        let iy = (oy * w.stride_h + ky * w.dilation_h) as isize - w.pad_top as isize;
        if iy < 0 || iy >= w.in_h as isize {
            continue;
        }
        for kx in 0..w.k_w {
            let ix = (ox * w.stride_w + kx * w.dilation_w) as isize - w.pad_left as isize;
            if ix >= 0 && ix < w.in_w as isize {
                f(ky * w.k_w + kx, iy as usize, ix as usize);
            }
        }
    }
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

/// Reads a file named relative to the crate's manifest; its bytes and
/// absolute path.
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
            format!(
                "`{rel}` has no tensor `{}`: a calibration file holds one tensor per input, named as the input, `[samples, …shape]`",
                input.var
            ),
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
                input.var,
                input.var,
                input.shape.0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
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
    let weights: Vec<(Vec<f32>, Vec<f32>)> = steps.iter().map(|s| folded(g, s)).collect();
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
            x = step_f32(step, &weights[k].0, &weights[k].1, &x);
            widen(&mut ranges[k + 1], &x);
        }
    }
    if ranges.iter().any(|r| !r.0.is_finite() || !r.1.is_finite()) {
        ctx.error(lit.span(), format!("the calibration inputs in `{rel}` give values that are not finite"));
        return None;
    }
    let mut params: Vec<QParams> = ranges.iter().map(|&(lo, hi)| quant::choose_params(lo, hi)).collect();
    for (k, s) in steps.iter().enumerate() {
        if let StepKind::Pool { .. } = s.kind {
            params[k + 1] = params[k];
        }
    }
    let kernel_scales = steps
        .iter()
        .zip(&weights)
        .map(|(s, (kernel, _))| match s.kind {
            StepKind::Weighted { rows, out, .. } => quant::kernel_scales(kernel, rows, out),
            _ => Vec::new(),
        })
        .collect::<Vec<_>>();
    let origin = format!("calibrated on the {} samples of `{rel}`", shape[0]);
    Some(plan(g, steps, &weights, &params, &kernel_scales, vec![path], origin))
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
        let p = match s.kind {
            StepKind::Pool { .. } => params[params.len() - 1],
            _ => tensor(ctx, &s.tensor),
        };
        params.push(p);
    }
    let mut kernel_scales = Vec::new();
    for s in steps {
        kernel_scales.push(match s.kind {
            StepKind::Weighted { out, kernel_key, .. } => {
                let key = format!("{}.{kernel_key}_scale", g.nodes[s.owner].layer);
                read(ctx, key, out).iter().map(|&v| v as f32).collect()
            }
            _ => Vec::new(),
        });
    }
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
    let weights: Vec<(Vec<f32>, Vec<f32>)> = steps.iter().map(|s| folded(g, s)).collect();
    let origin = format!("with the scales of `{rel}`");
    Some(plan(g, steps, &weights, &params, &kernel_scales, vec![path], origin))
}

/// The layers, once every tensor's parameters are known (`params[0]` the
/// input's, `params[k + 1]` step `k`'s output).
fn plan(
    g: &Graph,
    steps: &[Step],
    weights: &[(Vec<f32>, Vec<f32>)],
    params: &[QParams],
    kernel_scales: &[Vec<f32>],
    files: Vec<String>,
    origin: String,
) -> Int8Plan {
    let mut layers = Vec::new();
    let mut output = params[0];
    for (k, step) in steps.iter().enumerate() {
        let (input, out) = (params[k], params[k + 1]);
        match &step.kind {
            StepKind::Weighted { conv, rows, out: channels, .. } => {
                let (kernel, bias) = &weights[k];
                let q = quant::weighted(kernel, bias, *channels, step.activation, input, &kernel_scales[k], out);
                layers.push(match conv {
                    None => QLayer::Dense { name: step.field.clone(), inputs: *rows, units: *channels, q },
                    Some((geometry, depthwise)) => QLayer::Conv {
                        name: step.field.clone(),
                        geometry: *geometry,
                        depthwise: *depthwise,
                        rows: *rows,
                        channels: *channels,
                        out_len: step.len,
                        q,
                    },
                });
            }
            StepKind::Mean { positions, channels } => {
                let (multiplier, shift) = quant::mean_multiplier(input.scale, out.scale, *positions);
                layers.push(QLayer::Mean {
                    name: step.field.clone(),
                    positions: *positions,
                    channels: *channels,
                    multiplier,
                    shift,
                    input_zero_point: input.zero_point,
                    output_zero_point: out.zero_point,
                });
            }
            StepKind::Pool { max, geometry } => {
                layers.push(QLayer::Pool {
                    name: step.field.clone(),
                    max: *max,
                    geometry: *geometry,
                    out_len: step.len,
                });
            }
        }
        output = out;
        if step.softmax {
            let (input_multiplier, input_left_shift, diff_min) = quant::softmax_scaling(out.scale);
            layers.push(QLayer::Softmax {
                name: format!("{}_softmax", step.field),
                len: step.len,
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
        crate::check::safetensors_file(&format!("quantize-{tag}"), tensors)
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
        let [QLayer::Dense { q, inputs: 3, units: 2, .. }] = plan.layers.as_slice() else {
            panic!("{:?}", plan.layers)
        };
        // relu: the range starts at 0, which is the zero point −128
        assert_eq!((q.act_min, q.output_zero_point), (-128, -128));
        // per channel, the largest magnitude is ±127
        let by_unit = q.kernel_by_output(3, 2);
        assert_eq!(by_unit[..3].iter().map(|k| k.abs()).max(), Some(127));
        assert_eq!(by_unit[3..].iter().map(|k| k.abs()).max(), Some(127));
    }

    #[test]
    fn a_normalization_folds_only_into_a_convolution() {
        let kernel: Vec<f32> = (0..6).map(|i| i as f32 / 4.0 - 0.6).collect();
        let bn = |k: &'static str| (k, vec![2], vec![1.0f32, 0.5]);
        let w = file(
            "w3",
            &[
                ("h.kernel", vec![3, 2], kernel),
                ("h.bias", vec![2], vec![0.1, -0.2]),
                bn("bn.gamma"),
                bn("bn.beta"),
                bn("bn.moving_mean"),
                bn("bn.moving_variance"),
            ],
        );
        let c = calibration("c3");
        let q: proc_macro2::TokenStream = format!("quantize(int8, calibration = {c:?});").parse().unwrap();
        let e = with(quote::quote!(let y = BatchNormalization(name = "bn")(Dense(2, name = "h")(x));), &w, q)
            .err()
            .unwrap_or_default()
            .join("\n");
        assert!(e.contains("folds `BatchNormalization` into the convolution just before it"), "{e}");
    }

    #[test]
    fn a_shared_layer_is_an_error() {
        let w = file("w4", &[("h.kernel", vec![3, 3], vec![0.1; 9]), ("h.bias", vec![3], vec![0.0; 3])]);
        let c = calibration("c4");
        let q: proc_macro2::TokenStream = format!("quantize(int8, calibration = {c:?});").parse().unwrap();
        let e = with(quote::quote!(let h = Dense(3, name = "h"); let y = h(h(x));), &w, q)
            .err()
            .unwrap_or_default()
            .join("\n");
        assert!(e.contains("takes each layer once yet; `h` is called twice"), "{e}");
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
            quote::quote!(let y = Dense(2, name = "h")(Activation(relu)(x));),
            &w,
            q("quantize(int8, calibration = CAL);"),
        ));
        assert!(
            e.contains("fuses `Activation` into the `Dense` or convolution just before it; `activation` follows none"),
            "{e}"
        );
        let e = errs(with(
            quote::quote!(let y = Activation(tanh)(Dense(2, name = "h")(x));),
            &w,
            q("quantize(int8, calibration = CAL);"),
        ));
        assert!(e.contains("not `tanh` (layer `activation`)"), "{e}");
        let e = errs(with(
            quote::quote!(let y = Dense(2, name = "h")(GlobalMaxPooling1D()(Reshape((1, 3))(x)));),
            &w,
            q("quantize(int8, calibration = CAL);"),
        ));
        assert!(
            e.contains("`GlobalMaxPooling1D` (layer `global_max_pooling1d`) is not supported by int8 quantization yet"),
            "{e}"
        );
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
