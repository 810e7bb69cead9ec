//! Small deterministic random numbers: SplitMix64 for weight initialisation
//! and a counter-based hash for dropout masks (so no state is threaded
//! through `&self` methods).

/// SplitMix64: a fast, well-mixed 64-bit generator, reproducible for a seed.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// A uniform `f64` in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `0..bound` (bound > 0), without modulo bias.
    pub fn below(&mut self, bound: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % bound;
        loop {
            let x = self.next();
            if x < zone {
                return x % bound;
            }
        }
    }
}

/// The SplitMix64 finaliser: a bijective mix of 64 bits.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform `f64` in `[0, 1)` that depends only on `(seed, stream, index)`.
#[inline]
pub fn uniform_at(seed: u64, stream: u64, index: u64) -> f64 {
    let h = mix(seed ^ mix(stream.wrapping_add(0x632B_E59B_D9B4_E019) ^ mix(index)));
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Shuffles `items` in place (Fisher–Yates).
pub fn shuffle<X>(items: &mut [X], rng: &mut SplitMix64) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_in_range() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        for _ in 0..1000 {
            let x = a.next_f64();
            assert_eq!(x, b.next_f64());
            assert!((0.0..1.0).contains(&x));
        }
        assert_ne!(SplitMix64::new(1).next(), SplitMix64::new(2).next());
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: [usize; 50] = core::array::from_fn(|i| i);
        shuffle(&mut v, &mut SplitMix64::new(3));
        let mut sorted = v;
        sorted.sort();
        assert_eq!(sorted, core::array::from_fn::<usize, 50, _>(|i| i));
        assert_ne!(v, sorted);
    }

    #[test]
    fn counter_hash_is_uniformish() {
        let mean: f64 = (0..10_000).map(|i| uniform_at(5, 1, i)).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }
}
