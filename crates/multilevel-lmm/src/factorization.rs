//! The block types of a model: how the Schur block `S` is formed and how the gradient is read
//! off the factor. One [`PlsBlocks`] is chosen when the [`crate::ProfiledDeviance`] is built:
//! the general blocks ([`General`]: the kernels of [`crate::assemble`] and the selected
//! inverse of [`crate::gradient`]), or a specialisation for small models in [`crate::fast`]
//! (one term with `k₀ ≤ 3`; all-scalar terms) whose fixed-size kernels give the general path's
//! numbers.

use crate::gradient::GradWork;
use crate::pls::Pls;

/// How the blocks below the first term are formed and how the gradient is computed, for one
/// layout of the blocked factor.
pub(crate) trait PlsBlocks: Send + Sync {
    /// A name for tests and diagnostics.
    fn name(&self) -> &'static str;

    /// `V = Λᵣ'A_r0 Λ₀ L₀₀⁻ᵀ` and the lower triangle of `S = Λᵣ'A_rr Λᵣ + [I 0; 0 0] − VV'`,
    /// from `Λ` and `L₀₀` of the current θ.
    fn form_schur(&mut self, pls: &mut Pls);

    /// This block type's own gradient kernel at the current factor, when it applies at this θ
    /// (`None`: the general selected inverse runs). `m`, `scale` and `ntheta` are those of
    /// [`Pls::gradient_general`].
    fn special_gradient(
        &mut self,
        _pls: &Pls,
        _m: usize,
        _scale: f64,
        _ntheta: usize,
    ) -> Option<Vec<f64>> {
        None
    }

    /// The workspace of the general gradient.
    fn general_work(&mut self) -> &mut GradWork;

    /// The gradient at the current factor: the specialised kernel where it applies, else the
    /// general one.
    fn gradient(&mut self, pls: &Pls, m: usize, scale: f64, ntheta: usize) -> Vec<f64> {
        match self.special_gradient(pls, m, scale, ntheta) {
            Some(g) => g,
            None => pls.gradient_general(self.general_work(), m, scale, ntheta),
        }
    }

    /// Forget what the workspaces keep of the cross products (they changed).
    fn reset(&mut self) {
        *self.general_work() = GradWork::default();
    }
}

/// The general blocks: any number of terms of any size.
#[derive(Default)]
pub(crate) struct General {
    work: GradWork,
}

impl General {
    /// `V` and `S` by the general kernels, for any layout (also the fallback of the
    /// specialisations when the dense block is formed on two threads).
    pub(crate) fn form(pls: &mut Pls) {
        let mut tmp = std::mem::take(&mut pls.small);
        pls.compute_v(&mut tmp);
        pls.small = tmp;
        pls.form_schur();
    }
}

impl PlsBlocks for General {
    fn name(&self) -> &'static str {
        "general"
    }

    fn form_schur(&mut self, pls: &mut Pls) {
        Self::form(pls);
    }

    fn general_work(&mut self) -> &mut GradWork {
        &mut self.work
    }
}
