//! staticnet: Keras-style neural networks compiled at build time.
//!
//! The [`network!`] macro turns a Keras functional-API model written inline
//! into a plain struct of fixed-size nalgebra matrices with generated
//! `forward`, `forward_batch`, `loss_and_grad` and `train_step` methods.
//!
//! ```
//! staticnet::network! {
//!     /// A tiny classifier.
//!     pub struct Tiny {
//!         let x = Input(4);
//!         let h = Dense(8, activation = relu)(x);
//!         let y = Dense(3, activation = softmax)(h);
//!         Model(x, y);
//!         compile(optimizer = adam, loss = categorical_crossentropy);
//!     }
//! }
//! let model = Tiny::<f32>::new(42);
//! let probabilities = model.forward(&staticnet::nalgebra::SVector::<f32, 4>::zeros());
//! assert!((probabilities.sum() - 1.0).abs() < 1e-6);
//! ```
//!
//! With `default-features = false` the crate is `#![no_std]` and needs no
//! allocator for inference and training steps.
//!
//! Features: `std` (default; detects AVX-512F and AVX2+FMA at run time for
//! the SIMD kernels of [`kernels`]), `alloc` (safetensors I/O, `fit` and friends),
//! `parallel` (splits large matrix products over helper threads, and
//! `fit`'s large batches in two halves on two threads), `plot`
//! (learning curves as SVG, `History::write_svg`).
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub use nalgebra;
pub use staticnet_macros::network;

// What users call: the parameter types of a generated struct's fields, the
// optimizers, `fit` and friends, weights I/O, the random numbers that seed
// them, which kernels run, and the names `network!` knows.
pub mod int8;
pub mod kernels;
pub mod layers;
pub mod optim;
pub mod rng;
pub mod summary;
pub mod vocab;

#[cfg(feature = "alloc")]
pub mod fit;
#[cfg(feature = "alloc")]
pub mod weights;

// The rest, reached by generated code through `__private`.
mod activations;
mod cpu;
mod losses;
mod network;
mod ops;
mod scalar;

#[cfg(feature = "alloc")]
pub use network::{Data, InputData};
pub use network::{HeadInfo, Mode, Network, TensorInfo, Train};
pub use optim::{Adam, Clip, Optimizer, RmsProp, Sgd};
pub use scalar::Scalar;
pub use summary::{Summary, SummaryRow};
pub use vocab::{Activation, Loss, MetricKind};

#[cfg(feature = "plot")]
pub use fit::PlotError;
#[cfg(feature = "alloc")]
pub use fit::{
    evaluate, evaluate_weighted, fit, predict, EarlyStopping, FitError, FitOptions, History, Logs, MonitorMode,
    Verbosity,
};
#[cfg(feature = "alloc")]
pub use weights::WeightsError;

/// What generated code reaches; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::int8;
    pub use crate::layers;
    pub use crate::network::{total_len, HeadInfo, MetricKind, Mode, Network, TensorInfo, Train};
    #[cfg(feature = "alloc")]
    pub use crate::network::{Data, InputData};
    pub use crate::optim::{Adam, Clip, Optimizer, RmsProp, Sgd};
    pub use crate::rng;
    pub use crate::summary::{Summary, SummaryRow};
    pub use crate::vocab::{Activation, Loss};
    pub use crate::Scalar;
    pub use core;
    pub use nalgebra::{ArrayStorage, Const, Dyn, OMatrix, SMatrix, SVector, SVectorView};

    #[cfg(feature = "alloc")]
    pub use crate::weights;
    #[cfg(feature = "alloc")]
    pub use alloc::{boxed::Box, vec::Vec};

    // Facades over the private modules (a private module cannot be
    // re-exported, its public items can).
    /// Activations, forward and backward.
    pub mod activations {
        pub use crate::activations::*;
    }
    /// Losses and metrics with their gradients.
    pub mod losses {
        pub use crate::losses::*;
    }
    /// The layers' kernels.
    pub mod ops {
        pub use crate::ops::*;
    }
    /// The matrix products (for the benches).
    pub mod gemm {
        pub use crate::kernels::gemm::{gemm_nn, gemm_nn_scaled, gemm_nt, gemm_tn, Start};
    }

    /// Expands its items only when the runtime has `alloc`, so generated
    /// code needs no cfg of its own.
    #[cfg(feature = "alloc")]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __sn_with_alloc {
        ($($item:item)*) => { $($item)* };
    }
    /// Expands its items only when the runtime has `alloc`.
    #[cfg(not(feature = "alloc"))]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __sn_with_alloc {
        ($($item:item)*) => {};
    }
    pub use crate::__sn_with_alloc as with_alloc;
}
