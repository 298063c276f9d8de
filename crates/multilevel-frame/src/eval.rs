//! Evaluation of formula expressions on the full data (as R's `model.frame` does before
//! `na.omit`): columns, numbers, arithmetic, `I()`, elementwise functions, `scale()`, `poly()`,
//! `factor()`, and the centering helpers `gm(x, g)`, `cwc(x, g)` and `cgm(x)`.
//!
//! Values keep the data's length; `None` is a missing value (propagated by arithmetic).
//! Non-finite results (log of 0, ...) are kept as they are and rejected later, only on the rows
//! that the model frame keeps.

use multilevel_formula::{BinOp, Expr};

use crate::data::{Column, DataFrame, Factor, numeric_to_factor};
use crate::error::FrameError;

/// Names that evaluate to constants when no column has the name.
pub(crate) fn constant(name: &str) -> Option<Option<f64>> {
    match name {
        "TRUE" | "T" => Some(Some(1.0)),
        "FALSE" | "F" => Some(Some(0.0)),
        "NA" => Some(None),
        "Inf" => Some(Some(f64::INFINITY)),
        "NaN" => Some(Some(f64::NAN)),
        "pi" => Some(Some(std::f64::consts::PI)),
        _ => None,
    }
}

/// The functions [`Evaluator`] knows (listed in hints).
const FUNCTIONS: &str = "I, log, log10, log2, log1p, exp, expm1, sqrt, abs, sin, cos, tan, scale, poly, factor, as.factor, ordered, as.ordered, as.numeric, gm (group mean), cwc (centred within cluster), cgm (centred at the grand mean)";

/// An evaluated expression.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// One number for every row (`None` = NA).
    Scalar(Option<f64>),
    /// One number per data row.
    Num(Vec<Option<f64>>),
    /// A factor; `source` is the label of the expression it came from (a column name).
    Factor { factor: Factor, source: String },
    /// Several numeric columns (e.g. `poly(x, 2)`).
    Matrix {
        columns: Vec<Vec<Option<f64>>>,
        suffixes: Vec<String>,
    },
}

/// Evaluates expressions on one data frame.
pub(crate) struct Evaluator<'a> {
    pub data: &'a DataFrame,
}

impl Evaluator<'_> {
    fn bad_call(
        &self,
        e: &Expr,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> FrameError {
        FrameError::BadCall {
            data: self.data.name().to_string(),
            expression: e.to_string(),
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// The error for a factor used where numbers are needed (`whole` is the expression that
    /// needed them).
    pub(crate) fn not_numeric(&self, factor: &Factor, source: &str, whole: &Expr) -> FrameError {
        // Point at the first value that is not a number (the one that made the column text);
        // failing that, at the first non-missing value.
        let numeric_level: Vec<bool> = factor
            .levels
            .iter()
            .map(|l| l.trim().parse::<f64>().is_ok())
            .collect();
        let first = factor
            .codes
            .iter()
            .position(|c| {
                c.is_some_and(|c| !numeric_level.get(c as usize).copied().unwrap_or(true))
            })
            .or_else(|| factor.codes.iter().position(Option::is_some));
        let (location, value) = match first {
            Some(r) => (
                self.data.location(r),
                factor.label(r).unwrap_or("").to_string(),
            ),
            None => (self.data.location(0), String::new()),
        };
        let from_text = matches!(self.data.column(source), Some(Column::Factor(_)));
        FrameError::NotNumeric {
            data: self.data.name().to_string(),
            column: source.to_string(),
            expression: whole.to_string(),
            location,
            value,
            from_text,
        }
    }

    /// Evaluate `e` to a numeric value (a scalar or a column); `whole` names the expression
    /// in errors.
    fn numeric(&self, e: &Expr, whole: &Expr) -> Result<Num, FrameError> {
        match self.eval(e)? {
            Value::Scalar(x) => Ok(Num::Scalar(x)),
            Value::Num(v) => Ok(Num::Vec(v)),
            Value::Factor { factor, source } => Err(self.not_numeric(&factor, &source, whole)),
            Value::Matrix { .. } => Err(FrameError::WrongKind {
                data: self.data.name().to_string(),
                expression: e.to_string(),
                role: format!("one numeric column inside `{whole}`"),
                hint: "poly() gives several columns; use it as a term on its own".into(),
            }),
        }
    }

    /// Evaluate `e` on every row of the data.
    pub(crate) fn eval(&self, e: &Expr) -> Result<Value, FrameError> {
        match e {
            Expr::Var(name) => match self.data.column(name) {
                Some(Column::Numeric(v)) => Ok(Value::Num(v.clone())),
                Some(Column::Factor(f)) => Ok(Value::Factor {
                    factor: f.clone(),
                    source: name.clone(),
                }),
                None => match constant(name) {
                    Some(x) => Ok(Value::Scalar(x)),
                    None => Err(FrameError::Data(self.data.unknown_column_error(name))),
                },
            },
            Expr::Num(x) => Ok(Value::Scalar(Some(*x))),
            Expr::Neg(inner) => Ok(self.numeric(inner, e)?.map(|x| -x).into_value()),
            Expr::Binary { op, lhs, rhs } => {
                let a = self.numeric(lhs, e)?;
                let b = self.numeric(rhs, e)?;
                let f: fn(f64, f64) -> f64 = match op {
                    BinOp::Add => |a, b| a + b,
                    BinOp::Sub => |a, b| a - b,
                    BinOp::Mul => |a, b| a * b,
                    BinOp::Div => |a, b| a / b,
                    BinOp::Pow => r_pow,
                };
                Ok(Num::zip(a, b, f).into_value())
            }
            Expr::Call { name, args } => self.call(e, name, args),
        }
    }

    fn call(&self, e: &Expr, name: &str, args: &[Expr]) -> Result<Value, FrameError> {
        let unary: Option<fn(f64) -> f64> = match name {
            "log" if args.len() == 1 => Some(f64::ln),
            "log10" => Some(f64::log10),
            "log2" => Some(f64::log2),
            "log1p" => Some(f64::ln_1p),
            "exp" => Some(f64::exp),
            "expm1" => Some(f64::exp_m1),
            "sqrt" => Some(f64::sqrt),
            "abs" => Some(f64::abs),
            "sin" => Some(f64::sin),
            "cos" => Some(f64::cos),
            "tan" => Some(f64::tan),
            "as.numeric" => Some(|x| x),
            _ => None,
        };
        if let Some(f) = unary {
            let [x] = args else {
                return Err(self.bad_call(
                    e,
                    format!("{name}() takes 1 argument, got {}", args.len()),
                    format!("write {name}(x)"),
                ));
            };
            return Ok(self.numeric(x, e)?.map(f).into_value());
        }
        match name {
            "I" => {
                let [x] = args else {
                    return Err(self.bad_call(e, "I() takes 1 argument", "write I(expression)"));
                };
                self.eval(x)
            }
            "log" => {
                let [x, base] = args else {
                    return Err(self.bad_call(
                        e,
                        format!("log() takes 1 or 2 arguments, got {}", args.len()),
                        "write log(x) or log(x, base)",
                    ));
                };
                let x = self.numeric(x, e)?;
                let b = self.numeric(base, e)?;
                Ok(Num::zip(x, b, |x, b| x.ln() / b.ln()).into_value())
            }
            "scale" => {
                let [x] = args else {
                    return Err(self.bad_call(
                        e,
                        "only scale(x) with one argument is supported",
                        "centre and scale by hand, e.g. I((x - 10) / 2)",
                    ));
                };
                match self.numeric(x, e)? {
                    Num::Scalar(_) => {
                        Err(self.bad_call(e, "scale() of a constant", "scale a column"))
                    }
                    Num::Vec(v) => {
                        // R gives NaN for every row here; say why instead of reporting NaN.
                        let mut present = v.iter().flatten();
                        let first = present.next();
                        if !first.is_some_and(|a| present.any(|b| b != a)) {
                            return Err(self.bad_call(
                                e,
                                "scale() of a column with fewer than 2 distinct non-missing values \
                                 (its standard deviation is 0, so every value would be NaN)",
                                "use the column unscaled, or centre it with I(x - mean)",
                            ));
                        }
                        Ok(Value::Num(scale(&v)))
                    }
                }
            }
            "poly" => self.poly(e, args),
            "gm" | "cwc" => self.group_centering(e, name, args),
            "cgm" => {
                let [x] = args else {
                    return Err(self.bad_call(
                        e,
                        format!("cgm() takes 1 argument, got {}", args.len()),
                        "write cgm(x) for x minus its grand mean",
                    ));
                };
                match self.numeric(x, e)? {
                    Num::Scalar(_) => Err(self.bad_call(e, "cgm() of a constant", "use a column")),
                    Num::Vec(v) => Ok(Value::Num(center_grand(&v))),
                }
            }
            "factor" | "as.factor" | "ordered" | "as.ordered" => {
                let ordered = name.contains("ordered");
                let [x] = args else {
                    return Err(self.bad_call(
                        e,
                        format!("only {name}(x) with one argument is supported"),
                        "set levels in the data instead",
                    ));
                };
                match self.eval(x)? {
                    Value::Factor { mut factor, source } => {
                        factor.ordered = ordered;
                        Ok(Value::Factor { factor, source })
                    }
                    Value::Num(v) => {
                        let mut factor = numeric_to_factor(&v);
                        factor.ordered = ordered;
                        Ok(Value::Factor {
                            factor,
                            source: x.to_string(),
                        })
                    }
                    Value::Scalar(_) | Value::Matrix { .. } => Err(self.bad_call(
                        e,
                        format!("{name}() needs a column"),
                        format!("write {name}(column)"),
                    )),
                }
            }
            "cbind" => Err(self.bad_call(
                e,
                "cbind() is only allowed as the response",
                "write cbind(successes, failures) on the left of ~",
            )),
            "offset" => Err(self.bad_call(
                e,
                "offset() is only allowed as a term of its own",
                "write y ~ x + offset(log(t))",
            )),
            _ => Err(self.bad_call(
                e,
                format!("unknown function `{name}`"),
                format!("the functions available are {FUNCTIONS}"),
            )),
        }
    }

    /// `gm(x, g)` (the mean of `x` in the row's group of `g`) and `cwc(x, g)` (`x` minus that
    /// mean: centred within cluster).
    fn group_centering(&self, e: &Expr, name: &str, args: &[Expr]) -> Result<Value, FrameError> {
        let [x, g] = args else {
            return Err(self.bad_call(
                e,
                format!(
                    "{name}() takes 2 arguments (a numeric column and a grouping column), got {}",
                    args.len()
                ),
                format!("write {name}(x, group), e.g. {name}(ses, school)"),
            ));
        };
        let values = match self.numeric(x, e)? {
            Num::Vec(v) => v,
            Num::Scalar(_) => {
                return Err(self.bad_call(
                    e,
                    format!("{name}() of a constant"),
                    format!("the first argument must be a numeric column: {name}(x, group)"),
                ));
            }
        };
        let groups: Vec<Option<u64>> = match self.eval(g)? {
            Value::Factor { factor, .. } => factor.codes.iter().map(|c| c.map(u64::from)).collect(),
            // A numeric grouping column: groups are its distinct values (-0 and 0 alike).
            Value::Num(v) => v.iter().map(|x| x.map(|x| (x + 0.0).to_bits())).collect(),
            Value::Scalar(_) | Value::Matrix { .. } => {
                return Err(self.bad_call(
                    e,
                    format!("the second argument of {name}() must be a grouping column"),
                    format!("write {name}(x, group), e.g. {name}(ses, school)"),
                ));
            }
        };
        let means = group_means(&values, &groups);
        Ok(Value::Num(match name {
            "gm" => means,
            _ => values
                .iter()
                .zip(&means)
                .map(|(x, m)| Some(x.as_ref()? - m.as_ref()?))
                .collect(),
        }))
    }

    /// R's `poly(x, degree)`: orthonormal polynomial columns of degrees `1..=degree`.
    fn poly(&self, e: &Expr, args: &[Expr]) -> Result<Value, FrameError> {
        let (x, degree) = match args {
            [x] => (x, 1usize),
            [x, Expr::Num(d)] if d.fract() == 0.0 && *d >= 1.0 && *d <= 1000.0 => (x, *d as usize),
            _ => {
                return Err(self.bad_call(
                    e,
                    "poly() needs a column and a positive whole-number degree",
                    "write poly(x, 2); raw polynomials: x + I(x^2)",
                ));
            }
        };
        let v = match self.numeric(x, e)? {
            Num::Vec(v) => v,
            Num::Scalar(_) => return Err(self.bad_call(e, "poly() of a constant", "use a column")),
        };
        let mut xs = Vec::with_capacity(v.len());
        for (r, val) in v.iter().enumerate() {
            match val {
                None => {
                    return Err(FrameError::PolyMissing {
                        data: self.data.name().to_string(),
                        expression: e.to_string(),
                        location: self.data.location(r),
                    });
                }
                Some(x) if !x.is_finite() => {
                    return Err(FrameError::NonFinite {
                        data: self.data.name().to_string(),
                        expression: args.first().map(ToString::to_string).unwrap_or_default(),
                        location: self.data.location(r),
                        value: crate::rnum::format_r_number(*x),
                    });
                }
                Some(x) => xs.push(*x),
            }
        }
        let mut uniq = xs.clone();
        uniq.sort_unstable_by(f64::total_cmp);
        uniq.dedup();
        if degree >= uniq.len() {
            return Err(FrameError::PolyDegree {
                data: self.data.name().to_string(),
                expression: e.to_string(),
                degree,
                needed: degree + 1,
                unique: uniq.len(),
            });
        }
        let columns = orthopoly(&xs, degree)
            .into_iter()
            .map(|c| c.into_iter().map(Some).collect())
            .collect();
        Ok(Value::Matrix {
            columns,
            suffixes: (1..=degree).map(|k| k.to_string()).collect(),
        })
    }
}

/// A numeric intermediate value.
pub(crate) enum Num {
    Scalar(Option<f64>),
    Vec(Vec<Option<f64>>),
}

impl Num {
    fn map(self, f: impl Fn(f64) -> f64) -> Num {
        match self {
            Num::Scalar(x) => Num::Scalar(x.map(&f)),
            Num::Vec(v) => Num::Vec(v.into_iter().map(|x| x.map(&f)).collect()),
        }
    }

    fn zip(a: Num, b: Num, f: fn(f64, f64) -> f64) -> Num {
        let g = |x: Option<f64>, y: Option<f64>| Some(f(x?, y?));
        match (a, b) {
            (Num::Scalar(x), Num::Scalar(y)) => Num::Scalar(g(x, y)),
            (Num::Scalar(x), Num::Vec(v)) => Num::Vec(v.into_iter().map(|y| g(x, y)).collect()),
            (Num::Vec(v), Num::Scalar(y)) => Num::Vec(v.into_iter().map(|x| g(x, y)).collect()),
            (Num::Vec(v), Num::Vec(w)) => {
                Num::Vec(v.into_iter().zip(w).map(|(x, y)| g(x, y)).collect())
            }
        }
    }

    fn into_value(self) -> Value {
        match self {
            Num::Scalar(x) => Value::Scalar(x),
            Num::Vec(v) => Value::Num(v),
        }
    }
}

/// R's `x ^ y` (`R_pow`): exact squares, `1^y = x^0 = 1`, otherwise `powf`.
fn r_pow(x: f64, y: f64) -> f64 {
    if y == 2.0 {
        x * x
    } else if x == 1.0 || y == 0.0 {
        1.0
    } else if y.fract() == 0.0 && y.abs() <= 64.0 {
        x.powi(y as i32)
    } else {
        x.powf(y)
    }
}

/// R's `scale(x)`: `(x − mean) / sd` with the mean and the standard deviation (divisor
/// `m − 1`) of the `m` non-missing values; missing values stay missing.
pub fn scale(x: &[Option<f64>]) -> Vec<Option<f64>> {
    let present: Vec<f64> = x.iter().flatten().copied().collect();
    let m = present.len() as f64;
    let mean = present.iter().sum::<f64>() / m;
    let ss: f64 = present.iter().map(|v| (v - mean) * (v - mean)).sum();
    let sd = (ss / (m - 1.0)).sqrt();
    x.iter().map(|v| v.map(|v| (v - mean) / sd)).collect()
}

/// `x − mean(x)` over the non-missing values (grand-mean centering); missing values stay
/// missing. Like `scale()`, the mean is taken over the whole data column, before rows with
/// missing values in other model variables are dropped.
pub fn center_grand(x: &[Option<f64>]) -> Vec<Option<f64>> {
    let (sum, m) = x
        .iter()
        .flatten()
        .fold((0.0, 0usize), |(s, m), v| (s + v, m + 1));
    let mean = sum / m as f64;
    x.iter().map(|v| v.map(|v| v - mean)).collect()
}

/// The mean of `x` within each group, given back on every row: `mean{x_i : g_i = g_r}` over
/// the rows where both `x` and the group are present (missing `x` values are skipped, as
/// `ave(x, g, FUN = function(v) mean(v, na.rm = TRUE))`); rows with a missing group get a
/// missing mean. The means use the whole data, before incomplete rows are dropped, as R
/// evaluates such variables before `na.omit`.
pub fn group_means<K: Copy + Ord>(x: &[Option<f64>], g: &[Option<K>]) -> Vec<Option<f64>> {
    let mut acc: std::collections::BTreeMap<K, (f64, usize)> = std::collections::BTreeMap::new();
    for (v, k) in x.iter().zip(g) {
        if let (Some(v), Some(k)) = (v, k) {
            let e = acc.entry(*k).or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }
    g.iter()
        .map(|k| {
            let (s, m) = acc.get(k.as_ref()?)?;
            Some(s / *m as f64)
        })
        .collect()
}

/// R's `poly(x, degree)`: columns `1..=degree` of the orthonormal polynomial basis of the
/// points `x`.
///
/// Column `j` is the degree-`j` polynomial in `x` orthogonal (over the points) to all lower
/// degrees, scaled to unit length with a positive leading coefficient. This is the column R gets
/// from the QR decomposition of `outer(x − mean(x), 0:degree, "^")`: `Q[, j]·R[j, j]`
/// normalised. Computed by the Stieltjes/Lanczos recurrence `v = (x − x̄)·e_{j−1}`, made
/// orthogonal to `e_0 … e_{j−1}` by two passes of Gram–Schmidt, then normalised. The caller
/// ensures `degree < number of distinct x`.
pub fn orthopoly(x: &[f64], degree: usize) -> Vec<Vec<f64>> {
    let n = x.len();
    let mean = x.iter().sum::<f64>() / n as f64;
    let xc: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let mut basis: Vec<Vec<f64>> = vec![vec![1.0 / (n as f64).sqrt(); n]];
    for j in 1..=degree {
        let prev = &basis[j - 1];
        let mut v: Vec<f64> = xc.iter().zip(prev).map(|(a, b)| a * b).collect();
        for _ in 0..2 {
            for e in &basis {
                let d: f64 = v.iter().zip(e).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(e).for_each(|(a, b)| *a -= d * b);
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        v.iter_mut().for_each(|a| *a /= norm);
        basis.push(v);
    }
    basis.into_iter().skip(1).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < tol, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn poly_matches_r() {
        // R: poly(1:5, 2)
        let p = orthopoly(&[1.0, 2.0, 3.0, 4.0, 5.0], 2);
        close(
            &p[0],
            &[-0.6324555, -0.3162278, 0.0, 0.3162278, 0.6324555],
            1e-7,
        );
        close(
            &p[1],
            &[0.5345225, -0.2672612, -0.5345225, -0.2672612, 0.5345225],
            1e-7,
        );
    }

    #[test]
    fn poly_is_orthonormal_with_positive_leading_coefficient() {
        let x = [0.3, 1.7, 2.2, 5.0, 5.1, 8.4, 9.9, 10.0, 12.5];
        let p = orthopoly(&x, 4);
        for i in 0..4 {
            let s: f64 = p[i].iter().sum();
            assert!(s.abs() < 1e-12, "column {i} not centred");
            for j in 0..4 {
                let d: f64 = p[i].iter().zip(&p[j]).map(|(a, b)| a * b).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((d - want).abs() < 1e-10, "<p{i}, p{j}> = {d}");
            }
        }
        // A polynomial of degree j with positive leading coefficient grows at +∞: the largest
        // x has a value above the polynomial's values to the right of its last root; simplest
        // check: the j-th finite difference sign over equally spaced points.
        let xs: Vec<f64> = (0..7).map(f64::from).collect();
        let q = orthopoly(&xs, 3);
        for (j, col) in q.iter().enumerate() {
            let mut d = col.clone();
            for _ in 0..=j {
                d = d.windows(2).map(|w| w[1] - w[0]).collect();
            }
            assert!(
                d.iter().all(|v| *v > 0.0),
                "degree {} leading coefficient sign",
                j + 1
            );
        }
    }

    #[test]
    fn scale_matches_r() {
        let s: Vec<f64> = scale(&[Some(1.0), Some(2.0), Some(3.0), Some(4.0)])
            .into_iter()
            .map(Option::unwrap)
            .collect();
        close(&s, &[-1.1618950, -0.3872983, 0.3872983, 1.1618950], 1e-7);
        // missing values are ignored for mean and sd and stay missing
        let s = scale(&[Some(1.0), None, Some(2.0), Some(3.0), Some(4.0)]);
        assert_eq!(s[1], None);
        assert!((s[4].unwrap() - 1.1618950).abs() < 1e-7);
    }

    #[test]
    fn group_means_and_centering() {
        let x = [
            Some(1.0),
            Some(3.0),
            None,
            Some(10.0),
            Some(20.0),
            Some(5.0),
        ];
        let g = [Some(0u32), Some(0), Some(0), Some(1), Some(1), None];
        let m = group_means(&x, &g);
        assert_eq!(
            m,
            vec![
                Some(2.0),
                Some(2.0),
                Some(2.0),
                Some(15.0),
                Some(15.0),
                None
            ]
        );
        let c = center_grand(&[Some(1.0), None, Some(3.0)]);
        assert_eq!(c, vec![Some(-1.0), None, Some(1.0)]);
    }

    #[test]
    fn r_pow_cases() {
        assert_eq!(r_pow(3.0, 2.0), 9.0);
        assert_eq!(r_pow(2.0, -1.0), 0.5);
        assert_eq!(r_pow(1.0, f64::NAN), 1.0);
        assert!((r_pow(2.0, 0.5) - std::f64::consts::SQRT_2).abs() < 1e-15);
    }
}
