//! The one report [`Format`] and the [`Render`] trait that every result type implements (a
//! mixed-model fit, the ANOVA table, the likelihood-ratio comparison, confidence intervals,
//! `explore`, the meta-analysis, GEE and cluster-robust results), so a caller renders any
//! result with the same call: `result.render(format)`.
//!
//! The trait lives in this leaf crate so each crate implements it for its own result types and
//! data flows one way; results that need context beyond their own data to be printed (the data
//! set's name, the df method) are wrapped in a small report type by the crate that has both.

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Plain text laid out as R prints the corresponding object.
    Text,
    /// JSON (pretty-printed, ending with a newline).
    Json,
    /// Markdown: headings, lists and tables.
    Markdown,
}

/// A result that can be turned into a report in every [`Format`].
pub trait Render {
    /// The report in `format`; the string ends with a newline.
    fn render(&self, format: Format) -> String;
}

impl<T: Render + ?Sized> Render for &T {
    fn render(&self, format: Format) -> String {
        (**self).render(format)
    }
}
