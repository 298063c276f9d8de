//! The numeric leaf of `multilevel`: the small numerical and formatting pieces every other
//! crate of the workspace shares, so each exists once.
//!
//! * [`dist`]: R's `pnorm`, `qnorm`, `pt`, `qt`, `pchisq`, `pf` tails and quantiles over statrs.
//! * [`spd`]: one dense Cholesky factorization of a small symmetric positive-definite matrix
//!   (row-major), with solves, the inverse and the log-determinant.
//! * [`eigen`]: the eigen-decomposition of a small symmetric matrix (cyclic Jacobi, R's
//!   decreasing order).
//! * [`stats`]: R's type-7 quantile of sorted values.
//! * [`tukey`]: the studentized range distribution (R's `ptukey`) for Tukey-adjusted p-values.
//! * [`rng`]: one SplitMix64 generator with Box–Muller standard normals (the streams of the
//!   parametric bootstrap and of `explore`'s ICC bootstrap).
//! * [`fmt`]: R's `format()`, `round()`, `zapsmall()`, `format.pval()` and `abbreviate()` for
//!   the printed tables; [`table`]: R's layout of a character matrix.
//! * [`render`]: the report [`Format`](render::Format) and the [`Render`](render::Render) trait
//!   every result type implements.
//!
//! The crate depends on nothing of the workspace; everything else may depend on it.

pub mod dist;
pub mod eigen;
pub mod fmt;
pub mod render;
pub mod rng;
pub mod spd;
pub mod stats;
pub mod table;
pub mod tukey;

pub use render::{Format, Render};
pub use rng::SplitMix64;
pub use spd::Cholesky;
