//! The errors of this crate.

/// Anything that can go wrong in a GLS fit; every message says what went wrong, where, and how
/// to fix it (in the library's words: it names the structure, never a command-line flag).
#[derive(Debug, thiserror::Error)]
pub enum GlsError {
    /// The formula text does not parse.
    #[error("{0}")]
    Formula(#[from] multilevel_formula::FormulaError),
    /// The data or the model frame.
    #[error("{0}")]
    Frame(#[from] multilevel_frame::FrameError),
    /// The data table (e.g. an unknown column).
    #[error("{0}")]
    Data(#[from] multilevel_frame::DataError),
    /// The design matrices.
    #[error("{0}")]
    Design(#[from] multilevel_design::DesignError),
    /// A residual structure or variance function that does not parse.
    #[error("{0}")]
    Spec(String),
    /// A structure needs a factor column and the column is numeric.
    #[error(
        "`{structure}` needs `{column}` to be a factor ({why}), but it is a numeric column; hint: make `{column}` a factor (declare it as a factor column, or use text labels such as V1, V2, …)"
    )]
    NotFactor {
        /// The structure's text, `us(visit | subject)`.
        structure: String,
        /// The numeric column.
        column: String,
        /// What the factor's levels are for.
        why: &'static str,
    },
    /// The model cannot be fitted as asked (message with a hint).
    #[error("{0}")]
    Input(String),
    /// A numerical failure (a singular matrix, no finite objective); message with a hint.
    #[error("{0}")]
    Numerical(String),
}
