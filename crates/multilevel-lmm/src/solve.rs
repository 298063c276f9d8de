//! β̂, the conditional modes and the inverse blocks read off the blocked factor after a
//! successful factorization (back substitutions with `L'`).

use faer::Mat;
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;

use crate::blocks::small::{small_lower_inverse, spd_inverse_from_lower_inverse};
use crate::pls::Pls;

impl Pls {
    /// Read β, the spherical random effects u and `b = Λu` off the current factor (call after
    /// a successful factorization at θ̂).
    pub(crate) fn solve_current(&self) -> (Vec<f64>, Vec<Vec<f64>>) {
        let (mut beta, u0, ur) = self.solve_raw();
        // Undo the centring of the response (the random effects are unaffected).
        if let Some((j, c)) = self.const_col {
            beta[j] += self.y_shift / c;
        }
        let mut u = Vec::with_capacity(self.terms.len());
        u.push(u0);
        for t in self.terms.iter().skip(1) {
            let off = t.rest_offset.unwrap_or(0);
            u.push(ur[off..off + t.q_len()].to_vec());
        }
        (beta, u)
    }

    /// β (for the centred response), `u₀` (first term, `k₀ℓ₀`) and `u_r` (later terms, `nr`)
    /// from the current factor: back substitution with `L'`.
    pub(crate) fn solve_raw(&self) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mut beta, mut u0, mut ur) = (Vec::new(), Vec::new(), Vec::new());
        self.solve_raw_into(&mut beta, &mut u0, &mut ur);
        (beta, u0, ur)
    }

    /// [`Self::solve_raw`] into caller-owned vectors (resized; no other allocation).
    pub(crate) fn solve_raw_into(&self, beta: &mut Vec<f64>, u0: &mut Vec<f64>, ur: &mut Vec<f64>) {
        let nr = self.nr;
        let p = self.p;
        let nt = self.nt;
        let k0 = self.k0;
        let s = &self.s;
        // β: L_XX' β = c_X.
        beta.clear();
        beta.extend((0..p).map(|a| s[(nt - 1, nr + a)]));
        for a in (0..p).rev() {
            let mut acc = beta[a];
            for b in a + 1..p {
                acc -= s[(nr + b, nr + a)] * beta[b];
            }
            beta[a] = acc / s[(nr + a, nr + a)];
        }
        // u_r: L_rr' u_r = c_r − L_Xr' β.
        ur.clear();
        ur.extend((0..nr).map(|r| {
            let mut acc = s[(nt - 1, r)];
            for (a, b) in beta.iter().enumerate() {
                acc -= s[(nr + a, r)] * b;
            }
            acc
        }));
        for r in (0..nr).rev() {
            let col = s.col_as_slice(r);
            let mut acc = ur[r];
            for c in r + 1..nr {
                acc -= col[c] * ur[c];
            }
            ur[r] = acc / col[r];
        }
        // u₀ per level: L₀₀' u₀ = c₀ − L_X0' β − L_r0' u_r, solved in place.
        u0.clear();
        u0.resize(self.l0 * k0, 0.0);
        for l in 0..self.l0 {
            let rhs = &mut u0[l * k0..(l + 1) * k0];
            for idx in self.bptr[l]..self.bptr[l + 1] {
                let r = self.brow[idx] as usize;
                let v = &self.vval[idx * k0..(idx + 1) * k0];
                let coef = if r < nr {
                    -ur[r]
                } else if r < nr + p {
                    -beta[r - nr]
                } else {
                    1.0
                };
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
    }

    /// Diagonal `k × k` blocks of `(L_ZZ L_ZZ')⁻¹ = (Λ'Z'ZΛ + I)⁻¹` for every level of every
    /// term (after a successful factorization), row-major; lme4's conditional variances are
    /// `σ² Λⱼ · block · Λⱼ'`.
    pub(crate) fn inverse_diag_blocks(&self) -> Vec<Vec<f64>> {
        let nr = self.nr;
        let k0 = self.k0;
        // L_rr⁻¹, dense lower triangular.
        let mut linv = Mat::<f64>::identity(nr, nr);
        if nr > 0 {
            solve_lower_triangular_in_place(
                self.s.as_ref().submatrix(0, 0, nr, nr),
                linv.as_mut(),
                self.par,
            );
        }
        let mut out = Vec::with_capacity(self.terms.len());
        // First term: L₀₀⁻ᵀ(I + W'W)L₀₀⁻¹ with W = L_rr⁻¹ L_r0.
        let mut blocks0 = vec![0.0; self.l0 * k0 * k0];
        let mut g = vec![0.0; nr * k0];
        for l in 0..self.l0 {
            g.iter_mut().for_each(|v| *v = 0.0);
            for idx in self.bptr[l]..self.bptr[l + 1] {
                let r = self.brow[idx] as usize;
                if r >= nr {
                    break;
                }
                for c in 0..k0 {
                    let v = self.vval[idx * k0 + c];
                    for i in r..nr {
                        g[i * k0 + c] += linv[(i, r)] * v;
                    }
                }
            }
            // inner = I + G'G (k₀ × k₀)
            let mut inner = vec![0.0; k0 * k0];
            for a in 0..k0 {
                inner[a * k0 + a] = 1.0;
                for b in 0..k0 {
                    let mut acc = 0.0;
                    for i in 0..nr {
                        acc += g[i * k0 + a] * g[i * k0 + b];
                    }
                    inner[a * k0 + b] += acc;
                }
            }
            // L₀₀⁻¹ explicitly (small), then L⁻ᵀ inner L⁻¹.
            let lblk = &self.l00[l * k0 * k0..(l + 1) * k0 * k0];
            let li = small_lower_inverse(lblk, k0);
            let blk = &mut blocks0[l * k0 * k0..(l + 1) * k0 * k0];
            for a in 0..k0 {
                for b in 0..k0 {
                    let mut acc = 0.0;
                    for i in 0..k0 {
                        for j in 0..k0 {
                            acc += li[i * k0 + a] * inner[i * k0 + j] * li[j * k0 + b];
                        }
                    }
                    blk[a * k0 + b] = acc;
                }
            }
        }
        out.push(blocks0);
        // Later terms: (L_rr⁻¹[:, g])'(L_rr⁻¹[:, g]).
        for t in self.terms.iter().skip(1) {
            let off = t.rest_offset.unwrap_or(0);
            let k = t.k;
            let mut blocks = vec![0.0; t.nlevels * k * k];
            for l in 0..t.nlevels {
                for a in 0..k {
                    for b in 0..k {
                        let ca = off + l * k + a;
                        let cb = off + l * k + b;
                        let mut acc = 0.0;
                        for i in ca.max(cb)..nr {
                            acc += linv[(i, ca)] * linv[(i, cb)];
                        }
                        blocks[(l * k + a) * k + b] = acc;
                    }
                }
            }
            out.push(blocks);
        }
        out
    }

    /// `(R_X'R_X)⁻¹` from the current factor, `p × p` row-major (vcov(β̂) = σ² times this).
    pub(crate) fn rx_inverse(&self) -> Vec<f64> {
        let p = self.p;
        let nr = self.nr;
        let l: Vec<f64> = (0..p * p)
            .map(|idx| {
                let (i, j) = (idx / p, idx % p);
                if j <= i {
                    self.s[(nr + i, nr + j)]
                } else {
                    0.0
                }
            })
            .collect();
        let li = small_lower_inverse(&l, p);
        let mut out = vec![0.0; p * p];
        spd_inverse_from_lower_inverse(&li, p, |a, b, v| {
            out[a * p + b] = v;
            out[b * p + a] = v;
        });
        out
    }
}
