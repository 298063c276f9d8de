//! Figures of multilevel fits (plotters; SVG and PNG): per-group fits, caterpillar, shrinkage, residuals, profiles.
