//! Output formats, the embedded font and the shared drawing helpers.

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::PlotError;

/// DejaVu Sans (Bitstream Vera licence, see `fonts/DejaVu-LICENSE.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Font family name every figure uses.
pub(crate) const FONT: &str = "sans-serif";

/// Register the embedded DejaVu Sans as plotters' `sans-serif` family (once per process).
/// Every drawing function calls it; it is public for programs that draw with plotters
/// themselves.
///
/// # Errors
/// [`PlotError::Font`] if the embedded font does not load (a bug).
pub fn register_fonts() -> Result<(), PlotError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = DONE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok()
            && plotters::style::register_font(FONT, FontStyle::Bold, DEJAVU_SANS).is_ok()
    });
    if *ok { Ok(()) } else { Err(PlotError::Font) }
}

/// Image format of an output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// Scalable vector graphics (text stays text).
    Svg,
    /// Portable network graphics (RGB bitmap).
    Png,
}

impl ImageFormat {
    /// The format named by the file's extension (`.svg`, `.png`, any case).
    ///
    /// # Errors
    /// [`PlotError::UnknownFormat`] for any other extension or none.
    pub fn from_path(path: &Path) -> Result<Self, PlotError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("svg") => Ok(ImageFormat::Svg),
            Some("png") => Ok(ImageFormat::Png),
            _ => Err(PlotError::UnknownFormat {
                path: path.display().to_string(),
            }),
        }
    }
}

/// A figure that can draw itself on any plotters backend.
pub trait Figure {
    /// Width and height in pixels used when the caller gives none.
    fn default_size(&self) -> (u32, u32);
    /// Draw the whole figure on `root` (already filled white).
    ///
    /// # Errors
    /// [`PlotError::BadData`] for inconsistent data, [`PlotError::Draw`] from the backend.
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>;
}

fn check_size(size: (u32, u32)) -> Result<(), PlotError> {
    let ok = |v: u32| (100..=10_000).contains(&v);
    if ok(size.0) && ok(size.1) {
        Ok(())
    } else {
        Err(PlotError::BadSize {
            width: size.0,
            height: size.1,
        })
    }
}

/// Write `fig` to `path` as SVG or PNG (chosen by the extension), `size` pixels wide and high
/// (default: [`Figure::default_size`]).
///
/// # Errors
/// [`PlotError::UnknownFormat`], [`PlotError::BadSize`], [`PlotError::Write`] when the file
/// cannot be written, and the figure's own errors.
pub fn save<F: Figure>(fig: &F, path: &Path, size: Option<(u32, u32)>) -> Result<(), PlotError> {
    let format = ImageFormat::from_path(path)?;
    let size = size.unwrap_or_else(|| fig.default_size());
    check_size(size)?;
    register_fonts()?;
    let write_err = |message: String| PlotError::Write {
        path: path.display().to_string(),
        message,
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.is_dir()
    {
        return Err(write_err(format!(
            "the directory {} does not exist",
            dir.display()
        )));
    }
    match format {
        ImageFormat::Svg => {
            // Render to memory first so that a drawing error leaves no half-written file.
            let text = render_svg_string(fig, Some(size))?;
            std::fs::write(path, text).map_err(|e| write_err(e.to_string()))
        }
        ImageFormat::Png => {
            let bytes = render_png_bytes(fig, Some(size))?;
            std::fs::write(path, bytes).map_err(|e| write_err(e.to_string()))
        }
    }
}

/// The figure as the bytes of a PNG file (for callers that keep it in memory, such as the
/// Python package's notebook display).
///
/// # Errors
/// As [`save`], without the file errors; [`PlotError::Draw`] when the PNG cannot be encoded.
pub fn render_png_bytes<F: Figure>(
    fig: &F,
    size: Option<(u32, u32)>,
) -> Result<Vec<u8>, PlotError> {
    let size = size.unwrap_or_else(|| fig.default_size());
    check_size(size)?;
    register_fonts()?;
    let mut rgb = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        root.fill(&WHITE)?;
        fig.draw_on(&root)?;
        root.present()?;
    }
    encode_png(&rgb, size).map_err(|e| PlotError::Draw(format!("cannot encode the PNG: {e}")))
}

/// PNG bytes of an RGB buffer: an indexed (palette) image when there are at most 256
/// colours, otherwise RGB; best compression with adaptive filtering either way (figures are
/// mostly flat colour, so this is several times smaller than a fast encoding).
fn encode_png(rgb: &[u8], size: (u32, u32)) -> Result<Vec<u8>, png::EncodingError> {
    let mut palette: Vec<[u8; 3]> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let mut indexed = Vec::with_capacity(rgb.len() / 3);
    for px in rgb.chunks_exact(3) {
        let c = [px[0], px[1], px[2]];
        let i = match index.get(&c) {
            Some(&i) => i,
            None => {
                if palette.len() == 256 {
                    indexed.clear();
                    break;
                }
                let i = palette.len() as u8;
                palette.push(c);
                index.insert(c, i);
                i
            }
        };
        indexed.push(i);
    }
    let use_palette = indexed.len() * 3 == rgb.len();
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, size.0, size.1);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Best);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        if use_palette {
            enc.set_color(png::ColorType::Indexed);
            enc.set_palette(palette.concat());
        } else {
            enc.set_color(png::ColorType::Rgb);
        }
        let mut writer = enc.write_header()?;
        writer.write_image_data(if use_palette { &indexed } else { rgb })?;
        writer.finish()?;
    }
    Ok(out)
}

/// The figure as SVG text.
///
/// # Errors
/// As [`save`], without the file errors.
pub fn render_svg_string<F: Figure>(
    fig: &F,
    size: Option<(u32, u32)>,
) -> Result<String, PlotError> {
    let size = size.unwrap_or_else(|| fig.default_size());
    check_size(size)?;
    register_fonts()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE)?;
        fig.draw_on(&root)?;
        root.present()?;
    }
    Ok(out)
}

/// Text style of a figure's main title.
pub(crate) fn title_style() -> TextStyle<'static> {
    (FONT, 22).into_font().into()
}

/// Text style of a panel caption.
pub(crate) fn caption_style() -> TextStyle<'static> {
    (FONT, 17).into_font().into()
}

/// Text style of tick labels.
pub(crate) fn tick_style() -> TextStyle<'static> {
    (FONT, 13).into_font().into()
}

/// Text style of axis titles.
pub(crate) fn axis_style() -> TextStyle<'static> {
    (FONT, 15).into_font().into()
}

/// Text style of notes under a figure.
pub(crate) fn note_style() -> TextStyle<'static> {
    (FONT, 14).into_font().color(&RGBColor(80, 80, 80))
}

/// The finite values' range widened by 5 % on each side (a unit range around a single value,
/// `0..1` when there is none).
pub(crate) fn padded_range<I: IntoIterator<Item = f64>>(values: I) -> Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return 0.0..1.0;
    }
    if hi - lo <= 1e-12 * (1.0 + lo.abs()) {
        let h = 0.5 * (1.0 + lo.abs() * 0.1);
        return (lo - h)..(hi + h);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad)..(hi + pad)
}

/// Tick-label text of a number: few digits, no trailing noise; values within rounding noise
/// of 0 (below 1e-9 of the axis span) print as 0.
pub(crate) fn tick_label_in(v: f64, range: &Range<f64>) -> String {
    if v.abs() <= 1e-9 * (range.end - range.start).abs() {
        return "0".to_string();
    }
    tick_label(v)
}

/// Tick-label text of a number: few digits, no trailing noise.
pub(crate) fn tick_label(v: f64) -> String {
    let a = v.abs();
    let s = if a == 0.0 {
        "0".to_string()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Split `area` into `n` panels on a grid at most `max_cols` wide.
pub(crate) fn panel_grid<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    n: usize,
    max_cols: usize,
) -> Vec<DrawingArea<DB, Shift>> {
    let (rows, cols) = grid_shape(n, max_cols);
    let mut panels = area.split_evenly((rows, cols));
    panels.truncate(n);
    panels
}

/// Rows and columns of a grid for `n` panels at most `max_cols` wide (2 × 2 for four).
pub(crate) fn grid_shape(n: usize, max_cols: usize) -> (usize, usize) {
    let n = n.max(1);
    let cols = if n == 4 && max_cols >= 2 {
        2
    } else {
        n.min(max_cols.max(1))
    };
    (n.div_ceil(cols), cols)
}

/// A line of notes at the bottom of `area`; returns the area above it.
pub(crate) fn with_note<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    note: Option<&str>,
) -> Result<DrawingArea<DB, Shift>, PlotError> {
    let Some(note) = note.filter(|n| !n.is_empty()) else {
        return Ok(area.clone());
    };
    let (_, h) = area.dim_in_pixel();
    let (top, bottom) = area.split_vertically(h.saturating_sub(28) as i32);
    bottom.draw(&Text::new(note.to_string(), (12, 6), note_style()))?;
    Ok(top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_comes_from_the_extension() {
        assert_eq!(
            ImageFormat::from_path(Path::new("a/b.SVG")).ok(),
            Some(ImageFormat::Svg)
        );
        assert_eq!(
            ImageFormat::from_path(Path::new("x.png")).ok(),
            Some(ImageFormat::Png)
        );
        let err = ImageFormat::from_path(Path::new("fig.pdf"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("fig.pdf") && err.contains(".svg or .png"),
            "{err}"
        );
    }

    #[test]
    fn ranges_and_labels() {
        let r = padded_range([1.0, 3.0, f64::NAN]);
        assert!((r.start - 0.9).abs() < 1e-12 && (r.end - 3.1).abs() < 1e-12);
        let r = padded_range([2.0]);
        assert!(r.start < 2.0 && r.end > 2.0);
        assert_eq!(tick_label(250.0), "250");
        assert_eq!(tick_label(2.5), "2.5");
        assert_eq!(tick_label(0.125), "0.125");
        assert_eq!(tick_label_in(-1.1e-16, &(-0.7..1.0)), "0");
        assert_eq!(grid_shape(4, 3), (2, 2));
        assert_eq!(grid_shape(6, 3), (2, 3));
        assert_eq!(grid_shape(2, 3), (1, 2));
    }
}
