//! Per-group fitted lines in side-by-side panels: the shrinkage picture of pooled OLS, a
//! random intercept and a random intercept and slope.

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::PlotError;
use crate::palette::group_colour;
use crate::render::{
    Figure, axis_style, caption_style, padded_range, tick_label_in, tick_style, title_style,
    with_note,
};

/// A straight line `y = intercept + slope · x`, for one group or for the population.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedLine {
    /// Index into [`GroupsData::group_names`], or `None` for a population (or pooled) line,
    /// drawn black across the whole x range.
    pub group: Option<usize>,
    /// Intercept.
    pub intercept: f64,
    /// Slope.
    pub slope: f64,
}

/// One panel: its title and the lines to draw over the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinesPanel {
    /// Panel title (`Pooled OLS`, `Random intercept (1 | Subject)`).
    pub title: String,
    /// Lines; a group's line spans that group's x range.
    pub lines: Vec<FittedLine>,
}

/// Data of the `groups` figure: the observations coloured by group and one panel per model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupsData {
    /// Figure title.
    pub title: String,
    /// x-axis label (the covariate's name).
    pub x_label: String,
    /// y-axis label (the response's name).
    pub y_label: String,
    /// Covariate of each observation.
    pub x: Vec<f64>,
    /// Response of each observation.
    pub y: Vec<f64>,
    /// Group index of each observation (into `group_names`).
    pub group: Vec<usize>,
    /// Group labels.
    pub group_names: Vec<String>,
    /// Panels, drawn left to right with common axes.
    pub panels: Vec<LinesPanel>,
    /// Note under the figure, if any.
    pub note: Option<String>,
}

impl GroupsData {
    /// Check that the vectors agree.
    fn validate(&self) -> Result<(), PlotError> {
        let n = self.x.len();
        if n == 0 || self.y.len() != n || self.group.len() != n {
            return Err(PlotError::BadData(format!(
                "groups figure: x, y and group need the same non-zero length (got {}, {}, {})",
                n,
                self.y.len(),
                self.group.len()
            )));
        }
        let g = self.group_names.len();
        if self.group.iter().any(|&i| i >= g)
            || self
                .panels
                .iter()
                .flat_map(|p| &p.lines)
                .any(|l| l.group.is_some_and(|i| i >= g))
        {
            return Err(PlotError::BadData(format!(
                "groups figure: a group index is not below the number of groups ({g})"
            )));
        }
        if self.panels.is_empty() {
            return Err(PlotError::BadData("groups figure: no panels".into()));
        }
        Ok(())
    }

    /// Draw the figure on `root` (see [`Figure::draw_on`]).
    ///
    /// # Errors
    /// [`PlotError::BadData`] when the vectors disagree; backend errors.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.validate()?;
        let ng = self.group_names.len();
        // x range of each group, for its line.
        let mut gx = vec![(f64::INFINITY, f64::NEG_INFINITY); ng];
        for (&x, &g) in self.x.iter().zip(&self.group) {
            if x.is_finite() {
                gx[g].0 = gx[g].0.min(x);
                gx[g].1 = gx[g].1.max(x);
            }
        }
        let xr = padded_range(self.x.iter().copied());
        // The y range covers the data and every line's ends.
        let line_ends = self.panels.iter().flat_map(|p| &p.lines).flat_map(|l| {
            let (x0, x1) = match l.group {
                Some(g) => gx[g],
                None => (xr.start, xr.end),
            };
            [x0, x1]
                .into_iter()
                .filter(|x| x.is_finite())
                .map(move |x| l.intercept + l.slope * x)
        });
        let yr = padded_range(self.y.iter().copied().chain(line_ends));
        let area = root.titled(&self.title, title_style())?;
        let area = with_note(&area, self.note.as_deref())?;
        let panels = area.split_evenly((1, self.panels.len()));
        let many = ng > 7;
        // Lighter and smaller points when there are many observations.
        let nobs = self.x.len();
        let point_alpha = if nobs > 2000 {
            0.25
        } else if many {
            0.45
        } else {
            0.7
        };
        let point_size = if nobs > 2000 { 2 } else { 3 };
        let line_width = if many { 1 } else { 2 };
        for (pi, (panel, spec)) in panels.iter().zip(&self.panels).enumerate() {
            let mut chart = ChartBuilder::on(panel)
                .caption(&spec.title, caption_style())
                .margin(8)
                .margin_right(16)
                .x_label_area_size(44)
                .y_label_area_size(if pi == 0 { 62 } else { 46 })
                .build_cartesian_2d(xr.clone(), yr.clone())?;
            chart
                .configure_mesh()
                .light_line_style(TRANSPARENT)
                .bold_line_style(RGBColor(215, 215, 215))
                .x_desc(self.x_label.as_str())
                .y_desc(if pi == 0 { self.y_label.as_str() } else { "" })
                .x_label_formatter(&|v| tick_label_in(*v, &xr))
                .y_label_formatter(&|v| tick_label_in(*v, &yr))
                .label_style(tick_style())
                .axis_desc_style(axis_style())
                .draw()?;
            chart.draw_series(
                self.x
                    .iter()
                    .zip(&self.y)
                    .zip(&self.group)
                    .filter(|((x, y), _)| x.is_finite() && y.is_finite())
                    .map(|((&x, &y), &g)| {
                        Circle::new(
                            (x, y),
                            point_size,
                            group_colour(g, ng).mix(point_alpha).filled(),
                        )
                    }),
            )?;
            // Group lines first, population lines on top.
            let mut lines: Vec<&FittedLine> = spec.lines.iter().collect();
            lines.sort_by_key(|l| l.group.is_none());
            for line in lines {
                let (x0, x1, style) = match line.group {
                    Some(g) if gx[g].0 <= gx[g].1 => (
                        gx[g].0,
                        gx[g].1,
                        group_colour(g, ng).stroke_width(line_width),
                    ),
                    Some(_) => continue,
                    None => (xr.start, xr.end, BLACK.stroke_width(3)),
                };
                if !(line.intercept.is_finite() && line.slope.is_finite()) {
                    continue;
                }
                let f = |x: f64| line.intercept + line.slope * x;
                chart.draw_series(LineSeries::new([(x0, f(x0)), (x1, f(x1))], style))?;
            }
        }
        Ok(())
    }
}

impl Figure for GroupsData {
    fn default_size(&self) -> (u32, u32) {
        (480 * self.panels.len().max(1) as u32, 520)
    }
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.draw(root)
    }
}
