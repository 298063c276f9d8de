//! Column alignment for character tables, as R's `print.default()` lays out a character matrix.

/// Horizontal alignment of a table column (header and cells alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Pad on the right (R's `print(..., right = FALSE)`, the default for `quote = FALSE`).
    Left,
    /// Pad on the left (R's `right = TRUE`, used by `printCoefmat`).
    Right,
}

/// Pads `s` to `width` characters with the given alignment.
pub fn pad(s: &str, width: usize, align: Align) -> String {
    let n = s.chars().count();
    let fill = " ".repeat(width.saturating_sub(n));
    match align {
        Align::Left => format!("{s}{fill}"),
        Align::Right => format!("{fill}{s}"),
    }
}

/// Lays out a character matrix like R's `print()`: a left-aligned row-name column as wide as the
/// longest row name, then each column, preceded by one space, as wide as its widest entry or header.
/// Trailing blanks are removed from every line. `cells[r]` holds the entries of row `r`; missing
/// entries print as blanks.
pub fn layout_matrix(
    rownames: &[String],
    colnames: &[String],
    cells: &[Vec<String>],
    align: Align,
) -> Vec<String> {
    let rn_width = rownames
        .iter()
        .map(|r| r.chars().count())
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = colnames
        .iter()
        .enumerate()
        .map(|(j, h)| {
            cells
                .iter()
                .filter_map(|row| row.get(j))
                .map(|c| c.chars().count())
                .chain(std::iter::once(h.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut lines = Vec::with_capacity(cells.len() + 1);
    let mut header = " ".repeat(rn_width);
    for (h, w) in colnames.iter().zip(&widths) {
        header.push(' ');
        header.push_str(&pad(h, *w, align));
    }
    lines.push(header.trim_end().to_string());
    for (r, row) in cells.iter().enumerate() {
        let name = rownames.get(r).map(String::as_str).unwrap_or("");
        let mut line = pad(name, rn_width, Align::Left);
        for (j, w) in widths.iter().enumerate() {
            line.push(' ');
            line.push_str(&pad(
                row.get(j).map(String::as_str).unwrap_or(""),
                *w,
                align,
            ));
        }
        lines.push(line.trim_end().to_string());
    }
    lines
}

/// Lays out a named vector like R's `print()` of a named character or numeric vector: names above
/// values, all right-aligned to one common width, separated by one space.
pub fn layout_named(names: &[String], values: &[String]) -> [String; 2] {
    let w = names
        .iter()
        .chain(values)
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0);
    let row = |v: &[String]| {
        v.iter()
            .map(|s| pad(s, w, Align::Right))
            .collect::<Vec<_>>()
            .join(" ")
    };
    [row(names), row(values)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn right_aligned_matrix_with_row_names() {
        let lines = layout_matrix(
            &s(&["(Intercept)", "Days"]),
            &s(&["Estimate", "Std. Error"]),
            &[s(&["251.405", "  6.825"]), s(&[" 10.467", "  1.546"])],
            Align::Right,
        );
        assert_eq!(
            lines,
            s(&[
                "            Estimate Std. Error",
                "(Intercept)  251.405      6.825",
                "Days          10.467      1.546",
            ])
        );
    }

    #[test]
    fn left_aligned_matrix_without_row_names() {
        let lines = layout_matrix(
            &[],
            &s(&["Groups", "Name", "Corr"]),
            &[s(&["Subject", "(Intercept)", ""]), s(&["", "Days", "0.07"])],
            Align::Left,
        );
        assert_eq!(
            lines,
            s(&[
                " Groups  Name        Corr",
                " Subject (Intercept)",
                "         Days        0.07",
            ])
        );
    }

    #[test]
    fn named_vector_common_width() {
        let [n, v] = layout_named(&s(&["AIC", "df.resid"]), &s(&["1763.9", "174"]));
        assert_eq!(n, "     AIC df.resid");
        assert_eq!(v, "  1763.9      174");
    }
}
