//! The random-effects rows that the clmm- and glmmTMB-style summaries print alike.

use multilevel_lmm::{Correlation, VarComp};

/// The `Groups Name Variance Std.Dev.` table (the group shown once per run of its terms),
/// then one `Corr(g: a, b) = r` line per correlation; `number` formats a variance or SD.
pub(crate) fn random_effects_rows(
    random: &[VarComp],
    correlations: &[Correlation],
    number: impl Fn(f64) -> String,
) -> String {
    let gw = random
        .iter()
        .map(|r| r.group.len())
        .chain(std::iter::once(6))
        .max()
        .unwrap_or(6);
    let nw = random
        .iter()
        .map(|r| r.term.len())
        .chain(std::iter::once(4))
        .max()
        .unwrap_or(4);
    let mut s = format!(" {:<gw$} {:<nw$} Variance Std.Dev.\n", "Groups", "Name");
    let mut last = "";
    for r in random {
        let g = if r.group == last {
            ""
        } else {
            r.group.as_str()
        };
        s.push_str(&format!(
            " {g:<gw$} {:<nw$} {:<8} {:<8}\n",
            r.term,
            number(r.variance),
            number(r.std_dev)
        ));
        last = r.group.as_str();
    }
    for c in correlations {
        s.push_str(&format!(
            " Corr({}: {}, {}) = {:.3}\n",
            c.group, c.term1, c.term2, c.corr
        ));
    }
    s
}
