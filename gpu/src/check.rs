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
        // The label set is checked on the targets' own values (0.5, 1.7 or NaN are not labels), before
        // anything casts them.
        let finite = logits.f_isfinite()?;
        let labels = y.f_eq(1)?.f_logical_or(&y.f_eq(0)?)?.f_logical_or(&y.f_eq(-1)?)?;
        // One read-back of both flags; the position only when one fails.
        let flags = Vec::<bool>::try_from(&Tensor::f_stack(&[finite.f_all()?, labels.f_all()?], 0)?)?;
        if !flags[0] {
            let (row, col, value) = first_false(&finite, logits)?;
            return Err(GpuError::NonFinite { row, col, value });
        }
        if !flags[1] {
            let (row, col, value) = first_false(&labels, &y)?;
            return Err(GpuError::BadLabel { row, col, value });
        }
    }
    Ok(y)
}

/// The first (row-major) position where `ok` is false, and the value of `values` there.
fn first_false(ok: &Tensor, values: &Tensor) -> Result<(i64, i64, f64), GpuError> {
    let at = ok.f_logical_not()?.f_nonzero()?.f_select(0, 0)?.f_to_device(tch::Device::Cpu)?;
    let (row, col) = (at.f_int64_value(&[0])?, at.f_int64_value(&[1])?);
    Ok((row, col, values.f_double_value(&[row, col])?))
}

/// The largest finite value of a floating kind.
pub(crate) fn max_of(kind: Kind) -> f64 {
    match kind {
        Kind::Half => 65504.0,
        // (2 - 2^-7) 2^127: bfloat16 keeps f32's exponent and 7 explicit mantissa bits.
        Kind::BFloat16 => 3.389_531_389_251_535_5e38,
        Kind::Float => f32::MAX as f64,
        _ => f64::MAX,
    }
}
