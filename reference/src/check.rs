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
        let mut y = Array2::<i8>::zeros(targets.dim());
        for ((row, col), &value) in targets.indexed_iter() {
            y[(row, col)] = if value == 1.0 {
                1
            } else if value == 0.0 {
                0
            } else if value == -1.0 {
                -1
            } else {
                return Err(RefError::BadLabel { row, col, value });
            };
        }
        Ok(Labels { y })
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
    match m.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some(((row, col), &value)) => Err(RefError::NonFinite { what, row, col, value }),
        None => Ok(()),
    }
}

pub(crate) fn temperature(name: &'static str, value: f64) -> Result<(), RefError> {
    if value.is_finite() && value > 0.0 {
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
