//! Linear mixed models fitted by REML or ML through the profiled deviance.

pub mod results;
pub use results::*;
