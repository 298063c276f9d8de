//! multilevel-frame (work in progress).
