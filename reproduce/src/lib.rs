//! The library behind the `twoway` binary.

pub mod cli;
pub mod data;
pub mod diff;
pub mod eval;
pub mod io;
pub mod model;
pub mod plots;
pub mod results;
pub mod run;
pub mod table;
pub mod train;
