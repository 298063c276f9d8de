//! Errors raised while building a design from a formula and a model frame.

/// Why a design could not be built. Each message is one line naming the formula term,
/// variable or data row concerned, followed by a hint.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DesignError {
    /// The formula has no left-hand side, so there is nothing to fit.
    #[error(
        "formula `{formula}` has no response; hint: put the response left of `~`, e.g. `y ~ x + (1 | g)`"
    )]
    NoResponse {
        /// The formula text.
        formula: String,
    },
    /// A factor response must have exactly two levels (the second is "success").
    #[error(
        "response `{label}` is a factor with {nlevels} levels ({levels}); a factor response needs exactly 2 levels (the second counts as success); hint: recode it to two levels or use `cbind(successes, failures)`"
    )]
    ResponseLevels {
        /// Response label.
        label: String,
        /// Number of levels found.
        nlevels: usize,
        /// The first few level labels, comma separated.
        levels: String,
    },
    /// A `cbind(s, f)` response with `s + f = 0` in some row.
    #[error(
        "response `{label}`: successes + failures is 0 in data row {row} (1-based); hint: remove rows with no trials"
    )]
    ZeroTrials {
        /// Response label.
        label: String,
        /// 1-based data row.
        row: usize,
    },
    /// A `cbind(s, f)` response with a negative count.
    #[error(
        "response `{label}`: negative count {value} in data row {row} (1-based); hint: successes and failures must be ≥ 0"
    )]
    NegativeCount {
        /// Response label.
        label: String,
        /// 1-based data row.
        row: usize,
        /// The offending value.
        value: f64,
    },
    /// A variable used in a term is absent from the model frame (the frame and the formula
    /// disagree; an internal error).
    #[error(
        "variable `{label}` of term `{term}` is not in the model frame; hint: build the frame from the same formula (ModelFrame::new)"
    )]
    MissingVariable {
        /// Variable label (`Expr` display).
        label: String,
        /// Term label.
        term: String,
    },
    /// A grouping factor is absent from the model frame (internal error).
    #[error(
        "grouping factor `{group}` of term `({term})` is not in the model frame; hint: build the frame from the same formula (ModelFrame::new)"
    )]
    MissingGroup {
        /// Group label.
        group: String,
        /// The random-effects term.
        term: String,
    },
    /// A grouping variable in the frame is not a factor (internal error).
    #[error(
        "grouping variable `{group}` is not a factor in the model frame; hint: the frame must convert grouping variables to factors"
    )]
    GroupNotFactor {
        /// Group label.
        group: String,
    },
    /// A variable's values do not match the frame's number of rows or level set (internal
    /// error of the frame).
    #[error(
        "variable `{label}` in the model frame is inconsistent: {detail}; hint: this is a bug in the model frame"
    )]
    InconsistentVariable {
        /// Variable label.
        label: String,
        /// What is wrong.
        detail: String,
    },
    /// R refuses contrasts for a factor with fewer than two levels.
    #[error(
        "factor `{label}` in term `{term}` has {nlevels} level(s) in the rows used; contrasts need a factor with 2 or more levels; hint: drop `{label}` from the formula or check for missing values that removed the other levels"
    )]
    SingleLevelFactor {
        /// Factor label.
        label: String,
        /// Term label.
        term: String,
        /// Number of levels.
        nlevels: usize,
    },
    /// An `ar1(...)` term with fewer than two columns has no correlation to model.
    #[error(
        "random term `{term}`: `ar1` needs at least 2 columns but the term has {k}; hint: write `ar1(0 + f | g)` with a factor `f` of at least two levels (one column per level)"
    )]
    Ar1Columns {
        /// The term as written (`0 + f | g`).
        term: String,
        /// Its number of columns.
        k: usize,
    },
    /// A random-effects term whose left-hand side has no columns, e.g. `(0 | g)`.
    #[error(
        "random-effects term `({term})` has no columns (its left-hand side is empty); hint: use `(1 | g)` for a random intercept"
    )]
    EmptyRandomTerm {
        /// The random-effects term.
        term: String,
    },
    /// lme4's `checkNlevels`: a grouping factor needs at least two levels.
    #[error(
        "grouping factor `{group}` has {nlevels} level(s) in the rows used; grouping factors must have > 1 sampled level; hint: remove the term or check for missing values"
    )]
    SingleLevelGroup {
        /// Group label.
        group: String,
        /// Number of levels.
        nlevels: usize,
    },
    /// lme4's `checkNlevels`: each grouping factor needs fewer levels than observations.
    #[error(
        "number of levels of each grouping factor must be < number of observations: `{group}` has {nlevels} levels for {n} observations; hint: a grouping factor with one observation per level is confounded with the residual"
    )]
    TooManyLevels {
        /// Group label.
        group: String,
        /// Number of levels.
        nlevels: usize,
        /// Number of observations.
        n: usize,
    },
    /// lme4's `checkZdims`: a term with at least as many random effects as observations.
    #[error(
        "number of observations (={n}) {cmp} number of random effects (={q}) for term ({term}); the random-effects parameters{extra} are probably unidentifiable; hint: simplify the term, e.g. drop random slopes"
    )]
    TooManyRandomEffects {
        /// The random-effects term.
        term: String,
        /// Number of random effects of the term, `k · nlevels`.
        q: usize,
        /// Number of observations.
        n: usize,
        /// `<=` (LMM rule) or `<` (GLMM rule).
        cmp: String,
        /// ` and the residual variance` for the LMM rule, empty otherwise.
        extra: String,
    },
    /// The dense model matrix would be too large to allocate.
    #[error(
        "the model matrix would have {n} rows × {columns} columns (term `{term}` alone has {term_columns} columns), more than the 2^31 cells this program allocates; hint: a factor with very many levels belongs in a random term, e.g. `(1 | g)`, not in the fixed effects"
    )]
    TooLarge {
        /// Rows of the model frame.
        n: usize,
        /// Columns the matrix would have.
        columns: usize,
        /// The term with the most columns.
        term: String,
        /// Its number of columns.
        term_columns: usize,
    },
}
