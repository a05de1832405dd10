//! The library behind the `twoway` binary. Its `torch` feature (on by default) adds what links libtorch:
//! backbones, training and the tch loss backend.

pub mod backbone_cmd;
#[cfg(feature = "torch")]
pub mod backbones;
#[cfg(feature = "torch")]
pub mod checkpoint;
pub mod claim;
pub mod cli;
pub mod data;
pub mod diff;
pub mod eval;
pub mod fuzzing;
pub mod io;
#[cfg(feature = "torch")]
pub mod model;
pub mod numerics;
#[cfg(feature = "torch")]
pub mod optim;
pub mod plan;
pub mod plots;
pub mod preflight;
pub mod results;
pub mod run;
#[cfg(feature = "torch")]
pub mod runner;
pub mod scaler;
pub mod seeds;
#[cfg(feature = "torch")]
pub mod slurm;
pub mod status;
pub mod table;
#[cfg(feature = "torch")]
pub mod train;

/// tch, as this crate links it (for the tests and benchmarks of the build with libtorch).
#[cfg(feature = "torch")]
pub use tch;
