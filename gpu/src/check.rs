//! Input checks. Shape and dtype checks are free; the value checks (finite logits, labels in {-1, 0, 1})
//! read a flag back from the device, which synchronises it, so they run only under [`Validation::Full`].

use crate::GpuError;
use tch::{Kind, Tensor};

/// How much a loss checks its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Validation {
    /// Shapes, dtypes, finite logits and the label set (one device synchronisation per call).
    #[default]
    Full,
    /// Shapes and dtypes only: no synchronisation, for the training hot path.
    Shape,
}

pub(crate) fn is_float(kind: Kind) -> bool {
    matches!(kind, Kind::Half | Kind::BFloat16 | Kind::Float | Kind::Double)
}

/// Checks the inputs and returns the targets on the logits' device.
pub(crate) fn inputs(logits: &Tensor, targets: &Tensor, v: Validation) -> Result<Tensor, GpuError> {
    let (ls, ts) = (logits.size(), targets.size());
    if ls.len() != 2 {
        return Err(GpuError::NotMatrix(ls));
    }
    if ls != ts {
        return Err(GpuError::ShapeMismatch { logits: ls, targets: ts });
    }
    if ls[0] == 0 || ls[1] == 0 {
        return Err(GpuError::EmptyBatch(ls));
    }
    if !is_float(logits.kind()) {
        return Err(GpuError::NotFloat(logits.kind()));
    }
    let y = targets.f_to_device(logits.device())?;
    if v == Validation::Full {
        let finite = logits.f_isfinite()?.f_all()?;
        let labels = y.f_eq(1)?.f_logical_or(&y.f_eq(0)?)?.f_logical_or(&y.f_eq(-1)?)?.f_all()?;
        // One read-back of both flags.
        let flags = Vec::<bool>::try_from(&Tensor::f_stack(&[finite, labels], 0)?)?;
        if !flags[0] {
            return Err(GpuError::NonFinite);
        }
        if !flags[1] {
            return Err(GpuError::BadLabel);
        }
    }
    Ok(y)
}
