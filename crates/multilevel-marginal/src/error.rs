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
    /// The fit failed in a way a different setting of the method may avoid. The message names
    /// the setting in the method's words; a front end matches on `setting` to name its own option.
    #[error("{problem}; hint: {}", hint_text(check.as_deref(), *setting))]
    Setting {
        /// What went wrong, and where.
        problem: String,
        /// What to check in the data first, if anything (e.g. "check the response `y`").
        check: Option<String>,
        /// The setting to change.
        setting: Setting,
    },
}

/// A setting of a marginal model that the user may change to get past an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// The response distribution ([`crate::GeeOptions::family`]).
    Family,
    /// The link function of the family.
    Link,
    /// The working correlation structure ([`crate::GeeOptions::corstr`]).
    WorkingCorrelation,
    /// The independence working correlation in particular.
    IndependenceCorrelation,
    /// The cluster column, which is given apart from the formula.
    ClusterColumn,
}

impl Setting {
    /// The advice in the library's words, e.g. "choose another family".
    pub fn advice(self) -> &'static str {
        match self {
            Setting::Family => "choose another family",
            Setting::Link => "try another link",
            Setting::WorkingCorrelation => "try another working correlation",
            Setting::IndependenceCorrelation => "use the independence working correlation",
            Setting::ClusterColumn => {
                "remove the bar terms: the clusters are given by their column, apart from the formula"
            }
        }
    }
}

/// `"<check>, or <advice>"`, or the advice alone.
fn hint_text(check: Option<&str>, setting: Setting) -> String {
    hint_with(check, setting.advice())
}

/// `"<check>, or <advice>"`, or the advice alone: the shape of every [`MarginalError::Setting`]
/// hint, for front ends that put their own words for the setting.
pub fn hint_with(check: Option<&str>, advice: &str) -> String {
    match check {
        Some(c) => format!("{c}, or {advice}"),
        None => advice.to_string(),
    }
}
