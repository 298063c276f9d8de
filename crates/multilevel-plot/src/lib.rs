//! Figures of multilevel fits, drawn with [plotters](https://docs.rs/plotters) to SVG or PNG.
//!
//! Several kinds of figure, each drawn by one function from plain data (so it can be tested and
//! fed from anything), plus [`figures`], which computes that data from a
//! [`Design`](multilevel_design::Design) and its [`FitResult`](multilevel_lmm::FitResult):
//!
//! | kind | data | drawn by | computed by |
//! |---|---|---|---|
//! | per-group lines: pooled OLS, `(1 \| g)`, `(x \| g)` | [`GroupsData`] | [`GroupsData::draw`] | [`figures::groups`] |
//! | caterpillar of the conditional modes ± 1.96 √condVar | [`CaterpillarData`] | [`CaterpillarData::draw`] | [`figures::caterpillar`] |
//! | shrinkage: per-group OLS → BLUP-based coefficients | [`ShrinkageData`] | [`ShrinkageData::draw`] | [`figures::shrinkage`] |
//! | residuals vs fitted, normal QQ of residuals and random effects | [`ResidualsData`] | [`ResidualsData::draw`] | [`figures::residuals`] |
//! | profile ζ of each parameter | [`ProfileData`] | [`ProfileData::draw`] | [`figures::profile`] |
//! | power curve with binomial intervals | [`PowerCurveData`] | [`PowerCurveData::draw`] | the facade's `power` |
//! | the response by group, raw and centred on the group means | [`BoxplotData`] | [`BoxplotData::draw`] | [`figures::boxplot`] |
//! | OLS, between, within and random-effects slopes over the data | [`EstimatorsData`] | [`EstimatorsData::draw`] | [`figures::estimators`] |
//!
//! Every data type implements [`Figure`]; [`save`] writes any figure to a file whose
//! extension (`.svg` or `.png`) picks the format. Text is set in DejaVu Sans, which is embedded
//! in the crate (licence in `fonts/DejaVu-LICENSE.txt`), so PNGs render the same on a machine
//! without fonts.
//!
//! ```no_run
//! use multilevel_plot::{CaterpillarData, CaterpillarPanel, save};
//!
//! let fig = CaterpillarData {
//!     title: "Conditional modes of Subject".into(),
//!     panels: vec![CaterpillarPanel {
//!         title: "(Intercept)".into(),
//!         labels: vec!["a".into(), "b".into()],
//!         estimate: vec![-1.0, 2.0],
//!         half_width: vec![0.5, 0.7],
//!     }],
//! };
//! save(&fig, std::path::Path::new("cat.svg"), None)?;
//! # Ok::<(), multilevel_plot::PlotError>(())
//! ```

mod caterpillar;
pub mod figures;
mod groups;
mod palette;
mod power;
mod profile;
mod render;
mod residuals;
mod shrinkage;
mod tutorial;

pub use caterpillar::{CaterpillarData, CaterpillarPanel};
pub use groups::{FittedLine, GroupsData, LinesPanel};
pub use palette::{OKABE_ITO, group_colour, viridis};
pub use power::PowerCurveData;
pub use profile::{ProfileData, ProfilePanel};
pub use render::{Figure, ImageFormat, register_fonts, render_png_bytes, render_svg_string, save};
pub use residuals::{QqPanel, ResidualsData};
pub use shrinkage::{ShrinkageData, ShrinkageGroup};
pub use tutorial::{BoxPanel, BoxStats, BoxplotData, EstimatorLine, EstimatorsData};

/// Errors of the figure functions.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The output file name has no extension that names a supported format.
    #[error(
        "{path}: cannot tell the image format from the file name; hint: end the name with .svg or .png"
    )]
    UnknownFormat {
        /// The output path as given.
        path: String,
    },
    /// The output file could not be written.
    #[error(
        "{path}: cannot write the figure: {message}; hint: check that the directory exists and is writable"
    )]
    Write {
        /// The output path as given.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The figure size is unusable.
    #[error(
        "figure size {width}×{height} px is out of range; hint: use a width and height between 100 and 10000 px"
    )]
    BadSize {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The model does not have the shape this kind of figure needs.
    #[error("{0}")]
    Unsupported(String),
    /// The data handed to a figure are inconsistent or empty.
    #[error("cannot draw the figure: {0}")]
    BadData(String),
    /// The embedded font could not be loaded (a bug).
    #[error("the embedded font could not be loaded; hint: this is a bug, please report it")]
    Font,
    /// Drawing failed inside the plotting backend.
    #[error("drawing failed: {0}")]
    Draw(String),
    /// A refit needed for the figure failed.
    #[error("{0}")]
    Fit(#[from] multilevel_lmm::LmmError),
    /// The profiles of the `profile` figure could not be computed.
    #[error("{0}")]
    Profile(#[from] multilevel_inference::InferenceError),
}

impl<E: std::error::Error + Send + Sync> From<plotters::drawing::DrawingAreaErrorKind<E>>
    for PlotError
{
    fn from(e: plotters::drawing::DrawingAreaErrorKind<E>) -> Self {
        PlotError::Draw(e.to_string())
    }
}
