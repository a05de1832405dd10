//! [`value_and_grad_f64`] for `ndarray` matrices.

use crate::{value_and_grad_f64, GpuError};
use ndarray::Array2;
use tch::{Device, Kind};
use twoway_reference::AnyLoss;

/// The loss and its autograd gradient for f64 matrices in any memory layout: the logits computed in `kind`
/// on `device`; the value and the gradient (the logits' shape) come back in f64. Targets of another shape
/// are [`GpuError::ShapeMismatch`].
pub fn value_and_grad_array(
    config: &AnyLoss,
    logits: &Array2<f64>,
    targets: &Array2<f64>,
    kind: Kind,
    device: Device,
) -> Result<(f64, Array2<f64>), GpuError> {
    if logits.dim() != targets.dim() {
        let shape = |a: &Array2<f64>| -> Vec<i64> { a.shape().iter().map(|&d| d as i64).collect() };
        return Err(GpuError::ShapeMismatch { logits: shape(logits), targets: shape(targets) });
    }
    let (x, y) = (logits.as_standard_layout(), targets.as_standard_layout());
    let (xs, ys) = (x.as_slice().expect("standard layout"), y.as_slice().expect("standard layout"));
    let (value, grad) = value_and_grad_f64(config, xs, ys, logits.dim(), kind, device)?;
    Ok((value, Array2::from_shape_vec(logits.dim(), grad).expect("the gradient has the logits' shape")))
}
