//! What this CPU runs: the kernel level, chosen once per process, and the
//! wide element-wise loops. A leaf module: everything else may use it, it
//! uses nothing of the crate.

/// Which kernels run on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// A build whose level is fixed at compile time constructs only that one.
#[allow(dead_code)]
pub(crate) enum Level {
    /// The portable loops.
    Portable = 1,
    /// AVX2 and FMA.
    Avx2 = 2,
    /// AVX-512F (which implies AVX2 and FMA).
    Avx512 = 3,
}

/// The best kernels this CPU runs: fixed at compile time when the target
/// enables AVX-512F, or without `std` (AVX2 when the target enables it);
/// otherwise asked of the CPU once. With `std`, the environment variable
/// `STATICNET_PORTABLE` forces the portable loops and
/// `STATICNET_NO_AVX512` stops at AVX2 (both read once), so every path can
/// be tested and timed on a CPU that has the faster ones. Always
/// [`Level::Portable`] off x86-64.
#[inline(always)]
pub(crate) fn level() -> Level {
    #[cfg(not(target_arch = "x86_64"))]
    {
        Level::Portable
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    {
        Level::Avx512
    }
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx512f"), feature = "std"))]
    {
        use core::sync::atomic::{AtomicU8, Ordering};
        // A `Level`'s discriminant, or 0: not asked yet.
        static LEVEL: AtomicU8 = AtomicU8::new(0);
        match LEVEL.load(Ordering::Relaxed) {
            1 => Level::Portable,
            2 => Level::Avx2,
            3 => Level::Avx512,
            _ => detect(&LEVEL),
        }
    }
    #[cfg(all(
        target_arch = "x86_64",
        not(target_feature = "avx512f"),
        not(feature = "std"),
        target_feature = "avx2",
        target_feature = "fma"
    ))]
    {
        Level::Avx2
    }
    #[cfg(all(
        target_arch = "x86_64",
        not(target_feature = "avx512f"),
        not(feature = "std"),
        not(all(target_feature = "avx2", target_feature = "fma"))
    ))]
    {
        Level::Portable
    }
}

/// Which SIMD kernels the layers run on this CPU: `"avx512f"`,
/// `"avx2+fma"` or `"portable"` (chosen once per process; see the README's
/// Performance section for the environment variables that force a lower
/// one).
///
/// ```
/// let kernels = staticnet::kernels::simd();
/// assert!(["avx512f", "avx2+fma", "portable"].contains(&kernels));
/// ```
pub fn simd() -> &'static str {
    match level() {
        Level::Avx512 => "avx512f",
        Level::Avx2 => "avx2+fma",
        Level::Portable => "portable",
    }
}

/// Runs `f` inside a function compiled with AVX2 and FMA enabled when the
/// CPU has them, so the element-wise loops inlined into it vectorize 8 (f32)
/// or 4 (f64) wide instead of the baseline's 4 or 2. Results are unchanged:
/// Rust never contracts `a * b + c` into an FMA. (AVX2 also on CPUs with
/// AVX-512: a wider build of these loops could not be timed here.)
#[inline(always)]
pub(crate) fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if level() != Level::Portable {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        // SAFETY: the CPU has the features `avx2` was compiled for.
        return unsafe { avx2(f) };
    }
    f()
}

/// [`level`]'s first call: what the CPU has and the environment allows,
/// kept in `slot`. Out of line, so that `level` inlines as one load and a
/// match (the streaming step asks at every call).
#[cfg(all(target_arch = "x86_64", not(target_feature = "avx512f"), feature = "std"))]
#[cold]
#[inline(never)]
fn detect(slot: &core::sync::atomic::AtomicU8) -> Level {
    let asked = |name: &str| std::env::var_os(name).is_some();
    let level = if asked("STATICNET_PORTABLE")
        || !(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma"))
    {
        Level::Portable
    } else if std::is_x86_feature_detected!("avx512f") && !asked("STATICNET_NO_AVX512") {
        Level::Avx512
    } else {
        Level::Avx2
    };
    slot.store(level as u8, core::sync::atomic::Ordering::Relaxed);
    level
}

#[cfg(test)]
mod tests {
    /// Where `STATICNET_EXPECT_LEVEL` is set (to a name
    /// `kernels::simd()` gives; `tools/avx512_emulated.sh` sets it for
    /// each run, CI for its forced runs), this process must dispatch to
    /// those kernels: a run meant to test the AVX-512 kernels cannot pass
    /// on others.
    #[test]
    #[cfg(feature = "std")]
    fn dispatches_to_the_expected_kernels() {
        let Some(want) = std::env::var_os("STATICNET_EXPECT_LEVEL") else {
            return;
        };
        assert_eq!(want, super::simd(), "STATICNET_EXPECT_LEVEL names other kernels than this CPU runs");
    }
}
