//! `--relevel f=B` and `--contrasts f=sum`: factor codings chosen on the command line (R's
//! `relevel(f, ref = "B")` and `contrasts = list(f = "contr.sum")`), and the note that says
//! which were used in a fit's report.

use multilevel::Contrasts;
use multilevel::numeric::Format;

/// `--relevel COL=LEVEL`.
pub fn parse_relevel(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((c, l)) if !c.trim().is_empty() && !l.trim().is_empty() => {
            Ok((c.trim().to_string(), l.trim().to_string()))
        }
        _ => Err(format!(
            "`{s}` is not COLUMN=LEVEL; hint: e.g. --relevel Variety=Victory"
        )),
    }
}

/// `--contrasts COL=CODING` with CODING one of treatment, sum, helmert, poly (R's `contr.*`
/// names are accepted too).
pub fn parse_contrasts(s: &str) -> Result<(String, Contrasts), String> {
    let Some((c, k)) = s.split_once('=') else {
        return Err(format!(
            "`{s}` is not COLUMN=CODING; hint: e.g. --contrasts Variety=sum"
        ));
    };
    let coding = match k.trim().trim_start_matches("contr.") {
        "treatment" => Contrasts::Treatment,
        "sum" => Contrasts::Sum,
        "helmert" => Contrasts::Helmert,
        "poly" => Contrasts::Poly,
        other => {
            return Err(format!(
                "`{other}` is not a coding; hint: use treatment, sum, helmert or poly"
            ));
        }
    };
    if c.trim().is_empty() {
        return Err(format!(
            "`{s}` names no column; hint: e.g. --contrasts Variety=sum"
        ));
    }
    Ok((c.trim().to_string(), coding))
}

/// R's name of a coding.
pub fn contrast_name(c: Contrasts) -> &'static str {
    match c {
        Contrasts::Treatment => "contr.treatment",
        Contrasts::Sum => "contr.sum",
        Contrasts::Helmert => "contr.helmert",
        Contrasts::Poly => "contr.poly",
    }
}

/// The report with the codings chosen on the command line: a `Factor coding:` line before a
/// text report's first blank line, a `coding` object in a JSON report, a line at the end of a
/// markdown report. Unchanged when no coding was chosen.
pub fn annotate(
    report: String,
    format: Format,
    relevel: &[(String, String)],
    contrasts: &[(String, Contrasts)],
) -> String {
    if relevel.is_empty() && contrasts.is_empty() {
        return report;
    }
    let mut parts: Vec<String> = contrasts
        .iter()
        .map(|(c, k)| format!("{c} = {}", contrast_name(*k)))
        .collect();
    parts.extend(
        relevel
            .iter()
            .map(|(c, l)| format!("{c} reference \"{l}\"")),
    );
    let line = format!("Factor coding: {}", parts.join("; "));
    match format {
        Format::Json => {
            let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&report) else {
                return report;
            };
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "coding".into(),
                    serde_json::json!({
                        "contrasts": contrasts.iter().map(|(c, k)| (c.clone(), serde_json::Value::from(contrast_name(*k)))).collect::<serde_json::Map<_, _>>(),
                        "reference_levels": relevel.iter().map(|(c, l)| (c.clone(), serde_json::Value::from(l.clone()))).collect::<serde_json::Map<_, _>>(),
                    }),
                );
            }
            let mut s = serde_json::to_string_pretty(&v).unwrap_or(report);
            s.push('\n');
            s
        }
        Format::Markdown => format!("{report}\n{line}\n"),
        _ => match report.find("\n\n") {
            Some(i) => format!("{}\n{line}{}", &report[..i], &report[i..]),
            None => format!("{report}{line}\n"),
        },
    }
}
