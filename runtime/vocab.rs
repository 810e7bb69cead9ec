//! The vocabulary the runtime and the `network!` macro share: activations,
//! losses, metrics and optimizers, by their Keras names.
//!
//! This one file is compiled twice: as the runtime's module `vocab`, and by
//! the macro crate, which includes it with `#[path]` (as
//! `serde_derive_internals` includes serde_derive's `internals`). So every
//! name the macro accepts is a name the runtime knows, generated code names
//! the enum variants below, and neither crate keeps a list of its own. It
//! must stay free of dependencies, of `std` and of `crate::` paths.

/// An activation function, by its Keras name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `x`.
    Linear,
    /// `max(x, 0)` (NaN stays NaN, as in Keras).
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// `x` for `x >= 0`, else `0.2 x`.
    LeakyRelu,
    /// `x` for `x > 0`, else `exp(x) - 1`.
    Elu,
    /// `scale * elu(x, alpha)` with Keras's constants.
    Selu,
    /// `0.5 x (1 + erf(x / sqrt 2))` (exact form).
    Gelu,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `relu6(x + 3) / 6`.
    HardSigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `exp(x) / Σ exp(x)` over the features.
    Softmax,
    /// `x - log Σ exp(x)` over the features.
    LogSoftmax,
    /// `log(1 + exp(x))`.
    Softplus,
    /// `x / (1 + |x|)`.
    Softsign,
    /// `x * sigmoid(x)` (also called swish).
    Silu,
    /// `x * tanh(softplus(x))`.
    Mish,
    /// `exp(x)`.
    Exponential,
}

impl Activation {
    /// Every activation with its Keras name (and aliases).
    pub const NAMED: &'static [(&'static str, Activation)] = &[
        ("linear", Activation::Linear),
        ("relu", Activation::Relu),
        ("relu6", Activation::Relu6),
        ("leaky_relu", Activation::LeakyRelu),
        ("elu", Activation::Elu),
        ("selu", Activation::Selu),
        ("gelu", Activation::Gelu),
        ("sigmoid", Activation::Sigmoid),
        ("hard_sigmoid", Activation::HardSigmoid),
        ("tanh", Activation::Tanh),
        ("softmax", Activation::Softmax),
        ("log_softmax", Activation::LogSoftmax),
        ("softplus", Activation::Softplus),
        ("softsign", Activation::Softsign),
        ("silu", Activation::Silu),
        ("swish", Activation::Silu),
        ("mish", Activation::Mish),
        ("exponential", Activation::Exponential),
    ];

    /// The activation Keras calls `name` (or an alias of it).
    pub fn from_name(name: &str) -> Option<Activation> {
        Self::NAMED.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }

    /// The Keras name.
    pub fn name(self) -> &'static str {
        Self::NAMED.iter().find(|(_, a)| *a == self).map_or("linear", |(n, _)| *n)
    }

    /// The variant's name, for generated code.
    pub const fn variant(self) -> &'static str {
        match self {
            Activation::Linear => "Linear",
            Activation::Relu => "Relu",
            Activation::Relu6 => "Relu6",
            Activation::LeakyRelu => "LeakyRelu",
            Activation::Elu => "Elu",
            Activation::Selu => "Selu",
            Activation::Gelu => "Gelu",
            Activation::Sigmoid => "Sigmoid",
            Activation::HardSigmoid => "HardSigmoid",
            Activation::Tanh => "Tanh",
            Activation::Softmax => "Softmax",
            Activation::LogSoftmax => "LogSoftmax",
            Activation::Softplus => "Softplus",
            Activation::Softsign => "Softsign",
            Activation::Silu => "Silu",
            Activation::Mish => "Mish",
            Activation::Exponential => "Exponential",
        }
    }

    /// Whether it mixes the features of a sample (softmax, log_softmax).
    pub const fn is_columnwise(self) -> bool {
        matches!(self, Activation::Softmax | Activation::LogSoftmax)
    }

    /// Whether the backward pass needs the activation's input; the others'
    /// derivatives follow from their output, so training keeps no
    /// pre-activation buffer for them.
    pub const fn needs_input(self) -> bool {
        matches!(self, Activation::Gelu | Activation::Silu | Activation::Mish)
    }
}

/// A loss, by Keras's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Loss {
    /// `mean((y - t)²)`.
    MeanSquaredError,
    /// `mean(|y - t|)`.
    MeanAbsoluteError,
    /// Huber with delta 1: `0.5 e²` for `|e| ≤ 1`, else `|e| - 0.5`.
    Huber,
    /// `-Σ t log p` of renormalised, clipped probabilities, or of
    /// `log_softmax(y)` when `from_logits`.
    CategoricalCrossentropy {
        /// Whether the output is logits rather than probabilities.
        from_logits: bool,
    },
    /// Categorical cross-entropy with a class-index target (one row).
    SparseCategoricalCrossentropy {
        /// Whether the output is logits rather than probabilities.
        from_logits: bool,
    },
    /// `-mean(t log p + (1 - t) log(1 - p))` of clipped probabilities, or
    /// of `sigmoid(y)` when `from_logits`.
    BinaryCrossentropy {
        /// Whether the output is logits rather than probabilities.
        from_logits: bool,
    },
}

impl Loss {
    /// Every name `compile(loss = …)` accepts: Keras's functions, their
    /// aliases and the class names.
    pub const NAMED: &'static [(&'static str, Loss)] = &[
        ("mse", Loss::MeanSquaredError),
        ("MSE", Loss::MeanSquaredError),
        ("mean_squared_error", Loss::MeanSquaredError),
        ("MeanSquaredError", Loss::MeanSquaredError),
        ("mae", Loss::MeanAbsoluteError),
        ("MAE", Loss::MeanAbsoluteError),
        ("mean_absolute_error", Loss::MeanAbsoluteError),
        ("MeanAbsoluteError", Loss::MeanAbsoluteError),
        ("huber", Loss::Huber),
        ("huber_loss", Loss::Huber),
        ("Huber", Loss::Huber),
        ("categorical_crossentropy", Loss::CategoricalCrossentropy { from_logits: false }),
        ("CategoricalCrossentropy", Loss::CategoricalCrossentropy { from_logits: false }),
        ("sparse_categorical_crossentropy", Loss::SparseCategoricalCrossentropy { from_logits: false }),
        ("SparseCategoricalCrossentropy", Loss::SparseCategoricalCrossentropy { from_logits: false }),
        ("binary_crossentropy", Loss::BinaryCrossentropy { from_logits: false }),
        ("BinaryCrossentropy", Loss::BinaryCrossentropy { from_logits: false }),
    ];

    /// The loss named `name` (with `from_logits = false`).
    pub fn from_name(name: &str) -> Option<Loss> {
        Self::NAMED.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
    }

    /// The name Keras gives the loss function.
    pub const fn name(self) -> &'static str {
        match self {
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::MeanAbsoluteError => "mean_absolute_error",
            Loss::Huber => "huber",
            Loss::CategoricalCrossentropy { .. } => "categorical_crossentropy",
            Loss::SparseCategoricalCrossentropy { .. } => "sparse_categorical_crossentropy",
            Loss::BinaryCrossentropy { .. } => "binary_crossentropy",
        }
    }

    /// The variant's name, for generated code (see [`Loss::takes_logits`]
    /// for the field).
    pub const fn variant(self) -> &'static str {
        match self {
            Loss::MeanSquaredError => "MeanSquaredError",
            Loss::MeanAbsoluteError => "MeanAbsoluteError",
            Loss::Huber => "Huber",
            Loss::CategoricalCrossentropy { .. } => "CategoricalCrossentropy",
            Loss::SparseCategoricalCrossentropy { .. } => "SparseCategoricalCrossentropy",
            Loss::BinaryCrossentropy { .. } => "BinaryCrossentropy",
        }
    }

    /// `from_logits` for the cross-entropies, `None` for the others.
    pub const fn takes_logits(self) -> Option<bool> {
        match self {
            Loss::CategoricalCrossentropy { from_logits }
            | Loss::SparseCategoricalCrossentropy { from_logits }
            | Loss::BinaryCrossentropy { from_logits } => Some(from_logits),
            _ => None,
        }
    }

    /// The same loss with `from_logits` set; `None` for a loss without it.
    pub const fn with_from_logits(self, from_logits: bool) -> Option<Loss> {
        match self {
            Loss::CategoricalCrossentropy { .. } => Some(Loss::CategoricalCrossentropy { from_logits }),
            Loss::SparseCategoricalCrossentropy { .. } => Some(Loss::SparseCategoricalCrossentropy { from_logits }),
            Loss::BinaryCrossentropy { .. } => Some(Loss::BinaryCrossentropy { from_logits }),
            _ => None,
        }
    }

    /// Whether the loss compares a probability distribution over classes,
    /// one output unit per class.
    pub const fn is_categorical(self) -> bool {
        matches!(self, Loss::CategoricalCrossentropy { .. } | Loss::SparseCategoricalCrossentropy { .. })
    }

    /// Whether the target is a class index rather than one value per unit.
    pub const fn is_sparse(self) -> bool {
        matches!(self, Loss::SparseCategoricalCrossentropy { .. })
    }

    /// Rows of the target for a head of `width` units.
    pub const fn target_width(self, width: usize) -> usize {
        if self.is_sparse() {
            1
        } else {
            width
        }
    }

    /// Whether the gradient through `act` into this loss is computed fused
    /// (softmax with categorical, sigmoid with binary cross-entropy).
    pub const fn fuses_with(self, act: Activation) -> bool {
        matches!(
            (self, act),
            (Loss::CategoricalCrossentropy { from_logits: false }, Activation::Softmax)
                | (Loss::SparseCategoricalCrossentropy { from_logits: false }, Activation::Softmax)
                | (Loss::BinaryCrossentropy { from_logits: false }, Activation::Sigmoid)
        )
    }
}

/// A metric as `compile(metrics = …)` resolved it for one head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Arg-max of output equals arg-max of the one-hot target.
    CategoricalAccuracy,
    /// Output `> 0.5` equals target `> 0.5`, averaged over units.
    BinaryAccuracy,
    /// Arg-max of output equals the class-index target.
    SparseCategoricalAccuracy,
    /// Mean squared error, as a metric.
    MeanSquaredError,
    /// Mean absolute error, as a metric.
    MeanAbsoluteError,
}

impl MetricKind {
    /// Every name `compile(metrics = …)` accepts.
    pub const NAMES: &'static [&'static str] = &[
        "accuracy",
        "acc",
        "categorical_accuracy",
        "binary_accuracy",
        "sparse_categorical_accuracy",
        "mse",
        "mean_squared_error",
        "mae",
        "mean_absolute_error",
    ];

    /// The metric `name` is for a head of `width` units trained with
    /// `loss`: `accuracy` resolves as Keras resolves it, from the loss and
    /// the width. `None` for a name not in [`MetricKind::NAMES`].
    pub fn resolve(name: &str, loss: Option<Loss>, width: usize) -> Option<MetricKind> {
        Some(match name {
            "categorical_accuracy" => MetricKind::CategoricalAccuracy,
            "binary_accuracy" => MetricKind::BinaryAccuracy,
            "sparse_categorical_accuracy" => MetricKind::SparseCategoricalAccuracy,
            "mse" | "mean_squared_error" => MetricKind::MeanSquaredError,
            "mae" | "mean_absolute_error" => MetricKind::MeanAbsoluteError,
            "accuracy" | "acc" => match loss {
                Some(Loss::SparseCategoricalCrossentropy { .. }) => MetricKind::SparseCategoricalAccuracy,
                Some(Loss::BinaryCrossentropy { .. }) => MetricKind::BinaryAccuracy,
                Some(Loss::CategoricalCrossentropy { .. }) => MetricKind::CategoricalAccuracy,
                _ if width == 1 => MetricKind::BinaryAccuracy,
                _ => MetricKind::CategoricalAccuracy,
            },
            _ => return None,
        })
    }

    /// The name Keras logs for it.
    pub const fn name(self) -> &'static str {
        match self {
            MetricKind::CategoricalAccuracy | MetricKind::BinaryAccuracy | MetricKind::SparseCategoricalAccuracy => {
                "accuracy"
            }
            MetricKind::MeanSquaredError => "mse",
            MetricKind::MeanAbsoluteError => "mae",
        }
    }

    /// The variant's name, for generated code.
    pub const fn variant(self) -> &'static str {
        match self {
            MetricKind::CategoricalAccuracy => "CategoricalAccuracy",
            MetricKind::BinaryAccuracy => "BinaryAccuracy",
            MetricKind::SparseCategoricalAccuracy => "SparseCategoricalAccuracy",
            MetricKind::MeanSquaredError => "MeanSquaredError",
            MetricKind::MeanAbsoluteError => "MeanAbsoluteError",
        }
    }
}

/// An optimizer `compile(optimizer = …)` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    /// `keras.optimizers.SGD`.
    Sgd,
    /// `keras.optimizers.RMSprop`.
    RmsProp,
    /// `keras.optimizers.Adam`.
    Adam,
}

/// What values a hyperparameter takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// A number above 0.
    Positive,
    /// A number in `[0, 1)`.
    Fraction,
    /// `true` or `false`.
    Flag,
}

/// One hyperparameter of an optimizer: its Keras name (the runtime's
/// builder is `with_{name}`) and its range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hyperparameter {
    /// Keras's argument name.
    pub name: &'static str,
    /// Its values.
    pub range: Range,
}

const fn hp(name: &'static str, range: Range) -> Hyperparameter {
    Hyperparameter { name, range }
}

impl OptimizerKind {
    /// Names in `compile`, matched without regard to case (`rmsprop`, `RMSprop`).
    pub const NAMED: &'static [(&'static str, OptimizerKind)] =
        &[("sgd", OptimizerKind::Sgd), ("rmsprop", OptimizerKind::RmsProp), ("adam", OptimizerKind::Adam)];

    /// Keras's spellings, for suggestions.
    pub const SPELLINGS: &'static [&'static str] = &["sgd", "rmsprop", "adam", "SGD", "RMSprop", "Adam"];

    /// The optimizer named `name`, ignoring case.
    pub fn from_name(name: &str) -> Option<OptimizerKind> {
        Self::NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, k)| *k)
    }

    /// The runtime's type name.
    pub const fn type_name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "Sgd",
            OptimizerKind::RmsProp => "RmsProp",
            OptimizerKind::Adam => "Adam",
        }
    }

    /// The hyperparameters of this optimizer's own, `learning_rate` first
    /// (the one positional argument); [`OptimizerKind::CLIPPING`] applies
    /// to every optimizer.
    pub const fn hyperparameters(self) -> &'static [Hyperparameter] {
        match self {
            OptimizerKind::Sgd => SGD,
            OptimizerKind::RmsProp => RMSPROP,
            OptimizerKind::Adam => ADAM,
        }
    }

    /// Gradient clipping, which every optimizer takes (at most one of them).
    pub const CLIPPING: &'static [Hyperparameter] =
        &[hp("clipnorm", Range::Positive), hp("clipvalue", Range::Positive), hp("global_clipnorm", Range::Positive)];
}

const SGD: &[Hyperparameter] =
    &[hp("learning_rate", Range::Positive), hp("momentum", Range::Fraction), hp("nesterov", Range::Flag)];
const RMSPROP: &[Hyperparameter] = &[
    hp("learning_rate", Range::Positive),
    hp("rho", Range::Fraction),
    hp("momentum", Range::Fraction),
    hp("epsilon", Range::Positive),
    hp("centered", Range::Flag),
];
const ADAM: &[Hyperparameter] = &[
    hp("learning_rate", Range::Positive),
    hp("beta_1", Range::Fraction),
    hp("beta_2", Range::Fraction),
    hp("epsilon", Range::Positive),
    hp("amsgrad", Range::Flag),
];

/// An element-wise merge of equally shaped tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Sum.
    Add,
    /// First minus second.
    Subtract,
    /// Product.
    Multiply,
    /// Mean.
    Average,
    /// Element-wise maximum.
    Maximum,
    /// Element-wise minimum.
    Minimum,
}

impl Merge {
    /// Keras's class name and function name of each merge.
    pub const NAMED: &'static [(&'static str, &'static str, Merge)] = &[
        ("Add", "add", Merge::Add),
        ("Subtract", "subtract", Merge::Subtract),
        ("Multiply", "multiply", Merge::Multiply),
        ("Average", "average", Merge::Average),
        ("Maximum", "maximum", Merge::Maximum),
        ("Minimum", "minimum", Merge::Minimum),
    ];

    /// Keras's class name (also the variant's name) and function name.
    pub const fn names(self) -> (&'static str, &'static str) {
        let mut i = 0;
        while i < Self::NAMED.len() {
            let (class, function, op) = Self::NAMED[i];
            if op as u8 == self as u8 {
                return (class, function);
            }
            i += 1;
        }
        ("", "")
    }
}
