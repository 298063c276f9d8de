//! Data layer of `multilevel`: data tables ([`DataFrame`]) built in memory or read from CSV, and
//! lme4-style model frames ([`ModelFrame`]): the evaluated variables a formula uses, on the
//! complete-case rows, with the dropped rows recorded.
//!
//! ```text
//! formula text ──multilevel-formula──▶ Formula ─┐
//! CSV / in-memory columns ──▶ DataFrame ────────┴─▶ ModelFrame ──▶ multilevel-design
//! ```
#[cfg(feature = "formats")]
mod arrow;
mod csvread;
mod data;
mod error;
mod eval;
mod frame;
mod newdata;
mod rnum;
mod source;
#[cfg(feature = "formats")]
mod spss;
#[cfg(feature = "formats")]
mod stata;

pub use data::{Column, Contrasts, DataFrame, Factor, ReadOptions};
pub use error::{DataError, DataWarning, FrameError, Location, delimiter_name};
pub use eval::{orthopoly, scale};
pub use frame::{
    FrameOptions, FrameVariable, ModelFrame, ResponseValues, VariableValue, interaction,
    interaction_lex,
};
pub use newdata::{NewDataError, NewDataOptions, NewFrame, new_data_frame, poly_predict};
pub use rnum::format_r_number;
pub use source::{Format, detect_delimiter, detect_format};
