//! The library behind the `twoway` binary.

pub mod cli;
pub mod eval;
pub mod io;
pub mod table;
