//! At which level does each predictor vary? Cross-level interactions.
//!
//! In a two-level model with grouping factor `g`, a predictor is a *level-2* (group-level)
//! predictor of `g` when it is constant within every level of `g` on the rows the model
//! uses, and a *level-1* predictor otherwise. A fixed-effect interaction of a level-1 and a
//! level-2 predictor is a **cross-level interaction**: it says how the within-group effect of
//! the level-1 predictor changes with the group-level one (e.g. `ses:sector` in the High School
//! and Beyond data, or `time:treatment` in a growth-curve model where `g` is the person).
//!
//! [`cross_level_interactions`] classifies the variables of every fixed-effect term of a
//! formula against every grouping factor of its random-effects terms.

use multilevel_formula::Formula;
use multilevel_frame::{ModelFrame, VariableValue};
use serde::{Deserialize, Serialize};

/// A fixed-effect interaction that mixes predictors varying within groups of `group` with
/// predictors constant within them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossLevelTerm {
    /// The term's label, as in the fixed-effects formula (`ses:sector`).
    pub term: String,
    /// The grouping factor (`school`).
    pub group: String,
    /// The term's variables that vary within the groups (level 1).
    pub level1: Vec<String>,
    /// The term's variables that are constant within every group (level 2).
    pub level2: Vec<String>,
}

/// Whether every column of `value` is constant within each group (`codes` = group of each row).
fn constant_within(value: &VariableValue, codes: &[u32], nlevels: usize) -> bool {
    fn check<T: PartialEq + Copy>(v: &[T], codes: &[u32], nlevels: usize) -> bool {
        let mut first: Vec<Option<T>> = vec![None; nlevels];
        for (x, &c) in v.iter().zip(codes) {
            let Some(slot) = first.get_mut(c as usize) else {
                return false;
            };
            match slot {
                None => *slot = Some(*x),
                Some(y) if *y != *x => return false,
                Some(_) => {}
            }
        }
        true
    }
    match value {
        VariableValue::Numeric(v) => check(v, codes, nlevels),
        VariableValue::Matrix { columns, .. } => columns.iter().all(|c| check(c, codes, nlevels)),
        VariableValue::Factor { codes: f, .. } => check(f, codes, nlevels),
    }
}

/// The cross-level interactions among the fixed-effect terms of `formula`, for every grouping
/// factor of its random-effects terms (on the model frame's complete-case rows).
///
/// A term qualifies for a grouping factor when it has at least one variable that varies within
/// the groups and at least one that is constant within them. Main effects never qualify.
pub fn cross_level_interactions(formula: &Formula, frame: &ModelFrame) -> Vec<CrossLevelTerm> {
    let mut out = Vec::new();
    for (group, gval) in &frame.groups {
        let VariableValue::Factor { codes, levels, .. } = gval else {
            continue;
        };
        for term in &frame_terms(formula) {
            if term.len() < 2 {
                continue;
            }
            let mut level1 = Vec::new();
            let mut level2 = Vec::new();
            for label in term {
                let Some(var) = frame.variable(label) else {
                    continue;
                };
                if constant_within(&var.value, codes, levels.len()) {
                    level2.push(label.clone());
                } else {
                    level1.push(label.clone());
                }
            }
            if !level1.is_empty() && !level2.is_empty() {
                out.push(CrossLevelTerm {
                    term: term.join(":"),
                    group: group.clone(),
                    level1,
                    level2,
                });
            }
        }
    }
    out
}

/// The variable labels of each fixed-effect term.
fn frame_terms(formula: &Formula) -> Vec<Vec<String>> {
    formula
        .fixed
        .terms
        .iter()
        .map(|t| t.variables.iter().map(ToString::to_string).collect())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use multilevel_frame::{DataFrame, FrameOptions};

    #[test]
    fn growth_model_time_by_treatment_is_cross_level() {
        // 4 persons × 3 occasions; treatment is constant within person, time varies.
        let person: Vec<&str> = ["a", "b", "c", "d"].iter().flat_map(|p| [*p; 3]).collect();
        let time: Vec<f64> = (0..12).map(|i| f64::from(i % 3)).collect();
        let treat: Vec<f64> = (0..12).map(|i| if i < 6 { 0.0 } else { 1.0 }).collect();
        let age: Vec<f64> = (0..12).map(|i| f64::from(i) * 0.7).collect();
        let y: Vec<f64> = (0..12).map(|i| f64::from(i * i % 7)).collect();
        let df = DataFrame::new("growth")
            .with_strings("person", &person)
            .unwrap()
            .with_numeric("time", time)
            .unwrap()
            .with_numeric("treat", treat)
            .unwrap()
            .with_numeric("age", age)
            .unwrap()
            .with_numeric("y", y)
            .unwrap();
        let f = multilevel_formula::parse("y ~ time * treat + time:age + (time | person)").unwrap();
        let mf = ModelFrame::new(&f, &df, &FrameOptions::default()).unwrap();
        let cl = cross_level_interactions(&f, &mf);
        assert_eq!(
            cl,
            vec![CrossLevelTerm {
                term: "time:treat".into(),
                group: "person".into(),
                level1: vec!["time".into()],
                level2: vec!["treat".into()],
            }]
        );
    }
}
