//! `multilevel datasets`: list or show the embedded data sets.

use crate::args::DatasetsArgs;
use anyhow::{Result, bail};
use multilevel::datasets::{self, Dataset};

/// Runs `multilevel datasets`.
pub fn run(a: &DatasetsArgs) -> Result<()> {
    let Some(name) = &a.name else {
        let mut out =
            String::from("Embedded data sets (use with `multilevel fit --dataset NAME`):\n");
        for d in datasets::all() {
            out.push('\n');
            out.push_str(&describe(d, false));
        }
        return crate::output::stdout(&out);
    };
    let Some(d) = datasets::get(name) else {
        bail!("{}", unknown_dataset_message(name));
    };
    if a.csv {
        crate::output::stdout(d.csv)?;
        if !d.csv.ends_with('\n') {
            crate::output::stdout("\n")?;
        }
        Ok(())
    } else {
        crate::output::stdout(&describe(d, true))
    }
}

/// A description of one data set: name, size, title, columns and an example command.
fn describe(d: &Dataset, long: bool) -> String {
    let mut s = format!("{} ({} rows): {}\n", d.name, d.nrows(), d.title);
    if long {
        s.push_str(&format!("  source: {}\n", d.source));
    }
    s.push_str("  columns:\n");
    let w = d.columns.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (col, desc) in d.columns {
        let kind = if d.is_ordered(col) {
            "ordered factor"
        } else if d.is_factor(col) {
            "factor"
        } else {
            "numeric"
        };
        s.push_str(&format!("    {col:<w$}  {kind:<14}  {desc}\n"));
    }
    s.push_str(&format!(
        "  example: multilevel fit --dataset {} \"{}\"\n",
        d.name, d.example
    ));
    s
}

/// Levenshtein distance between two strings, compared case-insensitively.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The error message for an unknown data-set name: the nearest name if one is close, and the list.
pub fn unknown_dataset_message(name: &str) -> String {
    let all = datasets::all();
    let names: Vec<&str> = all.iter().map(|d| d.name).collect();
    let nearest = names
        .iter()
        .map(|n| (distance(name, n), *n))
        .min()
        .filter(|(d, n)| *d <= (n.len() / 3).max(2))
        .map(|(_, n)| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default();
    format!(
        "--dataset {name}: no embedded data set of that name{nearest}; hint: available data sets are {} (see `multilevel datasets`)",
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(distance("sleepstudy", "SleepStudy"), 0);
        assert_eq!(distance("sleepstudi", "sleepstudy"), 1);
        assert_eq!(distance("abc", ""), 3);
    }
}
