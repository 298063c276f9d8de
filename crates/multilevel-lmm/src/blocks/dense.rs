//! The dense block `S = L_S L_S'` (the rows after the first term): its Cholesky factor, chosen
//! by size ([`factor`]), and its products on two threads.
//!
//! faer's own parallel kernels gained nothing for blocks of ~1,000 rows (InstEval) and slowed
//! later rayon work in the same process, so the LMM engine runs faer sequentially and splits
//! the work itself: a right-looking blocked Cholesky whose panel solve and trailing update are
//! each cut into two equal halves (run on threads of their own, see `join2`), and the
//! symmetric rank-k downdate `S −= XX'` cut the same way. The cut points depend only on the
//! matrix size, never on the number of threads, so the results are identical with one thread
//! or two.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::cholesky_in_place as cholesky_in_place_llt;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};

use crate::blocks::small::{TINY_BLOCK, cholesky_in_place};

/// Factor the dense block in place, `S = L_S L_S'` on its lower triangle (the upper triangle is
/// not read); `false` when a pivot is not positive. By size: at most [`TINY_BLOCK`] rows go
/// through the small kernel ([`cholesky_in_place`], on a row-major copy in `tiny`); with
/// `two_threads` the panel-blocked kernel ([`blocked_cholesky`]); otherwise faer's sequential
/// one. `mem` must hold faer's sequential Cholesky scratch for `max(n, PANEL)` columns.
pub(crate) fn factor(
    s: &mut Mat<f64>,
    two_threads: bool,
    mem: &mut MemBuffer,
    tiny: &mut Vec<f64>,
) -> bool {
    let n = s.nrows();
    if n <= TINY_BLOCK {
        // Every entry the kernel reads (the lower triangle) is copied in; the rest is scratch.
        tiny.resize(n * n, 0.0);
        for j in 0..n {
            let col = &s.col_as_slice(j)[j..n];
            for (v, dst) in col.iter().zip(tiny[j * n + j..].iter_mut().step_by(n)) {
                *dst = *v;
            }
        }
        if !cholesky_in_place(tiny, n, |_| {}) {
            return false;
        }
        for j in 0..n {
            let col = &mut s.col_as_slice_mut(j)[j..n];
            for (v, src) in col.iter_mut().zip(tiny[j * n + j..].iter().step_by(n)) {
                *v = *src;
            }
        }
        true
    } else if two_threads {
        blocked_cholesky(s.as_mut(), mem)
    } else {
        cholesky_in_place_faer(s.as_mut(), mem)
    }
}

/// faer's sequential Cholesky factor of `a` in place (lower triangle).
fn cholesky_in_place_faer(a: MatMut<'_, f64>, mem: &mut MemBuffer) -> bool {
    cholesky_in_place_llt(
        a,
        Default::default(),
        Par::Seq,
        MemStack::new(mem),
        Default::default(),
    )
    .is_ok()
}

/// Run `a` and `b` in parallel on [`dense_pool`] (sequentially when it could not be built or
/// rayon is limited to one thread, `RAYON_NUM_THREADS=1`).
///
/// Not on rayon's global pool: after a thread has run faer's kernels, scalar code on that
/// thread stays slow for the rest of its life (see docs/performance-notes.md), so the dense
/// kernels get threads of their own.
pub(crate) fn join2(a: impl FnOnce() + Send, b: impl FnOnce() + Send) {
    match dense_pool().filter(|_| rayon::current_num_threads() > 1) {
        Some(pool) => {
            pool.install(|| rayon::join(a, b));
        }
        None => {
            a();
            b();
        }
    }
}

/// The threads that run the halves of the dense kernels, built on first use: as many as rayon
/// is set to use (the machine's parallelism by default, `RAYON_NUM_THREADS` to change it), at
/// most two, since [`join2`] hands it exactly two tasks at a time.
fn dense_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads().clamp(1, 2))
            .thread_name(|i| format!("multilevel-dense-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Columns per panel of the blocked Cholesky (chosen by benchmark over 96–256 on InstEval's and
/// ml1m's blocks; see docs/performance-notes.md).
pub(crate) const PANEL: usize = 192;

/// Column at which the lower triangle of an `m × m` block splits into two halves of equal
/// area: the first `c` columns hold `m²/2 − (m − c)²/2 = m²/4` entries when `c = m(1 − 1/√2)`.
fn equal_area_split(m: usize) -> usize {
    ((m as f64) * (1.0 - std::f64::consts::FRAC_1_SQRT_2)).round() as usize
}

/// `dst −= x x'` on the lower triangle of the square `dst` (`x` has `dst.nrows()` rows), in
/// two halves of equal work: the first `c` columns (a triangle and the rectangle below it)
/// and the trailing triangle.
pub(crate) fn syrk_lower_sub(dst: MatMut<'_, f64>, x: MatRef<'_, f64>) {
    let m = dst.nrows();
    let c = equal_area_split(m);
    let (left, right) = dst.split_at_col_mut(c);
    let (top_left, below_left) = left.split_at_row_mut(c);
    let (_, bottom_right) = right.split_at_row_mut(c);
    let (x1, x2) = x.split_at_row(c);
    join2(
        || {
            triangular::matmul(
                top_left,
                BlockStructure::TriangularLower,
                Accum::Add,
                x1,
                BlockStructure::Rectangular,
                x1.transpose(),
                BlockStructure::Rectangular,
                -1.0,
                Par::Seq,
            );
            triangular::matmul(
                below_left,
                BlockStructure::Rectangular,
                Accum::Add,
                x2,
                BlockStructure::Rectangular,
                x1.transpose(),
                BlockStructure::Rectangular,
                -1.0,
                Par::Seq,
            );
        },
        || {
            triangular::matmul(
                bottom_right,
                BlockStructure::TriangularLower,
                Accum::Add,
                x2,
                BlockStructure::Rectangular,
                x2.transpose(),
                BlockStructure::Rectangular,
                -1.0,
                Par::Seq,
            )
        },
    );
}

/// `dst = a b` with the columns of `b` and `dst` cut into two halves of equal width, one per
/// thread (each half is an ordinary sequential product, so the result does not depend on the
/// number of threads).
pub(crate) fn matmul_halves(dst: MatMut<'_, f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>) {
    let c = b.ncols() / 2;
    let (d1, d2) = dst.split_at_col_mut(c);
    let (b1, b2) = b.split_at_col(c);
    join2(
        || faer::linalg::matmul::matmul(d1, Accum::Replace, a, b1, 1.0, Par::Seq),
        || faer::linalg::matmul::matmul(d2, Accum::Replace, a, b2, 1.0, Par::Seq),
    );
}

/// In-place lower Cholesky factor `A = LL'` of the lower triangle of `a`, right-looking by
/// panels of [`PANEL`] columns: factor the diagonal block, solve the panel below it
/// (`A₂₁ ← A₂₁L₁₁⁻ᵀ`, two halves of rows), update the trailing block (`A₂₂ −= A₂₁A₂₁'`, see
/// [`syrk_lower_sub`]). `mem` must hold faer's sequential Cholesky scratch for `PANEL` columns.
/// Returns `false` when a pivot is not positive.
pub(crate) fn blocked_cholesky(mut a: MatMut<'_, f64>, mem: &mut MemBuffer) -> bool {
    let n = a.nrows();
    let mut k = 0;
    while k < n {
        let kb = PANEL.min(n - k);
        let rest = n - k - kb;
        let view = a.rb_mut().submatrix_mut(k, k, n - k, n - k);
        let (left, right) = view.split_at_col_mut(kb);
        let (mut l11, mut a21) = left.split_at_row_mut(kb);
        if cholesky_in_place_llt(
            l11.rb_mut(),
            Default::default(),
            Par::Seq,
            MemStack::new(mem),
            Default::default(),
        )
        .is_err()
        {
            return false;
        }
        if rest == 0 {
            break;
        }
        let l11 = l11.rb();
        let (p1, p2) = a21.rb_mut().split_at_row_mut(rest / 2);
        join2(
            || solve_lower_triangular_in_place(l11, p1.transpose_mut(), Par::Seq),
            || solve_lower_triangular_in_place(l11, p2.transpose_mut(), Par::Seq),
        );
        let (_, a22) = right.split_at_row_mut(kb);
        syrk_lower_sub(a22, a21.rb());
        k += kb;
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use faer::Mat;
    use faer::linalg::cholesky::llt::factor::cholesky_in_place_scratch;

    fn spd(n: usize) -> Mat<f64> {
        let mut seed = 12345u64;
        let g = Mat::<f64>::from_fn(n, n / 2 + 3, |_, _| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
        });
        let mut a = &g * g.transpose();
        for i in 0..n {
            a[(i, i)] += 1.0;
        }
        a
    }

    #[test]
    fn blocked_cholesky_equals_faer_sequential() {
        // 2.3 panels: a full panel, a full one and a partial one.
        for n in [5, PANEL, 2 * PANEL + 70] {
            let a = spd(n);
            let mut reference = a.clone();
            let mut mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(
                n,
                Par::Seq,
                Default::default(),
            ));
            cholesky_in_place_llt(
                reference.as_mut(),
                Default::default(),
                Par::Seq,
                MemStack::new(&mut mem),
                Default::default(),
            )
            .unwrap();
            let mut ours = a.clone();
            assert!(blocked_cholesky(ours.as_mut(), &mut mem));
            for j in 0..n {
                for i in j..n {
                    let (x, y) = (ours[(i, j)], reference[(i, j)]);
                    assert!(
                        (x - y).abs() <= 1e-10 * (1.0 + y.abs()),
                        "{n}: ({i},{j}) {x} vs {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn blocked_cholesky_rejects_an_indefinite_matrix() {
        let n = PANEL + 20;
        let mut a = spd(n);
        a[(PANEL + 5, PANEL + 5)] = -1.0;
        let mut mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(
            PANEL,
            Par::Seq,
            Default::default(),
        ));
        assert!(!blocked_cholesky(a.as_mut(), &mut mem));
    }

    #[test]
    fn syrk_halves_equal_one_product() {
        let m = 57;
        let x = Mat::<f64>::from_fn(m, 9, |i, j| ((i * 31 + j * 7) % 13) as f64 - 6.0);
        let mut ours = spd(m);
        let expected = &ours - &x * x.transpose();
        syrk_lower_sub(ours.as_mut(), x.as_ref());
        for j in 0..m {
            for i in j..m {
                assert!((ours[(i, j)] - expected[(i, j)]).abs() < 1e-10);
            }
        }
    }
}
