//! Matrix products, the only place where a network spends real time: the
//! SIMD kernels for x86-64 and the portable loops, chosen once per process
//! (see [`simd`]). What generated code calls is in the layers' kernels
//! (`ops`), which call these.

pub(crate) mod gemm;
#[cfg(feature = "parallel")]
mod pool;
#[cfg(feature = "parallel")]
pub(crate) use pool::{run_parts, threads};
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

pub use crate::cpu::simd;
// The optimizers' loops use it through this path.
pub(crate) use crate::cpu::wide;
