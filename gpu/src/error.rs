//! Errors of the tch implementation.

use tch::TchError;

#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("logits must be 2-D (samples x classes), got shape {0:?}")]
    NotMatrix(Vec<i64>),
    #[error("shape mismatch: logits are {logits:?} but targets are {targets:?}")]
    ShapeMismatch { logits: Vec<i64>, targets: Vec<i64> },
    #[error("empty batch: shape {0:?}; it needs at least one sample and one class")]
    EmptyBatch(Vec<i64>),
    #[error("logits must be a floating-point tensor (f16, bf16, f32, f64), got {0:?}")]
    NotFloat(tch::Kind),
    #[error("non-finite logit at [{row}, {col}]: {value}")]
    NonFinite { row: i64, col: i64, value: f64 },
    #[error("label outside {{-1, 0, 1}} at [{row}, {col}]: {value}")]
    BadLabel { row: i64, col: i64, value: f64 },
    #[error("logit {value} at [{row}, {col}] is beyond the range of {kind:?} (±{max:e}), the kind it was asked to compute in")]
    OutOfRange { row: i64, col: i64, value: f64, kind: tch::Kind, max: f64 },
    #[error("{name} = {value:e}: its reciprocal overflows {kind:?}, the kind the loss computes in")]
    TemperatureOverflow { name: &'static str, value: f64, kind: tch::Kind },
    #[error("invalid loss configuration: {0}")]
    Config(#[from] twoway_reference::RefError),
    #[error("libtorch: {0}")]
    Torch(#[from] TchError),
}
