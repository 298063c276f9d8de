//! Profile ζ plots (lme4's `xyplot(profile(fit))`).

use multilevel_numeric::dist::qnorm;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::PlotError;
use crate::palette::OKABE_ITO;
use crate::render::{
    Figure, axis_style, caption_style, padded_range, panel_grid, tick_label_in, tick_style,
    title_style, with_note,
};

/// The profile of one parameter: `ζ(φ) = sign(φ − φ̂) √(d(φ) − d̂)` at a set of values `φ`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfilePanel {
    /// Parameter name (`sd_(Intercept)|Subject`, `sigma`, `Days`).
    pub name: String,
    /// The estimate φ̂ (where ζ = 0).
    pub estimate: f64,
    /// `(φ, ζ)` points, sorted by φ.
    pub points: Vec<(f64, f64)>,
}

/// Data of the `profile` figure: one panel per parameter, with the ζ = ±z lines of the
/// confidence levels in `levels`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileData {
    /// Figure title.
    pub title: String,
    /// Panels.
    pub panels: Vec<ProfilePanel>,
    /// Confidence levels whose `±z` lines are drawn (e.g. `[0.5, 0.8, 0.9, 0.95, 0.99]`).
    pub levels: Vec<f64>,
    /// Note under the figure, if any.
    pub note: Option<String>,
}

impl ProfileData {
    /// Draw the figure on `root` (see [`Figure::draw_on`]).
    ///
    /// # Errors
    /// [`PlotError::BadData`] when there is no panel or a panel has fewer than two points;
    /// backend errors.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        if self.panels.is_empty() {
            return Err(PlotError::BadData("profile figure: no parameters".into()));
        }
        if let Some(p) = self.panels.iter().find(|p| p.points.len() < 2) {
            return Err(PlotError::BadData(format!(
                "profile of `{}` has fewer than two points",
                p.name
            )));
        }
        let zs: Vec<f64> = self
            .levels
            .iter()
            .filter(|l| **l > 0.0 && **l < 1.0)
            .map(|l| qnorm(0.5 + l / 2.0))
            .collect();
        let zmax = self
            .panels
            .iter()
            .flat_map(|p| p.points.iter().map(|q| q.1.abs()))
            .filter(|z| z.is_finite())
            .chain(zs.iter().copied())
            .fold(0.0f64, f64::max);
        let yr = padded_range([-zmax, zmax]);
        let area = root.titled(&self.title, title_style())?;
        let area = with_note(&area, self.note.as_deref())?;
        let panels = panel_grid(&area, self.panels.len(), 3);
        for (panel, spec) in panels.iter().zip(&self.panels) {
            let xr = padded_range(spec.points.iter().map(|p| p.0));
            let mut chart = ChartBuilder::on(panel)
                .caption(&spec.name, caption_style())
                .margin(8)
                .margin_right(16)
                .x_label_area_size(40)
                .y_label_area_size(44)
                .build_cartesian_2d(xr.clone(), yr.clone())?;
            chart
                .configure_mesh()
                .light_line_style(TRANSPARENT)
                .bold_line_style(RGBColor(220, 220, 220))
                .y_desc("ζ")
                .x_label_formatter(&|v| tick_label_in(*v, &xr))
                .y_label_formatter(&|v| tick_label_in(*v, &yr))
                .label_style(tick_style())
                .axis_desc_style(axis_style())
                .draw()?;
            let grey = RGBColor(160, 160, 160);
            chart.draw_series(zs.iter().flat_map(|&z| [z, -z]).map(|z| {
                PathElement::new(vec![(xr.start, z), (xr.end, z)], grey.stroke_width(1))
            }))?;
            if spec.estimate.is_finite() {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(spec.estimate, yr.start), (spec.estimate, yr.end)],
                    grey.stroke_width(1),
                )))?;
            }
            let pts: Vec<(f64, f64)> = spec
                .points
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect();
            chart.draw_series(LineSeries::new(pts.clone(), OKABE_ITO[5].stroke_width(2)))?;
            chart.draw_series(
                pts.iter()
                    .map(|&p| Circle::new(p, 2, OKABE_ITO[5].filled())),
            )?;
        }
        Ok(())
    }
}

impl Figure for ProfileData {
    fn default_size(&self) -> (u32, u32) {
        let (rows, cols) = crate::render::grid_shape(self.panels.len(), 3);
        (400 * cols as u32, 70 + 330 * rows as u32)
    }
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.draw(root)
    }
}
