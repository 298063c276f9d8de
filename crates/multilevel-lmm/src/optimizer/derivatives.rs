//! Finite-difference derivatives for checking an optimum.

/// Central-difference gradient and Hessian of `f` at `x` (`fx = f(x)`) with step `delta`: the
/// quantities of lme4's `deriv12`, from fewer evaluations. The Hessian is row-major `m × m`.
///
/// With `f±ⱼ = f(x ± δeⱼ)`: `gⱼ = (f+ⱼ − f−ⱼ)/(2δ)` and `Hⱼⱼ = (f+ⱼ − 2f + f−ⱼ)/δ²`, as lme4.
/// For a pair `i < j` lme4 evaluates the four corners `f(x ± δeᵢ ± δeⱼ)`; here only the two
/// diagonal ones `f±ᵢⱼ = f(x ± δ(eᵢ + eⱼ))` are evaluated and the axis points are reused:
///
/// ```text
/// Hᵢⱼ = (f+ᵢⱼ + f−ᵢⱼ − f+ᵢ − f−ᵢ − f+ⱼ − f−ⱼ + 2f) / (2δ²)
/// ```
///
/// (by Taylor expansion `f+ᵢⱼ + f−ᵢⱼ − 2f = δ²(Hᵢᵢ + 2Hᵢⱼ + Hⱼⱼ) + O(δ⁴)`), which has the same
/// `O(δ²)` truncation error as the four-corner formula. Evaluations: `2m + m(m − 1)` instead
/// of `2m + 2m(m − 1)` (30 instead of 50 for five parameters).
pub fn central_derivatives(
    f: &mut dyn FnMut(&[f64]) -> f64,
    x: &[f64],
    fx: f64,
    delta: f64,
) -> (Vec<f64>, Vec<f64>) {
    let m = x.len();
    let mut g = vec![0.0; m];
    let mut h = vec![0.0; m * m];
    let mut xx = x.to_vec();
    // Axis points f(x + δeⱼ), f(x − δeⱼ).
    let mut fp = vec![0.0; m];
    let mut fm = vec![0.0; m];
    for j in 0..m {
        xx[j] = x[j] + delta;
        fp[j] = f(&xx);
        xx[j] = x[j] - delta;
        fm[j] = f(&xx);
        xx[j] = x[j];
        h[j * m + j] = (fp[j] - 2.0 * fx + fm[j]) / (delta * delta);
        g[j] = (fp[j] - fm[j]) / (2.0 * delta);
    }
    for j in 0..m {
        for i in 0..j {
            xx[i] = x[i] + delta;
            xx[j] = x[j] + delta;
            let fpp = f(&xx);
            xx[i] = x[i] - delta;
            xx[j] = x[j] - delta;
            let fmm = f(&xx);
            xx[i] = x[i];
            xx[j] = x[j];
            let v =
                ((fpp - fp[i] - fp[j] + fx) + (fmm - fm[i] - fm[j] + fx)) / (2.0 * delta * delta);
            h[i * m + j] = v;
            h[j * m + i] = v;
        }
    }
    (g, h)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn central_derivatives_of_a_known_function() {
        // f = x₀²x₁ + 3x₁x₂ + exp(x₂): g = (2x₀x₁, x₀² + 3x₂, 3x₁ + eˣ²),
        // H = [[2x₁, 2x₀, 0], [2x₀, 0, 3], [0, 3, eˣ²]].
        let mut calls = 0;
        let mut f = |x: &[f64]| {
            calls += 1;
            x[0] * x[0] * x[1] + 3.0 * x[1] * x[2] + x[2].exp()
        };
        let x = [0.7, -1.3, 0.4];
        let fx = f(&x);
        let (g, h) = central_derivatives(&mut f, &x, fx, 1e-4);
        assert_eq!(calls, 1 + 2 * 3 + 3 * 2);
        let e = 0.4f64.exp();
        let g_true = [2.0 * 0.7 * -1.3, 0.49 + 1.2, -3.9 + e];
        let h_true = [-2.6, 1.4, 0.0, 1.4, 0.0, 3.0, 0.0, 3.0, e];
        for (a, b) in g.iter().zip(&g_true) {
            assert!((a - b).abs() < 1e-7, "{g:?}");
        }
        for (a, b) in h.iter().zip(&h_true) {
            assert!((a - b).abs() < 1e-5, "{h:?}");
        }
    }

    #[test]
    fn central_derivatives_recover_gradient_and_hessian_of_a_smooth_function() {
        // f(x) = Σ aᵢ xᵢ + ½ x'Bx + c x₀ x₁ x₂ + exp(x₂)/10: known gradient and Hessian.
        let b = [[4.0, 1.0, -0.5], [1.0, 3.0, 0.7], [-0.5, 0.7, 2.0]];
        let a = [0.3, -1.2, 0.8];
        let c = 0.25;
        let f = |x: &[f64]| -> f64 {
            let mut v = x[2].exp() / 10.0 + c * x[0] * x[1] * x[2];
            for i in 0..3 {
                v += a[i] * x[i];
                for j in 0..3 {
                    v += 0.5 * x[i] * b[i][j] * x[j];
                }
            }
            v
        };
        let x = [0.4, -0.3, 0.2];
        let mut calls = 0;
        let mut fc = |p: &[f64]| {
            calls += 1;
            f(p)
        };
        let (g, h) = central_derivatives(&mut fc, &x, f(&x), 1e-4);
        // 2m axis points + 2 per pair.
        assert_eq!(calls, 2 * 3 + 3 * 2);
        let mut g_true = [0.0; 3];
        let mut h_true = [[0.0; 3]; 3];
        for i in 0..3 {
            g_true[i] = a[i] + (0..3).map(|j| b[i][j] * x[j]).sum::<f64>();
            h_true[i] = b[i];
        }
        g_true[0] += c * x[1] * x[2];
        g_true[1] += c * x[0] * x[2];
        g_true[2] += c * x[0] * x[1] + x[2].exp() / 10.0;
        h_true[0][1] += c * x[2];
        h_true[1][0] += c * x[2];
        h_true[0][2] += c * x[1];
        h_true[2][0] += c * x[1];
        h_true[1][2] += c * x[0];
        h_true[2][1] += c * x[0];
        h_true[2][2] += x[2].exp() / 10.0;
        for i in 0..3 {
            assert!(
                (g[i] - g_true[i]).abs() < 1e-7,
                "g[{i}] {} vs {}",
                g[i],
                g_true[i]
            );
            for j in 0..3 {
                let d = (h[i * 3 + j] - h_true[i][j]).abs();
                assert!(d < 1e-5, "H[{i},{j}] {} vs {}", h[i * 3 + j], h_true[i][j]);
            }
        }
    }
}
