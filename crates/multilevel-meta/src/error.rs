//! Errors of the meta-analysis crate: one message each, naming the study, row or column, with
//! a hint.

/// Everything that can go wrong in a meta-analysis.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// Effect sizes and variances (or moderators) of different lengths.
    #[error(
        "{what} has {found} values but there are {expected} effect sizes; hint: give one value per study"
    )]
    LengthMismatch {
        /// Which input.
        what: String,
        /// Number of effect sizes.
        expected: usize,
        /// Number found.
        found: usize,
    },
    /// Fewer than two studies.
    #[error("{}only {k} stud{} left{}; hint: a meta-analysis needs at least 2 studies", if data.is_empty() { String::new() } else { format!("{data}: ") }, if *k == 1 { "y" } else { "ies" }, if *dropped > 0 { format!(" after dropping {dropped} row(s) with missing values") } else { String::new() })]
    TooFewStudies {
        /// The data set (file name) the studies came from; empty for in-memory vectors.
        data: String,
        /// Studies available.
        k: usize,
        /// Rows dropped for missing values.
        dropped: usize,
    },
    /// More coefficients than the model can estimate.
    #[error(
        "the model has {p} coefficients but only {k} studies; hint: {method} needs more studies than coefficients (k > p); use fewer moderators"
    )]
    TooManyCoefficients {
        /// Studies.
        k: usize,
        /// Coefficients.
        p: usize,
        /// Method name.
        method: String,
    },
    /// A sampling variance (or standard error) that is not positive or not finite.
    #[error(
        "{column} is {value} for study {study} ({location}); hint: sampling variances must be positive (check that the column holds variances, not e.g. correlations)"
    )]
    NonPositiveVariance {
        /// Column or input name (`vi`, `sei`).
        column: String,
        /// The value.
        value: f64,
        /// Study label.
        study: String,
        /// Where it is (`line 7` of the file, `study 3`).
        location: String,
    },
    /// A non-finite effect size or moderator value.
    #[error(
        "{what} is not a finite number for study {study} ({location}); hint: write missing values as NA or leave them empty"
    )]
    NonFinite {
        /// Column or input name.
        what: String,
        /// Study label.
        study: String,
        /// Where it is.
        location: String,
    },
    /// The model matrix has no usable column, or `X'WX` is singular.
    #[error(
        "the model matrix is not of full rank{detail}; hint: remove moderators that are constant or linear combinations of others"
    )]
    Singular {
        /// Extra detail.
        detail: String,
    },
    /// An iterative estimator did not converge.
    #[error(
        "the {method} estimator of tau^2 did not converge in {iterations} iterations; hint: try method DL, HE or PM, or check the data for extreme variances"
    )]
    NotConverged {
        /// Method name.
        method: String,
        /// Iterations run.
        iterations: usize,
    },
    /// Bad options (level outside (0, 100), ...).
    #[error("{0}")]
    Options(String),
    /// `predict` with the wrong number of values.
    #[error(
        "predict needs {expected} values (one per coefficient, intercept included) but got {found}"
    )]
    PredictLength {
        /// Coefficients.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// A column that is not in the data.
    #[error("{0}")]
    Data(#[from] multilevel_frame::DataError),
    /// A column of the wrong kind (text where numbers are needed).
    #[error(
        "column `{column}` of {data} is a text column (a factor) but {role} must be numeric; hint: fix the entries that are not numbers (write missing values as NA or leave them empty)"
    )]
    NotNumeric {
        /// Data name.
        data: String,
        /// Column.
        column: String,
        /// What it was used as.
        role: String,
    },
    /// A moderator formula that does not parse.
    #[error("moderator formula: {0}")]
    Formula(#[from] multilevel_formula::FormulaError),
    /// A moderator formula that cannot be evaluated on the data.
    #[error("moderator formula: {0}")]
    Frame(#[from] multilevel_frame::FrameError),
    /// The model matrix of the moderators cannot be built.
    #[error("moderator formula: {0}")]
    Design(#[from] multilevel_design::DesignError),
    /// A moderator formula with parts that have no meaning here.
    #[error(
        "moderator formula `{formula}`: {message}; hint: write the moderators as a one-sided formula such as \"~ x1 + x2\" or \"~ dose * sex\""
    )]
    BadModerators {
        /// The formula.
        formula: String,
        /// What is wrong.
        message: String,
    },
}
