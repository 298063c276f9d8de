//! Caterpillar plot of conditional modes with their prediction intervals (lme4's
//! `dotplot(ranef(fit, condVar = TRUE))`).

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::PlotError;
use crate::palette::OKABE_ITO;
use crate::render::{
    Figure, axis_style, caption_style, padded_range, tick_label_in, tick_style, title_style,
};

/// One random-effect column: its conditional modes and interval half-widths, in display order
/// (the first is drawn at the bottom).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaterpillarPanel {
    /// Panel title (the random-effect column, `(Intercept)`, `Days`).
    pub title: String,
    /// Level labels.
    pub labels: Vec<String>,
    /// Conditional modes b̂.
    pub estimate: Vec<f64>,
    /// Half-widths of the intervals, `1.96 · √(conditional variance)` (NaN: none drawn).
    pub half_width: Vec<f64>,
}

/// Data of the `caterpillar` figure: panels side by side, one per random-effect column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaterpillarData {
    /// Figure title.
    pub title: String,
    /// Panels, left to right.
    pub panels: Vec<CaterpillarPanel>,
}

impl CaterpillarData {
    /// Draw the figure on `root` (see [`Figure::draw_on`]).
    ///
    /// # Errors
    /// [`PlotError::BadData`] when a panel's vectors disagree or there is nothing to draw;
    /// backend errors.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        if self.panels.is_empty() {
            return Err(PlotError::BadData("caterpillar figure: no panels".into()));
        }
        for p in &self.panels {
            let n = p.labels.len();
            if n == 0 || p.estimate.len() != n || p.half_width.len() != n {
                return Err(PlotError::BadData(format!(
                    "caterpillar panel `{}`: labels, estimates and half-widths need the same non-zero length",
                    p.title
                )));
            }
        }
        let area = root.titled(&self.title, title_style())?;
        let panels = area.split_evenly((1, self.panels.len()));
        let (_, height) = area.dim_in_pixel();
        for (panel, spec) in panels.iter().zip(&self.panels) {
            let n = spec.labels.len();
            let label_w = spec
                .labels
                .iter()
                .map(|l| l.chars().count())
                .max()
                .unwrap_or(1)
                .clamp(2, 24) as u32
                * 8
                + 14;
            let ends = spec
                .estimate
                .iter()
                .zip(&spec.half_width)
                .flat_map(|(e, h)| {
                    let h = if h.is_finite() { *h } else { 0.0 };
                    [e - h, e + h]
                })
                .chain([0.0]);
            let xr = padded_range(ends);
            let mut chart = ChartBuilder::on(panel)
                .caption(&spec.title, caption_style())
                .margin(8)
                .margin_right(16)
                .x_label_area_size(40)
                .y_label_area_size(label_w)
                .build_cartesian_2d(xr.clone(), -1i32..n as i32)?;
            // At most one label per 13 px of height.
            let max_labels = ((height.saturating_sub(100)) / 13).max(2) as usize;
            let labels = &spec.labels;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .light_line_style(TRANSPARENT)
                .bold_line_style(RGBColor(215, 215, 215))
                .y_labels(n.min(max_labels) + 2)
                .y_label_formatter(&|i| {
                    usize::try_from(*i)
                        .ok()
                        .and_then(|i| labels.get(i))
                        .cloned()
                        .unwrap_or_default()
                })
                .x_label_formatter(&|v| tick_label_in(*v, &xr))
                .label_style(tick_style())
                .axis_desc_style(axis_style())
                .draw()?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(0.0, -1), (0.0, n as i32)],
                RGBColor(150, 150, 150).stroke_width(1),
            )))?;
            let colour = OKABE_ITO[5];
            // Thinner bars and smaller points when the levels are many.
            let (bar, dot) = if n > 60 { (1, 2) } else { (2, 3) };
            chart.draw_series(
                spec.estimate
                    .iter()
                    .zip(&spec.half_width)
                    .enumerate()
                    .filter(|(_, (e, h))| e.is_finite() && h.is_finite())
                    .map(|(i, (&e, &h))| {
                        PathElement::new(
                            vec![(e - h, i as i32), (e + h, i as i32)],
                            colour.stroke_width(bar),
                        )
                    }),
            )?;
            chart.draw_series(
                spec.estimate
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.is_finite())
                    .map(|(i, &e)| Circle::new((e, i as i32), dot, BLACK.filled())),
            )?;
        }
        Ok(())
    }
}

impl Figure for CaterpillarData {
    fn default_size(&self) -> (u32, u32) {
        let n = self
            .panels
            .iter()
            .map(|p| p.labels.len())
            .max()
            .unwrap_or(1) as u32;
        (
            (360 * self.panels.len().max(1) as u32).max(480),
            (15 * n + 140).clamp(360, 1600),
        )
    }
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.draw(root)
    }
}
