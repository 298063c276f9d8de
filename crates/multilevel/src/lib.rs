//! multilevel: mixed-effects models with lme4 numbers.
