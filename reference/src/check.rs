//! Input validation shared by the losses and the metrics.

use crate::RefError;
use ndarray::{Array2, ArrayView2};

/// Validated labels: 1 positive, 0 negative, -1 unknown, in standard (row-major) layout.
#[derive(Debug, Clone)]
pub struct Labels {
    pub(crate) y: Array2<i8>,
}

impl Labels {
    /// Checks that every entry is exactly -1, 0 or 1.
    pub fn new(targets: ArrayView2<f64>) -> Result<Labels, RefError> {
        let t = targets.as_standard_layout();
        let t = t.as_slice().expect("standard layout");
        let valid = |v: f64| v == 1.0 || v == 0.0 || v == -1.0;
        if let Some(k) = t.iter().position(|v| !valid(*v)) {
            let cols = targets.ncols();
            return Err(RefError::BadLabel { row: k / cols, col: k % cols, value: t[k] });
        }
        let y = t.iter().map(|v| *v as i8).collect();
        Ok(Labels { y: Array2::from_shape_vec(targets.dim(), y).expect("shape") })
    }

    pub fn view(&self) -> ArrayView2<'_, i8> {
        self.y.view()
    }

    pub fn dim(&self) -> (usize, usize) {
        self.y.dim()
    }
}

/// Checks the pair (logits, targets): equal non-empty shapes, finite logits, labels in {-1, 0, 1}.
pub fn inputs(logits: ArrayView2<f64>, targets: ArrayView2<f64>) -> Result<Labels, RefError> {
    if logits.dim() != targets.dim() {
        return Err(RefError::ShapeMismatch { logits: logits.dim(), targets: targets.dim() });
    }
    finite("logits", logits)?;
    Labels::new(targets)
}

/// Checks that a matrix is non-empty and every entry is finite.
pub fn finite(what: &'static str, m: ArrayView2<f64>) -> Result<(), RefError> {
    let (r, c) = m.dim();
    if r == 0 || c == 0 {
        return Err(RefError::EmptyBatch { shape: (r, c) });
    }
    let m = m.as_standard_layout();
    let v = m.as_slice().expect("standard layout");
    match v.iter().position(|x| !x.is_finite()) {
        Some(k) => Err(RefError::NonFinite { what, row: k / c, col: k % c, value: v[k] }),
        None => Ok(()),
    }
}

pub(crate) fn temperature(name: &'static str, value: f64) -> Result<(), RefError> {
    // Positive, finite, and with a finite reciprocal (the loss divides by it).
    if value.is_finite() && value > 0.0 && (1.0 / value).is_finite() {
        Ok(())
    } else {
        Err(RefError::BadTemperature { name, value })
    }
}

pub(crate) fn param(name: &'static str, value: f64, ok: bool, rule: &'static str) -> Result<(), RefError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(RefError::BadParam { name, value, rule })
    }
}
