//! One cell's training (in the build with libtorch): a backbone with a Linear head ([`model`]), the
//! optimiser as `torch.optim.SGD` computes it ([`optim`]), dynamic loss scaling ([`scaler`], torch-free),
//! checkpoints that resume bit-identically ([`checkpoint`]), the order of the samples ([`order`]), and the
//! loop over epochs with its evaluation ([`cell`]). The grid layer ([`crate::grid`]) decides which cells run where; this layer knows one cell.

#[cfg(feature = "torch")]
pub mod cell;
#[cfg(feature = "torch")]
pub mod checkpoint;
#[cfg(feature = "torch")]
pub mod model;
#[cfg(feature = "torch")]
pub mod optim;
pub mod order;
pub mod scaler;

#[cfg(feature = "torch")]
pub use cell::{cosine, train, Checkpoints, Interrupted, Job, Progress, Splits, Steps};
pub use order::shuffled;
