//! The power curve: simulated power against the sample size, with the binomial intervals.

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::PlotError;
use crate::palette::OKABE_ITO;
use crate::render::{Figure, axis_style, caption_style, padded_range, tick_label_in, tick_style};

/// Data of the power-curve figure (simr's `plot(powerCurve(...))`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerCurveData {
    /// Figure title (the test).
    pub title: String,
    /// Label of the x axis (what the size counts).
    pub x_label: String,
    /// Sample sizes.
    pub sizes: Vec<f64>,
    /// Power at each size.
    pub power: Vec<f64>,
    /// Lower limits of the intervals.
    pub lower: Vec<f64>,
    /// Upper limits of the intervals.
    pub upper: Vec<f64>,
    /// A horizontal reference line (e.g. 0.8), if any.
    pub target: Option<f64>,
}

impl PowerCurveData {
    /// Draw the figure on `root` (see [`Figure::draw_on`]).
    ///
    /// # Errors
    /// [`PlotError::BadData`] when the vectors differ in length or are empty; backend errors.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let n = self.sizes.len();
        if n == 0 || self.power.len() != n || self.lower.len() != n || self.upper.len() != n {
            return Err(PlotError::BadData(format!(
                "power curve: {} sizes, {} powers, {} lower and {} upper limits",
                n,
                self.power.len(),
                self.lower.len(),
                self.upper.len()
            )));
        }
        let xr = padded_range(self.sizes.iter().copied());
        let yr = 0.0..1.0;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, caption_style())
            .margin(12)
            .margin_right(20)
            .x_label_area_size(48)
            .y_label_area_size(62)
            .build_cartesian_2d(xr.clone(), yr.clone())?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(215, 215, 215))
            .x_desc(self.x_label.as_str())
            .y_desc("power")
            .x_label_formatter(&|v| tick_label_in(*v, &xr))
            .y_label_formatter(&|v| tick_label_in(*v, &yr))
            .label_style(tick_style())
            .axis_desc_style(axis_style())
            .draw()?;
        if let Some(t) = self.target.filter(|t| (0.0..=1.0).contains(t)) {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(xr.start, t), (xr.end, t)],
                OKABE_ITO[7].stroke_width(1),
            )))?;
        }
        let ok = |i: usize| self.power[i].is_finite();
        chart.draw_series((0..n).filter(|&i| ok(i)).map(|i| {
            let x = self.sizes[i];
            PathElement::new(
                vec![
                    (x, self.lower[i].clamp(0.0, 1.0)),
                    (x, self.upper[i].clamp(0.0, 1.0)),
                ],
                OKABE_ITO[4].stroke_width(2),
            )
        }))?;
        chart.draw_series(std::iter::once(PathElement::new(
            (0..n)
                .filter(|&i| ok(i))
                .map(|i| (self.sizes[i], self.power[i]))
                .collect::<Vec<_>>(),
            OKABE_ITO[5].stroke_width(2),
        )))?;
        chart.draw_series(
            (0..n)
                .filter(|&i| ok(i))
                .map(|i| Circle::new((self.sizes[i], self.power[i]), 4, OKABE_ITO[5].filled())),
        )?;
        Ok(())
    }
}

impl Figure for PowerCurveData {
    fn default_size(&self) -> (u32, u32) {
        (720, 480)
    }
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.draw(root)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn draws_and_checks_lengths() {
        let fig = PowerCurveData {
            title: "treat = 0".into(),
            x_label: "levels of school".into(),
            sizes: vec![20.0, 40.0],
            power: vec![0.4, 0.7],
            lower: vec![0.3, 0.6],
            upper: vec![0.5, 0.8],
            target: Some(0.8),
        };
        let svg = crate::render_svg_string(&fig, None).unwrap();
        assert!(svg.contains("<svg") && svg.contains("power"));
        let bad = PowerCurveData {
            power: vec![0.4],
            ..fig
        };
        assert!(crate::render_svg_string(&bad, None).is_err());
    }
}
