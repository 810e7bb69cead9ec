//! The checked graph: nodes in definition (hence topological) order with
//! their per-sample shapes and Keras names, the model's inputs and heads,
//! what `compile` fixed, and the workspace layout the generated passes use.

use crate::ops::{Op, Param, Stream};
use crate::vocab::{Loss, MetricKind, OptimizerKind};
use proc_macro2::Span;
use std::fmt;

/// Index of a node in [`Graph::nodes`].
pub type NodeId = usize;

/// A tensor's shape per sample, as Keras writes it without the batch axis,
/// channels last: `(features,)`, `(steps, channels)`, `(height, width,
/// channels)`. A sample travels flattened in row-major order (the last axis
/// fastest), so a batch is a column-major matrix of [`Shape::size`] rows,
/// and a layer on the last axis sees [`Shape::positions`] columns of
/// [`Shape::last`] rows per sample.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// `(n,)`.
    pub fn vector(n: usize) -> Shape {
        Shape(vec![n])
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    pub fn is_vector(&self) -> bool {
        self.0.len() == 1
    }

    /// Scalars per sample.
    pub fn size(&self) -> usize {
        self.0.iter().product()
    }

    /// The last axis: features, or channels.
    pub fn last(&self) -> usize {
        self.0.last().copied().unwrap_or(1)
    }

    /// Positions per sample along the other axes (1 for a vector).
    pub fn positions(&self) -> usize {
        self.size() / self.last().max(1)
    }

    /// The same shape with the last axis set to `n`.
    pub fn with_last(&self, n: usize) -> Shape {
        let mut dims = self.0.clone();
        if let Some(l) = dims.last_mut() {
            *l = n;
        }
        Shape(dims)
    }

    /// What a tensor of this shape has, in messages: `32 features` for a
    /// vector (`1 feature`), `shape (25, 5, 64)` otherwise.
    pub fn describe(&self) -> String {
        match self.0.as_slice() {
            [1] => "1 feature".to_string(),
            [n] => format!("{n} features"),
            _ => format!("shape {self}"),
        }
    }
}

/// Keras's notation: `(64,)`, `(25, 5, 64)`.
impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [n] => write!(f, "({n},)"),
            dims => {
                let inner: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
                write!(f, "({})", inner.join(", "))
            }
        }
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One layer application (or input).
#[derive(Clone, Debug)]
pub struct Node {
    pub op: Box<dyn Op>,
    pub inputs: Vec<NodeId>,
    /// Shape per sample.
    pub shape: Shape,
    /// A name of its own: Keras's layer name, or for a shared layer's
    /// later calls `{layer}__call{k}` (it names the node's buffers, and a
    /// head's output field).
    pub name: String,
    /// The layer whose parameters it uses: its own name, or the shared
    /// layer's (`self.{layer}`, weights `{layer}.kernel`).
    pub layer: String,
    /// The `let` binding that holds it.
    pub var: String,
    /// The layer's token (`Dense`, `add`, `Input`), for errors.
    pub span: Span,
}

impl Node {
    pub fn is_input(&self) -> bool {
        self.op.is_input()
    }

    /// Whether it holds token ids (an `int32` input) rather than values.
    pub fn ids(&self) -> bool {
        self.op.makes_ids()
    }
}

/// The optimizer `compile` names.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerSpec {
    pub kind: OptimizerKind,
    /// Builder calls: (hyperparameter, value).
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
    pub loss: Option<Loss>,
    pub weight: f64,
    pub metrics: Vec<MetricKind>,
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
    /// The int8 model of `quantize(int8, …)`.
    pub int8: Option<crate::quant::Int8Plan>,
    /// The one input is `(None, channels)`: the model only streams (its
    /// sequences are held as one step).
    pub steps_vary: bool,
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
    /// `"{layer}.{key}"`.
    pub name: String,
    pub param: Param,
}

impl Graph {
    /// The consumers of each node.
    pub fn consumers(&self) -> Vec<Vec<NodeId>> {
        let mut out = vec![Vec::new(); self.nodes.len()];
        for (k, node) in self.nodes.iter().enumerate() {
            for &i in &node.inputs {
                out[i].push(k);
            }
        }
        out
    }

    /// The shapes of node `k`'s inputs.
    pub fn in_shapes(&self, k: NodeId) -> Vec<&Shape> {
        self.nodes[k].inputs.iter().map(|&i| &self.nodes[i].shape).collect()
    }

    /// Node `k`'s parameter tensors.
    pub fn params(&self, k: NodeId) -> Vec<Param> {
        if !self.holds_params(k) {
            return Vec::new();
        }
        self.nodes[k].op.params(&self.in_shapes(k), &self.nodes[k].shape)
    }

    /// Whether node `k` is its layer's first call, which holds the layer's
    /// parameters (the field, the initial values, the tensor table).
    pub fn holds_params(&self, k: NodeId) -> bool {
        self.nodes.iter().position(|n| n.layer == self.nodes[k].layer) == Some(k)
    }

    /// Every call of node `k`'s layer, in order (one unless it is shared).
    pub fn calls(&self, k: NodeId) -> Vec<NodeId> {
        (0..self.nodes.len()).filter(|&j| self.nodes[j].layer == self.nodes[k].layer).collect()
    }

    /// Every parameter tensor, in definition order (the runtime's `TENSORS`).
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let mut out = Vec::new();
        for (k, node) in self.nodes.iter().enumerate() {
            for param in self.params(k) {
                out.push(TensorSpec { layer: k, name: format!("{}.{}", node.layer, param.key), param });
            }
        }
        out
    }

    /// Whether every head has a loss, so training code is generated.
    pub fn trainable(&self) -> bool {
        !self.heads.is_empty() && self.heads.iter().all(|h| h.loss.is_some())
    }

    /// (trainable, non-trainable) parameter counts.
    pub fn param_count(&self) -> (usize, usize) {
        let (mut trainable, mut fixed) = (0, 0);
        for t in self.tensors() {
            let n: usize = t.param.shape.iter().product();
            if t.param.trainable {
                trainable += n
            } else {
                fixed += n
            }
        }
        (trainable, fixed)
    }

    /// Whether the head at index `h` takes the fused activation+loss gradient:
    /// its node ends in the matching activation and feeds nothing else.
    pub fn fused(&self, h: usize, consumers: &[Vec<NodeId>]) -> bool {
        let head = &self.heads[h];
        let used_once =
            consumers[head.node].is_empty() && self.heads.iter().filter(|o| o.node == head.node).count() == 1;
        match (head.loss, self.nodes[head.node].op.activation()) {
            (Some(loss), Some(act)) => used_once && loss.fuses_with(act),
            _ => false,
        }
    }

    /// How each node runs step by step, when the model streams: one input
    /// that is a sequence of values `(steps, channels)`, and no layer that
    /// needs the whole sequence. `None` otherwise.
    pub fn stream_kinds(&self) -> Option<Vec<Stream>> {
        let [input] = self.inputs[..] else { return None };
        if self.nodes[input].ids() || self.nodes[input].shape.rank() != 2 {
            return None;
        }
        let kinds: Vec<Stream> =
            (0..self.nodes.len())
                .map(|k| {
                    if self.nodes[k].is_input() {
                        Stream::PerStep
                    } else {
                        self.nodes[k].op.stream(&self.in_shapes(k))
                    }
                })
                .collect();
        (!kinds.contains(&Stream::Whole)).then_some(kinds)
    }

    /// The streaming state's fields (see [`state_fields`]).
    pub fn state_fields(&self) -> Vec<StateField> {
        state_fields(&self.nodes)
    }

    /// The graph of one step: every sequence `(steps, c)` becomes the
    /// vector `(c,)` of its current step; vectors (a recurrent layer's
    /// last state, so far) stay.
    pub fn step_graph(&self) -> Graph {
        let mut g = self.clone();
        for node in &mut g.nodes {
            if node.shape.rank() == 2 {
                node.shape = Shape::vector(node.shape.last());
            }
        }
        g
    }

    /// The workspace layout of the generated passes: each node's output and
    /// scratch buffers for the forward pass, then the gradients.
    pub fn layout(&self) -> Layout {
        let mut rows = 0;
        let mut stats = 0;
        let take = |rows: &mut usize, n: usize| {
            *rows += n;
            *rows - n
        };
        let mut slots: Vec<Slot> = Vec::new();
        for (k, node) in self.nodes.iter().enumerate() {
            let mut slot = Slot::default();
            if !node.is_input() {
                slot.out = Some(take(&mut rows, node.shape.size()));
                let buffers = node.op.buffers(&self.in_shapes(k), &node.shape);
                for (role, n) in buffers.scratch {
                    slot.scratch.push((role, take(&mut rows, n), n));
                }
                if buffers.stats > 0 {
                    slot.stats = Some((stats, stats + buffers.stats));
                    stats += buffers.stats;
                }
            }
            slots.push(slot);
        }
        let forward_rows = rows;
        for (node, slot) in self.nodes.iter().zip(slots.iter_mut()) {
            if !node.is_input() {
                slot.grad = Some(take(&mut rows, node.shape.size()));
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
    /// Its scratch buffers: role, offset, rows.
    pub scratch: Vec<(&'static str, usize, usize)>,
    /// The range of its statistics in the stats buffer.
    pub stats: Option<(usize, usize)>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_print_as_keras_does() {
        assert_eq!(Shape::vector(64).to_string(), "(64,)");
        assert_eq!(Shape(vec![25, 5, 64]).to_string(), "(25, 5, 64)");
        assert_eq!(Shape::vector(32).describe(), "32 features");
        assert_eq!(Shape::vector(1).describe(), "1 feature");
        assert_eq!(Shape(vec![25, 5, 64]).describe(), "shape (25, 5, 64)");
        let s = Shape(vec![49, 10, 8]);
        assert_eq!((s.size(), s.last(), s.positions()), (3920, 8, 490));
        assert_eq!(s.with_last(3), Shape(vec![49, 10, 3]));
    }
}

/// One field of a streaming model's state: a stateful layer's carry.
#[derive(Clone, Debug, PartialEq)]
pub struct StateField {
    /// The layer's node name (the field's name).
    pub name: String,
    /// Its scalars.
    pub len: usize,
    /// The field's doc line.
    pub doc: String,
}

/// The state's fields of the streaming model these nodes make: one per
/// layer that carries values from step to step, in order. Nodes whose
/// inputs are among them are all that is needed, so the placeholder of a
/// broken network gets the fields of the layers that were built.
pub fn state_fields(nodes: &[Node]) -> Vec<StateField> {
    nodes
        .iter()
        .filter(|node| !node.is_input())
        .filter_map(|node| {
            let in_shapes: Vec<&Shape> = node.inputs.iter().map(|&i| &nodes[i].shape).collect();
            let Stream::Stateful(len @ 1..) = node.op.stream(&in_shapes) else { return None };
            let doc = match node.op.class() {
                "LSTM" => format!("`{}` (LSTM): `h`, then `c` ({len} values).", node.name),
                "Conv1D" => format!(
                    "`{}` (causal Conv1D): the last input frames its taps reach back to, oldest first ({len} values).",
                    node.name
                ),
                class => format!("`{}` ({class}): `h` ({len} values).", node.name),
            };
            Some(StateField { name: node.name.clone(), len, doc })
        })
        .collect()
}
