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
    #[error("non-finite logits (NaN or infinite) in the batch")]
    NonFinite,
    #[error("label outside {{-1, 0, 1}} in the targets")]
    BadLabel,
    #[error("invalid loss configuration: {0}")]
    Config(#[from] twoway_reference::RefError),
    #[error("libtorch: {0}")]
    Torch(#[from] TchError),
}
