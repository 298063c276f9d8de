//! Colour-blind-safe colours: Okabe–Ito for a few groups, viridis for many.

use plotters::style::RGBColor;

/// The Okabe–Ito palette (Okabe & Ito 2008), distinguishable under the common colour-vision
/// deficiencies: black, orange, sky blue, bluish green, yellow, blue, vermillion, reddish purple.
pub const OKABE_ITO: [RGBColor; 8] = [
    RGBColor(0, 0, 0),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 158, 115),
    RGBColor(240, 228, 66),
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
];

/// Anchors of the viridis colour map at t = 0, 0.125, …, 1 (sampled from the published map).
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

/// The viridis colour at `t ∈ [0, 1]` (linear interpolation between anchors; clamped).
pub fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |u: u8, v: u8| (f64::from(u) + f * (f64::from(v) - f64::from(u))).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Colour of group `i` of `n`: the Okabe–Ito colours after black when `n ≤ 7`, otherwise
/// `n` evenly spaced viridis colours (stopping short of the pale yellow end, which is hard
/// to see on white).
pub fn group_colour(i: usize, n: usize) -> RGBColor {
    if n <= 7 {
        OKABE_ITO[1 + i % 7]
    } else {
        viridis(0.9 * i as f64 / (n.max(2) - 1) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_are_the_anchors_and_colours_differ() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_ne!(group_colour(0, 18), group_colour(17, 18));
        assert_eq!(group_colour(0, 3), OKABE_ITO[1]);
    }
}
