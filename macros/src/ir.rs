//! The checked graph: nodes in definition (hence topological) order with
//! their widths and Keras names, the model's inputs and heads, what
//! `compile` fixed, and the workspace layout the generated passes use.

use proc_macro2::Span;

/// Index of a node in [`Graph::nodes`].
pub type NodeId = usize;

/// An activation, by its Keras name; `variant` is the runtime enum's variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Act {
    pub name: &'static str,
    pub variant: &'static str,
}

impl Act {
    pub const LINEAR: Act = Act { name: "linear", variant: "Linear" };
    pub fn is_linear(self) -> bool {
        self.variant == "Linear"
    }

    /// Whether its backward pass needs its input (the runtime's
    /// `Activation::needs_input`); the others' derivatives follow from the output.
    pub fn needs_input(self) -> bool {
        matches!(self.variant, "Gelu" | "Silu" | "Mish")
    }
}

/// Every activation name `network!` accepts.
pub const ACTIVATIONS: &[Act] = &[
    Act { name: "linear", variant: "Linear" },
    Act { name: "relu", variant: "Relu" },
    Act { name: "relu6", variant: "Relu6" },
    Act { name: "leaky_relu", variant: "LeakyRelu" },
    Act { name: "elu", variant: "Elu" },
    Act { name: "selu", variant: "Selu" },
    Act { name: "gelu", variant: "Gelu" },
    Act { name: "sigmoid", variant: "Sigmoid" },
    Act { name: "hard_sigmoid", variant: "HardSigmoid" },
    Act { name: "tanh", variant: "Tanh" },
    Act { name: "softmax", variant: "Softmax" },
    Act { name: "log_softmax", variant: "LogSoftmax" },
    Act { name: "softplus", variant: "Softplus" },
    Act { name: "softsign", variant: "Softsign" },
    Act { name: "silu", variant: "Silu" },
    Act { name: "swish", variant: "Silu" },
    Act { name: "mish", variant: "Mish" },
    Act { name: "exponential", variant: "Exponential" },
];

/// Element-wise merges; the variant names match the runtime's `Merge`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeOp {
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
}

impl MergeOp {
    pub fn variant(self) -> &'static str {
        match self {
            MergeOp::Add => "Add",
            MergeOp::Subtract => "Subtract",
            MergeOp::Multiply => "Multiply",
            MergeOp::Average => "Average",
            MergeOp::Maximum => "Maximum",
            MergeOp::Minimum => "Minimum",
        }
    }
}

/// What a node computes.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Input,
    Dense { units: usize, activation: Act, use_bias: bool },
    Activation(Act),
    Dropout { rate: f64 },
    LayerNorm { epsilon: f64 },
    BatchNorm { momentum: f64, epsilon: f64 },
    Merge(MergeOp),
    Concatenate,
    Dot { normalize: bool },
}

impl Op {
    /// Keras's class name, for the summary.
    pub fn class(&self) -> &'static str {
        match self {
            Op::Input => "InputLayer",
            Op::Dense { .. } => "Dense",
            Op::Activation(_) => "Activation",
            Op::Dropout { .. } => "Dropout",
            Op::LayerNorm { .. } => "LayerNormalization",
            Op::BatchNorm { .. } => "BatchNormalization",
            Op::Merge(m) => match m {
                MergeOp::Add => "Add",
                MergeOp::Subtract => "Subtract",
                MergeOp::Multiply => "Multiply",
                MergeOp::Average => "Average",
                MergeOp::Maximum => "Maximum",
                MergeOp::Minimum => "Minimum",
            },
            Op::Concatenate => "Concatenate",
            Op::Dot { .. } => "Dot",
        }
    }

    /// The activation applied last, if the node ends in one.
    pub fn activation(&self) -> Option<Act> {
        match self {
            Op::Dense { activation, .. } => Some(*activation),
            Op::Activation(a) => Some(*a),
            _ => None,
        }
    }

    pub fn has_params(&self) -> bool {
        matches!(self, Op::Dense { .. } | Op::LayerNorm { .. } | Op::BatchNorm { .. })
    }
}

/// One layer application (or input).
#[derive(Clone, Debug)]
pub struct Node {
    pub op: Op,
    pub inputs: Vec<NodeId>,
    /// Features per sample.
    pub width: usize,
    /// Keras's layer name.
    pub name: String,
    /// The `let` binding that holds it.
    pub var: String,
    /// The layer's token (`Dense`, `add`, `Input`), for errors.
    pub span: Span,
}

impl Node {
    /// Parameter tensors: (variable, Keras shape, trainable).
    pub fn tensors(&self, in_width: usize) -> Vec<(&'static str, Vec<usize>, bool)> {
        match &self.op {
            Op::Dense { units, use_bias, .. } => {
                let mut t = vec![("kernel", vec![in_width, *units], true)];
                if *use_bias {
                    t.push(("bias", vec![*units], true));
                }
                t
            }
            Op::LayerNorm { .. } => vec![("gamma", vec![self.width], true), ("beta", vec![self.width], true)],
            Op::BatchNorm { .. } => vec![
                ("gamma", vec![self.width], true),
                ("beta", vec![self.width], true),
                ("moving_mean", vec![self.width], false),
                ("moving_variance", vec![self.width], false),
            ],
            _ => Vec::new(),
        }
    }
}

/// A loss as `compile` named it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    Mse,
    Mae,
    Huber,
    Categorical { from_logits: bool },
    SparseCategorical { from_logits: bool },
    Binary { from_logits: bool },
}

impl LossKind {
    /// Whether the loss and `act` fuse into one stable gradient.
    pub fn fuses_with(self, act: Act) -> bool {
        matches!(
            (self, act.variant),
            (LossKind::Categorical { from_logits: false }, "Softmax")
                | (LossKind::SparseCategorical { from_logits: false }, "Softmax")
                | (LossKind::Binary { from_logits: false }, "Sigmoid")
        )
    }
}

/// A metric resolved for one head (runtime `MetricKind` variant names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    CategoricalAccuracy,
    BinaryAccuracy,
    SparseCategoricalAccuracy,
    MeanSquaredError,
    MeanAbsoluteError,
}

/// The optimizer `compile` names.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerSpec {
    /// `Sgd`, `RmsProp` or `Adam` (runtime type names).
    pub kind: &'static str,
    /// Builder calls: (method, value).
    pub settings: Vec<(&'static str, Setting)>,
}

/// A hyperparameter value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Setting {
    Float(f64),
    Bool(bool),
}

/// One output of the model.
#[derive(Clone, Debug)]
pub struct Head {
    pub node: NodeId,
    pub loss: Option<LossKind>,
    pub weight: f64,
    pub metrics: Vec<Metric>,
}

/// The whole checked model.
#[derive(Clone, Debug)]
pub struct Graph {
    pub nodes: Vec<Node>,
    /// `Model`'s inputs, in order.
    pub inputs: Vec<NodeId>,
    pub heads: Vec<Head>,
    pub optimizer: OptimizerSpec,
    /// Summary title (`Model(name = …)`, else the struct's name).
    pub title: String,
    /// Weights baked in by `weights("…")`.
    pub pretrained: Option<Pretrained>,
}

/// The tensors of a `weights("…")` file, checked against the graph.
#[derive(Clone, Debug)]
pub struct Pretrained {
    /// Absolute path, for `include_bytes!` (so editing the file rebuilds).
    pub path: String,
    /// Every parameter tensor's values, in the order of [`Graph::tensors`].
    pub values: Vec<Vec<f64>>,
}

/// One parameter tensor of the graph.
#[derive(Clone, Debug)]
pub struct TensorSpec {
    pub layer: NodeId,
    pub name: String,
    pub variable: &'static str,
    pub shape: Vec<usize>,
}

impl Graph {
    /// Nodes that feed `id`'s consumers: the list of consumers of each node.
    pub fn consumers(&self) -> Vec<Vec<NodeId>> {
        let mut out = vec![Vec::new(); self.nodes.len()];
        for (k, node) in self.nodes.iter().enumerate() {
            for &i in &node.inputs {
                out[i].push(k);
            }
        }
        out
    }

    /// Every parameter tensor, in definition order (the runtime's `TENSORS`).
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let mut out = Vec::new();
        for (k, node) in self.nodes.iter().enumerate() {
            let in_width = node.inputs.first().map_or(0, |&i| self.nodes[i].width);
            for (variable, shape, _) in node.tensors(in_width) {
                out.push(TensorSpec { layer: k, name: format!("{}.{}", node.name, variable), variable, shape });
            }
        }
        out
    }

    /// Whether every head has a loss, so training code is generated.
    pub fn trainable(&self) -> bool {
        !self.heads.is_empty() && self.heads.iter().all(|h| h.loss.is_some())
    }

    pub fn param_count(&self) -> (usize, usize) {
        let mut trainable = 0;
        let mut fixed = 0;
        for node in &self.nodes {
            let in_width = node.inputs.first().map_or(0, |&i| self.nodes[i].width);
            for (_, shape, tr) in node.tensors(in_width) {
                let n: usize = shape.iter().product();
                if tr {
                    trainable += n
                } else {
                    fixed += n
                }
            }
        }
        (trainable, fixed)
    }

    /// Whether the head at index `h` takes the fused activation+loss gradient:
    /// its node ends in the matching activation and feeds nothing else.
    pub fn fused(&self, h: usize, consumers: &[Vec<NodeId>]) -> bool {
        let head = &self.heads[h];
        let node = &self.nodes[head.node];
        let used_once =
            consumers[head.node].is_empty() && self.heads.iter().filter(|o| o.node == head.node).count() == 1;
        match (head.loss, node.op.activation()) {
            (Some(loss), Some(act)) => used_once && loss.fuses_with(act),
            _ => false,
        }
    }

    /// The workspace layout of the generated passes.
    pub fn layout(&self) -> Layout {
        let mut rows = 0;
        let mut slots = Vec::new();
        let mut stats = 0;
        let alloc = |rows_needed: usize, rows: &mut usize| {
            let at = *rows;
            *rows += rows_needed;
            at
        };
        for node in &self.nodes {
            let w = node.width;
            let mut slot = Slot::default();
            if node.op != Op::Input {
                slot.out = Some(alloc(w, &mut rows));
                match &node.op {
                    Op::Dense { activation, .. } if activation.needs_input() => slot.pre = Some(alloc(w, &mut rows)),
                    Op::Dropout { .. } => slot.pre = Some(alloc(w, &mut rows)),
                    Op::LayerNorm { .. } => {
                        slot.pre = Some(alloc(w, &mut rows));
                        slot.aux = Some(alloc(1, &mut rows));
                    }
                    Op::BatchNorm { .. } => {
                        slot.pre = Some(alloc(w, &mut rows));
                        slot.stats = Some(stats);
                        stats += 3 * w;
                    }
                    _ => {}
                }
            }
            slots.push(slot);
        }
        let forward_rows = rows;
        for (node, slot) in self.nodes.iter().zip(slots.iter_mut()) {
            if node.op != Op::Input {
                slot.grad = Some(alloc(node.width, &mut rows));
            }
        }
        Layout { slots, forward_rows, train_rows: rows, stats_len: stats }
    }
}

/// Row offsets (per sample) of one node's buffers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    /// Its output.
    pub out: Option<usize>,
    /// Pre-activation (Dense), dropout mask, or normalised input (`x̂`).
    pub pre: Option<usize>,
    /// Layer normalization's `1/σ` per sample.
    pub aux: Option<usize>,
    /// Offset of batch normalization's statistics in the stats buffer.
    pub stats: Option<usize>,
    /// `dL/d(output)`.
    pub grad: Option<usize>,
}

/// The workspace layout.
#[derive(Clone, Debug)]
pub struct Layout {
    pub slots: Vec<Slot>,
    pub forward_rows: usize,
    pub train_rows: usize,
    pub stats_len: usize,
}
