//! The residual structures and variance functions as values, and their text form
//! (`ar1(time | subject)`, `ident(f)`).

use crate::GlsError;
use serde::{Deserialize, Serialize};

/// The correlation (and, for `us`/`toeph`, variance) pattern of the residuals within a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResidualKind {
    /// `ρ^|tᵢ − tⱼ|` over integer positions (nlme `corAR1`); a factor's positions are its level
    /// indices.
    Ar1,
    /// One correlation `ρ` between any two rows of a subject (nlme `corCompSymm`).
    Cs,
    /// A variance per level of the time factor and a correlation per pair of levels (the MMRM;
    /// nlme `corSymm` + `varIdent`).
    Us,
    /// Toeplitz: one correlation per lag between the levels of the time factor, one variance.
    Toep,
    /// Toeplitz with a variance per level of the time factor.
    Toeph,
}

impl ResidualKind {
    /// The name in the structure's text form (`ar1`, `cs`, `us`, `toep`, `toeph`).
    pub fn name(self) -> &'static str {
        match self {
            ResidualKind::Ar1 => "ar1",
            ResidualKind::Cs => "cs",
            ResidualKind::Us => "us",
            ResidualKind::Toep => "toep",
            ResidualKind::Toeph => "toeph",
        }
    }

    /// A description for reports (`unstructured`, `AR(1)`, …).
    pub fn description(self) -> &'static str {
        match self {
            ResidualKind::Ar1 => "AR(1)",
            ResidualKind::Cs => "compound symmetry",
            ResidualKind::Us => "unstructured",
            ResidualKind::Toep => "Toeplitz",
            ResidualKind::Toeph => "heterogeneous Toeplitz",
        }
    }

    /// Whether the structure needs the time variable to be a factor (its levels are the
    /// visits).
    pub fn needs_factor(self) -> bool {
        matches!(
            self,
            ResidualKind::Us | ResidualKind::Toep | ResidualKind::Toeph
        )
    }

    /// Whether the structure has a variance per level of the time factor.
    pub fn heterogeneous(self) -> bool {
        matches!(self, ResidualKind::Us | ResidualKind::Toeph)
    }
}

/// A residual covariance structure within the subjects: `kind(time | subject)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidualStructure {
    /// The pattern.
    pub kind: ResidualKind,
    /// The column giving the visit (time) of each row.
    pub time: String,
    /// The column grouping the rows into subjects.
    pub subject: String,
}

impl ResidualStructure {
    /// A structure from its parts.
    pub fn new(kind: ResidualKind, time: &str, subject: &str) -> Self {
        ResidualStructure {
            kind,
            time: time.to_string(),
            subject: subject.to_string(),
        }
    }

    /// Parses `ar1(time | subject)`, `cs(…)`, `us(…)`, `toep(…)`, `toeph(…)`.
    ///
    /// # Errors
    /// [`GlsError::Spec`] naming what is wrong, with the accepted forms.
    pub fn parse(text: &str) -> Result<Self, GlsError> {
        let (name, inner) = call_parts(text, "residual structure", FORMS)?;
        let kind = match name.as_str() {
            "ar1" => ResidualKind::Ar1,
            "cs" => ResidualKind::Cs,
            "us" => ResidualKind::Us,
            "toep" => ResidualKind::Toep,
            "toeph" => ResidualKind::Toeph,
            other => {
                return Err(GlsError::Spec(format!(
                    "unknown residual structure `{other}` in `{text}`; hint: use one of {FORMS}"
                )));
            }
        };
        let mut parts = inner.split('|');
        let (Some(time), Some(subject), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(GlsError::Spec(format!(
                "the residual structure `{text}` needs the form `{name}(time | subject)`; hint: use one of {FORMS}"
            )));
        };
        let time = column_name(time, text, "time")?;
        let subject = column_name(subject, text, "subject")?;
        Ok(ResidualStructure {
            kind,
            time,
            subject,
        })
    }

    /// The text form, `us(visit | subject)`.
    pub fn text(&self) -> String {
        format!("{}({} | {})", self.kind.name(), self.time, self.subject)
    }
}

const FORMS: &str = "`ar1(time | subject)`, `cs(time | subject)`, `us(visit | subject)`, `toep(visit | subject)`, `toeph(visit | subject)`";

/// A variance function: a residual variance per level of a factor, `ident(f)` (nlme
/// `varIdent(form = ~ 1 | f)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VarianceFunction {
    /// The factor whose levels get their own variance.
    pub factor: String,
}

impl VarianceFunction {
    /// Parses `ident(f)`.
    ///
    /// # Errors
    /// [`GlsError::Spec`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, GlsError> {
        let (name, inner) = call_parts(text, "residual variance function", "`ident(f)`")?;
        if name != "ident" {
            return Err(GlsError::Spec(format!(
                "unknown residual variance function `{name}` in `{text}`; hint: use `ident(f)` (a variance per level of the factor f)"
            )));
        }
        Ok(VarianceFunction {
            factor: column_name(&inner, text, "factor")?,
        })
    }

    /// The text form, `ident(f)`.
    pub fn text(&self) -> String {
        format!("ident({})", self.factor)
    }
}

/// Splits `name(inner)` into its name and the text between the parentheses.
fn call_parts(text: &str, what: &str, forms: &str) -> Result<(String, String), GlsError> {
    let t = text.trim();
    let bad = || {
        GlsError::Spec(format!(
            "the {what} `{text}` is not of the form `name(…)`; hint: use {forms}"
        ))
    };
    let open = t.find('(').ok_or_else(bad)?;
    if !t.ends_with(')') || open == 0 {
        return Err(bad());
    }
    let name = t.get(..open).ok_or_else(bad)?.trim().to_ascii_lowercase();
    let inner = t.get(open + 1..t.len() - 1).ok_or_else(bad)?.to_string();
    Ok((name, inner))
}

/// A bare column name (no spaces, operators or parentheses).
fn column_name(part: &str, text: &str, role: &str) -> Result<String, GlsError> {
    let name = part.trim();
    let ok = !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || "()|+*~:,".contains(c));
    if ok {
        Ok(name.to_string())
    } else {
        Err(GlsError::Spec(format!(
            "the {role} part `{}` of `{text}` is not a column name; hint: name one column, e.g. `us(visit | subject)`",
            part.trim()
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_structure() {
        let s = ResidualStructure::parse(" us( visit|subject ) ").unwrap();
        assert_eq!(
            s,
            ResidualStructure::new(ResidualKind::Us, "visit", "subject")
        );
        assert_eq!(s.text(), "us(visit | subject)");
        for (t, k) in [
            ("ar1(t | s)", ResidualKind::Ar1),
            ("CS(t | s)", ResidualKind::Cs),
            ("toep(t | s)", ResidualKind::Toep),
            ("toeph(t | s)", ResidualKind::Toeph),
        ] {
            assert_eq!(ResidualStructure::parse(t).unwrap().kind, k);
        }
        assert_eq!(VarianceFunction::parse("ident(Sex)").unwrap().factor, "Sex");
    }

    #[test]
    fn rejects_malformed_text_with_one_line() {
        for bad in [
            "us(visit)",
            "us(visit | s | x)",
            "ar2(t | s)",
            "us visit | s",
            "us(0 + visit | s)",
            "(t | s)",
        ] {
            let e = ResidualStructure::parse(bad).unwrap_err().to_string();
            assert!(e.contains("hint:") && !e.contains('\n'), "{bad}: {e}");
        }
        let e = VarianceFunction::parse("power(x)").unwrap_err().to_string();
        assert!(e.contains("ident(f)"), "{e}");
    }
}
