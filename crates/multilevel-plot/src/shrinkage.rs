//! Shrinkage plot: per-group OLS estimates moved to the mixed model's group coefficients.

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::PlotError;
use crate::palette::OKABE_ITO;
use crate::render::{
    Figure, axis_style, padded_range, tick_label_in, tick_style, title_style, with_note,
};

/// One group: its size, its own OLS estimate (if the per-group fit was possible) and its
/// coefficient from the mixed model (fixed effect + conditional mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShrinkageGroup {
    /// Group label.
    pub name: String,
    /// Number of observations in the group.
    pub n: usize,
    /// Per-group OLS estimate (one or two coefficients), `None` when it could not be fitted.
    pub ols: Option<Vec<f64>>,
    /// Mixed-model coefficient (same length as `population`).
    pub blup: Vec<f64>,
}

/// Data of the `shrinkage` figure.
///
/// With two coefficients the plot is 2-D (first coefficient on x, second on y). With one it
/// is 1-D: the group size on x and the coefficient on y, so the stronger pull on small groups
/// shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShrinkageData {
    /// Figure title.
    pub title: String,
    /// Names of the coefficients (one or two).
    pub coef_names: Vec<String>,
    /// The population estimate (fixed effects) of the coefficients.
    pub population: Vec<f64>,
    /// Groups.
    pub groups: Vec<ShrinkageGroup>,
    /// Note under the figure (e.g. how many groups were skipped), if any.
    pub note: Option<String>,
}

impl ShrinkageData {
    fn validate(&self) -> Result<usize, PlotError> {
        let d = self.population.len();
        if !(d == 1 || d == 2) || self.coef_names.len() != d {
            return Err(PlotError::BadData(format!(
                "shrinkage figure: one or two coefficients with names needed (got {} values and {} names)",
                d,
                self.coef_names.len()
            )));
        }
        if self.groups.is_empty() {
            return Err(PlotError::BadData("shrinkage figure: no groups".into()));
        }
        for g in &self.groups {
            if g.blup.len() != d || g.ols.as_ref().is_some_and(|o| o.len() != d) {
                return Err(PlotError::BadData(format!(
                    "shrinkage figure: group `{}` does not have {d} coefficients",
                    g.name
                )));
            }
        }
        Ok(d)
    }

    /// Draw the figure on `root` (see [`Figure::draw_on`]).
    ///
    /// # Errors
    /// [`PlotError::BadData`] when the coefficients disagree in number; backend errors.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let d = self.validate()?;
        let nmax = self.groups.iter().map(|g| g.n).max().unwrap_or(1).max(1) as f64;
        let radius = |n: usize| (2.5 + 5.5 * (n as f64 / nmax).sqrt()).round() as i32;
        // (x, y) of the OLS and the BLUP point of each group.
        let xy = |g: &ShrinkageGroup, v: &[f64]| -> (f64, f64) {
            if d == 2 {
                (v[0], v[1])
            } else {
                (g.n as f64, v[0])
            }
        };
        type Xy = (f64, f64);
        let pts: Vec<(Option<Xy>, Xy, &ShrinkageGroup)> = self
            .groups
            .iter()
            .map(|g| (g.ols.as_deref().map(|o| xy(g, o)), xy(g, &g.blup), g))
            .collect();
        let all = || {
            pts.iter()
                .flat_map(|(o, b, _)| o.iter().copied().chain(std::iter::once(*b)))
        };
        let pop = if d == 2 {
            Some((self.population[0], self.population[1]))
        } else {
            None
        };
        let xr = padded_range(all().map(|p| p.0).chain(pop.map(|p| p.0)));
        let yr = padded_range(all().map(|p| p.1).chain([self.population[d - 1]]));
        let area = root.titled(&self.title, title_style())?;
        let area = with_note(&area, self.note.as_deref())?;
        let (x_desc, y_desc) = if d == 2 {
            (self.coef_names[0].clone(), self.coef_names[1].clone())
        } else {
            (
                "observations in the group".to_string(),
                self.coef_names[0].clone(),
            )
        };
        let (chart_area, legend_area) = {
            let (w, _) = area.dim_in_pixel();
            area.split_horizontally(w.saturating_sub(190) as i32)
        };
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(10)
            .margin_right(16)
            .x_label_area_size(46)
            .y_label_area_size(66)
            .build_cartesian_2d(xr.clone(), yr.clone())?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(215, 215, 215))
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|v| tick_label_in(*v, &xr))
            .y_label_formatter(&|v| tick_label_in(*v, &yr))
            .label_style(tick_style())
            .axis_desc_style(axis_style())
            .draw()?;
        let ols_colour = OKABE_ITO[6];
        let blup_colour = OKABE_ITO[5];
        // Population: a cross in 2-D, a dashed-looking horizontal line in 1-D.
        if let Some((px, py)) = pop {
            chart.draw_series(std::iter::once(Cross::new(
                (px, py),
                9,
                BLACK.stroke_width(3),
            )))?;
        } else {
            let y = self.population[0];
            let step = (xr.end - xr.start) / 60.0;
            chart.draw_series((0..60).step_by(2).map(|i| {
                let a = xr.start + step * i as f64;
                PathElement::new(vec![(a, y), (a + step, y)], BLACK.stroke_width(2))
            }))?;
        }
        // Arrows from the OLS point to the mixed-model point, drawn in pixels on the plotting
        // area from circle edge to circle edge, with a head of two short strokes.
        let base = chart.plotting_area().get_base_pixel();
        let pixel_area = chart.plotting_area().strip_coord_spec();
        let grey = RGBColor(90, 90, 90).stroke_width(1);
        for (ols, blup, g) in &pts {
            let Some(o) = ols else { continue };
            if !(o.0.is_finite() && o.1.is_finite() && blup.0.is_finite() && blup.1.is_finite()) {
                continue;
            }
            let local = |p: (i32, i32)| (f64::from(p.0 - base.0), f64::from(p.1 - base.1));
            let (p0, p1) = (
                local(chart.backend_coord(o)),
                local(chart.backend_coord(blup)),
            );
            let (dx, dy) = (p1.0 - p0.0, p1.1 - p0.1);
            let len = (dx * dx + dy * dy).sqrt();
            let r = f64::from(radius(g.n)) + 1.5;
            if len <= 2.0 * r + 6.0 {
                continue;
            }
            let (ux, uy) = (dx / len, dy / len);
            let px = |x: f64, y: f64| (x.round() as i32, y.round() as i32);
            let start = px(p0.0 + ux * r, p0.1 + uy * r);
            let (ex, ey) = (p1.0 - ux * r, p1.1 - uy * r);
            let end = px(ex, ey);
            // Head: the direction turned back by ±0.45 rad, 8 px long.
            let head = |s: f64| {
                let (c, sn) = (0.45f64.cos(), 0.45f64.sin() * s);
                px(ex - (ux * c - uy * sn) * 8.0, ey - (ux * sn + uy * c) * 8.0)
            };
            pixel_area.draw(&PathElement::new(vec![start, end], grey))?;
            pixel_area.draw(&PathElement::new(vec![head(1.0), end, head(-1.0)], grey))?;
        }
        chart.draw_series(pts.iter().filter_map(|(o, _, g)| {
            o.map(|o| Circle::new(o, radius(g.n), ols_colour.stroke_width(2)))
        }))?;
        chart.draw_series(
            pts.iter()
                .map(|(_, b, g)| Circle::new(*b, radius(g.n), blup_colour.mix(0.8).filled())),
        )?;
        // Legend.
        let style = tick_style();
        let x0 = 8;
        let mut y = 60;
        legend_area.draw(&Circle::new((x0 + 8, y), 6, ols_colour.stroke_width(2)))?;
        legend_area.draw(&Text::new("per-group OLS", (x0 + 22, y - 8), style.clone()))?;
        y += 28;
        legend_area.draw(&Circle::new((x0 + 8, y), 6, blup_colour.mix(0.8).filled()))?;
        legend_area.draw(&Text::new("mixed model", (x0 + 22, y - 8), style.clone()))?;
        y += 28;
        if d == 2 {
            legend_area.draw(&Cross::new((x0 + 8, y), 7, BLACK.stroke_width(3)))?;
        } else {
            legend_area.draw(&PathElement::new(
                vec![(x0, y), (x0 + 16, y)],
                BLACK.stroke_width(2),
            ))?;
        }
        legend_area.draw(&Text::new("population", (x0 + 22, y - 8), style.clone()))?;
        y += 34;
        legend_area.draw(&Text::new("point size:", (x0, y - 8), style.clone()))?;
        y += 18;
        legend_area.draw(&Text::new("group size", (x0, y - 8), style))?;
        Ok(())
    }
}

impl Figure for ShrinkageData {
    fn default_size(&self) -> (u32, u32) {
        (900, 680)
    }
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.draw(root)
    }
}
