//! The two figures the multilevel tutorials draw before any mixed model: the outcome by group
//! as side-by-side boxplots (raw and centred on the group means), and the four classic
//! estimators of a slope — pooled OLS, between, within and random effects — as lines over the
//! data.

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::PlotError;
use crate::palette::OKABE_ITO;
use crate::render::{
    Figure, axis_style, caption_style, padded_range, tick_label_in, tick_style, title_style,
    with_note,
};

/// One panel of boxplots: the values of each group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoxPanel {
    /// Panel title (`Mathach`, `Mathach − group mean`).
    pub title: String,
    /// The values of each group, in the order of [`BoxplotData::group_names`].
    pub values: Vec<Vec<f64>>,
}

/// Data of the `boxplot` figure: one box per group in each panel, groups in a common order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoxplotData {
    /// Figure title.
    pub title: String,
    /// x-axis label (the grouping factor's name).
    pub x_label: String,
    /// Group labels, in drawing order.
    pub group_names: Vec<String>,
    /// Panels, drawn one above the other with a common x axis.
    pub panels: Vec<BoxPanel>,
    /// Note under the figure, if any.
    pub note: Option<String>,
}

/// The five numbers of a box (Tukey's: minimum, lower hinge, median, upper hinge, maximum, as
/// R's `fivenum` and so `boxplot.stats`) with the whiskers cut at 1.5 box lengths from the
/// hinges and the points beyond them.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxStats {
    /// Lower whisker end: the smallest value within 1.5 box lengths below the lower hinge.
    pub lower_whisker: f64,
    /// Lower hinge.
    pub lower_hinge: f64,
    /// Median.
    pub median: f64,
    /// Upper hinge.
    pub upper_hinge: f64,
    /// Upper whisker end.
    pub upper_whisker: f64,
    /// Values beyond the whiskers.
    pub outliers: Vec<f64>,
}

impl BoxStats {
    /// The box of the finite `values`, `None` when there are none.
    pub fn of(values: &[f64]) -> Option<BoxStats> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        // fivenum: the hinges are the medians of the lower and upper halves (the middle value
        // belongs to both when n is odd), i.e. the values at the 1-based positions h, (n+1)/2
        // and n + 1 − h with h = ⌊(n+3)/2⌋ / 2, averaging the neighbours at half positions.
        let at = |pos: f64| {
            let lo = (pos.floor() as usize).clamp(1, n) - 1;
            let hi = (pos.ceil() as usize).clamp(1, n) - 1;
            0.5 * (v[lo] + v[hi])
        };
        let h = ((n + 3) / 2) as f64 / 2.0;
        let (lower_hinge, median, upper_hinge) =
            (at(h), at(0.5 * (n as f64 + 1.0)), at(n as f64 + 1.0 - h));
        let reach = 1.5 * (upper_hinge - lower_hinge);
        let inside = |x: &&f64| **x >= lower_hinge - reach && **x <= upper_hinge + reach;
        let lower_whisker = v.iter().find(inside).copied().unwrap_or(lower_hinge);
        let upper_whisker = v.iter().rev().find(inside).copied().unwrap_or(upper_hinge);
        let outliers = v.iter().copied().filter(|x| !inside(&x)).collect();
        Some(BoxStats {
            lower_whisker,
            lower_hinge,
            median,
            upper_hinge,
            upper_whisker,
            outliers,
        })
    }
}

impl BoxplotData {
    fn validate(&self) -> Result<(), PlotError> {
        if self.panels.is_empty() || self.group_names.is_empty() {
            return Err(PlotError::BadData(
                "boxplot figure: no panels or no groups".into(),
            ));
        }
        if let Some(p) = self
            .panels
            .iter()
            .find(|p| p.values.len() != self.group_names.len())
        {
            return Err(PlotError::BadData(format!(
                "boxplot figure: panel `{}` has {} groups, the figure {}",
                p.title,
                p.values.len(),
                self.group_names.len()
            )));
        }
        Ok(())
    }

    /// Draw the figure on `root` (see [`Figure::draw_on`]).
    ///
    /// # Errors
    /// [`PlotError::BadData`] when the panels and groups disagree; backend errors.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.validate()?;
        let ng = self.group_names.len();
        let area = root.titled(&self.title, title_style())?;
        let area = with_note(&area, self.note.as_deref())?;
        let panels = area.split_evenly((self.panels.len(), 1));
        // Every label when they fit, otherwise none (the note says how the groups are sorted).
        let show_labels = ng <= 40;
        let xr = -0.5..(ng as f64 - 0.5);
        let fill = OKABE_ITO[2].mix(0.35);
        let edge = RGBColor(60, 60, 60);
        for (panel, spec) in panels.iter().zip(&self.panels) {
            let stats: Vec<Option<BoxStats>> =
                spec.values.iter().map(|v| BoxStats::of(v)).collect();
            let yr = padded_range(stats.iter().flatten().flat_map(|s| {
                [s.lower_whisker, s.upper_whisker]
                    .into_iter()
                    .chain(s.outliers.iter().copied())
            }));
            let mut chart = ChartBuilder::on(panel)
                .caption(&spec.title, caption_style())
                .margin(8)
                .margin_right(16)
                .x_label_area_size(if show_labels { 44 } else { 28 })
                .y_label_area_size(62)
                .build_cartesian_2d(xr.clone(), yr.clone())?;
            let names = &self.group_names;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .light_line_style(TRANSPARENT)
                .bold_line_style(RGBColor(215, 215, 215))
                .x_desc(self.x_label.as_str())
                .x_labels(if show_labels { ng } else { 0 })
                .x_label_formatter(&|v| {
                    let i = v.round();
                    if show_labels && (v - i).abs() < 1e-6 && i >= 0.0 {
                        names.get(i as usize).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_label_formatter(&|v| tick_label_in(*v, &yr))
                .label_style(tick_style())
                .axis_desc_style(axis_style())
                .draw()?;
            let half = 0.35;
            for (i, s) in stats.iter().enumerate() {
                let Some(s) = s else { continue };
                let x = i as f64;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x - half, s.lower_hinge), (x + half, s.upper_hinge)],
                    fill.filled(),
                )))?;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x - half, s.lower_hinge), (x + half, s.upper_hinge)],
                    edge.stroke_width(1),
                )))?;
                for seg in [
                    [(x - half, s.median), (x + half, s.median)],
                    [(x, s.upper_hinge), (x, s.upper_whisker)],
                    [(x, s.lower_hinge), (x, s.lower_whisker)],
                    [
                        (x - half / 2.0, s.upper_whisker),
                        (x + half / 2.0, s.upper_whisker),
                    ],
                    [
                        (x - half / 2.0, s.lower_whisker),
                        (x + half / 2.0, s.lower_whisker),
                    ],
                ] {
                    chart.draw_series(LineSeries::new(seg, edge.stroke_width(1)))?;
                }
                chart.draw_series(
                    s.outliers
                        .iter()
                        .map(|&y| Circle::new((x, y), 2, edge.mix(0.6).stroke_width(1))),
                )?;
            }
        }
        Ok(())
    }
}

impl Figure for BoxplotData {
    fn default_size(&self) -> (u32, u32) {
        let w = (60 + 18 * self.group_names.len()).clamp(640, 2400) as u32;
        (w, 300 * self.panels.len().max(1) as u32 + 80)
    }
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.draw(root)
    }
}

/// A labelled population line `y = intercept + slope · x` (one estimator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EstimatorLine {
    /// Legend label (`OLS`, `between`, `within`, `random effects`).
    pub label: String,
    /// Intercept.
    pub intercept: f64,
    /// Slope.
    pub slope: f64,
}

/// Data of the `estimators` figure: the observations, the group means, and one line per
/// estimator of the slope of y on x.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EstimatorsData {
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
    /// `(mean x, mean y)` of each group.
    pub group_means: Vec<(f64, f64)>,
    /// The estimators' lines, drawn across the whole x range.
    pub lines: Vec<EstimatorLine>,
    /// Note under the figure, if any.
    pub note: Option<String>,
}

impl EstimatorsData {
    /// Draw the figure on `root` (see [`Figure::draw_on`]).
    ///
    /// # Errors
    /// [`PlotError::BadData`] when x and y differ in length or are empty; backend errors.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        if self.x.is_empty() || self.x.len() != self.y.len() {
            return Err(PlotError::BadData(format!(
                "estimators figure: x and y need the same non-zero length (got {}, {})",
                self.x.len(),
                self.y.len()
            )));
        }
        let xr = padded_range(self.x.iter().copied());
        let line_ends = self.lines.iter().flat_map(|l| {
            [
                l.intercept + l.slope * xr.start,
                l.intercept + l.slope * xr.end,
            ]
        });
        let yr = padded_range(self.y.iter().copied().chain(line_ends));
        let area = root.titled(&self.title, title_style())?;
        let area = with_note(&area, self.note.as_deref())?;
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .margin_right(20)
            .x_label_area_size(44)
            .y_label_area_size(62)
            .build_cartesian_2d(xr.clone(), yr.clone())?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(225, 225, 225))
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&|v| tick_label_in(*v, &xr))
            .y_label_formatter(&|v| tick_label_in(*v, &yr))
            .label_style(tick_style())
            .axis_desc_style(axis_style())
            .draw()?;
        let nobs = self.x.len();
        let alpha = if nobs > 2000 { 0.15 } else { 0.35 };
        chart.draw_series(
            self.x
                .iter()
                .zip(&self.y)
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|(&x, &y)| {
                    Circle::new((x, y), 2, RGBColor(150, 150, 150).mix(alpha).filled())
                }),
        )?;
        chart.draw_series(
            self.group_means
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|&(x, y)| Circle::new((x, y), 3, BLACK.mix(0.8).filled())),
        )?;
        for (i, line) in self.lines.iter().enumerate() {
            if !(line.intercept.is_finite() && line.slope.is_finite()) {
                continue;
            }
            let colour = OKABE_ITO[1 + i % 7];
            let f = |x: f64| line.intercept + line.slope * x;
            chart
                .draw_series(LineSeries::new(
                    [(xr.start, f(xr.start)), (xr.end, f(xr.end))],
                    colour.stroke_width(3),
                ))?
                .label(format!(
                    "{}: slope {}",
                    line.label,
                    tick_label_in(line.slope, &yr)
                ))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font(tick_style())
            .draw()?;
        Ok(())
    }
}

impl Figure for EstimatorsData {
    fn default_size(&self) -> (u32, u32) {
        (760, 600)
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
    fn box_stats_are_tukeys_five_numbers() {
        // R: fivenum(c(1, 2, 3, 4, 5, 6, 7, 8, 100)) = 1 3 5 7 100; boxplot.stats gives the
        // upper whisker 8 and the outlier 100.
        let s = BoxStats::of(&[5.0, 1.0, 2.0, 3.0, 4.0, 6.0, 7.0, 8.0, 100.0]).unwrap();
        assert_eq!((s.lower_hinge, s.median, s.upper_hinge), (3.0, 5.0, 7.0));
        assert_eq!((s.lower_whisker, s.upper_whisker), (1.0, 8.0));
        assert_eq!(s.outliers, vec![100.0]);
        // Even n: fivenum(1:10) = 1.0 3.0 5.5 8.0 10.0.
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = BoxStats::of(&v).unwrap();
        assert_eq!((s.lower_hinge, s.median, s.upper_hinge), (3.0, 5.5, 8.0));
        assert!(BoxStats::of(&[f64::NAN]).is_none());
    }
}
