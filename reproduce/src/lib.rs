//! The library behind the `twoway` binary.

pub mod cli;
pub mod table;
