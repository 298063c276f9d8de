//! multilevel-formula (work in progress).
