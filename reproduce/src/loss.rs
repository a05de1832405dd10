//! One loss on given matrices (`twoway eval`): logits and targets read from `.npy` / JSON files, checked
//! once for every implementation (labels in {-1, 0, 1}, finite values, one shape; errors name the file and
//! the position), then the value and its gradient from the pure-Rust reference (f64) or the tch twin (any
//! kind, any device). Tested in `tests/cli_eval.rs` against the spec's vectors and an independent oracle.

use crate::io;
use anyhow::Result;
use ndarray::Array2;
use std::path::Path;
use twoway_reference::{AnyLoss, LossFn, RefError};

/// Which implementation computes the loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Implementation {
    /// The pure-Rust reference, in f64.
    Reference,
    /// The tch (libtorch) twin: the logits in `kind` on `device`.
    #[cfg(feature = "torch")]
    Tch { kind: tch::Kind, device: tch::Device },
}

/// A loss computed on two files.
#[derive(Debug, Clone)]
pub struct Computed {
    pub value: f64,
    /// The gradient with respect to the logits, in f64.
    pub grad: Array2<f64>,
    pub shape: (usize, usize),
}

/// The loss and its gradient on the logits and targets files, by `implementation`.
pub fn compute(loss: &AnyLoss, logits: &Path, targets: &Path, implementation: Implementation) -> Result<Computed> {
    let (x, y) = read_pair(logits, targets)?;
    // The same input checks (with the offending position) for every implementation.
    twoway_reference::check::inputs(x.view(), y.view()).map_err(|e| blame(e, logits, targets))?;
    let (value, grad) = match implementation {
        Implementation::Reference => loss.value_and_grad(x.view(), y.view()).map_err(|e| blame(e, logits, targets))?,
        #[cfg(feature = "torch")]
        Implementation::Tch { kind, device } => twoway_gpu::value_and_grad_array(loss, &x, &y, kind, device)?,
    };
    Ok(Computed { value, grad, shape: x.dim() })
}

/// Reads logits and targets and checks their shapes agree, naming both files otherwise.
pub fn read_pair(a: &Path, b: &Path) -> Result<(Array2<f64>, Array2<f64>)> {
    let x = io::read_matrix(a)?;
    let y = io::read_matrix(b)?;
    same_shape((a, x.dim()), (b, y.dim()))?;
    Ok((x, y))
}

/// Refuses two matrices of different shapes, naming both files.
pub fn same_shape((a, da): (&Path, (usize, usize)), (b, db): (&Path, (usize, usize))) -> Result<()> {
    if da != db {
        anyhow::bail!("{} has shape {da:?} but {} has shape {db:?}", a.display(), b.display());
    }
    Ok(())
}

/// Names the file an input error comes from: labels are the targets', values the logits' / scores'.
pub fn blame(e: RefError, values: &Path, targets: &Path) -> anyhow::Error {
    match e {
        RefError::BadLabel { .. } => anyhow::anyhow!("{}: {e}", targets.display()),
        RefError::NonFinite { .. } | RefError::NotProbability { .. } => {
            anyhow::anyhow!("{}: {e}", values.display())
        }
        other => anyhow::anyhow!("{} / {}: {other}", values.display(), targets.display()),
    }
}
