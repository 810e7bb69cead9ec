//! weights (placeholder).
/// Error.
pub struct WeightsError;
