//! Descriptive statistics shared by the crates that print or plot data summaries.

/// The `p`-quantile of sorted values by linear interpolation between order statistics (R's
/// `quantile(type = 7)`): with `h = (n − 1)p`, `x₍⌊h⌋₎ + (h − ⌊h⌋)(x₍⌈h⌉₎ − x₍⌊h⌋₎)`
/// (0-based order statistics). `NaN` for no values.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    let a = sorted[lo.min(sorted.len() - 1)];
    let b = sorted[hi.min(sorted.len() - 1)];
    a + (h - lo as f64) * (b - a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_7_quantiles_of_r() {
        // quantile(c(1, 2, 4, 8, 16), c(0, .1, .25, .5, .9, 1)) = 1, 1.4, 2, 4, 12.8, 16
        let x = [1.0, 2.0, 4.0, 8.0, 16.0];
        let want = [
            (0.0, 1.0),
            (0.1, 1.4),
            (0.25, 2.0),
            (0.5, 4.0),
            (0.9, 12.8),
            (1.0, 16.0),
        ];
        for (p, q) in want {
            assert!((quantile_sorted(&x, p) - q).abs() < 1e-12, "p = {p}");
        }
        assert!(quantile_sorted(&[], 0.5).is_nan());
    }
}
