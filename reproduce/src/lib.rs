//! The library behind the `twoway` binary.

pub mod backbone_cmd;
pub mod backbones;
pub mod cli;
pub mod data;
pub mod diff;
pub mod eval;
pub mod io;
pub mod plots;
pub mod preflight;
pub mod results;
pub mod run;
pub mod table;
pub mod train;
