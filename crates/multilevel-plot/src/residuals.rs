//! Residual diagnostics: residuals against fitted values and normal QQ plots.

use multilevel_numeric::dist::qnorm;
use multilevel_numeric::stats::quantile_sorted;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::PlotError;
use crate::palette::OKABE_ITO;
use crate::render::{
    Figure, axis_style, caption_style, padded_range, panel_grid, tick_label_in, tick_style,
    title_style,
};

/// Values whose normal QQ plot gets a panel (a random-effect column's conditional modes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QqPanel {
    /// Panel title.
    pub title: String,
    /// The values.
    pub values: Vec<f64>,
}

/// Data of the `residuals` figure: residuals vs fitted, normal QQ of the residuals, and one
/// normal QQ panel per entry of `qq` (the random effects).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResidualsData {
    /// Figure title.
    pub title: String,
    /// Fitted values.
    pub fitted: Vec<f64>,
    /// Residuals (same length).
    pub residuals: Vec<f64>,
    /// Further normal QQ panels.
    pub qq: Vec<QqPanel>,
}

/// R's `ppoints(n)`: `(i − a) / (n + 1 − 2a)` with `a = 3/8` for `n ≤ 10`, else `1/2`.
pub(crate) fn ppoints(n: usize) -> Vec<f64> {
    let a = if n <= 10 { 0.375 } else { 0.5 };
    (1..=n)
        .map(|i| (i as f64 - a) / (n as f64 + 1.0 - 2.0 * a))
        .collect()
}

/// Points `(x, y)` and, optionally, a line `(intercept, slope)`.
type PointsAndLine = (Vec<(f64, f64)>, Option<(f64, f64)>);

/// Points of a normal QQ plot `(theoretical, sample)` of the finite values, and R's
/// `qqline` through the first and third quartiles as `(intercept, slope)`.
pub(crate) fn normal_qq(values: &[f64]) -> PointsAndLine {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let pts: Vec<(f64, f64)> = ppoints(v.len())
        .into_iter()
        .map(qnorm)
        .zip(v.iter().copied())
        .collect();
    let (q1, q3) = (quantile_sorted(&v, 0.25), quantile_sorted(&v, 0.75));
    let (t1, t3) = (qnorm(0.25), qnorm(0.75));
    let line = (v.len() >= 2 && q3 > q1).then(|| {
        let slope = (q3 - q1) / (t3 - t1);
        (q1 - slope * t1, slope)
    });
    (pts, line)
}

fn scatter_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    pts: &[(f64, f64)],
    line: Option<(f64, f64)>,
) -> Result<(), PlotError> {
    let xr = padded_range(pts.iter().map(|p| p.0));
    let yr = padded_range(pts.iter().map(|p| p.1));
    let mut chart = ChartBuilder::on(area)
        .caption(title, caption_style())
        .margin(8)
        .margin_right(16)
        .x_label_area_size(44)
        .y_label_area_size(62)
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
    if let Some((a, b)) = line {
        // Clip the line to the y range so it never leaves the plotting area.
        let mut seg = Vec::new();
        for x in [xr.start, xr.end] {
            seg.push((x, (a + b * x).clamp(yr.start, yr.end)));
        }
        if b != 0.0 {
            let inv = |y: f64| ((y - a) / b).clamp(xr.start, xr.end);
            seg[0].0 = inv(seg[0].1);
            seg[1].0 = inv(seg[1].1);
        }
        chart.draw_series(std::iter::once(PathElement::new(
            seg,
            OKABE_ITO[6].stroke_width(2),
        )))?;
    }
    chart.draw_series(
        pts.iter()
            .map(|&p| Circle::new(p, 2, OKABE_ITO[5].mix(0.6).filled())),
    )?;
    Ok(())
}

impl ResidualsData {
    /// Draw the figure on `root` (see [`Figure::draw_on`]).
    ///
    /// # Errors
    /// [`PlotError::BadData`] when fitted values and residuals differ in length or are
    /// empty; backend errors.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        if self.fitted.is_empty() || self.fitted.len() != self.residuals.len() {
            return Err(PlotError::BadData(format!(
                "residuals figure: {} fitted values and {} residuals",
                self.fitted.len(),
                self.residuals.len()
            )));
        }
        let area = root.titled(&self.title, title_style())?;
        let panels = panel_grid(&area, 2 + self.qq.len(), 3);
        let rf: Vec<(f64, f64)> = self
            .fitted
            .iter()
            .zip(&self.residuals)
            .filter(|(f, r)| f.is_finite() && r.is_finite())
            .map(|(f, r)| (*f, *r))
            .collect();
        if let Some(p) = panels.first() {
            scatter_panel(
                p,
                "Residuals vs fitted",
                "fitted",
                "residual",
                &rf,
                Some((0.0, 0.0)),
            )?;
        }
        if let Some(p) = panels.get(1) {
            let (pts, line) = normal_qq(&self.residuals);
            scatter_panel(
                p,
                "Normal QQ: residuals",
                "standard normal quantile",
                "residual",
                &pts,
                line,
            )?;
        }
        for (p, qq) in panels.iter().skip(2).zip(&self.qq) {
            let (pts, line) = normal_qq(&qq.values);
            scatter_panel(
                p,
                &format!("Normal QQ: {}", qq.title),
                "standard normal quantile",
                "conditional mode",
                &pts,
                line,
            )?;
        }
        Ok(())
    }
}

impl Figure for ResidualsData {
    fn default_size(&self) -> (u32, u32) {
        let (rows, cols) = crate::render::grid_shape(2 + self.qq.len(), 3);
        (460 * cols as u32, 40 + 380 * rows as u32)
    }
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.draw(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppoints_and_qqline_follow_r() {
        // R: ppoints(5) = 0.1190476 0.3095238 0.5000000 0.6904762 0.8809524
        let p = ppoints(5);
        assert!((p[0] - 0.119_047_6).abs() < 1e-7 && (p[2] - 0.5).abs() < 1e-12);
        // R: ppoints(20)[1] = 0.025
        assert!((ppoints(20)[0] - 0.025).abs() < 1e-12);
        // R: x <- qnorm(ppoints(11)); qqline(x) has intercept 0 and slope 0.9048675057
        // (type-7 sample quartiles over the normal quartiles).
        let xs: Vec<f64> = ppoints(11).iter().map(|&p| qnorm(p)).collect();
        let (pts, line) = normal_qq(&xs);
        assert_eq!(pts.len(), 11);
        let (a, b) = line.unwrap_or((f64::NAN, f64::NAN));
        assert!(
            a.abs() < 1e-12 && (b - 0.904_867_505_7).abs() < 1e-9,
            "{a} {b}"
        );
    }
}
