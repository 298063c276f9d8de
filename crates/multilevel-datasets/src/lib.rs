//! Classic mixed-model data sets, embedded as CSV text.
//!
//! The files under `data/` are written by `xtask/r/reference.R` from the R package lme4, so
//! the values, column names and factor levels are exactly the ones the lme4 reference fits use.
//! Each CSV has a header row, no row names, and `NA` for missing values.
//!
//! Columns that must be read as factors are listed in [`Dataset::factors`] (including
//! numeric-looking ones such as `cake`'s `replicate`); ordered factors are additionally listed in
//! [`Dataset::ordered`] (so `ordered` is a subset of `factors`). Factor levels in R are sorted:
//! numerically when every level looks like a number (e.g. `cake$temperature`: 175 < 185 < … <
//! 225, and `cbpp$herd`: 1 < 2 < … < 15), byte-wise otherwise.
//!
//! ```
//! let d = multilevel_datasets::get("SleepStudy").ok_or("missing")?;
//! assert_eq!(d.name, "sleepstudy");
//! assert!(d.csv.starts_with("Reaction,Days,Subject"));
//! # Ok::<(), &'static str>(())
//! ```

/// An embedded data set.
#[derive(Debug)]
pub struct Dataset {
    /// Name as in lme4 (e.g. `"sleepstudy"`, `"Dyestuff"`); [`get`] matches it case-insensitively.
    pub name: &'static str,
    /// One-line description of what the data are.
    pub title: &'static str,
    /// Where the data come from (study and R package).
    pub source: &'static str,
    /// The whole CSV file: header row, then one row per observation.
    pub csv: &'static str,
    /// Every column that must be read as a factor (ordered factors included).
    pub factors: &'static [&'static str],
    /// Columns that are ordered factors in R (a subset of `factors`); R gives them polynomial
    /// contrasts (`contr.poly`) by default.
    pub ordered: &'static [&'static str],
    /// A model formula (lme4 syntax) that fits this data set.
    pub example: &'static str,
    /// `(column name, description)` for every column, in CSV order.
    pub columns: &'static [(&'static str, &'static str)],
}

impl Dataset {
    /// Number of observations (data rows, header excluded).
    pub fn nrows(&self) -> usize {
        self.csv
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count()
    }

    /// Whether column `column` must be read as a factor.
    pub fn is_factor(&self, column: &str) -> bool {
        self.factors.contains(&column)
    }

    /// Whether column `column` is an ordered factor.
    pub fn is_ordered(&self, column: &str) -> bool {
        self.ordered.contains(&column)
    }
}

static DATASETS: [Dataset; 9] = [
    Dataset {
        name: "sleepstudy",
        title: "Reaction times in a sleep deprivation study (Belenky et al. 2003)",
        source: "Belenky et al. (2003), J. Sleep Research 12:1-12; R package lme4 (`sleepstudy`)",
        csv: include_str!("../data/sleepstudy.csv"),
        factors: &["Subject"],
        ordered: &[],
        example: "Reaction ~ Days + (Days | Subject)",
        columns: &[
            ("Reaction", "average reaction time (ms)"),
            ("Days", "days of sleep restriction (0 = baseline)"),
            ("Subject", "subject identifier (18 subjects)"),
        ],
    },
    Dataset {
        name: "Dyestuff",
        title: "Yield of dyestuff from six batches of an intermediate product",
        source: "Davies and Goldsmith (1972), Statistical Methods in Research and Production; \
                 R package lme4 (`Dyestuff`)",
        csv: include_str!("../data/Dyestuff.csv"),
        factors: &["Batch"],
        ordered: &[],
        example: "Yield ~ 1 + (1 | Batch)",
        columns: &[
            ("Batch", "batch of intermediate product (A-F)"),
            ("Yield", "yield of dyestuff (grams of standard colour)"),
        ],
    },
    Dataset {
        name: "Dyestuff2",
        title: "Simulated dyestuff-style yields with no between-batch variation (singular fit)",
        source: "Box and Tiao (1973), Bayesian Inference in Statistical Analysis; \
                 R package lme4 (`Dyestuff2`)",
        csv: include_str!("../data/Dyestuff2.csv"),
        factors: &["Batch"],
        ordered: &[],
        example: "Yield ~ 1 + (1 | Batch)",
        columns: &[("Batch", "batch (A-F)"), ("Yield", "simulated yield")],
    },
    Dataset {
        name: "Penicillin",
        title: "Potency of six penicillin samples measured on 24 plates (crossed factors)",
        source: "Davies and Goldsmith (1972), Statistical Methods in Research and Production; \
                 R package lme4 (`Penicillin`)",
        csv: include_str!("../data/Penicillin.csv"),
        factors: &["plate", "sample"],
        ordered: &[],
        example: "diameter ~ 1 + (1 | plate) + (1 | sample)",
        columns: &[
            ("diameter", "diameter (mm) of the zone of inhibited growth"),
            ("plate", "assay plate (a-x)"),
            ("sample", "penicillin sample (A-F)"),
        ],
    },
    Dataset {
        name: "Pastes",
        title: "Strength of a chemical paste: casks nested within delivery batches",
        source: "Davies and Goldsmith (1972), Statistical Methods in Research and Production; \
                 R package lme4 (`Pastes`)",
        csv: include_str!("../data/Pastes.csv"),
        factors: &["batch", "cask", "sample"],
        ordered: &[],
        example: "strength ~ 1 + (1 | batch/cask)",
        columns: &[
            ("strength", "paste strength"),
            ("batch", "delivery batch (A-J)"),
            ("cask", "cask within the batch (a-c)"),
            ("sample", "batch:cask combination (A:a ... J:c)"),
        ],
    },
    Dataset {
        name: "cake",
        title: "Breakage angle of chocolate cakes by recipe and baking temperature",
        source: "Cook (1938), Iowa State College thesis, via Cochran and Cox (1957); \
                 R package lme4 (`cake`)",
        csv: include_str!("../data/cake.csv"),
        factors: &["replicate", "recipe", "temperature"],
        ordered: &["temperature"],
        example: "angle ~ recipe * temperature + (1 | recipe:replicate)",
        columns: &[
            ("replicate", "replicate batch of batter (factor, 1-15)"),
            ("recipe", "recipe (A, B, C)"),
            (
                "temperature",
                "baking temperature (ordered factor, 175 < 185 < ... < 225 degrees F)",
            ),
            ("angle", "angle at which the cake broke (degrees)"),
            ("temp", "baking temperature as a number (degrees F)"),
        ],
    },
    Dataset {
        name: "cbpp",
        title: "Contagious bovine pleuropneumonia: new cases per herd over four periods",
        source: "Lesnoff et al. (2004), Am. J. Epidemiology 160:596-603; R package lme4 (`cbpp`)",
        csv: include_str!("../data/cbpp.csv"),
        factors: &["herd", "period"],
        ordered: &[],
        example: "cbind(incidence, size - incidence) ~ period + (1 | herd)",
        columns: &[
            ("herd", "herd identifier (factor, 1-15)"),
            ("incidence", "number of new serological cases in the period"),
            ("size", "herd size at the start of the period"),
            ("period", "time period (factor, 1-4)"),
        ],
    },
    Dataset {
        name: "Hsb82",
        title: "High School and Beyond: mathematics achievement of 7,185 students in 160 schools",
        source: "Raudenbush & Bryk (2002), Hierarchical Linear Models, 2nd ed.; R package mlmRev (`Hsb82`)",
        csv: include_str!("../data/Hsb82.csv"),
        factors: &["school", "minrty", "sx", "sector"],
        ordered: &[],
        example: "mAch ~ cses * sector + meanses + (cses | school)",
        columns: &[
            ("school", "school identifier (160 schools)"),
            ("minrty", "student belongs to a minority group (No/Yes)"),
            ("sx", "student's sex (Female/Male)"),
            (
                "ses",
                "student's socio-economic status (standardized composite)",
            ),
            ("mAch", "mathematics achievement score"),
            ("meanses", "school mean of ses (a level-2 predictor)"),
            ("sector", "school sector (Catholic/Public)"),
            ("cses", "ses centred at the school mean (ses - meanses)"),
        ],
    },
    Dataset {
        name: "Orthodont",
        title: "Growth of 27 children: pituitary-to-pterygomaxillary distance at ages 8, 10, 12, 14",
        source: "Potthoff & Roy (1964), Biometrika 51:313-326; R package nlme (`Orthodont`)",
        csv: include_str!("../data/Orthodont.csv"),
        factors: &["Subject", "Sex"],
        ordered: &[],
        example: "distance ~ I(age - 8) * Sex + (I(age - 8) | Subject)",
        columns: &[
            (
                "distance",
                "distance from the pituitary to the pterygomaxillary fissure (mm)",
            ),
            ("age", "age of the child (years)"),
            ("Subject", "child identifier (M01-M16 boys, F01-F11 girls)"),
            ("Sex", "child's sex (Female/Male), constant within Subject"),
        ],
    },
];

/// All embedded data sets, in a fixed order.
pub fn all() -> &'static [Dataset] {
    &DATASETS
}

/// The embedded data set called `name` (case-insensitive: `"dyestuff"` finds `Dyestuff`).
pub fn get(name: &str) -> Option<&'static Dataset> {
    DATASETS.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(d: &Dataset) -> Vec<&'static str> {
        d.csv
            .lines()
            .next()
            .map(|h| h.split(',').collect())
            .unwrap_or_default()
    }

    #[test]
    fn headers_match_listed_columns() {
        for d in all() {
            let names: Vec<&str> = d.columns.iter().map(|(n, _)| *n).collect();
            assert_eq!(header(d), names, "{}", d.name);
        }
    }

    #[test]
    fn factor_and_ordered_columns_exist() {
        for d in all() {
            let h = header(d);
            for f in d.factors {
                assert!(h.contains(f), "{}: factor {f} not a column", d.name);
            }
            for o in d.ordered {
                assert!(
                    d.factors.contains(o),
                    "{}: ordered {o} not in factors",
                    d.name
                );
            }
        }
    }

    #[test]
    fn row_counts_match_r() {
        let expected = [
            ("sleepstudy", 180),
            ("Dyestuff", 30),
            ("Dyestuff2", 30),
            ("Penicillin", 144),
            ("Pastes", 60),
            ("cake", 270),
            ("cbpp", 56),
            ("Hsb82", 7185),
            ("Orthodont", 108),
        ];
        assert_eq!(all().len(), expected.len());
        for (name, n) in expected {
            let d = get(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(d.nrows(), n, "{name}");
        }
    }

    #[test]
    fn every_row_has_every_column() {
        for d in all() {
            let width = header(d).len();
            for (k, line) in d.csv.lines().enumerate().skip(1) {
                assert_eq!(line.split(',').count(), width, "{} line {}", d.name, k + 1);
            }
        }
    }

    #[test]
    fn get_is_case_insensitive() {
        assert_eq!(get("SLEEPSTUDY").map(|d| d.name), Some("sleepstudy"));
        assert_eq!(get("dyestuff").map(|d| d.name), Some("Dyestuff"));
        assert_eq!(get("dyestuff2").map(|d| d.name), Some("Dyestuff2"));
        assert_eq!(get("CBPP").map(|d| d.name), Some("cbpp"));
        assert!(get("nonexistent").is_none());
    }

    #[test]
    fn names_unique_ignoring_case() {
        for (i, a) in all().iter().enumerate() {
            for b in &all()[i + 1..] {
                assert!(!a.name.eq_ignore_ascii_case(b.name));
            }
        }
    }

    #[test]
    fn known_values() {
        // First data row of sleepstudy and the ordered temperature levels of cake.
        let s = get("sleepstudy").unwrap_or_else(|| panic!("missing"));
        assert_eq!(s.csv.lines().nth(1), Some("249.56,0,308"));
        let cake = get("cake").unwrap_or_else(|| panic!("missing"));
        assert!(cake.is_ordered("temperature") && cake.is_factor("replicate"));
        assert!(!cake.is_factor("temp"));
    }
}
