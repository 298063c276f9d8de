//! The errors of this crate.

/// Anything that can go wrong in a marginal-model fit; every message says what went wrong,
/// where, and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum MarginalError {
    /// The formula text does not parse.
    #[error("{0}")]
    Formula(#[from] multilevel_formula::FormulaError),
    /// The data or the model frame.
    #[error("{0}")]
    Frame(#[from] multilevel_frame::FrameError),
    /// The data table (e.g. an unknown cluster column).
    #[error("{0}")]
    Data(#[from] multilevel_frame::DataError),
    /// The design matrices.
    #[error("{0}")]
    Design(#[from] multilevel_design::DesignError),
    /// The model cannot be fitted as asked (message with a hint).
    #[error("{0}")]
    Input(String),
    /// A numerical failure (a singular matrix, no convergence); message with a hint.
    #[error("{0}")]
    Numerical(String),
}
