//! Checks of user-given sizes before any work starts: a size that cannot be met (80 GB of
//! bootstrap replicates) or that cannot give an answer (one replicate for an interval) is one
//! clear line naming the flag and the accepted range.

use anyhow::{Result, bail};

/// Most bootstrap replicates accepted: every replicate's estimates are kept for the percentile
/// intervals, and a million refits is far beyond what an interval needs (1,000–10,000).
pub const MAX_REPLICATES: usize = 1_000_000;

/// Fewest replicates that give a percentile interval at `level`: each tail `(1 − level) / 2`
/// must hold at least one replicate, so `nsim ≥ 2 / (1 − level)` (40 at 95 %).
pub fn min_replicates(level: f64) -> usize {
    if !(level > 0.0 && level < 1.0) {
        return 2;
    }
    // Less a rounding allowance: 2 / (1 − 0.8) is 10.000000000000002 in floating point.
    let n = (2.0 / (1.0 - level) - 1e-9).ceil();
    if n.is_finite() && n < MAX_REPLICATES as f64 {
        (n as usize).max(2)
    } else {
        MAX_REPLICATES
    }
}

/// Checks a bootstrap size given with `flag` for an interval at `level` (`allow_zero`: 0 turns
/// the interval off, as explore's `--bootstrap 0`).
pub fn check_replicates(flag: &str, n: usize, level: f64, allow_zero: bool) -> Result<()> {
    if allow_zero && n == 0 {
        return Ok(());
    }
    if n > MAX_REPLICATES {
        bail!(
            "{flag} {n} is too large: at most {MAX_REPLICATES} replicates are accepted; hint: 1000 to 10000 replicates give stable percentile intervals"
        );
    }
    let min = min_replicates(level);
    if n < min {
        let off = if allow_zero {
            " (or 0 for no interval)"
        } else {
            ""
        };
        bail!(
            "{flag} {n} is too few replicates for a {}% percentile interval: at least {min} are needed{off}; hint: use 1000 or more",
            percent(level)
        );
    }
    Ok(())
}

/// `level` as a percentage without trailing zeros (0.95 → `95`, 0.999 → `99.9`).
fn percent(level: f64) -> String {
    let s = format!("{:.4}", level * 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_replicates_per_level() {
        assert_eq!(min_replicates(0.95), 40);
        assert_eq!(min_replicates(0.9), 20);
        assert_eq!(min_replicates(0.99), 200);
        assert_eq!(percent(0.95), "95");
        assert_eq!(percent(0.999), "99.9");
    }
}
