//! multilevel-datasets (work in progress).
