//! Numerical derivatives by central differences with Richardson extrapolation (the method of
//! R's numDeriv, which lmerTest uses): a difference quotient `D(h)` whose error has only even
//! powers of `h` is evaluated at `h, h/2, h/4, h/8`, and the table is extrapolated
//! `A ← (4ᵐ A(h/2) − A(h)) / (4ᵐ − 1)`, `m = 1, 2, 3`, cancelling the `h², h⁴, h⁶` terms.

/// Number of step halvings (numDeriv's `r`).
const R: usize = 4;
/// Relative step (numDeriv's `d` for Hessians).
const D_REL: f64 = 0.1;
/// Absolute step for arguments near zero (numDeriv's `eps`).
const EPS_ABS: f64 = 1e-4;
/// Arguments below this are treated as zero when choosing the step (numDeriv's `zero.tol`).
const ZERO_TOL: f64 = 1.781_029_066_890_351e-5;

/// Initial step for argument value `x`.
fn step(x: f64, rel: f64) -> f64 {
    let h = (rel * x).abs();
    if x.abs() < ZERO_TOL { h + EPS_ABS } else { h }
}

/// Richardson extrapolation of difference quotients evaluated at steps `h₀ / 2ᵏ`.
/// `quotient(k)` returns the (vector of) quotients at halving level `k`.
fn extrapolate(mut quotient: impl FnMut(usize) -> Option<Vec<f64>>) -> Option<Vec<f64>> {
    let mut table: Vec<Vec<f64>> = Vec::with_capacity(R);
    for k in 0..R {
        table.push(quotient(k)?);
    }
    for m in 1..R {
        let four = 4f64.powi(m as i32);
        for k in 0..R - m {
            let next = table[k + 1].clone();
            for (a, b) in table[k].iter_mut().zip(next) {
                *a = (four * b - *a) / (four - 1.0);
            }
        }
    }
    table.into_iter().next()
}

/// Hessian of a scalar function at `x` (row-major `m × m`). Diagonal entries use
/// `(f(x+hᵢ) − 2f(x) + f(x−hᵢ)) / hᵢ²`, off-diagonal ones the four-point mixed difference
/// `(f(++) − f(+−) − f(−+) + f(−−)) / (4 hᵢ hⱼ)`; both are extrapolated. Returns `None` if `f`
/// fails (returns `None` or a non-finite value) anywhere.
pub(crate) fn hessian(f: &mut dyn FnMut(&[f64]) -> Option<f64>, x: &[f64]) -> Option<Vec<f64>> {
    let m = x.len();
    let f0 = finite(f(x))?;
    let h0: Vec<f64> = x.iter().map(|&v| step(v, D_REL)).collect();
    let mut out = vec![0.0; m * m];
    let mut xx = x.to_vec();
    for i in 0..m {
        let d = extrapolate(|k| {
            let h = h0[i] / 2f64.powi(k as i32);
            xx[i] = x[i] + h;
            let fp = finite(f(&xx));
            xx[i] = x[i] - h;
            let fm = finite(f(&xx));
            xx[i] = x[i];
            Some(vec![(fp? - 2.0 * f0 + fm?) / (h * h)])
        })?;
        out[i * m + i] = d[0];
        for j in 0..i {
            let d = extrapolate(|k| {
                let s = 2f64.powi(k as i32);
                let (hi, hj) = (h0[i] / s, h0[j] / s);
                let mut eval = |si: f64, sj: f64| {
                    xx[i] = x[i] + si * hi;
                    xx[j] = x[j] + sj * hj;
                    let v = finite(f(&xx));
                    xx[i] = x[i];
                    xx[j] = x[j];
                    v
                };
                let pp = eval(1.0, 1.0)?;
                let pm = eval(1.0, -1.0)?;
                let mp = eval(-1.0, 1.0)?;
                let mm = eval(-1.0, -1.0)?;
                Some(vec![(pp - pm - mp + mm) / (4.0 * hi * hj)])
            })?;
            out[i * m + j] = d[0];
            out[j * m + i] = d[0];
        }
    }
    Some(out)
}

/// Jacobian of a vector function at `x`: one vector of partial derivatives per argument
/// (`result[i][k] = ∂fₖ/∂xᵢ`), by extrapolated central differences with relative step
/// `rel_step`.
pub(crate) fn jacobian(
    f: &mut dyn FnMut(&[f64]) -> Option<Vec<f64>>,
    x: &[f64],
    rel_step: f64,
) -> Option<Vec<Vec<f64>>> {
    let m = x.len();
    let mut xx = x.to_vec();
    let mut out = Vec::with_capacity(m);
    for i in 0..m {
        let h0 = step(x[i], rel_step);
        let d = extrapolate(|k| {
            let h = h0 / 2f64.powi(k as i32);
            xx[i] = x[i] + h;
            let fp = f(&xx);
            xx[i] = x[i] - h;
            let fm = f(&xx);
            xx[i] = x[i];
            let (fp, fm) = (fp?, fm?);
            if fp.len() != fm.len() || fp.iter().chain(&fm).any(|v| !v.is_finite()) {
                return None;
            }
            Some(
                fp.iter()
                    .zip(&fm)
                    .map(|(a, b)| (a - b) / (2.0 * h))
                    .collect(),
            )
        })?;
        out.push(d);
    }
    Some(out)
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn hessian_of_a_smooth_function() {
        // f = x² y + exp(y) + x y³ at (1.3, 0.7).
        let mut f = |v: &[f64]| Some(v[0] * v[0] * v[1] + v[1].exp() + v[0] * v[1].powi(3));
        let (x, y) = (1.3f64, 0.7f64);
        let h = hessian(&mut f, &[x, y]).expect("finite");
        let want = [
            2.0 * y,
            2.0 * x + 3.0 * y * y,
            2.0 * x + 3.0 * y * y,
            y.exp() + 6.0 * x * y,
        ];
        for (a, b) in h.iter().zip(want) {
            assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn jacobian_of_a_vector_function() {
        let mut f = |v: &[f64]| Some(vec![v[0].sin() * v[1], v[1] * v[1]]);
        let j = jacobian(&mut f, &[0.4, 2.0], 1e-4).expect("finite");
        assert!((j[0][0] - 0.4f64.cos() * 2.0).abs() < 1e-10);
        assert!(j[0][1].abs() < 1e-12);
        assert!((j[1][0] - 0.4f64.sin()).abs() < 1e-10);
        assert!((j[1][1] - 4.0).abs() < 1e-10);
    }

    #[test]
    fn failing_function_gives_none() {
        let mut f = |v: &[f64]| if v[0] > 1.05 { None } else { Some(v[0] * v[0]) };
        assert!(hessian(&mut f, &[1.0]).is_none());
    }
}
