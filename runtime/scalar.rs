//! The element types a network can be instantiated with.

use nalgebra::RealField;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The scalar type of a generated network: `f32` or `f64`.
///
/// The math comes from nalgebra's [`RealField`] (libm without `std`); this
/// trait adds the few conversions and functions the runtime needs.
pub trait Scalar:
    RealField
    + Copy
    + Default
    + core::fmt::Display
    + core::fmt::Debug
    + Send
    + Sync
    + sealed::Sealed
    + crate::kernels::gemm::Gemm
    + crate::ops::simd::WindowSimd
{
    /// The safetensors dtype name of this type (`"F32"` or `"F64"`).
    const DTYPE: &'static str;
    /// Size in bytes.
    const BYTES: usize;
    /// Converts from `f64`, rounding to nearest.
    fn of_f64(x: f64) -> Self;
    /// Converts to `f64` exactly.
    fn as_f64(self) -> f64;
    /// The error function, for exact GELU.
    fn erf(self) -> Self;
    /// Reads one value from little-endian bytes of length [`Self::BYTES`].
    fn from_le_slice(bytes: &[u8]) -> Self;
    /// Appends the little-endian bytes of the value.
    fn write_le(self, out: &mut [u8]);
}

impl Scalar for f32 {
    const DTYPE: &'static str = "F32";
    const BYTES: usize = 4;
    #[inline]
    fn of_f64(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn erf(self) -> Self {
        libm::erff(self)
    }
    #[inline]
    fn from_le_slice(bytes: &[u8]) -> Self {
        let mut b = [0u8; 4];
        b.copy_from_slice(bytes);
        f32::from_le_bytes(b)
    }
    #[inline]
    fn write_le(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
}

impl Scalar for f64 {
    const DTYPE: &'static str = "F64";
    const BYTES: usize = 8;
    #[inline]
    fn of_f64(x: f64) -> Self {
        x
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline]
    fn erf(self) -> Self {
        libm::erf(self)
    }
    #[inline]
    fn from_le_slice(bytes: &[u8]) -> Self {
        let mut b = [0u8; 8];
        b.copy_from_slice(bytes);
        f64::from_le_bytes(b)
    }
    #[inline]
    fn write_le(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
}

/// `T::of_f64(x)`, short for generated and runtime code.
#[inline(always)]
pub(crate) fn c<T: Scalar>(x: f64) -> T {
    T::of_f64(x)
}
