//! One small deterministic random-number generator: SplitMix64 (Steele, Lea & Flood 2014) with
//! Box–Muller standard normals. Results seeded by the user (the parametric bootstrap, the ICC
//! bootstrap of `explore`) are reproducible from the seed on every platform and thread count.

/// SplitMix64: a 64-bit state advanced by the golden-ratio increment, each output a mix of the
/// state by two xor-shift-multiply rounds.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
    /// The second value of the last Box–Muller pair, returned by the next [`Self::normal`].
    spare: Option<f64>,
}

impl SplitMix64 {
    /// The stream whose state starts at `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 {
            state: seed,
            spare: None,
        }
    }

    /// Stream `index` of a family seeded by `seed` (replicate `index` of a bootstrap): the seed
    /// is mixed, then the index, so nearby `(seed, index)` pairs give unrelated streams and a
    /// replicate's draws do not depend on which thread runs it.
    pub fn for_stream(seed: u64, index: u64) -> Self {
        let mut g = SplitMix64::new(seed);
        let a = g.next_u64();
        g.state = a ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let _ = g.next_u64();
        g
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on the open interval (0, 1): the top 53 bits plus one half, times `2⁻⁵³`
    /// (never 0, so its logarithm is finite).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal by Box–Muller using both values of each pair: from uniforms
    /// `u₁, u₂`, `r = √(−2 log u₁)`, `a = 2π u₂`, returns `r cos a` now and `r sin a` next.
    pub fn normal(&mut self) -> f64 {
        if let Some(v) = self.spare.take() {
            return v;
        }
        let (r, a) = self.polar();
        self.spare = Some(r * a.sin());
        r * a.cos()
    }

    /// A standard normal by Box–Muller keeping only `r cos a` of each pair (two uniforms per
    /// draw): the stream of `explore`'s ICC bootstrap.
    pub fn normal_cos(&mut self) -> f64 {
        let (r, a) = self.polar();
        r * a.cos()
    }

    /// Radius and angle of one Box–Muller pair.
    fn polar(&mut self) -> (f64, f64) {
        let r = (-2.0 * self.uniform().ln()).sqrt();
        let a = std::f64::consts::TAU * self.uniform();
        (r, a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference outputs of SplitMix64 seeded with 0 (Vigna's `splitmix64.c`).
    #[test]
    fn matches_the_reference_stream() {
        let mut g = SplitMix64::new(0);
        assert_eq!(g.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(g.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(g.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let mut a = SplitMix64::for_stream(1, 0);
        let mut b = SplitMix64::for_stream(1, 0);
        let mut c = SplitMix64::for_stream(1, 1);
        let mut d = SplitMix64::for_stream(2, 0);
        let va: Vec<f64> = (0..5).map(|_| a.normal()).collect();
        let vb: Vec<f64> = (0..5).map(|_| b.normal()).collect();
        let vc: Vec<f64> = (0..5).map(|_| c.normal()).collect();
        let vd: Vec<f64> = (0..5).map(|_| d.normal()).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
        assert_ne!(va, vd);
    }

    #[test]
    fn normals_have_mean_zero_and_unit_variance() {
        for cos_only in [false, true] {
            let mut g = SplitMix64::for_stream(42, 7);
            let n = 200_000;
            let xs: Vec<f64> = (0..n)
                .map(|_| if cos_only { g.normal_cos() } else { g.normal() })
                .collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            assert!(mean.abs() < 0.01, "{mean}");
            assert!((var - 1.0).abs() < 0.01, "{var}");
        }
    }

    /// `normal` returns the cosine of a pair and then its sine; `normal_cos` only the cosines.
    #[test]
    fn the_two_normal_streams_share_their_cosines() {
        let mut a = SplitMix64::new(9);
        let mut b = SplitMix64::new(9);
        let x0 = a.normal();
        let _sine = a.normal();
        let x1 = a.normal();
        assert_eq!(b.normal_cos(), x0);
        assert_eq!(b.normal_cos(), x1);
    }
}
