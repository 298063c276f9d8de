//! The exact derivative of `(R_X'R_X)⁻¹` (so of `vcov(β̂) = σ²(R_X'R_X)⁻¹`) with respect to
//! the elements of the Λⱼ, for Satterthwaite's degrees of freedom.
//!
//! `R_X'R_X` is the Schur complement of the random-effects block in `Ω = Λ̃'G̃Λ̃ + diag(I_q, 0)`
//! (notation of [`crate::gradient`]), so `C = (R_X'R_X)⁻¹ = (Ω⁻¹)_XX`, and with
//! `E = Ω⁻¹[0; I_p]` (the `X` columns of `Ω⁻¹`, `(q + p) × p`, `E_X = C`)
//!
//! ```text
//!   ∂C/∂λ = −E'(∂Ω/∂λ)E = −(M + M'),   M = (Λ_λ E_Z)'(G̃Λ̃E)_Z = (Λ_λ E_Z)' Z'(ZΛE_Z + XE_X),
//! ```
//!
//! where `Λ_λ = ∂Λ/∂λ` has a 1 at `(b_j + a, b_j + b)` for every level `j` of the term whose
//! element `λ` sits at row `a`, column `b` of its template. So
//! `M[i, m] = Σ_j E_Z[b_j + b, i] · (Z'T)[b_j + a, m]` with `T = ZΛE_Z + XE_X`.
//!
//! `E` costs `p` back substitutions with the factor (the right-hand side `[0; I_p]` makes the
//! forward pass trivial: `L'E = [0; L_XX⁻¹]`, and `L_XX'E_X = L_XX⁻¹` gives `E_X = C`), and
//! `Z'T` comes from the stored cross products (no pass over the observations). No
//! factorization per direction: the cost is that of `p` solves plus `Σ_t ℓ_t k_t² p²`.

use crate::pls::Pls;

impl Pls {
    /// `u₀` (first term) and `u_r` (later terms) of the back substitution `L_Ω' e = w` whose
    /// right-hand side is zero on the random effects and whose `X` part has already been solved
    /// for (`e_X = beta`): `L_rr'u_r = −L_Xr'β`, then per level `L₀₀'u₀ = −L_X0'β − L_r0'u_r`.
    fn back_substitute_from_beta(&self, beta: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (nr, p, k0) = (self.nr, self.p, self.k0);
        let s = &self.s;
        let mut ur: Vec<f64> = (0..nr)
            .map(|r| {
                let mut acc = 0.0;
                for (a, b) in beta.iter().enumerate() {
                    acc -= s[(nr + a, r)] * b;
                }
                acc
            })
            .collect();
        for r in (0..nr).rev() {
            let col = s.col_as_slice(r);
            let mut acc = ur[r];
            for c in r + 1..nr {
                acc -= col[c] * ur[c];
            }
            ur[r] = acc / col[r];
        }
        let mut u0 = vec![0.0; self.l0 * k0];
        for l in 0..self.l0 {
            let rhs = &mut u0[l * k0..(l + 1) * k0];
            for idx in self.bptr[l]..self.bptr[l + 1] {
                let r = self.brow[idx] as usize;
                let coef = if r < nr {
                    -ur[r]
                } else if r < nr + p {
                    -beta[r - nr]
                } else {
                    continue;
                };
                let v = &self.vval[idx * k0..(idx + 1) * k0];
                for c in 0..k0 {
                    rhs[c] += coef * v[c];
                }
            }
            let lblk = &self.l00[l * k0 * k0..(l + 1) * k0 * k0];
            for c in (0..k0).rev() {
                let mut acc = rhs[c];
                for cc in c + 1..k0 {
                    acc -= lblk[cc * k0 + c] * rhs[cc];
                }
                rhs[c] = acc / lblk[c * k0 + c];
            }
        }
        (u0, ur)
    }

    /// `∂r²/∂λ` for each of the `n_lower` elements λ of the lower triangles of the Λⱼ (the
    /// gradient's layout), at the current factor: by the envelope theorem
    /// `∂r²/∂λ = −2 Σ_j (Z'r)[b_j + a] u[b_j + b]` (see [`crate::gradient`]), from one back
    /// substitution and the stored cross products — no selected inverse.
    pub(crate) fn pwrss_lambda_gradient(&self, n_lower: usize) -> Vec<f64> {
        let (beta, u0, ur) = self.solve_raw();
        let (zr0, zr_r) = self.residual_cross(&beta, &u0, &ur);
        let mut out = vec![0.0; n_lower];
        for (t, shape) in self.terms.iter().enumerate() {
            let k = shape.k;
            let (u, z, base): (&[f64], &[f64], usize) = match shape.rest_offset {
                None if t == 0 => (&u0, &zr0, 0),
                Some(off) => (&ur, &zr_r, off),
                None => continue,
            };
            let mut idx = shape.theta_offset;
            for b in 0..k {
                for a in b..k {
                    let mut acc = 0.0;
                    for l in 0..shape.nlevels {
                        acc += z[base + l * k + a] * u[base + l * k + b];
                    }
                    if let Some(o) = out.get_mut(idx) {
                        *o = -2.0 * acc;
                    }
                    idx += 1;
                }
            }
        }
        out
    }

    /// `∂(R_X'R_X)⁻¹/∂λ` (row-major `p × p`) for each of the `n_lower` elements λ of the
    /// lower triangles of the Λⱼ, in the gradient's layout (term by term, column by column),
    /// at the current factor. See the module documentation.
    pub(crate) fn rx_inverse_lambda_jacobian(&self, n_lower: usize) -> Vec<Vec<f64>> {
        let p = self.p;
        let c = self.rx_inverse();
        // Per column i of E: E_Z (first term, later terms) and Z'T.
        let mut e0 = Vec::with_capacity(p);
        let mut er = Vec::with_capacity(p);
        let mut zt0 = Vec::with_capacity(p);
        let mut ztr = Vec::with_capacity(p);
        for i in 0..p {
            let ex: Vec<f64> = (0..p).map(|a| c[a * p + i]).collect();
            let (u0, ur) = self.back_substitute_from_beta(&ex);
            // Z'(ZΛE_Z + XE_X) = −Z'(0·y − XE_X − ZΛE_Z).
            let (mut z0, mut zr) = self.cross_with_z(0.0, &ex, &u0, &ur);
            z0.iter_mut().chain(zr.iter_mut()).for_each(|v| *v = -*v);
            e0.push(u0);
            er.push(ur);
            zt0.push(z0);
            ztr.push(zr);
        }
        let mut out = vec![vec![0.0; p * p]; n_lower];
        for (t, shape) in self.terms.iter().enumerate() {
            let k = shape.k;
            // The term's rows in E_Z and Z'T: level l, column c at `base + l k + c`.
            let (e, zt, base): (&[Vec<f64>], &[Vec<f64>], usize) = match shape.rest_offset {
                None if t == 0 => (&e0, &zt0, 0),
                Some(off) => (&er, &ztr, off),
                None => continue,
            };
            let mut idx = shape.theta_offset;
            for b in 0..k {
                for a in b..k {
                    let Some(d) = out.get_mut(idx) else {
                        idx += 1;
                        continue;
                    };
                    let mut m = vec![0.0; p * p];
                    for l in 0..shape.nlevels {
                        let rb = base + l * k + b;
                        let ra = base + l * k + a;
                        for i in 0..p {
                            let ev = e[i][rb];
                            if ev == 0.0 {
                                continue;
                            }
                            for (mm, z) in m[i * p..(i + 1) * p].iter_mut().zip(zt) {
                                *mm += ev * z[ra];
                            }
                        }
                    }
                    for i in 0..p {
                        for j in 0..p {
                            d[i * p + j] = -(m[i * p + j] + m[j * p + i]);
                        }
                    }
                    idx += 1;
                }
            }
        }
        out
    }
}
