//! Where the rows and columns of the blocked factor come from: the random-effects terms in
//! θ and in `u`, and the origin of every row of the dense rest block.

/// Shape of one random-effects term in θ and in `u`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TermShape {
    /// Columns per level.
    pub k: usize,
    /// Number of levels.
    pub nlevels: usize,
    /// Offset of the term's elements in the lower-triangle layout of the `Λⱼ` (`kⱼ(kⱼ+1)/2`
    /// per term, column by column): θ's layout when every term is unstructured, and the
    /// layout of the gradient with respect to the `Λⱼ` that the block types compute (a
    /// structured term's chain rule maps it to θ, `ProfiledDeviance::gradient`).
    pub theta_offset: usize,
    /// Offset of the term's columns in the rest block (`None` for the first term).
    pub rest_offset: Option<usize>,
}

/// Origin of a row of the rest block (the later random-effects terms, then `X`, then `y`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RestRow {
    /// Index of the term the row belongs to, or `u32::MAX` for the `X` and `y` rows.
    pub term: u32,
    /// First row of the `k`-group (term, level) this row belongs to.
    pub group_start: u32,
}

impl TermShape {
    /// `k · nlevels`.
    pub(crate) fn q_len(&self) -> usize {
        self.k * self.nlevels
    }
}
