//! The library behind the `twoway` binary. Its `torch` feature (on by default) adds what links libtorch:
//! backbones, training and the tch loss backend.
//!
//! Layers, each importing only those below it (`make lint` checks there is no cycle):
//! - [`cli`]: the command line (clap), nothing imports it;
//! - [`grid`]: a grid of cells on one results folder (requests, plan, leases, runners, SLURM, status);
//! - [`train`]: one cell's training; [`report`]: tables, the gate, claims and plots from result files;
//!   [`conform`]: the spec's conformance cases against an outside implementation;
//! - [`backbones`], [`data`], [`loss`], [`metrics`], [`numerics`]: the parts they assemble;
//! - [`results`], [`layout`], [`io`], [`device`], [`host`], [`tensorboard`]: leaves.

#[cfg(feature = "torch")]
pub mod backbones;
pub mod cli;
pub mod conform;
pub mod data;
pub mod device;
pub mod fuzzing;
pub mod grid;
pub mod host;
pub mod io;
pub mod layout;
pub mod loss;
pub mod metrics;
pub mod numerics;
pub mod report;
pub mod results;
pub mod tensorboard;
pub mod train;

/// tch, as this crate links it (for the tests and benchmarks of the build with libtorch).
#[cfg(feature = "torch")]
pub use tch;
