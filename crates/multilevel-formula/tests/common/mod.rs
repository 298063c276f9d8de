//! Shared readable rendering of a parsed formula for snapshot tests.

use multilevel_formula::{Formula, ModelTerms, Response};

fn model_terms(mt: &ModelTerms) -> String {
    let labels: Vec<String> = mt.terms.iter().map(|t| t.label()).collect();
    format!(
        "{}, [{}]",
        if mt.intercept {
            "intercept"
        } else {
            "no intercept"
        },
        labels.join(", ")
    )
}

/// Response; intercept; fixed term labels one per line (with order); random terms as
/// `label: intercept, [terms] | group (correlated)`; offsets; variables; canonical text.
pub fn render(f: &Formula) -> String {
    let mut s = String::new();
    s.push_str(&format!("formula:   {}\n", f.text));
    s.push_str(&match &f.response {
        None => "response:  (none)\n".to_string(),
        Some(Response::Expr(e)) => format!("response:  {e}\n"),
        Some(Response::Cbind {
            successes,
            failures,
        }) => format!("response:  cbind: successes {successes}; failures {failures}\n"),
    });
    s.push_str(&format!("intercept: {}\n", f.fixed.intercept));
    s.push_str("fixed terms:\n");
    for t in &f.fixed.terms {
        s.push_str(&format!("  {} (order {})\n", t.label(), t.order()));
    }
    s.push_str("random terms:\n");
    for r in &f.random {
        s.push_str(&format!(
            "  {}: {} | [{}] ({})\n",
            r.group_label,
            model_terms(&r.lhs),
            r.group.join(", "),
            if r.correlated {
                "correlated"
            } else {
                "uncorrelated"
            }
        ));
    }
    let offsets: Vec<String> = f.offsets.iter().map(|o| o.to_string()).collect();
    s.push_str(&format!("offsets:   [{}]\n", offsets.join(", ")));
    s.push_str(&format!("variables: [{}]\n", f.variables().join(", ")));
    s.push_str(&format!("canonical: {f}\n"));
    s
}
