//! multilevel-report (work in progress).
