//! fit (placeholder).
/// History.
pub struct History;
/// Options.
pub struct FitOptions;
/// Error.
pub struct FitError;
/// fit.
pub fn fit() {}
/// evaluate.
pub fn evaluate() {}
/// predict.
pub fn predict() {}
